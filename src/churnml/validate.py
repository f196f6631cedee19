"""Validation: raw tables in, clean canonical tables out, bad rows set aside with a reason.

Two kinds of problems:

* **Errors** (:class:`~churnml.errors.DataError`) stop the run: a required table or column is
  missing, a whole column cannot be read as a date or a number, ``customer_id`` in ``customers``
  is not unique, in rows that differ (a row repeated whole is a bad row, below). The message names the table, the column, a few offending values and the fix.
* **Bad rows** are quarantined: they leave the clean tables, are kept in
  :attr:`Dataset.quarantine` with their ``reason``, and are counted in the summary.

Every command that reads data goes through :func:`load_dataset`, so validation happens once and
the same way everywhere.
"""

from __future__ import annotations

import difflib
import json
import re
from datetime import datetime
from pathlib import Path
from typing import Callable, Iterable, Mapping

import duckdb
import numpy as np
import pandas as pd

from churnml import io
from churnml.config import Config, InputConfig
from churnml.dataset import Dataset, _lit, _q, connect
from churnml.errors import ConfigError, DataError
from churnml.schema import KNOWN_EVENT_TYPES, MAX_ABS_NUMBER, TABLES, TableSpec

MIN_TIMESTAMP = "1900-01-01"
EXAMPLES = 3
"""How many offending values an error message shows."""
ID_LIKE_MIN_VALUES = 100
"""A text attribute with more distinct values than this, and at least one per two customers, is
named in the summary's notes as id-like."""
PLACEHOLDER_BEFORE = "1971-01-01"
"""A signup date before this that many customers share is named in a note: 1900-01-01 or the
Unix epoch written for "unknown" reads as a tenure of a century."""
PLACEHOLDER_VALUES = 3
PLACEHOLDER_SHARE = 0.05
"""A customer column of numbers with at most this many other values, in at most this share of the
rows with a value, is numeric; the other values (N/A, -, unknown) are placeholders, blanked."""
PAID_BEFORE_SIGNUP_DAYS = 30
"""A customer whose first transaction lies more than this many days before their ``signup_date`` is
named in a note (a migration's date written as the sign-up?); a first premium paid a few weeks before
the policy starts is ordinary."""
RETURNED_AFTER_DAYS = 90
"""A customer with a purchase more than this many days after their first churn event came back under the
same id (a note names them): a final bill, or the payments of a notice period, come sooner."""
MAX_UNKNOWN_CUSTOMER_SHARE = 0.5
"""Above this share of an event table's rows with ids not in ``customers``, validation stops
(the ids are written differently in the two tables) instead of setting the rows aside."""

# Reasons a row is set aside, as the user reads them in the quarantine file and the summary.
R_MISSING_ID = "missing customer_id"
R_UNKNOWN_CUSTOMER = "customer_id not in customers"
R_MISSING_TIMESTAMP = "missing timestamp"
R_BAD_TIMESTAMP = "unparseable timestamp"
R_OLD_TIMESTAMP = "timestamp before 1900"
R_FUTURE_TIMESTAMP = "timestamp after the data's end"
R_DUPLICATE_TX = "duplicate transaction_id"
R_ORDER_OF_SEVERAL = "order lines of several customers under one transaction_id"
"""With ``[input] order_lines``: every line of an order id whose lines name more than one customer
(which of them bought it is not known)."""
R_CLOSED_BEFORE_SIGNUP = "timestamp before the customer's signup_date"
R_RESOLVED_BEFORE = "resolved_at before timestamp"
R_BAD_SIGNUP = "unparseable signup_date (customer kept without a signup date)"
R_OLD_SIGNUP = "signup_date before 1900 (customer kept without a signup date)"
R_LATE_SIGNUP = "signup_date after the data's end (customer kept without a signup date)"
R_REPEATED_ROW = "repeats another row whole"
"""A ``customers`` row equal to an earlier one in every column (a doubled export): set aside, the
first kept, so the customer is read once. An id in rows that differ is an error (:func:`not_unique_message`)."""
_BLANK = "_blank"
"""Marks a row with every field empty while checking; such rows are skipped, not set aside."""
# Reasons that report a row but keep it: dropping a customer would cascade to all their history.
_KEPT = (R_BAD_SIGNUP, R_OLD_SIGNUP, R_LATE_SIGNUP)
PANDAS_INDEX = re.compile(r"__index_level_\d+__")
"""The name pandas (through pyarrow) gives an unnamed index it stores in a Parquet file: the row
numbers of a filtered frame, which read as a numeric customer attribute became a feature."""


def satisfaction_outside(scale: tuple[float, float]) -> str:
    """The reason for a satisfaction score outside ``[input] satisfaction_scale`` (NaN and infinities
    included): the score is blanked and the event kept (:func:`kept_events_reasons`)."""
    return f"satisfaction outside {scale[0]:g}-{scale[1]:g} (event kept without it)"


R_BAD_SATISFACTION = "unparseable satisfaction (event kept without it)"


def kept_events_reasons(scale: tuple[float, float]) -> tuple[str, ...]:
    """The reasons that report a service event but keep it, its satisfaction blanked
    (:func:`satisfaction_clean_sql`): a score that does not read or lies off the scale. The survey
    answer is what is wrong, not the complaint, ticket or call it came with, which was set aside
    whole (a helpdesk's CSAT of 0 for "not rated" lost 33 complaints of 1,296). Validation keeps
    them; the Spark reader keeps them too, as it keeps a customer without a signup date."""
    return (R_BAD_SATISFACTION, satisfaction_outside(scale))


def satisfaction_clean_sql(score: str, inputs: InputConfig) -> str:
    """SQL: the typed ``score`` as the clean table holds it: on 1-5, rescaled from ``[input]
    satisfaction_scale``, and blank where it does not read or lies off that scale (NaN and infinities
    do too: :func:`_off_scale_sql`). Validation and the Spark reader select the same."""
    return (f"CASE WHEN {_off_scale_sql(score, inputs.satisfaction_scale)} THEN NULL "
            f"ELSE {inputs.satisfaction_sql(score)} END")


def _off_scale_sql(score: str, scale: tuple[float, float]) -> str:
    """SQL: the typed ``score`` lies off ``scale``; NaN does too (DuckDB and Spark order it above every
    number): the condition of :func:`event_checks` that blanks a score and keeps its event, by which
    :func:`satisfaction_clean_sql` blanks it and :func:`another_scale_error` counts the scores off it.
    :func:`satisfaction_kept_reason` is the same rule for one number in Python."""
    return f"{score} NOT BETWEEN {scale[0]!r} AND {scale[1]!r}"


def satisfaction_kept_reason(score: float, scale: tuple[float, float]) -> str | None:
    """The reason a satisfaction score read as a number is blanked and its event kept
    (:func:`satisfaction_outside`: off ``scale``, NaN and infinities included), or None for a score on
    it: :func:`_off_scale_sql`, which validation and the Spark reader apply to files, for one value, as
    the HTTP API applies it to a posted service event (:func:`churnml.api.history_dataset`).

    Example
    -------
    >>> satisfaction_kept_reason(0, (1.0, 5.0))
    'satisfaction outside 1-5 (event kept without it)'
    >>> satisfaction_kept_reason(float("nan"), (0.0, 10.0))
    'satisfaction outside 0-10 (event kept without it)'
    >>> satisfaction_kept_reason(5, (1.0, 5.0)) is None
    True
    """
    low, high = scale
    return None if low <= score <= high else satisfaction_outside(scale)


def _signup_kept_sql(signup: str, data_end: pd.Timestamp | None) -> list[tuple[str, str]]:
    """SQL: (reason, condition) for a typed ``signup`` that validation blanks, keeping its customer:
    before 1900, or on or after the data's end ``data_end`` (exclusive; None: no such bound), a CRM's
    1850-01-01 or 2999-12-31 for "unknown". :func:`_load_customers` lists the dates by them and
    :func:`signup_clean_sql` blanks them; :func:`signup_kept_reason` is the same rule for one date in Python."""
    checks = [(R_OLD_SIGNUP, f"{signup} < TIMESTAMP '{MIN_TIMESTAMP}'")]
    if data_end is not None:
        checks.append((R_LATE_SIGNUP, f"{signup} >= TIMESTAMP '{data_end}'"))
    return checks


def signup_clean_sql(signup: str, data_end: pd.Timestamp | None) -> str:
    """SQL: the typed ``signup`` as the clean table holds it: blank where :func:`_signup_kept_sql`
    blanks it (its customer kept). Validation and the Spark reader (transpiled) select the same."""
    blanked = " OR ".join(condition for _, condition in _signup_kept_sql(signup, data_end))
    return f"CASE WHEN {blanked} THEN NULL ELSE {signup} END"


def signup_kept_reason(signup: datetime, data_end: datetime | None) -> str | None:
    """The reason a sign-up date read as a date is blanked and its customer kept (before 1900, or on or
    after the data's end ``data_end``, exclusive), or None for one kept: :func:`_signup_kept_sql`, which
    validation applies to files, for one value, as the HTTP API applies it to a posted customer
    (:func:`churnml.api.history_dataset`). A ``datetime``, not a ``Timestamp``: a placeholder's year
    2999 or 1 is beyond what pandas holds.

    Example
    -------
    >>> end = datetime(2025, 12, 1)
    >>> signup_kept_reason(datetime(2999, 12, 31), end)
    "signup_date after the data's end (customer kept without a signup date)"
    >>> signup_kept_reason(datetime(1850, 1, 1), end)
    'signup_date before 1900 (customer kept without a signup date)'
    >>> signup_kept_reason(datetime(2025, 11, 30, 23, 59), end) is None
    True
    """
    if signup < datetime.fromisoformat(MIN_TIMESTAMP):
        return R_OLD_SIGNUP
    if data_end is not None and signup >= pd.Timestamp(data_end).to_pydatetime():
        return R_LATE_SIGNUP
    return None



def unparseable(column: str) -> str:
    return f"unparseable {column}"


def _missing(column: str) -> str:
    """The reason for a required value that is not there (NULL, or blank text): a Parquet column's
    NULL amounts were "unparseable", and the export was searched for malformed numbers."""
    return f"missing {column}"


def not_finite(column: str) -> str:
    return f"{column} not a finite number (NaN or infinity)"


def kept_without(column: str) -> str:
    """The reason for a customer attribute that is not a finite number (NaN, +inf, -inf as read):
    the value is blanked and the customer kept, as for a bad signup_date. They went into the
    clean table as they were, and only later stages coped with them."""
    return f"{column} not a finite number (customer kept without it)"


def kept_unread(column: str) -> str:
    """The reason for a placeholder ("N/A", "-") in a numeric customer attribute
    (:func:`kind_from_counts`): blanked, and the customer kept."""
    return f"unparseable {column} (customer kept without it)"


PLACEHOLDER_WORDS = frozenset({"na", "none", "null", "nil", "unknown", "missing", "notavailable", "notknown"})
"""Words for "not known" that placeholders spell (N/A, n.a., #N/A, NULL, unknown), compared without
case, spaces and punctuation (:func:`is_placeholder`)."""


def is_placeholder(text: str) -> bool:
    """Whether one value of a numeric customer attribute is a placeholder for unknown: nothing but
    punctuation ("-", "?", "--") or a word for it (:data:`PLACEHOLDER_WORDS`: "N/A", "n/a", "NULL",
    "unknown").

    In a file, a column's placeholders are its few texts that are not numbers
    (:func:`kind_from_counts`), blanked with :func:`kept_unread`. One customer record posted to the
    API has no column to count them in; this names the texts that are placeholders there, and any
    other text ("gold", "12k") is a wrong value, not an unknown one.

    >>> [is_placeholder(t) for t in ("N/A", "n/a", "-", " ? ", "#N/A", "Unknown", "gold", "12k")]
    [True, True, True, True, True, True, False, False]
    """
    letters = "".join(c for c in text.casefold() if c.isalnum())
    return not letters or letters in PLACEHOLDER_WORDS


def _too_large(column: str) -> str:
    return f"{column} beyond ±{MAX_ABS_NUMBER:.0e} (a misread field or unit?)"


def load_dataset(
    path: str | Path,
    config: Config | None = None,
    progress: Callable[[str], None] | None = None,
) -> Dataset:
    """Read, validate and clean a data source.

    Parameters
    ----------
    path : str or Path
        A folder of CSV/Parquet files named after the tables, or a DuckDB database file.
    config : Config, optional
        Column and table name mapping; defaults to the contract's names.
    progress : callable, optional
        Called with a short message as each table is validated.

    Returns
    -------
    Dataset
        Clean tables, the quarantined rows per table, and a summary.

    Raises
    ------
    DataError
        For problems that cannot be set aside row by row.

    Example
    -------
    >>> ds = load_dataset("sample/")                         # doctest: +SKIP
    >>> ds.summary["tables"]["transactions"]["clean_rows"]  # doctest: +SKIP
    """
    config = config or Config()
    path = Path(path)
    try:
        con = connect(config)
    except duckdb.Error as exc:
        raise ConfigError(f"[duckdb] settings rejected by DuckDB: {exc}. Use e.g. memory_limit = \"5GB\".") from None
    reading = [str(path)]  # what is being read, for the message below
    try:
        return _load(con, path, config, progress, reading)
    except (duckdb.InvalidInputException, duckdb.ConversionException, duckdb.IOException) as exc:
        # A file DuckDB cannot read to the end: a cut-off last line, a row with extra fields, an
        # encoding other than UTF-8. Its message names the line; the SQL and options after it do not help.
        if io.not_utf8(exc):
            raise DataError(f"Cannot read {reading[-1]}: {io.NOT_UTF8}") from None
        raise DataError(f"Cannot read {reading[-1]}: {io.reader_message(exc)} Fix the file (or export it again) and rerun.") from None


def _load(con: duckdb.DuckDBPyConnection, path: Path, config: Config, progress: Callable[[str], None] | None,
          reading: list[str]) -> Dataset:
    headers: dict[str, list[str]] = {}
    skipped: list[str] = []  # notes on files in folders of parts left unread, as Spark leaves them
    found = io.attach_source(con, path, config, headers, skipped)
    for name, spec in TABLES.items():
        if spec.required and name not in found:
            user_name = config.table_name(name)
            loose = io.loose_parts(path, user_name)
            # An export's orders.csv: the line to write, rather than "my_transactions".
            yours = None if loose or name in config.tables else likely_name(name, io.unread_files(path, config))
            raise DataError(
                f"Required table {name!r} not found in {path}: expected {user_name}.parquet, {user_name}.csv or a folder "
                f"{user_name}/ of Parquet parts (or a table {user_name!r} in a DuckDB file). {io.found_in(con, path)}"
                f"{loose}Add it, or map your table's name "
                f'under [tables] in the config, e.g. {name} = "{yours or f"my_{name}"}" (file names are case-sensitive).'
            )
        if name not in found and name in config.tables:
            user_name = config.table_name(name)
            raise DataError(f"{mapped_but_missing(name, config)} in {path}: expected {user_name}.parquet, {user_name}.csv "
                            f"or a folder {user_name}/ of Parquet parts (or a table of that name in a DuckDB file). "
                            f"{io.found_in(con, path)}{io.loose_parts(path, user_name)}Fix the name, or remove the mapping "
                            "if the table is not there.")
    empty = _empty_tables(con, found, headers)
    tables = tuple(t for t in TABLES if t in found and t not in empty)
    columns = {t: _map_columns(con, t, TABLES[t], config, found[t]) for t in tables}
    repeated = [note for t in tables for note in _repeated_columns(con, t, columns[t], headers.get(t), found[t])]
    types = {t: _raw_types(con, t) for t in tables}
    for table in tables:
        _read_formats(con, table, columns[table], TABLES[table], types[table], config)
    for table in tables:
        reading.append(found[table])
        _check_columns_readable(con, table, columns[table], TABLES[table], types[table], config.input,
                                quoted_table(config, table))

    quarantine: dict[str, pd.DataFrame] = {}
    stats: dict[str, dict] = {}

    # The data's end first (sign-up dates after it are placeholders), then customers: every
    # other table checks its ids against it.
    reading.append(found["transactions"])
    if config.input.data_end:  # the whole given day belongs to the data
        data_end = transactions_end = pd.Timestamp(config.input.data_end) + pd.Timedelta(days=1)
    else:
        transactions_end = _infer_data_end(con, columns["transactions"], types["transactions"],
                                           quoted_table(config, "transactions"))
        tx = columns["transactions"]["timestamp"]
        data_end = end_through_events(
            lambda sql: con.execute(sql).fetchall(), transactions_end, typed_sql("timestamp", tx, types["transactions"][tx]),
            {f"raw_{t}": typed_sql("timestamp", columns[t]["timestamp"], types[t][columns[t]["timestamp"]]) for t in tables[2:]})
    if progress:
        progress("customers")
    reading.append(found["customers"])
    attributes, left_out, left_out_columns = _load_customers(con, columns["customers"], types["customers"], quarantine,
                                                             stats, data_end, config.training.max_categorical_levels,
                                                             config.input.date_formats, config)
    _fail_if_all_set_aside(config, "customers", columns["customers"], quarantine, stats["customers"])
    loose: list[str] = []  # notes on ids written another way
    for table in tables[1:]:
        if progress:
            progress(table)
        reading.append(found[table])
        loose += _load_events(con, table, TABLES[table], columns[table], types[table], data_end, quarantine, stats,
                              config)

    dataset = Dataset(
        con=con,
        tables=tables,
        attributes=attributes,
        data_end=declared_end(_max_timestamp(con, tables), config.input.data_end),
        quarantine=quarantine,
    )
    dataset.summary = _summary(con, dataset, stats, found)
    dataset.summary["notes"] = _notes(con, tables, config, "transaction_id" in columns["transactions"], empty,
                                      columns["service_events"]["event_type"] if "service_events" in tables else None,
                                      columns["customers"].get("signup_date", "signup_date"),
                                      # Listed (headers read) only when a note may name them.
                                      io.unread_files(path, config) if set(tables) < set(TABLES) else ())
    dataset.summary["notes"] += (skipped + repeated + left_out
                                 + zoned_notes(lambda sql: con.execute(sql).fetchone(), tables, columns, types, config)
                                 + _empty_optional(con, tables, columns, config) + loose)
    if "churn_events" in tables:
        dataset.summary["notes"] += _churn_event_notes(con, columns["churn_events"], config, quarantine,
                                                       data_end if config.input.data_end else None)
    # Train records them with the models: the API then tells a posted CRM record's date or empty
    # column from a typo (it called last_login_at "not an attribute the models know (a typo?)").
    dataset.summary["left_out_columns"] = left_out_columns
    # The features' descriptions say which categories are codes (churnml features, train's features.json).
    def fetchone(sql: str) -> tuple:  # the queries over the clean tables that Spark runs too
        return con.execute(sql).fetchone()

    dataset.summary["code_columns"] = codes = code_columns(fetchone, attributes)
    n_customers, values = category_counts(fetchone, attributes)
    max_levels = config.training.max_categorical_levels
    dataset.summary["notes"] += (code_notes(codes, config) + many_values_notes(n_customers, values, max_levels, config)
                                 + lifetime_total_notes(fetchone, attributes, config))
    if "churn_events" in tables:  # before training, what train's leak check would find after it
        dataset.summary["notes"] += leaky_attribute_notes(fetchone, attributes, config,
                                                          many_valued_columns(n_customers, values, max_levels))
    late = {t: stats[t]["quarantined"].get(R_FUTURE_TIMESTAMP, 0) for t in tables[1:]}
    if not config.input.data_end and any(late[t] for t in tables[2:]):
        # First, as it explains the rows set aside just above it; and one note: the churn events'
        # own note on them, apart and in the export's names, blamed contract-end dates and counted
        # them again (a telecom export's cancellations of the month's last days).
        closures = _set_aside_as(quarantine, "churn_events", R_FUTURE_TIMESTAMP)
        dataset.summary["notes"].insert(0, (
            # Every table's: the transactions of those days (a goodwill credit) come back with data_end too.
            f"{_listed([f'{n:,} row(s) of {named_table(config, t)}' for t, n in late.items() if n])} are dated after "
            f"{inferred_end_text(data_end, transactions_end)}, and were set aside as after the data's end"
            + (": the customers of those churn events stay in the population, unless an earlier churn event closed "
               f"them, and are scored and listed as customers to retain (e.g. {_example(closures, columns['churn_events'])})"
               if len(closures) else "")
            + ". If transactions come in batches (monthly bills, weekly imports) and the data runs later, say where it "
            'ends in the config: [input] data_end = "YYYY-MM-DD"'
            + ("; if the churn events are dated when contracts end, date each when the customer gave notice instead."
               if len(closures) else ".")))
    return dataset


