"""Export: the cohort summary for managers, funders or a registry (.xlsx, .html, .pdf, .csv)."""

import streamlit as st

from paincycle.access import AccessDenied, Permission
from paincycle.reports import summary as export
from paincycle.ui import data, filters, trajectories
from paincycle.ui import export as widgets
from paincycle.ui.auth import current_principal

principal = current_principal()
st.title(":material/download: Export")
st.write("A cohort summary: headline numbers, baseline profile, responder rates at 3, 6 and 12 "
         "months, triad and deterioration counts, flagged patients with their reasons, and the "
         "risk model's performance.")
version_id = data.current_version_id()
if version_id is None:
    st.info("No cohort is loaded yet. Import your clinic's data on the **Data** page.")
    st.stop()

chosen = filters.show(trajectories.filter_options(version_id), trajectories.intake_span(version_id),
                      key=f"export_{version_id}")
selected = trajectories.matching(version_id, chosen)
total = trajectories.patient_count(version_id)
if len(selected) == 0:
    st.info("No patients match these filters.")
    st.stop()
st.caption(f"{len(selected):,} of {total:,} patients selected"
           + (" by the filters." if chosen.active else "."))

fmt, deidentify, with_model = widgets.options(principal, version_id)
if st.button("Build the export", type="primary", icon=":material/build:"):
    try:
        widgets.build(version_id, selected, fmt, deidentify=deidentify, with_model=with_model,
                      principal=principal, filters_text=widgets.describe(chosen))
    except AccessDenied as denied:
        st.error(str(denied))
widgets.download()
if not principal.can(Permission.EXPORT_IDENTIFIED):
    st.caption("Your role exports de-identified data only.")
st.caption(f"Formats: {', '.join('.' + f for f in export.FORMATS)}. The .csv holds the "
           "per-patient table; the others hold every table.")
