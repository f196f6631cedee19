"""HTML reports: a training run, a scores file and a retention list, built through `churnml report`.

All three come from the session's trained store (tests/conftest.py). Each page must hold every
section and embed its plots (no network); one screenshot per page in headless Chromium proves it
renders, and the PNGs stay in the test's tmp dir for a human look.
"""

from __future__ import annotations

import html
import json
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from matplotlib import image as mpimg
from typer.testing import CliRunner

from churnml import reports
from churnml.cli import get_app

pytestmark = pytest.mark.slow

runner = CliRunner()
CHROMIUM = "/usr/bin/chromium"


def _ok(result) -> None:
    assert result.exit_code == 0, result.output + result.stderr


@pytest.fixture(scope="module")
def inputs(trained_store, tmp_path_factory) -> dict[str, Path]:
    """A scores file at the test cutoff and a budgeted retention list made from it (each with its .json)."""
    folder = tmp_path_factory.mktemp("report_inputs")
    app = get_app()
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(trained_store.root)
        patch.setenv("MLFLOW_TRACKING_URI", trained_store.tracking_uri)
        scores = folder / "scores.parquet"
        _ok(runner.invoke(app, ["score", str(trained_store.data), "--as-of", trained_store.test_cutoff, "--out", str(scores),
                                "--snapshot-dir", str(folder / "snapshots")]))
        retention = folder / "list.csv"
        _ok(runner.invoke(app, ["retention-list", str(scores), "--out", str(retention), "--budget", "1000"]))
    return {"scores": scores, "list": retention}


@pytest.fixture(scope="module")
def pages(trained_store, inputs, tmp_path_factory) -> dict[str, Path]:
    """The three reports: champion run (default), scores at the test cutoff, a budgeted list."""
    folder = tmp_path_factory.mktemp("reports")
    app = get_app()
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(trained_store.root)
        patch.setenv("MLFLOW_TRACKING_URI", trained_store.tracking_uri)
        out = {"run": folder / "run.html", "scores": folder / "scores.html", "list": folder / "list.html"}
        _ok(runner.invoke(app, ["report", "--out", str(out["run"])]))
        _ok(runner.invoke(app, ["report", "--scores", str(inputs["scores"]), "--out", str(out["scores"])]))
        _ok(runner.invoke(app, ["report", "--list", str(inputs["list"]), "--out", str(out["list"])]))
    return out


SECTIONS = {"run": reports.RUN_SECTIONS, "scores": reports.SCORES_SECTIONS, "list": reports.LIST_SECTIONS}
MIN_IMAGES = {"run": 9, "scores": 5, "list": 1}


@pytest.mark.parametrize("kind", ["run", "scores", "list"])
def test_report_has_every_section_and_embedded_images_only(pages, kind):
    page = pages[kind].read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>")
    found = re.findall(r'<section id="([a-z-]+)">', page)
    assert found == list(SECTIONS[kind])
    images = re.findall(r'<img [^>]*src="([^"]+)"', page)
    assert len(images) >= MIN_IMAGES[kind]
    assert all(src.startswith("data:image/png;base64,") for src in images)
    # Self-contained: nothing fetched from anywhere.
    assert not re.search(r'(src|href)="(https?:)?//', page)
    assert "<script" not in page


def test_run_report_content(pages, use_trained_store):
    trained_store = use_trained_store
    page = pages["run"].read_text(encoding="utf-8")
    result = trained_store.result
    assert f"Overall grade <span class=\"grade\">{result.grades['overall']}</span>" in page
    # The legend states the whole rule for A, as metrics.grade applies it: the margin and the interval.
    assert ("A = clearly better than the best baseline: ≥ 0.02 higher ROC AUC for churn, normalized Gini for value, "
            "with the 95 % interval of the difference above 0; B = better; C = not better, or no better than chance") in page
    for name in ("recency_rule", "rfm_logistic", "spend_rate"):
        assert f"<th class=\"\">{name}</th>" in page
    assert f"{result.churn_metrics['model']['roc_auc']:.4f}" in page
    top_reasons = page[page.index('id="top-reasons"'):page.index('id="data-summary"')]
    assert 'alt="' in top_reasons and "most common reasons" in top_reasons
    assert "customers without transactions" in page
    assert "what churn means</th><td" in page and "churn = the account closes (a row in churn_events) within 90 days" in page
    # the registered model's level shift is stated, with the means before and after, and what is left out
    assert "a level shift of " in page and "log-odds to the test cutoff&#x27;s churn rate" in page
    assert "as graded" in page and "left out of the models" in page and "account_manager (" in page
    # How many the test metrics rest on (the trained store's test cutoff has hundreds of churners: no note).
    assert f" ({result.test_customers:,} customers, {result.test_churners:,} churned)</td>" in page
    assert result.test_churners >= 30 and "every churn metric rests on them" not in page
    # What the numbers mean, in sentences, with this run's own figures.
    model = result.churn_metrics["model"]
    assert (f"the model ranks the churner as riskier {model['roc_auc']:.0%} of the time (ROC AUC; 50% is chance)"
            in page)
    assert f"churn {model['lift_at_10']:.1f} times as often as customers on average (lift)" in page
    assert "The probabilities as graded." in page[page.index('id="calibration"'):]
    # the code, seed and threads that made the models: what reproducing the run needs beside the data
    from churnml.io import code_version

    code = code_version()
    overview = page[:page.index('id="model-vs-baselines"')]
    assert f'code</th><td class="l">churnml {code["churnml"]}' in overview and "; seed 3, 1 LightGBM thread(s)" in overview
    if "git_commit" in code:
        assert f"commit {code['git_commit']}" in overview
    # Calibration in numbers, not only a plot: expected against actual churners by decile of the
    # probability on the test cutoff, and the churn rate of every split (a model card's population).
    from churnml import tracking

    run = tracking._client().get_run(result.run_id).data
    test_rows, churn_rate = int(run.params["rows_test"]), run.metrics["churn_test_rate"]
    calibration = page[page.index('id="calibration"'):page.index('id="gains-lift"')]
    body = [re.findall(r"<td[^>]*>([^<]*)</td>", row) for row in re.findall(r"<tr>(.*?)</tr>", calibration)[1:]]
    assert [row[0] for row in body] == [*map(str, range(1, 11)), "all"]
    assert sum(int(row[3].replace(",", "")) for row in body[:-1]) == int(body[-1][3].replace(",", "")) == test_rows
    assert int(body[-1][5].replace(",", "")) == round(churn_rate * test_rows)
    assert float(body[-1][7]) == pytest.approx(churn_rate, abs=5e-5)
    assert [float(row[6]) for row in body[:-1]] == sorted(float(row[6]) for row in body[:-1])
    summary = page[page.index('id="data-summary"'):]
    for split in ("train", "validation", "test"):
        assert f"(churn rate {run.metrics[f'churn_{split}_rate']:.2%})" in summary


