"""Reasons a marketer can read: each customer's top drivers of churn risk, in words.

The drivers come from LightGBM's per-row contributions to the churn model's raw score
(``pred_contrib``, :meth:`churnml.models.ChurnModel.contributions`). Only features that *raise*
the risk (positive contribution) and that have a reason template (:attr:`FeatureSpec.reason`) can
be reasons, and only where the sentence is true of the customer: the value lies beyond the typical
one on the side the sentence reads (:attr:`FeatureSpec.reason_side`; typical = the median at the
training's test cutoff, :func:`typical_values`). A contribution can be positive for an ordinary
value (trees split where they like, and features without a monotone constraint can raise the risk
at any value); "a service request took 0 days to resolve" or "spent 7,343 in the last 90 days" then
explains nothing to a marketer; nor does an attribute's level most customers hold ("product tier:
basic" with 56 % of customers basic: typical = that level, where one level has more than half). The top ``k`` (default 3) per customer are rendered with the
customer's actual values, e.g. "no purchase for 74 days (usually every 20)". For a customer who
never bought, the purchase features (:data:`churnml.features.PURCHASE_FEATURES`) are one driver,
their contributions summed, read "has not bought anything in 1,424 days as a customer"
(:func:`no_purchase_reason`). A customer attribute's reason says how much more often its value's customers churned
than all customers on the training rows, "plan: basic, where churn runs 2.3× the average", where its customers leave
no doubt of it (:func:`attribute_churn`, :func:`clearly_above`), and for a number the band of values
that figure is of, "monthly fee: 89.5 (band 80–95), where churn runs 1.6× the average" (:func:`with_churn`);
a value whose customers churned no more than the average is no reason at all ("product tier: premium"
at 0.8× the average read as a risk: :attr:`AttributeChurn.no_more`).

Speed: the top ``k`` are found with one ``argpartition`` over the whole contribution matrix;
sentences are rendered only for the chosen (customer, feature) pairs, feature by feature, so a
million customers cost three million short ``str.format`` calls and nothing per unused feature.
"""

from __future__ import annotations

import dataclasses
import re
import string
from collections import Counter
from typing import Callable, Mapping, Sequence

import numpy as np
import pandas as pd

from churnml.features import (FALL_TO_NOTHING, FEATURE_DECIMALS, OVER_A_YEAR_AGO, PURCHASE_FEATURES, REASON_FAMILIES,
                              SILENCE_FEATURES, FeatureSpec, reason_is_true, render_reason, says_none_in, window_days)
from churnml.monitoring import OTHER, wilson_interval

TOP_K = 3
MIN_EFFECT = 0.01
"""A driver must raise the churn model's log-odds by more than this (odds x 1.01) to be a reason.
Below it the feature barely moved the score ("age band: 55-64" at +0.001 in the demo); shown, it
would read as a cause to a marketer."""
HISTORY_FEATURE = "days_since_first_purchase"
"""How far a customer's purchases reach back: a transaction feature over a longer window
(``monetary_365d`` for a customer of 60 days) is no reason (:func:`explain`)."""
TENURE_FEATURE = "tenure_days"
"""Days as a customer: how long a customer who never bought has gone without (:func:`no_purchase_reason`)."""
SEPARATOR = "; "
"""Joins a customer's reasons into the single ``reasons`` text column of the scores."""


def template_fields(template: str) -> list[str]:
    """The feature names a reason template refers to, in order of first use.

    Example
    -------
    >>> template_fields("no purchase for {days_since_last_purchase:.0f} days (usually every {mean_gap_days:.0f})")
    ['days_since_last_purchase', 'mean_gap_days']
    """
    fields: list[str] = []
    for _, name, _, _ in string.Formatter().parse(template):
        if name:
            root = name.split(".")[0].split("[")[0]
            if root not in fields:
                fields.append(root)
    return fields


def reason_fields(spec: FeatureSpec) -> list[str]:
    """The features :func:`churnml.features.render_reason` reads for ``spec``'s reason: its template's,
    its own (checked against the reason's bound even when the sentence shows other fields, as "no
    purchase for 74 days (usually every 20)" does), those of the sentence a fall to nothing says
    instead (:data:`churnml.features.FALL_TO_NOTHING`) and those that say whether a lifetime
    reason happened over a year ago (:data:`churnml.features.OVER_A_YEAR_AGO`).

    Example
    -------
    >>> reason_fields(FeatureSpec("spend_trend_pct", "", "transactions", "90d vs prev 90d", "numeric", -1,
    ...                           "spend down {spend_trend_pct!m:.0f}% on the previous quarter", None, -1, 0.0))
    ['spend_trend_pct', 'monetary_90d', 'spend_prev_90d']
    """
    fall = FALL_TO_NOTHING.get(spec.name, "") if spec.column is None else ""
    recent = OVER_A_YEAR_AGO.get(spec.name, ()) if spec.column is None else ()
    return list(dict.fromkeys([*template_fields(spec.reason or ""), spec.name, *template_fields(fall), *recent]))


def top_drivers(
    contributions: pd.DataFrame | np.ndarray,
    eligible: Sequence[bool] | np.ndarray,
    k: int = TOP_K,
    minimum: float = 0.0,
) -> tuple[np.ndarray, np.ndarray]:
    """Column index of each row's ``k`` largest contributions above ``minimum`` among eligible columns.

    Parameters
    ----------
    contributions : DataFrame or ndarray, shape (n, f)
    eligible : array-like of bool, shape (f,) or (n, f)
        Columns that may be reasons (those with a reason template), or per row and column.
    k : int
    minimum : float
        Contributions at or below it are never picked (0: only positive ones).

    Returns
    -------
    columns : ndarray of int, shape (n, k)
        Column indices, largest contribution first; ``-1`` where the row has fewer than ``k``
        positive eligible contributions.
    values : ndarray of float, shape (n, k)
        The contributions (0 where ``columns`` is -1).

    Example
    -------
    >>> cols, vals = top_drivers(np.array([[0.5, -1.0, 2.0, 0.1]]), [True, True, True, False], k=3)
    >>> cols.tolist(), vals.tolist()
    ([[2, 0, -1]], [[2.0, 0.5, 0.0]])
    """
    matrix = np.asarray(contributions, dtype=float)
    n, f = matrix.shape
    eligible = np.asarray(eligible, dtype=bool)
    if eligible.shape not in ((f,), (n, f)):
        raise ValueError(f"eligible has shape {eligible.shape} for {n} x {f} contributions")
    masked = np.where(eligible & (matrix > max(minimum, 0.0)), matrix, 0.0)
    k_eff = min(k, f)
    if k_eff < f:
        part = np.argpartition(-masked, k_eff - 1, axis=1)[:, :k_eff]
    else:
        part = np.broadcast_to(np.arange(f), (n, f)).copy()
    part_values = np.take_along_axis(masked, part, axis=1)
    # Sort the k picks: larger first, lower column index on ties (stable, deterministic).
    order = np.lexsort((part, -part_values), axis=1)
    columns = np.take_along_axis(part, order, axis=1)
    values = np.take_along_axis(part_values, order, axis=1)
    columns = np.where(values > 0, columns, -1)
    if k_eff < k:
        columns = np.hstack([columns, np.full((n, k - k_eff), -1)])
        values = np.hstack([values, np.zeros((n, k - k_eff))])
    return columns, np.where(columns >= 0, values, 0.0)


