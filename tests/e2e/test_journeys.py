"""Whole journeys through a real browser against a real server (slow; run in CI).

Each journey starts in a fresh tab (its own Streamlit session) on the demo
cohort that the server stored on first start, and checks what a user would
check: the number on screen, the saved record, the downloaded file.
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa
from playwright.sync_api import expect

from .helpers import (
    ROOT,
    SCREENSHOTS,
    assert_no_exception,
    clean_name,
    goto,
    metric_value,
    open_page,
    page_exists,
    wait_idle,
)

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.xdist_group("browser")]


def _needs(page_file: str) -> None:
    if not page_exists(page_file):
        pytest.skip(f"pages/{page_file} does not exist yet")


def _count(text: str) -> int:
    return int(re.sub(r"[^0-9]", "", text))


def test_every_page_in_the_menu_opens_without_an_error(page):
    links = page.locator('[data-testid="stSidebarNav"] a')
    links.first.wait_for()
    titles = [links.nth(i).inner_text().strip() for i in range(links.count())]
    assert len(titles) >= 2, titles
    assert "Local single-user mode" in page.locator('[data-testid="stSidebar"]').inner_text()
    for i, title in enumerate(titles):
        page.locator('[data-testid="stSidebarNav"] a').nth(i).click()
        wait_idle(page)
        assert_no_exception(page, title)
        assert page.locator("h1").count() >= 1, f"{title}: no title drawn"
        page.screenshot(path=SCREENSHOTS / f"menu-{i}-{clean_name(title)}.png", full_page=True)


def test_a_filter_narrows_the_cohort(page):
    _needs("cohort.py")
    open_page(page, "Cohort")
    before = _count(metric_value(page, "Patients"))
    site = page.locator('[data-testid="stSidebar"] [data-testid="stMultiSelect"]',
                        has_text="Site").first
    demo = pd.read_parquet(ROOT / "sample_data" / "demo" / "patients.parquet")
    chosen = str(demo["site"].value_counts().index[-1])
    site.click()
    page.get_by_role("option", name=chosen, exact=True).click()
    page.keyboard.press("Escape")
    wait_idle(page)
    assert_no_exception(page, f"Cohort filtered to {chosen}")
    after = _count(metric_value(page, "Patients"))
    assert 0 < after < before, (chosen, before, after)
    assert after == int((demo["site"] == chosen).sum())


def test_open_a_patient_from_a_link(page, app_server):
    _needs("patient.py")
    patient_id = sorted(pd.read_parquet(ROOT / "sample_data" / "demo" / "patients.parquet")
                        ["patient_id"])[3]
    goto(page, f"{app_server.url}/patient?patient_id={patient_id}")
    assert_no_exception(page, f"patient {patient_id}")
    expect(page.get_by_role("combobox", name="Patient")).to_have_value(patient_id)
    page.locator('[data-testid="stVegaLiteChart"]').first.wait_for()
    assert page.locator('[data-testid="stVegaLiteChart"]').count() >= 2


def test_the_weekly_risk_and_the_risk_models_evidence(page, app_server):
    """A clinician opens a patient's weekly risk, then the Risk page's earliest-warning and
    threshold evidence, as drawn in the browser."""
    _needs("patient.py")
    patient_id = sorted(pd.read_parquet(ROOT / "sample_data" / "demo" / "patients.parquet")
                        ["patient_id"])[3]
    goto(page, f"{app_server.url}/patient?patient_id={patient_id}")
    charts = page.locator('[data-testid="stVegaLiteChart"]')
    charts.first.wait_for()
    before = charts.count()
    page.get_by_text("Show this patient's weekly risk").click()
    wait_idle(page)
    assert_no_exception(page, "weekly risk")
    expect(page.get_by_text("Each week's risk uses only what was recorded by that week",
                            exact=False)).to_be_visible()
    assert charts.count() == before + 1
    page.screenshot(path=SCREENSHOTS / "patient-weekly-risk.png", full_page=True)

    open_page(page, "Risk model")
    assert_no_exception(page, "Risk model")
    for text in ("Earliest warning: the weekly model", "Sensitivity to loss to follow-up",
                 "in training"):
        expect(page.get_by_text(text, exact=False).first).to_be_visible()
    assert metric_value(page, "Calibration slope")
    page.screenshot(path=SCREENSHOTS / "risk-model-evidence.png", full_page=True)


def test_record_a_decision_in_case_review(page, app_server):
    _needs("case_review.py")
    open_page(page, "Case review")
    assert_no_exception(page, "Case review")
    form = page.locator('[data-testid="stForm"]', has_text="Record a decision").first
    action = "e2e: refer to the CBT group"
    form.get_by_label("Action").fill(action)
    form.get_by_role("button", name=re.compile("Save decision")).click()
    wait_idle(page)
    assert_no_exception(page, "after saving a decision")
    page.get_by_text(action).first.wait_for()
    with _workflow_db(app_server.data_dir) as conn:
        saved = conn.execute(sa.text("SELECT action FROM decisions")).scalars().all()
        logged = conn.execute(sa.text("SELECT action FROM audit_log")).scalars().all()
    assert saved == [action]
    assert "decision" in logged and "view_patient" in logged


def test_download_an_export(page, app_server, tmp_path):
    _needs("export.py")
    open_page(page, "Export")
    page.locator('[data-testid="stRadio"]').get_by_text("Per-patient table (.csv)").click()
    wait_idle(page)
    page.get_by_role("button", name=re.compile("Build the export")).click()
    wait_idle(page)
    assert_no_exception(page, "Export")
    button = page.get_by_role("button", name=re.compile("Download"))
    if button.count() == 0:  # some Streamlit versions draw the download as a link
        button = page.get_by_text(re.compile("Download"))
    with page.expect_download() as info:
        button.first.click()
    target = tmp_path / info.value.suggested_filename
    info.value.save_as(target)
    table = pd.read_csv(target)
    assert len(table) == 1000
    assert target.suffix == ".csv"
    with _workflow_db(app_server.data_dir) as conn:
        logged = conn.execute(sa.text("SELECT action FROM audit_log")).scalars().all()
    assert "export" in logged


class _workflow_db:  # noqa: N801 - used as a context manager
    """A read-only look at the server's SQLite workflow database."""

    def __init__(self, data_dir: Path):
        self.engine = sa.create_engine(f"sqlite:///{data_dir / 'paincycle.db'}")

    def __enter__(self) -> sa.Connection:
        self.conn = self.engine.connect()
        return self.conn

    def __exit__(self, *exc: object) -> None:
        self.conn.close()
        self.engine.dispose()


def test_download_the_meeting_record_is_audited(page, app_server, tmp_path):
    _needs("case_review.py")
    open_page(page, "Case review")
    with page.expect_download() as info:
        page.get_by_role("button", name=re.compile(r"Meeting record \(\.md\)")).click()
    target = tmp_path / info.value.suggested_filename
    info.value.save_as(target)
    assert target.read_text().startswith("# Case-review meeting, ")
    with _workflow_db(app_server.data_dir) as conn:
        details = conn.execute(sa.text(
            "SELECT detail FROM audit_log WHERE action = 'meeting_record'")).scalars().all()
    assert any(d.endswith("decision revisions") and " as .md" in d for d in details)
