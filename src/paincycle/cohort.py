"""The canonical cohort and its validation.

Every importer ends here: three tables (patients, observations, events) in the
form shared/cohort-format.md defines. Validation collects every problem, each
naming the file, the spreadsheet row (the header is row 1, the first data row
is row 2) and the column, so a clinic's data team can fix its export in one go.
Nothing in a cell is ever evaluated: text that looks like a formula stays text.
"""

from __future__ import annotations

import csv
import io
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path, PurePosixPath

import numpy as np
import pandas as pd

from paincycle import inputs, measures
from paincycle.cells import MAX_DATE, MIN_DATE, outside_span, parse_dates, parse_numbers
from paincycle.inputs import read_parquet, workbook_problem
from paincycle.problems import MAX_PROBLEMS_PER_CHECK, CohortError, Problem, ValidationReport
from paincycle.rules import MAX_DAYS_BEFORE_INTAKE, days_since_intake

TABLES = ("patients", "observations", "events")
REQUIRED_TABLES = ("patients", "observations")
TABLE_SUFFIXES = (".csv", ".parquet", ".xlsx")

PATIENT_COLUMNS = ("patient_id", "intake_date", "sex", "birth_year", "diagnosis", "site")
OBSERVATION_COLUMNS = ("patient_id", "date", "measure", "value")
EVENT_COLUMNS = ("patient_id", "date", "event", "detail")
REQUIRED_COLUMNS = {
    "patients": ("patient_id", "intake_date"),
    "observations": ("patient_id", "date", "measure", "value"),
    "events": ("patient_id", "date", "event"),
}
EVENT_KINDS = (
    "treatment_start", "treatment_stop", "appointment_attended", "appointment_missed", "note",
)
TREATMENTS = (
    "cbt", "graded_exercise", "snri", "mbsr", "physiotherapy", "opioid_taper",
    "sleep_intervention", "other",
)
SEXES = ("female", "male", "other", "unknown")
MAX_ID_LENGTH = 64

#: Limits that keep a hostile upload from exhausting the machine.
#: More columns than any real export has; a header of 100,000 names is an attack or an accident.
MAX_COLUMNS = 1000
# The accepted span of dates (MIN_DATE, MAX_DATE) is the cell parser's (paincycle.cells).

@dataclass(frozen=True)
class Cohort:
    """Patients, their scores over time and their care events, in canonical form.

    Dates are midnight timestamps (datetime64); values are floats; ids are text.
    Treat it as immutable: analyses return new frames and never edit these.
    """

    patients: pd.DataFrame
    observations: pd.DataFrame
    events: pd.DataFrame
    name: str = ""

    @property
    def n_patients(self) -> int:
        return len(self.patients)

    def date_range(self) -> tuple[pd.Timestamp, pd.Timestamp] | None:
        dates = pd.concat([self.patients["intake_date"], self.observations["date"]])
        dates = dates.dropna()
        return (dates.min(), dates.max()) if len(dates) else None

    def subset(self, patient_ids: Iterable[str]) -> Cohort:
        """The same cohort restricted to some patients (filters, a single drill-down)."""
        ids = pd.Index(pd.unique(pd.Series(list(patient_ids), dtype=object)))
        return Cohort(
            self.patients[self.patients["patient_id"].isin(ids)].reset_index(drop=True),
            self.observations[self.observations["patient_id"].isin(ids)].reset_index(drop=True),
            self.events[self.events["patient_id"].isin(ids)].reset_index(drop=True),
            self.name,
        )

    def measures_present(self) -> list[str]:
        return sorted(self.observations["measure"].unique().tolist())

    def days_since_intake(self, frame: pd.DataFrame) -> np.ndarray:
        """Whole days from each row's patient's intake to its ``date`` (rules.days_since_intake)."""
        intake = self.patients.drop_duplicates("patient_id").set_index("patient_id")["intake_date"]
        return days_since_intake(frame["date"], lookup(frame["patient_id"], intake))


