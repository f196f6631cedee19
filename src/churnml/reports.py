"""Self-contained HTML reports: a training run, a scores file, a retention list.

Each report is one HTML string with every plot embedded as a base64 PNG and inline CSS: it opens
offline, can be mailed, and needs no server. The builders are pure — they take what the CLI read
(a :class:`churnml.tracking.RunRecord`, a scores table and its sidecar, a retention list and its
summary) and return the HTML; :mod:`churnml.cli.report` does the reading and writing.

Every section is a ``<section id="...">``; :data:`RUN_SECTIONS`, :data:`SCORES_SECTIONS` and
:data:`LIST_SECTIONS` list them in page order (the tests check they are all there).

A run's plots need the test-cutoff predictions, which MLflow does not keep: the training pipeline
logs them once (a sample of at most :data:`MAX_SAMPLE_ROWS` customers, with their reasons and the
data summary) via :func:`run_report_data`.
"""

from __future__ import annotations

import base64
import html
import re
from collections import Counter
from io import BytesIO
from typing import Any, Iterable, Mapping, Sequence

import numpy as np
import pandas as pd
from matplotlib.axes import Axes

from churnml import plots
from churnml.config import Config
from churnml.dataset import row_counts
from churnml.features import plural_counts
from churnml.labels import calendar_churn_text, describe_problem
from churnml.metrics import GRADE_LEGEND, calibration_bins, few_churners_note
from churnml.monitoring import model_age_text, recorded_season_cutoff
from churnml.reasons import ATTRIBUTE_BAND, ATTRIBUTE_CHURN
from churnml.segments import RISK_TIERS, SEGMENT_MATRIX, SEGMENTS, STAGE_SEGMENTS, VALUE_TIERS, segment_names
from churnml.targeting import (CANDIDATES_LABEL, NO_TALKING_POINT, contact_cost_text, list_size_text, talking_point_counts,
                               value_saved_note)

RUN_SECTIONS: tuple[str, ...] = (
    "overview", "model-vs-baselines", "roc-pr", "calibration", "gains-lift",
    "value-deciles", "feature-importance", "top-reasons", "data-summary",
)
SCORES_SECTIONS: tuple[str, ...] = (
    "overview", "score-distributions", "segment-matrix", "value-by-segment", "reasons-by-segment", "drift",
)
LIST_SECTIONS: tuple[str, ...] = ("overview", "retention-summary", "roi-curve", "by-segment", "talking-points")

MAX_SAMPLE_ROWS = 20_000
"""Test-cutoff customers kept for a run's curves (ROC, gains, …): plenty for smooth curves."""
TOP_REASONS = 10
REASONS_PER_SEGMENT = 3
_SIGNIFICANT = 6
_ATTRIBUTE = re.compile(r"^[\w ]+: \S")
"""A customer-attribute reason ("region: north"): its value is the reason, kept whole."""
_NUMBER = re.compile(r"(?<!last )(?<![\w.,])[-+]?\d[\d,]*(?:\.\d+)?%?")
_ATTRIBUTE_CHURN = re.compile(re.escape(ATTRIBUTE_CHURN).replace(re.escape("{ratio:.1f}"), r"[\d.]+") + "$")
"""What an attribute's reason says of its level's churn (:data:`churnml.reasons.ATTRIBUTE_CHURN`)."""
_ATTRIBUTE_BAND = re.compile(re.escape(ATTRIBUTE_BAND).replace(re.escape("{band}"), r"([^()]+)") + "$")
"""The band a number's churn is of (:data:`churnml.reasons.ATTRIBUTE_BAND`), before that churn."""

_CHURN_ROWS = (("roc_auc", "ROC AUC"), ("pr_auc", "PR AUC"), ("log_loss", "log loss"), ("brier", "Brier score"),
               ("ece", "ECE"), ("lift_at_10", "lift @ top 10%"), ("recall_at_20", "recall @ top 20%"),
               ("emp", "EMP (currency / customer)"))
_VALUE_ROWS = (("normalized_gini", "normalized Gini"), ("spearman", "Spearman"), ("mae", "MAE (currency)"),
               ("rmse", "RMSE (currency)"), ("decile_wmape", "decile MAPE, weighted by value"), ("top20_value_capture", "top-20% value share"),
               ("top10_value_capture", "top-10% value share"),
               ("normalized_gini_positive", "normalized Gini among customers with value > 0"),
               ("spearman_positive", "Spearman among customers with value > 0"),
               ("zero_value_share", "share of customers with no value"))

_CSS = """
*{box-sizing:border-box}body{font-family:-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;margin:24px auto;max-width:1240px;
color:#222;line-height:1.4;padding:0 16px}
h1{font-size:1.6em;margin-bottom:4px}h2{font-size:1.25em;border-bottom:2px solid #4c72b0;padding-bottom:4px;margin-top:32px}
.sub{color:#666;margin-top:0}.grid{display:grid;grid-template-columns:repeat(auto-fit,minmax(560px,1fr));gap:16px}
.grid>*{min-width:0;overflow-x:auto}figure{margin:0}img{max-width:100%;height:auto;border:1px solid #eee}
table{border-collapse:collapse;margin:8px 0;font-size:.92em}th,td{border:1px solid #ddd;padding:4px 8px;text-align:right}
th{background:#f3f5f9}td.l,th.l{text-align:left}.alert{background:#fdecea;border-left:4px solid #c44e52;padding:8px 12px}
.ok{background:#eaf5ea;border-left:4px solid #55a868;padding:8px 12px}.note{color:#555;font-size:.92em}
.grade{display:inline-block;font-weight:bold;font-size:1.3em;padding:2px 12px;border-radius:4px;background:#4c72b0;color:#fff}
"""


# ---------------------------------------------------------------------------------------------
# Training-time data for a run's report
# ---------------------------------------------------------------------------------------------


def sample_index(n: int, max_rows: int = MAX_SAMPLE_ROWS, seed: int = 0) -> np.ndarray:
    """Sorted positions of at most ``max_rows`` of ``n`` rows (all of them when ``n`` is small).

    Example
    -------
    >>> sample_index(5).tolist()
    [0, 1, 2, 3, 4]
    """
    if n <= max_rows:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, size=max_rows, replace=False))


