"""`Dataset`: the clean, canonical tables every stage after validation works on."""

from __future__ import annotations

import hashlib
import weakref
from dataclasses import dataclass, field
from typing import Mapping

import duckdb
import pandas as pd

from churnml.io import _lit, _q, private_temp_dir  # noqa: F401  (re-exported: the SQL builders quote literals and names with them)
from churnml.schema import TABLES

_SQL_TYPES = {"id": "VARCHAR", "timestamp": "TIMESTAMP", "number": "DOUBLE", "text": "VARCHAR"}


@dataclass
class Dataset:
    """Clean tables in one DuckDB connection, with contract column names and types.

    Build it with :func:`churnml.validate.validate` (from raw data) or :meth:`from_frames`
    (from frames already in contract shape, e.g. in tests or an API request).

    Attributes
    ----------
    con : duckdb.DuckDBPyConnection
        Holds tables ``customers``, ``transactions`` and, when present, ``service_events`` and
        ``churn_events``. After validation they lack the columns it only checks
        (:attr:`churnml.schema.TableSpec.checked_only`: ``transaction_id``, ``quantity``, the
        service ``channel``); :meth:`from_frames` keeps what it is given.
    tables : tuple of str
        The contract tables present.
    attributes : dict
        Customer attribute columns (everything in ``customers`` beyond the contract) ->
        ``"categorical"`` or ``"numeric"``.
    data_end : pandas.Timestamp
        The latest event timestamp in the data, or the day of ``[input] data_end`` when later
        (:func:`churnml.validate.declared_end`).
    quarantine : dict of str to pandas.DataFrame
        Rows validation lists in the quarantine files, per table: the raw columns plus ``reason``.
        Most are set aside; those kept without a value (a customer without a signup date, a
        service event without its off-scale satisfaction score) stay in the clean tables too.
    summary : dict
        Row counts, quarantine counts per reason, date ranges (see ``churnml.validate``);
        ``quarantined_rows`` counts the rows set aside, ``kept_rows`` those kept without a value
        (:func:`row_counts` reads both, in summaries written before ``kept_rows`` too).
    """

    con: duckdb.DuckDBPyConnection
    tables: tuple[str, ...]
    attributes: dict[str, str]
    data_end: pd.Timestamp | None
    quarantine: dict[str, pd.DataFrame] = field(default_factory=dict)
    summary: dict = field(default_factory=dict)
    _fingerprint: str | None = None

    def has(self, table: str) -> bool:
        return table in self.tables

    @property
    def fingerprint(self) -> str:
        """sha256 over the clean tables' content (order-independent), stable across runs, DuckDB
        versions and platforms.

        Per table: its name, columns, row count and the sum over rows of 64 bits of the MD5 of the
        row as text: the digest's bytes 8-15, read little-endian (``md5_number`` reads all 16 as
        one unsigned little-endian number; ``>> 64`` keeps its top 64 bits, those bytes). It summed DuckDB's ``hash()``, which is
        DuckDB's internal hash and changed between releases (duckdb/duckdb#17596: 1.2.2 and 1.3.0
        differ on strings), so an upgrade changed every fingerprint. MD5 cost 2-3 s more at 200,000
        customers (10 M rows); the hex ``md5()`` cut to 64 bits cost 7 s more. Fingerprints are
        recorded (runs, score sidecars), name the Optuna studies and are part of a run's inputs
        digest (:func:`churnml.train.inputs_digest`): a fingerprint from before this change does not
        resume its study, and a retrain on the same data registers its models once more."""
        if self._fingerprint is None:
            digest = hashlib.sha256()
            for table in self.tables:
                cols = [c for c, in self.con.execute(f"SELECT column_name FROM (DESCRIBE {table})").fetchall()]
                row = " || '|' || ".join(f"coalesce(CAST({_q(c)} AS VARCHAR), '∅')" for c in cols)
                n, h = self.con.execute(
                    f"SELECT count(*), coalesce(sum(CAST(md5_number({row}) >> 64 AS UBIGINT)::HUGEINT), 0) FROM {table}"
                ).fetchone()
                digest.update(f"{table}:{','.join(cols)}:{n}:{h};".encode())
            self._fingerprint = digest.hexdigest()
        return self._fingerprint

    @classmethod
    def from_frames(
        cls,
        frames: Mapping[str, pd.DataFrame],
        con: duckdb.DuckDBPyConnection | None = None,
    ) -> "Dataset":
        """Load frames that already follow the contract (names and types) without validation.

        Contract columns are cast to their canonical types; other ``customers`` columns become
        attributes (numeric dtypes -> ``numeric``, everything else -> ``categorical``).
        """
        con = con or connect()
        present = []
        attributes: dict[str, str] = {}
        for name, spec in TABLES.items():
            if name not in frames or frames[name] is None:
                continue
            frame = frames[name]
            present.append(name)
            selects = []
            for col in frame.columns:
                if col in spec.kinds:
                    selects.append(f"CAST({_q(col)} AS {_SQL_TYPES[spec.kinds[col]]}) AS {_q(col)}")
                elif name == "customers":
                    kind = "numeric" if pd.api.types.is_numeric_dtype(frame[col]) and not pd.api.types.is_bool_dtype(frame[col]) else "categorical"
                    attributes[col] = kind
                    sql_type = "DOUBLE" if kind == "numeric" else "VARCHAR"
                    selects.append(f"CAST({_q(col)} AS {sql_type}) AS {_q(col)}")
            con.register("_incoming", frame)
            con.execute(f"CREATE OR REPLACE TABLE {name} AS SELECT {', '.join(selects)} FROM _incoming")
            con.unregister("_incoming")
        ends = [
            con.execute(f"SELECT max(timestamp) FROM {t}").fetchone()[0]
            for t in present
            if t != "customers"
        ]
        ends = [e for e in ends if e is not None]
        return cls(
            con=con,
            tables=tuple(present),
            attributes=attributes,
            data_end=pd.Timestamp(max(ends)) if ends else None,
        )


