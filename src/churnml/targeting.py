"""Retention lists: who to contact, in which order, within a budget.

The expected net benefit of contacting a customer is ``value_at_risk × success_rate −
contact_cost``: of the value the customer takes away by leaving, a contact saves the share
``success_rate``, and costs ``contact_cost`` either way (per segment with ``[targeting]
contact_costs``: a call costs more than an e-mail). Only customers whose benefit rounds to at least
0.01 are listed (one the list would show as 0.00 is none), best first; the list stops at the budget
(total contact cost) or at the maximum count, whichever comes first (where contacts cost
differently, the budget buys the contacts with the most benefit per cost when that expects more
than the top of the ranking). Segments whose suggested
action is no retention contact (``[targeting] skip_segments``; by default loyal high-value
customers, "reward, do not disturb") are left out unless asked for by name: their risk is below 1.5
times the base rate (the risk tiers are relative to it), so their value at risk is large because
their value is, not because they are leaving, and they would otherwise fill the top of the list.

A control group (``holdout``, ``[targeting] holdout``) measures what the contacts achieve instead
of assuming ``success_rate``: a share of the listed customers, drawn from a hash of the as-of date
and the customer id (the same list gives the same group), is marked ``control`` and not contacted.
Once the horizon has passed, ``churnml evaluate LIST DATA`` compares the churn of the two groups.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping, Sequence

import numpy as np
import pandas as pd

from churnml.config import Config
from churnml.errors import ConfigError, DataError
from churnml.segments import (LAPSED_DAYS, SEGMENTS, SPLIT_FROM, STAGE_SEGMENTS, resolve_segment, resolve_segments,
                              segment_actions, segment_names, talking_point, talking_points, unsplit_segments)
from churnml.validate import loose_ids

REQUIRED_COLUMNS: tuple[str, ...] = (
    "customer_id",
    "segment",
    "churn_probability",
    "predicted_value",
    "value_at_risk",
    "reasons",
)
"""Score columns a retention list needs."""

NUMBER_COLUMNS: tuple[str, ...] = ("churn_probability", "predicted_value", "value_at_risk")
"""Score columns that must hold finite numbers."""

LIST_COLUMNS: tuple[str, ...] = (
    "rank",
    "customer_id",
    "as_of",
    "segment",
    "segment_name",
    "risk_tier",
    "lifecycle_stage",
    "churn_probability",
    "value_if_retained",
    "predicted_value",
    "value_at_risk",
    "contact_cost",
    "expected_benefit",
    "reasons",
    "suggested_action",
    "talking_point",
)
"""Columns of a retention list, in order (``as_of``, ``risk_tier`` and ``lifecycle_stage`` only
when the scores have them). ``value_if_retained`` = ``predicted_value + value_at_risk``: what the
customer brings over the horizon if they stay; ``predicted_value`` is that times 1 - p.
``suggested_action`` is the segment's; ``talking_point`` what to open the contact with, from what
the customer's reasons are about (:func:`churnml.segments.talking_point` of the scores'
``reason_topics``; empty without reasons, for the control group, and for scores written before
reasons had topics: :func:`untopical_scores_warnings`)."""
OPTIONAL_COLUMNS: tuple[str, ...] = ("as_of", "risk_tier", "lifecycle_stage")
GROUP_COLUMN = "group"
MAX_HOLDOUT = 0.5
"""The largest control group share a list takes: half the list (the API's schema states it)."""
"""With a holdout, the column after ``customer_id``: ``contact`` or ``control`` (not to be
contacted). A control row costs nothing, expects no benefit and its action says not to call: as
the last column after the reasons, with the segment's call as its action, a call centre would
have called them, and the columns did not add up to the summary."""
TOPICS_COLUMN = "reason_topics"
"""The scores column whose reason topics give the talking point (:data:`churnml.scoring.SCORE_COLUMNS`)."""
CONTROL_ACTION = "Do not contact: control group (it measures what the contacts achieve)"
DECIMALS = {"churn_probability": 4, "value_if_retained": 2, "predicted_value": 2, "value_at_risk": 2, "contact_cost": 2,
            "expected_benefit": 2}
"""Rounding of the list's numbers: a probability to 0.01 %, money to the cent."""
CANDIDATES_LABEL = (f"with an expected benefit of at least "
                    f"{10 ** -DECIMALS['expected_benefit']:.{DECIMALS['expected_benefit']}f}")
"""The summary's name for the customers a list may take (the rule :func:`retention_list` applies:
a benefit that rounds to at least a unit of the last decimal shown); "positive" also took 0.004."""


def value_saved_note(horizon_days: int | None, problem: Mapping[str, Any] | None = None) -> str:
    """What a list's expected value saved leaves out, in words a marketer reads beside it (the
    terminal, the workbook's summary, the list report): ``value_at_risk`` counts a churner's whole
    horizon as lost, though churners bring part of it before they leave, so value saved, net benefit
    and ROI run high (``churnml evaluate SCORES DATA`` measures by how much). The list said "expected
    value saved 11,599.12" and the boss read it as money the campaign would bring; the backtest of
    its scores found value at risk 1.40 times the value the churners lost (generated data, where churn
    is an account closure). Empty where churn is inactivity (``problem``: the models' definition,
    :func:`churnml.labels.problem_definition`): a churner is then one who buys nothing in the
    horizon, so brings nothing before leaving.

    >>> value_saved_note(90)[:80]
    "Value saved counts a churner's whole 90 days of value if retained as lost (value"
    >>> value_saved_note(90, {"churn": "inactivity"})
    ''
    """
    if (problem or {}).get("churn") == "inactivity":
        return ""
    horizon = f"{horizon_days} days" if horizon_days else "horizon"  # a summary written before it recorded one
    return (f"Value saved counts a churner's whole {horizon} of value if retained as lost (value at risk), "
            "but churners bring part of it in before they close the account: in backtests on generated data value at "
            "risk ran 1.3 to 1.7 times the value the churners lost, so value saved may run that much high, and net benefit and ROI more so. "
            "churnml evaluate SCORES DATA measures it for these models once the scores' horizon has passed.")


@dataclass(frozen=True)
class RetentionSummary:
    """What a retention list selects and what it is expected to return.

    Attributes
    ----------
    scored : int
        Customers in the scores (after the segment, exclusion and minimum-value filters).
    skipped : dict
        Segment key -> customers left out because the segment is in ``skip_segments``.
    candidates : int
        Of those, customers with an expected benefit that rounds to at least 0.01.
    selected : int
        Customers on the list, the control group included (:attr:`contacts` are those to contact).
    limited_by : str
        ``"budget"``, ``"max_customers"`` or ``"none"`` (every candidate fits).
    contact_cost, success_rate : float
        The assumptions used (``contact_cost``: for segments without their own).
    contact_costs : dict
        Segment key -> cost of one contact, for every segment (``[targeting] contact_costs``
        filled in with ``contact_cost``).
    total_cost : float
        The sum of the selected customers' contact costs.
    value_at_risk : float
        Sum of ``value_at_risk`` over the contacted customers: what they are expected to take
        with them if nobody calls (the value saved is ``success_rate`` of it).
    expected_value_saved : float
        Sum of ``value_at_risk × success_rate`` over the list.
    expected_net_benefit : float
        ``expected_value_saved − total_cost``.
    roi : float or None
        ``expected_net_benefit / total_cost``; None when nothing is spent.
    by_segment : pandas.DataFrame
        One row per segment on the list: ``segment``, ``name``, ``customers``, ``total_cost``,
        ``expected_value_saved``, ``expected_net_benefit``, ``suggested_action``.
    excluded : int
        Scored customers left out because their id is on an exclusion list (``exclude``).
    excluded_loosely, exclude_unmatched : tuple
        (listed id, scored id) pairs of :attr:`excluded` that matched only loosely, and the listed
        ids that match no scored customer: see :func:`match_ids`.
    budget, max_customers, segments, min_value
        What was asked for (None / empty: no limit), so the summary file says what the list answers.
    holdout, control : float, int
        The share of the list asked for as a control group, and the customers in it (of
        ``selected``; the costs and the value saved count the contacted rest only).
    warnings : tuple of str
        Why a list is empty (:func:`empty_list_warnings`), what a config written for a segment
        before a split leaves out (:func:`split_segment_warnings`), and that the scores were written
        before a split (:func:`unsplit_scores_warnings`), in words: `churnml retention-list` prints
        them, ``POST /retention_list`` returns them, the summary file records them.
    """

    scored: int
    skipped: dict[str, int]
    candidates: int
    selected: int
    limited_by: str
    contact_cost: float
    success_rate: float
    total_cost: float
    value_at_risk: float
    expected_value_saved: float
    expected_net_benefit: float
    roi: float | None
    by_segment: pd.DataFrame = field(repr=False)
    contact_costs: dict[str, float] = field(default_factory=dict)
    excluded: int = 0
    excluded_loosely: tuple[tuple[str, str], ...] = ()
    exclude_unmatched: tuple[str, ...] = ()
    budget: float | None = None
    max_customers: int | None = None
    segments: tuple[str, ...] = ()
    min_value: float | None = None
    holdout: float = 0.0
    control: int = 0
    warnings: tuple[str, ...] = ()

    @property
    def contacts(self) -> int:
        """Customers of the list to contact: :attr:`selected` less the control group."""
        return self.selected - self.control

    def to_dict(self) -> dict:
        """JSON-ready form."""
        out = {k: getattr(self, k) for k in (
            "budget", "max_customers", "segments", "min_value",
            "scored", "skipped", "excluded", "excluded_loosely", "exclude_unmatched", "candidates", "selected", "contacts",
            "holdout", "control", "limited_by",
            "contact_cost", "contact_costs", "success_rate",
            "total_cost", "value_at_risk", "expected_value_saved", "expected_net_benefit", "roi",
        )}
        out["segments"] = list(self.segments)
        out["excluded_loosely"] = len(self.excluded_loosely)
        out["exclude_unmatched"] = len(self.exclude_unmatched)
        out["by_segment"] = self.by_segment.to_dict(orient="records")
        out["warnings"] = list(self.warnings)
        return out


@dataclass(frozen=True)
class RetentionList:
    """A ranked retention list (:data:`LIST_COLUMNS`) and its :class:`RetentionSummary`."""

    customers: pd.DataFrame
    summary: RetentionSummary


def check_scores(scores: pd.DataFrame) -> None:
    """Raise :class:`DataError` when ``scores`` lacks a column a retention list needs.

    Example
    -------
    >>> check_scores(pd.DataFrame({"customer_id": ["a"]}))
    Traceback (most recent call last):
    ...
    churnml.errors.DataError: Scores are missing column(s) segment, churn_probability, predicted_value, value_at_risk, reasons needed for a retention list. Use a scores file written by `churnml score`.
    """
    missing = [c for c in REQUIRED_COLUMNS if c not in scores.columns]
    if missing:
        raise DataError(
            f"Scores are missing column(s) {', '.join(missing)} needed for a retention list. "
            "Use a scores file written by `churnml score`."
        )
    for column in NUMBER_COLUMNS:
        values = pd.to_numeric(scores[column], errors="coerce").to_numpy(dtype=float)
        bad = ~np.isfinite(values)
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            raise DataError(
                f"Scores column {column} holds {int(bad.sum())} value(s) that are not finite numbers, e.g. "
                f"{scores[column].iloc[row]!r} for customer {scores['customer_id'].iloc[row]!r}. "
                "Use a scores file written by `churnml score`, unedited."
            )
    repeated = scores["customer_id"].astype(str)
    repeated = repeated[repeated.duplicated()]
    if len(repeated):
        raise DataError(
            f"Scores list {repeated.nunique()} customer(s) more than once, e.g. {repeated.iloc[0]!r}; a list "
            "would contact them twice. Score one as-of date per file (`churnml score` writes each "
            "customer once)."
        )


def _check_number(value: float, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)) or not math.isfinite(value):
        raise ConfigError(f"{name} must be a number, got {value!r}.")
    return float(value)


