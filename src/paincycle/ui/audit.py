"""Audit-log calls for the pages: one line each, with who and which cohort filled in.

Streamlit reruns a page on every click, so a drill-down view recorded naively
would write a row per rerun. ``audit_once`` records a view once per session,
patient and cohort version; ``audit_event`` records every time (an export, a
decision, an import: each is a separate act).
"""

from __future__ import annotations

import streamlit as st

from paincycle import audit, database
from paincycle.access import AccessDenied, Permission, Principal
from paincycle.audit import Action
from paincycle.ui import data
from paincycle.ui.auth import current_principal

__all__ = ["Action", "audit_event", "audit_once", "refuse"]
_SEEN_KEY = "_paincycle_audited"


def audit_event(action: Action | str, patient_id: str | None = None, detail: str = "",
                cohort_version: str | None = None) -> None:
    """Record one act by the current user on the current cohort version.

    ``detail`` says what was done (format, row count), never patient values.
    """
    audit.record(database.get_engine(), current_principal(), action, patient_id,
                 cohort_version or data.current_version_id(), detail)


def audit_once(action: Action | str, patient_id: str | None = None, detail: str = "") -> None:
    """Record a view once per (session, action, patient, cohort version), not once per rerun."""
    version = data.current_version_id()
    key = (str(action), patient_id, version)
    seen: set = st.session_state.setdefault(_SEEN_KEY, set())
    if key in seen:
        return
    audit_event(action, patient_id, detail, version)
    seen.add(key)


def refuse(principal: Principal, permission: Permission, where: str, hint: str = "") -> None:
    """Say why this role may not, and record the refusal (once per session, page and permission)."""
    st.error(f"{AccessDenied(principal, permission)} {hint}".strip())
    audit_once(Action.ACCESS_DENIED, detail=f"{where}: {permission.value}")
