"""MLflow: the only module that imports it. Runs, artifacts, the model registry and aliases.

Store
-----
:func:`tracking_uri` is ``MLFLOW_TRACKING_URI`` when set, else ``sqlite:///<cwd>/mlruns/mlflow.db``.
With a local SQLite store the experiment's artifacts go to ``mlruns/artifacts`` next to the
database (MLflow 3 no longer accepts a plain ``./mlruns`` file store). Nothing happens at import;
the folder is made on first write. A tracking server (``http(s)://``) is asked once without retries
when a process first uses it (:func:`_first_contact`): one that is not running is reported at
once; after that, MLflow retries what fails.

Runs
----
One parent run per ``train`` (:func:`start_training_run`), one nested run per Optuna trial
(:meth:`TrainingRun.trial_callback`). The parent run holds params, metrics of models and baselines,
plots, ``features.json``, ``config.json`` (the config the run applied), and ``metadata.json`` — what scoring and the API need: as-of date,
horizon, cutoffs, feature names and specs, test metrics, grade, and reference statistics of the
features at the test cutoff for drift checks.

Registry
--------
Models are registered as :data:`CHURN_MODEL_NAME` and :data:`VALUE_MODEL_NAME`. A new version gets
the alias ``challenger``; :func:`set_alias` moves ``champion`` (the training pipeline decides when,
see :mod:`churnml.train`). :func:`load_models` loads the pair behind an alias.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping

import mlflow
import mlflow.sklearn
import pandas as pd
from mlflow.entities import Metric, Param
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from churnml.errors import ConfigError, ModelNotFoundError, StoreUnavailableError
from churnml.io import HOST, code_version, file_lock, process_running

# MLflow draws a tqdm bar on stderr for every artifact it downloads: in a scheduler's log file, a
# line of carriage returns before each command's own output. Loading models shows nothing then.
os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")

EXPERIMENT_NAME = "churnml"
CHURN_MODEL_NAME = "churnml-churn"
VALUE_MODEL_NAME = "churnml-value"
MODEL_NAMES = (CHURN_MODEL_NAME, VALUE_MODEL_NAME)
CHAMPION = "champion"
CHALLENGER = "challenger"
METADATA_FILE = "metadata.json"
MONITORING_REFERENCE_FILE = "monitoring_reference.json"
"""Training-feature and test-score statistics for drift checks (:mod:`churnml.monitoring`)."""
REPORT_DATA_FILE = "report/report_data.json"
"""Test-cutoff sample, reasons and data summary that ``churnml report`` draws a run's report from."""
KEY_METRICS = ("churn_model_roc_auc", "churn_model_ece", "churn_test_ece_recalibrated", "churn_model_emp",
               "value_model_normalized_gini", "value_if_retained_normalized_gini", "value_model_top20_value_capture")
"""Run metrics shown by ``churnml models``."""


def tracking_uri() -> str:
    """``MLFLOW_TRACKING_URI`` if set, else ``sqlite:///<absolute cwd>/mlruns/mlflow.db``.

    A relative SQLite path (``sqlite:///demo_out/mlruns/mlflow.db``) is made absolute from the
    working directory: ``churnml serve`` hands the URI to a server that runs in ``serving/``.
    """
    uri = os.environ.get("MLFLOW_TRACKING_URI")
    if not uri:
        return f"sqlite:///{Path.cwd().resolve() / 'mlruns' / 'mlflow.db'}"
    database = _sqlite_database(uri)
    if database is not None and not database.is_absolute() and str(database) != ":memory:":
        return f"sqlite:///{Path.cwd().resolve() / database}"
    return uri


def _sqlite_database(uri: str) -> Path | None:
    """The database file of a ``sqlite:///`` URI; None for any other store."""
    return Path(uri[len("sqlite:///"):]) if uri.startswith("sqlite:///") else None


def store_dir() -> Path:
    """Local folder for files beside the tracking store (Optuna database, artifacts).

    The folder of the SQLite database for a ``sqlite:///`` URI, else ``./mlruns``.
    """
    database = _sqlite_database(tracking_uri())
    return database.resolve().parent if database is not None else (Path.cwd() / "mlruns").resolve()


def _client(create: bool = False) -> MlflowClient:
    """A client on :func:`tracking_uri`. Only training (``create``) makes a missing SQLite store:
    reading one that is not there is a mistyped path or a folder without training, not an empty
    registry to report."""
    uri = tracking_uri()
    database = _sqlite_database(uri)
    if database is not None:
        if create:
            store_dir().mkdir(parents=True, exist_ok=True)
        elif not database.is_file():
            source = "MLFLOW_TRACKING_URI" if os.environ.get("MLFLOW_TRACKING_URI") else "the default, ./mlruns/mlflow.db"
            raise ModelNotFoundError(
                f"There is no MLflow store at {database} ({source}). Train models first with `churnml train`, or "
                "point MLFLOW_TRACKING_URI at the store that has them (e.g. sqlite:////path/to/mlruns/mlflow.db)."
            )
        if database.is_file() and not os.access(database, os.R_OK):  # SQLite said "unable to open database file", with a traceback
            raise ConfigError(
                f"The MLflow store {database} cannot be read by this account (permission denied). Give it read access "
                "(and write access to the file and its folder for `churnml train` and `churnml promote`), or run the "
                "command as the account that owns the store."
            )
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    if uri in _ready:
        return MlflowClient(tracking_uri=uri, registry_uri=uri)
    if database is None:
        _first_contact(uri)
        _ready.add(uri)
        return MlflowClient(tracking_uri=uri, registry_uri=uri)
    # MLflow creates or upgrades the SQLite schema when a process first opens the store: two
    # commands starting together on a new store both did, one failed ("table alembic_version
    # already exists"), and once a half-made upgrade left every later command failing. One
    # process at a time, then; the others find the schema made.
    with _store_lock(database.parent):
        client = MlflowClient(tracking_uri=uri, registry_uri=uri)
        client.search_registered_models(max_results=1)  # the registry's store, made on first use
    _ready.add(uri)
    return client


