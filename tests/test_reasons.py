"""Reason sentences from hand-made contributions and feature rows."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from churnml.features import NEVER_DAYS, FeatureSpec
from churnml.reasons import explain, reason_text, template_fields, top_drivers


def spec(name: str, reason: str | None, monotone: int = 1) -> FeatureSpec:
    return FeatureSpec(name, name, "transactions", None, "numeric", monotone, reason)


SPECS = [
    spec("days_since_last_purchase", "no purchase for {days_since_last_purchase:.0f} days"),
    spec("recency_vs_usual_gap",
         "no purchase for {days_since_last_purchase:.0f} days (usually every {mean_gap_days:.0f})"),
    spec("mean_gap_days", None, 0),
    spec("unresolved_complaints", "{unresolved_complaints:.0f} unresolved complaints"),
    spec("spend_trend_pct", "spend {spend_trend_pct:+.0f}% on the previous quarter", -1),
    spec("tenure_days", "customer for only {tenure_days:.0f} days", 0),
]
NAMES = [s.name for s in SPECS]


def frames(contributions: list[list[float]], features: list[dict]) -> tuple[pd.DataFrame, pd.DataFrame]:
    return pd.DataFrame(contributions, columns=NAMES), pd.DataFrame(features)


def row(**values: float) -> dict:
    base = {"days_since_last_purchase": 10.0, "recency_vs_usual_gap": 0.5, "mean_gap_days": 20.0,
            "unresolved_complaints": 0.0, "spend_trend_pct": 0.0, "tenure_days": 900.0}
    return base | values


def test_template_fields() -> None:
    assert template_fields("{a:.0f} and {b} and {a}") == ["a", "b"]
    assert template_fields("no fields") == []


def test_top_drivers_keeps_positive_eligible_in_order() -> None:
    matrix = np.array([
        [0.1, 0.9, 5.0, 0.3, -2.0, 0.0],
        [-1.0, -1.0, -1.0, -1.0, -1.0, -1.0],
        [0.2, 0.2, 0.0, 0.0, 0.0, 0.1],
    ])
    eligible = [s.reason is not None for s in SPECS]
    columns, values = top_drivers(matrix, eligible, k=3)
    assert columns.tolist() == [[1, 3, 0], [-1, -1, -1], [0, 1, 5]]  # column 2 is not eligible; ties by index
    np.testing.assert_allclose(values, [[0.9, 0.3, 0.1], [0, 0, 0], [0.2, 0.2, 0.1]])


def test_top_drivers_with_fewer_columns_than_k() -> None:
    columns, values = top_drivers(np.array([[1.0, 2.0]]), [True, True], k=3)
    assert columns.tolist() == [[1, 0, -1]]
    assert values.tolist() == [[2.0, 1.0, 0.0]]


def test_explain_renders_actual_values() -> None:
    contributions, features = frames(
        [[0.0, 0.0, 0.0, 1.2, 0.4, 0.0],
         [0.0, 0.0, 0.0, 0.0, 0.7, 0.1]],
        [row(unresolved_complaints=2.0, spend_trend_pct=-60.0), row(spend_trend_pct=-35.4, tenure_days=40.0)],
    )
    assert explain(contributions, features, SPECS) == [
        ["2 unresolved complaints", "spend -60% on the previous quarter"],
        ["spend -35% on the previous quarter", "customer for only 40 days"],
    ]


def test_only_risk_raising_drivers_are_reasons() -> None:
    contributions, features = frames([[-0.5, -0.1, 0.0, -3.0, -0.2, -0.1]], [row(unresolved_complaints=4.0)])
    assert explain(contributions, features, SPECS) == [[]]


def test_at_most_three_reasons_strongest_first() -> None:
    contributions, features = frames([[0.1, 0.0, 0.0, 0.4, 0.3, 0.2]], [row(unresolved_complaints=1.0)])
    reasons = explain(contributions, features, SPECS)[0]
    assert reasons == ["1 unresolved complaint", "spend +0% on the previous quarter", "customer for only 900 days"]


def test_overlapping_sentences_keep_the_informative_one_and_refill() -> None:
    contributions, features = frames(
        [[0.9, 0.8, 0.0, 0.3, 0.2, 0.1]],
        [row(days_since_last_purchase=74.2, mean_gap_days=20.0, unresolved_complaints=2.0)],
    )
    assert explain(contributions, features, SPECS) == [[
        "no purchase for 74 days (usually every 20)",
        "2 unresolved complaints",
        "spend +0% on the previous quarter",
    ]]


def test_missing_and_sentinel_values_are_not_shown() -> None:
    contributions, features = frames(
        [[0.9, 0.8, 0.0, 0.0, 0.0, 0.5]],
        [row(days_since_last_purchase=NEVER_DAYS, tenure_days=np.nan)],
    )
    assert explain(contributions, features, SPECS) == [[]]


def test_reason_text_and_shape_checks() -> None:
    assert reason_text([["a", "b"], []]).tolist() == ["a; b", ""]
    contributions, features = frames([[0.0] * 6], [row(), row()])
    with pytest.raises(ValueError):
        explain(contributions, features, SPECS)


def test_explain_is_vectorised_enough() -> None:
    # 200k customers with three reasons each: well under a few seconds on one core.
    import time

    rng = np.random.default_rng(0)
    n = 200_000
    contributions = pd.DataFrame(rng.normal(size=(n, len(NAMES))), columns=NAMES)
    features = pd.DataFrame({name: rng.uniform(1, 100, n) for name in NAMES})
    started = time.perf_counter()
    reasons = explain(contributions, features, SPECS)
    elapsed = time.perf_counter() - started
    assert len(reasons) == n
    assert max(len(r) for r in reasons) == 3
    assert elapsed < 20


def test_identifier_like_attributes_are_never_reasons() -> None:
    from churnml.features import FeatureSpec
    from churnml.reasons import MAX_REASON_LEVELS, explainable_specs

    manager = FeatureSpec("account_manager", "", "customers", None, "categorical", 0, "account_manager: {account_manager}")
    tier = FeatureSpec("product_tier", "", "customers", None, "categorical", 0, "product_tier: {product_tier}")
    categories = {"account_manager": [f"AM{i}" for i in range(MAX_REASON_LEVELS + 1)], "product_tier": ["basic", "plus"]}
    kept = explainable_specs([manager, tier], categories)
    assert [s.reason for s in kept] == [None, "product_tier: {product_tier}"]
