"""Example request bodies: one source for the OpenAPI page, the tests and the README's curl example.

The ids follow ``churnml generate`` (``C0000001`` …), so the examples work against the demo sample.
"""

from __future__ import annotations

EXAMPLE_INPUT: dict = {"customer_ids": ["C0000001", "C0000003"]}
"""Body of ``POST /score``."""

EXAMPLE_HISTORY: dict = {
    "as_of": "2025-12-01",
    "customers": [
        {"customer_id": "C0000001", "signup_date": "2024-03-14", "region": "west", "product_tier": "basic",
         "acquisition_channel": "referral", "age_band": "55-64"},
    ],
    "transactions": [
        {"customer_id": "C0000001", "timestamp": "2025-09-02T10:15:00", "amount": 12.5, "category": "etf", "channel": "app"},
        {"customer_id": "C0000001", "timestamp": "2025-10-20T16:40:00", "amount": 30.0, "category": "equities", "channel": "web"},
    ],
    "service_events": [
        {"customer_id": "C0000001", "timestamp": "2025-10-21T08:30:00", "event_type": "ticket",
         "resolved_at": "2025-10-21T15:00:00", "channel": "email"},
        {"customer_id": "C0000001", "timestamp": "2025-11-28T09:00:00", "event_type": "complaint", "resolved_at": None,
         "channel": "phone"},
    ],
    "churn_events": [],
}
"""Body of ``POST /score_history``: one customer who has just complained (still open: ``resolved_at`` null)
and whose account is open (``churn_events`` empty)."""

EXAMPLE_RETENTION: dict = {"budget": 500.0, "contact_cost": 5.0, "success_rate": 0.3, "segments": ["high_value_at_risk"]}
"""Body of ``POST /retention_list``."""