MAX_REASON_LEVELS = 20
"""A categorical attribute with more levels than this (an account-manager code, a postcode) names
rather than explains: "account_manager: AM270" tells a marketer nothing, so it is never a reason."""


def explainable_specs(specs: Sequence[FeatureSpec], categories: Mapping[str, Sequence],
                      hidden: Sequence[str] = ()) -> list[FeatureSpec]:
    """``specs`` without the reason of identifier-like categoricals and of ``hidden`` features
    (``[scoring] hidden_reasons``: feature names or customer columns).

    ``categories`` are the levels the churn model was trained with (``ChurnModel.categories_``), so
    batch scoring and the API, whatever customers they see, drop the same reasons.
    """
    return [
        dataclasses.replace(spec, reason=None)
        if (spec.kind == "categorical" and len(categories.get(spec.name, ())) > MAX_REASON_LEVELS)
        or spec.name in hidden or (spec.column is not None and spec.column in hidden)
        else spec
        for spec in specs
    ]


TYPICAL_LEVEL_SHARE = 0.5
"""A categorical's level held by more than this share of the customers with a value (at the
training's test cutoff) is typical, as a median is: whatever order the levels were put in, it
would be the median. Its reason ("product tier: basic", with 56 % of customers basic) says nothing
of the customer (:func:`typical_values`)."""


def typical_values(reference: Mapping | None) -> dict[str, float | str]:
    """Feature name -> its typical value in the monitoring reference (the training's test cutoff):
    a numeric feature's median; a categorical's level held by more than :data:`TYPICAL_LEVEL_SHARE`
    of the customers with a value, where one is (none where no level is: "region: southeast" with
    20 % of customers in each of five regions).

    Without medians (models trained before the reference kept them) the numeric reasons are gated by
    :attr:`FeatureSpec.reason_bound` alone; without a reference, no categorical reason is gated.
    """
    stats = (reference or {}).get("features", {})
    typical: dict[str, float | str] = {}
    for name, s in stats.items():
        if s.get("kind") == "categorical":
            level = max(s.get("shares") or {}, key=lambda level: s["shares"][level], default=None)
            if level is not None and level != OTHER and s["shares"][level] > TYPICAL_LEVEL_SHARE:
                typical[name] = level
        elif s.get("median") is not None:
            typical[name] = float(s["median"])
    return typical


ATTRIBUTE_CHURN = ", where churn runs {ratio:.1f}× the average"
"""What an attribute's reason adds to its value ("contract type: monthly, where churn runs 2.3× the
average"): the level's churn ratio on the training rows, of customers counted once as :func:`clearly_above`
counts them (:func:`churnml.monitoring.churn_ratios`; older references hold it per row: :func:`attribute_churn`). Alone, "Tarifname:
Mobil M 30GB" read as a bare fact beside "a complaint open for 41 days": the call centre could not
tell why it was a risk."""
ATTRIBUTE_BAND = " (band {band})"
"""What a number's reason says before :data:`ATTRIBUTE_CHURN`: the band of values the ratio is of
("monthly fee: 89.5 (band 80–95), where churn runs 1.6× the average"; :func:`band_text`). Without it
the 1.6× read as the churn of customers paying 89.5 exactly."""


def clearly_above(counts: Mapping[str, int] | None, average: Mapping[str, int] | None) -> bool | None:
    """Whether a level's customers churned clearly more often than all customers: the lower end of
    the 95 % Wilson interval of its churn rate (``churners`` of ``customers``,
    :func:`churnml.monitoring.churn_counts`) above the average rate (``average``,
    :func:`churnml.monitoring.customer_churn`). None where either count is missing (models trained
    before the counts were kept).

    With 50 customers, 1.2× the average may be chance: 12 churners of 50 where 20 % churn has an
    interval of 14 % to 37 %.

    >>> clearly_above({"customers": 50, "churners": 12}, {"customers": 1000, "churners": 200})
    False
    >>> clearly_above({"customers": 400, "churners": 120}, {"customers": 1000, "churners": 200})
    True
    """
    if not counts or not average or not counts.get("customers") or not average.get("customers"):
        return None
    low, _ = wilson_interval(int(counts.get("churners", 0)), int(counts["customers"]))
    return low > average.get("churners", 0) / average["customers"]


def band_text(low: float | None, high: float | None, value: float) -> str | None:
    """The band of a number's bin, values above ``low`` up to ``high`` (None: open), as an agent
    reads it: "80–95", "95 or more", "up to 20"; None where the band holds ``value`` alone.

    The bin's edges lie halfway between values of the training data (79.75, 94.99): each is shown
    with two significant digits, more where fewer would leave ``value`` outside the band shown.
    Edges at halves (x.5) around a whole ``value`` (ages, counts: 54.5 and 61.5) show the whole numbers
    within ("55–61"). Numbers are written as the attribute's value is (``,.10g``).

    >>> band_text(79.75, 94.99, 89.5), band_text(94.99, None, 120.0), band_text(None, 19.99, 9.99)
    ('80–95', '95 or more', 'up to 20')
    >>> band_text(54.5, 61.5, 57.0), band_text(1.5, 2.5, 2.0), band_text(80.6, 94.99, 80.7), band_text(-20.5, -9.5, -15.0)
    ('55–61', None, '80.6–95', '-20 to -10')
    """
    def half(edge: float | None) -> bool:
        return edge is None or (float(edge * 2).is_integer() and not float(edge).is_integer())

    if float(value).is_integer() and half(low) and half(high):
        first = None if low is None else float(np.floor(low) + 1)
        last = None if high is None else float(np.ceil(high) - 1)
        if first is not None and last is not None and first >= last:
            return None
    else:
        first = None if low is None else _shown_edge(low, lambda shown: shown <= value)
        last = None if high is None else _shown_edge(high, lambda shown: shown >= value)
    if first is None and last is None:
        return None
    if first is None:
        return f"up to {last:,.10g}"
    if last is None:
        return f"{first:,.10g} or more"
    return f"{first:,.10g}{' to ' if first < 0 else '–'}{last:,.10g}"


def _shown_edge(edge: float, holds: Callable[[float], bool]) -> float:
    """``edge`` with the fewest significant digits (two at least) for which ``holds`` (the value
    stays within the band shown)."""
    for digits in range(2, 16):
        shown = float(f"{edge:.{digits}g}")
        if holds(shown):
            return shown
    return float(edge)


