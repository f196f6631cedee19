"""The training pipeline: training set → baselines → tune → refit → test → track → register → promote.

1. :func:`churnml.labels.build_training_set` gives features and labels over several cutoffs, split
   out of time into train / validation / test. Problems that make a model meaningless (too few
   cutoffs, too few customers, fewer than five churners in a split) stop here with a :class:`ProblemError`.
2. Baselines: the "no purchase in N days" rule, RFM logistic regression, historical spend rate,
   and logistic / Poisson regression on every feature, fitted on train + validation as the final
   models are (:func:`fit_baselines`).
3. Optuna tunes the churn and the value model on train, scored on validation
   (:mod:`churnml.tuning`); each trial is a nested MLflow run.
4. The final models are refitted on train + validation with the tuned parameters; the churn
   calibrator stays the one fitted on validation (see :mod:`churnml.models`).
5. Everything is evaluated once on the test cutoff, graded (:func:`churnml.metrics.grade`), logged.
6. Both models are registered; the new versions get ``challenger``. Not when registered versions
   came from the same inputs (:func:`inputs_digest`): the run is logged, nothing is registered.
7. Promotion gate: the new pair becomes ``champion`` when it is at least as good as the current
   champions *on this run's test data* — churn ROC AUC, and normalized Gini of the value model on
   the retained test customers. The first pair becomes champion. A champion that cannot score this
   data (other features), or was trained as of a later date (this run is a backfill), is kept;
   promote by hand with ``churnml promote``.

:func:`train` builds the training set with DuckDB and calls :func:`train_on`, which runs steps 2–7
on any prebuilt training set (``churnml train --engine spark`` builds it on Spark).
"""

from __future__ import annotations

import dataclasses
import os

import time
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Mapping, Sequence

import numpy as np
import pandas as pd
from mlflow.exceptions import MlflowException
from sklearn.metrics import roc_auc_score

from churnml import metrics, monitoring, plots, reports, tracking, tuning
from churnml.baselines import FeatureLogistic, FeaturePoisson, RecencyRule, RFMLogistic, SpendRateBaseline
from churnml.config import Config
from churnml.dataset import Dataset
from churnml.errors import ModelNotFoundError, ProblemError
from churnml.features import FEATURE_DECIMALS, FeatureSpec, feature_description
from churnml.io import CodeState, code_state
from churnml.labels import (TrainingSet, build_training_set, calendar_churn, problem_definition, problem_differences,
                            same_season_cutoff, season_tolerance)
from churnml.reasons import attribute_churn, explain, explainable_specs, typical_values
from churnml.scoring import with_empty_attributes
from churnml.validate import LEAK_AUC, LEAK_WHY

TrialProgress = Callable[[str, int, int, float | None], None]
"""``(kind, finished_trials, n_trials, best_value)`` after each trial, for progress bars."""
WaitNotice = Callable[[str], None]
"""Called with a sentence when the run waits for another train tuning the same study."""
StageNotice = Callable[[str], None]
"""Called with what the run starts doing next (``"fitting the final models on train + validation"``):
the stages outside tuning, which print nothing of their own, took 40 s after the last trial on
2,000 generated customers, and minutes on large data."""

RECENCY_CANDIDATES = ("days_since_last_purchase",)
FREQUENCY_CANDIDATES = ("frequency_365d", "frequency_lifetime")
MONETARY_CANDIDATES = ("monetary_365d", "monetary_lifetime")
TENURE_CANDIDATES = ("tenure_days",)


@dataclass
class TrainingResult:
    """What one ``train`` produced."""

    run_id: str
    churn_version: str
    value_version: str
    promoted: bool
    promotion_reason: str
    as_of: pd.Timestamp
    cutoffs: dict[str, list[pd.Timestamp]]
    churn_metrics: dict[str, dict[str, float]]
    """``model``, ``recency_rule``, ``rfm_logistic``, ``feature_logistic`` -> metrics on the test cutoff."""
    value_metrics: dict[str, dict[str, float]]
    """``model``, ``spend_rate``, ``feature_poisson`` -> metrics on the test cutoff."""
    grades: dict[str, str]
    """``churn``, ``value`` and ``overall`` (the worse of the two)."""
    tuning: dict[str, tuning.TuningResult] = field(default_factory=dict)
    seconds: float = 0.0
    first_model: bool = False
    """Promoted because there was no champion yet (not compared with anything)."""
    left_out: dict[str, int] = field(default_factory=dict)
    """Categorical features left out of the models for their many values -> number of values
    (:func:`without_identifiers`)."""
    history_days: float | None = None
    """Days of transaction history before the first training cutoff (None when unknown)."""
    left_out_dates: list[str] = field(default_factory=list)
    """Of :attr:`left_out`, the columns whose values are dates (:func:`dated_columns`)."""
    leaks: dict[str, float] = field(default_factory=dict)
    """Customer attributes that alone rank the test cutoff's churners almost perfectly -> that
    ROC AUC (:func:`leaky_attributes`); the models are then not promoted."""
    calendar_churn: dict[str, Any] = field(default_factory=dict)
    """Without churn_events, the test customers who usually buy less often than the horizon, when
    they are a quarter of its churners or more (:func:`churnml.labels.calendar_churn`); empty otherwise."""
    intervals: dict[str, dict[str, float]] = field(default_factory=dict)
    """``churn``, ``value`` -> the 95 % intervals of the graded metric and of its difference from
    the best baseline (:func:`churnml.metrics.bootstrap_interval`)."""
    best_baselines: dict[str, str] = field(default_factory=dict)
    """``churn``, ``value`` -> the name of the baseline each grade was measured against."""
    active_days: float = 365.0
    """``roc_auc_active`` is over the test customers who bought in this many days
    (:func:`active_subgroup_days`)."""
    test_customers: int = 0
    """Customers at the test cutoff, which every test metric and the grade are measured on."""
    test_churners: int = 0
    """Of :attr:`test_customers`, those who churned."""
    calibration_note: str = ""
    """Why the churn model uses Platt scaling though isotonic calibration had the lower log loss, or
    that the isotonic calibration ``[training] calibration`` asks for is coarse
    (:attr:`churnml.models.ChurnModel.calibration_note_`); empty otherwise."""
    value_if_retained_gini: float | None = None
    """The promotion gate's value metric, which `churnml models` lists: the normalized Gini of the
    value if retained over the test customers who stayed (``value_if_retained_normalized_gini``);
    :attr:`value_metrics` grades the expected value over all of them instead."""
    training_set: dict[str, Any] = field(default_factory=dict)
    """What the run learned and was graded on (:func:`describe_training_set`), also logged as
    ``training_set.json``."""
    registered: bool = True
    """False when an earlier run had the same inputs (:func:`inputs_digest`): :attr:`churn_version`
    and :attr:`value_version` are then the versions that run registered."""


LINEAR_BASELINE_ROWS = 100_000
"""Training rows the linear baselines fit on, at most (a seeded sample above it)."""


def _linear_sample(churned: np.ndarray, seed: int) -> np.ndarray:
    """Positions of the training rows the linear baselines fit on: all of them up to
    :data:`LINEAR_BASELINE_ROWS`, else a seeded sample in their order, drawn from churners and
    retained customers apart, with at least :data:`MIN_CLASS_ROWS` of each (all, when there are
    fewer). A plain sample of 100,000 of 300,000 rows with the 5 churners :func:`check_problem`
    lets through held 1.7 of them on average, and none stopped train with scikit-learn's "needs
    samples of at least 2 classes" traceback."""
    rows = len(churned)
    if rows <= LINEAR_BASELINE_ROWS:
        return np.arange(rows)
    rng = np.random.default_rng(seed)
    picked = []
    for label in (0, 1):
        where = np.flatnonzero(churned == label)
        take = min(len(where), max(MIN_CLASS_ROWS, round(len(where) * LINEAR_BASELINE_ROWS / rows)))
        picked.append(rng.choice(where, take, replace=False))
    return np.sort(np.concatenate(picked))


