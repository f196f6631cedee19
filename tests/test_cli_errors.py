"""User mistakes on the command line end in one clear ``Error:`` line and exit code 2: never a
traceback, never a lost word of the message, never work done for an output that cannot be written."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Callable

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



def ctrl_c_as_a_terminal_gives_it() -> None:
    """``preexec_fn`` of a process the tests send Ctrl-C: SIGINT at its default, as a terminal starts
    a program. A job a non-interactive shell started in the background (`make test &`, nohup) ignores
    SIGINT, and its children inherit that: churnml leaves a handler it did not set alone, so the
    process would finish its command as if no Ctrl-C came."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_DFL)


def check_stopped_by_the_signal(probe: str, tmp_path: Path, code: int, said: str) -> None:
    """Run ``probe`` (Python code that runs churnml's command line and sends itself a signal on the
    way) as ``churnml generate``, and check that it stopped with ``code`` and only the stop message
    ``said`` begins, before generating anything."""
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-c", probe, "generate", str(tmp_path / "g"), "--customers", "50"],
                          capture_output=True, text=True, timeout=300, preexec_fn=ctrl_c_as_a_terminal_gives_it)
    assert done.returncode == code, done.stderr
    # Not a terminal (a job's log): the stop says which command to run again, and how.
    again = f"churnml generate {tmp_path / 'g'} --customers 50"
    assert done.stderr == (f"{said} Files are written whole or not at all, so no output was left half-written. "
                           f"To run it again: {again}\n")
    assert not (tmp_path / "g").exists()

def write_csv(folder: Path, **tables: pd.DataFrame) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, frame in tables.items():
        frame.to_csv(folder / f"{name}.csv", index=False)
    return folder


