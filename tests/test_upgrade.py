"""Artifacts an older churnml wrote, read by this one: each test builds the old shape by hand (CI
cannot run old code), as an operator who upgrades keeps last month's scores, lists and models."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from churnml.cli import get_app


def run(*args: object) -> tuple[int, str]:
    result = CliRunner().invoke(get_app(), [str(a) for a in args])
    assert "Traceback" not in result.output + result.stderr, result.stderr
    return result.exit_code, " ".join(result.stderr.split())


def scores_before_the_split(folder: Path, *, split: bool = False) -> Path:
    """Scores as churnml wrote them before new_customer and low_value_active were split from
    dormant: low-value customers who are new, growing or stable sit in dormant (``split``: as
    churnml writes them now)."""
    folder.mkdir(parents=True, exist_ok=True)
    stages = ["new", "growing", "stable", "stable", "declining", "lapsed"]
    current = ["new_customer", "low_value_active", "low_value_active", "low_value_active", "dormant", "dormant"]
    frame = pd.DataFrame({
        "customer_id": [f"C{i}" for i in range(7)], "as_of": pd.Timestamp("2025-10-01"),
        "churn_probability": [0.2, 0.15, 0.1, 0.1, 0.3, 0.05, 0.6], "predicted_value": [40.0] * 6 + [900.0],
        "value_at_risk": [30.0, 25.0, 20.0, 20.0, 60.0, 5.0, 700.0], "risk_tier": "medium",
        "value_tier": ["low"] * 6 + ["high"],
        "segment": (current if split else ["dormant"] * 6) + ["high_value_at_risk"],
        "lifecycle_stage": stages + ["declining"],
        "reasons": "2 unresolved complaints", "churn_model_version": "1", "value_model_version": "1",
        "current_value": 10.0,
    })
    if split:  # churnml writes each reason's topic since after the split
        frame["reason_topics"] = "service"
    frame.to_parquet(folder / "scores.parquet", index=False)
    return folder / "scores.parquet"


NO_TOPICS = ("These scores were written by an older churnml, before reasons had topics: the list's talking_point column "
             "is empty. Run `churnml score` again for a talking point per customer from their reasons.")


def test_a_list_from_scores_written_before_reason_topics_has_no_talking_point_and_says_so(tmp_path: Path) -> None:
    # The talking point comes from what the strongest reason is about, which the scores record since
    # reason_topics; the sentences alone do not say which feature gave them. Last month's scores still
    # make a list, the same list, with the column empty and a warning (printed, in the summary file
    # and in the workbook) to score again.
    from churnml.segments import DEFAULT_TALKING_POINTS

    old = scores_before_the_split(tmp_path / "old", split=True)
    pd.read_parquet(old).drop(columns="reason_topics").to_parquet(old, index=False)
    code, err = run("retention-list", old, "--out", tmp_path / "old.csv")
    assert code == 0 and NO_TOPICS in err
    listed = pd.read_csv(tmp_path / "old.csv", keep_default_na=False, encoding="utf-8-sig")
    assert list(listed.columns[-2:]) == ["suggested_action", "talking_point"] and len(listed) > 0
    assert (listed["talking_point"] == "").all() and (listed["reasons"] == "2 unresolved complaints").all()
    assert json.loads((tmp_path / "old.csv.json").read_text())["warnings"] == [NO_TOPICS]
    code, err = run("retention-list", old, "--out", tmp_path / "old.xlsx")
    assert code == 0
    sheets = pd.read_excel(tmp_path / "old.xlsx", sheet_name=None)
    assert NO_TOPICS in sheets["summary"].iloc[:, 1].tolist()
    # The same customers from current scores: the complaint's talking point.
    code, err = run("retention-list", scores_before_the_split(tmp_path / "new", split=True), "--out", tmp_path / "new.csv")
    assert code == 0 and "topics" not in err
    current = pd.read_csv(tmp_path / "new.csv", keep_default_na=False, encoding="utf-8-sig")
    assert current["customer_id"].tolist() == listed["customer_id"].tolist()
    assert (current["talking_point"] == DEFAULT_TALKING_POINTS["service"]).all()


def test_a_list_from_scores_written_before_the_dormant_split_says_so(tmp_path: Path) -> None:
    # After the upgrade, last month's scores still hold dormant's new, growing and stable customers
    # under dormant: `--segment low_value_active` answered "none of the 7 scored customers is in the
    # segment asked for" and the list priced and skipped them as dormant, without a word on why.
    old = scores_before_the_split(tmp_path / "old")
    code, err = run("retention-list", old, "--out", tmp_path / "all.csv")
    assert code == 0
    said = ("These scores were written by an older churnml, before new_customer and low_value_active were split from "
            "dormant: their dormant customers include 1 new (new_customer), 3 growing or stable (low_value_active) by "
            "lifecycle stage. This list treats them as dormant (its action, [targeting] contact_costs and "
            "skip_segments). Run `churnml score` again for scores with the current segments.")
    assert said in err
    # The warning was printed, and only printed: the summary file, which a scheduled job keeps and
    # `POST /retention_list` mirrors, recorded the list's other warnings but not this one.
    assert json.loads((tmp_path / "all.csv.json").read_text())["warnings"] == [said, NO_TOPICS]
    code, err = run("retention-list", old, "--out", tmp_path / "active.csv", "--segment", "Low-value active")
    assert code == 0
    assert "none of the 7 scored customers is in the segment asked for (Low-value active)" in err
    assert "and asking for low_value_active finds none of them. Run `churnml score` again" in err
    assert any("asking for low_value_active finds none of them" in text
               for text in json.loads((tmp_path / "active.csv.json").read_text())["warnings"])
    # Scores of this churnml: nothing to say.
    code, err = run("retention-list", scores_before_the_split(tmp_path / "new", split=True), "--out", tmp_path / "n.csv")
    assert code == 0 and "older churnml" not in err


def test_train_says_the_mlflow_store_is_out_of_date_before_reading_the_data(tmp_path: Path, monkeypatch) -> None:
    # churnml reinstalled with a newer MLflow (mlflow>=3.4,<4) finds the store an older MLflow made
    # out of date. `train` read and validated the data, built the training set and fitted the
    # baselines first, and only then said "Detected out-of-date database schema".
    import sqlite3
    import subprocess
    import sys

    import mlflow.store.db_migrations
    from alembic.script import ScriptDirectory

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    database = tmp_path / "mlruns" / "mlflow.db"
    database.parent.mkdir()
    # This MLflow's schema, made in another process: MLflow checks a store's schema once per process.
    subprocess.run([sys.executable, "-c", "import mlflow, sys; mlflow.MlflowClient(sys.argv[1]).search_experiments()",
                    f"sqlite:///{database}"], check=True, capture_output=True)
    script = ScriptDirectory(str(Path(mlflow.store.db_migrations.__file__).parent))
    older = script.get_revision(script.get_current_head()).down_revision
    with sqlite3.connect(database) as connection:  # as the MLflow before the last migration left it
        connection.execute("UPDATE alembic_version SET version_num = ?", (older,))
    data = tmp_path / "data"
    data.mkdir()
    pd.DataFrame({"customer_id": ["a", "b"]}).to_csv(data / "customers.csv", index=False)
    pd.DataFrame({"customer_id": ["a", "b"], "timestamp": ["2025-01-02", "2025-01-03"],
                  "amount": [10.0, 20.0]}).to_csv(data / "transactions.csv", index=False)
    result = CliRunner().invoke(get_app(), ["train", str(data), "--as-of", "2025-01-04"])
    err = " ".join(result.stderr.split())
    assert result.exit_code == 2, result.output + result.stderr
    assert f"Detected out-of-date database schema (found version {older}" in err
    assert "mlflow db upgrade" in err and f"now sqlite:///{database}" in err
    assert "Reading and validating" not in result.output


@pytest.mark.slow
def test_evaluate_adds_the_figures_a_backtest_an_older_churnml_logged_lacks(use_trained_store, tmp_path: Path) -> None:
    # The operator's monthly evaluate had backtested last month's scores before the upgrade; run again
    # after it (a backfill of the last three months), it printed the intervals and the value at risk
    # against the value lost, but said "Already logged (the same scores and data)" and logged none of
    # them: MLflow kept the older churnml's figures only.
    from churnml import tracking
    from churnml.cli.report import backtest_inputs
    from churnml.config import Config
    from churnml.monitoring import evaluate_scores

    out = tmp_path / "scores.parquet"
    code, err = run("score", use_trained_store.data, "--as-of", "2025-08-20", "--out", out, "--snapshots", tmp_path / "snapshots")
    assert code == 0, err
    table = pd.read_parquet(out)
    as_of, backtest = evaluate_scores(table, use_trained_store.dataset, 90, Config())
    # What an older churnml computed and logged: no intervals, no value at risk against the value lost.
    newer = {"churners_brought", "churners_brought_share", "churners_value_if_retained", "value_at_risk_level_ratio",
             "value_at_risk_total", "value_lost_total", "value_weighted_churn_ratio"}
    older_churn = {k: v for k, v in backtest.churn.items() if not k.endswith(("_low", "_high"))}
    older_value = {k: v for k, v in backtest.value.items() if not k.endswith(("_low", "_high")) and k not in newer}
    run_id = use_trained_store.result.run_id
    churn, value = str(table["churn_model_version"].iloc[0]), str(table["value_model_version"].iloc[0])
    inputs = backtest_inputs(out, use_trained_store.dataset.fingerprint, 90, run_id, churn, value)
    logged = tracking.log_backtest(run_id, churn, value, as_of, older_churn, older_value, inputs=inputs)
    client = tracking._client()
    computed = {f"churn_model_{k}" for k in backtest.churn} | {f"value_model_{k}" for k in backtest.value}
    lacked = sorted(computed - set(client.get_run(logged).data.metrics))
    assert "value_model_value_at_risk_level_ratio" in lacked and "churn_model_roc_auc_low" in lacked

    result = CliRunner().invoke(get_app(), ["evaluate", str(out), str(use_trained_store.data)], terminal_width=400)
    said = " ".join(result.output.split())
    assert result.exit_code == 0, result.output + result.stderr
    assert (f"Already logged to MLflow: backtest run {logged} (the same scores and data) against churnml-churn v{churn} and "
            f"churnml-value v{value} (training run {run_id}). An older churnml logged it: added the {len(lacked)} figures it "
            f"lacked ({', '.join(lacked)}).") in said
    metrics = client.get_run(logged).data.metrics
    assert metrics["value_model_value_at_risk_level_ratio"] == pytest.approx(backtest.value["value_at_risk_level_ratio"])
    assert metrics["churn_model_roc_auc"] == pytest.approx(backtest.churn["roc_auc"])  # as the older churnml logged it
    history = client.get_metric_history(run_id, "backtest_value_model_value_at_risk_level_ratio")
    assert [point.timestamp for point in history].count(int(as_of.timestamp() * 1000)) == 1
    # Run again: nothing left to add, nothing said.
    again = CliRunner().invoke(get_app(), ["evaluate", str(out), str(use_trained_store.data)], terminal_width=400)
    assert again.exit_code == 0 and "older churnml" not in again.output
    assert len(client.get_metric_history(run_id, "backtest_value_model_value_at_risk_level_ratio")) == len(history)
