"""Files and formats: the only module that knows where data lives and how it is stored.

Reading: a data source is a folder of ``<table>.parquet`` / ``<table>.csv`` files, or a DuckDB
database file holding tables of those names. :func:`attach_source` exposes each raw table as a
DuckDB view ``raw_<table>`` with the user's column names untouched; validation takes it from there.

Writing: every output goes to a temporary file beside the target and is renamed into place, so a
failed or killed run never leaves a half-written file.
"""

from __future__ import annotations

import atexit
import codecs
import contextlib
import csv
import errno
import glob
import gzip
import json
import os
import re
import socket
import stat
import subprocess
import tempfile
from datetime import datetime
from dataclasses import dataclass
from functools import partial
from pathlib import Path, PurePosixPath
from typing import Any, Callable, Iterable, Iterator, Mapping, Sequence, TypeVar

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from pandas._libs.parsers import STR_NA_VALUES  # pandas' default missing-value strings

from churnml.config import Config
from churnml.errors import ConfigError, DataError, OutputBusyError, SourceBusyError
from churnml.schema import TABLES

FORMATS = ("parquet", "csv")
LIST_FORMATS = (*FORMATS, "xlsx")
"""Formats of a retention list: also an Excel workbook, which opens in columns whatever the
spreadsheet's locale (a comma CSV opened as one column where Excel's list separator is ";")."""
XLSX_MAX_ROWS = 1_048_575
"""Data rows an Excel sheet holds (1,048,576 rows, one of them the header)."""
_DUCKDB_SUFFIXES = (".duckdb", ".db", ".ddb")
CSV_NULLS = ("\\N", "NULL")
"""How Snowflake's CSV unload (by default ``\\N``, or ``NULL_IF = ('NULL')``), Hive, MySQL and SQL
Server's tools write NULL in a CSV: read as missing, as an empty field is."""


def source_kind(path: Path) -> str:
    """``"folder"`` or ``"duckdb"``; a clear error for anything else."""
    path = Path(path)
    if path.is_dir():
        return "folder"
    if path.is_file() and path.suffix.lower() in _DUCKDB_SUFFIXES:
        return "duckdb"
    if not path.exists():
        raise DataError(
            f"Data source {path} does not exist. Pass a folder of CSV/Parquet files named after the tables "
            f"(customers, transactions, …) or a DuckDB file; `churnml generate {path} --customers 1000` makes a sample."
        )
    raise DataError(
        f"Data source {path} is neither a folder nor a DuckDB file (.duckdb/.db). "
        "Pass a folder of CSV/Parquet files or a DuckDB database."
    )


TABLE_SUFFIXES: tuple[str, ...] = (".parquet", ".csv", ".csv.gz")
"""The endings of a table's file in a data folder: ``<table>.parquet``, ``.csv`` or ``.csv.gz``."""


def _find_file(folder: Path, stem: str) -> Path | None:
    """The file (or folder of Parquet parts) holding table ``stem``; an error when there are two.

    A folder of parts is ``stem/`` (as warehouse unloads and our chunked writers name it) or
    ``stem.parquet/`` (as ``df.write.parquet("stem.parquet")`` in Spark does), as the Spark path reads them."""
    found = [folder / f"{stem}{suffix}" for suffix in TABLE_SUFFIXES if (folder / f"{stem}{suffix}").is_file()]
    for part_dir in (folder / f"{stem}.parquet", folder / stem):
        if part_dir.is_dir() and any(_parquet_files(part_dir)):
            found.append(part_dir)
    if len(found) > 1:
        raise DataError(ambiguous_table(folder, [p.name for p in found], stem))
    return found[0] if found else None


def unread_files(path: str | Path, config: Config) -> list[str]:
    """The CSV and Parquet files (and folders of Parquet parts) of a data folder that no table is
    read from, as :func:`_find_file` names tables: a cancellations or tickets export the config does not
    map under ``[tables]``. None for a DuckDB file; hidden names and ``_`` ones are skipped, as parts are."""
    folder = Path(path)
    if not folder.is_dir():
        return []
    read = {config.table_name(table) for table in TABLES}
    unread = []
    for entry in sorted(folder.iterdir(), key=lambda p: p.name):
        if entry.name.startswith((".", "_")):
            continue
        stem = next((entry.name[:-len(suffix)] for suffix in TABLE_SUFFIXES if entry.name.endswith(suffix)), None)
        if entry.is_dir():
            if not any(_parquet_files(entry)):
                continue
            stem = stem or entry.name
        elif stem is None:
            continue
        if stem not in read:
            unread.append(entry.name)
    return unread


def ambiguous_table(folder: str | Path, names: Sequence[str], stem: str) -> str:
    """The error for a folder holding table ``stem`` more than once (``names``: the files and
    folders of Parquet parts that each could be it), on any engine.

    >>> ambiguous_table("data", ["customers.parquet", "customers"], "customers")[:64]
    "data holds customers.parquet and customers: which is table 'cust"
    """
    return (f"{folder} holds {' and '.join(names)}: which is table {stem!r}? "
            "Keep one (move the others out of the folder).")


def _parquet_files(folder: Path) -> Iterator[Path]:
    """The Parquet files under ``folder``, in subfolders too, sorted (:func:`is_parquet_file`)."""
    def head(file: Path, size: int) -> bytes:
        with open(file, "rb") as handle:
            return handle.read(size)

    for file in sorted(folder.rglob("*")):
        if file.is_file() and is_parquet_file(file.name, partial(head, file)):
            yield file


PARQUET_MAGIC = b"PAR1"


def is_parquet_file(name: str, head: Callable[[int], bytes]) -> bool:
    """Whether a file named ``name`` in a folder of parts is read as Parquet, by DuckDB and Spark
    alike: named ``*.parquet``, or starting with Parquet's magic bytes whatever its name (a Hive
    table's ``000000_0``, which Spark reads and DuckDB's read of the folder did not: the table was
    missing). A ``README`` or ``notes.txt`` beside the parts is not (Spark's read of the folder
    stopped on it). ``head(n)`` gives the file's first ``n`` bytes, asked only when the name does
    not tell; a file it cannot read (``OSError``) is not read either.

    >>> is_parquet_file("part-0.parquet", None), is_parquet_file("000000_0", lambda n: b"PAR1"[:n])
    (True, True)
    >>> is_parquet_file("README", lambda n: b"Customers, one folder per region."[:n])
    False
    """
    if PurePosixPath(name).suffix == ".parquet":
        return True
    try:
        return head(len(PARQUET_MAGIC)) == PARQUET_MAGIC
    except OSError:
        return False


def skipped_name(name: str) -> bool:
    """Whether a file or folder of this name inside a folder of parts is left unread, as Spark and
    Hadoop leave it: a job's leftovers (``_temporary/``, ``_SUCCESS``, ``_committed_…``) and hidden
    files (``.part-0.parquet.crc``, ``.DS_Store``). A Hive partition folder is read whatever its
    value (``_key=…`` too, as Spark reads it).

    >>> skipped_name("_temporary"), skipped_name(".hidden"), skipped_name("year=2024"), skipped_name("part-0.parquet")
    (True, True, False, False)
    """
    return name.startswith(".") or (name.startswith("_") and "=" not in name)


def parquet_parts(folder: Path, table: str) -> tuple[list[Path], str]:
    """The Parquet files under ``folder`` (a table written as parts, in subfolders too) that are
    read, sorted, and a note on those skipped (:func:`skipped_name` of any folder or file below
    ``folder``), "" when none is.

    Read with a pattern (``folder/**/*.parquet``), the parts of a killed job's ``_temporary/``
    attempt and hidden copies came in as duplicate rows, and DuckDB dropped the Hive partition
    column (``year=2024/``) of the real parts beside them.

    Raises
    ------
    DataError
        Every Parquet file under ``folder`` is skipped: there is nothing to read.
    """
    return parts_read(str(folder), table, [(file.relative_to(folder).parts, file) for file in _parquet_files(folder)])


PartT = TypeVar("PartT")


def parts_read(folder: str, table: str, files: Iterable[tuple[Sequence[str], PartT]]) -> tuple[list[PartT], str]:
    """Of the Parquet files under ``folder`` (each as its path's names below ``folder`` and what it
    is to the reader: a ``Path`` here, a Hadoop path on Spark), those read, in the order given, and a
    note on those skipped: :func:`parquet_parts`' rule, on any engine.

    >>> read, note = parts_read("t", "t", [(("part-0.parquet",), 0), (("_temporary", "0", "part-0.parquet"), 1)])
    >>> read, note[:39]
    ([0], 't: 1 Parquet file skipped (_temporary/)')

    Raises
    ------
    DataError
        Every file is skipped: there is nothing to read.
    """
    read: list[PartT] = []
    skipped: dict[str, int] = {}  # the first skipped part of each skipped file's path -> files under it
    for parts, file in files:
        first = next((i for i, name in enumerate(parts) if skipped_name(name)), None)
        if first is None:
            read.append(file)
        else:
            where = "/".join(parts[:first + 1]) + ("/" if first < len(parts) - 1 else "")
            skipped[where] = skipped.get(where, 0) + 1
    count = sum(skipped.values())
    shown = ", ".join(list(skipped)[:3]) + (" …" if len(skipped) > 3 else "")
    files = f"{count} Parquet file{'s' if count != 1 else ''}"
    why = 'paths starting with "_" or "."'
    if not read:
        raise DataError(
            f"Folder {folder} (table {table!r}) holds no Parquet part to read: its {files} "
            f"{'is' if count == 1 else 'are'} under {why} ({shown}), a job's leftovers or hidden files, which Spark and Hadoop "
            "skip too. Rerun the job that writes it, or move the parts that hold the data out of those paths.")
    if not skipped:
        return read, ""
    return read, (f"{folder}: {files} skipped ({shown}): {why} are a job's leftovers or hidden files, "
                  "which Spark and Hadoop skip too.")