@dataclasses.dataclass(frozen=True)
class AttributeChurn:
    """How much more the customers of an attribute's levels churned than all customers, on the
    training rows (:func:`churnml.monitoring.churn_ratios`): per level of a categorical, per bin
    (between ``edges``) of a number; only those clearly above the average where the counts behind
    them were kept (:func:`attribute_churn`), and there too the levels that are no reason (``no_more``)."""

    levels: Mapping[str, float] = dataclasses.field(default_factory=dict)
    edges: Sequence[float] = ()
    bins: Sequence[float | None] = ()
    no_more: frozenset = frozenset()
    """The levels (a categorical's values, a number's bin indices) whose customers churned no more
    than all customers, their figure reading 1.0× or less (:func:`reads_above`), where the counts
    were kept: a value there is no reason for risk (:func:`churned_no_more`)."""

    def ratios(self, values: np.ndarray) -> np.ndarray:
        """Each value's churn ratio (NaN where none was kept, or the value is missing)."""
        if not self.bins:
            return np.array([self.levels.get(str(v), np.nan) if not _missing(v) else np.nan for v in values], dtype=float)
        numbers = self._numbers(values)
        bins = np.array([np.nan if r is None else r for r in self.bins], dtype=float)
        if not len(bins):
            return np.full(len(values), np.nan)
        return np.where(np.isfinite(numbers), bins[self._bin(numbers)], np.nan)

    def churned_no_more(self, values: np.ndarray) -> np.ndarray:
        """Whether each value's customers churned no more than the average (:attr:`no_more`; False
        for a missing value, or one without a figure)."""
        if not self.no_more:
            return np.zeros(len(values), dtype=bool)
        if not self.bins:
            return np.array([not _missing(v) and str(v) in self.no_more for v in values], dtype=bool)
        numbers = self._numbers(values)
        return np.isfinite(numbers) & np.isin(self._bin(numbers), list(self.no_more))

    def bands(self, values: np.ndarray) -> list[str | None]:
        """Each number's band (:func:`band_text`), None for a categorical's level, a missing value,
        or a bin without edges."""
        if self.levels or not len(self.edges):
            return [None] * len(values)
        numbers = self._numbers(values)
        edges = [float(edge) for edge in self.edges]
        return [band_text(edges[b - 1] if b > 0 else None, edges[b] if b < len(edges) else None, number)
                if np.isfinite(number) else None for number, b in zip(numbers, self._bin(numbers))]

    def _numbers(self, values: np.ndarray) -> np.ndarray:
        return np.round(pd.to_numeric(pd.Series(values, dtype=object), errors="coerce").to_numpy(dtype=float),
                        FEATURE_DECIMALS)

    def _bin(self, numbers: np.ndarray) -> np.ndarray:
        """The bin of each number: side="left", as the ratios were counted (a value on an edge is in
        the bin below it)."""
        return np.searchsorted(np.asarray(self.edges, dtype=float), numbers, side="left")


def _missing(value: object) -> bool:
    return value is None or (isinstance(value, float) and np.isnan(value))


def attribute_churn(reference: Mapping | None) -> dict[str, AttributeChurn]:
    """Feature name -> the churn ratios of its levels (:class:`AttributeChurn`), from the monitoring
    reference's ``churn_ratio`` (:func:`churnml.monitoring.reference_statistics`: kept for customer
    attributes by models trained since), of the levels clearly above the average
    (:func:`clearly_above`) where ``churn_counts`` and ``training_churn`` are kept; there too the
    levels whose figure reads 1.0× or less (``no_more``), which are no reason. None for models
    trained before the ratios: their attribute reasons read as they did ("plan: basic"); models
    trained with ratios but before the counts say every ratio above 1.0, and give every level, as they did.

    Example
    -------
    >>> attribute_churn({"features": {"plan": {"kind": "categorical", "shares": {}, "churn_ratio": {"basic": 2.3}}}})
    {'plan': AttributeChurn(levels={'basic': 2.3}, edges=(), bins=(), no_more=frozenset())}
    >>> attribute_churn({"training_churn": {"customers": 1000, "churners": 200},
    ...                  "features": {"plan": {"kind": "categorical", "shares": {},
    ...                                        "churn_ratio": {"basic": 1.2, "plus": 1.5, "max": 0.8},
    ...                                        "churn_counts": {"basic": {"customers": 50, "churners": 12},
    ...                                                         "plus": {"customers": 400, "churners": 120},
    ...                                                         "max": {"customers": 100, "churners": 16}}}}})
    {'plan': AttributeChurn(levels={'plus': 1.5}, edges=(), bins=(), no_more=frozenset({'max'}))}
    """
    average = (reference or {}).get("training_churn")
    churn: dict[str, AttributeChurn] = {}
    for name, s in ((reference or {}).get("features") or {}).items():
        ratios, counts = s.get("churn_ratio"), s.get("churn_counts")
        if isinstance(ratios, dict) and ratios:
            clear = {level: clearly_above((counts or {}).get(level), average) if isinstance(counts, dict) else None
                     for level in ratios}
            kept = {level: ratio for level, ratio in ratios.items() if clear[level] is not False}
            no_more = frozenset(level for level, ratio in ratios.items()
                                if clear[level] is not None and not reads_above(ratio))
            if kept or no_more:
                churn[name] = AttributeChurn(levels=kept, no_more=no_more)
        elif isinstance(ratios, list) and len(ratios) == len(s.get("edges") or []) + 1:
            no_more: frozenset = frozenset()
            if isinstance(counts, list) and len(counts) == len(ratios):
                clear = [clearly_above(count, average) for count in counts]
                no_more = frozenset(b for b, (ratio, said) in enumerate(zip(ratios, clear))
                                    if said is not None and ratio is not None and not reads_above(ratio))
                ratios = [None if said is False else ratio for ratio, said in zip(ratios, clear)]
            churn[name] = AttributeChurn(edges=tuple(s.get("edges") or ()), bins=tuple(ratios), no_more=no_more)
    return churn


def reads_above(ratio: float | None) -> bool:
    """Whether a churn ratio reads above the average as an attribute's reason writes it (above 1.0×
    at one decimal): an attribute's reason says its figure only then (:func:`with_churn`), and, where
    the counts were kept, a value that reads 1.0× or less is no reason (:attr:`AttributeChurn.no_more`).

    >>> reads_above(1.06), reads_above(1.04), reads_above(0.8), reads_above(float("nan")), reads_above(None)
    (True, False, False, False, False)
    """
    return ratio is not None and bool(np.isfinite(ratio)) and round(float(ratio), 1) > 1.0


