"""The case-review page: a whole meeting on the sample cohort, and the empty state."""

from __future__ import annotations

import json
from datetime import date

import pytest
from streamlit.testing.v1 import AppTest

from paincycle import config, review
from paincycle.cohort import read_cohort
from paincycle.reports import meeting
from paincycle.store import CohortStore
from paincycle.trajectories import CohortTrajectories

APP = "../../app.py"
PAGE = "pages/case_review.py"


def _widget(elements, label):
    matches = [w for w in elements if w.label == label]
    assert matches, f"no widget labelled {label!r}: {[w.label for w in elements]}"
    return matches[0]


def _open(timeout: int = 180) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=timeout).run()
    assert not at.exception
    at.switch_page(PAGE).run()
    assert not at.exception
    return at


def _patient_on_card(at: AppTest) -> str:
    heading = next(h.value for h in at.subheader if h.value.startswith(":material/person: Patient "))
    return heading.removeprefix(":material/person: Patient ")


def _record(at: AppTest, discipline: str, action: str, note: str) -> None:
    _widget(at.selectbox, "Discipline").select(discipline)
    _widget(at.text_input, "Action").input(action)
    _widget(at.text_area, "Note").input(note)
    _widget(at.button, "Save decision").click()
    at.run()
    assert not at.exception


@pytest.mark.skipif(not (config.SAMPLE_COHORT / "patients.parquet").exists(),
                    reason="the bundled sample cohort is missing")
def test_a_whole_meeting_on_the_sample_cohort():
    cohort = read_cohort(config.SAMPLE_COHORT)
    CohortStore().save(cohort, name="demo")
    at = _open()

    # the agenda: a table of patients with reasons; the card shows the first one
    agenda_heading = next(h.value for h in at.subheader if h.value.startswith("Agenda"))
    assert agenda_heading == "Agenda (15 patients)"
    table = at.dataframe[0].value
    assert len(table) == 15 and list(table["#"]) == list(range(1, 16))
    kinds = table[["safety", "model risk", "worse since intake", "triad", "by hand"]]
    assert (kinds.apply(lambda col: col.str.len() > 0).sum(axis=1) >= 1).all()  # a reason each
    assert table["priority"].iloc[0] == "safety signal"
    assert table["model risk"].str.fullmatch(r"\d{1,2}%( flagged)?").all()
    first = _patient_on_card(at)
    assert first == table["patient"].iloc[0]
    assert len(at.get("vega_lite_chart")) >= 5  # four sparklines and the responder tiles
    # the model's reasons for the first patient, explained on demand
    assert any(t.value.endswith(("raises risk", "lowers risk")) for t in at.text)

    # decision for the first patient, then "next patient" and a decision for the second
    _record(at, "psychology", "refer to CBT group", "<script>alert('x')</script>")
    _widget(at.button, "Next patient").click()
    at.run()
    second = _patient_on_card(at)
    assert second == table["patient"].iloc[1]
    _record(at, "nursing", "phone weekly", "check mood")

    # edit the second patient's decision: a new revision, the old one kept
    _widget(at.text_input, "New action").input("phone twice a week")
    _widget(at.button, "Save as new revision").click()
    at.run()
    assert not at.exception
    histories = [d.value for d in at.dataframe if "revision" in d.value.columns]
    assert len(histories) == 1
    shown = histories[0].sort_values("revision")
    assert list(shown["revision"]) == [1, 2]
    assert list(shown["action"]) == ["phone weekly", "phone twice a week"]
    # the edit box now offers the current revision, with its text
    edit = _widget(at.selectbox, "Edit a decision")
    assert edit.format_func(edit.value) == "nursing: phone twice a week (revision 2)"
    assert _widget(at.text_input, "New action").value == "phone twice a week"

    # back to the first patient: its decision is in its history, note shown as plain text
    _widget(at.button, "Previous").click()
    at.run()
    assert _patient_on_card(at) == first
    history = next(d.value for d in at.dataframe if "revision" in d.value.columns)
    assert history["note"].tolist() == ["<script>alert('x')</script>"]

    # the meeting record (the download's content is built by this function)
    assert len(at.get("download_button")) == 3
    record = meeting.meeting_record("demo", review.build_agenda(CohortTrajectories(cohort), limit=15), date.today())
    text = meeting.meeting_markdown(record)
    for words in ("refer to CBT group", "phone weekly", "phone twice a week",
                  "revision 1 (superseded)", "revision 2 (current)"):
        assert words in text
    assert set(record.patients()) >= {first, second}


@pytest.fixture
def no_model(tmp_path, monkeypatch):
    """No shipped model: the agenda runs on the rules alone."""
    from paincycle.ui import review as widgets

    monkeypatch.setattr("paincycle.config.DEMO_MODEL", tmp_path / "no-model.skops")
    widgets._rules.clear()
    yield
    widgets._rules.clear()


