"""Synthetic data generator: determinism, the data contract, plausible churn, intended causal links, CLI."""

from __future__ import annotations

import hashlib
from datetime import date
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from churnml.cli import get_app
from churnml.errors import ConfigError
from churnml.generate import ESCALATED_DAYS, TABLE_NAMES, generate
from churnml.schema import TABLES

N = 12_000
SEED = 7
START, END = "2021-01-01", "2024-12-31"
CUTOFFS = [pd.Timestamp(c) for c in ("2022-07-01", "2023-04-01", "2024-01-01", "2024-07-01")]
HORIZON = pd.Timedelta(days=90)


def digest(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, int]]:
    out = tmp_path_factory.mktemp("gen") / "a"
    counts = generate(out, N, seed=SEED, start=START, end=END, chunk_size=5_000)
    return out, counts


@pytest.fixture(scope="module")
def tables(sample: tuple[Path, dict[str, int]]) -> dict[str, pd.DataFrame]:
    out, _ = sample
    return {t: pd.read_parquet(out / f"{t}.parquet") for t in TABLE_NAMES}


@pytest.fixture(scope="module")
def labelled(tables: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """One row per (customer, cutoff) in the population, with signals and the churn label.

    Population: signed up before the cutoff, no closure before it, a transaction in the last 365
    days. Churned: a closure in the next 90 days or no transaction in them.
    """
    c, tx, se, ch = (tables[t] for t in TABLE_NAMES)
    frames = []
    for cut in CUTOFFS:
        recent = tx[(tx.timestamp < cut) & (tx.timestamp >= cut - pd.Timedelta(days=365))].customer_id
        closed_before = ch[ch.timestamp < cut].customer_id
        pop = c[c.customer_id.isin(recent) & ~c.customer_id.isin(closed_before) & (c.signup_date < cut)]
        ids = pop.customer_id
        in_h = lambda t: (t.timestamp >= cut) & (t.timestamp < cut + HORIZON)  # noqa: E731
        closed = ids.isin(ch[in_h(ch)].customer_id)
        traded = ids.isin(tx[in_h(tx)].customer_id)
        past = se[(se.timestamp < cut) & (se.timestamp >= cut - pd.Timedelta(days=90))]
        unresolved = past[(past.event_type == "complaint") & (past.resolved_at.isna() | (past.resolved_at >= cut))]
        am_change = past[past.event_type == "account_manager_change"]
        surveys = se[(se.event_type == "survey") & (se.timestamp < cut) & (se.timestamp >= cut - pd.Timedelta(days=180))]
        last_sat = surveys.sort_values("timestamp").groupby("customer_id").satisfaction.last()
        frames.append(
            pd.DataFrame(
                {
                    "cutoff": cut,
                    "customer_id": ids.to_numpy(),
                    "tier": pop.product_tier.to_numpy(),
                    "unresolved": ids.isin(unresolved.customer_id).to_numpy(),
                    "am_change": ids.isin(am_change.customer_id).to_numpy(),
                    "last_sat": last_sat.reindex(ids).to_numpy(),
                    "closed": closed.to_numpy(),
                    "churned": (closed | ~traded).to_numpy(),
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


# --- determinism ------------------------------------------------------------------------------


def test_same_seed_gives_identical_files(sample: tuple[Path, dict[str, int]], tmp_path: Path) -> None:
    out, counts = sample
    again = generate(tmp_path / "b", N, seed=SEED, start=START, end=END, chunk_size=5_000)
    assert again == counts
    assert digest(tmp_path / "b") == digest(out)


def test_different_seed_gives_different_data(tmp_path: Path) -> None:
    generate(tmp_path / "s1", 300, seed=1)
    generate(tmp_path / "s2", 300, seed=2)
    a = pd.read_parquet(tmp_path / "s1" / "transactions.parquet")
    b = pd.read_parquet(tmp_path / "s2" / "transactions.parquet")
    assert len(a) != len(b) or not a.equals(b)
    assert digest(tmp_path / "s1") != digest(tmp_path / "s2")


# --- the data contract ------------------------------------------------------------------------


def test_files_columns_and_counts(sample: tuple[Path, dict[str, int]], tables: dict[str, pd.DataFrame]) -> None:
    out, counts = sample
    # The tables, and the mark that lets a later `generate` replace them (never a user's own tables).
    assert sorted(p.name for p in out.iterdir()) == sorted([*(f"{t}.parquet" for t in TABLE_NAMES), ".churnml-generated"])
    assert counts == {t: len(f) for t, f in tables.items()}
    assert counts["customers"] == N
    assert list(tables["customers"].columns) == [
        "customer_id", "signup_date", "region", "product_tier", "acquisition_channel", "age_band", "account_manager",
    ]
    assert list(tables["transactions"].columns) == [
        "transaction_id", "customer_id", "timestamp", "amount", "quantity", "category", "channel",
    ]
    assert list(tables["service_events"].columns) == [
        "customer_id", "timestamp", "event_type", "resolved_at", "satisfaction", "channel",
    ]
    assert list(tables["churn_events"].columns) == ["customer_id", "timestamp"]
    for name, frame in tables.items():
        spec = TABLES[name]
        assert set(spec.required_columns) <= set(frame.columns)
        for column in frame.columns:
            kind = spec.kinds.get(column, "text")
            if kind == "timestamp":
                assert pd.api.types.is_datetime64_dtype(frame[column]), (name, column)
            elif kind == "number":
                assert pd.api.types.is_numeric_dtype(frame[column]), (name, column)
            else:
                assert pd.api.types.is_string_dtype(frame[column]), (name, column)


def test_values_follow_the_contract(tables: dict[str, pd.DataFrame]) -> None:
    c, tx, se, ch = (tables[t] for t in TABLE_NAMES)
    assert c.customer_id.is_unique and c.customer_id.iloc[0] == "C0000001"
    assert c.customer_id.str.fullmatch(r"C\d{7}").all()
    assert c.account_manager.str.fullmatch(r"AM\d{3,}").all()
    assert set(c.product_tier) == {"basic", "plus", "premium"}
    assert c.signup_date.min() < pd.Timestamp(START) < c.signup_date.max() < pd.Timestamp(END)
    assert c[["region", "acquisition_channel", "age_band"]].notna().all().all()

    assert tx.transaction_id.is_unique
    assert set(tx.customer_id) <= set(c.customer_id) and set(se.customer_id) <= set(c.customer_id)
    assert ch.customer_id.is_unique and set(ch.customer_id) <= set(c.customer_id)
    assert set(tx.category) == {"equities", "etf", "options", "bonds", "funds"}
    assert set(tx.channel) == {"web", "app", "phone", "branch"}
    assert (tx.quantity >= 1).all()
    for frame in (tx, se, ch):
        assert frame.timestamp.between(pd.Timestamp(START), pd.Timestamp(END) + pd.Timedelta(days=1)).all()

    assert set(se.event_type) == {"complaint", "ticket", "call", "survey", "account_manager_change"}
    surveys = se.event_type == "survey"
    assert se.satisfaction[surveys].between(1, 5).all() and se.satisfaction[surveys].notna().all()
    assert se.satisfaction[~surveys].isna().all()
    assert (se.resolved_at.dropna() >= se.timestamp[se.resolved_at.notna()]).all()
    # nothing stays open for good: an event still open in the data is resolved after its end
    still_open = se[se.resolved_at.isna()]
    assert len(still_open) and (still_open.event_type == "complaint").mean() > 0.5
    assert (still_open.timestamp >= pd.Timestamp(END) - pd.Timedelta(days=ESCALATED_DAYS[1])).all()
    complaints = se[(se.event_type == "complaint") & se.resolved_at.notna()]
    days_open = (complaints.resolved_at - complaints.timestamp) / pd.Timedelta(days=1)
    escalated = days_open >= ESCALATED_DAYS[0]
    assert 0.1 < escalated.mean() < 0.5 and (days_open[escalated] < ESCALATED_DAYS[1]).all()


def test_no_activity_before_signup_or_after_closure(tables: dict[str, pd.DataFrame]) -> None:
    c, tx, se, ch = (tables[t] for t in TABLE_NAMES)
    signup = c.set_index("customer_id").signup_date
    closure = ch.set_index("customer_id").timestamp
    for frame in (tx, se):
        assert (frame.timestamp >= signup.reindex(frame.customer_id).to_numpy()).all()
        after = frame.timestamp >= closure.reindex(frame.customer_id).to_numpy()  # NaT compares False
        assert not after.any()


def test_transactions_are_heavy_tailed_seasonal_with_refunds(tables: dict[str, pd.DataFrame]) -> None:
    tx, c = tables["transactions"], tables["customers"]
    assert 0.01 < (tx.amount < 0).mean() < 0.06
    positive = tx.amount[tx.amount > 0]
    assert positive.quantile(0.99) > 10 * positive.median()  # heavy right tail
    per_customer = tx.groupby("customer_id").size().reindex(c.customer_id, fill_value=0)
    assert per_customer.quantile(0.9) > 4 * max(per_customer.quantile(0.1), 1)  # rates vary a lot
    by_month = tx.groupby(tx.timestamp.dt.month).size()
    assert by_month[[1, 3]].mean() > 1.3 * by_month[[7, 8]].mean()  # January/March peak, summer dip
    assert (tx.timestamp.dt.dayofweek < 5).mean() > 0.95  # trades happen on weekdays


# --- churn ------------------------------------------------------------------------------------


def test_churn_rate_is_plausible(labelled: pd.DataFrame) -> None:
    by_cutoff = labelled.groupby("cutoff").agg(n=("churned", "size"), churn=("churned", "mean"), closed=("closed", "mean"))
    assert (by_cutoff.n > 2_000).all()
    assert by_cutoff.churn.between(0.15, 0.35).all(), by_cutoff
    assert by_cutoff.closed.between(0.04, 0.2).all(), by_cutoff  # explicit closures are a part of it


def test_unresolved_complaints_raise_churn(labelled: pd.DataFrame) -> None:
    rate = labelled.groupby("unresolved").churned.mean()
    assert labelled.unresolved.sum() > 200
    assert rate[True] > rate[False] + 0.1, rate


def test_basic_tier_churns_more_than_premium(labelled: pd.DataFrame) -> None:
    rate = labelled.groupby("tier").churned.mean()
    assert rate["basic"] > rate["plus"] > rate["premium"]
    assert rate["basic"] > rate["premium"] + 0.1, rate


def test_low_satisfaction_raises_churn(labelled: pd.DataFrame) -> None:
    low = labelled[labelled.last_sat <= 2].churned.mean()
    high = labelled[labelled.last_sat >= 4].churned.mean()
    assert (labelled.last_sat <= 2).sum() > 200
    assert low > high + 0.1, (low, high)


def test_account_manager_change_raises_churn(labelled: pd.DataFrame) -> None:
    rate = labelled.groupby("am_change").churned.mean()
    assert labelled.am_change.sum() > 200
    assert rate[True] > rate[False] + 0.05, rate


def test_activity_falls_before_closure(tables: dict[str, pd.DataFrame]) -> None:
    c, tx, ch = tables["customers"], tables["transactions"], tables["churn_events"]
    ch = ch.merge(c[["customer_id", "signup_date"]], on="customer_id")
    year_old = ch.timestamp - pd.Timedelta(days=400)
    ch = ch[(ch.timestamp > pd.Timestamp(START) + pd.Timedelta(days=400)) & (ch.signup_date < year_old)]
    m = tx.merge(ch, on="customer_id", suffixes=("", "_closed"))
    days_before = (m.timestamp_closed - m.timestamp).dt.days
    last_60 = (days_before < 60).sum() / 60
    a_year_before = ((days_before >= 180) & (days_before < 360)).sum() / 180
    assert last_60 < 0.7 * a_year_before  # trading thins out before the account is closed


# --- formats, chunks, validation, progress ------------------------------------------------------


def test_csv_output_in_chunks_reads_back_and_validates(tmp_path: Path) -> None:
    from churnml.validate import load_dataset

    counts = generate(tmp_path, 700, seed=3, fmt="csv", chunk_size=128)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([*(f"{t}.csv" for t in TABLE_NAMES), ".churnml-generated"])
    for name in TABLE_NAMES:
        frame = pd.read_csv(tmp_path / f"{name}.csv")
        assert len(frame) == counts[name]  # one header, no repeated headers between chunks
    dataset = load_dataset(tmp_path)
    assert dataset.summary["quarantined_rows"] == 0


def test_generated_parquet_validates_clean(sample: tuple[Path, dict[str, int]]) -> None:
    from churnml.validate import load_dataset

    out, counts = sample
    summary = load_dataset(out).summary
    assert summary["quarantined_rows"] == 0
    assert {t: s["clean_rows"] for t, s in summary["tables"].items()} == counts


def test_tiny_and_short_histories(tmp_path: Path) -> None:
    counts = generate(tmp_path / "one", 1, seed=0)
    assert counts["customers"] == 1
    counts = generate(tmp_path / "short", 3, start="2024-01-01", end="2024-01-02")
    assert counts["customers"] == 3
    for name in TABLE_NAMES:  # empty tables still carry their columns
        frame = pd.read_parquet(tmp_path / "short" / f"{name}.parquet")
        assert set(TABLES[name].required_columns) <= set(frame.columns)


def test_progress_reports_every_chunk(tmp_path: Path) -> None:
    calls: list[tuple[int, int]] = []
    generate(tmp_path, 250, chunk_size=100, progress=lambda done, total: calls.append((done, total)))
    assert calls == [(100, 250), (200, 250), (250, 250)]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"customers": 0}, "The number of customers must be at least 1 (got 0)."),
        ({"seed": -1}, "The seed must be 0 or more (got -1)."),
        ({"start": "soon"}, "The start date 'soon' is not a date. Use the form YYYY-MM-DD."),
        ({"end": "2020-01-01"}, "The end date 2020-01-01 must be after the start date 2021-01-01."),
        ({"fmt": "xlsx"}, "Unknown format 'xlsx'. Use one of: parquet, csv."),
    ],
)
def test_library_errors(tmp_path: Path, kwargs: dict, message: str) -> None:
    args = {"customers": 10, **kwargs}
    with pytest.raises(ConfigError) as info:
        generate(tmp_path / "x", **args)
    assert info.value.message == message
    assert not (tmp_path / "x").exists()