def with_churn(sentences: Sequence[str | None], ratios: np.ndarray,
               bands: Sequence[str | None] | None = None) -> list[str | None]:
    """Each attribute sentence with :data:`ATTRIBUTE_CHURN` where its level churned more than the
    average (a ratio that reads above 1.0, :func:`reads_above`), a number's band before it
    (:data:`ATTRIBUTE_BAND`, ``bands``); as it was elsewhere: a figure above 1.0 its customers do not
    make clear (:func:`attribute_churn`), or none kept. A level that reads 1.0× or less is no reason
    where the counts were kept (:attr:`AttributeChurn.no_more`); models trained before them give it
    alone, as they did ("churn runs 0.8× the average" would contradict the reason).

    >>> with_churn(["plan: basic", "plan: plus", None], np.array([2.34, 0.8, 3.0]))
    ['plan: basic, where churn runs 2.3× the average', 'plan: plus', None]
    >>> with_churn(["monthly fee: 89.5", "monthly fee: 2"], np.array([1.6, 1.3]), ["80–95", None])
    ['monthly fee: 89.5 (band 80–95), where churn runs 1.6× the average', 'monthly fee: 2, where churn runs 1.3× the average']
    """
    bands = bands if bands is not None else [None] * len(sentences)
    return [text + (ATTRIBUTE_BAND.format(band=band) if band else "") + ATTRIBUTE_CHURN.format(ratio=ratio)
            if text and reads_above(ratio) else text
            for text, ratio, band in zip(sentences, ratios, bands)]


def explain(
    contributions: pd.DataFrame,
    features: pd.DataFrame,
    specs: Sequence[FeatureSpec],
    k: int = TOP_K,
    render: Callable[[FeatureSpec, Mapping[str, object]], str | None] = render_reason,
    typical: Mapping[str, float | str] | None = None,
    churn: Mapping[str, AttributeChurn] | None = None,
) -> list[list[str]]:
    """Top ``k`` reasons per customer, as sentences.

    Parameters
    ----------
    contributions : pandas.DataFrame
        ``ChurnModel.contributions(X)``: one column per feature, rows aligned with ``features``.
    features : pandas.DataFrame
        The same customers' feature values (every column a template refers to).
    specs : sequence of FeatureSpec
        Feature descriptions; those whose ``reason`` is None are never shown.
    k : int
        Reasons per customer, at most.
    render : callable
        ``render(spec, row) -> str | None`` fills a template from a mapping of the fields it uses;
        None (e.g. a missing value) drops that reason.
    typical : mapping, optional
        Feature name -> typical value (:func:`typical_values`). A feature is a reason only for
        rows whose value lies beyond it on :attr:`FeatureSpec.reason_side` (and beyond
        :attr:`FeatureSpec.reason_bound`), a categorical one only for rows of another level;
        features not in it are gated by the bound alone.
        Transaction features over a window of N days (``"90d"``) are reasons only for rows whose
        :data:`HISTORY_FEATURE` is at least N (when ``features`` has that column).
    churn : mapping, optional
        Feature name -> :class:`AttributeChurn` (:func:`attribute_churn`): a customer attribute's
        reason says how much more its level churned (:func:`with_churn`), and a level that churned
        no more than the average is no reason (:attr:`AttributeChurn.no_more`: the next driver takes
        its place). Attributes not in it read as their value alone.

    Returns
    -------
    list of list of str
        For each row, its reasons, strongest first (possibly fewer than ``k``, or none).

    Steps: which (customer, feature) pairs may be reasons (:func:`_eligible`); a customer who never
    bought gets their purchase features as one driver (:func:`_never_bought`); the strongest drivers
    are ranked (:func:`top_drivers`, with spares for those dropped later); a fall to nothing takes
    the family of its window (:func:`_fall_stand_ins`) and a window at 0 for a silent customer that
    of the silence (:func:`_silence_stand_ins`); one driver per family stays
    (:func:`_one_per_family`, :func:`_outrank_weaker_kin`); the drivers are rendered, each with its
    topic, which :func:`explain_with_topics` gives too (:func:`_sentences`), and repeats dropped
    (:func:`_distinct`, :func:`_tenure_said_once`).

    Example
    -------
    >>> explain(model.contributions(X), X, feature_specs(dataset))[0]  # doctest: +SKIP
    ['2 unresolved complaints', 'no purchase for 74 days (usually every 20)']
    """
    return [[text for text, _ in said] for said in _explain(contributions, features, specs, k, render, typical, churn)]


def _explain(contributions: pd.DataFrame, features: pd.DataFrame, specs: Sequence[FeatureSpec], k: int,
             render: Callable[[FeatureSpec, Mapping[str, object]], str | None],
             typical: Mapping[str, float | str] | None,
             churn: Mapping[str, AttributeChurn] | None = None) -> list[list[tuple[str, str]]]:
    """:func:`explain`'s reasons, each as (sentence, topic): the steps it lists, which
    :func:`explain_with_topics` shares."""
    if len(contributions) != len(features):
        raise ValueError(f"contributions has {len(contributions)} rows but features has {len(features)}")
    by_name = {spec.name: spec for spec in specs}
    names = list(contributions.columns)
    has_reason = np.array([by_name.get(name) is not None and by_name[name].reason is not None for name in names])
    typical = typical or {}
    eligible = _eligible(features, by_name, names, has_reason, typical, churn or {})
    matrix, eligible, never, carrier = _never_bought(contributions, features, names, eligible, typical)
    # The same sentence over other windows ("spent 0 in the last 30 days", "... 90 days") says
    # one thing: only the strongest of a family stays, and the next family moves up.
    families = [_family(by_name[name].reason, name) if ok else () for name, ok in zip(names, has_reason)]
    # Spare drivers for the family members that drop out (a complaint raises six features).
    spare = max(Counter(f for fs in REASON_FAMILIES.values() for f in fs).values(), default=1)
    columns, _ = top_drivers(matrix, eligible, 2 * k + spare, MIN_EFFECT)
    drivers = _Drivers(columns, families, list(range(len(names))), [False] * len(names))
    leads = _fall_stand_ins(drivers, features, by_name, names, has_reason)
    _silence_stand_ins(drivers, features, by_name, names, has_reason, leads)
    # One spare driver: two features can say the same thing ("no purchase for 74 days" and
    # "no purchase for 74 days (usually every 20)"); the shorter is dropped and the spare moves up.
    columns = _outrank_weaker_kin(drivers, _one_per_family(drivers.columns, drivers.families, k + 1), k + 1)
    # Where such a window stays (its silence not among the first k), it says the silence: "no
    # purchase in the last 30 days" for a customer gone 1,696 days read as a recent slowdown.
    stands_in = np.asarray(drivers.tells + [False])[columns]
    columns = np.where(columns >= 0, np.asarray(drivers.origin)[columns], -1)
    sentences, topics = _sentences(columns, stands_in, features, by_name, names, never, carrier, render, churn or {})
    reasons = [_distinct(list(zip(said, about)), k) for said, about in zip(sentences.tolist(), topics.tolist())]
    _tenure_said_once(reasons, sentences, columns, names, never, carrier)
    return reasons


