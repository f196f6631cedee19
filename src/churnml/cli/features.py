"""`churnml features`: the point-in-time feature table for the population at a date."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Annotated, Optional

import typer

from churnml import io
from churnml.cli import command, console, start_spark, working
from churnml.cli._options import AsOfOpt, ConfigOpt, EngineOpt, MasterOpt, SourceArg, check_engine, parse_as_of
from churnml.cli.validate import show_data_notes
from churnml.config import load_config
from churnml.errors import ConfigError
from churnml.features import feature_description
from churnml.labels import build_scoring_frame
from churnml.validate import load_dataset


DESCRIPTIONS = "the features' descriptions"


def description_path(out: Path) -> Path:
    """Where the features JSON goes: beside the table, ``<out>.features.json``."""
    return out.with_name(out.name + ".features.json")


@command("features")
def features_command(
    data: SourceArg,
    as_of: AsOfOpt,
    out: Annotated[
        str, typer.Option("--out", "-o", help="Feature table to write (.parquet or .csv: text a spreadsheet would run as a formula gets a leading '); with --engine spark, a Parquet folder.")
    ],
    config: ConfigOpt = None,
    fmt: Annotated[
        Optional[str], typer.Option("--format", help="parquet or csv (default: from the --out suffix, else parquet).")
    ] = None,
    engine: EngineOpt = "duckdb",
    master: MasterOpt = None,
) -> None:
    """Write the feature table for the population at --as-of.

    Reads and validates DATA, keeps the customers in the population at the as-of date, and
    computes their features from events strictly before it. Writes OUT (one row per customer:
    customer_id, cutoff, then the features) and OUT.features.json (name, meaning, source table,
    window, direction and reason sentence of each feature), published after OUT: a run that cannot
    write either (a full disk) leaves both as they were. While one `features` writes OUT, a
    second on the same OUT stops before any work with exit code 75, retry later (a lock on .OUT.lock
    beside it, which ends with the process; with --engine spark, when OUT is on this machine).
    """
    cfg = load_config(config)
    as_of_date = parse_as_of(as_of)
    fmt = io.check_format(fmt) if fmt else None  # checked against --out's suffix below (a Spark --out is a folder)
    if check_engine(engine, master) == "spark":
        from churnml import spark as churn_spark

        if fmt not in (None, "parquet"):
            raise ConfigError(f"--engine spark writes a Parquet folder; --format {fmt} is not available with it.")
        data, out = churn_spark.resolve_path(data), churn_spark.resolve_path(out)
        io.check_spark_source(data, cfg)
        io.check_spark_output(out, data, cfg)
        # As `score --engine spark`: on this machine's file system only (no lock on s3a:// and the like).
        local = io.local_path(out)
        if local is not None:
            io.refuse_folder(f"{str(local).rstrip('/')}.features.json", DESCRIPTIONS, "--out")
        with io.output_lock(local, "churnml features") if local is not None else contextlib.nullcontext():
            session = start_spark(master)
            with working(f"Reading and validating {data}"):
                sdata = churn_spark.read_tables(session, data, cfg)
            show_data_notes({"notes": sdata.notes}, data, config)
            with working(f"Building features as of {as_of_date:%Y-%m-%d} and writing {out}"):
                # Staged as on DuckDB (below), beside OUT on any Spark file system: the descriptions were written
                # after the folder was renamed into place, so a full disk left the new folder beside the last
                # run's .features.json, with exit 2.
                with churn_spark.staged_json(sdata.spark, churn_spark.feature_descriptions(sdata),
                                             f"{out.rstrip('/')}.features.json") as described:
                    rows, descriptions = churn_spark.write_features(sdata, as_of_date, out, cfg)
        console.print(f"{rows:,} customers x {len(descriptions)} features at {as_of_date:%Y-%m-%d} written to {out} (Spark); "
                      f"descriptions in {described}.")
        return
    out_path = io.check_output_file(out, "--out", io.source_files(data, cfg), example="features.parquet")
    io.refuse_folder(description_path(out_path), DESCRIPTIONS, "--out")  # before any work, as score's sidecar
    fmt = io.format_for(out_path, fmt)
    # Two overlapping runs on the same --out (a scheduler's retry beside a slow run) each replaced the other's
    # files, and could leave one run's table beside the other's .features.json: the second stops (exit 75), as score's.
    with io.output_lock(out_path, "churnml features"):
        with working(f"Reading and validating {data}"):
            dataset = load_dataset(Path(data), cfg)
        show_data_notes(dataset.summary, data, config)
        with working(f"Building features as of {as_of_date:%Y-%m-%d}"):
            frame = build_scoring_frame(dataset, as_of_date, cfg)
        # The descriptions' temporary file is written before the table is renamed into place and published after
        # it (as score's sidecar): descriptions that could not be written (a full disk) left the new table beside
        # the last run's .features.json, with exit 2.
        with io.staged_json(feature_description(dataset), description_path(out_path)) as described:
            written = io.write_table(frame, out_path, fmt)
    console.print(
        f"{len(frame):,} customers x {frame.shape[1] - 2} features at {as_of_date:%Y-%m-%d} written to {written}; "
        f"descriptions in {described}."
    )
