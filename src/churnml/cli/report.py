"""`churnml report` and `churnml evaluate`: pages people look at, and backtests once outcomes are known."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Annotated, Any, Optional, Sequence

import pandas as pd
import typer
from rich.table import Table

from churnml.cli import command, console, print_whole, warn
from churnml.cli._options import ConfigOpt, DataArg
from churnml.cli.train import CHURN_ROWS, VALUE_ROWS
from churnml.config import load_config
from churnml.errors import ConfigError, DataError

_SHOWN_KEYS = {"churn": ("roc_auc", "pr_auc", "log_loss", "ece", "lift_at_10", "emp"),
               "value": ("normalized_gini", "mae", "top20_value_capture", "top10_value_capture", "normalized_gini_positive",
                         "spearman_positive", "zero_value_share")}
_SHOWN = tuple((kind, key, label) for kind, rows in (("churn", CHURN_ROWS), ("value", VALUE_ROWS))
               for key, label in rows if key in _SHOWN_KEYS[kind])
"""The test metrics `evaluate` compares, labelled as `train` prints them (in its order)."""
_LEVELS = (("churn", "mean_probability", "mean churn probability", "{:.4f}"),
           ("churn", "churn_rate", "churn rate, actual", "{:.4f}"),
           ("churn", "level_ratio", "churn: predicted ÷ actual", "{:.3f}"),
           ("value", "predicted_total", "value predicted, total", "{:,.0f}"),
           ("value", "actual_total", "value actual, total", "{:,.0f}"),
           ("value", "level_ratio", "value: predicted ÷ actual", "{:.3f}"),
           ("value", "value_weighted_churn_ratio", "churn, value-weighted: predicted ÷ actual", "{:.3f}"),
           ("value", "value_at_risk_total", "value at risk, total", "{:,.0f}"),
           ("value", "value_lost_total", "value lost by churners", "{:,.0f}"),
           ("value", "value_at_risk_level_ratio", "value at risk ÷ value lost", "{:.3f}"))
"""Rows on the level: rankings and ECE can look fine while every probability or value runs low
(value 25 % and churn 12 % low in a forward test, with ECE 0.0103). Training's test metrics have
no such rows: its models' levels were set after grading (churn to the test cutoff, value to the
cutoff a year before the as-of date). The value at risk's rows are the money a retention list
counts: churn and value levels within 10 % left it 1.6 times the value the churners lost."""


def _value_at_risk_table(deciles: list[dict[str, float]]) -> Table:
    """`evaluate`'s value-weighted calibration: per decile of value at risk (the list's order),
    churners predicted against actual, and the value at risk against the value the churners lost."""
    shown = Table(title=f"Value at risk by decile of value_at_risk (1 = highest, a retention list's top; "
                        f"{deciles[0]['customers']:,} customers each): the churners' value lost is their value if retained "
                        "less what they brought in the horizon before leaving", title_justify="left")
    for column in ("decile", "churners predicted", "churners", "value at risk", "churners' value if retained",
                   "value lost", "at risk ÷ lost"):
        shown.add_column(column, justify="right")
    for row in deciles:
        ratio = row["value_at_risk_level_ratio"]
        shown.add_row(str(row["decile"]), f"{row['churners_predicted']:,.1f}", f"{row['churners']:,}",
                      f"{row['value_at_risk_total']:,.0f}", f"{row['churners_value_if_retained']:,.0f}",
                      f"{row['value_lost_total']:,.0f}", "–" if ratio != ratio else f"{ratio:.3f}")
    return shown


GRADED_NOTE = ("Training test is as graded, before the churn level was shifted to the test cutoff's churn rate and the "
               "value level was set; these scores come from the registered models, after the shift. The shift changes no "
               "ranking (AUC, lift, Gini, value shares); ECE, log loss and MAE here compare the shifted models' scores with "
               "the graded models (`churnml models` shows, in brackets, the ECE after the shift: in-sample, on the test cutoff).")
"""What `evaluate`'s training-test column compares with, in the words `churnml models` uses for its ECEs."""


