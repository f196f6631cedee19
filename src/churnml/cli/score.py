"""`churnml score` and `churnml retention-list`: scores for a population, then who to contact."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Annotated, Any, Callable, Mapping, Optional

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from churnml.cli import command, console, log, next_step, print_whole, start_spark, warn, working
from churnml.cli._options import AsOfOpt, ConfigOpt, EngineOpt, MasterOpt, SnapshotsOpt, SourceArg, check_engine, parse_as_of
from churnml.cli.validate import show_data_notes
from churnml.config import REASONS_FOR, Config, load_config
from churnml.errors import ConfigError, DriftError

TOP_ROWS = 10
"""Rows of a retention list shown on screen."""
WIDE_TERMINAL = 140
"""Terminal width from which the retention table shows the reasons in a column of their own."""


def show_scores_summary(sidecar: Mapping[str, Any], config: Config) -> None:
    """Print segment counts and totals from a scores sidecar (:func:`churnml.scoring.write_scores`),
    and warn about what needs a second look (:func:`churnml.scoring.score_warnings`)."""
    from churnml.scoring import score_warnings
    from churnml.segments import segment_names

    names = segment_names(config)
    rows = sidecar["rows"]
    table = Table(title=f"{rows:,} customers scored as of {sidecar.get('as_of', '?')}", title_justify="left")
    for column in ("segment", "customers", "share", "mean churn prob.", "predicted value", "value at risk"):
        table.add_column(column, justify="left" if column == "segment" else "right")
    for key, stats in sidecar["segments"].items():
        if not stats["customers"]:
            continue
        table.add_row(
            names.get(key, key),
            f"{stats['customers']:,}",
            f"{stats['customers'] / rows:.1%}" if rows else "–",
            f"{stats['mean_churn_probability']:.3f}",
            f"{stats['predicted_value']:,.0f}",
            f"{stats['value_at_risk']:,.0f}",
        )
    print_whole(table)
    stages = ", ".join(f"{k} {v:,}" for k, v in sidecar["counts"]["lifecycle_stage"].items())
    risk = ", ".join(f"{k} {v:,}" for k, v in sidecar["counts"]["risk_tier"].items())
    cuts = sidecar.get("risk_tier_thresholds") or {}
    if cuts:
        base = (sidecar.get("models") or {}).get("base_rate")
        fixed = ((sidecar.get("config") or {}).get("segments") or {}).get("risk_thresholds") is not None
        relative = (f", {cuts['medium_min'] / base:.3g}× and {cuts['high_min'] / base:.3g}× the base rate {base:.3f}"
                    if base and not fixed else "")
        risk += f" (medium from {cuts['medium_min']:.3f}, high from {cuts['high_min']:.3f}{relative})"
    console.print(f"Risk tiers: {risk}. Lifecycle: {stages}.")
    for text in score_warnings(sidecar):  # few distinct probabilities, empty risk tiers
        warn(text)
    values = sidecar.get("value_tier_thresholds") or {}
    high, medium = values.get("high_min"), values.get("medium_min")
    if high is not None and medium is not None and 0 < medium and high < FLAT_VALUE_RATIO * medium:
        horizon = (sidecar.get("models") or {}).get("problem", {}).get("horizon_days") or config.problem.horizon_days
        console.print(f"Note: the value tiers split customers worth nearly the same over {horizon} days (high from "
                      f"{high:,.2f}, medium from {medium:,.2f}, value if retained): with one price for everyone, high, "
                      "medium and low value, and the segments made from them (loyal high-value, dormant, fleeing "
                      "low-value), say little. Rank by churn probability or value at risk instead.",
                      markup=False, highlight=False)


FLAT_VALUE_RATIO = 1.25
"""The value tiers' cut points closer than this (high_min < 1.25 x medium_min) split customers worth
nearly the same: a gym's flat fee gave 84.70 and 82.76 over 90 days (a generated cafe: 98.62 and 39.61)."""

