"""Hostile and broken input: a clear error or a clean import, never a crash.

Property-based (hypothesis) and hand-made adversarial files go through the
validator (cohort.load_and_validate) and the real `paincycle import` command.
Each must end in either a valid cohort or a report whose problems name a
file, never an exception; an import either stores one complete version or
nothing; and nothing is ever written outside the data folder. Example counts
are kept small so the whole module runs in well under a minute.
"""

from __future__ import annotations

import io
import struct
import tempfile
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from paincycle import cohort as cohort_mod
from paincycle import inputs, services
from paincycle.cli import main
from paincycle.cohort import load_and_validate
from paincycle.store import MANIFEST, CohortStore
from paincycle.trajectories import CohortTrajectories

TINY = Path(__file__).parent / "fixtures" / "tiny"
PATIENTS = (TINY / "patients.csv").read_text()
OBSERVATIONS = (TINY / "observations.csv").read_text()
EVENTS = (TINY / "events.csv").read_text()

#: The adversarial cells the issue lists, plus a few classics.
HOSTILE_CELLS = [
    "", " ", "NaN", "nan", "inf", "-inf", "Infinity", "1e400", "-1e400", "9" * 400,
    "1e308", "-0", "0x1F", "1_000", "١٢", "x" * 10_000, "\x00", "\x07\x1b[31mred", "\r",
    "\u202eevil", "\ufeff", "😀", "Müller", "=cmd|' /C calc'!A0", "+1+1", "-2+3", "@SUM(A1)",
    '=HYPERLINK("http://x")', "<script>alert(1)</script>", "<img src=x onerror=alert(1)>",
    "'; DROP TABLE decisions; --", "../../etc/passwd", "2025-02-30", "3000-01-01",
    "0001-01-01", "1677-09-21", "2262-04-12", "2025-01-06T25:61:00", "9999-99-99",
    '"', '""', ",", "\n",
]
cells = st.one_of(st.sampled_from(HOSTILE_CELLS), st.text(max_size=30))
FAST = settings(max_examples=25, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                       HealthCheck.function_scoped_fixture])


def _csv_cell(value: str) -> str:
    return '"' + value.replace('"', '""') + '"'


def _mutate(text: str, changes: list[tuple[int, int, str]]) -> str:
    """Replace cells (row, column, value) of a CSV text, quoting the new values."""
    rows = [line.split(",") for line in text.strip().split("\n")]
    for row, column, value in changes:
        r = 1 + row % (len(rows) - 1)
        c = column % len(rows[r])
        rows[r][c] = _csv_cell(value)
    return "\n".join(",".join(r) for r in rows) + "\n"


changes = st.lists(st.tuples(st.integers(0, 50), st.integers(0, 10), cells), max_size=6)


def _assert_clean_outcome(result) -> None:
    cohort, report = result
    if cohort is None:
        assert not report.ok and report.problems, "a refusal must say why"
        assert all(isinstance(p.file, str) and p.file for p in report.problems)
        assert all("Traceback" not in str(p) for p in report.problems)
    else:
        assert report.ok
        assert cohort.patients["patient_id"].map(type).eq(str).all()
        assert pd.api.types.is_datetime64_any_dtype(cohort.observations["date"])
        assert cohort.observations["value"].map(lambda v: v == v and abs(v) < float("inf")).all()


@contextmanager
def _folder(**files: str | bytes) -> Iterator[Path]:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "cohort"
        folder.mkdir()
        for name, content in files.items():
            data = content.encode() if isinstance(content, str) else content
            (folder / name.replace("_csv", ".csv")).write_bytes(data)
        yield folder


# --------------------------------------------------------------------------- the validator


