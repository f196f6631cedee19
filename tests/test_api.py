"""The HTTP API in-process, through BentoML's ASGI app (``ChurnService.to_asgi()`` + TestClient).

The service loads the champion models of :func:`served_store` by alias and the snapshot that
`churnml score` wrote, so every comparison below is against a real batch run.
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import pandas as pd
import pytest
from starlette.testclient import TestClient
from typer.testing import CliRunner

from churnml import api, io, tracking, validate
from churnml.cli import get_app
from churnml.config import Config, config_from_dict
from churnml.errors import ConfigError, DataError
from churnml.features import build_features
from churnml.schema import SEGMENTS
from churnml.targeting import retention_list

pytestmark = pytest.mark.slow

SERVING = Path(__file__).resolve().parents[1] / "serving"
KEY = "test-key-3b1f"
AUTH = {"Authorization": f"Bearer {KEY}"}
SCORE_FIELDS = ("churn_probability", "predicted_value", "value_at_risk", "current_value")
TEXT_FIELDS = ("risk_tier", "value_tier", "segment", "lifecycle_stage", "churn_model_version", "value_model_version")


@pytest.fixture(scope="module")
def service_module():
    sys.path.insert(0, str(SERVING))
    try:
        import service  # serving/service.py, as `bentoml serve` imports it

        yield service
    finally:
        sys.path.remove(str(SERVING))


@pytest.fixture(scope="module")
def asgi_app(service_module, served_store):
    """One ASGI app per module: BentoML registers its Prometheus metrics once per process.

    Each ``with TestClient(asgi_app)`` runs the app's lifespan, i.e. starts the service anew
    (loads models and snapshot), which is what a restart does.
    """
    patch = _environment(served_store)
    try:
        yield service_module.ChurnService.to_asgi()
    finally:
        patch.undo()


def _environment(served_store, **env: str) -> pytest.MonkeyPatch:
    patch = pytest.MonkeyPatch()
    for name, value in {**served_store.env(KEY), **env}.items():
        patch.setenv(name, value)
    return patch


@pytest.fixture(scope="module")
def client(asgi_app):
    with TestClient(asgi_app) as test_client:
        yield test_client


@pytest.fixture(scope="module")
def batch(served_store) -> pd.DataFrame:
    return io.read_table(served_store.scores).set_index("customer_id")


def _check_same(item: dict, row: pd.Series) -> None:
    assert item["status"] == "ok"
    for column in SCORE_FIELDS:
        assert item[column] == pytest.approx(row[column], rel=1e-12, abs=1e-12), column
    for column in TEXT_FIELDS:
        assert item[column] == str(row[column]), column
    assert "; ".join(item["reasons"]) == (row["reasons"] or "")
    assert "; ".join(item["reason_topics"]) == (row["reason_topics"] or "")
    assert len(item["reason_topics"]) == len(item["reasons"])


# -- auth -------------------------------------------------------------------------------------


@pytest.mark.parametrize("method, path, body", [
    ("post", "/score", {"customer_ids": ["C0000001"]}),
    ("post", "/retention_list", {"max_customers": 3}),
    ("get", "/model", None),
])
def test_every_endpoint_needs_the_key(client, method, path, body) -> None:
    def call(headers):
        return client.request(method.upper(), path, json=body, headers=headers)

    answers = []
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": KEY}, {"Authorization": f"Basic {KEY}"},
                    {"X-API-Key": KEY}):
        response = call(headers)
        assert response.status_code == 401, headers
        assert response.headers["www-authenticate"] == "Bearer"
        answers.append(response.json())
    # One answer whatever was wrong (no hint which), saying how to send the key.
    assert all(answer == answers[0] for answer in answers), answers
    assert list(answers[0]) == ["error"] and "Authorization: Bearer <key>" in answers[0]["error"]
    assert call(AUTH).status_code == 200


def test_probes_and_docs_are_open(client) -> None:
    for path in ("/livez", "/readyz", "/docs.json"):
        assert client.get(path).status_code == 200, path


def test_api_key_check_is_exact() -> None:
    assert api.check_api_key("abc", "Bearer abc") and api.check_api_key("abc", "bearer abc")
    assert not any(api.check_api_key("abc", h) for h in (None, "", "Bearer", "Bearer abcd", "Bearer ab", "Token abc", "abc"))


def test_server_options_follow_the_serving_config() -> None:
    quiet = api.server_options(config_from_dict({"serving": {"access_log": False}}).serving)
    assert quiet == {"logging": {"access": {"enabled": False}}, "tracing": {"excluded_urls": [".*"]}, "traffic": {"timeout": 30}}
    traced = api.server_options(config_from_dict({"serving": {"trace_requests": True, "request_timeout_seconds": 90}}).serving)
    assert traced == {"logging": {"access": {"enabled": True}}, "tracing": {"excluded_urls": []}, "traffic": {"timeout": 90}}


def test_no_key_configured_never_runs_open() -> None:
    with pytest.raises(ConfigError, match=r"^CHURNML_API_KEY is not set, .* `churnml serve`"):
        api.ServiceSettings.from_env({})
    # Header values travel as Latin-1 bytes: a key with "é" never matched, and every request got 401.
    for unusable in ("clé-ключ", "two words"):
        with pytest.raises(ConfigError, match=r"^CHURNML_API_KEY must be printable ASCII without spaces"):
            api.ServiceSettings.from_env({"CHURNML_API_KEY": unusable})


# -- bad input --------------------------------------------------------------------------------

BIG = 2_000_001


@pytest.mark.parametrize("path, body, status, message", [
    ("/score", b"{\"customer_ids\": [", 400, "The request body is not valid JSON"),
    ("/score", b"", 400, "The request body is empty"),
    ("/score", b"[\"C0000001\"]", 400, "The request body must be a JSON object"),
    ("/score", {"customer_ids": "C0000001"}, 400,
     'customer_ids: Input should be a valid array (send a JSON list, even of one: ["C0000001"]).'),
    ("/score", {"customer_ids": [1]}, 400, 'customer_ids[0]: Input should be a valid string (send ids as JSON strings, e.g. "123").'),
    # A CRM whose ids are numbers gets the same hint wherever it sends one (it did only in customer_ids).
    ("/score_history", {"as_of": "2025-12-01", "customers": [{"customer_id": 7}]}, 400,
     'customers[0].customer_id: Input should be a valid string (send ids as JSON strings, e.g. "123").'),
    ("/score_history", {"as_of": "2025-12-01", "customers": [{"customer_id": "7"}],
                        "transactions": [{"customer_id": 7, "timestamp": "2025-01-01", "amount": 3}]}, 400,
     'transactions[0].customer_id: Input should be a valid string (send ids as JSON strings, e.g. "123").'),
    ("/retention_list", {"exclude": ["C0000002", 7]}, 400,
     'exclude[1]: Input should be a valid string (send ids as JSON strings, e.g. "123").'),
    ("/score", {"customer_ids": []}, 400, "customer_ids: List should have at least 1 item"),
    ("/score", {"customer_ids": ["C0000001"], "extra": 1}, 400, "extra: Extra inputs are not permitted"),
    ("/score", {}, 400, "customer_ids: Field required"),
    # Blank ids were looked up as "" and answered not_found (or left out of `exclude` without a word).
    ("/score", {"customer_ids": ["C0000001", "  "]}, 400,
     "customer_ids[1]: Customer ids must not be blank (only spaces): send the id, or leave the item out."),
    ("/score_history", {"as_of": "2025-12-01", "customers": [{"customer_id": " \t"}]}, 400,
     "customers[0].customer_id: Customer ids must not be blank"),
    ("/score_history", {"as_of": "2025-12-01", "customers": [{"customer_id": "a"}],
                        "transactions": [{"customer_id": "a", "timestamp": "2025-01-01", "amount": 3},
                                         {"customer_id": " ", "timestamp": "2025-01-01", "amount": 3}]}, 400,
     "transactions[1].customer_id: Customer ids must not be blank"),
    ("/retention_list", {"exclude": ["C0000002", "   "]}, 400, "exclude[1]: Customer ids must not be blank"),
    # A list over a limit is an invalid field, 400 as a list under its minimum; 413 is for a body over max_body_bytes.
    ("/score", {"customer_ids": [f"X{i}" for i in range(1001)]}, 400,
     "customer_ids: List should have at most 1000 items after validation, not 1001 ([serving] max_customer_ids per "
     "request: split the request"),
    ("/score_history", {"as_of": "2025-12-01", "customers": [{"customer_id": f"X{i}"} for i in range(1001)]}, 400,
     "customers: List should have at most 1000 items after validation, not 1001 ([serving] max_customer_ids"),
    ("/score_history", {"as_of": "2025-13-01", "customers": [{"customer_id": "a"}]}, 400,
     "as_of: '2025-13-01' is not a date. Use the form YYYY-MM-DD"),
    ("/score_history", {"as_of": "yesterday", "customers": [{"customer_id": "a"}]}, 400, "as_of: 'yesterday' is not a date"),
    ("/score_history", {"as_of": "20251201", "customers": [{"customer_id": "a"}]}, 400, "as_of: '20251201' is not a date"),
    ("/score_history", {"as_of": "2025-W48-1", "customers": [{"customer_id": "a"}]}, 400, "as_of: '2025-W48-1' is not a date"),
    # A date and time is told its UTC day, as the data's times are read (it suggested 2026-01-01, the date as written).
    ("/score_history", {"as_of": "2026-01-01T00:00:00+05:00", "customers": [{"customer_id": "a"}]}, 400,
     "as_of: '2026-01-01T00:00:00+05:00' is a date and time, 2025-12-31 19:00 UTC; the as-of date is a date alone, "
     "YYYY-MM-DD, and the scores see the events before its midnight UTC, as the data's times are read in UTC: 2025-12-31 "
     "sees those before 2025-12-31 00:00 UTC, 2026-01-01 those before 2026-01-01 00:00 UTC."),
    ("/score_history", {"as_of": "2025-12-01T00:00:00Z", "customers": [{"customer_id": "a"}]}, 400,
     "as_of: '2025-12-01T00:00:00Z' is a date and time; the as-of date is a date alone, YYYY-MM-DD (here 2025-12-01): "
     "the scores see the events before its start, midnight UTC."),
    ("/score_history", {"as_of": 20260101, "customers": [{"customer_id": "a"}]}, 400, "as_of: Input should be a valid string"),
    # Numbers are not dates (pydantic would read them as seconds since 1970), nor booleans amounts.
    ("/score_history", {"as_of": "2025-12-01", "customers": [{"customer_id": "a", "signup_date": 20250707}]}, 400,
     "customers[0].signup_date: Input should be a valid string"),
    ("/score_history", {"as_of": "2025-12-01", "customers": [{"customer_id": "a"}],
                        "transactions": [{"customer_id": "a", "timestamp": "1750000000000", "amount": 3}]}, 400,
     "transactions[0].timestamp: '1750000000000' is not a date or datetime"),
    ("/score_history", {"as_of": "2025-12-01", "customers": [{"customer_id": "a"}],
                        "transactions": [{"customer_id": "a", "timestamp": "2025-01-01", "amount": True}]}, 400,
     "transactions[0].amount: Input should be a valid number"),
    ("/score_history", {"as_of": "2025-12-01", "customers": [{"customer_id": "a"}],
                        "service_events": [{"customer_id": "a", "timestamp": "2025-01-01", "event_type": "survey", "satisfaction": True}]},
     400, "service_events[0].satisfaction: Input should be a valid number"),
    # An offset that pushes year 9999 past the calendar's end (was a 500).
    ("/score_history", {"as_of": "2025-12-01", "customers": [{"customer_id": "a"}],
                        "transactions": [{"customer_id": "a", "timestamp": "9999-12-31T23:00:00-05:00", "amount": 3}]}, 400,
     "transactions[0].timestamp: 9999-12-31T23:00:00 is outside the years 1900-2199"),
    # (A sign-up date before 1900 is kept without it, as validation keeps it: below.)
    ("/score_history", {"as_of": "2025-12-01", "customers": [{"customer_id": "a"}],
                        "churn_events": [{"customer_id": "a", "timestamp": "0001-01-01T00:00:00+01:00"}]}, 400,
     "churn_events[0].timestamp: 0001-01-01T00:00:00 is outside the years 1900-2199"),
    ("/score_history", {"as_of": "1850-01-01", "customers": [{"customer_id": "a"}]}, 400, "as_of: 1850-01-01 is outside the years 1900-2199"),
    ("/score_history", {"as_of": "2025-12-01", "customers": []}, 400, "customers: List should have at least 1 item"),
    # One message for a value that fits none of an attribute's types (was one per type)
    ("/score_history", {"as_of": "2025-12-01", "customers": [{"customer_id": "a", "region": {"a": 1}}]}, 400,
     "customers[0].region: Input should be text, a number or true/false (or null)."),
    # A history nested in its customer's record, as a first-time client writes it, read as attributes
    # that should be "text, a number or true/false": now told where the rows go.
    ("/score_history", {"as_of": "2025-12-01", "customers": [{"customer_id": "a", "service_events": [
        {"timestamp": "2025-01-01", "event_type": "Outage"}]}]}, 400,
     "customers[0].service_events: a customer record holds only its customer_id, signup_date and attributes: send "
     "service_events as one list at the top level of the body, beside customers, each row with its customer_id"),
    ("/score_history", {"as_of": "2025-12-01", "customers": [{"customer": {"customer_id": "a"},
                                                              "transactions": [{"timestamp": "2025-01-01", "amount": 3}]}]}, 400,
     "customers[0].customer: a customer record is the customer's row itself"),
    ("/score_history", {"as_of": "2025-12-01", "customers": [{"customer_id": "a"}],
                        "transactions": [{"customer_id": "b", "timestamp": "2025-01-01", "amount": 3}]}, 400,
     "transactions[0]: customer_id 'b' is not among the posted customers"),
    # A row in the client's own export's names: the config's [columns] mapping is for files.
    ("/score_history", {"as_of": "2025-12-01", "customers": [{"customer_id": "a"}],
                        "transactions": [{"Account ID": "a", "Invoice Date": "2025-01-01", "Total": 3}]}, 400,
     "transactions[0].customer_id: Field required; transactions[0].timestamp: Field required; transactions[0].amount: "
     "Field required"),
    ("/score_history", {"as_of": "2025-12-01", "customers": [{"customer_id": "a"}],
                        "transactions": [{"Account ID": "a", "Invoice Date": "2025-01-01", "Total": 3}]}, 400,
     "Posted rows use churnml's field names (customer_id; timestamp and amount; event_type), whatever [columns] "
     "in the config maps in files: rename the fields in the request."),
    ("/score_history", {"as_of": "2025-12-01", "customers": [{"customer_id": "a"}],
                        "transactions": [{"customer_id": "a", "timestamp": "2025-01-01", "amount": "lots"}]}, 400,
     "transactions[0].amount: Input should be a valid number"),
    # Finite but absurd: a misread field, refused as validation sets it aside in batch data.
    ("/score_history", {"as_of": "2025-12-01", "customers": [{"customer_id": "a"}],
                        "transactions": [{"customer_id": "a", "timestamp": "2025-01-01", "amount": 1e300}]}, 400,
     "transactions[0].amount: 1e+300 is beyond ±1e+12; no transaction is that large."),
    # A score off the scale is blanked and its event kept (below); one that is no JSON number is the request's type
    # error, told what to send.
    ("/score_history", {"as_of": "2025-12-01", "customers": [{"customer_id": "a"}],
                        "service_events": [{"customer_id": "a", "timestamp": "2025-01-01", "event_type": "survey", "satisfaction": "abc"}]},
     400, "service_events[0].satisfaction: Input should be a valid number (send the score as a JSON number, or null for a "
          "survey not answered)"),
    ("/score_history", {"as_of": "2025-12-01", "customers": [{"customer_id": "a"}, {"customer_id": "a"}]}, 400,
     "customers[1]: customer_id 'a' appears twice"),
    ("/retention_list", {"success_rate": 2}, 400, "success_rate: Input should be less than or equal to 1"),
    ("/retention_list", {"success_rate": 0}, 400, "success_rate: Input should be greater than 0"),
    ("/retention_list", {"holdout": 0.6}, 400, "holdout: Input should be less than or equal to 0.5"),
    ("/retention_list", {"budget": -1}, 400, "budget: Input should be greater than or equal to 0"),
    ("/retention_list", {"contact_cost": -1}, 400, "contact_cost: Input should be greater than or equal to 0"),
    ("/retention_list", {"max_customers": 0}, 400, "max_customers: Input should be greater than or equal to 1"),
    ("/retention_list", {"budget": "all"}, 400, "budget: Input should be a valid number"),
    ("/retention_list", {"max_customers": True}, 400, "max_customers: Input should be a valid integer"),
    ("/retention_list", {"segments": ["vip"]}, 400, "vip"),
    ("/retention_list", {"max_customers": 5000}, 400,
     "max_customers: Input should be less than or equal to 1000 (the API's limit, [serving] max_customer_ids: use "
     "`churnml retention-list` for longer lists)"),
])
def test_bad_input_is_a_clear_4xx(client, path, body, status, message) -> None:
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    response = client.post(path, content=content, headers={**AUTH, "Content-Type": "application/json"})
    assert response.status_code == status, response.text
    assert message in response.json()["error"]


def test_invalid_requests_answer_in_one_style_the_field_first(client) -> None:
    # The guard's answers (the request models') began "Invalid request: customer_ids[0]: ...", the service's own
    # "transactions[0].timestamp: ..." or "customers[1]: ...": two styles for one kind of mistake, where the Error
    # schema says the field is named first.
    history = {"as_of": "2025-12-01", "customers": [{"customer_id": "a"}]}
    cases = [
        ("/score", {"customer_ids": [1]}, "customer_ids[0]: Input should be a valid string"),
        ("/retention_list", {"holdout": 0.6}, "holdout: Input should be less than or equal to 0.5"),
        ("/score_history", {**history, "transactions": [{"customer_id": "a", "timestamp": "soon", "amount": 1}]},
         "transactions[0].timestamp: 'soon' is not a date or datetime"),
        ("/score_history", {**history, "customers": [{"customer_id": "a"}, {"customer_id": "a"}]},
         "customers[1]: customer_id 'a' appears twice"),
        # The service's own as_of checks read "as_of 2030-01-01 is in the future", without the colon.
        ("/score_history", {**history, "as_of": "2025-13-01"}, "as_of: '2025-13-01' is not a date"),
        ("/score_history", {**history, "as_of": "1850-01-01"}, "as_of: 1850-01-01 is outside the years 1900-2199"),
        ("/score_history", {**history, "as_of": "2190-01-01"}, "as_of: 2190-01-01 is in the future"),
        ("/score_history", {**history, "as_of": "1990-01-01"}, "as_of: 1990-01-01 is before the models' training data"),
        # The retention list's own checks: an unknown segment answered the CLI's "Unknown segment 'vip'. ...", an
        # unknown attribute "attributes plan: ..." (no colon after the field), each item named by its position now.
        ("/retention_list", {"segments": ["dormant", "vip"]}, "segments[1]: Unknown segment 'vip'. Valid segments: "
                                                              "high_value_at_risk (High-value at risk), "),
        ("/retention_list", {"attributes": ["region", "plan"]}, "attributes[1]: no customers column 'plan' in the snapshot"),
        # Several unknown items: all of them (the first alone was named).
        ("/retention_list", {"segments": ["vip", "dormant", "gold"]},
         "segments[0], segments[2]: Unknown segments 'vip', 'gold'. Valid segments: high_value_at_risk (High-value at risk), "),
        ("/retention_list", {"attributes": ["plan", "region", "tier"]},
         "attributes[0], attributes[2]: no customers columns 'plan', 'tier' in the snapshot loaded"),
        ("/retention_list", {"attributes": ["Customer_ID"]}, "attributes[0]: every retention list has customer_id already"),
    ]
    for path, body, start in cases:
        response = client.post(path, headers=AUTH, json=body)
        assert response.status_code == 400 and response.json()["error"].startswith(start), (path, response.text)


def test_a_field_of_the_wrong_form_is_told_the_form_it_takes(client) -> None:
    # contact_cost as an object of per-segment costs, as [targeting.contact_costs] writes them, got "Input should be a
    # valid number" alone, which read as if the segment named were the problem; a missing table of /score_history
    # ("customers: Field required") was told that posted rows use churnml's field names, which is about a row's fields;
    # a transaction_id sent as a number did not get the hint customer ids get.
    cases = [
        ("/retention_list", {"contact_cost": {"dormant": 2.0}},
         "contact_cost: Input should be a valid number (one cost for every segment, e.g. 5.0; leave the field out for the "
         "costs per segment of the server's config, [targeting.contact_costs])."),
        ("/score_history", {}, "as_of: Field required; customers: Field required."),
        ("/score_history", {"as_of": "2025-12-01"}, "customers: Field required."),
        ("/score_history", {"as_of": "2025-12-01", "customers": [{"customer_id": "a"}],
                            "transactions": [{"customer_id": "a", "timestamp": "2025-01-01", "amount": 3, "transaction_id": 5}]},
         'transactions[0].transaction_id: Input should be a valid string (send ids as JSON strings, e.g. "123").'),
    ]
    history = {"as_of": "2025-12-01", "customers": [{"customer_id": "a"}]}
    required = "required, and null is no value for it: send"
    cases += [
        # The as_of of /score_history sent to /score, and one endpoint's body posted to the other: "Extra inputs are
        # not permitted" alone, as for a typo.
        ("/score", {"customer_ids": ["C0000001"], "as_of": "2025-12-01"},
         "as_of: Extra inputs are not permitted (/score and /retention_list answer from the scores of the snapshot the "
         "server loaded, as of GET /model's scores_as_of: to score customers as of another date, post their records and "
         "histories to /score_history with as_of)."),
        ("/score", {"customers": [{"customer_id": "a"}]},
         "customer_ids: Field required; customers: Extra inputs are not permitted (customers is /score_history's field, "
         "which scores posted records and histories as of as_of: /score takes customer_ids and looks their scores up in "
         "the snapshot the server loaded)."),
        ("/score_history", {**history, "customer_ids": ["a"]},
         "customer_ids: Extra inputs are not permitted (customer_ids is /score's field, which looks scores up in the "
         "snapshot the server loaded: /score_history takes the customers' records in customers, with as_of)."),
        # null for a required field read "Input should be a valid string", as if a string were the problem.
        ("/score_history", {**history, "transactions": [{"customer_id": "a", "timestamp": None, "amount": None}]},
         f'transactions[0].timestamp: {required} the date, or date and time, as ISO 8601 text, e.g. "2025-10-20" or '
         f'"2025-10-20T16:40:00"; transactions[0].amount: {required} the amount as a JSON number, e.g. 30.0 (negative '
         "for a refund)."),
        ("/score_history", {"as_of": None, "customers": None},
         f'as_of: {required} the date as YYYY-MM-DD, e.g. "2025-12-01"; customers: {required} a list of customer '
         'records, e.g. [{"customer_id": "C0000001"}].'),
        ("/score", {"customer_ids": [None]},
         'customer_ids[0]: null is no item of this list: send the id as a JSON string, e.g. "C0000001".'),
        # A value of another JSON type is told the form the field takes.
        ("/score_history", {**history, "transactions": {"customer_id": "a", "timestamp": "2025-01-01", "amount": 3}},
         'transactions: Input should be a valid array (send a JSON list, even of one: [{"customer_id": "C0000001", ...}], '
         "[] for none)."),
        ("/score_history", {**history, "customers": [{"customer_id": "a", "signup_date": 20240301}],
                            "service_events": [{"customer_id": "a", "timestamp": "2025-01-01", "event_type": ""}]},
         'customers[0].signup_date: Input should be a valid string (send the date as ISO 8601 text, e.g. "2025-10-20": a '
         'number is not read as a date); service_events[0].event_type: String should have at least 1 character '
         '(required: send the type as text, e.g. "complaint").'),
        ("/score", {"customer_ids": [""]},
         'customer_ids[0]: String should have at least 1 character (required: send the id as a JSON string, e.g. "C0000001").'),
        ("/retention_list", {"budget": "500", "max_customers": 10.0},
         "budget: Input should be a valid number (send a JSON number, e.g. 30.0, not text or true/false); max_customers: "
         "Input should be a valid integer (send a whole JSON number without a decimal point, e.g. 100)."),
    ]
    for path, body, error in cases:
        response = client.post(path, headers=AUTH, json=body)
        assert response.status_code == 400 and response.json() == {"error": error}, (path, response.text)
    # A row's missing field still gets the hint about field names.
    row = client.post("/score_history", headers=AUTH, json={"as_of": "2025-12-01", "customers": [{"id": "a"}]})
    assert "customers[0].customer_id: Field required" in row.json()["error"]
    assert "Posted rows use churnml's field names" in row.json()["error"]


def test_unknown_paths_and_wrong_methods_get_json_errors(client) -> None:
    response = client.get("/nope", headers=AUTH)
    assert response.status_code == 404
    assert response.json()["error"] == (
        "There is no /nope. The endpoints are POST /score, POST /score_history, POST /retention_list, GET /model."
    )
    response = client.get("/score", headers=AUTH)
    assert response.status_code == 405 and response.headers["allow"] == "POST"
    assert response.json()["error"] == "GET is not allowed on /score; use POST."
    response = client.post("/model", headers=AUTH)  # FastAPI's own {"detail": ...} before
    assert response.status_code == 405 and response.json() == {"error": "POST is not allowed on /model; use GET."}
    # The paths that need no key answered in plain text.
    response = client.post("/livez")
    assert response.status_code == 405 and response.json()["error"].startswith("POST is not allowed on /livez")
    response = client.get("/static_content/nope.css")
    assert response.status_code == 404 and response.json()["error"].startswith("There is no /static_content/nope.css.")
    assert client.get("/livez").status_code == 200 and client.get("/docs.json").json()["info"]["title"] == "churnml"


def test_oversized_body_and_wrong_content_type(client) -> None:
    big = b'{"customer_ids": ["' + b"x" * BIG + b'"]}'
    response = client.post("/score", content=big, headers={**AUTH, "Content-Type": "application/json"})
    assert response.status_code == 413
    assert response.json()["error"] == "The request body is larger than 2,000,000 bytes. Send fewer customers (or less history) per request; the limit is [serving] max_body_bytes."
    response = client.post("/score", content=b"customer_ids=C1", headers={**AUTH, "Content-Type": "application/x-www-form-urlencoded"})
    assert response.status_code == 415 and "Content-Type: application/json" in response.json()["error"]


def test_payloads_are_not_logged_or_echoed(client, caplog) -> None:
    with caplog.at_level(logging.DEBUG):
        response = client.post("/score", json={"customer_ids": ["SENTINEL-7731", 5]}, headers=AUTH)
        ok = client.post("/score", json={"customer_ids": ["SENTINEL-7732"]}, headers=AUTH)
    assert response.status_code == 400 and "SENTINEL" not in response.text
    assert ok.status_code == 200
    assert "SENTINEL" not in caplog.text


# -- answers agree with batch scoring ---------------------------------------------------------


def test_score_equals_batch_scores_and_reports_unknown_ids(client, batch) -> None:
    ids = list(batch.index[:40]) + ["NOPE-1", batch.index[0].lower(), f"00{batch.index[1]}"] + list(batch.index[-3:])
    response = client.post("/score", json={"customer_ids": ids}, headers=AUTH)
    assert response.status_code == 200
    results = response.json()["results"]
    assert [r["customer_id"] for r in results] == ids
    for item in results:
        if item["customer_id"] == "NOPE-1":
            assert item["status"] == "not_found" and item["detail"] == (
                "Not in the scored population at 2025-12-01: not in the customers table scored, an id the data does not "
                "have. POST /score_history scores a customer from their own record and history.")
            assert item["churn_probability"] is None
        elif item["customer_id"] in ids[41:43]:  # written another way: the detail names the scored id, no score
            assert item["status"] == "not_found" and item["churn_probability"] is None
            similar = batch.index[0] if item["customer_id"] == ids[41] else batch.index[1]
            assert item["detail"] == (f"Not in the scored population at 2025-12-01; {similar!r} is, and matches this id "
                                      "when case, spaces and leading zeros are ignored: send the id as the customers "
                                      "table writes it.")
        else:
            _check_same(item, batch.loc[item["customer_id"]])
            assert item["as_of"] == "2025-12-01"


def test_an_attribute_reason_reads_as_in_batch_its_churn_said_only_where_clear(client, served_store, batch) -> None:
    # A call-centre lead reads the same reasons from the API as from the list: an attribute's churn figure
    # where its customers make it clear (the reference's counts), the level alone where they do not, and
    # no level whose customers churned no more than the average ("product tier: premium" at 0.8× read as a risk).
    from churnml.reasons import clearly_above

    patch = _environment(served_store)
    try:
        reference = tracking.load_models("champion").monitoring_reference
    finally:
        patch.undo()
    ids = list(batch.index[batch["reason_topics"].str.contains("attribute")][:30])
    assert ids
    results = client.post("/score", json={"customer_ids": ids}, headers=AUTH).json()["results"]
    checked = 0
    for item in results:
        _check_same(item, batch.loc[item["customer_id"]])
        for sentence, topic in zip(item["reasons"], item["reason_topics"]):
            if topic != "attribute":
                continue
            label, _, rest = sentence.partition(": ")
            level, _, churn = rest.partition(", where churn runs ")
            stats = reference["features"][label.replace(" ", "_")]
            clear = clearly_above(stats["churn_counts"].get(level), reference["training_churn"])
            said_above = round(stats["churn_ratio"].get(level, 0.0), 1) > 1.0
            assert bool(churn) == bool(clear and said_above), (sentence, stats["churn_counts"].get(level))
            assert said_above or level not in stats["churn_ratio"], (sentence, stats["churn_ratio"][level])
            checked += 1
    assert checked >= len(ids)


def test_score_says_why_a_customer_of_the_data_has_no_score(client, served_store, batch, tmp_path, monkeypatch) -> None:
    # A CRM asking about one customer got "signed up since, account closed, inactive, or an id the
    # data does not have" and could not tell which; `churnml score` now writes who was left out and why.
    con, as_of = served_store.dataset.con, pd.Timestamp(served_store.as_of)
    closed = con.execute("SELECT customer_id, MIN(timestamp) FROM churn_events GROUP BY 1 HAVING MIN(timestamp) < ? "
                         "ORDER BY 1 LIMIT 2", [as_of.to_pydatetime()]).fetchall()
    later = con.execute("SELECT customer_id, signup_date FROM customers WHERE signup_date >= ? ORDER BY 1 LIMIT 1",
                        [as_of.to_pydatetime()]).fetchall()
    assert len(closed) == 2 and len(later) == 1
    ids = [closed[0][0], f" {closed[1][0]} ", later[0][0], "NOPE-1", batch.index[0]]
    results = client.post("/score", json={"customer_ids": ids}, headers=AUTH).json()["results"]
    assert [r["status"] for r in results] == ["not_found"] * 4 + ["ok"]
    score_history = "POST /score_history scores a customer from their own record and history."
    assert [r["detail"] for r in results[:4]] == [
        f"Not in the scored population at 2025-12-01: the account closed on {pd.Timestamp(closed[0][1]):%Y-%m-%d} "
        "(churn_events), before it.",
        f"Not in the scored population at 2025-12-01: the account closed on {pd.Timestamp(closed[1][1]):%Y-%m-%d} "
        "(churn_events), before it.",
        f"Not in the scored population at 2025-12-01: signed up on {pd.Timestamp(later[0][1]):%Y-%m-%d}, on or after it. "
        + score_history,
        "Not in the scored population at 2025-12-01: not in the customers table scored, an id the data does not have. "
        + score_history,
    ]
    # The file beside the snapshot holds every customer of the table the snapshot does not.
    snapshot = io.latest_snapshot(served_store.snapshots)
    outside = io.read_table(io.outside_path(snapshot))
    customers = set(con.execute("SELECT customer_id FROM customers").df()["customer_id"])
    in_snapshot = set(io.read_table(snapshot)["customer_id"])
    assert set(outside["customer_id"]) == customers - in_snapshot and len(outside) == len(customers) - len(in_snapshot)

    # A snapshot written before these files were is still served, with the detail listing the reasons.
    monkeypatch.setenv("MLFLOW_TRACKING_URI", served_store.tracking_uri)
    (tmp_path / snapshot.name).write_bytes(snapshot.read_bytes())
    older = api.ScoringService.load(api.ServiceSettings(api_key=KEY, snapshot_dir=tmp_path))
    assert [r["detail"] for r in older.score([closed[0][0], "NOPE-1"])] == [
        "Not in the scored population at 2025-12-01 (signed up since, account closed, inactive, or an id the data does "
        "not have). " + score_history] * 2
    # So is one whose outside file cannot be read: the scores do not depend on it.
    io.outside_path(tmp_path / snapshot.name).write_bytes(b"junk")
    damaged = api.ScoringService.load(api.ServiceSettings(api_key=KEY, snapshot_dir=tmp_path))
    assert damaged.score([closed[0][0]])[0]["detail"] == older.score([closed[0][0]])[0]["detail"]
    # Without churn_events the rule is activity: the detail names active_days and the last purchase.
    inactive = pd.DataFrame({"customer_id": ["q1", "q2", "q3"], "reason": ["inactive", "inactive", "no_history"],
                             "date": pd.to_datetime(["2024-06-30", None, None])})
    service = api.ScoringService(older.models, io.read_table(snapshot), as_of, outside=inactive)
    assert [r["detail"] for r in service.score(["q1", "q2", "q3"])] == [
        "Not in the scored population at 2025-12-01: no purchase in the 365 days before it (last on 2024-06-30); "
        "/score_history does not apply that rule. " + score_history,
        "Not in the scored population at 2025-12-01: no purchase in the 365 days before it (none before it); "
        "/score_history does not apply that rule. " + score_history,
        "Not in the scored population at 2025-12-01: no sign-up date and no transaction before it (a sign-up date "
        "validation set aside counts as none). " + score_history,
    ]


def _history(dataset, ids: list[str]) -> dict:
    def rows(table: str) -> list[dict]:
        frame = dataset.con.execute(f"SELECT * FROM {table} WHERE customer_id IN ({', '.join(repr(i) for i in ids)})").df()
        records = json.loads(frame.to_json(orient="records", date_format="iso"))
        return [{k: v for k, v in record.items() if v is not None} for record in records]

    return {"customers": rows("customers"), "transactions": rows("transactions"), "service_events": rows("service_events")}


def test_score_history_equals_batch_scoring_for_the_same_history(client, batch, served_store) -> None:
    events = served_store.dataset.con.execute(
        "SELECT DISTINCT customer_id FROM service_events WHERE event_type = 'complaint' AND timestamp < '2025-12-01'"
    ).df()["customer_id"]
    complained = [c for c in batch.index if c in set(events)][:4]
    ids = complained + [c for c in batch.index[::97] if c not in complained][:8]
    body = {"as_of": served_store.as_of, **_history(served_store.dataset, ids)}
    assert any(e["timestamp"] >= "2025-12-01" for e in body["transactions"])  # later events must be ignored
    response = client.post("/score_history", json=body, headers=AUTH)
    assert response.status_code == 200, response.text
    results = response.json()["results"]
    assert sorted(r["customer_id"] for r in results) == sorted(ids)
    for item in results:
        _check_same(item, batch.loc[item["customer_id"]])
        # ... but not silently: a CRM posting today's purchases with as_of today lost them without a word.
        later = {table: sum(e["customer_id"] == item["customer_id"] and e["timestamp"] >= "2025-12-01" for e in body[table])
                 for table in ("transactions", "service_events")}
        counted = " and ".join(f"{n} {table}" for table, n in later.items() if n)
        expected = ([f"{counted} on or after as_of 2025-12-01 not counted: the scores see events before as_of (as of "
                     "the day after the last event counts them)"] if counted else [])
        assert [w for w in item["warnings"] if "on or after as_of" in w] == expected
    assert sum(bool(r["warnings"]) for r in results) >= 3


def test_score_history_for_a_customer_who_did_not_exist_yet(client) -> None:
    # It said "the sign-up date is on or after it, or there is no sign-up date and no transaction before it" for
    # either, where the customer's record was posted with the request: /score names the one that applies.
    body = {"as_of": "2025-12-01", "customers": [{"customer_id": "new", "signup_date": "2025-12-05"},
                                                 {"customer_id": "undated", "signup_date": None},
                                                 {"customer_id": "first", "signup_date": None}],
            "transactions": [{"customer_id": "first", "timestamp": "2025-12-01T09:00:00", "amount": 20.0}],
            "service_events": [], "churn_events": []}
    results = client.post("/score_history", json=body, headers=AUTH).json()["results"]
    assert [r["status"] for r in results] == ["not_found"] * 3
    assert [r["detail"] for r in results] == [
        "Not a customer at 2025-12-01: signed up on 2025-12-05, on or after it.",
        "Not a customer at 2025-12-01: no sign-up date and no transaction before it.",
        "Not a customer at 2025-12-01: no sign-up date and no transaction before it."]


def test_basic_iso_dates_are_dates_not_seconds_since_1970(client) -> None:
    def post(signup: str, bought: str) -> dict:
        body = {"as_of": "2025-12-01", "customers": [{"customer_id": "n", "signup_date": signup}],
                "transactions": [{"customer_id": "n", "timestamp": bought, "amount": 50}]}
        response = client.post("/score_history", json=body, headers=AUTH)
        assert response.status_code == 200, response.text
        return response.json()["results"][0]

    extended = post("2025-07-07", "2025-11-20T10:00:00")
    assert extended["status"] == "ok" and extended["lifecycle_stage"] == "new"
    assert post("20250707", "20251120T100000") == extended


def test_score_trims_ids_like_validation_does(client, batch) -> None:
    customer = batch.index[0]
    item = client.post("/score", json={"customer_ids": [f" {customer} "]}, headers=AUTH).json()["results"][0]
    assert item["status"] == "ok" and item["customer_id"] == f" {customer} "
    _check_same(item, batch.loc[customer])
    # /score_history echoed the trimmed id while /score echoes it as sent: both as sent now.
    history = {"as_of": "2025-12-01", "customers": [{"customer_id": " a "}, {"customer_id": "b\t", "signup_date": "2026-01-01"}],
               "transactions": [{"customer_id": "a", "timestamp": "2025-10-01", "amount": 20}]}
    results = client.post("/score_history", json=history, headers=AUTH).json()["results"]
    assert [(r["customer_id"], r["status"]) for r in results] == [(" a ", "ok"), ("b\t", "not_found")]


def test_score_history_example_input_works(client, service_module) -> None:
    from examples import EXAMPLE_HISTORY, EXAMPLE_INPUT

    item = client.post("/score_history", json=EXAMPLE_HISTORY, headers=AUTH).json()["results"][0]
    assert item["status"] == "ok" and item["warnings"] == []
    assert client.post("/score", json=EXAMPLE_INPUT, headers=AUTH).status_code == 200


def test_retention_list_equals_the_library_on_the_same_scores(client, served_store) -> None:
    options = {"budget": 200.0, "contact_cost": 4.0, "success_rate": 0.35}
    response = client.post("/retention_list", json=options, headers=AUTH)
    assert response.status_code == 200, response.text
    body = response.json()
    expected = retention_list(io.read_table(served_store.scores), max_customers=1000, config=Config(), **options)
    assert body["summary"]["selected"] == expected.summary.selected == len(body["customers"])
    # Which models made the list, named as the scores file names them: the list said nothing of it.
    batch = io.read_table(served_store.scores)
    assert (body["churn_model_version"], body["value_model_version"]) == (batch["churn_model_version"].iloc[0],
                                                                         batch["value_model_version"].iloc[0]) == ("1", "1")
    assert body["summary"]["total_cost"] == pytest.approx(expected.summary.total_cost)
    # The CLI's "value at risk, no contact": the API's summary dropped it, so its numbers did not add up to the saving.
    assert body["summary"]["value_at_risk"] == pytest.approx(expected.summary.value_at_risk) and expected.summary.value_at_risk > 0
    assert body["summary"]["expected_value_saved"] == pytest.approx(body["summary"]["value_at_risk"] * 0.35)
    assert [c["customer_id"] for c in body["customers"]] == expected.customers["customer_id"].tolist()
    np.testing.assert_allclose([c["expected_benefit"] for c in body["customers"]], expected.customers["expected_benefit"])


def test_retention_list_gives_each_contact_the_talking_point_of_their_strongest_reason(client, served_store) -> None:
    # Beside the segment's action, what to open with: a customer whose strongest reason is a complaint
    # is asked first whether it was resolved, not offered a deal; /score says what each reason is about.
    from churnml.segments import DEFAULT_TALKING_POINTS

    body = client.post("/retention_list", json={"max_customers": 1000, "holdout": 0.1}, headers=AUTH).json()
    customers = body["customers"]
    expected = retention_list(io.read_table(served_store.scores), max_customers=1000, holdout=0.1, config=Config()).customers
    assert [c["talking_point"] for c in customers] == expected["talking_point"].tolist()
    assert not [w for w in body["warnings"] if "topics" in w]
    ids = [c["customer_id"] for c in customers]
    scored = {r["customer_id"]: r for r in client.post("/score", json={"customer_ids": ids}, headers=AUTH).json()["results"]}
    seen = set()
    for row in customers:
        topics = scored[row["customer_id"]]["reason_topics"]
        if row["group"] == "control" or not any(DEFAULT_TALKING_POINTS[t] for t in topics):
            assert row["talking_point"] == ""
            continue
        first = next(t for t in topics if DEFAULT_TALKING_POINTS[t])
        assert row["talking_point"] == DEFAULT_TALKING_POINTS[first]
        seen.add(first)
        if first == "service":
            assert row["talking_point"].startswith("Lead with the service issue")
            assert row["suggested_action"] != row["talking_point"]
    assert {"service", "buying_less"} <= seen, seen
    # The summary counts the contacts per talking point as the CLI's .json does: the CRM pulling the
    # list over HTTP had the rows but not the counts, and the summary model dropped them silently.
    contacted = Counter(c["talking_point"] for c in customers if c["group"] != "control")
    assert any(c["group"] == "control" and c["talking_point"] == "" for c in customers)
    assert body["summary"]["without_talking_point"] == contacted.pop("")
    assert {p["talking_point"]: p["customers"] for p in body["summary"]["by_talking_point"]} == contacted
    assert [p["customers"] for p in body["summary"]["by_talking_point"]] == sorted(contacted.values(), reverse=True)


def test_retention_list_takes_a_control_group_as_the_cli_does(client, served_store) -> None:
    # `churnml retention-list --holdout 0.1` marks a control group; the API took no holdout
    # ("holdout: Extra inputs are not permitted"), so a CRM pulling its list over HTTP could not
    # measure its campaign with `churnml evaluate`.
    options = {"budget": 200.0, "holdout": 0.3}
    response = client.post("/retention_list", json=options, headers=AUTH)
    assert response.status_code == 200, response.text
    body = response.json()
    expected = retention_list(io.read_table(served_store.scores), max_customers=1000, config=Config(), **options)
    assert body["summary"]["holdout"] == 0.3 and body["summary"]["control"] == expected.summary.control > 0
    # Those to contact, apart: "selected" counts the control group too.
    assert body["summary"]["contacts"] == expected.summary.contacts == body["summary"]["selected"] - body["summary"]["control"]
    assert [c["group"] for c in body["customers"]] == expected.customers["group"].tolist()
    assert all(c["contact_cost"] == 0 for c in body["customers"] if c["group"] == "control")
    refused = client.post("/retention_list", json={"holdout": 0.9}, headers=AUTH)
    assert refused.status_code == 400 and "holdout: Input should be less than or equal to 0.5" in refused.json()["error"]


def test_retention_list_says_when_the_budget_pays_for_no_contact(client, served_store) -> None:
    # A budget below one contact answered `"customers": []` and no word of why.
    body = client.post("/retention_list", json={"budget": 2.0}, headers=AUTH).json()
    expected = retention_list(io.read_table(served_store.scores), budget=2.0, max_customers=1000, config=Config()).summary
    assert body["customers"] == [] and body["summary"]["candidates"] > 0
    assert body["warnings"] == list(expected.warnings) and len(body["warnings"]) == 1
    assert body["warnings"][0].startswith("The budget (2.00) pays for no contact: a contact costs 5.00, for each of the ")
    assert "warnings" not in body["summary"]
    assert client.post("/retention_list", json={"budget": 200.0}, headers=AUTH).json()["warnings"] == []


def test_retention_list_keeps_excluded_customers_off(client) -> None:
    # Opted-out customers could be kept off a list only by the CLI's --exclude: the API listed them.
    full = client.post("/retention_list", json={"budget": 200.0}, headers=AUTH).json()
    first, second = full["customers"][0]["customer_id"], full["customers"][1]["customer_id"]
    body = client.post("/retention_list", json={"budget": 200.0, "exclude": [first, second.lower(), "ghost"]},
                       headers=AUTH).json()
    listed = [c["customer_id"] for c in body["customers"]]
    assert first not in listed and second not in listed and listed[0] == full["customers"][2]["customer_id"]
    assert (body["summary"]["excluded"], body["summary"]["excluded_loosely"], body["summary"]["exclude_unmatched"]) == (2, 1, 1)
    # Said as `retention-list --exclude` says it: the loose match a warning, the id matching nobody a note.
    assert body["warnings"] == [f"1 customer(s) were left out because an exclude id matches theirs only when leading zeros, "
                                f"case and spaces are ignored ({second.lower()!r} as {second!r}). Write the ids as the scores "
                                "do to be sure."]
    assert body["notes"][1:] == ["1 of 3 exclude ids match no scored customer (e.g. 'ghost'): customers outside the "
                                 "population at the scores' date, or ids the scores do not have."]


def test_retention_list_carries_customer_columns_as_the_cli_does(client, served_store, tmp_path) -> None:
    # A list without the customers' region or plan cannot be routed to the regional teams without a
    # join by hand; `attributes` carries them, from the snapshot the server loaded (the scores' date).
    body = client.post("/retention_list", json={"budget": 200.0, "attributes": ["region", "Product_Tier"]},
                       headers=AUTH).json()
    out = tmp_path / "list.csv"
    result = CliRunner().invoke(get_app(), ["retention-list", str(served_store.scores), "--snapshots", str(served_store.snapshots),
                                            "--out", str(out), "--budget", "200", "--attribute", "region,product_tier"])
    assert result.exit_code == 0, result.output
    listed = io.read_table(out)
    assert len(body["customers"]) == len(listed) > 3
    assert [c["attributes"] for c in body["customers"]] == [
        {"region": region, "product_tier": tier} for region, tier in zip(listed["region"], listed["product_tier"])]
    ids = [c["customer_id"] for c in body["customers"]]
    table = served_store.dataset.con.execute("SELECT customer_id, region, product_tier FROM customers").df().set_index("customer_id")
    assert [c["attributes"]["region"] for c in body["customers"]] == table.loc[ids, "region"].tolist()
    # Asked for nothing: no attributes; a column the snapshot lacks: 400 naming it and those there.
    assert all(c["attributes"] is None for c in client.post("/retention_list", json={"budget": 200.0}, headers=AUTH).json()["customers"])
    refused = client.post("/retention_list", json={"attributes": ["plan"]}, headers=AUTH)
    assert refused.status_code == 400
    assert refused.json()["error"].startswith("attributes[0]: no customers column 'plan' in the snapshot loaded "
                                              "(features_2025-12-01.parquet). Columns there: account_manager, ")


def test_the_library_refuses_a_blank_exclude_id_as_the_api_does(served_store, monkeypatch) -> None:
    # POST /retention_list answers 400 for an id of spaces only; ScoringService.retention_list
    # dropped it without a word, and the customer meant to be kept off stayed on the list.
    monkeypatch.setenv("MLFLOW_TRACKING_URI", served_store.tracking_uri)
    service = api.ScoringService(tracking.load_models("champion"), pd.read_parquet(io.latest_snapshot(served_store.snapshots)),
                                 pd.Timestamp(served_store.as_of))
    full = service.retention_list(budget=200.0)
    first = full["customers"][0]["customer_id"]
    for blank in ("   ", "", None):
        with pytest.raises(DataError) as error:
            service.retention_list(budget=200.0, exclude=[first, blank])
        assert str(error.value) == (f"exclude[1]: Customer ids must not be blank (got {blank!r}): send the id, "
                                    "or leave the item out.")
    # One id as text instead of a list was read as a list of its characters.
    with pytest.raises(DataError, match=rf"exclude must be a list of customer ids, got the text '{first}'"):
        service.retention_list(budget=200.0, exclude=first)
    kept_off = service.retention_list(budget=200.0, exclude=[f" {first} "])
    assert first not in [c["customer_id"] for c in kept_off["customers"]] and kept_off["summary"]["excluded"] == 1


def test_model_info(client) -> None:
    info = client.get("/model", headers=AUTH).json()
    assert info["alias"] == "champion" and info["trained_as_of"] == "2025-09-01" and info["grade"] == "B"
    assert info["churn_model"] == {"name": "churnml-churn", "version": "1", "aliases": ["challenger", "champion"],
                                   "run_id": info["run_id"], "trained_as_of": "2025-09-01", "grade": "B"}
    assert info["value_model"]["version"] == "1" and info["value_model"]["run_id"] == info["run_id"] and info["same_run"]
    assert set(info["test_metrics"]["churn"]) == set(api.CHURN_TEST_METRICS)
    assert 0.5 < info["test_metrics"]["churn"]["roc_auc"] <= 1
    assert info["scores_as_of"] == "2025-12-01" and info["customers"] > 100
    # Models past [monitoring] max_model_age_days, and scores past their horizon, went unsaid.
    today = pd.Timestamp.now(tz="UTC").tz_localize(None).normalize()
    assert info["model_age_days"] == (today - pd.Timestamp("2025-09-01")).days > 120 == info["max_model_age_days"]
    assert info["scores_age_days"] == (today - pd.Timestamp("2025-12-01")).days > 90
    assert info["warnings"] == [
        f"the models were trained on data up to 2025-09-01, {info['model_age_days']} days ago, more than [monitoring] "
        "max_model_age_days (120): customers may behave differently by now. Retrain (`churnml train DATA --as-of DATE`) "
        "and restart the server.",
        f"the scores are as of 2025-12-01, {info['scores_age_days']} days ago, more than the 90-day horizon they predict: "
        "/score and /retention_list answer for a window that has ended. Write a new snapshot (`churnml score DATA "
        "--as-of DATE --out FILE`) and restart the server."]
    assert client.get("/readyz").status_code == 200


def test_a_model_a_day_past_its_age_limit_is_one_day_old(served_store, monkeypatch) -> None:
    # "trained on data up to 2025-09-01, 1 days ago": the warning of /model and the server's start-up log.
    from datetime import date

    monkeypatch.setenv("MLFLOW_TRACKING_URI", served_store.tracking_uri)
    service = api.ScoringService(tracking.load_models("champion"), pd.read_parquet(io.latest_snapshot(served_store.snapshots)),
                                 pd.Timestamp(served_store.as_of), Config().replace(monitoring={"max_model_age_days": 0}))
    assert service.model_warnings(today=date(2025, 9, 2))[0].startswith(
        "the models were trained on data up to 2025-09-01, 1 day ago, more than [monitoring] max_model_age_days (0): ")


def test_score_history_says_which_attributes_it_did_not_use_or_did_not_get(client, served_store) -> None:
    # A typo ("regoin") or a left-out attribute scored silently: 6 of 30 customers changed risk tier.
    attributes = client.get("/model", headers=AUTH).json()["attributes"]
    assert {"region": "categorical", "product_tier": "categorical", "age_band": "categorical"}.items() <= attributes.items()
    known = served_store.dataset.con.execute("SELECT * FROM customers ORDER BY customer_id LIMIT 1").df().iloc[0]
    every = {name: str(known[name]) for name in attributes}
    history = {"as_of": "2025-12-01", "churn_events": [], "service_events": [],
               "transactions": [{"customer_id": "a", "timestamp": "2025-10-01", "amount": 20, "category": "etf", "channel": "app"}]}
    full = client.post("/score_history", json={**history, "customers": [{"customer_id": "a", **every}]}, headers=AUTH)
    assert full.status_code == 200 and full.json()["results"][0]["warnings"] == []
    typo = {"customer_id": "a", **{k: v for k, v in every.items() if k != "region"}, "regoin": "west"}
    warnings = client.post("/score_history", json={**history, "customers": [typo]}, headers=AUTH).json()["results"][0]["warnings"]
    assert warnings[0].startswith("not attributes the models know: regoin (a typo? the attributes they use: ")
    assert "region" in warnings[0] and warnings[0].endswith("); ignored")
    assert warnings[1] == "not given: region; scored as unknown, which changes the score"
    # The full CRM record carries account_manager, which training left out on purpose (too many
    # values): it was warned about as "not used by the models" on every call, like a typo.
    assert "account_manager" not in attributes
    crm = {"customer_id": "a", **every, "account_manager": str(known["account_manager"])}
    warnings = client.post("/score_history", json={**history, "customers": [crm]}, headers=AUTH).json()["results"][0]["warnings"]
    assert warnings == ["left out of the models by training, so not read: account_manager (more values than [training] "
                        "max_categorical_levels: codes such as an account manager's name groups of customers rather than "
                        "describe them)"]
    assert client.post("/score", json={"customer_ids": ["NOPE"]}, headers=AUTH).json()["results"][0]["warnings"] == []
    # A value or an event type the models never saw scored as unknown / as "other", silently:
    # "complaints" for "complaint" took a customer from 0.47 to 0.08.
    mars = {"customer_id": "a", **every, "region": "mars"}
    events = [{"customer_id": "a", "timestamp": "2025-11-01", "event_type": "complaints", "resolved_at": None},
              {"customer_id": "a", "timestamp": "2025-11-02", "event_type": "complaint", "resolved_at": None}]
    warnings = client.post("/score_history", json={**history, "customers": [mars], "service_events": events},
                           headers=AUTH).json()["results"][0]["warnings"]
    assert warnings[0].startswith("region 'mars' is not a value the models were trained with (") and known["region"] in warnings[0]
    assert warnings[0].endswith("); scored as unknown")
    assert warnings[1].startswith("event types counted as other: complaints (churnml's: complaint, ticket,")
    assert len(warnings) == 2
    # A JSON number for a text attribute read "5.0": a CRM's code 12 never matched the trained level "12".
    coded = {"customer_id": "a", **every, "region": 5}
    warnings = client.post("/score_history", json={**history, "customers": [coded]}, headers=AUTH).json()["results"][0]["warnings"]
    assert warnings[0].startswith("region '5' is not a value the models were trained with (")
    dataset = api.history_dataset([{"customer_id": "a", "code": 12}, {"customer_id": "b", "code": 12.5}], [], [],
                                  {"code": "categorical"})
    assert dataset.con.execute("SELECT code FROM customers ORDER BY customer_id").df()["code"].tolist() == ["12", "12.5"]


def test_score_history_reads_json_booleans_as_the_data_wrote_them() -> None:
    # JSON false for an attribute a CSV wrote true/false was "False": a value the models were not
    # trained with, scored as unknown; for a numeric one (a Parquet boolean, read as 1 and 0) a 400.
    posted = [{"customer_id": "a", "autopay": False, "paperless": True, "vip": True},
              {"customer_id": "b", "autopay": True, "paperless": False, "vip": False}]
    kinds = {"autopay": "categorical", "paperless": "categorical", "vip": "numeric"}
    dataset = api.history_dataset(posted, [], [], kinds, attribute_levels={"paperless": {"True", "False", "unknown"}})
    rows = dataset.con.execute("SELECT autopay, paperless, vip FROM customers ORDER BY customer_id").fetchall()
    assert rows == [("false", "True", 1.0), ("true", "False", 0.0)]


def test_score_history_warns_when_event_fields_the_models_read_are_left_out(client, served_store, batch) -> None:
    # Demo histories posted without resolved_at moved churn probabilities by up to 0.45 (every
    # complaint open), without satisfaction by up to 0.41 (never rated), with `warnings: []`.
    ids = served_store.dataset.con.execute(
        "SELECT customer_id FROM service_events WHERE timestamp < '2025-12-01' GROUP BY customer_id "
        "HAVING COUNT(*) FILTER (WHERE event_type = 'complaint') > 0 AND COUNT(resolved_at) > 0 "
        "AND COUNT(satisfaction) FILTER (WHERE event_type = 'survey') > 0 ORDER BY customer_id LIMIT 8"
    ).df()["customer_id"].tolist()
    ids = [i for i in ids if i in batch.index]
    body = {"as_of": served_store.as_of, **_history(served_store.dataset, ids)}
    full = client.post("/score_history", json=body, headers=AUTH).json()["results"]
    assert all(not any(w.startswith(("resolved_at", "satisfaction")) for w in r["warnings"]) for r in full)
    stripped = [{k: v for k, v in e.items() if k not in ("resolved_at", "satisfaction")} for e in body["service_events"]]
    bare = client.post("/score_history", json={**body, "service_events": stripped}, headers=AUTH).json()["results"]
    for item in bare:
        read = [w for w in item["warnings"] if w.startswith(("resolved_at", "satisfaction"))]
        assert len(read) == 2, item["warnings"]
        assert re.fullmatch(r"resolved_at not given on any of its \d+ service event\(s\) before as_of: every complaint "
                            r"counts as unresolved and resolution times as unknown, which changes the score .*", read[0])
        assert re.fullmatch(r"satisfaction not given on any of its \d+ survey\(s\) before as_of: the customer counts "
                            r"as never rated, which changes the score .*", read[1])
    moved = max(abs(a["churn_probability"] - b["churn_probability"]) for a, b in zip(full, bare))
    assert moved > 0.01


def test_a_satisfaction_score_off_the_scale_is_blanked_and_its_event_kept_as_in_batch(client, served_store, batch) -> None:
    # A helpdesk whose export writes CSAT 0 for "not rated" got scores from `churnml score`, whose validation blanks
    # such a score and keeps its event, and a 400 from /score_history for the same customers' history.
    rated = served_store.dataset.con.execute(
        "SELECT customer_id FROM service_events WHERE timestamp < ? AND satisfaction IS NOT NULL GROUP BY customer_id "
        "HAVING count(*) > 1 ORDER BY customer_id", [served_store.as_of]).df()["customer_id"]
    ids = [c for c in rated if c in batch.index][:2]
    body = {"as_of": served_store.as_of, **_history(served_store.dataset, ids)}
    scored = [i for i, e in enumerate(body["service_events"]) if "satisfaction" in e and e["timestamp"] < served_store.as_of]
    first = [i for i in scored if body["service_events"][i]["customer_id"] == ids[0]][:2]
    second = next(i for i in scored if body["service_events"][i]["customer_id"] == ids[1])
    off_scale = json.loads(json.dumps(body))
    nulls = json.loads(json.dumps(body))
    for i, value in zip([*first, second], [0, 6, 1e300]):
        off_scale["service_events"][i]["satisfaction"] = value
        nulls["service_events"][i]["satisfaction"] = None
    answered = client.post("/score_history", json=off_scale, headers=AUTH)
    assert answered.status_code == 200, answered.text
    results, expected = answered.json()["results"], client.post("/score_history", json=nulls, headers=AUTH).json()["results"]
    said = {ids[0]: (f"service_events[{first[0]}].satisfaction: 0, service_events[{first[1]}].satisfaction: 6 are outside "
                     "the scale 1-5 ([input] satisfaction_scale); the events are kept without them, as validation keeps "
                     "them in batch data (send null for a survey not answered; the server's [input] satisfaction_scale "
                     "sets another scale)"),
            ids[1]: (f"service_events[{second}].satisfaction: 1e+300 is outside the scale 1-5 ([input] satisfaction_scale); "
                     "the event is kept without it, as validation keeps it in batch data (send null for a survey not "
                     "answered; the server's [input] satisfaction_scale sets another scale)")}
    # A JSON number beyond a double's range reads as infinity, and NaN, which the JSON reader takes, is no score
    # either: blanked and kept alike, as validation keeps them in batch data and the API keeps them in an attribute
    # (1e400 was a 400 saying "NaN and Infinity are no JSON numbers", for a number).
    for i, value in zip([*first, second], ["SENT0", "SENT1", "SENT2"]):
        off_scale["service_events"][i]["satisfaction"] = value
    content = json.dumps(off_scale)
    for placeholder, sent in (("SENT0", "1e400"), ("SENT1", "NaN"), ("SENT2", "-1e400")):
        content = content.replace(f'"{placeholder}"', sent)
    answered = client.post("/score_history", content=content.encode(), headers={**AUTH, "Content-Type": "application/json"})
    assert answered.status_code == 200, answered.text
    unread = {ids[0]: (f"service_events[{first[0]}].satisfaction: infinity, service_events[{first[1]}].satisfaction: NaN are "
                       "outside the scale 1-5 ([input] satisfaction_scale; a JSON number beyond ±1.8e308, such as 1e400, "
                       "reads as infinity); the events are kept without them, as validation keeps them in batch data (send "
                       "null for a survey not answered; the server's [input] satisfaction_scale sets another scale)"),
              ids[1]: (f"service_events[{second}].satisfaction: -infinity is outside the scale 1-5 ([input] satisfaction_scale; "
                       "a JSON number beyond ±1.8e308, such as 1e400, reads as infinity); the event is kept without it, as "
                       "validation keeps it in batch data (send null for a survey not answered; the server's [input] "
                       "satisfaction_scale sets another scale)")}
    for said, results in ((said, results), (unread, answered.json()["results"])):
        for item, blank in zip(results, expected):
            # Scored as the events with no score: kept, and counted, only the score left out.
            assert {k: v for k, v in item.items() if k != "warnings"} == {k: v for k, v in blank.items() if k != "warnings"}
            assert said[item["customer_id"]] in item["warnings"], item["warnings"]
            assert [w for w in item["warnings"] if w != said[item["customer_id"]]] == blank["warnings"]


@pytest.mark.parametrize("scale", [(1, 5), (0, 10)])
def test_posted_and_exported_satisfaction_scores_are_kept_or_blanked_alike(tmp_path, scale) -> None:
    # One rule for a posted row and a file's (validate.satisfaction_kept_reason): the API refused off-scale scores
    # that validation blanks, keeping their events.
    odd = ["0", "1", "3.5", "5", "5.5", "10", "11", "-1", "1e300", "nan", "inf"]
    scores = odd + ["3"] * 100  # a few odd scores among many: no other scale for validation to stop on
    events = pd.DataFrame({"customer_id": "a", "event_type": "survey", "satisfaction": scores,
                           "timestamp": [f"2021-01-01 00:{i // 60:02d}:{i % 60:02d}" for i in range(len(scores))]})
    folder = tmp_path / "data"
    folder.mkdir()
    pd.DataFrame({"customer_id": ["a"], "signup_date": ["2020-01-01"]}).to_csv(folder / "customers.csv", index=False)
    pd.DataFrame({"customer_id": ["a"], "timestamp": ["2021-02-01"], "amount": [5]}).to_csv(folder / "transactions.csv", index=False)
    events.to_csv(folder / "service_events.csv", index=False)
    config = config_from_dict({"input": {"satisfaction_scale": list(scale)}})
    exported = validate.load_dataset(folder, config)
    posted = api.history_dataset([{"customer_id": "a"}], [], events.assign(satisfaction=events["satisfaction"].astype(float))
                                 .to_dict("records"), {}, config)
    query = "SELECT satisfaction FROM service_events ORDER BY timestamp"
    batch_scores, api_scores = (d.con.execute(query).df()["satisfaction"] for d in (exported, posted))
    assert len(batch_scores) == len(api_scores) == len(scores)   # every event kept
    pd.testing.assert_series_equal(api_scores, batch_scores)
    assert api_scores.isna().sum() == sum(not scale[0] <= float(v) <= scale[1] for v in scores) > 0
    kept = exported.summary["tables"]["service_events"]["quarantined"]
    assert kept == {validate.satisfaction_outside(scale): int(api_scores.isna().sum())}


def test_a_placeholder_signup_date_is_left_out_with_a_warning_as_in_batch(client, served_store, batch) -> None:
    # A CRM writes 2999-12-31 (or 1850-01-01) for a sign-up date it does not know: validation keeps such a customer
    # without it and `churnml score` scored them, while /score_history answered the request with a 400 ("outside the
    # years 1900-2199").
    ids = list(batch.index[::150][:3])
    body = {"as_of": served_store.as_of, **_history(served_store.dataset, ids)}
    placeholders = ["2999-12-31", "1850-01-01", "0001-01-01T00:00:00+01:00"]
    posted, unknown = json.loads(json.dumps(body)), json.loads(json.dumps(body))
    for record, placeholder, blank in zip(posted["customers"], placeholders, unknown["customers"]):
        record["signup_date"], blank["signup_date"] = placeholder, None
    answered = client.post("/score_history", json=posted, headers=AUTH)
    assert answered.status_code == 200, answered.text
    results, expected = answered.json()["results"], client.post("/score_history", json=unknown, headers=AUTH).json()["results"]
    today = pd.Timestamp(datetime.now(timezone.utc).date())
    kept = ("the customer is kept without it, as validation keeps it in batch data, and counts from their first "
            "transaction (send null when the sign-up date is not known)")
    said = [f"customers[0].signup_date: 2999-12-31 is after the data's end (today, {today:%Y-%m-%d}); {kept}",
            f"customers[1].signup_date: 1850-01-01 is before 1900; {kept}",
            f"customers[2].signup_date: 0001-01-01T00:00:00+01:00 is before 1900; {kept}"]
    assert [r["status"] for r in results] == ["ok"] * 3
    for item, blank, warning in zip(results, expected, said):
        # Scored as the customer without a sign-up date: kept, from their first transaction.
        assert {k: v for k, v in item.items() if k != "warnings"} == {k: v for k, v in blank.items() if k != "warnings"}
        assert item["warnings"] == [warning, *blank["warnings"]]
    # A sign-up date that is not a date is the request's error, as before.
    for field, value in (("signup_date", "unknown"), ("signup_date", "2999-13-31")):
        refused = client.post("/score_history", headers=AUTH,
                              json={**posted, "customers": [{**posted["customers"][0], field: value}, *posted["customers"][1:]]})
        assert refused.status_code == 400
        assert refused.json()["error"].startswith(f"customers[0].signup_date: {value!r} is not a date or datetime")


def test_posted_and_exported_signup_dates_are_kept_or_blanked_alike(tmp_path) -> None:
    # One rule for a posted customer and a file's (validate.signup_kept_reason): the API refused the sign-up dates
    # before 1900 or after the data's end that validation blanks, keeping their customers.
    signups = ["1850-01-01", "1899-12-31 23:59:59", "1900-01-01", "2020-06-01", "2021-06-30 23:59:59", "2021-07-01",
               "2150-01-01", "2999-12-31", ""]
    customers = pd.DataFrame({"customer_id": [f"c{i}" for i in range(len(signups))], "signup_date": signups})
    folder = tmp_path / "data"
    folder.mkdir()
    customers.to_csv(folder / "customers.csv", index=False)
    pd.DataFrame({"customer_id": "c3", "timestamp": pd.date_range("2021-01-01", "2021-06-30").strftime("%Y-%m-%d"),
                  "amount": 5}).to_csv(folder / "transactions.csv", index=False)
    config = config_from_dict({"input": {"data_end": "2021-06-30"}})
    exported = validate.load_dataset(folder, config)
    posted = api.history_dataset(customers.to_dict("records"), [], [], {}, config, data_end=pd.Timestamp("2021-07-01"))
    query = "SELECT customer_id, signup_date FROM customers ORDER BY customer_id"
    batch_dates, api_dates = (d.con.execute(query).df() for d in (exported, posted))
    pd.testing.assert_frame_equal(api_dates, batch_dates)
    assert batch_dates["signup_date"].isna().sum() == 6 and batch_dates["signup_date"].notna().sum() == 3  # both rules at work
    listed = exported.quarantine["customers"]
    reasons = dict(zip(listed["customer_id"], listed.iloc[:, -1]))
    assert reasons == {c: r for c, s in zip(customers["customer_id"], signups)
                       if (r := api._kept_signup(s, pd.Timestamp("2021-07-01"))) is not None}
    assert set(reasons.values()) == {validate.R_OLD_SIGNUP, validate.R_LATE_SIGNUP}


def test_a_resolved_at_of_never_is_kept_as_open_with_a_warning_as_in_batch(client, served_store, batch) -> None:
    # A helpdesk writes 2999-12-31 as the resolved_at of a case never resolved: validation keeps the event with that
    # date (open at every cutoff before it) and `churnml score` scored the customer, while /score_history answered
    # the request with a 400 ("outside the years 1900-2199").
    open_cases = served_store.dataset.con.execute(
        "SELECT customer_id FROM service_events WHERE timestamp < ? AND event_type = 'complaint' AND resolved_at IS NULL "
        "GROUP BY customer_id ORDER BY customer_id", [served_store.as_of]).df()["customer_id"]
    ids = [c for c in open_cases if c in batch.index][:2]
    assert len(ids) == 2
    body = {"as_of": served_store.as_of, **_history(served_store.dataset, ids)}
    never = {}
    for i, event in enumerate(body["service_events"]):
        if "resolved_at" not in event:  # open in the data: "never", as the helpdesk writes it
            event["resolved_at"] = "2999-12-31" if event["customer_id"] == ids[0] else "9999-12-31T23:59:59+01:00"
            never.setdefault(event["customer_id"], []).append(f"service_events[{i}].resolved_at: {event['resolved_at']}")
    answered = client.post("/score_history", json=body, headers=AUTH)
    assert answered.status_code == 200, answered.text
    today = pd.Timestamp(datetime.now(timezone.utc).date())
    for item in answered.json()["results"]:
        _check_same(item, batch.loc[item["customer_id"]])  # the batch score: the cases count as open
        dates = never[item["customer_id"]]
        shown = ", ".join(dates[:3]) + (f" and {len(dates) - 3} more" if len(dates) > 3 else "")
        several = len(dates) > 1
        assert [w for w in item["warnings"] if "resolved_at" in w] == [
            f"{shown} {'are' if several else 'is'} after the data's end (today, {today:%Y-%m-%d}); the "
            f"event{'s are' if several else ' is'} kept as still open at as_of, as validation keeps "
            f"{'them' if several else 'it'} in batch data (send null for an event not resolved)"]
    # One before 1900 is before any timestamp: refused as such, as validation sets the event aside for it.
    body["service_events"][0]["resolved_at"] = "1850-01-01"
    refused = client.post("/score_history", json=body, headers=AUTH)
    assert refused.status_code == 400
    assert refused.json()["error"].startswith("service_events[0].resolved_at: 1850-01-01 00:00:00 is before the event's timestamp")


def test_fields_of_posted_rows_that_are_not_read_are_named_not_refused(client, batch, served_store) -> None:
    # An export's transaction rows carry currency and store_id, a helpdesk's ticket_no: validation reads a file's
    # contract columns and leaves the others, while /score_history answered "Extra inputs are not permitted" for the
    # whole request. Now scored as without them, the customer's warnings naming them (a typo, resolvedAt, too).
    customer = next(c for c in batch.index if served_store.dataset.con.execute(
        "SELECT count(*) FROM service_events WHERE customer_id = ?", [c]).fetchone()[0])
    body = {"as_of": served_store.as_of, **_history(served_store.dataset, [customer]), "churn_events": []}
    plain = client.post("/score_history", json=body, headers=AUTH).json()["results"][0]
    for row in body["transactions"]:
        row.update(currency="EUR", store_id=7)
    body["service_events"][0]["resolvedAt"] = "2025-01-01"
    answered = client.post("/score_history", json=body, headers=AUTH)
    assert answered.status_code == 200, answered.text
    item = answered.json()["results"][0]
    _check_same(item, batch.loc[customer])
    said = ["transactions fields not read: currency, store_id (churnml reads customer_id, timestamp, amount, "
            "transaction_id, quantity, category, channel, as validation reads those columns of a file: a typo?)",
            "service_events field not read: resolvedAt (churnml reads customer_id, timestamp, event_type, resolved_at, "
            "satisfaction, channel, as validation reads those columns of a file: a typo?)"]
    assert [w for w in item["warnings"] if w not in plain["warnings"]] == said


def test_posted_and_exported_resolved_at_dates_after_the_data_read_alike(tmp_path) -> None:
    # One reading for a posted case and a file's: validation keeps a resolved_at after the data's end (a helpdesk's
    # 2999-12-31 for "never"), and the features count such a case as open; the API refused it.
    resolved = ["2999-12-31", "9999-12-31T23:59:59+02:00", "2021-01-09", None, "2199-06-30", "2021-03-20"]
    events = pd.DataFrame({"customer_id": ["a", "a", "b", "b", "c", "c"], "event_type": "complaint",
                           "timestamp": [f"2021-01-0{i + 1}" for i in range(6)], "resolved_at": resolved})
    customers = pd.DataFrame({"customer_id": ["a", "b", "c"], "signup_date": "2020-01-01"})
    transactions = pd.DataFrame({"customer_id": ["a", "b", "c"], "timestamp": "2021-02-01", "amount": 5})
    folder = tmp_path / "data"
    folder.mkdir()
    for name, frame in (("customers", customers), ("transactions", transactions), ("service_events", events)):
        frame.to_csv(folder / f"{name}.csv", index=False)
    exported = validate.load_dataset(folder, Config())
    assert exported.con.execute("SELECT count(*) FROM service_events").fetchone()[0] == len(events)  # every event kept
    posted = api.history_dataset(customers.to_dict("records"), transactions.to_dict("records"),
                                 [{k: v for k, v in e.items() if pd.notna(v)} for e in events.to_dict("records")], {},
                                 Config(), data_end=pd.Timestamp("2021-04-01"))
    cutoff = [pd.Timestamp("2021-03-01")]
    batch_features, api_features = (build_features(d, cutoff, Config()).set_index("customer_id").sort_index()
                                    for d in (exported, posted))
    assert list(batch_features["unresolved_complaints"]) == [2, 1, 2]  # 2999, 9999, 2199 and one after the cutoff: open
    pd.testing.assert_frame_equal(api_features[batch_features.columns], batch_features, check_dtype=False)


def test_posted_and_exported_numeric_attributes_beyond_1e12_are_kept_alike(tmp_path) -> None:
    # Validation bounds the contract's numbers (an amount beyond 1e12 is set aside) but keeps a customer attribute as
    # it is; /score_history refused a credit limit of 5e12 with a 400 for a customer `churnml score` scored.
    limits = [5e12, -2e13, 1e300, 2500.0, None]
    customers = pd.DataFrame({"customer_id": [f"c{i}" for i in range(len(limits))], "credit_limit": limits})
    folder = tmp_path / "data"
    folder.mkdir()
    customers.to_csv(folder / "customers.csv", index=False)
    pd.DataFrame({"customer_id": ["c0"], "timestamp": ["2021-02-01"], "amount": [5]}).to_csv(folder / "transactions.csv", index=False)
    exported = validate.load_dataset(folder, Config())
    assert exported.attributes == {"credit_limit": "numeric"}
    posted = api.history_dataset([{k: v for k, v in c.items() if pd.notna(v)} for c in customers.to_dict("records")], [], [],
                                 {"credit_limit": "numeric"})
    query = "SELECT customer_id, credit_limit FROM customers ORDER BY customer_id"
    pd.testing.assert_frame_equal(posted.con.execute(query).df(), exported.con.execute(query).df())
    assert not exported.quarantine.get("customers", pd.DataFrame()).shape[0]  # kept without a word, as posted


@pytest.mark.parametrize("decimal_comma, texts", [
    (False, ["1,234", "$1,080.00", "(12.50)", "184.33-", "12.5", " 7 ", "1,234,567.5 EUR", "1_000", "2_500.5"]),
    (True, ["1.234,56", "12,5", "1.234", "(12,50 €)", "7", "184,33-", "1_000"]),
])
def test_posted_and_exported_numeric_attributes_written_as_text_read_alike(tmp_path, decimal_comma, texts) -> None:
    # Validation reads a customers column's "1,234" or "$1,080.00" as the number (and with [input] decimal_comma
    # "1.234,56"); /score_history answered such a posted attribute with a 400 ("expected a number"), and read "1.234"
    # as 1.234 where validation reads 1234 with decimal_comma. DuckDB's TRY_CAST reads "1_000" as 1000 (digits grouped
    # with underscores); the API refused it ("expected a number") for a customer `churnml score` scored.
    values = texts + [str(100 * i) for i in range(100)]  # a numeric column, as most of an export's are
    customers = pd.DataFrame({"customer_id": [f"c{i}" for i in range(len(values))], "credit_limit": values})
    folder = tmp_path / "data"
    folder.mkdir()
    customers.to_csv(folder / "customers.csv", index=False)
    pd.DataFrame({"customer_id": ["c0"], "timestamp": ["2021-02-01"], "amount": [5]}).to_csv(folder / "transactions.csv", index=False)
    config = config_from_dict({"input": {"decimal_comma": decimal_comma}})
    exported = validate.load_dataset(folder, config)
    assert exported.attributes == {"credit_limit": "numeric"}
    posted = api.history_dataset(customers.to_dict("records"), [], [], {"credit_limit": "numeric"}, config)
    query = "SELECT customer_id, credit_limit FROM customers ORDER BY customer_id"
    batch_values, api_values = (d.con.execute(query).df() for d in (exported, posted))
    pd.testing.assert_frame_equal(api_values, batch_values)
    assert batch_values["credit_limit"].notna().all()  # every text read as a number


def test_score_history_warns_when_transaction_columns_the_models_count_are_left_out(client, served_store, batch) -> None:
    # A wholesaler's history posted without its product groups (category) matched batch scoring in
    # churn but not in value (1-2 % lower): distinct_categories read 0, with `warnings: []`.
    bought = set(served_store.dataset.con.execute(
        "SELECT DISTINCT customer_id FROM transactions WHERE timestamp < ?", [served_store.as_of]).df()["customer_id"])
    ids = [c for c in batch.index[::101] if c in bought][:6]
    body = {"as_of": served_store.as_of, **_history(served_store.dataset, ids)}
    assert all("category" in t and "channel" in t for t in body["transactions"])
    full = client.post("/score_history", json=body, headers=AUTH).json()["results"]
    assert all(not any(w.startswith(("category", "channel")) for w in r["warnings"]) for r in full)
    stripped = [{k: v for k, v in t.items() if k != "category"} for t in body["transactions"]]
    bare = client.post("/score_history", json={**body, "transactions": stripped}, headers=AUTH).json()["results"]
    for item in bare:
        said = [w for w in item["warnings"] if w.startswith(("category", "channel"))]
        assert len(said) == 1, item["warnings"]
        assert re.fullmatch(r"category not given on any of its \d+ transaction\(s\) before as_of: distinct_categories, "
                            r"which the models read, counts 0 category values for it \(send each transaction's category\)",
                            said[0])
    # A category sent on some of a customer's transactions is given: nothing to warn about.
    seen: set[str] = set()
    some = []
    for row in body["transactions"]:  # the category on each customer's first row only
        some.append(row if row["customer_id"] not in seen else {k: v for k, v in row.items() if k != "category"})
        seen.add(row["customer_id"])
    partly = client.post("/score_history", json={**body, "transactions": some}, headers=AUTH).json()["results"]
    assert not any(w.startswith("category") for r in partly for w in r["warnings"])


def test_score_history_answers_closed_accounts_as_not_in_the_population(client, served_store, batch) -> None:
    # A request could not say that an account had closed, so closed accounts were scored as live,
    # while batch scoring (and the models' training) leave them out from their churn event on.
    customer = batch.index[0]
    body = {"as_of": served_store.as_of, **_history(served_store.dataset, [customer])}

    def post(closures: list[dict]) -> dict:
        response = client.post("/score_history", json={**body, "churn_events": closures}, headers=AUTH)
        assert response.status_code == 200, response.text
        return response.json()["results"][0]

    live = post([])
    _check_same(live, batch.loc[customer])
    assert api.NO_CLOSURES_SENT not in live["warnings"]
    # The models count closures as churn: a request that does not send the field cannot say an
    # account closed, and each result says so; [] (none closed) does not warn.
    unsent = client.post("/score_history", json=body, headers=AUTH).json()["results"][0]
    assert unsent["warnings"][-1] == api.NO_CLOSURES_SENT
    assert {k: v for k, v in unsent.items() if k != "warnings"} == {k: v for k, v in live.items() if k != "warnings"}
    closed = post([{"customer_id": customer, "timestamp": "2025-11-15T10:00:00"}])
    assert closed["status"] == "not_found" and closed["churn_probability"] is None
    assert closed["detail"] == "Not a customer at 2025-12-01: the account closed on 2025-11-15 (churn_events), before it."
    # On or after as_of: still a customer, scored as one, but not without a word: a call centre posting a member
    # who had given notice for next month got an ordinary risk score, and nothing said the closure was not counted.
    notice = post([{"customer_id": customer, "timestamp": "2026-01-31T00:00:00"},
                   {"customer_id": customer, "timestamp": "2025-12-01T00:00:00"}])
    assert {k: v for k, v in notice.items() if k != "warnings"} == {k: v for k, v in live.items() if k != "warnings"}
    assert [w for w in notice["warnings"] if w not in live["warnings"]] == [
        "churn event on 2025-12-01, on or after as_of 2025-12-01, not counted: the account is scored as open, as it was "
        "before as_of (to leave out accounts whose customers have given notice, date each churn event when notice is given)"]
    response = client.post("/score_history", json={**body, "churn_events": [{"customer_id": "x", "timestamp": "2025-11-15"}]},
                           headers=AUTH)
    assert response.status_code == 400
    assert "churn_events[0]: customer_id 'x' is not among the posted customers" in response.json()["error"]


def test_score_history_says_the_fields_of_a_churn_event_it_does_not_read(client, served_store, batch) -> None:
    # A CRM's closures carry a type (voluntary, non-payment) and a reason: validation notes such columns
    # of a churn_events file (every row counts as churn, whatever they say), but a request holding them
    # was refused, or, from the library, scored without a word. They are now named in the customer's
    # warnings, as other fields posted and not read are, and the score is the one without them.
    customer, other = batch.index[0], batch.index[1]
    body = {"as_of": served_store.as_of, **_history(served_store.dataset, [customer, other])}

    def post(closures: list[dict]) -> dict:
        response = client.post("/score_history", json={**body, "churn_events": closures}, headers=AUTH)
        assert response.status_code == 200, response.text
        return {item["customer_id"]: item for item in response.json()["results"]}

    plain = post([{"customer_id": customer, "timestamp": "2025-11-15T10:00:00"}])
    typed = post([{"customer_id": customer, "timestamp": "2025-11-15T10:00:00", "type": "involuntary", "reason": "non-payment"}])
    assert typed[customer]["status"] == "not_found"  # it closed the account all the same: churn
    assert {k: v for k, v in typed[customer].items() if k != "warnings"} == {k: v for k, v in plain[customer].items() if k != "warnings"}
    assert [w for w in typed[customer]["warnings"] if w not in plain[customer]["warnings"]] == [
        "churn_events fields not read: reason, type. Every posted churn event is an account closure that counts as churn, "
        "whatever they say (an involuntary one, for non-payment, as much as a cancellation); to leave a kind out, do not "
        "post its events"]
    assert typed[other] == plain[other]  # only the customer whose events carry them
    # One field, after as_of: the account is scored as open, and both warnings say why.
    later = post([{"customer_id": customer, "timestamp": "2026-01-31T00:00:00", "type": "cancellation"}])[customer]
    assert later["status"] == "ok"
    assert any(w.startswith("churn event on 2026-01-31, on or after as_of") for w in later["warnings"])
    assert "churn_events field not read: type. Every posted churn event is an account closure that counts as churn, " \
           "whatever it says" in " ".join(later["warnings"])


def test_score_history_refuses_an_as_of_in_the_future(client) -> None:
    future = (pd.Timestamp.now(tz="UTC") + pd.Timedelta(days=30)).strftime("%Y-%m-%d")
    body = {"as_of": future, "customers": [{"customer_id": "a"}],
            "transactions": [{"customer_id": "a", "timestamp": "2025-09-02", "amount": 1}]}
    response = client.post("/score_history", json=body, headers=AUTH)
    assert response.status_code == 400, response.text
    assert response.json()["error"].startswith(f"as_of: {future} is in the future.")


def test_score_history_refuses_an_as_of_before_the_models_training_data(client) -> None:
    # As of 1990, with a 1989 history, a customer got 200 and scores from models that learned from 2025's
    # customers, valued against the cut points of the snapshot's population: numbers with nothing behind them.
    cutoffs = tracking.load_models("champion").metadata["cutoffs"]
    first = min(pd.Timestamp(c) for split in cutoffs.values() for c in split)

    def post(as_of: str):
        return client.post("/score_history", headers=AUTH, json={
            "as_of": as_of, "customers": [{"customer_id": "a", "signup_date": "1985-01-01"}],
            "transactions": [{"customer_id": "a", "timestamp": "1989-06-01", "amount": 30}],
            "service_events": [], "churn_events": []})

    for as_of in ("1990-01-01", f"{first - pd.Timedelta(days=1):%Y-%m-%d}"):
        refused = post(as_of)
        assert refused.status_code == 400, refused.text
        assert refused.json()["error"] == (
            f"as_of: {as_of} is before the models' training data: they learned how customers behave from their first "
            f"training cutoff, {first:%Y-%m-%d}, on, and know nothing of earlier dates. Use an as_of from "
            f"{first:%Y-%m-%d} on, usually the day after the history you post ends.")
    taken = post(f"{first:%Y-%m-%d}")
    assert taken.status_code == 200 and taken.json()["results"][0]["status"] == "ok", taken.text


def test_retention_list_reports_the_skipped_segments(client, served_store) -> None:
    summary = client.post("/retention_list", json={}, headers=AUTH).json()["summary"]
    expected = retention_list(io.read_table(served_store.scores), max_customers=1000, config=Config()).summary
    assert summary["skipped"] == expected.skipped and set(summary["skipped"]) <= {"loyal_high_value"}
    named = client.post("/retention_list", json={"segments": ["loyal_high_value"]}, headers=AUTH).json()["summary"]
    assert named["skipped"] == {}


def test_retention_list_says_when_the_segments_asked_for_leave_out_those_split_from_dormant(client, served_store) -> None:
    # {"segments": ["dormant"]} left out dormant's new, growing and stable customers, which have
    # segments of their own since the split, without a word; the CLI's --segment dormant alike.
    options = {"segments": ["dormant"], "contact_cost": 0.5, "success_rate": 0.3}
    body = client.post("/retention_list", json=options, headers=AUTH).json()
    scores = io.read_table(served_store.scores)
    paying = scores[scores["segment"].isin(["new_customer", "low_value_active"])
                    & (scores["value_at_risk"] * 0.3 - 0.5 > 0.005)]["segment"].value_counts()
    assert paying.sum() > 0 and {c["segment"] for c in body["customers"]} == {"dormant"}
    said = [text for text in body["warnings"] if text.startswith("The segments asked for include dormant, but its ")]
    assert len(said) == 1 and f": {paying.sum():,} of them would pay off" in said[0]
    if len(paying) > 1:  # each segment's count beside the total
        assert all(f"{segment} {count:,}" in said[0] for segment, count in paying.items())
    assert body["warnings"] == list(retention_list(scores, max_customers=1000, config=Config(), **options).summary.warnings)
    # Asked for too: nothing to say.
    everything = client.post("/retention_list", headers=AUTH,
                             json={**options, "segments": ["dormant", "new_customer", "low_value_active"]}).json()
    assert not any(text.startswith("The segments asked for include") for text in everything["warnings"])


def test_docs_page_has_no_third_party_tracking_and_the_schema_has_the_key(client) -> None:
    page = client.get("/")
    assert page.status_code == 200 and "swagger" in page.text.lower()
    assert "googletagmanager" not in page.text and "GTM-" not in page.text
    assert int(page.headers["content-length"]) == len(page.content)
    spec = client.get("/docs.json").json()
    assert spec["components"]["securitySchemes"]["bearer"] == {
        "type": "http", "scheme": "bearer", "description": "The API key: CHURNML_API_KEY of the server."}
    assert spec["info"]["title"] == "churnml" and "Authorization: Bearer" in spec["info"]["description"]
    score = spec["paths"]["/score"]["post"]
    assert score["security"] == [{"bearer": []}] and {"401", "413", "415"} <= set(score["responses"])
    assert "security" not in spec["paths"].get("/livez", {}).get("get", {})
    # The body is required (an empty one is a 400), and optional fields may be null, as the route takes them.
    listing = spec["paths"]["/retention_list"]["post"]["requestBody"]
    assert listing["required"] is True
    fields = listing["content"]["application/json"]["schema"]["properties"]
    assert fields["budget"].get("nullable") is True and fields["min_value"].get("nullable") is True
    assert client.post("/retention_list", json={"budget": 500, "min_value": None}, headers=AUTH).status_code == 200


def test_control_characters_in_logged_paths_are_escaped(service_module) -> None:
    # `/x%0A2026-... [ERROR] FAKE` wrote a forged line into the access log, without a key.
    record = logging.LogRecord("bentoml.access", logging.INFO, "", 0, "%s (path=%s)", ("127.0.0.1", "/x\n[ERROR] FAKE\r"), None)
    assert service_module._EscapeControlCharacters().filter(record)
    assert record.getMessage() == "127.0.0.1 (path=/x\\n[ERROR] FAKE\\r)" and "\n" not in record.getMessage()
    # Unicode line breaks split a line for Python's splitlines(); a right-to-left override disguises it.
    record = logging.LogRecord("bentoml.access", logging.INFO, "", 0, "%s", ("/y\u2028[ERROR] forged\x85x\u202etxt.exe",), None)
    assert service_module._EscapeControlCharacters().filter(record)
    assert record.getMessage() == "/y\\u2028[ERROR] forged\\x85x\\u202etxt.exe" and len(record.getMessage().splitlines()) == 1


def test_control_characters_in_a_logged_tracebacks_messages_are_escaped(service_module) -> None:
    # A failed request's traceback is logged with its exception's message, which may quote a header, a path or
    # a posted value: a newline there forged a log line, an escape sequence recoloured the terminal.
    try:
        try:
            raise LookupError("C1\x1b[31m")
        except LookupError as exc:
            raise ValueError("no customer 'C1\n2026-01-01 [ERROR] forged'") from exc
    except ValueError:
        record = logging.LogRecord("bentoml.serve", logging.ERROR, "", 0, "Exception on %s [%s]", ("/score", "POST"),
                                   sys.exc_info())
    plain = logging.Formatter().format(logging.makeLogRecord(record.__dict__))
    assert service_module._EscapeControlCharacters().filter(record)
    text = logging.Formatter().format(record)
    assert "\x1b" not in text and "\n2026-01-01 [ERROR]" not in text
    assert "ValueError: no customer 'C1\\n2026-01-01 [ERROR] forged'" in text and "LookupError: C1\\x1b[31m\n" in text
    # Otherwise the traceback is the one logging writes: the frames, the chain, the line breaks between them.
    assert text == plain.replace("\x1b", "\\x1b").replace("C1\n2026", "C1\\n2026")


def test_openapi_documents_every_field_with_an_example(client) -> None:
    spec = client.get("/docs.json").json()
    assert {"/score", "/score_history", "/retention_list", "/model"} <= set(spec["paths"])
    schemas = spec["components"]["schemas"]
    for name in ("ScoreRequest", "ScoreHistoryRequest", "RetentionListRequest", "TransactionRow", "ServiceEventRow",
                 "ChurnEventRow"):
        schema = schemas[name]
        for field, prop in schema["properties"].items():
            assert prop.get("description") and "example" in prop, (name, field)
    # It said "Value lost if the customer churns": it is an expected loss, churn_probability x value if retained.
    assert "service" in schemas["CustomerScore"]["properties"]["reason_topics"]["description"]
    assert "example" in schemas["RetentionRow"]["properties"]["talking_point"]
    summary = schemas["RetentionSummary"]["properties"]
    assert "control group" in summary["by_talking_point"]["description"] and summary["without_talking_point"]["description"]
    assert set(schemas["TalkingPointCount"]["properties"]) == {"talking_point", "customers"}
    # /model's value Gini (0.9397 on an integrator's run) is not the one `churnml models` lists (0.9470): it says which.
    metrics = schemas["ModelInfo"]["properties"]["test_metrics"]["description"]
    assert "expected value's over every test customer" in metrics and "`churnml models`" in metrics
    for name in ("CustomerScore", "RetentionRow"):
        described = schemas[name]["properties"]["value_at_risk"]["description"]
        assert described.startswith("Expected loss over the horizon: churn_probability x ") and "lost if" not in described
        # Every segment key, the ones split from dormant by lifecycle stage included.
        segment = schemas[name]["properties"]["segment"]["description"]
        assert all(key in segment for key in SEGMENTS) and "low_value_active" in segment, (name, segment)


def test_openapi_answers_require_every_field_they_always_carry(client, batch) -> None:
    # Every answer carries each of its fields (null or [] when there is nothing), but the schema had 43 of them,
    # `reasons` and `warnings` among them, as optional, so a client generated from it made them optional too.
    schemas = client.get("/docs.json").json()["components"]["schemas"]

    def fields_of(answer, name: str) -> None:
        properties = schemas[name]["properties"]
        assert set(answer) == set(properties), name  # no field left out, none undocumented
        assert set(schemas[name].get("required", [])) == set(properties), name
        for field, prop in properties.items():
            ref = prop.get("$ref") or (prop.get("items") or {}).get("$ref")
            if ref and answer[field] is not None:
                for inner in answer[field] if isinstance(answer[field], list) else [answer[field]]:
                    fields_of(inner, ref.rsplit("/", 1)[-1])

    found = client.post("/score", headers=AUTH, json={"customer_ids": [batch.index[0], "nobody"]}).json()
    assert [item["status"] for item in found["results"]] == ["ok", "not_found"]
    fields_of(found, "ScoreResponse")
    listing = client.post("/retention_list", headers=AUTH, json={"max_customers": 20, "holdout": 0.2,
                                                                  "attributes": ["region"]}).json()
    assert listing["customers"] and listing["summary"]["by_talking_point"]
    fields_of(listing, "RetentionListResponse")
    fields_of(client.get("/model", headers=AUTH).json(), "ModelInfo")


def test_every_error_has_the_one_body_the_schema_gives_it(client) -> None:
    # The schema gave errors three bodies (BentoML's InvalidArgument and NotFound with a `detail` no answer has,
    # /model's ErrorResponse with a `detail`, the guard's inline one), listed a 404 no route answers, and said
    # nothing of 405, 500, 504 or what /readyz answers before it is ready.
    spec = client.get("/docs.json").json()
    schemas = spec["components"]["schemas"]
    assert schemas["Error"]["required"] == ["error"] and set(schemas["Error"]["properties"]) == {"error"}
    assert not {"InvalidArgument", "NotFound", "InternalServerError", "ErrorResponse"} & set(schemas)
    for path, method, codes in (("/score", "post", {"400", "401", "413", "415", "500", "504"}),
                                ("/score_history", "post", {"400", "401", "413", "415", "500", "504"}),
                                ("/retention_list", "post", {"400", "401", "413", "415", "500", "504"}),
                                ("/model", "get", {"401", "500", "504"})):
        responses = spec["paths"][path][method]["responses"]
        assert set(responses) == {"200", *codes}, (path, set(responses))
        for code in codes:
            assert responses[code]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Error"}
            assert responses[code]["description"], (path, code)
    assert "405" in spec["info"]["description"] and "`Allow` header" in spec["info"]["description"]
    assert "never answers 503" in spec["paths"]["/readyz"]["get"]["description"]
    # A validation error, a bad date, a body that is not JSON, an unknown path, a wrong method, no key, a wrong
    # content type: each body is that schema's, the field (or what to send) named.
    json_type = {**AUTH, "Content-Type": "application/json"}
    answers = [
        client.post("/score", headers=AUTH, json={"customer_ids": [7]}),
        client.post("/score_history", headers=AUTH, json={"as_of": "2025-13-01", "customers": [{"customer_id": "a"}]}),
        client.post("/score", headers=json_type, content=b"{'customer_ids': ['C1']}"),
        client.get("/customers/C1", headers=AUTH),
        client.delete("/score", headers=AUTH),
        client.post("/score", json={"customer_ids": ["C1"]}),
        client.post("/score", headers={**AUTH, "Content-Type": "text/plain"}, content=b'{"customer_ids": ["C1"]}'),
    ]
    assert [a.status_code for a in answers] == [400, 400, 400, 404, 405, 401, 415]
    for answer in answers:
        assert answer.headers["content-type"].startswith("application/json")
        body = answer.json()
        assert list(body) == ["error"] and isinstance(body["error"], str) and len(body["error"]) > 20, body
    assert answers[0].json()["error"].startswith("customer_ids[0]: ")
    assert answers[1].json()["error"].startswith("as_of: '2025-13-01' is not a date. Use the form YYYY-MM-DD")
    assert answers[4].headers["allow"] == "POST"


def test_openapi_states_the_limits_and_vocabularies_the_server_enforces(client, batch) -> None:
    # A client generated from /docs.json checks what it sends against the schema, and an integrator reads it: the
    # limits the server enforced (1,000 ids, max_customers, non-negative budgets, holdout up to 0.5, the segment
    # keys) were in no schema, and an id list over its limit was a 413 where every other invalid field is a 400.
    spec = client.get("/docs.json").json()
    schemas = spec["components"]["schemas"]

    def body(path: str) -> dict:
        return spec["paths"][path]["post"]["requestBody"]["content"]["application/json"]["schema"]["properties"]

    limit = Config().serving.max_customer_ids
    assert body("/score")["customer_ids"]["maxItems"] == limit == body("/score_history")["customers"]["maxItems"]
    listing = body("/retention_list")
    bounds = {name: {k: v for k, v in listing[name].items() if k in ("minimum", "maximum", "exclusiveMinimum")}
              for name in ("budget", "max_customers", "contact_cost", "success_rate", "holdout")}
    # OpenAPI 3.0's exclusiveMinimum is a flag beside minimum (pydantic writes 2020-12's number).
    assert bounds == {"budget": {"minimum": 0}, "max_customers": {"minimum": 1, "maximum": limit},
                      "contact_cost": {"minimum": 0}, "success_rate": {"minimum": 0, "exclusiveMinimum": True, "maximum": 1},
                      "holdout": {"minimum": 0, "maximum": 0.5}}
    assert listing["segments"]["items"]["enum"] == list(SEGMENTS)
    # No bounds on a survey score: one off the scale is blanked and its event kept, which a client checking bounds
    # would not send. The description names the scale.
    satisfaction = json.dumps(schemas["ServiceEventRow"]["properties"]["satisfaction"])
    assert "minimum" not in satisfaction and "maximum" not in satisfaction
    assert "[input] satisfaction_scale, 1-5; null = not answered. A score off the scale" in satisfaction
    # The server agrees with the schema at each bound: a value on it is taken (unless exclusive), one past it is a 400.
    for name, bound in bounds.items():
        step = 1 if listing[name]["type"] == "integer" else 0.01
        edges = [(bound["minimum"], 400 if bound.get("exclusiveMinimum") else 200), (bound["minimum"] - step, 400)]
        if "maximum" in bound:
            edges += [(bound["maximum"], 200), (bound["maximum"] + step, 400)]
        for value, status in edges:
            response = client.post("/retention_list", headers=AUTH, json={name: value})
            assert response.status_code == status, (name, value, response.text)
            assert status == 200 or response.json()["error"].startswith(f"{name}: Input should be")
    ids = [f"X{i}" for i in range(limit)]
    assert client.post("/score", headers=AUTH, json={"customer_ids": ids}).status_code == 200
    assert client.post("/score", headers=AUTH, json={"customer_ids": [*ids, "one more"]}).status_code == 400
    # The answers' vocabularies are enums, and the served values are among them.
    score = schemas["CustomerScore"]["properties"]
    enums = {field: score[field]["enum"] for field in ("risk_tier", "value_tier", "segment", "lifecycle_stage")}
    # null for a not_found item: OpenAPI 3.0 lists it in the enum of a nullable field
    assert enums == {"risk_tier": ["low", "medium", "high", None], "value_tier": ["low", "medium", "high", None],
                     "segment": [*SEGMENTS, None], "lifecycle_stage": ["new", "growing", "stable", "declining", "lapsed", None]}
    results = client.post("/score", headers=AUTH, json={"customer_ids": list(batch.index[:200])}).json()["results"]
    for field, allowed in enums.items():
        assert {item[field] for item in results} <= set(allowed), field
    assert {t for item in results for t in item["reason_topics"]} <= set(score["reason_topics"]["items"]["enum"])
    assert schemas["RetentionSummary"]["properties"]["limited_by"]["enum"] == ["budget", "max_customers", "none"]
    # A not_found item's versions are null, as its scores: the schema said only "Registry version of the churn model".
    assert all("null for a not_found item" in score[f"{m}_model_version"]["description"] for m in ("churn", "value"))



_OPENAPI_30_KEYWORDS = {
    "title", "multipleOf", "maximum", "exclusiveMaximum", "minimum", "exclusiveMinimum", "maxLength", "minLength",
    "pattern", "maxItems", "minItems", "uniqueItems", "maxProperties", "minProperties", "required", "enum", "type",
    "allOf", "oneOf", "anyOf", "not", "items", "properties", "additionalProperties", "description", "format", "default",
    "nullable", "discriminator", "readOnly", "writeOnly", "xml", "externalDocs", "example", "deprecated", "$ref"}
"""The Schema Object's fields in OpenAPI 3.0 (3.0.3, 4.7.24): JSON Schema's ``null`` type, ``const``,
``examples`` and ``$defs`` are 3.1's."""