def _check_arguments(
    budget: float | None,
    max_customers: int | None,
    contact_cost: float,
    success_rate: float,
    min_value: float | None,
) -> None:
    if budget is not None and _check_number(budget, "Budget") < 0:
        raise ConfigError(f"Budget must be zero or more, got {budget:g}. It is the total contact cost you can spend.")
    if max_customers is not None and (
        isinstance(max_customers, bool) or not isinstance(max_customers, (int, np.integer)) or max_customers < 1
    ):
        raise ConfigError(f"Max customers must be a whole number of at least 1, got {max_customers!r}.")
    if _check_number(contact_cost, "Contact cost") < 0:
        raise ConfigError(f"Contact cost must be zero or more, got {contact_cost:g}.")
    if not 0 < _check_number(success_rate, "Success rate") <= 1:
        raise ConfigError(
            f"Success rate must be in (0, 1], got {success_rate:g}. "
            "It is the share of contacted at-risk customers a contact keeps, e.g. 0.3."
        )
    if min_value is not None:
        _check_number(min_value, "Minimum value")


def retention_list(
    scores: pd.DataFrame,
    budget: float | None = None,
    max_customers: int | None = None,
    contact_cost: float | None = None,
    success_rate: float | None = None,
    segments: Sequence[str] | None = None,
    min_value: float | None = None,
    config: Config | None = None,
    exclude: Iterable[str] = (),
    holdout: float | None = None,
) -> RetentionList:
    """Rank customers by the expected net benefit of a retention contact.

    Parameters
    ----------
    scores : pandas.DataFrame
        A scores table (:func:`churnml.scoring.score`); needs :data:`REQUIRED_COLUMNS`.
    budget : float, optional
        Total contact cost allowed, paid in rank order (a contact the rest cannot pay is skipped
        for cheaper ones further down) or in order of benefit per cost, whichever expects the
        larger net benefit (control customers cost nothing); see :func:`_best_within_budget`.
    max_customers : int, optional
        At most this many customers to contact (control customers come on top).
    contact_cost : float, optional
        Cost of one contact; default ``config.targeting.contact_cost``.
    success_rate : float, optional
        Share of contacted at-risk customers a contact keeps, in (0, 1]; default
        ``config.targeting.success_rate``.
    segments : sequence of str, optional
        Keep only these segments (keys or display names, case-insensitive). Without it, every
        segment but ``config.targeting.skip_segments``.
    min_value : float, optional
        Keep only customers whose ``value_at_risk`` is at least this.
    exclude : iterable of str, optional
        Customer ids never to list: do not contact, opted out, contacted last month.
    holdout : float, optional
        Share of the listed customers in a control group, in [0, 0.5]; default
        ``config.targeting.holdout`` (0: none). See the module docs.
    config : Config, optional
        Targeting defaults, segment names and actions.

    Returns
    -------
    RetentionList
        ``customers`` (columns :data:`LIST_COLUMNS`, rank 1 = best) and ``summary``.

    Raises
    ------
    ConfigError
        A negative budget or contact cost, a success rate outside (0, 1], a max count below 1,
        an unknown segment.
    DataError
        Scores without the needed columns, or holding unknown segments.

    Example
    -------
    >>> scores = pd.DataFrame({"customer_id": ["a", "b"], "segment": ["high_value_at_risk", "dormant"],
    ...     "churn_probability": [0.6, 0.1], "predicted_value": [400.0, 90.0],
    ...     "value_at_risk": [600.0, 10.0], "reasons": ["2 unresolved complaints", ""]})
    >>> result = retention_list(scores, contact_cost=5, success_rate=0.3)
    >>> result.customers[["rank", "customer_id", "expected_benefit"]].values.tolist()
    [[1, 'a', 175.0]]
    """
    config = config or Config()
    explicit_cost = contact_cost is not None
    costs = segment_costs(config, contact_cost)
    contact_cost = config.targeting.contact_cost if contact_cost is None else contact_cost
    success_rate = config.targeting.success_rate if success_rate is None else success_rate
    holdout = config.targeting.holdout if holdout is None else holdout
    _check_arguments(budget, max_customers, contact_cost, success_rate, min_value)
    if not 0 <= _check_number(holdout, "Holdout") <= MAX_HOLDOUT:
        raise ConfigError(f"Holdout must be between 0 and {MAX_HOLDOUT:g}, got {holdout:g}. It is the share of the list kept "
                          "uncontacted as a control group, e.g. 0.1.")
    check_scores(scores)
    actions = segment_actions(config)
    points = talking_points(config)
    names = segment_names(config)
    if segments:
        # Once each, however often named ("--segment dormant --segment Dormant"): the summary and
        # its messages list the segments asked for.
        wanted = resolve_segments(segments, config)  # every unknown one named, not the first alone
    else:
        try:
            skip = {resolve_segment(s, config) for s in config.targeting.skip_segments}
        except ConfigError as exc:
            raise ConfigError(f"[targeting] skip_segments: {exc}") from None
        wanted = [key for key in SEGMENTS if key not in skip]

    segment_keys = scores["segment"].astype(str)
    unknown = sorted(set(segment_keys.unique()) - set(SEGMENTS))
    if unknown:
        raise DataError(
            f"Scores hold unknown segment(s) {', '.join(unknown)}. Valid segments: {', '.join(SEGMENTS)}. "
            "Use a scores file written by `churnml score`."
        )

    keep = segment_keys.isin(wanted).to_numpy().copy()
    skipped = {key: int(n) for key, n in segment_keys[~keep].value_counts().items()} if not segments else {}
    in_segments = int(keep.sum())
    excluded, loose, unmatched = match_ids(scores["customer_id"], exclude)
    keep &= ~excluded
    considered = keep.copy()  # before the minimum value: what _nobody_left compares it with
    value_at_risk = pd.to_numeric(scores["value_at_risk"]).to_numpy(dtype=float)
    # Whom the exclusion and minimum-value filters keep, in any segment.
    filtered = ~excluded if min_value is None else ~excluded & (value_at_risk >= min_value)
    keep &= filtered
    scored = int(keep.sum())
    nobody_left = ""
    if not scored:
        nobody_left = _nobody_left(segment_keys, wanted if segments else [], names, in_segments, int(considered.sum()),
                                   value_at_risk[considered], min_value)
    cost = segment_keys.map(costs).to_numpy(dtype=float)
    benefit = value_at_risk * success_rate - cost
    pays = np.round(benefit, DECIMALS["expected_benefit"]) > 0  # a benefit the list would show as 0.00 is none
    keep &= pays
    # Those of a segment split from one asked for would change the list if asked for too.
    paying = pays & filtered
    candidates = int(keep.sum())

    index = np.flatnonzero(keep)
    # Best benefit first; customer_id breaks ties so the same scores always give the same list.
    order = np.lexsort((scores["customer_id"].astype(str).to_numpy()[index], -benefit[index]))
    index = index[order]

    # The control group is drawn for every candidate (a hash, independent of the rank), so that
    # the budget and the maximum count buy contacts: the control customers cost nothing.
    control = np.zeros(len(index), dtype=bool)
    if holdout > 0:
        dates = (pd.to_datetime(scores["as_of"].iloc[index]).dt.strftime("%Y-%m-%d").to_numpy()
                 if "as_of" in scores.columns else np.full(len(index), ""))
        control = control_group(scores["customer_id"].iloc[index].astype(str), dates, holdout)
    limited_by = "none"
    if budget is not None:
        fits = _best_within_budget(cost[index], benefit[index], control, budget, max_customers)
        if not fits.all():
            limited_by = "budget"
        index, control = index[fits], control[fits]
    if max_customers is not None:
        within = int(np.searchsorted(np.cumsum(~control), max_customers, side="right"))
        if within < len(index):
            limited_by = "max_customers"
        index, control = index[:within], control[:within]

    chosen = scores.iloc[index]
    predicted_value = pd.to_numeric(chosen["predicted_value"]).to_numpy(dtype=float)
    customers = pd.DataFrame({
        "rank": np.arange(1, len(index) + 1, dtype=np.int64),
        "customer_id": chosen["customer_id"].astype(str).to_numpy(),
        "as_of": pd.to_datetime(chosen["as_of"]).to_numpy() if "as_of" in scores.columns else None,
        "segment": segment_keys.iloc[index].to_numpy(),
        "segment_name": segment_keys.iloc[index].map(names).to_numpy(),
        "risk_tier": chosen["risk_tier"].astype(str).to_numpy() if "risk_tier" in scores.columns else None,
        "lifecycle_stage": chosen["lifecycle_stage"].astype(str).to_numpy() if "lifecycle_stage" in scores.columns else None,
        "churn_probability": pd.to_numeric(chosen["churn_probability"]).to_numpy(dtype=float),
        "value_if_retained": predicted_value + value_at_risk[index],
        "predicted_value": predicted_value,
        "value_at_risk": value_at_risk[index],
        "contact_cost": cost[index],
        "expected_benefit": benefit[index],
        "reasons": chosen["reasons"].fillna("").astype(str).to_numpy(),
        "suggested_action": segment_keys.iloc[index].map(actions).to_numpy(),
        "talking_point": ([talking_point(topics, points) for topics in chosen[TOPICS_COLUMN].tolist()]
                          if TOPICS_COLUMN in scores.columns else ""),
    })
    customers = customers.drop(columns=[c for c in OPTIONAL_COLUMNS if c not in scores.columns])
    if holdout > 0:
        customers.insert(2, GROUP_COLUMN, np.where(control, "control", "contact"))
        customers.loc[control, ["contact_cost", "expected_benefit"]] = 0.0
        customers.loc[control, "suggested_action"] = CONTROL_ACTION
        customers.loc[control, "talking_point"] = ""

    contacted = index[~control]
    total_cost = float(cost[contacted].sum())
    at_risk = float(value_at_risk[contacted].sum())
    saved = at_risk * success_rate
    net = saved - total_cost
    by_segment = _by_segment(customers[~control], success_rate, names, actions)
    customers = customers.round(DECIMALS)  # the totals use the unrounded numbers
    summary = RetentionSummary(
        scored=scored,
        skipped=skipped,
        candidates=candidates,
        selected=len(index),
        limited_by=limited_by,
        contact_cost=float(contact_cost),
        success_rate=float(success_rate),
        total_cost=total_cost,
        value_at_risk=at_risk,
        expected_value_saved=saved,
        expected_net_benefit=net,
        roi=net / total_cost if total_cost > 0 else None,
        by_segment=by_segment,
        contact_costs=costs,
        excluded=int(excluded.sum()),
        excluded_loosely=loose,
        exclude_unmatched=unmatched,
        budget=None if budget is None else float(budget),
        max_customers=max_customers,
        segments=tuple(wanted) if segments else (),
        min_value=None if min_value is None else float(min_value),
        holdout=float(holdout),
        control=int(control.sum()),
        warnings=empty_list_warnings(len(contacted), scored, candidates, budget, cost[np.flatnonzero(keep)],
                                     segment_keys.to_numpy()[np.flatnonzero(keep)], names, nobody_left=nobody_left,
                                     excluded_paying=int((pays & excluded & segment_keys.isin(wanted).to_numpy()
                                                          & (True if min_value is None else value_at_risk >= min_value)).sum()))
        + split_segment_warnings(config, segment_keys.iloc[contacted], explicit_cost=explicit_cost,
                                 explicit_segments=bool(segments), asked=wanted if segments else (),
                                 paying=segment_keys[paying])
        + unsplit_scores_warnings(scores, wanted if segments else ())
        + untopical_scores_warnings(scores, chosen["reasons"].to_numpy()[~control]),
    )
    return RetentionList(customers=customers, summary=summary)


