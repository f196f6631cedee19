"""The churn and value models: scikit-learn-style estimators around LightGBM.

``ChurnModel`` is a LightGBM binary classifier with monotone constraints and a calibrator chosen on
the out-of-time validation cutoff. ``ValueModel`` predicts the amount over the horizon *if the
customer is retained* (Tweedie objective on retained rows; zeros and a heavy tail are normal there).
Scores combine them: ``predicted_value = (1 - p) * value_if_retained``.

Both follow the scikit-learn contract: the constructor only stores hyperparameters (every one that
Optuna tunes is a constructor argument), learned state ends with ``_``, and using an unfitted model
raises :class:`churnml.errors.NotFittedError`. Both pickle cleanly and are deterministic for a given
``random_state`` and ``n_jobs`` (LightGBM ``deterministic=True``, row-wise histograms).

Refit on train + validation
---------------------------
With ``refit_on_validation=True``, ``fit`` first trains on ``X`` with early stopping on the
validation data, fits the calibrator on that model's validation scores, then retrains the booster on
train + validation with the number of trees found by early stopping. The calibrator stays the one
fitted on validation: calibrating on rows the final booster has seen would make it overconfident,
and the validation cutoff is the latest, so its churn rate is the best guess for the next one.
"""

from __future__ import annotations

from typing import Any, Callable, Mapping, Sequence

import lightgbm as lgb
import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import log_loss
from sklearn.model_selection import StratifiedKFold

from churnml.errors import NotFittedError

_EPS = 1e-6
CALIBRATIONS = ("auto", "isotonic", "platt", "none")
MIN_ISOTONIC_LEVELS = 20
"""Fewest distinct probabilities isotonic calibration must give the validation customers for
``calibration="auto"`` to keep it; below, Platt scaling is used even where isotonic's
cross-validated log loss was lower. Isotonic regression is a step function with about one step
per few churners: on generated data of 1,500 customers (465-615 validation customers, 33-75
churners) it had 6-12 steps, the largest holding 25-39 % of the customers, and won the log loss in
7 of 18 fits by 0.0002-0.009; Platt gave 82-573 distinct values. On an ISP of 3,000 customers its
12 steps put 38 % of the customers on one probability and none in the medium risk tier, and tied
the retention list's top 5. Rankings, risk tiers and retention lists need more values than that
(scikit-learn advises against isotonic calibration with far fewer than 1,000 samples)."""


BOOLEAN_WORDS = {"true": 1.0, "false": 0.0}
"""How a CSV writes a boolean (any case), and the number validation reads a Parquet or DuckDB
boolean column as (:func:`trained_form`)."""


def trained_form(values: pd.Series, levels: Sequence[str] | None) -> pd.Series:
    """A boolean attribute in the form a model was trained on it, whatever form the scored data gives.

    Validation reads a CSV's booleans as words (``True``/``False``, a categorical attribute) and a
    Parquet or DuckDB boolean column as the numbers 1 and 0 (a numeric one). Models trained on a
    CSV export and scoring a Parquet one read every customer's ``autopay`` as an unknown level,
    and the other way round as missing; only a drift warning (PSI 17) hinted at it.

    ``levels``: the trained categories, or None for a numeric feature. A categorical feature whose
    levels are all true/false words takes 1 and 0 (numbers or booleans) as those words, spelled as
    trained; a numeric one takes the words, in any case, as 1 and 0, and text that reads as numbers
    as those numbers (codes such as "001" and "010", which validation now reads as a category, and
    which models an earlier churnml trained read as 1 and 10). Anything else comes back as it is.

    Example
    -------
    >>> trained_form(pd.Series([1.0, 0.0, None]), ["False", "True"]).tolist()
    ['True', 'False', None]
    >>> trained_form(pd.Series(["true", "FALSE"], dtype="category"), None).tolist()
    [1.0, 0.0]
    >>> trained_form(pd.Series(["001", "010", None]), None).tolist()
    [1.0, 10.0, nan]
    """
    numeric = pd.api.types.is_numeric_dtype(values.dtype) or pd.api.types.is_bool_dtype(values.dtype)
    if levels is None:
        if numeric:
            return values
        words = values.astype(object).where(values.notna()).map(lambda v: str(v).strip().lower(), na_action="ignore")
        if not words.dropna().isin(list(BOOLEAN_WORDS)).all():
            # Codes such as "001", a category now, were numbers to models an earlier churnml trained.
            numbers = pd.to_numeric(values.astype(object), errors="coerce")
            return numbers.astype("float64") if numbers.notna().sum() == values.notna().sum() else values
        return words.map(BOOLEAN_WORDS).astype("float64")
    spelled = {str(level).lower(): level for level in levels}
    if not numeric or not spelled or set(spelled) - BOOLEAN_WORDS.keys():
        return values
    numbers = values.astype("float64")
    if not numbers.dropna().isin([1.0, 0.0]).all():
        return values
    words = np.where(numbers == 1.0, spelled.get("true", "True"), spelled.get("false", "False"))
    return pd.Series(np.where(numbers.isna(), None, words), index=values.index, dtype=object)