_ready: set[str] = set()
"""Stores this process has opened: a SQLite store's schema is made, a tracking server was reached."""


FIRST_CONTACT_TIMEOUT = 5
"""Seconds the first request to a tracking server waits for a connection and an answer."""


def _first_contact(uri: str) -> None:
    """One request to the tracking server at ``uri`` before the first real one, without MLflow's retries.

    MLflow retries a request that cannot connect (``MLFLOW_HTTP_REQUEST_MAX_RETRIES`` times, with
    doubling waits of ``MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR``): right for a server that drops out in
    the middle of a long training, but a server that was not running at all kept `churnml models`
    17 s and `train` 33 s waiting for what the first refused connection had said. A refused
    connection here is reported at once (:class:`StoreUnavailableError`, exit 75), and a host name
    that DNS does not know as the mistake it is (:class:`ConfigError`, exit 2; it was exit 75, "retry
    later", as if it were temporary); an answer of any kind, a timeout or another failure leaves the
    requests that follow to MLflow's retries.
    """
    if not uri.lower().startswith(("http://", "https://")):
        return  # databricks, a database URI: MLflow's own client connects as it does
    from mlflow.utils.credentials import get_default_host_creds
    from mlflow.utils.rest_utils import http_request

    try:
        http_request(get_default_host_creds(uri), "/api/2.0/mlflow/experiments/get-by-name", "GET",
                     max_retries=0, timeout=FIRST_CONTACT_TIMEOUT, params={"experiment_name": EXPERIMENT_NAME})
    except Exception as exc:
        unknown_host = _unknown_host(exc, uri)
        if unknown_host:
            raise ConfigError(
                f"The host name {unknown_host} in MLFLOW_TRACKING_URI ({uri}) does not resolve: there is no such host. "
                "Correct the host name in MLFLOW_TRACKING_URI (a typo?), or unset it to use the local store "
                "./mlruns/mlflow.db."
            ) from None
        if _caused_by(exc, ConnectionRefusedError):
            host, port = _host_port(uri)
            raise StoreUnavailableError(
                f"The MLflow tracking server {uri} (MLFLOW_TRACKING_URI) refused the connection: nothing listens on "
                f"{host}:{port}. Start the server there (e.g. `mlflow server --host {host} --port {port}`) and run "
                "the command again (exit code 75 means: retry later), or set MLFLOW_TRACKING_URI to the server's "
                "address (unset, churnml uses the local store ./mlruns/mlflow.db)."
            ) from None


def _unknown_host(exc: BaseException, uri: str) -> str | None:
    """The host name of ``uri`` when ``exc`` comes from looking it up and DNS says there is no such
    host: a configuration mistake, not a server that is down. None otherwise, and for a lookup that
    failed for now (no DNS server answered: EAI_AGAIN), which may work on the next try."""
    import socket

    if _caused_by(exc, socket.gaierror) is None:
        return None
    host, port = _host_port(uri)
    try:
        socket.getaddrinfo(host, port)  # the server's own name, not that of a proxy in between
    except socket.gaierror as lookup:
        if lookup.errno in (socket.EAI_NONAME, getattr(socket, "EAI_NODATA", socket.EAI_NONAME)):
            return host
    return None


def _caused_by(exc: BaseException, kind: type[BaseException] | tuple[type[BaseException], ...]) -> BaseException | None:
    """The first exception of ``kind`` in ``exc``'s chain of causes, or None."""
    seen: set[int] = set()
    cause: BaseException | None = exc
    while cause is not None and id(cause) not in seen:
        if isinstance(cause, kind):
            return cause
        seen.add(id(cause))
        cause = cause.__cause__ or cause.__context__
    return None


def _host_port(uri: str) -> tuple[str, int]:
    """Host name and port of an ``http(s)://`` URI (the scheme's port when it names none)."""
    from urllib.parse import urlsplit

    parts = urlsplit(uri)
    try:
        port = parts.port
    except ValueError:
        port = None
    return parts.hostname or "", port or (443 if parts.scheme.lower() == "https" else 80)


def _store_lock(folder: Path, name: str = ".churnml.lock", on_wait: Callable[[], None] | None = None,
                remove: bool = False) -> contextlib.AbstractContextManager[None]:
    """An exclusive lock on ``folder/name`` between processes (:func:`churnml.io.file_lock`)."""
    return file_lock(Path(folder) / name, on_wait, remove)


def study_lock(study: str, on_wait: Callable[[], None] | None = None) -> contextlib.AbstractContextManager[None]:
    """Held while a run tunes the Optuna study ``study`` (a file beside the store's Optuna database).

    Two trains of the same inputs at once both added trials to the one study: it ended with 4
    where 2 were asked, the second run's models came from the best of 4, and every later run on
    those inputs read the 4. The second now waits, then finds the study done and tunes nothing.
    Its own file, not the store's lock: tuning takes minutes to hours, and other commands take
    the store's lock when they first open it. ``on_wait`` is called when it has to wait: for
    minutes to hours the second train showed nothing at all. The file is removed on release (one
    was left per study for good)."""
    folder = store_dir()
    folder.mkdir(parents=True, exist_ok=True)
    return _store_lock(folder, f".study-{study}.lock", on_wait, remove=True)


def store_exists() -> bool:
    """Whether the tracking store is there to read (a remote server counts as there)."""
    database = _sqlite_database(tracking_uri())
    return database is None or database.is_file()