def reason_template(sentence: str) -> str:
    """A reason with its customer-specific numbers replaced by ``N`` (windows like "last 90" kept).

    Example
    -------
    >>> reason_template("no purchase for 74 days (usually every 20)")
    'no purchase for N days (usually every N)'
    >>> reason_template("only 1 purchase in the last 90 days")
    'only N purchases in the last 90 days'
    >>> reason_template("age_band: 25-34")
    'age_band: 25-34'
    >>> reason_template("age: 57")
    'age: N'
    >>> reason_template("age: 57, where churn runs 1.4× the average")
    'age: N, where churn runs N× the average'
    >>> reason_template("monthly fee: 89.5 (band 80–95), where churn runs 1.6× the average")
    'monthly fee: N (band N–N), where churn runs N× the average'
    >>> reason_template("spend down 58% on the previous quarter")
    'spend down N% on the previous quarter'
    """
    sentence = sentence.strip()
    if _ATTRIBUTE.match(sentence):  # a value; a number counts as one reason, not one per age
        name, _, value = sentence.partition(": ")
        churn = _ATTRIBUTE_CHURN.search(value)
        if churn:  # a number's bin has its own ratio: every age with one counts as one reason
            value = value[:churn.start()]
        band = _ATTRIBUTE_BAND.search(value) if churn else None
        if band:  # and its own band: "(band N–N)", "(band N or more)", "(band up to N)"
            value = value[:band.start()]
        if not _NUMBER.fullmatch(value):
            return sentence
        return (f"{name}: N" + (ATTRIBUTE_BAND.format(band=_NUMBER.sub("N", band.group(1))) if band else "")
                + (ATTRIBUTE_CHURN.replace("{ratio:.1f}", "N") if churn else ""))
    # A share keeps its sign: "spend down N% on the previous quarter", not an amount "spend down N".
    return plural_counts(_NUMBER.sub(lambda m: "N%" if m.group().endswith("%") else "N", sentence))


def reason_counts(reasons: Iterable[Sequence[str] | str], separator: str = "; ") -> dict[str, int]:
    """How many customers carry each reason template, most common first.

    ``reasons``: per customer a list of sentences, or the scores' ``"; "``-joined text.
    """
    counter: Counter[str] = Counter()
    for row in reasons:
        sentences = row.split(separator) if isinstance(row, str) else list(row or [])
        counter.update({reason_template(s) for s in sentences if s and str(s).strip()})
    return dict(sorted(counter.items(), key=lambda kv: (-kv[1], kv[0])))


def _rounded(values: np.ndarray) -> list[float]:
    values = np.asarray(values, dtype=float)
    return [float(f"{v:.{_SIGNIFICANT}g}") for v in values]


def run_report_data(
    churned: np.ndarray,
    churn_scores: Mapping[str, np.ndarray],
    value: np.ndarray,
    predicted_value: np.ndarray,
    churn_importance: pd.Series,
    value_importance: pd.Series,
    reasons: Iterable[Sequence[str] | str],
    data_summary: Mapping[str, Any] | None = None,
    test_rows: int | None = None,
) -> dict[str, Any]:
    """What a run's report needs, JSON-ready: the training pipeline logs it next to the models.

    Parameters
    ----------
    churned, value : array
        Labels of the test-cutoff sample (:func:`sample_index`).
    churn_scores : mapping
        ``"model"`` and each baseline -> churn scores of the sample.
    predicted_value : array
        The model's predicted value of the sample.
    churn_importance, value_importance : pandas.Series
        Feature importances (total gain).
    reasons : iterable
        The churn model's reasons for each sampled customer.
    data_summary : mapping, optional
        ``Dataset.summary``.
    test_rows : int, optional
        Customers at the test cutoff before sampling.

    Returns
    -------
    dict
    """
    return {
        "test_rows": int(test_rows if test_rows is not None else len(churned)),
        "sample_rows": int(len(churned)),
        "churned": [int(v) for v in np.asarray(churned)],
        "churn_scores": {name: _rounded(score) for name, score in churn_scores.items()},
        "value": _rounded(value),
        "predicted_value": _rounded(predicted_value),
        "importance": {
            "churn": {str(k): float(v) for k, v in churn_importance.items()},
            "value": {str(k): float(v) for k, v in value_importance.items()},
        },
        "reason_counts": reason_counts(reasons),
        "data_summary": dict(data_summary or {}),
    }


# ---------------------------------------------------------------------------------------------
# HTML helpers
# ---------------------------------------------------------------------------------------------


def _e(value: Any) -> str:
    return html.escape(str(value))


def figure_html(ax: Axes, alt: str | None = None) -> str:
    """An ``<img>`` with the axes' figure embedded as a base64 PNG."""
    buffer = BytesIO()
    ax.figure.savefig(buffer, format="png", dpi=100)
    encoded = base64.b64encode(buffer.getvalue()).decode("ascii")
    alt = alt or ax.get_title() or "plot"
    return f'<figure><img alt="{_e(alt)}" src="data:image/png;base64,{encoded}"></figure>'


def table_html(frame: pd.DataFrame, formats: Mapping[str, str] | None = None, left: Sequence[str] = ()) -> str:
    """A plain HTML table; ``formats`` maps a column to a format spec (``",.0f"``)."""
    formats = dict(formats or {})
    head = "".join(f'<th class="{"l" if c in left else ""}">{_e(c)}</th>' for c in frame.columns)
    body = []
    for row in frame.itertuples(index=False):
        cells = []
        for column, value in zip(frame.columns, row):
            if value is None or (isinstance(value, float) and not np.isfinite(value)):
                text = "–"
            elif column in formats and isinstance(value, (int, float, np.integer, np.floating)):
                text = format(value, formats[column])
            else:
                text = str(value)
            cells.append(f'<td class="{"l" if column in left else ""}">{_e(text)}</td>')
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _section(section_id: str, title: str, *parts: str) -> str:
    return f'<section id="{section_id}"><h2>{_e(title)}</h2>{"".join(parts)}</section>'


def _grid(*parts: str) -> str:
    return f'<div class="grid">{"".join(parts)}</div>'


def _page(title: str, subtitle: str, sections: Sequence[str]) -> str:
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        f"<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>{_e(title)}</title>"
        f"<style>{_CSS}</style></head><body><h1>{_e(title)}</h1><p class=\"sub\">{_e(subtitle)}</p>"
        + "".join(sections)
        + "<p class=\"note\">Made by churnml. Values are in the currency of the transaction amounts.</p></body></html>\n"
    )


def _note(text: str) -> str:
    """A paragraph of explanation under a table or plot."""
    return f'<p class="note">{_e(text)}</p>'


def _missing(what: str) -> str:
    return _note(what)


def _code_text(meta: Mapping[str, Any], tags: Mapping[str, str]) -> str:
    """The code that trained the run (:func:`churnml.io.code_version`), and the seed."""
    code = meta.get("code") or {}
    version = code.get("churnml") or tags.get("churnml.version")
    if not version:
        return "not recorded (trained before churnml recorded its code)"
    text = f"churnml {version}"
    commit = code.get("git_commit") or tags.get("mlflow.source.git.commit")
    if commit:
        dirty = code.get("git_dirty", tags.get("churnml.git_dirty"))
        text += f", commit {commit}" + (" with uncommitted changes to the package" if dirty in (True, "true") else "")
    if meta.get("seed") is not None:
        text += f"; seed {meta['seed']}"
    if meta.get("lightgbm_threads") is not None:
        text += f", {meta['lightgbm_threads']} LightGBM thread(s)"
    return text


