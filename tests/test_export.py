"""The cohort summary: numbers from the analyses, formats, de-identification, formula escaping."""

from __future__ import annotations

import dataclasses
import io
import re

import openpyxl
import pandas as pd
import pytest
from pypdf import PdfReader

from paincycle import clock, services, trajectories
from paincycle.access import AccessDenied, Principal, Role
from paincycle.cohort import read_cohort
from paincycle.model import risk_words
from paincycle.reports import document
from paincycle.reports import summary as export
from paincycle.trajectories import CohortTrajectories

RESEARCHER = Principal("research@uni", Role.RESEARCHER)
DANGEROUS = ("=", "+", "-", "@")


@pytest.fixture
def tiny(tiny_cohort_dir):
    return read_cohort(tiny_cohort_dir)


def xlsx_cells(data: bytes) -> dict[str, list[list[object]]]:
    book = openpyxl.load_workbook(io.BytesIO(data))
    return {ws.title: [[c.value for c in row] for row in ws.iter_rows()] for ws in book.worksheets}


def sheet_frame(data: bytes, name: str) -> pd.DataFrame:
    rows = xlsx_cells(data)[name]
    return pd.DataFrame(rows[1:], columns=rows[0])


def pdf_text(data: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)


@pytest.mark.parametrize("text", ["=1+1", "+SUM(A1)", "-2+3", "@cmd", "\tx", "\r=1"])
def test_formula_text_is_defused(text):
    assert document.safe_cell(text) == "'" + text


@pytest.mark.parametrize("value", ["P001", "chronic low back pain", "", 3, -2.5, None])
def test_other_values_are_untouched(value):
    assert document.safe_cell(value) == value


def test_tables_match_the_analyses(tiny):
    summary = export.build_summary(CohortTrajectories(tiny), charts=False)
    rates = summary.table("Responder rates").frame
    pd.testing.assert_frame_equal(rates, trajectories.responder_rates(tiny))
    headline = dict(zip(summary.table("Headline").frame["measure"],
                        summary.table("Headline").frame["value"], strict=True))
    assert headline["Patients"] == 3 and headline["Observations"] == 11
    assert headline["First record"] == "2025-01-06"
    profile = summary.table("Baseline profile").frame.set_index("measure")
    assert profile.loc["phq9", "patients"] == 2
    assert profile.loc["phq9", "mean"] == pytest.approx((18 + 6) / 2)
    per_patient = summary.per_patient.set_index("patient")
    assert per_patient.loc["P001", "mood"] == "improved"  # PHQ-9 18 -> 12, MCID 5
    assert per_patient.loc["P001", "observations"] == 6
    assert per_patient.loc["P001", "last score (days since intake)"] == 364


def test_xlsx_sheets_formats_and_no_formulas(tiny):
    data = export.render(export.build_summary(CohortTrajectories(tiny), charts=False), "xlsx")
    book = openpyxl.load_workbook(io.BytesIO(data))
    assert book.sheetnames == ["About", "Headline", "Baseline profile", "Responder rates",
                               "Triad and deterioration", "Review list", "Patients"]
    rates = book["Responder rates"]
    header = [c.value for c in rates[1]]
    rate_col = header.index("rate") + 1
    numbers = [r for r in range(2, rates.max_row + 1)
               if isinstance(rates.cell(r, rate_col).value, float)]
    assert numbers and all(rates.cell(r, rate_col).number_format == "0.0%" for r in numbers)
    profile = book["Baseline profile"]
    mean_col = [c.value for c in profile[1]].index("mean") + 1
    assert profile.cell(2, mean_col).number_format == "0.0"
    for sheet in book.worksheets:
        for row in sheet.iter_rows():
            for cell in row:
                assert cell.data_type != "f"
                if isinstance(cell.value, str):
                    assert not cell.value.startswith(DANGEROUS), (sheet.title, cell.value)
    patients = sheet_frame(data, "Patients").set_index("patient")
    assert patients.loc["P003", "diagnosis"] == "'=HYPERLINK(\"http://x\")"


def test_csv_is_the_per_patient_table_defused(tiny):
    data = export.render(export.build_summary(CohortTrajectories(tiny), charts=False), "csv")
    frame = pd.read_csv(io.BytesIO(data), encoding="utf-8-sig", dtype=str)
    assert list(frame["patient"]) == ["P001", "P002", "P003"]
    for column in frame.columns:
        assert not frame[column].dropna().str.startswith(DANGEROUS).any(), column