ATTRIBUTE_PREFIX = "customer_"
"""Put before a customers column carried onto a list (:func:`attribute_columns`) whose name is one of
the list's own columns: the customers table's ``segment`` is ``customer_segment`` beside churnml's."""


def attribute_columns(asked: Iterable[str], available: Mapping[str, str], where: str = "--attribute",
                      source: str = "the snapshot", indexed: bool = False) -> dict[str, str]:
    """The ``customers`` columns ``asked`` for on a list (``--attribute``, ``[targeting] attributes``):
    the list's column for each -> the customers column (a key of ``available``, the columns held:
    :func:`churnml.features.attribute_columns`).

    A name matches as written, else whatever its case when one column matches so (``Region``: the
    config's rule). The list's column is the customers column's name, with :data:`ATTRIBUTE_PREFIX`
    before a name of the list's own columns (:data:`LIST_COLUMNS`, ``group``): the customers table's
    ``segment`` is ``customer_segment``, never in place of churnml's segment. A name given twice counts once.
    ``indexed``: an error names the item by its position, field first (``attributes[1]: ...``), as
    the HTTP API names a request's fields; otherwise as an option's value (``--attribute plan: ...``).

    Raises
    ------
    ConfigError
        ``customer_id`` (every list has it), names that match no column (all of them in one error,
        which names the columns there are, from ``source``), or two names that would make one column.

    >>> attribute_columns(["Region", "segment", "region"], {"region": "region", "segment": "customer_segment"})
    {'region': 'region', 'customer_segment': 'segment'}
    """
    lower: dict[str, list[str]] = {}
    for name in available:
        lower.setdefault(name.lower(), []).append(name)
    own = set(LIST_COLUMNS) | {GROUP_COLUMN}
    chosen: dict[str, str] = {}
    unknown: list[tuple[int, str]] = []  # every name that matches no column, in one error: not the first alone
    for position, given in enumerate(asked):
        name = str(given).strip()
        if not name:
            continue
        if name.lower() == "customer_id":
            raise ConfigError(f"{f'{where}[{position}]' if indexed else f'{where} {name}'}: every retention list has "
                              "customer_id already. Name other columns of the customers table (e.g. region).")
        match = name if name in available else (lower.get(name.lower()) or [None, None])
        if isinstance(match, list):
            match = match[0] if len(match) == 1 else None
        if match is None:
            unknown.append((position, name))
            continue
        column = ATTRIBUTE_PREFIX + match if match in own else match
        if chosen.get(column, match) != match:
            raise ConfigError(f"{where}: {chosen[column]} and {match} would both be the list's column {column}. "
                              "Ask for one of them.")
        chosen[column] = match
    if unknown:
        held = ", ".join(sorted(available, key=str.lower)) or "none"
        several = len(unknown) > 1
        names = ", ".join(repr(name) if indexed else name for _, name in unknown)
        if indexed:
            said = (f"{', '.join(f'{where}[{position}]' for position, _ in unknown)}: no customers "
                    f"column{'s' if several else ''} {names}")
        else:
            said = f"{where} {names}: no such customers column{'s' if several else ''}"
        raise ConfigError(f"{said} in {source}. Columns there: {held}. (Sign-up dates, date columns and columns "
                          "empty in every row are not kept in it.)")
    return chosen


