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
    typer.Argument(help="Data source: a folder of CSV/Parquet files named after the tables, or a DuckDB file."),
]
ConfigOpt = Annotated[
    Optional[Path],
    typer.Option("--config", "-c", help="TOML config: column/table name mapping and settings. Defaults apply without it."),
]
AsOfOpt = Annotated[
    str,
    typer.Option("--as-of", help="As-of date (YYYY-MM-DD): features see only events before it."),
]


def parse_date(value: str, option: str = "--as-of") -> pd.Timestamp:
    """Parse a YYYY-MM-DD date given on the command line."""
    try:
        return pd.Timestamp(datetime.strptime(value, "%Y-%m-%d"))
    except (TypeError, ValueError):
        raise ConfigError(f"{option} {value!r} is not a date. Use the form YYYY-MM-DD, e.g. {date.today():%Y-%m-%d}.") from None
