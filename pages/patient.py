"""Patient report: who the patient is, how each domain is going and what was tried, in a minute."""

import streamlit as st

from paincycle import clock, database, model_charts, services
from paincycle.access import Permission
from paincycle.reports import patient as patient_report
from paincycle.ui import data, filters, trajectories
from paincycle.ui import review as review_ui
from paincycle.ui import risk as risk_ui
from paincycle.ui.audit import Action, audit_once, refuse
from paincycle.ui.auth import current_principal

principal = current_principal()
st.title(":material/person: Patient")
st.page_link("pages/cohort.py", label="Back to the cohort overview", icon=":material/monitoring:")
version_id = data.current_version_id()
if version_id is None:
    st.info("No cohort is loaded yet. Import your clinic's data on the **Data** page.")
    st.stop()
if not principal.sees_identified_data:  # one identified record: de-identified roles go to Export
    refuse(principal, Permission.VIEW_IDENTIFIED, "patient page")
    st.stop()

ids = trajectories.patient_ids(version_id)
patient_id = filters.patient_picker(ids, key=f"patient_{version_id}",
                                    known=trajectories.known_patient(version_id))
if patient_id is None:
    if not ids:
        st.info("No patients in this cohort.")
    st.stop()  # otherwise the picker says why nobody is shown and waits for a choice
audit_once(Action.VIEW_PATIENT, patient_id)
view = trajectories.patient_view(version_id, patient_id)
scores = review_ui.scores_by_patient(version_id)  # None where no model scores this cohort
trajectories.show_header(trajectories.patient_header(version_id, patient_id, scores, view))
if scores is not None:
    risk_ui.provenance_notice(version_id)

st.subheader("Change since baseline")
specs = trajectories.patient_specs(version_id, patient_id)
trajectories.draw_spec(specs.tiles)
st.caption(patient_report.MCID_NOTE)

st.subheader("Timeline")
if view.cohort.observations.empty and view.cohort.events.empty:
    st.info("No scores, treatments or appointments recorded for this patient yet.")
else:
    for row in specs.timeline:  # one time axis; each row fits the page
        trajectories.draw_spec(row)
    st.caption("Each row is the measure its domain's verdict rests on (weekly means, a point per "
               "week scored) over the grey severity bands. Lanes: one per treatment course had; "
               "ticks for attended and crosses for missed appointments.")

st.subheader("Risk over time")
weekly = None
if risk_ui.weekly_path(version_id) is None:
    st.caption("No weekly (earliest-warning) model for this cohort.")
elif st.toggle("Show this patient's weekly risk", key="patient_weekly_risk",
               help="Loads the weekly model (a few seconds the first time on a server)."):
    weekly = risk_ui.risk_over_time(version_id, patient_id)
if weekly is not None:
    over_time, weekly_model = weekly
    if over_time.empty:
        st.info("No weekly risk yet: the first is at day 14 after intake, from the data "
                "recorded by then.")
    else:
        st.altair_chart(model_charts.risk_over_time_chart(over_time), width="stretch")
        latest = over_time.iloc[-1]
        st.caption(f"Latest: {latest['risk']:.0%} at day {int(latest['landmark'])}. Each week's "
                   "risk uses only what was recorded by that week. "
                   + risk_ui.weekly_caveat(version_id, weekly_model)
                   + " Prognostic support, not a diagnosis.")

st.subheader("Latest scores")
st.dataframe(trajectories.latest_for_display(view.latest), width="stretch", height="content",
             hide_index=True)
st.subheader("Against the cohort")
st.caption("Share of the cohort at the same week since intake that this patient is doing "
           "better than, at their latest week with each measure.")
st.dataframe(trajectories.percentiles_for_display(view.percentiles), width="stretch",
             height="content", hide_index=True)

if principal.can(Permission.EXPORT_IDENTIFIED):  # made and audited only when downloaded
    analysis, engine = trajectories.prepared(version_id), database.get_engine()
    st.download_button(
        "Download the one-page report (PDF)", icon=":material/picture_as_pdf:", type="primary",
        data=lambda: services.patient_report_file(analysis, patient_id, principal=principal,
                                                  engine=engine, cohort_version=version_id,
                                                  risk=trajectories.own_score(scores, patient_id),
                                                  model_note=risk_ui.provenance_words(version_id)
                                                  if scores is not None else ""),
        file_name=patient_report.file_name(patient_id, clock.stamp_for_file()),
        mime="application/pdf", on_click="ignore", key="patient_report_pdf")
else:
    st.caption("Your role may not export identified records, so the patient's PDF is not offered.")
