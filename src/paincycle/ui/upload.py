"""Data page widgets: the upload box, the kind picker, the mapping editor, the reports."""

from __future__ import annotations

import json
import shutil
import time
import uuid
from pathlib import Path
from typing import Any

import pandas as pd
import streamlit as st

from paincycle import config, importers
from paincycle.cohort import ValidationReport
from paincycle.ui.text import plain

KIND_LABELS = {**importers.KINDS,
               importers.COHORT: "PainCycle cohort tables (patients, observations in long format "
                                 "with one score a row, events; the files or a .zip)"}
UPLOAD_LIMIT_MB = importers.MAX_INPUT_BYTES // 1024**2


#: Uploads left by sessions that never imported are removed after this long.
STALE_UPLOAD_SECONDS = 24 * 3600


#: Several files uploaded at once are kept together in this subfolder of the session's folder.
SET_FOLDER = "uploaded-files"


def upload(key: str = "upload") -> Path | None:
    """The upload box; the file (or, for several, their folder) kept in this session's folder.

    Several files can be chosen at once (a cohort's patients.csv and
    observations.csv, a Synthea CSV folder's files): they are read together as
    one folder. Not the system temp folder: an upload is patient data and stays
    where the data folder's protection applies. The folder is emptied when the
    files are removed or replaced, deleted after an import (``discard``), and
    folders of sessions abandoned for a day are deleted by the next upload.
    """
    round_ = st.session_state.get(f"{key}_round", 0)
    files = st.file_uploader(
        f"Export file, several files, or a .zip (up to {UPLOAD_LIMIT_MB} MB each)",
        type=["csv", "xlsx", "parquet", "json", "ndjson", "zip", "gz"],
        accept_multiple_files=True,
        help="A FHIR Bundle or NDJSON, a Synthea CSV export (its files, or a .zip), a REDCap "
             "export, a wide registry export (CSV, Excel or Parquet), or PainCycle cohort "
             "tables: patients.csv and observations.csv (long format: patient_id, date, "
             "measure, value), with events.csv if you have one.",
        key=f"{key}_{round_}")
    folder = _session_folder(key)
    if not files:
        _empty(folder)
        return None
    names = [importers.safe_upload_name(f.name) for f in files]
    if len(set(names)) < len(names):
        st.error("Two of the chosen files have the same name: choose each file once.")
        return None
    target = folder / names[0] if len(files) == 1 else folder / SET_FOLDER
    wanted = sorted((n, f.file_id) for n, f in zip(names, files, strict=True))  # a new upload, a new id
    if st.session_state.get(f"{key}_saved") != (str(target), wanted) or not target.exists():
        _empty(folder)
        into = folder if len(files) == 1 else target
        into.mkdir(parents=True, exist_ok=True)
        for file in files:
            importers.save_upload(file.name, file.getvalue(), into)
        st.session_state[f"{key}_saved"] = (str(target), wanted)
    return target


def default_name(path: Path) -> str:
    """The version name offered for an upload: the file's name, or 'cohort' for several files."""
    return "cohort" if path.name == SET_FOLDER else path.stem.split(".")[0][:60]


_CHECK_KEY = "_paincycle_import_check"


def _check_signature(path: Path, kind: str, mapping: dict[str, Any] | None) -> tuple:
    files = sorted(path.rglob("*")) if path.is_dir() else [path]
    stamps = tuple((str(f), f.stat().st_size, f.stat().st_mtime_ns) for f in files if f.is_file())
    return (str(path), stamps, kind, json.dumps(mapping, sort_keys=True, default=str))


def checked(path: Path, kind: str, mapping: dict[str, Any] | None):
    """This session's check of exactly this file, kind and mapping (a Conversion or a report)."""
    kept = st.session_state.get(_CHECK_KEY)
    if kept is not None and kept[0] == _check_signature(path, kind, mapping):
        return kept[1]
    return None


def remember_check(path: Path, kind: str, mapping: dict[str, Any] | None, result) -> None:
    """Keep one check per session: another file, kind or mapping replaces it."""
    st.session_state[_CHECK_KEY] = (_check_signature(path, kind, mapping), result)


def discard(key: str = "upload") -> None:
    """After an import: delete the session's upload and its check, and clear the box."""
    st.session_state.pop(_CHECK_KEY, None)
    st.session_state.pop(f"{key}_saved", None)
    shutil.rmtree(_session_folder(key), ignore_errors=True)
    st.session_state[f"{key}_round"] = st.session_state.get(f"{key}_round", 0) + 1


