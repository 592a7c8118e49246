"""Data: bring a clinic's export in (FHIR, Synthea, REDCap, wide registry, cohort folder)."""

import streamlit as st

from paincycle import importers, services
from paincycle.access import AccessDenied, Permission
from paincycle.cohort import CohortError, ValidationReport
from paincycle.ui import data, trajectories, upload
from paincycle.ui.audit import refuse
from paincycle.ui.auth import current_principal
from paincycle.ui.text import counted, plain

principal = current_principal()
st.title(":material/upload_file: Data")

versions = data.versions()
if versions:
    st.subheader("Stored cohort versions")
    st.caption("Every import is kept. The sidebar picks the version you look at; the team's "
               "version is the one every colleague's new session opens.")
    current = data.current_version_id()
    team_id = data.team_version_id()
    labels = {v.id: v.label for v in versions}
    st.text(f"You are looking at: {labels.get(current, 'nothing yet')}")
    st.text(f"The team's version: {labels[team_id] if team_id else 'not chosen (the newest opens)'}")
    if current and current != team_id and principal.can(Permission.CHANGE_TEAM_SETTINGS):
        if st.button("Make the version I am looking at the team's version",
                     help="Every colleague's next session opens it. Recorded in the audit log."):
            try:
                services.set_team_version(current, store=data.store(), principal=principal)
            except AccessDenied as denied:
                st.error(str(denied))
            else:
                st.success("It is now the team's version.")
                st.rerun()

if not principal.can(Permission.IMPORT_DATA):
    refuse(principal, Permission.IMPORT_DATA, "data page", "Importing data needs the admin role.")
    st.stop()

st.subheader("Import an export")
path = upload.upload()
if path is None:
    st.info("Upload a file (or several together) to import. Each upload is checked before "
            "anything is stored. Formats and mapping files: docs/importers.md.")
    st.stop()

kind = upload.kind_picker(path)
try:
    st.caption("First rows")
    st.dataframe(importers.preview(path, kind), width="stretch", hide_index=True)
    mapping = upload.mapping_editor(kind)
except CohortError as exc:
    upload.problem_report(exc.report)
    st.stop()
if upload.mapping_missing(kind, mapping):  # the mapping editor says what to do
    st.stop()

# Checked before anything is stored: what would come in, what would be left out, or why not.
checked = upload.checked(path, kind, mapping)
if checked is None:
    bar = st.progress(0.0, text="Checking the file")
    try:
        checked = services.check_import(path, kind=kind, mapping=mapping, principal=principal,
                                        progress=lambda done, text: bar.progress(done, text=text))
    except CohortError as exc:
        checked = exc.report
    upload.remember_check(path, kind, mapping, checked)
    bar.empty()
if isinstance(checked, ValidationReport):  # refused: the report says why
    upload.problem_report(checked)
    st.stop()
cohort = checked.cohort
st.success(f"Ready to import {counted(cohort.n_patients, 'patient')}, "
           f"{counted(len(cohort.observations), 'score')} and "
           f"{counted(len(cohort.events), 'care event')}. Nothing is stored until you import.")
upload.notices(checked.notices_frame())

name = st.text_input("Version name", value=upload.default_name(path))
if st.button("Import", type="primary", icon=":material/download_done:"):
    bar = st.progress(0.0, text="Storing the version")
    try:
        imported = services.import_cohort(
            data.store(), path, kind=kind, mapping=mapping, name=name,
            source=f"{kind} upload: {path.name}", principal=principal, checked=checked)
    except CohortError as exc:
        bar.empty()
        upload.problem_report(exc.report)
        st.stop()
    except OSError as exc:  # a full disk or a read-only data folder: say so, store nothing
        bar.empty()
        st.error(f"The server could not write the new version ({plain(exc.strerror or exc)}). "
                 "Nothing was stored. Tell the administrator: the data folder may be full or "
                 "read-only.")
        st.stop()
    version = imported.version
    upload.discard()  # the upload is patient data: kept no longer than the import needs it
    data.set_current_version(version.id)
    bar.progress(0.9, text="Preparing its trajectories, risks and reasons (once per version)")
    services.prepare_version(data.store(), version.id)  # what `paincycle import` prepares too
    trajectories.prepared(version.id)
    bar.progress(1.0, text="Imported")
    st.success(f"Imported {plain(version.label)}. You are looking at it now; colleagues keep the "
               "team's version until an admin makes this one the team's (above).")
