"""Batch scoring on a small generated sample with small fitted models.

Most tests fit the two models directly (seconds) and wrap them like ``tracking.load_models`` does;
the CLI test trains once through MLflow in a temporary store (marked slow).
"""

from __future__ import annotations

import errno
import json
import os
import re
import signal
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import churnml
from churnml import io
from churnml.config import Config
from churnml.errors import DataError
from churnml.features import FeatureSpec, plural_counts
from churnml.generate import generate
from churnml.labels import build_scoring_frame, build_training_set
from churnml.monitoring import wilson_interval
from churnml.reasons import typical_values
from churnml.scoring import (
    SCORE_COLUMNS,
    score,
    score_chunks,
    score_features,
    model_specs,
    score_metadata,
    with_empty_attributes,
    scores_value_thresholds,
    write_scores,
)
from churnml.tracking import LoadedModels
from churnml.validate import load_dataset

TRAIN_AS_OF = pd.Timestamp("2025-09-01")
SCORE_AS_OF = pd.Timestamp("2025-12-01")
CUSTOMERS = 1500


@pytest.fixture(scope="session")
def sample_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("scoring") / "data"
    generate(folder, CUSTOMERS, seed=3)
    return folder


@pytest.fixture(scope="session")
def dataset(sample_dir: Path):
    return load_dataset(sample_dir, Config())


@pytest.fixture(scope="session")
def models(dataset, fit_small_models) -> LoadedModels:
    training = build_training_set(dataset, TRAIN_AS_OF, Config())
    churn, value, _, metadata = fit_small_models(training, (80, 60), 15, ("validation", "test"))
    return LoadedModels(churn, value, "3", "4", "run-test", metadata)


@pytest.fixture(scope="session")
def features(dataset) -> pd.DataFrame:
    return build_scoring_frame(dataset, SCORE_AS_OF, Config())


@pytest.fixture(scope="session")
def scores(dataset, models) -> pd.DataFrame:
    return score(dataset, SCORE_AS_OF, models, Config(), chunk_size=300)


def test_columns_and_types(scores: pd.DataFrame, features: pd.DataFrame) -> None:
    assert list(scores.columns) == list(SCORE_COLUMNS)
    assert len(scores) == len(features) > 100
    assert scores["customer_id"].is_unique and scores["customer_id"].is_monotonic_increasing
    assert (scores["as_of"] == SCORE_AS_OF).all()
    for column in ("churn_probability", "predicted_value", "value_at_risk", "current_value"):
        assert scores[column].dtype == np.float64, column
    assert scores["churn_probability"].between(0, 1).all()
    assert (scores["predicted_value"] >= 0).all() and (scores["value_at_risk"] >= 0).all()
    value_if_retained = scores["predicted_value"] + scores["value_at_risk"]
    np.testing.assert_allclose(scores["value_at_risk"], scores["churn_probability"] * value_if_retained, rtol=1e-9)
    assert set(scores["risk_tier"]) <= {"low", "medium", "high"}
    assert set(scores["value_tier"]) == {"low", "medium", "high"}
    assert set(scores["segment"]) <= {"high_value_at_risk", "loyal_high_value", "potential", "new_customer",
                                      "low_value_active", "dormant", "fleeing_low_value"}
    # A customer of a few weeks is no one to win back: new customers of little value are new_customer, not dormant.
    assert not ((scores["segment"] == "dormant") & (scores["lifecycle_stage"] == "new")).any()
    assert (scores["segment"] == "new_customer").any()
    assert set(scores.loc[scores["segment"] == "new_customer", "lifecycle_stage"]) == {"new"}
    # Nor is a customer who bought last month and spends as much or more: they are low_value_active, and
    # dormant keeps those who slipped (declining) or stopped (lapsed).
    assert set(scores.loc[scores["segment"] == "dormant", "lifecycle_stage"]) == {"declining", "lapsed"}
    active = scores[scores["segment"] == "low_value_active"]
    assert set(active["lifecycle_stage"]) == {"growing", "stable"} and set(active["value_tier"]) == {"low"}
    assert set(active["risk_tier"]) <= {"low", "medium"}
    recency = features.set_index("customer_id")["days_since_last_purchase"]
    assert recency.loc[active["customer_id"]].median() < 45 < recency.loc[scores.loc[scores["segment"] == "dormant", "customer_id"]].median()
    assert set(scores["lifecycle_stage"]) <= {"new", "growing", "stable", "declining", "lapsed"}
    silent = features.set_index("customer_id")["days_since_last_purchase"].loc[scores["customer_id"]].to_numpy() > 180
    assert set(scores.loc[silent, "lifecycle_stage"]) <= {"new", "lapsed"} and (scores.loc[silent, "lifecycle_stage"] == "lapsed").any()
    assert (scores["churn_model_version"] == "3").all() and (scores["value_model_version"] == "4").all()
    by_id = features.set_index("customer_id")["monetary_365d"]
    np.testing.assert_allclose(scores["current_value"], by_id.loc[scores["customer_id"]].to_numpy(), atol=0.005)
    assert scores["reasons"].map(type).eq(str).all()
    assert (scores["reasons"] != "").mean() > 0.5


def test_lifecycle_stage_follows_a_customers_own_rhythm(sample_dir: Path, models: LoadedModels, tmp_path: Path) -> None:
    """An annual payer 287 days after the last invoice is paid up: not lapsed (180 days without a
    purchase) nor declining (nothing in the last 90 days), so not in dormant with win-back advice. A
    B2B export's dormant segment held 208 such. A monthly payer silent for 200 days has lapsed."""
    from conftest import add_annual_and_monthly_payers

    folder = tmp_path / "data"
    folder.mkdir()
    for table in sample_dir.iterdir():
        (folder / table.name).write_bytes(table.read_bytes())
    annual, monthly = add_annual_and_monthly_payers(folder, SCORE_AS_OF)
    scores = score(load_dataset(folder, Config()), SCORE_AS_OF, models, Config()).set_index("customer_id")
    assert scores.loc[annual, "lifecycle_stage"] == "stable"
    assert scores.loc[annual, "segment"] != "dormant"
    assert scores.loc[monthly, "lifecycle_stage"] == "lapsed"


def test_value_tiers_use_the_whole_population(scores: pd.DataFrame) -> None:
    high = scores[scores["value_tier"] == "high"]
    assert high["predicted_value"].sum() >= 0.8 * scores["predicted_value"].sum()
    assert len(high) < 0.5 * len(scores)


def test_chunk_size_does_not_change_scores(scores: pd.DataFrame, dataset, models) -> None:
    one_chunk = score(dataset, SCORE_AS_OF, models, Config(), chunk_size=100_000)
    pd.testing.assert_frame_equal(one_chunk, scores)


def test_score_features_matches_batch_for_a_few_customers(features, models, scores) -> None:
    thresholds = scores_value_thresholds(scores)   # what the API computes from its snapshot's scores
    # Random customers and the ones sitting exactly on the value-tier cut points
    retained = scores["predicted_value"] + scores["value_at_risk"]
    on_cuts = scores.loc[retained.isin([thresholds.high_min, thresholds.medium_min]), "customer_id"]
    assert len(on_cuts) == 2
    few = pd.concat([features.sample(7, random_state=1), features[features["customer_id"].isin(on_cuts)]])
    api = score_features(few, models, SCORE_AS_OF, Config(), value_thresholds=thresholds)
    batch = scores.set_index("customer_id").loc[api["customer_id"]].reset_index()
    pd.testing.assert_frame_equal(api, batch)


def test_hidden_reasons_are_never_given_and_the_next_driver_takes_their_place(features, models, scores) -> None:
    # "age band: 25-34" was a reason for 1,163 customers: a contact must not mention it.
    aged = scores["reasons"].str.contains("age band: ")
    assert aged.any()
    few = features[features["customer_id"].isin(scores.loc[aged, "customer_id"].head(20))]
    hidden = score_features(few, models, SCORE_AS_OF, Config().replace(scoring={"hidden_reasons": ("age_band",)}))
    shown = score_features(few, models, SCORE_AS_OF, Config())
    assert not hidden["reasons"].str.contains("age band").any()
    assert shown["reasons"].str.contains("age band").all()
    assert (hidden["reasons"].str.count("; ") == shown["reasons"].str.count("; ")).any()  # another reason took its place
    pd.testing.assert_series_equal(hidden["churn_probability"], shown["churn_probability"])  # scores unchanged


