"""The HTTP API as deployed: `churnml serve` (a real `bentoml serve`) on a free localhost port.

One server for the module: wait for /readyz, send real requests, run schemathesis against the
served OpenAPI schema (bounded examples; no 5xx, no response off the schema), then terminate.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import httpx
import pandas as pd
import pytest

pytestmark = pytest.mark.slow

KEY = "server-test-key-91c2"
AUTH = {"Authorization": f"Bearer {KEY}"}
SERVING = Path(__file__).resolve().parents[1] / "serving"
STARTUP_SECONDS = 90
GRACE_SECONDS = 17
"""[serving] graceful_shutdown_seconds of the module's server."""
TIMEOUT_SECONDS = 8
"""[serving] request_timeout_seconds of the module's server: above the 6 s that GET /model may take
with the registry locked, well above every other request of the module (0.5 s at most)."""
SERVICE_POINT = "Apologise for the open complaint before anything else"
"""[segments.talking_points] service of the module's server."""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _examples(*names: str) -> tuple:
    """These names of serving/examples.py (the fixed examples of the API's schema), imported from its folder."""
    sys.path.insert(0, str(SERVING))
    try:
        import examples
    finally:
        sys.path.remove(str(SERVING))
    return tuple(getattr(examples, name) for name in names)


@pytest.fixture(scope="module")
def server(served_store, tmp_path_factory):
    port = _free_port()
    folder = tmp_path_factory.mktemp("server")
    log = folder / "server.log"
    config = folder / "churnml.toml"
    config.write_text(f"[serving]\ngraceful_shutdown_seconds = {GRACE_SECONDS}\nrequest_timeout_seconds = {TIMEOUT_SECONDS}\n"
                      f'[segments.talking_points]\nservice = "{SERVICE_POINT}"\n')
    env = {**os.environ, **served_store.env(KEY)}
    churnml = Path(sys.executable).with_name("churnml")
    with open(log, "wb") as out:
        process = subprocess.Popen(
            [str(churnml), "serve", "--port", str(port), "--snapshots", str(served_store.snapshots), "--config", str(config)],
            env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + STARTUP_SECONDS
        while True:
            if process.poll() is not None:
                pytest.fail(f"server exited with {process.returncode}:\n{log.read_text()[-3000:]}")
            try:
                if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"server not ready after {STARTUP_SECONDS} s:\n{log.read_text()[-3000:]}")
            time.sleep(0.5)
        yield url, log, process.pid
    finally:
        # The group is gone when the server exited on its own (the pytest.fail above): say so, not
        # ProcessLookupError, which would hide the server's own message.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def test_real_requests(server, served_store) -> None:
    url, log, _ = server
    EXAMPLE_HISTORY, EXAMPLE_INPUT = _examples("EXAMPLE_HISTORY", "EXAMPLE_INPUT")
    with httpx.Client(base_url=url, timeout=30) as client:
        assert client.post("/score", json=EXAMPLE_INPUT).status_code == 401
        assert client.post("/score", json=EXAMPLE_INPUT, headers=AUTH).status_code == 200
        # A trailing slash is the same endpoint, not a 307 to plain http.
        slashed = client.post("/score/", json=EXAMPLE_INPUT, headers=AUTH)
        assert slashed.status_code == 200 and slashed.json() == client.post("/score", json=EXAMPLE_INPUT, headers=AUTH).json()
        assert client.get("/model/", headers=AUTH).status_code == 200
        known = str(pd.read_parquet(served_store.scores)["customer_id"].iloc[0])
        scored = client.post("/score", json={"customer_ids": [known, "NOPE"]}, headers=AUTH)
        assert scored.status_code == 200 and [r["status"] for r in scored.json()["results"]] == ["ok", "not_found"]
        assert client.post("/score_history", json=EXAMPLE_HISTORY, headers=AUTH).json()["results"][0]["status"] == "ok"
        assert client.post("/score", content=b"{", headers={**AUTH, "Content-Type": "application/json"}).status_code == 400
        # The field first, as every 400 (the CLI's message alone, "Unknown segment 'vip'. ...", named no field).
        unknown = client.post("/retention_list", json={"segments": ["vip"]}, headers=AUTH)
        assert unknown.status_code == 400 and unknown.json()["error"].startswith("segments[0]: Unknown segment 'vip'."), unknown.text
        assert client.get("/model", headers=AUTH).json()["churn_model"]["version"] == "1"
        assert client.get("/metrics").status_code == 401
        metrics = client.get("/metrics", headers=AUTH)
        assert metrics.status_code == 200
        counted = re.search(r'bentoml_service_request_total\{endpoint="/score",http_response_code="200"[^}]*\} (\d+)', metrics.text)
        assert counted and int(counted.group(1)) >= 2, metrics.text[:2000]  # the /score calls above
        assert client.get("/livez").status_code == 200
    text = log.read_text()
    assert known not in text  # payloads are not logged
    assert "method=POST,path=/score," in text and "status=200" in text  # [serving] access_log defaults on
    assert "churnml API ready: " in text and "models 1/1 (champion)" in text  # which models this server answers with
    # The first line says the server is not answering yet, and what says it is.
    assert "Starting: serving features_" in text and "once the log says 'churnml API ready'" in text
    assert "churnml API: the models were trained on data up to 2025-09-01" in text  # too old: said at start-up too