def test_scores_report_content(pages):
    page = pages["scores"].read_text(encoding="utf-8")
    assert "churn = the account closes (a row in churn_events) within 90 days" in page  # from the sidecar's models
    matrix = page[page.index('id="segment-matrix"'):page.index('id="value-by-segment"')]
    for name in ("High-value at risk", "Loyal high-value", "Potential", "Dormant / New customer / Low-value active", "Fleeing low-value"):
        assert name in matrix
    drift = page[page.index('id="drift"'):]
    assert "No drift" in drift and "score: churn_probability" in drift and "days_since_last_purchase" in drift
    reasons = page[page.index('id="reasons-by-segment"'):page.index('id="drift"')]
    assert "<td" in reasons and " N " in reasons
    # A year's value beside 90 days' read as a 75 % collapse: the span is named, and the plot compares like with like.
    value = page[page.index('id="value-by-segment"'):page.index('id="reasons-by-segment"')]
    assert "predicted value (90 d)" in value and "current value (365 d)" in value


def test_scores_and_list_reports_say_what_their_numbers_mean(pages, inputs):
    # A marketer opening the reports read "mean churn probability 0.072", "total value at risk 14,282"
    # and "expected ROI 201.2%" without a word of what they are or how they are made.
    page = html.unescape(pages["scores"].read_text(encoding="utf-8"))
    mean = pd.read_parquet(inputs["scores"])["churn_probability"].mean()
    overview = page[page.index('id="overview"'):page.index('id="score-distributions"')]
    assert f"the chance that a customer churns within the next 90 days ({mean:.3f} = {mean:.1%}: on average" in overview
    assert "value at risk is what they would bring if they stay, times that chance" in overview
    page = html.unescape(pages["list"].read_text(encoding="utf-8"))
    summary = page[page.index('id="retention-summary"'):page.index('id="roi-curve"')]
    assert "expected value saved = value at risk of the customers contacted × success rate 0.3" in summary
    assert "net benefit = value saved − contact cost; ROI = net benefit ÷ contact cost" in summary
    # A web page, not Markdown: a command quoted in backticks showed them ("until `churnml evaluate` measures").
    for name in ("scores", "list", "run"):
        if name in pages:
            text = re.sub(r"<(script|style)\b.*?</\1>|<[^>]+>", " ", html.unescape(pages[name].read_text(encoding="utf-8")), flags=re.S)
            assert "`" not in text, (name, text[max(text.find("`") - 80, 0):text.find("`") + 80])


def test_a_list_records_the_models_and_data_of_its_scores_and_keeps_them_when_the_scores_are_overwritten(
        inputs, pages, use_trained_store, tmp_path):
    # A list named only its scores file: once a daily `churnml score` overwrote scores.parquet with
    # other models, `evaluate LIST` and the list's report followed the file to the wrong run.
    import json

    from churnml import tracking
    from churnml.cli.report import _list_models_metadata

    result = use_trained_store.result
    summary = json.loads(inputs["list"].with_name(inputs["list"].name + ".json").read_text())
    assert summary["models"]["run_id"] == result.run_id and summary["models"]["churn_model_version"] == result.churn_version
    assert summary["data_fingerprint"] == use_trained_store.dataset.fingerprint
    assert summary["scores_code"]["churnml"] and "problem" not in summary["models"]
    assert f"run {result.run_id}" in pages["list"].read_text(encoding="utf-8")
    assert f"run {result.run_id}" in pages["scores"].read_text(encoding="utf-8")
    overwritten = tmp_path / "scores.parquet"
    sidecar = json.loads(inputs["scores"].with_name(inputs["scores"].name + ".json").read_text())
    sidecar["models"]["run_id"] = "0" * 32  # the file now holds scores of another run
    overwritten.write_bytes(inputs["scores"].read_bytes())
    overwritten.with_name(overwritten.name + ".json").write_text(json.dumps(sidecar))
    assert _list_models_metadata({**summary, "scores": str(overwritten)}) == tracking.load_run_metadata(result.run_id)


def test_list_report_content(pages):
    page = pages["list"].read_text(encoding="utf-8")
    assert "expected value saved (next 90 days)" in page and "Expected value saved vs budget" in page
    assert "stopped by the budget)" in page or "(every candidate)" in page
    assert '<th class="l">budget</th><td class="l">1,000.00</td>' in page
    assert "left out: Loyal high-value ([targeting] skip_segments)" in page
    # How many contacts open with each talking point, as the list's talking_point column says.
    points = page[page.index('id="talking-points"'):]
    assert "By talking point" in points and "Lead with the service issue: ask whether it was resolved and put right what is still open before any offer" in points


