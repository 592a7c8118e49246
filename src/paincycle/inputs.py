"""The one reader of input files: cohort folders and every converter open files through it.

A folder, a .zip or a single file becomes ``{name: bytes}`` under one set of
rules, whichever importer asked:

- one size limit per file (:data:`MAX_FILE_BYTES`), checked before reading;
- zips are read in memory and never extracted, so member names cannot escape;
  hidden files and ``__MACOSX`` are skipped; a member that expands far beyond
  its packed size is refused as a possible zip bomb; encrypted, damaged or
  unusually compressed members get a clear message;
- ``.gz`` files are unpacked, within the same limit;
- Excel workbooks and Parquet files are sized from their own directories
  before a reader opens them.

Every problem is added to the caller's :class:`~paincycle.problems.ValidationReport`
with the file it concerns; nothing is half-read.
"""

from __future__ import annotations

import gzip
import io
import zipfile
import zlib
from collections.abc import Callable
from pathlib import Path, PurePosixPath

import pyarrow as pa
import pyarrow.parquet as pq

from paincycle import config
from paincycle.problems import Problem, ValidationReport

#: Largest file, zip member or unpacked .gz read (the Data page's upload limit is lower).
MAX_FILE_BYTES = 2 * 1024**3
#: A member bigger than 50 MB that unpacks to more than this many times its packed size is refused.
MAX_ZIP_RATIO = 200


#: Memory an import needs per byte of input, by kind (measured: a CSV cohort peaks at about 9x
#: its text, parsed JSON at about 12x); Parquet is estimated from its cells instead (measured:
#: 45 bytes a cell at 100,000 patients, docs/benchmarks.md "foundation"; 64 at 3,000).
MEMORY_PER_BYTE = {".csv": 10, ".json": 12, ".ndjson": 12, ".xlsx": 10}
MEMORY_PER_PARQUET_CELL = 48


def memory_estimate(name: str, data: bytes) -> int:
    """Bytes of memory reading ``name`` will take, from its size (or Parquet footer), unread."""
    suffix = PurePosixPath(name).suffix.lower()
    if suffix == ".parquet":
        try:
            meta = pq.ParquetFile(io.BytesIO(data)).metadata
            return meta.num_rows * meta.num_columns * MEMORY_PER_PARQUET_CELL
        except Exception:  # noqa: BLE001 - unreadable: the reader names the problem later
            return len(data)
    return len(data) * MEMORY_PER_BYTE.get(suffix, 1)


def check_memory(files: dict[str, bytes], report: ValidationReport) -> bool:
    """Refuse, before any parsing, an import whose files would need more memory than allowed.

    The limit is a setting (PAINCYCLE_IMPORT_MEMORY_GB): on a shared server one
    import must not take the memory every other session needs.
    """
    budget = config.settings().import_memory_gb * 1024**3
    needed = sum(memory_estimate(name, data) for name, data in files.items())
    if needed <= budget:
        return True
    biggest = max(files, key=lambda n: memory_estimate(n, files[n]))
    report.add(Problem(PurePosixPath(biggest).name, None, None,
                       f"these files would need about {needed / 1024**3:.1f} GB of memory to "
                       f"import, more than this server allows ({budget / 1024**3:g} GB, "
                       "PAINCYCLE_IMPORT_MEMORY_GB); split the export or import it as Parquet"),
               "too large")
    return False


def too_large() -> str:
    """The message for a file over the limit, with the limit in words."""
    size = (f"{MAX_FILE_BYTES / 1024**3:g} GB" if MAX_FILE_BYTES >= 1024**3
            else f"{MAX_FILE_BYTES / 1024**2:g} MB")
    return f"file is larger than the {size} limit"


def read_files(path: str | Path, report: ValidationReport,
               accept: Callable[[str], bool] = lambda _name: True) -> dict[str, bytes]:
    """The files in ``path`` (a folder, a .zip or one file) that ``accept`` their name, by name.

    Names are relative POSIX paths (``data/patients.csv``), ``.gz`` already
    removed. Problems go to ``report``; a file with a problem is left out.
    """
    path = Path(path)
    files: dict[str, bytes] = {}
    if not path.exists():
        report.add(Problem(str(path), None, None, "no such file or folder"), "missing path")
    elif path.is_dir():
        for item in sorted(path.rglob("*")):
            name = item.relative_to(path).as_posix()
            if item.is_file() and not _hidden(name) and accept(_unzipped(name)):
                if item.stat().st_size > MAX_FILE_BYTES:
                    report.add(Problem(name, None, None, too_large()), "too large")
                    continue
                _add(files, name, item.read_bytes(), report)
    elif path.suffix.lower() == ".zip":
        _read_zip(path, files, report, accept)
    elif accept(_unzipped(path.name)):
        if path.stat().st_size > MAX_FILE_BYTES:
            report.add(Problem(path.name, None, None, too_large()), "too large")
        else:
            _add(files, path.name, path.read_bytes(), report)
    if files and not check_memory(files, report):
        return {}
    return files


def _hidden(name: str) -> bool:
    """Dot-files and dot-folders, and macOS's __MACOSX (a ``..`` in a member name is not hiding)."""
    parts = [p for p in PurePosixPath(name).parts if p not in (".", "..")]
    return any(p.startswith(".") for p in parts) or "__MACOSX" in parts


def _unzipped(name: str) -> str:
    return name[:-3] if name.lower().endswith(".gz") else name