def test_a_contact_whose_strongest_reason_is_a_complaint_opens_with_it(server) -> None:
    # The list's talking point follows the customer's reasons, with the server's config: a complaint
    # first is "apologise" whatever the segment's action, which stays the segment's.
    from churnml.segments import DEFAULT_ACTIONS, DEFAULT_TALKING_POINTS

    url, _, _ = server
    with httpx.Client(base_url=url, timeout=30) as client:
        listed = client.post("/retention_list", json={"max_customers": 1000}, headers=AUTH)
        assert listed.status_code == 200, listed.text
        rows = listed.json()["customers"]
        scored = client.post("/score", json={"customer_ids": [r["customer_id"] for r in rows]}, headers=AUTH).json()["results"]
    topics = {r["customer_id"]: r["reason_topics"] for r in scored}
    assert all(len(r["reason_topics"]) == len(r["reasons"]) for r in scored)
    complaint = [r for r in rows if topics[r["customer_id"]][:1] == ["service"]]
    assert complaint and all(r["talking_point"] == SERVICE_POINT for r in complaint)
    assert {r["suggested_action"] for r in complaint} <= set(DEFAULT_ACTIONS.values())
    silent = [r for r in rows if topics[r["customer_id"]][:1] == ["buying_less"]]
    assert silent and all(r["talking_point"] == DEFAULT_TALKING_POINTS["buying_less"] for r in silent)
    assert all(r["talking_point"] == "" for r in rows if not topics[r["customer_id"]])
    # The summary counts the rows' talking points (the server's words), as the CLI's .json does.
    summary = listed.json()["summary"]
    counted = Counter(r["talking_point"] for r in rows)
    assert summary["without_talking_point"] == counted.pop("", 0)
    assert {p["talking_point"]: p["customers"] for p in summary["by_talking_point"]} == counted


def test_the_graceful_shutdown_timeout_reaches_the_server(server) -> None:
    # After SIGTERM uvicorn waits for requests in flight; [serving] graceful_shutdown_seconds bounds
    # that wait, as BentoML's --timeout-graceful-shutdown, which reaches the worker that runs uvicorn.
    import psutil

    _, _, pid = server
    workers = [p.cmdline() for p in psutil.Process(pid).children(recursive=True)
               if "_bentoml_impl.worker.service" in " ".join(p.cmdline())]
    assert len(workers) == 1, workers
    assert " ".join(workers[0]).count(f"--timeout-graceful-shutdown {GRACE_SECONDS}") == 1, workers[0]


def _score_count(url: str) -> int:
    metrics = httpx.get(f"{url}/metrics", headers=AUTH, timeout=10).text
    counted = re.search(r'bentoml_service_request_total\{endpoint="/score",http_response_code="200"[^}]*\} ([0-9.]+)', metrics)
    return int(float(counted.group(1))) if counted else 0


