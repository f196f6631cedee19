"""`churnml serve`: run the HTTP prediction API (the BentoML service in ``serving/``)."""

from __future__ import annotations

import errno
import os
import secrets
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.markup import escape

from churnml.cli import _error, command, console, err_console, warn
from churnml.cli._options import ConfigOpt, SnapshotsOpt
from churnml.errors import ConfigError


def serving_dir() -> Path:
    """The ``serving/`` folder holding ``service.py`` (beside ``src/`` in a checkout)."""
    candidates = [Path.cwd() / "serving", Path(__file__).resolve().parents[3] / "serving"]
    for candidate in candidates:
        if (candidate / "service.py").is_file():
            return candidate
    raise ConfigError(
        "Cannot find serving/service.py (looked in ./serving and beside the churnml sources). "
        "Run from the project checkout, or use `bentoml serve` on a built bento."
    )


MIN_KEY_LENGTH = 16
"""Shorter API keys get a warning at start-up: the server answers wrong keys as fast as it can."""


def check_port(host: str, port: int) -> None:
    """Refuse a host that is not an address of this machine, or a port already in use, before the
    server starts (BentoML would print a traceback)."""
    import socket

    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        raise ConfigError(f"--host {host!r} is not an address or a host name this machine resolves. "
                          "Use 127.0.0.1 (this machine only) or 0.0.0.0 (every interface).") from None
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise ConfigError(f"Port {port} on {host} is in use (another churnml serve?). Pick another with --port, "
                                  "or stop the other server.") from None
            raise ConfigError(f"Cannot listen on {host}:{port}: {exc.strerror}. Use an address of this machine "
                              "(127.0.0.1, 0.0.0.0) and a port you may open (1024-65535 without root).") from None