def lookup(keys: pd.Series, table: pd.Series | Mapping | Callable) -> pd.Series:
    """``table``'s value for every key, in the values' own dtype.

    Stored cohorts are loaded with ids and measure codes as categories (see
    ``store.read_contiguous``), and ``Series.map`` on a categorical returns a
    categorical, which then refuses date arithmetic. This maps each category
    once and spreads the results by code: same answer as ``keys.map(table)``
    on text, and faster on 35 million rows.
    """
    if not isinstance(keys.dtype, pd.CategoricalDtype):
        return keys.map(table)
    per_category = pd.Series(keys.cat.categories, dtype=object).map(table)
    values = pd.api.extensions.take(per_category.array, keys.cat.codes.to_numpy(), allow_fill=True)
    return pd.Series(values, index=keys.index, name=keys.name)


# --------------------------------------------------------------------------- reading


def read_cohort(path: str | Path) -> Cohort:
    """Read and validate a cohort folder or .zip; raise CohortError listing every problem."""
    cohort, report = load_and_validate(path)
    if cohort is None:
        raise CohortError(report)
    return cohort


def load_and_validate(path: str | Path) -> tuple[Cohort | None, ValidationReport]:
    """Read a cohort folder or .zip; return the cohort (None if invalid) and the report.

    Files are opened by the one reader (paincycle.inputs), with the same limits
    and zip rules as every converter. A table may sit at the top or in a
    subfolder (a zipped folder); the shallowest copy is read.
    """
    path = Path(path)
    report = ValidationReport()
    if path.is_file() and path.suffix.lower() != ".zip":
        report.add(Problem(path.name, None, None,
                           "expected a cohort folder or a .zip of one (patients and observations tables)"),
                   "not a cohort")
        return None, report
    files = inputs.read_files(path, report,
                              accept=_is_folder_table if path.is_dir() else _is_table_file)
    raw: dict[str, tuple[str, pd.DataFrame]] = {}
    for table in TABLES:
        names = sorted((n for n in files if PurePosixPath(n).stem.lower() == table),
                       key=lambda n: (n.count("/"), n))
        if not names:
            continue
        file = PurePosixPath(names[0]).name
        frame = _parse_table(file, files[names[0]], report, optional=table not in REQUIRED_TABLES)
        if frame is not None:
            raw[table] = (file, frame)
    if path.exists():
        _require_tables(raw, report, path.name)
    if not report.ok:
        return None, report
    return validate_tables(raw, report)


def _is_table_file(name: str) -> bool:
    member = PurePosixPath(name)
    return member.stem.lower() in TABLES and member.suffix.lower() in TABLE_SUFFIXES


def _is_folder_table(name: str) -> bool:
    """In a folder on disk: a table at the top or in one subfolder, nothing deeper (old copies)."""
    return len(PurePosixPath(name).parts) <= 2 and _is_table_file(name)


def csv_header_problem(name: str, text: str) -> Problem | None:
    """Check the header row before pandas sees it.

    pandas silently renames a repeated column ("value", "value.1") and spends
    quadratic time doing so for a header of thousands of repeats, so repeats and
    absurdly wide headers are caught here, on the raw first record.
    """
    try:
        header = next(csv.reader(io.StringIO(text[: 1024**2])), [])
    except csv.Error:
        return None  # pandas will report the file as unreadable
    if len(header) > MAX_COLUMNS:
        return Problem(name, 1, None, f"the header has {len(header):,} columns; "
                                      f"at most {MAX_COLUMNS:,} are accepted")
    names = [h.strip().lower() for h in header]
    dupes = [c for c, n in Counter(names).items() if n > 1 and c]
    if dupes:
        return Problem(name, 1, dupes[0], "column appears twice (names are case-insensitive)")
    return None


def _require_tables(found: Mapping, report: ValidationReport, where: str) -> None:
    for table in REQUIRED_TABLES:
        if table not in found and not any(p.file.lower().startswith(table) for p in report.problems):
            report.add(Problem(where, None, None,
                               f"no {table} table: expected {table}.csv, {table}.parquet or {table}.xlsx"),
                       f"missing {table}")


