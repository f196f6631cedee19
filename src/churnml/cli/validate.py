"""`churnml validate`: check a data source against the contract and set bad rows aside."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from churnml import io
from churnml.cli import command, console, next_step, print_whole, working
from churnml.cli._options import ConfigOpt, DataArg
from churnml.config import Config, load_config
from churnml.dataset import KEPT_WITHOUT, Dataset, row_counts
from churnml.errors import QuarantineError
from churnml.validate import load_dataset, named_table, write_quarantine


def show_summary(dataset: Dataset, config: Config = Config()) -> None:
    """Print the per-table and per-reason summary of a validated dataset, its tables named as the
    export names them (``config``: :func:`churnml.validate.named_table`, ``tickets (service_events)``)."""
    summary = dataset.summary
    counts = {name: row_counts(summary, name) for name in summary["tables"]}
    any_kept = any(kept for _, kept in counts.values())
    tables = Table(title="Tables", title_justify="left", caption_justify="left",
                   caption="first, last: the dates of the earliest and latest row (customers: signup_date)"
                   + ("\nkept: rows kept without a value, in the clean rows with the value blanked (listed in quarantine/ too)"
                      if any_kept else ""))
    # "kept", said in full below: at the 80 columns of a cron job's log "kept without a value" read "kept witho… a value".
    columns = ("table", "rows read", "clean", "set aside", *(("kept",) if any_kept else ()), "first", "last")
    for column in columns:
        # Table names whole (service_events), dates whole; the counts give way first.
        tables.add_column(column, justify="right" if column != "table" else "left", no_wrap=column in ("table", "first", "last"))
    for name, stats in summary["tables"].items():
        aside, kept = counts[name]
        tables.add_row(
            named_table(config, name),
            f"{stats['rows']:,}",
            f"{stats['clean_rows']:,}",
            f"{aside:,}",
            *((f"{kept:,}",) if any_kept else ()),
            stats.get("first") or "",
            stats.get("last") or "",
        )
    print_whole(tables)
    # The reasons, each under what happened to its rows: a "not rated" score blanked is not a row set aside.
    for title, kept in (("Rows set aside", False), ("Rows kept without a value (the value blanked)", True)):
        listed = [(name, reason, count) for name, stats in summary["tables"].items()
                  for reason, count in stats["quarantined"].items() if (KEPT_WITHOUT in reason) == kept]
        if not listed:
            continue
        reasons = Table(title=title, title_justify="left")
        reasons.add_column("table")
        reasons.add_column("reason")
        reasons.add_column("rows", justify="right")
        for name, reason, count in listed:
            reasons.add_row(named_table(config, name), reason, f"{count:,}")
        print_whole(reasons)
    console.print(
        f"{summary['customers']:,} customers, {summary['customers_without_transactions']:,} "
        f"({summary['share_without_transactions']:.1%}) with no transactions. "
        f"Data ends {str(summary['data_end']).removesuffix(' 00:00:00')}."
    )
    blank = {name: stats["blank_rows_skipped"] for name, stats in summary["tables"].items() if stats.get("blank_rows_skipped")}
    if blank:  # not set aside (nothing in them to find), but not silently gone either
        console.print(f"Skipped {', '.join(f'{n:,} empty row(s) of {named_table(config, name)}' for name, n in blank.items())} "
                      "(every field blank, as spreadsheet exports leave them); they are not counted as rows read.")
    for note in summary.get("notes", []):
        console.print(f"Note: {note}")


def rows_text(aside: int, kept: int) -> str:
    """What validation did to rows, as notes and errors say it: "3 row(s) set aside and 244 kept without a
    value (…)". A row kept without a value is in the data, the value blanked: not one set aside."""
    said = [f"{aside:,} row(s) set aside"] if aside else []
    if kept:
        said.append(f"{kept:,}{'' if aside else ' row(s)'} kept without a value (the value blanked, the row used)")
    return " and ".join(said)


def show_data_notes(summary: dict, data: Any, config: Any = None) -> None:
    """What validation found that a score, features or train run should not hide: rows set aside
    or kept without a value, and the notes (missing optional tables, 'other' event types, id-like
    attributes). ``config``: the --config given, repeated in the validate command to run."""
    aside, kept = row_counts(summary)
    if aside or kept:
        with_config = f" --config {config}" if config else ""
        console.print(f"Note: validation found {rows_text(aside, kept)}; `churnml validate {data}{with_config}` "
                      "lists why and writes them to quarantine/.")
    for note in summary.get("notes", []):
        console.print(f"Note: {note}")


@command("validate")
def validate_command(
    data: DataArg,
    config: ConfigOpt = None,
    strict: Annotated[bool, typer.Option("--strict", help=(
        "Exit 1 if any row is set aside, or kept without a value (a customer without its unreadable signup date, a "
        "service event without its off-scale satisfaction score): either way the data as exported breaks the "
        "contract. The error says which."))] = False,
    quarantine_dir: Annotated[
        Path, typer.Option("--quarantine-dir", help=("Where to write quarantine_TABLE.csv files (the rows set aside or kept "
                                                       "without a value, as read, with a reason column)."))
    ] = Path("quarantine"),
) -> None:
    """Check DATA against the data contract.

    Reads every table in DATA (through the column mapping of --config), stops with exit code 2 on
    errors (missing table or column, a column that cannot be read, a customer id in rows that differ)
    and sets bad rows aside (a customers row that repeats another whole too: the first is kept) into QUARANTINE_DIR/quarantine_TABLE.csv with a `reason` column. Prints row
    counts, date ranges and counts per reason. Rows kept without a value (the value blanked, the row
    kept) are listed in the quarantine files too, and counted apart from those set aside. The files are
    written as a set: a run that fails or is stopped while writing them leaves the earlier ones as they were. Exits 0, or 1
    with --strict when any row was set aside or kept without a value.
    """
    io.check_output_folder(quarantine_dir, "--quarantine-dir")
    cfg = load_config(config)
    with working(f"Reading and validating {data}"):
        dataset = load_dataset(data, cfg)
    show_summary(dataset, cfg)
    paths, removed = write_quarantine(dataset, quarantine_dir)
    for path in paths:
        console.print(f"Listed {rows_text(*row_counts(dataset.summary, path.stem.removeprefix('quarantine_')))} in {path}")
    for path in removed:
        console.print(f"Removed {path} of an earlier run: no row of {named_table(cfg, path.stem.removeprefix('quarantine_'))} is set aside or "
                      "kept without a value now.")
    aside, kept = row_counts(dataset.summary)
    if strict and (aside or kept):
        raise QuarantineError(f"{rows_text(aside, kept)}; --strict makes this a failure. {quarantine_dir}/ lists them "
                              "with their reasons.")
    if dataset.data_end is not None:  # the latest as-of date train accepts: the day after the data ends
        import pandas as pd

        as_of = pd.Timestamp(dataset.data_end).normalize() + pd.Timedelta(days=1)
        next_step(f"churnml train {data} --as-of {as_of:%Y-%m-%d}" + (f" --config {config}" if config else ""))
