"""The `churnml` command line. The only package that touches Typer.

Each command group lives in its own module and registers itself on :data:`app` through
:func:`command`. User mistakes (:class:`churnml.errors.ChurnmlError`) print ``Error: …`` to stderr
and exit with the error's code; no traceback.
"""

from __future__ import annotations

import contextlib
import errno
import functools
import os
import signal
import socket
import sys
import threading
from typing import Any, Callable, Iterator

import typer
from rich.console import Console
from rich.markup import escape
from rich.measure import Measurement

from churnml.errors import ChurnmlError, StoreUnavailableError, without_credentials
from churnml.stopping import command_line, run_again, stop_message
from churnml.stopping import handle_signals as _handle_signals
from churnml.stopping import received as _signals
from churnml.stopping import stopping as _stopping

app = typer.Typer(
    name="churnml",
    help=(
        "Churn and customer-value prediction.\n\n"
        "Typical flow: generate or bring DATA (a folder of CSV/Parquet files or a DuckDB file) → "
        "validate → train → score → retention-list. `churnml demo` runs all of it on a sample.\n\n"
        "Your own table and column names, date and number formats and settings go in a TOML file given "
        "with `--config` to every command that reads data, scores or lists (see README.md, *Using it on your own "
        "data*; `models` and `promote` read only the MLflow registry, which MLFLOW_TRACKING_URI names, and `generate` "
        "and `demo` work on a sample in churnml's own names with the default settings), e.g. "
        "`churnml validate export/ --config company.toml`, then "
        "`churnml train export/ --config company.toml --as-of 2026-01-01`.\n\n"
        "Exit codes: 0 done; 1 `validate --strict` set rows aside or kept rows without a value; "
        "2 a mistake to fix (the message says what); "
        "3 `score --fail-on-drift` found drift; 75 the MLflow store is busy (or its tracking server does not answer), "
        "or another `score` is writing the same --out, retry later; 130/143 stopped by "
        "Ctrl-C/SIGTERM (no output half-written)."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="markdown",
)


def _no_type_for_flags() -> None:
    """Recent Typer prints a flag as `--strict <bool>`, which reads as an option taking a value
    (`--strict true` then fails: "unexpected extra argument"). Flags take none: show no type."""
    from typer.core import TyperOption

    shown = getattr(TyperOption, "display_type_rich", None)
    if shown is None or getattr(shown, "_churnml", False):
        return

    def display_type_rich(self: Any, ctx: Any) -> str | None:
        return None if self.is_flag and self.metavar is None else shown(self, ctx)

    display_type_rich._churnml = True  # type: ignore[attr-defined]
    TyperOption.display_type_rich = display_type_rich  # type: ignore[method-assign]


_no_type_for_flags()


VERSION_LIBRARIES = ("python", "duckdb", "pandas", "lightgbm", "optuna", "mlflow", "bentoml", "pyspark")
"""What ``churnml --version`` reports beside churnml itself: what a bug report needs to reproduce."""


def version_text() -> str:
    """``churnml 0.1.0 (git 1a2b3c4, modified)`` and, on a second line, the versions of the
    libraries that decide the numbers (read from package metadata, nothing imported)."""
    from importlib import metadata

    from churnml.io import code_version

    code = code_version()
    head = f"churnml {code['churnml']}"
    if code.get("git_commit"):
        head += f" (git {code['git_commit'][:7]}{', modified' if code.get('git_dirty') else ''})"
    found = []
    for name in VERSION_LIBRARIES:
        if name == "python":
            found.append(f"python {sys.version.split()[0]}")
            continue
        try:
            found.append(f"{name} {metadata.version(name)}")
        except metadata.PackageNotFoundError:
            found.append(f"{name} not installed")
    return head + "\n" + ", ".join(found)


def _show_version(value: bool) -> None:
    if value:
        console.print(version_text())
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", is_eager=True, callback=_show_version,
        help="Print churnml's version (and git commit) and the versions of the libraries it runs on, then exit.",
    ),
) -> None:
    """Keep `churnml COMMAND` a command group even while only one command is registered."""


# Markup off: messages carry file paths, column names and data values, and Rich would read
# "[columns.transactions]" or a value such as "[/n/a]" as markup (dropping or crashing on it).
# The few styled lines pass markup=True and escape what they interpolate.
# soft_wrap: plain lines are not broken at the console width (80 when piped to a log), so a
# command to copy ("Next: churnml retention-list … --out retention_list.csv") or a path stays on
# one line; a terminal wraps them itself. Tables still fit the width.
console = Console(markup=False, soft_wrap=True)
err_console = Console(stderr=True, markup=False, soft_wrap=True)