def _parse_table(name: str, data: bytes, report: ValidationReport,
                 optional: bool = False) -> pd.DataFrame | None:
    """Bytes of one table to a frame; CSV and Excel cells stay text until validation.

    An optional table (events) may hold a header and no rows: a cohort with no events.
    """
    if not data.strip():
        report.add(Problem(name, None, None, "file is empty"), "empty file")
        return None
    suffix = PurePosixPath(name).suffix.lower()
    try:
        if suffix == ".parquet":
            table, refused = read_parquet(data)
            if refused:
                report.add(Problem(name, None, None, f"could not read the file: {refused}"),
                           "unreadable")
                return None
            frame = table.to_pandas()
        elif suffix == ".xlsx":
            refused = workbook_problem(data)
            if refused:
                report.add(Problem(name, None, None, f"could not read the file: {refused}"),
                           "unreadable")
                return None
            frame = pd.read_excel(io.BytesIO(data), dtype=str, keep_default_na=False,
                                  engine="openpyxl")
        else:
            try:
                text = data.decode("utf-8-sig")
            except UnicodeDecodeError as exc:
                line = data[: exc.start].count(b"\n") + 1
                report.add(Problem(name, line, None,
                                   "text is not UTF-8 (save the file as 'CSV UTF-8'); first bad byte "
                                   f"at position {exc.start}"), "not utf-8")
                return None
            header_problem = csv_header_problem(name, text)
            if header_problem is not None:
                report.add(header_problem, "bad header")
                return None
            frame = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False,
                                skip_blank_lines=True)
    except Exception as exc:  # the parsers raise many types; all mean "unreadable file"
        report.add(Problem(name, None, None, f"could not read the file: {inputs.short(exc)}"),
                   "unreadable")
        return None
    if len(frame.columns) > MAX_COLUMNS:
        report.add(Problem(name, 1, None, f"the table has {len(frame.columns):,} columns; "
                                          f"at most {MAX_COLUMNS:,} are accepted"), "bad header")
        return None
    frame.columns = [str(c).strip().lower() for c in frame.columns]
    dupes = [c for c, n in Counter(frame.columns).items() if n > 1]
    if dupes:
        report.add(Problem(name, 1, dupes[0], "column appears twice (names are case-insensitive)"),
                   "duplicate column")
        return None
    if frame.empty and not optional:
        report.add(Problem(name, None, None, "file has a header but no rows"), "empty file")
        return None
    return frame


def _short(exc: Exception) -> str:
    text = str(exc).strip().splitlines()
    return (text[0] if text else type(exc).__name__)[:200]


# --------------------------------------------------------------------------- validation


def validate_tables(raw: Mapping[str, tuple[str, pd.DataFrame]],
                    report: ValidationReport | None = None) -> tuple[Cohort | None, ValidationReport]:
    """Check and convert raw tables ({table: (file name, frame)}) into a Cohort."""
    report = report or ValidationReport()
    patients_file, patients_raw = raw["patients"]
    obs_file, obs_raw = raw["observations"]
    events_file, events_raw = raw.get("events", ("events", pd.DataFrame(columns=EVENT_COLUMNS)))

    columns_ok = [
        has_columns(patients_file, patients_raw, "patients", report),
        has_columns(obs_file, obs_raw, "observations", report),
        has_columns(events_file, events_raw, "events", report),
    ]
    if not all(columns_ok):
        return None, report
    for file, frame, what in ((patients_file, patients_raw, "patients"),
                              (obs_file, obs_raw, "scores")):
        if frame.empty:  # a cohort folder's empty file is caught on reading; built tables here
            report.add(Problem(file, None, None, f"the table has no {what}"), "empty file")
    if not report.ok:
        return None, report

    patients = validate_patients(patients_file, patients_raw, report)
    observations = validate_observations(obs_file, obs_raw, patients, report)
    events = validate_events(events_file, events_raw, patients, report)
    if not report.ok:
        return None, report
    return Cohort(patients, observations, events), report