@command("serve")
def serve_command(
    port: Annotated[int, typer.Option("--port", help="TCP port to listen on.")] = 3000,
    host: Annotated[str, typer.Option("--host", help="Interface to bind; 0.0.0.0 exposes it to the network.")] = "127.0.0.1",
    snapshots: SnapshotsOpt = Path("snapshots"),
    data: Annotated[
        Optional[Path],
        typer.Option("--data", help="Build a fresh snapshot from this data source first (as of --as-of, else the day after the data ends)."),
    ] = None,
    as_of: Annotated[Optional[str], typer.Option("--as-of", help="As-of date (YYYY-MM-DD) for the snapshot built from --data.")] = None,
    alias: Annotated[str, typer.Option("--alias", help="Model alias (or version number) in the MLflow registry.")] = "champion",
    config: ConfigOpt = None,
) -> None:
    """Serve churn and value scores over HTTP (BentoML), until Ctrl-C.

    Reads the models carrying ALIAS from the MLflow registry (MLFLOW_TRACKING_URI, else
    ./mlruns/mlflow.db) and the newest SNAPSHOTS/features_YYYY-MM-DD.parquet, with the outside_YYYY-MM-DD.parquet
    beside it (the customers left out of its population, which /score's not_found detail names); with --data,
    first writes both from DATA. Endpoints: POST /score, /score_history, /retention_list; GET /model;
    /livez, /readyz, /healthz, /metrics (Prometheus); the OpenAPI page at /. Every endpoint but
    /livez, /readyz, /healthz and the docs page needs `Authorization: Bearer <key>`, /metrics
    included: the key is CHURNML_API_KEY (a warning when it is under 16 characters), or, when that
    is unset, a new random key printed once here.

    The server log and GET /model warn when the two champions come from different training runs,
    when the models are older than [monitoring] max_model_age_days, or the snapshot older than the
    horizon; GET /model also when the alias has moved to other versions or a newer snapshot was
    written since the server started. A warning at start-up says when --config reads POST
    /score_history otherwise than the training's config read the data ([input] satisfaction_scale,
    [input.event_types]): start it with the config the models were trained with. A snapshot as of a date
    before the models' first training cutoff is refused, as `churnml score` refuses that --as-of (with
    --data, before the data is read). The port is checked
    first (a port in use is refused at once, before the models load or --data writes a snapshot), and
    again, with the models and the snapshot, just before the server starts; should the worker
    still fail to load them, the server stops with the error and exit code 2. The models are
    loaded once: after `churnml promote` (or a training run that promotes), write a new snapshot
    with `churnml score` and restart the server.

    On SIGTERM or Ctrl-C the server stops accepting connections at once, closes idle kept-alive
    ones, and lets requests in flight finish (for at most [serving] graceful_shutdown_seconds, when
    set): take it out of the load balancer before stopping it.
    """
    if not 0 < port < 65536:
        raise ConfigError(f"--port must be between 1 and 65535, got {port}.")
    # The port first: loading the models and building a --data snapshot take 10-15 s, after which a
    # port in use was refused all the same (and the snapshot written for nothing). Checked again
    # below, just before the server starts, since another program can take it in between.
    check_port(host, port)

    import pandas as pd

    from churnml import api, io, tracking
    from churnml.cli._options import parse_as_of
    from churnml.config import load_config

    cfg = load_config(config)
    models = None
    if data is not None:
        from churnml.labels import build_scoring_frame, outside_population, refuse_as_of_before_training
        from churnml.validate import load_dataset

        as_of_ts = None if as_of is None else parse_as_of(as_of)  # a date in the future before the data is read
        if as_of_ts is not None:
            # As `churnml score` refuses it, before the data is read: the snapshot written would be refused below.
            models = tracking.load_models(alias)
            refuse_as_of_before_training(as_of_ts, models.metadata)
        dataset = load_dataset(data, cfg)
        if as_of_ts is None:
            if dataset.data_end is None:
                raise ConfigError(f"{data} has no dated events; pass --as-of.")
            as_of_ts = dataset.data_end.normalize() + pd.Timedelta(days=1)
        with console.status("Building the feature snapshot…"):
            written = io.write_snapshot(build_scoring_frame(dataset, as_of_ts, cfg), as_of_ts, snapshots,
                                        outside_population(dataset, as_of_ts, cfg))
        files = io.with_outside([written])  # the snapshot and, when there is one, its outside file
        console.print(f"Wrote {' and '.join(str(path) for path in files)}.")
    elif as_of is not None:
        raise ConfigError("--as-of needs --data: it is the date of the snapshot built from DATA.")
    with console.status("Checking the models and the snapshot…"):
        snapshot, models = api.check_startup(alias, snapshots, models)
    snapshot_day = snapshot.stem.removeprefix("features_")
    trained = models.metadata.get("as_of")
    if trained and snapshot_day < trained:
        warn(f"the newest snapshot, {snapshot.name}, is older than the models' training as-of date ({trained}): "
             f"/score answers with customers' features as of {snapshot_day}. Write a newer one with `churnml score "
             "DATA --as-of DATE --out FILE`, or start with --data.")
    differs = api.trained_input_warning(models, cfg)
    if differs:
        warn(differs)
    env = dict(os.environ)
    key = env.get(api.ENV_API_KEY, "").strip()
    if key:
        api.check_key_text(key)
        if len(key) < MIN_KEY_LENGTH:
            warn(f"{api.ENV_API_KEY} is {len(key)} characters long: a short key (such as change-me) can be "
                 "guessed, and the API does not slow down wrong guesses. Use at least "
                 f"{MIN_KEY_LENGTH} random characters: python -c 'import secrets; print(secrets.token_urlsafe(32))'")
    check_port(host, port)  # again: the models and the snapshot took a while, and the port may be taken since
    if not key:
        key = secrets.token_urlsafe(32)
        env[api.ENV_API_KEY] = key
        err_console.print(f"API key (shown once; set {api.ENV_API_KEY} to choose your own): [bold]{escape(key)}[/bold]", markup=True, highlight=False, soft_wrap=True)
    env[api.ENV_ALIAS] = alias
    env[api.ENV_SERVER_PID] = str(os.getpid())  # execve keeps the pid: the server process the worker stops on failure
    # The server's own folder: where that worker writes why (run_server reads it), and BentoML's
    # home. BentoML empties its metrics folder there whenever a server starts: with the shared
    # ~/bentoml, starting any other server on the machine reset this one's /metrics to 0.
    folder = tempfile.mkdtemp(prefix="churnml-serve-")
    env[api.ENV_SERVER_DIR] = env["BENTOML_HOME"] = folder
    env[api.ENV_SNAPSHOTS] = str(snapshots.resolve())
    if config is not None:
        env[api.ENV_CONFIG] = str(Path(config).resolve())
    env["MLFLOW_TRACKING_URI"] = tracking.tracking_uri()  # the server runs in serving/, not here
    # Loading the models and the snapshot in the worker takes a while (20-50 s on 2 busy cores): a
    # request sent on reading "Serving" alone was refused, with nothing to say why.
    console.print(f"Starting: serving {snapshot.name} with models '{alias}' on http://{host}:{port} (docs at /) "
                  "once the log says 'churnml API ready' (GET /readyz is 200 from then on).")
    serving = serving_dir()
    # `bentoml serve` in this interpreter (the bentoml churnml was installed with), through run_server.
    command_line = [sys.executable, "-m", "churnml.cli.serve", "service:ChurnService", "--host", host, "--port", str(port)]
    if cfg.serving.graceful_shutdown_seconds:  # how long requests in flight may run on after SIGTERM
        command_line += ["--timeout-graceful-shutdown", str(cfg.serving.graceful_shutdown_seconds)]
    sys.stdout.flush()
    sys.stderr.flush()
    # Replace this process, so Ctrl-C and SIGTERM reach the server directly and no child is orphaned.
    os.chdir(serving)
    os.execve(sys.executable, command_line, env)


def run_server(arguments: list[str]) -> int:
    """Run ``bentoml serve ARGUMENTS`` in this process; return its exit code, or, when the worker
    could not start (it writes the error to the server's folder and stops the server), print that
    error and return its code: BentoML itself ends with 0 then, which a supervisor takes for a
    clean stop. Removes the server's folder. ``churnml serve`` execs this, so signals reach
    BentoML directly."""
    from bentoml_cli.cli import cli

    from churnml import api  # imported by service.py in this process already

    try:
        cli.main(args=["serve", *arguments], prog_name="bentoml")
        code = 0
    except SystemExit as stop:
        code = stop.code if isinstance(stop.code, int) else 1
    folder = os.environ.get(api.ENV_SERVER_DIR, "")
    failure = Path(folder, api.FAILURE_FILE) if folder else None
    if failure is not None and failure.is_file():
        exit_code, _, message = failure.read_text(encoding="utf-8").partition("\n")
        _error(f"churnml API cannot start: {message}")
        code = int(exit_code) if exit_code.isdigit() else 1
    if folder and Path(folder).name.startswith("churnml-serve-"):
        shutil.rmtree(folder, ignore_errors=True)
    return code


if __name__ == "__main__":
    sys.exit(run_server(sys.argv[1:]))
