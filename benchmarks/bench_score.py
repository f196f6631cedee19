"""Batch scoring at scale: generate N customers, train small models, score everyone.

Reports wall time and peak memory of scoring (features, both models, reasons, segments, writing),
seconds per stage, and the ratio of model-plus-reasons time to a bare LightGBM ``predict`` of both
boosters on the same matrix. Aim: 1,000,000 customers in under 2 minutes on 2 cores.

Run by hand (takes a while: data generation and training come first)::

    .venv/bin/python benchmarks/bench_score.py --customers 1000000 --workdir /tmp/bench_score

Which models are scored matters as much as the data: explaining a row with ``pred_contrib`` costs
about trees × leaves × depth², so the forest's shape sets the time of the reasons stage.

* ``--models tuned`` (default): the champions ``churnml train`` would give — :func:`churnml.train.train_on`
  with ``--trials`` Optuna trials per model on a sample of ``--train-customers`` customers of the
  training set, registered in a temporary SQLite MLflow store and loaded back by alias, as
  ``churnml score`` does;
* ``--models fixed``: 300 trees × 31 leaves each, no early stopping (the reference used before).

The scoring code path is the one ``churnml score`` runs. The report gives each model's shape (trees,
leaves, mean depth) beside the times.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import shutil
import tempfile
import threading
import time
from pathlib import Path

import pandas as pd
import psutil

from churnml import tracking
from churnml.config import Config
from churnml.features import feature_description
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


def sampled_training_set(dataset, train_customers: int):
    """The training set at ``TRAIN_AS_OF``, cut to a random sample of its customers."""
    training = build_training_set(dataset, TRAIN_AS_OF, Config())
    frame = training.frame
    ids = frame["customer_id"].drop_duplicates().sample(min(train_customers, frame["customer_id"].nunique()), random_state=0)
    return dataclasses.replace(training, frame=frame[frame["customer_id"].isin(set(ids))].reset_index(drop=True))


def tuned_models(dataset, train_customers: int, trials: int, store: Path) -> LoadedModels:
    """Champions from ``train_on`` (Optuna, MLflow on SQLite under ``store``), loaded back by alias."""
    from churnml.train import train_on

    os.environ["MLFLOW_TRACKING_URI"] = f"sqlite:///{store / 'mlruns' / 'mlflow.db'}"
    os.chdir(store)  # artifacts go under ./mlruns
    training = sampled_training_set(dataset, train_customers)
    train_on(training, TRAIN_AS_OF, Config(), fingerprint=dataset.fingerprint,
             feature_description=feature_description(dataset), trials=trials)
    return tracking.load_models()


def fixed_models(dataset, train_customers: int) -> LoadedModels:
    """300 trees x 31 leaves each, fitted on a sample of customers of the training set."""
    training = sampled_training_set(dataset, train_customers)
    frame = training.frame
    train, validation = frame[frame["split"] == "train"], frame[frame["split"] != "train"]
    names = training.feature_names
    monotone = {s.name: s.monotone for s in training.specs if s.kind == "numeric" and s.monotone}
    churn = ChurnModel(monotone=monotone, n_estimators=300, num_leaves=31, early_stopping_rounds=None)
    churn.fit(train[names], train["churned"], validation[names], validation["churned"])
    value = ValueModel(n_estimators=300, num_leaves=31, early_stopping_rounds=None)
    value.fit(train[names], train["value"], train["churned"] == 0)
    metadata = {"as_of": f"{TRAIN_AS_OF:%Y-%m-%d}", "specs": [s.to_dict() for s in training.specs]}
    return LoadedModels(churn, value, "bench", "bench", "bench", metadata)


def forest_shape(model) -> dict[str, float]:
    """Trees, largest leaf count and mean/max depth of a fitted model's booster."""

    def depth(node: dict) -> int:
        return 0 if "leaf_index" in node else 1 + max(depth(node["left_child"]), depth(node["right_child"]))

    trees = model.booster_.dump_model()["tree_info"]
    depths = [depth(t["tree_structure"]) for t in trees]
    return {"trees": len(trees), "max_leaves": max(t["num_leaves"] for t in trees),
            "mean_depth": round(sum(depths) / len(depths), 1), "max_depth": max(depths)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--train-customers", type=int, default=50_000)
    parser.add_argument("--chunk-size", type=int, default=100_000)
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/bench_score"))
    parser.add_argument("--reasons", default="all,at_risk", help="Comma-separated [scoring] reasons_for modes to time.")
    parser.add_argument("--models", choices=["tuned", "fixed"], default="tuned",
                        help="tuned: champions from train_on with --trials; fixed: 300 trees x 31 leaves")
    parser.add_argument("--trials", type=int, default=10, help="Optuna trials per model (--models tuned)")
    args = parser.parse_args()
    args.workdir = args.workdir.resolve()

    data = args.workdir / f"data_{args.customers}"
    if not (data / "customers.parquet").exists():
        started = time.perf_counter()
        generate(data, args.customers, seed=0)
        print(f"generated {args.customers:,} customers in {time.perf_counter() - started:.0f}s")
    dataset = load_dataset(data, Config())
    started = time.perf_counter()
    store = Path(tempfile.mkdtemp(prefix="bench_score_mlruns_"))
    if args.models == "tuned":
        models = tuned_models(dataset, args.train_customers, args.trials, store)
    else:
        models = fixed_models(dataset, args.train_customers)
    print(f"fitted models in {time.perf_counter() - started:.0f}s")
    shapes = {kind: forest_shape(model) for kind, model in (("churn", models.churn), ("value", models.value))}
    tested = models.metadata.get("test_metrics")
    quality = None if tested is None else {
        "churn_test_roc_auc": round(tested["churn"]["model"]["roc_auc"], 4),
        "value_test_normalized_gini": round(tested["value"]["model"]["normalized_gini"], 4),
        "grade": models.metadata.get("grade"),
    }
    print(json.dumps({"models": args.models, "trials": args.trials if args.models == "tuned" else None,
                      "best_params": models.metadata.get("best_params"), "shapes": shapes, "quality": quality},
                     indent=2), flush=True)

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
            "models": args.models,
            "model_shapes": shapes,
            "model_quality": quality,
            "customers_scored": len(features),
            "wall_seconds": round(wall, 1),
            "peak_memory_mb": round(memory.peak / 2**20),
            "stage_seconds": {k: round(v, 2) for k, v in timings.items()},
            "bare_lightgbm_predict_seconds": round(bare, 2),
            "model_plus_reasons_over_bare_predict": round(model_and_reasons / bare, 1),
        }
    shutil.rmtree(store, ignore_errors=True)
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
