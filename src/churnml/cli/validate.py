"""`churnml validate`: check a data source against the contract and set bad rows aside."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from churnml import io
from churnml.cli import command, console, next_step, working
from churnml.cli._options import ConfigOpt, DataArg
from churnml.config import load_config
from churnml.dataset import Dataset
from churnml.errors import QuarantineError
from churnml.validate import load_dataset, write_quarantine


def show_summary(dataset: Dataset) -> None:
    """Print the per-table and per-reason summary of a validated dataset."""
    summary = dataset.summary
    tables = Table(title="Tables", title_justify="left", caption_justify="left",
                   caption="first, last: the dates of the earliest and latest row (customers: signup_date)")
    for column in ("table", "rows read", "clean", "set aside", "first", "last"):
        # Table names whole (service_events), dates whole; the counts give way first.
        tables.add_column(column, justify="right" if column != "table" else "left", no_wrap=column in ("table", "first", "last"))
    for name, stats in summary["tables"].items():
        aside = sum(stats["quarantined"].values())
        # Customers with a blanked signup date or attribute are listed but stay in the clean table.
        kept = stats["clean_rows"] + aside - stats["rows"]
        tables.add_row(
            name,
            f"{stats['rows']:,}",
            f"{stats['clean_rows']:,}",
            f"{aside:,}" + (f" ({kept:,} kept)" if kept > 0 else ""),
            stats.get("first") or "",
            stats.get("last") or "",
        )
    console.print(tables)
    if summary["quarantined_rows"]:
        reasons = Table(title="Rows set aside", title_justify="left")
        reasons.add_column("table")
        reasons.add_column("reason")
        reasons.add_column("rows", justify="right")
        for name, stats in summary["tables"].items():
            for reason, count in stats["quarantined"].items():
                reasons.add_row(name, reason, f"{count:,}")
        console.print(reasons)
    console.print(
        f"{summary['customers']:,} customers, {summary['customers_without_transactions']:,} "
        f"({summary['share_without_transactions']:.1%}) with no transactions. "
        f"Data ends {str(summary['data_end']).removesuffix(' 00:00:00')}."
    )
    blank = {name: stats["blank_rows_skipped"] for name, stats in summary["tables"].items() if stats.get("blank_rows_skipped")}
    if blank:  # not set aside (nothing in them to find), but not silently gone either
        console.print(f"Skipped {', '.join(f'{n:,} empty row(s) of {name}' for name, n in blank.items())} "
                      "(every field blank, as spreadsheet exports leave them); they are not counted as rows read.")
    for note in summary.get("notes", []):
        console.print(f"Note: {note}")


def show_data_notes(summary: dict, data: Any, config: Any = None) -> None:
    """What validation found that a score, features or train run should not hide: rows set aside
    and the notes (missing optional tables, 'other' event types, id-like attributes). ``config``:
    the --config given, repeated in the validate command to run."""
    if summary.get("quarantined_rows"):
        with_config = f" --config {config}" if config else ""
        console.print(f"Note: validation set aside {summary['quarantined_rows']:,} rows; `churnml validate {data}{with_config}` "
                      "lists why and writes them to quarantine/.")
    for note in summary.get("notes", []):
        console.print(f"Note: {note}")


@command("validate")
def validate_command(
    data: DataArg,
    config: ConfigOpt = None,
    strict: Annotated[bool, typer.Option("--strict", help="Exit 1 if any row is set aside.")] = False,
    quarantine_dir: Annotated[
        Path, typer.Option("--quarantine-dir", help="Where to write quarantine_TABLE.csv files (the rows as read, with a reason column).")
    ] = Path("quarantine"),
) -> None:
    """Check DATA against the data contract.

    Reads every table in DATA (through the column mapping of --config), stops with exit code 2 on
    errors (missing table or column, a column that cannot be read, duplicate customer ids) and sets
    bad rows aside into QUARANTINE_DIR/quarantine_TABLE.csv with a `reason` column. Prints row
    counts, date ranges and counts per reason. Exits 0, or 1 with --strict when any row was set aside.
    """
    io.check_output_folder(quarantine_dir, "--quarantine-dir")
    cfg = load_config(config)
    with working(f"Reading and validating {data}"):
        dataset = load_dataset(data, cfg)
    show_summary(dataset)
    paths, removed = write_quarantine(dataset, quarantine_dir)
    for path in paths:
        console.print(f"Set-aside rows written to {path}")
    for path in removed:
        console.print(f"Removed {path} of an earlier run: no rows of {path.stem.removeprefix('quarantine_')} are set aside now.")
    n_bad = dataset.summary["quarantined_rows"]
    if strict and n_bad:
        raise QuarantineError(f"{n_bad:,} row(s) were set aside (see {quarantine_dir}/); --strict makes this a failure.")
    if dataset.data_end is not None:  # the latest as-of date train accepts: the day after the data ends
        import pandas as pd

        as_of = pd.Timestamp(dataset.data_end).normalize() + pd.Timedelta(days=1)
        next_step(f"churnml train {data} --as-of {as_of:%Y-%m-%d}" + (f" --config {config}" if config else ""))