def _calibration_text(meta: Mapping[str, Any], metrics: Mapping[str, float], tags: Mapping[str, str]) -> str:
    """The calibration method, and the level shift the registered model got after grading."""
    method = str(meta.get("calibration", tags.get("churnml.calibration", "?")))
    if meta.get("calibration_note"):  # names the method, and why not the log loss's choice or that it is coarse
        method = str(meta["calibration_note"])
    if "level_shift" not in meta:
        return method
    rate, before, after = (metrics.get(k) for k in ("churn_test_rate", "churn_test_mean_predicted_graded",
                                                      "churn_test_mean_predicted_recalibrated"))
    text = (f"{method} on the validation cutoff; then, for the registered model, a level shift of "
            f"{meta['level_shift']:+.3f} log-odds to the test cutoff's churn rate")
    if None not in (rate, before, after):
        text += f" ({rate:.3f}): mean probability {before:.3f} as graded, {after:.3f} registered"
    if meta.get("value_level_factor") is not None:
        fitted_on = meta.get("value_level_fitted_on")
        if fitted_on is None:  # runs before the value level moved to the same season a year earlier
            where = "the test cutoff"
        elif meta.get("as_of") is None or recorded_season_cutoff(meta.get("monitoring_reference") or {},
                                                                 [pd.Timestamp(d) for d in fitted_on],
                                                                 pd.Timestamp(meta["as_of"])) is None:
            where = (f"the test cutoff ({', '.join(fitted_on)}): no cutoff lies a year before the as-of date with a "
                     "year of data before it")
        else:  # with a 365-day horizon, the test cutoff itself
            where = f"{', '.join(fitted_on)}, a year before the as-of date: the season of the horizon the scores predict"
        text += (f"; the value model's predictions × {meta['value_level_factor']:.3f}, to the retained customers' "
                 f"value at {where}")
    return text + ". The metrics and plots on this page are those of the models as graded."


def sidecar_horizon(sidecar: Mapping[str, Any], default: int) -> int:
    """The horizon (days) a scores sidecar's config records; ``default`` where it has none."""
    config = sidecar.get("config")
    problem = config.get("problem") if isinstance(config, Mapping) else None
    return positive_days(problem.get("horizon_days") if isinstance(problem, Mapping) else None, default)


def positive_days(value: Any, default: int) -> int:
    """``value`` as a number of days when a file recorded a positive number there, else ``default``."""
    return int(value) if isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0 else default


def _calibration_table(churned: np.ndarray, probability: np.ndarray, rows: int, of: int) -> str:
    """Expected against actual churners by decile of the probability, on the test cutoff: the
    numbers behind the calibration plot, which a validator signs off rather than a picture."""
    bins = calibration_bins(churned, probability)
    frame = pd.DataFrame({
        "decile": [f"{i + 1}" for i in range(len(bins))],
        "probability from": [b["min_predicted"] for b in bins],
        "to": [b["max_predicted"] for b in bins],
        "customers": [b["customers"] for b in bins],
        "expected churners": [b["expected_churners"] for b in bins],
        "churners": [b["churners"] for b in bins],
        "mean probability": [b["mean_predicted"] for b in bins],
        "churn rate": [b["churn_rate"] for b in bins],
    })
    total = {"decile": "all", "probability from": float(np.min(probability)), "to": float(np.max(probability)),
             "customers": int(frame["customers"].sum()), "expected churners": float(np.sum(probability)),
             "churners": float(np.sum(churned)), "mean probability": float(np.mean(probability)),
             "churn rate": float(np.mean(churned))}
    frame = pd.concat([frame, pd.DataFrame([total])], ignore_index=True)
    where = "all" if rows == of else f"a sample of {rows:,} of the {of:,}"
    return (f'<p class="note">Expected (the probabilities\' sum) against actual churners by decile of the probability, '
            f"over {where} customers at the test cutoff, whose outcomes the model as graded had not seen.</p>"
            + table_html(frame, {"probability from": ".4f", "to": ".4f", "customers": ",.0f", "expected churners": ",.1f",
                                 "churners": ",.0f", "mean probability": ".4f", "churn rate": ".4f"}, left=("decile",)))


def _plain_words(tests: Mapping[str, Any], churn_rate: float | None = None, graded_mean: float | None = None) -> str:
    """The test metrics as sentences a manager reads (the tables below hold the numbers).

    ``churn_rate`` (the test cutoff's) and ``graded_mean`` (the probabilities' mean there, as
    graded) put the ECE beside the level it is measured against: two points of ECE are little
    against a churn rate of 30 % and a great deal against one of 7 %. (The sentence used to add
    "of customers given 30%, about 30% churn" to every run, whatever its calibration.)"""
    churn = (tests.get("churn") or {}).get("model") or {}
    value = (tests.get("value") or {}).get("model") or {}
    said = []
    if churn.get("roc_auc") is not None:
        said.append(f"Of a churner and a stayer picked at random, the model ranks the churner as riskier "
                    f"{churn['roc_auc']:.0%} of the time (ROC AUC; 50% is chance).")
    if churn.get("lift_at_10") is not None:
        said.append(f"The 10% it ranks riskiest churn {churn['lift_at_10']:.1f} times as often as customers on average (lift)"
                    + (f", and the riskiest 20% hold {churn['recall_at_20']:.0%} of all churners." if churn.get("recall_at_20") is not None
                       else "."))
    if churn.get("ece") is not None:
        sentence = f"Its probabilities are off by {100 * churn['ece']:.1f} percentage points on average (ECE)"
        if churn_rate is not None and churn_rate > 0:
            sentence += f", against a churn rate of {churn_rate:.1%}"
            if graded_mean is not None:
                gap = graded_mean / churn_rate - 1
                sentence += (f"; they averaged {graded_mean:.1%}, {abs(gap):.0%} {'above' if gap >= 0 else 'below'} it "
                             "(the registered model's level was then shifted to the churn rate)")
        said.append(sentence + ".")
    if value.get("top20_value_capture") is not None:
        said.append(f"The 20% it expects to be worth most bring {value['top20_value_capture']:.0%} of the value over the horizon.")
    if not said:
        return ""
    return '<p class="note">In plain words, on the test cutoff (a later date than any the model learned from: the same customers may appear in training at earlier dates, but not their outcomes after this one): ' + _e(" ".join(said)) + "</p>"


def _key_values(pairs: Sequence[tuple[str, Any]]) -> str:
    rows = "".join(f'<tr><th class="l">{_e(k)}</th><td class="l">{_e(v)}</td></tr>' for k, v in pairs)
    return f"<table>{rows}</table>"


# ---------------------------------------------------------------------------------------------
# A training run
# ---------------------------------------------------------------------------------------------


def _metrics_table(by_model: Mapping[str, Mapping[str, float]], rows: Sequence[tuple[str, str]]) -> str:
    frame = pd.DataFrame({"metric": [label for _, label in rows]})
    for name, values in by_model.items():
        frame[name] = [values.get(key, np.nan) for key, _ in rows]
    return table_html(frame, {c: ".4f" for c in by_model}, left=("metric",))