_OFFSET = r"[0-9]:[0-9]{2}(:[0-9]{2}([.][0-9]+)?)? ?[+-][0-9]{2}(:?[0-9]{2})?$"
"""A time of day followed by a UTC offset (14:05:00-05:00, 14:05:00 -0500, 14:05+02)."""
_ZERO_OFFSET = r"[+-]00(:?00)?$"
_UTC_MARK = r"(Z|UTC| ?[+-]00(:?00)?)$"
"""A value that says it is UTC (…Z, … UTC, …+00:00): no zone missing there."""
_OFFSET_ROWS = 10_000
"""Rows of a text date column looked at for offsets: exports write one zone throughout."""


def zoned_notes(first_row: Callable[[str], tuple | None], tables: Iterable[str], columns: Mapping[str, Mapping[str, str]],
                types: Mapping[str, Mapping[str, str]], config: Config) -> list[str]:
    """A note naming date columns stored with a time zone (Parquet, DuckDB ``TIMESTAMPTZ``), or
    written as text with an offset other than UTC's among their first :data:`_OFFSET_ROWS` rows:
    they are read as UTC, and a New York feed's "Data ends 2026-01-01 01:59" came without a word
    (for text with "-05:00" it still did).

    ``first_row`` runs a query over the raw tables (``raw_<table>``, in DuckDB's SQL) and gives its
    first row or None: validation's connection, or the Spark reader's (transpiled). ``columns``:
    table -> contract column -> raw column; ``types``: table -> raw column -> DuckDB type; ``config``: the
    names the note gives (:func:`named_field`)."""

    mixed: list[str] = []  # text columns where values with an offset sit beside values without a zone

    def zoned(table: str, raw: str, named: str) -> bool:
        if types[table][raw] in _ZONED_TIMESTAMPS:
            # A zone-typed column that no row fills (a resolved_at never exported) holds no times to convert.
            return first_row(f"SELECT 1 FROM raw_{table} WHERE {_q(raw)} IS NOT NULL LIMIT 1") is not None
        if is_native("timestamp", types[table][raw]):
            return False
        value = typed_sql("text", raw)
        offset, naive, checked, example = first_row(
            f"SELECT count(*) FILTER (regexp_matches(v, {_lit(_OFFSET)}) AND NOT regexp_matches(v, {_lit(_ZERO_OFFSET)})), "
            f"count(*) FILTER (NOT regexp_matches(v, {_lit(_OFFSET)}) AND NOT regexp_matches(v, {_lit(_UTC_MARK)})), "
            f"count(v), min(v) FILTER (regexp_matches(v, {_lit(_OFFSET)}) AND NOT regexp_matches(v, {_lit(_ZERO_OFFSET)})) "
            f"FROM (SELECT {value} AS v FROM raw_{table} LIMIT {_OFFSET_ROWS})"
        )
        if offset and naive:
            mixed.append(f"{named}: {naive:,} of its first {checked:,} values have no zone and {offset:,} {'has' if offset == 1 else 'have'} one (e.g. "
                         f"{example!r})")
        return offset > 0

    zoned = [named for table in tables for column, raw in columns[table].items()
             if TABLES[table].kinds.get(column) == "timestamp"
             and zoned(table, raw, named := named_field(config, table, column, raw))]
    if not zoned:
        return []
    note = (f"{_listed(zoned)} {'holds times' if len(zoned) == 1 else 'hold times'} with a time zone, converted to UTC: "
            "days (cutoffs, label windows, the data's end) are UTC days. For days in your own zone, store local times "
            'without a zone, e.g. in pandas s.dt.tz_convert("America/New_York").dt.tz_localize(None).')
    if mixed:
        # Two systems' exports in one file: the values without a zone are read as UTC, and if they are
        # local times they are hours off the others (purchases on the wrong day, the order of events changed).
        note += (f" Values with and without a zone are mixed in {'; '.join(mixed)}. Those without one are read as UTC: "
                 "if they are local times, they are off by the offset. Write every value with its zone (or none).")
    return [note]


def _example(rows: pd.DataFrame, mapping: Mapping[str, str]) -> str:
    """The first of ``rows`` (set aside, as written) by its customer_id and timestamp: ``id='b', day='2025-06-12'``."""
    first = rows.iloc[0]
    return ", ".join(f"{raw}={'' if pd.isna(first[raw]) else str(first[raw])!r}"
                     for raw in (mapping["customer_id"], mapping["timestamp"]))


def _churn_event_notes(con: duckdb.DuckDBPyConnection, mapping: Mapping[str, str], config: Config,
                       quarantine: Mapping[str, pd.DataFrame], data_end: pd.Timestamp | None) -> list[str]:
    """Notes on what churn_events says that churnml does not use as the user may expect: columns
    it does not read (a CRM's ``type``, voluntary or involuntary, or ``reason``: every row counted
    as churn, non-payment included, and nothing said so), closures set aside for their date (none
    readable: "closed, date unknown"; or after the data's end ``data_end``, exclusive, as declared
    in the config: a contract's end after notice was given), whose customers are scored as open
    accounts, and accounts that came back under the same id after their first closure. Closures
    after an inferred end (``data_end`` None) are in the note on every table's rows after it."""
    notes = []

    # Closures set aside for their date leave their customers in the population, as open accounts.
    undated = _set_aside_as(quarantine, "churn_events", R_MISSING_TIMESTAMP, R_BAD_TIMESTAMP, R_OLD_TIMESTAMP)
    if len(undated):
        many = len(undated) > 1
        notes.append(
            f"{len(undated):,} row{'s' if many else ''} of {named_table(config, 'churn_events')} {'have' if many else 'has'} "
            f"no readable date (e.g. {_example(undated, mapping)}) and {'were' if many else 'was'} set aside: "
            + ("their customers stay" if many else "its customer stays") + " in the population, unless another churn "
            "event closed them, and " + ("are" if many else "is") + " scored and listed as open account"
            + ("s" if many else "") + ". Give each closure its date; an approximate one (the last payment's) takes the "
            "account out of the population from then on."
        )
    late = _set_aside_as(quarantine, "churn_events", R_FUTURE_TIMESTAMP)
    if len(late) and data_end is not None:
        notes.append(
            f"{len(late):,} row{'s' if len(late) > 1 else ''} of {named_table(config, 'churn_events')} "
            f"{'are' if len(late) > 1 else 'is'} dated after the data's end, {data_end - pd.Timedelta(days=1):%Y-%m-%d} "
            f"(e.g. {_example(late, mapping)}), and {'were' if len(late) > 1 else 'was'} set aside: "
            + ("their customers stay in the population, unless an earlier churn event closed them, and are scored and "
               "listed as customers to retain. If these are the dates contracts end" if len(late) > 1 else
               "its customer stays in the population, unless an earlier churn event closed them, and is scored and "
               "listed as a customer to retain. If it is the date a contract ends")
            + ", date each churn event when the customer gave notice instead."
        )
    # Rows equal in every column as written (a doubled export): kept, since a customer churns once
    # however many rows say so (the label and the population read only whether and when the first
    # closure is), but counted in the summary's rows, so said.
    raw = _raw_columns(con, "churn_events")
    repeats = con.execute(
        f"SELECT COALESCE(sum(n - 1), 0), count(*) FROM (SELECT count(*) AS n FROM raw_churn_events "
        f"GROUP BY {', '.join(_q(c) for c in raw)} HAVING count(*) > 1)").fetchone()
    if repeats[0]:
        shown = con.execute(
            f"SELECT {_q(mapping['customer_id'])}, {_q(mapping['timestamp'])} FROM raw_churn_events "
            f"GROUP BY {', '.join(_q(c) for c in raw)} HAVING count(*) > 1 ORDER BY 1, 2 LIMIT {EXAMPLES}").fetchall()
        examples = "; ".join(f"{mapping['customer_id']}={'' if c is None else str(c)!r}, "
                             f"{mapping['timestamp']}={'' if t is None else str(t)!r}" for c, t in shown)
        n, rows = int(repeats[0]), int(repeats[1])
        notes.append(
            f"{n:,} row{'s' if n > 1 else ''} of {named_table(config, 'churn_events')} repeat{'' if n > 1 else 's'} another "
            f"row in every column ({rows:,} closure{'s' if rows > 1 else ''} written more than once, e.g. {examples}"
            f"{' …' if rows > EXAMPLES else ''}) and {'are' if n > 1 else 'is'} kept: a customer churns once however many "
            "rows say so, so the churn labels and the population are the same without them, but the summary counts "
            "every row. If the export doubles rows, check it for the other tables too."
        )
    unread = [c for c in raw if c not in set(mapping.values())]
    if unread:
        notes.append(
            f"{named_table(config, 'churn_events')} has columns churnml does not read: {_listed([repr(c) for c in unread])}. Every row is an account "
            f"closure that counts as churn, whatever {'it says' if len(unread) == 1 else 'they say'} (an involuntary one, "
            "for non-payment, as much as a cancellation). churnml predicts one kind of churn: to leave a kind out, remove "
            f"its rows from {config.table_name('churn_events')}, and those customers then count as staying."
        )
    # Purchases long after the first closure: an account that came back under the same id. A final
    # bill or the payments of a notice period come sooner, and a refund is no return.
    rows = con.execute(
        "WITH closed AS (SELECT customer_id, min(timestamp) AS first_ts FROM churn_events GROUP BY 1), "
        "back AS (SELECT DISTINCT c.customer_id, c.first_ts FROM closed AS c JOIN transactions AS t "
        f"ON t.customer_id = c.customer_id AND t.amount > 0 AND t.timestamp > c.first_ts + INTERVAL {RETURNED_AFTER_DAYS} DAY) "
        "SELECT b.customer_id, EXISTS (SELECT 1 FROM churn_events AS e WHERE e.customer_id = b.customer_id "
        "AND e.timestamp > b.first_ts) AS again FROM back AS b ORDER BY b.customer_id"
    ).fetchall()
    if rows:
        ids = [repr(c) for c, _ in rows[:EXAMPLES]]
        again = [repr(c) for c, closed in rows if closed]
        notes.append(
            f"{len(rows):,} customer{'s' if len(rows) > 1 else ''} made purchases more than {RETURNED_AFTER_DAYS} days "
            f"after their first churn event ({', '.join(ids)}{' …' if len(rows) > EXAMPLES else ''}): accounts that came "
            f"back under the same {named_column('customer_id', mapping['customer_id'])}. A churn event takes a customer out of the population for good, so they "
            "are neither scored nor learnt from after it"
            + (f", and {len(again):,} of them ({', '.join(again[:EXAMPLES])}{' …' if len(again) > EXAMPLES else ''}) "
               f"{'has' if len(again) == 1 else 'have'} a later churn event that counts as churn nowhere" if again else "")
            + ". To score a returning account, give it a new customer_id from its return on, or remove the churn event "
            "if the account did not close."
        )
    return notes


EMPTY_LEFT_OUT = {("service_events", "resolved_at"): "unresolved complaints, how long one has been open, resolution times"}
"""Optional event columns left out of the clean tables when not one row fills them, as if not
exported, and the features left out with them: read as empty, every complaint counted as still
open (the unresolved-complaint count was the complaint count, and a reason "2 unresolved complaints"
was given for complaints long settled)."""

_EMPTY_READS_AS = {
    ("service_events", "satisfaction"): ("every survey", "unanswered"),
    ("transactions", "category"): ("every purchase", "one without a category"),
    ("transactions", "channel"): ("every purchase", "one without a channel"),
}
"""Optional event columns the features read, and what they read when not one row fills them."""


SPARSE_RESOLVED_SHARE = 0.5
"""A ``resolved_at`` missing for more than this share of the complaints is taken as filled only now and
then (an export that fills it for some events): read as it is, every complaint without one is still
open. A helpdesk closes most complaints; the generated data leaves 1.7 % of them open at its end."""
SPARSE_RESOLVED_MIN_COMPLAINTS = 20
"""Complaints below which a share of open ones says nothing of how the column is filled."""


def _empty_optional(con: duckdb.DuckDBPyConnection, tables: tuple[str, ...],
                    columns: dict[str, dict[str, str]], config: Config) -> list[str]:
    """The notes on optional event columns (:func:`event_column_notes`) over the clean tables, after
    that on a ``resolved_at`` left out as empty in every row (:data:`EMPTY_LEFT_OUT`)."""
    present = {table: {name for name, *_ in con.execute(f"DESCRIBE {table}").fetchall()} for table in tables}
    left_out = [(table, column, columns[table][column]) for table, column in EMPTY_LEFT_OUT
                if table in tables and column in columns[table] and column not in present[table]]
    return (empty_left_out_notes(left_out, config)
            + event_column_notes(lambda sql: con.execute(sql).fetchone(), present, columns, config))


def event_column_notes(fetchone: Callable[[str], tuple], present: Mapping[str, Iterable[str]],
                       columns: Mapping[str, Mapping[str, str]], config: Config) -> list[str]:
    """Notes on optional event columns the features read, in one query over the clean tables:

    * those there but empty in every row (:data:`_EMPTY_READS_AS`), a warehouse column never filled:
      a ticket system's ``RESOLVED_AT`` left out of the export read as "every complaint still open",
      and the features moved against the same data without the column (which leaves those features
      out), without a word;
    * a ``resolved_at`` missing for most complaints (:data:`SPARSE_RESOLVED_SHARE`), filled for 3 of
      5,000: read so, nearly every complaint counts as still open, and the unresolved-complaint
      features count the complaints again.

    ``present``: table -> its clean columns; ``columns``: table -> contract column -> the column as
    written, for the names the notes give with ``config``'s (:func:`named_field`). ``fetchone`` runs the query (clean tables under their
    contract names) and returns its one row: DuckDB in validation, Spark (the query transpiled) in
    :func:`churnml.spark.read_tables`, so both engines give the same notes."""
    asked: list[tuple[str, str]] = []  # (table, what), in the order of the query's values
    parts = []
    for table in ("service_events", "transactions"):
        if table not in present:
            continue
        counts = {"rows": "count(*)"}
        counts.update({column: f"count({_q(column)})" for owner, column in _EMPTY_READS_AS
                       if owner == table and column in present[table]})
        if table == "service_events" and "resolved_at" in present[table]:
            counts["complaints"] = "count(CASE WHEN event_type = 'complaint' THEN 1 END)"
            counts["resolved complaints"] = "count(CASE WHEN event_type = 'complaint' THEN resolved_at END)"
        # One row of counts per table, side by side: each table read once, in one query.
        values = ", ".join(f"{sql} AS v{len(asked) + i}" for i, sql in enumerate(counts.values()))
        parts.append(f"(SELECT {values} FROM {table}) AS {table}_counts")
        asked += [(table, what) for what in counts]
    if len(asked) == len(parts):  # the row counts alone: nothing to note
        return []
    row = fetchone(f"SELECT * FROM {', '.join(parts)}")
    found = {key: int(value or 0) for key, value in zip(asked, row)}
    notes = []
    empty = [(named_field(config, table, column, columns[table][column]), meaning)
             for (table, column), meaning in _EMPTY_READS_AS.items()
             if (table, column) in found and found[(table, "rows")] and not found[(table, column)]]
    if empty:
        one = len(empty) == 1
        reads = [f"{what} {'reads as' if i == 0 else 'as'} {state}" for i, (_, (what, state)) in enumerate(empty)]
        notes.append(f"{_listed([named for named, _ in empty])} {'is' if one else 'are'} empty in every row: "
                     f"{', '.join(reads)}. If the export does not fill {'it' if one else 'them'}, leave "
                     f"{'it' if one else 'them'} out: the features read from {'it' if one else 'them'} are then left out "
                     "of the models, rather than read so.")
    complaints = found.get(("service_events", "complaints"), 0)
    resolved = found.get(("service_events", "resolved complaints"), 0)
    if complaints >= SPARSE_RESOLVED_MIN_COMPLAINTS and complaints - resolved > SPARSE_RESOLVED_SHARE * complaints:
        named = named_field(config, "service_events", "resolved_at", columns["service_events"]["resolved_at"])
        notes.append(
            f"{named} is filled for {resolved:,} of {complaints:,} complaints ({resolved / complaints:.1%}): the others read "
            f"as still open, so the unresolved-complaint features (unresolved complaints, how long the oldest has been "
            f"open) count {complaints - resolved:,} complaints as unresolved from the day each was made, and a reason "
            "such as \"2 unresolved complaints\" may name complaints long settled. If the export fills it only for some "
            "events, fill it wherever an event was resolved; if it cannot, leave the column out: the features read "
            "from it are then left out of the models.")
    return notes


def empty_left_out_notes(left_out: Iterable[tuple[str, str, str]], config: Config) -> list[str]:
    """The note on optional event columns (:data:`EMPTY_LEFT_OUT`; ``left_out``: table, contract
    column, raw column; named with ``config``'s names, :func:`named_field`) left out as empty in every
    row: validation's, and the Spark reader's."""
    return [f"{named_field(config, table, column, raw)} is empty in every row, so it is left out, as if not exported, and "
            f"the features read from it with it ({EMPTY_LEFT_OUT[(table, column)]}): read so, every complaint would "
            "count as still open. If the export can fill it, fill it where an event was resolved."
            for table, column, raw in left_out]


def mapped_but_missing(table: str, config: Config) -> str:
    """The start of the error for an optional table the config names under ``[tables]`` and the
    data lacks: a typo in the cancellations' name ran on without them, churn by inactivity, a
    model graded A for another problem, and only a note said so."""
    return f"[tables] {table} = {config.table_name(table)!r} is not found"


def declared_end(last_event: pd.Timestamp | None, declared: str) -> pd.Timestamp | None:
    """The data's end as ``Dataset.data_end`` holds it: the latest event, or the day of
    ``[input] data_end`` when that is later (the user says the data is complete through it,
    quiet days included). Rows after the declared day are set aside, so it is never earlier.
    Before, the declared day only moved the quarantine: train and score still took the last
    event for the end, and warned to set the very setting that was set."""
    if not declared:
        return last_event
    day = pd.Timestamp(declared)
    return day if last_event is None else max(pd.Timestamp(last_event), day)


