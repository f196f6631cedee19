"""Benchmark: point-in-time features on N generated customers.

Reports wall time and peak memory of :func:`churnml.features.build_features` for one cutoff and
for six, and the ratio to a bare DuckDB ``GROUP BY customer_id`` sum of ``amount`` over the same
transactions, timed in the same run (so the machine's speed cancels out).

Usage::

    .venv/bin/python benchmarks/bench_features.py                    # 1,000,000 customers
    .venv/bin/python benchmarks/bench_features.py --customers 50000 --data /tmp/bench50k
    .venv/bin/python benchmarks/bench_features.py --data /tmp/gen1m_csvgen --format csv   # generated as CSV

Aims (issue 3): features within 5x the bare scan, peak memory under 8 GB, time linear in cutoffs.

``--parts`` also times each part of the one-cutoff query on its own (each CTE materialized into a
temporary table, the category/channel value lookup, the conversion to pandas), as CPU
seconds and multiples of the bare scan's CPU seconds: on a shared machine CPU time is steadier
than wall time. Use ``--threads 1`` for the steadiest numbers.
"""

from __future__ import annotations

import argparse
import resource
import sys
import threading
import time
from pathlib import Path

import pandas as pd
import psutil

from churnml.config import Config
from churnml.features import build_features
from churnml.validate import load_dataset


class PeakRss:
    """Sample this process's RSS every 50 ms; ``peak`` is the highest seen since ``reset``."""

    def __init__(self) -> None:
        self._process = psutil.Process()
        self._stop = threading.Event()
        self.peak = 0
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self._process.memory_info().rss)
            time.sleep(0.05)

    def reset(self) -> None:
        self.peak = self._process.memory_info().rss

    def __enter__(self) -> "PeakRss":
        self.reset()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def timed(func, peak: PeakRss) -> tuple[float, float, float, object]:
    """Run ``func``; return (wall seconds, CPU seconds of this process, peak RSS in GB during the call, result)."""
    peak.reset()
    start, cpu = time.perf_counter(), time.process_time()
    result = func()
    seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu
    peak.peak = max(peak.peak, psutil.Process().memory_info().rss)
    return seconds, cpu_seconds, peak.peak / 1e9, result


def parts(dataset, as_of: pd.Timestamp, config: Config, bare_sql: str) -> list[tuple[str, str]]:
    """CPU seconds of each part of the one-cutoff feature query, and multiples of the bare scan."""
    from churnml.features import _arrays, feature_sql, transaction_values

    con = dataset.con

    def cpu(func) -> float:
        best = float("inf")
        for _ in range(2):
            start = time.process_time()
            func()
            best = min(best, time.process_time() - start)
        return best

    bare = cpu(lambda: con.execute(f"CREATE OR REPLACE TEMP TABLE _bench AS {bare_sql}"))
    values = transaction_values(dataset)
    sql = feature_sql(dataset, [as_of], config, values)
    prefix = sql[: sql.index("\nSELECT cu.customer_id")]
    names = [n for n in ("tm", "ta", "sa") if f"\n{n} AS (" in prefix]
    timings = [("category/channel values", cpu(lambda: transaction_values(dataset)))]
    for name in names:
        timings.append((name, cpu(lambda: con.execute(f"CREATE OR REPLACE TEMP TABLE _bench AS {prefix}\nSELECT * FROM {name}"))))
    timings.append(("whole query", cpu(lambda: con.execute(f"CREATE OR REPLACE TEMP TABLE _bench AS {sql}"))))
    timings.append(("result to pandas", cpu(lambda: pd.DataFrame(_arrays(con, "SELECT * FROM _bench"), copy=False))))
    con.execute("DROP TABLE IF EXISTS _bench")
    rows = [("part (1 cutoff)", "CPU s = x bare"), ("bare GROUP BY", f"{bare:.2f} s")]
    rows += [(name, f"{seconds:.2f} s = {seconds / bare:.1f}x") for name, seconds in timings]
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--data", type=Path, default=None,
                        help="Folder for the generated data (reused when it already holds transactions.parquet or .csv).")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--format", choices=("parquet", "csv"), default="parquet",
                        help="File format when generating (CSV is text: validation parses every value).")
    parser.add_argument("--as-of", default="2025-07-01")
    parser.add_argument("--threads", type=int, default=None, help="DuckDB threads (default: DuckDB's choice).")
    parser.add_argument("--parts", action="store_true", help="Also time each part of the one-cutoff query (CPU).")
    args = parser.parse_args(argv)

    data = args.data or Path(f"/tmp/churnml-bench-{args.customers}")
    if not any((data / f"transactions.{suffix}").exists() for suffix in ("parquet", "csv")):
        from churnml.generate import generate

        print(f"generating {args.customers:,} customers into {data} …", file=sys.stderr)
        start = time.perf_counter()
        generate(data, customers=args.customers, seed=args.seed, fmt=args.format)
        print(f"  generated in {time.perf_counter() - start:.0f} s", file=sys.stderr)

    config = Config()
    with PeakRss() as peak:
        load_s, _, load_gb, dataset = timed(lambda: load_dataset(data, config), peak)
        if args.threads:
            dataset.con.execute(f"SET threads = {args.threads}")
        counts = {
            t: dataset.con.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in dataset.tables
        }
        as_of = pd.Timestamp(args.as_of)
        six = [as_of - pd.Timedelta(days=30 * i) for i in range(6)]

        bare_sql = "SELECT customer_id, sum(amount) FROM transactions GROUP BY 1"
        bare_s, bare_cpu, _, _ = timed(lambda: dataset.con.execute(bare_sql).df(), peak)
        one_s, one_cpu, one_gb, one = timed(lambda: build_features(dataset, [as_of], config), peak)
        six_s, _, six_gb, six_frame = timed(lambda: build_features(dataset, six, config), peak)
        bare2_s, bare2_cpu, _, _ = timed(lambda: dataset.con.execute(bare_sql).df(), peak)
        max_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e9  # Linux: KiB
        part_rows = parts(dataset, as_of, config, bare_sql) if args.parts else []

    bare, bare_cpu = min(bare_s, bare2_s), min(bare_cpu, bare2_cpu)
    rows = [
        ("data", f"{counts.get('customers', 0):,} customers, {counts.get('transactions', 0):,} transactions, "
                 f"{counts.get('service_events', 0):,} service events"),
        ("load + validate", f"{load_s:.1f} s, peak RSS {load_gb:.2f} GB"),
        ("bare GROUP BY sum(amount)", f"{bare:.2f} s (best of 2)"),
        ("features, 1 cutoff", f"{one_s:.2f} s = {one_s / bare:.1f}x bare, peak RSS {one_gb:.2f} GB, {len(one):,} rows x {one.shape[1]} cols"),
        ("features, 1 cutoff, CPU", f"{one_cpu:.2f} s = {one_cpu / bare_cpu:.1f}x bare's {bare_cpu:.2f} s"),
        ("features, 6 cutoffs", f"{six_s:.2f} s = {six_s / one_s:.1f}x one cutoff, peak RSS {six_gb:.2f} GB, {len(six_frame):,} rows"),
        ("max RSS (getrusage)", f"{max_rss:.2f} GB"),
        ("cores", f"{psutil.cpu_count()}"),
    ]
    print("| measure | result |\n| --- | --- |")
    for name, value in rows:
        print(f"| {name} | {value} |")
    if part_rows:
        print(f"\n| {part_rows[0][0]} | {part_rows[0][1]} |\n| --- | --- |")
        for name, value in part_rows[1:]:
            print(f"| {name} | {value} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
