"""Import a registry-sized cohort folder in bounded memory: validated and stored in batches.

The in-memory import (paincycle.cohort.load_and_validate) reads every table
whole: at 1,000,000 patients (~350 million observation rows) that cannot fit
one machine. Here the patients table is read whole (one row a patient) and the
observations and events are read ``BATCH_ROWS`` at a time, each batch checked
by the same validators (paincycle.cohort: one definition of a valid row, and
problems still name the file's row and column) and appended to the staging
Parquet file. Any problem anywhere refuses the whole import: the staging folder
is removed, so no version is half-written (paincycle.store.save_written).
"""

from __future__ import annotations

import gzip
from collections.abc import Callable, Iterator
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from paincycle import cohort as canonical
from paincycle import inputs
from paincycle.problems import CohortError, Problem, ValidationReport

#: Rows of observations (or events) checked and written at a time: ~0.5 GB at the peak.
BATCH_ROWS = 1_000_000
#: The table formats read in batches (Excel sheets are small: the in-memory import takes them).
STREAMED_SUFFIXES = (".parquet", ".csv", ".csv.gz")

Progress = Callable[[float, str], None]


def _table_file(folder: Path, table: str) -> Path | None:
    for suffix in STREAMED_SUFFIXES:
        found = folder / f"{table}{suffix}"
        if found.is_file():
            return found
    return None


def streamable(path: str | Path) -> bool:
    """A cohort folder with its tables at the top as Parquet or CSV (what a registry's
    warehouse exports): what this module imports."""
    path = Path(path)
    if not path.is_dir():
        return False
    if any(path.glob("*.xlsx")):
        return False
    return all(_table_file(path, t) is not None for t in canonical.REQUIRED_TABLES)


def _batches(file: Path, report: ValidationReport) -> Iterator[pd.DataFrame]:
    """The file's rows ``BATCH_ROWS`` at a time, CSV cells as text (never evaluated); each
    batch's index starts at its first row's place in the file, so problems name file rows.
    The checks of the in-memory reader apply: nested or invalid-UTF-8 Parquet columns, CSV
    headers too wide or with a column twice, text that is not UTF-8."""
    start = 0
    try:
        if file.suffix == ".parquet":
            reader = pq.ParquetFile(file)
            refused = inputs.nested_problem(reader.schema_arrow)
            if len(reader.schema_arrow.names) > canonical.MAX_COLUMNS:
                refused = (f"the table has {len(reader.schema_arrow.names):,} columns; "
                           f"at most {canonical.MAX_COLUMNS:,} are accepted")
            if refused:
                report.add(Problem(file.name, None, None, f"could not read the file: {refused}"),
                           "unreadable")
                return
            batches = _parquet_batches(reader, file.name, report)
        else:
            with open(file, "rb") as raw:
                head = (gzip.open(raw) if file.name.endswith(".gz") else raw).read(1024**2)
            header = canonical.csv_header_problem(file.name, head.decode("utf-8-sig", "replace"))
            if header is not None:
                report.add(header, "bad header")
                return
            batches = pd.read_csv(file, dtype=str, keep_default_na=False, skip_blank_lines=True,
                                  chunksize=BATCH_ROWS, encoding="utf-8-sig")
        for batch in batches:
            batch.index = pd.RangeIndex(start, start + len(batch))
            batch.columns = [str(c).strip().lower() for c in batch.columns]
            start += len(batch)
            yield batch
    except UnicodeDecodeError:
        report.add(Problem(file.name, None, None, "text is not UTF-8 (save the file as "
                                                  "'CSV UTF-8')"), "not utf-8")
    except (OSError, ValueError, EOFError, pa.ArrowException) as exc:
        report.add(Problem(file.name, None, None, f"could not read the file: {inputs.short(exc)}"),
                   "unreadable")