def _openapi_30_problems(schema: Any, where: str) -> Iterator[str]:
    """What in ``schema`` (a Schema Object, walked into its subschemas) OpenAPI 3.0 does not allow."""
    if not isinstance(schema, dict):
        yield f"{where}: a schema is an object, got {schema!r}"
        return
    yield from (f"{where}: {key} is not a 3.0 schema keyword" for key in schema
                if key not in _OPENAPI_30_KEYWORDS and not key.startswith("x-"))
    if "$ref" in schema and len(schema) > 1:
        yield f"{where}: 3.0 ignores what stands beside $ref"
    if schema.get("type") not in (None, "integer", "number", "string", "boolean", "array", "object"):
        yield f"{where}: type {schema['type']!r}"
    if schema.get("type") == "array" and "items" not in schema:
        yield f"{where}: an array without items"
    if schema.get("nullable") and "type" not in schema and "allOf" not in schema:
        yield f"{where}: nullable without a type"  # 3.0 reads it only beside one
    if schema.get("nullable") and isinstance(schema.get("enum"), list) and None not in schema["enum"]:
        yield f"{where}: a nullable enum without null"
    yield from (f"{where}: {flag} is a flag in 3.0" for flag in ("exclusiveMinimum", "exclusiveMaximum")
                if flag in schema and not isinstance(schema[flag], bool))
    dated = {"date": r"\d{4}-\d{2}-\d{2}", "date-time": r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})"}
    if schema.get("format") in dated and isinstance(schema.get("example"), str):
        if not re.fullmatch(dated[schema["format"]], schema["example"]):
            yield f"{where}: example {schema['example']!r} is not a {schema['format']} (RFC 3339)"
    for key in ("allOf", "oneOf", "anyOf"):
        for i, member in enumerate(schema.get(key, [])):
            yield from _openapi_30_problems(member, f"{where}.{key}[{i}]")
    for key in ("items", "not"):
        if key in schema:
            yield from _openapi_30_problems(schema[key], f"{where}.{key}")
    if isinstance(schema.get("additionalProperties"), dict):
        yield from _openapi_30_problems(schema["additionalProperties"], f"{where}.additionalProperties")
    for name, prop in (schema.get("properties") or {}).items():
        yield from _openapi_30_problems(prop, f"{where}.{name}")


