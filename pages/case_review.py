"""Case review: the weekly meeting's agenda, one case card at a time, decisions and the record."""

from datetime import date

import streamlit as st

from paincycle import review, services
from paincycle.access import Permission
from paincycle.ui import data, trajectories
from paincycle.ui import review as widgets
from paincycle.ui.audit import Action, audit_once, refuse
from paincycle.ui.auth import current_principal

principal = current_principal()
st.title(":material/groups: Case review")
version = data.current_version()  # the agenda reads the version's analysis, not its rows
if version is None:
    st.info("No cohort is loaded yet. Import your clinic's data on the **Data** page.")
    st.stop()
version_id = version.id
if not principal.sees_identified_data:
    refuse(principal, Permission.VIEW_IDENTIFIED, "case review")
    st.stop()

with st.sidebar:
    meeting_date = st.date_input("Meeting date", value=date.today(), key="meeting_date")
    limit = st.number_input("Patients on the agenda", 1, 200, 15, key="agenda_limit")

st.subheader("Meeting")
meeting = widgets.meeting_panel(meeting_date, principal)

scores = widgets.model_scores(version_id)
if scores is None:
    st.caption("No risk model available: the agenda uses deterioration, the triad and safety "
               "signals only.")
else:
    widgets.model_provenance(version_id)

with st.expander("Add or remove a patient by hand", icon=":material/person_add:"):
    # typed, not picked from a list: a registry has 100,000 patients to scroll through
    with st.form("agenda_override", clear_on_submit=True):
        who = st.text_input("Patient id", max_chars=64, key="override_patient",
                            placeholder="as in the patient table, e.g. P000123").strip()
        why = st.text_input("Reason (optional)", max_chars=300)
        add, remove = st.columns(2)
        added = add.form_submit_button("Add to agenda")
        removed = remove.form_submit_button("Remove from agenda")
    if added or removed:
        if not who:
            st.warning("Type the patient's id first.")
        elif not trajectories.has_patient(version_id, who):
            st.warning("No patient with that id in this cohort version; check the id in the "
                       "patient table.")
        else:
            change = services.add_to_agenda if added else services.remove_from_agenda
            change(who, why, principal=principal, cohort_version=version_id)
            st.rerun()


@st.fragment
def discussion() -> None:
    """The agenda and the patient under discussion: a save or "Next patient" reruns only this."""
    agenda = widgets.agenda(version_id, int(limit))
    decided = widgets.decided_patients(meeting_date, principal)
    st.subheader(f"Agenda ({len(agenda)} patients)")
    if agenda.empty:
        st.info("No patient meets any review rule and none was added by hand.")
    else:
        widgets.agenda_table(agenda, decided)
    ids = list(agenda["patient_id"])
    patient_id = widgets.patient_navigation(ids, decided)
    if patient_id is None:
        return
    audit_once(Action.VIEW_PATIENT, patient_id)
    row = agenda[agenda["patient_id"] == patient_id].iloc[0].to_dict()
    factors = widgets.agenda_factors(version_id, ids, scores).get(patient_id, [])
    card = review.case_card(trajectories.prepared(version_id), patient_id, agenda_row=row,
                            top_factors=factors, principal=principal)
    widgets.case_card(card, version_id)

    st.subheader("Decisions")
    if meeting.signed_off:
        st.info("This meeting is signed off, so no decision is recorded under it. Choose the "
                "next meeting's date in the sidebar to record or revise a decision there.")
    else:
        saved = widgets.decision_form(patient_id, principal, version_id, meeting_date)
        edited = widgets.edit_form(review.latest_revisions(card.decisions), principal, meeting_date)
        if saved or edited:
            st.toast("Decision saved", icon=":material/check_circle:")
            widgets.rerun_discussion()
    st.markdown("**History**")
    widgets.history(card.decisions)


discussion()

st.divider()
st.subheader("Meeting record")
st.caption(f"Every decision recorded for the meeting of {meeting_date:%Y-%m-%d}, with all "
           "revisions, the attendees and the sign-off. Times are local "
           f"({widgets.zone_name()}).")
widgets.meeting_downloads(version.name or version_id, widgets.agenda(version_id, int(limit)),
                          meeting_date, principal, version_id)