def test_a_worker_that_cannot_start_stops_the_server_with_its_error(server, served_store, tmp_path) -> None:
    # BentoML restarted the failing worker forever while the port answered nothing. `churnml serve`
    # checks first; this is what remains when the snapshot goes between that check and the worker.
    # BentoML then ends with 0, which a supervisor takes for a clean stop: the error's code it is.
    url, _, _ = server
    assert httpx.post(f"{url}/score", json={"customer_ids": ["x"]}, headers=AUTH, timeout=10).status_code == 200
    counted = _score_count(url)
    assert counted >= 1
    folder = tmp_path / "churnml-serve-test"
    folder.mkdir()
    # Its own folder, and BentoML's default home: that server empties ~/bentoml's metrics folder as it starts.
    env = {key: value for key, value in os.environ.items() if key != "BENTOML_HOME"}
    env = {**env, **served_store.env(KEY), "CHURNML_SNAPSHOTS": str(tmp_path), "CHURNML_SERVER_DIR": str(folder)}
    log = tmp_path / "server.log"
    with open(log, "wb") as out:
        process = subprocess.Popen(  # exec keeps the pid: the shell's $$ is the server, as for `churnml serve`
            ["sh", "-c", f'export CHURNML_SERVER_PID=$$; exec "{sys.executable}" -m churnml.cli.serve service:ChurnService '
                         f"--port {_free_port()}"],
            cwd=SERVING, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        process.wait(timeout=STARTUP_SECONDS)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        pytest.fail(f"the server kept running:\n{log.read_text()[-3000:]}")
    text = log.read_text()
    assert "churnml API cannot start: No feature snapshot in" in text
    assert process.returncode == 2, text[-3000:]
    assert f"Error: churnml API cannot start: No feature snapshot in {tmp_path}" in " ".join(text.split())
    assert not folder.exists()
    # `churnml serve` gives each server its own BentoML home: another server starting on the
    # machine used to reset this one's /metrics to 0.
    assert _score_count(url) >= counted


def test_schemathesis_finds_no_server_errors_and_no_schema_violations(server, tmp_path) -> None:
    url, _, _ = server
    command = [
        str(Path(sys.executable).with_name("schemathesis")), "run", f"{url}/docs.json",
        "--header", f"Authorization: Bearer {KEY}",
        "--checks", "not_a_server_error,response_schema_conformance,content_type_conformance",
        "--max-examples", "30", "--seed", "7", "--workers", "1",
        "--phases", "examples,coverage,fuzzing",
        "--generation-database", "none",
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=180, cwd=tmp_path)
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]


def test_model_answers_at_once_while_the_registry_is_locked(server, served_store) -> None:
    # GET /model compares the loaded versions with the registry's aliases. With the SQLite store
    # locked (another process writing it), it took 20 s (two reads, each retried until SQLite gave
    # up), and answered with the raw SQL of the failed query in its warnings. A monitoring call that
    # slow times out, although the server answers /score with its loaded models all along.
    import sqlite3

    url, _, _ = server
    database = served_store.tracking_uri.removeprefix("sqlite:///")
    lock = sqlite3.connect(database, isolation_level=None, timeout=1)
    try:
        lock.execute("BEGIN EXCLUSIVE")
        for _ in range(2):  # and again while the first read is still stuck
            started = time.monotonic()
            response = httpx.get(f"{url}/model", headers=AUTH, timeout=30)
            took = time.monotonic() - started
            assert response.status_code == 200, response.text
            assert took < 6, took
            info = response.json()
            assert info["churn_model"]["version"] == "1" and "champion" in info["churn_model"]["aliases"]
            warning = next(w for w in info["warnings"] if "model registry" in w)
            assert "aliases are shown as at start-up" in warning and "SELECT" not in warning, warning
    finally:
        lock.execute("ROLLBACK")
        lock.close()
    # Once the store is free again, /model reads it again (the stuck read has ended or is not waited for).
    deadline = time.monotonic() + 40
    while True:
        info = httpx.get(f"{url}/model", headers=AUTH, timeout=30).json()
        if not any("model registry" in w for w in info["warnings"]) or time.monotonic() > deadline:
            break
        time.sleep(1)
    assert not any("model registry" in w for w in info["warnings"]), info["warnings"]


