"""The audit log's core: what is kept, what is refused, who may read it."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from paincycle import audit, database
from paincycle.access import LOCAL_USER, AccessDenied, Principal, Role

NURSE = Principal("nurse@clinic.example", Role.CLINICIAN)


@pytest.fixture
def engine():
    return database.get_engine()


def test_detail_is_one_short_line(engine):
    audit.record(engine, NURSE, "export", detail="line one\nline two\x1b[31m" + "x" * 1000)
    detail = audit.entries(engine, LOCAL_USER)["detail"].item()
    assert "\n" not in detail and "\x1b" not in detail
    assert detail.startswith("line one line two")
    assert len(detail) == audit.MAX_DETAIL


@pytest.mark.parametrize("action", ["", "Drop Table", "x" * 41, "view patient", "a;b"])
def test_odd_action_names_are_refused(engine, action):
    with pytest.raises(ValueError, match="not an audit action"):
        audit.record(engine, NURSE, action)


def test_only_admins_read_the_log(engine):
    audit.record(engine, NURSE, audit.Action.VIEW_PATIENT, "P001")
    for role in (Role.CLINICIAN, Role.RESEARCHER):
        with pytest.raises(AccessDenied, match="may not view the audit log"):
            audit.entries(engine, Principal("x", role))
        with pytest.raises(AccessDenied):
            audit.distinct_values(engine, Principal("x", role), "user")
    assert len(audit.entries(engine, Principal("boss", Role.ADMIN))) == 1


def test_module_offers_no_way_to_change_the_log():
    public = {name for name in dir(audit) if not name.startswith("_")}
    assert not {n for n in public if any(w in n for w in ("update", "delete", "remove", "edit"))}


def test_csv_export_defuses_formulas(engine):
    audit.record(engine, Principal("=cmd|' /C calc'!A0", Role.CLINICIAN), "export",
                 detail="+1 patients")
    text = audit.to_csv(audit.entries(engine, LOCAL_USER)).decode()
    assert "'=cmd" in text and "'+1 patients" in text
    assert text.splitlines()[0] == ",".join(audit.COLUMNS)


def test_audit_once_records_a_view_once_per_session(engine):
    def page() -> None:
        import streamlit as st

        from paincycle.ui.audit import Action, audit_once

        patient = st.selectbox("Patient", ["P001", "P002"])
        audit_once(Action.VIEW_PATIENT, patient)
        st.button("rerun")

    at = AppTest.from_function(page, default_timeout=60).run()
    at.button[0].click().run()
    at.button[0].click().run()
    assert not at.exception
    at.selectbox[0].select("P002").run()
    at.selectbox[0].select("P001").run()
    log = audit.entries(engine, LOCAL_USER)
    assert sorted(log["patient_id"]) == ["P001", "P002"]
    assert set(log["user"]) == {LOCAL_USER.user}


def test_a_read_only_database_error_carries_no_patient_id(tmp_path):
    """A read-only data folder once put the audit row, patient id included, into the log."""
    import sqlalchemy as sa

    from paincycle import audit as audit_module
    from paincycle import database
    from paincycle.access import Principal, Role

    database.get_engine(f"sqlite:///{tmp_path / 'ro.db'}")  # created and migrated
    read_only = database.get_engine(f"sqlite:///file:{tmp_path / 'ro.db'}?mode=ro&uri=true")
    with pytest.raises(sa.exc.OperationalError) as caught:
        audit_module.record(read_only, Principal("lee", Role.CLINICIAN), "view_patient",
                            "P-SECRET-77", "v1")
    assert "readonly" in str(caught.value) and "P-SECRET-77" not in str(caught.value)
    database.dispose_all()