def from_frames(patients: pd.DataFrame, observations: pd.DataFrame,
                events: pd.DataFrame | None = None, name: str = "",
                source: str = "") -> Cohort:
    """Validate frames an importer built; raise CohortError naming ``source`` tables."""
    prefix = f"{source}: " if source else ""
    raw = {
        "patients": (f"{prefix}patients", patients.reset_index(drop=True)),
        "observations": (f"{prefix}observations", observations.reset_index(drop=True)),
    }
    if events is not None:
        raw["events"] = (f"{prefix}events", events.reset_index(drop=True))
    cohort, report = validate_tables(raw)
    if cohort is None:
        raise CohortError(report)
    return Cohort(cohort.patients, cohort.observations, cohort.events, name)


def has_columns(file: str, frame: pd.DataFrame, table: str, report: ValidationReport) -> bool:
    frame.columns = [str(c).strip().lower() for c in frame.columns]
    missing = [c for c in REQUIRED_COLUMNS[table] if c not in frame.columns]
    for column in missing:
        report.add(Problem(file, 1, column, f"required column '{column}' is missing "
                                            f"(found: {', '.join(map(str, frame.columns[:12]))})"),
                   "missing column")
    return not missing


def _rows(mask: pd.Series) -> list[int]:
    """Spreadsheet row numbers (header = row 1) of the True entries. A batch of a larger
    file carries its place in the file as its index's start (paincycle.streaming)."""
    start = mask.index.start if isinstance(mask.index, pd.RangeIndex) else 0
    return (np.flatnonzero(mask.to_numpy()) + 2 + start).tolist()


def _text(series: pd.Series) -> pd.Series:
    """Cells as stripped text, missing as ''; never evaluated, whatever they start with.

    Vectorised for typed columns (text, numbers, categories): a registry-sized
    observations table has tens of millions of cells, too many for a Python call each.
    """
    if pd.api.types.is_datetime64_any_dtype(series):
        # only ever asked of a date column to find blanks: no need to format every date
        return pd.Series(np.where(series.isna(), "", "date"), index=series.index, dtype=object)
    if series.dtype != object:
        return series.astype("str").fillna("").str.strip()
    out = series.where(series.notna(), "")
    return out.map(lambda v: v if isinstance(v, str) else str(v)).str.strip()


def _blank(file: str, text: pd.Series, column: str, report: ValidationReport) -> pd.Series:
    mask = text == ""
    if mask.any():
        report.add_many(file, _rows(mask), column, f"'{column}' is required but empty",
                        f"empty {column}")
    return mask


def _dates(file: str, series: pd.Series, column: str, report: ValidationReport,
           blank: pd.Series) -> pd.Series:
    """ISO 8601 dates or datetimes to the calendar date as recorded (offsets kept local)."""
    if pd.api.types.is_datetime64_any_dtype(series):
        values = series.dt.tz_localize(None) if getattr(series.dt, "tz", None) else series
        return _within_span(file, values.dt.normalize(), column, report)
    text = _text(series)
    cells = parse_dates(text)
    _report_outside(file, text, cells.outside, column, report)
    bad = cells.unparsed & ~blank
    if bad.any():
        shown = text[bad].str.slice(0, 40)
        report.add_many(file, _rows(bad), column,
                        [f"'{v}' is not a date; use ISO 8601 such as 2025-03-14" for v in shown],
                        f"bad {column}")
    return cells.dates


def _within_span(file: str, parsed: pd.Series, column: str,
                 report: ValidationReport) -> pd.Series:
    """Typed dates between MIN_DATE and MAX_DATE as datetime64[ns]; others reported and left empty."""
    outside = outside_span(parsed)
    if outside.any():  # formatted only to be shown: a million dates take a second
        shown = pd.Series("", index=parsed.index, dtype=object)
        shown[outside] = parsed[outside].dt.strftime("%Y-%m-%d")
        _report_outside(file, shown, outside, column, report)
    return parsed.where(~outside).astype("datetime64[ns]")


def _report_outside(file: str, shown: pd.Series, outside: pd.Series, column: str,
                    report: ValidationReport) -> None:
    if outside.any():
        report.add_many(file, _rows(outside), column,
                        [f"'{str(v)[:40]}' is outside the accepted dates ({MIN_DATE:%Y-%m-%d} to "
                         f"{MAX_DATE:%Y-%m-%d})" for v in shown[outside]], f"bad {column}")


