"""`churnml generate`: write a synthetic brokerage history to try churnml on."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

from churnml.cli import command, console, next_step, print_whole
from churnml.cli._options import RefusedConfigOpt, parse_date, refuse_config
from churnml.errors import ConfigError


@command("generate")
def generate_command(
    out: Annotated[Path, typer.Argument(metavar="OUT", help="Folder to write the four tables into (created if missing).")],
    customers: Annotated[int, typer.Option("--customers", "-n", help="Number of customers to simulate.")],
    seed: Annotated[int, typer.Option("--seed", help="Random seed; the same arguments give identical files.")] = 0,
    start: Annotated[str, typer.Option("--start", help="First day of the history (YYYY-MM-DD).")] = "2021-01-01",
    end: Annotated[str, typer.Option("--end", help="Last day of the history (YYYY-MM-DD).")] = "2025-12-31",
    fmt: Annotated[str, typer.Option("--format", "-f", help="File format: parquet or csv.")] = "parquet",
    chunk_size: Annotated[
        int, typer.Option("--chunk-size", help="Customers simulated per step; bounds memory.", show_default=True)
    ] = 100_000,
    config: RefusedConfigOpt = None,
) -> None:
    """Generate a synthetic retail-brokerage history with known churn causes.

    Writes into OUT, one file per table (FORMAT suffix):

    - customers: customer_id, signup_date, region, product_tier (basic/plus/premium),
      acquisition_channel, age_band, account_manager
    - transactions: transaction_id, customer_id, timestamp, amount (the firm's revenue per trade;
      negative = refund), quantity, category, channel
    - service_events: customer_id, timestamp, event_type (complaint, ticket, call, survey,
      account_manager_change), resolved_at (empty = still open at the end of the data;
      escalated complaints take one to five months), satisfaction (1-5, surveys), channel
    - churn_events: customer_id, timestamp of each account closure

    Churn is driven by falling activity, unresolved complaints, low satisfaction, account-manager
    changes, short tenure and product tier, plus noise; some churners close the account, others
    lapse silently. A sample generated earlier in OUT is replaced; tables that `churnml generate`
    did not write there (your own data) are never: the command refuses and says so. No config is
    read: the sample is in churnml's own table and column names and formats.
    """
    from churnml.generate import TABLE_NAMES, check_output, generate  # keeps `churnml --help` fast

    refuse_config("generate", config, (
        "no setting of a config changes the sample, which is written in churnml's own table and column names and "
        "formats: `churnml validate` and the other commands read it without a config. Drop --config; give it to the "
        "commands that read your own data."))
    if customers < 1:
        raise ConfigError(f"--customers must be at least 1 (got {customers}).")
    if seed < 0:
        raise ConfigError(f"--seed must be 0 or more (got {seed}).")
    if chunk_size < 1:
        raise ConfigError(f"--chunk-size must be at least 1 (got {chunk_size}).")
    start_ts, end_ts = parse_date(start, "--start"), parse_date(end, "--end")
    if end_ts <= start_ts:
        raise ConfigError(f"--end {end} must be after --start {start}.")
    check_output(out, fmt)

    with Progress(
        TextColumn("Generating customers"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
    ) as bar:
        task = bar.add_task("generate", total=customers)
        rows = generate(
            out,
            customers,
            seed=seed,
            start=start_ts,
            end=end_ts,
            fmt=fmt,
            chunk_size=chunk_size,
            progress=lambda done, total: bar.update(task, completed=done),
        )

    table = Table(title=f"Written to {out}", title_justify="left")
    table.add_column("table")
    table.add_column("file")
    table.add_column("rows", justify="right")
    suffix = fmt.lower()
    for name in TABLE_NAMES:
        table.add_row(name, f"{name}.{suffix}", f"{rows[name]:,}")
    print_whole(table)
    next_step(f"churnml validate {out}")