def test_the_list_gives_each_contact_the_talking_point_of_their_strongest_reason(inputs, tmp_path):
    # Real scores, a real list: the talking point is that of the first of the customer's reasons whose
    # topic has one, in the CSV and the workbook alike; a complaint first opens with an apology.
    from churnml.segments import DEFAULT_TALKING_POINTS

    listed = pd.read_csv(inputs["list"], keep_default_na=False, encoding="utf-8-sig", dtype={"customer_id": str})
    scores = pd.read_parquet(inputs["scores"]).set_index("customer_id")
    topics = scores.loc[listed["customer_id"], "reason_topics"].str.split("; ")
    expected = [next((DEFAULT_TALKING_POINTS[t] for t in row if DEFAULT_TALKING_POINTS.get(t)), "") for row in topics]
    assert listed["talking_point"].tolist() == expected
    first = topics.str[0].to_numpy()
    assert (first == "service").any() and (listed.loc[first == "service", "talking_point"]
                                           == DEFAULT_TALKING_POINTS["service"]).all()
    assert (listed.loc[listed["reasons"] == "", "talking_point"] == "").all()
    workbook = tmp_path / "list.xlsx"
    _ok(runner.invoke(get_app(), ["retention-list", str(inputs["scores"]), "--out", str(workbook), "--budget", "1000"]))
    sheet = pd.read_excel(workbook, sheet_name="retention list", keep_default_na=False, dtype={"customer_id": str})
    assert sheet["talking_point"].tolist() == listed["talking_point"].tolist()


def test_the_workbook_and_the_summary_file_count_the_contacts_per_talking_point(inputs, tmp_path):
    # The terminal and the list report said how many contacts open with each talking point; the
    # workbook's summary sheet and the list's .json, what a marketer and a CRM import read, did not.
    app = get_app()
    args = ["--holdout", "0.2"]  # a control group, which nobody contacts: not counted
    csv, workbook = tmp_path / "list.csv", tmp_path / "list.xlsx"
    _ok(runner.invoke(app, ["retention-list", str(inputs["scores"]), "--out", str(csv), *args]))
    _ok(runner.invoke(app, ["retention-list", str(inputs["scores"]), "--out", str(workbook), *args]))
    listed = pd.read_csv(csv, keep_default_na=False, encoding="utf-8-sig", dtype={"customer_id": str})
    contacts = listed.loc[listed["group"] == "contact", "talking_point"]
    expected = contacts[contacts != ""].value_counts().to_dict()
    without = int((contacts == "").sum())
    # A list that tests it: several talking points, contacts without one, and a control group with
    # reasons (whose talking point would be counted if the control group were not left out).
    control = listed[listed["group"] == "control"]
    assert len(expected) >= 2 and without > 0 and (control["reasons"] != "").any()

    for path in (csv, workbook):
        summary = json.loads(path.with_name(path.name + ".json").read_text())
        assert {row["talking_point"]: row["customers"] for row in summary["by_talking_point"]} == expected
        assert [row["customers"] for row in summary["by_talking_point"]] == sorted(expected.values(), reverse=True)
        assert summary["without_talking_point"] == without
    sheet = pd.read_excel(workbook, sheet_name="summary", keep_default_na=False)
    lines = dict(zip(sheet["what"], sheet["value"]))
    assert {what.removeprefix("by talking point: "): int(n) for what, n in lines.items()
            if what.startswith("by talking point: ") and what != "by talking point: none (empty cell)"} == expected
    assert int(lines["by talking point: none (empty cell)"]) == without


def test_an_empty_list_is_reported_with_the_reason_it_is_empty(inputs, tmp_path):
    # A budget below one contact: the list is a header only, whose columns a CSV reader types as
    # text, and `report --list` refused it ("column churn_probability must hold numbers").
    empty = tmp_path / "empty.csv"
    _ok(runner.invoke(get_app(), ["retention-list", str(inputs["scores"]), "--out", str(empty), "--budget", "0.01"]))
    out = tmp_path / "empty.html"
    _ok(runner.invoke(get_app(), ["report", "--list", str(empty), "--out", str(out)]))
    page = html.unescape(out.read_text(encoding="utf-8"))
    # The reason once, among the summary's warnings, where the by-segment table points.
    assert page.count("Warning: The budget (0.01) pays for no contact: a contact costs 5.00, for each of the ") == 1
    assert "Nobody selected: the summary's warnings say why." in page


def test_the_retention_list_csv_opens_in_a_spreadsheet_and_says_what_was_asked(inputs):
    # Without a byte-order mark, Excel read the UTF-8 list as the Windows code page ("RÃ¼ckruf").
    raw = inputs["list"].read_bytes()
    assert raw.startswith(b"\xef\xbb\xbfrank,customer_id,as_of,segment,segment_name,")
    summary = json.loads(inputs["list"].with_name("list.csv.json").read_text())
    assert summary["budget"] == 1000.0 and summary["horizon_days"] == 90 and summary["limited_by"] in ("budget", "none")


def test_reason_templates_group_customers_by_sentence():
    counts = reports.reason_counts(["no purchase for 74 days; only 1 purchase in the last 90 days",
                                    "no purchase for 12 days; only 3 purchases in the last 90 days", "", "plan: basic"])
    # "1 purchase" and "3 purchases" are one template.
    assert counts == {"no purchase for N days": 2, "only N purchases in the last 90 days": 2, "plan: basic": 1}


def test_reason_templates_keep_the_percent_sign():
    # The scores report's top reasons read "spend down N on the previous quarter": the % went with the
    # number, and a marketer read an amount of money where the reason is a share.
    counts = reports.reason_counts(["spend down 58% on the previous quarter", "spend down 40% on the previous quarter"])
    assert counts == {"spend down N% on the previous quarter": 2}


def _screenshot(page: Path, png: Path, profile: Path) -> None:
    command = [
        CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        f"--user-data-dir={profile}", f"--screenshot={png}", "--window-size=1280,2000", page.resolve().as_uri(),
    ]
    completed = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert png.is_file(), f"chromium wrote no screenshot (exit {completed.returncode}): {completed.stderr[-2000:]}"