def show_retention_summary(result: Any, config: Config, top: int = TOP_ROWS, horizon_days: int | None = None,
                           problem: Any = None) -> None:
    """Print a retention list's headline numbers, its breakdown by segment and its first rows
    (money over ``horizon_days``, default the config's horizon; what the money is from the models'
    ``problem`` definition, else the config's margin)."""
    from churnml.targeting import CANDIDATES_LABEL, list_size_text

    summary = result.summary
    size = list_size_text(summary.contacts, summary.control)
    limit = {"budget": "stopped by the budget", "max_customers": "stopped by --max-customers", "none": "every candidate"}
    headline = Table(title="Retention list", title_justify="left", show_header=False)
    headline.add_column("what")
    headline.add_column("value", justify="right")
    from churnml.segments import segment_actions, segment_names

    names = segment_names(config)
    for key, n in summary.skipped.items():
        headline.add_row(f"left out: {names[key]}", f"{n:,}")
    if summary.excluded:
        headline.add_row("left out: on an --exclude list", f"{summary.excluded:,}")
    headline.add_row("customers considered", f"{summary.scored:,}")
    headline.add_row(CANDIDATES_LABEL, f"{summary.candidates:,}")
    headline.add_row("selected", f"{summary.selected:,} ({limit[summary.limited_by]})")
    if summary.holdout > 0:  # apart, as the workbook's summary: "selected" counts the control group too
        headline.add_row("to contact", f"{summary.contacts:,}")
        headline.add_row(f"control group, not to contact ({summary.holdout:.0%})", f"{summary.control:,}")
    if summary.budget is not None:
        # A budget larger than the list needs: what is left for other campaigns.
        unspent = summary.budget - summary.total_cost
        headline.add_row("budget", f"{summary.budget:,.2f}" + (f" ({unspent:,.2f} unspent)" if unspent >= 0.005 else ""))
    headline.add_row("total contact cost", f"{summary.total_cost:,.2f}")
    horizon = horizon_days or config.problem.horizon_days
    # "What do we lose if we do nothing?": the list's value at risk, of which contacts save a share.
    headline.add_row(f"value at risk, no contact (next {horizon} days)", f"{summary.value_at_risk:,.2f}")
    headline.add_row(f"expected value saved (next {horizon} days)", f"{summary.expected_value_saved:,.2f}")
    headline.add_row("expected net benefit", f"{summary.expected_net_benefit:,.2f}")
    headline.add_row("expected ROI", "–" if summary.roi is None else f"{summary.roi:.1%}")
    from churnml.labels import value_basis
    from churnml.targeting import contact_cost_text

    headline.add_row("assumptions", f"contact cost {contact_cost_text(summary.contact_cost, summary.contact_costs, names)}, "
                                    f"success rate {summary.success_rate:g}")
    headline.add_row("money counted as", value_basis(problem or {"margin": config.problem.margin}))
    print_whole(headline)
    from churnml.targeting import value_saved_note

    note = value_saved_note(horizon, problem)
    if note:
        console.print(f"Note: {note}", markup=False, highlight=False)
    # Any segment can be in skip_segments (the README suggests low_value_active beside dormant): say
    # its own action, not that it has no contact to make, which only loyal_high_value's says.
    actions = segment_actions(config)
    for key, n in summary.skipped.items():
        console.print(f"Left out {n:,} {names[key]} customer{'s' if n != 1 else ''} ([targeting] skip_segments; suggested action: "
                      f"{actions[key]}). --segment {key} lists them.", markup=False, highlight=False)
    if not summary.by_segment.empty:
        segments = Table(title="By segment", title_justify="left")
        for column in ("segment", "customers", "cost", "value saved", "net benefit", "suggested action"):
            segments.add_column(column, justify="right" if column in ("customers", "cost", "value saved", "net benefit") else "left")
        for row in summary.by_segment.itertuples(index=False):
            # Money to the cent, as the headline and the file: a 0.5 e-mail's segment cost "0", and at a
            # subscription's prices (a benefit of 1.69 per contact) whole units hid the ranking.
            segments.add_row(row.name, f"{row.customers:,}", f"{row.total_cost:,.2f}", f"{row.expected_value_saved:,.2f}",
                             f"{row.expected_net_benefit:,.2f}", row.suggested_action)
        print_whole(segments)
    customers = result.customers
    _show_talking_points(customers)
    if not customers.empty:
        shown = customers.head(top)
        # Reasons need room: beside the numbers in a wide terminal, else listed under the table,
        # so that ids and numbers never wrap.
        beside = console.width >= WIDE_TERMINAL
        # Of the contacts and the control group apart: "Top 10 of 180" counted 17 not to contact.
        first = Table(title=f"Top {min(top, len(customers))} of {size}", title_justify="left")
        columns = ("rank", "customer", "segment", "churn prob.", "value at risk", "benefit") + (("reasons",) if beside else ())
        for column in columns:
            numeric = column in ("rank", "churn prob.", "value at risk", "benefit")
            # Segment names wrap ("High-value / at risk"): kept on one line, on 80 columns they
            # squeezed the ids, numbers and headers into "r…", "churn pro…", "C0003259 (contr…".
            first.add_column(column, justify="right" if numeric else "left", no_wrap=column not in ("reasons", "segment"),
                             min_width=10 if column == "segment" else None)
        # A control customer is marked: not to be called.
        ids = shown["customer_id"].astype(str)
        who = (ids.where(shown["group"] != "control", ids + " (control)") if "group" in shown.columns else ids).tolist()
        for row, name in zip(shown.itertuples(index=False), who):
            cells = [str(row.rank), name, names.get(row.segment, row.segment), f"{row.churn_probability:.3f}",
                     f"{row.value_at_risk:,.2f}", f"{row.expected_benefit:,.2f}"]
            first.add_row(*cells, *([reasons_text(row.reasons)] if beside else []))
        print_whole(first)
        if not beside:
            why = Table.grid(padding=(0, 1))
            why.add_column(justify="right", no_wrap=True)
            why.add_column(no_wrap=True)
            why.add_column()
            for row, name in zip(shown.itertuples(index=False), who):
                why.add_row(f"{row.rank}.", name, row.reasons if isinstance(row.reasons, str) and row.reasons else "–")
            console.print("Why", style="bold")
            console.print(why, highlight=False)


def _show_talking_points(customers: Any) -> None:
    """How many contacts open with each talking point, most first, and how many have none (as the
    list report's "By talking point"): the column is the list's last, off the screen of most terminals."""
    from churnml.targeting import NO_TALKING_POINT, talking_point_counts

    counts, without = talking_point_counts(customers)
    if counts.empty:  # old scores: a warning says why; no reasons: nothing to count
        return
    table = Table(title="By talking point (the list's talking_point: what to open the contact with)", title_justify="left")
    table.add_column("talking point")
    table.add_column("contacts", justify="right")
    for text, n in counts.items():
        table.add_row(text, f"{n:,}")
    if without:
        table.add_row(f"– {NO_TALKING_POINT}: no reasons, or only reasons saying who the customer is", f"{without:,}")
    print_whole(table)


def reasons_text(reasons: Any) -> str:
    """A customer's stored reasons (``"; "``-separated) as one reason per line; "" when none."""
    from churnml.reasons import SEPARATOR

    return reasons.replace(SEPARATOR, "\n") if isinstance(reasons, str) else ""