def _check_fitted(model: BaseEstimator) -> None:
    if not hasattr(model, "booster_"):
        raise NotFittedError(f"{type(model).__name__} is not fitted yet — call fit first.")


def _monotone_list(monotone: Mapping[str, int] | Sequence[int] | None, columns: Sequence[str]) -> list[int]:
    if monotone is None:
        return [0] * len(columns)
    if isinstance(monotone, Mapping):
        unknown = sorted(set(monotone) - set(columns))
        if unknown:
            raise ValueError(f"monotone names unknown feature(s) {unknown}; features are {list(columns)}.")
        values = [int(monotone.get(c, 0)) for c in columns]
    else:
        values = [int(v) for v in monotone]
        if len(values) != len(columns):
            raise ValueError(f"monotone has {len(values)} entries but X has {len(columns)} columns.")
    bad = [v for v in values if v not in (-1, 0, 1)]
    if bad:
        raise ValueError(f"monotone constraints must be -1, 0 or +1, got {bad}.")
    return values


class _LightGBMBase(BaseEstimator):
    """Shared LightGBM plumbing: categories, parameters, training with early stopping."""

    def _categories(self, frames: Sequence[pd.DataFrame]) -> dict[str, list]:
        categories: dict[str, list] = {}
        for column in frames[0].columns:
            if isinstance(frames[0][column].dtype, pd.CategoricalDtype):
                values: set = set()
                for frame in frames:
                    values |= set(frame[column].dropna().astype(str).unique())
                categories[column] = sorted(values)
        return categories

    def _prepare(self, X: pd.DataFrame) -> pd.DataFrame:
        """Columns in training order, categoricals cast to the training categories (unknown -> NaN),
        booleans in the form they were trained in (:func:`trained_form`)."""
        if not isinstance(X, pd.DataFrame):
            raise TypeError(f"{type(self).__name__} needs a pandas DataFrame, got {type(X).__name__}.")
        missing = [c for c in self.feature_names_ if c not in X.columns]
        if missing:
            # Named alone: the whole list (57 names on the demo) buried the one missing in train's gate message.
            raise ValueError(f"X lacks feature column(s) {', '.join(missing)} that the model was fitted on "
                             f"({len(self.feature_names_)} in all).")
        X = X[self.feature_names_].copy()
        for column, categories in self.categories_.items():
            values = trained_form(X[column], categories).astype(object)
            X[column] = pd.Categorical(values.where(values.isna(), values.astype(str)), categories=categories)
        for column in X.columns:
            if column not in self.categories_:
                X[column] = pd.to_numeric(trained_form(X[column], None), errors="coerce").astype("float64")
        return X

    def _lgb_params(self, objective: str, monotone: list[int]) -> dict[str, Any]:
        return {
            "objective": objective,
            "learning_rate": self.learning_rate,
            "num_leaves": self.num_leaves,
            "min_child_samples": self.min_child_samples,
            "bagging_fraction": self.subsample,
            "bagging_freq": 1 if self.subsample < 1 else 0,
            "feature_fraction": self.colsample_bytree,
            "lambda_l1": self.reg_alpha,
            "lambda_l2": self.reg_lambda,
            "monotone_constraints": monotone,
            "monotone_constraints_method": "intermediate",
            "seed": self.random_state,
            "num_threads": self.n_jobs,
            "deterministic": True,
            "force_row_wise": True,
            "verbosity": -1,
            "max_cat_to_onehot": 8,
        }

    def _train(
        self,
        params: dict[str, Any],
        X: pd.DataFrame,
        y: np.ndarray,
        X_val: pd.DataFrame | None,
        y_val: np.ndarray | None,
        callbacks: Sequence[Callable] | None,
        feval: Callable | None = None,
        num_boost_round: int | None = None,
        init_score: float | None = None,
    ) -> lgb.Booster:
        start = None if init_score is None else np.full(len(y), init_score)
        train_set = lgb.Dataset(X, label=y, init_score=start, categorical_feature="auto", free_raw_data=True)
        valid_sets, all_callbacks = [], list(callbacks or [])
        if X_val is not None and num_boost_round is None:
            valid_sets = [lgb.Dataset(X_val, label=y_val, reference=train_set)]
            if self.early_stopping_rounds:
                all_callbacks.append(lgb.early_stopping(self.early_stopping_rounds, first_metric_only=True, verbose=False))
        return lgb.train(
            params,
            train_set,
            num_boost_round=num_boost_round or self.n_estimators,
            valid_sets=valid_sets,
            valid_names=["validation"] if valid_sets else None,
            feval=feval,
            callbacks=all_callbacks,
        )

    def _refit(self, params: dict[str, Any], X: pd.DataFrame, y: np.ndarray, X_val: pd.DataFrame, y_val: np.ndarray,
               init_score: float | None = None) -> lgb.Booster:
        both = pd.concat([X, X_val], ignore_index=True)
        for column, categories in self.categories_.items():
            both[column] = pd.Categorical(both[column].astype(object), categories=categories)
        rounds = max(1, int(self.best_iteration_))
        return self._train(params, both, np.concatenate([y, y_val]), None, None, None, num_boost_round=rounds,
                           init_score=init_score)

    def _monotone(self) -> list[int]:
        # LightGBM cannot constrain categorical splits; a constraint there has no meaning anyway.
        values = _monotone_list(self.monotone, self.feature_names_)
        return [0 if name in self.categories_ else v for name, v in zip(self.feature_names_, values)]

    @property
    def feature_importances_(self) -> pd.Series:
        """Total gain per feature of the fitted booster."""
        _check_fitted(self)
        return pd.Series(self.booster_.feature_importance("gain"), index=self.feature_names_, name="gain")