def _eligible(features: pd.DataFrame, by_name: Mapping[str, FeatureSpec], names: Sequence[str],
              has_reason: np.ndarray, typical: Mapping[str, float | str],
              churn: Mapping[str, AttributeChurn] | None = None) -> np.ndarray:
    """Which features may be reasons, per column (shape ``(f,)``: ``has_reason``) or, where a gate
    applies, per row and column (shape ``(n, f)``).

    Gates: a numeric feature's value must lie beyond its typical value and its bound on the side
    its sentence reads, a categorical's level be another than the typical one
    (:func:`churnml.features.reason_is_true`); a customer attribute's value must not be one whose
    customers churned no more than the average (``churn``, :meth:`AttributeChurn.churned_no_more`);
    a transaction feature over a window of N days needs N days of purchase history (:data:`HISTORY_FEATURE`).
    """
    # At the precision training kept, which the typical values (medians of the training's test
    # cutoff) have: a customer at the median, with every decimal, read as beyond it.
    gates = {j: reason_is_true(by_name[names[j]], np.round(features[names[j]].to_numpy(dtype=float), FEATURE_DECIMALS),
                               typical.get(names[j]))
             for j in np.flatnonzero(has_reason) if by_name[names[j]].kind == "numeric"}
    # A categorical's level that most customers hold explains nothing: "product tier: basic".
    gates |= {j: reason_is_true(by_name[names[j]], features[names[j]].to_numpy(dtype=object), typical[names[j]])
              for j in np.flatnonzero(has_reason)
              if by_name[names[j]].kind == "categorical" and isinstance(typical.get(names[j]), str)}
    gates = {j: rows for j, rows in gates.items() if rows is not None}
    # A value whose customers churned no more than the average is no reason for risk, whatever the
    # trees made of it: "product tier: premium" (0.8× the average) read as one to a call-centre lead.
    for j in np.flatnonzero(has_reason):
        spec = by_name[names[j]]
        if spec.column is not None and names[j] in (churn or {}) and churn[names[j]].no_more:
            risk_side = ~churn[names[j]].churned_no_more(features[names[j]].to_numpy(dtype=object))
            gates[j] = risk_side & gates[j] if j in gates else risk_side
    # Spend and purchases over a window longer than the customer's purchase history say they are
    # new, not that they buy little ("spent 180 in the last 365 days" two months in): no reason.
    if HISTORY_FEATURE in features.columns:
        history = features[HISTORY_FEATURE].to_numpy(dtype=float)
        for j in np.flatnonzero(has_reason):
            window = by_name[names[j]].window
            if by_name[names[j]].source == "transactions" and window and re.fullmatch(r"\d+d", window):
                with np.errstate(invalid="ignore"):
                    covered = history >= window_days(window)
                gates[j] = covered & gates[j] if j in gates else covered
    if not gates:
        return has_reason
    eligible = np.broadcast_to(has_reason, (len(features), len(names))).copy()
    for j, rows in gates.items():
        eligible[:, j] &= rows
    return eligible


def _never_bought(contributions: pd.DataFrame, features: pd.DataFrame, names: Sequence[str],
                  eligible: np.ndarray, typical: Mapping[str, float | str]
                  ) -> tuple[pd.DataFrame | np.ndarray, np.ndarray, np.ndarray, int]:
    """The contributions and eligibility with, for each customer who never bought, the purchase
    features (:data:`churnml.features.PURCHASE_FEATURES`) as one driver.

    Every purchase feature of such a customer holds what that gives ("spent 0", no first purchase,
    no usual gap), none of their sentences could be said (no history for a window, "no purchase
    for 9999 days") and the customer was left with "customer for 35 days" or nothing, though having
    bought nothing drove the score most. Their contributions together are that one driver, carried
    by the first of them (always eligible there), with its own sentence (:func:`no_purchase_reason`).
    Only where the typical customer bought (a median of 0 purchases: having none explains nothing).

    Returns
    -------
    matrix, eligible
        ``contributions`` and ``eligible``, changed (as copies) only where a customer never bought.
    never : ndarray of bool, shape (n,)
        The customers who never bought (none without :data:`HISTORY_FEATURE`).
    carrier : int
        The column that carries their driver (-1 without purchase features).
    """
    group = [j for j, name in enumerate(names) if name in PURCHASE_FEATURES]
    never = np.zeros(len(features), dtype=bool)
    if group and HISTORY_FEATURE in features.columns and typical.get("frequency_lifetime", 1.0) > 0:
        never = np.isnan(features[HISTORY_FEATURE].to_numpy(dtype=float))
    carrier = group[0] if group else -1
    matrix = contributions
    if never.any():
        matrix = contributions.to_numpy(dtype=float, copy=True)
        matrix[never, carrier] = matrix[np.ix_(never, group)].sum(axis=1)
        matrix[np.ix_(never, group[1:])] = 0.0
        eligible = np.broadcast_to(eligible, (len(features), len(names))).copy()
        eligible[never, carrier] = True
    return matrix, eligible, never, carrier


@dataclasses.dataclass
class _Drivers:
    """Each customer's ranked drivers, and what each driver column says.

    Columns ``0 … f-1`` are the features. A stand-in, appended after them, renders the sentence of
    feature ``origin[t]`` (or, where ``tells[t]``, the silence's: the first of :data:`SILENCE_FEATURES`)
    under other reason ``families[t]``; :func:`explain` puts it in place of the feature's column for
    the customers whose sentence it changes.
    """

    columns: np.ndarray
    """Shape ``(n, m)``: column indices, strongest first; -1 where there are fewer drivers."""
    families: list[tuple[str, ...]]
    origin: list[int]
    tells: list[bool]
    own: dict[int, tuple[str, ...]] = dataclasses.field(default_factory=dict)
    """Composite column -> those of its families in which it keeps its rank: it yields to a driver
    of the others, not to a weaker one of these (:func:`_outrank_weaker_kin`)."""

    def stand_in(self, families: tuple[str, ...], origin: int, tells: bool = False,
                 own: tuple[str, ...] = ()) -> int:
        """Add a column of ``families`` that renders ``origin``'s sentence; its index."""
        self.families.append(families)
        self.origin.append(origin)
        self.tells.append(tells)
        if own:
            self.own[len(self.origin) - 1] = own
        return len(self.origin) - 1


