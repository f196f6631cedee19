"""churnml HTTP API (BentoML): parse, authenticate, call :mod:`churnml.api`, answer.

Endpoints (all but ``/livez``, ``/readyz``, ``/healthz`` and the docs page need
``Authorization: Bearer <CHURNML_API_KEY>``, ``/metrics`` included):

* ``POST /score``           precomputed scores of customers in the latest snapshot
* ``POST /score_history``   score posted histories with the batch feature and scoring code
* ``POST /retention_list``  the retention list over the latest scores
* ``GET  /model``           versions, aliases, training as-of date, test metrics, grade (each model's from
  its own run), the models' and the scores' age, and warnings (also logged at start-up)

Start with ``churnml serve`` (or ``bentoml serve`` in this folder with ``CHURNML_API_KEY`` set).
Start-up loads the models by alias and the newest snapshot once; it refuses to start, naming the
command to run, when either is missing. Request bodies are validated before BentoML sees them
(:mod:`guard`), so every bad input is a 4xx with a message, and no payload is ever logged.
"""

from __future__ import annotations

import logging
import os
import re
import signal
import traceback
import warnings
from typing import Annotated, Any, Literal, Optional, Union

import bentoml
from fastapi import FastAPI
from pydantic import AfterValidator, AllowInfNan, BaseModel, ConfigDict, Field, Strict, StringConstraints
from pydantic_core import PydanticCustomError
from starlette.responses import JSONResponse

from churnml.api import ENV_CONFIG, ENV_SERVER_DIR, ENV_SERVER_PID, FAILURE_FILE, ScoringService, ServiceSettings, server_options
from churnml.config import load_config
from churnml.errors import ChurnmlError
from churnml.schema import REASON_TOPICS, SEGMENTS
from churnml.segments import LIFECYCLE_STAGES, RISK_TIERS, VALUE_TIERS
from churnml.targeting import MAX_HOLDOUT

from examples import EXAMPLE_HISTORY, EXAMPLE_INPUT, EXAMPLE_RETENTION
from guard import RequestGuard, bound_metrics_endpoints

logger = logging.getLogger("churnml.serving")
logger.setLevel(logging.INFO)  # the start-up line: which models and snapshot this server answers with

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")  # with Unicode line breaks and bidi overrides


def _escaped(text: str) -> str:
    return _CONTROL.sub(lambda m: repr(m.group())[1:-1], text)


class _EscapeControlCharacters(logging.Filter):
    """The access log writes the decoded request path: ``/x%0A... [ERROR] ...`` added a forged log
    line, without a key. Control characters in the log's arguments are written escaped, and so are
    those in a logged traceback's exception messages, which may quote a request's header, path or
    posted value (the traceback's own line breaks stay)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(_escaped(a) if isinstance(a, str) else a for a in record.args)
        if record.exc_info and record.exc_info[1] is not None and not record.exc_text:
            record.exc_text = _escaped_traceback(record.exc_info)  # the formatter writes it as it is
        return True


def _escaped_traceback(exc_info: Any) -> str:
    """The traceback as ``logging`` writes it (chained exceptions first, no final line break), with
    control characters in each exception's message and notes escaped; the frames are the code's."""
    parts: list[str] = []

    def add(exception: traceback.TracebackException, seen: set[int]) -> None:
        seen.add(id(exception))
        if exception.__cause__ is not None and id(exception.__cause__) not in seen:
            add(exception.__cause__, seen)
            parts.append("\nThe above exception was the direct cause of the following exception:\n\n")
        elif (exception.__context__ is not None and not exception.__suppress_context__
              and id(exception.__context__) not in seen):
            add(exception.__context__, seen)
            parts.append("\nDuring handling of the above exception, another exception occurred:\n\n")
        if exception.stack:
            parts.append("Traceback (most recent call last):\n")
            parts.extend(exception.stack.format())
        parts.extend(_escaped(line.removesuffix("\n")) + "\n" for line in exception.format_exception_only())
        for inner in getattr(exception, "exceptions", None) or ():  # an exception group's own exceptions
            add(inner, seen)

    add(traceback.TracebackException(*exc_info), set())
    return "".join(parts).removesuffix("\n")


_ESCAPE_CONTROL_CHARACTERS = _EscapeControlCharacters()
logging.getLogger("bentoml.access").addFilter(_ESCAPE_CONTROL_CHARACTERS)
# The server's log handler (BentoML configures it before it imports this file): every logger's lines,
# uvicorn's and BentoML's tracebacks of failed requests included.
for _handler in {*logging.getLogger().handlers, *logging.getLogger("bentoml").handlers}:
    _handler.addFilter(_ESCAPE_CONTROL_CHARACTERS)
# BentoML reads pydantic's deprecated `model_fields` on instances; the warning is not the caller's.
warnings.filterwarnings("ignore", message=".*model_fields.*", category=DeprecationWarning)

_STRICT = ConfigDict(extra="forbid", hide_input_in_errors=True, allow_inf_nan=False)
# Answers carry every field, null or [] when there is nothing, and their schema says so: by default pydantic
# (and BentoML, which writes the components in validation mode) marks each field with a default optional,
# so a client generated from the schema had `reasons`, `warnings` and 41 others as optional.
_ANSWER = ConfigDict(json_schema_mode_override="serialization", json_schema_serialization_defaults_required=True)


def _not_blank(customer_id: str) -> str:
    """Ids are trimmed to look them up, so one of spaces only was looked up as "" and answered
    ``not_found`` (left out of ``exclude`` without a word): a caller's bug, refused with the others."""
    if not customer_id.strip():
        raise PydanticCustomError("blank_id", "Customer ids must not be blank (only spaces): send the id, or leave the item out")
    return customer_id


