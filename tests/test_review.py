"""The case-review agenda, decisions (append-only, concurrent-safe) and meeting record."""

from __future__ import annotations

import dataclasses
import threading
from datetime import date
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa
from pypdf import PdfReader

from paincycle import database, review, trajectories
from paincycle.access import AccessDenied, Principal, Role
from paincycle.cohort import read_cohort
from paincycle.reports import meeting
from paincycle.trajectories import CohortTrajectories

NURSE = Principal("nurse@clinic", Role.CLINICIAN)
RESEARCHER = Principal("research@uni", Role.RESEARCHER)


def write_cohort(folder: Path, patients: str, observations: str, events: str = "") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "patients.csv").write_text("patient_id,intake_date,sex,birth_year,diagnosis,site\n" + patients)
    (folder / "observations.csv").write_text("patient_id,date,measure,value\n" + observations)
    (folder / "events.csv").write_text("patient_id,date,event,detail\n" + events)
    return folder


@pytest.fixture
def flag_cohort(tmp_path):
    """A: PHQ-9 10 -> 17 (mood worse by 7); B: latest PHQ-9 22 (safety);
    C: pain 8, PHQ-9 12, ISI 18 (triad); D: nothing to discuss."""
    return read_cohort(write_cohort(
        tmp_path / "flags",
        "A,2025-01-06,female,1970,fibromyalgia,North\n"
        "B,2025-01-06,male,1980,migraine,North\n"
        "C,2025-01-06,female,1990,CRPS,South\n"
        "D,2025-01-06,male,1960,migraine,South\n",
        "A,2025-01-06,phq9,10\nA,2025-04-07,phq9,17\n"
        "B,2025-01-06,phq9,21\nB,2025-04-07,phq9,22\n"
        "C,2025-01-06,pain_nrs,8\nC,2025-01-06,phq9,12\nC,2025-01-06,isi,18\n"
        "D,2025-01-06,phq9,4\nD,2025-04-07,phq9,3\n",
        "A,2025-01-20,treatment_start,cbt\nA,2025-02-03,treatment_start,snri\n"
        "A,2025-03-03,treatment_stop,snri\nA,2025-02-17,appointment_missed,\n"
        "A,2025-03-17,appointment_missed,\nA,2025-03-24,appointment_attended,\n",
    ))


# --------------------------------------------------------------------------- agenda


def test_reasons_in_words():
    assert review.deterioration_reason("mood", "phq9", 7) == "mood worse by 7 points (PHQ-9 total)"
    assert review.model_reason(0.34) == "flagged by model (risk 34%)"
    assert review.deterioration_reason("function", "steps", 2300.0) == \
        "function worse by 2,300 steps/day (Daily step count (wearable))"
    assert review.deterioration_reason("sleep", "sleep_hours", 1.0) == \
        "sleep worse by 1 hour (Diary total sleep time)"


def test_agenda_reasons_match_the_analyses(flag_cohort):
    agenda = review.build_agenda(CohortTrajectories(flag_cohort))
    assert list(agenda["patient_id"]) == ["B", "A", "C"]  # safety, then deterioration/triad
    reasons = dict(zip(agenda["patient_id"], agenda["reasons"], strict=True))
    worse = trajectories.deterioration(flag_cohort)
    assert worse.loc[worse["patient_id"] == "A", "worsened_by"].tolist() == [7]
    assert reasons["A"] == ["mood worse by 7 points (PHQ-9 total)"]
    assert reasons["B"] == ["safety: latest PHQ-9 is 22 (20 or more, severe depression)"]
    assert reasons["C"] == [review.TRIAD_REASON]
    assert "D" not in set(agenda["patient_id"])
    assert list(agenda["rank"]) == [1, 2, 3]


def test_model_risk_adds_a_reason_and_ranks(flag_cohort):
    risk = pd.DataFrame({"patient_id": ["D", "C"], "risk": [0.34, 0.10], "flagged": [1, 0]})
    agenda = review.build_agenda(CohortTrajectories(flag_cohort), risk=risk)
    row = agenda[agenda["patient_id"] == "D"].iloc[0]
    assert row["reasons"] == ["flagged by model (risk 34%)"]
    assert row["risk"] == pytest.approx(0.34)
    c = agenda[agenda["patient_id"] == "C"].iloc[0]
    assert "flagged by model" not in c["reason_text"]  # scored but not flagged
    assert list(agenda["patient_id"])[:2] == ["B", "D"]  # 4 for safety > 2.34 for the model