_LIST_MARKS = ("rank", "expected_benefit")
"""Columns only a retention list has (`churnml retention-list`, :data:`churnml.targeting.LIST_COLUMNS`)."""
_SCORES_MARKS = ("churn_model_version", "value_model_version", "current_value")
"""Columns only a scores table has (`churnml score`, :data:`churnml.scoring.SCORE_COLUMNS`)."""
_SCORES_NEEDS = ("churn_probability", "predicted_value", "value_at_risk", "current_value", "risk_tier", "value_tier",
                 "segment", "reasons", "churn_model_version", "value_model_version")
"""Columns a scores report reads (``as_of`` too, unless the sidecar has it)."""
_LIST_NEEDS = ("rank", "expected_benefit", "value_at_risk")
_NUMBER_COLUMNS = ("churn_probability", "predicted_value", "value_at_risk", "current_value", "expected_benefit")
_SUMMARY_NUMBERS = ("scored", "candidates", "selected", "contact_cost", "success_rate", "total_cost",
                    "expected_value_saved", "expected_net_benefit")
"""Numbers of a retention list's summary (:meth:`churnml.targeting.RetentionSummary.to_dict`)."""
_SUMMARY_SEGMENT_KEYS = ("segment", "name", "customers", "total_cost", "expected_value_saved", "expected_net_benefit",
                         "suggested_action")
_SCORE_WRITER = "`churnml score`"
_LIST_WRITER = "`churnml retention-list`"


def _sidecar(path: Path, writer: str) -> dict | None:
    """The JSON file ``<path>.json`` written beside ``path`` by ``writer``; None when there is none.

    Raises
    ------
    DataError
        When it is not valid JSON or not a JSON object.
    """
    from churnml import io

    sidecar = path.with_name(path.name + ".json")
    if not sidecar.is_file():
        return None
    try:
        meta = io.read_json(sidecar)
    except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError
        raise DataError(f"{sidecar} is not valid JSON ({exc}). {writer} writes it beside {path.name}: "
                        "re-run that command to write both again.") from None
    except OSError as exc:
        raise DataError(f"Cannot read {sidecar}: {exc.strerror or exc}. Check its permissions; {writer} wrote it "
                        f"beside {path.name}.") from None
    if not isinstance(meta, dict):
        raise DataError(f"{sidecar} holds a JSON {type(meta).__name__}, not the object {writer} writes beside {path.name}. "
                        "Re-run that command to write both again.")
    return meta


def score_sidecar(path: Path, lenient: bool = False) -> dict | None:
    """The sidecar `churnml score` wrote beside the scores at ``path``; None when there is none.

    ``lenient``: one that is not a JSON object counts as none (a list is made without it).

    Raises
    ------
    DataError
        The sidecar belongs to another scores file (:func:`churnml.scoring.check_sidecar`), or,
        unless ``lenient``, it is not a JSON object.
    """
    from churnml.scoring import check_sidecar

    try:
        sidecar = _sidecar(path, _SCORE_WRITER)
    except DataError:
        if lenient:
            return None
        raise
    if sidecar is not None:
        check_sidecar(path, sidecar)
    return sidecar


def _marks(columns: Sequence[str], marks: Sequence[str]) -> list[str]:
    return [c for c in marks if c in columns]


def _check_columns(path: Path, table: pd.DataFrame, needed: Sequence[str], what: str, writer: str) -> None:
    """A clear error when ``table`` lacks one of ``needed`` or holds text in a number column."""
    if len(table.columns) == 0:
        raise DataError(f"{path} has no columns, so it is not a {what}. Pass a {what} written by {writer}.")
    missing = [c for c in needed if c not in table.columns]
    if missing:
        raise DataError(f"{path} is not a {what}: it lacks column(s) {', '.join(missing)}. Pass a {what} written by {writer}.")
    if table.empty:  # an empty list (a budget below one contact): a CSV header alone types no column
        return
    for column in _marks(table.columns, _NUMBER_COLUMNS):
        if not pd.api.types.is_numeric_dtype(table[column]) or pd.api.types.is_bool_dtype(table[column]):
            values = table[column]
            bad = values[pd.to_numeric(values, errors="coerce").isna() & values.notna()]
            found = repr(bad.iloc[0]) if len(bad) else f"{values.dtype} values"
            raise DataError(f"{path}: column {column} must hold numbers, not {found}. "
                            f"Pass the {what} as {writer} wrote it, or write it again.")


