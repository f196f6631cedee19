"""The same features, labels and scores on Apache Spark, for data that outgrows one machine.

Nothing here re-implements a feature or a label. The DuckDB SQL of :mod:`churnml.features` and
:mod:`churnml.labels` is the one definition; :func:`to_spark_sql` transpiles that text with SQLGlot
(``read="duckdb", write="spark"``) and applies the few rewrites that make Spark compute the same
numbers. Scoring applies the registered models through :func:`churnml.scoring.score_features`, the
function the DuckDB path and the HTTP API use, inside ``mapInPandas``.

Dialect rewrites (each one is covered by a test in ``tests/test_spark.py``)
    * ``epoch(ts)`` -> ``CAST(UNIX_MICROS(CAST(ts AS TIMESTAMP_LTZ)) AS DOUBLE) / 1e6``. SQLGlot's
      ``UNIX_TIMESTAMP`` drops sub-second precision, so day differences would differ.
    * Decimal literals (``86400.0``) -> ``CAST(86400.0 AS DOUBLE)``. Spark types them DECIMAL and
      ``bigint / DECIMAL`` rounds to 6 decimal places. In DuckDB, the same expressions meet a DOUBLE
      and are computed in DOUBLE.
    * Timestamps are ``TIMESTAMP_NTZ``, so they hold wall-clock time as DuckDB's ``TIMESTAMP``
      does: comparisons and ``INTERVAL`` arithmetic do not depend on any time zone. SQLGlot
      already writes DuckDB ``TIMESTAMP`` literals that way, and :func:`read_tables` casts the
      columns. The session time zone is UTC (:func:`spark_session`), so ``epoch`` of a wall time
      is its UTC epoch, as in DuckDB.

Input
    :func:`read_tables` reads the contract tables from Parquet on any Spark-readable path
    (``file:``, ``hdfs:``, ``s3a:``, ``abfss:``). It applies the config's table and column names
    and types the columns with validation's own SQL (:func:`churnml.validate.typed_sql`,
    ``[input.event_types]``, ``satisfaction_scale``, ``data_end``; the data's end by
    :func:`churnml.validate.data_end_sql` and :func:`churnml.validate.end_through_events`), transpiled like the features. It does *not*
    quarantine bad rows: Spark expects clean tables, such as ones that ``churnml validate``
    accepted without setting rows aside, or the output of your own upstream checks. Rows that
    validation would set aside stop the read with a :class:`~churnml.errors.DataError`, for every
    reason validation has: those a condition on the row decides
    (:func:`churnml.validate.event_checks` and :func:`churnml.validate.missing_id_check`, the
    rules validation itself runs, counted in one aggregate pass per table: a missing customer_id,
    timestamp or amount, a date that does not read or lies before 1900, a number that does not
    read, is not finite or lies beyond ±1e12, resolved_at before
    timestamp), a customer_id not in ``customers``, a churn event dated more than a day before the
    customer's sign-up, a repeated ``transaction_id`` (a join and a
    grouping on the views), and rows after the data's end (after ``[input] data_end`` they are left
    out, as validation's clean tables leave them out). A ``customers`` table repeating an id in rows
    that differ stops the read with validation's own error, and so do satisfaction scores that say
    the survey uses another scale; rows of ``customers`` repeated whole are read once, with a note, as
    validation keeps the first. What validation keeps with a reason (a sign-up date that
    does not read, NaN or a placeholder in a numeric customer attribute, a satisfaction score that
    does not read or lies off the scale, blanked with its event kept) is kept the same way, and
    rows with every field empty are skipped, as validation skips them.

Logging
    When churnml starts the JVM (:func:`spark_session` without ``spark-submit``), Spark logs with
    :data:`LOG4J_CONFIG` (WARN, start-up notes a user cannot act on at ERROR) and the JVM's own
    incubator-module line is left out of its standard error (:func:`_start_jvm`); errors print.

PySpark 4 with pandas 3
    Arrow transfers (``toPandas``, ``mapInPandas``) work. PySpark still calls
    ``Series.astype(..., copy=False)``, and pandas 3 warns about this with ``Pandas4Warning``.
    PySpark also warns (``FutureWarning``) that it "does not yet fully support pandas >= 3.0.0".
    :func:`_quiet_pandas4` hides both warnings around the calls made here; nothing else was needed. Strings come back with
    pandas 3's ``str`` dtype; :func:`churnml.features.typed_feature_frame` makes the dtypes
    identical to the DuckDB path's.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import math
import os
import re
import shutil
import sys
import uuid
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable, Iterator, Mapping, NamedTuple, Sequence

import pandas as pd

from churnml import io, validate
from churnml.config import Config, InputConfig
from churnml.dataset import _lit, _q
from churnml.errors import ConfigError, DataError, ProblemError
from churnml.features import (
    DIVERSITY_COLUMNS,
    MAX_BITMASK_VALUES,
    bitmask_values,
    categorical_sources,
    describe_features,
    feature_query,
    layout_feature_specs,
    normalize_cutoffs,
    typed_feature_frame,
)
from churnml.labels import (
    OUTSIDE_REASONS,
    TrainingSet,
    assemble_training_set,
    checked_data_start,
    checked_training_cutoffs,
    label_query,
    outside_population_sql,
    refuse_scoring_as_of,
    season_cutoffs,
)
from churnml.schema import TABLES

if TYPE_CHECKING:  # pyspark is an optional dependency: imported only by the functions using it
    from pyspark.sql import DataFrame as SparkFrame
    from pyspark.sql import SparkSession
    from pyspark.sql.types import StructType

SESSION_DEFAULTS: dict[str, str] = {
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.execution.arrow.pyspark.enabled": "true",
    "spark.sql.execution.arrow.pyspark.fallback.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
}
"""Settings every churnml Spark session carries (UTC everywhere; Arrow for pandas transfers)."""


# --------------------------------------------------------------------------------------------
# Session and SQL
# --------------------------------------------------------------------------------------------


def spark_session(
    master: str | None = None,
    app_name: str = "churnml",
    conf: Mapping[str, str] | None = None,
) -> "SparkSession":
    """A SparkSession with churnml's settings (session time zone UTC, Arrow on).

    Parameters
    ----------
    master : str, optional
        ``local[2]``, ``spark://host:7077``, ``yarn`` … None leaves it to ``spark-submit
        --master`` (or PySpark's default, ``local[*]``).
    app_name : str
    conf : mapping, optional
        Extra Spark settings, e.g. ``{"spark.sql.shuffle.partitions": "400"}``.

    Returns
    -------
    pyspark.sql.SparkSession
        An existing active session is reused, with the time zone forced to UTC.

    Example
    -------
    >>> spark = spark_session("local[2]", conf={"spark.ui.enabled": "false"})   # doctest: +SKIP

    Raises
    ------
    ConfigError
        PySpark is not installed (an optional dependency), or Spark did not start.
    """
    try:
        from pyspark.sql import SparkSession
    except ImportError as exc:  # a 46-line traceback ending in ModuleNotFoundError before
        raise ConfigError(f"--engine spark needs PySpark, which is not installed here ({exc}). Install it into "
                          "churnml's virtualenv: `.venv/bin/pip install -e '.[spark]'` in the checkout (make demo and "
                          "make test install it too), or use --engine duckdb.") from None

    builder = SparkSession.builder.appName(app_name)
    if master:
        builder = builder.master(master)
    settings = {**SESSION_DEFAULTS, **(conf or {})}
    if (master or "local").startswith("local"):
        # Local Python workers must import churnml: run them on this interpreter, not the
        # `python3` on PATH. PySpark reads only the environment variable for this.
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    for key, value in settings.items():
        builder = builder.config(key, value)
    try:
        with _quiet_pandas4():  # PySpark warns about pandas 3 on its first Py4J call, in here
            _start_jvm({**settings, "spark.app.name": app_name, **({"spark.master": master} if master else {})})
            spark = builder.getOrCreate()
    except Exception as exc:  # Py4J / PySpark errors: a wrong master, no Java, a cluster that is down
        lines = [line.strip(" :\t") for line in str(exc).splitlines() if line.strip(" :\t")]
        # The Java exception's own message ("Could not parse Master URL: 'local[9x]'") says more
        # than Py4J's first line ("An error occurred while calling …").
        java = [m.group(1) for line in lines if (m := re.match(r"^[\w.$]*(?:Exception|Error): (.+)$", line))]
        first = (java or lines or [type(exc).__name__])[0]
        raise ConfigError(
            f"Spark did not start{f' with --master {master}' if master else ''}: {first[:300].rstrip('.')}. "
            f"{_start_advice(str(exc))}"
        ) from None
    # getOrCreate may hand back a session started elsewhere with other settings.
    spark.conf.set("spark.sql.session.timeZone", "UTC")
    return spark


LOG4J_CONFIG = os.path.join(os.path.dirname(__file__), "spark-log4j2.properties")
"""Spark's logging when churnml starts the JVM: Spark's defaults at WARN, start-up warnings a user
cannot act on (native Hadoop library, hostname on loopback) at ERROR."""

_JVM_NOISE = (b"WARNING: Using incubator modules:",)
"""Lines the JVM prints itself, which no logging setting reaches: Spark 4 adds the incubating
Vector API module on Java 17 and later, and the JVM says so on every start."""


def _start_jvm(settings: Mapping[str, str]) -> None:
    """Start Spark's JVM, as PySpark's first session does, with churnml's logging and without the
    JVM's own start-up notes (:data:`_JVM_NOISE`); nothing when a JVM runs already (an earlier
    session, or ``spark-submit`` started this Python).

    The JVM's standard error goes through a pipe that a thread copies to this process's, line by
    line, leaving out only :data:`_JVM_NOISE`: what it prints when it fails (an invalid
    option, too little memory) and the errors Spark logs still reach the terminal.
    :data:`LOG4J_CONFIG` is given to the driver unless Spark's conf folder has a log4j2 file or
    ``-Dlog4j2.configurationFile`` is set (in ``SPARK_SUBMIT_OPTS`` or
    ``spark.driver.extraJavaOptions``): those win.
    """
    import threading

    from pyspark import SparkConf, SparkContext
    from pyspark.find_spark_home import _find_spark_home
    from pyspark.java_gateway import launch_gateway

    if SparkContext._gateway is not None or "PYSPARK_GATEWAY_PORT" in os.environ:
        return
    given = f"{os.environ.get('SPARK_SUBMIT_OPTS', '')} {settings.get('spark.driver.extraJavaOptions', '')}"
    conf_dir = os.environ.get("SPARK_CONF_DIR") or os.path.join(_find_spark_home(), "conf")
    own_config = "log4j2.configurationFile" in given or (
        os.path.isdir(conf_dir) and any(name.startswith("log4j2") for name in os.listdir(conf_dir)))
    read, write = os.pipe()

    def copy() -> None:  # until every process holding the pipe (the JVM, its Python workers) has exited
        with open(read, "rb") as lines:
            for line in lines:
                if not line.startswith(_JVM_NOISE):
                    try:
                        os.write(2, line)
                    except OSError:
                        pass

    copier = threading.Thread(target=copy, name="churnml-spark-stderr", daemon=True)
    copier.start()
    before = os.environ.get("SPARK_SUBMIT_OPTS")
    if not own_config and os.path.exists(LOG4J_CONFIG):  # read by Spark's launcher for the driver JVM; options given after it win
        os.environ["SPARK_SUBMIT_OPTS"] = f"{before or ''} -Dlog4j2.configurationFile={Path(LOG4J_CONFIG).as_uri()}".strip()
    try:
        gateway = launch_gateway(SparkConf(loadDefaults=False).setAll(list(settings.items())),
                                 popen_kwargs={"stderr": write})
    except BaseException:
        os.close(write)
        copier.join(5)  # the JVM's last words before churnml's message
        raise
    finally:
        if before is None:
            os.environ.pop("SPARK_SUBMIT_OPTS", None)
        else:
            os.environ["SPARK_SUBMIT_OPTS"] = before
    os.close(write)
    SparkContext._ensure_initialized(gateway=gateway)


def _start_advice(error: str) -> str:
    """What to do when Spark does not start, by the cause ``error`` (the exception's text) shows."""
    java_home = os.environ.get("JAVA_HOME")
    java = os.path.join(java_home, "bin", "java") if java_home else shutil.which("java")
    if "JAVA_GATEWAY_EXITED" in error and not (java and os.access(java, os.X_OK)):
        where = f"JAVA_HOME={java_home} has no bin/java" if java_home else "no java on PATH and JAVA_HOME is not set"
        return f"Spark needs Java 17 and found none ({where}): install it (`make java`), or set JAVA_HOME to it."
    if re.search(r"memory|heap", error, re.IGNORECASE):
        return ("Give the driver memory the machine has: spark.driver.memory (e.g. --conf spark.driver.memory=2g with "
                "spark-submit, or conf={'spark.driver.memory': '2g'}), at least 512m and less than the free memory.")
    if "JAVA_GATEWAY_EXITED" in error:  # Java is there: the JVM refused its options (the lines above say which)
        return ("Java started and exited: check the lines above it printed, spark.driver.memory (at most the free "
                "memory) and the other Spark settings (--conf, spark-defaults.conf).")
    return "Use a master such as local[2], spark://host:7077 or yarn."


def resolve_path(path: str | os.PathLike) -> str:
    """``path`` for Spark: URLs (``s3a://…``, ``hdfs:///…``, ``file:/…``) as given, local paths made absolute.

    The JVM resolves relative paths against its own start directory, which need not be Python's
    current one.
    """
    text = os.fspath(path)
    if re.match(r"^[A-Za-z][A-Za-z0-9+.-]+:", text):
        return text
    return os.path.abspath(text)


def _backquoted(name: str) -> str:
    """A column name quoted for Spark SQL and ``F.col``, a backtick in it doubled (the one helper; the
    DuckDB SQL that :func:`to_spark_sql` transpiles quotes with :func:`churnml.dataset._q`). A customers
    column named ``a`b`` broke the query, and a crafted name could have added SQL to it.

    Example
    -------
    >>> _backquoted("region"), _backquoted("a`b")
    ('`region`', '`a``b`')
    """
    return "`" + name.replace("`", "``") + "`"


def to_spark_sql(duckdb_sql: str, tables: Mapping[str, str] | None = None, ordered: bool = True) -> str:
    """Transpile churnml's DuckDB SQL to Spark SQL that computes the same values.

    Parameters
    ----------
    duckdb_sql : str
        A query of :func:`churnml.features.feature_query` / :func:`churnml.labels.label_query`
        (or any DuckDB SQL in the same style).
    tables : mapping, optional
        Table name in the query -> the Spark view to read instead (see :class:`SparkData`).
    ordered : bool
        False drops the outermost ``ORDER BY`` (see :func:`feature_frame` for why).

    Returns
    -------
    str
        Spark SQL; see the module docs for the rewrites on top of SQLGlot's transpile.

    Example
    -------
    >>> to_spark_sql("SELECT epoch(ts) / 86400.0 FROM t")
    'SELECT (CAST(UNIX_MICROS(CAST(ts AS TIMESTAMP_LTZ)) AS DOUBLE) / 1e6) / CAST(86400.0 AS DOUBLE) FROM t'
    """
    import sqlglot
    from sqlglot import exp

    tables = dict(tables or {})

    def rewrite(node: exp.Expression) -> exp.Expression:
        if isinstance(node, exp.Table) and node.name in tables and not node.args.get("db"):
            return exp.Table(this=exp.to_identifier(tables[node.name]), alias=node.args.get("alias"))
        if isinstance(node, exp.TimeToUnix):
            micros = exp.Anonymous(this="UNIX_MICROS", expressions=[exp.cast(node.this, exp.DataType.Type.TIMESTAMPLTZ)])
            return exp.paren(exp.Div(this=exp.cast(micros, exp.DataType.Type.DOUBLE), expression=exp.Literal.number("1e6")))
        if (isinstance(node, exp.Literal) and node.is_number and "." in node.this
                and "e" not in node.this.lower() and not isinstance(node.parent, exp.Cast)):
            return exp.cast(node.copy(), exp.DataType.Type.DOUBLE)
        return node

    tree = sqlglot.parse_one(duckdb_sql, read="duckdb")
    if not ordered:
        tree.set("order", None)
    return tree.transform(rewrite).sql(dialect="spark")


# --------------------------------------------------------------------------------------------
# Input
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SparkData:
    """The contract tables as Spark temporary views, with the layout that decides the features.

    Attributes
    ----------
    spark : SparkSession
    source : str
        Where the tables were read from.
    tables : tuple of str
        Contract tables present; each is a temporary view of that name.
    layout : dict
        Table -> its columns (as :func:`churnml.features.table_columns` gives for DuckDB).
    attributes : dict
        Customer attribute columns -> ``"categorical"`` / ``"numeric"``.
    data_end : pandas.Timestamp or None
        The latest event timestamp (no event lies after validation's end of the data: such rows
        are refused, or left out after ``[input] data_end``), or the day of ``[input] data_end``
        when later: ``Dataset.data_end``, as validation sets it.
    views : dict
        Table -> the name of its temporary view (unique per read, so reads do not collide).
    left_out_columns : dict
        Customer columns left out of the attributes, as validation leaves them out: column ->
        ``"dates"`` or ``"empty"`` (``Dataset.summary["left_out_columns"]``).
    order_lines : int or None
        With ``[input] order_lines``: how many transactions rows (order lines) were read, merged into
        the orders ``views["transactions"]`` holds, as validation merges them.
    notes : tuple of str
        Validation's notes that apply to data read as it is (``Dataset.summary["notes"]``, in its
        words): optional tables missing, customer columns left out, times with a zone read as UTC,
        codes written with leading zeros, numeric columns that total each customer's history as of the
        export (:func:`churnml.validate.lifetime_total_notes`), optional event columns empty in every
        row or a ``resolved_at`` missing for most complaints (:func:`churnml.validate.event_column_notes`),
        attributes that alone separate the customers with a churn event from the rest
        (:func:`churnml.validate.leaky_attribute_notes`).
    code_columns : dict
        Categorical attributes that are codes written with leading zeros -> a few of their values
        (:func:`churnml.validate.code_columns`, ``Dataset.summary["code_columns"]``): the features'
        descriptions say so.
    """

    spark: Any
    source: str
    tables: tuple[str, ...]
    layout: dict[str, frozenset[str]]
    attributes: dict[str, str]
    data_end: pd.Timestamp | None = field(default=None)
    views: dict[str, str] = field(default_factory=dict)
    left_out_columns: dict[str, str] = field(default_factory=dict)
    order_lines: int | None = None
    notes: tuple[str, ...] = ()
    code_columns: dict[str, list[str]] = field(default_factory=dict)

    def has(self, table: str) -> bool:
        return table in self.tables


class _RawTable(NamedTuple):
    """A contract table as :func:`read_tables` found it: its raw view and how validation reads it."""

    spec: Any
    mapping: dict[str, str]  # contract column -> raw column (validate.map_columns)
    types: dict[str, str]  # raw column -> the DuckDB type validation's SQL expects
    view: str  # the raw temporary view
    location: str  # where the table was read from, for messages


def read_tables(spark: "SparkSession", path: str, config: Config | None = None) -> SparkData:
    """Read the contract tables from Parquet under ``path`` as canonical temporary views.

    Each table is ``<path>/<name>.parquet`` (a file or a Spark output folder) or ``<path>/<name>/``
    (a folder of part files), where ``<name>`` is the table's name in ``config``. Columns are
    typed by validation's own SQL (:mod:`churnml.validate`), transpiled to Spark: text timestamps
    with a UTC offset are converted to UTC, ``[input.event_types]`` and ``satisfaction_scale``
    are applied, and rows after ``[input] data_end`` are left out, as ``churnml validate`` does.
    Without ``data_end``, the data's end is validation's (:func:`churnml.validate.data_end_sql`:
    the last day with ordinary transaction volume), and event rows after it are refused; a
    sign-up date after the end is missing, as validation keeps the customer without it.

    Parameters
    ----------
    spark : SparkSession
        From :func:`spark_session`.
    path : str
        Any Spark-readable folder: ``/data/churn``, ``hdfs:///churn``, ``s3a://bucket/churn`` …
    config : Config, optional
        Table and column name mapping, and the ``[input]`` settings.

    Returns
    -------
    SparkData

    Raises
    ------
    DataError
        When a required table or column is missing, ``customers`` repeats an id in rows that differ, or for rows
        validation would set aside, for any of its reasons (missing or unreadable values, dates
        before 1900 or after the data's end, numbers not finite or beyond ±1e12, resolved before
        opened, a customer_id not in ``customers``, a repeated transaction_id …).
    ConfigError
        For ``[input]`` settings Spark does not apply (``date_format``, ``decimal_comma``), and
        ``order_lines`` without a ``transaction_id``.

    Example
    -------
    >>> data = read_tables(spark_session(), "s3a://bucket/churn/clean")   # doctest: +SKIP
    """
    config = config or Config()
    _refuse_unsupported_input(config.input)
    base = str(path).rstrip("/")
    declared = pd.Timestamp(config.input.data_end) + pd.Timedelta(days=1) if config.input.data_end else None
    end = declared  # the data's end (exclusive): [input] data_end, else inferred once transactions are checked
    transactions_end: pd.Timestamp | None = None  # the transactions' own, which events on quiet days after it carry

    def rows(sql: str) -> list[tuple]:
        return [tuple(row) for row in spark.sql(to_spark_sql(sql)).collect()]
    read: dict[str, _RawTable] = {}
    spark_types: dict[str, dict[str, str]] = {}  # table -> its raw columns' Spark types
    attributes: dict[str, str] = {}
    left_out: dict[str, str] = {}  # customer columns of dates or without a value, as validation leaves out
    left_out_events: list[tuple[str, str, str]] = []  # (table, column, raw column) empty in every row, left out
    empty: dict[str, str] = {}  # optional tables without a row, taken as absent as validation takes them: table -> why
    skipped: list[str] = []  # notes on folders of parts with files left unread, as validation gives them
    prefix = f"churnml_{uuid.uuid4().hex[:8]}_"
    for table, spec in TABLES.items():
        name = config.table_name(table)
        location, parts = _table_parts(spark, base, name, table)
        if parts is None and location is not None and (spec.required or table in config.tables):
            raise DataError(
                f"Folder {location} (table {table!r}) holds no Parquet file to read: a part is named *.parquet or is Parquet "
                '(a Hive table\'s 000000_0), under no path starting with "_" or "." (a job\'s leftovers, hidden files). '
                "Check that it holds the table's Parquet parts.")
        if parts is None:  # not there, or a folder without a Parquet file: absent, as validation finds no table there
            if spec.required:
                raise DataError(
                    f"Required table {table!r} not found under {base}: expected {name}.parquet or a folder {name}/ of "
                    f"Parquet files. Spark reads Parquet only; convert CSV first, or map the table's name under [tables]."
                )
            if table in config.tables:
                raise DataError(f"{validate.mapped_but_missing(table, config)} under {base}: expected {name}.parquet or a "
                                f"folder {name}/ of Parquet files. Fix the name, or remove the mapping if the table is not there.")
            continue
        files, options, note = parts
        skipped += [note] if note else []
        # No row (a 0-byte file, or Parquet with its columns and no rows): validation's rule, taken as absent if optional.
        frame = None if _zero_bytes(spark, files) else _read_parquet(spark, location, table, (files, options))
        if frame is None or frame.isEmpty():
            empty[table] = validate.empty_table(table, location, "0 bytes" if frame is None else "no rows")
            continue
        types = {column: _duckdb_type(spark_type) for column, spark_type in frame.dtypes}
        mapping = validate.map_columns(table, spec, config, list(types), location)
        if table == "transactions" and config.input.order_lines and "transaction_id" not in mapping:
            raise validate.order_lines_unmapped()
        raw_view = f"{prefix}raw_{table}"
        frame.createOrReplaceTempView(raw_view)
        read[table] = _RawTable(spec, mapping, types, raw_view, location)
        spark_types[table] = dict(frame.dtypes)
    # Every table is found before any is checked, as validation finds them: the events' days after the
    # transactions' end are then read in one query over both event tables.
    for table, (spec, mapping, types, raw_view, location) in read.items():
        kinds, empty_columns = _check_values(spark, raw_view, table, spec, mapping, spark_types[table], config.input,
                                             location, config.training.max_categorical_levels, end,
                                             validate.named_table(config, table))
        if empty_columns:  # left out, as validation leaves them out (a resolved_at never filled)
            left_out_events += [(table, column, mapping[column]) for column in empty_columns]
            read[table] = read[table]._replace(mapping={c: raw for c, raw in mapping.items() if c not in empty_columns})
        attributes.update({column: kind for column, kind in kinds.items() if kind not in validate.LEFT_OUT_KINDS})
        left_out.update({column: validate.LEFT_OUT_KINDS[kind] for column, kind in kinds.items()
                         if kind in validate.LEFT_OUT_KINDS})
        if table == "transactions" and end is None:  # validation's own query: the last day with ordinary volume
            timestamp = validate.typed_sql("timestamp", mapping["timestamp"], types[mapping["timestamp"]])
            end = transactions_end = validate.data_end_after(
                spark.sql(to_spark_sql(validate.data_end_sql(timestamp, raw_view))).collect()[0][0],
                validate.quoted_table(config, "transactions"), mapping["timestamp"])
            # Events on the quiet days after it carry it, as in validation: every event table in one query.
            events = {raw.view: validate.typed_sql("timestamp", raw.mapping["timestamp"], raw.types[raw.mapping["timestamp"]])
                      for t, raw in read.items() if t in ("service_events", "churn_events")}
            end = validate.end_through_events(rows, transactions_end, timestamp, events, raw_view)
    views: dict[str, str] = {}
    layout: dict[str, frozenset[str]] = {}
    for table, (spec, mapping, types, raw_view, _) in read.items():
        selects = []
        for contract, raw in mapping.items():
            if contract in spec.kinds:
                expression = _canonical(spec.kinds[contract], contract, raw, types[raw], config.input, end)
                if contract == "resolved_at":  # a closing date alone on the day it was opened: resolved then, as validation reads it
                    opened = mapping["timestamp"]
                    expression = validate.resolved_at_sql(expression, _canonical("timestamp", "timestamp", opened, types[opened],
                                                                                 config.input, end))
                selects.append(f"{expression} AS {_q(contract)}")
            elif contract in attributes:  # NaN and infinities blanked, as validation keeps the customer without them
                selects.append(f"{validate.attribute_sql(attributes[contract], raw)} AS {_q(contract)}")
        # [input.event_types] rewrites the raw column, as validation's view over the raw table does.
        renamed = validate.event_type_sql(mapping, config.input.event_types) if table == "service_events" else None
        source = raw_view if renamed is None else "(SELECT {} FROM {})".format(
            ", ".join(f"{renamed} AS {_q(c)}" if c == mapping["event_type"] else _q(c) for c in types), raw_view)
        # Rows with every field empty are skipped, as validation skips them.
        query = f"SELECT {', '.join(selects)} FROM {source} WHERE NOT ({validate.blank_row_sql(types)})"
        if table != "customers" and declared is not None:  # the whole given day belongs to the data
            timestamp = validate.typed_sql("timestamp", mapping["timestamp"], types[mapping["timestamp"]])
            query += f" AND {timestamp} < TIMESTAMP '{declared}'"
        canonical = spark.sql(to_spark_sql(query))
        views[table] = prefix + table
        canonical.createOrReplaceTempView(views[table])
        layout[table] = frozenset(canonical.columns)
    repeated_customers = _read_customers_once(spark, read, views, config)
    _refuse_unmatched(spark, read, views, config.input.order_lines)
    n_lines = None
    if config.input.order_lines:  # one row per order, as validation merges the lines (its aggregates, transpiled)
        columns = sorted(layout["transactions"], key=list(TABLES["transactions"].all_columns).index)
        lines = views["transactions"]
        n_lines = spark.table(lines).count()
        views["transactions"] = f"{prefix}transactions_orders"
        spark.sql(to_spark_sql(validate.merge_order_lines_sql(lines, columns))).createOrReplaceTempView(views["transactions"])
    data_end = validate.declared_end(_last_event(spark, read, views, end, transactions_end), config.input.data_end)

    def fetchone(sql: str) -> tuple:  # validation's query over its clean tables, on the canonical views
        return tuple(spark.sql(to_spark_sql(sql, views)).collect()[0])
    codes = validate.code_columns(fetchone, attributes)
    n_customers, values = validate.category_counts(fetchone, attributes)
    max_levels = config.training.max_categorical_levels
    attribute_notes = (validate.code_notes(codes, config) + validate.many_values_notes(n_customers, values, max_levels, config)
                       + validate.lifetime_total_notes(fetchone, attributes, config))
    if "churn_events" in views:
        attribute_notes += validate.leaky_attribute_notes(
            fetchone, attributes, config, validate.many_valued_columns(n_customers, values, max_levels))
    return SparkData(spark, base, tuple(layout), layout, attributes, data_end, views, left_out, n_lines,
                     _notes(spark, read, left_out, config, empty, skipped,
                            io.unread_files(base, config) if "://" not in base and set(read) < set(TABLES) else ())
                     + tuple(_read_once_note(repeated_customers, read["customers"].location))
                     + tuple(validate.empty_left_out_notes(left_out_events, config)
                             + validate.event_column_notes(fetchone, layout, {t: raw.mapping for t, raw in read.items()},
                                                           config))
                     + tuple(attribute_notes), codes)


def _notes(spark: "SparkSession", read: Mapping[str, _RawTable], left_out: Mapping[str, str], config: Config,
           empty: Mapping[str, str] = {}, skipped: Sequence[str] = (), unread: Sequence[str] = ()) -> tuple[str, ...]:
    """Validation's notes on data it keeps that apply to Spark's read, made by validation's own
    functions: optional tables missing or ``empty`` (table -> why), with the files of a local folder
    no table is read from (``unread``), folders of parts with files
    ``skipped``, customers columns left out (dates, empty, a pandas index),
    and times with a zone read as UTC (one query of at most one row per zoned column, of
    :data:`churnml.validate._OFFSET_ROWS` rows per date column written as text)."""
    customers = read["customers"].mapping
    raw_views = {f"raw_{table}": raw.view for table, raw in read.items()}

    def first_row(sql: str) -> tuple | None:
        rows = spark.sql(to_spark_sql(sql, raw_views)).collect()
        return tuple(rows[0]) if rows else None

    return tuple(
        validate.missing_table_notes(tuple(read), config, empty, unread)
        + list(skipped)
        + validate.left_out_notes([c for c, why in left_out.items() if why == validate.LEFT_OUT_KINDS["date"]],
                                  [c for c, why in left_out.items() if why == validate.LEFT_OUT_KINDS["empty"]],
                                  [c for c, raw in customers.items() if validate.PANDAS_INDEX.fullmatch(raw)],
                                  "signup_date" in customers, config)
        + validate.zoned_notes(first_row, read, {t: raw.mapping for t, raw in read.items()},
                               {t: raw.types for t, raw in read.items()}, config)
    )


def _read_customers_once(spark: "SparkSession", read: Mapping[str, _RawTable], views: dict[str, str],
                         config: Config) -> int:
    """Validation's rule for a customer_id that ``customers`` repeats: rows that differ stop the read
    with validation's own error (:func:`churnml.validate.differing_ids_sql`, over every column of the
    raw view); rows repeated whole (a doubled export) are read once, as validation keeps the first
    and sets the others aside as :data:`churnml.validate.R_REPEATED_ROW`: ``views["customers"]`` then
    becomes their distinct rows. Returns how many rows were left out so (0: one grouping, nothing else)."""
    query = to_spark_sql(validate.repeated_ids_sql("customer_id", views["customers"]))
    ids, rows = spark.sql(f"SELECT count(*), sum(n) FROM ({query})").collect()[0]
    if not ids:
        return 0
    raw = read["customers"]
    id_sql = validate.typed_sql("id", raw.mapping["customer_id"], raw.types[raw.mapping["customer_id"]])
    differing = to_spark_sql(validate.differing_ids_sql(id_sql, raw.view, raw.types))
    n_dup = spark.sql(f"SELECT count(*) FROM ({differing})").collect()[0][0]
    if n_dup:
        shown = spark.sql(f"{differing} ORDER BY n DESC, id LIMIT {validate.EXAMPLES}").collect()
        raise DataError(validate.not_unique_message(n_dup, [(row["id"], row["n"]) for row in shown],
                                                    raw.mapping["customer_id"], validate.quoted_table(config, "customers")))
    # Each id's rows are equal as read, so their canonical rows are too: one of each is the customer.
    once = f"{views['customers']}_once"
    spark.sql(f"SELECT DISTINCT * FROM {views['customers']}").createOrReplaceTempView(once)
    views["customers"] = once
    return int(rows - ids)


def _read_once_note(repeated: int, location: str) -> list[str]:
    """The note on ``repeated`` rows of ``customers`` that repeat another row whole, read once
    (:func:`_read_customers_once`): Spark sets no row aside, so the count is said here."""
    if not repeated:
        return []
    return [f"{repeated:,} row(s) of customers ({location}) repeat another row whole (a doubled export?): each customer "
            f"is read once, as `churnml validate` keeps the first and sets the others aside as "
            f"{validate.R_REPEATED_ROW!r}."]


def _refuse_unmatched(spark: "SparkSession", read: Mapping[str, _RawTable], views: Mapping[str, str],
                      order_lines: bool = False) -> None:
    """Validation's checks that take a grouping or a join, on the canonical views (``customers``
    read once: :func:`_read_customers_once`): event rows whose customer_id is not in ``customers``
    (:data:`churnml.validate.R_UNKNOWN_CUSTOMER`), a churn event before the customer's sign-up
    (:data:`churnml.validate.R_CLOSED_BEFORE_SIGNUP`) and a repeated ``transaction_id``
    (:data:`churnml.validate.R_DUPLICATE_TX`), which validation sets aside; with ``order_lines``, the
    lines of a transaction_id naming several customers instead (:data:`churnml.validate.R_ORDER_OF_SEVERAL`).
    One join of each event table with ``customers`` and one grouping of the transactions' ids."""
    examples = validate.EXAMPLES

    def grouped(query: str) -> tuple[int, int, list[Any]]:
        """How many ids ``query`` gives (a row per id: ``id`` and its ``n`` rows), their rows in all,
        and a few (most rows first)."""
        ids, rows = spark.sql(f"SELECT count(*), sum(n) FROM ({query})").collect()[0]
        shown = spark.sql(f"{query} ORDER BY n DESC, id LIMIT {examples}").collect() if ids else []
        return ids, rows or 0, shown

    def repeats(column: str, table: str) -> tuple[int, int, list[Any]]:
        """How many ids of ``column`` repeat, the rows beyond the first of each, and a few (most repeated first)."""
        ids, rows, shown = grouped(to_spark_sql(validate.repeated_ids_sql(column, views[table])))
        return ids, rows - ids, shown

    events = [table for table in views if table != "customers"]
    known = f"(SELECT customer_id FROM {views['customers']})"
    counts = spark.sql(" UNION ALL ".join(
        f"SELECT '{t}' AS t, count(*) AS n, count(CASE WHEN c.customer_id IS NULL AND e.customer_id IS NOT NULL THEN 1 END) "
        f"AS unknown FROM {views[t]} AS e LEFT JOIN {known} AS c ON e.customer_id = c.customer_id" for t in events)).collect()
    unknown = {row["t"]: (row["unknown"], row["n"]) for row in counts if row["unknown"]}
    if unknown:
        ours = [row[0] for row in spark.sql(f"SELECT customer_id FROM {views['customers']} LIMIT {examples}").collect()]
        parts = []
        for table, (n, total) in unknown.items():
            theirs = [row[0] for row in spark.sql(
                f"SELECT DISTINCT e.customer_id FROM {views[table]} AS e LEFT ANTI JOIN {known} AS c "
                f"ON e.customer_id = c.customer_id WHERE e.customer_id IS NOT NULL LIMIT {examples}").collect()]
            parts.append(f"{n:,} of {total:,} rows of {table} ({read[table].location}), e.g. "
                         f"{', '.join(repr(v) for v in theirs)}")
        raise DataError(
            f"{'; '.join(parts)} have a customer_id that is not in customers (which has ids such as "
            f"{', '.join(repr(v) for v in ours)}): `churnml validate` sets them aside as {validate.R_UNKNOWN_CUSTOMER!r}. "
            "--engine spark reads clean tables and sets no rows aside: remove these rows upstream, or add the customers; "
            "if most ids do not match, write the ids the same way in both tables (numbers vs text such as 1.0 vs 1, "
            "leading zeros, prefixes), or map the right column under [columns.<table>] in the config."
        )
    if "churn_events" in views and "signup_date" in read["customers"].mapping:
        early = (f"FROM {views['churn_events']} AS e JOIN {views['customers']} AS c ON e.customer_id = c.customer_id "
                 "WHERE e.timestamp < c.signup_date - INTERVAL 1 DAY")
        n = spark.sql(f"SELECT count(*) {early}").collect()[0][0]
        if n:
            shown = ", ".join(f"{row[0]!r} closed {row[1]:%Y-%m-%d}, signed up {row[2]:%Y-%m-%d}" for row in spark.sql(
                f"SELECT e.customer_id, e.timestamp, c.signup_date {early} ORDER BY 1 LIMIT {examples}").collect())
            raise DataError(
                f"{n:,} rows of churn_events ({read['churn_events'].location}) are dated more than a day before the "
                f"customer's signup_date, e.g. {shown}: `churnml validate` sets them aside as "
                f"{validate.R_CLOSED_BEFORE_SIGNUP!r}. --engine spark reads clean tables and sets no rows aside: fix "
                "the dates upstream (a typo in the year?), or remove the rows."
            )
    if order_lines:
        shared = (f"SELECT transaction_id AS id, count(*) AS n FROM {views['transactions']} WHERE transaction_id IS NOT "
                  "NULL GROUP BY 1 HAVING count(DISTINCT customer_id) > 1")
        ids, lines, rows = grouped(shared)
        if ids:
            shown = ", ".join(f"{row['id']!r} ({row['n']} lines)" for row in rows)
            raise DataError(
                f"{ids:,} transaction_id(s) of transactions ({read['transactions'].location}) name several customers "
                f"on their lines, e.g. {shown}: with [input] order_lines `churnml validate` sets their {lines:,} lines "
                f"aside as {validate.R_ORDER_OF_SEVERAL!r}. --engine spark reads clean tables and sets no rows aside: "
                "fix the customer or the order number of these lines upstream, or remove them."
            )
    elif "transaction_id" in read["transactions"].mapping:
        ids, extra, rows = repeats("transaction_id", "transactions")
        if ids:
            shown = ", ".join(f"{row['id']!r} ({row['n']} rows)" for row in rows)
            raise DataError(
                f"{ids:,} transaction_id(s) of transactions ({read['transactions'].location}) appear more than "
                f"once, e.g. {shown}: `churnml validate` keeps the first (earliest) row of each and sets the other "
                f"{extra:,} aside as {validate.R_DUPLICATE_TX!r}. --engine spark reads clean tables and sets no "
                "rows aside: remove the repeated rows upstream, or map a column that identifies each transaction as "
                "[columns.transactions] transaction_id. If the column numbers orders of several lines each, "
                "[input] order_lines = true merges each order's lines into one transaction, on both engines."
            )


def _last_event(spark: "SparkSession", read: Mapping[str, _RawTable], views: Mapping[str, str],
                end: pd.Timestamp | None, transactions_end: pd.Timestamp | None = None) -> pd.Timestamp | None:
    """The latest event of the canonical event tables (one aggregate pass over each), after
    refusing the rows dated from ``end`` on, which validation sets aside as
    :data:`churnml.validate.R_FUTURE_TIMESTAMP` (after ``[input] data_end`` they are left out of
    the views already). Taking the latest row as it was, one transaction dated a year after the
    rest, or a service event after the last transaction, moved Spark's end (the training
    cutoffs, the as-of checks) away from validation's. ``transactions_end``: the transactions' own
    end, which events on the quiet days after it carried to ``end`` (the message says which decided it)."""
    events = [table for table in views if table != "customers"]
    if not events:
        return None
    late = "0" if end is None else f"count(CASE WHEN timestamp >= TIMESTAMP '{end}' THEN 1 END)"
    union = " UNION ALL ".join(f"SELECT '{t}' AS t, max(timestamp) AS last, {late} AS late FROM {views[t]}" for t in events)
    rows = spark.sql(to_spark_sql(union)).collect()
    if any(row["late"] for row in rows):
        _refuse_after_the_end(spark, read, {row["t"]: row["late"] for row in rows if row["late"]}, end,
                              transactions_end or end)
    ends = [row["last"] for row in rows if row["last"] is not None]
    return pd.Timestamp(max(ends)) if ends else None


def _refuse_after_the_end(spark: "SparkSession", read: Mapping[str, _RawTable],
                          late: Mapping[str, int], end: pd.Timestamp, transactions_end: pd.Timestamp) -> None:
    """Stop on event rows dated after the data's end inferred from the transactions (a declared
    ``[input] data_end`` leaves them out instead), naming how many of each table, the latest few
    and the fix, as validation's note on them does."""
    counts, shown = [], []
    for table, n in late.items():
        _, mapping, types, raw_view, location = read[table]
        raw_id, raw_ts = mapping["customer_id"], mapping["timestamp"]
        timestamp = validate.typed_sql("timestamp", raw_ts, types[raw_ts])
        rows = spark.sql(to_spark_sql(
            f"SELECT CAST({_q(raw_id)} AS VARCHAR) AS c, CAST({_q(raw_ts)} AS VARCHAR) AS t FROM {raw_view} "
            f"WHERE {timestamp} >= TIMESTAMP '{end}' ORDER BY {timestamp} DESC LIMIT {validate.EXAMPLES}")).collect()
        counts.append(f"{n:,} row(s) of {table} ({location})")
        shown.append(f"{table}: " + ", ".join(f"customer {row['c']!r} at {row['t']!r}" for row in rows))
    raise DataError(
        f"{' and '.join(counts)} are dated after {validate.inferred_end_text(end, transactions_end)}, which "
        f"`churnml validate` takes for the data's end (it sets them aside as "
        f"{validate.R_FUTURE_TIMESTAMP!r}). The latest: {'; '.join(shown)}. --engine spark reads clean tables and sets "
        "no rows aside: if these dates are wrong (a typo year, a test record), remove the rows upstream; if the data "
        "runs later (transactions come in batches such as monthly bills, or a table runs past the last transaction), "
        'say where it ends in the config: [input] data_end = "YYYY-MM-DD".'
    )


def _table_parts(spark: "SparkSession", base: str, name: str,
                 table: str) -> tuple[str | None, tuple[list[str], dict[str, str], str] | None]:
    """Where table ``name`` is under ``base`` (any Hadoop file system), and what a read of it reads
    (:func:`_parquet_parts`): ``<base>/<name>.parquet`` or ``<base>/<name>``, whichever is a file or
    a folder holding a Parquet file, as validation finds a table (:func:`churnml.io.attach_source`).
    ``(folder, None)`` when only a folder without a Parquet file is there, ``(None, None)`` when nothing is.

    Asked of the file system first: Spark's read of a missing path logs a 95-line FileNotFoundException.

    Raises
    ------
    DataError
        Both are there, in validation's words (:func:`churnml.io.ambiguous_table`): Spark read
        ``<name>.parquet`` and left the folder unread.
    """
    jvm = spark._jvm
    folder = None
    found = []
    for candidate in (f"{base}/{name}.parquet", f"{base}/{name}"):
        path = jvm.org.apache.hadoop.fs.Path(candidate)
        if path.getFileSystem(spark._jsc.hadoopConfiguration()).exists(path):
            listing = _parquet_listing(spark, candidate)
            if listing is None or listing:
                found.append((candidate, listing))
            folder = folder or candidate
    if len(found) > 1:
        raise DataError(io.ambiguous_table(base, [candidate.removeprefix(f"{base}/") for candidate, _ in found], name))
    if found:
        [(location, listing)] = found
        return location, _listed_parts(location, table, listing)
    return folder, None


def _zero_bytes(spark: "SparkSession", files: Sequence[str]) -> bool:
    """Whether ``files`` is one file of 0 bytes (validation's "empty (0 bytes)"; Spark's read of it
    fails, as it is no Parquet)."""
    if len(files) != 1:
        return False
    path = spark._jvm.org.apache.hadoop.fs.Path(files[0])
    return path.getFileSystem(spark._jsc.hadoopConfiguration()).getFileStatus(path).getLen() == 0


_PARTITION_TYPE_INFERENCE = "spark.sql.sources.partitionColumnTypeInference.enabled"


@contextlib.contextmanager
def _partition_values_as_text(spark: "SparkSession") -> Iterator[None]:
    """Read Hive partition folders' values (``branch=007/``) as text while resolving a read: Spark
    inferred ``007`` as the number 7 (``1.10`` as 1.1, a 20-digit id as a DECIMAL), where DuckDB's
    read in validation keeps such values as the text the folder names. As text they are read as
    validation reads a text column: numeric customer attributes still are numeric, dates still are
    dates, and ids and codes keep their zeros. The session's own setting is restored after."""
    before = spark.conf.get(_PARTITION_TYPE_INFERENCE, None)
    spark.conf.set(_PARTITION_TYPE_INFERENCE, "false")
    try:
        yield
    finally:
        if before is None:
            spark.conf.unset(_PARTITION_TYPE_INFERENCE)
        else:
            spark.conf.set(_PARTITION_TYPE_INFERENCE, before)


def _read_parquet(spark: "SparkSession", location: str, table: str,
                  parts: tuple[list[str], dict[str, str]] | None = None) -> "SparkFrame":
    """``location`` with the union of its part files' columns (``mergeSchema``): a folder whose
    older parts lack a column read as if no part had it. Parts that store a column as different
    types are read as DuckDB's ``union_by_name`` reads them (:func:`_read_parts_widened`). Hive
    partition columns (``year=2024/``) are text (:func:`_partition_values_as_text`) and follow
    the files' columns in DuckDB's order (:func:`_in_duckdb_order`). ``parts``: the files and
    options :func:`_parquet_parts` gives, when already listed."""
    with _partition_values_as_text(spark):
        return _read_folder(spark, location, table, parts)


def _glob_escaped(path: str) -> str:
    """``path`` with the characters of a Hadoop glob pattern escaped, for Spark's read of one file.

    >>> _glob_escaped("region={a,b}/part[1]*.parquet")
    'region=\\\\{a,b\\\\}/part\\\\[1\\\\]\\\\*.parquet'
    """
    return re.sub(r"[\\{}\[\]*?]", lambda match: "\\" + match.group(0), path)


def _parquet_parts(spark: "SparkSession", location: str, table: str) -> tuple[list[str], dict[str, str], str] | None:
    """The files a read of table ``location`` reads, the options it needs, and a note on the files
    skipped ("" when none is): the file itself, or the folder's Parquet files that DuckDB reads
    (:func:`churnml.io.is_parquet_file`, under no path :func:`churnml.io.skipped_name` skips:
    :func:`churnml.io.parts_read`) with ``basePath``, so Hive partition folders (``year=2024/``)
    are still columns. Spark's read of the folder read every other file too, and stopped on a
    ``README`` beside the parts. None when the folder holds no Parquet file: no table, as for validation.

    Raises
    ------
    DataError
        Every Parquet file of the folder is skipped (:func:`churnml.io.parts_read`).
    """
    return _listed_parts(location, table, _parquet_listing(spark, location))


def _parquet_listing(spark: "SparkSession", location: str) -> list[tuple[list[str], str]] | None:
    """The Parquet files under folder ``location`` (:func:`churnml.io.is_parquet_file`), skipped
    ones too, each as its path's names below the folder and its path for Spark's read, sorted by
    that path; None when ``location`` is a file."""
    jvm = spark._jvm
    root = jvm.org.apache.hadoop.fs.Path(location)
    system = root.getFileSystem(spark._jsc.hadoopConfiguration())
    if system.getFileStatus(root).isFile():
        return None

    def head(path: Any, size: int) -> bytes:
        try:
            stream = system.open(path)
            try:
                return bytes(b for b in (stream.read() for _ in range(size)) if b >= 0)
            finally:
                stream.close()
        except Exception as exc:  # Py4J's Java IOException: unreadable, so not read, as io's OSError
            raise OSError(str(exc)) from None

    prefix = system.makeQualified(root).toString().rstrip("/") + "/"
    listing = system.listFiles(root, True)
    files = []
    while listing.hasNext():
        path = listing.next().getPath()
        name = path.toString()
        relative = name.removeprefix(prefix)
        if io.is_parquet_file(path.getName(), functools.partial(head, path)):
            # Under the folder as the user wrote it, as messages then name the files. Spark reads a
            # path as a glob: a part named part[1].parquet was "not found".
            files.append((relative.split("/"), location.rstrip("/") + "/" + _glob_escaped(relative)
                          if name.startswith(prefix) else name))
    return sorted(files, key=lambda file: file[1])


def _listed_parts(location: str, table: str,
                  listing: list[tuple[list[str], str]] | None) -> tuple[list[str], dict[str, str], str] | None:
    """:func:`_parquet_parts` of ``location`` from its :func:`_parquet_listing`."""
    if listing is None:
        return [location], {}, ""
    if not listing:
        return None
    read, note = io.parts_read(location.rstrip("/"), table, listing)
    return read, {"basePath": location}, note


def _read_folder(spark: "SparkSession", location: str, table: str,
                 parts: tuple[list[str], dict[str, str]] | None = None) -> "SparkFrame":
    """:func:`_read_parquet`, with the session set to read partition values as text."""
    files, options = parts or _parquet_parts(spark, location, table)[:2]
    try:
        with _quiet_task_failures(spark):
            frame = spark.read.options(**options).option("mergeSchema", "true").parquet(*files)
    except Exception as exc:  # Py4J / PySpark errors: parts whose types differ, files that are not Parquet
        text = str(exc)
        if "CANNOT_MERGE_SCHEMAS" in text or "incompatible data types" in text:
            return _read_parts_widened(spark, location, table, files, options)
        repeated = re.search(r"\[COLUMN_ALREADY_EXISTS\] The column `([^`]+)` already exists", text)
        if repeated:  # DuckDB reads the second as <name>_1, with a note; Spark's names are case-insensitive
            raise DataError(
                f"Table {table!r} ({location}) has two columns named {repeated.group(1)!r} (written in another case: Spark "
                "reads column names whatever their case). Remove the copy, or rename one of them, then rerun."
            ) from None
        if "TIMESTAMP(NANOS" in text:  # pandas' and Snowflake's default unit; Spark reads micro- and milliseconds only
            raise DataError(
                f"Table {table!r} ({location}) holds timestamps in nanoseconds, which Spark cannot read. Write them in "
                'microseconds (pyarrow: pq.write_table(table, path, coerce_timestamps="us"); pandas: '
                'df.to_parquet(path, coerce_timestamps="us")), or leave out --engine spark: DuckDB reads them.'
            ) from None
        first = next((line.strip() for line in text.splitlines() if line.strip()), type(exc).__name__)
        raise DataError(f"Cannot read table {table!r} from {location}: {first[:300]}. Check that it holds Parquet files.") from None
    relation = _relation(frame)
    in_files = {name.lower() for name in relation.dataSchema().fieldNames()}
    return _in_duckdb_order(frame, [name for name in relation.partitionSchema().fieldNames() if name.lower() not in in_files])


_TASK_LOGGERS = ("org.apache.spark.executor.Executor", "org.apache.spark.scheduler.TaskSetManager")
"""The loggers that print a failed task's Java stack trace (ERROR, and WARN "Lost task") on a local master."""


@contextlib.contextmanager
def _quiet_task_failures(spark: "SparkSession") -> Iterator[None]:
    """Silence :data:`_TASK_LOGGERS` while reading the part files' schemas: a clash of types failed
    the schema-merging job, and 80 lines of Java stack trace came before churnml's ``Error:`` line.
    The failure itself still reaches the caller as an exception (read, or turned into a
    :class:`DataError`); nothing else is silenced, and the levels are restored after."""
    try:
        log4j = spark._jvm.org.apache.logging.log4j
        context = log4j.LogManager.getContext(False)
        config = context.getConfiguration()
        # Each logger's own setting (None: it follows its parent), restored exactly after.
        own = {name: (config.getLoggers().get(name).getLevel() if config.getLoggers().containsKey(name) else None)
               for name in _TASK_LOGGERS}
        for name in own:
            log4j.core.config.Configurator.setLevel(name, log4j.Level.OFF)
    except Exception:  # another logging backend: nothing to quiet
        own = {}
    try:
        yield
    finally:
        if own:
            config = context.getConfiguration()
            for name, level in own.items():
                if level is None:
                    config.removeLogger(name)
                else:
                    config.getLoggers().get(name).setLevel(level)
            context.updateLoggers()


_INTEGER_TYPES = ("tinyint", "smallint", "int", "bigint")
_NUMBER_TYPES = _INTEGER_TYPES + ("float", "double")


def wider_type(types: Sequence[str]) -> str | None:
    """The Spark type that holds every one of ``types`` (Spark's ``simpleString``s) as DuckDB's
    ``union_by_name`` would read it: integers as BIGINT, numbers as DOUBLE (DECIMAL included),
    dates and times with and without a zone as times with one (naive ones are UTC, as everywhere in
    churnml), anything beside text as text; None when there is none (a number in some parts, a
    timestamp in others).

    >>> wider_type(["bigint", "double"]), wider_type(["int", "bigint"]), wider_type(["string", "bigint"])
    ('double', 'bigint', 'string')
    """
    kinds = set(types)
    if len(kinds) == 1:
        return kinds.pop()
    if kinds <= set(_INTEGER_TYPES):
        return "bigint"
    if all(t in _NUMBER_TYPES or t.startswith("decimal") for t in kinds):
        return "double"
    if kinds <= {"timestamp", "timestamp_ntz", "date"}:
        return "timestamp"
    if "string" in kinds and not any(t.startswith(("struct", "array", "map", "binary")) for t in kinds):
        return "string"
    return None


def _read_parts_widened(spark: "SparkSession", location: str, table: str, files: Sequence[str],
                        options: Mapping[str, str]) -> "SparkFrame":
    """The part files under ``location`` read by schema, each column cast to :func:`wider_type` of
    its types, and put together by name (a column a part lacks is NULL there). A folder exported
    by two systems (``amount`` as int64 in one, double in another; ids as text and as numbers)
    stopped the Spark path, though DuckDB read it. The files are those DuckDB reads
    (:func:`_parquet_parts`, read with its ``options``): none under a path starting with "_" or "."
    (a killed job's ``_temporary/``, hidden files), no file that is not Parquet; Hive partition
    folders (``year=2024/``) are columns.

    Hive-style partition columns (``year=2024/month=01/``) are kept as Spark's read of the whole
    folder gives them (:func:`_partition_schema`): their types as that read gives them, the
    folder's value winning over a column of the same name in the files, and the parts that read
    skips (``_temporary/``, ``.hidden/``) skipped too.

    Raises
    ------
    DataError
        Parts store a column as types no type holds all of: the folder, the column, each
        type with a file holding it, and the fix.
    """
    from functools import reduce

    from pyspark.sql import functions as F
    from pyspark.sql.types import StructType

    partitions = _partition_schema(spark, files, options)
    partitioned = {f.name.lower(): f for f in partitions.fields}  # Spark matches names whatever their case
    groups: dict[str, list[str]] = {}
    schemas = {}
    for name in files:  # each part's own schema (without the folders' columns): one footer read per file
        schema = spark.read.parquet(name).schema
        groups.setdefault(schema.json(), []).append(name)
        schemas.setdefault(schema.json(), schema)
    in_files = {column.name.lower() for schema in schemas.values() for column in schema.fields}
    seen: dict[str, dict[str, str]] = {}  # column -> type -> a file storing it so
    for key, schema in schemas.items():
        for column in schema.fields:
            if column.name.lower() in partitioned:  # the folder's value is read, not the file's
                seen.setdefault(partitioned[column.name.lower()].name, {})
            else:
                seen.setdefault(column.name, {}).setdefault(column.dataType.simpleString(), groups[key][0])
    for column in partitions.fields:
        seen.setdefault(column.name, {})
    wider = {column.name: column.dataType.simpleString() for column in partitions.fields}
    for column, stored in seen.items():
        if column in wider:
            continue
        wider[column] = wider_type(list(stored))
        if wider[column] is None:
            types = [f"{kind.upper()} (e.g. {name})" for kind, name in stored.items()]
            raise DataError(
                f"The Parquet files of table {table!r} ({location}) disagree on the type of column {column!r}: "
                f"{', '.join(types[:-1])} in some, {types[-1]} in others, and no type holds them all. Rewrite the files with one type for {column!r} (as the column's contract type: numbers, dates "
                "or text), or copy them into one table with one schema first."
            )

    def read(key: str, names: list[str]) -> "SparkFrame":
        # The parts' own columns plus the partition columns, typed as the whole folder's read types
        # them: Spark then parses each folder's value as that type instead of inferring it again.
        fields = [c for c in schemas[key].fields if c.name.lower() not in partitioned] + list(partitions.fields)
        frame = spark.read.schema(StructType(fields)).options(**options).parquet(*names)
        return frame.select(*[F.col(_backquoted(c.name)).cast(wider[c.name]).alias(c.name) for c in fields])

    frames = [read(key, names) for key, names in groups.items()]
    return _in_duckdb_order(reduce(lambda a, b: a.unionByName(b, allowMissingColumns=True), frames).select(*[_backquoted(c) for c in seen]),
                            [column.name for column in partitions.fields if column.name.lower() not in in_files])


def _partition_schema(spark: "SparkSession", files: Sequence[str], options: Mapping[str, str]) -> "StructType":
    """The Hive-style partition columns (``year=2024/``) of a read of a folder's ``files`` (with
    :func:`_parquet_parts`'s ``options``), with the types Spark gives them over all its folders (an
    empty ``StructType`` when none; text, within :func:`_read_parquet`).

    Read without ``mergeSchema``: only one part's footer is read, so parts whose types differ do
    not stop it, and the partition columns do not depend on the parts' schemas.
    """
    from pyspark.sql.types import StructType

    return StructType.fromJson(json.loads(_relation(spark.read.options(**options).parquet(*files)).partitionSchema().json()))


def _relation(frame: "SparkFrame") -> Any:
    """The ``HadoopFsRelation`` of a Parquet read (``spark.read.parquet``): its ``dataSchema()``
    (the files' columns) and ``partitionSchema()`` (the folders' ``key=value`` columns)."""
    return frame._jdf.queryExecution().analyzed().relation()


def _in_duckdb_order(frame: "SparkFrame", appended: Sequence[str]) -> "SparkFrame":
    """``frame`` with the partition columns the files do not hold (``appended``) after the others in
    name order, where DuckDB's ``hive_partitioning`` read in validation puts them; Spark puts them
    in folder order (``region=…/age_band=…/``). Customer attributes, so the features, then come in
    one order on both engines."""
    if not appended:
        return frame
    return frame.select(*[_backquoted(c) for c in [c for c in frame.columns if c not in appended] + sorted(appended)])


_DUCKDB_TYPES = {"string": "VARCHAR", "timestamp": "TIMESTAMP WITH TIME ZONE", "timestamp_ntz": "TIMESTAMP", "date": "DATE",
                 "tinyint": "TINYINT", "smallint": "SMALLINT", "int": "INTEGER", "bigint": "BIGINT", "float": "FLOAT",
                 "double": "DOUBLE", "boolean": "BOOLEAN"}
_NUMERIC_DUCKDB = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "FLOAT", "DOUBLE", "DECIMAL")


