"""Latency and throughput of `POST /score` on a real server on localhost.

Starts `churnml serve` (or, with ``--variant batched``, the adaptive-batching variant in
``batched_service.py``), then for each concurrency level sends single-customer requests for a fixed
time from that many concurrent connections and reports p50/p95/p99 latency, requests per second
and errors. The load comes from ``wrk`` (C, ``apt-get install wrk``) when it is installed: on a
2-core machine a Python client takes a core away from the server it measures. ``--client httpx``
uses the asyncio client instead. The same lookup called in-process
(:meth:`churnml.api.ScoringService.score`) is timed too, so the HTTP overhead shows as a ratio.

Needs registered models and a snapshot: either pass ``--store DIR`` made by an earlier run, or
let ``--prepare`` make one (a generated sample, small models fitted directly, `churnml score`).

    .venv/bin/python benchmarks/bench_api.py --prepare /tmp/bench_api --seconds 10
    .venv/bin/python benchmarks/bench_api.py --store /tmp/bench_api --variant batched
    .venv/bin/python benchmarks/bench_api.py --store /tmp/bench_api --config no-access-log.toml
    .venv/bin/python benchmarks/bench_api.py --store /tmp/bench_api --endpoint score_history --calls 200

``--endpoint score_history`` times ``POST /score_history`` instead: one scored customer's own
history per request (customers of the batch scores, their rows from the store's data), called
in-process (:meth:`churnml.api.ScoringService.score_history`) and then one request at a time
over HTTP.

Only 127.0.0.1 is ever contacted.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import json
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
KEY = "bench-key"
AS_OF = "2025-12-01"


def prepare(store: Path, customers: int) -> None:
    """Generate a sample, fit small models, register them as champion, run `churnml score`."""
    from churnml import tracking
    from churnml.config import Config
    from churnml.generate import generate
    from churnml.labels import build_training_set
    from churnml.models import ChurnModel, ValueModel
    from churnml.validate import load_dataset

    store.mkdir(parents=True, exist_ok=True)
    os.environ["MLFLOW_TRACKING_URI"] = f"sqlite:///{store / 'mlruns' / 'mlflow.db'}"
    generate(store / "data", customers, seed=1)
    dataset = load_dataset(store / "data", Config())
    training = build_training_set(dataset, "2025-09-01", Config())
    frame, names = training.frame, training.feature_names
    train, validation = frame[frame["split"] == "train"], frame[frame["split"] == "validation"]
    monotone = {s.name: s.monotone for s in training.specs if s.kind == "numeric" and s.monotone}
    churn = ChurnModel(monotone=monotone, n_estimators=200, num_leaves=31, early_stopping_rounds=None, n_jobs=2)
    churn.fit(train[names], train["churned"], validation[names], validation["churned"])
    value = ValueModel(n_estimators=200, num_leaves=31, early_stopping_rounds=None, n_jobs=2)
    value.fit(train[names], train["value"], train["churned"] == 0)
    metadata = {"as_of": "2025-09-01", "horizon_days": 90, "specs": [s.to_dict() for s in training.specs], "grade": "B"}
    with tracking.start_training_run("bench_api") as run:
        versions = run.log_models(churn, value, train[names].head(5), metadata)
    for name, version in zip(tracking.MODEL_NAMES, versions):
        tracking.promote(name, version)
    subprocess.run([str(Path(sys.executable).with_name("churnml")), "score", str(store / "data"), "--as-of", AS_OF,
                    "--out", str(store / "scores.parquet"), "--snapshots", str(store / "snapshots")], check=True,
                   stdout=subprocess.DEVNULL)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(store: Path, variant: str, config: Path | None = None) -> tuple[subprocess.Popen, str]:
    port = _free_port()
    env = {**os.environ, "MLFLOW_TRACKING_URI": f"sqlite:///{store / 'mlruns' / 'mlflow.db'}", "CHURNML_API_KEY": KEY,
           "CHURNML_SNAPSHOTS": str(store / "snapshots"), "PYTHONWARNINGS": "ignore"}
    if config is not None:
        env["CHURNML_CONFIG"] = str(config.resolve())
    if variant == "batched":
        command = [sys.executable, "-m", "bentoml", "serve", "batched_service:BatchedChurnService",
                   "--host", "127.0.0.1", "--port", str(port)]
        cwd = ROOT / "benchmarks"
    else:
        command = [str(Path(sys.executable).with_name("churnml")), "serve", "--port", str(port),
                   "--snapshots", str(store / "snapshots")]
        cwd = store
    process = subprocess.Popen(command, env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"server exited with {process.returncode}")
        try:
            if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                return process, url
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    stop(process)
    raise SystemExit("server not ready after 120 s")


def stop(process: subprocess.Popen) -> None:
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)


WRK_SCRIPT = """
ids = {%s}
request = function()
  local body = '{"customer_ids": ["' .. ids[math.random(#ids)] .. '"]}'
  return wrk.format("POST", "/score", {["Content-Type"] = "application/json", ["Authorization"] = "Bearer %s"}, body)
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('{"requests": %%d, "seconds": %%f, "errors": %%d, "p50_ms": %%f, "p95_ms": %%f, "p99_ms": %%f, "mean_ms": %%f, "max_ms": %%f}\\n',
    summary.requests, summary.duration / 1e6, e.connect + e.read + e.write + e.status + e.timeout,
    latency:percentile(50) / 1e3, latency:percentile(95) / 1e3, latency:percentile(99) / 1e3,
    latency.mean / 1e3, latency.max / 1e3))
end
"""


def drive_wrk(url: str, ids: list[str], concurrency: int, seconds: float) -> dict:
    """Single-customer POST /score from ``wrk`` with ``concurrency`` connections."""
    with tempfile.NamedTemporaryFile("w", suffix=".lua") as script:
        script.write(WRK_SCRIPT % (", ".join(json.dumps(i) for i in ids[:5000]), KEY))
        script.flush()
        threads = min(concurrency, 2)
        out = subprocess.run(["wrk", f"-t{threads}", f"-c{concurrency}", f"-d{seconds:g}s", "--timeout", "10s",
                              "-s", script.name, url], capture_output=True, text=True, check=True).stdout
    r = json.loads(out.strip().splitlines()[-1])
    return {"concurrency": concurrency, "requests": r["requests"], "errors": r["errors"],
            "rps": r["requests"] / r["seconds"], "p50_ms": r["p50_ms"], "p95_ms": r["p95_ms"], "p99_ms": r["p99_ms"], "mean_ms": r["mean_ms"], "max_ms": r["max_ms"]}


async def drive(url: str, ids: list[str], concurrency: int, seconds: float) -> dict:
    latencies: list[float] = []
    errors = 0
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=url, headers={"Authorization": f"Bearer {KEY}"}, limits=limits, timeout=10) as client:
        for customer_id in ids[:concurrency]:  # warm the connections
            await client.post("/score", json={"customer_ids": [customer_id]})
        stop_at = time.perf_counter() + seconds

        async def worker(seed: int) -> None:
            nonlocal errors
            rng = random.Random(seed)
            while time.perf_counter() < stop_at:
                body = {"customer_ids": [rng.choice(ids)]}
                started = time.perf_counter()
                try:
                    response = await client.post("/score", json=body)
                    ok = response.status_code == 200
                except httpx.HTTPError:
                    ok = False
                latencies.append(time.perf_counter() - started)
                errors += not ok

        began = time.perf_counter()
        await asyncio.gather(*(worker(i) for i in range(concurrency)))
        elapsed = time.perf_counter() - began
    ms = np.array(latencies) * 1000
    return {"concurrency": concurrency, "requests": len(ms), "errors": errors, "rps": len(ms) / elapsed,
            "p50_ms": float(np.percentile(ms, 50)), "p95_ms": float(np.percentile(ms, 95)), "p99_ms": float(np.percentile(ms, 99))}


def in_process(store: Path, ids: list[str], calls: int = 20000) -> dict:
    from churnml.api import ScoringService, ServiceSettings

    os.environ["MLFLOW_TRACKING_URI"] = f"sqlite:///{store / 'mlruns' / 'mlflow.db'}"
    service = ScoringService.load(ServiceSettings(api_key=KEY, snapshot_dir=store / "snapshots"))
    rng = random.Random(0)
    times = []
    for _ in range(calls):
        customer_id = rng.choice(ids)
        started = time.perf_counter()
        service.score([customer_id])
        times.append(time.perf_counter() - started)
    us = np.array(times) * 1e6
    return {"p50_us": float(np.percentile(us, 50)), "p99_us": float(np.percentile(us, 99)), "mean_us": float(statistics.fmean(us))}


def histories(store: Path, ids: list[str], n: int = 50) -> list[dict]:
    """``/score_history`` bodies of ``n`` scored customers, one each, from the store's data."""
    from churnml.config import Config
    from churnml.validate import load_dataset

    dataset = load_dataset(store / "data", Config())
    chosen = random.Random(0).sample(ids, min(n, len(ids)))

    def rows(table: str, customer_id: str) -> list[dict]:
        if not dataset.has(table):
            return []
        frame = dataset.con.execute(f"SELECT * FROM {table} WHERE customer_id = ?", [customer_id]).df()
        return [{k: v for k, v in r.items() if v is not None} for r in json.loads(frame.to_json(orient="records", date_format="iso"))]

    return [{"as_of": AS_OF, **{t: rows(t, c) for t in ("customers", "transactions", "service_events", "churn_events")}}
            for c in chosen]


def history_in_process(store: Path, bodies: list[dict], calls: int) -> dict:
    from churnml.api import ScoringService, ServiceSettings

    os.environ["MLFLOW_TRACKING_URI"] = f"sqlite:///{store / 'mlruns' / 'mlflow.db'}"
    service = ScoringService.load(ServiceSettings(api_key=KEY, snapshot_dir=store / "snapshots"))
    times = []
    for i in range(calls + 5):
        body = bodies[i % len(bodies)]
        started = time.perf_counter()
        service.score_history(body["customers"], body["transactions"], body["service_events"], body["as_of"], body["churn_events"])
        times.append(time.perf_counter() - started)
    ms = np.array(times[5:]) * 1000  # the first calls warm up
    return {"p50_ms": float(np.percentile(ms, 50)), "p95_ms": float(np.percentile(ms, 95)), "mean_ms": float(ms.mean())}


def history_http(url: str, bodies: list[dict], calls: int) -> dict:
    times, errors = [], 0
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {KEY}"}, timeout=30) as client:
        for i in range(calls + 5):
            started = time.perf_counter()
            errors += client.post("/score_history", json=bodies[i % len(bodies)]).status_code != 200
            times.append(time.perf_counter() - started)
    ms = np.array(times[5:]) * 1000
    return {"p50_ms": float(np.percentile(ms, 50)), "p95_ms": float(np.percentile(ms, 95)), "mean_ms": float(ms.mean()),
            "errors": errors}


def bench_history(store: Path, ids: list[str], calls: int, config: Path | None) -> None:
    bodies = histories(store, ids)
    local = history_in_process(store, bodies, calls)
    print(f"in-process ScoringService.score_history, 1 customer, {calls} calls: p50 {local['p50_ms']:.1f} ms, "
          f"p95 {local['p95_ms']:.1f} ms, mean {local['mean_ms']:.1f} ms")
    process, url = start_server(store, "plain", config)
    try:
        r = history_http(url, bodies, calls)
        print(f"POST /score_history, 1 customer, one request at a time, {calls} requests: p50 {r['p50_ms']:.1f} ms, "
              f"p95 {r['p95_ms']:.1f} ms, mean {r['mean_ms']:.1f} ms, errors {r['errors']}")
    finally:
        stop(process)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--prepare", type=Path, help="Make a store in this folder first (sample, models, snapshot).")
    where.add_argument("--store", type=Path, help="Use a store made by an earlier --prepare.")
    parser.add_argument("--customers", type=int, default=20000, help="Sample size for --prepare.")
    parser.add_argument("--seconds", type=float, default=10.0, help="Duration per concurrency level.")
    parser.add_argument("--concurrency", default="1,8,32", help="Comma-separated concurrency levels.")
    parser.add_argument("--variant", choices=("plain", "batched"), default="plain", help="batched: adaptive batching variant.")
    parser.add_argument("--client", choices=("wrk", "httpx"), default="wrk" if shutil.which("wrk") else "httpx",
                        help="Load generator (default: wrk when installed).")
    parser.add_argument("--config", type=Path, help="churnml config for the server, e.g. [serving] access_log = false.")
    parser.add_argument("--endpoint", choices=("score", "score_history"), default="score",
                        help="score_history: time POST /score_history (in-process, then over HTTP) instead of /score.")
    parser.add_argument("--calls", type=int, default=200, help="Calls per measurement with --endpoint score_history.")
    args = parser.parse_args()
    store = (args.prepare or args.store).resolve()
    if args.prepare:
        prepare(store, args.customers)
    ids = pd.read_parquet(store / "scores.parquet", columns=["customer_id"])["customer_id"].astype(str).tolist()
    if args.endpoint == "score_history":
        return bench_history(store, ids, args.calls, args.config)
    local = in_process(store, ids)
    print(f"in-process ScoringService.score([id]): p50 {local['p50_us']:.1f} us, p99 {local['p99_us']:.1f} us ({len(ids):,} customers)")
    process, url = start_server(store, args.variant, args.config)
    try:
        print(f"client: {args.client}; config: {args.config or 'defaults'}")
        print(f"{args.variant} server: {'concurrency':>11} {'requests':>9} {'errors':>6} {'req/s':>8} {'p50 ms':>7} {'p95 ms':>7} {'p99 ms':>7} {'p50/in-proc':>11}")
        for level in (int(c) for c in args.concurrency.split(",")):
            if args.client == "wrk":
                r = drive_wrk(url, ids, level, args.seconds)
            else:
                r = asyncio.run(drive(url, ids, level, args.seconds))
            ratio = r["p50_ms"] * 1000 / local["p50_us"]
            # Little's law: with every connection always busy, mean latency x throughput = concurrency.
            # wrk at -c1 was seen to break it (mean 5 ms at 2,000 req/s); such a row is flagged.
            if "mean_ms" in r and abs(r["mean_ms"] / 1000 * r["rps"] / level - 1) > 0.2:
                print(f"{'':>15}(wrk latencies inconsistent at concurrency {level}: mean {r['mean_ms']:.2f} ms x "
                      f"{r['rps']:.0f} req/s != {level}; use --client httpx for this level)")
            print(f"{'':>15}{r['concurrency']:>11} {r['requests']:>9} {r['errors']:>6} {r['rps']:>8.0f} {r['p50_ms']:>7.2f} "
                  f"{r['p95_ms']:>7.2f} {r['p99_ms']:>7.2f} {ratio:>10.0f}x")
    finally:
        stop(process)


if __name__ == "__main__":
    main()
