"""tracking: URI resolution, no import side effects, trial runs, registry errors."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from churnml import tracking
from churnml.errors import ConfigError, ModelNotFoundError


@pytest.fixture
def store(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'store' / 'mlflow.db'}")
    return tmp_path


def test_default_uri_is_sqlite_under_mlruns_in_cwd(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    assert tracking.tracking_uri() == f"sqlite:///{tmp_path.resolve() / 'mlruns' / 'mlflow.db'}"
    assert tracking.store_dir() == (tmp_path / "mlruns").resolve()


def test_env_uri_wins_and_store_dir_follows_it(store):
    assert tracking.tracking_uri().endswith("store/mlflow.db")
    assert tracking.store_dir() == (store / "store").resolve()


def test_a_relative_sqlite_uri_is_made_absolute(tmp_path, monkeypatch):
    # `churnml serve` hands the URI to a server that runs in serving/: relative, it named another
    # file there (the demo prints MLFLOW_TRACKING_URI=sqlite:///demo_out/mlruns/mlflow.db churnml serve).
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "sqlite:///demo_out/mlruns/mlflow.db")
    assert tracking.tracking_uri() == f"sqlite:///{tmp_path.resolve() / 'demo_out' / 'mlruns' / 'mlflow.db'}"
    assert tracking.store_dir() == (tmp_path / "demo_out" / "mlruns").resolve()
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://tracking.example:5000")
    assert tracking.tracking_uri() == "http://tracking.example:5000"


def test_a_train_waiting_for_another_on_its_study_is_told(store):
    # The second of two trains of the same study waited for the first to finish tuning (minutes to
    # hours) and showed nothing at all meanwhile.
    import time

    folder = store / "store"
    folder.mkdir()
    lock = folder / ".study-churnml-churn-x.lock"
    holder = subprocess.Popen([sys.executable, "-c", (
        "import fcntl, sys, time; f = open(sys.argv[1], 'a'); fcntl.flock(f, fcntl.LOCK_EX); print('held', flush=True); "
        "time.sleep(1.5)"), str(lock)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        told = []
        started = time.monotonic()
        with tracking.study_lock("churnml-churn-x", on_wait=lambda: told.append(time.monotonic() - started)):
            waited = time.monotonic() - started
    finally:
        holder.wait(timeout=30)
    assert len(told) == 1 and told[0] < 0.5 and waited >= 1.0   # told at once, then it waited its turn
    told.clear()
    with tracking.study_lock("churnml-churn-x", on_wait=lambda: told.append(1)):
        pass
    assert told == []   # nobody else holds it: nothing to say


def test_a_study_lock_is_removed_when_released_and_still_excludes(store):
    # Every study left its .study-<name>.lock beside the store for good (one per data, as-of date
    # and settings). Removed on release, the lock must still hold: a process that waited on the
    # removed file must not think it holds the lock while a newcomer locks a new file of that name.
    import threading

    folder = store / "store"
    lock = folder / ".study-churnml-churn-y.lock"
    code = ("import sys\nfrom churnml import tracking\n"
            "with tracking.study_lock('churnml-churn-y', on_wait=lambda: print('waiting', flush=True)):\n"
            "    print('held', flush=True); sys.stdin.readline()")
    env = {**os.environ, "PYTHONPATH": str(Path(tracking.__file__).parents[1])}
    first = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env)
    try:
        assert first.stdout.readline().strip() == "held" and lock.exists()
        acquired = threading.Event()
        leave = threading.Event()

        def wait_for_it() -> None:
            with tracking.study_lock("churnml-churn-y"):  # waits on the file the first process removes
                acquired.set()
                leave.wait(30)

        waiter = threading.Thread(target=wait_for_it)
        waiter.start()
        assert not acquired.wait(0.5)
        first.communicate("\n", timeout=30)  # the first releases (and removes the file)
        assert acquired.wait(30)
        newcomer = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                                    env=env)
        try:
            said = newcomer.stdout.readline().strip()
        finally:
            leave.set()
            waiter.join(30)
            later = newcomer.communicate("\n", timeout=60)[0]
        assert said == "waiting" and later.strip() == "held"  # the waiter held it: the newcomer waited its turn
    finally:
        if first.poll() is None:
            first.kill()
    assert not lock.exists()
    with tracking.study_lock("churnml-churn-y"):
        assert lock.exists()
    assert sorted(p.name for p in folder.iterdir()) == []


def test_import_has_no_side_effects(tmp_path):
    code = "import churnml.tracking, churnml.train, churnml.tuning, churnml.plots"
    subprocess.run([sys.executable, "-c", code], cwd=tmp_path, check=True, env={"PATH": "/usr/bin:/bin"})
    assert list(tmp_path.iterdir()) == []


def test_run_with_nested_trial_runs_and_artifacts(store):
    with tracking.start_training_run("test") as run:
        run.log_params({"as_of": "2025-01-01"})
        run.log_metrics({"churn_model_roc_auc": 0.8, "skipped": float("nan")})
        run.log_dict({"a": 1}, "features.json")
        trial = SimpleNamespace(number=0, value=0.7, params={"num_leaves": 7}, intermediate_values={10: 0.69},
                                state=SimpleNamespace(name="COMPLETE"))
        run.trial_callback("churn")(SimpleNamespace(study_name="s"), trial)
    client = tracking._client()
    parent = client.get_run(run.run_id)
    assert parent.data.params["as_of"] == "2025-01-01"
    assert parent.data.metrics == {"churn_model_roc_auc": 0.8}
    experiment = client.get_experiment(parent.info.experiment_id)
    assert experiment.artifact_location == (store / "store" / "artifacts").resolve().as_uri()
    children = client.search_runs([parent.info.experiment_id], f"tags.mlflow.parentRunId = '{run.run_id}'")
    assert [c.info.run_name for c in children] == ["churn-trial-0"]
    assert children[0].data.params["num_leaves"] == "7" and children[0].data.metrics["validation_score"] == 0.7
    assert (store / "store" / "artifacts").is_dir()


def test_missing_models_and_bad_names_are_clear_errors(store):
    # No store at all (a mistyped path, a folder never trained in): an error, and nothing made.
    for read in (lambda: tracking.load_models("champion"), tracking.list_models):
        with pytest.raises(ModelNotFoundError, match=r"There is no MLflow store at .*mlflow.db \(MLFLOW_TRACKING_URI\)\. Train"):
            read()
    assert not (store / "store").exists()
    # A store without models.
    tracking._client(create=True).search_experiments()
    with pytest.raises(ModelNotFoundError, match="Run `churnml train` first"):
        tracking.load_models("champion")
    with pytest.raises(ConfigError, match="Registered names: churnml-churn, churnml-value"):
        tracking.promote("churn", "1")
    assert tracking.list_models() == []
    assert tracking.champion_version(tracking.CHURN_MODEL_NAME) is None


def test_a_value_model_from_another_run_has_no_predicted_value_reference() -> None:
    # Promoting one model alone pairs models of two runs; the churn run's predicted_value
    # distribution belongs to its own value model and raised drift alarms on unchanged customers.
    reference = {"features": {}, "scores": {"churn_probability": {"edges": []}, "predicted_value": {"edges": []}}}
    same = tracking.LoadedModels(None, None, "1", "1", "run-a", {"monitoring_reference": reference, "value_run_id": "run-a"})
    assert set(same.monitoring_reference["scores"]) == {"churn_probability", "predicted_value"}
    mixed = tracking.LoadedModels(None, None, "2", "1", "run-b", {"monitoring_reference": reference, "value_run_id": "run-a"})
    assert set(mixed.monitoring_reference["scores"]) == {"churn_probability"}
    assert set(reference["scores"]) == {"churn_probability", "predicted_value"}  # the stored one is untouched


def _register_dummy_pair(metadata: dict) -> str:
    """Log and register two tiny real models as champions; the training run's id."""
    import pandas as pd
    from sklearn.dummy import DummyClassifier, DummyRegressor

    frame = pd.DataFrame({"x": [0.0, 1.0, 2.0, 3.0]})
    with tracking.start_training_run("moved-store") as run:
        churn, value = run.log_models(DummyClassifier().fit(frame, [0, 1, 0, 1]), DummyRegressor().fit(frame, [1.0, 2.0, 3.0, 4.0]),
                                      frame, metadata)
    tracking.set_alias(tracking.CHURN_MODEL_NAME, tracking.CHAMPION, churn)
    tracking.set_alias(tracking.VALUE_MODEL_NAME, tracking.CHAMPION, value)
    return run.run_id


