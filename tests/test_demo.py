"""`churnml demo` end to end at a small size: the whole main job, as `make demo` runs it."""

from __future__ import annotations

import os
from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import pytest
from typer.testing import CliRunner

from churnml.cli import get_app

pytestmark = pytest.mark.slow


def test_demo_runs_the_whole_pipeline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Run where production lives: its snapshot of the demo's as-of date, its default store and
    # the store MLFLOW_TRACKING_URI names stay as they were; the demo keeps everything under --out.
    monkeypatch.chdir(tmp_path)
    (tmp_path / "snapshots").mkdir()
    production_snapshot = tmp_path / "snapshots" / "features_2026-01-01.parquet"
    production_snapshot.write_bytes(b"production features")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'prod' / 'mlflow.db'}")
    result = CliRunner().invoke(get_app(), ["demo", "--customers", "1000", "--trials", "2", "--out", "out"])
    assert result.exit_code == 0, result.output + str(result.exception)
    text = " ".join(result.output.replace("│", " ").split())  # the summary box's lines wrap inside its borders
    assert "churnml demo — done" in text
    assert "Grades of that run: churn" in text
    assert "Note: MLFLOW_TRACKING_URI is set; the demo keeps its runs and models in out/mlruns all the same" in text
    # A new folder, a new store: the run it trained is the champion that scored.
    assert "(churnml-churn v1, churnml-value v1): first model: promoted to champion." in text
    assert "come from the champion" not in text
    assert "mlflow ui --backend-store-uri sqlite:///out/mlruns/mlflow.db" in text
    assert "MLFLOW_TRACKING_URI=sqlite:///out/mlruns/mlflow.db churnml serve --snapshots out/snapshots" in text
    assert production_snapshot.read_bytes() == b"production features"
    assert not (tmp_path / "prod").exists() and not (tmp_path / "mlruns").exists()
    assert list((tmp_path / "snapshots").iterdir()) == [production_snapshot]
    assert os.environ["MLFLOW_TRACKING_URI"] == f"sqlite:///{tmp_path / 'prod' / 'mlflow.db'}"  # as it was
    assert "Next:" not in text   # the demo runs each next step itself
    # At 80 columns each file's line fits the box: "rows set aside or kept without a value (if any)" ran
    # past it, its end ("value (if any)") on a line of its own under the paths.
    box = result.output.split("Files written:")[1].split("╰")[0].splitlines()[1:]
    assert box and all(line.startswith("│   out/") for line in box), box

    scores = pd.read_parquet(tmp_path / "out" / "scores.parquet")
    assert len(scores) > 0 and scores["churn_probability"].between(0, 1).all()
    retention = pd.read_csv(tmp_path / "out" / "retention_list.csv")
    assert list(retention.columns[:4]) == ["rank", "customer_id", "as_of", "segment"]
    assert (retention["expected_benefit"] > 0).all()
    assert "loyal_high_value" not in set(retention["segment"])  # "reward, do not disturb"
    assert (tmp_path / "out" / "mlruns" / "mlflow.db").is_file()
    assert [p.name for p in (tmp_path / "out" / "snapshots").glob("features_*.parquet")] == ["features_2026-01-01.parquet"]
    # The reports people open first, on this run, these scores and this list.
    for kind, shows in (("run", "Model vs baselines"), ("scores", "Drift against the training data"),
                        ("list", "Expected value saved vs budget")):
        page = (tmp_path / "out" / f"report_{kind}.html").read_text()
        assert shows in page, kind
        assert f"out/report_{kind}.html" in text


def test_demo_refuses_a_sample_too_small_to_train(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(get_app(), ["demo", "--customers", "50"])
    assert result.exit_code == 2
    assert "Error: --customers must be at least 300 for a model worth training, got 50." in " ".join(result.stderr.split())
    assert not (tmp_path / "demo_out").exists()


def test_demo_summary_names_the_champion_that_scored_when_its_run_was_not_promoted() -> None:
    from churnml.cli.demo import _scored_with

    trained = SimpleNamespace(churn_version="2", value_version="2")
    assert _scored_with(trained, {"churn_model_version": "2", "value_model_version": "2"}) == []
    lines = _scored_with(trained, {"churn_model_version": "1", "value_model_version": "1", "run_id": "abc", "grade": "A"})
    assert lines == ["The scores, the list and their reports come from the champion, churnml-churn v1 and churnml-value v1 "
                     "(run abc, grade A), not from this run. `churnml promote` moves the champion by hand; a new --out "
                     "starts afresh."]
