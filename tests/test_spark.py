"""Spark parity: the same features, labels and scores as DuckDB, from the one SQL definition.

One local[2] SparkSession for the module, a few hundred generated customers. Comparisons: integers
and strings exact, floats within 1e-9 relative, categoricals equal (levels and values).
"""

from __future__ import annotations

import decimal
import functools
import json
import os
import pickle
import re
import shutil
import subprocess
import sys
import warnings
from dataclasses import replace
from pathlib import Path
from typing import Callable

import duckdb
import numpy as np
import pandas as pd
import pyarrow.parquet
import pytest
from typer.testing import CliRunner

import pyspark  # noqa: F401  (a dev dependency: a missing pyspark fails here rather than skipping the parity suite)

from churnml import labels as duck_labels
from churnml import validate
from churnml import monitoring
from churnml import spark as churn_spark
from churnml import tracking
from churnml import train as train_module
from churnml.cli import get_app
from churnml.config import Config, config_from_dict
from churnml.errors import ConfigError, DataError
from churnml import features as features_module
from churnml.features import build_features, feature_description
from churnml.generate import generate
from churnml.scoring import SCORE_COLUMNS, score, scores_value_thresholds
from churnml.tracking import LoadedModels
from churnml.validate import load_dataset

pytestmark = pytest.mark.spark

CUSTOMERS = 300
CUTOFFS = [pd.Timestamp("2024-06-01"), pd.Timestamp("2025-03-15 12:30:00")]
TRAIN_AS_OF = pd.Timestamp("2025-09-01")
SCORE_AS_OF = pd.Timestamp("2025-12-01")
RTOL = 1e-9


@pytest.fixture(scope="module")
def spark():
    session = churn_spark.spark_session(
        "local[2]", "churnml-tests",
        {"spark.ui.enabled": "false", "spark.sql.shuffle.partitions": "2", "spark.driver.memory": "1g"},
    )
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("spark") / "data"
    generate(folder, CUSTOMERS, seed=7)
    return folder


@pytest.fixture(scope="module")
def dataset(data_dir: Path):
    ds = load_dataset(data_dir, Config())
    # Spark reads the files as they are; parity needs validation to have set nothing aside.
    assert ds.summary["quarantined_rows"] == 0
    return ds


@pytest.fixture(scope="module")
def sdata(spark, data_dir: Path):
    return churn_spark.read_tables(spark, str(data_dir), Config())


def assert_frames_equal(duck: pd.DataFrame, spark: pd.DataFrame) -> None:
    """Same columns and rows; integers/strings exact, floats within RTOL, categoricals equal."""
    assert list(duck.columns) == list(spark.columns)
    assert len(duck) == len(spark) > 0
    for column in duck.columns:
        left, right = duck[column].reset_index(drop=True), spark[column].reset_index(drop=True)
        if isinstance(left.dtype, pd.CategoricalDtype):
            assert isinstance(right.dtype, pd.CategoricalDtype), column
            assert list(left.cat.categories) == list(right.cat.categories), column
            assert left.astype(object).fillna("∅").tolist() == right.astype(object).fillna("∅").tolist(), column
        elif pd.api.types.is_datetime64_any_dtype(left):
            a, b = left.to_numpy("datetime64[us]"), right.to_numpy("datetime64[us]")
            assert (np.isnat(a) == np.isnat(b)).all() and (np.isnat(a) | (a == b)).all(), column
        elif pd.api.types.is_float_dtype(left):
            assert right.dtype == left.dtype, column
            a, b = left.to_numpy(float), right.to_numpy(float)
            assert (np.isnan(a) == np.isnan(b)).all(), column
            ok = np.isnan(a) | np.isclose(a, b, rtol=RTOL, atol=0.0)
            assert ok.all(), f"{column}: {a[~ok][:5]} vs {b[~ok][:5]}"
        elif pd.api.types.is_integer_dtype(left):
            assert right.dtype == left.dtype, column
            assert (left.to_numpy() == right.to_numpy()).all(), column
        else:
            assert left.astype(str).tolist() == right.astype(str).tolist(), column


# --------------------------------------------------------------------------------------------
# Parity on generated data
# --------------------------------------------------------------------------------------------


def test_features_match_duckdb(dataset, sdata) -> None:
    duck = build_features(dataset, CUTOFFS, Config())
    spark = churn_spark.build_features(sdata, CUTOFFS, Config())
    assert set(duck["cutoff"]) == set(CUTOFFS)
    assert_frames_equal(duck, spark)
    assert (duck.dtypes == spark.dtypes).all()


@pytest.mark.parametrize("n_categories", [80, 4000])  # 4000 x the channels: more pairs than one lookup job takes
def test_features_match_duckdb_with_too_many_categories_for_a_bitmask(spark, data_dir: Path, tmp_path: Path,
                                                                     n_categories: int) -> None:
    # Both engines fall back from the bitmask to the per-value GROUP BY for categories only.
    folder = tmp_path / "data"
    folder.mkdir()
    for table in data_dir.iterdir():
        (folder / table.name).write_bytes(table.read_bytes())
    transactions = pd.read_parquet(folder / "transactions.parquet")
    transactions["category"] = [f"c{i % n_categories}" for i in range(len(transactions))]
    transactions.to_parquet(folder / "transactions.parquet", index=False)
    sdata = churn_spark.read_tables(spark, str(folder), Config())
    values = churn_spark.transaction_values(sdata)
    assert values["category"] is None and values["channel"] is not None and len(values["channel"]) > 1
    duck = build_features(load_dataset(folder, Config()), CUTOFFS, Config())
    assert_frames_equal(duck, churn_spark.build_features(sdata, CUTOFFS, Config()))
    assert duck["distinct_categories"].max() > 62


def _copy_data(data_dir: Path, folder: Path) -> Path:
    folder.mkdir()
    for table in data_dir.iterdir():
        (folder / table.name).write_bytes(table.read_bytes())
    return folder


def _renamed_types_and_0_10_survey(folder: Path) -> Config:
    events = pd.read_parquet(folder / "service_events.parquet")
    events["event_type"] = events["event_type"].replace({"complaint": "Billing Complaint", "ticket": "outage"})
    events["satisfaction"] = (events["satisfaction"] - 1) * 10 / 4
    (folder / "service_events.parquet").unlink()
    events.to_parquet(folder / "tickets.parquet", index=False)  # under the helpdesk's own name
    return config_from_dict({"tables": {"service_events": "tickets"}, "input": {"satisfaction_scale": [0, 10],
                                       "event_types": {"billing complaint": "complaint", "outage": "ticket"}}})


def _text_timestamps_with_offsets(folder: Path) -> Config:
    transactions = pd.read_parquet(folder / "transactions.parquet")
    local = transactions["timestamp"] + pd.Timedelta(hours=2)
    transactions["timestamp"] = local.dt.strftime("%Y-%m-%dT%H:%M:%S.%f+02:00")
    transactions.to_parquet(folder / "transactions.parquet", index=False)
    return Config()


def _write_hive(frame: pd.DataFrame, folder: Path, keys: list[str], retype=lambda part, values: part) -> None:
    """``frame`` as ``folder/k1=v1/k2=v2/part-0.parquet`` files without the key columns (a missing
    value in Hive's ``__HIVE_DEFAULT_PARTITION__``); ``retype(part, values)`` may change a part's types."""
    folder.mkdir(parents=True)
    for values, part in frame.groupby(keys, dropna=False, sort=True):
        where = folder.joinpath(*[f"{k}={'__HIVE_DEFAULT_PARTITION__' if pd.isna(v) else v}" for k, v in zip(keys, values)])
        where.mkdir(parents=True)
        retype(part.drop(columns=keys), dict(zip(keys, values))).to_parquet(where / "part-0.parquet", index=False)


def _hive_partitions_with_mixed_part_types(folder: Path) -> Config:
    """Customers under region=…/age_band=…/ and transactions under year=…/channel=…/, with parts that store a
    column as different types (signup dates with a zone in one region; quantity as int32 in 2021's
    parts), so Spark reads the parts one by one and widens the types."""
    customers = pd.read_parquet(folder / "customers.parquet")
    (folder / "customers.parquet").unlink()
    _write_hive(customers, folder / "customers", ["region", "age_band"], lambda part, values: part.assign(
        signup_date=part["signup_date"].dt.tz_localize("UTC")) if values["region"] == "west" else part)
    transactions = pd.read_parquet(folder / "transactions.parquet")
    (folder / "transactions.parquet").unlink()
    transactions["year"] = transactions["timestamp"].dt.year
    _write_hive(transactions, folder / "transactions", ["year", "channel"], lambda part, values: part.astype(
        {"quantity": "int32"}) if values["year"] == 2021 else part)
    return Config()


@pytest.mark.parametrize("export", [_renamed_types_and_0_10_survey, _text_timestamps_with_offsets,
                                    _hive_partitions_with_mixed_part_types])
def test_features_match_duckdb_on_a_users_export(spark, data_dir: Path, tmp_path: Path, export) -> None:
    """The [input] settings and text timestamps are read as validation reads them (both engines, one SQL)."""
    folder = _copy_data(data_dir, tmp_path / "data")
    config = export(folder)
    dataset = load_dataset(folder, config)
    assert dataset.summary["quarantined_rows"] == 0
    duck = build_features(dataset, CUTOFFS, config)
    assert_frames_equal(duck, churn_spark.build_features(churn_spark.read_tables(spark, str(folder), config), CUTOFFS, config))
    if config.input.satisfaction_scale != Config().input.satisfaction_scale:  # without it, not silently on 1-5
        with pytest.raises(DataError) as refused:
            churn_spark.read_tables(spark, str(folder), replace(config, input=replace(config.input, satisfaction_scale=(1.0, 5.0))))
        with pytest.raises(DataError) as stopped:
            load_dataset(folder, replace(config, input=replace(config.input, satisfaction_scale=(1.0, 5.0))))
        assert str(refused.value) == str(stopped.value)  # validation's own message: the scale to set
        assert "set [input] satisfaction_scale = [0, 10] in the config" in str(refused.value)
        assert " satisfaction scores in tickets (service_events) are outside 1-5" in str(refused.value)


def _as_order_lines(folder: Path) -> pd.DataFrame:
    """The folder's transactions split into an ERP's order lines under their transaction_id: one to
    three lines each, the first (the largest, at the transaction's time) with its category and channel,
    the others a second later that day (other categories when the amount is positive, where they are
    smaller)."""
    transactions = pd.read_parquet(folder / "transactions.parquet")
    n_lines = 1 + np.arange(len(transactions)) % 3
    lines = transactions.loc[transactions.index.repeat(n_lines)].reset_index(drop=True)
    position = lines.groupby("transaction_id").cumcount().to_numpy()
    of = n_lines.repeat(n_lines)
    shares = np.select([of == 1, (of == 2) & (position == 0), position == 0, position == 1], [1.0, 0.7, 0.6, 0.3], 0.1)
    lines["amount"] = lines["amount"] * shares
    later = (position > 0) & ((lines["timestamp"] + pd.Timedelta(seconds=1)).dt.date == lines["timestamp"].dt.date)
    lines.loc[later, "timestamp"] += pd.Timedelta(seconds=1)
    other = (position > 0) & (lines["amount"] > 0)
    lines.loc[other, "category"] = np.where(position[other] == 1, "extra", lines.loc[other, "category"] + "s")
    lines.loc[other, "channel"] = "phone"
    lines.to_parquet(folder / "transactions.parquet", index=False)
    return lines


def test_order_lines_are_merged_as_validation_merges_them(spark, data_dir: Path, tmp_path: Path, dataset) -> None:
    """[input] order_lines on Spark: the lines of one order are one transaction, as validation merges
    them. Split into lines, the generated transactions give both engines the features of the
    transactions themselves; unmerged, the lines would count as purchases of their own."""
    folder = _copy_data(data_dir, tmp_path / "lines")
    lines = _as_order_lines(folder)
    config = config_from_dict({"input": {"order_lines": True}})
    duck_data = load_dataset(folder, config)
    assert duck_data.summary["quarantined_rows"] == 0
    sdata = churn_spark.read_tables(spark, str(folder), config)
    duck = build_features(duck_data, CUTOFFS, config)
    assert_frames_equal(duck, churn_spark.build_features(sdata, CUTOFFS, config))
    assert_frames_equal(build_features(dataset, CUTOFFS, Config()), duck)
    orders = dataset.summary["tables"]["transactions"]["clean_rows"]
    merged = {"lines": len(lines), "orders": orders}
    assert len(lines) > 1.5 * orders and duck_data.summary["tables"]["transactions"]["order_lines"] == merged
    assert churn_spark.describe_data(sdata)[1]["tables"]["transactions"]["order_lines"] == merged
    # An order number on lines of two customers: validation sets the lines aside, Spark refuses them.
    first = lines.index[lines["customer_id"] != lines["customer_id"].iloc[0]][0]
    lines.loc[first, "transaction_id"] = lines["transaction_id"].iloc[0]
    lines.to_parquet(folder / "transactions.parquet", index=False)
    aside = load_dataset(folder, config).summary["tables"]["transactions"]["quarantined"]
    assert aside == {"order lines of several customers under one transaction_id": 2}
    with pytest.raises(DataError, match=r"^1 transaction_id\(s\) of transactions .* name several customers on their "
                                        r"lines, e.g. 'T00000000001' \(2 lines\): with \[input\] order_lines `churnml "
                                        r"validate` sets their 2 lines aside as 'order lines of several customers"):
        churn_spark.read_tables(spark, str(folder), config)
    lines.drop(columns="transaction_id").to_parquet(folder / "transactions.parquet", index=False)
    with pytest.raises(ConfigError, match=r"\[input\] order_lines = true merges the lines of each order, but transactions "
                                          "has no transaction_id"):
        churn_spark.read_tables(spark, str(folder), config)


def test_attribute_kinds_are_decided_by_the_values_as_validation_does(spark, data_dir: Path, tmp_path: Path) -> None:
    """Digits stored as text and booleans are numeric, as DuckDB decides, but for codes written with a leading zero
    ("001": a category); a model trained on either engine scores on both."""
    folder = _copy_data(data_dir, tmp_path / "data")
    customers = pd.read_parquet(folder / "customers.parquet")
    customers["employees"] = [str(i % 40) for i in range(len(customers))]
    customers["newsletter"] = [i % 3 == 0 for i in range(len(customers))]
    customers["branch"] = ["001" if i % 2 else None for i in range(len(customers))]
    customers["reviewed"] = pd.Timestamp("2024-05-01")  # dates: left out on both (a snapshot's dates leak)
    customers["last_visit"] = ["2024-05-01 10:00:00+02:00" if i % 2 else None for i in range(len(customers))]
    customers["cohort"] = ["2024-05" if i % 2 else "2024" for i in range(len(customers))]  # Spark reads both as dates
    # a last login with "never" for the few who never logged in: dates too, not a category
    customers["last_login"] = ["never" if i % 40 == 0 else f"2024-05-{1 + i % 28:02d}" for i in range(len(customers))]
    # rows 3, 5, 7, … of a larger table, written with pandas' default index=True: their row numbers are a column
    # __index_level_0__ of the file, left out on both (Spark took it for a numeric attribute: a feature of both models)
    customers.index = pd.Index(np.arange(3, 3 + 2 * len(customers), 2))
    customers.to_parquet(folder / "customers.parquet")
    assert "__index_level_0__" in pyarrow.parquet.read_schema(folder / "customers.parquet").names
    duck = load_dataset(folder, Config()).attributes
    assert [duck[c] for c in ("employees", "newsletter", "branch", "cohort")] == ["numeric"] * 2 + ["categorical"] * 2
    assert "reviewed" not in duck and "last_visit" not in duck and "last_login" not in duck
    assert "__index_level_0__" not in duck
    customers["never_filled"] = None
    customers["deleted_at"] = pd.Series(pd.NaT, index=customers.index, dtype="datetime64[us]")  # a date type, never filled
    customers.to_parquet(folder / "customers.parquet")
    validated = load_dataset(folder, Config())
    duck = validated.attributes
    assert "never_filled" not in duck and "employees" in duck
    read = churn_spark.read_tables(spark, str(folder))
    assert read.attributes == duck
    # and say which columns they left out, which train records for the API
    left_out = validated.summary["left_out_columns"]
    assert left_out == {"reviewed": "dates", "last_visit": "dates", "last_login": "dates", "never_filled": "empty",
                        "deleted_at": "empty"}
    summary = churn_spark.describe_data(read)[1]
    assert summary["left_out_columns"] == left_out
    # A code is described as one on both: validation's note, and the sentence of its feature's description in
    # the features JSON of `features` and of a training run. Spark's said "Customer attribute 'branch'" alone.
    assert read.code_columns == summary["code_columns"] == validated.summary["code_columns"] == {"branch": ["001"]}
    code = next(i for i, note in enumerate(read.notes) if note.startswith("customers.branch ('001') holds a code"))
    # The notes on the customers columns that follow it (many values, lifetime totals) are validation's too.
    assert list(read.notes[code:]) == validated.summary["notes"][-len(read.notes[code:]):]
    rows, described = churn_spark.write_features(read, SCORE_AS_OF, str(tmp_path / "features"), Config())
    assert described == feature_description(validated) and rows == len(pd.read_parquet(tmp_path / "features"))
    assert "A code ('001' …) written with leading zeros" in next(d["description"] for d in described if d["column"] == "branch")