def test_a_moved_store_loads_its_models_and_trains_into_its_new_place(tmp_path, monkeypatch):
    # The SQLite store records absolute artifact paths; a store moved whole (to a serving host,
    # another project folder) said "No such artifact: ''" and new runs recreated the old folder.
    import shutil

    monkeypatch.chdir(tmp_path)
    old, new = tmp_path / "old" / "mlruns", tmp_path / "new" / "mlruns"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{old / 'mlflow.db'}")
    run_id = _register_dummy_pair({"as_of": "2025-01-01"})
    shutil.copytree(old, tmp_path / "without_artifacts", ignore=shutil.ignore_patterns("artifacts"))
    new.parent.mkdir()
    shutil.move(old, new)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{new / 'mlflow.db'}")

    models = tracking.load_models("champion")
    assert models.metadata["as_of"] == "2025-01-01" and models.run_id == run_id
    assert list(models.churn.predict(pd_frame())) == [0] and models.value.predict(pd_frame())[0] == 2.5
    assert tracking.load_run_json(run_id, tracking.METADATA_FILE)["as_of"] == "2025-01-01"
    assert tracking.load_model(tracking.VALUE_MODEL_NAME, "1")[1] == "1"

    second = _register_dummy_pair({"as_of": "2025-02-01"})
    assert not old.exists()  # the old place is not recreated
    assert (new / "artifacts" / second / "artifacts" / tracking.METADATA_FILE).is_file()
    assert tracking.load_models("champion").metadata["as_of"] == "2025-02-01"
    assert tracking.load_models("1").metadata["as_of"] == "2025-01-01"

    # A database copied without its artifacts: a clear error that says what to copy.
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'without_artifacts' / 'mlflow.db'}")
    with pytest.raises(ModelNotFoundError, match=r"churnml-churn v1 is registered in .* but the model cannot be read from .*"
                                                 r"The artifacts must travel with the store"):
        tracking.load_models("champion")