def _duckdb_type(spark_type: str) -> str:
    """The DuckDB type that validation's SQL (:func:`churnml.validate.typed_sql`) expects for a Spark column type."""
    if spark_type.startswith(("varchar", "char")):
        return "VARCHAR"
    return _DUCKDB_TYPES.get(spark_type, spark_type.upper())


def _check_values(spark: "SparkSession", view: str, table: str, spec: Any, mapping: Mapping[str, str],
                  spark_types: Mapping[str, str], inputs: InputConfig, where: str, levels: int | None = None,
                  end: pd.Timestamp | None = None, named: str | None = None) -> tuple[dict[str, str], list[str]]:
    """What validation checks in a table's values, in one aggregate pass over ``view``: every row
    validation would set aside for a reason a condition on the row decides (:func:`_row_checks`,
    validation's own rules), counted by its first reason in one column (named by :func:`_reason_column`; rows with
    every field empty are skipped, as validation skips them). Each rule is counted there once, and
    the messages take their counts from it: a number that is NaN or infinite, satisfaction scores off
    ``satisfaction_scale`` that say the survey uses another (validation's error; else they are blanked,
    the events kept, as validation keeps them), a service event resolved before it was opened (a closing date alone that
    day aside; when most are, validation's "columns swapped" error), a date or number stored as text
    that does not read, then the other reasons together (:func:`_refuse_set_aside`). An event row from
    the data's ``end`` on has that reason first, as in validation, and is refused for none of its
    values (it is left out after ``[input] data_end``, else refused by :func:`_last_event`).
    Customers' sign-up dates that do not read are counted beside it (validation keeps the customer,
    or stops when most do not read); customer attributes (not the
    index pandas writes into a file, :data:`churnml.validate.PANDAS_INDEX`) are numeric when
    every present value reads as a number, or all but a placeholder or two for unknown
    (:func:`churnml.validate.kind_from_counts`: digits stored as text and booleans are numbers, but
    for codes written with a leading zero, "001").
    ``named``: the table as validation's messages name it (:func:`churnml.validate.named_table`).
    Returns the attribute kinds, and the optional columns validation leaves out as empty in every
    clean row (:data:`churnml.validate.EMPTY_LEFT_OUT`: a ``resolved_at`` never filled).

    Raises
    ------
    DataError
        For values validation would set aside: Spark sets no rows aside.
    """
    types = {column: _duckdb_type(spark_type) for column, spark_type in spark_types.items()}
    # Customer attributes; the index pandas writes into a file (__index_level_0__) is none, as validation leaves it out.
    extra = [column for column in mapping if column not in spec.kinds and not validate.PANDAS_INDEX.fullmatch(mapping[column])]
    checked = _checked_columns(table, spec, mapping, spark_types, where)
    # Every row validation would set aside, by its first reason (validate.event_checks, its own rules): each rule
    # is counted once, in this column, and the messages below take their counts from it. A row from the data's end
    # on has that reason before any about its values, as in validation (left out after [input] data_end, else
    # refused by _last_event).
    checks = _row_checks(table, spec, mapping, types, inputs, end)
    flag = _reason_column(spark_types)
    source = f"(SELECT *, {_reason_sql(checks, spark_types)} AS {_q(flag)} FROM {view})"
    aggregates = {f"reason_{i}": f"count(CASE WHEN {_q(flag)} = {_lit(reason)} THEN 1 END)" for i, (reason, _) in enumerate(checks)}
    not_late = f"{_q(flag)} IS DISTINCT FROM {_lit(validate.R_FUTURE_TIMESTAMP)}"
    for i, (_, raw, kind) in enumerate(checked):
        present = validate.present_sql(raw, types[raw])
        aggregates[f"present_c{i}"] = f"count(CASE WHEN {not_late} AND {present} THEN 1 END)"
        if table == "customers":  # no reason to set the row aside: validation keeps the customer (or stops)
            aggregates[f"unread_c{i}"] = f"count(CASE WHEN {_unread_sql(raw, kind, types[raw])} THEN 1 END)"
    for i, column in enumerate(extra):
        aggregates[f"present_{i}"] = f"count({validate.typed_sql('text', mapping[column])})"
        castable = _casts_to_number(types[mapping[column]])
        aggregates[f"numeric_{i}"] = f"count(TRY_CAST({_q(mapping[column])} AS DOUBLE))" if castable else "0"
        if types[mapping[column]] == "VARCHAR":
            aggregates[f"dates_{i}"] = f"count(CASE WHEN {validate.date_text_sql(mapping[column])} THEN 1 END)"
            aggregates[f"others_{i}"] = f"count(DISTINCT {validate.unread_number_sql(mapping[column])})"
            aggregates[f"numbers_{i}"] = f"count(DISTINCT TRY_CAST({_q(mapping[column])} AS DOUBLE))"
            aggregates[f"padded_{i}"] = f"count(CASE WHEN {validate.zero_padded_sql(mapping[column])} THEN 1 END)"
            aggregates[f"undated_{i}"] = (f"count(DISTINCT CASE WHEN NOT ({validate.date_text_sql(mapping[column])}) "
                                          f"THEN {validate.typed_sql('text', mapping[column])} END)")
    # Reasons validation reports and keeps the row for (a satisfaction score blanked): not refused.
    kept = validate.kept_events_reasons(inputs.satisfaction_scale) if table != "customers" and "satisfaction" in mapping else ()
    if "resolved_at" in mapping:  # validation's count beside the rows resolved before: the clean rows with a resolved_at
        resolved = validate.typed_sql("timestamp", mapping["resolved_at"], types[mapping["resolved_at"]])
        clean = f"{_q(flag)} IS NULL" + (f" OR {_q(flag)} IN ({', '.join(_lit(r) for r in kept)})" if kept else "")
        aggregates["resolved_clean"] = f"count(CASE WHEN {clean} THEN {resolved} END)"
    if kept:  # validation's count beside the scores off the scale: the clean rows' scores on it
        score = validate.canonical_sql("satisfaction", "number", mapping["satisfaction"], types[mapping["satisfaction"]])
        aggregates["scored_clean"] = f"count(CASE WHEN {_q(flag)} IS NULL THEN {score} END)"
    counts = _aggregate(spark, source, aggregates)
    counted = {reason: counts[f"reason_{i}"] for i, (reason, _) in enumerate(checks)}
    # NaN and infinities (Parquet doubles, or "inf" as text): validation sets such rows aside.
    for contract, raw in mapping.items():
        infinite = counted.get(validate.not_finite(contract), 0)
        if infinite:
            named = validate.named_column(contract, raw)
            raise DataError(
                f"Column {named} of table {table!r} ({where}): {infinite:,} values are not a finite number "
                "(NaN or infinity). --engine spark reads clean tables and sets no rows aside: fix or remove these rows "
                "upstream (`churnml validate` lists them with the reason)."
            )
    outside = counted.get(validate.satisfaction_outside(inputs.satisfaction_scale), 0)
    if outside:  # blanked, as validation blanks them, unless they say the survey uses another scale
        error = validate.another_scale_error(lambda sql: tuple(spark.sql(to_spark_sql(sql)).collect()[0]), view,
                                             named or table,
                                             mapping["satisfaction"], outside, outside + counts["scored_clean"],
                                             inputs.satisfaction_scale)
        if error is not None:
            raise error
    before = counted.get(validate.R_RESOLVED_BEFORE, 0)
    if before:
        _refuse_resolved_before(spark, source, flag, table, mapping, before, before + counts["resolved_clean"], where,
                                named or table)
    for i, (contract, raw, kind) in enumerate(checked):
        if table == "customers":
            unread, condition = counts[f"unread_c{i}"], _unread_sql(raw, kind, types[raw])
        else:
            reason = (validate.R_BAD_TIMESTAMP if contract == "timestamp" else validate.R_BAD_SATISFACTION
                      if contract == "satisfaction" else validate.unparseable(contract))
            unread, condition = counted.get(reason, 0), f"{_q(flag)} = {_lit(reason)}"
        present = counts[f"present_c{i}"]
        # Validation keeps the customer, or the service event without its score, unless most do not read.
        if unread and not (contract in ("signup_date", "satisfaction") and 2 * unread <= present):
            _refuse_unreadable(spark, source, condition, table, contract, raw, kind, present, unread, where)
    set_aside = {reason: n for reason, n in counted.items()
                 if n and reason != validate.R_FUTURE_TIMESTAMP and reason not in kept}  # refused or left out by _last_event
    if set_aside:  # the reasons without a message of their own above: missing values, dates before 1900, huge numbers
        _refuse_set_aside(spark, source, flag, table, mapping, set_aside, where)
    empty = ["resolved_at"] if "resolved_at" in mapping and not counts["resolved_clean"] else []
    # "date" and "empty" columns are left out, as validation leaves them out.
    return {column: validate.kind_from_counts(types[mapping[column]], counts[f"present_{i}"], counts[f"numeric_{i}"],
                                              counts.get(f"dates_{i}"), counts.get(f"others_{i}"),
                                              counts.get(f"numbers_{i}", 0), levels, counts.get(f"undated_{i}"),
                                              counts.get(f"padded_{i}", 0))
            for i, column in enumerate(extra)}, empty


