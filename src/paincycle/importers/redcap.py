"""REDCap flat exports (raw values, one row per record and event) with a mapping file.

Longitudinal projects export one row per record and event
(``redcap_event_name``), plus rows for repeating instruments
(``redcap_repeat_instrument``/``redcap_repeat_instance``). Checkbox fields
arrive as one column per choice (``dx___1``, ``dx___2``). The mapping says
which field holds which measure, how many days after intake each event is, and
where the intake date and patient attributes are; an exported data dictionary,
when present in the input or named in the mapping, is used to check that
every mapped score field really holds numbers. Dates may be YYYY-MM-DD or M/D/Y.
"""

from __future__ import annotations

from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np
import pandas as pd

from paincycle.cohort import TREATMENTS, Problem, ValidationReport
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
    no_progress,
    parse_dates,
    parse_numbers,
    read_csv,
    read_inputs,
)
from paincycle.importers.mapping import MappingReader

KIND = "redcap"
NEEDS_MAPPING = True
DICTIONARY_HEADER = "variable / field name"
NUMERIC_VALIDATIONS = {"integer", "number", "number_1dp", "number_2dp", "number_1dp_comma_decimal",
                       "number_comma_decimal"}
NUMERIC_TYPES = {"calc", "radio", "dropdown", "slider", "yesno"}
CHECKED = {"1", "checked"}


def convert(path: str, mapping: dict[str, Any] | None, progress: Progress = no_progress) -> Conversion:
    if not mapping:
        raise fail(str(path), None, None, "a REDCap export needs a mapping file (--mapping); "
                   "see docs/importers.md")
    files = read_inputs(path)
    data_name, dictionary = None, None
    for name in files:
        if not name.lower().endswith(".csv"):
            continue
        head = files[name][:300].decode("utf-8-sig", errors="replace").lower()
        if head.lstrip('"').startswith(DICTIONARY_HEADER):
            dictionary = (name, read_csv(name, files[name]))
        elif data_name is None:
            data_name = name
        else:
            raise fail(str(path), None, None, "more than one data CSV found; give one REDCap export "
                       "(and optionally its data dictionary)")
    if data_name is None:
        raise fail(str(path), None, None, "no REDCap export CSV found")
    dict_path = mapping.get("dictionary")
    if dictionary is None and dict_path:
        base = Path(str(mapping.get("_dir", ".")))
        file = Path(dict_path) if Path(dict_path).is_absolute() else base / dict_path
        if not file.exists():
            raise fail(str(mapping.get("_file", "mapping")), None, "dictionary",
                       f"data dictionary '{dict_path}' not found")
        dictionary = (file.name, read_csv(file.name, file.read_bytes()))
    progress(0.1, f"Reading {data_name}")
    frame = read_csv(PurePosixPath(data_name).name, files[data_name])
    return convert_frame(frame, PurePosixPath(data_name).name, mapping, dictionary, progress)