def test_csv_beside_parquet_is_refused(tmp_path: Path) -> None:
    generate(tmp_path, 5)
    with pytest.raises(ConfigError) as info:
        generate(tmp_path, 5, fmt="csv")
    assert info.value.message == (
        f"{tmp_path} already holds customers.parquet, transactions.parquet, service_events.parquet, "
        "churn_events.parquet, which readers prefer over CSV files. Remove them or write into another folder."
    )


def test_failed_run_leaves_no_files(tmp_path: Path) -> None:
    def boom(done: int, total: int) -> None:
        raise RuntimeError("interrupted")

    with pytest.raises(RuntimeError):
        generate(tmp_path, 50, chunk_size=10, progress=boom)
    assert list(tmp_path.iterdir()) == []


def test_a_run_stopped_while_putting_its_tables_in_place_can_be_run_again(tmp_path: Path) -> None:
    # Stopped after some tables were in place (a kill, or here a file that cannot take the last
    # one): the folder was left without the mark, and every rerun refused it as a user's data.
    from churnml.generate import GENERATED_MARK

    out = tmp_path / "sample"

    def block_customers(done: int, total: int) -> None:
        if done == total:  # after the last chunk, before the tables are put in place
            (out / "customers.parquet" / "in-the-way").mkdir(parents=True)

    with pytest.raises(OSError):
        generate(out, 50, chunk_size=10, progress=block_customers)
    assert (out / "transactions.parquet").exists() and "incomplete" in (out / GENERATED_MARK).read_text()
    (out / "customers.parquet" / "in-the-way").rmdir()
    (out / "customers.parquet").rmdir()
    assert generate(out, 20, seed=3)["customers"] == 20
    assert (out / GENERATED_MARK).read_text() == "churnml generate --customers 20 --seed 3\n"
    assert len(pd.read_parquet(out / "customers.parquet")) == 20


