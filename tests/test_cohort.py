"""Validation: every kind of bad input names the right file, row and column."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from paincycle.cohort import (
    CohortError,
    from_frames,
    load_and_validate,
    read_cohort,
    write_cohort,
)

PATIENTS = "patient_id,intake_date,sex\nP1,2025-01-10,F\nP2,2025-02-01,male\n"
OBSERVATIONS = "patient_id,date,measure,value\nP1,2025-01-10,phq9,18\nP2,2025-02-01,pain_nrs,6\n"


def write(folder: Path, **tables: str | bytes) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, content in tables.items():
        path = folder / f"{name}.csv"
        path.write_bytes(content if isinstance(content, bytes) else content.encode())
    return folder


def problems(folder: Path) -> list[tuple[str, int | None, str | None, str]]:
    cohort, report = load_and_validate(folder)
    assert cohort is None, "expected the cohort to be refused"
    return [(p.file, p.row, p.column, p.message) for p in report.problems]


def only(found, file, row, column, contains):
    matches = [p for p in found if p[0] == file and p[1] == row and p[2] == column]
    assert matches, f"no problem at {file} row {row} column {column}: {found}"
    assert any(contains in p[3] for p in matches), matches


def test_hand_written_cohort_reads(tiny_cohort_dir):
    cohort = read_cohort(tiny_cohort_dir)
    assert cohort.n_patients == 3
    assert len(cohort.observations) == 11
    assert cohort.patients.loc[0, "sex"] == "female"
    assert cohort.observations["value"].dtype == np.float64
    # an offset timestamp keeps the calendar date it was recorded on
    p3 = cohort.observations[cohort.observations.patient_id == "P003"]
    assert p3["date"].iloc[0] == pd.Timestamp("2025-02-03")


def test_formula_like_cells_stay_text(tiny_cohort_dir):
    cohort = read_cohort(tiny_cohort_dir)
    assert cohort.patients.loc[2, "diagnosis"] == '=HYPERLINK("http://x")'
    assert cohort.events.loc[3, "detail"] == "-2+3 looks like a formula"


def test_unknown_columns_are_kept(tmp_path):
    folder = write(tmp_path / "c", patients=PATIENTS.replace("sex\n", "sex,Referrer\n")
                   .replace(",F\n", ",F,GP Smith\n").replace(",male\n", ",male,\n"),
                   observations=OBSERVATIONS)
    cohort = read_cohort(folder)
    assert "referrer" in cohort.patients.columns


def test_missing_required_column(tmp_path):
    folder = write(tmp_path / "c", patients=PATIENTS,
                   observations="patient_id,date,measure\nP1,2025-01-10,phq9\n")
    only(problems(folder), "observations.csv", 1, "value", "required column 'value' is missing")


def test_unparseable_date(tmp_path):
    folder = write(tmp_path / "c", patients=PATIENTS.replace("2025-02-01", "01/02/2025"),
                   observations=OBSERVATIONS)
    only(problems(folder), "patients.csv", 3, "intake_date", "'01/02/2025' is not a date")


def test_value_out_of_range(tmp_path):
    folder = write(tmp_path / "c", patients=PATIENTS,
                   observations=OBSERVATIONS.replace("pain_nrs,6", "pain_nrs,11"))
    only(problems(folder), "observations.csv", 3, "value", "outside the range of pain_nrs (0-10)")


def test_unknown_measure_suggests_closest(tmp_path):
    folder = write(tmp_path / "c", patients=PATIENTS,
                   observations=OBSERVATIONS.replace("phq9", "PHQ_9"))
    only(problems(folder), "observations.csv", 2, "measure", "did you mean 'phq9'?")


def test_duplicate_patient_id(tmp_path):
    folder = write(tmp_path / "c", patients=PATIENTS + "P1,2025-03-01,F\n",
                   observations=OBSERVATIONS)
    found = problems(folder)
    only(found, "patients.csv", 4, "patient_id", "duplicate patient_id 'P1' (rows 2, 4)")


def test_observation_for_unknown_patient(tmp_path):
    folder = write(tmp_path / "c", patients=PATIENTS,
                   observations=OBSERVATIONS + "P9,2025-01-10,phq9,3\n")
    only(problems(folder), "observations.csv", 4, "patient_id", "'P9' is not in the patients table")


def test_observation_far_before_intake(tmp_path):
    folder = write(tmp_path / "c", patients=PATIENTS,
                   observations=OBSERVATIONS + "P1,2024-10-01,phq9,3\nP1,2024-12-01,phq9,4\n")
    found = problems(folder)
    only(found, "observations.csv", 4, "date", "more than 60 days before")
    assert not [p for p in found if p[1] == 5], "40 days before intake is allowed"


def test_empty_file(tmp_path):
    folder = write(tmp_path / "c", patients=PATIENTS, observations="")
    only(problems(folder), "observations.csv", None, None, "file is empty")


def test_header_only_file(tmp_path):
    folder = write(tmp_path / "c", patients=PATIENTS, observations="patient_id,date,measure,value\n")
    only(problems(folder), "observations.csv", None, None, "no rows")


def test_non_utf8_text(tmp_path):
    latin1 = (PATIENTS + "P3,2025-02-01,F\nP4,2025-02-01,F\n").replace("P3", "Pé3").encode("latin-1")
    folder = write(tmp_path / "c", patients=latin1, observations=OBSERVATIONS)
    only(problems(folder), "patients.csv", 4, None, "not UTF-8")


@pytest.mark.parametrize("bad", ["nan", "inf", "-Infinity"])
def test_non_finite_numbers(tmp_path, bad):
    folder = write(tmp_path / "c", patients=PATIENTS,
                   observations=OBSERVATIONS.replace("pain_nrs,6", f"pain_nrs,{bad}"))
    only(problems(folder), "observations.csv", 3, "value", "is not a finite number")


def test_text_in_numeric_field(tmp_path):
    folder = write(tmp_path / "c", patients=PATIENTS,
                   observations=OBSERVATIONS.replace("phq9,18", "phq9,eighteen"))
    only(problems(folder), "observations.csv", 2, "value", "'eighteen' is not a number")


def test_every_problem_is_collected_not_just_the_first(tmp_path):
    folder = write(tmp_path / "c", patients=PATIENTS,
                   observations=OBSERVATIONS + "P9,2025-01-10,phq9,3\nP1,yesterday,phq9,30\n")
    _, report = load_and_validate(folder)
    assert report.total == 3  # unknown patient, unparseable date, out of range
    assert {p.row for p in report.problems} >= {4, 5}


def test_bad_event_and_treatment(tmp_path):
    folder = write(tmp_path / "c", patients=PATIENTS, observations=OBSERVATIONS,
                   events="patient_id,date,event,detail\nP1,2025-01-11,visit,\n"
                          "P1,2025-01-12,treatment_start,yoga\n")
    found = problems(folder)
    only(found, "events.csv", 2, "event", "'visit' is not an event")
    only(found, "events.csv", 3, "detail", "'yoga' is not a treatment")


def test_missing_tables_are_named(tmp_path):
    folder = write(tmp_path / "c", patients=PATIENTS)
    only(problems(folder), "c", None, None, "no observations table")


def test_zip_is_read_in_memory_and_traversal_names_are_harmless(tmp_path):
    archive = tmp_path / "cohort.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("export/patients.csv", PATIENTS)
        zf.writestr("../../observations.csv", OBSERVATIONS)
    cohort = read_cohort(archive)
    assert cohort.n_patients == 2
    assert not (tmp_path.parent / "observations.csv").exists()


def test_parquet_and_excel_tables(tmp_path, tiny_cohort_dir):
    cohort = read_cohort(tiny_cohort_dir)
    write_cohort(cohort, tmp_path / "pq", fmt="parquet")
    again = read_cohort(tmp_path / "pq")
    pd.testing.assert_frame_equal(again.observations, cohort.observations)
    xl = tmp_path / "xl"
    xl.mkdir()
    pd.read_csv(tiny_cohort_dir / "patients.csv", dtype=str).to_excel(xl / "patients.xlsx", index=False)
    (xl / "observations.csv").write_text((tiny_cohort_dir / "observations.csv").read_text())
    assert read_cohort(xl).n_patients == 3


def test_from_frames_names_the_source():
    patients = pd.DataFrame({"patient_id": ["A"], "intake_date": ["2025-01-01"]})
    observations = pd.DataFrame({"patient_id": ["A"], "date": ["2025-01-02"],
                                 "measure": ["phq9"], "value": [99.0]})
    with pytest.raises(CohortError) as caught:
        from_frames(patients, observations, source="bundle.json")
    problem = caught.value.report.problems[0]
    assert problem.file == "bundle.json: observations" and problem.row == 2


def test_cohort_without_events_round_trips_through_csv(tiny_cohort_dir, tmp_path):
    (tiny_cohort_dir / "events.csv").unlink()
    cohort = read_cohort(tiny_cohort_dir)
    assert cohort.events.empty
    write_cohort(cohort, tmp_path / "out", fmt="csv")
    assert read_cohort(tmp_path / "out").events.empty


def test_a_later_batch_names_file_rows_for_typed_dates_ranges_and_unknown_patients():
    """The batch checks of a streamed import (typed dates outside the accepted span, values
    outside a measure's range, unknown patients) name the row in the file, not in the batch."""
    from paincycle.cohort import intake_of, validate_observations, validate_patients
    from paincycle.problems import ValidationReport

    report = ValidationReport()
    patients = validate_patients("patients.csv", pd.read_csv(
        io.StringIO(PATIENTS), dtype=str, keep_default_na=False), report)
    raw = pd.DataFrame({
        "patient_id": ["P1", "P2", "P9", "P1"],
        "date": pd.to_datetime(["2025-01-11", "1800-01-01", "2025-03-01", "2025-01-12"]),
        "measure": ["phq9", "pain_nrs", "phq9", "phq9"], "value": [5.0, 4.0, 3.0, 99.0]},
        index=pd.RangeIndex(5000, 5004))
    checked = validate_observations("observations.parquet", raw, patients, report,
                                    intake_of(patients))
    found = [(p.file, p.row, p.column, p.message) for p in report.problems]
    only(found, "observations.parquet", 5003, "date", "1800-01-01")
    only(found, "observations.parquet", 5004, "patient_id", "'P9' is not in the patients table")
    only(found, "observations.parquet", 5005, "value", "outside the range of phq9")
    assert len(found) == 3
    assert checked["measure"].tolist() == ["phq9", "pain_nrs", "phq9", "phq9"]