def convert_frame(frame: pd.DataFrame, file: str, mapping: dict[str, Any],
                  dictionary: tuple[str, pd.DataFrame] | None = None,
                  progress: Progress = no_progress) -> Conversion:
    reader = MappingReader(mapping, KIND)
    spec = _Spec(reader, frame, file)
    if dictionary is not None:
        spec.check_dictionary(*dictionary)
    reader.raise_if_any()
    notices: list[Notice] = []
    report = ValidationReport()
    empty = blank_rows(frame)
    if empty.any():
        notices.append(Notice(file, None, int(empty.sum()), "blank rows skipped"))
    rows = pd.Series(np.arange(len(frame)) + 2)
    frame, rows = frame[~empty.to_numpy()].reset_index(drop=True), rows[~empty.to_numpy()].reset_index(drop=True)
    ids = clean_ids(frame[spec.record_id])
    blank_id = ids == ""
    if blank_id.any():
        report.add_many(file, rows[blank_id].tolist(), spec.record_id, "record id is empty", "no id")

    progress(0.3, "Events and dates")
    day = spec.event_days(frame, rows, report)
    intake = spec.intake(frame, ids, rows, report)
    obs_date = intake + pd.to_timedelta(day, unit="D")
    if spec.date_field:
        col = spec.date_field
        dates, bad = parse_dates(frame[col], spec.date_format)
        _bad(report, file, bad, rows, col, frame[col], NOT_A_DATE)
        obs_date = dates.fillna(obs_date)
    obs_date = spec.repeat_dates(frame, rows, intake, obs_date, report)

    progress(0.5, "Scores")
    parts, origin = [], []
    for field, code in spec.measures.items():
        mark = "," if field in spec.comma_decimal else spec.decimal
        values, bad = parse_numbers(frame[field], mark)
        _bad(report, file, bad, rows, field, frame[field], "not a number (text in a numeric field)"
             + (" with a decimal comma" if mark == "," else ""))
        present = (values.notna() & ~blank_id).to_numpy()
        parts.append(pd.DataFrame({"patient_id": ids[present], "date": obs_date[present],
                                   "measure": code, "value": values[present]}))
        origin.append(pd.DataFrame({"file": file, "row": rows[present], "column": field}))
    patients = spec.patients(frame, ids[~blank_id], intake, rows, report)
    events = spec.treatments(frame, ids, obs_date, blank_id)
    if not report.ok:
        raise ConversionError(report)
    unmapped = spec.unmapped()
    if unmapped:
        filled = int(frame[unmapped].apply(lambda s: s.str.strip() != "").any(axis=1).sum())
        notices.append(Notice(file, ", ".join(unmapped[:20]) + (" ..." if len(unmapped) > 20 else ""),
                              filled, f"{len(unmapped)} field(s) not in the mapping were left out "
                                      "(list them under 'ignore' to silence this)"))
    observations = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(
        columns=["patient_id", "date", "measure", "value"])
    origins = pd.concat(origin, ignore_index=True) if origin else None
    starts = patients.set_index("patient_id")["intake_date"] if len(patients) else pd.Series(
        dtype="datetime64[ns]")
    early = early_rows(observations, starts)
    early_events = early_rows(events, starts) if events is not None and len(events) else None
    notice = early_rows_notice(file, "event", int(early.sum()) + (
        int(early_events.sum()) if early_events is not None else 0))
    if notice:
        notices.append(notice)
        observations = observations[~early.to_numpy()].reset_index(drop=True)
        origins = origins[~early.to_numpy()].reset_index(drop=True) if origins is not None else None
        if early_events is not None:
            events = events[~early_events.to_numpy()].reset_index(drop=True)
    provenance = {"observations": origins,
                  "patients": patients.pop("_row").to_frame("row").assign(file=file, column=None)}
    progress(0.85, "Validating")
    result = finish(patients, observations, events, name=spec.name, source=file, notices=notices,
                    provenance={k: v for k, v in provenance.items() if v is not None})
    progress(1.0, "Done")
    return result


def _bad(report: ValidationReport, file: str, bad: pd.Series, rows: pd.Series, col: str,
         shown: pd.Series, what: str) -> None:
    if bad.any():
        report.add_many(file, rows[bad].tolist(), col,
                        [f"'{v}' is {what}" for v in shown[bad].astype(str).str.slice(0, 40)],
                        f"bad {col}")


def _first_filled(values: pd.Series, ids: pd.Series) -> pd.Series:
    """Per record, the first non-blank value over its rows (attributes live on one event)."""
    filled = values.astype(str).str.strip()
    mask = filled != ""
    return filled[mask].groupby(ids[mask].to_numpy()).first()


