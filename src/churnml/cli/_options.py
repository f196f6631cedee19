"""Options shared by several commands, declared once."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import Annotated, Optional

import pandas as pd
import typer

from churnml.errors import ConfigError

DataArg = Annotated[
    Path,
    typer.Argument(metavar="DATA", help="Data source: a folder of CSV/Parquet files named after the tables (or of Parquet part folders), or a DuckDB file."),
]
ConfigOpt = Annotated[
    Optional[Path],
    typer.Option("--config", "-c", help="TOML config: column/table name mapping and settings. Defaults apply without it."),
]
RefusedConfigOpt = Annotated[
    Optional[Path],
    typer.Option("--config", "-c", hidden=True, help="Not read: the command says why (see refuse_config)."),
]
"""``--config`` on a command that no config setting applies to: ``models`` and ``promote`` read only
the MLflow registry (MLFLOW_TRACKING_URI names it, no config does), ``generate`` writes a sample in
churnml's own names and formats and ``demo`` runs the pipeline on one with the default settings. It
is refused with :func:`refuse_config` rather than Typer's bare "No such option" (a script passing
one config to every command stopped there without a word on why) or taken and ignored (a config
could then seem to pick the store, or shape the sample)."""
AsOfOpt = Annotated[
    str,
    typer.Option("--as-of", help="As-of date (YYYY-MM-DD): features see only events before it. At most 7 days after "
                                 "the data's last event, and not after tomorrow (later, missing days would read as customers who "
                                 "stopped buying)."),
]
SourceArg = Annotated[
    str,
    typer.Argument(
        metavar="DATA",
        help="Data source: a folder of CSV/Parquet files named after the tables (or of Parquet part folders), or a DuckDB file. With --engine spark: "
        "a Spark-readable folder of clean Parquet (local, hdfs://, s3a://, abfss://).",
    ),
]
"""DATA for commands that take ``--engine``: a string, so URLs such as ``s3a://bucket/x`` keep their ``//``."""
EngineOpt = Annotated[
    str,
    typer.Option("--engine", help="duckdb (in-process) or spark (features and labels computed by Apache Spark)."),
]
MasterOpt = Annotated[
    Optional[str],
    typer.Option("--master", help="Spark master for --engine spark, e.g. local[2], yarn (default: spark-submit's, else local[*])."),
]
SnapshotsOpt = Annotated[
    Path,
    typer.Option("--snapshots", "--snapshot-dir",
                 help="Folder of feature snapshots: `score` writes one per as-of date, `serve` loads the newest, `retention-list --attribute` reads the scores' date's."),
]
ENGINES = ("duckdb", "spark")


def check_engine(engine: str, master: str | None = None) -> str:
    """The engine named by ``--engine``; raises :class:`ConfigError` for an unknown one or a stray ``--master``."""
    if engine not in ENGINES:
        raise ConfigError(f"Unknown engine {engine!r}. Use one of: {', '.join(ENGINES)}.")
    if master and engine != "spark":
        raise ConfigError("--master applies to --engine spark only; add --engine spark or drop --master.")
    return engine


def parse_date(value: str, option: str = "--as-of") -> pd.Timestamp:
    """Parse a YYYY-MM-DD date given on the command line; an ``--as-of`` given as a date and time is
    told its UTC day, as the API's ``as_of`` is (:func:`churnml.labels.as_of_with_time`)."""
    try:
        return pd.Timestamp(datetime.strptime(value, "%Y-%m-%d"))
    except (TypeError, ValueError):
        if option == "--as-of" and isinstance(value, str):
            from churnml.labels import as_of_with_time

            if (said := as_of_with_time(value)) is not None:
                raise ConfigError(f"{option} {value!r} {said}") from None
        raise ConfigError(f"{option} {value!r} is not a date. Use the form YYYY-MM-DD, e.g. {date.today():%Y-%m-%d}.") from None


def parse_as_of(value: str, training: bool = False) -> pd.Timestamp:
    """``--as-of`` as a date (:func:`parse_date`), refused when after tomorrow before any data is
    read (:func:`churnml.labels.refuse_future_as_of`); ``training`` says why for labels."""
    from churnml.labels import LABELS_AFTER_DATA, SCORING_AFTER_DATA, refuse_future_as_of

    as_of = parse_date(value)
    refuse_future_as_of(as_of, LABELS_AFTER_DATA if training else SCORING_AFTER_DATA)
    return as_of


def refuse_config(command: str, config: Path | None, why: str) -> None:
    """Raise :class:`ConfigError` when ``--config`` was given to ``churnml command``, which reads no
    config (:data:`RefusedConfigOpt`): the message says ``why`` and what to do instead."""
    if config is not None:
        raise ConfigError(f"`churnml {command}` reads no config (--config {config}): {why}")


def registry_only(does: str) -> str:
    """Why a command that ``does`` its work in the MLflow registry alone (``models``, ``promote``)
    reads no config, for :func:`refuse_config`: the store it uses and how to choose another."""
    import os

    from churnml.tracking import tracking_uri

    where = "MLFLOW_TRACKING_URI" if os.environ.get("MLFLOW_TRACKING_URI") else "MLFLOW_TRACKING_URI is unset: the default, ./mlruns/mlflow.db"
    return (f"no setting of a config says which MLflow store to use. It {does} the registry at {tracking_uri()} ({where}). "
            "Drop --config; for another store, set MLFLOW_TRACKING_URI (e.g. export "
            "MLFLOW_TRACKING_URI=sqlite:////path/to/mlruns/mlflow.db).")
