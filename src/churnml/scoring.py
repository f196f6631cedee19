"""Batch scoring: one row per customer in the population at an as-of date.

The scores table (:data:`SCORE_COLUMNS`, ordered by ``customer_id``):

======================  =========  ============================================================
column                  type       meaning
======================  =========  ============================================================
customer_id             str
as_of                   datetime   features see only events before it
churn_probability       float      calibrated probability of churning within the horizon
predicted_value         float      expected value over the horizon: ``(1 - p) × value_if_retained``
value_at_risk           float      expected loss if nothing is done: ``p × value_if_retained``
risk_tier               str        low / medium / high (:func:`churnml.segments.risk_tiers`)
value_tier              str        low / medium / high, 80/20 over the whole population
segment                 str        value × risk segment key (:data:`churnml.segments.SEGMENTS`; the
                                   little-value cells' new customers: ``new_customer``, their
                                   growing and stable ones: ``low_value_active``)
lifecycle_stage         str        new / growing / stable / declining / lapsed
reasons                 str        up to 3 drivers of the churn risk, ``"; "``-separated
churn_model_version     str        registry versions of the models used
value_model_version     str
current_value           float      net revenue over the 365 days before ``as_of``
reason_topics           str        what each reason is about, ``"; "``-separated in the order of
                                   ``reasons`` (:data:`churnml.schema.REASON_TOPICS`): a retention
                                   list's talking point comes from them
======================  =========  ============================================================

One code path: :func:`score` (a whole dataset, in chunks) and :func:`score_features` (a few
customers, e.g. from the HTTP API) share :func:`predict` and :func:`_finish`. Value tiers need the
whole population: :func:`score` computes their cut points from every customer's value if retained
before the first chunk is finished; :func:`score_features` takes them as an argument (see
:func:`scores_value_thresholds`).
"""

from __future__ import annotations

import dataclasses
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Mapping

import numpy as np
import pandas as pd

from churnml import io
from churnml.config import Config
from churnml.dataset import Dataset
from churnml.errors import DataError
from churnml.features import RESOLUTION_FEATURES, FeatureSpec
from churnml.labels import build_scoring_frame, refuse_as_of_before_training
from churnml.models import MIN_ISOTONIC_LEVELS, trained_form
from churnml.reasons import attribute_churn, explain_with_topics, explainable_specs, reason_text, typical_values
from churnml.segments import (
    LIFECYCLE_STAGES,
    RISK_TIERS,
    SEGMENTS,
    VALUE_TIERS,
    ValueThresholds,
    assign_segments,
    lifecycle_stages,
    risk_cut_points,
    risk_tiers,
    value_thresholds as compute_value_thresholds,
    value_tiers,
)
from churnml.validate import EMPTY_LEFT_OUT


SCORE_COLUMNS: tuple[str, ...] = (
    "customer_id",
    "as_of",
    "churn_probability",
    "predicted_value",
    "value_at_risk",
    "risk_tier",
    "value_tier",
    "segment",
    "lifecycle_stage",
    "reasons",
    "churn_model_version",
    "value_model_version",
    "current_value",
    "reason_topics",
)

CSV_DECIMALS = {"current_value": 2}
"""Scores columns held to the cent, which a CSV writes with two decimals each (201.91 beside 800.80,
not 800.8). The predicted value and the value at risk keep every digit: retention lists and
evaluate compute with them, from a CSV as from Parquet. Rounded to the cent in the CSV alone, the
list from 891 scores differed from the Parquet file's in all 60 settings tried (contact cost 0.5-20,
budget none to 5,000, with and without a holdout): 354 contacts for 355, near ties in another order,
value_if_retained a cent off. churn_probability keeps every digit too: to four decimals, the lists
stayed the same, but evaluate's ROC AUC of those scores (as of 2025-09-01) read 0.8025 for 0.8024."""

CURRENT_VALUE_FEATURE = "monetary_365d"
"""Feature that is the customer's net revenue over the last 365 days (``current_value``)."""
TENURE_FEATURE = "tenure_days"
TREND_FEATURE = "spend_trend_pct"
"""Spend change in percent, last 90 days vs the 90 before (lifecycle stage)."""
RECENCY_FEATURE = "days_since_last_purchase"
"""Days since the last purchase (lifecycle stage ``lapsed``)."""
USUAL_GAP_FEATURE = "mean_gap_days"
"""Usual days between purchases (lifecycle stage: a customer's own rhythm)."""

