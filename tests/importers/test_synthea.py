"""Synthea CSV converter: the real sample export, headers by name, and bad input."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from paincycle import importers
from paincycle.importers import ConversionError


def write_export(folder: Path, observations: str, patients: str | None = None,
                 conditions: str | None = None) -> Path:
    folder.mkdir(exist_ok=True)
    (folder / "patients.csv").write_text(patients or (
        "Id,BIRTHDATE,DEATHDATE,GENDER,FIRST\n"
        "a1,1970-05-01,,F,Ann\n"
        "b2,1980-01-01,,M,Bob\n"))
    (folder / "observations.csv").write_text(observations)
    (folder / "conditions.csv").write_text(conditions or (
        "START,STOP,PATIENT,ENCOUNTER,CODE,DESCRIPTION\n"
        "2020-03-01,,a1,e1,278860009,Chronic low back pain (finding)\n"
        "2019-01-01,,a1,e0,444814009,Viral sinusitis (disorder)\n"))
    return folder


OBS_HEADER = "DATE,PATIENT,ENCOUNTER,CATEGORY,CODE,DESCRIPTION,VALUE,UNITS,TYPE\n"


def test_codes_not_descriptions_and_chronic_pain_intake(tmp_path: Path):
    folder = write_export(tmp_path / "s", OBS_HEADER
                          + "2020-03-01T03:00:00Z,a1,e1,vital-signs,72514-3,Something else,6.0,{score},numeric\n"
                          + "2020-06-01T23:59:00Z,a1,e1,survey,44261-6,PHQ,11.0,{score},numeric\n"
                          + "2020-03-01T03:00:00Z,a1,e1,vital-signs,8302-2,Pain severity,170,cm,numeric\n"
                          + "2015-01-01T03:00:00Z,a1,e1,vital-signs,72514-3,Pain,2.0,{score},numeric\n"
                          + "2021-01-01T03:00:00Z,b2,e2,vital-signs,72514-3,Pain,3.0,{score},numeric\n")
    result = importers.convert("synthea", folder, {"entry": "pain_score"})  # b2 has no condition
    cohort = result.cohort
    patients = cohort.patients.set_index("patient_id")
    assert f"{patients.loc['a1', 'intake_date']:%Y-%m-%d}" == "2020-03-01"
    assert patients.loc["a1", "diagnosis"] == "Chronic low back pain"
    assert f"{patients.loc['b2', 'intake_date']:%Y-%m-%d}" == "2021-01-01"  # first pain score
    a1 = cohort.observations[cohort.observations["patient_id"] == "a1"].sort_values("date")
    assert a1["measure"].tolist() == ["pain_nrs", "phq9"]  # 8302-2 is height, whatever it says
    assert f"{a1['date'].iloc[1]:%Y-%m-%d}" == "2020-06-01"  # UTC day as written
    messages = " | ".join(n.message for n in result.notices)
    assert "8302-2" in messages and "more than 60 days before" in messages


def test_missing_patient_column_is_named(tmp_path: Path):
    folder = write_export(tmp_path / "s", "DATE,PATIENT_ID,CODE,VALUE\n2020-03-01,a1,72514-3,5\n")
    with pytest.raises(ConversionError) as caught:
        importers.convert("synthea", folder)
    problem = caught.value.report.problems[0]
    assert (problem.file, problem.row, problem.column) == ("observations.csv", 1, "PATIENT")
    assert "required column 'PATIENT' is missing" in problem.message


def test_text_in_numeric_field_names_row_and_column(tmp_path: Path):
    folder = write_export(tmp_path / "s", OBS_HEADER
                          + "2020-03-01T03:00:00Z,a1,e1,vital-signs,72514-3,Pain,5.0,{score},numeric\n"
                          + "2020-03-02T03:00:00Z,a1,e1,vital-signs,72514-3,Pain,moderate,,text\n")
    with pytest.raises(ConversionError) as caught:
        importers.convert("synthea", folder)
    problem = caught.value.report.problems[0]
    assert (problem.file, problem.row, problem.column) == ("observations.csv", 3, "VALUE")
    assert "'moderate' is not a number" in problem.message


def test_real_synthea_sample(shared_data: Path):
    result = importers.convert("synthea", shared_data / "synthea-sample")
    cohort = result.cohort
    raw = pd.read_csv(shared_data / "synthea-sample" / "conditions.csv.gz", dtype=str)
    births = pd.read_csv(shared_data / "synthea-sample" / "patients.csv.gz", dtype=str
                         ).set_index("Id")["BIRTHDATE"].str.slice(0, 4).astype(int)
    chronic = raw[raw["CODE"].isin(["82423001", "278860009", "1121000119107"])]
    onset_age = chronic.groupby("PATIENT")["START"].min().str.slice(0, 4).astype(int) \
        - births.reindex(chronic.groupby("PATIENT")["START"].min().index)
    adults = set(onset_age[onset_age >= 18].index)
    diagnosed = set(cohort.patients.dropna(subset=["diagnosis"])["patient_id"])
    # who enters: a chronic-pain condition, at 18 or older (one patient's began at 14)
    assert adults and set(cohort.patients["patient_id"]) == adults <= diagnosed
    messages = " | ".join(n.message for n in result.notices)
    assert "without a chronic-pain condition did not enter" in messages
    assert "younger than 18 at intake" in messages
    assert {"pain_nrs", "phq9", "gad7"} <= set(cohort.measures_present())
    assert not cohort.observations["measure"].isin(["8302-2"]).any()
    unknown = next(n for n in result.notices if "LOINC codes not in the measure registry" in n.message)
    assert "8302-2" in unknown.message and unknown.rows > 1000


def test_a_diagnosis_made_after_intake_is_not_the_intake_diagnosis(tmp_path: Path):
    """One Synthea record carried a chronic-pain diagnosis dated 8,734 days after intake."""
    folder = write_export(
        tmp_path / "s", OBS_HEADER
        + "2020-03-01T03:00:00Z,a1,e1,vital-signs,72514-3,Pain,6.0,{score},numeric\n"
        + "2021-01-01T03:00:00Z,b2,e2,vital-signs,72514-3,Pain,3.0,{score},numeric\n",
        conditions="START,STOP,PATIENT,ENCOUNTER,CODE,DESCRIPTION\n"
                   "2020-03-01,,a1,e1,278860009,Chronic low back pain (finding)\n"
                   "2044-01-01,,a1,e9,203082005,Fibromyalgia (disorder)\n")
    result = importers.convert("synthea", folder)
    patients = result.cohort.patients.set_index("patient_id")
    assert patients.loc["a1", "diagnosis"] == "Chronic low back pain"
    assert any("after the patient's intake" in n.message and n.rows == 1 for n in result.notices)


def test_medications_that_match_no_treatment_are_counted_not_dropped_silently(tmp_path: Path):
    folder = write_export(tmp_path / "s", OBS_HEADER
                          + "2020-03-01T03:00:00Z,a1,e1,vital-signs,72514-3,Pain,6.0,{score},numeric\n")
    (folder / "medications.csv").write_text(
        "START,STOP,PATIENT,ENCOUNTER,CODE,DESCRIPTION\n"
        "2020-03-05,,a1,e1,1049221,Acetaminophen 325 MG / Oxycodone Hydrochloride 5 MG\n"
        "2020-03-05,,a1,e1,313782,Acetaminophen 325 MG Oral Tablet\n")
    result = importers.convert("synthea", folder)
    notice = next(n for n in result.notices if "match no treatment" in n.message)
    assert notice.rows >= 1 and "Acetaminophen" in notice.message


def test_by_default_only_adults_with_a_chronic_pain_condition_enter(tmp_path: Path):
    """Pain scores alone once enrolled newborns and a patient who died in 1981 (44 of 59)."""
    folder = write_export(
        tmp_path / "s", OBS_HEADER
        + "2020-03-01T03:00:00Z,a1,e1,vital-signs,72514-3,Pain,6.0,{score},numeric\n"
        + "2021-01-01T03:00:00Z,b2,e2,vital-signs,72514-3,Pain,3.0,{score},numeric\n"
        + "2019-05-01T03:00:00Z,c3,e3,vital-signs,72514-3,Pain,1.0,{score},numeric\n",
        patients="Id,BIRTHDATE,DEATHDATE,GENDER,FIRST\n"
                 "a1,1970-05-01,,F,Ann\nb2,1980-01-01,,M,Bob\nc3,2019-04-20,,F,Cat\n",
        conditions="START,STOP,PATIENT,ENCOUNTER,CODE,DESCRIPTION\n"
                   "2020-03-01,,a1,e1,278860009,Chronic low back pain (finding)\n"
                   "2019-05-01,,c3,e3,82423001,Chronic pain (finding)\n")
    result = importers.convert("synthea", folder)
    assert result.cohort.patients["patient_id"].tolist() == ["a1"]
    messages = " | ".join(n.message for n in result.notices)
    assert "without a chronic-pain condition did not enter" in messages  # b2
    assert "younger than 18 at intake" in messages  # c3, a newborn
    young = importers.convert("synthea", folder, {"min_age_at_intake": 0})
    assert set(young.cohort.patients["patient_id"]) == {"a1", "c3"}