_BASELINE_NAMES = {
    "recency_rule": "the recency rule", "rfm_logistic": "RFM logistic regression",
    "feature_logistic": "logistic regression on every feature", "spend_rate": "the historical spend rate",
    "feature_poisson": "a Poisson regression on every feature",
}
"""How the run report names each baseline of the metric tables."""


def _baselines_text(by_model: Mapping[str, Any] | None) -> str:
    """The baselines a grade was measured against, as the run recorded them: a run trained before
    the regressions on every feature had only the recency rule and RFM (or the spend rate)."""
    names = [_BASELINE_NAMES.get(name, name.replace("_", " ")) for name in (by_model or {}) if name != "model"]
    if not names:
        return "the baselines"
    if len(names) == 1:
        return names[0]
    return f"the {'better' if len(names) == 2 else 'best'} of {', '.join(names[:-1])} and {names[-1]}"


def interval_text(intervals: dict[str, dict[str, float]], auc: float, gini: float,
                  baselines: Mapping[str, str | None] | None = None) -> str:
    """The grades' 95 % intervals in one sentence (empty for runs that predate them), naming the
    baseline each difference is from when ``baselines`` (``churn``, ``value`` -> name) says."""
    parts = []
    for kind, label, value in (("churn", "ROC AUC", auc), ("value", "normalized Gini", gini)):
        interval = intervals.get(kind)
        if not interval:
            continue
        text = f"{kind} {label} {value:.3f} ({interval['model_low']:.3f} to {interval['model_high']:.3f}"
        if interval["difference_low"] == interval["difference_low"]:
            best = (baselines or {}).get(kind)
            text += (f"; {interval['difference_low']:+.3f} to {interval['difference_high']:+.3f} against the best "
                     f"baseline{f', {best}' if best else ''}")
        parts.append(text + ")")
    return ("95 % intervals over 200 resamples of the test customers: " + "; ".join(parts) + ".") if parts else ""


def _churn_means(definition: Any) -> list[tuple[str, str]]:
    """The overview row saying what churn means for models of ``definition`` (none without one)."""
    text = describe_problem(definition)
    return [("what churn means", text)] if text else []


def run_report(run: Any) -> str:
    """HTML report of a training run.

    Parameters
    ----------
    run : churnml.tracking.RunRecord
        ``run_id``, ``metrics``, ``params``, ``tags``, ``metadata`` and ``report_data``.

    Returns
    -------
    str
        The page; sections :data:`RUN_SECTIONS`.

    Example
    -------
    >>> page = run_report(tracking.load_run(tracking.champion_run_id()))  # doctest: +SKIP
    """
    meta, data, tags, params = run.metadata, run.report_data, run.tags, run.params
    grades = meta.get("grades", {})
    cutoffs = meta.get("cutoffs", {})
    tests = meta.get("test_metrics", {})
    spread = interval_text(meta.get("grade_intervals") or {}, *(
        tests.get(kind, {}).get("model", {}).get(key, float("nan")) for kind, key in (("churn", "roc_auc"), ("value", "normalized_gini"))),
        baselines={kind: tags.get(f"churnml.best_{kind}_baseline") for kind in ("churn", "value")})
    # The test cutoff's size: every metric and the grade rest on it (base_rate is its churn rate).
    test_rows, base_rate = (data or {}).get("test_rows"), meta.get("base_rate")
    churners = round(base_rate * test_rows) if test_rows and base_rate is not None else None
    test_size = f" ({test_rows:,} customers, {churners:,} churned)" if churners is not None else ""
    few = few_churners_note(churners, test_rows) if churners is not None else None
    test_words = f"the test cutoff{'s' if len(cutoffs.get('test', [])) > 1 else ''} ({', '.join(cutoffs.get('test', []))})"
    sections = [_section(
        "overview", "Overview",
        f'<p>Overall grade <span class="grade">{_e(meta.get("grade", "?"))}</span> '
        f'(churn {_e(grades.get("churn", "?"))}, value {_e(grades.get("value", "?"))}; {_e(GRADE_LEGEND)}).</p>',
        f"<p>{_e(spread)}</p>" if spread else "",
        f'<p class="note">The test cutoff has {_e(few)}.</p>' if few else "",
        # Without churn_events, customers billed less often than the horizon: train's warning, as it said it.
        f'<p class="alert">{_e(calendar_churn_text(meta["calendar_churn"], test_words))}.</p>'
        if meta.get("calendar_churn") else "",
        _key_values([
            ("run", run.run_id),
            ("code", _code_text(meta, tags)),
            ("as of", meta.get("as_of")),
            ("horizon", f"{meta.get('horizon_days')} days"),
            *_churn_means(meta.get("problem")),
            ("train cutoffs", ", ".join(cutoffs.get("train", []))),
            ("validation cutoff", ", ".join(cutoffs.get("validation", []))),
            ("test cutoff", ", ".join(cutoffs.get("test", [])) + test_size),
            ("calibration", _calibration_text(meta, run.metrics, tags)),
            ("left out of the models", ", ".join(f"{k} ({v:,} values)" for k, v in (meta.get("left_out_features") or {}).items())
             or "none"),
            ("promotion", tags.get("churnml.promotion_reason", "?")),
        ]),
    )]
    sections.append(_section(
        "model-vs-baselines", "Model vs baselines (test cutoff)",
        f"<p>Churn: grade {_e(grades.get('churn', '?'))} on ROC AUC against {_e(_baselines_text(tests.get('churn')))}. "
        f"Value: grade {_e(grades.get('value', '?'))} on normalized Gini against {_e(_baselines_text(tests.get('value')))}."
        + (" The regressions on every feature show what the trees add over a plain model of the same inputs."
           if any(name in (tests.get(kind) or {}) for kind in ("churn", "value") for name in ("feature_logistic", "feature_poisson"))
           else "") + "</p>",
        _plain_words(tests, run.metrics.get("churn_test_rate", base_rate), run.metrics.get("churn_test_mean_predicted_graded")),
        _grid(_metrics_table(tests.get("churn", {}), _CHURN_ROWS), _metrics_table(tests.get("value", {}), _VALUE_ROWS)),
    ))
    if data:
        churned = np.asarray(data["churned"], dtype=int)
        scores = {k: np.asarray(v, dtype=float) for k, v in data["churn_scores"].items()}
        note = (f'<p class="note">Curves drawn from {data["sample_rows"]:,} of the {data["test_rows"]:,} customers at '
                "the test cutoff; the metric tables use all of them.</p>")
        sections.append(_section("roc-pr", "ROC and precision-recall", note, _grid(
            figure_html(_relabel(plots.plot_roc(churned, scores), "ROC: churners found vs false alarms",
                                 "false positive rate (share of stayers flagged)", "true positive rate (share of churners found)")),
            figure_html(_relabel(plots.plot_pr(churned, scores), "Precision-recall",
                                 "recall (share of churners found)", "precision (share of flagged who churn)")),
        )))
        sections.append(_section("calibration", "Calibration",
                                 '<p class="note">The probabilities as graded. Before it was registered, the model\'s level was '
                                 "shifted to the test cutoff's churn rate (see the overview): the probabilities it gives "
                                 f"now run {'higher' if meta.get('level_shift', 0) > 0 else 'lower'} than these, towards the "
                                 "observed churn.</p>",
                                 _grid(figure_html(plots.plot_calibration(churned, scores["model"], title=plots.GRADED_CALIBRATION_TITLE))),
                                 _calibration_table(churned, scores["model"], data["sample_rows"], data["test_rows"])))
        sections.append(_section("gains-lift", "Cumulative gains and lift", _grid(
            figure_html(plots.plot_gains(churned, scores)),
            figure_html(_relabel(plots.plot_lift(churned, scores), None, None, "lift (churn rate in top share ÷ overall rate)")),
        )))
        value_ax = plots.plot_value_deciles(np.asarray(data["value"]), np.asarray(data["predicted_value"]))
        sections.append(_section("value-deciles", "Value by decile", _grid(figure_html(
            _relabel(value_ax, "Predicted vs actual value by decile", None, "mean value over the horizon (currency units)")))))
        importance = data.get("importance", {})
        sections.append(_section("feature-importance", "Feature importance", _grid(*(
            figure_html(_importance(pd.Series(values, name="gain"), kind))
            for kind, values in importance.items() if values
        ))))
        counts = pd.Series(data.get("reason_counts", {}), dtype=float).head(TOP_REASONS)
        reason_parts = [_missing("No reasons were recorded.")] if counts.empty else [
            _grid(figure_html(plots.plot_top_reasons(counts, f"{len(counts)} most common reasons (test cutoff)"))),
        ]
        sections.append(_section("top-reasons", f"{TOP_REASONS} most common reasons", *reason_parts))
    else:
        absent = _missing("This run has no report data (it was trained before churnml logged it); retrain to get the plots.")
        for section_id, title in (("roc-pr", "ROC and precision-recall"), ("calibration", "Calibration"),
                                  ("gains-lift", "Cumulative gains and lift"), ("value-deciles", "Value by decile"),
                                  ("feature-importance", "Feature importance"), ("top-reasons", f"{TOP_REASONS} most common reasons")):
            sections.append(_section(section_id, title, absent))
    sections.append(_section("data-summary", "Data summary", _data_summary(data.get("data_summary") if data else None, params, run.metrics)))
    return _page(f"churnml training run {run.run_id[:12]}", f"Trained as of {meta.get('as_of', '?')}, "
                 f"horizon {meta.get('horizon_days', '?')} days, {len(meta.get('feature_names', []))} features", sections)


