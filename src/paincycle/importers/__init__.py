"""Converters from clinics' own exports to the canonical cohort.

Each converter module (fhir, synthea, redcap, wide) defines
``convert(path, mapping, progress) -> Conversion``; the cohort it returns has
passed the same validation as any cohort folder, and the Conversion lists what
was left out on purpose (Notices). Bad input raises ConversionError, whose
Problems name the clinic's file, row and column. The CLI (`paincycle convert`)
and the Data page both go through :func:`convert` here.
"""

from __future__ import annotations

import gzip
import importlib
import io
import zipfile
import zlib
from pathlib import Path, PurePosixPath
from typing import Any

from paincycle.cohort import CohortError, load_and_validate
from paincycle.importers.common import (
    MAX_INPUT_BYTES,
    Conversion,
    ConversionError,
    Notice,
    Progress,
    fail,
    no_progress,
)
from paincycle.importers.mapping import load_mapping, parse_mapping, shipped

__all__ = [
    "KINDS", "MAX_INPUT_BYTES", "Conversion", "ConversionError", "Notice", "convert", "detect_kind",
    "COHORT", "load_mapping", "needs_mapping", "parse_mapping", "preview", "safe_upload_name",
    "save_upload", "shipped",
]

#: Input kinds the converters read, with the words the Data page shows.
KINDS: dict[str, str] = {
    "fhir": "FHIR R4 (Bundle JSON, a folder or zip of bundles, or NDJSON)",
    "synthea": "Synthea CSV export (patients, observations, conditions, medications)",
    "redcap": "REDCap flat export (needs a mapping)",
    "wide": "Wide registry export, one row per patient (needs a mapping)",
}
#: The Data page also takes a folder/zip already in the cohort format.
COHORT = "cohort"


def needs_mapping(kind: str) -> bool:
    return kind in ("redcap", "wide")


def convert(kind: str, path: str | Path, mapping: dict[str, Any] | None = None,
            progress: Progress = no_progress) -> Conversion:
    """Convert ``path`` (file, folder or .zip) of input ``kind`` into a validated cohort."""
    if kind == COHORT:
        cohort, report = load_and_validate(path)
        if cohort is None:
            raise CohortError(report)
        return Conversion(cohort, [])
    if kind not in KINDS:
        raise fail(str(path), None, None, f"unknown input kind '{kind}'; use one of {', '.join(KINDS)}")
    module = importlib.import_module(f"paincycle.importers.{kind}")
    return module.convert(str(path), mapping, progress)


def detect_kind(path: str | Path) -> str | None:
    """Best guess at what ``path`` holds, from file names and header lines; None if unsure."""
    heads = _heads(Path(path))
    names = {PurePosixPath(n).name.lower(): head for n, head in heads.items()}
    patients_head = names.get("patients.csv") or names.get("patients.parquet")
    if patients_head is not None:
        header = _header(patients_head)
        if "patient_id" in header and "intake_date" in header:
            return COHORT
        if {"id", "birthdate"} <= header or "observations.csv" in names:
            return "synthea"
    if any(n.endswith((".json", ".ndjson")) for n in names):
        return "fhir"
    if "patients.parquet" in names or "patients.xlsx" in names:
        return COHORT
    csvs = [head for n, head in names.items() if n.endswith(".csv")]
    for head in csvs:
        header = _header(head)
        if "redcap_event_name" in header or "redcap_repeat_instrument" in header:
            return "redcap"
        if {"patient", "code", "date"} <= header:
            return "synthea"
    if len(csvs) == 1:
        header = _header(csvs[0])
        return "redcap" if "record_id" in header else "wide"
    spreadsheets = [n for n in names if n.endswith((".xlsx", ".parquet"))]
    if not csvs and len(spreadsheets) == 1:
        return "wide"  # the one importer that takes a single Excel or Parquet table
    return None


def _header(head: str) -> set[str]:
    first = head.lstrip("\ufeff").splitlines()[0] if head.strip() else ""
    return {c.strip().strip('"').lower() for c in first.split(",")}


def _heads(path: Path, size: int = 4096) -> dict[str, str]:
    """The first few KB of each input file as text (enough for names and a header line)."""
    out: dict[str, str] = {}

    def add(name: str, raw: bytes) -> None:
        if name.lower().endswith(".gz"):
            try:
                raw = gzip.GzipFile(fileobj=io.BytesIO(raw)).read(size)
            except (OSError, EOFError):
                return
            name = name[:-3]
        out[name] = raw[:size].decode("utf-8", errors="replace")

    if path.is_dir():
        for item in sorted(path.rglob("*"))[:2000]:
            if item.is_file() and not item.name.startswith("."):
                with item.open("rb") as handle:
                    add(item.name, handle.read(size * 16 if item.name.endswith(".gz") else size))
    elif path.suffix.lower() == ".zip":
        try:
            with zipfile.ZipFile(path) as archive:
                for info in archive.infolist()[:2000]:
                    if not info.is_dir() and "__MACOSX" not in info.filename:
                        with archive.open(info) as handle:
                            add(PurePosixPath(info.filename).name, handle.read(size))
        except (zipfile.BadZipFile, RuntimeError, NotImplementedError, EOFError, OSError,
                zlib.error):  # a preview never fails: the import names the problem
            return {}
    elif path.is_file():
        with path.open("rb") as handle:
            add(path.name, handle.read(size * 16 if path.name.endswith(".gz") else size))
    return out


def safe_upload_name(name: str) -> str:
    """The file name an upload is stored under: its own base name, letters, digits and ._- only."""
    safe = "".join(c if c.isalnum() or c in "._-" else "_" for c in PurePosixPath(name).name)
    return safe.lstrip(".")[:120] or "upload"


def save_upload(name: str, data: bytes, folder: str | Path) -> Path:
    """Write an uploaded file under ``folder`` with a safe name (uploads never pick their path)."""
    if len(data) > MAX_INPUT_BYTES:
        raise fail(name, None, None, f"file is larger than the {MAX_INPUT_BYTES // 1024**2} MB limit")
    target = Path(folder) / safe_upload_name(name)
    target.write_bytes(data)
    return target


def preview(path: str | Path, kind: str | None, rows: int = 10):
    """The first rows of an input, as the Data page shows them before importing."""
    import pandas as pd

    from paincycle.importers.common import is_table_file, read_inputs, read_table

    files = read_inputs(path)
    if kind == "fhir":
        from paincycle.importers.fhir import _resources

        found = []
        for name in files:
            if name.lower().endswith((".json", ".ndjson")):
                found += _resources(name, files[name])
            if len(found) >= rows:
                break
        return pd.DataFrame([{"file": w.file, "resourceType": r.get("resourceType"),
                              "id": r.get("id")} for r, _u, w in found[:rows]])
    tables = [n for n in files if is_table_file(n)]
    preferred = [n for n in tables if PurePosixPath(n).stem.lower() in ("observations", "patients")]
    if not tables:
        return pd.DataFrame()
    name = (preferred or tables)[0]
    return read_table(name, files[name]).head(rows)