def test_a_copied_store_never_writes_into_the_original(tmp_path, monkeypatch):
    # A copy made while the original was still there wrote its new runs into the original's
    # artifacts; a copy without artifacts/ too.
    import shutil

    monkeypatch.chdir(tmp_path)
    original = tmp_path / "original" / "mlruns"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{original / 'mlflow.db'}")
    first = _register_dummy_pair({"as_of": "2025-01-01"})
    before = sorted(p.name for p in (original / "artifacts").iterdir())
    for name, keep_artifacts in (("copy", True), ("bare", False)):
        copy = tmp_path / name / "mlruns"
        shutil.copytree(original, copy, ignore=None if keep_artifacts else shutil.ignore_patterns("artifacts"))
        monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{copy / 'mlflow.db'}")
        if keep_artifacts:
            assert tracking.load_models("champion").run_id == first  # the original's files, still there
        run_id = _register_dummy_pair({"as_of": "2025-02-01"})
        assert (copy / "artifacts" / run_id / "artifacts" / tracking.METADATA_FILE).is_file(), name
        assert tracking.load_models("champion").metadata["as_of"] == "2025-02-01"
    assert sorted(p.name for p in (original / "artifacts").iterdir()) == before


def test_a_run_whose_files_are_gone_says_so(tmp_path, monkeypatch):
    import shutil

    monkeypatch.chdir(tmp_path)
    store = tmp_path / "store" / "mlruns"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{store / 'mlflow.db'}")
    run_id = _register_dummy_pair({"as_of": "2025-01-01"})
    shutil.copytree(store, tmp_path / "bare", ignore=shutil.ignore_patterns("artifacts"))
    shutil.rmtree(store)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'bare' / 'mlflow.db'}")
    with pytest.raises(ModelNotFoundError, match=rf"Run {run_id} is in .*, but its files are not at .*The artifacts must travel"):
        tracking.load_run(run_id)  # was "not a training run (it has no metadata.json)"
    from churnml import train as train_module

    with pytest.raises(ModelNotFoundError, match="The artifacts must travel with the store"):
        train_module._load_champions()  # train calls this before any tuning


