"""The `churnml` command line. The only package that touches Typer.

Each command group lives in its own module and registers itself on :data:`app` through
:func:`command`. User mistakes (:class:`churnml.errors.ChurnmlError`) print ``Error: …`` to stderr
and exit with the error's code; no traceback.
"""

from __future__ import annotations

import functools
import sys
from typing import Any, Callable

import typer
from rich.console import Console

from churnml.errors import ChurnmlError

app = typer.Typer(
    name="churnml",
    help=(
        "Churn and customer-value prediction.\n\n"
        "Typical flow: generate or bring DATA (a folder of CSV/Parquet files or a DuckDB file) → "
        "validate → train → score → retention-list. `churnml demo` runs all of it on a sample."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="markdown",
)

@app.callback()
def _root() -> None:
    """Keep `churnml COMMAND` a command group even while only one command is registered."""


console = Console()
err_console = Console(stderr=True)


def command(*args: Any, **kwargs: Any) -> Callable:
    """Register a Typer command whose :class:`ChurnmlError` becomes a clean ``Error:`` message."""

    def decorate(func: Callable) -> Callable:
        @functools.wraps(func)
        def wrapper(*a: Any, **kw: Any) -> Any:
            try:
                return func(*a, **kw)
            except ChurnmlError as exc:
                err_console.print(f"[bold red]Error:[/bold red] {exc.message}", highlight=False, soft_wrap=True)
                raise typer.Exit(exc.exit_code) from None

        return app.command(*args, **kwargs)(wrapper)

    return decorate


COMMAND_MODULES = ("demo", "generate", "validate", "features", "train", "score", "report", "serve")
"""Command modules in the order `churnml --help` lists them: the order of the workflow."""


def _register_commands() -> None:
    # Import for side effect: each module registers its commands on `app`.
    import importlib

    for name in COMMAND_MODULES:
        importlib.import_module(f"{__name__}.{name}")


def _quiet_libraries() -> None:
    """Keep the terminal for churnml's own output: libraries' INFO chatter and progress bars go.

    MLflow's database migrations, registry notices and artifact-download bars, and Optuna's
    per-trial lines, repeat what churnml's progress bars and tables already say.
    """
    import logging
    import os
    import warnings

    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    os.environ.setdefault("MLFLOW_LOGGING_LEVEL", "ERROR")
    for name in ("mlflow", "alembic", "optuna", "py4j", "bentoml"):
        logging.getLogger(name).setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", module="optuna")
    warnings.filterwarnings("ignore", message=".*pickle or cloudpickle.*")


def main() -> None:
    """Console-script entry point."""
    _quiet_libraries()
    _register_commands()
    app()


def get_app() -> typer.Typer:
    """The fully registered app (for tests with ``typer.testing.CliRunner``)."""
    _register_commands()
    return app


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
