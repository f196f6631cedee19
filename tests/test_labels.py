"""Population, labels, training cutoffs and training sets: the rules of DESIGN.md, case by case."""

from __future__ import annotations

import pandas as pd
import pytest

from churnml.config import Config
from churnml.dataset import Dataset
from churnml.errors import ProblemError
from churnml.labels import (
    build_labels,
    build_scoring_frame,
    build_training_set,
    outside_population,
    population,
    same_season_cutoff,
    training_cutoffs,
)

T = pd.Timestamp
CUTOFF = T("2024-01-01")


def dataset(churn_events: pd.DataFrame | None = None, **extra: pd.DataFrame) -> Dataset:
    """Five customers around CUTOFF:

    * a: active, buys in the label window (2024-02-01, 30 + 12.5)
    * b: active before, silent in the label window
    * c: last bought 400 days before the cutoff (inactive)
    * d: signed up after the cutoff
    * e: no sign-up date, bought only in the label window
    """
    frames = {
        "customers": pd.DataFrame({
            "customer_id": ["a", "b", "c", "d", "e"],
            "signup_date": [T("2022-01-01"), T("2022-01-01"), T("2021-01-01"), T("2024-01-15"), None],
        }),
        "transactions": pd.DataFrame({
            "customer_id": ["a", "a", "a", "b", "c", "d", "e", "a"],
            "timestamp": [T("2023-12-01"), T("2024-02-01"), T("2024-02-01 12:00"), T("2023-06-01"),
                          T("2022-11-27"), T("2024-01-20"), T("2024-01-10"), T("2024-03-31")],
            "amount": [5.0, 30.0, 12.5, 8.0, 9.0, 4.0, 6.0, 100.0],
        }),
    }
    if churn_events is not None:
        frames["churn_events"] = churn_events
    frames.update(extra)
    return Dataset.from_frames(frames)


def labels_by_customer(ds: Dataset, config: Config = Config(), cutoff: pd.Timestamp = CUTOFF) -> pd.DataFrame:
    return build_labels(ds, [cutoff], config).set_index("customer_id")


# -- non-contractual ---------------------------------------------------------------------------


def test_non_contractual_population_needs_recent_activity() -> None:
    members = population(dataset(), [CUTOFF], Config())
    # c: last transaction 400 days ago (> active_days=365); d: signs up later; e: nothing before.
    assert list(members["customer_id"]) == ["a", "b"]
    wider = Config().replace(problem={"active_days": 500})
    assert list(population(dataset(), [CUTOFF], wider)["customer_id"]) == ["a", "b", "c"]


def test_non_contractual_labels() -> None:
    labels = labels_by_customer(dataset())
    assert labels.loc["a", "churned"] == 0 and labels.loc["a", "value"] == 42.5
    assert labels.loc["b", "churned"] == 1 and labels.loc["b", "value"] == 0.0
    assert labels["churned"].dtype == "int8" and labels["value"].dtype == "float64"


def test_edges_of_the_population_and_the_labels() -> None:
    # Each rule at its exact edge (mutation testing moved them by an instant and the tests passed):
    # * signed up exactly at the cutoff: not yet a customer ("signed up before it");
    # * last transaction exactly active_days before the cutoff: active; a second earlier: not;
    # * refunds inside the horizon lower the value, and a refund is a transaction: not churned.
    start = CUTOFF - pd.Timedelta(days=365)
    frames = {
        "customers": pd.DataFrame({"customer_id": ["at_cutoff", "edge", "before_edge", "refund"],
                                   "signup_date": [CUTOFF, T("2020-01-01"), T("2020-01-01"), T("2020-01-01")]}),
        "transactions": pd.DataFrame({
            "customer_id": ["at_cutoff", "edge", "before_edge", "refund", "refund", "refund", "edge"],
            "timestamp": [CUTOFF - pd.Timedelta(days=3), start, start - pd.Timedelta(seconds=1), T("2023-12-01"),
                          T("2024-01-10"), T("2024-02-10"), T("2024-03-01")],
            "amount": [5.0, 5.0, 5.0, 50.0, 100.0, -30.0, -8.0],
        }),
    }
    labels = labels_by_customer(Dataset.from_frames(frames))
    assert list(labels.index) == ["edge", "refund"]
    assert labels.loc["refund", "value"] == 70.0 and labels.loc["refund", "churned"] == 0
    assert labels.loc["edge", "value"] == -8.0 and labels.loc["edge", "churned"] == 0   # only a refund: still active