DEFAULT_CHUNK_SIZE = 100_000
QUANTILES: tuple[float, ...] = (0.0, 0.01, 0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 1.0)
DISTRIBUTION_COLUMNS = ("churn_probability", "predicted_value", "value_at_risk", "current_value")
FEW_PROBABILITIES = 20
"""Fewer distinct churn probabilities than this across a scored population make :func:`score_warnings`
warn: a step-function calibration that ties customers the risk tiers and retention lists then
cannot tell apart (an ISP of 3,000 customers: 12 values, 38 % of the customers on 0.0750)."""
SMALL_POPULATION = 100
"""Below this many scored customers, few distinct probabilities and an empty risk tier are expected:
:func:`score_warnings` says nothing about them."""

Progress = Callable[[str, int, int], None]
"""``progress(stage, rows_done, rows_total)``; stages are ``"predict"`` and ``"explain"``."""


@contextmanager
def _timed(timings: dict[str, float] | None, stage: str) -> Iterator[None]:
    started = time.perf_counter()
    try:
        yield
    finally:
        if timings is not None:
            timings[stage] = timings.get(stage, 0.0) + time.perf_counter() - started


def model_specs(models: Any) -> list[FeatureSpec]:
    """The feature specs the models were trained with (from the training run's metadata)."""
    return [FeatureSpec(**spec) for spec in models.metadata.get("specs", [])]


def check_features(features: pd.DataFrame, models: Any) -> list[str]:
    """The models' feature names; raises :class:`DataError` when ``features`` lacks a column scoring needs.

    Used by every scoring path (batch, HTTP API, Spark executors) before :func:`predict`.
    """
    names = list(models.churn.feature_names_)
    missing = missing_columns(features.columns, models)
    if missing:
        # An attribute validation now leaves out (empty in every row, or dates) was a feature of
        # models an earlier churnml trained: the data has the column, the models cannot score it.
        attributes = [spec.column for spec in model_specs(models) if spec.column is not None and spec.name in missing]
        retrain = ("Retrain on this data (`churnml train`); where its gate cannot score these models either, make the "
                   "new versions champion with `churnml promote churnml-churn VERSION` and `churnml promote "
                   "churnml-value VERSION`")
        hint = "" if not attributes else (
            f" The models use the customers column(s) {', '.join(attributes)}, which this data lacks or validation "
            "leaves out of the models (a column empty in every row or holding dates: its notes say so; an earlier "
            f"churnml used such columns). {retrain}.")
        # Likewise a resolved_at empty in every row (validate.EMPTY_LEFT_OUT), which an earlier churnml read as every
        # complaint still open: the features read from it are left out with it now.
        if set(missing) & set(RESOLUTION_FEATURES):
            hint += (" The models read service_events' resolved_at "
                     f"({EMPTY_LEFT_OUT[('service_events', 'resolved_at')]}), which this data lacks or has empty in "
                     "every row: validation then leaves it out, with the features read from it (its notes say so; an "
                     f"earlier churnml read an empty one as every complaint still open). {retrain}; or export "
                     "resolved_at, filled where an event was resolved, and score again.")
        raise DataError(
            f"The feature table lacks column(s) {', '.join(missing)} that scoring needs. "
            "The models were trained on data with more tables or columns than this data has; "
            "score data shaped like the training data, or retrain on this data." + hint
        )
    return names


def with_empty_attributes(features: pd.DataFrame, needed: Iterable[str], summary: Mapping[str, Any] | None) -> pd.DataFrame:
    """``features`` with each column in ``needed`` that it lacks and validation left out of the models
    as empty in every row (``"empty"`` in the data ``summary``'s ``left_out_columns``), missing for everyone.

    Models an earlier churnml trained took such a customers column as a feature missing for
    everyone; validation now leaves it out, and after the upgrade those champions scored nothing
    ("lacks column(s) notes"). Missing for everyone is what they saw, so they score as they did.
    """
    empty = {name for name, why in ((summary or {}).get("left_out_columns") or {}).items() if why == "empty"}
    added = [name for name in dict.fromkeys(needed) if name in empty and name not in features.columns]
    return features.assign(**dict.fromkeys(added, np.nan)) if added else features


