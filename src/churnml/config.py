"""Project configuration: one frozen object, loaded from an optional TOML file.

Every setting has a default, so ``Config()`` is a working configuration for data that follows the
contract's column names. A TOML file overrides any part of it, for example::

    [columns.transactions]
    timestamp = "trade_date"      # our column `trade_date` is the contract's `timestamp`
    amount = "revenue"

    [tables]
    transactions = "trades"       # the table/file is called `trades`

    [problem]
    horizon_days = 60

Unknown sections or keys are errors, so a typo never silently falls back to a default; so is a
setting of the wrong type (``n_cutoffs = 4.5``, ``timeout_seconds = "10"``) or out of its range.
"""

from __future__ import annotations

import codecs
import collections.abc
import dataclasses
import datetime
import math
import re
import tomllib
import types
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, Union, get_args, get_origin, get_type_hints

from churnml.errors import ConfigError
from churnml.schema import KNOWN_EVENT_TYPES, REASON_TOPICS, SEGMENTS


@dataclass(frozen=True)
class ProblemConfig:
    """The prediction problem (DESIGN.md, "Prediction problem")."""

    horizon_days: int = 90
    """Length of the label window after each cutoff, in days."""
    active_days: int = 365
    """Without churn events, a customer is in the population only if they traded in this many days."""
    cutoff_step_days: int = 30
    """Distance between consecutive training cutoffs."""
    n_cutoffs: int = 6
    """How many cutoffs make the training set, validation and test included."""
    n_validation_cutoffs: int = 1
    """Of those, the validation cutoffs (tuning, early stopping, the calibrator's fit), at least one
    horizon before the test cutoffs."""
    n_test_cutoffs: int = 1
    """Of those, the latest: the test cutoffs the models are graded and compared with the champion on."""
    margin: float = 1.0
    """Multiplier applied to `amount` in the value label (1.0 = amounts already are revenue)."""


TRAINING_CALIBRATIONS = ("auto", "isotonic", "platt")
"""``[training] calibration`` values (:data:`churnml.models.CALIBRATIONS` less "none": training
always calibrates)."""


@dataclass(frozen=True)
class TrainingConfig:
    trials: int = 30
    """Optuna trials per model (``churnml train --trials``); trials of an interrupted run count."""
    timeout_seconds: float | None = None
    """Seconds of tuning per model, after which no new trial starts (``--timeout``); unset = no limit."""
    seed: int = 42
    """Random seed of tuning and training (``churnml train --seed``)."""
    min_customers: int = 300
    """Fewer customers than this in the training population is an error, not a model."""
    max_categorical_levels: int = 50
    """A categorical attribute with more values than this in the training data (an account
    manager's code, a postcode) is left out of the models: it names groups of customers rather
    than describing them, and the trees fit its rare values to noise. Map it to fewer groups
    (a view over the customers table) to use it."""
    calibration: str = "auto"
    """How the churn model's scores become probabilities, fitted on the validation cutoff: "auto"
    (isotonic regression or Platt scaling, whichever has the lower cross-validated log loss there;
    isotonic only when it gives at least 20 distinct probabilities), "isotonic" or "platt"
    (see :class:`churnml.models.ChurnModel`)."""


@dataclass(frozen=True)
class SegmentsConfig:
    """Tier thresholds and the value × risk segments (see docs in ``churnml.segments``)."""

    risk_thresholds: tuple[float, float] | None = None
    """Fixed cut points: churn_probability below the first is `low`, below the second `medium`,
    else `high`. Unset (the default), the cut points are `risk_multiples` of the base rate."""
    risk_multiples: tuple[float, float] = (1.5, 3.0)
    """Without `risk_thresholds`: `medium` from 1.5 times the churn model's base rate (the churn
    rate at its test cutoff), `high` from 3 times. A 90-day churn rate is often a few percent;
    fixed cut points of 0.2 and 0.5 then called customers at 2.5 times the average risk "low"."""
    value_shares: tuple[float, float] = (0.8, 0.95)
    """Top value tier: the customers that together make the first 80% of the value if retained;
    `medium` the next 15%; `low` the rest (80/20 idea)."""
    names: Mapping[str, str] = field(default_factory=dict)
    """Override segment display names, e.g. {"high_value_at_risk": "Save now"}."""
    actions: Mapping[str, str] = field(default_factory=dict)
    """Override suggested actions per segment key."""
    talking_points: Mapping[str, str] = field(default_factory=dict)
    """Override the talking point per reason topic (a retention list's ``talking_point``: what to
    open with, from the customer's strongest reason), e.g. {service = "Apologise for the open
    complaint first"}; keys are :data:`churnml.schema.REASON_TOPICS`. An empty text switches a topic
    off: the customer's next reason with a talking point gives theirs (as ``attribute`` by default)."""


