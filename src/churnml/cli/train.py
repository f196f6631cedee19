"""`churnml train`, `churnml models`, `churnml promote`: training and the model registry."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any, Optional

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from churnml.cli import command, console, log, next_step, print_whole, start_spark, warn, working
from churnml.cli._options import ConfigOpt, EngineOpt, MasterOpt, RefusedConfigOpt, SourceArg, check_engine, parse_as_of, refuse_config, registry_only
from churnml.cli.validate import show_data_notes
from churnml.config import load_config
from churnml.errors import ConfigError, ModelNotFoundError

CHURN_ROWS = (("roc_auc", "ROC AUC"), ("roc_auc_active", "ROC AUC, bought in last year"), ("pr_auc", "PR AUC"), ("log_loss", "log loss"), ("brier", "Brier"),
              ("ece", "ECE"), ("lift_at_10", "lift @10%"), ("recall_at_20", "recall @20%"), ("emp", "EMP / customer"))
VALUE_ROWS = (("normalized_gini", "normalized Gini, expected value"), ("spearman", "Spearman"), ("mae", "MAE"), ("rmse", "RMSE"),
              ("decile_wmape", "decile MAPE, value-weighted"), ("top20_value_capture", "top-20% value share"),
              ("top10_value_capture", "top-10% value share"), ("normalized_gini_positive", "normalized Gini, value > 0"),
              ("spearman_positive", "Spearman, value > 0"), ("zero_value_share", "share with no value"))
"""The test metrics `train` prints, and their labels (`evaluate` shows some of them, labelled alike)."""


def value_gini_note(result: Any) -> str:
    """What `train`'s value Gini is, beside the one `churnml models` lists for the same version: the
    value table grades the expected value, ``(1 - churn probability) x value if retained``, over every
    test customer (as the baselines predict it); the promotion gate, and so `models`, compare the
    value if retained over those who stayed. `train` printed 0.8504 and `models` 0.7933 for one
    version, neither saying which was which. Empty for a result without the gate's figure."""
    gini = result.value_metrics["model"].get("normalized_gini")
    gate = result.value_if_retained_gini
    if gini is None or gate is None:
        return ""
    stayed = result.test_customers - result.test_churners
    # With several test cutoffs a customer has a row at each: the Ginis are over rows.
    distinct = result.training_set.get("splits", {}).get("test", {}).get("customers", result.test_customers)
    each = (f"{result.test_customers:,} test customers" if distinct == result.test_customers
            else f"{result.test_customers:,} test rows ({distinct:,} customers, a row per test cutoff)")
    who = "customers" if distinct == result.test_customers else "rows of customers"
    return (f"Value Gini: {gini:.4f} above is the normalized Gini of the expected value ((1 − churn probability) × value "
            f"if retained) against what each of the {each} brought, which the grade "
            f"and the baselines compare; `churnml models` lists, and the promotion gate compares, the normalized Gini of "
            f"the value if retained over the {stayed:,} {who} who stayed: {gate:.4f} for this run.")


def _metrics_table(kind: str, grade: str, metrics: dict[str, dict[str, float]], rows: tuple, counts: str = "") -> Table:
    """Model and baselines side by side on the test cutoff, one row per metric."""
    table = Table(title=f"{kind} on the test {counts} — grade {grade}", title_justify="left")
    table.add_column("metric")
    for name in metrics:
        table.add_column(name, justify="right")
    for key, label in rows:
        table.add_row(label, *("–" if m.get(key) is None or m[key] != m[key] else f"{m[key]:.4f}" for m in metrics.values()))
    return table


