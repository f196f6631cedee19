"""Monitoring: is the population being scored still the one the models learned from?

Reference (at train time)
    :func:`reference_statistics` summarises the features at the test cutoff, the latest
    population the models were measured on (their test metrics vouch for it, and it is the
    closest to the scoring date): per numeric feature the decile edges, the share of rows per bin
    and the missing rate; per categorical feature the share of each category and the missing
    rate; the share of customers without purchase history. It also summarises both scores on the
    same cutoff, in the same binned form, and the features of the other training cutoffs
    (``seasons``), each alone; and per customer attribute, each value's churn rate on the train
    split over the average (``churn_ratio``, :func:`churn_ratios`), which its reasons say where the
    customers and churners behind it (``churn_counts``, :func:`churn_counts`) make it clear (and
    where it reads 1.0× or less, with those counts kept, give no reason at all). The
    training pipeline stores the result
    with the run (``monitoring_reference.json`` and ``metadata.json``); scoring reads it back from
    :attr:`churnml.tracking.LoadedModels.monitoring_reference`.

Drift (at scoring time)
    :func:`drift` compares a scored population with the reference:

    - **PSI** (population stability index) per feature and for ``churn_probability`` and
      ``predicted_value``: ``sum_b (a_b - e_b) ln(a_b / e_b)`` over the reference bins plus a
      *missing* bin, with ``e`` the reference shares and ``a`` the current ones, both floored at
      :data:`PSI_FLOOR`. Categorical features use one bin per category (new categories included);
      features counted in days use bins at least a week wide (:data:`DAY_BIN_WIDTH`), so a
      Monday's weekend without trades does not read as drift, and recency over the usual gap
      bins at least a quarter of a gap wide with edges at 1 and 2 gaps (:data:`RATIO_BIN_WIDTH`),
      so a monthly bill a few days later does not either; sums of money put their edges at least
      5 % clear of the amounts many customers share (:data:`MONEY_GAP_RATIO`), so a price rise of a
      few percent does not either; so do both scores' bins (:data:`SCORE_GAP_RATIO`): the probabilities
      of a model of few trees are shared by many customers too.
      Rule of thumb: below 0.1 stable, 0.1-0.2 moderate shift, above 0.2 (the default
      ``[monitoring] psi_threshold``) a shift worth acting on. Ages
      (:data:`churnml.features.AGE_FEATURES`: days since the first purchase, tenure) are compared
      as they are and net of the days between the reference cutoff and the scored one, and the
      smaller PSI counts (with its ``mean``): a closed group of customers has aged by those days,
      while a population with steady sign-ups keeps its ages. Either alone is no drift.
      Lifetime sums (:func:`grows_with_history`: ``frequency_lifetime``, ``monetary_lifetime`` …)
      are compared with the test cutoff too, as the reference's history would have them
      (:func:`as_in_history`, with their ``mean``): they stop at the data's start, so they grow with
      its history for every customer who was there before it began.
    - where a training cutoff lies a year before the scored date (:func:`season_reference`), the
      features other than ages and lifetime sums are compared with that cutoff's customers, the same
      months, rather than with the test cutoff's, a season away: quarterly trends follow the season.
    - missing-value rates, reference vs current;
    - categories never seen in training;
    - the share of customers without purchase history;
    - the model's age: days from the training as-of date to the scoring as-of date (data age, not
      wall-clock time, so the same inputs always give the same sidecar).

    - the level of money (:func:`money_levels`): the median among customers with a non-zero value
      of each money feature over a window (not ``monetary_lifetime``) and of ``predicted_value``, against the reference's; a ratio beyond
      ``[monitoring] money_level_ratio`` (1.5) either way is drift (prices changed).

    The report is *drifted* when any PSI exceeds the threshold, a money level moved beyond its
    ratio, or the model is older than ``[monitoring] max_model_age_days``.

Backtest (after the horizon)
    :func:`backtest_metrics` joins old scores with the labels that became known and computes the
    training metrics (:mod:`churnml.metrics`) on them, and the levels: mean probability against
    the churn rate, summed predicted value against the value that happened.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd

from churnml import metrics
from churnml.config import Config
from churnml.dataset import Dataset
from churnml.errors import DataError, ProblemError
from churnml.features import AGE_FEATURES, NEVER_DAYS, window_days
from churnml.labels import LABEL_END_TOLERANCE, SEASON_TOLERANCE, build_labels, same_season_cutoff

REFERENCE_VERSION = 1
"""Format version of :func:`reference_statistics` output."""
N_BINS = 10
"""Numeric features are cut at their training deciles."""
PSI_FLOOR = 1e-4
"""Shares below this count as this in PSI, so an empty bin gives a large but finite term."""
MAX_CATEGORIES = 200
"""Categories kept per categorical feature in the reference (the rest are pooled as ``OTHER``)."""
OTHER = "(other)"
NO_HISTORY_FEATURE = "frequency_lifetime"
"""A customer without purchase history has 0 purchases before the cutoff."""
YOUNG_DATA_DAYS = 365.0
"""History before the reference cutoff under which longer windows still fill (the young-data note):
a lifetime window counts as this long, since the note promises its end once a year of data is there."""
HISTORY_AGES = frozenset({"days_since_first_purchase"})
"""Ages counted from the customer's first transaction, which cannot lie before the data's first day:
everyone who bought before the data began reads as a first purchase in its first days, a peak of
ages just under the history's length that moves up by a day a day. Compared as they are, the
reference's bins within the elapsed days of that length are merged into the top one: at the
scoring cutoff no customer there at the reference is in them any more. On generated data (a book of
customers from before the data's start, and sign-ups since), the peak left its bin: monthly scores
for a year after the as-of date read PSI 0.07 rising to 0.51 (0.19 at three months; net of the
elapsed days, the new sign-ups read as a shift instead), merged 0.006 to 0.020. :func:`drift`'s
``history_days`` gives the history's length; without it the bins stay as they are."""

FIRST_PURCHASE_AGE = "days_since_first_purchase"
"""The span of a customer's purchases in the data, which a lifetime sum covers (:func:`grows_with_history`)."""


def grows_with_history(name: str) -> bool:
    """Whether a feature sums or counts over the customer's whole history (``frequency_lifetime``,
    ``monetary_lifetime``, ``complaints_lifetime``: ``…_lifetime``). Such a sum grows with the
    customer's tenure and, for those who were there before the data began, with the data's history:
    it follows the calendar, not the season, and :func:`drift` compares it as the reference's history
    would have it (:func:`as_in_history`)."""
    return name.endswith("_lifetime")


def as_in_history(values: pd.Series | np.ndarray, first_purchase_days: pd.Series | np.ndarray,
                  history_days: float) -> np.ndarray:
    """A lifetime sum as ``history_days`` of data would have it: scaled by ``history_days`` over the
    days since the customer's first purchase, where those are more (a steady rate assumed), else as
    it is. The reference's lifetime sums stop at the data's start, ``history_days`` before its cutoff;
    later, with more history, the sums of every customer who was there before the data began grow by
    the elapsed days' purchases, a shift the data's start makes, not the customers.

    Example
    -------
    >>> as_in_history([24.0, 6.0, 0.0], [730.0, 180.0, np.nan], 640.0).round(2).tolist()
    [21.04, 6.0, 0.0]
    """
    span = pd.to_numeric(pd.Series(np.asarray(first_purchase_days)), errors="coerce").to_numpy(dtype=float)
    share = np.ones_like(span)
    longer = np.isfinite(span) & (span > history_days)
    share[longer] = history_days / span[longer]
    return pd.to_numeric(pd.Series(np.asarray(values)), errors="coerce").to_numpy(dtype=float) * share


MISSING_RATE_ALERT = 0.10
"""A missing rate this much higher than in training is named in the notes."""


# ---------------------------------------------------------------------------------------------
# Reference
# ---------------------------------------------------------------------------------------------


def _numeric_values(column: pd.Series | np.ndarray) -> np.ndarray:
    values = pd.to_numeric(pd.Series(np.asarray(column)), errors="coerce").to_numpy(dtype=float)
    return values[np.isfinite(values)]


def fitted_labels_end(metadata: Mapping[str, Any], as_of: pd.Timestamp | str) -> pd.Timestamp | None:
    """The end of the last label window the models have seen, when scores as of ``as_of``
    predict a period that overlaps it; None otherwise (or when the metadata does not say).

    The final models are fitted on the train and validation cutoffs, and the registered churn
    model's level is then set on the test cutoff's labels (:meth:`ChurnModel.recalibrate`), which
    also decided its promotion. So every window up to the training's as-of date has been seen:
    scores whose horizon starts before it ends are backfills whose outcome the models already
    know in part, and a backtest of them flatters the models.
    """
    cutoffs = metadata.get("cutoffs")
    horizon = metadata.get("horizon_days")
    if not isinstance(cutoffs, Mapping) or not horizon:
        return None
    fitted = [pd.Timestamp(c) for split in ("train", "validation", "test") for c in cutoffs.get(split, [])]
    if not fitted:
        return None
    end = max(fitted) + pd.Timedelta(days=int(horizon))
    return end if pd.Timestamp(as_of) < end else None


DAY_BIN_WIDTH = 7.0
"""Features counted in days (:func:`in_days`) get bins at least a week wide. With no trades at
weekends, "days since the last purchase" is 2+ for everyone on a Monday: deciles a day apart
read that as drift (PSI 0.88 on a Monday against a Friday reference in the demo); week-wide bins
give 0.01, and a real lapse (weeks without purchases) still moves customers across them."""


RATIO_BIN_WIDTH = 0.25
"""Features measured in usual gaps between purchases (:data:`GAP_RATIOS`) get bins at least a
quarter of a gap wide, as day counts get a week, and always edges at 1 and 2 gaps
(:data:`GAP_RATIO_EDGES`: overdue, and a whole gap overdue). Billed monthly on the 1st-3rd,
recency over the usual gap is 0.07-0.13 scored on the 5th and 0.13-0.2 on the 7th; bins a few
hundredths wide read that as PSI 5 at every scoring date of an internet provider's export. A
bill missed (1.5 gaps) still crosses the fixed edges, even where the reference held no one
overdue."""

GAP_RATIOS = frozenset({"recency_vs_usual_gap"})
GAP_RATIO_EDGES = (1.0, 2.0)


MONEY_GAP_RATIO = 0.1
"""Sums of money (:func:`in_money`) get each edge halfway to the next value at least 10 % above
the quantile it stands for, not halfway to the next value: at least 5 % clear of the amounts that
many customers share (a plan's monthly fee, twelve of them a year). A price rise of 5 % from April
made a year's spend 1.2 % higher for everyone a quarter later; edges a few cents above each plan's
total read that as PSI 1.00 on a broadband provider's export, for a mean that moved from 437 to
438. A rise of 10 % or more still crosses them."""

SCORE_GAP_RATIO = MONEY_GAP_RATIO
"""The scores' bins (``churn_probability``, ``predicted_value``) put their edges clear of the values
many customers share, as sums of money do (:data:`MONEY_GAP_RATIO`). A model of a few trees gives
a few hundred distinct probabilities, many customers each: on a gym's export (4 trees, 155 values
among 1,401 test customers) one decile edge fell between two of them 0.05 % apart, and the bin
below it held a single value, 7.1 % of the customers. They moved one leaf up (0.083 to 0.107, a
calendar month's days in the gaps between payments) and the bin emptied: ``churn_probability`` read
PSI 0.45 on the model's first day and 0.24 to 0.45 for three months, where the mean probability
stayed within 0.116 to 0.121 and backtests put it within 7 % of the churn rate (0.15, 0.12, 0.10
and 0.08 with the edges clear). A level 10 % higher for everyone still reads above 0.2."""

MONEY_PREFIXES = ("monetary_", "spend_prev_", "refund_amount_")


def in_money(name: str) -> bool:
    """Whether a feature is a sum of ``amount`` (``monetary_…``, ``spend_prev_…``, ``refund_amount_…``)."""
    return name.startswith(MONEY_PREFIXES)


def in_price_level(name: str) -> bool:
    """Whether a money feature (:func:`in_money`) tells the level of prices: a sum over a window of
    days, not ``monetary_lifetime``. A lifetime sum grows with the data's history and the customers'
    tenure: on a gym's export starting two years back, scored a year after the reference cutoff, its
    median read ×1.51 (a price change, said the warning) while ``monetary_30d`` and ``monetary_90d``
    read ×1.00, every fee unchanged."""
    return in_money(name) and not grows_with_history(name)


def min_bin_width(name: str) -> float:
    """The narrowest drift bin of a feature: :data:`DAY_BIN_WIDTH` for day counts,
    :data:`RATIO_BIN_WIDTH` for ratios of the usual gap, else none (quantiles as they fall)."""
    return DAY_BIN_WIDTH if in_days(name) else RATIO_BIN_WIDTH if name in GAP_RATIOS else 0.0


def in_days(name: str) -> bool:
    """Whether a feature counts days (``days_since_…``, ``…_days``)."""
    return name.startswith("days_since_") or name.endswith("_days")


def _mean(finite: np.ndarray, sentinel: float | None) -> float | None:
    """Mean of the values, leaving out ``sentinel`` ("never happened", :data:`NEVER_DAYS`): the
    mean days since the last complaint of those who complained, not 6,110 from the stand-in."""
    real = finite[finite < sentinel] if sentinel is not None else finite
    return float(real.mean()) if len(real) else None


def numeric_statistics(values: pd.Series | np.ndarray, n_bins: int = N_BINS, min_width: float = 0.0,
                       sentinel: float | None = None, fixed_edges: Sequence[float] = (),
                       min_gap_ratio: float = 0.0) -> dict[str, Any]:
    """Binned summary of one numeric column: edges at its quantiles, shares per bin, missing rate.

    Bins are ``(-inf, e1], (e1, e2], …, (ek, inf)``; repeated quantiles (a spike at 0, say) are
    merged, so a column can have fewer than ``n_bins`` bins.

    Parameters
    ----------
    values : array-like
        The column; NaN and non-numbers count as missing.
    n_bins : int
    min_width : float
        Edges closer than this to the previous one (the first: to the smallest value) are
        dropped, merging their bins.
    sentinel : float, optional
        A stand-in value left out of ``mean`` (it still has its bin).
    fixed_edges : sequence of float
        Edges kept whatever the data (bins may be empty): thresholds a shift across must show.
    min_gap_ratio : float
        Each edge goes halfway to the next value at least this share of the quantile's size above
        it (:data:`MONEY_GAP_RATIO` for money), rather than to the next value: amounts many rows
        share stay clear of the edges by half that share.

    Returns
    -------
    dict
        ``kind`` (``"numeric"``), ``missing_rate``, ``mean``, ``std``, ``median``,
        ``median_nonzero`` (:func:`_median_nonzero`: the money level check's statistic), ``edges``,
        ``bin_shares`` (shares of the non-missing rows; sum to 1). The median is also what
        reasons call typical (:func:`churnml.reasons.typical_values`).

    Example
    -------
    >>> stats = numeric_statistics(np.arange(100.0))
    >>> len(stats["edges"]), round(sum(stats["bin_shares"]), 6)
    (9, 1.0)
    """
    raw = np.asarray(values)
    n = len(raw)
    finite = _numeric_values(raw)
    missing = float(1.0 - len(finite) / n) if n else 0.0
    if len(finite) == 0:
        return {"kind": "numeric", "missing_rate": missing, "mean": None, "std": None, "median": None,
                "median_nonzero": None, "edges": [], "bin_shares": []}
    edges = np.unique(np.quantile(finite, np.linspace(0, 1, n_bins + 1)[1:-1]))
    if min_width > 0:
        kept, last = [], finite.min()
        for edge in edges:
            if edge - last >= min_width:
                kept.append(edge)
                last = edge
        edges = np.asarray(kept, dtype=float)
    # Quantiles land on data values, and repeated amounts (a monthly fee) put many rows exactly on
    # an edge; the same sums computed in another order then differ in the last bit and fall on
    # the other side (PSI 0.41 on the reference's own rows). Halfway to the next value up puts the
    # edges where no row is, with the same rows in every bin (for money, to the next value
    # min_gap_ratio above: see MONEY_GAP_RATIO). An edge at the largest value only closes an
    # empty top bin, and goes.
    values = np.unique(finite)
    above = np.searchsorted(values, edges + min_gap_ratio * np.abs(edges), side="right")
    inside = above < len(values)
    edges = np.unique((edges[inside] + values[above[inside]]) / 2.0)
    if len(fixed_edges):
        # Quantile edges within half a bin of a fixed one would leave a sliver: they go.
        keep = [e for e in edges if all(abs(e - f) >= min_width / 2 for f in fixed_edges)]
        edges = np.unique(np.asarray([*keep, *fixed_edges], dtype=float))
    counts = np.bincount(np.searchsorted(edges, finite, side="left"), minlength=len(edges) + 1)
    return {
        "kind": "numeric",
        "missing_rate": missing,
        "mean": _mean(finite, sentinel),
        "std": float(finite.std()),
        "median": float(np.median(finite)),
        "median_nonzero": _median_nonzero(finite),
        "edges": edges.tolist(),
        "bin_shares": (counts / counts.sum()).tolist(),
    }


def categorical_statistics(values: pd.Series | np.ndarray, max_categories: int = MAX_CATEGORIES) -> dict[str, Any]:
    """Share of each category (of the non-missing rows) and the missing rate.

    Example
    -------
    >>> categorical_statistics(pd.Series(["a", "a", "b", None]))["shares"]
    {'a': 0.6666666666666666, 'b': 0.3333333333333333}
    """
    column = pd.Series(np.asarray(values, dtype=object))
    n = len(column)
    present = column.dropna().astype(str)
    missing = float(1.0 - len(present) / n) if n else 0.0
    shares = present.value_counts(normalize=True)
    if len(shares) > max_categories:
        shares = pd.concat([shares.iloc[:max_categories], pd.Series({OTHER: shares.iloc[max_categories:].sum()})])
    return {"kind": "categorical", "missing_rate": missing, "shares": {str(k): float(v) for k, v in shares.items()}}


def _median_nonzero(finite: np.ndarray) -> float | None:
    """Median of the non-zero values (None without any): the level of a sum of money among the
    customers who spent, not the 0 of a 30-day window most of them left empty."""
    nonzero = finite[finite != 0]
    return float(np.median(nonzero)) if len(nonzero) else None


def _sentinel(name: str) -> float | None:
    """The "never happened" stand-in a feature may hold (:data:`NEVER_DAYS` for day counts)."""
    return NEVER_DAYS if in_days(name) else None


def feature_statistics(frame: pd.DataFrame, feature_names: Sequence[str], categorical: Sequence[str]) -> dict[str, dict]:
    """:func:`numeric_statistics` or :func:`categorical_statistics` of every feature."""
    categorical = set(categorical)
    return {
        name: categorical_statistics(frame[name]) if name in categorical
        else numeric_statistics(frame[name], min_width=min_bin_width(name), sentinel=_sentinel(name),
                                fixed_edges=GAP_RATIO_EDGES if name in GAP_RATIOS else (),
                                min_gap_ratio=MONEY_GAP_RATIO if in_money(name) else 0.0)
        for name in feature_names
    }


MIN_RATIO_CUSTOMERS = 50
"""Customers a level of an attribute (or a numeric attribute's bin) must hold among the training rows
for its churn ratio to be kept (:func:`churn_ratios`): a level of a few customers, two of whom left,
would read "where churn runs 6.0× the average" from chance."""


def churn_ratios(values: pd.Series | np.ndarray, churned: np.ndarray, customers: np.ndarray,
                 stats: Mapping[str, Any]) -> dict[str, float] | list[float | None]:
    """How much more (or less) the customers of each level of an attribute churned than all of them:
    the share of the level's customers who churned (at any of their cutoffs) over that share of all
    customers, what an attribute's reason says (:func:`churnml.reasons.attribute_churn`). Customers
    are counted once, as :func:`churn_counts` and the rule that says the figure
    (:func:`churnml.reasons.clearly_above`) count them; references written before this rule hold the
    ratio of the rows' rates (a churner once per labelled cutoff), which their models keep saying.

    Parameters
    ----------
    values : array-like
        The attribute on the training rows (one per customer and cutoff).
    churned : ndarray
        Their churn labels (0/1).
    customers : ndarray
        Their customer ids: a level's ratio is kept where it holds at least
        :data:`MIN_RATIO_CUSTOMERS` customers, however many cutoffs repeat them.
    stats : mapping
        The attribute's reference statistics (:func:`categorical_statistics`,
        :func:`numeric_statistics`): a categorical's levels are those of ``values``, a number's bins
        those of ``stats["edges"]``.

    Returns
    -------
    dict or list
        Categorical: level -> ratio, for the levels with enough customers. Numeric: one ratio per
        bin of ``stats["edges"]`` (None for a bin with too few customers).

    Example
    -------
    >>> ids = np.arange(200)
    >>> churn_ratios(np.repeat(["a", "b"], 100), np.r_[np.ones(30), np.zeros(170)], ids, {"kind": "categorical"})
    {'a': 2.0, 'b': 0.0}
    """
    return churn_figures(values, churned, customers, stats)[0]


def churn_counts(values: pd.Series | np.ndarray, churned: np.ndarray, customers: np.ndarray,
                 stats: Mapping[str, Any]) -> dict[str, dict[str, int]] | list[dict[str, int] | None]:
    """Beside each ratio of :func:`churn_ratios`, in the same shape: how many customers the level
    holds and how many of them churned (at any of their cutoffs), for the reason to say its ratio
    only where chance alone would rarely give it (:func:`churnml.reasons.attribute_churn`).

    Customers, not rows: a churner is labelled at every cutoff within a horizon of leaving (three,
    30 days apart, for a 90-day horizon), so rows would count one departure up to three times and make
    the rate look surer than it is.

    Example
    -------
    >>> ids = np.r_[np.arange(100), np.arange(100, 200)]
    >>> churn_counts(np.repeat(["a", "b"], 100), np.r_[np.ones(30), np.zeros(170)], ids, {"kind": "categorical"})
    {'a': {'customers': 100, 'churners': 30}, 'b': {'customers': 100, 'churners': 0}}
    """
    return churn_figures(values, churned, customers, stats)[1]


def churn_figures(values: pd.Series | np.ndarray, churned: np.ndarray, customers: np.ndarray,
                  stats: Mapping[str, Any], average: Mapping[str, int] | None = None) -> tuple[dict | list, dict | list]:
    """:func:`churn_ratios` and :func:`churn_counts` from one grouping of the training rows, as the
    reference keeps both for every attribute (:func:`reference_statistics`); ``average`` is
    :func:`customer_churn` of the rows, where the caller has it already."""
    churned = np.asarray(churned, dtype=float)
    # Customers, as the counts and the rule that says the figure (clearly_above) count them: per row,
    # a churner labelled at three cutoffs before leaving weighs three times, and "partner" read 1.3×
    # where its customers churned 1.2× as often as all customers (5,000 generated, seed 7).
    average = average or customer_churn(churned, customers)
    if not average["churners"]:
        return _per_level({}, stats), _per_level({}, stats)
    rate = average["churners"] / average["customers"]
    grouped = _churn_groups(values, churned, customers, stats)
    return (_per_level({key: int(row.churners) / int(row.customers) / rate for key, row in grouped.iterrows()}, stats),
            _per_level({key: {"customers": int(row.customers), "churners": int(row.churners)}
                        for key, row in grouped.iterrows()}, stats))


def customer_churn(churned: np.ndarray, customers: np.ndarray) -> dict[str, int]:
    """How many customers the training rows hold and how many of them churned (at any cutoff):
    the average :func:`churn_counts`' levels are compared with.

    >>> customer_churn(np.array([1, 0, 0, 0]), np.array(["a", "a", "b", "c"]))
    {'customers': 3, 'churners': 1}
    """
    ids = pd.Series(np.asarray(customers))
    return {"customers": int(ids.nunique()), "churners": int(ids[np.asarray(churned, dtype=float) > 0].nunique())}


def _churn_groups(values: pd.Series | np.ndarray, churned: np.ndarray, customers: np.ndarray,
                  stats: Mapping[str, Any]) -> pd.DataFrame:
    """Per level (a categorical's value, a number's bin index) with at least
    :data:`MIN_RATIO_CUSTOMERS` customers: its ``customers`` and its ``churners`` (customers
    churned at any cutoff)."""
    if stats.get("kind") == "categorical":
        column = pd.Series(np.asarray(values, dtype=object))
        present = column.notna().to_numpy()
        keys = column[present].astype(str).to_numpy()
    else:
        finite = np.asarray(pd.to_numeric(pd.Series(np.asarray(values, dtype=object)), errors="coerce"), dtype=float)
        present = np.isfinite(finite)
        # The bins numeric_statistics counts (side="left": a value on an edge is in the bin below it).
        keys = np.searchsorted(np.asarray(stats.get("edges") or [], dtype=float), finite[present], side="left")
    ids = np.asarray(customers)[present]
    rows = pd.DataFrame({"key": keys, "customer": ids, "churner": np.where(churned[present] > 0, ids, None)})
    grouped = rows.groupby("key", sort=True).agg(customers=("customer", "nunique"), churners=("churner", "nunique"))
    return grouped[grouped["customers"] >= MIN_RATIO_CUSTOMERS]


def _per_level(kept: Mapping[Any, Any], stats: Mapping[str, Any]) -> dict[str, Any] | list[Any]:
    """``kept`` (level key -> figure) as the reference stores it: by level name for a categorical,
    one per bin of ``stats["edges"]`` for a number (None where a bin has none)."""
    if stats.get("kind") == "categorical":
        return {str(key): figure for key, figure in kept.items()}
    return [kept.get(b) for b in range(len(stats.get("edges") or []) + 1)]


def share_without_history(features: pd.DataFrame) -> float | None:
    """Share of rows with no purchase before the cutoff (None when the feature is absent)."""
    if NO_HISTORY_FEATURE not in features.columns or len(features) == 0:
        return None
    purchases = pd.to_numeric(features[NO_HISTORY_FEATURE], errors="coerce").fillna(0).to_numpy(dtype=float)
    return float(np.mean(purchases <= 0))


def reference_statistics(
    features: pd.DataFrame,
    feature_names: Sequence[str],
    categorical: Sequence[str],
    scores: Mapping[str, np.ndarray] | None = None,
    as_of: pd.Timestamp | str | None = None,
    seasons: pd.DataFrame | None = None,
    data_start: pd.Timestamp | str | None = None,
    season_tolerance_days: float | None = None,
    training_rows: pd.DataFrame | None = None,
    attributes: Sequence[str] = (),
) -> dict[str, Any]:
    """What scoring compares against: test-cutoff features and scores, summarised, and the
    features of the other training cutoffs, each summarised alone (``seasons``); and what an
    attribute's reason says of its level: how much more its customers churned (``churn_ratio``).

    Parameters
    ----------
    features : pandas.DataFrame
        The rows of the test cutoff (the training pipeline's choice; any population works).
    feature_names, categorical : sequence of str
        Feature columns and which of them are categorical.
    scores : mapping, optional
        ``churn_probability`` and ``predicted_value`` on the test cutoff.
    as_of : Timestamp or str, optional
        The training as-of date (for the model's age).
    seasons : pandas.DataFrame, optional
        The rows of the other training cutoffs (with their ``cutoff`` column). Scores as of a date
        a year after one of them are compared with it (:func:`drift`): the same season.
    data_start : Timestamp or str, optional
        The data's first transaction: a cutoff with less than a year of data before it is not a
        season's reference (:func:`churnml.labels.same_season_cutoff`).
    season_tolerance_days : float, optional
        How far from a year before the scored date a season's cutoff may lie: half the cutoff step
        (:func:`churnml.labels.season_tolerance`). Without it, :data:`churnml.labels.SEASON_TOLERANCE`.
    training_rows : pandas.DataFrame, optional
        The rows the models were fitted on, with ``churned`` and ``customer_id``: each of
        ``attributes`` gets its ``churn_ratio`` (:func:`churn_ratios`) and ``churn_counts``
        (:func:`churn_counts`) from them, and the reference ``training_churn`` (:func:`customer_churn`).
    attributes : sequence of str
        The features that copy a customers column (their reasons quote its value).

    Returns
    -------
    dict
        JSON-ready: ``version``, ``as_of``, ``rows``, ``share_without_history``, ``features``
        (name -> statistics; an attribute's with ``churn_ratio`` and ``churn_counts`` where
        ``training_rows`` are given), ``scores`` (name -> numeric statistics), ``seasons`` (cutoff ->
        ``rows``, ``features``), ``data_start``, ``season_tolerance_days`` and ``training_churn``
        (None without ``training_rows``).

    Example
    -------
    >>> ref = reference_statistics(frame, ["tenure_days"], [], {"churn_probability": p}, "2025-06-30")  # doctest: +SKIP
    """
    statistics = feature_statistics(features, feature_names, categorical)
    training_churn = None
    if training_rows is not None and len(training_rows):
        churned = training_rows["churned"].to_numpy(dtype=float)
        customers = training_rows["customer_id"].to_numpy()
        training_churn = customer_churn(churned, customers)
        for name in attributes:
            if name in statistics:
                statistics[name]["churn_ratio"], statistics[name]["churn_counts"] = churn_figures(
                    training_rows[name], churned, customers, statistics[name], training_churn)
    return {
        "version": REFERENCE_VERSION,
        "as_of": None if as_of is None else f"{pd.Timestamp(as_of):%Y-%m-%d}",
        "cutoff": _cutoff(features),
        "rows": int(len(features)),
        "share_without_history": share_without_history(features),
        "features": statistics,
        "scores": {name: numeric_statistics(values, min_gap_ratio=SCORE_GAP_RATIO) for name, values in (scores or {}).items()},
        "seasons": {
            f"{pd.Timestamp(cutoff):%Y-%m-%d}": {"rows": int(len(rows)),
                                                 "features": feature_statistics(rows, feature_names, categorical)}
            for cutoff, rows in (seasons.groupby("cutoff", sort=True) if seasons is not None and len(seasons) else [])
        },
        "data_start": None if data_start is None else f"{pd.Timestamp(data_start):%Y-%m-%d}",
        "season_tolerance_days": None if season_tolerance_days is None else float(season_tolerance_days),
        "training_churn": training_churn,
    }


def season_reference(reference: Mapping[str, Any], scored: pd.Timestamp | str | None) -> str | None:
    """The cutoff a year before ``scored`` whose features the reference keeps
    (``seasons``), or None: the cutoff :func:`churnml.labels.same_season_cutoff` picks, the one
    whose windows (the 90 days before it and the 90 before those) saw the same months, within
    half a cutoff step (the reference's ``season_tolerance_days``). The seasons are the training
    cutoffs but the test one, and the cutoffs that fill the gaps between the splits
    (:func:`churnml.labels.season_cutoffs`), so that every score within the model's life finds one.

    The test cutoff lies a horizon before the training as-of date, so it is a season away from
    the scores' dates; features over a quarter and its change on the quarter before
    (``frequency_trend``, ``spend_trend_pct``) follow the season, and read as drift against it
    on generated data whose behaviour never changes (PSI 0.23 to 0.34 at the training as-of date,
    against 0.01 to 0.03 a year before, in generated samples of 2,000 and 3,000 customers).
    """
    kept = reference.get("seasons") or {}
    if scored is None or not kept:
        return None
    found = recorded_season_cutoff(reference, [pd.Timestamp(c) for c in kept], pd.Timestamp(scored))
    return None if found is None else f"{found:%Y-%m-%d}"


def recorded_season_cutoff(reference: Mapping[str, Any], cutoffs: Sequence[pd.Timestamp],
                           scored: pd.Timestamp) -> pd.Timestamp | None:
    """The cutoff among ``cutoffs`` of the season of ``scored`` by the rule the models were trained
    with (:func:`churnml.labels.same_season_cutoff`): within the reference's ``season_tolerance_days``
    (half the cutoff step; :data:`churnml.labels.SEASON_TOLERANCE` for references that predate it),
    with a year of data before it (``data_start``). The value level's cutoff is chosen by the same rule
    (:func:`churnml.train.value_level_cutoff`)."""
    start, tolerance = reference.get("data_start"), reference.get("season_tolerance_days")
    return same_season_cutoff(cutoffs, pd.Timestamp(scored),
                              SEASON_TOLERANCE if tolerance is None else pd.Timedelta(days=float(tolerance)),
                              data_start=None if start is None else pd.Timestamp(start))


def _cutoff(features: pd.DataFrame) -> str | None:
    """The (latest) cutoff of a feature table, as YYYY-MM-DD; None without a ``cutoff`` column."""
    if "cutoff" not in features.columns or features.empty:
        return None
    return f"{pd.Timestamp(features['cutoff'].max()):%Y-%m-%d}"


# ---------------------------------------------------------------------------------------------
# Drift
# ---------------------------------------------------------------------------------------------


def psi(expected: np.ndarray | Sequence[float], actual: np.ndarray | Sequence[float], floor: float = PSI_FLOOR) -> float:
    """Population stability index between two share vectors over the same bins.

    Example
    -------
    >>> psi([0.5, 0.5], [0.5, 0.5])
    0.0
    >>> round(psi([0.5, 0.5], [0.9, 0.1]), 3)
    0.879
    """
    e = np.maximum(np.asarray(expected, dtype=float), floor)
    a = np.maximum(np.asarray(actual, dtype=float), floor)
    return float(np.sum((a - e) * np.log(a / e)))


def _numeric_drift(reference: Mapping[str, Any], values: pd.Series | np.ndarray, sentinel: float | None = None,
                   merge_above: float | None = None) -> dict[str, Any]:
    """PSI and missing rates of ``values`` in the reference's bins; ``merge_above``: the reference
    edges above it are dropped, their bins merged into the top one (see :data:`HISTORY_AGES`)."""
    raw = np.asarray(values)
    finite = _numeric_values(raw)
    missing = float(1.0 - len(finite) / len(raw)) if len(raw) else 0.0
    edges = np.asarray(reference.get("edges") or [], dtype=float)
    ref_missing = float(reference.get("missing_rate") or 0.0)
    ref_shares = np.asarray(reference.get("bin_shares") or [], dtype=float)
    if merge_above is not None and len(ref_shares) == len(edges) + 1:
        kept = int(np.searchsorted(edges, merge_above, side="right"))  # edges are sorted
        edges, ref_shares = edges[:kept], np.append(ref_shares[:kept], ref_shares[kept:].sum())
    if len(ref_shares) == 0:  # the feature was always missing in training
        expected, actual = [ref_missing, 1.0 - ref_missing], [missing, 1.0 - missing]
    else:
        counts = np.bincount(np.searchsorted(edges, finite, side="left"), minlength=len(edges) + 1)
        current = counts / counts.sum() if counts.sum() else np.zeros(len(counts))
        expected = np.append(ref_shares * (1.0 - ref_missing), ref_missing)
        actual = np.append(current * (1.0 - missing), missing)
    return {
        "psi": psi(expected, actual),
        "missing_rate_reference": ref_missing,
        "missing_rate": missing,
        "mean_reference": reference.get("mean"),
        "mean": _mean(finite, sentinel),
        "new_categories": [],
    }


def _categorical_drift(reference: Mapping[str, Any], values: pd.Series | np.ndarray) -> dict[str, Any]:
    current = categorical_statistics(values, max_categories=10**9)
    ref_shares: dict[str, float] = dict(reference.get("shares") or {})
    ref_missing = float(reference.get("missing_rate") or 0.0)
    missing = current["missing_rate"]
    known = set(ref_shares)
    new = sorted(k for k in current["shares"] if k not in known)
    pooled = dict(current["shares"])
    if OTHER in known:  # categories pooled in the reference are not new, just pooled
        pooled = {k: v for k, v in pooled.items() if k in known and k != OTHER}
        pooled[OTHER] = sum(v for k, v in current["shares"].items() if k not in pooled)
        new = []
    levels = sorted(set(ref_shares) | set(pooled))
    expected = [ref_shares.get(k, 0.0) * (1.0 - ref_missing) for k in levels] + [ref_missing]
    actual = [pooled.get(k, 0.0) * (1.0 - missing) for k in levels] + [missing]
    return {
        "psi": psi(expected, actual),
        "missing_rate_reference": ref_missing,
        "missing_rate": missing,
        "mean_reference": None,
        "mean": None,
        "new_categories": new,
        "new_category_share": float(sum(current["shares"][k] for k in new) * (1.0 - missing)),
    }


@dataclass(frozen=True)
class DriftReport:
    """Drift of one scored population against the training reference (see the module docs).

    Attributes
    ----------
    features : pandas.DataFrame
        One row per feature, worst PSI first: ``feature``, ``kind``, ``psi``,
        ``missing_rate_reference``, ``missing_rate``, ``new_categories`` (list), ``reference``
        (the cutoff it was compared with: :attr:`season_cutoff` or :attr:`reference_cutoff`), ``drifted``.
    scores : dict
        ``churn_probability`` / ``predicted_value`` -> ``psi``, ``mean_reference``, ``mean``,
        ``drifted``.
    share_without_history : dict
        ``reference`` and ``current`` share of customers without purchase history.
    model_age_days : int or None
        Days from the training as-of date to the scoring as-of date.
    psi_threshold : float
    max_model_age_days : int
    drifted : bool
        Any PSI above the threshold, a money level beyond its ratio, or the model too old.
    alerts : list of str
        Why ``drifted`` is true, one sentence each.
    notes : list of str
        Worth knowing but not drift by itself: new categories, missing rates up.
    """

    features: pd.DataFrame
    scores: dict[str, dict[str, Any]]
    share_without_history: dict[str, float | None]
    model_age_days: int | None
    psi_threshold: float
    max_model_age_days: int
    drifted: bool
    alerts: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    reference_cutoff: str | None = None
    """The training's test cutoff, whose customers are the reference (YYYY-MM-DD)."""
    season_cutoff: str | None = None
    """The cutoff a year before the scores' date (a training cutoff, or one filling a gap between the
    splits), whose customers the features other than ages and lifetime sums were compared with (:func:`season_reference`; YYYY-MM-DD), or None: all with the test cutoff."""
    reference_history_days: float | None = None
    """Days of transaction history the data held before the reference cutoff (None: unknown)."""
    money_levels: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Money features over a window (:func:`in_price_level`) and ``predicted_value`` -> ``median_nonzero_reference``,
    ``median_nonzero``, ``ratio``, ``reference`` (the cutoff compared with), ``drifted`` (the ratio
    beyond :attr:`money_level_ratio` either way). Empty for references from before the statistic."""
    money_level_ratio: float = 1.5
    short_history: list[str] = field(default_factory=list)
    """Drifted features counted over a window longer than :attr:`reference_history_days`, when that
    is under a year (``frequency_365d``, ``monetary_lifetime`` …): they grow as the data's history does.
    Lifetime sums compared as the reference's history would have them (:func:`as_in_history`) are not
    among them: their history's growth is taken out."""
    rows_checked: int | None = None
    """Scored customers the check saw: every one on the DuckDB path, at most ``[monitoring]
    drift_sample_rows`` of them (a uniform sample) with ``--engine spark``."""

    def worst_features(self, n: int = 5, above: float | None = None) -> list[str]:
        """See :func:`worst_features`."""
        return worst_features(self, n, above)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (the ``monitoring`` section of a scores sidecar)."""
        rows = []
        for row in self.features.to_dict(orient="records"):
            rows.append({k: (None if isinstance(v, float) and not np.isfinite(v) else v) for k, v in row.items()})
        return {
            "drifted": self.drifted,
            "psi_threshold": self.psi_threshold,
            "max_model_age_days": self.max_model_age_days,
            "model_age_days": self.model_age_days,
            "alerts": list(self.alerts),
            "notes": list(self.notes),
            "worst_features": self.worst_features(),
            "share_without_history": dict(self.share_without_history),
            "reference_cutoff": self.reference_cutoff,
            "season_cutoff": self.season_cutoff,
            "reference_history_days": self.reference_history_days,
            "short_history": list(self.short_history),
            "rows_checked": self.rows_checked,
            "money_level_ratio": self.money_level_ratio,
            "money_levels": self.money_levels,
            "scores": self.scores,
            "features": rows,
        }


def drift(
    reference: Mapping[str, Any],
    features: pd.DataFrame,
    scores: pd.DataFrame | Mapping[str, np.ndarray] | None = None,
    as_of: pd.Timestamp | str | None = None,
    config: Config | None = None,
    history_days: float | None = None,
    windows: Mapping[str, float] | None = None,
) -> DriftReport:
    """Compare a scored population with the training reference.

    Parameters
    ----------
    reference : mapping
        From :func:`reference_statistics` (``LoadedModels.monitoring_reference``).
    features : pandas.DataFrame
        The scored population's feature table (:func:`churnml.labels.build_scoring_frame`).
    scores : DataFrame or mapping, optional
        ``churn_probability`` and ``predicted_value`` of the same customers.
    as_of : Timestamp or str, optional
        The scoring as-of date; with the reference's ``as_of`` it gives the model's age.
    config : Config, optional
        ``[monitoring] psi_threshold`` and ``max_model_age_days``.
    history_days : float, optional
        Days of transaction history before the reference cutoff (:func:`reference_history_days`):
        lifetime sums are compared as that much history would have them (:func:`as_in_history`, by
        the scored ``days_since_first_purchase``), and other drifted features over a longer window
        (a lifetime one: while it is under a year, :data:`YOUNG_DATA_DAYS`) are named in
        :attr:`DriftReport.short_history`. Without it, lifetime sums are compared as they are.
    windows : mapping, optional
        Feature name -> days its window reaches back (:func:`feature_window_days`); without it,
        or ``history_days``, no feature is named so.

    Returns
    -------
    DriftReport

    Example
    -------
    >>> report = drift(models.monitoring_reference, features, scores, "2025-12-01")  # doctest: +SKIP
    >>> report.drifted, report.worst_features(3)  # doctest: +SKIP
    (True, ['tenure_days', 'monetary_90d', 'complaints_30d'])
    """
    settings = (config or Config()).monitoring
    threshold = float(settings.psi_threshold)
    rows = []
    notes: list[str] = []
    on_history: set[str] = set()  # lifetime sums put on the reference's history: the history's growth is out of them
    # Ages grow by one a day for everyone: scored 90 days after the reference cutoff (as the
    # champion usually is: its reference is the test cutoff, a horizon before its as-of date),
    # every customer is 90 days older, a shift that says nothing about the population and would
    # fire on every run. They are compared net of those days too (below).
    scored_cutoff = _cutoff(features)
    aged = 0
    if reference.get("cutoff") and scored_cutoff:
        aged = (pd.Timestamp(scored_cutoff) - pd.Timestamp(reference["cutoff"])).days
    # Scored a year after a training cutoff, the features are compared with that cutoff's: the
    # same season (see season_reference). Ages and lifetime sums stay with the test cutoff, the
    # nearest in time: they follow the calendar, not the season (a year back, a growing book's first
    # purchases read as PSI 0.28-0.44 on generated data at the as-of date, 0.06-0.07 against the test
    # cutoff; a gym's lifetime payments, with half the history behind them, 1.47 on its first day).
    season = season_reference(reference, scored_cutoff or as_of)
    in_season = ((reference.get("seasons") or {}).get(season) or {}).get("features") or {}
    for name, stats in (reference.get("features") or {}).items():
        if name not in features.columns:
            notes.append(f"{name} is missing from the scored features.")
            continue
        compared_with = reference.get("cutoff")
        if name not in AGE_FEATURES and not grows_with_history(name) and name in in_season:
            stats, compared_with = in_season[name], season
        if stats.get("kind") == "categorical":
            measured = _categorical_drift(stats, features[name])
        else:
            # As they are, ages from the first purchase with the bins the data's start cuts off merged.
            merged = history_days - aged if name in HISTORY_AGES and history_days is not None and aged > 0 else None
            values = features[name]
            if grows_with_history(name) and history_days is not None and FIRST_PURCHASE_AGE in features.columns:
                values = as_in_history(values, features[FIRST_PURCHASE_AGE], history_days)
                on_history.add(name)
            measured = _numeric_drift(stats, values, _sentinel(name), merge_above=merged)
            if name in AGE_FEATURES and aged:
                # Net of the elapsed days, or as they are, whichever is closer: a closed group of
                # customers ages by those days; a population with steady sign-ups keeps its ages
                # (net of them, its newest customers read as a shift: 0.36 against 0.03 as they are).
                net = _numeric_drift(stats, features[name] - aged, _sentinel(name))
                measured = min(measured, net, key=lambda m: m["psi"])
        rows.append({"feature": name, "kind": stats.get("kind", "numeric"), **measured, "reference": compared_with})
        if measured["new_categories"]:
            shown = ", ".join(measured["new_categories"][:5]) + (" …" if len(measured["new_categories"]) > 5 else "")
            notes.append(f"{name} has categories unseen in training ({measured['new_category_share']:.1%} of customers): {shown}.")
        if measured["missing_rate"] - measured["missing_rate_reference"] > MISSING_RATE_ALERT:
            notes.append(
                f"{name} is missing for {measured['missing_rate']:.1%} of customers "
                f"(training: {measured['missing_rate_reference']:.1%})."
            )
    columns = ["feature", "kind", "psi", "missing_rate_reference", "missing_rate", "mean_reference", "mean", "new_categories",
               "reference"]
    table = pd.DataFrame([{c: r.get(c) for c in columns} for r in rows], columns=columns)
    table["drifted"] = table["psi"].astype(float) > threshold
    table = table.sort_values(["psi", "feature"], ascending=[False, True], kind="mergesort").reset_index(drop=True)

    score_drift: dict[str, dict[str, Any]] = {}
    if scores is not None:
        for name, stats in (reference.get("scores") or {}).items():
            if name in scores:
                measured = _numeric_drift(stats, np.asarray(scores[name], dtype=float))
                score_drift[name] = {
                    "psi": measured["psi"], "mean_reference": measured["mean_reference"], "mean": measured["mean"],
                    "drifted": measured["psi"] > threshold,
                }

    money_ratio = float(settings.money_level_ratio)
    levels = money_levels(reference, features, scores, season, in_season, money_ratio)

    age = None
    if as_of is not None and reference.get("as_of"):
        age = int((pd.Timestamp(as_of) - pd.Timestamp(reference["as_of"])).days)

    alerts: list[str] = []
    drifted_features = table.loc[table["drifted"]]
    if len(drifted_features):
        shown = ", ".join(f"{r.feature} (PSI {r.psi:.2f}{_missing_moved(r)})" for r in drifted_features.head(5).itertuples())
        more = f" and {len(drifted_features) - 5} more" if len(drifted_features) > 5 else ""
        why = (" A feature is missing where the customer lacks the history it needs (no purchase yet, or only one) or "
               "the column is blank: look at the number of new customers, or at blanks in the feed."
               if any(_missing_moved(r) for r in drifted_features.head(5).itertuples()) else "")
        alerts.append(f"{len(drifted_features)} feature(s) shifted beyond PSI {threshold:g}: {shown}{more}.{why}")
    for name, values in score_drift.items():
        if values["drifted"]:
            alerts.append(f"{name} shifted beyond PSI {threshold:g} (PSI {values['psi']:.2f}).")
    if any(v["drifted"] for v in levels.values()):
        alerts.append(money_level_alert(levels, money_ratio))
    if age is not None and age > settings.max_model_age_days:
        alerts.append(
            f"The model is {age} day{'s' if age != 1 else ''} old (trained as of {reference['as_of']}), "
            f"older than max_model_age_days={settings.max_model_age_days}; retrain it."
        )
    short = [name for name in drifted_features["feature"] if name not in on_history
             and history_days is not None and min((windows or {}).get(name, 0.0), YOUNG_DATA_DAYS) > history_days]
    return DriftReport(
        features=table,
        scores=score_drift,
        share_without_history={"reference": reference.get("share_without_history"), "current": share_without_history(features)},
        model_age_days=age,
        psi_threshold=threshold,
        max_model_age_days=int(settings.max_model_age_days),
        drifted=bool(alerts),
        alerts=alerts,
        notes=notes,
        reference_cutoff=reference.get("cutoff"),
        season_cutoff=season,
        reference_history_days=history_days,
        short_history=short,
        money_levels=levels,
        money_level_ratio=money_ratio,
        rows_checked=int(len(features)),
    )


def money_levels(reference: Mapping[str, Any], features: pd.DataFrame,
                 scores: pd.DataFrame | Mapping[str, np.ndarray] | None, season: str | None,
                 in_season: Mapping[str, Any], ratio: float) -> dict[str, dict[str, Any]]:
    """The level of each money feature over a window (:func:`in_price_level`) and of ``predicted_value``: the median
    among customers with a non-zero value, against the reference's (the same season's, where
    :func:`drift` compares with it). PSI on deciles of heavy-tailed spend barely reacts to a change
    of scale (every amount doubled: PSI 0.14 at most), and that change makes the value model's
    money figures wrong. ``in_season``: the statistics of the ``season`` cutoff's features, as :func:`drift`
    picked them. Features whose reference lacks ``median_nonzero`` (older models) are left out."""
    columns: list[tuple[str, Mapping[str, Any], Any, str | None]] = []
    for name, stats in (reference.get("features") or {}).items():
        if in_price_level(name) and name in features.columns:
            if name in in_season:
                columns.append((name, in_season[name], features[name], season))
            else:
                columns.append((name, stats, features[name], reference.get("cutoff")))
    score_stats = (reference.get("scores") or {}).get("predicted_value")
    if scores is not None and score_stats is not None and "predicted_value" in scores:
        columns.append(("predicted_value", score_stats, scores["predicted_value"], reference.get("cutoff")))
    levels: dict[str, dict[str, Any]] = {}
    for name, stats, values, compared_with in columns:
        then = stats.get("median_nonzero")
        now = _median_nonzero(_numeric_values(values))
        if then is None or now is None or then <= 0 or now <= 0:
            continue
        change = now / then
        levels[name] = {"median_nonzero_reference": float(then), "median_nonzero": now, "ratio": change,
                        "reference": compared_with, "drifted": bool(change > ratio or change < 1.0 / ratio)}
    return levels


UNIT_FACTORS = (100.0, 1000.0)
"""Factors between units of money a feed may switch to (cents and units, thousands): a level this
many times higher or lower, within :data:`UNIT_FACTOR_SLACK`, reads as a change of unit."""
UNIT_FACTOR_SLACK = 1.5


def money_level_alert(levels: Mapping[str, Mapping[str, Any]], ratio: float) -> str:
    """The warning for money levels beyond ``ratio``: what moved (the furthest level, named with its
    ratio and medians, then the others), and the causes in plain words: a price change, or a currency
    or unit change in the feed (cents for units reads ×100). A PSI's "check the data feed for these
    columns" said nothing of either."""
    moved = sorted(((n, v) for n, v in levels.items() if v["drifted"]), key=lambda item: -abs(np.log(item[1]["ratio"])))
    name, worst = moved[0]
    change = worst["ratio"]
    direction = f"{change - 1:.0%} above" if change > 1 else f"{1 - change:.0%} below"
    others = ", ".join(f"{n} ×{v['ratio']:.2f}" for n, v in moved[1:5]) + (" …" if len(moved) > 5 else "")
    also = f"; also {others}" if others else ""
    factor = max(change, 1.0 / change)
    unit = next((f" A factor near {f:g} looks like a change of unit{' (cents against units)' if f == 100 else ''}."
                 for f in UNIT_FACTORS if f / UNIT_FACTOR_SLACK <= factor <= f * UNIT_FACTOR_SLACK), "")
    return (f"Money level of {name} ×{change:.2f} against the reference ({direction}: median among customers with a "
            f"non-zero value {worst['median_nonzero']:,.2f} against {worst['median_nonzero_reference']:,.2f}, beyond "
            f"[monitoring] money_level_ratio {ratio:g}{also}). Likely causes: a price change, or a currency or unit change "
            f"in the feed (amounts in cents where they were in units, or another currency).{unit} If the feed changed, "
            "fix it and score again; if prices changed, the value model's money figures (predicted value, value at risk, "
            "expected benefit) are off: retrain on data after the change.")