# --- CLI ----------------------------------------------------------------------------------------


runner = CliRunner()


def test_cli_help_says_what_it_writes() -> None:
    result = runner.invoke(get_app(), ["generate", "--help"], terminal_width=200)
    assert result.exit_code == 0
    text = " ".join(result.output.split())
    for phrase in (
        "Generate a synthetic retail-brokerage history with known churn causes.",
        "customers: customer_id, signup_date",
        "transactions: transaction_id, customer_id, timestamp, amount",
        "service_events: customer_id, timestamp, event_type",
        "churn_events: customer_id, timestamp of each account closure",
        "--customers",
        "--seed",
        "--start",
        "--end",
        "--format",
    ):
        assert phrase in text, phrase


def test_cli_generates_and_prints_counts(tmp_path: Path) -> None:
    out = tmp_path / "data"
    result = runner.invoke(get_app(), ["generate", str(out), "--customers", "300", "--seed", "4"], terminal_width=200)
    assert result.exit_code == 0, result.output
    counts = generate(tmp_path / "lib", 300, seed=4)
    assert digest(out) == digest(tmp_path / "lib")
    for name in TABLE_NAMES:
        assert f"{name}.parquet" in result.output
        assert f"{counts[name]:,}" in result.output
    assert f"Next: churnml validate {out}" in result.output