def test_a_compressed_body_is_refused_as_such_and_a_byte_order_mark_is_ignored(server) -> None:
    # A gzip body was parsed as JSON: 400 "not valid JSON (... line 1 column 1)", about a body the
    # caller knows is valid. And a file saved as UTF-8 with a byte order mark, posted as it is, got
    # the same 400 for three invisible bytes that JSON parsers may ignore (RFC 8259, 8.1).
    import gzip

    url, _, _ = server
    body = b'{"customer_ids": ["NOPE"]}'
    json_headers = {**AUTH, "Content-Type": "application/json"}
    with httpx.Client(base_url=url, timeout=30) as client:
        squeezed = client.post("/score", content=gzip.compress(body), headers={**json_headers, "Content-Encoding": "gzip"})
        assert squeezed.status_code == 415, squeezed.text
        assert "Content-Encoding 'gzip' is not supported" in squeezed.json()["error"]
        identity = client.post("/score", content=body, headers={**json_headers, "Content-Encoding": "identity"})
        assert identity.status_code == 200, identity.text
        marked = client.post("/score", content=b"\xef\xbb\xbf" + body, headers=json_headers)
        assert marked.status_code == 200, marked.text
        assert marked.json() == identity.json()
        spec = client.get("/docs.json").json()
    assert "Content-Encoding" in spec["paths"]["/score"]["post"]["responses"]["415"]["description"]


def test_a_list_says_what_the_cli_says_beside_its_summary(server, served_store, tmp_path) -> None:
    # `churnml retention-list` notes that value saved counts a churner's whole horizon as lost and warns of a
    # control group too small to show the effect the list assumes; POST /retention_list returned the same
    # figures without a word of either, so a campaign built from the API took "expected value saved" at face value.
    from typer.testing import CliRunner

    from churnml.cli import get_app

    url, _, _ = server
    with httpx.Client(base_url=url, timeout=30) as client:
        listed = client.post("/retention_list", json={"max_customers": 200, "holdout": 0.1, "exclude": ["ghost"]},
                             headers=AUTH)
    assert listed.status_code == 200, listed.text
    body = listed.json()
    assert body["summary"]["control"] > 0 and body["summary"]["exclude_unmatched"] == 1
    notes, warnings = body["notes"], body["warnings"]
    assert notes and notes[0].startswith("Value saved counts a churner's whole 90 days of value if retained as lost")
    control = body["summary"]["control"]
    assert any(text.startswith(f"the control group {'has' if control < 30 else 'of'} {control:,} customer") for text in warnings)
    assert "1 of 1 exclude ids match no scored customer (e.g. 'ghost')" in " ".join(warnings)
    assert not any("--" in text for text in notes + warnings)  # the request's fields, not the CLI's options
    # The same sentences the CLI prints for the same list (options named as its flags there).
    (tmp_path / "ids.txt").write_text("ghost\n")
    result = CliRunner().invoke(get_app(), ["retention-list", str(served_store.scores), "--out", str(tmp_path / "list.csv"),
                                            "--max-customers", "200", "--holdout", "0.1", "--exclude", str(tmp_path / "ids.txt")])
    assert result.exit_code == 0, result.output

    def words(text: str) -> str:
        return " ".join(text.replace("--holdout", "holdout").replace("--exclude", "exclude").split())

    printed = words(result.stdout + result.stderr)
    assert all(f"Note: {words(text)}" in printed for text in notes), printed
    assert all(f"Warning: {words(text)}" in printed for text in warnings), printed


def test_an_empty_segment_list_is_refused_not_read_as_every_segment(server) -> None:
    # "Only these segments" with none named answered the default list (every segment but
    # [targeting] skip_segments): a CRM whose user cleared the segment filter got a list to call.
    url, _, _ = server
    with httpx.Client(base_url=url, timeout=30, headers=AUTH) as client:
        empty = client.post("/retention_list", json={"segments": [], "max_customers": 5})
        assert empty.status_code == 400, empty.text
        assert empty.json()["error"].startswith("segments: ")
        # Left out, or null, it is still every segment but skip_segments.
        for body in ({"max_customers": 5}, {"segments": None, "max_customers": 5}):
            default = client.post("/retention_list", json=body)
            assert default.status_code == 200 and default.json()["customers"], default.text