@dataclass(frozen=True)
class TargetingConfig:
    contact_cost: float = 5.0
    """Cost of one retention contact, in the same currency as `amount`."""
    contact_costs: Mapping[str, float] = field(default_factory=dict)
    """Cost of one contact per segment, where it differs from ``contact_cost`` (a call from the
    account manager against an automated e-mail), e.g. {high_value_at_risk = 40,
    fleeing_low_value = 0.5}; keys are segment keys or display names. ``--contact-cost`` sets
    one cost for every segment instead."""
    success_rate: float = 0.3
    """Share of contacted at-risk customers that a contact keeps."""
    holdout: float = 0.0
    """Share of each retention list kept uncontacted as a control group (0 to 0.5; 0: none), so
    that `churnml evaluate LIST DATA` can measure the success rate once the horizon has passed."""
    skip_segments: tuple[str, ...] = ("loyal_high_value",)
    """Segments a retention list leaves out unless `--segment` names them, because their
    suggested action is no retention contact (loyal high-value customers: "reward, do not
    disturb"). `[]` lists every segment."""
    attributes: tuple[str, ...] = ()
    """Columns of the customers table carried onto every retention list, e.g. ["region", "plan"], as
    `retention-list --attribute` and the API's ``attributes`` (which replace it): their values as of
    the list's date, from the feature snapshot `churnml score` wrote for it. A name of the list's own
    columns gets ``customer_`` before it (``customer_segment``)."""


@dataclass(frozen=True)
class MonitoringConfig:
    psi_threshold: float = 0.2
    """Population stability index above which a feature or score counts as drifted (``score`` warns,
    or exits 3 with ``--fail-on-drift``)."""
    max_model_age_days: int = 120
    """Days since the models' training as-of date after which they count as too old: ``score`` warns
    (or exits 3 with ``--fail-on-drift``), and so do the server's log and ``GET /model``."""
    money_level_ratio: float = 1.5
    """A money feature's over a window of days (not ``monetary_lifetime``) or ``predicted_value``'s median (among customers with a non-zero value)
    this many times the reference's, or below it by the same factor, counts as drift: prices or
    amounts changed, and the value model's money figures are off. 1.5 is above the noise measured on
    unchanged generated data (up to 1.34 within the model's life); a 25 % rise reads 1.20-1.68, within
    that noise, so no ratio catches it without false alarms (README, "Monitoring and reports")."""
    drift_sample_rows: int = 200_000
    """Most scored customers `churnml score --engine spark` brings to the driver for the drift check:
    all of them up to this many, else a uniform sample of this many (drawn by a hash of customer_id,
    so a rerun checks the same customers); the sidecar's ``monitoring`` says how many it saw
    (``rows_checked``). The DuckDB path checks every customer. At 200,000 a bin holding 10 % of the
    customers reads its share to about ±0.07 points, PSI noise of about 0.0001 (docs/spark.md)."""


@dataclass(frozen=True)
class ServingConfig:
    max_customer_ids: int = 1000
    """Most customer ids (or posted customers, or retention-list rows) in one API request."""
    max_body_bytes: int = 2_000_000
    """Largest request body the API reads; bigger ones get 413."""
    access_log: bool = True
    """One log line per request (method, path, status, time; never the body). Off saves about a
    sixth of the server's CPU per `/score` call."""
    trace_requests: bool = False
    """OpenTelemetry spans for the API routes. BentoML builds a span for every request even when
    no exporter is configured; off (the default) skips that work, which is over a third of the
    CPU of a `/score` call. Turn on together with a BentoML tracing exporter."""
    request_timeout_seconds: int = 30
    """A request not answered within this many seconds gets 504 (BentoML's ``traffic.timeout`` of the
    service; the work may still finish in the background). Raise it when `/score_history` calls with
    long histories take longer on your server; a client's or proxy's timeout should sit above it."""
    graceful_shutdown_seconds: int = 0
    """After SIGTERM (or Ctrl-C), how long the server waits for requests in flight before it cancels
    them (`churnml serve` passes it to BentoML's ``--timeout-graceful-shutdown``). 0: no limit; each
    request still ends within ``request_timeout_seconds``. It stops accepting connections at
    once: take it out of the load balancer first (README, *HTTP API*)."""


