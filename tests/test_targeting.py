"""Retention lists from hand-made scores: ranking, budget, count, filters and exact errors."""

from __future__ import annotations

import html
import re

import numpy as np
import pandas as pd
import pytest

from churnml.config import Config
from churnml.errors import ConfigError, DataError
from churnml.targeting import CONTROL_ACTION, LIST_COLUMNS, retention_list


def make_scores(n: int = 200, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    p = rng.uniform(0, 1, n)
    value_if_retained = rng.lognormal(4, 1, n)
    segments = np.array(["high_value_at_risk", "loyal_high_value", "potential", "dormant", "fleeing_low_value"])
    return pd.DataFrame({
        "customer_id": [f"C{i:05d}" for i in range(n)],
        "as_of": pd.Timestamp("2025-12-01"),
        "segment": segments[rng.integers(0, 5, n)],
        "churn_probability": p,
        "predicted_value": (1 - p) * value_if_retained,
        "value_at_risk": p * value_if_retained,
        "risk_tier": np.where(p > 0.5, "high", "low"),
        "lifecycle_stage": "stable",
        "reasons": ["no purchase for 74 days (usually every 20)"] * n,
    })


def test_list_is_ranked_by_positive_benefit() -> None:
    scores = make_scores()
    result = retention_list(scores, contact_cost=5, success_rate=0.3)
    frame = result.customers
    assert list(frame.columns) == list(LIST_COLUMNS)
    assert (frame["expected_benefit"] > 0).all()
    assert frame["expected_benefit"].is_monotonic_decreasing
    assert list(frame["rank"]) == list(range(1, len(frame) + 1))
    np.testing.assert_allclose(frame["expected_benefit"], frame["value_at_risk"] * 0.3 - 5, atol=0.01)
    # Loyal high-value customers ("reward, do not disturb") are left out unless asked for.
    listed = scores["segment"] != "loyal_high_value"
    expected = int((scores.loc[listed, "value_at_risk"] * 0.3 - 5 > 0).sum())
    assert len(frame) == expected == result.summary.candidates
    assert "loyal_high_value" not in set(frame["segment"])
    assert result.summary.skipped == {"loyal_high_value": int((~listed).sum())}
    assert result.summary.limited_by == "none"
    # Money to the cent, probabilities to 0.01 %; every customer keeps the scores' as-of date.
    assert (frame["value_at_risk"] == frame["value_at_risk"].round(2)).all()
    assert (frame["churn_probability"] == frame["churn_probability"].round(4)).all()
    assert (frame["as_of"] == pd.Timestamp("2025-12-01")).all()
    # What a marketer reads: the segment's name, the tier and stage, and the value if the customer stays.
    chosen = scores.set_index("customer_id").loc[frame["customer_id"]]
    assert frame["segment_name"].tolist() == chosen["segment"].map({"high_value_at_risk": "High-value at risk",
                                                                    "potential": "Potential", "dormant": "Dormant",
                                                                    "fleeing_low_value": "Fleeing low-value"}).tolist()
    assert frame["risk_tier"].tolist() == chosen["risk_tier"].tolist()
    np.testing.assert_allclose(frame["value_if_retained"], chosen["predicted_value"] + chosen["value_at_risk"], atol=0.005)
    # Without those optional score columns the list has none either.
    assert "risk_tier" not in retention_list(scores.drop(columns=["risk_tier", "lifecycle_stage"])).customers.columns


def test_skipped_segments_are_listed_when_asked_for_or_configured() -> None:
    scores = make_scores()
    asked = retention_list(scores, segments=["loyal_high_value"], contact_cost=5, success_rate=0.3)
    assert set(asked.customers["segment"]) == {"loyal_high_value"} and asked.summary.skipped == {}
    everyone = retention_list(scores, contact_cost=5, success_rate=0.3, config=Config().replace(targeting={"skip_segments": ()}))
    assert "loyal_high_value" in set(everyone.customers["segment"]) and everyone.summary.skipped == {}
    with pytest.raises(ConfigError, match=r"\[targeting\] skip_segments: Unknown segment 'vip'"):
        retention_list(scores, config=Config().replace(targeting={"skip_segments": ("vip",)}))


def test_budget_is_respected() -> None:
    result = retention_list(make_scores(), budget=52, contact_cost=5, success_rate=0.3)
    assert len(result.customers) == 10
    assert result.summary.total_cost == 50 <= 52
    assert result.summary.limited_by == "budget"
    full = retention_list(make_scores(), contact_cost=5, success_rate=0.3).customers
    assert list(result.customers["customer_id"]) == list(full["customer_id"][:10])


def test_max_customers_is_respected() -> None:
    result = retention_list(make_scores(), max_customers=7, budget=1000, contact_cost=5, success_rate=0.3)
    assert len(result.customers) == 7
    assert result.summary.limited_by == "max_customers"


def test_zero_budget_selects_nobody() -> None:
    result = retention_list(make_scores(), budget=0, contact_cost=5, success_rate=0.3)
    assert result.customers.empty
    assert list(result.customers.columns) == list(LIST_COLUMNS)
    assert result.summary.roi is None


def test_free_contacts_list_only_benefits_that_show_and_the_summary_says_what_was_asked() -> None:
    # With --contact-cost 0, 3,481 rows of benefit 0.00 (value at risk a fraction of a cent) filled the list.
    scores = make_scores()
    scores.loc[:9, "value_at_risk"] = 0.004
    result = retention_list(scores, budget=0, contact_cost=0, success_rate=0.3, segments=["Dormant", "potential"], min_value=0.001)
    assert (result.customers["expected_benefit"] >= 0.01).all()
    kept = scores["segment"].isin(["dormant", "potential"]) & (scores["value_at_risk"] * 0.3 >= 0.005)
    assert len(result.customers) == int(kept.sum())
    summary = result.summary.to_dict()
    assert (summary["budget"], summary["max_customers"], summary["segments"], summary["min_value"]) == (
        0.0, None, ["dormant", "potential"], 0.001)


def test_segment_and_min_value_filters() -> None:
    scores = make_scores()
    result = retention_list(scores, segments=["High-value at risk", "dormant"], min_value=50, contact_cost=1, success_rate=0.5)
    frame = result.customers
    assert set(frame["segment"]) <= {"high_value_at_risk", "dormant"}
    assert (frame["value_at_risk"] >= 50).all()
    assert set(result.summary.by_segment["segment"]) == set(frame["segment"])


def test_a_segment_named_twice_is_asked_for_once() -> None:
    # "--segment dormant --segment Dormant" listed dormant twice in the summary and its messages.
    result = retention_list(make_scores(), segments=["dormant", "Dormant", "potential", "dormant"], contact_cost=1, success_rate=0.5)
    assert result.summary.to_dict()["segments"] == ["dormant", "potential"]


def test_summary_adds_up() -> None:
    result = retention_list(make_scores(), contact_cost=5, success_rate=0.3)
    summary, frame = result.summary, result.customers
    assert summary.selected == len(frame)
    assert summary.total_cost == pytest.approx(5 * len(frame))
    assert summary.expected_value_saved == pytest.approx(frame["value_at_risk"].sum() * 0.3, abs=0.01 * len(frame))
    assert summary.roi == pytest.approx((summary.expected_value_saved - summary.total_cost) / summary.total_cost)
    assert summary.by_segment["customers"].sum() == len(frame)
    assert summary.by_segment["expected_net_benefit"].sum() == pytest.approx(frame["expected_benefit"].sum(), abs=0.01 * len(frame))
    assert summary.to_dict()["selected"] == len(frame)


def test_defaults_come_from_config_and_actions_can_be_renamed() -> None:
    config = Config().replace(
        targeting={"contact_cost": 2.0, "success_rate": 0.5},
        segments={"actions": {"dormant": "Send a postcard"}},
    )
    result = retention_list(make_scores(), config=config)
    assert result.summary.contact_cost == 2.0 and result.summary.success_rate == 0.5
    dormant = result.customers[result.customers["segment"] == "dormant"]
    assert set(dormant["suggested_action"]) == {"Send a postcard"}


def test_ties_are_broken_by_customer_id() -> None:
    scores = make_scores(5)
    scores["value_at_risk"] = 100.0
    scores["segment"] = "dormant"
    scores = scores.iloc[::-1]
    frame = retention_list(scores, contact_cost=1, success_rate=0.5).customers
    assert list(frame["customer_id"]) == sorted(scores["customer_id"])


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"budget": -5}, "Budget must be zero or more, got -5. It is the total contact cost you can spend."),
        (
            {"success_rate": 0},
            "Success rate must be in (0, 1], got 0. It is the share of contacted at-risk customers a contact keeps, e.g. 0.3.",
        ),
        (
            {"success_rate": 1.5},
            "Success rate must be in (0, 1], got 1.5. It is the share of contacted at-risk customers a contact keeps, e.g. 0.3.",
        ),
        ({"contact_cost": -1}, "Contact cost must be zero or more, got -1."),
        ({"max_customers": 0}, "Max customers must be a whole number of at least 1, got 0."),
        ({"budget": float("nan")}, "Budget must be a number, got nan."),
        (
            {"segments": ["vip"]},
            "Unknown segment 'vip'. Valid segments: high_value_at_risk (High-value at risk), loyal_high_value (Loyal "
            "high-value), potential (Potential), new_customer (New customer), low_value_active (Low-value active), dormant (Dormant), fleeing_low_value (Fleeing low-value).",
        ),
    ],
)
def test_bad_arguments(kwargs: dict, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        retention_list(make_scores(10), **kwargs)
    assert str(info.value) == message


def test_scores_missing_columns_are_named() -> None:
    scores = make_scores(10).drop(columns=["value_at_risk", "reasons"])
    with pytest.raises(DataError) as info:
        retention_list(scores)
    assert str(info.value) == (
        "Scores are missing column(s) value_at_risk, reasons needed for a retention list. "
        "Use a scores file written by `churnml score`."
    )


def test_scores_with_unknown_segment() -> None:
    scores = make_scores(10)
    scores.loc[0, "segment"] = "vip"
    with pytest.raises(DataError) as info:
        retention_list(scores)
    assert str(info.value).startswith("Scores hold unknown segment(s) vip. Valid segments: high_value_at_risk,")



def test_scores_that_are_not_numbers_or_repeat_a_customer_are_refused() -> None:
    # A hand-edited CSV: a text value, an infinite one, a customer twice (two score files joined).
    scores = make_scores(10)
    scores["value_at_risk"] = scores["value_at_risk"].astype(object)
    scores.loc[3, "value_at_risk"] = "abc"
    with pytest.raises(DataError) as info:
        retention_list(scores)
    assert str(info.value) == (
        "Scores column value_at_risk holds 1 value(s) that are not finite numbers, e.g. 'abc' for customer "
        "'C00003'. Use a scores file written by `churnml score`, unedited."
    )
    scores = make_scores(10)
    scores.loc[5, "churn_probability"] = np.inf
    with pytest.raises(DataError, match="column churn_probability holds 1 value"):
        retention_list(scores)
    scores = make_scores(10)
    with pytest.raises(DataError) as info:
        retention_list(pd.concat([scores, scores.iloc[[4]]]))
    assert str(info.value).startswith("Scores list 1 customer(s) more than once, e.g. 'C00004'; a list would contact them twice.")


def test_edges_of_the_filters_and_limits() -> None:
    # Each rule at its exact edge (a mutation run moved them without a failing test):
    # a benefit of exactly 0 is not worth a contact; min_value includes its own value; "scored"
    # counts the customers left after the segment and min_value filters; a budget or count that
    # fits every candidate limits nothing.
    scores = pd.DataFrame({
        "customer_id": ["zero", "at_min", "above", "below_min"],
        "segment": "high_value_at_risk",
        "churn_probability": 0.5,
        "predicted_value": 100.0,
        "value_at_risk": [50.0, 60.0, 80.0, 55.0],   # x 0.1 - 5: benefit 0, 1, 3, 0.5
        "reasons": "",
    })
    result = retention_list(scores, contact_cost=5, success_rate=0.1, min_value=55)
    assert list(result.customers["customer_id"]) == ["above", "at_min", "below_min"]   # 55 >= 55; "zero" is under it
    assert result.summary.scored == 3 and result.summary.candidates == 3
    everyone = retention_list(scores, contact_cost=5, success_rate=0.1)
    assert "zero" not in set(everyone.customers["customer_id"]) and everyone.summary.scored == 4
    exact = retention_list(scores, contact_cost=5, success_rate=0.1, budget=15, max_customers=3)
    assert exact.summary.selected == 3 and exact.summary.limited_by == "none"


def test_summary_by_segment_uses_the_unrounded_numbers() -> None:
    scores = pd.DataFrame({"customer_id": [f"c{i}" for i in range(3)], "segment": "dormant", "churn_probability": 0.5,
                           "predicted_value": 1.0, "value_at_risk": [20.004, 20.004, 20.004], "reasons": ""})
    result = retention_list(scores, contact_cost=1, success_rate=0.5)
    row = result.summary.by_segment.iloc[0]
    assert row["customers"] == 3 and row["expected_value_saved"] == pytest.approx(3 * 20.004 * 0.5, abs=1e-9)
    assert result.summary.expected_value_saved == pytest.approx(3 * 20.004 * 0.5, abs=1e-9)
    assert (result.customers["value_at_risk"] == 20.0).all()   # the list itself is in cents


def test_contacts_cost_what_their_segment_says_and_the_budget_pays_for_them_in_rank_order() -> None:
    # One cost for all: a call from the account manager priced like an automated e-mail.
    scores = make_scores()
    config = Config().replace(targeting={"contact_costs": {"high_value_at_risk": 40.0, "Fleeing low-value": 0.5}})
    result = retention_list(scores, success_rate=0.3, config=config)
    frame = result.customers
    expected_cost = frame["segment"].map({"high_value_at_risk": 40.0, "fleeing_low_value": 0.5}).fillna(5.0)
    assert frame["contact_cost"].tolist() == expected_cost.tolist()
    np.testing.assert_allclose(frame["expected_benefit"], frame["value_at_risk"] * 0.3 - frame["contact_cost"], atol=0.01)
    assert result.summary.total_cost == pytest.approx(frame["contact_cost"].sum())
    assert result.summary.contact_costs["high_value_at_risk"] == 40.0 and result.summary.contact_costs["dormant"] == 5.0
    by_segment = result.summary.by_segment.set_index("segment")["total_cost"]
    assert by_segment.to_dict() == pytest.approx(frame.groupby("segment")["contact_cost"].sum().to_dict())
    # Only high-value customers worth more than a call are listed from that segment.
    listed = scores[scores["segment"] == "high_value_at_risk"]
    assert (frame["segment"] == "high_value_at_risk").sum() == int((listed["value_at_risk"] * 0.3 - 40 >= 0.005).sum())
    # The budget buys at least what the top of the ranking it can pay would save, and the list stays ranked.
    budget = float(frame["contact_cost"].iloc[:7].sum()) + 0.1
    capped = retention_list(scores, budget=budget, success_rate=0.3, config=config)
    assert capped.summary.expected_net_benefit >= frame["expected_benefit"].iloc[:7].sum() - 0.01
    assert capped.customers["expected_benefit"].is_monotonic_decreasing
    assert capped.summary.limited_by == "budget" and capped.summary.total_cost <= budget
    # --contact-cost sets one cost for every segment again.
    assert set(retention_list(scores, contact_cost=2, config=config).customers["contact_cost"]) == {2.0}
    with pytest.raises(ConfigError, match=r"^\[targeting.contact_costs\]: Unknown segment 'vip'"):
        retention_list(scores, config=Config().replace(targeting={"contact_costs": {"vip": 1.0}}))
    with pytest.raises(ConfigError, match=r"^\[targeting.contact_costs\] dormant must be zero or more, got -1"):
        retention_list(scores, config=Config().replace(targeting={"contact_costs": {"dormant": -1.0}}))


def test_customers_on_an_exclusion_list_are_never_listed() -> None:
    # A do-not-contact list (opted out, contacted last month) is what every monthly list starts from.
    scores = make_scores()
    full = retention_list(scores, contact_cost=5, success_rate=0.3)
    barred = set(full.customers["customer_id"].iloc[[0, 2, 5]]) | {"not-a-customer"}
    result = retention_list(scores, contact_cost=5, success_rate=0.3, exclude=barred)
    assert not barred & set(result.customers["customer_id"])
    assert result.customers["customer_id"].tolist() == [c for c in full.customers["customer_id"] if c not in barred]
    assert result.summary.excluded == 3 and result.summary.to_dict()["excluded"] == 3
    assert result.summary.scored == full.summary.scored - 3


def test_exclusion_ids_written_another_way_still_exclude_and_are_reported() -> None:
    # A do-not-contact list exported with leading zeros ("002475" for 2475) matched nobody, and
    # every opted-out customer stayed on the list without a word.
    scores = make_scores()
    full = retention_list(scores, contact_cost=5, success_rate=0.3)
    first, second = full.customers["customer_id"].iloc[[0, 1]]
    barred = {f"00{first}".upper(), second, second.lower(), "ghost"}  # both ways of writing `second`: neither unmatched
    result = retention_list(scores, contact_cost=5, success_rate=0.3, exclude=barred)
    assert not {first, second} & set(result.customers["customer_id"])
    assert result.summary.excluded == 2
    assert result.summary.excluded_loosely == ((f"00{first}".upper(), first),)
    assert result.summary.exclude_unmatched == ("ghost",)
    assert result.summary.to_dict()["excluded_loosely"] == 1 and result.summary.to_dict()["exclude_unmatched"] == 1


def test_excluding_an_earlier_list_keeps_its_control_group_off_and_the_help_says_so(tmp_path) -> None:
    # `--exclude last_list.csv` keeps the earlier list's control group off the new one too, so they stay
    # uncontacted and `churnml evaluate` can still compare; --help said only "customers never to list".
    import typer
    from typer.testing import CliRunner

    from churnml.cli import get_app

    scores = tmp_path / "scores.parquet"
    make_scores(400).to_parquet(scores, index=False)
    first, second = tmp_path / "first.csv", tmp_path / "second.csv"
    for out, extra in ((first, []), (second, ["--exclude", str(first)])):
        ran = CliRunner().invoke(get_app(), ["retention-list", str(scores), "--out", str(out), "--contact-cost", "5",
                                             "--max-customers", "40", "--holdout", "0.25", *extra])
        assert ran.exit_code == 0, ran.output
    earlier, later = pd.read_csv(first), pd.read_csv(second)
    control = set(earlier.loc[earlier["group"] == "control", "customer_id"])
    assert control and not control & set(later["customer_id"])
    command = typer.main.get_command(get_app()).commands["retention-list"]
    text = " ".join(next(p.help for p in command.params if p.name == "exclude").split())
    assert "An earlier list given here keeps its --holdout control group off too" in text, text


def test_a_budget_skips_a_contact_it_cannot_pay_for_cheaper_ones_below() -> None:
    # Calls at 40 and e-mails at 0.5: the list stopped at the first call the rest of the budget
    # could not pay, and left it unspent though e-mails further down fitted.
    scores = pd.DataFrame({
        "customer_id": ["A", "B", "C", "D"], "segment": ["potential", "high_value_at_risk", "potential", "potential"],
        "churn_probability": 0.5, "predicted_value": 100.0, "value_at_risk": [1000.0, 900.0, 500.0, 400.0], "reasons": "",
    })
    config = Config().replace(targeting={"contact_costs": {"high_value_at_risk": 40.0, "potential": 0.5}})
    assert retention_list(scores, success_rate=0.3, config=config).customers["customer_id"].tolist() == ["A", "B", "C", "D"]
    paid = retention_list(scores, budget=30, success_rate=0.3, config=config)
    assert paid.customers["customer_id"].tolist() == ["A", "C", "D"]
    assert paid.summary.limited_by == "budget" and paid.summary.total_cost == 1.5
    # One cost for all: the list is still the top of the ranking.
    many = make_scores(400)
    uniform = retention_list(many, budget=100, contact_cost=5, success_rate=0.3).customers
    assert uniform["customer_id"].tolist() == retention_list(many, contact_cost=5, success_rate=0.3).customers["customer_id"].head(20).tolist()


def test_a_larger_budget_never_saves_less_when_contacts_cost_differently() -> None:
    # Calls at 40 among e-mails at 0.5: paid in rank order, a budget of 100 bought 2 calls and 40
    # e-mails, and one of 160 bought the 4 calls and nothing else: more money, less saved (on the
    # generated 3,000 customers, 367 expected net benefit at 100 and 154 at 160). The budget now buys
    # the better of the contacts in rank order and those with the most benefit per cost; the list
    # stays in rank order.
    calls = pd.DataFrame({"customer_id": [f"H{i}" for i in range(4)], "segment": "high_value_at_risk",
                          "value_at_risk": 200.0})  # benefit 20 for 40: 0.5 per unit of cost
    mails = pd.DataFrame({"customer_id": [f"P{i:03d}" for i in range(300)], "segment": "potential",
                          "value_at_risk": 50.0})  # benefit 14.5 for 0.5: 29 per unit of cost
    scores = pd.concat([calls, mails]).assign(churn_probability=0.5, predicted_value=100.0, reasons="")
    config = Config().replace(targeting={"contact_costs": {"high_value_at_risk": 40.0, "potential": 0.5}})
    nets = {budget: retention_list(scores, budget=budget, success_rate=0.3, config=config).summary
            for budget in (100, 160)}
    assert nets[160].expected_net_benefit >= nets[100].expected_net_benefit
    assert nets[160].total_cost == 150 and nets[160].selected == 300  # the 300 e-mails, and no call in the 10 left
    listed = retention_list(scores, budget=160, success_rate=0.3, config=config).customers
    assert listed["expected_benefit"].is_monotonic_decreasing and listed["rank"].tolist() == list(range(1, 301))
    # With a maximum count as well, the walks are compared on what the count keeps: of 200 e-mails, 2
    # (29) are worth less than the 2 calls at the top of the ranking (40).
    capped = retention_list(scores, budget=100, max_customers=2, success_rate=0.3, config=config).summary
    assert capped.expected_net_benefit == pytest.approx(2 * 20)
    # One valuable call against one e-mail, a budget for the call alone: the call, not the e-mail
    # that the most benefit per cost would take first.
    two = pd.DataFrame({"customer_id": ["H", "P"], "segment": ["high_value_at_risk", "potential"], "value_at_risk": [1000.0, 50.0],
                        "churn_probability": 0.5, "predicted_value": 100.0, "reasons": ""})
    assert retention_list(two, budget=40, success_rate=0.3, config=config).customers["customer_id"].tolist() == ["H"]


def test_an_empty_list_says_why_naming_the_cheapest_contact() -> None:
    # POST /retention_list with a budget below one contact answered [] and nothing else; the CLI
    # blamed "the first contact on the list", though the budget skips a call for cheaper e-mails.
    scores = pd.DataFrame({
        "customer_id": ["A", "B", "C"], "segment": ["high_value_at_risk", "potential", "dormant"],
        "churn_probability": 0.5, "predicted_value": 100.0, "value_at_risk": [1000.0, 900.0, 500.0], "reasons": "",
    })
    config = Config().replace(targeting={"contact_costs": {"high_value_at_risk": 40.0, "potential": 0.75}})
    poor = retention_list(scores, budget=0.5, success_rate=0.3, config=config)
    assert poor.customers.empty and poor.summary.candidates == 3
    assert poor.summary.warnings == (
        "The budget (0.50) pays for no contact: the cheapest contact of the 3 customers who would pay off costs 0.75 "
        "(Potential). Raise the budget to at least 0.75.",)
    assert poor.summary.to_dict()["warnings"] == list(poor.summary.warnings)
    assert retention_list(scores, budget=0.75, success_rate=0.3, config=config).summary.warnings == ()
    # One cost for all names no segment: "costs 5.00 (High-value at risk)" read as if that one alone did.
    assert retention_list(scores, budget=2, contact_cost=5, success_rate=0.3).summary.warnings == (
        "The budget (2.00) pays for no contact: a contact costs 5.00, for each of the 3 customers who would pay off. "
        "Raise the budget to at least 5.00.",)
    assert retention_list(scores.head(1), budget=2, contact_cost=5, success_rate=0.3).summary.warnings == (
        "The budget (2.00) pays for no contact: a contact costs 5.00, for the 1 customer who would pay off. "
        "Raise the budget to at least 5.00.",)
    # Several segments at the cheapest cost: each is named (in the segments' order), not the first met.
    shared = Config().replace(targeting={"contact_costs": {"high_value_at_risk": 40.0, "potential": 0.75, "dormant": 0.75}})
    assert retention_list(scores, budget=0.5, success_rate=0.3, config=shared).summary.warnings == (
        "The budget (0.50) pays for no contact: the cheapest contact of the 3 customers who would pay off costs 0.75 "
        "(Potential, Dormant). Raise the budget to at least 0.75.",)
    many = pd.DataFrame({"customer_id": list("ABCDE"), "churn_probability": 0.5, "predicted_value": 100.0,
                         "value_at_risk": 1000.0, "reasons": "", "segment": ["high_value_at_risk", "potential", "new_customer",
                                                                            "dormant", "fleeing_low_value"]})
    (text,) = retention_list(many, budget=1, success_rate=0.3, config=Config().replace(
        targeting={"contact_cost": 2.0, "contact_costs": {"high_value_at_risk": 40.0}})).summary.warnings
    assert "costs 2.00 (Potential, New customer, Dormant and 1 more segment)." in text
    assert retention_list(scores, contact_cost=10_000, success_rate=0.3).summary.warnings[0].startswith("Nobody would pay off")
    assert retention_list(scores, min_value=10_000).summary.warnings[0].startswith("No customer left to consider")


def test_an_empty_list_names_the_filter_that_left_nobody() -> None:
    # "--segment potential" on scores without a Potential customer, an exclusion list naming everyone
    # and a minimum value above everyone all read "the segment, exclusion and minimum-value filters
    # left out everyone": the marketer could not tell which to change, nor what the scores hold.
    scores = pd.DataFrame({
        "customer_id": ["A", "B", "C"], "segment": ["high_value_at_risk", "dormant", "dormant"],
        "churn_probability": 0.5, "predicted_value": 100.0, "value_at_risk": [1000.0, 900.0, 500.0], "reasons": "",
    })
    (text,) = retention_list(scores, segments=["potential", "New customer"]).summary.warnings
    assert text == ("No customer left to consider: none of the 3 scored customers is in the segments asked for "
                    "(Potential, New customer); the scores hold High-value at risk 1, Dormant 2.")
    (text,) = retention_list(scores, segments=["dormant"], exclude=["B", "C"]).summary.warnings
    assert text == "No customer left to consider: the exclusion lists name all 2 customers of the segments considered."
    (text,) = retention_list(scores, min_value=2000).summary.warnings
    assert text == ("No customer left to consider: none of the 3 customers of the segments considered has a value at "
                    "risk of at least 2,000.00 (the minimum asked for); the highest is 1,000.00.")
    skipping = Config().replace(targeting={"skip_segments": ["dormant", "high_value_at_risk"]})
    (text,) = retention_list(scores, config=skipping).summary.warnings
    assert text == ("No customer left to consider: all 3 scored customers are in segments [targeting] skip_segments "
                    "leaves out (High-value at risk 1, Dormant 2); name one as a segment to list it.")
    (text,) = retention_list(scores.iloc[:0]).summary.warnings
    assert text == "No customer left to consider: the scores hold no customer."


def test_a_budget_short_of_one_contact_lists_no_control_customer_either() -> None:
    # One cost for all and the best candidate in the control group: a budget of 2 for contacts of 5
    # gave a list of that one control customer, to compare with no contact; costs per segment gave none.
    scores = pd.DataFrame({"customer_id": [f"c{i}" for i in range(20)], "as_of": pd.Timestamp("2025-12-01"),
                           "segment": "potential", "churn_probability": 0.5, "predicted_value": 100.0,
                           "value_at_risk": [1000.0 - i for i in range(20)], "reasons": ""})
    full = retention_list(scores, contact_cost=5, holdout=0.5).customers
    assert full["group"].iloc[0] == "control"
    assert retention_list(scores, budget=2, contact_cost=5, holdout=0.5).customers.empty
    mixed = scores.assign(segment=["potential"] * 19 + ["dormant"])  # costs per segment: the walk down the list
    assert retention_list(mixed, budget=2, holdout=0.5,
                          config=Config().replace(targeting={"contact_costs": {"dormant": 6.0}})).customers.empty
    paid = retention_list(scores, budget=5, contact_cost=5, holdout=0.5).customers
    assert paid["group"].tolist()[:2] == ["control", "contact"] and (paid["group"] == "contact").sum() == 1


def test_a_holdout_marks_a_control_group_that_costs_and_saves_nothing() -> None:
    """About the share asked for, the same customers every time (a hash of date and id, not the
    rank), and the totals count the contacted customers only."""
    scores = make_scores(2000)
    plain = retention_list(scores, contact_cost=5, success_rate=0.3)
    held = retention_list(scores, contact_cost=5, success_rate=0.3, holdout=0.2)
    customers = held.customers
    assert list(customers.columns) == [*LIST_COLUMNS[:2], "group", *LIST_COLUMNS[2:]] and "group" not in plain.customers.columns
    control = customers["group"] == "control"
    # A control row says not to call, costs nothing and expects nothing, so the columns add up
    # to the summary: before, it carried the segment's call, its cost and its benefit.
    assert (customers.loc[control, "suggested_action"] == CONTROL_ACTION).all()
    assert (customers.loc[control, ["contact_cost", "expected_benefit"]] == 0).all().all()
    assert customers["contact_cost"].sum() == pytest.approx(held.summary.total_cost)
    assert customers["expected_benefit"].sum() == pytest.approx(held.summary.expected_net_benefit, abs=0.01 * len(customers))
    assert set(customers["group"]) == {"contact", "control"} and held.summary.control == int(control.sum())
    assert 0.15 < control.mean() < 0.25
    assert customers["rank"].tolist() == plain.customers["rank"].tolist()                 # the same list, marked
    contacted = customers[~control]
    assert held.summary.total_cost == pytest.approx(contacted["contact_cost"].sum())
    assert held.summary.expected_value_saved == pytest.approx(0.3 * contacted["value_at_risk"].sum(), rel=1e-6)
    # What the contacted customers take with them if nobody calls ("what do we lose if we do nothing?").
    assert held.summary.value_at_risk == pytest.approx(contacted["value_at_risk"].sum(), rel=1e-6)
    assert held.summary.to_dict()["value_at_risk"] == held.summary.value_at_risk
    assert held.summary.by_segment["customers"].sum() == len(contacted)
    assert held.summary.to_dict()["holdout"] == 0.2 and held.summary.to_dict()["control"] == held.summary.control
    # Deterministic, independent of the order of the scores and of the rest of the list.
    again = retention_list(scores.sample(frac=1, random_state=3), contact_cost=5, success_rate=0.3, holdout=0.2).customers
    assert again.set_index("customer_id")["group"].to_dict() == customers.set_index("customer_id")["group"].to_dict()
    # The budget and the maximum count buy contacts: control customers come on top, free.
    top = retention_list(scores, max_customers=50, contact_cost=5, success_rate=0.3, holdout=0.2).customers
    assert (top["group"] == "contact").sum() == 50 and len(top) > 50
    assert top.set_index("customer_id")["group"].to_dict() == customers.head(len(top)).set_index("customer_id")["group"].to_dict()
    paid = retention_list(scores, budget=200, contact_cost=5, success_rate=0.3, holdout=0.2)
    assert (paid.customers["group"] == "contact").sum() == 40 and paid.summary.total_cost == 200
    with pytest.raises(ConfigError, match="Holdout must be between 0 and 0.5, got 0.7"):
        retention_list(scores, holdout=0.7)
    assert retention_list(scores, config=Config().replace(targeting={"holdout": 0.1})).summary.control > 0


def test_a_config_written_for_dormant_is_told_that_it_does_not_cover_new_customers() -> None:
    # new_customer was split from dormant: a config pricing or skipping dormant silently left the
    # new customers at the default cost, or on the list.
    scores = pd.DataFrame({"customer_id": ["a", "b", "c"], "segment": ["new_customer", "new_customer", "dormant"],
                           "churn_probability": 0.5, "predicted_value": 10.0, "value_at_risk": 100.0, "reasons": ""})
    priced = retention_list(scores, success_rate=0.3, config=Config().replace(targeting={"contact_costs": {"Dormant": 0.5}}))
    assert priced.customers.set_index("customer_id")["contact_cost"].to_dict() == {"a": 5.0, "b": 5.0, "c": 0.5}
    (text,) = priced.summary.warnings
    assert text.startswith("[targeting.contact_costs] prices dormant (0.50) but not new_customer, split from dormant: "
                           "its 2 contact(s) on this list cost [targeting] contact_cost (5.00) each.")
    skipping = retention_list(scores, success_rate=0.3, config=Config().replace(targeting={"skip_segments": ["dormant"]}))
    assert skipping.customers["customer_id"].tolist() == ["a", "b"]
    (text,) = skipping.summary.warnings
    assert "skip_segments leaves out dormant but not new_customer" in text and "2 customer(s) of new_customer" in text
    # Covered, asked for directly, or no new customer listed: nothing to say.
    both = {"contact_costs": {"dormant": 0.5, "new_customer": 1.0}, "skip_segments": ["dormant", "New customer"]}
    covered = retention_list(scores, success_rate=0.3, config=Config().replace(targeting=both))
    assert covered.summary.warnings == (covered.summary.warnings[0],) and covered.summary.warnings[0].startswith("No customer left")
    assert retention_list(scores, success_rate=0.3, contact_cost=2.0,
                          config=Config().replace(targeting={"contact_costs": {"dormant": 0.5}})).summary.warnings == ()
    assert retention_list(scores[scores["segment"] == "dormant"], success_rate=0.3,
                          config=Config().replace(targeting={"contact_costs": {"dormant": 0.5}})).summary.warnings == ()


def test_a_config_written_for_dormant_is_told_that_it_does_not_cover_low_value_active_customers() -> None:
    # low_value_active was split from dormant too (its growing and stable customers): one warning per
    # setting names every segment split from dormant that the list shows and the config leaves out.
    scores = pd.DataFrame({"customer_id": list("abcde"), "churn_probability": 0.5, "predicted_value": 10.0,
                           "segment": ["low_value_active", "low_value_active", "low_value_active", "new_customer", "dormant"],
                           "value_at_risk": 100.0, "reasons": ""})
    old = {"contact_costs": {"dormant": 0.5}, "skip_segments": ["dormant"]}
    (priced, skipped) = retention_list(scores, success_rate=0.3, config=Config().replace(targeting=old)).summary.warnings
    assert priced == (
        "[targeting.contact_costs] prices dormant (0.50) but not new_customer or low_value_active, split from dormant: "
        "their 4 contact(s) on this list (new_customer 1, low_value_active 3) cost [targeting] contact_cost (5.00) each. "
        "Add new_customer = ... and low_value_active = ... to [targeting.contact_costs] to price them.")
    assert skipped == (
        "[targeting] skip_segments leaves out dormant but not new_customer or low_value_active, split from dormant: "
        "4 customer(s) of them are on this list (new_customer 1, low_value_active 3). Add \"new_customer\" and "
        "\"low_value_active\" to skip_segments to leave them out.")
    # new_customer covered: only low_value_active is named, in the words of a single split.
    covered = {"contact_costs": {"dormant": 0.5, "new_customer": 1.0}, "skip_segments": ["dormant", "new_customer"]}
    (priced, skipped) = retention_list(scores, success_rate=0.3, config=Config().replace(targeting=covered)).summary.warnings
    assert priced.startswith("[targeting.contact_costs] prices dormant (0.50) but not low_value_active, split from dormant: "
                             "its 3 contact(s) on this list cost [targeting] contact_cost (5.00) each.")
    assert "3 customer(s) of low_value_active are on this list" in skipped
    both = {"contact_costs": {"dormant": 0.5, "new_customer": 1.0, "Low-value active": 1.0},
            "skip_segments": ["dormant", "new_customer", "low_value_active"]}
    assert retention_list(scores, success_rate=0.3, config=Config().replace(targeting=both)).summary.warnings[0].startswith(
        "No customer left")


def test_asking_for_dormant_says_that_the_segments_split_from_it_are_left_out() -> None:
    # `--segment dormant` listed dormant's new, growing and stable customers before they got
    # segments of their own; since the split it leaves them out without a word.
    scores = pd.DataFrame({"customer_id": list("abcdefg"), "churn_probability": 0.5, "predicted_value": 10.0,
                           "segment": ["dormant", "new_customer", "new_customer", "low_value_active", "low_value_active",
                                       "low_value_active", "potential"],
                           "value_at_risk": [100.0, 100.0, 100.0, 100.0, 100.0, 10.0, 100.0], "reasons": ""})
    result = retention_list(scores, segments=["Dormant"], contact_cost=5.0, success_rate=0.3)
    assert result.customers["customer_id"].tolist() == ["a"]
    # Customer f would not pay off (10 × 0.3 < 5): listing low_value_active would not add it, so it is not counted.
    assert result.summary.warnings == (
        "The segments asked for include dormant, but its new (new_customer) and growing or stable (low_value_active) "
        "customers have a segment of their own since they were split from dormant: 4 of them would pay off "
        "(new_customer 2, low_value_active 2) and are not on this list. Ask for new_customer and low_value_active too "
        "to list them.",)
    # Asked for too: that segment is not named; the list then holds its customers.
    result = retention_list(scores, segments=["dormant", "new_customer"], contact_cost=5.0, success_rate=0.3)
    assert sorted(result.customers["customer_id"]) == ["a", "b", "c"]
    assert result.summary.warnings == (
        "The segments asked for include dormant, but its growing or stable (low_value_active) customers have a segment "
        "of their own since it was split from dormant: 2 of them would pay off and are not on this list. Ask for "
        "low_value_active too to list them.",)
    # Nothing to say where none of them would be listed (excluded, below the minimum value), or dormant was not asked for.
    assert retention_list(scores, segments=["dormant"], exclude=["b", "c", "d", "e"]).summary.warnings == ()
    assert retention_list(scores, segments=["dormant"], min_value=200.0).summary.warnings[0].startswith("No customer left")
    assert len(retention_list(scores, segments=["dormant"], min_value=200.0).summary.warnings) == 1
    assert retention_list(scores, segments=["potential"]).summary.warnings == ()
    assert retention_list(scores).summary.warnings == ()


def test_a_segment_a_config_leaves_out_is_not_said_to_have_no_contact_action() -> None:
    # The README says to name low_value_active in skip_segments beside dormant; its action is "develop
    # cheaply: automated cross-sell or loyalty e-mail". The summary said every skipped segment's
    # "action is no retention contact", true only of loyal_high_value. It now names the setting.
    from churnml import reports
    from churnml.segments import segment_names
    from churnml.targeting import summary_sheets

    scores = pd.DataFrame({"customer_id": list("abc"), "churn_probability": 0.5, "predicted_value": 10.0,
                           "segment": ["low_value_active", "loyal_high_value", "potential"], "value_at_risk": 100.0,
                           "reasons": ""})
    config = Config().replace(targeting={"skip_segments": ["loyal_high_value", "low_value_active"]},
                              segments={"names": {"low_value_active": "Small active"}})
    result = retention_list(scores, success_rate=0.3, config=config)
    assert result.summary.skipped == {"loyal_high_value": 1, "low_value_active": 1}
    labels = list(summary_sheets(result.summary, segment_names(config), 90, result.customers)["summary"].iloc[:, 0])
    assert "left out: Small active ([targeting] skip_segments)" in labels
    assert not [label for label in labels if "no retention contact" in label]
    page = reports.list_report(result.customers, result.summary.to_dict(), config)
    assert "left out: Small active ([targeting] skip_segments)" in page and "no retention contact" not in page


def test_the_printed_summary_gives_a_left_out_segment_its_own_action(capsys) -> None:
    from churnml.cli.score import show_retention_summary

    scores = pd.DataFrame({"customer_id": list("abc"), "churn_probability": 0.5, "predicted_value": 10.0,
                           "segment": ["low_value_active", "loyal_high_value", "potential"], "value_at_risk": 100.0,
                           "reasons": ""})
    config = Config().replace(targeting={"skip_segments": ["loyal_high_value", "low_value_active"]})
    show_retention_summary(retention_list(scores, success_rate=0.3, config=config), config)
    out = " ".join(capsys.readouterr().out.split())
    assert ("Left out 1 Low-value active customer ([targeting] skip_segments; suggested action: Develop cheaply: "
            "automated cross-sell or loyalty e-mail). --segment low_value_active lists them.") in out
    assert ("Left out 1 Loyal high-value customer ([targeting] skip_segments; suggested action: Reward, do not "
            "disturb: loyalty perks, no retention offers).") in out


def test_a_lists_value_saved_says_it_counts_a_churners_whole_horizon_as_lost(capsys) -> None:
    # "expected value saved (next 90 days) 11,599.12" and "expected ROI 254.2%" went to the boss as
    # what the campaign brings; the backtest of those scores read value at risk 1.40 times the value the
    # churners lost (they bring part of the horizon's value before leaving), and nothing beside the
    # figures said so: not the terminal, not the workbook's summary, not the list report.
    from churnml import reports
    from churnml.cli.score import show_retention_summary
    from churnml.segments import segment_names
    from churnml.targeting import summary_sheets

    result = retention_list(make_scores(), contact_cost=5, success_rate=0.3)
    said = ("Value saved counts a churner's whole 90 days of value if retained as lost (value at risk), but churners "
            "bring part of it in before they close the account: in backtests on generated data value at risk ran 1.3 to "
            "1.7 times the value the "
            "churners lost, so value saved may run that much high, and net benefit and ROI more so. churnml evaluate "
            "SCORES DATA measures it for these models once the scores' horizon has passed.")
    show_retention_summary(result, Config(), horizon_days=90)
    assert f"Note: {said}" in " ".join(capsys.readouterr().out.split())
    sheet = summary_sheets(result.summary, segment_names(), 90, result.customers)["summary"]
    assert dict(zip(sheet["what"], sheet["value"]))["note on value saved"] == said
    page = html.unescape(reports.list_report(result.customers, {**result.summary.to_dict(), "horizon_days": 90}, Config()))
    assert said in " ".join(page[page.index('id="retention-summary"'):page.index('id="roi-curve"')].split())
    # A summary written before it recorded its horizon: no "whole None days".
    page = html.unescape(reports.list_report(result.customers, result.summary.to_dict(), Config()))
    assert "counts a churner's whole horizon of value if retained as lost" in " ".join(page.split())
    # Where churn is inactivity (no churn_events), a churner buys nothing in the horizon: nothing brought
    # before leaving, so no note (nor in the workbook or the report).
    inactivity = {"horizon_days": 90, "margin": 1.0, "churn": "inactivity"}
    show_retention_summary(result, Config(), horizon_days=90, problem=inactivity)
    assert "Value saved counts" not in capsys.readouterr().out
    sheet = summary_sheets(result.summary, segment_names(), 90, result.customers, problem=inactivity)["summary"]
    assert "note on value saved" not in set(sheet["what"])
    page = html.unescape(reports.list_report(result.customers, {**result.summary.to_dict(), "horizon_days": 90,
                                                                "problem": inactivity}, Config()))
    assert "counts a churner's whole" not in page


def test_the_summary_names_no_default_contact_cost_where_every_segment_has_its_own(tmp_path, capsys) -> None:
    # A campaign priced every segment ([targeting.contact_costs]: a call 25, e-mails 0.5 and 2); the
    # terminal, the workbook and the report said "contact cost 5 (High-value at risk 25, …)", a 5 that
    # no contact on the list cost, and a marketer asked where it came from.
    from churnml import reports
    from churnml.cli.score import show_retention_summary
    from churnml.segments import SEGMENTS, segment_names
    from churnml.targeting import summary_sheets

    costs = {key: 25.0 if key in ("high_value_at_risk", "loyal_high_value") else 0.5 for key in SEGMENTS}
    config = Config().replace(targeting={"contact_costs": costs})
    result = retention_list(make_scores(), success_rate=0.3, config=config)
    names = segment_names(config)
    said = ", ".join(f"{names[key]} {cost:g}" for key, cost in result.summary.contact_costs.items())
    assert said.startswith("High-value at risk 25, Loyal high-value 25, Potential 0.5")
    show_retention_summary(result, config, horizon_days=90)
    printed = " ".join(capsys.readouterr().out.split())
    assert "│ assumptions │ contact cost High-value at risk 25," in printed and "contact cost 5" not in printed
    sheet = summary_sheets(result.summary, names, 90, result.customers)["summary"]
    assert dict(zip(sheet["what"], sheet["value"]))["contact cost"] == said
    page = html.unescape(reports.list_report(result.customers, result.summary.to_dict(), config))
    assert f"contact cost {said}, success rate 0.3" in page
    # One segment left at the default: the default is still some contacts' cost, and is named.
    config = Config().replace(targeting={"contact_costs": {**costs, "dormant": 5.0}})
    result = retention_list(make_scores(), success_rate=0.3, config=config)
    assert summary_sheets(result.summary, names, 90, result.customers)["summary"].set_index("what").loc["contact cost", "value"].startswith(
        "5 (High-value at risk 25,")


def _topical_scores() -> pd.DataFrame:
    """Five high-value customers at risk, alike but for what their reasons are about."""
    return pd.DataFrame({
        "customer_id": list("abcde"), "segment": "high_value_at_risk", "churn_probability": 0.6,
        "predicted_value": 400.0, "value_at_risk": [600.0, 590.0, 580.0, 570.0, 560.0],
        "reasons": ["2 unresolved complaints; no purchase for 74 days (usually every 20)",
                    "spend down 60% on the previous quarter", "region: west; account manager changed 20 days ago",
                    "", "region: west"],
        "reason_topics": ["service; buying_less", "buying_less", "attribute; account_manager", "", "attribute"],
    })


def test_the_talking_point_follows_the_strongest_reason_and_the_action_stays_the_segments() -> None:
    # A high-value customer at risk because of two unresolved complaints got the same "personal call
    # with a tailored offer" as one whose spending fell, and nothing said to open with the complaint.
    from churnml.segments import DEFAULT_ACTIONS, DEFAULT_TALKING_POINTS

    result = retention_list(_topical_scores(), contact_cost=5, success_rate=0.3)
    listed = result.customers.set_index("customer_id")
    assert list(result.customers.columns[-3:]) == list(LIST_COLUMNS[-3:]) == ["reasons", "suggested_action", "talking_point"]
    assert set(listed["suggested_action"]) == {DEFAULT_ACTIONS["high_value_at_risk"]}
    assert listed["talking_point"].to_dict() == {
        "a": DEFAULT_TALKING_POINTS["service"],
        "b": DEFAULT_TALKING_POINTS["buying_less"],
        "c": DEFAULT_TALKING_POINTS["account_manager"],  # an attribute has none: the next reason's topic decides
        "d": "",  # no reasons: no talking point, not a made-up one
        "e": "",  # an attribute alone
    }
    assert listed.loc["a", "talking_point"].startswith("Lead with the service issue:")
    assert not [w for w in result.summary.warnings if "topics" in w]
    # Overridden per topic in [segments.talking_points]; the others keep theirs.
    config = Config().replace(segments={"talking_points": {"service": "Apologise for the open complaint first",
                                                           "attribute": "Mention their region"}})
    listed = retention_list(_topical_scores(), contact_cost=5, success_rate=0.3, config=config).customers.set_index("customer_id")
    assert listed["talking_point"].to_dict() == {
        "a": "Apologise for the open complaint first", "b": DEFAULT_TALKING_POINTS["buying_less"],
        "c": "Mention their region", "d": "", "e": "Mention their region"}
    # The control group is not contacted: no action to take, nothing to say.
    held = retention_list(pd.concat([_topical_scores().assign(customer_id=lambda f: f["customer_id"] + str(i))
                                     for i in range(20)], ignore_index=True), contact_cost=5, success_rate=0.3, holdout=0.3)
    control = held.customers["group"] == "control"
    assert control.any() and (held.customers.loc[control, "talking_point"] == "").all()
    assert (held.customers.loc[~control & held.customers["reasons"].str.startswith("2 unresolved"), "talking_point"]
            == DEFAULT_TALKING_POINTS["service"]).all()


def test_scores_from_before_reason_topics_give_an_empty_talking_point_and_say_so() -> None:
    # The stored sentences do not say which feature gave them: the talking point cannot be derived.
    old = _topical_scores().drop(columns="reason_topics")
    result = retention_list(old, contact_cost=5, success_rate=0.3)
    assert (result.customers["talking_point"] == "").all() and len(result.customers) == 5
    assert ("These scores were written by an older churnml, before reasons had topics: the list's talking_point column "
            "is empty. Run `churnml score` again for a talking point per customer from their reasons.") in result.summary.warnings
    # Nothing to say where the list's contacts have no reasons anyway, or the list is empty.
    assert not retention_list(old.assign(reasons=""), contact_cost=5, success_rate=0.3).summary.warnings
    assert not [w for w in retention_list(old, budget=1.0, contact_cost=5).summary.warnings if "topics" in w]


def test_an_unknown_talking_point_topic_is_a_config_error_naming_the_valid_ones(tmp_path) -> None:
    from typer.testing import CliRunner

    from churnml.cli import get_app
    from churnml.config import load_config

    toml = tmp_path / "churnml.toml"
    toml.write_text('[segments.talking_points]\ncomplaint = "Apologise"\nservice = "Apologise first"\n')
    expected = (f"{toml}: [segments.talking_points] names unknown reason topic(s) complaint. Valid reason topics: service, "
                "account_manager, buying_less, refunds, never_bought, short_tenure, attribute.")
    with pytest.raises(ConfigError) as error:
        load_config(toml)
    assert str(error.value) == expected
    # A config built in code is checked where the list uses it.
    with pytest.raises(ConfigError, match=r"^\[segments.talking_points\] names unknown reason topic\(s\) complaint\. Valid"):
        retention_list(_topical_scores(), config=Config().replace(segments={"talking_points": {"complaint": "x"}}))
    toml.write_text('[segments.talking_points]\nservice = 3\n')
    with pytest.raises(ConfigError, match=r"\[segments.talking_points\] service must be text, got 3"):
        load_config(toml)
    # The CLI: an error naming the key, no traceback, no list written.
    scores = tmp_path / "scores.parquet"
    _topical_scores().to_parquet(scores, index=False)
    toml.write_text('[segments.talking_points]\ncomplaint = "Apologise"\n')
    out = tmp_path / "list.csv"
    ran = CliRunner().invoke(get_app(), ["retention-list", str(scores), "--out", str(out), "--config", str(toml)])
    assert ran.exit_code == 2 and "Traceback" not in ran.output + ran.stderr and not out.exists()
    assert "names unknown reason topic(s) complaint. Valid reason topics: service," in " ".join(ran.stderr.split())


def test_the_readme_gives_the_default_talking_points() -> None:
    from pathlib import Path

    from churnml.schema import REASON_TOPICS
    from churnml.segments import DEFAULT_TALKING_POINTS

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    rows = dict(re.findall(r"^  \| `(\w+)` \| (.+?) \|$", readme, flags=re.M))
    assert list(rows) == list(REASON_TOPICS)
    assert {k: v for k, v in rows.items() if DEFAULT_TALKING_POINTS[k]} == {k: v for k, v in DEFAULT_TALKING_POINTS.items() if v}
    assert not DEFAULT_TALKING_POINTS["attribute"] and rows["attribute"].startswith("none")


def test_retention_list_counts_its_contacts_per_talking_point_in_the_terminal(tmp_path) -> None:
    # The terminal showed reasons and a by-segment table, but nothing of the talking points: the list's
    # last column, off the screen in a spreadsheet too, so a user never learnt they were there.
    from typer.testing import CliRunner

    from churnml.cli import get_app
    from churnml.segments import DEFAULT_TALKING_POINTS

    scores = tmp_path / "scores.parquet"
    _topical_scores().to_parquet(scores, index=False)
    ran = CliRunner().invoke(get_app(), ["retention-list", str(scores), "--out", str(tmp_path / "list.csv"),
                                         "--contact-cost", "5"], env={"COLUMNS": "200"})
    assert ran.exit_code == 0, ran.output
    shown = ran.stdout[ran.stdout.index("By talking point"):ran.stdout.index("Top ")]
    # The console's width is the terminal's (80 columns when the suite's earlier tests set it): a long
    # talking point wraps onto lines whose count cell is empty, and reads as one again here.
    rows: dict[str, str] = {}
    for line in shown.splitlines():
        if len(cells := [c.strip() for c in line.strip().split("│")[1:-1]]) != 2 or not cells[0]:
            continue
        if cells[1]:
            rows[cells[0]] = cells[1]
        elif rows:
            last = list(rows)[-1]
            rows[f"{last} {cells[0]}"] = rows.pop(last)
    assert rows == {DEFAULT_TALKING_POINTS["service"]: "1", DEFAULT_TALKING_POINTS["buying_less"]: "1",
                    DEFAULT_TALKING_POINTS["account_manager"]: "1",
                    # no reasons, or a region alone: said, not a silent empty cell
                    "– none (empty cell): no reasons, or only reasons saying who the customer is": "2"}
    # Scores from before reason topics: no table of empty cells, the warning says why.
    _topical_scores().drop(columns="reason_topics").to_parquet(scores, index=False)
    ran = CliRunner().invoke(get_app(), ["retention-list", str(scores), "--out", str(tmp_path / "old.csv"),
                                         "--contact-cost", "5"], env={"COLUMNS": "200"})
    assert ran.exit_code == 0 and "By talking point" not in ran.stdout and "before reasons had topics" in " ".join(ran.stderr.split())


def test_the_default_talking_points_read_right_beside_every_action_and_lifecycle_stage() -> None:
    # One text per topic goes to every segment and stage. On generated data (4,000 customers): a single
    # call in the last 30 days was the strongest reason of 109 customers told to "apologise"; growing
    # customers whose last purchase was a few days late got "Win-back"; customers of 247 days got
    # "Onboarding: welcome them"; and Fleeing low-value, "automated e-mail at most", was to "confirm
    # what was agreed before", which no automated e-mail knows.
    from churnml.segments import DEFAULT_ACTIONS

    scores = pd.DataFrame({
        "customer_id": ["call", "late", "older", "handover"],
        "segment": ["high_value_at_risk", "potential", "high_value_at_risk", "fleeing_low_value"],
        "lifecycle_stage": ["stable", "growing", "declining", "stable"],
        "churn_probability": [0.4, 0.2, 0.3, 0.5], "predicted_value": 300.0, "value_at_risk": 200.0,
        "reasons": ["1 call in the last 30 days", "no purchase for 12 days (usually every 5)",
                    "customer for 247 days, newer than most", "account manager changed 42 days ago"],
        "reason_topics": ["service", "buying_less", "short_tenure", "account_manager"],
    })
    listed = retention_list(scores, contact_cost=5, success_rate=0.3).customers.set_index("customer_id")
    point = listed["talking_point"].str.casefold()
    assert "apologis" not in point["call"]  # nothing known to have gone wrong
    assert "win" not in point["late"] and "win" not in point["handover"]  # a growing customer is not lost
    assert not any(word in point["older"] for word in ("onboard", "welcome", "get started"))
    assert "automated e-mail" in DEFAULT_ACTIONS["fleeing_low_value"]
    assert "confirm what was agreed" not in point["handover"]  # an automated e-mail does not know it
    assert (listed["talking_point"] != "").all() and (listed["talking_point"] != listed["suggested_action"]).all()


def test_an_empty_talking_point_switches_its_topic_off_and_the_next_reason_decides(tmp_path) -> None:
    # A team that will not open a call with "a service issue" could not say so: an empty text was
    # a config error ("must be non-empty text"), unlike the default for attributes.
    from typer.testing import CliRunner

    from churnml.cli import get_app
    from churnml.config import load_config
    from churnml.io import read_table
    from churnml.segments import DEFAULT_TALKING_POINTS

    toml = tmp_path / "churnml.toml"
    toml.write_text('[segments.talking_points]\nservice = ""\naccount_manager = "  "\n')
    assert load_config(toml).segments.talking_points == {"service": "", "account_manager": "  "}
    scores = tmp_path / "scores.parquet"
    _topical_scores().to_parquet(scores, index=False)
    out = tmp_path / "list.csv"
    ran = CliRunner().invoke(get_app(), ["retention-list", str(scores), "--out", str(out), "--config", str(toml),
                                         "--contact-cost", "5"])
    assert ran.exit_code == 0, ran.output + ran.stderr
    listed = read_table(out).set_index("customer_id")["talking_point"].fillna("").to_dict()
    assert listed == {
        "a": DEFAULT_TALKING_POINTS["buying_less"],  # service switched off: the next reason's topic
        "b": DEFAULT_TALKING_POINTS["buying_less"],
        "c": "",  # an attribute and a blank account-manager text: none
        "d": "", "e": "",
    }
    # Other tables' texts stay required: an empty segment name or action would print nothing.
    toml.write_text('[segments.actions]\ndormant = ""\n')
    with pytest.raises(ConfigError, match=r"\[segments.actions\] dormant must be non-empty text, got ''"):
        load_config(toml)


def test_the_lists_size_says_the_contacts_and_the_control_group_apart(tmp_path) -> None:
    # "Top 10 of 180" and the report's "180 customers" counted the 17 of the control group, whom
    # nobody is to contact; the .json summary's selected keeps that meaning, and contacts is added.
    import json

    from typer.testing import CliRunner

    from churnml.cli import get_app

    scores = tmp_path / "scores.parquet"
    make_scores(400).to_parquet(scores, index=False)
    out = tmp_path / "list.csv"
    ran = CliRunner().invoke(get_app(), ["retention-list", str(scores), "--out", str(out), "--contact-cost", "5",
                                         "--holdout", "0.2"], env={"COLUMNS": "200"})
    assert ran.exit_code == 0, ran.output
    listed = pd.read_csv(out, encoding="utf-8-sig")
    control = int((listed["group"] == "control").sum())
    contacts = len(listed) - control
    assert control > 0 and contacts > 0
    size = f"{contacts:,} to contact + {control:,} control group"
    printed = " ".join(ran.stdout.split())
    assert f"Top 10 of {size}" in printed
    assert f"│ selected │ {len(listed):,} (every candidate) │ │ to contact │ {contacts:,} │ │ control group, not to contact (20%) │ {control:,} │" in printed
    summary = json.loads(out.with_name("list.csv.json").read_text())
    assert (summary["selected"], summary["contacts"], summary["control"]) == (len(listed), contacts, control)
    workbook = tmp_path / "list.xlsx"
    ran = CliRunner().invoke(get_app(), ["retention-list", str(scores), "--out", str(workbook), "--contact-cost", "5",
                                         "--holdout", "0.2"])
    assert ran.exit_code == 0, ran.output
    sheet = pd.read_excel(workbook, sheet_name="summary", keep_default_na=False)
    lines = dict(zip(sheet["what"], sheet["value"]))
    assert (int(lines["selected"]), int(lines["to contact"]), int(lines["control group, not to contact (20%)"])) == (
        len(listed), contacts, control)
    # Without a control group: every customer of the list is to be contacted, and the list says so.
    plain = retention_list(make_scores(400), contact_cost=5).summary
    assert plain.to_dict()["contacts"] == plain.selected and plain.control == 0


def test_a_list_csv_writes_money_to_the_cent_and_churnml_reads_it_back_unchanged(tmp_path) -> None:
    # pandas wrote a list's money as 5.0, 394.0 and 113.2 beside 195.81: a spreadsheet shows the
    # column unevenly. The workbook's number formats showed two decimals already.
    import csv

    from typer.testing import CliRunner

    from churnml import io
    from churnml.cli import get_app
    from churnml.targeting import DECIMALS

    frame = make_scores(300).assign(value_at_risk=lambda f: f["value_at_risk"].round(1))  # 394.0, 113.2 …
    frame.loc[0, ["value_at_risk", "predicted_value"]] = [394.0, 20.0]
    scores = tmp_path / "scores.parquet"
    frame.to_parquet(scores, index=False)
    for name in ("list.csv", "list.parquet"):
        ran = CliRunner().invoke(get_app(), ["retention-list", str(scores), "--out", str(tmp_path / name), "--contact-cost", "5",
                                             "--holdout", "0.1"])
        assert ran.exit_code == 0, ran.output
    with open(tmp_path / "list.csv", newline="", encoding="utf-8-sig") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) > 20 and "394.00" in {row["value_at_risk"] for row in rows}
    for column, digits in DECIMALS.items():
        uneven = [row[column] for row in rows if not re.fullmatch(rf"-?\d+\.\d{{{digits}}}", row[column])]
        assert not uneven, (column, uneven[:5])
    # What evaluate and report --list read: the same numbers as the Parquet list's.
    back, same = io.read_table(tmp_path / "list.csv"), io.read_table(tmp_path / "list.parquet")
    for column in ("rank", *DECIMALS):
        assert back[column].to_numpy().tolist() == same[column].to_numpy().tolist(), column


