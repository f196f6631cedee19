"""Monitoring: PSI and friends on synthetic frames, drift in `churnml score`, and `churnml evaluate`.

The unit tests need no model. The rest share the session's trained store (tests/conftest.py):
scores at the model's own test cutoff are the "unshifted" population, and `evaluate` on them must
give back the test metrics the training run logged.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from churnml import monitoring
from churnml.cli import get_app
from churnml.config import Config
from churnml.features import FeatureSpec
from churnml.labels import build_scoring_frame

runner = CliRunner()


def _text(result) -> str:
    return " ".join((result.output + result.stderr).split())


def _message(stderr: str, start: str) -> str:
    """The message from ``start`` on (MLflow's download progress bars may come first)."""
    text = " ".join(stderr.split())
    return text[text.index(start):] if start in text else text


# ---------------------------------------------------------------------------------------------
# Pure functions
# ---------------------------------------------------------------------------------------------


def _frame(rng: np.random.Generator, n: int, shift: float = 0.0, new_plan: bool = False, missing: float = 0.0) -> pd.DataFrame:
    plans = np.array(["basic", "plus", "premium"])
    plan = rng.choice(plans, size=n, p=[0.5, 0.3, 0.2]).astype(object)
    if new_plan:
        plan[: n // 4] = "platinum"
    spend = rng.gamma(2.0, 50.0, size=n) * (1 + shift)
    spend[rng.random(n) < missing] = np.nan
    return pd.DataFrame({
        "tenure_days": rng.normal(700, 200, size=n) + shift * 400,
        "monetary_365d": spend,
        "frequency_lifetime": rng.poisson(5, size=n).astype(float),
        "plan": pd.Categorical(plan),
    })


NAMES = ["tenure_days", "monetary_365d", "frequency_lifetime", "plan"]
SPECS = [FeatureSpec("tenure_days", "", "customers", None, "numeric", 0, None).to_dict(),
         FeatureSpec("monetary_365d", "", "transactions", "365d", "numeric", 0, None).to_dict(),
         FeatureSpec("frequency_lifetime", "", "transactions", "lifetime", "numeric", 0, None).to_dict(),
         FeatureSpec("plan", "", "customers", None, "categorical", 0, None, column="plan").to_dict()]
"""What metadata.json records of these features (every model that records ``history_days`` does)."""


@pytest.fixture(scope="module")
def reference() -> dict:
    rng = np.random.default_rng(0)
    frame = _frame(rng, 5000)
    scores = {"churn_probability": rng.beta(1, 8, 5000), "predicted_value": rng.gamma(2.0, 50.0, 5000)}
    return monitoring.reference_statistics(frame, NAMES, ["plan"], scores, "2025-06-30")


def test_psi_is_zero_for_equal_shares_and_grows_with_the_shift():
    assert monitoring.psi([0.25] * 4, [0.25] * 4) == 0.0
    small = monitoring.psi([0.25] * 4, [0.3, 0.25, 0.25, 0.2])
    large = monitoring.psi([0.25] * 4, [0.7, 0.1, 0.1, 0.1])
    assert 0 < small < 0.1 < 0.2 < large
    # An empty bin is floored, not infinite.
    assert np.isfinite(monitoring.psi([0.5, 0.5], [1.0, 0.0]))


def test_reference_statistics_shape(reference):
    stats = reference["features"]["monetary_365d"]
    assert stats["kind"] == "numeric" and len(stats["edges"]) == 9
    assert sum(stats["bin_shares"]) == pytest.approx(1.0)
    assert reference["features"]["plan"]["shares"].keys() == {"basic", "plus", "premium"}
    assert set(reference["scores"]) == {"churn_probability", "predicted_value"}
    assert reference["as_of"] == "2025-06-30" and reference["rows"] == 5000
    assert 0 < reference["share_without_history"] < 0.02  # Poisson(5) is 0 for ~0.7 %
    json.dumps(reference)  # JSON-ready, as it is logged


def test_drift_stays_quiet_on_a_fresh_sample_of_the_same_population(reference):
    rng = np.random.default_rng(1)
    frame = _frame(rng, 3000)
    scores = {"churn_probability": rng.beta(1, 8, 3000), "predicted_value": rng.gamma(2.0, 50.0, 3000)}
    report = monitoring.drift(reference, frame, scores, "2025-08-01")
    assert not report.drifted, report.alerts
    assert report.features["psi"].max() < 0.05
    assert all(v["psi"] < 0.05 for v in report.scores.values())
    assert report.model_age_days == 32 and report.alerts == [] and report.notes == []


def test_drift_fires_on_shifted_data_and_names_the_worst_features(reference):
    rng = np.random.default_rng(2)
    frame = _frame(rng, 3000, shift=1.0, new_plan=True, missing=0.3)
    scores = {"churn_probability": rng.beta(3, 4, 3000), "predicted_value": rng.gamma(2.0, 50.0, 3000)}
    report = monitoring.drift(reference, frame, scores, "2025-08-01")
    assert report.drifted
    assert set(report.worst_features(3)) == {"tenure_days", "monetary_365d", "plan"}
    assert report.worst_features(5, above=0.2) == report.features.loc[report.features["drifted"], "feature"].tolist()
    assert "frequency_lifetime" not in report.worst_features(5, above=0.2)
    plan = report.features.set_index("feature").loc["plan"]
    assert plan["new_categories"] == ["platinum"]
    money = report.features.set_index("feature").loc["monetary_365d"]
    assert money["missing_rate_reference"] == 0.0 and money["missing_rate"] == pytest.approx(0.3, abs=0.03)
    assert report.scores["churn_probability"]["drifted"] and not report.scores["predicted_value"]["drifted"]
    text = " ".join(report.alerts + report.notes)
    assert "tenure_days" in text and "churn_probability" in text and "platinum" in text and "monetary_365d is missing" in text
    as_dict = report.to_dict()
    json.dumps(as_dict)
    assert as_dict["drifted"] and monitoring.worst_features(as_dict, 3) == report.worst_features(3)


def test_the_drift_message_names_each_feature_once(reference):
    # "3 feature(s) shifted beyond PSI 0.2: tenure_days (PSI 3.17), ... Worst features: tenure_days, ...":
    # the alert and a second sentence named the same features, the second without their PSI.
    rng = np.random.default_rng(2)
    report = monitoring.drift(reference, _frame(rng, 3000, shift=1.0, new_plan=True), None, "2025-08-01")
    beyond = report.worst_features(5, above=report.psi_threshold)
    assert len(beyond) >= 2
    message = monitoring.drift_message(report)
    # The level of money is another measurement (a ratio of medians, not a PSI): its sentence may
    # name a money feature again, with that ratio.
    level = re.search(r"Money level of .*?retrain on data after the change\.", message)
    assert level and "Money level of monetary_365d ×" in level.group()
    rest = message.replace(level.group(), "")
    for name in NAMES:
        assert len(re.findall(rf"\b{name}\b", rest)) <= 1, message
    assert all(f"{name} (PSI " in message for name in beyond) and "Check the data feed" in message
    # Only an old model, no feature beyond the threshold: the features that moved most are still named, once.
    old = monitoring.drift(reference, _frame(np.random.default_rng(1), 3000), None, "2026-08-01")
    assert old.drifted and not old.worst_features(5, above=old.psi_threshold)
    quiet = monitoring.drift_message(old)
    worst = old.worst_features(3)
    assert f"Worst features: {', '.join(worst)} (none beyond PSI 0.2)." in quiet, quiet
    assert all(len(re.findall(rf"\b{name}\b", quiet)) == 1 for name in worst), quiet


def test_ages_are_compared_net_of_the_days_between_the_cutoffs():
    # The same kind of customers 120 days later: every tenure is 120 days longer. That alone
    # must not read as drift (it fired on every normal `churnml score`); other features do count.
    rng = np.random.default_rng(3)
    then = _frame(rng, 5000).assign(cutoff=pd.Timestamp("2025-03-01"))
    reference = monitoring.reference_statistics(then, NAMES, ["plan"], None, "2025-06-29")
    assert reference["cutoff"] == "2025-03-01"
    now = _frame(rng, 3000).assign(cutoff=pd.Timestamp("2025-06-29"))
    now["tenure_days"] += 120
    report = monitoring.drift(reference, now, None, "2025-06-29")
    psi = report.features.set_index("feature")["psi"]
    assert psi["tenure_days"] < 0.05 and not report.drifted, report.alerts
    # Without the cutoffs there is nothing to net out: the same rows show the shift.
    assert monitoring.drift({**reference, "cutoff": None}, now, None, "2025-06-29").features.set_index("feature")["psi"]["tenure_days"] > 0.2
    # New customers (ages below the elapsed days) are a real change and still show.
    now.loc[: len(now) // 3, "tenure_days"] = rng.uniform(0, 120, len(now) // 3 + 1)
    assert monitoring.drift(reference, now, None, "2025-06-29").features.set_index("feature")["psi"]["tenure_days"] > 0.2
    # A population with steady sign-ups keeps its ages: net of the elapsed days its newest
    # customers read as drift (0.36 against 0.03 as they are, seven months on), and
    # --fail-on-drift stopped a nightly job for nothing.
    steady = _frame(rng, 3000).assign(cutoff=pd.Timestamp("2025-10-01"))
    psi = monitoring.drift(reference, steady, None, "2025-10-01").features.set_index("feature")["psi"]
    assert psi["tenure_days"] < 0.05


def test_an_old_model_alone_is_drift(reference):
    rng = np.random.default_rng(1)
    frame = _frame(rng, 3000)
    config = Config().replace(monitoring={"max_model_age_days": 30})
    report = monitoring.drift(reference, frame, None, "2025-08-01", config)
    assert report.drifted and report.model_age_days == 32
    assert report.alerts == ["The model is 32 days old (trained as of 2025-06-30), older than max_model_age_days=30; retrain it."]


def test_a_drift_of_the_missing_share_says_so(reference):
    # PSI 0.28 on the gap features of a subscription business without recent sign-ups was all their
    # missing share (4.6% -> 0%); the warning said only "check the data feed".
    report = monitoring.drift(reference, _frame(np.random.default_rng(1), 3000, missing=0.1), None, "2025-07-01")
    assert report.worst_features(5, above=0.2) == ["monetary_365d"]
    row = report.features.set_index("feature").loc["monetary_365d"]
    assert report.alerts == [
        f"1 feature(s) shifted beyond PSI 0.2: monetary_365d (PSI {row.psi:.2f}; missing for {row.missing_rate:.1%}, was 0.0%). "
        "A feature is missing where the customer lacks the history it needs (no purchase yet, or only one) or the column "
        "is blank: look at the number of new customers, or at blanks in the feed."]
    moved = monitoring.drift(reference, _frame(np.random.default_rng(1), 3000, shift=1.0), None, "2025-07-01")
    assert moved.drifted and "missing for" not in " ".join(moved.alerts)


def test_a_backfill_by_a_later_model_says_when_it_was_trained_not_a_negative_age(reference):
    # Scored as of a date before the model's training: "Drift: none (…; model -121 days old, max 120)."
    report = monitoring.drift(reference, _frame(np.random.default_rng(1), 3000), None, "2025-03-01")
    assert report.model_age_days == -121 and not report.alerts
    assert monitoring.drift_status(report).endswith("; model trained 121 days after the as-of date).")
    assert monitoring.drift_status(monitoring.drift(reference, _frame(np.random.default_rng(1), 3000), None,
                                                    "2025-07-30")).endswith("; model 30 days old, max 120).")


def test_a_model_a_day_old_reads_one_day_not_one_days(reference):
    # Scored the day after training, a nightly log's last line read "model 1 days old, max 120".
    frame = _frame(np.random.default_rng(1), 3000)
    report = monitoring.drift(reference, frame, None, "2025-07-01")
    assert report.model_age_days == 1 and monitoring.drift_status(report).endswith("; model 1 day old, max 120).")
    assert monitoring.model_age_text(-1, 120) == "model trained 1 day after the as-of date"
    strict = monitoring.drift(reference, frame, None, "2025-07-01", Config().replace(monitoring={"max_model_age_days": 0}))
    assert "The model is 1 day old (trained as of 2025-06-30), older than max_model_age_days=0; retrain it." in strict.alerts


def test_scores_whose_outcome_the_models_were_fitted_on_are_found() -> None:
    # Fitted on train + validation cutoffs, and the churn level set on the test cutoff's labels
    # (which also decided the promotion): models trained as of 2025-11-30 have seen outcomes up to
    # then. Scores as of 2025-10-01 from such a champion (a backfill after a retrain) said nothing,
    # though their horizon's first two months are the test window the level was fitted to.
    meta = {"horizon_days": 90, "cutoffs": {"train": ["2025-03-05"], "validation": ["2025-06-03"], "test": ["2025-09-01"]}}
    assert monitoring.fitted_labels_end(meta, "2025-06-03") == pd.Timestamp("2025-11-30")
    assert monitoring.fitted_labels_end(meta, "2025-09-01") == pd.Timestamp("2025-11-30")
    assert monitoring.fitted_labels_end(meta, "2025-10-01") == pd.Timestamp("2025-11-30")
    assert monitoring.fitted_labels_end(meta, "2025-11-30") is None   # the training's as-of date: all unseen
    assert monitoring.fitted_labels_end({}, "2020-01-01") is None      # a run that does not say


# ---------------------------------------------------------------------------------------------
# With a trained model
# ---------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def test_cutoff_scores(trained_store, tmp_path_factory) -> Path:
    """`churnml score` at the model's test cutoff (default config): the unshifted population."""
    folder = tmp_path_factory.mktemp("monitoring_scores")
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(trained_store.root)
        patch.setenv("MLFLOW_TRACKING_URI", trained_store.tracking_uri)
        out = folder / "scores.parquet"
        result = runner.invoke(get_app(), ["score", str(trained_store.data), "--as-of", trained_store.test_cutoff,
                                           "--out", str(out), "--snapshot-dir", str(folder / "snapshots"), "--fail-on-drift"])
    assert result.exit_code == 0, _text(result)
    # No drift; only that the churn level was set on this cutoff's outcomes (a backtest here flatters it).
    # Each warning's line starts with its time in a log (not a terminal): split at the times.
    warnings = [w for w in re.split(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d (?=Warning:)", " ".join(result.stderr.split()))
                if w.strip()]
    assert [w.startswith("Warning: the models were fitted on outcomes up to") for w in warnings] == [True], warnings
    return out


@pytest.mark.slow
def test_score_sidecar_has_a_quiet_monitoring_section_at_the_test_cutoff(test_cutoff_scores, trained_store):
    sidecar = json.loads(test_cutoff_scores.with_name("scores.parquet.json").read_text())
    section = sidecar["monitoring"]
    assert section["drifted"] is False and section["alerts"] == []
    assert section["model_age_days"] == -90  # scored at the test cutoff, 90 days before the training as-of
    names = {row["feature"] for row in section["features"]}
    assert names == set(json_feature_names(trained_store))
    # The test cutoff is where the reference comes from: the same population, so (nearly) the same
    # distributions. Training keeps features to 6 decimals, so a value may sit across a bin edge.
    assert max(row["psi"] for row in section["features"]) < 0.01
    assert set(section["scores"]) == {"churn_probability", "predicted_value"}
    assert all(v["psi"] < 1e-9 for v in section["scores"].values())
    assert section["share_without_history"]["current"] is not None


def json_feature_names(store) -> list[str]:
    from churnml import tracking

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MLFLOW_TRACKING_URI", store.tracking_uri)
        return tracking.load_run(store.result.run_id).metadata["feature_names"]


@pytest.mark.slow
def test_drift_fires_on_deliberately_shifted_scoring_features(use_trained_store):
    from churnml import tracking

    models = tracking.load_models()
    features = build_scoring_frame(use_trained_store.dataset, pd.Timestamp(use_trained_store.test_cutoff), Config())
    quiet = monitoring.drift(models.monitoring_reference, features, None, use_trained_store.test_cutoff)
    assert not quiet.drifted, quiet.alerts
    shifted = features.copy()
    shifted["days_since_last_purchase"] = shifted["days_since_last_purchase"] + 120
    shifted["monetary_365d"] = shifted["monetary_365d"] * 4
    names = list(models.churn.feature_names_)
    churn_probability = models.churn.predict_proba(features[names])
    same = monitoring.drift(models.monitoring_reference, features, {"churn_probability": churn_probability}, use_trained_store.test_cutoff)
    assert same.scores["churn_probability"]["psi"] < 1e-9  # the score reference is this very cutoff
    scores = {"churn_probability": np.clip(churn_probability * 3, 0, 1)}
    loud = monitoring.drift(models.monitoring_reference, shifted, scores, use_trained_store.test_cutoff)
    assert loud.drifted
    assert set(loud.worst_features(2)) == {"days_since_last_purchase", "monetary_365d"}
    assert loud.scores["churn_probability"]["drifted"]


@pytest.mark.slow
def test_score_warns_or_fails_on_drift(use_trained_store, tmp_path):
    config = tmp_path / "strict.toml"
    config.write_text("[monitoring]\npsi_threshold = 0.0001\n")
    # The reference describes the test cutoff; the as-of date is 90 days later, so ages shift.
    # (At the test cutoff itself only floating-point noise differs, with PSI below 1e-4.)
    args = ["score", str(use_trained_store.data), "--as-of", use_trained_store.as_of, "--config", str(config),
            "--snapshot-dir", str(tmp_path / "snapshots")]
    warned = runner.invoke(get_app(), [*args, "--out", str(tmp_path / "a.parquet")])
    assert warned.exit_code == 0, _text(warned)
    worst = monitoring.worst_features(json.loads((tmp_path / "a.parquet.json").read_text())["monitoring"], 1)[0]
    stderr = _message(warned.stderr, "Warning:")
    assert stderr.startswith("Warning:") and f"{worst} (PSI " in stderr and "Worst features" not in stderr
    # What a retrain would change: the reference is the test cutoff, a horizon before the as-of date.
    # Scored at the as-of date, the features other than ages and lifetime sums are compared with the training cutoff a year before.
    season = json.loads((tmp_path / "a.parquet.json").read_text())["monitoring"]["season_cutoff"]
    assert (f"A real shift since the reference, the customers in the training data at the cutoff a year before these scores ({season}, "
            f"the same season; ages and lifetime sums: at its test cutoff, {use_trained_store.test_cutoff}) (a price change, a season) stays "
            "until models are trained on data after it") in stderr
    # The hint to copy keeps the config: its [targeting] costs and [segments] actions shape the list.
    assert f"--budget5000--config{config}" in re.sub(r"\s+", "", warned.stdout)
    failed = runner.invoke(get_app(), [*args, "--out", str(tmp_path / "b.parquet"), "--fail-on-drift"])
    assert failed.exit_code == 3
    stderr = _message(failed.stderr, "Error:")
    assert stderr.startswith("Error:") and f"{worst} (PSI " in stderr and "exit code is 3" in stderr
    assert json.loads((tmp_path / "b.parquet.json").read_text())["monitoring"]["drifted"] is True
    # The log says what was written, but not to go on with a list: "Next: churnml retention-list …" came
    # just before the error saying the batch job stops here.
    assert "Wrote " in failed.stdout and "Next:" not in failed.stdout, failed.stdout


@pytest.mark.slow
def test_the_season_is_not_drift_at_the_training_as_of_date_but_a_lapse_is(use_trained_store, tmp_path):
    """The test cutoff lies a horizon (a season) before the as-of date. The generator's trading
    follows the months (more in winter than in summer) and never changes otherwise, yet its
    purchases of the last quarter against the quarter before (``frequency_trend``) read PSI 0.23 at
    the as-of date against the test cutoff, on the first day the model was used. Against the
    training cutoff a year before (the same months) it is a few hundredths. Customers who stop
    buying still show: 70 % fewer purchases over the last two months are drift there."""
    args = ["score", str(use_trained_store.data), "--as-of", use_trained_store.as_of, "--fail-on-drift"]
    quiet = runner.invoke(get_app(), [*args, "--out", str(tmp_path / "quiet.parquet"), "--snapshot-dir", str(tmp_path / "s1")])
    assert quiet.exit_code == 0, _text(quiet)
    section = json.loads((tmp_path / "quiet.parquet.json").read_text())["monitoring"]
    season = (pd.Timestamp(use_trained_store.as_of) - pd.Timedelta(days=365))
    assert abs((pd.Timestamp(section["season_cutoff"]) - season).days) <= 15
    rows = {row["feature"]: row for row in section["features"]}
    assert rows["frequency_trend"]["reference"] == section["season_cutoff"] and rows["frequency_trend"]["psi"] < 0.1
    # Ages follow the calendar, not the season: they stay with the test cutoff.
    assert rows["days_since_first_purchase"]["reference"] == use_trained_store.test_cutoff
    # The scores report says which customers each row was compared with.
    from churnml import reports

    page = reports.drift_html(section)
    assert (f"compared with the customers in the training data at the cutoff {section['season_cutoff']}, a year before these scores"
            in page and "compared with</th>" in page)

    lapsed = tmp_path / "lapsed"
    shutil.copytree(use_trained_store.data, lapsed)
    transactions = pd.read_parquet(lapsed / "transactions.parquet")
    late = pd.to_datetime(transactions["timestamp"]) >= pd.Timestamp(use_trained_store.as_of) - pd.Timedelta(days=60)
    dropped = late & (np.random.default_rng(0).random(len(transactions)) < 0.7)
    transactions[~dropped].to_parquet(lapsed / "transactions.parquet", index=False)
    loud = runner.invoke(get_app(), ["score", str(lapsed), "--as-of", use_trained_store.as_of, "--fail-on-drift",
                                     "--out", str(tmp_path / "loud.parquet"), "--snapshot-dir", str(tmp_path / "s2")])
    assert loud.exit_code == 3, _text(loud)
    assert "frequency_30d (PSI " in _message(loud.stderr, "Error:")


def test_first_purchases_cut_off_by_the_data_s_start_are_not_drift_months_later(tmp_path):
    """Generated customers who traded before the data began all show a first purchase in its first
    days: a peak of ages just under the history's length, which moves up by a day a day. As they
    were, its bin emptied; net of the elapsed days, the new sign-ups read as a shift: PSI 0.27 on
    days_since_first_purchase six months after the as-of date, on data that never changes. A book
    of old customers gone still shows."""
    from churnml.generate import generate
    from churnml.labels import build_training_set
    from churnml.validate import load_dataset

    generate(tmp_path, 2000, seed=5, end="2026-06-30")
    dataset, as_of = load_dataset(tmp_path, Config()), pd.Timestamp("2025-12-01")
    training = build_training_set(dataset, as_of, Config())
    test, frame = training.split("test"), training.frame
    reference = monitoring.reference_statistics(test, training.feature_names, training.categorical_features, None, as_of,
                                                seasons=frame[frame["split"] != "test"], data_start=training.data_start)
    history = monitoring.reference_history_days({"history_days": training.history_days(),
                                                 "cutoffs": {s: [f"{c:%Y-%m-%d}" for c in cs] for s, cs in training.split_cutoffs.items()}})
    later = build_scoring_frame(dataset, pd.Timestamp("2026-06-01"), Config())
    report = monitoring.drift(reference, later, None, "2026-06-01", history_days=history)
    assert report.features.set_index("feature").loc["days_since_first_purchase", "psi"] < 0.05
    # Customers of the data's first two years gone: the book is younger, which the ages say.
    young = later[later["days_since_first_purchase"] < history - 730 + 182]
    shifted = monitoring.drift(reference, young, None, "2026-06-01", history_days=history)
    assert shifted.features.set_index("feature").loc["days_since_first_purchase", "psi"] > 0.2


@pytest.mark.slow
def test_a_scheduled_score_s_log_ends_on_the_summary_not_on_the_drift_warning(use_trained_store, tmp_path):
    # `churnml score ... >> score.log 2>&1` from cron: the log ended on the drift warning, printed
    # after the summary, so its tail did not say whether the scores had been written. The warnings
    # come first now, and the summary, last, says in one line whether the population drifted. The
    # real command, its stdout and stderr in one file as a scheduler writes them.
    import os
    import subprocess
    import sys

    config = tmp_path / "young.toml"
    config.write_text("[monitoring]\nmax_model_age_days = 10\n")  # the champion (as of 2025-12-01) is too old
    log = tmp_path / "score.log"
    with log.open("w") as out:
        done = subprocess.run(
            [str(Path(sys.executable).parent / "churnml"), "score", str(use_trained_store.data), "--as-of", "2025-12-31",
             "--config", str(config), "--out", str(tmp_path / "scores.parquet"), "--snapshot-dir", str(tmp_path / "snapshots")],
            stdout=out, stderr=subprocess.STDOUT, env=os.environ.copy(), timeout=600)
    lines = [line for line in log.read_text().splitlines() if line.strip()]
    assert done.returncode == 0, lines
    # A log: each warning's line starts with the time it came.
    warned = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d Warning:")
    warning = next(n for n, line in enumerate(lines) if warned.match(line) and "older than max_model_age_days=10" in line)
    table = next(n for n, line in enumerate(lines) if "customers scored as of 2025-12-31" in line)
    assert warning < table and not any("Warning:" in line for line in lines[table:]), lines
    assert lines[-3].startswith(f"Wrote {tmp_path / 'scores.parquet'}, "), lines[-3:]
    assert re.fullmatch(r"Drift: yes \((.+; )?model 30 days old, max 10\): see the warning above\.", lines[-2]), lines[-2]
    assert lines[-1].startswith(f"Next: churnml retention-list {tmp_path / 'scores.parquet'} "), lines[-1]


def test_an_old_champion_s_alert_names_the_later_training_that_was_not_promoted(use_trained_store, tmp_path, monkeypatch):
    # A monthly job with --fail-on-drift exited 3 every month, "older than max_model_age_days; retrain
    # it", after a retraining had lost to the champion: retraining again may not help, promoting may.
    from mlflow.tracking import MlflowClient

    from churnml import tracking

    store = Path(use_trained_store.tracking_uri.removeprefix("sqlite:///"))
    copy = tmp_path / "mlruns" / store.name
    copy.parent.mkdir()
    shutil.copy(store, copy)  # the session's store stays as it is
    uri = f"sqlite:///{copy}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    config = tmp_path / "young.toml"
    config.write_text("[monitoring]\nmax_model_age_days = 10\n")
    args = ["score", str(use_trained_store.data), "--as-of", "2025-12-31", "--config", str(config),
            "--snapshot-dir", str(tmp_path / "snapshots")]
    alone = runner.invoke(get_app(), [*args, "--out", str(tmp_path / "a.parquet")])
    assert alone.exit_code == 0, _text(alone)
    message = _message(alone.stderr, "Warning:")
    assert "older than max_model_age_days=10; retrain it" in message and "not champion" not in message

    # A later training registered both models and lost the promotion: the champions stay at v1.
    client = MlflowClient(tracking_uri=uri)
    first = {name: client.get_model_version_by_alias(name, tracking.CHAMPION) for name in tracking.MODEL_NAMES}
    run = client.create_run(client.get_run(first[tracking.CHURN_MODEL_NAME].run_id).info.experiment_id)
    client.log_param(run.info.run_id, "as_of", "2025-12-20")
    client.set_terminated(run.info.run_id)
    later = {name: client.create_model_version(name, version.source, run.info.run_id) for name, version in first.items()}
    failed = runner.invoke(get_app(), [*args, "--out", str(tmp_path / "b.parquet"), "--fail-on-drift"])
    assert failed.exit_code == 3, _text(failed)
    message = _message(failed.stderr, "Error:")
    churn, value = later[tracking.CHURN_MODEL_NAME].version, later[tracking.VALUE_MODEL_NAME].version
    assert (f"A later training is registered but not champion: churnml-churn v{churn}, trained as of 2025-12-20 "
            f"(v{first[tracking.CHURN_MODEL_NAME].version} is as of {use_trained_store.as_of})") in message
    assert f"`churnml promote churnml-churn {churn}` and `churnml promote churnml-value {value}`" in message
    assert "exit code is 3" in message


@pytest.mark.slow
def test_evaluate_reproduces_the_training_test_metrics(use_trained_store, test_cutoff_scores):
    from churnml import tracking

    result = runner.invoke(get_app(), ["evaluate", str(test_cutoff_scores), str(use_trained_store.data)])
    assert result.exit_code == 0, _text(result)
    assert f"Backtest of scores as of {use_trained_store.test_cutoff}" in _text(result)
    assert "where the churn model's level was fitted after grading" in " ".join(result.stderr.split())
    trained = use_trained_store.result
    client = tracking._client()
    runs = client.search_runs([client.get_experiment_by_name(tracking.EXPERIMENT_NAME).experiment_id],
                              "tags.`churnml.kind` = 'backtest'")
    assert len(runs) >= 1
    backtest = runs[0]
    assert backtest.data.tags["churnml.churn_model_version"] == trained.churn_version
    assert backtest.data.tags["churnml.training_run_id"] == trained.run_id
    # The registered model's level was shifted to the test cutoff's churn rate after grading: its
    # rankings are the graded ones, its probabilities (and so the expected values) a little higher.
    for key in ("roc_auc", "pr_auc", "lift_at_10", "lift_at_20", "recall_at_10", "recall_at_20", "emp"):
        expected = trained.churn_metrics["model"][key]
        assert backtest.data.metrics[f"churn_model_{key}"] == pytest.approx(expected, rel=1e-6, abs=1e-9), key
    # ... and every metric is the registered models' own on the test cutoff's training rows.
    from churnml import metrics as metrics_module
    from churnml.config import Config
    from churnml.labels import build_training_set

    test = build_training_set(use_trained_store.dataset, pd.Timestamp(use_trained_store.as_of), Config()).split("test")
    models = tracking.load_models("champion")
    names = models.metadata["feature_names"]
    probability, value_if_retained = models.churn.predict_proba(test[names]), models.value.predict(test[names])
    assert probability.mean() == pytest.approx(test["churned"].mean(), abs=2e-3)
    for key, expected in metrics_module.churn_metrics(test["churned"].to_numpy(), probability).items():
        assert backtest.data.metrics[f"churn_model_{key}"] == pytest.approx(expected, rel=1e-5, abs=1e-9), key
    for key, expected in metrics_module.value_metrics(test["value"].to_numpy(), (1 - probability) * value_if_retained).items():
        assert backtest.data.metrics[f"value_model_{key}"] == pytest.approx(expected, rel=1e-5, abs=1e-9), key
    history = client.get_metric_history(trained.run_id, "backtest_churn_model_roc_auc")
    assert history[-1].step == -90 and history[-1].value == pytest.approx(trained.churn_metrics["model"]["roc_auc"])
    version = client.get_model_version(tracking.CHURN_MODEL_NAME, trained.churn_version)
    assert f"churnml.backtest.{use_trained_store.test_cutoff}.roc_auc" in version.tags


def test_a_backtest_measures_the_level_and_says_when_it_is_off() -> None:
    # What a forward test found: the rankings fine, the value 25 % and the probabilities 12 % low.
    rng = np.random.default_rng(1)
    n = 4000
    risk = rng.beta(2, 18, n)
    churned = (rng.random(n) < risk).astype(int)
    value = rng.gamma(2.0, 50.0, n) * (1 - churned)
    scores = pd.DataFrame({"customer_id": np.arange(n), "churn_probability": risk * 0.88 * churned.mean() / risk.mean(),
                           "predicted_value": value * 0.75})
    labels = pd.DataFrame({"customer_id": np.arange(n), "churned": churned, "value": value})
    result = monitoring.backtest_metrics(scores, labels)
    assert result.churn["churn_rate"] == pytest.approx(churned.mean())
    assert result.churn["level_ratio"] == pytest.approx(0.88)
    assert result.value["predicted_total"] == pytest.approx(0.75 * value.sum())
    assert result.value["level_ratio"] == pytest.approx(0.75)
    assert result.to_dict()["level_notes"] == result.level_notes() == [
        "churn probability ran 12% below the churn rate that happened: value at risk and expected benefit are that much "
        "low, and fewer customers reach the high risk tier.",
        "predicted value ran 25% below what happened: money figures (value at risk, expected benefit) are that much low.",
    ]
    near = monitoring.backtest_metrics(scores.assign(predicted_value=value * 1.05), labels)
    assert len(near.level_notes()) == 1  # 5 % off is within what a horizon's luck moves


def test_a_backtest_measures_the_value_at_risk_against_the_value_the_churners_lost() -> None:
    # What forward tests found: churn and value levels within 10 %, yet the top 5 %'s value at risk
    # 1.6 times the value lost, since churners bring part of their horizon's value before closing.
    rng = np.random.default_rng(2)
    n = 20000
    risk = rng.beta(2, 18, n)
    churned = (rng.random(n) < risk).astype(int)
    if_retained = rng.gamma(2.0, 50.0, n)
    # Churners bring 30 % of their value if retained before they leave; the others all of it.
    value = if_retained * np.where(churned == 1, 0.3, 1.0)
    scores = pd.DataFrame({"customer_id": np.arange(n), "churn_probability": risk,
                           "predicted_value": (1 - risk) * if_retained, "value_at_risk": risk * if_retained})
    labels = pd.DataFrame({"customer_id": np.arange(n), "churned": churned, "value": value})
    result = monitoring.backtest_metrics(scores, labels)
    lost = ((if_retained - value) * churned).sum()
    assert result.value["value_at_risk_total"] == pytest.approx((risk * if_retained).sum())
    assert result.value["value_lost_total"] == pytest.approx(lost)
    assert result.value["churners_brought_share"] == pytest.approx(0.3)
    assert result.value["value_weighted_churn_ratio"] == pytest.approx((risk * if_retained).sum() / (churned * if_retained).sum())
    assert result.value["value_weighted_churn_ratio"] == pytest.approx(1.0, abs=0.05)  # calibrated where the money is
    ratio = result.value["value_at_risk_level_ratio"]
    assert ratio == pytest.approx((risk * if_retained).sum() / lost) and ratio == pytest.approx(1 / 0.7, rel=0.05)
    assert result.level_notes() == []  # churn and value levels are right: only the money at risk is off
    assert result.value_at_risk_note() == result.to_dict()["value_at_risk_note"]
    assert result.value_at_risk_note().startswith(
        f"value at risk ran {ratio - 1:.0%} above the value the churners lost (their value if retained less the 30% of it "
        "they brought in the horizon before leaving; value at risk counts it all as lost")
    # Per decile of value at risk, highest first: the sums add up to the whole.
    deciles = result.value_at_risk_deciles
    assert [row["decile"] for row in deciles] == list(range(1, 11)) and sum(row["customers"] for row in deciles) == n
    assert sum(row["value_lost_total"] for row in deciles) == pytest.approx(lost)
    assert sum(row["churners"] for row in deciles) == churned.sum()
    assert all(a["value_at_risk_total"] >= b["value_at_risk_total"] for a, b in zip(deciles, deciles[1:]))
    # Scores without value_at_risk (older files) are backtested as before.
    older = monitoring.backtest_metrics(scores.drop(columns="value_at_risk"), labels)
    assert "value_at_risk_level_ratio" not in older.value and older.value_at_risk_deciles == []


def _sidecar_for(edited: Path, scores: Path) -> None:
    """Give a hand-edited copy of ``scores`` its sidecar, recording the edited file's digest (readers
    refuse a sidecar written for other contents)."""
    from churnml.io import file_sha256

    sidecar = json.loads(scores.with_name(scores.name + ".json").read_text())
    sidecar["scores_sha256"] = file_sha256(edited)
    edited.with_name(edited.name + ".json").write_text(json.dumps(sidecar))


@pytest.mark.slow
def test_evaluate_labels_the_training_test_column_as_graded(use_trained_store, test_cutoff_scores):
    # The column read "training test (date)": its ECE is the graded model's, before the churn level
    # was shifted, while the scores come from the shifted model; users took the two for one model.
    from churnml import tracking

    result = runner.invoke(get_app(), ["evaluate", str(test_cutoff_scores), str(use_trained_store.data)])
    assert result.exit_code == 0, _text(result)
    lines = result.output.splitlines()
    top = next(i for i, line in enumerate(lines) if line.startswith("┏") and "Backtest of scores" in " ".join(lines[:i]))
    below = next(i for i in range(top, len(lines)) if lines[i].startswith("┡"))
    # A header wraps in its column at the console's width: each column's lines joined.
    cells = [[cell.strip() for cell in line.strip().strip("┃").split("┃")] for line in lines[top + 1:below]]
    headers = [" ".join(part for part in column if part) for column in zip(*cells)]
    assert headers == ["metric", "now", f"training test, as graded ({use_trained_store.test_cutoff})", "change"], lines[top:below]
    ece = next([cell.strip() for cell in line.strip().strip("│").split("│")] for line in lines if re.match(r"│ ECE\s", line))
    # The column holds the graded ECE, as it now says, and the registered model (the scores') is a shifted one.
    assert ece[2] == f"{use_trained_store.result.churn_metrics['model']['ece']:.4f}"
    assert tracking.load_models(use_trained_store.result.churn_version).metadata["level_shift"] != 0
    assert ("Training test is as graded, before the churn level was shifted to the test cutoff's churn rate and the value "
            "level was set; these scores come from the registered models, after the shift.") in " ".join(result.output.split())


@pytest.mark.slow
def test_evaluate_shows_logs_and_warns_about_the_level(use_trained_store, test_cutoff_scores, tmp_path):
    from churnml import tracking

    skewed = tmp_path / "skewed.parquet"
    table = pd.read_parquet(test_cutoff_scores)
    table.assign(predicted_value=table["predicted_value"] * 0.75).to_parquet(skewed)
    _sidecar_for(skewed, test_cutoff_scores)
    result = runner.invoke(get_app(), ["evaluate", str(skewed), str(use_trained_store.data)], terminal_width=200)
    assert result.exit_code == 0, _text(result)
    for row in ("mean churn probability", "churn rate, actual", "churn: predicted ÷ actual",
                "value predicted, total", "value actual, total", "value: predicted ÷ actual"):
        assert row in result.output, row
    stderr = " ".join(result.stderr.split())
    assert "Churn probability ran" not in stderr  # its level was set to this very cutoff
    client = tracking._client()
    run = client.search_runs([client.get_experiment_by_name(tracking.EXPERIMENT_NAME).experiment_id],
                             "tags.`churnml.kind` = 'backtest'", order_by=["attributes.start_time DESC"])[0]
    assert run.data.params["scores"] == str(skewed)
    # The value level was fitted a year before the as-of date, not on this cutoff: 0.75 times wherever it stands here.
    ratio = run.data.metrics["value_model_level_ratio"]
    assert ratio < 0.9
    assert f"Warning: Predicted value ran {1 - ratio:.0%} below what happened: money figures" in stderr
    assert run.data.metrics["churn_model_level_ratio"] == pytest.approx(1.0, abs=0.1)
    assert run.data.metrics["value_model_predicted_total"] == pytest.approx(table["predicted_value"].sum() * 0.75, rel=1e-6)


@pytest.mark.slow
def test_evaluate_shows_and_logs_the_value_at_risk_against_the_value_lost(use_trained_store, test_cutoff_scores):
    from churnml import tracking
    from churnml.labels import build_labels

    result = runner.invoke(get_app(), ["evaluate", str(test_cutoff_scores), str(use_trained_store.data)], terminal_width=200)
    assert result.exit_code == 0, _text(result)
    scores = pd.read_parquet(test_cutoff_scores)
    joined = scores.merge(build_labels(use_trained_store.dataset, [pd.Timestamp(use_trained_store.test_cutoff)], Config()),
                          on="customer_id")
    if_retained = joined["predicted_value"] + joined["value_at_risk"]
    lost = (joined["churned"] * (if_retained - joined["value"])).sum()
    client = tracking._client()
    run = client.search_runs([client.get_experiment_by_name(tracking.EXPERIMENT_NAME).experiment_id],
                             f"tags.`churnml.kind` = 'backtest' and params.scores = '{test_cutoff_scores}'")[0]
    assert run.data.metrics["value_model_value_lost_total"] == pytest.approx(lost, rel=1e-9)
    ratio = joined["value_at_risk"].sum() / lost
    assert run.data.metrics["value_model_value_at_risk_level_ratio"] == pytest.approx(ratio, rel=1e-9)
    rows = {line.split("│")[1].strip(): line.split("│")[2].strip() for line in result.output.splitlines() if line.startswith("│")}
    assert rows["value at risk ÷ value lost"] == f"{ratio:.3f}"
    assert rows["value lost by churners"] == f"{lost:,.0f}"
    text = " ".join(result.output.split())
    assert "Value at risk by decile of value_at_risk (1 = highest, a retention list's top;" in text
    top = joined.nlargest(-(-len(joined) // 10), "value_at_risk")
    assert rows["1"] == f"{top['churn_probability'].sum():,.1f}"  # the top decile's churners predicted
    if abs(ratio - 1) > 0.1:
        assert f"Warning: Value at risk ran {abs(ratio - 1):.0%} {'above' if ratio > 1 else 'below'} the value the churners lost" in _text(result)


@pytest.mark.slow
def test_evaluate_refuses_before_the_horizon_has_passed(use_trained_store, tmp_path):
    out = tmp_path / "late.parquet"
    scored = runner.invoke(get_app(), ["score", str(use_trained_store.data), "--as-of", use_trained_store.as_of,
                                       "--out", str(out), "--snapshot-dir", str(tmp_path / "snapshots")])
    assert scored.exit_code == 0, _text(scored)
    result = runner.invoke(get_app(), ["evaluate", str(out), str(use_trained_store.data)])
    assert result.exit_code == 2
    stderr = _message(result.stderr, "Error:")
    assert stderr.startswith(f"Error: The horizon of these scores (as of {use_trained_store.as_of}, 90 days) runs to 2026-02-28")
    assert "is not known yet" in stderr


@pytest.mark.slow
def test_backfilled_scores_warn_that_a_backtest_flatters(use_trained_store, tmp_path):
    # Scores at the last validation cutoff predict outcomes the final models were fitted on.
    cutoff = f"{use_trained_store.result.cutoffs['validation'][-1]:%Y-%m-%d}"
    out = tmp_path / "backfill.parquet"
    scored = runner.invoke(get_app(), ["score", str(use_trained_store.data), "--as-of", cutoff, "--out", str(out),
                                       "--snapshot-dir", str(tmp_path / "snapshots")])
    assert scored.exit_code == 0, _text(scored)
    assert "they have seen part of what these scores predict" in " ".join(scored.stderr.split())
    evaluated = runner.invoke(get_app(), ["evaluate", str(out), str(use_trained_store.data)])
    assert evaluated.exit_code == 0, _text(evaluated)
    assert "part of what this backtest checks was in their training data" in " ".join(evaluated.stderr.split())


def test_a_weekend_without_trades_is_not_drift() -> None:
    # Recency in days on a Friday (many bought yesterday) and on the Monday after (nobody traded
    # at the weekend, so everyone is 2+ days further): a weekly rhythm, not a changed population.
    rng = np.random.default_rng(5)
    friday = np.floor(rng.exponential(12, 20_000)) + 1.0
    monday = friday + np.where(friday <= 1, 2.0, rng.choice([0.0, 1.0, 2.0], friday.size))
    frame = pd.DataFrame({"days_since_last_purchase": friday, "purchases": friday})
    reference = monitoring.reference_statistics(frame, ["days_since_last_purchase", "purchases"], [], None, "2025-10-03")
    assert min(reference["features"]["days_since_last_purchase"]["edges"]) >= monitoring.DAY_BIN_WIDTH
    now = pd.DataFrame({"days_since_last_purchase": monday, "purchases": monday})
    psi = monitoring.drift(reference, now, None, "2025-10-06").features.set_index("feature")["psi"]
    assert psi["days_since_last_purchase"] < 0.1
    assert psi["purchases"] > 0.2  # the same numbers under a name not counted in days: day-wide bins see it
    # A real lapse (a month more without purchases) still shows.
    lapsed = pd.DataFrame({"days_since_last_purchase": friday + 30, "purchases": friday})
    assert monitoring.drift(reference, lapsed, None, "2025-10-06").features.set_index("feature")["psi"]["days_since_last_purchase"] > 0.2


def test_a_monthly_bill_a_few_days_later_is_not_drift() -> None:
    # Everyone billed on the 1st-3rd: scored on the 5th, recency over the usual 30-day gap is 0.07-0.13;
    # the reference cutoff on the 7th read 0.13-0.2. Quantile bins a few hundredths wide called that
    # PSI 5 on an internet provider's export, at every scoring date: the billing calendar, not the customers.
    rng = np.random.default_rng(3)
    billed = rng.integers(1, 4, 5_000).astype(float)
    reference = monitoring.reference_statistics(pd.DataFrame({"recency_vs_usual_gap": (7 - billed) / 30}),
                                                ["recency_vs_usual_gap"], [], None, "2025-05-07")
    later = pd.DataFrame({"recency_vs_usual_gap": (5 - billed) / 30})
    assert monitoring.drift(reference, later, None, "2025-08-05").features.set_index("feature")["psi"]["recency_vs_usual_gap"] < 0.1
    # Half of them overdue by half a gap (a bill missed) still shows.
    overdue = pd.DataFrame({"recency_vs_usual_gap": np.where(np.arange(5_000) % 2 == 0, 1.5, (5 - billed) / 30)})
    assert monitoring.drift(reference, overdue, None, "2025-08-05").features.set_index("feature")["psi"]["recency_vs_usual_gap"] > 0.2


def test_repeated_amounts_on_an_edge_do_not_flip_bins_on_float_noise() -> None:
    # Subscription fees repeat exactly, so quantile edges land on values many rows share. The same
    # sums added up in another order differ in the last bit; the reference's own rows read as
    # drift (PSI 0.41) when those rows fell on the other side of an edge.
    rng = np.random.default_rng(7)
    fees = np.round(rng.choice([59.98, 119.94, 179.94, 209.94, 299.97], 5000), 2)
    reference = monitoring.reference_statistics(pd.DataFrame({"monetary_180d": fees}), ["monetary_180d"], [], None, "2025-10-03")
    assert not set(reference["features"]["monetary_180d"]["edges"]) & set(fees)  # edges lie between values
    noisy = fees * (1 + rng.choice([-1e-15, 0.0, 1e-15], fees.size))
    psi = monitoring.drift(reference, pd.DataFrame({"monetary_180d": noisy}), None, "2025-10-03").features.set_index("feature")["psi"]
    assert psi["monetary_180d"] < 1e-6


def test_the_never_happened_stand_in_is_not_averaged() -> None:
    # "Days since the last complaint" is NEVER_DAYS for those who never complained: a mean of
    # 6,110 days in the report. The mean is over those who complained; the bins keep everyone.
    from churnml.features import NEVER_DAYS

    days = np.array([10.0, 30.0, 50.0] + [NEVER_DAYS] * 7)
    frame = pd.DataFrame({"days_since_last_complaint": days, "monetary_365d": days})
    reference = monitoring.reference_statistics(frame, list(frame.columns), [], None, "2025-10-03")
    assert reference["features"]["days_since_last_complaint"]["mean"] == 30.0
    assert reference["features"]["monetary_365d"]["mean"] == pytest.approx(days.mean())  # a sum of money is just a number
    row = monitoring.drift(reference, frame, None, "2025-10-03").features.set_index("feature").loc["days_since_last_complaint"]
    assert row["mean"] == 30.0 and row["psi"] < 1e-9


@pytest.mark.slow
def test_the_run_report_counts_the_reasons_scoring_gives(use_trained_store, test_cutoff_scores):
    # The report's "most common reasons" once skipped the typical-value gate that scoring applies,
    # and its top two ("only N purchases in the last 30 days") never appeared in any list.
    from churnml import reports, tracking

    report = tracking.load_run(use_trained_store.result.run_id).report_data
    scores = pd.read_parquet(test_cutoff_scores)
    assert report["sample_rows"] == report["test_rows"] == len(scores)  # every test-cutoff customer
    counted = reports.reason_counts(scores["reasons"].fillna(""))
    assert counted and report["reason_counts"] == counted


@pytest.mark.slow
def test_evaluate_measures_a_list_against_its_control_group(use_trained_store, test_cutoff_scores, tmp_path):
    """A list made with --holdout, evaluated once its horizon has passed: the churn of each group
    as the labels of the data give it, the uplift and the success rate it implies."""
    from churnml.labels import build_labels

    listing = tmp_path / "list.csv"
    made = runner.invoke(get_app(), ["retention-list", str(test_cutoff_scores), "--out", str(listing), "--holdout", "0.4",
                                     "--contact-cost", "0"])
    assert made.exit_code == 0, _text(made)
    assert "control group, not to contact (40%)" in made.output
    assert "the control group has" not in made.stderr  # large enough
    # A tiny control group is said at once, not months later by evaluate's interval.
    tiny = runner.invoke(get_app(), ["retention-list", str(test_cutoff_scores), "--out", str(tmp_path / "tiny.csv"),
                                     "--max-customers", "20", "--holdout", "0.2", "--contact-cost", "0"])
    control = int((pd.read_csv(tmp_path / "tiny.csv")["group"] == "control").sum())
    assert 0 < control < 30 and f"the control group has {control:,} customer(s): `churnml evaluate` will measure" in \
        " ".join(tiny.stderr.split())
    table = pd.read_csv(listing, dtype={"customer_id": str})
    shown_control = table.head(10).loc[lambda t: t["group"] == "control", "customer_id"]
    assert all(f"{c} (control)" in made.output for c in shown_control) and (table.head(10)["group"] == "contact").any()
    assert not any(f"{c} (control)" in made.output for c in table.head(10).loc[table["group"] == "contact", "customer_id"])
    page = tmp_path / "list.html"
    assert runner.invoke(get_app(), ["report", "--list", str(listing), "--out", str(page)]).exit_code == 0
    control_row = f'control group, not to contact (40%)</th><td class="l">{(table["group"] == "control").sum():,}</td>'
    assert control_row in page.read_text()
    labels = build_labels(use_trained_store.dataset, [pd.Timestamp(use_trained_store.test_cutoff)], Config())
    churned = labels.set_index("customer_id")["churned"]
    rates = {g: churned.reindex(table.loc[table["group"] == g, "customer_id"]).mean() for g in ("contact", "control")}
    result = runner.invoke(get_app(), ["evaluate", str(listing), str(use_trained_store.data)], terminal_width=200)
    assert result.exit_code == 0, _text(result)
    text = " ".join(result.output.split())
    for group in ("contact", "control"):
        n = int((table["group"] == group).sum())
        assert f"{group} │ {n:,} │ {n:,} │" in text and f"{rates[group]:.1%}" in text
    uplift = 100 * (rates["control"] - rates["contact"])
    assert f"Uplift (control churn rate minus contacted): {uplift:+.1f} percentage points" in text
    assert ("no effect of the contacts shows" in text) == (uplift <= 0)
    if uplift > 0:  # the success rate comes with its interval, not as a bare figure to copy into the config
        kept = re.search(r"The contacts kept (-?\d+)% of the customers who would have left \(95 % interval (-?\d+)% to (-?\d+)%\)",
                         text)
        assert kept and int(kept.group(2)) < int(kept.group(1)) < int(kept.group(3))
    # In money: what the list expected beside what the measured rate makes of its value at risk.
    summary = json.loads((tmp_path / "list.csv.json").read_text())
    measured = max(uplift / 100 / rates["control"], 0.0) if rates["control"] > 0 else 0.0
    assert (f"In money: the list expected to save {summary['expected_value_saved']:,.2f} (success rate "
            f"{summary['success_rate']:g})" in text)
    saved = float(re.search(r"the contacts saved about ([\d,.]+)", text).group(1).replace(",", ""))
    assert saved == pytest.approx(summary["value_at_risk"] * measured, abs=0.01)
    # Value at risk × a rate, both: a churner's whole horizon counted as lost, which ran 1.3-1.7 times high.
    assert ("Both are value at risk × a success rate, which counts a churner's whole horizon as lost: churnml evaluate "
            "SCORES DATA says how much that runs high.") in text
    # The contacts were never made: nothing tells the groups apart, and evaluate says so.
    warned = " ".join(result.stderr.split())
    assert "the interval includes 0" in warned
    assert ("the measured success rate is no reason to change 0.3 ([targeting] success_rate)" in warned) == (rates["control"] > 0)
    # The same list as an Excel workbook (what marketing opens) evaluates the same.
    workbook = tmp_path / "list.xlsx"
    assert runner.invoke(get_app(), ["retention-list", str(test_cutoff_scores), "--out", str(workbook), "--holdout", "0.4",
                                     "--contact-cost", "0"]).exit_code == 0
    from_workbook = runner.invoke(get_app(), ["evaluate", str(workbook), str(use_trained_store.data)], terminal_width=200)
    assert from_workbook.exit_code == 0, _text(from_workbook)
    assert f"Uplift (control churn rate minus contacted): {uplift:+.1f} percentage points" in " ".join(from_workbook.output.split())
    # Against data that lacks a third of the list's customers (another export): said, not silent.
    fewer = tmp_path / "fewer"
    shutil.copytree(use_trained_store.data, fewer)
    customers = pd.read_parquet(fewer / "customers.parquet")
    customers[~customers["customer_id"].isin(table["customer_id"].iloc[::3])].to_parquet(fewer / "customers.parquet")
    partial = runner.invoke(get_app(), ["evaluate", str(listing), str(fewer)], terminal_width=200)
    assert partial.exit_code == 0, _text(partial)
    missing = len(table["customer_id"].iloc[::3])
    assert (f"{missing:,} of {len(table):,} listed customers are not in the population of DATA at "
            in " ".join(partial.stderr.split()))
    assert "listed customers are not in the population" not in result.stderr  # the matching data: no warning
    # Not against labels of another churn definition (no churn_events): the list's scores name their models.
    no_closures = tmp_path / "no_closures"
    shutil.copytree(use_trained_store.data, no_closures, ignore=shutil.ignore_patterns("churn_events.*"))
    other = runner.invoke(get_app(), ["evaluate", str(listing), str(no_closures)])
    assert other.exit_code == 2
    assert "Error: The models were trained for another problem: churn = an account closure" in " ".join(other.stderr.split())
    plain = tmp_path / "plain.csv"
    assert runner.invoke(get_app(), ["retention-list", str(test_cutoff_scores), "--out", str(plain)]).exit_code == 0
    refused = runner.invoke(get_app(), ["evaluate", str(plain), str(use_trained_store.data)])
    assert refused.exit_code == 2
    assert "is a retention list without a control group (no column group)" in " ".join(refused.stderr.split())


@pytest.mark.slow
def test_evaluate_shows_what_retention_list_said_beside_the_list(use_trained_store, test_cutoff_scores, tmp_path):
    # retention-list warned of a control group too small to tell the effect from chance and noted --exclude ids that
    # matched nobody, and the list's summary kept both (targeting.said_fields); `evaluate LIST`, read beside the uplift
    # months later, showed neither.
    scores = pd.read_parquet(test_cutoff_scores)
    exclude = tmp_path / "exclude.txt"
    exclude.write_text(f"{scores['customer_id'].iloc[-1]}\nNOBODY-1\n")
    listing = tmp_path / "tiny.csv"
    made = runner.invoke(get_app(), ["retention-list", str(test_cutoff_scores), "--out", str(listing), "--max-customers",
                                     "20", "--holdout", "0.2", "--contact-cost", "0", "--exclude", str(exclude)])
    assert made.exit_code == 0, _text(made)
    summary = json.loads((tmp_path / "tiny.csv.json").read_text())
    warning = " ".join(next(text for text in summary["warnings"] if text.startswith("the control group has")).split())
    [note] = summary["notes"]
    assert note.startswith("1 of 2 --exclude ids match no scored customer (e.g. 'NOBODY-1')")
    result = runner.invoke(get_app(), ["evaluate", str(listing), str(use_trained_store.data)], terminal_width=200)
    assert result.exit_code == 0, _text(result)
    assert f"Warning: the list's summary says: {warning}" in " ".join(result.stderr.split())
    assert f"Note: the list's summary says: {' '.join(note.split())}" in " ".join(result.output.split())


def test_features_over_windows_longer_than_the_history_are_said_to_grow_with_it(reference):
    # A gym with a year of data, trained as of its last day: its test cutoff had 274 days of
    # history behind it, so every member's 365-day and lifetime counts grew by a quarter by the
    # scoring date (PSI 1.74), and the warning said to check the data feed.
    rng = np.random.default_rng(4)
    now = _frame(rng, 3000)
    now["monetary_365d"] *= 1.4
    now["frequency_lifetime"] += 3
    now["tenure_days"] += 400  # no window: a real shift, whatever the history
    metadata = {"history_days": 4.0, "cutoffs": {"train": ["2025-01-05", "2025-02-04"], "validation": ["2025-07-04"],
                                                 "test": ["2025-10-02"]}}
    assert monitoring.reference_history_days(metadata) == 274.0
    windows = monitoring.feature_window_days({"specs": SPECS})
    report = monitoring.drift(reference, now, None, "2025-12-31", history_days=274.0, windows=windows)
    assert set(report.features.loc[report.features["drifted"], "feature"]) == {"tenure_days", "monetary_365d", "frequency_lifetime"}
    assert report.short_history == ["frequency_lifetime", "monetary_365d"]
    assert report.to_dict()["short_history"] == report.short_history
    message = monitoring.drift_message(report)
    assert "frequency_lifetime, monetary_365d count over more days than the data held before the training's test cutoff (274)" in message
    assert "the data is young" in message and "Check the data feed" in message  # tenure_days is no window's doing
    # A year of history before the cutoff: the 365-day window is full, its shift is real; and so is a
    # lifetime count's, as the message promises ("until ... a year of data"): a brokerage with 1,735
    # days of history was told its data was young whenever a lifetime feature moved.
    assert monitoring.drift(reference, now, None, "2025-12-31", history_days=400.0, windows=windows).short_history == []
    assert monitoring.drift(reference, now, None, "2025-12-31", history_days=1735.0, windows=windows).short_history == []
    only_windows = now.assign(tenure_days=_frame(np.random.default_rng(5), 3000)["tenure_days"])
    quiet = monitoring.drift_message(monitoring.drift(reference, only_windows, None, "2025-12-31", history_days=274.0,
                                                      windows=windows))
    assert "Check the data feed" not in quiet and "the data is young" in quiet
    assert monitoring.drift(reference, now, None, "2025-12-31", windows=windows).short_history == []  # history unknown
    assert monitoring.drift(reference, now, None, "2025-12-31", history_days=274.0).short_history == []  # windows unknown


def test_the_young_data_note_reads_each_feature_s_window_from_its_spec():
    # The windows came from the names: spend_prev_90d (days 91-180 before the cutoff) read as 90 days,
    # so 120 days of history passed for enough, and a customers column named visits_365d (an
    # attribute: no window) read as a year of transactions.
    rng = np.random.default_rng(6)
    names = ["spend_prev_90d", "visits_365d", "monetary_90d"]
    before = pd.DataFrame({name: rng.gamma(2.0, 50.0, 4000) for name in names})
    reference = monitoring.reference_statistics(before, names, [], None, "2025-06-30")
    now = pd.DataFrame({name: rng.gamma(2.0, 50.0, 3000) * 1.6 for name in names})
    specs = [FeatureSpec("spend_prev_90d", "", "transactions", "prev 90d", "numeric", 0, None).to_dict(),
             FeatureSpec("visits_365d", "", "customers", None, "numeric", 0, None, column="visits_365d").to_dict(),
             FeatureSpec("monetary_90d", "", "transactions", "90d", "numeric", 0, None).to_dict()]
    windows = monitoring.feature_window_days({"specs": specs})
    assert windows == {"spend_prev_90d": 180.0, "visits_365d": 0.0, "monetary_90d": 90.0}
    report = monitoring.drift(reference, now, None, "2025-12-31", history_days=120.0, windows=windows)
    assert set(report.features.loc[report.features["drifted"], "feature"]) == set(names)
    assert report.short_history == ["spend_prev_90d"]
    assert "Check the data feed" in monitoring.drift_message(report)  # visits_365d and monetary_90d are real shifts


@pytest.mark.slow
def test_evaluate_says_how_few_churners_its_metrics_rest_on(use_trained_store, test_cutoff_scores, tmp_path):
    # A small business's backtest: 400 members, 6 churners, ROC AUC printed to four decimals with
    # no word of how few customers moved it.
    few = tmp_path / "few.parquet"
    table = pd.read_parquet(test_cutoff_scores).sort_values("churn_probability", ascending=False)
    pd.concat([table.head(10), table.tail(90)]).to_parquet(few)
    _sidecar_for(few, test_cutoff_scores)
    result = runner.invoke(get_app(), ["evaluate", str(few), str(use_trained_store.data)], terminal_width=200)
    assert result.exit_code == 0, _text(result)
    rate = float(re.search(r"\(100 customers, churn rate ([\d.]+)%\)", result.output).group(1))
    churners = round(rate)
    assert 0 < churners < 30
    assert (f"Warning: Only {churners} churner{'s' if churners > 1 else ''} among 100 customers: every churn metric "
            f"rests on them, and one of them ranked last instead of first moves the ROC AUC by {1 / churners:.3f}. "
            "Read the change from the training test") in " ".join(result.stderr.split())
    whole = runner.invoke(get_app(), ["evaluate", str(test_cutoff_scores), str(use_trained_store.data)], terminal_width=200)
    assert "every churn metric rests on them" not in whole.stderr


@pytest.mark.slow
def test_evaluate_run_again_on_the_same_scores_and_data_logs_one_backtest(use_trained_store, tmp_path):
    # A scheduler retrying its monthly evaluate (or a backfill run twice) logged a second backtest
    # run, and a second point of the same date in the training run's metric history, each time.
    from churnml import tracking

    out = tmp_path / "scores.parquet"
    scored = runner.invoke(get_app(), ["score", str(use_trained_store.data), "--as-of", "2025-09-15", "--out", str(out),
                                       "--snapshot-dir", str(tmp_path / "snapshots")])
    assert scored.exit_code == 0, _text(scored)
    client = tracking._client()
    experiment = client.get_experiment_by_name(tracking.EXPERIMENT_NAME).experiment_id

    def backtests() -> list:
        return client.search_runs([experiment], "tags.`churnml.kind` = 'backtest' and tags.`churnml.as_of` = '2025-09-15'")

    first = runner.invoke(get_app(), ["evaluate", str(out), str(use_trained_store.data)])
    assert first.exit_code == 0, _text(first)
    runs = backtests()
    assert len(runs) == 1 and f"Logged to MLflow: backtest run {runs[0].info.run_id}" in " ".join(first.output.split())
    history = len(client.get_metric_history(use_trained_store.result.run_id, "backtest_churn_model_roc_auc"))
    again = runner.invoke(get_app(), ["evaluate", str(out), str(use_trained_store.data)])
    assert again.exit_code == 0, _text(again)
    assert [r.info.run_id for r in backtests()] == [runs[0].info.run_id]
    assert len(client.get_metric_history(use_trained_store.result.run_id, "backtest_churn_model_roc_auc")) == history
    assert (f"Already logged to MLflow: backtest run {runs[0].info.run_id} (the same scores and data)"
            in " ".join(again.output.split()))


def test_the_uplift_interval_has_width_where_a_group_churned_none_or_all() -> None:
    # `churnml evaluate LIST DATA` on a list whose 4 control customers all stayed, against 9
    # churners among its 32 contacts, said "-28.1 percentage points (95 % interval -43.7 to
    # -12.5)": the normal interval has no width at a rate of 0, so 4 customers read as a certain
    # (harmful) effect, and no "the interval includes 0" warning followed.
    from churnml.monitoring import rate_difference_interval

    low, high = rate_difference_interval(0, 4, 9, 32)
    assert low < -9 / 32 < high and low < 0 < high
    assert (round(low, 3), round(high, 3)) == (-0.454, 0.224)
    # Where both groups are large and their rates inside (0, 1), it is close to the normal interval.
    low, high = rate_difference_interval(300, 1000, 250, 1000)
    spread = 1.96 * np.sqrt(0.3 * 0.7 / 1000 + 0.25 * 0.75 / 1000)
    assert low == pytest.approx(0.05 - spread, abs=0.002) and high == pytest.approx(0.05 + spread, abs=0.002)
    # Nobody churned in either group: no effect can be told, and the interval is not a point.
    low, high = rate_difference_interval(0, 10, 0, 10)
    assert low < 0 < high


def test_the_success_rate_has_an_interval_that_holds_its_estimate() -> None:
    # `churnml evaluate LIST DATA` said "the contacts kept 46%" of 8 churners among 72 contacts
    # against 7 among 34 in the control group, a figure to copy into [targeting] success_rate,
    # where the data allow anything from about -37 % to 79 %.
    from churnml.monitoring import success_rate_interval

    low, high = success_rate_interval(7, 34, 8, 72)
    assert low < 1 - (8 / 72) / (7 / 34) < high and low < 0 < high
    # Large groups with half the churn among the contacts: a narrow interval around 50 %, clear of 0.
    low, high = success_rate_interval(3000, 10000, 1500, 10000)
    assert 0.45 < low < 0.5 < high < 0.55
    # No contact churned: the estimate is 100 %, the interval still has width below it and none above.
    low, high = success_rate_interval(10, 40, 0, 40)
    assert low < 1 and high <= 1 and 0 < low
    # Every control customer churned and as many contacts: no effect, and the interval says so.
    low, high = success_rate_interval(20, 20, 20, 20)
    assert low < 0 < high


def _yearly_bills(rng: np.random.Generator, rise: float) -> tuple[np.ndarray, np.ndarray]:
    """A year's spend of monthly subscribers at a test cutoff (bills 0-11) and a quarter later
    (bills 3-14), the price rising by ``rise`` from bill 6 on: a handful of plan prices, a plan
    change for one in ten, a fifth of them joining during the 15 months, a few credit notes."""
    n = 5000
    plans = np.array([12.00, 25.00, 29.99, 44.99, 59.99, 64.99])
    first, second = rng.choice(plans, n), rng.choice(plans, n)
    second = np.where(rng.random(n) < 0.1, second, first)
    change, start = rng.integers(0, 15, n), np.where(rng.random(n) < 0.2, rng.integers(0, 15, n), 0)
    months = np.arange(15)
    price = np.where(months < change[:, None], first[:, None], second[:, None])
    price = np.where(months >= 6, np.round(price * (1 + rise), 2), price)
    bills = np.where(months >= start[:, None], price, 0.0)
    credits = np.where(rng.random((n, 15)) < 0.01, -rng.choice([5.0, 10.0, 15.0], (n, 15)), 0.0)
    bills = bills + credits
    return np.round(bills[start < 12, :12].sum(axis=1), 2), np.round(bills[:, 3:].sum(axis=1), 2)


def test_a_price_rise_of_a_few_percent_is_not_drift_but_a_larger_one_is() -> None:
    # A 5 % price rise from April: a year's spend at the test cutoff in September held 6 old and
    # 6 new bills, scored in December 3 old and 9 new, 1.2 % more for everyone. Edges halfway to
    # the next amount up sat cents above each plan's total, and the whole population crossed them:
    # PSI 1.00 on monetary_365d for a mean that moved from 437 to 438 on a broadband provider's export.
    september, december = _yearly_bills(np.random.default_rng(11), rise=0.05)
    reference = monitoring.reference_statistics(pd.DataFrame({"monetary_365d": september}), ["monetary_365d"], [],
                                                None, "2025-09-06")
    psi = monitoring.drift(reference, pd.DataFrame({"monetary_365d": december}), None, "2025-12-05").features
    assert psi.set_index("feature")["psi"]["monetary_365d"] < 0.1
    # The same numbers under a name that is not money keep the bins as the quantiles fall.
    plain = monitoring.reference_statistics(pd.DataFrame({"x": september}), ["x"], [], None, "2025-09-06")
    assert monitoring.drift(plain, pd.DataFrame({"x": december}), None, "2025-12-05").features["psi"].iloc[0] > 0.2
    # A rise of 25 % on every bill is a shift the models have not seen: it still shows.
    september, december = _yearly_bills(np.random.default_rng(11), rise=0.25)
    shifted = monitoring.drift(reference, pd.DataFrame({"monetary_365d": december}), None, "2025-12-05").features
    assert shifted.set_index("feature")["psi"]["monetary_365d"] > 0.2


def test_customers_moving_one_leaf_of_a_small_model_are_no_score_drift_but_a_level_shift_is() -> None:
    # A churn model of a few trees gives each leaf combination's customers one probability. On a
    # gym's export a decile edge fell between two of them 0.05 % apart, the bin below held one value
    # (6-7 % of the customers), and when they moved a leaf up (0.083 to 0.107) it emptied:
    # churn_probability read PSI 0.43-0.45 where the mean moved by 0.0015.
    levels = np.r_[0.070, 0.080, 0.083049, 0.083087, np.round(np.geomspace(0.086, 0.30, 30), 4)]
    test_cutoff = np.repeat(levels, np.r_[130, 130, 100, 54, np.full(30, 40)])
    reference = monitoring.reference_statistics(pd.DataFrame({"x": np.zeros(len(test_cutoff))}), ["x"], [],
                                                {"churn_probability": test_cutoff}, "2025-06-01")
    features = pd.DataFrame({"x": np.zeros(len(test_cutoff))})

    def score_psi(probability: np.ndarray) -> float:
        return monitoring.drift(reference, features, {"churn_probability": probability}, "2025-06-01").scores[
            "churn_probability"]["psi"]

    moved = np.where(test_cutoff == 0.083049, 0.107126, test_cutoff)
    assert abs(moved.mean() - test_cutoff.mean()) < 0.002
    assert score_psi(moved) < 0.1
    # A level 10 % higher or 20 % lower for everyone is a shift, and reads as one.
    assert score_psi(test_cutoff * 1.1) > 0.2 and score_psi(test_cutoff * 0.8) > 0.2


@pytest.mark.slow
def test_evaluate_says_whether_the_models_degraded(use_trained_store, test_cutoff_scores, tmp_path):
    # The backtest table's "change" column left it to the reader whether a fall was luck: evaluate
    # now ends with one line, judged against the 95 % intervals of both measurements.
    from churnml import tracking

    same = runner.invoke(get_app(), ["evaluate", str(test_cutoff_scores), str(use_trained_store.data)], terminal_width=400)
    assert same.exit_code == 0, _text(same)
    line = next(line for line in same.output.splitlines() if line.startswith("Degraded:"))
    graded = use_trained_store.result.churn_metrics["model"]["roc_auc"]
    assert line.startswith(("Degraded: no. Ranking within the luck of the customers: churn ROC AUC",
                            "Degraded: in level, not in ranking. Ranking within the luck of the customers: churn ROC AUC")), line
    assert f"against {graded:.3f} as graded, change +0.000" in line  # the test cutoff's own customers

    # The same customers with their churn probabilities shuffled: the ranking is gone.
    shuffled = tmp_path / "shuffled.parquet"
    table = pd.read_parquet(test_cutoff_scores)
    order = np.random.default_rng(0).permutation(len(table))
    table.assign(churn_probability=table["churn_probability"].to_numpy()[order]).to_parquet(shuffled)
    _sidecar_for(shuffled, test_cutoff_scores)
    worse = runner.invoke(get_app(), ["evaluate", str(shuffled), str(use_trained_store.data)], terminal_width=400)
    assert worse.exit_code == 0, _text(worse)
    line = next(line for line in worse.output.splitlines() if line.startswith("Degraded:"))
    assert line.startswith("Degraded: yes, in ranking. Fell beyond the luck of the customers: churn ROC AUC"), line
    low, high = (float(x) for x in re.search(r"churn ROC AUC [\d.]+ against [\d.]+ as graded, change [-+][\d.]+ "
                                             r"\(95 % interval ([-+][\d.]+) to ([-+][\d.]+)\)", line).groups())
    assert low < high < 0
    # The backtest's own interval is logged with its metrics, for later runs to compare.
    client = tracking._client()
    run = client.search_runs([client.get_experiment_by_name(tracking.EXPERIMENT_NAME).experiment_id],
                             "tags.`churnml.kind` = 'backtest'", order_by=["attributes.start_time DESC"])[0]
    assert run.data.metrics["churn_model_roc_auc_low"] < run.data.metrics["churn_model_roc_auc"] < run.data.metrics["churn_model_roc_auc_high"]


def test_a_change_in_the_level_of_money_is_drift(use_trained_store, tmp_path):
    """PSI on deciles of heavy-tailed spend barely reacts to a change of scale: every amount
    doubled read PSI 0.14 at most (generated data, 3,000 customers), and no warning, although the
    value model's money figures are then off. The median among customers who spent is compared
    with the reference's: unchanged data stays within [monitoring] money_level_ratio, doubled
    amounts over the last 60 days are drift, named with their ratio, and recorded in the sidecar."""
    args = ["score", str(use_trained_store.data), "--as-of", use_trained_store.as_of, "--fail-on-drift"]
    quiet = runner.invoke(get_app(), [*args, "--out", str(tmp_path / "quiet.parquet"), "--snapshot-dir", str(tmp_path / "s1")])
    assert quiet.exit_code == 0, _text(quiet)
    section = json.loads((tmp_path / "quiet.parquet.json").read_text())["monitoring"]
    levels = section["money_levels"]
    assert {"monetary_30d", "monetary_365d", "predicted_value"} <= set(levels)
    assert not any(v["drifted"] for v in levels.values()), levels
    assert "money level within ×1.5" in _text(quiet)

    doubled = tmp_path / "doubled"
    shutil.copytree(use_trained_store.data, doubled)
    transactions = pd.read_parquet(doubled / "transactions.parquet")
    late = pd.to_datetime(transactions["timestamp"]) >= pd.Timestamp(use_trained_store.as_of) - pd.Timedelta(days=60)
    transactions.loc[late, "amount"] = transactions.loc[late, "amount"] * 2
    transactions.to_parquet(doubled / "transactions.parquet", index=False)
    loud = runner.invoke(get_app(), ["score", str(doubled), "--as-of", use_trained_store.as_of, "--fail-on-drift",
                                     "--out", str(tmp_path / "loud.parquet"), "--snapshot-dir", str(tmp_path / "s2")])
    assert loud.exit_code == 3, _text(loud)
    message = _message(loud.stderr, "Error:")
    assert re.search(r"Money level of monetary_\w+ ×\d\.\d\d against the reference \(\d+% above: median", message), message
    assert "the value model's money figures" in message
    section = json.loads((tmp_path / "loud.parquet.json").read_text())["monitoring"]
    assert section["drifted"] and section["money_levels"]["monetary_30d"]["drifted"]
    assert section["money_levels"]["monetary_30d"]["ratio"] > 1.5
    from churnml import reports

    page = reports.drift_html(section)
    assert "Level of money" in page and "monetary_30d" in page


def test_a_model_without_the_level_statistic_has_no_level_check(reference):
    """References written before ``median_nonzero`` existed: no level check, no error."""
    old = json.loads(json.dumps(reference))
    for stats in [*old["features"].values(), *old["scores"].values()]:
        stats.pop("median_nonzero", None)
    rng = np.random.default_rng(1)
    frame = _frame(rng, 3000, shift=1.0)
    report = monitoring.drift(old, frame, None, "2025-08-01")
    assert report.money_levels == {}
    # "Drift: none" is no all-clear for money there: the summary line says the level went unchecked.
    quiet = monitoring.drift(old, _frame(np.random.default_rng(2), 3000), None, "2025-08-01")
    assert not quiet.drifted and "money level not checked" in monitoring.drift_status(quiet)
    assert "money level within" in monitoring.drift_status(monitoring.drift(reference, _frame(np.random.default_rng(2), 3000), None, "2025-08-01"))
    new = monitoring.drift(reference, frame, None, "2025-08-01")
    assert new.money_levels["monetary_365d"]["drifted"] and any("Money level of monetary_365d" in a for a in new.alerts)


def _sparse_spend(rng: np.random.Generator, n: int, scale: float = 1.0) -> pd.DataFrame:
    """A 30-day spend most customers left at 0: its deciles are nearly all 0, so a change of scale
    moves no customer across a PSI bin, and only the level of money sees it."""
    spend = rng.gamma(2.0, 50.0, size=n) * scale
    spend[rng.random(n) < 0.9] = 0.0
    return pd.DataFrame({"monetary_30d": spend, "tenure_days": rng.normal(700, 200, size=n),
                         "frequency_lifetime": rng.poisson(5, size=n).astype(float)})


def test_a_money_level_alone_says_what_moved_and_why_not_which_features_to_check():
    """Only the level of money beyond [monitoring] money_level_ratio, no PSI beyond its threshold:
    the warning listed the features with the highest PSI ("Worst features: tenure_days, ...") and
    said to check the data feed for them, though none had moved. It now names the money level that
    moved, with its ratio, and the plain causes: a price change, a currency or unit change in the feed."""
    names = ["monetary_30d", "tenure_days", "frequency_lifetime"]
    reference = monitoring.reference_statistics(_sparse_spend(np.random.default_rng(0), 5000), names, [], None, "2025-06-30")
    report = monitoring.drift(reference, _sparse_spend(np.random.default_rng(2), 3000, scale=2.25), None, "2025-08-01")
    assert report.drifted and not report.worst_features(5, above=report.psi_threshold)
    ratio = report.money_levels["monetary_30d"]["ratio"]
    message = monitoring.drift_message(report)
    assert f"Money level of monetary_30d ×{ratio:.2f} against the reference" in message, message
    assert "a price change" in message and "currency or unit" in message and "cents" in message, message
    assert "Worst features" not in message and "tenure_days" not in message and "frequency_lifetime" not in message, message
    assert "Check the data feed for these columns" not in message, message
    # The sidecar's alerts (which the scores report shows) carry the same sentence; the summary line names the level.
    assert any(f"Money level of monetary_30d ×{ratio:.2f}" in alert for alert in report.to_dict()["alerts"])
    from churnml import reports
    assert f"Money level of monetary_30d ×{ratio:.2f} against the reference" in reports.drift_html(report.to_dict())
    assert monitoring.drift_status(report) == f"Drift: yes (money level beyond ×1.5: monetary_30d ×{ratio:.2f}): see the warning above."
    # Amounts sent in cents where they were in units: ×100, which the warning calls a unit change.
    cents = monitoring.drift(reference, _sparse_spend(np.random.default_rng(2), 3000, scale=100.0), None, "2025-08-01")
    assert "looks like a change of unit" in monitoring.drift_message(cents), monitoring.drift_message(cents)
    assert "looks like a change of unit" not in message

    # Both a PSI and the money level beyond their thresholds: both are said, the PSI feature with a feed to check.
    both = _sparse_spend(np.random.default_rng(2), 3000, scale=2.25).assign(tenure_days=lambda f: f["tenure_days"] + 400)
    report = monitoring.drift(reference, both, None, "2025-08-01")
    message = monitoring.drift_message(report)
    assert "tenure_days (PSI " in message and "Money level of monetary_30d ×" in message, message
    assert "Check the data feed for the columns of the features named above" in message and "Worst features" not in message



def test_a_lifetime_sum_of_money_is_no_price_level():
    """A lifetime spend grows with the data's history and the customers' tenure, whatever the prices:
    on a gym's export starting two years back, scored a year after the reference cutoff, the median
    ``monetary_lifetime`` read ×1.51 and the warning blamed a price change or a unit change in the feed,
    while ``monetary_30d`` read ×1.00, every fee unchanged. Only sums over a window of days tell the
    level of prices; a lifetime sum's shift is for PSI to say."""
    def members(rng: np.random.Generator, n: int, months: float) -> pd.DataFrame:
        fee = rng.choice([24.9, 34.9, 54.9], size=n)
        return pd.DataFrame({"monetary_30d": fee, "monetary_lifetime": fee * rng.uniform(1, months, size=n).round()})

    names = ["monetary_30d", "monetary_lifetime"]
    reference = monitoring.reference_statistics(members(np.random.default_rng(0), 3000, 12), names, [], None, "2024-12-06")
    report = monitoring.drift(reference, members(np.random.default_rng(1), 3000, 24), None, "2025-12-01")
    assert set(report.money_levels) == {"monetary_30d"}, report.money_levels
    assert not report.money_levels["monetary_30d"]["drifted"]
    assert not any("Money level" in alert for alert in report.alerts), report.alerts
    # The lifetime sum did move: PSI says so, as the history's growth it is.
    assert "monetary_lifetime" in report.worst_features(5, above=report.psi_threshold)
    # Prices that did change still read in the windowed sum.
    dearer = members(np.random.default_rng(1), 3000, 12).assign(monetary_30d=lambda f: f["monetary_30d"] * 2)
    assert monitoring.drift(reference, dearer, None, "2025-12-01").money_levels["monetary_30d"]["drifted"]

def _members(rng: np.random.Generator, n: int, cutoff: str, data_start: str = "2023-12-01") -> pd.DataFrame:
    """A gym's members at a cutoff, paying a monthly fee since they joined and now and then a
    personal-training pack (a steady book: the same spread of tenures at every cutoff), as far back
    as the data goes: joined before its start, their first payment is in its first month."""
    history = (pd.Timestamp(cutoff) - pd.Timestamp(data_start)).days
    tenure = rng.exponential(600.0, n) + rng.uniform(0, 30, n)
    seen = np.minimum(tenure, history - rng.uniform(0, 30, n))
    fees = np.floor(seen / 30.44) + 1
    packs = rng.poisson(0.08 * fees)
    fee = rng.choice([24.9, 34.9, 54.9], size=n, p=[0.5, 0.3, 0.2])
    return pd.DataFrame({"cutoff": pd.Timestamp(cutoff), "days_since_first_purchase": np.floor(seen),
                         "frequency_lifetime": fees + packs, "monetary_lifetime": (fees * fee + packs * 45.0).round(2),
                         "monetary_30d": fee})


def test_lifetime_sums_grown_with_the_data_s_history_are_not_drift():
    """A gym's export from 2023-12-01, trained as of 2025-12-01 and scored that day: compared with the
    cutoff a year back (371 days of history), every long-standing member had twice the payments, and
    compared with the test cutoff (641 days) three more; ``frequency_lifetime`` read PSI 1.47 and 0.23
    and the warning said to check the data feed, on the model's first day. Lifetime sums follow the
    calendar, so they are compared with the test cutoff, as the reference's history would have them.
    A feed that lost half the payments still shows."""
    rng = np.random.default_rng(8)
    names = ["days_since_first_purchase", "frequency_lifetime", "monetary_lifetime", "monetary_30d"]
    test = _members(rng, 3000, "2025-09-02")
    season = _members(rng, 3000, "2024-12-06")
    reference = monitoring.reference_statistics(test, names, [], None, "2025-12-01", seasons=season,
                                                data_start="2023-12-01")
    history = 641.0  # 2023-12-01 to the test cutoff 2025-09-02
    now = _members(rng, 3000, "2025-12-01")
    report = monitoring.drift(reference, now, None, "2025-12-01", history_days=history)
    assert report.season_cutoff == "2024-12-06"
    rows = report.features.set_index("feature")
    assert rows.loc["monetary_30d", "reference"] == "2024-12-06"  # a window of days keeps the season
    for name in ("frequency_lifetime", "monetary_lifetime"):
        assert rows.loc[name, "reference"] == "2025-09-02"
        assert rows.loc[name, "psi"] < 0.1, rows
    assert not report.drifted, report.alerts
    # As they are, the three months of payments since the test cutoff show.
    assert monitoring.drift(reference, now, None, "2025-12-01").features.set_index("feature").loc["frequency_lifetime", "psi"] > 0.2
    # Half the payments lost (the whole history): the lifetime sums say so, on the same footing.
    lost = now.assign(frequency_lifetime=np.ceil(now["frequency_lifetime"] / 2),
                      monetary_lifetime=(now["monetary_lifetime"] / 2).round(2))
    halved = monitoring.drift(reference, lost, None, "2025-12-01", history_days=history)
    assert {"frequency_lifetime", "monetary_lifetime"} <= set(halved.worst_features(5, above=halved.psi_threshold)), halved.features
    assert halved.short_history == []


@pytest.mark.parametrize("step", [30, 60])
def test_every_score_in_the_model_s_life_finds_a_season_at_most_half_a_step_off(step):
    """With the default cutoffs (30 days apart, splits a 90-day horizon apart) the last train cutoff
    lies 270 days before the as-of date and the validation one 180: scores 111 to 169 days after it
    found no training cutoff a year (±15 days) before them and were compared with the test cutoff,
    a season away (frequency_trend PSI 0.27 at 121 days). The gaps between the splits are filled with
    cutoffs for features only, a step apart, and the tolerance is half a step: every scored day from
    the first season to the model's maximum age finds one, never more than half a step off."""
    from churnml.labels import season_cutoffs, season_tolerance, training_cutoffs

    config = Config().replace(problem={"cutoff_step_days": step})
    as_of, start = pd.Timestamp("2025-12-01"), pd.Timestamp("2020-01-01")
    cutoffs = training_cutoffs(as_of, config, start)
    seasons = [*cutoffs[:-1], *season_cutoffs(cutoffs, as_of, config, data_start=start)]  # the test cutoff is the reference
    rows = pd.DataFrame({"cutoff": [c for c in seasons for _ in range(3)], "x": [1.0, 2.0, 3.0] * len(seasons)})
    half = season_tolerance(step)
    reference = monitoring.reference_statistics(pd.DataFrame({"x": [1.0, 2.0, 3.0]}), ["x"], [], None, as_of,
                                                seasons=rows, data_start=start, season_tolerance_days=half.days)
    year = pd.Timedelta(days=365)
    first = min(seasons) + year - half
    for day in range((first - as_of).days, config.monitoring.max_model_age_days + 1):
        scored = as_of + pd.Timedelta(days=day)
        found = monitoring.season_reference(reference, scored)
        assert found is not None, f"no season for scores {day} days after the as-of date"
        assert abs(pd.Timestamp(found) - (scored - year)) <= half, (day, found)
    assert monitoring.season_reference(reference, first - pd.Timedelta(days=1)) is None  # never more than half a step off
    if step == 30:  # the defaults: the gap was 111-169 days after the as-of date
        assert season_cutoffs(cutoffs, as_of, config) == [as_of - pd.Timedelta(days=240)]
        assert monitoring.season_reference(reference, as_of + pd.Timedelta(days=121)) == f"{as_of - pd.Timedelta(days=240):%Y-%m-%d}"


def test_churn_counts_sit_beside_the_ratios_counting_customers_once() -> None:
    # What an attribute's reason needs to tell a clear figure from chance (churnml.reasons.clearly_above):
    # per value (a number: per bin of the drift reference's edges) the customers and those of them who
    # churned, in the shape of churn_ratio. A churner labelled at three cutoffs is one churner.
    from churnml.monitoring import MIN_RATIO_CUSTOMERS, churn_counts, churn_ratios, customer_churn

    rng = np.random.default_rng(3)
    fees = np.r_[np.full(60, 9.99), np.full(200, 29.99), np.full(30, 49.99), rng.uniform(60, 90, 110)]
    churners = np.r_[np.arange(0, 60, 4), np.arange(60, 140), np.arange(260, 275), np.arange(290, 300)]
    churned = np.isin(np.arange(400), churners).astype(float)
    ids = np.array([f"C{i}" for i in range(400)])
    stats = monitoring.numeric_statistics(fees)
    rows = 3  # each customer at three cutoffs, a churner labelled churned at each
    counts = churn_counts(np.tile(fees, rows), np.tile(churned, rows), np.tile(ids, rows), stats)
    ratios = churn_ratios(np.tile(fees, rows), np.tile(churned, rows), np.tile(ids, rows), stats)
    bins = np.searchsorted(stats["edges"], fees, side="left")
    expected = [{"customers": int((bins == b).sum()), "churners": int(churned[bins == b].sum())}
                if (bins == b).sum() >= MIN_RATIO_CUSTOMERS else None for b in range(len(stats["edges"]) + 1)]
    assert counts == expected
    assert [c is None for c in counts] == [r is None for r in ratios]
    # The ratio is of those customers, what the reason's rule tests (churnml.reasons.clearly_above).
    average = len(churners) / 400
    assert ratios == [None if c is None else pytest.approx(c["churners"] / c["customers"] / average) for c in counts]
    assert any(c is None for c in counts) and any(c is not None for c in counts)  # the 30 customers at 49.99
    assert customer_churn(np.tile(churned, rows), np.tile(ids, rows)) == {"customers": 400, "churners": len(churners)}
    # Nobody churned: no ratios, no counts.
    assert churn_counts(fees, np.zeros(400), ids, stats) == [None] * (len(stats["edges"]) + 1)
    assert churn_counts(fees.astype(str), np.zeros(400), ids, {"kind": "categorical"}) == {}
