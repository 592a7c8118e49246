"""The one-page patient report (paincycle.reports.patient): header, verdict rows, the PDF.

Expected values are worked out by hand from the tiny fixture (tests/fixtures/tiny).
"""

from __future__ import annotations

import io
from datetime import date

import pandas as pd
import pytest
from pypdf import PdfReader

from paincycle import audit, database, services, synth
from paincycle.access import AccessDenied, Principal, Role
from paincycle.cohort import read_cohort
from paincycle.model import risk_words
from paincycle.reports import patient as report
from paincycle.trajectories import CohortTrajectories

CLINICIAN = Principal("dr@clinic", Role.CLINICIAN)
ADMIN = Principal("admin@clinic", Role.ADMIN)  # reads the audit log


@pytest.fixture
def analysis(tiny_cohort_dir) -> CohortTrajectories:
    return CohortTrajectories(read_cohort(tiny_cohort_dir))


def pdf_pages(data: bytes) -> list:
    return PdfReader(io.BytesIO(data)).pages


def test_header_says_who_the_patient_is_and_where_they_are_in_care(analysis):
    head = report.header(analysis, "P001")
    assert (head.age, head.diagnosis, head.site) == (55, "chronic low back pain", "North")
    assert head.intake_date == date(2025, 1, 6)
    # last contact: the PROMIS score of 2026-01-05, 364 days (52 weeks) after intake
    assert head.last_contact == date(2026, 1, 5) and head.weeks_in_care == 52
    assert head.current_treatments == ("CBT",)  # started 2025-01-20, never stopped
    assert head.risk is None and head.risk_text == "no model score"
    facts = dict(head.facts())
    assert facts["Model risk"] == "no model score" and facts["Current treatments"] == "CBT"
    with pytest.raises(KeyError):
        report.header(analysis, "P999")


def test_header_risk_is_whole_percent_from_the_models_scores(analysis):
    scores = pd.DataFrame({"patient_id": ["P001", "P002"], "risk": [0.834, 0.2],
                           "flagged": [1, 0]})
    head = report.header(analysis, "P001", scores)
    assert head.risk == pytest.approx(0.834) and head.flagged is True
    assert head.risk_text == risk_words(0.834)
    assert dict(head.facts())["Model risk"] == f"{risk_words(0.834)} (flagged for review)"
    assert report.header(analysis, "P003", scores).risk_text == "no model score"  # not scored


def test_change_rows_are_the_analysis_verdicts_with_baseline_and_latest(analysis):
    rows = {r[0]: r for r in report.change_rows(analysis.patient_domain_status("P001"))}
    assert rows["Mood"] == ["Mood", "PHQ-9 total", "18 (2025-01-06) -> 12 (2025-04-07)", "-6.0",
                            "5", "improved"]
    assert rows["Function"][2] == "35.5 (2025-01-06) -> 41 (2026-01-05)"
    assert rows["Sleep"][1:] == ["no scores", "", "", "", "not enough data"]


def test_latest_rows_name_the_band_or_say_there_is_none(analysis):
    rows = report.latest_rows(report.build(analysis, "P002").latest)
    by_measure = {r[0]: r for r in rows}
    assert by_measure["PHQ-9 total"][2:] == ["9", "mild"]
    assert by_measure["Insomnia Severity Index"][3] == "moderate"
    assert by_measure["Daily step count (wearable)"][3] == "not banded"


def test_pdf_is_one_page_with_the_header_verdicts_chart_and_latest(analysis):
    data = report.patient_report_pdf(analysis, "P001")
    pages = pdf_pages(data)
    assert len(pages) == 1
    text = pages[0].extract_text()
    for expected in ("Patient report: P001", "Age at intake", "chronic low back pain", "CBT",
                     "no model score", "Risk trend", "weekly model, on the Patient page", "Change since baseline",
                     "improved", "Latest scores", "PROMIS physical function T", "mild",
                     "not a diagnosis"):
        assert expected in text, expected
    assert len(pages[0].images) == 1  # the timeline


def test_pdf_stays_one_page_for_the_busiest_patient():
    cohort = synth.generate(150, seed=11)
    busiest = (cohort.observations.groupby("patient_id")["measure"].nunique()
               + cohort.events.groupby("patient_id").size().reindex(
                   cohort.observations["patient_id"].unique(), fill_value=0) / 100)
    pid = str(busiest.idxmax())
    data = report.patient_report_pdf(CohortTrajectories(cohort), pid)
    assert len(pdf_pages(data)) == 1


def test_free_text_is_printed_as_written(analysis):
    text = pdf_pages(report.patient_report_pdf(analysis, "P003"))[0].extract_text()
    assert '=HYPERLINK("http://x")' in text


def test_the_audited_service_builds_it_for_export_roles_only(analysis):
    engine = database.get_engine()
    data = services.patient_report_file(analysis, "P001", principal=CLINICIAN, engine=engine,
                                        cohort_version="v1")
    assert len(pdf_pages(data)) == 1
    entry = audit.entries(engine, ADMIN, action="export").iloc[0]  # newest first
    assert entry["patient_id"] == "P001" and entry["detail"] == "patient report .pdf"
    with pytest.raises(AccessDenied):
        services.patient_report_file(analysis, "P001",
                                     principal=Principal("r@uni", Role.RESEARCHER), engine=engine)


def test_file_name_keeps_the_id_to_safe_characters():
    assert report.file_name("P000055", "20261202-1405") == \
        "paincycle-patient-P000055-20261202-1405.pdf"
    assert report.file_name("../a b", "x") == "paincycle-patient-___a_b-x.pdf"