@FAST
@given(patient_changes=changes, observation_changes=changes, event_changes=changes)
def test_hostile_cells_give_a_clear_error_or_a_clean_cohort(
        patient_changes, observation_changes, event_changes):
    with _folder(patients_csv=_mutate(PATIENTS, patient_changes),
                 observations_csv=_mutate(OBSERVATIONS, observation_changes),
                 events_csv=_mutate(EVENTS, event_changes)) as folder:
        _assert_clean_outcome(load_and_validate(folder))


@FAST
@given(data=st.binary(max_size=3000))
def test_random_bytes_as_a_table(data):
    with _folder(patients_csv=data, observations_csv=OBSERVATIONS) as folder:
        _assert_clean_outcome(load_and_validate(folder))
    with _folder(patients_csv=PATIENTS, **{"observations.parquet": data}) as folder:
        _assert_clean_outcome(load_and_validate(folder))


@FAST
@given(parts=st.lists(st.tuples(st.text(max_size=40),
                                st.sampled_from(["utf-8", "latin-1", "utf-16", "cp1252",
                                                 "utf-8-sig", "shift_jis"])), max_size=5))
def test_mixed_encodings(parts):
    blob = PATIENTS.encode()
    for text, codec in parts:
        blob += ("P9," + text + "\n").encode(codec, errors="ignore")
    with _folder(patients_csv=blob, observations_csv=OBSERVATIONS) as folder:
        _assert_clean_outcome(load_and_validate(folder))


@FAST
@given(values=st.lists(st.one_of(st.floats(allow_nan=True, allow_infinity=True),
                                 st.integers(min_value=-(2**63), max_value=2**63 - 1),
                                 st.booleans(), st.none()), min_size=11, max_size=11),
       dates=st.lists(st.datetimes(), min_size=11, max_size=11))
def test_typed_parquet_columns_with_extreme_values(values, dates):
    obs = pd.read_csv(io.StringIO(OBSERVATIONS), dtype=str)
    obs["value"] = pd.Series(values, dtype=object)
    obs["date"] = pd.Series(dates, dtype="datetime64[us]")
    buffer = io.BytesIO()
    try:
        obs.astype({"value": "float64"} if all(
            isinstance(v, float) for v in values) else {}).to_parquet(buffer)
    except Exception:  # a column pyarrow itself cannot write is not an input anyone can send
        obs["value"] = obs["value"].astype(str)
        buffer = io.BytesIO()
        obs.to_parquet(buffer)
    with _folder(patients_csv=PATIENTS, **{"observations.parquet": buffer.getvalue()}) as folder:
        _assert_clean_outcome(load_and_validate(folder))


def test_each_listed_hostile_cell_in_each_column():
    """Every adversarial value in every cell of a row: deterministic, so always covered."""
    for value in HOSTILE_CELLS:
        with _folder(patients_csv=_mutate(PATIENTS, [(1, c, value) for c in range(6)]),
                     observations_csv=_mutate(OBSERVATIONS, [(1, c, value) for c in range(4)]),
                     events_csv=_mutate(EVENTS, [(1, c, value) for c in range(4)])) as folder:
            _assert_clean_outcome(load_and_validate(folder))


@pytest.mark.parametrize("value, expected", [
    ("3000-01-01", "outside the accepted dates"),
    ("0001-01-01", "outside the accepted dates"),
    ("1e400", "is not a number"),
    ("NaN", "is not a finite number"),
    ("9" * 400, "is not a number"),
    ("1e308", "is outside the range of phq9"),
])
def test_extreme_values_are_named(value, expected):
    column = 1 if "-" in value else 3
    obs = _mutate(OBSERVATIONS, [(0, column, value)])
    with _folder(patients_csv=PATIENTS, observations_csv=obs) as folder:
        cohort, report = load_and_validate(folder)
    assert cohort is None
    assert expected in report.summary()
    assert "observations.csv, row 2" in report.summary()


