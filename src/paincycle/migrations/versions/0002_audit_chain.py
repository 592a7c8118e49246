"""A tamper-evident audit log: every entry chained to the one before by hash; protections in SQL.

Each entry gets ``prev_hash`` (the entry before it, or 64 zeros for the first) and
``entry_hash`` (see paincycle.audit.chain_hash); both are unique, so the chain
cannot fork. ``audit_chain_head`` holds the count and the last hash: writers lock
it to append one at a time, and `paincycle audit verify` checks the log ends
where the head says. Existing entries are chained in the order they were written.

The database itself refuses UPDATE, DELETE and TRUNCATE on the log and, on
SQLite, an INSERT OR REPLACE that would overwrite an entry (REPLACE deletes
without firing a delete trigger).

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

from paincycle.audit import GENESIS, chain_hash

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

APPEND_ONLY = "the audit log is append-only"
_LOG = sa.table("audit_log", sa.column("id"), sa.column("at"), sa.column("user"),
                sa.column("role"), sa.column("action"), sa.column("patient_id"),
                sa.column("cohort_version"), sa.column("detail"), sa.column("prev_hash"),
                sa.column("entry_hash"))


def upgrade() -> None:
    bind = op.get_bind()
    dialect = bind.dialect.name
    _drop_old_triggers(dialect)
    op.add_column("audit_log", sa.Column("prev_hash", sa.String(64)))
    op.add_column("audit_log", sa.Column("entry_hash", sa.String(64)))
    head = op.create_table(
        "audit_chain_head",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("entries", sa.BigInteger, nullable=False),
        sa.Column("entry_hash", sa.String(64), nullable=False),
    )
    previous, count = GENESIS, 0
    rows = bind.execute(sa.select(_LOG).order_by(_LOG.c.id)).mappings().all()
    for row in rows:
        digest = chain_hash(previous, row)
        bind.execute(_LOG.update().where(_LOG.c.id == row["id"])
                     .values(prev_hash=previous, entry_hash=digest))
        previous, count = digest, count + 1
    op.bulk_insert(head, [{"id": 1, "entries": count, "entry_hash": previous}])
    op.create_index("uq_audit_prev_hash", "audit_log", ["prev_hash"], unique=True)
    op.create_index("uq_audit_entry_hash", "audit_log", ["entry_hash"], unique=True)
    _create_triggers(dialect)


def _drop_old_triggers(dialect: str) -> None:
    if dialect == "sqlite":
        for verb in ("update", "delete"):
            op.execute(f"DROP TRIGGER IF EXISTS audit_log_no_{verb}")
    elif dialect == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS audit_log_append_only ON audit_log")
        op.execute("DROP TRIGGER IF EXISTS audit_log_no_truncate ON audit_log")


def _create_triggers(dialect: str) -> None:
    if dialect == "sqlite":
        for verb in ("UPDATE", "DELETE"):
            op.execute(f"CREATE TRIGGER audit_log_no_{verb.lower()} BEFORE {verb} ON audit_log "
                       f"BEGIN SELECT RAISE(ABORT, '{APPEND_ONLY}'); END")
        op.execute("CREATE TRIGGER audit_log_no_replace BEFORE INSERT ON audit_log "  # noqa: S608
                   "WHEN EXISTS (SELECT 1 FROM audit_log WHERE id = NEW.id "
                   "OR prev_hash = NEW.prev_hash OR entry_hash = NEW.entry_hash) "
                   f"BEGIN SELECT RAISE(ABORT, '{APPEND_ONLY}'); END")
        op.execute("CREATE TRIGGER audit_head_no_delete BEFORE DELETE ON audit_chain_head "
                   f"BEGIN SELECT RAISE(ABORT, '{APPEND_ONLY}'); END")
    elif dialect == "postgresql":
        op.execute("CREATE OR REPLACE FUNCTION paincycle_append_only() RETURNS trigger "
                   f"LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION '{APPEND_ONLY}'; END $$")
        for name, table, when, each in (
                ("audit_log_append_only", "audit_log", "UPDATE OR DELETE", "ROW"),
                ("audit_log_no_truncate", "audit_log", "TRUNCATE", "STATEMENT"),
                ("audit_head_no_delete", "audit_chain_head", "DELETE", "ROW"),
                ("audit_head_no_truncate", "audit_chain_head", "TRUNCATE", "STATEMENT")):
            op.execute(f"CREATE TRIGGER {name} BEFORE {when} ON {table} FOR EACH {each} "
                       "EXECUTE FUNCTION paincycle_append_only()")


def downgrade() -> None:
    raise NotImplementedError("the workflow database is append-only: no downgrade")