CHURN_BASELINES = ("recency_rule", "rfm_logistic", "feature_logistic")
VALUE_BASELINES = ("spend_rate", "feature_poisson")


def fit_baselines(X: Mapping[str, pd.DataFrame], churned: Mapping[str, np.ndarray], value: Mapping[str, np.ndarray],
                  names: list[str], categorical: list[str], horizon: int, seed: int) -> dict[str, Any]:
    """The baselines, fitted on the rows the final models learn from: train + validation.

    ``X``, ``churned`` and ``value`` map ``"train"`` and ``"validation"`` to the split's features and
    labels. The final models are refitted on train + validation (the validation cutoff only chose
    their settings first), and the recency rule reads its churn rates there too; the regressions
    have no setting to choose, so they fit on the same rows. Fitted on the train cutoffs alone, they
    were graded against models that had seen a horizon's more recent labels: on 3,000 generated
    customers with a 60-day horizon, the logistic regression on every feature scored a test ROC AUC of
    0.724 fitted on train, 0.746 on train + validation. The recency rule still picks its N of days
    on validation.

    Returns
    -------
    dict
        :data:`CHURN_BASELINES` (``predict_proba``) and :data:`VALUE_BASELINES` (``predict``) -> the fitted baseline.
    """
    recency = _pick(names, RECENCY_CANDIDATES, "recency")
    frequency = _pick(names, FREQUENCY_CANDIDATES, "frequency")
    monetary = _pick(names, MONETARY_CANDIDATES, "monetary")
    tenure = next((c for c in TENURE_CANDIDATES if c in names), None)
    X_fit = pd.concat([X["train"], X["validation"]], ignore_index=True)
    churned_fit = np.concatenate([churned["train"], churned["validation"]])
    value_fit = np.concatenate([value["train"], value["validation"]])
    window_days = 365.0 if monetary.endswith("365d") else 3650.0
    # The linear models on every feature: what the trees add over a plain regression on the same
    # inputs. A sample of the rows is plenty for their hundred-odd coefficients.
    linear_rows = _linear_sample(churned_fit, seed)
    numeric = [n for n in names if n not in categorical]
    linear_X = X_fit.iloc[linear_rows]
    return {
        "recency_rule": RecencyRule(recency).fit(X["train"], churned["train"], X["validation"], churned["validation"]),
        "rfm_logistic": RFMLogistic(recency, frequency, monetary).fit(X_fit, churned_fit),
        "feature_logistic": FeatureLogistic(numeric, categorical).fit(linear_X, churned_fit[linear_rows]),
        "spend_rate": SpendRateBaseline(monetary, window_days, horizon, window_column=tenure).fit(),
        "feature_poisson": FeaturePoisson(numeric, categorical).fit(linear_X, value_fit[linear_rows]),
    }


TRAINING_SET_FILE = "training_set.json"
"""The run's artifact describing its training set per cutoff (:func:`describe_training_set`)."""


def describe_training_set(frame: pd.DataFrame, split_cutoffs: Mapping[str, Sequence[pd.Timestamp]],
                          config: Config) -> dict[str, Any]:
    """The training set in numbers: the problem's horizon and cutoff settings, and per cutoff its
    split, rows (customers in the population there), churners, churn rate and value.

    The run's params held the cutoffs and a row count per split, its metrics a churn rate per split:
    not how the rows and churners spread over the cutoffs, nor, with several test cutoffs, that the
    test rows are fewer customers (each has a row at every cutoff)."""
    problem = config.problem
    cutoffs = []
    for split in ("train", "validation", "test"):
        for cutoff in split_cutoffs.get(split, []):
            rows = frame[frame["cutoff"] == cutoff]
            cutoffs.append({"cutoff": f"{pd.Timestamp(cutoff):%Y-%m-%d}", "split": split, "rows": int(len(rows)),
                            "churners": int(rows["churned"].sum()), "churn_rate": float(rows["churned"].mean()) if len(rows) else float("nan"),
                            "value_total": float(rows["value"].sum())})
    splits = {}
    for split in ("train", "validation", "test"):
        part = frame[frame["split"] == split]
        splits[split] = {"cutoffs": [c["cutoff"] for c in cutoffs if c["split"] == split], "rows": int(len(part)),
                         "customers": int(part["customer_id"].nunique()), "churners": int(part["churned"].sum()),
                         "churn_rate": float(part["churned"].mean()) if len(part) else float("nan")}
    return {"horizon_days": problem.horizon_days, "cutoff_step_days": problem.cutoff_step_days,
            "n_cutoffs": problem.n_cutoffs, "splits": splits, "cutoffs": cutoffs}


def training_set_text(description: Mapping[str, Any]) -> str:
    """One line for ``churnml train``: the horizon and, per split, its cutoffs, rows and churn rate.

    >>> training_set_text({"horizon_days": 60, "splits": {
    ...     "train": {"cutoffs": ["2024-10-24", "2024-11-07"], "rows": 4508, "customers": 2300, "churn_rate": 0.0517},
    ...     "validation": {"cutoffs": ["2025-02-03"], "rows": 1190, "customers": 1190, "churn_rate": 0.0387},
    ...     "test": {"cutoffs": ["2025-04-18", "2025-05-02"], "rows": 2479, "customers": 1260, "churn_rate": 0.0545}}})
    'Training set, horizon 60 days: train cutoffs 2024-10-24, 2024-11-07 (4,508 rows of 2,300 customers, churn 5.2%); validation cutoff 2025-02-03 (1,190 customers, churn 3.9%); test cutoffs 2025-04-18, 2025-05-02 (2,479 rows of 1,260 customers, churn 5.5%).'
    """
    parts = []
    for split, values in description.get("splits", {}).items():
        cutoffs = values.get("cutoffs", [])
        rows, customers = values.get("rows", 0), values.get("customers", 0)
        size = f"{customers:,} customers" if rows == customers else f"{rows:,} rows of {customers:,} customers"
        parts.append(f"{split} cutoff{'s' if len(cutoffs) > 1 else ''} {', '.join(cutoffs)} ({size}, churn {values.get('churn_rate', float('nan')):.1%})")
    return f"Training set, horizon {description.get('horizon_days')} days: {'; '.join(parts)}."


def _pick(names: list[str], candidates: tuple[str, ...], role: str) -> str:
    for candidate in candidates:
        if candidate in names:
            return candidate
    raise ProblemError(f"The features have no {role} column (looked for {', '.join(candidates)}); the baselines need it.")


MIN_CLASS_ROWS = 5
"""Fewest churners, and retained customers, any split may have: the calibration picks its method by
5-fold stratified cross-validation on the validation cutoff (a gym's one validation churner crashed
it), and with fewer, early stopping and the test grade rest on a handful of customers."""