def feature_window_days(metadata: Mapping[str, Any]) -> dict[str, float]:
    """Feature name -> days its window reaches back before the cutoff, from the specs the models
    record (``metadata.json``'s ``specs``; :func:`churnml.features.window_days`).

    The windows used to be read from the names (``_365d``), which took ``spend_prev_90d`` (days
    91-180) for 90 days and a customers column named ``visits_365d`` for a year of transactions.
    Every model that records ``history_days`` (which the young-data note needs) records its specs,
    windows included; a model without them gets no note."""
    return {spec["name"]: window_days(spec.get("window")) for spec in metadata.get("specs") or [] if spec.get("name")}


def reference_history_days(metadata: Mapping[str, Any]) -> float | None:
    """Days of transaction history before the models' test cutoff, the drift reference: the
    history before the first training cutoff plus the days from it to the test cutoff (None when
    the models do not record it)."""
    history = metadata.get("history_days")
    cutoffs = metadata.get("cutoffs") or {}
    dates = [pd.Timestamp(c) for split in cutoffs.values() for c in split]
    if history is None or not cutoffs.get("test") or not dates:
        return None
    return float(history) + (pd.Timestamp(cutoffs["test"][-1]) - min(dates)).days


def worst_features(report: DriftReport | Mapping[str, Any], n: int = 5, above: float | None = None) -> list[str]:
    """The features with the highest PSI, worst first.

    Parameters
    ----------
    report : DriftReport or mapping
        A report, or its :meth:`DriftReport.to_dict` form (a sidecar's ``monitoring`` section).
    n : int
        At most this many.
    above : float, optional
        Only features whose PSI exceeds this.

    Returns
    -------
    list of str

    Example
    -------
    >>> worst_features({"features": [{"feature": "a", "psi": 0.05}, {"feature": "b", "psi": 0.4}]}, n=1)
    ['b']
    """
    if isinstance(report, DriftReport):
        rows = report.features[["feature", "psi"]].to_dict(orient="records")
    else:
        rows = list(report.get("features") or [])
    rows = [r for r in rows if r.get("psi") is not None and np.isfinite(r["psi"]) and (above is None or r["psi"] > above)]
    rows.sort(key=lambda r: (-r["psi"], r["feature"]))
    return [r["feature"] for r in rows[:n]]