def print_whole(table: Any) -> None:
    """Print a table on ``console`` with every cell whole where output is not a terminal.

    Piped to a log, Rich takes the width as 80 and shortens cells to fit: a million customers'
    validation read "43,429,0…" for 43,429,088 transactions in a cron job's log, and a segment's
    value at risk or a model's name would lose digits or letters the same way. There the table is
    printed as wide as its cells; a terminal keeps its own width (a person can widen it). Every
    table a command prints goes through here."""
    if console.is_terminal:
        console.print(table)
        return
    wide = Measurement.get(console, console.options.update(width=10_000), table).maximum
    if wide <= console.width:
        console.print(table)
        return
    Console(file=console.file, width=wide, markup=False, soft_wrap=True, color_system=None).print(table)


_watching: list[socket.socket] = []
"""The two ends of the signal wake-up socket pair, kept open once :func:`_watch_signals` has started."""


def _watch_signals() -> None:
    """Stop running DuckDB queries the moment Ctrl-C or SIGTERM arrives (once per process).

    Python runs a signal handler in the main thread, and only when that thread runs Python: inside
    a DuckDB query it waited for DuckDB to look, 23 s on a long aggregate (the whole query). The
    C-level handler writes each signal's number to the wake-up file at once, though; a thread
    reading it interrupts the queries (:func:`churnml.dataset.interrupt_queries`), and the handler
    then runs as before, so the command stops the same way, only sooner."""
    if _watching:
        return
    reader, writer = socket.socketpair()
    writer.setblocking(False)
    signal.set_wakeup_fd(writer.fileno(), warn_on_full_buffer=False)
    _watching.extend((reader, writer))  # kept open for the life of the process

    def watch() -> None:
        from churnml.dataset import interrupt_queries

        while received := reader.recv(64):
            stops = [number for number in received if number in (signal.SIGINT, signal.SIGTERM)]
            if stops:
                _signals.extend(stops)  # before the query's error reaches the command's handler
                interrupt_queries()

    threading.Thread(target=watch, name="churnml-signals", daemon=True).start()


def _interrupted_query(exc: BaseException) -> bool:
    """A DuckDB query stopped by a signal (Ctrl-C or SIGTERM) rather than a failure."""
    return bool(_signals) and (type(exc).__name__ == "InterruptException"
                               or (isinstance(exc, RuntimeError) and "interrupted" in str(exc).lower()))


def _stopped(exc: BaseException) -> typer.Exit:
    """Say that the command stopped (:func:`churnml.stopping.stop_message`) and exit 130 or 143."""
    _stopping[0] = True
    message, code = stop_message(exc)
    err_console.print(without_credentials(message), markup=False, highlight=False, soft_wrap=True)
    return typer.Exit(code)


def _again() -> str:
    """:func:`churnml.stopping.run_again` for this process's stderr."""
    return run_again(err_console.is_terminal)


EXIT_RETRY = StoreUnavailableError.exit_code
"""Exit code when the MLflow store is busy, or its tracking server cannot be reached: try again later (75 is
EX_TEMPFAIL in sysexits.h)."""