def check_problem(training_set: TrainingSet, config: Config) -> None:
    """Refuse data a model cannot be meaningfully trained or judged on.

    Raises
    ------
    ProblemError
        Fewer customers than ``[training] min_customers``, or a split with fewer than
        :data:`MIN_CLASS_ROWS` churners or retained customers.
    """
    frame = training_set.frame
    n_customers = frame["customer_id"].nunique()
    minimum = config.training.min_customers
    if n_customers < minimum:
        raise ProblemError(
            f"Only {n_customers} customers are in the training population over the cutoffs "
            f"{training_set.cutoffs[0]:%Y-%m-%d}..{training_set.cutoffs[-1]:%Y-%m-%d}; at least {minimum} are needed "
            "for a model worth grading. Use more data, or lower [training] min_customers in the config."
        )
    for split in ("train", "validation", "test"):
        churned = frame.loc[frame["split"] == split, "churned"]
        n_churned = int(churned.sum())
        n_retained = len(churned) - n_churned
        if min(n_churned, n_retained) >= MIN_CLASS_ROWS:
            continue
        dates = ", ".join(f"{c:%Y-%m-%d}" for c in training_set.split_cutoffs.get(split, []))
        if n_churned == 0 or n_retained == 0:
            which = "no churners" if n_churned == 0 else "only churners (no retained customers)"
            raise ProblemError(
                f"The {split} cutoff(s) {dates} have {which} among {len(churned)} customers, so there is "
                "nothing to learn or measure. Check the churn events / activity in the data, use another "
                "--as-of, or a different [problem] horizon_days."
            )
        which = (f"{n_churned} churner{'s' if n_churned > 1 else ''}" if n_churned < MIN_CLASS_ROWS
                 else f"{n_retained} retained customer{'s' if n_retained > 1 else ''}")
        raise ProblemError(
            f"The {split} cutoff(s) {dates} have only {which} among {len(churned)} customers; each of the train, "
            f"validation and test cutoffs needs at least {MIN_CLASS_ROWS} churners and {MIN_CLASS_ROWS} retained "
            "customers to tune, calibrate and grade the models on. Use more history or more customers, or a longer "
            "[problem] horizon_days in the config (more churners per label window; score then needs the same)."
        )
    for split in ("validation", "test"):  # tuning ranks on the first, the grade on the second
        part = frame[(frame["split"] == split) & (frame["churned"] == 0)]
        if part["value"].nunique() == 1:
            dates = ", ".join(f"{c:%Y-%m-%d}" for c in training_set.split_cutoffs.get(split, []))
            raise ProblemError(
                f"Every retained customer at the {split} cutoff(s) {dates} brought the same value over the "
                f"{config.problem.horizon_days}-day horizon ({part['value'].iloc[0]:,.2f}: one fee billed on fixed days?), "
                "so the value model has nothing to rank there and can be neither tuned nor graded; churnml trains the "
                "churn and value models together. Put the money that differs between customers in transactions "
                "(extras, upgrades, refunds), or train on data where what they pay differs."
            )


def _progress_callback(kind: str, n_trials: int, on_trial: TrialProgress) -> Callable:
    def callback(study: Any, trial: Any) -> None:
        finished = sum(t.state.name in ("COMPLETE", "PRUNED") for t in study.get_trials(deepcopy=False))
        try:
            best = float(study.best_value)
        except ValueError:
            best = None
        on_trial(kind, finished, n_trials, best)

    return callback


def _load_champions() -> tuple[Any, Any]:
    """The current champions (each None when there is none), loaded before any tuning: a store
    whose model files cannot be read fails here, not after an hour of trials."""
    return (tracking.load_model(tracking.CHURN_MODEL_NAME, tracking.CHAMPION),
            tracking.load_model(tracking.VALUE_MODEL_NAME, tracking.CHAMPION))


def _other_problem(problem: Mapping[str, Any]) -> str | None:
    """How the champion's problem definition differs from this run's, or None. A margin or a
    churn definition changes what the models predict but not the ranking metrics the gate
    compares: a run with margin 0.1 was promoted over the champion, and scores fell tenfold."""
    try:
        trained = tracking.load_run_metadata(tracking.champion_run_id()).get("problem")
    except (ModelNotFoundError, MlflowException, OSError, ValueError):  # no champion, or its run's files are gone
        return None
    differences = problem_differences(trained, problem)
    if not differences:
        return None
    return (f"the champion predicts another problem ({'; '.join(differences)}), so their test metrics do not "
            "compare")


def _champion_metrics(X_test: pd.DataFrame, churned: np.ndarray, value: np.ndarray,
                      champions: tuple[Any, Any]) -> tuple[dict[str, float], str | None]:
    """Gate metrics of the current champions on this test data, or a reason they are unavailable."""
    churn, value_model = champions
    result: dict[str, float] = {}
    try:
        if churn is not None:
            result["roc_auc"] = metrics.churn_metrics(churned, churn[0].predict_proba(X_test))["roc_auc"]
        if value_model is not None:
            retained = churned == 0
            result["normalized_gini"] = metrics.normalized_gini(value[retained], value_model[0].predict(X_test[retained]))
    except (KeyError, ValueError, TypeError) as exc:
        return {}, f"the champion cannot score this data ({exc})"
    return result, None


CONFIG_FILE = "config.json"
"""The run's artifact holding the config the run applied."""
FEATURE_IMPORTANCE_FILE = "feature_importance.json"
"""The run's artifact holding every feature's importance in both models, most important first."""

ROWS_PER_THREAD = 100_000


