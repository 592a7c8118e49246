"""The one reader: cohort folders and converters open files under the same rules."""

from __future__ import annotations

import gzip
import shutil
import zipfile

import pytest

from paincycle import importers, inputs
from paincycle.cohort import load_and_validate
from paincycle.problems import ValidationReport


def test_a_gzipped_table_and_a_zipped_folder_are_read_like_plain_files(tiny_cohort_dir, tmp_path):
    patients = tiny_cohort_dir / "patients.csv"
    (tiny_cohort_dir / "patients.csv.gz").write_bytes(gzip.compress(patients.read_bytes()))
    patients.unlink()
    cohort, report = load_and_validate(tiny_cohort_dir)
    assert report.ok and cohort.n_patients == 3
    archive = shutil.make_archive(str(tmp_path / "export"), "zip", tmp_path, "tiny")  # tiny/...
    cohort, report = load_and_validate(archive)
    assert report.ok and cohort.n_patients == 3


def test_the_size_limit_is_the_same_for_a_cohort_and_a_converter(tiny_cohort_dir, monkeypatch):
    monkeypatch.setattr(inputs, "MAX_FILE_BYTES", 100)
    _, report = load_and_validate(tiny_cohort_dir)
    assert "file is larger than the" in report.summary()
    with pytest.raises(importers.ConversionError) as refused:
        importers.convert("fhir", tiny_cohort_dir / "observations.csv")
    assert "file is larger than the" in refused.value.report.summary()


def test_every_problem_is_collected_and_names_its_file(tmp_path):
    path = tmp_path / "two.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("a.csv.gz", b"not gzip at all")
        archive.writestr(".hidden.csv", b"x")
        archive.writestr("__MACOSX/b.csv", b"x")
        archive.writestr("c.csv", b"id\n1\n")
    report = ValidationReport()
    files = inputs.read_files(path, report)
    assert list(files) == ["c.csv"]
    assert [p.file for p in report.problems] == ["a.csv.gz"]
    assert "not a valid gzip file" in report.summary()


def test_a_cohort_folder_reads_no_deeper_than_one_wrapping_folder(tiny_cohort_dir):
    deep = tiny_cohort_dir / "old" / "older"
    deep.mkdir(parents=True)
    (deep / "events.csv").write_text("patient_id,date,event\nP999,2025-01-01,note\n")
    events = tiny_cohort_dir / "events.csv"
    events.unlink()
    cohort, report = load_and_validate(tiny_cohort_dir)
    assert report.ok and cohort.events.empty  # the old copy two folders down is not read


def test_an_import_needing_more_memory_than_allowed_is_refused_before_parsing(tmp_path,
                                                                             monkeypatch):
    """A 300 MB CSV once peaked at 2.8 GB; the estimate refuses before pandas sees a byte."""
    folder = tmp_path / "cohort"
    folder.mkdir()
    (folder / "observations.csv").write_bytes(b"patient_id,date,measure,value\n" * 40_000)
    monkeypatch.setenv("PAINCYCLE_IMPORT_MEMORY_GB", "0.01")  # 10 MB; the CSV needs ~12 MB
    report = ValidationReport()
    assert inputs.read_files(folder, report) == {}
    problem = report.problems[0]
    assert problem.file == "observations.csv"
    assert "PAINCYCLE_IMPORT_MEMORY_GB" in problem.message and "GB of memory" in problem.message
    monkeypatch.setenv("PAINCYCLE_IMPORT_MEMORY_GB", "1")
    assert list(inputs.read_files(folder, ValidationReport())) == ["observations.csv"]


def test_parquet_memory_is_estimated_from_its_cells_not_its_packed_size(tmp_path):
    import io

    import pandas as pd

    buffer = io.BytesIO()
    pd.DataFrame({"a": [1] * 100_000, "b": ["x"] * 100_000}).to_parquet(buffer)
    packed = buffer.getvalue()
    assert len(packed) < 10_000
    assert inputs.memory_estimate("t.parquet", packed) == 200_000 * inputs.MEMORY_PER_PARQUET_CELL
