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

Unknown sections or keys are errors, so a typo never silently falls back to a default.
"""

from __future__ import annotations

import dataclasses
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from churnml.errors import ConfigError


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
    n_test_cutoffs: int = 1
    margin: float = 1.0
    """Multiplier applied to `amount` in the value label (1.0 = amounts already are revenue)."""


@dataclass(frozen=True)
class TrainingConfig:
    trials: int = 30
    timeout_seconds: float | None = None
    seed: int = 42
    min_customers: int = 300
    """Fewer customers than this in the training population is an error, not a model."""


@dataclass(frozen=True)
class SegmentsConfig:
    """Tier thresholds and the value × risk segments (see docs in ``churnml.segments``)."""

    risk_thresholds: tuple[float, float] = (0.2, 0.5)
    """churn_probability below the first is `low`, below the second `medium`, else `high`."""
    value_shares: tuple[float, float] = (0.8, 0.95)
    """Top value tier: the customers that together make the first 80% of predicted value; `medium`
    the next 15%; `low` the rest (80/20 idea)."""
    names: Mapping[str, str] = field(default_factory=dict)
    """Override segment display names, e.g. {"high_value_at_risk": "Save now"}."""
    actions: Mapping[str, str] = field(default_factory=dict)
    """Override suggested actions per segment key."""


@dataclass(frozen=True)
class TargetingConfig:
    contact_cost: float = 5.0
    """Cost of one retention contact, in the same currency as `amount`."""
    success_rate: float = 0.3
    """Share of contacted at-risk customers that a contact keeps."""


@dataclass(frozen=True)
class MonitoringConfig:
    psi_threshold: float = 0.2
    max_model_age_days: int = 120


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


REASONS_FOR = ("all", "at_risk")


@dataclass(frozen=True)
class ScoringConfig:
    reasons_for: str = "all"
    """Who gets reasons in batch scoring: ``all``, or ``at_risk`` (medium and high risk only).
    Reasons cost most of a batch run (LightGBM ``pred_contrib``); ``at_risk`` skips the customers
    a retention campaign leaves alone. The HTTP API always explains every customer it scores."""


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
    """Where DuckDB spills; empty = a churnml-duckdb folder in the system temp directory."""


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
}
_TUPLE_FIELDS = {"risk_thresholds", "value_shares"}


def _section(name: str, cls: type, values: Any, source: str) -> Any:
    if not isinstance(values, dict):
        raise ConfigError(f"{source}: [{name}] must be a table of settings, got {values!r}.")
    allowed = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - allowed)
    if unknown:
        raise ConfigError(
            f"{source}: unknown setting(s) {', '.join(unknown)} in [{name}]. "
            f"Allowed: {', '.join(sorted(allowed))}."
        )
    values = {k: tuple(v) if k in _TUPLE_FIELDS else v for k, v in values.items()}
    try:
        obj = cls(**values)
    except TypeError as exc:  # pragma: no cover - guarded by the unknown-key check
        raise ConfigError(f"{source}: invalid [{name}]: {exc}") from None
    _check_section(name, obj, source)
    return obj


def _check_section(name: str, obj: Any, source: str) -> None:
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        default = f.default if f.default is not dataclasses.MISSING else None
        if isinstance(default, (int, float)) and not isinstance(default, bool):
            if not isinstance(value, (int, float)) or isinstance(value, bool):
                raise ConfigError(f"{source}: [{name}] {f.name} must be a number, got {value!r}.")
        if isinstance(default, bool) and not isinstance(value, bool):
            raise ConfigError(f"{source}: [{name}] {f.name} must be true or false, got {value!r}.")
    if isinstance(obj, ProblemConfig):
        for key in ("horizon_days", "active_days", "cutoff_step_days", "n_cutoffs"):
            if getattr(obj, key) < 1:
                raise ConfigError(f"{source}: [problem] {key} must be at least 1, got {getattr(obj, key)}.")
        if obj.n_cutoffs < obj.n_validation_cutoffs + obj.n_test_cutoffs + 1:
            raise ConfigError(
                f"{source}: [problem] n_cutoffs={obj.n_cutoffs} leaves no training cutoff after "
                f"{obj.n_validation_cutoffs} validation and {obj.n_test_cutoffs} test cutoff(s); raise n_cutoffs."
            )
    if isinstance(obj, ScoringConfig) and obj.reasons_for not in REASONS_FOR:
        raise ConfigError(f"{source}: [scoring] reasons_for must be one of {', '.join(REASONS_FOR)}, got {obj.reasons_for!r}.")
    if isinstance(obj, SegmentsConfig):
        low, high = obj.risk_thresholds
        if not 0 < low < high < 1:
            raise ConfigError(f"{source}: [segments] risk_thresholds must satisfy 0 < low < high < 1, got {obj.risk_thresholds}.")
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
    for table, name in tables.items():
        if table not in TABLES:
            raise ConfigError(f"{source}: [tables] names unknown table {table!r}. Known tables: {', '.join(TABLES)}.")
        if not isinstance(name, str) or not name:
            raise ConfigError(f"{source}: [tables] {table} must be a non-empty string, got {name!r}.")
    kwargs["tables"] = dict(tables)
    columns = raw.get("columns", {})
    for table, mapping in columns.items():
        if table not in TABLES:
            raise ConfigError(f"{source}: [columns.{table}] is not a known table. Known tables: {', '.join(TABLES)}.")
        known = TABLES[table].all_columns
        for contract_col, user_col in mapping.items():
            if contract_col not in known:
                raise ConfigError(
                    f"{source}: [columns.{table}] maps unknown column {contract_col!r}. "
                    f"Contract columns of {table}: {', '.join(known)}."
                )
            if not isinstance(user_col, str) or not user_col:
                raise ConfigError(f"{source}: [columns.{table}] {contract_col} must be a column name, got {user_col!r}.")
    kwargs["columns"] = {t: dict(m) for t, m in columns.items() if m}
    for name, cls in _SECTIONS.items():
        if name in raw:
            kwargs[name] = _section(name, cls, raw[name], source)
    return Config(**kwargs)