CustomerId = Annotated[str, StringConstraints(min_length=1, max_length=200), AfterValidator(_not_blank),
                       Field(json_schema_extra={"pattern": r"\S"})]
# A JSON number beyond a double's range (1e400) reads as infinity: in a customer attribute it is blanked and the
# customer kept, with a warning, as validation keeps an infinite or NaN attribute in batch data (it was a 400,
# "Input should be text, a number or true/false", for a number). So are NaN and Infinity, which the JSON reader
# takes. Amounts stay finite (_STRICT, _ROW).
Attribute = Union[str, Annotated[float, AllowInfNan(True)], bool, None]
# Dates travel as ISO 8601 text and churnml.api parses them, with messages that name the field.
# Typed as date/datetime, pydantic would read a number, or text such as "20250707", as seconds
# since 1970 and score a 1970 purchase without a word.
# A timestamp field takes a date alone (2025-12-01) or a date and time with or without an offset
# (2025-12-01T14:05:00): no OpenAPI format says that ("date-time" is RFC 3339's, with its offset,
# and a generated client refused the plain dates of the examples), so the schema names none.
Date = Annotated[str, Field(json_schema_extra={"format": "date"})]
Timestamp = str
# Numbers must be JSON numbers: true or "1" is a caller's bug, not an amount of 1.
Number = Annotated[float, Strict()]
# A satisfaction score, a number (not "4" or true) that may read as infinity (1e400) or be NaN: blanked and its
# event kept with a warning, as validation keeps an infinite or NaN score in batch data, and as an attribute's
# (it was a 400 saying "NaN and Infinity are no JSON numbers", for 1e400).
Score = Annotated[float, Strict(), AllowInfNan(True)]
Count = Annotated[int, Strict()]

CONFIG = load_config(os.environ.get(ENV_CONFIG) or None)
"""The config the server is started with (``churnml serve --config``), read once when BentoML imports this
file, as the service reads it when it starts: the request models below state its limits, so /docs.json gives
a generated client the same maxItems, minimum and maximum the guard enforces (it validates against them)."""
MAX_ITEMS = CONFIG.serving.max_customer_ids
SATISFACTION_LOW, SATISFACTION_HIGH = CONFIG.input.satisfaction_scale


def _one_of(values: Any) -> Any:
    """A schema-only ``enum``: the answers' fixed vocabularies, so a generated client gets enums."""
    return Field(json_schema_extra={"enum": list(values)})


RiskTier = Annotated[str, _one_of(RISK_TIERS)]
ValueTier = Annotated[str, _one_of(VALUE_TIERS)]
SegmentKey = Annotated[str, _one_of(SEGMENTS)]
LifecycleStage = Annotated[str, _one_of(LIFECYCLE_STAGES)]
ReasonTopic = Annotated[str, _one_of(REASON_TOPICS)]
Grade = Annotated[str, _one_of(("A", "B", "C"))]


# -- requests ---------------------------------------------------------------------------------


class ScoreRequest(bentoml.IODescriptor):
    """Customers to look up in the latest scores, as of the snapshot loaded (GET /model's scores_as_of): no as_of
    here; POST /score_history scores customers as of a date you give."""

    model_config = ConfigDict(**_STRICT, json_schema_extra={"example": EXAMPLE_INPUT})
    customer_ids: list[CustomerId] = Field(
        min_length=1, max_length=MAX_ITEMS,
        description="Customer ids, 1 up to the configured limit ([serving] max_customer_ids, default 1,000).",
        json_schema_extra={"example": EXAMPLE_INPUT["customer_ids"]},
    )


class CustomerRecord(BaseModel):
    """A row of the `customers` table. Other keys are customer attributes (plan, region …)."""

    model_config = ConfigDict(extra="allow", hide_input_in_errors=True, allow_inf_nan=False,
                              json_schema_extra={"example": EXAMPLE_HISTORY["customers"][0]})
    __pydantic_extra__: dict[str, Attribute] = Field(init=False)
    customer_id: CustomerId = Field(description="Unique customer id.", json_schema_extra={"example": "C0000001"})
    signup_date: Optional[Timestamp] = Field(default=None, description=(
        "Sign-up date, or date and time (ISO 8601: 2024-03-14 or 2024-03-14T09:30:00; offsets are converted to UTC). "
        "One before 1900 or after today (a CRM's 2999-12-31 for unknown) is left out and the customer kept, as "
        "validation keeps it, with a warning; null = not known."),
                                            json_schema_extra={"example": "2024-03-14"})