def test_an_attribute_reason_says_why_and_models_trained_before_read_as_they_did(features, models, scores) -> None:
    # "age band: 25-34" beside "a complaint open for 41 days" read as a bare fact: the attribute's
    # reason now says how much more that level churned on the training rows, from the figures
    # training kept with the model's drift reference, where the level's customers make it clear.
    # A model registered before them (no churn_ratio in its reference) scores as it did: the same
    # reasons without that clause.
    clause = re.compile(r", where churn runs \d+\.\d× the average$")
    # 1,500 generated customers may hold no level clearly above the average (a sample of 1,500 of
    # seed 7: "product tier: premium, where churn runs 1.1× the average" was 11 churners of 70).
    given = [sentence for text in scores["reasons"] for sentence in text.split("; ") if clause.search(sentence)]
    assert all(sentence.startswith(("region: ", "age band: ", "acquisition channel: ", "product tier: "))
               for sentence in given)
    ratios = {name: stats["churn_ratio"] for name, stats in models.monitoring_reference["features"].items()
              if "churn_ratio" in stats}
    assert set(ratios) == {s["name"] for s in models.metadata["specs"] if s["column"]}
    reference = models.monitoring_reference
    counts = {name: stats["churn_counts"] for name, stats in reference["features"].items() if "churn_counts" in stats}
    average = reference["training_churn"]["churners"] / reference["training_churn"]["customers"]
    for sentence in given:  # the level's own figure, above the average, clearly: not from chance alone
        label, _, rest = sentence.partition(": ")
        level, _, said = rest.partition(", where churn runs ")
        ratio, count = ratios[label.replace(" ", "_")][level], counts[label.replace(" ", "_")][level]
        assert ratio > 1.0 and said == f"{ratio:.1f}× the average"
        assert wilson_interval(count["churners"], count["customers"])[0] > average
    # A figure above 1.0 its customers do not make clear is not said: the level reads alone.
    unclear = {f"{name.replace('_', ' ')}: {level}" for name, levels in ratios.items() for level, ratio in levels.items()
               if round(ratio, 1) > 1.0 and wilson_interval(counts[name][level]["churners"],
                                                            counts[name][level]["customers"])[0] <= average}
    assert unclear & {sentence for text in scores["reasons"] for sentence in text.split("; ")}
    # Models trained with the figures but before their counts say every figure above 1.0, as they did;
    # models trained before the figures, none: the same reasons without that clause.
    uncounted = {**reference, "training_churn": None,
                 "features": {name: {k: v for k, v in stats.items() if k != "churn_counts"}
                              for name, stats in reference["features"].items()}}
    older = {**reference, "features": {name: {k: v for k, v in stats.items() if k not in ("churn_ratio", "churn_counts")}
                                       for name, stats in reference["features"].items()}}
    old, last = (LoadedModels(models.churn, models.value, models.churn_version, models.value_version, models.run_id,
                              {**models.metadata, "monitoring_reference": stored})
                 for stored in (older, uncounted))
    attribute = scores["reasons"].str.contains("|".join(["where churn runs", *(re.escape(level) for level in unclear)]))
    few = features[features["customer_id"].isin(scores.loc[attribute, "customer_id"])]
    now = score_features(few, models, SCORE_AS_OF, Config())
    before = score_features(few, old, SCORE_AS_OF, Config())
    counted_before = score_features(few, last, SCORE_AS_OF, Config())
    assert not before["reasons"].str.contains("where churn").any()
    # A level whose customers churned no more than the average (its figure reads 1.0× or less) is no
    # reason for risk where the counts were kept ("product tier: premium" at 0.8× read as one); models
    # trained before the counts give it, as they did, and the customers who had it get their next driver.
    no_more = {f"{name.replace('_', ' ')}: {level}" for name, levels in ratios.items()
               for level, ratio in levels.items() if round(ratio, 1) <= 1.0}
    said = lambda texts: {s.split(", where churn runs ")[0] for text in texts for s in text.split("; ")}  # noqa: E731
    assert not no_more & (said(now["reasons"]) | said(scores["reasons"]))
    had = before["reasons"].map(lambda text: bool(no_more & set(text.split("; "))))
    assert had.any() and no_more & said(counted_before["reasons"])
    pd.testing.assert_series_equal(before["reasons"][~had],
                                   now["reasons"][~had].str.replace(clause.pattern[:-1], "", regex=True))
    pd.testing.assert_series_equal(before["reasons"], counted_before["reasons"].str.replace(clause.pattern[:-1], "", regex=True))
    said_before = {s.split(", where churn runs ")[0] for text in counted_before["reasons"] for s in text.split("; ")
                   if clause.search(s)}
    assert unclear & said_before and said_before > {s.split(", where churn runs ")[0] for s in given}
    # The scores stay as they were; so do the topics of reasons that stay.
    said_columns = ["reasons", "reason_topics"]
    pd.testing.assert_frame_equal(before.drop(columns=said_columns), now.drop(columns=said_columns))
    pd.testing.assert_series_equal(before["reason_topics"][~had], now["reason_topics"][~had])


def test_missing_feature_column_is_a_clear_error(features, models) -> None:
    with pytest.raises(DataError, match=r"^The feature table lacks column\(s\) unresolved_complaints that scoring needs"):
        score_features(features.drop(columns=["unresolved_complaints"]), models, SCORE_AS_OF)


def test_a_missing_customers_attribute_names_the_column_and_the_way_forward(features, models) -> None:
    # An old champion used an all-empty customers column; validation now leaves such columns out, so
    # after the upgrade score stopped with 'trained on data with more columns than this data has',
    # about data that has the column, and train's gate could not score that champion either.
    attribute = next(spec for spec in model_specs(models) if spec.column is not None and spec.kind == "categorical")
    with pytest.raises(DataError) as info:
        score_features(features.drop(columns=[attribute.name]), models, SCORE_AS_OF)
    assert (f"The models use the customers column(s) {attribute.column}, which this data lacks or validation leaves out "
            "of the models (a column empty in every row or holding dates") in info.value.message
    assert "`churnml promote churnml-churn VERSION` and `churnml promote churnml-value VERSION`" in info.value.message


def _earlier_release(sample_dir: Path, data: Path, fit_small_models: Callable, **changed: pd.DataFrame):
    """``data``: the sample data with the ``changed`` tables, as an earlier churnml read it (the tables as
    they are, nothing left out), and small models it trained on them: (folder, that dataset, the models)."""
    from churnml.dataset import Dataset

    data.mkdir()
    for table in ("customers", "transactions", "service_events", "churn_events"):
        if table in changed:
            changed[table].to_parquet(data / f"{table}.parquet")
        else:
            (data / f"{table}.parquet").write_bytes((sample_dir / f"{table}.parquet").read_bytes())
    before = Dataset.from_frames({t: pd.read_parquet(data / f"{t}.parquet")
                                  for t in ("customers", "transactions", "service_events", "churn_events")})
    churn, value, _, metadata = fit_small_models(build_training_set(before, TRAIN_AS_OF, Config()), (40, 30), 7,
                                                 ("validation", "test"))
    return data, before, LoadedModels(churn, value, "1", "1", "run-old", metadata)


def test_models_that_used_an_empty_customers_column_score_as_they_did(sample_dir: Path, fit_small_models,
                                                                      tmp_path: Path) -> None:
    # Before validation left out a customers column without any value, the models took it as a
    # feature missing for everyone. After the upgrade such a champion could score nothing: the
    # column is gone from the features ("lacks column(s) notes"). Old-format models are fitted here
    # on the data as the earlier release read it (the column kept, empty).
    customers = pd.read_parquet(sample_dir / "customers.parquet")
    customers["notes"] = pd.Series([None] * len(customers), dtype=object)
    data, before, old = _earlier_release(sample_dir, tmp_path / "data", fit_small_models, customers=customers)
    churn, value = old.churn, old.value
    assert before.attributes["notes"] == "categorical"
    assert "notes" in churn.feature_names_
    expected = score_features(build_scoring_frame(before, SCORE_AS_OF, Config()), old, SCORE_AS_OF)

    now = load_dataset(data, Config())
    assert "notes" not in now.attributes and now.summary["left_out_columns"] == {"notes": "empty"}
    features = build_scoring_frame(now, SCORE_AS_OF, Config())
    with pytest.raises(DataError, match="lacks column"):
        score_features(features, old, SCORE_AS_OF)
    restored = with_empty_attributes(features, [*churn.feature_names_, *value.feature_names_], now.summary)
    got = score_features(restored, old, SCORE_AS_OF)
    pd.testing.assert_frame_equal(got, expected)
    # A column the data lacks altogether is not made up.
    assert "region" not in with_empty_attributes(features.drop(columns=["region"]), ["region"], now.summary).columns


def test_models_that_read_an_empty_resolved_at_name_it_and_the_way_forward(sample_dir: Path, fit_small_models,
                                                                           tmp_path: Path) -> None:
    # Before validation left out a resolved_at empty in every row, the models read it as every complaint
    # still open. After the upgrade such a champion stopped with "lacks column(s) unresolved_complaints, …;
    # retrain" and nothing said why these columns went missing from data that has them. Old-format models
    # are fitted here on the data as the earlier release read it (the column kept, empty).
    events = pd.read_parquet(sample_dir / "service_events.parquet")
    events["resolved_at"] = pd.Series(pd.NaT, index=events.index, dtype=events["resolved_at"].dtype)
    data, _, old = _earlier_release(sample_dir, tmp_path / "data", fit_small_models, service_events=events)
    assert "unresolved_complaints" in old.churn.feature_names_

    now = load_dataset(data, Config())
    assert any(note.startswith("service_events.resolved_at is empty in every row") for note in now.summary["notes"])
    with pytest.raises(DataError) as info:
        score_features(build_scoring_frame(now, SCORE_AS_OF, Config()), old, SCORE_AS_OF)
    assert info.value.message.startswith("The feature table lacks column(s) unresolved_complaints, ")
    assert info.value.message.endswith(
        " The models read service_events' resolved_at (unresolved complaints, how long one has been open, resolution "
        "times), which this data lacks or has empty in every row: validation then leaves it out, with the features read "
        "from it (its notes say so; an earlier churnml read an empty one as every complaint still open). Retrain on this "
        "data (`churnml train`); where its gate cannot score these models either, make the new versions champion with "
        "`churnml promote churnml-churn VERSION` and `churnml promote churnml-value VERSION`; or export resolved_at, "
        "filled where an event was resolved, and score again.")


def test_champions_from_runs_with_different_features_score_together(features, models, scores) -> None:
    """A rollback of one champion pairs models trained on different columns (a customer attribute
    added between the runs): each model takes its own. The value model used to get the churn
    model's columns: `score` crashed with a traceback and the API worker restarted forever."""
    from churnml.models import ValueModel

    value_names = list(models.value.feature_names_)
    churn_names = [n for n in models.churn.feature_names_ if n != "age_band"]     # an older churn model
    assert len(churn_names) == len(value_names) - 1
    frame = features.sample(400, random_state=2)
    older = type(models.churn)(n_estimators=20, num_leaves=7, early_stopping_rounds=None, n_jobs=1)
    churned = (frame["days_since_last_purchase"] > frame["days_since_last_purchase"].median()).astype(int)
    older.fit(frame[churn_names], churned, frame[churn_names], churned)
    assert isinstance(models.value, ValueModel)
    mixed = LoadedModels(older, models.value, "2", "4", "run-old", models.metadata)
    few = features.head(30)
    scored = score_features(few, mixed, SCORE_AS_OF)
    expected = models.value.predict(few[value_names])
    np.testing.assert_allclose(scored["predicted_value"] + scored["value_at_risk"], expected, rtol=1e-9)
    with pytest.raises(DataError, match=r"lacks column\(s\) age_band that scoring needs"):
        score_features(few.drop(columns=["age_band"]), mixed, SCORE_AS_OF)


def test_same_inputs_give_the_same_file(scores, dataset, models, tmp_path: Path) -> None:
    again = score(dataset, SCORE_AS_OF, models, Config(), chunk_size=300)
    meta = score_metadata(models, SCORE_AS_OF, Config(), dataset.fingerprint, "champion")
    for fmt in ("parquet", "csv"):
        first, first_json = write_scores(scores, tmp_path / f"a.{fmt}", fmt, meta)
        second, second_json = write_scores(again, tmp_path / f"b.{fmt}", fmt, meta)
        assert first.read_bytes() == second.read_bytes()
        assert first_json.read_text().replace("a." + fmt, "b." + fmt) == second_json.read_text()


