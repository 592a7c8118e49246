"""Wide registry exports: one row per patient, a column per measure and time point.

Registries (CHOIR, national pain audits) export baseline and follow-up scores
side by side. The mapping names the id column, which column holds which
measure at how many days after intake, the patient attributes to keep, and the
intake date (a column, or one fixed date when the registry has no dates).
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import numpy as np
import pandas as pd

from paincycle.cohort import ValidationReport
from paincycle.importers.common import (
    NOT_A_DATE,
    Conversion,
    ConversionError,
    Notice,
    Progress,
    blank_rows,
    clean_ids,
    column,
    early_rows,
    early_rows_notice,
    fail,
    finish,
    is_table_file,
    no_progress,
    parse_dates,
    parse_numbers,
    read_inputs,
    read_table,
    sheet_rows,
)
from paincycle.importers.mapping import MappingReader

KIND = "wide"
NEEDS_MAPPING = True
CANONICAL_PATIENT = ("sex", "birth_year", "diagnosis", "site")


def convert(path: str, mapping: dict[str, Any] | None, progress: Progress = no_progress) -> Conversion:
    """Convert a wide export (CSV, .gz, Excel or Parquet; or the only such file in a folder/zip)."""
    if not mapping:
        raise fail(str(path), None, None, "a wide registry export needs a mapping file (--mapping); "
                   "see docs/importers.md")
    files = read_inputs(path)
    tables = [n for n in files if is_table_file(n)]
    if len(tables) != 1:
        raise fail(str(path), None, None,
                   f"expected one table file (.csv, .xlsx or .parquet), found {len(tables)}")
    name = tables[0]
    progress(0.1, f"Reading {name}")
    frame = read_table(name, files[name])
    return convert_frame(frame, name, mapping, progress)


def convert_frame(frame: pd.DataFrame, file: str, mapping: dict[str, Any],
                  progress: Progress = no_progress) -> Conversion:
    spec = _Spec(MappingReader(mapping, KIND), frame, file)
    spec.reader.raise_if_any()
    notices: list[Notice] = []
    empty = blank_rows(frame)
    if empty.any():
        notices.append(Notice(file, None, int(empty.sum()),
                              f"blank rows skipped (rows {', '.join(map(str, sheet_rows(empty)[:10]))})"))
    report = ValidationReport()
    source_rows = pd.Series(np.arange(len(frame)) + 2, index=frame.index)
    keep = ~empty.to_numpy()
    frame, source_rows = frame[keep].reset_index(drop=True), source_rows[keep].reset_index(drop=True)

    ids = clean_ids(frame[spec.id_column])
    intake = spec.intake(frame, report, source_rows)
    progress(0.3, "Patients")
    patients = pd.DataFrame({"patient_id": ids, "intake_date": intake})
    for target, entry in spec.patient.items():
        patients[target.replace("_from_age", "")] = spec.patient_value(frame, target, entry, intake, report, source_rows)
    for target, col in spec.attributes.items():
        patients[target] = _attribute(frame[col])
    for target, (cols, _measure, _day) in spec.counts.items():
        patients[target] = spec.count(frame, cols, report, source_rows)

    progress(0.5, "Scores")
    parts, origin = [], []
    for code, col, day in spec.measure_columns():
        values, bad = parse_numbers(frame[col], spec.decimal)
        _bad(report, file, bad, col, frame[col], source_rows, "not a number", "bad value")
        present = values.notna().to_numpy()
        parts.append(pd.DataFrame({"patient_id": ids[present], "date": intake[present] + timedelta(days=day),
                                   "measure": code, "value": values[present]}))
        origin.append(pd.DataFrame({"file": file, "row": source_rows[present], "column": col}))
    for target, (cols, code, day) in spec.counts.items():
        if code:
            values = patients[target].astype("float64")
            present = values.notna().to_numpy()
            parts.append(pd.DataFrame({"patient_id": ids[present],
                                       "date": intake[present] + timedelta(days=day),
                                       "measure": code, "value": values[present]}))
            origin.append(pd.DataFrame({"file": file, "row": source_rows[present],
                                        "column": f"{cols[0]}..{cols[-1]}"}))
    if not report.ok:
        raise ConversionError(report)
    unmapped = [c for c in frame.columns if c not in spec.used and c not in spec.ignore]
    if unmapped:
        filled = int((frame[unmapped].apply(lambda s: s.str.strip() != "")).any(axis=1).sum())
        notices.append(Notice(file, ", ".join(unmapped[:20]) + (" ..." if len(unmapped) > 20 else ""),
                              filled, f"{len(unmapped)} column(s) not in the mapping were left out "
                                      "(list them under 'ignore' to silence this)"))
    observations = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(
        columns=["patient_id", "date", "measure", "value"])
    origins = pd.concat(origin, ignore_index=True) if origin else pd.DataFrame(
        columns=["file", "row", "column"])
    early = early_rows(observations, patients.drop_duplicates("patient_id")
                       .set_index("patient_id")["intake_date"]).to_numpy()
    notice = early_rows_notice(file, "day", int(early.sum()))
    if notice:
        notices.append(notice)
        observations = observations[~early].reset_index(drop=True)
        origins = origins[~early].reset_index(drop=True)
    progress(0.8, "Validating")
    provenance = {
        "patients": pd.DataFrame({"file": file, "row": source_rows, "column": None}),
        "observations": origins,
    }
    result = finish(patients, observations, None, name=spec.name, source=file,
                    notices=notices, provenance=provenance)
    progress(1.0, "Done")
    return result


class _Spec:
    """The mapping's keys, checked against the file's header before any cell is read."""

    def __init__(self, reader: MappingReader, frame: pd.DataFrame, file: str):
        self.reader, self.frame, self.file = reader, frame, file
        self.used: set[str] = set()
        self.name = reader.text("name", "") or ""
        id_name = reader.text("id_column", required=True)
        self.id_column = self._col("id_column", id_name) if id_name else ""
        self.fixed_intake: date | None = reader.date("intake_date")
        intake_col = reader.text("intake_date_column")
        self.intake_column = self._col("intake_date_column", intake_col) if intake_col else None
        self.date_format = reader.text("date_format", "auto") or "auto"
        if self.date_format not in ("auto", "ymd", "mdy", "dmy"):
            reader.error("date_format", "use auto, ymd, mdy or dmy")
            self.date_format = "auto"
        self.decimal = reader.decimal()
        if self.fixed_intake is None and intake_col is None:
            reader.error("intake_date", "give 'intake_date' (one date for everyone) or "
                                        "'intake_date_column'")
        self.patient: dict[str, Any] = {}
        for target, entry in reader.table("patient").items():
            if target not in CANONICAL_PATIENT + ("birth_year_from_age",):
                reader.error(f"patient.{target}", f"'{target}' is not a patient column; use "
                             f"{', '.join(CANONICAL_PATIENT)}, birth_year_from_age, or 'attributes'")
                continue
            self.patient[target] = self._entry(f"patient.{target}", entry)
        self.attributes = {t: self._col(f"attributes.{t}", c)
                           for t, c in reader.table("attributes").items()}
        self.counts: dict[str, tuple[list[str], str | None, int]] = {}
        for target, entry in reader.table("counts").items():
            key = f"counts.{target}"
            if not isinstance(entry, dict) or "columns" not in entry:
                reader.error(key, "a count needs 'columns' (e.g. [X101..X136])")
                continue
            cols = [self._col(key, c) for c in reader.columns(key + ".columns", entry["columns"])]
            code = reader.measure(key + ".measure", entry["measure"]) if entry.get("measure") else None
            day = reader.day(key + ".day", entry.get("day", 0))
            self.counts[target] = ([c for c in cols if c], code, day or 0)
        self.measures: list[tuple[str, str, int]] = []
        for i, entry in enumerate(reader.items("measures")):
            key = f"measures[{i}]"
            code = reader.measure(key + ".measure", entry.get("measure"))
            col = self._col(key + ".column", entry.get("column"))
            day = reader.day(key + ".day", entry.get("day"))
            if code and col and day is not None:
                self.measures.append((code, col, day))
        self.ignore = {self._col("ignore", c, quiet=True)
                       for c in reader.columns("ignore", reader.get("ignore") or [])}

    def _col(self, key: str, name: Any, quiet: bool = False) -> str:
        if not name:
            self.reader.error(key, "a column name is required")
            return ""
        found = column(self.frame, str(name), self.file, required=False)
        if found is None:
            if not quiet:
                self.reader.error(key, f"column '{name}' is not in {self.file}")
            return ""
        self.used.add(found)
        return found

    def _entry(self, key: str, entry: Any) -> dict[str, Any]:
        if isinstance(entry, str):
            return {"column": self._col(key, entry)}
        if isinstance(entry, dict) and "value" in entry:
            return {"value": entry["value"]}
        if isinstance(entry, dict) and "column" in entry:
            values = entry.get("values") or {}
            if not isinstance(values, dict):
                self.reader.error(key + ".values", "give values as {code: text, ...}")
                values = {}
            return {"column": self._col(key, entry["column"]),
                    "values": {str(k).strip().lower(): v for k, v in values.items()}}
        self.reader.error(key, "use a column name, {column: NAME, values: {...}} or {value: TEXT}")
        return {}

    def measure_columns(self) -> list[tuple[str, str, int]]:
        return self.measures

    def intake(self, frame: pd.DataFrame, report: ValidationReport, rows: pd.Series) -> pd.Series:
        if self.intake_column:
            dates, bad = parse_dates(frame[self.intake_column], self.date_format)
            _bad(report, self.file, bad, self.intake_column, frame[self.intake_column], rows,
                 NOT_A_DATE, "bad intake date")
            if self.fixed_intake is not None:
                dates = dates.fillna(pd.Timestamp(self.fixed_intake))
            return dates
        return pd.Series(pd.Timestamp(self.fixed_intake), index=frame.index, dtype="datetime64[ns]")

    def patient_value(self, frame: pd.DataFrame, target: str, entry: dict[str, Any],
                      intake: pd.Series, report: ValidationReport, rows: pd.Series) -> pd.Series:
        if "value" in entry:
            return pd.Series(entry["value"], index=frame.index)
        col = entry.get("column")
        if not col:
            return pd.Series(None, index=frame.index, dtype=object)
        text = frame[col].str.strip()
        if entry.get("values"):
            text = text.str.lower().map(lambda v: entry["values"].get(v, v))
        if target == "birth_year_from_age":
            ages, bad = parse_numbers(text)
            _bad(report, self.file, bad, col, frame[col], rows, "not an age in years", "bad age")
            return (intake.dt.year - ages.round()).astype("Int64")
        return text.replace("", None)

    def count(self, frame: pd.DataFrame, cols: list[str], report: ValidationReport,
              rows: pd.Series) -> pd.Series:
        total = pd.Series(0.0, index=frame.index)
        answered = pd.Series(False, index=frame.index)
        for col in cols:
            values, bad = parse_numbers(frame[col])
            _bad(report, self.file, bad, col, frame[col], rows, "not a number (1 = yes)", "bad value")
            total += (values > 0).astype(float)
            answered |= values.notna()
        return total.where(answered).astype("Int64")


def _bad(report: ValidationReport, file: str, bad: pd.Series, col: str, shown: pd.Series,
         rows: pd.Series, what: str, kind: str) -> None:
    if bad.any():
        values = shown[bad].astype(str).str.slice(0, 40)
        report.add_many(file, rows[bad].tolist(), col, [f"'{v}' is {what}" for v in values], kind)


def _attribute(text: pd.Series) -> pd.Series:
    """A patient attribute as numbers when every filled cell is one, else as text."""
    values, bad = parse_numbers(text)
    if not bad.any() and values.notna().any():
        if (values.dropna() % 1 == 0).all():
            return values.round().astype("Int64")
        return values
    return text.str.strip().replace("", None)