def _fall_stand_ins(drivers: _Drivers, features: pd.DataFrame, by_name: Mapping[str, FeatureSpec],
                    names: Sequence[str], has_reason: np.ndarray) -> dict[int, int]:
    """Put a fall to nothing in its window's family, where it is said; the stand-ins added (their
    column -> the window's, for the windows among the features).

    A fall to nothing (:data:`churnml.features.FALL_TO_NOTHING`) says its first field's window
    sentence and more ("refunded 39 more than bought in the last 90 days, having spent 51 in the 90
    days before"): for the rows it is said, it is of that window's family ("refunded 73 more than
    bought in the last 30 days" beside it was two reasons about one net refund), and stands where
    that window ranks, if higher.
    """
    leads: dict[int, int] = {}
    for j in np.flatnonzero(has_reason):
        fall = FALL_TO_NOTHING.get(names[j]) if by_name[names[j]].column is None else None
        lead = template_fields(fall)[0] if fall else None
        if lead is None or lead not in by_name or by_name[lead].reason is None:
            continue
        with np.errstate(invalid="ignore"):
            falls = np.round(-features[names[j]].to_numpy(dtype=float)) >= 100
        if not falls.any():
            continue
        t = drivers.stand_in(_family(by_name[lead].reason, lead), j)
        columns = drivers.columns
        columns[falls] = np.where(columns[falls] == j, t, columns[falls])
        if lead in names:
            said = (columns == t).any(axis=1, keepdims=True)
            drivers.columns = np.where(said & (columns == names.index(lead)), t, columns)
            leads[t] = names.index(lead)
    return leads


def _silence_stand_ins(drivers: _Drivers, features: pd.DataFrame, by_name: Mapping[str, FeatureSpec],
                       names: Sequence[str], has_reason: np.ndarray, leads: Mapping[int, int]) -> None:
    """Put a window at 0 ("no purchase in the last 365 days") in the silence's families, for the
    customers silent at least that window.

    Beside "no purchase for 400 days" it says nothing more: the window's column becomes a composite
    of its own family and those of the silence features (:data:`SILENCE_FEATURES`), which yields to
    them (:func:`_one_per_family`) and, where none of them is shown, says the silence (``tells``).
    A fall to nothing that starts with that window (``leads``, :func:`_fall_stand_ins`) yields to
    the silence too, but keeps its own sentence, and within its window's family keeps its rank
    (``own``, :func:`_outrank_weaker_kin`).
    """
    silence = tuple(f for name in SILENCE_FEATURES if name in names for f in drivers.families[names.index(name)])
    if not silence or SILENCE_FEATURES[0] not in features.columns:
        return
    days = features[SILENCE_FEATURES[0]].to_numpy(dtype=float)
    columns = drivers.columns
    for j in np.flatnonzero(has_reason):
        spec = by_name[names[j]]
        if spec.source != "transactions" or not says_none_in(spec):
            continue
        with np.errstate(invalid="ignore"):
            silent = (features[names[j]].to_numpy(dtype=float) == 0) & (days >= window_days(spec.window))
        if not silent.any():
            continue
        t = drivers.stand_in(tuple(dict.fromkeys(drivers.families[j] + silence)), j, tells=True)
        columns[silent] = np.where(columns[silent] == j, t, columns[silent])
        # A fall to nothing there ("has not spent anything in the last 90 days, having spent 3 in
        # the 90 days before") yields to the silence too, but where that is not shown keeps its
        # own sentence: it is true, and says what was spent before. Of the spend sentences, the
        # strongest stays ("spent 13 in the last 180 days", a weaker driver, took its place where
        # the silence was no reason: C0001505, seed 11).
        for fall in (fall for fall, lead in leads.items() if lead == j):
            t = drivers.stand_in(tuple(dict.fromkeys(drivers.families[fall] + silence)), drivers.origin[fall],
                                 own=drivers.families[fall])
            columns[silent] = np.where(columns[silent] == fall, t, columns[silent])


def _sentences(columns: np.ndarray, stands_in: np.ndarray, features: pd.DataFrame,
               by_name: Mapping[str, FeatureSpec], names: Sequence[str], never: np.ndarray, carrier: int,
               render: Callable[[FeatureSpec, Mapping[str, object]], str | None],
               churn: Mapping[str, AttributeChurn] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The sentence of each chosen driver (feature ``columns``, shape ``(n, k)``), None where none;
    and beside it, in an array of the same shape, its topic (:func:`reason_topic`).

    Rendered feature by feature; the carrier of a customer who never bought reads
    :func:`no_purchase_reason` (topic :data:`NEVER_BOUGHT_TOPIC`), and a window standing in for the
    silence (``stands_in``) the silence's sentence (the first of :data:`SILENCE_FEATURES`, and its
    topic), when it can be said. An attribute's says how much more its level churned (``churn``,
    :func:`with_churn`).
    """
    sentences = np.full(columns.shape, None, dtype=object)
    topics = np.full(columns.shape, None, dtype=object)
    for j in np.unique(columns[columns >= 0]):
        rows, slots = np.nonzero(columns == j)
        if j == carrier and never[rows].any():
            alone = never[rows]
            tenure = (features[TENURE_FEATURE].to_numpy(dtype=float)[rows[alone]] if TENURE_FEATURE in features.columns
                      else np.full(int(alone.sum()), np.nan))
            sentences[rows[alone], slots[alone]] = [no_purchase_reason(days) for days in tenure]
            topics[rows[alone], slots[alone]] = NEVER_BOUGHT_TOPIC
            rows, slots = rows[~alone], slots[~alone]
            if not len(rows):
                continue
        said, about = _say(by_name[names[j]], features, rows, render)
        if by_name[names[j]].column is not None and names[j] in (churn or {}):
            values = _column(features, names[j])[rows]
            said = with_churn(said, churn[names[j]].ratios(values), churn[names[j]].bands(values))
        sentences[rows, slots] = said
        topics[rows, slots] = about
    quiet = by_name.get(SILENCE_FEATURES[0])
    if stands_in.any() and quiet is not None and quiet.reason is not None:
        rows, slots = np.nonzero(stands_in)
        said, about = _say(quiet, features, rows, render)
        told = np.array([bool(text) for text in said], dtype=bool)
        sentences[rows[told], slots[told]] = [text for text in said if text]
        topics[rows[told], slots[told]] = [topic for text, topic in zip(said, about) if text]
    return sentences, topics


def _say(spec: FeatureSpec, features: pd.DataFrame, rows: np.ndarray,
         render: Callable[[FeatureSpec, Mapping[str, object]], str | None]) -> tuple[list[str | None], list[str]]:
    """``spec``'s sentence for the customers ``rows`` (``render`` of the fields it reads), and each
    one's topic: :func:`reason_topic` of ``spec`` and the customer's fields, found once per feature
    (only a sentence quoting a net spend needs the row: below 0 it is about refunds)."""
    fields = reason_fields(spec)
    values = [_column(features, field)[rows] for field in fields]
    said = [dict(zip(fields, row)) for row in zip(*values)]
    topic = reason_topic(spec)
    spends = _spends(spec) if topic == "buying_less" else ()
    return ([render(spec, row) for row in said],
            ["refunds" if spends and _refunded(row, spends) else topic for row in said])


def _tenure_said_once(reasons: list[list[tuple[str, str]]], sentences: np.ndarray, columns: np.ndarray,
                      names: Sequence[str], never: np.ndarray, carrier: int) -> None:
    """Beside "customer for 20 days, newer than most", "has not bought anything in 20 days as a
    customer" says the days twice: there it reads "has not bought anything yet" (in ``reasons``,
    each (sentence, topic))."""
    if not never.any() or TENURE_FEATURE not in names:
        return
    tenure = names.index(TENURE_FEATURE)
    for i in np.flatnonzero(never & (columns == tenure).any(axis=1) & (columns == carrier).any(axis=1)):
        if sentences[i, int(np.flatnonzero(columns[i] == tenure)[0])] in [text for text, _ in reasons[i]]:
            days = sentences[i, int(np.flatnonzero(columns[i] == carrier)[0])]
            reasons[i] = [(no_purchase_reason(float("nan")), NEVER_BOUGHT_TOPIC) if text == days else (text, topic)
                          for text, topic in reasons[i]]


def _column(features: pd.DataFrame, field: str) -> np.ndarray:
    """A feature's values as objects; None throughout where ``features`` lacks it (a field the
    sentence of a fall to nothing reads, beside the reason's own: that sentence is then not said)."""
    if field in features.columns:
        return features[field].to_numpy(dtype=object)
    return np.full(len(features), None, dtype=object)


