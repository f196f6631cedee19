"""`churnml report` and `churnml evaluate`: pages people look at, and backtests once outcomes are known."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.table import Table

from churnml.cli import command, console
from churnml.cli._options import ConfigOpt, DataArg
from churnml.config import load_config
from churnml.errors import ConfigError, DataError

_SHOWN = (("churn", "roc_auc", "ROC AUC"), ("churn", "pr_auc", "PR AUC"), ("churn", "log_loss", "log loss"),
          ("churn", "ece", "ECE"), ("churn", "lift_at_10", "lift @10%"), ("churn", "emp", "EMP / customer"),
          ("value", "normalized_gini", "normalized Gini"), ("value", "mae", "MAE"),
          ("value", "top20_value_capture", "top-20% value share"))


def _sidecar(path: Path) -> dict | None:
    from churnml import io

    sidecar = path.with_name(path.name + ".json")
    return io.read_json(sidecar) if sidecar.is_file() else None


@command("report")
def report_command(
    out: Annotated[Path, typer.Option("--out", "-o", help="HTML file to write.")] = Path("report.html"),
    run_id: Annotated[Optional[str], typer.Option("--run-id", help="Training run to report on [default: the champion's run].")] = None,
    scores: Annotated[Optional[Path], typer.Option("--scores", help="Scores file written by `churnml score` (reads its .json sidecar too).")] = None,
    list_file: Annotated[
        Optional[Path], typer.Option("--list", help="Retention list written by `churnml retention-list` (reads its .json summary too).")
    ] = None,
    config: ConfigOpt = None,
) -> None:
    """Write a self-contained HTML report (plots embedded, opens offline).

    Give one of --run-id, --scores or --list; with none, the report is on the champion's training
    run. A run report reads the MLflow store (MLFLOW_TRACKING_URI, else ./mlruns/mlflow.db): model
    vs baselines and grade, ROC/PR, calibration, gains and lift, value deciles, feature importance,
    the most common reasons and the data summary. A scores report shows the score distributions,
    the value × risk matrix, value by segment, top reasons by segment and drift. A list report
    shows its summary and the expected value saved against budget. Writes OUT atomically.
    """
    from churnml import io, reports, tracking

    chosen = [name for name, value in (("--run-id", run_id), ("--scores", scores), ("--list", list_file)) if value is not None]
    if len(chosen) > 1:
        raise ConfigError(f"Give only one of --run-id, --scores or --list (got {' and '.join(chosen)}).")
    cfg = load_config(config)
    if scores is not None:
        page = reports.scores_report(io.read_table(scores), _sidecar(scores), cfg)
        what = f"scores {scores}"
    elif list_file is not None:
        summary = _sidecar(list_file)
        if summary is None:
            raise DataError(f"{list_file} has no summary {list_file.name}.json beside it. "
                            "Write the list with `churnml retention-list`, which writes both.")
        page = reports.list_report(io.read_table(list_file), summary, cfg)
        what = f"retention list {list_file}"
    else:
        run_id = run_id or tracking.champion_run_id()
        page = reports.run_report(tracking.load_run(run_id))
        what = f"training run {run_id}"
    with io.atomic_path(out) as tmp:
        tmp.write_text(page, encoding="utf-8")
    console.print(f"Wrote {out} ({len(page) / 1e6:.1f} MB): report on {what}. Open it in any browser; it needs no network.")


@command("evaluate")
def evaluate_command(
    scores: Annotated[Path, typer.Argument(metavar="SCORES", help="Scores file written by `churnml score` (.parquet or .csv).")],
    data: DataArg,
    config: ConfigOpt = None,
) -> None:
    """Backtest old scores once their horizon has passed: what the models said vs what happened.

    Reads SCORES (and its .json sidecar for the training run) and DATA, which must now cover the
    horizon after the scores' as-of date. Computes the actual churn and value labels of the scored
    customers and the same metrics as training, and writes them to MLflow against the model
    versions: a `backtest` run, `backtest_*` metric history on the training run (step = days since
    the training as-of date) and tags on both registered versions, so decay over time is visible.
    """
    from churnml import io, tracking
    from churnml.monitoring import evaluate_scores
    from churnml.validate import load_dataset

    cfg = load_config(config)
    table = io.read_table(scores)
    for column in ("churn_model_version", "value_model_version"):
        if column not in table.columns or table[column].nunique() != 1:
            raise DataError(f"{scores} needs one {column} for all rows. Use a scores file written by `churnml score`.")
    churn_version, value_version = str(table["churn_model_version"].iloc[0]), str(table["value_model_version"].iloc[0])
    sidecar = _sidecar(scores) or {}
    run_id = sidecar.get("models", {}).get("run_id") or tracking.run_id_of(tracking.CHURN_MODEL_NAME, churn_version)
    run = tracking.load_run(run_id)
    horizon = int(run.metadata.get("horizon_days", cfg.problem.horizon_days))
    dataset = load_dataset(data, cfg)
    as_of, backtest = evaluate_scores(table, dataset, horizon, cfg)
    backtest_run = tracking.log_backtest(
        run_id, churn_version, value_version, as_of, backtest.churn, backtest.value,
        {"scores": str(scores), "customers": backtest.customers, "unlabelled": backtest.unlabelled,
         "churn_rate": f"{backtest.churn_rate:.4f}", "data_fingerprint": dataset.fingerprint, "horizon_days": horizon},
    )
    trained = run.metadata.get("test_metrics", {})
    shown = Table(title=f"Backtest of scores as of {as_of:%Y-%m-%d} ({backtest.customers:,} customers, "
                        f"churn rate {backtest.churn_rate:.1%})", title_justify="left")
    for column in ("metric", "now", f"training test ({', '.join(run.metadata.get('cutoffs', {}).get('test', []))})", "change"):
        shown.add_column(column, justify="left" if column == "metric" else "right")
    for kind, key, label in _SHOWN:
        now = getattr(backtest, kind)[key]
        then = trained.get(kind, {}).get("model", {}).get(key)
        shown.add_row(label, f"{now:.4f}", "–" if then is None else f"{then:.4f}", "–" if then is None else f"{now - then:+.4f}")
    console.print(shown)
    if backtest.unlabelled:
        console.print(f"[yellow]{backtest.unlabelled:,} scored customers have no label[/yellow] (not in the population "
                      "of DATA at that date): is DATA the data they were scored from?")
    console.print(f"Logged to MLflow: backtest run {backtest_run} against churnml-churn v{churn_version} and "
                  f"churnml-value v{value_version} (training run {run_id}).")