def validate_patients(file: str, raw: pd.DataFrame, report: ValidationReport) -> pd.DataFrame:
    ids = _text(raw["patient_id"])
    blank = _blank(file, ids, "patient_id", report)
    too_long = ids.str.len() > MAX_ID_LENGTH
    if too_long.any():
        report.add_many(file, _rows(too_long), "patient_id",
                        f"patient_id is longer than {MAX_ID_LENGTH} characters", "long id")
    control = ids.str.contains(r"[\x00-\x1f\x7f]", regex=True)
    if control.any():
        report.add_many(file, _rows(control), "patient_id",
                        "patient_id contains control characters (invisible bytes such as NUL or "
                        "escape codes)", "control characters")
    dup = ids.duplicated(keep=False) & ~blank
    if dup.any():
        rows_of = pd.Series(_rows(dup), index=ids[dup].to_numpy()).groupby(level=0).agg(
            lambda r: ", ".join(map(str, r)))
        report.add_many(file, _rows(dup), "patient_id",
                        [f"duplicate patient_id '{pid[:64]}' (rows {rows_of[pid]})"
                         for pid in ids[dup]], "duplicate id")
    intake_blank = _blank(file, _text(raw["intake_date"]), "intake_date", report)
    intake = _dates(file, raw["intake_date"], "intake_date", report, intake_blank)

    out = pd.DataFrame({"patient_id": ids.astype(str), "intake_date": intake})
    out["sex"] = _sex(file, raw, report)
    out["birth_year"] = _birth_year(file, raw, report)
    for column in ("diagnosis", "site"):
        out[column] = (_text(raw[column]).replace("", None) if column in raw
                       else pd.Series(None, index=raw.index, dtype=object)).astype("string")
    extra = [c for c in raw.columns if c not in out.columns]
    for column in extra:
        out[column] = raw[column].to_numpy()
    return out


def _sex(file: str, raw: pd.DataFrame, report: ValidationReport) -> pd.Series:
    if "sex" not in raw:
        return pd.Series(pd.NA, index=raw.index, dtype="string")
    text = _text(raw["sex"]).str.lower()
    text = text.replace({"f": "female", "m": "male", "": None})
    bad = text.notna() & ~text.isin(SEXES)
    if bad.any():
        report.add_many(file, _rows(bad), "sex",
                        [f"'{v[:30]}' is not a sex code; use female, male, other or unknown (F/M accepted)"
                         for v in text[bad]], "bad sex")
    return text.astype("string")


def _birth_year(file: str, raw: pd.DataFrame, report: ValidationReport) -> pd.Series:
    if "birth_year" not in raw:
        return pd.Series(pd.NA, index=raw.index, dtype="Int64")
    text = _text(raw["birth_year"])
    numbers = pd.to_numeric(text.replace("", None), errors="coerce")
    bad = (text != "") & (numbers.isna() | (numbers % 1 != 0)
                          | (numbers < 1900) | (numbers > date.today().year))
    if bad.any():
        report.add_many(file, _rows(bad), "birth_year",
                        [f"'{v[:20]}' is not a birth year between 1900 and {date.today().year}"
                         for v in text[bad]], "bad birth_year")
    return numbers.where(~bad).round().astype("Int64")


def _patient_links(file: str, ids: pd.Series, known: pd.Index, report: ValidationReport,
                   blank: pd.Series) -> np.ndarray:
    """Each row's patient's place in ``known`` (unique ids), -1 for a patient not in it
    (reported). An Index keeps its hash table once built, so an import checked in batches
    hashes the patients once, not per batch: Series.isin over a million text ids rebuilt it
    every time (4.5 s a batch against 0.1 s). The places also give each row's intake date."""
    places = known.get_indexer(pd.Index(ids.to_numpy(dtype=object), dtype=object))
    unknown = pd.Series(places < 0, index=ids.index) & ~blank
    if unknown.any():
        report.add_many(file, _rows(unknown), "patient_id",
                        [f"patient_id '{v[:64]}' is not in the patients table" for v in ids[unknown]],
                        "unknown patient")
    return places