def _reason_column(columns: Iterable[str]) -> str:
    """The name of the column :func:`_check_values`'s pass adds to a raw table for the reason validation
    would set the row aside for: ``_churnml_reason``, with underscores added until no column of the
    table has it (whatever its case: Spark resolves names so; :func:`churnml.validate.free_name`, which names
    validation's own columns too). A raw column of that name is data
    like any other, read as validation reads it (a customer attribute, or left alone in an event table).

    >>> _reason_column(["customer_id", "amount"]), _reason_column(["customer_id", "_CHURNML_reason"])
    ('_churnml_reason', '__churnml_reason')
    """
    return validate.free_name("_churnml_reason", columns)


def _row_checks(table: str, spec: Any, mapping: Mapping[str, str], types: Mapping[str, str], inputs: InputConfig,
                end: pd.Timestamp | None) -> list[tuple[str, str]]:
    """Validation's reasons for setting a row of ``table`` aside that a condition on the row decides,
    as (reason, DuckDB SQL) in validation's order: :func:`churnml.validate.event_checks` (rows from the
    data's ``end`` on take that reason first, as in validation, and are refused or left out by
    :func:`_last_event`, not here), and a customer without an id (:func:`churnml.validate.missing_id_check`). A customer_id not in ``customers`` and a
    repeated id take a join or a grouping: :func:`_read_customers_once`, :func:`_refuse_unmatched`."""
    raw_id = mapping["customer_id"]
    if table == "customers":
        return [validate.missing_id_check(validate.typed_sql("id", raw_id, types[raw_id]))]
    typed = {c: validate.canonical_sql(c, spec.kinds[c], raw, types[raw]) for c, raw in mapping.items()}
    present = {c: validate.present_sql(raw, types[raw]) for c, raw in mapping.items()}
    return validate.event_checks(spec, mapping, typed, present, end, inputs, None)


