"""The data contract: which tables exist, which columns they need, and their canonical types."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class TableSpec:
    """One table of the contract.

    ``kinds`` maps each known column to ``id``, ``timestamp``, ``number`` or ``text``.
    ``checked_only`` are columns validation checks (and uses: ``transaction_id`` finds duplicates)
    but leaves out of the clean table, since nothing after validation reads them: at a million
    customers, ``transaction_id`` and ``quantity`` held 1.8 of the 4.2 GB of clean tables in memory.
    """

    name: str
    required: bool
    required_columns: tuple[str, ...]
    optional_columns: tuple[str, ...]
    kinds: dict[str, str]
    checked_only: tuple[str, ...] = ()

    @property
    def all_columns(self) -> tuple[str, ...]:
        return self.required_columns + self.optional_columns


MAX_ABS_NUMBER = 1e12
"""Amounts and quantities beyond a trillion in either direction are refused (set aside by
validation, a 400 from the API): no single transaction is that large in any currency, but a
misread field (an id or a timestamp read as an amount, a value in micro-units) is, and one such
row outweighs every other customer's spend."""

CUSTOMERS = TableSpec(
    name="customers",
    required=True,
    required_columns=("customer_id",),
    optional_columns=("signup_date",),
    kinds={"customer_id": "id", "signup_date": "timestamp"},
)
TRANSACTIONS = TableSpec(
    name="transactions",
    required=True,
    required_columns=("customer_id", "timestamp", "amount"),
    optional_columns=("transaction_id", "quantity", "category", "channel"),
    kinds={
        "customer_id": "id",
        "timestamp": "timestamp",
        "amount": "number",
        "transaction_id": "id",
        "quantity": "number",
        "category": "text",
        "channel": "text",
    },
    checked_only=("transaction_id", "quantity"),
)
SERVICE_EVENTS = TableSpec(
    name="service_events",
    required=False,
    required_columns=("customer_id", "timestamp", "event_type"),
    optional_columns=("resolved_at", "satisfaction", "channel"),
    kinds={
        "customer_id": "id",
        "timestamp": "timestamp",
        "event_type": "text",
        "resolved_at": "timestamp",
        "satisfaction": "number",
        "channel": "text",
    },
    checked_only=("channel",),
)
CHURN_EVENTS = TableSpec(
    name="churn_events",
    required=False,
    required_columns=("customer_id", "timestamp"),
    optional_columns=(),
    kinds={"customer_id": "id", "timestamp": "timestamp"},
)

TABLES: dict[str, TableSpec] = {t.name: t for t in (CUSTOMERS, TRANSACTIONS, SERVICE_EVENTS, CHURN_EVENTS)}
"""All contract tables by name, in dependency order (customers first)."""


EVENT_TYPES: dict[str, str] = {
    "complaint": "complaints",
    "ticket": "tickets",
    "call": "calls",
    "inquiry": "inquiries",
    "survey": "surveys",
}
"""Service event types counted on their own (``event_type`` -> feature stem). Fixed, not read from
the data, so training and scoring always see the same columns; anything else counts as ``other``."""
ACCOUNT_MANAGER_CHANGE = "account_manager_change"
"""``event_type`` of a service event recording that the customer's account manager changed."""
KNOWN_EVENT_TYPES: tuple[str, ...] = (*EVENT_TYPES, ACCOUNT_MANAGER_CHANGE)
"""Every ``event_type`` with features of its own; the rest count as ``other``."""

SEGMENTS: tuple[str, ...] = (
    "high_value_at_risk",
    "loyal_high_value",
    "potential",
    "new_customer",
    "low_value_active",
    "dormant",
    "fleeing_low_value",
)
"""Segment keys of the scores table, in the order reports list them (most urgent first);
:mod:`churnml.segments` assigns them."""

REASON_TOPICS: tuple[str, ...] = (
    "service",
    "account_manager",
    "buying_less",
    "refunds",
    "never_bought",
    "short_tenure",
    "attribute",
)
"""What a reason is about, by the feature that gives it (:func:`churnml.reasons.reason_topic`): the
scores' ``reason_topics``, and the keys of the talking points a retention list derives from them
(:data:`churnml.segments.DEFAULT_TALKING_POINTS`, ``[segments.talking_points]``)."""