@command("score")
def score_command(
    data: SourceArg,
    as_of: AsOfOpt,
    out: Annotated[
        str, typer.Option("--out", "-o", help="Scores file to write (.parquet or .csv: text a spreadsheet would run as a formula gets a leading ', which churnml's readers take off); with --engine spark, a Parquet folder.")
    ],
    alias: Annotated[str, typer.Option("--alias", help="Model alias or version number in the MLflow registry.")] = "champion",
    config: ConfigOpt = None,
    fmt: Annotated[
        Optional[str], typer.Option("--format", "-f", help="parquet or csv [default: from the --out suffix, else parquet].")
    ] = None,
    chunk_size: Annotated[int, typer.Option("--chunk-size", help="Customers per chunk; bounds memory.")] = 100_000,
    snapshot_dir: SnapshotsOpt = Path("snapshots"),
    reasons: Annotated[
        Optional[str],
        typer.Option("--reasons", help="Who gets reasons: all, or at-risk (medium/high risk only; much faster on millions) [config: scoring.reasons_for, all]."),
    ] = None,
    fail_on_drift: Annotated[
        bool,
        typer.Option("--fail-on-drift", help="Exit with code 3 (files still written) instead of warning when the "
                     "population drifted (PSI > [monitoring] psi_threshold, or money features' level beyond [monitoring] money_level_ratio) or the model is too old."),
    ] = False,
    engine: EngineOpt = "duckdb",
    master: MasterOpt = None,
    partition_by: Annotated[
        Optional[list[str]],
        typer.Option("--partition-by", metavar="COLUMN", help="With --engine spark: score columns to partition the folder by, e.g. segment "
                     "(repeat or comma-separate)."),
    ] = None,
) -> None:
    """Score every customer in the population at the as-of date.

    Reads DATA (validated first) and the churn and value models carrying ALIAS from the MLflow
    registry (MLFLOW_TRACKING_URI, else ./mlruns/mlflow.db); an --as-of before the models' first
    training cutoff is refused before the data is read, as POST /score_history refuses it. Writes, each atomically (a failed run
    leaves no partial file, and none of them new: a folder at any of their paths is refused first):

    - OUT: one row per customer, ordered by customer_id — customer_id, as_of, churn_probability,
      predicted_value, value_at_risk, risk_tier, value_tier, segment, lifecycle_stage, reasons,
      churn_model_version, value_model_version, current_value, reason_topics (what each reason is
      about, in their order: service, account_manager, buying_less, refunds, never_bought,
      short_tenure, attribute; retention-list's talking_point comes from them);
    - OUT.json: model versions and their run, data fingerprint, the code that scored and that
      trained (churnml version, git commit), OUT's sha256 (readers refuse an OUT it does not
      match: another run's, written at the same time), row counts, tier and segment counts, score
      quantiles, distinct churn probabilities and the largest group sharing one, the config used, and `monitoring`: drift against the training data (PSI per
      feature and score, missing rates, new categories, share without history, model age);
    - SNAPSHOTS/features_YYYY-MM-DD.parquet (--snapshots; the as-of date): the features scored, for the HTTP service,
      and SNAPSHOTS/outside_YYYY-MM-DD.parquet: the customers left out of the population (customer_id, reason:
      signed_up / no_history / closed / inactive, and its date), so /score can say why an id has no score; the
      summary counts them by reason ("Not scored: …").
      With [scoring] keep_snapshots = N in --config, all but the newest N snapshots there (each with its outside
      file) are then removed, never the one just written (`churnml prune-snapshots` removes them on demand).

    The same data, models and config give the same files; run again over them, it says so (`Note: OUT was
    there already, with the same scores`), or that it replaced other scores. A drift warning names the worst features;
    with --fail-on-drift the command exits with code 3 instead. While one `score` writes OUT, a second on the same OUT
    (a retry overlapping a slow run) stops before any work with exit code 75, retry later (a lock on .OUT.lock beside it,
    which ends with the process). Warnings come before the summary,
    which ends with the files written and one line on drift (`Drift: yes (…)`, `none` or `not
    checked`): the tail of a scheduler's log says what the run did.
    From 100 customers on, it warns when the churn probabilities take fewer than 20 distinct values
    (customers the model cannot order: retrain) or a risk tier comes out empty.

    With --engine spark, Spark scores clean Parquet under DATA on its executors with the same code:
    OUT is a Parquet folder (written beside, then renamed into place) and OUT.json its sidecar
    (the same keys). Its drift check sees every customer up to [monitoring] drift_sample_rows
    (200,000), else a uniform sample of that many (`monitoring.rows_checked` says how many);
    --fail-on-drift works alike. No feature snapshot and no outside file, but the summary counts
    the customers left out by reason; in a scheduler's log, a timestamped line per stage.
    """
    import pandas as pd

    from churnml import io
    from churnml.dataset import row_counts
    from churnml.labels import build_scoring_frame, outside_population
    from churnml.monitoring import drift, feature_window_days, reference_history_days
    from churnml.scoring import SIDECAR, as_trained, score_chunks, score_metadata, with_empty_attributes, write_scores
    from churnml.tracking import load_models
    from churnml.validate import load_dataset

    as_of_ts = parse_as_of(as_of)
    cfg = load_config(config)
    if reasons is not None:
        choice = reasons.replace("-", "_")
        if choice not in REASONS_FOR:
            raise ConfigError(f"--reasons must be all or at-risk, got {reasons!r}.")
        cfg = cfg.replace(scoring={"reasons_for": choice})
    if check_engine(engine, master) == "spark":
        _score_on_spark(data, as_of_ts, out, alias, cfg, fmt, master, partition_by or [], fail_on_drift, config)
        return
    if partition_by:
        raise ConfigError("--partition-by applies to --engine spark only (it writes a Parquet folder).")
    out_path = io.check_output_file(out, "--out", io.source_files(data, cfg), example="scores.parquet")
    io.check_output_folder(snapshot_dir, "--snapshots")
    # A folder where a file goes failed its rename at the very end: refused before any work.
    io.refuse_folder(out_path.with_name(out_path.name + ".json"), SIDECAR, "--out")
    io.refuse_snapshot_folders(as_of_ts, snapshot_dir)
    fmt = io.format_for(out_path, fmt)
    if chunk_size < 1:
        raise ConfigError(f"--chunk-size must be at least 1, got {chunk_size}.")
    # A scheduler's retry overlapping a slow run on the same --out stops at once (exit 75): run alongside it,
    # each replaced the other's files, and the last scores could end up beside the other run's sidecar.
    with io.output_lock(out_path, "churnml score"):
        models = load_models(alias)  # before the data: a missing model or another horizon needs no validation run
        _check_models(models, cfg, as_of_ts)
        if models.metadata.get("value_run_id", models.run_id) != models.run_id:
            warn(f"churnml-churn v{models.churn_version} and churnml-value v{models.value_version} ('{alias}') come from "
                 "different training runs; the scores pair them as they are. To score with one "
                 "run's pair, promote the other model's version of the same run.")
        from churnml.labels import refuse_as_of_after_data, refuse_other_problem

        with working(f"Reading and validating {data}"):
            dataset = load_dataset(Path(data), cfg)
        show_data_notes(dataset.summary, data, config)
        refuse_other_problem(models.metadata, cfg, dataset.tables)
        refuse_as_of_after_data(as_of_ts, dataset.data_end)  # before the warning about missing days, not after it
        if dataset.data_end is not None:
            last_day = pd.Timestamp(dataset.data_end).normalize()
            missing = (as_of_ts - last_day).days - 1
            if missing > 0:  # a late data feed: up to DATA_END_TOLERANCE is allowed (scoring "today")
                warn(f"the data ends {last_day:%Y-%m-%d}, {missing} day(s) before the as-of date {as_of_ts:%Y-%m-%d} would "
                     "need it to: the features read those days as days without purchases, so churn risk comes out "
                     f"higher. Score as of {last_day + pd.Timedelta(days=1):%Y-%m-%d}, or load the missing days first; if "
                     "the data is complete (no business on those days), say so with [input] data_end in the config.")
        with working(f"Building features as of {as_of_ts:%Y-%m-%d}"):
            features = build_scoring_frame(dataset, as_of_ts, cfg)
        features = with_empty_attributes(features, [*models.churn.feature_names_, *models.value.feature_names_], dataset.summary)
        features = as_trained(features, models)  # booleans as the models read them: drift and the snapshot too
        log(f"Scoring {len(features):,} customers with churnml-churn v{models.churn_version}, churnml-value v{models.value_version}")

        with Progress(
            TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=console,
            disable=not console.is_terminal,  # a scheduler's log has the timestamped lines of log() instead
        ) as bar:
            tasks = {
                "predict": bar.add_task("Predicting churn and value", total=len(features)),
                "explain": bar.add_task("Reasons and segments", total=len(features)),
            }

            def progress(stage: str, done: int, total: int) -> None:
                bar.update(tasks[stage], completed=done)
                log(f"{'predicted' if stage == 'predict' else 'explained'} {done:,} of {total:,}")

            chunks = score_chunks(features, as_of_ts, models, cfg, chunk_size=chunk_size, progress=progress)
            set_aside, kept = row_counts(dataset.summary)
            metadata = score_metadata(models, as_of_ts, cfg, dataset.fingerprint, alias, set_aside, dataset.data_end, kept)
            reference = models.monitoring_reference
            drift_reports: list[Any] = []

            def monitor(values: Mapping[str, Any]) -> dict[str, Any]:
                drift_reports.append(drift(reference, features, values, as_of_ts, cfg,
                                           history_days=reference_history_days(models.metadata),
                                           windows=feature_window_days(models.metadata)))
                return drift_reports[0].to_dict()

            # A rerun (a scheduler's retry, a job started twice) writes the same files: said so, below.
            before = io.file_sha256(out_path) if out_path.is_file() else None
            # The snapshot is written first and published just before the scores (which need it for their
            # attributes), with every target checked: either failing leaves both as they were.
            outside = outside_population(dataset, as_of_ts, cfg)
            with io.staged_snapshot(features, as_of_ts, snapshot_dir, outside) as staged:
                scores_path, sidecar_path = write_scores(chunks, out_path, fmt, metadata, monitor=monitor if reference else None,
                                                         before_publish=staged.publish)
        snapshot = staged.path
        written = [scores_path, sidecar_path, *io.with_outside([snapshot])]  # the outside file too: every file written
        # Never the one just written: a backfill's (an as-of date before the newest) went as soon as it was
        # written, and the `churnml score` that `retention-list --attribute` then asked for removed it again.
        stale = [path for path in io.stale_snapshots(snapshot_dir, keep=cfg.scoring.keep_snapshots) if path != snapshot]
        freed = io.remove_files(io.with_outside(stale))

        def summary(drift_line: str | None, failing: bool = False) -> None:
            show_scores_summary(io.read_json(sidecar_path), cfg)
            if len(outside):
                console.print(left_out_line(outside["reason"].value_counts(), len(features), as_of_ts, cfg.problem.active_days,
                                            io.outside_path(snapshot)), markup=False, highlight=False)
            console.print(
                f"Models: churnml-churn v{models.churn_version}, churnml-value v{models.value_version} ({alias}).\n"
                f"Wrote {', '.join(str(p) for p in written[:-1])} and {written[-1]}."
            )
            if before is not None:
                same = before == io.read_json(sidecar_path).get("scores_sha256")
                console.print(f"Note: {scores_path} was there already, with "
                              + ("the same scores: a rerun on the same data, models and config writes the same files."
                                 if same else "other scores: replaced."), markup=False, highlight=False)
            if stale:
                console.print(f"Removed {len(stale)} older snapshot(s) from {snapshot_dir} ([scoring] keep_snapshots = "
                              f"{cfg.scoring.keep_snapshots}), {size_text(freed)}: {', '.join(p.name for p in stale)}.")
            if drift_line:
                console.print(drift_line)
            if failing:  # exit 3 stops the batch job: no "Next: retention-list" just before the error saying so
                return
            next_step(f"churnml retention-list {scores_path} --out retention_list.csv --budget 5000"
                      + (f" --config {config}" if config else ""))

        _end_of_score(models, as_of_ts, drift_reports[0] if drift_reports else None, fail_on_drift, scores_path, summary)