def _reason_sql(checks: Sequence[tuple[str, str]], spark_types: Mapping[str, str]) -> str:
    """DuckDB SQL: the first of ``checks`` a row fails (NULL when none), as validation's CASE gives it,
    and NULL for a row with every field empty, which validation skips (:func:`churnml.validate.blank_row_sql`)."""
    whens = " ".join(f"WHEN {condition} THEN {_lit(reason)}" for reason, condition in checks)
    return f"CASE WHEN {validate.blank_row_sql(spark_types)} THEN NULL {whens} END"


def _refuse_set_aside(spark: "SparkSession", source: str, flag: str, table: str, mapping: Mapping[str, str],
                      set_aside: Mapping[str, int], where: str) -> None:
    """Stop on rows validation would set aside (``set_aside``: reason -> rows, from :func:`_check_values`'s
    pass over ``source``, whose column ``flag`` holds each row's reason), naming each reason, how many
    rows and one as written, and the fix."""
    shown = [raw for contract, raw in mapping.items() if contract in TABLES[table].kinds]
    parts = []
    for reason, n in set_aside.items():
        row = spark.sql(to_spark_sql(
            f"SELECT {', '.join(f'CAST({_q(raw)} AS VARCHAR) AS {_q(raw)}' for raw in shown)} FROM {source} "
            f"WHERE {_q(flag)} = {_lit(reason)} LIMIT 1")).collect()[0].asDict()
        example = ", ".join(f"{raw}={value!r}" for raw, value in row.items() if value is not None) or "every field empty"
        parts.append(f"{n:,} for {reason!r} (e.g. {example})")
    total = sum(set_aside.values())
    raise DataError(
        f"{total:,} row(s) of {table} ({where}) would be set aside by `churnml validate`: {'; '.join(parts)}. --engine spark "
        "reads clean tables and sets no rows aside: fix or remove these rows upstream (`churnml validate` lists them "
        f"with the reason), or map the right column under [columns.{table}]."
    )


