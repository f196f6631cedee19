"""Shared fixtures. Append new ones; keep each expensive fixture session-scoped and documented."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest

from churnml.config import Config
from churnml.dataset import Dataset


@dataclass(frozen=True)
class TrainedStore:
    """A generated sample and one trained champion in a private MLflow store."""

    root: Path
    """Working folder (holds ``data/`` and ``mlruns/``)."""
    data: Path
    dataset: Dataset
    result: object
    """The :class:`churnml.train.TrainingResult`."""
    tracking_uri: str
    as_of: str
    test_cutoff: str


TRAINED_AS_OF = "2025-12-01"


def _fit_small_models(training, trees: tuple[int, int], leaves: int, validation: tuple[str, ...]):
    """A churn and a value model fitted in seconds on ``training``'s train split, without tuning.

    ``trees`` = (churn, value) trees; ``validation`` = the splits the churn model calibrates on.
    Returns ``(churn, value, names, metadata)``: ``metadata`` has what ``churnml train`` records
    and scoring or serving read (base rate, monitoring reference with its seasons, specs, cutoffs,
    test metrics),
    so tests score with the production rules (risk tiers relative to the base rate, reasons
    gated by typical values), not a hand-picked subset.
    """
    from churnml import metrics
    from churnml.models import ChurnModel, ValueModel
    from churnml.train import drift_reference

    frame, names = training.frame, training.feature_names
    train, held_out = frame[frame["split"] == "train"], frame[frame["split"].isin(validation)]
    monotone = {s.name: s.monotone for s in training.specs if s.kind == "numeric" and s.monotone}
    churn = ChurnModel(monotone=monotone, n_estimators=trees[0], num_leaves=leaves, early_stopping_rounds=None, n_jobs=1)
    churn.fit(train[names], train["churned"], held_out[names], held_out["churned"])
    value = ValueModel(n_estimators=trees[1], num_leaves=leaves, early_stopping_rounds=None, n_jobs=1)
    value.fit(train[names], train["value"], train["churned"] == 0)

    test = training.split("test")
    probability, value_if_retained = churn.predict_proba(test[names]), value.predict(test[names])
    horizon = Config().problem.horizon_days
    as_of = max(training.cutoffs) + pd.Timedelta(days=horizon)   # the latest label window ends at the as-of date
    # As `churnml train` builds it: the test cutoff, and the other cutoffs as the seasons' references.
    reference = drift_reference(training, frame, {"churn_probability": probability,
                                                  "predicted_value": (1 - probability) * value_if_retained}, as_of, Config())
    metadata = {
        "as_of": f"{as_of:%Y-%m-%d}", "horizon_days": horizon,
        "cutoffs": {split: [f"{c:%Y-%m-%d}" for c in cs] for split, cs in training.split_cutoffs.items()},
        "feature_names": names, "categorical_features": training.categorical_features, "left_out_features": {},
        "base_rate": float(test["churned"].mean()), "specs": [s.to_dict() for s in training.specs],
        "test_metrics": {
            "churn": {"model": metrics.churn_metrics(test["churned"].to_numpy(), probability)},
            "value": {"model": metrics.value_metrics(test["value"].to_numpy(), (1 - probability) * value_if_retained)},
        },
        "grade": "B", "grades": {"churn": "B", "value": "B", "overall": "B"},
        "feature_reference": reference["features"], "monitoring_reference": reference,
    }
    return churn, value, names, metadata


@pytest.fixture(scope="session")
def fit_small_models():
    """The one way tests fit quick models: ``fit_small_models(training, trees, leaves, validation)``."""
    return _fit_small_models


@pytest.fixture(scope="session")
def trained_store(tmp_path_factory: pytest.TempPathFactory) -> TrainedStore:
    """Train once per session (~25 s: 2,000 customers, 2 trials per model, 100 rounds).

    The store is private: the MLflow environment is set only while training; tests that use the
    store take :func:`use_trained_store`, which points MLFLOW_TRACKING_URI and the cwd at it.
    """
    from churnml.generate import generate
    from churnml.train import train
    from churnml.validate import load_dataset

    root = tmp_path_factory.mktemp("trained_store")
    data = root / "data"
    generate(data, 2000, seed=5)
    dataset = load_dataset(data, Config())
    uri = f"sqlite:///{root / 'mlruns' / 'mlflow.db'}"
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(root)
        patch.setenv("MLFLOW_TRACKING_URI", uri)
        result = train(dataset, TRAINED_AS_OF, Config(), trials=2, seed=3, n_estimators=100, n_jobs=1)
    test_cutoff = f"{result.cutoffs['test'][0]:%Y-%m-%d}"
    return TrainedStore(root, data, dataset, result, uri, TRAINED_AS_OF, test_cutoff)


@pytest.fixture
def use_trained_store(trained_store: TrainedStore, monkeypatch: pytest.MonkeyPatch) -> TrainedStore:
    """:func:`trained_store`, with MLFLOW_TRACKING_URI and the working directory pointing at it."""
    monkeypatch.chdir(trained_store.root)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", trained_store.tracking_uri)
    return trained_store


@dataclass(frozen=True)
class ServedStore:
    """What the HTTP API serves in tests: registered champion models, a snapshot and batch scores."""

    root: Path
    data: Path
    dataset: Dataset
    tracking_uri: str
    snapshots: Path
    """Folder holding the snapshot `churnml score` wrote."""
    scores: Path
    """The batch scores `churnml score` wrote for the same as-of date."""
    as_of: str

    def env(self, api_key: str) -> dict[str, str]:
        """Environment variables the service reads."""
        return {"MLFLOW_TRACKING_URI": self.tracking_uri, "CHURNML_API_KEY": api_key,
                "CHURNML_SNAPSHOTS": str(self.snapshots), "CHURNML_ALIAS": "champion"}


SERVED_AS_OF = "2025-12-01"


@pytest.fixture(scope="session")
def served_store(tmp_path_factory: pytest.TempPathFactory) -> ServedStore:
    """Small fitted models registered as champion, then `churnml score` (scores + snapshot) (~20 s).

    The models are fitted directly (no tuning) to keep the API tests fast; they go through the
    same registry, alias and snapshot hand-over as trained ones. The store is private: its
    environment is set only while building it.
    """
    return _served_store(tmp_path_factory.mktemp("served_store"), 1500, seed=3)


PLACEHOLDER_CUSTOMERS = {"N/A": 2, "-": 1}
"""How many customers of :func:`served_store_numeric` have each placeholder as their credit limit."""


@pytest.fixture(scope="session")
def served_store_numeric(tmp_path_factory: pytest.TempPathFactory) -> ServedStore:
    """As :func:`served_store` (600 customers, ~15 s), with a numeric attribute ``credit_limit``
    written as text, as an export gives it: whole numbers, and the placeholders
    :data:`PLACEHOLDER_CUSTOMERS` for customers active in the 90 days before the as-of date, whom
    validation keeps with the value blanked."""

    def credit_limits(customers: pd.DataFrame, data: Path) -> pd.DataFrame:
        recent = pd.read_parquet(data / "transactions.parquet", columns=["customer_id", "timestamp"])
        recent = recent[recent["timestamp"].between(pd.Timestamp(SERVED_AS_OF) - pd.Timedelta(days=90),
                                                    pd.Timestamp(SERVED_AS_OF), inclusive="left")]
        active = sorted(set(recent["customer_id"]))
        limits = [str(500 * (1 + i % 97)) for i in range(len(customers))]
        customers = customers.assign(credit_limit=limits)
        chosen = iter(active[::max(1, len(active) // 5)])
        for text, n in PLACEHOLDER_CUSTOMERS.items():
            for _ in range(n):
                customers.loc[customers["customer_id"] == next(chosen), "credit_limit"] = text
        return customers

    return _served_store(tmp_path_factory.mktemp("served_store_numeric"), 600, seed=11, edit_customers=credit_limits)


def _served_store(root: Path, customers: int, seed: int, edit_customers=None) -> ServedStore:
    """Generate ``customers`` into ``root / "data"`` (``edit_customers(frame, data)`` rewrites the
    customers table), fit and register small models as champion, run `churnml score`."""
    from typer.testing import CliRunner

    from churnml import tracking
    from churnml.cli import get_app
    from churnml.generate import generate
    from churnml.labels import build_training_set, problem_definition
    from churnml.train import without_identifiers
    from churnml.validate import load_dataset

    data = root / "data"
    generate(data, customers, seed=seed)
    if edit_customers is not None:
        edit_customers(pd.read_parquet(data / "customers.parquet"), data).to_parquet(data / "customers.parquet", index=False)
    dataset = load_dataset(data, Config())
    # As `churnml train` does: the account managers' codes (too many values) are left out.
    training, left_out = without_identifiers(build_training_set(dataset, "2025-09-01", Config()),
                                             Config().training.max_categorical_levels)
    churn, value, names, metadata = _fit_small_models(training, (60, 40), 15, ("validation",))
    metadata["left_out_features"] = left_out
    metadata["problem"] = problem_definition(Config(), dataset.summary["tables"])  # as `churnml train` records it
    test = training.split("test")
    uri = f"sqlite:///{root / 'mlruns' / 'mlflow.db'}"
    snapshots, scores = root / "snapshots", root / "scores.parquet"
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(root)
        patch.setenv("MLFLOW_TRACKING_URI", uri)
        with tracking.start_training_run("api tests") as run:
            versions = run.log_models(churn, value, test[names].head(5), metadata)
        for name, version in zip(tracking.MODEL_NAMES, versions):
            tracking.promote(name, version)
        result = CliRunner().invoke(get_app(), ["score", str(data), "--as-of", SERVED_AS_OF, "--out", str(scores),
                                                "--snapshots", str(snapshots)])
        assert result.exit_code == 0, result.output
    return ServedStore(root, data, dataset, uri, snapshots, scores, SERVED_AS_OF)


@pytest.fixture(scope="session")
def run_in_terminal():
    """A function running ``churnml ARGS`` (this environment's) with stdout and stderr a
    pseudo-terminal, as a user at a shell runs it: spinners and progress bars draw only there
    (CliRunner's output is not a terminal). Returns (exit code, everything printed)."""
    import os
    import pty
    import subprocess
    import sys

    def run(args: list[str], cwd: Path, env: dict[str, str] | None = None, timeout: float = 600) -> tuple[int, str]:
        leader, follower = pty.openpty()
        environment = {**os.environ, "TERM": "xterm-256color", "COLUMNS": "120", **(env or {})}
        process = subprocess.Popen([str(Path(sys.executable).parent / "churnml"), *map(str, args)], stdin=subprocess.DEVNULL,
                                   stdout=follower, stderr=follower, cwd=cwd, env=environment)
        os.close(follower)
        chunks = []
        try:
            while True:
                try:
                    chunk = os.read(leader, 65536)
                except OSError:  # EIO: the command ended and closed the terminal
                    break
                if not chunk:
                    break
                chunks.append(chunk)
            code = process.wait(timeout=timeout)
        finally:
            os.close(leader)
        return code, b"".join(chunks).decode("utf-8", errors="replace")

    return run


def add_annual_and_monthly_payers(folder: Path, as_of: pd.Timestamp) -> tuple[str, str]:
    """Add two hand-made customers to a generated sample in ``folder`` (Parquet), as of ``as_of``:
    an annual payer, paid up (three invoices a year apart, the last 287 days before ``as_of``), and a
    monthly payer silent for 200 days after two years of invoices every 30 days. Returns their ids."""
    annual, monthly = "ANNUAL01", "MONTHLY01"
    customers = pd.read_parquet(folder / "customers.parquet")
    added = customers.iloc[[0, 0]].assign(customer_id=[annual, monthly], signup_date=as_of - pd.Timedelta(days=1200))
    pd.concat([customers, added], ignore_index=True).to_parquet(folder / "customers.parquet", index=False)
    transactions = pd.read_parquet(folder / "transactions.parquet")
    days = {annual: [287 + 365 * k for k in range(3)], monthly: [200 + 30 * k for k in range(25)]}
    rows = [(f"T{customer}-{i}", customer, as_of - pd.Timedelta(days=d), 1200.0 if customer == annual else 100.0)
            for customer, ago in days.items() for i, d in enumerate(ago)]
    added = pd.DataFrame(rows, columns=["transaction_id", "customer_id", "timestamp", "amount"])
    added = added.assign(**{c: transactions[c].iloc[0] for c in transactions.columns if c not in added.columns})
    added = added.astype(transactions.dtypes.to_dict())
    pd.concat([transactions, added], ignore_index=True).to_parquet(folder / "transactions.parquet", index=False)
    return annual, monthly


def check_a_second_run_stops_while_the_first_holds_the_lock(args: list[str], out: Path, command: str,
                                                            published: list[str], cwd: Path, env: dict | None = None) -> None:
    """Run ``args`` (a churnml command writing ``out``), stop it once it holds ``out``'s lock, and check
    that the same command started beside it stops at once with exit code 75, naming the first and
    writing nothing; then ``kill -9`` the first and check that a third run takes the lock left behind and
    publishes ``published`` (the names in ``out``'s folder), the lock file removed. Real processes."""
    import os
    import re
    import shlex
    import signal
    import subprocess
    import time

    from churnml import io

    lock = out.parent / f".{out.name}.lock"
    first = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=cwd, env=env)
    try:
        deadline = time.monotonic() + 120
        while not (lock.is_file() and lock.read_text()):  # its holder's line is written once it holds the lock
            assert first.poll() is None and time.monotonic() < deadline, "the first run never took the lock"
            time.sleep(0.02)
        os.kill(first.pid, signal.SIGSTOP)  # a slow run: it holds the lock and writes nothing meanwhile
        second = subprocess.run(args, capture_output=True, text=True, timeout=300, cwd=cwd, env=env)
        said = " ".join(second.stderr.split())
        assert second.returncode == 75, second.stdout + second.stderr
        assert re.fullmatch(
            rf"Error: Another `churnml {command}` \(PID {first.pid} on {re.escape(io.HOST)}, started \d{{4}}-\d\d-\d\d "
            rf"\d\d:\d\d:\d\d\) is writing --out {re.escape(str(out))} now \(it holds {re.escape(str(lock))}\): this run "
            r"stopped before any work, so as not to replace its files\. Run it again once that one has finished \(exit "
            # The job's log says which command to run again, and how.
            rf"code 75: retry later\)\. To run it again: {re.escape(shlex.join(['churnml', *map(str, args[1:])]))}", said), said
        assert sorted(p.name for p in out.parent.iterdir()) == [lock.name]  # nothing written by either
        os.kill(first.pid, signal.SIGKILL)
        first.wait(timeout=30)
    finally:
        if first.poll() is None:
            first.kill()
            first.wait(timeout=30)
    assert lock.is_file()  # left by kill -9, but no longer locked
    third = subprocess.run(args, capture_output=True, text=True, timeout=300, cwd=cwd, env=env)
    assert third.returncode == 0, third.stdout + third.stderr
    assert sorted(p.name for p in out.parent.iterdir()) == sorted(published)  # lock removed
