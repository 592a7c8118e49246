"""The team's own records (decisions, agenda, audit log) in a transactional database.

SQLAlchemy Core keeps one schema for SQLite (default) and PostgreSQL
(PAINCYCLE_DATABASE_URL). Every table is append-only: edits are new rows, so
the history of what the team decided is never lost or overwritten.
"""

from __future__ import annotations

import threading

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from paincycle import config

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
)

_engines: dict[tuple[str, str | None], Engine] = {}
_lock = threading.Lock()


def get_engine(url: str | None = None, schema: str | None = None) -> Engine:
    """An engine for ``url`` (default: config) with the schema created on first use.

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
    kwargs: dict = {"future": True}
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
            cursor.close()
    if schema:
        if engine.dialect.name != "postgresql":
            raise ValueError("a schema can only be chosen on PostgreSQL")
        with engine.begin() as conn:
            conn.execute(sa.text(f'CREATE SCHEMA IF NOT EXISTS "{_identifier(schema)}"'))
        engine = engine.execution_options(schema_translate_map={None: schema})
    metadata.create_all(engine)
    return engine


def _identifier(name: str) -> str:
    if not name.replace("_", "").isalnum():
        raise ValueError(f"not a safe schema name: {name!r}")
    return name


def dispose_all() -> None:
    """Close every pooled connection (tests, shutdown)."""
    with _lock:
        for engine in _engines.values():
            engine.dispose()
        _engines.clear()
