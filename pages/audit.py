"""Audit log: who viewed, exported, imported, retrained or decided what, and when (admins only)."""

from datetime import UTC, datetime, time, timedelta

import pandas as pd
import streamlit as st

from paincycle import audit, clock, database
from paincycle.access import Permission
from paincycle.ui import audit_chain as chain
from paincycle.ui.audit import Action, audit_event, audit_once, refuse
from paincycle.ui.auth import current_principal

principal = current_principal()
engine = database.get_engine()
st.title(":material/manage_search: Audit log")
st.caption("Every patient drill-down, export, import, retrain, decision, sign-in and refusal, "
           "newest first. Entries cannot be edited or deleted, and each is chained to the one "
           "before by a hash, so a change behind the app's back shows below.")

if not principal.can(Permission.VIEW_AUDIT):  # audit.entries checks again
    refuse(principal, Permission.VIEW_AUDIT, "audit log", "Ask an administrator if you need it.")
    st.stop()
audit_once(Action.VIEW_AUDIT)  # first, so the filter menus below do not change on the next rerun
chain.check_panel(principal, engine)
users = audit.distinct_values(engine, principal, "user")
actions = audit.distinct_values(engine, principal, "action")

cols = st.columns(4)
user = cols[0].selectbox("User", ["(everyone)", *users], key="audit_user")
action = cols[1].selectbox("Action", ["(all)", *actions], key="audit_action")
patient_id = cols[2].text_input("Patient id", max_chars=64, key="audit_patient").strip()
zone = clock.clinic_zone()  # the clinic's days, not UTC's
today = clock.local(clock.now(), zone).date()
dates = cols[3].date_input("Dates", value=(today - timedelta(days=30), today), max_value=today,
                           key="audit_dates")
start, end = (dates[0], dates[-1]) if dates else (today - timedelta(days=30), today)

log = audit.entries(
    engine, principal, user=None if user == "(everyone)" else user,
    action=None if action == "(all)" else action, patient_id=patient_id or None,
    # the clinic's days as UTC moments: the log stores UTC (SQLite compares the text)
    since=datetime.combine(start, time.min, zone).astimezone(UTC),
    until=datetime.combine(end, time.max, zone).astimezone(UTC),
)

if log.empty:
    st.info("No audit entries match these filters.")
    st.stop()
st.metric("Entries", f"{len(log):,}")
shown = log.copy()
stamps = pd.to_datetime(shown["at"], utc=True)
shown["at"] = [clock.local_text(moment.to_pydatetime(), zone, seconds=True) for moment in stamps]
st.dataframe(shown.rename(columns={"at": "time (local)"}), hide_index=True, width="stretch")
st.caption("Times are the clinic's local time; the CSV keeps them in UTC (ISO 8601, with Z), "
           "as auditors exchange them.")
if st.download_button("Download CSV", audit.to_csv(log), file_name="paincycle-audit.csv",
                      mime="text/csv"):
    audit_event(Action.EXPORT_AUDIT, detail=f"{len(log)} entries")