def test_nan_and_infinite_numbers_are_blanked_or_refused_as_validation_sets_them_aside(spark, data_dir: Path,
                                                                                       tmp_path: Path) -> None:
    """A customer attribute's NaN or infinity is blanked on both engines (validation keeps the
    customer); in an amount, whose rows validation sets aside, Spark refuses it. Both passed
    straight into the clean tables. (A satisfaction score's is blanked, the event kept: see
    test_satisfaction_scores_that_cannot_be_used_are_blanked_as_validation_blanks_them.)"""
    folder = _copy_data(data_dir, tmp_path / "data")
    customers = pd.read_parquet(folder / "customers.parquet")
    customers["credit"] = [float("inf") if i % 7 == 0 else -float("inf") if i % 11 == 0 else float(i)
                           for i in range(len(customers))]
    customers["score_text"] = ["nan" if i % 5 == 0 else str(i) for i in range(len(customers))]
    # and a placeholder for "unknown" in a few rows of a column of numbers: numeric, blanked there
    customers["credit_limit"] = ["N/A" if i % 40 == 0 else str(10 * i) for i in range(len(customers))]
    customers.to_parquet(folder / "customers.parquet", index=False)
    duck = load_dataset(folder, Config())
    read = churn_spark.read_tables(spark, str(folder))
    assert read.attributes == duck.attributes
    assert duck.attributes["credit"] == duck.attributes["score_text"] == duck.attributes["credit_limit"] == "numeric"
    query = "SELECT customer_id, credit, score_text, credit_limit FROM {} ORDER BY customer_id"
    assert_frames_equal(duck.con.execute(query.format("customers")).df(),
                        churn_spark.to_pandas(spark.sql(query.format(read.views["customers"]))))
    assert duck.con.execute("SELECT count(credit), count(score_text) FROM customers").fetchone() == (
        len(customers) - sum(1 for i in range(len(customers)) if i % 7 == 0 or i % 11 == 0),
        len(customers) - sum(1 for i in range(len(customers)) if i % 5 == 0))
    folder = _copy_data(data_dir, tmp_path / "transactions_inf")
    frame = pd.read_parquet(folder / "transactions.parquet")
    frame.loc[frame.index[::40], "amount"] = float("inf")
    frame.to_parquet(folder / "transactions.parquet", index=False)
    assert load_dataset(folder, Config()).summary["tables"]["transactions"]["quarantined"] == {
        "amount not a finite number (NaN or infinity)": len(frame.index[::40])}
    with pytest.raises(DataError, match=r"Column amount of table 'transactions' .*: [\d,]+ values are not a finite "
                                        r"number \(NaN or infinity\)\. --engine spark reads clean tables"):
        churn_spark.read_tables(spark, str(folder))


def test_satisfaction_scores_that_cannot_be_used_are_blanked_as_validation_blanks_them(spark, data_dir: Path,
                                                                                         tmp_path: Path) -> None:
    """Validation keeps a service event whose satisfaction score lies off the scale (a helpdesk's 0 for
    "not rated", a 10 of a 0-10 survey mixed in), is infinite or does not read ("n/a"), with the score
    blanked; Spark refused the whole read for one such score."""
    folder = _copy_data(data_dir, tmp_path / "data")
    events = pd.read_parquet(folder / "service_events.parquet")
    scored = events.index[events["satisfaction"].notna()]
    text = events["satisfaction"].map(lambda v: None if pd.isna(v) else f"{v:g}").astype(object)
    text[scored[::30]], text[scored[7::30]], text[scored[11::30]], text[scored[13::30]] = "0", "10", "inf", "n/a"
    events.assign(satisfaction=text).to_parquet(folder / "service_events.parquet", index=False)
    duck = load_dataset(folder, Config())
    assert duck.summary["tables"]["service_events"]["quarantined"] == {
        "satisfaction outside 1-5 (event kept without it)": len(scored[::30]) + len(scored[7::30]) + len(scored[11::30]),
        validate.R_BAD_SATISFACTION: len(scored[13::30])}
    read = churn_spark.read_tables(spark, str(folder))
    query = ("SELECT customer_id, timestamp, event_type, resolved_at, satisfaction FROM {} "
             "ORDER BY customer_id, timestamp, event_type")
    assert len(spark.table(read.views["service_events"]).toPandas()) == len(events)
    assert_frames_equal(duck.con.execute(query.format("service_events")).df(),
                        churn_spark.to_pandas(spark.sql(query.format(read.views["service_events"]))))


def test_a_resolved_at_empty_in_every_row_is_left_out_on_both(spark, data_dir: Path, tmp_path: Path) -> None:
    """A helpdesk export that never fills resolved_at: every complaint read as still open on both engines
    (unresolved complaints = complaints). Validation leaves the column out, with its features; so does Spark."""
    folder = _copy_data(data_dir, tmp_path / "data")
    events = pd.read_parquet(folder / "service_events.parquet")
    events.assign(resolved_at=pd.Series(pd.NaT, index=events.index, dtype="datetime64[us]")).to_parquet(
        folder / "service_events.parquet", index=False)
    duck = load_dataset(folder, Config())
    read = churn_spark.read_tables(spark, str(folder))
    assert "resolved_at" not in read.layout["service_events"] and "resolved_at" not in duck.con.table("service_events").columns
    [note] = [n for n in read.notes if n.startswith("service_events.resolved_at is empty in every row, so it is left out")]
    assert note in duck.summary["notes"]
    spark_features = churn_spark.build_features(read, CUTOFFS, Config())
    assert not set(features_module.RESOLUTION_FEATURES) & set(spark_features.columns)
    assert_frames_equal(build_features(duck, CUTOFFS, Config()), spark_features)


def test_empty_and_sparse_event_columns_get_the_same_notes_on_both(spark, data_dir: Path, tmp_path: Path) -> None:
    """Spark named no satisfaction, category or channel empty in every row (validation did), and neither
    engine a resolved_at filled for a few complaints: every other complaint read as still open."""
    folder = _copy_data(data_dir, tmp_path / "data")
    events = pd.read_parquet(folder / "service_events.parquet")
    complaints = events.index[events["event_type"] == "complaint"]
    events.loc[complaints[3:], "resolved_at"] = pd.NaT
    events.assign(satisfaction=pd.Series(float("nan"), index=events.index)).to_parquet(
        folder / "service_events.parquet", index=False)
    transactions = pd.read_parquet(folder / "transactions.parquet")
    transactions.assign(category=pd.Series(None, index=transactions.index, dtype="object")).to_parquet(
        folder / "transactions.parquet", index=False)
    duck = load_dataset(folder, Config())
    read = churn_spark.read_tables(spark, str(folder))
    said = [n for n in duck.summary["notes"] if "empty in every row" in n or n.startswith("service_events.resolved_at")]
    assert len(said) == 2 and said[0].startswith("service_events.satisfaction and transactions.category are empty in every "
                                                 "row: every survey reads as unanswered, every purchase as one without a category.")
    assert said[1].startswith("service_events.resolved_at is filled for 3 of ")
    assert said == [n for n in read.notes if n in said]


def test_messages_name_a_renamed_exports_tables_and_columns_on_both(spark, data_dir: Path, tmp_path: Path) -> None:
    """An export's kunden.parquet and tickets.parquet with their own columns, mapped under [tables] and
    [columns.*]: Spark gives validation's notes and errors, in the export's names ("tickets.CSAT
    (service_events.satisfaction)"); both said "service_events.satisfaction (your column 'CSAT')"."""
    folder = _copy_data(data_dir, tmp_path / "data")
    events = pd.read_parquet(folder / "service_events.parquet")
    events.loc[events.index[events["event_type"] == "complaint"][3:], "resolved_at"] = pd.NaT
    (folder / "service_events.parquet").unlink()
    events.assign(satisfaction=pd.Series(float("nan"), index=events.index)).rename(columns={
        "customer_id": "cust", "timestamp": "opened", "resolved_at": "closed", "satisfaction": "CSAT"}).to_parquet(
        folder / "tickets.parquet", index=False)
    customers = pd.read_parquet(folder / "customers.parquet")
    (folder / "customers.parquet").unlink()
    customers.assign(letzter_login=pd.Timestamp("2025-01-01")).rename(columns={"customer_id": "KundenNr"}).to_parquet(
        folder / "kunden.parquet", index=False)
    config = config_from_dict({"tables": {"customers": "kunden", "service_events": "tickets"}, "columns": {
        "customers": {"customer_id": "KundenNr"},
        "service_events": {"customer_id": "cust", "timestamp": "opened", "resolved_at": "closed", "satisfaction": "CSAT"}}})
    duck = load_dataset(folder, config)
    read = churn_spark.read_tables(spark, str(folder), config)
    said = [n for n in duck.summary["notes"] if n.startswith(("tickets.", "kunden.letzter_login"))]
    assert [n[:60] for n in said] == ["kunden.letzter_login (customers) holds dates, so it is left ",
                                      "tickets.CSAT (service_events.satisfaction) is empty in every",
                                      "tickets.closed (service_events.resolved_at) is filled for 3 "]
    assert said == [n for n in read.notes if n in said]
    # Opened and resolved swapped: both engines stop with the same words.
    swapped = events.rename(columns={"resolved_at": "opened", "timestamp": "closed", "customer_id": "cust",
                                     "satisfaction": "CSAT"})
    swapped[swapped["opened"].notna()].to_parquet(folder / "tickets.parquet", index=False)
    with pytest.raises(DataError) as duck_error:
        load_dataset(folder, config)
    with pytest.raises(DataError) as spark_error:
        churn_spark.read_tables(spark, str(folder), config)
    assert str(duck_error.value).split(", e.g. ")[0] == str(spark_error.value).split(", e.g. ")[0]
    assert re.search(r" rows of tickets \(service_events\) with a resolved_at \(\d+%\) have resolved_at \(your column "
                     r"'closed'\) before timestamp \(your column 'opened'\)", str(spark_error.value))


def _complaints_resolved(folder: Path, resolved: Callable[[pd.Series], pd.Series], share: int = 10) -> int:
    """Every ``share``-th resolved complaint before the first cutoff gets ``resolved(timestamp)`` as its
    resolved_at (every resolved event when ``share`` is 1); returns how many rows changed."""
    events = pd.read_parquet(folder / "service_events.parquet")
    chosen = events["resolved_at"].notna()
    if share > 1:
        chosen &= (events["event_type"] == "complaint") & (events["timestamp"] < CUTOFFS[0])
    rows = events.index[chosen][::share]
    events.loc[rows, "resolved_at"] = resolved(events.loc[rows, "timestamp"])
    events.to_parquet(folder / "service_events.parquet", index=False)
    return len(rows)


def test_a_case_closed_the_day_it_was_opened_with_a_date_alone_is_resolved_then_on_both(spark, data_dir: Path,
                                                                                         tmp_path: Path) -> None:
    """A closing date alone (midnight) on the day a complaint was opened at some time of day: validation
    takes it as resolved at its opening (0 days); Spark took midnight, a negative resolution time."""
    folder = _copy_data(data_dir, tmp_path / "data")
    changed = _complaints_resolved(folder, lambda opened: opened.dt.normalize())
    dataset = load_dataset(folder, Config())
    assert changed and dataset.summary["quarantined_rows"] == 0
    duck = build_features(dataset, CUTOFFS, Config())
    assert duck["mean_resolution_days"].min() == 0  # some customers' only complaints closed that day
    assert_frames_equal(duck, churn_spark.build_features(churn_spark.read_tables(spark, str(folder)), CUTOFFS, Config()))


def test_resolved_before_opened_is_refused_and_swapped_columns_are_named(spark, data_dir: Path, tmp_path: Path) -> None:
    """Validation sets a service event resolved before it was opened aside (and stops when most are:
    the columns are swapped); Spark read them as negative resolution times."""
    folder = _copy_data(data_dir, tmp_path / "before")
    changed = _complaints_resolved(folder, lambda opened: opened - pd.Timedelta(days=3))
    assert load_dataset(folder, Config()).summary["tables"]["service_events"]["quarantined"] == {
        "resolved_at before timestamp": changed}
    with pytest.raises(DataError, match=rf"^{changed} of [\d,]+ rows of service_events with a resolved_at \(.*\) have "
                                        r"resolved_at before timestamp, e\.g\. '\d{4}-.*' "
                                        r"resolved '\d{4}-.*'\. --engine spark reads clean tables and sets no rows aside: "
                                        r"fix or remove these rows upstream \(`churnml validate` lists them"):
        churn_spark.read_tables(spark, str(folder))
    folder = _copy_data(data_dir, tmp_path / "swapped")
    _complaints_resolved(folder, lambda opened: opened - pd.Timedelta(days=2), share=1)
    with pytest.raises(DataError) as duck:
        load_dataset(folder, Config())
    with pytest.raises(DataError) as spark_error:
        churn_spark.read_tables(spark, str(folder))
    def without_examples(message: str) -> tuple[str, str]:  # the examples are the first rows each engine finds
        head, _, rest = message.partition(", e.g. ")
        return head, rest[rest.index(": the two columns seem swapped"):]

    assert without_examples(str(spark_error.value)) == without_examples(str(duck.value))


def test_input_settings_spark_cannot_apply_are_refused_and_data_end_is_applied(spark, data_dir: Path) -> None:
    for setting, value in (("date_format", "%d.%m.%Y"), ("decimal_comma", True)):
        with pytest.raises(ConfigError, match=rf"\[input\] {setting} .* is not supported with --engine spark"):
            churn_spark.read_tables(spark, str(data_dir), config_from_dict({"input": {setting: value}}))
    data = churn_spark.read_tables(spark, str(data_dir), config_from_dict({"input": {"data_end": "2025-01-31"}}))
    last = churn_spark.read_tables(spark, str(data_dir)).data_end
    assert data.data_end < pd.Timestamp("2025-02-01") <= last
    # A declared end after the last event is the data's end (quiet days at the end are data too).
    later = f"{last + pd.Timedelta(days=10):%Y-%m-%d}"
    assert churn_spark.read_tables(spark, str(data_dir), config_from_dict({"input": {"data_end": later}})).data_end == pd.Timestamp(later)


