"""Feature build time: DuckDB vs Spark local[2], and Spark on 1 core vs 2 cores.

Generates N customers once (cached under ``--work``), then times one feature build at one as-of
date, writing the feature table to Parquet on each engine:

* DuckDB: the feature query run by ``COPY (…) TO …parquet``, after ``load_dataset`` has validated
  the data (validation is timed separately);
* Spark: ``churnml.spark.feature_frame(…, ordered=False).write.parquet`` (the same query,
  transpiled; what ``churnml features --engine spark`` writes), each ``local[k]`` in its own
  process because a JVM keeps its master.

Cores, not just task slots
    ``local[k]`` gives Spark k task threads, but the JVM also runs its JIT compiler, garbage
    collector and Spark's driver threads, on any core it may use. At 200,000 customers these take
    about two thirds of the JVM's CPU time (the JIT compiler alone about 24 s of some 60 s), so an
    unpinned ``local[1]`` already keeps two cores busy and ``local[2]`` has no idle core to gain.
    Each Spark run is therefore pinned to k CPUs (Linux ``sched_setaffinity``, inherited by the
    JVM), so ``local[1]`` vs ``local[2]`` compares one core with two. ``--no-pin`` measures the old
    way. Both Spark runs use the G1 collector (a JVM that sees one CPU would pick another one).

Besides wall time, each run reports the CPU time of the whole process (JVM or DuckDB) during the
build, and for Spark the CPU time of its tasks and the number of tasks: on a busy machine, wall
times are noisy but these are not. "others" is the CPU time other processes used meanwhile
(Linux ``/proc/stat``): well above zero, the wall times were disturbed. ``--repeat`` runs every
measurement several times (a fresh process each) and keeps the fastest.

Usage::

    python benchmarks/bench_spark.py                      # 5,000,000 customers (slow)
    python benchmarks/bench_spark.py --customers 200000
"""

from __future__ import annotations

import argparse
import json
import os
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
    cpu, busy = time.process_time(), machine_busy_s()  # process_time: all threads of this process
    sql = feature_sql(dataset, [pd.Timestamp(AS_OF)], Config())
    dataset.con.execute(f"COPY ({sql}) TO '{out}' (FORMAT parquet)")
    done = time.perf_counter()
    cpu_s = time.process_time() - cpu
    others = None if busy is None else max(0.0, machine_busy_s() - busy - cpu_s)
    rows = dataset.con.execute(f"SELECT count(*) FROM read_parquet('{out}')").fetchone()[0]
    return {"validate_s": validated - started, "features_s": done - validated, "cpu_s": cpu_s, "others_s": others,
            "rows": rows}


def machine_busy_s() -> float | None:
    """CPU seconds all processes have used since boot (Linux ``/proc/stat``); None elsewhere."""
    try:
        with open("/proc/stat") as stat:
            fields = [int(v) for v in stat.readline().split()[1:9]]
    except (OSError, ValueError):
        return None
    user, nice, system, _idle, _iowait, irq, softirq, steal = fields
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def pin_to_cpus(cores: int) -> list[int] | None:
    """Restrict this process (and the JVM it starts) to ``cores`` CPUs; None where that is unsupported."""
    if not hasattr(os, "sched_setaffinity"):
        return None
    available = sorted(os.sched_getaffinity(0))
    if cores > len(available):
        raise SystemExit(f"Cannot pin local[{cores}] to {cores} CPUs: only {len(available)} available.")
    os.sched_setaffinity(0, available[:cores])
    return available[:cores]


def run_spark(data: Path, out: Path, cores: int, pin: bool = True) -> dict[str, float]:
    """Feature build time with Spark local[cores], session start excluded."""
    from churnml import spark as churn_spark
    from churnml.config import Config

    cpus = pin_to_cpus(cores) if pin else None
    started = time.perf_counter()
    spark = churn_spark.spark_session(
        f"local[{cores}]", "churnml-bench",
        {"spark.ui.enabled": "false", "spark.sql.shuffle.partitions": str(4 * cores), "spark.driver.memory": "4g",
         "spark.driver.extraJavaOptions": "-XX:+UseG1GC"},
    )
    spark.sparkContext.setLogLevel("ERROR")
    session = time.perf_counter()
    cpu, busy, here = _jvm_cpu_s(spark), machine_busy_s(), time.process_time()
    sdata = churn_spark.read_tables(spark, str(data), Config())
    churn_spark.feature_frame(sdata, [pd.Timestamp(AS_OF)], Config(), ordered=False).write.mode("overwrite").parquet(str(out))
    done = time.perf_counter()
    cpu_s = _jvm_cpu_s(spark) - cpu
    others = None if busy is None else max(0.0, machine_busy_s() - busy - cpu_s - (time.process_time() - here))
    stages = _stages(spark)
    rows = spark.read.parquet(str(out)).count()
    result = {
        "session_s": session - started, "features_s": done - session, "cpu_s": cpu_s, "others_s": others, "rows": rows,
        "cpus": spark._jvm.java.lang.Runtime.getRuntime().availableProcessors(), "pinned": cpus is not None,
    }
    if stages is not None:
        result.update(stages=stages, tasks=sum(s[1] for s in stages), task_cpu_s=sum(s[3] for s in stages),
                      task_run_s=sum(s[2] for s in stages))
    spark.stop()
    return result