def test_formula_and_html_text_stays_inert_text():
    patients = PATIENTS + "P004,2025-03-03,F,1980,<script>alert(1)</script>,=1+1\n"
    with _folder(patients_csv=patients, observations_csv=OBSERVATIONS) as folder:
        cohort, report = load_and_validate(folder)
    assert report.ok, report.summary()
    row = cohort.patients.set_index("patient_id").loc["P004"]
    assert row["diagnosis"] == "<script>alert(1)</script>"
    assert row["site"] == "=1+1"


def test_control_characters_in_ids_are_refused():
    patients = PATIENTS + "P0\x0004,2025-03-03,F,1980,x,y\n"
    with _folder(patients_csv=patients, observations_csv=OBSERVATIONS) as folder:
        cohort, report = load_and_validate(folder)
    assert cohort is None
    assert "patient_id contains control characters" in report.summary()


@pytest.mark.parametrize("header, expected", [
    (",".join(f"c{i}" for i in range(5000)), "at most 1,000 are accepted"),
    ("patient_id,intake_date,patient_id", "column appears twice"),
    ("patient_id,intake_date," + ",".join(["x"] * 20000), "at most 1,000 are accepted"),
])
def test_absurd_headers_are_refused_quickly(header, expected):
    with _folder(patients_csv=header + "\nP001,2025-01-06\n",
                 observations_csv=OBSERVATIONS) as folder:
        cohort, report = load_and_validate(folder)
    assert cohort is None
    assert expected in report.summary()


def test_ten_thousand_character_cells_are_kept_or_refused_cleanly():
    long = "y" * 10_000
    patients = PATIENTS + f"P004,2025-03-03,F,1980,{long},{long}\n"
    with _folder(patients_csv=patients, observations_csv=OBSERVATIONS) as folder:
        cohort, report = load_and_validate(folder)
    assert report.ok
    assert cohort.patients["diagnosis"].str.len().max() == 10_000
    patients = PATIENTS + f"{long},2025-03-03,F,1980,x,y\n"
    with _folder(patients_csv=patients, observations_csv=OBSERVATIONS) as folder:
        cohort, report = load_and_validate(folder)
    assert "longer than 64 characters" in report.summary()


def test_very_large_files_are_refused_before_reading(monkeypatch):
    monkeypatch.setattr(inputs, "MAX_FILE_BYTES", 1024**2)
    big = PATIENTS + "".join(f"Q{i},2025-01-06,F,1970,x,y\n" for i in range(60_000))
    with _folder(patients_csv=big, observations_csv=OBSERVATIONS) as folder:
        cohort, report = load_and_validate(folder)
        assert "patients.csv: file is larger than the 1 MB limit" in report.summary()
        archive = folder.parent / "big.zip"
        with zipfile.ZipFile(archive, "w", zipfile.ZIP_STORED) as z:
            z.write(folder / "patients.csv", "patients.csv")
            z.write(folder / "observations.csv", "observations.csv")
        cohort, report = load_and_validate(archive)
        assert cohort is None
        assert "patients.csv: file is larger than the 1 MB limit" in report.summary()


# --------------------------------------------------------------------------- zips


def _zip(path: Path, members: dict[str, bytes], method: int = zipfile.ZIP_DEFLATED) -> Path:
    with zipfile.ZipFile(path, "w", method) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


def test_zip_bomb_is_refused_without_expanding_it(tmp_path, monkeypatch):
    bomb = tmp_path / "bomb.zip"
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("patients.csv", PATIENTS)
        with archive.open("observations.csv", "w") as handle:
            block = b"0" * (1024**2)
            for _ in range(80):  # 80 MB of zeros packs to about 80 KB
                handle.write(block)
    assert bomb.stat().st_size < 1024**2
    opened: list[str] = []
    real_open = zipfile.ZipFile.open

    def spy(self, name, *args, **kwargs):
        opened.append(getattr(name, "filename", name))
        return real_open(self, name, *args, **kwargs)

    monkeypatch.setattr(zipfile.ZipFile, "open", spy)
    cohort, report = load_and_validate(bomb)
    assert cohort is None
    assert "possible zip bomb" in report.summary()
    assert "observations.csv" not in opened, "the bomb was unpacked"