def with_attributes(customers: pd.DataFrame, attributes: pd.DataFrame, columns: Mapping[str, str]
                    ) -> tuple[pd.DataFrame, list[str]]:
    """``customers`` (a list) with ``columns`` (its new column -> a column of ``attributes``, which
    has ``customer_id``: a snapshot's customers and their attributes) after its last column, by
    customer id; and the list's ids ``attributes`` lacks, whose cells stay empty. Whole numbers
    read as such (a credit limit 12500, not 12500.0).

    >>> listed = pd.DataFrame({"customer_id": ["a", "b"], "segment": ["dormant", "potential"]})
    >>> snapshot = pd.DataFrame({"customer_id": ["b", "a"], "segment": ["retail", "=1+1"], "limit": [500.0, None]})
    >>> frame, missing = with_attributes(listed, snapshot, {"customer_segment": "segment", "limit": "limit"})
    >>> frame.values.tolist(), missing
    ([['a', 'dormant', '=1+1', <NA>], ['b', 'potential', 'retail', 500]], [])
    """
    if not columns:
        return customers, []
    values = attributes.assign(customer_id=attributes["customer_id"].astype(str)).drop_duplicates("customer_id")
    values = values.set_index("customer_id")
    ids = customers["customer_id"].astype(str)
    missing = ids[~ids.isin(values.index)].tolist()
    out = customers.copy()
    for column, source in columns.items():
        cells = values[source].reindex(ids.to_numpy())
        if isinstance(cells.dtype, pd.CategoricalDtype):  # a snapshot's text attribute: plain text on the list
            cells = cells.astype(object).where(cells.notna(), None)
        if pd.api.types.is_float_dtype(cells):
            present = cells.dropna().to_numpy(dtype=float)
            if np.isfinite(present).all() and (present == np.round(present)).all() and (np.abs(present) < 2**53).all():
                cells = cells.astype("Int64")
        out[column] = cells.to_numpy() if not isinstance(cells.dtype, pd.api.extensions.ExtensionDtype) else cells.array
    return out, missing


def _nobody_left(segment_keys: pd.Series, asked: Sequence[str], names: dict[str, str], in_segments: int,
                 not_excluded: int, values: np.ndarray, min_value: float | None) -> str:
    """Which filter left no customer to consider, and what the scores hold instead: the segments
    asked for (``asked``; else those ``skip_segments`` leaves), the exclusion lists, the minimum value."""
    def held(keys: pd.Series) -> str:
        counts = keys.value_counts()
        return ", ".join(f"{names.get(key, key)} {int(counts[key]):,}" for key in SEGMENTS if key in counts)

    total = len(segment_keys)
    if not total:
        return "the scores hold no customer"
    if not in_segments and asked:
        return (f"none of the {total:,} scored customer{'s' if total != 1 else ''} is in the segment"
                f"{'s' if len(asked) != 1 else ''} asked for ({', '.join(names.get(k, k) for k in asked)}); "
                f"the scores hold {held(segment_keys)}")
    if not in_segments:
        return (f"{'all ' if total != 1 else ''}{total:,} scored customer{'s are' if total != 1 else ' is'} in segments "
                f"[targeting] skip_segments leaves out ({held(segment_keys)}); name one as a segment to list it")
    if not not_excluded:
        return (f"the exclusion lists name all {in_segments:,} customer{'s' if in_segments != 1 else ''} of the "
                "segments considered")
    return (f"none of the {not_excluded:,} customer{'s' if not_excluded != 1 else ''} of the segments considered has a "
            f"value at risk of at least {float(min_value or 0):,.2f} (the minimum asked for); the highest is "
            f"{float(values.max()):,.2f}")


MAX_NAMED_SEGMENTS = 3
"""A budget short of the cheapest contact names the segments at that cost, at most this many."""


def empty_list_warnings(contacts: int, scored: int, candidates: int, budget: float | None, candidate_costs: np.ndarray,
                        candidate_segments: np.ndarray, names: dict[str, str], nobody_left: str = "",
                        excluded_paying: int = 0) -> tuple[str, ...]:
    """Why a list holds no contact, when it holds none: the budget pays for none of the
    ``candidates`` (and what the cheapest of their contacts costs), nobody pays off, or the
    filters left nobody to consider (``nobody_left``: which one, and what the scores hold; "the
    segment, exclusion and minimum-value filters left out everyone" did not say which to change).
    ``POST /retention_list`` answered a budget too small for one contact with ``[]`` and nothing
    else, and the CLI named "the first contact on the list" although the budget skips a contact
    it cannot pay for a cheaper one further down: only the cheapest candidate decides. The segments
    of the cheapest contacts are named only where contacts cost differently: with one cost for all,
    "costs 5.00 (Fleeing low-value)" named whichever segment came first. ``excluded_paying``: the
    customers the exclusion lists took out who would have paid off; where they were the only ones,
    the exclusion is the cause ("lower the contact cost" pointed at the wrong fix after
    ``--exclude`` with last month's list).

    Example
    -------
    >>> empty_list_warnings(0, 7803, 870, 2.0, np.array([5.0, 0.5, 40.0]), np.array(["dormant", "fleeing_low_value", "potential"]),
    ...                     {"fleeing_low_value": "Fleeing low-value"})[0]
    'The budget (2.00) pays for no contact: the cheapest contact of the 870 customers who would pay off costs 0.50 (Fleeing low-value). Raise the budget to at least 0.50.'
    >>> empty_list_warnings(0, 7803, 870, 2.0, np.array([5.0, 5.0]), np.array(["dormant", "potential"]), {})[0]
    'The budget (2.00) pays for no contact: a contact costs 5.00, for each of the 870 customers who would pay off. Raise the budget to at least 5.00.'
    """
    if contacts:
        return ()
    if candidates and budget is not None:
        cost = float(np.min(candidate_costs))
        whom = f"{'each of ' if candidates != 1 else ''}the {candidates:,} customer{'s' if candidates != 1 else ''} who would pay off"
        if (candidate_costs == cost).all():  # one cost for all: naming one segment read as if it alone cost that
            said = f"a contact costs {cost:,.2f}, for {whom}"
        else:
            cheap = set(candidate_segments[candidate_costs == cost].astype(str))
            keys = [key for key in SEGMENTS if key in cheap] + sorted(cheap - set(SEGMENTS))
            shown = ", ".join(names.get(key, key) for key in keys[:MAX_NAMED_SEGMENTS])
            more = len(keys) - MAX_NAMED_SEGMENTS
            said = (f"the cheapest contact of the {candidates:,} customers who would pay off costs {cost:,.2f} "
                    f"({shown}{f' and {more} more segment' + 's' * (more != 1) if more > 0 else ''})")
        return (f"The budget ({budget:,.2f}) pays for no contact: {said}. Raise the budget to at least {cost:,.2f}.",)
    if not scored:
        why = nobody_left or "the segment, exclusion and minimum-value filters left out everyone"
        return (f"No customer left to consider: {why}.",)
    if not candidates and excluded_paying:
        return (f"Nobody left would pay off: the {excluded_paying:,} customer{'s' if excluded_paying != 1 else ''} who "
                f"would {'are' if excluded_paying != 1 else 'is'} excluded (the exclusion lists; an earlier list excludes "
                "its contacts and its control group). A contact pays off only when value_at_risk × success_rate exceeds "
                "its contact cost.",)
    if not candidates:
        return ("Nobody would pay off: a contact pays off only when value_at_risk × success_rate exceeds its contact cost. "
                "Lower the contact cost, raise the success rate, or widen the segments.",)
    return ()