REASONS_FOR = ("all", "at_risk")


@dataclass(frozen=True)
class ScoringConfig:
    reasons_for: str = "all"
    """Who gets reasons in batch scoring: ``all``, or ``at_risk`` (medium and high risk only).
    Reasons cost most of a batch run (LightGBM ``pred_contrib``); ``at_risk`` skips the customers
    a retention campaign leaves alone. The HTTP API always explains every customer it scores."""
    hidden_reasons: tuple[str, ...] = ()
    """Features never given as a reason, by feature or customer-column name, e.g. ["age_band"]:
    attributes a contact must not mention (age, gender, other protected characteristics) or
    cannot act on. They still count in the scores; the next driver takes their place."""
    keep_snapshots: int | None = None
    """Feature snapshots `churnml score` keeps in its --snapshots folder: after writing its own,
    it removes all but the newest this many (by as-of date; the newest, which `churnml serve`
    loads, always stays), each with its outside_YYYY-MM-DD.parquet. Unset (the default) keeps every one; `churnml prune-snapshots` removes
    them on demand."""


@dataclass(frozen=True)
class DuckDBConfig:
    """The embedded engine's resources."""

    memory_limit: str = "5GB"
    """DuckDB's memory limit; beyond it, work spills to ``temp_directory``. Keeps a million
    customers with tens of millions of transactions under 8 GB (the feature table itself, about
    1 GB for six cutoffs, is in Python, outside this limit)."""
    threads: int = 0
    """Worker threads; 0 = one per core."""
    temp_directory: str = ""
    """Where DuckDB spills; empty = this account's own ``churnml-duckdb-<uid>`` folder (mode 0700)
    in the system temp directory."""