def _workbook_bomb() -> bytes:
    """A real .xlsx whose sheet XML is padded with 80 MB of whitespace (packs to ~80 KB)."""
    sheet = io.BytesIO()
    pd.DataFrame({"ID": [1], "PAIN_0": [5]}).to_excel(sheet, index=False)
    bomb = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(sheet.getvalue())) as real, \
            zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as padded:
        for part in real.infolist():
            data = real.read(part)
            if part.filename.endswith("sheet1.xml"):
                data = data.replace(b"<sheetData>", b"<sheetData>" + b" " * (80 * 1024**2), 1)
            padded.writestr(part.filename, data)
    return bomb.getvalue()


def test_workbook_bomb_is_refused_before_excel_reads_it(tmp_path, monkeypatch):
    from paincycle import importers

    data = _workbook_bomb()
    assert len(data) < 1024**2

    def must_not_read(*_args, **_kwargs):
        raise AssertionError("the workbook bomb was handed to the Excel reader")

    monkeypatch.setattr(pd, "read_excel", must_not_read)
    (tmp_path / "registry.xlsx").write_bytes(data)
    with pytest.raises(importers.ConversionError) as caught:
        importers.convert("wide", tmp_path / "registry.xlsx", importers.parse_mapping(
            "format: wide\nid_column: ID\nintake_date: 2021-06-01\nmeasures:\n"
            "  - {measure: pain_nrs, column: PAIN_0, day: 0}\n", "m.yaml"))
    problem = caught.value.report.problems[0]
    assert problem.file == "registry.xlsx" and "possible zip bomb" in problem.message
    cohort, report = load_and_validate(_zip(tmp_path / "cohort.zip", {
        "patients.xlsx": data, "observations.csv": OBSERVATIONS.encode()}))
    assert cohort is None and "possible zip bomb" in report.summary()


def test_zip_member_lying_about_its_size_is_refused(tmp_path):
    """A member whose header claims fewer bytes than it holds is cut at the claim and refused."""
    real = _zip(tmp_path / "real.zip", {"patients.csv": PATIENTS.encode() * 50,
                                        "observations.csv": OBSERVATIONS.encode()})
    data = bytearray(real.read_bytes())
    claimed = 100
    local = data.find(b"PK\x03\x04")
    data[local + 22:local + 26] = struct.pack("<I", claimed)
    central = data.find(b"PK\x01\x02")
    data[central + 24:central + 28] = struct.pack("<I", claimed)
    liar = tmp_path / "liar.zip"
    liar.write_bytes(bytes(data))
    cohort, report = load_and_validate(liar)
    assert cohort is None
    assert "not a valid .zip file" in report.summary()


def test_encrypted_and_unknown_compression_members_are_clear_errors(tmp_path):
    real = _zip(tmp_path / "real.zip", {"patients.csv": PATIENTS.encode(),
                                        "observations.csv": OBSERVATIONS.encode()})
    for offset, value, expected in ((8, 1, "password-protected"),
                                    (10, 99, "compression method is not supported")):
        data = bytearray(real.read_bytes())
        central = data.find(b"PK\x01\x02")
        data[central + offset:central + offset + 2] = struct.pack("<H", value)
        broken = tmp_path / f"broken{value}.zip"
        broken.write_bytes(bytes(data))
        cohort, report = load_and_validate(broken)
        assert cohort is None
        assert expected in report.summary()


@FAST
@given(data=st.binary(max_size=2000))
def test_random_bytes_as_a_zip(data):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "upload.zip"
        path.write_bytes(b"PK\x03\x04" + data)
        _assert_clean_outcome(load_and_validate(path))


# --------------------------------------------------------------------------- the import command


def _snapshot(root: Path, skip: Path) -> set[Path]:
    return {p for p in root.rglob("*") if skip not in p.parents and p != skip}


