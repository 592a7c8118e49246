"""The team's own records (decisions, agenda, settings, audit log) in a transactional database.

SQLAlchemy Core tables for SQLite (default) and PostgreSQL
(PAINCYCLE_DATABASE_URL). Every table is append-only: edits are new rows, so
the history of what the team decided is never lost or overwritten. The tables
are created and changed only by migrations (paincycle.schema); these
definitions mirror them for queries, and a test checks the two agree.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError, OperationalError

from paincycle import config
from paincycle import schema as schema_module

metadata = sa.MetaData()

#: A decision's revisions share ``decision_id``; the highest ``revision`` is current.
decisions = sa.Table(
    "decisions", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("decision_id", sa.String(36), nullable=False, index=True),
    sa.Column("revision", sa.Integer, nullable=False),
    sa.Column("patient_id", sa.String(64), nullable=False, index=True),
    sa.Column("cohort_version", sa.String(80)),
    sa.Column("discipline", sa.String(40), nullable=False),
    sa.Column("action", sa.String(200), nullable=False),
    sa.Column("note", sa.Text, nullable=False, default=""),
    sa.Column("author", sa.String(200), nullable=False),
    sa.Column("recorded_by", sa.String(200)),
    sa.Column("meeting_date", sa.Date),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.UniqueConstraint("decision_id", "revision", name="uq_decision_revision"),
)

#: Hand-made changes to the review agenda; the latest row per patient wins.
agenda_overrides = sa.Table(
    "agenda_overrides", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("patient_id", sa.String(64), nullable=False, index=True),
    sa.Column("action", sa.String(10), nullable=False),  # "add" or "remove"
    sa.Column("reason", sa.Text, nullable=False, default=""),
    sa.Column("author", sa.String(200), nullable=False),
    sa.Column("cohort_version", sa.String(80)),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
)

#: Who did what to which patient's record, when, on which cohort version.
audit_log = sa.Table(
    "audit_log", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False, index=True),
    sa.Column("user", sa.String(200), nullable=False),
    sa.Column("role", sa.String(40), nullable=False),
    sa.Column("action", sa.String(40), nullable=False),
    sa.Column("patient_id", sa.String(64)),
    sa.Column("cohort_version", sa.String(80)),
    sa.Column("detail", sa.Text, nullable=False, default=""),
    sa.Column("prev_hash", sa.String(64)),
    sa.Column("entry_hash", sa.String(64)),
    sa.Index("uq_audit_prev_hash", "prev_hash", unique=True),
    sa.Index("uq_audit_entry_hash", "entry_hash", unique=True),
)

#: One row: how many entries the audit log holds and the last one's hash. Writers lock it
#: to append one at a time; `paincycle audit verify` checks the log ends where it says.
audit_chain_head = sa.Table(
    "audit_chain_head", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("entries", sa.BigInteger, nullable=False),
    sa.Column("entry_hash", sa.String(64), nullable=False),
)

#: The team's shared settings (the flag threshold per model, the team's cohort version).
#: Append-only like everything else: the latest row per key is in force, earlier rows
#: are the history of who changed what.
team_settings = sa.Table(
    "team_settings", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("key", sa.String(120), nullable=False, index=True),
    sa.Column("value", sa.Text, nullable=False),
    sa.Column("author", sa.String(200), nullable=False),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
)

#: The meeting held on a date: its start, each change of the attendee list and its
#: sign-off, one row each (paincycle.meetings folds them into the meeting's state).
meeting_events = sa.Table(
    "meeting_events", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("meeting_date", sa.Date, nullable=False, index=True),
    sa.Column("event", sa.String(20), nullable=False),  # "start", "attendees" or "sign_off"
    sa.Column("attendees", sa.Text, nullable=False),  # one name per line
    sa.Column("author", sa.String(200), nullable=False),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
)

_engines: dict[tuple[str, str | None], Engine] = {}
_lock = threading.Lock()


def get_engine(url: str | None = None, schema: str | None = None) -> Engine:
    """An engine for ``url`` (default: settings), its schema checked on first use.

    SQLite is migrated by the app itself; PostgreSQL must have been migrated by its
    owner (`paincycle db upgrade`), else ``schema.DatabaseNotReady`` is raised.

    ``schema`` (PostgreSQL only) puts the tables in their own namespace, which is how
    tests keep parallel runs apart on one server.
    """
    url = url or config.database_url()
    key = (url, schema)
    with _lock:
        engine = _engines.get(key)
        if engine is None:
            engine = _create(url, schema)
            _engines[key] = engine
    return engine


def _create(url: str, schema: str | None) -> Engine:
    # hide_parameters: a database error quotes no bound value (a note, a patient id) into a
    # log line or an exception message.
    kwargs: dict = {"future": True, "hide_parameters": True}
    if url.startswith("sqlite"):
        kwargs["connect_args"] = {"check_same_thread": False, "timeout": 30}
    else:
        kwargs["pool_pre_ping"] = True
    engine = sa.create_engine(url, **kwargs)
    if url.startswith("sqlite"):
        @sa.event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection, _record):  # noqa: ANN001
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.execute("PRAGMA recursive_triggers=ON")  # REPLACE fires the delete trigger
            cursor.close()
    if engine.dialect.name == "postgresql":
        sa.event.listen(engine, "handle_error", _without_values)
    if schema:
        if engine.dialect.name != "postgresql":
            raise ValueError("a schema can only be chosen on PostgreSQL")
        engine = engine.execution_options(schema_translate_map={None: schema})
    if engine.dialect.name == "sqlite":
        schema_module.upgrade(engine)  # the app owns its SQLite file: it migrates it itself
    schema_module.check_ready(engine, schema)
    return engine


class ServerError(Exception):
    """A PostgreSQL error with only what names the problem: its class, SQLSTATE and constraint.

    The server's own message and DETAIL quote values ("Failing row contains
    (P001, the note...)"); they would reach an exception's text and a log line.
    """


def _without_values(context: sa.engine.ExceptionContext) -> BaseException | None:
    orig = context.original_exception
    if context.sqlalchemy_exception is None or not hasattr(orig, "sqlstate"):
        return None
    diag = getattr(orig, "diag", None)
    names = [f"{label} {value}" for label, value in (
        ("SQLSTATE", getattr(orig, "sqlstate", None)),
        ("constraint", getattr(diag, "constraint_name", None)),
        ("table", getattr(diag, "table_name", None)),
        ("column", getattr(diag, "column_name", None))) if value]
    if getattr(orig, "sqlstate", None) == "P0001":  # RAISE in our own trigger: our own words
        names.append(str(getattr(diag, "message_primary", "") or ""))
    plain = ServerError(f"{type(orig).__name__}: {', '.join(names) or 'no detail kept'}")
    error_class = type(context.sqlalchemy_exception)
    return error_class(context.statement, None, plain, hide_parameters=True,
                       connection_invalidated=context.is_disconnect)


def append_revision(engine: Engine, decision_id: str, values: Mapping[str, Any],
                    attempts: int = 50,
                    also: Callable[[sa.Connection, int], None] | None = None) -> int:
    """Add the next revision of a decision and return its number.

    Revisions are numbered max + 1. Two people saving the same decision at the
    same moment would pick the same number; the unique constraint refuses the
    second, which then retries with the next number, so no revision is lost.
    ``also(conn, revision)`` runs in the same transaction (the audit entry), so
    the revision and its entry are stored together or not at all.
    """
    last_error: Exception | None = None
    for attempt in range(attempts):
        try:
            with engine.begin() as conn:
                current = conn.execute(
                    sa.select(sa.func.max(decisions.c.revision))
                    .where(decisions.c.decision_id == decision_id)).scalar()
                revision = (current or 0) + 1
                row = {"created_at": datetime.now(UTC), "note": "", **values,
                       "decision_id": decision_id, "revision": revision}
                conn.execute(decisions.insert().values(**row))
                if also is not None:
                    also(conn, revision)
            return revision
        except (IntegrityError, OperationalError) as exc:  # lost the race, or SQLite busy
            if isinstance(exc, IntegrityError) and not _is_revision_clash(exc):
                raise
            last_error = exc
            time.sleep(0.005 * (attempt + 1))
    raise RuntimeError(f"could not save decision {decision_id} after {attempts} attempts") \
        from last_error


def _is_revision_clash(exc: IntegrityError) -> bool:
    text = str(exc.orig)
    return "uq_decision_revision" in text or "decisions.decision_id, decisions.revision" in text


def dispose(url: str, schema: str | None = None) -> None:
    """Close and forget one engine (a test's own PostgreSQL schema, say)."""
    with _lock:
        engine = _engines.pop((url, schema), None)
    if engine is not None:
        engine.dispose()


def dispose_all() -> None:
    """Close every pooled connection (tests, shutdown)."""
    with _lock:
        for engine in _engines.values():
            engine.dispose()
        _engines.clear()
