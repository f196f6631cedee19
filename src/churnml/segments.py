"""Risk tiers, value tiers, value × risk segments, lifecycle stages and suggested actions.

Risk tier (relative to the base rate)
    From ``churn_probability`` and the churn model's base rate (its test cutoff's churn rate):
    ``low`` below 1.5 times the base rate, ``medium`` from 1.5 times, ``high`` from 3 times
    (``config.segments.risk_multiples``; :func:`risk_cut_points`). With a 6.5 % base rate that is
    ``medium`` from 0.0975 and ``high`` from 0.195. ``config.segments.risk_thresholds`` sets fixed
    cut points instead; models trained before the base rate was recorded use 0.2 and 0.5.

Value tier (the 80/20 idea)
    On the value *if retained* (``predicted_value + value_at_risk``), not the expected value
    ``predicted_value``, which already takes the risk off: the matrix crosses value with risk, so
    a valuable customer about to leave belongs in ``high_value_at_risk``, not lower down the value
    axis because of that risk. With customers sorted by it, largest first, ``high`` holds the
    customers who together make the first 80 % of the population's total (the customer that crosses 80 %
    included), ``medium`` the next 15 % (up to 95 %), ``low`` the rest; shares come from
    ``config.segments.value_shares`` (default ``(0.8, 0.95)``). Customers with no positive value are
    always ``low``. The cut points are computed once over the whole population
    (:func:`value_thresholds`) and then applied to any subset (:func:`value_tiers`), so a chunk or a
    single API request gets the same tier it would get in a full run.

Segment (value tier × risk tier)

    ================  =====================  =====================  =====================
    value \\ risk      low                    medium                 high
    ================  =====================  =====================  =====================
    high              loyal_high_value       high_value_at_risk     high_value_at_risk
    medium            potential              potential              fleeing_low_value
    low               dormant                dormant                fleeing_low_value
    ================  =====================  =====================  =====================

    ``high_value_at_risk``  the few customers who make most of the value and show real risk: retain now.
    ``loyal_high_value``    most of the value, little risk: reward, do not disturb.
    ``potential``           mid value, not leaving: grow them.
    ``dormant``             little value, not leaving either: cheap reactivation.
    ``fleeing_low_value``   leaving, and not worth much: low-cost or no action.
    ``new_customer``        the ``dormant`` cells' customers in the ``new`` lifecycle stage (tenure
                            under :data:`NEW_CUSTOMER_DAYS`): little value so far because they have
                            only just started, not because they stopped; onboard them, there is
                            nothing to win back (551 of the demo's 9,137 customers, 97 of whom had
                            not bought yet, read "win-back e-mail").
    ``low_value_active``    the ``dormant`` cells' customers in the ``growing`` or ``stable`` stage:
                            little value, but buying as much as before or more; develop them
                            cheaply, there is nothing to win back (662 of the demo's 9,137
                            customers, 507 growing and 155 stable, read "win-back e-mail": a
                            purchase 19 days before and 4 in the last 90 days, medians, against
                            1,034 days and none for the lapsed ones left in ``dormant``).

    ``dormant`` keeps its ``declining`` and ``lapsed`` customers, the ones who slipped or stopped:
    :data:`STAGE_SEGMENTS` says which stages of a matrix cell get a segment of their own.

    Display names and actions can be overridden per key in ``[segments.names]`` and
    ``[segments.actions]``; keys outside :data:`SEGMENTS` are an error.

Talking point (per customer, from the reasons)
    The action says what to do with a segment; the talking point what to open with, from what the
    customer's strongest reason is about (its topic, :data:`churnml.schema.REASON_TOPICS`): a
    high-value customer at risk because of two unresolved complaints is not called with a tailored
    offer first but asked whether they were resolved. The same text goes with every segment's action,
    a call from the account manager or an automated e-mail, and to customers at any lifecycle stage (a
    slowdown is the strongest reason of growing customers too, a short tenure of some past their first
    180 days): the defaults say what to raise, not how, and neither "win back" nor "welcome".
    :data:`DEFAULT_TALKING_POINTS`, overridden per topic in
    ``[segments.talking_points]`` (keys outside the topics are an error); the first of the
    customer's reasons whose topic has a talking point gives it (``attribute`` has none by default:
    "region: west" says who the customer is, not what to talk about), none without reasons.

Lifecycle stage (from tenure, spend trend and the customer's own rhythm)
    ``new``        tenure under :data:`NEW_CUSTOMER_DAYS` (180) days, whatever the trend;
    ``lapsed``     no purchase in the last :data:`LAPSED_DAYS` (180) days, both periods of the trend
                   (a trend of 0 % read as ``stable``: 1,681 such customers in a trial, 856 of them
                   silent for over 1,000 days), nor in :data:`LAPSED_GAPS` (2) usual gaps between
                   the customer's purchases where that is longer;
    ``declining``  spend over the last period down by at least :data:`TREND_THRESHOLD` (25 %) on the
                   period before;
    ``growing``    spend up by at least 25 %;
    ``stable``     anything else (including unknown trend).

    A customer whose usual gap (``mean_gap_days``, from two purchases on) is longer than the trend's
    period (:data:`churnml.features.TREND_DAYS`, 90 days) has periods without a purchase as a rule,
    so the trend says nothing about them: such a customer is ``declining`` once the last purchase is
    25 % older than the usual gap (the rhythm slowed by a quarter), else ``stable``, until lapsed. A
    B2B export's 595 annual payers, paid up, read ``lapsed`` (256) or ``declining`` (125) and filled
    ``dormant`` (208) with win-back advice; now 86 are ``lapsed``, all in their first year with one
    invoice (no usual gap yet), 1 ``declining`` and 23 ``dormant``. Customers without a usual gap, or
    buying within every period, are judged as before (4 of 1,806 customers of ``churnml generate``
    data changed stage).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterable, Mapping, Sequence

import numpy as np
import pandas as pd

from churnml.config import Config
from churnml.errors import ConfigError
from churnml.features import TREND_DAYS
from churnml.schema import REASON_TOPICS, SEGMENTS

RISK_TIERS: tuple[str, ...] = ("low", "medium", "high")
VALUE_TIERS: tuple[str, ...] = ("low", "medium", "high")
LIFECYCLE_STAGES: tuple[str, ...] = ("new", "growing", "stable", "declining", "lapsed")

SEGMENT_MATRIX: dict[tuple[str, str], str] = {
    ("high", "low"): "loyal_high_value",
    ("high", "medium"): "high_value_at_risk",
    ("high", "high"): "high_value_at_risk",
    ("medium", "low"): "potential",
    ("medium", "medium"): "potential",
    ("medium", "high"): "fleeing_low_value",
    ("low", "low"): "dormant",
    ("low", "medium"): "dormant",
    ("low", "high"): "fleeing_low_value",
}
"""(value tier, risk tier) -> segment key."""

STAGE_SEGMENTS: dict[str, dict[str, str]] = {
    "dormant": {"new": "new_customer", "growing": "low_value_active", "stable": "low_value_active"},
}
"""Matrix segment -> {lifecycle stage: the segment its customers in that stage get instead}: the
``dormant`` cells' win-back advice fits the customers who slipped or stopped, not those who have just
started (``new_customer``) or buy as much as before or more (``low_value_active``)."""

SPLIT_FROM: dict[str, str] = {new: old for old, stages in STAGE_SEGMENTS.items() for new in stages.values()}
"""Segment split from a matrix segment by lifecycle stage -> that segment (``new_customer`` ->
``dormant``): a config written before the split names only the old one."""

DEFAULT_NAMES: dict[str, str] = {
    "high_value_at_risk": "High-value at risk",
    "loyal_high_value": "Loyal high-value",
    "potential": "Potential",
    "new_customer": "New customer",
    "low_value_active": "Low-value active",
    "dormant": "Dormant",
    "fleeing_low_value": "Fleeing low-value",
}

DEFAULT_ACTIONS: dict[str, str] = {
    "high_value_at_risk": "Retain now: personal call from the account manager with a tailored offer",
    "loyal_high_value": "Reward, do not disturb: loyalty perks, no retention offers",
    "potential": "Grow: cross-sell and upgrade offers",
    "new_customer": "Onboard: welcome series and help towards the first or next purchase",
    "low_value_active": "Develop cheaply: automated cross-sell or loyalty e-mail",
    "dormant": "Reactivate cheaply: automated reminder or win-back e-mail",
    "fleeing_low_value": "Low-cost or no action: automated e-mail at most",
}

DEFAULT_TALKING_POINTS: dict[str, str] = {
    "service": "Lead with the service issue: ask whether it was resolved and put right what is still open before any offer",
    "account_manager": "Introduce the new account manager and make sure nothing agreed before was lost in the handover",
    "buying_less": "Re-engage: remind them of what they usually buy, with a time-limited incentive",
    "refunds": "Ask why they return purchases: check the product fits before offering more",
    "never_bought": "Help towards the first purchase: what they signed up for, a first-order incentive",
    "short_tenure": "Early days: ask how their first months went and what would help them get more from it",
    "attribute": "",
}
"""Reason topic -> what to open the contact with (empty: none, the next reason's topic decides)."""

NEW_CUSTOMER_DAYS = 180.0
"""Customers with a shorter tenure than this are in the ``new`` lifecycle stage."""
TREND_THRESHOLD = 0.25
"""Relative spend change (recent period vs the one before) that counts as growing or declining."""
LAPSED_DAYS = 180.0
"""Customers past their first :data:`NEW_CUSTOMER_DAYS` without a purchase for longer than this are
``lapsed``: the spend trend compares two 90-day periods, both empty for them."""
LAPSED_GAPS = 2.0
"""Customers with a usual gap between purchases are ``lapsed`` only when silent for longer than this
many usual gaps too (a whole purchase missed): an annual payer 287 days after the last invoice is not."""


@dataclass(frozen=True)
class ValueThresholds:
    """Cut points of the value tiers, computed over a whole population.

    Attributes
    ----------
    high_min : float
        Smallest value if retained in the ``high`` tier (``inf`` when no customer has value).
    medium_min : float
        Smallest value if retained in the ``medium`` tier.
    """

    high_min: float
    medium_min: float

    def to_dict(self) -> dict[str, float | None]:
        """JSON-ready form (``None`` for infinity)."""
        return {k: (None if not np.isfinite(v) else float(v)) for k, v in
                (("high_min", self.high_min), ("medium_min", self.medium_min))}

    @classmethod
    def from_dict(cls, values: Mapping[str, float | None]) -> "ValueThresholds":
        """Inverse of :meth:`to_dict`."""
        def _num(v: float | None) -> float:
            return float("inf") if v is None else float(v)

        return cls(high_min=_num(values["high_min"]), medium_min=_num(values["medium_min"]))


FIXED_RISK_THRESHOLDS = (0.2, 0.5)
"""Cut points for models without a recorded base rate (trained before it was recorded)."""


def risk_cut_points(config: Config | None = None, base_rate: float | None = None) -> tuple[float, float]:
    """The churn probabilities where ``medium`` and ``high`` risk start.

    ``config.segments.risk_thresholds`` when set; else ``risk_multiples`` times ``base_rate``
    (at most 0.9 and 0.95, so both tiers can hold someone); else :data:`FIXED_RISK_THRESHOLDS`.

    Example
    -------
    >>> risk_cut_points(base_rate=0.065)
    (0.0975, 0.195)
    """
    segments = (config or Config()).segments
    if segments.risk_thresholds is not None:
        return tuple(float(v) for v in segments.risk_thresholds)
    if base_rate is None or not 0 < base_rate < 1:
        return FIXED_RISK_THRESHOLDS
    low, high = segments.risk_multiples
    return min(low * base_rate, 0.9), min(high * base_rate, 0.95)


def risk_tiers(churn_probability: np.ndarray | pd.Series, config: Config | None = None,
               base_rate: float | None = None) -> pd.Categorical:
    """Risk tier of each churn probability.

    Parameters
    ----------
    churn_probability : array-like of float
    config : Config, optional
        ``config.segments``: fixed ``risk_thresholds``, or ``risk_multiples`` of ``base_rate``.
    base_rate : float, optional
        The churn model's base rate (``metadata["base_rate"]``); see :func:`risk_cut_points`.

    Returns
    -------
    pandas.Categorical
        ``low`` / ``medium`` / ``high``.

    Example
    -------
    >>> list(risk_tiers([0.05, 0.1, 0.2], base_rate=0.065))
    ['low', 'medium', 'high']
    """
    low, high = risk_cut_points(config, base_rate)
    codes = np.searchsorted(np.array([low, high]), np.asarray(churn_probability, dtype=float), side="right")
    return pd.Categorical.from_codes(codes, categories=list(RISK_TIERS))


def value_thresholds(value: np.ndarray | pd.Series, config: Config | None = None) -> ValueThresholds:
    """Value-tier cut points over a whole population (80/20 idea, see the module docs).

    Parameters
    ----------
    value : array-like of float
        Value if retained of every customer in the population (see the module docs).
    config : Config, optional
        ``config.segments.value_shares`` (default ``(0.8, 0.95)``).

    Returns
    -------
    ValueThresholds

    Example
    -------
    >>> value_thresholds([100, 10, 5, 3, 1, 1])
    ValueThresholds(high_min=100.0, medium_min=5.0)
    """
    top_share, medium_share = (config or Config()).segments.value_shares
    values = np.asarray(value, dtype=float)
    values = np.sort(values[np.isfinite(values) & (values > 0)])[::-1]
    total = values.sum()
    if len(values) == 0 or total <= 0:
        return ValueThresholds(high_min=float("inf"), medium_min=float("inf"))
    # Share of total value held by the customers ranked strictly before each one.
    before = (np.cumsum(values) - values) / total
    in_high = before < top_share
    in_medium = before < medium_share
    high_min = float(values[in_high].min())
    medium_min = float(values[in_medium & ~in_high].min()) if (in_medium & ~in_high).any() else high_min
    return ValueThresholds(high_min=high_min, medium_min=medium_min)


def value_tiers(value: np.ndarray | pd.Series, thresholds: ValueThresholds) -> pd.Categorical:
    """Value tier of each customer, given cut points from :func:`value_thresholds`.

    Parameters
    ----------
    value : array-like of float
        Value if retained.
    thresholds : ValueThresholds

    Returns
    -------
    pandas.Categorical
        ``low`` / ``medium`` / ``high``.

    Example
    -------
    >>> list(value_tiers([100, 10, 1], ValueThresholds(high_min=100, medium_min=10)))
    ['high', 'medium', 'low']
    """
    values = np.nan_to_num(np.asarray(value, dtype=float), nan=0.0)
    positive = values > 0
    codes = np.zeros(len(values), dtype=np.int8)
    codes[positive & (values >= thresholds.medium_min)] = 1
    codes[positive & (values >= thresholds.high_min)] = 2
    return pd.Categorical.from_codes(codes, categories=list(VALUE_TIERS))


def assign_segments(value_tier: pd.Categorical | pd.Series, risk_tier: pd.Categorical | pd.Series,
                    lifecycle_stage: pd.Categorical | pd.Series | None = None) -> pd.Categorical:
    """Segment key of each customer from the value × risk matrix (:data:`SEGMENT_MATRIX`), with
    the ``dormant`` cells' new customers in ``new_customer`` and their growing and stable ones in
    ``low_value_active`` (:data:`STAGE_SEGMENTS`).

    Parameters
    ----------
    value_tier, risk_tier : array-like of str
        Tiers from :func:`value_tiers` and :func:`risk_tiers`.
    lifecycle_stage : array-like of str, optional
        Stages from :func:`lifecycle_stages`; without it nobody is ``new_customer`` or
        ``low_value_active``.

    Returns
    -------
    pandas.Categorical
        Segment keys, categories in :data:`SEGMENTS` order.

    Example
    -------
    >>> list(assign_segments(["high", "low", "low", "low"], ["high", "low", "low", "medium"],
    ...                      ["new", "lapsed", "new", "stable"]))
    ['high_value_at_risk', 'dormant', 'new_customer', 'low_value_active']
    """
    value_codes = pd.Categorical(value_tier, categories=list(VALUE_TIERS)).codes
    risk_codes = pd.Categorical(risk_tier, categories=list(RISK_TIERS)).codes
    if (value_codes < 0).any() or (risk_codes < 0).any():
        raise ValueError("value_tier and risk_tier must hold only 'low', 'medium' or 'high'")
    lookup = np.array(
        [[SEGMENTS.index(SEGMENT_MATRIX[(v, r)]) for r in RISK_TIERS] for v in VALUE_TIERS], dtype=np.int8
    )
    codes = lookup[value_codes, risk_codes]
    if lifecycle_stage is not None:
        stage_codes = np.asarray(pd.Categorical(lifecycle_stage, categories=list(LIFECYCLE_STAGES)).codes)
        cell = codes.copy()
        for old, stages in STAGE_SEGMENTS.items():
            for stage, segment in stages.items():
                split = (cell == SEGMENTS.index(old)) & (stage_codes == LIFECYCLE_STAGES.index(stage))
                codes[split] = SEGMENTS.index(segment)
    return pd.Categorical.from_codes(codes, categories=list(SEGMENTS))


def unsplit_segments(segment: pd.Series, lifecycle_stage: pd.Series) -> dict[str, int]:
    """Customers of a scores table written before a split (:data:`STAGE_SEGMENTS`) that
    :func:`assign_segments` would now put in a segment of their own: split segment -> how many.

    Current scores never hold a ``dormant`` customer in a stage split from it, so anything counted
    here comes from an older churnml (``low_value_active`` and ``new_customer`` were ``dormant``
    then); empty for current scores.

    >>> unsplit_segments(pd.Series(["dormant", "dormant", "dormant", "potential"]),
    ...                  pd.Series(["growing", "lapsed", "new", "growing"]))
    {'new_customer': 1, 'low_value_active': 1}
    """
    keys, stages = segment.astype(str).to_numpy(), lifecycle_stage.astype(str).to_numpy()
    counts: dict[str, int] = {}
    for old, by_stage in STAGE_SEGMENTS.items():
        for stage, new in by_stage.items():
            count = int(((keys == old) & (stages == stage)).sum())
            if count:
                counts[new] = counts.get(new, 0) + count
    return counts


def lifecycle_stages(
    tenure_days: np.ndarray | pd.Series,
    spend_trend: np.ndarray | pd.Series,
    days_since_purchase: np.ndarray | pd.Series | None = None,
    usual_gap_days: np.ndarray | pd.Series | None = None,
    new_customer_days: float = NEW_CUSTOMER_DAYS,
    trend_threshold: float = TREND_THRESHOLD,
    lapsed_days: float = LAPSED_DAYS,
    lapsed_gaps: float = LAPSED_GAPS,
    trend_days: float = TREND_DAYS,
) -> pd.Categorical:
    """Lifecycle stage of each customer (see the module docs).

    Parameters
    ----------
    tenure_days : array-like of float
        Days since signup (or first purchase). NaN counts as not new.
    spend_trend : array-like of float
        Relative spend change, recent period vs the one before: ``-0.6`` = down 60 %. NaN = unknown.
    days_since_purchase : array-like of float, optional
        Days since the last purchase (never: a large number); without it nobody is ``lapsed``.
    usual_gap_days : array-like of float, optional
        Mean days between the customer's purchases (``mean_gap_days``; NaN with fewer than two);
        used with ``days_since_purchase``. Without it every customer is judged by the trend and
        ``lapsed_days`` alone.
    new_customer_days, trend_threshold, lapsed_days, lapsed_gaps, trend_days : float
        Cut points; defaults :data:`NEW_CUSTOMER_DAYS`, :data:`TREND_THRESHOLD`, :data:`LAPSED_DAYS`,
        :data:`LAPSED_GAPS` and the trend's period, :data:`churnml.features.TREND_DAYS`.

    Returns
    -------
    pandas.Categorical
        ``new`` / ``growing`` / ``stable`` / ``declining`` / ``lapsed``.

    Example
    -------
    >>> list(lifecycle_stages([30, 400, 400, 400, 400], [0.0, 0.5, 0.0, -0.6, 0.0], [9999, 5, 20, 40, 400]))
    ['new', 'growing', 'stable', 'declining', 'lapsed']

    Annual payers (usually every 365 days) 287, 500 and 800 days after their last purchase:

    >>> list(lifecycle_stages([900, 900, 900], [-1.0, 0.0, 0.0], [287, 500, 800], [365, 365, 365]))
    ['stable', 'declining', 'lapsed']
    """
    tenure = np.asarray(tenure_days, dtype=float)
    trend = np.asarray(spend_trend, dtype=float)
    codes = np.full(len(tenure), LIFECYCLE_STAGES.index("stable"), dtype=np.int8)
    codes[trend >= trend_threshold] = LIFECYCLE_STAGES.index("growing")
    codes[trend <= -trend_threshold] = LIFECYCLE_STAGES.index("declining")
    if days_since_purchase is not None:
        days = np.asarray(days_since_purchase, dtype=float)
        lapsed_after = np.full(len(days), lapsed_days)
        if usual_gap_days is not None:
            gap = np.asarray(usual_gap_days, dtype=float)
            rare = gap > trend_days  # False for NaN: no usual gap
            codes[rare] = LIFECYCLE_STAGES.index("stable")
            codes[rare & (days > gap * (1.0 + trend_threshold))] = LIFECYCLE_STAGES.index("declining")
            lapsed_after = np.fmax(lapsed_after, lapsed_gaps * gap)  # fmax: NaN gaps keep lapsed_days
        codes[days > lapsed_after] = LIFECYCLE_STAGES.index("lapsed")
    codes[tenure < new_customer_days] = LIFECYCLE_STAGES.index("new")
    return pd.Categorical.from_codes(codes, categories=list(LIFECYCLE_STAGES))


def _overridden(overrides: Mapping[str, str], defaults: Mapping[str, str], setting: str,
                keys: Sequence[str] = SEGMENTS, kind: str = "segment") -> dict[str, str]:
    """``defaults`` for every key (segment keys, or ``kind``'s ``keys``), replaced by
    ``[segments.<setting>]`` where given."""
    unknown = sorted(set(overrides) - set(keys))
    if unknown:
        raise ConfigError(
            f"[segments.{setting}] names unknown {kind}(s) {', '.join(unknown)}. "
            f"Valid {kind}s: {', '.join(keys)}."
        )
    return {key: overrides.get(key, defaults[key]) for key in keys}


def segment_names(config: Config | None = None) -> dict[str, str]:
    """Display name of every segment key, with ``[segments.names]`` overrides applied.

    Raises
    ------
    ConfigError
        When the config names a segment key that does not exist.
    """
    return _overridden((config or Config()).segments.names, DEFAULT_NAMES, "names")


def segment_actions(config: Config | None = None) -> dict[str, str]:
    """Suggested action of every segment key, with ``[segments.actions]`` overrides applied.

    Raises
    ------
    ConfigError
        When the config names a segment key that does not exist.
    """
    return _overridden((config or Config()).segments.actions, DEFAULT_ACTIONS, "actions")


def talking_points(config: Config | None = None) -> dict[str, str]:
    """Talking point of every reason topic, with ``[segments.talking_points]`` overrides applied.

    Raises
    ------
    ConfigError
        When the config names a topic that does not exist.
    """
    return _overridden((config or Config()).segments.talking_points, DEFAULT_TALKING_POINTS, "talking_points",
                       REASON_TOPICS, "reason topic")


def talking_point(topics: object, points: Mapping[str, str], separator: str = "; ") -> str:
    """The talking point of a customer's reason topics (the scores' ``reason_topics``: ``"; "``-separated,
    strongest first): that of the first topic with one; "" when none has one or there are none.

    Example
    -------
    >>> points = talking_points()
    >>> talking_point("attribute; service", points) == points["service"], talking_point("", points)
    (True, '')
    """
    if not isinstance(topics, str):
        return ""
    return next((points[t] for t in topics.split(separator) if (points.get(t) or "").strip()), "")


def resolve_segment(name: str, config: Config | None = None) -> str:
    """The segment key for a key or display name (case-insensitive), e.g. from ``--segment``.

    Raises
    ------
    ConfigError
        For an unknown name; the message lists the valid keys.

    Example
    -------
    >>> resolve_segment("High-value at risk")
    'high_value_at_risk'
    >>> resolve_segment("high value at risk")
    'high_value_at_risk'
    """
    def plain(text: str) -> str:  # "High-value at risk", "high value at risk", "high_value_at_risk" alike
        return " ".join(re.split(r"[\s_-]+", text.strip().casefold()))

    names = segment_names(config)
    for key, display in names.items():
        if plain(name) in (plain(key), plain(display)):
            return key
    raise ConfigError(unknown_segments([name], config))


def resolve_segments(names: Iterable[str], config: Config | None = None) -> list[str]:
    """The segment keys for several keys or display names (:func:`resolve_segment`), each once, in the
    order first named (``--segment dormant --segment Dormant`` is one).

    Raises
    ------
    ConfigError
        Naming every unknown name, not the first alone (``--segment vip,gold`` was told of 'vip' only,
        and the fix took two runs).

    >>> resolve_segments(["Dormant", "potential", "dormant"])
    ['dormant', 'potential']
    >>> resolve_segments(["vip", "dormant", "gold", "vip"])  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    churnml.errors.ConfigError: Unknown segments 'vip', 'gold'. Valid segments: ...
    """
    keys: list[str] = []
    unknown: list[str] = []
    for name in names:
        try:
            keys.append(resolve_segment(name, config))
        except ConfigError:
            unknown.append(name)
    if unknown:
        raise ConfigError(unknown_segments(list(dict.fromkeys(unknown)), config))
    return list(dict.fromkeys(keys))


def unknown_segments(names: Sequence[str], config: Config | None = None) -> str:
    """The message for names that are no segment: ``Unknown segment 'vip'. Valid segments: ...``, or
    with several ``Unknown segments 'vip', 'gold'. ...`` (``--segment``, the API's ``segments``)."""
    listed = ", ".join(repr(name) for name in names)
    return f"Unknown segment{'s' if len(names) > 1 else ''} {listed}. Valid segments: {valid_segments(config)}."


def valid_segments(config: Config | None = None) -> str:
    """The segment keys with their display names, as the errors for an unknown segment list them.

    >>> valid_segments()[:40]
    'high_value_at_risk (High-value at risk),'
    """
    return ", ".join(f"{key} ({display})" for key, display in segment_names(config).items())