def test_cli_csv_format(tmp_path: Path) -> None:
    result = runner.invoke(get_app(), ["generate", str(tmp_path), "-n", "20", "--format", "csv"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "transactions.csv").is_file()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["-n", "0"], "Error: --customers must be at least 1 (got 0)."),
        (["-n", "5", "--seed", "-3"], "Error: --seed must be 0 or more (got -3)."),
        (
            ["-n", "5", "--start", "2021-13-01"],
            f"Error: --start '2021-13-01' is not a date. Use the form YYYY-MM-DD, e.g. {date.today():%Y-%m-%d}.",
        ),
        (
            ["-n", "5", "--end", "31/12/2025"],
            f"Error: --end '31/12/2025' is not a date. Use the form YYYY-MM-DD, e.g. {date.today():%Y-%m-%d}.",
        ),
        (["-n", "5", "--end", "2020-06-30"], "Error: --end 2020-06-30 must be after --start 2021-01-01."),
        (["-n", "5", "--start", "2022-01-01", "--end", "2022-01-01"], "Error: --end 2022-01-01 must be after --start 2022-01-01."),
        (["-n", "5", "--format", "xlsx"], "Error: Unknown format 'xlsx'. Use one of: parquet, csv."),
    ],
)
def test_cli_errors(tmp_path: Path, args: list[str], message: str) -> None:
    result = runner.invoke(get_app(), ["generate", str(tmp_path / "out"), *args], terminal_width=300)
    assert result.exit_code == 2
    assert result.stderr.strip() == message
    assert not (tmp_path / "out").exists()