@dataclass(frozen=True)
class InputConfig:
    """How dates and numbers stored as text are written in your files (CSV, or text columns)."""

    date_format: str | tuple[str, ...] = ""
    """strftime-style format of your dates, e.g. "%d.%m.%Y" or "%d/%m/%Y %H:%M" ("%y" for
    two-digit years), or a list of them when tables differ, e.g. ["%d/%m/%Y", "%d.%m.%Y %H:%M"]:
    each value is read with the first format that fits. A format with a time of day also reads
    the date alone ("%d.%m.%Y %H:%M" reads 31.12.2024). ISO dates (2024-12-31,
    2024-12-31T08:00:00+01:00) are read either way; empty = ISO only."""
    decimal_comma: bool = False
    """Numbers use a comma for decimals and may group thousands with ".", a space or "'":
    "1.234,56" is 1234.56 (and "1.234" is 1234). Applies to amounts, quantities, satisfaction
    scores and numeric customer attributes. Either way, a currency sign or code before or after
    the number ("12,50 €", "$6,069.00"), a trailing minus ("184,33-") and an accounting negative
    in parentheses ("($508.15)") are read, in numeric customer attributes too."""
    data_end: str = ""
    """The last day of your data, YYYY-MM-DD; rows after it are set aside. Empty = inferred: the
    last day with ordinary transaction volume (a few stray later rows do not count), which a
    small company's data can get wrong."""
    satisfaction_scale: tuple[float, float] = (1.0, 5.0)
    """The lowest and highest score of your satisfaction surveys, e.g. [0, 10] for NPS. Scores are
    rescaled to churnml's 1-5 (1 + 4 x (score - low) / (high - low)) for the features and the
    service score; reasons quote them on your scale ("last satisfaction score 3/10"). A score outside
    your scale (or that does not read) is blanked and its event kept, listed in the quarantine file;
    many outside it stop validation, naming the scale they seem to use."""
    encoding: str = ""
    """The text encoding of CSV files that are not UTF-8, e.g. "cp1252" (Windows, Western
    Europe), "latin-1", "utf-16" or "shift_jis" (any name Python knows). Each file that is valid
    UTF-8 is still read as UTF-8, so a folder may mix both; the others are decoded from this
    encoding into a temporary UTF-8 copy. Empty = UTF-8 only."""
    order_lines: bool = False
    """Each transactions row is one line of an order (an ERP's export: the order number repeats on
    every line), and ``transaction_id`` is mapped to the order number. Validation then merges the
    lines of one (customer_id, transaction_id) into one transaction: amounts summed (a returned line's
    negative amount included; an order summing below 0 is a refund), the earliest line's timestamp,
    and for ``category`` and ``channel`` the value of the line with the largest amount among those with
    one (the first in alphabetical order on a tie), so that purchase counts and the usual gap between
    purchases count orders, and ``distinct_categories`` counts orders' main categories. Lines of one
    order id naming different customers are set aside (``--engine spark`` refuses them)."""
    event_types: Mapping[str, str] = field(default_factory=dict)
    """Your service event types -> churnml's (complaint, ticket, call, inquiry, survey,
    account_manager_change), e.g. {"billing complaint" = "complaint", "outage" = "ticket"}.
    Case and surrounding spaces are ignored; unmapped types outside churnml's count as "other"."""

    @property
    def date_formats(self) -> tuple[str, ...]:
        """The formats dates are tried with, in order: :attr:`date_format`, each followed by its
        date part when it has a time of day.

        >>> InputConfig(date_format=["%d/%m/%Y", "%d.%m.%Y %H:%M"]).date_formats
        ('%d/%m/%Y', '%d.%m.%Y %H:%M', '%d.%m.%Y')
        """
        given = (self.date_format,) if isinstance(self.date_format, str) else tuple(self.date_format)
        formats: list[str] = []
        for fmt in (f.strip() for f in given):
            if not fmt:
                continue
            formats.append(fmt)
            time_of_day = re.search(r"%[HIMSp]", fmt)
            date_part = fmt[:time_of_day.start()].rstrip(" T,") if time_of_day else ""
            if "%" in date_part:
                formats.append(date_part)
        return tuple(dict.fromkeys(formats))

    def satisfaction_sql(self, score: str) -> str:
        """SQL rescaling ``score`` from :attr:`satisfaction_scale` to 1-5 (itself on 1-5)."""
        low, high = self.satisfaction_scale
        if (low, high) == (1.0, 5.0):
            return score
        return f"(1 + 4 * ({score} - {low!r}) / {high - low!r})"

    def rescale_satisfaction(self, score: float) -> float:
        """One score from :attr:`satisfaction_scale` to 1-5: :meth:`satisfaction_sql` in Python."""
        low, high = self.satisfaction_scale
        if (low, high) == (1.0, 5.0):
            return score
        return 1 + 4 * (score - low) / (high - low)

    def event_type(self, value: str) -> str:
        """churnml's event type for one of yours: :attr:`event_types` applied (ignoring case and
        surrounding spaces), lower case. Validation applies the same rule in SQL."""
        return normalised_event_types(self.event_types).get(value.strip().lower(), value.lower())


def normalised_event_types(mapping: Mapping[str, str]) -> dict[str, str]:
    """``[input.event_types]`` keyed by your type in lower case without surrounding spaces: the first
    of two that differ only so wins, as SQL's CASE does (:meth:`InputConfig.event_type`)."""
    mapped: dict[str, str] = {}
    for yours, ours in mapping.items():
        mapped.setdefault(str(yours).strip().lower(), ours)
    return mapped


@dataclass(frozen=True)
class Config:
    """All settings. Build with :func:`load_config` or ``Config()`` for defaults."""

    tables: Mapping[str, str] = field(default_factory=dict)
    """Contract table name -> the user's table or file stem."""
    columns: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    """Contract table name -> {contract column -> user's column}."""
    problem: ProblemConfig = field(default_factory=ProblemConfig)
    training: TrainingConfig = field(default_factory=TrainingConfig)
    segments: SegmentsConfig = field(default_factory=SegmentsConfig)
    targeting: TargetingConfig = field(default_factory=TargetingConfig)
    monitoring: MonitoringConfig = field(default_factory=MonitoringConfig)
    serving: ServingConfig = field(default_factory=ServingConfig)
    scoring: ScoringConfig = field(default_factory=ScoringConfig)
    duckdb: DuckDBConfig = field(default_factory=DuckDBConfig)
    input: InputConfig = field(default_factory=InputConfig)

    def table_name(self, table: str) -> str:
        """The user's name for a contract table."""
        return self.tables.get(table, table)

    def column_name(self, table: str, column: str) -> str:
        """The user's name for a contract column."""
        return self.columns.get(table, {}).get(column, column)

    def replace(self, **sections: Any) -> "Config":
        """A copy with some sections' fields replaced: ``cfg.replace(problem={"horizon_days": 60})``."""
        updates = {}
        for name, values in sections.items():
            current = getattr(self, name)
            updates[name] = dataclasses.replace(current, **values) if dataclasses.is_dataclass(current) else values
        return dataclasses.replace(self, **updates)


