"""`churnml demo`: the whole main job on a generated sample, start to finish."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any

import pandas as pd
import typer
from rich.panel import Panel
from rich.rule import Rule

from churnml.cli import _next_steps, command, console
from churnml.cli._options import RefusedConfigOpt, refuse_config
from churnml.errors import ConfigError

DEMO_END = "2025-12-31"
"""Last day of the generated history; the demo scores as of the day after."""


@command("demo")
def demo_command(
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder for everything the demo writes.")] = Path("demo_out"),
    customers: Annotated[int, typer.Option("--customers", "-n", help="Customers in the generated sample.")] = 20_000,
    trials: Annotated[int, typer.Option("--trials", help="Optuna trials per model.")] = 10,
    seed: Annotated[int, typer.Option("--seed", help="Seed for data generation and training.")] = 7,
    budget: Annotated[float, typer.Option("--budget", help="Retention budget (total contact cost) for the list.")] = 5_000.0,
    config: RefusedConfigOpt = None,
) -> None:
    """Run the whole pipeline on a generated sample: generate → validate → train → score → retention list → reports.

    Writes OUT/data/ (the sample), OUT/quarantine/ (rows set aside or kept without a value, if any), OUT/scores.parquet (+ .json sidecar),
    OUT/retention_list.csv (+ .json summary), the HTML reports OUT/report_run.html, OUT/report_scores.html
    and OUT/report_list.html (open in any browser) and OUT/snapshots/features_YYYY-MM-DD.parquet for the HTTP
    service; tracks the training run and registers the models in an MLflow store of its own, OUT/mlruns.
    Everything stays under OUT: ./mlruns, ./snapshots and the store MLFLOW_TRACKING_URI names are not
    touched, so the demo can run beside production. Ends with the grades of the run it trained, whether
    its models became champion, segment counts, the top of the list and every path written. No config
    is read: every step runs with the default settings (run one again on OUT with --config to see yours).
    """
    # Imported here so that `churnml --help` lists commands in workflow order (see COMMAND_MODULES).
    from churnml.cli.generate import generate_command
    from churnml.cli.report import report_command
    from churnml.cli.score import retention_list_command, score_command
    from churnml.cli.train import train_command
    from churnml.cli.validate import validate_command

    refuse_config("demo", config, (
        "it runs every step with the default settings on a sample generated in churnml's own table and column names "
        "and formats, which a config's mappings, written for your data, do not fit. Drop --config; to see your "
        f"settings on the sample, run a step again with it after the demo, e.g. `churnml retention-list "
        f"{out / 'scores.parquet'} --config {config} --out {out / 'retention_list_mine.csv'}`."))
    if customers < 300:
        raise ConfigError(f"--customers must be at least 300 for a model worth training, got {customers}.")
    data = out / "data"
    scores = out / "scores.parquet"
    retention = out / "retention_list.csv"
    reports = {kind: out / f"report_{kind}.html" for kind in ("run", "scores", "list")}
    snapshots = out / "snapshots"
    store = f"sqlite:///{out / 'mlruns' / 'mlflow.db'}"
    as_of = (pd.Timestamp(DEMO_END) + pd.Timedelta(days=1)).strftime("%Y-%m-%d")

    _next_steps.append(False)  # each step runs the next one itself
    # The demo's own store: run in a production folder (or with MLFLOW_TRACKING_URI exported for
    # production), it registered its models beside the real ones, compared them with the real
    # champion and overwrote the real snapshot of its as-of date, which `churnml serve` then served.
    # The store the closing lines print: tracking.tracking_uri() reads a relative path from this
    # working directory, as it does for `churnml serve`.
    previous_uri = os.environ.get("MLFLOW_TRACKING_URI")
    os.environ["MLFLOW_TRACKING_URI"] = store
    if previous_uri:
        console.print(f"Note: MLFLOW_TRACKING_URI is set; the demo keeps its runs and models in {out / 'mlruns'} all the "
                      "same, away from that store.", soft_wrap=False)
    try:
        console.print(Rule(f"1/6  Generate {customers:,} customers"))
        generate_command(out=data, customers=customers, seed=seed, end=DEMO_END)
        console.print(Rule("2/6  Validate"))
        validate_command(data=data, quarantine_dir=out / "quarantine")
        console.print(Rule(f"3/6  Train as of {as_of} ({trials} trials per model)"))
        result = train_command(data=data, as_of=as_of, trials=trials, seed=seed)
        console.print(Rule("4/6  Score"))
        score_command(data=data, as_of=as_of, out=scores, snapshot_dir=snapshots)
        console.print(Rule(f"5/6  Retention list (budget {budget:,.0f})"))
        retention_list_command(scores=scores, out=retention, budget=budget)
        console.print(Rule("6/6  Reports"))
        report_command(out=reports["run"], run_id=result.run_id)
        report_command(out=reports["scores"], scores=scores)
        report_command(out=reports["list"], list_file=retention)
    finally:
        _next_steps.pop()
        if previous_uri is None:
            os.environ.pop("MLFLOW_TRACKING_URI", None)
        else:
            os.environ["MLFLOW_TRACKING_URI"] = previous_uri

    from churnml.io import read_json
    from churnml.metrics import GRADE_LEGEND

    churn = result.churn_metrics["model"]
    value = result.value_metrics["model"]
    used = read_json(scores.with_name(scores.name + ".json"))["models"]
    console.print(
        Panel.fit(
            "\n".join(
                [
                    f"Trained run {result.run_id} (churnml-churn v{result.churn_version}, churnml-value v{result.value_version}): "
                    f"{result.promotion_reason}.",
                    *_scored_with(result, used),
                    f"Grades of that run: churn {result.grades['churn']}, value {result.grades['value']}, overall {result.grades['overall']} "
                    f"({GRADE_LEGEND}).",
                    f"Churn model on the test cutoff: ROC AUC {churn['roc_auc']:.3f}, PR AUC {churn['pr_auc']:.3f}, "
                    f"ECE {churn['ece']:.3f}, lift@10% {churn['lift_at_10']:.2f}.",
                    f"Value model: normalized Gini {value['normalized_gini']:.3f}, Spearman {value['spearman']:.3f}.",
                    "",
                    "Files written:",
                    *_file_lines([
                        (f"{data}/", "generated sample"),
                        (f"{out / 'quarantine'}/", "rows set aside or blanked (if any)"),
                        (f"{scores} (+ .json)", "scores for every active customer"),
                        (f"{retention} (+ .json)", "who to contact, why, with what"),
                        (str(reports["run"]), "the run: model vs baselines"),
                        (str(reports["scores"]), "the scores: segments, drift"),
                        (str(reports["list"]), "the list: cost, value saved"),
                        (f"{snapshots}/", "snapshot for `churnml serve`"),
                        (f"{out / 'mlruns'}/", "the demo's MLflow runs and models"),
                    ]),
                ]
            ),
            title="churnml demo — done",
        ),
        soft_wrap=False,  # the console's soft_wrap would crop the panel's lines at the width, not wrap them
    )
    # Below the box, one line each: commands to copy, which the box's borders would cut.
    console.print(f"Look at the runs:  mlflow ui --backend-store-uri {store}\n"
                  f"Serve the API:     MLFLOW_TRACKING_URI={store} churnml serve --snapshots {snapshots}\n"
                  "(churnml and mlflow are in .venv/bin: `source .venv/bin/activate` first)", soft_wrap=True, markup=False)


def _file_lines(files: list[tuple[str, str]]) -> list[str]:
    """``path   what it is`` lines, the descriptions lined up."""
    width = max(len(path) for path, _ in files)
    return [f"  {path:<{width}}  {what}" for path, what in files]


def _scored_with(result: Any, used: dict[str, Any]) -> list[str]:
    """What the scores, the list and their reports came from, when not the models the demo trained: a
    demo run again in the same folder after an upgrade may not beat the champion its last run left,
    and its summary graded the new run while everything after training came from the old one."""
    if (used.get("churn_model_version"), used.get("value_model_version")) == (result.churn_version, result.value_version):
        return []
    return [f"The scores, the list and their reports come from the champion, churnml-churn v{used.get('churn_model_version')} "
            f"and churnml-value v{used.get('value_model_version')} (run {used.get('run_id')}, grade {used.get('grade')}), "
            "not from this run. `churnml promote` moves the champion by hand; a new --out starts afresh."]