def pd_frame():
    import pandas as pd

    return pd.DataFrame({"x": [5.0]})


def test_commands_starting_together_on_a_new_store_all_find_it_made(tmp_path: Path) -> None:
    # Two trains on a new store both created its schema: one died ("table alembic_version already
    # exists"), and a half-made upgrade could leave every later command failing.
    script = ("import sys; from churnml import tracking; "
              "print(len(tracking._client(create=True).search_experiments()))")
    env = {"MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path / 'mlruns' / 'mlflow.db'}", "PATH": "/usr/bin:/bin"}
    started = [subprocess.Popen([sys.executable, "-c", script], cwd=tmp_path, env=env, text=True,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE) for _ in range(3)]
    results = [process.communicate(timeout=120) for process in started]
    assert [process.returncode for process in started] == [0, 0, 0], [err[-2000:] for _, err in results]
    assert [out.strip() for out, _ in results] == ["1", "1", "1"]


def test_a_busy_store_is_a_retry_later_exit_not_a_traceback(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import sqlite3
    import threading

    from churnml.cli import EXIT_RETRY

    database = tmp_path / "mlruns" / "mlflow.db"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{database}")
    tracking._client(create=True)
    locked, release = threading.Event(), threading.Event()

    def hold() -> None:
        connection = sqlite3.connect(database, isolation_level=None, check_same_thread=False)
        connection.execute("BEGIN EXCLUSIVE")
        locked.set()
        release.wait(60)
        connection.execute("ROLLBACK")
        connection.close()

    holder = threading.Thread(target=hold)
    holder.start()
    try:
        assert locked.wait(10)
        result = subprocess.run([str(Path(sys.executable).with_name("churnml")), "models"], capture_output=True, text=True,
                                timeout=120, cwd=tmp_path)
    finally:
        release.set()
        holder.join()
    assert result.returncode == EXIT_RETRY == 75, result.stdout + result.stderr
    assert "is busy: another process kept it locked (database is locked)" in " ".join(result.stderr.split())
    assert "Traceback" not in result.stdout + result.stderr


def test_the_next_train_ends_runs_whose_process_was_killed(store):
    """A train killed with -9 leaves its MLflow run RUNNING; the next one marks it KILLED. Runs of
    live processes or other hosts stay as they are."""
    from churnml.io import HOST

    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    client = tracking._client(create=True)
    experiment = tracking._experiment_id(client)
    owners = {"killed": f"{HOST}:{gone.pid}", "live": f"{HOST}:{os.getpid()}", "remote": f"otherhost:{gone.pid}"}
    runs = {name: client.create_run(experiment, run_name=name, tags={tracking.OWNER_TAG: owner}).info.run_id
            for name, owner in owners.items()}
    with tracking.start_training_run("next") as run:
        assert client.get_run(run.run_id).data.tags[tracking.OWNER_TAG] == f"{HOST}:{os.getpid()}"
        status = {name: client.get_run(run_id).info.status for name, run_id in runs.items()}
    assert status == {"killed": "KILLED", "live": "RUNNING", "remote": "RUNNING"}
    assert client.get_run(runs["killed"]).data.tags["churnml.ended"].startswith("its process was gone")


def test_a_training_run_is_tagged_with_the_code_that_made_it(store):
    # Same data and seed give other models once the features or the tuning change: a run has to
    # name its code as well as its data, in the tags the MLflow UI shows.
    from churnml import __version__
    from churnml.io import code_version

    with tracking.start_training_run("test") as run:
        pass
    tags = tracking._client().get_run(run.run_id).data.tags
    assert tags["churnml.version"] == __version__
    code = code_version()
    if "git_commit" in code:  # run from a checkout, as the test suite is
        assert tags[tracking.GIT_COMMIT_TAG] == code["git_commit"] and len(code["git_commit"]) == 40
        assert tags["churnml.git_dirty"] == str(code["git_dirty"]).lower()  # "true" while files differ from it
    else:
        assert tracking.GIT_COMMIT_TAG not in tags
