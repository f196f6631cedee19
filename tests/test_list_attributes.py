"""`retention-list --attribute` and `POST /retention_list`'s ``attributes``: columns of the customers
table carried onto a retention list, as of the scores' date, so a marketing team can route contacts
by region or plan without joining back by hand.

The sample is :func:`served_store`'s data with a customers table as CRM exports hold them: a
``segment`` column of the company's own (beside churnml's segment), one customer's cell text a
spreadsheet would run as a formula, and a credit limit written as whole numbers. It is scored once
by `churnml score` with the store's champion models (the snapshot is what the list reads)."""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path

import openpyxl
import pandas as pd
import pytest
from typer.testing import CliRunner

from churnml import io
from churnml.cli import get_app
from churnml.schema import SEGMENTS

FORMULA = '=HYPERLINK("http://evil.example","click")'


@dataclass(frozen=True)
class Scored:
    root: Path
    scores: Path
    snapshots: Path
    customers: pd.DataFrame
    """The customers table as it was when the scores were written."""


@pytest.fixture(scope="module")
def scored(served_store, tmp_path_factory) -> Scored:
    root = tmp_path_factory.mktemp("list_attributes")
    data = root / "data"
    shutil.copytree(served_store.data, data)
    customers = pd.read_parquet(data / "customers.parquet")
    customers["segment"] = ["retail" if i % 2 else "business" for i in range(len(customers))]
    customers["credit_limit"] = [str(500 * (1 + i % 7)) for i in range(len(customers))]
    scores_ids = set(io.read_table(served_store.scores)["customer_id"])
    # A customer who will be on the list (the scores' riskiest) gets text that Excel would run.
    riskiest = io.read_table(served_store.scores).sort_values("value_at_risk").iloc[-1]["customer_id"]
    assert riskiest in scores_ids
    customers.loc[customers["customer_id"] == riskiest, "segment"] = FORMULA
    customers.to_parquet(data / "customers.parquet", index=False)
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(root)
        patch.setenv("MLFLOW_TRACKING_URI", served_store.tracking_uri)
        result = CliRunner().invoke(get_app(), ["score", str(data), "--as-of", served_store.as_of, "--out",
                                                str(root / "scores.parquet"), "--snapshots", str(root / "snapshots")])
    assert result.exit_code == 0, result.output
    # After scoring the customers move region: the list says where they were as of the scores' date.
    moved = customers.assign(region="moved")
    moved.to_parquet(data / "customers.parquet", index=False)
    return Scored(root, root / "scores.parquet", root / "snapshots", customers.set_index("customer_id"))


def _run(*args: object, cwd: Path) -> tuple[int, str, str]:
    result = CliRunner().invoke(get_app(), [str(a) for a in args], terminal_width=200)
    return result.exit_code, result.stdout, " ".join(result.stderr.split())