def validate_observations(file: str, raw: pd.DataFrame, patients: pd.DataFrame,
                          report: ValidationReport, intake_by_id: pd.Series | None = None
                          ) -> pd.DataFrame:
    """The observations checked against the registry and the patients; ``intake_by_id``
    (:func:`intake_of` the patients) lets an import checked in batches build it once."""
    ids = _text(raw["patient_id"])
    blank_id = _blank(file, ids, "patient_id", report)
    intake_by_id = intake_of(patients) if intake_by_id is None else intake_by_id
    places = _patient_links(file, ids, intake_by_id.index, report, blank_id)
    blank_date = _blank(file, _text(raw["date"]), "date", report)
    dates = _dates(file, raw["date"], "date", report, blank_date)

    codes = _text(raw["measure"]).str.lower()
    _blank(file, codes, "measure", report)
    unknown = (codes != "") & ~codes.isin(list(measures.MEASURES)) & ~codes.str.startswith(
        measures.CUSTOM_PREFIX)
    if unknown.any():
        messages = []
        for code in codes[unknown].head(MAX_PROBLEMS_PER_CHECK):
            hint = measures.suggest(code)
            messages.append(f"unknown measure '{code[:40]}'"
                            + (f"; did you mean '{hint}'?" if hint else "")
                            + " (custom measures start with 'x_')")
        report.add_many(file, _rows(unknown), "measure", messages, "unknown measure",
                        count=int(unknown.sum()))

    values = _values(file, raw["value"], report)
    # the registry's range by position in it (Series.map over a million text cells: ~0.4 s)
    place = pd.Index(list(measures.MEASURES), dtype=object).get_indexer(
        pd.Index(codes.to_numpy(dtype=object), dtype=object))  # no text inference
    low, high = (pd.Series(np.array([getattr(m, bound) for m in measures.MEASURES.values()]
                                    + [np.nan], dtype="float64")[place], index=codes.index)
                 for bound in ("low", "high"))  # place -1 (not in the registry): the NaN
    out_of_range = values.notna() & np.isfinite(values) & ((values < low) | (values > high))
    if out_of_range.any():
        report.add_many(
            file, _rows(out_of_range), "value",
            [f"{v:g} is outside the range of {c} ({lo:g}-{hi:g})"
             for v, c, lo, hi in zip(values[out_of_range].head(MAX_PROBLEMS_PER_CHECK),
                                     codes[out_of_range], low[out_of_range], high[out_of_range],
                                     strict=False)],
            "value out of range", count=int(out_of_range.sum()))

    intake_dates = np.append(intake_by_id.to_numpy(dtype="datetime64[ns]"),
                             np.datetime64("NaT", "ns"))  # place -1: no such patient
    intake = pd.Series(intake_dates[places], index=ids.index)
    early = (intake - dates).dt.days > MAX_DAYS_BEFORE_INTAKE
    if early.any():
        report.add_many(file, _rows(early), "date",
                        f"observation is more than {MAX_DAYS_BEFORE_INTAKE} days before the "
                        "patient's intake_date", "too early", count=int(early.sum()))
    out = pd.DataFrame({"patient_id": ids.astype(str), "date": dates, "measure": codes.astype(str),
                        "value": values.astype("float64")})
    for column in raw.columns:
        if column not in out:
            out[column] = raw[column].to_numpy()
    return out