class ChurnModel(_LightGBMBase):
    """Calibrated LightGBM churn classifier with monotone constraints.

    Parameters
    ----------
    monotone : dict or list or None
        Monotone constraint per feature: +1 (higher value never lowers churn risk), -1, or 0. A dict
        maps feature names (missing = 0); a list follows the column order of ``X``.
    n_estimators : int
        Maximum number of boosting rounds (early stopping on validation picks fewer).
    learning_rate, num_leaves, min_child_samples, subsample, colsample_bytree, reg_alpha, reg_lambda
        LightGBM hyperparameters (``subsample`` = bagging fraction, ``colsample_bytree`` = feature
        fraction).
    max_depth : int
        Deepest a tree may grow (-1: no limit; 4 allows 16 leaves). Every scored customer's
        reasons come from ``pred_contrib``, whose cost grows with the trees' size and depth.
        Unlimited, leaf-wise growth made the 1 M scoring benchmark's tuned 52-leaf trees 14
        levels deep on average (21 at most): ``pred_contrib`` 150 s of a 178 s run, test AUC
        0.809. Depth 8: 122 s of 154 s, AUC 0.811; 6: 96 s of 128 s, AUC 0.813; 5: 73 s of
        105 s, AUC 0.809 (``benchmarks/bench_score.py --customers 1000000``). With the features
        of the next landing, tuning picked 400 trees of 10 leaves: depth 5 94 s of 127 s, AUC
        0.829; depth 4 74 s of 105 s, AUC 0.829.
    early_stopping_rounds : int or None
        Stop when validation AUC has not improved for this many rounds. (Log loss was tried: on
        the 1 M benchmark tuning then chose 92 trees x 52 leaves instead of 63 x 52, test AUC
        0.805 instead of 0.809, and ``pred_contrib`` took 221 s instead of 150 s; the
        calibrator, not more trees, is what turns the ranking into probabilities.)
    calibration : {"auto", "isotonic", "platt", "none"}
        "auto" picks isotonic or Platt scaling by 5-fold cross-validated log loss on the validation
        data, then fits the winner on all of it. Isotonic is increasing, so the calibrated
        probability keeps the booster's order and its monotone constraints. Isotonic is kept only
        when it gives the validation customers at least :data:`MIN_ISOTONIC_LEVELS` distinct
        probabilities; a coarser step function ties too many customers to rank them, so Platt
        scaling is used instead (:attr:`calibration_note_` says so, :attr:`isotonic_levels_`
        holds the count). "isotonic" asked for by name is kept whatever its steps (the note says
        when they are few). ``churnml train`` reads it from ``[training] calibration``.
    refit_on_validation : bool
        Retrain the booster on train + validation after early stopping (see module docs).
    random_state : int
    n_jobs : int
        LightGBM threads; fixed so results are reproducible.

    Example
    -------
    >>> model = ChurnModel(monotone={"days_since_last_purchase": 1})  # doctest: +SKIP
    >>> model.fit(X_train, y_train, X_val, y_val).predict_proba(X_test)  # doctest: +SKIP
    """

    def __init__(
        self,
        monotone: Mapping[str, int] | Sequence[int] | None = None,
        n_estimators: int = 500,
        learning_rate: float = 0.05,
        num_leaves: int = 31,
        min_child_samples: int = 20,
        subsample: float = 0.8,
        colsample_bytree: float = 0.8,
        reg_alpha: float = 0.0,
        reg_lambda: float = 0.0,
        max_depth: int = 4,
        early_stopping_rounds: int | None = 50,
        calibration: str = "auto",
        refit_on_validation: bool = False,
        random_state: int = 42,
        n_jobs: int = 2,
    ) -> None:
        self.monotone = monotone
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.num_leaves = num_leaves
        self.min_child_samples = min_child_samples
        self.subsample = subsample
        self.colsample_bytree = colsample_bytree
        self.reg_alpha = reg_alpha
        self.reg_lambda = reg_lambda
        self.max_depth = max_depth
        self.early_stopping_rounds = early_stopping_rounds
        self.calibration = calibration
        self.refit_on_validation = refit_on_validation
        self.random_state = random_state
        self.n_jobs = n_jobs

    def fit(
        self,
        X: pd.DataFrame,
        y: np.ndarray | pd.Series,
        X_val: pd.DataFrame,
        y_val: np.ndarray | pd.Series,
        callbacks: Sequence[Callable] | None = None,
    ) -> "ChurnModel":
        """Fit the booster on ``X`` (early stopping on validation) and the calibrator on validation.

        Parameters
        ----------
        X, y : training features and churn labels (0/1)
        X_val, y_val : out-of-time validation features and labels
        callbacks : list of LightGBM callbacks, e.g. an Optuna pruning callback

        Returns
        -------
        ChurnModel
            ``self``.
        """
        if self.calibration not in CALIBRATIONS:
            raise ValueError(f"calibration={self.calibration!r}; allowed: {', '.join(CALIBRATIONS)}.")
        y = np.asarray(y, dtype=int)
        y_val = np.asarray(y_val, dtype=int)
        self.feature_names_ = list(X.columns)
        self.categories_ = self._categories([X, X_val])
        X, X_val = self._prepare(X), self._prepare(X_val)
        params = self._lgb_params("binary", self._monotone())
        params["metric"] = "auc"
        params["max_depth"] = self.max_depth
        self.booster_ = self._train(params, X, y, X_val, y_val, callbacks)
        self.best_iteration_ = self.booster_.best_iteration or self.booster_.current_iteration()
        validation_score = self.booster_.predict(X_val, raw_score=True, num_iteration=self.best_iteration_)
        self.validation_auc_ = float(self.booster_.best_score.get("validation", {}).get("auc", np.nan))
        self.isotonic_levels_: int | None = None  # distinct isotonic probabilities on validation, when isotonic was fitted
        self.calibration_note_ = ""  # why the log loss's choice was overruled, or that an isotonic asked for is coarse
        self.calibration_, self.calibrator_, self.calibration_log_loss_ = self._fit_calibrator(validation_score, y_val)
        self.level_shift_ = 0.0  # see recalibrate
        self.init_score_ = 0.0  # the refit's start, below; none for a booster boosted from the average
        if self.refit_on_validation:
            # The calibrator reads raw scores on the first booster's scale, which starts from the
            # log-odds of the train rows' churn rate; LightGBM would start the refit from train +
            # validation's. Started there instead, the refit keeps that scale. On a 200-member gym
            # (8.8 % churn in train, 11 % with validation) tuning stopped after 2 trees, Platt's
            # slope was 32, and the refit's 0.26 higher start sent the test probabilities to a mean
            # of 0.99 against a churn rate of 0.22 (Brier 0.765; 0.039 started as the first).
            self.init_score_ = float(_logit(np.array([y.mean()]))[0])
            self.booster_ = self._refit(params, X, y, X_val, y_val, init_score=self.init_score_)
            self.best_iteration_ = self.booster_.current_iteration()
        return self

    def _fit_calibrator(self, score: np.ndarray, y: np.ndarray) -> tuple[str, Any, dict[str, float]]:
        candidates = ["isotonic", "platt"] if self.calibration == "auto" else [self.calibration]
        if self.calibration == "none":
            return "none", None, {}
        losses: dict[str, float] = {}
        if len(candidates) > 1:
            folds = StratifiedKFold(n_splits=5, shuffle=True, random_state=self.random_state)
            for method in candidates:
                out_of_fold = np.empty(len(y))
                for fit_idx, held_idx in folds.split(score.reshape(-1, 1), y):
                    calibrator = _make_calibrator(method).fit(score[fit_idx].reshape(-1, 1) if method == "platt" else score[fit_idx], y[fit_idx])
                    out_of_fold[held_idx] = _apply_calibrator(method, calibrator, score[held_idx])
                losses[method] = float(log_loss(y, np.clip(out_of_fold, _EPS, 1 - _EPS), labels=[0, 1]))
            chosen = min(candidates, key=lambda m: (losses[m], m))
        else:
            chosen = candidates[0]
        calibrator = _make_calibrator(chosen).fit(score.reshape(-1, 1) if chosen == "platt" else score, y)
        if chosen == "isotonic":  # won auto's log loss, or asked for by name: how many steps it has
            self.isotonic_levels_ = distinct_levels(np.clip(calibrator.predict(score), _EPS, 1 - _EPS))
            if self.isotonic_levels_ < MIN_ISOTONIC_LEVELS and self.calibration == "auto":
                self.calibration_note_ = (
                    f"Platt scaling, not isotonic: isotonic calibration gave the {len(y):,} validation customers only "
                    f"{self.isotonic_levels_} distinct churn probabilities (fewer than {MIN_ISOTONIC_LEVELS}), too "
                    f"coarse to rank them, though its cross-validated log loss was lower ({losses['isotonic']:.4f} "
                    f"against {losses['platt']:.4f})")
                chosen, calibrator = "platt", _make_calibrator("platt").fit(score.reshape(-1, 1), y)
            elif self.isotonic_levels_ < MIN_ISOTONIC_LEVELS:  # asked for by name: kept, and said
                self.calibration_note_ = (
                    f"isotonic, as set (calibration = \"isotonic\"), though it gave the {len(y):,} validation customers "
                    f"only {self.isotonic_levels_} distinct churn probabilities (fewer than {MIN_ISOTONIC_LEVELS}): "
                    f"many customers tie in the risk tiers and the retention list; \"auto\" would use Platt scaling")
        return chosen, calibrator, losses

    def recalibrate(self, X: pd.DataFrame, y: np.ndarray | pd.Series) -> "ChurnModel":
        """Shift the probabilities' level to the churn rate of later labelled data (training does
        this on the test cutoff once the model is graded).

        The calibrator is fitted on the validation cutoff, a horizon older: where the churn rate
        moved since (the demo's rose from 6.8 % to 7.6 %), the probabilities ran 14 % low. One
        shift in log-odds (:attr:`level_shift_`) makes their mean on ``X`` equal to the churn rate
        of ``y``. It is strictly increasing, so every ranking (ROC AUC, lift, the retention list)
        stays as graded; refitting the whole calibrator on the test labels would have fitted its
        steps to them, and the gate would then compare an AUC measured on its own training data.

        Returns
        -------
        ChurnModel
            ``self``.
        """
        _check_fitted(self)
        from scipy.optimize import brentq

        y = np.asarray(y, dtype=float)
        self.level_shift_ = 0.0
        rate = float(y.mean()) if len(y) else float("nan")
        if not 0 < rate < 1:
            return self
        log_odds = _logit(self.predict_proba(X))

        def gap(shift: float) -> float:
            return float(np.mean(_expit(log_odds + shift))) - rate

        self.level_shift_ = float(brentq(gap, -20.0, 20.0, xtol=1e-10))
        return self

    def raw_score(self, X: pd.DataFrame) -> np.ndarray:
        """Uncalibrated LightGBM log-odds, shape (n,)."""
        _check_fitted(self)
        # A refitted booster was trained from a given start (see fit), which its predictions leave out.
        return self.booster_.predict(self._prepare(X), raw_score=True) + getattr(self, "init_score_", 0.0)

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        """Calibrated churn probability, shape (n,).

        Note: 1-D (the churn class only), unlike scikit-learn's two-column ``predict_proba``.
        """
        score = self.raw_score(X)
        if self.calibrator_ is None:
            probability = _expit(score)
        else:
            probability = np.clip(_apply_calibrator(self.calibration_, self.calibrator_, score), _EPS, 1 - _EPS)
        # Isotonic interpolation gives one step's customers values a unit in the last place apart;
        # rounded, they tie, so a ranking never depends on float noise (and the level shift,
        # which would merge some of them, leaves every ranking exactly as graded).
        probability = np.round(probability, 10)
        shift = getattr(self, "level_shift_", 0.0)  # 0 for models pickled before it existed
        if shift:
            probability = np.round(np.clip(_expit(_logit(probability) + shift), _EPS, 1 - _EPS), 13)
        return probability

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        """Calibrated churn probability (same as :meth:`predict_proba`; the pyfunc entry point)."""
        return self.predict_proba(X)

    def contributions(self, X: pd.DataFrame) -> pd.DataFrame:
        """Per-feature contributions to the raw score (LightGBM ``pred_contrib``), bias dropped.

        Returns
        -------
        pandas.DataFrame
            Same index as ``X``, one column per feature; rows sum to ``raw_score`` minus the bias
            (and minus ``init_score_``, the refit's start, which the booster's bias leaves out).
        """
        _check_fitted(self)
        values = self.booster_.predict(self._prepare(X), pred_contrib=True)
        return pd.DataFrame(values[:, :-1], index=X.index, columns=self.feature_names_)