def _checked_columns(table: str, spec: Any, mapping: Mapping[str, str], spark_types: Mapping[str, str],
                     where: str) -> list[tuple[str, str, str]]:
    """(contract column, raw column, kind) of the date and number columns whose values need reading
    (text, as validation checks them); a type that holds neither dates nor numbers is an error."""
    checked = []
    for contract, raw in mapping.items():
        kind = spec.kinds.get(contract)
        sql_type = _duckdb_type(spark_types[raw])
        if kind not in ("timestamp", "number") or validate.is_native(kind, sql_type):
            continue
        if sql_type == "VARCHAR" or (kind == "number" and sql_type == "BOOLEAN"):
            checked.append((contract, raw, kind))
            continue
        named = validate.named_column(contract, raw)
        what, fix = (("a date or datetime", "Store it as a Parquet timestamp or as ISO text (2024-03-31 14:05:00); seconds "
                      "since 1970 convert with timestamp_seconds(column) in Spark SQL")
                     if kind == "timestamp" else ("a number", "Store it as a Parquet number or as text such as 12.5"))
        raise DataError(f"Column {named} of table {table!r} ({where}) is stored as {spark_types[raw]}, not as {what}. "
                        f"{fix}, or map the right column under [columns.{table}].")
    return checked


def _unread_sql(raw: str, kind: str, sql_type: str) -> str:
    """DuckDB SQL: the raw value is there but does not read as ``kind`` (a date or a number)."""
    return f"{validate.present_sql(raw, sql_type)} AND {validate.typed_sql(kind, raw, sql_type)} IS NULL"


