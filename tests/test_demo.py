"""`churnml demo` end to end at a small size: the whole main job, as `make demo` runs it."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from churnml.cli import get_app

pytestmark = pytest.mark.slow


def test_demo_runs_the_whole_pipeline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    result = CliRunner().invoke(get_app(), ["demo", "--customers", "2000", "--trials", "2", "--out", "out"])
    assert result.exit_code == 0, result.output + str(result.exception)
    text = " ".join(result.output.split())
    assert "churnml demo — done" in text
    assert "Grades: churn" in text
    assert "mlflow ui --backend-store-uri sqlite:///mlruns/mlflow.db" in text
    assert "Next:" not in text   # the demo runs each next step itself

    scores = pd.read_parquet(tmp_path / "out" / "scores.parquet")
    assert len(scores) > 0 and scores["churn_probability"].between(0, 1).all()
    retention = pd.read_csv(tmp_path / "out" / "retention_list.csv")
    assert list(retention.columns[:4]) == ["rank", "customer_id", "as_of", "segment"]
    assert (retention["expected_benefit"] > 0).all()
    assert "loyal_high_value" not in set(retention["segment"])  # "reward, do not disturb"
    assert (tmp_path / "mlruns" / "mlflow.db").is_file()
    assert list((tmp_path / "snapshots").glob("features_*.parquet"))
    # The reports people open first, on this run, these scores and this list.
    for kind, shows in (("run", "Model vs baselines"), ("scores", "Drift against the training data"),
                        ("list", "Expected value saved vs budget")):
        page = (tmp_path / "out" / f"report_{kind}.html").read_text()
        assert shows in page, kind
        assert f"out/report_{kind}.html" in text


def test_demo_names_the_tracking_store_it_used(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # With MLFLOW_TRACKING_URI set, the panel still sent the user to mlruns/, where nothing was.
    monkeypatch.chdir(tmp_path)
    store = f"sqlite:///{tmp_path / 'elsewhere' / 'mlflow.db'}"
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.setenv("MLFLOW_TRACKING_URI", store)
    result = CliRunner().invoke(get_app(), ["demo", "--customers", "1000", "--trials", "1", "--out", "out"])
    assert result.exit_code == 0, result.output + str(result.exception)
    text = "".join(result.output.replace("│", " ").split())  # the panel may break a long path anywhere
    assert f"mlflowui--backend-store-uri{store}" in text and "mlruns/" not in text
    assert (tmp_path / "elsewhere" / "mlflow.db").is_file() and not (tmp_path / "mlruns").exists()


def test_demo_refuses_a_sample_too_small_to_train(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(get_app(), ["demo", "--customers", "50"])
    assert result.exit_code == 2
    assert "Error: --customers must be at least 300 for a model worth training, got 50." in " ".join(result.stderr.split())
    assert not (tmp_path / "demo_out").exists()