_SECTIONS = {
    "problem": ProblemConfig,
    "training": TrainingConfig,
    "segments": SegmentsConfig,
    "targeting": TargetingConfig,
    "monitoring": MonitoringConfig,
    "serving": ServingConfig,
    "scoring": ScoringConfig,
    "duckdb": DuckDBConfig,
    "input": InputConfig,
}

# Every setting is checked against its declared type (the dataclass annotation) by `_setting`, then
# against its range here: section -> key -> (test, what the value must be[, why]).
_Rule = tuple[Callable[[Any], bool], str] | tuple[Callable[[Any], bool], str, str]
_AT_LEAST_1: _Rule = (lambda v: v >= 1, "at least 1")
_ZERO_OR_MORE: _Rule = (lambda v: v >= 0, "zero or more")
_LIMITS: dict[str, dict[str, _Rule]] = {
    "problem": {
        "horizon_days": _AT_LEAST_1,
        "active_days": _AT_LEAST_1,
        "cutoff_step_days": _AT_LEAST_1,
        "n_cutoffs": _AT_LEAST_1,
        "n_validation_cutoffs": (lambda v: v >= 1, "at least 1", "Training tunes the models on the validation cutoff(s)."),
        "n_test_cutoffs": (lambda v: v >= 1, "at least 1", "Training grades the models on the test cutoff(s)."),
        "margin": (lambda v: v > 0, "more than 0"),
    },
    "training": {
        "trials": _AT_LEAST_1,  # as `churnml train --trials`
        "timeout_seconds": (lambda v: v > 0, "a positive number of seconds"),  # as `--timeout`
        "seed": (lambda v: 0 <= v < 2**32, f"between 0 and {2**32 - 1}"),  # Optuna's (NumPy's) seed range
        "min_customers": _ZERO_OR_MORE,
        "max_categorical_levels": _ZERO_OR_MORE,
        "calibration": (lambda v: v in TRAINING_CALIBRATIONS, f"one of {', '.join(TRAINING_CALIBRATIONS)}"),
    },
    "targeting": {
        "contact_cost": _ZERO_OR_MORE,
        "success_rate": (lambda v: 0 < v <= 1, "more than 0 and at most 1", "It is a share, e.g. 0.3 for 30%."),
        "holdout": (lambda v: 0 <= v <= 0.5, "between 0 and 0.5", "It is a share of the list, e.g. 0.1 for 10%."),
    },
    "monitoring": {"psi_threshold": _ZERO_OR_MORE, "max_model_age_days": _AT_LEAST_1,
                   "money_level_ratio": (lambda v: v > 1, "more than 1", "It is a factor, e.g. 1.5 for 50 % up or down."),
                   "drift_sample_rows": _AT_LEAST_1},
    "serving": {"max_customer_ids": _AT_LEAST_1, "max_body_bytes": _AT_LEAST_1, "request_timeout_seconds": _AT_LEAST_1,
                "graceful_shutdown_seconds": _ZERO_OR_MORE},
    "scoring": {"reasons_for": (lambda v: v in REASONS_FOR, f"one of {', '.join(REASONS_FOR)}"),
                "keep_snapshots": (lambda v: v >= 1, "at least 1", "The newest snapshot is the one `churnml serve` loads.")},
    "duckdb": {"threads": _ZERO_OR_MORE, "memory_limit": (bool, 'a size such as "5GB"')},
    "input": {"date_format": (lambda v: all(f == "" or "%" in f for f in ([v] if isinstance(v, str) else v)),
                              'a strftime format such as "%d.%m.%Y", a list of them, or ""'),
              "data_end": (lambda v: v == "" or _is_date(v), 'a date YYYY-MM-DD, or ""'),
              "encoding": (lambda v: v == "" or _is_encoding(v), 'an encoding Python knows, or ""',
                           'E.g. "cp1252" (Windows, Western Europe), "latin-1", "utf-16".')},
}
def _is_encoding(name: str) -> bool:
    """``name`` is a text encoding Python can decode (not a bytes-to-bytes codec such as base64)."""
    try:
        return codecs.lookup(name)._is_text_encoding
    except LookupError:
        return False


