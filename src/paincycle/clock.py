"""Times as the clinic reads them: stored in UTC, shown in the clinic's zone with its name.

The database and the audit log keep UTC; every page, record and export turns a
moment into local time here, so a meeting record says "14:05 CET" wherever it
is opened. The zone is ``PAINCYCLE_TIMEZONE`` or, unset, this computer's own.
"""

from __future__ import annotations

from datetime import UTC, datetime, tzinfo
from zoneinfo import ZoneInfo

from paincycle import config


def clinic_zone() -> tzinfo:
    """The zone every time is shown in (the setting, else the computer's local zone)."""
    name = config.settings().timezone
    if name:
        return ZoneInfo(name)
    local = datetime.now().astimezone().tzinfo
    return local if local is not None else UTC


def now() -> datetime:
    """This moment, aware, in UTC (what is stored)."""
    return datetime.now(UTC)


def local(moment: datetime, zone: tzinfo | None = None) -> datetime:
    """``moment`` in the clinic's zone; a naive moment is taken as UTC (how the database returns it)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(zone or clinic_zone())


def local_text(moment: datetime, zone: tzinfo | None = None, *, seconds: bool = False) -> str:
    """'2026-12-02 14:05 CET': the local time to the minute with the zone's abbreviation."""
    shown = local(moment, zone)
    name = shown.tzname() or shown.strftime("%z")
    return f"{shown:%Y-%m-%d %H:%M{':%S' if seconds else ''}} {name}"


def stamp_for_file(moment: datetime | None = None, zone: tzinfo | None = None) -> str:
    """'20261202-1405': a local time for file names."""
    return f"{local(moment or now(), zone):%Y%m%d-%H%M}"
