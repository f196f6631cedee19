"""Evaluation plots. Each function takes an optional matplotlib ``ax``, draws on it and returns it.

Without ``ax`` a new :class:`matplotlib.figure.Figure` with an Agg canvas is made — no pyplot, no
global backend switch, nothing shown — so plotting works on servers and in threads.
"""

from __future__ import annotations

from typing import Mapping

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from sklearn import metrics as skm


def new_axes(width: float = 6.0, height: float = 4.5) -> Axes:
    """A fresh axes on its own Agg-backed figure."""
    figure = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(figure)
    return figure.add_subplot()


def _cumulative_share(y_true: np.ndarray, score: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    order = np.argsort(-np.asarray(score, dtype=float), kind="mergesort")
    hits = np.cumsum(np.asarray(y_true, dtype=float)[order])
    contacted = np.arange(1, len(order) + 1) / len(order)
    return np.concatenate([[0.0], contacted]), np.concatenate([[0.0], hits / max(hits[-1], 1e-12)])


def plot_roc(y_true: np.ndarray, scores: Mapping[str, np.ndarray], ax: Axes | None = None) -> Axes:
    """ROC curves of several scorers (``{"model": p, "rfm_logistic": q}``)."""
    ax = ax or new_axes()
    for name, score in scores.items():
        fpr, tpr, _ = skm.roc_curve(y_true, score)
        ax.plot(fpr, tpr, label=f"{name} (AUC {skm.roc_auc_score(y_true, score):.3f})")
    ax.plot([0, 1], [0, 1], color="grey", linestyle=":", linewidth=1)
    ax.set(xlabel="false positive rate", ylabel="true positive rate (churners found)", title="ROC")
    ax.legend(loc="lower right", fontsize="small")
    return ax


def plot_pr(y_true: np.ndarray, scores: Mapping[str, np.ndarray], ax: Axes | None = None) -> Axes:
    """Precision-recall curves of several scorers."""
    ax = ax or new_axes()
    for name, score in scores.items():
        precision, recall, _ = skm.precision_recall_curve(y_true, score)
        ax.plot(recall, precision, label=f"{name} (AP {skm.average_precision_score(y_true, score):.3f})")
    ax.axhline(np.mean(y_true), color="grey", linestyle=":", linewidth=1)
    ax.set(xlabel="recall", ylabel="precision", title="Precision-recall")
    ax.legend(loc="upper right", fontsize="small")
    return ax


def plot_calibration(y_true: np.ndarray, probability: np.ndarray, n_bins: int = 10, ax: Axes | None = None) -> Axes:
    """Observed churn rate against mean predicted probability in equal-mass bins."""
    ax = ax or new_axes()
    order = np.argsort(probability, kind="mergesort")
    bins = [idx for idx in np.array_split(order, n_bins) if len(idx)]
    predicted = [np.mean(np.asarray(probability)[idx]) for idx in bins]
    observed = [np.mean(np.asarray(y_true)[idx]) for idx in bins]
    ax.plot([0, 1], [0, 1], color="grey", linestyle=":", linewidth=1)
    ax.plot(predicted, observed, marker="o")
    top = max(max(predicted), max(observed)) * 1.05
    ax.set(xlim=(0, top), ylim=(0, top), xlabel="mean predicted churn probability", ylabel="observed churn rate", title="Calibration (equal-mass bins)")
    return ax


def plot_gains(y_true: np.ndarray, scores: Mapping[str, np.ndarray], ax: Axes | None = None) -> Axes:
    """Cumulative gains: share of churners found against share of customers contacted."""
    ax = ax or new_axes()
    for name, score in scores.items():
        contacted, found = _cumulative_share(y_true, score)
        ax.plot(contacted, found, label=name)
    ax.plot([0, 1], [0, 1], color="grey", linestyle=":", linewidth=1, label="random")
    ax.set(xlabel="share of customers contacted", ylabel="share of churners found", title="Cumulative gains")
    ax.legend(loc="lower right", fontsize="small")
    return ax


def plot_lift(y_true: np.ndarray, scores: Mapping[str, np.ndarray], ax: Axes | None = None) -> Axes:
    """Cumulative lift: churn rate in the top share ÷ overall churn rate."""
    ax = ax or new_axes()
    for name, score in scores.items():
        contacted, found = _cumulative_share(y_true, score)
        ax.plot(contacted[1:], found[1:] / contacted[1:], label=name)
    ax.axhline(1.0, color="grey", linestyle=":", linewidth=1)
    ax.set(xlabel="share of customers contacted", ylabel="lift", title="Cumulative lift")
    ax.legend(loc="upper right", fontsize="small")
    return ax


def plot_value_deciles(actual: np.ndarray, predicted: np.ndarray, ax: Axes | None = None) -> Axes:
    """Mean predicted and actual value per decile of the prediction."""
    ax = ax or new_axes()
    order = np.argsort(np.asarray(predicted, dtype=float), kind="mergesort")
    groups = np.array_split(order, 10)
    mean_predicted = [np.mean(np.asarray(predicted)[g]) if len(g) else np.nan for g in groups]
    mean_actual = [np.mean(np.asarray(actual)[g]) if len(g) else np.nan for g in groups]
    x = np.arange(1, 11)
    ax.bar(x - 0.2, mean_predicted, width=0.4, label="predicted")
    ax.bar(x + 0.2, mean_actual, width=0.4, label="actual")
    ax.set(xticks=x, xlabel="decile of predicted value (10 = highest)", ylabel="mean value over the horizon", title="Value by decile")
    ax.legend(loc="upper left", fontsize="small")
    return ax


def plot_feature_importance(importance: pd.Series, top: int = 20, ax: Axes | None = None) -> Axes:
    """Horizontal bars of the ``top`` most important features (e.g. LightGBM total gain)."""
    ax = ax or new_axes(6.0, max(3.0, 0.3 * min(top, len(importance)) + 1))
    shown = importance.sort_values(ascending=True).tail(top)
    ax.barh(shown.index.astype(str), shown.to_numpy())
    ax.set(xlabel=importance.name or "importance", title="Feature importance")
    return ax