def _media_schemas(node: Any, where: str) -> Iterator[tuple[str, Any]]:
    """Every ``schema`` of the paths (bodies, answers, parameters), with where it is."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "schema":
                yield where, value
            else:
                yield from _media_schemas(value, f"{where}/{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _media_schemas(value, f"{where}/{i}")


def test_openapi_document_is_the_openapi_30_it_declares(client) -> None:
    # The document says `openapi: 3.0.2` (BentoML 1.4 writes it so) but carried pydantic's JSON Schema 2020-12:
    # 49 optional fields as anyOf [X, {type: null}], which 3.0 does not have (a 3.0 validator stopped at "Unknown
    # type 'null'", generators typed them as a union). Timestamps said format: date-time, RFC 3339's, whose offset
    # their own examples (2025-10-20T16:40:00, a sign-up date 2024-03-14) lack; and BentoML's TaskStatusResponse,
    # of task endpoints this service has none of, made a class in a generated client.
    spec = client.get("/docs.json").json()
    assert spec["openapi"].startswith("3.0.")
    schemas = spec["components"]["schemas"]
    problems = [problem for name, schema in schemas.items() for problem in _openapi_30_problems(schema, name)]
    problems += [problem for where, schema in _media_schemas(spec["paths"], "paths")
                 for problem in _openapi_30_problems(schema, where)]
    assert not problems, problems[:10]
    referenced = set(re.findall(r'"#/components/schemas/([^"]+)"', json.dumps(spec)))
    assert referenced <= set(schemas) and "TaskStatusResponse" not in schemas
    # Optional values read as null where they may be: an answer's, a request's.
    score = schemas["CustomerScore"]["properties"]
    assert score["churn_probability"]["nullable"] is True and score["churn_probability"]["type"] == "number"
    assert schemas["ServiceEventRow"]["properties"]["resolved_at"] == {**schemas["ServiceEventRow"]["properties"]["resolved_at"],
                                                                      "type": "string", "nullable": True}
    attribute = schemas["CustomerRecord"]["additionalProperties"]["anyOf"]
    assert [member["type"] for member in attribute] == ["string", "number", "boolean"] and all(m["nullable"] for m in attribute)
    # The timestamp fields take a date as well as a date and time (the server reads both), and say no format that
    # refuses either; as_of is a date, and says so.
    timestamps = [schemas["CustomerRecord"]["properties"]["signup_date"], schemas["TransactionRow"]["properties"]["timestamp"],
                  schemas["ServiceEventRow"]["properties"]["timestamp"], schemas["ServiceEventRow"]["properties"]["resolved_at"],
                  schemas["ChurnEventRow"]["properties"]["timestamp"]]
    assert all("format" not in field and "ISO 8601" in field["description"] for field in timestamps)
    assert schemas["ScoreHistoryRequest"]["properties"]["as_of"]["format"] == "date"
    dated = {"as_of": "2025-12-01", "customers": [{"customer_id": "d", "signup_date": "2024-03-14"}],
             "transactions": [{"customer_id": "d", "timestamp": "2025-10-20", "amount": 5},
                              {"customer_id": "d", "timestamp": "2025-11-02T10:00:00+01:00", "amount": 5}]}
    assert client.post("/score_history", headers=AUTH, json=dated).json()["results"][0]["status"] == "ok"


# -- start-up ---------------------------------------------------------------------------------


def _free_port() -> str:
    """A port free now: `churnml serve` checks its port first, so a test of what it refuses later must
    not depend on the default 3000 being free on the machine."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return str(probe.getsockname()[1])