def _end_of_score(models: Any, as_of: Any, report: Any, fail_on_drift: bool, scores_path: Any,
                  summary: Callable[..., None]) -> None:
    """The end of `churnml score` on either engine: the warnings (a backfill the models have seen, drift),
    then ``summary`` with the drift in one line; with ``fail_on_drift`` and drift, ``summary(None,
    failing=True)`` (no Next line) and the :class:`DriftError` (exit 3) last, the scores written."""
    from churnml.monitoring import drift_message, drift_status, fitted_labels_end

    # Warnings first, the summary last: a scheduler's log ended on the drift warning, and its tail
    # did not say whether the run had written its scores. The summary repeats the drift in one line.
    seen = fitted_labels_end(models.metadata, as_of)
    if seen is not None:
        warn(f"the models were fitted on outcomes up to {seen:%Y-%m-%d}, after this as-of date ({as_of:%Y-%m-%d}): "
             "they have seen part of what these scores predict, so a backtest of them (`churnml evaluate`) flatters "
             "them. For a backfill, train as of this date.")
    if report is not None and report.drifted:
        message = drift_message(report)
        if report.model_age_days is not None and report.model_age_days > report.max_model_age_days:
            message += newer_versions_note(models.churn_version)
        if fail_on_drift:  # the error, last, is the run's outcome
            summary(None, failing=True)
            raise DriftError(f"{message} The scores were written to {scores_path} for inspection; "
                             "the exit code is 3 so a batch job stops here.")
        warn(message)
    summary(drift_status(report))


LEFT_OUT = {
    "closed": "closed before it (churn_events)",
    "signed_up": "signed up on or after it",
    "no_history": "no sign-up date and no transaction before it",
    "inactive": "no transaction in the {active_days} days before it",
}
"""Why customers are outside the population (:data:`churnml.labels.OUTSIDE_REASONS`'s keys), as the score
summary counts them."""


def left_out_line(counts: Mapping[str, int], scored: int, as_of: Any, active_days: int, listed: Any = None) -> str:
    """The score summary's line counting the customers of the customers table left out of the
    population at ``as_of`` (``counts``: reason -> customers, of :func:`churnml.labels.outside_population`),
    by reason, and the file ``listed`` that names them (none on Spark). "928 customers scored" said
    nothing of the 1,072 others, closed accounts and customers signed up since, or of the paying
    customers a churn event had left out."""
    counts = {str(reason): int(n) for reason, n in dict(counts).items()}  # a pandas value_counts too
    left_out = sum(counts.values())
    parts = [f"{counts[key]:,} {words.format(active_days=active_days)}"
             for key, words in LEFT_OUT.items() if counts.get(key, 0)]
    return (f"Not scored: {left_out:,} of the {left_out + scored:,} customers, outside the population at "
            f"{as_of:%Y-%m-%d}: {'; '.join(parts)}" + (f" (listed in {listed})." if listed is not None else "."))


