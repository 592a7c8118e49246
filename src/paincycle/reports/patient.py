"""One patient's report, read in a minute: who they are, how each domain is going, what was tried.

Built once from the version's analysis (:func:`build`) and drawn twice: by the
Patient page and as the one-page PDF for the patient's chart
(:func:`patient_report_pdf`, reached through the audited
``services.patient_report_file``). Both show the same header, the same
verdicts (the analysis' own, never recomputed) and the same timeline chart
(:func:`paincycle.charts.patient_timeline`).

The model risk is the single score the model gives now; a risk *trend* needs
a model scored week by week, which does not exist yet, and the report says so
rather than drawing one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date

import altair as alt
import pandas as pd

from paincycle import charts, clock, measures, review, trajectories
from paincycle.cohort import Cohort
from paincycle.reports import document
from paincycle.risks import DISCLAIMER, risk_words
from paincycle.trajectories import CohortTrajectories

#: The header's risk is the one-landmark model's; its week-by-week trend is the weekly model's.
RISK_TREND = "weekly model, on the Patient page"
RISK_TREND_NOTE = ("Risk trend: the model risk above is one number at the model's landmark; the "
                   "weekly model's risk week by week is under Risk over time below.")
MCID_NOTE = ("Improved or worse: a change of at least the measure's MCID (minimal clinically "
             "important difference) from the baseline closest to intake to the latest score.")
#: Timeline plot size in the PDF, in pixels: wide and low, so it spans the page at a legible size.
PDF_CHART_WIDTH = 640
PDF_ROW_HEIGHT = 58
PDF_CHART_SCALE = 2.0
#: The chart's subheading and the gap under it, in mm.
CHART_HEADING_MM = 9.0


@dataclass(frozen=True)
class Header:
    """Who the patient is and where they are in their care, as the report's first lines say it."""

    patient_id: str
    age: int | None
    sex: str | None
    diagnosis: str | None
    site: str | None
    intake_date: date | None
    weeks_in_care: int | None
    last_contact: date | None
    current_treatments: tuple[str, ...] = ()
    risk: float | None = None
    flagged: bool | None = None

    @property
    def risk_text(self) -> str:
        """'83%': the model's risk in whole percent (model.risk_words), or 'no model score'."""
        return "no model score" if self.risk is None else risk_words(self.risk)

    def facts(self) -> list[tuple[str, str]]:
        """(label, value) pairs in reading order; free text stays as written (draw it as text)."""
        return [
            ("Age at intake", "unknown" if self.age is None else str(self.age)),
            ("Sex", self.sex or "unknown"),
            ("Diagnosis", self.diagnosis or "not recorded"),
            ("Site", self.site or "not recorded"),
            ("Intake date", date_text(self.intake_date)),
            ("Weeks in care", "unknown" if self.weeks_in_care is None else str(self.weeks_in_care)),
            ("Last contact", date_text(self.last_contact)),
            ("Current treatments", ", ".join(self.current_treatments) or "none recorded"),
            ("Model risk", self.risk_text + (" (flagged for review)" if self.flagged else "")),
        ]


@dataclass
class PatientReport:
    """Everything the report shows for one patient, read from the version's analysis."""

    header: Header
    #: One verdict per domain (the analysis' domain status): the tiles.
    domains: pd.DataFrame
    #: The latest score on every measure with its severity band (trajectories.latest_values).
    latest: pd.DataFrame
    #: The patient's own rows (sliced from the version, not scanned).
    rows: Cohort
    #: Domain -> the measure its verdict rests on (each timeline row draws that measure).
    speaking: dict[str, str] = field(default_factory=dict)
    #: Treatment codes running now (review.current_treatments).
    ongoing: tuple[str, ...] = ()


def file_name(patient_id: str, stamp: str) -> str:
    """'paincycle-patient-P000055-20261202-1405.pdf': the id kept to letters, digits, - and _."""
    return f"paincycle-patient-{re.sub(r'[^A-Za-z0-9_-]', '_', str(patient_id))[:64]}-{stamp}.pdf"


def date_text(value: date | None) -> str:
    """'2024-08-14', or 'unknown': dates in the report are days, never times."""
    return "unknown" if value is None else f"{value:%Y-%m-%d}"