def test_rows_after_the_datas_end_are_refused_and_the_end_is_validations(spark, data_dir: Path, tmp_path: Path,
                                                                         dataset) -> None:
    """Validation ends the data on the last day with ordinary transaction volume and sets later rows
    aside; Spark took the latest row of any table, so a stray transaction half a year after the rest
    (or a service event after the last transaction) moved its data_end, and so the training cutoffs
    and the as-of checks. Spark now refuses such rows, naming validation's end; with the end declared,
    both engines read the same tables. A sign-up date after the end (2999-12-31 for unknown) is
    missing on both, as validation keeps the customer without it (Spark kept the date, and the
    customer never entered the population)."""
    folder = _copy_data(data_dir, tmp_path / "late")
    # four copies of each transaction: a day of one is then under 5% of the median day, as it is in real data
    transactions = pd.read_parquet(folder / "transactions.parquet")
    transactions = pd.concat([transactions.assign(transaction_id=transactions["transaction_id"] + f"-{copy}")
                              for copy in range(4)], ignore_index=True)
    last = transactions["timestamp"].max()
    stray = transactions.iloc[[0]].assign(transaction_id="T-stray", timestamp=last + pd.Timedelta(days=180))
    pd.concat([transactions, stray]).to_parquet(folder / "transactions.parquet", index=False)
    events = pd.read_parquet(folder / "service_events.parquet")
    late_event = events.iloc[[0]].assign(timestamp=last + pd.Timedelta(days=20), resolved_at=last + pd.Timedelta(days=21))
    pd.concat([events, late_event]).to_parquet(folder / "service_events.parquet", index=False)
    customers = pd.read_parquet(folder / "customers.parquet")
    customers.loc[customers.index[::50], "signup_date"] = pd.Timestamp("2999-12-31")
    customers.loc[customers.index[1::50], "signup_date"] = pd.Timestamp("1850-01-01")  # a CRM's other "unknown"
    customers.to_parquet(folder / "customers.parquet", index=False)

    duck = load_dataset(folder, Config())
    assert duck.data_end == dataset.data_end  # the stray rows set aside, the end as without them
    assert {t: duck.summary["tables"][t]["quarantined"].get("timestamp after the data's end")
            for t in ("transactions", "service_events")} == {"transactions": 1, "service_events": 1}
    day = f"{duck.data_end:%Y-%m-%d}"
    with pytest.raises(DataError, match=(
            rf"^1 row\(s\) of transactions \(.*\) and 1 row\(s\) of service_events \(.*\) are dated after {day}, the last "
            r"day with ordinary transaction volume, .*\"timestamp after the data's end\"\)\. The latest: transactions: "
            rf"customer '{stray['customer_id'].iloc[0]}' at '{stray['timestamp'].iloc[0]}'; service_events: customer "
            rf"'{late_event['customer_id'].iloc[0]}' at '{late_event['timestamp'].iloc[0]}'\. --engine spark reads clean "
            r"tables and sets no rows aside: .*remove the rows upstream.*\[input\] data_end = \"YYYY-MM-DD\"\.$")):
        churn_spark.read_tables(spark, str(folder))

    def same_tables(config: Config) -> churn_spark.SparkData:
        duck, read = load_dataset(folder, config), churn_spark.read_tables(spark, str(folder), config)
        assert read.data_end == duck.data_end
        query = "SELECT customer_id, signup_date FROM {} ORDER BY customer_id"
        assert_frames_equal(duck.con.execute(query.format("customers")).df(),
                            churn_spark.to_pandas(spark.sql(query.format(read.views["customers"]))))
        assert duck.con.execute("SELECT count(*) FROM customers WHERE signup_date IS NULL").fetchone()[0] == len(
            customers.index[::50]) + len(customers.index[1::50])
        return read

    # the fix the message gives: the data's end declared (the late rows left out on both)
    assert same_tables(config_from_dict({"input": {"data_end": day}})).data_end == dataset.data_end
    # or the late rows removed: the end inferred on both, the sign-up dates after it missing on both
    transactions.to_parquet(folder / "transactions.parquet", index=False)
    events.to_parquet(folder / "service_events.parquet", index=False)
    assert same_tables(Config()).data_end == dataset.data_end


def test_validations_notes_on_data_it_keeps_are_given_on_spark_in_its_words(spark, data_dir: Path, tmp_path: Path) -> None:
    """--engine spark said none of what `churnml validate` notes on data it keeps: no churn_events (so
    churn by inactivity), customers columns left out (a date, an empty column, pandas' index), times
    with a zone read as UTC, text times with and without an offset mixed. Validation's own functions
    now make them from Spark's read, the same notes, and the CLI prints them as it prints validation's."""
    folder = _copy_data(data_dir, tmp_path / "data")
    (folder / "churn_events.parquet").unlink()
    customers = pd.read_parquet(folder / "customers.parquet")
    customers["last_login_at"] = pd.Timestamp("2025-01-01")
    customers["fax"] = np.nan
    customers.index = pd.Index(np.arange(len(customers)) * 2)  # not a RangeIndex: written as __index_level_0__
    customers.to_parquet(folder / "customers.parquet")
    transactions = pd.read_parquet(folder / "transactions.parquet")
    transactions["timestamp"] = transactions["timestamp"].dt.tz_localize("UTC")
    transactions.to_parquet(folder / "transactions.parquet", index=False)
    events = pd.read_parquet(folder / "service_events.parquet")  # fewer rows than validation looks at for offsets
    local = events["timestamp"].dt.tz_localize("UTC").dt.tz_convert("America/New_York").dt.strftime("%Y-%m-%d %H:%M:%S%z")
    events["timestamp"] = local.where(events.index % 50 != 0, events["timestamp"].dt.strftime("%Y-%m-%d %H:%M:%S"))
    events.to_parquet(folder / "service_events.parquet", index=False)
    notes = load_dataset(folder, Config()).summary["notes"]
    assert [note.split(" ")[0] for note in notes] == ["No", "customers.last_login_at", "customers.fax",
                                                      "customers.__index_level_0__", "transactions.timestamp", "This"]
    assert "Values with and without a zone are mixed in service_events.timestamp" in notes[-2]
    # The account managers' codes, which train leaves out: said on both engines, counted alike.
    assert re.match(r"This column has more different values than \[training\] max_categorical_levels \(50\): "
                    r"customers\.account_manager \(\d+ values\)\. `churnml train` leaves", notes[-1])
    read = churn_spark.read_tables(spark, str(folder))
    assert list(read.notes) == notes
    assert churn_spark.describe_data(read)[1]["notes"] == notes
    shown = CliRunner().invoke(get_app(), ["features", str(folder), "--as-of", f"{SCORE_AS_OF:%Y-%m-%d}", "--out",
                                           str(tmp_path / "features"), "--engine", "spark", "--master", "local[2]"],
                               terminal_width=100_000)
    assert shown.exit_code == 0, shown.output
    assert [line for line in shown.output.splitlines() if line.startswith("Note: ")] == [f"Note: {note}" for note in notes]


def test_a_customers_column_that_totals_the_history_is_named_on_spark_as_validation_names_it(spark, data_dir: Path,
                                                                                             tmp_path: Path) -> None:
    """A CRM's TotalOrders as of the export tells the models at every past cutoff what the customer
    went on to buy; `churnml validate` names such a column, --engine spark said nothing and trained on
    it. Validation's own query (transpiled) and words now give Spark the same note, and no other."""
    folder = _copy_data(data_dir, tmp_path / "data")
    customers = pd.read_parquet(folder / "customers.parquet")
    orders = pd.read_parquet(folder / "transactions.parquet")["customer_id"].value_counts()
    customers["TotalOrders"] = customers["customer_id"].map(orders).fillna(0).astype(int)
    customers["Seats"] = np.random.default_rng(3).integers(1, 50, len(customers)).astype(float)
    customers.loc[customers.index % 7 == 0, "TotalOrders"] = None  # ranked among the customers with a value
    customers.to_parquet(folder / "customers.parquet", index=False)
    notes = load_dataset(folder, Config()).summary["notes"]
    named = [note for note in notes if "up to the data's end" in note]
    assert [note.split(" (")[0] for note in named] == [
        "customers.TotalOrders follows each customer's count of transactions up to the data's end"]
    read = churn_spark.read_tables(spark, str(folder))
    assert read.attributes["TotalOrders"] == read.attributes["Seats"] == "numeric"
    assert list(read.notes) == notes


def test_a_customers_column_that_records_the_closure_is_named_on_spark_as_validation_names_it(spark, data_dir: Path,
                                                                                              tmp_path: Path) -> None:
    """A CRM status ("Gekündigt") and a cancellation date as Excel day numbers (empty while open) hand the
    models the answer; --engine spark trained on them without a word before train's warning. Validation's
    own query (transpiled, over customers and churn_events) and words give Spark the same note."""
    folder = _copy_data(data_dir, tmp_path / "data")
    customers = pd.read_parquet(folder / "customers.parquet")
    closed_on = customers["customer_id"].map(pd.read_parquet(folder / "churn_events.parquet")
                                             .groupby("customer_id")["timestamp"].min())
    customers["Status"] = np.where(closed_on.notna(), "Gekündigt", "Aktiv")
    customers["cancelled_serial"] = (closed_on - pd.Timestamp("1899-12-30")).dt.days
    customers.to_parquet(folder / "customers.parquet", index=False)
    notes = load_dataset(folder, Config()).summary["notes"]
    assert [note.split(" each alone")[0] for note in notes if "alone separate" in note] == [
        "customers.Status (ROC AUC 1.000) and customers.cancelled_serial (ROC AUC 1.000)"]
    read = churn_spark.read_tables(spark, str(folder))
    assert list(read.notes) == notes


@pytest.mark.parametrize("kind", ["no rows", "0 bytes", "no Parquet file"])
def test_an_empty_churn_events_is_absent_on_spark_as_in_validation(spark, data_dir: Path, tmp_path: Path, kind: str) -> None:
    """churn_events with its columns and no rows (or a file of 0 bytes, or a folder with no Parquet
    file): validation takes it as absent, with a note, and uses churn by inactivity. Spark read it
    as present, so the contractual label with no closures (nobody churned); it read the file of 0
    bytes and the folder as errors. Both now follow validation's rule: the same labels, training
    set and note."""
    folder = _copy_data(data_dir, tmp_path / "data")
    closures = pd.read_parquet(folder / "churn_events.parquet")
    (folder / "churn_events.parquet").unlink()
    if kind == "no rows":
        closures.iloc[:0].to_parquet(folder / "churn_events.parquet", index=False)
    elif kind == "0 bytes":
        (folder / "churn_events.parquet").write_bytes(b"")
    else:
        (folder / "churn_events").mkdir()
        (folder / "churn_events" / "README").write_text("Closures, exported nightly.\n")
    duck = load_dataset(folder, Config())
    assert "churn_events" not in duck.tables
    read = churn_spark.read_tables(spark, str(folder))
    assert not read.has("churn_events") and read.tables == duck.tables
    assert list(read.notes) == duck.summary["notes"]
    if kind == "no Parquet file":
        assert duck.summary["notes"][0].startswith("No churn_events table: a customer counts as churned after a horizon ")
    else:
        assert duck.summary["notes"][0] == (
            f"churn_events: {folder / 'churn_events.parquet'} is empty ({kind}), so churn by inactivity is used: a customer "
            "counts as churned after a horizon without transactions (active: one in the last 365 days). Remove it or fill "
            "it with the account closures.")
    labels = churn_spark.build_labels(read, CUTOFFS, Config())
    assert labels["churned"].sum() > 0
    assert_frames_equal(duck_labels.build_labels(duck, CUTOFFS, Config()), labels)
    if kind == "no rows":
        duck_set, spark_set = (duck_labels.build_training_set(duck, TRAIN_AS_OF, Config()),
                               churn_spark.build_training_set(read, TRAIN_AS_OF, Config()))
        assert duck_set.cutoffs == spark_set.cutoffs
        assert_frames_equal(duck_set.frame, spark_set.frame)


def test_rows_after_a_declared_end_are_left_out_whatever_their_values_as_validation_leaves_them(
        spark, data_dir: Path, tmp_path: Path) -> None:
    """With [input] data_end declared, validation sets an event row after it aside as after the data's
    end before it looks at the row's values (validate.event_checks), and its clean tables leave the row
    out. Spark counted the NaN amount, the quantity that does not read and the satisfaction off the
    scale of such rows and refused the read, though the same files validated into the same tables."""
    folder = _copy_data(data_dir, tmp_path / "data")
    config = config_from_dict({"input": {"data_end": "2025-06-30"}})
    transactions = pd.read_parquet(folder / "transactions.parquet")
    after = (transactions["timestamp"] >= pd.Timestamp("2025-07-01")).to_numpy()
    transactions["quantity"] = transactions["quantity"].astype(str).mask(after, "n/a")
    written = pyarrow.Table.from_pandas(transactions, preserve_index=False)
    nan = pyarrow.array(np.where(after, np.nan, transactions["amount"]), from_pandas=False)  # NaN, not NULL
    pyarrow.parquet.write_table(written.set_column(written.schema.get_field_index("amount"), "amount", nan),
                                folder / "transactions.parquet")
    events = pd.read_parquet(folder / "service_events.parquet")
    late = events["timestamp"] >= pd.Timestamp("2025-07-01")
    events.loc[late & events["satisfaction"].notna(), "satisfaction"] = 9.0
    events.loc[late & events["resolved_at"].notna(), "resolved_at"] -= pd.Timedelta(days=400)
    events.to_parquet(folder / "service_events.parquet", index=False)
    assert np.isnan(pyarrow.parquet.read_table(folder / "transactions.parquet")["amount"].to_numpy()[after]).all()
    assert (events.loc[late, "satisfaction"] == 9.0).any() and (events.loc[late, "resolved_at"] < events.loc[late, "timestamp"]).any()

    duck = load_dataset(folder, config)
    assert {t: duck.summary["tables"][t]["quarantined"] for t in ("transactions", "service_events")} == {
        "transactions": {"timestamp after the data's end": int(after.sum())},
        "service_events": {"timestamp after the data's end": int(late.sum())}}
    read = churn_spark.read_tables(spark, str(folder), config)
    assert read.data_end == duck.data_end
    assert {t: spark.table(read.views[t]).count() for t in read.tables} == {
        t: duck.summary["tables"][t]["clean_rows"] for t in duck.tables}


def _add_rows(folder: Path, table: str, changes: list[dict]) -> None:
    """Append to ``table`` one copy of its first row per dict of ``changes`` (column -> value; None is NULL)."""
    path = folder / f"{table}.parquet"
    frame = pd.read_parquet(path).astype(object)
    added = pd.concat([frame, *[frame.iloc[[0]].assign(**change) for change in changes]], ignore_index=True)
    pyarrow.parquet.write_table(pyarrow.Table.from_pandas(added, schema=pyarrow.parquet.read_schema(path),
                                                          preserve_index=False), path)


def _blank(folder: Path, table: str) -> dict:
    """Every column of ``table`` NULL: a row validation skips."""
    return {column: None for column in pd.read_parquet(folder / f"{table}.parquet").columns}


def test_rows_validation_sets_aside_are_refused_with_its_reasons_and_counts(spark, data_dir: Path, tmp_path: Path) -> None:
    """Every reason validation sets an event row aside for, or stops on, stops Spark's read with the
    reason and validation's count: Spark read a transaction dated 1899, one of a customer not in
    customers, a repeated transaction_id, a row without a customer_id, timestamp or amount, and an
    amount of 5e12 as they were, and computed features from them; a customers table repeating an id
    gave that customer twice. Rows with every field empty are skipped on both, as validation skips them."""
    tx_id = pd.read_parquet(data_dir / "transactions.parquet")["transaction_id"]
    row_level = [{"customer_id": None}, {"timestamp": None}, {"timestamp": pd.Timestamp("1899-05-01")},
                 {"amount": None}, {"amount": 5e12}, {"quantity": 2 * 10**12}]
    cases = [  # (name, tables, rows added to the first; the second gets a row of an unknown customer)
        ("row_level", ("transactions",), [{**change, "transaction_id": f"T-bad-{i}"} for i, change in enumerate(row_level)]),
        ("customer_without_id", ("customers",), [{"customer_id": None}]),
        ("unknown", ("transactions", "service_events"), [{"customer_id": "C9999999", "transaction_id": "T-unknown"}]),
        ("repeated_transaction", ("transactions",), [{"transaction_id": tx_id.iloc[5]}]),
    ]
    for case, tables, changes in cases:
        folder = _copy_data(data_dir, tmp_path / case)
        for table in tables:
            _add_rows(folder, table, changes if table == tables[0] else [{"customer_id": "C9999998"}])
            _add_rows(folder, table, [_blank(folder, table)])
        duck = load_dataset(folder, Config())
        set_aside = {t: duck.summary["tables"][t]["quarantined"] for t in tables}
        assert all(sum(n.values()) == len(changes if t == tables[0] else [1]) for t, n in set_aside.items()), set_aside
        with pytest.raises(DataError) as refused:
            churn_spark.read_tables(spark, str(folder))
        message = str(refused.value)
        assert "--engine spark reads clean tables and sets no rows aside" in message
        for table, reasons in set_aside.items():
            for reason, n in reasons.items():
                if reason == "customer_id not in customers":
                    assert f"{n:,} of {duck.summary['tables'][table]['rows']:,} rows of {table} (" in message
                    assert f"as {reason!r}" in message and "'C9999999'" in message
                elif reason == "duplicate transaction_id":
                    assert f"1 transaction_id(s) of transactions" in message and f"e.g. {tx_id.iloc[5]!r} (2 rows)" in message
                    assert f"sets the other {n:,} aside as {reason!r}" in message
                    assert "[input] order_lines = true merges each order's lines" in message  # an ERP's order lines?
                else:
                    assert f"{n:,} for {reason!r} (e.g. " in message, (reason, message)
        if case == "row_level":
            assert message.startswith(f"{len(row_level)} row(s) of transactions (")
    # customers repeating an id in rows that differ: the same error on both engines
    folder = _copy_data(data_dir, tmp_path / "repeated_customers")
    _add_rows(folder, "customers", [{"region": "elsewhere"}, {}])
    with pytest.raises(DataError) as duck_error:
        load_dataset(folder, Config())
    with pytest.raises(DataError) as spark_error:
        churn_spark.read_tables(spark, str(folder))
    assert str(spark_error.value) == str(duck_error.value)
    assert "is not unique: 1 id(s) appear in rows that differ" in str(duck_error.value)
    # rows with every field empty alone: skipped on both, the tables the same
    folder = _copy_data(data_dir, tmp_path / "blank")
    for table in ("customers", "transactions", "service_events"):
        _add_rows(folder, table, [_blank(folder, table)])
    duck, read = load_dataset(folder, Config()), churn_spark.read_tables(spark, str(folder))
    assert duck.summary["quarantined_rows"] == 0
    assert {t: duck.summary["tables"][t].get("blank_rows_skipped") for t in ("customers", "transactions")} == {
        "customers": 1, "transactions": 1}
    assert {t: spark.table(read.views[t]).count() for t in read.tables} == {
        t: duck.summary["tables"][t]["clean_rows"] for t in duck.tables}