@pytest.mark.skipif(shutil.which(CHROMIUM) is None, reason=f"{CHROMIUM} is not installed (`make browser` installs it)")
@pytest.mark.parametrize("kind", ["run", "scores", "list"])
def test_report_renders_in_headless_chromium(pages, kind, tmp_path):
    png = tmp_path / f"{kind}_report.png"
    _screenshot(pages[kind], png, tmp_path / "profile")
    assert png.stat().st_size > 50_000
    pixels = mpimg.imread(png)[..., :3]
    assert pixels.shape[:2] == (2000, 1280)
    # Not blank: plenty of non-white pixels, and more than a couple of colours.
    assert (pixels.mean(axis=2) < 0.95).mean() > 0.03
    assert len(np.unique((pixels[::8, ::8] * 255).astype(np.uint8).reshape(-1, 3), axis=0)) > 50


# ---------------------------------------------------------------------------------------------
# Wrong input: a clear `Error:` naming the file, what is wrong and the fix; never a traceback
# ---------------------------------------------------------------------------------------------


def _copy(inputs: dict[str, Path], kind: str, folder: Path) -> Path:
    """A private copy of the scores file or list and its .json, to spoil without touching the others."""
    source = inputs[kind]
    target = folder / source.name
    shutil.copy(source, target)
    shutil.copy(source.with_name(source.name + ".json"), target.with_name(target.name + ".json"))
    return target


def _error(args: list[str]) -> str:
    """Run `churnml ARGS`, check it failed as a user mistake (exit 2, no traceback) and return the message."""
    result = runner.invoke(get_app(), args)
    assert result.exit_code == 2, (result.exit_code, result.output, result.exception)
    assert "Traceback" not in result.output + result.stderr
    assert result.stderr.startswith("Error: ")
    return result.stderr.strip()


def test_scores_option_given_a_retention_list_says_pass_it_as_list(inputs, tmp_path):
    out = tmp_path / "report.html"
    message = _error(["report", "--scores", str(inputs["list"]), "--out", str(out)])
    assert message == (f"Error: {inputs['list']} looks like a retention list (it has columns rank, expected_benefit), "
                       "not a scores table; pass it as --list.")
    assert not out.exists()
    # The kind of the table is checked first: a spoilt .json beside it does not hide the mix-up.
    spoilt = _copy(inputs, "list", tmp_path)
    spoilt.with_name("list.csv.json").write_text("{", encoding="utf-8")
    assert "looks like a retention list" in _error(["report", "--scores", str(spoilt), "--out", str(out)])


def test_retention_list_given_a_retention_list_says_pass_the_scores(inputs, tmp_path):
    # It used to rank the list's rows again, silently.
    out = tmp_path / "again.csv"
    message = _error(["retention-list", str(inputs["list"]), "--out", str(out), "--budget", "500"])
    assert message == (f"Error: {inputs['list']} looks like a retention list (it has columns rank, expected_benefit), "
                       "not a scores table; pass the scores file `churnml score` wrote.")
    assert not out.exists()


def test_list_option_given_a_scores_table_says_pass_it_as_scores(inputs, tmp_path):
    out = tmp_path / "report.html"
    message = _error(["report", "--list", str(inputs["scores"]), "--out", str(out)])
    assert message.startswith(f"Error: {inputs['scores']} looks like a scores table (it has columns "
                              "churn_model_version, value_model_version, current_value), not a retention list; pass it as --scores")
    assert f"`churnml retention-list {inputs['scores']} --out list.csv`" in message
    assert not out.exists()


@pytest.mark.parametrize("kind, option, writer", [("scores", "--scores", "churnml score"),
                                                  ("list", "--list", "churnml retention-list")], ids=["scores", "list"])
@pytest.mark.parametrize("content, problem", [
    ('{"as_of": ', "is not valid JSON (Expecting value: line 1 column 11 (char 10))"),
    ("\udcff not text", "is not valid JSON ('utf-8' codec can't decode byte 0xff"),
    ("[1, 2]", "holds a JSON list, not the object"),
], ids=["truncated", "not-utf8", "not-an-object"])
def test_corrupt_json_beside_the_input_says_which_file_and_to_rerun_its_writer(inputs, tmp_path, kind, option, writer,
                                                                               content, problem):
    path = _copy(inputs, kind, tmp_path)
    sidecar = path.with_name(path.name + ".json")
    sidecar.write_bytes(content.encode("utf-8", "surrogateescape"))
    message = _error(["report", option, str(path), "--out", str(tmp_path / "report.html")])
    assert message.startswith(f"Error: {sidecar} {problem}")
    assert f"`{writer}`" in message and ("re-run that command" in message or "Re-run that command" in message)


def test_scores_with_a_list_summary_beside_them(inputs, tmp_path):
    path = _copy(inputs, "scores", tmp_path)
    shutil.copy(inputs["list"].with_name("list.csv.json"), tmp_path / "scores.parquet.json")
    message = _error(["report", "--scores", str(path), "--out", str(tmp_path / "report.html")])
    assert message == (f"Error: {path}.json is the summary of a retention list, not the sidecar `churnml score` writes beside "
                       "a scores table. Re-run `churnml score` to write scores.parquet and its sidecar again, or delete "
                       "scores.parquet.json.")


def test_list_with_a_scores_sidecar_or_a_spoilt_summary_beside_it(inputs, tmp_path):
    path = _copy(inputs, "list", tmp_path)
    summary = path.with_name("list.csv.json")
    args = ["report", "--list", str(path), "--out", str(tmp_path / "report.html")]
    again = "Re-run `churnml retention-list` to write list.csv and its summary again."

    shutil.copy(inputs["scores"].with_name("scores.parquet.json"), summary)
    assert _error(args) == f"Error: {summary} is the sidecar of a scores table, not the summary of a retention list. {again}"

    good = json.loads(inputs["list"].with_name("list.csv.json").read_text(encoding="utf-8"))
    summary.write_text(json.dumps({k: v for k, v in good.items() if k not in ("limited_by", "roi")}), encoding="utf-8")
    assert _error(args) == f"Error: {summary} is not a retention-list summary: it lacks limited_by, roi. {again}"

    summary.write_text(json.dumps({**good, "selected": "many", "by_segment": [{"segment": "dormant"}]}), encoding="utf-8")
    assert _error(args) == f"Error: {summary} is not a retention-list summary: selected, by_segment have the wrong type. {again}"

    summary.unlink()
    assert _error(args) == ("Error: " f"{path} has no summary list.csv.json beside it. "
                            "Write the list with `churnml retention-list`, which writes both.")