def _years_since(con: duckdb.DuckDBPyConnection, day: pd.Timestamp) -> int:
    """Whole years from ``day`` to the last transaction."""
    last = con.execute("SELECT max(timestamp) FROM transactions").fetchone()[0]
    return int((pd.Timestamp(last) - day).days // 365.25) if last is not None else 0


def _empty_tables(con: duckdb.DuckDBPyConnection, found: dict[str, str], headers: dict[str, list[str]]) -> dict[str, str]:
    """Tables without a row: a required one stops validation; an optional one is taken as absent
    (returned: table -> why, for the notes). A header-only cancellations file made every
    customer a non-churner and train failed later with "no churners"; an empty customers file
    was "no column 'customer_id' … Columns found: column0"."""
    empty = {}
    for table, where in found.items():
        if headers.get(table) == []:
            why = "0 bytes"
        elif con.execute(f"SELECT 1 FROM raw_{table} LIMIT 1").fetchone() is None:
            why = "a header row and no data rows" if where.endswith((".csv", ".csv.gz")) else "no rows"
        else:
            continue
        empty[table] = empty_table(table, where, why)
        con.execute(f"DROP VIEW IF EXISTS raw_{table}")
    return empty


def empty_table(table: str, where: str, why: str) -> str:
    """The rule for a table without a row, on any engine (validation, Spark's read): a required
    one stops; an optional one is taken as absent, and what :func:`missing_table_notes` says of
    it is returned. Spark read an empty churn_events as present: no closures, so nobody churned,
    where validation used churn by inactivity.

    >>> empty_table("churn_events", "data/churn_events.parquet", "no rows")
    'data/churn_events.parquet is empty (no rows)'

    Raises
    ------
    DataError
        ``table`` is required.
    """
    if TABLES[table].required:
        raise DataError(
            f"Table {table!r} ({where}) is empty ({why}); it is required. Export it again with its rows (an export "
            "that stopped or a filter that matched nothing leaves such a file), or point churnml at the right data."
        )
    return f"{where} is empty ({why})"


def named_table(config: Config, name: str) -> str:
    """A contract table as messages name it: ``name``, or the user's name with it (``cancellations (churn_events)``)."""
    yours = config.table_name(name)
    return name if yours == name else f"{yours} ({name})"


def quoted_table(config: Config, name: str) -> str:
    """:func:`named_table` after "table", as messages write it: ``'customers'``, or ``kunden (customers)``."""
    return repr(name) if config.table_name(name) == name else named_table(config, name)


def named_field(config: Config, table: str, column: str, raw: str | None = None) -> str:
    """A column of a contract table as messages name it, ``table.column`` (``raw``: the column as
    written, the contract's ``column`` by default; a customer attribute is the user's own): in the
    contract table's name, as :func:`named_column` names the column, or, where the config maps the
    table, in the export's names with the contract's after them. "service_events.resolved_at" of an
    export's tickets.csv read as another table.

    >>> mapped = Config(tables={"service_events": "tickets", "customers": "kunden"})
    >>> named_field(Config(), "service_events", "satisfaction", "CSAT"), named_field(mapped, "service_events", "satisfaction", "CSAT")
    ("service_events.satisfaction (your column 'CSAT')", 'tickets.CSAT (service_events.satisfaction)')
    >>> named_field(mapped, "customers", "plan"), named_field(mapped, "service_events", "channel")
    ('kunden.plan (customers)', 'tickets.channel (service_events)')
    """
    raw = column if raw is None else raw
    yours = config.table_name(table)
    if yours == table:
        return f"{table}.{named_column(column, raw)}"
    return f"{yours}.{raw} ({table}{'' if raw == column else f'.{column}'})"


_LIKELY_NAMES = {"customers": ("customer", "client", "member", "subscriber", "account", "user"),
                 "transactions": ("order", "invoice", "sale", "purchase", "payment", "transaction", "trade", "bill",
                                  "charge"),
                 "service_events": ("ticket", "support", "service", "complain", "call", "case", "survey", "contact"),
                 "churn_events": ("cancel", "churn", "clos", "termin", "unsubscrib", "leav")}
"""Parts of file names that say what an unread file likely holds, for the [tables] line a message suggests."""


def likely_name(table: str, files: Iterable[str]) -> str | None:
    """The name, without its suffix, of the first of ``files`` (:func:`churnml.io.unread_files`) whose
    name says it may hold ``table`` (``orders.csv`` for transactions), for the [tables] line to suggest.

    >>> likely_name("transactions", ["cancellations.csv", "orders.csv"]), likely_name("customers", ["x.csv"])
    ('orders', None)
    """
    stems = [_file_stem(name) for name in files]
    return next((stem for stem in stems if any(word in stem.lower() for word in _LIKELY_NAMES[table])), None)


def _file_stem(name: str) -> str:
    """A data file's name as [tables] maps it: without ``.csv``, ``.csv.gz`` or ``.parquet``."""
    return re.sub(r"(\.csv\.gz|\.csv|\.parquet)$", "", name)
_HOLDS = {"service_events": "the service events", "churn_events": "the account closures"}


def missing_table_notes(tables: Iterable[str], config: Config, empty: Mapping[str, str] = {},
                        unread: Iterable[str] = ()) -> list[str]:
    """Notes on the optional tables the data lacks, or holds ``empty`` (table -> why; taken as absent),
    and what is used without them (any engine); with the data folder's ``unread`` files
    (:func:`churnml.io.unread_files`), which may hold them under another name.

    >>> missing_table_notes(("customers", "transactions", "service_events"), Config())[0][:54]
    'No churn_events table: a customer counts as churned af'
    """
    service, closures = named_table(config, "service_events"), named_table(config, "churn_events")
    notes = []
    if "service_events" in empty:
        notes.append(f"{service}: {empty['service_events']}, so it is left out, and the service-history "
                     "features (complaints, tickets, calls, satisfaction) with it. Remove it or fill it.")
    elif "service_events" not in tables:
        notes.append(f"No {service} table: the service-history features "
                     "(complaints, tickets, calls, satisfaction) are left out.")
    if "churn_events" in empty:
        notes.append(f"{closures}: {empty['churn_events']}, so churn by inactivity is used: a customer "
                     f"counts as churned after a horizon without transactions (active: one in the last "
                     f"{config.problem.active_days} days). Remove it or fill it with the account closures.")
    elif "churn_events" not in tables:
        notes.append(f"No {closures} table: a customer counts as churned after "
                     f"a horizon without transactions, and as active with one in the last {config.problem.active_days} "
                     "days (the non-contractual rule). Add account closures as churn_events for the contractual one.")
    absent = [t for t in ("service_events", "churn_events") if t not in tables and t not in empty]
    unread = list(unread)
    if absent and unread:
        # An export's cancellations.csv or tickets.csv, never mapped: the contractual rule and the
        # service features were left out with a note that did not say the file was there.
        guesses = [f'{t} = "{stem}"' for t in absent if (stem := likely_name(t, unread))]
        example = ", ".join(guesses) or f'{absent[-1]} = "{_file_stem(unread[0])}"'
        notes.append(f"{_listed(unread)} in the data {'is' if len(unread) == 1 else 'are'} not read: churnml reads the "
                     "files named after its tables, or as [tables] maps them. If one holds "
                     f"{' or '.join(_HOLDS[t] for t in absent)}, "
                     f"map it in the config, e.g. [tables] {example}, and its columns under [columns.<churnml's table name>].")
    return notes


def _notes(con: duckdb.DuckDBPyConnection, tables: tuple[str, ...], config: Config,
           transaction_ids: bool = True, empty: Mapping[str, str] = {}, event_type_column: str | None = None,
           signup_column: str = "signup_date", unread: Iterable[str] = ()) -> list[str]:
    """Data that is used, but perhaps not as the user expects (and optional tables it lacks, or
    that are ``empty``: table -> why; ``unread``: files of the folder no table is read from).
    ``event_type_column``: the service events' raw event type column, to name ``[input.event_types]``
    keys that match no event; ``signup_column``: the customers' raw sign-up date column, for the notes naming it."""
    known = KNOWN_EVENT_TYPES

    notes = missing_table_notes(tables, config, empty, unread)
    if "service_events" in tables:
        rows = con.execute(
            f"SELECT event_type, count(*) FROM service_events WHERE event_type NOT IN ({', '.join(_lit(k) for k in known)}) "
            "GROUP BY 1 ORDER BY 2 DESC, 1"
        ).fetchall()
        if rows:
            shown = ", ".join(f"{kind!r} ({n:,})" for kind, n in rows[:5]) + (" …" if len(rows) > 5 else "")
            yours = config.table_name("service_events")
            notes.append(
                f"{sum(n for _, n in rows):,} service events{'' if yours == 'service_events' else f' of {yours}'} have "
                f"event types{'' if event_type_column in (None, 'event_type') else f' (your column {event_type_column!r})'} "
                "that are counted together as 'other': "
                f"{shown}. Types with features of their own: {', '.join(known)}; map yours where they mean the same, "
                'e.g. [input.event_types] "support ticket" = "ticket".'
            )
        if config.input.event_types and event_type_column is not None:
            notes += _unmatched_event_types(con, config.input.event_types, event_type_column, named_table(config, "service_events"))
        # Service events have no id: a repeated row counts twice (two complaints, two tickets), as
        # a doubled page of an export did, unnoticed.
        repeats = _repeated_rows(con, "service_events")
        if repeats:
            notes.append(
                f"{repeats:,} rows of {named_table(config, 'service_events')} repeat another row in every column and "
                "are kept as separate events (each counts, as a complaint, ticket or call of its own). If they are "
                "duplicates from the export, remove them." if repeats > 1 else
                f"1 row of {named_table(config, 'service_events')} repeats another row in every column and is kept "
                "as a separate event (it counts as a complaint, ticket or call of its own). If it is a duplicate from "
                "the export, remove it."
            )
    if not transaction_ids:
        # Without ids a repeated row cannot be told from a second purchase, so it is kept; an
        # export that doubled rows would double revenue, unnoticed.
        repeats = _repeated_rows(con, "transactions")
        if repeats:
            notes.append(
                f"{int(repeats):,} rows of {named_table(config, 'transactions')} repeat another row in every column and are kept as "
                "separate purchases. If they are duplicates from the export, remove them, or map a column that "
                "identifies each transaction as transaction_id (repeated ids are set aside)."
            )
    n_customers = con.execute("SELECT count(*) FROM customers").fetchone()[0]
    if "signup_date" in {name for name, *_ in con.execute("DESCRIBE customers").fetchall()}:
        # Tenures of 125 years: 1900-01-01 (or 1970-01-01) written for "unknown" reads as a date.
        shared = con.execute(
            f"SELECT signup_date, count(*) FROM customers WHERE signup_date < TIMESTAMP '{PLACEHOLDER_BEFORE}' "
            "GROUP BY 1 HAVING count(*) > 1 ORDER BY 2 DESC, 1 LIMIT 1").fetchone()
        if shared:
            day, n = pd.Timestamp(shared[0]), shared[1]
            ids = [v for v, in con.execute(f"SELECT customer_id FROM customers WHERE signup_date = TIMESTAMP '{day}' "
                                           f"ORDER BY 1 LIMIT {EXAMPLES}").fetchall()]
            signup = named_column("signup_date", signup_column)
            notes.append(
                f"{n:,} customers ({n / n_customers:.1%}) share the {signup} {day:%Y-%m-%d} (e.g. "
                f"{', '.join(repr(i) for i in ids)}), a date often written for 'unknown': their tenure reads as "
                f"{_years_since(con, day)} years. If it means unknown, leave {signup_column} empty for them (a customer "
                "without one counts from their first transaction)."
            )
        notes += _paid_before_signup(con, "churn_events" in tables, signup_column)
    return notes


def category_counts(fetchone: Callable[[str], tuple], attributes: Mapping[str, str],
                    customers: str = "customers") -> tuple[int, dict[str, int]]:
    """How many customers there are, and how many different values each categorical attribute
    has: one pass over the table for every column, for :func:`many_values_notes` and
    :func:`leaky_attribute_notes`.

    ``fetchone`` runs a query over the clean customers table (named ``customers`` in it) and returns
    its one row, as for :func:`code_columns`: DuckDB here, Spark in :func:`churnml.spark.read_tables`."""
    categorical = [column for column, kind in attributes.items() if kind == "categorical"]
    row = fetchone("SELECT count(*)" + "".join(f", count(DISTINCT {_q(column)})" for column in categorical)
                   + f" FROM {customers}")
    return row[0], dict(zip(categorical, row[1:]))


def id_like_columns(n_customers: int, counts: Mapping[str, int]) -> dict[str, int]:
    """The categorical attributes with about one value per customer (``counts``: column -> its
    number of values, :func:`category_counts`): an e-mail address, a free-text field."""
    return {column: n for column, n in counts.items() if n > ID_LIKE_MIN_VALUES and n >= 0.5 * n_customers}


def many_valued_columns(n_customers: int, counts: Mapping[str, int], max_levels: int) -> set[str]:
    """The categorical attributes :func:`many_values_notes` names: id-like, or with more than
    ``max_levels`` values, which `churnml train` leaves out of the models."""
    return set(id_like_columns(n_customers, counts)) | {column for column, n in counts.items() if n > max_levels}


def many_values_notes(n_customers: int, counts: Mapping[str, int], max_levels: int, config: Config) -> list[str]:
    """Notes on the categorical attributes with many values (``counts``: column -> its number of
    values among the ``n_customers``, :func:`category_counts`): about one per customer (an e-mail
    address, a free-text field: id-like, :func:`id_like_columns`), or more than ``max_levels``
    (``[training] max_categorical_levels``), which `churnml train` leaves out of the models.
    Validation named only the first: a telecom export's town (800 values) and phone model (98) read
    as used until train's closing warning said otherwise. ``config``: the names the notes give (:func:`named_field`)."""
    id_like = id_like_columns(n_customers, counts)
    # One note for them all: a note per column repeated the advice (a CRM's notes field, then its e-mail address).
    notes = []
    if len(id_like) == 1:
        (column, n), = id_like.items()
        notes.append(f"{named_field(config, 'customers', column)} has {n:,} different values for {n_customers:,} "
                     "customers: as a feature it works like an id, which the models cannot learn from. Leave it out of "
                     f"{config.table_name('customers')} if it is one (an "
                     "e-mail address, a name, a free-text field).")
    elif id_like:
        counted = _listed([f"{named_field(config, 'customers', column)} ({n:,} values)" for column, n in id_like.items()])
        notes.append(f"{counted}, for {n_customers:,} customers: as features they work like ids, which the models cannot "
                     f"learn from. Leave each that is one out of {config.table_name('customers')} (an e-mail address, a "
                     "name, a free-text field).")
    many = [(column, n) for column, n in counts.items() if n > max_levels and column not in id_like]
    if many:
        # "customers.PLZ 664" read as a postcode: the count says what it counts, as train's warning does.
        shown = ", ".join(f"{named_field(config, 'customers', column)} ({n:,} values)" for column, n in many)
        notes.append(
            f"{'These columns have' if len(many) > 1 else 'This column has'} more different values than [training] "
            f"max_categorical_levels ({max_levels:,}): {shown}. `churnml train` leaves a column out of the models when "
            "the customers it trains on have that many of its values (it says which), since they name groups of "
            "customers rather than describe them, and the trees fit the rare ones to noise. To use one, map it to fewer "
            "groups in a column of its own (a region for a town or postcode, the maker for a device model), or raise "
            "the setting.")
    return notes


def code_columns(fetchone: Callable[[str], tuple], attributes: Mapping[str, str],
                 customers: str = "customers") -> dict[str, list[str]]:
    """The categorical attributes that are codes of digits written with a leading zero (a category
    for it: :func:`kind_from_counts`), each with a few such values: column -> examples.

    ``fetchone`` runs a query over the clean customers table (named ``customers`` in it) and returns
    its one row: DuckDB here, Spark (the query transpiled) in :func:`churnml.spark.read_tables`, so
    both engines describe the same columns as codes."""
    categorical = [column for column, kind in attributes.items() if kind == "categorical"]
    if not categorical:
        return {}
    row = fetchone("SELECT " + ", ".join(
        f"count({_q(column)}), count(TRY_CAST({_q(column)} AS DOUBLE)), "
        f"list_sort(list(DISTINCT {_q(column)}) FILTER ({zero_padded_sql(column)}))" for column in categorical)
        + f" FROM {customers}")  # one pass over the table for every column
    codes = {}
    for i, column in enumerate(categorical):
        present, numbers, examples = row[3 * i:3 * i + 3]
        if examples and numbers >= (1 - PLACEHOLDER_SHARE) * present:
            codes[column] = list(examples[:EXAMPLES])
    return codes


def code_notes(codes: Mapping[str, list[str]], config: Config) -> list[str]:
    """The note on customer attributes read as categories because their numbers are codes written with
    leading zeros (``codes``: column -> examples, :func:`code_columns`; named with ``config``'s names)."""
    if not codes:
        return []
    shown = "; ".join(f"{named_field(config, 'customers', column)} ({', '.join(repr(v) for v in examples)})"
                      for column, examples in codes.items())
    many = len(codes) > 1
    return [f"{shown} {'hold codes' if many else 'holds a code'} written with leading zeros, so {'they are' if many else 'it is'} "
            "read as categories, each value as written: as numbers '010' would read as 10, and the models would order "
            "the codes by size. Nothing to do; a code with more than [training] max_categorical_levels values (a "
            "postal code across a country) is left out of the models by `churnml train`, which says so: map it to "
            "fewer groups (a region, the first digits) in a column of its own to use it."]


LIFETIME_RANK_CORRELATION = 0.95
"""A numeric customer attribute whose ranks follow a customer's transaction count or revenue up to
the data's end this closely is a total as of the export (orders to date, lifetime spend, months
subscribed), not a description of the customer."""


def lifetime_total_notes(fetchone: Callable[[str], tuple], attributes: Mapping[str, str], config: Config) -> list[str]:
    """Notes on numeric attributes that are totals of the customer's history as of the export
    (:data:`LIFETIME_RANK_CORRELATION`, Spearman's, over the customers with a value, at least 50).
    The customers table is read as it is today at every cutoff: such a column tells the models at a
    past cutoff how much the customer went on to buy. A CRM's TotalOrders raised a subscription
    export's test ROC AUC from 0.61 to 0.76, grade C to B, promoted without a word; on the customers
    scored today it holds nothing the features do not.

    ``fetchone`` runs a query over the clean ``customers`` and ``transactions`` tables and returns its
    one row: DuckDB here, Spark (the query transpiled) in :func:`churnml.spark.read_tables`, so both
    engines name the same columns. One query: each customer's history once (43 M transactions at a
    million customers), then the ranks of every column among the customers with a value. ``config``: the
    names the notes give (:func:`named_field`)."""
    numeric = [column for column, kind in attributes.items() if kind == "numeric"]
    if not numeric:
        return []
    # Clean attributes are finite or NULL (attribute_sql): the customers with a value rank among themselves,
    # their own partition of each window, and corr skips the NULL pairs of the others.
    ranks = []
    for i, column in enumerate(numeric):
        value = f"c.{_q(column)}"
        among = f"PARTITION BY {value} IS NULL"
        ranks += [f"CASE WHEN {value} IS NOT NULL THEN rank() OVER ({among} ORDER BY {value}) END AS v{i}",
                  f"rank() OVER ({among} ORDER BY coalesce(h.n, 0)) AS n{i}",
                  f"rank() OVER ({among} ORDER BY coalesce(h.revenue, 0)) AS r{i}"]
    row = fetchone(
        f"SELECT {', '.join(f'count(v{i}), corr(v{i}, n{i}), corr(v{i}, r{i})' for i in range(len(numeric)))} "
        f"FROM (SELECT {', '.join(ranks)} FROM customers AS c LEFT JOIN (SELECT customer_id, count(*) AS n, "
        "sum(amount) AS revenue FROM transactions GROUP BY customer_id) AS h ON c.customer_id = h.customer_id) AS ranked")
    notes = []
    for i, column in enumerate(numeric):
        # NULL or NaN when every customer has as many transactions (or as much revenue): nothing to follow.
        rows, by_count, by_revenue = row[3 * i], *(float(r) if r is not None and np.isfinite(r) else 0.0
                                                      for r in row[3 * i + 1:3 * i + 3])
        if rows < 50 or max(by_count, by_revenue) < LIFETIME_RANK_CORRELATION:
            continue
        follows = "count of transactions" if by_count >= by_revenue else "revenue"
        notes.append(
            f"{named_field(config, 'customers', column)} follows each customer's {follows} up to the data's end (rank correlation "
            f"{max(by_count, by_revenue):.2f}): a total as of the export, such as orders to date or lifetime spend. The "
            "customers table is read as it is today at every cutoff, so at past cutoffs it tells the models what the "
            f"customer went on to buy, and the test metrics overstate what the scores can do. Leave it out of {config.table_name('customers')} "
            "(churnml counts transactions and revenue at each cutoff from the transactions), or keep its value at "
            "sign-up.")
    return notes


LEAK_AUC = 0.95
"""A customer attribute that alone ranks the customers who close their account at this ROC AUC or
better (either way round) most likely records what happened later: a status, a closing date.
`churnml validate` measures it against every customer's closure (:func:`leaky_attribute_notes`),
`churnml train` against the test cutoff's churners (:func:`churnml.train.leaky_attributes`)."""
LEAK_WHY = ("the customers table is read as it is today at every cutoff, so a column that records a cancellation, a "
            "status or a later date tells the models the answer, and they fail on customers still active. Remove it "
            "from customers (or keep its value at sign-up)")
"""Why such a column must go, and what to do, as validation's note and train's warning both say it."""
LEAK_MIN_CUSTOMERS = 20
"""Validation measures the separation only with at least this many customers with a churn event and
this many without (a few closures line up with some column by chance), and takes a category's value
for what it says of closures only when this many customers hold it."""


def leaky_attribute_notes(fetchone: Callable[[str], tuple], attributes: Mapping[str, str], config: Config,
                          skip: Iterable[str] = ()) -> list[str]:
    """The note naming customer attributes that alone separate the customers with a churn event
    from those without one (ROC AUC of :data:`LEAK_AUC` or more): a CRM status "Gekündigt", a
    churn reason, a cancellation date written as a number (a date column is left out of the models
    already: :func:`_dated_note`). The table is read as it is today at
    every cutoff, so such a column hands the models the answer; `churnml train` finds it only after a
    whole run (:func:`churnml.train.leaky_attributes`), and this says it before. ``skip``: the
    categories with too many values for the models (:func:`many_valued_columns`), which train leaves
    out and does not check (a closing date written as text: its note says so), and id-like ones,
    whose values name a customer or a household.

    A number is ranked by its value, its empty cells lowest or highest, whichever separates better,
    either way round (an empty cancellation date for every open account separates as well as the
    dates do). A category scores each customer by the share of closures among the customers with its
    value, a value held by fewer than :data:`LEAK_MIN_CUSTOMERS` by the overall share: a rare value's
    share says little, and values of one customer each (a date written as text) would separate
    anything.

    ``fetchone`` runs a query over the clean ``customers`` and ``churn_events`` tables and returns its
    one row: DuckDB here, Spark (the query transpiled) in :func:`churnml.spark.read_tables`. One
    query: the customers joined once to the ids with a churn event, grouped by each column's score,
    and the groups ordered: 0.5 s for eight columns at a million customers (ranking every customer
    instead took 12-15 s for five on a busy machine). ``config``: the names the note gives (:func:`named_field`)."""
    skip = set(skip)
    columns = [(column, kind) for column, kind in attributes.items() if kind in ("numeric", "categorical") and column not in skip]
    if not columns:
        return []
    # Each column apart: its customers grouped by score (a number's value; a category's share of closures), then
    # the (closed, open) pairs in which the closed customer scores higher, ties counted half (Mann-Whitney).
    # One join, which DuckDB computes once for every column (three times as fast as a join per column).
    joined = (f"WITH joined AS (SELECT {''.join(f'c.{_q(column)} AS a{i}, ' for i, (column, _) in enumerate(columns))}"
              "coalesce(e.closed, 0) AS closed FROM customers AS c LEFT JOIN (SELECT customer_id, 1 AS closed FROM "
              "churn_events GROUP BY customer_id) AS e ON c.customer_id = e.customer_id), "
              "totals AS (SELECT count(*) AS n, coalesce(sum(closed), 0) AS closed FROM joined) ")
    parts = []
    for i, (column, kind) in enumerate(columns):
        if kind == "numeric":
            by_score = (f"SELECT a{i} AS s, sum(closed) AS c, count(*) - sum(closed) AS o FROM joined "
                        f"WHERE a{i} IS NOT NULL GROUP BY a{i}")
        else:  # NULL is a value too
            by_score = (f"SELECT CAST(CASE WHEN v.n >= {LEAK_MIN_CUSTOMERS} THEN v.k ELSE t.closed END AS DOUBLE) / "
                        f"CASE WHEN v.n >= {LEAK_MIN_CUSTOMERS} THEN v.n ELSE t.n END AS s, sum(v.k) AS c, "
                        f"sum(v.n - v.k) AS o FROM (SELECT sum(closed) AS k, count(*) AS n FROM joined GROUP BY a{i}) AS v, "
                        "totals AS t GROUP BY 1")
        # below: the open customers scoring at most as high (the groups' scores are distinct), o / 2 of them as high.
        # The window's partition is the one of every group (s is never NULL): Spark wants one named.
        parts.append(f"(SELECT coalesce(sum(c), 0) AS c{i}, coalesce(sum(c + o), 0) AS n{i}, "
                     f"coalesce(sum(c * (below - o / 2.0)), 0) AS u{i} FROM (SELECT c, o, sum(o) OVER "
                     f"(PARTITION BY s IS NULL ORDER BY s) AS below FROM ({by_score}) AS g) AS w) AS p{i}")
    row = fetchone(f"{joined}SELECT t.*{''.join(f', p{i}.*' for i in range(len(columns)))} FROM totals AS t, "
                   f"{', '.join(parts)}")
    n_customers, closed = int(row[0]), int(row[1] or 0)
    still_open = n_customers - closed
    if min(closed, still_open) < LEAK_MIN_CUSTOMERS:
        return []
    pairs = closed * still_open
    found = []
    for i, (column, kind) in enumerate(columns):
        closed_with_value, with_value, above = int(row[2 + 3 * i]), int(row[3 + 3 * i]), float(row[4 + 3 * i])
        open_with_value = with_value - closed_with_value
        closed_empty, open_empty = closed - closed_with_value, still_open - open_with_value
        if kind == "categorical":  # every customer has a score, the closed ones' higher as the scores are built
            aucs = [above / pairs]
        else:
            both_empty = closed_empty * open_empty / 2
            empty_lowest = (above + closed_with_value * open_empty + both_empty) / pairs
            empty_highest = (above + closed_empty * open_with_value + both_empty) / pairs
            aucs = [empty_lowest, 1 - empty_lowest, empty_highest, 1 - empty_highest]
        if max(aucs) >= LEAK_AUC:
            found.append((column, max(aucs)))
    if not found:
        return []
    named = _listed([f"{named_field(config, 'customers', column)} (ROC AUC {auc:.3f})" for column, auc in found])
    many = len(found) > 1
    return [f"{named} {'each alone separate' if many else 'alone separates'} the {closed:,} customers with a churn event "
            f"from the {still_open:,} without one: {LEAK_WHY} before training; `churnml train` would name "
            f"{'them' if many else 'it'} after the run and not promote the models."]


def _paid_before_signup(con: duckdb.DuckDBPyConnection, closures: bool, signup_column: str = "signup_date") -> list[str]:
    """A note naming customers whose first transaction lies more than :data:`PAID_BEFORE_SIGNUP_DAYS`
    before their ``signup_date``. A customer is in the population at a cutoff only once signed up, so
    they sat out the cutoffs in between though paying, and their tenure counted from the sign-up: a CRM
    migration that wrote its own date as everyone's sign-up did so to every older customer, unsaid.
    ``closures``: the data has churn_events (a re-signed customer's sign-up is then right); ``signup_column``:
    the sign-up date's raw column, as the note names it."""
    rows = con.execute(
        "SELECT c.customer_id, t.first_ts, c.signup_date FROM customers AS c JOIN (SELECT customer_id, "
        "min(timestamp) AS first_ts FROM transactions GROUP BY 1) AS t USING (customer_id) "
        f"WHERE t.first_ts < c.signup_date - INTERVAL {PAID_BEFORE_SIGNUP_DAYS} DAY ORDER BY c.customer_id"
    ).fetchall()
    if not rows:
        return []
    (first_id, first_ts, signup), n = rows[0], len(rows)
    others = "".join(f"; {c!r}" for c, *_ in rows[1:EXAMPLES]) + ("; …" if n > EXAMPLES else "")
    return [
        f"{n:,} customer{'s' if n > 1 else ''} made their first transaction more than {PAID_BEFORE_SIGNUP_DAYS} days "
        f"before their {named_column('signup_date', signup_column)} (e.g. {first_id!r}: {pd.Timestamp(first_ts):%Y-%m-%d}, signed up "
        f"{pd.Timestamp(signup):%Y-%m-%d}{others}): they are not in the population at the "
        f"cutoffs between the two, though they were paying, and their tenure counts from the sign-up. If {signup_column} is not when they "
        "became customers there (a migration into the CRM, a renewed contract), leave it empty for them: a customer "
        "without one counts from their first transaction."
        + (" Keep it where a customer closed an account and signed up again under the same id: their churn event "
           "before the new sign-up is then set aside, and they count from the new sign-up on." if closures else "")
    ]


def _map_columns(
    con: duckdb.DuckDBPyConnection, table: str, spec: TableSpec, config: Config, where: str
) -> dict[str, str]:
    """:func:`map_columns` of the raw table ``raw_<table>``."""
    return map_columns(table, spec, config, [row[0] for row in con.execute(f"DESCRIBE raw_{table}").fetchall()], where)


def map_columns(table: str, spec: TableSpec, config: Config, raw: list[str], where: str) -> dict[str, str]:
    """Contract column -> the raw column (of ``raw``) holding it; extra customer columns map to
    themselves. Every engine reads a table's columns through here.

    A name matches whatever its case, surrounding spaces and byte-order mark when no column is written
    exactly so (:func:`churnml.io.folded_name`: Snowflake writes CUSTOMER_ID, and every column of every
    table had to be mapped; a "Sign-up Date " mapped as shown, without its trailing space, was "not
    there"); SQL reads the column by its name as written either way.

    Raises
    ------
    DataError
        A required column is missing, or an optional one the config maps (``where`` says which
        file or folder).
    """
    mapping: dict[str, str] = {}
    folded: dict[str, str] = {}
    for name in raw:
        folded.setdefault(io.folded_name(name), name)
    for column in spec.all_columns:
        user = config.column_name(table, column)
        if user in raw:
            mapping[column] = user
        elif io.folded_name(user) in folded:
            mapping[column] = folded[io.folded_name(user)]
        elif column in spec.required_columns:
            if len(raw) == 1 and any(sep in raw[0] for sep in ",;\t|"):
                raise DataError(
                    f"Table {table!r} ({where}) could not be split into columns: the whole header reads as one "
                    f"column ({raw[0][:80]!r}). Usually a row with another number of fields than the header "
                    "(a cut-off last line, or a row with extra fields) broke the detection; fix it or export "
                    "the file again."
                )
            # A CRM's "Customer ID": the line to write, rather than "<your column>".
            loose = next((name.replace("\ufeff", "").strip() for name in raw
                          if user == column and io.loose_name(name) == io.loose_name(column)), None)
            hint = (
                f'map it in the config: [columns.{table}] {column} = {_toml_string(loose or "<your column>")}'
                if user == column
                else f"the config maps it to {user!r}, which is not there either"
            )
            raise DataError(
                f"Table {table!r} ({where}) has no column {user!r}; it is required. "
                f"Columns found: {', '.join(raw) or '(none)'}{'' if loose else _close_column(user, raw)}. Add the column, "
                f"or {hint}."
            )
        elif column in config.columns.get(table, {}):
            # A typo in a mapped optional column ran on without it (a sign-up date mapped to
            # "join_on" for joined_on: no sign-up dates, and joined_on a date column left out), as a
            # mapped optional table did (:func:`mapped_but_missing`).
            raise DataError(
                f"Table {table!r} ({where}) has no column {user!r}, which the config maps {column} to. "
                f"Columns found: {', '.join(raw) or '(none)'}{_close_column(user, raw)}. "
                f'Fix the name under [columns.{table}] {column} = "<your column>", or remove the mapping if the '
                f"table has no {column}."
            )
    if table == "customers":
        used = set(mapping.values())
        for column in raw:
            if column not in used:
                mapping[column] = column
    return mapping


def _toml_string(text: str) -> str:
    """``text`` as a TOML basic string, for a config line a message gives (a name with a quote or a
    backslash pasted between quotes would not read): JSON's escapes are TOML's."""
    return json.dumps(text, ensure_ascii=False)


def _close_column(name: str, raw: list[str]) -> str:
    """" ('cancelled_at' is close)" for the column of ``raw`` nearest a mapped name the data lacks
    (a typo: canceled_at), else nothing."""
    close = difflib.get_close_matches(name, raw, n=1, cutoff=0.6)
    return f" ({close[0]!r} is close)" if close else ""


def _repeated_columns(con: duckdb.DuckDBPyConnection, table: str, mapping: dict[str, str], header: list[str] | None,
                      where: str) -> list[str]:
    """Stop when a contract column's name appears twice in a file's header, and return notes for
    other repeated names. The reader renames a repeat (``amount``, ``amount_1``) and the first
    won: a transactions export with the amount in cents first and in currency second validated
    and trained on amounts 100 times too large. ``header`` is the file's header as written
    (:func:`churnml.io.file_header`); names that differ only in case or surrounding spaces count
    as the same, as they do for the reader."""
    described = [name for name, *_ in con.execute(f"DESCRIBE raw_{table}").fetchall()]
    if not header or len(header) != len(described):
        return []
    groups: dict[str, list[int]] = {}
    for i, name in enumerate(header):
        groups.setdefault(name.strip().casefold(), []).append(i)
    contract = {raw: column for column, raw in mapping.items() if column in TABLES[table].all_columns}
    notes = []
    for positions in groups.values():
        if len(positions) < 2:
            continue
        written = header[positions[0]].strip()
        places = _listed([str(i + 1) for i in positions])
        used = [contract[described[i]] for i in positions if described[i] in contract]
        if used:
            column = used[0]
            mapped = "" if written == column else f" (mapped to {column} under [columns.{table}])"
            raise DataError(
                f"Table {table!r} ({where}) has {len(positions)} columns named {written!r}{mapped}: columns {places} of its "
                f"header, and churnml cannot tell which is the {column}: only the first would be read, the "
                f"other{'s' if len(positions) > 2 else ''} ignored. Remove or rename the ones that are not, then rerun."
            )
        notes.append(
            f"{where} has {len(positions)} columns named {written!r} (columns {places} of its header); they are read as "
            f"{_listed([repr(described[i]) for i in positions])}. If one is a copy, remove it; if they hold different "
            "things, give them different names."
        )
    return notes


def _listed(items: list[str]) -> str:
    """``a``, ``a and b``, ``a, b and c``."""
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} and {items[-1]}"