def drift_message(report: DriftReport) -> str:
    """One paragraph for the terminal: what drifted and what to do. The features beyond the
    threshold are named once, by the alert with their PSI; only when none is beyond it and no money
    level moved (an old model, a shifted score) are the features that moved most named, so that there
    is something to check. A money level that moved is said by its alert (:func:`money_level_alert`)."""
    beyond = report.worst_features(5, above=report.psi_threshold)
    worst = beyond or report.worst_features(3)
    since = f" since the reference, the customers at the training's test cutoff ({report.reference_cutoff})" \
        if report.reference_cutoff else ""
    if report.season_cutoff:
        since = (f" since the reference, the customers in the training data at the cutoff a year before these scores "
                 f"({report.season_cutoff}, the same season; ages and lifetime sums: at its test cutoff, {report.reference_cutoff})")
    young = ""
    if report.short_history:
        young = (f" {', '.join(report.short_history)} count over more days than the data held before the training's "
                 f"test cutoff ({report.reference_history_days:.0f}): they grow as the history does, for every customer, until "
                 "the models are trained as of a date with a year of data before their test cutoff; their shift says "
                 "the data is young, not that the feed is wrong.")
    # A money level that moved is what to check (its alert says how): naming the features with the
    # highest PSI, none beyond the threshold, sent the reader to columns that had not moved.
    money = any(v.get("drifted") for v in report.money_levels.values())
    named = "" if beyond or money else f" Worst features: {', '.join(worst) or 'none'} (none beyond PSI {report.psi_threshold:g})."
    check = "" if (not beyond and money) or set(worst) <= set(report.short_history) else \
        f" Check the data feed for {'the columns of the features named above' if beyond else 'these columns'}."
    return (
        " ".join(report.alerts)
        + f"{named}{check}{young} A real shift{since} "
        "(a price change, a season) stays until models are trained on data after it: retraining as of the same date "
        "compares with the same cutoff."
    )


