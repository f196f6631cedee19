"""What the HTTP prediction API does, without any HTTP: the library side of ``serving/service.py``.

:class:`ScoringService` is built once at start-up (:meth:`ScoringService.load`):

* the churn and value models behind a registry **alias** (never "latest"), via
  :func:`churnml.tracking.load_models`;
* the newest feature snapshot (:func:`churnml.io.latest_snapshot`), written by ``churnml score``, and
  the customers left out of its population with the reason (:func:`churnml.io.outside_path`), which
  the ``not_found`` detail of ``/score`` names;
* the snapshot's population scored with :func:`churnml.scoring.score_features` — the function batch
  scoring uses — so ``/score`` is a lookup and answers exactly what ``churnml score`` wrote.

Value tiers of ad-hoc histories
-------------------------------
A value tier is a position in the population (the customers that make the top 80 % of predicted
value), so one customer's history cannot decide it alone. :meth:`ScoringService.score_history`
applies the cut points of the loaded snapshot's population (:attr:`ScoringService.value_thresholds`),
which is what a batch run over that population gives the same customer.

Population of ad-hoc histories
------------------------------
Batch scoring scores the population at the as-of date. A posted history is scored when the customer
existed before ``as_of`` (``signup_date`` before it, or a transaction before it without a sign-up
date) and had not closed before it (posted ``churn_events``, as batch scoring reads that table); the
"active in the last ``active_days``" rule is not applied, since a caller asking about a customer has
already decided they are one. Posted customers that did not exist yet or had closed get a
``not_found`` item that says which.

Everything here raises :class:`churnml.errors.ChurnmlError` subclasses for bad input; the service
maps them to 4xx responses with the message.
"""

from __future__ import annotations

import hmac
import math
import os
import re
import threading
from concurrent.futures import Future, TimeoutError as FutureTimeout
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any, Iterable, Iterator, Mapping, Sequence

import numpy as np
import pandas as pd

from churnml import io, tracking
from churnml.config import Config, ServingConfig, load_config, normalised_event_types
from churnml.dataset import Dataset, connect
from churnml.errors import ChurnmlError, ConfigError, DataError, ModelNotFoundError
from churnml.features import (DIVERSITY_FEATURES, RESOLUTION_FEATURES, SATISFACTION_FEATURES, attribute_columns,
                               build_features)
from churnml.labels import (OUTSIDE_REASONS, as_of_with_time, first_training_cutoff, outside_population,
                             refuse_as_of_before_training)
from churnml.reasons import SEPARATOR
from churnml.schema import KNOWN_EVENT_TYPES, MAX_ABS_NUMBER
from churnml.scoring import SCORE_COLUMNS, model_specs, score_features, scores_value_thresholds
from churnml.segments import ValueThresholds, resolve_segment, segment_names, unknown_segments
from churnml.targeting import attribute_columns as attribute_list_columns
from churnml.targeting import (list_notes, retention_list, said_fields, talking_point_summary, value_saved_note,
                               with_attributes)
from churnml.validate import (EXAMPLES, R_OLD_SIGNUP, attribute_number, is_placeholder, kept_unread, kept_without, loose_id, loose_ids,
                              merge_order_lines_sql, satisfaction_kept_reason, signup_kept_reason)

ENV_API_KEY = "CHURNML_API_KEY"
ENV_ALIAS = "CHURNML_ALIAS"
ENV_SNAPSHOTS = "CHURNML_SNAPSHOTS"
ENV_CONFIG = "CHURNML_CONFIG"
ENV_SERVER_PID = "CHURNML_SERVER_PID"
ENV_SERVER_DIR = "CHURNML_SERVER_DIR"
"""Environment variables the service reads at start-up (``churnml serve`` sets them)."""
FAILURE_FILE = "failure.txt"
"""In the server's folder (``CHURNML_SERVER_DIR``): why its worker could not start."""

EARLIEST = pd.Timestamp("1900-01-01")
LATEST = pd.Timestamp("2200-01-01")
"""Dates outside ``[EARLIEST, LATEST)`` are refused: they are typos, and pandas cannot hold all of them."""

NO_CLOSURES_SENT = ("churn_events not sent: these models count an account closure as churn, and a customer whose account "
                    "closed before as_of scores as a live one (send churn_events; [] says none closed)")
"""The warning on every /score_history result of a request without ``churn_events`` when the models
were trained on closures: the request cannot otherwise say an account closed."""
NO_TRANSACTIONS_SENT = ("transactions not sent: scored as a customer who bought nothing before as_of (send their "
                        'transactions; "transactions": [] says there were none)')
"""The warning on every /score_history result of a request without ``transactions``: the purchase
history is what the scores read most, and a request that left the field out scored without a word."""

NO_SERVICE_EVENTS_SENT = ("service_events not sent: these models read service history (complaints, calls, surveys), so "
                          "the customer is scored as one who never contacted you (send their service events; "
                          '"service_events": [] says there were none)')
"""The warning on every /score_history result of a request without ``service_events`` when the
models read service features: as for transactions, a field left out scored without a word."""

REGISTRY_WAIT_SECONDS = 3.0
"""How long ``GET /model`` waits for the model registry before answering with the aliases of start-up
(and a warning): a locked SQLite store held it 20 s, a tracking server that is down longer, with MLflow's retries."""

CHURN_TEST_METRICS = ("roc_auc", "pr_auc", "brier", "ece", "lift_at_10", "emp")
VALUE_TEST_METRICS = ("normalized_gini", "spearman", "mae", "top20_value_capture")
"""Test-cutoff metrics ``/model`` shows."""

_TRANSACTION_COLUMNS = {"transaction_id": "text", "quantity": "number", "category": "text", "channel": "text"}
_SERVICE_COLUMNS = {"resolved_at": "timestamp", "satisfaction": "number", "channel": "text"}


class Unauthorized(ChurnmlError):
    """Missing or wrong API key. The message is the same whatever was wrong (no header, another scheme, a
    wrong key: no hint which), and says how to send the key: "Unauthorized." alone left an integrator
    who sent ``X-API-Key`` or the bare key guessing."""

    http_status = 401

    def __init__(self) -> None:
        super().__init__("Unauthorized: send the API key (the server's CHURNML_API_KEY) as the header "
                         "Authorization: Bearer <key>.")


# --------------------------------------------------------------------------------------------
# Settings and authentication
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ServiceSettings:
    """How the service starts: which models, which snapshots, which key, which config.

    Attributes
    ----------
    api_key : str
        The bearer token every protected endpoint requires.
    alias : str
        Registry alias (or version number) of the models to load.
    snapshot_dir : Path or None
        Folder of feature snapshots; None means ``./snapshots``.
    config : Config
    """

    api_key: str
    alias: str = tracking.CHAMPION
    snapshot_dir: Path | None = None
    config: Config = field(default_factory=Config)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> "ServiceSettings":
        """Read :data:`ENV_API_KEY`, :data:`ENV_ALIAS`, :data:`ENV_SNAPSHOTS`, :data:`ENV_CONFIG`.

        Raises
        ------
        ConfigError
            When no API key is set: the service never runs open by accident.
        """
        environ = os.environ if environ is None else environ
        key = environ.get(ENV_API_KEY, "").strip()
        if not key:
            raise ConfigError(
                f"{ENV_API_KEY} is not set, and the API never runs without a key. Start it with `churnml serve` "
                f"(which generates and prints a key), or set {ENV_API_KEY} before `bentoml serve`."
            )
        check_key_text(key)
        snapshots = environ.get(ENV_SNAPSHOTS) or None
        return cls(
            api_key=key,
            alias=environ.get(ENV_ALIAS) or tracking.CHAMPION,
            snapshot_dir=Path(snapshots) if snapshots else None,
            config=load_config(environ.get(ENV_CONFIG) or None),
        )


def server_options(serving: ServingConfig) -> dict[str, Any]:
    """BentoML service options that follow ``[serving]``: the access log, request tracing and the
    request timeout.

    With ``trace_requests = false`` every URL is excluded from BentoML's OpenTelemetry middleware,
    which otherwise builds a span per request even when no exporter is configured.

    Example
    -------
    >>> server_options(ServingConfig())
    {'logging': {'access': {'enabled': True}}, 'tracing': {'excluded_urls': ['.*']}, 'traffic': {'timeout': 30}}
    """
    return {
        "logging": {"access": {"enabled": serving.access_log}},
        "tracing": {"excluded_urls": [] if serving.trace_requests else [".*"]},
        "traffic": {"timeout": serving.request_timeout_seconds},
    }


def check_key_text(key: str) -> None:
    """Refuse a key no client can send: HTTP carries header values as bytes that servers read as
    Latin-1, so a key with other characters (or spaces) never matched and every request got 401.

    Raises
    ------
    ConfigError
    """
    if not (key.isascii() and key.isprintable()) or " " in key:
        raise ConfigError(f"{ENV_API_KEY} must be printable ASCII without spaces: a request cannot carry other "
                          "characters in its Authorization header reliably, so every request would get 401. "
                          "Generate one with: python -c 'import secrets; print(secrets.token_urlsafe(32))'")


def check_api_key(expected: str, authorization: str | None) -> bool:
    """True when an ``Authorization`` header carries ``Bearer <expected>``; constant-time compare.

    Example
    -------
    >>> check_api_key("s3cret", "Bearer s3cret"), check_api_key("s3cret", "Bearer nope"), check_api_key("s3cret", None)
    (True, False, False)
    """
    scheme, _, token = (authorization or "").partition(" ")
    # Compare even when the scheme is wrong, so timing does not tell the two failures apart.
    matches = hmac.compare_digest(token.strip().encode("utf-8"), expected.encode("utf-8"))
    return matches and scheme.lower() == "bearer"


def preflight(alias: str = tracking.CHAMPION, snapshot_dir: str | Path | None = None) -> Path:
    """Check, without loading anything heavy, that the service can start; return the snapshot path.

    Raises
    ------
    ModelNotFoundError
        When either registered model lacks ``alias``.
    DataError
        When there is no feature snapshot.
    """
    rows = tracking.list_models()
    for name in tracking.MODEL_NAMES:
        if not any(r.name == name and (alias in r.aliases or r.version == str(alias)) for r in rows):
            raise ModelNotFoundError(
                f"No registered model {name} with alias or version {alias!r} in {tracking.tracking_uri()}. "
                "Run `churnml train DATA --as-of DATE` first (or pick another --alias; `churnml models` lists them)."
            )
    return io.latest_snapshot(snapshot_dir)


def trained_input_warning(models: Any, cfg: Config) -> str | None:
    """What ``POST /score_history`` would read otherwise than training read the data, or None.

    The server reads posted surveys on ``[input] satisfaction_scale`` and maps event types with
    ``[input.event_types]`` of its own config; the models learned from data read with the
    training run's (its ``config.json``). A server started without the training's config (as
    ``churnml serve --port 3000``) refused an NPS score of 9 as outside 1-5 and counted the CRM's
    "Billing complaint" as other. None when they agree, or the run recorded no config.
    """
    from churnml.train import CONFIG_FILE

    recorded = tracking.load_run_json(models.run_id, CONFIG_FILE)
    applied = (recorded or {}).get("input") if isinstance(recorded, Mapping) else None
    if not isinstance(applied, Mapping):
        return None

    def scale(value: Any) -> str:
        return "[" + ", ".join(f"{float(v):g}" for v in value) + "]"

    def types(mapping: Mapping[str, str]) -> dict[str, str]:
        return {yours: str(ours).strip().lower() for yours, ours in normalised_event_types(mapping).items()}

    def named(mapping: Mapping[str, str]) -> str:
        if not mapping:
            return "no types"
        keys = list(mapping)
        shown = ", ".join(repr(k) for k in keys[:3]) + (", …" if len(keys) > 3 else "")
        return f"{len(keys)} type{'s' if len(keys) != 1 else ''} ({shown})"

    differences = []
    here_scale, trained_scale = scale(cfg.input.satisfaction_scale), scale(applied.get("satisfaction_scale", (1, 5)))
    if here_scale != trained_scale:
        differences.append(f"satisfaction_scale {here_scale} here, {trained_scale} in training")
    trained_types = applied.get("event_types") or {}
    if types(cfg.input.event_types) != types(trained_types):
        differences.append(f"[input.event_types] maps {named(cfg.input.event_types)} here, "
                           f"{named(trained_types)} in training")
    if not differences:
        return None
    return ("POST /score_history reads posted histories otherwise than training read the data the models learned on: "
            + "; ".join(differences) + ". Posted survey scores are then refused or rescaled wrongly, and event types "
            "count as other: start the server with the config the models were trained with (churnml serve --config "
            "FILE; the training run keeps it as config.json).")