def check_store() -> None:
    """Open an existing SQLite store as training will, so that one this MLflow cannot use is
    refused before the data is read and the training set built, not after.

    MLflow checks the schema when it opens a store: churnml reinstalled with a newer MLflow finds
    the store an older one made out of date (``mlflow db upgrade`` migrates it), and ``train``
    said so only once the baselines were fitted, minutes or hours in. A tracking server is reached
    once (:func:`_first_contact`): one that is not running is reported before the data too.
    """
    uri = tracking_uri()
    if (_sqlite_database(uri) is not None and store_exists()) or uri.lower().startswith(("http://", "https://")):
        _client()


def _experiment_id(client: MlflowClient) -> str:
    experiment = client.get_experiment_by_name(EXPERIMENT_NAME)
    if experiment is not None:
        _follow_moved_store(experiment)
        return experiment.experiment_id
    artifact_location = None
    if tracking_uri().startswith("sqlite:///"):
        artifact_location = (store_dir() / "artifacts").as_uri()
    return client.create_experiment(EXPERIMENT_NAME, artifact_location=artifact_location)


def _follow_moved_store(experiment: Any) -> None:
    """Point a moved or copied SQLite store's experiment at its own ``artifacts`` folder.

    The root is recorded as an absolute path when the experiment is made. After the store has
    been moved, new runs would recreate the old path and write there; after a copy, into the
    original store's folder. MLflow has no call to change an experiment's artifact location, so
    this updates the ``experiments`` table of the SQLite store itself (the column MLflow reads
    it from), when the root is another store's ``artifacts`` folder.
    """
    database, own = _sqlite_database(tracking_uri()), store_dir() / "artifacts"
    root = (experiment.artifact_location or "").rstrip("/")
    # churnml made the root as <store>/artifacts; another store's (a copy's original, still
    # there or not) is never written to. A root laid out otherwise was chosen by someone: kept.
    if (database is None or not root.startswith("file:") or root == own.as_uri()
            or Path(_local_path(root)).name != "artifacts"):
        return
    import sqlite3

    with contextlib.closing(sqlite3.connect(database)) as db, db:
        db.execute("UPDATE experiments SET artifact_location = ? WHERE experiment_id = ?",
                   (own.as_uri(), int(experiment.experiment_id)))


def _flat(prefix: str, values: Mapping[str, Any]) -> dict[str, Any]:
    return {f"{prefix}{k}": v for k, v in values.items()}


@dataclass
class TrainingRun:
    """Handle on the active parent run of one ``train``."""

    run_id: str
    experiment_id: str
    client: MlflowClient = field(repr=False)

    def log_params(self, params: Mapping[str, Any]) -> None:
        """Log params (values are stringified; long values are cut to MLflow's 6000 characters)."""
        items = [Param(str(k), str(v)[:6000]) for k, v in params.items()]
        for start in range(0, len(items), 100):
            self.client.log_batch(self.run_id, params=items[start:start + 100])

    def log_metrics(self, metrics: Mapping[str, float], prefix: str = "") -> None:
        """Log finite metrics under ``prefix + name``."""
        timestamp = int(pd.Timestamp.now().timestamp() * 1000)
        items = [Metric(f"{prefix}{k}", float(v), timestamp, 0) for k, v in metrics.items() if v is not None and pd.notna(v)]
        for start in range(0, len(items), 500):
            self.client.log_batch(self.run_id, metrics=items[start:start + 500])

    def set_tags(self, tags: Mapping[str, Any]) -> None:
        for key, value in tags.items():
            self.client.set_tag(self.run_id, key, str(value))

    def log_dict(self, obj: Any, artifact_file: str) -> None:
        """Log a JSON-ready object as an artifact file."""
        self.client.log_dict(self.run_id, obj, artifact_file)

    def log_figure(self, figure: Any, artifact_file: str) -> None:
        """Log a matplotlib figure (or the figure of an ``Axes``) as a PNG artifact."""
        figure = getattr(figure, "figure", figure)
        self.client.log_figure(self.run_id, figure, artifact_file)

    def trial_callback(self, kind: str) -> Callable[[Any, Any], None]:
        """An Optuna callback logging each finished trial as a nested run of this run."""

        def callback(study: Any, trial: Any) -> None:
            run = self.client.create_run(
                self.experiment_id,
                run_name=f"{kind}-trial-{trial.number}",
                tags={"mlflow.parentRunId": self.run_id, "churnml.kind": kind, "optuna.study": study.study_name, "optuna.state": trial.state.name},
            )
            metrics = {"validation_score": trial.value} if trial.value is not None else {}
            if trial.intermediate_values:
                last_step = max(trial.intermediate_values)
                metrics["last_reported_score"] = trial.intermediate_values[last_step]
                metrics["last_reported_round"] = last_step
            timestamp = int(pd.Timestamp.now().timestamp() * 1000)
            self.client.log_batch(
                run.info.run_id,
                metrics=[Metric(k, float(v), timestamp, 0) for k, v in metrics.items()],
                params=[Param(k, str(v)) for k, v in {**trial.params, "trial_number": trial.number}.items()],
            )
            status = {"COMPLETE": "FINISHED", "PRUNED": "KILLED"}.get(trial.state.name, "FAILED")
            self.client.set_terminated(run.info.run_id, status=status)

        return callback

    def log_models(
        self,
        churn_model: Any,
        value_model: Any,
        input_example: pd.DataFrame,
        metadata: Mapping[str, Any],
        inputs: str | None = None,
    ) -> tuple[str, str]:
        """Log both models with signature and input example, register them, tag ``challenger``.

        ``inputs`` (:func:`churnml.train.inputs_digest`) tags the new versions as :data:`INPUTS_TAG`,
        for :func:`identical_versions` to find.

        Returns
        -------
        (str, str)
            The new churn and value model versions.
        """
        from mlflow.models import infer_signature

        example = _signature_frame(input_example)
        self.log_dict(dict(metadata), METADATA_FILE)
        versions = []
        for name, model, artifact in ((CHURN_MODEL_NAME, churn_model, "churn_model"), (VALUE_MODEL_NAME, value_model, "value_model")):
            signature = infer_signature(example, model.predict(input_example))
            # MLflow prints "Successfully registered model …" straight to stderr; the caller reports
            # the versions itself, so keep the terminal to that.
            with contextlib.redirect_stderr(io.StringIO()):
                info = mlflow.sklearn.log_model(
                    model,
                    name=artifact,
                    signature=signature,
                    input_example=example,
                    registered_model_name=name,
                    pip_requirements=model_requirements(),
                    serialization_format="cloudpickle",
                )
            version = str(info.registered_model_version)
            self.client.set_model_version_tag(name, version, "churnml.run_id", self.run_id)
            if inputs:
                self.client.set_model_version_tag(name, version, INPUTS_TAG, inputs)
            self.client.set_registered_model_alias(name, CHALLENGER, version)
            versions.append(version)
        return versions[0], versions[1]


