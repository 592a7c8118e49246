"""Telling a cohort's own long-format tables from a wide registry export, and saying what a lone
table lacks (the Data page presets its kind picker from this guess)."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pandas as pd
import pytest

from paincycle import importers
from paincycle.cohort import CohortError

LONG = "patient_id,date,measure,value\nP1,2025-01-06,phq9,18\nP1,2025-04-07,phq9,12\n"


@pytest.mark.parametrize("name", ["observations.csv", "scores.csv", "Export 2025.csv"])
def test_a_long_format_table_is_a_cohort_table_whatever_its_name(tmp_path: Path, name: str):
    path = tmp_path / name
    path.write_text(LONG)
    assert importers.detect_kind(path) == importers.COHORT


def test_a_long_format_workbook_or_parquet_file_is_a_cohort_table(tmp_path: Path):
    frame = pd.read_csv(pd.io.common.StringIO(LONG))
    frame.to_parquet(tmp_path / "obs.parquet")
    frame.to_excel(tmp_path / "obs.xlsx", index=False)
    assert importers.detect_kind(tmp_path / "obs.parquet") == importers.COHORT
    assert importers.detect_kind(tmp_path / "obs.xlsx") == importers.COHORT
    frame.rename(columns={"measure": "PAIN_0"}).to_excel(tmp_path / "wide.xlsx", index=False)
    assert importers.detect_kind(tmp_path / "wide.xlsx") == "wide"


def test_one_row_per_patient_stays_a_wide_export(tmp_path: Path):
    path = tmp_path / "registry.csv"
    path.write_text("patient_id,intake_date,pain_0,pain_90\nP1,2025-01-06,7,5\n")
    assert importers.detect_kind(path) == "wide"
    events = tmp_path / "care.csv"
    events.write_text("patient_id,date,event,detail\nP1,2025-01-20,treatment_start,cbt\n")
    assert importers.detect_kind(events) == importers.COHORT


def test_a_lone_observations_table_is_refused_with_what_must_come_with_it(tmp_path: Path):
    path = tmp_path / "observations.csv"
    path.write_text(LONG)
    with pytest.raises(CohortError) as refused:
        importers.convert(importers.COHORT, path)
    (problem,) = refused.value.report.problems
    assert (problem.file, problem.row, problem.column) == ("observations.csv", None, None)
    assert "observations table on its own" in problem.message and "patients.csv" in problem.message
    assert "--" not in problem.message


def test_a_zip_of_observations_only_is_a_cohort_missing_its_patients(tmp_path: Path):
    archive = tmp_path / "export.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("export/observations.csv", LONG)
    assert importers.detect_kind(archive) == importers.COHORT
    with pytest.raises(CohortError) as refused:
        importers.convert(importers.COHORT, archive)
    assert "no patients table" in refused.value.report.summary()
