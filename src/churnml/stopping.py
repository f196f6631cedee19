"""Ctrl-C and SIGTERM as exceptions raised where the program is, so that a stop runs the same
cleanup as an error: temporary files are removed and nothing is left half-written.

Apart from :mod:`churnml.cli`, which loads Typer and Rich (about 0.1 s), so that the ``churnml``
program installs the handlers before anything else loads (:func:`churnml.__main__.main`). Imports
only the standard library.
"""

from __future__ import annotations

import shlex
import signal
import sys
from typing import Any


class Terminated(KeyboardInterrupt):
    """SIGTERM (a scheduler stopping the job), raised where the program is, like Ctrl-C, so the
    same cleanup runs: temporary files are removed and nothing is left half-written."""


class Interrupted(KeyboardInterrupt):
    """Ctrl-C (SIGINT), raised where the program is. A KeyboardInterrupt of its own type: Python
    marks a plain one that leaves code run by ``exec``/``eval`` of a string as never handled, even
    once churnml has caught it, and ``python -m churnml`` then ended by SIGINT (-2 to a scheduler
    calling it from Python) after printing "Interrupted." instead of exiting 130. Libraries run such
    code as they are imported (scipy.stats and dataclasses build methods so), and `score` imports
    them while it runs: 10 of 60 runs given Ctrl-C 1.6-3.2 s in ended so."""


received: list[int] = []
"""Signals received while a command runs. DuckDB turns the KeyboardInterrupt a handler raises
during a query into ``RuntimeError("Query interrupted")``; this says what stopped it."""


stopping: list[bool] = [False]
"""Set while a command stops: a signal's handler then only records the signal (the same signal
reaches it after the watcher thread of :mod:`churnml.cli` already stopped the query, and raising
again would cut the stop message short). Cleared when the command returns."""


def _terminate(signum: int, frame: Any) -> None:
    received.append(signum)
    if not stopping[0]:
        raise Terminated()


def _interrupt(signum: int, frame: Any) -> None:
    received.append(signum)
    if not stopping[0]:
        raise Interrupted()


def handle_signals() -> None:
    """Ctrl-C and SIGTERM raise where the program is (SIGTERM as :class:`Terminated`), so that both
    stop as cleanly; a handler someone else set (a notebook's, a test runner's) is left in place.
    Call from the main thread only: Python runs handlers there alone."""
    if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
        signal.signal(signal.SIGTERM, _terminate)
    if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
        signal.signal(signal.SIGINT, _interrupt)


command_line: list[str] = []
"""``churnml`` and its arguments, set where the program starts (``churnml``, ``python -m churnml``);
empty where commands run in-process (tests, a notebook)."""


def run_again(terminal: bool) -> str:
    """`` To run it again: churnml score …``, ending a message that stops a run a retry can finish (exit
    75, 130, 143), unless stderr is a ``terminal``: a job's log (`churnml … >> job.log 2>&1`) did not say
    which of the job's commands had stopped, nor with what arguments; a terminal has its history."""
    if not command_line or terminal:
        return ""
    return f" To run it again: {shlex.join(command_line)}"


def stop_message(exc: BaseException) -> tuple[str, int]:
    """What a stop says on stderr, and its exit code: 143 for SIGTERM, 130 for Ctrl-C. DuckDB hands
    a handler's :class:`Terminated` back as a plain KeyboardInterrupt or its own error, so the last
    signal received says which it was."""
    terminated = isinstance(exc, Terminated) or (bool(received) and received[-1] == signal.SIGTERM)
    how = "Stopped (SIGTERM)" if terminated else "Interrupted"
    return (f"{how}. Files are written whole or not at all, so no output was left half-written."
            + run_again(sys.stderr.isatty()), 143 if terminated else 130)
