"""The Audit page's chain check: run once per session on opening, again on request."""

from __future__ import annotations

import streamlit as st
from sqlalchemy.engine import Engine

from paincycle import services
from paincycle.access import Principal
from paincycle.ui.text import counted

_REPORT_KEY = "_paincycle_chain_report"


def check_panel(principal: Principal, engine: Engine) -> None:
    """Say whether the log's hash chain is intact, which entry breaks it, and the head to note."""
    again = st.button("Check the chain again", key="audit_check_chain")
    if again or _REPORT_KEY not in st.session_state:
        with st.spinner("Checking every entry of the audit log..."):
            st.session_state[_REPORT_KEY] = services.verify_audit_log(principal, engine=engine,
                                                                        record=False)
    report = st.session_state[_REPORT_KEY]
    if report.intact:
        st.success(f"The chain is intact: {counted(report.entries, 'entry', 'entries')}, each "
                   "linked to the one before.",
                   icon=":material/verified:")
        st.text(f"Head: {report.head_hash}")
        st.caption("Note the head down outside PainCycle now and then: `paincycle audit verify "
                   "--expect HEAD` then also detects a rewrite of the whole chain.")
    else:
        st.error(f"The audit log was tampered with: {report.problem}. Entries up to that point "
                 f"({report.entries:,}) are intact. Keep the database as it is and tell the "
                 "clinic's data protection officer.", icon=":material/gpp_bad:")
