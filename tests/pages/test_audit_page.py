"""The audit log page as an admin uses it: filters, the empty state, the CSV download."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from streamlit.testing.v1 import AppTest

from paincycle import audit, database
from paincycle.access import Principal, Role

PAGE = "../../pages/audit.py"
LEE = Principal("lee@clinic.example", Role.CLINICIAN)
KHAN = Principal("khan@uni.example", Role.RESEARCHER)


def _seed() -> None:
    engine = database.get_engine()
    audit.record(engine, LEE, audit.Action.VIEW_PATIENT, "P001", "v1")
    audit.record(engine, LEE, audit.Action.DECISION, "P001", "v1", detail="decision d1 revision 1")
    audit.record(engine, KHAN, audit.Action.EXPORT, None, "v1", detail="csv de-identified")


def _page() -> AppTest:
    return AppTest.from_file(PAGE, default_timeout=60).run()


def test_shows_every_entry_newest_first_and_records_its_own_viewing():
    _seed()
    at = _page()
    assert not at.exception
    assert at.metric[0].value == "4"  # three seeded plus the admin's own look at the log
    assert list(at.dataframe[0].value["action"]) == ["view_audit", "export", "decision",
                                                     "view_patient"]
    assert at.get("download_button"), "no CSV download"
    at.run()
    assert at.metric[0].value == "4", "viewing is recorded once per session, not per rerun"


def test_filters_by_user_action_and_patient():
    _seed()
    at = _page()
    at.selectbox[0].select(LEE.user).run()
    assert set(at.dataframe[0].value["user"]) == {LEE.user}
    at.selectbox[1].select("decision").run()
    assert list(at.dataframe[0].value["detail"]) == ["decision d1 revision 1"]
    at.selectbox[0].select("(everyone)").run()
    at.selectbox[1].select("(all)").run()
    at.text_input[0].input("P001").run()
    assert list(at.dataframe[0].value["patient_id"]) == ["P001", "P001"]


def test_empty_state_when_nothing_matches():
    _seed()
    at = _page()
    at.text_input[0].input("NOBODY").run()
    assert not at.exception
    assert any("No audit entries match" in i.value for i in at.info)
    assert not at.dataframe


def test_date_filter_excludes_old_entries():
    engine = database.get_engine()
    with engine.begin() as conn:
        conn.execute(database.audit_log.insert().values(
            at=datetime.now(UTC) - timedelta(days=90), user="old@clinic.example",
            role="clinician", action="view_patient", patient_id="P009", detail=""))
    audit.record(engine, LEE, audit.Action.VIEW_PATIENT, "P001", "v1")
    at = _page()
    assert "old@clinic.example" not in set(at.dataframe[0].value["user"])
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(database.audit_log)).scalar() == 3


def test_the_page_says_the_chain_is_intact_and_names_a_tampered_entry():
    _seed()
    at = _page()
    assert any("chain is intact" in s.value for s in at.success)
    head = next(t.value for t in at.text if t.value.startswith("Head: "))
    assert len(head.removeprefix("Head: ")) == 64

    raw = sa.create_engine(database.get_engine().url)
    with raw.begin() as conn:  # someone with the database file, behind the app's back
        conn.exec_driver_sql("DROP TRIGGER audit_log_no_update")
        conn.exec_driver_sql("UPDATE audit_log SET user = 'nobody' WHERE id = 2")
    raw.dispose()
    at.button(key="audit_check_chain").click().run()
    assert not at.exception
    assert any("tampered with" in e.value and "entry #2 was changed" in e.value for e in at.error)


def test_times_are_the_clinics_local_time(monkeypatch):
    monkeypatch.setenv("PAINCYCLE_TIMEZONE", "America/New_York")
    _seed()
    at = _page()
    shown = at.dataframe[0].value["time (local)"]
    assert shown.str.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d E[SD]T").all(), shown.tolist()