_ZONED_TIMESTAMPS = frozenset({"TIMESTAMP WITH TIME ZONE", "TIMESTAMPTZ_NS"})
"""Types of date columns stored with a time zone: microseconds, and nanoseconds (pandas' unit for a
tz-aware column), which were read as text, without the note that their days are UTC days."""
_NATIVE_TIMESTAMPS = frozenset({"TIMESTAMP", "TIMESTAMP_S", "TIMESTAMP_MS", "TIMESTAMP_NS", "DATE", *_ZONED_TIMESTAMPS})
_NATIVE_NUMBERS = frozenset({
    "TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT", "UINTEGER",
    "UBIGINT", "UHUGEINT", "FLOAT", "DOUBLE",
})


def _raw_types(con: duckdb.DuckDBPyConnection, table: str) -> dict[str, str]:
    """Raw column name -> its DuckDB type in ``raw_<table>`` (as the reader typed it)."""
    return {name: sql_type for name, sql_type, *_ in con.execute(f"DESCRIBE raw_{table}").fetchall()}


def is_native(kind: str, sql_type: str) -> bool:
    """The reader already typed the column as a date/time (``timestamp``) or a number (``number``)."""
    if kind == "timestamp":
        return sql_type in _NATIVE_TIMESTAMPS
    return kind == "number" and (sql_type in _NATIVE_NUMBERS or sql_type.startswith("DECIMAL"))


def typed_sql(kind: str, column: str, sql_type: str = "VARCHAR") -> str:
    """SQL turning a raw column into its canonical type, NULL where unreadable.

    ``sql_type`` is the raw column's type: a column the reader already typed (Parquet, a DuckDB
    file) is cast directly, which gives the same values without parsing (text -> TIMESTAMPTZ
    costs about 4 s per pass over 43 M rows; a native TIMESTAMP costs nothing).
    """
    source = _q(column)
    if kind == "timestamp":
        if is_native(kind, sql_type):  # naive values are UTC wall time already (the session zone is UTC)
            return f"CAST({source} AS TIMESTAMP)"
        # Through TIMESTAMPTZ so that offsets are honoured, then naive UTC (the session zone is UTC).
        return f"CAST(TRY_CAST({source} AS TIMESTAMPTZ) AS TIMESTAMP)"
    if kind == "number":
        if sql_type == "FLOAT":
            # A 4-byte float widened as it is reads 24.79 as 24.790000915527344; its shortest text
            # is the number the export meant, and what the same data as CSV reads.
            return f"CAST(CAST({source} AS VARCHAR) AS DOUBLE)"
        return f"CAST({source} AS DOUBLE)" if is_native(kind, sql_type) else f"TRY_CAST({source} AS DOUBLE)"
    if kind == "id" and sql_type in ("FLOAT", "DOUBLE"):
        # Whole-number ids stored as floats (pandas writes an integer column with a gap as float64)
        # are the integers: 1.0 did not meet customers' 1, and every row was "not in customers".
        return (f"CASE WHEN {source} = floor({source}) AND abs({source}) < 1e15 "
                f"THEN CAST(CAST({source} AS BIGINT) AS VARCHAR) ELSE CAST({source} AS VARCHAR) END")
    return f"NULLIF(TRIM(CAST({source} AS VARCHAR)), '')"


def canonical_sql(contract: str, kind: str, raw: str, sql_type: str = "VARCHAR") -> str:
    """SQL for contract column ``contract`` from the raw column ``raw``: :func:`typed_sql`, and event
    types in lower case whatever the raw column is called (a ``[columns.service_events]`` mapping
    kept "Complaint" as it was, and it counted as "other")."""
    typed = typed_sql(kind, raw, sql_type)
    return f"lower({typed})" if contract == "event_type" else typed


def present_sql(column: str, sql_type: str = "VARCHAR") -> str:
    """SQL: the raw value is there (not NULL, not blank text); only text needs the blank check."""
    source = _q(column)
    if is_native("timestamp", sql_type) or is_native("number", sql_type):
        return f"({source} IS NOT NULL)"
    return f"({source} IS NOT NULL AND TRIM(CAST({source} AS VARCHAR)) <> '')"


_CURRENCY = r"(?:[€$£¥]|EUR|USD|GBP|CHF|JPY|CNY|INR|AUD|CAD|NZD|SEK|NOK|DKK|PLN|CZK|HUF|BRL|MXN|ZAR)"
"""Currency signs and the common ISO codes (a list: any three capitals would read "ABC 123" as 123)."""
_GROUP_SPACES = "\u00a0\u202f"  # no-break and narrow no-break space (French, Swiss exports)


def _number_pattern(group: str, decimal: str) -> str:
    """A number with thousands grouped by ``group`` characters (or not grouped) and ``decimal``
    as the decimal mark; a currency sign or code before or after it, a minus before or after it,
    or the whole in parentheses for a negative, as accounting exports write a credit note:
    ($508.15), $(1,234.50), (12,50 €)."""
    # A grouped number never starts with a 0 group: with decimal_comma, "0.125" is no 125 (it stays
    # as written, and reads as the decimal-point 0.125).
    number = rf"(?:[1-9][0-9]{{0,2}}(?:[{group}{_GROUP_SPACES} '][0-9]{{3}})+|[0-9]+)(?:[{decimal}][0-9]+)?"
    signed = rf"[-+]?{_CURRENCY}?\s*[-+]?{number}\s*{_CURRENCY}?-?"
    bracketed = rf"{_CURRENCY}?\s*\(\s*{_CURRENCY}?\s*{number}\s*{_CURRENCY}?\s*\)\s*{_CURRENCY}?"
    return rf"(?:{signed}|{bracketed})"


_GROUPED_DECIMAL = _number_pattern(".", ",")
"""A number written with a decimal comma: 1.234,56 or 1 234,56 or 1'234,56 or 12,50 € or 184,33-."""
_GROUPED_POINT = _number_pattern(",", ".")
"""The same with a decimal point: $6,069.00 or 1,234 or 12.50 EUR."""
_SPACED_OFFSET = r"(\d) ([+-]\d\d(?::?\d\d)?)$"
"""A UTC offset after a space at the end of a datetime (… 18:22:23 -0500), to be joined to it."""
_ZERO_DATE = r"0+[./-]0+[./-]0+(?:[ T].*)?"
"""How some systems (SAP, MySQL) write a missing date: 00.00.0000, 0000-00-00 00:00:00."""


def _plain_number(value: str, decimal: str) -> str:
    """SQL: a value matching :data:`_GROUPED_DECIMAL` / :data:`_GROUPED_POINT` (``decimal`` ","
    or ".") as a plain decimal-point number: only digits, the decimal mark and the sign kept (a
    value in parentheses, which the patterns allow only without a sign, is negative)."""
    kept = f"regexp_replace({value}, '[^0-9{decimal}-]', '', 'g')"
    if decimal == ",":
        kept = f"replace({kept}, ',', '.')"
    return (f"(CASE WHEN contains({value}, '(') THEN '-' || {kept} "
            f"WHEN {kept} LIKE '%-' THEN '-' || rtrim({kept}, '-') ELSE {kept} END)")


def attribute_number(text: str, decimal_comma: bool = False) -> float | None:
    """The number validation reads from one text value of a numeric customer attribute, or None for
    text that reads as none: :func:`_read_formats`'s rewrite of a ``customers`` column (grouped
    thousands, currency signs, a trailing minus, parentheses; a decimal comma with ``[input]
    decimal_comma``), then the cast, for one value in Python, as the HTTP API reads a posted
    attribute sent as text (:func:`churnml.api.history_dataset`).

    >>> [attribute_number(t) for t in ("2500", "1,234", "$1,080.00", "(12.50)", "184.33-", "12k")]
    [2500.0, 1234.0, 1080.0, -12.5, -184.33, None]

    Digits grouped with single underscores read as DuckDB's TRY_CAST reads them (a double
    underscore, or one at either end, reads as none):

    >>> [attribute_number(t) for t in ("1_000", "2_500.5", "1__000", "_1000")]
    [1000.0, 2500.5, None, None]
    >>> [attribute_number(t, decimal_comma=True) for t in ("1.234,56", "12,5", "1.234", "12.5")]
    [1234.56, 12.5, 1234.0, 12.5]
    """
    def cast(value: str) -> float | None:  # DuckDB's TRY_CAST to DOUBLE, as Python's float: "1_000" is 1000 in both
        try:
            return float(value.strip())
        except ValueError:
            return None

    value = text.strip()
    decimal = "," if decimal_comma else "."
    if not decimal_comma and cast(text) is not None:
        return cast(text)
    if not re.fullmatch(_GROUPED_DECIMAL if decimal_comma else _GROUPED_POINT, value):
        return cast(text)
    kept = re.sub(f"[^0-9{decimal}-]", "", value)
    if decimal == ",":
        kept = kept.replace(",", ".")
    if "(" in value:
        kept = "-" + kept
    elif kept.endswith("-"):
        kept = "-" + kept.rstrip("-")
    return cast(kept)


