"""The workflow database's schema: changed only by Alembic migrations, checked at every start.

Who runs the migrations:

- **SQLite** (the default, one file in the data folder): the app itself, on
  first use. The app is the file's only user, so it is also its owner.
- **PostgreSQL**: an owner role, with `paincycle db upgrade` (which can grant
  an app role SELECT and INSERT, nothing more). The app never runs DDL there:
  if the schema is not at the newest revision it refuses to start and says
  which command to run. So an app role without the right to alter tables
  starts, and cannot disable the audit log's triggers or drop it.

Every start also checks that the audit log and the triggers that guard it are
in place: a dropped table is never silently recreated empty.
"""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Engine

MIGRATIONS = Path(__file__).with_name("migrations")
#: Triggers that must exist, per dialect, for the audit log to be append-only.
GUARDS = {
    "sqlite": {"audit_log_no_update", "audit_log_no_delete", "audit_log_no_replace",
               "audit_head_no_delete"},
    "postgresql": {"audit_log_append_only", "audit_log_no_truncate", "audit_head_no_delete",
                   "audit_head_no_truncate"},
}
#: The tables an app role may read and append to; it may update only the chain's head row.
APPEND_TABLES = ("decisions", "agenda_overrides", "audit_log", "team_settings", "meeting_events")


class DatabaseNotReady(RuntimeError):
    """The schema is behind, or its protections are gone: nothing is written until it is fixed."""


def _config(connection: sa.Connection, schema: str | None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    config.attributes["schema"] = schema
    return config


def head_revision() -> str:
    """The newest migration shipped with this release."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return str(ScriptDirectory.from_config(config).get_current_head())


def current_revision(connection: sa.Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


def upgrade(engine: Engine, schema: str | None = None, app_role: str | None = None) -> str:
    """Bring the schema to the newest revision (as its owner); optionally grant an app role.

    A database made by a release before migrations existed (tables, no version
    table) is recognised as revision 0001 and upgraded from there.
    """
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(sa.text("SELECT pg_advisory_xact_lock(727274)"))  # one upgrader at a time
            if schema:
                conn.exec_driver_sql(f"CREATE SCHEMA IF NOT EXISTS {identifier(schema)}")
                conn.exec_driver_sql(f"SET LOCAL search_path TO {identifier(schema)}")
        config = _config(conn, schema)
        tables = set(sa.inspect(conn).get_table_names(schema=schema))
        if current_revision(conn) is None and "decisions" in tables:
            command.stamp(config, "0001")
        command.upgrade(config, "head")
        if app_role:
            _grant(conn, app_role, schema)
        return str(current_revision(conn))


def _grant(conn: sa.Connection, role: str, schema: str | None) -> None:
    if conn.dialect.name != "postgresql":
        raise ValueError("an app role can only be granted on PostgreSQL")
    role = identifier(role)
    prefix = f"{identifier(schema)}." if schema else ""
    if schema:
        conn.exec_driver_sql(f"GRANT USAGE ON SCHEMA {identifier(schema)} TO {role}")
    for table in APPEND_TABLES:
        conn.exec_driver_sql(f"GRANT SELECT, INSERT ON {prefix}{table} TO {role}")
    conn.exec_driver_sql(f"GRANT SELECT, UPDATE ON {prefix}audit_chain_head TO {role}")
    conn.exec_driver_sql(f"GRANT SELECT ON {prefix}alembic_version TO {role}")
    namespace = identifier(schema) if schema else "public"
    conn.exec_driver_sql(f"GRANT USAGE ON ALL SEQUENCES IN SCHEMA {namespace} TO {role}")


def check_ready(engine: Engine, schema: str | None = None) -> None:
    """Refuse (DatabaseNotReady) unless the schema is current and the audit log is guarded."""
    head = head_revision()
    with engine.connect() as conn:
        if conn.dialect.name == "postgresql" and schema:
            conn.exec_driver_sql(f"SET search_path TO {identifier(schema)}")
        revision = current_revision(conn)
        if revision != head:
            raise DatabaseNotReady(
                f"the workflow database is at schema revision {revision or 'none'}, this release "
                f"needs {head}: run `paincycle db upgrade` as the database's owner")
        tables = set(sa.inspect(conn).get_table_names(schema=schema))
        missing_tables = {*APPEND_TABLES, "audit_chain_head"} - tables
        missing = sorted(GUARDS.get(conn.dialect.name, set()) - _triggers(conn, schema))
        if conn.dialect.name == "postgresql" and schema:
            conn.exec_driver_sql("RESET search_path")
    if missing_tables:
        raise DatabaseNotReady(f"the workflow database has lost its {', '.join(sorted(missing_tables))} "
                               "table(s); PainCycle will not recreate them empty. Restore the "
                               "database from a backup")
    if missing:
        raise DatabaseNotReady(f"the audit log's protection is missing ({', '.join(missing)}); "
                               "PainCycle will not write to an unguarded log. Restore the database "
                               "or re-create the protections as its owner")


def _triggers(conn: sa.Connection, schema: str | None) -> set[str]:
    if conn.dialect.name == "sqlite":
        return set(conn.exec_driver_sql(
            "SELECT name FROM sqlite_master WHERE type = 'trigger'").scalars())
    if conn.dialect.name == "postgresql":
        return set(conn.execute(sa.text(
            "SELECT t.tgname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
            "JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = :schema AND NOT t.tgisinternal AND t.tgenabled <> 'D'"),
            {"schema": schema or "public"}).scalars())
    return set()


def identifier(name: str) -> str:
    """A schema or role name, quoted, after checking it holds nothing but letters, digits and _."""
    if not name or not name.replace("_", "").isalnum():
        raise ValueError(f"not a safe schema name: {name!r}")
    return f'"{name}"'
