"""Migrations own the schema; the audit log is a hash chain the app cannot rewrite unseen.

The SQLite half runs everywhere; the PostgreSQL half (marked) runs against the
real server, including an app role with SELECT and INSERT only.
"""

from __future__ import annotations

import uuid

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy.exc import DBAPIError

from paincycle import audit, config, database, schema
from paincycle.access import LOCAL_USER, Principal, Role

NURSE = Principal("nurse@clinic.example", Role.CLINICIAN)


def _log_three(engine) -> None:
    for patient in ("P001", "P002", "P003"):
        audit.record(engine, NURSE, audit.Action.VIEW_PATIENT, patient, "v1")


def _raw_sqlite():
    """A plain connection to the app's SQLite file, as anyone with the file could open."""
    return sa.create_engine(config.database_url())


def test_migrations_give_exactly_the_tables_the_code_queries(workflow_engine):
    with workflow_engine.connect() as conn:
        if conn.dialect.name == "postgresql":
            conn.exec_driver_sql(f"SET search_path TO {conn.get_execution_options()['schema_translate_map'][None]}")
        differences = compare_metadata(MigrationContext.configure(conn), database.metadata)
    assert differences == []


def test_the_chain_verifies_and_links_every_entry(workflow_engine):
    _log_three(workflow_engine)
    report = audit.verify(workflow_engine, LOCAL_USER)
    assert report.intact and report.entries == 3
    with workflow_engine.connect() as conn:
        rows = conn.execute(sa.select(database.audit_log).order_by(database.audit_log.c.id)).all()
    assert rows[0].prev_hash == audit.GENESIS
    assert [r.prev_hash for r in rows[1:]] == [r.entry_hash for r in rows[:-1]]
    assert audit.verify(workflow_engine, LOCAL_USER, expect=rows[1].entry_hash).intact
    assert not audit.verify(workflow_engine, LOCAL_USER, expect="f" * 64).intact
    with pytest.raises(Exception, match="may not view the audit log"):
        audit.verify(workflow_engine, NURSE)


def test_insert_or_replace_cannot_overwrite_an_entry_on_sqlite():
    engine = database.get_engine()
    _log_three(engine)
    raw = _raw_sqlite()
    with pytest.raises(DBAPIError, match="append-only"), raw.begin() as conn:
        conn.exec_driver_sql("INSERT OR REPLACE INTO audit_log (id, at, user, role, action, detail) "
                             "VALUES (2, '2026-01-01 00:00:00', 'x', 'admin', 'view_patient', '')")
    raw.dispose()
    assert audit.verify(engine, LOCAL_USER).intact


def test_an_edit_behind_the_triggers_back_is_found_and_the_app_refuses_to_start():
    engine = database.get_engine()
    _log_three(engine)
    raw = _raw_sqlite()
    with raw.begin() as conn:  # someone with the file drops the guard and edits an entry
        conn.exec_driver_sql("DROP TRIGGER audit_log_no_update")
        conn.exec_driver_sql("UPDATE audit_log SET patient_id = 'P999' WHERE id = 2")
    raw.dispose()
    report = audit.verify(engine, LOCAL_USER)
    assert not report.intact
    assert report.first_bad_id == 2 and "changed after it was written" in report.problem
    database.dispose_all()
    with pytest.raises(schema.DatabaseNotReady, match="audit_log_no_update"):
        database.get_engine()


def test_removing_entries_is_found_wherever_they_were():
    engine = database.get_engine()
    _log_three(engine)
    raw = _raw_sqlite()
    with raw.begin() as conn:
        conn.exec_driver_sql("DROP TRIGGER audit_log_no_delete")
        conn.exec_driver_sql("DELETE FROM audit_log WHERE id = 2")
    report = audit.verify(engine, LOCAL_USER)
    assert report.first_bad_id == 3 and "was removed" in report.problem
    with raw.begin() as conn:
        conn.exec_driver_sql("DELETE FROM audit_log WHERE id = 3")
    raw.dispose()
    assert "removed from its end" in audit.verify(engine, LOCAL_USER).problem