MISSING_SHIFT = 0.02
"""A drifted feature whose share of missing values moved by this much is named with the two shares."""


def _missing_moved(row: Any) -> str:
    """"; missing for 0.0%, was 4.6%" for a drift table row whose missing share moved by
    :data:`MISSING_SHIFT` or more, else nothing. A subscription business without sign-ups in its
    last weeks had no customer with a single payment: PSI 0.28 on the gaps between purchases, all of
    it their missing share, and the warning said only to check the data feed."""
    now, then = getattr(row, "missing_rate", None), getattr(row, "missing_rate_reference", None)
    if now is None or then is None or not np.isfinite(now) or not np.isfinite(then) or abs(now - then) < MISSING_SHIFT:
        return ""
    return f"; missing for {now:.1%}, was {then:.1%}"


def model_age_text(age: int, max_age: int) -> str:
    """The model's age at the scores' as-of date, in words: "model 30 days old, max 120". A backfill
    scored by a later model read "model -121 days old"; a day's age "model 1 days old"."""
    days = f"{abs(age)} day{'s' if abs(age) != 1 else ''}"
    if age < 0:
        return f"model trained {days} after the as-of date"
    return f"model {days} old, max {max_age}"


def drift_status(report: DriftReport | None) -> str:
    """One line for the end of ``churnml score``'s summary: whether the population drifted.

    The tail of a scheduler's log says what a run did; it used to end on the drift warning
    (:func:`drift_message`, printed before the summary now) or on the summary without a word of
    drift. ``None``: the model has no monitoring reference, so nothing was checked.
    """
    if report is None:
        return "Drift: not checked (the model has no monitoring reference; retrain it to get one)."
    age = report.model_age_days
    old = age is not None and age > report.max_model_age_days
    age_text = model_age_text(age, report.max_model_age_days) if age is not None else ""
    if not report.drifted:
        # Models trained before the level check keep no median to compare with: "none" is then no all-clear for money.
        money = (f"; money level within ×{report.money_level_ratio:g}" if report.money_levels
                 else "; money level not checked: the models keep no level of money, retrain to check it")
        return f"Drift: none (no feature or score beyond PSI {report.psi_threshold:g}{money}{'; ' + age_text if age_text else ''})."
    beyond = report.worst_features(len(report.features), above=report.psi_threshold)
    parts = []
    if beyond:
        parts.append(f"{len(beyond)} feature(s) beyond PSI {report.psi_threshold:g}: {', '.join(beyond[:3])}"
                     + (", …" if len(beyond) > 3 else ""))
    scores = [name for name, values in report.scores.items() if values.get("drifted")]
    if scores:
        parts.append(f"{', '.join(scores)} beyond PSI {report.psi_threshold:g}")
    money = [f"{name} ×{values['ratio']:.2f}" for name, values in report.money_levels.items() if values.get("drifted")]
    if money:
        parts.append(f"money level beyond ×{report.money_level_ratio:g}: {', '.join(money[:3])}" + (", …" if len(money) > 3 else ""))
    if old:
        parts.append(age_text)
    return f"Drift: yes ({'; '.join(parts)}): see the warning above."