def patient_risk(risk: pd.DataFrame | None, patient_id: str) -> tuple[float | None, bool | None]:
    """(risk, flagged) for this patient from the model's scores (patient_id, risk, flagged
    optional), or (None, None) where no model scores them."""
    if risk is None or risk.empty:
        return None, None
    ids = risk["patient_id"]
    mine = risk[(ids if ids.dtype == object else ids.astype(str)) == str(patient_id)]
    if mine.empty or pd.isna(mine["risk"].iloc[-1]):
        return None, None
    flagged = bool(mine["flagged"].iloc[-1]) if "flagged" in mine else None
    return float(mine["risk"].iloc[-1]), flagged


def header(analysis: CohortTrajectories, patient_id: str, risk: pd.DataFrame | None = None,
           rows: Cohort | None = None) -> Header:
    """The report's header: age at intake (as the case card counts it), weeks from intake to the
    last contact (a score or an attended appointment), current treatments, the model's risk.

    KeyError when the version has no such patient.
    """
    pid = str(patient_id)
    mine = rows if rows is not None else analysis.patient(pid)
    who = review.profile(mine, pid)  # the case card's profile: one definition
    value, flagged = patient_risk(risk, pid)
    return Header(
        patient_id=pid, age=who.age, sex=who.sex, diagnosis=who.diagnosis, site=who.site,
        intake_date=who.intake.date() if who.intake is not None else None,
        weeks_in_care=who.weeks_in_care,
        last_contact=who.last_contact.date() if who.last_contact is not None else None,
        current_treatments=tuple(charts.treatment_name(t)
                                 for t in review.current_treatments(mine.events, pid)),
        risk=value, flagged=flagged,
    )


def build(analysis: CohortTrajectories, patient_id: str,
          risk: pd.DataFrame | None = None) -> PatientReport:
    """The patient's report from the version's analysis (one patient's rows, no cohort scan)."""
    pid = str(patient_id)
    mine = analysis.patient(pid)
    domains = analysis.patient_domain_status(pid)
    return PatientReport(
        header=header(analysis, pid, risk, rows=mine), domains=domains,
        latest=trajectories.latest_values(mine, pid), rows=mine,
        speaking=dict(zip(domains["domain"], domains["measure"], strict=True)),
        ongoing=tuple(review.current_treatments(mine.events, pid)),
    )


def timeline(report: PatientReport, width: int | None = None,
             row_height: int = charts.DOMAIN_ROW_HEIGHT) -> alt.VConcatChart:
    """The report's chart: four domains on calendar dates, treatment and appointment lanes below."""
    return charts.patient_timeline(report.rows, report.header.patient_id, report.speaking or None,
                                   width=width, ongoing=report.ongoing, row_height=row_height)


def timeline_rows(report: PatientReport) -> list[alt.LayerChart]:
    """The same chart as rows, for a page that fits each row to its width."""
    return charts.patient_timeline_rows(report.rows, report.header.patient_id,
                                        report.speaking or None, ongoing=report.ongoing,
                                        whole_height=True)


def _score(value: object) -> str:
    if value is None or pd.isna(value):
        return "-"
    number = float(value)
    return f"{number:.0f}" if number.is_integer() else f"{number:.1f}"


def change_rows(domains: pd.DataFrame) -> list[list[str]]:
    """The tiles as table rows: domain, measure, baseline -> latest (dates), change, MCID, verdict."""
    by_domain = {row.domain: row for row in domains.itertuples()} if len(domains) else {}
    rows = []
    for domain in measures.VERDICT_GROUPS:
        row = by_domain.get(domain)
        if row is None:
            rows.append([domain.capitalize(), "no scores", "", "", "", "not enough data"])
            continue
        m = measures.get(row.measure)
        judged = row.status != "not enough data"
        scores = (f"{_score(row.baseline)} ({row.baseline_date:%Y-%m-%d}) -> "
                  f"{_score(row.latest)} ({row.latest_date:%Y-%m-%d})" if judged
                  else "no baseline or follow-up")
        change = f"{float(row.change):+.1f}" if judged else ""
        rows.append([domain.capitalize(), m.instrument, scores, change,
                     f"{m.mcid:g}" if m.mcid is not None else "", str(row.status)])
    return rows