class _Spec:
    def __init__(self, reader: MappingReader, frame: pd.DataFrame, file: str):
        self.reader, self.frame, self.file = reader, frame, file
        self.used: set[str] = set()
        self.name = reader.text("name", "") or ""
        self.record_id = self._col("record_id", reader.text("record_id", "record_id"), frame)
        self.decimal = reader.decimal()
        self.comma_decimal: set[str] = set()  # fields the data dictionary validates with a comma
        self.date_format = reader.text("date_format", "auto") or "auto"
        if self.date_format not in ("auto", "ymd", "mdy", "dmy"):
            reader.error("date_format", "use auto, ymd, mdy or dmy")
        self.events = {str(k): reader.day(f"events.{k}", v) for k, v in reader.table("events").items()}
        self.event_column = column(frame, "redcap_event_name", file, required=False)
        if self.event_column:
            self.used.add(self.event_column)
            if not self.events:
                reader.error("events", "this export is longitudinal (it has redcap_event_name): map "
                                       "each event to its day since intake, e.g. baseline_arm_1: 0")
        intake = reader.get("intake")
        self.intake_date, self.intake_field = None, None
        if isinstance(intake, dict) and "field" in intake:
            self.intake_field = self._col("intake.field", intake["field"], frame)
        elif isinstance(intake, dict) and "date" in intake:
            self.intake_date = reader.date("intake.date", intake["date"])
        else:
            reader.error("intake", "say where the intake date is: {field: FIELD} or {date: YYYY-MM-DD}")
        date_field = reader.text("date_field")
        self.date_field = self._col("date_field", date_field, frame) if date_field else None
        self.measures = {}
        for field, code in reader.table("measures").items():
            col = self._col(f"measures.{field}", field, frame)
            code = reader.measure(f"measures.{field}", code)
            if col and code:
                self.measures[col] = code
        if not reader.table("measures"):
            reader.error("measures", "map at least one field to a measure, e.g. pain_avg: pain_nrs")
        self.patient = {t: self._entry(f"patient.{t}", e) for t, e in reader.table("patient").items()}
        for target in self.patient:
            if target not in ("sex", "birth_year", "diagnosis", "site"):
                reader.error(f"patient.{target}", "use sex, birth_year, diagnosis or site "
                                                  "(other fields go under 'attributes')")
        self.attributes = {t: self._col(f"attributes.{t}", c, frame)
                           for t, c in reader.table("attributes").items()}
        self.repeats = {}
        for instrument, entry in reader.table("repeat_instruments").items():
            entry = entry if isinstance(entry, dict) else {}
            if "date_field" in entry:
                self.repeats[instrument] = ("date", self._col(f"repeat_instruments.{instrument}",
                                                              entry["date_field"], frame))
            elif "day_field" in entry:
                self.repeats[instrument] = ("day", self._col(f"repeat_instruments.{instrument}",
                                                             entry["day_field"], frame))
            else:
                reader.error(f"repeat_instruments.{instrument}", "give date_field or day_field")
        self.treatment = self._entry("treatments", reader.get("treatments")) if reader.get(
            "treatments") else None
        if self.treatment:
            bad = [v for v in self.treatment.get("values", {}).values() if v not in TREATMENTS]
            if bad or "checkbox" not in self.treatment:
                reader.error("treatments", "give {checkbox: FIELD, values: {code: treatment}} with "
                             f"treatments from: {', '.join(TREATMENTS)}")
        self.ignore = {str(c).lower() for c in reader.get("ignore") or []}

    def _col(self, key: str, name: Any, frame: pd.DataFrame) -> str:
        found = column(frame, str(name), self.file, required=False) if name else None
        if not found:
            self.reader.error(key, f"field '{name}' is not a column of {self.file}")
            return ""
        self.used.add(found)
        return found

    def _checkbox_columns(self, key: str, field: str) -> dict[str, str]:
        prefix = f"{field.lower()}___"
        found = {c[len(prefix):]: c for c in self.frame.columns if c.lower().startswith(prefix)}
        if not found:
            self.reader.error(key, f"no checkbox columns '{field}___<code>' in {self.file}")
        self.used.update(found.values())
        return found

    def _entry(self, key: str, entry: Any) -> dict[str, Any]:
        if isinstance(entry, str):
            return {"field": self._col(key, entry, self.frame)}
        if not isinstance(entry, dict):
            self.reader.error(key, "use a field name, {field: F, values: {...}}, {checkbox: F, "
                                   "values: {...}} or {value: TEXT}")
            return {}
        raw_values = entry.get("values") or {}
        if not isinstance(raw_values, dict):
            self.reader.error(key + ".values", "give values as {code: text, ...}")
            raw_values = {}
        values = {str(k).strip().lower(): v for k, v in raw_values.items()}
        if "value" in entry:
            return {"value": entry["value"]}
        if "checkbox" in entry:
            return {"checkbox": self._checkbox_columns(key, str(entry["checkbox"])), "values": values}
        if "field" in entry:
            return {"field": self._col(key, entry["field"], self.frame), "values": values,
                    "from_date": bool(entry.get("from_date"))}
        self.reader.error(key, "use field, checkbox or value")
        return {}

    def check_dictionary(self, name: str, dictionary: pd.DataFrame) -> None:
        """Every mapped score field must be numeric in the project's data dictionary."""
        var = column(dictionary, "Variable / Field Name", name)
        ftype = column(dictionary, "Field Type", name)
        valid = next((c for c in dictionary.columns if c.lower().startswith("text validation type")),
                     None)
        info = dictionary.set_index(dictionary[var].str.strip().str.lower())
        for field in self.measures:
            key = field.lower()
            if key not in info.index:
                self.reader.problems.append(Problem(name, None, field, f"field '{field}' is not in "
                                                    "the data dictionary"))
                continue
            entry = info.loc[key]
            entry = entry.iloc[0] if isinstance(entry, pd.DataFrame) else entry
            kind = str(entry[ftype]).strip().lower()
            validation = str(entry[valid]).strip().lower() if valid else ""
            if validation.endswith("comma_decimal"):
                self.comma_decimal.add(field)
            if kind not in NUMERIC_TYPES and not (kind == "text" and validation in NUMERIC_VALIDATIONS):
                row = int(np.flatnonzero(dictionary[var].str.strip().str.lower() == key)[0]) + 2
                self.reader.problems.append(Problem(
                    name, row, field, f"field '{field}' is a {kind} field"
                    + (f" validated as {validation}" if validation else " without number validation")
                    + " in the data dictionary, so it cannot hold a score"))

    def event_days(self, frame: pd.DataFrame, rows: pd.Series, report: ValidationReport) -> pd.Series:
        if not self.event_column:
            return pd.Series(0, index=frame.index)
        names = frame[self.event_column].str.strip()
        day = names.map(self.events)
        unknown = day.isna()
        if unknown.any():
            known = ", ".join(self.events)
            report.add_many(self.file, rows[unknown].tolist(), self.event_column,
                            [f"unknown event name '{v[:40]}'; the mapping's events are: {known}"
                             for v in names[unknown]], "unknown event")
        return day.fillna(0).astype(int)

    def intake(self, frame: pd.DataFrame, ids: pd.Series, rows: pd.Series,
               report: ValidationReport) -> pd.Series:
        if self.intake_date is not None:
            return pd.Series(pd.Timestamp(self.intake_date), index=frame.index)
        col = self.intake_field
        dates, bad = parse_dates(frame[col], self.date_format)
        _bad(report, self.file, bad, rows, col, frame[col], NOT_A_DATE)
        first = dates.groupby(ids.to_numpy()).min()
        intake = ids.map(first)
        missing = intake.isna() & (ids != "")
        if missing.any():
            first_rows = ~ids.duplicated() & missing
            report.add_many(self.file, rows[first_rows].tolist(), col,
                            [f"record '{v}' has no intake date on any of its rows"
                             for v in ids[first_rows]], "no intake date")
        return intake

    def repeat_dates(self, frame, rows, intake, obs_date, report) -> pd.Series:
        col = column(frame, "redcap_repeat_instrument", self.file, required=False)
        for name in ("redcap_repeat_instrument", "redcap_repeat_instance"):
            found = column(frame, name, self.file, required=False)
            if found:
                self.used.add(found)
        if not col or not self.repeats:
            return obs_date
        instrument = frame[col].str.strip()
        for name, (how, field) in self.repeats.items():
            mine = instrument == name
            if how == "date":
                dates, bad = parse_dates(frame[field].where(mine, ""), self.date_format)
                _bad(report, self.file, bad, rows, field, frame[field], NOT_A_DATE)
                obs_date = obs_date.mask(mine & dates.notna(), dates)
            else:
                days, bad = parse_numbers(frame[field].where(mine, ""))
                _bad(report, self.file, bad, rows, field, frame[field], "not a number of days")
                obs_date = obs_date.mask(mine & days.notna(),
                                         intake + pd.to_timedelta(days.fillna(0), unit="D"))
        return obs_date

    def _values(self, frame: pd.DataFrame, entry: dict[str, Any]) -> pd.Series:
        if "checkbox" in entry:
            labels = entry.get("values", {})
            out = pd.Series("", index=frame.index)
            for code, col in entry["checkbox"].items():
                ticked = frame[col].str.strip().str.lower().isin(CHECKED)
                label = str(labels.get(code.lower(), code))
                out = out.where(~ticked, out + np.where(out == "", "", "; ") + label)
            return out
        text = frame[entry["field"]].astype(str).str.strip()
        if entry.get("values"):
            text = text.map(lambda v: entry["values"].get(v.lower(), v) if v else v)
        return text

    def patients(self, frame, ids, intake, rows, report) -> pd.DataFrame:
        keep = ids.index
        first = ~ids.duplicated()
        order = ids[first]
        out = pd.DataFrame({"patient_id": order.to_numpy(),
                            "intake_date": intake[keep][first].to_numpy(),
                            "_row": rows[keep][first].to_numpy()})
        for target, entry in self.patient.items():
            if "value" in entry:
                out[target] = entry["value"]
                continue
            if not entry:
                continue
            values = _first_filled(self._values(frame.loc[keep], entry), ids)
            if entry.get("from_date"):
                dates, _bad_dates = parse_dates(values, self.date_format)
                values = dates.dt.year.astype("Int64")
            out[target] = order.map(values).to_numpy()
        for target, col in self.attributes.items():
            if col:
                out[target] = order.map(_first_filled(frame.loc[keep, col], ids)).to_numpy()
        return out

    def treatments(self, frame, ids, dates, blank_id) -> pd.DataFrame | None:
        if not self.treatment or "checkbox" not in self.treatment:
            return None
        parts = []
        for code, col in self.treatment["checkbox"].items():
            detail = self.treatment.get("values", {}).get(code.lower())
            ticked = frame[col].str.strip().str.lower().isin(CHECKED) & ~blank_id & dates.notna()
            if detail and ticked.any():
                parts.append(pd.DataFrame({"patient_id": ids[ticked], "date": dates[ticked],
                                           "event": "treatment_start", "detail": detail}))
        if not parts:
            return None
        events = pd.concat(parts).sort_values(["patient_id", "date"])
        # A treatment ticked at several events started at the first of them.
        return events.drop_duplicates(["patient_id", "detail"]).reset_index(drop=True)

    def unmapped(self) -> list[str]:
        return [c for c in self.frame.columns if c not in self.used and c.lower() not in self.ignore
                and not c.lower().endswith("_complete") and not c.lower().startswith("redcap_")]