def default_threads(rows: int) -> int:
    """LightGBM threads worth using for ``rows`` training rows (see :func:`train`)."""
    return max(1, min(os.cpu_count() or 1, 1 + rows // ROWS_PER_THREAD))


def train(
    dataset: Dataset,
    as_of: pd.Timestamp | str,
    config: Config | None = None,
    *,
    trials: int | None = None,
    timeout: float | None = None,
    seed: int | None = None,
    on_trial: TrialProgress | None = None,
    n_jobs: int | None = None,
    n_estimators: int = 1000,
    on_wait: WaitNotice | None = None,
    on_stage: StageNotice | None = None,
) -> TrainingResult:
    """Train, evaluate, track, register and (maybe) promote the churn and value models.

    Builds the training set with DuckDB (:func:`churnml.labels.build_training_set`), then runs
    :func:`train_on`.

    Parameters
    ----------
    dataset : Dataset
        Clean data (:func:`churnml.validate.load_dataset`).
    as_of : Timestamp or str
        Labels use data before this date only.
    config : Config, optional
    trials, timeout, seed : optional
        Override ``[training] trials``, ``timeout_seconds``, ``seed``. ``trials`` counts per model.
    on_trial : callable, optional
        Progress hook, called after each Optuna trial (see :data:`TrialProgress`).
    n_jobs : int, optional
        LightGBM threads. Default: one per 100,000 training rows, at most the machine's cores —
        on small data a second thread costs more in synchronisation than it saves.
    n_estimators : int
        Maximum boosting rounds.
    on_wait : callable, optional
        Told (a sentence) when another train is tuning the same study and this one waits for it.
    on_stage : callable, optional
        Told what the run starts doing next, at each stage but the trials (see :data:`StageNotice`).

    Returns
    -------
    TrainingResult

    Raises
    ------
    ProblemError
        Too few cutoffs, too few customers, or a split with fewer than five churners or retained customers.

    Example
    -------
    >>> result = train(load_dataset("data/"), "2025-06-30", trials=20)  # doctest: +SKIP
    >>> result.grades["overall"]  # doctest: +SKIP
    'A'
    """
    started = time.perf_counter()
    code = code_state()
    config = config or Config()
    as_of = pd.Timestamp(as_of)
    if on_stage is not None:
        on_stage(f"building the training set as of {as_of:%Y-%m-%d}")
    training_set = build_training_set(dataset, as_of, config)
    return train_on(
        training_set, as_of, config,
        fingerprint=dataset.fingerprint, feature_description=feature_description(dataset), data_summary=dataset.summary,
        trials=trials, timeout=timeout, seed=seed, on_trial=on_trial, n_jobs=n_jobs, n_estimators=n_estimators,
        started=started, code=code, on_wait=on_wait, on_stage=on_stage,
    )


def train_on(
    training_set: TrainingSet,
    as_of: pd.Timestamp | str,
    config: Config | None = None,
    *,
    fingerprint: str,
    feature_description: list[dict[str, Any]],
    data_summary: Mapping[str, Any] | None = None,
    trials: int | None = None,
    timeout: float | None = None,
    seed: int | None = None,
    on_trial: TrialProgress | None = None,
    n_jobs: int | None = None,
    n_estimators: int = 1000,
    started: float | None = None,
    code: CodeState | None = None,
    on_wait: WaitNotice | None = None,
    on_stage: StageNotice | None = None,
) -> TrainingResult:
    """:func:`train` from a training set built elsewhere (e.g. on Spark: :func:`churnml.spark.build_training_set`).

    Parameters
    ----------
    training_set : TrainingSet
        Features, labels and splits (:func:`churnml.labels.build_training_set` or the Spark one).
    as_of : Timestamp or str
        The as-of date the training set was built for.
    config : Config, optional
    fingerprint : str
        Identifies the data: tags the run, names the Optuna studies (a rerun on the same data
        resumes them) and is recorded with the models.
    feature_description : list of dict
        Logged as ``features.json`` (:func:`churnml.features.feature_description`).
    data_summary : mapping, optional
        Shown in the run report (``Dataset.summary`` or :func:`churnml.spark.describe_data`).
    trials, timeout, seed, on_trial, n_jobs, n_estimators, on_wait, on_stage
        As in :func:`train`.
    started : float, optional
        ``time.perf_counter()`` when the work began, for :attr:`TrainingResult.seconds`.
    code : CodeState, optional
        :func:`churnml.io.code_state` when the work began (default: when this is called): its
        ``digest`` goes into :func:`inputs_digest` and its ``version`` into the run's tags and
        ``metadata.json``, the source as the run found it, not as it is when the run ends.

    Returns
    -------
    TrainingResult
    """
    started = time.perf_counter() if started is None else started
    # The code is read now, with the other inputs, once: read at registration, an edit made while the
    # run tuned (a deploy, a checkout) gave the run the digest of code it did not run. Two identical
    # trains at once then registered two pairs, and a later run of the edited code was taken as
    # identical to this one and registered nothing. The commit and dirty flag recorded in the tags
    # and metadata.json come from the same reading.
    code = code_state() if code is None else code
    config = config or Config()
    as_of = pd.Timestamp(as_of)
    n_trials = int(trials if trials is not None else config.training.trials)
    timeout = timeout if timeout is not None else config.training.timeout_seconds
    seed = int(seed if seed is not None else config.training.seed)
    horizon = config.problem.horizon_days
    stage = on_stage or (lambda text: None)

    check_problem(training_set, config)
    training_set, left_out = without_identifiers(training_set, config.training.max_categorical_levels)
    left_out_dates = dated_columns(training_set.frame, left_out)
    names = training_set.feature_names
    frame = _stable(training_set.frame, [*names, "value"])
    parts = {split: frame[frame["split"] == split] for split in ("train", "validation", "test")}
    # The thread count is set, not left to LightGBM (every core): its sums, and so the trees, depend
    # on it. Below 100,000 training rows it is the same on any machine; above, it follows the cores.
    n_jobs = int(n_jobs) if n_jobs else default_threads(len(parts["train"]))
    X = {split: part[names] for split, part in parts.items()}
    churned = {split: part["churned"].to_numpy(dtype=int) for split, part in parts.items()}
    value = {split: part["value"].to_numpy(dtype=float) for split, part in parts.items()}
    monotone = {s.name: int(s.monotone) for s in training_set.specs if s.kind == "numeric" and s.monotone}

    # Baselines -------------------------------------------------------------------------------
    stage("fitting the baselines")
    baselines = fit_baselines(X, churned, value, names, training_set.categorical_features, horizon, seed)
    rule = baselines["recency_rule"]
    churn_scores = {name: baselines[name].predict_proba(X["test"]) for name in CHURN_BASELINES}
    value_predictions = {name: baselines[name].predict(X["test"]) for name in VALUE_BASELINES}

    tuning_data = tuning.TuningData(
        X["train"], churned["train"], value["train"], X["validation"], churned["validation"], value["validation"]
    )
    storage = tuning.storage_url(tracking.store_dir())
    run_name = f"train as-of {as_of:%Y-%m-%d} h{horizon} seed {seed}"
    champions = _load_champions() if tracking.store_exists() else (None, None)
    with tracking.start_training_run(run_name, tags={"churnml.as_of": f"{as_of:%Y-%m-%d}", "churnml.data_fingerprint": fingerprint},
                                     code=code.version) as run:
        cutoff_text = {split: [f"{c:%Y-%m-%d}" for c in cs] for split, cs in training_set.split_cutoffs.items()}
        run.log_params(
            {
                "as_of": f"{as_of:%Y-%m-%d}",
                "horizon_days": horizon,
                "cutoffs": ",".join(f"{c:%Y-%m-%d}" for c in training_set.cutoffs),
                "train_cutoffs": ",".join(cutoff_text["train"]),
                "validation_cutoff": ",".join(cutoff_text["validation"]),
                "test_cutoff": ",".join(cutoff_text["test"]),
                "data_fingerprint": fingerprint,
                "seed": seed,
                "trials": n_trials,
                "timeout_seconds": timeout,
                "n_features": len(names),
                "left_out_features": ",".join(f"{k} ({v} values)" for k, v in left_out.items()) or "none",
                "rows_train": len(parts["train"]),
                "rows_validation": len(parts["validation"]),
                "rows_test": len(parts["test"]),
                "recency_rule_days": rule.days_,
                "lightgbm_threads": n_jobs,
            }
        )
        run.log_dict(list(feature_description), "features.json")
        described = describe_training_set(frame, training_set.split_cutoffs, config)
        run.log_dict(described, TRAINING_SET_FILE)
        # The whole config, as this run applied it (--trials, --seed, --timeout included): the params
        # above hold a few settings; the column mapping, input formats or max_categorical_levels
        # also decide what the models learn.
        effective = config.replace(training={"trials": n_trials, "seed": seed, "timeout_seconds": timeout})
        run.log_dict(dataclasses.asdict(effective), CONFIG_FILE)

        # Tuning ------------------------------------------------------------------------------
        results: dict[str, tuning.TuningResult] = {}
        data_digest = tuning_data.digest()
        setup = {kind: f"{data_digest}|{sorted((monotone if kind == 'churn' else {}).items())}|{n_estimators}"
                 for kind in tuning.KINDS}
        for kind in tuning.KINDS:
            callbacks = [run.trial_callback(kind)]
            if on_trial is not None:
                callbacks.append(_progress_callback(kind, n_trials, on_trial))
            name = tuning.study_name(kind, fingerprint, as_of, seed, horizon, setup[kind])
            waiting = None if on_wait is None else (lambda name=name: on_wait(
                f"Waiting for another train tuning study {name} (the same data, as-of date and settings); "
                "this one then reuses its trials."))
            with tracking.study_lock(name, waiting):  # one run at a time adds trials to a study
                results[kind] = tuning.tune(
                    kind,
                    tuning_data,
                    n_trials=n_trials,
                    timeout=timeout,
                    seed=seed,
                    storage=storage,
                    name=name,
                    monotone=monotone if kind == "churn" else None,
                    callbacks=callbacks,
                    n_jobs=n_jobs,
                    n_estimators=n_estimators,
                )
            run.log_params({f"{kind}_param_{k}": v for k, v in results[kind].best_params.items()})
            run.log_params({f"{kind}_study": results[kind].study_name})
            run.log_metrics(
                {"best_validation_score": results[kind].best_value, "trials_complete": results[kind].n_complete,
                 "trials_pruned": results[kind].n_pruned, "trials_failed": results[kind].n_failed},
                prefix=f"{kind}_tuning_",
            )

        # Final fit on train + validation -----------------------------------------------------
        stage("fitting the final models on train + validation")
        churn_model = tuning.make_model(
            "churn", results["churn"].best_params, monotone, seed, n_jobs, n_estimators=n_estimators, refit_on_validation=True,
            calibration=config.training.calibration,
        ).fit(X["train"], churned["train"], X["validation"], churned["validation"])
        value_model = tuning.make_model(
            "value", results["value"].best_params, None, seed, n_jobs, n_estimators=n_estimators, refit_on_validation=True
        ).fit(
            X["train"], value["train"], churned["train"] == 0,
            X["validation"], value["validation"], churned["validation"] == 0,
        )

        # The trees the final boosters have (early stopping's count, refitted): with the tuned
        # parameters, the seed and the threads, what re-creates them.
        run.log_params({"churn_n_trees": int(churn_model.best_iteration_), "value_n_trees": int(value_model.best_iteration_)})

        # Test ---------------------------------------------------------------------------------
        stage("grading the models against the baselines on the test cutoff")
        probability = churn_model.predict_proba(X["test"])
        value_if_retained = value_model.predict(X["test"])
        churn_scores = {"model": probability, **churn_scores}
        value_predictions = {"model": (1 - probability) * value_if_retained, **value_predictions}
        churn_metrics = {name: metrics.churn_metrics(churned["test"], score) for name, score in churn_scores.items()}
        # Where churn is an account closure, long-dormant accounts rarely close and are easy to
        # rank low: they lift the headline AUC (0.81 on the demo; 0.72 over the customers who
        # bought in the last year). Shown beside it for every model and baseline. Without
        # churn_events everyone bought in the last year (the population rule), so there the
        # subgroup is those who bought within the horizon.
        active_days = active_subgroup_days((data_summary or {}).get("tables"), horizon)
        if RECENCY_FEATURE in X["test"]:
            active = X["test"][RECENCY_FEATURE].to_numpy(dtype=float) <= active_days
            both = active.any() and 0 < churned["test"][active].mean() < 1
            for name, score in churn_scores.items():
                churn_metrics[name]["roc_auc_active"] = (
                    float(roc_auc_score(churned["test"][active], score[active])) if both else float("nan"))
        value_metrics = {name: metrics.value_metrics(value["test"], pred) for name, pred in value_predictions.items()}
        baseline_churn = {k: v for k, v in churn_metrics.items() if k != "model"}
        best_churn_name, best_churn_auc = metrics.best_baseline(baseline_churn, "roc_auc")
        baseline_value = {k: v for k, v in value_metrics.items() if k != "model"}
        best_value_name, best_value_gini = metrics.best_baseline(baseline_value, "normalized_gini")
        # How much of each grade is luck: the metrics again on resampled test customers (with
        # several test cutoffs, a customer's rows are drawn together).
        test_ids = parts["test"]["customer_id"].to_numpy()
        intervals = {
            "churn": metrics.bootstrap_interval("roc_auc", churned["test"], probability, churn_scores[best_churn_name],
                                                seed=seed, groups=test_ids),
            "value": metrics.bootstrap_interval("normalized_gini", value["test"], value_predictions["model"],
                                                value_predictions[best_value_name], seed=seed, groups=test_ids),
        }
        grades = {
            "churn": metrics.grade(churn_metrics["model"]["roc_auc"], best_churn_auc,
                                   interval=intervals["churn"], chance=metrics.CHANCE["roc_auc"]),
            "value": metrics.grade(value_metrics["model"]["normalized_gini"], best_value_gini,
                                   interval=intervals["value"], chance=metrics.CHANCE["normalized_gini"]),
        }
        grades["overall"] = metrics.worst_grade(grades["churn"], grades["value"])
        for kind, interval in intervals.items():
            run.log_metrics(interval, prefix=f"{kind}_grade_")
        leaks = leaky_attributes(parts, training_set.specs, names)
        if leaks:
            run.log_metrics({f"leak_roc_auc_{name}": auc for name, auc in leaks.items()})
        tables = (data_summary or {}).get("tables")
        problem = problem_definition(config, tables) if tables else None
        # Without churn_events, customers billed less often than the horizon churn by the calendar.
        calendar = calendar_churn(parts["test"], problem)
        if calendar:
            run.log_metrics({f"calendar_churn_{key}": calendar[key] for key in (
                "infrequent", "infrequent_churners", "infrequent_churn_rate", "other_churn_rate", "median_gap_days")})
        for name, values in churn_metrics.items():
            run.log_metrics(values, prefix=f"churn_{name}_")
        for name, values in value_metrics.items():
            run.log_metrics(values, prefix=f"value_{name}_")
        retained_test = churned["test"] == 0
        gate_new = {
            "roc_auc": churn_metrics["model"]["roc_auc"],
            "normalized_gini": metrics.normalized_gini(value["test"][retained_test], value_if_retained[retained_test]),
        }
        run.log_metrics({"value_if_retained_normalized_gini": gate_new["normalized_gini"], "calibration_is_isotonic": float(churn_model.calibration_ == "isotonic")})
        if churn_model.isotonic_levels_ is not None:  # isotonic was fitted (won auto's log loss, or asked for)
            run.log_metrics({"calibration_isotonic_levels": float(churn_model.isotonic_levels_)})
        run.set_tags({"churnml.grade": grades["overall"], "churnml.churn_grade": grades["churn"], "churnml.value_grade": grades["value"],
                      "churnml.best_churn_baseline": best_churn_name, "churnml.best_value_baseline": best_value_name,
                      "churnml.calibration": churn_model.calibration_})

        stage("logging plots, the drift reference and the report data to MLflow")
        figures = training_figures(churned["test"], churn_scores, value["test"], value_predictions["model"], churn_model, value_model)
        _log_plots(run, figures, churn_model, value_model)
        # Graded, the churn model's level is shifted to the test cutoff's churn rate, the latest
        # labels: the validation cutoff is a horizon older, and where the rate moved since, the
        # probabilities ran off it (DESIGN: "of customers scored 0.3, about 30 % churn"). One
        # strictly increasing shift: rankings, and so the gate's ROC AUC, stay as graded.
        graded_mean = float(probability.mean())
        churn_model.recalibrate(X["test"], churned["test"])
        probability = churn_model.predict_proba(X["test"])
        run.log_metrics({"churn_train_rate": float(churned["train"].mean()), "churn_validation_rate": float(churned["validation"].mean()),
                         "churn_test_rate": float(churned["test"].mean()), "churn_test_mean_predicted_graded": graded_mean,
                         "churn_test_mean_predicted_recalibrated": float(probability.mean()),
                         # The registered model's ECE, which scores and backtests are compared with; on the
                         # cutoff the shift was fitted on, so in-sample: `churnml models` labels it so, beside
                         # the graded churn_model_ece.
                         "churn_test_ece_recalibrated": metrics.expected_calibration_error(churned["test"], probability)})
        # The same for value, one factor, but fitted on the cutoff a year before as_of where there is
        # one: the season of the horizon the scores predict. Fitted on the test cutoff, the level
        # carried the test quarter's season into the next (forward tests on generated data, 20,000
        # customers, as of Jan/Apr/Jul/Oct: predicted value 13 % low, 41 % high, 2 % high, 25 % low;
        # a year before: 10 % low, 8 % low, 2 % high, 2 % low). The churn level stays on the test
        # cutoff: a year before, its forward error grew (mean about 9 % against 6 %).
        season = value_level_cutoff(training_set, frame, as_of, config)
        level_rows = parts["test"] if season is None else frame[frame["cutoff"] == season]
        value_model.rescale(level_rows[names], level_rows["value"].to_numpy(dtype=float),
                            level_rows["churned"].to_numpy(dtype=int) == 0)
        value_level_cutoffs = cutoff_text["test"] if season is None else [f"{season:%Y-%m-%d}"]
        value_if_retained = value_model.predict(X["test"])
        run.log_metrics({"value_level_factor": value_model.level_factor_})
        run.log_params({"value_level_fitted_on": ",".join(value_level_cutoffs)})
        # The drift reference is the test cutoff, the latest population the models were measured
        # on: the one their test metrics vouch for, and (the splits being a horizon apart) the
        # closest to the scoring date, so features that grow with time drift the least. The other
        # cutoffs' features are kept too: scores a year after one of them are compared with it, the
        # same season (monitoring.season_reference), as the value level is fitted a year back; so
        # are the cutoffs filling the gaps between the splits (labels.season_cutoffs), features only.
        reference = drift_reference(training_set, frame, {"churn_probability": probability,
                                                          "predicted_value": (1 - probability) * value_if_retained},
                                    as_of, config)
        run.log_dict(reference, tracking.MONITORING_REFERENCE_FILE)
        # The report's reasons are the ones scoring gives: gated by the typical values of that reference.
        sample = reports.sample_index(len(parts["test"]), seed=seed)
        sampled = parts["test"].iloc[sample]
        reasons = explain(churn_model.contributions(sampled[names]), sampled,
                          explainable_specs(training_set.specs, churn_model.categories_, config.scoring.hidden_reasons),
                          typical=typical_values(reference), churn=attribute_churn(reference))
        run.log_dict(reports.run_report_data(
            churned["test"][sample], {k: v[sample] for k, v in churn_scores.items()}, value["test"][sample],
            value_predictions["model"][sample], churn_model.feature_importances_, value_model.feature_importances_,
            reasons, data_summary, len(parts["test"]),
        ), tracking.REPORT_DATA_FILE)

        # Register and promote ---------------------------------------------------------------
        stage("registering the models in MLflow and comparing them with the champion")
        if problem:  # for `churnml models` and the MLflow UI; the horizon is logged above
            run.log_params({f"problem_{key}": v for key, v in problem.items() if key != "horizon_days"})
        metadata = {
            "as_of": f"{as_of:%Y-%m-%d}",
            "horizon_days": horizon,
            "cutoffs": cutoff_text,
            "feature_names": names,
            "categorical_features": training_set.categorical_features,
            "left_out_features": left_out,
            # Customer columns validation left out (dates, never filled): the API names them as such.
            "left_out_columns": dict((data_summary or {}).get("left_out_columns") or {}),
            # Churn rate at the test cutoff, the latest labelled one: risk tiers are multiples of it.
            "base_rate": float(churned["test"].mean()),
            "specs": [s.to_dict() for s in training_set.specs],
            "test_metrics": {"churn": churn_metrics, "value": value_metrics},
            "grade": grades["overall"],
            "grades": grades,
            "grade_intervals": intervals,
            "roc_auc_active_days": active_days,
            "leaky_attributes": leaks,
            "calendar_churn": calendar,
            "problem": problem,
            "history_days": training_set.history_days(),
            "feature_reference": reference["features"],
            "monitoring_reference": reference,
            "data_fingerprint": fingerprint,
            "seed": seed,
            "lightgbm_threads": n_jobs,  # above 100,000 training rows, the trees depend on it
            "code": code.version,
            "best_params": {k: r.best_params for k, r in results.items()},
            "calibration": churn_model.calibration_,
            # Why Platt was used where isotonic won the log loss: too few distinct probabilities ("" otherwise).
            "calibration_note": churn_model.calibration_note_,
            # The calibrator was fitted on the validation cutoff; only the level shift on the test
            # cutoff, after grading (``calibrated_on`` alone read as a calibrator fitted on test data).
            "calibrator_fitted_on": cutoff_text["validation"],
            "calibrated_on": cutoff_text["test"],
            "level_shift": churn_model.level_shift_,
            "value_level_factor": value_model.level_factor_,
            # The cutoff(s) whose retained customers' value the factor matches: a year before as_of, else the test cutoff.
            "value_level_fitted_on": value_level_cutoffs,
        }
        # The training set itself, test cutoff included (levels and the churn level shift are fitted
        # on it): train_on takes one built elsewhere (a Spark sample), under the same fingerprint.
        training_digest = f"{data_digest}|{tuning.frames_digest([X['test']], [churned['test'], value['test']])}"
        inputs = inputs_digest(fingerprint, as_of, effective, n_jobs, n_estimators,
                               {kind: result.best_params for kind, result in results.items()}, training_set=training_digest,
                               code=code.digest)
        run.set_tags({tracking.INPUTS_TAG: inputs})
        # One promotion at a time, judged against the champion as it is now: another train (or a
        # `churnml promote`) may have changed it while this one tuned, and was overwritten by a
        # model worse than it. Both aliases move together, or neither (signals wait). Registered
        # under the same lock, so that two identical trains at once register one pair, not two.
        with tracking.promotion_lock():
            same = tracking.identical_versions(inputs)
            if same is not None:
                # The same data, as-of date, config, code and seed make the same models (README,
                # *Models*): a scheduled retrain on data that had not changed registered a copy of
                # the champion, and promoted it (a tie passes the gate). The run stays, as the
                # record that the job ran and what it measured; the registry stays as it was.
                run.log_dict(dict(metadata), tracking.METADATA_FILE)
                churn_version, value_version = same
                run.set_tags({"churnml.identical_to": f"{tracking.CHURN_MODEL_NAME} v{churn_version}, "
                                                      f"{tracking.VALUE_MODEL_NAME} v{value_version}"})
                champion, promoted, unavailable = {}, False, None
                current = tracking.champion_versions()
                # A first run not promoted (no better than chance, a leaky column) left no champion to keep.
                kept = ("there is still no champion: `churnml promote` makes these versions champion" if current == (None, None)
                        else "the champion is unchanged")
                reason = ("identical to the run that registered these versions (same data fingerprint, as-of date, "
                          f"config, seed, code and library versions): not registered again, and {kept}")
            else:
                churn_version, value_version = run.log_models(churn_model, value_model, X["test"].head(5), metadata, inputs)
                if tracking.champion_versions() != tuple(c[1] if c else None for c in champions):
                    champions = _load_champions()
                # A champion an earlier churnml trained may use a customers column validation now leaves out as empty.
                needed = [name for c in champions if c is not None for name in c[0].feature_names_]
                champion, unavailable = _champion_metrics(with_empty_attributes(X["test"], needed, data_summary), churned["test"],
                                                          value["test"], champions)
                if champions[0] is not None and problem is not None and not unavailable:
                    unavailable = _other_problem(problem)
                newer = tracking.champion_as_of()
                if newer is not None and newer > as_of:
                    # A backfill: the champion has seen data this run's test period cannot judge it on.
                    unavailable = (f"the champion was trained as of {newer:%Y-%m-%d}, on newer data than this run "
                                   f"({as_of:%Y-%m-%d})")
                refused = "; ".join(filter(None, [chance_level(churn_metrics, value_metrics, intervals), leak_text(leaks)]))
                promoted, reason = _gate(gate_new, champion, unavailable, refused)
                if promoted:
                    tracking.set_champions(churn_version, value_version)
        run.log_metrics({f"champion_{k}": v for k, v in champion.items()}, prefix="gate_")
        run.set_tags({"churnml.promoted": promoted, "churnml.promotion_reason": reason})
        run_id = run.run_id

    return TrainingResult(
        run_id=run_id,
        churn_version=churn_version,
        value_version=value_version,
        promoted=promoted,
        promotion_reason=reason,
        as_of=as_of,
        cutoffs=training_set.split_cutoffs,
        churn_metrics=churn_metrics,
        value_metrics=value_metrics,
        grades=grades,
        tuning=results,
        seconds=time.perf_counter() - started,
        first_model=promoted and not champion and not unavailable,
        registered=same is None,
        left_out=left_out,
        intervals=intervals,
        best_baselines={"churn": best_churn_name, "value": best_value_name},
        leaks=leaks,
        calendar_churn=calendar,
        history_days=training_set.history_days(),
        left_out_dates=left_out_dates,
        active_days=active_days,
        test_customers=len(churned["test"]),
        test_churners=int(churned["test"].sum()),
        calibration_note=churn_model.calibration_note_,
        value_if_retained_gini=float(gate_new["normalized_gini"]),
        training_set=described,
    )


UNTRAINED_SETTINGS: dict[str, tuple[str, ...] | None] = {
    "segments": None, "targeting": None, "monitoring": None, "serving": None,
    "scoring": ("reasons_for", "keep_snapshots"),
}
"""Config settings no model depends on, by section (None: the whole section): read when scoring,
listing, monitoring and serving, never by training, so a change to them alone is not a new model
(:func:`inputs_digest` leaves them out). A setting added later counts until it is listed here:
the digest errs towards registering. ``[scoring] hidden_reasons`` counts (training reads it)."""


def trained_settings(config: Config) -> dict[str, Any]:
    """The config as a dict without the :data:`UNTRAINED_SETTINGS`."""
    settings = dataclasses.asdict(config)
    for section, keys in UNTRAINED_SETTINGS.items():
        if keys is None:
            settings.pop(section, None)
        else:
            settings[section] = {k: v for k, v in settings[section].items() if k not in keys}
    return settings


def inputs_digest(fingerprint: str, as_of: pd.Timestamp, config: Config, n_jobs: int, n_estimators: int,
                  best_params: Mapping[str, Mapping[str, Any]], libraries: Sequence[str] | None = None,
                  training_set: str = "", code: str | None = None) -> str:
    """What decides the models of a run, as one sha256: the data's fingerprint, the as-of date, the
    config as the run applied it (``--trials``, ``--seed`` and ``--timeout`` included; not the
    :data:`UNTRAINED_SETTINGS`), the
    ``code`` (default: :func:`churnml.io.code_digest` now; :func:`train_on` passes the one read when the
    run began: the source itself, so uncommitted changes count), the
    LightGBM threads and tree cap, the parameters tuning chose for each model (a study cut short
    by ``--timeout`` resumes on a rerun and may choose others), and the ``libraries`` that fit
    them (default: the versions the logged models pin, and DuckDB's, which builds the training
    set): after an upgrade of LightGBM the same data and code give other trees, and without them
    the check took those for the registered ones; and a digest of the ``training_set`` the models
    were fitted, tuned, graded and levelled on (:func:`churnml.tuning.frames_digest`):
    :func:`train_on` takes one built elsewhere, e.g. a Spark sample of another fraction, under the
    data's fingerprint, whose seeded trials could choose the same parameters. A run with the digest of registered versions is
    not registered again (:func:`churnml.tracking.identical_versions`)."""
    import hashlib
    import json

    import duckdb

    from churnml import io

    if libraries is None:
        libraries = [*tracking.model_requirements(), f"duckdb=={duckdb.__version__}"]
    inputs = {"data_fingerprint": fingerprint, "as_of": f"{pd.Timestamp(as_of):%Y-%m-%d}",
              "config": trained_settings(config), "code": code if code is not None else io.code_digest(),
              "lightgbm_threads": int(n_jobs),
              "n_estimators": int(n_estimators), "best_params": best_params, "libraries": sorted(libraries),
              "training_set": training_set}
    return hashlib.sha256(json.dumps(inputs, sort_keys=True, default=str).encode()).hexdigest()


def without_identifiers(training_set: TrainingSet, max_levels: int) -> tuple[TrainingSet, dict[str, int]]:
    """The training set without categorical features of more than ``max_levels`` values.

    ``[training] max_categorical_levels``: such a column (an account manager's code, a postcode)
    names groups of customers rather than describing them. LightGBM splits on its rare values
    and fits them to noise: on the demo data, the 596 account-manager codes took the largest
    share of the churn model's gain, and its test ROC AUC was 0.784 with them, 0.814 without.
    Returns the reduced set and the columns left out with their numbers of values.
    """
    left_out = {
        name: int(count) for name in training_set.categorical_features
        if (count := training_set.frame[name].nunique()) > max_levels
    }
    if not left_out:
        return training_set, {}
    return dataclasses.replace(
        training_set,
        feature_names=[n for n in training_set.feature_names if n not in left_out],
        categorical_features=[n for n in training_set.categorical_features if n not in left_out],
        specs=[s for s in training_set.specs if s.name not in left_out],
    ), left_out


def dated_columns(frame: pd.DataFrame, names: Iterable[str]) -> list[str]:
    """The columns of ``names`` whose values (nearly all) read as dates: a customers column such as
    ``closed_on`` or ``last_login`` holds today's value at every cutoff, so as a feature it would
    carry the future; as text it is left out for its many values, and the usual advice (map it to
    fewer groups) would bring the leak back."""
    found = []
    for name in names:
        values = pd.Series(frame[name].dropna().unique()[:200]).astype(str)
        if len(values) and pd.to_datetime(values, errors="coerce", format="mixed").notna().mean() >= 0.9:
            found.append(name)
    return found


RECENCY_FEATURE = "days_since_last_purchase"
ACTIVE_DAYS = 365.0
"""``roc_auc_active``: the test customers with a purchase in the last ``ACTIVE_DAYS`` days, where
churn is an account closure (see :func:`active_subgroup_days`)."""


def active_subgroup_days(tables: Iterable[str] | None, horizon_days: int) -> float:
    """The purchase window of the ``roc_auc_active`` subgroup.

    With a ``churn_events`` table (or when the tables are not known): a year, :data:`ACTIVE_DAYS`.
    Without one, the population is the customers who bought in the last ``active_days`` (365), so
    "bought in the last year" was everyone and its AUC the headline's; there it is the customers
    who bought within the horizon, still active, where the model must tell who lapses.

    Example
    -------
    >>> active_subgroup_days(["customers", "transactions", "churn_events"], 90), active_subgroup_days(["customers", "transactions"], 90)
    (365.0, 90.0)
    """
    if tables is None or "churn_events" in set(tables):
        return ACTIVE_DAYS
    return float(horizon_days)


def active_subgroup_label(days: float) -> str:
    """What the ``roc_auc_active`` row is called: "ROC AUC, bought in last year" or "… last 90 days".

    Example
    -------
    >>> active_subgroup_label(365.0), active_subgroup_label(90.0)
    ('ROC AUC, bought in last year', 'ROC AUC, bought in last 90 days')
    """
    return "ROC AUC, bought in last year" if days == ACTIVE_DAYS else f"ROC AUC, bought in last {days:g} days"


def value_level_cutoff(training_set: TrainingSet, frame: pd.DataFrame, as_of: pd.Timestamp,
                       config: Config) -> pd.Timestamp | None:
    """The training cutoff the value model's level is fitted on when it is not the test cutoff: the
    same season a year before ``as_of`` (:func:`churnml.labels.same_season_cutoff`), by the rule the
    drift reference matches seasons with, within half a cutoff step (:func:`drift_reference`), so
    scores at ``as_of`` are compared with the cutoff their value level comes from. None when no
    cutoff is of that season or nobody in ``frame`` was retained there to fit a level on.
    With a 60-day step the oldest train cutoffs lie 330 and 390 days before ``as_of``: the fixed
    15 days found neither and the level stayed on the test cutoff, a season away."""
    season = same_season_cutoff(training_set.cutoffs, as_of, season_tolerance(config.problem.cutoff_step_days),
                                data_start=training_set.data_start)
    if season is not None and not ((frame["cutoff"] == season) & (frame["churned"] == 0)).any():
        return None
    return season


def drift_reference(training_set: TrainingSet, frame: pd.DataFrame, scores: Mapping[str, np.ndarray],
                    as_of: pd.Timestamp, config: Config) -> dict[str, Any]:
    """The monitoring reference of models trained on ``training_set``
    (:func:`churnml.monitoring.reference_statistics`): the test cutoff's rows of ``frame`` (the
    training rows, as the models saw them) with ``scores`` on them, and as seasons the other
    cutoffs' rows and the cutoffs filling the gaps between the splits (``season_frame``, rounded as
    the training rows are: the same data gives the same reference), matched within half a cutoff step;
    and the churn ratio of each customer attribute's levels on the train split's rows, which the
    models learned from (what an attribute's reason says: :func:`churnml.reasons.attribute_churn`).
    """
    names = training_set.feature_names
    seasons = frame.loc[frame["split"] != "test", ["cutoff", *names]]
    if training_set.season_frame is not None and len(training_set.season_frame):
        seasons = pd.concat([seasons, _stable(training_set.season_frame[["cutoff", *names]], names)], ignore_index=True)
    return monitoring.reference_statistics(
        frame[frame["split"] == "test"], names, training_set.categorical_features, scores, as_of,
        seasons=seasons, data_start=training_set.data_start,
        season_tolerance_days=season_tolerance(config.problem.cutoff_step_days) / pd.Timedelta(days=1),
        training_rows=frame[frame["split"] == "train"],
        attributes=[spec.name for spec in training_set.specs if spec.column is not None and spec.name in names],
    )


def _stable(frame: pd.DataFrame, names: list[str]) -> pd.DataFrame:
    """Round float columns (the features and the value label) to :data:`FEATURE_DECIMALS` (6) decimals.

    DuckDB's parallel float sums differ in the last bits from run to run; a 1e-12 difference can
    move a LightGBM histogram bin edge and change the trees. Rounding makes same data + seed give
    the same models, and the same tuning study (:meth:`churnml.tuning.TuningData.digest`).
    """
    frame = frame.copy()
    floats = [n for n in names if pd.api.types.is_float_dtype(frame[n])]
    frame[floats] = frame[floats].round(FEATURE_DECIMALS)
    return frame


def leaky_attributes(parts: Mapping[str, pd.DataFrame], specs: Sequence[FeatureSpec], names: Sequence[str]) -> dict[str, float]:
    """Customer attributes that alone separate the test cutoff's churners from the rest: ROC AUC
    of at least :data:`churnml.validate.LEAK_AUC`, either way round (validation names them before,
    against every customer's closure: :func:`churnml.validate.leaky_attribute_notes`). Features
    from events see only the past; the customers table is read as it is today at every cutoff, so
    a column such as ``status = closed`` or ``cancelled_on`` hands the models the answer (test ROC
    AUC 1.0, grade A) and is useless on customers still active. A categorical attribute scores each value by its churn
    rate in the training rows (unseen values: the overall rate); a numeric one by its value, its
    empty cells lowest or highest, whichever separates better.
    """
    train_churned = parts["train"]["churned"].astype(float)
    test_churned = parts["test"]["churned"].to_numpy(dtype=int)
    if len(np.unique(test_churned)) < 2:
        return {}
    found = {}
    for spec in specs:
        if spec.column is None or spec.name not in names:
            continue
        test = parts["test"][spec.name]
        if spec.kind == "categorical":
            rates = train_churned.groupby(parts["train"][spec.name], observed=True).mean()
            scores = [test.map(rates).astype(float).fillna(train_churned.mean()).to_numpy()]
        else:
            # Ordered as they are, but finite: scikit-learn refuses a customers column's "inf". The empty
            # cells lowest or highest, whichever separates better, as validation ranks them: a cancellation
            # date kept as a number is empty for every open account, and filled with the median it read as
            # no signal (ROC AUC near 0.5) while the models learned the answer from the gaps.
            values = np.nan_to_num(test.astype(float).to_numpy(), nan=np.nan, posinf=np.finfo(float).max / 2,
                                   neginf=-np.finfo(float).max / 2)
            scores = [np.where(np.isnan(values), fill, values) for fill in (-np.finfo(float).max, np.finfo(float).max)]
        auc = max(max(a, 1.0 - a) for a in (float(roc_auc_score(test_churned, score)) for score in scores))
        if auc >= LEAK_AUC:
            found[spec.name] = round(auc, 4)
    return found


def leak_text(leaks: Mapping[str, float], explain: bool = False) -> str | None:
    """Why leaky attributes stop a promotion (with ``explain``, what to do about it), or None."""
    if not leaks:
        return None
    named = ", ".join(f"{name!r} (ROC AUC {auc:.3f})" for name, auc in leaks.items())
    text = (f"customer column{'s' if len(leaks) > 1 else ''} {named} alone separate{'' if len(leaks) > 1 else 's'} "
            "churners from the rest at the test cutoff")
    if explain:  # in the words of validation's note on such a column, which names it before training
        text += f": {LEAK_WHY} and train again"
    return text


def chance_level(churn_metrics: Mapping[str, Mapping[str, float]], value_metrics: Mapping[str, Mapping[str, float]],
                  intervals: Mapping[str, Mapping[str, float]]) -> str | None:
    """Why the new models rank no better than chance on the test cutoff, or None: then they are
    not promoted, even as the first models (scores from them would look like any others)."""
    found = []
    for kind, key, label, model in (("churn", "roc_auc", "ROC AUC", churn_metrics["model"]),
                                     ("value", "normalized_gini", "normalized Gini", value_metrics["model"])):
        low, high = intervals[kind]["model_low"], intervals[kind]["model_high"]
        if not low > metrics.CHANCE[key]:
            found.append(f"the {kind} model ranks no better than chance on the test cutoff ({label} {model[key]:.3f}, "
                         f"95 % interval {low:.3f} to {high:.3f}, chance {metrics.CHANCE[key]:g})")
    return "; ".join(found) or None


def _apart(new: float, champion: float, between: str) -> str:
    """``new`` and ``champion`` joined by ``between``, with the digits that tell them apart: the same
    model refitted by a later churnml lost the gate by 0.00002 and read 'roc_auc 0.8011 < champion 0.8011'."""
    digits = 4
    while new != champion and digits < 10 and f"{new:.{digits}f}" == f"{champion:.{digits}f}":
        digits += 1
    return f"{new:.{digits}f}{between}{champion:.{digits}f}"


def _gate(new: Mapping[str, float], champion: Mapping[str, float], unavailable: str | None,
          refused: str | None = None) -> tuple[bool, str]:
    """Promotion decision: nothing ``refused`` (chance-level or leaky models), and at least as good
    as the champion on both gate metrics."""
    if refused:
        kept = "kept the current champion" if champion or unavailable else "not promoted"
        return False, f"{kept}: {refused}; use `churnml promote` to override"
    if unavailable:
        return False, f"kept the current champion: {unavailable}; use `churnml promote` to override"
    if not champion:
        return True, "first model: promoted to champion"
    # The value model is compared on what it predicts, the value if retained, over the retained
    # customers: the run's metric value_if_retained_normalized_gini (which `churnml models` lists),
    # not value_model_normalized_gini (the expected value over everyone).
    label = {"roc_auc": "roc_auc", "normalized_gini": "value_if_retained_normalized_gini"}
    worse = [
        f"{label[key]} {_apart(new[key], champion[key], ' < champion ')}"
        for key in ("roc_auc", "normalized_gini")
        if key in champion and new[key] < champion[key]
    ]
    if worse:
        return False, "kept the current champion: " + "; ".join(worse)
    shown = ", ".join(f"{label[k]} {_apart(new[k], champion[k], ' >= ')}" for k in ("roc_auc", "normalized_gini") if k in champion)
    return True, f"at least as good as the champion on the test cutoff ({shown}): promoted"


def training_figures(
    churned: np.ndarray,
    churn_scores: Mapping[str, np.ndarray],
    value: np.ndarray,
    predicted_value: np.ndarray,
    churn_model: Any,
    value_model: Any,
) -> dict[str, Any]:
    """The figures a training run logs, by artifact path, drawn on the test cutoff. ``churn_scores``
    are the probabilities as graded, before the churn model's level shift: the calibration figure
    says so in its title (:data:`churnml.plots.GRADED_CALIBRATION_TITLE`)."""
    return {
        "plots/roc.png": plots.plot_roc(churned, churn_scores),
        "plots/precision_recall.png": plots.plot_pr(churned, churn_scores),
        "plots/calibration.png": plots.plot_calibration(churned, churn_scores["model"], title=plots.GRADED_CALIBRATION_TITLE),
        "plots/cumulative_gains.png": plots.plot_gains(churned, churn_scores),
        "plots/lift.png": plots.plot_lift(churned, churn_scores),
        "plots/value_deciles.png": plots.plot_value_deciles(value, predicted_value),
        **{f"plots/feature_importance_{kind}.png": plots.plot_feature_importance(
            importance.rename("total gain (loss reduction)"), title=f"Feature importance: {kind} model (top 20)")
           for kind, importance in (("churn", churn_model.feature_importances_), ("value", value_model.feature_importances_))},
    }


def _log_plots(run: tracking.TrainingRun, figures: Mapping[str, Any], churn_model: Any, value_model: Any) -> None:
    """Log :func:`training_figures` and every feature's importance in numbers."""
    for path, ax in figures.items():
        run.log_figure(ax.figure, path)
    # Every feature's importance in numbers, most important first: the plots show the top 20, and
    # the report data held them unsorted, keyed by feature, among the report's other data.
    run.log_dict({"importance": "total gain (loss reduction) of the splits on each feature, in the final booster "
                               "(refitted on train + validation)",
                  **{kind: {name: float(gain) for name, gain in model.feature_importances_.sort_values(ascending=False, kind="mergesort").items()}
                     for kind, model in (("churn", churn_model), ("value", value_model))}},
                 FEATURE_IMPORTANCE_FILE)