def split_segment_warnings(config: Config, contacted: pd.Series, *, explicit_cost: bool = False,
                           explicit_segments: bool = False, asked: Sequence[str] = (),
                           paying: pd.Series | None = None) -> tuple[str, ...]:
    """What a config or a request written before a segment split does not cover, where it matters.

    ``new_customer`` and ``low_value_active`` were part of ``dormant``
    (:data:`churnml.segments.SPLIT_FROM`): a config that prices ``dormant`` or skips it now leaves
    their customers at ``[targeting] contact_cost`` or on the list, silently. One warning per
    setting and old segment names every segment split from it that the list shows and the setting
    leaves out. ``contacted`` holds the contacted customers' segment keys; ``explicit_cost`` /
    ``explicit_segments`` say that the costs or segments were asked for directly
    (``--contact-cost``, ``--segments``), and the config's then do not apply.

    ``asked`` (the segment keys asked for by name) naming ``dormant`` but not a segment split from
    it leaves that segment's customers off the list: ``--segment dormant`` used to list them and
    now said nothing of them. Warned where any of them would pay off (``paying``: the segment keys
    of the customers with an expected benefit of at least 0.01 that the exclusion and minimum-value filters
    keep), since only then would asking for them change the list.

    Example
    -------
    >>> cfg = Config().replace(targeting={"contact_costs": {"dormant": 0.5}})
    >>> split_segment_warnings(cfg, pd.Series(["new_customer", "dormant"]))[0][:80]
    '[targeting.contact_costs] prices dormant (0.50) but not new_customer, split from'
    """
    listed = contacted.astype(str).value_counts()
    try:
        priced = {resolve_segment(name, config): value for name, value in config.targeting.contact_costs.items()}
        skipped = {resolve_segment(name, config) for name in config.targeting.skip_segments}
    except ConfigError:
        return ()  # the list itself names the bad setting
    texts = []
    for old in dict.fromkeys(SPLIT_FROM.values()):
        shown = {new: int(listed.get(new, 0)) for new, source in SPLIT_FROM.items() if source == old and listed.get(new, 0)}
        if not explicit_cost and old in priced:
            left = {new: count for new, count in shown.items() if new not in priced}
            if left:
                count = sum(left.values())
                texts.append(f"[targeting.contact_costs] prices {old} ({float(priced[old]):,.2f}) but not {_or(left)}, split "
                             f"from {old}: {'its' if len(left) == 1 else 'their'} {count:,} contact(s) on this list"
                             f"{_each(left)} cost [targeting] contact_cost ({float(config.targeting.contact_cost):,.2f}) each. "
                             f"Add {' and '.join(f'{new} = ...' for new in left)} to [targeting.contact_costs] to price them.")
        if not explicit_segments and old in skipped:
            left = {new: count for new, count in shown.items() if new not in skipped}
            if left:
                count, quoted = sum(left.values()), " and ".join(f'"{new}"' for new in left)
                texts.append(f"[targeting] skip_segments leaves out {old} but not {_or(left)}, split from {old}: {count:,} "
                             f"customer(s) of {_or(left) if len(left) == 1 else 'them'} are on this list{_each(left)}. "
                             f"Add {quoted} to skip_segments to leave them out.")
        if old in asked and paying is not None:
            waiting = paying.astype(str).value_counts()
            left = {new: int(waiting.get(new, 0)) for new, source in SPLIT_FROM.items()
                    if source == old and new not in asked and waiting.get(new, 0)}
            if left:
                count = sum(left.values())
                whose = " and ".join(f"{' or '.join(stage for stage, n in STAGE_SEGMENTS[old].items() if n == new)} ({new})"
                                     for new in left)
                texts.append(f"The segments asked for include {old}, but its {whose} customers have a segment of their own "
                             f"since {'it was' if len(left) == 1 else 'they were'} split from {old}: {count:,} of them "
                             f"would pay off{_each(left)} and {'is' if count == 1 else 'are'} not on this list. "
                             f"Ask for {' and '.join(left)} too to list them.")
    return tuple(texts)


def unsplit_scores_warnings(scores: pd.DataFrame, asked: Sequence[str] = ()) -> tuple[str, ...]:
    """That ``scores`` were written before a segment was split from ``dormant``
    (:func:`churnml.segments.unsplit_segments`), where they were: the list treats those customers
    as ``dormant`` (its action, cost and skip), and asking for ``low_value_active`` (``asked``:
    the segment keys asked for) found none of them without saying why. Nothing for scores without
    ``lifecycle_stage`` or written by this churnml. In the summary's warnings, so that
    `churnml retention-list`, its summary file and workbook, and ``POST /retention_list`` all say it
    (the CLI alone printed it once).

    Example
    -------
    >>> old = pd.DataFrame({"segment": ["dormant", "dormant"], "lifecycle_stage": ["growing", "lapsed"]})
    >>> unsplit_scores_warnings(old, ["low_value_active"])[0][:100]
    'These scores were written by an older churnml, before low_value_active was split from dormant: their'
    """
    if "segment" not in scores.columns or "lifecycle_stage" not in scores.columns:
        return ()
    counts = unsplit_segments(scores["segment"], scores["lifecycle_stage"])
    texts = []
    for old in dict.fromkeys(SPLIT_FROM[new] for new in counts):
        split = {new: count for new, count in counts.items() if SPLIT_FROM[new] == old}
        held = ", ".join(f"{count:,} {' or '.join(s for s, n in STAGE_SEGMENTS[old].items() if n == new)} ({new})"
                         for new, count in split.items())
        wanted = [key for key in dict.fromkeys(asked) if key in split]
        texts.append(f"These scores were written by an older churnml, before {' and '.join(split)} "
                     f"{'was' if len(split) == 1 else 'were'} split from {old}: their {old} customers include {held} by "
                     f"lifecycle stage. This list treats them as {old} (its action, [targeting] contact_costs and "
                     f"skip_segments)" + (f", and asking for {' or '.join(wanted)} finds none of them" if wanted else "")
                     + ". Run `churnml score` again for scores with the current segments.")
    return tuple(texts)


TALKING_POINT_LABEL = "by talking point"
"""How the workbook's summary sheet starts a line of :func:`talking_point_counts`."""
NO_TALKING_POINT = "none (empty cell)"
"""The line of the contacts without a talking point (the terminal and the list report say it so)."""


def talking_point_counts(customers: pd.DataFrame) -> tuple[pd.Series, int]:
    """How many contacts of a list (:attr:`RetentionList.customers`; the control group, which nobody
    contacts, left out) open with each talking point, most first, and how many have none; nothing
    for a list without the column. The terminal's and the list report's "By talking point", the
    workbook's summary sheet (:func:`summary_sheets`) and the summary file
    (:func:`talking_point_summary`) all count with it."""
    if "talking_point" not in customers.columns:
        return pd.Series(dtype="int64"), 0
    if GROUP_COLUMN in customers.columns:
        customers = customers[customers[GROUP_COLUMN].astype(str) != "control"]
    points = customers["talking_point"].fillna("").astype(str).str.strip()
    return points[points != ""].value_counts(), int((points == "").sum())


def talking_point_summary(customers: pd.DataFrame) -> dict:
    """:func:`talking_point_counts` in the summary file's form: ``by_talking_point``, one record per
    talking point, most first, whose ``customers`` counts the contacts as ``by_segment``'s does, and
    ``without_talking_point``, the contacts with none.

    >>> talking_point_summary(pd.DataFrame({"talking_point": ["Say sorry", "", "Say sorry"]}))
    {'by_talking_point': [{'talking_point': 'Say sorry', 'customers': 2}], 'without_talking_point': 1}
    """
    counts, without = talking_point_counts(customers)
    return {"by_talking_point": [{"talking_point": str(text), "customers": int(n)} for text, n in counts.items()],
            "without_talking_point": without}


def untopical_scores_warnings(scores: pd.DataFrame, reasons: Sequence[object] | np.ndarray) -> tuple[str, ...]:
    """That ``scores`` were written before reasons had topics (no ``reason_topics`` column), where a
    contacted customer of the list (``reasons``: theirs) has reasons: the list's ``talking_point``
    is then empty. A reason's topic is that of the feature that gave it, which the stored sentence
    does not record; scoring again gives them.

    Example
    -------
    >>> untopical_scores_warnings(pd.DataFrame({"reasons": ["2 unresolved complaints"]}), ["2 unresolved complaints"])[0][:80]
    'These scores were written by an older churnml, before reasons had topics: the li'
    """
    if TOPICS_COLUMN in scores.columns or not any(isinstance(r, str) and r for r in reasons):
        return ()
    return ("These scores were written by an older churnml, before reasons had topics: the list's talking_point "
            "column is empty. Run `churnml score` again for a talking point per customer from their reasons.",)


def _or(counts: dict[str, int]) -> str:
    """``a``, ``a or b``, ``a, b or c``: the segment keys of ``counts``."""
    keys = list(counts)
    return keys[0] if len(keys) == 1 else f"{', '.join(keys[:-1])} or {keys[-1]}"


def _each(counts: dict[str, int]) -> str:
    """`` (a 1, b 3)`` for more than one segment key; nothing for one."""
    return "" if len(counts) == 1 else f" ({', '.join(f'{key} {count:,}' for key, count in counts.items())})"


def match_ids(customer_ids: pd.Series, listed: Iterable[str]) -> tuple[np.ndarray, tuple[tuple[str, str], ...], tuple[str, ...]]:
    """Which scored customers a do-not-contact list names.

    An id matches as written, or else loosely: ignoring surrounding spaces, case and leading
    zeros, as one system's "002475" is another's "2475". A list whose ids were all written with
    zeros matched nobody, and every opted-out customer stayed on the retention list without a
    word; leaving out one customer too many is the safe side of that mistake.

    Returns
    -------
    tuple
        A boolean mask over ``customer_ids`` (matched either way); the (listed, scored) id pairs
        that matched loosely only; the listed ids that match no scored customer (customers
        outside the population at the scores' date, or unknown ids).
    """
    ids = customer_ids.astype(str)
    listed = {str(i) for i in listed}
    exact = ids.isin(listed).to_numpy()
    rest = sorted(listed - set(ids[exact]))
    if not rest:
        return exact, (), ()
    rest_keys = loose_ids(pd.Series(rest, dtype=str)).tolist()
    wanted = {}
    for item, key in zip(rest, rest_keys):
        wanted.setdefault(key, item)
    loose_keys = loose_ids(ids)
    loose = ~exact & loose_keys.isin(wanted).to_numpy()
    pairs = tuple((wanted[key], scored) for key, scored in zip(loose_keys[loose], ids[loose]))
    # An id that matches a customer loosely is not unmatched, even when another way of writing it
    # matched that customer exactly (the list had both 'C0003548' and 'c0003548').
    matched = set(loose_keys[exact | loose])
    unmatched = tuple(item for item, key in zip(rest, rest_keys) if key not in matched)
    return exact | loose, pairs, unmatched