def _serve_stopped_at_the_last_port_check(arguments: list[str], monkeypatch: pytest.MonkeyPatch):
    """`churnml serve ARGUMENTS --port P` on a port P that is free when the command starts and that
    another program takes while it loads the models and the snapshot: the command passes its first
    port check, says all it says before the server starts, and stops at the second check (exit 2)
    instead of replacing this process with a server."""
    import socket

    port = int(_free_port())
    taker = socket.socket()
    check_startup = api.check_startup

    def check_then_take(*args, **kwargs):
        checked = check_startup(*args, **kwargs)
        taker.bind(("127.0.0.1", port))
        taker.listen()
        return checked

    def started(*args, **kwargs):  # the last check missing: this would replace pytest with a server
        raise AssertionError("churnml serve started a server on a port in use")

    with monkeypatch.context() as patch, taker:
        patch.setattr(api, "check_startup", check_then_take)
        patch.setattr(os, "execve", started)
        result = CliRunner().invoke(get_app(), [*arguments, "--port", str(port)])
        assert taker.getsockname()[1] == port, "the command stopped before loading the models"
    return result


def test_serve_refuses_a_snapshot_as_of_a_date_before_the_models_training_data(served_store, tmp_path, monkeypatch) -> None:
    # A snapshot as of a date before the models' first training cutoff (one `churnml serve --data --as-of` wrote, or
    # one left from before the models were trained) was served: /score answered 200 with scores from models that
    # never saw such a time, which `churnml score` refuses to write.
    from churnml.labels import build_scoring_frame, first_training_cutoff

    monkeypatch.setenv("MLFLOW_TRACKING_URI", served_store.tracking_uri)

    def started(*args, **kwargs):  # this would replace pytest with a server
        raise AssertionError("churnml serve started a server")

    monkeypatch.setattr(os, "execve", started)
    models = tracking.load_models("champion")
    first = first_training_cutoff(models.metadata)
    before = first - pd.Timedelta(days=1)
    early = io.write_snapshot(build_scoring_frame(served_store.dataset, before, Config()), before, tmp_path / "early")
    refusal = (f"is as of {before:%Y-%m-%d}, before the models' training data: they learned how customers behave from "
               f"their first training cutoff, {first:%Y-%m-%d}, on, and know nothing of earlier dates (`churnml score` "
               f"refuses that as-of date). Write a snapshot as of {first:%Y-%m-%d} or later with `churnml score DATA "
               f"--as-of DATE --out FILE`, or serve models trained as of {before:%Y-%m-%d} with --alias VERSION (instead "
               "of 'champion').")
    runner = CliRunner()
    result = runner.invoke(get_app(), ["serve", "--snapshots", str(early.parent), "--port", _free_port()])
    assert result.exit_code == 2, result.output
    assert " ".join(result.stderr.split()) == f"Error: Snapshot {early} {refusal}"
    # The worker refuses it too (a snapshot written between that check and its start): the server stops with it.
    with pytest.raises(DataError) as refused:
        api.ScoringService(models, io.read_table(early), before, snapshot_path=early)
    assert str(refused.value) == f"Snapshot {early} {refusal}"
    # --data with such an --as-of: refused as `churnml score` refuses it, before the data is read; nothing written.
    fresh = tmp_path / "fresh"
    result = runner.invoke(get_app(), ["serve", "--snapshots", str(fresh), "--data", str(served_store.data), "--as-of",
                                       f"{before:%Y-%m-%d}", "--port", _free_port()])
    assert result.exit_code == 2, result.output
    assert " ".join(result.stderr.split()).startswith(
        f"Error: --as-of {before:%Y-%m-%d} is before the models' training data: they learned how customers behave from "
        f"their first training cutoff, {first:%Y-%m-%d}, on")
    assert not fresh.exists()
    # The first training cutoff itself is served.
    assert api.ScoringService(models, build_scoring_frame(served_store.dataset, first, Config()), first).as_of == first