@command("train")
def train_command(
    data: SourceArg,
    as_of: Annotated[str, typer.Option("--as-of", help=(
        "As-of date (YYYY-MM-DD): the test cutoff's label window ends here, and features see only events "
        "before each cutoff. At most the day after the data's last event (later, missing days would count as "
        "churn)."))],
    horizon_days: Annotated[Optional[int], typer.Option("--horizon-days", help="Label window after each cutoff, in days [config: problem.horizon_days, 90]. For this run only: score then needs [problem] horizon_days set to it in its --config (retention-list and evaluate take the models' horizon from the scores); put it in the config to set it once.")] = None,
    trials: Annotated[Optional[int], typer.Option("--trials", help="Optuna trials per model (trials of an interrupted run count) [config: training.trials, 30].")] = None,
    timeout: Annotated[Optional[float], typer.Option("--timeout", help="Seconds of tuning per model; no new trial starts after it [config: training.timeout_seconds, none].")] = None,
    config: ConfigOpt = None,
    seed: Annotated[Optional[int], typer.Option("--seed", help="Random seed: same data, config, code and seed give the same models, also when tuning was interrupted and resumed; not when --timeout cut tuning short (it counts seconds, not trials), and above 100,000 training rows only on a machine with as many cores (LightGBM's threads follow them; the run logs lightgbm_threads) [config: training.seed, 42].")] = None,
    engine: EngineOpt = "duckdb",
    master: MasterOpt = None,
) -> Any:
    """Tune, train and evaluate the churn and value models; track them in MLflow and register them.

    Reads DATA (validated first). Writes an MLflow run (MLFLOW_TRACKING_URI, else
    ./mlruns/mlflow.db with artifacts under ./mlruns) and the Optuna study next to it, registers
    churnml-churn and churnml-value, and makes them champion if they are at least as good as the
    current champions on the test cutoff. A run with the same data, as-of date, config, seed,
    code and library versions as registered versions is logged but registers and promotes nothing
    (it says which).

    Prints the test metrics of the models and the baselines and the grades. Its value Gini is the
    expected value's over every test customer, which the grade compares; `churnml models` lists, and
    the promotion gate compares, the value if retained's over the customers who stayed, which a
    line under the value table gives for the run.

    With --engine spark, Spark builds the training set from clean Parquet under DATA (no
    validation step) and collects it; LightGBM trains here, as with DuckDB.
    """
    import time

    from churnml import train as training
    from churnml.validate import load_dataset

    as_of_ts = parse_as_of(as_of, training=True)
    cfg = load_config(config)
    if horizon_days is not None:
        if horizon_days < 1:
            raise ConfigError(f"--horizon-days must be at least 1, got {horizon_days}.")
        cfg = cfg.replace(problem={"horizon_days": horizon_days})
    if trials is not None and trials < 1:
        raise ConfigError(f"--trials must be at least 1, got {trials}.")
    if timeout is not None and timeout <= 0:
        raise ConfigError(f"--timeout must be a positive number of seconds, got {timeout}.")
    check_engine(engine, master)
    from churnml import tracking

    tracking.check_store()  # an out-of-date schema (a newer MLflow) before the data, not after the training set
    started = time.perf_counter()
    if engine == "spark":
        from churnml import io
        from churnml import spark as churn_spark
        from churnml.features import describe_features

        code = io.code_state()  # the source as the run began (train does the same)
        io.check_spark_source(churn_spark.resolve_path(data), cfg)
        # A stage line each, as on DuckDB: a scheduler's log stayed silent for the minutes Spark works.
        session = start_spark(master)
        with working(f"Reading and validating {data}"):
            sdata = churn_spark.read_tables(session, churn_spark.resolve_path(data), cfg)
            fingerprint, summary = churn_spark.describe_data(sdata)
        show_data_notes(summary, data, config)
        with working(f"Building the training set as of {as_of_ts:%Y-%m-%d}"):
            training_set = churn_spark.build_training_set(sdata, as_of_ts, cfg)
        attributes = sdata.attributes
        inputs = {"fingerprint": fingerprint, "data_summary": summary,
                  "feature_description": describe_features(training_set.specs, summary["code_columns"])}
        console.print(f"Training set: {len(training_set.frame):,} rows (customer x cutoff) from Spark.")
    else:
        with working(f"Reading and validating {data}"):
            dataset = load_dataset(Path(data), cfg)
        show_data_notes(dataset.summary, data, config)
        attributes = dataset.attributes

    with Progress(
        TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
        TextColumn("best {task.fields[best]}"), TimeElapsedColumn(), console=console, transient=False,
        disable=not console.is_terminal,  # a scheduler's log has the timestamped lines of log() instead
    ) as progress:
        tasks: dict[str, int] = {}

        def on_trial(kind: str, finished: int, total: int, best: float | None) -> None:
            if kind not in tasks:
                tasks[kind] = progress.add_task(f"tuning {kind}", total=total, best="–")
            shown = "–" if best is None else f"{best:.4f}"
            progress.update(tasks[kind], completed=min(finished, total), best=shown)
            log(f"tuning {kind}: trial {finished} of {total}, best {shown}")

        def on_stage(text: str) -> None:
            # The stages but the trials, which have their bars: a line each, timestamped in a
            # scheduler's log; the refit, grading and logging ran on for a while after the last trial.
            text = text[:1].upper() + text[1:]
            log(text)
            if console.is_terminal:
                progress.console.print(f"{text}…", markup=False, highlight=False, soft_wrap=True)

        options = {"trials": trials, "timeout": timeout, "seed": seed, "on_trial": on_trial, "on_stage": on_stage,
                   "on_wait": lambda text: progress.console.print(text, markup=False, soft_wrap=True)}
        if engine == "spark":
            result = training.train_on(training_set, as_of_ts, cfg, **inputs, **options, started=started, code=code)
        else:
            result = training.train(dataset, as_of_ts, cfg, **options)

    for kind, tuned in result.tuning.items():
        if tuned.trials_run_now == 0:  # no progress bar was drawn for it
            done = tuned.n_complete + tuned.n_pruned
            console.print(f"Tuning {kind}: study {tuned.study_name} already has {done} finished trial(s) on this data; "
                          f"none left to run (best {tuned.best_value:.4f}). Raise --trials for more.")
    from churnml.metrics import GRADE_LEGEND, few_churners_note

    # Without churn_events the "active" subgroup is those who bought within the horizon: say which.
    rows = tuple((key, training.active_subgroup_label(result.active_days) if key == "roc_auc_active" else label)
                 for key, label in CHURN_ROWS)
    console.print(training.training_set_text(result.training_set), markup=False, highlight=False)
    tests = result.cutoffs.get("test", [])
    test_cutoff = ", ".join(f"{c:%Y-%m-%d}" for c in tests)
    # With several test cutoffs a customer has a row at each: the metrics are over rows.
    distinct = result.training_set.get("splits", {}).get("test", {}).get("customers", result.test_customers)
    size = (f"{result.test_customers:,} customers" if distinct == result.test_customers
            else f"{result.test_customers:,} rows of {distinct:,} customers")
    where = f"cutoff{'s' if len(tests) > 1 else ''} {test_cutoff}"
    print_whole(_metrics_table("Churn", result.grades["churn"], result.churn_metrics, rows,
                            f"{where} ({size}, {result.test_churners:,} churned)"))
    print_whole(_metrics_table("Value", result.grades["value"], result.value_metrics, VALUE_ROWS, f"{where} ({size})"))
    if note := value_gini_note(result):
        console.print(note, markup=False, highlight=False)
    console.print(
        f"Grade [bold]{result.grades['overall']}[/bold] ({GRADE_LEGEND}).",
        markup=True,
    )
    from churnml import reports

    console.print(reports.interval_text(result.intervals, result.churn_metrics["model"]["roc_auc"],
                                        result.value_metrics["model"]["normalized_gini"], result.best_baselines))
    if result.calibration_note:
        console.print(f"Calibration: {result.calibration_note}.",
                      markup=False, highlight=False)
    few = few_churners_note(result.test_churners, result.test_customers)
    if few:
        warn(f"the test cutoff ({test_cutoff}) has {few}. Read the grade with its 95 % interval; more customers, "
             "more history or a longer [problem] horizon_days give a firmer one.")
    if result.calendar_churn:
        from churnml.labels import calendar_churn_text

        warn(calendar_churn_text(result.calendar_churn, f"the test cutoff{'s' if len(tests) > 1 else ''} ({test_cutoff})") + ".")
    dated = {name: count for name, count in result.left_out.items() if name in result.left_out_dates}
    if dated:
        columns = ", ".join(f"{name} ({count:,} values)" for name, count in dated.items())
        warn(f"left out of the models: {columns}, dates. The customers table is read as it is today at every cutoff, "
             "so a date there (a closing date, a last login) would show the models what happened after the cutoff: "
             "keep such columns out of customers; the sign-up date goes in signup_date.")
    others = {name: count for name, count in result.left_out.items() if name not in dated}
    if others:
        columns = ", ".join(f"{name} ({count:,} values)" for name, count in others.items())
        warn(f"left out of the models: {columns}. A categorical attribute with more than "
             f"{cfg.training.max_categorical_levels} values names groups of customers rather than describing "
             "them, and the trees fit its rare values to noise. Map it to fewer groups to use it, or raise "
             "[training] max_categorical_levels in the config.")
    from churnml.features import TRANSACTION_WINDOWS, attribute_label

    personal = _personal_attributes(attributes, {*result.left_out, *cfg.scoring.hidden_reasons})
    if personal:
        listed = ", ".join(f'"{name}"' for name in personal)
        console.print(f"Note: {', '.join(personal)} look(s) like a personal characteristic: the models use it and "
                      f"reasons quote it (\"{attribute_label(personal[0])}: …\"). Where it must not decide who is contacted, leave it out of "
                      f"customers; to keep it in the scores but out of the reasons: [scoring] hidden_reasons = [{listed}].",
                      markup=False)

    history, longest = result.history_days, max(TRANSACTION_WINDOWS)
    if history is not None and history < longest:  # the longest window sees those customers' year in part
        first = min(c for dates in result.cutoffs.values() for c in dates)
        warn(f"the first training cutoff ({first:%Y-%m-%d}) has {history:.0f} day(s) of transaction history before it: "
             f"features over the last {longest} days read those customers as buying less than they did, "
             "and the models learn from that. Give more history, fewer cutoffs ([problem] n_cutoffs, "
             "cutoff_step_days) or a shorter horizon, so that the first cutoff has a year behind it.")
    if result.leaks:
        from churnml.train import leak_text

        warn(f"{leak_text(result.leaks, explain=True)}. The models were {'registered but ' if result.registered else ''}not promoted.")
    weak = [kind for kind in ("churn", "value") if result.grades.get(kind) == "C"]
    # An identical rerun's reason says so, not why its versions were not promoted: asked again.
    chance = "no better than chance" in result.promotion_reason or (
        not result.registered and training.chance_level(result.churn_metrics, result.value_metrics, result.intervals))
    if weak and not result.promoted and chance:
        warn(f"no better than chance: the models were {'registered but ' if result.registered else ''}not promoted, and `churnml score` keeps using "
             "the champion, if any. Check the data (enough customers and churners? the right churn definition? "
             "history before the first cutoff?).")
    elif weak:
        warn(f"the {' and '.join(weak)} model{'s are' if len(weak) > 1 else ' is'} grade C: no better than the best simple "
             "baseline on the test cutoff. Scores from it rank customers no better than that baseline would; check the "
             "data (enough history? the right churn definition?) before acting on them."
             + (" It was promoted because there was no champion yet." if result.first_model else ""))
    # After the warnings: the tail of a scheduler's log says what the run registered and promoted.
    console.print(f"Run {result.run_id}: churnml-churn v{result.churn_version}, churnml-value v{result.value_version} — {result.promotion_reason}.")
    if result.promoted:  # else score would use the champion there was, or find none
        next_step(f"churnml score {data} --as-of {as_of_ts:%Y-%m-%d} --out scores.parquet"
                  + (f" --config {config}" if config else ""))
    return result