def test_html_is_self_contained_and_escaped(tiny):
    named = dataclasses.replace(tiny, name="<script>alert(1)</script>")
    page = export.render(export.build_summary(CohortTrajectories(named)), "html").decode()
    assert page.count("<img ") == 4  # one band chart per domain
    assert re.findall(r"src=['\"]([^'\"]+)", page) and all(
        s.startswith("data:image/png;base64,") for s in re.findall(r"src=['\"]([^'\"]+)", page))
    assert "<link" not in page and "<script" not in page and "@import" not in page
    assert "Cohort: &lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_pdf_has_the_numbers_and_charts(tiny):
    summary = export.build_summary(CohortTrajectories(tiny))
    data = export.render(summary, "pdf")
    text = pdf_text(data)
    assert "Responder rates by domain at 3, 6 and 12 months" in text
    reader = PdfReader(io.BytesIO(data))
    images = sum(len(page.images) for page in reader.pages)
    assert images == len(summary.charts) == 4


def test_deidentified_export_hides_ids_birth_years_and_dates(tiny):
    summary = export.build_summary(CohortTrajectories(tiny), deidentify=True)
    outputs = {fmt: export.render(summary, fmt) for fmt in export.FORMATS}
    texts = {
        "csv": outputs["csv"].decode("utf-8-sig"),
        "html": outputs["html"].decode(),
        "pdf": pdf_text(outputs["pdf"]),
        "xlsx": "\n".join(str(v) for rows in xlsx_cells(outputs["xlsx"]).values()
                          for row in rows for v in row),
    }
    source_dates = set(pd.to_datetime(pd.concat([
        tiny.patients["intake_date"], tiny.observations["date"], tiny.events["date"]]))
        .dt.strftime("%Y-%m-%d"))
    for fmt, text in texts.items():
        for pid in ("P001", "P002", "P003"):
            assert pid not in text, (fmt, pid)
        for year in ("1970", "1985", "1962"):
            assert year not in text, (fmt, year)
        assert not source_dates & set(re.findall(r"\d{4}-\d{2}-\d{2}", text)), fmt
        assert "birth year" not in text and "intake date" not in text
    codes = list(summary.per_patient["patient"])
    assert all(re.fullmatch(r"PX-[0-9A-F]{10}", c) for c in codes) and len(set(codes)) == 3
    assert "age band" in summary.per_patient.columns
    # stable within one export, different in the next
    again = export.build_summary(CohortTrajectories(tiny), deidentify=True, charts=False)
    assert set(again.per_patient["patient"]).isdisjoint(codes)


def test_permissions(tiny):
    with pytest.raises(AccessDenied):
        export.build_summary(CohortTrajectories(tiny), principal=RESEARCHER, charts=False)
    with pytest.raises(AccessDenied):
        services.export_summary(CohortTrajectories(tiny), "csv", principal=RESEARCHER)
    assert services.export_summary(CohortTrajectories(tiny), "csv", deidentify=True, principal=RESEARCHER)


def test_progress_is_reported(tiny):
    seen: list[tuple[float, str]] = []
    services.export_summary(CohortTrajectories(tiny), "csv", progress=lambda f, m: seen.append((f, m)))
    fractions = [f for f, _ in seen]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0 and len(seen) >= 4


def test_model_section_is_included(tiny):
    model = export.ModelSection(
        risk=pd.DataFrame({"patient_id": ["P002"], "risk": [0.34], "flagged": [1]}),
        performance=pd.DataFrame({"metric": ["AUC (out-of-fold)"], "value": [0.712]}),
        outcome="poor outcome: PROMIS physical function improved by less than 4 points at 1 year")
    summary = export.build_summary(CohortTrajectories(tiny), model=model, charts=False)
    flagged = summary.table("Review list").frame
    assert flagged.set_index("patient").loc["P002", "reasons"] == "flagged by model (risk 34%)"
    assert summary.table("Model").frame["value"].tolist() == [0.712]
    assert any("PROMIS physical function improved by less than 4" in n for n in summary.notes)
    text = pdf_text(export.render(summary, "pdf"))
    assert "0.712" in text and "flagged by model (risk 34%)" in text


def test_control_characters_do_not_break_the_xlsx(tiny):
    patients = tiny.patients.copy()
    patients["diagnosis"] = patients["diagnosis"].astype(object)
    patients.loc[0, "diagnosis"] = "pain\x07\x1b[31m"
    data = services.export_summary(CohortTrajectories(dataclasses.replace(tiny, patients=patients)), "xlsx")
    frame = sheet_frame(data, "Patients").set_index("patient")
    assert frame.loc["P001", "diagnosis"] == "pain[31m"


def test_unknown_format():
    with pytest.raises(ValueError, match="xlsx"):
        export.format_of("summary.docx")