def _import(path: Path, capsys) -> tuple[int, str]:
    code = main(["import", str(path), "--name", "hostile"])
    err = capsys.readouterr().err
    return code, err


def _assert_store_complete_or_empty(data_dir: Path, code: int) -> None:
    cohorts = data_dir / "cohorts"
    leftovers = [p.name for p in cohorts.iterdir() if p.name.startswith(".")] if cohorts.exists() else []
    assert leftovers == [], f"staging folders left behind: {leftovers}"
    versions = CohortStore().versions() if cohorts.exists() else []
    if code == 0:
        assert len(versions) == 1
        folder = cohorts / versions[0].id
        assert (folder / MANIFEST).exists()
        CohortStore().load(versions[0].id)  # every table of it is readable
    else:
        assert versions == []
    if cohorts.exists():
        assert all((p / MANIFEST).exists() for p in cohorts.iterdir()), "a partial version"


def test_path_traversal_member_names_write_nothing_outside(tmp_path, data_dir, capsys,
                                                           monkeypatch):
    monkeypatch.chdir(tmp_path)
    archive = _zip(tmp_path / "evil.zip", {
        "../../escaped/patients.csv": PATIENTS.encode(),
        "/tmp/absolute/observations.csv": OBSERVATIONS.encode(),
        "..\\..\\windows\\events.csv": EVENTS.encode(),
    })
    before = _snapshot(tmp_path, data_dir)
    code, err = _import(archive, capsys)
    assert code == 0, err
    assert _snapshot(tmp_path, data_dir) == before
    assert not Path("/tmp/absolute").exists()
    _assert_store_complete_or_empty(data_dir, code)


