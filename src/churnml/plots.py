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
    """Share of customers contacted (0, 1/n, …, 1) and the share of churners found there, best
    scores first. Customers with the same score are contacted in no particular order, so within a
    run of ties the churners found grow evenly (the expected curve), as the metrics split ties
    (:func:`churnml.metrics.lift_at`). Drawn in row order, a recency rule's two scores made its
    lift read 3.06 at 1 % and 1.43 at 10 % of the customers (the table: 1.49), over customers the
    rule cannot tell apart."""
    score = np.asarray(score, dtype=float)
    order = np.argsort(-score, kind="mergesort")
    ranked = score[order]
    hits = np.cumsum(np.asarray(y_true, dtype=float)[order])
    n = len(order)
    ends = np.append(np.flatnonzero(ranked[1:] != ranked[:-1]), n - 1)  # the last customer of each run of ties
    contacted = np.arange(1, n + 1) / n
    found = np.interp(contacted, np.concatenate([[0.0], (ends + 1) / n]), np.concatenate([[0.0], hits[ends]]))
    return np.concatenate([[0.0], contacted]), np.concatenate([[0.0], found / max(hits[-1], 1e-12)])


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


GRADED_CALIBRATION_TITLE = "Calibration as graded, before the level shift (equal-mass bins)"
"""Title of a training run's calibration figure: ``churnml train`` draws it from the test cutoff's
probabilities as graded, before the registered model's level is shifted to that cutoff's churn rate
(:meth:`churnml.models.ChurnModel.recalibrate`), so the probabilities scoring gives run higher or
lower than these. The run report says so in its note; the PNG logged to MLflow is seen alone."""


def plot_calibration(y_true: np.ndarray, probability: np.ndarray, n_bins: int = 10, ax: Axes | None = None,
                     title: str = "Calibration (equal-mass bins)") -> Axes:
    """Observed churn rate against mean predicted probability in equal-mass bins."""
    ax = ax or new_axes()
    order = np.argsort(probability, kind="mergesort")
    bins = [idx for idx in np.array_split(order, n_bins) if len(idx)]
    predicted = [np.mean(np.asarray(probability)[idx]) for idx in bins]
    observed = [np.mean(np.asarray(y_true)[idx]) for idx in bins]
    ax.plot([0, 1], [0, 1], color="grey", linestyle=":", linewidth=1)
    ax.plot(predicted, observed, marker="o")
    top = max(max(predicted), max(observed)) * 1.05
    ax.set(xlim=(0, top), ylim=(0, top), xlabel="mean predicted churn probability", ylabel="observed churn rate", title=title)
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


def plot_feature_importance(importance: pd.Series, top: int = 20, ax: Axes | None = None, title: str = "Feature importance") -> Axes:
    """Horizontal bars of the ``top`` most important features (e.g. LightGBM total gain); ``title``
    names the model (a run logs one plot per model)."""
    ax = ax or new_axes(6.0, max(3.0, 0.3 * min(top, len(importance)) + 1))
    shown = importance.sort_values(ascending=True).tail(top)
    ax.barh(shown.index.astype(str), shown.to_numpy())
    ax.set(xlabel=importance.name or "importance", title=title)
    return ax


# ---------------------------------------------------------------------------------------------
# Scores, retention lists and drift (reports)
# ---------------------------------------------------------------------------------------------


def plot_distribution(
    values: np.ndarray,
    title: str,
    xlabel: str,
    bins: int = 40,
    clip_quantile: float | None = None,
    ax: Axes | None = None,
) -> Axes:
    """Histogram of customers by one score, with its mean and median marked.

    ``clip_quantile`` (e.g. 0.99) cuts a long right tail off the x axis so the bulk stays readable;
    the title then says so.
    """
    ax = ax or new_axes()
    values = np.asarray(values, dtype=float)
    values = values[np.isfinite(values)]
    shown = values
    if clip_quantile is not None and len(values):
        top = float(np.quantile(values, clip_quantile))
        shown = values[values <= top]
        title = f"{title} (top {1 - clip_quantile:.0%} not shown)"
    ax.hist(shown, bins=bins, color="#4c72b0", edgecolor="white")
    if len(values):
        ax.axvline(float(np.mean(values)), color="#dd8452", linestyle="--", label=f"mean {np.mean(values):,.3g}")
        ax.axvline(float(np.median(values)), color="#55a868", linestyle=":", label=f"median {np.median(values):,.3g}")
        ax.legend(loc="upper right", fontsize="small")
    ax.set(xlabel=xlabel, ylabel="customers (count)", title=title)
    return ax


def plot_segment_matrix(
    counts: pd.DataFrame,
    value_at_risk: pd.DataFrame,
    labels: pd.DataFrame | None = None,
    ax: Axes | None = None,
) -> Axes:
    """Value tier × risk tier heatmap: colour = value at risk, text = segment, customers, value at risk.

    Parameters
    ----------
    counts, value_at_risk : pandas.DataFrame
        Index = value tiers (low → high), columns = risk tiers (low → high).
    labels : pandas.DataFrame, optional
        Segment name per cell, same shape; names of a cell's segments are joined by ``" / "``
        and drawn one per line.
    """
    ax = ax or new_axes(7.0, 5.0)
    rows = list(counts.index)[::-1]  # high value on top
    columns = list(counts.columns)
    risk = value_at_risk.loc[rows, columns].to_numpy(dtype=float)
    image = ax.imshow(risk, cmap="OrRd", aspect="auto")
    top = np.nanmax(risk) if risk.size and np.isfinite(risk).any() else 0.0
    for i, value_tier in enumerate(rows):
        for j, risk_tier in enumerate(columns):
            text = f"{int(counts.loc[value_tier, risk_tier]):,} customers\nVaR {risk[i, j]:,.0f}"
            if labels is not None:  # a cell of several segments ("Dormant / New customer / ...") one per line
                label = str(labels.loc[value_tier, risk_tier]).replace(" / ", " /\n")
                text = f"{label}\n{text}"
            dark = top > 0 and risk[i, j] > 0.6 * top
            ax.text(j, i, text, ha="center", va="center", fontsize="small", color="white" if dark else "black")
    ax.set_xticks(range(len(columns)), [f"{c} risk" for c in columns])
    ax.set_yticks(range(len(rows)), [f"{r} value" for r in rows])
    ax.set(xlabel="risk tier (churn probability)", ylabel="value tier (value if retained)",
           title="Value × risk segments: customers and value at risk")
    ax.figure.colorbar(image, ax=ax, label="value at risk (currency units, sum)")
    return ax