def _best_within_budget(costs: np.ndarray, benefits: np.ndarray, control: np.ndarray, budget: float,
                        max_contacts: int | None = None) -> np.ndarray:
    """Which of the ranked candidates the budget buys: the contacts paid in rank order
    (:func:`_within_budget`), or those paid in order of benefit per unit of cost, whichever expects
    the larger net benefit; control customers come with the contacts as the walk chosen meets them.
    Paid in rank order only, calls at 40 among e-mails at 0.5 made a larger budget save less: 100
    bought 2 calls and 40 e-mails, 160 the 4 calls alone. In order of benefit per cost only, a budget
    for one valuable call went to one e-mail. The better of the two is never worse than either; with
    ``max_contacts`` (the maximum count, which then keeps the top of the ranking) they are compared
    on the contacts it keeps."""
    in_rank = _within_budget(costs, control, budget)
    if in_rank.all() or np.ptp(costs) == 0:  # everyone fits, or one cost for all: both orders are the ranking
        return in_rank
    per_cost = np.divide(benefits, costs, out=np.full(len(costs), np.inf), where=costs > 0)
    order = np.argsort(-per_cost, kind="stable")  # ties keep the ranking's order
    by_ratio = np.empty(len(costs), dtype=bool)
    by_ratio[order] = _within_budget(costs[order], control[order], budget)

    def kept(fits: np.ndarray) -> float:
        return float(benefits[fits & ~control][:max_contacts].sum())

    return by_ratio if kept(by_ratio) > kept(in_rank) else in_rank


def _within_budget(costs: np.ndarray, control: np.ndarray, budget: float) -> np.ndarray:
    """Which of the ranked candidates the budget pays for, best first: each contact that still
    fits, skipping one that does not (a cheaper one further down may). Control customers cost
    nothing and come with the contacts ranked around them, as far down as a contact was paid.
    With one cost for all this is a prefix of the ranking; with a 40 call among 0.5 e-mails the
    list used to stop at the first call it could not pay and leave most of the budget unspent."""
    paid = np.where(control, 0.0, costs)
    if paid.sum() <= budget + 1e-9:  # everyone fits: no walk over a million candidates
        return np.ones(len(costs), dtype=bool)
    if np.ptp(costs) == 0:  # one cost for all: the top of the ranking
        spent = np.cumsum(paid)
        top = np.arange(len(costs)) < int(np.searchsorted(spent, budget + 1e-9, side="right"))
        # A control customer comes only where the budget left could have paid its contact, as
        # below: a budget short of one contact listed the control customers ranked first, and nobody else.
        return top & (~control | (costs <= budget + 1e-9 - spent))
    fits = np.zeros(len(costs), dtype=bool)
    left = budget + 1e-9
    cheapest = float(costs[~control].min()) if (~control).any() else 0.0
    for i in range(len(costs)):
        if control[i]:
            fits[i] = costs[i] <= left
        elif costs[i] <= left:
            fits[i] = True
            left -= costs[i]
        if left < cheapest:  # nothing further down can be paid
            fits[i + 1:] = control[i + 1:] & (costs[i + 1:] <= left)
            break
    return fits


def control_precision(churn_probability: float, success_rate: float, contacts: int, control: int) -> dict[str, float]:
    """What ``churnml evaluate LIST DATA`` can measure with a list's control group, before the campaign.

    The contacts are taken to churn at the rate the list assumes (``1 − success_rate`` of the
    control's predicted ``churn_probability``), so the uplift the list expects is ``churn_probability
    × success_rate``. Returns ``spread`` (the half-width of evaluate's 95 % interval of the uplift,
    in percentage points), ``uplift`` (the expected uplift, in points), ``power`` (the chance that
    the interval excludes 0 if the contacts work as assumed) and ``holdout`` (the share of the list
    a control group needs for a power of 0.8 with the same contacts, and ``control`` its customers;
    ``inf`` where no control group, however large, gives it). A 10 % holdout of a list of 1,999 contacts (203
    control customers at a predicted churn of about 15 %) expected an uplift of 4.7 points and could
    measure it only to ±5: 2 times in 5 would the interval clear 0, and evaluate said "cannot be told from chance" three months later.

    >>> out = control_precision(0.15, 0.3, 1999, 203)
    >>> round(out["spread"], 1), round(out["uplift"], 1), round(out["power"], 2), round(out["holdout"], 2)
    (5.1, 4.5, 0.41, 0.23)
    """
    p, contacted = churn_probability, churn_probability * (1 - success_rate)
    contacts, control = max(contacts, 1), max(control, 1)
    contact_variance = contacted * (1 - contacted) / contacts
    error = (p * (1 - p) / control + contact_variance) ** 0.5
    uplift = p * success_rate
    power = 0.5 * (1 + math.erf((uplift / error - 1.959964) / 2 ** 0.5)) if error > 0 else 1.0
    needed = (uplift / (1.959964 + 0.841621)) ** 2 - contact_variance  # the control's variance share at power 0.8
    size = p * (1 - p) / needed if needed > 0 else math.inf
    finite = math.isfinite(size)
    return {"spread": 100 * 1.959964 * error, "uplift": 100 * uplift, "power": power,
            "control": math.ceil(size) if finite else math.inf, "holdout": size / (size + contacts) if finite else math.inf}


SMALL_CONTROL = 30
"""Below this many control customers, a list warns how coarse the uplift `evaluate` can measure will be."""
ADEQUATE_POWER = 0.8
"""Below this chance that `evaluate` tells the list's assumed effect from chance, a list warns and says
the holdout that reaches it (:func:`control_precision`)."""


def list_notes(result: RetentionList, problem: Mapping[str, Any] | None, exclude_ids: int,
               option: str = "--") -> tuple[tuple[str, str], ...]:
    """What a list's reader should know beyond its summary's warnings, as ``("warning" | "note", text)``
    pairs in the order `churnml retention-list` says them (``Warning:`` / ``Note:``) and
    ``POST /retention_list`` returns them (``warnings`` / ``notes``): the ``exclude`` ids (``exclude_ids``
    of them were asked for) that matched only loosely or nothing; a control group too small to show the
    effect the list assumes, with the holdout that would (:func:`control_precision`); contacts who have
    not bought for half a year where churn is inactivity (``problem``: the models' definition). Options
    are named with ``option`` before them: ``--holdout`` for the CLI, ``holdout`` for the API's fields.
    The API answered a holdout that could measure nothing without a word.

    Example
    -------
    >>> scores = pd.DataFrame({"customer_id": [f"C{i:03d}" for i in range(100)], "segment": "high_value_at_risk",
    ...     "churn_probability": 0.2, "predicted_value": 400.0, "value_at_risk": 100.0, "reasons": ""})
    >>> kind, text = list_notes(retention_list(scores, holdout=0.1), None, 0, option="")[0]
    >>> kind, text[:75]
    ('warning', 'the control group has 12 customer(s): `churnml evaluate` will measure the u')
    """
    summary, customers = result.summary, result.customers
    said: list[tuple[str, str]] = []
    loose, unmatched = summary.excluded_loosely, summary.exclude_unmatched
    if loose:
        examples = ", ".join(f"{listed_id!r:.60} as {scored!r:.60}" for listed_id, scored in loose[:3])
        said.append(("warning", f"{len(loose):,} customer(s) were left out because an {option}exclude id matches theirs "
                                f"only when leading zeros, case and spaces are ignored ({examples}). Write the ids as the "
                                "scores do to be sure."))
    if unmatched:
        examples = ", ".join(f"{i!r:.60}" for i in unmatched[:3])  # a wrong file's 5 MB line is not an example
        text = (f"{len(unmatched):,} of {exclude_ids:,} {option}exclude ids match no scored customer (e.g. {examples}): "
                "customers outside the population at the scores' date, or ids the scores do not have.")
        if len(unmatched) == exclude_ids:
            said.append(("warning", text + " None matched: check that the file lists the same ids as the scores' customer_id."))
        else:
            said.append(("note", text))
    if summary.holdout > 0 and summary.control == 0 and summary.selected > 0:
        said.append(("warning", f"no customer of this list fell in the control group ({summary.holdout:.0%} of "
                                f"{summary.selected:,}): there is nothing to compare with. A longer list or a larger "
                                f"{option}holdout gives one."))
    elif summary.control > 0:
        said.extend(("warning", text) for text in _control_warnings(summary, customers, option))
    lapsed = _lapsed_warning(customers, problem, option)
    if lapsed:
        said.append(("warning", lapsed))
    few = _few_pay_off_note(summary, problem, option)
    if few:
        said.append(("note", few))
    return tuple(said)


