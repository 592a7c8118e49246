"""The meeting: attendees, start and sign-off as audited append-only events; a signed-off
meeting's record is final; the record lists attendees and local times with the zone."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pandas as pd
import pytest
import sqlalchemy as sa

from paincycle import audit, clock, database, meetings, review
from paincycle.access import AccessDenied, Principal, Role
from paincycle.reports import meeting as record_formats

DAY = date(2026, 12, 2)
NURSE = Principal("nurse@clinic", Role.CLINICIAN)
RESEARCHER = Principal("research@uni", Role.RESEARCHER)


def test_attendees_are_cleaned():
    assert meetings.clean_attendees(" Dr Ana Ruiz \nana ruiz\n\nJo Bloggs, Sam Lee") == (
        "Dr Ana Ruiz", "ana ruiz", "Jo Bloggs", "Sam Lee")
    assert meetings.clean_attendees(["Jo", "jo", "  "]) == ("Jo",)
    with pytest.raises(ValueError, match="at most"):
        meetings.clean_attendees([f"person {i}" for i in range(meetings.MAX_ATTENDEES + 1)])


def test_a_meeting_starts_changes_attendees_and_signs_off(workflow_engine):
    assert not meetings.meeting(DAY, engine=workflow_engine).started
    with pytest.raises(ValueError, match="at least one attendee"):
        meetings.start(DAY, "  \n ", engine=workflow_engine)
    with pytest.raises(ValueError, match="start the meeting"):
        meetings.sign_off(DAY, engine=workflow_engine)

    started = meetings.start(DAY, "Dr Ana Ruiz\nJo Bloggs", engine=workflow_engine, principal=NURSE)
    assert started.started and not started.signed_off
    assert started.attendees == ("Dr Ana Ruiz", "Jo Bloggs")
    assert started.started_by == "nurse@clinic"
    changed = meetings.start(DAY, ["Dr Ana Ruiz", "Jo Bloggs", "Sam Lee"], engine=workflow_engine)
    assert changed.attendees == ("Dr Ana Ruiz", "Jo Bloggs", "Sam Lee")
    assert changed.started_at == started.started_at and changed.started_by == "nurse@clinic"
    assert not meetings.meeting(date(2026, 12, 9), engine=workflow_engine).started  # another date

    closed = meetings.sign_off(DAY, engine=workflow_engine, principal=NURSE)
    assert closed.signed_off and closed.signed_off_by == "nurse@clinic"
    assert closed.attendees == changed.attendees
    with pytest.raises(meetings.MeetingClosed):
        meetings.sign_off(DAY, engine=workflow_engine)
    with pytest.raises(meetings.MeetingClosed):
        meetings.start(DAY, "Late Comer", engine=workflow_engine)

    # three events, each audited with its own entry, nothing overwritten
    with workflow_engine.connect() as conn:
        events = conn.execute(sa.select(database.meeting_events.c.event)
                              .order_by(database.meeting_events.c.id)).scalars().all()
    assert events == ["start", "attendees", "sign_off"]
    log = audit.entries(workflow_engine, None)
    assert (log["action"] == "meeting").sum() == 3
    assert "signed off" in " ".join(log["detail"])


def test_a_signed_off_meeting_takes_no_new_decision_or_revision(workflow_engine):
    first = review.record_decision("A", "psychology", "refer to CBT", engine=workflow_engine,
                                   meeting_date=DAY)
    meetings.start(DAY, "Dr Ana Ruiz", engine=workflow_engine)
    meetings.sign_off(DAY, engine=workflow_engine)
    with pytest.raises(meetings.MeetingClosed, match="signed off"):
        review.record_decision("B", "nursing", "phone weekly", engine=workflow_engine,
                               meeting_date=DAY)
    with pytest.raises(meetings.MeetingClosed):
        review.revise_decision(first.decision_id, action="refer to 1:1 CBT", engine=workflow_engine)
    # revised at the next meeting: allowed, and recorded under that meeting
    later = review.revise_decision(first.decision_id, action="refer to 1:1 CBT",
                                   engine=workflow_engine, meeting_date=date(2026, 12, 9))
    assert later.revision == 2 and later.meeting_date == date(2026, 12, 9)
    assert [d.action for d in review.all_revisions(meeting_date=DAY, engine=workflow_engine)] == [
        "refer to CBT"]


def test_meetings_need_the_right_role(workflow_engine):
    with pytest.raises(AccessDenied):
        meetings.start(DAY, "Someone", engine=workflow_engine, principal=RESEARCHER)
    with pytest.raises(AccessDenied):
        meetings.meeting(DAY, engine=workflow_engine, principal=RESEARCHER)


def test_the_record_lists_attendees_sign_off_and_local_times(workflow_engine, monkeypatch):
    monkeypatch.setenv("PAINCYCLE_TIMEZONE", "Europe/Berlin")
    monkeypatch.setattr(clock, "now", lambda: datetime(2026, 12, 2, 13, 5, tzinfo=UTC))
    monkeypatch.setattr(review, "_now", lambda: datetime(2026, 12, 2, 13, 20, tzinfo=UTC))
    review.record_decision("A", "nursing", "phone weekly", engine=workflow_engine, meeting_date=DAY)
    meetings.start(DAY, "Dr Ana Ruiz\nJo Bloggs", engine=workflow_engine)
    meetings.sign_off(DAY, engine=workflow_engine)
    agenda = pd.DataFrame({"patient_id": ["A"], "reasons": [["triad"]]})
    record = record_formats.meeting_record("demo", agenda, DAY, engine=workflow_engine)
    for text in (record_formats.meeting_markdown(record), record_formats.meeting_html(record)):
        assert "Dr Ana Ruiz, Jo Bloggs" in text
        assert "Signed off 2026-12-02 14:05 CET" in text
        assert "2026-12-02 14:20 CET" in text  # the decision's time, local, zone named
        assert "UTC" not in text
    from io import BytesIO

    from pypdf import PdfReader

    pdf = " ".join(p.extract_text() for p in PdfReader(BytesIO(
        record_formats.meeting_pdf(record))).pages)
    assert "Dr Ana Ruiz, Jo Bloggs" in pdf and "14:05 CET" in pdf


def test_an_unknown_time_zone_refuses():
    from paincycle.config import Settings, SettingsError

    with pytest.raises(SettingsError, match="PAINCYCLE_TIMEZONE"):
        Settings.from_environ({"PAINCYCLE_TIMEZONE": "Mars/Olympus"})
    assert Settings.from_environ({"PAINCYCLE_TIMEZONE": "Europe/Berlin"}).timezone == "Europe/Berlin"
