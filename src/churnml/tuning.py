"""Hyperparameter search with Optuna: seeded TPE, median pruning, resumable SQLite studies.

Each trial fits a model on the training cutoffs and is scored on the out-of-time validation cutoff:
churn by ROC AUC, value by normalized Gini on the retained customers (both maximised). LightGBM
reports the validation metric to Optuna every :data:`REPORT_EVERY` boosting rounds, and the
:class:`optuna.pruners.MedianPruner` stops trials that are worse than the median of earlier trials
at the same round. Reporting every round would write to SQLite a thousand times per trial.

Studies live in SQLite (``sqlite:///<mlruns>/optuna.db``). The study name is derived from the data
fingerprint, as-of date, horizon, seed and training set (:func:`study_name`), so re-running an interrupted
``train`` loads the same study and only runs the trials still missing: finished trials (complete
or pruned) count toward ``n_trials``. Trials of a killed process are marked failed by Optuna's
heartbeat once they are stale, and do not count.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import numpy as np
import optuna
import pandas as pd

from churnml.models import ChurnModel, ValueModel

REPORT_EVERY = 10
"""Boosting rounds between two reports to the pruner."""
KINDS = ("churn", "value")
_FINISHED = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)

TrialCallback = Callable[[optuna.Study, optuna.trial.FrozenTrial], None]


@dataclass(frozen=True)
class TuningData:
    """The matrices a study needs: training cutoffs and the validation cutoff."""

    X_train: pd.DataFrame
    churned_train: np.ndarray
    value_train: np.ndarray
    X_val: pd.DataFrame
    churned_val: np.ndarray
    value_val: np.ndarray

    def digest(self) -> str:
        """A hash of every matrix and label (columns, dtypes, values): what a study is tuned on."""
        return frames_digest((self.X_train, self.X_val), (self.churned_train, self.value_train, self.churned_val, self.value_val))


def frames_digest(frames: Sequence[pd.DataFrame], arrays: Sequence[np.ndarray]) -> str:
    """sha1 of ``frames`` (columns, dtypes, values) and ``arrays`` (as float64), in order."""
    h = hashlib.sha1()
    for frame in frames:
        h.update(repr([(str(c), str(t)) for c, t in frame.dtypes.items()]).encode())
        h.update(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes())
    for array in arrays:
        h.update(np.ascontiguousarray(array, dtype="float64").tobytes())
    return h.hexdigest()


@dataclass(frozen=True)
class TuningResult:
    """What a study found."""

    kind: str
    study_name: str
    best_params: dict[str, Any]
    best_value: float
    n_complete: int
    n_pruned: int
    n_failed: int
    trials_run_now: int
    extra: dict[str, Any] = field(default_factory=dict)


def storage_url(directory: str | Path) -> str:
    """SQLite URL of the Optuna database in ``directory`` (created if missing)."""
    directory = Path(directory).resolve()
    directory.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{directory / 'optuna.db'}"


def study_name(kind: str, fingerprint: str, as_of: Any, seed: int, horizon_days: int, setup: str = "") -> str:
    """Stable study name: same data, as-of date, horizon, seed and setup -> same study (resume).

    ``setup`` identifies everything else a trial's score depends on: the training set itself
    (:meth:`TuningData.digest`, so a changed ``[training]`` or ``[problem]`` setting, e.g. the
    number of cutoffs, starts a new study instead of reusing the old one's trials) and the fit's
    fixed settings (monotone constraints, number of trees).

    Example
    -------
    >>> study_name("churn", "abc", "2024-01-01", 42, 90)
    'churnml-churn-2024-01-01-h90-s42-a9993e36'
    """
    as_of_text = pd.Timestamp(as_of).strftime("%Y-%m-%d")
    digest = hashlib.sha1((fingerprint + setup).encode()).hexdigest()[:8]
    return f"churnml-{kind}-{as_of_text}-h{horizon_days}-s{seed}-{digest}"


def suggest(kind: str, trial: optuna.Trial) -> dict[str, Any]:
    """The search space: constructor arguments of :class:`ChurnModel` / :class:`ValueModel`."""
    # Leaves are capped at 63 and the learning rate kept >= 0.03 (so early stopping keeps the
    # forest small): every scored customer gets reasons from pred_contrib, whose cost grows with
    # trees x leaves x depth^2. A little flexibility traded for reasons affordable at scale.
    params: dict[str, Any] = {
        "learning_rate": trial.suggest_float("learning_rate", 0.03, 0.2, log=True),
        "num_leaves": trial.suggest_int("num_leaves", 7, 63, log=True),
        "min_child_samples": trial.suggest_int("min_child_samples", 10, 200, log=True),
        "subsample": trial.suggest_float("subsample", 0.5, 1.0),
        "colsample_bytree": trial.suggest_float("colsample_bytree", 0.5, 1.0),
        "reg_alpha": trial.suggest_float("reg_alpha", 1e-3, 10.0, log=True),
        "reg_lambda": trial.suggest_float("reg_lambda", 1e-3, 10.0, log=True),
    }
    if kind == "value":
        params["tweedie_variance_power"] = trial.suggest_float("tweedie_variance_power", 1.1, 1.9)
    return params


def pruning_callback(trial: optuna.Trial, metric: str, every: int = REPORT_EVERY) -> Callable:
    """LightGBM callback: report the validation ``metric`` every ``every`` rounds; prune if told."""

    def callback(env: Any) -> None:
        step = env.iteration + 1
        if step % every:
            return
        for data_name, eval_name, value, _ in env.evaluation_result_list:
            if data_name == "validation" and eval_name == metric:
                trial.report(float(value), step)
                if trial.should_prune():
                    raise optuna.TrialPruned(f"{metric}={value:.4f} at round {step}")

    callback.order = 20  # before early stopping (30)
    return callback


def make_model(kind: str, params: Mapping[str, Any], monotone: Mapping[str, int] | None, seed: int, n_jobs: int, **extra: Any) -> ChurnModel | ValueModel:
    """The estimator a trial (or the final fit) uses, from tuned ``params``."""
    if kind == "churn":
        return ChurnModel(monotone=monotone, random_state=seed, n_jobs=n_jobs, **params, **extra)
    return ValueModel(random_state=seed, n_jobs=n_jobs, **params, **extra)


def _objective(kind: str, data: TuningData, monotone: Mapping[str, int] | None, seed: int, n_jobs: int, n_estimators: int) -> Callable[[optuna.Trial], float]:
    def objective(trial: optuna.Trial) -> float:
        params = suggest(kind, trial)
        if kind == "churn":
            model = make_model(kind, params, monotone, seed, n_jobs, n_estimators=n_estimators, calibration="none")
            model.fit(data.X_train, data.churned_train, data.X_val, data.churned_val, callbacks=[pruning_callback(trial, "auc")])
            score = model.validation_auc_
        else:
            model = make_model(kind, params, monotone, seed, n_jobs, n_estimators=n_estimators)
            model.fit(
                data.X_train, data.value_train, data.churned_train == 0,
                data.X_val, data.value_val, data.churned_val == 0,
                callbacks=[pruning_callback(trial, "normalized_gini")],
            )
            score = model.validation_gini_
        trial.set_user_attr("best_iteration", int(model.best_iteration_))
        if not np.isfinite(score):
            raise optuna.TrialPruned("validation metric is undefined")
        return float(score)

    return objective


def _sampler(seed: int, finished: int) -> optuna.samplers.TPESampler:
    """The sampler that proposes a study's next trial once ``finished`` trials are done.

    One seeded sampler for a whole run drew the k-th proposal from its k-th random state, so a
    study resumed after an interruption (or by ``train --trials 5`` after ``--trials 3``), whose new
    sampler started over, tried other parameters than a run in one go: the same data, config and
    seed gave other models, depending on the store's history. Seeded by the count of finished
    trials, each proposal depends only on the seed and the trials before it (TPE reads the finished
    ones; a trial killed midway does not count, and its replacement gets its proposal).
    """
    return optuna.samplers.TPESampler(seed=seed + finished)


def _reseed(seed: int) -> TrialCallback:
    """Callback: after each trial, the sampler for the next one (:func:`_sampler`)."""

    def callback(study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        finished = sum(t.state in _FINISHED for t in study.get_trials(deepcopy=False))
        study.sampler = _sampler(seed, finished)

    return callback


def tune(
    kind: str,
    data: TuningData,
    *,
    n_trials: int,
    timeout: float | None,
    seed: int,
    storage: str,
    name: str,
    monotone: Mapping[str, int] | None = None,
    callbacks: Sequence[TrialCallback] = (),
    n_jobs: int = 2,
    n_estimators: int = 1000,
) -> TuningResult:
    """Run (or resume) the study ``name`` until it holds ``n_trials`` finished trials or time is up.

    Parameters
    ----------
    kind : {"churn", "value"}
    data : TuningData
    n_trials : int
        Total finished trials wanted in the study, counting those of earlier, interrupted runs.
    timeout : float or None
        Seconds for this call; the study stops starting new trials after it.
    seed : int
        Seeds LightGBM and the TPE sampler: the proposal for the study's k-th finished trial comes
        from a sampler seeded ``seed + k`` (:func:`_sampler`), so a study interrupted, or extended
        with more trials, tries the same parameters as one run in one go.
    storage : str
        Optuna storage URL, e.g. from :func:`storage_url`.
    name : str
        Study name, e.g. from :func:`study_name`.
    monotone : dict or None
        Monotone constraints for the churn model.
    callbacks : sequence of callables ``(study, frozen_trial) -> None``
        Called after each trial: progress bars, MLflow trial runs.
    n_jobs : int
        LightGBM threads per trial (trials run one after the other).
    n_estimators : int
        Maximum boosting rounds per trial; early stopping usually ends sooner.

    Returns
    -------
    TuningResult
    """
    if kind not in KINDS:
        raise ValueError(f"kind={kind!r}; allowed: {', '.join(KINDS)}.")
    optuna.logging.set_verbosity(logging.WARNING)
    rdb = optuna.storages.RDBStorage(storage, heartbeat_interval=30, grace_period=90)
    existing = optuna.create_study(study_name=name, storage=rdb, direction="maximize", load_if_exists=True)
    done_before = sum(t.state in _FINISHED for t in existing.get_trials(deepcopy=False))
    study = optuna.load_study(
        study_name=name,
        storage=rdb,
        sampler=_sampler(seed, done_before),
        pruner=optuna.pruners.MedianPruner(n_startup_trials=3, n_warmup_steps=2 * REPORT_EVERY, interval_steps=REPORT_EVERY),
    )
    remaining = max(0, n_trials - done_before)
    if remaining:
        study.optimize(
            _objective(kind, data, monotone, seed, n_jobs, n_estimators),
            n_trials=remaining,
            timeout=timeout,
            callbacks=[_reseed(seed), *callbacks],
            gc_after_trial=False,
        )
    trials = study.get_trials(deepcopy=False)
    complete = [t for t in trials if t.state == optuna.trial.TrialState.COMPLETE]
    # No completed trial (all pruned, or a timeout inside the first one): the defaults are used.
    best = study.best_trial if complete else None
    return TuningResult(
        kind=kind,
        study_name=name,
        best_params=dict(best.params) if best else {},
        best_value=float(best.value) if best else float("nan"),
        n_complete=len(complete),
        n_pruned=sum(t.state == optuna.trial.TrialState.PRUNED for t in trials),
        n_failed=sum(t.state == optuna.trial.TrialState.FAIL for t in trials),
        trials_run_now=sum(t.state in _FINISHED for t in trials) - done_before,
        extra={"best_iteration": best.user_attrs.get("best_iteration"), "best_trial": best.number} if best else {},
    )