@settings(max_examples=12, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(patient_changes=changes, observation_changes=changes, as_zip=st.booleans())
def test_import_command_stores_all_or_nothing(patient_changes, observation_changes, as_zip,
                                              capsys):
    with tempfile.TemporaryDirectory() as tmp, pytest.MonkeyPatch.context() as mp:
        root = Path(tmp)
        data_dir = root / "data"
        data_dir.mkdir()
        mp.setenv("PAINCYCLE_DATA_DIR", str(data_dir))
        mp.chdir(root)
        files = {"patients.csv": _mutate(PATIENTS, patient_changes).encode(),
                 "observations.csv": _mutate(OBSERVATIONS, observation_changes).encode(),
                 "events.csv": EVENTS.encode()}
        if as_zip:
            source = _zip(root / "upload.zip", files)
        else:
            source = root / "upload"
            source.mkdir()
            for name, data in files.items():
                (source / name).write_bytes(data)
        before = _snapshot(root, data_dir)
        code, err = _import(source, capsys)
        assert code in (0, 1), f"unexpected failure: {err}"
        assert "Traceback" not in err
        if code == 1:
            assert err.startswith("error:")
        assert _snapshot(root, data_dir) == before, "something was written outside the data folder"
        _assert_store_complete_or_empty(data_dir, code)


def test_a_crash_while_storing_leaves_no_partial_version(tiny_cohort_dir, data_dir, monkeypatch):
    calls = {"n": 0}
    real = pd.DataFrame.to_parquet

    def fail_on_second_table(self, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 2:
            raise OSError("disk full")
        return real(self, *args, **kwargs)

    monkeypatch.setattr(pd.DataFrame, "to_parquet", fail_on_second_table)
    cohort = cohort_mod.read_cohort(tiny_cohort_dir)
    with pytest.raises(OSError, match="disk full"):
        CohortStore().save(cohort, name="half")
    assert CohortStore().versions() == []
    assert [p.name for p in (data_dir / "cohorts").iterdir()] == []


# --------------------------------------------------------------------------- downstream of a clean import


def _hostile_text_cohort(folder: Path, diagnosis: str):
    (folder / "patients.csv").write_text(
        PATIENTS + f'P004,2025-03-03,F,1980,"{diagnosis}",' + "=cmd|' /C calc'!A0\n")
    return cohort_mod.read_cohort(folder)


def test_markup_and_formulas_in_free_text_stay_inert_in_exports(tiny_cohort_dir):

    cohort = _hostile_text_cohort(tiny_cohort_dir, "<script>alert(1)</script>")
    html = services.export_summary(CohortTrajectories(cohort), "html").decode("utf-8")
    assert "<script>alert(1)" not in html
    assert "\n=cmd" not in services.export_summary(CohortTrajectories(cohort), "csv").decode("utf-8")
    assert services.export_summary(CohortTrajectories(cohort), "xlsx")[:2] == b"PK"


def test_control_characters_in_free_text_do_not_break_the_xlsx_export(tiny_cohort_dir):

    cohort = _hostile_text_cohort(tiny_cohort_dir, "pain\x07\x1b[31m")
    assert services.export_summary(CohortTrajectories(cohort), "xlsx")[:2] == b"PK"


def test_free_text_never_renders_as_html_on_any_page(tiny_cohort_dir, monkeypatch):
    """Every page, run on a cohort whose free text is markup, shows it as text only."""
    from streamlit.testing.v1 import AppTest

    patients = tiny_cohort_dir / "patients.csv"
    patients.write_text(PATIENTS.replace("chronic low back pain", "<script>alert(1)</script>")
                        .replace("North", "<img src=x onerror=alert(2)>"))
    monkeypatch.setattr("paincycle.config.SAMPLE_COHORT", tiny_cohort_dir.parent / "none")
    CohortStore().save(cohort_mod.read_cohort(tiny_cohort_dir), name="markup")
    at = AppTest.from_file("../app.py", default_timeout=90).run()
    pages = [p for p in sorted((Path(__file__).parents[1] / "pages").glob("*.py"))]
    for page in pages:
        at.switch_page(f"pages/{page.name}").run()
        assert not at.exception, f"{page.name}: {at.exception}"
        for element in at.markdown:
            if element.proto.allow_html:
                assert "<script" not in element.value and "onerror" not in element.value, page.name




def _parquet_patients(tmp_path: Path, extra=None, corrupt_id: bool = False) -> Path:
    import pyarrow as pa
    import pyarrow.parquet as pq

    folder = tmp_path / "pq"
    folder.mkdir()
    (folder / "observations.csv").write_text(OBSERVATIONS)
    (folder / "events.csv").write_text(EVENTS)
    frame = pd.read_csv(io.StringIO(PATIENTS), dtype=str, keep_default_na=False)
    table = pa.table({c: pa.array(frame[c].tolist()) for c in frame.columns})
    if extra is not None:
        table = table.append_column("extra", extra(len(frame)))
    pq.write_table(table, folder / "patients.parquet", compression="none")
    if corrupt_id:
        data = (folder / "patients.parquet").read_bytes()
        at = data.find(b"P001")
        (folder / "patients.parquet").write_bytes(data[:at] + b"\xff\xfe01" + data[at + 4:])
    return folder


def test_a_parquet_column_of_nested_values_is_refused_naming_it(tmp_path):
    """A map-typed extra column once passed validation and then failed while storing."""
    import pyarrow as pa

    folder = _parquet_patients(tmp_path, extra=lambda n: pa.array(
        [[("a", 1)]] * n, type=pa.map_(pa.string(), pa.int64())))
    cohort, report = load_and_validate(folder)
    assert cohort is None
    problem = report.problems[0]
    assert problem.file == "patients.parquet" and "'extra' holds nested values" in problem.message


def test_invalid_utf8_in_parquet_text_is_refused_naming_the_file(tmp_path):
    cohort, report = load_and_validate(_parquet_patients(tmp_path, corrupt_id=True))
    assert cohort is None
    problem = report.problems[0]
    assert problem.file == "patients.parquet" and "not valid UTF-8" in problem.message