def test_horizon_is_half_open_and_margin_applies() -> None:
    # horizon 90 days: window [2024-01-01, 2024-03-31); a's 100 on 2024-03-31 is just outside.
    labels = labels_by_customer(dataset(), Config().replace(problem={"margin": 0.5}))
    assert labels.loc["a", "value"] == 21.25
    longer = labels_by_customer(dataset(), Config().replace(problem={"horizon_days": 91}))
    assert longer.loc["a", "value"] == 142.5


def test_labels_have_the_feature_rows() -> None:
    from churnml.features import build_features

    cutoffs = [T("2023-07-01"), CUTOFF]
    features = build_features(dataset(), cutoffs, Config())
    labels = build_labels(dataset(), cutoffs, Config())
    pd.testing.assert_frame_equal(features[["customer_id", "cutoff"]], labels[["customer_id", "cutoff"]])


def outside(ds: Dataset, config: Config = Config(), cutoff: pd.Timestamp = CUTOFF) -> list[tuple]:
    """(customer_id, reason, date) of :func:`outside_population`, checked to be every customer the
    population leaves out, once."""
    frame = outside_population(ds, cutoff, config)
    members = set(population(ds, [cutoff], config)["customer_id"])
    customers = ds.con.execute("SELECT customer_id FROM customers").df()["customer_id"]
    assert sorted(frame["customer_id"]) == sorted(set(customers) - members) and not members & set(frame["customer_id"])
    assert str(frame["reason"].dtype) == "category" and frame["date"].dtype.kind == "M"
    return [(c, r, None if pd.isna(d) else d) for c, r, d in frame[["customer_id", "reason", "date"]].itertuples(index=False)]


def test_outside_population_names_the_rule_that_left_each_customer_out() -> None:
    # The HTTP API's not_found said only "signed up since, account closed, inactive, or an id the data
    # does not have": a CRM could not tell which.
    assert outside(dataset()) == [("c", "inactive", T("2022-11-27")), ("d", "signed_up", T("2024-01-15")),
                                  ("e", "no_history", None)]
    # Inactive without any transaction before the cutoff: no date; a wider active_days lets c in.
    silent = dataset(customers=pd.DataFrame({"customer_id": ["a", "s"], "signup_date": [T("2020-01-01")] * 2}))
    assert outside(silent) == [("s", "inactive", None)]
    assert outside(dataset(), Config().replace(problem={"active_days": 500})) == [
        ("d", "signed_up", T("2024-01-15")), ("e", "no_history", None)]
    # With churn_events: the first closure's day, activity does not count (c closes exactly at the cutoff: in).
    closures = dataset(churn(("b", "2023-12-31 08:30"), ("b", "2023-12-31 10:00"), ("c", "2024-01-01"), ("a", "2024-06-01")))
    assert outside(closures) == [("b", "closed", T("2023-12-31")), ("d", "signed_up", T("2024-01-15")),
                                 ("e", "no_history", None)]
    # Without a signup_date column, a customer exists from their first transaction.
    no_signup = dataset(customers=pd.DataFrame({"customer_id": ["a", "b", "c", "d", "e"]}))
    assert outside(no_signup) == [("c", "inactive", T("2022-11-27")), ("d", "no_history", None),
                                  ("e", "no_history", None)]


# -- contractual -------------------------------------------------------------------------------


def churn(*rows: tuple[str, str]) -> pd.DataFrame:
    return pd.DataFrame({"customer_id": [r[0] for r in rows], "timestamp": [T(r[1]) for r in rows]})


def test_contractual_population_ignores_activity_but_excludes_earlier_churn() -> None:
    ds = dataset(churn(("b", "2023-12-31"), ("c", "2024-01-01"), ("a", "2024-06-01")))
    members = population(ds, [CUTOFF], Config())
    # b churned before the cutoff; c churns exactly at it (still a customer at the cutoff, and
    # inactive customers count in a contract); d not yet signed up; e has no sign-up and no
    # transaction before the cutoff.
    assert list(members["customer_id"]) == ["a", "c"]


def test_contractual_labels() -> None:
    ds = dataset(churn(("c", "2024-01-01"), ("a", "2024-06-01")))
    labels = labels_by_customer(ds)
    assert labels.loc["c", "churned"] == 1            # churn event exactly at the cutoff: label
    assert labels.loc["a", "churned"] == 0            # churns after the horizon
    assert labels.loc["a", "value"] == 42.5           # value is still the spend in the window