def _is_date(text: str) -> bool:
    """``text`` is a real calendar date written YYYY-MM-DD."""
    try:
        return bool(re.fullmatch(r"\d{4}-\d{2}-\d{2}", text)) and datetime.date.fromisoformat(text) is not None
    except ValueError:
        return False


# What a setting means, added in parentheses to a wrong-type message; keys ending in a unit get it.
_NOTES = {
    "risk_thresholds": "low, high",
    "risk_multiples": "medium, high",
    "value_shares": "top, medium",
    "satisfaction_scale": "lowest, highest",
    "names": "segment key = display name",
    "actions": "segment key = suggested action",
    "talking_points": "reason topic = talking point",
    "skip_segments": 'segment keys, e.g. ["loyal_high_value"]',
    "attributes": 'customers columns, e.g. ["region", "plan"]',
    "memory_limit": 'e.g. "5GB"',
}
# Tables whose texts may be empty: an empty talking point switches that reason topic off (the next
# reason's topic decides, as for the default "attribute"); an empty name or action would print nothing.
_MAY_BE_EMPTY = {"talking_points"}
_UNITS = {"_days": "days", "_seconds": "seconds", "_bytes": "bytes"}
_PLURALS = {bool: "true/false values", int: "whole numbers", float: "numbers", str: "texts"}


def _kind(value: Any) -> str:
    """What a TOML value is, in the user's words: the end of a "got ... (kind)" message."""
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, int):
        return "whole number"
    if isinstance(value, float):
        return "decimal number" if math.isfinite(value) else "not a finite number"
    if isinstance(value, str):
        return "text"
    if isinstance(value, (list, tuple)):
        return f"list of {len(value)}"
    if isinstance(value, dict):
        return "table"
    return type(value).__name__  # TOML dates and times


def _is_union(hint: Any) -> bool:
    return get_origin(hint) in (Union, types.UnionType)


def _matches(value: Any, hint: Any) -> bool:
    """Whether a parsed TOML value has the declared type (``float`` takes ints; ``int`` no bools)."""
    if _is_union(hint):  # `X | None`: TOML has no null, so the value must be an X
        return any(_matches(value, arg) for arg in get_args(hint) if arg is not type(None))
    if hint is bool:
        return isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if hint is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if hint is str:
        return isinstance(value, str)
    if get_origin(hint) is tuple:
        args = get_args(hint)
        if args[1:] == (Ellipsis,):  # tuple[X, ...]: a list of any length
            return isinstance(value, (list, tuple)) and all(_matches(v, args[0]) for v in value)
        return isinstance(value, (list, tuple)) and len(value) == len(args) and all(map(_matches, value, args))
    raise TypeError(f"no config check for type {hint!r}")  # a new kind of setting needs one here


def _describe(hint: Any) -> str:
    """The declared type in the user's words: "must be <this>"."""
    if _is_union(hint):
        return " or ".join(_describe(arg) for arg in get_args(hint) if arg is not type(None))
    if get_origin(hint) is tuple:
        args = get_args(hint)
        return f"a list of {_PLURALS[args[0]]}" if args[1:] == (Ellipsis,) else f"a list of {len(args)} {_PLURALS[args[0]]}"
    return {bool: "true or false", int: "a whole number", float: "a number", str: "text"}[hint]


def _note(key: str) -> str:
    note = _NOTES.get(key) or next((unit for suffix, unit in _UNITS.items() if key.endswith(suffix)), "")
    return f" ({note})" if note else ""


def _setting(section: str, key: str, value: Any, hint: Any, source: str) -> Any:
    """``value`` checked against its declared type ``hint``, as the dataclass stores it."""
    if get_origin(hint) is collections.abc.Mapping:
        item = get_args(hint)[1]
        if not isinstance(value, dict):
            raise ConfigError(
                f"{source}: [{section}] {key} must be a table{_note(key)}, got {value!r} ({_kind(value)})."
            )
        blank = key in _MAY_BE_EMPTY
        for name, text in value.items():
            if not _matches(text, item) or (text == "" and not blank):
                raise ConfigError(
                    f"{source}: [{section}.{key}] {name} must be {'' if blank else 'non-empty '}{_describe(item)}, "
                    f"got {text!r} ({_kind(text)})."
                )
        return dict(value)
    if not _matches(value, hint):
        raise ConfigError(f"{source}: [{section}] {key} must be {_describe(hint)}{_note(key)}, got {value!r} ({_kind(value)}).")
    inner = next(arg for arg in get_args(hint) if arg is not type(None) and _matches(value, arg)) if _is_union(hint) else hint
    return tuple(value) if get_origin(inner) is tuple else value