def latest_rows(latest: pd.DataFrame) -> list[list[str]]:
    """Each measure's latest score: measure, date, score, severity band."""
    out = []
    for row in latest.itertuples():
        m = measures.MEASURES.get(row.measure)
        band = row.band if isinstance(row.band, str) else ("none" if m and m.bands else "not banded")
        out.append([m.instrument if m else str(row.measure), f"{pd.Timestamp(row.date):%Y-%m-%d}",
                    _score(row.value), band])
    return out


def _draw(pdf: document.PdfReport, report: PatientReport, cohort_name: str,
          chart: tuple[bytes, float, float] | None, model_note: str = "") -> None:
    """The page: header, change since baseline, the timeline (when given as png, w, h mm), latest."""
    pdf.paragraph(f"{cohort_name} · printed {clock.local(clock.now()):%Y-%m-%d} · "
                  f"Risk: {DISCLAIMER}" + (f" {model_note}" if model_note else ""), size=8.5)
    facts = [*report.header.facts(), ("Risk trend", RISK_TREND)]
    for part in (facts[:5], facts[5:]):  # labels as the headings, values under them
        pdf.table([label for label, _ in part], [[value for _, value in part]],
                  [16, 12, 30, 24, 18] if part[0][0] == "Age at intake" else [14, 16, 30, 22, 18])
    pdf.subheading("Change since baseline")
    pdf.table(["Domain", "Measure", "Baseline -> latest", "Change", "MCID", "Verdict"],
              change_rows(report.domains), [20, 40, 58, 12, 10, 26])
    if chart is not None:
        png, w, h = chart
        pdf.subheading("Timeline")
        pdf.image(png, "Timeline of the four domains, treatments and appointments",
                  size_mm=(w, h))
    pdf.subheading("Latest scores")
    rows = latest_rows(report.latest)
    half = -(-len(rows) // 2)  # two lists side by side: half the height
    right = [*rows[half:], *[[""] * 4] * (2 * half - len(rows))]
    pdf.table(["Measure", "Date", "Score", "Severity band"] * 2,
              [[*a, *b] for a, b in zip(rows[:half], right, strict=True)],
              [40, 19, 11, 25] * 2)
    pdf.paragraph(f"{MCID_NOTE} The risk trend, week by week, is the weekly model's, on the "
                  "Patient page.", size=7.5)


def patient_report_pdf(analysis: CohortTrajectories, patient_id: str, *,
                       risk: pd.DataFrame | None = None, model_note: str = "") -> bytes:
    """The patient's report as one A4 page (fpdf2): the chart is scaled to the room the text leaves.

    ``risk`` is the model's scores (patient_id, risk, optional flagged: one
    row per patient, as ``ui.review.model_scores`` returns them) or None;
    ``model_note`` says where the model comes from (applicability.Provenance.words).
    """
    report = build(analysis, patient_id, risk)
    title = f"Patient report: {report.header.patient_id}"
    cohort_name = analysis.name or "cohort"
    dry = document.PdfReport(title)  # a dry run without the chart measures the text
    _draw(dry, report, cohort_name, None, model_note)
    room = dry.pdf.h - dry.pdf.b_margin - dry.pdf.y - CHART_HEADING_MM
    png = document.chart_png(timeline(report, width=PDF_CHART_WIDTH, row_height=PDF_ROW_HEIGHT),
                             PDF_CHART_SCALE)
    px_w, px_h = _png_size(png)
    w = min(dry.pdf.epw, room * px_w / px_h)
    while True:  # wrapped lines can differ by a hair: shrink until the page holds it all
        pdf = document.PdfReport(title)
        _draw(pdf, report, cohort_name, (png, w, w * px_h / px_w), model_note)
        if pdf.pdf.page_no() == 1 or w < 40:
            return pdf.output()
        w *= 0.95


def _png_size(png: bytes) -> tuple[int, int]:
    """Width and height of a PNG, from its header (IHDR)."""
    return int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")