def test_a_dropped_audit_log_is_never_recreated_empty():
    engine = database.get_engine()
    _log_three(engine)
    database.dispose_all()
    raw = _raw_sqlite()
    with raw.begin() as conn:
        conn.exec_driver_sql("DROP TABLE audit_log")
    raw.dispose()
    with pytest.raises(schema.DatabaseNotReady, match="lost its audit_log"):
        database.get_engine()


def test_a_database_from_before_migrations_is_adopted_and_its_entries_chained(data_dir):
    """Tables made by a release before migrations (no version table) are upgraded, not recreated."""
    from alembic import command

    raw = _raw_sqlite()
    with raw.begin() as conn:
        command.upgrade(schema._config(conn, None), "0001")  # the tables those releases made
        conn.exec_driver_sql("DROP TABLE alembic_version")
        for user in ("lee", "khan"):
            conn.execute(sa.text("INSERT INTO audit_log (at, user, role, action, detail) VALUES "
                                 "('2025-03-01 10:00:00.000000', :user, 'clinician', 'sign_in', '')"),
                         {"user": user})
    raw.dispose()
    engine = database.get_engine()
    report = audit.verify(engine, LOCAL_USER)
    assert report.intact and report.entries == 2
    audit.record(engine, NURSE, audit.Action.SIGN_IN)
    assert audit.verify(engine, LOCAL_USER).entries == 3


@pytest.mark.postgres
def test_postgres_is_never_migrated_by_the_app(postgres_schema_url):
    """A schema behind the release refuses, naming the command; the app runs no DDL there."""
    url, _ = postgres_schema_url
    empty = f"t_{uuid.uuid4().hex[:16]}"
    admin = sa.create_engine(url)
    with admin.begin() as conn:
        conn.exec_driver_sql(f'CREATE SCHEMA "{empty}"')
    try:
        with pytest.raises(schema.DatabaseNotReady, match="paincycle db upgrade"):
            database.get_engine(url, schema=empty)
    finally:
        database.dispose(url, empty)
        with admin.begin() as conn:
            conn.exec_driver_sql(f'DROP SCHEMA "{empty}" CASCADE')
        admin.dispose()


@pytest.mark.postgres
def test_postgres_app_role_with_select_and_insert_only(postgres_schema_url):
    """Tables owned by the owner; the app role starts, records, and cannot tamper."""
    url, name = postgres_schema_url
    role = f"app_{uuid.uuid4().hex[:10]}"
    owner = sa.create_engine(url)
    with owner.begin() as conn:
        conn.exec_driver_sql(f'CREATE ROLE "{role}" LOGIN')
    schema.upgrade(owner, name, app_role=role)
    app_url = sa.make_url(url).set(username=role).render_as_string(hide_password=False)
    try:
        engine = database.get_engine(app_url, schema=name)  # starts: no DDL needed
        _log_three(engine)
        database.append_revision(engine, "d-1", {
            "patient_id": "P001", "discipline": "psychology", "action": "refer", "note": "",
            "author": "lee"})
        for statement in ("UPDATE audit_log SET patient_id = 'x'", "DELETE FROM audit_log",
                          "TRUNCATE audit_log", "ALTER TABLE audit_log DISABLE TRIGGER ALL",
                          "DROP TABLE audit_log", "DROP TRIGGER audit_log_append_only ON audit_log",
                          "UPDATE decisions SET action = 'x'", "DELETE FROM audit_chain_head"):
            with pytest.raises(DBAPIError), engine.begin() as conn:
                conn.exec_driver_sql(f'SET LOCAL search_path TO "{name}"')
                conn.exec_driver_sql(statement)
        assert audit.verify(engine, LOCAL_USER).intact
        assert audit.verify(engine, LOCAL_USER).entries == 3
    finally:
        database.dispose(app_url, name)
        with owner.begin() as conn:
            conn.exec_driver_sql(f'DROP OWNED BY "{role}"')
            conn.exec_driver_sql(f'DROP ROLE "{role}"')
        owner.dispose()