INPUTS_TAG = "churnml.inputs"
"""Tag of a training run and of the versions it registered: the digest of everything that decides
the models (data fingerprint, as-of date, config, code, seed; :func:`churnml.train.inputs_digest`)."""


def identical_versions(inputs: str) -> tuple[str, str] | None:
    """The newest churn and value versions one run registered from these ``inputs``, or None.

    Versions registered before the tag existed carry none, and are never found."""
    client = _client()
    found: dict[str, dict[str, str]] = {}
    for name in MODEL_NAMES:
        try:
            versions = client.search_model_versions(f"name = '{name}'")
        except MlflowException as exc:
            if exc.error_code == "RESOURCE_DOES_NOT_EXIST":
                return None
            raise
        found[name] = {v.run_id: str(v.version) for v in sorted(versions, key=lambda v: int(v.version))
                       if (v.tags or {}).get(INPUTS_TAG) == inputs}
    pairs = [(churn, found[VALUE_MODEL_NAME][run]) for run, churn in found[CHURN_MODEL_NAME].items()
             if run in found[VALUE_MODEL_NAME]]
    return max(pairs, key=lambda pair: int(pair[0])) if pairs else None


def _signature_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """Categoricals as strings: MLflow schemas have no category type."""
    frame = frame.copy()
    for column in frame.columns:
        if isinstance(frame[column].dtype, pd.CategoricalDtype):
            frame[column] = frame[column].astype(object).where(frame[column].notna(), None)
    return frame


def model_requirements() -> list[str]:
    """The pinned versions of the libraries a logged model needs to load and predict; also an
    input of :func:`churnml.train.inputs_digest` (another LightGBM makes other trees)."""
    from importlib.metadata import version

    return [f"{package}=={version(package)}" for package in ("lightgbm", "scikit-learn", "pandas", "numpy", "cloudpickle")]


@contextmanager
def start_training_run(run_name: str, tags: Mapping[str, Any] | None = None,
                       code: Mapping[str, Any] | None = None) -> Iterator[TrainingRun]:
    """Open the parent run of one ``train``; it ends FINISHED, or FAILED on an exception.

    Tagged with the code that runs, ``code`` (:func:`churnml.io.code_version`, read now when not
    given): ``churnml.version`` and, from a git checkout, ``mlflow.source.git.commit`` (the MLflow
    UI shows it) and ``churnml.git_dirty``.

    Example
    -------
    >>> with start_training_run("train 2024-06-30") as run:  # doctest: +SKIP
    ...     run.log_metrics({"churn_model_roc_auc": 0.81})
    """
    client = _client(create=True)
    experiment_id = _experiment_id(client)
    _end_abandoned_runs(client, experiment_id)
    code = code_version() if code is None else code
    code_tags = {"churnml.version": code["churnml"]}
    if "git_commit" in code:
        code_tags.update({GIT_COMMIT_TAG: code["git_commit"], "churnml.git_dirty": str(code["git_dirty"]).lower()})
    tags = {**code_tags, **(tags or {}), OWNER_TAG: f"{HOST}:{os.getpid()}"}
    with mlflow.start_run(experiment_id=experiment_id, run_name=run_name, tags=tags) as active:
        yield TrainingRun(active.info.run_id, experiment_id, client)


GIT_COMMIT_TAG = "mlflow.source.git.commit"
"""MLflow's own tag for the commit of the code (its UI shows it); set from churnml's checkout."""
OWNER_TAG = "churnml.process"
"""``host:pid`` of the process that runs a training run."""


def _end_abandoned_runs(client: MlflowClient, experiment_id: str) -> None:
    """Mark KILLED the runs still RUNNING whose process, on this host, is gone (``kill -9``, out of
    memory, a reboot): MLflow only ends a run from inside its process, so they showed as running
    forever. Runs of other hosts and of live processes are left alone."""
    with contextlib.suppress(MlflowException):
        for run in client.search_runs([experiment_id], filter_string="attributes.status = 'RUNNING'", max_results=1000):
            host, _, pid = run.data.tags.get(OWNER_TAG, "").rpartition(":")
            if host == HOST and pid.isdigit() and not process_running(int(pid)):
                client.set_tag(run.info.run_id, "churnml.ended", "its process was gone; marked KILLED by the next train")
                client.set_terminated(run.info.run_id, status="KILLED")


VALUE_RUN_KEYS = ("as_of", "cutoffs", "grades", "test_metrics")
"""What :func:`load_models` keeps of the value model's run when it is not the churn model's (its
``cutoffs``: the earliest as-of date scoring takes is the later of the two models' first,
:func:`churnml.labels.first_training_cutoff`)."""