def newer_versions_note(churn_version: str) -> str:
    """For a champion past ``[monitoring] max_model_age_days``: the newest registered churn model
    trained as of a later date that is not champion (a retraining that did not pass promotion),
    and how to promote it by hand. "Retrain it" alone sent a monthly job with ``--fail-on-drift``
    to exit 3 every month after a retraining had lost to the champion. Empty when there is none
    or the registry cannot be read (the note is advice, not the check)."""
    from mlflow.exceptions import MlflowException

    from churnml import tracking

    try:
        rows = tracking.list_models()
    except (MlflowException, OSError):
        return ""
    churn = [r for r in rows if r.name == tracking.CHURN_MODEL_NAME]
    champion = next((r for r in churn if r.version == str(churn_version)), None)
    if champion is None or not champion.as_of:
        return ""
    newer = [r for r in churn if r.as_of and r.as_of > champion.as_of and tracking.CHAMPION not in r.aliases]
    if not newer:
        return ""
    latest = max(newer, key=lambda r: (r.as_of, int(r.version)))
    pair = next((r.version for r in rows if r.name == tracking.VALUE_MODEL_NAME and r.run_id == latest.run_id), None)
    promote = f"`churnml promote {tracking.CHURN_MODEL_NAME} {latest.version}`"
    if pair is not None:
        promote += f" and `churnml promote {tracking.VALUE_MODEL_NAME} {pair}`"
    return (f" A later training is registered but not champion: {tracking.CHURN_MODEL_NAME} v{latest.version}, trained "
            f"as of {latest.as_of} (v{champion.version} is as of {champion.as_of}); it did not pass promotion, so "
            f"retraining alone may not end this alert. Compare them with `churnml models`; to use it, {promote}; "
            "or raise [monitoring] max_model_age_days.")


def size_text(size: float) -> str:
    """A number of bytes as people read it: 512 B, 70.1 MB, 2.1 GB."""
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if size >= scale:
            return f"{size / scale:.1f} {unit}"
    return f"{int(size)} B"


def _sizes(paths: list[Path]) -> dict[Path, int]:
    """Each file's size in bytes (0 for one gone since it was listed)."""
    sizes = {}
    for path in paths:
        try:
            sizes[path] = path.stat().st_size
        except OSError:
            sizes[path] = 0
    return sizes


@command("prune-snapshots")
def prune_snapshots_command(
    snapshot_dir: SnapshotsOpt = Path("snapshots"),
    keep: Annotated[
        Optional[int],
        typer.Option("--keep", metavar="N", help="Keep the newest N snapshots (by as-of date), at least 1 [config: scoring.keep_snapshots]."),
    ] = None,
    older_than: Annotated[
        Optional[int],
        typer.Option("--older-than", metavar="DAYS", help="Remove those whose as-of date is more than DAYS days before the newest snapshot's."),
    ] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="List what would be removed and its size; remove nothing.")] = False,
    config: ConfigOpt = None,
) -> None:
    """Remove old feature snapshots: `churnml score` writes one per as-of date (about 70 MB a day
    at a million customers) and keeps every one unless [scoring] keep_snapshots says otherwise.

    Reads the SNAPSHOTS folder (--snapshots) and deletes the features_YYYY-MM-DD.parquet files
    there beyond the newest --keep, or with an as-of date more than --older-than days before the
    newest one's, each with its outside_YYYY-MM-DD.parquet (the customers left out of that
    population); given both, a snapshot goes only when both say so. The newest snapshot, which
    `churnml serve` loads at start-up, always stays, and no other file in the folder is touched. A
    running server keeps the snapshot it loaded in memory. Prints each file as it is removed, with its
    size; with --dry-run, each file that would be, and removes nothing.
    """
    from churnml import io

    cfg = load_config(config)
    keep = keep if keep is not None else cfg.scoring.keep_snapshots
    if keep is None and older_than is None:
        raise ConfigError("Say which snapshots to keep: --keep N (the newest N), --older-than DAYS (those within DAYS "
                          "days of the newest), or [scoring] keep_snapshots in --config. Add --dry-run to see what would go.")
    if keep is not None and keep < 1:
        raise ConfigError(f"--keep must be at least 1, got {keep}: the newest snapshot is the one `churnml serve` loads.")
    if older_than is not None and older_than < 0:
        raise ConfigError(f"--older-than is a number of days, 0 or more, got {older_than}.")
    if not snapshot_dir.is_dir():
        what = "is a file, not a folder" if snapshot_dir.exists() else "does not exist"
        raise ConfigError(f"--snapshots {snapshot_dir} {what}. Give the folder `churnml score --snapshots` writes "
                          "snapshots to (./snapshots by default).")
    found = io.snapshots(snapshot_dir)
    stale = io.stale_snapshots(snapshot_dir, keep=keep, older_than_days=older_than)
    sizes = _sizes(io.with_outside(stale))
    kept = len(found) - len(stale)
    newest = f", the newest {found[-1].name} (what `churnml serve` loads)" if found else ""
    if dry_run:
        for path, size in sizes.items():
            console.print(f"would remove {path}  ({size_text(size)})", highlight=False)
        console.print(f"Dry run: would remove {len(stale)} snapshot(s), {size_text(sum(sizes.values()))}, and keep {kept}"
                      f"{newest}. Nothing was removed.", highlight=False)
        return
    freed = 0
    for path, size in sizes.items():  # "removed", once it is: a line printed before read as an order
        freed += io.remove_files([path])
        console.print(f"removed {path}  ({size_text(size)})", highlight=False)
    console.print(f"Removed {len(stale)} snapshot(s) from {snapshot_dir}, {size_text(freed)}; kept {kept}{newest}.",
                  highlight=False)


def _check_models(models: Any, cfg: Config, as_of: Any) -> None:
    """What the models alone refuse, before any data is read (on either engine): another horizon
    (:func:`_check_horizon`), and an as-of date before their training data, as ``POST /score_history``
    refuses it (:func:`churnml.labels.refuse_as_of_before_training`): a job scoring 1990, or a date before
    the first training cutoff, got scores from models that never saw such a time."""
    from churnml.labels import refuse_as_of_before_training

    _check_horizon(models, cfg)
    refuse_as_of_before_training(as_of, models.metadata)