NEVER_BOUGHT_TOPIC = "never_bought"
"""The topic of the never-bought driver's sentence (:func:`no_purchase_reason`), which no single
feature gives (:func:`reason_topic`)."""


def no_purchase_reason(tenure_days: float) -> str:
    """The reason of a customer who never bought, :data:`TENURE_FEATURE` days after becoming one.

    Example
    -------
    >>> no_purchase_reason(1424.0), no_purchase_reason(1.0), no_purchase_reason(float("nan"))
    ('has not bought anything in 1,424 days as a customer', 'has not bought anything in 1 day as a customer', 'has not bought anything yet')
    """
    if not np.isfinite(tenure_days) or round(tenure_days) < 1:
        return "has not bought anything yet"
    return f"has not bought anything in {tenure_days:,.0f} day{'' if round(tenure_days) == 1 else 's'} as a customer"


def _family(template: str, name: str = "") -> tuple[str, ...]:
    """The families of a reason: its template without its numbers (the same sentence over another
    window); or the feature's entry in :data:`churnml.features.REASON_FAMILIES`, for sentences that
    differ but say one thing (a composite score belongs to the family of each of its parts)."""
    return REASON_FAMILIES.get(name) or (re.sub(r"\{[^}]*\}|\d+", "N", template),)


def _outrank_weaker_kin(drivers: _Drivers, kept: np.ndarray, k: int) -> np.ndarray:
    """``kept`` (:func:`_one_per_family` of ``drivers``) with a composite that has families of its own
    (:attr:`_Drivers.own`) put back where only weaker drivers of those took it out.

    The rule: such a composite yields, as any composite does (:func:`_one_per_family`), to a driver
    among the first ``k`` that has one of its other families (the silence's); of its own families
    (the spend sentences'), only to a stronger driver, since one per family is the strongest. Where
    nothing kept takes it out by that rule but weaker kin did, the row's drivers are chosen again
    without that weaker kin; where the composite is then still dropped (a driver it yields to moved
    up into the first ``k``), the row stays as it was.

    Example (C0001505, seed 11): a customer's drivers, strongest first, are

    1. a fall to nothing in a silence of 153 days, "has not spent anything in the last 90 days,
       having spent 13 in the 90 days before" (families: the spend sentences', which are its own,
       and the silence's);
    2. "spent 13 in the last 180 days" (the spend sentences').

    :func:`_one_per_family` kept 2 alone: it shares a family with 1 and is among the first ``k``.
    Here 1 comes back, and 2, of the same family, goes. Had "no purchase for 153 days" been among
    the first ``k``, 1 would yield to it, and 2 stay beside it.
    """
    kept = kept.copy()
    for composite, own in drivers.own.items():
        rows = np.flatnonzero((drivers.columns == composite).any(axis=1) & ~(kept == composite).any(axis=1))
        if not len(rows):
            continue
        ranked = drivers.columns[rows]
        yields_to, kin = _kin(drivers.families, composite, own)
        weaker = _weaker_kin(ranked, composite, kin)
        fix = np.flatnonzero(weaker.any(axis=1) & ~_taken_out_by_rule(kept[rows], ranked, weaker, yields_to | kin))
        if not len(fix):
            continue
        again = _one_per_family(np.where(weaker[fix], -1, ranked[fix]), drivers.families, k)
        back = (again == composite).any(axis=1)
        kept[rows[fix[back]]] = again[back]
    return kept


def _kin(families: Sequence[tuple[str, ...]], composite: int, own: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray]:
    """Per driver column, of ``composite`` whose own families are ``own``: whether the composite
    always yields to it (it has one of the composite's other families: the silence's), and whether
    it is kin (it has one of ``own`` and none of those). Shape ``(f + 1,)``: index ``f`` (no driver,
    -1) is neither.
    """
    others = set(families[composite]) - set(own)
    yields_to = np.array([bool(others & set(of)) for of in families] + [False])
    kin = np.array([bool(set(own) & set(of)) for of in families] + [False]) & ~yields_to
    return yields_to, kin


def _weaker_kin(ranked: np.ndarray, composite: int, kin: np.ndarray) -> np.ndarray:
    """Where ``ranked`` (driver columns, strongest first; -1 for none) holds kin (:func:`_kin`)
    ranked at or after ``composite``'s first place."""
    at_or_after = np.cumsum(ranked == composite, axis=1) > 0
    return kin[np.where(ranked >= 0, ranked, len(kin) - 1)] & at_or_after


def _taken_out_by_rule(shown: np.ndarray, ranked: np.ndarray, weaker: np.ndarray, outranks: np.ndarray) -> np.ndarray:
    """Per row: whether a kept column (``shown``; -1 for none) takes the composite out by the rule of
    :func:`_outrank_weaker_kin`: one the composite yields to or stronger kin (``outranks``, per
    column), not one of the ``weaker`` kin among ``ranked``."""
    is_weaker = np.stack([((ranked == shown[:, [slot]]) & weaker).any(axis=1) for slot in range(shown.shape[1])],
                         axis=1)
    return (outranks[np.where(shown >= 0, shown, len(outranks) - 1)] & ~is_weaker).any(axis=1)