def _importance(importance: pd.Series, kind: str) -> Axes:
    ax = plots.plot_feature_importance(importance, ax=plots.new_axes(7.5, 7.0))
    ax.xaxis.set_major_formatter(lambda v, _: f"{v:,.0f}")
    ax.tick_params(axis="x", labelrotation=30)
    return _relabel(ax, f"Feature importance: {kind} model (top 20)", "total gain (loss reduction)", "feature")


def _relabel(ax: Axes, title: str | None, xlabel: str | None, ylabel: str | None) -> Axes:
    """Clearer words on a plot drawn by :mod:`churnml.plots`."""
    if title:
        ax.set_title(title)
    if xlabel:
        ax.set_xlabel(xlabel)
    if ylabel:
        ax.set_ylabel(ylabel)
    return ax


def _data_summary(summary: Mapping[str, Any] | None, params: Mapping[str, str], metrics: Mapping[str, float] | None = None) -> str:
    metrics = metrics or {}

    def rows_text(key: str) -> str:
        text = f"{int(params[key]):,}" if str(params[key]).isdigit() else params[key]
        rate = metrics.get(f"churn_{key.removeprefix('rows_')}_rate")  # the split's churn rate, where logged
        return text if rate is None else f"{text} (churn rate {rate:.2%})"

    rows = [(label, rows_text(key)) for key, label in (
        ("rows_train", "training rows (customer × cutoff)"), ("rows_validation", "validation rows"),
        ("rows_test", "test rows"), ("n_features", "features"), ("data_fingerprint", "data fingerprint"),
    ) if key in params]
    if summary:
        set_aside, kept = row_counts(summary)  # summaries before kept_rows counted both as quarantined_rows
        rows = [
            ("customers", f"{summary.get('customers', 0):,}"),
            ("customers without transactions", f"{summary.get('customers_without_transactions', 0):,} "
                                                f"({summary.get('share_without_transactions', 0.0):.1%})"),
            ("data end", summary.get("data_end")),
            ("rows set aside", f"{set_aside:,}"),
        ] + ([("rows kept without a value", f"{kept:,} (the value blanked, the row used)")] if kept else []) + rows
        merged = ((summary.get("tables") or {}).get("transactions") or {}).get("order_lines")
        if merged:  # [input] order_lines: the table's rows are lines, its transactions orders
            rows.insert(5 if kept else 4,  # after the rows set aside and kept
                        ("order lines merged", f"{merged['lines']:,} lines of transactions into {merged['orders']:,} "
                                               "orders ([input] order_lines)"))
    parts = [_key_values(rows)]
    tables = (summary or {}).get("tables") or {}
    if tables:
        frame = pd.DataFrame([
            {"table": name, "rows": stats.get("rows", stats.get("clean_rows")), "first": stats.get("first"), "last": stats.get("last"),
             "source": stats.get("source")}
            for name, stats in tables.items()
        ])
        parts.append(table_html(frame, {"rows": ",.0f"}, left=("table", "first", "last", "source")))
    return "".join(parts)


# ---------------------------------------------------------------------------------------------
# A scores file
# ---------------------------------------------------------------------------------------------