def _jvm_cpu_s(spark) -> float:
    """CPU seconds the driver JVM (all its threads) has used so far."""
    return spark._jvm.java.lang.ProcessHandle.current().info().totalCpuDuration().get().toNanos() / 1e9


def _stages(spark) -> list[list] | None:
    """[stage id, tasks, task run s, task CPU s] of each completed stage so far (None if unavailable).

    Reads Spark's status store, an internal API (the one behind the UI's stage table).
    """
    try:
        context = spark.sparkContext
        gateway = context._gateway
        found = context._jsc.sc().statusStore().stageList(
            None, False, False, gateway.new_array(gateway.jvm.double, 0), gateway.jvm.java.util.ArrayList())
        stages, items = [], found.iterator()
        while items.hasNext():
            s = items.next()
            if s.status().toString() == "COMPLETE":
                stages.append([s.stageId(), s.numCompleteTasks(), s.executorRunTime() / 1e3, s.executorCpuTime() / 1e9])
        return sorted(stages)
    except Exception:  # noqa: BLE001 - a missing breakdown must not fail the benchmark
        return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--customers", type=int, default=5_000_000)
    parser.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "churnml-bench-spark")
    parser.add_argument("--repeat", type=int, default=1, help="runs per measurement (fresh process each); the fastest is kept")
    parser.add_argument("--no-pin", dest="pin", action="store_false",
                        help="let local[k] use every CPU (the JVM's own threads then use cores beyond k)")
    parser.add_argument("--engine", choices=["all", "duckdb", "spark"], default="all", help=argparse.SUPPRESS)
    parser.add_argument("--cores", type=int, default=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    data = args.work / f"data_{args.customers}"

    if args.engine != "all":  # one measurement, in this process (the parent parses the JSON line)
        out = args.work / f"features_{args.customers}_{args.engine}_{args.cores}.parquet"  # runs of other sizes may share --work
        shutil.rmtree(out, ignore_errors=True)
        out.unlink(missing_ok=True)
        result = run_duckdb(data, out) if args.engine == "duckdb" else run_spark(data, out, args.cores, args.pin)
        print(json.dumps(result))
        return

    if not (data / "transactions.parquet").exists():
        from churnml.generate import generate

        started = time.perf_counter()
        rows = generate(data, args.customers, seed=0)
        print(f"generated {rows} in {time.perf_counter() - started:.0f}s", flush=True)

    def measure(engine: str, cores: int = 2) -> dict[str, float]:
        command = [sys.executable, __file__, "--customers", str(args.customers), "--work", str(args.work),
                   "--engine", engine, "--cores", str(cores)] + ([] if args.pin else ["--no-pin"])
        runs = []
        for _ in range(args.repeat):
            output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
            runs.append(json.loads(output.strip().splitlines()[-1]))
        best = min(runs, key=lambda r: r["features_s"])
        return {**best, "all_s": [round(r["features_s"], 1) for r in runs]}

    results = {
        "duckdb": measure("duckdb"),
        "spark local[2]": measure("spark", 2),
        "spark local[1]": measure("spark", 1),
    }
    print(f"\n{args.customers:,} customers, features at {AS_OF} (one cutoff), written to Parquet")
    print(f"{'engine':<16}{'features (s)':>14}{'CPU (s)':>10}{'task CPU (s)':>14}{'tasks':>7}{'others (s)':>12}"
          f"{'rows':>12}   notes")
    for name, result in results.items():
        if "validate_s" in result:
            note = f"validation {result['validate_s']:.1f}s not included"
        else:
            cpus = f"{result['cpus']} CPU{'s' if result['cpus'] > 1 else ''}{' (pinned)' if result['pinned'] else ''}"
            note = f"{cpus}; session start {result['session_s']:.1f}s not included"
        if len(result["all_s"]) > 1:
            note += f"; runs {result['all_s']}"
        task_cpu = f"{result['task_cpu_s']:.1f}" if "task_cpu_s" in result else "-"
        others = "-" if result["others_s"] is None else f"{result['others_s']:.1f}"
        print(f"{name:<16}{result['features_s']:>14.1f}{result['cpu_s']:>10.1f}{task_cpu:>14}"
              f"{result.get('tasks', '-'):>7}{others:>12}{result['rows']:>12,}   {note}")
    speedup = results["spark local[1]"]["features_s"] / results["spark local[2]"]["features_s"]
    print(f"Spark local[1] -> local[2] speed-up: {speedup:.2f}x "
          f"({'one core vs two' if args.pin else 'unpinned: both runs may use every core'})")
    print("CPU: the process during the build (JVM: tasks plus JIT compiler, GC and driver threads); "
          "others: CPU used by other processes meanwhile (disturbs the wall times)")


if __name__ == "__main__":
    main()