# A posted row may carry fields churnml does not read (an export's currency, store_id, ticket_no), as validation reads only
# the contract's columns of a file: the customer's warnings name them. They were a 400 for the whole request.
_ROW = ConfigDict(extra="allow", hide_input_in_errors=True, allow_inf_nan=False)


class TransactionRow(BaseModel):
    """A row of the `transactions` table. Other fields (an export's currency, store_id) are not read, as
    validation does not read such columns of a file: the customer's warnings name them."""

    model_config = _ROW
    customer_id: CustomerId = Field(description="Id of a customer posted in `customers`.", json_schema_extra={"example": "C0000001"})
    timestamp: Timestamp = Field(description=("When it happened: a date and time, or a date (ISO 8601: 2025-10-20T16:40:00 or "
                                "2025-10-20; offsets are converted to UTC)."),
                                json_schema_extra={"example": "2025-10-20T16:40:00"})
    amount: Number = Field(description="Revenue of the transaction; negative for a refund.", json_schema_extra={"example": 30.0})
    transaction_id: Optional[str] = Field(default=None, description="Unique id, if any.", json_schema_extra={"example": "T0001"})
    quantity: Optional[Number] = Field(default=None, description="Units, if known.", json_schema_extra={"example": 1.0})
    category: Optional[str] = Field(default=None, description=(
        "Product category. Where the models count categories, a customer none of whose transactions carries it gets a "
        "warning (the count reads 0)."), json_schema_extra={"example": "equities"})
    channel: Optional[str] = Field(default=None, description=(
        "Sales channel. Where the models count channels, a customer none of whose transactions carries it gets a "
        "warning (the count reads 0)."), json_schema_extra={"example": "web"})


class ServiceEventRow(BaseModel):
    """A row of the `service_events` table. Other fields (a helpdesk's ticket_no, agent) are not read, as
    validation does not read such columns of a file: the customer's warnings name them."""

    model_config = _ROW
    customer_id: CustomerId = Field(description="Id of a customer posted in `customers`.", json_schema_extra={"example": "C0000001"})
    timestamp: Timestamp = Field(description="When it was opened: a date and time, or a date (ISO 8601).", json_schema_extra={"example": "2025-11-28T09:00:00"})
    event_type: str = Field(min_length=1, description="complaint, ticket, call, survey, account_manager_change …",
                            json_schema_extra={"example": "complaint"})
    resolved_at: Optional[Timestamp] = Field(default=None, description=(
        "When it was resolved (ISO 8601, as timestamp); null = still open. One after today (a helpdesk's 2999-12-31 for "
        "never) counts as still open, as validation reads it in batch data, and the customer's warnings name it. The "
        "models read it: a customer none of whose events carries the field gets a warning (every complaint counts as "
        "unresolved)."),
                                            json_schema_extra={"example": None})
    # No minimum or maximum: a score off the scale is blanked and its event kept, as validation keeps it in batch
    # data (a helpdesk's 0 for "not rated" was a 400 for the whole request); a generated client would refuse it.
    satisfaction: Optional[Score] = Field(default=None, description=(
        f"Survey score on the server's [input] satisfaction_scale, {SATISFACTION_LOW:g}-{SATISFACTION_HIGH:g}; null = not "
        "answered. A score off the scale (a helpdesk's 0 for \"not rated\"), NaN or infinite (1e400) is blanked and the "
        "event kept, as validation keeps it in batch data, and the customer's warnings name it. The models read it: a "
        "customer none of whose surveys carries the field gets a warning (counts as never rated)."),
                                                json_schema_extra={"example": None})
    channel: Optional[str] = Field(default=None, description="Service channel.", json_schema_extra={"example": "phone"})


class ChurnEventRow(BaseModel):
    """A row of the `churn_events` table: an account's explicit end. Other fields (a CRM's `type`,
    `reason`) are not read, as validation does not read such columns of a file: the customer's
    result warns that every churn event counts as churn, whatever they say."""

    model_config = _ROW
    customer_id: CustomerId = Field(description="Id of a customer posted in `customers`.", json_schema_extra={"example": "C0000001"})
    timestamp: Timestamp = Field(description="When the account closed, was cancelled or transferred out: a date, or a date and time (ISO 8601).",
                                 json_schema_extra={"example": "2025-11-15T00:00:00"})


