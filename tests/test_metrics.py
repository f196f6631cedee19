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


def test_normalized_gini_capture_and_decile_mape():
    actual = np.arange(100, dtype=float)
    assert metrics.normalized_gini(actual, actual * 2) == pytest.approx(1.0)
    assert metrics.normalized_gini(actual, -actual) == pytest.approx(-1.0)
    assert metrics.value_capture(actual, actual, 0.2) == pytest.approx(actual[80:].sum() / actual.sum())
    assert metrics.decile_mape(actual + 1, actual + 1) == pytest.approx(0.0)


def test_value_metrics_keys_and_churn_metric_keys():
    rng = np.random.default_rng(1)
    y = (rng.random(500) < 0.3).astype(int)
    assert set(metrics.churn_metrics(y, rng.random(500))) == set(metrics.CHURN_METRICS)
    assert set(metrics.value_metrics(rng.random(500), rng.random(500))) == set(metrics.VALUE_METRICS)


@pytest.mark.parametrize(("model", "baseline", "expected"), [(0.80, 0.78, "A"), (0.79, 0.78, "B"), (0.78, 0.78, "C"), (0.70, 0.78, "C")])
def test_grade(model, baseline, expected):
    assert metrics.grade(model, baseline) == expected


def test_best_baseline_respects_direction():
    table = {"a": {"roc_auc": 0.6, "log_loss": 0.3}, "b": {"roc_auc": 0.7, "log_loss": 0.4}}
    assert metrics.best_baseline(table, "roc_auc") == ("b", 0.7)
    assert metrics.best_baseline(table, "log_loss") == ("a", 0.3)
    assert metrics.worst_grade("A", "C", "B") == "C"