def test_a_table_of_neither_kind_or_with_text_for_numbers(inputs, trained_store, tmp_path):
    customers = next(trained_store.data.glob("customers.*"))
    message = _error(["report", "--scores", str(customers), "--out", str(tmp_path / "report.html")])
    assert message.startswith(f"Error: {customers} is not a scores table: it lacks column(s) churn_probability, predicted_value,")
    assert message.endswith("Pass a scores table written by `churnml score`.")

    path = tmp_path / "list.csv"
    table = pd.read_csv(inputs["list"])
    table["value_at_risk"] = table["value_at_risk"].astype(object)
    table.loc[len(table) // 2, "value_at_risk"] = "lots"
    table.to_csv(path, index=False)
    shutil.copy(inputs["list"].with_name("list.csv.json"), tmp_path / "list.csv.json")
    message = _error(["report", "--list", str(path), "--out", str(tmp_path / "report.html")])
    assert message == (f"Error: {path}: column value_at_risk must hold numbers, not 'lots'. "
                       "Pass the retention list as `churnml retention-list` wrote it, or write it again.")


def test_unknown_run_id_lists_the_training_runs(use_trained_store, tmp_path):
    message = _error(["report", "--run-id", "nope", "--out", str(tmp_path / "report.html")])
    run_id = use_trained_store.result.run_id
    assert message.startswith(f"Error: No training run 'nope' in {use_trained_store.tracking_uri}. Its training runs, newest first: ")
    assert f"{run_id} (churnml-churn v" in message
    assert message.endswith("Pass one of them as --run-id, or leave --run-id out for the champion's run.")
    assert "column run" not in message  # `churnml models` shows no run ids


def test_evaluate_given_a_retention_list_says_pass_the_scores_it_came_from(inputs, trained_store):
    message = _error(["evaluate", str(inputs["list"]), str(trained_store.data)])
    assert message == (f"Error: {inputs['list']} is a retention list without a control group (no column group): evaluate "
                       "measures a list made with `churnml retention-list --holdout SHARE`. To backtest the scores, pass "
                       'the scores file it was made from (its summary list.csv.json names it under "scores").')


def test_the_run_report_names_the_baselines_the_run_was_graded_against() -> None:
    # Since the regressions on every feature joined the baselines, the report of a run trained
    # before them said its grade was measured against them too.
    from types import SimpleNamespace

    def churn():
        return {"roc_auc": 0.8, "pr_auc": 0.3, "brier": 0.1, "ece": 0.01, "lift_at_10": 3.0, "emp": 0.1}

    def value():
        return {"normalized_gini": 0.9, "spearman": 0.5, "mae": 10.0, "top20_value_capture": 0.6}

    def page(churn_baselines, value_baselines):
        tests = {"churn": {"model": churn(), **{b: churn() for b in churn_baselines}},
                 "value": {"model": value(), **{b: value() for b in value_baselines}}}
        meta = {"grades": {"churn": "A", "value": "B"}, "grade": "B", "test_metrics": tests}
        text = reports.run_report(SimpleNamespace(run_id="r" * 32, metrics={}, params={}, tags={}, metadata=meta, report_data=None))
        return text[text.index("Churn: grade"):].split("</p>")[0]

    old = page(["recency_rule", "rfm_logistic"], ["spend_rate"])
    assert old == ("Churn: grade A on ROC AUC against the better of the recency rule and RFM logistic regression. Value: "
                   "grade B on normalized Gini against the historical spend rate.")
    new = page(["recency_rule", "rfm_logistic", "feature_logistic"], ["spend_rate", "feature_poisson"])
    assert new.startswith("Churn: grade A on ROC AUC against the best of the recency rule, RFM logistic regression and "
                          "logistic regression on every feature. Value: grade B on normalized Gini against the better of "
                          "the historical spend rate and a Poisson regression on every feature. The regressions on every")


def test_the_run_report_says_where_the_value_level_was_fitted() -> None:
    # With a 365-day horizon the test cutoff is the one a year back: the report said "no cutoff
    # lies a year before the as-of date" for the very cutoff a year before it.
    meta = {"calibration": "isotonic", "level_shift": 0.1, "value_level_factor": 1.1, "as_of": "2026-01-01",
            "cutoffs": {"test": ["2025-01-01"]}, "value_level_fitted_on": ["2025-01-01"]}
    assert "value at 2025-01-01, a year before the as-of date" in reports._calibration_text(meta, {}, {})
    # Why the method is not the one the log loss chose is said where the method is named.
    note = "Platt scaling, not isotonic: isotonic calibration gave the 512 validation customers only 9 distinct"
    assert reports._calibration_text({**meta, "calibration": "platt", "calibration_note": note}, {}, {}).startswith(
        f"{note} on the validation cutoff; then")
    short = {**meta, "cutoffs": {"test": ["2025-10-03"]}, "value_level_fitted_on": ["2025-10-03"]}
    assert "value at the test cutoff (2025-10-03): no cutoff lies a year before" in reports._calibration_text(short, {}, {})
    old = {key: v for key, v in meta.items() if key != "value_level_fitted_on"}
    assert reports._calibration_text(old, {}, {}).endswith("value at the test cutoff. The metrics and plots on this page "
                                                           "are those of the models as graded.")


def test_the_run_report_says_a_season_half_a_60_day_step_off_is_the_year_before() -> None:
    # Trained with a 60-day step, the value level went to the cutoff 390 days before the as-of date
    # (25 days off a year, within half a step: the season rule the drift reference records); the
    # report, matching within a fixed 15 days, said no cutoff lay a year before it.
    meta = {"calibration": "platt", "level_shift": 0.1, "value_level_factor": 1.1, "as_of": "2025-12-01",
            "cutoffs": {"test": ["2025-09-02"]}, "value_level_fitted_on": ["2024-11-06"],
            "monitoring_reference": {"season_tolerance_days": 30.0, "data_start": "2021-01-01"}}
    assert "value at 2024-11-06, a year before the as-of date" in reports._calibration_text(meta, {}, {})
    young = {**meta, "monitoring_reference": {"season_tolerance_days": 30.0, "data_start": "2024-01-01"}}
    assert "no cutoff lies a year before the as-of date with a year of data before it" in reports._calibration_text(young, {}, {})


def test_the_plain_words_say_how_far_the_probabilities_ran_from_the_churn_rate() -> None:
    # "Off by 2.0 percentage points on average (ECE): of customers given 30%, about 30% churn" was
    # said of every run. On 3,000 generated customers (seed 7, trained as of 2025-10-01) the churn
    # rate at the test cutoff was 6.9 % and the probabilities as graded averaged 8.9 %; the top tenth
    # was given 32 % on average and 22 % of it churned. Two points of 6.9 % are 29 % too many.
    from types import SimpleNamespace

    churn = {"roc_auc": 0.7984, "lift_at_10": 3.2, "recall_at_20": 0.52, "ece": 0.0198}
    meta = {"grades": {"churn": "B", "value": "B"}, "grade": "B", "base_rate": 90 / 1307,
            "test_metrics": {"churn": {"model": churn}, "value": {"model": {"top20_value_capture": 0.79}}}}
    metrics = {"churn_test_rate": 90 / 1307, "churn_test_mean_predicted_graded": 115.8 / 1307}

    def plain(metrics):
        text = reports.run_report(SimpleNamespace(run_id="r" * 32, metrics=metrics, params={}, tags={}, metadata=meta,
                                                  report_data=None))
        return html.unescape(text[text.index("In plain words"):].split("</p>")[0])

    said = plain(metrics)
    assert "about 30% churn" not in said
    assert "off by 2.0 percentage points on average (ECE)" in said
    # 90 of 1,307 churned (6.9 %); the probabilities summed to 115.8 (8.9 %): 115.8 / 90 - 1 = 29 % above.
    assert "churn rate of 6.9%" in said and "averaged 8.9%" in said and "29% above" in said, said
    # A run that did not log the graded mean still gets the churn rate, and no claim it cannot back.
    older = plain({})
    assert "churn rate of 6.9%" in older and "about 30% churn" not in older and "averaged" not in older


def test_the_value_by_segment_plot_keeps_seven_long_segment_names_apart() -> None:
    # Upright bars with the names as slanted x labels: with 7 segments "New customer" and
    # "Low-value active" nearly touched, and display names from [segments] names ran into each other.
    from churnml import plots
    from churnml.segments import SEGMENTS

    names = ["High-value customers at risk", "Loyal high-value customers", "Potential growers",
             "Newly signed-up customers", "Active small spenders", "Dormant accounts", "Fleeing low-value accounts"]
    assert len(names) == len(SEGMENTS)
    totals = pd.DataFrame({"current_value": [9e5, 1.5e6, 4e5, 3e4, 6e4, 8e4, 1.2e5],
                           "predicted_value": [1.5e5, 3.8e5, 9e4, 1.2e4, 2e4, 5e3, 1e4]}, index=names)
    ax = plots.plot_value_by_segment(totals, 90)
    ax.figure.canvas.draw()
    renderer = ax.figure.canvas.get_renderer()
    labels = [t for t in ax.get_xticklabels() + ax.get_yticklabels() if " ".join(t.get_text().split()) in names]
    assert sorted(" ".join(t.get_text().split()) for t in labels) == sorted(names)
    boxes = [t.get_window_extent(renderer) for t in labels]
    figure = ax.figure.bbox
    for box in boxes:
        assert figure.x0 <= box.x0 and box.x1 <= figure.x1 and figure.y0 <= box.y0 and box.y1 <= figure.y1
    for i, box in enumerate(boxes):
        for other in boxes[i + 1:]:
            assert not box.overlaps(other), (box, other)


def test_the_segment_matrix_draws_a_cell_of_several_segments_inside_the_cell() -> None:
    # The little-value cells hold dormant, new_customer and low_value_active: "Dormant / New customer /
    # Low-value active" on one line ran into the next cells' text.
    from churnml import plots
    from churnml.segments import RISK_TIERS, VALUE_TIERS

    counts = pd.DataFrame(1000, index=list(VALUE_TIERS), columns=list(RISK_TIERS))
    risk = pd.DataFrame(5000.0, index=list(VALUE_TIERS), columns=list(RISK_TIERS))
    labels = pd.DataFrame("Fleeing low-value", index=list(VALUE_TIERS), columns=list(RISK_TIERS))
    labels.loc["low", ["low", "medium"]] = "Dormant / New customer / Low-value active"
    ax = plots.plot_segment_matrix(counts, risk, labels)
    renderer = ax.figure.canvas.get_renderer()
    cell_width = ax.transData.transform((1, 0))[0] - ax.transData.transform((0, 0))[0]
    texts = [t for t in ax.texts if "customers" in t.get_text()]
    assert len(texts) == 9
    assert max(t.get_window_extent(renderer).width for t in texts) < cell_width
    several = [t for t in texts if t.get_text().startswith("Dormant /\nNew customer /\nLow-value active\n")]
    assert len(several) == 2


def test_the_list_reports_contacts_without_a_talking_point_as_a_row_of_the_table():
    # 119 of 671 contacts had no talking point: the table's shares added up to 82.3 % and the 119
    # were only in the note under it. The control group is not counted: nobody contacts it.
    from churnml.reports import list_report
    from churnml.targeting import retention_list

    scores = pd.DataFrame({
        "customer_id": [f"c{i}" for i in range(40)], "segment": "high_value_at_risk", "churn_probability": 0.5,
        "predicted_value": 300.0, "value_at_risk": np.linspace(500, 300, 40),
        "reasons": ["a complaint open for 12 days", "", "region: west", "no purchase for 40 days (usually every 9)"] * 10,
        "reason_topics": ["service", "", "attribute", "buying_less"] * 10,
    })
    result = retention_list(scores, contact_cost=5, success_rate=0.3, holdout=0.2)
    contacts = result.customers[result.customers["group"] == "contact"]
    page = list_report(result.customers, result.summary.to_dict())
    # "value at risk on the list" gave the contacts' sum, short of the list's column by the control group's.
    assert result.summary.value_at_risk == pytest.approx(contacts["value_at_risk"].sum(), abs=0.005 * len(contacts))
    at_risk = f"{result.summary.value_at_risk:,.2f}"
    assert f'value at risk of the contacts, if nobody is contacted</th><td class="l">{at_risk}</td>' in page
    assert at_risk != f"{result.customers['value_at_risk'].sum():,.2f}"
    points = page[page.index('id="talking-points"'):]
    rows = dict(re.findall(r'<td class="l">([^<]*)</td><td class="">([\d,]+)</td>', points))
    assert rows["– none (empty cell)"] == str(int((contacts["talking_point"] == "").sum())) != "0"
    assert sum(int(n) for n in rows.values()) == len(contacts) < len(result.customers)


def test_the_list_reports_budget_curve_shows_what_a_smaller_budget_buys_where_contacts_cost_differently():
    # Calls at 40 ranked above e-mails at 0.5: the curve walked the list in rank order, so the first 40
    # spent read as one call saving 90, where a budget of 40 buys 80 e-mails saving 1,200; on 4,000
    # generated customers it read 200 at 40 where the list for 40 saves 555, and rose steeply after
    # the calls, under a note saying it flattens.
    from churnml.config import Config
    from churnml.reports import budget_curve, list_report
    from churnml.targeting import retention_list

    scores = pd.DataFrame({
        "customer_id": ["H0"] + [f"P{i:03d}" for i in range(200)],
        "segment": ["high_value_at_risk"] + ["potential"] * 200, "churn_probability": 0.5, "predicted_value": 100.0,
        "value_at_risk": [300.0] + [50.0] * 200, "reasons": "",
    })
    config = Config().replace(targeting={"contact_costs": {"high_value_at_risk": 40.0, "potential": 0.5}})
    whole = retention_list(scores, success_rate=0.3, config=config)
    assert whole.customers["customer_id"].iloc[0] == "H0"  # the call ranks first: the most benefit
    cost, saved = budget_curve(whole.customers, 0.3, 5.0)
    smaller = retention_list(scores, budget=40, success_rate=0.3, config=config).summary
    assert saved[np.flatnonzero(cost == 40)[0]] == pytest.approx(smaller.expected_value_saved) == 1200
    assert (cost[-1], saved[-1]) == pytest.approx((whole.summary.total_cost, whole.summary.expected_value_saved))
    steps = np.diff(np.concatenate([[0.0], saved])) / np.diff(np.concatenate([[0.0], cost]))
    assert (np.diff(steps) <= 1e-9).all()  # each unit spent saves no more than the one before: it flattens
    page = list_report(whole.customers, whole.summary.to_dict(), config)
    assert "The list's contacts, the most value saved per unit of cost first (with one cost for all, the rank order)" in (
        html.unescape(page))


def test_the_list_reports_segments_count_money_to_the_cent():
    # By segment read "Dormant 9 cost 4" for 9 e-mails at 0.5 (4.50 in the terminal and the workbook),
    # and "New customer 43 cost 22" for 21.50: whole units, rounded half to even.
    from churnml.config import Config
    from churnml.reports import list_report
    from churnml.targeting import retention_list

    scores = pd.DataFrame({"customer_id": [f"d{i}" for i in range(9)], "segment": "dormant", "churn_probability": 0.5,
                           "predicted_value": 10.0, "value_at_risk": 10.0, "reasons": ""})
    config = Config().replace(targeting={"contact_costs": {"dormant": 0.5}})
    result = retention_list(scores, success_rate=0.3, config=config)
    by_segment = result.summary.to_dict()["by_segment"]
    page = list_report(result.customers, result.summary.to_dict(), config)
    section = page[page.index('id="by-segment"'):page.index('id="talking-points"')]
    assert '<td class="l">Dormant</td><td class="">9</td><td class="">4.50</td><td class="">27.00</td><td class="">22.50</td>' in (
        section), section
    assert by_segment[0]["total_cost"] == 4.5


def test_the_run_reports_data_summary_says_how_many_order_lines_became_orders(tmp_path) -> None:
    """With [input] order_lines, the transactions' rows are order lines and the purchases orders: the
    data summary said "rows 379,704" and nothing of the 130,925 orders the models counted."""
    from churnml.config import config_from_dict
    from churnml.validate import load_dataset

    folder = tmp_path / "d"
    folder.mkdir()
    pd.DataFrame({"customer_id": ["a", "b"], "signup_date": ["2020-01-01"] * 2}).to_csv(folder / "customers.csv", index=False)
    pd.DataFrame({"order": ["1", "1", "2", "3", "3", "3"], "customer_id": ["a", "a", "a", "b", "b", "b"],
                  "timestamp": ["2021-01-01"] * 6, "amount": [1, 2, 3, 4, 5, 6]}).to_csv(folder / "transactions.csv", index=False)
    config = config_from_dict({"columns": {"transactions": {"transaction_id": "order"}},
                               "input": {"order_lines": True, "data_end": "2021-12-31"}})
    summary = load_dataset(folder, config).summary
    text = reports._data_summary(summary, {})
    assert "order lines merged" in text and "6 lines of transactions into 3 orders ([input] order_lines)" in text
    assert "order lines merged" not in reports._data_summary(load_dataset(folder).summary, {})


def test_gains_and_lift_curves_split_ties_as_the_metrics_do():
    # The run's lift plot drew the recency rule (two scores) in row order: its lift read 3.06 at 1 %
    # and 1.43 at 10 % of the customers, where the table said 1.49, across customers the rule ranks
    # alike. Within tied scores any order is as likely; the curves now show the expected one.
    from churnml import metrics, plots

    rng = np.random.default_rng(3)
    n = 1000
    churned = (rng.random(n) < 0.1).astype(int)
    churned[:40] = 1  # the rows first in the file churn: row order must not show
    rule = np.where(rng.random(n) < 0.4 + 0.4 * churned, 0.2, 0.05)  # flagged or not
    model = np.round(rng.random(n) * 0.5 + 0.3 * churned, 2)  # many ties too
    scores = {"rule": rule, "model": model, "constant": np.full(n, 0.1)}
    gains, lift = plots.plot_gains(churned, scores), plots.plot_lift(churned, scores)
    for line in gains.lines[:3]:
        x, found = line.get_xdata(), line.get_ydata()
        score = scores[line.get_label()]
        for share in (0.1, 0.2, 0.5):
            k = round(share * n)
            assert found[k] == pytest.approx(metrics.recall_at(churned, score, share)), (line.get_label(), share)
    constant = next(line for line in gains.lines if line.get_label() == "constant")
    assert np.allclose(constant.get_ydata(), constant.get_xdata())  # no ranking: the diagonal
    for line in lift.lines[:3]:
        x, shown = line.get_xdata(), line.get_ydata()
        k = round(0.1 * n)
        assert shown[k - 1] == pytest.approx(metrics.lift_at(churned, scores[line.get_label()], 0.1)), line.get_label()


def test_the_drift_table_has_the_pages_width_not_half_of_it():
    # Beside the PSI chart, in half the page, the table scrolled sideways: at 1,400 pixels its
    # "new categories" and "compared with" columns were out of view.
    monitoring = {
        "psi_threshold": 0.2, "drifted": False, "model_age_days": 3, "max_model_age_days": 120,
        "season_cutoff": "2025-01-06", "reference_cutoff": "2025-10-03",
        "scores": {"churn_probability": {"psi": 0.01, "mean_reference": 0.07, "mean": 0.08}},
        "features": [{"feature": "region", "psi": 0.02, "missing_rate_reference": 0.0, "missing_rate": 0.0,
                      "new_categories": ["atlantis"], "reference": "2025-01-06"},
                     {"feature": "monetary_90d", "psi": 0.01, "missing_rate_reference": 0.0, "missing_rate": 0.0,
                      "mean_reference": 150.0, "mean": 140.0, "reference": "2025-01-06"}],
    }
    section = reports.drift_html(monitoring)
    assert "<th class=\"l\">new categories</th>" in section and "<th class=\"l\">compared with</th>" in section
    assert "<td class=\"l\">atlantis</td>" in section
    grids = re.findall(r'<div class="grid">(.*?)</div>', section, flags=re.S)
    assert grids and all("<img" in grid for grid in grids)          # the chart is in one
    assert not any("<table" in grid for grid in grids), grids       # the table is not


def test_the_list_report_gives_the_contacts_and_the_control_group_apart():
    # "180 customers, expected net benefit …" and "customers on the list 180" counted the 17 of the
    # control group, whom nobody is to contact.
    from churnml.reports import list_report
    from churnml.targeting import retention_list

    scores = pd.DataFrame({"customer_id": [f"c{i}" for i in range(60)], "segment": "potential", "churn_probability": 0.5,
                           "predicted_value": 100.0, "value_at_risk": np.linspace(600, 300, 60), "reasons": ""})
    result = retention_list(scores, contact_cost=5, success_rate=0.3, holdout=0.2)
    control = int((result.customers["group"] == "control").sum())
    assert 0 < control < len(result.customers)
    size = f"{len(result.customers) - control} to contact + {control} control group"
    page = list_report(result.customers, result.summary.to_dict())
    assert f'<p class="sub">{size}, expected net benefit ' in page
    assert f'customers on the list</th><td class="l">{size}</td>' in page
    assert (f'selected</th><td class="l">{len(result.customers)} (every candidate)</td></tr><tr><th class="l">to contact</th>'
            f'<td class="l">{len(result.customers) - control}</td></tr><tr><th class="l">control group, not to contact (20%)</th>'
            f'<td class="l">{control}</td>') in page
    plain = retention_list(scores, contact_cost=5, success_rate=0.3)
    assert '<p class="sub">60 to contact, expected net benefit ' in list_report(plain.customers, plain.summary.to_dict())


def test_reason_templates_keep_a_numbers_band_shape() -> None:
    # "monthly fee: 89.5 (band 80–95), where churn runs 1.6× the average": every fee is one reason in the
    # top reasons, as before its band was said; a band's edges are numbers, its open ends stay words.
    counts = reports.reason_counts(["monthly fee: 89.5 (band 80–95), where churn runs 1.6× the average",
                                    "monthly fee: 82 (band 80–95), where churn runs 1.6× the average",
                                    "monthly fee: 120 (band 95 or more), where churn runs 1.3× the average",
                                    "monthly fee: 12 (band up to 20), where churn runs 1.1× the average",
                                    "monthly fee: 9.99", "plan: basic (band A), where churn runs 2.3× the average"])
    assert counts == {"monthly fee: N (band N–N), where churn runs N× the average": 2,
                      "monthly fee: N (band N or more), where churn runs N× the average": 1,
                      "monthly fee: N (band up to N), where churn runs N× the average": 1,
                      "monthly fee: N": 1, "plan: basic (band A), where churn runs 2.3× the average": 1}
