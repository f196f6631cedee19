"""Metrics: calibration, lift with ties, EMP (Verbraken et al. 2013), value metrics, grades."""

from __future__ import annotations

import numpy as np
import pytest

from churnml import metrics


def test_ece_is_zero_for_a_calibrated_constant_and_uses_equal_mass_bins():
    y = np.array([0, 1] * 50)
    assert metrics.expected_calibration_error(y, np.full(100, 0.5)) == pytest.approx(0.0)
    # two equal-mass bins: low half predicts 0.1 and is all 0, high half predicts 0.9 and is all 1
    p = np.r_[np.full(50, 0.1), np.full(50, 0.9)]
    y = np.r_[np.zeros(50), np.ones(50)]
    assert metrics.expected_calibration_error(y, p, n_bins=2) == pytest.approx(0.1)


def test_lift_and_recall_count_ties_fractionally():
    y = np.array([1, 0, 1, 0, 0, 0, 0, 0, 0, 0])
    score = np.array([1, 1, 1, 1, 0, 0, 0, 0, 0, 0], dtype=float)
    # top 20% = 2 of the 4 tied rows, which hold 2 churners in 4: expect 1 churner
    assert metrics.recall_at(y, score, 0.2) == pytest.approx(0.5)
    assert metrics.lift_at(y, score, 0.2) == pytest.approx((1 / 2) / 0.2)


def test_emp_of_a_perfect_model_matches_the_closed_form():
    y = np.array([1, 0, 0, 0])
    emp, fraction = metrics.emp_churn(y, np.array([0.9, 0.1, 0.2, 0.3]))
    # contact the churner only: CLV * (E[gamma](1 - delta) - phi) * pi0 = 200 * (0.3*0.95 - 0.005) * 0.25
    assert emp == pytest.approx(14.0, abs=1e-6)
    assert fraction == pytest.approx(0.25, abs=1e-6)


def test_emp_of_a_random_model_is_about_zero_and_below_a_good_one():
    rng = np.random.default_rng(0)
    y = (rng.random(5000) < 0.1).astype(int)
    random_emp, _ = metrics.emp_churn(y, rng.random(5000))
    good_emp, _ = metrics.emp_churn(y, y + rng.normal(0, 0.5, 5000))
    assert random_emp < 0.5 < good_emp


def test_normalized_gini_capture_and_decile_wmape():
    actual = np.arange(100, dtype=float)
    assert metrics.normalized_gini(actual, actual * 2) == pytest.approx(1.0)
    assert metrics.normalized_gini(actual, -actual) == pytest.approx(-1.0)
    assert metrics.value_capture(actual, actual, 0.2) == pytest.approx(actual[80:].sum() / actual.sum())
    assert metrics.decile_wmape(actual + 1, actual + 1) == pytest.approx(0.0)


def test_value_metrics_keys_and_churn_metric_keys():
    rng = np.random.default_rng(1)
    y = (rng.random(500) < 0.3).astype(int)
    assert set(metrics.churn_metrics(y, rng.random(500))) == set(metrics.CHURN_METRICS)
    assert set(metrics.value_metrics(rng.random(500), rng.random(500))) == set(metrics.VALUE_METRICS)


@pytest.mark.parametrize(("model", "baseline", "expected"), [(0.80, 0.78, "A"), (0.79, 0.78, "B"), (0.78, 0.78, "C"), (0.70, 0.78, "C")])
def test_grade(model, baseline, expected):
    assert metrics.grade(model, baseline) == expected


def test_grade_needs_the_difference_beyond_resampling_noise_and_the_model_beyond_chance():
    clear = {"model_low": 0.70, "difference_low": 0.01}
    assert metrics.grade(0.80, 0.75, interval=clear, chance=0.5) == "A"
    assert metrics.grade(0.80, 0.75, interval={**clear, "difference_low": -0.01}, chance=0.5) == "B"
    assert metrics.grade(0.53, 0.48, interval={**clear, "model_low": 0.5}, chance=0.5) == "C"
    assert metrics.grade(0.30, 0.20, interval={**clear, "model_low": -0.02}, chance=0.0) == "C"