def _session_folder(key: str) -> Path:
    root = config.data_dir() / "uploads"
    name = st.session_state.setdefault(f"{key}_folder", uuid.uuid4().hex)
    folder = root / name
    if not folder.exists():
        remove_stale_uploads(root)
        folder.mkdir(parents=True, exist_ok=True)
    return folder


def remove_stale_uploads(root: Path, max_age: float = STALE_UPLOAD_SECONDS) -> int:
    """Delete upload folders untouched for ``max_age`` seconds; returns how many."""
    removed = 0
    now = time.time()
    for folder in root.glob("*") if root.exists() else []:
        try:
            if folder.is_dir() and now - folder.stat().st_mtime > max_age:
                shutil.rmtree(folder, ignore_errors=True)
                removed += 1
        except OSError:
            continue
    return removed


def _empty(folder: Path) -> None:
    for item in folder.iterdir():
        if item.is_dir():
            shutil.rmtree(item, ignore_errors=True)
        else:
            item.unlink(missing_ok=True)


def kind_picker(path: Path, key: str = "kind") -> str:
    """Select box of input kinds, preset to the detected one."""
    detected = importers.detect_kind(path)
    options = list(KIND_LABELS)
    index = options.index(detected) if detected in options else 0
    kind = st.selectbox("What is this file?", options, index=index, format_func=KIND_LABELS.get,
                        key=key)
    if detected:
        st.caption(f"Detected: {KIND_LABELS[detected]}")
    return kind


def mapping_missing(kind: str, mapping: dict[str, Any] | None) -> bool:
    """True when this kind needs a mapping and none is given yet (the editor says so).

    The check waits for the mapping rather than run and refuse: the converter's
    own refusal speaks to the command line.
    """
    return importers.needs_mapping(kind) and mapping is None


def mapping_editor(kind: str, key: str = "mapping") -> dict[str, Any] | None:
    """Mapping text area (prefilled from an uploaded or shipped mapping); returns the parsed mapping."""
    if not importers.needs_mapping(kind) and kind != "fhir":
        return None
    shipped = importers.shipped()
    cols = st.columns(2)
    start = cols[0].selectbox("Start from a shipped mapping", ["(none)", *shipped], key=f"{key}_shipped")
    uploaded = cols[1].file_uploader("or upload a mapping (.yaml, .toml)", type=["yaml", "yml", "toml"],
                                     key=f"{key}_file")
    name = "mapping.yaml"
    text = ""
    if uploaded is not None:
        name, text = uploaded.name, uploaded.getvalue().decode("utf-8-sig", errors="replace")
    elif start != "(none)":
        text = shipped[start].read_text(encoding="utf-8")
    edited = st.text_area("Mapping (YAML, or TOML if the uploaded file was .toml)", text, height=260,
                          key=f"{key}_text_{start}_{name}")
    if not edited.strip():
        if importers.needs_mapping(kind):
            st.info("This kind of export needs a mapping before it can be checked: start from "
                    "a shipped mapping above, upload one, or write one here (docs/importers.md).",
                    icon=":material/map:")
        return None
    return importers.parse_mapping(edited, name)


def problem_report(report: ValidationReport) -> None:
    """The validation report: counts per kind of problem, then every listed problem."""
    st.error(f"{report.total:,} problem(s): nothing was imported. Fix the export (or the mapping) "
             "and upload it again.", icon=":material/error:")
    whole_file = [p for p in report.problems if p.row is None and p.column is None]
    for problem in whole_file[:5]:  # a sentence about a whole file reads better than a cell
        st.markdown(f"- **{plain(problem.file)}**: {plain(problem.message)}")
    counts = pd.DataFrame(report.counts.most_common(), columns=["problem", "count"])
    st.dataframe(counts, width="stretch", hide_index=True)
    listed = report.to_frame()
    # a problem with the whole file has no row or column: say "-", not "None"
    listed["row"] = listed["row"].astype("string").fillna("-")
    listed["column"] = listed["column"].fillna("-")
    st.dataframe(listed, width="stretch", hide_index=True)


def notices(left_out: pd.DataFrame) -> None:
    """What the converter leaves out on purpose (``Conversion.notices_frame()``), if anything."""
    if len(left_out):
        st.caption("Left out on purpose (nothing is dropped silently):")
        st.dataframe(left_out, width="stretch", hide_index=True)