def as_trained(features: pd.DataFrame, models: Any) -> pd.DataFrame:
    """``features`` with each boolean attribute in the form the models were trained on it
    (:func:`churnml.models.trained_form`: a Parquet boolean's 1 and 0 against a CSV's True and
    False), so that reasons, drift and snapshots read it as the models do. Every scoring path
    (batch, HTTP API, Spark) passes through here; the models convert on their own too."""
    changed: dict[str, Any] = {}
    for model in (models.churn, models.value):
        for name in model.feature_names_:
            if name in features.columns and name not in changed:
                levels = model.categories_.get(name)
                values = trained_form(features[name], levels)
                if values is not features[name]:
                    changed[name] = values if levels is None else pd.Categorical(values, categories=levels)
    return features.assign(**changed) if changed else features


def missing_columns(columns: Iterable[str], models: Any) -> list[str]:
    """The columns scoring needs (the models' features and a few more) that ``columns`` lacks."""
    needed = ["customer_id", *models.churn.feature_names_, *models.value.feature_names_, CURRENT_VALUE_FEATURE,
              TENURE_FEATURE, TREND_FEATURE, RECENCY_FEATURE, USUAL_GAP_FEATURE]
    have = set(columns)
    return [c for c in dict.fromkeys(needed) if c not in have]


def value_columns(churn_probability: np.ndarray, value_if_retained: np.ndarray) -> dict[str, np.ndarray]:
    """``predicted_value`` (expected value, ``(1 - p) V``) and ``value_at_risk`` (``p V``)."""
    return {"predicted_value": (1.0 - churn_probability) * value_if_retained,
            "value_at_risk": churn_probability * value_if_retained}


def retained_value(scores: Mapping[str, Any]) -> Any:
    """The value if retained of scored customers, from their score columns:
    ``predicted_value + value_at_risk`` is ``(1 - p) V + p V = V``.

    Value tiers are cut on this sum, not on the model's ``V``, which can differ in the last bit:
    batch scoring, the sidecar and the HTTP API then agree exactly on every customer's tier
    (:func:`scores_value_thresholds`).
    """
    return scores["predicted_value"] + scores["value_at_risk"]


def scores_value_thresholds(scores: Mapping[str, Any], config: Config | None = None) -> ValueThresholds:
    """Value-tier cut points of a whole scored population (its score columns or
    :func:`value_columns`): what batch scoring applies, the sidecar records and the API reuses."""
    return compute_value_thresholds(np.asarray(retained_value(scores), dtype=float), config)


