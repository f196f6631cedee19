"""Features: hand-computed values, which features exist, dtypes, reasons, portability."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import sqlglot

from churnml.config import Config
from churnml.dataset import Dataset
from churnml.reasons import explain
from churnml.features import (
    MAX_BITMASK_VALUES,
    NEVER_DAYS,
    FeatureSpec,
    build_features,
    feature_description,
    feature_specs,
    feature_query,
    feature_sql,
    normalize_cutoffs,
    render_reason,
    table_columns,
    transaction_values,
)

CUTOFF = pd.Timestamp("2024-01-01")
T = pd.Timestamp


def small_dataset(service: bool = True, churn: bool = False) -> Dataset:
    """Three customers whose features are worked out by hand below (``churn``: with a churn_events table)."""
    frames = {
        "customers": pd.DataFrame({
            "customer_id": ["a", "b", "c", "d"],
            "signup_date": [T("2023-01-01"), T("2023-06-01"), None, T("2024-02-01")],
            "plan": ["gold", "basic", "gold", "basic"],
            "age": [30, 40, 50, 60],
        }),
        "transactions": pd.DataFrame({
            "customer_id": ["a", "a", "a", "a", "b", "c", "c", "d"],
            "timestamp": [T("2023-10-02"), T("2023-11-01"), T("2023-12-11"), T("2024-01-01"),
                          T("2023-12-01"), T("2023-12-20"), T("2024-01-05"), T("2023-12-30")],
            "amount": [10.0, 20.0, -5.0, 99.0, 7.0, 3.0, 1.0, 4.0],
            "category": ["x", "y", "x", "z", None, "z", "q", "x"],
        }),
    }
    if service:
        frames["service_events"] = pd.DataFrame({
            "customer_id": ["a", "a", "a", "b", "b", "a"],
            "timestamp": [T("2023-11-01"), T("2023-12-01"), T("2023-12-02"), T("2023-12-02"),
                          T("2023-06-05"), T("2024-01-01")],
            "event_type": ["complaint", "survey", "complaint", "account_manager_change", "complaint", "complaint"],
            "resolved_at": [T("2024-01-10"), None, T("2023-12-06"), None, T("2023-06-15"), None],
            "satisfaction": [None, 2.0, 4.0, None, 1.0, None],
        })
    if churn:
        frames["churn_events"] = pd.DataFrame({"customer_id": ["d"], "timestamp": [T("2024-03-01")]})
    return Dataset.from_frames(frames)


@pytest.fixture(scope="module")
def features() -> pd.DataFrame:
    return build_features(small_dataset(), [CUTOFF], Config()).set_index("customer_id")


def test_population_at_cutoff(features: pd.DataFrame) -> None:
    # d signed up after the cutoff; c has no sign-up date, so it exists from its first
    # transaction, which is before the cutoff.
    assert list(features.index) == ["a", "b", "c"]
    assert (features["cutoff"] == CUTOFF).all()


def test_hand_computed_transaction_features(features: pd.DataFrame) -> None:
    a = features.loc["a"]
    # a: purchases 2023-10-02 (10), 2023-11-01 (20); refund 2023-12-11 (-5); 2024-01-01 is at the
    # cutoff and must not be seen.
    expected = {
        "days_since_last_purchase": 61.0,       # 2023-11-01 -> 2024-01-01
        "days_since_first_purchase": 91.0,      # 2023-10-02 -> 2024-01-01
        "frequency_30d": 0.0,
        "frequency_90d": 1.0,                   # window starts 2023-10-03: 2023-10-02 is out
        "frequency_180d": 2.0,
        "frequency_lifetime": 2.0,
        "monetary_30d": -5.0,                   # the refund only
        "monetary_90d": 15.0,
        "monetary_lifetime": 25.0,
        "spend_prev_90d": 10.0,                 # [2023-07-05, 2023-10-03)
        "spend_trend_pct": 50.0,                # 15 vs 10
        "frequency_trend": 0.0,                 # 1 vs 1
        "mean_gap_days": 30.0,                  # one gap between the two purchases
        "gap_std_days": 0.0,
        "recency_vs_usual_gap": 61.0 / 30.0,
        "refunds_365d": 1.0,
        "refund_amount_365d": 5.0,
        "distinct_categories": 2.0,             # x, y (z is at the cutoff)
        "tenure_days": 365.0,
    }
    for name, value in expected.items():
        assert a[name] == pytest.approx(value), name
    b = features.loc["b"]
    assert b["days_since_last_purchase"] == 31.0
    assert np.isnan(b["mean_gap_days"]) and np.isnan(b["gap_std_days"]) and np.isnan(b["recency_vs_usual_gap"])
    assert b["distinct_categories"] == 0.0
    assert b["spend_trend_pct"] == 100.0        # nothing before, something now
    c = features.loc["c"]
    assert c["tenure_days"] == 12.0             # from the first transaction (no sign-up date)
    assert c["monetary_lifetime"] == 3.0        # 2024-01-05 is after the cutoff


def test_hand_computed_service_features(features: pd.DataFrame) -> None:
    a, b, c = features.loc["a"], features.loc["b"], features.loc["c"]
    # a: complaint 2023-11-01 resolved after the cutoff (unresolved at it), survey 2023-12-01 (2/5),
    # complaint 2023-12-02 resolved 2023-12-06 (4 days, 4/5), complaint at the cutoff (not seen).
    assert a["complaints_90d"] == 2.0
    assert a["complaints_30d"] == 1.0
    assert a["surveys_90d"] == 1.0
    assert a["unresolved_complaints"] == 1.0
    assert a["oldest_unresolved_complaint_days"] == 61.0
    assert a["mean_resolution_days"] == 4.0 and a["max_resolution_days"] == 4.0
    assert a["last_satisfaction"] == 4.0
    assert a["lowest_satisfaction_365d"] == 2.0
    assert a["days_since_last_complaint"] == 30.0
    assert a["days_since_account_manager_change"] == NEVER_DAYS
    # 60 - 5*2 complaints + 10*(4-3) - 10*1 unresolved - 10*4/30 slow resolution
    assert a["service_experience_score"] == pytest.approx(60 - 10 + 10 - 10 - 4 / 3)
    assert b["days_since_account_manager_change"] == 30.0
    assert b["account_manager_changes_365d"] == 1.0
    assert b["complaints_365d"] == 1.0 and b["complaints_90d"] == 0.0
    assert b["mean_resolution_days"] == 10.0
    assert b["lowest_satisfaction_365d"] == 1.0
    # c never had a service event: counts 0, "days since" the sentinel, scores NaN.
    assert c["complaints_lifetime"] == 0.0 and c["unresolved_complaints"] == 0.0
    assert c["days_since_last_complaint"] == NEVER_DAYS
    assert np.isnan(c["last_satisfaction"]) and np.isnan(c["mean_resolution_days"])
    assert c["service_experience_score"] == 60.0


def test_columns_follow_specs_and_dtypes(features: pd.DataFrame) -> None:
    specs = feature_specs(small_dataset())
    assert list(features.reset_index().columns) == ["customer_id", "cutoff", *[s.name for s in specs]]
    assert isinstance(features["plan"].dtype, pd.CategoricalDtype)
    assert list(features["plan"].cat.categories) == ["basic", "gold"]
    numeric = [s.name for s in specs if s.kind == "numeric"]
    assert all(features[n].dtype == np.float64 for n in numeric)
    # No NaN soup: only the features that document a missing rule may be NaN.
    may_be_missing = {s.name for s in specs if s.missing and "NaN" in s.missing}
    nan_columns = {n for n in numeric if features[n].isna().any()}
    assert nan_columns <= may_be_missing


def test_no_service_events_leaves_out_service_features() -> None:
    dataset = small_dataset(service=False)
    names = [s.name for s in feature_specs(dataset)]
    assert "complaints_90d" not in names and "service_experience_score" not in names
    frame = build_features(dataset, [CUTOFF], Config())
    assert list(frame.columns[2:]) == names
    assert {s.source for s in feature_specs(dataset)} == {"transactions", "customers"}


def test_several_cutoffs_equal_one_at_a_time() -> None:
    dataset = small_dataset()
    cutoffs = [T("2023-11-15"), T("2023-12-15"), CUTOFF]
    together = build_features(dataset, cutoffs, Config(), cutoffs_per_query=len(cutoffs))   # one query
    apart = pd.concat([build_features(dataset, [c], Config()) for c in cutoffs], ignore_index=True)
    pd.testing.assert_frame_equal(together, apart)


def test_events_of_customers_closed_before_the_cutoff_are_not_aggregated() -> None:
    # They are outside the population, so the passes over transactions and service events drop
    # them first (the cost of the aggregates); one closed at the cutoff or later keeps everything.
    small = small_dataset()
    frames = {name: small.con.execute(f"SELECT * FROM {name}").df() for name in ("customers", "transactions", "service_events")}
    frames["churn_events"] = pd.DataFrame({"customer_id": ["b", "a"], "timestamp": [T("2023-12-15"), CUTOFF]})
    dataset = Dataset.from_frames(frames)
    cutoffs = [T("2023-12-10"), CUTOFF]
    sql = feature_sql(dataset, cutoffs, Config())
    passes = sql[: sql.index("\nSELECT cu.customer_id")]
    for relation in ("tm", "sa"):
        rows = set(dataset.con.execute(f"{passes}\nSELECT customer_id, cutoff FROM {relation}").fetchall())
        assert ("b", CUTOFF.to_pydatetime()) not in rows, relation
        assert {("b", cutoffs[0].to_pydatetime()), ("a", CUTOFF.to_pydatetime())} <= rows, relation
    got = build_features(dataset, cutoffs, Config())
    without = build_features(Dataset.from_frames({k: v for k, v in frames.items() if k != "churn_events"}), cutoffs, Config())
    assert set(zip(got["customer_id"], got["cutoff"])) == set(zip(without["customer_id"], without["cutoff"])) - {("b", CUTOFF)}
    key = ["cutoff", "customer_id"]
    pd.testing.assert_frame_equal(got.set_index(key), without.set_index(key).drop((CUTOFF, "b")).loc[got.set_index(key).index])


def test_empty_population_gives_empty_frame_with_columns() -> None:
    dataset = small_dataset()
    frame = build_features(dataset, [T("2000-01-01")], Config())
    assert frame.empty
    assert list(frame.columns[2:]) == [s.name for s in feature_specs(dataset)]


def test_description_is_json_ready_and_complete() -> None:
    description = feature_description(small_dataset())
    json.dumps(description)
    assert {"name", "description", "source", "window", "kind", "monotone", "reason", "missing"} <= set(description[0])
    by_name = {d["name"]: d for d in description}
    assert by_name["days_since_last_purchase"]["monotone"] == 1  # no churn_events: churn is inactivity
    assert by_name["frequency_90d"]["monotone"] == -1
    assert by_name["unresolved_complaints"]["monotone"] == 1
    # With churn_events, dormant accounts close least: activity is left to the trees; reasons keep their side.
    contractual = {d["name"]: d for d in feature_description(small_dataset(churn=True))}
    for name, side in (("days_since_last_purchase", 1), ("recency_vs_usual_gap", 1), ("frequency_90d", -1)):
        assert contractual[name]["monotone"] == 0 and contractual[name]["reason_side"] == side, name
    assert contractual["unresolved_complaints"]["monotone"] == 1
    assert by_name["plan"]["kind"] == "categorical"
    assert str(int(NEVER_DAYS)) in by_name["days_since_last_complaint"]["missing"]
    assert all(d["monotone"] in (-1, 0, 1) and d["description"] for d in description)


def test_every_reason_renders_for_a_real_row(features: pd.DataFrame) -> None:
    row = features.loc["a"]
    shown = []
    for spec in feature_specs(small_dataset()):
        text = render_reason(spec, row)
        assert isinstance(text, str)
        assert "{" not in text and "nan" not in text
        shown += [text] if text else []
    # a's history makes many of them true (a sentence for everyone would pass the checks above)
    assert len(shown) >= 10 and "1 unresolved complaint" in shown and "plan: gold" in shown


def test_render_reason_examples(features: pd.DataFrame) -> None:
    specs = {s.name: s for s in feature_specs(small_dataset())}
    a, c = features.loc["a"], features.loc["c"]
    assert render_reason(specs["recency_vs_usual_gap"], a) == "no purchase for 61 days (usually every 30)"
    assert render_reason(specs["unresolved_complaints"], a) == "1 unresolved complaint"   # a count of one is singular
    # A trend's sentence reads one way: a rise of 50% is no "spend down" reason.
    assert render_reason(specs["spend_trend_pct"], a) == ""
    assert render_reason(specs["spend_trend_pct"], {"spend_trend_pct": -50.4}) == "spend down 50% on the previous quarter"
    assert render_reason(specs["frequency_trend"], {"frequency_trend": -1.0}) == "1 fewer purchase than in the previous quarter"
    assert render_reason(specs["frequency_trend"], {"frequency_trend": 0.0}) == ""
    assert render_reason(specs["plan"], a) == "plan: gold"
    # Missing or sentinel values give no sentence rather than "every nan" or "9999 days".
    assert render_reason(specs["recency_vs_usual_gap"], c) == ""
    assert render_reason(specs["days_since_last_complaint"], c) == ""
    assert render_reason(specs["mean_gap_days"], a) == ""   # no reason template
    spec = FeatureSpec("x", "", "customers", None, "numeric", 0, "{x:.0f} things")
    assert render_reason(spec, {}) == ""
    calls = FeatureSpec("calls", "", "service_events", "30d", "numeric", 1, "{calls:.0f} calls in the last 30 days")
    assert [render_reason(calls, {"calls": n}) for n in (1.0, 2.0, 21.0)] == [
        "1 call in the last 30 days", "2 calls in the last 30 days", "21 calls in the last 30 days"]
    # Net refunds read "spent -52 in the last 30 days"
    assert render_reason(specs["monetary_30d"], {"monetary_30d": -52.4}) == "refunded 52 more than bought in the last 30 days"
    assert render_reason(specs["monetary_30d"], {"monetary_30d": 1234.0}) == "spent 1,234 in the last 30 days"
    # One account manager change is said by "changed N days ago"; the count is a reason from two on.
    assert [render_reason(specs["account_manager_changes_365d"], {"account_manager_changes_365d": n}) for n in (1.0, 2.0)] == [
        "", "2 account manager changes in the last year"]
    # Less than a day before the cutoff read "complained 0 days ago"
    assert [render_reason(specs["days_since_last_complaint"], {"days_since_last_complaint": d}) for d in (0.3, 1.0, 10.2)] == [
        "complained within the last day", "complained 1 day ago", "complained 10 days ago"]


def test_explain_with_the_real_specs_shows_each_reason_its_feature_drives(features: pd.DataFrame) -> None:
    # explain passes a template's fields; specs with a bound are checked on their own value too,
    # which the "usually every" sentence does not show (it went missing that way once).
    specs = feature_specs(small_dataset())
    names = [s.name for s in specs]
    X = features.loc[["a"], names]
    for name, sentence in (("recency_vs_usual_gap", "no purchase for 61 days (usually every 30)"),
                           ("unresolved_complaints", "1 unresolved complaint")):
        contributions = pd.DataFrame(0.0, index=X.index, columns=names)
        contributions[name] = 1.0
        assert explain(contributions, X, specs) == [[sentence]], name


def test_sql_transpiles_to_spark() -> None:
    dataset = small_dataset()
    sql = feature_query(table_columns(dataset), dataset.attributes, [CUTOFF, T("2023-12-01")], Config(),
                        transaction_values(dataset), engine="spark")
    spark = sqlglot.transpile(sql, read="duckdb", write="spark")[0]
    assert "UNIX_TIMESTAMP" in spark and "MAX_BY" in spark and "LAG(" in spark and "LIST" not in spark


def test_cli_writes_feature_table_and_description(tmp_path) -> None:
    from typer.testing import CliRunner

    from churnml.cli import get_app

    folder = tmp_path / "data"
    folder.mkdir()
    pd.DataFrame({"customer_id": ["a", "b"], "signup_date": ["2023-01-01", "2023-02-01"], "plan": ["gold", "basic"]}
                 ).to_csv(folder / "customers.csv", index=False)
    pd.DataFrame({"customer_id": ["a", "a", "b"], "timestamp": ["2023-11-01", "2023-12-01", "2024-01-02"],
                  "amount": [10, 20, 5]}).to_csv(folder / "transactions.csv", index=False)
    out = tmp_path / "out" / "features.csv"
    runner = CliRunner()
    result = runner.invoke(get_app(), ["features", str(folder), "--as-of", "2024-01-01", "--out", str(out)])
    assert result.exit_code == 0, result.output + result.stderr
    table = pd.read_csv(out)
    assert list(table["customer_id"]) == ["a"]          # b's only transaction is after the as-of date
    assert table.loc[0, "days_since_last_purchase"] == 31.0
    description = json.loads((tmp_path / "out" / "features.csv.features.json").read_text())
    assert [d["name"] for d in description] == list(table.columns[2:])
    assert "1 customers x" in " ".join(result.output.split())

    empty = runner.invoke(get_app(), ["features", str(folder), "--as-of", "2020-01-01", "--out", str(out)])
    assert empty.exit_code == 2
    assert "Error: As-of date 2020-01-01 is not after the first transaction" in " ".join(empty.stderr.split())
    bad = runner.invoke(get_app(), ["features", str(folder), "--as-of", "01/02/2024", "--out", str(out)])
    assert bad.exit_code == 2 and "is not a date" in bad.stderr


def test_window_edges_include_their_first_instant_and_nothing_before() -> None:
    # A window of N days is [cutoff - N days, cutoff): a purchase or service event exactly N days
    # before the cutoff counts, one a second earlier does not. (Mutation testing moved every edge
    # by a day or a second, and the hand-computed tests, whose events sit inside the windows, passed.)
    rows, events = [], []
    for i, days in enumerate((30, 90, 180, 365)):
        edge = CUTOFF - pd.Timedelta(days=days)
        rows += [("in", edge, 10.0 ** i), ("out", edge - pd.Timedelta(seconds=1), 10.0 ** i)]
    for days in (30, 90, 365):
        edge = CUTOFF - pd.Timedelta(days=days)
        events += [("in", edge, "ticket"), ("out", edge - pd.Timedelta(seconds=1), "ticket")]
    # the trend's previous quarter: [cutoff - 180 days, cutoff - 90 days)
    frames = {
        "customers": pd.DataFrame({"customer_id": ["in", "out"], "signup_date": [T("2020-01-01")] * 2}),
        "transactions": pd.DataFrame(rows, columns=["customer_id", "timestamp", "amount"]),
        "service_events": pd.DataFrame(events, columns=["customer_id", "timestamp", "event_type"]),
    }
    got = build_features(Dataset.from_frames(frames), [CUTOFF], Config()).set_index("customer_id")
    inside, outside = got.loc["in"], got.loc["out"]
    # "in": purchases of 1, 10, 100, 1000 at exactly 30, 90, 180, 365 days before the cutoff
    assert [inside[f"frequency_{d}d"] for d in (30, 90, 180, 365)] == [1, 2, 3, 4]
    assert [inside[f"monetary_{d}d"] for d in (30, 90, 180, 365)] == [1, 11, 111, 1111]
    assert inside["spend_prev_90d"] == 100   # at 180 days: in [cutoff - 180, cutoff - 90); at 90 days: not
    assert [inside[f"tickets_{d}d"] for d in (30, 90, 365)] == [1, 2, 3]
    # "out": each a second before its window opens, so in the next window only
    assert [outside[f"frequency_{d}d"] for d in (30, 90, 180, 365)] == [0, 1, 2, 3]
    assert [outside[f"monetary_{d}d"] for d in (30, 90, 180, 365)] == [0, 1, 11, 111]
    assert outside["spend_prev_90d"] == 10
    assert [outside[f"tickets_{d}d"] for d in (30, 90, 365)] == [0, 1, 2]


def test_service_features_of_overlapping_complaints_by_hand() -> None:
    # Two complaints open at the cutoff (one resolved only after it), one resolved long ago, and two
    # surveys at the same instant. Each value below is worked out from the definitions.
    at = lambda days: CUTOFF - pd.Timedelta(days=days)  # noqa: E731
    frames = {
        "customers": pd.DataFrame({"customer_id": ["s", "r"], "signup_date": [T("2020-01-01")] * 2}),
        "transactions": pd.DataFrame({"customer_id": ["s", "r", "r"], "timestamp": [at(3), at(100), at(50)],
                                      "amount": [10.0, -5.0, 20.0]}),   # r's first transaction is a refund
        "service_events": pd.DataFrame({
            "customer_id": ["s"] * 5,
            "timestamp": [at(40), at(10), at(200), at(5), at(5)],
            "event_type": ["complaint", "complaint", "complaint", "survey", "survey"],
            "resolved_at": [None, CUTOFF + pd.Timedelta(days=5), at(190), None, None],
            "satisfaction": [None, None, None, 4.0, 2.0],
        }),
    }
    got = build_features(Dataset.from_frames(frames), [CUTOFF], Config()).set_index("customer_id")
    s = got.loc["s"]
    assert s["unresolved_complaints"] == 2 and s["oldest_unresolved_complaint_days"] == 40
    assert (s["complaints_90d"], s["complaints_365d"], s["complaints_lifetime"]) == (2, 3, 3)
    assert s["mean_resolution_days"] == 10 and s["max_resolution_days"] == 10   # the one resolved before the cutoff
    assert s["days_since_last_complaint"] == 10
    assert s["last_satisfaction"] == 2   # two answers at one instant: the lower counts
    # 60 - 5 x 2 complaints in 90 days + 10 x (2 - 3) - 10 x 2 unresolved - 10 x 10 / 30 days of resolution
    assert s["service_experience_score"] == pytest.approx(60 - 10 - 10 - 20 - 10 / 3)
    assert got.loc["r", "days_since_first_purchase"] == 50   # the refund 100 days ago is no purchase


def test_many_categories_count_only_those_used_before_the_cutoff() -> None:
    # More values than a bitmask holds: the distinct count takes its own GROUP BY, with the same
    # point-in-time rule (a category first used exactly at the cutoff does not count yet).
    n = MAX_BITMASK_VALUES + 8
    frames = {
        "customers": pd.DataFrame({"customer_id": ["x"], "signup_date": [T("2020-01-01")]}),
        "transactions": pd.DataFrame({
            "customer_id": "x",
            "timestamp": [CUTOFF - pd.Timedelta(days=1 + i) for i in range(n)] + [CUTOFF],
            "amount": 1.0,
            "category": [f"c{i}" for i in range(n)] + ["new"],
        }),
    }
    dataset = Dataset.from_frames(frames)
    assert transaction_values(dataset)["category"] is None   # too many values for the bitmask
    assert build_features(dataset, [CUTOFF], Config()).set_index("customer_id").loc["x", "distinct_categories"] == n


def test_a_cutoff_with_a_time_zone_is_taken_in_utc() -> None:
    assert normalize_cutoffs(["2024-01-01T00:00:00+05:00"]) == [T("2023-12-31 19:00")]


def test_the_year_long_counts_leave_out_what_is_older() -> None:
    # refunds_365d, account_manager_changes_365d and lowest_satisfaction_365d look back one year:
    # the same events a second older than that do not count.
    year = CUTOFF - pd.Timedelta(days=365)
    older = year - pd.Timedelta(seconds=1)
    frames = {
        "customers": pd.DataFrame({"customer_id": ["in", "old"], "signup_date": [T("2020-01-01")] * 2}),
        "transactions": pd.DataFrame({"customer_id": ["in", "in", "old", "old"], "timestamp": [year, at_day(10), older, at_day(10)],
                                      "amount": [-7.0, 20.0, -7.0, 20.0]}),
        "service_events": pd.DataFrame({
            "customer_id": ["in", "in", "old", "old", "in", "old"],
            "timestamp": [year, year, older, older, at_day(5), at_day(5)],
            "event_type": ["account_manager_change", "survey", "account_manager_change", "survey", "survey", "survey"],
            "satisfaction": [None, 1.0, None, 1.0, 4.0, 4.0],
        }),
    }
    got = build_features(Dataset.from_frames(frames), [CUTOFF], Config()).set_index("customer_id")
    assert (got.loc["in", "refunds_365d"], got.loc["old", "refunds_365d"]) == (1, 0)
    assert (got.loc["in", "refund_amount_365d"], got.loc["old", "refund_amount_365d"]) == (7, 0)
    assert (got.loc["in", "account_manager_changes_365d"], got.loc["old", "account_manager_changes_365d"]) == (1, 0)
    assert (got.loc["in", "lowest_satisfaction_365d"], got.loc["old", "lowest_satisfaction_365d"]) == (1, 4)


def at_day(days: float) -> pd.Timestamp:
    return CUTOFF - pd.Timedelta(days=days)


def test_attribute_names_with_punctuation_make_usable_features() -> None:
    # A customers column named 'plan "gold"' stopped `churnml train` with LightGBM's "Do not support
    # special JSON characters in feature name" traceback, and 'price.eur' or '{x}' broke its reason
    # template ("{price.eur}" reads attribute eur of price).
    import lightgbm as lgb

    weird = {'plan "gold"': ["y", "n", "y", "n"], "price.eur": [1.5, 2.0, 3.0, 4.0], "{x}": ["a", "b", "a", "b"],
             "a:b[0]": [1, 2, 3, 4], "price_eur": [5, 6, 7, 8]}
    base = small_dataset()
    frames = {t: base.con.execute(f"SELECT * FROM {t}").fetchdf() for t in base.tables}
    frames["customers"] = frames["customers"].assign(**weird)
    dataset = Dataset.from_frames(frames)
    features = build_features(dataset, [CUTOFF], Config()).set_index("customer_id")
    specs = {spec.column: spec for spec in feature_specs(dataset) if spec.column in weird}
    assert len({spec.name for spec in specs.values()}) == len(weird)
    assert features.loc["a", specs["price.eur"].name] == 1.5 and features.loc["b", specs["{x}"].name] == "b"
    assert render_reason(specs['plan "gold"'], {specs['plan "gold"'].name: "y"}) == 'plan "gold": y'
    assert render_reason(specs["price.eur"], {specs["price.eur"].name: 2.0}) == "price.eur: 2"
    assert render_reason(specs["{x}"], {specs["{x}"].name: "a"}) == "{x}: a"
    frame = features[[spec.name for spec in specs.values()]].copy()
    for name in (specs['plan "gold"'].name, specs["{x}"].name):
        frame[name] = frame[name].astype("category")
    lgb.Dataset(frame, label=[0, 1, 0, 1][: len(frame)], params={"verbosity": -1}).construct()


def test_descriptions_say_what_refunds_do_to_categories_and_the_spend_trend() -> None:
    # The features JSON is what an analyst reads to know a feature. "Categories bought" counted a
    # category the customer only returned (67 of 3,833 refunds in 3,000 generated customers were in a
    # category the customer never bought; 33 of 1,358 scored customers got a higher count than
    # "bought" means), and "no spend before" did not say a quarter of net refunds counts as none
    # (spend_trend_pct reads 0, not +100 %, for 0 now after -6.57 before).
    frames = {
        "customers": pd.DataFrame({"customer_id": ["r", "s"], "signup_date": [T("2020-01-01")] * 2}),
        "transactions": pd.DataFrame({
            "customer_id": ["r", "r", "s", "s"],
            "timestamp": [T("2023-12-01"), T("2023-12-10"), T("2023-08-01"), T("2023-12-01")],
            "amount": [20.0, -5.0, -6.57, 0.0],
            "category": ["shoes", "bags", "shoes", "shoes"],
            "channel": ["web", "shop", "web", "web"],
        }),
    }
    dataset = Dataset.from_frames(frames)
    got = build_features(dataset, [CUTOFF], Config()).set_index("customer_id")
    described = {d["name"]: d["description"] for d in feature_description(dataset)}
    # r bought shoes on the web and returned bags in the shop: two of each, the refund included.
    assert got.loc["r", "distinct_categories"] == 2 and got.loc["r", "distinct_channels"] == 2
    assert "bought" not in described["distinct_categories"]
    for name in ("distinct_categories", "distinct_channels"):
        assert "refund" in described[name], described[name]
    # s: net spend -6.57 in days 91-180, 0 in the last 90: no spend in either, so 0.
    assert got.loc["s", "spend_prev_90d"] == pytest.approx(-6.57) and got.loc["s", "spend_trend_pct"] == 0.0
    assert "refunds" in described["spend_trend_pct"], described["spend_trend_pct"]


def test_the_spend_trend_description_says_what_net_refunds_now_give() -> None:
    # The description said "net spend of 0 or less counts as none", but the SQL treats only the
    # previous quarter that way: refunds outweighing purchases in the last 90 days give a fall beyond
    # -100 % (C0000912, seed 11: -176 for -39 now after 51 before), which an analyst read as impossible.
    frames = {
        "customers": pd.DataFrame({"customer_id": ["u", "v"], "signup_date": [T("2020-01-01")] * 2}),
        "transactions": pd.DataFrame({
            "customer_id": ["u", "u", "v"],
            "timestamp": [T("2023-08-01"), T("2023-12-01"), T("2023-08-01")],
            "amount": [100.0, -50.0, 100.0],
        }),
    }
    dataset = Dataset.from_frames(frames)
    got = build_features(dataset, [CUTOFF], Config()).set_index("customer_id")
    described = {d["name"]: d["description"] for d in feature_description(dataset)}["spend_trend_pct"]
    # u: 100 bought in days 91-180, 50 refunded in the last 90: the description's own example.
    assert got.loc["u", "monetary_90d"] == -50.0 and got.loc["u", "spend_trend_pct"] == pytest.approx(-150.0)
    assert "below -100" in described and "(-150 for net refunds of half the spend before)" in described, described
    # v: nothing now after 100 before.
    assert got.loc["v", "spend_trend_pct"] == -100.0 and "-100 for none now" in described, described


def test_a_second_features_on_the_same_out_stops_at_once_while_the_first_runs(tmp_path) -> None:
    # `churnml features --out` took no lock, as score does: two overlapping runs on the same --out (a
    # scheduler's retry beside a slow run) each replaced the other's files, and could leave one run's table
    # beside the other's .features.json. The second now stops before any work with exit code 75, naming the
    # first; the lock dies with its process, so after a kill -9 the next run takes it.
    import sys
    from pathlib import Path

    from conftest import check_a_second_run_stops_while_the_first_holds_the_lock

    from churnml.generate import generate

    data = tmp_path / "data"
    generate(data, 300, seed=2)
    churnml = str(Path(sys.executable).with_name("churnml"))
    out = tmp_path / "nightly" / "features.parquet"
    check_a_second_run_stops_while_the_first_holds_the_lock(
        [churnml, "features", str(data), "--as-of", "2025-12-01", "--out", str(out)], out, "features",
        ["features.parquet", "features.parquet.features.json"], cwd=tmp_path)