def test_a_history_posted_without_transactions_or_service_events_says_so(server) -> None:
    # A history without the `transactions` field scored the customer as one who never bought anything
    # (the example's churn probability moved from 0.27 to 0.06 on an integrator's server), without a
    # word; `"transactions": []` says there were none, as `"churn_events": []` does for closures.
    (EXAMPLE_HISTORY,) = _examples("EXAMPLE_HISTORY")
    url, _, _ = server
    for field in ("transactions", "service_events"):  # these models read both
        unsent = {key: value for key, value in EXAMPLE_HISTORY.items() if key != field}
        with httpx.Client(base_url=url, timeout=60, headers=AUTH) as client:
            results = {}
            for name, body in (("unsent", unsent), ("null", {**unsent, field: None}), ("none", {**unsent, field: []}),
                               ("sent", EXAMPLE_HISTORY)):
                response = client.post("/score_history", json=body)
                assert response.status_code == 200, (field, name, response.text)
                results[name] = response.json()["results"][0]
        said = [w for w in results["unsent"]["warnings"] if w.startswith(f"{field} not sent")]
        assert len(said) == 1 and f'"{field}": []' in said[0], results["unsent"]["warnings"]
        assert said[0] in results["null"]["warnings"]
        assert not any(f"{field} not sent" in w for r in (results["none"], results["sent"]) for w in r["warnings"])
        # The scores themselves are those of a customer without them either way, and they count.
        assert results["unsent"]["churn_probability"] == results["none"]["churn_probability"]
        assert EXAMPLE_HISTORY[field] and results["sent"]["churn_probability"] != results["none"]["churn_probability"]


def test_a_survey_score_off_the_scale_is_blanked_with_a_warning_not_refused(server) -> None:
    # A helpdesk export's CSAT 0 for "not rated": validation blanks it and keeps the event, so `churnml score` scored
    # these customers, while the server's schema (minimum 1) answered the history with a 400. Text stays a 400.
    (EXAMPLE_HISTORY,) = _examples("EXAMPLE_HISTORY")
    url, _, _ = server
    events = EXAMPLE_HISTORY["service_events"]
    with httpx.Client(base_url=url, timeout=60, headers=AUTH) as client:
        answers = [client.post("/score_history", json={**EXAMPLE_HISTORY, "service_events": [{**events[0], "satisfaction": score},
                                                                                              *events[1:]]})
                   for score in (0, None, "4")]
    assert [a.status_code for a in answers] == [200, 200, 400], answers[0].text
    rated_zero, unrated = (a.json()["results"][0] for a in answers[:2])
    assert rated_zero["churn_probability"] == unrated["churn_probability"]
    assert rated_zero["warnings"] == ["service_events[0].satisfaction: 0 is outside the scale 1-5 ([input] satisfaction_scale); "
                                      "the event is kept without it, as validation keeps it in batch data (send null for a "
                                      "survey not answered; the server's [input] satisfaction_scale sets another scale)",
                                      *unrated["warnings"]]
    assert answers[2].json()["error"] == ("service_events[0].satisfaction: Input should be a valid number (send the score as a "
                                          "JSON number, or null for a survey not answered).")


def test_what_an_integrator_sends_first_is_read_as_batch_reads_it_or_told_what_to_send(server) -> None:
    # A helpdesk's resolved_at of 2999-12-31 for "never" was a 400 ("outside the years 1900-2199") where validation keeps
    # the event open; a null timestamp read "Input should be a valid string"; an as_of sent to /score "Extra inputs are
    # not permitted" alone; of several unknown segments only the first was named.
    (EXAMPLE_HISTORY,) = _examples("EXAMPLE_HISTORY")
    url, _, _ = server
    events = EXAMPLE_HISTORY["service_events"]
    never = {**EXAMPLE_HISTORY, "service_events": [events[0], {**events[1], "resolved_at": "2999-12-31"}]}
    today = pd.Timestamp.now(tz="UTC").tz_localize(None).normalize()
    with httpx.Client(base_url=url, timeout=60, headers=AUTH) as client:
        kept, still_open = (client.post("/score_history", json=body) for body in (never, EXAMPLE_HISTORY))
        refused = [client.post(path, json=body) for path, body in (
            ("/score_history", {**EXAMPLE_HISTORY, "transactions": [{**EXAMPLE_HISTORY["transactions"][0], "timestamp": None}]}),
            ("/score", {"customer_ids": ["C0000001"], "as_of": "2025-12-01"}),
            ("/retention_list", {"segments": ["vip", "dormant", "gold"]}))]
    assert kept.status_code == 200, kept.text
    kept, still_open = kept.json()["results"][0], still_open.json()["results"][0]
    assert kept["churn_probability"] == still_open["churn_probability"]  # open, as the null of the example says
    assert kept["warnings"] == [f"service_events[1].resolved_at: 2999-12-31 is after the data's end (today, {today:%Y-%m-%d}); "
                                "the event is kept as still open at as_of, as validation keeps it in batch data (send "
                                "null for an event not resolved)", *still_open["warnings"]]
    assert [r.status_code for r in refused] == [400] * 3
    timestamp, as_of, segments = (r.json()["error"] for r in refused)
    assert timestamp.startswith("transactions[0].timestamp: required, and null is no value for it: send the date, or date "
                                "and time, as ISO 8601 text"), timestamp
    assert as_of.startswith("as_of: Extra inputs are not permitted (") and "/score_history with as_of" in as_of, as_of
    assert segments.startswith("segments[0], segments[2]: Unknown segments 'vip', 'gold'. Valid segments: "), segments


