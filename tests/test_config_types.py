"""Config settings are checked against their declared types and ranges: a clean ConfigError that
names the file, section, key, bad value and what is expected, never a traceback later on."""

from __future__ import annotations

from pathlib import Path

import pytest

from churnml.config import Config, config_from_dict, load_config
from churnml.errors import ConfigError

REPO = Path(__file__).parent.parent


def _error(tmp_path: Path, toml: str) -> str:
    """The message of the ConfigError that loading ``toml`` from cfg.toml raises."""
    path = tmp_path / "cfg.toml"
    path.write_text(toml, encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    message = str(info.value)
    assert message.startswith(f"{path}: "), message
    return message[len(f"{path}: "):]


def _write(tmp_path: Path, toml: str) -> Path:
    path = tmp_path / "ok.toml"
    path.write_text(toml, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("toml", "expected"),
    [
        # Tables that must be tables.
        ('tables = "trades"\n',
         "[tables] must be a table (contract table = your table or file stem), got 'trades' (text). "
         'Example: [tables] transactions = "trades".'),
        ('columns = "x"\n',
         "[columns] must be a table of tables, one per contract table, got 'x' (text). "
         'Example: [columns.transactions] amount = "revenue".'),
        ('[columns]\ntransactions = "x"\n',
         "[columns.transactions] must be a table (contract column = your column), got 'x' (text). "
         'Example: [columns.transactions] customer_id = "my_customer_id".'),
        ('[segments]\nnames = "x"\n',
         "[segments] names must be a table (segment key = display name), got 'x' (text)."),
        ('[segments]\nactions = ["x"]\n',
         "[segments] actions must be a table (segment key = suggested action), got ['x'] (list of 1)."),
        ("[segments.names]\ndormant = 3\n",
         "[segments.names] dormant must be non-empty text, got 3 (whole number)."),
        ("problem = 3\n", "[problem] must be a table of settings, got 3 (whole number)."),
        # Lists with their length and element type.
        ("[segments]\nrisk_thresholds = 0.3\n",
         "[segments] risk_thresholds must be a list of 2 numbers (low, high), got 0.3 (decimal number)."),
        ("[segments]\nrisk_thresholds = [0.1, 0.2, 0.3]\n",
         "[segments] risk_thresholds must be a list of 2 numbers (low, high), got [0.1, 0.2, 0.3] (list of 3)."),
        ('[segments]\nrisk_thresholds = ["a", "b"]\n',
         "[segments] risk_thresholds must be a list of 2 numbers (low, high), got ['a', 'b'] (list of 2)."),
        ("[segments]\nvalue_shares = [0.8, true]\n",
         "[segments] value_shares must be a list of 2 numbers (top, medium), got [0.8, True] (list of 2)."),
        # Numbers: float takes ints but not text, bools or nan; int takes neither floats nor bools.
        ('[training]\ntimeout_seconds = "10"\n',
         "[training] timeout_seconds must be a number (seconds), got '10' (text)."),
        ("[problem]\nn_cutoffs = 4.5\n", "[problem] n_cutoffs must be a whole number, got 4.5 (decimal number)."),
        ("[problem]\nhorizon_days = 30.0\n",
         "[problem] horizon_days must be a whole number (days), got 30.0 (decimal number)."),
        ("[training]\ntrials = true\n", "[training] trials must be a whole number, got True (true/false)."),
        ("[problem]\nmargin = nan\n", "[problem] margin must be a number, got nan (not a finite number)."),
        ("[problem]\nactive_days = 2024-01-01\n",
         "[problem] active_days must be a whole number (days), got datetime.date(2024, 1, 1) (date)."),
        ('[serving]\naccess_log = "no"\n', "[serving] access_log must be true or false, got 'no' (text)."),
        ("[duckdb]\nmemory_limit = 5\n", '[duckdb] memory_limit must be text (e.g. "5GB"), got 5 (whole number).'),
        # Segment keys, checked as the file loads (a typo used to surface after the scores were written).
        ('[segments]\nnames = {high_value_atrisk = "Save now"}\n',
         "[segments.names] names unknown segment(s) high_value_atrisk. Valid segments: high_value_at_risk, "
         "loyal_high_value, potential, new_customer, low_value_active, dormant, fleeing_low_value."),
        ('[segments.actions]\nvip = "Call"\n', "[segments.actions] names unknown segment(s) vip. Valid segments: high_value_at_risk, "
         "loyal_high_value, potential, new_customer, low_value_active, dormant, fleeing_low_value."),
        ('[targeting]\nskip_segments = ["loyal"]\n', "[targeting] skip_segments names unknown segment(s) loyal. Valid segments: high_value_at_risk, "
         "loyal_high_value, potential, new_customer, low_value_active, dormant, fleeing_low_value."),
        ('[targeting]\nskip_segments = "loyal_high_value"\n',
         "[targeting] skip_segments must be a list of texts (segment keys, e.g. [\"loyal_high_value\"]), got 'loyal_high_value' (text)."),
        ('[input]\ndata_end = "2025-13-45"\n', '[input] data_end must be a date YYYY-MM-DD, or "", got \'2025-13-45\'.'),
        # Ranges.
        ("[problem]\nn_validation_cutoffs = 0\n",
         "[problem] n_validation_cutoffs must be at least 1, got 0. Training tunes the models on the validation cutoff(s)."),
        ("[problem]\nn_test_cutoffs = 0\n",
         "[problem] n_test_cutoffs must be at least 1, got 0. Training grades the models on the test cutoff(s)."),
        ("[training]\ntrials = 0\n", "[training] trials must be at least 1, got 0."),
        ("[training]\ntimeout_seconds = 0\n", "[training] timeout_seconds must be a positive number of seconds, got 0."),
        ("[training]\nseed = -1\n", "[training] seed must be between 0 and 4294967295, got -1."),
        ("[targeting]\nsuccess_rate = 1.5\n",
         "[targeting] success_rate must be more than 0 and at most 1, got 1.5. It is a share, e.g. 0.3 for 30%."),
        ("[targeting]\ncontact_cost = -1\n", "[targeting] contact_cost must be zero or more, got -1."),
        ("[serving]\nmax_customer_ids = 0\n", "[serving] max_customer_ids must be at least 1, got 0."),
        ("[scoring]\nkeep_snapshots = 0\n",
         "[scoring] keep_snapshots must be at least 1, got 0. The newest snapshot is the one `churnml serve` loads."),
        ('[scoring]\nkeep_snapshots = "7"\n', "[scoring] keep_snapshots must be a whole number, got '7' (text)."),
        ('[training]\ncalibration = "sigmoid"\n', "[training] calibration must be one of auto, isotonic, platt, got 'sigmoid'."),
        ("[serving]\ngraceful_shutdown_seconds = -5\n", "[serving] graceful_shutdown_seconds must be zero or more, got -5."),
        ("[serving]\ngraceful_shutdown_seconds = 2.5\n",
         "[serving] graceful_shutdown_seconds must be a whole number (seconds), got 2.5 (decimal number)."),
        ('[duckdb]\nmemory_limit = ""\n', "[duckdb] memory_limit must be a size such as \"5GB\", got ''."),
    ],
)
def test_wrong_type_or_range_is_a_config_error(tmp_path: Path, toml: str, expected: str) -> None:
    assert _error(tmp_path, toml) == expected


def test_config_trials_agree_with_the_cli_rule(tmp_path: Path) -> None:
    # `churnml train --trials 0` says "--trials must be at least 1, got 0."; the config says the same.
    assert _error(tmp_path, "[training]\ntrials = 0\n").endswith("trials must be at least 1, got 0.")
    assert load_config(_write(tmp_path, "[training]\ntrials = 1\n")).training.trials == 1


def test_right_types_still_load(tmp_path: Path) -> None:
    config = load_config(_write(tmp_path, (
        '[tables]\ntransactions = "trades"\n'
        '[columns.transactions]\namount = "revenue"\n'
        "[problem]\nmargin = 1\nn_cutoffs = 4\n"            # an int where a float is declared is fine
        "[training]\ntimeout_seconds = 10\nseed = 0\n"
        "[segments]\nrisk_thresholds = [0.1, 0.6]\nvalue_shares = [0.7, 1]\n"
        '[segments.names]\nhigh_value_at_risk = "Save now"\n'
        "[monitoring]\npsi_threshold = 0\n"
    )))
    assert config.tables == {"transactions": "trades"}
    assert config.columns == {"transactions": {"amount": "revenue"}}
    assert config.problem.margin == 1 and config.problem.n_cutoffs == 4
    assert config.training.timeout_seconds == 10
    assert config.segments.risk_thresholds == (0.1, 0.6)
    assert config.segments.value_shares == (0.7, 1)
    assert config.segments.names == {"high_value_at_risk": "Save now"}


def test_defaults_and_the_example_config_load() -> None:
    assert load_config(None) == Config()
    assert load_config(REPO / "training" / "churnml.example.toml") == Config()


def test_the_cli_reports_a_wrong_type_as_an_error_not_a_traceback(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from churnml.cli import get_app

    config = _write(tmp_path, '[training]\ntimeout_seconds = "10"\n')
    result = CliRunner().invoke(get_app(), ["validate", str(tmp_path / "no-data"), "--config", str(config)])
    output = " ".join((result.output + result.stderr).split())
    assert result.exit_code == 2, output
    assert "Error:" in output and "timeout_seconds must be a number (seconds), got '10' (text)." in output
    assert "Traceback" not in output


def test_risk_multiples_are_multiples_of_the_average_risk(tmp_path: Path) -> None:
    # [0.2, 0.5] loaded: "medium" from a fifth of the average risk, most customers "at risk".
    message = _error(tmp_path, "[segments]\nrisk_multiples = [0.2, 0.5]\n")
    assert "[segments] risk_multiples must satisfy 1 <= medium < high, got (0.2, 0.5)" in message
    assert "[segments] risk_multiples must satisfy" in _error(tmp_path, "[segments]\nrisk_multiples = [3, 1.5]\n")
    assert load_config(_write(tmp_path, "[segments]\nrisk_multiples = [1, 2.5]\n")).segments.risk_multiples == (1, 2.5)


def test_a_table_named_the_wrong_way_round_is_told_the_right_way(tmp_path: Path) -> None:
    # A first config for an export of orders.csv: [columns.orders] (the file's name, as mapped under
    # [tables]) or [tables] orders = "transactions" were told only the known tables, not what to write.
    assert _error(tmp_path, '[tables]\ntransactions = "orders"\n\n[columns.orders]\ncustomer_id = "CustomerID"\n') == (
        "[columns.orders] is not a known table. Known tables: customers, transactions, service_events, churn_events. "
        "'orders' is your name for transactions ([tables] transactions = \"orders\"): the section takes churnml's table "
        "name, [columns.transactions].")
    assert _error(tmp_path, '[tables]\norders = "transactions"\n') == (
        "[tables] names unknown table 'orders'. Known tables: customers, transactions, service_events, churn_events; "
        'each takes your file or table name, e.g. transactions = "orders". Write it the other way round: '
        'transactions = "orders".')
    assert _error(tmp_path, '[columns.trades]\namount = "x"\n').endswith("churn_events.")


def test_event_type_mapping_is_checked_when_the_config_loads() -> None:
    # The API applies the mapping too; a target churnml does not know ("Ticket") was refused only
    # by validate, and two keys equal but for case mapped differently in validation and the API.
    with pytest.raises(ConfigError, match=r"\[input.event_types\] maps 'x' to 'Ticket', which is not one of churnml's event types"):
        config_from_dict({"input": {"event_types": {"x": "Ticket"}}})
    with pytest.raises(ConfigError, match=r"\[input.event_types\] has 'Outage' and 'outage ', one type once case"):
        config_from_dict({"input": {"event_types": {"Outage": "ticket", "outage ": "complaint"}}})
    inputs = config_from_dict({"input": {"event_types": {" Outage": "ticket"}}}).input
    assert inputs.event_type("OUTAGE ") == "ticket" and inputs.event_type("Chat") == "chat"


def test_duckdb_settings_are_values_not_sql(tmp_path: Path) -> None:
    # A spill folder with an apostrophe (o'brien) used to stop every command with a parser error
    # blamed on memory_limit, and a memory_limit holding "'; <statement>" ran the statement.
    import duckdb

    from churnml.dataset import connect

    spill = tmp_path / "o'brien spill"
    con = connect(config_from_dict({"duckdb": {"temp_directory": str(spill)}}))
    assert con.execute("SELECT current_setting('temp_directory')").fetchone()[0] == str(spill)
    injected = "1GB'; CREATE TABLE pwned AS SELECT 1; SET memory_limit='2GB"
    with pytest.raises(duckdb.Error, match="[Mm]emory"):
        connect(config_from_dict({"duckdb": {"memory_limit": injected}}))


def test_the_default_spill_folder_is_this_accounts_alone(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Spill files and decoded CSV copies hold customer data. Under the shared name
    # /tmp/churnml-duckdb, another account could make the folder first and read what DuckDB
    # spilled there (it writes the files readable by all).
    import os
    import stat
    import tempfile

    from churnml.dataset import connect
    from churnml.io import private_temp_dir

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    spill = connect(Config()).execute("SELECT current_setting('temp_directory')").fetchone()[0]
    assert spill == str(tmp_path / f"churnml-duckdb-{os.getuid()}")
    assert stat.S_IMODE(os.stat(spill).st_mode) == 0o700
    shared = tmp_path / f"churnml-text-{os.getuid()}"
    shared.mkdir(mode=0o777)
    shared.chmod(0o777)  # made first, by another account's umask, open to all
    with pytest.raises(ConfigError, match=r"is not this account's alone .* Remove it \(churnml makes it anew\), or set "
                                          r"\[duckdb\] temp_directory"):
        private_temp_dir("churnml-text")
    shared.rmdir()
    (tmp_path / "elsewhere").mkdir(mode=0o700)
    shared.symlink_to(tmp_path / "elsewhere")
    with pytest.raises(ConfigError, match="is not this account's alone"):
        private_temp_dir("churnml-text")


def test_the_example_config_shows_every_setting() -> None:
    """training/churnml.example.toml shows each setting, set to its default or commented out:
    ``[training] calibration``, ``[input] encoding`` and ``[segments] talking_points`` were missing."""
    import dataclasses
    import re

    text = (REPO / "training" / "churnml.example.toml").read_text()
    sections = {m.group(1): m.start() for m in re.finditer(r"^\[(\w+)\]$", text, flags=re.M)}
    missing = []
    for section in dataclasses.fields(Config):
        if not dataclasses.is_dataclass(section.default_factory):
            continue
        start = sections.get(section.name, len(text))
        block = text[start:min([s for s in sections.values() if s > start], default=len(text))]
        missing += [f"[{section.name}] {f.name}" for f in dataclasses.fields(section.default_factory)
                    if not re.search(rf"^#? ?{f.name} = ", block, flags=re.M)]
    assert not missing
