"""Errors a user can cause and fix.

Every error that reaches a user derives from :class:`ChurnmlError`. It carries a message that says
what is wrong and how to fix it, the CLI exit code, and the HTTP status the API answers with.
Anything else escaping the library is a bug, and shows as one.
"""

from __future__ import annotations

import re

_CREDENTIALS = re.compile(r"\b([A-Za-z][A-Za-z0-9+.\-]*://[^\s/@:]*):[^\s/@]*@")


def without_credentials(text: str) -> str:
    """``text`` with the password of every URI in it masked: ``postgresql://churn:***@db/mlflow``.

    A tracking URI such as ``http://user:password@mlflow:5000`` is quoted by the messages that
    name the store; they reach terminals, CI logs and the server's log, the password must not.
    """
    return _CREDENTIALS.sub(r"\1:***@", text)


class ChurnmlError(Exception):
    """Base class: a user-facing error with a fix in its message.

    Parameters
    ----------
    message : str
        What went wrong and what to do about it, in one or two sentences.
    """

    exit_code: int = 2
    http_status: int = 400

    def __init__(self, message: str) -> None:
        message = without_credentials(message)
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class ConfigError(ChurnmlError):
    """The config file or a command-line option is invalid."""


class DataError(ChurnmlError):
    """Input data breaks the data contract in a way that cannot be set aside row by row."""


class SourceBusyError(DataError):
    """A DuckDB data file another process holds open for writing (a nightly loader still running):
    exit code 75, as :class:`StoreUnavailableError`, so a scheduler retries the job rather than
    reading it as a mistake to fix."""

    exit_code = 75
    http_status = 503


class OutputBusyError(ChurnmlError):
    """Another process is writing the same output now (a scheduler's retry overlapping a slow
    `churnml score` on the same --out): exit code 75, as :class:`StoreUnavailableError`, so the
    scheduler runs the job again later rather than reading it as a mistake to fix."""

    exit_code = 75
    http_status = 503


class ProblemError(ChurnmlError):
    """The prediction problem cannot be set up (too few cutoffs, empty population, one class only)."""


class ModelNotFoundError(ChurnmlError):
    """No registered model carries the requested alias or version."""

    http_status = 503


class StoreUnavailableError(ChurnmlError):
    """The MLflow store cannot be used now but may be later (a tracking server that is not
    running): exit code 75, EX_TEMPFAIL in sysexits.h, so a scheduler retries the job."""

    exit_code = 75
    http_status = 503


class NotFittedError(ChurnmlError, AttributeError):
    """An estimator was used before ``fit``."""

    exit_code = 1


class DriftError(ChurnmlError):
    """``--fail-on-drift`` was given and the scored population drifted from the training data
    (PSI above ``[monitoring] psi_threshold``) or the model is older than ``max_model_age_days``."""

    exit_code = 3
    http_status = 409


class QuarantineError(ChurnmlError):
    """``--strict`` was given and some rows were set aside or kept without a value."""

    exit_code = 1