def _values(file: str, series: pd.Series, report: ValidationReport) -> pd.Series:
    if pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series):
        values = series.astype("float64")
        text = None
    else:
        text = _text(series)
        values, not_number = parse_numbers(text)
        if not_number.any():
            shown = text[not_number].str.slice(0, 30)
            non_finite = shown.str.lower().str.lstrip("+-").isin(["nan", "inf", "infinity"])
            report.add_many(file, _rows(not_number), "value",
                            [f"'{v}' is not a finite number" if nf else f"'{v}' is not a number"
                             for v, nf in zip(shown, non_finite, strict=False)], "bad value")
        blank = text == ""
        if blank.any():
            report.add_many(file, _rows(blank), "value", "'value' is required but empty",
                            "empty value")
        return values
    missing = values.isna()
    if missing.any():
        report.add_many(file, _rows(missing), "value", "value is missing or not a number",
                        "bad value")
    inf = ~np.isfinite(values) & ~missing
    if inf.any():
        report.add_many(file, _rows(inf), "value", "value is not a finite number", "bad value")
    return values


def intake_of(patients: pd.DataFrame) -> pd.Series:
    """Intake date by patient id (the first row of a repeated id).

    Indexed by Python strings: an Index of Arrow strings turns itself into them on every
    lookup (half a second per batch of a streamed import, against its hash built once)."""
    first = patients.drop_duplicates("patient_id")
    return pd.Series(first["intake_date"].to_numpy(),
                     index=pd.Index(first["patient_id"].to_numpy(dtype=object), dtype=object,
                                    name="patient_id"), name="intake_date")


def validate_events(file: str, raw: pd.DataFrame, patients: pd.DataFrame,
                    report: ValidationReport, known_ids: pd.Index | None = None
                    ) -> pd.DataFrame:
    """The events checked against the patients; ``known_ids`` (``intake_of(patients).index``)
    lets an import checked in batches hash them once."""
    if raw.empty:
        return pd.DataFrame({"patient_id": pd.Series(dtype=str),
                             "date": pd.Series(dtype="datetime64[ns]"),
                             "event": pd.Series(dtype=str), "detail": pd.Series(dtype="string")})
    ids = _text(raw["patient_id"])
    blank_id = _blank(file, ids, "patient_id", report)
    _patient_links(file, ids, intake_of(patients).index if known_ids is None else known_ids,
                   report, blank_id)
    blank_date = _blank(file, _text(raw["date"]), "date", report)
    dates = _dates(file, raw["date"], "date", report, blank_date)
    kinds = _text(raw["event"]).str.lower()
    bad_kind = ~kinds.isin(EVENT_KINDS)
    if bad_kind.any():
        report.add_many(file, _rows(bad_kind), "event",
                        [f"'{v[:40]}' is not an event; use one of {', '.join(EVENT_KINDS)}"
                         for v in kinds[bad_kind]], "bad event")
    detail = (_text(raw["detail"]) if "detail" in raw
              else pd.Series("", index=raw.index, dtype=object))
    is_treatment = kinds.isin(["treatment_start", "treatment_stop"])
    bad_detail = is_treatment & ~detail.str.lower().isin(TREATMENTS)
    if bad_detail.any():
        report.add_many(file, _rows(bad_detail), "detail",
                        [f"'{v[:40]}' is not a treatment; use one of {', '.join(TREATMENTS)}"
                         for v in detail[bad_detail]], "bad treatment")
    detail = detail.where(~is_treatment, detail.str.lower())
    out = pd.DataFrame({"patient_id": ids.astype(str), "date": dates, "event": kinds.astype(str),
                        "detail": detail.replace("", None).astype("string")})
    for column in raw.columns:
        if column not in out:
            out[column] = raw[column].to_numpy()
    return out


# --------------------------------------------------------------------------- writing


def write_cohort(cohort: Cohort, folder: str | Path, fmt: str = "parquet") -> Path:
    """Write the three tables as ``fmt`` ('parquet' or 'csv') into ``folder``."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for table in TABLES:
        frame: pd.DataFrame = getattr(cohort, table)
        if fmt == "csv":
            out = frame.copy()
            for column in out.columns:
                if pd.api.types.is_datetime64_any_dtype(out[column]):
                    out[column] = out[column].dt.strftime("%Y-%m-%d")
            out.to_csv(folder / f"{table}.csv", index=False)
        elif fmt == "parquet":
            frame.to_parquet(folder / f"{table}.parquet", index=False)
        else:
            raise ValueError(f"unknown format {fmt!r}: use 'parquet' or 'csv'")
    return folder