@pytest.mark.parametrize("metric", ["roc_auc", "normalized_gini"])
def test_bootstrap_resamples_score_what_the_metric_gives_on_the_resampled_rows(metric):
    """Each resample is scored from weights on rows sorted once; that must equal the metric
    recomputed on the rows drawn, ties included (scores rounded to make many)."""
    from sklearn.metrics import roc_auc_score

    rng = np.random.default_rng(4)
    n = 400
    if metric == "roc_auc":
        target = (rng.random(n) < 0.25).astype(float)
        scores = np.round(rng.random(n) + 0.4 * target, 1)
        reference = roc_auc_score
    else:
        target = np.maximum(0, rng.normal(20, 30, n)).round()
        scores = np.round(target + rng.normal(0, 25, n), -1)
        reference = metrics.normalized_gini
    scorer = metrics._weighted_scorer(metric, target, scores)
    for _ in range(5):
        drawn = rng.integers(0, n, n)
        weights = np.bincount(drawn, minlength=n).astype(float)
        assert scorer(weights) == pytest.approx(reference(target[drawn], scores[drawn]), abs=1e-12)
    interval = metrics.bootstrap_interval(metric, target, scores, rng.random(n), seed=1)
    whole = reference(target, scores)
    assert interval["model_low"] < whole < interval["model_high"]
    assert interval["difference_low"] > 0            # a random baseline is clearly worse
    # Resampling more customers narrows the interval.
    big = metrics.bootstrap_interval(metric, np.tile(target, 16), np.tile(scores, 16), seed=1)
    assert big["model_high"] - big["model_low"] < (interval["model_high"] - interval["model_low"]) / 2
    assert np.isnan(big["difference_low"])


def test_best_baseline_respects_direction():
    table = {"a": {"roc_auc": 0.6, "log_loss": 0.3}, "b": {"roc_auc": 0.7, "log_loss": 0.4}}
    assert metrics.best_baseline(table, "roc_auc") == ("b", 0.7)
    assert metrics.best_baseline(table, "log_loss") == ("a", 0.3)
    assert metrics.worst_grade("A", "C", "B") == "C"


# The wrappers' numbers, from computations that do not share the module's code paths (a mutation
# run flipped a score's sign inside churn_metrics / value_metrics and no test noticed).

def _pairwise_auc(y: np.ndarray, score: np.ndarray) -> float:
    """ROC AUC by counting pairs: P(score of a churner > score of a stayer), ties count half."""
    pos, neg = score[y == 1], score[y == 0]
    wins = (pos[:, None] > neg[None, :]).sum() + 0.5 * (pos[:, None] == neg[None, :]).sum()
    return wins / (len(pos) * len(neg))


def test_churn_metrics_numbers_match_independent_computations():
    y = np.array([1, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0])
    p = np.array([0.9, 0.8, 0.1, 0.7, 0.2, 0.3, 0.05, 0.4, 0.15, 0.25,
                  0.12, 0.33, 0.6, 0.01, 0.02, 0.03, 0.04, 0.06, 0.07, 0.08])
    m = metrics.churn_metrics(y, p)
    assert m["roc_auc"] == pytest.approx(_pairwise_auc(y, p))
    # Average precision by hand: precision at each churner's rank, averaged over the churners.
    ranked = y[np.argsort(-p)]
    hits = np.cumsum(ranked)
    assert m["pr_auc"] == pytest.approx(np.mean([hits[i] / (i + 1) for i in np.flatnonzero(ranked)]))
    # Top 10% = the 2 highest (0.9: churner, 0.8: not): rate 1/2 against 4/20.
    assert m["lift_at_10"] == pytest.approx((1 / 2) / (4 / 20))
    assert m["recall_at_20"] == pytest.approx(3 / 4)   # top 4: 0.9, 0.8, 0.7, 0.6 hold 3 churners
    # ECE with 10 equal-count bins of the sorted probabilities (2 each).
    order = np.argsort(p)
    expected = sum(0.1 * abs(p[idx].mean() - y[idx].mean()) for idx in np.split(order, 10))
    assert m["ece"] == pytest.approx(expected)
    assert m["brier"] == pytest.approx(np.mean((p - y) ** 2))