def test_hand_overrides_are_remembered(flag_cohort, workflow_engine):
    review.add_to_agenda("D", "family asked", principal=NURSE, engine=workflow_engine)
    review.remove_from_agenda("C", "seen yesterday", principal=NURSE, engine=workflow_engine)
    overrides = review.agenda_overrides(engine=workflow_engine)
    agenda = review.build_agenda(CohortTrajectories(flag_cohort), overrides=overrides)
    assert "C" not in set(agenda["patient_id"])
    d = agenda[agenda["patient_id"] == "D"].iloc[0]
    assert d["reasons"] == ["added by hand (nurse@clinic): family asked"]
    assert d["source"] == "added by hand"
    # the latest change per patient wins: putting C back
    review.add_to_agenda("C", principal=NURSE, engine=workflow_engine)
    agenda = review.build_agenda(CohortTrajectories(flag_cohort), overrides=review.agenda_overrides(engine=workflow_engine))
    assert "C" in set(agenda["patient_id"])
    # a limit never drops a hand addition
    short = review.build_agenda(CohortTrajectories(flag_cohort), overrides=overrides, limit=1)
    assert set(short["patient_id"]) == {"B", "D"}


# --------------------------------------------------------------------------- decisions


def test_decision_revisions_are_append_only(workflow_engine):
    first = review.record_decision("A", "psychology", "refer to CBT group", "<b>low mood</b>",
                                   principal=NURSE, engine=workflow_engine, cohort_version="v1",
                                   meeting_date=date(2026, 11, 25))
    assert first.revision == 1 and first.author == "nurse@clinic"
    second = review.revise_decision(first.decision_id, action="refer to 1:1 CBT",
                                    note="group full", principal=NURSE, engine=workflow_engine)
    assert (second.decision_id, second.revision) == (first.decision_id, 2)
    history = review.decision_history(first.decision_id, engine=workflow_engine)
    assert [(h.revision, h.action, h.note) for h in history] == [
        (1, "refer to CBT group", "<b>low mood</b>"), (2, "refer to 1:1 CBT", "group full")]
    assert history[1].meeting_date == date(2026, 11, 25)
    current = review.current_decisions("A", engine=workflow_engine)
    assert [(c.revision, c.action) for c in current] == [(2, "refer to 1:1 CBT")]
    with workflow_engine.connect() as conn:
        rows = conn.execute(sa.select(sa.func.count()).select_from(database.decisions)).scalar()
        audited = conn.execute(sa.select(sa.func.count()).select_from(database.audit_log)
                               .where(database.audit_log.c.action == "decision")).scalar()
    assert rows == 2 and audited == 2


def test_decisions_need_permission_and_valid_input(workflow_engine):
    with pytest.raises(AccessDenied):
        review.record_decision("A", "nursing", "call", principal=RESEARCHER, engine=workflow_engine)
    with pytest.raises(ValueError, match="discipline"):
        review.record_decision("A", "surgery", "operate", engine=workflow_engine)
    with pytest.raises(ValueError, match="action"):
        review.record_decision("A", "nursing", "   ", engine=workflow_engine)
    with pytest.raises(KeyError):
        review.revise_decision("no-such-id", action="x", engine=workflow_engine)