def write_parquet(folder: Path, **tables: pd.DataFrame) -> Path:
    """The tables as Parquet, as `--engine spark` reads them (it refuses CSV before Spark starts)."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, frame in tables.items():
        frame.to_parquet(folder / f"{name}.parquet", index=False)
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


def _duckdb_source(path: Path, schema: str, tables: dict[str, pd.DataFrame]) -> Path:
    """A DuckDB file at ``path`` with ``schema`` (SQL, quoted as needed) and one table per frame."""
    with duckdb.connect(str(path)) as con:
        con.execute(f"CREATE SCHEMA {schema}")
        for name, frame in tables.items():
            con.register("frame", frame)
            con.execute(f"CREATE TABLE {name} AS SELECT * FROM frame")
    return path


def test_duckdb_tables_in_another_schema_are_found(tmp_path: Path) -> None:
    path = _duckdb_source(tmp_path / "source.duckdb", "crm", {"crm.customers": CUSTOMERS, "crm.transactions": TRANSACTIONS})
    result, err = run("validate", path)
    assert result.exit_code == 0, err
    assert load_dataset(path).summary["tables"]["transactions"]["clean_rows"] == len(TRANSACTIONS)
    # The schema may also be named in the mapping; a table in "main" wins over one elsewhere.
    with duckdb.connect(str(path)) as con:
        con.execute("CREATE TABLE main.transactions AS SELECT * FROM crm.transactions LIMIT 10")
    assert load_dataset(path).summary["tables"]["transactions"]["clean_rows"] == 10
    mapped = config_from_dict({"tables": {"transactions": "crm.transactions"}})
    assert load_dataset(path, mapped).summary["tables"]["transactions"]["clean_rows"] == len(TRANSACTIONS)


def test_duckdb_table_names_with_quotes_are_read(tmp_path: Path) -> None:
    # A schema or table named with a double quote stopped validate with DuckDB's parser traceback:
    # the view over it pasted the name between quotes instead of quoting it.
    path = _duckdb_source(tmp_path / "source.duckdb", '"cr""m"',
                          {'"cr""m"."cus""tomers"': CUSTOMERS, '"trans; actions"': TRANSACTIONS})
    mapped = config_from_dict({"tables": {"customers": 'cr"m.cus"tomers', "transactions": "trans; actions"}})
    summary = load_dataset(path, mapped).summary["tables"]
    assert summary["customers"]["clean_rows"] == len(CUSTOMERS) and summary["transactions"]["clean_rows"] == len(TRANSACTIONS)


def test_a_duckdb_file_another_process_is_writing_is_a_retry_later(tmp_path: Path) -> None:
    """A nightly loader still holding the warehouse's DuckDB file open when `score` starts: exit 2, a
    mistake not to retry, with DuckDB's lock message ending "Check that it is a DuckDB database"."""
    import subprocess
    import sys

    path = _duckdb_source(tmp_path / "source.duckdb", "crm", {"customers": CUSTOMERS, "transactions": TRANSACTIONS})
    loader = subprocess.Popen([sys.executable, "-c", f"import duckdb, sys; con = duckdb.connect({str(path)!r}); "
                               "print('open', flush=True); sys.stdin.read()"],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert loader.stdout.readline().strip() == "open"
        result, err = run("validate", path)
        assert result.exit_code == 75, err
        assert err.startswith(f"Error: DuckDB file {path} is open for writing in another process (")
        assert err.endswith("Run again once that process has closed it (exit code 75: retry later).")
    finally:
        loader.communicate("", timeout=30)
    result, err = run("validate", path)
    assert result.exit_code == 0, err



def test_two_files_for_one_table_are_refused(tmp_path: Path) -> None:
    # Both customers.csv and customers.parquet: silently reading the Parquet one could mean an
    # old export wins over the file the user just fixed.
    folder = write_csv(tmp_path / "d", customers=CUSTOMERS, transactions=TRANSACTIONS)
    CUSTOMERS.to_parquet(folder / "customers.parquet")
    result, err = run("validate", folder)
    assert result.exit_code == 2
    assert f"Error: {folder} holds customers.parquet and customers.csv: which is table 'customers'?" in err


def scores_file(folder: Path) -> Path:
    """A small scores table as `churnml score` writes it (hand-made: the commands below only read it)."""
    folder.mkdir(parents=True, exist_ok=True)
    n = 6
    frame = pd.DataFrame({
        "customer_id": [f"C{i}" for i in range(n)], "as_of": pd.Timestamp("2025-12-01"),
        "churn_probability": [0.6, 0.5, 0.4, 0.3, 0.2, 0.1], "predicted_value": [400.0] * n,
        "value_at_risk": [600.0, 500.0, 400.0, 300.0, 200.0, 100.0], "risk_tier": "high", "value_tier": "high",
        "segment": ["high_value_at_risk"] * 5 + ["loyal_high_value"], "lifecycle_stage": "stable",
        "reasons": "2 unresolved complaints", "churn_model_version": "1", "value_model_version": "1",
        "current_value": 100.0,
    })
    frame.to_csv(folder / "scores.csv", index=False)
    return folder / "scores.csv"


def test_retention_list_names_every_unknown_segment(tmp_path: Path) -> None:
    # `--segment vip,Dormant --segment gold` was told of 'vip' alone, as POST /retention_list was before it named all.
    from churnml.segments import valid_segments

    scores = scores_file(tmp_path / "s")
    result, err = run("retention-list", scores, "--out", tmp_path / "list.csv", "--segment", "vip,Dormant", "--segment", "gold")
    assert result.exit_code == 2
    assert err == f"Error: Unknown segments 'vip', 'gold'. Valid segments: {valid_segments()}."
    assert not (tmp_path / "list.csv").exists()
    result, _ = run("retention-list", scores, "--out", tmp_path / "list.csv", "--segment", "High-value at risk,dormant")
    assert result.exit_code == 0 and set(pd.read_csv(tmp_path / "list.csv")["segment"]) == {"high_value_at_risk"}


def test_a_list_says_when_its_control_group_cannot_show_the_effect_it_assumes(tmp_path: Path) -> None:
    # A --holdout 0.1 drew 203 control customers beside 1,999 contacts at a
    # predicted churn of 15 %: an uplift of 4.6 points assumed, measurable to ±5.1. Only a control group
    # under 30 was warned of, and three months later evaluate said "cannot be told from chance".
    import math

    n = 3000
    pd.DataFrame({"customer_id": [f"C{i:04d}" for i in range(n)], "as_of": pd.Timestamp("2025-12-01"),
                  "churn_probability": 0.2, "predicted_value": 400.0, "value_at_risk": 100.0, "segment": "high_value_at_risk",
                  "reasons": "2 unresolved complaints"}).to_csv(tmp_path / "scores.csv", index=False)
    result, err = run("retention-list", tmp_path / "scores.csv", "--out", tmp_path / "list.csv", "--max-customers", "2000",
                      "--holdout", "0.1", "--contact-cost", "5")
    assert result.exit_code == 0
    groups = pd.read_csv(tmp_path / "list.csv")["group"].value_counts()
    contacts, control = int(groups["contact"]), int(groups["control"])
    assert contacts == 2000 and 150 < control < 300
    error = (0.2 * 0.8 / control + 0.14 * 0.86 / contacts) ** 0.5  # the contacts churn at 0.2 × (1 − 0.3)
    power = 0.5 * (1 + math.erf((0.06 / error - 1.96) / 2 ** 0.5))
    needed = 0.2 * 0.8 / ((0.06 / 2.8016) ** 2 - 0.14 * 0.86 / contacts)
    holdout = math.ceil(100 * needed / (needed + contacts)) / 100
    assert power < 0.8 and 0.1 < holdout < 0.2
    assert (f"Warning: the control group of {control:,} customers lets `churnml evaluate` measure the uplift to about "
            f"±{196 * error:.1f} percentage points, and the list assumes 6.0 (success rate 0.3 of the list's predicted churn "
            f"of 20%): had the contacts worked as assumed, evaluate would tell the effect from chance only {power:.0%} of the "
            f"time. A control group of at least {math.ceil(needed):,} would about 4 times in 5, with the same contacts: "
            f"--holdout {holdout:.2f} or more (its draw gives about that share of the list).") in err
    # A control group of the size it names is enough (the hash draws about the share: 0.17 drew 382 where 409 were due).
    result, err = run("retention-list", tmp_path / "scores.csv", "--out", tmp_path / "list.csv", "--max-customers", "2000",
                      "--holdout", f"{holdout + 0.02:.2f}", "--contact-cost", "5")
    assert result.exit_code == 0 and (pd.read_csv(tmp_path / "list.csv")["group"] == "control").sum() >= math.ceil(needed)
    assert "the control group" not in err
    # An effect no control group can show beside 2,000 contacts: a longer list, or several campaigns.
    result, err = run("retention-list", tmp_path / "scores.csv", "--out", tmp_path / "list.csv", "--max-customers", "2000",
                      "--holdout", "0.5", "--contact-cost", "1", "--success-rate", "0.05")
    assert result.exit_code == 0
    assert ("No --holdout up to 0.5 would 4 times in 5 with these contacts: a longer list would, or the results of several "
            "campaigns taken together.") in err

def test_the_list_files_record_what_retention_list_said_beside_its_summary(tmp_path: Path) -> None:
    # A control group of 12 and an --exclude id matching nobody were said in the terminal only: the .json, the
    # workbook's summary sheet and `report --list` a month later held the summary's own warnings, none of these.
    import html

    pd.DataFrame({"customer_id": [f"C{i:03d}" for i in range(100)], "as_of": pd.Timestamp("2025-12-01"),
                  "churn_probability": 0.2, "predicted_value": 400.0, "value_at_risk": 100.0, "segment": "high_value_at_risk",
                  "reasons": "2 unresolved complaints"}).to_csv(tmp_path / "scores.csv", index=False)
    (tmp_path / "optout.txt").write_text("C001\nGONE\n")
    result, err = run("retention-list", tmp_path / "scores.csv", "--out", tmp_path / "list.xlsx", "--holdout", "0.1",
                      "--exclude", tmp_path / "optout.txt")
    assert result.exit_code == 0
    summary = json.loads((tmp_path / "list.xlsx.json").read_text())
    control = summary["control"]
    assert 0 < control < 30
    # list_notes's first, then the summary's own (these scores carry no reason_topics), as the terminal says them.
    warning, own = summary["warnings"]
    assert "talking_point column is empty" in own
    assert warning.startswith(f"the control group has {control} customer(s): `churnml evaluate` will measure the uplift "
                              "only to about ±") and warning.endswith("A larger --holdout or a longer list narrows it.")
    note = ("1 of 2 --exclude ids match no scored customer (e.g. 'GONE'): customers outside the population at the scores' "
            "date, or ids the scores do not have.")
    assert summary["notes"] == [note]
    printed = " ".join(result.stdout.split())
    assert f"Warning: {' '.join(warning.split())}" in err and f"Note: {note}" in printed  # as the terminal said them
    sheet = pd.read_excel(tmp_path / "list.xlsx", sheet_name="summary", keep_default_na=False)
    assert sheet.values.tolist()[-3:] == [["warning", warning], ["warning", own], ["note", note]]
    result, err = run("report", "--list", tmp_path / "list.xlsx", "--out", tmp_path / "list.html")
    assert result.exit_code == 0, err
    page = html.unescape((tmp_path / "list.html").read_text(encoding="utf-8"))
    assert f"Warning: {warning}" in page and f"Warning: {own}" in page and f"Note: {note}" in page
    # A summary written before the notes were recorded (no "notes", only the summary's own warnings) still reads.
    older = {key: value for key, value in summary.items() if key != "notes"} | {"warnings": [own]}
    (tmp_path / "list.xlsx.json").write_text(json.dumps(older))
    result, err = run("report", "--list", tmp_path / "list.xlsx", "--out", tmp_path / "old.html")
    assert result.exit_code == 0, err
    page = html.unescape((tmp_path / "old.html").read_text(encoding="utf-8"))
    assert f"Warning: {own}" in page and "Note: 1 of 2" not in page
    # A hand-edited one whose notes are a string, not a list of them: refused, not shown a letter a line.
    (tmp_path / "list.xlsx.json").write_text(json.dumps(older | {"notes": note}))
    result, err = run("report", "--list", tmp_path / "list.xlsx", "--out", tmp_path / "bad.html")
    assert result.exit_code == 2 and "is not a retention-list summary: notes has the wrong type." in err


def test_report_and_list_outputs_never_replace_inputs_or_half_write(tmp_path: Path) -> None:
    scores = scores_file(tmp_path / "s")
    before = scores.read_bytes()
    result, err = run("report", "--scores", scores, "--out", scores)
    assert result.exit_code == 2 and "is an input of this command" in err and scores.read_bytes() == before
    result, err = run("report", "--scores", scores, "--out", tmp_path / "r.pdf")
    assert result.exit_code == 2 and "the report is an HTML page. Name the file .html." in err
    # The summary's place is taken by a folder: refused before the list is written.
    (tmp_path / "list.csv.json").mkdir()
    result, err = run("retention-list", scores, "--out", tmp_path / "list.csv")
    assert result.exit_code == 2 and "The summary file" in err and "is a folder" in err
    assert not (tmp_path / "list.csv").exists()
    # A text in a number column of a hand-edited scores CSV: one line naming column, value and customer.
    text = scores.read_text().replace(",500.0,", ",abc,", 1)
    (tmp_path / "edited.csv").write_text(text)
    result, err = run("retention-list", tmp_path / "edited.csv", "--out", tmp_path / "l2.csv")
    assert result.exit_code == 2 and "Scores column value_at_risk holds 1 value(s) that are not finite numbers, e.g. 'abc'" in err
    # A budget below one contact says so, not "nobody pays off", as POST /retention_list does, and in the summary file.
    result, err = run("retention-list", scores, "--out", tmp_path / "l3.csv", "--budget", "3")
    assert result.exit_code == 0
    # One cost for all: no segment named ("costs 5.00 (High-value at risk)" read as if that segment alone did).
    said = ("The budget (3.00) pays for no contact: a contact costs 5.00, for each of the 5 customers who would pay off. "
            "Raise the budget to at least 5.00.")
    assert said in " ".join(err.split())
    assert json.loads((tmp_path / "l3.csv.json").read_text())["warnings"] == [said]
    assert "Left out 1 Loyal high-value customer (" in " ".join(result.stdout.split())  # not "1 ... customers"


def test_the_printed_list_shows_money_to_the_cent(tmp_path: Path) -> None:
    # A subscription at 9.875 a month: every contact's benefit printed as "1" or "2", the by-segment
    # net benefit as 3 beside the headline's 2.74, while the file had 1.69 and 1.05.
    scores = pd.read_csv(scores_file(tmp_path / "s")).head(2).assign(value_at_risk=[10.64, 8.49], predicted_value=40.0)
    scores.to_csv(tmp_path / "small.csv", index=False)
    result, _ = run("retention-list", tmp_path / "small.csv", "--out", tmp_path / "list.csv", "--contact-cost", "1.5")
    assert result.exit_code == 0
    printed = " ".join(result.stdout.split())
    assert "│ 10.64 │ 1.69 │" in printed and "│ 8.49 │ 1.05 │" in printed
    assert "│ 2 │ 3.00 │ 5.74 │ 2.74 │" in printed  # by segment: customers, cost, value saved, net benefit


def test_an_excel_list_carries_its_summary_in_sheets_after_the_list(tmp_path: Path) -> None:
    # The workbook showed whom to call, but what the list costs and saves was only in the .json beside it.
    from churnml import io

    scores = scores_file(tmp_path / "s")
    result, _ = run("retention-list", scores, "--out", tmp_path / "list.xlsx", "--budget", "12")
    assert result.exit_code == 0
    summary = json.loads((tmp_path / "list.xlsx.json").read_text())
    sheets = pd.read_excel(tmp_path / "list.xlsx", sheet_name=None)
    # The tabs say what each holds: the list's was "churnml", beside "summary" and "by segment".
    assert list(sheets) == ["retention list", "summary", "by segment", "columns"]
    # The workbook goes to a call centre that never reads the README: each header says in a line what it is.
    notes = dict(zip(sheets["columns"]["column"], sheets["columns"]["meaning"]))
    assert list(notes) == list(sheets["retention list"].columns)
    assert notes["churn_probability"] == "The chance that the customer leaves within the next 90 days"
    assert notes["value_if_retained"] == "What the customer would bring over the next 90 days if they stay"
    assert notes["talking_point"].startswith("What to open the contact with")
    # An attribute's reason says why it is one, and the sheet says how to read that: a figure only where it is no
    # chance, and a number's figure of its band.
    assert notes["reasons"].endswith('(a customer attribute also says how much more often customers with that value left '
                                     'in the data the models learned from, where enough of them left to rule out chance, '
                                     'e.g. "plan: basic, where churn runs 2.3× the average"; for a number, customers in its '
                                     'band: "monthly fee: 89.5 (band 80–95), where churn runs 1.6× the average")')
    lines = dict(zip(sheets["summary"]["what"], sheets["summary"]["value"]))
    assert float(lines["total contact cost"]) == summary["total_cost"] == 10.0
    assert float(lines["budget"]) == 12.0 and int(lines["selected"]) == summary["selected"] == 2
    # The console says what the list leaves of the budget for other campaigns.
    assert "12.00 (2.00 unspent)" in " ".join(result.stdout.split())
    assert float(lines["expected value saved (next 90 days)"]) == pytest.approx(summary["expected_value_saved"], abs=0.005)
    assert sheets["by segment"]["customers"].sum() == 2
    assert len(io.read_table(tmp_path / "list.xlsx")) == 2  # evaluate and report --list read the list sheet
    # What the money is, as the terminal's headline says it: the workbook had the ROI without it, and a
    # wholesaler at a 15 % margin read revenue as profit.
    assert lines["money counted as"] == "revenue ([problem] margin 1)"
    assert "│ money counted as │ revenue ([problem] margin 1) │" in " ".join(result.stdout.split())
    config = tmp_path / "margin.toml"
    config.write_text("[problem]\nmargin = 0.15\n")
    result, _ = run("retention-list", scores, "--out", tmp_path / "margin.xlsx", "--budget", "12", "--config", config)
    assert result.exit_code == 0
    lines = dict(pd.read_excel(tmp_path / "margin.xlsx", sheet_name="summary").itertuples(index=False))
    assert lines["money counted as"] == "0.15 × amount ([problem] margin)"
    assert f"│ money counted as │ {lines['money counted as']} │" in " ".join(result.stdout.split())


def test_a_csv_list_warns_of_ids_excel_would_change(tmp_path: Path) -> None:
    # Ids such as 002475 or a 19-digit account number were written correctly, but Excel opening the
    # CSV read them as numbers (2475, 1.23457E+18): the marketer's upload to the CRM matched nobody,
    # without a word. The workbook keeps them as text.
    scores = scores_file(tmp_path / "s")
    frame = pd.read_csv(scores, dtype={"customer_id": str})
    frame["customer_id"] = ["002475", "0042", "1234567890123456789", "C3", "4711", "C5"]
    frame.to_csv(scores, index=False)
    result, err = run("retention-list", scores, "--out", tmp_path / "list.csv")
    assert result.exit_code == 0
    assert ("3 customer id(s) of the list look like numbers that Excel changes when it opens a CSV, e.g. 002475 "
            "(a leading zero is dropped, digits beyond the 15th become zeros)") in err
    assert "--out list.xlsx" in err
    assert pd.read_csv(tmp_path / "list.csv", dtype=str)["customer_id"].tolist()[:3] == ["002475", "0042", "1234567890123456789"]
    result, err = run("retention-list", scores, "--out", tmp_path / "list.xlsx")
    assert result.exit_code == 0 and "Excel changes" not in err


def test_an_empty_exclusion_list_is_named(tmp_path: Path) -> None:
    # A do-not-contact export that came out empty kept nobody off the list, without a word.
    scores = scores_file(tmp_path / "s")
    (tmp_path / "optout.txt").write_text("")
    (tmp_path / "optout.csv").write_text("customer_id\n")
    result, err = run("retention-list", scores, "--out", tmp_path / "list.csv", "--exclude", tmp_path / "optout.txt",
                      "--exclude", tmp_path / "optout.csv")
    assert result.exit_code == 0
    for name in ("optout.txt", "optout.csv"):
        assert f"{tmp_path / name} lists no customer id: nobody is left out for it." in err


def test_a_failed_write_names_the_users_file_not_a_temporary_one(tmp_path: Path) -> None:
    from churnml import io

    target = tmp_path / "taken"
    target.mkdir()
    (target / "x").write_text("a folder in the way")
    with pytest.raises(OSError) as info:
        io.write_json({"a": 1}, target)
    assert info.value.filename == str(target)
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_spark_outputs_never_replace_the_data(tmp_path: Path) -> None:
    # Spark writes a folder in place of --out: DATA, its parent or one of its tables would be
    # deleted. Refused before Spark starts, with the data untouched.
    folder = write_parquet(tmp_path / "d", customers=CUSTOMERS, transactions=TRANSACTIONS)
    before = sorted(p.name for p in folder.iterdir())
    for out, what in ((folder, "is DATA"), (tmp_path, "is a folder holding DATA"),
                      (folder / "transactions.parquet", "is a table of DATA"), (folder / "churn_events.csv", "is a table of DATA")):
        for command in (["features", folder, "--as-of", "2021-10-05"], ["score", folder, "--as-of", "2021-10-05"]):
            result, err = run(*command, "--out", out, "--engine", "spark")
            assert result.exit_code == 2 and f"{what}; Spark would replace it" in err, (command, out, err)
    assert sorted(p.name for p in folder.iterdir()) == before
    (tmp_path / "old.parquet").write_text("scores")
    result, err = run("features", folder, "--as-of", "2021-10-05", "--out", tmp_path / "old.parquet", "--engine", "spark")
    assert result.exit_code == 2 and "is a file; --engine spark writes a folder" in err
    result, err = run("features", folder, "--as-of", "2021-10-05", "--out", tmp_path / "f.csv", "--engine", "spark")
    assert result.exit_code == 2 and "writes Parquet (a folder of parts), not .csv" in err


@pytest.mark.parametrize("command", ["features", "train", "score"])
def test_a_csv_folder_with_the_spark_engine_is_refused_before_spark_starts(command: str, tmp_path: Path,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    # Spark started (20-45 s of JVM start) before it said the customers table was not found and that it
    # reads Parquet only. Now refused at once (exit 2), naming the files and the command that converts them.
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")  # train opens the store first
    folder = write_csv(tmp_path / "d", customers=CUSTOMERS, transactions=TRANSACTIONS)
    out = ["--out", tmp_path / "out"] if command != "train" else []
    result = CliRunner().invoke(get_app(), [command, str(folder), "--as-of", "2021-10-05", *map(str, out), "--engine", "spark",
                                            "--master", "local[1]"], terminal_width=100_000)
    assert result.exit_code == 2, result.output
    # Spark's stage line comes before the JVM starts: its absence shows none was started.
    assert "Starting Spark" not in result.output and "Traceback" not in result.output
    assert result.stderr.startswith(f"Error: Data source {folder} holds customers.csv, transactions.csv: --engine spark "
                                    "reads Parquet only, not CSV. Write them as Parquet beside them, e.g. with DuckDB "
                                    f"(installed with churnml): cd {folder} && python -c 'import duckdb; "
                                    'duckdb.read_csv("customers.csv", all_varchar=True).write_parquet("customers.parquet"); '), \
        result.stderr
    assert sorted(p.name for p in folder.iterdir()) == ["customers.csv", "transactions.csv"]
    assert not (tmp_path / "out").exists()


def test_sigterm_stops_cleanly_with_exit_143(tmp_path: Path) -> None:
    # Schedulers stop jobs with SIGTERM: the same clean stop as Ctrl-C, no temporary file left.
    import signal
    import subprocess
    import sys
    import time

    churnml = Path(sys.executable).parent / "churnml"
    process = subprocess.Popen([str(churnml), "generate", str(tmp_path / "g"), "--customers", "1000000"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        # Ready when the output folder exists: generate creates it inside the command, after the
        # signal handlers are installed (a fixed sleep raced a slow start on a busy machine).
        deadline = time.monotonic() + 120
        while not (tmp_path / "g").exists() and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(0.5)
        assert process.poll() is None, process.communicate()
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 143, stderr
    assert "Stopped (SIGTERM). Files are written whole or not at all" in " ".join(stderr.split())
    assert not [p for p in tmp_path.rglob("*") if p.name.endswith(".tmp")]


@pytest.mark.parametrize("signum, code, said", [("SIGINT", 130, "Interrupted."), ("SIGTERM", 143, "Stopped (SIGTERM).")])
def test_a_signal_while_churnml_starts_stops_as_cleanly_as_during_a_command(tmp_path: Path, signum: str, code: int,
                                                                           said: str) -> None:
    # For about 2 s churnml imports its commands before any command runs: Ctrl-C there printed a
    # KeyboardInterrupt traceback of 20-55 lines, and a scheduler's SIGTERM ended the process with
    # nothing on stderr. Run as the `churnml` script runs, the signal sent while the commands load.
    probe = ("import os, signal, sys\n"
             "from churnml import cli\n"
             "register = cli._register_commands\n"
             "def loading():\n"
             f"    os.kill(os.getpid(), signal.{signum})\n"
             "    register()\n"
             "cli._register_commands = loading\n"
             "sys.argv[0] = 'churnml'\n"
             "sys.exit(cli.main())\n")
    check_stopped_by_the_signal(probe, tmp_path, code, said)


@pytest.mark.parametrize("signum, code, said", [("SIGINT", 130, "Interrupted."), ("SIGTERM", 143, "Stopped (SIGTERM).")])
def test_a_signal_while_churnml_loads_its_command_line_stops_cleanly(tmp_path: Path, signum: str, code: int,
                                                                     said: str) -> None:
    # Before churnml.cli's main() runs, Python loads churnml.cli itself (Typer and Rich: about 0.1 s):
    # Ctrl-C there printed a KeyboardInterrupt traceback and ended the process by SIGINT, SIGTERM
    # ended it without a word. The signal arrives as Rich loads, in `python -m churnml`.
    probe = ("import importlib.abc, os, runpy, signal, sys\n"
             "class Loading(importlib.abc.MetaPathFinder):\n"
             "    def find_spec(self, name, path=None, target=None):\n"
             "        if name == 'rich.console':\n"
             f"            os.kill(os.getpid(), signal.{signum})\n"
             "sys.meta_path.insert(0, Loading())\n"
             "runpy.run_module('churnml', run_name='__main__', alter_sys=True)\n")
    check_stopped_by_the_signal(probe, tmp_path, code, said)


@pytest.mark.parametrize("signum, code, said", [("SIGINT", 130, "Interrupted."), ("SIGTERM", 143, "Stopped (SIGTERM).")])
def test_a_signal_between_reading_the_command_line_and_the_command_stops_as_cleanly(tmp_path: Path, signum: str,
                                                                                   code: int, said: str) -> None:
    # For 0.2-0.3 s after the commands load, Typer builds them and reads the command line: a signal
    # there ended churnml with exit 130 and nothing on stderr, a scheduler's SIGTERM included (143
    # everywhere else). Here the signal comes as the command starts, before it handles signals itself.
    probe = ("import os, signal, sys\n"
             "from churnml import cli\n"
             "watch = cli._watch_signals\n"
             "def starting():\n"
             f"    os.kill(os.getpid(), signal.{signum})\n"
             "    watch()\n"
             "cli._watch_signals = starting\n"
             "sys.argv[0] = 'churnml'\n"
             "sys.exit(cli.main())\n")
    check_stopped_by_the_signal(probe, tmp_path, code, said)


def test_ctrl_c_inside_code_a_library_runs_with_exec_still_exits_130_under_python_m(tmp_path: Path) -> None:
    # `python -m churnml score` stopped by Ctrl-C 2-4 s in said "Interrupted." and then ended BY SIGINT
    # (returncode -2 in Python's subprocess, "killed" to a scheduler) in about 1 run in 7: the signal came
    # while scipy.stats, imported by `score`, ran the code it builds with exec() of a string, and Python
    # marks a plain KeyboardInterrupt leaving such code as never handled. Here the signal arrives inside
    # an exec'd string while the commands load, in a process started as `python -m` starts it.
    import os
    import subprocess
    import sys

    (tmp_path / "probe.py").write_text(
        "import sys\n"
        "from churnml import cli\n"
        "register = cli._register_commands\n"
        "def loading():\n"
        "    exec('import os, signal, time\\nos.kill(os.getpid(), signal.SIGINT)\\ntime.sleep(60)')\n"
        "    register()\n"
        "cli._register_commands = loading\n"
        "sys.argv[0] = 'churnml'\n"
        "cli.main()\n")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(tmp_path), os.environ.get("PYTHONPATH")]))}
    done = subprocess.run([sys.executable, "-m", "probe", "generate", str(tmp_path / "g"), "--customers", "50"],
                          capture_output=True, text=True, timeout=120, env=env, preexec_fn=ctrl_c_as_a_terminal_gives_it)
    assert done.returncode == 130, done.stderr
    assert done.stderr == ("Interrupted. Files are written whole or not at all, so no output was left half-written. "
                           f"To run it again: churnml generate {tmp_path / 'g'} --customers 50\n")