@dataclass(frozen=True)
class LoadedModels:
    """The churn and value models behind an alias, with what scoring needs to use them.

    Attributes
    ----------
    churn, value
        The fitted :class:`churnml.models.ChurnModel` and :class:`churnml.models.ValueModel`.
    churn_version, value_version : str
        Registry versions.
    run_id : str
        The training run of the churn model (holds ``metadata.json``).
    metadata : dict
        ``metadata.json`` of that run: ``as_of``, ``horizon_days``, ``cutoffs``, ``feature_names``,
        ``categorical_features``, ``specs``, ``test_metrics``, ``grade``, ``grades``,
        ``feature_reference`` (per-feature training statistics for drift), ``data_fingerprint``,
        ``seed``, ``best_params``; plus ``value_run_id``, and when the value model comes from
        another run, ``value_problem`` and ``value_run`` (that run's :data:`VALUE_RUN_KEYS`).
    """

    churn: Any
    value: Any
    churn_version: str
    value_version: str
    run_id: str
    metadata: dict

    @property
    def monitoring_reference(self) -> dict | None:
        """The training run's drift reference (:func:`churnml.monitoring.reference_statistics`), if any.

        It comes from the churn model's run. When the value model was promoted from another run,
        that run's ``predicted_value`` distribution describes a different model, so it is left out
        (comparing with it raised drift alarms on unchanged customers).
        """
        reference = self.metadata.get("monitoring_reference")
        if reference and self.metadata.get("value_run_id", self.run_id) != self.run_id:
            reference = {**reference, "scores": {k: v for k, v in reference.get("scores", {}).items() if k != "predicted_value"}}
        return reference


def unreachable(exc: BaseException) -> bool:
    """Whether ``exc`` (an MLflow error) comes from a tracking server that could not be reached:
    refused, reset or timed out, after MLflow's own retries. MLflow wraps the connection error in
    an ``MlflowException`` as it wraps "no such model", so the cause is looked for."""
    import requests

    return _caused_by(exc, (requests.exceptions.ConnectionError, requests.exceptions.Timeout)) is not None


def _version_for(client: MlflowClient, name: str, alias_or_version: str) -> Any:
    # "v2" as churnml prints versions is version 2 (MLflow reserves aliases of that form).
    if re.fullmatch(r"[vV]\d+", str(alias_or_version)):
        alias_or_version = str(alias_or_version)[1:]
    try:
        if str(alias_or_version).isdigit():
            return client.get_model_version(name, str(alias_or_version))
        return client.get_model_version_by_alias(name, alias_or_version)
    except MlflowException as exc:
        if unreachable(exc):  # a server that is down says nothing about which models it has
            raise
        what = f"version {alias_or_version}" if str(alias_or_version).isdigit() else f"alias {alias_or_version!r}"
        hint = "Run `churnml train` first, or list versions with `churnml models`."
        if not str(alias_or_version).isdigit():
            try:
                versions = client.search_model_versions(f"name = '{name}'")
            except MlflowException:
                versions = []
            if versions:
                # Trains that were not promoted (chance-level or leaky models) leave versions without the alias.
                hint = (f"{len(versions)} version(s) are registered but none has it: `churnml models` lists them "
                        f"with their metrics, `churnml promote {name} VERSION` gives it to one.")
        raise ModelNotFoundError(f"No registered model {name} with {what} in {tracking_uri()}. {hint}") from None


def load_run_metadata(run_id: str) -> dict:
    """``metadata.json`` of a training run."""
    with tempfile.TemporaryDirectory() as tmp:
        return json.loads(_download(run_id, METADATA_FILE, tmp).read_text(encoding="utf-8"))


# A SQLite store records its artifacts' absolute location: the experiment's root
# (``<store>/artifacts`` when it was made) and each run's and model's folder under it. A store
# moved or copied whole (mlflow.db with artifacts/ beside it, e.g. to a serving host) still
# points at the old place. Reads fall back to the same run or model folder under this store's
# own ``artifacts``; training points the experiment at it (:func:`_experiment_id`).


def _here(uri: str) -> str | None:
    """A file URI that does not exist, found under this store's ``artifacts`` folder.

    The longest tail of the path that exists there (``<run id>/artifacts/…`` or
    ``models/<model id>/artifacts``: run and model ids are unique), or None.
    """
    if not uri.startswith("file:") or _reachable(Path(_local_path(uri))):
        return None
    parts = Path(_local_path(uri)).parts[1:]
    artifacts = store_dir() / "artifacts"
    for start in range(1, len(parts) - 1):
        moved = artifacts.joinpath(*parts[start:])
        if _reachable(moved):
            return moved.as_uri()
    return None


def _reachable(path: Path) -> bool:
    """``path`` exists for this account: a folder it may not enter hides it (``Path.exists`` raises
    there, and a store copied out of such a folder is read from the copy)."""
    try:
        return path.exists()
    except PermissionError:
        return False


def _local_path(uri: str) -> str:
    from urllib.parse import unquote, urlparse

    return unquote(urlparse(uri).path)


def _download(run_id: str, artifact_path: str, dst: str) -> Path:
    """One artifact of a run, from where the store records it or, for a moved store, from here."""
    try:
        return Path(mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path=artifact_path, dst_path=dst,
                                                        tracking_uri=tracking_uri()))
    except (MlflowException, OSError):
        moved = _here(f"{_client().get_run(run_id).info.artifact_uri.rstrip('/')}/{artifact_path}")
        if moved is None:
            raise
        return Path(_local_path(moved))


