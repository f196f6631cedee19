"""Point-in-time features: defined once, as SQL, for any number of cutoffs in one query.

Every feature is a :class:`FeatureSpec` (what it means, where it comes from, how it may move
churn risk, how to say it to a marketer) paired with the SQL expression that computes it. The
pairs are built in one place (:func:`_features`), so the spec list, the SQL, the JSON description
and the reason sentences cannot drift apart.

Point in time
    A feature for cutoff ``c`` sees only events with ``timestamp < c``. The one exception is a
    service event's ``resolved_at``: a complaint opened before ``c`` and resolved on or after
    ``c`` counts as *unresolved at the cutoff*, and its resolution time is not used.

Several cutoffs, one query
    Cutoffs are a small table joined to the event tables (``timestamp < cutoff``), so one query
    computes any number of cutoffs and nothing is computed per cutoff in Python. Spark runs
    them all at once; DuckDB runs one query per cutoff by default, which keeps memory within its
    limit (:func:`build_features`). Work grows linearly with the number of cutoffs either way.

Portable SQL
    The query uses plain constructs (CASE, COALESCE, COUNT/COUNT_IF/SUM/MIN/MAX, STDDEV_POP,
    BIT_OR/BIT_COUNT, LAG, GREATEST/LEAST, ``INTERVAL 'n' DAY``), which Spark has under the same
    names. The only engine-specific calls are ``epoch`` (seconds since 1970) and ``arg_max``;
    sqlglot translates both for Spark (``UNIX_TIMESTAMP``, ``MAX_BY``). One feature has two
    forms, chosen by ``feature_query(engine=...)``: the spread of purchase gaps, which needs
    the purchases in time order. Spark gets the portable LAG window; DuckDB sorts each
    customer's purchase days as a list in the main pass, which costs less than half as much (see
    :func:`_transaction_ctes`). The Spark parity test checks that both give the same numbers.

Cost
    Measured against a bare ``SELECT customer_id, sum(amount) FROM transactions GROUP BY 1``
    (``benchmarks/bench_features.py``): everything about transactions is one aggregate pass
    (``tm``), in which each aggregate adds about a tenth of the bare scan and each string
    column read (category, channel) most of one. Ordering costs most: a window sorting every
    purchase took 6x the bare scan, the per-customer lists that replaced it 3x.

Missing values (the "no NaN soup" rule)
    Counts and sums are 0 when there is nothing to count. "Days since" an event that never
    happened is the sentinel :data:`NEVER_DAYS` (far in the past), which keeps monotone
    constraints right: never complained sorts with "complained long ago". A value stays missing
    (NaN, which LightGBM routes to its own branch) only where no number would be honest: gap
    statistics with fewer than two purchases, satisfaction never rated, resolution times with
    nothing resolved, first-purchase age with no purchase, tenure with no sign-up date and no
    transaction. Each spec's ``missing`` field says which rule applies.
"""

from __future__ import annotations

import re
import string
from dataclasses import asdict, dataclass, replace
from typing import Any, Callable, Iterable, Mapping, Sequence

import numpy as np
import pandas as pd

from churnml.config import Config
from churnml.dataset import Dataset, _lit, _q
from churnml.errors import ProblemError
from churnml.schema import ACCOUNT_MANAGER_CHANGE, EVENT_TYPES, KNOWN_EVENT_TYPES, TABLES

NEVER_DAYS = 9999.0
""""Days since" value for an event that never happened before the cutoff (about 27 years)."""
FEATURE_DECIMALS = 6
"""Decimals training keeps of each float feature (:func:`churnml.train._stable`): DuckDB's parallel
sums differ in the last bits between runs. The typical values reasons compare with are medians at
this precision, so a scored value is compared at it too (:func:`churnml.reasons.explain`)."""

AGE_FEATURES = ("days_since_first_purchase", "tenure_days")
"""Ages: days since a fixed date in the customer's past, so they grow by one a day for every
customer. Drift monitoring compares them net of the days between the reference and the scoring
cutoff (:func:`churnml.monitoring.drift`)."""

TRANSACTION_WINDOWS = (30, 90, 180, 365)
"""Windows in days for recency/frequency/monetary features (plus lifetime)."""
SERVICE_WINDOWS = (30, 90, 365)
"""Windows in days for service-event counts."""
TREND_DAYS = 90
"""Trend features compare the last ``TREND_DAYS`` with the ``TREND_DAYS`` before them."""
PURCHASE_FEATURES: tuple[str, ...] = (
    "days_since_last_purchase", "days_since_first_purchase",
    *(f"frequency_{days}d" for days in TRANSACTION_WINDOWS), "frequency_lifetime",
    *(f"monetary_{days}d" for days in TRANSACTION_WINDOWS), "monetary_lifetime",
    "spend_prev_90d", "spend_trend_pct", "frequency_trend", "mean_gap_days", "gap_std_days", "recency_vs_usual_gap",
)
"""Features read from a customer's purchases: for one who never bought, each holds what having no
purchase gives (0, NaN, :data:`NEVER_DAYS`), so together they are that one driver
(:func:`churnml.reasons.explain`). Refunds and the category and channel counts are not among them."""

MAX_BITMASK_VALUES = 62
"""A ``category``/``channel`` column with at most this many distinct values is counted with a
bitmask (one bit per value in a BIGINT) in the main pass over transactions."""

_DIVERSITY = {"category": "categories", "channel": "channels"}
"""Transaction columns whose distinct values before the cutoff are counted -> feature stem."""
DIVERSITY_COLUMNS = tuple(_DIVERSITY)
"""The transaction columns whose values :func:`transaction_values` looks up."""
DIVERSITY_FEATURES = {column: f"distinct_{stem}" for column, stem in _DIVERSITY.items()}
"""Transaction column -> the feature counting its distinct values (without the column, 0 for everyone)."""
_PLURALS = {
    "call": "calls", "change": "changes", "complaint": "complaints", "day": "days", "event": "events",
    "inquiry": "inquiries", "purchase": "purchases", "refund": "refunds", "survey": "surveys", "ticket": "tickets",
}
"""The counted nouns of the reason templates (singular -> plural), for "1 call", not "1 calls"."""
_SINGULAR = {plural: one for one, plural in _PLURALS.items()}
_COUNTED = r"((?:[a-z]+ ){{0,2}}?)({nouns})\b"
_ONE_PLURAL = re.compile(r"(?<![\d.,])\b1 " + _COUNTED.format(nouns="|".join(_PLURALS.values())))
_N_SINGULAR = re.compile(r"\bN " + _COUNTED.format(nouns="|".join(_PLURALS)))
_RESERVED = {"customer_id", "cutoff", "churned", "value", "split", "as_of"}
"""Columns a feature table or training set holds beside the features: an attribute of that name
becomes ``customer_<name>``. A CRM export's own ``churned`` flag or ``value`` column crashed
training, and ``split`` was silently overwritten by the train/validation/test marker."""
_UNSAFE_NAME = re.compile(r'[",:\[\]{}.!\x00-\x1f]')
"""Characters of a customers column name that its feature's name does without: LightGBM refuses
``"`` ``,`` ``:`` ``[`` ``]`` ``{`` ``}`` in a feature name, and a reason template reads ``.`` ``[``
``:`` ``!`` inside ``{field}`` as attribute, index, format and conversion. They become ``_``."""


