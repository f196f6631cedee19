"""Feature build time: DuckDB vs Spark local[2], and Spark local[1] vs local[2].

Generates N customers once (cached under ``--work``), then times one feature build at one as-of
date, writing the feature table to Parquet on each engine:

* DuckDB: the feature query run by ``COPY (…) TO …parquet``, after ``load_dataset`` has validated
  the data (validation is timed separately);
* Spark: ``churnml.spark.feature_frame(…).write.parquet`` (the same query, transpiled), each
  ``local[k]`` in its own process because a JVM keeps its master.

Usage::

    python benchmarks/bench_spark.py                      # 5,000,000 customers (slow)
    python benchmarks/bench_spark.py --customers 200000
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

AS_OF = "2025-07-01"


def run_duckdb(data: Path, out: Path) -> dict[str, float]:
    """Validation time and feature build time with DuckDB (all cores DuckDB wants)."""
    from churnml.config import Config
    from churnml.features import feature_sql
    from churnml.validate import load_dataset

    started = time.perf_counter()
    dataset = load_dataset(data, Config())
    validated = time.perf_counter()
    sql = feature_sql(dataset, [pd.Timestamp(AS_OF)], Config())
    dataset.con.execute(f"COPY ({sql}) TO '{out}' (FORMAT parquet)")
    done = time.perf_counter()
    rows = dataset.con.execute(f"SELECT count(*) FROM read_parquet('{out}')").fetchone()[0]
    return {"validate_s": validated - started, "features_s": done - validated, "rows": rows}


def run_spark(data: Path, out: Path, cores: int) -> dict[str, float]:
    """Feature build time with Spark local[cores], session start excluded."""
    from churnml import spark as churn_spark
    from churnml.config import Config

    started = time.perf_counter()
    spark = churn_spark.spark_session(
        f"local[{cores}]", "churnml-bench",
        {"spark.ui.enabled": "false", "spark.sql.shuffle.partitions": str(4 * cores), "spark.driver.memory": "4g"},
    )
    spark.sparkContext.setLogLevel("ERROR")
    session = time.perf_counter()
    sdata = churn_spark.read_tables(spark, str(data), Config())
    churn_spark.feature_frame(sdata, [pd.Timestamp(AS_OF)], Config()).write.mode("overwrite").parquet(str(out))
    done = time.perf_counter()
    rows = spark.read.parquet(str(out)).count()
    spark.stop()
    return {"session_s": session - started, "features_s": done - session, "rows": rows}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--customers", type=int, default=5_000_000)
    parser.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "churnml-bench-spark")
    parser.add_argument("--engine", choices=["all", "duckdb", "spark"], default="all", help=argparse.SUPPRESS)
    parser.add_argument("--cores", type=int, default=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    data = args.work / f"data_{args.customers}"

    if args.engine != "all":  # one measurement, in this process (the parent parses the JSON line)
        out = args.work / f"features_{args.engine}_{args.cores}.parquet"
        shutil.rmtree(out, ignore_errors=True)
        out.unlink(missing_ok=True)
        result = run_duckdb(data, out) if args.engine == "duckdb" else run_spark(data, out, args.cores)
        print(json.dumps(result))
        return

    if not (data / "transactions.parquet").exists():
        from churnml.generate import generate

        started = time.perf_counter()
        rows = generate(data, args.customers, seed=0)
        print(f"generated {rows} in {time.perf_counter() - started:.0f}s", flush=True)

    def measure(engine: str, cores: int = 2) -> dict[str, float]:
        command = [sys.executable, __file__, "--customers", str(args.customers), "--work", str(args.work),
                   "--engine", engine, "--cores", str(cores)]
        output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
        return json.loads(output.strip().splitlines()[-1])

    results = {
        "duckdb": measure("duckdb"),
        "spark local[2]": measure("spark", 2),
        "spark local[1]": measure("spark", 1),
    }
    print(f"\n{args.customers:,} customers, features at {AS_OF} (one cutoff), written to Parquet")
    print(f"{'engine':<16}{'features (s)':>14}{'rows':>12}   notes")
    for name, result in results.items():
        note = (f"validation {result['validate_s']:.1f}s not included" if "validate_s" in result
                else f"session start {result['session_s']:.1f}s not included")
        print(f"{name:<16}{result['features_s']:>14.1f}{result['rows']:>12,}   {note}")
    speedup = results["spark local[1]"]["features_s"] / results["spark local[2]"]["features_s"]
    print(f"Spark local[1] -> local[2] speed-up: {speedup:.2f}x")


if __name__ == "__main__":
    main()