def test_value_ranking_is_also_measured_among_customers_who_brought_value():
    # A model that only tells buyers from non-buyers: it ranks the zeros last and the buyers backwards.
    actual = np.array([0.0] * 6 + [1.0, 2.0, 4.0, 8.0])
    predicted = np.array([0.0] * 6 + [4.0, 3.0, 2.0, 1.0])
    m = metrics.value_metrics(actual, predicted)
    assert m["normalized_gini"] > 0.2 and m["spearman"] > 0.5   # the zeros carry the overall ranking ...
    assert m["normalized_gini_positive"] == pytest.approx(-1.0)   # ... among the buyers it is backwards
    assert m["spearman_positive"] == pytest.approx(-1.0)
    assert m["zero_value_share"] == pytest.approx(0.6)
    assert m["top10_value_capture"] == pytest.approx(1 / 15)   # the one largest prediction brought 1 of 15
    assert np.isnan(metrics.value_metrics(np.array([0.0, 0.0, 5.0]), np.array([1.0, 2.0, 3.0]))["spearman_positive"])


def test_value_metrics_numbers_match_independent_computations():
    actual = np.array([0.5, 5, 1, 30, 2, 0, 8, 13, 0.1, 21])
    predicted = np.array([1.0, 4, 3, 25, 2, 0.5, 9, 10, 0.2, 30])
    m = metrics.value_metrics(actual, predicted)
    rank = lambda x: np.argsort(np.argsort(x)).astype(float)  # noqa: E731  (no ties here)
    assert m["spearman"] == pytest.approx(np.corrcoef(rank(actual), rank(predicted))[0, 1])
    assert m["top20_value_capture"] == pytest.approx((21 + 30) / actual.sum())   # the two largest predictions
    assert m["mae"] == pytest.approx(np.mean(np.abs(actual - predicted)))
    # Normalized Gini by hand: 1 for the perfect order, and below it for this one.
    assert metrics.normalized_gini(actual, actual) == pytest.approx(1.0)
    assert 0 < m["normalized_gini"] < 1


def test_gini_of_a_small_example_by_hand():
    # Largest prediction first: cumulative shares 5/6, 6/6, 6/6; mean 17/18 less (n + 1) / 2n = 2/3.
    assert metrics.gini(np.array([0.0, 1, 5]), np.array([0.1, 0.5, 0.9])) == pytest.approx(17 / 18 - 2 / 3)


def test_ties_at_the_top_share_count_their_average_not_their_input_order():
    y = np.array([1, 1, 0, 0])
    assert metrics.recall_at(y, np.zeros(4), 0.5) == pytest.approx(0.5)   # 2 of 4 tied rows: one churner expected
    # 10% of 17 is 1.7 customers, rounded to 2: the top two by score.
    y17 = np.r_[0, 1, np.zeros(15)]
    assert metrics.recall_at(y17, np.arange(17, 0, -1, dtype=float), 0.10) == pytest.approx(1.0)


def test_ece_sorts_by_probability_whatever_the_input_order():
    rng = np.random.default_rng(3)
    p = np.r_[np.full(50, 0.1), np.full(50, 0.9)]
    y = np.r_[np.zeros(50), np.ones(50)]
    shuffled = rng.permutation(100)
    assert metrics.expected_calibration_error(y[shuffled], p[shuffled], n_bins=2) == pytest.approx(0.1)


def test_decile_wmape_reads_a_level_off_by_the_same_share_everywhere_as_that_share():
    actual = np.random.default_rng(3).lognormal(4, 1, 1000)
    assert metrics.decile_wmape(actual, actual * 1.1) == pytest.approx(0.1)
    assert metrics.decile_wmape(actual, actual * 0.8) == pytest.approx(0.2)


def test_decile_wmape_counts_a_decile_of_customers_who_bring_almost_nothing_by_its_money():
    # A wholesaler's model put its churners in the lowest decile (1.34 actual, 8.00 predicted, where
    # the mean customer brought 2,574) and was a few percent off elsewhere; the spend rate mixed the
    # churners in and ran 4-28 % high. The plain mean of the deciles' percentages read 0.535 for the
    # model against 0.152: one decile of almost no money outweighed nine of nearly all of it.
    rng = np.random.default_rng(5)
    buyers = rng.lognormal(7, 1, 900)
    churners = np.zeros(100)
    churners[0] = 130.0                                    # one of them was retained and bought a little
    actual = np.r_[churners, buyers]
    close = np.r_[np.full(100, 8.0), buyers * 1.03]         # ranks them last, 3 % high on the rest
    high = np.r_[np.full(100, 20.0), buyers * 1.15]        # 15 % high on the buyers
    assert metrics.decile_wmape(actual, close) < 0.05 < metrics.decile_wmape(actual, high)