def loose_parts(path: Path, stem: str) -> str:
    """A hint when the folder ``path`` holds parts of table ``stem`` as files of their own
    (``transactions-000000000000.parquet``, as a BigQuery export to ``transactions-*.parquet``
    names them), which are read only from a folder ``stem/``; "" when there are none."""
    if not Path(path).is_dir():
        return ""
    parts = sorted(p.name for p in Path(path).glob(f"{glob.escape(stem)}[-_.]*.parquet") if p.is_file())
    if not parts:
        return ""
    shown = ", ".join(parts[:3]) + (" …" if len(parts) > 3 else "")
    return (f"{shown} look{'s' if len(parts) == 1 else ''} like parts of it: move them into a folder "
            f"{Path(path) / stem}/, whose Parquet files are read as one table. ")


def _lit(text: str) -> str:
    """An SQL string literal (the one helper; ``churnml.dataset`` re-exports it for the SQL builders)."""
    return "'" + str(text).replace("'", "''") + "'"


def _q(identifier: str) -> str:
    """Quote an SQL identifier (the one helper; ``churnml.dataset`` re-exports it too)."""
    return '"' + identifier.replace('"', '""') + '"'


def attach_source(con: duckdb.DuckDBPyConnection, path: Path, config: Config,
                  headers: dict[str, list[str]] | None = None, notes: list[str] | None = None) -> dict[str, str]:
    """Create views ``raw_<table>`` in ``con`` for every contract table found in the source.

    CSV files are read with every column as text, so that validation can tell an unparseable value
    in one row from a column of the wrong type. Parquet and DuckDB tables keep their types.

    Parameters
    ----------
    con : duckdb.DuckDBPyConnection
    path : Path
        A folder or a DuckDB database file.
    config : Config
        Maps contract table names to the user's names.
    headers : dict, optional
        Filled with each file's column names as written, in order (:func:`file_header`): the
        reader renames a repeated name (a second ``amount`` becomes ``amount_1``), so only these
        show the repeat. A file of 0 bytes gets ``[]`` and no view (there is nothing to read).
    notes : list, optional
        Appended a note for each folder of parts with files left unread (:func:`parquet_parts`).

    Returns
    -------
    dict
        Contract table name -> a human description of where it was read from (for messages).
    """
    path = Path(path)
    kind = source_kind(path)
    found: dict[str, str] = {}
    if kind == "duckdb":
        try:
            con.execute(f"ATTACH {_lit(str(path))} AS src (READ_ONLY)")
        except duckdb.Error as exc:
            if "Could not set lock" in str(exc):  # a writer holds it: not a mistake to fix, a job to run again
                holder = re.search(r"Conflicting lock is held in (.+?)(?: \(PID (\d+)\))?\.(?: |$)", str(exc))
                held = f"{holder.group(1)}, PID {holder.group(2)}" if holder and holder.group(2) else "another process"
                raise SourceBusyError(f"DuckDB file {path} is open for writing in another process ({held}), which "
                                      "locks out readers. Run again once that process has closed it (exit code 75: "
                                      "retry later).") from None
            raise DataError(f"Cannot open DuckDB file {path}: {exc}. Check that it is a DuckDB database and not in use.") from None
        # Tables and views in any schema; "main" wins a name found in several. A mapped name may
        # give the schema ("crm.customers"). Names match whatever their case, as in DuckDB's SQL
        # (a Snowflake schema copied into DuckDB names its tables CUSTOMERS, TRANSACTIONS).
        existing: dict[str, tuple[str, str]] = {}  # casefolded name, bare and with its schema -> (schema, name)
        for schema, name in sorted(_attached_tables(con), key=lambda t: (t[0] == "main", t[0])):
            existing[name.casefold()] = (schema, name)
            existing[f"{schema}.{name}".casefold()] = (schema, name)
        for table in TABLES:
            name = config.table_name(table)
            if name.casefold() in existing:
                schema, bare = existing[name.casefold()]
                con.execute(f"CREATE OR REPLACE VIEW raw_{table} AS SELECT * FROM src.{_q(schema)}.{_q(bare)}")
                found[table] = f"table {schema}.{bare} in {path.name}"
        return found
    for table in TABLES:
        name = config.table_name(table)
        file = _find_file(path, name)
        if file is None:
            continue
        if file.is_file() and file.stat().st_size == 0:
            found[table] = str(file)
            if headers is not None:
                headers[table] = []
            continue
        sniffed = None
        header_file = file  # whose column names are the table's, as written
        if file.is_dir():
            # Parts in subfolders too (Hive partitions, year=2024/, become columns), and matched by
            # column name: the first part's schema alone dropped a column a later export added
            # (or stopped on one it dropped) and cast the other parts' values to its types.
            parts, note = parquet_parts(file, name)
            if note and notes is not None:
                notes.append(note)
            header_file = parts[0]
            reader = f"read_parquet([{', '.join(_lit(str(part)) for part in parts)}], union_by_name=true)"
        elif file.suffix == ".parquet":
            reader = f"read_parquet({_lit(str(file))})"
        else:
            text = utf8_text(file, config.input.encoding, config.duckdb.temp_directory)
            sniffed = _sniff(con, text)
            header_file = text
            # \N and NULL are NULL as Snowflake's CSV unload, Hive, MySQL and SQL Server's tools write
            # it: they stopped validation as unreadable numbers or dates, and were a category in customers.
            reader = f"read_csv({_lit(str(text))}, all_varchar=true, header=true{_nulls(sniffed)}{_quoting(sniffed)})"
        try:
            con.execute(f"CREATE OR REPLACE VIEW raw_{table} AS SELECT * FROM {reader}")
            con.execute(f"SELECT * FROM raw_{table} LIMIT 0")
        except duckdb.Error as exc:
            if not_utf8(exc):
                raise DataError(f"Cannot read {file}: {NOT_UTF8}") from None
            if "permission denied" in str(exc).lower():  # not a damaged file: the hint below sent users to check its format
                raise DataError(f"Cannot read {file}: permission denied. Give the account that runs churnml read access "
                                "to it (and to its folder), or run as the account that owns it.") from None
            raise DataError(f"Cannot read {file}: {reader_message(exc)} Check that it is a valid {file.suffix.lstrip('.')} "
                            "file (CSV: UTF-8 text with a header row).") from None
        found[table] = str(file)
        if headers is not None:
            csv_file = not (file.is_dir() or file.suffix == ".parquet")
            written = None if csv_file and sniffed is None else file_header(header_file, sniffed)
            if written is not None:
                headers[table] = written
    return found


def file_header(file: Path, sniffed: tuple[str, ...] | None = None) -> list[str] | None:
    """A CSV's header (``sniffed``: its separator and quote, :func:`_sniff`) or a Parquet file's column names, as
    written; None when it cannot be told (a separator of several characters, an unreadable file)."""
    try:
        if sniffed is None:
            return list(pq.read_schema(file).names)
        delimiter, quote = sniffed[:2]
        if len(delimiter) != 1:
            return None
        with _open(file, "rt", encoding="utf-8-sig", errors="replace", newline="") as handle:
            return next(csv.reader(handle, delimiter=delimiter, quotechar=quote if len(quote) == 1 else '"'), [])
    except (OSError, ValueError, csv.Error, pa.ArrowException):
        return None


NOT_UTF8 = ("it is not UTF-8 text (a Windows or Latin-1 export?). Name its encoding in the config: "
            '[input] encoding = "cp1252" (Windows, Western Europe; `file -i FILE` may name yours).')
"""The fix for a CSV that is not UTF-8, for the reader's errors at the start or later in the file."""


def not_utf8(exc: Exception) -> bool:
    """Whether DuckDB's reader error ``exc`` is about text that is not UTF-8."""
    return "unicode" in str(exc).lower() or "utf-8 encoded" in str(exc)


_CHUNK = 1 << 24


def utf8_text(file: Path, encoding: str, folder: str = "") -> Path:
    """``file`` itself when it is UTF-8 text (or no ``[input] encoding`` is set); otherwise a
    temporary UTF-8 copy decoded from ``encoding``, which DuckDB's CSV reader can read (it
    knows only UTF-8, UTF-16 and Latin-1 without an extension from the network).

    The copy lies in ``folder`` (``[duckdb] temp_directory``) under ``churnml-text``, or when it is
    empty in this account's own :func:`private_temp_dir`, is removed when the process exits, and one left by a killed
    process of this host is removed by the next copy of a file of the same name.

    Raises
    ------
    DataError
        A byte the encoding does not define, with its line.
    """
    if not encoding or codecs.lookup(encoding).name == "utf-8" or _is_utf8(file):
        return file
    fd, copy = _own_temp((Path(folder) / "churnml-text" if folder else private_temp_dir("churnml-text")) / file.name)
    atexit.register(_unlink, copy)
    decoder = codecs.getincrementaldecoder(encoding)(errors="strict")
    lines = 0
    try:
        with _open(file) as source, os.fdopen(fd, "w", encoding="utf-8", newline="") as out:
            while True:
                chunk = source.read(_CHUNK)
                try:
                    out.write(decoder.decode(chunk, final=not chunk))
                except UnicodeDecodeError as exc:
                    line = lines + exc.object.count(b"\n", 0, exc.start) + 1
                    raise DataError(
                        f"Cannot read {file} as {encoding} ([input] encoding): byte 0x{exc.object[exc.start]:02x} on line {line} "
                        f"is not {encoding} text. Name the file's real encoding (`file -i {file}` may tell it).") from None
                if not chunk:
                    return copy
                lines += chunk.count(b"\n")
    except BaseException:
        _unlink(copy)
        raise


def _is_utf8(file: Path) -> bool:
    """Whether the whole of ``file`` decodes as UTF-8 and holds no NUL byte, which UTF-8 text
    never does and UTF-16 text does (read in chunks; stops at the first error)."""
    decoder = codecs.getincrementaldecoder("utf-8")(errors="strict")
    with _open(file) as source:
        while chunk := source.read(_CHUNK):
            if b"\0" in chunk:
                return False
            try:
                decoder.decode(chunk)
            except UnicodeDecodeError:
                return False
    try:
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return False
    return True


def _open(file: Path, mode: str = "rb", **text: Any) -> Any:
    """``file`` opened for reading (bytes, or text with ``mode="rt"`` and ``text`` options),
    decompressed when it is gzipped (``.csv.gz``)."""
    return gzip.open(file, mode, **text) if file.suffix == ".gz" else open(file, mode, **text)