class ScoreHistoryRequest(bentoml.IODescriptor):
    """Customers' own history, in the data contract's shape, and the date to score them at."""

    model_config = ConfigDict(**_STRICT, json_schema_extra={"example": EXAMPLE_HISTORY})
    as_of: Date = Field(description=(
        "As-of date (YYYY-MM-DD): features see only events before it. Not in the future, nor before the models' first "
        "training cutoff (a 400 names it)."),
                        json_schema_extra={"example": EXAMPLE_HISTORY["as_of"]})
    customers: list[CustomerRecord] = Field(min_length=1, max_length=MAX_ITEMS, description=(
        "Customer records, 1 up to the configured limit ([serving] max_customer_ids, default 1,000)."),
                                          json_schema_extra={"example": EXAMPLE_HISTORY["customers"]})
    transactions: Optional[list[TransactionRow]] = Field(default=None, description=(
        "Their transactions; [] when they bought nothing. Left out (or null), each result warns: the customers are "
        "scored as having bought nothing."), json_schema_extra={"example": EXAMPLE_HISTORY["transactions"]})
    service_events: Optional[list[ServiceEventRow]] = Field(default=None, description=(
        "Their service events; [] when they had none. Left out (or null), where the models read service history, "
        "each result warns: the customers are scored as never having contacted you."),
        json_schema_extra={"example": EXAMPLE_HISTORY["service_events"]})
    churn_events: Optional[list[ChurnEventRow]] = Field(default=None, description=(
        "Account closures; [] when none closed. A customer who closed before as_of is not in the population "
        "(`not_found`), as in batch scoring. Without them a closed account is scored as a live one: left out "
        "altogether, where the models count closures as churn, every result warns. Fields other than customer_id and "
        "timestamp (type, reason) are not read: every posted churn event counts as churn, and the result warns."),
        json_schema_extra={"example": []})


class RetentionListRequest(bentoml.IODescriptor):
    """The options of `churnml retention-list`."""

    model_config = ConfigDict(**_STRICT, json_schema_extra={"example": EXAMPLE_RETENTION})
    budget: Optional[Annotated[Number, Field(ge=0)]] = Field(default=None, description="Total contact cost allowed.", json_schema_extra={"example": 500.0})
    max_customers: Optional[Annotated[Count, Field(ge=1, le=MAX_ITEMS)]] = Field(default=None, description=(
        "At most this many customers (API limit: [serving] max_customer_ids; `churnml retention-list` for longer lists)."),
                                         json_schema_extra={"example": 100})
    contact_cost: Optional[Annotated[Number, Field(ge=0)]] = Field(default=None, description="Cost of one contact [config: 5].", json_schema_extra={"example": 5.0})
    success_rate: Optional[Annotated[Number, Field(gt=0, le=1)]] = Field(default=None, description="Share of contacted at-risk customers kept, in (0, 1] [config: 0.3].",
                                          json_schema_extra={"example": 0.3})
    segments: Optional[list[SegmentKey]] = Field(default=None, min_length=1, description=(
        "Only these segments, at least one, by key (a display name, in any case, is taken too): leave the field out (or null) for every segment "
        "but [targeting] skip_segments."),
                                          json_schema_extra={"example": ["high_value_at_risk"]})
    min_value: Optional[Number] = Field(default=None, description="Only customers with at least this value at risk (the expected loss, churn_probability x value if retained).", json_schema_extra={"example": 50.0})
    holdout: Optional[Annotated[Number, Field(ge=0, le=MAX_HOLDOUT)]] = Field(default=None, description=(
        f"Share of the list marked as a control group, not to be contacted, in [0, {MAX_HOLDOUT:g}], as `--holdout` of `churnml "
        "retention-list` [config: [targeting] holdout, 0]: `churnml evaluate` compares its churn with the contacted."),
        json_schema_extra={"example": 0.1})
    exclude: Optional[list[CustomerId]] = Field(default=None, description=(
        "Customer ids never to list (do not contact, opted out, contacted last month), as `--exclude` of "
        "`churnml retention-list`: an id written another way (leading zeros, case, spaces) still matches; the summary "
        "counts them (excluded, excluded_loosely, exclude_unmatched)."), json_schema_extra={"example": ["C0000002"]})
    attributes: Optional[list[str]] = Field(default=None, description=(
        "Columns of the customers table each row carries in its `attributes`, to route contacts by (region, plan), as "
        "`--attribute` of `churnml retention-list`: their values as of the scores' date, from the snapshot the server "
        "loaded; a name it does not hold is an error naming those it does [config: [targeting] attributes; [] for none]."),
        json_schema_extra={"example": ["region"]})


# -- responses --------------------------------------------------------------------------------


SEGMENT_TEXT = (f"Value x risk segment key: {', '.join(SEGMENTS)} (new_customer and low_value_active: the new, and "
                "the growing or stable, customers of little value and low or medium risk; dormant keeps the declining "
                "and lapsed ones).")