def test_a_key_sent_another_way_is_told_how_to_send_it(server) -> None:
    # "Unauthorized." alone: an integrator who sent the key as X-API-Key, or without "Bearer", was
    # left guessing. The answer says how to send it, and is the same for a wrong key (no hint which).
    url, _, _ = server
    body = {"customer_ids": ["NOPE"]}
    answers = [httpx.post(f"{url}/score", json=body, headers=headers, timeout=30)
               for headers in ({"X-API-Key": KEY}, {"Authorization": KEY}, {"Authorization": "Bearer wrong"})]
    assert [a.status_code for a in answers] == [401] * 3
    assert answers[0].json() == answers[1].json() == answers[2].json()
    assert "Authorization: Bearer <key>" in answers[0].json()["error"]


def test_paths_nobody_serves_do_not_each_add_metrics(server) -> None:
    # BentoML's metrics labelled every request with its path, before the key was checked: each
    # request for a new path, without a key, added series to /metrics for good (5,000 such requests
    # grew the worker by 106 MB and /metrics to 24 MB, 13 s to answer). Paths nobody serves share
    # one label; the served ones keep theirs.
    url, _, _ = server
    probes = [f"/probe-{i}-{os.getpid()}" for i in range(20)] + ["/static_content/nothing-here.js", "/score/x"]
    with httpx.Client(base_url=url, timeout=30) as client:
        answers = [client.get(path).status_code for path in probes]
        assert set(answers) <= {401, 404}, answers
        assert client.post("/score/", json={"customer_ids": ["NOPE"]}, headers=AUTH).status_code == 200
        metrics = client.get("/metrics", headers=AUTH).text
    labels = set(re.findall(r'bentoml_service_request_total\{endpoint="([^"]*)"', metrics))
    assert not any("probe-" in label or "nothing-here" in label or label == "/score/x" for label in labels), sorted(labels)
    assert "(other)" in labels and "/score" in labels and "/score/" not in labels, sorted(labels)


def _stalled_post(url: str, path: str) -> tuple[bytes, float]:
    """The raw answer to a POST whose body stops halfway (the client sends no more), and the seconds
    it took: BentoML's ``traffic`` timeout ([serving] request_timeout_seconds) answers it, in front of
    the guard."""
    host, port = url.removeprefix("http://").split(":")
    started = time.monotonic()
    with socket.create_connection((host, int(port)), timeout=60) as sock:
        sock.sendall(f"POST {path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {KEY}\r\n"
                     "Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"customer_ids\"".encode())
        answer = b""
        while not answer.endswith(b"}"):  # the head, then the JSON error
            chunk = sock.recv(4096)
            if not chunk:
                break
            answer += chunk
    return answer, time.monotonic() - started