def load_models(alias: str = CHAMPION) -> LoadedModels:
    """Load the churn and value models carrying ``alias`` (or a version number).

    Parameters
    ----------
    alias : str
        ``"champion"`` (default), ``"challenger"`` or a version number.

    Returns
    -------
    LoadedModels

    Raises
    ------
    ModelNotFoundError
        When either model has no such alias/version.
    """
    client = _client()
    churn_version = _version_for(client, CHURN_MODEL_NAME, alias)
    value_version = _version_for(client, VALUE_MODEL_NAME, alias)
    churn = _load_version(client, churn_version)
    value = _load_version(client, value_version)
    try:
        metadata = load_run_metadata(churn_version.run_id)
    except (MlflowException, OSError):
        raise ModelNotFoundError(_missing_files(client, churn_version, METADATA_FILE)) from None
    metadata["value_run_id"] = value_version.run_id
    if value_version.run_id != churn_version.run_id:
        # The value model's own problem definition (a rollback of one model pairs two runs): what
        # it predicts, which scoring checks as it checks the churn model's; and how it was graded,
        # which /model reports for it (the churn run's value metrics describe another model).
        with contextlib.suppress(MlflowException, OSError):
            value_metadata = load_run_metadata(value_version.run_id)
            metadata["value_problem"] = value_metadata.get("problem")
            metadata["value_run"] = {key: value_metadata.get(key) for key in VALUE_RUN_KEYS}
    return LoadedModels(churn, value, str(churn_version.version), str(value_version.version), churn_version.run_id, metadata)


def load_model(name: str, alias_or_version: str) -> tuple[Any, str] | None:
    """One model and its version, or None when ``name`` has no such alias/version."""
    client = _client()
    try:
        version = _version_for(client, name, alias_or_version)
    except ModelNotFoundError:
        return None
    return _load_version(client, version), str(version.version)


def _load_version(client: MlflowClient, version: Any) -> Any:
    """The fitted model of a registered version; a clear error when its files are gone.

    Loaded from the version's own folder, not through ``models:/NAME/VERSION``: that route has
    MLflow write a ``registered_model_meta`` file into the model's folder in the store on every
    load (nothing reads it back), so an account that may read the store but not write to it
    could not score (permission denied, reported as missing artifacts)."""
    location = None
    try:
        location = client.get_model_version_download_uri(version.name, version.version)
        if location.startswith("models:/m-"):  # MLflow 3: a logged model's own folder
            location = client.get_logged_model(location[len("models:/"):]).artifact_location
        return mlflow.sklearn.load_model(location)
    except (MlflowException, OSError) as exc:
        # A copied store reads its models from the copy, also where the first place is closed to this account.
        moved = _here(location) if location else None
        if moved is None:
            if isinstance(exc, PermissionError):  # there, but not for this account: "copy the store" alone would not say why
                raise ModelNotFoundError(_forbidden_files(version, exc)) from None
            raise ModelNotFoundError(_missing_files(client, version, "the model")) from None
        return mlflow.sklearn.load_model(moved)


def _missing_files(client: MlflowClient, version: Any, what: str) -> str:
    """Message for a registered version whose artifacts cannot be read (a store copied without them)."""
    where = None
    with contextlib.suppress(MlflowException, AttributeError):
        where = client.get_run(version.run_id).info.artifact_uri
    return (
        f"{version.name} v{version.version} is registered in {tracking_uri()}, but {what} cannot be read"
        f"{f' from {where}' if where else ''}. {_ARTIFACTS_TRAVEL}, or set MLFLOW_TRACKING_URI to the store the models "
        "were trained in."
    )


def _forbidden_files(version: Any, exc: PermissionError) -> str:
    """Message for a registered version whose files this account may not use (they are there)."""
    where = f" ({exc.filename})" if exc.filename else ""
    return (
        f"{version.name} v{version.version} is registered in {tracking_uri()}, but this account may not read its "
        f"files: permission denied{where}. Give the account that runs churnml read permission on the store's "
        f"artifacts folder ({store_dir() / 'artifacts'}) and everything in it, or copy the whole mlruns/ folder "
        "(mlflow.db with artifacts/ beside it) to a place it may read and set MLFLOW_TRACKING_URI to the copy."
    )


_ARTIFACTS_TRAVEL = ("The artifacts must travel with the store: copy or move the whole mlruns/ folder "
                     "(mlflow.db with artifacts/ beside it)")


@dataclass(frozen=True)
class ModelVersionInfo:
    """One registered version as ``churnml models`` lists it."""

    name: str
    version: str
    aliases: tuple[str, ...]
    run_id: str
    created: pd.Timestamp
    metrics: dict[str, float]
    as_of: str | None = None
    """The as-of date the run trained at (its ``as_of`` parameter)."""
    problem: dict[str, str] = field(default_factory=dict)
    """What the run's models predict (``labels.problem_definition``) as logged: ``horizon_days``,
    ``churn``, ``margin``, ``active_days``; runs before the record have the horizon only."""

    def problem_text(self) -> str:
        """The definition in a few characters: "90d closure", "60d inactivity, margin 0.3"."""
        if "horizon_days" not in self.problem:
            return ""
        text = f"{self.problem['horizon_days']}d {self.problem.get('churn', '')}".strip()
        margin = self.problem.get("margin")
        return text + (f", margin {float(margin):g}" if margin is not None and float(margin) != 1 else "")


def list_models() -> list[ModelVersionInfo]:
    """All versions of both registered models, newest first, with aliases and key test metrics."""
    client = _client()
    rows = []
    for name in MODEL_NAMES:
        try:
            versions = client.search_model_versions(f"name = '{name}'")
            aliases = client.get_registered_model(name).aliases or {}
        except MlflowException as exc:
            if exc.error_code == "RESOURCE_DOES_NOT_EXIST":  # not registered yet
                continue
            raise  # e.g. a tracking server that does not answer: not the same as "no models"
        for version in versions:
            try:
                data = client.get_run(version.run_id).data
                run_metrics, as_of, params = data.metrics, data.params.get("as_of"), data.params
            except MlflowException:
                run_metrics, as_of, params = {}, None, {}
            rows.append(
                ModelVersionInfo(
                    name=name,
                    version=str(version.version),
                    aliases=tuple(sorted(a for a, v in aliases.items() if str(v) == str(version.version))),
                    run_id=version.run_id,
                    created=pd.Timestamp(version.creation_timestamp, unit="ms"),
                    metrics={k: run_metrics[k] for k in KEY_METRICS if k in run_metrics},
                    as_of=as_of,
                    problem={key.removeprefix("problem_"): value for key, value in params.items()
                             if key.startswith("problem_") or key == "horizon_days"},
                )
            )
    return sorted(rows, key=lambda r: (r.name, -int(r.version)))