class CustomerScore(BaseModel):
    """One customer's scores, or why there are none."""

    model_config = _ANSWER
    customer_id: str = Field(description="The id as sent (ids are trimmed of surrounding spaces to look them up).",
                             json_schema_extra={"example": "C0000001"})
    status: Literal["ok", "not_found"] = Field(description="`not_found`: not in the scored population.", json_schema_extra={"example": "ok"})
    detail: Optional[str] = Field(default=None, description="Why not found.", json_schema_extra={"example": None})
    as_of: str = Field(description="As-of date of the scores.", json_schema_extra={"example": "2025-12-01"})
    churn_probability: Optional[float] = Field(default=None, description="Calibrated probability of churning within the horizon.", json_schema_extra={"example": 0.42})
    predicted_value: Optional[float] = Field(default=None, description="Expected value over the horizon.", json_schema_extra={"example": 120.5})
    value_at_risk: Optional[float] = Field(default=None, description=(
        "Expected loss over the horizon: churn_probability x the value if retained (predicted_value + value_at_risk); "
        "not the whole value lost should the customer churn."), json_schema_extra={"example": 87.2})
    risk_tier: Optional[RiskTier] = Field(default=None, description="low / medium / high: below 1.5 times the base rate, from 1.5 times, from 3 times (configurable).", json_schema_extra={"example": "medium"})
    value_tier: Optional[ValueTier] = Field(default=None, description="low / medium / high (80/20 over the population's value if retained).", json_schema_extra={"example": "high"})
    segment: Optional[SegmentKey] = Field(default=None, description=SEGMENT_TEXT, json_schema_extra={"example": "high_value_at_risk"})
    segment_name: Optional[str] = Field(default=None, description="Segment display name.", json_schema_extra={"example": "High-value at risk"})
    lifecycle_stage: Optional[LifecycleStage] = Field(default=None, description="new / growing / stable / declining / lapsed (no purchase in 180 days, nor in two of the customer's usual gaps between purchases where longer).", json_schema_extra={"example": "declining"})
    reasons: list[str] = Field(default_factory=list, description="Top drivers of the churn risk, in words.",
                               json_schema_extra={"example": ["1 unresolved complaint", "no purchase for 74 days (usually every 20)"]})
    reason_topics: list[ReasonTopic] = Field(default_factory=list, description=(
        f"What each reason is about, in the order of `reasons`: {', '.join(REASON_TOPICS)}. A retention list's "
        "talking_point comes from them."),
        json_schema_extra={"example": ["service", "buying_less"]})
    churn_model_version: Optional[str] = Field(default=None, description=(
        "Registry version of the churn model that scored the customer; null for a not_found item, as every score "
        "field (no model scored it: GET /model names the loaded ones)."), json_schema_extra={"example": "3"})
    value_model_version: Optional[str] = Field(default=None, description=(
        "Registry version of the value model that scored the customer; null for a not_found item."),
        json_schema_extra={"example": "3"})
    current_value: Optional[float] = Field(default=None, description="Net revenue over the last 365 days.", json_schema_extra={"example": 310.0})
    warnings: list[str] = Field(default_factory=list, description=(
        "/score_history only: posted customer attributes the models do not use (a typo?), and attributes they use "
        "that were not posted (scored as unknown, which changes the score); numeric attributes posted as a placeholder "
        "such as \"N/A\" or \"-\" (blanked and scored as unknown, as validation blanks them); event types counted as other; "
        "satisfaction scores off [input] satisfaction_scale (blanked, the event kept, as validation keeps it); a "
        "signup_date before 1900 or after today (left out, the customer kept); a resolved_at after today (the event kept "
        "as still open); "
        "resolved_at or satisfaction missing from all of a customer's service events or surveys (every complaint then "
        "counts as unresolved, the customer as never rated); transactions and service events on or after as_of, which "
        "are not counted; a churn event on or after as_of (the account is scored as open); fields of posted transactions, "
        "service events and churn events that are not read. GET /model lists the attributes."),
        json_schema_extra={"example": []})


class ScoreResponse(bentoml.IODescriptor):
    """One item per requested customer, in request order."""

    model_config = _ANSWER
    results: list[CustomerScore] = Field(description="Scores per customer.")


