"""User mistakes on the command line end in one clear ``Error:`` line and exit code 2: never a
traceback, never a lost word of the message, never work done for an output that cannot be written."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pandas as pd
import pytest
from typer.testing import CliRunner

from churnml.cli import get_app
from churnml.config import config_from_dict
from churnml.validate import load_dataset

CUSTOMERS = pd.DataFrame({"customer_id": ["a", "b"], "signup_date": ["2020-01-01", "2020-02-01"]})
TRANSACTIONS = pd.DataFrame({
    "customer_id": ["a", "b"] * 50,
    "timestamp": [f"2021-{m:02d}-{d:02d} 10:00:00" for m in range(1, 11) for d in range(1, 11)],
    "amount": [f"{10 + i % 7}.5" for i in range(100)],
})


def write_csv(folder: Path, **tables: pd.DataFrame) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, frame in tables.items():
        frame.to_csv(folder / f"{name}.csv", index=False)
    return folder


def run(*args: str):
    result = CliRunner().invoke(get_app(), [str(a) for a in args])
    assert "Traceback" not in result.output + result.stderr, result.stderr
    return result, " ".join(result.stderr.split())


def test_messages_keep_their_brackets(tmp_path: Path) -> None:
    # Rich read "[columns.transactions]" as markup and printed "... map it in the config:  customer_id"
    # (the fix gone); a value such as "[/n/a]" crashed the error printer itself.
    folder = write_csv(tmp_path / "d", customers=CUSTOMERS, transactions=TRANSACTIONS.drop(columns="customer_id").assign(cid="a"))
    result, err = run("validate", folder)
    assert result.exit_code == 2
    assert '[columns.transactions] customer_id = "<your column>"' in err
    folder = write_csv(tmp_path / "e", customers=CUSTOMERS, transactions=TRANSACTIONS.assign(amount="[/n/a]"))
    result, err = run("validate", folder)
    assert result.exit_code == 2 and "'[/n/a]'" in err


def test_a_cut_off_csv_names_the_file_and_line(tmp_path: Path) -> None:
    # Long enough that the cut-off line lies beyond what DuckDB samples to detect the columns.
    many = pd.concat([TRANSACTIONS] * 300, ignore_index=True)
    folder = write_csv(tmp_path / "d", customers=CUSTOMERS, transactions=many)
    text = (folder / "transactions.csv").read_text()
    (folder / "transactions.csv").write_text(text[: text.rindex(",")])  # the last line loses its amount
    result, err = run("validate", folder)
    assert result.exit_code == 2
    assert err.startswith(f"Error: Cannot read {folder / 'transactions.csv'}: Invalid Input Error: CSV Error on Line: 30001")
    assert "Expected Number of Columns: 3 Found: 2" in err and "Fix the file" in err
    assert "read_csv(" not in err  # DuckDB's SQL and reader options are not the user's business
    # Short files fail earlier, when DuckDB cannot even find the columns: also named and explained.
    short = write_csv(tmp_path / "e", customers=CUSTOMERS, transactions=TRANSACTIONS)
    text = (short / "transactions.csv").read_text()
    (short / "transactions.csv").write_text(text[: text.rindex(",")])
    result, err = run("validate", short)
    assert result.exit_code == 2
    assert "could not be split into columns" in err and "a row with another number of fields than the header" in err


def test_outputs_that_cannot_be_written_are_refused_before_any_work(tmp_path: Path) -> None:
    folder = write_csv(tmp_path / "d", customers=CUSTOMERS, transactions=TRANSACTIONS)
    (tmp_path / "out").mkdir()
    result, err = run("features", folder, "--as-of", "2021-10-05", "--out", tmp_path / "out")
    assert result.exit_code == 2 and f"--out {tmp_path / 'out'} is a folder" in err
    before = (folder / "customers.csv").read_bytes()
    result, err = run("features", folder, "--as-of", "2021-10-05", "--out", folder / "customers.csv")
    assert result.exit_code == 2 and "is an input of this command; writing it would replace your data" in err
    assert (folder / "customers.csv").read_bytes() == before
    (tmp_path / "afile").write_text("x")
    result, err = run("validate", folder, "--quarantine-dir", tmp_path / "afile")
    assert result.exit_code == 2 and "is a file, not a folder" in err
    # The checks do not get in the way of a normal run.
    result, _ = run("features", folder, "--as-of", "2021-10-05", "--out", tmp_path / "out" / "f.parquet")
    assert result.exit_code == 0 and (tmp_path / "out" / "f.parquet").is_file()


def test_file_system_errors_are_one_line(tmp_path: Path) -> None:
    blocker = tmp_path / "blocker"
    blocker.write_text("a file where a folder should be")
    result, err = run("generate", blocker / "sample", "--customers", "100")
    assert result.exit_code == 2
    assert err.startswith("Error: Not a directory") and "A part of that path is a file, not a folder." in err


def test_duckdb_tables_in_another_schema_are_found(tmp_path: Path) -> None:
    path = tmp_path / "source.duckdb"
    with duckdb.connect(str(path)) as con:
        con.execute("CREATE SCHEMA crm")
        for name, frame in (("customers", CUSTOMERS), ("transactions", TRANSACTIONS)):
            con.register("frame", frame)
            con.execute(f"CREATE TABLE crm.{name} AS SELECT * FROM frame")
    result, err = run("validate", path)
    assert result.exit_code == 0, err
    assert load_dataset(path).summary["tables"]["transactions"]["clean_rows"] == len(TRANSACTIONS)
    # The schema may also be named in the mapping; a table in "main" wins over one elsewhere.
    with duckdb.connect(str(path)) as con:
        con.execute("CREATE TABLE main.transactions AS SELECT * FROM crm.transactions LIMIT 10")
    assert load_dataset(path).summary["tables"]["transactions"]["clean_rows"] == 10
    mapped = config_from_dict({"tables": {"transactions": "crm.transactions"}})
    assert load_dataset(path, mapped).summary["tables"]["transactions"]["clean_rows"] == len(TRANSACTIONS)



def test_two_files_for_one_table_are_refused(tmp_path: Path) -> None:
    # Both customers.csv and customers.parquet: silently reading the Parquet one could mean an
    # old export wins over the file the user just fixed.
    folder = write_csv(tmp_path / "d", customers=CUSTOMERS, transactions=TRANSACTIONS)
    CUSTOMERS.to_parquet(folder / "customers.parquet")
    result, err = run("validate", folder)
    assert result.exit_code == 2
    assert f"Error: {folder} holds customers.parquet and customers.csv: which is table 'customers'?" in err
