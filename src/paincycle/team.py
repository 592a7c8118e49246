"""The team's shared settings: one value per key, kept in the workflow database.

A setting changes what every colleague sees (which patients are flagged, which
cohort version opens by default), so it is never a widget's state in one
browser: it is stored, changed only by someone allowed to, and audited in the
same transaction. Rows are append-only; the latest per key is in force.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from paincycle import audit
from paincycle.access import Permission, Principal, require
from paincycle.database import team_settings

TEAM_VERSION = "team_version"
_FLAG_THRESHOLD = "flag_threshold:"


@dataclass(frozen=True)
class Setting:
    key: str
    value: str
    author: str
    at: datetime


def flag_threshold_key(model_id: str) -> str:
    """The key of the flag threshold of one model file (by its content hash)."""
    return _FLAG_THRESHOLD + model_id


def current(engine: Engine, key: str) -> Setting | None:
    """The setting in force for ``key``, or None when the team never set it."""
    query = (sa.select(team_settings).where(team_settings.c.key == key)
             .order_by(team_settings.c.id.desc()).limit(1))
    with engine.connect() as conn:
        row = conn.execute(query).first()
    if row is None:
        return None
    m = row._mapping
    return Setting(m["key"], m["value"], m["author"], m["at"])


def change(engine: Engine, principal: Principal | None, key: str, value: str, *,
           detail: str, cohort_version: str | None = None) -> Setting:
    """Store a new value for ``key`` and its audit entry in one transaction (admins only)."""
    who = require(principal, Permission.CHANGE_TEAM_SETTINGS)
    row = {"key": key[:120], "value": str(value), "author": who.user[:200], "at": datetime.now(UTC)}
    with engine.begin() as conn:
        conn.execute(team_settings.insert().values(**row))
        audit.record(conn, who, audit.Action.TEAM_SETTING, cohort_version=cohort_version,
                     detail=detail)
    return Setting(row["key"], row["value"], row["author"], row["at"])


def flag_threshold(engine: Engine, model_id: str) -> float | None:
    """The team's flag threshold for this model, or None (the model's default then applies)."""
    found = current(engine, flag_threshold_key(model_id))
    return float(found.value) if found is not None else None


def set_flag_threshold(engine: Engine, principal: Principal | None, model_id: str,
                       threshold: float, cohort_version: str | None = None) -> Setting:
    """Set the risk at or above which this model flags a patient, for the whole team."""
    threshold = float(threshold)
    if not math.isfinite(threshold) or not 0 < threshold < 1:
        raise ValueError("the flag threshold is a risk between 0 and 1 (e.g. 0.35 for 35%)")
    return change(engine, principal, flag_threshold_key(model_id), f"{threshold:.4f}",
                  detail=f"flag threshold {threshold:.0%} for model {model_id}",
                  cohort_version=cohort_version)


def team_version(engine: Engine) -> str | None:
    """The cohort version the team works on (opened by default), or None (the newest then)."""
    found = current(engine, TEAM_VERSION)
    return found.value if found is not None else None


def set_team_version(engine: Engine, principal: Principal | None, version_id: str) -> Setting:
    """Make ``version_id`` the version every colleague's next session opens."""
    return change(engine, principal, TEAM_VERSION, version_id,
                  detail="made the team's current cohort version", cohort_version=version_id)