def segment_matrix(scores: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Customers and value at risk per (value tier, risk tier) cell.

    Returns
    -------
    (DataFrame, DataFrame)
        Index value tiers, columns risk tiers (both low → high).
    """
    grouped = scores.groupby([scores["value_tier"].astype(str), scores["risk_tier"].astype(str)])["value_at_risk"]
    counts = grouped.size().unstack().reindex(index=list(VALUE_TIERS), columns=list(RISK_TIERS)).fillna(0).astype(int)
    risk = grouped.sum().unstack().reindex(index=list(VALUE_TIERS), columns=list(RISK_TIERS)).fillna(0.0)
    return counts, risk


def scores_report(scores: pd.DataFrame, sidecar: Mapping[str, Any] | None = None, config: Config | None = None) -> str:
    """HTML report of a scores table (:func:`churnml.scoring.score`).

    Parameters
    ----------
    scores : pandas.DataFrame
        A scores file's table.
    sidecar : mapping, optional
        Its JSON sidecar; its ``monitoring`` section fills the drift table.
    config : Config, optional
        Segment display names.

    Returns
    -------
    str
        The page; sections :data:`SCORES_SECTIONS`.
    """
    names = segment_names(config)
    sidecar = dict(sidecar or {})
    models = sidecar.get("models", {})
    as_of = sidecar.get("as_of") or (f"{pd.Timestamp(scores['as_of'].iloc[0]):%Y-%m-%d}" if len(scores) else "?")
    horizon = sidecar_horizon(sidecar, (config or Config()).problem.horizon_days)
    mean = float(scores["churn_probability"].mean()) if len(scores) else 0.0
    # The figures read "0.072" and "14,282" without a word of what they are, to a marketer.
    how_to_read = (f"How to read these numbers: the churn probability is the chance that a customer churns within the next "
                   f"{horizon} days ({mean:.3f} = {mean:.1%}: on average, about {round(mean * 100)} in 100 of the customers scored). The "
                   f"predicted value is what a customer is expected to bring over those {horizon} days, their chance of leaving "
                   "taken into account; the value at risk is what they would bring if they stay, times that chance: what is "
                   "expected to be lost if nobody acts. Money is in the currency of the transaction amounts.")
    sections = [_section("overview", "Overview", _key_values([
        ("as of", as_of),
        *_churn_means(models.get("problem")),
        ("customers scored", f"{len(scores):,}"),
        ("mean churn probability", f"{scores['churn_probability'].mean():.3f}"),
        ("total predicted value (horizon)", f"{scores['predicted_value'].sum():,.0f}"),
        ("total value at risk", f"{scores['value_at_risk'].sum():,.0f}"),
        ("models", f"churn v{models.get('churn_model_version', scores['churn_model_version'].iloc[0] if len(scores) else '?')}, "
                   f"value v{models.get('value_model_version', scores['value_model_version'].iloc[0] if len(scores) else '?')}"
                   + (f", trained as of {models['trained_as_of']}" if models.get("trained_as_of") else "")
                   + (f", run {models['run_id']}" if models.get("run_id") else "")),
    ]), _note(how_to_read))]
    sections.append(_section("score-distributions", "Distribution of churn probability and predicted value", _grid(
        figure_html(plots.plot_distribution(scores["churn_probability"].to_numpy(), "Churn probability",
                                            "churn probability within the horizon (0-1)")),
        figure_html(plots.plot_distribution(scores["predicted_value"].to_numpy(), "Predicted value",
                                            "predicted value over the horizon (currency units)", clip_quantile=0.99)),
    )))
    counts, risk = segment_matrix(scores)
    # The little-value cells hold the new, growing and stable customers too, in segments of their own
    # (segments.STAGE_SEGMENTS).
    cell_names = {**names, **{old: " / ".join(dict.fromkeys([names[old], *(names[new] for new in stages.values())]))
                              for old, stages in STAGE_SEGMENTS.items()}}
    labels = pd.DataFrame({r: [cell_names[SEGMENT_MATRIX[(v, r)]] for v in VALUE_TIERS] for r in RISK_TIERS}, index=list(VALUE_TIERS))
    cells = pd.DataFrame([
        {"value tier": v, "risk tier": r, "segment": labels.loc[v, r], "customers": int(counts.loc[v, r]),
         "value at risk": float(risk.loc[v, r])}
        for v in VALUE_TIERS[::-1] for r in RISK_TIERS
    ])
    sections.append(_section("segment-matrix", "Value × risk segment matrix", _grid(
        figure_html(plots.plot_segment_matrix(counts, risk, labels)),
        table_html(cells, {"customers": ",.0f", "value at risk": ",.0f"}, left=("value tier", "risk tier", "segment")),
    )))
    totals = scores.groupby(scores["segment"].astype(str))[["current_value", "predicted_value", "value_at_risk"]].sum()
    totals = totals.reindex([s for s in SEGMENTS if s in totals.index])
    shown = totals.rename(index=names)
    table = shown.reset_index(names="segment").assign(customers=scores["segment"].astype(str).value_counts().reindex(totals.index).to_numpy())
    horizon = sidecar_horizon(sidecar, Config().problem.horizon_days)
    sections.append(_section("value-by-segment", "Current vs predicted value by segment", _grid(
        figure_html(plots.plot_value_by_segment(shown, horizon)),
        table_html(table[["segment", "customers", "current_value", "predicted_value", "value_at_risk"]].rename(columns={
            "current_value": "current value (365 d)", "predicted_value": f"predicted value ({horizon} d)",
            "value_at_risk": f"value at risk ({horizon} d)"}),
            {"customers": ",.0f", "current value (365 d)": ",.0f", f"predicted value ({horizon} d)": ",.0f",
             f"value at risk ({horizon} d)": ",.0f"},
            left=("segment",)),
    )))
    rows = []
    for key in SEGMENTS:
        part = scores.loc[scores["segment"].astype(str) == key, "reasons"].fillna("")
        if part.empty:
            continue
        for reason, count in list(reason_counts(part).items())[:REASONS_PER_SEGMENT]:
            rows.append({"segment": names[key], "reason": reason, "customers": count, "share of segment": count / len(part)})
    reasons_frame = pd.DataFrame(rows, columns=["segment", "reason", "customers", "share of segment"])
    sections.append(_section(
        "reasons-by-segment", "Top reasons by segment",
        '<p class="note">Numbers specific to each customer are shown as N.</p>',
        table_html(reasons_frame, {"customers": ",.0f", "share of segment": ".1%"}, left=("segment", "reason")),
    ))
    sections.append(_section("drift", "Drift against the training data", drift_html(sidecar.get("monitoring"), len(scores))))
    return _page(f"churnml scores as of {as_of}", f"{len(scores):,} customers", sections)


def drift_html(monitoring: Mapping[str, Any] | None, rows: int | None = None) -> str:
    """The drift section: verdict, alerts, PSI chart and the per-feature table; for a check that saw
    fewer customers than the ``rows`` scored (``rows_checked``: a sample, with ``--engine spark``), a note saying so."""
    if not monitoring:
        return _missing("No monitoring results: the scores were written without a model drift reference "
                        "(models trained before churnml recorded one). Retrain, then score again.")
    threshold = float(monitoring.get("psi_threshold", 0.2))
    parts = []
    if monitoring.get("drifted"):
        parts.append('<div class="alert"><b>Drift.</b> ' + " ".join(_e(a) for a in monitoring.get("alerts", [])) + "</div>")
    else:
        age, limit = monitoring.get("model_age_days"), monitoring.get("max_model_age_days", "?")
        aged = (model_age_text(age, limit) if isinstance(age, int) else f"model ? days old, max {limit}")
        money = (f", every money level within ×{float(monitoring.get('money_level_ratio', 1.5)):g}"
                 if monitoring.get("money_levels") else "")
        parts.append(f'<div class="ok">No drift: every PSI is at most {threshold:g}{money} ({_e(aged)}).</div>')
    checked = monitoring.get("rows_checked")
    if checked and rows and checked < rows:  # the PSIs of a sample, shown as the population's
        parts.append(f'<p class="note">The drift check saw a uniform sample of {checked:,} of the {rows:,} customers scored '
                     "([monitoring] drift_sample_rows, with churnml score --engine spark): the PSIs, missing "
                     "rates, means and money levels below are the sample's, a share of 10 % read to about "
                     f"±{100 * (0.1 * 0.9 / checked) ** 0.5:.2g} percentage points.</p>")
    for note in monitoring.get("notes", []):
        parts.append(f'<p class="note">{_e(note)}</p>')
    history = monitoring.get("share_without_history") or {}
    ref, cur = history.get("reference"), history.get("current")
    if ref is not None and cur is not None:
        parts.append(f"<p>Customers without purchase history: {cur:.1%} (training {ref:.1%}).</p>")
    season, test_cutoff = monitoring.get("season_cutoff"), monitoring.get("reference_cutoff")
    if season:
        parts.append(f"<p>Features other than ages and lifetime sums are compared with the customers in the training data at the "
                     f"cutoff {_e(season)}, a year before these scores (the same season); ages, lifetime sums and the scores with those "
                     f"at the test cutoff {_e(test_cutoff or '?')}.</p>")
    features = pd.DataFrame(monitoring.get("features", []))
    score_rows = pd.DataFrame([{"feature": f"score: {k}", "psi": v.get("psi"), "mean_reference": v.get("mean_reference"),
                                "mean": v.get("mean"), "reference": test_cutoff}
                               for k, v in (monitoring.get("scores") or {}).items()])
    psi = pd.concat([score_rows, features], ignore_index=True) if len(features) or len(score_rows) else pd.DataFrame()
    if len(psi):
        chart = figure_html(plots.plot_psi(psi.set_index("feature")["psi"].astype(float), threshold))
        table = psi.assign(
            new_categories=psi.get("new_categories", pd.Series([None] * len(psi))).map(lambda v: ", ".join(v) if isinstance(v, list) else ""),
        )
        # The cutoff each row was compared with, where they differ (a season's reference: see above).
        mixed = season is not None and "reference" in table
        columns = [c for c in ("feature", "psi", "missing_rate_reference", "missing_rate", "mean_reference", "mean", "new_categories",
                               *(("reference",) if mixed else ())) if c in table]
        shown = table[columns].rename(columns={"missing_rate_reference": "missing (training)", "missing_rate": "missing (now)",
                                               "mean_reference": "mean (training)", "mean": "mean (now)", "new_categories": "new categories",
                                               "reference": "compared with"})
        # The table under the chart, the page's width: beside it, in half, it scrolled sideways and hid
        # its new categories and the cutoff each row was compared with, at 1,400 pixels.
        parts.append(_grid(chart))
        parts.append(table_html(shown, {"psi": ".3f", "missing (training)": ".1%", "missing (now)": ".1%",
                                        "mean (training)": ",.3g", "mean (now)": ",.3g"},
                                left=("feature", "new categories", "compared with")))
    levels = monitoring.get("money_levels") or {}
    if levels:
        ratio = float(monitoring.get("money_level_ratio", 1.5))
        rows = pd.DataFrame([{"feature": name, "median (training)": v.get("median_nonzero_reference"),
                              "median (now)": v.get("median_nonzero"), "ratio": v.get("ratio"),
                              "compared with": v.get("reference"), "drifted": "yes" if v.get("drifted") else ""}
                             for name, v in levels.items()])
        parts.append(f"<p>Level of money: the median among customers with a non-zero value, now against the reference; "
                     f"beyond ×{ratio:g} either way ([monitoring] money_level_ratio) it is drift.</p>"
                     + table_html(rows, {"median (training)": ",.2f", "median (now)": ",.2f", "ratio": ".2f"},
                                  left=("feature", "compared with", "drifted")))
    return "".join(parts)


# ---------------------------------------------------------------------------------------------
# A retention list
# ---------------------------------------------------------------------------------------------


def _talking_points_html(customers: pd.DataFrame) -> str:
    """How many contacts of a list open with each talking point (``talking_point``), most first."""
    if "talking_point" not in customers.columns:
        return _missing("This list has no talking points: it was written by an older churnml. Run `churnml score` "
                        "and `churnml retention-list` again for one per customer, from their reasons.")
    counts, without = talking_point_counts(customers)
    if counts.empty:
        return _missing("No contact of the list has a talking point: none has a reason with one (or the scores were "
                        "written before reasons had topics).")
    if without:  # a row of its own, as the terminal shows it: in a note, the shares added up to 82 %
        counts = pd.concat([counts, pd.Series({f"– {NO_TALKING_POINT}": without})])
    frame = pd.DataFrame({"talking point": counts.index, "customers": counts.to_numpy(),
                          "share of contacts": counts.to_numpy() / max(int(counts.sum()), 1)})
    return table_html(frame, {"customers": ",.0f", "share of contacts": ".1%"}, left=("talking point",)) + _note(
        "What to open the contact with, from what the customer's strongest reason is about (a complaint: put it right "
        "first; buying less: a reminder with an incentive); the segment's suggested action says what to offer. "
        + (f"The {without:,} with none have no reasons, or none whose topic has a talking point." if without else ""))


def budget_curve(customers: pd.DataFrame, success_rate: float, contact_cost: float) -> tuple[np.ndarray, np.ndarray]:
    """The contact cost and the expected value saved, both cumulative, of a list's contacts (``customers``,
    the control group left out) taken the most value saved per unit of cost first, ties in rank order;
    ``contact_cost`` for each where the list has no ``contact_cost`` column. With one cost for all this
    is the rank order. Walked in rank order, calls at 40 ranked above e-mails at 0.5 drew the first 40
    spent as saving 200 where a budget of 40 buys 80 e-mails saving 555 (4,000 generated customers): the
    plot said a smaller budget saves far less than it does, and the curve rose where it should flatten.

    >>> listed = pd.DataFrame({"value_at_risk": [300.0, 50.0, 50.0], "contact_cost": [40.0, 0.5, 0.5]})
    >>> [values.tolist() for values in budget_curve(listed, 0.3, 5.0)]
    [[0.5, 1.0, 41.0], [15.0, 30.0, 120.0]]
    """
    value_at_risk = customers["value_at_risk"].to_numpy(dtype=float) if len(customers) else np.empty(0)
    if "contact_cost" in customers.columns:  # per segment ([targeting] contact_costs)
        costs = customers["contact_cost"].to_numpy(dtype=float)
    else:
        costs = np.full(len(value_at_risk), float(contact_cost))
    saved = value_at_risk * success_rate
    per_cost = np.divide(saved, costs, out=np.full(len(costs), np.inf), where=costs > 0)
    order = np.argsort(-per_cost, kind="stable")  # a free contact first; ties keep the rank order
    return np.cumsum(costs[order]), np.cumsum(saved[order])


def list_report(customers: pd.DataFrame, summary: Mapping[str, Any], config: Config | None = None) -> str:
    """HTML report of a retention list (:func:`churnml.targeting.retention_list`).

    Parameters
    ----------
    customers : pandas.DataFrame
        The list (rank order).
    summary : mapping
        Its summary (``RetentionSummary.to_dict()``, the list's JSON file).
    config : Config, optional
        Segment display names.

    Returns
    -------
    str
        The page; sections :data:`LIST_SECTIONS`.
    """
    names = segment_names(config)
    contact_cost = float(summary.get("contact_cost", 0.0))
    success_rate = float(summary.get("success_rate", 0.0))
    roi = summary.get("roi")
    # The contacts and the control group apart: "180 customers on the list" counted 17 not to contact.
    control = int((customers["group"].astype(str) == "control").sum()) if "group" in customers.columns else 0
    size = list_size_text(len(customers) - control, control)
    sections = [_section("overview", "Overview", _key_values([
        ("customers on the list", size),
        ("from scores", summary.get("scores", "?")),
        *([("models", f"churn v{listed['churn_model_version']}, value v{listed['value_model_version']}, "
                      f"trained as of {listed.get('trained_as_of', '?')}, run {listed['run_id']}")]
          if (listed := summary.get("models") or {}).get("run_id") else []),
        *_churn_means(summary.get("problem")),
        # "next 90 days" needs a start: the scores' as-of date and the window the money is over.
        *([("as of", f"{summary['as_of']}" + (f" (the money is over {summary['as_of']} to "
                                               f"{pd.Timestamp(summary['as_of']) + pd.Timedelta(days=summary['horizon_days'] - 1):%Y-%m-%d})"
                                               if summary.get("horizon_days") else ""))]
          if summary.get("as_of") else []),
        ("assumptions", f"contact cost {contact_cost_text(contact_cost, summary.get('contact_costs') or {}, names)}, "
                        f"success rate {success_rate:g}"),
        # retention-list --attribute: the customers' columns the list's rows carry, and where from.
        *([("customers columns on the list", ", ".join(column if column == name else f"{column} (customers.{name})"
                                                        for column, name in carried.items())
            + (f", as of the scores' date from {summary['attributes_from']}" if summary.get("attributes_from") else ""))]
          if isinstance(carried := summary.get("attributes"), Mapping) and carried else []),
    ]))]
    limited = {"budget": "stopped by the budget", "max_customers": "stopped by the maximum count", "none": "every candidate"}
    skipped = [(f"left out: {names.get(key, key)} ([targeting] skip_segments)", f"{n:,}")
               for key, n in (summary.get("skipped") or {}).items()]
    if summary.get("excluded"):
        skipped.append(("left out: on an --exclude list", f"{summary['excluded']:,}"))
    # What retention-list printed beside its summary, as the .json recorded it (targeting.said_fields): a list read a
    # month later said nothing of a control group too small to tell the effect from chance. Older summaries hold no notes.
    told = [f'<p class="alert">Warning: {_e(text)}</p>' for text in summary.get("warnings") or []]
    told += [_note(f"Note: {text}") for text in summary.get("notes") or []]
    sections.append(_section("retention-summary", "Summary", *told, _key_values([
        *skipped,
        ("customers considered", f"{summary.get('scored', 0):,}"),
        (CANDIDATES_LABEL, f"{summary.get('candidates', 0):,}"),
        ("selected", f"{len(customers):,} ({limited.get(summary.get('limited_by'), '?')})"),
        # Apart, as the terminal's and the workbook's summary: "selected" counts the control group too.
        *([("to contact", f"{len(customers) - control:,}"),
           (f"control group, not to contact ({summary.get('holdout', 0):.0%})", f"{control:,}")] if control else []),
        *([("budget", f"{summary['budget']:,.2f}")] if summary.get("budget") is not None else []),
        ("total contact cost", f"{summary.get('total_cost', 0.0):,.2f}"),
        # Of the contacts, as the terminal's: with a control group the list's value_at_risk column adds up to more.
        *([("value at risk of the contacts, if nobody is contacted"
            + (f" (next {summary['horizon_days']} days)" if summary.get("horizon_days") else ""),
            f"{summary['value_at_risk']:,.2f}")]
          if summary.get("value_at_risk") is not None else []),
        (f"expected value saved (next {summary['horizon_days']} days)" if summary.get("horizon_days") else "expected value saved",
         f"{summary.get('expected_value_saved', 0.0):,.2f}"),
        ("expected net benefit", f"{summary.get('expected_net_benefit', 0.0):,.2f}"),
        ("expected ROI", "–" if roi is None else f"{roi:.1%}"),
    ]), _note(f"How the money is reckoned: expected value saved = value at risk of the customers contacted × success rate "
              f"{success_rate:g} (the share of them a contact keeps: an assumption until churnml evaluate measures it on a "
              "control group: retention-list --holdout); net benefit = value saved − contact cost; ROI = net benefit ÷ contact cost (100% "
              "means each unit spent brings two back). "
              + value_saved_note(summary.get("horizon_days"), summary.get("problem")))))
    if "group" in customers.columns:  # the control group is not contacted: it costs and saves nothing
        customers = customers[customers["group"].astype(str) != "control"]
    cost, saved = budget_curve(customers, success_rate, contact_cost)
    roi_parts = [_missing("The list is empty: nothing to plot.")] if len(customers) == 0 else [
        '<p class="note">The list\'s contacts, the most value saved per unit of cost first (with one cost for all, '
        "the rank order): about what a smaller budget buys of them. The curve flattens where further contacts save "
        "little more than they cost.</p>",
        _grid(figure_html(plots.plot_roi_curve(cost, saved, float(summary.get("total_cost", cost[-1]))))),
    ]
    sections.append(_section("roi-curve", "Expected value saved vs budget", *roi_parts))
    by_segment = pd.DataFrame(summary.get("by_segment") or [])
    if by_segment.empty:
        by_segment_html = _missing("Nobody selected" + (": the summary's warnings say why." if summary.get("warnings") else "."))
    else:
        by_segment = by_segment.assign(name=by_segment["segment"].map(names).fillna(by_segment.get("name")))
        by_segment_html = table_html(
            by_segment[["name", "customers", "total_cost", "expected_value_saved", "expected_net_benefit", "suggested_action"]].rename(
                columns={"name": "segment", "total_cost": "cost", "expected_value_saved": "value saved",
                         "expected_net_benefit": "net benefit", "suggested_action": "suggested action"}),
            # To the cent, as the summary above and the terminal: 9 e-mails at 0.5 read "cost 4".
            {"customers": ",.0f", "cost": ",.2f", "value saved": ",.2f", "net benefit": ",.2f"},
            left=("segment", "suggested action"),
        )
    sections.append(_section("by-segment", "By segment", by_segment_html))
    sections.append(_section("talking-points", "By talking point", _talking_points_html(customers)))
    return _page("churnml retention list", f"{size}, expected net benefit "
                 f"{summary.get('expected_net_benefit', 0.0):,.0f}", sections)
