"""Batch scoring at scale: generate N customers, train small models, score everyone.

Reports wall time and peak memory of scoring (features, both models, reasons, segments, writing),
seconds per stage, and the ratio of model-plus-reasons time to a bare LightGBM ``predict`` of both
boosters on the same matrix. Aim: 1,000,000 customers in under 2 minutes on 2 cores.

Run by hand (takes a while: data generation and training come first)::

    .venv/bin/python benchmarks/bench_score.py --customers 1000000 --workdir /tmp/bench_score

Models are fitted directly (a few hundred trees, no tuning, no MLflow): tracking is not what is
measured here, and the scoring code path is the one ``churnml score`` runs.
"""

from __future__ import annotations

import argparse
import json
import threading
import time
from pathlib import Path

import pandas as pd
import psutil

from churnml.config import Config
from churnml.generate import generate
from churnml.labels import build_scoring_frame, build_training_set
from churnml.models import ChurnModel, ValueModel
from churnml.scoring import score_chunks, score_metadata, write_scores
from churnml.tracking import LoadedModels
from churnml.validate import load_dataset

TRAIN_AS_OF = pd.Timestamp("2025-09-01")
SCORE_AS_OF = pd.Timestamp("2025-12-01")


class PeakMemory:
    """Sample this process's resident memory in a thread; ``peak`` in bytes."""

    def __init__(self, interval: float = 0.05) -> None:
        self.interval = interval
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        process = psutil.Process()
        while not self._stop.is_set():
            self.peak = max(self.peak, process.memory_info().rss)
            time.sleep(self.interval)

    def __enter__(self) -> "PeakMemory":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def fit_models(dataset, train_customers: int) -> LoadedModels:
    """Small but realistic models, fitted on a sample of customers of the training set."""
    training = build_training_set(dataset, TRAIN_AS_OF, Config())
    frame = training.frame
    ids = frame["customer_id"].drop_duplicates().sample(min(train_customers, frame["customer_id"].nunique()), random_state=0)
    frame = frame[frame["customer_id"].isin(set(ids))]
    train, validation = frame[frame["split"] == "train"], frame[frame["split"] != "train"]
    names = training.feature_names
    monotone = {s.name: s.monotone for s in training.specs if s.kind == "numeric" and s.monotone}
    churn = ChurnModel(monotone=monotone, n_estimators=300, num_leaves=31, early_stopping_rounds=None)
    churn.fit(train[names], train["churned"], validation[names], validation["churned"])
    value = ValueModel(n_estimators=300, num_leaves=31, early_stopping_rounds=None)
    value.fit(train[names], train["value"], train["churned"] == 0)
    metadata = {"as_of": f"{TRAIN_AS_OF:%Y-%m-%d}", "specs": [s.to_dict() for s in training.specs]}
    return LoadedModels(churn, value, "bench", "bench", "bench", metadata)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--train-customers", type=int, default=50_000)
    parser.add_argument("--chunk-size", type=int, default=100_000)
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/bench_score"))
    parser.add_argument("--reasons", default="all,at_risk", help="Comma-separated [scoring] reasons_for modes to time.")
    args = parser.parse_args()

    data = args.workdir / f"data_{args.customers}"
    if not (data / "customers.parquet").exists():
        started = time.perf_counter()
        generate(data, args.customers, seed=0)
        print(f"generated {args.customers:,} customers in {time.perf_counter() - started:.0f}s")
    dataset = load_dataset(data, Config())
    started = time.perf_counter()
    models = fit_models(dataset, args.train_customers)
    print(f"fitted models in {time.perf_counter() - started:.0f}s")

    results = {}
    for reasons_for in args.reasons.split(","):
        config = Config().replace(scoring={"reasons_for": reasons_for})
        timings: dict[str, float] = {}
        out = args.workdir / "scores.parquet"
        with PeakMemory() as memory:
            started = time.perf_counter()
            t0 = time.perf_counter()
            features = build_scoring_frame(dataset, SCORE_AS_OF, config)
            timings["features"] = time.perf_counter() - t0
            t0 = time.perf_counter()
            chunks = score_chunks(features, SCORE_AS_OF, models, config, chunk_size=args.chunk_size, timings=timings)
            write_scores(chunks, out, "parquet", score_metadata(models, SCORE_AS_OF, config, dataset.fingerprint))
            scoring_and_writing = time.perf_counter() - t0
            wall = time.perf_counter() - started
        timings["write"] = scoring_and_writing - sum(v for k, v in timings.items() if k != "features")

        X = features[models.churn.feature_names_]
        t0 = time.perf_counter()
        prepared = models.churn._prepare(X)
        models.churn.booster_.predict(prepared)
        models.value.booster_.predict(prepared)
        bare = time.perf_counter() - t0
        model_and_reasons = timings["predict"] + timings.get("contributions", 0.0) + timings.get("reasons", 0.0)

        results[f"reasons_for={reasons_for}"] = {
            "customers_scored": len(features),
            "wall_seconds": round(wall, 1),
            "peak_memory_mb": round(memory.peak / 2**20),
            "stage_seconds": {k: round(v, 2) for k, v in timings.items()},
            "bare_lightgbm_predict_seconds": round(bare, 2),
            "model_plus_reasons_over_bare_predict": round(model_and_reasons / bare, 1),
        }
    result = results
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
