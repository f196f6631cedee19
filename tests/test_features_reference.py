"""Transaction features against a plain pandas reference, on random histories.

The feature SQL gets the mean purchase gap without ordering the transactions (the gaps
telescope: their sum is last - first), orders only the purchases for the gap spread, and counts
distinct categories/channels with a bitmask when the columns' values are known. These tests pin
those shortcuts to the obvious definitions, on both SQL paths: the bitmask one that
``build_features`` (and Spark) runs and the separate first-use GROUP BY that runs without the
values (a column with more than ``MAX_BITMASK_VALUES`` values, or a caller passing none).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from churnml.config import Config
from churnml.dataset import Dataset
from churnml.features import (
    MAX_BITMASK_VALUES,
    build_features,
    feature_query,
    table_columns,
    transaction_values,
)

CUTOFFS = [pd.Timestamp("2024-01-01"), pd.Timestamp("2024-06-15 12:00")]
START = pd.Timestamp("2022-06-01")
SPAN_DAYS = 800                          # to 2024-08: some events after each cutoff
RTOL = 1e-9


def random_dataset(seed: int, categories: list[str], customers: int = 80) -> Dataset:
    """Random histories: refunds between purchases, ties, zero amounts, missing values."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(customers):
        n = int(rng.integers(0, 16))
        stamps = START + pd.to_timedelta(rng.integers(0, SPAN_DAYS * 86400, n), unit="s")
        for j, stamp in enumerate(stamps):
            if j and rng.random() < 0.1:
                stamp = stamps[j - 1]    # two transactions at the same instant: a zero gap
            rows.append((
                f"c{i:03d}", stamp,
                float(rng.choice([-12.5, 0.0, 3.25, 40.0, 99.99])),
                None if rng.random() < 0.15 else str(rng.choice(categories)),
                None if rng.random() < 0.1 else str(rng.choice(["web", "app", "shop"])),
            ))
    transactions = pd.DataFrame(rows, columns=["customer_id", "timestamp", "amount", "category", "channel"])
    ids = [f"c{i:03d}" for i in range(customers)]
    return Dataset.from_frames({
        "customers": pd.DataFrame({"customer_id": ids, "signup_date": [pd.Timestamp("2022-01-01")] * customers}),
        "transactions": transactions,
    })


def reference(dataset: Dataset, keys: pd.DataFrame) -> pd.DataFrame:
    """Gap statistics and distinct counts per (customer, cutoff), computed the plain way."""
    tx = dataset.con.execute("SELECT * FROM transactions").df()
    out = []
    for customer, cutoff in keys[["customer_id", "cutoff"]].itertuples(index=False):
        seen = tx[(tx.customer_id == customer) & (tx.timestamp < cutoff)]
        buys = np.sort(seen.loc[seen.amount >= 0, "timestamp"].to_numpy("datetime64[us]"))
        gaps = np.diff(buys).astype("timedelta64[us]").astype(float) / 86400e6
        mean = gaps.mean() if len(gaps) else np.nan
        since = (np.datetime64(cutoff, "us") - buys[-1]).astype(float) / 86400e6 if len(buys) else np.nan
        out.append({
            "mean_gap_days": mean,
            "gap_std_days": gaps.std() if len(gaps) else np.nan,
            "recency_vs_usual_gap": since / max(mean, 1.0) if len(gaps) else np.nan,
            "distinct_categories": float(seen.category.dropna().nunique()),
            "distinct_channels": float(seen.channel.dropna().nunique()),
        })
    return pd.DataFrame(out)


def assert_matches(frame: pd.DataFrame, expected: pd.DataFrame) -> None:
    for column in expected.columns:
        got, want = frame[column].to_numpy(float), expected[column].to_numpy(float)
        assert (np.isnan(got) == np.isnan(want)).all(), column
        ok = np.isnan(want) | np.isclose(got, want, rtol=RTOL, atol=1e-9)
        assert ok.all(), f"{column}: {got[~ok][:5]} vs {want[~ok][:5]}"


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_gaps_and_distinct_counts_match_reference(seed: int) -> None:
    dataset = random_dataset(seed, ["a", "b", "c", "it's"])
    frame = build_features(dataset, CUTOFFS, Config())
    assert len(frame) > 40 and frame["gap_std_days"].gt(0).any() and frame["gap_std_days"].isna().any()
    assert_matches(frame, reference(dataset, frame))


def test_without_values_the_separate_group_by_gives_the_same_features() -> None:
    # feature_query without the category/channel values: the first-use GROUP BY for both columns.
    dataset = random_dataset(3, ["a", "b", "c"])
    fast = build_features(dataset, CUTOFFS, Config())
    sql = feature_query(table_columns(dataset), dataset.attributes, CUTOFFS, Config())
    assert "BIT_OR" not in sql
    plain = dataset.con.execute(sql).df()
    assert list(plain["customer_id"]) == list(fast["customer_id"])
    for column in fast.columns[2:]:
        a, b = fast[column].to_numpy(float), plain[column].to_numpy(float)
        assert np.array_equal(np.isnan(a), np.isnan(b)) and np.allclose(a[~np.isnan(a)], b[~np.isnan(b)], rtol=RTOL), column


def test_many_values_fall_back_to_group_by() -> None:
    many = [f"cat{i:02d}" for i in range(MAX_BITMASK_VALUES + 8)]
    dataset = random_dataset(4, many, customers=120)
    values = transaction_values(dataset)
    assert values["category"] is None and values["channel"] == ["app", "shop", "web"]
    frame = build_features(dataset, CUTOFFS, Config())
    assert frame["distinct_categories"].max() >= 3
    assert_matches(frame, reference(dataset, frame))


def test_transaction_values_are_sorted_and_skip_missing() -> None:
    dataset = random_dataset(5, ["b", "a"])
    assert transaction_values(dataset) == {"category": ["a", "b"], "channel": ["app", "shop", "web"]}