def _refuse_unreadable(spark: "SparkSession", source: str, condition: str, table: str, contract: str, raw: str, kind: str,
                       present: int, unread: int, where: str) -> None:
    """Stop, naming the column, a few values (of the rows of ``source`` where ``condition`` holds) and
    the fix: Spark sets no rows aside, and NULL in their place would change the features without a word."""
    rows = spark.sql(to_spark_sql(
        f"SELECT DISTINCT CAST({_q(raw)} AS VARCHAR) AS v FROM {source} WHERE {condition} LIMIT {validate.EXAMPLES}")).collect()
    what = ("a date or datetime (ISO: 2024-03-31 or 2024-03-31T14:05:00+02:00)" if kind == "timestamp"
            else "a number (such as 12.5)")
    named = validate.named_column(contract, raw)
    raise DataError(
        f"Column {named} of table {table!r} ({where}): {unread:,} of {present:,} values do not read as {what}, for "
        f"example {', '.join(repr(row[0]) for row in rows)}. --engine spark reads clean tables and sets no rows aside: fix or "
        f"remove these rows upstream (`churnml validate` lists them with the reason), or map the right column under "
        f"[columns.{table}]."
    )


def _refuse_resolved_before(spark: "SparkSession", source: str, flag: str, table: str, mapping: Mapping[str, str],
                            before: int, resolved: int, where: str, named: str) -> None:
    """Stop on service events resolved before they were opened, which validation sets aside
    (:data:`churnml.validate.R_RESOLVED_BEFORE`; ``before`` of the ``resolved`` rows with a
    ``resolved_at``, counted as validation counts them): as validation, with its "columns swapped"
    error when most are; else naming how many, a few (rows of :func:`_check_values`'s ``source`` whose
    column ``flag`` holds that reason) and the fix (``named``: the table as validation's messages name it).
    Their resolution times were negative."""
    opened, closed = mapping["timestamp"], mapping["resolved_at"]
    rows = spark.sql(to_spark_sql(
        f"SELECT CAST({_q(opened)} AS VARCHAR) AS o, CAST({_q(closed)} AS VARCHAR) AS c FROM {source} "
        f"WHERE {_q(flag)} = {_lit(validate.R_RESOLVED_BEFORE)} LIMIT {validate.EXAMPLES}")).collect()
    examples = [(row["o"], row["c"]) for row in rows]
    if validate.seems_swapped(before, resolved):
        raise DataError(validate.swapped_message(table, opened, closed, before, resolved, examples, named))
    shown = ", ".join(f"{a!r} resolved {b!r}" for a, b in examples)
    raise DataError(
        f"{before:,} of {resolved:,} rows of {named} with a resolved_at ({where}) have "
        f"{validate.resolved_before(opened, closed)}, e.g. {shown}. --engine spark reads clean tables and sets no rows aside: fix or "
        "remove these rows upstream (`churnml validate` lists them with the reason)."
    )


def _casts_to_number(sql_type: str) -> bool:
    """Spark can cast the type to DOUBLE (where DuckDB's TRY_CAST gives NULL, Spark refuses the query)."""
    return sql_type in ("VARCHAR", "BOOLEAN") or sql_type.startswith(_NUMERIC_DUCKDB)


def _aggregate(spark: "SparkSession", view: str, aggregates: Mapping[str, str]) -> dict[str, Any]:
    """One pass over ``view`` (a view, or a subquery in parentheses) computing DuckDB SQL ``aggregates``
    (name -> expression) on Spark; none, no pass."""
    if not aggregates:
        return {}
    sql = to_spark_sql(f"SELECT {', '.join(f'{sql} AS {_q(name)}' for name, sql in aggregates.items())} FROM {view}")
    return spark.sql(sql).collect()[0].asDict()


def _canonical(kind: str, contract: str, raw: str, sql_type: str, inputs: InputConfig, end: pd.Timestamp | None = None) -> str:
    """DuckDB SQL for one contract column as validation's clean table holds it (transpiled later);
    ``end``: the data's end (exclusive)."""
    typed = validate.canonical_sql(contract, kind, raw, sql_type)
    if contract == "satisfaction":  # blank off the scale, as validation keeps the event without it
        return validate.satisfaction_clean_sql(typed, inputs)
    if contract == "signup_date":  # validation keeps the customer without a signup date before 1900 or after the end
        return validate.signup_clean_sql(typed, end)
    return typed


def _refuse_unsupported_input(inputs: InputConfig) -> None:
    """Stop on ``[input]`` settings the Spark path does not apply, rather than ignore them."""
    if inputs.date_formats:
        raise ConfigError(
            f"[input] date_format = {inputs.date_format!r} is not supported with --engine spark: Spark reads dates "
            "stored as Parquet timestamps or as ISO text (2024-12-31, 2024-12-31T08:00:00+01:00). Write the dates "
            "that way upstream and leave date_format out of the config for Spark runs, or use --engine duckdb."
        )
    if inputs.decimal_comma:
        raise ConfigError(
            "[input] decimal_comma = true is not supported with --engine spark: Spark reads numbers stored as Parquet "
            "numbers or as text with a decimal point (1234.56). Write them that way upstream and leave decimal_comma "
            "out of the config for Spark runs, or use --engine duckdb."
        )


def describe_data(data: SparkData) -> tuple[str, dict[str, Any]]:
    """The data fingerprint and summary of tables read by Spark (one aggregate pass per table).

    The Spark counterparts of ``Dataset.fingerprint`` and ``Dataset.summary``, for training runs
    and score sidecars.

    Fingerprint
        sha256 over, per table in contract order: the table name, its canonical column names, its
        row count, and the sum over rows of Spark's ``xxhash64`` of the row's values cast to
        strings (NULL as ``∅``, ``|``-separated). Like DuckDB's, it is order-independent and
        changes when any value changes, but the hash function differs: the same files give a
        different fingerprint on the two engines (so the Optuna studies are not shared).

    Summary
        ``tables`` (``rows``, ``first`` / ``last`` event date, for customers sign-up date, ``source``), ``customers``,
        ``customers_without_transactions``, ``share_without_transactions``, ``data_end``,
        ``left_out_columns``, ``notes`` and ``code_columns`` (as validation's, :attr:`SparkData.notes`,
        :attr:`SparkData.code_columns`) and ``engine: "spark"``; with ``[input] order_lines``,
        the transactions' ``order_lines`` (``lines`` read, ``orders`` they became), as validation's.
        There is no ``quarantined_rows`` nor ``kept_rows``: Spark reads clean tables as they are.

    Returns
    -------
    (str, dict)
    """
    from pyspark.sql import functions as F

    digest = hashlib.sha256()
    tables: dict[str, dict[str, Any]] = {}
    for table in data.tables:
        frame = data.spark.table(data.views[table])
        columns = frame.columns
        row = F.concat_ws("|", *[F.coalesce(F.col(_backquoted(c)).cast("string"), F.lit("∅")) for c in columns])
        aggregates = [F.count(F.lit(1)).alias("n"), F.sum(F.xxhash64(row).cast("decimal(38,0)")).alias("h")]
        dated = "timestamp" if table != "customers" else "signup_date" if "signup_date" in columns else None
        if dated:  # as validation's summary: customers give their sign-ups' span
            aggregates += [F.min(dated).alias("first"), F.max(dated).alias("last")]
        result = frame.agg(*aggregates).collect()[0].asDict()
        n, h = int(result["n"]), int(result["h"] or 0)
        digest.update(f"{table}:{','.join(columns)}:{n}:{h};".encode())
        tables[table] = {"rows": n, "source": data.source}
        if dated:
            for key in ("first", "last"):
                tables[table][key] = None if result[key] is None else str(pd.Timestamp(result[key]).date())
        if table == "transactions" and data.order_lines is not None:
            tables[table]["order_lines"] = {"lines": data.order_lines, "orders": n}
    customers = tables["customers"]["rows"]
    without = (data.spark.table(data.views["customers"]).select("customer_id")
               .join(data.spark.table(data.views["transactions"]).select("customer_id"), "customer_id", "left_anti").count())
    summary = {
        "tables": tables,
        "customers": customers,
        "customers_without_transactions": int(without),
        "share_without_transactions": (without / customers) if customers else 0.0,
        "data_end": None if data.data_end is None else str(data.data_end),
        "engine": "spark",
        "left_out_columns": dict(data.left_out_columns),  # train records them for the API, as validation's
        "notes": list(data.notes),
        "code_columns": dict(data.code_columns),  # the features' descriptions say which attributes are codes
    }
    return digest.hexdigest(), summary


# --------------------------------------------------------------------------------------------
# Features, labels, training set
# --------------------------------------------------------------------------------------------


def feature_frame(
    data: SparkData, cutoffs: Sequence[pd.Timestamp], config: Config, ordered: bool = True
) -> "SparkFrame":
    """Features for the population at each cutoff, as a Spark DataFrame.

    The same columns as :func:`churnml.features.build_features`. Categorical features are strings
    here; :func:`build_features` gives them the pandas ``category`` dtype.

    Parameters
    ----------
    data : SparkData
    cutoffs : sequence of pandas.Timestamp
    config : Config
    ordered : bool
        True (default): rows ordered by cutoff then customer, as DuckDB returns them. False: no
        global sort, for frames that are written or aggregated rather than collected in order.
        Spark sorts globally with a range shuffle whose boundaries come from an extra job that
        samples the whole query's output, so the final join of the feature query runs twice
        and every row is shuffled once more (2-3 s of the tasks' 25-30 s of CPU time at 200,000
        customers).

    Returns
    -------
    pyspark.sql.DataFrame
    """
    sql = feature_query(data.layout, data.attributes, normalize_cutoffs(cutoffs), config, transaction_values(data),
                        engine="spark")
    return data.spark.sql(to_spark_sql(sql, data.views, ordered=ordered))


def transaction_values(data: SparkData) -> dict[str, list[str] | None]:
    """:func:`churnml.features.transaction_values` on Spark, so both engines run the same query.

    One job in the usual case: the distinct (``category``, ``channel``) pairs, cut at one more
    pair than two full bitmasks can make, so a column with millions of values sends little to
    the driver. Only when that cut is reached does each column get a job of its own.
    """
    view = data.views["transactions"]
    present = [c for c in DIVERSITY_COLUMNS if c in data.layout["transactions"]]
    if not present:
        return {}

    def distinct(columns: list[str], limit: int) -> list[tuple]:
        quoted = ", ".join(_backquoted(c) for c in columns)
        return [tuple(row) for row in data.spark.sql(
            f"SELECT {quoted} FROM {view} GROUP BY {quoted} LIMIT {limit}").collect()]

    cap = (MAX_BITMASK_VALUES + 1) ** len(present)
    pairs = distinct(present, cap + 1)
    if len(pairs) <= cap:
        return {c: bitmask_values({row[i] for row in pairs} - {None}) for i, c in enumerate(present)}
    return {c: bitmask_values({row[0] for row in distinct([c], MAX_BITMASK_VALUES + 2)} - {None}) for c in present}


def write_features(data: SparkData, as_of: pd.Timestamp, out: str, config: Config) -> tuple[int, list[dict[str, Any]]]:
    """Write the features of ``data`` at ``as_of`` as a Parquet folder at ``out``.

    What ``churnml features --engine spark`` runs, after :func:`read_tables`, inside
    :func:`staged_json` of :func:`feature_descriptions` (the descriptions' temporary file written
    before the folder is renamed into place, published after it). The rows are in no particular
    order (no global sort, see :func:`feature_frame`); sort them when reading if the order
    matters. Categorical features are strings in the folder (Spark writes no pandas categories).

    Returns
    -------
    (int, list of dict)
        Rows written, and the features' descriptions (:func:`feature_descriptions`).

    Raises
    ------
    ProblemError
        When nobody is in the population at ``as_of``, or ``as_of`` lies after the data's end; ``out``
        is then left as it was.
    """
    refuse_scoring_as_of(as_of, _first_transaction(data), data.data_end)
    rows = 0

    def count(staged: str) -> None:
        # Counted on the finished folder before it is renamed into place: an empty population replaced
        # OUT with an empty table and exited 2, beside the last run's descriptions.
        nonlocal rows
        rows = data.spark.read.parquet(staged).count()
        if rows == 0:
            raise ProblemError(f"No customers in the population at {pd.Timestamp(as_of):%Y-%m-%d} in {data.source}; "
                               f"{out} was left as it was. Is the date before the first transaction or long after the last?")

    write_parquet_atomically(feature_frame(data, [as_of], config, ordered=False), out, before_commit=count)
    return rows, feature_descriptions(data)


def feature_descriptions(data: SparkData) -> list[dict[str, Any]]:
    """The features' descriptions for the features JSON (:func:`churnml.features.describe_features`,
    with the attributes read as codes): known from the data's layout, before any feature is computed."""
    return describe_features(layout_feature_specs(data.layout, data.attributes), data.code_columns)


def label_frame(data: SparkData, cutoffs: Sequence[pd.Timestamp], config: Config) -> "SparkFrame":
    """``customer_id, cutoff, churned, value`` for the population at each cutoff, as a Spark DataFrame."""
    sql = label_query(data.layout, normalize_cutoffs(cutoffs), config)
    return data.spark.sql(to_spark_sql(sql, data.views))