def plot_value_by_segment(totals: pd.DataFrame, horizon_days: int = 90, ax: Axes | None = None) -> Axes:
    """Grouped horizontal bars per segment over the same span: the last 365 days' value at its pace
    for ``horizon_days``, and the predicted value over the horizon (side by side, a year against 90
    days read as a 75 % collapse).

    ``totals``: index = segment display names, in the order to show them top down; columns
    ``current_value``, ``predicted_value``. The names are the bars' labels on the left, a long one
    on two lines: as x labels under upright bars, seven names ran into each other ("New customer",
    "Low-value active", and any longer ``[segments] names``).
    """
    ax = ax or new_axes(7.0, max(3.0, 0.5 * len(totals) + 1.6))
    y = np.arange(len(totals))
    ax.barh(y - 0.2, totals["current_value"].to_numpy(dtype=float) * horizon_days / 365, height=0.4,
            label=f"last 365 days' value, pro rata for {horizon_days} days")
    ax.barh(y + 0.2, totals["predicted_value"].to_numpy(dtype=float), height=0.4, label=f"predicted value, next {horizon_days} days")
    ax.set_yticks(y, [_wrap(str(n), 20) for n in totals.index])
    ax.invert_yaxis()  # the first segment (the most urgent, in reports) on top
    ax.set(xlabel="total value (currency units)", title="Current vs predicted value by segment")
    ax.xaxis.set_major_formatter(lambda v, _: f"{v:,.0f}")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.14), ncols=2, fontsize="small", frameon=False)
    return ax


def plot_top_reasons(counts: pd.Series, title: str = "Most common reasons", ax: Axes | None = None) -> Axes:
    """Horizontal bars: how many customers carry each reason (most common on top)."""
    ax = ax or new_axes(7.5, max(3.0, 0.38 * len(counts) + 1.2))
    shown = counts.sort_values(ascending=True)
    ax.barh([_wrap(str(s)) for s in shown.index], shown.to_numpy(dtype=float), color="#4c72b0")
    ax.set(xlabel="customers with this reason (count)", ylabel="reason (numbers replaced by N)", title=title)
    ax.tick_params(axis="y", labelsize="small")
    return ax


def plot_roi_curve(
    cost: np.ndarray,
    value_saved: np.ndarray,
    budget: float | None = None,
    ax: Axes | None = None,
) -> Axes:
    """Expected value saved and net benefit against the budget spent, going down a list's contacts.

    ``cost`` and ``value_saved`` are cumulative per customer, the most value saved per unit of cost
    first (:func:`churnml.reports.budget_curve`); ``budget`` marks what the list actually spends.
    """
    ax = ax or new_axes(7.0, 4.5)
    cost = np.concatenate([[0.0], np.asarray(cost, dtype=float)])
    saved = np.concatenate([[0.0], np.asarray(value_saved, dtype=float)])
    ax.plot(cost, saved, label="expected value saved")
    ax.plot(cost, saved - cost, label="expected net benefit (saved − cost)")
    ax.plot(cost, cost, color="grey", linestyle=":", linewidth=1, label="break-even (saved = cost)")
    if budget is not None:
        ax.axvline(budget, color="#c44e52", linestyle="--", linewidth=1, label=f"this list: {budget:,.0f} spent")
    ax.set(xlabel="budget spent on contacts (currency units)", ylabel="expected value (currency units)",
           title="Expected return of the retention list by budget")
    ax.xaxis.set_major_formatter(lambda v, _: f"{v:,.0f}")
    ax.yaxis.set_major_formatter(lambda v, _: f"{v:,.0f}")
    ax.legend(loc="upper left", fontsize="small")
    return ax


def plot_psi(psi: pd.Series, threshold: float, top: int = 15, ax: Axes | None = None) -> Axes:
    """Horizontal bars of the ``top`` highest PSI values, with the alert threshold."""
    shown = psi.sort_values(ascending=True).tail(top)
    ax = ax or new_axes(7.0, max(3.0, 0.32 * len(shown) + 1.2))
    colours = ["#c44e52" if v > threshold else "#4c72b0" for v in shown.to_numpy(dtype=float)]
    ax.barh(shown.index.astype(str), shown.to_numpy(dtype=float), color=colours)
    ax.axvline(threshold, color="grey", linestyle="--", linewidth=1, label=f"alert threshold {threshold:g}")
    ax.set(xlabel="PSI vs training (unitless; > 0.2 = shifted)", ylabel="feature / score",
           title="Population stability (PSI), highest first")
    ax.legend(loc="lower right", fontsize="small")
    return ax


def _wrap(text: str, width: int = 48) -> str:
    """Break a long tick label onto two lines."""
    if len(text) <= width:
        return text
    cut = text.rfind(" ", 0, width)
    cut = cut if cut > 0 else width
    return text[:cut] + "\n" + text[cut:].lstrip()