def test_no_service_events_case_builds_training_set() -> None:
    ds = dataset()
    assert not ds.has("service_events")
    config = Config().replace(problem={"n_cutoffs": 3, "cutoff_step_days": 30, "horizon_days": 30})
    training = build_training_set(ds, T("2024-02-15"), config)
    assert not any(name.startswith("complaints") for name in training.feature_names)


# -- training cutoffs --------------------------------------------------------------------------


def test_training_cutoffs_step_back_from_as_of_minus_horizon_with_purged_gaps() -> None:
    config = Config().replace(problem={"n_cutoffs": 5, "cutoff_step_days": 30, "horizon_days": 90})
    as_of = T("2024-07-01")
    cutoffs = training_cutoffs(as_of, config, data_start=T("2020-01-01"))
    # test = as_of - 90 days; validation one horizon before; 3 train cutoffs 30 days apart before that
    assert cutoffs == [T("2023-08-06"), T("2023-09-05"), T("2023-10-05"), T("2024-01-03"), T("2024-04-02")]
    assert all(c + pd.Timedelta(days=90) <= as_of for c in cutoffs)


@pytest.mark.parametrize("step, horizon, n_val, n_test", [(30, 90, 1, 1), (30, 90, 2, 2), (7, 30, 1, 3), (120, 90, 1, 1)])
def test_no_label_window_reaches_into_a_later_split(step: int, horizon: int, n_val: int, n_test: int) -> None:
    config = Config().replace(problem={"n_cutoffs": n_val + n_test + 3, "cutoff_step_days": step, "horizon_days": horizon,
                                       "n_validation_cutoffs": n_val, "n_test_cutoffs": n_test})
    cutoffs = training_cutoffs(T("2024-07-01"), config, data_start=T("2020-01-01"))
    train, validation, test = cutoffs[:3], cutoffs[3:3 + n_val], cutoffs[3 + n_val:]
    window = pd.Timedelta(days=horizon)
    assert max(train) + window <= min(validation) and max(validation) + window <= min(test)
    assert max(test) == T("2024-07-01") - window
    for split in (train, validation, test):  # within a split, cutoffs are one step apart
        assert all(b - a == pd.Timedelta(days=step) for a, b in zip(split, split[1:]))


def test_the_same_season_cutoff_is_the_oldest_default_one_and_none_when_no_cutoff_is_a_year_back() -> None:
    as_of = T("2025-10-01")
    cutoffs = training_cutoffs(as_of, Config(), data_start=T("2020-01-01"))
    assert same_season_cutoff(cutoffs, as_of) == cutoffs[0] == as_of - pd.Timedelta(days=360)
    short = Config().replace(problem={"horizon_days": 30, "cutoff_step_days": 30})   # cutoffs span 7 months
    assert same_season_cutoff(training_cutoffs(as_of, short, data_start=T("2020-01-01")), as_of) is None
    # A year back, but with less than a year of data before it: its 365-day and lifetime windows are
    # cut short, and the value level fitted there put a wholesaler's forward test 12.3 % high.
    young = T("2024-07-01")  # 97 days before the cutoff a year back
    cutoffs = training_cutoffs(as_of, Config(), data_start=young)
    assert cutoffs[0] - young < pd.Timedelta(days=365) and abs(cutoffs[0] - (as_of - pd.Timedelta(days=365))) <= pd.Timedelta(days=15)
    assert same_season_cutoff(cutoffs, as_of, data_start=young) is None
    assert same_season_cutoff(cutoffs, as_of, data_start=cutoffs[0] - pd.Timedelta(days=365)) == cutoffs[0]


def test_training_cutoffs_keep_only_those_after_the_data_start() -> None:
    config = Config().replace(problem={"n_cutoffs": 6, "cutoff_step_days": 30, "horizon_days": 90})
    cutoffs = training_cutoffs(T("2024-07-01"), config, data_start=T("2023-09-01"))
    assert cutoffs == [T("2023-09-05"), T("2023-10-05"), T("2024-01-03"), T("2024-04-02")]


def test_a_cutoff_on_the_data_start_is_dropped() -> None:
    # A cutoff needs history strictly before it: one falling exactly on the first transaction has none.
    config = Config().replace(problem={"n_cutoffs": 6, "cutoff_step_days": 30, "horizon_days": 90})
    cutoffs = training_cutoffs(T("2024-07-01"), config, data_start=T("2023-09-05"))
    assert cutoffs == [T("2023-10-05"), T("2024-01-03"), T("2024-04-02")]


def test_the_data_end_is_the_latest_event_of_any_table() -> None:
    ds = dataset(service_events=pd.DataFrame({"customer_id": ["a"], "timestamp": [T("2024-05-01")], "event_type": ["call"]}))
    assert ds.data_end == T("2024-05-01")   # transactions end 2024-03-31