def test_decile_wmape_counts_value_predicted_to_a_decile_that_brought_nothing():
    # Such a decile used to be skipped (a percentage of nothing), so whatever was predicted there was never an error.
    actual = np.r_[np.zeros(10), np.full(90, 10.0)]
    right = np.r_[np.zeros(10), np.full(90, 10.0)]
    wrong = np.r_[np.full(10, 5.0), np.full(90, 10.0)]     # still the lowest decile, with value predicted
    assert metrics.decile_wmape(actual, right) == pytest.approx(0.0)
    assert metrics.decile_wmape(actual, wrong) > 0.0
    assert np.isnan(metrics.decile_wmape(np.zeros(20), np.ones(20)))


def test_every_metric_row_train_and_the_run_report_show_is_one_the_metrics_give():
    # A row whose key the metrics no longer return prints "–" in train and NaN in the report, without an error.
    from churnml import reports
    from churnml.cli.train import CHURN_ROWS, VALUE_ROWS

    assert {key for key, _ in VALUE_ROWS} | {key for key, _ in reports._VALUE_ROWS} <= set(metrics.VALUE_METRICS)
    assert {key for key, _ in reports._CHURN_ROWS} <= set(metrics.CHURN_METRICS)
    assert {key for key, _ in CHURN_ROWS} <= {*metrics.CHURN_METRICS, "roc_auc_active"}  # train adds the subgroup's AUC


def test_gini_ignores_the_row_order_of_tied_predictions():
    # A constant prediction orders nobody: 0, whichever row comes first (it was -1 or +1).
    assert metrics.normalized_gini(np.array([0.0, 1.0]), np.array([5.0, 5.0])) == pytest.approx(0.0)
    assert metrics.normalized_gini(np.array([1.0, 0.0]), np.array([5.0, 5.0])) == pytest.approx(0.0)
    rng = np.random.default_rng(4)
    actual = rng.lognormal(2, 1, 300)
    predicted = np.round(actual + rng.normal(0, 5, 300), -1)   # coarse: many ties
    shuffled = rng.permutation(300)
    assert metrics.normalized_gini(actual, predicted) == pytest.approx(metrics.normalized_gini(actual[shuffled], predicted[shuffled]))


@pytest.mark.parametrize("metric", ["roc_auc", "normalized_gini"])
def test_bootstrap_draws_customers_not_rows_when_a_customer_has_several_test_cutoffs(metric):
    """With two test cutoffs each customer has two rows. The rows of one customer are not two
    customers' worth of evidence: the interval must be as wide as that of the customers once, not
    narrower as if there were twice as many."""
    rng = np.random.default_rng(7)
    n = 300
    if metric == "roc_auc":
        target = (rng.random(n) < 0.2).astype(float)
        scores = rng.random(n) + 0.5 * target
    else:
        target = np.maximum(0, rng.normal(20, 30, n))
        scores = target + rng.normal(0, 25, n)
    baseline = scores + rng.normal(0, 0.5, n)
    ids = np.array([f"C{i:05d}" for i in range(n)])
    once = metrics.bootstrap_interval(metric, target, scores, baseline, seed=3)
    # The same customers at two cutoffs, rows in another order.
    order = rng.permutation(2 * n)
    target2 = np.tile(target, 2)[order]
    scores2, baseline2 = np.tile(scores, 2)[order], np.tile(baseline, 2)[order]
    grouped = metrics.bootstrap_interval(metric, target2, scores2, baseline2, seed=3, groups=np.tile(ids, 2)[order])
    width = once["model_high"] - once["model_low"]
    assert grouped == pytest.approx(once, abs=1e-9)  # the customers drawn are those drawn once
    # Drawn as rows, the duplicates read as twice the customers: about 1/sqrt(2) as wide.
    rows = metrics.bootstrap_interval(metric, target2, scores2, baseline2, seed=3)
    assert rows["model_high"] - rows["model_low"] < 0.85 * width