def _section(name: str, cls: type, values: Any, source: str) -> Any:
    if not isinstance(values, dict):
        raise ConfigError(f"{source}: [{name}] must be a table of settings, got {values!r} ({_kind(values)}).")
    allowed = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - allowed)
    if unknown:
        raise ConfigError(
            f"{source}: unknown setting(s) {', '.join(unknown)} in [{name}]. "
            f"Allowed: {', '.join(sorted(allowed))}."
        )
    hints = get_type_hints(cls)
    obj = cls(**{key: _setting(name, key, value, hints[key], source) for key, value in values.items()})
    _check_section(name, obj, source)
    return obj


def _check_section(name: str, obj: Any, source: str) -> None:
    """Ranges of single settings (:data:`_LIMITS`), then rules that tie settings together."""
    for key, (valid, expected, *why) in _LIMITS.get(name, {}).items():
        value = getattr(obj, key)
        if value is not None and not valid(value):
            raise ConfigError(" ".join([f"{source}: [{name}] {key} must be {expected}, got {value!r}.", *why]))
    if isinstance(obj, ProblemConfig):
        if obj.n_cutoffs < obj.n_validation_cutoffs + obj.n_test_cutoffs + 1:
            raise ConfigError(
                f"{source}: [problem] n_cutoffs={obj.n_cutoffs} leaves no training cutoff after "
                f"{obj.n_validation_cutoffs} validation and {obj.n_test_cutoffs} test cutoff(s); raise n_cutoffs."
            )
    if isinstance(obj, (SegmentsConfig, TargetingConfig)):
        named = {"names": obj.names, "actions": obj.actions} if isinstance(obj, SegmentsConfig) else {"skip_segments": obj.skip_segments}
        for key, values in named.items():
            unknown = [v for v in values if v not in SEGMENTS]
            if unknown:
                where = f"[{name}.{key}]" if isinstance(values, Mapping) else f"[{name}] {key}"
                raise ConfigError(f"{source}: {where} names unknown segment(s) {', '.join(unknown)}. "
                                  f"Valid segments: {', '.join(SEGMENTS)}.")
    if isinstance(obj, InputConfig):
        wrong = {yours: ours for yours, ours in obj.event_types.items() if ours not in KNOWN_EVENT_TYPES}
        if wrong:
            yours, ours = next(iter(wrong.items()))
            raise ConfigError(f"{source}: [input.event_types] maps {yours!r} to {ours!r}, which is not one of churnml's "
                              f"event types: {', '.join(KNOWN_EVENT_TYPES)}.")
        seen: dict[str, str] = {}
        for yours in obj.event_types:
            other = seen.setdefault(yours.strip().lower(), yours)
            if other != yours:
                raise ConfigError(f"{source}: [input.event_types] has {other!r} and {yours!r}, one type once case and "
                                  "surrounding spaces are ignored; keep one of them.")
        low, high = obj.satisfaction_scale
        if not (low < high and math.isfinite(high - low)):
            raise ConfigError(f"{source}: [input] satisfaction_scale must be [lowest, highest] with lowest < highest, "
                              f"got {list(obj.satisfaction_scale)}; e.g. [0, 10] for NPS.")
    if isinstance(obj, SegmentsConfig):
        unknown = [v for v in obj.talking_points if v not in REASON_TOPICS]
        if unknown:
            raise ConfigError(f"{source}: [{name}.talking_points] names unknown reason topic(s) {', '.join(unknown)}. "
                              f"Valid reason topics: {', '.join(REASON_TOPICS)}.")
        if obj.risk_thresholds is not None:
            low, high = obj.risk_thresholds
            if not 0 < low < high < 1:
                raise ConfigError(f"{source}: [segments] risk_thresholds must satisfy 0 < low < high < 1, got {obj.risk_thresholds}.")
        low, high = obj.risk_multiples
        if not 1 <= low < high:
            raise ConfigError(f"{source}: [segments] risk_multiples must satisfy 1 <= medium < high, got {obj.risk_multiples}: "
                              "they are multiples of the average churn risk, and below 1 most customers would be at risk.")
        a, b = obj.value_shares
        if not 0 < a < b <= 1:
            raise ConfigError(f"{source}: [segments] value_shares must satisfy 0 < top < medium <= 1, got {obj.value_shares}.")