def test_too_few_cutoffs_is_a_problem_error_with_a_fix() -> None:
    config = Config().replace(problem={"n_cutoffs": 6, "cutoff_step_days": 30, "horizon_days": 90})
    with pytest.raises(ProblemError) as info:
        training_cutoffs(T("2024-07-01"), config, data_start=T("2023-12-15"))
    message = str(info.value)
    assert "Only 2 training cutoff(s) fit between the data's start 2023-12-15 and as-of 2024-07-01" in message
    assert "at least 3 are needed" in message
    assert "Use a later --as-of" in message


# -- training set ------------------------------------------------------------------------------


def long_history() -> Dataset:
    days = pd.date_range("2023-01-01", "2024-06-30", freq="7D")
    ids = ["a", "b", "c"]
    rows = [(cid, day + pd.Timedelta(hours=i), 10.0 + i) for i, cid in enumerate(ids) for day in days
            if not (cid == "c" and day > T("2024-01-15"))]
    return Dataset.from_frames({
        "customers": pd.DataFrame({"customer_id": ids, "signup_date": [T("2022-06-01")] * 3,
                                   "region": ["n", "s", "n"]}),
        "transactions": pd.DataFrame(rows, columns=["customer_id", "timestamp", "amount"]),
    })


def test_training_set_splits_out_of_time() -> None:
    config = Config().replace(problem={"n_cutoffs": 5, "n_validation_cutoffs": 1, "n_test_cutoffs": 2})
    training = build_training_set(long_history(), T("2024-07-01"), config)
    frame = training.frame
    assert training.cutoffs == sorted(training.cutoffs) and len(training.cutoffs) == 5
    assert training.split_cutoffs["test"] == training.cutoffs[-2:]
    assert training.split_cutoffs["validation"] == training.cutoffs[-3:-2]
    assert training.split_cutoffs["train"] == training.cutoffs[:2]   # and nothing of validation's
    assert frame.groupby("split")["cutoff"].max()["train"] < frame.groupby("split")["cutoff"].min()["validation"]
    assert set(frame.loc[frame.split == "test", "cutoff"]) == set(training.cutoffs[-2:])
    assert list(frame.columns) == ["customer_id", "cutoff", *training.feature_names, "churned", "value", "split"]
    assert training.categorical_features == ["region"]
    assert len(training.split("train")) == 2 * 3
    # Cutoffs: train 2023-08-06, 2023-09-05; validation 2023-12-04; test 2024-03-03, 2024-04-02.
    # c's last purchase is on 2024-01-15, inside the validation window: churned at the test cutoffs only.
    assert training.cutoffs == [T("2023-08-06"), T("2023-09-05"), T("2023-12-04"), T("2024-03-03"), T("2024-04-02")]
    c = frame[frame.customer_id == "c"].set_index("cutoff")["churned"]
    assert list(c) == [0, 0, 0, 1, 1]
    assert (frame[frame.customer_id != "c"]["churned"] == 0).all()


def test_attributes_named_like_label_columns_keep_both() -> None:
    # A CRM export with its own "churned" flag and "value" column crashed train with a KeyError;
    # an attribute "split" was overwritten by the train/validation/test marker.
    base = long_history()
    frames = {t: base.con.execute(f"SELECT * FROM {t}").df() for t in base.tables}
    frames["customers"] = frames["customers"].assign(churned=["no", "no", "yes"], value=[1.0, 2.0, 3.0], split=["x", "y", "x"])
    training = build_training_set(Dataset.from_frames(frames), T("2024-07-01"), Config().replace(problem={"n_cutoffs": 5}))
    frame = training.frame
    assert {"customer_churned", "customer_value", "customer_split"} <= set(training.feature_names)
    by_customer = frame.drop_duplicates("customer_id").set_index("customer_id")
    assert by_customer["customer_churned"].astype(str).to_dict() == {"a": "no", "b": "no", "c": "yes"}
    assert by_customer["customer_value"].to_dict() == {"a": 1.0, "b": 2.0, "c": 3.0}
    assert set(frame["churned"]) <= {0, 1} and set(frame["split"]) == {"train", "validation", "test"}