def _few_pay_off_note(summary: RetentionSummary, problem: Mapping[str, Any] | None, option: str) -> str:
    """Why a list spends less than half its budget though it took every candidate: few customers pay
    off a contact, and at which value at risk one does. On a telecom export (bills of about 30 a month,
    a 90-day horizon) a budget of 5,000 listed 4 of 1,069 customers considered and left 4,980 unspent,
    with nothing to say that the contact cost, not the budget, decided. "" otherwise."""
    if (summary.budget is None or summary.limited_by != "none" or not summary.contacts
            or summary.total_cost >= summary.budget / 2 or summary.candidates >= summary.scored):
        return ""
    costs = set(summary.contact_costs.values()) or {summary.contact_cost}
    horizon = (problem or {}).get("horizon_days")
    over = f" over the next {horizon} days" if horizon else ""
    if len(costs) == 1:
        cost = costs.pop()
        rule = (f"exceeds the contact cost ({cost:,.2f}): a value at risk (churn probability × value if retained{over}) "
                f"above {cost / summary.success_rate:,.2f}")
    else:
        rule = f"exceeds its contact cost (value at risk: churn probability × value if retained{over})"
    cost_option = f"{option}contact-cost" if option else "contact_cost"
    return (f"the list spends {summary.total_cost:,.2f} of its budget of {summary.budget:,.2f}: only "
            f"{summary.candidates:,} of the {summary.scored:,} customers considered would pay off, those whose value at "
            f"risk × the success rate ({summary.success_rate:g}) {rule}. A larger budget adds no one; a cheaper contact "
            f"({cost_option}, or [targeting] contact_costs per segment: an e-mail rather than a call) lets more pay off.")


def said_fields(said: Iterable[tuple[str, str]], summary: RetentionSummary) -> dict[str, list[str]]:
    """A list's ``warnings`` and ``notes`` as its ``.json`` summary records them, its workbook's summary
    sheet and its report show them and ``POST /retention_list`` returns them: those of :func:`list_notes`
    (``said``), then the summary's own :attr:`RetentionSummary.warnings`, in the order `churnml
    retention-list` prints them. The files recorded only the summary's own: a marketer opening the
    workbook, or `report --list` a month later, never read that the control group was too small to
    tell the effect from chance.

    >>> scores = pd.DataFrame({"customer_id": ["a"], "segment": ["dormant"], "churn_probability": [0.5],
    ...     "predicted_value": [10.0], "value_at_risk": [10.0], "reasons": [""]})
    >>> result = retention_list(scores, budget=1, exclude={"a", "b"})
    >>> fields = said_fields(list_notes(result, None, 2), result.summary)
    >>> [text[:40] for text in fields["warnings"]], [text[:40] for text in fields["notes"]]
    (['No customer left to consider: the exclus'], ['1 of 2 --exclude ids match no scored cus'])
    """
    said = tuple(said)
    return {"warnings": [text for kind, text in said if kind == "warning"] + list(summary.warnings),
            "notes": [text for kind, text in said if kind == "note"]}


def _control_warnings(summary: RetentionSummary, customers: pd.DataFrame, option: str) -> list[str]:
    """How precisely `churnml evaluate` can measure the uplift with the list's control group, where too
    coarsely: under :data:`SMALL_CONTROL` customers, or with less than :data:`ADEQUATE_POWER`."""
    # A control group of 3 let evaluate say only "the interval includes 0", months later. The
    # contacts churn at the rate the list assumes (1 - success_rate of it): taken at the control's
    # rate, a gym's lapsed members (predicted churn 100 %) read "±0 percentage points" for 8 controls.
    p = float(customers.loc[customers[GROUP_COLUMN] == "control", "churn_probability"].mean())
    success_rate = summary.success_rate
    if summary.control < SMALL_CONTROL:
        precision = control_precision(p, success_rate, summary.contacts, summary.control)
        return [f"the control group has {summary.control:,} customer(s): `churnml evaluate` will measure the uplift "
                f"only to about ±{precision['spread']:.0f} percentage points (at their predicted churn of {p:.0%}). A larger "
                f"{option}holdout or a longer list narrows it."]
    # The whole list's churn, which the control group only samples: the holdout said should not
    # move with the group it draws (203 control customers at 16 % said 0.22, which drew 538 at 15 %).
    p = float(customers["churn_probability"].mean())
    precision = control_precision(p, success_rate, summary.contacts, summary.control)
    if precision["power"] >= ADEQUATE_POWER:
        return []
    # A --holdout 0.1 beside 1,999 contacts: 203 control customers, ±5.2 points against the 4.7
    # the list assumed; evaluate said "cannot be told from chance" three months later, as it would
    # 3 times in 5 had the contacts kept the 30 % assumed.
    needed = precision["holdout"]
    return [f"the control group of {summary.control:,} customers lets `churnml evaluate` measure the uplift to "
            f"about ±{precision['spread']:.1f} percentage points, and the list assumes {precision['uplift']:.1f} "
            f"(success rate {success_rate:g} of the list's predicted churn of {p:.0%}): had the contacts worked as "
            f"assumed, evaluate would tell the effect from chance only {precision['power']:.0%} of the time. "
            + (f"A control group of at least {precision['control']:,} would about 4 times in 5, with the same contacts: "
               f"{option}holdout {math.ceil(needed * 100) / 100:.2f} or more (its draw gives about that share of the list)."
               if needed <= MAX_HOLDOUT else
               f"No {option}holdout up to {MAX_HOLDOUT:g} would 4 times in 5 with these contacts: a longer list would, "
               "or the results of several campaigns taken together.")]


def _lapsed_warning(customers: pd.DataFrame, problem: Mapping[str, Any] | None, option: str) -> str:
    """Contacts on the list who stopped buying half a year ago, where churn is inactivity: the
    models count them as customers for ``active_days`` (365) without a purchase and as near-certain
    churners, so on a gym's list 9 of the 20 contacts had not paid for 180 to 358 days. "" otherwise."""
    if not problem or problem.get("churn") != "inactivity" or "lifecycle_stage" not in customers.columns:
        return ""
    contacted = customers if GROUP_COLUMN not in customers.columns else customers[customers[GROUP_COLUMN] != "control"]
    lapsed = int((contacted["lifecycle_stage"] == "lapsed").sum())
    if not lapsed:
        return ""
    return (f"{lapsed:,} of the {len(contacted):,} customers to contact have not bought for {LAPSED_DAYS:.0f} days or "
            f"more (lifecycle_stage lapsed): without churn_events they count as customers until "
            f"{problem.get('active_days')} days without a purchase ([problem] active_days), but where customers buy "
            "every few weeks (a monthly subscription, a trade customer's regular orders) they have left already, and "
            f"a win-back succeeds far less often than the success rate assumes. {option}exclude them, or train with "
            "churn_events or a shorter active_days.")


def control_group(customer_ids: Iterable[str], as_of: Iterable[str], share: float) -> np.ndarray:
    """Which customers are in a control group of about ``share`` of them: a hash of the as-of date
    and the id, uniform in [0, 1), below ``share``. Not the rank (the group would be the list's
    tail) and not a random draw (the same list gives the same group, and a customer listed twice
    on one date is in the same group both times).

    Example
    -------
    >>> control_group(["a", "b", "c", "d", "e", "f"], ["2025-12-01"] * 6, 0.5).tolist()
    [False, False, False, True, True, False]
    """
    def uniform(date: str, customer: str) -> float:
        digest = hashlib.sha256(f"{date}|{customer}".encode()).digest()
        return int.from_bytes(digest[:8], "big") / 2.0**64

    return np.array([uniform(str(d), str(c)) < share for c, d in zip(customer_ids, as_of)], dtype=bool)


def segment_costs(config: Config, contact_cost: float | None = None) -> dict[str, float]:
    """Segment key -> cost of one contact: ``contact_cost`` for all when given (``--contact-cost``),
    else ``[targeting] contact_costs`` where set and ``[targeting] contact_cost`` elsewhere.

    Raises
    ------
    ConfigError
        An unknown segment or a cost that is not a number of zero or more.
    """
    if contact_cost is not None:
        return {key: float(contact_cost) for key in SEGMENTS}
    costs = {key: float(config.targeting.contact_cost) for key in SEGMENTS}
    for name, value in config.targeting.contact_costs.items():
        try:
            key = resolve_segment(name, config)
        except ConfigError as exc:
            raise ConfigError(f"[targeting.contact_costs]: {exc}") from None
        if _check_number(value, f"[targeting.contact_costs] {name}") < 0:
            raise ConfigError(f"[targeting.contact_costs] {name} must be zero or more, got {value:g}.")
        costs[key] = float(value)
    return costs