def _read_formats(con: duckdb.DuckDBPyConnection, table: str, mapping: dict[str, str], spec: TableSpec,
                  types: dict[str, str], config: Config) -> None:
    """Rewrite ``raw_<table>`` so that text dates in ``[input] date_format`` read as ISO, numbers
    as plain decimal-point ones (``decimal_comma``, grouped thousands, currency signs, a trailing
    minus, parentheses; without ``decimal_comma`` only in ``customers`` attributes, as
    :func:`_check_columns_readable` reads the contract's number columns), and a zero date in an optional date column (00.00.0000) as missing; everything else,
    and any value the formats do not fit, stays as written (and is set aside with its reason).

    Only text columns are touched: the date and number columns of the contract, and for
    ``customers`` every attribute column (numbers there decide numeric vs categorical).
    """
    fmt = config.input
    formats = fmt.date_formats
    for one in formats:
        try:
            con.execute(f"SELECT try_strptime('2024-01-31', {_lit(one)})")
        except duckdb.Error as exc:
            raise ConfigError(f"[input] date_format {one!r} is not a format DuckDB reads: {exc}. "
                              'Use strftime codes, e.g. "%d.%m.%Y" or "%m/%d/%Y %H:%M".') from None
    text = {raw for raw, sql_type in types.items() if sql_type == "VARCHAR"}
    # Customer attributes (the mapping holds them too, as themselves): numbers maybe.
    contract = {raw: (c, spec.kinds.get(c, "number" if table == "customers" else None)) for c, raw in mapping.items()}
    replaced = {}
    for raw in sorted(text):
        column, kind = contract.get(raw, (None, None))
        value = f"TRIM({_q(raw)})"
        if kind == "timestamp":
            # "2025-03-13 18:22:23 -0500": the space before the offset stops DuckDB's reader. The
            # test before the regex is cheap; most values never reach it.
            sql = (f"CASE WHEN contains({value}, ' +') OR contains({value}, ' -') "
                   f"THEN regexp_replace({value}, {_lit(_SPACED_OFFSET)}, '\\1\\2') ELSE {_q(raw)} END")
            if formats:
                listed = _lit(formats[0]) if len(formats) == 1 else f"[{', '.join(_lit(f) for f in formats)}]"
                sql = f"COALESCE(strftime(try_strptime({value}, {listed}), '%Y-%m-%d %H:%M:%S'), {sql})"
            if column not in spec.required_columns:  # (CASE, not AND: DuckDB may reorder an AND's terms)
                zero = f"CASE WHEN starts_with({value}, '0') THEN regexp_full_match({value}, {_lit(_ZERO_DATE)}) ELSE false END"
                sql = f"CASE WHEN {zero} THEN NULL ELSE {sql} END"
            replaced[raw] = sql
        elif kind == "number":
            if fmt.decimal_comma:
                replaced[raw] = (f"CASE WHEN regexp_full_match({value}, {_lit(_GROUPED_DECIMAL)}) "
                                 f"THEN {_plain_number(value, ',')} ELSE {_q(raw)} END")
            elif table == "customers":
                # Attributes with a decimal point ("$1,080.00", seats "1,200"): the contract's number
                # columns are read so in _check_columns_readable, which does not see attributes.
                # (CASE: only values that do not cast reach the regex.)
                replaced[raw] = (f"CASE WHEN TRY_CAST({_q(raw)} AS DOUBLE) IS NOT NULL THEN {_q(raw)} "
                                 f"WHEN regexp_full_match({value}, {_lit(_GROUPED_POINT)}) "
                                 f"THEN {_plain_number(value, '.')} ELSE {_q(raw)} END")
    if table == "service_events":
        renamed = event_type_sql(mapping, fmt.event_types)
        if renamed is not None:
            replaced[mapping["event_type"]] = renamed
    _replace_columns(con, table, replaced)


def _replace_columns(con: duckdb.DuckDBPyConnection, table: str, replaced: Mapping[str, str]) -> None:
    """Put a view computing ``replaced`` (raw column -> SQL) in place of ``raw_<table>``. The value
    as written goes along, under :func:`_written_prefix` + its name, for the quarantine file: a user looks
    for "01.01.2026 05:38" in their export, not for "2026-01-01 05:38:00"."""
    if not replaced:
        return
    layer = 0
    while con.execute("SELECT count(*) FROM duckdb_views() WHERE view_name = ?", [f"raw_{table}_{layer}"]).fetchone()[0]:
        layer += 1
    present = {name for name, *_ in con.execute(f"DESCRIBE raw_{table}").fetchall()}
    prefix = _written_prefix(con, table)
    con.execute(f"ALTER VIEW raw_{table} RENAME TO raw_{table}_{layer}")
    columns = ", ".join(f"{sql} AS {_q(raw)}" for raw, sql in replaced.items())
    written = "".join(f", {_q(raw)} AS {_q(prefix + raw)}" for raw in replaced if prefix + raw not in present)
    con.execute(f"CREATE VIEW raw_{table} AS SELECT * REPLACE ({columns}){written} FROM raw_{table}_{layer}")


_WRITTEN = "_as_written_"
"""Prefix of the columns that carry a rewritten value as written (:func:`_replace_columns`), with
underscores added in front for a table that has a column starting with it (:func:`_written_prefix`)."""


def _written_prefix(con: duckdb.DuckDBPyConnection, table: str) -> str:
    """The prefix of ``raw_<table>``'s as-written copies: :data:`_WRITTEN`, with underscores added in
    front until no column of the source (the view under the first rewrite) starts with it. A
    column of the user's own named ``_as_written_amount`` was taken for a copy: left out of the
    quarantine file, blanked in the clean customers, or a binder error (VARCHAR with DOUBLE)."""
    first = f"raw_{table}_0"
    rewritten = con.execute("SELECT count(*) FROM duckdb_views() WHERE view_name = ?", [first]).fetchone()[0]
    names = [name.lower() for name, *_ in con.execute(f"DESCRIBE {first if rewritten else f'raw_{table}'}").fetchall()]
    prefix = _WRITTEN
    while any(name.startswith(prefix) for name in names):
        prefix = "_" + prefix
    return prefix


def _repeated_rows(con: duckdb.DuckDBPyConnection, table: str) -> int:
    """Rows of ``raw_<table>`` that repeat an earlier row in every column as written, the ones
    churnml does not read included (a SKU or a ticket number tells two rows apart)."""
    columns = ", ".join(_q(c) for c in _raw_columns(con, table))
    return int(con.execute(f"SELECT COALESCE(sum(n - 1), 0) FROM (SELECT count(*) AS n FROM raw_{table} "
                           f"GROUP BY {columns} HAVING count(*) > 1)").fetchone()[0])


def _raw_columns(con: duckdb.DuckDBPyConnection, table: str) -> list[str]:
    """The columns of ``raw_<table>`` as the source has them (without the as-written copies)."""
    prefix = _written_prefix(con, table)
    return [name for name, *_ in con.execute(f"DESCRIBE raw_{table}").fetchall() if not name.startswith(prefix)]


def _unmatched_event_types(con: duckdb.DuckDBPyConnection, event_types: Mapping[str, str], column: str,
                           table: str) -> list[str]:
    """A note naming ``[input.event_types]`` keys that no service event has (a typo such as "Outages"
    for "Outage" otherwise showed only as 'outage' counted as 'other'), with the closest type written."""
    names = {name for name, *_ in con.execute("DESCRIBE raw_service_events").fetchall()}
    prefix = _written_prefix(con, "service_events")
    raw = _q(prefix + column if prefix + column in names else column)
    written = con.execute(f"SELECT TRIM(CAST({raw} AS VARCHAR)) AS t, count(*) FROM raw_service_events "
                          "WHERE t IS NOT NULL GROUP BY 1 ORDER BY 2 DESC, 1").fetchall()
    seen = {value.lower() for value, _ in written}
    unmatched = [key for key in event_types if key.strip().lower() not in seen]
    if not unmatched:
        return []
    listed = " and ".join([", ".join(repr(k) for k in unmatched[:-1]), repr(unmatched[-1])] if len(unmatched) > 1
                          else [repr(unmatched[0])])
    counts = {}
    for value, n in written:  # the most common spelling of each type, as the export writes it
        counts.setdefault(value.lower(), (value, n))
    hints = []
    for key in unmatched:
        close = difflib.get_close_matches(key.strip().lower(), list(counts), n=1, cutoff=0.75)
        if close:
            value, n = counts[close[0]]
            hints.append(f" {key!r} is close to {value!r} ({n:,} rows).")
    return [f"[input.event_types] maps {listed}, which no row of {table} has as its event type (case and spaces "
            f"ignored), so {'they count' if len(unmatched) > 1 else 'it counts'} nothing: a typo?{''.join(hints)}"]


def event_type_sql(mapping: dict[str, str], event_types: Mapping[str, str]) -> str | None:
    """SQL giving the raw ``event_type`` column with ``[input.event_types]`` applied; None without any.
    (Loading the config checks the mapping's targets and keys.)"""
    if not event_types:
        return None
    raw = _q(mapping["event_type"])
    # The rule of InputConfig.event_type, in SQL.
    cases = " ".join(f"WHEN {_lit(yours.strip().lower())} THEN {_lit(ours)}" for yours, ours in event_types.items())
    return f"CASE lower(TRIM(CAST({raw} AS VARCHAR))) {cases} ELSE {raw} END"


def _check_columns_readable(
    con: duckdb.DuckDBPyConnection, table: str, mapping: dict[str, str], spec: TableSpec, types: dict[str, str],
    inputs: InputConfig, named: str | None = None,
) -> None:
    """A column that mostly cannot be read as its type is an error, not a quarantine of most rows:
    a forgotten ``decimal_comma`` or a wrong ``date_format`` sets aside the values that do not fit
    and misreads some that do (8.640 read as 8.64, 01/09 as the 1st of September).

    One scan of the table counts, for every date and number column stored as text, the values
    present and the values that read (a date from 1900 on; reading a large CSV costs more than
    the checks). ``named``: the table as messages name it after "table" (:func:`quoted_table`).
    """
    checked = [
        (contract, raw, spec.kinds[contract])
        for contract, raw in mapping.items()
        if spec.kinds.get(contract) in ("timestamp", "number") and not is_native(spec.kinds[contract], types[raw])
    ]
    if not checked:
        return
    # Numbers with a decimal point that do not cast ("$6,069.00", "1,234", "184.33-") but fit
    # _GROUPED_POINT: counted here, read through a view below; matching only the values that fail
    # the cast keeps plain numbers at one cast (with decimal_comma, _read_formats rewrote them all).
    # (CASE, not AND: DuckDB may evaluate an AND's regex first, on every row.)
    cleanable = {raw: (f"CASE WHEN TRY_CAST({_q(raw)} AS DOUBLE) IS NOT NULL THEN false "
                       f"ELSE regexp_full_match(TRIM({_q(raw)}), {_lit(_GROUPED_POINT)}) END")
                 for _, raw, kind in checked if kind == "number" and not inputs.decimal_comma}
    counts = con.execute(
        "SELECT "
        + ", ".join(f"count(*) FILTER ({present_sql(raw, types[raw])}), count(*) FILTER ({_readable(kind, raw, types[raw])})"
                    for _, raw, kind in checked)
        + "".join(f", count(*) FILTER ({matches})" for matches in cleanable.values())
        + f" FROM raw_{table}"
    ).fetchone()
    extra = dict(zip(cleanable, counts[2 * len(checked):]))
    _replace_columns(con, table, {
        raw: f"CASE WHEN {cleanable[raw]} THEN {_plain_number(f'TRIM({_q(raw)})', '.')} ELSE {_q(raw)} END"
        for raw, n in extra.items() if n
    })
    for i, (contract, raw, kind) in enumerate(checked):
        n_ok = counts[2 * i + 1] + extra.get(raw, 0)
        _fail_if_unreadable(con, table, contract, raw, kind, types[raw], counts[2 * i], n_ok, inputs, named)


def _readable(kind: str, raw: str, sql_type: str) -> str:
    """SQL: the raw value reads as ``kind`` (a date from 1900 on: a two-digit year read with "%Y" is year 21)."""
    typed = typed_sql(kind, raw, sql_type)
    return f"{typed} >= TIMESTAMP '{MIN_TIMESTAMP}'" if kind == "timestamp" else f"{typed} IS NOT NULL"


def named_column(contract: str, raw: str) -> str:
    """A contract column as messages name it: with the user's own column where the config maps it,
    ``transaction_id (your column 'Belegnummer')``. The Spark reader names columns the same way.

    >>> named_column("amount", "amount"), named_column("transaction_id", "Belegnummer")
    ('amount', "transaction_id (your column 'Belegnummer')")
    """
    return contract if raw == contract else f"{contract} (your column {raw!r})"


def timestamp_column(raw: str) -> str:
    """The timestamp column as a fix names it: "the timestamp column", or the user's (``raw``) where it has another name.

    >>> timestamp_column("timestamp"), timestamp_column("Datum")
    ('the timestamp column', "your column 'Datum', the timestamp")
    """
    return "the timestamp column" if raw == "timestamp" else f"your column {raw!r}, the timestamp"


def _fail_if_unreadable(
    con: duckdb.DuckDBPyConnection, table: str, contract: str, raw: str, kind: str, sql_type: str, n_present: int,
    n_ok: int, inputs: InputConfig = InputConfig(), named_as: str | None = None,
) -> None:
    """Raise when fewer than half of the ``n_present`` values read, with a few that do not as examples
    (``named_as``: the table as the message names it, :func:`quoted_table`)."""
    if n_present == 0 or 2 * n_ok >= n_present:
        return
    # As read (a date's format applied: a two-digit year shows as year 0021).
    examples = [
        str(v)
        for v, in con.execute(
            f"SELECT DISTINCT CAST({_q(raw)} AS VARCHAR) FROM raw_{table} "
            f"WHERE {present_sql(raw, sql_type)} AND NOT coalesce({_readable(kind, raw, sql_type)}, false) LIMIT {EXAMPLES}"
        ).fetchall()
    ]
    if kind == "timestamp":
        what = "a date or datetime (e.g. 2024-03-31 or 2024-03-31 14:05:00)"
        fits = _fitting_date_format(con, examples, inputs.date_formats)
        if not inputs.date_formats:
            setting = (f'set [input] date_format = "{fits}" in the config (it reads {examples[0]!r})' if fits
                       else 'set [input] date_format in the config (e.g. "%d.%m.%Y" for 31.12.2024)')
        else:
            setting = (f"add {'the format ' + repr(fits) + ', which reads ' + repr(examples[0]) + ',' if fits else 'their format'} "
                       f"to [input] date_format (now {list(inputs.date_formats)}; a list is allowed, "
                       '"%y" reads two-digit years; check the order of day and month)')
    else:
        what = "a number (e.g. 12.5 or 1,234.50)"
        setting = ("set [input] decimal_comma = true in the config for 1.234,56" if not inputs.decimal_comma
                   else "check [input] decimal_comma = true: it reads 1.234,56 and 12,50 but not 1,234.56")
    named = named_column(contract, raw)
    share = "no value reads" if n_ok == 0 else f"only {n_ok:,} of {n_present:,} values read ({n_ok / n_present:.0%})"
    start = (f"Column {named} of table {named_as or repr(table)} cannot be read as {what}: {share}. "
             f"Examples: {', '.join(repr(e) for e in examples)}. ")
    numbers = _date_numbers(con, table, raw, sql_type) if kind == "timestamp" else None
    if numbers:
        raise DataError(start + numbers + f" Or map the right column under [columns.{table}].")
    raise DataError(start + f"If they are written another way, {setting}; "
                    f"else fix the column's format, or map the right column under [columns.{table}].")


COMMON_DATE_FORMATS = ("%d.%m.%Y", "%d/%m/%Y", "%m/%d/%Y", "%d-%m-%Y", "%Y/%m/%d", "%Y.%m.%d", "%d.%m.%y", "%d/%m/%y",
                       "%m/%d/%y")
"""Date formats of exports, tried (with a time of day after them too) to name the one unreadable dates are in."""


def _fitting_date_format(con: duckdb.DuckDBPyConnection, examples: list[str], configured: tuple[str, ...]) -> str | None:
    """The first date format that reads every one of ``examples`` (unreadable dates): a configured
    one with a time of day after it (a German export's "18.12.2024 07:43" under "%d.%m.%Y"), then
    :data:`COMMON_DATE_FORMATS`, each alone and with a time. None when no format reads them all."""
    times = ("", " %H:%M", " %H:%M:%S")
    candidates = [f + t for f in (*configured, *COMMON_DATE_FORMATS) for t in times]
    if not examples:
        return None
    for fmt in dict.fromkeys(candidates):
        read = con.execute("SELECT bool_and(try_strptime(x, $fmt) IS NOT NULL) FROM unnest($examples) AS e(x)",
                           {"fmt": fmt, "examples": examples}).fetchone()[0]
        if read:
            return fmt
    return None


# Dates written as numbers: (lowest, highest, what they are, pandas unit, DuckDB SQL with {c} for the column).
_DATE_NUMBERS = (
    (1, 1e5, "Excel serial day numbers (days since 1899-12-30)", "unit=\"D\", origin=\"1899-12-30\"",
     "DATE '1899-12-30' + CAST({c} AS INTEGER)"),
    (1e8, 1e11, "Unix epoch seconds", "unit=\"s\"", "to_timestamp({c})"),
    (1e11, 1e14, "Unix epoch milliseconds", "unit=\"ms\"", "to_timestamp({c} / 1000)"),
    (1e14, 1e17, "Unix epoch microseconds", "unit=\"us\"", "make_timestamp({c})"),
)


def _date_numbers(con: duckdb.DuckDBPyConnection, table: str, raw: str, sql_type: str) -> str | None:
    """When every unreadable value of a date column is a number, what they look like (epoch
    seconds or milliseconds, Excel serial days) and how to convert them upstream; else None.
    ``[input] date_format`` cannot read them (DuckDB refuses ``%s``), and the error suggested it."""
    n, numeric, whole, low, high = con.execute(
        f"SELECT count(*), count(v), count(*) FILTER (v = floor(v)), min(v), max(v) FROM (SELECT TRY_CAST(TRIM(CAST({_q(raw)} AS VARCHAR)) "
        f"AS DOUBLE) AS v FROM raw_{table} WHERE {present_sql(raw, sql_type)} "
        f"AND NOT coalesce({_readable('timestamp', raw, sql_type)}, false))"
    ).fetchone()
    if not n or numeric != n:
        return None
    span = f"{low:g}" if low == high else f"{low:.15g} to {high:.15g}"
    kinds = _DATE_NUMBERS if whole == n else _DATE_NUMBERS[:1]  # Excel days may hold the time as a fraction
    guess = next(((what, unit, sql) for bottom, top, what, unit, sql in kinds if bottom <= low and high < top), None)
    if guess is None:
        return (f"They are numbers ({span}), not dates, and [input] date_format cannot read numbers: if they are "
                "epoch seconds or milliseconds, or Excel serial days, convert the column to dates before churnml reads it.")
    what, unit, sql = guess
    return (f"They are numbers ({span}) that look like {what}, which [input] date_format cannot read: convert "
            f"the column to dates before churnml reads it, e.g. in pandas df[{raw!r}] = pd.to_datetime(df[{raw!r}], "
            f"{unit}), or in SQL {sql.format(c=_q(raw))} AS {_q(raw)}.")