def registry_aliases() -> dict[str, dict[str, str]]:
    """Model name -> {alias: version} as the registry has them now (a model not registered: empty).

    Two reads of the registry, no run: cheap enough for a running server to compare what it
    loaded with what the aliases point at today.
    """
    client = _client()
    aliases: dict[str, dict[str, str]] = {}
    for name in MODEL_NAMES:
        try:
            aliases[name] = {alias: str(version) for alias, version in (client.get_registered_model(name).aliases or {}).items()}
        except MlflowException as exc:
            if exc.error_code != "RESOURCE_DOES_NOT_EXIST":
                raise
            aliases[name] = {}
    return aliases


def set_alias(name: str, alias: str, version: str) -> None:
    """Point ``alias`` of ``name`` at ``version``."""
    _client().set_registered_model_alias(name, alias, str(version))


def promote(name: str, version: str) -> str:
    """Make ``version`` of ``name`` the champion by hand (also for rollback).

    ``version`` may also be an alias (``challenger``): the version carrying it is promoted.
    Returns the version number promoted.

    Raises
    ------
    ConfigError
        Unknown model name.
    ModelNotFoundError
        No such version.
    """
    if name not in MODEL_NAMES:
        raise ConfigError(f"Unknown model name {name!r}. Registered names: {', '.join(MODEL_NAMES)}.")
    client = _client()
    with promotion_lock():  # not in the middle of a train's promotion
        number = str(_version_for(client, name, str(version)).version)
        client.set_registered_model_alias(name, CHAMPION, number)
    return number


def champion_version(name: str) -> str | None:
    """The version holding ``champion`` for ``name``, or None."""
    client = _client()
    try:
        return str(client.get_model_version_by_alias(name, CHAMPION).version)
    except MlflowException:
        return None


def champion_run_id() -> str:
    """The training run of the churn model holding ``champion``.

    Raises
    ------
    ModelNotFoundError
        When there is no champion.
    """
    return str(_version_for(_client(), CHURN_MODEL_NAME, CHAMPION).run_id)


def champion_versions() -> tuple[str | None, str | None]:
    """Versions of the churn and value champions (None where a model has none)."""
    client = _client()
    versions = []
    for name in MODEL_NAMES:
        try:
            versions.append(str(_version_for(client, name, CHAMPION).version))
        except ModelNotFoundError:
            versions.append(None)
    return versions[0], versions[1]


@contextmanager
def promotion_lock() -> Iterator[None]:
    """Held while a run compares itself with the champions and moves the aliases, and by `promote`.
    A file lock beside a SQLite store; with a tracking server there is none to take, so do not
    let trains on one server overlap."""
    database = _sqlite_database(tracking_uri())
    if database is None:
        yield
        return
    with _store_lock(database.parent):
        yield


def set_champions(churn_version: str, value_version: str) -> None:
    """Point both ``champion`` aliases at a run's pair; Ctrl-C and SIGTERM wait until both have
    moved (one moved alone left a mixed pair that `score` used without a word)."""
    import signal
    import threading

    held = {signal.SIGINT, signal.SIGTERM}
    main = threading.current_thread() is threading.main_thread()
    if main:
        signal.pthread_sigmask(signal.SIG_BLOCK, held)
    try:
        set_alias(CHURN_MODEL_NAME, CHAMPION, churn_version)
        set_alias(VALUE_MODEL_NAME, CHAMPION, value_version)
    finally:
        if main:
            signal.pthread_sigmask(signal.SIG_UNBLOCK, held)


def champion_as_of() -> pd.Timestamp | None:
    """The as-of date the current champion was trained at (its run's ``as_of`` parameter); None
    without a champion."""
    try:
        run_id = champion_run_id()
    except ModelNotFoundError:
        return None
    as_of = _client().get_run(run_id).data.params.get("as_of")
    return pd.Timestamp(as_of) if as_of else None


@dataclass(frozen=True)
class RunRecord:
    """What a report shows of a training run: its metrics, params, tags and JSON artifacts."""

    run_id: str
    metrics: dict[str, float]
    params: dict[str, str]
    tags: dict[str, str]
    metadata: dict
    report_data: dict | None


def load_run_json(run_id: str, artifact_path: str) -> Any | None:
    """A JSON artifact of a run, or None when the run has no such file."""
    try:
        with tempfile.TemporaryDirectory() as tmp:
            return json.loads(_download(run_id, artifact_path, tmp).read_text(encoding="utf-8"))
    except (MlflowException, OSError):
        return None


def load_run(run_id: str) -> RunRecord:
    """Metrics, params, tags, ``metadata.json`` and report data of a training run.

    Raises
    ------
    ModelNotFoundError
        When the store has no such run, or it is not a training run (no ``metadata.json``).
    """
    client = _client()
    try:
        run = client.get_run(run_id)
    except MlflowException:
        raise ModelNotFoundError(f"No run {run_id!r} in {tracking_uri()}. The MLflow UI lists the runs: "
                                 f"mlflow ui --backend-store-uri {tracking_uri()}") from None
    metadata = load_run_json(run_id, METADATA_FILE)
    if metadata is None:
        root = run.info.artifact_uri or ""
        if root.startswith("file:") and not Path(_local_path(root)).exists() and _here(root) is None:
            raise ModelNotFoundError(
                f"Run {run_id} is in {tracking_uri()}, but its files are not at {root}. {_ARTIFACTS_TRAVEL}."
            )
        raise ModelNotFoundError(f"Run {run_id} is not a training run (it has no {METADATA_FILE}). Pass the run of a `churnml train`.")
    return RunRecord(run_id, dict(run.data.metrics), dict(run.data.params), dict(run.data.tags), metadata,
                     load_run_json(run_id, REPORT_DATA_FILE))