# ---------------------------------------------------------------------------------------------
# Backtest
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Backtest:
    """Old scores against what happened (see :func:`backtest_metrics`).

    Attributes
    ----------
    churn : dict
        :func:`churnml.metrics.churn_metrics` of ``churn_probability``, its level
        (:func:`churnml.metrics.churn_level`: the rankings can hold while the level runs off) and
        the 95 % bootstrap interval of its ROC AUC (``roc_auc_low``, ``roc_auc_high``).
    value : dict
        :func:`churnml.metrics.value_metrics` of ``predicted_value``, its level
        (:func:`churnml.metrics.value_level`), the interval of its normalized Gini
        (``normalized_gini_low``, ``normalized_gini_high``) and, for scores with ``value_at_risk``,
        the value at risk against the value the churners lost (:func:`churnml.metrics.value_at_risk_level`).
    customers : int
        Scored customers with a label.
    unlabelled : int
        Scored customers not in the population the labels cover (0 for scores of the same data).
    churn_rate : float
        Observed churn rate.
    value_at_risk_deciles : list of dict
        :func:`churnml.metrics.value_at_risk_deciles`, highest value at risk first (empty for
        scores without ``value_at_risk``).
    """

    churn: dict[str, float]
    value: dict[str, float]
    customers: int
    unlabelled: int
    churn_rate: float
    value_at_risk_deciles: list[dict[str, float]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {"churn": self.churn, "value": self.value, "customers": self.customers,
                "unlabelled": self.unlabelled, "churn_rate": self.churn_rate, "value_at_risk_deciles": self.value_at_risk_deciles,
                "level_notes": self.level_notes(), "value_at_risk_note": self.value_at_risk_note()}

    def level_notes(self) -> list[str]:
        """Plain sentences for a churn or value level more than 10 % off what happened
        (:func:`churnml.metrics.level_notes`); empty when both are near."""
        return metrics.level_notes(self.churn.get("level_ratio", float("nan")), self.value.get("level_ratio", float("nan")))

    def value_at_risk_note(self) -> str | None:
        """The value at risk against the value the churners lost, in plain words, when it is more
        than :data:`churnml.metrics.LEVEL_TOLERANCE` off (:func:`churnml.metrics.value_at_risk_note`)."""
        return metrics.value_at_risk_note(self.value)


_RANKED = (("churn", "roc_auc", "churn ROC AUC"), ("value", "normalized_gini", "value normalized Gini"))
"""The metrics a grade is given on, which say whether a model ranks as well as when it was graded."""


def degradation_status(backtest: Backtest, metadata: Mapping[str, Any]) -> str:
    """One line saying whether the models degraded since they were graded, for the tail of ``evaluate``.

    A ranking degraded when its graded metric (churn ROC AUC, value normalized Gini) fell by more
    than the luck of the customers explains: the 95 % interval of the change, from the backtest's
    bootstrap interval and the one training recorded for its test (``grade_intervals``), lies below
    0 (:func:`churnml.metrics.change_interval`). A level degraded when it ran more than
    :data:`churnml.metrics.LEVEL_TOLERANCE` off what happened (the warnings say how). The table's
    "change" column alone left it to the reader: a drop of 0.02 in ROC AUC on 1,300 customers is
    luck, one of 0.10 is not.

    ``metadata`` is the training run's (``test_metrics``, ``grade_intervals``); runs from before
    the intervals were recorded get "not judged" for the rankings.
    """
    ranked, worse = [], []
    for kind, key, label in _RANKED:
        now = getattr(backtest, kind).get(key, float("nan"))
        then = metadata.get("test_metrics", {}).get(kind, {}).get("model", {}).get(key)
        graded = metadata.get("grade_intervals", {}).get(kind, {})
        now_interval = (getattr(backtest, kind).get(f"{key}_low", float("nan")), getattr(backtest, kind).get(f"{key}_high", float("nan")))
        then_interval = (graded.get("model_low", float("nan")), graded.get("model_high", float("nan")))
        if then is None or not np.all(np.isfinite([now, then, *now_interval, *then_interval])):
            continue
        low, high = metrics.change_interval(now, now_interval, then, then_interval)
        text = f"{label} {now:.3f} against {then:.3f} as graded, change {now - then:+.3f} (95 % interval {low:+.3f} to {high:+.3f})"
        (worse if high < 0 else ranked).append(text)
    levels = [f"{what} {abs(ratio - 1):.0%} {'low' if ratio < 1 else 'high'}"
              for what, ratio in (("churn probability", backtest.churn.get("level_ratio", float("nan"))),
                                  ("predicted value", backtest.value.get("level_ratio", float("nan"))))
              if np.isfinite(ratio) and abs(ratio - 1) > metrics.LEVEL_TOLERANCE]
    level_text = (f"Levels off: {', '.join(levels)} (see the warnings above)." if levels
                  else f"Levels within {metrics.LEVEL_TOLERANCE:.0%} of what happened.")
    if worse:
        held = f" Held: {'; '.join(ranked)}." if ranked else ""
        return (f"Degraded: yes, in ranking. Fell beyond the luck of the customers: {'; '.join(worse)}.{held} {level_text} "
                "Retrain on data that covers these scores' horizon; `churnml score`'s drift warnings may say what moved.")
    if not ranked:
        return ("Degraded: ranking not judged (the training run recorded no 95 % interval of its test metrics: read the "
                f"change column). {level_text}")
    within = f"within the luck of the customers: {'; '.join(ranked)}."
    if levels:
        return f"Degraded: in level, not in ranking. Ranking {within} {level_text}"
    return f"Degraded: no. Ranking {within} {level_text}"


def backtest_metrics(scores: pd.DataFrame, labels: pd.DataFrame) -> Backtest:
    """The training metrics of old scores, now that their labels are known.

    Parameters
    ----------
    scores : pandas.DataFrame
        ``customer_id``, ``churn_probability``, ``predicted_value`` (a scores file); with
        ``value_at_risk`` too, the value at risk is measured against the value the churners lost.
    labels : pandas.DataFrame
        ``customer_id``, ``churned``, ``value`` at the scores' as-of date
        (:func:`churnml.labels.build_labels`).

    Returns
    -------
    Backtest

    Raises
    ------
    ValueError
        When no scored customer has a label, or the labels hold one class only.
    """
    at_risk = ["value_at_risk"] if "value_at_risk" in scores.columns else []
    left = scores[["customer_id", "churn_probability", "predicted_value", *at_risk]].assign(customer_id=lambda f: f["customer_id"].astype(str))
    right = labels[["customer_id", "churned", "value"]].assign(customer_id=lambda f: f["customer_id"].astype(str))
    joined = left.merge(right, on="customer_id", how="inner", validate="one_to_one").sort_values("customer_id", kind="mergesort")
    churned = joined["churned"].to_numpy(dtype=int)
    if len(joined) == 0:
        raise ValueError("no scored customer has a label")
    if churned.min() == churned.max():
        raise ValueError(f"every labelled customer has churned={churned[0]}; churn metrics need both classes")
    probability = joined["churn_probability"].to_numpy(dtype=float)
    actual, predicted = joined["value"].to_numpy(dtype=float), joined["predicted_value"].to_numpy(dtype=float)
    # The luck of these customers, as training measures its test's (for degradation_status).
    churn_interval = metrics.bootstrap_interval("roc_auc", churned, probability)
    value_interval = metrics.bootstrap_interval("normalized_gini", actual, predicted)
    # predicted_value + value_at_risk = (1 - p) V + p V: the value if retained the scores were made of.
    value_if_retained = predicted + joined["value_at_risk"].to_numpy(dtype=float) if at_risk else None
    at_risk_level = ({} if value_if_retained is None
                     else metrics.value_at_risk_level(churned, actual, probability, value_if_retained))
    return Backtest(
        churn={**metrics.churn_metrics(churned, probability), **metrics.churn_level(churned, probability),
               "roc_auc_low": churn_interval["model_low"], "roc_auc_high": churn_interval["model_high"]},
        value={**metrics.value_metrics(actual, predicted), **metrics.value_level(actual, predicted),
               "normalized_gini_low": value_interval["model_low"], "normalized_gini_high": value_interval["model_high"],
               **at_risk_level},
        customers=int(len(joined)),
        unlabelled=int(len(left) - len(joined)),
        churn_rate=float(churned.mean()),
        value_at_risk_deciles=([] if value_if_retained is None
                               else metrics.value_at_risk_deciles(churned, actual, probability, value_if_retained)),
    )


def _labels_after(table: pd.DataFrame, dataset: Dataset, horizon_days: int, config: Config | None, what: str
                  ) -> tuple[pd.Timestamp, pd.DataFrame]:
    """The one as-of date of ``table`` and the labels of ``dataset`` at it, once its horizon has passed."""
    config = (config or Config()).replace(problem={"horizon_days": int(horizon_days)})
    dates = pd.to_datetime(table["as_of"]).dropna().unique()
    if len(dates) != 1:
        raise DataError(f"There are {len(dates)} as-of dates in {what}; evaluate one `churnml` output at a time.")
    as_of = pd.Timestamp(dates[0])
    label_end = as_of + pd.Timedelta(days=int(horizon_days))
    data_end = None if dataset.data_end is None else pd.Timestamp(dataset.data_end)
    if data_end is None or label_end > data_end + LABEL_END_TOLERANCE:
        shown = "no events" if data_end is None else f"events up to {data_end:%Y-%m-%d}"
        raise ProblemError(
            f"The horizon of {what} (as of {as_of:%Y-%m-%d}, {horizon_days} days) runs to {label_end - pd.Timedelta(days=1):%Y-%m-%d}, "
            f"but the data has {shown}: what actually happened is not known yet. "
            f"Evaluate again with data that reaches {label_end - LABEL_END_TOLERANCE:%Y-%m-%d} or later."
        )
    return as_of, build_labels(dataset, [as_of], config)


def campaign_outcome(listing: pd.DataFrame, dataset: Dataset, horizon_days: int, config: Config | None = None
                     ) -> tuple[pd.Timestamp, pd.DataFrame, dict[str, float]]:
    """What a retention list's contacts achieved: churn in the contacted group against the control
    group (``retention-list --holdout``) over the horizon after the list's as-of date.

    Returns
    -------
    (Timestamp, DataFrame, dict)
        The as-of date; per group (``contact``, ``control``) ``customers``, ``labelled`` (in the
        population of ``dataset`` at that date), ``churned`` and ``churn_rate``; and ``uplift``
        (control churn rate minus contact churn rate, with ``uplift_low`` / ``uplift_high``, its 95 %
        interval: :func:`rate_difference_interval`) and ``success_rate`` (uplift / control churn rate: the share of would-be
        churners the contacts kept, what ``[targeting] success_rate`` assumes, with ``success_rate_low``
        / ``success_rate_high``, its 95 % interval: :func:`success_rate_interval`; NaN without churn in
        the control group).

    Raises
    ------
    DataError
        A list without a ``group`` column or without both groups.
    ProblemError
        The horizon has not passed in ``dataset`` yet.
    """
    missing = [c for c in ("customer_id", "as_of", "group") if c not in listing.columns]
    if missing:
        raise DataError(f"The list has no column(s) {', '.join(missing)}: only a list made with `churnml retention-list "
                        "--holdout SHARE` has a control group to compare with.")
    as_of, labels = _labels_after(listing, dataset, horizon_days, config, "this list")
    churned = labels.set_index(labels["customer_id"].astype(str))["churned"]
    rows = []
    for group in ("contact", "control"):
        ids = listing.loc[listing["group"].astype(str) == group, "customer_id"].astype(str)
        known = churned.reindex(ids).dropna()
        rows.append({"group": group, "customers": int(len(ids)), "labelled": int(len(known)),
                     "churned": int(known.sum()), "churn_rate": float(known.mean()) if len(known) else float("nan")})
    table = pd.DataFrame(rows)
    if (table["customers"] == 0).any():
        found = ", ".join(f"{v!r} ({n:,})" for v, n in listing["group"].astype(str).value_counts().items())
        raise DataError(f"The list needs customers in both groups, 'contact' and 'control'; its group column holds {found}. "
                        "Make the list with a larger --holdout or more customers, and keep the group values as written.")
    if (table["labelled"] == 0).any():
        raise DataError("The list needs customers in both groups, contact and control, who are in DATA's population at "
                        "its as-of date. Is DATA the data the list was scored from?")
    contact, control = (table.set_index("group").loc[g] for g in ("contact", "control"))
    uplift = control["churn_rate"] - contact["churn_rate"]
    low, high = rate_difference_interval(int(control["churned"]), int(control["labelled"]),
                                         int(contact["churned"]), int(contact["labelled"]))
    rate = control["churn_rate"]
    success_low, success_high = (success_rate_interval(int(control["churned"]), int(control["labelled"]),
                                                       int(contact["churned"]), int(contact["labelled"]))
                                 if rate > 0 else (float("nan"), float("nan")))
    return as_of, table, {"uplift": float(uplift), "uplift_low": low, "uplift_high": high,
                          "success_rate": float(uplift / rate) if rate > 0 else float("nan"),
                          "success_rate_low": success_low, "success_rate_high": success_high}


def wilson_interval(events: int, total: int, z: float = 1.96) -> tuple[float, float]:
    """The Wilson score interval of the rate ``events / total`` (95 % with the default ``z``)."""
    rate = events / total
    centre = (rate + z * z / (2 * total)) / (1 + z * z / total)
    half = z * np.sqrt(rate * (1 - rate) / total + z * z / (4 * total * total)) / (1 + z * z / total)
    return float(max(centre - half, 0.0)), float(min(centre + half, 1.0))


def rate_difference_interval(events_a: int, total_a: int, events_b: int, total_b: int) -> tuple[float, float]:
    """95 % interval of ``events_a / total_a - events_b / total_b``: Newcombe's hybrid score
    interval (Newcombe 1998, method 10), from the two rates' Wilson intervals.

    The normal (Wald) interval used before has no width for a rate of 0 or 1: a control group of
    4 customers, none of whom churned, against 9 churners among 32 contacts read as an uplift of
    -28.1 points "(95 % interval -43.7 to -12.5)", a certain effect, where this gives -45.4 to +22.4.

    >>> [round(x, 4) for x in rate_difference_interval(56, 70, 48, 80)]  # Newcombe's example
    [0.0524, 0.3339]
    """
    rate_a, rate_b = events_a / total_a, events_b / total_b
    low_a, high_a = wilson_interval(events_a, total_a)
    low_b, high_b = wilson_interval(events_b, total_b)
    difference = rate_a - rate_b
    return (float(difference - np.sqrt((rate_a - low_a) ** 2 + (high_b - rate_b) ** 2)),
            float(difference + np.sqrt((high_a - rate_a) ** 2 + (rate_b - low_b) ** 2)))


def success_rate_interval(control_churned: int, control_total: int, contact_churned: int, contact_total: int,
                          z: float = 1.96) -> tuple[float, float]:
    """95 % interval of the success rate, 1 − contact churn rate / control churn rate (the share of
    would-be churners the contacts kept), from Katz's interval of the ratio of the two rates (log
    scale; half a customer added to every cell when one is 0). The uplift's interval alone left the
    rate a bare figure: 8 of 72 contacts and 7 of 34 control customers churned, "the contacts kept
    46 %", which a marketer could copy into ``[targeting] success_rate``, where the data allow
    anything from −37 % to 79 %.

    >>> [round(x, 3) for x in success_rate_interval(7, 34, 8, 72)]
    [-0.366, 0.787]
    >>> [round(x, 3) for x in success_rate_interval(300, 1000, 150, 1000)]  # half as many churned
    [0.404, 0.58]
    """
    a, n_a, b, n_b = float(contact_churned), float(contact_total), float(control_churned), float(control_total)
    if 0 in (a, b, n_a - a, n_b - b):
        a, n_a, b, n_b = a + 0.5, n_a + 1.0, b + 0.5, n_b + 1.0
    ratio = (a / n_a) / (b / n_b)
    spread = z * np.sqrt(1 / a - 1 / n_a + 1 / b - 1 / n_b)
    return float(1 - ratio * np.exp(spread)), float(1 - ratio * np.exp(-spread))


def evaluate_scores(scores: pd.DataFrame, dataset: Dataset, horizon_days: int, config: Config | None = None) -> tuple[pd.Timestamp, Backtest]:
    """Backtest a scores table on data that now covers its horizon.

    Parameters
    ----------
    scores : pandas.DataFrame
        A scores file's table (one ``as_of``).
    dataset : Dataset
        Clean data reaching at least ``as_of + horizon_days``.
    horizon_days : int
        The horizon the models were trained for (their run's ``horizon_days``).
    config : Config, optional
        Population and label settings (``active_days``, ``margin``).

    Returns
    -------
    (Timestamp, Backtest)
        The scores' as-of date and the metrics.

    Raises
    ------
    DataError
        Scores without the needed columns or with several as-of dates.
    ProblemError
        The horizon has not passed in ``dataset`` yet, or the outcomes have one class only.
    """
    missing = [c for c in ("customer_id", "as_of", "churn_probability", "predicted_value") if c not in scores.columns]
    if missing:
        raise DataError(f"Scores are missing column(s) {', '.join(missing)}. Use a scores file written by `churnml score`.")
    as_of, labels = _labels_after(scores, dataset, horizon_days, config, "these scores")
    try:
        return as_of, backtest_metrics(scores, labels)
    except ValueError as exc:
        raise ProblemError(f"Cannot evaluate the scores as of {as_of:%Y-%m-%d}: {exc}. Is DATA the data these customers were scored from?") from None