def test_every_answer_carries_the_security_headers(server) -> None:
    # No answer said nosniff, forbade framing or caching: a page of another site could frame the docs
    # page (whose "Try it out" sends the key), and a browser or proxy could keep the customers' scores.
    from concurrent.futures import ThreadPoolExecutor

    EXAMPLE_HISTORY, EXAMPLE_INPUT = _examples("EXAMPLE_HISTORY", "EXAMPLE_INPUT")
    url, _, _ = server
    expected = {"x-content-type-options": "nosniff", "x-frame-options": "DENY",
                "content-security-policy": "frame-ancestors 'none'", "cache-control": "no-store"}
    with ThreadPoolExecutor(1) as pool, httpx.Client(base_url=url, timeout=60) as client:
        stalled = pool.submit(_stalled_post, url, "/score")  # TIMEOUT_SECONDS: [serving] request_timeout_seconds
        json_headers = {**AUTH, "Content-Type": "application/json"}
        answers = {
            ("POST /score", 200): client.post("/score", json=EXAMPLE_INPUT, headers=AUTH),
            ("POST /score_history", 200): client.post("/score_history", json=EXAMPLE_HISTORY, headers=AUTH),
            ("POST /retention_list", 200): client.post("/retention_list", json={"max_customers": 3}, headers=AUTH),
            ("GET /model", 200): client.get("/model", headers=AUTH),
            ("GET /metrics", 200): client.get("/metrics", headers=AUTH),
            ("GET /livez", 200): client.get("/livez"),
            ("GET /docs.json", 200): client.get("/docs.json"),
            ("GET /", 200): client.get("/"),
            ("no key", 401): client.post("/score", json=EXAMPLE_INPUT),
            ("invalid body", 400): client.post("/score", json={"customer_ids": []}, headers=AUTH),
            ("unknown path", 404): client.get("/nothing-here", headers=AUTH),
            ("wrong method", 405): client.get("/score", headers=AUTH),
            ("too large", 413): client.post("/score", content=b" " * 2_000_001, headers=json_headers),
            ("not JSON", 415): client.post("/score", content=b"{}", headers={**AUTH, "Content-Type": "text/plain"}),
        }
        static = client.get("/static_content/swagger-initializer.js")
        (head, _, body), took = stalled.result(timeout=90)[0].partition(b"\r\n\r\n"), stalled.result()[1]
    assert {key: answer.status_code for key, answer in answers.items()} == {key: key[1] for key in answers}
    for key, answer in answers.items():
        assert {name: answer.headers.get(name) for name in expected} == expected, key
    # The docs page is still the docs page, its scripts loaded from the server as before.
    assert answers[("GET /", 200)].headers["content-type"].startswith("text/html")
    assert "./static_content/swagger-initializer.js" in answers[("GET /", 200)].text
    assert static.status_code == 200 and "cache-control" not in static.headers  # no data: may be cached
    assert static.headers["x-content-type-options"] == "nosniff"
    lines = head.decode("latin-1").lower().split("\r\n")
    assert lines[0].startswith("http/1.1 504"), lines
    # The request really ran into the server's [serving] request_timeout_seconds, not BentoML's 30 s default.
    assert TIMEOUT_SECONDS <= took < 20, took
    assert json.loads(body) == {"error": f"Not able to process the request in {TIMEOUT_SECONDS} seconds"}
    assert all(f"{name}: {value.lower()}" in lines for name, value in expected.items()), lines


def test_a_path_ending_in_a_newline_is_no_way_around_the_guard(server) -> None:
    # Starlette's router matched /score%0A as /score (its pattern's `$` matches before a final newline),
    # a path the guard did not know: with the key, a body of any size or shape reached BentoML unchecked
    # (2 MB read past max_body_bytes; BentoML's own 400 listing the fields, and a traceback in the log).
    url, _, _ = server
    json_headers = {**AUTH, "Content-Type": "application/json"}
    with httpx.Client(base_url=url, timeout=30) as client:
        answers = [client.post(path, content=body, headers=json_headers) for path, body in (
            ("/score%0A", b'{"customer_ids": 5}'), ("/score%0a", b'{"customer_ids": ["NOPE"]}'),
            ("/score_history%0A", b" " * 2_000_001), ("/retention_list%0A", b"{}"))]
        unkeyed = client.post("/score%0A", json={"customer_ids": ["NOPE"]})  # nobody's path: no key asked for
    assert [a.status_code for a in [*answers, unkeyed]] == [404] * 5, [a.text[:300] for a in answers]
    assert all("control characters" in a.json()["error"] for a in [*answers, unkeyed])


def _raw_answer(url: str, request: bytes) -> tuple[int, dict[str, str], bytes]:
    """Status, headers (names lower-cased) and body of the answer to ``request``, sent as raw bytes."""
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=30) as sock:
        sock.sendall(request)
        answer = b""
        while chunk := sock.recv(4096):
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    status, *lines = head.decode("latin-1").split("\r\n")
    return int(status.split()[1]), {k.lower(): v for k, _, v in (line.partition(": ") for line in lines)}, body


def _log_after(log: Path, start: int, wanted: str) -> str:
    """The server log written after byte ``start``, once it holds ``wanted`` (10 s at most)."""
    deadline = time.monotonic() + 10
    while wanted not in (text := log.read_bytes()[start:].decode("utf-8", "replace")) and time.monotonic() < deadline:
        time.sleep(0.2)
    return text


