"""Export page widgets: format and de-identification choices, the build with progress, the download."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from paincycle import clock, services
from paincycle.access import Permission, Principal
from paincycle.reports import summary as export
from paincycle.ui import data, risk, trajectories
from paincycle.ui.trajectories import Filters

RESULT_KEY = "export_result"
LABELS = {"xlsx": "Excel workbook (.xlsx)", "html": "Web page (.html)", "pdf": "PDF report (.pdf)",
          "csv": "Per-patient table (.csv)"}


def describe(chosen: Filters) -> str:
    """The filters in words for the export's About section."""
    parts = []
    for name, value in chosen.as_kwargs().items():
        if value:
            shown = ", ".join(map(str, value)) if isinstance(value, tuple) else str(value)
            parts.append(f"{name.replace('_', ' ')}: {shown}")
    return "; ".join(parts)


def options(principal: Principal, version_id: str) -> tuple[str, bool, bool]:
    """Format, de-identify (forced on for roles without identified export), include the model."""
    cols = st.columns(3)
    fmt = cols[0].radio("Format", export.FORMATS, format_func=LABELS.get, key="export_format")
    identified_allowed = principal.can(Permission.EXPORT_IDENTIFIED)
    deidentify = cols[1].checkbox(
        "De-identify", value=not identified_allowed, disabled=not identified_allowed,
        key="export_deidentify",
        help="Pseudonymous ids (new for every export), age bands instead of birth years, "
             "days since intake instead of dates, free text dropped.")
    has_model = risk.model_path(version_id) is not None
    with_model = cols[2].checkbox("Include the risk model", value=has_model, disabled=not has_model,
                                  key="export_model",
                                  help="Each patient's risk, the model's performance and the "
                                       "outcome definition.")
    return str(fmt), bool(deidentify or not identified_allowed), bool(with_model and has_model)


def build(version_id: str, ids: pd.Series, fmt: str, *, deidentify: bool, with_model: bool,
          principal: Principal, filters_text: str) -> None:
    """Build the file with a progress bar; keep it in the session for the download button."""
    bar = st.progress(0.0, text="Starting...")

    def report(fraction: float, message: str) -> None:
        bar.progress(min(1.0, max(0.0, fraction)), text=message)

    model = None
    if with_model:
        report(0.02, "Scoring patients with the risk model")
        try:
            path = risk.model_path(version_id)
            # the export says whether a synthetic model scores real patients
            model = services.model_section(data.load_cohort(version_id), path,
                                           principal=principal,
                                           scores=risk.scores(version_id, path) if path else None,
                                           cohort_synthetic=data.is_synthetic(
                                               data.version_by_id(version_id)))
        except Exception as exc:  # noqa: BLE001 - a broken model file must not block the export
            st.warning(f"The risk model could not be used ({type(exc).__name__}); "
                       "exporting without it.")
    content = services.export_summary(trajectories.prepared(version_id), fmt, ids,
                                    deidentify=deidentify, principal=principal,
                                    model=model, progress=report, filters=filters_text,
                                    cohort_version=version_id)
    bar.empty()
    stamp = clock.stamp_for_file()  # local time: the file name matches the clock on the wall
    name = f"paincycle-summary{'-deidentified' if deidentify else ''}-{stamp}.{fmt}"
    st.session_state[RESULT_KEY] = (name, content, export.MIME[fmt])


def download() -> None:
    """The download button for the last export built in this session."""
    result = st.session_state.get(RESULT_KEY)
    if not result:
        return
    name, content, mime = result
    st.success(f"Ready: {name} ({len(content) / 1024:,.0f} KB)")
    st.download_button(f"Download {name}", data=content, file_name=name, mime=mime,
                       type="primary", on_click="ignore", key="export_download",
                       icon=":material/download:")