def test_customers_rows_repeated_whole_are_read_once_as_validation_keeps_the_first(
        spark, data_dir: Path, tmp_path: Path) -> None:
    """A doubled customers export (rows equal in every column) stopped both engines as "not unique";
    validation now sets the copies aside and reads the customer once. Spark, which sets no rows aside,
    reads each customer once too, with the same features, and a note says how many rows it left out."""
    folder = _copy_data(data_dir, tmp_path / "doubled")
    _add_rows(folder, "customers", [{}, {}])
    duck = load_dataset(folder, Config())
    assert duck.summary["tables"]["customers"]["quarantined"] == {validate.R_REPEATED_ROW: 2}
    read = churn_spark.read_tables(spark, str(folder))
    assert spark.table(read.views["customers"]).count() == duck.summary["tables"]["customers"]["clean_rows"]
    assert (f"2 row(s) of customers ({folder}/customers.parquet) repeat another row whole (a doubled export?): each "
            f"customer is read once, as `churnml validate` keeps the first and sets the others aside as "
            f"{validate.R_REPEATED_ROW!r}.") in read.notes
    assert churn_spark.describe_data(read)[1]["customers"] == duck.summary["customers"]
    assert_frames_equal(build_features(duck, CUTOFFS[:1], Config()), churn_spark.build_features(read, CUTOFFS[:1], Config()))


def test_a_closure_before_the_sign_up_is_refused_as_validation_sets_it_aside(spark, data_dir: Path, tmp_path: Path) -> None:
    """Validation sets aside a churn event dated before the customer's sign-up; Spark read it and took the
    customer out of the population for good."""
    folder = _copy_data(data_dir, tmp_path / "early")
    customers = pd.read_parquet(folder / "customers.parquet")
    first = customers.iloc[0]
    _add_rows(folder, "churn_events", [{"customer_id": first["customer_id"],
                                        "timestamp": pd.Timestamp(first["signup_date"]) - pd.Timedelta(days=400)}])
    assert load_dataset(folder, Config()).summary["tables"]["churn_events"]["quarantined"] == {
        "timestamp before the customer's signup_date": 1}
    with pytest.raises(DataError) as refused:
        churn_spark.read_tables(spark, str(folder))
    assert str(refused.value).startswith("1 rows of churn_events (")
    assert (f"e.g. {first['customer_id']!r} closed {pd.Timestamp(first['signup_date']) - pd.Timedelta(days=400):%Y-%m-%d}, "
            f"signed up {pd.Timestamp(first['signup_date']):%Y-%m-%d}: `churnml validate` sets them aside as "
            "\"timestamp before the customer's signup_date\"") in str(refused.value)


def test_a_column_named_like_sparks_reason_column_is_data_as_in_validation(spark, data_dir: Path, tmp_path: Path) -> None:
    """Spark's pass over a raw table adds a column for each row's reason; a table with a column of that
    name (_churnml_reason, in any case) stopped the read with Spark's AMBIGUOUS_REFERENCE and a Java
    stack trace. Validation reads it as any column (a customer attribute, or left alone in an event
    table), and so does Spark now, still refusing the rows validation sets aside."""
    folder = _copy_data(data_dir, tmp_path / "data")
    customers = pd.read_parquet(folder / "customers.parquet")
    customers["_churnml_reason"] = ["moved" if i % 3 else "price" for i in range(len(customers))]
    customers.to_parquet(folder / "customers.parquet", index=False)
    transactions = pd.read_parquet(folder / "transactions.parquet")
    transactions["_CHURNML_Reason"] = "refund"
    transactions.to_parquet(folder / "transactions.parquet", index=False)
    duck, read = load_dataset(folder, Config()), churn_spark.read_tables(spark, str(folder))
    assert duck.summary["quarantined_rows"] == 0 and duck.attributes["_churnml_reason"] == "categorical"
    assert read.attributes == duck.attributes
    query = "SELECT customer_id, _churnml_reason FROM {} ORDER BY customer_id"
    assert_frames_equal(duck.con.execute(query.format("customers")).df(),
                        churn_spark.to_pandas(spark.sql(query.format(read.views["customers"]))))
    _add_rows(folder, "transactions", [{"amount": None, "transaction_id": "T-no-amount"}])
    assert load_dataset(folder, Config()).summary["tables"]["transactions"]["quarantined"] == {"missing amount": 1}
    with pytest.raises(DataError, match=r"^1 row\(s\) of transactions \(.*\) would be set aside by `churnml validate`: "
                                        r"1 for 'missing amount' \(e\.g\. [^)]*transaction_id='T-no-amount'"):
        churn_spark.read_tables(spark, str(folder))


def test_column_names_with_quotes_and_backticks_are_names_on_both_engines(spark, data_dir: Path, tmp_path: Path) -> None:
    """Spark quoted names in backticks without doubling one inside: a customers column named a`b
    stopped the read with a parse error, and a crafted name could add SQL to the query. Names with a
    backtick or a double quote (DuckDB's quote) are read as names on both engines, with the same features."""
    folder = _copy_data(data_dir, tmp_path / "data")
    customers = pd.read_parquet(folder / "customers.parquet")
    customers["a`b"] = ["x" if i % 2 else "y" for i in range(len(customers))]
    customers['say "hi"'] = ["yes" if i % 3 else "no" for i in range(len(customers))]
    customers["n` FROM t --"] = [float(i % 7) for i in range(len(customers))]
    (folder / "customers.parquet").unlink()
    _write_hive(customers, folder / "customers", ["a`b"])  # a partition column too: customers/a`b=x/
    dataset = load_dataset(folder, Config())
    assert {c: dataset.attributes.get(c) for c in ("a`b", 'say "hi"', "n` FROM t --")} == {
        "a`b": "categorical", 'say "hi"': "categorical", "n` FROM t --": "numeric"}
    read = churn_spark.read_tables(spark, str(folder))
    assert read.attributes == dataset.attributes
    levels = list(churn_spark.categories(read).values())
    assert ["x", "y"] in levels and ["no", "yes"] in levels
    duck = build_features(dataset, CUTOFFS[:1], Config())
    assert_frames_equal(duck, churn_spark.build_features(read, CUTOFFS[:1], Config()))
    assert churn_spark.describe_data(read)[1]["tables"]["customers"]["rows"] == len(customers)


def test_labels_match_duckdb(dataset, sdata) -> None:
    duck = duck_labels.build_labels(dataset, CUTOFFS, Config())
    spark = churn_spark.build_labels(sdata, CUTOFFS, Config())
    assert 0 < duck["churned"].sum() < len(duck)
    assert_frames_equal(duck, spark)


def test_non_contractual_labels_match_duckdb(dataset, sdata) -> None:
    """Without churn_events the population and churn rule change; both engines follow."""
    layout = {t: c for t, c in sdata.layout.items() if t != "churn_events"}
    no_churn = churn_spark.SparkData(sdata.spark, sdata.source, tuple(layout), layout, sdata.attributes, sdata.data_end,
                                     sdata.views)
    con = dataset.con.cursor()
    ds = type(dataset)(con=con, tables=tuple(t for t in dataset.tables if t != "churn_events"),
                       attributes=dataset.attributes, data_end=dataset.data_end)
    assert_frames_equal(duck_labels.build_labels(ds, CUTOFFS, Config()), churn_spark.build_labels(no_churn, CUTOFFS, Config()))


@pytest.fixture(scope="module")
def training_sets(dataset, sdata):
    return (duck_labels.build_training_set(dataset, TRAIN_AS_OF, Config()),
            churn_spark.build_training_set(sdata, TRAIN_AS_OF, Config()))


def test_training_set_matches_duckdb(training_sets) -> None:
    duck, spark = training_sets
    assert duck.cutoffs == spark.cutoffs and duck.split_cutoffs == spark.split_cutoffs
    assert duck.feature_names == spark.feature_names and duck.specs == spark.specs
    assert_frames_equal(duck.frame, spark.frame)


def test_training_set_has_duckdbs_season_frame_and_data_start(training_sets) -> None:
    # The drift reference's seasons (labels.season_cutoffs) and the young-data checks
    # (data_start) came from the DuckDB path only: a Spark-trained model had neither.
    duck, spark = training_sets
    seasons = sorted(set(duck.season_frame["cutoff"]))
    assert seasons == [pd.Timestamp("2025-01-04")] and not set(seasons) & set(duck.cutoffs)
    assert spark.season_frame is not None and sorted(set(spark.season_frame["cutoff"])) == seasons
    assert_frames_equal(duck.season_frame, spark.season_frame)
    assert spark.data_start == duck.data_start == pd.Timestamp("2021-01-01 13:38:17")
    assert spark.history_days() == duck.history_days()


@pytest.fixture(scope="module")
def models(training_sets, fit_small_models) -> LoadedModels:
    training = training_sets[0]
    churn, value, _, metadata = fit_small_models(training, (40, 30), 7, ("validation", "test"))
    return LoadedModels(churn, value, "1", "2", "run-spark-test", metadata)


def test_scoring_partitions() -> None:
    rows_per = churn_spark.ROWS_PER_SCORING_PARTITION
    assert churn_spark.scoring_partitions(1_338, 200, 2) == 1  # a small table: one file
    assert churn_spark.scoring_partitions(0, 200, 2) == 1
    assert churn_spark.scoring_partitions(30_000, 200, 2) == 2  # each core busy once rows fill it
    assert churn_spark.scoring_partitions(461_230, 200, 2) == 10  # one per ROWS_PER_SCORING_PARTITION rows
    assert churn_spark.scoring_partitions(rows_per * 500, 200, 400) == 200  # coalescing never adds partitions
    assert churn_spark.scoring_partitions(10_000_000, 400, 400) == 400  # a cluster keeps its cores busy


def test_scores_match_duckdb(dataset, sdata, models, tmp_path: Path) -> None:
    duck = score(dataset, SCORE_AS_OF, models, Config())
    out = tmp_path / "scores"
    # Spark's default 200 shuffle partitions once gave one part file per partition, whatever the size
    sdata.spark.conf.set("spark.sql.shuffle.partitions", "40")
    try:
        summary = churn_spark.score(sdata, SCORE_AS_OF, models, str(out), Config())
    finally:
        sdata.spark.conf.set("spark.sql.shuffle.partitions", "2")
    assert len(duck) < churn_spark.MIN_ROWS_PER_CORE and len(list(out.glob("part-*.parquet"))) == 1
    spark = pd.read_parquet(out).sort_values("customer_id").reset_index(drop=True)
    assert list(spark.columns) == list(SCORE_COLUMNS)
    assert summary["rows"] == len(duck)
    assert sum(summary["counts"]["segment"].values()) == len(duck)
    assert duck["reasons"].str.len().gt(0).any()
    assert_frames_equal(duck, spark)
    assert summary["value_tier_thresholds"] == scores_value_thresholds(duck).to_dict()
    assert not list(tmp_path.glob("scores.tmp-*")) and not list(tmp_path.glob("scores.old-*"))


def test_score_refuses_an_as_of_before_the_models_training_data_as_the_duckdb_path(sdata, models, tmp_path: Path) -> None:
    # The library's Spark score took a date the models never saw and wrote its scores; `churnml score` refused it.
    from churnml.labels import first_training_cutoff

    before = first_training_cutoff(models.metadata) - pd.Timedelta(days=1)
    with pytest.raises(ConfigError, match=rf"^as_of {before:%Y-%m-%d} is before the models' training data: .*"
                                          r"\(load_models\(VERSION\)\)\.$"):
        churn_spark.score(sdata, before, models, str(tmp_path / "scores"), Config())
    assert not list(tmp_path.iterdir())


def test_the_models_reach_the_executors_as_a_broadcast(dataset, sdata, training_sets, fit_small_models, tmp_path: Path,
                                                      capfd) -> None:
    """The models of a 2-trial training (457 KiB pickled) travelled inside the scoring passes'
    closures, so every task carried them and Spark warned `Broadcasting large task binary with size
    1203.0 KiB` on each score run; sent once as a broadcast, no task carries them."""
    churn, value, _, metadata = fit_small_models(training_sets[0], (200, 200), 31, ("validation", "test"))
    large = LoadedModels(churn, value, "1", "2", "run-spark-test", metadata)
    # Under 1 MiB (spark.broadcast.UDFCompressionThreshold) PySpark puts a pickled closure in the task
    # binary, which Spark warns of from 1000 KiB; a larger one it broadcasts on its own.
    assert 450 * 1024 < len(pickle.dumps(large)) < 1024 * 1024
    out = tmp_path / "scores"
    capfd.readouterr()
    sdata.spark.sparkContext.setLogLevel("WARN")  # as a run logs
    try:
        churn_spark.score(sdata, SCORE_AS_OF, large, str(out), Config())
    finally:
        sdata.spark.sparkContext.setLogLevel("ERROR")
    assert "Broadcasting large task binary" not in capfd.readouterr().err
    assert_frames_equal(score(dataset, SCORE_AS_OF, large, Config()),
                        pd.read_parquet(out).sort_values("customer_id").reset_index(drop=True))


def test_a_customers_column_empty_in_every_row_scores_as_missing_on_both(spark, data_dir: Path, tmp_path: Path,
                                                                          models) -> None:
    """A customers column the models use, blank in every row of a later export: validation leaves it
    out of the features (empty) and the DuckDB path scores it as missing for everyone. Spark stopped
    with "The feature table lacks column(s) region" (so did the library's score)."""
    assert "region" in models.churn.feature_names_
    folder = _copy_data(data_dir, tmp_path / "data")
    customers = pd.read_parquet(folder / "customers.parquet")
    customers["region"] = None
    customers.to_parquet(folder / "customers.parquet", index=False)
    dataset = load_dataset(folder, Config())
    assert dataset.summary["left_out_columns"] == {"region": "empty"}
    duck = score(dataset, SCORE_AS_OF, models, Config())
    out = tmp_path / "scores"
    churn_spark.score(churn_spark.read_tables(spark, str(folder)), SCORE_AS_OF, models, str(out), Config())
    assert_frames_equal(duck, pd.read_parquet(out).sort_values("customer_id").reset_index(drop=True))


def test_lifecycle_stage_by_a_customers_own_rhythm_is_the_same_on_both(spark, data_dir: Path, tmp_path: Path,
                                                                         models) -> None:
    """The generated sample has no customer whose usual gap changes the stage; a paid-up annual
    payer and a lapsed monthly payer, added by hand, get the same stage on both engines."""
    from conftest import add_annual_and_monthly_payers

    folder = _copy_data(data_dir, tmp_path / "data")
    annual, monthly = add_annual_and_monthly_payers(folder, SCORE_AS_OF)
    duck = score(load_dataset(folder, Config()), SCORE_AS_OF, models, Config())
    out = tmp_path / "scores"
    churn_spark.score(churn_spark.read_tables(spark, str(folder)), SCORE_AS_OF, models, str(out), Config())
    spark_scores = pd.read_parquet(out).sort_values("customer_id").reset_index(drop=True)
    assert_frames_equal(duck, spark_scores)
    stages = spark_scores.set_index("customer_id")["lifecycle_stage"]
    assert (stages[annual], stages[monthly]) == ("stable", "lapsed")