def _load_customers(
    con: duckdb.DuckDBPyConnection,
    mapping: dict[str, str],
    types: dict[str, str],
    quarantine: dict[str, pd.DataFrame],
    stats: dict[str, dict],
    data_end: pd.Timestamp | None = None,
    levels: int | None = None,
    date_formats: tuple[str, ...] = (),
    config: Config = Config(),
) -> tuple[dict[str, str], list[str], dict[str, str]]:
    """Check ``customers``; return its attributes (column -> kind), notes on the columns left out
    of them (dates: :func:`_dated_note`; columns without a value) and those columns (column ->
    ``dates`` or ``empty``; ``levels``: :func:`kind_from_counts`; ``date_formats``: :func:`attribute_kind`). A sign-up date before 1900 or
    after ``data_end`` (2999-12-31 for "unknown") is taken as missing, and the customer kept: with
    it, they never entered the population and dropped out of the scores without a word; without
    it, a customer counts from their first transaction."""
    id_sql = typed_sql("id", mapping["customer_id"], types[mapping["customer_id"]])
    repeated = con.execute(f"SELECT count(*) FROM ({repeated_ids_sql(id_sql, 'raw_customers')})").fetchone()[0]
    if repeated:  # rows repeated whole are set aside below (all but the first); an id in rows that differ is an error
        # Every column of the view, the values as written included: rows equal once read may differ in the export.
        columns = [name for name, *_ in con.execute("DESCRIBE raw_customers").fetchall()]
        differing = differing_ids_sql(id_sql, "raw_customers", columns)
        examples = con.execute(f"{differing} ORDER BY n DESC, id LIMIT {EXAMPLES}").fetchall()
        if examples:
            n_dup = con.execute(f"SELECT count(*) FROM ({differing})").fetchone()[0]
            raise DataError(not_unique_message(n_dup, examples, mapping["customer_id"], quoted_table(config, "customers")))

    attributes: dict[str, str] = {}
    dated: list[str] = []
    empty: list[str] = []
    index_columns: list[str] = []
    selects = [f"{id_sql} AS customer_id"]
    missing, no_id = missing_id_check(id_sql)
    reasons = [f"WHEN {no_id} THEN {_lit(missing)}"]
    kept = list(_KEPT)
    for contract, raw in mapping.items():
        if contract == "customer_id":
            continue
        if contract == "signup_date":
            typed = typed_sql("timestamp", raw, types[raw])
            selects.append(f"{signup_clean_sql(typed, data_end)} AS signup_date")
            reasons.append(f"WHEN {present_sql(raw, types[raw])} AND {typed} IS NULL THEN {_lit(R_BAD_SIGNUP)}")
            reasons += [f"WHEN {condition} THEN {_lit(reason)}" for reason, condition in _signup_kept_sql(typed, data_end)]
            continue
        if PANDAS_INDEX.fullmatch(raw):
            index_columns.append(contract)
            continue
        kind = attribute_kind(con, raw, types[raw], levels, date_formats)
        if kind in LEFT_OUT_KINDS:
            (dated if kind == "date" else empty).append(contract)
            continue
        attributes[contract] = kind
        selects.append(f"{attribute_sql(kind, raw)} AS {_q(contract)}")
        if kind == "numeric":
            reasons.append(f"WHEN {present_sql(raw, types[raw])} AND TRY_CAST({_q(raw)} AS DOUBLE) IS NULL "
                           f"THEN {_lit(kept_unread(contract))}")
            reasons.append(f"WHEN NOT {finite_sql(typed_sql('number', raw))} THEN {_lit(kept_without(contract))}")
            kept += [kept_unread(contract), kept_without(contract)]
    # Rows repeated whole (a doubled export): the first stays, the others are set aside, the customer read once.
    _split_clean(con, "customers", selects, reasons, quarantine, stats, (id_sql, "NULL") if repeated else None,
                 kept_reasons=tuple(kept), repeat_reason=R_REPEATED_ROW)
    notes = left_out_notes(dated, empty, index_columns, "signup_date" in mapping, config)
    return attributes, notes, {**{c: LEFT_OUT_KINDS["date"] for c in dated}, **{c: LEFT_OUT_KINDS["empty"] for c in empty}}


def left_out_notes(dated: list[str], empty: list[str], index_columns: list[str], signup: bool,
                   config: Config) -> list[str]:
    """Notes on the customers columns left out of the models (any engine): ``dated`` (dates,
    :func:`_dated_note`; ``signup``: the table has a sign-up date), ``empty`` (no value in any row)
    and ``index_columns`` (:data:`PANDAS_INDEX`), named with ``config``'s names (:func:`named_field`)."""
    notes = [note] if (note := _dated_note(dated, signup, config)) else []
    if empty:  # a feature that is missing for everyone, and that the API warned was never posted
        notes.append(f"{_listed([named_field(config, 'customers', c) for c in empty])} "
                     f"{'is' if len(empty) == 1 else 'are'} empty in every row, so left out of the models.")
    if index_columns:  # row numbers of a filtered frame: an identifier, never a description of the customer
        notes.append(f"{_listed([named_field(config, 'customers', c) for c in index_columns])} "
                     f"{'is' if len(index_columns) == 1 else 'are'} "
                     "the index pandas wrote into the file (DataFrame.to_parquet keeps it unless index=False), not a "
                     "column of the data: left out of the models. Write the file with index=False to drop it.")
    return notes


def repeated_ids_sql(id_sql: str, table: str) -> str:
    """SQL: the ids (``id_sql``, typed: :func:`typed_sql`) that appear in more than one row of
    ``table``, with their rows (``id``, ``n``). The one definition of a repeated id: a customer_id of
    ``customers`` (rows repeated whole are set aside as :data:`R_REPEATED_ROW`, other rows are an
    error: :func:`differing_ids_sql`) and a transaction_id (all but the first are set aside as
    :data:`R_DUPLICATE_TX`); the Spark reader runs it transpiled."""
    return (f"SELECT {id_sql} AS id, count(*) AS n FROM {table} WHERE {id_sql} IS NOT NULL "
            "GROUP BY 1 HAVING count(*) > 1")


def differing_ids_sql(id_sql: str, table: str, columns: Iterable[str]) -> str:
    """SQL: the ids (``id_sql``) of ``table`` that appear in rows differing in any of ``columns`` (all
    of the table's), with how many different rows each has (``id``, ``n``): the customer ids validation
    stops on (:func:`not_unique_message`), which snapshot is right being the user's to say. Rows
    repeated whole are not counted (a doubled export: read once). ``SELECT DISTINCT`` takes two
    missing values for equal, on DuckDB and on Spark, which runs it transpiled."""
    listed = ", ".join(_q(c) for c in columns)
    return (f"SELECT id, count(*) AS n FROM (SELECT DISTINCT {id_sql} AS id, {listed} FROM {table} "
            f"WHERE {id_sql} IN (SELECT id FROM ({repeated_ids_sql(id_sql, table)}))) GROUP BY 1 HAVING count(*) > 1")


def not_unique_message(n_dup: int, examples: Iterable[tuple[object, int]], raw: str = "customer_id",
                       named: str = "'customers'") -> str:
    """The error for ``n_dup`` customer ids that appear in rows that differ in ``customers`` (a few
    (id, different rows) ``examples``: :func:`differing_ids_sql`; ``raw``: the user's column; ``named``:
    the table as messages name it after "table", :func:`quoted_table`): validation stops on them, as does the Spark reader."""
    shown = ", ".join(f"{cid!r} ({n} different rows)" for cid, n in examples)
    return (f"Column {named_column('customer_id', raw)} of table {named} is not unique: {n_dup} id(s) appear in "
            f"rows that differ, e.g. {shown}. Which row is right churnml cannot tell: keep one row per customer (the "
            "latest snapshot), then retry. (Rows that repeat another row whole, as a doubled export writes them, need "
            "no fixing: they are read once.)")


def finite_sql(value: str) -> str:
    """SQL (DuckDB's; Spark's transpiled, which has no ``isfinite``): the number is neither NaN nor
    infinite; NULL stays NULL. Both engines order NaN above infinity."""
    return f"(abs({value}) < CAST('Infinity' AS DOUBLE))"


def attribute_sql(kind: str, raw: str) -> str:
    """SQL for a customer attribute of ``kind`` as the clean table holds it: text, or a number with
    NaN and infinities blanked (:func:`kept_without`). The Spark reader selects the same."""
    if kind != "numeric":
        return typed_sql("text", raw)
    typed = typed_sql("number", raw)
    return f"CASE WHEN {finite_sql(typed)} THEN {typed} END"


LEFT_OUT_KINDS = {"date": "dates", "empty": "empty"}
"""The attribute kinds (:func:`attribute_kind`) left out of the models, and the label
``Dataset.summary["left_out_columns"]`` gives each (validation and the Spark reader alike)."""


def attribute_kind(con: duckdb.DuckDBPyConnection, raw: str, sql_type: str = "VARCHAR", levels: int | None = None,
                   date_formats: tuple[str, ...] = ()) -> str:
    """``numeric`` when every present value reads as a number (or all but a placeholder or two for
    unknown, with more numbers than ``levels``: :func:`kind_from_counts`), ``date`` when the column
    holds dates (stored as dates, or every present value, but for a placeholder or two, reads as an
    ISO date or in one of ``date_formats``, ``[input] date_format``: a German export's last login
    04.12.2025 is a date as much as 2025-12-04), ``empty`` when it holds no value at all (a
    warehouse column never filled), else ``categorical``."""
    if is_native("timestamp", sql_type):  # a date column, unless not one row fills it (a DELETED_AT never set)
        return kind_from_counts(sql_type, con.execute(f"SELECT count({_q(raw)}) FROM raw_customers").fetchone()[0], 0, None)
    dated = date_text_sql(raw)
    if date_formats:
        listed = ", ".join(_lit(f) for f in date_formats)
        dated = f"({dated}) OR try_strptime({typed_sql('text', raw)}, [{listed}]) IS NOT NULL"
    n_present, n_numeric, n_dates, n_others, n_numbers, n_undated, n_padded = con.execute(
        f"SELECT count({typed_sql('text', raw)}), count(TRY_CAST({_q(raw)} AS DOUBLE)), count(*) FILTER ({dated}), "
        f"count(DISTINCT {unread_number_sql(raw)}), count(DISTINCT TRY_CAST({_q(raw)} AS DOUBLE)), "
        f"count(DISTINCT CASE WHEN NOT ({dated}) THEN {typed_sql('text', raw)} END), "
        f"count(*) FILTER ({zero_padded_sql(raw)}) FROM raw_customers"
    ).fetchone()
    return kind_from_counts(sql_type, n_present, n_numeric, n_dates, n_others, n_numbers, levels, n_undated, n_padded)


def kind_from_counts(sql_type: str, present: int, numeric: int, dates: int | None, others: int | None = None,
                     numbers: int = 0, levels: int | None = None, undated: int | None = None, padded: int = 0) -> str:
    """:func:`attribute_kind`'s rule, from a column's type and its counts of present values, of
    values that read as numbers and as ISO dates (None: not counted, the column is not text), and
    of the distinct values that do not read as numbers (``others``) and that do (``numbers``). The
    Spark reader counts them in its own pass over the table and decides by this rule too.

    A column of numbers with a placeholder or two for "unknown" (N/A, -, ?) in a few rows is
    numeric (at most :data:`PLACEHOLDER_VALUES` distinct values, in at most
    :data:`PLACEHOLDER_SHARE` of the rows with a value) when it has more different numbers than
    ``levels`` (``[training] max_categorical_levels``): a credit limit with "N/A" in 2% of rows
    was a category of 295 levels, left out of the models and named in a note as id-like. The
    placeholders are blanked and counted (:func:`kept_unread`). With fewer numbers the column stays
    a category as before: models trained on it as one would read its numbers as unknown levels.
    (One record posted to the API has no column to count: :func:`is_placeholder` says there which
    texts are placeholders.)

    A column of dates with such a placeholder ("never" as the last login of those who never logged
    in; ``undated``: the distinct values that do not read as dates) is a date column, left out as
    the others: as a category it carried the future into every cutoff.

    A column of numbers of which any is written with a leading zero (``padded``:
    :func:`zero_padded_sql`; plan codes "001" and "010", postal codes "01067") holds codes, and is
    a category: as numbers "010" read as 10, "01067" as 1067, and the models ordered the codes by size."""
    if present == 0:
        return "empty"
    if is_native("timestamp", sql_type):
        return "date"
    def all_but_placeholders(read: int | None, unread_values: int | None) -> bool:
        """All present values but at most a few placeholders in a few rows read as this kind."""
        return bool(read) and unread_values is not None and unread_values <= PLACEHOLDER_VALUES \
            and present - read <= PLACEHOLDER_SHARE * present

    if numeric == present and not padded:
        return "numeric"
    if levels is not None and all_but_placeholders(numeric, others) and numbers > levels and not padded:
        return "numeric"
    if dates and dates == present:
        return "date"
    if all_but_placeholders(dates, undated):
        return "date"
    return "categorical"


def unread_number_sql(raw: str) -> str:
    """SQL (DuckDB's; Spark's transpiled): the customer attribute's text value, where it is there
    and does not read as a number (NULL elsewhere)."""
    text = typed_sql("text", raw)
    return f"CASE WHEN TRY_CAST({_q(raw)} AS DOUBLE) IS NULL THEN {text} END"


def zero_padded_sql(raw: str) -> str:
    """SQL (DuckDB's; Spark's transpiled): the customer attribute's text value is digits with a
    leading zero ("001", "01067"): a code, whose zeros a number would lose (:func:`kind_from_counts`)."""
    return f"regexp_matches({typed_sql('text', raw)}, '^0[0-9]+$')"


def date_text_sql(raw: str) -> str:
    """SQL (DuckDB's; Spark's transpiled): the text value reads as an ISO date or datetime. The
    pattern first: Spark reads "2024" and "2024-01" as dates, DuckDB does not."""
    text = typed_sql("text", raw)
    return f"regexp_matches({text}, '^[0-9]{{4}}-[0-9]{{1,2}}-[0-9]{{1,2}}') AND TRY_CAST({text} AS TIMESTAMPTZ) IS NOT NULL"


def _dated_note(columns: list[str], signup: bool, config: Config) -> str | None:
    """The note on date columns of ``customers`` left out of the models (None when there are none).

    The table is read as it is today at every training cutoff: a last login or last order date
    from after the cutoff told the models who stayed, and read as a category ("2025-11-15
    00:00:00+00") a date is nothing the trees can order or meet again at scoring. ``signup``: the
    table has a sign-up date; without one, the note says how to map it."""
    if not columns:
        return None
    named = _listed([named_field(config, "customers", c) for c in columns])
    return (f"{named} {'holds dates' if len(columns) == 1 else 'hold dates'}, so {'it is' if len(columns) == 1 else 'they are'} "
            "left out of the models: customers is read as it is today at every training cutoff, and a date in it (a "
            "last login, a last order, a closing date) would tell the models what happened after the cutoff. Put events "
            "in transactions or service_events, and a date fixed at sign-up in as a number (a birth date as the birth "
            "year)" + ("." if signup else '; if one is the sign-up date, map it: [columns.customers] signup_date = "<your column>".'))


def data_end_sql(timestamp: str, table: str = "raw_transactions") -> str:
    """DuckDB SQL (one row, one value) for the last day with ordinary transaction volume in
    ``table``, whose timestamps ``timestamp`` reads (:func:`typed_sql`); NULL without a
    timestamp between 1900 and today. The one definition of the data's end: validation runs it,
    and :func:`churnml.spark.read_tables` transpiles it for Spark.

    A few stray rows dated far after the rest (a typo year, a test record) must not stretch the
    data's end, so days holding fewer than 5% of the median daily count are not counted. Up to
    a week after the last such day, a quiet day still counts when it is ordinary for its day of
    the week (5% of that weekday's median): a business that trades little at weekends had its
    Saturday and Sunday rows set aside as "after the data's end" on every Monday run.
    """
    # An aggregate with a FILTER clause parses each timestamp once; a WHERE on the parsed value
    # would parse it again for every condition (18 s instead of 7.5 s on a CSV of 43 M
    # transactions). The days join the weekdays' medians (no correlated subquery in a join
    # condition, which Spark cannot run).
    return f"""
        WITH days AS (
            SELECT day, n FROM (
                SELECT CAST(ts AS DATE) AS day,
                    count(*) FILTER (WHERE ts >= TIMESTAMP '{MIN_TIMESTAMP}' AND ts <= CAST(now() AS TIMESTAMP)) AS n
                FROM (SELECT {timestamp} AS ts FROM {table}) AS parsed GROUP BY CAST(ts AS DATE)
            ) AS counted WHERE n > 0
        ),
        ordinary AS (SELECT max(day) AS day FROM days WHERE n >= 0.05 * (SELECT median(n) FROM days)),
        weekdays AS (SELECT dayofweek(day) AS dow, median(n) AS m FROM days GROUP BY dayofweek(day)),
        usual AS (SELECT d.day FROM days AS d JOIN weekdays AS w ON w.dow = dayofweek(d.day) WHERE d.n >= 0.05 * w.m)
        SELECT greatest(o.day, max(u.day)) AS last_day FROM ordinary AS o
        LEFT JOIN usual AS u ON u.day > o.day AND u.day <= o.day + INTERVAL 7 DAY
        GROUP BY o.day
        """


def data_end_after(last_day: object, named: str = "'transactions'", raw: str = "timestamp") -> pd.Timestamp:
    """The data's end from :func:`data_end_sql`'s day: the next midnight (the whole last day belongs
    to the data; rows from then on are after it). ``named``: the table as messages name it after
    "table" (:func:`quoted_table`); ``raw``: its timestamp column as written.

    Raises
    ------
    DataError
        When there is no such day.
    """
    if last_day is None:
        raise DataError(
            f"Table {named} has no row with a readable timestamp between 1900 and today. "
            f"Check {timestamp_column(raw)} and its format (e.g. 2024-03-31)."
        )
    return pd.Timestamp(last_day) + pd.Timedelta(days=1)


def _infer_data_end(con: duckdb.DuckDBPyConnection, mapping: dict[str, str], types: dict[str, str],
                    named: str = "'transactions'") -> pd.Timestamp:
    """The end of the data (exclusive): the day after :func:`data_end_sql`'s, never after today."""
    ts = typed_sql("timestamp", mapping["timestamp"], types[mapping["timestamp"]])
    return data_end_after(con.execute(data_end_sql(ts)).fetchone()[0], named, mapping["timestamp"])


QUIET_DAYS_MAX = 7
"""How many days after the transactions' end service and churn events may carry the data's end
(:func:`end_through_events`), over days on which transactions ordinarily do not happen."""


def inferred_end_text(data_end: pd.Timestamp, transactions_end: pd.Timestamp) -> str:
    """The data's last day and what decided it, for the messages on rows dated after it: the
    transactions (``transactions_end``, :func:`data_end_after`), or the service and churn events on
    the quiet days after them (:func:`end_through_events`). Both ends exclusive."""
    last = f"{data_end - pd.Timedelta(days=1):%Y-%m-%d}"
    if data_end <= transactions_end:
        return f"{last}, the last day with ordinary transaction volume"
    # "the last day with ordinary transaction volume" named the day the events carried the end to,
    # a weekend's Sunday without a transaction: the user looked for transactions there that are not.
    return (f"{last}, the last day of service or churn events on the days after "
            f"{transactions_end - pd.Timedelta(days=1):%Y-%m-%d} (the last day with ordinary transaction volume) on "
            "which transactions do not usually happen")


def end_through_events(rows: Callable[[str], list[tuple]], end: pd.Timestamp, timestamp: str,
                       events: Mapping[str, str], table: str = "raw_transactions") -> pd.Timestamp:
    """The data's end (exclusive) carried past ``end``, the transactions' (:func:`data_end_after`),
    to the day after the latest service or churn event on the days just after it on which
    transactions ordinarily do not happen: days of a weekday on which at most half of its dates
    since the first transaction had one (the weekend of a business that bills on weekdays), at most
    :data:`QUIET_DAYS_MAX` of them. ``rows`` runs a query (DuckDB's SQL; the Spark reader
    transpiles it) and returns its rows; ``timestamp`` reads the transactions' timestamps in
    ``table``, and ``events`` maps each event table to the SQL reading its timestamps.

    A day without a transaction is not in the transactions at all, so an export ending on a Sunday
    ended on the Friday: the weekend's tickets and a cancellation given on the Sunday were set aside
    as after the data's end, and that customer was scored and listed as one to retain. A weekday
    with no transaction, where there usually are some, still ends the data (the transactions may
    simply not have been exported yet): those days would read as days without purchases.
    """
    if not events:
        return end
    valid = f"ts >= TIMESTAMP '{MIN_TIMESTAMP}' AND ts <= CAST(now() AS TIMESTAMP)"
    horizon = end + pd.Timedelta(days=QUIET_DAYS_MAX)
    # The events' days first: usually there is none after the transactions' end, and then the
    # transactions are not read a second time (a parse of every timestamp of a CSV: seconds at 1 M customers).
    # One query over every event table (on Spark, one job).
    later = sorted(pd.Timestamp(day) for day, in rows(" UNION ".join(
        f"SELECT CAST(ts AS DATE) AS day FROM (SELECT {ts} AS ts FROM {table_name}) AS parsed "
        f"WHERE {valid} AND ts >= TIMESTAMP '{end}' AND ts < TIMESTAMP '{horizon}'" for table_name, ts in events.items()))
        if day is not None)
    if not later:
        return end
    days = [pd.Timestamp(day) for day, in rows(
        f"SELECT DISTINCT CAST(ts AS DATE) AS day FROM (SELECT {timestamp} AS ts FROM {table}) AS parsed "
        f"WHERE {valid} AND ts < TIMESTAMP '{end}'")]
    if not days:
        return end
    first = min(days)
    active = pd.Series([day.dayofweek for day in days]).value_counts()
    dates = pd.Series(pd.date_range(first, end - pd.Timedelta(days=1)).dayofweek).value_counts()
    reach = end
    while reach < horizon and active.get(reach.dayofweek, 0) <= 0.5 * dates.get(reach.dayofweek, 0):
        reach += pd.Timedelta(days=1)
    return max([end, *(day + pd.Timedelta(days=1) for day in later if day < reach)])