def _check_horizon(models: Any, cfg: Config) -> None:
    """The config's horizon must be the one the models predict: the sidecar records it, and
    value_at_risk and every tier mean "over the model's horizon"."""
    trained = models.metadata.get("horizon_days")
    if trained is not None and int(trained) != cfg.problem.horizon_days:
        raise ConfigError(
            f"The models predict a {int(trained)}-day horizon, but the config says [problem] horizon_days = "
            f"{cfg.problem.horizon_days}{' (the default)' if cfg.problem.horizon_days == Config().problem.horizon_days else ''}. Score with the "
            f"config used for training, e.g. a --config file with [problem] horizon_days = {int(trained)} (train "
            f"--horizon-days sets it for that run only), or train models for {cfg.problem.horizon_days} days."
        )


def _score_on_spark(
    data: str, as_of: Any, out: str, alias: str, cfg: Config, fmt: str | None, master: str | None,
    partition_by: list[str], fail_on_drift: bool, config_path: Path | None = None,
) -> None:
    """`churnml score --engine spark`: :func:`churnml.spark.score` with the sidecar `score` writes."""
    from churnml import spark as churn_spark
    from churnml.labels import refuse_other_problem
    from churnml.monitoring import drift, feature_window_days, reference_history_days
    from churnml.scoring import SCORE_COLUMNS, as_trained, score_metadata
    from churnml.tracking import load_models

    if fmt not in (None, "parquet"):
        raise ConfigError(f"--engine spark writes a Parquet folder; --format {fmt} is not available with it.")
    columns = [part.strip() for value in partition_by for part in value.split(",") if part.strip()]
    unknown = [c for c in columns if c not in SCORE_COLUMNS]
    if unknown:
        raise ConfigError(f"--partition-by {', '.join(unknown)}: not a score column. Use one of: {', '.join(SCORE_COLUMNS)}.")
    from churnml import io

    out = churn_spark.resolve_path(out)
    io.check_spark_source(churn_spark.resolve_path(data), cfg)
    io.check_spark_output(out, churn_spark.resolve_path(data), cfg)
    # A retry overlapping a slow run writes the same folder: the second stops (exit 75). On this machine's file
    # system only (io.local_path, as the Next line decides): no lock on s3a:// and the like.
    local = io.local_path(out)
    with io.output_lock(local, "churnml score") if local is not None else contextlib.nullcontext():
        models = load_models(alias)
        _check_models(models, cfg, as_of)  # before Spark starts (read_tables): a wrong year needs no session
        reference = models.monitoring_reference
        drift_reports: list[Any] = []

        def monitor(features: Any, scores: Any) -> dict[str, Any]:
            # The sample's features as the DuckDB path hands them to drift: booleans as the models read them.
            drift_reports.append(drift(reference, as_trained(features, models), scores, as_of, cfg,
                                       history_days=reference_history_days(models.metadata),
                                       windows=feature_window_days(models.metadata)))
            return drift_reports[0].to_dict()

        session = start_spark(master)
        with working(f"Reading and validating {data}"):
            sdata = churn_spark.read_tables(session, churn_spark.resolve_path(data), cfg)
            fingerprint, data_summary = churn_spark.describe_data(sdata)
        # Before any refusal, as on DuckDB: a note often explains the error (no churn_events: another problem).
        show_data_notes(data_summary, data, config_path)
        refuse_other_problem(models.metadata, cfg, sdata.tables)
        with console.status("Scoring on Spark…") as status:

            def on_stage(text: str) -> None:
                # Each stage is Spark jobs that print nothing until they end: a line each in a scheduler's
                # log (timestamped, as DuckDB's), the spinner's text in a terminal.
                text = text[:1].upper() + text[1:]
                log(text)
                status.update(f"{text}…")

            metadata = score_metadata(models, as_of, cfg, fingerprint, alias, data_end=sdata.data_end)
            sidecar = churn_spark.score(sdata, as_of, models, out, cfg, columns, metadata,
                                        monitor=monitor if reference else None, on_stage=on_stage)
            on_stage(f"counting the customers outside the population at {as_of:%Y-%m-%d}")
            outside = churn_spark.outside_counts(sdata, as_of, cfg)

        def summary(drift_line: str | None, failing: bool = False) -> None:
            show_scores_summary(sidecar, cfg)
            if outside:  # as on DuckDB, without the file naming them: Spark writes no snapshot
                console.print(left_out_line(outside, sidecar["rows"], as_of, cfg.problem.active_days), markup=False,
                              highlight=False)
            console.print(
                f"Models: churnml-churn v{models.churn_version}, churnml-value v{models.value_version} ({alias}).\n"
                f"Wrote {out} (Parquet folder, Spark) and {out.rstrip('/')}.json. No feature snapshot with --engine spark."
            )
            checked = (sidecar.get("monitoring") or {}).get("rows_checked")
            if checked is not None and checked < sidecar["rows"]:
                console.print(f"Note: the drift check saw a uniform sample of {checked:,} of the {sidecar['rows']:,} customers "
                              "([monitoring] drift_sample_rows).", markup=False, highlight=False)
            if drift_line:
                console.print(drift_line)
            if failing:  # exit 3 stops the batch job, as on DuckDB
                return
            # retention-list reads the Parquet folder (its parts, and --partition-by's folders) when it is on this machine.
            listed = "--out retention_list.csv --budget 5000" + (f" --config {config_path}" if config_path else "")
            next_step(f"churnml retention-list {local} {listed}" if local is not None else
                      f"churnml retention-list SCORES {listed}, SCORES a copy of {out} (with {out.rstrip('/')}.json beside "
                      "it) on this machine: retention-list reads local files")

        _end_of_score(models, as_of, drift_reports[0] if drift_reports else None, fail_on_drift, out, summary)


def _list_attributes(asked: Any, where: str, scores: Path, dates: Any, sidecar: Mapping[str, Any] | None,
                     snapshot_dir: Path) -> tuple[Path | None, dict[str, str]]:
    """For `retention-list --attribute` (``where``: the option or the config setting): the snapshot of
    the scores' date and the list's column for each customers column ``asked``
    (:func:`churnml.targeting.attribute_columns`), checked before the list is made. None and {} when none is asked."""
    import pyarrow.parquet as pq

    from churnml import io
    from churnml.errors import DataError
    from churnml.features import attribute_columns as held_attributes
    from churnml.targeting import attribute_columns

    if not asked:
        return None, {}
    if len(dates) != 1:
        raise DataError(f"{where} needs scores of one as-of date, the date of the snapshot that holds the customers' "
                        f"columns; {scores} has {'none (no as_of column)' if len(dates) == 0 else ', '.join(dates[:5])}. "
                        "Use a scores file `churnml score` wrote.")
    snapshot = io.snapshot_file(dates[0], snapshot_dir)
    if not snapshot.is_file():
        why = ("these scores were written by `churnml score --engine spark`, which writes no feature snapshot; score "
               "with the default engine (duckdb) for a list with customers columns"
               if (sidecar or {}).get("engine") == "spark" else
               f"score wrote it to another folder (give it with --snapshots), `churnml prune-snapshots` removed it, or "
               f"the scores come from elsewhere; `churnml score DATA --as-of {dates[0]}` writes it again")
        raise DataError(f"{where} reads the customers' columns as of {dates[0]} from the snapshot `churnml score` wrote "
                        f"for that date, and {snapshot} is not there: {why}.")
    try:
        columns = pq.read_schema(snapshot).names
    except Exception as exc:  # pyarrow raises many types for a file that is not Parquet
        raise DataError(f"Cannot read {snapshot}: {exc}. Score again to write the snapshot.") from None
    return snapshot, attribute_columns(asked, held_attributes(columns), where, source=str(snapshot))