# --------------------------------------------------------------------------------------------
# The CLI with --engine spark: train on a Spark training set, score on Spark
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def spark_trained(spark, data_dir: Path, tmp_path_factory: pytest.TempPathFactory):
    """`churnml train --engine spark` into a private MLflow store: 1 trial, 30 rounds, 1 thread (~15 s)."""
    root = tmp_path_factory.mktemp("spark_cli")
    config = root / "churnml.toml"
    config.write_text("[training]\nmin_customers = 50\n")  # the small generated population
    uri = f"sqlite:///{root / 'mlflow.db'}"
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(root)
        patch.setenv("MLFLOW_TRACKING_URI", uri)
        patch.setattr(train_module, "train_on", functools.partial(train_module.train_on, n_estimators=30, n_jobs=1))
        # The 300 customers hold few values of 50: attribute reasons say their churn (what parity checks) at 10,
        # and none clearly above the average: the reference kept without the average's counts, as models trained
        # before them, says every figure above 1.0.
        patch.setattr(monitoring, "MIN_RATIO_CUSTOMERS", 10)
        reference = monitoring.reference_statistics
        patch.setattr(monitoring, "reference_statistics", lambda *a, **k: {**reference(*a, **k), "training_churn": None})
        result = CliRunner().invoke(get_app(), [
            "train", str(data_dir), "--as-of", f"{TRAIN_AS_OF:%Y-%m-%d}", "--engine", "spark", "--master", "local[2]",
            "--trials", "1", "--seed", "3", "--config", str(config),
        ], terminal_width=200)
        assert result.exit_code == 0, result.output
        # 300 customers give a handful of test churners: the interval of the churn model's ROC
        # AUC reaches chance, so training registers the models without promoting them. The
        # tests below score with them, promoted by hand.
        assert "not promoted: the churn model ranks no better than chance" in " ".join(result.output.split())
        for name in (tracking.CHURN_MODEL_NAME, tracking.VALUE_MODEL_NAME):
            promoted = CliRunner().invoke(get_app(), ["promote", name, "1"])
            assert promoted.exit_code == 0, promoted.output
        models = tracking.load_models("champion")
        run = tracking._client().get_run(models.run_id)
    return root, uri, config, models, run, result.stdout