@dataclass(frozen=True)
class FeatureSpec:
    """One feature: meaning, source, direction and the sentence a marketer reads.

    Attributes
    ----------
    name : str
        Column name in the feature table.
    description : str
        Plain-English meaning, for docs and the features JSON.
    source : {"transactions", "service_events", "customers"}
        The table it is computed from.
    window : str or None
        ``"30d"``, ``"90d"``, ``"lifetime"`` …, or None when no window applies.
    kind : {"numeric", "categorical"}
        Categorical features have pandas ``category`` dtype.
    monotone : {-1, 0, 1}
        +1: a higher value never lowers churn risk; -1: never raises it; 0: unknown.
    reason : str or None
        ``str.format`` template filled with the customer's feature row (see :func:`render_reason`),
        or None when the feature should not be shown as a reason.
    missing : str or None
        What a missing or sentinel value means for this feature (None: never missing).
    reason_side : {-1, 0, 1}
        Which values make ``reason`` true: +1 high values, -1 low ones, 0 any. The reason is
        shown only for a value beyond the typical one on that side (the training population's
        median; see :func:`churnml.reasons.explain`), so "no purchase for 13 days" is not a
        reason where most customers bought in the last week. Usually ``monotone``'s sign; it
        differs for features without a monotone constraint whose reason reads one way
        ("spent 12 in the last 90 days" says little spend).
    reason_bound : float or None
        A fixed value the feature must also be beyond, on ``reason_side``: 0 for "spend down
        40%", which is false for a rise whatever the median is.
    column : str or None
        For a customer attribute, the ``customers`` column it copies (the feature's name differs
        when the column's name is taken); None for computed features.
    """

    name: str
    description: str
    source: str
    window: str | None
    kind: str
    monotone: int
    reason: str | None
    missing: str | None = None
    reason_side: int = 0
    reason_bound: float | None = None
    column: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict of all fields."""
        return asdict(self)


def window_days(window: str | None) -> float:
    """How many days before the cutoff a :attr:`FeatureSpec.window` reaches back: ``"90d"`` 90,
    ``"prev 90d"`` (days 91-180) and ``"90d vs prev 90d"`` 180, ``"lifetime"`` without end, and
    0 for a feature without a window (a customer attribute, tenure).

    >>> [window_days(w) for w in ("365d", "prev 90d", "90d vs prev 90d", "lifetime", None)]
    [365.0, 180.0, 180.0, inf, 0.0]
    """
    if not window:
        return 0.0
    if window == "lifetime":
        return float("inf")
    days = [int(n) for n in re.findall(r"(\d+)d\b", window)]
    if not days:  # not a window churnml writes: no note rather than a failed scoring run
        return 0.0
    return float(2 * days[-1] if "prev" in window else max(days))


@dataclass(frozen=True)
class _Feature:
    spec: FeatureSpec
    sql: str
    """Expression over the aliases of the final SELECT (``k`` cutoffs, ``cu`` customers, ``ta``
    transaction aggregates, ``sa`` service aggregates)."""


# --------------------------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------------------------


def feature_specs(dataset: Dataset) -> list[FeatureSpec]:
    """The features that exist for this dataset, in feature-table column order.

    Service features appear only when ``service_events`` exists (and those needing
    ``resolved_at`` / ``satisfaction`` only when those columns do); category/channel diversity
    only when ``transactions`` has those columns; one spec per customer attribute.

    Parameters
    ----------
    dataset : Dataset

    Returns
    -------
    list of FeatureSpec

    Example
    -------
    >>> [s.name for s in feature_specs(ds)][:2]       # doctest: +SKIP
    ['days_since_last_purchase', 'days_since_first_purchase']
    """
    return layout_feature_specs(table_columns(dataset), dataset.attributes)


def layout_feature_specs(layout: Mapping[str, frozenset[str]], attributes: Mapping[str, str]) -> list[FeatureSpec]:
    """:func:`feature_specs` for a data layout held by any engine (tables -> columns, attributes)."""
    return [f.spec for f in _features(layout, attributes)]


def categorical_sources(layout: Mapping[str, frozenset[str]], attributes: Mapping[str, str]) -> dict[str, str]:
    """Categorical feature name -> the ``customers`` column it copies (its levels come from there)."""
    return {spec.name: spec.column for spec in layout_feature_specs(layout, attributes)
            if spec.kind == "categorical" and spec.column is not None}


def feature_description(dataset: Dataset) -> list[dict[str, Any]]:
    """JSON-ready description of each feature of ``dataset``: :func:`describe_features` of its
    specs and of the customer attributes validation read as codes (``summary["code_columns"]``)."""
    return describe_features(feature_specs(dataset), dataset.summary.get("code_columns") or {})


def describe_features(specs: Sequence[FeatureSpec], codes: Mapping[str, Sequence[str]]) -> list[dict[str, Any]]:
    """JSON-ready description of each feature: every :class:`FeatureSpec` field.

    Parameters
    ----------
    specs : sequence of FeatureSpec
        In feature-table order (:func:`feature_specs`, :func:`layout_feature_specs`).
    codes : mapping
        Customer attribute -> a few of its values, for the attributes read as a category of codes
        written with leading zeros ("001", "010"; :func:`churnml.validate.code_columns`, on either
        engine): their descriptions say so.

    Returns
    -------
    list of dict
        ``name``, ``description``, ``source``, ``window``, ``kind``, ``monotone``, ``reason``,
        ``missing``, ``reason_side``, ``reason_bound``, ``column`` per feature, in feature-table order.

    Example
    -------
    >>> describe_features(feature_specs(ds), {"plan_code": ["001", "010"]})[-1]["description"]  # doctest: +SKIP
    "Customer attribute plan_code … A code ('001', '010' …) written with leading zeros: …"
    """
    described = []
    for spec in specs:
        entry = spec.to_dict()
        if spec.column in codes:  # validation read the column as a category, though its values read as numbers
            entry["description"] += (f" A code ({', '.join(repr(v) for v in codes[spec.column])} …) written with leading "
                                     "zeros: a category, each value as written, not a number.")
        described.append(entry)
    return described


def build_features(dataset: Dataset, cutoffs: Sequence[pd.Timestamp], config: Config, *,
                   cutoffs_per_query: int = 1) -> pd.DataFrame:
    """Features for the population at each cutoff, from events strictly before the cutoff.

    Parameters
    ----------
    dataset : Dataset
        Clean canonical tables.
    cutoffs : sequence of pandas.Timestamp
        One or more cutoffs, oldest first.
    config : Config
        Supplies the population rule (``problem.active_days``).
    cutoffs_per_query : int
        Cutoffs computed by one query (the same numbers either way; the tests check it). One by
        default: see the comment in the code.

    Returns
    -------
    pandas.DataFrame
        One row per (customer, cutoff) in the population, ordered by cutoff then customer:
        ``customer_id``, ``cutoff``, then every feature in :func:`feature_specs` order. Numeric
        features are float64, categorical ones pandas ``category``. Empty (with those columns)
        when nobody is in the population.

    Example
    -------
    >>> frame = build_features(ds, [pd.Timestamp("2024-01-01")], Config())   # doctest: +SKIP
    """
    layout = table_columns(dataset)
    # One query per cutoff: the same SQL handles many cutoffs at once (Spark runs it that way),
    # but in DuckDB its memory grows with the cutoffs (16 GB for 6 on a million customers) while
    # one at a time stays within the [duckdb] memory limit, and time still grows linearly.
    if cutoffs_per_query < 1:
        raise ValueError(f"cutoffs_per_query must be at least 1, got {cutoffs_per_query}")
    ordered = sorted(cutoffs)
    groups = [ordered[i:i + cutoffs_per_query] for i in range(0, len(ordered), cutoffs_per_query)] or [[]]
    values = transaction_values(dataset)
    parts = [_arrays(dataset.con, feature_sql(dataset, group, config, values)) for group in groups]
    # Joined column by column, each part's column dropped once copied: concatenating whole
    # frames holds every part and the result at once (1.2 GB more at 6 cutoffs, 1 M customers).
    columns = parts[0] if len(parts) == 1 else {
        name: np.concatenate([part.pop(name) for part in parts]) for name in list(parts[0])
    }
    frame = pd.DataFrame(columns, copy=False)
    # Levels come from the whole customers table, not the rows returned, so frames built for
    # different cutoffs of the same data share their categories (concat/merge keep the dtype).
    levels = {
        name: _categories(dataset, column)
        for name, column in categorical_sources(layout, dataset.attributes).items()
    }
    return typed_feature_frame(frame, layout_feature_specs(layout, dataset.attributes), levels)


def feature_sql(
    dataset: Dataset,
    cutoffs: Sequence[pd.Timestamp],
    config: Config,
    values: Mapping[str, Sequence[str] | None] | None = None,
) -> str:
    """The feature query (DuckDB dialect) for these cutoffs; what :func:`build_features` runs.

    ``values`` are the distinct values of the transactions' ``category``/``channel`` columns
    (:func:`transaction_values`; looked up when omitted). Exposed so another engine (Spark) can
    run the same definitions after transpiling.
    """
    if values is None:
        values = transaction_values(dataset)
    return feature_query(table_columns(dataset), dataset.attributes, cutoffs, config, values)


def transaction_values(dataset: Dataset) -> dict[str, list[str] | None]:
    """Distinct non-null values of the transactions' ``category`` and ``channel`` columns.

    A column with more than :data:`MAX_BITMASK_VALUES` values maps to None. One scan of the two
    columns; :func:`feature_query` turns short lists into a bitmask in its main pass.
    """
    present = [c for c in DIVERSITY_COLUMNS if c in dataset.con.table("transactions").columns]
    if not present:
        return {}
    lists = dataset.con.execute(
        "SELECT " + ", ".join(f"list(DISTINCT {_q(c)}) FILTER (WHERE {_q(c)} IS NOT NULL)" for c in present)
        + " FROM transactions"
    ).fetchone()
    return {column: bitmask_values(found) for column, found in zip(present, lists)}


def bitmask_values(found: Iterable[str] | None) -> list[str] | None:
    """A column's distinct values, sorted, when few enough for a bitmask; None when there are more
    than :data:`MAX_BITMASK_VALUES` (the shared rule of every engine's ``transaction_values``)."""
    found = list(found or [])
    return sorted(found) if len(found) <= MAX_BITMASK_VALUES else None


def feature_query(
    layout: Mapping[str, frozenset[str]],
    attributes: Mapping[str, str],
    cutoffs: Sequence[pd.Timestamp],
    config: Config,
    values: Mapping[str, Sequence[str] | None] | None = None,
    engine: str = "duckdb",
) -> str:
    """The feature query (DuckDB dialect) for a data layout held by any engine.

    Parameters
    ----------
    layout : mapping
        Tables present -> their columns (:func:`table_columns` for DuckDB).
    attributes : mapping
        Customer attribute columns -> ``"categorical"`` / ``"numeric"``.
    cutoffs : sequence of pandas.Timestamp
    config : Config
    values : mapping, optional
        ``category``/``channel`` -> every distinct non-null value in ``transactions``
        (:func:`transaction_values`). With them, the distinct counts are a bitmask (``BIT_OR``)
        in the main pass over transactions; without them (or with None for a column), a
        separate GROUP BY on (customer, value). Same numbers either way; the values must be
        complete, or the count misses the values left out.
    engine : {"duckdb", "spark"}
        Which form of the purchase-gap spread to write (the one part that differs; see
        :func:`_transaction_ctes`). ``"spark"`` gives SQL that sqlglot transpiles.

    Returns
    -------
    str
        SQL over relations named ``customers``, ``transactions``, ``service_events``,
        ``churn_events``; ``churnml.spark`` transpiles the ``engine="spark"`` text for Spark.
    """
    features = _features(layout, attributes)
    ctes = [("cutoffs", cutoffs_sql(cutoffs, config))]
    if "churn_events" in layout:
        # Customers closed before a cutoff are outside its population (population_rule), so
        # their events are dropped before the aggregates rather than aggregated and then left
        # out: at 1 M generated customers half the customers and a sixth of the transactions
        # go, and the passes over transactions and service events take a fifth less CPU.
        ctes.append(("fc", FIRST_CHURN_SQL))
    ctes += _transaction_ctes(layout, values or {}, single_cutoff=len(cutoffs) == 1, engine=engine)
    joins = []
    if "service_events" in layout:
        ctes += _service_ctes(layout)
        joins.append("LEFT JOIN sa ON sa.customer_id = cu.customer_id AND sa.cutoff = k.cutoff")
    # The population rule's own query selects the features: its rows are customers x cutoffs
    # joined to ta (each customer's first and last transaction are there), so nothing is
    # scanned or joined twice.
    columns = ",\n    ".join(f"{f.sql} AS {_q(f.spec.name)}" for f in features)
    select = population_body(
        layout, config, activity="ta", alias="ta",
        columns=f"cu.customer_id, k.cutoff,\n    {columns}", joins=joins,
    )
    return _with(ctes) + f"\n{select}\nORDER BY k.cutoff, cu.customer_id"


def render_reason(spec: FeatureSpec, row: Mapping[str, Any]) -> str:
    """The marketer-readable sentence of ``spec`` for one customer's feature row.

    Parameters
    ----------
    spec : FeatureSpec
    row : mapping
        The customer's features (a ``pandas.Series`` row of the feature table or a dict).

    Returns
    -------
    str
        The filled ``spec.reason``; an empty string when the spec has no reason, a value it
        needs is missing (NaN/None) or the :data:`NEVER_DAYS` sentinel, since "no purchase for
        9999 days" would mislead, or the value is not beyond :attr:`FeatureSpec.reason_bound`.
        A fall that reads 100% or more says the sentence of :data:`FALL_TO_NOTHING` instead,
        from the row's amounts.

    Example
    -------
    >>> spec = FeatureSpec("unresolved_complaints", "", "service_events", None, "numeric", 1,
    ...                    "{unresolved_complaints:.0f} unresolved complaints")
    >>> render_reason(spec, {"unresolved_complaints": 2.0})
    '2 unresolved complaints'
    """
    if spec.reason is None:
        return ""
    values: dict[str, Any] = {}
    for _, field, _, _ in string.Formatter().parse(spec.reason):
        if field is None:
            continue
        value = row.get(field) if hasattr(row, "get") else None
        # NEVER_DAYS marks "never" in computed features; an attribute is the user's own number
        # (a credit limit of 12,500 is a value, not "never").
        if _is_missing(value) or (spec.column is None and isinstance(value, (int, float)) and value >= NEVER_DAYS):
            return ""
        if spec.column is not None and isinstance(value, str):
            value = _short_text(value)
        values[field] = value
    if spec.reason_bound is not None and spec.reason_side:
        value = row.get(spec.name) if hasattr(row, "get") else None
        if _is_missing(value) or not reason_is_true(spec, np.float64(value)):
            return ""  # "spend down 50%" for a rise
        # Beyond the bound but shown as it: a service score of 54.6, below the 55 that makes it a
        # reason, read "poor service experience (score 55/100)". Rounded away from the bound
        # instead (the templates show whole numbers; not through a conversion such as !m).
        if round(float(value), 0) == spec.reason_bound and "{" + spec.name + ":" in spec.reason:
            values[spec.name] = float(np.floor(value) if spec.reason_side < 0 else np.ceil(value))
    text = _REASON_FORMAT.format(spec.reason, **values)
    none = values.get(spec.name) == 0  # none at all, not an amount that rounds to 0
    fall = FALL_TO_NOTHING.get(spec.name) if spec.column is None else None
    if fall is not None and round(-float(row.get(spec.name))) >= 100:
        amounts = {field: row.get(field) for _, field, _, _ in string.Formatter().parse(fall) if field}
        if not any(_is_missing(value) for value in amounts.values()):
            text = _REASON_FORMAT.format(fall, **amounts)
            none = next(iter(amounts.values())) == 0  # the amount the sentence starts with
    if none:
        text = _NONE_IN.sub(lambda m: _NONE_IN_TEXT[m.group(1)], text)
    recent = OVER_A_YEAR_AGO.get(spec.name, ()) if spec.column is None else ()
    if recent and hasattr(row, "get") and _not_in_window([row.get(field) for field in recent]):
        text += ", over a year ago"
    # A customer attribute's value is cited as written ("discount: 0%" is no "less than 1%").
    return _readable(singular_counts(text)) if spec.column is None else singular_counts(text)


_ZERO_DAYS_AGO = re.compile(r"(?<![\d.,])0 days ago")
_EVERY_ZERO_DAYS = re.compile(r"\(usually every 0\)")
_SPENT_NEGATIVE = re.compile(r"\bspent -([\d,.]+)")
_ZERO_DAYS = re.compile(r"(?<![\d.,])0 days\b")
_SPENT_ABOUT_NONE = re.compile(r"\bspent -0(?![\d.,])")
_SPENT_UNDER_ONE = re.compile(r"\bspent 0(?![\d.,])")
_ZERO_PERCENT = re.compile(r"(?<![\d.,])0%")
_NONE_IN = re.compile(r"^(spent -?0|only 0 purchases) in the last ")
_NONE_IN_TEXT = {"spent 0": "has not spent anything in the last ", "spent -0": "has not spent anything in the last ",
                 "only 0 purchases": "no purchase in the last "}
"""A window without spend or purchases: "spent 0 in the last 365 days" reads "has not spent anything in
the last 365 days", "only 0 purchases in the last 90 days" "no purchase in the last 90 days"."""


FALL_TO_NOTHING: dict[str, str] = {
    "spend_trend_pct": "spent {monetary_90d:,.0f} in the last 90 days, having spent {spend_prev_90d:,.0f} in the 90 days before",
}
"""Feature -> the sentence :func:`render_reason` says in place of its reason where the fall reads 100%
or more: "spend down 100% on the previous quarter" (24 of 1,356 scored customers, 3,000 generated, seed
11) reads "has not spent anything in the last 90 days, having spent 139 in the 90 days before", net
refunds "refunded 70 more than bought in the last 90 days, …", a fall of 99.7% "spent less than 1 in
the last 90 days, …" (it spent something). Its fields are features too: the customer's row must hold
them (:func:`churnml.reasons.explain` passes them), else the reason reads as before. The sentence starts
with its first field's amount, which reads "has not spent anything" at 0 (``_NONE_IN``), and extends that
field's window sentence: where it is said, :func:`churnml.reasons.explain` counts it of that window's reason
family ("refunded 73 more than bought in the last 30 days; refunded 39 more than bought in the last 90
days, having spent 51 in the 90 days before" was two reasons about one net refund)."""


SERVICE_EVENTS_365D: tuple[str, ...] = (
    *(f"{stem}_365d" for stem in (*EVENT_TYPES.values(), "other_service_events")), "account_manager_changes_365d")
"""The counts of every kind of service event in the last year: all 0, the customer had none then."""
OVER_A_YEAR_AGO: dict[str, tuple[str, ...]] = {"last_satisfaction": ("lowest_satisfaction_365d",),
                                                "max_resolution_days": SERVICE_EVENTS_365D}
"""Feature of a lifetime reason -> the features of the last year that are each missing or 0 where what the
reason tells did not happen then: there :func:`render_reason` adds ", over a year ago" ("last satisfaction
score 2/5, over a year ago": not scored in the last year; "a service request took 95 days to resolve, over a
year ago": no service event of any kind in it). Without it a call-centre lead read these as this month's:
on 5,000 generated customers (seed 7, 2,341 scored) the last score was a reason for 109, every one scored
over a year before (1,126 days, the median), beside "no purchase for 1,700 days"; the slow request for 262,
opened 752 days before at the median, 198 of them over a year before and 114 without a service event since.
The customer's row must hold the features (:func:`churnml.reasons.reason_fields` names them), else the
reason reads as before."""


def _not_in_window(values: Sequence[Any]) -> bool:
    """Whether ``values`` (features over the last year, :data:`OVER_A_YEAR_AGO`) say nothing happened in it:
    each missing as a number (NaN) or 0; ``None``, a feature the row does not hold, says nothing."""
    return bool(values) and all(isinstance(value, (int, float, np.number)) and (np.isnan(value) or value == 0)
                                for value in values)


def says_none_in(spec: FeatureSpec) -> bool:
    """Whether ``spec``'s reason at a value of 0 reads "none in the last N days" (``_NONE_IN``).

    >>> says_none_in(FeatureSpec("frequency_90d", "", "transactions", "90d", "numeric", -1,
    ...                          "only {frequency_90d:.0f} purchases in the last 90 days", None, -1))
    True
    """
    if spec.reason is None or {f for _, f, _, _ in string.Formatter().parse(spec.reason) if f} != {spec.name}:
        return False
    return bool(_NONE_IN.match(_REASON_FORMAT.format(spec.reason, **{spec.name: 0.0})))


MAX_REASON_TEXT = 60
"""Characters of a text attribute's value a reason quotes: a description column of 2,400
characters made a scores row's and a retention list's reasons 2,500 characters long."""


def _short_text(value: str) -> str:
    """A text attribute's value for a reason: on one line, cut to :data:`MAX_REASON_TEXT` characters.

    >>> _short_text("Premium   plan ")
    'Premium plan'
    >>> len(_short_text("x" * 500))
    60
    """
    value = " ".join(value.split())
    return value if len(value) <= MAX_REASON_TEXT else value[:MAX_REASON_TEXT - 1].rstrip() + "…"


def _readable(text: str) -> str:
    """"complained 0 days ago" (less than a day before the cutoff) reads "complained within the
    last day"; "(usually every 0)" (a usual gap under half a day) "(usually more than once a
    day)"; "spent -52" (net refunds) reads "refunded 52 more than bought".

    A number that rounds to 0 is not nothing (a true 0 of a window reads "has not spent anything",
    ``_NONE_IN``, before this): "a complaint open for 0 days" reads "a complaint open for less than
    a day", "spent 0" "spent less than 1", "spent -0" (refunds outweighing purchases by less than
    half a unit) "refunded about as much as bought", "spend down 0%" "spend down less than 1%".

    >>> _readable("spent -0 in the last 90 days")
    'refunded about as much as bought in the last 90 days'
    """
    if "0 days" in text:
        text = _ZERO_DAYS.sub("less than a day", _ZERO_DAYS_AGO.sub("within the last day", text))
    if "usually every 0)" in text:
        text = _EVERY_ZERO_DAYS.sub("(usually more than once a day)", text)
    if "spent " in text:
        text = _SPENT_ABOUT_NONE.sub("refunded about as much as bought", text)
        text = _SPENT_UNDER_ONE.sub("spent less than 1", text)
        text = _SPENT_NEGATIVE.sub(r"refunded \1 more than bought", text)
    if "0%" in text:
        text = _ZERO_PERCENT.sub("less than 1%", text)
    return text


def attribute_label(column: str) -> str:
    """A customer attribute's name as its reasons say it: "age band: 25-34", also for a
    warehouse's AGE_BAND (reasons in capitals read as shouting).

    >>> attribute_label("AGE_BAND"), attribute_label("credit_Limit")
    ('age band', 'credit Limit')
    """
    label = column.replace("_", " ")
    return label.lower() if label.isupper() else label


def reason_is_true(spec: FeatureSpec, values: Any, typical: float | str | None = None) -> Any:
    """Where ``spec``'s reason is true of a value: beyond ``typical`` (the training median) and
    :attr:`FeatureSpec.reason_bound` on :attr:`FeatureSpec.reason_side`. Boolean like ``values``
    (NaN: false); None when nothing limits it (no side, or neither limit known).

    For a categorical ``spec``, ``typical`` is the level most customers hold
    (:func:`churnml.reasons.typical_values`) and the reason is true of any other level, or a missing
    value (whose sentence is not said anyway): "product tier: basic" where 56 % of customers are
    basic says nothing of the customer.

    >>> tier = FeatureSpec("product_tier", "", "customers", None, "categorical", 0, "product tier: {product_tier}")
    >>> reason_is_true(tier, pd.Series(["basic", "plus", None]), "basic").tolist()
    [False, True, True]
    """
    if spec.kind == "categorical":
        if typical is None:
            return None
        column = pd.Series(values, dtype=object)
        return ~(column.notna() & (column.astype(str) == str(typical))).to_numpy()
    limits = [v for v in (typical, spec.reason_bound) if v is not None]
    if spec.reason_side == 0 or not limits:
        return None
    with np.errstate(invalid="ignore"):
        if spec.reason_side > 0:
            return values > max(limits)
        return values < min(limits)


class _ReasonFormatter(string.Formatter):
    """``str.format`` plus the conversion ``!m``, the magnitude: "spend down {spend_trend_pct!m:.0f}%"
    reads "spend down 40%" for -40; and the format prefix ``scale=LOW:HIGH:``, a 1-5 score shown
    on the LOW-HIGH scale (:func:`on_survey_scale`)."""

    def convert_field(self, value: Any, conversion: str | None) -> Any:
        return abs(value) if conversion == "m" else super().convert_field(value, conversion)

    def format_field(self, value: Any, format_spec: str) -> Any:
        if format_spec.startswith("scale="):
            low, high, format_spec = format_spec[len("scale="):].split(":", 2)
            value = float(low) + (float(value) - 1.0) * (float(high) - float(low)) / 4.0
        return super().format_field(value, format_spec)


_REASON_FORMAT = _ReasonFormatter()


SATISFACTION_FEATURES = ("last_satisfaction", "lowest_satisfaction_365d")
"""Features holding satisfaction scores, on 1-5 whatever the survey's scale."""
COMPLAINT_FEATURES = ("complaints_30d", "complaints_90d", "complaints_365d", "unresolved_complaints",
                      "oldest_unresolved_complaint_days", "days_since_last_complaint")
"""Features counting or dating complaints: one complaint raises all of them."""
ACCOUNT_MANAGER_FEATURES = ("days_since_account_manager_change", "account_manager_changes_365d")
"""Features dating or counting changes of account manager: two changes raise both."""
REASON_FAMILIES: dict[str, tuple[str, ...]] = {
    **{name: ("satisfaction",) for name in SATISFACTION_FEATURES},
    **{name: ("complaint",) for name in COMPLAINT_FEATURES},
    "max_resolution_days": ("resolution",),
    **{name: ("account manager",) for name in ACCOUNT_MANAGER_FEATURES},
    # Made of the complaints, the last satisfaction score and the resolution times: beside any of
    # them it says the same thing again, less precisely.
    "service_experience_score": ("complaint", "satisfaction", "resolution"),
}
"""Features whose reasons say one thing in different sentences, and the families of that thing: a
customer gets the strongest reason of a family only, and no reason of a family that an earlier
reason's families already hold ("a satisfaction score of 4/10 in the last year; last satisfaction
score 4/10" was two of three reasons about one survey; "a complaint open for 40 days; complained
40 days ago" and "poor service experience (score 35/100); complained 12 days ago" two about one
complaint: 415 of the demo's 9,137 customers had two or three such reasons; "account manager changed 27
days ago; 2 account manager changes in the last year" two about one change of account manager)."""
SILENCE_FEATURES = ("days_since_last_purchase", "recency_vs_usual_gap")
"""Features whose reasons say how long the customer has not bought ("no purchase for 400 days", "... (usually
every 20)"). A window's "no purchase in the last 365 days" or "has not spent anything in the last 365 days"
(:func:`says_none_in`) for a customer silent at least that long says nothing more: there it is of their
families, a composite of them (:func:`churnml.reasons.explain`), and yields to whichever of them is shown
("no purchase for 400 days; no purchase in the last 365 days" was two of three reasons about one silence).
Where none of them is shown, it says the silence, with the first one's sentence: "no purchase in the last
30 days" for a customer gone 1,696 days read as a recent slowdown. A fall to nothing (:data:`FALL_TO_NOTHING`)
that starts with such a window yields to them likewise ("has not spent anything in the last 90 days, having
spent 3 in the 90 days before; no purchase for 156 days"), but where none is shown keeps its own sentence,
which is true and says what was spent before."""
SERVICE_POOR_BELOW = 55.0
"""The service experience score (neutral 60) below which it reads "poor service experience": more than
one recent complaint's worth (5 points) below neutral (see ``_service_features``)."""
SATISFACTION_POOR_BELOW = 3.0 - (60.0 - SERVICE_POOR_BELOW) / 10.0
"""The satisfaction score (1-5) below which it is a reason, 2.5: 2 or lower, the score that alone takes the
service experience score (neutral 60, 10 points per step from a neutral 3) below :data:`SERVICE_POOR_BELOW`.
3 is the middle of the scale: "last satisfaction score 3/5" (the typical customer's last is 4) was a
churn reason for 67 of 1,356 scored customers (3,000 generated, seed 11; for 79 once "product tier: basic"
no longer was one). On a survey of 0-10 (``[input] satisfaction_scale``) it takes 3 of 10 or lower."""
ACCOUNT_MANAGER_RECENT_DAYS = 150.0
"""Days since a change of account manager within which it is a reason ("account manager changed 140 days
ago"). Most customers never had one (a typical value of :data:`NEVER_DAYS`), so any change, however old,
read as a reason where the trees raised the risk for it. In the generated data (``churnml generate``: the
churn hazard is raised for four months after the month of the change, and a leaver winds down over up to
two more) customers whose manager changed up to 90 days before a cutoff closed their account in the next
90 days at 27-31 %, 90-120 days 21 %, 120-150 days 12 %, and from 150 days on at 4-6 %, as those whose
change was years back (3,000 generated, seed 11, monthly cutoffs 2022-2025)."""
RESOLUTION_FEATURES = ("unresolved_complaints", "oldest_unresolved_complaint_days", "mean_resolution_days",
                       "max_resolution_days")
"""Features read from service events' ``resolved_at``: without it every complaint is open."""


def on_survey_scale(specs: Sequence[FeatureSpec], scale: tuple[float, float]) -> list[FeatureSpec]:
    """``specs`` with the satisfaction reasons on the survey's own scale (``[input]
    satisfaction_scale``): the features are on 1-5, and a member who answered 3 of 10 read "last
    satisfaction score 2/5", a detractor's 5 of 10 "3/5". The scores themselves do not change.

    Example
    -------
    >>> spec = FeatureSpec("last_satisfaction", "", "service_events", None, "numeric", -1,
    ...                    "last satisfaction score {last_satisfaction:.0f}/5")
    >>> render_reason(on_survey_scale([spec], (0.0, 10.0))[0], {"last_satisfaction": 2.2})
    'last satisfaction score 3/10'
    """
    low, high = scale
    if (low, high) == (1.0, 5.0):
        return list(specs)
    survey = f"{{\\1:scale={low:g}:{high:g}:.0f}}/{high:g}"
    return [replace(spec, reason=re.sub(r"\{(\w+):\.0f\}/5", survey, spec.reason))
            if spec.name in SATISFACTION_FEATURES and spec.reason else spec for spec in specs]


def singular_counts(text: str) -> str:
    """A count of one takes the singular: "1 unresolved complaints" -> "1 unresolved complaint".

    Example
    -------
    >>> singular_counts("1 account manager changes in the last year; 21 calls; complained 1 days ago")
    '1 account manager change in the last year; 21 calls; complained 1 day ago'
    """
    if not (text.startswith("1 ") or " 1 " in text):  # the usual case, cheaply (a million customers)
        return text
    return _ONE_PLURAL.sub(lambda m: f"1 {m.group(1)}{_SINGULAR[m.group(2)]}", text)


def plural_counts(template: str) -> str:
    """The inverse for a reason whose numbers became ``N``: "N complaint" -> "N complaints"
    (so "1 call" and "3 calls" read as one template)."""
    return _N_SINGULAR.sub(lambda m: f"N {m.group(1)}{_PLURALS[m.group(2)]}", template)


def table_columns(dataset: Dataset) -> dict[str, frozenset[str]]:
    """Tables present in ``dataset`` and their columns: what decides which features exist."""
    return {table: frozenset(dataset.con.table(table).columns) for table in dataset.tables}


def cutoffs_sql(cutoffs: Sequence[pd.Timestamp], config: Config) -> str:
    """A relation of the cutoffs with every window boundary precomputed.

    Columns: ``cutoff``, ``cutoff_day`` (days since 1970, fractional), ``start_<n>d`` for the
    feature windows, ``start_active`` (population activity window) and ``label_end``
    (``cutoff + horizon``). Precomputing the boundaries keeps the per-event comparisons to plain
    timestamp comparisons, which are exact (no floating-point edge at a window boundary).
    """
    cutoffs = normalize_cutoffs(cutoffs)
    rows = ", ".join(f"(TIMESTAMP '{c.isoformat(sep=' ')}')" for c in cutoffs)
    days = sorted(set(TRANSACTION_WINDOWS) | set(SERVICE_WINDOWS) | {TREND_DAYS, 2 * TREND_DAYS})
    starts = ", ".join(f"cutoff - INTERVAL '{n}' DAY AS start_{n}d" for n in days)
    problem = config.problem
    return (
        f"SELECT cutoff, {_day('cutoff')} AS cutoff_day, {starts}, "
        f"cutoff - INTERVAL '{problem.active_days}' DAY AS start_active, "
        f"cutoff + INTERVAL '{problem.horizon_days}' DAY AS label_end "
        f"FROM (VALUES {rows}) AS v(cutoff)"
    )


def normalize_cutoffs(cutoffs: Iterable[Any]) -> list[pd.Timestamp]:
    """Cutoffs as sorted, distinct, timezone-naive :class:`pandas.Timestamp` (UTC wall time)."""
    out = set()
    for cutoff in cutoffs:
        stamp = pd.Timestamp(cutoff)
        if pd.isna(stamp):
            raise ProblemError(f"Cutoff {cutoff!r} is not a date. Pass dates such as 2024-01-01.")
        if stamp.tzinfo is not None:
            stamp = stamp.tz_convert("UTC").tz_localize(None)
        out.add(stamp)
    if not out:
        raise ProblemError("No cutoff given. Pass at least one cutoff date.")
    return sorted(out)


def population_body(
    layout: Mapping[str, frozenset[str]],
    config: Config,
    activity: str,
    alias: str = "act",
    columns: str = "cu.customer_id, k.cutoff",
    joins: Sequence[str] = (),
) -> str:
    """SELECT of the population at each cutoff (DESIGN.md, "population at a cutoff").

    A customer is in the population at cutoff ``c`` when

    * they existed before ``c``: ``signup_date < c``, or, without a sign-up date, a transaction
      before ``c`` (otherwise a customer who arrived later would sit in early cutoffs as a
      customer who "stayed");
    * with ``churn_events``: no churn event before ``c``;
    * without ``churn_events``: a transaction in ``[c - active_days, c)``.

    Parameters
    ----------
    layout : mapping
        Tables and their columns (:func:`table_columns`).
    config : Config
    activity : str
        Name of a relation with ``customer_id, cutoff, first_txn_ts, last_txn_ts``: each
        customer's first and last transaction before each cutoff (see :func:`activity_body`).
        The feature query passes its transaction aggregates, so nothing is scanned twice.
    alias : str
        The alias ``activity`` gets in the query (columns may refer to it).
    columns : str
        What to select; the feature query selects its features here, over ``cu`` (customers),
        ``k`` (cutoffs), the activity alias and ``joins``.
    joins : sequence of str
        More (LEFT) JOIN clauses for ``columns``; they must not drop or repeat rows.

    Returns
    -------
    str
        SQL selecting ``columns`` (by default ``customer_id, cutoff``) for each (customer, cutoff)
        in the population; expects a ``cutoffs`` relation (:func:`cutoffs_sql`).
    """
    sources, conditions = population_rule(layout, activity, alias)
    return f"SELECT {columns} FROM {' '.join([*sources, *joins])} WHERE {' AND '.join(conditions.values())}"


def population_rule(layout: Mapping[str, frozenset[str]], activity: str,
                    alias: str = "act") -> tuple[list[str], dict[str, str]]:
    """The population rule of :func:`population_body` as its parts: the FROM clauses (``customers
    AS cu``, ``cutoffs AS k``, ``activity`` as ``alias`` and, with ``churn_events``, ``ce`` with
    each customer's ``first_churn_ts``) and the conditions, by what each says: ``existed``, then
    ``open`` (with ``churn_events``) or ``active`` (without). A customer is in the population
    when every condition holds; a NULL counts as false. :func:`churnml.labels.outside_population`
    reads the same parts to say which condition left a customer out."""
    exists = f"{alias}.first_txn_ts IS NOT NULL"
    if "signup_date" in layout["customers"]:
        exists = f"(cu.signup_date < k.cutoff OR (cu.signup_date IS NULL AND {exists}))"
    conditions = {"existed": exists}
    sources = [
        "customers AS cu",
        "CROSS JOIN cutoffs AS k",
        f"LEFT JOIN {activity} AS {alias} ON {alias}.customer_id = cu.customer_id AND {alias}.cutoff = k.cutoff",
    ]
    if "churn_events" in layout:
        sources.append(f"LEFT JOIN ({FIRST_CHURN_SQL}) AS ce ON ce.customer_id = cu.customer_id")
        conditions["open"] = "(ce.first_churn_ts IS NULL OR ce.first_churn_ts >= k.cutoff)"
    else:
        conditions["active"] = f"{alias}.last_txn_ts >= k.start_active"
    return sources, conditions


FIRST_CHURN_SQL = "SELECT customer_id, MIN(timestamp) AS first_churn_ts FROM churn_events GROUP BY customer_id"
"""Each customer's first churn event: one closed before a cutoff is outside its population."""


def _open_events(layout: Mapping[str, frozenset[str]], events: str, alias: str) -> str:
    """``events`` (a FROM clause of an event table as ``alias`` joined to ``cutoffs AS k``) without
    the events of customers closed before the cutoff, when there are ``churn_events``: they are
    outside the population (:func:`population_rule`), so nothing computed from them is used.
    Expects the feature query's ``fc`` relation (:data:`FIRST_CHURN_SQL`) and adds a WHERE clause."""
    if "churn_events" not in layout:
        return events
    return (f"{events} LEFT JOIN fc ON fc.customer_id = {alias}.customer_id "
            "WHERE (fc.first_churn_ts IS NULL OR fc.first_churn_ts >= k.cutoff)")


def activity_body() -> str:
    """SELECT of each customer's first and last transaction before each cutoff."""
    return (
        "SELECT t.customer_id, k.cutoff, MIN(t.timestamp) AS first_txn_ts, MAX(t.timestamp) AS last_txn_ts "
        "FROM transactions AS t JOIN cutoffs AS k ON t.timestamp < k.cutoff GROUP BY t.customer_id, k.cutoff"
    )


# --------------------------------------------------------------------------------------------
# The feature definitions
# --------------------------------------------------------------------------------------------


def _features(layout: Mapping[str, frozenset[str]], attributes: Mapping[str, str]) -> list[_Feature]:
    """Every feature for this data layout: spec and SQL side by side."""
    feats: list[_Feature] = []

    def add(name: str, sql: str, description: str, source: str, window: str | None,
            monotone: int = 0, reason: str | None = None, missing: str | None = None,
            side: int | None = None, bound: float | None = None) -> None:
        """``side`` defaults to ``monotone``: a constrained feature's reason reads its way."""
        side = monotone if side is None else side
        if reason is not None and side == 0:
            raise ValueError(f"the reason of {name} needs a side: which values make it true")
        spec = FeatureSpec(name, description, source, window, "numeric", monotone, reason, missing,
                           side if reason is not None else 0, bound)
        feats.append(_Feature(spec, f"CAST({sql} AS DOUBLE)"))

    never = f"{NEVER_DAYS:.0f} when it never happened before the cutoff"
    tx = "transactions"
    # How active a customer is constrains the churn risk one way only where churn *is* inactivity
    # (no churn_events: the non-contractual label). Where churn is an account closure, dormant
    # accounts close least: on the demo data the churn rate rose from 7.5 % (silent a week) to
    # 16 % (1-3 months), then fell to 0.3 % (6-12 months). A constraint forced long silences to
    # raise the risk, and reasons said so. There, the trees learn the shape; the reasons keep
    # reading their way (``side``) and show only where the silence does raise the risk.
    activity = 0 if "churn_events" in layout else 1

    # -- transactions: recency, frequency, monetary ------------------------------------------
    add("days_since_last_purchase", f"COALESCE(k.cutoff_day - ta.last_purchase_day, {NEVER_DAYS})",
        "Days from the last purchase (a transaction with amount >= 0) to the cutoff.", tx, "lifetime",
        +activity, "no purchase for {days_since_last_purchase:,.0f} days", never, side=+1)
    add("days_since_first_purchase", "k.cutoff_day - ta.first_purchase_day",
        "Days from the first purchase to the cutoff (age of the buying relationship).", tx, "lifetime",
        0, None, "missing (NaN) when the customer never purchased")
    for days in TRANSACTION_WINDOWS:
        add(f"frequency_{days}d", f"COALESCE(ta.purchases_{days}d, 0)",
            f"Number of purchases in the {days} days before the cutoff.", tx, f"{days}d",
            -activity, f"only {{frequency_{days}d:.0f}} purchases in the last {days} days", side=-1)
    add("frequency_lifetime", "COALESCE(ta.purchases_lifetime, 0)",
        "Number of purchases before the cutoff.", tx, "lifetime", -activity, None)
    for days in TRANSACTION_WINDOWS:
        add(f"monetary_{days}d", f"COALESCE(ta.spend_{days}d, 0)",
            f"Net spend (purchases minus refunds) in the {days} days before the cutoff.", tx, f"{days}d",
            0, f"spent {{monetary_{days}d:,.0f}} in the last {days} days", side=-1)
    add("monetary_lifetime", "COALESCE(ta.spend_lifetime, 0)",
        "Net spend (purchases minus refunds) before the cutoff.", tx, "lifetime", 0, None)

    # -- trends -------------------------------------------------------------------------------
    cur, prev = f"COALESCE(ta.spend_{TREND_DAYS}d, 0)", "COALESCE(ta.spend_prev, 0)"
    add("spend_prev_90d", prev,
        "Net spend in the 90 days before the last 90 (days 91-180 before the cutoff).", tx, "prev 90d", 0, None)
    add("spend_trend_pct",
        f"CASE WHEN {prev} > 0 THEN 100.0 * ({cur} - {prev}) / {prev} WHEN {cur} > 0 THEN 100.0 ELSE 0.0 END",
        "Change in net spend (purchases minus refunds), last 90 days vs the 90 before, in percent of "
        "the 90 before: -100 for none now, below -100 when refunds outweigh purchases now (-150 for "
        "net refunds of half the spend before). A net spend of 0 or less in the 90 before (refunds "
        "outweighing purchases) counts as none: then +100 when there is some now, else 0.", tx, "90d vs prev 90d",
        -1, "spend down {spend_trend_pct!m:.0f}% on the previous quarter", bound=0.0)
    add("frequency_trend",
        f"COALESCE(ta.purchases_{TREND_DAYS}d, 0) - COALESCE(ta.purchases_prev, 0)",
        "Purchases in the last 90 days minus purchases in the 90 before.", tx, "90d vs prev 90d",
        -1, "{frequency_trend!m:.0f} fewer purchases than in the previous quarter", bound=0.0)

    # -- inter-purchase gaps ------------------------------------------------------------------
    # The gaps between consecutive purchases telescope: n purchases make n - 1 gaps that add
    # up to last - first, so the mean needs no ordering; only the spread does (ta.gap_std).
    gaps = "ta.purchases_lifetime - 1"
    mean_gap = f"CASE WHEN {gaps} > 0 THEN (ta.last_purchase_day - ta.first_purchase_day) / ({gaps}) END"
    add("mean_gap_days", mean_gap,
        "Mean days between consecutive purchases before the cutoff.", tx, "lifetime", 0, None,
        "missing (NaN) with fewer than two purchases")
    add("gap_std_days", f"CASE WHEN {gaps} > 0 THEN ta.gap_std END",
        "Standard deviation of the days between consecutive purchases (0 = clockwork).", tx, "lifetime", 0, None,
        "missing (NaN) with fewer than two purchases")
    # CASE, not GREATEST alone: GREATEST skips NULLs and would turn "no usual gap" into 1 day.
    add("recency_vs_usual_gap",
        f"CASE WHEN {gaps} > 0 THEN (k.cutoff_day - ta.last_purchase_day) / GREATEST({mean_gap}, 1.0) END",
        "Days since the last purchase divided by the usual gap between purchases (gap floored at "
        "1 day); above 1 means overdue.", tx, "lifetime", +activity,
        "no purchase for {days_since_last_purchase:,.0f} days (usually every {mean_gap_days:,.0f})",
        "missing (NaN) with fewer than two purchases", side=+1, bound=1.0)

    # -- refunds ------------------------------------------------------------------------------
    add("refunds_365d", "COALESCE(ta.refunds_365d, 0)",
        "Number of refunds/returns (amount < 0) in the 365 days before the cutoff.", tx, "365d",
        0, "{refunds_365d:.0f} refunds in the last year", side=+1)
    add("refund_amount_365d", "COALESCE(ta.refund_amount_365d, 0)",
        "Total refunded amount (as a positive number) in the 365 days before the cutoff.", tx, "365d", 0, None)

    # -- diversity ----------------------------------------------------------------------------
    if "category" in layout[tx]:
        add("distinct_categories", "COALESCE(ta.distinct_categories, 0)",
            "Number of distinct product categories in the transactions before the cutoff, refunds included "
            "(a category only returned counts).", tx, "lifetime", 0, None)
    if "channel" in layout[tx]:
        add("distinct_channels", "COALESCE(ta.distinct_channels, 0)",
            "Number of distinct sales channels in the transactions before the cutoff, refunds included.", tx, "lifetime", 0, None)

    # -- service history ----------------------------------------------------------------------
    if "service_events" in layout:
        _service_features(layout["service_events"], add)

    # -- customer -----------------------------------------------------------------------------
    since = "cu.signup_date" if "signup_date" in layout["customers"] else "NULL"
    add("tenure_days", f"k.cutoff_day - {_day(f'COALESCE({since}, ta.first_txn_ts)')}",
        "Days from sign-up to the cutoff; from the first transaction when the sign-up date is unknown.",
        "customers", None, 0, "customer for {tenure_days:,.0f} days, newer than most",
        "missing (NaN) with no sign-up date and no transaction", side=-1)
    taken = {f.spec.name for f in feats} | _RESERVED
    for column, kind in attributes.items():
        name = _UNSAFE_NAME.sub("_", column)
        name = name if name not in taken else f"customer_{name}"
        while name in taken:  # "price.eur" and "price_eur" both
            name += "_"
        taken.add(name)
        sql = f"cu.{_q(column)}" if kind == "categorical" else f"CAST(cu.{_q(column)} AS DOUBLE)"
        label = attribute_label(column).replace("{", "{{").replace("}", "}}")
        spec = FeatureSpec(
            name, f"Customer attribute {column!r} from the customers table (current snapshot).",
            # A number as written ("age: 57", "credit limit: 12,500"), not as a float ("57.0").
            "customers", None, kind, 0, f"{label}: {{{name}{':,.10g' if kind == 'numeric' else ''}}}",
            "missing when the customers table has no value", column=column,
        )
        feats.append(_Feature(spec, sql))
    return feats


def attribute_columns(columns: Iterable[str]) -> dict[str, str]:
    """The customer attributes a feature table holds (a snapshot `churnml score` wrote): the
    ``customers`` column's name -> the feature table's column of it, by the naming rule of
    :func:`_features` undone (``customer_<name>`` for a column named as a feature or a
    :data:`_RESERVED` column; characters of :data:`_UNSAFE_NAME` read ``_``, which cannot be undone).

    >>> attribute_columns(["customer_id", "cutoff", "tenure_days", "region", "customer_split", "customer_tenure_days"])
    {'region': 'region', 'split': 'customer_split', 'tenure_days': 'customer_tenure_days'}
    """
    computed = {f.spec.name for f in _features({t: frozenset(s.all_columns) for t, s in TABLES.items()}, {})}
    attributes = {}
    for column in columns:
        if column in computed or column in _RESERVED:
            continue
        base = column.removeprefix("customer_")
        attributes[base if column != base and (base in computed or base in _RESERVED) else column] = column
    return attributes


_SAID_AS = {"tickets": "support tickets", "calls": "customer service calls"}
"""How a reason names the service events it counts: "1 call in the last 30 days" on a retention list read,
to the people making the calls, as the company's own call (512 of 2,341 scored customers had such a
reason; 5,000 generated, seed 7)."""


def _service_features(columns: frozenset[str], add: Callable[..., None]) -> None:
    """Add the service-history features through ``add`` (see :func:`_features`)."""
    se = "service_events"
    never = f"{NEVER_DAYS:.0f} when it never happened before the cutoff"
    complaint_reasons = {30: "{complaints_30d:.0f} complaints in the last 30 days",
                         90: "{complaints_90d:.0f} complaints in the last 90 days",
                         365: "{complaints_365d:.0f} complaints in the last year"}
    for event_type, stem in list(EVENT_TYPES.items()) + [("other", "other_service_events")]:
        for days in SERVICE_WINDOWS:
            name = f"{stem}_{days}d"
            what = f"'{event_type}' service events" if event_type != "other" else "other service events"
            if event_type == "complaint":
                reason, monotone = complaint_reasons[days], +1
            elif event_type in ("ticket", "call"):
                reason, monotone = f"{{{name}:.0f}} {_SAID_AS.get(stem, stem)} in the last {days} days", 0
            else:
                reason, monotone = None, 0
            add(name, f"COALESCE(sa.{name}, 0)", f"Number of {what} in the {days} days before the cutoff.",
                se, f"{days}d", monotone, reason, side=+1)
    add("complaints_lifetime", "COALESCE(sa.complaints_lifetime, 0)",
        "Number of complaints before the cutoff.", se, "lifetime", 0, None)
    if "resolved_at" in columns:
        add("unresolved_complaints", "COALESCE(sa.unresolved_complaints, 0)",
            "Complaints made before the cutoff and not resolved before it (resolved_at empty or on/after the cutoff).",
            se, "lifetime", +1, "{unresolved_complaints:.0f} unresolved complaints")
        add("oldest_unresolved_complaint_days", "COALESCE(k.cutoff_day - sa.oldest_unresolved_day, 0)",
            "Days the oldest complaint still unresolved at the cutoff has been open (0 = none open).",
            se, "lifetime", +1, "a complaint open for {oldest_unresolved_complaint_days:.0f} days")
        add("mean_resolution_days", "sa.mean_resolution_days",
            "Mean days from opening to resolution of service events resolved before the cutoff.",
            se, "lifetime", 0, None, "missing (NaN) when nothing was resolved before the cutoff")
        add("max_resolution_days", "sa.max_resolution_days",
            "Longest days from opening to resolution of a service event resolved before the cutoff.",
            se, "lifetime", 0, "a service request took {max_resolution_days:.0f} days to resolve",
            "missing (NaN) when nothing was resolved before the cutoff", side=+1)
    if "satisfaction" in columns:
        # A reason only when poor (2 or lower), not at the scale's neutral 3 (SATISFACTION_POOR_BELOW).
        add("last_satisfaction", "sa.last_satisfaction",
            "The most recent satisfaction score (1-5) before the cutoff.", se, "lifetime",
            -1, "last satisfaction score {last_satisfaction:.0f}/5", "missing (NaN) when never rated",
            bound=SATISFACTION_POOR_BELOW)
        add("lowest_satisfaction_365d", "sa.lowest_satisfaction_365d",
            "The lowest satisfaction score (1-5) in the 365 days before the cutoff.", se, "365d",
            -1, "a satisfaction score of {lowest_satisfaction_365d:.0f}/5 in the last year",
            "missing (NaN) when not rated in the window", bound=SATISFACTION_POOR_BELOW)
    add("days_since_last_complaint", f"COALESCE(k.cutoff_day - sa.last_complaint_day, {NEVER_DAYS})",
        "Days from the last complaint to the cutoff.", se, "lifetime",
        -1, "complained {days_since_last_complaint:.0f} days ago", never)
    add("days_since_account_manager_change", f"COALESCE(k.cutoff_day - sa.last_am_change_day, {NEVER_DAYS})",
        f"Days since the last '{ACCOUNT_MANAGER_CHANGE}' service event.", se, "lifetime",
        # Only a recent change (ACCOUNT_MANAGER_RECENT_DAYS): in the generated data the churn it
        # brings is over by 150 days, and the typical customer, never changed, would make any change a reason.
        0, "account manager changed {days_since_account_manager_change:.0f} days ago", never, side=-1,
        bound=ACCOUNT_MANAGER_RECENT_DAYS)
    add("account_manager_changes_365d", "COALESCE(sa.am_changes_365d, 0)",
        f"Number of '{ACCOUNT_MANAGER_CHANGE}' service events in the 365 days before the cutoff.", se, "365d",
        # One change is what "account manager changed N days ago" says already: the count is a
        # reason from two on (customers got both sentences for the same change).
        0, "{account_manager_changes_365d:.0f} account manager changes in the last year", side=+1, bound=1)
    # Higher = better. A transparent heuristic, not a fitted model: start at 60, move 10 points
    # per satisfaction step away from a neutral 3, lose 10 per unresolved complaint (up to 3),
    # 5 per complaint in the last 90 days (up to 4) and up to 10 for slow resolution (30+ days).
    score = "60.0 - 5.0 * LEAST(COALESCE(sa.complaints_90d, 0), 4)"
    parts = ["5 per complaint in the last 90 days (at most 4)"]
    if "satisfaction" in columns:
        score += " + 10.0 * (COALESCE(sa.last_satisfaction, 3.0) - 3.0)"
        parts.insert(0, "+10 per point of the last satisfaction score above 3 (-10 per point below; unrated counts as 3)")
    if "resolved_at" in columns:
        score += (" - 10.0 * LEAST(COALESCE(sa.unresolved_complaints, 0), 3)"
                  " - 10.0 * LEAST(COALESCE(sa.mean_resolution_days, 0.0), 30.0) / 30.0")
        parts += ["10 per unresolved complaint (at most 3)", "up to 10 for a mean resolution time of 30+ days"]
    # "Poor" needs more than 5 points below the neutral 60, what one complaint in the last 90 days
    # costs: within 5 of it, with no complaint and no low survey score, only resolution time can
    # have taken the score there, at a third of a point per day of mean resolution, so a request
    # resolved in 1-3 days read "poor service experience (score 59/100)" (76 of 1,356 scored
    # customers, 3,000 generated, seed 11). Below 55 it takes a complaint in the last 90 days, an
    # unresolved one, a survey score of 2 or lower, or a mean resolution of more than 15 days.
    add("service_experience_score", f"GREATEST(0.0, LEAST(100.0, {score}))",
        "Service experience, 0 (bad) to 100 (good): starts at 60; " + "; minus ".join(parts) + ".",
        se, "lifetime", -1, "poor service experience (score {service_experience_score:.0f}/100)", bound=SERVICE_POOR_BELOW)


# --------------------------------------------------------------------------------------------
# SQL building blocks
# --------------------------------------------------------------------------------------------


def _day(expr: str) -> str:
    """A timestamp as fractional days since 1970 — the one engine-specific date call."""
    return f"(epoch({expr}) / 86400.0)"


def _count(condition: str) -> str:
    """Rows where ``condition`` is true. COUNT_IF rather than COUNT(CASE ...): no CASE to
    evaluate per row (a fifth less time per count in DuckDB); Spark has COUNT_IF too."""
    return f"COUNT_IF({condition})"


def _transaction_ctes(layout: Mapping[str, frozenset[str]], values: Mapping[str, Sequence[str] | None],
                      single_cutoff: bool, engine: str = "duckdb") -> list[tuple[str, str]]:
    """``tm`` (one aggregate pass over transactions) and ``ta`` (``tm`` plus what needs more).

    ``ta`` adds the spread of purchase gaps and, without the category/channel values, the
    distinct counts from their own GROUP BYs. See "Cost" in the module docs.
    """
    if engine not in ("duckdb", "spark"):
        raise ValueError(f"engine must be 'duckdb' or 'spark', not {engine!r}")
    columns = layout["transactions"]
    purchase = "t.amount >= 0"
    refund = "t.amount < 0"
    events = "transactions AS t JOIN cutoffs AS k ON t.timestamp < k.cutoff"
    # Days since 1970 of the aggregated timestamps, not per row: the same numbers (epoch is
    # monotone), computed per (customer, cutoff) instead of per transaction.
    aggs = [
        "MIN(t.timestamp) AS first_txn_ts",
        "MAX(t.timestamp) AS last_txn_ts",
        f"{_day(f'MAX(CASE WHEN {purchase} THEN t.timestamp END)')} AS last_purchase_day",
        f"{_day(f'MIN(CASE WHEN {purchase} THEN t.timestamp END)')} AS first_purchase_day",
        f"{_count(purchase)} AS purchases_lifetime",
        "SUM(t.amount) AS spend_lifetime",
    ]
    for days in TRANSACTION_WINDOWS:
        aggs.append(f"{_count(f'{purchase} AND t.timestamp >= k.start_{days}d')} AS purchases_{days}d")
        aggs.append(f"SUM(CASE WHEN t.timestamp >= k.start_{days}d THEN t.amount ELSE 0 END) AS spend_{days}d")
    prev = f"t.timestamp >= k.start_{2 * TREND_DAYS}d AND t.timestamp < k.start_{TREND_DAYS}d"
    aggs += [
        f"{_count(f'{purchase} AND {prev}')} AS purchases_prev",
        f"SUM(CASE WHEN {prev} THEN t.amount ELSE 0 END) AS spend_prev",
        f"{_count(f'{refund} AND t.timestamp >= k.start_365d')} AS refunds_365d",
        f"SUM(CASE WHEN {refund} AND t.timestamp >= k.start_365d THEN -t.amount ELSE 0 END) AS refund_amount_365d",
    ]
    # Distinct categories/channels before the cutoff. With the column's values known (few of
    # them), each value is a bit and BIT_OR collects the customer's set in this same pass.
    # Otherwise each value's first use: a GROUP BY on (customer, value), and a value counts at
    # a cutoff iff first used before it.
    separate = []
    for column, stem in _DIVERSITY.items():
        if column not in columns:
            continue
        known = values.get(column)
        if known is not None and len(known) <= MAX_BITMASK_VALUES:
            bits = " ".join(f"WHEN {_lit(v)} THEN {1 << i}" for i, v in enumerate(known))
            mask = f"CASE t.{_q(column)} {bits} ELSE 0 END" if known else "0"
            aggs.append(f"BIT_COUNT(BIT_OR({mask})) AS distinct_{stem}")
        else:
            separate.append((column, stem))
    # Spread of the gaps between consecutive purchases before the cutoff (population standard
    # deviation; one purchase gives NULL, two give 0): the only feature that needs the
    # purchases in time order. Two forms, same numbers (the Spark parity test runs both):
    # - DuckDB: the main pass also collects each customer's purchase days into a list, which
    #   is sorted on its own (a few dozen values), and the list functions take the spread of
    #   its differences: 3.7 s of CPU against the window's 7.8 s at 1 M customers.
    # - Spark (portable SQL): a LAG window over the purchases, then STDDEV_POP of the gaps.
    day = _day("t.timestamp")
    if engine == "duckdb":
        aggs.append(f"LIST({day}) FILTER (WHERE {purchase}) AS purchase_days")
    open_events = _open_events(layout, events, "t")
    ctes = [("tm", f"SELECT t.customer_id, k.cutoff, {', '.join(aggs)} FROM {open_events} GROUP BY t.customer_id, k.cutoff")]
    picks = ["tm.* EXCLUDE (purchase_days, days)" if engine == "duckdb" else "tm.*"]
    joins = []
    for column, stem in separate:
        alias = f"d_{stem}"
        ctes.append((
            alias,
            "SELECT f.customer_id, k.cutoff, COUNT(*) AS n FROM ("
            f"SELECT customer_id, {_q(column)}, MIN(timestamp) AS first_ts FROM transactions "
            f"WHERE {_q(column)} IS NOT NULL GROUP BY customer_id, {_q(column)}) AS f "
            "JOIN cutoffs AS k ON f.first_ts < k.cutoff GROUP BY f.customer_id, k.cutoff",
        ))
        picks.append(f"{alias}.n AS distinct_{stem}")
        joins.append(f"LEFT JOIN {alias} ON {alias}.customer_id = tm.customer_id AND {alias}.cutoff = tm.cutoff")
    if engine == "duckdb":
        ta_from = "(SELECT *, LIST_SORT(purchase_days) AS days FROM tm) AS tm"
        picks.append("LIST_STDDEV_POP(LIST_TRANSFORM(days[2:], lambda d, i: d - days[i])) AS gap_std")
    else:
        # For one cutoff, only the purchases before it are sorted. For several, each customer's
        # whole history is sorted once and shared by all cutoffs: point-in-time safe, since a
        # gap looks only backwards, so every gap of a purchase before the cutoff is between two
        # purchases before the cutoff.
        gap = f"{day} - LAG({day}) OVER (PARTITION BY t.customer_id ORDER BY t.timestamp)"
        if single_cutoff:
            gaps = f"SELECT t.customer_id, k.cutoff, {gap} AS gap FROM {events} WHERE {purchase}"
        else:
            gaps = (
                f"SELECT g.customer_id, k.cutoff, g.gap FROM (SELECT t.customer_id, t.timestamp, {gap} AS gap "
                f"FROM transactions AS t WHERE {purchase}) AS g JOIN cutoffs AS k ON g.timestamp < k.cutoff"
            )
        ctes.append(("tg", f"SELECT customer_id, cutoff, STDDEV_POP(gap) AS gap_std FROM ({gaps}) AS gs GROUP BY customer_id, cutoff"))
        ta_from = "tm"
        picks.append("tg.gap_std")
        joins.append("LEFT JOIN tg ON tg.customer_id = tm.customer_id AND tg.cutoff = tm.cutoff")
    ctes.append(("ta", f"SELECT {', '.join(picks)} FROM {ta_from} {' '.join(joins)}".rstrip()))
    return ctes


def _service_ctes(layout: Mapping[str, frozenset[str]]) -> list[tuple[str, str]]:
    columns = layout["service_events"]
    known = ", ".join(f"'{t}'" for t in KNOWN_EVENT_TYPES)
    extra = [c for c in ("resolved_at", "satisfaction") if c in columns]
    sv = (
        f"SELECT customer_id, timestamp, {''.join(c + ', ' for c in extra)}{_day('timestamp')} AS t_day, "
        f"CASE WHEN event_type IN ({known}) THEN event_type ELSE 'other' END AS etype "
        "FROM service_events"
    )
    aggs = []
    for event_type, stem in list(EVENT_TYPES.items()) + [("other", "other_service_events")]:
        for days in SERVICE_WINDOWS:
            in_window = f"s.etype = '{event_type}' AND s.timestamp >= k.start_{days}d"
            aggs.append(f"{_count(in_window)} AS {stem}_{days}d")
    complaint = "s.etype = 'complaint'"
    am_change = f"s.etype = '{ACCOUNT_MANAGER_CHANGE}'"
    aggs += [
        f"{_count(complaint)} AS complaints_lifetime",
        f"MAX(CASE WHEN {complaint} THEN s.t_day END) AS last_complaint_day",
        f"MAX(CASE WHEN {am_change} THEN s.t_day END) AS last_am_change_day",
        f"{_count(f'{am_change} AND s.timestamp >= k.start_365d')} AS am_changes_365d",
    ]
    if "resolved_at" in columns:
        open_at_cutoff = f"{complaint} AND (s.resolved_at IS NULL OR s.resolved_at >= k.cutoff)"
        duration = f"({_day('s.resolved_at')} - s.t_day)"
        aggs += [
            f"{_count(open_at_cutoff)} AS unresolved_complaints",
            f"MIN(CASE WHEN {open_at_cutoff} THEN s.t_day END) AS oldest_unresolved_day",
            f"AVG(CASE WHEN s.resolved_at < k.cutoff THEN {duration} END) AS mean_resolution_days",
            f"MAX(CASE WHEN s.resolved_at < k.cutoff THEN {duration} END) AS max_resolution_days",
        ]
    if "satisfaction" in columns:
        # The key breaks ties at the same timestamp towards the lower score, deterministically;
        # 1e-9 days is far below any real gap between two events (about 0.1 ms).
        aggs += [
            "ARG_MAX(s.satisfaction, s.t_day - 1e-9 * s.satisfaction) AS last_satisfaction",
            "MIN(CASE WHEN s.timestamp >= k.start_365d THEN s.satisfaction END) AS lowest_satisfaction_365d",
        ]
    sa = (
        f"SELECT s.customer_id, k.cutoff, {', '.join(aggs)} "
        f"FROM {_open_events(layout, 'sv AS s JOIN cutoffs AS k ON s.timestamp < k.cutoff', 's')} GROUP BY s.customer_id, k.cutoff"
    )
    return [("sv", sv), ("sa", sa)]


def _arrays(con: Any, sql: str) -> dict[str, np.ndarray]:
    """The result of ``sql`` as NumPy arrays, through ``fetchnumpy``: half the time of ``.df()``.

    Arrow (``to_arrow_table``) is faster still, but its buffers stay with DuckDB's allocator
    after use: with six cutoffs on a million customers that held 1.3 GB more at the peak than
    NumPy arrays do. NULLs come as masked arrays: NaN for numbers, None otherwise (as ``.df()``
    gives them once :func:`typed_feature_frame` has fixed the dtypes).
    """
    columns = {}
    for name, values in con.execute(sql).fetchnumpy().items():
        if isinstance(values, np.ma.MaskedArray):
            values = values.filled(np.nan) if values.dtype.kind == "f" else values.astype(object).filled(None)
        columns[name] = values
    return columns


def _with(ctes: Sequence[tuple[str, str]]) -> str:
    return "WITH " + ",\n".join(f"{name} AS (\n  {body}\n)" for name, body in ctes)


def _categories(dataset: Dataset, column: str | None) -> list[str]:
    rows = dataset.con.execute(
        f"SELECT DISTINCT {_q(column)} FROM customers WHERE {_q(column)} IS NOT NULL ORDER BY 1"
    ).fetchall()
    return [value for value, in rows]


def typed_feature_frame(frame: pd.DataFrame, specs: Sequence[FeatureSpec], levels: Mapping[str, list[str]]) -> pd.DataFrame:
    """Fix dtypes: string ids, naive timestamps, float64 numerics, categoricals with ``levels``.

    Whatever engine ran the query, the feature table leaves here with the same dtypes.
    """
    frame["customer_id"] = frame["customer_id"].astype(str)
    frame["cutoff"] = pd.to_datetime(frame["cutoff"])
    for spec in specs:
        name = spec.name
        if spec.kind == "categorical":
            frame[name] = pd.Categorical(frame[name].astype(object), categories=levels[name])
        else:
            frame[name] = frame[name].astype("float64")
    return frame


def _is_missing(value: Any) -> bool:
    if value is None:
        return True
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


__all__ = [
    "ACCOUNT_MANAGER_CHANGE",
    "AGE_FEATURES",
    "EVENT_TYPES",
    "MAX_BITMASK_VALUES",
    "NEVER_DAYS",
    "PURCHASE_FEATURES",
    "FeatureSpec",
    "build_features",
    "feature_description",
    "describe_features",
    "feature_specs",
    "feature_sql",
    "feature_query",
    "layout_feature_specs",
    "categorical_sources",
    "typed_feature_frame",
    "population_body",
    "population_rule",
    "activity_body",
    "cutoffs_sql",
    "normalize_cutoffs",
    "render_reason",
    "FALL_TO_NOTHING",
    "OVER_A_YEAR_AGO",
    "singular_counts",
    "plural_counts",
    "table_columns",
    "transaction_values",
    "bitmask_values",
    "DIVERSITY_COLUMNS",
]