class SmoothedIsotonic:
    """Isotonic calibration whose steps are shrunk towards the base rate by ``prior`` pseudo-rows.

    Plain isotonic regression turns a top step of 3 churners out of 3 validation customers into a
    probability of 1: on one company's data seven customers got 0.999999 where about half
    churned. Each step's rate becomes ``(churners + prior * base_rate) / (rows + prior)``, and a
    second isotonic fit (weighted by rows) pools any steps the shrinking put out of order. Large
    steps barely move; a step of three moves most of the way to its neighbour.
    """

    def __init__(self, prior: float = 2.0) -> None:
        self.prior = prior

    def fit(self, score: np.ndarray, y: np.ndarray) -> "SmoothedIsotonic":
        score, y = np.asarray(score, dtype=float), np.asarray(y, dtype=float)
        steps = IsotonicRegression(increasing=True, out_of_bounds="clip").fit(score, y).predict(score)
        _, step, rows = np.unique(steps, return_inverse=True, return_counts=True)
        churners = np.bincount(step, weights=y)
        shrunk = (churners + self.prior * y.mean()) / (rows + self.prior)
        self.isotonic_ = IsotonicRegression(increasing=True, out_of_bounds="clip", y_min=0.0, y_max=1.0).fit(score, shrunk[step])
        return self

    def predict(self, score: np.ndarray) -> np.ndarray:
        return self.isotonic_.predict(np.asarray(score, dtype=float))