def _evaluate_campaign(path: Path, table: pd.DataFrame, data: Path, cfg: Any) -> None:
    """`churnml evaluate LIST DATA`: churn of the contacted group against the control group."""
    from churnml.labels import refuse_other_problem
    from churnml.monitoring import campaign_outcome
    from churnml.reports import positive_days
    from churnml.validate import load_dataset

    if "group" not in table.columns:
        raise DataError(f"{path} is a retention list without a control group (no column group): evaluate measures a "
                        "list made with `churnml retention-list --holdout SHARE`. To backtest the scores, pass the scores "
                        f'file it was made from (its summary {path.name}.json names it under "scores").')
    summary = _sidecar(path, _LIST_WRITER) or {}
    horizon = positive_days(summary.get("horizon_days"), cfg.problem.horizon_days)  # the list's summary records it
    dataset = load_dataset(data, cfg)
    trained = _list_models_metadata(summary)
    if trained is not None:  # the labels must mean what the list's models predicted
        refuse_other_problem(trained, cfg.replace(problem={"horizon_days": horizon}), dataset.tables)
    as_of, groups, outcome = campaign_outcome(table, dataset, horizon, cfg)
    shown = Table(title=f"Retention list as of {as_of:%Y-%m-%d}: churn over the next {horizon} days", title_justify="left")
    for column in ("group", "customers", "in the data", "churned", "churn rate"):
        shown.add_column(column, justify="left" if column == "group" else "right")
    for row in groups.itertuples(index=False):
        shown.add_row(row.group, f"{row.customers:,}", f"{row.labelled:,}", f"{row.churned:,}", f"{row.churn_rate:.1%}")
    print_whole(shown)
    # What retention-list said beside the list when it was made, as its summary records it (targeting.said_fields):
    # read beside the uplift months later, a control group too small to tell the effect from chance, or --exclude ids
    # that matched nothing, was in the terminal of the day only.
    for text in _recorded(summary, "warnings"):
        warn(f"the list's summary says: {text}")
    for text in _recorded(summary, "notes"):
        console.print(f"Note: the list's summary says: {text}", markup=False, highlight=False)
    listed, labelled = int(groups["customers"].sum()), int(groups["labelled"].sum())
    if labelled < 0.9 * listed:
        # Another generation of the data (a re-export, other ids) left half the list unlabelled, and
        # the uplift on the rest read as a result without a word.
        warn(f"{listed - labelled:,} of {listed:,} listed customers are not in the population of DATA at "
             f"{as_of:%Y-%m-%d}: is DATA the data the list's scores came from? The figures below count the other "
             f"{labelled:,} only.")
    rate = outcome["success_rate"]
    points = {k: 100 * outcome[k] for k in ("uplift", "uplift_low", "uplift_high")}
    assumed = f"{summary.get('success_rate', cfg.targeting.success_rate):g} ([targeting] success_rate)"
    if rate != rate:
        said = "Nobody in the control group churned: there is nothing to measure a success rate against."
    elif outcome["uplift"] <= 0:
        said = "The contacted customers churned as much as the control group or more: no effect of the contacts shows."
    else:
        # With its interval: a bare "kept 46 %" from 7 control churners read as a finding to copy
        # into success_rate, where the data allow anything from -37 % to 79 %.
        said = (f"The contacts kept {rate:.0%} of the customers who would have left (95 % interval "
                f"{outcome['success_rate_low']:.0%} to {outcome['success_rate_high']:.0%}); the list assumed {assumed}.")
    console.print(f"Uplift (control churn rate minus contacted): {points['uplift']:+.1f} percentage points (95 % interval "
                  f"{points['uplift_low']:+.1f} to {points['uplift_high']:+.1f}). {said}")
    money = _campaign_money(summary, rate if outcome["uplift"] > 0 else 0.0)
    if money:
        console.print(money)
    chance = outcome["uplift_low"] <= 0 <= outcome["uplift_high"] or (
        outcome["uplift"] > 0 and outcome["success_rate_low"] <= 0)
    if chance:
        warn("the interval includes 0: with groups this size the contacts' effect cannot be told from chance"
             + (f", so the measured success rate is no reason to change {assumed}" if rate == rate else "")
             + ". A larger control group (--holdout) or list gives a narrower interval.")