def _parquet_batches(reader: pq.ParquetFile, name: str,
                     report: ValidationReport) -> Iterator[pd.DataFrame]:
    for batch in reader.iter_batches(batch_size=BATCH_ROWS):
        refused = inputs.text_problem(batch)
        if refused:
            report.add(Problem(name, None, None, f"could not read the file: {refused}"),
                       "unreadable")
            return
        yield batch.to_pandas()


def _read_patients(file: Path, report: ValidationReport) -> pd.DataFrame | None:
    frames = list(_batches(file, report))
    if not report.ok:
        return None
    raw = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    if raw.empty:
        report.add(Problem(file.name, None, None, "file has a header but no rows"), "empty file")
        return None
    if not canonical.has_columns(file.name, raw, "patients", report):
        return None
    return canonical.validate_patients(file.name, raw, report)


def _append(writer: pq.ParquetWriter | None, frame: pd.DataFrame, out: Path,
            ) -> pq.ParquetWriter:
    table = pa.Table.from_pandas(frame, preserve_index=False)
    if writer is None:
        writer = pq.ParquetWriter(out, table.schema)
    writer.write_table(table.cast(writer.schema))
    return writer


def _stream_table(file: Path | None, table: str, patients: pd.DataFrame, out: Path,
                  report: ValidationReport, progress: Progress) -> int:
    """Check and write ``table`` batch by batch; the rows written (0 once a problem is seen:
    the rest is still checked, so the report lists every problem in one go)."""
    if table == "observations":
        intake_by_id = canonical.intake_of(patients)  # once, not once per batch

        def validate(file_name: str, raw: pd.DataFrame, patients: pd.DataFrame,
                     report: ValidationReport) -> pd.DataFrame:
            return canonical.validate_observations(file_name, raw, patients, report, intake_by_id)
    else:
        known_ids = canonical.intake_of(patients).index  # hashed once, not once per batch

        def validate(file_name: str, raw: pd.DataFrame, patients: pd.DataFrame,
                     report: ValidationReport) -> pd.DataFrame:
            return canonical.validate_events(file_name, raw, patients, report, known_ids)
    writer, rows = None, 0
    if file is not None:
        for i, raw in enumerate(_batches(file, report)):
            if i == 0 and not canonical.has_columns(file.name, raw, table, report):
                break
            checked = validate(file.name, raw, patients, report)
            if report.ok:
                writer = _append(writer, checked.reset_index(drop=True), out)
                rows += len(checked)
            progress(0.5, f"{table}: {raw.index.stop:,} rows checked")
    if writer is None and report.ok:
        if table == "observations":
            report.add(Problem(file.name if file else table, None, None,
                               "the table has no scores"), "empty file")
        else:  # no events file, or a header only: an empty events table
            empty = canonical.validate_events(table, pd.DataFrame(), patients, report)
            writer = _append(None, empty, out)
    if writer is not None:
        writer.close()
    return rows


def write_validated(folder: str | Path, staging: Path,
                    progress: Progress = lambda _f, _m: None) -> dict[str, int]:
    """Validate the cohort folder's tables and write them as the store's Parquet into
    ``staging``, in batches; raise CohortError listing every problem (then ``staging`` is
    the caller's to remove: paincycle.store.save_written does)."""
    folder = Path(folder)
    report = ValidationReport()
    files = {t: _table_file(folder, t) for t in canonical.TABLES}
    for table in canonical.REQUIRED_TABLES:
        if files[table] is None:
            report.add(Problem(folder.name, None, None, f"no {table} table (.parquet or .csv)"),
                       "not a cohort")
    if not report.ok:
        raise CohortError(report)
    progress(0.05, "patients: checking")
    patients = _read_patients(files["patients"], report)
    if patients is None or not report.ok:
        raise CohortError(report)
    patients.to_parquet(staging / "patients.parquet", index=False)
    rows = {"patients": len(patients)}
    for table in ("observations", "events"):
        rows[table] = _stream_table(files[table], table, patients, staging / f"{table}.parquet",
                                    report, progress)
    if not report.ok:
        raise CohortError(report)
    progress(1.0, "stored")
    return rows