_live: "weakref.WeakSet[duckdb.DuckDBPyConnection]" = weakref.WeakSet()
"""The connections :func:`connect` made that are still referenced, for :func:`interrupt_queries`."""


def interrupt_queries() -> None:
    """Stop the query running on each connection :func:`connect` made; callable from any thread.

    A Ctrl-C reaches Python's handler only when DuckDB next looks for one: a query on a million
    customers ran on for 23 s after the signal, the length of the whole query. :meth:`interrupt`
    from another thread stopped it within 0.01 s."""
    for con in list(_live):
        try:
            con.interrupt()
        except duckdb.Error:  # closed meanwhile
            pass


def connect(config: "Config | None" = None) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection with churnml's settings: UTC, the configured memory limit and spill
    folder. Ctrl-C and SIGTERM stop its queries at once (:func:`interrupt_queries`)."""
    from churnml.config import Config

    settings = (config or Config()).duckdb
    con = duckdb.connect()
    con.execute("SET TimeZone='UTC'")
    # Literals, not pasted text: a folder named o'brien is a folder, and a setting never runs as SQL.
    con.execute(f"SET memory_limit={_lit(settings.memory_limit)}")
    spill = settings.temp_directory or str(private_temp_dir("churnml-duckdb"))
    con.execute(f"SET temp_directory={_lit(spill)}")
    if settings.threads:
        con.execute(f"SET threads={int(settings.threads)}")
    _live.add(con)
    return con


KEPT_WITHOUT = "kept without"
"""What the reason of every row validation keeps without a value says ("unparseable signup_date
(customer kept without a signup date)", "satisfaction outside 1-5 (event kept without it)")."""


def row_counts(summary: Mapping, table: str | None = None) -> tuple[int, int]:
    """The rows validation set aside and those it kept without a value, as ``(set_aside, kept)``,
    of the whole data or of ``table`` (0, 0 for a summary without them: Spark reads data as it is).

    Summaries written before ``kept_rows`` (a training run's data summary, read back by `churnml
    report`) counted both in ``quarantined_rows``: the kept ones are then told by their reasons
    (:data:`KEPT_WITHOUT`), so that 244 service events kept without a "not rated" score do not
    read as 244 rows set aside.

    >>> row_counts({"quarantined_rows": 3, "tables": {"service_events": {"quarantined": {
    ...     "missing timestamp": 1, "satisfaction outside 1-5 (event kept without it)": 2}}}})
    (1, 2)
    """
    tables = summary.get("tables") or {}
    if table is not None:
        stats = tables.get(table) or {}
        listed = stats.get("quarantined") or {}
        kept = stats.get("kept_rows")
        if kept is None:
            kept = sum(n for reason, n in listed.items() if KEPT_WITHOUT in reason)
        return int(sum(listed.values()) - kept), int(kept)
    if "kept_rows" in summary:
        return int(summary.get("quarantined_rows") or 0), int(summary["kept_rows"])
    kept = sum(row_counts(summary, name)[1] for name in tables)
    return int((summary.get("quarantined_rows") or 0) - kept), int(kept)
