"""The meeting itself: who is at the table, when it started, and its sign-off.

A case-review meeting is identified by its date. Its history is append-only
events in the workflow database: ``start`` (with the first attendee list),
``attendees`` (a corrected list; the latest is in force) and ``sign_off``. Once
signed off, the meeting is closed: no decision is recorded or revised under
its date again, so the record someone signed is the record that stays.
Every event is audited in the same transaction.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from paincycle import access, audit, clock, database, safe_text
from paincycle.access import Permission, Principal

#: More names than this is not a meeting list.
MAX_ATTENDEES = 60


class MeetingClosed(ValueError):
    """The meeting was signed off: its record is final."""


@dataclass(frozen=True)
class Meeting:
    """The state of one date's meeting, folded from its events."""

    meeting_date: date
    started_at: datetime | None = None
    started_by: str | None = None
    attendees: tuple[str, ...] = ()
    signed_off_at: datetime | None = None
    signed_off_by: str | None = None

    @property
    def started(self) -> bool:
        return self.started_at is not None

    @property
    def signed_off(self) -> bool:
        return self.signed_off_at is not None


def clean_attendees(names: Iterable[str] | str) -> tuple[str, ...]:
    """One name per entry (or per line/comma of a text), trimmed, duplicates and blanks dropped."""
    if isinstance(names, str):
        names = names.replace(",", "\n").splitlines()
    seen: dict[str, None] = {}
    for name in names:
        cleaned = safe_text.line(name, 200)
        if cleaned and cleaned.casefold() not in {s.casefold() for s in seen}:
            seen[cleaned] = None
    if len(seen) > MAX_ATTENDEES:
        raise ValueError(f"a meeting lists at most {MAX_ATTENDEES} attendees")
    return tuple(seen)


def _engine(engine: Engine | None) -> Engine:
    return engine if engine is not None else database.get_engine()


def meeting(meeting_date: date, *, engine: Engine | None = None,
            principal: Principal | None = None) -> Meeting:
    """The meeting held (or not yet held) on ``meeting_date``."""
    access.require(principal, Permission.VIEW_IDENTIFIED)
    table = database.meeting_events
    query = (sa.select(table).where(table.c.meeting_date == meeting_date)
             .order_by(table.c.at, table.c.id))
    state = Meeting(meeting_date)
    with _engine(engine).connect() as conn:
        for row in conn.execute(query):
            m = row._mapping
            names = tuple(n for n in (m["attendees"] or "").splitlines() if n)
            if m["event"] == "start" and not state.started:
                state = Meeting(meeting_date, m["at"], m["author"], names)
            elif m["event"] == "attendees":
                state = Meeting(meeting_date, state.started_at or m["at"],
                                state.started_by or m["author"], names,
                                state.signed_off_at, state.signed_off_by)
            elif m["event"] == "sign_off" and not state.signed_off:
                state = Meeting(meeting_date, state.started_at or m["at"],
                                state.started_by or m["author"], state.attendees,
                                m["at"], m["author"])
    return state


def _append(engine: Engine, who: Principal, meeting_date: date, event: str,
            attendees: tuple[str, ...], detail: str) -> None:
    with engine.begin() as conn:  # the event and its audit entry together or not at all
        conn.execute(database.meeting_events.insert().values(
            meeting_date=meeting_date, event=event, attendees="\n".join(attendees),
            author=who.user[:200], at=clock.now()))
        audit.record(conn, who, audit.Action.MEETING, detail=detail)


def start(meeting_date: date, attendees: Iterable[str] | str, *, engine: Engine | None = None,
          principal: Principal | None = None) -> Meeting:
    """Open the meeting with the people at the table (again: only the attendee list changes)."""
    who = access.require(principal, Permission.RECORD_DECISION)
    engine = _engine(engine)
    names = clean_attendees(attendees)
    if not names:
        raise ValueError("name at least one attendee to start the meeting")
    current = meeting(meeting_date, engine=engine, principal=who)
    if current.signed_off:
        raise MeetingClosed(f"the meeting of {meeting_date:%Y-%m-%d} was signed off")
    event = "attendees" if current.started else "start"
    _append(engine, who, meeting_date, event, names,
            f"meeting of {meeting_date:%Y-%m-%d} {'attendees changed' if current.started else 'started'}, "
            f"{len(names)} attendees")
    return meeting(meeting_date, engine=engine, principal=who)



def sign_off(meeting_date: date, *, engine: Engine | None = None,
             principal: Principal | None = None) -> Meeting:
    """Close the meeting: its record is final from now on."""
    who = access.require(principal, Permission.RECORD_DECISION)
    engine = _engine(engine)
    current = meeting(meeting_date, engine=engine, principal=who)
    if not current.started:
        raise ValueError("start the meeting (name who is there) before signing it off")
    if current.signed_off:
        raise MeetingClosed(f"the meeting of {meeting_date:%Y-%m-%d} was already signed off")
    _append(engine, who, meeting_date, "sign_off", current.attendees,
            f"meeting of {meeting_date:%Y-%m-%d} signed off")
    return meeting(meeting_date, engine=engine, principal=who)


def check_open(meeting_date: date | None, *, engine: Engine | None = None,
               principal: Principal | None = None) -> None:
    """Refuse to record under a signed-off meeting's date (MeetingClosed names it)."""
    if meeting_date is None:
        return
    if meeting(meeting_date, engine=engine, principal=principal).signed_off:
        raise MeetingClosed(f"the meeting of {meeting_date:%Y-%m-%d} was signed off; its record "
                            "is final. Record this under today's meeting instead.")