def _unlink(path: Path) -> None:
    with contextlib.suppress(OSError):
        path.unlink()


def _sniff(con: duckdb.DuckDBPyConnection, file: Path) -> tuple[str, str, str] | None:
    """The separator, quote and escape characters DuckDB's sniffer finds in a CSV (``""`` for
    none); None when it fails (the read itself reports what is wrong with the file)."""
    try:
        delimiter, quote, escape = con.execute(f"SELECT Delimiter, Quote, Escape FROM sniff_csv({_lit(str(file))})").fetchone()
    except duckdb.Error:
        return None
    return str(delimiter), "" if quote in ("", "(empty)", None) else str(quote), \
        "" if escape in ("", "(empty)", None) else str(escape)


def _nulls(sniffed: tuple[str, str, str] | None) -> str:
    """The ``read_csv`` option reading :data:`CSV_NULLS` as NULL, as an empty field is (``NULL``
    alone where the file escapes quotes with a backslash: DuckDB refuses an escape inside a NULL
    text); none where it could not be sniffed."""
    if sniffed is None:
        return ""
    nulls = [n for n in CSV_NULLS if not (sniffed[1] and sniffed[2] == "\\" and "\\" in n)]
    return f", nullstr=['', {', '.join(_lit(n) for n in nulls)}]"


def _quoting(sniffed: tuple[str, str] | None) -> str:
    """Extra ``read_csv`` options for quoting: RFC 4180 double quotes when DuckDB's sniffer saw no
    quote at all. It reads the first 20,480 lines only, and a file whose first quoted field
    ("$6,069.00") came later was read with quoting off and failed at that line. Quoting it did see
    (single quotes, backslash escapes) is left to it."""
    if sniffed is None:
        return ""
    return ", quote='\"', escape='\"'" if sniffed[1] == "" else ""


def _attached_tables(con: duckdb.DuckDBPyConnection) -> list[tuple[str, str]]:
    """(schema, name) of every table and view in the DuckDB file attached as ``src``."""
    return con.execute(
        "SELECT table_schema, table_name FROM information_schema.tables WHERE table_catalog = 'src'"
    ).fetchall()


def found_in(con: duckdb.DuckDBPyConnection, path: Path, limit: int = 12) -> str:
    """"Found: …" listing what a source holds (files, or a DuckDB file's tables), for not-found messages."""
    if Path(path).is_dir():
        names = sorted(p.name for p in Path(path).iterdir() if not p.name.startswith("."))
    else:
        names = [f"{schema}.{name}" if schema != "main" else name for schema, name in sorted(_attached_tables(con))]
    if not names:
        return "It is empty. "
    return f"Found: {', '.join(names[:limit])}{' …' if len(names) > limit else ''}. "


def source_files(path: str | Path, config: Config) -> list[Path]:
    """The files a data source is read from: the DuckDB file, or each table's file in the folder.

    Raises
    ------
    DataError
        ``path`` does not exist, or is neither a folder nor a DuckDB file (:func:`source_kind`):
        said before any work, as commands check their outputs with it before loading models.
    """
    path = Path(path)
    if source_kind(path) == "duckdb":
        return [path]
    return [file for table in TABLES if (file := _find_file(path, config.table_name(table))) is not None]


def check_output_file(path: str | Path, option: str = "--out", inputs: Iterable[str | Path] = (),
                      example: str | None = "out.parquet") -> Path:
    """Refuse, before any work is done, an output path that cannot take the file.

    A folder cannot (the write would fail after the whole job), nor one of the command's inputs
    (``inputs``: files it reads; see :func:`source_files`), which the write would replace.

    Raises
    ------
    ConfigError
    """
    path = Path(path)
    if path.is_dir():
        fix = f"Give a file name, e.g. {path / example}." if example else "Remove the folder, or choose another --out."
        raise ConfigError(f"{option} {path} is a folder. {fix}")
    if path.exists():
        for source in inputs:
            if Path(source).exists() and path.resolve() == Path(source).resolve():
                raise ConfigError(f"{option} {path} is an input of this command; writing it would replace your data. "
                                  "Choose another file.")
    _check_writable(path.parent, option, path)
    return path


def _check_writable(folder: Path, option: str, given: Path) -> None:
    """Refuse, before any work, a place no file can be written to: the folder, or the nearest of
    its parents that exists (the write creates the rest). A file is created there and removed,
    which also catches read-only mounts and immutable folders that permission bits do not show."""
    existing = Path(folder).absolute()
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    try:
        with tempfile.TemporaryFile(dir=existing, prefix=".churnml-write-check-"):
            pass
    except OSError as exc:
        raise ConfigError(f"{option} {given}: cannot write in {existing} ({exc.strerror or exc}). "
                          "Choose a folder you can write to, or fix its permissions.") from None


def local_path(path: str) -> Path | None:
    """``path`` (as Spark takes it) on this machine's file system: a plain path, or a ``file:`` URL
    without its scheme; None on other file systems (``s3a://…``, ``hdfs://…``), which churnml's own
    readers (`retention-list`, `report`) cannot open.

    Example
    -------
    >>> local_path("file:///data/scores"), local_path("out/scores"), local_path("s3a://bucket/scores")
    (PosixPath('/data/scores'), PosixPath('out/scores'), None)
    """
    if re.match(r"^[A-Za-z][A-Za-z0-9+.-]+:", path) and not path.startswith("file:"):
        return None
    return Path(re.sub(r"^file:(//)?", "", path))


def check_spark_source(data: str, config: Config | None = None) -> None:
    """Refuse, before Spark starts, an ``--engine spark`` DATA on this machine that Spark cannot read
    tables from: missing (a typo), a file (a DuckDB file, a CSV), or a folder holding a table as CSV
    only (:func:`_csv_only_tables`). Spark took half a minute to start before it said the customers
    table was "not found under" a folder that did not exist, or that held it as ``customers.csv``
    ("Spark reads Parquet only"), where the DuckDB path says at once what is wrong. An empty folder,
    or one holding no table file, is left to Spark's read, which names what it expected. Other file
    systems (``s3a://…``) are left to Spark.

    Raises
    ------
    DataError
    """
    local = local_path(data)
    if local is None:
        return
    if local.is_dir():
        csv_files = _csv_only_tables(local, config or Config())
        if csv_files:
            raise DataError(_csv_for_spark(data, local, csv_files))
        return
    if not local.exists():
        raise DataError(
            f"Data source {data} does not exist. Pass a folder of Parquet files named after the tables "
            f"(customers, transactions, …); `churnml generate {data} --customers 1000` makes a sample.")
    raise DataError(f"Data source {data} is a file; --engine spark reads a folder of Parquet files named after the "
                    "tables (customers.parquet, transactions.parquet, …). Pass that folder, or use --engine duckdb for a "
                    "DuckDB file or CSV files.")


def _csv_only_tables(folder: Path, config: Config) -> list[Path]:
    """The CSV files (``<name>.csv``, ``<name>.csv.gz``) of ``folder`` holding a table, by its name
    in ``config``, that is there in no form Spark reads: neither ``<name>.parquet`` nor ``<name>``
    (a file, or a folder of parts), the two paths ``churnml.spark.read_tables`` looks at. Spark would
    stop on a required table ("not found") and run without an optional one (no ``churn_events``:
    churn by inactivity), where ``--engine duckdb`` reads the CSV."""
    found = []
    for table in TABLES:
        name = config.table_name(table)
        if (folder / f"{name}.parquet").exists() or (folder / name).exists():
            continue
        found += [file for suffix in (".csv", ".csv.gz") if (file := folder / f"{name}{suffix}").is_file()][:1]
    return found


def _csv_for_spark(data: str, folder: Path, files: Sequence[Path]) -> str:
    """The error for CSV tables given to ``--engine spark``: which files, and a command writing each
    as Parquet beside it with DuckDB (installed with churnml), every column as text, as churnml reads
    a CSV (ids such as 007 keep their zeros; Spark types them by validation's rules)."""
    import shlex

    def literal(name: str) -> str:  # a Python string literal in double quotes, inside the shell's single quotes
        return json.dumps(name, ensure_ascii=False)

    writes = "; ".join(f"duckdb.read_csv({literal(file.name)}, all_varchar=True).write_parquet("
                       f"{literal(file.name.removesuffix('.gz').removesuffix('.csv') + '.parquet')})" for file in files)
    command = f"cd {shlex.quote(str(folder))} && python -c {shlex.quote(f'import duckdb; {writes}')}"
    them = "it" if len(files) == 1 else "them"
    return (f"Data source {data} holds {', '.join(file.name for file in files)}: --engine spark reads Parquet only, not "
            f"CSV. Write {them} as Parquet beside {them}, e.g. with DuckDB (installed with churnml): {command}; then move "
            f"the CSV file{'' if len(files) == 1 else 's'} out of the folder (--engine duckdb refuses a table found twice). "
            "Or use --engine duckdb, which reads CSV.")


def check_spark_output(out: str, data: str, config: Config, option: str = "--out") -> None:
    """Refuse, before Spark starts, an ``--engine spark`` output it must not write.

    Spark writes a Parquet folder in place of whatever ``out`` names, so ``out`` must not be DATA,
    a folder holding DATA, or one of DATA's tables (each would be deleted), nor an existing file,
    nor named like another format. Paths on other file systems (``s3a://…``) are not checked.

    Raises
    ------
    ConfigError
    """
    local = local_path(out)
    if local is None:
        return
    target = local.resolve()
    source = local_path(data)  # DATA on another file system cannot be where a local out writes
    source = source.resolve() if source is not None else None
    tables = [] if source is None else [source / f"{config.table_name(t)}{suffix}" for t in TABLES
                                        for suffix in ("", *TABLE_SUFFIXES)]
    if source is not None and (target == source or target in source.parents or target in tables):
        what = "DATA" if target == source else "a folder holding DATA" if target in source.parents else "a table of DATA"
        raise ConfigError(f"{option} {out} is {what}; Spark would replace it with its output and your data would be lost. "
                          "Choose another path.")
    if target.is_file():
        raise ConfigError(f"{option} {out} is a file; --engine spark writes a folder of Parquet parts. "
                          "Choose another path, or remove the file.")
    if target.suffix and target.suffix.lower() != ".parquet":
        raise ConfigError(f"{option} {out}: --engine spark writes Parquet (a folder of parts), not {target.suffix}. "
                          "Name it without a suffix or with .parquet.")