def test_hand_added_patient_is_remembered(tiny_cohort_dir, no_model):
    CohortStore().save(read_cohort(tiny_cohort_dir), name="tiny")
    at = _open(60)
    assert any(h.value == "Agenda (0 patients)" for h in at.subheader)
    assert any("No risk model available" in c.value for c in at.caption)
    assert any("No patient meets any review rule" in i.value for i in at.info)
    _widget(at.text_input, "Patient id").input("P999")  # no such patient: said, nothing stored
    _widget(at.button, "Add to agenda").click()
    at.run()
    assert any("No patient with that id" in w.value for w in at.warning)
    assert any(h.value == "Agenda (0 patients)" for h in at.subheader)
    _widget(at.text_input, "Patient id").input("P002")
    _widget(at.text_input, "Reason (optional)").input("asked by GP")
    _widget(at.button, "Add to agenda").click()
    at.run()
    assert not at.exception
    assert any(h.value == "Agenda (1 patients)" for h in at.subheader)
    assert _patient_on_card(at) == "P002"
    # a fresh session (another colleague) sees the same agenda
    again = _open(60)
    assert _patient_on_card(again) == "P002"
    reasons = [t.value for t in again.text]
    assert "• added by hand (local user): asked by GP" in reasons


def test_empty_state(tmp_path, monkeypatch):
    monkeypatch.setattr("paincycle.config.SAMPLE_COHORT", tmp_path / "none")
    at = _open(60)
    assert any("No cohort is loaded yet" in i.value for i in at.info)


def test_tiles_are_vega_lite(tiny_cohort_dir, no_model):
    """The case card draws real charts (not an always-empty element type)."""
    CohortStore().save(read_cohort(tiny_cohort_dir), name="tiny")
    at = _open(60)
    _widget(at.text_input, "Patient id").input("P001")
    _widget(at.button, "Add to agenda").click()
    at.run()
    specs = [json.loads(c.proto.spec) for c in at.get("vega_lite_chart")]
    assert len(specs) == 4  # PHQ-9 and pain sparklines, physical function, responder tiles
    tiles = specs[-1]
    assert "improved" in json.dumps(tiles)


def test_a_meeting_is_started_with_attendees_and_signed_off(tiny_cohort_dir, no_model):
    CohortStore().save(read_cohort(tiny_cohort_dir), name="tiny")
    at = _open(60)
    _widget(at.text_input, "Patient id").input("P001")
    _widget(at.button, "Add to agenda").click()
    at.run()
    agenda = at.dataframe[0].value
    assert list(agenda.columns) == ["#", "patient", "priority", "safety", "model risk",
                                    "worse since intake", "triad", "decided", "by hand"]
    assert agenda["priority"].tolist() == ["added by hand"]
    assert agenda["by hand"].tolist() == ["yes"] and agenda["decided"].tolist() == [""]

    # start with who is at the table
    _widget(at.text_area, "Who is at the table? (one name per line)").input("Dr Ana Ruiz\nJo Bloggs")
    _widget(at.button, "Start the meeting").click()
    at.run()
    assert not at.exception
    assert any("2 attendees: Dr Ana Ruiz, Jo Bloggs" in t.value for t in at.text)

    _record(at, "psychology", "refer to CBT group", "")
    assert at.dataframe[0].value["decided"].tolist() == ["yes"]
    assert any(c.value == "Decided in this meeting · 1 of 1 agenda patients decided"
               for c in at.caption)

    # sign-off needs the confirmation, then closes the record
    _widget(at.button, "Sign off").click()
    at.run()
    assert any("Tick the box" in w.value for w in at.warning)
    _widget(at.checkbox, "Every decision of this meeting is recorded and correct").check()
    _widget(at.button, "Sign off").click()
    at.run()
    assert not at.exception
    assert any(s.value.startswith("Signed off at ") for s in at.success)
    assert not [b for b in at.button if b.label == "Save decision"]
    assert any("This meeting is signed off" in i.value for i in at.info)

    record = meeting.meeting_markdown(meeting.meeting_record("tiny", at.dataframe[0].value.rename(
        columns={"patient": "patient_id"}).assign(reasons=[[]]), date.today()))
    assert "Attendees: Dr Ana Ruiz, Jo Bloggs" in record and "Signed off " in record


@pytest.mark.skipif(not (config.SAMPLE_COHORT / "patients.parquet").exists(),
                    reason="the bundled sample cohort is missing")
def test_the_case_card_shows_the_weekly_risk_on_request():
    CohortStore().save(read_cohort(config.SAMPLE_COHORT), name="demo")
    at = _open()
    patient = _patient_on_card(at)
    before = len(at.get("vega_lite_chart"))
    at.toggle(key=f"card_weekly_{patient}").set_value(True).run()
    assert not at.exception
    charts = at.get("vega_lite_chart")
    assert len(charts) == before + 1
    assert any("Risk over time (weekly model)" in c.proto.spec for c in charts)
    assert any("not a diagnosis" in c.value for c in at.caption)