def command(*args: Any, **kwargs: Any) -> Callable:
    """Register a Typer command whose user-fixable failures become a clean ``Error:`` message.

    Besides :class:`ChurnmlError`: file-system errors (a folder that cannot be written, a full
    disk, a port in use), MLflow refusing its tracking URI, and Ctrl-C. Outputs are written
    atomically, so none of these leaves a half-written file. ``CHURNML_DEBUG=1`` shows the
    traceback of these (a :class:`ChurnmlError` stays its one-line message)."""

    def decorate(func: Callable) -> Callable:
        @functools.wraps(func)
        def wrapper(*a: Any, **kw: Any) -> Any:
            if threading.current_thread() is threading.main_thread():
                _handle_signals()
                _watch_signals()
            _stopping[0] = False
            # This command's signals only: one left from an earlier command run in the same process
            # made a later KeyboardInterrupt read as SIGTERM, or a DuckDB error saying "interrupted"
            # read as a stop.
            _signals.clear()
            try:
                return _guarded(*a, **kw)
            except KeyboardInterrupt as exc:  # a signal's handler ran while an error below was handled
                if os.environ.get("CHURNML_DEBUG"):
                    raise
                raise _stopped(exc) from None
            finally:
                # The late handler has run by now (Python runs it as soon as the query returns). A
                # signal after the command is the process's again: in a notebook or a test session
                # that runs commands in-process, Ctrl-C and SIGTERM were swallowed from then on.
                _stopping[0] = False

        def _guarded(*a: Any, **kw: Any) -> Any:
            try:
                return func(*a, **kw)
            except ChurnmlError as exc:
                _error(exc.message + (_again() if exc.exit_code == EXIT_RETRY else ""))
                raise typer.Exit(exc.exit_code) from None
            except KeyboardInterrupt as exc:
                if os.environ.get("CHURNML_DEBUG"):
                    raise
                raise _stopped(exc) from None
            except OSError as exc:
                if os.environ.get("CHURNML_DEBUG"):
                    raise
                _error(_os_error_message(exc))
                raise typer.Exit(2) from None
            except Exception as exc:
                if _interrupted_query(exc) and not os.environ.get("CHURNML_DEBUG"):
                    raise _stopped(exc) from None
                if "database is locked" in str(exc) and not os.environ.get("CHURNML_DEBUG"):
                    # SQLAlchemy's OperationalError, raw or wrapped by MLflow: another command writes to the store.
                    uri = os.environ.get("MLFLOW_TRACKING_URI") or "sqlite:///mlruns/mlflow.db"
                    _error(f"The MLflow store {uri} is busy: another process kept it locked (database is locked): "
                           f"run the command again once that one has finished (exit code {EXIT_RETRY} means: retry later)."
                           + _again())
                    raise typer.Exit(EXIT_RETRY) from None
                uri = os.environ.get("MLFLOW_TRACKING_URI")
                if isinstance(exc, ImportError) and uri and not uri.startswith("sqlite:") and not os.environ.get("CHURNML_DEBUG"):
                    # SQLAlchemy imports the database's driver on first use: postgresql:// without psycopg.
                    _error(f"MLflow cannot open MLFLOW_TRACKING_URI ({uri}): the Python package {exc.name or exc} its "
                           f"database needs is not installed. Install it in churnml's environment (pip install "
                           f"{exc.name or '<driver>'}), or point MLFLOW_TRACKING_URI at another store.")
                    raise typer.Exit(2) from None
                if os.environ.get("CHURNML_DEBUG") or not any(k.__name__ == "MlflowException" for k in type(exc).__mro__):
                    raise
                from churnml.tracking import tracking_uri, unreachable

                if unreachable(exc):
                    _error(f"The MLflow tracking server {tracking_uri()} could not be reached (no answer after MLflow's "
                           f"retries): run the command again once it is up (exit code {EXIT_RETRY} means: retry later), "
                           "or check MLFLOW_TRACKING_URI." + _again())
                    raise typer.Exit(EXIT_RETRY) from None
                now = f"now {uri}" if uri else "unset, churnml uses sqlite:///mlruns/mlflow.db with artifacts under mlruns/"
                _error(f"MLflow: {str(exc).strip().splitlines()[0] or type(exc).__name__} Check MLFLOW_TRACKING_URI ({now}).")
                raise typer.Exit(2) from None

        return app.command(*args, **kwargs)(wrapper)

    return decorate


def _error(message: str) -> None:
    message = without_credentials(message)  # MLflow's own messages quote the tracking URI, password and all
    err_console.print(f"[bold red]Error:[/bold red] {escape(message)}", markup=True, highlight=False, soft_wrap=True)


_next_steps = [True]
"""Whether commands print their "Next: churnml …" hint; `churnml demo` runs the next step itself."""


def next_step(command_line: str) -> None:
    """``Next: <command_line>``: what to run after this command (unless a demo runs it anyway)."""
    if _next_steps[-1]:
        console.print(f"Next: {command_line}")


def log(message: str) -> None:
    """A timestamped line saying what a long command is doing, printed only when stdout is not a
    terminal (cron, a scheduler's log file): there, spinners and progress bars show nothing until
    the command ends, and a hung job looked like a slow one."""
    if not console.is_terminal:
        console.print(f"{_time_stamp(console)}{message}", markup=False, highlight=False, soft_wrap=True)


def _time_stamp(where: Console) -> str:
    """``2026-01-01 06:00:12 `` where ``where`` is not a terminal (a log file), else "": the time a
    line of a log was printed, as :func:`log` and :func:`warn` give it."""
    if where.is_terminal:
        return ""
    from datetime import datetime

    return f"{datetime.now():%Y-%m-%d %H:%M:%S} "


@contextlib.contextmanager
def working(text: str) -> Iterator[None]:
    """A long step that prints nothing of its own (reading and validating the data: 41 to 87 s at a
    million customers): a spinner saying ``text…`` while it runs in a terminal, and in a scheduler's
    log the timestamped line of :func:`log` as it starts."""
    log(text)
    with console.status(f"{text}…"):
        yield