def column_notes(columns: Iterable[str], horizon_days: int) -> pd.DataFrame:
    """What each column of a list means, in a line a call centre reads: the workbook's ``columns``
    sheet. The workbook went to the people making the calls with headers such as ``value_if_retained``,
    ``expected_benefit`` and ``talking_point``, explained only in the README and the --help they do not
    read. Columns not churnml's own are the customers table's, carried by ``--attribute``.

    >>> column_notes(["group", "region"], 90).values.tolist()[0][1][:58]
    'contact: to contact; control: do NOT contact (the control '
    """
    days = f"the next {horizon_days} days"
    notes = {
        "rank": "Order of the list, the highest expected benefit first (control customers keep their place in it)",
        "customer_id": "The customer's id, as in your data",
        GROUP_COLUMN: "contact: to contact; control: do NOT contact (the control group that measures what the contacts "
                      "achieve)",
        "as_of": "The date the scores were made for",
        "segment": "The customer's segment (value × risk), as a key",
        "segment_name": "The customer's segment in words",
        "risk_tier": "low, medium or high: the churn probability against the average customer's",
        "lifecycle_stage": "new, growing, stable, declining or lapsed: from tenure and the trend of purchases",
        "churn_probability": f"The chance that the customer leaves within {days}",
        "value_if_retained": f"What the customer would bring over {days} if they stay",
        "predicted_value": f"What the customer is expected to bring over {days}, the chance of leaving counted",
        "value_at_risk": f"value_if_retained × churn_probability: what leaving would cost, counting all {days} as lost "
                         "(a customer who leaves brings part of it first, so it runs high)",
        "contact_cost": "What contacting the customer costs (0 for the control group)",
        "expected_benefit": "value_at_risk × the success rate − contact_cost: what the contact is expected to gain",
        "reasons": "Why the customer may leave, strongest first, separated by ; (a customer attribute also says how "
                   "much more often customers with that value left in the data the models learned from, where enough "
                   "of them left to rule out chance, e.g. \"plan: basic, where churn runs 2.3× the average\"; for a "
                   "number, customers in its band: \"monthly fee: 89.5 (band 80–95), where churn runs 1.6× the average\")",
        "suggested_action": "What to offer, from the customer's segment (the control group: do not contact)",
        "talking_point": "What to open the contact with, from what the strongest reason is about (empty: no reason gives one)",
    }
    other = "From the customers table, as of the scores' date (retention-list --attribute)"
    return pd.DataFrame([(column, notes.get(column, other)) for column in columns], columns=["column", "meaning"])


def summary_sheets(summary: RetentionSummary, names: dict[str, str], horizon_days: int,
                   customers: pd.DataFrame, problem: Mapping[str, object] | None = None,
                   said: Iterable[tuple[str, str]] = ()) -> dict[str, pd.DataFrame]:
    """A list's summary as the sheets of its Excel workbook, after the list: ``summary`` (what was
    asked, the counts, the money and what it is counted as — revenue or a margin's share of it, from
    the models' ``problem`` definition, :func:`churnml.labels.value_basis` —, the contacts per talking
    point of ``customers`` — the list — and how many have none, and a ``warning`` and a ``note`` line each
    for what `churnml retention-list` prints beside it: :func:`said_fields` of :func:`list_notes`'s ``said``),
    ``by segment`` and ``columns`` (:func:`column_notes`). The summary used to be only in the .json
    beside the workbook, which a marketer does not open: the workbook showed whom to call but not what
    it costs; and without its "money counted as" row, a wholesaler at a 15 % margin read the ROI on
    revenue as profit, as the terminal and the report say it is not.

    Example
    -------
    >>> empty = retention_list(pd.DataFrame({"customer_id": ["a"], "segment": ["dormant"], "churn_probability": [0.5],
    ...     "predicted_value": [10.0], "value_at_risk": [10.0], "reasons": [""]}), budget=1)
    >>> sheets = summary_sheets(empty.summary, segment_names(), 90, empty.customers, {"margin": 0.15})
    >>> sheets["summary"].set_index("what").loc["money counted as", "value"]
    '0.15 × amount ([problem] margin)'
    >>> sheets["summary"].iloc[[0, -1]].values.tolist()
    [['budget', 1.0], ['warning', 'Nobody would pay off: a contact pays off only when value_at_risk × success_rate exceeds its contact cost. Lower the contact cost, raise the success rate, or widen the segments.']]
    """
    from churnml.labels import value_basis

    def money(value: float) -> float:
        return round(float(value), 2)

    points, without = talking_point_counts(customers)
    told = said_fields(said, summary)
    rows: list[tuple[str, object]] = [
        ("budget", "no limit" if summary.budget is None else money(summary.budget)),
        ("max customers", "no limit" if summary.max_customers is None else summary.max_customers),
        ("segments", ", ".join(names.get(k, k) for k in summary.segments) or "all but those left out below"),
        *([("minimum value at risk", money(summary.min_value))] if summary.min_value is not None else []),
        *[(f"left out: {names.get(key, key)} ([targeting] skip_segments)", n) for key, n in summary.skipped.items()],
        *([("left out: on an exclusion list", summary.excluded)] if summary.excluded else []),
        ("customers considered", summary.scored),
        (CANDIDATES_LABEL, summary.candidates),
        ("selected", summary.selected),
        *([("to contact", summary.contacts), (f"control group, not to contact ({summary.holdout:.0%})", summary.control)]
          if summary.holdout > 0 else []),
        ("limited by", summary.limited_by),
        ("total contact cost", money(summary.total_cost)),
        (f"value at risk, no contact (next {horizon_days} days)", money(summary.value_at_risk)),
        (f"expected value saved (next {horizon_days} days)", money(summary.expected_value_saved)),
        ("expected net benefit", money(summary.expected_net_benefit)),
        ("expected ROI", "–" if summary.roi is None else f"{summary.roi:.1%}"),
        *([("note on value saved", note)] if (note := value_saved_note(horizon_days, problem)) else []),
        ("contact cost", contact_cost_text(summary.contact_cost, summary.contact_costs, names)),
        ("success rate", summary.success_rate),
        ("money counted as", value_basis(problem)),  # as the terminal's headline and the reports say it
        # As the terminal's and the list report's "By talking point": the control group left out.
        *[(f"{TALKING_POINT_LABEL}: {text}", int(n)) for text, n in points.items()],
        *([(f"{TALKING_POINT_LABEL}: {NO_TALKING_POINT}", without)] if without else []),
        *[("warning", text) for text in told["warnings"]],
        *[("note", text) for text in told["notes"]],
    ]
    by_segment = summary.by_segment.drop(columns="segment").rename(columns={"name": "segment"})
    by_segment = by_segment.round({"total_cost": 2, "expected_value_saved": 2, "expected_net_benefit": 2})
    return {"summary": pd.DataFrame(rows, columns=["what", "value"]), "by segment": by_segment,
            "columns": column_notes(customers.columns, horizon_days)}


def list_size_text(contacts: int, control: int = 0) -> str:
    """A list's size as the terminal, the list report and the workbook state it: the customers to
    contact and the control group apart. "180 customers" counted the 17 of a control group, whom
    nobody is to contact, among them.

    >>> list_size_text(163, 17)
    '163 to contact + 17 control group'
    >>> list_size_text(162)
    '162 to contact'
    """
    return f"{contacts:,} to contact" + (f" + {control:,} control group" if control else "")


def contact_cost_text(default: float, costs: dict[str, float], names: dict[str, str]) -> str:
    """``5`` or ``5 (High-value at risk 40, Fleeing low-value 0.5)``: the segments that cost otherwise.

    >>> contact_cost_text(5, {"dormant": 5.0, "potential": 0.5}, {"potential": "Potential"})
    '5 (Potential 0.5)'

    Where every segment has a cost of its own, the default is no segment's and goes: "contact cost 5
    (High-value at risk 25, …, Fleeing low-value 0.5)" named a 5 that no contact of the list cost.

    >>> contact_cost_text(5, {"dormant": 0.5, "potential": 2.0}, {"potential": "Potential"})
    'dormant 0.5, Potential 2'
    """
    other = [f"{names.get(key, key)} {cost:g}" for key, cost in costs.items() if cost != default]
    if other and len(other) == len(costs):
        return ", ".join(other)
    return f"{default:g}" + (f" ({', '.join(other)})" if other else "")


def _by_segment(
    customers: pd.DataFrame,
    success_rate: float,
    names: dict[str, str],
    actions: dict[str, str],
) -> pd.DataFrame:
    rows = []
    for key in SEGMENTS:
        part = customers[customers["segment"] == key]
        if part.empty:
            continue
        cost = float(part["contact_cost"].sum())
        saved = float(part["value_at_risk"].sum() * success_rate)
        rows.append({
            "segment": key,
            "name": names[key],
            "customers": int(len(part)),
            "total_cost": cost,
            "expected_value_saved": saved,
            "expected_net_benefit": saved - cost,
            "suggested_action": actions[key],
        })
    columns = ["segment", "name", "customers", "total_cost", "expected_value_saved", "expected_net_benefit", "suggested_action"]
    return pd.DataFrame(rows, columns=columns)
