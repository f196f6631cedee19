"""Benchmark `train`: 200,000 generated customers × 6 cutoffs, 50 Optuna trials per model.

Records wall time, trials complete/pruned per model, and CPU utilisation (process CPU time ÷ wall
time; ~2.0 means both cores were busy) plus per-core busy shares from ``psutil.cpu_times``.
Run by hand on a quiet machine (other load makes OpenMP threads spin and distorts everything)::

    .venv/bin/python benchmarks/bench_train.py [--customers 200000] [--trials 50] [--as-of 2025-12-01]

Writes ``benchmarks/results/train-<customers>.json`` and prints it. Data is generated once into
``benchmarks/data/`` (git-ignored); the MLflow store is a fresh temporary folder.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

import psutil

HERE = Path(__file__).resolve().parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=200_000)
    parser.add_argument("--trials", type=int, default=50)
    parser.add_argument("--as-of", default="2025-12-01")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--n-jobs", type=int, default=2)
    args = parser.parse_args()

    from churnml.config import Config
    from churnml.generate import generate
    from churnml.train import train
    from churnml.validate import load_dataset

    data = HERE / "data" / f"customers-{args.customers}"
    if not (data / "customers.parquet").exists():
        generate(data, customers=args.customers, seed=1)
    config = Config().replace(problem={"n_cutoffs": 6})
    dataset = load_dataset(data, config)

    with tempfile.TemporaryDirectory() as store:
        os.environ["MLFLOW_TRACKING_URI"] = f"sqlite:///{Path(store) / 'mlruns' / 'mlflow.db'}"
        os.chdir(store)
        process = psutil.Process()
        cpu_before, cores_before = process.cpu_times(), psutil.cpu_times(percpu=True)
        started = time.perf_counter()
        result = train(dataset, args.as_of, config, trials=args.trials, seed=args.seed, n_jobs=args.n_jobs)
        wall = time.perf_counter() - started
        cpu_after, cores_after = process.cpu_times(), psutil.cpu_times(percpu=True)

    process_cpu = (cpu_after.user - cpu_before.user) + (cpu_after.system - cpu_before.system)
    core_busy = []
    for before, after in zip(cores_before, cores_after):
        busy = (after.user - before.user) + (after.system - before.system)
        total = sum(after) - sum(before)
        core_busy.append(round(busy / total, 3) if total else None)
    record = {
        "customers": args.customers,
        "cutoffs": 6,
        "trials_per_model": args.trials,
        "wall_seconds": round(wall, 1),
        "process_cpu_seconds": round(process_cpu, 1),
        "cpu_utilisation": round(process_cpu / wall, 2),
        "per_core_busy_share": core_busy,
        "cores": psutil.cpu_count(),
        "trials": {k: {"complete": r.n_complete, "pruned": r.n_pruned, "failed": r.n_failed} for k, r in result.tuning.items()},
        "cutoffs_per_split": {split: len(cs) for split, cs in result.cutoffs.items()},
        "test_roc_auc": result.churn_metrics["model"]["roc_auc"],
        "test_normalized_gini": result.value_metrics["model"]["normalized_gini"],
        "grade": result.grades["overall"],
    }
    out = HERE / "results" / f"train-{args.customers}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(record, indent=2))


if __name__ == "__main__":
    main()