def refuse_folder(path: str | Path, what: str, option: str) -> Path:
    """Refuse a folder where the file ``what`` is to be renamed into place, naming ``option`` to
    change instead. The rename would fail only at the end of the work, and `churnml score` renames
    several files: checked before any work, and again before the first of them is published.

    Raises
    ------
    ConfigError
    """
    path = Path(path)
    if path.is_dir():
        raise ConfigError(f"{path} is a folder, where churnml writes {what}. Remove or rename it, or choose another "
                          f"{option}.")
    return path


def check_output_folder(path: str | Path, option: str) -> Path:
    """Refuse an output folder that exists as a file (``--snapshots``, ``--quarantine-dir``)."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise ConfigError(f"{option} {path} is a file, not a folder. Give a folder (it is created when missing).")
    _check_writable(path, option, path)
    return path


def reader_message(exc: Exception) -> str:
    """The useful head of a DuckDB reader error: its first lines, without the SQL text and the
    reader options it suggests (the user cannot pass those)."""
    lines = []
    for line in str(exc).splitlines():
        if not line.strip() or line.startswith(("Possible", "  *", "LINE ", "DuckDB", "Parser options", "file =")):
            break
        lines.append(line.strip())
    text = " ".join(lines[:4]) or str(exc).strip().splitlines()[0]
    return text if text.endswith(".") else text + "."


HOST = re.sub(r"[^\w.-]", "_", socket.gethostname()) or "host"
"""This machine's name, safe in a file name: marks temporary files and training runs as its own."""


def code_version() -> dict[str, Any]:
    """The code that runs: churnml's version and, when it runs from a git checkout, the commit and
    whether the package's files differ from it (``git_dirty``), read now (not once per process: a
    second train in the same process after an edit recorded the first one's state).

    Recorded with every training run (MLflow tags, ``metadata.json``: read once as the run begins,
    with the digest, see :func:`code_state`) and scores file (the sidecar), so a model or a score
    leads back to the code that made it: runs recorded the data's fingerprint and the seed but not
    the code, and the same data and seed give other models after a change to the features or the
    tuning. An installed wheel has no git: its version alone.
    """
    from churnml import __version__

    return {"churnml": __version__, **git_state(Path(__file__).resolve().parent)}


@dataclass(frozen=True)
class CodeState:
    """The code as a training run found it when it began (:func:`code_state`): what it is called
    (``version``, :func:`code_version`) and what it is (``digest``, :func:`code_digest`)."""

    version: dict[str, Any]
    digest: str


def code_state() -> CodeState:
    """Read the code once, as a run begins: the run's tags and ``metadata.json`` record
    ``version`` and its inputs digest holds ``digest``. Read again at the end, an edit made while
    the run ran (a deploy, a checkout) was recorded as the code of models it did not make."""
    return CodeState(code_version(), code_digest())