def test_retention_list_carries_customer_columns_as_of_the_scores_date(scored, monkeypatch) -> None:
    monkeypatch.chdir(scored.root)
    out = scored.root / "list.csv"
    code, _, err = _run("retention-list", scored.scores, "--snapshots", scored.snapshots, "--out", out, "--budget", "300",
                        "--attribute", "region,segment", "--attribute", "Credit_Limit", cwd=scored.root)
    assert code == 0, err
    raw = out.read_text(encoding="utf-8-sig")
    header = raw.splitlines()[0].split(",")
    # The customers' columns come last; the table's own segment is customer_segment, never in place of churnml's.
    assert header[-3:] == ["region", "customer_segment", "credit_limit"]
    assert header.count("segment") == 1 and header.index("segment") < header.index("segment_name")
    listed = io.read_table(out).set_index("customer_id")
    assert len(listed) > 5 and set(listed["segment"]) <= set(SEGMENTS)
    expected = scored.customers.loc[listed.index]
    assert (listed["region"] == expected["region"]).all() and "moved" not in set(listed["region"])
    assert (listed["customer_segment"] == expected["segment"]).all()
    assert FORMULA in set(listed["customer_segment"])  # read back as it was ...
    assert "'" + FORMULA.replace('"', '""') in raw and "," + FORMULA.replace('"', '""') not in raw  # ... written defused
    # Whole numbers as the data wrote them, not 1500.0.
    assert listed["credit_limit"].astype(int).tolist() == expected["credit_limit"].astype(int).tolist()
    assert all(line.split(",")[-1].isdigit() for line in raw.splitlines()[1:])
    summary = json.loads((scored.root / "list.csv.json").read_text())
    assert summary["attributes"] == {"region": "region", "customer_segment": "segment", "credit_limit": "credit_limit"}
    assert summary["attributes_from"] == str(io.snapshot_file("2025-12-01", scored.snapshots))

    # A workbook keeps the text as text (no formula), and Parquet the values as they are.
    code, _, err = _run("retention-list", scored.scores, "--snapshots", scored.snapshots, "--out", scored.root / "list.xlsx",
                        "--budget", "300", "--attribute", "region,segment,credit_limit", cwd=scored.root)
    assert code == 0, err
    sheet = openpyxl.load_workbook(scored.root / "list.xlsx")["retention list"]
    names = [c.value for c in sheet[1]]
    cells = {row[names.index("customer_id")].value: row for row in sheet.iter_rows(min_row=2)}
    formula_cell = next(row[names.index("customer_segment")] for row in cells.values()
                        if row[names.index("customer_segment")].value == FORMULA)
    assert formula_cell.data_type == "s"
    assert {row[names.index("credit_limit")].data_type for row in cells.values()} == {"n"}
    code, _, err = _run("retention-list", scored.scores, "--snapshots", scored.snapshots, "--out",
                        scored.root / "list.parquet", "--budget", "300", "--attribute", "segment", cwd=scored.root)
    assert code == 0, err
    frame = pd.read_parquet(scored.root / "list.parquet").set_index("customer_id")
    assert (frame["customer_segment"] == scored.customers.loc[frame.index, "segment"]).all()

    # The list report names them and where they came from; evaluate and report read such a list.
    code, _, err = _run("report", "--list", scored.root / "list.xlsx", "--out", scored.root / "list.html", cwd=scored.root)
    assert code == 0, err
    assert "customers columns on the list" in (scored.root / "list.html").read_text()


def test_config_names_the_columns_and_mistakes_are_clear(scored, monkeypatch) -> None:
    monkeypatch.chdir(scored.root)
    config = scored.root / "routing.toml"
    config.write_text('[targeting]\nattributes = ["region"]\n')
    out = scored.root / "configured.csv"
    code, _, err = _run("retention-list", scored.scores, "--snapshots", scored.snapshots, "--out", out, "--budget", "100",
                        "--config", config, cwd=scored.root)
    assert code == 0, err
    assert io.read_table(out).columns[-1] == "region"

    # Unknown names: exit 2, every one of them and the columns there named (the first alone was), no file written.
    bad = scored.root / "bad.csv"
    code, _, err = _run("retention-list", scored.scores, "--snapshots", scored.snapshots, "--out", bad, "--attribute",
                        "region,plan,tier", cwd=scored.root)
    assert code == 2 and "Traceback" not in err
    assert err.startswith("Error: --attribute plan, tier: no such customers columns in ")
    assert "Columns there: account_manager, acquisition_channel, age_band, credit_limit, product_tier, region, segment." in err
    assert not bad.exists() and not Path(f"{bad}.json").exists()
    code, _, err = _run("retention-list", scored.scores, "--snapshots", scored.snapshots, "--out", bad, "--config", config,
                        "--attribute", "customer_id", cwd=scored.root)
    assert code == 2 and "every retention list has customer_id already" in err

    # The snapshot of the scores' date is what the columns come from: without it, say so.
    code, _, err = _run("retention-list", scored.scores, "--snapshots", scored.root / "elsewhere", "--out", bad,
                        "--config", config, cwd=scored.root)
    assert code == 2 and not bad.exists()
    assert ("Error: [targeting] attributes reads the customers' columns as of 2025-12-01 from the snapshot `churnml score` "
            f"wrote for that date, and {scored.root / 'elsewhere' / 'features_2025-12-01.parquet'} is not there") in err
    # Scores of `score --engine spark`, which writes no snapshot: refused, saying why.
    spark = scored.root / "spark_scores.parquet"
    shutil.copy(scored.scores, spark)
    sidecar = json.loads(Path(f"{scored.scores}.json").read_text())
    Path(f"{spark}.json").write_text(json.dumps({**sidecar, "engine": "spark", "scores_sha256": None}))
    code, _, err = _run("retention-list", spark, "--snapshots", scored.root / "elsewhere", "--out", bad, "--attribute",
                        "region", cwd=scored.root)
    assert code == 2 and "written by `churnml score --engine spark`, which writes no feature snapshot" in err