SECURITY = {"x-content-type-options": "nosniff", "x-frame-options": "DENY",
            "content-security-policy": "frame-ancestors 'none'", "cache-control": "no-store"}


def test_a_header_that_is_not_utf8_gets_a_whole_json_400_and_no_traceback(server) -> None:
    # BentoML's access log decodes the request's Content-Type as UTF-8 when the answer's body goes out:
    # `Content-Type: \xff` raised after the head was sent, on any logged path and without a key, so the
    # client got a head without a body and the log a traceback per request. OpenTelemetry, also in front
    # of the guard, decodes Host (and, with trace_requests, User-Agent and the trace headers) as UTF-8 or
    # Python escapes, and raised on `\xff\`: a 500 with a traceback. Such a header is a 400 naming it.
    url, log, _ = server
    start = log.stat().st_size
    cases = [  # without a key, with one, on a path nobody serves, on the open ones (not in the access log)
        ("Content-Type", b"POST /score HTTP/1.1\r\nHost: x\r\nContent-Type: \xff\r\nContent-Length: 2\r\n"),
        ("Content-Type", b"GET /model HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + KEY.encode() + b"\r\nContent-Type: a\xff\\\r\n"),
        ("Host", b"GET /nothing-here HTTP/1.1\r\nHost: \xff\\\r\n"),
        ("User-Agent", b"GET /livez HTTP/1.1\r\nHost: x\r\nUser-Agent: \xff\\\r\n"),
        ("Authorization", b"GET /model HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer \xff\r\n"),
        ("Traceparent", b"GET /readyz HTTP/1.1\r\nHost: x\r\ntraceparent: 00-\xe9\\\r\n"),
    ]
    for header, request in cases:
        status, headers, body = _raw_answer(url, request + b"Connection: close\r\n\r\n" + (b"{}" if b"POST" in request else b""))
        assert status == 400, (header, status, body)
        assert {name: headers.get(name) for name in SECURITY} == SECURITY, header
        assert headers["content-type"] == "application/json" and int(headers["content-length"]) == len(body), (header, body)
        assert json.loads(body) == {"error": f"The {header} header holds bytes that are not UTF-8 text: send "
                                             "header values as ASCII text."}
    text = _log_after(log, start, "path=/nothing-here,")
    # The access log writes the value as an escape.
    assert "method=POST,path=/score,type=\\xff,length=2) (status=400," in text, text[-3000:]
    assert "method=GET,path=/model,type=a\\xff\\,length=) (status=400," in text, text[-3000:]
    assert "path=/nothing-here,type=,length=) (status=400," in text, text[-3000:]
    assert "Traceback" not in text and "UnicodeDecodeError" not in text, text[-3000:]
    # Such a header is nobody's request: the ones that are UTF-8 (not ASCII) are served.
    with httpx.Client(base_url=url, timeout=30) as client:
        assert client.get("/livez", headers={"User-Agent": "caf\u00e9".encode()}).status_code == 200


def test_a_forged_log_line_in_the_path_is_escaped_and_a_bad_host_raises_nothing(server) -> None:
    # BentoML's OpenTelemetry middleware, in front of the guard, decodes a Host header that is not UTF-8 as
    # Python escapes, and raised on `\xff\` (a backslash at the end), without a key: Starlette's outermost
    # handler answered a plain-text "Internal Server Error" without the security headers, and the 500's log
    # line, naming the path, let a %0A in it forge a line of the log. The header reaches it escaped now,
    # and the path's control characters are escaped in the access log's line.
    url, log, _ = server
    start = log.stat().st_size
    status, headers, body = _raw_answer(
        url, b"GET /x%0A2026-01-01%20[ERROR]%20forged%1B[31m HTTP/1.1\r\nHost: \xff\\\r\nConnection: close\r\n\r\n")
    assert status == 404, body
    assert {name: headers.get(name) for name in SECURITY} == SECURITY and headers["content-type"] == "application/json"
    assert "control characters" in json.loads(body)["error"]
    text = _log_after(log, start, "forged")
    assert "path=/x\\n2026-01-01 [ERROR] forged\\x1b[31m,type=,length=) (status=404," in text, text[-3000:]
    assert "\n2026-01-01 [ERROR] forged" not in text and "\x1b" not in text
    assert "Traceback" not in text