def test_a_list_whose_payers_are_all_excluded_says_so() -> None:
    # `--exclude` with last month's list took out everyone who would pay off, and the list said "Nobody
    # would pay off ... Lower the contact cost, raise the success rate, or widen the segments": the wrong fix.
    scores = pd.DataFrame({
        "customer_id": ["A", "B", "C", "D"], "segment": "high_value_at_risk",
        "churn_probability": 0.5, "predicted_value": 100.0, "value_at_risk": [1000.0, 900.0, 1.0, 2.0], "reasons": "",
    })
    (text,) = retention_list(scores, exclude=["A", "B"], success_rate=0.3).summary.warnings
    assert text == ("Nobody left would pay off: the 2 customers who would are excluded (the exclusion lists; an earlier "
                    "list excludes its contacts and its control group). A contact pays off only when value_at_risk × "
                    "success_rate exceeds its contact cost.")
    (one,) = retention_list(scores, exclude=["A", "C"], success_rate=0.3, min_value=950).summary.warnings
    assert one.startswith("No customer left to consider")  # B is under the minimum value: the filters say so
    assert retention_list(scores, exclude=["A"], success_rate=0.3, min_value=800).summary.warnings == ()  # B pays off
    # Excluded customers who would not have paid off change nothing: the cost is the fix.
    assert retention_list(scores, exclude=["C"], contact_cost=10_000, success_rate=0.3).summary.warnings[0].startswith(
        "Nobody would pay off: ")
