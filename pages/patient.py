"""Patient drill-down: one patient's four domains, treatments, appointments and verdicts."""

import streamlit as st

from paincycle import charts
from paincycle.access import Permission
from paincycle.ui import data, filters, trajectories
from paincycle.ui.audit import Action, audit_once, refuse
from paincycle.ui.auth import current_principal

principal = current_principal()
st.title("🧑 Patient")
st.page_link("pages/cohort.py", label="Back to the cohort overview", icon="📈")
version_id = data.current_version_id()
if version_id is None:
    st.info("No cohort is loaded yet. Import your clinic's data on the **Data** page.")
    st.stop()
if not principal.sees_identified_data:  # one identified record: de-identified roles go to Export
    refuse(principal, Permission.VIEW_IDENTIFIED, "patient page")
    st.stop()

ids = trajectories.patient_ids(version_id)
patient_id = filters.patient_picker(ids, key=f"patient_{version_id}")
if patient_id is None:
    if not ids:
        st.info("No patients in this cohort.")
    st.stop()  # otherwise the picker says why nobody is shown and waits for a choice
audit_once(Action.VIEW_PATIENT, patient_id)
view = trajectories.patient_view(version_id, patient_id)

st.subheader("Change since baseline")
st.altair_chart(charts.responder_tiles(view.domain_status), width="stretch")
st.caption("Improved or worse means a change of at least the measure's MCID (minimal clinically "
           "important difference) from the baseline closest to intake to the latest score.")

st.subheader("Timeline")
if view.cohort.observations.empty:
    st.info("No scores recorded for this patient yet.")
else:
    # each row draws the measure its tile's verdict rests on
    speaking = dict(zip(view.domain_status["domain"], view.domain_status["measure"], strict=True))
    st.altair_chart(charts.patient_timeline(view.cohort, patient_id, speaking or None))

left, right = st.columns(2)
with left:
    st.subheader("Latest scores")
    st.dataframe(trajectories.latest_for_display(view.latest), width="stretch", hide_index=True)
with right:
    st.subheader("Against the cohort")
    st.caption("Share of the cohort at the same week since intake that this patient is doing "
               "better than, at their latest week with each measure.")
    st.dataframe(trajectories.percentiles_for_display(view.percentiles), width="stretch",
                 hide_index=True)