class RetentionRow(BaseModel):
    model_config = _ANSWER
    rank: int = Field(description="1 = best expected benefit.", json_schema_extra={"example": 1})
    customer_id: str = Field(json_schema_extra={"example": "C0000001"})
    segment: SegmentKey = Field(description=SEGMENT_TEXT, json_schema_extra={"example": "high_value_at_risk"})
    segment_name: str = Field(json_schema_extra={"example": "High-value at risk"})
    risk_tier: RiskTier = Field(json_schema_extra={"example": "high"})
    lifecycle_stage: LifecycleStage = Field(json_schema_extra={"example": "declining"})
    churn_probability: float = Field(json_schema_extra={"example": 0.61})
    value_if_retained: float = Field(description="Value over the horizon if the customer stays.", json_schema_extra={"example": 359.0})
    predicted_value: float = Field(description="Expected value over the horizon: value_if_retained x (1 - churn_probability).",
                                   json_schema_extra={"example": 140.0})
    value_at_risk: float = Field(description="Expected loss over the horizon: churn_probability x value_if_retained.",
                                 json_schema_extra={"example": 219.0})
    contact_cost: float = Field(description="Cost of contacting this customer (its segment's, [targeting] contact_costs).",
                                json_schema_extra={"example": 5.0})
    expected_benefit: float = Field(description="value_at_risk x success_rate - contact_cost.", json_schema_extra={"example": 60.7})
    reasons: list[str] = Field(json_schema_extra={"example": ["2 unresolved complaints"]})
    suggested_action: str = Field(description="The segment's action ([segments.actions]).",
                                  json_schema_extra={"example": "Retain now: personal call from the account manager with a tailored offer"})
    talking_point: str = Field(default="", description=(
        "What to open the contact with, from what the customer's strongest reason is about (reason_topics; "
        "[segments.talking_points]): empty without reasons, for the control group, and where no reason's topic has one."),
        json_schema_extra={"example": "Lead with the service issue: apologise and resolve what is still open before any offer"})
    group: Optional[Literal["contact", "control"]] = Field(default=None, description="contact, or control (not to be contacted): only with [targeting] holdout.")
    attributes: Optional[dict[str, Union[str, int, float, bool, None]]] = Field(default=None, description=(
        "The customers columns the request's `attributes` (or [targeting] attributes) named, by their name in the "
        "customers table (its own `segment` too: it is not the row's segment), with the customer's values as of the "
        "scores' date; null for a value the table did not have. Only when columns were asked for."),
        json_schema_extra={"example": {"region": "west"}})


class SegmentSummary(BaseModel):
    model_config = _ANSWER
    segment: SegmentKey
    name: str
    customers: int
    total_cost: float
    expected_value_saved: float
    expected_net_benefit: float
    suggested_action: str


class TalkingPointCount(BaseModel):
    model_config = _ANSWER
    talking_point: str = Field(description="A talking point of the list (a row's talking_point).",
                               json_schema_extra={"example": "Lead with the service issue: apologise and resolve what is still open before any offer"})
    customers: int = Field(description="Contacts of the list that open with it (the control group left out).", json_schema_extra={"example": 12})


class RetentionSummary(BaseModel):
    model_config = _ANSWER
    budget: Optional[float] = Field(default=None, description="The budget asked for; null: none.")
    max_customers: Optional[int] = Field(default=None, description="The maximum count applied: the one asked for, else the API's limit.")
    segments: list[SegmentKey] = Field(default_factory=list, description="The segments asked for (keys); empty: all but skip_segments.")
    min_value: Optional[float] = Field(default=None, description="The minimum value at risk asked for; null: none.")
    scored: int = Field(description="Customers considered: the scored ones left after the segment, exclusion and minimum-value filters.")
    candidates: int = Field(description="Of those, customers with an expected benefit that rounds to at least 0.01.")
    selected: int = Field(description="Customers on the list, the control group included.")
    contacts: int = Field(default=0, description="Customers of the list to contact: selected less the control group.")
    holdout: float = Field(default=0.0, description="Share of the list asked for as a control group ([targeting] holdout).")
    control: int = Field(default=0, description="Customers of the list in the control group (not counted in the costs and the value saved).")
    limited_by: Literal["budget", "max_customers", "none"] = Field(description="budget, max_customers or none.")
    contact_cost: float = Field(description="Cost of one contact, for segments without their own.")
    contact_costs: dict[str, float] = Field(default_factory=dict, description="Cost of one contact per segment key.")
    success_rate: float
    total_cost: float
    value_at_risk: float = Field(default=0.0, description=(
        "Sum of value_at_risk over the contacted customers: what they take with them if nobody calls (the value "
        "saved is success_rate of it), as `churnml retention-list` shows it."))
    expected_value_saved: float
    expected_net_benefit: float
    roi: Optional[float] = Field(description="Net benefit / cost; null when nothing is spent.")
    excluded: int = Field(default=0, description="Scored customers left out because `exclude` names them.")
    excluded_loosely: int = Field(default=0, description="Of those, customers whose id matched only when leading zeros, case and spaces are ignored.")
    exclude_unmatched: int = Field(default=0, description="Ids of `exclude` that match no scored customer.")
    skipped: dict[str, int] = Field(default_factory=dict, description=(
        "Customers left out by [targeting] skip_segments, per segment key (by default loyal_high_value, whose "
        "suggested action is no retention contact); empty when `segments` names the segments."), json_schema_extra={"example": {"loyal_high_value": 1564}})
    by_segment: list[SegmentSummary]
    by_talking_point: list[TalkingPointCount] = Field(default_factory=list, description=(
        "Contacts per talking point, most first, as the .json summary of `churnml retention-list` counts them (the "
        "control group, which nobody contacts, left out)."))
    without_talking_point: int = Field(default=0, description=(
        "Contacts without a talking point (an empty talking_point: no reasons, or no reason whose topic has one; the "
        "control group left out)."))