def _recorded(summary: dict, kind: str) -> list[str]:
    """A list summary's ``warnings`` or ``notes`` (``kind``); none from a summary written before it recorded
    them, nor what is not a list of texts (a hand-edited file: evaluate needs only the list)."""
    texts = summary.get(kind)
    return [text for text in texts if isinstance(text, str)] if isinstance(texts, list) else []


def _campaign_money(summary: dict, measured: float) -> str | None:
    """The list's expected value saved beside what the measured success rate makes of it (the
    contacted customers' value at risk × the rate): the uplift alone did not say whether the
    campaign paid. None when the summary lacks the figures or the rate is unknown."""
    expected, assumed = summary.get("expected_value_saved"), summary.get("success_rate")
    if not isinstance(expected, (int, float)) or not assumed or measured != measured:
        return None
    at_risk = summary.get("value_at_risk")
    at_risk = float(at_risk) if isinstance(at_risk, (int, float)) else expected / assumed
    saved, cost = at_risk * measured, float(summary.get("total_cost") or 0.0)
    return (f"In money: the list expected to save {expected:,.2f} (success rate {assumed:g}) for {cost:,.2f} of contacts; "
            f"at the measured rate ({measured:.0%}) the contacts saved about {saved:,.2f}, a net {saved - cost:+,.2f}."
            + ("" if (summary.get("problem") or {}).get("churn") == "inactivity" else  # churners then bring nothing
               " Both are value at risk × a success rate, which counts a churner's whole horizon as lost: churnml evaluate "
               "SCORES DATA says how much that runs high."))


def _sidecar_models(sidecar: dict) -> dict:
    """A scores sidecar's ``models`` section (run, versions, problem …); empty without one."""
    models = sidecar.get("models")
    return models if isinstance(models, dict) else {}


def _sidecar_run_id(sidecar: dict) -> str | None:
    """The training run a scores sidecar names (``models.run_id``), or None."""
    return _sidecar_models(sidecar).get("run_id")


def _list_models_metadata(summary: dict) -> dict | None:
    """The training metadata of the models behind a list: its summary names the scores file, whose
    sidecar names the run. None when a link is gone (moved files, another MLflow store)."""
    from mlflow.exceptions import MlflowException

    from churnml import tracking

    scores = summary.get("scores")
    try:
        # The run the list recorded when it was made: the scores file it names may have been
        # overwritten since by scores of other models (a daily job writing scores.parquet).
        run_id = _sidecar_run_id(summary)
        if not isinstance(run_id, str):  # a list made before it recorded its models
            run_id = _sidecar_run_id(score_sidecar(Path(scores)) or {}) if isinstance(scores, str) else None
        return tracking.load_run_metadata(run_id) if isinstance(run_id, str) else None
    except (DataError, MlflowException, OSError, ValueError):
        return None


def refuse_a_list(path: Path, table: pd.DataFrame, fix: str) -> None:
    """Raise :class:`DataError` when the table expected to be scores is a retention list; ``fix`` says what to pass instead."""
    listing = _marks(table.columns, _LIST_MARKS)
    if listing and not _marks(table.columns, _SCORES_MARKS):
        raise DataError(f"{path} looks like a retention list (it has columns {', '.join(listing)}), not a scores table; {fix}")


def scores_provenance(sidecar: dict | None) -> dict:
    """What scores came from, for the list made from them: their ``sidecar``'s ``models`` section
    (run, versions, problem; empty without a sidecar), ``data_fingerprint`` and ``code``. A list
    named only its scores file, which a later ``churnml score`` may overwrite."""
    sidecar = sidecar or {}
    return {"models": _sidecar_models(sidecar), "data_fingerprint": sidecar.get("data_fingerprint"), "code": sidecar.get("code")}


