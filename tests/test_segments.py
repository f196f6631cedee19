"""Risk and value tiers, the value × risk matrix, lifecycle stages, names and actions."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from churnml.config import Config, config_from_dict
from churnml.errors import ConfigError
from churnml.segments import (
    DEFAULT_ACTIONS,
    SEGMENT_MATRIX,
    SEGMENTS,
    ValueThresholds,
    assign_segments,
    risk_cut_points,
    lifecycle_stages,
    resolve_segment,
    resolve_segments,
    valid_segments,
    risk_tiers,
    segment_actions,
    segment_names,
    value_thresholds,
    value_tiers,
)


def test_risk_tiers_without_a_base_rate_use_fixed_half_open_thresholds() -> None:
    # models trained before the base rate was recorded
    tiers = risk_tiers([0.0, 0.1999, 0.2, 0.4999, 0.5, 1.0])
    assert list(tiers) == ["low", "low", "medium", "medium", "high", "high"]


def test_risk_tiers_are_multiples_of_the_base_rate() -> None:
    # With a 6.5 % base rate, fixed 0.2/0.5 called a customer at 2.5 times the average risk "low".
    assert risk_cut_points(base_rate=0.065) == pytest.approx((0.0975, 0.195))
    assert list(risk_tiers([0.05, 0.0975, 0.16, 0.195, 0.6], base_rate=0.065)) == ["low", "medium", "medium", "high", "high"]
    config = Config().replace(segments={"risk_multiples": (2.0, 4.0)})
    assert list(risk_tiers([0.09, 0.15, 0.2], config, base_rate=0.05)) == ["low", "medium", "high"]
    assert risk_cut_points(base_rate=0.5) == (0.75, 0.95)  # capped below 1: both tiers can hold someone
    assert risk_cut_points(base_rate=0.0) == risk_cut_points(base_rate=None) == (0.2, 0.5)


def test_fixed_risk_thresholds_in_the_config_win() -> None:
    config = Config().replace(segments={"risk_thresholds": (0.1, 0.3)})
    assert list(risk_tiers([0.05, 0.2, 0.35], config, base_rate=0.01)) == ["low", "medium", "high"]


def test_value_tiers_follow_80_20() -> None:
    # 10 customers; the top two make 80 % of the total value.
    values = np.array([500, 300, 60, 40, 30, 25, 20, 10, 10, 5], dtype=float)
    thresholds = value_thresholds(values)
    tiers = value_tiers(values, thresholds)
    assert list(tiers[:2]) == ["high", "high"]
    assert list(tiers[2:6]) == ["medium"] * 4  # they start at 80 %, 86 %, 89 % and 92 % of the total
    assert set(tiers[6:]) == {"low"}  # from 95 % on
    share_high = values[np.asarray(tiers) == "high"].sum() / values.sum()
    assert share_high >= 0.8


def test_value_tier_thresholds_apply_to_chunks_like_the_whole() -> None:
    rng = np.random.default_rng(0)
    values = rng.lognormal(3, 1.5, size=5000)
    thresholds = value_thresholds(values)
    whole = np.asarray(value_tiers(values, thresholds))
    chunked = np.concatenate([np.asarray(value_tiers(part, thresholds)) for part in np.array_split(values, 7)])
    assert (whole == chunked).all()
    # a skewed population: few customers in the top tier
    assert (whole == "high").mean() < 0.5


def test_value_tiers_without_value_are_low() -> None:
    thresholds = value_thresholds([0.0, -3.0, np.nan])
    assert thresholds == ValueThresholds(float("inf"), float("inf"))
    assert list(value_tiers([0.0, 5.0], thresholds)) == ["low", "low"]
    assert list(value_tiers([0.0, -1.0, 7.0], ValueThresholds(1.0, 0.0))) == ["low", "low", "high"]


def test_value_thresholds_round_trip_json() -> None:
    thresholds = ValueThresholds(12.5, 3.0)
    assert ValueThresholds.from_dict(thresholds.to_dict()) == thresholds
    assert ValueThresholds(float("inf"), float("inf")).to_dict() == {"high_min": None, "medium_min": None}


def test_segment_matrix_covers_every_cell_with_a_known_segment() -> None:
    assert len(SEGMENT_MATRIX) == 9
    assert set(SEGMENT_MATRIX.values()) == set(SEGMENTS) - {"new_customer", "low_value_active"}


def test_new_customers_of_little_value_are_not_dormant() -> None:
    # "Dormant: reactivate cheaply, win-back e-mail" was the advice for 551 of the demo's customers
    # who had signed up weeks before (97 of them had not bought yet).
    value = ["low", "low", "low", "low", "medium", "high"]
    risk = ["low", "medium", "high", "low", "low", "high"]
    stage = ["new", "new", "new", "lapsed", "new", "new"]
    assert list(assign_segments(value, risk, stage)) == [
        "new_customer", "new_customer", "fleeing_low_value", "dormant", "potential", "high_value_at_risk"]
    assert list(assign_segments(value, risk)) == [
        "dormant", "dormant", "fleeing_low_value", "dormant", "potential", "high_value_at_risk"]
    assert "win" not in segment_actions()["new_customer"].casefold() and segment_names()["new_customer"] == "New customer"
    assert resolve_segment("new customer") == "new_customer"


def test_active_customers_of_little_value_are_not_dormant() -> None:
    # "Dormant: reactivate cheaply, win-back e-mail" was the advice for 662 of the demo's customers
    # growing or stable in spend, who had bought 4 times in the last 90 days (median), the last
    # time 19 days before. Declining and lapsed customers of those cells are the ones to reactivate.
    value = ["low", "low", "low", "low", "low", "low", "medium", "high"]
    risk = ["low", "medium", "low", "medium", "high", "low", "low", "low"]
    stage = ["growing", "stable", "declining", "lapsed", "growing", "new", "growing", "stable"]
    assert list(assign_segments(value, risk, stage)) == [
        "low_value_active", "low_value_active", "dormant", "dormant", "fleeing_low_value", "new_customer", "potential",
        "loyal_high_value"]
    assert list(assign_segments(value, risk))[:4] == ["dormant"] * 4
    action = segment_actions()["low_value_active"].casefold()
    assert "win" not in action and "reactivate" not in action and segment_names()["low_value_active"] == "Low-value active"
    assert resolve_segment("low value active") == "low_value_active"


@pytest.mark.parametrize(
    ("value", "risk", "segment"),
    [
        ("high", "high", "high_value_at_risk"),
        ("high", "medium", "high_value_at_risk"),
        ("high", "low", "loyal_high_value"),
        ("medium", "low", "potential"),
        ("medium", "medium", "potential"),
        ("medium", "high", "fleeing_low_value"),
        ("low", "low", "dormant"),
        ("low", "medium", "dormant"),
        ("low", "high", "fleeing_low_value"),
    ],
)
def test_assign_segments(value: str, risk: str, segment: str) -> None:
    assert list(assign_segments([value], [risk])) == [segment]


def test_lifecycle_stages() -> None:
    stages = lifecycle_stages(
        tenure_days=[10, 10, 500, 500, 500, 500, np.nan],
        spend_trend=[-0.9, 0.9, 0.3, -0.3, 0.1, np.nan, -0.5],
    )
    assert list(stages) == ["new", "new", "growing", "declining", "stable", "stable", "declining"]
    # Silent for longer than both trend periods: lapsed, not "stable" (a 0 % trend of nothing).
    # New customers stay new; exactly 180 days since a purchase is not yet lapsed.
    stages = lifecycle_stages(tenure_days=[500, 500, 500, 30], spend_trend=[0.0, -1.0, 0.0, 0.0],
                              days_since_purchase=[1200, 181, 180, 9999])
    assert list(stages) == ["lapsed", "lapsed", "stable", "new"]


def test_lifecycle_stages_judge_rare_buyers_by_their_own_rhythm() -> None:
    # Usually every 365 days (an annual invoice): 287 days after the last, paid up, neither lapsed nor
    # declining, though both 90-day periods of the trend hold nothing (-100 %: the invoice fell in the
    # one before). 25 % past the usual gap is declining; two usual gaps without a purchase, lapsed.
    stages = lifecycle_stages(tenure_days=[900] * 5, spend_trend=[0.0, -1.0, 1.0, 0.0, 0.0],
                              days_since_purchase=[287, 100, 30, 457, 731], usual_gap_days=[365] * 5)
    assert list(stages) == ["stable", "stable", "stable", "declining", "lapsed"]
    # Usually every 30 days (monthly) or no usual gap (one purchase): 180 days as before; a usual gap
    # of 90 days, the trend's period, is still judged by the trend.
    stages = lifecycle_stages(tenure_days=[900] * 5, spend_trend=[-1.0, -1.0, 0.0, -0.5, -0.5],
                              days_since_purchase=[200, 181, 287, 100, 100],
                              usual_gap_days=[30, np.nan, np.nan, 90, 91])
    assert list(stages) == ["lapsed", "lapsed", "lapsed", "declining", "stable"]
    # New customers stay new whatever their rhythm.
    assert list(lifecycle_stages([100], [0.0], [9999], [365])) == ["new"]


def test_names_and_actions_default_and_override() -> None:
    assert segment_actions()["loyal_high_value"] == DEFAULT_ACTIONS["loyal_high_value"]
    config = config_from_dict(
        {"segments": {"names": {"high_value_at_risk": "Save now"}, "actions": {"dormant": "Send a postcard"}}}
    )
    assert segment_names(config)["high_value_at_risk"] == "Save now"
    assert segment_names(config)["dormant"] == "Dormant"
    assert segment_actions(config)["dormant"] == "Send a postcard"
    assert resolve_segment("save NOW", config) == "high_value_at_risk"
    assert resolve_segment("dormant", config) == "dormant"


def test_unknown_segment_in_config_lists_valid_ones() -> None:
    config = Config().replace(segments={"names": {"at_risk": "At risk"}})
    with pytest.raises(ConfigError) as info:
        segment_names(config)
    assert str(info.value) == (
        "[segments.names] names unknown segment(s) at_risk. Valid segments: "
        "high_value_at_risk, loyal_high_value, potential, new_customer, low_value_active, dormant, fleeing_low_value."
    )
    config = Config().replace(segments={"actions": {"vip": "x"}})
    with pytest.raises(ConfigError, match=r"^\[segments.actions\] names unknown segment\(s\) vip\. Valid segments: "):
        segment_actions(config)


def test_resolve_unknown_segment() -> None:
    with pytest.raises(ConfigError) as info:
        resolve_segment("vip")
    assert str(info.value) == (
        "Unknown segment 'vip'. Valid segments: high_value_at_risk (High-value at risk), loyal_high_value "
        "(Loyal high-value), potential (Potential), new_customer (New customer), low_value_active (Low-value active), dormant (Dormant), fleeing_low_value (Fleeing low-value)."
    )


def test_resolve_segments_names_every_unknown_one() -> None:
    # `--segment vip,gold` was told of 'vip' alone ("Unknown segment 'vip'"), and a second run of 'gold'.
    with pytest.raises(ConfigError) as info:
        resolve_segments(["vip", "Dormant", "gold", "vip"])
    assert str(info.value) == f"Unknown segments 'vip', 'gold'. Valid segments: {valid_segments()}."
    with pytest.raises(ConfigError) as info:
        resolve_segments(["dormant", "vip"])
    assert str(info.value) == str(pytest.raises(ConfigError, resolve_segment, "vip").value)  # one: as before
    assert resolve_segments(["Dormant", "high value at risk", "dormant"]) == ["dormant", "high_value_at_risk"]


def test_assign_segments_rejects_unknown_tiers() -> None:
    with pytest.raises(ValueError):
        assign_segments(pd.Series(["top"]), pd.Series(["low"]))


def test_edges_of_lifecycle_stages_and_risk_cut_points() -> None:
    # At the edge: 180 days is no longer new; a 25 % rise is growing, a 25 % fall declining.
    stages = lifecycle_stages(tenure_days=[179.9, 180, 500, 500], spend_trend=[0.0, 0.0, 0.25, -0.25])
    assert list(stages) == ["new", "stable", "growing", "declining"]
    # A high base rate: the multiples would pass 1, so the cut points are capped (0.9 and 0.95).
    assert risk_cut_points(Config(), base_rate=0.7) == (0.9, 0.95)
    assert risk_cut_points(Config(), base_rate=0.1) == pytest.approx((0.15, 0.3))