def test_training_set_quotes_satisfaction_on_the_survey_scale_and_knows_its_history() -> None:
    """Reasons read "3/10" for a 0-10 survey (the feature is on 1-5: 2.2), as the models record
    them; and the days of history before the first cutoff are known (train warns on short ones)."""
    from churnml.features import render_reason

    base = long_history()
    frames = {t: base.con.execute(f"SELECT * FROM {t}").df() for t in ("customers", "transactions")}
    frames["service_events"] = pd.DataFrame({"customer_id": ["a"], "timestamp": [T("2023-05-01")],
                                             "event_type": ["survey"], "satisfaction": [2.2]})
    config = Config().replace(problem={"n_cutoffs": 5}, input={"satisfaction_scale": (0.0, 10.0)})
    training = build_training_set(Dataset.from_frames(frames), T("2024-07-01"), config)
    specs = {s.name: s for s in training.specs}
    assert render_reason(specs["last_satisfaction"], {"last_satisfaction": 2.2}) == "last satisfaction score 3/10"
    assert render_reason(specs["lowest_satisfaction_365d"], {"lowest_satisfaction_365d": 1.0}) == (
        "a satisfaction score of 0/10 in the last year")
    plain = build_training_set(Dataset.from_frames(frames), T("2024-07-01"), Config().replace(problem={"n_cutoffs": 5}))
    assert {s.name: s for s in plain.specs}["last_satisfaction"].reason == "last satisfaction score {last_satisfaction:.0f}/5"
    assert training.history_days() == (min(training.cutoffs) - T("2023-01-01")) / pd.Timedelta(days=1)


def test_training_set_refuses_an_as_of_after_the_data() -> None:
    with pytest.raises(ProblemError, match="As-of date 2025-01-01 is after the data's end \\(2024-06-30\\)"):
        build_training_set(long_history(), T("2025-01-01"), Config())
    # A scoring as-of may be a week late; a label window may not: with the non-contractual label,
    # the test window's missing days would count as churn.
    assert long_history().data_end == T("2024-06-30 01:00")
    assert len(build_training_set(long_history(), T("2024-07-01"), Config()).frame) > 0
    with pytest.raises(ProblemError, match=r"As-of date 2024-07-03 is after the data's end \(2024-06-30\): the latest label "
                                           r"windows would count missing data as churn\. Use an as-of date on or before 2024-07-01"):
        build_training_set(long_history(), T("2024-07-03"), Config())
    # A gym billing every member on the 1st: its data ends on the last billing day, though the
    # export was made at the month's end. The error names the setting that says so.
    with pytest.raises(ProblemError, match=r"load newer data\. If the data is complete to a later day \(members billed on "
                                           r"the 1st, nothing since\), say so with \[input\] data_end = \"YYYY-MM-DD\""):
        build_training_set(long_history(), T("2024-07-03"), Config())


def test_scoring_frame_refuses_an_as_of_long_after_the_data() -> None:
    # dataset() ends 2024-03-31: a week later is a normal scoring date, months later is a mistake
    # that would score everyone as having stopped buying.
    assert len(build_scoring_frame(dataset(), T("2024-04-07"), Config())) > 0
    with pytest.raises(ProblemError, match=r"^As-of date 2024-07-01 is after the data's end \(2024-03-31\): the features "
                                            r"would read the days without data as days without purchases.* on or before 2024-04-07"):
        build_scoring_frame(dataset(), T("2024-07-01"), Config())


def test_scoring_frame_and_empty_population_error() -> None:
    frame = build_scoring_frame(dataset(), CUTOFF, Config())
    assert list(frame["customer_id"]) == ["a", "b"]
    assert "churned" not in frame.columns
    with pytest.raises(ProblemError) as info:
        build_scoring_frame(dataset(), T("2023-03-01"), Config().replace(problem={"active_days": 30}))
    message = str(info.value)
    assert message.startswith("No customers in the population at 2023-03-01.")
    assert "transactions run from 2022-11-27 to 2024-03-31" in message
    # Every customer closed before the date: the churn events are the cause, not the date.
    everyone = churn(*[(c, "2023-06-01") for c in "abcde"])
    with pytest.raises(ProblemError) as info:
        build_scoring_frame(dataset(everyone), CUTOFF, Config())
    assert "5 of 5 customers have a churn event (the last one 2023-06-01)" in str(info.value)
    # Before any transaction, customers who had signed up would be scored on nothing.
    with pytest.raises(ProblemError, match=r"^As-of date 2019-01-01 is not after the first transaction \(2022-11-27\): "
                                            "no customer has any history before it"):
        build_scoring_frame(dataset(), T("2019-01-01"), Config())
    with pytest.raises(ProblemError, match="is not after the first transaction"):
        build_scoring_frame(dataset(), T("2022-11-27"), Config())