def _load_events(
    con: duckdb.DuckDBPyConnection,
    table: str,
    spec: TableSpec,
    mapping: dict[str, str],
    types: dict[str, str],
    data_end: pd.Timestamp,
    quarantine: dict[str, pd.DataFrame],
    stats: dict[str, dict],
    config: Config = Config(),
) -> list[str]:
    """Check an event table into its clean table and the quarantine; return notes for the summary."""
    inputs = config.input
    typed = {c: canonical_sql(c, spec.kinds[c], raw, types[raw]) for c, raw in mapping.items()}
    present = {c: present_sql(raw, types[raw]) for c, raw in mapping.items()}
    # Text dates are parsed once, into a column of the checked table that every check and the
    # clean table read (parsing is the costly part: a CSV's 43 M timestamps take ~4 s per pass).
    # Under a name the table has no column of: a column "_parsed_timestamp" of the user's own was
    # read as the parsed dates (a DuckDB binder error comparing text with a timestamp).
    parsed: dict[str, str] = {}
    described = [name for name, *_ in con.execute(f"DESCRIBE raw_{table}").fetchall()]
    for column, raw in mapping.items():
        if spec.kinds[column] == "timestamp" and not is_native("timestamp", types[raw]):
            name = free_name(f"_parsed_{column}", described + list(parsed))
            parsed[name] = typed[column]
            typed[column] = _q(name)
    ts = typed["timestamp"]
    signup_dates = "signup_date" in {name for name, *_ in con.execute("DESCRIBE customers").fetchall()}
    reasons = [f"WHEN {condition} THEN {_lit(reason)}"
               for reason, condition in event_checks(spec, mapping, typed, present, data_end, inputs, "customers",
                                                     signup_dates)]
    # Satisfaction is kept on churnml's 1-5, rescaled from [input] satisfaction_scale, and blank off it.
    adjusted = {"satisfaction": satisfaction_clean_sql(typed["satisfaction"], inputs)} if "satisfaction" in mapping else {}
    if "resolved_at" in mapping:
        adjusted["resolved_at"] = resolved_at_sql(typed["resolved_at"], ts)
    selects = [f"{adjusted.get(c, typed[c])} AS {c}" for c in spec.all_columns if c in mapping and c not in spec.checked_only]
    # The first occurrence of a transaction_id (earliest, then input order) stays; later ones are duplicates.
    unique = (typed["transaction_id"], ts) if "transaction_id" in mapping else None
    # Unless the rows are an order's lines ([input] order_lines): then they are merged, one row an order.
    lines = None
    if inputs.order_lines and table == "transactions":
        if unique is None:
            raise order_lines_unmapped()
        lines = (typed["customer_id"], merged_lines_sql(spec, [c for c in spec.all_columns if c in mapping
                                                               and c not in spec.checked_only]))
    kept = _KEPT + (kept_events_reasons(inputs.satisfaction_scale) if "satisfaction" in mapping else ())
    _split_clean(con, table, selects, reasons, quarantine, stats, unique, parsed, kept_reasons=kept, lines=lines)
    named = named_table(config, table)
    _fail_if_ids_do_not_match(con, table, mapping["customer_id"], quarantine, stats[table], config)
    notes = []
    if lines is not None:
        _fail_if_orders_name_several_customers(mapping, quarantine, stats[table], named)
        notes.append(order_lines_note(stats[table], named))
    elif "transaction_id" in mapping:
        _fail_if_ids_number_orders(mapping["transaction_id"], quarantine, stats[table], named)
        notes += _order_lines_note(con, typed["transaction_id"], typed["amount"], mapping["transaction_id"], stats[table],
                                   named)
    loose = _loose_id_note(con, table, mapping["customer_id"], quarantine, config)
    if "satisfaction" in mapping:
        _fail_if_another_scale(con, table, named, mapping["satisfaction"], stats[table],
                               inputs.satisfaction_scale)
    if "resolved_at" in mapping:
        _fail_if_swapped(con, table, mapping, quarantine, stats[table], named_table(config, table))
    _fail_if_all_set_aside(config, table, mapping, quarantine, stats[table], data_end)
    if "resolved_at" in mapping and not con.execute(f"SELECT count(resolved_at) FROM {table}").fetchone()[0]:
        # Empty in every row (an export that never fills it): left out, as if not exported, with the features
        # read from it (:data:`EMPTY_LEFT_OUT`). Read as it is, every complaint counted as still open.
        con.execute(f"ALTER TABLE {table} DROP COLUMN resolved_at")
    return notes + ([loose] if loose else [])


def missing_id_check(id_sql: str) -> tuple[str, str]:
    """(reason, SQL condition) for a row without a customer id, from the typed id (:func:`typed_sql`)."""
    return R_MISSING_ID, f"{id_sql} IS NULL"


def event_checks(spec: TableSpec, mapping: Mapping[str, str], typed: Mapping[str, str], present: Mapping[str, str],
                 data_end: pd.Timestamp | None, inputs: InputConfig = InputConfig(),
                 customers: str | None = "customers", signup_dates: bool = False) -> list[tuple[str, str]]:
    """The reasons an event table's row is set aside, as (reason, SQL condition) pairs in the order
    they are tried (a row gets the first that holds): the one definition of these rules, which
    validation turns into its CASE and the Spark reader (:mod:`churnml.spark`) counts, to refuse
    such rows, in one pass. The last ones report the row but keep it, its satisfaction blanked
    (:func:`kept_events_reasons`).

    ``typed`` and ``present`` map the table's contract columns to SQL for the typed value
    (:func:`canonical_sql`) and for "the value is there" (:func:`present_sql`). ``data_end``:
    rows from it on are after the data's end (None: not checked here). ``customers``: the table of
    known customer ids (None leaves that check out: it is a join, not a condition on the row), and
    ``signup_dates`` says it has their sign-up dates, against which a closure is checked.
    A repeated ``transaction_id`` is no condition on one row either (:func:`_split_clean`).
    """
    ts = typed["timestamp"]
    checks = [missing_id_check(typed["customer_id"])]
    if customers is not None:
        checks.append((R_UNKNOWN_CUSTOMER, f"{typed['customer_id']} NOT IN (SELECT customer_id FROM {customers})"))
    checks += [
        (R_MISSING_TIMESTAMP, f"NOT {present['timestamp']}"),
        (R_BAD_TIMESTAMP, f"{ts} IS NULL"),
        (R_OLD_TIMESTAMP, f"{ts} < TIMESTAMP '{MIN_TIMESTAMP}'"),
    ]
    if data_end is not None:
        checks.append((R_FUTURE_TIMESTAMP, f"{ts} >= TIMESTAMP '{data_end}'"))
    if signup_dates and customers is not None and spec.name == "churn_events":
        # A closure before the sign-up (a typo in the year) took a paying customer out of the
        # population for good, without a word. A day's grace: a sign-up date is a day, and a UTC
        # offset moves a cancellation early on that day to the evening before.
        # Renamed inside: the row's own customer_id column (typed['customer_id'] reads it) would bind to customers'.
        signups = f"(SELECT customer_id AS _churnml_signup_id, signup_date AS _churnml_signup FROM {customers})"
        checks.append((R_CLOSED_BEFORE_SIGNUP, f"{ts} < (SELECT max(_churnml_signup) FROM {signups} "
                                               f"WHERE _churnml_signup_id = {typed['customer_id']}) - INTERVAL 1 DAY"))
    for column in spec.all_columns:
        # satisfaction: below, last, as its reasons keep the event.
        if column in mapping and spec.kinds[column] in ("number", "timestamp") and column not in ("timestamp", "satisfaction"):
            if column in spec.required_columns:
                checks.append((_missing(column), f"NOT {present[column]}"))
            checks.append((unparseable(column), f"{present[column]} AND {typed[column]} IS NULL"))
            if spec.kinds[column] == "number":  # NaN or infinity would turn every sum it enters into NaN/inf
                checks.append((not_finite(column), f"NOT {finite_sql(typed[column])}"))
                checks.append((_too_large(column), f"abs({typed[column]}) > {MAX_ABS_NUMBER:.0f}"))
    if "resolved_at" in mapping:
        checks.append((R_RESOLVED_BEFORE, resolved_before_sql(typed["resolved_at"], ts)))
    if "satisfaction" in mapping:
        # Last: these keep the event (kept_events_reasons), so a row with a reason to be set aside must get that one.
        # NaN and infinity are off any scale (both engines order NaN above every number).
        checks.append((R_BAD_SATISFACTION, f"{present['satisfaction']} AND {typed['satisfaction']} IS NULL"))
        checks.append((satisfaction_outside(inputs.satisfaction_scale),
                       _off_scale_sql(typed["satisfaction"], inputs.satisfaction_scale)))
    return checks


def blank_row_sql(columns: Iterable[str]) -> str:
    """SQL: every one of the raw ``columns`` is NULL. Such a row (the ";;;" line a spreadsheet export
    leaves) holds nothing: validation skips it rather than set it aside, and so does the Spark reader."""
    return " AND ".join(f"{_q(c)} IS NULL" for c in columns)


def _closed_that_day_sql(resolved: str, opened: str) -> str:
    # A CRM writing the closing date alone (midnight) and the opening with its time: a case
    # closed the day it was opened reads as resolved before it was opened. It was resolved
    # that day: at its timestamp (0 days), not set aside (298 of 6,198 cases of a broadband
    # export, the fastest handled, were; where most close the same day, "columns swapped").
    return f"({resolved} < {opened} AND {resolved} = CAST(CAST({opened} AS DATE) AS TIMESTAMP))"


def resolved_before_sql(resolved: str, opened: str) -> str:
    """SQL: a service event was resolved before it was opened (:data:`R_RESOLVED_BEFORE`), from the
    typed ``resolved_at`` and ``timestamp`` expressions. A closing date alone (midnight) on the day
    it was opened is not before: it was closed that day (:func:`resolved_at_sql`). The Spark path
    (:mod:`churnml.spark`) counts these rows with the same SQL."""
    return f"({resolved} < {opened} AND NOT {_closed_that_day_sql(resolved, opened)})"


def resolved_at_sql(resolved: str, opened: str) -> str:
    """SQL: ``resolved_at`` as the clean table holds it: a closing date alone (midnight) on the day the
    event was opened at some time of day is its opening (resolved in 0 days), not the midnight before it."""
    return f"CASE WHEN {_closed_that_day_sql(resolved, opened)} THEN {opened} ELSE {resolved} END"


def swapped_message(table: str, opened: str, closed: str, before: int, resolved: int, examples: Iterable[tuple[str, str]],
                    named: str | None = None) -> str:
    """The error when most of ``table``'s ``before`` of ``resolved`` events with a ``resolved_at``
    were resolved before they were opened (raw columns ``opened``, ``closed``; a few example pairs;
    ``named``: the table as messages name it, :func:`named_table`)."""
    shown = ", ".join(f"{a!r} resolved {b!r}" for a, b in examples)
    return (
        f"{before:,} of {resolved:,} rows of {named or table} with a resolved_at ({before / resolved:.0%}) have "
        f"{resolved_before(opened, closed)}, e.g. {shown}: the two columns seem swapped. Swap them in the export, or "
        f'in the config: [columns.{table}] timestamp = "{closed}" and resolved_at = "{opened}" (if resolved_at holds a '
        "placeholder date instead, leave it empty where an event is not resolved)."
    )


def resolved_before(opened: str, closed: str) -> str:
    """"resolved_at before timestamp", each with the user's column (raw ``opened``, ``closed``) where it
    has another name: the messages on events resolved before they were opened (both engines)."""
    return f"{named_column('resolved_at', closed)} before {named_column('timestamp', opened)}"


def seems_swapped(before: int, resolved: int) -> bool:
    """Whether ``before`` of ``resolved`` events with a ``resolved_at`` resolved before they were
    opened say that the two columns are swapped: more than half of them."""
    return before > 0.5 * resolved


def _set_aside_as(quarantine: Mapping[str, pd.DataFrame], table: str, *reasons: str) -> pd.DataFrame:
    """The rows of ``table`` set aside for any of ``reasons``, as written (none when none of ``table`` was)."""
    bad = quarantine.get(table)
    if bad is None:
        return pd.DataFrame()
    return bad[bad[reason_column(bad.columns[:-1])].isin(reasons)]


def _fail_if_swapped(con: duckdb.DuckDBPyConnection, table: str, mapping: dict[str, str],
                     quarantine: dict[str, pd.DataFrame], stats: dict, named: str | None = None) -> None:
    """Stop when most events with a ``resolved_at`` were resolved before they were opened: the
    two columns are swapped (in the export or the mapping). Every service event of such a feed
    was set aside, and validation exited 0."""
    before = stats["quarantined"].get(R_RESOLVED_BEFORE, 0)
    resolved = before + con.execute(f"SELECT count(resolved_at) FROM {table}").fetchone()[0]
    if not seems_swapped(before, resolved):
        return
    opened, closed = mapping["timestamp"], mapping["resolved_at"]
    rows = _set_aside_as(quarantine, table, R_RESOLVED_BEFORE).head(EXAMPLES)
    raise DataError(swapped_message(table, opened, closed, before, resolved,
                                    zip(rows[opened].astype(str), rows[closed].astype(str)), named))


def _fail_if_all_set_aside(config: Config, table: str, mapping: dict[str, str], quarantine: dict[str, pd.DataFrame],
                           stats: dict, data_end: pd.Timestamp | None = None) -> None:
    """Stop when every row of a table was set aside: the table would be used as if it were empty
    (every cancellation dated after the data's end made every customer a non-churner, and
    validation exited 0). The message names the main reason, an example row and the fix, the table and
    its columns as ``config`` names them."""
    if not stats["rows"] or stats["clean_rows"]:
        return
    named = named_table(config, table)
    reason, n = max(stats["quarantined"].items(), key=lambda item: (item[1], item[0]))
    shown = {contract: raw for contract, raw in mapping.items() if contract in TABLES[table].all_columns}
    first = _set_aside_as(quarantine, table, reason).iloc[0]
    example = ", ".join(f"{raw}={first[raw]!r}" for raw in shown.values() if raw in first.index and pd.notna(first[raw]))
    if reason == R_FUTURE_TIMESTAMP and data_end is not None:
        fix = (f"The data ends {data_end - pd.Timedelta(days=1):%Y-%m-%d} (the last day with ordinary transaction volume, "
               f"or [input] data_end). If {config.table_name(table)} runs later than {config.table_name('transactions')}, "
               'say where the data ends: [input] data_end = '
               '"YYYY-MM-DD"; else check its dates (a wrong year, or day and month swapped).')
    elif reason == R_MISSING_ID:
        fix = f'Map the column holding the ids in the config: [columns.{table}] customer_id = "<your column>".'
    elif reason in (R_MISSING_TIMESTAMP, R_BAD_TIMESTAMP, R_OLD_TIMESTAMP):
        fix = (f"Check {timestamp_column(mapping['timestamp'])} (or map the right one under "
               f"[columns.{table}]) and its format "
               "([input] date_format); a date before 1900 is a placeholder or a misread one.")
    else:
        fix = f"Fix the column it names in the export, or map the right column under [columns.{table}]."
    raise DataError(
        f"All {stats['rows']:,} row(s) of {named} would be set aside, {n:,} of them for {reason!r}, e.g. {example}. "
        f"{fix}"
    )


ORDER_LINES_FIX = (
    "[input] order_lines = true in the config merges each order's lines into one transaction (amounts summed, the "
    "earliest line's timestamp), so that purchase counts and the usual gap between purchases count orders. Or sum "
    "the lines per order before loading, one row per order (e.g. in DuckDB: SELECT "
    "order_no AS transaction_id, customer_id, min(order_date) AS timestamp, sum(amount) AS amount FROM 'lines.csv' "
    "GROUP BY ALL); or leave transaction_id out of "
    "[columns.transactions], which keeps every line as a purchase of its own (the counts and gaps then count lines)."
)
"""What to do when a transaction_id numbers orders of several lines (:func:`_fail_if_ids_number_orders`)."""


def merged_lines_sql(spec: TableSpec, columns: Iterable[str]) -> dict[str, str]:
    """SQL aggregates merging the lines of one order (``[input] order_lines``) into ``columns`` (of
    the clean table, or the Spark reader's view), by kind: the grouping ``customer_id`` and
    ``transaction_id`` as they are, numbers summed (amount, quantity; a returned line's negative
    amount included), the earliest timestamp, and a text (category, channel) that of the line with the
    largest amount among those with one, the first in alphabetical order on a tie: a rule that needs no
    row order, so the Spark reader (:mod:`churnml.spark`) merges alike."""
    merged = {}
    for column in columns:
        kind = spec.kinds[column]
        if column in ("customer_id", "transaction_id"):
            merged[column] = column
        elif kind == "number":
            merged[column] = f"sum({column})"
        elif kind == "timestamp":
            merged[column] = f"min({column})"
        else:
            merged[column] = (f"arg_min({column}, CASE WHEN {column} IS NOT NULL "
                              f"THEN struct_pack(a := -amount, v := {column}) END)")
    return merged


def merge_order_lines_sql(table: str, columns: Iterable[str]) -> str:
    """SQL: ``table``'s rows (contract columns ``columns``, ``transaction_id`` among them) with the lines
    of one (customer_id, transaction_id) merged by :func:`merged_lines_sql`, rows without a
    transaction_id as they are. What the Spark reader (transpiled) and the API's posted histories run;
    validation merges with the same aggregates while it splits the clean rows (:func:`_split_clean`)."""
    columns = list(columns)
    merged = merged_lines_sql(TABLES["transactions"], columns)
    return (f"SELECT {', '.join(f'{sql} AS {_q(c)}' for c, sql in merged.items())} FROM {table} "
            "WHERE transaction_id IS NOT NULL GROUP BY customer_id, transaction_id "
            f"UNION ALL SELECT {', '.join(_q(c) for c in columns)} FROM {table} WHERE transaction_id IS NULL")


def order_lines_unmapped() -> ConfigError:
    """The error for ``[input] order_lines`` without a ``transaction_id`` (both engines)."""
    return ConfigError(
        "[input] order_lines = true merges the lines of each order, but transactions has no transaction_id to "
        'tell the orders apart: map the order number, e.g. [columns.transactions] transaction_id = "order_no", '
        "or leave order_lines out to count every row as a purchase of its own.")


def order_lines_note(stats: dict, named: str = "transactions") -> str:
    """The summary's note on merged order lines (``[input] order_lines``): how many lines became how
    many transactions, and the lines of an order id naming several customers set aside (``named``: the
    table as messages name it, :func:`named_table`)."""
    merged = stats["order_lines"]
    several = stats["quarantined"].get(R_ORDER_OF_SEVERAL, 0)
    aside = (f" {several:,} line(s) whose order id names several customers were set aside ({R_ORDER_OF_SEVERAL!r})."
             if several else "")
    return (f"[input] order_lines: {merged['lines']:,} order line(s) of {named} were merged into "
            f"{merged['orders']:,} order(s), one transaction each (amounts summed, the earliest line's timestamp, the "
            f"category and channel of the line with the largest amount).{aside}")


def _fail_if_orders_name_several_customers(mapping: dict[str, str], quarantine: dict[str, pd.DataFrame],
                                           stats: dict, named: str = "transactions") -> None:
    """Stop when most lines were set aside as :data:`R_ORDER_OF_SEVERAL`: the column mapped as
    transaction_id does not number one customer's orders (an article number, a delivery run)."""
    several = stats["quarantined"].get(R_ORDER_OF_SEVERAL, 0)
    if several <= 0.5 * stats["rows"]:
        return
    raw = mapping["transaction_id"]
    example = _set_aside_as(quarantine, "transactions", R_ORDER_OF_SEVERAL)[raw].iloc[0]
    raise DataError(
        f"{several:,} of {stats['rows']:,} rows of {named} share their {named_column('transaction_id', raw)} with "
        f"rows of other customers, e.g. {example!r}: with [input] order_lines = true it must number one customer's "
        "orders. Map the order or invoice number as transaction_id, or leave order_lines out."
    )


def _fail_if_ids_number_orders(raw: str, quarantine: dict[str, pd.DataFrame], stats: dict,
                               named: str = "transactions") -> None:
    """Stop when most transactions repeat the transaction_id of an earlier row: the column numbers
    orders or invoices of several lines each (an ERP's order lines), not transactions, and setting
    the repeats aside as duplicates would drop most of the revenue (an export of order lines, 2.9
    lines an order, kept 35 % of its rows and validated with exit 0)."""
    repeats = stats["quarantined"].get(R_DUPLICATE_TX, 0)
    if repeats <= 0.5 * stats["rows"]:
        return
    column = named_column("transaction_id", raw)
    example = _set_aside_as(quarantine, "transactions", R_DUPLICATE_TX)[raw].iloc[0]
    raise DataError(
        f"{repeats:,} of {stats['rows']:,} rows of {named} repeat the {column} of an earlier row, e.g. "
        f"{example!r}: it seems to number orders or invoices with several lines each rather than each transaction, "
        f"and setting those rows aside as duplicates would drop most of the revenue. {ORDER_LINES_FIX}"
    )