@pytest.mark.parametrize("fmt", ["parquet", "csv"])
def test_scores_beside_another_runs_sidecar_are_refused(scores, dataset, models, sample_dir, tmp_path: Path, fmt) -> None:
    # `churnml score --out` renames the scores file, then its sidecar, into place: two runs writing
    # one --out at once, or a run stopped between the two renames, left one run's scores beside the
    # other's sidecar, and retention-list, report and evaluate read them as a pair (another run's
    # models, horizon and row counts). The sidecar records the digest of its scores file.
    import hashlib

    from typer.testing import CliRunner

    from churnml.cli import get_app

    meta = score_metadata(models, SCORE_AS_OF, Config(), dataset.fingerprint, "champion")
    out, sidecar = write_scores(scores, tmp_path / f"scores.{fmt}", fmt, meta)
    assert io.read_json(sidecar)["scores_sha256"] == hashlib.sha256(out.read_bytes()).hexdigest()
    runner = CliRunner()
    result = runner.invoke(get_app(), ["report", "--scores", str(out), "--out", str(tmp_path / "ok.html")])
    assert result.exit_code == 0, result.stderr  # a pair as written is read as before
    other, _ = write_scores(scores.head(100), tmp_path / "other" / f"scores.{fmt}", fmt, meta)
    os.replace(other, out)  # the other run's scores land in place; this run's sidecar stays
    expected = (f"Error: {sidecar} belongs to another scores file than {out}: it was written for {len(scores):,} rows "
                f"(sha256 {io.read_json(sidecar)['scores_sha256'][:12]}…), and {out} now holds other contents (sha256 "
                f"{hashlib.sha256(out.read_bytes()).hexdigest()[:12]}…). Two `churnml score` runs wrote --out {out} at "
                "once, or one stopped between writing the two files. Re-run `churnml score` to write both again, or "
                f"delete {sidecar.name} to use the scores without it (then nothing records the models that made them).")
    for args, output in ((["retention-list", out, "--out", tmp_path / "list.csv"], tmp_path / "list.csv"),
                         (["report", "--scores", out, "--out", tmp_path / "r.html"], tmp_path / "r.html"),
                         (["evaluate", out, sample_dir], None)):
        result = runner.invoke(get_app(), [str(a) for a in args])
        assert result.exit_code == 2 and " ".join(result.stderr.split()) == expected, (args, result.stderr)
        assert output is None or not output.exists()
    sidecar.unlink()  # the way out the message gives
    result = runner.invoke(get_app(), ["retention-list", str(out), "--out", str(tmp_path / "list.csv")])
    assert result.exit_code == 0, result.stderr


def test_old_snapshots_are_pruned_on_demand_and_the_newest_always_stays(features, tmp_path: Path) -> None:
    # One snapshot per scored day (about 70 MB a day at a million customers), and nothing removed them.
    from typer.testing import CliRunner

    from churnml.cli import get_app

    folder = tmp_path / "snapshots"
    days = ["2025-09-01", "2025-10-01", "2025-11-01", "2025-12-01"]
    # Each with the customers left out of its population, which go with it.
    outside = pd.DataFrame({"customer_id": ["x1", "x2"], "reason": pd.Categorical(["closed", "no_history"]),
                            "date": pd.to_datetime(["2025-01-02", None])})
    written = [io.write_snapshot(features.head(50), pd.Timestamp(day), folder, outside) for day in days]
    besides = [io.outside_path(path) for path in written]
    assert [p.name for p in besides] == [f"outside_{day}.parquet" for day in days] and all(p.is_file() for p in besides)
    (folder / "notes.txt").write_text("not a snapshot")
    assert io.stale_snapshots(folder) == []  # nothing asked: nothing goes

    def prune(*args: str):
        result = CliRunner().invoke(get_app(), ["prune-snapshots", "--snapshots", str(folder), *args])
        return result, " ".join(result.stderr.split())

    result, err = prune()
    assert result.exit_code == 2 and err == (
        "Error: Say which snapshots to keep: --keep N (the newest N), --older-than DAYS (those within DAYS days of the "
        "newest), or [scoring] keep_snapshots in --config. Add --dry-run to see what would go.")
    result, err = prune("--keep", "0")
    assert result.exit_code == 2 and "--keep must be at least 1, got 0" in err
    result, err = CliRunner().invoke(get_app(), ["prune-snapshots", "--snapshots", str(tmp_path / "nowhere"), "--keep", "1"]), ""
    assert result.exit_code == 2 and f"--snapshots {tmp_path / 'nowhere'} does not exist" in " ".join(result.stderr.split())

    size = written[0].stat().st_size
    result, _ = prune("--keep", "2", "--dry-run")
    assert result.exit_code == 0, result.stderr
    assert f"would remove {written[0]}  ({size / 1e3:.1f} kB)" in result.output and f"would remove {written[1]}" in result.output
    assert f"would remove {besides[0]}  ({besides[0].stat().st_size / 1e3:.1f} kB)" in result.output
    total = sum(p.stat().st_size for p in written[:2] + besides[:2])
    assert (f"Dry run: would remove 2 snapshot(s), {total / 1e3:.1f} kB, and keep 2, the newest "
            "features_2025-12-01.parquet (what `churnml serve` loads). Nothing was removed.") in " ".join(result.output.split())
    assert all(path.exists() for path in written + besides)
    # Both given: a snapshot goes only when both say so (2025-10-01 is beyond the newest 2 but within 70 days).
    result, _ = prune("--keep", "2", "--older-than", "70")
    assert result.exit_code == 0 and [p.name for p in io.snapshots(folder)] == [p.name for p in written[1:]]
    assert [p.exists() for p in besides] == [False, True, True, True]
    assert f"Removed 1 snapshot(s) from {folder}" in result.output
    # Each file said as removed, after it is: "remove PATH", printed before, read like an order.
    assert [line.split("  (")[0] for line in result.output.splitlines() if "parquet  (" in line] == [
        f"removed {written[0]}", f"removed {besides[0]}"], result.output
    # Even asked to remove everything, the newest (what `churnml serve` loads) stays, and other files too.
    result, _ = prune("--older-than", "0")
    assert result.exit_code == 0 and io.snapshots(folder) == [written[-1]] == [io.latest_snapshot(folder)]
    assert (folder / "notes.txt").exists() and [p.exists() for p in besides] == [False, False, False, True]
    # Written again for the same date without one, the snapshot loses the earlier write's: it is not its.
    io.write_snapshot(features.head(50), pd.Timestamp(days[-1]), folder)
    assert not besides[-1].exists() and written[-1].exists()


def _score_beside_snapshots(served_store, tmp_path: Path, monkeypatch, days, outside: bool = False):
    """`churnml score` as of 2025-12-01 with ``[scoring] keep_snapshots = 2`` into a snapshots folder
    holding copies of the served snapshot dated ``days`` (and its customers outside the population, with
    ``outside``): the result, the folder and the served snapshot."""
    import shutil

    from typer.testing import CliRunner

    from churnml.cli import get_app

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", served_store.tracking_uri)
    folder = tmp_path / "snapshots"
    folder.mkdir()
    served = io.latest_snapshot(served_store.snapshots)
    for day in days:
        shutil.copy(served, folder / f"features_{day}.parquet")
        if outside:
            shutil.copy(io.outside_path(served), folder / f"outside_{day}.parquet")
    (tmp_path / "keep.toml").write_text("[scoring]\nkeep_snapshots = 2\n")
    result = CliRunner().invoke(get_app(), ["score", str(served_store.data), "--as-of", "2025-12-01", "--out", "s.parquet",
                                            "--snapshots", str(folder), "--config", "keep.toml"])
    assert result.exit_code == 0, result.stderr
    return result, folder, served


def test_score_keeps_the_newest_snapshots_the_config_asks_for(served_store, tmp_path: Path, monkeypatch) -> None:
    # [scoring] keep_snapshots bounds the folder as `churnml score` writes it; the server still
    # starts on the newest snapshot.
    from churnml import api

    result, folder, served = _score_beside_snapshots(served_store, tmp_path, monkeypatch, ("2025-10-01", "2025-11-01"),
                                                     outside=True)
    assert [p.name for p in io.snapshots(folder)] == ["features_2025-11-01.parquet", "features_2025-12-01.parquet"]
    # Every file written is named, the customers left out of the population too.
    assert (f"Wrote s.parquet, s.parquet.json, {folder / 'features_2025-12-01.parquet'} and "
            f"{folder / 'outside_2025-12-01.parquet'}.") in " ".join(result.output.split())
    assert sorted(p.name for p in folder.glob("outside_*")) == ["outside_2025-11-01.parquet", "outside_2025-12-01.parquet"]
    # ... and counted, by reason: "N customers scored" said nothing of the customers left out.
    outside = pd.read_parquet(folder / "outside_2025-12-01.parquet")["reason"].value_counts()
    scored = len(pd.read_parquet(tmp_path / "s.parquet"))
    assert outside.get("closed", 0) and outside.get("signed_up", 0)
    assert (f"Not scored: {outside.sum():,} of the {outside.sum() + scored:,} customers, outside the population at 2025-12-01: "
            f"{outside['closed']:,} closed before it (churn_events); {outside['signed_up']:,} signed up on or after it"
            ) in " ".join(result.output.split())
    freed = served.stat().st_size + io.outside_path(served).stat().st_size
    assert (f"Removed 1 older snapshot(s) from {folder} ([scoring] keep_snapshots = 2), "
            f"{freed / 1e3:.1f} kB: features_2025-10-01.parquet.") in " ".join(result.output.split())
    path, _ = api.check_startup("champion", folder)  # what `churnml serve` checks before it starts
    assert path == folder / "features_2025-12-01.parquet"


def test_score_of_an_older_date_keeps_the_snapshot_it_wrote(served_store, tmp_path: Path, monkeypatch) -> None:
    # A backfill (scores for a date before the newest snapshot's) with [scoring] keep_snapshots removed
    # the snapshot it had just written and named on its `Wrote` line: `retention-list --attribute` on
    # those scores then failed, and the `churnml score` its error suggests removed it again.
    from typer.testing import CliRunner

    from churnml.cli import get_app

    result, folder, served = _score_beside_snapshots(served_store, tmp_path, monkeypatch, ("2025-10-01", "2025-12-15", "2026-01-01"))
    assert [p.name for p in io.snapshots(folder)] == [
        "features_2025-12-01.parquet", "features_2025-12-15.parquet", "features_2026-01-01.parquet"]
    assert (folder / "outside_2025-12-01.parquet").is_file()
    assert (f"Removed 1 older snapshot(s) from {folder} ([scoring] keep_snapshots = 2), "
            f"{served.stat().st_size / 1e3:.1f} kB: features_2025-10-01.parquet.") in " ".join(result.output.split())
    result = CliRunner().invoke(get_app(), ["retention-list", "s.parquet", "--out", "l.csv", "--snapshots", str(folder),
                                            "--attribute", "region"])
    assert result.exit_code == 0, result.stderr
    assert "region" in pd.read_csv(tmp_path / "l.csv").columns