def build_features(data: SparkData, cutoffs: Sequence[pd.Timestamp], config: Config) -> pd.DataFrame:
    """:func:`churnml.features.build_features` computed by Spark: same rows, columns and dtypes.

    Example
    -------
    >>> frame = build_features(read_tables(spark, "data/"), [pd.Timestamp("2025-06-01")], Config())  # doctest: +SKIP
    """
    frame = to_pandas(feature_frame(data, cutoffs, config))
    return typed_feature_frame(frame, layout_feature_specs(data.layout, data.attributes), categories(data))


def build_labels(data: SparkData, cutoffs: Sequence[pd.Timestamp], config: Config) -> pd.DataFrame:
    """:func:`churnml.labels.build_labels` computed by Spark: same rows, columns and dtypes."""
    frame = to_pandas(label_frame(data, cutoffs, config))
    frame["customer_id"] = frame["customer_id"].astype(str)
    frame["cutoff"] = pd.to_datetime(frame["cutoff"])
    frame["churned"] = frame["churned"].astype("int8")
    frame["value"] = frame["value"].astype("float64")
    return frame


def categories(data: SparkData) -> dict[str, list[str]]:
    """Levels of each categorical feature: the distinct values in the whole ``customers`` table."""
    levels = {}
    for name, column in categorical_sources(data.layout, data.attributes).items():
        rows = data.spark.sql(
            f"SELECT DISTINCT {_backquoted(column)} AS v FROM {data.views['customers']} WHERE {_backquoted(column)} IS NOT NULL "
            "ORDER BY v"
        ).collect()
        levels[name] = [row[0] for row in rows]
    return levels


def _first_transaction(data: SparkData) -> Any:
    return data.spark.sql(f"SELECT MIN(timestamp) FROM {data.views['transactions']}").collect()[0][0]


def data_start(data: SparkData) -> pd.Timestamp:
    """The first transaction's timestamp (:func:`churnml.labels.data_start`) for data read by Spark."""
    return checked_data_start(_first_transaction(data))


def training_cutoffs(data: SparkData, as_of: pd.Timestamp, config: Config) -> list[pd.Timestamp]:
    """The training cutoffs (:func:`churnml.labels.training_cutoffs`) for data read by Spark."""
    return checked_training_cutoffs(pd.Timestamp(as_of), config, data_start(data), data.data_end)


def _cutoffs_and_seasons(data: SparkData, as_of: pd.Timestamp,
                         config: Config) -> tuple[pd.Timestamp, list[pd.Timestamp], list[pd.Timestamp]]:
    """The first transaction, the training cutoffs and the feature-only :func:`churnml.labels.season_cutoffs`
    in the gaps between the splits (the drift reference's seasons), as the DuckDB path takes them."""
    first = data_start(data)
    cutoffs = checked_training_cutoffs(pd.Timestamp(as_of), config, first, data.data_end)
    return first, cutoffs, season_cutoffs(cutoffs, pd.Timestamp(as_of), config, data_start=first)


def training_frame(data: SparkData, as_of: pd.Timestamp, config: Config) -> "SparkFrame":
    """Features joined to labels over the training cutoffs, as a Spark DataFrame (no split column).

    Sample it with :func:`sample_by_label` before collecting it to one machine. The features at
    the season cutoffs, which have no labels, are :func:`season_frame`.
    """
    cutoffs = training_cutoffs(data, as_of, config)
    return feature_frame(data, cutoffs, config).join(label_frame(data, cutoffs, config), ["customer_id", "cutoff"])


def season_frame(data: SparkData, as_of: pd.Timestamp, config: Config) -> "SparkFrame | None":
    """The features at the :func:`churnml.labels.season_cutoffs` of :func:`training_frame`'s
    training set (no labels, no split), as a Spark DataFrame: the rows of
    :attr:`churnml.labels.TrainingSet.season_frame`, the drift reference's seasons, which the
    sampling path had no way to build. None when no training cutoff leaves room for a season.

    Example
    -------
    >>> seasons = season_frame(data, pd.Timestamp("2025-07-01"), Config())   # doctest: +SKIP
    """
    _, _, seasons = _cutoffs_and_seasons(data, as_of, config)
    return feature_frame(data, seasons, config) if seasons else None


def sample_by_label(frame: "SparkFrame", fractions: Mapping[int, float], seed: int = 0) -> "SparkFrame":
    """A stratified sample by ``churned`` with a ``weight`` column (1 / fraction) that undoes it.

    Parameters
    ----------
    frame : pyspark.sql.DataFrame
        With a ``churned`` column (e.g. :func:`training_frame`).
    fractions : mapping
        ``churned`` value -> share kept, e.g. ``{0: 0.1, 1: 1.0}`` keeps every churner and one
        stayer in ten. Weighted metrics and sums then match the full set.
    seed : int

    Returns
    -------
    pyspark.sql.DataFrame
        The sampled rows plus ``weight``.

    Example
    -------
    >>> sample = sample_by_label(training_frame(data, as_of, cfg), {0: 0.1, 1: 1.0})  # doctest: +SKIP
    """
    from pyspark.sql import functions as F

    bad = {k: v for k, v in fractions.items() if not 0 < float(v) <= 1}
    if bad:
        raise ValueError(f"fractions must be in (0, 1], got {bad}.")
    weight = F.lit(None).cast("double")
    for label, share in fractions.items():
        weight = F.when(F.col("churned") == int(label), F.lit(1.0 / float(share))).otherwise(weight)
    return frame.sampleBy("churned", {int(k): float(v) for k, v in fractions.items()}, seed).withColumn("weight", weight)


def build_training_set(data: SparkData, as_of: pd.Timestamp, config: Config) -> TrainingSet:
    """:func:`churnml.labels.build_training_set` with features and labels computed by Spark.

    The result is collected to the driver: fine for millions of rows. Beyond that, sample with
    :func:`sample_by_label` (see ``docs/spark.md``).
    """
    as_of = pd.Timestamp(as_of)
    first, cutoffs, seasons = _cutoffs_and_seasons(data, as_of, config)
    return assemble_training_set(
        build_features(data, [*cutoffs, *seasons], config),
        build_labels(data, cutoffs, config),
        layout_feature_specs(data.layout, data.attributes),
        cutoffs,
        as_of,
        config,
        lambda: f"Check the data under {data.source}: is the as-of date before the first transaction or long after the last?",
        data_start=first,
        seasons=seasons,
    )


# --------------------------------------------------------------------------------------------
# Scoring
# --------------------------------------------------------------------------------------------