def _scores_sidecar(path: Path, table: pd.DataFrame) -> dict | None:
    """The sidecar of the scores ``table``; :class:`DataError` unless both are what `churnml score` writes."""
    refuse_a_list(path, table, "pass it as --list.")
    sidecar = score_sidecar(path)
    json_path = path.with_name(path.name + ".json")
    if sidecar is not None and "limited_by" in sidecar and "rows" not in sidecar:  # a list's summary names its models too
        raise DataError(f"{json_path} is the summary of a retention list, not the sidecar {_SCORE_WRITER} writes beside a "
                        f"scores table. Re-run {_SCORE_WRITER} to write {path.name} and its sidecar again, or delete {json_path.name}.")
    needed = _SCORES_NEEDS + (() if sidecar and sidecar.get("as_of") else ("as_of",))
    _check_columns(path, table, needed, "scores table", _SCORE_WRITER)
    for key, kind in (("models", dict), ("monitoring", dict), ("as_of", str)):
        if sidecar is not None and sidecar.get(key) is not None and not isinstance(sidecar[key], kind):
            raise DataError(f"{json_path}: {key!r} should be a JSON {'object' if kind is dict else 'string'}, not "
                            f"{sidecar[key]!r:.60}. Re-run {_SCORE_WRITER} to write {path.name} and its sidecar again.")
    return sidecar


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _list_summary(path: Path, table: pd.DataFrame) -> dict:
    """The summary of the retention list ``table``; :class:`DataError` unless both are what `churnml retention-list` writes."""
    scores = _marks(table.columns, _SCORES_MARKS)
    if scores and not _marks(table.columns, _LIST_MARKS):
        raise DataError(f"{path} looks like a scores table (it has columns {', '.join(scores)}), not a retention list; "
                        f"pass it as --scores, or make a list from it with `churnml retention-list {path} --out list.csv`.")
    _check_columns(path, table, _LIST_NEEDS, "retention list", _LIST_WRITER)
    summary = _sidecar(path, _LIST_WRITER)
    json_path = path.with_name(path.name + ".json")
    again = f"Re-run {_LIST_WRITER} to write {path.name} and its summary again."
    if summary is None:
        raise DataError(f"{path} has no summary {json_path.name} beside it. "
                        f"Write the list with {_LIST_WRITER}, which writes both.")
    if "limited_by" not in summary and "rows" in summary:  # (a list's summary has an as_of and models too)
        raise DataError(f"{json_path} is the sidecar of a scores table, not the summary of a retention list. {again}")
    missing = [k for k in ("limited_by", *_SUMMARY_NUMBERS, "roi", "by_segment") if k not in summary]
    if missing:
        raise DataError(f"{json_path} is not a retention-list summary: it lacks {', '.join(missing)}. {again}")
    wrong = [k for k in _SUMMARY_NUMBERS if not _is_number(summary[k])]
    wrong += [] if summary["roi"] is None or _is_number(summary["roi"]) else ["roi"]
    wrong += [] if isinstance(summary["limited_by"], str) else ["limited_by"]
    # What retention-list said beside the summary (absent from summaries written before it recorded its notes).
    wrong += [k for k in ("warnings", "notes") if k in summary
              and not (isinstance(summary[k], list) and all(isinstance(text, str) for text in summary[k]))]
    rows = summary["by_segment"]
    if not isinstance(rows, list) or not all(isinstance(r, dict) and all(k in r for k in _SUMMARY_SEGMENT_KEYS) for r in rows):
        wrong.append("by_segment")
    if wrong:
        raise DataError(f"{json_path} is not a retention-list summary: {', '.join(wrong)} "
                        f"{'has' if len(wrong) == 1 else 'have'} the wrong type. {again}")
    return summary