def test_serve_refuses_to_start_without_snapshot_or_model(served_store, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", served_store.tracking_uri)
    runner = CliRunner()
    result = runner.invoke(get_app(), ["serve", "--snapshots", str(tmp_path / "none"), "--port", _free_port()])
    assert result.exit_code == 2
    assert "No feature snapshot in" in result.stderr and "Run `churnml score DATA --as-of DATE" in result.stderr
    result = runner.invoke(get_app(), ["serve", "--snapshots", str(served_store.snapshots), "--alias", "gold", "--port", _free_port()])
    assert result.exit_code == 2
    assert "No registered model churnml-churn with alias or version 'gold'" in result.stderr
    assert "Run `churnml train DATA --as-of DATE` first" in result.stderr


def test_serve_says_when_it_would_read_posted_histories_otherwise_than_training_read_the_data(
        use_trained_store, tmp_path, monkeypatch) -> None:
    # Trained with an NPS survey on 0-10 and the CRM's own event types, then served as the README's
    # `churnml serve --port 3000` shows, without --config: a posted score of 9 was refused as
    # outside 1-5 and "Billing complaint" counted as other, with nothing at start-up to say why.
    trained = Config()  # the trained store's models were trained with the defaults
    served = tmp_path / "served.toml"
    served.write_text('[input]\nsatisfaction_scale = [0, 10]\n\n[input.event_types]\n"Billing complaint" = "complaint"\n',
                      encoding="utf-8")
    same = tmp_path / "same.toml"
    same.write_text("[input]\nsatisfaction_scale = [%g, %g]\n" % trained.input.satisfaction_scale, encoding="utf-8")
    snapshots = tmp_path / "snapshots"
    arguments = ["serve", "--snapshots", str(snapshots), "--data", str(use_trained_store.data), "--as-of",
                 use_trained_store.as_of]
    differs = _serve_stopped_at_the_last_port_check([*arguments, "--config", str(served)], monkeypatch)
    agrees = _serve_stopped_at_the_last_port_check([*arguments, "--config", str(same)], monkeypatch)
    assert differs.exit_code == 2 and "is in use" in differs.stderr
    text = " ".join(differs.stderr.split())
    assert ("Warning: POST /score_history reads posted histories otherwise than training read the data the models "
            "learned on: satisfaction_scale [0, 10] here, [1, 5] in training; [input.event_types] maps 1 type "
            "('Billing complaint') here, no types in training") in text
    assert "start the server with the config the models were trained with" in text
    assert agrees.exit_code == 2 and "/score_history reads posted histories" not in agrees.stderr


def test_serve_checks_the_snapshot_the_models_and_the_port_before_starting(served_store, tmp_path, monkeypatch) -> None:
    # Each of these used to start a server whose worker failed, was restarted, failed... forever.
    import socket

    monkeypatch.setenv("MLFLOW_TRACKING_URI", served_store.tracking_uri)
    runner = CliRunner()
    snapshot = io.latest_snapshot(served_store.snapshots)
    damaged = tmp_path / "damaged"
    damaged.mkdir()
    (damaged / snapshot.name).write_bytes(b"junk")
    result = runner.invoke(get_app(), ["serve", "--snapshots", str(damaged), "--port", _free_port()])
    assert result.exit_code == 2 and f"Snapshot {damaged / snapshot.name} cannot be read" in result.stderr
    narrow = tmp_path / "narrow"
    narrow.mkdir()
    io.read_table(snapshot).drop(columns=["recency_vs_usual_gap"]).to_parquet(narrow / snapshot.name)
    result = runner.invoke(get_app(), ["serve", "--snapshots", str(narrow), "--port", _free_port()])
    assert result.exit_code == 2
    assert (f"Error: Snapshot {narrow / snapshot.name} lacks column(s) recency_vs_usual_gap that the models 'champion' need"
            in " ".join(result.stderr.split()))
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        # A port in use is refused first: it came after loading the models and writing the --data
        # snapshot (9-14 s on 2 cores, for nothing). The alias does not exist, the snapshot folder
        # is new: neither is looked at.
        fresh = tmp_path / "fresh"
        result = runner.invoke(get_app(), ["serve", "--snapshots", str(fresh), "--data", str(served_store.data),
                                           "--as-of", served_store.as_of, "--alias", "gold", "--port", str(port)])
        assert result.exit_code == 2 and f"Port {port} on 127.0.0.1 is in use" in result.stderr
        assert "No registered model" not in result.stderr and "Wrote" not in result.output and not fresh.exists()
    # Taken while the models and the snapshot load (after the first check): refused just before starting.
    result = _serve_stopped_at_the_last_port_check(["serve", "--snapshots", str(served_store.snapshots)], monkeypatch)
    assert result.exit_code == 2 and "is in use" in result.stderr and "Starting: serving" not in result.output
    assert "older than the models' training" not in result.stderr
    # --data writes the snapshot as `churnml score` does, with the customers left out of it and why.
    result = _serve_stopped_at_the_last_port_check(["serve", "--snapshots", str(fresh), "--data", str(served_store.data),
                                                    "--as-of", served_store.as_of], monkeypatch)
    assert result.exit_code == 2 and "is in use" in result.stderr
    assert (f"Wrote {fresh / f'features_{served_store.as_of}.parquet'} and {fresh / f'outside_{served_store.as_of}.parquet'}."
            in " ".join(result.output.split()))
    pd.testing.assert_frame_equal(io.read_table(fresh / f"outside_{served_store.as_of}.parquet"),
                                  io.read_table(io.outside_path(snapshot)))
    # A guessable key is said before the server starts (the docs once showed change-me).
    monkeypatch.setenv("CHURNML_API_KEY", "change-me")
    result = _serve_stopped_at_the_last_port_check(["serve", "--snapshots", str(served_store.snapshots)], monkeypatch)
    assert result.exit_code == 2 and "is in use" in result.stderr
    assert "Warning: CHURNML_API_KEY is 9 characters long: a short key (such as change-me) can be guessed" in " ".join(result.stderr.split())
    monkeypatch.delenv("CHURNML_API_KEY")
    # A snapshot older than the models' training date (not older than their first training cutoff, which is refused)
    # serves stale features: said before starting.
    old = tmp_path / "old"
    old.mkdir()
    (old / "features_2025-06-01.parquet").write_bytes(snapshot.read_bytes())
    result = _serve_stopped_at_the_last_port_check(["serve", "--snapshots", str(old)], monkeypatch)
    assert result.exit_code == 2
    assert ("Warning: the newest snapshot, features_2025-06-01.parquet, is older than the models' training as-of date "
            f"({tracking.load_models('champion').metadata['as_of']}): /score answers with customers' features as of "
            "2025-06-01") in " ".join(result.stderr.split())
    result = runner.invoke(get_app(), ["serve", "--snapshots", str(served_store.snapshots), "--host", "999.1.1.1"])
    assert result.exit_code == 2 and "--host '999.1.1.1' is not an address" in result.stderr
    assert "Starting: serving" not in result.output


def _readme_curl_bodies() -> dict[str, dict]:
    """The JSON bodies of the README's curl examples, by path (``-d '...'`` after ``localhost:3000/PATH``)."""
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    found = re.findall(r"curl [^\n]*localhost:3000(/\w+) .*?-d '(.*?)'", readme, flags=re.S)
    return {path: json.loads(body) for path, body in found}


def test_readme_curl_examples_score_as_the_readme_says(client, service_module) -> None:
    from examples import EXAMPLE_INPUT

    bodies = _readme_curl_bodies()
    assert set(bodies) == {"/score", "/score_history"}
    assert bodies["/score"] == EXAMPLE_INPUT
    # The README offers the demo's server to try it on; its example named a subscription company's
    # attributes (plan, monthly_fee), so every reply warned of unknown and missing attributes.
    item = client.post("/score_history", json=bodies["/score_history"], headers=AUTH).json()["results"][0]
    assert item["status"] == "ok" and item["warnings"] == [], item


def test_readme_api_table_names_every_endpoint_served(client) -> None:
    """The README's endpoint table names each path the server answers, with its method, and no other."""
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    table = readme[readme.index("| endpoint | what |"):]
    table = table[:table.index("\n\n")]
    named = {}
    for cell in re.findall(r"^\| ([^|]+) \|", table, flags=re.M)[2:]:  # the header and its rule first
        for method, path in re.findall(r"`(?:(GET|POST) )?(/[\w.]*)`", cell):
            named[path] = method.lower() or None
    served = client.get("/docs.json").json()["paths"]
    assert set(named) - {"/", "/docs.json"} == set(served)
    assert all(method is None or method in served[path] for path, method in named.items() if path in served), named


def test_readme_says_where_get_model_puts_each_models_run_and_its_test_metrics(client) -> None:
    # The README said each model's object carried its test metrics; they are in the top-level test_metrics.
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    row = next(line for line in readme.splitlines() if line.startswith("| `GET /model` |"))
    info = client.get("/model", headers=AUTH).json()
    carried = re.search(r"`churn_model` and `value_model` each carry their run's ([^;]+);", row)
    assert carried, row
    fields = re.findall(r"`(\w+)`", carried.group(1))
    assert fields and all(field in info["churn_model"] and field in info["value_model"] for field in fields), fields
    top = re.search(r"the top-level `(\w+)` holds `(\w+)` and `(\w+)`", row)
    assert top and set(info[top.group(1)]) == {top.group(2), top.group(3)}, row
    assert top.group(1) not in info["churn_model"] and top.group(1) not in info["value_model"]


def test_service_refuses_to_start_without_snapshot(asgi_app, served_store, tmp_path) -> None:
    patch = _environment(served_store, CHURNML_SNAPSHOTS=str(tmp_path))
    try:
        with pytest.raises(Exception, match="No feature snapshot"):
            with TestClient(asgi_app):
                pass
    finally:
        patch.undo()


def test_model_says_when_a_newer_snapshot_was_written_after_start(served_store, tmp_path, monkeypatch) -> None:
    # `churnml score` for a later day (or the same day again) while the server runs: /score kept
    # answering from the snapshot loaded at start-up, and nothing said so.
    monkeypatch.setenv("MLFLOW_TRACKING_URI", served_store.tracking_uri)
    loaded = io.latest_snapshot(served_store.snapshots)
    path = tmp_path / loaded.name
    path.write_bytes(loaded.read_bytes())
    service = api.ScoringService(tracking.load_models("champion"), io.read_table(path), pd.Timestamp("2025-12-01"),
                                 snapshot_path=path)
    assert not any("snapshot" in w and "Restart" in w for w in service.model_info()["warnings"])
    newer = tmp_path / "features_2025-12-08.parquet"
    newer.write_bytes(loaded.read_bytes())
    # Files by name: an API client holds the key, not an account on the server, and learnt its folders here.
    assert service.model_info()["warnings"][0] == (
        f"a newer snapshot, features_2025-12-08.parquet, was written to its snapshot folder after this server loaded "
        f"{loaded.name}: /score and /retention_list still answer as of 2025-12-01. Restart the server to serve it.")
    newer.unlink()
    path.write_bytes(loaded.read_bytes() + b"\0")  # rewritten in place (the size tells even where mtimes are coarse)
    warning = service.model_info()["warnings"][0]
    assert warning.startswith(f"{loaded.name} was written again after this server loaded it") and str(tmp_path) not in warning


def test_model_reflects_a_promotion_after_restart(client, asgi_app, served_store, caplog) -> None:
    """Last in the module: it starts a second app (a restart) after promoting a new version."""
    before = client.get("/model", headers=AUTH).json()
    patch = pytest.MonkeyPatch()
    patch.setenv("MLFLOW_TRACKING_URI", served_store.tracking_uri)
    try:
        loaded = tracking.load_models("champion")
        test_metrics = {"churn": {"model": {**loaded.metadata["test_metrics"]["churn"]["model"], "roc_auc": 0.99}},
                        "value": {"model": {**loaded.metadata["test_metrics"]["value"]["model"], "normalized_gini": 0.01}}}
        second = {**loaded.metadata, "as_of": "2025-10-01", "grade": "C", "grades": {"churn": "A", "value": "C", "overall": "C"},
                  "test_metrics": test_metrics}
        with tracking.start_training_run("api tests: second") as run:
            frame = io.read_table(io.latest_snapshot(served_store.snapshots))[list(loaded.churn.feature_names_)]
            versions = run.log_models(loaded.churn, loaded.value, frame.head(5), second)
        assert versions == ("2", "2")
        # Only the churn model promoted: /model said value_model v1 with run 2's run id, metrics and grade.
        tracking.promote(tracking.CHURN_MODEL_NAME, "2")
        # No reload without a restart, but no silence either: /model showed v1 as champion, as before the promotion.
        stale = client.get("/model", headers=AUTH).json()
        assert stale["churn_model"] == {**before["churn_model"], "aliases": []}
        assert stale["value_model"] == {**before["value_model"], "aliases": ["champion"]}  # v2 is the challenger now
        assert stale["warnings"] == [
            "'champion' is now churnml-churn v2 in the registry (since this server started), but this server still "
            "answers with churnml-churn v1 and churnml-value v1, as every result's churn_model_version and "
            "value_model_version say: it loads the models once. Write a new snapshot with them (`churnml score DATA "
            "--as-of DATE --out FILE`) and restart the server.", *before["warnings"]]
        assert client.post("/score", json={"customer_ids": ["x"]}, headers=AUTH).status_code == 200
        with caplog.at_level(logging.WARNING, logger="churnml.serving"), TestClient(asgi_app) as restarted:
            mixed = restarted.get("/model", headers=AUTH).json()
        assert mixed["churn_model"] == {"name": "churnml-churn", "version": "2", "aliases": ["challenger", "champion"],
                                        "run_id": run.run_id, "trained_as_of": "2025-10-01", "grade": "A"}
        assert mixed["value_model"] == {**before["value_model"], "aliases": ["champion"]}
        assert mixed["value_model"]["run_id"] == before["run_id"] != run.run_id and mixed["same_run"] is False
        assert mixed["test_metrics"]["churn"]["roc_auc"] == 0.99
        assert mixed["test_metrics"]["value"] == before["test_metrics"]["value"]
        assert mixed["grades"] == {"churn": "A", "value": "B", "overall": "B"} and mixed["grade"] == "B"
        warning = ("churnml-churn v2 and churnml-value v1 ('champion') come from different training runs: each is "
                   "reported with its own run's metrics and grade")
        assert any(w.startswith(warning) for w in mixed["warnings"])
        assert warning in caplog.text  # the start-up log says it too
        tracking.promote(tracking.VALUE_MODEL_NAME, "2")
        with TestClient(asgi_app) as restarted:
            info = restarted.get("/model", headers=AUTH).json()
        assert info["churn_model"]["version"] == "2" and info["churn_model"]["aliases"] == ["challenger", "champion"]
        assert info["value_model"]["version"] == "2" and info["value_model"]["run_id"] == run.run_id
        assert info["trained_as_of"] == "2025-10-01" and info["grade"] == "C" and info["same_run"] is True
        assert info["test_metrics"]["value"]["normalized_gini"] == 0.01
        assert not any("different training runs" in w for w in info["warnings"])
    finally:
        for name in tracking.MODEL_NAMES:
            tracking.promote(name, "1")
        patch.undo()


def test_posted_event_types_are_mapped_like_the_files() -> None:
    # [input.event_types] renamed the types in the files but not in /score_history, where a
    # "support_ticket" then counted as "other": another risk for the same history, without a word.
    posted = {"customers": [{"customer_id": "a"}],
              "transactions": [],
              "service_events": [{"customer_id": "a", "timestamp": "2025-01-02", "event_type": " Support_Ticket"},
                                 {"customer_id": "a", "timestamp": "2025-01-03", "event_type": "Complaint", "satisfaction": 9}]}
    config = config_from_dict({"input": {"event_types": {"support_ticket ": "ticket"}, "satisfaction_scale": [0, 10]}})

    def events(**kwargs) -> pd.DataFrame:
        dataset = api.history_dataset(posted["customers"], posted["transactions"], posted["service_events"], {}, **kwargs)
        return dataset.con.execute("SELECT event_type, satisfaction FROM service_events ORDER BY timestamp").df()

    mapped = events(config=config)
    assert mapped["event_type"].tolist() == ["ticket", "complaint"]
    assert mapped["satisfaction"].iloc[1] == pytest.approx(4.6)   # 9 of 0-10 on 1-5, as validation rescales it
    assert events()["satisfaction"].isna().tolist() == [True, True]   # off 1-5: blanked, the event kept
    posted["service_events"][1]["satisfaction"] = 4
    assert events()["event_type"].tolist() == ["support_ticket", "complaint"]   # unmapped: "other" in the features


def _duckdb_settings(con) -> tuple[str, int, str]:
    return con.execute("SELECT current_setting('memory_limit'), current_setting('threads'), "
                       "current_setting('temp_directory')").fetchone()


def test_posted_histories_are_loaded_with_the_duckdb_config(served_store, tmp_path, monkeypatch) -> None:
    # /score_history loaded each request's rows on a connection with churnml's default [duckdb]
    # settings (5GB, a thread per core, the default spill folder): the server's memory limit,
    # threads and spill folder applied to batch loading only.
    config = config_from_dict({"duckdb": {"memory_limit": "300MB", "threads": 1, "temp_directory": str(tmp_path / "spill")}})
    expected = ("286.1 MiB", 1, str(tmp_path / "spill"))
    posted = {"customers": [{"customer_id": "a"}], "transactions": [{"customer_id": "a", "timestamp": "2025-01-02", "amount": 5}],
              "service_events": []}
    dataset = api.history_dataset(posted["customers"], posted["transactions"], posted["service_events"], {}, config)
    assert _duckdb_settings(dataset.con) == expected
    dataset.con.close()
    # ... and through the service, on the dataset the features are built from.
    monkeypatch.setenv("MLFLOW_TRACKING_URI", served_store.tracking_uri)
    service = api.ScoringService(tracking.load_models("champion"), pd.read_parquet(io.latest_snapshot(served_store.snapshots)),
                                 pd.Timestamp(served_store.as_of), config)
    seen = []

    def build_features(dataset, *args, **kwargs):
        seen.append(_duckdb_settings(dataset.con))
        return api_build_features(dataset, *args, **kwargs)

    api_build_features = api.build_features
    monkeypatch.setattr(api, "build_features", build_features)
    results = service.score_history(posted["customers"], posted["transactions"], posted["service_events"], served_store.as_of, [])
    assert results[0]["status"] == "ok" and seen == [expected]


def test_score_history_names_the_customer_columns_validation_left_out(served_store, monkeypatch) -> None:
    # Validation leaves date columns (a last login) and columns never filled out of the models; a
    # full CRM record carries them on every call, and each was answered "not attributes the models
    # know: last_login_at (a typo? ...)".
    import dataclasses

    from churnml import tracking

    for name, value in served_store.env(KEY).items():
        monkeypatch.setenv(name, value)
    models = tracking.load_models()
    models = dataclasses.replace(models, metadata={**models.metadata,
                                                   "left_out_columns": {"last_login_at": "dates", "loyalty_tier": "empty"}})
    snapshot = pd.read_parquet(io.latest_snapshot(served_store.snapshots))  # not outside_DATE.parquet beside it
    service = api.ScoringService(models, snapshot, pd.Timestamp(served_store.as_of))
    known = served_store.dataset.con.execute("SELECT * FROM customers ORDER BY customer_id LIMIT 1").df().iloc[0]
    record = {"customer_id": "a", **{name: str(known[name]) for name in service.attribute_kinds},
              "last_login_at": "2025-11-30", "loyalty_tier": None, "regoin": "west"}
    warnings = service.attribute_warnings(record)
    assert warnings[0].startswith("not attributes the models know: regoin (a typo?")
    assert warnings[1] == ("left out of the models by validation, so not read: last_login_at (dates: the customers table "
                           "is read as it is today, so a date in it tells what came later), loyalty_tier (empty in every "
                           "row of the training data)")
    assert len(warnings) == 2


def test_score_history_blanks_a_placeholder_in_a_numeric_attribute_as_validation_does(asgi_app, served_store_numeric) -> None:
    """Restarts the app on other models (as the test before last): keep it at the module's end.

    Validation blanks "N/A" or "-" in a numeric attribute and keeps the customer; /score_history
    answered 400 "expected a number" for the same record, so a CRM could not score the customers
    whose batch scores had been written without a word."""
    store = served_store_numeric
    assert store.dataset.attributes["credit_limit"] == "numeric"
    quarantined = store.dataset.quarantine["customers"].set_index("customer_id")
    placeholders = quarantined.loc[quarantined["credit_limit"].isin(["N/A", "-"]), ["credit_limit", "reason"]]
    assert len(placeholders) == 3 and set(placeholders["reason"]) == {validate.kept_unread("credit_limit")}
    batch = io.read_table(store.scores).set_index("customer_id")
    assert set(placeholders.index) <= set(batch.index)
    patch = _environment(store)
    try:
        with TestClient(asgi_app) as numeric:
            for customer, (written, reason) in placeholders.iterrows():
                body = {"as_of": store.as_of, **_history(store.dataset, [customer]), "churn_events": []}
                for sent in (written, written.lower(), f" {written} ", "unknown", "?"):
                    body["customers"][0]["credit_limit"] = sent
                    response = numeric.post("/score_history", json=body, headers=AUTH)
                    assert response.status_code == 200, response.text
                    item = response.json()["results"][0]
                    _check_same(item, batch.loc[customer])  # the batch score, from the blanked value
                    assert [w for w in item["warnings"] if "credit_limit" in w] == [
                        f"credit_limit {sent!r} is not a number: blanked and scored as unknown, as validation does in "
                        f"batch data ({reason}), which changes the score"]
                body["customers"][0]["credit_limit"] = ""  # empty: not given, as before
                item = numeric.post("/score_history", json=body, headers=AUTH).json()["results"][0]
                _check_same(item, batch.loc[customer])
                assert [w for w in item["warnings"] if "credit_limit" in w] == [
                    "not given: credit_limit; scored as unknown, which changes the score"]
            # Text reading as NaN or infinity is blanked too, as validation blanks it (it was a 400).
            body["customers"][0]["credit_limit"] = "NaN"
            item = numeric.post("/score_history", json=body, headers=AUTH).json()["results"][0]
            _check_same(item, batch.loc[customer])
            assert [w for w in item["warnings"] if "credit_limit" in w] == [f"credit_limit 'NaN' is not a number: blanked and scored as unknown, as validation "
                                        f"does in batch data ({validate.kept_without('credit_limit')}), which changes the score"]
            # So is a JSON number beyond a double's range, which reads as infinity, as validation blanks an infinite
            # attribute (it was a 400: "Input should be text, a number or true/false (or null)", for a number).
            for sent, said in (("1e400", "infinity"), ("-1e400", "-infinity")):
                body["customers"][0]["credit_limit"] = "SENT"
                content = json.dumps(body).replace('"SENT"', sent).encode()
                response = numeric.post("/score_history", content=content, headers={**AUTH, "Content-Type": "application/json"})
                assert response.status_code == 200, response.text
                item = response.json()["results"][0]
                _check_same(item, batch.loc[customer])
                assert [w for w in item["warnings"] if "credit_limit" in w] == [
                    f"credit_limit {said} is not a finite number (a JSON number beyond ±1.8e308, such as 1e400, reads as "
                    f"infinity): blanked and scored as unknown, as validation does in batch data "
                    f"({validate.kept_without('credit_limit')}), which changes the score"]
            # A number beyond ±1e12 is kept as it is, as validation keeps it in a file (it was a 400).
            for large in (5e12, "-2e13"):
                body["customers"][0]["credit_limit"] = large
                item = numeric.post("/score_history", json=body, headers=AUTH).json()["results"][0]
                assert item["status"] == "ok" and not [w for w in item["warnings"] if "credit_limit" in w], item
            # A number as text still reads as one; a wrong value is still refused, naming field and value.
            body["customers"][0]["credit_limit"] = "2500"
            item = numeric.post("/score_history", json=body, headers=AUTH).json()["results"][0]
            assert item["status"] == "ok" and not [w for w in item["warnings"] if "credit_limit" in w]
            for wrong in ("gold", "12k"):
                body["customers"][0]["credit_limit"] = wrong
                response = numeric.post("/score_history", json=body, headers=AUTH)
                assert response.status_code == 400, response.text
                assert response.json()["error"] == (
                    f"customers[0].credit_limit: expected a number, got {wrong!r}. Send a JSON number, or null (or a "
                    'placeholder such as "N/A") when it is not known.')
    finally:
        patch.undo()


def test_a_posted_closure_before_the_sign_up_is_refused_as_validation_sets_it_aside() -> None:
    # Batch validation sets it aside; posted, the customer was "not_found: the account closed on 2019-05-01".
    customers = [{"customer_id": "a", "signup_date": "2024-03-03"}]
    transactions = [{"customer_id": "a", "timestamp": "2025-01-02", "amount": 5}]
    with pytest.raises(DataError) as err:
        api.history_dataset(customers, transactions, [], {}, churn_events=[{"customer_id": "a", "timestamp": "2019-05-01"}])
    assert str(err.value) == ("churn_events[0].timestamp: 2019-05-01 00:00:00 is before the signup_date of customer 'a' "
                              "(2024-03-03): an account cannot close before it opens. Check both dates.")
    # the evening before in UTC, a cancellation early on the sign-up day in a zone east of it: kept
    closed = api.history_dataset(customers, transactions, [], {},
                                 churn_events=[{"customer_id": "a", "timestamp": "2024-03-03T01:00:00+03:00"}])
    assert closed.con.execute("SELECT count(*) FROM churn_events").fetchone()[0] == 1


def test_a_posted_case_closed_with_a_date_alone_on_its_day_is_resolved_then_as_in_batch() -> None:
    # Batch validation reads a closing date alone on the day the case was opened as resolved
    # then; the same rows posted to /score_history were a 400 ("resolved_at ... is before").
    customers = [{"customer_id": "a"}]
    transactions = [{"customer_id": "a", "timestamp": "2025-01-02", "amount": 5}]
    events = [{"customer_id": "a", "timestamp": "2025-01-03T14:05:00+01:00", "event_type": "complaint", "resolved_at": "2025-01-03"}]
    dataset = api.history_dataset(customers, transactions, events, {})
    assert dataset.con.execute("SELECT resolved_at FROM service_events").fetchone()[0] == pd.Timestamp("2025-01-03 13:05")
    dataset.con.close()
    events[0]["resolved_at"] = "2025-01-02"  # the day before is still before: refused, naming the field
    with pytest.raises(DataError, match=r"service_events\[0\]\.resolved_at: 2025-01-02 00:00:00 is before"):
        api.history_dataset(customers, transactions, events, {})


def test_posted_order_lines_are_merged_as_validation_merges_them(tmp_path: Path) -> None:
    """With [input] order_lines, a posted history of one customer's order lines under one
    transaction_id was refused ("appears twice"), though batch validation merges such lines into
    one purchase. Merged alike, the history's transactions are validation's clean table; an order
    number on lines of two customers is still refused, naming both."""
    lines = pd.DataFrame([
        ("o1", "a", "2021-01-03 10:00:00", 10.0, "tools"), ("o1", "a", "2021-01-03 09:00:00", 30.0, "paint"),
        ("o2", "b", "2021-01-04 08:00:00", 20.0, "paint"), ("o1", "a", "2021-01-03 11:00:00", -5.0, "tools"),
        (None, "a", "2021-01-07 08:00:00", 3.0, "glue"), ("o2", "b", "2021-01-04 08:30:00", -50.0, None),
        ("o3", "b", "2021-01-08 07:00:00", 15.0, "screws"), ("o3", "b", "2021-01-08 08:00:00", 15.0, "nails"),
    ], columns=["transaction_id", "customer_id", "timestamp", "amount", "category"])
    config = config_from_dict({"input": {"order_lines": True, "data_end": "2021-12-31"}})
    folder = tmp_path / "d"
    folder.mkdir()
    pd.DataFrame({"customer_id": ["a", "b"]}).to_csv(folder / "customers.csv", index=False)
    lines.to_csv(folder / "transactions.csv", index=False)
    batch = validate.load_dataset(folder, config).con.execute("SELECT * FROM transactions ORDER BY ALL").df()
    posted = [{k: v for k, v in row.items() if v is not None} for row in lines.replace({np.nan: None}).to_dict("records")]
    history = api.history_dataset([{"customer_id": "a"}, {"customer_id": "b"}], posted, [], {}, config)
    merged = history.con.execute("SELECT customer_id, timestamp, amount, category FROM transactions ORDER BY ALL").df()
    pd.testing.assert_frame_equal(merged, batch, check_dtype=False)
    assert len(merged) == 4 and merged["amount"].tolist() == [35.0, 3.0, -30.0, 30.0]
    with pytest.raises(DataError, match=r"^transactions\[1\]: transaction_id 'o1' appears twice\.$"):
        api.history_dataset([{"customer_id": "a"}, {"customer_id": "b"}], posted, [], {})
    other = [*posted, {"transaction_id": "o3", "customer_id": "a", "timestamp": "2021-01-08", "amount": 1.0}]
    with pytest.raises(DataError, match=r"^transactions\[8\]: transaction_id 'o3' appears twice, on lines of customers "
                                        r"'b' and 'a': an order belongs to one customer \(\[input\] order_lines\)\."):
        api.history_dataset([{"customer_id": "a"}, {"customer_id": "b"}], other, [], {}, config)


def test_a_posted_history_is_scored_on_a_connection_that_cannot_reach_files(tmp_path) -> None:
    # POST /score_history runs DuckDB on a caller's data. Posted values reach the SQL only as escaped
    # literals, but the connection could still read any file the server's account may read (and
    # write some), should text ever reach the SQL another way: it cannot touch files, nor be set to.
    private = tmp_path / "private.csv"
    private.write_text("secret\nkept\n", encoding="utf-8")
    dataset = api.history_dataset([{"customer_id": "a", "signup_date": "2024-01-01"}],
                                  [{"customer_id": "a", "timestamp": "2024-02-01", "amount": 5.0, "category": "x'y"}], [], {})
    assert dataset.con.execute("SELECT count(*) FROM transactions").fetchone() == (1,)
    for sql in (f"SELECT * FROM read_csv({io._lit(str(private))})", f"COPY customers TO {io._lit(str(tmp_path / 'out.csv'))}",
                "SET enable_external_access = true"):
        with pytest.raises(Exception, match="disabled by configuration|Cannot change configuration"):
            dataset.con.execute(sql)
    assert not (tmp_path / "out.csv").exists()