def start_spark(master: str | None) -> Any:
    """The Spark session of an ``--engine spark`` command, started as a stage of its own
    (:func:`working`, ``Starting Spark``): the JVM takes tens of seconds to start, which the log
    counted as reading and validating the data. Instant when a session runs already."""
    from churnml import spark as churn_spark

    with working("Starting Spark"):
        return churn_spark.spark_session(master)


def warn(message: str) -> None:
    """``Warning: …`` on stderr: the run goes on, but its result needs a second look. Where stderr is
    not a terminal (a scheduler's log) the line starts with the time, as :func:`log`'s do: a warning
    in a 40-minute job's log said nothing of when in it it came (reading the data, tuning, scoring)."""
    err_console.print(f"{_time_stamp(err_console)}[bold yellow]Warning:[/bold yellow] {escape(without_credentials(message))}",
                      markup=True, highlight=False, soft_wrap=True)


def _os_error_message(exc: OSError) -> str:
    """An OSError as a sentence: what failed on which path, and what to check."""
    if exc.errno == errno.EADDRINUSE:
        return f"{exc.strerror}: another program listens on that port. Pick another --port, or stop the other program."
    what = exc.strerror or str(exc)
    where = f" ({exc.filename})" if exc.filename else ""
    hints = {
        errno.EACCES: "Check the permissions of that folder, or choose another path.",
        errno.EROFS: "Choose a writable location.",
        errno.ENOSPC: "Free some space, or choose another location.",
        errno.EFBIG: "The file would pass the largest size this process may write (ulimit -f) or the file system holds; "
                     "raise that limit, or choose another location.",
        errno.EISDIR: "Give a file name, not a folder.",
        errno.ENOTDIR: "A part of that path is a file, not a folder.",
        errno.EEXIST: "Something is already there; choose another path.",
        errno.ENOENT: "Check that the folder exists.",
    }
    return f"{what}{where}. {hints.get(exc.errno, 'Check the path.')}"


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
    # A tracking server that drops out once it has answered (tracking._first_contact reports one
    # that refuses the first request at once): MLflow's own defaults (7 retries with doubling
    # waits, 120 s timeouts) kept `churnml models` silent for minutes. About 15 s, then an Error.
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "3")
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "30")
    for name in ("mlflow", "alembic", "optuna", "py4j", "bentoml"):
        logging.getLogger(name).setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", module="optuna")
    warnings.filterwarnings("ignore", message=".*pickle or cloudpickle.*")
    # Raised when PySpark is imported; docs/spark.md says what was checked (Arrow transfers work).
    warnings.filterwarnings("ignore", message=r"PySpark does not yet fully support pandas", category=FutureWarning)


def main() -> None:
    """Console-script entry point."""
    # From the start: while churnml imported its commands (about 2 s, before a command's own handling),
    # Ctrl-C printed a 20-55 line traceback, and a scheduler's SIGTERM ended the process without a word.
    _handle_signals()
    command_line[:] = ["churnml", *sys.argv[1:]]
    try:
        _quiet_libraries()
        _register_commands()
        app()  # ends in SystemExit, with the command's exit code
    except KeyboardInterrupt as exc:  # not yet in a command, which stops itself (command)
        if os.environ.get("CHURNML_DEBUG"):
            raise
        sys.exit(_stopped(exc).exit_code)
    except SystemExit as exc:
        # While Typer builds the commands and reads the command line (0.2-0.3 s before a command runs), it
        # turns a signal's KeyboardInterrupt into a silent exit 130, a scheduler's SIGTERM included.
        stop = getattr(exc.__context__, "__cause__", None)
        if isinstance(stop, KeyboardInterrupt) and not os.environ.get("CHURNML_DEBUG"):
            sys.exit(_stopped(stop).exit_code)
        raise
    finally:
        _exit_without_collecting()


def _exit_without_collecting() -> None:
    """Let the process end soon after the command's last line: its output is flushed, and the
    garbage collector is told to leave the objects the command made alone.

    At exit Python runs full garbage collections over everything still alive: after `score` on
    100,000 customers that took 1.5-3.4 s past the closing lines, a window in which the job looked
    done but had not ended, and a SIGTERM turned a complete run into exit 143. :func:`gc.freeze`
    moves those objects out of the collector's reach; memory goes back to the system with the
    process all the same. The exit code is the command's (the SystemExit passes through), and
    output files are already whole: each is written, closed and renamed inside the command.
    Only here, at the process's end: commands run in-process (tests, a notebook) keep a working
    collector."""
    import gc

    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):  # a closed or broken pipe: nothing more to say there
            stream.flush()
    gc.freeze()


def get_app() -> typer.Typer:
    """The fully registered app (for tests with ``typer.testing.CliRunner``)."""
    _register_commands()
    return app


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