def distinct_levels(probability: np.ndarray) -> int:
    """Distinct values of ``probability`` as :meth:`ChurnModel.predict_proba` rounds them."""
    return int(len(np.unique(np.round(np.asarray(probability, dtype=float), 10))))


def _expit(log_odds: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-log_odds))


def _logit(probability: np.ndarray) -> np.ndarray:
    clipped = np.clip(probability, _EPS, 1 - _EPS)
    return np.log(clipped / (1.0 - clipped))


def _make_calibrator(method: str) -> Any:
    if method == "isotonic":
        return SmoothedIsotonic()
    return LogisticRegression(C=1e6)


def _apply_calibrator(method: str, calibrator: Any, score: np.ndarray) -> np.ndarray:
    if method == "isotonic":
        return calibrator.predict(score)
    return calibrator.predict_proba(score.reshape(-1, 1))[:, 1]


class ValueModel(_LightGBMBase):
    """Value over the horizon if the customer is retained: LightGBM on retained rows.

    Targets are clipped at 0 (net refunds are not a value to predict). The default Tweedie objective
    suits the many small amounts and the heavy tail; ``objective="regression"`` gives least squares.

    Parameters
    ----------
    objective : {"tweedie", "regression"}
    tweedie_variance_power : float
        Between 1 (Poisson-like) and 2 (Gamma-like).
    n_estimators, learning_rate, num_leaves, min_child_samples, subsample, colsample_bytree,
    reg_alpha, reg_lambda, early_stopping_rounds, refit_on_validation, random_state, n_jobs
        As in :class:`ChurnModel`. Early stopping monitors the objective's own validation loss
        (Tweedie deviance, or squared error). Normalized Gini, which it used to monitor, only
        ranks: on subscription data the first tree already ranks by fee, training stopped at one
        tree, and every prediction stayed near the mean (Gini 0.50 against the spend-rate
        baseline's 0.80). The validation Gini at the stopping round is kept
        (``validation_gini_``) and is what tuning maximises.
    monotone : dict or list or None
        Optional monotone constraints for value (none by default: churn directions do not carry over).

    Example
    -------
    >>> ValueModel().fit(X, value, retained).predict(X_new)  # doctest: +SKIP
    """

    def __init__(
        self,
        objective: str = "tweedie",
        tweedie_variance_power: float = 1.5,
        n_estimators: int = 500,
        learning_rate: float = 0.05,
        num_leaves: int = 31,
        min_child_samples: int = 20,
        subsample: float = 0.8,
        colsample_bytree: float = 0.8,
        reg_alpha: float = 0.0,
        reg_lambda: float = 0.0,
        early_stopping_rounds: int | None = 50,
        refit_on_validation: bool = False,
        monotone: Mapping[str, int] | Sequence[int] | None = None,
        random_state: int = 42,
        n_jobs: int = 2,
    ) -> None:
        self.objective = objective
        self.tweedie_variance_power = tweedie_variance_power
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.num_leaves = num_leaves
        self.min_child_samples = min_child_samples
        self.subsample = subsample
        self.colsample_bytree = colsample_bytree
        self.reg_alpha = reg_alpha
        self.reg_lambda = reg_lambda
        self.early_stopping_rounds = early_stopping_rounds
        self.refit_on_validation = refit_on_validation
        self.monotone = monotone
        self.random_state = random_state
        self.n_jobs = n_jobs

    def fit(
        self,
        X: pd.DataFrame,
        value: np.ndarray | pd.Series,
        retained: np.ndarray | pd.Series,
        X_val: pd.DataFrame | None = None,
        value_val: np.ndarray | pd.Series | None = None,
        retained_val: np.ndarray | pd.Series | None = None,
        callbacks: Sequence[Callable] | None = None,
    ) -> "ValueModel":
        """Fit on the retained rows of ``X``; validation (retained rows) drives early stopping.

        Parameters
        ----------
        X : features of all rows
        value : value over the horizon per row
        retained : bool / 0-1 per row, True where the customer did not churn
        X_val, value_val, retained_val : optional out-of-time validation data
        callbacks : list of LightGBM callbacks

        Returns
        -------
        ValueModel
            ``self``.
        """
        if self.objective not in ("tweedie", "regression"):
            raise ValueError(f"objective={self.objective!r}; allowed: tweedie, regression.")
        keep = np.asarray(retained).astype(bool)
        X_fit = X.loc[keep] if isinstance(X, pd.DataFrame) else X
        target = np.clip(np.asarray(value, dtype=float)[keep], 0.0, None)
        self.feature_names_ = list(X.columns)
        frames = [X_fit]
        if X_val is not None:
            keep_val = np.asarray(retained_val).astype(bool)
            X_val_fit = X_val.loc[keep_val]
            target_val = np.clip(np.asarray(value_val, dtype=float)[keep_val], 0.0, None)
            frames.append(X_val_fit)
        self.categories_ = self._categories(frames)
        X_fit = self._prepare(X_fit)
        params = self._lgb_params(self.objective, self._monotone())
        if self.objective == "tweedie":
            params["tweedie_variance_power"] = self.tweedie_variance_power
        params["metric"] = "tweedie" if self.objective == "tweedie" else "l2"  # decides early stopping; Gini is reported
        if X_val is None:
            self.booster_ = self._train(params, X_fit, target, None, None, callbacks)
            self.best_iteration_ = self.booster_.current_iteration()
            return self
        X_val_fit = self._prepare(X_val_fit)
        self.booster_ = self._train(params, X_fit, target, X_val_fit, target_val, callbacks, feval=_gini_eval)
        self.best_iteration_ = self.booster_.best_iteration or self.booster_.current_iteration()
        self.validation_gini_ = float(self.booster_.best_score.get("validation", {}).get("normalized_gini", np.nan))
        if self.refit_on_validation:
            self.booster_ = self._refit(params, X_fit, target, X_val_fit, target_val)
            self.best_iteration_ = self.booster_.current_iteration()
        return self

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        """Expected value over the horizon if the customer is retained, shape (n,), never negative
        (times :attr:`level_factor_` once :meth:`rescale` has run)."""
        _check_fitted(self)
        num_iteration = None if self.refit_on_validation else self.best_iteration_
        raw = np.clip(self.booster_.predict(self._prepare(X), num_iteration=num_iteration), 0.0, None)
        return raw * getattr(self, "level_factor_", 1.0)  # models saved before rescale existed: 1

    def rescale(self, X: pd.DataFrame, value: np.ndarray | pd.Series, retained: np.ndarray | pd.Series) -> "ValueModel":
        """Scale the predictions' level to the value of labelled data (training does this once the
        model is graded, as :meth:`ChurnModel.recalibrate` does for the churn rate, on the cutoff a
        year before its as-of date: the season of the horizon the scores predict; see
        :func:`churnml.labels.same_season_cutoff`).

        The booster learns the level of the train and validation cutoffs; where spending moved
        since, every value ran off it (on the demo, the retained customers' value at the test
        cutoff was 16 % above the sum of the predictions), and value at risk and each contact's
        expected benefit with it. One factor (:attr:`level_factor_`) makes the predictions' sum
        over the retained rows of ``X`` equal their value (clipped at 0, as in training). It is
        positive, so every ranking (Gini, tiers' order, the list's order) stays as graded.

        Returns
        -------
        ValueModel
            ``self``.
        """
        _check_fitted(self)
        self.level_factor_ = 1.0
        keep = np.asarray(retained).astype(bool)
        predicted = float(self.predict(X.loc[keep] if isinstance(X, pd.DataFrame) else X).sum()) if keep.any() else 0.0
        actual = float(np.clip(np.asarray(value, dtype=float)[keep], 0.0, None).sum())
        if predicted > 0 and actual > 0 and np.isfinite(actual / predicted):
            self.level_factor_ = actual / predicted
        return self

    def contributions(self, X: pd.DataFrame) -> pd.DataFrame:
        """Per-feature contributions to the raw (log-scale for Tweedie) prediction, bias dropped."""
        _check_fitted(self)
        values = self.booster_.predict(self._prepare(X), pred_contrib=True)
        return pd.DataFrame(values[:, :-1], index=X.index, columns=self.feature_names_)


def _gini_eval(predictions: np.ndarray, data: lgb.Dataset) -> tuple[str, float, bool]:
    """LightGBM eval: normalized Gini of the validation target ordered by prediction."""
    from churnml.metrics import normalized_gini  # metrics is a leaf; local import keeps models light

    return "normalized_gini", normalized_gini(data.get_label(), predictions), True
