"""HTML reports: a training run, a scores file and a retention list, built through `churnml report`.

All three come from the session's trained store (tests/conftest.py). Each page must hold every
section and embed its plots (no network); one screenshot per page in headless Chromium proves it
renders, and the PNGs stay in the test's tmp dir for a human look.
"""

from __future__ import annotations

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
def pages(trained_store, tmp_path_factory) -> dict[str, Path]:
    """The three reports: champion run (default), scores at the test cutoff, a budgeted list."""
    folder = tmp_path_factory.mktemp("reports")
    app = get_app()
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(trained_store.root)
        patch.setenv("MLFLOW_TRACKING_URI", trained_store.tracking_uri)
        scores = folder / "scores.parquet"
        _ok(runner.invoke(app, ["score", str(trained_store.data), "--as-of", trained_store.test_cutoff, "--out", str(scores),
                                "--snapshot-dir", str(folder / "snapshots")]))
        retention = folder / "list.csv"
        _ok(runner.invoke(app, ["retention-list", str(scores), "--out", str(retention), "--budget", "1000"]))
        out = {"run": folder / "run.html", "scores": folder / "scores.html", "list": folder / "list.html"}
        _ok(runner.invoke(app, ["report", "--out", str(out["run"])]))
        _ok(runner.invoke(app, ["report", "--scores", str(scores), "--out", str(out["scores"])]))
        _ok(runner.invoke(app, ["report", "--list", str(retention), "--out", str(out["list"])]))
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


def test_run_report_content(pages, trained_store):
    page = pages["run"].read_text(encoding="utf-8")
    result = trained_store.result
    assert f"Overall grade <span class=\"grade\">{result.grades['overall']}</span>" in page
    for name in ("recency_rule", "rfm_logistic", "spend_rate"):
        assert f"<th class=\"\">{name}</th>" in page
    assert f"{result.churn_metrics['model']['roc_auc']:.4f}" in page
    top_reasons = page[page.index('id="top-reasons"'):page.index('id="data-summary"')]
    assert 'alt="' in top_reasons and "most common reasons" in top_reasons
    assert "customers without transactions" in page


def test_scores_report_content(pages):
    page = pages["scores"].read_text(encoding="utf-8")
    matrix = page[page.index('id="segment-matrix"'):page.index('id="value-by-segment"')]
    for name in ("High-value at risk", "Loyal high-value", "Potential", "Dormant", "Fleeing low-value"):
        assert name in matrix
    drift = page[page.index('id="drift"'):]
    assert "No drift" in drift and "score: churn_probability" in drift and "days_since_last_purchase" in drift
    reasons = page[page.index('id="reasons-by-segment"'):page.index('id="drift"')]
    assert "<td" in reasons and " N " in reasons


def test_list_report_content(pages):
    page = pages["list"].read_text(encoding="utf-8")
    assert "expected value saved" in page and "Expected value saved vs budget" in page
    assert "stopped by" in page


def test_reason_templates_group_customers_by_sentence():
    counts = reports.reason_counts(["no purchase for 74 days; only 1 purchase in the last 90 days",
                                    "no purchase for 12 days; only 3 purchases in the last 90 days", "", "plan: basic"])
    # "1 purchase" and "3 purchases" are one template.
    assert counts == {"no purchase for N days": 2, "only N purchases in the last 90 days": 2, "plan: basic": 1}


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