def _read_zip(path: Path, files: dict[str, bytes], report: ValidationReport,
              accept: Callable[[str], bool]) -> None:
    try:
        with zipfile.ZipFile(path) as archive:
            for info in archive.infolist():
                name = PurePosixPath(info.filename.replace("\\", "/")).as_posix()
                if info.is_dir() or _hidden(name) or not accept(_unzipped(name)):
                    continue
                if info.file_size > MAX_FILE_BYTES and info.file_size <= 2 * max(info.compress_size, 1):
                    report.add(Problem(PurePosixPath(name).name, None, None, too_large()), "too large")
                    continue
                if info.file_size > MAX_FILE_BYTES or (
                        info.compress_size and info.file_size / info.compress_size > MAX_ZIP_RATIO
                        and info.file_size > 50 * 1024**2):
                    report.add(Problem(PurePosixPath(name).name, None, None,
                                       "refused: this zip member expands far beyond a plausible "
                                       "table (possible zip bomb)"), "zip bomb")
                    continue
                try:
                    with archive.open(info) as handle:
                        data = handle.read(MAX_FILE_BYTES + 1)
                except (RuntimeError, NotImplementedError, EOFError, OSError, zlib.error) as exc:
                    why = "it is password-protected" if "encrypt" in str(exc) else short(exc)
                    report.add(Problem(PurePosixPath(name).name, None, None,
                                       f"cannot unpack this zip member ({why}); zip the files "
                                       "again with standard compression and no password"),
                               "unreadable")
                    continue
                _add(files, name, data, report)
    except zipfile.BadZipFile:
        report.add(Problem(path.name, None, None, "not a valid .zip file"), "bad zip")


def _add(files: dict[str, bytes], name: str, data: bytes, report: ValidationReport) -> None:
    if len(data) > MAX_FILE_BYTES:
        report.add(Problem(PurePosixPath(name).name, None, None, too_large()), "too large")
        return
    if name.lower().endswith(".gz"):
        try:
            with gzip.GzipFile(fileobj=io.BytesIO(data)) as handle:
                data = handle.read(MAX_FILE_BYTES + 1)
        except (OSError, EOFError, zlib.error):
            report.add(Problem(PurePosixPath(name).name, None, None, "not a valid gzip file"),
                       "unreadable")
            return
        if len(data) > MAX_FILE_BYTES:
            report.add(Problem(PurePosixPath(name).name, None, None,
                               "unpacks to more than the limit: " + too_large()), "too large")
            return
        name = name[:-3]
    files[name] = data


def short(exc: Exception) -> str:
    """The first line of an exception's message, at most 200 characters (no traceback)."""
    text = str(exc).strip().splitlines()
    return (text[0] if text else type(exc).__name__)[:200]


def workbook_problem(data: bytes) -> str | None:
    """Why an .xlsx cannot be opened safely, or None.

    An .xlsx is a zip: a few MB can unpack to gigabytes of XML that the Excel
    reader would then hold in memory, so the workbook's parts are sized first.
    """
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as workbook:
            parts = workbook.infolist()
    except Exception:  # BadZipFile, NotImplementedError, UnicodeDecodeError...: all mean "not a workbook"
        return "not a valid .xlsx workbook (it should be a zip of XML parts)"
    unpacked = sum(part.file_size for part in parts)
    packed = max(sum(part.compress_size for part in parts), 1)
    if unpacked > MAX_FILE_BYTES or (unpacked > 50 * 1024**2 and unpacked / packed > MAX_ZIP_RATIO):
        return "it unpacks far beyond a plausible export (possible zip bomb), so it was not opened"
    return None


def read_parquet(data: bytes) -> tuple[pa.Table | None, str | None]:
    """A Parquet file's table, or why it cannot be used: checked sizes, flat columns, valid text.

    Nested columns (maps, lists, structs) have no place in a cohort table and
    would fail later when stored; invalid UTF-8 in a text column would fail on
    first use. Both are refused here, naming the column.
    """
    refused = parquet_problem(data)
    if refused:
        return None, refused
    try:
        table = pq.read_table(io.BytesIO(data))
    except Exception as exc:  # noqa: BLE001 - the reader raises many types; all mean unreadable
        return None, short(exc)
    refused = nested_problem(table.schema) or text_problem(table)
    return (None, refused) if refused else (table, None)


def nested_problem(schema: pa.Schema) -> str | None:
    """Why a Parquet schema has no place in a cohort table (a nested column), or None."""
    for field in schema:
        if pa.types.is_nested(field.type) or pa.types.is_dictionary(field.type) and \
                pa.types.is_nested(field.type.value_type):
            return (f"column '{str(field.name)[:40]}' holds nested values ({field.type}); "
                    "cohort tables hold text, numbers and dates only")
    return None


def text_problem(table: pa.Table | pa.RecordBatch) -> str | None:
    """A column whose text is not valid UTF-8 (it would fail on first use), or None."""
    for name, values in zip(table.column_names, table.columns, strict=True):
        try:
            values.validate(full=True)
        except pa.ArrowInvalid:
            return f"column '{str(name)[:40]}' holds text that is not valid UTF-8"
    return None


def parquet_problem(data: bytes) -> str | None:
    """Why a Parquet file cannot be read safely, or None.

    Parquet is compressed: a small file can declare gigabytes of rows, so the
    sizes in its footer are checked before any column is read.
    """
    try:
        meta = pq.ParquetFile(io.BytesIO(data)).metadata
    except Exception:  # ArrowInvalid, OSError...: all mean "not a Parquet file"
        return "not a valid Parquet file"
    unpacked = sum(meta.row_group(i).total_byte_size for i in range(meta.num_row_groups))
    if unpacked > MAX_FILE_BYTES or (unpacked > 50 * 1024**2 and unpacked / max(len(data), 1)
                                      > MAX_ZIP_RATIO):
        return "it unpacks far beyond a plausible export (possible compression bomb), so it was not read"
    return None