def check_startup(alias: str = tracking.CHAMPION, snapshot_dir: str | Path | None = None,
                  models: Any = None) -> tuple[Path, Any]:
    """What the server's worker does first, done before the server starts: load the models
    behind ``alias`` (unless given: ``models``, loaded by that alias already) and check that the
    newest snapshot is readable and holds every column they need. A worker that fails there is
    restarted by BentoML again and again while the port answers nothing, so ``churnml serve``
    refuses to start instead. Returns (snapshot, models).

    Raises
    ------
    ModelNotFoundError
        No such alias, or the models' files cannot be read.
    DataError
        No snapshot, an unreadable one, one without the columns the models need, or one as of a
        date before their first training cutoff (:func:`refuse_snapshot_before_training`).
    """
    import pyarrow.parquet as pq

    from churnml.scoring import missing_columns

    path = preflight(alias, snapshot_dir)
    models = models if models is not None else tracking.load_models(alias)
    try:
        columns = pq.read_schema(path).names
    except Exception as exc:  # pyarrow's errors for a damaged or foreign file
        raise DataError(f"Snapshot {path} cannot be read ({str(exc).splitlines()[0][:200]}). Write a new one with "
                        "`churnml score DATA --as-of DATE --out FILE`, or remove it to serve the one before.") from None
    missing = missing_columns(columns, models)
    if missing:
        raise DataError(f"Snapshot {path} lacks column(s) {', '.join(missing)} that the models '{alias}' need: it was "
                        "written from other data or for other models. Write a new one with `churnml score DATA --as-of "
                        "DATE --out FILE` (it uses these models), or serve another alias with --alias.")
    day = io.snapshot_day(path)
    if day is not None:
        refuse_snapshot_before_training(path, day, models, alias)
    return path, models


def refuse_snapshot_before_training(path: Path | None, as_of: pd.Timestamp, models: Any, alias: str) -> None:
    """Raise when the snapshot at ``path`` is as of a date before the models' first training cutoff
    (:func:`churnml.labels.first_training_cutoff`): `churnml score` refuses to write scores as of such
    a date, and the server answered /score and /retention_list with them all the same (from a snapshot
    `churnml serve --data` wrote, or one left from before the models were trained). Checked by
    :func:`check_startup` before the server starts and by :class:`ScoringService` as its worker starts.

    Raises
    ------
    DataError
    """
    first = first_training_cutoff(models.metadata)
    if first is not None and pd.Timestamp(as_of) < first:
        raise DataError(
            f"{'The snapshot' if path is None else f'Snapshot {path}'} is as of {pd.Timestamp(as_of):%Y-%m-%d}, before the models' training data: they learned how "
            f"customers behave from their first training cutoff, {first:%Y-%m-%d}, on, and know nothing of earlier dates "
            f"(`churnml score` refuses that as-of date). Write a snapshot as of {first:%Y-%m-%d} or later with `churnml "
            f"score DATA --as-of DATE --out FILE`, or serve models trained as of {pd.Timestamp(as_of):%Y-%m-%d} with "
            f"--alias VERSION (instead of '{alias}')."
        )


# --------------------------------------------------------------------------------------------
# Parsing helpers
# --------------------------------------------------------------------------------------------


def parse_as_of(value: Any, what: str = "as_of") -> pd.Timestamp:
    """A date (``YYYY-MM-DD``, a ``date`` or a ``datetime``) as a naive timestamp at midnight.

    Raises
    ------
    ConfigError
        For anything else, or a date before 1900 or from 2200 on.
    """
    if isinstance(value, datetime):
        value = value.date()
    if isinstance(value, str):
        try:  # only YYYY-MM-DD: fromisoformat also reads 20251201 and week dates (2025-W48-1)
            if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value.strip()):
                raise ValueError
            value = date.fromisoformat(value.strip())
        except ValueError:
            if (said := as_of_with_time(value)) is not None:  # "is not a date" read wrong for 2025-12-01T00:00:00Z
                raise ConfigError(f"{what}: {value!r} {said}") from None
            raise ConfigError(f"{what}: {value!r} is not a date. Use the form YYYY-MM-DD, e.g. 2025-06-30.") from None
    if not isinstance(value, date):
        raise ConfigError(f"{what}: must be a date in the form YYYY-MM-DD, got {value!r}.")
    stamp = pd.Timestamp(value.year, value.month, value.day)
    if not EARLIEST <= stamp < LATEST:
        raise ConfigError(f"{what}: {value.isoformat()} is outside the years 1900-2199. Check the year.")
    return stamp


def _datetime(value: Any, where: str) -> datetime | None:
    """Naive UTC datetime of a date/datetime/ISO string (offsets honoured), any year; None and blank
    text are None.

    Raises
    ------
    DataError
        For anything that is not a date or datetime.
    """
    if value is None:
        return None
    if isinstance(value, str):
        text = value.strip()
        if not text:
            return None
        try:
            value = datetime.fromisoformat(text)
        except ValueError:
            raise DataError(f"{where}: {value!r} is not a date or datetime (e.g. 2025-03-31 or 2025-03-31T14:05:00).") from None
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            try:
                value = value.astimezone(timezone.utc).replace(tzinfo=None)
            except OverflowError:  # year 1 or 9999 pushed past the calendar's end by the offset
                value = value.replace(tzinfo=None)  # outside the years 1900-2199 either way
        return value
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day)
    raise DataError(f"{where}: expected a date or datetime, got {value!r}.")


def _timestamp(value: Any, where: str) -> pd.Timestamp | None:
    """Naive UTC timestamp of a date/datetime/ISO string (offsets honoured); None stays None.

    Raises
    ------
    DataError
        For anything that is not a date or datetime (:func:`_datetime`), or one outside the years 1900-2199.
    """
    value = _datetime(value, where)
    if value is None:
        return None
    if not EARLIEST.year <= value.year < LATEST.year:
        raise DataError(f"{where}: {value.isoformat()} is outside the years 1900-2199.")
    return pd.Timestamp(value)


def _number(value: Any, where: str, bounded: bool = True) -> float | None:
    """A posted finite number as a float; None stays None. ``bounded``: one beyond ±1e12 is refused, as
    validation sets aside such an amount, quantity or score; a customer attribute is not (validation
    keeps it as it is: a credit limit of 5e12 was a 400 for a customer `churnml score` scored).

    Raises
    ------
    DataError
    """
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise DataError(f"{where}: expected a finite number, got {value!r}.")
    if bounded and abs(value) > MAX_ABS_NUMBER:  # as validation sets aside in batch data
        real = "no transaction is that large" if where.endswith(".amount") else "no real value of it is that large"
        raise DataError(f"{where}: {value!r} is beyond ±{MAX_ABS_NUMBER:.0e}; {real}. Check the field.")
    return float(value)


def _unread_attribute(column: str, value: Any) -> str | None:
    """The reason validation gives when it blanks this value of numeric attribute ``column`` and keeps
    the customer: a placeholder for unknown such as "N/A" or "-" (:func:`churnml.validate.is_placeholder`,
    :func:`~churnml.validate.kept_unread`), or text or a number that reads as NaN or infinity (a JSON
    number beyond a double's range, 1e400, does: :func:`~churnml.validate.kept_without`). None for a
    finite number, a blank, or any other text (refused)."""
    if isinstance(value, float) and not math.isfinite(value):
        return kept_without(column)
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        number = float(value)
    except ValueError:
        return kept_unread(column) if is_placeholder(value) else None
    return None if math.isfinite(number) else kept_without(column)


_READS_AS_INFINITY = "a JSON number beyond ±1.8e308, such as 1e400, reads as infinity"
"""Why a posted number the client wrote as digits is named infinity in a warning (an attribute, a score)."""


