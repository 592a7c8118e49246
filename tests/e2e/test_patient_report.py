"""The patient report in a real browser: the header, the chart's lanes, the one-page PDF."""

from __future__ import annotations

import io
from pathlib import Path

import pandas as pd
import pytest
from pypdf import PdfReader

from .helpers import ROOT, SCREENSHOTS, assert_no_exception, goto, metric_value, wait_idle

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.xdist_group("browser")]

#: A demo patient with two treatment courses, missed appointments and a PROMIS T of 28.4.
PATIENT = "P000055"
SCREENSHOT = Path("/tmp/patient_report.png")


def test_patient_report_header_lanes_and_pdf(page, app_server, tmp_path):
    demo = ROOT / "sample_data" / "demo"
    me = pd.read_parquet(demo / "patients.parquet").set_index("patient_id").loc[PATIENT]
    events = pd.read_parquet(demo / "events.parquet")
    had = events[(events["patient_id"] == PATIENT) & (events["event"] == "treatment_start")]
    assert set(had["detail"]) == {"mbsr", "graded_exercise"}

    page.set_viewport_size({"width": 1400, "height": 2600})
    goto(page, f"{app_server.url}/patient?patient_id={PATIENT}")
    assert_no_exception(page, f"patient {PATIENT}")
    page.get_by_text(f"Patient {PATIENT}", exact=True).wait_for()
    assert metric_value(page, "Age at intake") == str(me["intake_date"].year - me["birth_year"])
    assert metric_value(page, "Intake date") == f"{me['intake_date']:%Y-%m-%d}"
    risk = metric_value(page, "Model risk")
    assert risk == "no model score" or (risk.endswith("%") and 1 <= int(risk[:-1]) <= 99), risk
    page.get_by_text("Risk trend: the model risk above", exact=False).wait_for()
    page.get_by_text(f"Diagnosis: {me['diagnosis']}", exact=False).wait_for()

    charts = page.locator('[data-testid="stVegaLiteChart"]')
    charts.last.locator("svg.marks path").first.wait_for()
    assert charts.count() == 6  # tiles, four domain rows, the lanes
    lanes = charts.nth(5).locator("svg text")
    labels = {lanes.nth(i).text_content() for i in range(lanes.count())}
    assert {"Mindfulness (MBSR)", "Graded exercise", "Appointments missed"} <= labels
    assert not {"mbsr", "graded_exercise", "CBT", "Physiotherapy"} & labels  # only what they had
    page.wait_for_timeout(500)
    page.screenshot(path=str(SCREENSHOT), full_page=True)
    page.screenshot(path=SCREENSHOTS / "patient-report.png", full_page=True)

    with page.expect_download() as download:
        page.get_by_role("button", name="Download the one-page report (PDF)").click()
    saved = tmp_path / download.value.suggested_filename
    download.value.save_as(saved)
    wait_idle(page)
    assert saved.name.startswith(f"paincycle-patient-{PATIENT}-") and saved.suffix == ".pdf"
    pdf = PdfReader(io.BytesIO(saved.read_bytes()))
    assert len(pdf.pages) == 1
    text = pdf.pages[0].extract_text()
    for expected in (f"Patient report: {PATIENT}", str(me["diagnosis"]), "Change since baseline",
                     "PROMIS physical function T", "severe", "Risk trend"):
        assert expected in text, expected
    assert len(pdf.pages[0].images) == 1  # the timeline
    (Path("/tmp") / "patient_report.pdf").write_bytes(saved.read_bytes())