class RetentionListResponse(bentoml.IODescriptor):
    model_config = _ANSWER
    as_of: str = Field(description="As-of date of the scores the list is built from.", json_schema_extra={"example": "2025-12-01"})
    churn_model_version: str = Field(description="Registry version of the churn model the scores come from.", json_schema_extra={"example": "3"})
    value_model_version: str = Field(description="Registry version of the value model the scores come from.", json_schema_extra={"example": "3"})
    summary: RetentionSummary
    customers: list[RetentionRow]
    warnings: list[str] = Field(default_factory=list, description=(
        "As `churnml retention-list` says them (its Warning: lines): `exclude` ids that matched a customer only "
        "loosely, or that all matched nobody; a control group (`holdout`) too small for `churnml evaluate` to tell "
        "the effect the list assumes from chance, naming the holdout that would; contacts who have not bought for "
        "180 days where the models count churn as inactivity; why the list holds no contact (a budget below the "
        "cheapest contact, its cost named; nobody paying off; filters that leave nobody), and where [targeting] "
        "contact_costs or skip_segments name dormant but not new_customer or low_value_active, split from it, "
        "whose customers this list shows, or segments names dormant but not them and some of their customers "
        "would pay off; empty otherwise."),
        json_schema_extra={"example": []})
    notes: list[str] = Field(default_factory=list, description=(
        "As `churnml retention-list` says them (its Note: lines), to read the figures by: that expected value "
        "saved (and so net benefit and ROI) counts a churner's whole horizon as lost, though churners bring part "
        "of it in before they leave (not where the models count churn as inactivity); `exclude` ids some of "
        "which match no scored customer; empty otherwise."),
        json_schema_extra={"example": ["Value saved counts a churner's whole 90 days of value if retained as lost "
                                       "(value at risk), but churners bring part of it in before they close the "
                                       "account: ..."]})


class ModelVersion(BaseModel):
    model_config = _ANSWER
    name: str = Field(json_schema_extra={"example": "churnml-churn"})
    version: str = Field(json_schema_extra={"example": "3"})
    aliases: list[str] = Field(description="Aliases this version carries in the registry now.", json_schema_extra={"example": ["champion"]})
    run_id: Optional[str] = Field(default=None, description="MLflow training run of this model.")
    trained_as_of: Optional[str] = Field(default=None, description="As-of date of this model's training data.",
                                         json_schema_extra={"example": "2025-09-01"})
    grade: Optional[Grade] = Field(default=None, description="This model's grade (A/B/C) in its own run.",
                                 json_schema_extra={"example": "A"})


class ModelInfo(BaseModel):
    """The models the service answers with."""

    model_config = _ANSWER
    alias: str = Field(description="Alias the models were loaded by.", json_schema_extra={"example": "champion"})
    churn_model: ModelVersion
    value_model: ModelVersion
    same_run: bool = Field(default=True, description=(
        "Whether both models come from one training run; false after `churnml promote` of one of them (see warnings)."),
        json_schema_extra={"example": True})
    run_id: str = Field(description="MLflow training run of the churn model (value_model.run_id: the value model's).")
    trained_as_of: Optional[str] = Field(description="As-of date of the churn model's training data.", json_schema_extra={"example": "2025-09-01"})
    horizon_days: Optional[int] = Field(description="Prediction horizon.", json_schema_extra={"example": 90})
    grade: Optional[Grade] = Field(description="A/B/C against the baselines: the worse of the two models' grades.", json_schema_extra={"example": "A"})
    grades: dict[str, str] = Field(description="Grade per model (each from its own run) and overall.")
    test_metrics: dict[str, dict[str, Optional[float]]] = Field(description=(
        "Key metrics on the test cutoff, each model's from its own run, as `churnml train` prints them: the value "
        "model's normalized_gini is the expected value's over every test customer, which the grade compares, not the "
        "value if retained's over the customers who stayed, which `churnml models` lists and the promotion gate compares."))
    scores_as_of: str = Field(description="As-of date of the loaded snapshot.", json_schema_extra={"example": "2025-12-01"})
    customers: int = Field(description="Customers in the loaded snapshot.", json_schema_extra={"example": 20000})
    attributes: dict[str, str] = Field(default_factory=dict, description=(
        "Customer attributes the models use -> numeric or categorical: the keys /score_history reads from each "
        "customer record."), json_schema_extra={"example": {"region": "categorical", "product_tier": "categorical"}})
    model_age_days: Optional[int] = Field(default=None, description=(
        "Days from the models' training as-of date (the older model's) to today."), json_schema_extra={"example": 45})
    max_model_age_days: int = Field(default=120, description="[monitoring] max_model_age_days: older models get a warning.",
                                    json_schema_extra={"example": 120})
    scores_age_days: int = Field(default=0, description=(
        "Days from scores_as_of to today; past the horizon the scores predict a window that has ended (a warning)."),
        json_schema_extra={"example": 3})
    warnings: list[str] = Field(default_factory=list, description=(
        "What to know about the loaded models: champions from different training runs, models older than "
        "max_model_age_days, scores older than the horizon (also in the server's start-up log); since the server "
        "started, its alias moved to other versions by a promotion (it still answers with the loaded ones: restart "
        "it) or a newer snapshot written."),
        json_schema_extra={"example": []})