def test_deidentified_exports_drop_rare_free_text_in_diagnosis_and_site(tiny_cohort_dir):
    """A diagnosis typed as a story ("... husband John ...") is identifying: only shared values stay."""
    patients = tiny_cohort_dir / "patients.csv"
    text = patients.read_text()
    patients.write_text(text.replace("chronic low back pain", "back pain after husband John left", 1))
    cohort = read_cohort(tiny_cohort_dir)
    summary = export.build_summary(CohortTrajectories(cohort), deidentify=True)
    for fmt in export.FORMATS:
        rendered = export.render(summary, fmt)
        content = pdf_text(rendered) if fmt == "pdf" else (
            "\n".join(str(v) for rows in xlsx_cells(rendered).values() for row in rows for v in row)
            if fmt == "xlsx" else rendered.decode("utf-8-sig"))
        assert "John" not in content, fmt
    assert set(summary.per_patient["diagnosis"]) == {export.RARE_TEXT}, "3 patients: all rare"
    identified = export.build_summary(CohortTrajectories(cohort))
    assert "back pain after husband John left" in set(identified.per_patient["diagnosis"])


def test_shared_text_keeps_common_categories():
    cohort = pd.Series(["fibromyalgia"] * 5 + ["migraine"] * 2 + [None])
    shown = export.shared_text_only(cohort, cohort)
    assert list(shown[:5]) == ["fibromyalgia"] * 5
    assert list(shown[5:7]) == [export.RARE_TEXT] * 2 and pd.isna(shown.iloc[7])


# --------------------------------------------------------------------------- exports that read well


def _model(risks: dict[str, float], *, synthetic: bool = False,
           cohort_synthetic: bool | None = None) -> export.ModelSection:
    return export.ModelSection(
        risk=pd.DataFrame({"patient_id": list(risks), "risk": list(risks.values()),
                           "flagged": [int(r >= 0.3) for r in risks.values()]}),
        performance=pd.DataFrame({"metric": ["AUC (out-of-fold)",
                                             "Patients with an outcome label (training)",
                                             "Share with a poor outcome (training)",
                                             "Risk threshold for a flag"],
                                  "value": [0.7123, 763.0, 0.501, 0.3]}),
        outcome="poor outcome at 1 year", description="Logistic model.", threshold=0.3,
        synthetic=synthetic, cohort_synthetic=cohort_synthetic, trained_on="demo")


@pytest.fixture
def gappy(tiny_cohort_dir):
    """The tiny cohort with one birth year missing (a nullable whole-number column)."""
    patients = tiny_cohort_dir / "patients.csv"
    patients.write_text(patients.read_text().replace(",male,1985,", ",male,,"))
    return read_cohort(tiny_cohort_dir)


def test_csv_cells_read_as_a_spreadsheet_user_expects(gappy):
    model = _model({"P001": 0.004, "P002": 0.3449, "P003": 0.996})
    data = export.render(export.build_summary(CohortTrajectories(gappy), model=model,
                                              charts=False), "csv")
    text = data.decode("utf-8-sig")
    assert "True" not in text and "False" not in text and ".0," not in text
    frame = pd.read_csv(io.BytesIO(data), encoding="utf-8-sig").set_index("patient")
    assert frame["birth year"].tolist()[0] == 1970 and pd.isna(frame.loc["P002", "birth year"])
    raw = pd.read_csv(io.BytesIO(data), encoding="utf-8-sig", dtype=str).set_index("patient")
    assert raw["birth year"].fillna("").tolist() == ["1970", "", "1962"]
    assert frame["observations"].dtype == "int64"
    assert frame["last score (days since intake)"].dtype == "int64"
    assert "risk" not in frame.columns and frame["risk (%)"].dtype == "int64"
    assert frame["risk (%)"].tolist() == [1, 34, 99], "whole percent, never a certain 0 or 100"
    for column in ("triad", "safety signal", "flagged by model"):
        assert set(frame[column]) <= {"yes", "no"}, column
    assert frame.loc["P002", "flagged by model"] == "yes"


def test_whole_percent_agrees_with_the_risk_in_words():
    for risk in (0.0, 0.004, 0.0149, 0.015, 0.34, 0.345, 0.5, 0.985, 0.99, 0.994, 0.996, 1.0):
        words = risk_words(risk)
        assert str(export.whole_percent(risk)) in words, (risk, words)