def test_a_signal_during_a_duckdb_query_stops_cleanly(tmp_path: Path) -> None:
    # DuckDB turns the KeyboardInterrupt of a signal into RuntimeError("Query interrupted"):
    # that was a traceback and exit 1, for Ctrl-C and SIGTERM alike (one handler path; SIGTERM
    # here, as a scheduler sends it). A DuckDB file whose tables are views over a billion rows
    # keeps validation in a query for minutes. Left to itself, DuckDB took ~20 s to notice the
    # signal (a Python handler runs only when DuckDB looks); a thread woken by the signal now
    # interrupts the query at once.
    signum, code, how = "SIGTERM", 143, "Stopped (SIGTERM)"
    import duckdb
    import os
    import signal
    import subprocess
    import sys
    import time

    source = tmp_path / "big.duckdb"
    con = duckdb.connect(str(source))
    con.execute("CREATE VIEW customers AS SELECT 'c' || x AS customer_id FROM range(1000) t(x)")
    con.execute("CREATE VIEW transactions AS SELECT 'c' || (x % 1000) AS customer_id, "
                "TIMESTAMP '2024-01-01' + to_seconds(x % 30000000) AS timestamp, 1.0 AS amount FROM range(1000000000) t(x)")
    con.close()
    churnml = Path(sys.executable).parent / "churnml"
    process = subprocess.Popen([str(churnml), "validate", str(source), "--quarantine-dir", str(tmp_path / "q")],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        # Ready once it has the DuckDB file open (then validation's queries run for minutes).
        deadline = time.monotonic() + 120
        def opened() -> bool:
            fds = Path(f"/proc/{process.pid}/fd")
            return any(os.path.realpath(fd) == str(source) for fd in fds.iterdir()) if fds.exists() else False
        while process.poll() is None and not opened() and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(2)
        assert process.poll() is None, process.communicate()
        signalled = time.monotonic()
        process.send_signal(getattr(signal, signum))
        _, stderr = process.communicate(timeout=120)
        stopped_after = time.monotonic() - signalled
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == code, stderr
    assert stopped_after < 10, f"stopped {stopped_after:.1f} s after the signal"
    assert "Traceback" not in stderr
    assert f"{how}. Files are written whole or not at all" in " ".join(stderr.split())


def test_a_wrong_spark_master_is_one_error_line(tmp_path: Path) -> None:
    # Was a 110-line Py4J traceback. A subprocess: this test's failed JVM start must not meet
    # the Spark session other tests share.
    import subprocess
    import sys

    folder = write_parquet(tmp_path / "d", customers=CUSTOMERS, transactions=TRANSACTIONS)
    churnml = Path(sys.executable).parent / "churnml"
    done = subprocess.run([str(churnml), "features", str(folder), "--as-of", "2021-10-05", "--out", str(tmp_path / "f"),
                           "--engine", "spark", "--master", "local[9x]"], capture_output=True, text=True, timeout=300)
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert done.stderr.strip().splitlines()[-1].startswith(
        "Error: Spark did not start with --master local[9x]: Could not parse Master URL: 'local[9x]'. Use a master such as")


def test_help_shows_flags_without_a_value_type_and_arguments_in_capitals() -> None:
    # Typer printed "--strict <bool>", which reads as taking a value ("--strict true" then fails),
    # and the usage line mixed {data} and {DATA}.
    runner = CliRunner()
    for command in ("validate", "score", "evaluate", "promote"):
        result = runner.invoke(get_app(), [command, "--help"], terminal_width=120)
        assert result.exit_code == 0, result.output
        assert "<bool>" not in result.output, command
        usage = next(line for line in result.output.splitlines() if "Usage:" in line)
        arguments = re.findall(r"\{(\w+)\}", usage)
        assert arguments and all(a.isupper() for a in arguments), usage


def test_retention_list_help_names_every_segment_key() -> None:
    # The help lists the segment keys --segment takes in hand-written text; new_customer and
    # low_value_active were added to SEGMENTS later, and nothing kept the two in step.
    from churnml.segments import SEGMENTS

    result = CliRunner().invoke(get_app(), ["retention-list", "--help"], terminal_width=120)
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    listed = re.search(r"Segments: ([a-z_, ]+)\.", text)
    assert listed, text
    assert [key.strip() for key in listed.group(1).split(",")] == list(SEGMENTS)


def test_the_root_help_lists_every_exit_code_a_scheduler_can_see() -> None:
    from churnml.cli import EXIT_RETRY

    text = " ".join(CliRunner().invoke(get_app(), ["--help"], terminal_width=120).output.split())
    for code in ("0 done", "1 validate --strict", "2 a mistake to fix", "3 score --fail-on-drift",
                 f"{EXIT_RETRY} the MLflow store is busy", "or another score is writing the same --out, retry later",
                 "130/143 stopped"):
        assert code in text, code


def test_version_names_churnml_its_commit_and_the_libraries_that_decide_the_numbers() -> None:
    # A bug report needs these; there was no --version ("No such option").
    import subprocess
    import sys

    import lightgbm

    import churnml

    done = subprocess.run([str(Path(sys.executable).parent / "churnml"), "--version"], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    first, libraries = done.stdout.strip().splitlines()
    assert first.startswith(f"churnml {churnml.__version__}")
    commit = subprocess.run(["git", "rev-parse", "--short=7", "HEAD"], cwd=Path(churnml.__file__).parent,
                            capture_output=True, text=True).stdout.strip()
    if commit:  # a checkout, not an installed wheel
        assert f"(git {commit}" in first
    assert f"duckdb {duckdb.__version__}" in libraries and f"lightgbm {lightgbm.__version__}" in libraries
    assert f"python {sys.version.split()[0]}" in libraries


def test_tracking_uri_passwords_are_never_printed(tmp_path: Path, monkeypatch) -> None:
    # MLflow's message and churnml's "Check MLFLOW_TRACKING_URI (now ...)" both printed
    # http://alice:S3cretPW@...: into terminals, CI logs and schedulers' mails.
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://alice:S3cretPW@127.0.0.1:1/")
    result, err = run("models")
    assert result.exit_code == 75 and "S3cretPW" not in result.output + result.stderr
    assert "http://alice:***@127.0.0.1:1/" in err
    # A database store whose driver is not installed: one line naming it, not a traceback.
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "postgresql://alice:S3cretPW@127.0.0.1:1/mlflow")
    result, err = run("models")
    assert result.exit_code == 2 and "S3cretPW" not in result.output + result.stderr
    assert err.startswith("Error: MLflow cannot open MLFLOW_TRACKING_URI (postgresql://alice:***@127.0.0.1:1/mlflow)")
    assert "pip install psycopg" in err


def test_registry_commands_given_a_config_say_what_names_the_store(tmp_path: Path, monkeypatch) -> None:
    # `churnml models --config company.toml` (a script passing one config to every command, as the
    # top-level help suggests) stopped at Typer's "No such option: --config". A config names no
    # store: the message says which store the command uses and how to choose another.
    from churnml import tracking

    store = tmp_path / "elsewhere" / "mlflow.db"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{store}")
    tracking._client(create=True).search_experiments()  # a real, empty store there
    config = tmp_path / "company.toml"
    config.write_text("[targeting]\ncontact_cost = 4\n")
    listing, _ = run("models")
    assert listing.exit_code == 0 and "No registered models yet" in listing.output
    for args, does in ((("models",), "lists"), (("promote", "churnml-churn", "1"), "moves the alias in")):
        for flag in ("--config", "-c"):
            result, err = run(*args, flag, config)
            assert result.exit_code == 2, (args, err)
            assert "No such option" not in err
            assert err == (f"Error: `churnml {args[0]}` reads no config (--config {config}): no setting of a config says which "
                           f"MLflow store to use. It {does} the registry at sqlite:///{store} (MLFLOW_TRACKING_URI). Drop "
                           "--config; for another store, set MLFLOW_TRACKING_URI (e.g. export "
                           "MLFLOW_TRACKING_URI=sqlite:////path/to/mlruns/mlflow.db).")


def test_generate_and_demo_given_a_config_say_they_read_none_and_write_nothing(tmp_path: Path) -> None:
    # `churnml generate DIR --customers 10 --config a.toml` and `churnml demo --config a.toml` stopped at
    # Typer's bare "No such option: --config". Both work on a sample in churnml's own names with the
    # default settings, which a config's mappings (written for your data) do not fit: refused, saying
    # why and what to do instead, before anything is written.
    config = tmp_path / "a.toml"
    config.write_text("[targeting]\ncontact_cost = 4\n")
    sample, demo = tmp_path / "sample", tmp_path / "demo_out"
    for flag in ("--config", "-c"):
        result, err = run("generate", sample, "--customers", 10, flag, config)
        assert result.exit_code == 2 and "No such option" not in err, err
        assert err == (f"Error: `churnml generate` reads no config (--config {config}): no setting of a config changes "
                       "the sample, which is written in churnml's own table and column names and formats: `churnml "
                       "validate` and the other commands read it without a config. Drop --config; give it to the "
                       "commands that read your own data.")
        result, err = run("demo", "--out", demo, "--customers", 300, flag, config)
        assert result.exit_code == 2 and "No such option" not in err, err
        assert err.startswith(f"Error: `churnml demo` reads no config (--config {config}): it runs every step with the "
                              "default settings on a sample generated in churnml's own table and column names")
        assert err.endswith(f"e.g. `churnml retention-list {demo / 'scores.parquet'} --config {config} --out "
                            f"{demo / 'retention_list_mine.csv'}`.")
    assert not sample.exists() and not demo.exists()
    assert run("generate", sample, "--customers", 10)[0].exit_code == 0 and (sample / "customers.parquet").exists()


def test_a_tracking_server_that_does_not_answer_is_retry_later_not_train_first(tmp_path: Path, monkeypatch) -> None:
    # A monthly score under a scheduler, its tracking server down (here: nothing listens on the
    # port): the registry lookup's connection error read "No registered model churnml-churn with
    # alias 'champion' ... Run `churnml train` first" with exit 2, sending the operator to retrain
    # instead of retrying. Real MLflow client, real refused connection.
    import socket

    from churnml.cli import EXIT_RETRY

    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"http://127.0.0.1:{port}/")
    for args in (("promote", "churnml-churn", "champion"), ("models",)):
        result, err = run(*args)
        assert result.exit_code == EXIT_RETRY, (args, err)
        assert err.startswith(f"Error: The MLflow tracking server http://127.0.0.1:{port}/ "), err
        assert "churnml train" not in err and "No registered model" not in err


