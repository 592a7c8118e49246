"""Data: bring a clinic's export in (FHIR, Synthea, REDCap, wide registry, cohort folder)."""

import streamlit as st

from paincycle import importers
from paincycle.access import Permission
from paincycle.cohort import CohortError
from paincycle.ui import data, trajectories, upload
from paincycle.ui.audit import Action, audit_event
from paincycle.ui.auth import current_principal

principal = current_principal()
st.title("📥 Data")

versions = data.versions()
if versions:
    st.subheader("Stored cohort versions")
    st.caption("Every import is kept; pick the one the app shows (also in the sidebar).")
    ids = [v.id for v in versions]
    current = data.current_version_id()
    chosen = st.selectbox("Current cohort", ids, index=ids.index(current) if current in ids else 0,
                          format_func={v.id: v.label for v in versions}.get)
    if chosen != current:
        data.set_current_version(chosen)

if not principal.can(Permission.IMPORT_DATA):
    st.info("Importing data needs the admin role.")
    st.stop()

st.subheader("Import an export")
path = upload.upload()
if path is None:
    st.info("Upload a file to import. Formats and mapping files: docs/importers.md.")
    st.stop()

kind = upload.kind_picker(path)
try:
    st.caption("First rows")
    st.dataframe(importers.preview(path, kind), width="stretch", hide_index=True)
    mapping = upload.mapping_editor(kind)
except CohortError as exc:
    upload.problem_report(exc.report)
    st.stop()

name = st.text_input("Version name", value=path.stem.split(".")[0][:60])
if st.button("Import", type="primary"):
    bar = st.progress(0.0, text="Starting")
    try:
        result = importers.convert(kind, path, mapping,
                                   progress=lambda done, text: bar.progress(done, text=text))
    except CohortError as exc:
        bar.empty()
        upload.problem_report(exc.report)
        st.stop()
    version = data.store().save(result.cohort, name=name, source=f"{kind} upload: {path.name}",
                                principal=principal)
    data.set_current_version(version.id)
    audit_event(Action.IMPORT, detail=f"{kind}: {version.rows.get('patients', 0)} patients",
                cohort_version=version.id)
    left_out = result.notices_frame()
    del result  # the analyses read the stored, compact form: free the imported text first
    bar.progress(0.95, text="Preparing its trajectories (once per version)")
    trajectories.prepared(version.id)
    bar.progress(1.0, text="Imported")
    st.success(f"Imported {version.label}; it is now the current cohort.")
    upload.notices(left_out)