def test_train_with_spark_engine_registers_the_models(spark_trained, training_sets, data_dir: Path) -> None:
    _, _, _, models, run, output = spark_trained
    duck = training_sets[0]
    assert models.metadata["feature_names"] == duck.feature_names
    assert models.metadata["as_of"] == f"{TRAIN_AS_OF:%Y-%m-%d}"
    fingerprint = models.metadata["data_fingerprint"]
    assert len(fingerprint) == 64 and run.data.params["data_fingerprint"] == fingerprint
    assert run.data.params["rows_test"] == str((duck.frame["split"] == "test").sum())
    assert run.data.tags["churnml.promoted"] == "False"
    assert models.metadata["problem"] == {"horizon_days": 90, "margin": 1.0, "churn": "closure"}
    # The drift reference has the DuckDB path's seasons: the training cutoffs but the test one,
    # and the feature-only cutoff between the splits.
    reference = models.monitoring_reference
    # The churn of each attribute's values, recorded for its reasons, is the DuckDB training set's.
    train = duck.split("train")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(monitoring, "MIN_RATIO_CUSTOMERS", 10)  # as spark_trained trained
        ratios = {spec.name: monitoring.churn_ratios(train[spec.name], train["churned"].to_numpy(),
                                                     train["customer_id"].to_numpy(), reference["features"][spec.name])
                  for spec in duck.specs if spec.column is not None and spec.name in models.metadata["feature_names"]}
    assert {name: reference["features"][name]["churn_ratio"] for name in ratios} == ratios
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(monitoring, "MIN_RATIO_CUSTOMERS", 10)
        counts = {spec.name: monitoring.churn_counts(train[spec.name], train["churned"].to_numpy(),
                                                     train["customer_id"].to_numpy(), reference["features"][spec.name])
                  for spec in duck.specs if spec.column is not None and spec.name in models.metadata["feature_names"]}
    assert {name: reference["features"][name]["churn_counts"] for name in counts} == counts
    assert reference["training_churn"] is None  # as spark_trained trained
    assert any(ratio > 1 for levels in ratios.values() if isinstance(levels, dict) for ratio in levels.values())
    assert sorted(reference["seasons"]) == sorted(f"{c:%Y-%m-%d}" for c in [*duck.cutoffs[:-1], *duck.season_frame["cutoff"].unique()])
    assert reference["data_start"] == f"{duck.data_start:%Y-%m-%d}"
    # A scheduler's log (no terminal here) heard nothing until the first trial: a timestamped line per
    # stage, in the DuckDB run's words, the JVM's start one of its own.
    stages = [line[20:] for line in output.splitlines() if re.match(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d ", line)]
    assert stages[:4] == ["Starting Spark", f"Reading and validating {data_dir}",
                          f"Building the training set as of {TRAIN_AS_OF:%Y-%m-%d}", "Fitting the baselines"]


def test_data_fingerprint_and_summary_on_spark(sdata, dataset) -> None:
    fingerprint, summary = churn_spark.describe_data(sdata)
    assert churn_spark.describe_data(sdata)[0] == fingerprint and len(fingerprint) == 64
    assert summary["engine"] == "spark"
    for key in ("customers", "customers_without_transactions", "share_without_transactions"):
        assert summary[key] == pytest.approx(dataset.summary[key], rel=1e-12), key
    for table, stats in summary["tables"].items():
        assert stats["rows"] == dataset.summary["tables"][table]["clean_rows"], table
        for key in ("first", "last"):
            assert stats.get(key) == dataset.summary["tables"][table].get(key), (table, key)
    assert summary["tables"]["customers"]["first"] is not None  # the sign-ups' span, as validation gives it
    # one changed value changes the fingerprint
    from pyspark.sql import functions as F

    customers = sdata.spark.table(sdata.views["customers"])
    first = customers.first()["customer_id"]
    changed = customers.withColumn("customer_id", F.when(F.col("customer_id") == first, "changed").otherwise(F.col("customer_id")))
    view = f"{sdata.views['customers']}_changed"
    changed.createOrReplaceTempView(view)
    other = churn_spark.SparkData(sdata.spark, sdata.source, sdata.tables, sdata.layout, sdata.attributes, sdata.data_end,
                                  {**sdata.views, "customers": view})
    assert churn_spark.describe_data(other)[0] != fingerprint


def test_spark_scoring_refuses_another_problem_definition(spark_trained, data_dir: Path, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """As `churnml score` does: without the churn_events table the models were trained with, closed
    accounts would be scored as customers."""
    root, uri, config, _, _, _ = spark_trained
    monkeypatch.chdir(root)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    no_closures = tmp_path / "no_closures"
    shutil.copytree(data_dir, no_closures, ignore=shutil.ignore_patterns("churn_events*"))
    out = tmp_path / "scores"
    result = CliRunner().invoke(get_app(), ["score", str(no_closures), "--as-of", f"{SCORE_AS_OF:%Y-%m-%d}", "--out", str(out),
                                            "--config", str(config), "--engine", "spark", "--master", "local[2]"])
    assert result.exit_code == 2, result.output
    assert ("Error: The models were trained for another problem: churn = an account closure (a churn_events table) "
            "when trained") in " ".join(result.stderr.split())
    assert not out.exists()
    # The data's notes come before the error, as on DuckDB: here the note is the error's cause. Spark
    # printed them only once the scores were written, so a failed run never showed them.
    assert "Note: No churn_events table: a customer counts as churned after a horizon without transactions" in " ".join(
        result.stdout.split())


def test_score_with_spark_engine_equals_duckdb_score(spark_trained, data_dir: Path, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    root, uri, config, models, _, _ = spark_trained
    monkeypatch.chdir(root)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    runner, as_of = CliRunner(), f"{SCORE_AS_OF:%Y-%m-%d}"
    duck_out, spark_out = tmp_path / "duck.parquet", tmp_path / "spark_scores"
    result = runner.invoke(get_app(), ["score", str(data_dir), "--as-of", as_of, "--out", str(duck_out), "--config", str(config),
                                       "--snapshot-dir", str(tmp_path / "snapshots")], terminal_width=200)
    assert result.exit_code == 0, result.output
    duck_output = result.stdout
    (tmp_path / "spark_scores.json").write_text("{}")  # a stale sidecar is replaced
    result = runner.invoke(get_app(), ["score", str(data_dir), "--as-of", as_of, "--out", str(spark_out), "--config", str(config),
                                       "--engine", "spark", "--master", "local[2]"], terminal_width=200)
    assert result.exit_code == 0, result.output

    duck = pd.read_parquet(duck_out)
    spark = pd.read_parquet(spark_out).sort_values("customer_id").reset_index(drop=True)
    assert list(spark.columns) == list(duck.columns) == list(SCORE_COLUMNS)
    assert (duck["churn_model_version"] == str(models.churn_version)).all()
    assert duck["reasons"].str.contains(", where churn runs ").any()  # an attribute's reason says why, on both
    assert_frames_equal(duck, spark)

    duck_meta = json.loads((tmp_path / "duck.parquet.json").read_text())
    spark_meta = json.loads((tmp_path / "spark_scores.json").read_text())
    # Spark writes a folder of parts: no one file for the sidecar to record the sha256 of.
    assert set(duck_meta) - {"scores_sha256"} <= set(spark_meta)
    assert spark_meta["engine"] == "spark" and spark_meta["scores_file"] == "spark_scores"
    for key in ("as_of", "data_last_day", "models", "columns", "rows", "counts", "config", "churn_probability_levels"):
        assert spark_meta[key] == duck_meta[key], key
    assert spark_meta["data_last_day"] is not None
    # Exactly: a customer on a cut point took another tier when Spark cut on the model's value and
    # DuckDB on predicted_value + value_at_risk, which can differ in the last bit.
    assert spark_meta["value_tier_thresholds"] == duck_meta["value_tier_thresholds"]
    for key, value in duck_meta["totals"].items():
        assert spark_meta["totals"][key] == pytest.approx(value, rel=RTOL), key
    for segment, stats in duck_meta["segments"].items():
        for key, value in stats.items():
            other = spark_meta["segments"][segment][key]
            assert other == value if value is None else other == pytest.approx(value, rel=RTOL), (segment, key)
    for column, stats in duck_meta["distributions"].items():
        assert stats.keys() == spark_meta["distributions"][column].keys(), column
        assert spark_meta["distributions"][column]["mean"] == pytest.approx(stats["mean"], rel=RTOL), column
        for q in ("q00", "q100"):  # the extremes are exact; percentile_approx is within one rank elsewhere
            assert spark_meta["distributions"][column][q] == pytest.approx(stats[q], rel=RTOL), (column, q)
    assert len(spark_meta["data_fingerprint"]) == 64
    # The drift check saw every customer (fewer than [monitoring] drift_sample_rows): DuckDB's report,
    # its PSIs within RTOL (the features are), and the same line at the end of the run.
    duck_drift, spark_drift = duck_meta["monitoring"], spark_meta["monitoring"]
    assert spark_drift["rows_checked"] == duck_drift["rows_checked"] == duck_meta["rows"]
    assert_same_json(spark_drift, duck_drift)
    assert {row["feature"] for row in spark_drift["features"]} == set(models.monitoring_reference["features"])
    drift_lines = [[line for line in output.splitlines() if line.startswith("Drift: ")]
                   for output in (duck_output, result.stdout)]
    assert drift_lines[0] == drift_lines[1] and len(drift_lines[0]) == 1, drift_lines
    assert "drift check saw a uniform sample" not in result.stdout
    # The customers left out, counted by reason as on DuckDB (which also names the file listing them).
    not_scored = [[line for line in output.splitlines() if line.startswith("Not scored: ")]
                  for output in (duck_output, result.stdout)]
    assert len(not_scored[0]) == 1 and " closed before it (churn_events)" in not_scored[0][0], not_scored
    assert not_scored[1] == [not_scored[0][0].split(" (listed in ")[0] + "."]
    # A scheduler's log (stdout is no terminal here) saw nothing of Spark's minutes of work: a
    # timestamped line per stage, as DuckDB's log() gives them, the first two in DuckDB's words.
    stages = [[line[20:] for line in output.splitlines() if re.match(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d ", line)]
              for output in (duck_output, result.stdout)]
    rows = f"{duck_meta['rows']:,}"
    assert stages[0][:2] == [f"Reading and validating {data_dir}", f"Building features as of {as_of}"]
    assert stages[1][:3] == ["Starting Spark", *stages[0][:2]]  # the JVM's start, no longer counted as reading
    assert stages[1][3:] == [
        f"Predicting the value of {rows} customers for the value tiers' cut points",
        f"Scoring {rows} customers with churnml-churn v{models.churn_version}, churnml-value v{models.value_version} and "
        f"writing {spark_out}",
        f"Checking drift over {rows} customers",
        f"Summarising the scores by tier and segment into {spark_out}.json",
        f"Counting the customers outside the population at {as_of}"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["duck.parquet", "duck.parquet.json", "snapshots", "spark_scores",
                                                           "spark_scores.json"]
    # The next step, as on DuckDB: retention-list reads the folder, and lists who the DuckDB scores list.
    next_lines = [[line for line in output.splitlines() if line.startswith("Next: ")] for output in (duck_output, result.stdout)]
    assert next_lines == [[f"Next: churnml retention-list {scores} --out retention_list.csv --budget 5000 --config {config}"]
                          for scores in (duck_out, spark_out)]
    lists = {}
    for name, scores in (("duck", duck_out), ("spark", spark_out)):
        listed = runner.invoke(get_app(), ["retention-list", str(scores), "--out", str(tmp_path / f"{name}_list.csv"),
                                           "--budget", "5000", "--config", str(config)], terminal_width=200)
        assert listed.exit_code == 0, listed.output
        lists[name] = (tmp_path / f"{name}_list.csv").read_text()
    assert lists["spark"] == lists["duck"] and len(lists["duck"].splitlines()) > 2
    for scores in (duck_out, spark_out):  # every customer checked: no word of a sample
        shown = runner.invoke(get_app(), ["report", "--scores", str(scores), "--out", str(tmp_path / "report.html")])
        assert shown.exit_code == 0 and "uniform sample" not in (tmp_path / "report.html").read_text(), shown.output


def assert_same_json(spark: object, duck: object, where: str = "") -> None:
    """The same JSON document; floats within RTOL (0 within 1e-12)."""
    if isinstance(duck, dict):
        assert isinstance(spark, dict) and spark.keys() == duck.keys(), (where, spark, duck)
        for key in duck:
            assert_same_json(spark[key], duck[key], f"{where}.{key}")
    elif isinstance(duck, list):
        assert isinstance(spark, list) and len(spark) == len(duck), (where, spark, duck)
        for i, (a, b) in enumerate(zip(spark, duck)):
            assert_same_json(a, b, f"{where}[{i}]")
    elif isinstance(duck, float) and not isinstance(duck, bool):
        assert spark == pytest.approx(duck, rel=RTOL, abs=1e-12), (where, spark, duck)
    else:
        assert spark == duck, (where, spark, duck)


def test_a_spark_score_whose_sidecar_cannot_be_written_leaves_the_last_folder_and_sidecar(
        spark_trained, data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # `score --engine spark` deleted the last sidecar, renamed its folder into place and then wrote the sidecar: one
    # that could not be written (a full disk) left the new folder without a sidecar, exit 2 after the whole run. It
    # is now staged as the features' descriptions are, so the folder is never replaced. The file size limit is this
    # (Python) process's alone: the JVM, started already by the fixture, writes the folder without it. It is set once
    # the run says it scores, after the models are loaded (MLflow copies their files, larger than the sidecar).
    import hashlib
    import resource

    from churnml.cli import score as score_cli

    root, uri, config, _, _, _ = spark_trained
    monkeypatch.chdir(root)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    out, sidecar = tmp_path / "scores", tmp_path / "scores.json"
    command = ["score", str(data_dir), "--out", str(out), "--config", str(config), "--engine", "spark", "--master", "local[2]"]
    earlier = f"{SCORE_AS_OF - pd.Timedelta(days=30):%Y-%m-%d}"
    first = CliRunner().invoke(get_app(), [*command, "--as-of", earlier], terminal_width=200)
    assert first.exit_code == 0, first.output

    def digests() -> dict[str, str]:
        return {p.relative_to(tmp_path).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
                for p in sorted(tmp_path.rglob("*")) if p.is_file()}

    before = digests()
    limit = sidecar.stat().st_size // 2
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    said = score_cli.log

    def log(text: str) -> None:
        said(text)
        if text.startswith("Scoring "):
            resource.setrlimit(resource.RLIMIT_FSIZE, (limit, hard))

    monkeypatch.setattr(score_cli, "log", log)
    try:
        failed = CliRunner().invoke(get_app(), [*command, "--as-of", f"{SCORE_AS_OF:%Y-%m-%d}"], terminal_width=200)
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
    assert failed.exit_code == 2, failed.output
    assert failed.stderr.startswith(f"Error: File too large ({sidecar})."), failed.stderr
    assert digests() == before  # the folder's parts and the sidecar as they were, and no temporary file
    assert set(pd.read_parquet(out)["as_of"].astype(str)) == {earlier}


def test_spark_score_fails_on_drift_with_a_sample_of_the_customers(spark_trained, data_dir: Path, tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """--fail-on-drift with --engine spark: exit 3 on data that drifted (every amount of the last 60 days
    doubled, as test_monitoring makes a change of money level), the scores and the sidecar written
    as DuckDB writes them then; the check saw the sample [monitoring] drift_sample_rows allows."""
    root, uri, config, _, _, _ = spark_trained
    monkeypatch.chdir(root)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    doubled = tmp_path / "doubled"
    shutil.copytree(data_dir, doubled)
    transactions = pd.read_parquet(doubled / "transactions.parquet")
    late = pd.to_datetime(transactions["timestamp"]) >= SCORE_AS_OF - pd.Timedelta(days=60)
    transactions.loc[late, "amount"] = transactions.loc[late, "amount"] * 2
    transactions.to_parquet(doubled / "transactions.parquet", index=False)
    sampled = tmp_path / "churnml.toml"
    sampled.write_text(config.read_text() + "[monitoring]\ndrift_sample_rows = 100\n")
    out = tmp_path / "scores"
    result = CliRunner().invoke(get_app(), ["score", str(doubled), "--as-of", f"{SCORE_AS_OF:%Y-%m-%d}", "--out", str(out),
                                            "--config", str(sampled), "--engine", "spark", "--master", "local[2]",
                                            "--fail-on-drift"], terminal_width=200)
    assert result.exit_code == 3, result.output
    error = " ".join(result.stderr.split())
    assert error.startswith("Error: ") and "Money level of monetary_" in error, error
    assert f"The scores were written to {out} for inspection; the exit code is 3 so a batch job stops here." in error
    meta = json.loads((tmp_path / "scores.json").read_text())
    section = meta["monitoring"]
    assert section["drifted"] and section["money_levels"]["monetary_30d"]["drifted"]
    assert section["rows_checked"] == 100 < meta["rows"] == len(pd.read_parquet(out))
    assert f"Note: the drift check saw a uniform sample of 100 of the {meta['rows']:,} customers" in result.stdout
    assert "Drift: " not in result.stdout  # the error, last, is the run's outcome (as on DuckDB)
    # The report's drift section showed the sample's PSIs as the population's, without a word.
    page = tmp_path / "report.html"
    shown = CliRunner().invoke(get_app(), ["report", "--scores", str(out), "--out", str(page)])
    assert shown.exit_code == 0, shown.output
    assert (f"The drift check saw a uniform sample of 100 of the {meta['rows']:,} customers scored ([monitoring] "
            "drift_sample_rows, with churnml score --engine spark): the PSIs, missing rates, means and money levels below "
            "are the sample's, a share of 10 % read to about ±3 percentage points.") in page.read_text()


def test_the_drift_sample_is_drawn_by_customer_id(sdata, dataset) -> None:
    """drift_sample: every customer up to the limit, else that many, the same ones however Spark
    partitions the rows, with their features as the DuckDB path types them and their own scores."""
    from pyspark.sql import functions as F

    features = churn_spark.feature_frame(sdata, [SCORE_AS_OF], Config(), ordered=False).drop("cutoff")
    scores = features.select("customer_id", *[(F.length("customer_id") * i).cast("double").alias(c)
                                              for i, c in enumerate(churn_spark.DRIFT_SCORE_COLUMNS, 1)])
    population = features.count()
    duck = duck_labels.build_scoring_frame(dataset, SCORE_AS_OF, Config()).sort_values("customer_id").reset_index(drop=True)
    every, every_scores = churn_spark.drift_sample(sdata, features, scores, population, SCORE_AS_OF, population)
    assert_frames_equal(duck[every.columns], every)
    assert every_scores["customer_id"].tolist() == every["customer_id"].tolist()
    some, some_scores = churn_spark.drift_sample(sdata, features, scores, population, SCORE_AS_OF, 50)
    again, _ = churn_spark.drift_sample(sdata, features.repartition(7), scores.repartition(3), population, SCORE_AS_OF, 50)
    assert len(some) == 50 and some["customer_id"].tolist() == again["customer_id"].tolist()
    assert some["customer_id"].is_monotonic_increasing and some_scores["customer_id"].tolist() == some["customer_id"].tolist()
    assert (some_scores["value_at_risk"] == 3.0 * some["customer_id"].str.len()).all()
    assert_frames_equal(duck.set_index("customer_id").loc[some["customer_id"]].reset_index()[some.columns], some)


def test_features_cli_takes_master_with_the_spark_engine_only(data_dir: Path, tmp_path: Path) -> None:
    # `churnml features --engine spark` itself (its output folder and descriptions) is checked on
    # the fresh-process run of test_a_spark_run_prints_no_start_up_warnings_but_errors.
    wrong = CliRunner().invoke(get_app(), ["features", str(data_dir), "--as-of", "2025-01-01", "--out", str(tmp_path / "features"),
                                           "--master", "local[2]"])
    assert wrong.exit_code != 0 and "--master applies to --engine spark only" in wrong.output


@pytest.mark.parametrize("command", ["features", "train", "score"])
def test_a_local_data_folder_that_is_missing_or_a_file_is_refused_before_spark_starts(
        command: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A typo in DATA started Spark (half a minute and more) before it said the customers table was
    "not found under" the folder, where the DuckDB path says at once that DATA does not exist; a
    DuckDB file or a CSV as DATA went the same way. Both are refused before Spark starts (exit 2)."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    (tmp_path / "churn.duckdb").write_bytes(b"")
    out = ["--out", str(tmp_path / "out")] if command != "train" else []
    for data, said in ((tmp_path / "churn", f"Error: Data source {tmp_path / 'churn'} does not exist. Pass a folder of "
                                            "Parquet files named after the tables (customers, transactions, …); "
                                            f"`churnml generate {tmp_path / 'churn'} --customers 1000` makes a sample."),
                       (tmp_path / "churn.duckdb", f"Error: Data source {tmp_path / 'churn.duckdb'} is a file; --engine "
                                                   "spark reads a folder of Parquet files named after the tables")):
        result = CliRunner().invoke(get_app(), [command, str(data), "--as-of", "2025-12-01", *out, "--engine", "spark",
                                                "--master", "local[2]"], terminal_width=100_000)
        assert result.exit_code == 2, result.output
        assert result.output.startswith(said) and "Starting Spark" not in result.output, result.output
    assert sorted(p.name for p in tmp_path.iterdir() if p.name != "mlflow.db") == ["churn.duckdb"]



SPARK_START_NOISE = ("WARN", "WARNING: Using incubator modules", "Using Spark's default log4j profile",
                     "Setting default log level", "To adjust logging level", "NativeCodeLoader", "loopback address",
                     "SPARK_LOCAL_IP", "PySpark does not yet fully support pandas")


def test_a_spark_run_prints_no_start_up_warnings_but_errors(data_dir: Path, tmp_path: Path) -> None:
    """`churnml features --engine spark` in a fresh process, as a user runs it: the JVM's incubator
    module line, Spark's log4j profile and log level lines, and start-up WARNs (native Hadoop
    library, hostname on loopback) came before churnml's one line. What the JVM prints when it
    fails still reaches the terminal, with churnml's advice. The run writes the features and their
    descriptions, one per column, and nothing else."""
    churnml = Path(sys.executable).with_name("churnml")
    assert churnml.exists(), "the churnml console script beside the test's interpreter"
    out = tmp_path / "features"
    command = [str(churnml), "features", str(data_dir), "--as-of", f"{SCORE_AS_OF:%Y-%m-%d}", "--out", str(out),
               "--engine", "spark", "--master", "local[2]"]
    run = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr
    assert "written to" in run.stdout and out.exists()
    described = json.loads((tmp_path / "features.features.json").read_text())
    assert [d["name"] for d in described] == list(pd.read_parquet(out).columns[2:])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["features", "features.features.json"]
    # A scheduler's log (stdout is no pipe's terminal) saw nothing for the minutes Spark works: a timestamped
    # line per stage, the JVM's start (tens of seconds) one of its own, as the DuckDB run's words go.
    duck_out = tmp_path.parent / f"{tmp_path.name}_duck" / "features.parquet"
    duck_out.parent.mkdir()
    duck = CliRunner().invoke(get_app(), ["features", str(data_dir), "--as-of", f"{SCORE_AS_OF:%Y-%m-%d}", "--out",
                                          str(duck_out)], terminal_width=100_000)
    assert duck.exit_code == 0, duck.output
    stages = [[line[20:] for line in output.splitlines() if re.match(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d ", line)]
              for output in (duck.stdout, run.stdout)]
    assert stages[0] == [f"Reading and validating {data_dir}", f"Building features as of {SCORE_AS_OF:%Y-%m-%d}"]
    assert stages[1] == ["Starting Spark", stages[0][0], f"{stages[0][1]} and writing {out}"]
    # The same table and descriptions as DuckDB's but for the attributes' type: Spark writes strings, no
    # pandas categories (docs/spark.md); the descriptions' kind says which columns are categorical.
    assert described == json.loads(duck_out.with_name("features.parquet.features.json").read_text())
    duck_table = pd.read_parquet(duck_out)
    spark_table = pd.read_parquet(out).sort_values("customer_id").reset_index(drop=True)
    categorical = [d["name"] for d in described if d["kind"] == "categorical"]
    assert categorical and all(isinstance(duck_table[name].dtype, pd.CategoricalDtype) for name in categorical)
    assert not any(isinstance(spark_table[name].dtype, pd.CategoricalDtype) for name in categorical)
    assert_frames_equal(duck_table.astype({name: object for name in categorical}),
                        spark_table.astype({name: object for name in categorical}))
    assert [line for line in run.stderr.splitlines() if any(noise in line for noise in SPARK_START_NOISE)] == []
    assert run.stderr.strip() == ""
    failed = subprocess.run(command, capture_output=True, text=True, timeout=300,
                            env={**os.environ, "SPARK_SUBMIT_OPTS": "-Xmx1x"})  # a heap size the JVM refuses
    assert failed.returncode != 0
    assert "Invalid maximum heap size: -Xmx1x" in failed.stderr  # the JVM's own words, before churnml's
    assert failed.stderr.index("Invalid maximum heap size") < failed.stderr.index("Error: Spark did not start")
    # A logging setup of the user's own wins over churnml's.
    (tmp_path / "log4j2.properties").write_text(
        "rootLogger.level = warn\nrootLogger.appenderRef.stdout.ref = console\nappender.console.type = Console\n"
        "appender.console.name = console\nappender.console.target = SYSTEM_ERR\n"
        "appender.console.layout.type = PatternLayout\nappender.console.layout.pattern = OWN %p %c{1}: %m%n\n")
    own = subprocess.run([sys.executable, "-c", "from churnml.spark import spark_session; spark_session('local[1]').stop()"],
                         capture_output=True, text=True, timeout=300,
                         env={**os.environ, "SPARK_SUBMIT_OPTS": f"-Dlog4j2.configurationFile={tmp_path / 'log4j2.properties'}"})
    assert own.returncode == 0, own.stderr
    assert "OWN WARN NativeCodeLoader: Unable to load native-hadoop library" in own.stderr


# --------------------------------------------------------------------------------------------
# Dialect edges: one DuckDB expression, both engines, the same value
# --------------------------------------------------------------------------------------------

EDGES = {
    "sub_second_epoch_days": "epoch(TIMESTAMP '2024-03-10 02:30:00.123456') / 86400.0",
    "day_difference_across_dst_and_leap_day": (
        "(epoch(TIMESTAMP '2024-03-11 12:00:00') - epoch(TIMESTAMP '2024-02-28 12:00:00.5')) / 86400.0"),
    "interval_back_over_leap_day": "epoch(TIMESTAMP '2024-03-01 00:00:00' - INTERVAL '1' DAY)",
    "interval_forward_one_year": "epoch(TIMESTAMP '2024-01-31 23:59:59' + INTERVAL '365' DAY)",
    "interval_over_dst_change": "epoch(TIMESTAMP '2024-11-03 01:30:00' + INTERVAL '1' DAY)",
    "integer_slash_is_true_division": "7 / 2",
    "negative_integer_division_truncates": "-7 // 2",
    "decimal_literal_arithmetic": "CAST(60.0 - 5.0 * LEAST(3, 4) AS DOUBLE) / 3",
    "coalesce_null": "COALESCE(CAST(NULL AS DOUBLE), 9999.0)",
    "greatest_skips_null": "GREATEST(CAST(NULL AS DOUBLE), 1.0)",
    "case_without_else_is_null": "CAST(CASE WHEN 1 = 0 THEN 1 END AS DOUBLE)",
}


@pytest.fixture(scope="module")
def edge_values(spark) -> tuple[dict, dict]:
    select = ", ".join(f"{sql} AS {name}" for name, sql in EDGES.items())
    with duckdb.connect() as con:
        con.execute("SET TimeZone='UTC'")
        duck = con.execute(f"SELECT {select}").df().iloc[0].to_dict()
    row = spark.sql(churn_spark.to_spark_sql(f"SELECT {select}")).collect()[0].asDict()
    return duck, row


@pytest.mark.parametrize("name", list(EDGES))
def test_dialect_edge(edge_values, name: str) -> None:
    duck, spark = edge_values
    a, b = duck[name], spark[name]
    if a is None or (isinstance(a, float) and np.isnan(a)):
        assert b is None or (isinstance(b, float) and np.isnan(b))
    else:
        assert float(b) == pytest.approx(float(a), rel=RTOL, abs=0.0)


def test_known_values_of_edges(edge_values) -> None:
    duck, _ = edge_values
    assert duck["negative_integer_division_truncates"] == -3
    assert duck["integer_slash_is_true_division"] == 3.5
    assert duck["interval_back_over_leap_day"] == pd.Timestamp("2024-02-29").timestamp()
    assert duck["day_difference_across_dst_and_leap_day"] == pytest.approx(12.0 - 0.5 / 86400, rel=1e-12)


def test_naive_transpile_was_wrong_and_the_rewrites_fix_it() -> None:
    import sqlglot

    naive = sqlglot.transpile("SELECT epoch(ts) / 86400.0 FROM t", read="duckdb", write="spark")[0]
    assert "UNIX_TIMESTAMP(ts) / 86400.0" in naive  # whole seconds, then DECIMAL division
    fixed = churn_spark.to_spark_sql("SELECT epoch(ts) / 86400.0, 1e-9, TIMESTAMP '2024-01-01 00:00:00' FROM t")
    assert "UNIX_MICROS(CAST(ts AS TIMESTAMP_LTZ))" in fixed
    assert "CAST(86400.0 AS DOUBLE)" in fixed and "CAST(1e-9" not in fixed
    assert "TIMESTAMP_NTZ" in fixed


def test_null_aggregates_and_arg_max_ties(spark, tmp_path: Path) -> None:
    """SUM over nothing is NULL, COUNT(CASE) is 0, ARG_MAX/MAX_BY skip NULL keys, ties go to the lower score."""
    frame = pd.DataFrame({
        "k": ["a", "a", "a", "b", "c"],
        "t": [1.0, 2.0, 2.0, None, 5.0],
        "s": [5.0, 4.0, 2.0, 3.0, None],
    })
    path = tmp_path / "edge.parquet"
    frame.to_parquet(path, index=False)
    sql = (
        "SELECT k, SUM(CASE WHEN s > 10 THEN s END) AS none_sum, COUNT(CASE WHEN s > 10 THEN 1 END) AS none_count, "
        "ARG_MAX(s, t - 1e-9 * s) AS last_s FROM edge GROUP BY k ORDER BY k"
    )
    with duckdb.connect() as con:
        con.execute(f"CREATE VIEW edge AS SELECT * FROM read_parquet('{path}')")
        duck = con.execute(sql).df()
    spark.read.parquet(str(path)).createOrReplaceTempView("edge")
    result = churn_spark.to_pandas(spark.sql(churn_spark.to_spark_sql(sql)))
    assert duck["last_s"].tolist()[0] == 2.0
    assert duck["none_count"].tolist() == result["none_count"].tolist() == [0, 0, 0]
    assert result["none_sum"].isna().all() and duck["none_sum"].isna().all()
    assert duck["last_s"].fillna(-1).tolist() == result["last_s"].fillna(-1).tolist()


def test_order_by_puts_nulls_last_like_duckdb(spark) -> None:
    sql = "SELECT x FROM (VALUES (2), (NULL), (1)) AS v(x) ORDER BY x"
    with duckdb.connect() as con:
        duck = [r[0] for r in con.execute(sql).fetchall()]
    assert [r[0] for r in spark.sql(churn_spark.to_spark_sql(sql)).collect()] == duck == [1, 2, None]


def test_unordered_drops_only_the_final_order_by() -> None:
    """Written folders skip the global sort (a sampling job and a range shuffle on Spark); inner ones stay."""
    sql = "WITH t AS (SELECT x FROM v ORDER BY x LIMIT 5) SELECT x FROM t ORDER BY x"
    unordered = churn_spark.to_spark_sql(sql, ordered=False)
    assert unordered.count("ORDER BY") == 1 and unordered.rstrip().endswith("FROM t")
    assert churn_spark.to_spark_sql(sql).count("ORDER BY") == 2


def test_time_zone_does_not_shift_wall_times(spark, tmp_path: Path) -> None:
    """A naive timestamp in Parquet is UTC wall time on both engines, whatever the session zone was."""
    path = tmp_path / "transactions.parquet"
    pd.DataFrame({"customer_id": ["a"], "timestamp": [pd.Timestamp("2024-03-10 02:30:00")], "amount": [1.0]}).to_parquet(path)
    pd.DataFrame({"customer_id": ["a"]}).to_parquet(tmp_path / "customers.parquet")
    spark.conf.set("spark.sql.session.timeZone", "America/New_York")  # e.g. a cluster default
    try:
        session = churn_spark.spark_session()
        assert session.conf.get("spark.sql.session.timeZone") == "UTC"
        data = churn_spark.read_tables(session, str(tmp_path))
        sql = churn_spark.to_spark_sql("SELECT timestamp, epoch(timestamp) AS e FROM transactions", data.views)
        row = session.sql(sql).collect()[0]
    finally:
        spark.conf.set("spark.sql.session.timeZone", "UTC")
    assert data.layout["transactions"] == {"customer_id", "timestamp", "amount"}
    assert row["timestamp"] == pd.Timestamp("2024-03-10 02:30:00").to_pydatetime()
    assert row["e"] == pd.Timestamp("2024-03-10 02:30:00", tz="UTC").timestamp()


# --------------------------------------------------------------------------------------------
# Input errors, sampling, atomic writes
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("table, column, values, message", [
    ("transactions", "amount", lambda s: s.map(lambda v: f"{v:.2f}").mask(s.index % 50 == 0, "n/a"),
     r"Column amount of table 'transactions' .*: [\d,]+ of [\d,]+ values do not read as a number .*, for example 'n/a'\. "
     r"--engine spark reads clean tables"),
    ("transactions", "timestamp", lambda s: s.astype("int64") // 10**6,
     r"Column timestamp of table 'transactions' .* is stored as bigint, not as a date or datetime\. .*timestamp_seconds"),
    ("customers", "signup_date", lambda s: s.dt.strftime("%d.%m.%Y"),
     r"Column signup_date of table 'customers' .*: [\d,]+ of [\d,]+ values do not read as a date or datetime .*, for example '\d\d\.\d\d\.\d{4}'"),
])
def test_values_spark_cannot_read_are_a_data_error(spark, data_dir: Path, tmp_path: Path, table, column, values, message) -> None:
    """Not a JVM traceback (exit 1): the table, the column, an example and the fix, as validation says it."""
    folder = _copy_data(data_dir, tmp_path / "data")
    frame = pd.read_parquet(folder / f"{table}.parquet")
    frame[column] = values(frame[column])
    frame.to_parquet(folder / f"{table}.parquet", index=False)
    with pytest.raises(DataError, match=message):
        churn_spark.read_tables(spark, str(folder)).spark.sql("SELECT 1").collect()


def test_folders_of_parts_whose_schemas_differ(spark, data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A column added later is read (older parts give NULL); parts whose types differ are a DataError; no missing path is read."""
    from pyspark.sql.readwriter import DataFrameReader

    folder = _copy_data(data_dir, tmp_path / "data")
    (folder / "transactions.parquet").unlink()
    transactions = pd.read_parquet(data_dir / "transactions.parquet")
    parts = folder / "transactions"
    parts.mkdir()
    half = len(transactions) // 2
    transactions.iloc[:half].drop(columns="channel").to_parquet(parts / "part-0.parquet", index=False)
    transactions.iloc[half:].to_parquet(parts / "part-1.parquet", index=False)
    read = []
    original = DataFrameReader.parquet
    monkeypatch.setattr(DataFrameReader, "parquet", lambda self, *paths, **options: read.extend(paths) or original(self, *paths, **options))
    data = churn_spark.read_tables(spark, str(folder))
    assert "channel" in data.layout["transactions"]
    assert read and all(Path(p).exists() for p in read)  # probing a missing path logged a 95-line WARN each time



def test_parts_whose_types_differ_are_read_as_duckdb_reads_them(spark, data_dir: Path, tmp_path: Path, capfd) -> None:
    """Two systems' exports in one folder: amount as int64, DECIMAL and double, quantity as text and
    as numbers, timestamps with a zone (UTC) and without. DuckDB's union_by_name read them; Spark stopped after an 80-line Java stack trace.
    Types no type holds both of stop with the folder, the column, both types and the fix, and no trace."""
    folder = _copy_data(data_dir, tmp_path / "data")
    (folder / "transactions.parquet").unlink()
    transactions = pd.read_parquet(data_dir / "transactions.parquet")
    transactions["amount"] = transactions["amount"].round()  # whole amounts: int64 holds them as they are
    parts = folder / "transactions"
    parts.mkdir()
    third = len(transactions) // 3
    transactions.iloc[:third].astype({"amount": "int64", "quantity": str}).to_parquet(parts / "part-0.parquet", index=False)
    middle = transactions.iloc[third:2 * third].astype({"amount": "object"})
    middle["amount"] = [decimal.Decimal(f"{v:.2f}") for v in middle["amount"]]
    middle["timestamp"] = middle["timestamp"].dt.tz_localize("UTC")
    middle.to_parquet(parts / "part-1.parquet", index=False)
    transactions.iloc[2 * third:].to_parquet(parts / "part-2.parquet", index=False)
    capfd.readouterr()
    read = churn_spark.read_tables(spark, str(folder))
    assert "at org.apache.spark" not in capfd.readouterr().err
    assert dict(spark.table(read.views["transactions"]).dtypes)["amount"] == "double"
    assert_frames_equal(build_features(load_dataset(folder, Config()), CUTOFFS, Config()),
                        churn_spark.build_features(read, CUTOFFS, Config()))
    clash = transactions.iloc[2 * third:].copy()
    clash["timestamp"] = clash["timestamp"].astype("int64") // 10**6
    clash.to_parquet(parts / "part-2.parquet", index=False)
    with pytest.raises(DataError, match=r"^The Parquet files of table 'transactions' \(.*transactions\) disagree on the type "
                                        r"of column 'timestamp': TIMESTAMP_NTZ \(e\.g\. .*part-0\.parquet\), TIMESTAMP \(e\.g\. "
                                        r".*part-1\.parquet\) in some, BIGINT \(e\.g\. .*part-2\.parquet\) in others, and no "
                                        r"type holds them all\. Rewrite the files"):
        churn_spark.read_tables(spark, str(folder))
    assert "at org.apache.spark" not in capfd.readouterr().err



def test_parts_whose_types_differ_keep_their_hive_partition_columns_as_spark_reads_them(spark, tmp_path: Path) -> None:
    """transactions/year=2024/month=01/day=5/part-0.parquet: reading the parts one by one (their types
    differ) lost year, month and day, which Spark's directory read (and DuckDB's) gives. They come
    back with the types and values of Spark's own read: the folders' text (as DuckDB keeps "01"),
    Hive's NULL folder, and a partition column the files also hold (the folder's value wins). The
    folders' columns the files lack follow in DuckDB's order (validation's): by name."""
    years, months, days = [2024, 2024, 2024, 2025, 2025, 2025, 2025, 2025], ["01", "01", "02", "x", "x", None, None, "10"], \
        [5, 5, 6, 7, 7, 8, 8, 9]
    frame = pd.DataFrame({"id": range(8), "amount": [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0], "year": years, "month": months,
                          "day": days})
    for name in ("same", "mixed"):
        def stored(part: pd.DataFrame, values: dict, name=name) -> pd.DataFrame:
            part = part.assign(year=1999)  # a stale copy of a partition column in the files: the folder's value wins
            return part.astype({"amount": "int64"}) if name == "mixed" and values["month"] == "x" else part

        _write_hive(frame, tmp_path / name, ["year", "month", "day"], stored)
        (tmp_path / name / "_temporary" / "0").mkdir(parents=True)  # a killed job's leftovers: Spark's read skips them
        frame.iloc[:1].to_parquet(tmp_path / name / "_temporary" / "0" / "part-9.parquet", index=False)

    expected = churn_spark._read_parquet(spark, str(tmp_path / "same"), "transactions")  # one directory read
    widened = churn_spark._read_parquet(spark, str(tmp_path / "mixed"), "transactions")  # part by part
    assert dict(expected.dtypes) == {"id": "bigint", "amount": "double", "year": "string", "month": "string", "day": "string"}
    assert dict(widened.dtypes) == dict(expected.dtypes)
    duck = duckdb.sql(f"SELECT * FROM read_parquet('{tmp_path / 'same'}/year=*/*/*/*.parquet', union_by_name=true)")
    assert widened.columns == expected.columns == duck.columns == ["id", "amount", "year", "day", "month"]
    rows = [r.asDict() for r in expected.orderBy("id").collect()]
    assert [r.asDict() for r in widened.orderBy("id").collect()] == rows
    assert [(r["year"], r["month"], r["day"]) for r in rows] == list(zip(map(str, years), months, map(str, days)))  # None: Hive's NULL folder


def test_partition_folder_values_keep_their_leading_zeros_as_duckdb_reads_them(spark, tmp_path: Path) -> None:
    """branch=007/: Spark's read typed the folders' values as numbers (007 read as 7, and 012 as 12),
    where validation's DuckDB read keeps the text: ids and codes in folder names lost their zeros.
    Both Spark reads, of the folder at once and part by part (the parts' types differ), as DuckDB's."""
    frame = pd.DataFrame({"id": range(4), "amount": [1.0, 2.0, 3.0, 4.0], "branch": ["007", "007", "012", None]})
    for name in ("same", "mixed"):
        _write_hive(frame, tmp_path / name, ["branch"], lambda part, values, name=name: part.astype(
            {"amount": "int64"}) if name == "mixed" and values["branch"] == "012" else part)
    duck = duckdb.sql(f"SELECT id, branch FROM read_parquet('{tmp_path / 'same'}/*/*.parquet') ORDER BY id").fetchall()
    assert [branch for _, branch in duck] == ["007", "007", "012", None]
    for name in ("same", "mixed"):
        read = churn_spark._read_parquet(spark, str(tmp_path / name), "customers")
        assert [tuple(row) for row in read.select("id", "branch").orderBy("id").collect()] == duck, name
    # The session's own setting is left as it was.
    assert spark.conf.get("spark.sql.sources.partitionColumnTypeInference.enabled") == "true"


@pytest.mark.parametrize("types_differ", [False, True], ids=["one-schema", "types-differ"])
def test_a_spark_output_folder_is_read_as_duckdb_reads_it(spark, data_dir: Path, tmp_path: Path, types_differ: bool) -> None:
    """Customers written by Spark partitioned by region, beside a killed attempt's parts under
    _temporary/ and hidden files: both engines read the same parts (every customer once) with the
    partition column. Parts whose types differ were read file by file, _temporary/ included
    (every customer twice) and the partition column lost.

    One part is a Hive table's 000000_0 (Parquet without the name), beside a README and notes:
    Spark read every file in the folder and stopped on the first that is not Parquet, where DuckDB
    reads the Parquet files alone. A part named like a glob pattern (part[1].parquet) is the file it is.
    With customers.parquet beside the folder, both refuse in validation's words (Spark read the file)."""
    folder = _copy_data(data_dir, tmp_path / "data")
    (folder / "customers.parquet").unlink()
    customers = pd.read_parquet(data_dir / "customers.parquet")
    customers["employees"] = np.arange(len(customers)) % 40
    parts = folder / "customers"
    names = ["000000_0", "part[1].parquet"]
    for i, (region, group) in enumerate(customers.groupby("region")):
        (parts / f"region={region}").mkdir(parents=True)
        group = group.drop(columns="region").astype({"employees": "float64" if types_differ and i % 2 else "int64"})
        group.to_parquet(parts / f"region={region}" / (names[i] if i < len(names) else "part-00000.parquet"), index=False)
        (parts / f"region={region}" / "notes.txt").write_text(f"Exported {region}.\n")
    (parts / "README").write_text("Customers, one folder per region.\n")
    (parts / "_SUCCESS").write_bytes(b"")
    attempt = parts / "_temporary" / "0" / "_temporary" / "attempt_0"
    attempt.mkdir(parents=True)
    customers.drop(columns="region").to_parquet(attempt / "part-00000.parquet", index=False)
    (parts / ".hidden").mkdir()
    customers.drop(columns="region").to_parquet(parts / ".hidden" / "part-00000.parquet", index=False)
    duck = load_dataset(folder, Config())
    assert duck.summary["tables"]["customers"]["rows"] == len(customers)
    assert "region" in duck.attributes and "employees" in duck.attributes
    read = churn_spark.read_tables(spark, str(folder))
    assert read.attributes == duck.attributes
    assert spark.table(read.views["customers"]).count() == len(customers)
    # The parts left unread are noted as validation notes them (Spark said nothing of them).
    [skipped] = [note for note in duck.summary["notes"] if note.startswith(f"{parts}: ")]
    assert skipped.startswith(f"{parts}: 2 Parquet files skipped (.hidden/, _temporary/)") and skipped in read.notes
    assert_frames_equal(build_features(duck, CUTOFFS, Config()), churn_spark.build_features(read, CUTOFFS, Config()))
    # customers.parquet beside the folder: validation asks which is the table; Spark read the file alone.
    shutil.copy(data_dir / "customers.parquet", folder / "customers.parquet")
    with pytest.raises(DataError) as duck_error:
        load_dataset(folder, Config())
    assert str(duck_error.value) == (f"{folder} holds customers.parquet and customers: which is table 'customers'? "
                                     "Keep one (move the others out of the folder).")
    with pytest.raises(DataError) as spark_error:
        churn_spark.read_tables(spark, str(folder))
    assert str(spark_error.value) == str(duck_error.value)
    (folder / "customers.parquet").unlink()
    for part in parts.glob("region=*/*"):  # notes, README and leftovers alone: nothing to read, said as validation says it
        if part.name != "notes.txt":
            part.unlink()
    with pytest.raises(DataError) as duck_error:
        load_dataset(folder, Config())
    assert str(duck_error.value).startswith(f"Folder {parts} (table 'customers') holds no Parquet part to read: its 2 Parquet "
                                            'files are under paths starting with "_" or "." (.hidden/, _temporary/)')
    with pytest.raises(DataError) as spark_error:
        churn_spark.read_tables(spark, str(folder))
    assert str(spark_error.value) == str(duck_error.value)
    shutil.rmtree(parts / "_temporary")
    shutil.rmtree(parts / ".hidden")
    with pytest.raises(DataError, match=r"^Folder .*customers \(table 'customers'\) holds no Parquet file to read: a part is "
                                        r"named \*\.parquet or is Parquet \(a Hive table's 000000_0\)"):
        churn_spark.read_tables(spark, str(folder))


def test_columns_whose_names_differ_only_in_case_are_named_with_the_fix(spark, data_dir: Path, tmp_path: Path) -> None:
    """`region` and `Region` in one export: Spark's COLUMN_ALREADY_EXISTS came with "Check that it
    holds Parquet files" (DuckDB reads the second as Region_1, with a note)."""
    folder = _copy_data(data_dir, tmp_path / "data")
    customers = pd.read_parquet(folder / "customers.parquet")
    customers["Region"] = customers["region"].str.upper()
    customers.to_parquet(folder / "customers.parquet", index=False)
    with pytest.raises(DataError, match=r"^Table 'customers' \(.*customers.parquet\) has two columns named 'region' \(written "
                                        r"in another case: .*\)\. Remove the copy, or rename one of them, then rerun\.$"):
        churn_spark.read_tables(spark, str(folder))


def test_nanosecond_timestamps_are_refused_with_the_fix(spark, data_dir: Path, tmp_path: Path) -> None:
    """A warehouse unload with TIMESTAMP(NANOS): Spark's PARQUET_TYPE_ILLEGAL came with "check that it holds Parquet files"."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    folder = _copy_data(data_dir, tmp_path / "data")
    transactions = pa.Table.from_pandas(pd.read_parquet(folder / "transactions.parquet"), preserve_index=False)
    at = transactions.schema.get_field_index("timestamp")
    pq.write_table(transactions.set_column(at, "timestamp", transactions["timestamp"].cast(pa.timestamp("ns"))),
                   folder / "transactions.parquet")
    with pytest.raises(DataError, match=r"^Table 'transactions' \(.*transactions.parquet\) holds timestamps in nanoseconds, "
                                        r"which Spark cannot read\. Write them in microseconds .*coerce_timestamps=\"us\""):
        churn_spark.read_tables(spark, str(folder))

def test_pyspark_pandas_3_warning_does_not_leak(spark, monkeypatch: pytest.MonkeyPatch) -> None:
    """PySpark warns once, when its first Py4J call imports pyspark.testing; the Python API hides it there too."""
    for name in [m for m in sys.modules if m.startswith("pyspark.testing")]:
        monkeypatch.delitem(sys.modules, name)  # as in a fresh process
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        churn_spark.spark_session()
    assert [str(w.message) for w in caught if "PySpark does not yet fully support pandas" in str(w.message)] == []


def test_a_missing_pyspark_is_an_error_with_the_install_command(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # It was a 46-line traceback ending in ModuleNotFoundError, exit 1.
    from typer.testing import CliRunner

    from churnml.cli import get_app

    for name in ("pyspark", "pyspark.sql"):
        monkeypatch.setitem(sys.modules, name, None)  # import raises ImportError, as without the package
    result = CliRunner().invoke(get_app(), ["features", str(tmp_path), "--as-of", "2025-07-01", "--out",
                                            str(tmp_path / "f"), "--engine", "spark"])
    assert result.exit_code == 2, result.output
    assert "--engine spark needs PySpark, which is not installed here" in " ".join(result.stderr.split())
    assert ".venv/bin/pip install -e '.[spark]'" in " ".join(result.stderr.split())


def test_spark_features_whose_descriptions_cannot_be_written_leave_the_last_folder_and_descriptions(
        spark, data_dir: Path, tmp_path: Path) -> None:
    # `features --engine spark` renamed its folder into place and then wrote its .features.json: descriptions
    # that could not be written (a full disk) left the new folder beside the last run's descriptions. Their
    # temporary file is now written first, as on DuckDB, so the folder is never replaced. The file size limit
    # is this (Python) process's alone: the JVM, started already by the fixture, writes the folder without it.
    import hashlib
    import resource

    out = tmp_path / "features"
    described = tmp_path / "features.features.json"
    command = ["features", str(data_dir), "--out", str(out), "--engine", "spark", "--master", "local[2]"]
    first = CliRunner().invoke(get_app(), [*command, "--as-of", "2025-06-01"], terminal_width=100_000)
    assert first.exit_code == 0, first.output

    def digests() -> dict[str, str]:
        return {p.relative_to(tmp_path).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
                for p in sorted(tmp_path.rglob("*")) if p.is_file()}

    before = digests()
    assert described.stat().st_size > 10_000, described.stat().st_size
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.setrlimit(resource.RLIMIT_FSIZE, (10_000, hard))
    try:
        failed = CliRunner().invoke(get_app(), [*command, "--as-of", f"{SCORE_AS_OF:%Y-%m-%d}"], terminal_width=100_000)
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
    assert failed.exit_code == 2, failed.output
    assert failed.stderr.startswith(f"Error: File too large ({described})."), failed.stderr
    assert digests() == before  # the folder's parts and the descriptions as they were, and no temporary file
    assert set(pd.read_parquet(out)["cutoff"].astype(str)) == {"2025-06-01"}
    # An empty population (every customer closed the day after signing up) replaced OUT with an empty folder
    # before it was refused, beside the last run's descriptions: it is refused before the rename now.
    closed = _copy_data(data_dir, tmp_path.parent / f"{tmp_path.name}_closed")
    customers = pd.read_parquet(closed / "customers.parquet")
    signed = customers[customers["signup_date"] < SCORE_AS_OF - pd.Timedelta(days=1)]
    pd.DataFrame({"customer_id": signed["customer_id"], "timestamp": signed["signup_date"] + pd.Timedelta(days=1)}
                 ).to_parquet(closed / "churn_events.parquet", index=False)
    empty = CliRunner().invoke(get_app(), ["features", str(closed), *command[2:], "--as-of", f"{SCORE_AS_OF:%Y-%m-%d}"],
                               terminal_width=100_000)
    assert empty.exit_code == 2, empty.output
    assert empty.stderr.startswith(f"Error: No customers in the population at {SCORE_AS_OF:%Y-%m-%d} in {closed}; "
                                   f"{out} was left as it was."), empty.stderr
    assert digests() == before


def test_a_second_spark_features_on_the_same_local_out_stops_at_once_while_the_first_runs(data_dir: Path,
                                                                                         tmp_path: Path) -> None:
    # `features --engine spark` took no lock, as `score --engine spark` does on this machine's file system:
    # two overlapping runs on the same --out could leave one's folder beside the other's .features.json. The
    # second now stops before Spark starts, with exit code 75 naming the first.
    import signal
    import time

    from churnml import io

    churnml = str(Path(sys.executable).with_name("churnml"))
    out = tmp_path / "nightly" / "features"
    lock = tmp_path / "nightly" / ".features.lock"
    args = [churnml, "features", str(data_dir), "--as-of", f"{SCORE_AS_OF:%Y-%m-%d}", "--out", str(out),
            "--engine", "spark", "--master", "local[1]"]
    first = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=tmp_path)
    try:
        deadline = time.monotonic() + 120
        while not (lock.is_file() and lock.read_text()):
            assert first.poll() is None and time.monotonic() < deadline, "the first run never took the lock"
            time.sleep(0.02)
        os.kill(first.pid, signal.SIGSTOP)  # a slow run: it holds the lock and writes nothing meanwhile
        started = time.monotonic()
        second = subprocess.run(args, capture_output=True, text=True, timeout=300, cwd=tmp_path)
        said = " ".join(second.stderr.split())
        assert second.returncode == 75, second.stdout + second.stderr
        assert said.startswith(f"Error: Another `churnml features` (PID {first.pid} on {io.HOST}, started "), said
        assert f"is writing --out {out} now (it holds {lock}): this run stopped before any work" in said, said
        assert time.monotonic() - started < 30 and "Spark" not in second.stdout  # before Spark starts
        assert sorted(p.name for p in out.parent.iterdir()) == [lock.name]
    finally:
        if first.poll() is None:  # SIGTERM, then let it run to take it: churnml stops cleanly (exit 143), its JVM with it
            os.kill(first.pid, signal.SIGTERM)
            os.kill(first.pid, signal.SIGCONT)
            first.wait(timeout=60)
    assert first.returncode == 143
    assert not lock.exists() and not out.parent.exists()  # released, and the folder it made for it gone


@pytest.mark.parametrize("error, java, advice", [
    ("[JAVA_GATEWAY_EXITED] Java gateway process exited before sending its port number.", False,
     r"Spark needs Java 17 and found none \(no java on PATH and JAVA_HOME is not set\): install it"),
    ("java.lang.IllegalArgumentException: System memory 259522560 must be at least 471859200. Please increase heap size "
     "using the --driver-memory option or spark.driver.memory in Spark configuration.", True,
     r"Give the driver memory the machine has: spark.driver.memory"),
    ("[JAVA_GATEWAY_EXITED] Java gateway process exited before sending its port number.", True,
     r"Java started and exited: check the lines above"),
    ("java.lang.IllegalArgumentException: Could not parse Master URL: 'local[9x]'", True, r"Use a master such as local\[2\]"),
])
def test_spark_start_errors_advise_by_cause(spark, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, error, java, advice) -> None:
    from pyspark.sql.session import SparkSession

    def fail(self):
        raise RuntimeError(error)

    monkeypatch.setattr(SparkSession.Builder, "getOrCreate", fail)
    monkeypatch.delenv("JAVA_HOME", raising=False)
    if java:
        (tmp_path / "java").write_text("#!/bin/sh\n")
        (tmp_path / "java").chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(ConfigError, match=rf"^Spark did not start: .*\. {advice}") as raised:
        churn_spark.spark_session()
    assert ("Use a master" in str(raised.value)) == ("Master URL" in error)


def test_missing_table_and_column_say_what_to_do(spark, tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"Required table 'customers' not found .* customers.parquet"):
        churn_spark.read_tables(spark, str(tmp_path))
    pd.DataFrame({"customer_id": ["a"]}).to_parquet(tmp_path / "customers.parquet")
    pd.DataFrame({"customer_id": ["a"], "amount": [1.0]}).to_parquet(tmp_path / "transactions.parquet")
    with pytest.raises(DataError, match=r"no column 'timestamp'; it is required"):
        churn_spark.read_tables(spark, str(tmp_path))
    pd.DataFrame({"customer_id": ["a"], "amount": [1.0], "timestamp": [pd.Timestamp("2024-01-01")]}).to_parquet(
        tmp_path / "transactions.parquet")
    with pytest.raises(DataError, match=r"^\[tables\] churn_events = 'closures' is not found under .* closures.parquet"):
        churn_spark.read_tables(spark, str(tmp_path), config_from_dict({"tables": {"churn_events": "closures"}}))


def test_the_sampling_path_builds_the_training_sets_season_frame(sdata, training_sets) -> None:
    """training_frame built features and labels at the training cutoffs only: the drift reference's
    season cutoffs (labels.season_cutoffs), which build_training_set gives on both engines, had no
    counterpart on the sampling path. season_frame gives those rows, as the training sets hold them."""
    duck, spark_set = training_sets
    frame = churn_spark.season_frame(sdata, TRAIN_AS_OF, Config())
    assert frame is not None
    seasons = churn_spark.typed_feature_frame(churn_spark.to_pandas(frame),
                                              churn_spark.layout_feature_specs(sdata.layout, sdata.attributes),
                                              churn_spark.categories(sdata))
    assert sorted(set(seasons["cutoff"])) == [pd.Timestamp("2025-01-04")]
    assert_frames_equal(duck.season_frame, seasons)
    assert_frames_equal(spark_set.season_frame, seasons)


def test_stratified_sample_keeps_weights(sdata) -> None:
    frame = churn_spark.training_frame(sdata, TRAIN_AS_OF, Config())
    sample = churn_spark.to_pandas(churn_spark.sample_by_label(frame, {0: 0.5, 1: 1.0}, seed=1))
    full = churn_spark.to_pandas(frame.groupBy("churned").count())
    churners = int(full.loc[full["churned"] == 1, "count"].iloc[0])
    assert (sample["churned"] == 1).sum() == churners
    assert set(sample.loc[sample["churned"] == 0, "weight"]) == {2.0}
    assert set(sample.loc[sample["churned"] == 1, "weight"]) == {1.0}
    with pytest.raises(ValueError, match=r"fractions must be in \(0, 1\]"):
        churn_spark.sample_by_label(frame, {0: 0.0})


def test_failed_write_keeps_the_previous_output(spark, tmp_path: Path) -> None:
    out = str(tmp_path / "scores")
    churn_spark.write_parquet_atomically(spark.range(3).toDF("x"), out)

    def boom(batches):
        for _ in batches:
            raise RuntimeError("model failed")
        yield pd.DataFrame({"x": []})

    with pytest.raises(Exception, match="model failed"):
        churn_spark.write_parquet_atomically(spark.range(5).toDF("x").mapInPandas(boom, "x LONG"), out)
    assert sorted(pd.read_parquet(out)["x"]) == [0, 1, 2]
    # before_commit reads the finished folder (score's drift check does); failing there keeps the old one.
    staged = []

    def check(path: str) -> None:
        staged.append(sorted(pd.read_parquet(path)["x"]))
        raise RuntimeError("drift check failed")

    with pytest.raises(RuntimeError, match="drift check failed"):
        churn_spark.write_parquet_atomically(spark.range(6).toDF("x"), out, before_commit=check)
    assert staged == [[0, 1, 2, 3, 4, 5]] and sorted(pd.read_parquet(out)["x"]) == [0, 1, 2]
    churn_spark.write_parquet_atomically(spark.range(4).toDF("x"), out)
    assert sorted(pd.read_parquet(out)["x"]) == [0, 1, 2, 3]
    assert [p.name for p in tmp_path.iterdir()] == ["scores"]


def test_events_on_the_quiet_weekend_after_the_last_invoice_carry_the_end_as_in_validation(spark, tmp_path: Path) -> None:
    """Invoices on weekdays only, the export ending on a Sunday with tickets and a cancellation that
    weekend: both engines end the data on the Sunday (validation ended it on the Friday and set them aside)."""
    folder = tmp_path / "b2b"
    folder.mkdir()
    days = [d for d in pd.date_range("2024-01-01", "2024-03-03") if d.dayofweek < 5]
    pd.DataFrame({"customer_id": ["a", "b"], "signup_date": pd.Timestamp("2023-12-01")}).to_parquet(folder / "customers.parquet")
    pd.DataFrame({"customer_id": ["a", "b"] * len(days), "timestamp": [d for d in days for _ in "ab"],
                  "amount": 10.0}).to_parquet(folder / "transactions.parquet")
    pd.DataFrame({"customer_id": ["a", "b"], "event_type": "ticket",
                  "timestamp": pd.to_datetime(["2024-03-02 11:00", "2024-03-03 18:30"])}).to_parquet(folder / "service_events.parquet")
    pd.DataFrame({"customer_id": ["b"], "timestamp": pd.to_datetime(["2024-03-03"])}).to_parquet(folder / "churn_events.parquet")
    duck = load_dataset(folder, Config())
    assert duck.summary["quarantined_rows"] == 0 and duck.data_end == pd.Timestamp("2024-03-03 18:30")
    assert churn_spark.read_tables(spark, str(folder)).data_end == duck.data_end


def test_rows_after_an_end_that_weekend_events_carried_are_refused_naming_what_decided_it(spark, tmp_path: Path) -> None:
    """Invoices until Friday, tickets on the weekend and on Monday: as validation's note, the refusal
    called the Sunday the weekend's tickets carried the end to "the last day with ordinary transaction
    volume", a day without a single transaction."""
    folder = tmp_path / "b2b"
    folder.mkdir()
    days = [d for d in pd.date_range("2024-01-01", "2024-03-01") if d.dayofweek < 5]
    pd.DataFrame({"customer_id": ["a", "b"], "signup_date": pd.Timestamp("2023-12-01")}).to_parquet(folder / "customers.parquet")
    pd.DataFrame({"customer_id": ["a", "b"] * len(days), "timestamp": [d for d in days for _ in "ab"],
                  "amount": 10.0}).to_parquet(folder / "transactions.parquet")
    pd.DataFrame({"customer_id": ["a", "b", "a"], "event_type": "ticket",
                  "timestamp": pd.to_datetime(["2024-03-02 10:00", "2024-03-03 11:00", "2024-03-04 09:00"])}
                 ).to_parquet(folder / "service_events.parquet")
    with pytest.raises(DataError, match=(
            r"^1 row\(s\) of service_events \(.*\) are dated after 2024-03-03, the last day of service or churn events on "
            r"the days after 2024-03-01 \(the last day with ordinary transaction volume\) on which transactions do not "
            r"usually happen, which `churnml validate` takes for the data's end ")):
        churn_spark.read_tables(spark, str(folder))