def _one_per_family(columns: np.ndarray, families: Sequence[tuple[str, ...]], k: int) -> np.ndarray:
    """Each row's first ``k`` columns (as ranked) none of whose reason families a kept column holds.

    A column of several families (a composite score) is weighed after the others: it is kept only
    where none of its parts is among the first ``k``, since "a complaint open for 65 days" tells a
    marketer what "poor service experience (score 10/100)" does not. The kept columns stay in rank order.
    """
    f = len(families)
    # shared[a, b]: columns a and b have a family in common; index f (for -1, no driver) shares none.
    shared = np.zeros((f + 1, f + 1), dtype=bool)
    members: dict[str, list[int]] = {}
    for j, names in enumerate(families):
        for family in names:
            members.setdefault(family, []).append(j)
    for group in members.values():
        shared[np.ix_(group, group)] = True
    composite = np.array([len(names) > 1 for names in families] + [False])
    slots = np.where(columns >= 0, columns, f)
    weighed = np.argsort(composite[slots], axis=1, kind="stable")  # composites last, else in rank order
    slots = np.take_along_axis(slots, weighed, axis=1)
    repeat = np.zeros(columns.shape, dtype=bool)
    for i in range(1, columns.shape[1]):
        for j in range(i):  # against the columns kept: a dropped composite does not drop its other parts
            repeat[:, i] |= ~repeat[:, j] & shared[slots[:, i], slots[:, j]]
    np.put_along_axis(repeat, weighed, repeat.copy(), axis=1)  # back to rank order
    # A composite yields only to a part that is among the first k: the service score, by far the
    # strongest driver, was dropped for a complaint ranked sixth, and neither was given.
    slots = np.where(columns >= 0, columns, f)
    for i in np.flatnonzero(composite[slots].any(axis=0)):
        dropped = composite[slots[:, i]] & repeat[:, i]
        if not dropped.any():
            continue
        kept = ~repeat & (columns >= 0)
        # Each kept column's place in the list with the composite back at its rank.
        place = np.cumsum(kept, axis=1) - 1 + (np.arange(columns.shape[1]) > i)
        shown = kept & (place < k) & shared[slots[:, [i]], slots]
        repeat[:, i] &= ~(dropped & ~shown.any(axis=1))
    kept = np.where(repeat, -1, columns)
    order = np.argsort(kept < 0, axis=1, kind="stable")
    return np.take_along_axis(kept, order, axis=1)[:, :k]


def _distinct(said: list[tuple[str | None, str | None]], k: int) -> list[tuple[str, str]]:
    """Non-empty sentences in order, without one that another repeats or extends; at most ``k``.
    Each comes as (sentence, topic); only the sentence is compared, and a topic goes with its own.

    A sentence that extends a dropped one takes the place of whichever of the two came first
    (the stronger driver): "no purchase for 49 days (usually every 20)" says what "no purchase
    for 49 days" says, so it ranks where the silence ranked, not where the usual gap did.
    """
    kept = [(s, topic) for s, topic in said if s]
    if len(kept) > 1:
        survivors = [(i, s) for i, (s, _) in enumerate(kept)
                     if not any(o.startswith(s) and (o != s or j < i) for j, (o, _) in enumerate(kept) if j != i)]
        place = {i: min(j for j, (o, _) in enumerate(kept) if s.startswith(o)) for i, s in survivors}
        kept = [kept[i] for i, _ in sorted(survivors, key=lambda item: (place[item[0]], item[0]))]
    return kept[:k]


def reason_text(reasons: Sequence[Sequence[str]]) -> np.ndarray:
    """Join each customer's reasons into one text (``"; "``-separated), as the scores store them.

    Example
    -------
    >>> reason_text([["2 unresolved complaints", "spend down 60% on the previous quarter"], []]).tolist()
    ['2 unresolved complaints; spend down 60% on the previous quarter', '']
    """
    # A reason quoting a column or value that holds "; " ("region; legacy: west") would read back
    # as two (the API and the list printout split the text): inside a reason it becomes ", ".
    return np.array([SEPARATOR.join(s.replace(SEPARATOR, ", ") for s in r) for r in reasons], dtype=object)


REFUND_FEATURES = ("refunds_365d", "refund_amount_365d")
"""Features counting or summing refunds (topic ``refunds``)."""
_SPEND = "monetary_"
"""Net spend over a window (purchases minus refunds): below 0, refunds outweigh purchases."""


def reason_topic(spec: FeatureSpec, row: Mapping[str, object] | None = None) -> str:
    """What a reason given by ``spec``'s feature is about: one of :data:`churnml.schema.REASON_TOPICS`.

    ``service`` (complaints, resolution, satisfaction, tickets, calls), ``account_manager``,
    ``buying_less`` (a silence or a fall in purchases or spend), ``refunds`` (also a spend the
    customer's ``row`` of the sentence's fields holds below 0, refunds outweighing purchases:
    "refunded 73 more than bought in the last 30 days"), ``short_tenure`` ("customer for 20 days,
    newer than most"), ``attribute`` (a customer column, "region: west": who the customer is, not
    what happened). ``never_bought`` is the never-bought driver's (:func:`no_purchase_reason`),
    which no single feature gives.

    Example
    -------
    >>> reason_topic(FeatureSpec("unresolved_complaints", "", "service_events", "lifetime", "numeric", 1,
    ...                          "{unresolved_complaints:.0f} unresolved complaints"))
    'service'
    """
    if "account manager" in REASON_FAMILIES.get(spec.name, ()):
        return "account_manager"
    if spec.column is not None:
        return "attribute"
    if spec.source == "service_events":
        return "service"
    if spec.name in REFUND_FEATURES:
        return "refunds"
    if spec.name == TENURE_FEATURE:
        return "short_tenure"
    if spec.source == "transactions":
        return "refunds" if row and _refunded(row, _spends(spec)) else "buying_less"
    return "attribute"


def _spends(spec: FeatureSpec) -> tuple[str, ...]:
    """The net spends among the fields ``spec``'s sentence reads (:func:`reason_fields`)."""
    return tuple(f for f in reason_fields(spec) if f.startswith(_SPEND))


def _refunded(row: Mapping[str, object], spends: Sequence[str]) -> bool:
    """Whether one of ``spends`` is below 0 in ``row``: refunds outweighing purchases."""
    for field in spends:
        try:
            if float(row.get(field)) < 0:  # type: ignore[arg-type]
                return True
        except (TypeError, ValueError):
            pass
    return False


def explain_with_topics(
    contributions: pd.DataFrame,
    features: pd.DataFrame,
    specs: Sequence[FeatureSpec],
    k: int = TOP_K,
    typical: Mapping[str, float | str] | None = None,
    churn: Mapping[str, AttributeChurn] | None = None,
) -> tuple[list[list[str]], list[list[str]]]:
    """:func:`explain`'s reasons, and beside each its topic (:func:`reason_topic`), in the same order.

    The topic is that of the feature whose sentence was said (of the silence, where a window at 0
    says the silence's sentence), found where the sentence is (:func:`_sentences`); the never-bought
    driver's sentence (:func:`no_purchase_reason`) is :data:`NEVER_BOUGHT_TOPIC`.

    Example
    -------
    >>> explain_with_topics(model.contributions(X), X, feature_specs(dataset))[1][0]  # doctest: +SKIP
    ['service', 'buying_less']
    """
    said = _explain(contributions, features, specs, k, render_reason, typical, churn)
    return [[text for text, _ in row] for row in said], [[topic for _, topic in row] for row in said]
