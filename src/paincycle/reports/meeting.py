"""One meeting's record: the agenda and every decision revision, as Markdown, HTML or PDF.

The record is collected once (:func:`meeting_record`) and turned into one view
(:func:`_view`) that every format renders, so the three files always say the
same thing. Markdown and HTML are Jinja2 templates that escape every value.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

import pandas as pd
from sqlalchemy.engine import Engine

from paincycle import access, clock, meetings, review
from paincycle.access import Permission, Principal
from paincycle.reports import document


@dataclass
class MeetingRecord:
    """The agenda of one meeting with every decision revision recorded for it."""

    meeting_date: date
    cohort_name: str
    agenda: pd.DataFrame
    revisions: list[review.Decision]
    #: Who attended, when it started and its sign-off (a meeting never started has none).
    meeting: meetings.Meeting | None = None

    def patients(self) -> list[str]:
        """Agenda order first, then anyone else decided about in the meeting."""
        order = [str(p) for p in self.agenda["patient_id"]] if not self.agenda.empty else []
        for item in self.revisions:
            if item.patient_id not in order:
                order.append(item.patient_id)
        return order

    def reasons_of(self, patient_id: str) -> list[str]:
        if self.agenda.empty:
            return []
        rows = self.agenda[self.agenda["patient_id"].astype(str) == patient_id]
        return list(rows.iloc[0]["reasons"]) if len(rows) else []

    def decisions_of(self, patient_id: str) -> list[list[review.Decision]]:
        """Each decision's revisions (oldest first), decisions in the order first recorded."""
        grouped: dict[str, list[review.Decision]] = {}
        for item in sorted(self.revisions, key=lambda d: (d.created_at, d.revision)):
            if item.patient_id == patient_id:
                grouped.setdefault(item.decision_id, []).append(item)
        return [sorted(v, key=lambda d: d.revision) for v in grouped.values()]


def meeting_record(cohort_name: str, agenda: pd.DataFrame, meeting_date: date, *,
                   engine: Engine | None = None, principal: Principal | None = None) -> MeetingRecord:
    """Collect a meeting's record from the database (identified: needs export rights)."""
    access.require(principal, Permission.EXPORT_IDENTIFIED)
    revisions = review.all_revisions(meeting_date=meeting_date, engine=engine, principal=principal)
    held = meetings.meeting(meeting_date, engine=engine, principal=principal)
    return MeetingRecord(meeting_date, cohort_name, agenda, revisions, held)


def _revision_label(item: review.Decision, latest: int) -> str:
    state = "current" if item.revision == latest else "superseded"
    return f"revision {item.revision} ({state}), {item.when}, by {item.author}"


def _view(record: MeetingRecord) -> dict:
    """What every format prints, in order: patients, their reasons, decisions with revisions."""
    patients = []
    for pid in record.patients():
        decisions = []
        for revisions in record.decisions_of(pid):
            latest = revisions[-1]
            decisions.append({
                "heading": f"{latest.discipline.capitalize()}: {latest.action}",
                "revisions": [{"label": _revision_label(item, latest.revision),
                               "action": item.action, "note": item.note,
                               "current": item.revision == latest.revision}
                              for item in revisions]})
        patients.append({"id": pid, "reasons": record.reasons_of(pid), "decisions": decisions})
    held = record.meeting or meetings.Meeting(record.meeting_date)
    if held.signed_off:
        status = f"Signed off {clock.local_text(held.signed_off_at)} by {held.signed_off_by}."
    elif held.started:
        status = "Not signed off yet: this record may still change."
    else:
        status = "The meeting was not started in PainCycle (no attendees recorded)."
    return {"title": f"Case-review meeting, {record.meeting_date:%Y-%m-%d}",
            "date": f"{record.meeting_date:%Y-%m-%d}", "cohort_name": record.cohort_name,
            "attendees": list(held.attendees),
            "started": (f"{clock.local_text(held.started_at)} by {held.started_by}"
                        if held.started else ""),
            "status": status,
            "zone": clock.local(clock.now()).tzname() or "",
            "patients": patients}


def meeting_markdown(record: MeetingRecord) -> str:
    """The meeting record as Markdown; every user-written word is escaped."""
    text = document.render_markdown("meeting.md.j2", **_view(record))
    lines = text.splitlines()
    tidy = [line for i, line in enumerate(lines) if line.strip() or (i and lines[i - 1].strip())]
    return "\n".join(tidy).rstrip() + "\n"


def meeting_html(record: MeetingRecord) -> str:
    """The meeting record as one self-contained HTML page; every value escaped."""
    return document.render_html("meeting.html.j2", **_view(record))


def meeting_pdf(record: MeetingRecord) -> bytes:
    """The meeting record as PDF (Unicode font, text drawn as text, never markup)."""
    view = _view(record)
    pdf = document.PdfReport(view["title"])
    pdf.paragraph(f"Cohort: {view['cohort_name']}")
    if view["started"]:
        pdf.paragraph(f"Started: {view['started']}")
    pdf.paragraph(f"Attendees: {', '.join(view['attendees']) or 'not recorded'}")
    pdf.paragraph(view["status"])
    pdf.paragraph(f"Times are local ({view['zone']}).")
    if not view["patients"]:
        pdf.paragraph("No patients were on the agenda and no decisions were recorded.")
    for patient in view["patients"]:
        pdf.heading(f"Patient {patient['id']}")
        for reason in patient["reasons"]:
            pdf.paragraph(f"- {reason}")
        if not patient["decisions"]:
            pdf.paragraph("No decision recorded.")
        for decision in patient["decisions"]:
            pdf.subheading(decision["heading"])
            for revision in decision["revisions"]:
                pdf.paragraph(f"{revision['label']}: {revision['action']}")
                if revision["note"]:
                    pdf.paragraph(f"    {revision['note']}")
    return pdf.output()


MEETING_FORMATS: dict[str, tuple[str, Callable[[MeetingRecord], str | bytes]]] = {
    "md": ("text/markdown", meeting_markdown),
    "html": ("text/html", meeting_html),
    "pdf": ("application/pdf", meeting_pdf),
}