def test_score_shows_a_spinner_while_it_reads_and_validates_in_a_terminal(served_store, tmp_path: Path, run_in_terminal) -> None:
    # At a million customers score printed nothing for 41 to 87 s while it read and validated the
    # data, then the features: a spinner says so in a terminal, as train's does.
    code, shown = run_in_terminal(["score", served_store.data, "--as-of", "2025-12-01", "--out", "s.parquet",
                                   "--snapshots", "snapshots"], cwd=tmp_path,
                                  env={"MLFLOW_TRACKING_URI": served_store.tracking_uri})
    assert code == 0, shown
    assert f"Reading and validating {served_store.data}…" in shown, shown
    assert "Building features as of 2025-12-01…" in shown, shown
    assert not re.search(r"\d\d:\d\d:\d\d (Reading|Building)", shown)  # the timestamped lines are for logs


FULL_DISK = """
set -e
mount -t tmpfs -o size=1m churnml-full "$FULL"
cp -p "$LAST"/* "$FULL"/
cat /dev/zero > "$FULL/filler" 2>/dev/null || true  # until no byte is left
set +e
"$@"
code=$?
rm "$FULL/filler"
cp -a "$FULL"/. "$LEFT"/
exit $code
"""
"""Runs a command with ``$FULL`` a full disk (a tmpfs filled to its last byte, in a mount namespace
of its own) holding copies of ``$LAST``'s files; what is left on it afterwards is copied to ``$LEFT``."""