def score(
    data: SparkData,
    as_of: pd.Timestamp | str,
    models: Any,
    out: str,
    config: Config | None = None,
    partition_by: Sequence[str] = (),
    sidecar: Mapping[str, Any] | None = None,
    monitor: Callable[[pd.DataFrame, pd.DataFrame], Mapping[str, Any]] | None = None,
    on_stage: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Score the population at ``as_of`` on Spark; write the scores as Parquet, atomically.

    Two passes, as in :func:`churnml.scoring.score_chunks`. The first pass predicts every
    customer's expected value and value at risk, and the driver computes the population-wide
    value-tier cut points from their sums, the values if retained (two floats per customer). The second pass runs
    :func:`churnml.scoring.score_features` on each Arrow batch, inside ``mapInPandas``, with
    those cut points.

    Parameters
    ----------
    data : SparkData
    as_of : Timestamp or str
    models : churnml.tracking.LoadedModels
        Sent to each executor once, as a broadcast variable (LightGBM boosters pickle).
    out : str
        Output folder (any Spark-writable path). Written to ``<out>.tmp-<id>`` first, then
        renamed into place, so readers never see a partial table.
    config : Config, optional
    partition_by : sequence of str
        Columns to partition the folder by (e.g. ``("segment",)``). Spark stores these columns in
        the folder names, not in the files.
    sidecar : mapping, optional
        Context to record (:func:`churnml.scoring.score_metadata`). When given, the result is also
        written as JSON to ``<out>.json`` (any Spark-writable path), staged (:func:`staged_json`):
        written before the folder is renamed into place and renamed after it, so a sidecar that
        cannot be written (a full disk) leaves the last run's folder and sidecar as they were.
    monitor : callable, optional
        The drift check: called on the driver, once the scores are written and before their folder
        is renamed into place (an exception there publishes nothing), with the features and
        the scores (``customer_id``, ``churn_probability``, ``predicted_value``, ``value_at_risk``,
        ``current_value``) of the customers :func:`drift_sample` picks (at most ``[monitoring]
        drift_sample_rows``), in ``customer_id`` order; its result becomes the ``monitoring``
        section, as :func:`churnml.scoring.write_scores`' ``monitor`` makes it on the DuckDB path.
    on_stage : callable, optional
        Told what the run starts doing next (``"building features as of 2025-12-01"``): the
        features, the values for the value tiers, the scoring and writing, the drift check, the
        summary. Each is one or more Spark jobs that say nothing until they end, minutes on large data.

    Returns
    -------
    dict
        ``sidecar`` plus the facts the DuckDB sidecar (:func:`churnml.scoring.write_scores`) holds:
        ``scores_file``, ``format``, ``rows``, ``columns``, ``counts``, ``value_tier_thresholds``,
        ``totals``, ``segments``, ``distributions`` (mean and quantiles of each score column),
        ``churn_probability_levels`` (distinct churn probabilities and the largest tie), and
        ``engine``, ``partition_by``. The quantiles come from ``percentile_approx`` (rank error at
        most 1e-5, an observed value rather than an interpolated one), so they may differ from the
        DuckDB sidecar's in the last digits. With ``monitor``, also ``monitoring``.

    Raises
    ------
    ConfigError
        When ``as_of`` lies before the models' first training cutoff
        (:func:`churnml.scoring.refuse_as_of_before_models`, checked before Spark reads anything).
    ProblemError
        When nobody is in the population at ``as_of``, or ``as_of`` lies outside the data
        (as :func:`churnml.labels.build_scoring_frame` checks).
    """
    from pyspark.sql import functions as F

    from churnml.scoring import (
        DISTRIBUTION_COLUMNS,
        QUANTILES,
        SCORE_COLUMNS,
        check_features,
        predict,
        quantile_name,
        refuse_as_of_before_models,
        score_features,
        scores_value_thresholds,
        value_columns,
        with_empty_attributes,
    )
    from churnml.segments import LIFECYCLE_STAGES, RISK_TIERS, SEGMENTS, VALUE_TIERS

    config = config or Config()
    as_of = pd.Timestamp(as_of)
    stage = on_stage or (lambda text: None)
    refuse_as_of_before_models(as_of, models)
    refuse_scoring_as_of(as_of, _first_transaction(data), data.data_end)
    stage(f"building features as of {as_of:%Y-%m-%d}")
    features = feature_frame(data, [as_of], config, ordered=False).drop("cutoff")
    # A customers column empty in every row (left out, as validation leaves it out) that the models
    # use: missing for everyone, as the DuckDB path scores it (a NULL double is its NaN). It stopped
    # the run with "lacks column(s) region", where `churnml score` on the same files scored.
    filled = with_empty_attributes(pd.DataFrame(columns=features.columns),
                                   [*models.churn.feature_names_, *models.value.feature_names_],
                                   {"left_out_columns": data.left_out_columns})
    features = features.withColumns({name: F.lit(None).cast("double") for name in filled.columns
                                     if name not in features.columns}).persist()
    # Sent to each executor once, not inside both passes' closures: there the models (450 KiB
    # pickled after a 2-trial training) made every task's binary 1.2 MB, and Spark warned of it.
    def summary(written: Any) -> dict[str, Any]:
        """The sidecar: ``sidecar`` and the facts of the finished folder ``written``."""
        rows = written.count()
        counts = {
            column: {**dict.fromkeys(keys, 0), **{str(r[0]): int(r[1]) for r in written.groupBy(column).count().collect()}}
            for column, keys in (("risk_tier", RISK_TIERS), ("value_tier", VALUE_TIERS), ("segment", SEGMENTS),
                                 ("lifecycle_stage", LIFECYCLE_STAGES))
        }
        sums = ["predicted_value", "value_at_risk", "current_value"]
        by_segment = {
            r["segment"]: r.asDict()
            for r in written.groupBy("segment").agg(
                F.count("*").alias("customers"), F.avg("churn_probability").alias("mean_churn_probability"),
                *[F.sum(c).alias(c) for c in sums]).collect()
        }
        finite = {c: F.when(F.col(c).isNotNull() & ~F.isnan(c), F.col(c)) for c in DISTRIBUTION_COLUMNS}
        overall = written.agg(
            *[F.sum(c).alias(f"total_{c}") for c in sums],
            *[F.avg(finite[c]).alias(f"mean_{c}") for c in DISTRIBUTION_COLUMNS],
            *[F.percentile_approx(finite[c], list(QUANTILES), 100_000).alias(f"quantiles_{c}") for c in DISTRIBUTION_COLUMNS],
        ).collect()[0]
        distributions = {}
        for c in DISTRIBUTION_COLUMNS:
            quantiles = overall[f"quantiles_{c}"] or [None] * len(QUANTILES)  # None: no finite value
            distributions[c] = {"mean": overall[f"mean_{c}"],
                                **{quantile_name(q): None if v is None else float(v) for q, v in zip(QUANTILES, quantiles)}}
        # As scoring.probability_levels: distinct values, and the largest tie (the lowest value among equals).
        ties = written.where(finite["churn_probability"].isNotNull()).groupBy("churn_probability").count()
        top = ties.orderBy(F.desc("count"), F.asc("churn_probability")).first()
        levels = {"distinct": int(ties.count()), "largest_tie": int(top["count"]) if top else 0,
                  "largest_tie_value": float(top["churn_probability"]) if top else None}
        result = {
            **dict(sidecar or {}),
            "engine": "spark",
            "scores_file": out.rstrip("/").rsplit("/", 1)[-1],
            "format": "parquet",
            "partition_by": list(partition_by),
            "rows": rows,
            "columns": list(SCORE_COLUMNS),
            "counts": counts,
            "value_tier_thresholds": thresholds.to_dict(),
            "totals": {c: float(overall[f"total_{c}"] or 0.0) for c in sums},
            "segments": {
                key: {"customers": int(by_segment.get(key, {}).get("customers", 0)),
                      "mean_churn_probability": by_segment.get(key, {}).get("mean_churn_probability"),
                      **{c: float(by_segment.get(key, {}).get(c) or 0.0) for c in sums}}
                for key in SEGMENTS
            },
            "distributions": distributions,
            "churn_probability_levels": levels,
            **({"monitoring": monitoring} if monitoring is not None else {}),
        }
        return result

    shipped = data.spark.sparkContext.broadcast(models)
    try:
        if features.isEmpty():
            raise ProblemError(
                f"No customers in the population at {as_of:%Y-%m-%d} in {data.source}. "
                "Is the date before the first transaction or long after the last?"
            )
        check_features(pd.DataFrame(columns=features.columns), models)  # fail on the driver, not in a task
        # The cached features keep the query's last shuffle: spark.sql.shuffle.partitions (200)
        # partitions whatever the size, so both scoring passes started 200 Python tasks and
        # 1,338 customers came out as 199 part files. Fewer, fuller partitions; never fewer
        # than the cores while there are rows enough to keep them busy.
        population = features.count()
        features = features.coalesce(scoring_partitions(
            population, features.rdd.getNumPartitions(), data.spark.sparkContext.defaultParallelism))

        def value_columns_of(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
            loaded = shipped.value
            for batch in batches:
                names = check_features(batch, loaded)
                yield pd.DataFrame(value_columns(*predict(batch, loaded, names)))

        # The cut points of every scoring path: over predicted_value + value_at_risk (see
        # scoring.retained_value), which can differ from the model's value in the last bit.
        stage(f"predicting the value of {population:,} customers for the value tiers' cut points")
        with _quiet_pandas4():
            values = features.mapInPandas(value_columns_of, "predicted_value DOUBLE, value_at_risk DOUBLE").toPandas()
        thresholds = scores_value_thresholds(values, config)

        def scored(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
            loaded = shipped.value
            with _quiet_pandas4():
                for batch in batches:
                    yield score_features(batch, loaded, as_of, config, value_thresholds=thresholds)

        stage(f"scoring {population:,} customers with churnml-churn v{models.churn_version}, churnml-value "
              f"v{models.value_version} and writing {out}")
        with _quiet_pandas4():
            scores = features.mapInPandas(scored, _SCORE_SCHEMA).select(*SCORE_COLUMNS)
        sidecar_path = f"{out.rstrip('/')}.json"
        monitoring: dict[str, Any] | None = None
        result: dict[str, Any] = {}
        published = contextlib.ExitStack()  # the sidecar's staged file, renamed into place after the folder

        def before_commit(staged: str) -> None:
            nonlocal monitoring
            # On the finished folder before it is renamed into place (and while the features are
            # cached): a drift check that fails publishes nothing, as on the DuckDB path.
            written = data.spark.read.parquet(staged)
            if monitor is not None:
                limit = config.monitoring.drift_sample_rows
                stage(f"checking drift over {population:,} customers" if population <= limit else
                      f"checking drift over a uniform sample of {limit:,} of {population:,} customers")
                monitoring = dict(monitor(*drift_sample(data, features, written, population, as_of,
                                                        config.monitoring.drift_sample_rows)))
            stage(f"summarising the scores by tier and segment{' into ' + sidecar_path if sidecar is not None else ''}")
            result.update(summary(written))
            # The sidecar is staged as the features' descriptions are (staged_json): written now, renamed into place
            # after the folder. Written after the rename, a sidecar that could not be written (a full disk) left the
            # new folder without one (the last run's deleted), with exit 2 after the whole run.
            if sidecar is not None:
                published.enter_context(staged_json(data.spark, result, sidecar_path))

        with published:
            write_parquet_atomically(scores, out, partition_by, before_commit=before_commit)
    finally:
        features.unpersist()
        shipped.destroy()
    return result


def outside_counts(data: SparkData, as_of: pd.Timestamp | str, config: Config | None = None) -> dict[str, int]:
    """How many customers of the customers table are outside the population at ``as_of``, by reason:
    the counts of :func:`churnml.labels.outside_population`, from its query, in one aggregate
    (``churnml score`` lists the customers themselves; Spark writes no outside file).

    Returns
    -------
    dict
        Reason (a key of :data:`churnml.labels.OUTSIDE_REASONS`, in its order) -> customers; only
        reasons that leave someone out.
    """
    sql = to_spark_sql(outside_population_sql(data.layout, pd.Timestamp(as_of), config or Config()), data.views,
                       ordered=False)
    counts = {row["reason"]: int(row["count"]) for row in data.spark.sql(sql).groupBy("reason").count().collect()}
    return {reason: counts[reason] for reason in OUTSIDE_REASONS if counts.get(reason)}


DRIFT_SCORE_COLUMNS = ("churn_probability", "predicted_value", "value_at_risk", "current_value")
"""The score columns :func:`drift_sample` brings with the features: those the DuckDB path's drift check is given."""
_DRAWS = 2**53
"""A customer's draw is its id's ``xxhash64`` modulo this, over this: a double in [0, 1), every value exact."""


def drift_sample(data: SparkData, features: "SparkFrame", scores: "SparkFrame", population: int,
                 as_of: pd.Timestamp | str, limit: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The features and scores of at most ``limit`` scored customers, on the driver, for the drift
    check (:func:`churnml.monitoring.drift`): every customer when ``population`` is no more, else a
    uniform sample of ``limit``.

    Each customer draws a number in [0, 1) from a hash of its ``customer_id`` (``xxhash64``); the
    sample is the ``limit`` customers with the smallest draws. Executors keep the rows whose draw lies
    below a share a little above ``limit / population`` (six standard deviations of the kept count
    above ``limit``), so no more than about ``limit`` rows travel, and the driver keeps the
    ``limit`` smallest. A hash rather than a random number: Spark's ``rand`` depends on the
    partitioning and the order rows arrive in after a shuffle, and the same data, models and config
    give the same sidecar on a rerun.

    Parameters
    ----------
    data : SparkData
        The data scored (for the feature types: :func:`churnml.features.typed_feature_frame`).
    features : pyspark.sql.DataFrame
        The scored population's features (no ``cutoff`` column).
    scores : pyspark.sql.DataFrame
        Its scores (:data:`churnml.scoring.SCORE_COLUMNS`; the written folder).
    population : int
        Rows of ``features``.
    as_of : Timestamp or str
        The scoring date, the features' ``cutoff``.
    limit : int
        At most this many customers (``[monitoring] drift_sample_rows``).

    Returns
    -------
    (pandas.DataFrame, pandas.DataFrame)
        The features (with ``cutoff``, typed as the DuckDB path types them) and the scores
        (``customer_id`` and :data:`DRIFT_SCORE_COLUMNS`) of the same customers, in ``customer_id`` order.
    """
    from pyspark.sql import functions as F

    draw = F.pmod(F.xxhash64(F.col("customer_id").cast("string")), F.lit(_DRAWS)) / float(_DRAWS)
    share = (limit + 6.0 * math.sqrt(limit) + 10.0) / population if population > limit else 1.0
    picked = features.withColumn("_draw", draw)
    if share < 1.0:
        picked = picked.where(F.col("_draw") < share)
    frame = to_pandas(picked)
    frame["customer_id"] = frame["customer_id"].astype(str)
    frame = frame.sort_values(["_draw", "customer_id"], kind="mergesort").head(limit)
    chosen = scores.select("customer_id", *DRIFT_SCORE_COLUMNS).withColumn("_draw", draw)
    if share < 1.0 and len(frame):
        chosen = chosen.where(F.col("_draw") <= float(frame["_draw"].max()))
    scored = to_pandas(chosen.drop("_draw"))
    scored["customer_id"] = scored["customer_id"].astype(str)
    frame = frame.drop(columns="_draw").sort_values("customer_id", kind="mergesort").reset_index(drop=True)
    scored = scored.set_index("customer_id").reindex(frame["customer_id"]).reset_index()
    frame["cutoff"] = normalize_cutoffs([as_of])[0]
    typed = typed_feature_frame(frame, layout_feature_specs(data.layout, data.attributes), categories(data))
    return typed, scored


_SCORE_SCHEMA = (
    "customer_id STRING, as_of TIMESTAMP_NTZ, churn_probability DOUBLE, predicted_value DOUBLE, "
    "value_at_risk DOUBLE, risk_tier STRING, value_tier STRING, segment STRING, lifecycle_stage STRING, "
    "reasons STRING, churn_model_version STRING, value_model_version STRING, current_value DOUBLE, "
    "reason_topics STRING"
)


ROWS_PER_SCORING_PARTITION = 50_000
"""Rows per partition when scoring on Spark (about 5 s of one core with reasons for everyone)."""
MIN_ROWS_PER_CORE = 10_000
"""Below this many rows per core, fewer cores score (a Python task costs more than its rows)."""


def scoring_partitions(rows: int, partitions: int, parallelism: int) -> int:
    """How many partitions to score ``rows`` customers in: one per
    :data:`ROWS_PER_SCORING_PARTITION` rows, and at least one per core (``parallelism``) while
    each gets :data:`MIN_ROWS_PER_CORE` rows; never more than the ``partitions`` there are
    (coalescing only merges).

    >>> scoring_partitions(1_338, 200, 2), scoring_partitions(461_230, 200, 2), scoring_partitions(10_000_000, 400, 400)
    (1, 10, 400)
    """
    wanted = max(math.ceil(rows / ROWS_PER_SCORING_PARTITION), min(parallelism, rows // MIN_ROWS_PER_CORE))
    return max(1, min(partitions, wanted))


def write_parquet_atomically(
    frame: "SparkFrame",
    out: str,
    partition_by: Sequence[str] = (),
    before_commit: Callable[[str], None] | None = None,
) -> str:
    """Write ``frame`` as a Parquet folder at ``out``: to a temporary sibling, then rename.

    A failed job leaves ``out`` as it was. An existing ``out`` is replaced only after the new
    folder is complete. Renaming is atomic on HDFS and local disks. On object stores (S3, GCS)
    a rename is a copy, so use a committer built for them or write to a new path per run.
    ``before_commit`` runs once the new folder is complete, just before it is renamed into place,
    with the folder's temporary path (to read it); an exception there leaves ``out`` as it was.

    Returns
    -------
    str
        ``out``.
    """
    spark = frame.sparkSession
    jvm = spark._jvm
    target = jvm.org.apache.hadoop.fs.Path(out)
    fs = target.getFileSystem(spark._jsc.hadoopConfiguration())
    tmp = jvm.org.apache.hadoop.fs.Path(f"{out.rstrip('/')}.tmp-{uuid.uuid4().hex[:12]}")
    old = jvm.org.apache.hadoop.fs.Path(f"{out.rstrip('/')}.old-{uuid.uuid4().hex[:12]}")
    try:
        writer = frame.write.mode("error")
        if partition_by:
            writer = writer.partitionBy(*partition_by)
        with _quiet_pandas4():
            writer.parquet(tmp.toString())
        if before_commit is not None:
            before_commit(tmp.toString())
        replaced = fs.exists(target)
        if replaced and not fs.rename(target, old):
            raise DataError(f"Cannot move the previous {out} aside; nothing was changed.")
        if not fs.rename(tmp, target):
            if replaced:
                fs.rename(old, target)
            raise DataError(f"Cannot rename the finished scores into {out}; the previous folder is kept.")
        if replaced:
            fs.delete(old, True)
    finally:
        if fs.exists(tmp):
            fs.delete(tmp, True)
    return out


def write_text_atomically(spark: "SparkSession", text: str, path: str) -> str:
    """Write ``text`` (UTF-8) to ``path`` on any Hadoop file system: to a temporary sibling, then rename.

    Replaces an existing file. Returns ``path``.
    """
    with _staged_text(spark, text, path):
        pass
    return path


@contextlib.contextmanager
def staged_json(spark: "SparkSession", obj: Any, path: str) -> Iterator[str]:
    """:func:`churnml.io.staged_json` on any Spark file system: ``obj`` as JSON to a temporary file
    beside ``path`` at once, renamed into place when the block succeeds. A file describing an
    output written inside the block (the features' descriptions beside their folder) is published
    after it, and when it cannot be written (a full disk) the block never runs, so neither is
    replaced. On this machine's file system (a path, a ``file:`` URL) it is io's own (temporary
    files named after host and process, which a later run removes after a ``kill -9``; an error
    naming the file); elsewhere (``s3a://``, ``hdfs://``) a temporary sibling through Hadoop.
    Yields ``path``."""
    local = io.local_path(path)
    if local is not None:
        with io.staged_json(obj, local):
            yield path
        return
    with _staged_text(spark, io.json_text(obj), path):
        yield path


@contextlib.contextmanager
def _staged_text(spark: "SparkSession", text: str, path: str) -> Iterator[None]:
    """``text`` written to a temporary sibling of ``path`` (any Hadoop file system) before the block,
    renamed into place after it; an exception in the block removes it and leaves ``path`` as it was."""
    fs, target = _file(spark, path)
    tmp = spark._jvm.org.apache.hadoop.fs.Path(f"{path}.tmp-{uuid.uuid4().hex[:12]}")
    try:
        stream = fs.create(tmp, True)
        try:
            stream.write(bytearray(text.encode("utf-8")))
        finally:
            stream.close()
        yield
        if fs.exists(target):
            fs.delete(target, False)
        if not fs.rename(tmp, target):
            raise DataError(f"Cannot rename the finished file into {path}.")
    finally:
        if fs.exists(tmp):
            fs.delete(tmp, False)


def _file(spark: "SparkSession", path: str) -> tuple[Any, Any]:
    """The Hadoop file system holding the single file ``path``, and ``path`` as a Hadoop ``Path``.

    On local disks this is the raw file system, so no ``.<name>.crc`` checksum file appears beside it.
    """
    target = spark._jvm.org.apache.hadoop.fs.Path(path)
    fs = target.getFileSystem(spark._jsc.hadoopConfiguration())
    if fs.getScheme() == "file":
        fs = fs.getRawFileSystem()
    return fs, target


# --------------------------------------------------------------------------------------------
# pandas transfers
# --------------------------------------------------------------------------------------------


@contextlib.contextmanager
def _quiet_pandas4() -> Iterator[None]:
    """Hide pandas 3's ``Pandas4Warning`` about ``astype(copy=False)`` raised inside PySpark."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r"The copy keyword is deprecated", category=DeprecationWarning)
        warnings.filterwarnings("ignore", message=r"PySpark does not yet fully support pandas >= 3", category=FutureWarning)
        yield


def to_pandas(frame: "SparkFrame") -> pd.DataFrame:
    """``frame.toPandas()`` through Arrow, without PySpark's pandas 3 deprecation noise."""
    with _quiet_pandas4():
        return frame.toPandas()


__all__ = [
    "SESSION_DEFAULTS",
    "SparkData",
    "build_features",
    "build_labels",
    "build_training_set",
    "categories",
    "describe_data",
    "drift_sample",
    "feature_descriptions",
    "feature_frame",
    "transaction_values",
    "label_frame",
    "read_tables",
    "resolve_path",
    "sample_by_label",
    "score",
    "spark_session",
    "staged_json",
    "to_pandas",
    "to_spark_sql",
    "training_cutoffs",
    "training_frame",
    "write_features",
    "write_parquet_atomically",
    "write_text_atomically",
]