def test_xlsx_cells_are_typed_and_formatted(gappy):
    model = _model({"P001": 0.12, "P002": 0.345, "P003": 0.9})
    data = export.render(export.build_summary(CohortTrajectories(gappy), model=model,
                                              charts=False), "xlsx")
    book = openpyxl.load_workbook(io.BytesIO(data))
    sheet = book["Patients"]
    header = [c.value for c in sheet[1]]

    def cell(row: int, column: str):
        return sheet.cell(row, header.index(column) + 1)

    year = cell(2, "birth year")
    assert year.value == 1970 and isinstance(year.value, int) and year.number_format == "0"
    assert cell(3, "birth year").value is None
    assert isinstance(cell(2, "observations").value, int)
    assert cell(2, "observations").number_format == "#,##0"
    risk = cell(3, "risk")
    assert risk.value == pytest.approx(0.345) and risk.number_format == "0%"
    assert {cell(r, "triad").value for r in (2, 3, 4)} <= {"yes", "no"}
    assert cell(3, "flagged by model").value == "yes"
    intake = cell(2, "intake date")
    assert intake.is_date and intake.value.date().isoformat() == "2025-01-06"
    performance = {row[0].value: row[1] for row in book["Model"].iter_rows(min_row=2)}
    count = performance["Patients with an outcome label (training)"]
    assert count.value == 763 and isinstance(count.value, int) and count.number_format == "#,##0"
    assert performance["AUC (out-of-fold)"].number_format == "0.000"
    assert performance["Risk threshold for a flag"].number_format == "0%"
    about = "\n".join(str(r[0].value) for r in book["About"].iter_rows())
    assert "Risks are prognostic support, not a diagnosis." in about


def test_pdf_has_page_numbers_the_disclaimer_and_the_synthetic_model(tiny):
    model = _model({"P002": 0.34}, synthetic=True, cohort_synthetic=False)
    data = export.render(export.build_summary(CohortTrajectories(tiny), model=model), "pdf")
    reader = PdfReader(io.BytesIO(data))
    pages = [page.extract_text() for page in reader.pages]
    n = len(pages)
    assert n >= 2
    for i, text in enumerate(pages, start=1):
        assert f"page {i} of {n}" in text, i
    text = "\n".join(pages)
    assert "prognostic support, not a diagnosis" in text
    assert "trained on synthetic (generated) data" in text and "scores real patients" in text


def test_each_chart_is_printed_beside_its_domain_not_at_the_end(tiny):
    summary = export.build_summary(CohortTrajectories(tiny))
    reader = PdfReader(io.BytesIO(export.render(summary, "pdf")))
    texts = [page.extract_text() for page in reader.pages]
    last_chart_page = max(i for i, page in enumerate(reader.pages) if page.images)
    triad_page = next(i for i, t in enumerate(texts) if "Triad, deterioration, safety" in t)
    assert last_chart_page <= triad_page, "the charts come before the next section"
    for chart in summary.charts:
        domain = chart.title.split(":")[0]
        page = next(i for i, t in enumerate(texts) if chart.title in t)
        assert reader.pages[page].images, domain
    page = export.render(summary, "html").decode()
    rates, triad = page.index("Responder rates by domain"), page.index("Triad, deterioration")
    images = [m.start() for m in re.finditer("<img ", page)]
    assert len(images) == 4 and all(rates < i < triad for i in images)
    for chart in summary.charts:  # each chart sits just above its own domain's rates
        heading = page.index(f"<h3>{chart.title}</h3>")
        block = page[heading:page.index("</section>", heading)]
        assert "<img " in block and f"<td>{chart.group}</td>" in block


def test_html_says_not_a_diagnosis_beside_the_risks_and_names_a_synthetic_model(tiny):
    model = _model({"P002": 0.34}, synthetic=True, cohort_synthetic=True)
    page = export.render(export.build_summary(CohortTrajectories(tiny), model=model,
                                              charts=False), "html").decode()
    flagged = page[page.index("Patients flagged by the risk model"):]
    assert "prognostic support, not a diagnosis" in flagged[:600]
    assert "trained on synthetic (generated) data" in flagged[:600]
    assert "this cohort is synthetic too" in page
    assert "<td class=\"n\">34%</td>" in flagged


def test_a_real_model_is_not_called_synthetic(tiny):
    model = _model({"P002": 0.34})
    summary = export.build_summary(CohortTrajectories(tiny), model=model, charts=False)
    assert "synthetic" not in export.render(summary, "html").decode()
    assert any("trained on the cohort 'demo'" in n for n in summary.notes)


def test_the_time_of_an_export_is_local_with_its_zone(tiny, monkeypatch):
    monkeypatch.setenv("PAINCYCLE_TIMEZONE", "America/New_York")
    summary = export.build_summary(CohortTrajectories(tiny), charts=False)
    expected = clock.local_text(summary.generated_at)
    assert expected.endswith(("EST", "EDT"))
    about = xlsx_cells(export.render(summary, "xlsx"))["About"]
    assert [f"Generated: {expected}"] in about
    assert f"Generated: {expected}" in export.render(summary, "html").decode()


def test_the_demo_model_section_says_it_is_synthetic(tiny):
    from paincycle import config

    if not config.DEMO_MODEL.exists():
        pytest.skip("the demo model is not bundled")
    section = export.model_section(tiny, config.DEMO_MODEL, cohort_synthetic=False)
    assert section.synthetic and "scores real patients" in section.provenance()