def load_config(path: str | Path | None = None) -> Config:
    """Load a :class:`Config` from a TOML file, or defaults when ``path`` is None.

    Parameters
    ----------
    path : str or Path or None
        A TOML file. Missing sections keep their defaults.

    Returns
    -------
    Config

    Example
    -------
    >>> load_config(None).problem.horizon_days
    90
    """
    if path is None:
        return Config()
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"Config file {path} does not exist. Pass an existing TOML file to --config, or leave it out for defaults.")
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"Config file {path} is not valid TOML: {exc}. Fix the syntax and retry.") from None
    return config_from_dict(raw, source=str(path))


def config_from_dict(raw: Mapping[str, Any], source: str = "config") -> Config:
    """Build a :class:`Config` from a parsed TOML mapping (see :func:`load_config`)."""
    from churnml.schema import TABLES  # local: schema is a sibling leaf, keep config importable alone

    allowed = set(_SECTIONS) | {"tables", "columns"}
    unknown = sorted(set(raw) - allowed)
    if unknown:
        raise ConfigError(f"{source}: unknown section(s) {', '.join(unknown)}. Allowed: {', '.join(sorted(allowed))}.")
    kwargs: dict[str, Any] = {}
    tables = raw.get("tables", {})
    if not isinstance(tables, dict):
        raise ConfigError(
            f"{source}: [tables] must be a table (contract table = your table or file stem), "
            f'got {tables!r} ({_kind(tables)}). Example: [tables] transactions = "trades".'
        )
    for table, name in tables.items():
        if table not in TABLES:
            # [tables] orders = "transactions": the two sides swapped, the user's name on the left.
            swapped = f' Write it the other way round: {name} = "{table}".' if name in TABLES else ""
            raise ConfigError(f"{source}: [tables] names unknown table {table!r}. Known tables: {', '.join(TABLES)}; "
                              f'each takes your file or table name, e.g. transactions = "orders".{swapped}')
        if not isinstance(name, str) or not name:
            raise ConfigError(f"{source}: [tables] {table} must be a non-empty string, got {name!r} ({_kind(name)}).")
    kwargs["tables"] = dict(tables)
    columns = raw.get("columns", {})
    if not isinstance(columns, dict):
        raise ConfigError(
            f"{source}: [columns] must be a table of tables, one per contract table, got {columns!r} ({_kind(columns)}). "
            'Example: [columns.transactions] amount = "revenue".'
        )
    for table, mapping in columns.items():
        if table not in TABLES:
            # [tables] transactions = "orders" then [columns.orders]: the section takes churnml's name.
            ours = next((contract for contract, name in tables.items() if name == table and contract in TABLES), None)
            fix = (f" {table!r} is your name for {ours} ([tables] {ours} = \"{table}\"): the section takes churnml's "
                   f"table name, [columns.{ours}]." if ours else "")
            raise ConfigError(f"{source}: [columns.{table}] is not a known table. Known tables: {', '.join(TABLES)}.{fix}")
        known = TABLES[table].all_columns
        if not isinstance(mapping, dict):
            raise ConfigError(
                f"{source}: [columns.{table}] must be a table (contract column = your column), "
                f'got {mapping!r} ({_kind(mapping)}). Example: [columns.{table}] {known[0]} = "my_{known[0]}".'
            )
        for contract_col, user_col in mapping.items():
            if contract_col not in known:
                raise ConfigError(
                    f"{source}: [columns.{table}] maps unknown column {contract_col!r}. "
                    f"Contract columns of {table}: {', '.join(known)}."
                )
            if not isinstance(user_col, str) or not user_col:
                raise ConfigError(
                    f"{source}: [columns.{table}] {contract_col} must be a column name, got {user_col!r} ({_kind(user_col)})."
                )
    kwargs["columns"] = {t: dict(m) for t, m in columns.items() if m}
    for name, cls in _SECTIONS.items():
        if name in raw:
            kwargs[name] = _section(name, cls, raw[name], source)
    return Config(**kwargs)