def predict(features: pd.DataFrame, models: Any, names: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Churn probability and value if retained for each row (``names``: from :func:`check_features`).

    The value model takes its own columns: champions promoted from different runs (a rollback of
    one of them) may use different features, and the churn model's columns crashed it.
    """
    return models.churn.predict_proba(features[names]), models.value.predict(features)


def _finish(
    features: pd.DataFrame,
    churn_probability: np.ndarray,
    value_if_retained: np.ndarray,
    models: Any,
    names: list[str],
    specs: list[FeatureSpec],
    as_of: pd.Timestamp,
    config: Config,
    thresholds: ValueThresholds,
    timings: dict[str, float] | None = None,
) -> pd.DataFrame:
    """Reasons, tiers, segments and the final columns for rows whose predictions are known."""
    risk = risk_tiers(churn_probability, config, models.metadata.get("base_rate"))
    explained = np.ones(len(features), dtype=bool)
    if config.scoring.reasons_for == "at_risk":
        explained = np.asarray(risk) != "low"
    reasons = np.full(len(features), "", dtype=object)
    topics = np.full(len(features), "", dtype=object)
    if explained.any():
        rows = features[explained] if not explained.all() else features
        with _timed(timings, "contributions"):
            contributions = models.churn.contributions(rows[names])
        with _timed(timings, "reasons"):
            specs = explainable_specs(specs, models.churn.categories_, config.scoring.hidden_reasons)
            typical = typical_values(models.monitoring_reference)
            said, about = explain_with_topics(contributions, rows, specs, typical=typical,
                                              churn=attribute_churn(models.monitoring_reference))
            reasons[explained] = reason_text(said)
            topics[explained] = reason_text(about)
        del contributions
    with _timed(timings, "segments"):
        values = value_columns(churn_probability, value_if_retained)
        value = value_tiers(retained_value(values), thresholds)
        stage = lifecycle_stages(
            features[TENURE_FEATURE].to_numpy(dtype=float),
            features[TREND_FEATURE].to_numpy(dtype=float) / 100.0,
            features[RECENCY_FEATURE].to_numpy(dtype=float),
            features[USUAL_GAP_FEATURE].to_numpy(dtype=float),
        )
        segment = assign_segments(value, risk, stage)
        n = len(features)
        return pd.DataFrame({
            "customer_id": features["customer_id"].astype(str).to_numpy(),
            "as_of": np.full(n, np.datetime64(as_of, "ns")),
            "churn_probability": np.asarray(churn_probability, dtype="float64"),
            "predicted_value": values["predicted_value"].astype("float64"),
            "value_at_risk": values["value_at_risk"].astype("float64"),
            "risk_tier": np.asarray(risk, dtype=object),
            "value_tier": np.asarray(value, dtype=object),
            "segment": np.asarray(segment, dtype=object),
            "lifecycle_stage": np.asarray(stage, dtype=object),
            "reasons": reasons,
            "churn_model_version": np.full(n, str(models.churn_version), dtype=object),
            "value_model_version": np.full(n, str(models.value_version), dtype=object),
            # Cents: DuckDB's parallel SUM may differ in the last bits between runs; the file must not.
            "current_value": np.round(features[CURRENT_VALUE_FEATURE].to_numpy(dtype="float64"), CSV_DECIMALS["current_value"]),
            "reason_topics": topics,
        }, columns=list(SCORE_COLUMNS))


def _sorted(features: pd.DataFrame) -> pd.DataFrame:
    ids = features["customer_id"].astype(str)
    if ids.is_monotonic_increasing:
        return features.reset_index(drop=True)
    return features.iloc[np.argsort(ids.to_numpy(), kind="stable")].reset_index(drop=True)


def score_features(
    features: pd.DataFrame,
    models: Any,
    as_of: pd.Timestamp | str,
    config: Config | None = None,
    value_thresholds: ValueThresholds | None = None,
) -> pd.DataFrame:
    """Score customers whose features are already built (the HTTP API's entry point).

    Parameters
    ----------
    features : pandas.DataFrame
        Rows of a feature table (:func:`churnml.labels.build_scoring_frame` or a snapshot):
        ``customer_id`` and every feature the models use.
    models : churnml.tracking.LoadedModels
    as_of : Timestamp or str
        The as-of date the features were built for.
    config : Config, optional
        Tier thresholds.
    value_thresholds : ValueThresholds, optional
        Value-tier cut points of the whole population (:func:`scores_value_thresholds` of its
        scores; the HTTP API passes those of its snapshot).
        Without them, the tiers are computed over ``features`` alone, which is right only when
        ``features`` is the whole population.

    Returns
    -------
    pandas.DataFrame
        :data:`SCORE_COLUMNS`, one row per input row, ordered by ``customer_id``.

    Raises
    ------
    DataError
        When the feature table lacks a column the models need.

    Example
    -------
    >>> score_features(snapshot[snapshot.customer_id == "C000042"], models, "2025-06-30")  # doctest: +SKIP
    """
    config = config or Config()
    names = check_features(features, models)
    features = _sorted(as_trained(features, models))
    churn_probability, value_if_retained = predict(features, models, names)
    if value_thresholds is None:
        value_thresholds = scores_value_thresholds(value_columns(churn_probability, value_if_retained), config)
    return _finish(features, churn_probability, value_if_retained, models, names, model_specs(models),
                   pd.Timestamp(as_of), config, value_thresholds)


def score_chunks(
    features: pd.DataFrame,
    as_of: pd.Timestamp | str,
    models: Any,
    config: Config | None = None,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    progress: Progress | None = None,
    timings: dict[str, float] | None = None,
) -> Iterator[pd.DataFrame]:
    """Score a whole population's feature table, chunk by chunk, in ``customer_id`` order.

    Two passes: the first predicts churn probability and value for everyone (cheap; value-tier
    cut points need the whole population), the second computes contributions, reasons and
    segments one chunk at a time, so memory beyond the feature table stays bounded by the chunk.

    Parameters
    ----------
    features : pandas.DataFrame
        The population's feature table (:func:`churnml.labels.build_scoring_frame`).
    as_of, models, config
        As in :func:`score_features`.
    chunk_size : int
        Rows per chunk.
    progress : callable, optional
        ``progress(stage, rows_done, rows_total)`` after each chunk.
    timings : dict, optional
        Filled with seconds per stage (``predict``, ``contributions``, ``reasons``, ``segments``).

    Yields
    ------
    pandas.DataFrame
        Score chunks (:data:`SCORE_COLUMNS`).
    """
    config = config or Config()
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be at least 1, got {chunk_size}")
    as_of = pd.Timestamp(as_of)
    names = check_features(features, models)
    specs = model_specs(models)
    features = _sorted(as_trained(features, models))
    n = len(features)
    bounds = [(start, min(start + chunk_size, n)) for start in range(0, n, chunk_size)]
    churn_probability = np.empty(n)
    value_if_retained = np.empty(n)
    with _timed(timings, "predict"):
        for start, stop in bounds:
            chunk = features.iloc[start:stop]
            churn_probability[start:stop], value_if_retained[start:stop] = predict(chunk, models, names)
            if progress:
                progress("predict", stop, n)
    with _timed(timings, "segments"):
        thresholds = scores_value_thresholds(value_columns(churn_probability, value_if_retained), config)
    for start, stop in bounds:
        yield _finish(features.iloc[start:stop], churn_probability[start:stop], value_if_retained[start:stop],
                      models, names, specs, as_of, config, thresholds, timings)
        if progress:
            progress("explain", stop, n)


def refuse_as_of_before_models(as_of: pd.Timestamp | str, models: Any) -> None:
    """Raise :class:`~churnml.errors.ConfigError` when ``as_of`` lies before the models' first training
    cutoff (:func:`churnml.labels.refuse_as_of_before_training`), in the library's words. The library's
    :func:`score` and :func:`churnml.spark.score` check through here before any data is read; `churnml
    score` checks before it reads the data (in its own words, ``--as-of``), ``POST /score_history`` on
    each request. A caller scoring 1990 got scores from models that learned from customers as of 2025.
    """
    refuse_as_of_before_training(pd.Timestamp(as_of), models.metadata, "as_of",
                                 "or, for a backfill of an earlier date, train models as of it and score with their "
                                 "version (load_models(VERSION))")


def score(
    dataset: Dataset,
    as_of: pd.Timestamp | str,
    models: Any,
    config: Config | None = None,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    progress: Progress | None = None,
    timings: dict[str, float] | None = None,
) -> pd.DataFrame:
    """Score every customer in the population at ``as_of``.

    Parameters
    ----------
    dataset : Dataset
        Clean data (:func:`churnml.validate.load_dataset`).
    as_of : Timestamp or str
        Features see only events before this date.
    models : churnml.tracking.LoadedModels
        From :func:`churnml.tracking.load_models`.
    config : Config, optional
    chunk_size : int
        Rows per chunk for contributions and reasons.
    progress : callable, optional
        ``progress(stage, rows_done, rows_total)``.
    timings : dict, optional
        Filled with seconds per stage (``features`` plus those of :func:`score_chunks`).

    Returns
    -------
    pandas.DataFrame
        :data:`SCORE_COLUMNS`, one row per customer, ordered by ``customer_id``.

    Raises
    ------
    ConfigError
        When ``as_of`` lies before the models' first training cutoff (:func:`refuse_as_of_before_models`).
    ProblemError
        When nobody is in the population at ``as_of``.

    Example
    -------
    >>> scores = score(load_dataset("data/"), "2025-06-30", load_models("champion"))  # doctest: +SKIP
    """
    config = config or Config()
    refuse_as_of_before_models(as_of, models)
    with _timed(timings, "features"):
        features = build_scoring_frame(dataset, pd.Timestamp(as_of), config)
    features = with_empty_attributes(features, [*models.churn.feature_names_, *models.value.feature_names_], dataset.summary)
    chunks = list(score_chunks(features, as_of, models, config, chunk_size, progress, timings))
    return pd.concat(chunks, ignore_index=True)


def score_metadata(
    models: Any,
    as_of: pd.Timestamp | str,
    config: Config | None = None,
    data_fingerprint: str | None = None,
    alias: str | None = None,
    quarantined_rows: int | None = None,
    data_end: pd.Timestamp | None = None,
    kept_rows: int | None = None,
) -> dict[str, Any]:
    """The context a scores sidecar records: models, data, as-of date and the config used.

    ``quarantined_rows``: rows validation set aside from the data, and ``kept_rows`` those it kept
    without a value it blanked (:func:`churnml.dataset.row_counts`; None where churnml did not
    validate it, as on Spark, which reads clean tables). ``data_end``: the data's latest event
    (``Dataset.data_end``), recorded as its day. ``code``: the code that scored
    (:func:`churnml.io.code_version`); ``models.code`` the code that trained the models."""
    config = config or Config()
    return {
        "as_of": f"{pd.Timestamp(as_of):%Y-%m-%d}",
        "data_last_day": None if data_end is None else f"{pd.Timestamp(data_end):%Y-%m-%d}",
        "models": {
            "alias": alias,
            "churn_model_version": str(models.churn_version),
            "value_model_version": str(models.value_version),
            "run_id": models.run_id,
            "trained_as_of": models.metadata.get("as_of"),
            "grade": models.metadata.get("grade"),
            "calibration": models.metadata.get("calibration"),  # isotonic, platt or none (None: not recorded)
            "base_rate": models.metadata.get("base_rate"),
            "problem": models.metadata.get("problem"),  # what churn means, for reports and lists
            "code": models.metadata.get("code"),  # None for models trained before it was recorded
        },
        "risk_tier_thresholds": dict(zip(("medium_min", "high_min"), risk_cut_points(config, models.metadata.get("base_rate")))),
        "data_fingerprint": data_fingerprint,
        "quarantined_rows": quarantined_rows,
        "kept_rows": kept_rows,
        "code": io.code_version(),
        "config": _jsonable(config),
    }


def check_sidecar(path: str | Path, sidecar: Mapping[str, Any]) -> None:
    """Refuse a scores file that is not the one its sidecar (:func:`write_scores`) was written for.

    Nothing to check for a sidecar without ``scores_sha256`` (written before it was recorded, by
    ``--engine spark`` beside a folder, or by hand).

    Raises
    ------
    DataError
        The file's sha256 differs from the one the sidecar records.
    """
    path = Path(path)
    recorded = sidecar.get("scores_sha256")
    if not isinstance(recorded, str) or not path.is_file():
        return
    actual = io.file_sha256(path)
    if actual == recorded:
        return
    json_path = path.with_name(path.name + ".json")
    rows = sidecar.get("rows")
    raise DataError(
        f"{json_path} belongs to another scores file than {path}: it was written for "
        f"{f'{rows:,} rows ' if isinstance(rows, int) else ''}(sha256 {recorded[:12]}…), and {path} now holds other "
        f"contents (sha256 {actual[:12]}…). Two `churnml score` runs wrote --out {path} at once, or one stopped between "
        f"writing the two files. Re-run `churnml score` to write both again, or delete {json_path.name} to use the scores "
        "without it (then nothing records the models that made them).")


SIDECAR = "the scores' sidecar (OUT.json)"
"""What a scores file's ``.json`` is, as errors name it."""


def write_scores(
    scores: pd.DataFrame | Iterable[pd.DataFrame],
    out: str | Path,
    fmt: str | None = None,
    sidecar: Mapping[str, Any] | None = None,
    monitor: Callable[[Mapping[str, np.ndarray]], Mapping[str, Any]] | None = None,
    before_publish: Callable[[], None] | None = None,
) -> tuple[Path, Path]:
    """Write scores and their JSON sidecar ``<out>.json``, atomically.

    Both files appear only when everything was written: a failure (or a killed process) midway
    leaves neither a partial table nor a sidecar describing one. The sidecar records the scores
    file's sha256 (``scores_sha256``), so that a scores file left beside another run's sidecar
    (two writers of one ``out``, or a run stopped between the two renames) is refused by its
    readers (:func:`check_sidecar`).

    Parameters
    ----------
    scores : DataFrame or iterable of DataFrame
        A scores table, or its chunks (:func:`score_chunks`) to keep memory bounded.
    out : str or Path
        The scores file.
    fmt : {"parquet", "csv"} or None
        None: from the suffix (``.csv`` → CSV, else Parquet).
    sidecar : mapping, optional
        Context to record (:func:`score_metadata`); row counts, tier and segment counts, value-tier
        cut points and score distributions (quantiles) are added.
    monitor : callable, optional
        Called with every row's ``churn_probability``, ``predicted_value``, ``value_at_risk`` and
        ``current_value`` (arrays) once all chunks are written; its result becomes the sidecar's
        ``monitoring`` section (see :func:`churnml.monitoring.drift`).
    before_publish : callable, optional
        Called once both files are written and their targets checked, just before the scores file
        is renamed into place: `churnml score` publishes its feature snapshot there
        (:meth:`churnml.io.StagedSnapshot.publish`). An exception there publishes neither file.

    Returns
    -------
    (Path, Path)
        The scores file and the sidecar.
    """
    out = Path(out)
    sidecar_path = out.with_name(out.name + ".json")
    chunks = [scores] if isinstance(scores, pd.DataFrame) else scores
    numeric: dict[str, list[np.ndarray]] = {c: [] for c in DISTRIBUTION_COLUMNS}
    counts: dict[str, dict[str, int]] = {
        "risk_tier": dict.fromkeys(RISK_TIERS, 0),
        "value_tier": dict.fromkeys(VALUE_TIERS, 0),
        "segment": dict.fromkeys(SEGMENTS, 0),
        "lifecycle_stage": dict.fromkeys(LIFECYCLE_STAGES, 0),
    }
    sums = ["churn_probability", "predicted_value", "value_at_risk", "current_value"]
    by_segment = pd.DataFrame(0.0, index=list(SEGMENTS), columns=sums)
    # The sidecar is published last, after the scores file: a job that waits for it finds both
    # (and neither appears when anything fails). Its temporary file is written before the scores
    # file is renamed into place, so a sidecar that cannot be written (a full disk: the scores were
    # left without one) publishes neither; only the two renames remain. They are not one step, so
    # the sidecar records the scores file's digest, and readers refuse a scores file it does not
    # match (:func:`check_sidecar`): another run's scores renamed in between, or a run stopped there.
    meta: dict[str, Any] = {}
    with io.atomic_path(sidecar_path) as sidecar_tmp:
        def write_sidecar(writer: io.TableWriter) -> None:
            meta["scores_sha256"] = writer.sha256
            try:
                sidecar_tmp.write_text(io.json_text(meta), encoding="utf-8")
            except OSError as exc:  # named after the sidecar, not the scores file it fails to publish
                raise OSError(exc.errno, exc.strerror, str(sidecar_path)) from None
            # A folder at the sidecar's path failed its rename after the scores file's: both checked first.
            io.refuse_folder(out, "the scores", "--out")
            io.refuse_folder(sidecar_path, SIDECAR, "--out")
            if before_publish is not None:
                before_publish()

        with io.TableWriter(out, fmt, digest=True, before_publish=write_sidecar, decimals=CSV_DECIMALS) as writer:
            for chunk in chunks:
                writer.write(chunk)
                for column in DISTRIBUTION_COLUMNS:
                    numeric[column].append(chunk[column].to_numpy(dtype=float))
                for column, table in counts.items():
                    for key, count in chunk[column].value_counts().items():
                        table[str(key)] = table.get(str(key), 0) + int(count)
                by_segment = by_segment.add(chunk.groupby("segment")[sums].sum(), fill_value=0.0).reindex(list(SEGMENTS))
            values = {c: np.concatenate(v) if v else np.empty(0) for c, v in numeric.items()}
            meta.update(sidecar or {})
            meta.update({
                "scores_file": out.name,
                "scores_sha256": None,  # known once the file is closed: write_sidecar
                "format": writer.fmt,
                "rows": writer.rows,
                "columns": list(SCORE_COLUMNS),
                "counts": counts,
                "value_tier_thresholds": scores_value_thresholds(values, _config_of(meta)).to_dict(),
                "totals": {c: float(values[c].sum()) for c in ("predicted_value", "value_at_risk", "current_value")},
                "segments": {
                    key: {
                        "customers": counts["segment"].get(key, 0),
                        "mean_churn_probability": (float(by_segment.loc[key, "churn_probability"]) / counts["segment"][key]
                                                   if counts["segment"].get(key) else None),
                        **{c: float(by_segment.loc[key, c]) for c in sums[1:]},
                    }
                    for key in by_segment.index
                },
                "distributions": {c: _distribution(v) for c, v in values.items()},
                "churn_probability_levels": probability_levels(values["churn_probability"]),
            })
            if monitor is not None:
                meta["monitoring"] = dict(monitor(values))
    return out, sidecar_path


def probability_levels(probability: np.ndarray) -> dict[str, Any]:
    """Distinct churn probabilities and the largest group of customers sharing one:
    ``{"distinct": n, "largest_tie": customers, "largest_tie_value": p}`` (a sidecar's
    ``churn_probability_levels``, read by :func:`score_warnings`)."""
    probability = np.asarray(probability, dtype=float)
    probability = probability[np.isfinite(probability)]
    if len(probability) == 0:
        return {"distinct": 0, "largest_tie": 0, "largest_tie_value": None}
    levels, counts = np.unique(probability, return_counts=True)
    top = int(counts.argmax())
    return {"distinct": int(len(levels)), "largest_tie": int(counts[top]), "largest_tie_value": float(levels[top])}


def score_warnings(sidecar: Mapping[str, Any]) -> list[str]:
    """What a scores sidecar (:func:`write_scores`) shows that needs a second look before anyone is
    contacted: churn probabilities with fewer than :data:`FEW_PROBABILITIES` distinct values, and
    empty risk tiers (both only from :data:`SMALL_POPULATION` customers on)."""
    rows = int(sidecar.get("rows") or 0)
    if rows < SMALL_POPULATION:
        return []
    warnings = []
    levels = sidecar.get("churn_probability_levels") or {}
    distinct, tie, value = levels.get("distinct"), levels.get("largest_tie"), levels.get("largest_tie_value")
    calibration = (sidecar.get("models") or {}).get("calibration")
    if distinct is not None and 0 < distinct < FEW_PROBABILITIES:
        warnings.append(
            f"the churn probabilities take only {distinct} distinct value(s) across the {rows:,} customers scored; the "
            f"largest group, {tie:,} customers ({tie / rows:.0%}), all have {value:.4g}. The model cannot tell these "
            "customers apart: risk tiers and retention lists rank them in an arbitrary order"
            + (f" (its calibration is {calibration}, a step function)" if calibration == "isotonic" else "")
            + ". Retrain with `churnml train` (auto calibration then uses Platt scaling where isotonic gives fewer than "
            f"{MIN_ISOTONIC_LEVELS} values), with more customers or history if you can, and rank by value at risk meanwhile.")
    counts = (sidecar.get("counts") or {}).get("risk_tier") or {}
    empty = [tier for tier, count in counts.items() if not count]
    if empty:
        cuts = sidecar.get("risk_tier_thresholds") or {}
        bounds = (f" (medium from {cuts['medium_min']:.3f}, high from {cuts['high_min']:.3f})"
                  if {"medium_min", "high_min"} <= set(cuts) else "")
        warnings.append(
            f"no customer fell in the {' or '.join(empty)} risk tier{'s' if len(empty) > 1 else ''}{bounds} of the {rows:,} "
            "scored, so the segments built on the tiers leave those cells empty. Look at the churn probabilities' spread in "
            "the sidecar's distributions; if they are few distinct values, retrain (above), else set the tiers with "
            "[segments] risk_multiples or risk_thresholds in the config.")
    return warnings


def quantile_name(q: float) -> str:
    """Key of quantile ``q`` in a sidecar's ``distributions`` (``0.05`` -> ``"q05"``)."""
    return f"q{round(q * 100):02d}"


def _distribution(values: np.ndarray) -> dict[str, float | None]:
    values = values[np.isfinite(values)]
    if len(values) == 0:
        return {"mean": None, **{quantile_name(q): None for q in QUANTILES}}
    quantiles = np.quantile(values, QUANTILES)
    return {"mean": float(values.mean()), **{quantile_name(q): float(v) for q, v in zip(QUANTILES, quantiles)}}


def _config_of(meta: Mapping[str, Any]) -> Config:
    """The value shares recorded in a sidecar context (defaults when absent)."""
    shares = meta.get("config", {}).get("segments", {}).get("value_shares")
    config = Config()
    return config.replace(segments={"value_shares": tuple(shares)}) if shares else config


def _jsonable(obj: Any) -> Any:
    if dataclasses.is_dataclass(obj):
        return {f.name: _jsonable(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, Mapping):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    return obj
