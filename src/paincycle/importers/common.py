"""What every converter shares: reading the clinic's files, parsing cells, reporting.

Converters read files as text and parse every cell themselves, so a bad cell
becomes a Problem naming the clinic's own file, row and column (row 1 is the
header) instead of a row number in some intermediate table. What a converter
deliberately leaves out (vitals and labs that are not in the measure registry,
columns the mapping does not name) becomes a Notice with a count, so nothing
is ever dropped silently.
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from paincycle import cells, inputs
from paincycle import cohort as cohort_mod
from paincycle.cohort import Cohort, CohortError, Problem, ValidationReport
from paincycle.rules import MAX_DAYS_BEFORE_INTAKE

#: SNOMED CT codes of chronic pain conditions: their onset is the intake date
#: where no pain clinic encounter says otherwise, and their name the diagnosis.
CHRONIC_PAIN_SNOMED: dict[str, str] = {
    "82423001": "chronic pain",
    "278860009": "chronic low back pain",
    "1121000119107": "chronic neck pain",
    "203082005": "fibromyalgia",
}

_SEMANTIC_TAG = re.compile(r"\s*\((finding|disorder)\)$")


def diagnosis_label(display: str) -> str:
    """A SNOMED display as a diagnosis: without its semantic tag ('Chronic low back pain
    (finding)' -> 'Chronic low back pain'), the same whichever converter read it."""
    return _SEMANTIC_TAG.sub("", str(display).strip())


#: Largest upload the Data page accepts (files on disk: paincycle.inputs.MAX_FILE_BYTES).
MAX_INPUT_BYTES = 500 * 1024**2

Progress = Callable[[float, str], None]


def no_progress(_fraction: float, _text: str) -> None:
    """Progress sink for the command line, where nothing is drawn."""


class ConversionError(CohortError):
    """Input a converter cannot turn into a cohort; every Problem names file, row, column."""

    def __init__(self, problems: ValidationReport | Iterable[Problem]):
        if isinstance(problems, ValidationReport):
            report = problems
        else:
            report = ValidationReport()
            for problem in problems:
                report.add(problem, problem.message)
        super().__init__(report)


def fail(file: str, row: int | None, column: str | None, message: str) -> ConversionError:
    """One-problem ConversionError, for the input errors that stop a converter early."""
    return ConversionError([Problem(file, row, column, message)])


@dataclass(frozen=True)
class Notice:
    """Something a converter left out or changed on purpose, with how many rows it concerns."""

    file: str
    column: str | None
    rows: int
    message: str

    def __str__(self) -> str:
        where = self.file + (f", column {self.column}" if self.column else "")
        return f"{where}: {self.message} ({self.rows:,} row(s))"


NOTICE_COLUMNS = ["file", "column", "rows", "notice"]


@dataclass
class Conversion:
    """A validated cohort and what the converter left out to build it."""

    cohort: Cohort
    notices: list[Notice] = field(default_factory=list)

    def notices_frame(self) -> pd.DataFrame:
        return pd.DataFrame([(n.file, n.column, n.rows, n.message) for n in self.notices],
                            columns=NOTICE_COLUMNS)

    @staticmethod
    def no_notices() -> pd.DataFrame:
        """The notices of an import that left nothing out (a cohort-format folder)."""
        return pd.DataFrame(columns=NOTICE_COLUMNS)


# --------------------------------------------------------------------------- reading inputs


def read_inputs(path: str | Path) -> dict[str, bytes]:
    """Every file in ``path`` (a file, a folder or a .zip) by name, through the one reader.

    The same limits, zip rules and .gz unpacking as a cohort folder
    (paincycle.inputs); any problem stops the conversion with every problem listed.
    """
    report = ValidationReport()
    files = inputs.read_files(path, report)
    if not report.ok:
        raise ConversionError(report)
    if not files:
        raise fail(Path(path).name, None, None, "no files found")
    return files


def find_file(files: dict[str, bytes], stem: str, suffixes: tuple[str, ...] = (".csv",)) -> str | None:
    """The input whose file name (any folder, any case) is ``stem`` plus one of ``suffixes``."""
    for name in files:
        base = PurePosixPath(name).name.lower()
        if any(base == stem.lower() + s for s in suffixes):
            return name
    return None


def decode(name: str, data: bytes) -> str:
    """UTF-8 text (BOM or not); a clear Problem naming the line of the first bad byte."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise fail(name, line, None, "text is not UTF-8 (save the file as 'CSV UTF-8'); "
                                     f"first bad byte at position {exc.start}") from None


#: Most columns an export may have (a wide registry export has a few hundred; a header of
#: hundreds of thousands would take pandas minutes and gigabytes before any check).
MAX_EXPORT_COLUMNS = 5_000


def _check_columns(name: str, count: int) -> None:
    if count > MAX_EXPORT_COLUMNS:
        raise fail(name, 1, None, f"the table has {count:,} columns; at most "
                                  f"{MAX_EXPORT_COLUMNS:,} are read")


#: Column separators an export may use: Excel writes ';' where the decimal mark is a comma.
DELIMITER_NAMES = {",": "commas", ";": "semicolons", "\t": "tabs"}


def sniff_delimiter(header: str) -> str:
    """The separator the header line uses most (commas when tied): ',', ';' or a tab."""
    counts = {d: header.count(d) for d in DELIMITER_NAMES}
    best = max(counts, key=lambda d: (counts[d], d == ","))
    return best if counts[best] else ","


def read_csv(name: str, data: bytes) -> pd.DataFrame:
    """A CSV export as text cells, header names stripped, fully blank rows kept (row numbers hold)."""
    text = decode(name, data)
    if not text.strip():
        raise fail(name, None, None, "file is empty")
    header = text.lstrip("\ufeff").split("\n", 1)[0]
    delimiter = sniff_delimiter(header)
    _check_columns(name, header.count(delimiter) + 1)  # an upper bound: quoted ones count too
    try:
        frame = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False,
                            skip_blank_lines=False, sep=delimiter)
    except Exception as exc:  # pandas raises several types; all mean unreadable CSV
        message = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
        raise fail(name, None, None, f"could not read the CSV file (columns separated by "
                   f"{DELIMITER_NAMES[delimiter]}): {message}") from None
    frame.columns = [str(c).strip() for c in frame.columns]
    return frame


#: Spreadsheet-like files a single-table export may come as.
TABLE_FILE_SUFFIXES = (".csv", ".xlsx", ".parquet")


def is_table_file(name: str) -> bool:
    return PurePosixPath(name).suffix.lower() in TABLE_FILE_SUFFIXES


def read_table(name: str, data: bytes) -> pd.DataFrame:
    """A CSV, Excel (first sheet) or Parquet export as text cells, like :func:`read_csv`.

    Every cell becomes text so the same parsing (and the same row numbers:
    header = row 1) applies whatever the file type; Excel and Parquet dates
    become ISO dates, empty cells become "".
    """
    suffix = PurePosixPath(name).suffix.lower()
    if suffix == ".csv":
        return read_csv(name, data)
    if suffix not in TABLE_FILE_SUFFIXES:
        raise fail(name, None, None, f"'{suffix or name}' files are not read here: use .csv, .xlsx "
                                     "or .parquet")
    if not data.strip():
        raise fail(name, None, None, "file is empty")
    kind = "Excel" if suffix == ".xlsx" else "Parquet"
    try:
        table, refused = (None, inputs.workbook_problem(data)) if suffix == ".xlsx" \
            else inputs.read_parquet(data)
        if refused:
            raise fail(name, None, None, f"could not read the {kind} file: {refused}")
        if suffix == ".xlsx":
            # typed cells (dates stay dates), but "NA" or "None" typed in a cell stays text
            frame = _as_text(pd.read_excel(io.BytesIO(data), sheet_name=0, engine="openpyxl",
                                           keep_default_na=False, na_values=[]))
        else:
            _check_columns(name, table.num_columns)
            frame = _arrow_as_text(table)
    except ConversionError:
        raise
    except Exception as exc:  # the readers raise many types; all mean an unreadable file
        message = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
        raise fail(name, None, None, f"could not read the {kind} file: {message}") from None
    _check_columns(name, len(frame.columns))
    frame.columns = [str(c).strip() for c in frame.columns]
    return frame


def _as_text(frame: pd.DataFrame) -> pd.DataFrame:
    """Typed cells as the text a CSV export of them would hold (7, not 7.0; dates as YYYY-MM-DD)."""
    out = {}
    for name, values in frame.items():
        if pd.api.types.is_datetime64_any_dtype(values):
            out[name] = _dates_as_text(values)
        else:
            out[name] = values.astype(object).map(_cell_text)
    return pd.DataFrame(out, index=frame.index)


def _arrow_as_text(table: pa.Table) -> pd.DataFrame:
    """A Parquet table's cells as text, cast by Arrow: exact for 64-bit ids, shortest for floats."""
    out = {}
    for name, values in zip(table.column_names, table.columns, strict=True):
        if pa.types.is_timestamp(values.type) or pa.types.is_date(values.type):
            out[str(name)] = _dates_as_text(pd.to_datetime(values.to_pandas()))
        else:
            out[str(name)] = pc.fill_null(pc.cast(values, pa.string()), "").to_pandas().astype(str)
    return pd.DataFrame(out)


def _dates_as_text(values: pd.Series) -> pd.Series:
    """Dates as written: the wall-clock day, whatever time zone the value carries."""
    if values.dt.tz is not None:
        values = values.dt.tz_localize(None)
    return values.dt.strftime("%Y-%m-%d").fillna("").astype(str)


def _cell_text(value: object) -> str:
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return ""
    if hasattr(value, "strftime") and hasattr(value, "hour"):  # an Excel date(time) cell
        return value.strftime("%Y-%m-%d") if (value.hour, value.minute, value.second) == (0, 0, 0) \
            else value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def column(frame: pd.DataFrame, name: str, file: str, required: bool = True) -> str | None:
    """The frame's column called ``name`` whatever its case; a clear Problem when required."""
    wanted = name.strip().lower()
    for col in frame.columns:
        if col.lower() == wanted:
            return col
    if required:
        shown = ", ".join(map(str, frame.columns[:15])) + (" ..." if len(frame.columns) > 15 else "")
        raise fail(file, 1, name, f"required column '{name}' is missing (found: {shown})")
    return None


def blank_rows(frame: pd.DataFrame) -> pd.Series:
    """Rows where every cell is empty (trailing or stray blank lines in an export)."""
    if frame.empty:
        return pd.Series(False, index=frame.index)
    return frame.apply(lambda s: s.str.strip() == "").all(axis=1)


def sheet_rows(mask: pd.Series | np.ndarray) -> list[int]:
    """Spreadsheet row numbers (header = row 1) of the True entries of a positional mask."""
    return (np.flatnonzero(np.asarray(mask)) + 2).tolist()


# --------------------------------------------------------------------------- parsing cells

#: What a bad date cell is told, in every converter (the bounds are the cell parser's).
NOT_A_DATE = (f"not a date between {cells.MIN_DATE:%Y-%m-%d} and {cells.MAX_DATE:%Y-%m-%d} "
              "(use YYYY-MM-DD or M/D/YYYY)")


def parse_dates(text: pd.Series, formats: str = "auto") -> tuple[pd.Series, pd.Series]:
    """Text to calendar dates by the one cell parser (paincycle.cells); returns (dates, bad).

    ``formats``: 'auto' (YYYY-MM-DD, with or without a time, or M/D/YYYY), 'ymd', 'mdy',
    'dmy'; dates outside the cohort format's span are bad like text that is no date.
    """
    parsed = cells.parse_dates(text, formats)
    return parsed.dates, parsed.bad


def parse_numbers(text: pd.Series, decimal: str = ".") -> tuple[pd.Series, pd.Series]:
    """Text to finite floats by the one cell parser; returns (values, bad)."""
    return cells.parse_numbers(text, decimal)


def clean_ids(ids: pd.Series) -> pd.Series:
    """Record numbers as text; '13118.0' (a number some tool wrote as a float) becomes '13118'."""
    ids = ids.astype(str).str.strip()
    if len(ids) and ids[ids != ""].str.fullmatch(r"\d+\.0+").all():
        ids = ids.str.replace(r"\.0+$", "", regex=True)
    return ids


def report_bad(report: ValidationReport, file: str, bad: pd.Series, col: str,
               shown: pd.Series, what: str, kind: str) -> None:
    """Add one Problem per bad cell: "'abc' is not a number" at file, row, column."""
    if bad.any():
        values = shown[bad.to_numpy()].astype(str).str.slice(0, 40)
        report.add_many(file, sheet_rows(bad), col, [f"'{v}' is {what}" for v in values], kind)


# --------------------------------------------------------------------------- finishing


def finish(patients: pd.DataFrame, observations: pd.DataFrame, events: pd.DataFrame | None,
           name: str, source: str, notices: list[Notice],
           provenance: dict[str, pd.DataFrame] | None = None) -> Conversion:
    """Validate the built tables; problems point back at the clinic's file, row and column.

    ``provenance`` maps 'patients'/'observations'/'events' to a frame aligned with
    that table, with columns file, row, column: where each built row came from.
    """
    if observations.empty:  # convert never hands on what validate would refuse, and says why
        raise fail(source or "input", None, None, "no score PainCycle can use: every mapped score "
                   "is empty or was left out (see the notices); check the mapping's columns "
                   "and codes")
    try:
        built = cohort_mod.from_frames(patients, observations, events, name=name, source=source)
    except CohortError as exc:
        raise ConversionError(_translate(exc.report, source, provenance or {})) from None
    return Conversion(built, notices)


def _translate(report: ValidationReport, source: str,
               provenance: dict[str, pd.DataFrame]) -> ValidationReport:
    out = ValidationReport(counts=report.counts.copy())
    prefix = f"{source}: " if source else ""
    for problem in report.problems:
        table = problem.file[len(prefix):] if problem.file.startswith(prefix) else problem.file
        origin = provenance.get(table)
        if origin is None or problem.row is None or not 0 <= problem.row - 2 < len(origin):
            out.problems.append(problem)
            continue
        where = origin.iloc[problem.row - 2]
        row = where.get("row")
        out.problems.append(Problem(
            str(where.get("file") or problem.file),
            None if row is None or pd.isna(row) else int(row),
            where.get("column") or problem.column,
            problem.message,
        ))
    return out


def known_at_intake(conditions: pd.DataFrame, intake: pd.Series) -> tuple[pd.Series, int]:
    """Each patient's diagnoses with an onset on or before their intake, joined in onset order,
    and how many later (or undated) diagnoses were not taken.

    ``conditions`` has patient_id, start (onset) and label; ``intake`` is indexed by patient.
    The cohort format's diagnosis is the one known at intake: a diagnosis made
    later would carry the patient's future into the model's features.
    """
    if conditions.empty:
        return pd.Series(dtype=object), 0
    starts = pd.to_datetime(conditions["patient_id"].map(intake))
    known = conditions["start"].notna() & (conditions["start"] <= starts)
    taken = conditions[known]
    joined = taken.groupby("patient_id")["label"].agg(lambda s: "; ".join(dict.fromkeys(s)))
    return joined, int((~known & starts.notna()).sum())


def too_young(patients: pd.DataFrame, min_age: int) -> pd.Series:
    """Patients whose age at intake (from birth_year) is under ``min_age``; unknown age is kept."""
    age = pd.to_datetime(patients["intake_date"]).dt.year - pd.to_numeric(
        patients["birth_year"], errors="coerce")
    return (age < min_age).fillna(False).astype(bool)


def too_young_notice(file: str, count: int, min_age: int) -> Notice | None:
    if not count:
        return None
    return Notice(file, None, int(count),
                  f"patients younger than {min_age} at intake did not enter the cohort "
                  "(min_age_at_intake in a mapping changes the age)")


def early_rows(frame: pd.DataFrame, intake: pd.Series) -> pd.Series:
    """Rows dated more than rules.MAX_DAYS_BEFORE_INTAKE days before their patient's intake.

    The one policy of every converter for such rows: they are left out and
    counted in a notice (:func:`early_rows_notice`), never a reason to refuse
    the export, which the cohort validator would do for a cohort folder.
    """
    start = pd.to_datetime(frame["patient_id"].map(intake))
    return ((start - pd.to_datetime(frame["date"])).dt.days > MAX_DAYS_BEFORE_INTAKE
            ).fillna(False).astype(bool)


def early_rows_notice(file: str, column: str | None, count: int) -> Notice | None:
    if not count:
        return None
    return Notice(file, column, int(count),
                  f"scores and care events dated more than {MAX_DAYS_BEFORE_INTAKE} days before "
                  "the patient's intake were left out (the cohort format's window)")


def empty_events() -> pd.DataFrame:
    return pd.DataFrame({"patient_id": pd.Series(dtype=str), "date": pd.Series(dtype="datetime64[ns]"),
                         "event": pd.Series(dtype=str), "detail": pd.Series(dtype=object)})


def unknown_codes_notice(file: str, col: str, codes: pd.Series, what: str,
                         labels: pd.Series | None = None, limit: int = 12) -> Notice | None:
    """'4,210 rows with 87 LOINC codes not in the measure registry left out: 8302-2 Body Height (45), ...'"""
    if codes.empty:
        return None
    counts = codes.value_counts()
    names = {}
    if labels is not None:
        names = labels.groupby(codes.to_numpy()).first().to_dict()
    listed = ", ".join(f"{code}{' ' + str(names[code])[:40] if names.get(code) else ''} ({n:,})"
                       for code, n in counts.head(limit).items())
    more = f" and {len(counts) - limit} more" if len(counts) > limit else ""
    return Notice(file, col, int(counts.sum()),
                  f"{len(counts)} {what} left out: {listed}{more}")