BACKTEST_INPUTS_TAG = "churnml.backtest_inputs"
"""Tag of a backtest run: the digest of what decides its result (the scores file's bytes, the
data's fingerprint, the horizon, the models), so the same backtest run again is found."""


def logged_backtest(inputs: str) -> str | None:
    """The backtest run already logged from these ``inputs`` (:data:`BACKTEST_INPUTS_TAG`), or None.

    A scheduler retrying its monthly `churnml evaluate`, or a backfill run twice, logged a second
    run and a second point of the same date in the training run's metric history each time."""
    client = _client()
    runs = client.search_runs([_experiment_id(client)], f"tags.`{BACKTEST_INPUTS_TAG}` = '{inputs}'", max_results=1)
    return runs[0].info.run_id if runs else None


def log_backtest(
    training_run_id: str,
    churn_version: str,
    value_version: str,
    as_of: pd.Timestamp | str,
    churn_metrics: Mapping[str, float],
    value_metrics: Mapping[str, float],
    details: Mapping[str, Any] | None = None,
    inputs: str | None = None,
) -> str:
    """Record a backtest of old scores against the models that made them.

    Three places, so decay shows wherever one looks: a ``backtest`` run (tagged with the model
    versions and the training run, metrics named as in training: ``churn_model_roc_auc`` …); the
    training run's metric history (``backtest_churn_model_roc_auc`` …, ``step`` = days from the
    training as-of date to ``as_of``, timestamp = ``as_of``); and tags on both model versions
    (``churnml.backtest.<as_of>.roc_auc`` / ``.normalized_gini``). ``inputs`` tags the run, for
    :func:`logged_backtest`.

    Returns
    -------
    str
        The backtest run id.
    """
    client = _client()
    day = f"{pd.Timestamp(as_of):%Y-%m-%d}"
    run = client.create_run(
        _experiment_id(client),
        run_name=f"backtest {day} churn v{churn_version} value v{value_version}",
        tags={"churnml.kind": "backtest", "churnml.as_of": day, "churnml.training_run_id": training_run_id,
              "churnml.churn_model_version": str(churn_version), "churnml.value_model_version": str(value_version),
              **({BACKTEST_INPUTS_TAG: inputs} if inputs else {})},
    )
    params = [Param(k, str(v)[:6000]) for k, v in {"as_of": day, **(details or {})}.items()]
    client.log_batch(run.info.run_id, params=params)
    _log_backtest_metrics(client, run.info.run_id, training_run_id, churn_version, value_version, as_of,
                          _backtest_metrics(churn_metrics, value_metrics))
    client.set_terminated(run.info.run_id)
    return run.info.run_id


def complete_backtest(
    backtest_run_id: str,
    training_run_id: str,
    churn_version: str,
    value_version: str,
    as_of: pd.Timestamp | str,
    churn_metrics: Mapping[str, float],
    value_metrics: Mapping[str, float],
) -> list[str]:
    """Add to the backtest run :func:`logged_backtest` found the metrics it lacks, in the three places
    :func:`log_backtest` writes, and return their names (those it has stay as logged).

    An older churnml that backtested the same scores and data computed fewer figures (before the
    intervals, or value at risk against the value the churners lost): after the upgrade `churnml
    evaluate` printed them but logged nothing, saying the backtest was already logged."""
    client = _client()
    logged = client.get_run(backtest_run_id).data.metrics
    missing = {k: v for k, v in _backtest_metrics(churn_metrics, value_metrics).items() if k not in logged}
    if missing:
        _log_backtest_metrics(client, backtest_run_id, training_run_id, churn_version, value_version, as_of, missing)
    return sorted(missing)


def _backtest_metrics(churn_metrics: Mapping[str, float], value_metrics: Mapping[str, float]) -> dict[str, float]:
    flat = {**_flat("churn_model_", churn_metrics), **_flat("value_model_", value_metrics)}
    return {k: float(v) for k, v in flat.items() if v is not None and pd.notna(v)}


def _log_backtest_metrics(client: MlflowClient, backtest_run_id: str, training_run_id: str, churn_version: str,
                          value_version: str, as_of: pd.Timestamp | str, flat: Mapping[str, float]) -> None:
    """``flat`` into the backtest run, the training run's ``backtest_*`` history and the versions' tags."""
    as_of = pd.Timestamp(as_of)
    day = f"{as_of:%Y-%m-%d}"
    now = int(pd.Timestamp.now().timestamp() * 1000)
    client.log_batch(backtest_run_id, metrics=[Metric(k, v, now, 0) for k, v in flat.items()])
    trained = client.get_run(training_run_id).data.params.get("as_of")
    step = int((as_of - pd.Timestamp(trained)).days) if trained else 0
    stamp = int(as_of.timestamp() * 1000)
    client.log_batch(training_run_id, metrics=[Metric(f"backtest_{k}", v, stamp, step) for k, v in flat.items()])
    for name, version, key in ((CHURN_MODEL_NAME, churn_version, "churn_model_roc_auc"), (VALUE_MODEL_NAME, value_version, "value_model_normalized_gini")):
        if key in flat:
            try:
                client.set_model_version_tag(name, str(version), f"churnml.backtest.{day}.{key.split('_model_')[1]}", f"{flat[key]:.6f}")
            except MlflowException:
                pass  # the version was deleted from the registry; the runs still hold the result


def run_id_of(name: str, alias_or_version: str) -> str:
    """The training run of a registered model version (or alias).

    Raises
    ------
    ModelNotFoundError
        When ``name`` has no such version.
    """
    return str(_version_for(_client(), name, str(alias_or_version)).run_id)
