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

from paincycle.cohort import REQUIRED_COLUMNS, CohortError, load_and_validate
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
from paincycle.problems import Problem, ValidationReport

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
        lone = lone_table_problem(path)
        if lone is not None:
            report = ValidationReport()
            report.add(lone, "not a whole cohort")
            raise CohortError(report)
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
    if any(long_table(_columns(Path(path), n, head)) for n, head in names.items()):
        return COHORT  # one score or event per row: the cohort's own long format, whatever its name
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


#: The long-format cohort tables, told apart from a wide export by their columns alone.
LONG_TABLES = ("observations", "events")


def long_table(columns: set[str]) -> str | None:
    """Which long-format cohort table has these columns (one score or one event per row), if any.

    A wide registry export has one row per patient and a column per score, so
    it never holds ``measure`` and ``value`` (or ``event``) beside ``patient_id``
    and ``date``; that is how a cohort's observations.csv is known under any name.
    """
    for table in LONG_TABLES:
        if set(REQUIRED_COLUMNS[table]) <= columns:
            return table
    return None


def lone_table_problem(path: str | Path) -> Problem | None:
    """One table of a cohort uploaded on its own: which it is and what must come with it."""
    path = Path(path)
    if not path.is_file() or path.suffix.lower() == ".zip":
        return None
    name = path.name[:-3] if path.name.lower().endswith(".gz") else path.name
    head = _heads(path).get(name, "")
    columns = _columns(path, name, head)
    table = long_table(columns)
    if table is None and set(REQUIRED_COLUMNS["patients"]) <= columns:
        table = "patients"
    if table is None:
        return None
    others = {"observations": "patients.csv (patient_id, intake_date and optionally sex, "
                              "birth_year, diagnosis, site)",
              "events": "patients.csv and observations.csv",
              "patients": "observations.csv (patient_id, date, measure, value: one score a row)"}
    return Problem(path.name, None, None,
                   f"this is a cohort's {table} table on its own; a cohort also needs "
                   f"{others[table]}. Upload the files together (choose them all in the upload "
                   f"box), or a .zip holding them; name each table patients, observations or "
                   f"events (.csv, .xlsx or .parquet)")


def _columns(path: Path, name: str, head: str) -> set[str]:
    """Lower-case column names of one input table: the CSV header, or a workbook's or Parquet
    file's own first row or schema when ``path`` is that single file."""
    lower = name.lower()
    if lower.endswith(".csv"):
        return _header(head)
    if path.is_file() and path.name.lower() == lower and lower.endswith((".parquet", ".xlsx")):
        try:
            if lower.endswith(".parquet"):
                import pyarrow.parquet as pq

                names = pq.read_schema(path).names
            else:
                from openpyxl import load_workbook

                book = load_workbook(path, read_only=True)
                try:
                    names = next(book.worksheets[0].iter_rows(max_row=1, values_only=True), ())
                finally:
                    book.close()
        except Exception:  # noqa: BLE001 - a guess never fails: the check names the problem
            return set()
        return {str(c).strip().lower() for c in names if c is not None}
    return set()


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