def _order_lines_note(con: duckdb.DuckDBPyConnection, key: str, amount: str, raw: str, stats: dict,
                      named: str = "transactions") -> list[str]:
    """A note when rows set aside as a duplicate transaction_id share their id with rows of another
    amount: lines of one order or invoice, not copies, whose revenue is then left out. Fewer than
    half of the rows (more stop validation: :func:`_fail_if_ids_number_orders`), so it may be meant,
    but an export of orders of one or two lines lost a third of its revenue without a word.
    Looks at the table again only when some rows were set aside so."""
    repeats = stats["quarantined"].get(R_DUPLICATE_TX, 0)
    if not repeats:
        return []
    ids, example = con.execute(
        f"SELECT count(*), min(id) FROM (SELECT {key} AS id FROM raw_transactions WHERE {key} IS NOT NULL "
        f"GROUP BY 1 HAVING count(*) > 1 AND count(DISTINCT {amount}) > 1)").fetchone()
    if not ids:
        return []
    column = named_column("transaction_id", raw)
    return [f"{repeats:,} row(s) of {named} were set aside as a duplicate {column}, and {ids:,} of those id(s) "
            f"come with different amounts (e.g. {example!r}): lines of one order or invoice rather than copies, whose "
            f"revenue is left out. If the column numbers orders: {ORDER_LINES_FIX}"]


def _fail_if_another_scale(
    con: duckdb.DuckDBPyConnection, table: str, named: str, raw: str, stats: dict, scale: tuple[float, float] = (1.0, 5.0),
) -> None:
    """Stop when the satisfaction scores outside the scale say the survey uses another one
    (:func:`another_scale_error`; ``named``: the table as messages name it, :func:`named_table`):
    validation's counts of them and of the clean scores."""
    outside = stats["quarantined"].get(satisfaction_outside(scale), 0)
    scored = outside + con.execute(f"SELECT count(satisfaction) FROM {table}").fetchone()[0]
    error = another_scale_error(lambda sql: con.execute(sql).fetchone(), f"raw_{table}", named, raw, outside, scored, scale)
    if error is not None:
        raise error


def another_scale_error(first_row: Callable[[str], tuple], raw_table: str, named: str, raw: str, outside: int,
                        scored: int, scale: tuple[float, float] = (1.0, 5.0)) -> DataError | None:
    """The error when ``outside`` of the ``scored`` satisfaction scores lie off the scale and say the
    survey uses another one (1-10, 0-100): most of them, or a tenth or more spread over three or more
    values (a 1-10 survey answered mostly 1-5 by unhappy customers, whose scores up to 5 would be read
    as 1-5 ones); None otherwise: off-scale scores are then blanked, their events kept
    (:func:`kept_events_reasons`). ``first_row`` runs DuckDB SQL over ``raw_table`` (the scores as
    written in column ``raw``), validation's own or the Spark reader's (transpiled); ``named``: the
    table as messages name it (:func:`named_table`: ``tickets (service_events)``)."""
    if outside < 0.1 * scored or outside == 0:
        return None
    score = f"TRY_CAST({_q(raw)} AS DOUBLE)"
    finite = f"SELECT {score} AS v FROM {raw_table} WHERE {finite_sql(score)}"
    if outside <= 0.5 * scored:
        spread, = first_row(f"SELECT count(DISTINCT v) FROM ({finite}) AS s WHERE {_off_scale_sql('v', scale)}")
        if spread < 3:  # one or two codes for "no answer" (0, 99): blanked, as off the scale
            return None
    # The likely scale, from every score as written: from 0 or 1, up to the first usual top that
    # holds nearly all of them (0-10 for NPS, though a few typed 99 or 100 there; 1-7 for a Likert).
    # The 99th percentile as a score given (Spark's transpiled percentile_approx gives one too).
    smallest, bulk, largest = first_row(
        f"SELECT min(v), percentile_disc(0.99) WITHIN GROUP (ORDER BY v), max(v) FROM ({finite}) AS s")
    low = 0 if smallest < 1 else 1
    high = next((top for top in (5, 7, 10, 100) if bulk <= top), largest)
    return DataError(
        f"{outside:,} of {scored:,} satisfaction scores in {named}{'' if raw == 'satisfaction' else f' (your column {raw!r})'} "
        f"are outside {scale[0]:g}-{scale[1]:g} "
        f"(they run from {smallest:g} to {largest:g}): the survey seems to use another scale. If it runs "
        f"{low}-{high:g}, set [input] satisfaction_scale = [{low}, {high:g}] in the config (churnml rescales to 1-5 and "
        "blanks the scores outside it, keeping their events), or leave the column out."
    )


def reason_column(columns: Iterable[str]) -> str:
    """The name of a quarantine file's reason column: ``reason``, unless the table has a column
    of that name (a cancellations export often does), then ``churnml_reason`` (underscores added
    until no column has it)."""
    columns = list(columns)
    if "reason" not in {str(c).lower() for c in columns}:
        return "reason"
    return free_name("churnml_reason", columns)


def free_name(name: str, columns: Iterable[str]) -> str:
    """``name`` with underscores added in front until none of ``columns`` has it (DuckDB compares
    names without case): the name of a column churnml adds to a user's table for its own work,
    which a column of the user's own of that name replaced (``SELECT *, ... AS _reason`` gave the
    export's ``_reason``, and every row was set aside "for 'x'").

    >>> free_name("_reason", ["customer_id", "_REASON", "__reason"])
    '___reason'
    """
    taken = {str(c).lower() for c in columns}
    while name.lower() in taken:
        name = "_" + name
    return name


def loose_ids(ids: pd.Series) -> pd.Series:
    """Customer ids as a loose comparison sees them: without surrounding spaces, case or leading
    zeros, so that one system's "002475" meets another's "2475"."""
    return ids.astype(str).str.strip().str.casefold().str.lstrip("0").replace("", "0")


def loose_id(customer_id: str) -> str:
    """One id as :func:`loose_ids` compares ids, without a pandas call: 0.7 ms each for a request of
    unknown ids (``POST /score``).

    >>> loose_id(" 002475 "), loose_ids(pd.Series([" 002475 "])).tolist()
    ('2475', ['2475'])
    >>> loose_id("C0001"), loose_id("000")
    ('c0001', '0')
    """
    return customer_id.strip().casefold().lstrip("0") or "0"


def _loose_pairs(con: duckdb.DuckDBPyConnection, table: str, raw_id: str,
                 quarantine: dict[str, pd.DataFrame]) -> tuple[int, list[tuple[str, str]]]:
    """The number of different ids of ``table`` set aside as not in customers, and those of them
    that match a customer loosely (:func:`loose_ids`), as (theirs, the customer's) pairs."""
    unknown = _set_aside_as(quarantine, table, R_UNKNOWN_CUSTOMER)[raw_id].dropna().astype(str).drop_duplicates()
    if unknown.empty:
        return 0, []
    known = con.execute("SELECT customer_id FROM customers").df()["customer_id"].astype(str)
    by_key = dict(zip(loose_ids(known), known))
    return len(unknown), [(theirs, by_key[key]) for theirs, key in zip(unknown, loose_ids(unknown)) if key in by_key]


def _loose_id_note(con: duckdb.DuckDBPyConnection, table: str, raw_id: str, quarantine: dict[str, pd.DataFrame],
                   config: Config = Config()) -> str | None:
    """A note naming the ids set aside as unknown customers that match one of ``customers``
    loosely (:func:`loose_ids`), with examples "listed ~ known"; None when none does. A few ids
    written another way (a third of the cancellations with leading zeros) were set aside one by
    one, and those customers scored as live ones without a word about why."""
    if table not in quarantine:
        return None
    _, pairs = _loose_pairs(con, table, raw_id, quarantine)
    if not pairs:
        return None
    examples = ", ".join(f"{theirs!r} ~ {ours!r}" for theirs, ours in pairs[:EXAMPLES])
    ids = "customer_id(s)" + ("" if raw_id == "customer_id" else f" (your column {raw_id!r})")
    return (f"{len(pairs):,} {ids} of {named_table(config, table)} set aside as not "
            f"in {config.table_name('customers')} match a customer when leading "
            f"zeros, case and spaces are ignored ({examples}): write the ids the same way in both tables, or their rows "
            "are lost.")


def _fail_if_ids_do_not_match(
    con: duckdb.DuckDBPyConnection, table: str, raw_id: str, quarantine: dict[str, pd.DataFrame], stats: dict,
    config: Config = Config(),
) -> None:
    """Stop when most of a table's rows name customers that ``customers`` lacks: that is ids
    written two ways (1.0 vs 1, 00123 vs 123, a prefix), not bad rows to set aside one by one.
    The tables and the column as ``config`` names them."""
    unknown = stats["quarantined"].get(R_UNKNOWN_CUSTOMER, 0)
    if unknown <= MAX_UNKNOWN_CUSTOMER_SHARE * stats["rows"]:
        return
    theirs = _set_aside_as(quarantine, table, R_UNKNOWN_CUSTOMER)[raw_id].drop_duplicates().head(EXAMPLES).tolist()
    ours = [value for value, in con.execute(f"SELECT customer_id FROM customers LIMIT {EXAMPLES}").fetchall()]
    # Ids that differ only in case or leading zeros are named in pairs: the examples above are
    # different customers, and "A9A4…" beside "c646…" left the difference to be spotted.
    n_unknown, pairs = _loose_pairs(con, table, raw_id, quarantine)
    fix = (f"Write the ids the same way in both tables (numbers vs text such as 1.0 vs 1, leading zeros, prefixes), or "
           f"map the right column under [columns.{table}] in the config.")
    if pairs:
        fix = (f"{'All' if len(pairs) == n_unknown else f'{len(pairs):,} of the'} {n_unknown:,} unknown ids match a "
               "customer when leading zeros, case and spaces are ignored ("
               f"{', '.join(f'{t!r} ~ {o!r}' for t, o in pairs[:EXAMPLES])}): write the ids the same way in both tables.")
    raise DataError(
        f"{unknown:,} of {stats['rows']:,} rows of {named_table(config, table)} ({unknown / stats['rows']:.0%}) have a "
        f"{named_column('customer_id', raw_id)} that is not in {config.table_name('customers')}, e.g. "
        f"{', '.join(repr(str(v)) for v in theirs)}; {named_table(config, 'customers')} has ids such as "
        f"{', '.join(repr(v) for v in ours)}. {fix}"
    )


def _split_clean(
    con: duckdb.DuckDBPyConnection,
    table: str,
    selects: list[str],
    reasons: list[str],
    quarantine: dict[str, pd.DataFrame],
    stats: dict[str, dict],
    unique: tuple[str, str] | None = None,
    parsed: dict[str, str] | None = None,
    kept_reasons: tuple[str, ...] = _KEPT,
    lines: tuple[str, Mapping[str, str]] | None = None,
    repeat_reason: str = R_DUPLICATE_TX,
) -> None:
    """Materialise ``table`` (clean rows) and collect its quarantined rows with their reason.

    Rows with a reason in ``kept_reasons`` are reported but stay in the clean table (``selects`` blanks
    the value the reason names).

    ``unique`` is ``(key, order)`` SQL for ``transaction_id``, or for the ``customer_id`` of customers
    whose repeated ids come in rows repeated whole: among rows sharing a key, all but the first by
    ``order`` (then input order) are set aside as ``repeat_reason``, unless another reason sets them
    aside (a reason that keeps a row would keep the key twice).
    ``parsed`` maps helper column names to SQL over the raw columns, computed once per row for
    ``selects``, ``reasons`` and ``unique`` to use; they are not part of the quarantined rows.
    Their names, and those of the reason and row-number columns added here, are free ones
    (:func:`free_name`): a column of the user's own named ``_reason`` or ``_row_index`` stays data.

    ``lines`` (``[input] order_lines``), with ``unique``: rows sharing a key are lines of one order,
    not duplicates. As ``(customer_id SQL, {clean column: aggregate})`` (:func:`merged_lines_sql`):
    every line of a key naming more than one customer is set aside as :data:`R_ORDER_OF_SEVERAL`,
    and the clean table holds one row per (customer_id, key), in the input order of its first line;
    rows without a key stay rows of their own. ``stats[table]["order_lines"]`` counts the clean
    lines and the rows they became.

    Rows keep their input order. Nothing here reorders them (the duplicate search looks only at
    the keys that repeat, in a side query), so the clean table needs no sort on the way out.
    """
    # Rows with every field empty (the ";;;" lines a spreadsheet export leaves) hold nothing: they
    # are skipped and counted, not set aside as "missing customer_id" (which --strict fails on).
    # First in the CASE, but cheap: the test stops at a row's first value.
    described = [name for name, *_ in con.execute(f"DESCRIBE raw_{table}").fetchall()]
    prefix = _written_prefix(con, table)
    raw_columns = [name for name in described if not name.startswith(prefix)]
    written = [name for name in described if name.startswith(prefix)]
    blank = blank_row_sql(raw_columns)
    reason_sql = f"CASE WHEN {blank} THEN {_lit(_BLANK)} " + " ".join(reasons) + " END"
    parsed = parsed or {}
    helpers = "".join(f", {sql} AS {_q(name)}" for name, sql in parsed.items())
    # Our own columns, under names no column of the table has (the user's "_reason" won a
    # SELECT *, ... AS _reason; their "_row_index" decided which duplicate transaction_id stayed).
    row_name = free_name("_row_index", described + list(parsed))
    row, why = _q(row_name), _q(free_name("_reason", [*described, *parsed, row_name]))
    # Values as written are kept for set-aside rows only: a column of them for every row would
    # hold a second copy of the rewritten columns in memory.
    kept = (f" EXCLUDE ({', '.join(_q(w) for w in written)}), "
            + ", ".join(f"CASE WHEN {why} IS NOT NULL THEN {_q(w)} END AS {_q(w)}" for w in written)) if written else ""
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE _checked_{table} AS
        SELECT *{kept} FROM (
            SELECT *, {reason_sql} AS {why}
            FROM (SELECT *, row_number() OVER () AS {row}{helpers} FROM raw_{table}) AS r
        )
        """
    )
    if lines is not None:
        key, customer = unique[0], lines[0]
        con.execute(
            f"""
            UPDATE _checked_{table} SET {why} = {_lit(R_ORDER_OF_SEVERAL)}
            WHERE {why} IS NULL AND {key} IN (
                SELECT {key} FROM _checked_{table} WHERE {why} IS NULL AND {key} IS NOT NULL
                GROUP BY 1 HAVING count(DISTINCT {customer}) > 1
            )
            """
        )
    elif unique is not None:
        key, order = unique
        con.execute(
            f"""
            UPDATE _checked_{table} SET {why} = {_lit(repeat_reason)}
            WHERE ({why} IS NULL OR {why} IN ({', '.join(_lit(r) for r in kept_reasons)})) AND {row} IN (
                SELECT _row_index FROM (
                    SELECT {key} AS _key, {order} AS _order, {row} AS _row_index FROM _checked_{table}
                    WHERE {key} IN (SELECT id FROM ({repeated_ids_sql(key, f"_checked_{table}")}))
                ) QUALIFY row_number() OVER (PARTITION BY _key ORDER BY _order, _row_index) > 1
            )
            """
        )
    clean = f"WHERE {why} IS NULL OR {why} IN ({', '.join(_lit(r) for r in kept_reasons)})"
    if lines is not None:
        merged = lines[1]
        con.execute(
            f"""
            CREATE OR REPLACE TABLE {table} AS
            SELECT {', '.join(f'{sql} AS {column}' for column, sql in merged.items())}
            FROM (SELECT {', '.join(selects)}, {unique[0]} AS _key, {row} AS _row FROM _checked_{table} {clean})
            GROUP BY customer_id, _key, CASE WHEN _key IS NULL THEN _row END
            ORDER BY min(_row)
            """
        )
        n_lines = con.execute(f"SELECT count(*) FROM _checked_{table} {clean}").fetchone()[0]
    else:
        con.execute(f"CREATE OR REPLACE TABLE {table} AS SELECT {', '.join(selects)} FROM _checked_{table} {clean}")
    checked = {name for name, *_ in con.execute(f"DESCRIBE _checked_{table}").fetchall()}
    # (A duplicate transaction_id, found after this table was made, shows the value as read.)
    as_written = ", ".join(f"COALESCE({_q(prefix + c)}, {_q(c)}) AS {_q(c)}" if prefix + c in checked else _q(c)
                           for c in raw_columns)
    reason = reason_column(raw_columns)
    bad = con.execute(
        f"SELECT {as_written}, {why} AS {_q(reason)} FROM _checked_{table} "
        f"WHERE {why} IS NOT NULL AND {why} <> {_lit(_BLANK)} ORDER BY {row}"
    ).df()
    n_raw, n_blank = con.execute(f"SELECT count(*), count(*) FILTER ({why} = {_lit(_BLANK)}) FROM _checked_{table}").fetchone()
    con.execute(f"DROP TABLE _checked_{table}")
    if len(bad):
        quarantine[table] = bad
    n_clean = con.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
    stats[table] = {
        "rows": int(n_raw - n_blank),
        "clean_rows": int(n_clean),
        "quarantined": {str(k): int(v) for k, v in bad[reason].value_counts().sort_index().items()} if len(bad) else {},
        # Listed in the quarantine file with the rest, but in the clean table, the value blanked: not set aside.
        "kept_rows": int(bad[reason].isin(kept_reasons).sum()) if len(bad) else 0,
    }
    if n_blank:
        stats[table]["blank_rows_skipped"] = int(n_blank)
    if lines is not None:
        stats[table]["order_lines"] = {"lines": int(n_lines), "orders": int(n_clean)}


def _max_timestamp(con: duckdb.DuckDBPyConnection, tables: tuple[str, ...]) -> pd.Timestamp | None:
    ends = [con.execute(f"SELECT max(timestamp) FROM {t}").fetchone()[0] for t in tables if t != "customers"]
    ends = [e for e in ends if e is not None]
    return pd.Timestamp(max(ends)) if ends else None


def _summary(con: duckdb.DuckDBPyConnection, dataset: Dataset, stats: dict[str, dict], found: dict[str, str]) -> dict:
    signups = "signup_date" in {name for name, *_ in con.execute("DESCRIBE customers").fetchall()}
    for table in dataset.tables:
        stats[table]["source"] = found[table]
        # The span of its dates: timestamps, and for customers the sign-ups (the table showed blanks there).
        dated = "timestamp" if table != "customers" else "signup_date" if signups else None
        if dated:
            first, last = con.execute(f"SELECT min({dated}), max({dated}) FROM {table}").fetchone()
            stats[table]["first"] = None if first is None else str(pd.Timestamp(first).date())
            stats[table]["last"] = None if last is None else str(pd.Timestamp(last).date())
    n_customers, n_without = con.execute(
        "SELECT count(*), count(*) FILTER (WHERE customer_id NOT IN (SELECT customer_id FROM transactions)) FROM customers"
    ).fetchone()
    return {
        "tables": stats,
        "customers": int(n_customers),
        "customers_without_transactions": int(n_without),
        "share_without_transactions": (n_without / n_customers) if n_customers else 0.0,
        "data_end": None if dataset.data_end is None else str(dataset.data_end),
        # Rows set aside (out of the clean tables) and rows kept without a value (in them, the value blanked):
        # both are listed in the quarantine files, but only the first are gone (row_counts reads older summaries).
        "quarantined_rows": sum(sum(stats[t]["quarantined"].values()) - stats[t]["kept_rows"] for t in dataset.tables),
        "kept_rows": sum(stats[t]["kept_rows"] for t in dataset.tables),
    }


def write_quarantine(dataset: Dataset, folder: str | Path) -> tuple[list[Path], list[Path]]:
    """Write one CSV per table with set-aside rows (raw columns + ``reason``), and remove the
    file of a table that has none now: a clean run into the folder of an earlier bad one left its
    quarantine_transactions.csv, and looked as if it had set rows aside.

    The files are written as a set (:func:`churnml.io.write_tables`: all written, then all renamed
    into place), and the earlier run's files of clean tables removed after that: a run stopped
    or failing partway (a full disk) left some tables' files of this run beside others of the last.

    Returns
    -------
    (written, removed) : lists of Path
    """
    folder = Path(folder)
    removed: list[Path] = []
    written = io.write_tables({folder / f"quarantine_{table}.csv": frame for table, frame in dataset.quarantine.items()},
                              "csv", spreadsheet=True)
    for table in TABLES:
        stale = folder / f"quarantine_{table}.csv"
        if table not in dataset.quarantine and stale.is_file():
            stale.unlink()
            removed.append(stale)
    return written, removed