@command("retention-list")
def retention_list_command(
    scores: Annotated[Path, typer.Argument(metavar="SCORES", help="Scores file written by `churnml score` (.parquet or .csv).")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Retention list to write: .csv, .xlsx (an Excel workbook) or .parquet.")],
    budget: Annotated[Optional[float], typer.Option("--budget", help="Total contact cost allowed; the list stops before exceeding it [default: no limit].")] = None,
    max_customers: Annotated[Optional[int], typer.Option("--max-customers", help="At most this many customers [default: no limit].")] = None,
    contact_cost: Annotated[
        Optional[float], typer.Option("--contact-cost", help="Cost of one contact, for every segment [config: targeting.contact_cost, 5, and per segment [targeting.contact_costs]].")
    ] = None,
    success_rate: Annotated[
        Optional[float],
        typer.Option("--success-rate", help="Share of contacted at-risk customers a contact keeps, in (0, 1] [config: targeting.success_rate, 0.3]."),
    ] = None,
    segment: Annotated[
        Optional[list[str]],
        typer.Option("--segment", metavar="SEGMENT", help="Only this segment (key or display name); repeat or comma-separate for several."),
    ] = None,
    min_value: Annotated[Optional[float], typer.Option("--min-value", help="Only customers with at least this value at risk.")] = None,
    exclude: Annotated[
        Optional[list[Path]],
        typer.Option("--exclude", metavar="FILE", help="Customers never to list (do not contact, opted out, contacted last month): a CSV/Parquet/Excel (.xlsx) table with a customer_id column (any case, spaces or punctuation: Customer ID; or your name for it under [columns.customers]), or a text file with one id per line; repeat for several. An earlier list given here keeps its --holdout control group off too: they stay uncontacted, so `churnml evaluate` can still compare them."),
    ] = None,
    holdout: Annotated[
        Optional[float],
        typer.Option("--holdout", metavar="SHARE", help="Keep this share of the list (0 to 0.5, e.g. 0.1) uncontacted as a control group, marked in a 'group' column; `churnml evaluate LIST DATA` then measures what the contacts achieved [config: targeting.holdout, 0]."),
    ] = None,
    fmt: Annotated[Optional[str], typer.Option("--format", "-f", help="csv, xlsx (Excel) or parquet [default: from the --out suffix (.csv, .xlsx or .parquet), else csv].")] = None,
    attribute: Annotated[
        Optional[list[str]],
        typer.Option("--attribute", metavar="COLUMN", help="A column of the customers table to carry onto the list, e.g. region, to route contacts by (repeat or comma-separate for several): its value as of the scores' date, from the feature snapshot `churnml score` wrote for it (--snapshots); a name of the list's own columns gets customer_ before it (customer_segment) [config: targeting.attributes]."),
    ] = None,
    snapshot_dir: SnapshotsOpt = Path("snapshots"),
    config: ConfigOpt = None,
) -> None:
    """Rank customers by the expected net benefit of a retention contact.

    Reads SCORES. Expected benefit = value_at_risk × success_rate − contact_cost; only customers
    whose benefit rounds to at least 0.01 are listed (one the list would show as 0.00 is none),
    best first, until the budget (total contact cost) or the
    maximum count is reached (a contact the rest of the budget cannot pay is skipped for cheaper
    ones further down; where contacts cost differently, the budget buys those with the most
    benefit per cost instead when that expects more). Writes, atomically:

    - OUT: rank, customer_id, as_of, segment, segment_name, risk_tier, lifecycle_stage,
      churn_probability, value_if_retained, predicted_value (value_if_retained × (1 −
      churn_probability)), value_at_risk (value_if_retained × churn_probability), contact_cost
      (the segment's), expected_benefit, reasons, suggested_action (the segment's),
      talking_point (what to open with, from what the strongest reason is about: a complaint,
      "ask whether it was resolved and put right what is still open before any offer"; buying less,
      a reminder with an incentive; none without reasons; per topic in [segments.talking_points], "" for none; empty for scores written before
      reason_topics, which a warning says); with --holdout a column group (contact / control)
      after customer_id, control rows costing 0 with the action "Do not contact" and no talking
      point; with --attribute, the customers columns named, last (customer_<name> for a name of
      these columns: the customers table's own segment is customer_segment). CSV unless OUT ends in .xlsx or .parquet or --format says so; a CSV is UTF-8
      with a byte-order mark, so that spreadsheets show accents and € right, money with two
      decimals in every row (5.00, not 5.0) and churn_probability with four, and text starting
      with = + - @ (a formula to a spreadsheet) gets a leading ' (negative numbers excepted), and ids
      Excel would read as numbers (002475) are warned of; an Excel workbook
      opens in columns in any locale, where a comma CSV may not, and holds the summary (with the
      contacts per talking point and what the money is counted as: revenue, or a [problem] margin's
      share of it), the breakdown by segment and what each column means (for the people
      making the calls) in three sheets after the list;
      money in the currency of your amounts, over the horizon (90 days by default);
    - OUT.json: the summary printed below (customers selected, and of them to contact and in the
      control group, total cost, expected value saved, ROI, breakdown by segment, contacts per
      talking point and how many have none; with
      --holdout the control group is in none of the costs, savings and talking-point counts:
      --budget and --max-customers buy contacts, and the control customers come on top),
      the warnings and notes printed beside it (the workbook's summary sheet and report --list show them too),
      and what the scores came from (models and run, data fingerprint, code), which evaluate and
      report --list follow even after the scores file is overwritten.

    Prints the summary, the breakdown by segment, how many contacts open with each talking point
    (and how many have none) and the first rows with their reasons. Value saved (value at risk ×
    success rate) counts a churner's whole horizon as lost, though churners bring part of it before
    they leave: a note under the summary says how much that ran high in backtests (churnml evaluate
    SCORES DATA measures it).

    Segments: high_value_at_risk, loyal_high_value, potential, new_customer, low_value_active,
    dormant, fleeing_low_value. new_customer and low_value_active are the new, and the growing or
    stable, customers of dormant's cells: where a config prices or skips dormant, name them too;
    --segment dormant lists neither (a warning says so where some of them would pay off); scores an
    older churnml wrote still hold them under dormant (a warning says so).
    loyal_high_value ("reward, do not disturb") is left out unless --segment names it
    ([targeting] skip_segments in --config; offers per segment: [segments.actions]; what to open
    with per reason topic: [segments.talking_points]).

    --attribute COLUMN (or [targeting] attributes) carries columns of the customers table onto the
    list, to route contacts by region or plan without a join: the values as of the scores' date,
    read from SNAPSHOTS/features_YYYY-MM-DD.parquet, which `churnml score` wrote beside them (an
    unknown name is an error listing the columns there; --engine spark writes no snapshot).
    """
    import pandas as pd

    from churnml import io
    from churnml.cli.report import refuse_a_list, score_sidecar, scores_provenance
    from churnml.reports import sidecar_horizon
    from churnml.targeting import DECIMALS, retention_list

    cfg = load_config(config)
    inputs = [scores, f"{scores}.json", *(exclude or [])]
    io.check_output_file(out, "--out", inputs, example="retention_list.csv")
    io.check_output_file(out.with_name(out.name + ".json"), "The summary file", inputs, example=None)
    fmt = io.format_for(out, fmt, default="csv", formats=io.LIST_FORMATS)
    segments = [part.strip() for value in (segment or []) for part in value.split(",") if part.strip()]
    table = io.read_table(scores)
    refuse_a_list(scores, table, "pass the scores file `churnml score` wrote.")
    sidecar = score_sidecar(scores, lenient=True)
    dates = pd.to_datetime(table["as_of"]).dt.strftime("%Y-%m-%d").unique() if "as_of" in table.columns else []
    asked = [part.strip() for value in (attribute or []) for part in value.split(",") if part.strip()]
    where = "--attribute" if asked else "[targeting] attributes"
    snapshot, attribute_columns = _list_attributes(asked or cfg.targeting.attributes, where, scores, dates, sidecar,
                                                   snapshot_dir)
    id_columns = ("customer_id", cfg.column_name("customers", "customer_id"))
    excluded: set[str] = set()
    for path in exclude or []:
        ids = io.read_ids(path, id_columns, cfg.input.encoding)
        if not ids:  # a do-not-contact export that failed: nobody is kept off the list for it
            warn(f"--exclude {path} lists no customer id: nobody is left out for it. Check that the export worked.")
        excluded |= ids
    result = retention_list(
        table,
        budget=budget,
        max_customers=max_customers,
        contact_cost=contact_cost,
        success_rate=success_rate,
        segments=segments or None,
        min_value=min_value,
        config=cfg,
        exclude=excluded,
        holdout=holdout,
    )
    horizon = sidecar_horizon(sidecar or {}, cfg.problem.horizon_days)
    from churnml.segments import segment_names
    from churnml.targeting import list_notes, said_fields, summary_sheets, talking_point_summary, with_attributes

    if attribute_columns:
        values = pd.read_parquet(snapshot, columns=["customer_id", *dict.fromkeys(attribute_columns.values())])
        customers, absent = with_attributes(result.customers, values, attribute_columns)
        result = type(result)(customers=customers, summary=result.summary)
        if absent:
            warn(f"{len(absent):,} customer(s) of the list are not in {snapshot} (e.g. {absent[0]!r}): their "
                 f"{', '.join(attribute_columns)} cell(s) are empty. The snapshot was written by another `churnml "
                 "score` run for that date than the scores; score again to write both.")

    provenance = scores_provenance(sidecar)
    # What the money is: the models' definition, else (scores without one) the config's margin, as the terminal says.
    problem = provenance["models"].get("problem") or {"margin": cfg.problem.margin}
    # Exclusions that matched loosely or not at all, a control group too small, lapsed contacts: printed below as
    # POST /retention_list returns them, and recorded in the summary file and the workbook's summary sheet.
    said = list_notes(result, provenance["models"].get("problem"), len(excluded))
    summary = {"scores": str(scores), "as_of": dates[0] if len(dates) == 1 else None, "horizon_days": horizon,
               "problem": provenance["models"].get("problem"),
               "models": {k: v for k, v in provenance["models"].items() if k != "problem"} or None,
               "data_fingerprint": provenance["data_fingerprint"], "scores_code": provenance["code"],
               "exclude_files": [str(path) for path in exclude or []],
               **({"attributes": attribute_columns, "attributes_from": str(snapshot)} if attribute_columns else {}),
               **result.summary.to_dict(), **said_fields(said, result.summary), **talking_point_summary(result.customers)}
    # The summary's temporary file is written before the list is renamed into place and published after it, as
    # `score` does its sidecar: a summary that could not be written (a full disk) left the new list beside the
    # last run's summary, which `evaluate` and `report --list` then read as this list's (its models, its counts).
    with io.staged_json(summary, out.with_name(out.name + ".json")) as summary_path:
        # Money to the cent and probabilities to 0.01 % in every row of a CSV, as the workbook's formats show them.
        written = io.write_table(result.customers, out, fmt, spreadsheet=True, sheet_name="retention list", decimals=DECIMALS,
                                 sheets=summary_sheets(result.summary, segment_names(cfg), horizon, result.customers, problem,
                                                       said) if fmt == "xlsx" else None)
    show_retention_summary(result, cfg, horizon_days=horizon, problem=provenance["models"].get("problem"))
    for kind, text in said:
        if kind == "warning":
            warn(text)
        else:
            console.print(f"Note: {text}", markup=False, highlight=False)
    changed = io.excel_changed_ids(result.customers["customer_id"]) if fmt == "csv" else []
    if changed:
        warn(f"{len(changed):,} customer id(s) of the list look like numbers that Excel changes when it opens a CSV, "
             f"e.g. {changed[0]} (a leading zero is dropped, digits beyond the 15th become zeros): the file is right, but "
             f"ids copied from Excel into a CRM would match nobody. Write --out {out.with_suffix('.xlsx').name}, which keeps "
             "them as text, or import the CSV into Excel with customer_id as a Text column.")
    # Why no contact, split segments a config misses, scores older than a split: as POST /retention_list.
    for text in result.summary.warnings:
        warn(text)
    console.print(f"Wrote {written} and {summary_path}.")