def _shown_number(value: float) -> str:
    """A posted number as a warning names it: NaN, infinity and -infinity in words (``:g`` wrote inf)."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "-infinity" if value < 0 else "infinity"
    return f"{value:g}"


def _kept_satisfaction(value: Any, scale: tuple[float, float]) -> str | None:
    """The reason validation gives when it blanks this posted satisfaction score and keeps its event
    (:func:`churnml.validate.satisfaction_kept_reason`: a number off ``[input] satisfaction_scale``, NaN
    and infinities included, as a helpdesk's 0 for "not rated", and a JSON number beyond a double's range,
    1e400, which reads as infinity). None for a score on the scale, null,
    and anything that is not a number (``true``, text: refused as a request's type error)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return satisfaction_kept_reason(value, scale)


def posted_data_end() -> pd.Timestamp:
    """The end (exclusive) of a posted history's data: tomorrow, UTC. A sign-up date from then on is
    after the data's end, as validation finds one after a file's (never later than tomorrow either:
    :func:`churnml.validate.data_end_sql` counts no day after today), and ``as_of`` may not be later."""
    return pd.Timestamp(datetime.now(timezone.utc).date()) + pd.Timedelta(days=1)


def _kept_signup(value: Any, data_end: pd.Timestamp | None) -> str | None:
    """The reason validation gives when it blanks this posted sign-up date and keeps its customer
    (:func:`churnml.validate.signup_kept_reason`: before 1900, or on or after ``data_end``, as a CRM's
    1850-01-01 or 2999-12-31 for "unknown"). None for a date it keeps, null, and anything that is not
    a date (refused: a request's type error)."""
    try:
        signup = _datetime(value, "signup_date")
    except DataError:
        return None
    return None if signup is None else signup_kept_reason(signup, data_end)


def _kept_signup_warning(value: Any, where: str, data_end: pd.Timestamp) -> list[str]:
    """The warning for a posted sign-up date blanked by :func:`_kept_signup`, its customer kept (``where``:
    the field, ``customers[0].signup_date``; ``data_end``: :func:`posted_data_end`): a 400 for the whole
    request turned away a CRM's 2999-12-31 for "unknown", which `churnml score` scored."""
    reason = _kept_signup(value, data_end)
    if reason is None:
        return []
    when = "before 1900" if reason == R_OLD_SIGNUP else f"after the data's end (today, {data_end - pd.Timedelta(days=1):%Y-%m-%d})"
    return [f"{where}: {str(value).strip()} is {when}; the customer is kept without it, as validation keeps it in batch "
            "data, and counts from their first transaction (send null when the sign-up date is not known)"]


def _resolved_after_end(value: Any, data_end: pd.Timestamp) -> bool:
    """Whether a posted ``resolved_at`` lies on or after the data's end ``data_end`` (:func:`posted_data_end`),
    as a helpdesk's 2999-12-31 for "never": validation keeps such an event with its date, which counts
    as still open at every cutoff before it (:func:`churnml.features` reads a complaint resolved on or
    after the cutoff as open), so the event is kept as open; it was a 400 ("outside the years 1900-2199")
    for histories `churnml score` scored. False for a date before it, null, and anything that is no
    date (refused)."""
    try:
        resolved = _datetime(value, "resolved_at")
    except DataError:
        return False
    return resolved is not None and resolved >= data_end.to_pydatetime()


def _text(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def _category(value: Any, levels: Iterable[str] = ()) -> str | None:
    """A categorical attribute's value as text, as a CSV export gives it: JSON ``12`` (which arrives
    as 12.0) is ``"12"``, so a CRM sending code 12 matches the trained level "12", not "12.0". JSON
    ``true``/``false`` is the trained level written so in any case (``levels``: pandas writes True in
    a CSV, DuckDB reads true), else ``"true"``/``"false"``: Python's "True" matched no level of a
    CSV's true/false, and the attribute was scored as unknown."""
    if isinstance(value, bool):
        text = "true" if value else "false"
        return next((level for level in sorted(levels) if level.lower() == text), text)
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return _text(value)


def _sent(record: Any, name: str) -> bool:
    """Whether a request row carries field ``name``, null included (a pydantic model's set fields,
    a mapping's keys): null says "none" (still open, not answered), a missing field says nothing."""
    fields = getattr(record, "model_fields_set", None)
    if fields is not None:
        return name in fields
    return name in record


def _item(record: Any) -> dict[str, Any]:
    """A request row as a plain dict (pydantic models and mappings alike), extras included."""
    if hasattr(record, "model_dump"):
        return record.model_dump()
    return dict(record)


def _attribute_specs(models: Any) -> dict[str, dict]:
    """Customer attribute column -> its feature spec (as the models' metadata has it).

    A feature spec from ``customers`` other than ``tenure_days`` is an attribute; its feature name is
    the column name, or ``customer_<column>`` when the column name collides with a feature.
    """
    attributes: dict[str, dict] = {}
    for spec in models.metadata.get("specs", []):
        if spec.get("source") != "customers" or spec.get("name") == "tenure_days":
            continue
        template = spec.get("reason") or ""  # models trained before specs named the column: "<column>: {name}"
        column = spec.get("column") or (template.split(":", 1)[0] if ":" in template else spec["name"])
        attributes[column] = spec
    return attributes


def _attribute_kinds(models: Any) -> dict[str, str]:
    """Customer attribute column -> ``numeric``/``categorical``, as the models were trained."""
    return {column: spec.get("kind", "categorical") for column, spec in _attribute_specs(models).items()}


def _attribute_levels(models: Any) -> dict[str, frozenset[str]]:
    """Categorical attribute column -> the values the churn model was trained with (others score as unknown)."""
    categories = getattr(models.churn, "categories_", {}) or {}
    return {column: frozenset(str(v) for v in categories[spec["name"]])
            for column, spec in _attribute_specs(models).items() if spec["name"] in categories}


def _left_out_attributes(models: Any) -> frozenset[str]:
    """Customer columns training left out on purpose (``[training] max_categorical_levels``), by
    feature name and, since a feature ``customer_<column>`` is a column whose name collides with a
    feature's, by that column's name too."""
    left_out = models.metadata.get("left_out_features") or {}
    return frozenset(left_out) | {name.removeprefix("customer_") for name in left_out}


def history_dataset(
    customers: Sequence[Any],
    transactions: Sequence[Any],
    service_events: Sequence[Any],
    attribute_kinds: Mapping[str, str],
    config: Config | None = None,
    churn_events: Sequence[Any] = (),
    attribute_levels: Mapping[str, Iterable[str]] | None = None,
    data_end: pd.Timestamp | None = None,
) -> Dataset:
    """A :class:`Dataset` from posted rows in the data contract's shape, checked like validation.

    Rows that batch validation would quarantine are refused here with a message instead: in a
    request they are a caller's bug, and dropping them silently would change the answer.

    Parameters
    ----------
    customers : sequence of mapping
        ``customer_id`` (unique), optional ``signup_date``; other keys are attributes. Attributes the
        models do not know are ignored; known ones that are missing are empty, as in batch data.
    transactions : sequence of mapping
        ``customer_id``, ``timestamp``, ``amount``; optional ``transaction_id``, ``quantity``,
        ``category``, ``channel``.
    service_events : sequence of mapping
        ``customer_id``, ``timestamp``, ``event_type``; optional ``resolved_at``, ``satisfaction``
        (1-5), ``channel``.
    attribute_kinds : mapping
        Attribute column -> ``numeric`` or ``categorical`` (from the models' feature specs).
    config : Config, optional
        The server's settings: ``[input]`` ``event_types`` and ``satisfaction_scale`` apply to
        posted rows as validation applies them to files, and the tables are loaded on a
        connection with its ``[duckdb]`` memory limit, threads and spill folder, as validation
        loads files (:func:`churnml.dataset.connect`), but without access to files (DuckDB's
        ``enable_external_access`` off, the configuration locked). Requests were loaded with churnml's default
        ``[duckdb]`` settings (5GB, a thread per core, the default spill folder), whatever the
        server's config set.
    churn_events : sequence of mapping, optional
        ``customer_id``, ``timestamp`` of an account's end (closure, cancellation): a customer
        with one before the as-of date is not in the population, as in batch scoring.
    attribute_levels : mapping, optional
        Categorical attribute column -> the values the models were trained with: a JSON boolean
        takes the one written ``true``/``false`` in any case (a numeric attribute, as validation
        reads a Parquet boolean column, takes 1 and 0).
    data_end : Timestamp, optional
        The data's end (exclusive): a ``signup_date`` from then on, or before 1900, is blanked and its
        customer kept, as validation keeps one in a file (a CRM's 2999-12-31 for "unknown"); a service
        event's ``resolved_at`` from then on (a helpdesk's 2999-12-31 for "never") is kept as still open,
        as validation's kept date reads at every cutoff. Default :func:`posted_data_end` (tomorrow).

    Returns
    -------
    Dataset
        Tables ``customers``, ``transactions``, ``service_events`` and ``churn_events`` (see the
        module docs, "Population of ad-hoc histories").

    Raises
    ------
    DataError
        Duplicate or empty customer ids, events of customers not posted, a churn event more than a
        day before the customer's ``signup_date``, unreadable dates or
        numbers (a numeric attribute's placeholder for unknown, "N/A" or "-", is blanked as validation
        blanks it, and so is text or a number reading as NaN or infinity; a satisfaction score off ``[input]
        satisfaction_scale`` is blanked and its event kept, as validation keeps it, and so is a
        sign-up date before 1900 or from ``data_end`` on, its customer kept), ``resolved_at``
        before ``timestamp`` (one before 1900 is; one from ``data_end`` on is kept as open), duplicate
        ``transaction_id`` (with ``[input] order_lines``: one on lines of two customers; one customer's
        lines of an order are merged, as validation merges them).
    """
    config = config or Config()
    inputs = config.input
    data_end = posted_data_end() if data_end is None else data_end
    customer_rows = []
    seen: set[str] = set()
    for i, record in enumerate(map(_item, customers)):
        customer_id = _text(record.get("customer_id"))
        if customer_id is None:
            raise DataError(f"customers[{i}]: customer_id is empty. Give every customer an id.")
        if customer_id in seen:
            raise DataError(f"customers[{i}]: customer_id {customer_id!r} appears twice. Post each customer once.")
        seen.add(customer_id)
        signup = record.get("signup_date")
        row: dict[str, Any] = {
            "customer_id": customer_id,
            # Before 1900 or after the data's end: blanked, the customer kept, as validation keeps them (the warnings say so).
            "signup_date": None if _kept_signup(signup, data_end) else _timestamp(signup, f"customers[{i}].signup_date"),
        }
        for column, kind in attribute_kinds.items():
            value = record.get(column)
            if kind == "numeric":
                if isinstance(value, bool):  # validation reads a boolean column (Parquet, DuckDB) as 1 and 0
                    value = float(value)
                elif _unread_attribute(column, value) is not None:
                    value = None  # blanked, as validation blanks it in batch data (the warnings say so)
                elif isinstance(value, str) and value.strip():
                    # As validation reads a customers column's text: "1,234" and "$1,080.00" too (they were a 400).
                    number = attribute_number(value, inputs.decimal_comma)
                    if number is None:
                        raise DataError(f"customers[{i}].{column}: expected a number, got {value!r}. Send a JSON number, "
                                        'or null (or a placeholder such as "N/A") when it is not known.')
                    value = number
                elif isinstance(value, str):
                    value = None
                row[column] = _number(value, f"customers[{i}].{column}", bounded=False)
            else:
                row[column] = _category(value, (attribute_levels or {}).get(column, ()))
        customer_rows.append(row)

    def owner(record: Mapping[str, Any], where: str) -> str:
        customer_id = _text(record.get("customer_id"))
        if customer_id not in seen:
            raise DataError(
                f"{where}: customer_id {record.get('customer_id')!r} is not among the posted customers. "
                "Post the customer record together with its history."
            )
        return customer_id

    tx_rows = []
    tx_ids: dict[str, str] = {}  # transaction_id -> its customer
    for i, record in enumerate(map(_item, transactions)):
        where = f"transactions[{i}]"
        timestamp = _timestamp(record.get("timestamp"), f"{where}.timestamp")
        amount = _number(record.get("amount"), f"{where}.amount")
        if timestamp is None or amount is None:
            raise DataError(f"{where}: timestamp and amount are required.")
        row = {"customer_id": owner(record, where), "timestamp": timestamp, "amount": amount}
        for column, kind in _TRANSACTION_COLUMNS.items():
            value = record.get(column)
            row[column] = _number(value, f"{where}.{column}") if kind == "number" else _text(value)
        tid = row["transaction_id"]
        if tid is not None:
            # With [input] order_lines, one customer's order has several lines (merged below).
            if tid in tx_ids and not (inputs.order_lines and tx_ids[tid] == row["customer_id"]):
                lines = (f", on lines of customers {tx_ids[tid]!r} and {row['customer_id']!r}: an order belongs to one "
                         "customer ([input] order_lines)") if inputs.order_lines else ""
                raise DataError(f"{where}: transaction_id {tid!r} appears twice{lines}.")
            tx_ids.setdefault(tid, row["customer_id"])
        tx_rows.append(row)

    event_rows = []
    for i, record in enumerate(map(_item, service_events)):
        where = f"service_events[{i}]"
        timestamp = _timestamp(record.get("timestamp"), f"{where}.timestamp")
        event_type = _text(record.get("event_type"))
        if timestamp is None or event_type is None:
            raise DataError(f"{where}: timestamp and event_type are required.")
        row = {"customer_id": owner(record, where), "timestamp": timestamp, "event_type": inputs.event_type(event_type)}
        if _resolved_after_end(record.get("resolved_at"), data_end):
            row["resolved_at"] = None  # open at as_of, as validation's kept date reads (the warnings say so)
        else:
            resolved = _datetime(record.get("resolved_at"), f"{where}.resolved_at")
            if resolved is not None and resolved < EARLIEST:  # before any timestamp: validation sets it aside so
                raise DataError(f"{where}.resolved_at: {resolved} is before the event's timestamp {timestamp}.")
            row["resolved_at"] = _timestamp(resolved, f"{where}.resolved_at")
        row["channel"] = _text(record.get("channel"))
        if _kept_satisfaction(record.get("satisfaction"), inputs.satisfaction_scale) is not None:
            row["satisfaction"] = None  # blanked, the event kept, as validation keeps it in batch data (the warnings say so)
        else:
            row["satisfaction"] = _number(record.get("satisfaction"), f"{where}.satisfaction")
            if row["satisfaction"] is not None:
                row["satisfaction"] = inputs.rescale_satisfaction(row["satisfaction"])
        if row["resolved_at"] is not None and row["resolved_at"] == timestamp.normalize() < timestamp:
            row["resolved_at"] = timestamp  # a date alone, the day it was opened: resolved then, as validation reads it
        if row["resolved_at"] is not None and row["resolved_at"] < timestamp:
            raise DataError(f"{where}.resolved_at: {row['resolved_at']} is before the event's timestamp {timestamp}.")
        event_rows.append(row)

    closures = []
    signups = {row["customer_id"]: row["signup_date"] for row in customer_rows}
    for i, record in enumerate(map(_item, churn_events)):
        where = f"churn_events[{i}]"
        timestamp = _timestamp(record.get("timestamp"), f"{where}.timestamp")
        if timestamp is None:
            raise DataError(f"{where}: timestamp is required (when the account ended).")
        customer_id = owner(record, where)
        signup = signups.get(customer_id)
        if signup is not None and timestamp < signup - pd.Timedelta(days=1):  # as validation sets it aside
            raise DataError(f"{where}.timestamp: {timestamp} is before the signup_date of customer {customer_id!r} "
                            f"({signup:%Y-%m-%d}): an account cannot close before it opens. Check both dates.")
        closures.append({"customer_id": customer_id, "timestamp": timestamp})

    frames = {
        "customers": _frame(customer_rows, {"customer_id": "text", "signup_date": "timestamp",
                                            **{c: ("number" if k == "numeric" else "text") for c, k in attribute_kinds.items()}}),
        "transactions": _frame(tx_rows, {"customer_id": "text", "timestamp": "timestamp", "amount": "number", **_TRANSACTION_COLUMNS}),
        "service_events": _frame(event_rows, {"customer_id": "text", "timestamp": "timestamp", "event_type": "text", **_SERVICE_COLUMNS}),
        "churn_events": _frame(closures, {"customer_id": "text", "timestamp": "timestamp"}),
    }
    con = connect(config)
    # The caller's data reaches the SQL only as escaped literals; should text ever reach it another
    # way, this connection still cannot read or write a file (DuckDB's own spill files excepted), nor
    # be set to.
    con.execute("SET enable_external_access = false")
    con.execute("SET lock_configuration = true")
    if inputs.order_lines:  # one row per order, as validation merges the lines
        con.register("_lines", frames["transactions"])
        frames["transactions"] = con.execute(merge_order_lines_sql("_lines", frames["transactions"].columns)).df()
        con.unregister("_lines")
    return Dataset.from_frames(frames, con)


def _frame(rows: list[dict[str, Any]], kinds: Mapping[str, str]) -> pd.DataFrame:
    """Rows as a DataFrame with explicit dtypes (so an empty table still has typed columns)."""
    data = {}
    for column, kind in kinds.items():
        values = [row.get(column) for row in rows]
        if kind == "timestamp":
            data[column] = pd.to_datetime(pd.Series(values, dtype=object), errors="raise").astype("datetime64[ns]")
        elif kind == "number":
            data[column] = pd.Series([np.nan if v is None else v for v in values], dtype="float64")
        else:
            data[column] = pd.Series(values, dtype=object)
    return pd.DataFrame(data)


# --------------------------------------------------------------------------------------------
# The service
# --------------------------------------------------------------------------------------------


class ScoringService:
    """Everything the HTTP API answers, loaded once.

    Build with :meth:`load` (registry + snapshot), or directly from models and a snapshot frame in
    tests.

    Parameters
    ----------
    models : churnml.tracking.LoadedModels
    snapshot : pandas.DataFrame
        The population's feature table (a snapshot written by :func:`churnml.io.write_snapshot`).
    as_of : Timestamp
        The snapshot's as-of date.
    config : Config
    alias : str
        The alias the models were loaded by (shown by ``/model``).
    aliases : mapping, optional
        Model name -> aliases its loaded version carried at start-up (``/model`` shows the registry's
        current ones when it can read them).
    snapshot : Path, optional
        The snapshot file loaded; ``/model`` warns when a newer one is written beside it.
    outside : pandas.DataFrame, optional
        The customers left out of the snapshot's population, with ``reason`` and ``date``
        (:func:`churnml.labels.outside_population`, written beside the snapshot by ``churnml
        score``): the ``not_found`` detail of such an id names its reason, and that of any other
        id says the customers table did not have it. None (a snapshot written before these files
        were): the detail lists the possible reasons.

    Attributes
    ----------
    scores : pandas.DataFrame
        :data:`churnml.scoring.SCORE_COLUMNS` for every snapshot customer.
    value_thresholds : ValueThresholds
        Value-tier cut points of the snapshot's population.
    """

    def __init__(
        self,
        models: Any,
        snapshot: pd.DataFrame,
        as_of: pd.Timestamp,
        config: Config | None = None,
        alias: str = tracking.CHAMPION,
        aliases: Mapping[str, Sequence[str]] | None = None,
        snapshot_path: Path | None = None,
        outside: pd.DataFrame | None = None,
    ) -> None:
        self.models = models
        self.snapshot_path = snapshot_path
        self._snapshot_stamp = _file_stamp(snapshot_path)
        self.config = config or Config()
        self.alias = alias
        self.aliases = {k: list(v) for k, v in (aliases or {}).items()}
        self.as_of = pd.Timestamp(as_of)
        refuse_snapshot_before_training(snapshot_path, self.as_of, models, alias)
        self.scores = score_features(snapshot, models, self.as_of, self.config)
        # The customers' columns as of the snapshot's date, for the `attributes` of /retention_list.
        self.held_attributes = attribute_columns(snapshot.columns)
        self._attributes = snapshot[["customer_id", *self.held_attributes.values()]]
        self.value_thresholds: ValueThresholds = scores_value_thresholds(self.scores, self.config)
        self.attribute_kinds = _attribute_kinds(models)
        self.attribute_levels = _attribute_levels(models)
        self.left_out = _left_out_attributes(models)
        # Customer columns validation left out (column -> "dates" / "empty"), as train recorded them.
        self.left_out_columns: dict[str, str] = dict(models.metadata.get("left_out_columns") or {})
        used = set(models.churn.feature_names_) | set(models.value.feature_names_)
        self.reads_resolution = bool(used & set(RESOLUTION_FEATURES))
        self.reads_satisfaction = bool(used & set(SATISFACTION_FEATURES))
        self.reads_service = any(spec.source == "service_events" and spec.name in used for spec in model_specs(models))
        # Transaction columns whose distinct values the models count (category, channel).
        self.reads_diversity = tuple(column for column, feature in DIVERSITY_FEATURES.items() if feature in used)
        self._names = segment_names(self.config)
        self._registry_read: Future | None = None
        self._registry_lock = threading.Lock()
        self._row = {customer_id: i for i, customer_id in enumerate(self.scores["customer_id"].tolist())}
        # Loose id -> scored id, where only one scored id has it: named in the not_found detail of an id
        # written another way (case, leading zeros), as `retention-list --exclude` matches them.
        ids = self.scores["customer_id"].astype(str)
        keys = loose_ids(ids)
        unique = ~keys.duplicated(keep=False)
        self._loose = dict(zip(keys[unique], ids[unique]))
        # Column lists, not a frame: one lookup then costs a few list indexings, not a pandas call.
        self._columns = {c: self.scores[c].tolist() for c in SCORE_COLUMNS if c not in ("as_of",)}
        self._as_of_text = f"{self.as_of:%Y-%m-%d}"
        self._outside = None if outside is None else _Outside(outside, self._active_days())

    def _active_days(self) -> int:
        """The population's ``active_days``: the models' (scoring refuses another), else the config's."""
        return int((self.models.metadata.get("problem") or {}).get("active_days") or self.config.problem.active_days)

    @classmethod
    def load(cls, settings: ServiceSettings) -> "ScoringService":
        """Load the models behind ``settings.alias`` and the newest snapshot; score the snapshot.

        Raises
        ------
        ModelNotFoundError
            No registered model carries the alias (run ``churnml train``).
        DataError
            No snapshot (run ``churnml score``), or a snapshot the models cannot score (one as of a
            date before their first training cutoff among them).
        """
        path = preflight(settings.alias, settings.snapshot_dir)
        models = tracking.load_models(settings.alias)
        snapshot = io.read_table(path)
        outside = _read_outside(io.outside_path(path))
        if snapshot.empty or "customer_id" not in snapshot.columns:
            raise DataError(f"Snapshot {path} holds no customers. Re-run `churnml score DATA --as-of DATE --out FILE`.")
        as_of = pd.Timestamp(snapshot["cutoff"].iloc[0]) if "cutoff" in snapshot.columns else pd.Timestamp(path.stem.split("_", 1)[1])
        versions = {tracking.CHURN_MODEL_NAME: models.churn_version, tracking.VALUE_MODEL_NAME: models.value_version}
        aliases = {
            row.name: list(row.aliases) for row in tracking.list_models() if versions.get(row.name) == row.version
        }
        return cls(models, snapshot, as_of, settings.config, settings.alias, aliases, path, outside)

    # -- /score ----------------------------------------------------------------------------------

    def check_count(self, n: int, what: str = "customer_ids") -> None:
        """Refuse an empty request or more items than ``[serving] max_customer_ids``."""
        limit = self.config.serving.max_customer_ids
        if n < 1:
            raise ConfigError(f"{what} is empty. Send at least one.")
        if n > limit:
            raise ConfigError(
                f"{what} holds {n:,} items; the limit is {limit:,} per request ([serving] max_customer_ids). "
                "Split the request, or use `churnml score` for a whole population."
            )

    def score(self, customer_ids: Sequence[str]) -> list[dict[str, Any]]:
        """Precomputed scores of the snapshot customers, in request order.

        Returns
        -------
        list of dict
            Per id, either the score fields with ``status == "ok"`` or ``status == "not_found"``
            with a ``detail`` sentence.

        Raises
        ------
        ConfigError
            Empty list, or more ids than allowed.
        """
        self.check_count(len(customer_ids))
        return [self._lookup(str(customer_id)) for customer_id in customer_ids]

    def _lookup(self, customer_id: str) -> dict[str, Any]:
        # Ids are trimmed for the lookup, as validation trims them in batch data and /score_history in
        # posts; the answer echoes the id as sent, so that the client can match it.
        row = self._row.get(customer_id.strip())
        if row is None:
            return {
                "customer_id": customer_id,
                "status": "not_found",
                "detail": self._not_found_detail(customer_id),
                "as_of": self._as_of_text,
            }
        columns = self._columns
        item = {"customer_id": customer_id, "status": "ok", "as_of": self._as_of_text}
        for column in columns:
            if column != "customer_id":
                item[column] = columns[column][row]
        item["segment_name"] = self._names.get(item["segment"], item["segment"])
        item["reasons"] = _split_reasons(item["reasons"])
        item["reason_topics"] = _split_reasons(item["reason_topics"])
        return item

    def _not_found_detail(self, customer_id: str) -> str:
        """Why an id has no score, and what to do: a CRM asking about a customer the snapshot lacks
        learned only "not in the scored population", not that /score_history scores one, nor which
        of the population's rules left the customer out (the snapshot's outside file says)."""
        detail = f"Not in the scored population at {self._as_of_text}"
        if self._outside is not None and (why := self._outside.detail(customer_id.strip())) is not None:
            return f"{detail}: {why}"
        similar = self._loose.get(loose_id(customer_id))
        if similar is not None:
            return (f"{detail}; {similar!r} is, and matches this id when case, spaces and leading zeros are ignored: "
                    "send the id as the customers table writes it.")
        if self._outside is not None:
            return f"{detail}: not in the customers table scored, an id the data does not have. {_SCORE_HISTORY_HINT}"
        return f"{detail} (signed up since, account closed, inactive, or an id the data does not have). {_SCORE_HISTORY_HINT}"

    # -- /score_history --------------------------------------------------------------------------

    def score_history(
        self,
        customers: Sequence[Any],
        transactions: Sequence[Any] | None,
        service_events: Sequence[Any] | None,
        as_of: Any,
        churn_events: Sequence[Any] | None = None,
    ) -> list[dict[str, Any]]:
        """Score posted histories with the features and scoring code batch scoring uses.

        Parameters
        ----------
        customers, transactions, service_events, churn_events
            Rows in the data contract's shape (see :func:`history_dataset`). ``churn_events``
            ``None`` (not sent) differs from empty (none closed): where the models count account
            closures as churn, every result then warns that a closed account scores as a live one.
            ``transactions`` ``None`` (not sent) scores as empty, and every result warns; so does
            ``service_events`` ``None`` where the models read service features.
        as_of : str or date
            Features see events strictly before it. Not after tomorrow, nor before the models'
            first training cutoff: they learned from customers as of that date on.

        Returns
        -------
        list of dict
            One item per posted customer, in posting order, as :meth:`score` returns them.

        Raises
        ------
        ConfigError, DataError
            Bad ``as_of`` (also one in the future or before the models' training data), bad rows,
            too many or no customers.
        """
        as_of_ts = parse_as_of(as_of)
        tomorrow = posted_data_end()
        if as_of_ts > tomorrow:
            raise ConfigError(
                f"as_of: {as_of_ts:%Y-%m-%d} is in the future. The features would count the days still to come as "
                f"days without purchases. Use a date up to {tomorrow:%Y-%m-%d} (tomorrow), usually the day after "
                "the history you post ends."
            )
        # A 1990 as_of with a 1989 history was scored by models that learned from 2025's customers, and valued
        # against the cut points of the snapshot's population: numbers with nothing behind them. As `churnml score`.
        refuse_as_of_before_training(as_of_ts, self.models.metadata, "as_of",
                                     "usually the day after the history you post ends", as_field=True)
        self.check_count(len(customers), "customers")
        transactions_sent = transactions is not None
        transactions = transactions if transactions is not None else ()
        service_sent = service_events is not None
        service_events = service_events if service_events is not None else ()
        dataset = history_dataset(customers, transactions, service_events, self.attribute_kinds, self.config,
                                  churn_events or (), self.attribute_levels, tomorrow)
        try:
            features = build_features(dataset, [as_of_ts], self.config)
            if features.empty:
                scored = pd.DataFrame(columns=list(SCORE_COLUMNS))
            else:
                scored = score_features(features, self.models, as_of_ts, self.config, self.value_thresholds)
            outside = outside_population(dataset, as_of_ts, self.config)
        finally:
            dataset.con.close()
        as_of_text = f"{as_of_ts:%Y-%m-%d}"
        other_types = self._other_event_types(service_events)
        blanked = self._blanked_scores(service_events)
        for customer_id, said in self._open_resolutions(service_events, tomorrow).items():
            blanked.setdefault(customer_id, []).extend(said)
        unread = self._missing_event_fields(service_events, as_of_ts)
        for customer_id, said in self._missing_transaction_fields(transactions, as_of_ts).items():
            unread.setdefault(customer_id, []).extend(said)
        for customer_id, said in _unread_row_fields(transactions=transactions, service_events=service_events).items():
            unread.setdefault(customer_id, []).extend(said)
        for customer_id, said in _unread_churn_event_fields(churn_events or ()).items():
            unread.setdefault(customer_id, []).extend(said)
        later = _events_from(as_of_ts, transactions=transactions, service_events=service_events)
        closed = set(outside.loc[outside["reason"] == "closed", "customer_id"])
        why_outside = _Outside(outside, self._active_days())
        for customer_id, said in _closing_from(as_of_ts, churn_events or ()).items():
            if customer_id not in closed:  # closed before as_of: not_found says so
                later.setdefault(customer_id, []).append(said)
        found = {}
        for record in scored.to_dict("records"):
            item = {"customer_id": record["customer_id"], "status": "ok", "as_of": as_of_text}
            item.update({c: record[c] for c in SCORE_COLUMNS if c not in ("customer_id", "as_of")})
            item["segment_name"] = self._names.get(item["segment"], item["segment"])
            item["reasons"] = _split_reasons(item["reasons"])
            item["reason_topics"] = _split_reasons(item["reason_topics"])
            found[item["customer_id"]] = item
        results = []
        for i, record in enumerate(map(_item, customers)):
            customer_id = _text(record.get("customer_id"))
            item = found.get(customer_id) or {
                "customer_id": customer_id, "status": "not_found", "as_of": as_of_text,
                "detail": f"Not a customer at {as_of_text}: {why_outside.detail(customer_id, posted=True)}",
            }
            warnings = (_kept_signup_warning(record.get("signup_date"), f"customers[{i}].signup_date", tomorrow)
                        + self.attribute_warnings(record) + other_types.get(customer_id, []) + blanked.get(customer_id, [])
                        + unread.get(customer_id, []) + later.get(customer_id, []))
            if not transactions_sent:
                warnings.append(NO_TRANSACTIONS_SENT)
            if not service_sent and self.reads_service:
                warnings.append(NO_SERVICE_EVENTS_SENT)
            if churn_events is None and self.counts_closures:
                warnings.append(NO_CLOSURES_SENT)
            # The id as sent, as /score echoes it: a client matches replies to its requests by it.
            results.append({**item, "customer_id": str(record.get("customer_id")), "warnings": warnings})
        return results

    @property
    def counts_closures(self) -> bool:
        """Whether the churn model was trained on account closures (a ``churn_events`` table)."""
        return (self.models.metadata.get("problem") or {}).get("churn") == "closure"

    def _missing_event_fields(self, service_events: Sequence[Any], as_of: pd.Timestamp) -> dict[str, list[str]]:
        """Customer id -> warnings naming optional service-event fields the models read but the
        customer's events before ``as_of`` never carry. Left out, they are not "unknown": every
        complaint is then open and every survey unanswered, which moved demo customers' churn
        probabilities by up to 0.45 (``resolved_at``) and 0.41 (``satisfaction``) without a word.
        A field sent as null counts as given: null is how a caller says "still open", "no answer"."""
        if not (self.reads_resolution or self.reads_satisfaction):
            return {}
        counts: dict[str, list[int]] = {}  # events, with resolved_at, surveys, with satisfaction
        for customer_id, timestamp, record, event in _dated_rows(service_events, "service_events"):
            if timestamp is None or timestamp >= as_of:
                continue
            tally = counts.setdefault(customer_id, [0, 0, 0, 0])
            survey = self.config.input.event_type(_text(event.get("event_type")) or "") == "survey"
            tally[0] += 1
            tally[1] += _sent(record, "resolved_at")
            tally[2] += survey
            tally[3] += survey and _sent(record, "satisfaction")
        unread: dict[str, list[str]] = {}
        for customer_id, (events, resolved, surveys, rated) in counts.items():
            if self.reads_resolution and not resolved:
                unread.setdefault(customer_id, []).append(
                    f"resolved_at not given on any of its {events} service event(s) before as_of: every complaint counts "
                    "as unresolved and resolution times as unknown, which changes the score (send resolved_at for the "
                    "resolved events, null for those still open)")
            if self.reads_satisfaction and surveys and not rated:
                unread.setdefault(customer_id, []).append(
                    f"satisfaction not given on any of its {surveys} survey(s) before as_of: the customer counts as never "
                    "rated, which changes the score (send each survey's score, null for one not answered)")
        return unread

    def _missing_transaction_fields(self, transactions: Sequence[Any], as_of: pd.Timestamp) -> dict[str, list[str]]:
        """Customer id -> warnings naming the transaction columns whose distinct values the models
        count (``category``, ``channel``) that none of the customer's transactions before ``as_of``
        carries. Left out, they count 0 values, not unknown: a wholesaler's history posted without
        its product groups scored 1-2 % lower in value than the same history in batch, without a word."""
        if not self.reads_diversity:
            return {}
        counts: dict[str, list[int]] = {}  # transactions, then those with each column
        for customer_id, timestamp, _, row in _dated_rows(transactions, "transactions"):
            if timestamp is None or timestamp >= as_of:
                continue
            tally = counts.setdefault(customer_id, [0] * (1 + len(self.reads_diversity)))
            tally[0] += 1
            for i, column in enumerate(self.reads_diversity, 1):
                tally[i] += not _is_blank(row.get(column))
        unread: dict[str, list[str]] = {}
        for customer_id, (n, *given) in counts.items():
            for column, with_it in zip(self.reads_diversity, given):
                if not with_it:
                    unread.setdefault(customer_id, []).append(
                        f"{column} not given on any of its {n} transaction(s) before as_of: {DIVERSITY_FEATURES[column]}, "
                        f"which the models read, counts 0 {column} values for it (send each transaction's {column})")
        return unread

    def _other_event_types(self, service_events: Sequence[Any]) -> dict[str, list[str]]:
        """Customer id -> a warning naming posted event types that count as "other" (a typo such as
        "complaints" changed a score from 0.47 to 0.08 silently), as validation notes for files."""
        unknown: dict[str, set[str]] = {}
        for event in map(_item, service_events):
            event_type = _text(event.get("event_type"))
            if event_type and self.config.input.event_type(event_type) not in KNOWN_EVENT_TYPES:
                unknown.setdefault(_text(event.get("customer_id")) or "", set()).add(event_type)
        return {
            customer_id: [f"event types counted as other: {', '.join(sorted(types))} (churnml's: "
                          f"{', '.join(KNOWN_EVENT_TYPES)}; the server's [input.event_types] maps yours)"]
            for customer_id, types in unknown.items()
        }

    def _blanked_scores(self, service_events: Sequence[Any]) -> dict[str, list[str]]:
        """Customer id -> a warning naming the posted satisfaction scores blanked, their events kept
        (:func:`_kept_satisfaction`): a 400 for the whole request turned away a helpdesk's histories
        whose export writes 0 for "not rated", which `churnml score` scored."""
        low, high = self.config.input.satisfaction_scale
        found: dict[str, list[str]] = {}
        infinite: set[str] = set()  # customers with a score read as infinity (1e400): the warning says why
        for i, event in enumerate(map(_item, service_events)):
            value = event.get("satisfaction")
            if _kept_satisfaction(value, (low, high)) is not None:
                customer_id = _text(event.get("customer_id")) or ""
                found.setdefault(customer_id, []).append(f"service_events[{i}].satisfaction: {_shown_number(value)}")
                if math.isinf(value):
                    infinite.add(customer_id)
        warnings = {}
        for customer_id, scores in found.items():
            shown = ", ".join(scores[:EXAMPLES]) + (f" and {len(scores) - EXAMPLES} more" if len(scores) > EXAMPLES else "")
            several = len(scores) > 1
            why = f"; {_READS_AS_INFINITY}" if customer_id in infinite else ""
            warnings[customer_id] = [
                f"{shown} {'are' if several else 'is'} outside the scale {low:g}-{high:g} ([input] satisfaction_scale{why}); "
                f"the event{'s are' if several else ' is'} kept without {'them' if several else 'it'}, as validation keeps "
                f"{'them' if several else 'it'} in batch data (send null for a survey not answered; the server's [input] "
                "satisfaction_scale sets another scale)"]
        return warnings

    @staticmethod
    def _open_resolutions(service_events: Sequence[Any], data_end: pd.Timestamp) -> dict[str, list[str]]:
        """Customer id -> a warning naming the posted ``resolved_at`` dates on or after the data's end
        (:func:`_resolved_after_end`: a helpdesk's 2999-12-31 for "never"), whose events are kept as
        still open, as validation keeps them in batch data."""
        found: dict[str, list[str]] = {}
        for i, event in enumerate(map(_item, service_events)):
            value = event.get("resolved_at")
            if _resolved_after_end(value, data_end):
                found.setdefault(_text(event.get("customer_id")) or "", []).append(
                    f"service_events[{i}].resolved_at: {str(value).strip()}")
        warnings = {}
        for customer_id, dates in found.items():
            shown = ", ".join(dates[:EXAMPLES]) + (f" and {len(dates) - EXAMPLES} more" if len(dates) > EXAMPLES else "")
            several = len(dates) > 1
            warnings[customer_id] = [
                f"{shown} {'are' if several else 'is'} after the data's end (today, {data_end - pd.Timedelta(days=1):%Y-%m-%d}); "
                f"the event{'s are' if several else ' is'} kept as still open at as_of, as validation keeps "
                f"{'them' if several else 'it'} in batch data (send null for an event not resolved)"]
        return warnings

    def attribute_warnings(self, record: Mapping[str, Any]) -> list[str]:
        """What a posted customer record says about attributes the caller may not mean: keys the
        models do not know (a typo scores as if the attribute were unknown), keys training left out
        on purpose (worded apart: a full CRM record carries them on every call), and attributes
        they use that are missing, empty, hold a value they were not trained with, or, numeric ones, a
        placeholder ("N/A") that is blanked as validation blanks it."""
        known = self.attribute_kinds
        unused = [k for k in record if k not in ("customer_id", "signup_date") and k not in known]
        left_out = [k for k in unused if k in self.left_out]
        by_validation = [k for k in unused if k in self.left_out_columns and k not in self.left_out]
        unknown = [k for k in unused if k not in self.left_out and k not in self.left_out_columns]
        missing = [k for k in known if _is_blank(record.get(k))]
        warnings = []
        if unknown:
            warnings.append(f"not attributes the models know: {', '.join(map(str, unknown))} (a typo? the attributes "
                            f"they use: {', '.join(known) or 'none'}); ignored")
        if left_out:  # a full CRM record carries them on every call: no typo, and nothing to fix
            warnings.append(f"left out of the models by training, so not read: {', '.join(left_out)} (more values "
                            "than [training] max_categorical_levels: codes such as an account manager's name groups of "
                            "customers rather than describe them)")
        if by_validation:  # a full CRM record carries them too: no typo either
            why = {"dates": "dates: the customers table is read as it is today, so a date in it tells what came later",
                   "empty": "empty in every row of the training data"}
            warnings.append("left out of the models by validation, so not read: "
                            + ", ".join(f"{k} ({why.get(self.left_out_columns[k], self.left_out_columns[k])})"
                                        for k in by_validation))
        if missing:
            warnings.append(f"not given: {', '.join(missing)}; scored as unknown, which changes the score")
        for column, kind in known.items():
            value = record.get(column)
            reason = _unread_attribute(column, value) if kind == "numeric" else None
            if reason is not None:
                said = (f"{value!r} is not a number" if isinstance(value, str) else f"{_shown_number(value)} is not a "
                        f"finite number{f' ({_READS_AS_INFINITY})' if math.isinf(value) else ''}")
                warnings.append(f"{column} {said}: blanked and scored as unknown, as validation does in batch data "
                                f"({reason}), which changes the score")
        for column, levels in self.attribute_levels.items():
            value = _category(record.get(column), levels)
            if value is not None and value not in levels:
                shown = ", ".join(sorted(levels)[:10]) + (", …" if len(levels) > 10 else "")
                warnings.append(f"{column} {value!r} is not a value the models were trained with ({shown}); "
                                "scored as unknown")
        return warnings

    # -- /retention_list -------------------------------------------------------------------------

    def retention_list(
        self,
        budget: float | None = None,
        max_customers: int | None = None,
        contact_cost: float | None = None,
        success_rate: float | None = None,
        segments: Sequence[str] | None = None,
        min_value: float | None = None,
        exclude: Sequence[str] | None = None,
        holdout: float | None = None,
        attributes: Sequence[str] | None = None,
    ) -> dict[str, Any]:
        """The retention list over the loaded scores, as ``churnml retention-list`` builds it
        (``exclude``: ids never to list, as its ``--exclude``; ``holdout``: the control group's
        share, as its ``--holdout``, else ``[targeting] holdout``; ``attributes``: customers
        columns each row carries in its ``attributes``, as ``--attribute`` puts them on the list,
        from the loaded snapshot, else ``[targeting] attributes``).

        At most ``[serving] max_customer_ids`` customers come back: without ``max_customers`` that
        limit applies (the summary then says ``limited_by: max_customers`` when it cut the list);
        asking for more is an error — use the CLI for longer lists.

        Returns
        -------
        dict
            ``summary`` (:meth:`churnml.targeting.RetentionSummary.to_dict` and the contacts per
            talking point, :func:`churnml.targeting.talking_point_summary`, as the CLI's summary
            file holds them), ``customers``
            (ranked rows with ``reasons`` as a list), ``warnings`` (``exclude`` ids matched loosely or
            not at all, a control group too small to show the effect the list assumes, lapsed contacts
            where churn is inactivity: :func:`churnml.targeting.list_notes`; why the list holds no
            contact, and what a config or ``segments`` written for ``dormant`` leaves out of the
            segments split from it) and ``notes`` (that value saved counts a churner's whole horizon
            as lost, :func:`churnml.targeting.value_saved_note`; ``exclude`` ids some of which matched
            nobody), as `churnml retention-list` prints them (``Warning:``, ``Note:``); empty otherwise.

        Raises
        ------
        ConfigError, DataError
            Bad settings or segments; a blank ``exclude`` id (named by its position), as the HTTP
            API refuses it; ``max_customers`` above ``[serving] max_customer_ids``; an attribute the
            snapshot does not hold (the message names those it holds).
        """
        limit = self.config.serving.max_customer_ids
        if max_customers is not None and not isinstance(max_customers, bool) and isinstance(max_customers, int) and max_customers > limit:
            raise ConfigError(
                f"max_customers {max_customers:,} is above the API's limit of {limit:,} ([serving] max_customer_ids). "
                "Use `churnml retention-list` for longer lists."
            )
        asked = self.config.targeting.attributes if attributes is None else attributes
        where = "attributes" if attributes is not None else "[targeting] attributes"
        carried = attribute_list_columns(asked, self.held_attributes, where, source=f"the snapshot loaded "
                                         f"({self.snapshot_path.name if self.snapshot_path else self._as_of_text})",
                                         indexed=attributes is not None)
        excluded = _exclude_ids(exclude)
        _check_segments(segments, self.config)
        result = retention_list(
            self.scores,
            budget=budget,
            max_customers=limit if max_customers is None else max_customers,
            contact_cost=contact_cost,
            success_rate=success_rate,
            segments=list(segments) if segments else None,
            min_value=min_value,
            config=self.config,
            exclude=excluded,
            holdout=holdout,
        )
        listed, _ = with_attributes(result.customers, self._attributes,
                                    {column: self.held_attributes[name] for column, name in carried.items()})
        customers = listed.to_dict("records")
        for row in customers:
            row.pop("as_of", None)  # the response's own as_of says it once
            row["reasons"] = _split_reasons(row["reasons"])
            if carried:  # by the customers column's name: nothing to tell apart from the row's own fields here
                row["attributes"] = {name: None if pd.isna(value := row.pop(column)) else value
                                     for column, name in carried.items()}
        summary = {**result.summary.to_dict(), **talking_point_summary(result.customers)}
        # What `churnml retention-list` says beside its summary, from the same functions, request fields named
        # as the API names them: its Notes in `notes`, its warnings in `warnings` (the summary's last, as it prints them).
        problem = self.models.metadata.get("problem")
        horizon = self.models.metadata.get("horizon_days") or self.config.problem.horizon_days
        told = said_fields(list_notes(result, problem, len(set(excluded)), option=""), result.summary)
        summary.pop("warnings")  # in the response's own, after list_notes's: as the list's .json summary records them
        notes = [note for note in [value_saved_note(horizon, problem)] if note] + told["notes"]
        warnings = told["warnings"]
        return {"as_of": self._as_of_text, "churn_model_version": str(self.models.churn_version),
                "value_model_version": str(self.models.value_version), "summary": _jsonable(summary),
                "customers": _jsonable(customers), "warnings": warnings, "notes": notes}

    # -- /model ----------------------------------------------------------------------------------

    def model_info(self) -> dict[str, Any]:
        """Versions, aliases, training as-of date, key test metrics and grade of the loaded models.

        Each model is reported from its own training run: after ``churnml promote`` of one model
        the two champions come from different runs, and the churn run's value metrics and grade
        described a value model that is not the one served.
        """
        meta = self.models.metadata
        value_meta = meta.get("value_run") or meta
        value_run_id = meta.get("value_run_id", self.models.run_id)
        churn = (meta.get("test_metrics") or {}).get("churn", {}).get("model", {})
        value = (value_meta.get("test_metrics") or {}).get("value", {}).get("model", {})
        churn_grade = (meta.get("grades") or {}).get("churn")
        value_grade = (value_meta.get("grades") or {}).get("value")
        grade = meta.get("grade")
        if not self.same_run:  # the overall grade is the worse of the two, as train grades a pair
            grade = max(churn_grade, value_grade) if churn_grade and value_grade else None
        grades = {"churn": churn_grade, "value": value_grade, "overall": grade}
        aliases, changed = self.registry_changes()
        return {
            "alias": self.alias,
            "churn_model": {"name": tracking.CHURN_MODEL_NAME, "version": str(self.models.churn_version),
                            "aliases": aliases.get(tracking.CHURN_MODEL_NAME, []), "run_id": self.models.run_id,
                            "trained_as_of": meta.get("as_of"), "grade": churn_grade},
            "value_model": {"name": tracking.VALUE_MODEL_NAME, "version": str(self.models.value_version),
                            "aliases": aliases.get(tracking.VALUE_MODEL_NAME, []), "run_id": value_run_id,
                            "trained_as_of": value_meta.get("as_of"), "grade": value_grade},
            "same_run": self.same_run,
            "run_id": self.models.run_id,
            "trained_as_of": meta.get("as_of"),
            "horizon_days": meta.get("horizon_days"),
            "grade": grade,
            "grades": {k: v for k, v in grades.items() if v is not None},
            "test_metrics": {
                "churn": {k: _finite(churn[k]) for k in CHURN_TEST_METRICS if k in churn},
                "value": {k: _finite(value[k]) for k in VALUE_TEST_METRICS if k in value},
            },
            "scores_as_of": self._as_of_text,
            "customers": len(self.scores),
            "attributes": dict(self.attribute_kinds),
            **self.ages(),
            "warnings": changed + self.model_warnings(),
        }

    def registry_changes(self) -> tuple[dict[str, list[str]], list[str]]:
        """The aliases the loaded versions carry in the registry now, and warnings about what changed
        since start-up: the served alias moved to other versions (a promotion: this server still
        answers with the ones it loaded, and said nothing while ``/model`` showed the old aliases),
        or a newer snapshot was written. Falls back to the start-up aliases, with a warning, when
        the registry cannot be read. The warnings name snapshot files, not the server's folders: an API
        client holds the key, not an account on the server (the start-up log names the folder)."""
        loaded = {tracking.CHURN_MODEL_NAME: str(self.models.churn_version),
                  tracking.VALUE_MODEL_NAME: str(self.models.value_version)}
        warnings = []
        try:
            registry = self._registry_aliases(REGISTRY_WAIT_SECONDS)
        except FutureTimeout:
            registry = None
            warnings.append(f"the model registry did not answer within {REGISTRY_WAIT_SECONDS:g} s (a locked store, or "
                            "a tracking server that is down or slow), so its aliases could not be compared with the "
                            "loaded models; aliases are shown as at start-up")
        except Exception as exc:  # a locked store, a tracking server that does not answer: say so, answer anyway
            registry = None
            # The first line: SQLAlchemy's message goes on with the failed query's SQL.
            text = (str(exc).strip().splitlines() or [""])[0][:200]
            warnings.append(f"could not read the model registry to compare its aliases with the loaded models "
                            f"({type(exc).__name__}: {text}); aliases are shown as at start-up")
        if registry is None:
            aliases = {name: list(self.aliases.get(name, [])) for name in loaded}
        else:
            aliases = {name: sorted(a for a, v in registry.get(name, {}).items() if v == version)
                       for name, version in loaded.items()}
            served = str(self.alias)
            if not re.fullmatch(r"[vV]?\d+", served):  # an alias, not a pinned version number
                moved = {name: registry.get(name, {}).get(served) for name, version in loaded.items()
                         if registry.get(name, {}).get(served) != version}
                if moved:
                    now = ", ".join(f"{name} v{version}" if version else f"no version of {name}"
                                    for name, version in moved.items())
                    warnings.append(
                        f"'{served}' is now {now} in the registry (since this server started), but this server still "
                        f"answers with {tracking.CHURN_MODEL_NAME} v{loaded[tracking.CHURN_MODEL_NAME]} and "
                        f"{tracking.VALUE_MODEL_NAME} v{loaded[tracking.VALUE_MODEL_NAME]}, as every result's "
                        "churn_model_version and value_model_version say: it loads the models once. Write a new "
                        "snapshot with them (`churnml score DATA --as-of DATE --out FILE`) and restart the server.")
        if self.snapshot_path is not None:
            try:
                newest = io.latest_snapshot(self.snapshot_path.parent)
            except ChurnmlError:
                newest = self.snapshot_path
            if newest.name > self.snapshot_path.name:
                warnings.append(
                    f"a newer snapshot, {newest.name}, was written to its snapshot folder after this server loaded "
                    f"{self.snapshot_path.name}: /score and /retention_list still answer as of {self._as_of_text}. "
                    "Restart the server to serve it.")
            elif newest == self.snapshot_path and _file_stamp(newest) != self._snapshot_stamp:
                warnings.append(
                    f"{newest.name} was written again after this server loaded it (another `churnml score` for "
                    f"{self._as_of_text}): /score and /retention_list still answer from the copy loaded at start-up. "
                    "Restart the server to serve the new one.")
        return aliases, warnings

    def _registry_aliases(self, seconds: float) -> dict[str, dict[str, str]]:
        """:func:`tracking.registry_aliases`, waited for at most ``seconds`` (raises
        ``concurrent.futures.TimeoutError`` after that). The read runs in a daemon thread and goes on
        after a timeout; a call while one is still running waits for that one instead of starting
        another, so a store that stays locked holds one thread, not one per ``/model`` call."""
        with self._registry_lock:
            if self._registry_read is None or self._registry_read.done():
                future: Future = Future()

                def read() -> None:
                    try:
                        future.set_result(tracking.registry_aliases())
                    except BaseException as exc:  # handed to the caller by future.result()
                        future.set_exception(exc)

                threading.Thread(target=read, name="churnml-registry-read", daemon=True).start()
                self._registry_read = future
            pending = self._registry_read
        return pending.result(timeout=seconds)

    def ages(self, today: date | None = None) -> dict[str, Any]:
        """Days from the models' training as-of date (the older model's) and from the scores' as-of
        date to ``today`` (UTC), with ``[monitoring] max_model_age_days``. The API said nothing when
        its models were past that age or its snapshot predicted a window that had ended."""
        today = today or datetime.now(timezone.utc).date()
        oldest = self._trained_as_of()
        return {
            "model_age_days": (pd.Timestamp(today) - oldest).days if oldest is not None else None,
            "max_model_age_days": self.config.monitoring.max_model_age_days,
            "scores_age_days": (pd.Timestamp(today) - self.as_of).days,
        }

    @property
    def same_run(self) -> bool:
        """Whether the churn and value models come from one training run (a pair graded together)."""
        return self.models.metadata.get("value_run_id", self.models.run_id) == self.models.run_id

    def _trained_as_of(self) -> pd.Timestamp | None:
        """The training as-of date of the older of the two models (None for models that lack it)."""
        trained = [value for value in (self.models.metadata.get("as_of"),
                                       (self.models.metadata.get("value_run") or {}).get("as_of")) if value]
        return min(pd.Timestamp(value) for value in trained) if trained else None

    def model_warnings(self, today: date | None = None) -> list[str]:
        """What an operator should know about the loaded models and scores, for ``/model`` and the
        start-up log: champions from different runs, models past ``[monitoring] max_model_age_days``
        (as ``churnml score`` warns), scores older than the horizon they predict."""
        ages = self.ages(today)
        horizon = self.models.metadata.get("horizon_days") or self.config.problem.horizon_days
        warnings = []
        if ages["model_age_days"] is not None and ages["model_age_days"] > ages["max_model_age_days"]:
            warnings.append(
                f"the models were trained on data up to {self._trained_as_of():%Y-%m-%d}, {ages['model_age_days']} "
                f"day{'s' if ages['model_age_days'] != 1 else ''} ago, more than [monitoring] "
                f"max_model_age_days ({ages['max_model_age_days']}): customers may behave differently by now. Retrain "
                "(`churnml train DATA --as-of DATE`) and restart the server."
            )
        if ages["scores_age_days"] > horizon:
            warnings.append(
                f"the scores are as of {self._as_of_text}, {ages['scores_age_days']} days ago, more than the "
                f"{horizon}-day horizon they predict: /score and /retention_list answer for a window that has ended. "
                "Write a new snapshot (`churnml score DATA --as-of DATE --out FILE`) and restart the server."
            )
        if not self.same_run:
            warnings.append(
                f"{tracking.CHURN_MODEL_NAME} v{self.models.churn_version} and {tracking.VALUE_MODEL_NAME} "
                f"v{self.models.value_version} ('{self.alias}') come from different training runs: each is reported "
                "with its own run's metrics and grade, and the scores pair them as they are. To serve one run's pair, "
                "promote the other model's version of the same run (`churnml promote`) and restart the server."
            )
        return warnings


_OUTSIDE_REASONS = list(OUTSIDE_REASONS)
"""The reasons in their order: the codes of :class:`_Outside`'s ``reasons``."""

_SCORE_HISTORY_HINT = "POST /score_history scores a customer from their own record and history."
"""Ends a ``not_found`` detail where /score_history can score the customer."""


def _read_outside(path: Path) -> pd.DataFrame | None:
    """The customers outside a snapshot's population, from the file beside it; None when there is
    none or it cannot be read (damaged, or not this shape): ``/score`` then gives the generic
    ``not_found`` detail, and the server still starts, as it did before these files existed."""
    if not path.is_file():
        return None
    try:
        frame = io.read_table(path)
    except Exception:  # pyarrow's errors for a damaged or foreign file: the scores do not depend on it
        return None
    return frame if {"customer_id", "reason", "date"} <= set(frame.columns) else None


class _Outside:
    """The customers outside a snapshot's population (:func:`churnml.labels.outside_population`),
    looked up by id: sorted ids, their reasons (one byte each) and dates as arrays, kept small since
    half of a customers table can be outside (54 % of the 100,000 generated customers at 2026-01-01);
    the sentence is made when asked."""

    def __init__(self, outside: pd.DataFrame, active_days: int) -> None:
        ids = outside["customer_id"].astype(str).to_numpy(dtype=object)
        order = np.argsort(ids, kind="stable")
        self.ids = ids[order]
        reasons = pd.Categorical(outside["reason"].astype(str), categories=_OUTSIDE_REASONS)
        self.reasons = reasons.codes[order]  # one byte a customer, not a string
        self.dates = pd.to_datetime(outside["date"]).to_numpy()[order]
        self.active_days = active_days

    def detail(self, customer_id: str, posted: bool = False) -> str | None:
        """Why ``customer_id`` is outside the population (the rest of the ``not_found`` detail,
        after "at DATE"), with what POST /score_history can do about it, or, for a customer whose
        record and history were ``posted`` to it, without; None when it is not."""
        i = int(np.searchsorted(self.ids, customer_id))
        if i >= len(self.ids) or self.ids[i] != customer_id:
            return None
        code, stamp = self.reasons[i], self.dates[i]
        reason = _OUTSIDE_REASONS[code] if code >= 0 else None
        day = None if pd.isna(stamp) else f"{pd.Timestamp(stamp):%Y-%m-%d}"
        hint = "" if posted else f" {_SCORE_HISTORY_HINT}"
        if reason == "closed":
            return f"the account closed on {day} (churn_events), before it."
        if reason == "inactive":
            last = f"last on {day}" if day else "none before it"
            return f"no purchase in the {self.active_days} days before it ({last}); /score_history does not apply that rule.{hint}"
        if reason == "signed_up":
            return f"signed up on {day}, on or after it.{hint}"
        if reason != "no_history":  # a reason this code does not know (a file of a newer churnml)
            return f"left out of it (signed up since, account closed or inactive).{hint}"
        if posted:  # a posted sign-up date that is not a date is a 400, not set aside
            return "no sign-up date and no transaction before it."
        return f"no sign-up date and no transaction before it (a sign-up date validation set aside counts as none).{hint}"


def _dated_rows(rows: Sequence[Any], table: str) -> Iterator[tuple[str, pd.Timestamp | None, Any, Mapping[str, Any]]]:
    """Each posted row of ``table`` as (customer id, its timestamp, the row as posted, its fields as a
    mapping), for the warnings that count a customer's rows before or from ``as_of``. The timestamps
    were checked by :func:`history_dataset`; the row as posted tells a null sent from a field left out."""
    for record in rows:
        row = _item(record)
        yield _text(row.get("customer_id")) or "", _timestamp(row.get("timestamp"), f"{table}.timestamp"), record, row


def _events_from(as_of: pd.Timestamp, **tables: Sequence[Any]) -> dict[str, list[str]]:
    """Customer id -> a warning counting posted rows on or after ``as_of``, which the features do not
    see (they see events before it). A CRM posting today's purchases with ``as_of`` today had them
    left out without a word."""
    counts: dict[str, dict[str, int]] = {}
    for table, rows in tables.items():
        for customer_id, timestamp, _, _ in _dated_rows(rows, table):
            if timestamp is not None and timestamp >= as_of:
                tally = counts.setdefault(customer_id, {})
                tally[table] = tally.get(table, 0) + 1
    return {
        customer_id: [f"{' and '.join(f'{n} {table}' for table, n in tally.items())} on or after as_of {as_of:%Y-%m-%d} "
                      "not counted: the scores see events before as_of (as of the day after the last event counts them)"]
        for customer_id, tally in counts.items()
    }


def _closing_from(as_of: pd.Timestamp, churn_events: Sequence[Any]) -> dict[str, str]:
    """Customer id -> a warning naming their first posted churn event on or after ``as_of``: the account
    is scored as open, as batch scoring does, but a member who had given notice for next month got an
    ordinary risk score, and nothing said that the closure was not counted."""
    first: dict[str, pd.Timestamp] = {}
    for customer_id, timestamp, _, _ in _dated_rows(churn_events, "churn_events"):
        if timestamp is not None and timestamp >= as_of and (customer_id not in first or timestamp < first[customer_id]):
            first[customer_id] = timestamp
    return {
        customer_id: (f"churn event on {day:%Y-%m-%d}, on or after as_of {as_of:%Y-%m-%d}, not counted: the account is "
                      "scored as open, as it was before as_of (to leave out accounts whose customers have given notice, "
                      "date each churn event when notice is given)")
        for customer_id, day in first.items()
    }


CHURN_EVENT_FIELDS = ("customer_id", "timestamp")
"""The fields of a posted churn event that /score_history reads."""


def _unread_churn_event_fields(churn_events: Sequence[Any]) -> dict[str, list[str]]:
    """Customer id -> a warning naming the fields of their posted churn events that are not read
    (a CRM's ``type``, voluntary or involuntary, or ``reason``), as validation notes such columns of
    a churn_events file: every posted churn event closes the account and counts as churn, whatever
    they say, and nothing said so."""
    unread: dict[str, set[str]] = {}
    for customer_id, _, _, row in _dated_rows(churn_events, "churn_events"):
        extra = [str(name) for name in row if name not in CHURN_EVENT_FIELDS]
        if extra:
            unread.setdefault(customer_id, set()).update(extra)
    return {
        customer_id: [f"churn_events field{'s' if len(names) > 1 else ''} not read: {', '.join(sorted(names))}. Every posted "
                      "churn event is an account closure that counts as churn, whatever "
                      f"{'they say' if len(names) > 1 else 'it says'} (an involuntary one, for non-payment, as much as a "
                      "cancellation); to leave a kind out, do not post its events"]
        for customer_id, names in unread.items()
    }


ROW_FIELDS = {"transactions": ("customer_id", "timestamp", "amount", *_TRANSACTION_COLUMNS),
              "service_events": ("customer_id", "timestamp", "event_type", *_SERVICE_COLUMNS)}
"""The fields of a posted transaction or service event that /score_history reads: the contract's columns."""


def _unread_row_fields(**tables: Sequence[Any]) -> dict[str, list[str]]:
    """Customer id -> a warning per table naming the fields of their posted rows that are not read (an
    export's ``currency``, ``store_id``, ``ticket_no``), as validation reads only the contract's columns
    of a file: such a row was a 400 for the whole request ("Extra inputs are not permitted"). A typo
    of an optional field (``resolvedAt``) is named here too."""
    unread: dict[str, dict[str, set[str]]] = {}
    for table, rows in tables.items():
        for record in map(_item, rows):
            extra = [str(name) for name in record if name not in ROW_FIELDS[table]]
            if extra:
                unread.setdefault(_text(record.get("customer_id")) or "", {}).setdefault(table, set()).update(extra)
    return {
        customer_id: [f"{table} field{'s' if len(names) > 1 else ''} not read: {', '.join(sorted(names))} (churnml reads "
                      f"{', '.join(ROW_FIELDS[table])}, as validation reads those columns of a file: a typo?)"
                      for table, names in by_table.items()]
        for customer_id, by_table in unread.items()
    }


def _file_stamp(path: Path | None) -> tuple[int, int] | None:
    """(modification time, size) of a file, None when there is none: a snapshot rewritten in place."""
    try:
        stat = path.stat() if path is not None else None
    except OSError:
        return None
    return (stat.st_mtime_ns, stat.st_size) if stat else None


def _is_blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _exclude_ids(exclude: Sequence[str] | None) -> list[str]:
    """The ids of a retention list's ``exclude``, trimmed as lookups trim them.

    A blank item (empty, spaces only, None) was dropped without a word: the customer a caller
    meant to keep off the list stayed on it when its id field came through empty. The HTTP API
    refuses such an item (400, ``CustomerId`` in serving/service.py); the library call now does too.

    Raises
    ------
    DataError
        A blank item, named by its position; or one string instead of a list of ids (its
        characters were taken for ids).
    """
    if isinstance(exclude, str):
        raise DataError(f"exclude must be a list of customer ids, got the text {exclude[:40]!r}. "
                        f"Pass a list, e.g. [{exclude[:40]!r}].")
    ids = []
    for i, item in enumerate(exclude or ()):
        text = "" if item is None else str(item).strip()
        if not text:
            raise DataError(f"exclude[{i}]: Customer ids must not be blank (got {item!r}): send the id, or leave the item out.")
        ids.append(text)
    return ids


def _check_segments(segments: Sequence[str] | None, config: Config) -> None:
    """Refuse a retention list's unknown ``segments`` items by their positions, as the API names a field
    first, all of them: a request with two unknown segments was told of the first only.

    :func:`churnml.segments.resolve_segment`'s message is the CLI's (``--segment``'s) too, so it
    does not name the field: an API client read "Unknown segment 'vip'. Valid segments: ..." alone.

    Raises
    ------
    ConfigError
        ``segments[1]: Unknown segment 'vip'. Valid segments: ...``, or with several
        ``segments[0], segments[2]: Unknown segments 'vip', 'gold'. Valid segments: ...``.
    """
    unknown: list[tuple[int, str]] = []
    for i, name in enumerate(segments or ()):
        try:
            resolve_segment(name, config)
        except ConfigError:
            unknown.append((i, name))
    if unknown:
        raise ConfigError(f"{', '.join(f'segments[{i}]' for i, _ in unknown)}: "
                          f"{unknown_segments([name for _, name in unknown], config)}")


def _split_reasons(text: Any) -> list[str]:
    if not isinstance(text, str) or not text:
        return []
    return text.split(SEPARATOR)


def _finite(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _jsonable(value: Any) -> Any:
    """numpy scalars to Python, NaN/inf to None, recursively (JSON has no NaN)."""
    if isinstance(value, Mapping):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, pd.DataFrame):
        return _jsonable(value.to_dict("records"))
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


_UNION_MEMBERS = {"str": "text", "float": "a number", "int": "a whole number", "bool": "true/false"}

_NESTED_HINTS = {
    **{table: ("a customer record holds only its customer_id, signup_date and attributes: send "
               f"{table} as one list at the top level of the body, beside customers, each row with its customer_id "
               "(see the example in the API docs at /)") for table in ("transactions", "service_events", "churn_events")},
    "customer": ("a customer record is the customer's row itself: put customer_id, signup_date and the attributes "
                 "in it, not under \"customer\" (see the example in the API docs at /)"),
}
"""Keys of a posted customer record that say the client nested what belongs elsewhere."""


def iter_problems(exc: Iterable[Mapping[str, Any]], limit: int = 5) -> str:
    """Pydantic-style error dicts as one readable sentence: ``field[0].path: message; ...``.

    Locations are written as the API's own messages write them (``transactions[0].amount``). A
    value that fits none of a union's types gets one message naming them, not one per type.

    Example
    -------
    >>> iter_problems([{"loc": ("customer_ids", 0), "msg": "Input should be a valid string"}])
    'customer_ids[0]: Input should be a valid string (send ids as JSON strings, e.g. "123")'
    >>> iter_problems([{"loc": ("customers", 0, "region", t), "msg": "..."} for t in ("str", "float", "bool")])
    'customers[0].region: Input should be text, a number or true/false (or null)'

    A null for a field that takes none (given with its ``input``, which is never shown) is told the field
    is required and the form it takes:

    >>> iter_problems([{"loc": ("transactions", 0, "timestamp"), "msg": "Input should be a valid string",
    ...                 "type": "string_type", "input": None}])[:79]
    'transactions[0].timestamp: required, and null is no value for it: send the date'

    A history nested in its customer's record (the shape most clients try first) is told where it goes:

    >>> iter_problems([{"loc": ("customers", 0, "transactions", t), "msg": "..."} for t in ("str", "float")])[:99]
    'customers[0].transactions: a customer record holds only its customer_id, signup_date and attributes'
    """
    grouped: dict[str, list[str]] = {}
    messages: dict[str, str] = {}
    for error in exc:
        loc = [p for p in error.get("loc", ()) if p != "body"]
        member = loc.pop() if len(loc) > 1 and loc[-1] in _UNION_MEMBERS else None
        location = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in loc).lstrip(".") or "body"
        if len(loc) == 3 and loc[0] == "customers" and loc[2] in _NESTED_HINTS:
            # Read as an attribute, a list of rows got "Input should be text, a number or true/false".
            messages.setdefault(location, _NESTED_HINTS[loc[2]])
            continue
        if member is not None:
            grouped.setdefault(location, []).append(_UNION_MEMBERS[member])
        elif "input" in error and error["input"] is None and str(error.get("type", "")).endswith("_type"):
            # null for a field that takes no null read "Input should be a valid string", as if a string were the
            # problem: a caller sending "timestamp": null for "not known" learned neither that it is required nor its form.
            item = bool(loc) and isinstance(loc[-1], int)  # customer_ids[0]: an item of a list, not a field
            name = str(loc[-2] if item and len(loc) > 1 else loc[-1]) if loc else ""
            form = (_ITEM_FORMS if item else _REQUIRED_FORMS).get(name)
            said = "null is no item of this list" if item else "required, and null is no value for it"
            messages.setdefault(location, said + (f": send {form}" if form else f" ({error.get('msg', 'invalid')})"))
        else:
            message = str(error.get("msg", "invalid"))
            if (hint := _FIELD_HINTS.get((location, error.get("type"))) or _type_hint(loc, error.get("type"))) is not None:
                message += f" ({hint})"
            if loc[:1] == ["service_events"] and loc[-1:] == ["satisfaction"] and error.get("type") in _NOT_A_SCORE:
                message += f" ({_NOT_A_SCORE[error.get('type')]})"
            if (loc[:1] in (["customer_ids"], ["exclude"]) or loc[-1:] in (["customer_id"], ["transaction_id"])) and "valid string" in message:
                message += ' (send ids as JSON strings, e.g. "123")'
            messages.setdefault(location, message)
    for location, kinds in grouped.items():
        listed = ", ".join(kinds[:-1]) + f" or {kinds[-1]}" if len(kinds) > 1 else kinds[0]
        messages.setdefault(location, f"Input should be {listed} (or null)")
    parts = [f"{location}: {message}" for location, message in messages.items()]
    more = f" (and {len(parts) - limit} more)" if len(parts) > limit else ""
    # A row's field (customers[0].customer_id), not a table left out (customers: Field required).
    if any(message == "Field required" and location.split("[")[0] in _POSTED_TABLES and "[" in location
           for location, message in messages.items()):
        # A client posting its own export's rows ("Invoice Date", "Total") learned only which
        # fields were missing, not that the config's column mapping is for files.
        more += (". Posted rows use churnml's field names (customer_id; timestamp and amount; event_type), "
                 "whatever [columns] in the config maps in files: rename the fields in the request")
    return "; ".join(parts[:limit]) + more


_POSTED_TABLES = ("customers", "transactions", "service_events", "churn_events")
_ID_FORM = 'the id as a JSON string, e.g. "C0000001"'
_REQUIRED_FORMS = {
    "timestamp": 'the date, or date and time, as ISO 8601 text, e.g. "2025-10-20" or "2025-10-20T16:40:00"',
    "amount": "the amount as a JSON number, e.g. 30.0 (negative for a refund)",
    "event_type": 'the type as text, e.g. "complaint"',
    "customer_id": _ID_FORM,
    "as_of": 'the date as YYYY-MM-DD, e.g. "2025-12-01"',
    "customer_ids": 'a list of ids, e.g. ["C0000001"]',
    "customers": 'a list of customer records, e.g. [{"customer_id": "C0000001"}]',
}
"""The form a required field takes, by its name, for a request that sent it as null (:func:`iter_problems`)."""
_ITEM_FORMS = {"customer_ids": _ID_FORM, "exclude": _ID_FORM, "segments": 'a segment key, e.g. "dormant"',
               "attributes": 'a customers column\'s name, e.g. "region"'}
"""The same for an item of a list, by the list's name."""
_SPLIT = "[serving] max_customer_ids per request: split the request"
_FIELD_HINTS = {
    ("customer_ids", "too_long"): f"{_SPLIT}, or use `churnml score` for a whole population",
    ("customers", "too_long"): f"{_SPLIT}, or use `churnml score` for a whole population",
    ("max_customers", "less_than_equal"): "the API's limit, [serving] max_customer_ids: use `churnml retention-list` for longer lists",
    # The body of one endpoint posted to the other: each field was refused as any unknown one.
    ("customer_ids", "extra_forbidden"): "customer_ids is /score's field, which looks scores up in the snapshot the server "
                                         "loaded: /score_history takes the customers' records in customers, with as_of",
    **{(table, "extra_forbidden"): (f"{table} is /score_history's field, which scores posted records and histories as "
                                    "of as_of: /score takes customer_ids and looks their scores up in the snapshot the "
                                    "server loaded") for table in _POSTED_TABLES},
    # /score and /retention_list answer from the loaded snapshot: an as_of there was refused as any unknown field.
    ("as_of", "extra_forbidden"): "/score and /retention_list answer from the scores of the snapshot the server loaded, "
                                  "as of GET /model's scores_as_of: to score customers as of another date, post their "
                                  "records and histories to /score_history with as_of",
    # A per-segment object ({"dormant": 2}) read as a wrong type alone, as if the segment were the problem.
    ("contact_cost", "float_type"): "one cost for every segment, e.g. 5.0; leave the field out for the costs per segment "
                                    "of the server's config, [targeting.contact_costs]",
}
"""What to do about a field's error (over one of the API's limits, a form it does not take), by (location,
pydantic error type)."""
def _type_hint(loc: Sequence[Any], kind: Any) -> str | None:
    """The form a field of the wrong JSON type takes, by pydantic error type (a single id where a list is
    taken read "Input should be a valid array" alone; "500" or 10.0 "a valid number" or "integer"); None
    where another hint says it (a satisfaction score, an id) or there is nothing to add."""
    name = str(loc[-1]) if loc else ""
    if kind == "list_type" and name in _LIST_FORMS:
        return f"send a JSON list, even of one: {_LIST_FORMS[name]}"
    if kind == "float_type" and name != "satisfaction":
        return "send a JSON number, e.g. 30.0, not text or true/false"
    if kind == "int_type":
        return "send a whole JSON number without a decimal point, e.g. 100"
    if kind == "string_type" and name in _DATE_FIELDS:  # 20250707 or seconds since 1970
        return 'send the date as ISO 8601 text, e.g. "2025-10-20": a number is not read as a date'
    if kind == "string_too_short":  # "" for an event type or an id
        item = len(loc) > 1 and isinstance(loc[-1], int)
        form = _ITEM_FORMS.get(str(loc[-2])) if item else _REQUIRED_FORMS.get(name)
        return None if form is None else f"required: send {form}"
    return None


_DATE_FIELDS = ("as_of", "timestamp", "signup_date", "resolved_at")


_ROWS = '[{"customer_id": "C0000001", ...}], [] for none'
_LIST_FORMS = {"customer_ids": '["C0000001"]', "exclude": '["C0000001"]', "segments": '["dormant"]',
               "attributes": '["region"]', "customers": '[{"customer_id": "C0000001"}]', "transactions": _ROWS,
               "service_events": _ROWS, "churn_events": _ROWS}
"""What a list field holds, by name, for a request that sent something else (:func:`_type_hint`)."""

_NOT_A_SCORE = {
    "float_type": "send the score as a JSON number, or null for a survey not answered",
}
"""What to send instead of a posted satisfaction score that is no JSON number (text, true), by pydantic
error type: a request's type error, a 400, where a number off the scale (NaN and infinity, 1e400, included)
is blanked and its event kept."""
