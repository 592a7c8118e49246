"""The audit log: who looked at or changed which patient's record, when, on which cohort.

A clinic must be able to answer "who opened this patient's record?" months
later, so every drill-down view, export, import, model retrain and decision is
recorded. The log is append-only: this module has no update or delete, and the
database refuses them too (a trigger, see paincycle.database). It records the
action and the patient *id* only; ``detail`` is for what was done (an export
format, a filter's name, a row count), never for a patient's values, and it is
cut to a short single line so a careless caller cannot pour a record into it.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from paincycle import safe_text
from paincycle.access import Permission, Principal, require
from paincycle.database import audit_chain_head, audit_log


class Action(StrEnum):
    """What was done. Callers may pass these or their string values."""

    VIEW_PATIENT = "view_patient"
    VIEW_PATIENT_LIST = "view_patient_list"
    EXPORT = "export"
    IMPORT = "import"
    IMPORT_FAILED = "import_failed"
    RETRAIN = "retrain"
    SCORE = "score"
    MEETING_RECORD = "meeting_record"
    TEAM_SETTING = "team_setting"
    DECISION = "decision"
    AGENDA_CHANGE = "agenda_change"
    MEETING = "meeting"
    VIEW_AUDIT = "view_audit"
    EXPORT_AUDIT = "export_audit"
    VERIFY_AUDIT = "verify_audit"
    SIGN_IN = "sign_in"
    ACCESS_DENIED = "access_denied"


#: Longest ``detail`` kept; the rest is cut (a detail is a note, not a record).
MAX_DETAIL = 300
COLUMNS = ["at", "user", "role", "action", "patient_id", "cohort_version", "detail"]
_ACTION = re.compile(r"^[a-z][a-z0-9_.]{0,39}$")


def record(engine: Engine | sa.Connection, principal: Principal, action: Action | str,
           patient_id: str | None = None, cohort_version: str | None = None,
           detail: str = "") -> None:
    """Append one entry. Anyone may be recorded; only admins may read (see ``entries``).

    Given a Connection, the entry is part of the caller's transaction: the act
    and its audit entry are stored together or not at all.
    """
    action = str(action)
    if not _ACTION.match(action):
        raise ValueError(f"not an audit action name: {action[:50]!r}")
    _write(engine, principal.user, principal.role.value, action, patient_id, cohort_version,
           detail)


#: The role recorded for someone refused because they have none.
NO_ROLE = "none"


def record_refusal(engine: Engine | sa.Connection, user: str, detail: str = "") -> None:
    """A person the clinic has not given a role was refused: recorded as role "none"."""
    _write(engine, user, NO_ROLE, str(Action.ACCESS_DENIED), None, None, detail)


def _write(engine: Engine | sa.Connection, user: str, role: str, action: str,
           patient_id: str | None, cohort_version: str | None, detail: str) -> None:
    if isinstance(engine, sa.Connection):
        _insert(engine, user, role, action, patient_id, cohort_version, detail)
        return
    with engine.begin() as conn:
        _insert(conn, user, role, action, patient_id, cohort_version, detail)


def _insert(conn: sa.Connection, user: str, role: str, action: str, patient_id: str | None,
            cohort_version: str | None, detail: str) -> None:
    """Append one entry to the chain: lock the head row, link to its hash, move the head on."""
    head = conn.execute(
        audit_chain_head.update().where(audit_chain_head.c.id == 1)
        .values(entries=audit_chain_head.c.entries + 1)
        .returning(audit_chain_head.c.entry_hash)).scalar_one()
    row = {
        "at": datetime.now(UTC),
        "user": safe_text.line(user, 200),
        "role": role,
        "action": action,
        "patient_id": None if patient_id is None else safe_text.line(patient_id, 64),
        "cohort_version": None if cohort_version is None else safe_text.line(cohort_version, 80),
        "detail": safe_text.line(detail, MAX_DETAIL),
    }
    digest = chain_hash(head, row)
    conn.execute(audit_log.insert().values(**row, prev_hash=head, entry_hash=digest))
    conn.execute(audit_chain_head.update().where(audit_chain_head.c.id == 1)
                 .values(entry_hash=digest))


# --------------------------------------------------------------------------- the chain

#: The hash the first entry links to.
GENESIS = "0" * 64
_CHAINED = ("user", "role", "action", "patient_id", "cohort_version", "detail")


def chain_hash(previous: str, row: Mapping) -> str:
    """SHA-256 over the previous entry's hash and this entry's fields, JSON-encoded (unambiguous)."""
    at = row["at"]
    if isinstance(at, str):
        at = datetime.fromisoformat(at)
    if at.tzinfo is not None:  # SQLite gives back the UTC time without its zone
        at = at.astimezone(UTC).replace(tzinfo=None)
    fields = [previous, at.isoformat(timespec="microseconds"),
              *("" if row[name] is None else str(row[name]) for name in _CHAINED)]
    return hashlib.sha256(json.dumps(fields, ensure_ascii=False).encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class ChainReport:
    """What `paincycle audit verify` and the Audit page say about the log."""

    entries: int
    head_hash: str
    problem: str | None = None
    first_bad_id: int | None = None

    @property
    def intact(self) -> bool:
        return self.problem is None


def verify(engine: Engine, principal: Principal | None, expect: str | None = None) -> ChainReport:
    """Walk the whole log in order and recompute every link; name the first entry that breaks it.

    ``expect`` is a head hash noted down earlier (from this page or the command):
    the log must still contain it, which a rewrite of the chain from before that
    point cannot fake without the note.
    """
    require(principal, Permission.VIEW_AUDIT)
    previous, count, seen_expected = GENESIS, 0, expect in (None, GENESIS)
    with engine.connect() as conn:
        head = conn.execute(sa.select(audit_chain_head.c.entries, audit_chain_head.c.entry_hash)
                            .where(audit_chain_head.c.id == 1)).one_or_none()
        rows = conn.execution_options(yield_per=5_000).execute(
            sa.select(audit_log).order_by(audit_log.c.id)).mappings()
        for row in rows:
            if row["prev_hash"] != previous:
                return ChainReport(count, previous, "an entry before #{} was removed, or #{} was "
                                   "inserted out of order".format(row["id"], row["id"]), row["id"])
            if row["entry_hash"] != chain_hash(previous, row):
                return ChainReport(count, previous,
                                   f"entry #{row['id']} was changed after it was written", row["id"])
            previous, count = row["entry_hash"], count + 1
            seen_expected = seen_expected or previous == expect
    if head is None:
        return ChainReport(count, previous, "the log's head record is missing")
    if (head.entries, head.entry_hash) != (count, previous):
        return ChainReport(count, previous, f"the head records {head.entries:,} entries ending in "
                           f"{head.entry_hash[:12]}, the log holds {count:,} ending in "
                           f"{previous[:12]}: entries were removed from its end")
    if not seen_expected:
        return ChainReport(count, previous, "the head hash noted down earlier is not in the log: "
                           "it was rewritten since")
    return ChainReport(count, previous)


def entries(engine: Engine, principal: Principal | None, *, user: str | None = None,
            action: str | None = None, patient_id: str | None = None,
            since: datetime | None = None, until: datetime | None = None,
            limit: int = 50_000) -> pd.DataFrame:
    """The log, newest first, filtered; only for those allowed to view it (admins)."""
    require(principal, Permission.VIEW_AUDIT)
    query = sa.select(*(audit_log.c[c] for c in COLUMNS)).order_by(
        audit_log.c.at.desc(), audit_log.c.id.desc()).limit(limit)
    if user:
        query = query.where(audit_log.c.user == user)
    if action:
        query = query.where(audit_log.c.action == str(action))
    if patient_id:
        query = query.where(audit_log.c.patient_id == patient_id)
    if since is not None:
        query = query.where(audit_log.c.at >= since)
    if until is not None:
        query = query.where(audit_log.c.at <= until)
    with engine.connect() as conn:
        rows = conn.execute(query).all()
    frame = pd.DataFrame(rows, columns=COLUMNS)
    frame["at"] = pd.to_datetime(frame["at"], utc=True)
    return frame


def distinct_values(engine: Engine, principal: Principal | None, column: str) -> list[str]:
    """The users or actions that occur, for the audit page's filter menus."""
    require(principal, Permission.VIEW_AUDIT)
    if column not in ("user", "action"):
        raise ValueError(f"no filter on {column!r}")
    with engine.connect() as conn:
        values = conn.execute(sa.select(audit_log.c[column]).distinct()).scalars().all()
    return sorted(v for v in values if v)


def to_csv(frame: pd.DataFrame) -> bytes:
    """The log as CSV for an auditor; cells that a spreadsheet would run as formulas are quoted."""
    safe = frame.copy()
    for column in safe.columns:
        if safe[column].dtype == object or pd.api.types.is_string_dtype(safe[column]):
            safe[column] = safe[column].map(safe_text.spreadsheet_cell)
    if "at" in safe and pd.api.types.is_datetime64_any_dtype(safe["at"]):
        safe["at"] = safe["at"].dt.strftime("%Y-%m-%dT%H:%M:%SZ")
    return safe.to_csv(index=False).encode("utf-8")