def backtest_inputs(scores: Path, data_fingerprint: str, horizon: int, run_id: str, churn_version: str,
                    value_version: str) -> str:
    """The digest of what decides a backtest's result (:data:`churnml.tracking.BACKTEST_INPUTS_TAG`):
    the scores file's bytes, the data, the horizon and the models."""
    from churnml import io

    return hashlib.sha256(io.json_text({
        "scores_sha256": io.file_sha256(scores), "data_fingerprint": data_fingerprint, "horizon_days": horizon,
        "run_id": run_id, "churn_model_version": churn_version, "value_model_version": value_version,
    }).encode()).hexdigest()


def _training_run(run_id: str, fix: str) -> Any:
    """:func:`churnml.tracking.load_run`, with the store's training runs listed when ``run_id`` is not one of them."""
    from churnml import tracking
    from churnml.errors import ModelNotFoundError

    try:
        return tracking.load_run(run_id)
    except ModelNotFoundError:
        runs = [row for row in tracking.list_models() if row.name == tracking.CHURN_MODEL_NAME]  # newest first
        if any(row.run_id == run_id for row in runs):
            raise
    store = tracking.tracking_uri()
    if not runs:
        raise ModelNotFoundError(f"No training run {run_id!r} in {store}, which has no training runs yet. "
                                 "Train with `churnml train DATA --as-of DATE`, or point MLFLOW_TRACKING_URI at the store you trained in.")
    shown = [f"{row.run_id} (churnml-churn v{row.version}{''.join(', ' + a for a in row.aliases)}, registered {row.created:%Y-%m-%d %H:%M})"
             for row in runs[:5]]
    more = f" and {len(runs) - 5} older" if len(runs) > 5 else ""
    raise ModelNotFoundError(f"No training run {run_id!r} in {store}. Its training runs, newest first: "
                             f"{'; '.join(shown)}{more}. {fix}")


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
    run. A run report reads the MLflow store (MLFLOW_TRACKING_URI, else ./mlruns/mlflow.db): the
    code, seed and LightGBM threads that made the models, model vs baselines and grade, ROC/PR,
    calibration (plot, and expected vs actual churners by decile on the test cutoff), the churn
    rate of each split, gains and lift, value deciles, feature importance, the most common reasons
    and the data summary. A scores report shows the score distributions, the value × risk matrix,
    value by segment, top reasons by segment and drift. A list report shows its summary, the
    expected value saved against budget, and how many contacts open with each talking point. Scores and list reports name the models' run. Writes OUT
    atomically.
    """
    from churnml import io, reports, tracking

    chosen = [name for name, value in (("--run-id", run_id), ("--scores", scores), ("--list", list_file)) if value is not None]
    if len(chosen) > 1:
        raise ConfigError(f"Give only one of --run-id, --scores or --list (got {' and '.join(chosen)}).")
    cfg = load_config(config)
    inputs = [path for given in (scores, list_file) if given is not None for path in (given, f"{given}.json")]
    io.check_output_file(out, "--out", inputs, example="report.html")
    if out.suffix.lower() not in (".html", ".htm"):
        raise ConfigError(f"--out {out}: the report is an HTML page. Name the file .html.")
    if scores is not None:
        table = io.read_table(scores)
        page = reports.scores_report(table, _scores_sidecar(scores, table), cfg)
        what = f"scores {scores}"
    elif list_file is not None:
        table = io.read_table(list_file)
        page = reports.list_report(table, _list_summary(list_file, table), cfg)
        what = f"retention list {list_file}"
    else:
        if run_id:
            record = _training_run(run_id, "Pass one of them as --run-id, or leave --run-id out for the champion's run.")
        else:
            record = tracking.load_run(tracking.champion_run_id())
        page = reports.run_report(record)
        what = f"training run {record.run_id}"
    with io.atomic_path(out) as tmp:
        tmp.write_text(page, encoding="utf-8")
    console.print(f"Wrote {out} ({len(page) / 1e6:.1f} MB): report on {what}. Open it in any browser; it needs no network.")


@command("evaluate")
def evaluate_command(
    scores: Annotated[Path, typer.Argument(metavar="SCORES", help="Scores file written by `churnml score` (.parquet or .csv), or a retention list made with --holdout (.csv, .xlsx or .parquet, as `churnml retention-list` writes them).")],
    data: DataArg,
    config: ConfigOpt = None,
) -> None:
    """Backtest old scores once their horizon has passed: what the models said vs what happened.

    Reads SCORES (and its .json sidecar for the training run) and DATA, which must now cover the
    horizon after the scores' as-of date. Computes the actual churn and value labels of the scored
    customers and the same metrics as training, beside the training test's as graded (before the
    churn level was shifted to the test cutoff's churn rate: these scores come from the models after
    the shift, so ECE and log loss differ by it), with the levels (mean churn probability against the
    churn rate, summed predicted value against the value that happened; a warning when either is
    more than 10 % off), the value at risk against the value the churners lost (their value if
    retained less what they brought in the horizon before leaving), overall and by decile of value
    at risk, and a closing line saying whether the models degraded (a ranking fell beyond
    the 95 % interval of the change, or a level ran off), and writes them to MLflow against the model
    versions: a `backtest` run, `backtest_*` metric history on the training run (step = days since
    the training as-of date) and tags on both registered versions, so decay over time is visible.

    Given a retention list made with `--holdout`, compares instead the churn of the contacted
    customers with the control group's over the horizon: the uplift (with a 95 % interval) and
    the success rate it implies, to put in [targeting] success_rate. The list's .json summary names
    the models that scored it, which are used even when its scores file has been overwritten since,
    and the warnings and notes retention-list said beside it (a control group too small to tell the
    effect from chance, --exclude ids that matched nothing), which are shown again.
    """
    from churnml import io, tracking
    from churnml.labels import refuse_other_problem
    from churnml.metrics import few_churners_note
    from churnml.monitoring import degradation_status, evaluate_scores, fitted_labels_end
    from churnml.validate import load_dataset

    cfg = load_config(config)
    table = io.read_table(scores)
    if _marks(table.columns, _LIST_MARKS) and not _marks(table.columns, _SCORES_MARKS):
        _evaluate_campaign(scores, table, data, cfg)
        return
    refuse_a_list(scores, table, f"pass the scores file it was made from (its summary {scores.name}.json names it under \"scores\").")
    for column in ("churn_model_version", "value_model_version"):
        if column not in table.columns or table[column].nunique() != 1:
            raise DataError(f"{scores} needs one {column} for all rows. Use a scores file written by `churnml score`.")
    churn_version, value_version = str(table["churn_model_version"].iloc[0]), str(table["value_model_version"].iloc[0])
    sidecar = score_sidecar(scores) or {}
    run_id = _sidecar_run_id(sidecar) or tracking.run_id_of(tracking.CHURN_MODEL_NAME, churn_version)
    run = _training_run(run_id, f"{scores} was scored with the models of that run: point MLFLOW_TRACKING_URI at the store that trained them.")
    horizon = int(run.metadata.get("horizon_days", cfg.problem.horizon_days))
    dataset = load_dataset(data, cfg)
    # The labels must mean what the models predicted (the horizon is the run's own).
    refuse_other_problem(run.metadata, cfg.replace(problem={"horizon_days": horizon}), dataset.tables)
    as_of, backtest = evaluate_scores(table, dataset, horizon, cfg)
    # Run again on the same scores and data (a scheduler's retry), it logs nothing new: same result.
    inputs = backtest_inputs(scores, dataset.fingerprint, horizon, run_id, churn_version, value_version)
    logged_before = tracking.logged_backtest(inputs)
    # Logged by an older churnml, it may lack figures this one computes: they are added to it.
    added = [] if logged_before is None else tracking.complete_backtest(
        logged_before, run_id, churn_version, value_version, as_of, backtest.churn, backtest.value)
    backtest_run = logged_before or tracking.log_backtest(
        run_id, churn_version, value_version, as_of, backtest.churn, backtest.value,
        {"scores": str(scores), "customers": backtest.customers, "unlabelled": backtest.unlabelled,
         "churn_rate": f"{backtest.churn_rate:.4f}", "data_fingerprint": dataset.fingerprint, "horizon_days": horizon},
        inputs=inputs,
    )
    trained = run.metadata.get("test_metrics", {})
    shown = Table(title=f"Backtest of scores as of {as_of:%Y-%m-%d} ({backtest.customers:,} customers, "
                        f"churn rate {backtest.churn_rate:.1%})", title_justify="left")
    # The training test's metrics are the models' as graded: the registered models (these scores')
    # had their levels set after it. Labelled "training test", the ECE read as the same model's.
    graded = f"training test, as graded ({', '.join(run.metadata.get('cutoffs', {}).get('test', []))})"
    for column in ("metric", "now", graded, "change"):
        shown.add_column(column, justify="left" if column == "metric" else "right")
    for kind, key, label in _SHOWN:
        now = getattr(backtest, kind)[key]
        then = trained.get(kind, {}).get("model", {}).get(key)
        shown.add_row(label, f"{now:.4f}", "–" if then is None else f"{then:.4f}", "–" if then is None else f"{now - then:+.4f}")
    for kind, key, label, shape in _LEVELS:
        now = getattr(backtest, kind).get(key, float("nan"))
        shown.add_row(label, "–" if now != now else shape.format(now), "–", "–")
    print_whole(shown)
    if "level_shift" in run.metadata:  # models trained before the shift: graded and registered are one
        console.print(GRADED_NOTE)
    if backtest.value_at_risk_deciles:
        print_whole(_value_at_risk_table(backtest.value_at_risk_deciles))
    for note in backtest.level_notes():
        warn(note[0].upper() + note[1:] + " Training sets the churn level to its latest labels and the value level to "
             "the same season a year before its as-of date (its latest labels when its cutoffs do not reach back a year): "
             "retrain on data that reaches past these scores' horizon.")
    at_risk = backtest.value_at_risk_note()
    if at_risk:
        # Churners who bring a share of the horizon's value before leaving (a closure mid-horizon) are a gap no
        # retraining closes; where they bring next to nothing (churn as inactivity), the gap is the churn level by value.
        brought = backtest.value.get("churners_brought_share", 0.0)
        warn(at_risk[0].upper() + at_risk[1:] + (
            " Retraining does not change this much: value_at_risk is churn probability × value if retained, which counts "
            "a churner's whole horizon as lost; read a list's value saved as that much off." if brought >= 0.05 else ""))
    few = few_churners_note(round(backtest.churn_rate * backtest.customers), backtest.customers)
    if few:
        warn(f"{few[0].upper()}{few[1:]}. Read the change from the training test with that in mind.")
    seen = fitted_labels_end(run.metadata, as_of)
    at_test_cutoff = f"{as_of:%Y-%m-%d}" in run.metadata.get("cutoffs", {}).get("test", []) and "level_shift" in run.metadata
    if seen is not None and not at_test_cutoff:  # there, the warning below says what is in-sample
        warn(f"the models were fitted on outcomes up to {seen:%Y-%m-%d}, after these scores' as-of date "
             f"({as_of:%Y-%m-%d}): part of what this backtest checks was in their training data, so it flatters them. "
             "Backtest scores made by models trained before the scores' date.")
    if at_test_cutoff:
        warn("these scores are as of the models' test cutoff, where the churn model's level was fitted after grading: "
             "log loss, Brier, ECE and the churn level here are in-sample and read better than on new data. Rankings (AUC, lift) are as graded.")
    if backtest.unlabelled:
        console.print(f"[yellow]{backtest.unlabelled:,} scored customers have no label[/yellow] (not in the population "
                      "of DATA at that date): is DATA the data they were scored from?", markup=True)
    console.print(degradation_status(backtest, run.metadata), markup=False, highlight=False)
    console.print(f"{'Already logged' if logged_before else 'Logged'} to MLflow: backtest run {backtest_run}"
                  f"{' (the same scores and data)' if logged_before else ''} against churnml-churn v{churn_version} and "
                  f"churnml-value v{value_version} (training run {run_id})."
                  + (f" An older churnml logged it: added the {len(added)} figure{'s' if len(added) > 1 else ''} it lacked "
                     f"({', '.join(added)})." if added else ""), markup=False, highlight=False)