# -- the service ------------------------------------------------------------------------------

app = FastAPI(title="churnml", docs_url=None, redoc_url=None, openapi_url=None)

ROUTE_MODELS = {"/score": ScoreRequest, "/score_history": ScoreHistoryRequest, "/retention_list": RetentionListRequest}
"""Request model per POST route; :class:`guard.RequestGuard` validates bodies against them."""


def _stop_server(message: str, exit_code: int) -> None:
    """Stop the whole server, not just this worker: BentoML restarts a worker that fails to
    start, forever, while the port accepts connections and answers nothing. ``churnml serve``
    checks the models and the snapshot first (:func:`churnml.api.check_startup`); this covers
    what changes between that check and the worker's start. The error goes to the server's
    folder, where ``churnml serve`` reads it to print it and exit with its code, not 0."""
    folder = os.environ.get(ENV_SERVER_DIR, "")
    if folder:
        with open(os.path.join(folder, FAILURE_FILE), "w", encoding="utf-8") as out:
            out.write(f"{exit_code}\n{message}")
    pid = os.environ.get(ENV_SERVER_PID, "")
    if pid.isdigit():
        os.kill(int(pid), signal.SIGTERM)


def _error(exc: ChurnmlError) -> JSONResponse:
    return JSONResponse({"error": exc.message}, status_code=exc.http_status)


@bentoml.service(
    name="churnml",
    workers=1,
    endpoints={"livez": "/livez", "readyz": "/readyz"},
    # Access log, tracing and the request timeout follow [serving] of the config the server is started with.
    **server_options(CONFIG.serving),
)
@bentoml.asgi_app(app, path="/")
class ChurnService:
    """Churn probability, customer value, segments and reasons over HTTP.

    Auth: `Authorization: Bearer <CHURNML_API_KEY>` on every endpoint except /livez, /readyz,
    /healthz and this page.
    """

    def __init__(self) -> None:
        # Errors here stop the server with the message (no registered model / no snapshot / no key).
        try:
            self.settings = ServiceSettings.from_env()
            self.scoring = ScoringService.load(self.settings)
        except ChurnmlError as exc:
            logger.error("churnml API cannot start: %s", exc.message)
            _stop_server(exc.message, exc.exit_code)
            raise
        except Exception as exc:  # a bug, not a user mistake: the traceback once, then stop (not restart forever)
            logger.exception("churnml API cannot start")
            _stop_server(f"the API worker failed to start: {type(exc).__name__}: {exc} (traceback in the log above)", 1)
            raise
        logger.info("churnml API ready: %s customers as of %s, models %s/%s (%s)", len(self.scoring.scores),
                    self.scoring.as_of.date(), self.scoring.models.churn_version, self.scoring.models.value_version,
                    self.settings.alias)
        for warning in self.scoring.model_warnings():
            logger.warning("churnml API: %s", warning)

    @bentoml.api(route="/score", input_spec=ScoreRequest, output_spec=ScoreResponse)
    async def score(self, customer_ids: list[str]) -> ScoreResponse:
        """Scores of customers in the latest snapshot; unknown ids get a `not_found` item."""
        try:
            return ScoreResponse(results=self.scoring.score(customer_ids))
        except ChurnmlError as exc:
            return _error(exc)

    @bentoml.api(route="/score_history", input_spec=ScoreHistoryRequest, output_spec=ScoreResponse)
    def score_history(self, as_of: str, customers: list[Any], transactions: Optional[list[Any]],
                      service_events: Optional[list[Any]], churn_events: Optional[list[Any]]) -> ScoreResponse:
        """Score customers from their own posted history, with the batch feature and scoring code.

        Value tiers and segments use the value cut points of the loaded snapshot's population;
        customers whose account closed before `as_of` (posted `churn_events`) get `not_found`.
        """
        try:
            return ScoreResponse(results=self.scoring.score_history(customers, transactions, service_events, as_of,
                                                                    churn_events))
        except ChurnmlError as exc:
            return _error(exc)

    @bentoml.api(route="/retention_list", input_spec=RetentionListRequest, output_spec=RetentionListResponse)
    def retention_list(self, **options: Any) -> RetentionListResponse:
        """Who to contact first, within a budget, from the latest scores (as `churnml retention-list`)."""
        try:
            return RetentionListResponse(**self.scoring.retention_list(**options))
        except ChurnmlError as exc:
            return _error(exc)

    @app.get("/model", response_model=ModelInfo)
    def model(self) -> ModelInfo:
        """Versions, aliases, training as-of date, key test metrics and grade of the loaded models."""
        return ModelInfo(**self.scoring.model_info())


ChurnService.add_asgi_middleware(RequestGuard, routes=ROUTE_MODELS)
# /metrics: one label for the paths nobody serves, not one per path; and BentoML's own answers (its 504) get
# the guard's security headers
bound_metrics_endpoints(ROUTE_MODELS)