@command("models")
def models_command(config: RefusedConfigOpt = None) -> None:
    """List registered model versions with their aliases and key test metrics (reads the MLflow registry).

    The registry is MLFLOW_TRACKING_URI's, else ./mlruns/mlflow.db (the demo's: MLFLOW_TRACKING_URI=sqlite:///demo_out/mlruns/mlflow.db);
    no config is read.
    """
    from churnml.tracking import CHURN_MODEL_NAME, list_models

    refuse_config("models", config, registry_only("lists"))

    rows = list_models()
    if not rows:
        console.print("No registered models yet. Train some with `churnml train DATA --as-of DATE`.")
        return
    # Fits 80 columns: "as of" (the training as-of date) says more than the registration time,
    # which the MLflow UI shows.
    # The metrics the promotion gate compares: churn ROC AUC, and for value the normalized Gini of
    # the value if retained over the customers who stayed (the expected value's Gini, which the
    # run also logs, ranks differently and made a kept champion look worse).
    # The problem (horizon, churn definition) goes in the title when all versions share it, else
    # under each version's as-of date.
    problems = {row.problem_text() for row in rows}
    shared = next(iter(problems)) if len(problems) == 1 else ""
    table = Table(title=f"Registered models (metrics on their test cutoff{'; all for ' + shared if shared else ''})",
                  title_justify="left")
    for column in ("name", "v", "aliases", "as of" if len(problems) == 1 else "as of, problem", "AUC", "ECE", "Gini"):
        numeric = column in ("v", "AUC", "ECE", "Gini")
        table.add_column(column, justify="right" if numeric else "left", no_wrap=column in ("name", "as of"),
                         min_width=len("challenger") if column == "aliases" else None)
    # Two ECEs: the graded one, and in brackets the registered model's, after its level was shifted
    # to the test cutoff's churn rate. Users compared the graded one with the calibration of the
    # scores (a backtest's ECE), which come from the shifted model; the shifted one was fitted on
    # that same cutoff, so it is in-sample and said to be. Versions before it was logged show one.
    for row in rows:
        def metric(key: str) -> str:
            return f"{row.metrics[key]:.4f}" if key in row.metrics else ""
        churn = row.name == CHURN_MODEL_NAME  # each row shows its own model's metrics
        as_of = row.as_of or ""
        ece = metric("churn_model_ece")
        if churn and ece and metric("churn_test_ece_recalibrated"):
            ece += f"\n({metric('churn_test_ece_recalibrated')})"
        table.add_row(row.name, row.version, ", ".join(row.aliases), as_of if shared else f"{as_of}\n{row.problem_text()}",
                      metric("churn_model_roc_auc") if churn else "", ece if churn else "",
                      "" if churn else metric("value_if_retained_normalized_gini") or metric("value_model_normalized_gini"))
    print_whole(table)
    console.print("AUC and Gini are what the promotion gate compares: churn ROC AUC, and the normalized Gini of the "
                  "value if retained over the customers who stayed. ECE is as graded, before the churn level was shifted "
                  "to the test cutoff's churn rate; in brackets, where logged, the registered model's (the one that "
                  "scores) after the shift, which was fitted on that same cutoff: in-sample, no promise for new data "
                  "(`churnml evaluate` measures the scores' ECE once their horizon has passed). Problem: the horizon and "
                  "what churn is (closure: an account closed in churn_events; inactivity: no transaction in the horizon). "
                  "Versions for different problems do not compare and are not promoted over each other.")