def full_disk_available(folder: Path) -> bool:
    """Whether this machine lets a user mount a tmpfs of their own (user and mount namespaces)."""
    folder.mkdir()
    try:
        done = subprocess.run(["unshare", "--map-root-user", "--mount", "mount", "-t", "tmpfs", "-o", "size=64k", "probe",
                               str(folder)], capture_output=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0


def test_a_snapshot_that_cannot_be_written_leaves_last_months_scores(served_store, tmp_path: Path) -> None:
    # A monthly `churnml score` on a disk that filled up while it wrote the feature snapshot (the
    # largest file it writes) exited 2 with "No space left on device", yet had already replaced
    # last month's scores and sidecar with this month's: a scheduler saw a failed task and new
    # output. Here the snapshots' folder is a full disk: a tmpfs with no byte left, whatever the
    # files' sizes (a file-size limit between the scores' and the snapshot's also failed the
    # model's download once its metadata grew past the snapshot). The scores go to another disk.
    if not full_disk_available(tmp_path / "probe"):
        pytest.skip("mounting a full tmpfs needs user and mount namespaces (unshare --map-root-user --mount)")
    churnml = str(Path(sys.executable).with_name("churnml"))
    work, full, left = tmp_path / "work", tmp_path / "full", tmp_path / "left"
    for folder in (work, full, left):
        folder.mkdir()
    env = {**os.environ, "MLFLOW_TRACKING_URI": served_store.tracking_uri}
    snapshots, out = work / "snapshots", work / "scores.parquet"
    last = subprocess.run([churnml, "score", str(served_store.data), "--as-of", "2025-11-01", "--out", str(out),
                           "--snapshots", str(snapshots)], capture_output=True, text=True, timeout=300, cwd=work, env=env)
    assert last.returncode == 0, last.stderr
    before = {p.relative_to(work): p.read_bytes() for p in work.rglob("*") if p.is_file()}
    assert {p.name for p in snapshots.iterdir()} == {"features_2025-11-01.parquet", "outside_2025-11-01.parquet"}

    now = subprocess.run(["unshare", "--map-root-user", "--mount", "sh", "-c", FULL_DISK, "full-disk",
                          churnml, "score", str(served_store.data), "--as-of", "2025-12-01", "--out", str(out),
                          "--snapshots", str(full)], capture_output=True, text=True, timeout=300, cwd=work,
                         env={**env, "FULL": str(full), "LAST": str(snapshots), "LEFT": str(left)})
    assert now.returncode == 2, now.stdout + now.stderr
    said = " ".join(now.stderr.split())
    assert f"{full / 'features_2025-12-01.parquet'}" in said and "No space left on device" in said
    assert {p.relative_to(work): p.read_bytes() for p in work.rglob("*") if p.is_file()} == before  # last month's scores and sidecar
    # The full disk holds last month's snapshot as it was, and no half-written file of this month's.
    assert {p.name: p.read_bytes() for p in left.iterdir()} == {p.name: p.read_bytes() for p in snapshots.iterdir()}


def test_a_second_score_on_the_same_out_stops_at_once_while_the_first_runs(served_store, tmp_path: Path) -> None:
    # A nightly `churnml score` running slow, and the scheduler's retry started beside it on the same --out:
    # nothing stopped the second, both wrote the scores and their sidecar, each replacing the other's,
    # and the scores left could be one run's beside the other's sidecar. The second now stops before any
    # work with exit code 75 (retry later), naming the first. The lock dies with its process: after a
    # kill -9 its file stays, unlocked, and the next run takes it.
    from conftest import check_a_second_run_stops_while_the_first_holds_the_lock

    churnml = str(Path(sys.executable).with_name("churnml"))
    env = {**os.environ, "MLFLOW_TRACKING_URI": served_store.tracking_uri}
    out = tmp_path / "scores" / "scores.parquet"
    check_a_second_run_stops_while_the_first_holds_the_lock(
        [churnml, "score", str(served_store.data), "--as-of", served_store.as_of, "--out", str(out),
         "--snapshots", str(tmp_path / "snapshots")], out, "score", ["scores.parquet", "scores.parquet.json"],
        cwd=tmp_path, env=env)


def test_a_score_that_fails_before_writing_leaves_no_out_folder_it_made(served_store, tmp_path: Path) -> None:
    # The --out lock made --out's folders before any work, so a nightly run that then failed (no
    # registered model, an as-of date past the data) left an empty folder behind, and a check for
    # the day's output folder took it for a run that had published. Folders there before stay.
    churnml = str(Path(sys.executable).with_name("churnml"))

    def score(out: Path, tracking_uri: str, as_of: str) -> subprocess.CompletedProcess:
        return subprocess.run([churnml, "score", str(served_store.data), "--as-of", as_of, "--out", str(out),
                               "--snapshots", str(tmp_path / "snapshots")], capture_output=True, text=True, timeout=300,
                              cwd=tmp_path, env={**os.environ, "MLFLOW_TRACKING_URI": tracking_uri})

    no_store = f"sqlite:///{tmp_path / 'empty' / 'mlflow.db'}"
    failed = score(tmp_path / "nightly" / "2025-12-01" / "scores.parquet", no_store, served_store.as_of)
    assert failed.returncode == 2, failed.stdout + failed.stderr
    assert failed.stderr.startswith("Error: There is no MLflow store"), failed.stderr
    after_data = score(tmp_path / "nightly" / "2027-01-01" / "scores.parquet", served_store.tracking_uri, "2027-01-01")
    assert after_data.returncode == 2, after_data.stdout + after_data.stderr
    assert not (tmp_path / "nightly").exists()
    (tmp_path / "kept").mkdir()
    failed = score(tmp_path / "kept" / "scores.parquet", no_store, served_store.as_of)
    assert failed.returncode == 2, failed.stdout + failed.stderr
    assert (tmp_path / "kept").is_dir() and not any((tmp_path / "kept").iterdir())


def _first_cutoff(metadata) -> pd.Timestamp:
    return min(pd.Timestamp(c) for split in metadata["cutoffs"].values() for c in split)


def test_score_refuses_an_as_of_before_the_models_training_data_on_both_engines_before_any_data(
        served_store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # POST /score_history refused an as_of before the models' first training cutoff; `churnml score` took
    # one and wrote scores from models that learned from customers as of 2025 for a job scoring 1990.
    # Refused alike, before the data is read and before Spark starts: here Spark cannot start (no java on
    # PATH, no JAVA_HOME), so a check after its start would end on that error instead.
    from churnml import tracking

    monkeypatch.setenv("MLFLOW_TRACKING_URI", served_store.tracking_uri)
    first = _first_cutoff(tracking.load_models("champion").metadata)
    churnml = str(Path(sys.executable).with_name("churnml"))
    (tmp_path / "bin").mkdir()
    env = {key: value for key, value in os.environ.items() if key != "JAVA_HOME"}
    env.update(MLFLOW_TRACKING_URI=served_store.tracking_uri, PATH=str(tmp_path / "bin"))
    for engine in ("duckdb", "spark"):
        for as_of in ("1990-01-01", f"{first - pd.Timedelta(days=1):%Y-%m-%d}"):
            out = tmp_path / engine / as_of / "scores"
            done = subprocess.run([churnml, "score", str(served_store.data), "--as-of", as_of, "--out", str(out),
                                   "--snapshots", str(tmp_path / "snapshots"), "--engine", engine], capture_output=True,
                                  text=True, timeout=300, cwd=tmp_path, env=env)
            assert done.returncode == 2, done.stdout + done.stderr
            assert " ".join(done.stderr.split()) == (
                f"Error: --as-of {as_of} is before the models' training data: they learned how customers behave from "
                f"their first training cutoff, {first:%Y-%m-%d}, on, and know nothing of earlier dates. Use an --as-of "
                f"from {first:%Y-%m-%d} on, or, for a backfill of an earlier date, train models as of it and score with "
                "their version (--alias VERSION).")
            assert "Reading and validating" not in done.stdout  # before the data, as a missing model is
    assert not (tmp_path / "duckdb").exists() and not (tmp_path / "spark").exists() and not (tmp_path / "snapshots").exists()


def test_the_library_score_refuses_an_as_of_before_the_models_training_data(dataset, models) -> None:
    # `churnml score` and POST /score_history refused it; score() itself, as a notebook or a job calls it, scored
    # the population as of a date the models never saw (a date after the first transaction, so nothing else stops it).
    from churnml.errors import ConfigError
    from churnml.labels import data_start, first_training_cutoff

    first = first_training_cutoff(models.metadata)
    before = first - pd.Timedelta(days=1)
    assert before > data_start(dataset)
    with pytest.raises(ConfigError) as refused:
        score(dataset, before, models, Config())
    assert str(refused.value) == (
        f"as_of {before:%Y-%m-%d} is before the models' training data: they learned how customers behave from their "
        f"first training cutoff, {first:%Y-%m-%d}, on, and know nothing of earlier dates. Use an as_of from "
        f"{first:%Y-%m-%d} on, or, for a backfill of an earlier date, train models as of it and score with their "
        "version (load_models(VERSION)).")
    assert len(score(dataset, first, models, Config(), chunk_size=100_000)) > 0  # the first cutoff itself scores


def test_the_earliest_as_of_is_the_later_of_two_runs_first_cutoffs(served_store, tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    # A rollback of one model pairs two runs; only the churn model's cutoffs were kept, so a value model that
    # learned from a later first cutoff took as-of dates it knew nothing of. Both runs' count, the later first.
    from typer.testing import CliRunner

    from churnml import api, tracking
    from churnml.cli import get_app
    from churnml.errors import ConfigError
    from churnml.labels import first_training_cutoff

    monkeypatch.setenv("MLFLOW_TRACKING_URI", served_store.tracking_uri)
    served = tracking.load_models("champion")
    churn_first = _first_cutoff(served.metadata)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlruns' / 'mlflow.db'}")
    frame = io.read_table(io.latest_snapshot(served_store.snapshots))[list(served.churn.feature_names_)].head(5)
    later = {split: [f"{pd.Timestamp(c) + pd.Timedelta(days=60):%Y-%m-%d}" for c in cutoffs]
             for split, cutoffs in served.metadata["cutoffs"].items()}
    for name, metadata in (("churn run", served.metadata), ("value run", {**served.metadata, "cutoffs": later})):
        with tracking.start_training_run(name) as run:
            run.log_models(served.churn, served.value, frame, {k: v for k, v in metadata.items() if k != "value_run_id"})
    tracking.promote(tracking.CHURN_MODEL_NAME, "1")
    tracking.promote(tracking.VALUE_MODEL_NAME, "2")
    mixed = tracking.load_models("champion")
    value_first = churn_first + pd.Timedelta(days=60)
    assert mixed.metadata["value_run"]["cutoffs"] == later and first_training_cutoff(mixed.metadata) == value_first
    between = f"{value_first - pd.Timedelta(days=1):%Y-%m-%d}"
    result = CliRunner().invoke(get_app(), ["score", str(served_store.data), "--as-of", between, "--out", "s.parquet"])
    assert result.exit_code == 2, result.output
    assert (f"Error: --as-of {between} is before the models' training data: they learned how customers behave from "
            f"their first training cutoff, {value_first:%Y-%m-%d}, on") in " ".join(result.stderr.split())
    service = api.ScoringService(mixed, io.read_table(io.latest_snapshot(served_store.snapshots)),
                                 pd.Timestamp(served_store.as_of))
    with pytest.raises(ConfigError, match=rf"^as_of: {between} is before the models' training data: .*, {value_first:%Y-%m-%d}, on"):
        service.score_history([{"customer_id": "a", "signup_date": "2020-01-01"}],
                              [{"customer_id": "a", "timestamp": "2024-06-01", "amount": 30}], [], between, [])


@pytest.mark.parametrize("blocked", ["features_2025-12-01.parquet", "outside_2025-12-01.parquet", "new.parquet.json"])
def test_a_folder_at_a_target_is_refused_before_any_work_and_publishes_nothing(served_store, tmp_path: Path, monkeypatch,
                                                                                blocked: str) -> None:
    # A folder at the snapshot's path failed its rename after the scores had been renamed into
    # place: exit 2 with this month's scores published (and a folder at the sidecar's path left
    # scores without one). Every target is now checked before any work, and nothing is published.
    from typer.testing import CliRunner

    from churnml.cli import get_app

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", served_store.tracking_uri)

    def score(as_of: str, out: str) -> object:
        return CliRunner().invoke(get_app(), ["score", str(served_store.data), "--as-of", as_of, "--out", out,
                                              "--snapshots", "snapshots"])

    last = score("2025-11-01", "scores.parquet")
    assert last.exit_code == 0, last.output
    target = (tmp_path / "snapshots" if blocked.startswith(("features", "outside")) else tmp_path) / blocked
    target.mkdir()
    (target / "kept.txt").write_text("someone's file")
    before = {p.relative_to(tmp_path): p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    now = score("2025-12-01", "scores.parquet" if blocked.startswith(("features", "outside")) else "new.parquet")
    said = " ".join(now.stderr.split())
    assert now.exit_code == 2, now.output
    assert {p.relative_to(tmp_path): p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()} == before
    assert "Traceback" not in now.output and "Reading and validating" not in now.output  # refused before any work
    shown = target.relative_to(tmp_path)
    option = "--snapshots" if blocked.startswith(("features", "outside")) else "--out"
    assert said.startswith(f"Error: {shown} is a folder, where churnml writes "), said
    assert said.endswith(f". Remove or rename it, or choose another {option}."), said


def test_scores_that_fail_after_the_snapshot_was_published_put_the_previous_snapshot_back(features, scores,
                                                                                          tmp_path: Path) -> None:
    # The snapshot is renamed into place first (scores need theirs for their attributes), once every
    # target is checked; should the scores' rename fail all the same (here another process makes a
    # folder at their path between the check and the rename), the snapshot it replaced comes back.
    folder, out = tmp_path / "snapshots", tmp_path / "scores.parquet"
    earlier = pd.DataFrame({"customer_id": ["a"], "reason": ["closed"], "date": [SCORE_AS_OF]})
    path = io.write_snapshot(features.head(50), SCORE_AS_OF, folder, earlier)  # an earlier write for the same date
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    seen = []

    with pytest.raises(IsADirectoryError) as failed:
        with io.staged_snapshot(features, SCORE_AS_OF, folder) as staged:
            def publish() -> None:
                staged.publish()
                seen.append((len(pd.read_parquet(path)), io.outside_path(path).exists(), out.exists()))
                out.mkdir()

            write_scores(scores, out, before_publish=publish)
    assert failed.value.filename == str(out)
    assert seen == [(len(features), False, False)]  # the snapshot was in place before the scores
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before  # no temporary file either
    assert sorted(p.name for p in tmp_path.iterdir()) == ["scores.parquet", "snapshots"] and out.is_dir()


def test_sidecar_records_models_data_and_distributions(scores, dataset, models, tmp_path: Path) -> None:
    meta = score_metadata(models, SCORE_AS_OF, Config(), dataset.fingerprint, "champion")
    out, sidecar = write_scores(scores, tmp_path / "scores.parquet", None, meta)
    assert sidecar == tmp_path / "scores.parquet.json"
    record = io.read_json(sidecar)
    assert record["models"]["churn_model_version"] == "3" and record["models"]["value_model_version"] == "4"
    assert record["data_fingerprint"] == dataset.fingerprint
    # the code that scored, and that trained the models (not recorded by these test models)
    assert record["code"] == io.code_version() and record["code"]["churnml"] == churnml.__version__
    assert record["models"]["code"] == models.metadata.get("code")
    assert record["rows"] == len(scores)
    assert sum(record["counts"]["segment"].values()) == len(scores)
    assert record["distributions"]["churn_probability"]["q50"] == pytest.approx(scores["churn_probability"].median())
    assert record["config"]["segments"]["risk_multiples"] == [1.5, 3.0] and record["config"]["segments"]["risk_thresholds"] is None
    base_rate = models.metadata["base_rate"]
    assert record["models"]["base_rate"] == base_rate
    assert record["risk_tier_thresholds"] == {"medium_min": pytest.approx(1.5 * base_rate), "high_min": pytest.approx(3 * base_rate)}
    # the tiers in the file follow those cut points, and the value tiers the value if retained
    tiers = pd.cut(scores["churn_probability"], [-1, 1.5 * base_rate, 3 * base_rate, 2], right=False, labels=["low", "medium", "high"])
    assert (scores["risk_tier"] == tiers.astype(str)).all()
    high_min = record["value_tier_thresholds"]["high_min"]
    assert ((scores["predicted_value"] + scores["value_at_risk"] >= high_min) == (scores["value_tier"] == "high")).all()
    assert record["value_tier_thresholds"] == scores_value_thresholds(scores).to_dict()
    pd.testing.assert_frame_equal(pd.read_parquet(out), scores)


def test_streamed_chunks_write_the_same_table(features, models, scores, tmp_path: Path) -> None:
    out, _ = write_scores(score_chunks(features, SCORE_AS_OF, models, chunk_size=250), tmp_path / "s.parquet")
    pd.testing.assert_frame_equal(pd.read_parquet(out), scores)


def test_failure_midway_leaves_no_file(scores, tmp_path: Path) -> None:
    def chunks():
        yield scores.iloc[:100]
        raise RuntimeError("disk on fire")

    with pytest.raises(RuntimeError):
        write_scores(chunks(), tmp_path / "scores.parquet")
    assert list(tmp_path.iterdir()) == []


def test_killed_process_leaves_no_file(scores, tmp_path: Path) -> None:
    part = tmp_path / "part.parquet"
    scores.iloc[:200].to_parquet(part)
    out = tmp_path / "scores.parquet"
    script = textwrap.dedent(f"""
        import time, pandas as pd
        from churnml.scoring import write_scores
        chunk = pd.read_parquet({str(part)!r})
        def chunks():
            yield chunk
            print("written", flush=True)
            time.sleep(60)
            yield chunk
        write_scores(chunks(), {str(out)!r})
    """)
    process = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout.readline().strip() == "written"
        assert any(p.name.startswith(".scores.parquet.") for p in tmp_path.iterdir())  # mid-write
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    assert not out.exists()
    assert not (tmp_path / "scores.parquet.json").exists()


def test_unresolved_complaints_show_as_reasons(scores, features) -> None:
    merged = scores.merge(features[["customer_id", "unresolved_complaints"]], on="customer_id")
    complaining = merged["unresolved_complaints"] >= 1
    assert complaining.sum() >= 10
    # Reasons follow the data: complaint reasons are far more common where complaints are open,
    # and most of those customers get a reason about their service (complaints, the service
    # experience score that combines them, satisfaction).
    mentions = merged["reasons"].str.contains("complain")
    assert mentions[complaining].mean() > 3 * mentions[~complaining].mean()
    service = merged["reasons"].str.contains("complain|service experience|satisfaction")
    assert service[complaining].mean() > 0.5


def test_each_reason_has_its_topic_in_the_same_order(scores) -> None:
    # A retention list's talking point follows what the strongest reason is about: the scores keep
    # each reason's topic beside it, which the sentence alone does not tell.
    from churnml.schema import REASON_TOPICS

    reasons = scores["reasons"].str.split("; ").where(scores["reasons"] != "", None)
    topics = scores["reason_topics"].str.split("; ").where(scores["reason_topics"] != "", None)
    assert (reasons.isna() == topics.isna()).all() and reasons.notna().mean() > 0.5
    pairs = [(r, t) for rs, ts in zip(reasons.dropna(), topics.dropna()) for r, t in zip(rs, ts, strict=True)]
    assert {t for _, t in pairs} <= set(REASON_TOPICS)
    by_topic = pd.DataFrame(pairs, columns=["reason", "topic"]).groupby("topic")["reason"]
    said = {"service": "complain|service|satisfaction|ticket|call", "buying_less": "no purchase|spen|purchase",
            "refunds": "refund", "short_tenure": "newer than most", "account_manager": "account manager"}
    for topic, words in said.items():
        assert by_topic.get_group(topic).str.contains(words).all(), topic
    assert by_topic.get_group("attribute").str.contains(": ").all()


def test_every_reason_is_true_of_its_customer(scores, features, models) -> None:
    # Each sentence is matched back to the feature whose template wrote it; that feature's value
    # must lie beyond the training median on the side the sentence reads ("no purchase for 40
    # days" only where the typical customer bought more recently) and beyond its fixed bound.
    typical = typical_values(models.monitoring_reference)
    specs = [FeatureSpec(**s) for s in models.metadata["specs"] if s["reason"] and s["reason_side"]]
    assert {"days_since_last_purchase", "spend_trend_pct", "tenure_days"} <= set(typical) & {s.name for s in specs}

    def pattern(template: str) -> re.Pattern:
        parts = re.split(r"\{[^}]*\}", template)
        return re.compile("^" + r"(-?[\d,.]+)".join(re.escape(p) for p in parts) + "$")

    patterns = [(spec, pattern(spec.reason)) for spec in specs]
    rows = features.set_index("customer_id")
    checked = 0
    for customer, text in zip(scores["customer_id"], scores["reasons"]):
        for sentence in filter(None, text.split("; ")):
            plural = plural_counts(re.sub(r"(?<![\d.,])\b1 ", "N ", sentence)).replace("N ", "1 ")  # "1 call" -> "1 calls"
            for spec, regex in patterns:
                if regex.match(plural):
                    value = rows.at[customer, spec.name]
                    limits = [v for v in (typical.get(spec.name), spec.reason_bound) if v is not None]
                    limit = max(limits) if spec.reason_side > 0 else min(limits)
                    assert (value - limit) * spec.reason_side > 0, (customer, sentence, spec.name, value, limit)
                    checked += 1
    assert checked > 0.5 * len(scores)
    # Nor an attribute's level that most customers hold: "product tier: basic", with most basic.
    given = {sentence for text in scores["reasons"] for sentence in text.split("; ")}
    attributes = [FeatureSpec(**s) for s in models.metadata["specs"] if s["reason"] and s["kind"] == "categorical"]
    typical_levels = {spec.reason.format(**{spec.name: typical[spec.name]}) for spec in attributes if spec.name in typical}
    given = {sentence.split(", where churn runs ")[0] for sentence in given}  # the level, without its churn
    assert "product tier: basic" in typical_levels and not typical_levels & given
    assert any(sentence.startswith(("product tier: ", "region: ", "age band: ")) for sentence in given)  # others are


@pytest.mark.parametrize(("feature", "steps"), [("unresolved_complaints", (1, 2, 5)), ("complaints_90d", (1, 3, 10))])
def test_more_risk_never_lowers_churn_probability(features, models, feature: str, steps: tuple[int, ...]) -> None:
    # (Activity is constrained only without churn_events; this data has them: see test_features.)
    assert {s["name"]: s["monotone"] for s in models.metadata["specs"]}[feature] == 1
    X = features[models.churn.feature_names_]
    before = models.churn.predict_proba(X)
    for step in steps:
        raised = X.copy()
        raised[feature] = raised[feature] + step
        after = models.churn.predict_proba(raised)
        assert (after >= before - 1e-12).all(), f"{feature} +{step} lowered churn probability"
    assert len(X) > 100


@pytest.mark.slow
def test_cli_scores_with_the_champion_from_mlflow(sample_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    from churnml.cli import get_app
    from churnml.train import train

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlruns' / 'mlflow.db'}")
    train(load_dataset(sample_dir), TRAIN_AS_OF, Config(), trials=1, n_estimators=60, n_jobs=1)
    runner = CliRunner()
    (tmp_path / "h30.toml").write_text("[problem]\nhorizon_days = 30\n")
    other = runner.invoke(get_app(), ["score", str(sample_dir), "--as-of", "2025-12-01", "--out", "s30.csv", "-c", "h30.toml"])
    said = " ".join(other.stderr.split())
    assert other.exit_code == 2 and "The models predict a 90-day horizon, but the config says [problem] horizon_days = 30." in said
    assert "e.g. a --config file with [problem] horizon_days = 90 (train --horizon-days sets it for that run only)" in said
    assert not (tmp_path / "s30.csv").exists()
    # A folder nothing can be written in is refused before any work, and nothing is published.
    unwritable = runner.invoke(get_app(), ["score", str(sample_dir), "--as-of", "2025-12-01", "--out", "s.csv",
                                           "--snapshots", "/proc/churnml-snapshots"])
    assert unwritable.exit_code == 2 and "--snapshots /proc/churnml-snapshots: cannot write in /proc" in " ".join(unwritable.stderr.split())
    assert not (tmp_path / "s.csv").exists()
    result = runner.invoke(get_app(), ["score", str(sample_dir), "--as-of", "2025-12-01", "--out", "scores.csv"])
    assert result.exit_code == 0, result.output
    assert "Warning: the data ends" not in result.stderr
    # Not a terminal (a scheduler's log): timestamped lines say what runs, as it runs.
    assert re.search(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d Reading and validating ", result.output, re.M)
    assert re.search(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d explained [0-9,]+ of [0-9,]+$", result.output, re.M)
    # ... and no progress bar's last frame after them ("Predicting churn and value ━━━━ 1094/1094"),
    # which repeated those lines in box-drawing characters at the end of every monthly log.
    assert not re.search(r"^(Predicting churn and value|Reasons and segments) +━", result.output, re.M), result.output
    written = pd.read_csv(tmp_path / "scores.csv")
    assert list(written.columns) == list(SCORE_COLUMNS)
    sidecar = json.loads((tmp_path / "scores.csv.json").read_text())
    # The generated sample is clean: nothing set aside, nothing kept without a value.
    assert (sidecar["quarantined_rows"], sidecar["kept_rows"], sidecar["data_last_day"]) == (0, 0, "2025-12-31")
    assert "was there already" not in result.output
    # Run again, as a scheduler's retry does: the same files, and the log says so (it said only "Wrote …").
    files = [tmp_path / "scores.csv", tmp_path / "scores.csv.json", tmp_path / "snapshots" / "features_2025-12-01.parquet"]
    first_bytes = [path.read_bytes() for path in files]
    again = runner.invoke(get_app(), ["score", str(sample_dir), "--as-of", "2025-12-01", "--out", "scores.csv"])
    assert again.exit_code == 0 and [path.read_bytes() for path in files] == first_bytes
    assert ("Note: scores.csv was there already, with the same scores: a rerun on the same data, models and config "
            "writes the same files.") in " ".join(again.output.split())
    # A late data feed: allowed (scoring "today"), but the missing days read as days without purchases.
    late = runner.invoke(get_app(), ["score", str(sample_dir), "--as-of", "2026-01-05", "--out", "late.csv"])
    assert late.exit_code == 0, late.output
    assert ("Warning: the data ends 2025-12-31, 4 day(s) before the as-of date 2026-01-05 would need it to"
            in " ".join(late.stderr.split()))
    assert (tmp_path / "snapshots" / "features_2025-12-01.parquet").exists()
    # Too late: refused, without first warning as if it would run.
    too_late = runner.invoke(get_app(), ["score", str(sample_dir), "--as-of", "2026-01-09", "--out", "late2.csv"])
    assert too_late.exit_code == 2 and "on or before 2026-01-07" in " ".join(too_late.stderr.split())
    assert "Warning: the data ends" not in too_late.stderr

    result = runner.invoke(get_app(), ["retention-list", "scores.csv", "--out", "list.csv", "--budget", "50"])
    assert result.exit_code == 0, result.output
    assert "Retention list" in result.output
    assert "value at risk, no contact (next 90 days)" in result.output
    # A list needs no [problem] horizon_days: it takes the models' horizon from the scores' sidecar, as
    # `train --horizon-days` says (it said retention-list and evaluate needed it in their config, as score does).
    other = runner.invoke(get_app(), ["retention-list", "scores.csv", "--out", "list30.csv", "--budget", "50", "-c", "h30.toml"])
    assert other.exit_code == 0 and "value at risk, no contact (next 90 days)" in other.output, other.output
    import typer

    horizon_help = next(p.help for p in typer.main.get_command(get_app()).commands["train"].params if p.name == "horizon_days")
    assert "score then needs [problem] horizon_days set to it in its --config (retention-list and evaluate take" in horizon_help
    listed = pd.read_csv(tmp_path / "list.csv")
    assert 0 < len(listed) <= 10
    # 80 columns: ids and numbers stay whole; the reasons are listed under the table.
    first = listed.iloc[0]
    assert "\nWhy\n" in result.output and f"1. {first['customer_id']}" in result.output
    assert first["reasons"].split("; ")[0].split()[0] in result.output.split("\nWhy\n", 1)[1]
    # A wide terminal shows them in the table, one per line.
    from churnml.cli import console

    monkeypatch.setattr(console, "width", 200)
    result = runner.invoke(get_app(), ["retention-list", "scores.csv", "--out", "list.csv", "--budget", "50"])
    assert result.exit_code == 0, result.output
    assert "\nWhy\n" not in result.output and "┃ reasons" in result.output
    # What the money is: a wholesaler read a list's ROI on revenue as one on profit ([problem] margin 1).
    assert any(line.split() == ["│", "money", "counted", "as", "│", "revenue", "([problem]", "margin", "1)", "│"]
               for line in result.output.splitlines())
    assert any(line.rstrip(" │").endswith(first["reasons"].split("; ")[0]) for line in result.output.splitlines())

    # A do-not-contact list: a text file of ids, or a table with customer_id; never on the list.
    (tmp_path / "optout.txt").write_text(f"{first['customer_id']}\n\n")
    pd.DataFrame({"id": ["x"]}).to_csv(tmp_path / "wrong.csv", index=False)
    barred = runner.invoke(get_app(), ["retention-list", "scores.csv", "--out", "list2.csv", "--budget", "50", "--exclude", "optout.txt"])
    assert barred.exit_code == 0, barred.output
    assert first["customer_id"] not in set(pd.read_csv(tmp_path / "list2.csv", dtype={"customer_id": str})["customer_id"])
    summary = json.loads((tmp_path / "list2.csv.json").read_text())
    assert summary["excluded"] == 1 and summary["exclude_files"] == ["optout.txt"]
    assert "left out: on an --exclude list" in barred.output
    # Written with leading zeros, in a Windows encoding, among unknown ids: still left out, and said.
    (tmp_path / "optout_zeros.txt").write_bytes(f"000{first['customer_id']}\nMüller\n".encode("cp1252"))
    (tmp_path / "latin.toml").write_text('[input]\nencoding = "cp1252"\n')
    zeros = runner.invoke(get_app(), ["retention-list", "scores.csv", "--out", "list4.csv", "--budget", "50",
                                      "--exclude", "optout_zeros.txt", "--config", "latin.toml"])
    assert zeros.exit_code == 0, zeros.output
    assert first["customer_id"] not in set(pd.read_csv(tmp_path / "list4.csv", dtype={"customer_id": str})["customer_id"])
    said = " ".join((zeros.output + zeros.stderr).split())
    assert f"1 customer(s) were left out because an --exclude id matches theirs only when leading zeros" in said
    assert f"'000{first['customer_id']}' as '{first['customer_id']}'" in said
    assert "1 of 2 --exclude ids match no scored customer (e.g. 'Müller')" in said
    unreadable = runner.invoke(get_app(), ["retention-list", "scores.csv", "--out", "list5.csv", "--exclude", "optout_zeros.txt"])
    assert unreadable.exit_code == 2 and '[input] encoding = "cp1252"' in " ".join(unreadable.stderr.split())
    # An Excel list opens in columns in any locale; an Excel opt-out export is read too (ids as text).
    pd.DataFrame({"customer_id": [first["customer_id"]], "note": ["opted out"]}).to_excel(tmp_path / "optout.xlsx", index=False)
    excel = runner.invoke(get_app(), ["retention-list", "scores.csv", "--out", "list.xlsx", "--budget", "50",
                                      "--exclude", "optout.xlsx"])
    assert excel.exit_code == 0, excel.output
    from churnml import io as churn_io

    from_excel = churn_io.read_table(tmp_path / "list.xlsx")
    assert pd.api.types.is_datetime64_any_dtype(from_excel["as_of"])  # a date cell, as spreadsheets sort and filter it
    import openpyxl

    sheet = openpyxl.load_workbook(tmp_path / "list.xlsx").active
    header = [cell.value for cell in sheet[1]]
    assert sheet.freeze_panes == "A2" and sheet.auto_filter.ref
    assert sheet.cell(row=2, column=header.index("as_of") + 1).number_format == "yyyy-mm-dd"  # not 00:00:00
    assert sheet.cell(row=2, column=header.index("value_at_risk") + 1).number_format == "#,##0.00"
    from_excel["as_of"] = from_excel["as_of"].dt.strftime("%Y-%m-%d")
    from_csv = churn_io.read_table(tmp_path / "list2.csv")
    pd.testing.assert_frame_equal(from_excel, from_csv, check_dtype=False)  # the same list as the CSV with the same exclusion
    listed = json.loads((tmp_path / "list.xlsx.json").read_text())
    assert listed["excluded"] == 1 and listed["as_of"] == "2025-12-01"  # "next 90 days" from when
    page = tmp_path / "list.html"
    assert runner.invoke(get_app(), ["report", "--list", "list.xlsx", "--out", str(page)]).exit_code == 0
    assert "2025-12-01 (the money is over 2025-12-01 to 2026-02-28)" in page.read_text()
    # Every report says what churn means (a reader took it for "stops buying").
    assert listed["problem"] == {"horizon_days": 90, "margin": 1.0, "churn": "closure"}
    assert "churn = the account closes (a row in churn_events) within 90 days" in page.read_text()
    assert "; value = the amounts as recorded: revenue, before costs ([problem] margin" in page.read_text()
    wrong_suffix = runner.invoke(get_app(), ["score", str(sample_dir), "--as-of", "2025-12-01", "--out", "s.xlsx"])
    assert wrong_suffix.exit_code == 2 and "churnml writes Parquet or CSV here, not .xlsx" in " ".join(wrong_suffix.stderr.split())
    wrong = runner.invoke(get_app(), ["retention-list", "scores.csv", "--out", "list3.csv", "--exclude", "wrong.csv"])
    assert wrong.exit_code == 2 and "wrong.csv has no customer_id column (columns: id)" in " ".join(wrong.stderr.split())
    assert not (tmp_path / "list3.csv").exists()
    # The wrong file given as a list: its 5 MB line used to be printed whole as the unmatched "example".
    (tmp_path / "payload.json").write_text('{"customer_ids": ["' + "A" * 5_000_000 + '"]}')
    flood = runner.invoke(get_app(), ["retention-list", "scores.csv", "--out", "list6.csv", "--exclude", "payload.json"])
    assert flood.exit_code == 0 and "1 of 1 --exclude ids match no scored customer" in " ".join(flood.stderr.split())
    assert len(flood.stderr) < 2_000

    result = runner.invoke(get_app(), ["retention-list", "scores.csv", "--out", "list.csv", "--success-rate", "1.5"])
    assert result.exit_code == 2
    assert "Error: Success rate must be in (0, 1], got 1.5." in result.output

    result = runner.invoke(get_app(), ["score", str(sample_dir), "--as-of", "2025-12-01", "--out", "s.csv", "--alias", "nope"])
    assert result.exit_code == 2
    assert "No registered model churnml-churn with alias 'nope'" in result.output


def test_at_risk_reasons_skip_only_low_risk_customers(scores: pd.DataFrame, dataset, models) -> None:
    at_risk = score(dataset, SCORE_AS_OF, models, Config().replace(scoring={"reasons_for": "at_risk"}), chunk_size=300)
    low = at_risk["risk_tier"] == "low"
    assert low.any() and (~low).any()
    assert (at_risk.loc[low, ["reasons", "reason_topics"]] == "").all().all()
    pd.testing.assert_frame_equal(at_risk.loc[~low, ["reasons", "reason_topics"]], scores.loc[~low, ["reasons", "reason_topics"]])
    pd.testing.assert_frame_equal(at_risk.drop(columns=["reasons", "reason_topics"]), scores.drop(columns=["reasons", "reason_topics"]))


def test_score_warns_when_few_distinct_probabilities_tie_customers_and_a_risk_tier_is_empty(
        dataset, sample_dir: Path, fit_small_models, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # An ISP of 3,000 customers: isotonic calibration gave 1,343 scored customers 12 distinct
    # probabilities, 38 % of them 0.0750, "Risk tiers: low 1,261, medium 0, high 82", and the
    # retention list's top 5 tied. Nothing warned. Here a churn model calibrated by isotonic
    # regression on 1,500 generated customers' validation cutoff, registered and scored as usual.
    from sklearn.base import clone
    from typer.testing import CliRunner

    from churnml import tracking
    from churnml.cli import get_app
    from churnml.scoring import FEW_PROBABILITIES

    training = build_training_set(dataset, TRAIN_AS_OF, Config())
    churn, value, names, metadata = fit_small_models(training, (80, 60), 15, ("validation",))
    train, validation = training.split("train"), training.split("validation")
    coarse = clone(churn).set_params(calibration="isotonic").fit(train[names], train["churned"], validation[names], validation["churned"])
    metadata["calibration"] = coarse.calibration_
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlruns' / 'mlflow.db'}")
    with tracking.start_training_run("coarse calibration") as run:
        versions = run.log_models(coarse, value, training.split("test")[names].head(5), metadata)
    for name, version in zip(tracking.MODEL_NAMES, versions):
        tracking.promote(name, version)
    runner = CliRunner()
    result = runner.invoke(get_app(), ["score", str(sample_dir), "--as-of", f"{SCORE_AS_OF:%Y-%m-%d}", "--out", "coarse.parquet"])
    assert result.exit_code == 0, result.output
    probability = pd.read_parquet(tmp_path / "coarse.parquet")["churn_probability"]
    counts = probability.value_counts()
    assert probability.nunique() < FEW_PROBABILITIES
    said = " ".join(result.stderr.split())
    assert (f"Warning: the churn probabilities take only {probability.nunique()} distinct value(s) across the "
            f"{len(probability):,} customers scored; the largest group, {counts.iloc[0]:,} customers "
            f"({counts.iloc[0] / len(probability):.0%}), all have {counts.index[0]:.4g}.") in said
    assert "(its calibration is isotonic, a step function). Retrain with `churnml train`" in said
    sidecar = json.loads((tmp_path / "coarse.parquet.json").read_text())
    assert sidecar["churn_probability_levels"] == {"distinct": probability.nunique(), "largest_tie": int(counts.iloc[0]),
                                                   "largest_tie_value": float(counts.index[0])}
    # Fixed cut points above every probability: the medium and high tiers come out empty, and it says so.
    (tmp_path / "high.toml").write_text(f"[segments]\nrisk_thresholds = [{probability.max() + 0.01:.4f}, {probability.max() + 0.02:.4f}]\n")
    empty = runner.invoke(get_app(), ["score", str(sample_dir), "--as-of", f"{SCORE_AS_OF:%Y-%m-%d}", "--out", "high.parquet",
                                      "-c", "high.toml"])
    assert empty.exit_code == 0, empty.output
    assert f"Warning: no customer fell in the medium or high risk tiers (medium from {probability.max() + 0.01:.3f}" in " ".join(empty.stderr.split())


def test_a_sidecar_that_cannot_be_written_publishes_no_scores(scores, tmp_path: Path) -> None:
    # On a full disk `churnml score` renamed the new scores file into place, then failed writing
    # its sidecar: a scores file without one (or beside the previous run's, which readers then
    # refuse) and exit 2. The sidecar is now written before the scores file is published. Here
    # the file-size limit (RLIMIT_FSIZE) makes a real write fail as a full disk does, on the
    # sidecar only (its drift report is large, the scores small).
    out = tmp_path / "scores.parquet"
    write_scores(scores.iloc[:50], out)  # last month's pair
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    part = tmp_path / "part.parquet"
    scores.iloc[50:70].to_parquet(part)
    script = textwrap.dedent(f"""
        import resource, signal, sys, pandas as pd
        from churnml.scoring import write_scores
        chunk = pd.read_parquet({str(part)!r})
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # the write fails with EFBIG instead
        resource.setrlimit(resource.RLIMIT_FSIZE, (200_000, 200_000))
        try:
            write_scores([chunk], {str(out)!r}, monitor=lambda values: {{"notes": ["x" * 400_000]}})
        except OSError as exc:
            print(exc.errno, exc.filename)
            sys.exit(1)
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 1, done.stderr
    part.unlink()
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before  # no new scores, no temporary file
    assert done.stdout.split() == [str(errno.EFBIG), str(out) + ".json"]  # the error names the file not written


FORMULA_IDS = ('=HYPERLINK("http://x","{}")', "@SUM({})", "'={}", "+{}")
"""Customer ids a spreadsheet opening a CSV would run as formulas ({} numbers the customer)."""
PLAIN_IDS = ("-{}", "'quoted{}")
"""Ids that look like them but are not: a negative number, an apostrophe before text."""
SPLIT_IDS = ("x;=SUM({})",)
"""Ids holding a formula after a ";", where a spreadsheet whose list separator is ";" splits the cell."""


@pytest.mark.slow
def test_ids_like_formulas_are_defused_in_every_csv_and_read_back_as_they_were(use_trained_store, tmp_path, monkeypatch):
    # A customer id (the company's own data) "=HYPERLINK(...)" went into the scores CSV as it was,
    # and Excel ran it when a marketer opened the file; the retention list and quarantine files
    # were defused with a leading "'", and churnml's CSV reader took a leading "'" off every CSV,
    # so a genuine id "'=1" came back from the scores CSV as "=1", in the list and for evaluate.
    # Through validate → score → retention-list (CSV and Excel) → evaluate, report and --exclude,
    # every id now reads back as it was while no CSV cell would run as a formula.
    import csv
    import shutil

    from typer.testing import CliRunner

    from churnml.cli import get_app

    store = Path(use_trained_store.tracking_uri.removeprefix("sqlite:///"))
    (tmp_path / "mlruns").mkdir()
    shutil.copy(store, tmp_path / "mlruns" / store.name)  # evaluate logs a backtest: not in the session's store
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlruns' / store.name}")
    data = tmp_path / "data"
    shutil.copytree(use_trained_store.data, data)
    customers = pd.read_parquet(data / "customers.parquet")
    forms = FORMULA_IDS + PLAIN_IDS + SPLIT_IDS
    renamed = {old: forms[i % len(forms)].format(i) for i, old in enumerate(customers["customer_id"].iloc[::5])}
    for table in ("customers", "transactions", "service_events", "churn_events"):
        frame = pd.read_parquet(data / f"{table}.parquet")
        frame["customer_id"] = frame["customer_id"].replace(renamed)
        if table == "transactions":  # a row validation sets aside (a duplicate transaction_id), of such a customer
            frame = pd.concat([frame, frame[frame["customer_id"] == forms[0].format(0)].head(1)], ignore_index=True)
        frame.to_parquet(data / f"{table}.parquet", index=False)
    ids = set(renamed.values())
    formulas = {i for i in ids if i.startswith(("=", "@", "'=", "+"))}

    defused = {i: "'" + i if i in formulas else i.replace(";", ";'") for i in ids}

    def check_cells(path: Path) -> None:
        """The ids of ``path`` as its cells hold them: the ids read back, with a leading "'" where
        they are formulas; and no cell of any column that a spreadsheet would run."""
        with open(path, encoding="utf-8-sig", newline="") as handle:
            rows = list(csv.reader(handle))
        written = [row[rows[0].index("customer_id")] for row in rows[1:]]
        read = io.read_table(path)["customer_id"].tolist()
        assert written == [defused.get(i, i) for i in read] and ids & set(read), path
        parts = [part for row in rows[1:] for cell in row for part in cell.split(";")]  # cells of a ";" spreadsheet
        assert not [part for part in parts if re.match(r"[=+@\t\r]|-[^0-9]", part)], path

    runner = CliRunner()

    def run(*args: object) -> str:
        result = runner.invoke(get_app(), [str(a) for a in args], terminal_width=200)
        assert result.exit_code == 0, result.output + result.stderr
        return " ".join((result.output + result.stderr).split())

    run("validate", data, "--quarantine-dir", tmp_path / "q")
    check_cells(tmp_path / "q" / "quarantine_transactions.csv")

    scores = tmp_path / "scores.csv"
    run("score", data, "--as-of", use_trained_store.test_cutoff, "--out", scores, "--snapshot-dir", tmp_path / "snapshots")
    check_cells(scores)
    scored = io.read_table(scores)
    population = set(pd.read_parquet(tmp_path / "snapshots" / f"features_{use_trained_store.test_cutoff}.parquet")["customer_id"])
    assert set(scored["customer_id"]) == population and ids & population
    assert {i.format("") for i in forms} <= {re.sub(r"\d+", "", i) for i in ids & population}  # every form was scored

    listing, workbook = tmp_path / "list.csv", tmp_path / "list.xlsx"
    for out in (listing, workbook):
        run("retention-list", scores, "--out", out, "--holdout", "0.4", "--contact-cost", "0")
    check_cells(listing)
    listed = io.read_table(listing)["customer_id"]
    assert set(listed) <= population and ids & set(listed)
    assert io.read_table(workbook)["customer_id"].tolist() == listed.tolist()
    for read_back in (listing, workbook):  # the list's customers found in DATA: ids as they were
        said = run("evaluate", read_back, data)
        assert "Uplift (control churn rate minus contacted)" in said and "listed customers are not in the population" not in said
    said = run("evaluate", scores, data)
    assert f"({len(scored):,} customers" in said
    run("report", "--scores", scores, "--out", tmp_path / "scores.html")
    # Last month's list as --exclude keeps every one of its customers off the next list.
    run("retention-list", scores, "--out", tmp_path / "next.csv", "--exclude", listing, "--contact-cost", "0")
    summary = json.loads((tmp_path / "next.csv.json").read_text())
    assert summary["excluded"] == listed.nunique() and not summary.get("exclude_unmatched")


def _scored_from_csv(tmp_path: Path, column: str, make: Callable, as_text: Callable) -> tuple:
    """Models trained on Parquet data whose customers have ``column`` (``make(closed)``, ``closed``
    whether the customer has a churn event: a strong signal), then `churnml score` on the same data with
    customers.csv holding the column as
    ``as_text`` writes it: the training's scores, the CSV's scores, both drift entries of ``column``, and
    the CSV run's snapshot."""
    import shutil

    from typer.testing import CliRunner

    from churnml.cli import get_app
    from conftest import _served_store

    def edit(customers: pd.DataFrame, data: Path) -> pd.DataFrame:
        closed = set(pd.read_parquet(data / "churn_events.parquet")["customer_id"])
        return customers.assign(**{column: make(customers["customer_id"].isin(closed))})

    store = _served_store(tmp_path / "store", 600, seed=11, edit_customers=edit)
    csv = tmp_path / "csv"
    shutil.copytree(store.data, csv)
    customers = pd.read_parquet(csv / "customers.parquet")
    (csv / "customers.parquet").unlink()
    customers.assign(**{column: as_text(customers[column])}).to_csv(csv / "customers.csv", index=False)
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(tmp_path)
        patch.setenv("MLFLOW_TRACKING_URI", store.tracking_uri)
        result = CliRunner().invoke(get_app(), ["score", str(csv), "--as-of", store.as_of, "--out", "csv_scores.parquet",
                                                "--snapshots", "csv_snapshots"])
    assert result.exit_code == 0, result.output
    expected, got = pd.read_parquet(store.scores), pd.read_parquet(tmp_path / "csv_scores.parquet")
    drift = [next(f for f in json.loads(Path(f"{path}.json").read_text())["monitoring"]["features"] if f["feature"] == column)
             for path in (store.scores, tmp_path / "csv_scores.parquet")]
    for name in ("customer_id", "churn_probability", "predicted_value", "reasons", "segment"):
        assert got[name].tolist() == expected[name].tolist(), name
    return expected, got, drift, pd.read_parquet(next((tmp_path / "csv_snapshots").glob("features_*.parquet")))


def test_models_trained_on_a_parquet_boolean_score_a_csv_export_of_it_alike(tmp_path: Path) -> None:
    # A Parquet boolean column validates as the numbers 1 and 0, the same column in a CSV export
    # as the words True and False. Scoring the CSV with models trained on the Parquet file read
    # every customer's autopay as missing: the scores moved, the reasons and the snapshot held the
    # words, and the only hint was a drift warning on autopay.
    expected, _, drift, snapshot = _scored_from_csv(tmp_path, "autopay", lambda closed: ~closed,
                                                    lambda values: values.astype(str))
    assert drift[1] == drift[0]  # compared as the models read it (it was PSI 17: words against numbers)
    assert expected["reasons"].str.contains("autopay").any()
    assert snapshot["autopay"].dropna().isin([0.0, 1.0]).all()


def test_models_trained_on_a_code_as_a_number_score_it_alike_now_that_it_is_a_category(tmp_path: Path) -> None:
    # An earlier churnml read plan codes "001", "010" as the numbers 1 and 10; validation now reads
    # them as a category. Models trained on the numbers (as on a Parquet integer column) score the
    # codes as they were trained: the same scores, reasons and drift, the snapshot holding numbers.
    expected, _, drift, snapshot = _scored_from_csv(tmp_path, "plan_code", lambda closed: np.where(closed, 10, 1),
                                                    lambda values: values.map({1: "001", 10: "010"}))
    assert load_dataset(tmp_path / "csv", Config()).attributes["plan_code"] == "categorical"
    assert drift[1] == drift[0]
    assert expected["reasons"].str.contains("plan code").any()
    assert snapshot["plan_code"].dropna().isin([1.0, 10.0]).all()


def test_a_scores_csv_writes_the_current_value_to_the_cent_and_reads_back_unchanged(scores, dataset, models,
                                                                                 tmp_path: Path) -> None:
    # current_value is held to the cent, and a CSV wrote it as pandas does: 800.8 and 394.0 beside 201.91.
    import csv

    meta = score_metadata(models, SCORE_AS_OF, Config(), dataset.fingerprint, "champion")
    out, _ = write_scores(scores, tmp_path / "scores.csv", "csv", meta)
    with open(out, newline="", encoding="utf-8") as handle:
        written = [row["current_value"] for row in csv.DictReader(handle)]
    assert any(len(repr(float(v)).partition(".")[2]) < 2 for v in scores["current_value"])  # 394.0, 800.8
    assert all(re.fullmatch(r"-?\d+\.\d\d", text) for text in written), [t for t in written if not re.fullmatch(r"-?\d+\.\d\d", t)][:5]
    # Read back as written: the predicted value and the value at risk keep every digit.
    back = io.read_table(out)
    for column in ("churn_probability", "predicted_value", "value_at_risk", "current_value"):
        assert back[column].to_numpy().tolist() == scores[column].to_numpy().tolist(), column