def test_concurrent_writers_lose_nothing(workflow_engine):
    """Eight people save at once: four new decisions, four edits of one decision."""
    base = review.record_decision("A", "nursing", "phone weekly", engine=workflow_engine)
    barrier = threading.Barrier(8)
    errors: list[BaseException] = []

    def new_decision(i: int) -> None:
        try:
            barrier.wait()
            review.record_decision("A", review.DISCIPLINES[i], f"new {i}", principal=NURSE,
                                   engine=workflow_engine)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    def edit(i: int) -> None:
        try:
            barrier.wait()
            review.revise_decision(base.decision_id, action=f"edit {i}", principal=NURSE,
                                   engine=workflow_engine)
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=new_decision, args=(i,)) for i in range(4)]
    threads += [threading.Thread(target=edit, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    history = review.decision_history(base.decision_id, engine=workflow_engine)
    assert [h.revision for h in history] == [1, 2, 3, 4, 5]
    assert sorted(h.action for h in history[1:]) == [f"edit {i}" for i in range(4)]
    everything = review.all_revisions("A", engine=workflow_engine)
    assert sorted(d.action for d in everything if d.action.startswith("new")) == \
        [f"new {i}" for i in range(4)]
    assert len(everything) == 9
    assert len(review.current_decisions("A", engine=workflow_engine)) == 5


# --------------------------------------------------------------------------- case card


def test_case_card(flag_cohort, workflow_engine):
    review.record_decision("A", "pain medicine", "review SNRI", engine=workflow_engine)
    agenda = review.build_agenda(CohortTrajectories(flag_cohort))
    row = agenda[agenda["patient_id"] == "A"].iloc[0].to_dict()
    card = review.case_card(CohortTrajectories(flag_cohort), "A", agenda_row=row, engine=workflow_engine,
                            top_factors=["missed 2 of 3 appointments raises risk"])
    assert card.treatments == ["cbt"]  # snri was stopped
    assert [d.strftime("%Y-%m-%d") for d in card.missed_appointments] == ["2025-02-17", "2025-03-17"]
    assert card.attended_appointments == 1
    assert card.age == 55 and card.site == "North"
    assert card.reasons == ["mood worse by 7 points (PHQ-9 total)"]
    assert [d.action for d in card.decisions] == ["review SNRI"]
    with pytest.raises(KeyError):
        review.case_card(CohortTrajectories(flag_cohort), "nobody", engine=workflow_engine)
    with pytest.raises(AccessDenied):
        review.case_card(CohortTrajectories(flag_cohort), "A", engine=workflow_engine, principal=RESEARCHER)


# --------------------------------------------------------------------------- meeting record


HOSTILE = "<script>alert(1)</script> [click](http://evil) **bold** =1+1"


@pytest.fixture
def record(flag_cohort, workflow_engine):
    day = date(2026, 11, 25)
    first = review.record_decision("A", "psychology", "refer to CBT", HOSTILE,
                                   engine=workflow_engine, meeting_date=day)
    review.revise_decision(first.decision_id, action="refer to 1:1 CBT", note="group is full",
                           engine=workflow_engine)
    review.record_decision("B", "nursing", "safety call today", "crisis plan shared",
                           engine=workflow_engine, meeting_date=day)
    review.record_decision("C", "sleep", "another day", engine=workflow_engine,
                           meeting_date=date(2026, 11, 18))
    agenda = review.build_agenda(CohortTrajectories(flag_cohort))
    return meeting.meeting_record("demo", agenda, day, engine=workflow_engine)


def test_meeting_record_holds_every_revision(record):
    assert record.patients() == ["B", "A", "C"]  # agenda order
    [[r1, r2]] = record.decisions_of("A")
    assert (r1.action, r2.action) == ("refer to CBT", "refer to 1:1 CBT")
    assert record.decisions_of("C") == []  # decided in another meeting


def test_meeting_markdown_escapes_free_text(record):
    text = meeting.meeting_markdown(record)
    assert "refer to 1:1 CBT" in text and "refer to CBT" in text
    assert "revision 1 (superseded)" in text and "revision 2 (current)" in text
    assert "safety call today" in text and "crisis plan shared" in text
    assert "<script>" not in text and "&lt;script&gt;" in text
    assert "[click](http" not in text and "\\[click\\](http" in text
    assert "**bold**" not in text


def test_meeting_html_escapes_free_text(record):
    page = meeting.meeting_html(record)
    assert "<script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "refer to 1:1 CBT" in page and "safety call today" in page


def test_meeting_pdf_contains_the_decisions(record, tmp_path):
    path = tmp_path / "meeting.pdf"
    path.write_bytes(meeting.meeting_pdf(record))
    text = " ".join(page.extract_text() for page in PdfReader(path).pages)
    for words in ("refer to CBT", "refer to 1:1 CBT", "safety call today", "crisis plan shared",
                  "mood worse by 7 points", "<script>alert(1)</script>"):
        assert words in text


def test_meeting_pdf_logs_no_patient_text(record, caplog):
    """A note in characters the PDF font lacks must not be echoed into the logs."""
    record.revisions[0] = dataclasses.replace(record.revisions[0], note="疼痛 secret \x07")
    with caplog.at_level("DEBUG"):
        meeting.meeting_pdf(record)
    assert "疼" not in caplog.text and "secret" not in caplog.text


def test_a_note_with_nul_is_stored_without_it_on_both_backends(workflow_engine):
    """A NUL once made PostgreSQL quote the note and the patient id into its error and log."""
    saved = review.record_decision("P\x00001", "nursing", "call\x00 back", "line one\x00\nline two",
                                   principal=NURSE, engine=workflow_engine)
    stored = review.decision_history(saved.decision_id, engine=workflow_engine, principal=NURSE)[-1]
    assert (stored.patient_id, stored.action, stored.note) == ("P 001", "call  back",
                                                              "line one\nline two")


def test_a_decision_and_its_audit_entry_are_stored_together_or_not_at_all(workflow_engine,
                                                                          monkeypatch):
    from paincycle import audit

    def broken_audit(*args, **kwargs):
        raise RuntimeError("audit insert failed")

    monkeypatch.setattr(audit, "_insert", broken_audit)
    with pytest.raises(RuntimeError):
        review.record_decision("P001", "nursing", "call back", principal=NURSE, engine=workflow_engine)
    with pytest.raises(RuntimeError):
        review.add_to_agenda("P001", "asked", principal=NURSE, engine=workflow_engine)
    with workflow_engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(database.decisions)).scalar() == 0
        assert conn.execute(
            sa.select(sa.func.count()).select_from(database.agenda_overrides)).scalar() == 0


def test_a_scribe_names_who_decided_and_the_record_keeps_who_typed_it(workflow_engine):
    """"Decided by" is typed; who typed it is the signed-in person, set by the app."""
    saved = review.record_decision("P001", "psychology", "refer to CBT", principal=NURSE,
                                   engine=workflow_engine, author="Dr Lee")
    stored = review.decision_history(saved.decision_id, engine=workflow_engine, principal=NURSE)[-1]
    assert (stored.author, stored.recorded_by) == ("Dr Lee", NURSE.user)