_PERSONAL = re.compile(r"(^|_)(age|gender|sex|birth\w*|born|ethnic\w*|race|religio\w*|nationality|marital)(_|$)", re.I)
"""Attribute names that read as a personal characteristic (age_band, gender, date_of_birth …):
the demo's reasons said "age band: 25-34" to marketers, which in many places may not decide who
gets an offer."""


def _personal_attributes(attributes: Any, left_out: set[str]) -> list[str]:
    """Customer attributes the models use whose names read as a personal characteristic."""
    return [name for name in attributes if _PERSONAL.search(name) and name not in left_out]


@command("promote")
def promote_command(
    name: Annotated[str, typer.Argument(metavar="NAME", help="Registered model name: churnml-churn or churnml-value.")],
    version: Annotated[str, typer.Argument(metavar="VERSION", help="Version number to make champion (also to roll back; 2 or v2), or an alias such as challenger.")],
    config: RefusedConfigOpt = None,
) -> None:
    """Move the `champion` alias of NAME to VERSION by hand (writes the MLflow registry).

    The registry is MLFLOW_TRACKING_URI's, else ./mlruns/mlflow.db; no config is read. Example: `churnml promote churnml-churn 2`
    rolls the churn model back to version 2 (see `churnml models`); the value model keeps its champion. A running
    `churnml serve` keeps its models until restarted.
    """
    from churnml import tracking

    refuse_config("promote", config, registry_only("moves the alias in"))
    number = tracking.promote(name, version)
    console.print(f"{name} v{number} is now champion. A running `churnml serve` keeps its models until it is restarted.")
    runs = {}
    for model in (tracking.CHURN_MODEL_NAME, tracking.VALUE_MODEL_NAME):
        try:
            runs[model] = tracking.run_id_of(model, tracking.CHAMPION)
        except ModelNotFoundError:
            return
    if len(set(runs.values())) > 1:
        other = tracking.VALUE_MODEL_NAME if name == tracking.CHURN_MODEL_NAME else tracking.CHURN_MODEL_NAME
        console.print(f"Note: the champions of {tracking.CHURN_MODEL_NAME} and {tracking.VALUE_MODEL_NAME} now come from "
                      f"different training runs; scores pair them as they are. To keep a pair, promote the {other} "
                      "version of the same run too. Drift checks then leave out predicted_value (its reference "
                      "belongs to the other run).")