def code_digest(package: Path | None = None) -> str:
    """sha256 of churnml's own source files (``*.py`` under the package, by relative path): what
    the code *is*, where :func:`code_version` says what it is called. A checkout with changes
    (``git_dirty``) keeps its commit, and an installed wheel its version, while the code differs."""
    import hashlib

    package = Path(package) if package is not None else Path(__file__).resolve().parent
    digest = hashlib.sha256()
    for path in sorted(package.rglob("*.py")):
        digest.update(path.relative_to(package).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def git_state(package: Path) -> dict[str, Any]:
    """``git_commit`` and ``git_dirty`` (tracked files under ``package`` changed since it) when
    git tracks ``package``'s ``__init__.py``; else nothing (no git, or not a checkout of it: a
    wheel installed in a ``.venv`` inside another repository would report that one's commit)."""

    def git(*args: str) -> str | None:
        try:
            done = subprocess.run(["git", *args], cwd=package, capture_output=True, text=True, timeout=10)
        except (OSError, subprocess.SubprocessError):
            return None
        return done.stdout.strip() if done.returncode == 0 else None

    if git("ls-files", "--error-unmatch", "--", "__init__.py") is None:
        return {}
    commit = git("rev-parse", "HEAD")
    if not commit:
        return {}
    changes = git("status", "--porcelain", "--untracked-files=no", "--", ".")
    return {"git_commit": commit, "git_dirty": None if changes is None else bool(changes)}


def _remove_stale_temps(path: Path) -> None:
    """Delete the temporary files of ``path`` that a process of this host left when it was killed
    (``kill -9``, out of memory, a reboot): they are named after the host and the process, and
    one whose process is gone is never renamed into place. Four killed scores left six of them,
    as large as the output, that nothing removed. Other hosts' files (a shared disk) and running
    processes' files are left alone."""
    own = re.compile(rf"^\.{re.escape(path.name)}\.{re.escape(HOST)}-(\d+)\..+\.tmp$")
    with contextlib.suppress(OSError):
        for sibling in path.parent.iterdir():
            found = own.match(sibling.name)
            if found and not process_running(int(found.group(1))):
                with contextlib.suppress(OSError):
                    sibling.unlink()


def private_temp_dir(name: str) -> Path:
    """``name-<uid>`` in the system's temporary folder, made for this account alone (mode 0700).

    DuckDB's spill files and the decoded copies of CSVs hold customer data. Under a fixed shared
    name (``/tmp/churnml-duckdb``), another account on the machine could make the folder first
    and then read the spill files (DuckDB writes them readable by all) or swap a copy before
    DuckDB reads it.

    Raises
    ------
    ConfigError
        The folder exists but is a link, belongs to another account or others may write to it.
    """
    path = Path(tempfile.gettempdir()) / f"{name}-{os.getuid()}"
    path.mkdir(mode=0o700, exist_ok=True)
    info = os.lstat(path)
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid() or info.st_mode & 0o077:
        raise ConfigError(
            f"The temporary folder {path} is not this account's alone (a link, another owner, or open to others), and "
            "churnml keeps customer data there while it works. Remove it (churnml makes it anew), or set [duckdb] "
            "temp_directory to a folder of your own.")
    return path


def _own_temp(path: Path) -> tuple[int, Path]:
    """A new temporary file beside ``path`` (its folder made if need be), named after this host and
    process so that :func:`_remove_stale_temps` can tell a killed writer's from a running one's;
    those of killed writers of ``path`` go first. Returns the open descriptor and the path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale_temps(path)
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.{HOST}-{os.getpid()}.", suffix=".tmp", dir=path.parent)
    return fd, Path(name)


def process_running(pid: int) -> bool:
    """Whether process ``pid`` of this host still runs."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


_locks_held: dict[Path, int] = {}


@contextlib.contextmanager
def file_lock(path: str | Path, on_wait: Callable[[], None] | None = None, remove: bool = False) -> Iterator[None]:
    """An exclusive lock on the file ``path`` between processes (POSIX ``flock``), re-entrant
    within one; none where the file cannot be made (a read-only store is read, never created or
    upgraded). The kernel releases it when the process ends, however it ends: a ``kill -9`` leaves
    no lock behind, at most the file.

    ``on_wait`` is called once when another process holds it, before waiting for it; an exception
    it raises is raised here instead of waiting (:func:`output_lock`: the second run stops at once).

    ``remove``: delete the file on release, for locks named after something that ends (a study,
    a run writing an output). The holder deletes it while it still holds it, and whoever then gets
    the lock checks that the file it locked is still the one of that name, else opens and locks it
    anew: a process that had waited on the deleted file would otherwise hold a lock on a file
    nobody else can open, while a newcomer made and locked a new one, and both went on at once."""
    import fcntl

    key = Path(path).resolve()
    if _locks_held.get(key):
        _locks_held[key] += 1
        try:
            yield
        finally:
            _locks_held[key] -= 1
        return
    while True:
        try:
            handle = open(key, "a")
        except OSError:
            yield
            return
        try:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                if on_wait is not None:
                    on_wait()
                    on_wait = None
                fcntl.flock(handle, fcntl.LOCK_EX)
        except BaseException:  # on_wait gave up, or Ctrl-C while waiting: the file is not held
            handle.close()
            raise
        if not remove or _same_file(handle, key):
            break
        handle.close()  # the holder before us removed it: lock the file now under that name
    with handle:
        _locks_held[key] = 1
        try:
            yield
        finally:
            _locks_held[key] = 0
            if remove:
                with contextlib.suppress(OSError):
                    key.unlink()
            fcntl.flock(handle, fcntl.LOCK_UN)


def _same_file(handle: Any, path: Path) -> bool:
    """Whether the open ``handle`` is the file ``path`` names now (not one removed since it was opened)."""
    try:
        named = os.stat(path)
    except OSError:
        return False
    opened = os.fstat(handle.fileno())
    return (named.st_dev, named.st_ino) == (opened.st_dev, opened.st_ino)


def lock_path(path: str | Path) -> Path:
    """The lock file of an output, hidden beside it: ``.scores.parquet.lock`` (:func:`output_lock`)."""
    path = Path(path)
    return path.with_name(f".{path.name}.lock")


@contextlib.contextmanager
def output_lock(path: str | Path, command: str, option: str = "--out") -> Iterator[None]:
    """Held while ``command`` writes ``path``: a second run writing the same output meanwhile (a
    scheduler's retry overlapping a slow run) raises :class:`OutputBusyError` (exit code 75, retry
    later) before any work, rather than run alongside it and replace its files, or leave a scores
    file beside the other run's sidecar. The lock is :func:`lock_path`'s file, removed on
    release; after a ``kill -9`` it stays, unlocked, and the next run takes it.

    The folders it makes for the lock go again on release if still empty: a run that failed
    before writing (no registered model, bad data, Ctrl-C) left an empty --out folder behind,
    which a scheduler's check for the day's output took for a run that had published."""
    path = Path(path)
    lock = lock_path(path)
    made = missing_folders(lock.parent)
    lock.parent.mkdir(parents=True, exist_ok=True)

    def busy() -> None:
        try:
            holder = lock.read_text(encoding="utf-8").split()
        except OSError:
            holder = []
        who = f" (PID {holder[1]} on {holder[0]}, started {holder[2]} {holder[3]})" if len(holder) == 4 else ""
        raise OutputBusyError(f"Another `{command}`{who} is writing {option} {path} now (it holds {lock}): this run "
                              "stopped before any work, so as not to replace its files. Run it again once that one has "
                              "finished (exit code 75: retry later).")

    try:
        with file_lock(lock, on_wait=busy, remove=True):
            with contextlib.suppress(OSError):  # who holds it, for the message of a run that finds it held
                lock.write_text(f"{HOST} {os.getpid()} {datetime.now():%Y-%m-%d %H:%M:%S}\n", encoding="utf-8")
            yield
    finally:
        remove_if_empty(made)


def missing_folders(folder: Path) -> list[Path]:
    """``folder`` and those above it that do not exist yet, deepest first: what writing there makes."""
    return [each for each in (folder, *folder.parents) if not each.exists()]


def remove_if_empty(folders: Iterable[Path]) -> None:
    """Remove ``folders`` (:func:`missing_folders`, deepest first) while they are empty: a run that
    made them and then failed, or was stopped, before writing there leaves no empty folder behind
    (a scheduler's check for the day's output folder took one for output). ``rmdir`` removes only
    an empty folder: one another process wrote into meanwhile stays."""
    for folder in folders:
        try:
            folder.rmdir()
        except OSError:
            return


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it into place only if the block succeeds.
    The folders made for it go again when it is not (:func:`remove_if_empty`)."""
    path = Path(path)
    made = missing_folders(path.parent)
    fd, tmp = _own_temp(path)
    os.close(fd)
    # mkstemp creates 0600; outputs are ordinary files, so follow the umask like open() would, or
    # keep the mode of the file replaced: a list of customers someone made readable to its owner
    # only (chmod 600) stayed so when written again, as it does when open() overwrites it.
    try:
        mode = stat.S_IMODE(path.stat().st_mode) if path.is_file() else None
    except OSError:
        mode = None
    if mode is None:
        umask = os.umask(0)
        os.umask(umask)
        mode = 0o666 & ~umask
    os.chmod(tmp, mode)
    try:
        yield tmp
        os.replace(tmp, path)
    except OSError as exc:
        # Name the user's file, not ours, and name it where the error names none: a full disk
        # failed a write with "No space left on device" and no path, so a job's log did not say
        # which output (the scores, their sidecar, the snapshot) was not written.
        if exc.errno is not None and (not exc.filename or Path(exc.filename) == tmp):
            raise OSError(exc.errno, exc.strerror, str(path)) from None
        raise
    finally:
        if tmp.exists():
            tmp.unlink()
        remove_if_empty(made)


def check_format(fmt: str, formats: Sequence[str] = FORMATS) -> str:
    fmt = fmt.lower()
    if fmt not in formats:
        raise ConfigError(f"Unknown format {fmt!r}. Use one of: {', '.join(formats)}.")
    return fmt


def format_for(path: Path, fmt: str | None, default: str = "parquet", formats: Sequence[str] = FORMATS) -> str:
    """The format to write: explicit ``fmt``, else from the file suffix (.csv/.parquet), else ``default``.

    ``formats``: what this output may be (:data:`LIST_FORMATS` for a retention list).

    Raises
    ------
    ConfigError
        When the suffix names another format than ``fmt`` (Parquet in a .csv file), or a format
        churnml does not write here (.xlsx would get CSV inside).
    """
    suffix = Path(path).suffix.lower()
    fmt = check_format(fmt, formats) if fmt else fmt  # a wrong --format is the mistake to name first
    if suffix and suffix.lstrip(".") not in formats:
        names = [{"parquet": "Parquet", "csv": "CSV", "xlsx": "Excel (.xlsx)"}[f] for f in formats]
        raise ConfigError(f"{path}: churnml writes {', '.join(names[:-1])} or {names[-1]} here, not {suffix}. Name the "
                          f"file {', '.join('.' + f for f in formats[:-1])} or .{formats[-1]}.")
    if fmt:
        if suffix and suffix.lstrip(".") != fmt:
            raise ConfigError(f"{path} ends in {suffix} but the format is {fmt}. Name the file .{fmt}, or drop --format.")
        return fmt
    return suffix.lstrip(".") or check_format(default, formats)


def write_table(frame: pd.DataFrame, path: str | Path, fmt: str | None = None, spreadsheet: bool = False,
                sheets: Mapping[str, pd.DataFrame] | None = None, sheet_name: str = "churnml",
                decimals: Mapping[str, int] | None = None) -> Path:
    """Write a DataFrame as Parquet, CSV or an Excel workbook (``xlsx``, for lists), atomically.

    Parameters
    ----------
    frame : pandas.DataFrame
    path : str or Path
    fmt : {"parquet", "csv", "xlsx"} or None
        None infers it from the suffix (``.csv`` → CSV, ``.xlsx`` → Excel, else Parquet).
    spreadsheet : bool
        A CSV for people (a retention list, a quarantine file): UTF-8 with a byte-order mark, without
        which Excel reads UTF-8 as the Windows code page ("RÃ¼ckruf" for "Rückruf", "â‚¬" for "€"),
        and lines ending in CRLF. Every CSV, for people or not, has the text that a spreadsheet would
        run as a formula made text (:func:`defuse_formulas`): a customer id or attribute
        "=HYPERLINK(...)" in the data ran in the Excel of whoever opened the file; :func:`read_table`
        undoes it. Parquet and Excel workbooks keep text as it is (a workbook's text cells are text).
    sheets : mapping, optional
        Further sheets of an Excel workbook, after ``frame``'s (a list's summary and its breakdown
        by segment); readers of a workbook read its first sheet only. Ignored by other formats.
    sheet_name : str
        The name of ``frame``'s sheet in an Excel workbook (the tab a spreadsheet shows).
    decimals : mapping, optional
        Column -> number of decimals a CSV writes it with, every value alike (:func:`fixed_decimals`);
        an Excel workbook's number formats do this (:func:`_format_sheet`), Parquet keeps numbers.

    Returns
    -------
    Path
        The written path.
    """
    return write_tables({path: frame}, fmt, spreadsheet, sheets, sheet_name, decimals)[0]


def write_tables(frames: Mapping[str | Path, pd.DataFrame], fmt: str | None = None, spreadsheet: bool = False,
                 sheets: Mapping[str, pd.DataFrame] | None = None, sheet_name: str = "churnml",
                 decimals: Mapping[str, int] | None = None) -> list[Path]:
    """Write several files as a set (:func:`write_table` each, with the same options): every one to
    its temporary file first, then all renamed into place, so a run that fails or is stopped while
    writing (a full disk, Ctrl-C) leaves all of them as they were. `churnml validate` wrote its
    quarantine files one after the other: a stop partway left some tables' files of this run beside
    others of the last. A folder at any of the paths is refused before anything is written.

    Returns
    -------
    list of Path
        The written paths, in the order given.
    """
    paths = [Path(path) for path in frames]
    for path in paths:
        if path.is_dir():
            raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), str(path))
    with contextlib.ExitStack() as stack:  # each atomic_path renames its file as the stack closes, after every write
        for path, frame in zip(paths, frames.values()):
            _write_one(frame, path, stack.enter_context(atomic_path(path)), fmt, spreadsheet, sheets, sheet_name, decimals)
    return paths


def _write_one(frame: pd.DataFrame, path: Path, tmp: Path, fmt: str | None, spreadsheet: bool,
               sheets: Mapping[str, pd.DataFrame] | None, sheet_name: str, decimals: Mapping[str, int] | None) -> None:
    """:func:`write_table`'s writing of ``frame`` for ``path``, into its temporary file ``tmp``."""
    fmt = format_for(path, fmt, formats=LIST_FORMATS)
    if fmt == "xlsx" and len(frame) > XLSX_MAX_ROWS:
        raise ConfigError(f"{path}: {len(frame):,} rows do not fit in an Excel sheet ({XLSX_MAX_ROWS:,} at most). "
                          "Write .csv or .parquet, or shorten the list (--budget, --max-customers).")
    if fmt == "csv":
        frame = fixed_decimals(defuse_formulas(frame), decimals or {})
    if fmt == "csv":
        # For a spreadsheet, lines end in CRLF, as Excel writes them (RFC 4180): a value holding a
        # lone carriage return is then quoted, where it used to break the row in two.
        frame.to_csv(tmp, index=False, encoding="utf-8-sig" if spreadsheet else "utf-8",
                     lineterminator="\r\n" if spreadsheet else None)
    elif fmt == "xlsx":
        with pd.ExcelWriter(tmp, engine="openpyxl") as book:
            frame.to_excel(book, index=False, sheet_name=sheet_name)
            _format_sheet(book.sheets[sheet_name], frame)
            for name, extra in (sheets or {}).items():
                extra.to_excel(book, index=False, sheet_name=name)
                _format_sheet(book.sheets[name], extra)
    else:
        frame.to_parquet(tmp, index=False)


def fixed_decimals(frame: pd.DataFrame, decimals: Mapping[str, int]) -> pd.DataFrame:
    """``frame`` with each numeric column of ``decimals`` (column -> digits) as text with exactly that
    many decimals, for a CSV: pandas wrote a list's money as 5.0, 394.0 and 113.2 beside 195.81,
    which a spreadsheet shows as written. A missing value stays an empty cell; a reader parses the
    text back to the number it was, when the column was rounded to those decimals.

    >>> fixed_decimals(pd.DataFrame({"cost": [5.0, 113.2, np.nan, -0.5], "n": [1, 2, 3, 4]}), {"cost": 2, "n": 0, "x": 2})
         cost  n
    0    5.00  1
    1  113.20  2
    2          3
    3   -0.50  4
    """
    columns = {column: digits for column, digits in decimals.items()
               if column in frame.columns and pd.api.types.is_float_dtype(frame[column])}
    if not columns:
        return frame
    return frame.assign(**{column: frame[column].map(f"{{:.{digits}f}}".format, na_action="ignore").fillna("")
                           for column, digits in columns.items()})


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
"""First characters that make a spreadsheet read a CSV cell as a formula (OWASP, "CSV injection")."""
_NEGATIVE_NUMBER = re.compile(r"-[0-9][0-9.,]*")


def _formula_like(text: str) -> bool:
    """Whether a spreadsheet opening a CSV would read ``text`` as a formula: it starts with one of
    :data:`FORMULA_STARTS` (after any apostrophes :func:`defuse_formula` added), and it is neither a
    negative number ("-42", "-1.234,50": a number either way) nor a lone "-" (a placeholder)."""
    text = text.lstrip("'")
    return len(text) > 1 and text.startswith(FORMULA_STARTS) and not _NEGATIVE_NUMBER.fullmatch(text)


def defuse_formula(value: Any) -> Any:
    """``value`` as a CSV cell for spreadsheets: text a spreadsheet would run as a formula gets a
    leading apostrophe, which makes it text ("'=HYPERLINK(...)"). Other values are returned as they are.

    So does each part of the text after a ";": a spreadsheet whose list separator is ";" (Excel
    or LibreOffice in Germany or France) splits a comma CSV at every ";", quoted or not, so the
    part after one starts a cell too (LibreOffice ran the "=1+1" of a cell "a;=1+1").
    Text that starts with apostrophes before such a character ("'=1+1") gets one more too, so that
    :func:`restore_formula` takes exactly one off and every text reads back as it was; text with an
    apostrophe before anything else ("'quoted", "'") is neither defused nor restored.

    >>> [defuse_formula(v) for v in ["=1+1", "@SUM(A1)", "-2+3", "'=1+1", "'quoted", "-42", "-", "C1", -3.5]]
    ["'=1+1", "'@SUM(A1)", "'-2+3", "''=1+1", "'quoted", '-42', '-', 'C1', -3.5]
    >>> defuse_formula("plan: x;=1+1; 2 complaints;-5")
    "plan: x;'=1+1; 2 complaints;-5"
    """
    if not isinstance(value, str):
        return value
    return ";".join("'" + part if _formula_like(part) else part for part in value.split(";"))


def restore_formula(value: Any) -> Any:
    """The inverse of :func:`defuse_formula`, for churnml reading its own CSVs back (scores for
    ``retention-list``, ``evaluate`` and ``report``, a list for ``evaluate`` and ``report --list``,
    last month's list as ``--exclude``): one apostrophe off the text, and off each part after a
    ";", that :func:`defuse_formula` would have defused without it; nothing else.

    >>> [restore_formula(defuse_formula(v)) for v in ["=1+1", "'=1+1", "'quoted", "-42", "a;'=1;@x"]]
    ['=1+1', "'=1+1", "'quoted", '-42', "a;'=1;@x"]
    """
    if not isinstance(value, str):
        return value
    return ";".join(part[1:] if part.startswith("'") and _formula_like(part[1:]) else part for part in value.split(";"))


_FORMULA_CANDIDATES = r"(?:^|;)'*[=+\-@\t\r]"
"""Text :func:`defuse_formula` may change: a formula's first character at the start or after a ";"."""


def defuse_formulas(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with :func:`defuse_formula` applied to its text columns (numbers stay numbers) and
    column names (the header of a quarantine file holds the data's own), as every CSV churnml
    writes gets it (:func:`write_table`, :class:`TableWriter`)."""
    return _map_names(_map_text(frame, defuse_formula, _FORMULA_CANDIDATES), defuse_formula)


def restore_formulas(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with :func:`restore_formula` applied to its text columns and column names: a CSV
    churnml wrote, as it was before :func:`defuse_formulas`."""
    return _map_names(_map_text(frame, restore_formula, _FORMULA_CANDIDATES.replace("'*", "'+")), restore_formula)


def _map_names(frame: pd.DataFrame, function: Callable[[Any], Any]) -> pd.DataFrame:
    """``frame`` with ``function`` applied to its column names (``frame`` itself when none changes)."""
    names = [function(name) for name in frame.columns]
    return frame if names == list(frame.columns) else frame.set_axis(names, axis=1)


def _map_text(frame: pd.DataFrame, function: Callable[[Any], Any], candidates: str) -> pd.DataFrame:
    """``function`` applied to the values of ``frame``'s text columns that match ``candidates`` (a
    regular expression found anywhere in them): the rest, nearly every value, is not looked at one
    by one. The match runs in Arrow (0.1 s for a million ids held as Python strings, against
    0.7 s for pandas' ``str.match``); a categorical column is mapped through its categories
    (``function`` is one-to-one, so they stay distinct)."""
    out = frame
    for column in frame.columns:
        values = frame[column]
        if isinstance(values.dtype, pd.CategoricalDtype):
            categories = values.cat.categories
            if len(categories) and _text_matches(pd.Series(categories), candidates).any():
                out = out.copy() if out is frame else out
                out[column] = values.cat.rename_categories([function(c) for c in categories])
            continue
        if not (pd.api.types.is_object_dtype(values) or pd.api.types.is_string_dtype(values)):
            continue
        hits = _text_matches(values, candidates)
        if hits.any():
            out = out.copy() if out is frame else out
            out[column] = values.where(~hits, values[hits].map(function))
    return out


def _text_matches(values: pd.Series, pattern: str) -> np.ndarray:
    """Which of ``values`` are text matching ``pattern`` (False for missing values and non-text)."""
    try:
        text = pa.array(values, from_pandas=True)
    except (pa.ArrowException, TypeError, ValueError):  # an object column mixing text with other values
        matched = values.map(lambda v: isinstance(v, str) and re.search(pattern, v) is not None)
        return matched.to_numpy(dtype=bool)
    if not (pa.types.is_string(text.type) or pa.types.is_large_string(text.type) or pa.types.is_string_view(text.type)):
        return np.zeros(len(values), dtype=bool)  # no text at all (an object column of numbers, say)
    return pc.fill_null(pc.match_substring_regex(text, pattern), False).to_numpy(zero_copy_only=False)


_EXCEL_CHANGES = re.compile(r"0[0-9]+|[0-9]{16,}|[0-9]+(\.[0-9]*)?[eE][+-]?[0-9]+")


def excel_changed_ids(ids: pd.Series) -> list[str]:
    """The ids Excel changes when it opens a CSV, as it reads them as numbers: a leading zero dropped
    ("002475" → 2475), digits beyond the 15th set to zero ("1234567890123456789"), "1E5" read as
    100000. A workbook keeps them as text; a CSV cannot say "text" to Excel without a formula.

    >>> excel_changed_ids(pd.Series(["002475", "2475", "C0001", "1234567890123456789", "1E5", "0"]))
    ['002475', '1234567890123456789', '1E5']
    """
    text = ids.astype(str).str.strip()
    return text[text.str.fullmatch(_EXCEL_CHANGES)].tolist()


_MONEY = ("value_if_retained", "predicted_value", "value_at_risk", "contact_cost", "expected_benefit", "current_value")


def _format_sheet(sheet: Any, frame: pd.DataFrame) -> None:
    """Make a written sheet readable as opened: the header frozen and filterable, columns as wide
    as their contents (up to 60 characters), dates as dates (pandas wrote "2026-01-01 00:00:00"),
    money with two decimals and thousands, probabilities as percentages."""
    sheet.freeze_panes = "A2"
    sheet.auto_filter.ref = sheet.dimensions
    for i, column in enumerate(frame.columns, start=1):
        letter = sheet.cell(row=1, column=i).column_letter
        values = frame[column].head(500)
        if pd.api.types.is_datetime64_any_dtype(values):
            fmt, width = "yyyy-mm-dd", 10
        else:
            fmt = "#,##0.00" if column in _MONEY else "0.00%" if column == "churn_probability" else None
            width = int(values.astype(str).str.len().max()) if len(values) else 0
        sheet.column_dimensions[letter].width = min(max(width, len(str(column))) + 2, 60)
        if fmt:
            for (cell,) in sheet.iter_rows(min_row=2, min_col=i, max_col=i):
                cell.number_format = fmt
        else:
            # openpyxl stores text starting with "=" as a formula: a customer id or reason
            # "=HYPERLINK(...)" would run in the marketer's Excel. Text stays text.
            for (cell,) in sheet.iter_rows(min_row=2, min_col=i, max_col=i):
                if cell.data_type == "f":
                    cell.data_type = "s"


class TableWriter:
    """Append DataFrame chunks to one Parquet or CSV file; the file appears only on ``close``.

    Use as a context manager; an exception inside the block discards everything written.
    A CSV's text that a spreadsheet would run as a formula is made text (:func:`defuse_formulas`),
    as in every CSV :func:`write_table` writes, unless ``defuse`` is False: the input tables
    :func:`churnml.generate.generate` writes, which validation reads as data, not as churnml's output.
    """

    def __init__(self, path: str | Path, fmt: str | None = None, digest: bool = False,
                 before_publish: Callable[["TableWriter"], None] | None = None, defuse: bool = True,
                 decimals: Mapping[str, int] | None = None) -> None:
        self.path = Path(path)
        self.defuse = defuse
        self.decimals = dict(decimals or {})
        """A CSV's columns written with a fixed number of decimals (:func:`fixed_decimals`)."""
        self.before_publish = before_publish
        """Called once the file is complete (and its digest known), before it is renamed into place:
        an exception there discards it, as one inside the block does. ``write_scores`` writes the
        sidecar's temporary file here, so a sidecar that cannot be written (a full disk) leaves no
        new scores file either."""
        self.fmt = format_for(self.path, fmt)
        self._ctx = atomic_path(self.path)
        self._tmp: Path | None = None
        self._parquet: pq.ParquetWriter | None = None
        self._schema: pa.Schema | None = None
        self._digest = digest
        self.rows = 0
        self.sha256: str | None = None
        """With ``digest``: :func:`file_sha256` of the file written, known once it is closed."""

    def __enter__(self) -> "TableWriter":
        self._tmp = self._ctx.__enter__()
        return self

    def write(self, frame: pd.DataFrame) -> None:
        assert self._tmp is not None, "use TableWriter as a context manager"
        if self.fmt == "csv":
            fixed_decimals(defuse_formulas(frame) if self.defuse else frame, self.decimals).to_csv(
                self._tmp, index=False, mode="a", header=self.rows == 0)
        else:
            table = pa.Table.from_pandas(frame, preserve_index=False, schema=self._schema)
            if self._parquet is None:
                self._schema = table.schema
                self._parquet = pq.ParquetWriter(self._tmp, self._schema)
            self._parquet.write_table(table)
        self.rows += len(frame)

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> bool:
        try:
            if self._parquet is not None:
                self._parquet.close()
            elif self.fmt == "parquet" and exc_type is None and self._tmp is not None:
                pq.write_table(pa.table({}), self._tmp)
            if self._digest and exc_type is None and self._tmp is not None:
                self.sha256 = file_sha256(self._tmp)
            if self.before_publish is not None and exc_type is None:
                self.before_publish(self)
        except BaseException as failure:  # closing on a full disk, say: remove the temporary file, publish nothing
            if exc_type is None:
                self._ctx.__exit__(type(failure), failure, failure.__traceback__)
                raise
        return bool(self._ctx.__exit__(exc_type, exc, tb))


def file_sha256(path: str | Path) -> str:
    """sha256 of a file's bytes (hex): ties a sidecar to the one file it describes, whatever its
    name or modification time (a copy keeps it, another run's file does not)."""
    import hashlib

    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def json_text(obj: Any) -> str:
    """``obj`` as churnml writes JSON: pretty-printed, keys in insertion order, Timestamps/numpy/Paths converted."""
    return json.dumps(obj, indent=2, default=_json_default) + "\n"


def write_json(obj: Any, path: str | Path) -> Path:
    """Write JSON atomically (pretty-printed, keys in insertion order)."""
    path = Path(path)
    with atomic_path(path) as tmp:
        tmp.write_text(json_text(obj), encoding="utf-8")
    return path


@contextlib.contextmanager
def staged_json(obj: Any, path: str | Path) -> Iterator[Path]:
    """Write ``obj`` as JSON (:func:`json_text`) to a temporary file beside ``path`` at once, and
    rename it into place when the block succeeds: a file that describes another, written inside
    the block (a retention list's summary, the features' descriptions), is published after it, and
    when it cannot be written (a full disk, a folder in its place) the block never runs, so neither
    is replaced. Yields ``path``."""
    path = Path(path)
    if path.is_dir():  # its rename would fail only after the block had published the file it describes
        raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), str(path))
    with atomic_path(path) as tmp:
        try:
            tmp.write_text(json_text(obj), encoding="utf-8")
        except OSError as exc:  # named after the user's file, not the temporary one
            raise OSError(exc.errno, exc.strerror, str(path)) from None
        yield path


def read_json(path: str | Path) -> Any:
    return json.loads(Path(path).read_text(encoding="utf-8"))


def read_table(path: str | Path) -> pd.DataFrame:
    """Read a Parquet, CSV or Excel table written by churnml (scores, features, lists)."""
    path = Path(path)
    if not path.exists():
        raise DataError(f"File {path} does not exist. Check the path, or run the command that writes it first.")
    try:
        if path.suffix.lower() == ".csv":
            return _read_csv(path)
        if path.suffix.lower() == ".xlsx":
            return _read_xlsx(path)
        return pd.read_parquet(path)
    except Exception as exc:  # pyarrow/pandas raise many types for a corrupt file
        raise DataError(f"Cannot read {path}: {exc}. Is it a Parquet, CSV or Excel file written by churnml?") from None


def folded_name(name: str) -> str:
    """A column name as matched when none is written exactly so: whatever its case (Snowflake writes
    CUSTOMER_ID), surrounding spaces (a spreadsheet's "Sign-up Date ") and a byte-order mark (one that a
    reader kept from a CSV's first header and a Parquet file carries on: "\ufeffCustomer ID"), none of
    which a user sees in the name. :func:`churnml.validate.map_columns` matches the data's columns so."""
    return name.replace("\ufeff", "").strip().casefold()


def loose_name(name: str) -> str:
    """:func:`folded_name` without spaces and punctuation: CRMs export "Customer ID" or "CustomerId" for
    customer_id. Lists of ids are matched so; a data table's columns are only suggested so (a name
    for a contract column is the user's to confirm, in ``[columns]``)."""
    return re.sub(r"[\W_]+", "", folded_name(name))


def read_ids(path: str | Path, id_columns: Sequence[str] = ("customer_id",), encoding: str = "") -> set[str]:
    """Customer ids listed in ``path``: a CSV, Parquet or Excel table with one of ``id_columns`` (say
    ``customer_id`` and the user's own name for it), or a text file with one id per line (a
    do-not-contact list, say). Ids are text, as written. A CSV may use ``,``, ``;``, tab or ``|``
    between fields, as exports from spreadsheets and CRMs do. Text is UTF-8, or ``encoding``
    (``[input] encoding``) when it is not.

    Raises
    ------
    DataError
        A missing file, text in another encoding, or a table without any of ``id_columns``.
    """
    path = Path(path)
    names = list(dict.fromkeys(id_columns))
    if path.suffix.lower() in (".csv", ".parquet", ".xlsx"):
        if not path.exists():
            raise DataError(f"File {path} does not exist. Check the path.")
        if path.suffix.lower() == ".xlsx":  # a CRM's opt-out export: ids as text, as the other readers give them
            try:
                table = _read_xlsx(path, dtype=str)
            except Exception as exc:  # openpyxl raises many types for a damaged workbook
                raise DataError(f"Cannot read {path}: {exc}. Is it an Excel workbook (.xlsx)?") from None
        elif path.suffix.lower() == ".csv":
            text_encoding = _text_encoding(path, encoding)
            try:
                table = restore_formulas(pd.read_csv(path, sep=_csv_separator(path, text_encoding), dtype=str,
                                                     keep_default_na=False, encoding=text_encoding))
            except Exception as exc:  # pandas raises many types for a malformed file
                raise DataError(f"Cannot read {path}: {exc}.") from None
        else:
            table = read_table(path)
        found = next((name for name in names if name in table.columns), None)
        if found is None:  # whatever its case, as the data's columns (Snowflake writes CUSTOMER_ID), and
            # then whatever its spaces and punctuation: CRMs export "Customer ID" or "CustomerId"
            for fold in (folded_name, loose_name):
                folded = {fold(str(c)): c for c in reversed(table.columns)}
                found = next((folded[fold(name)] for name in names if fold(name) in folded), None)
                if found is not None:
                    break
        if found is None:
            wanted = names[0] if len(names) == 1 else f"neither {' nor '.join(names)}"
            raise DataError(f"{path} has {'no ' if len(names) == 1 else ''}{wanted} column (columns: "
                            f"{', '.join(map(str, table.columns[:10]))}). Give a table with a customer_id column, "
                            "or a text file with one id per line.")
        ids = table[found].dropna()
        if pd.api.types.is_float_dtype(ids) and ((ids == ids.round()) & (ids.abs() < 1e15)).all():
            ids = ids.astype("int64")  # whole ids stored as floats, read as validation reads them
        ids = ids.astype(str)
    else:
        if path.is_dir():
            raise DataError(f"{path} is a folder, not a file of ids. Give the file inside it (a table with customer_id, "
                            "or one id per line).")
        if not path.is_file():
            raise DataError(f"File {path} does not exist. Check the path.")
        text_encoding = _text_encoding(path, encoding)
        try:
            ids = pd.Series(path.read_text(encoding=text_encoding).splitlines())
        except UnicodeDecodeError as exc:
            raise DataError(f"Cannot read {path} as {text_encoding} ([input] encoding): {exc.reason} at byte {exc.start}. "
                            "Name the file's real encoding.") from None
    return {i.strip() for i in ids if i.strip()}


def _text_encoding(path: Path, encoding: str) -> str:
    """How to decode a small text file: UTF-8 (a byte-order mark skipped) when it is, else ``encoding``.

    Raises
    ------
    DataError
        Not UTF-8, and no ``encoding`` given.
    """
    if _is_utf8(path):
        return "utf-8-sig"
    if not encoding:
        raise DataError(f"Cannot read {path}: {NOT_UTF8}")
    return encoding


def _csv_separator(path: Path, encoding: str = "utf-8-sig") -> str:
    """The field separator of a CSV: the one of ``,;\t|`` the sniffer finds in its first lines,
    else a comma (one column has none)."""
    with open(path, encoding=encoding, errors="replace", newline="") as handle:
        sample = handle.read(65536)
    try:
        return csv.Sniffer().sniff(sample, delimiters=",;\t|").delimiter
    except csv.Error:
        return ","


def _read_csv(path: Path) -> pd.DataFrame:
    """A CSV written by churnml, with ``customer_id`` as the text it was written as: "0002014"
    stays "0002014" (not the number 2014) and "NA" or "null" are ids, not missing values; text
    churnml defused for spreadsheets ("'=1+1", :func:`defuse_formulas`) reads as it was before."""
    columns = pd.read_csv(path, nrows=0).columns
    return restore_formulas(pd.read_csv(path, dtype={"customer_id": str}, keep_default_na=False,
                                        na_values=_missing_values(columns)))


def _missing_values(columns: Iterable[Any], text: bool = False) -> dict[Any, list[str]]:
    """``na_values`` for pandas' readers of churnml's own tables: pandas' usual markers ("NA",
    "null" …) in every column but ``customer_id`` (or in none, for ``text`` tables), where they
    are ids."""
    return {column: [] if text or column == "customer_id" else sorted(STR_NA_VALUES) for column in columns}


def _read_xlsx(path: Path, dtype: Any = None) -> pd.DataFrame:
    """The first sheet of an Excel workbook, ``customer_id`` (or every column with ``dtype=str``)
    as text: an id 0002014 typed as text stays "0002014", and "NA" is an id, not a missing value."""
    columns = pd.read_excel(path, nrows=0, engine="openpyxl").columns
    return pd.read_excel(path, engine="openpyxl", dtype=dtype or {"customer_id": str}, keep_default_na=False,
                         na_values=_missing_values(columns, text=dtype is str))


def _json_default(value: Any) -> Any:
    if isinstance(value, (pd.Timestamp,)):
        return value.isoformat()
    if hasattr(value, "item"):  # numpy scalars
        return value.item()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


SNAPSHOT_DIR = Path("snapshots")
"""Default folder for feature snapshots, which the HTTP service loads at start-up."""


def write_snapshot(features: pd.DataFrame, as_of: pd.Timestamp, folder: str | Path | None = None,
                   outside: pd.DataFrame | None = None) -> Path:
    """Write the feature table of the population at ``as_of`` as ``features_<YYYY-MM-DD>.parquet``
    and, beside it, ``outside`` as ``outside_<YYYY-MM-DD>.parquet`` (:func:`outside_path`).

    `churnml serve --data` calls this, so the service can answer for the latest population without
    recomputing features; `churnml score` uses :func:`staged_snapshot`, which this wraps. ``outside``
    holds the customers of the customers table left out of that population, with the reason and
    its date (:func:`churnml.labels.outside_population`), so that the service can say why an id has
    no score.
    """
    with staged_snapshot(features, as_of, folder, outside) as staged:
        pass
    return staged.path


def refuse_snapshot_folders(as_of: pd.Timestamp, folder: str | Path | None = None) -> None:
    """Refuse a folder where a snapshot of ``as_of`` or its outside file goes (:func:`refuse_folder`):
    `churnml score` checks before any work, :meth:`StagedSnapshot.publish` again before its renames."""
    path = snapshot_file(as_of, folder)
    day = f"{pd.Timestamp(as_of):%Y-%m-%d}"
    refuse_folder(path, f"the feature snapshot of {day} (for `churnml serve`)", "--snapshots")
    refuse_folder(outside_path(path), f"the customers outside the population at {day}", "--snapshots")


class StagedSnapshot:
    """A snapshot written to temporary files beside its targets (:func:`staged_snapshot`), not yet
    in place. :meth:`publish` renames it into place; should the block fail after that, the files
    it replaced are put back."""

    def __init__(self, path: Path, stack: contextlib.ExitStack) -> None:
        self.path = path
        """The snapshot's file (its outside file: :func:`outside_path`)."""
        self.published = False
        self._stack = stack
        self._backups: dict[Path, Path | None] = {}

    def publish(self) -> None:
        """Rename the snapshot, then its outside file, into place (once). A folder at either target
        is refused first. What they replace is kept (a hard link beside it) until the block ends."""
        if self.published:
            return
        outside_file = outside_path(self.path)
        refuse_snapshot_folders(snapshot_day(self.path), self.path.parent)
        try:
            for target in (self.path, outside_file):
                if not target.is_file():
                    self._backups[target] = None
                elif (backup := _keep_previous(target)) is not None:
                    self._backups[target] = backup
            # An earlier write's outside file for the same date goes just before the renames, and the
            # new one follows the snapshot: a failure between leaves no outside file, never another write's.
            outside_file.unlink(missing_ok=True)
            self.published = True
            self._stack.close()  # each atomic_path renames its file: the snapshot first (entered last)
        except BaseException as exc:
            self.discard(exc)
            raise

    def discard(self, exc: BaseException) -> None:
        """After ``exc``: remove the temporary files not renamed, and put back what :meth:`publish`
        replaced, the previous files or none where there was none. A file the file system could not
        link (no hard links there) stays replaced."""
        self._stack.__exit__(type(exc), exc, exc.__traceback__)
        for target, backup in self._backups.items():
            with contextlib.suppress(OSError):
                if backup is not None:
                    os.replace(backup, target)
                elif self.published:
                    target.unlink(missing_ok=True)
        self._backups.clear()

    def discard_backups(self) -> None:
        """Once all is published: the previous files are not needed any more."""
        for backup in self._backups.values():
            if backup is not None:
                with contextlib.suppress(OSError):
                    backup.unlink()
        self._backups.clear()


def _keep_previous(path: Path) -> Path | None:
    """A hard link to ``path`` under a temporary name beside it (:func:`_own_temp`: a killed run's
    is removed by the next), to put it back with; None where the file system has no hard links."""
    fd, name = _own_temp(path)
    os.close(fd)
    backup = Path(name)
    backup.unlink()
    try:
        os.link(path, backup)
    except OSError:
        return None
    return backup


@contextlib.contextmanager
def staged_snapshot(features: pd.DataFrame, as_of: pd.Timestamp, folder: str | Path | None = None,
                    outside: pd.DataFrame | None = None) -> Iterator[StagedSnapshot]:
    """Write a snapshot (:func:`write_snapshot`) to temporary files first and yield it
    (:class:`StagedSnapshot`); it is published by its ``publish()``, else when the block ends
    without an error, and discarded when the block fails before that.

    `churnml score` writes its scores inside the block and publishes the snapshot just before the
    scores file is renamed into place: on a full disk the snapshot, several times the size of the
    scores, failed after the scores had replaced last month's, and a folder at the snapshot's path
    failed its rename after them, so that a run that exited 2 left new output. Now every target is
    checked before the first rename; the snapshot goes first (scores whose snapshot is missing
    cannot be listed with their attributes, and `churnml serve` reads a snapshot alone), and should
    the scores then fail, the block's error puts back the snapshot they replaced.
    """
    path = snapshot_file(as_of, folder)
    with contextlib.ExitStack() as stack:
        # Entered outside first, so it is renamed after the snapshot (the stack exits last in, first out).
        outside_tmp = stack.enter_context(atomic_path(outside_path(path))) if outside is not None else None
        snapshot_tmp = stack.enter_context(atomic_path(path))
        features.to_parquet(snapshot_tmp, index=False)
        if outside is not None:
            outside.to_parquet(outside_tmp, index=False)
        staged = StagedSnapshot(path, stack.pop_all())
        try:
            yield staged
            staged.publish()
        except BaseException as exc:
            staged.discard(exc)
            raise
        staged.discard_backups()


def snapshot_file(as_of: pd.Timestamp | str, folder: str | Path | None = None) -> Path:
    """Where the snapshot of ``as_of`` is (whether or not written): ``features_<YYYY-MM-DD>.parquet``
    in ``folder`` (default :data:`SNAPSHOT_DIR`)."""
    folder = Path(folder) if folder is not None else SNAPSHOT_DIR
    return folder / f"features_{pd.Timestamp(as_of):%Y-%m-%d}.parquet"


def outside_path(snapshot: str | Path) -> Path:
    """Where the customers outside the population of ``snapshot`` are (whether or not written):
    ``outside_<YYYY-MM-DD>.parquet`` beside ``features_<YYYY-MM-DD>.parquet``."""
    snapshot = Path(snapshot)
    return snapshot.with_name("outside_" + snapshot.name.removeprefix("features_"))


def with_outside(snapshots: Iterable[Path]) -> list[Path]:
    """``snapshots``, each followed by its outside file when there is one: what goes with it."""
    return [path for snapshot in snapshots for path in (snapshot, outside_path(snapshot))
            if path == snapshot or path.is_file()]


def snapshots(folder: str | Path | None = None) -> list[Path]:
    """The feature snapshots in ``folder``, oldest first (by the as-of date in their names)."""
    folder = Path(folder) if folder is not None else SNAPSHOT_DIR
    return sorted(p for p in folder.glob("features_????-??-??.parquet") if p.is_file()) if folder.is_dir() else []


def stale_snapshots(folder: str | Path | None = None, keep: int | None = None,
                    older_than_days: int | None = None) -> list[Path]:
    """The snapshots in ``folder`` that may go, oldest first: never the newest, which the HTTP
    service loads at start-up (:func:`latest_snapshot`).

    Snapshots accumulate, one per as-of date scored (about 70 MB a day at a million customers),
    and nothing else removes them.

    Parameters
    ----------
    keep : int, optional
        Keep the newest ``keep`` (at least 1); the others may go.
    older_than_days : int, optional
        Those whose as-of date is more than this many days before the newest snapshot's may go
        (before the newest's, not today's: a server left unscored for a month keeps its history).
        With ``keep`` too, a snapshot goes only when both say so. With neither, none goes.

    Example
    -------
    >>> stale_snapshots("snapshots", keep=7)  # doctest: +SKIP
    [PosixPath('snapshots/features_2025-10-01.parquet')]
    """
    if keep is None and older_than_days is None:
        return []
    if keep is not None and keep < 1:
        raise ConfigError(f"Keep at least 1 snapshot (the newest, which `churnml serve` loads), not {keep}.")
    if older_than_days is not None and older_than_days < 0:
        raise ConfigError(f"The age of snapshots to remove is a number of days, 0 or more, not {older_than_days}.")
    found = snapshots(folder)
    if not found:
        return []
    candidates = found[:-1]  # the newest always stays
    if keep is not None:
        candidates = candidates[:max(len(found) - keep, 0)]
    if older_than_days is not None:
        newest = snapshot_day(found[-1])
        candidates = [p for p in candidates if newest is not None and (day := snapshot_day(p)) is not None
                      and (newest - day).days > older_than_days]
    return candidates


def snapshot_day(path: Path) -> pd.Timestamp | None:
    """The as-of date in a snapshot's name; None when the name holds no date."""
    try:
        return pd.Timestamp(datetime.strptime(path.stem.removeprefix("features_"), "%Y-%m-%d"))
    except ValueError:
        return None


def remove_files(paths: Iterable[Path]) -> int:
    """Delete ``paths``; returns the bytes freed. One already gone (removed by another process) is skipped."""
    freed = 0
    for path in paths:
        try:
            size = path.stat().st_size
            path.unlink()
        except FileNotFoundError:
            continue
        freed += size
    return freed


def latest_snapshot(folder: str | Path | None = None) -> Path:
    """The newest snapshot (by as-of date in its name); a clear error when there is none."""
    folder = Path(folder) if folder is not None else SNAPSHOT_DIR
    found = snapshots(folder)
    if not found:
        raise DataError(
            f"No feature snapshot in {folder}/. Run `churnml score DATA --as-of DATE --out scores.parquet` "
            "first (it writes one there), or start with `churnml serve --data DATA`, which builds one."
        )
    return found[-1]