def _closed_port() -> int:
    """A localhost port nothing listens on."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_a_tracking_server_that_is_not_running_is_reported_at_once_not_after_mlflows_retries(tmp_path: Path, monkeypatch) -> None:
    # MLFLOW_TRACKING_URI naming a server that was never started: `churnml models` took 17 s,
    # `score` 21 s and `train` 33 s (after reading the data and building the training set) of
    # MLflow's retries (3, churnml's setting, with doubling waits) before "could not be reached
    # (no answer after MLflow's retries)". The first refused connection says it all. Real MLflow
    # client, real refused connection, churnml's own retry settings.
    import time

    from churnml.cli import EXIT_RETRY

    port = _closed_port()
    # Retries as `churnml` sets them (cli._quiet_libraries), waits longer than MLflow's 2 s factor:
    # 10 s and 20 s after the second and third refusals, so that imports on a busy machine cannot
    # be taken for them.
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "3")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR", "5")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"http://127.0.0.1:{port}")
    data = write_csv(tmp_path / "data", customers=CUSTOMERS, transactions=TRANSACTIONS)
    for args in (("models",), ("score", data, "--as-of", "2021-10-11", "--out", tmp_path / "scores.csv"),
                 ("train", data, "--as-of", "2021-10-11")):
        started = time.monotonic()
        result, err = run(*args)
        took = time.monotonic() - started
        assert result.exit_code == EXIT_RETRY, (args, err)
        assert took < 12, (args, took)
        assert err.startswith(f"Error: The MLflow tracking server http://127.0.0.1:{port} (MLFLOW_TRACKING_URI) refused "
                              f"the connection: nothing listens on 127.0.0.1:{port}. Start the server there (e.g. "
                              f"`mlflow server --host 127.0.0.1 --port {port}`)"), err
        assert "set MLFLOW_TRACKING_URI to the server's address" in err
        assert "Reading and validating" not in result.output  # train: before the data, not after the training set
    assert not (tmp_path / "scores.csv").exists()


def test_a_tracking_host_name_that_does_not_resolve_is_a_mistake_to_fix_not_retry_later(tmp_path: Path, monkeypatch) -> None:
    # A typo in MLFLOW_TRACKING_URI's host exited 75, "retry later": a scheduler retried a job
    # that could never work, and nobody was told to fix the name. DNS saying there is no such host
    # is a configuration mistake (exit 2); a real lookup of a name that cannot exist (RFC 6761).
    import socket

    host = "no-such-host.invalid"
    try:
        socket.getaddrinfo(host, 5000)
    except socket.gaierror as exc:
        if exc.errno == socket.EAI_AGAIN:
            pytest.skip("no DNS server answers on this machine")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")  # the old exit 75 without the waits
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"http://{host}:5000")
    data = write_csv(tmp_path / "data", customers=CUSTOMERS, transactions=TRANSACTIONS)
    for args in (("models",), ("promote", "churnml-churn", "2"), ("train", data, "--as-of", "2021-10-11")):
        result, err = run(*args)
        assert result.exit_code == 2, (args, err)
        assert err == (f"Error: The host name {host} in MLFLOW_TRACKING_URI (http://{host}:5000) does not resolve: "
                       "there is no such host. Correct the host name in MLFLOW_TRACKING_URI (a typo?), or unset it to "
                       "use the local store ./mlruns/mlflow.db."), err


def test_an_as_of_date_in_the_future_is_refused_whatever_data_end_says(tmp_path: Path) -> None:
    # [input] data_end a year ahead (a typo, or "complete through the end of the year" written in
    # advance) let `churnml score` and `features` run as of a month from now: every customer read
    # as a month without purchases, and no message. The data cannot be complete to a day that has
    # not come. Transactions up to today, as a monthly job sees them.
    from datetime import datetime, timedelta, timezone

    today = datetime.now(timezone.utc).date()
    days = [today - timedelta(days=n) for n in range(0, 200, 4)]
    transactions = pd.DataFrame({"customer_id": ["a", "b"] * (len(days) // 2),
                                 "timestamp": [f"{d:%Y-%m-%d} 10:00:00" for d in days[: len(days) // 2 * 2]],
                                 "amount": "12.5"})
    customers = pd.DataFrame({"customer_id": ["a", "b"], "signup_date": [f"{today - timedelta(days=400):%Y-%m-%d}"] * 2})
    folder = write_csv(tmp_path / "d", customers=customers, transactions=transactions)
    config = tmp_path / "c.toml"
    config.write_text(f'[input]\ndata_end = "{today + timedelta(days=365):%Y-%m-%d}"\n')
    tomorrow, later = today + timedelta(days=1), today + timedelta(days=30)
    ok, _ = run("features", folder, "--as-of", f"{tomorrow:%Y-%m-%d}", "--out", tmp_path / "f.parquet", "-c", config)
    assert ok.exit_code == 0  # tomorrow: the events up to today, as the API allows too
    for command in ("features", "train"):
        args = ["--out", tmp_path / "f2.parquet"] if command == "features" else []
        result, err = run(command, folder, "--as-of", f"{later:%Y-%m-%d}", *args, "-c", config)
        assert result.exit_code == 2, (command, err)
        assert err.startswith(f"Error: As-of date {later:%Y-%m-%d} is in the future (today is {today:%Y-%m-%d}, UTC)"), err
        assert f"up to {tomorrow:%Y-%m-%d}" in err
    assert not (tmp_path / "f2.parquet").exists()


def test_an_as_of_date_in_the_future_is_refused_before_the_data_is_read(tmp_path: Path) -> None:
    # A year typed wrong in a batch job (`score --as-of 2062-01-01`) was refused only once the data
    # had been read and validated (40 s at 1 M customers). The date needs no data: data that
    # validation refuses shows that nothing was read before the date's own message.
    from datetime import datetime, timedelta, timezone

    import socket

    today = datetime.now(timezone.utc).date()
    later = today + timedelta(days=400)
    folder = write_csv(tmp_path / "d", customers=CUSTOMERS, transactions=TRANSACTIONS.drop(columns="amount"))
    with socket.socket() as sock:  # serve checks the port first
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    commands = {"score": ["--out", tmp_path / "s.parquet"], "features": ["--out", tmp_path / "f.parquet"],
                "train": [], "serve": ["--data", folder, "--port", port, "--snapshots", tmp_path / "snap"]}
    for command, args in commands.items():
        data = [] if command == "serve" else [folder]
        result, err = run(command, *data, "--as-of", f"{later:%Y-%m-%d}", *args)
        assert result.exit_code == 2, (command, err)
        assert err.startswith(f"Error: As-of date {later:%Y-%m-%d} is in the future (today is {today:%Y-%m-%d}, UTC)"), (command, err)
        why = "count missing data as churn" if command == "train" else "as if they had stopped buying from today"
        assert why in err, (command, err)
    _, err = run("features", folder, "--as-of", f"{today:%Y-%m-%d}", "--out", tmp_path / "f.parquet")
    assert "amount" in err and "in the future" not in err  # today is read, and the data refused
    assert not list(tmp_path.glob("*.parquet")) and not (tmp_path / "snap").exists()


def test_an_as_of_given_as_a_date_and_time_is_told_its_utc_day_as_the_data_reads_that_time(tmp_path: Path) -> None:
    # `--as-of 2021-06-01T00:00:00+05:00` was "not a date" with no word of which date, and the API's as_of suggested
    # 2021-06-01 as written, where the data reads that time as 2021-05-31 19:00 UTC and days are UTC days.
    moment, zulu = "2021-06-01T00:00:00+05:00", "2021-06-01T00:00:00Z"
    folder = write_csv(tmp_path / "d", customers=CUSTOMERS, transactions=TRANSACTIONS.assign(timestamp=[moment] + list(TRANSACTIONS["timestamp"][1:])))
    read = load_dataset(folder).con.execute("SELECT timestamp FROM transactions WHERE timestamp >= '2021-05-01' "
                                            "AND timestamp < '2021-06-02' AND hour(timestamp) <> 10").fetchall()
    assert len(read) == 1
    day, hour = pd.Timestamp(read[0][0]), pd.Timestamp(read[0][0]).hour
    assert f"{day:%Y-%m-%d}" == "2021-05-31" and hour == 19  # the data's times read in UTC
    commands = {"score": ["--out", tmp_path / "s.parquet"], "features": ["--out", tmp_path / "f.parquet"], "train": []}
    for command, args in commands.items():
        result, err = run(command, folder, "--as-of", moment, *args)
        assert result.exit_code == 2, (command, err)
        assert err == (f"Error: --as-of '{moment}' is a date and time, {day:%Y-%m-%d %H:%M} UTC; the as-of date is a date "
                       "alone, YYYY-MM-DD, and the scores see the events before its midnight UTC, as the data's times are "
                       f"read in UTC: {day:%Y-%m-%d} sees those before {day:%Y-%m-%d} 00:00 UTC, 2021-06-01 those before "
                       "2021-06-01 00:00 UTC."), (command, err)
        result, err = run(command, folder, "--as-of", zulu, *args)
        assert result.exit_code == 2 and err == (
            f"Error: --as-of '{zulu}' is a date and time; the as-of date is a date alone, YYYY-MM-DD (here 2021-06-01): "
            "the scores see the events before its start, midnight UTC."), (command, err)
    # Another option's date, and text that is no date, are told the form as before.
    _, err = run(command, folder, "--as-of", "2021-13-01", *args)
    assert err.startswith("Error: --as-of '2021-13-01' is not a date. Use the form YYYY-MM-DD"), err
    assert not list(tmp_path.glob("*.parquet"))


def test_a_list_of_lapsed_members_and_a_tiny_certain_control_group_say_so(tmp_path: Path) -> None:
    # A gym without churn_events: members who stopped paying half a year ago are still customers
    # (active_days 365) and near-certain churners, so 9 of a 20-contact list had not paid for
    # 180-358 days. Their control group's predicted churn of 100 % made the precision warning
    # read "±0 percentage points" for 8 customers.

    scores = scores_file(tmp_path / "s")
    frame = pd.concat([pd.read_csv(scores)] * 5, ignore_index=True)
    frame["customer_id"] = [f"M{i:04d}" for i in range(len(frame))]
    frame["churn_probability"] = 1.0
    frame["lifecycle_stage"] = ["lapsed", "lapsed", "declining", "lapsed", "stable", "stable"] * 5
    frame.to_csv(scores, index=False)
    sidecar = {"as_of": "2025-12-01", "models": {"problem": {"horizon_days": 90, "margin": 1.0, "churn": "inactivity",
                                                             "active_days": 365}}}
    (scores.parent / "scores.csv.json").write_text(json.dumps(sidecar))
    result, err = run("retention-list", scores, "--out", tmp_path / "list.csv", "--holdout", "0.5")
    assert result.exit_code == 0, result.output
    listed = pd.read_csv(tmp_path / "list.csv", encoding="utf-8-sig")
    contacted = listed[listed["group"] == "contact"]
    lapsed = int((contacted["lifecycle_stage"] == "lapsed").sum())
    assert lapsed and (f"Warning: {lapsed} of the {len(contacted)} customers to contact have not bought for 180 days or "
                       "more (lifecycle_stage lapsed): without churn_events they count as customers until 365 days") in err
    control = int((listed["group"] == "control").sum())
    spread = 196 * (0.7 * 0.3 / len(contacted)) ** 0.5  # the controls all churn; the contacts at 1 - success_rate
    assert f"the control group has {control} customer(s): `churnml evaluate` will measure the uplift only to about " \
           f"±{spread:.0f} percentage points" in err
    # Churn as an account closure: a dormant account is a customer still, and nothing is said.
    sidecar["models"]["problem"] = {"horizon_days": 90, "margin": 1.0, "churn": "closure"}
    (scores.parent / "scores.csv.json").write_text(json.dumps(sidecar))
    result, err = run("retention-list", scores, "--out", tmp_path / "list2.csv")
    assert result.exit_code == 0 and "lifecycle_stage lapsed" not in err


def test_a_list_that_leaves_most_of_its_budget_unspent_says_few_pay_off_and_at_what_value(tmp_path: Path) -> None:
    # A telecom export (bills of about 30 a month, a 90-day horizon): --budget 5000 listed 4 of the
    # 1,069 customers considered and left 4,980 unspent, the contact cost, not the budget, deciding
    # without a word. The note says so, in the terminal and in the list's .json summary.
    scores = scores_file(tmp_path / "s")
    frame = pd.read_csv(scores)
    frame["value_at_risk"] = [30.0, 20.0, 10.0, 5.0, 3.0, 2.0]  # 30 and 20 pay off a contact of 5 at 0.3
    frame["segment"] = "high_value_at_risk"
    frame.to_csv(scores, index=False)
    (scores.parent / "scores.csv.json").write_text(json.dumps({"as_of": "2025-12-01", "models": {"problem": {
        "horizon_days": 90, "margin": 1.0, "churn": "closure"}}}))
    note = ("the list spends 10.00 of its budget of 5,000.00: only 2 of the 6 customers considered would pay off, those "
            "whose value at risk × the success rate (0.3) exceeds the contact cost (5.00): a value at risk (churn "
            "probability × value if retained over the next 90 days) above 16.67. A larger budget adds no one; a cheaper "
            "contact (--contact-cost, or [targeting] contact_costs per segment: an e-mail rather than a call) lets more "
            "pay off.")
    result, _ = run("retention-list", scores, "--out", tmp_path / "list.csv", "--budget", "5000")
    assert result.exit_code == 0, result.output
    assert f"Note: {note}" in " ".join(result.stdout.split())
    assert json.loads((tmp_path / "list.csv.json").read_text())["notes"] == [note]
    # POST /retention_list's notes name its own field.
    from churnml.targeting import list_notes, retention_list

    said = list_notes(retention_list(frame, budget=5000), {"horizon_days": 90}, 0, option="")
    assert said == (("note", note.replace("--contact-cost", "contact_cost")),)
    # A budget the list spends, or none asked for: nothing to explain.
    for budget in (["--budget", "15"], []):
        result, _ = run("retention-list", scores, "--out", tmp_path / "list.csv", *budget)
        assert result.exit_code == 0 and "would pay off" not in result.stdout
        assert json.loads((tmp_path / "list.csv.json").read_text())["notes"] == []


def test_value_tiers_of_a_flat_fee_are_said_to_mean_little(capsys) -> None:
    # A gym charging everyone 30 a month: the value tiers cut at 84.70 and 82.76 over 90 days, so
    # "high-value at risk" and "fleeing low-value" split members worth the same.
    from churnml.cli.score import show_scores_summary
    from churnml.config import Config

    sidecar = {"rows": 200, "as_of": "2025-12-31", "segments": {}, "models": {"problem": {"horizon_days": 90}},
               "counts": {"lifecycle_stage": {"stable": 200}, "risk_tier": {"low": 200}},
               "value_tier_thresholds": {"high_min": 84.69992507478999, "medium_min": 82.75623994045397}}
    show_scores_summary(sidecar, Config())
    out = " ".join(capsys.readouterr().out.split())
    assert ("Note: the value tiers split customers worth nearly the same over 90 days (high from 84.70, medium from "
            "82.76, value if retained)") in out
    sidecar["value_tier_thresholds"] = {"high_min": 98.62, "medium_min": 39.61}  # a cafe: tiers that mean something
    show_scores_summary(sidecar, Config())
    assert "value tiers split" not in capsys.readouterr().out


def test_a_stopped_command_leaves_ctrl_c_working_in_the_process_that_ran_it(tmp_path: Path, monkeypatch) -> None:
    # A command stopped by Ctrl-C marks itself as stopping, so that the late handler of the same
    # signal does not cut its message short. The mark outlived the command: in a process that runs
    # commands in-process (a notebook, pytest), every later Ctrl-C and SIGTERM was swallowed.
    import signal
    import time

    import churnml.cli.validate

    def stopped(*args, **kwargs):
        raise KeyboardInterrupt()

    monkeypatch.setattr(churnml.cli.validate, "load_dataset", stopped)
    # Python's own Ctrl-C handler, as in a terminal (a background job's pytest may have SIGINT ignored).
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        result, err = run("validate", write_csv(tmp_path / "d", customers=CUSTOMERS, transactions=TRANSACTIONS))
        assert result.exit_code == 130 and err.startswith("Interrupted.")
        with pytest.raises(KeyboardInterrupt):
            signal.raise_signal(signal.SIGINT)
            time.sleep(1)
        # Nor does an earlier command's signal decide how a later one stopped: a SIGTERM recorded
        # before made this Ctrl-C read "Stopped (SIGTERM)", exit 143.
        from churnml import cli

        cli._signals.append(signal.SIGTERM)
        result, err = run("validate", tmp_path / "d")
        assert result.exit_code == 130 and err.startswith("Interrupted.")
    finally:
        signal.signal(signal.SIGINT, previous)


def test_the_top_of_the_list_fits_an_80_column_terminal_with_control_customers(tmp_path: Path) -> None:
    # On a laptop's 80 columns a control customer's "C0003259 (control)" squeezed every column:
    # headers "r…", "churn pro…", "benef…" and "C0003259 (contr…", the mark cut off.
    scores = scores_file(tmp_path / "s")
    frame = pd.read_csv(scores)
    frame["customer_id"] = [f"C000{3250 + i}" for i in range(len(frame))]
    frame.to_csv(scores, index=False)
    result = CliRunner().invoke(get_app(), ["retention-list", str(scores), "--out", str(tmp_path / "l.csv"),
                                            "--holdout", "0.5"], terminal_width=80)
    assert result.exit_code == 0, result.output
    top = result.output.split("Top ")[1].split("Why")[0]
    assert "(control)" in top and "…" not in top, top
    for header in ("rank", "customer", "churn", "value at", "benefit"):
        assert header in top, header


@pytest.mark.parametrize("command", ["score", "features"])
def test_a_missing_data_source_is_named_before_the_models_are_loaded(tmp_path: Path, monkeypatch, command) -> None:
    # A scheduled `churnml score` whose data path was mistyped (or whose export had not landed yet)
    # loaded the models first, printed their warnings, and failed on the data only then; with no
    # champion in the store it blamed the models. The data source is checked with the outputs.
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'empty' / 'mlflow.db'}")
    missing = tmp_path / "export_2025-12-01"
    result, err = run(command, str(missing), "--as-of", "2025-12-01", "--out", str(tmp_path / "out.parquet"),
                    *(["--snapshots", str(tmp_path / "snaps")] if command == "score" else []))
    assert result.exit_code == 2
    assert err.startswith(f"Error: Data source {missing} does not exist."), err
    assert not (tmp_path / "empty").exists()  # no store was opened (nor made)


def test_evaluate_help_names_every_format_a_retention_list_is_written_in() -> None:
    # evaluate reads a list back in each format retention-list writes, an Excel workbook included,
    # but its --help said "(.parquet or .csv)", so an .xlsx list looked unsupported.
    from churnml.io import LIST_FORMATS

    import typer

    evaluate = typer.main.get_command(get_app()).commands["evaluate"]
    text = next(p.help for p in evaluate.params if p.name == "scores")
    listed = re.search(r"retention list made with --holdout \(([^)]*)\)", text)
    assert listed, text
    assert sorted(re.findall(r"\.(\w+)", listed.group(1))) == sorted(LIST_FORMATS)


def _as_another_account(*args: object, cwd: Path, env: dict[str, str] | None = None):
    """``churnml ARGS`` run by an account without root's right to read any file (nobody, uid
    65534), so that a file made unreadable (chmod 000) is unreadable to it; skipped where this
    process cannot switch accounts (not root, no setpriv) or that account cannot run Python here."""
    import os
    import shutil
    import subprocess
    import sys

    import churnml

    setpriv = shutil.which("setpriv")
    if os.geteuid() != 0 or setpriv is None:
        pytest.skip("needs root and setpriv to run a command as another account")
    nobody = [setpriv, "--reuid=65534", "--regid=65534", "--clear-groups", sys.executable]
    source = str(Path(churnml.__file__).resolve().parents[1])
    environment = {**os.environ, "PYTHONPATH": source, "HOME": str(cwd), **(env or {})}
    probe = subprocess.run([*nobody, "-c", "import churnml"], cwd=cwd, env=environment, capture_output=True)
    if probe.returncode != 0:
        pytest.skip(f"the other account cannot run churnml here: {probe.stderr.decode()[-200:]}")
    done = subprocess.run([*nobody, "-m", "churnml", *map(str, args)], cwd=cwd, env=environment, capture_output=True,
                          text=True, timeout=300)
    return done.returncode, " ".join(done.stderr.split())


def test_unreadable_inputs_are_named_with_the_permission_to_fix() -> None:
    # Run by a scheduler's account that may not read them: a Parquet table was "Cannot read …:
    # Permission denied. Check that it is a valid parquet file" (it was valid), and an MLflow store
    # a traceback ending in "unable to open database file", exit code 1.
    import shutil
    import tempfile

    folder = Path(tempfile.mkdtemp(prefix="churnml-unreadable-"))  # pytest's tmp_path is root's alone (0700)
    try:
        folder.chmod(0o777)
        data = folder / "data"
        data.mkdir()
        CUSTOMERS.to_parquet(data / "customers.parquet", index=False)
        TRANSACTIONS.to_parquet(data / "transactions.parquet", index=False)
        data.chmod(0o755)
        (data / "customers.parquet").chmod(0o644)
        (data / "transactions.parquet").chmod(0o000)
        code, err = _as_another_account("validate", data, cwd=folder)
        assert code == 2 and "Traceback" not in err
        assert f"Error: Cannot read {data / 'transactions.parquet'}: permission denied. Give the account that runs " in err
        assert "valid parquet file" not in err
        store = folder / "mlruns"
        store.mkdir(mode=0o755)
        (store / "mlflow.db").write_bytes(b"")
        (store / "mlflow.db").chmod(0o000)
        code, err = _as_another_account("models", cwd=folder, env={"MLFLOW_TRACKING_URI": f"sqlite:///{store / 'mlflow.db'}"})
        assert code == 2 and "Traceback" not in err
        assert f"Error: The MLflow store {store / 'mlflow.db'} cannot be read by this account (permission denied)" in err
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def test_a_store_this_account_may_read_but_not_write_scores(trained_store) -> None:
    # A scheduler's account with read-only access to mlruns/: loading a model through
    # models:/NAME/VERSION had MLflow write registered_model_meta into the model's folder, and the
    # permission error came out as "The artifacts must travel with the store" (they were there).
    # Models now load from their folder without writing to the store; a folder the account may
    # not read is named as such, with the permission to give.
    import shutil
    import tempfile

    from churnml import tracking
    from churnml.config import Config
    from churnml.labels import build_scoring_frame

    folder = Path(tempfile.mkdtemp(prefix="churnml-read-only-store-"))  # pytest's tmp_path is root's alone (0700)
    try:
        folder.chmod(0o777)  # the scores and snapshots go here
        _as_another_account("--version", cwd=folder)  # skips where no other account can run churnml
        data = shutil.copytree(trained_store.data, folder / "data")
        store = folder / "mlruns"
        uri = f"sqlite:///{store / 'mlflow.db'}"
        # The session's trained pair, registered again in a store outside pytest's folders.
        with pytest.MonkeyPatch.context() as patch:
            patch.setenv("MLFLOW_TRACKING_URI", trained_store.tracking_uri)
            trained = tracking.load_models("champion")
            patch.chdir(folder)
            patch.setenv("MLFLOW_TRACKING_URI", uri)
            example = build_scoring_frame(trained_store.dataset, pd.Timestamp(trained_store.as_of), Config()).head(5)
            metadata = {key: value for key, value in trained.metadata.items() if key != "value_run_id"}
            with tracking.start_training_run("read-only") as run:
                churn, value = run.log_models(trained.churn, trained.value, example[trained.churn.feature_names_], metadata)
            tracking.set_alias(tracking.CHURN_MODEL_NAME, tracking.CHAMPION, churn)
            tracking.set_alias(tracking.VALUE_MODEL_NAME, tracking.CHAMPION, value)
        for path in [*data.rglob("*"), store, *store.rglob("*")]:  # root's: readable by all, writable by root alone
            path.chmod(0o755 if path.is_dir() else 0o644)

        code, err = _as_another_account("score", data, "--as-of", trained_store.as_of, "--out", folder / "scores.parquet",
                                        cwd=folder, env={"MLFLOW_TRACKING_URI": uri})
        assert code == 0, err
        assert (folder / "scores.parquet").is_file() and (folder / "scores.parquet.json").is_file()
        assert not [p for p in store.rglob("*") if p.stat().st_uid != 0]  # nothing written into the store

        for path in (store / "artifacts" / "models").iterdir():
            path.chmod(0o700)
        code, err = _as_another_account("score", data, "--as-of", trained_store.as_of, "--out", folder / "again.parquet",
                                        cwd=folder, env={"MLFLOW_TRACKING_URI": uri})
        assert code == 2 and "Traceback" not in err, err
        assert "but this account may not read its files: permission denied (" in err
        assert f"Give the account that runs churnml read permission on the store's artifacts folder ({store / 'artifacts'})" in err
        assert "must travel with the store" not in err
        assert not (folder / "again.parquet").exists()

        # A copy of that store, readable by this account, scores from the copy: the model folders
        # it records are the closed ones (a permission error where the copy was looked for).
        copy = shutil.copytree(store, folder / "copy")
        for path in [copy, *copy.rglob("*")]:
            path.chmod(0o755 if path.is_dir() else 0o644)
        code, err = _as_another_account("score", data, "--as-of", trained_store.as_of, "--out", folder / "copied.parquet",
                                        cwd=folder, env={"MLFLOW_TRACKING_URI": f"sqlite:///{copy / 'mlflow.db'}"})
        assert code == 0, err
        assert (folder / "copied.parquet").is_file()
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def test_the_process_ends_without_collecting_what_the_command_built(tmp_path: Path) -> None:
    # After `score` on 100,000 customers printed its closing lines, Python's garbage collections at
    # exit kept the process alive another 1.5-3.4 s: a job that looked done had not ended, and a
    # SIGTERM then made a complete run exit 143. The entry point freezes the collector once the
    # command is done and its output flushed; the exit code and the output stay the command's.
    # Run as the `churnml` script runs (its body, with a probe that reads the collector at exit).
    import subprocess
    import sys

    probe = ("import atexit, gc, sys\n"
             "atexit.register(lambda: print(f'frozen at exit: {gc.get_freeze_count()}', file=sys.stderr))\n"
             "from churnml.cli import main\n"
             "sys.argv[0] = 'churnml'\n"
             "sys.exit(main())\n")

    def churnml(*args: object) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-c", probe, *map(str, args)], capture_output=True, text=True, timeout=300)

    done = churnml("generate", tmp_path / "g", "--customers", "50")
    assert done.returncode == 0, done.stderr
    assert f"Next: churnml validate {tmp_path / 'g'}" in done.stdout  # the last line, flushed before the freeze
    frozen = int(re.search(r"frozen at exit: (\d+)", done.stderr).group(1))
    assert frozen > 1000, done.stderr  # the command's objects (and the libraries'), not a handful
    done = churnml("validate", tmp_path / "missing")
    assert done.returncode == 2 and "Error:" in done.stderr and "Traceback" not in done.stderr
    assert int(re.search(r"frozen at exit: (\d+)", done.stderr).group(1)) > 1000


def test_scores_and_list_tables_are_whole_in_a_log(capsys) -> None:
    # Piped to a cron job's log (80 columns), Rich shortened cells: a segment's value at risk in a
    # company with a million customers read "1,234,5…", and a list's customer id "CUSTOMER-0000…".
    # Not a terminal: every table is as wide as its cells.
    import numpy as np

    from churnml.cli.score import show_retention_summary, show_scores_summary
    from churnml.config import Config
    from churnml.segments import SEGMENTS
    from churnml.targeting import retention_list

    rows = 1_234_567
    segments = {key: {"customers": rows // len(SEGMENTS), "mean_churn_probability": 0.1234,
                      "predicted_value": 9_876_543_210.0 + n, "value_at_risk": 1_234_567_890.0 + n}
                for n, key in enumerate(SEGMENTS)}
    sidecar = {"rows": rows, "as_of": "2025-12-31", "segments": segments, "models": {"problem": {"horizon_days": 90}},
               "counts": {"lifecycle_stage": {"stable": rows}, "risk_tier": {"low": rows}}}
    show_scores_summary(sidecar, Config())
    printed = capsys.readouterr().out
    assert "…" not in printed, printed
    assert all(f"{1_234_567_890 + n:,}" in printed and f"{9_876_543_210 + n:,}" in printed for n in range(len(SEGMENTS)))

    n = 30
    rng = np.random.default_rng(0)
    p = rng.uniform(0.3, 0.9, n)
    scores = pd.DataFrame({"customer_id": [f"CUSTOMER-{i:012d}" for i in range(n)], "as_of": pd.Timestamp("2025-12-01"),
                           "segment": "high_value_at_risk", "churn_probability": p,
                           "predicted_value": (1 - p) * 123_456_789.0, "value_at_risk": p * 123_456_789.0,
                           "risk_tier": "high", "lifecycle_stage": "stable", "reasons": "complained 4 days ago"})
    result = retention_list(scores, contact_cost=5, success_rate=0.3, holdout=0.2)
    show_retention_summary(result, Config(), horizon_days=90)
    printed = capsys.readouterr().out
    assert "…" not in printed, printed
    shown = result.customers.head(10)
    for row in shown.itertuples(index=False):
        assert row.customer_id in printed and f"{row.value_at_risk:,.2f}" in printed and f"{row.expected_benefit:,.2f}" in printed
    assert f"{result.summary.value_at_risk:,.2f}" in printed and f"{result.summary.expected_net_benefit:,.2f}" in printed


def test_a_warning_in_a_log_says_when_it_came_and_a_terminal_shows_none(tmp_path: Path, run_in_terminal) -> None:
    # A cron job's log had its progress lines timestamped but not its warnings: on call the next
    # morning, nobody could tell when in a 40-minute run a warning came. In a terminal, no time.
    from datetime import datetime

    _small_scores(tmp_path)
    (tmp_path / "nobody.csv").write_text("customer_id\n")
    args = ["retention-list", "scores.parquet", "--out", "list.csv", "--exclude", "nobody.csv"]
    said = "Warning: --exclude nobody.csv lists no customer id: nobody is left out for it. Check that the export worked."

    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(tmp_path)
        start = datetime.now().replace(microsecond=0)
        logged = CliRunner().invoke(get_app(), args)
        end = datetime.now()
    assert logged.exit_code == 0, logged.output + logged.stderr
    line = next(line for line in logged.stderr.splitlines() if said in line)
    stamp = re.fullmatch(rf"(\d{{4}}-\d\d-\d\d \d\d:\d\d:\d\d) {re.escape(said)}", line)
    assert stamp, line
    assert start <= datetime.strptime(stamp[1], "%Y-%m-%d %H:%M:%S") <= end

    code, shown = run_in_terminal(args, cwd=tmp_path)
    assert code == 0, shown
    plain = re.sub(r"\x1b\[[0-9;]*[A-Za-z]", "", shown)  # the terminal's colours
    assert re.search(rf"(^|\n){re.escape(said[:40])}", plain), plain
    assert not re.search(r"\d\d:\d\d:\d\d Warning:", plain), plain


def _small_scores(folder: Path, n: int = 40) -> Path:
    """A scores file of ``n`` high-risk customers (no sidecar), enough for a retention list."""
    scores = pd.DataFrame({"customer_id": [f"C{i:04d}" for i in range(n)], "as_of": pd.Timestamp("2025-12-01"),
                           "churn_probability": [0.05 + 0.02 * i for i in range(n)], "predicted_value": 100.0,
                           "value_at_risk": [10.0 + i for i in range(n)], "risk_tier": "high", "value_tier": "high",
                           "segment": "high_value_at_risk", "lifecycle_stage": "stable", "reasons": "complained 4 days ago",
                           "churn_model_version": "1", "value_model_version": "1"})
    scores.to_parquet(folder / "scores.parquet", index=False)
    return folder / "scores.parquet"


def test_a_list_whose_summary_cannot_be_written_leaves_the_last_list_and_summary(tmp_path: Path) -> None:
    # The list was renamed into place before its .json summary was written: a summary that could not
    # be written (a full disk; here a file size limit the list fits under and the summary does not) left
    # the new list beside the last run's summary, exit 2, and `evaluate` / `report --list` read that
    # summary's models and counts as the new list's.
    import hashlib
    import subprocess
    import sys

    _small_scores(tmp_path)
    churnml = [str(Path(sys.executable).parent / "churnml"), "retention-list", "scores.parquet", "--out", "list.csv"]
    files = [tmp_path / "list.csv", tmp_path / "list.csv.json"]
    # A limit between the sizes of the three customers' list and of its summary.
    for size in ("3", "10"):
        done = subprocess.run([*churnml, "--max-customers", size], cwd=tmp_path, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr
        if size == "3":
            sizes = [path.stat().st_size for path in files]
    assert sizes[0] < sizes[1], sizes
    limit = (sizes[0] + sizes[1]) // 2
    before = [hashlib.sha256(path.read_bytes()).hexdigest() for path in files]

    failed = subprocess.run([*churnml, "--max-customers", "3"], cwd=tmp_path, capture_output=True, text=True, timeout=300,
                            preexec_fn=_under_file_size_limit(limit))
    assert failed.returncode == 2, failed.stdout + failed.stderr
    assert failed.stderr.startswith("Error: File too large (list.csv.json). The file would pass the largest size"), failed.stderr
    assert [hashlib.sha256(path.read_bytes()).hexdigest() for path in files] == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["list.csv", "list.csv.json", "scores.parquet"]  # no temporary file
    assert len(pd.read_csv(tmp_path / "list.csv")) == json.loads((tmp_path / "list.csv.json").read_text())["selected"] == 10


def _under_file_size_limit(limit: int) -> Callable[[], None]:
    """A ``preexec_fn`` giving the child a file size limit: Python ignores SIGXFSZ, so a write past it fails
    with EFBIG, as a full disk fails one with ENOSPC."""
    import resource

    return lambda: resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))


def test_features_whose_descriptions_cannot_be_written_leave_the_last_table_and_descriptions(tmp_path: Path) -> None:
    # The table was renamed into place before its .features.json was written: descriptions that could not
    # be written left the new table beside the last run's descriptions, exit 2.
    import hashlib
    import subprocess
    import sys

    from churnml.generate import generate

    generate(tmp_path / "data", 30, seed=11)
    churnml = [str(Path(sys.executable).parent / "churnml"), "features", "data", "--out", "f.csv"]
    files = [tmp_path / "f.csv", tmp_path / "f.csv.features.json"]
    first = subprocess.run([*churnml, "--as-of", "2025-06-01"], cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert first.returncode == 0, first.stderr
    before = [hashlib.sha256(path.read_bytes()).hexdigest() for path in files]
    table, described = (path.stat().st_size for path in files)
    assert table < described, (table, described)  # a limit between them fails the descriptions alone
    failed = subprocess.run([*churnml, "--as-of", "2025-12-01"], cwd=tmp_path, capture_output=True, text=True, timeout=300,
                            preexec_fn=_under_file_size_limit((table + described) // 2))
    assert failed.returncode == 2, failed.stdout + failed.stderr
    assert failed.stderr.startswith("Error: File too large (f.csv.features.json)."), failed.stderr
    assert [hashlib.sha256(path.read_bytes()).hexdigest() for path in files] == before
    assert set(pd.read_csv(tmp_path / "f.csv")["cutoff"]) == {"2025-06-01"}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data", "f.csv", "f.csv.features.json"]  # no temporary file


def test_quarantine_files_a_run_cannot_write_leave_the_last_runs_set_whole(tmp_path: Path) -> None:
    # validate wrote its quarantine files one after the other: a failure partway (a full disk; here a file size
    # limit between the customers' small file and the transactions' large one) left this run's
    # quarantine_customers.csv beside the last run's quarantine_transactions.csv, and so would a stop.
    # All are now written first, then renamed into place.
    import hashlib
    import subprocess
    import sys

    def export(bad_signups: list[str], bad_amounts: int) -> Path:
        folder = tmp_path / "data"
        folder.mkdir(exist_ok=True)
        ids = [f"c{i}" for i in range(40)]
        signups = bad_signups + ["2020-01-01"] * (len(ids) - len(bad_signups))
        pd.DataFrame({"customer_id": ids, "signup_date": signups}).to_csv(folder / "customers.csv", index=False)
        rows = 2_000
        pd.DataFrame({"transaction_id": [f"t{i}" for i in range(rows)], "customer_id": [ids[i % 40] for i in range(rows)],
                      "timestamp": [f"2021-01-{1 + i % 28:02d}" for i in range(rows)],
                      "amount": ["not a number, see note" if i < bad_amounts else "5" for i in range(rows)]}
                     ).to_csv(folder / "transactions.csv", index=False)
        return folder

    churnml = [str(Path(sys.executable).parent / "churnml"), "validate", "data", "--quarantine-dir", "q"]
    files = [tmp_path / "q" / "quarantine_customers.csv", tmp_path / "q" / "quarantine_transactions.csv"]
    export(["someday"], 3)
    first = subprocess.run(churnml, cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert first.returncode == 0, first.stderr
    before = [hashlib.sha256(path.read_bytes()).hexdigest() for path in files]
    export(["soon", "never"], 300)
    failed = subprocess.run(churnml, cwd=tmp_path, capture_output=True, text=True, timeout=300,
                            preexec_fn=_under_file_size_limit(8_000))
    assert failed.returncode == 2, failed.stdout + failed.stderr
    assert failed.stderr.startswith("Error: File too large (q/quarantine_transactions.csv)."), failed.stderr
    assert [hashlib.sha256(path.read_bytes()).hexdigest() for path in files] == before
    assert sorted(p.name for p in files[0].parent.iterdir()) == [path.name for path in files]  # no temporary file
    # Without the limit the run writes both.
    done = subprocess.run(churnml, cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert [len(pd.read_csv(path, encoding="utf-8-sig")) for path in files] == [2, 300]
    assert files[0].stat().st_size < 8_000 < files[1].stat().st_size  # the limit fails the second file alone


@pytest.mark.parametrize("engine, out", [("duckdb", "f.csv"), ("spark", "f")])
def test_features_refuse_a_folder_where_the_descriptions_go_before_any_work(tmp_path: Path, engine: str, out: str) -> None:
    # A folder at OUT.features.json failed the descriptions' rename only after the table had been renamed into
    # place: the new table without its descriptions, exit 2, after the whole run. Refused now before any work
    # (before Spark starts), as score refuses one where its sidecar goes.
    from churnml.generate import generate

    generate(tmp_path / "data", 30, seed=11)
    (tmp_path / f"{out}.features.json").mkdir()
    (tmp_path / f"{out}.features.json" / "kept.txt").write_text("a file of the user's")
    result = CliRunner().invoke(get_app(), ["features", str(tmp_path / "data"), "--as-of", "2025-06-01", "--out",
                                            str(tmp_path / out), "--engine", engine], terminal_width=100_000)
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith(f"Error: {tmp_path / out}.features.json is a folder, where churnml writes the "
                                    "features' descriptions. Remove or rename it, or choose another --out."), result.stderr
    assert "Reading and validating" not in result.stdout and "Spark" not in result.stdout, result.stdout
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data", f"{out}.features.json"]
