"""The workflow database on SQLite and on a real PostgreSQL: nothing the team records is lost.

Every test here runs twice through the ``workflow_engine`` fixture (conftest.py).
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError

from paincycle import audit, database
from paincycle import schema as workflow_schema
from paincycle.access import Principal, Role

NURSE = Principal("nurse@clinic.example", Role.CLINICIAN)
ADMIN = Principal("admin@clinic.example", Role.ADMIN)
N_WRITERS = 20


def _decision(patient: str, action: str = "refer to psychology") -> dict:
    return {"patient_id": patient, "cohort_version": "v1", "discipline": "psychology",
            "action": action, "note": "", "author": NURSE.user,
            "meeting_date": date(2026, 1, 5)}


def _count(engine, table) -> int:
    with engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(table)).scalar()


def test_decision_revisions_are_appended_never_overwritten(workflow_engine):
    first = database.append_revision(workflow_engine, "d-1", _decision("P001", "start CBT"))
    second = database.append_revision(workflow_engine, "d-1", _decision("P001", "start MBSR"))
    assert (first, second) == (1, 2)
    with workflow_engine.connect() as conn:
        rows = conn.execute(sa.select(database.decisions.c.revision, database.decisions.c.action)
                            .order_by(database.decisions.c.revision)).all()
    assert [tuple(r) for r in rows] == [(1, "start CBT"), (2, "start MBSR")]


def test_a_bad_decision_is_refused_not_retried_forever(workflow_engine):
    with pytest.raises(sa.exc.IntegrityError):
        database.append_revision(workflow_engine, "d-x", {"patient_id": "P001"})
    assert _count(workflow_engine, database.decisions) == 0


def test_twenty_concurrent_writers_lose_no_decision(workflow_engine):
    """20 people save at once: 20 new decisions and 20 revisions of one shared decision."""
    barrier = threading.Barrier(N_WRITERS)

    def write(i: int) -> tuple[int, int]:
        barrier.wait()
        own = database.append_revision(workflow_engine, f"own-{i}", _decision(f"P{i:03d}"))
        shared = database.append_revision(workflow_engine, "shared", _decision("P999", f"a{i}"))
        return own, shared

    with ThreadPoolExecutor(N_WRITERS) as pool:
        results = list(pool.map(write, range(N_WRITERS)))

    assert [own for own, _ in results] == [1] * N_WRITERS
    assert sorted(shared for _, shared in results) == list(range(1, N_WRITERS + 1))
    with workflow_engine.connect() as conn:
        actions = conn.execute(sa.select(database.decisions.c.action)
                               .where(database.decisions.c.decision_id == "shared")).scalars().all()
    assert sorted(actions) == sorted(f"a{i}" for i in range(N_WRITERS))
    assert _count(workflow_engine, database.decisions) == 2 * N_WRITERS


def test_agenda_overrides_keep_their_history(workflow_engine):
    with workflow_engine.begin() as conn:
        for action in ("add", "remove", "add"):
            conn.execute(database.agenda_overrides.insert().values(
                patient_id="P002", action=action, reason="team asked", author=NURSE.user,
                cohort_version="v1", created_at=datetime.now(UTC)))
    with workflow_engine.connect() as conn:
        latest = conn.execute(sa.select(database.agenda_overrides.c.action)
                              .where(database.agenda_overrides.c.patient_id == "P002")
                              .order_by(database.agenda_overrides.c.id.desc()).limit(1)).scalar()
    assert latest == "add"
    assert _count(workflow_engine, database.agenda_overrides) == 3


def test_audit_log_records_and_filters(workflow_engine):
    audit.record(workflow_engine, NURSE, audit.Action.VIEW_PATIENT, "P001", "v1")
    audit.record(workflow_engine, NURSE, "export", None, "v1", detail="xlsx\nsummary")
    audit.record(workflow_engine, ADMIN, audit.Action.IMPORT, cohort_version="v2")
    log = audit.entries(workflow_engine, ADMIN)
    assert list(log["action"]) == ["import", "export", "view_patient"]
    assert log.loc[log["action"] == "export", "detail"].item() == "xlsx summary"
    assert list(audit.entries(workflow_engine, ADMIN, patient_id="P001")["user"]) == [NURSE.user]
    assert audit.distinct_values(workflow_engine, ADMIN, "user") == sorted([NURSE.user, ADMIN.user])


def test_audit_log_refuses_update_and_delete_in_the_database(workflow_engine):
    audit.record(workflow_engine, NURSE, audit.Action.VIEW_PATIENT, "P001", "v1")
    for statement in (database.audit_log.update().values(user="someone else"),
                      database.audit_log.delete()):
        with pytest.raises(DBAPIError, match="append-only"), workflow_engine.begin() as conn:
            conn.execute(statement)
    assert list(audit.entries(workflow_engine, ADMIN)["user"]) == [NURSE.user]


def test_concurrent_audit_writers_lose_nothing(workflow_engine):
    barrier = threading.Barrier(N_WRITERS)

    def write(i: int) -> None:
        barrier.wait()
        for _ in range(5):
            audit.record(workflow_engine, NURSE, audit.Action.VIEW_PATIENT, f"P{i:03d}", "v1")

    with ThreadPoolExecutor(N_WRITERS) as pool:
        list(pool.map(write, range(N_WRITERS)))
    assert _count(workflow_engine, database.audit_log) == 5 * N_WRITERS


@pytest.mark.postgres
def test_two_app_servers_share_one_postgres_schema(postgres_schema_url):
    """Two engines (as two app servers would have) see each other's records at once."""
    url, schema = postgres_schema_url
    first = database.get_engine(url, schema=schema)
    database.append_revision(first, "d-1", _decision("P001"))
    second = sa.create_engine(url).execution_options(schema_translate_map={None: schema})
    try:
        database.append_revision(second, "d-1", _decision("P001", "second server"))
        assert _count(first, database.decisions) == 2
    finally:
        second.dispose()
    plain = sa.create_engine(url)
    with plain.connect() as conn:  # the rows really live in the test's own schema
        table = sa.Table("decisions", sa.MetaData(), sa.Column("id"), schema=schema)
        stored = conn.execute(sa.select(sa.func.count()).select_from(table)).scalar()
    plain.dispose()
    assert stored == 2


def test_schema_names_are_checked():
    with pytest.raises(ValueError, match="safe schema"):
        workflow_schema.identifier('x"; DROP TABLE decisions; --')


@pytest.mark.postgres
def test_postgres_refuses_truncating_the_audit_log_and_restarts_cleanly(postgres_schema_url):
    url, schema = postgres_schema_url
    engine = database.get_engine(url, schema=schema)
    audit.record(engine, NURSE, audit.Action.VIEW_PATIENT, "P001", "v1")
    with pytest.raises(DBAPIError, match="append-only"), engine.begin() as conn:
        conn.exec_driver_sql(f"SET LOCAL search_path TO {workflow_schema.identifier(schema)}")
        conn.exec_driver_sql("TRUNCATE audit_log")
    database.dispose(url, schema)  # a second start (another app server) re-creates nothing
    again = database.get_engine(url, schema=schema)
    assert len(audit.entries(again, ADMIN)) == 1