def test_cli_refuses_a_file_as_output(tmp_path: Path) -> None:
    target = tmp_path / "file.txt"
    target.write_text("x")
    result = runner.invoke(get_app(), ["generate", str(target), "-n", "5"], terminal_width=300)
    assert result.exit_code == 2
    assert result.stderr.strip() == f"Error: {target} exists and is not a folder. Pass a folder to write the tables into."
    assert target.read_text() == "x"


def test_a_folder_of_real_data_is_never_overwritten(tmp_path: Path) -> None:
    # `churnml generate data/` on the folder holding a company's own tables replaced them with a
    # synthetic sample, silently. A folder generate wrote itself may be generated again.
    real = tmp_path / "real"
    real.mkdir()
    (real / "customers.csv").write_text("customer_id\nREAL-1\n")
    (real / "transactions.parquet").write_bytes(b"theirs")
    with pytest.raises(ConfigError) as info:
        generate(real, 5)
    assert info.value.message.startswith(f"{real} already holds customers.csv, transactions.parquet, which `churnml generate` "
                                         "did not write: generating here would replace them with synthetic data.")
    assert (real / "customers.csv").read_text() == "customer_id\nREAL-1\n" and (real / "transactions.parquet").read_bytes() == b"theirs"
    generate(tmp_path / "sample", 5, seed=1)
    assert generate(tmp_path / "sample", 7, seed=2)["customers"] == 7


def test_a_sample_from_before_the_mark_is_generated_again(tmp_path: Path) -> None:
    # churnml before .churnml-generated wrote samples without it: after the upgrade `make demo`
    # (churnml demo --out demo_out) refused its own demo_out/data from the release before, saying
    # `churnml generate` had not written it. Such a sample is told by its tables, ids and columns.
    from churnml.generate import GENERATED_MARK

    for fmt in ("parquet", "csv"):
        old = tmp_path / f"old_{fmt}"
        generate(old, 5, seed=1, fmt=fmt)
        (old / GENERATED_MARK).unlink()  # as churnml wrote it then
        assert generate(old, 7, seed=2, fmt=fmt)["customers"] == 7
        assert (old / GENERATED_MARK).exists()
    # The same columns with a company's ids, or a sample beside a file of the user's, stay refused,
    # and the message says how to let generate replace a sample it does not recognise.
    real = tmp_path / "real"
    generate(real, 5, seed=1)
    (real / GENERATED_MARK).unlink()
    customers = pd.read_parquet(real / "customers.parquet")
    customers["customer_id"] = [f"C{i:07d}" for i in (1, 2, 3, 4, 9)]
    customers.to_parquet(real / "customers.parquet")
    with pytest.raises(ConfigError) as info:
        generate(real, 5)
    assert f"`touch {real / GENERATED_MARK}` lets generate replace them" in info.value.message
    kept = tmp_path / "kept"
    generate(kept, 5, seed=1)
    (kept / GENERATED_MARK).unlink()
    (kept / "notes.txt").write_text("mine")
    with pytest.raises(ConfigError):
        generate(kept, 5)
    assert (kept / "notes.txt").read_text() == "mine" and not (kept / GENERATED_MARK).exists()
