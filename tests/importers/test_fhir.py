"""FHIR R4 converter: bundles, NDJSON, value types, references, dates, and bad input."""

from __future__ import annotations

import gzip
import json
import shutil
from pathlib import Path

import pandas as pd
import pytest

from paincycle import importers
from paincycle.importers import ConversionError

LOINC = "http://loinc.org"


def patient(pid="p1", identifier="MRN-7", **extra):
    resource = {"resourceType": "Patient", "id": pid, "gender": "female", "birthDate": "1970-02-03",
                **extra}
    if identifier:
        resource["identifier"] = [{"value": identifier}, {"value": "second"}]
    return resource


def observation(code, value_key, value, when="2024-01-10T10:00:00+01:00", subject="Patient/p1"):
    return {"resourceType": "Observation", "status": "final",
            "code": {"coding": [{"system": LOINC, "code": code}]},
            "subject": {"reference": subject}, "effectiveDateTime": when, value_key: value}


def bundle(*resources, path: Path) -> Path:
    path.write_text(json.dumps({"resourceType": "Bundle", "type": "collection",
                                "entry": [{"resource": r} for r in resources]}))
    return path


def test_value_types_answer_codes_and_local_dates(tmp_path: Path):
    path = bundle(
        patient(),
        observation("72514-3", "valueQuantity", {"value": 6}, when="2024-01-10T23:30:00-08:00"),
        observation("72514-3", "valueInteger", 5, when="2024-02-01"),
        observation("72514-3", "valueDecimal", 4.5, when="2024-03-01T00:10:00+14:00"),
        observation("72514-3", "valueCodeableConcept",
                    {"coding": [{"system": LOINC, "code": "LA10139-6"}]}, when="2024-04-01"),
        observation("44261-6", "valueInteger", 12, when="2024-01-10"),
        observation("8867-4", "valueQuantity", {"value": 70}),  # heart rate: not in the registry
        path=tmp_path / "b.json")
    result = importers.convert("fhir", path)
    obs = result.cohort.observations.sort_values(["measure", "date"])
    pain = obs[obs["measure"] == "pain_nrs"]
    assert pain["value"].tolist() == [6, 5, 4.5, 7]
    assert [f"{d:%Y-%m-%d}" for d in pain["date"]] == ["2024-01-10", "2024-02-01", "2024-03-01",
                                                       "2024-04-01"]
    assert result.cohort.patients["patient_id"].tolist() == ["MRN-7"]
    assert f"{result.cohort.patients['intake_date'][0]:%Y-%m-%d}" == "2024-01-10"
    assert result.cohort.patients["birth_year"][0] == 1970
    unknown = [n for n in result.notices if "8867-4" in n.message]
    assert unknown and unknown[0].rows == 1


def test_resource_id_when_no_identifier_and_ndjson_folder(tmp_path: Path):
    folder = tmp_path / "export"
    folder.mkdir()
    lines = [patient("abc", identifier=None),
             observation("72514-3", "valueInteger", 3, subject="Patient/abc")]
    (folder / "all.ndjson").write_text("\n".join(json.dumps(r) for r in lines) + "\n")
    second = bundle(patient("xyz", identifier="R-2"),
                    observation("72514-3", "valueInteger", 8, subject="Patient/xyz"),
                    path=folder / "two.json")
    second.write_bytes(gzip.compress(second.read_bytes()))
    shutil.move(second, folder / "two.json.gz")
    result = importers.convert("fhir", folder)
    assert sorted(result.cohort.patients["patient_id"]) == ["R-2", "abc"]
    assert len(result.cohort.observations) == 2


def test_conditions_give_diagnosis_and_medications_give_treatments(tmp_path: Path):
    path = bundle(
        patient(),
        observation("72514-3", "valueInteger", 6, when="2024-01-10"),
        {"resourceType": "Condition", "subject": {"reference": "Patient/p1"},
         "code": {"coding": [{"system": "http://snomed.info/sct", "code": "278860009",
                              "display": "Chronic low back pain"}]},
         "onsetDateTime": "2023-12-20"},
        {"resourceType": "MedicationRequest", "subject": {"reference": "Patient/p1"},
         "medicationCodeableConcept": {"text": "Duloxetine 30 MG Delayed Release Oral Capsule"},
         "authoredOn": "2024-01-20T09:00:00-05:00"},
        {"resourceType": "Encounter", "status": "cancelled", "subject": {"reference": "Patient/p1"},
         "period": {"start": "2024-02-01T09:00:00-05:00"}},
        path=tmp_path / "b.json")
    cohort = importers.convert("fhir", path).cohort
    assert cohort.patients["diagnosis"][0] == "Chronic low back pain"
    events = cohort.events.sort_values("date")
    assert events["event"].tolist() == ["treatment_start", "appointment_missed"]
    assert events["detail"].iloc[0] == "snri"


def test_bad_json_names_file_and_line(tmp_path: Path):
    path = tmp_path / "broken.json"
    path.write_text('{"resourceType": "Bundle",\n "entry": [\n  {"resource": }\n]}')
    with pytest.raises(ConversionError) as caught:
        importers.convert("fhir", path)
    problem = caught.value.report.problems[0]
    assert problem.file == "broken.json" and problem.row == 3
    assert "not valid JSON" in problem.message


def test_text_in_numeric_value_and_dangling_reference(tmp_path: Path):
    path = tmp_path / "r.ndjson"
    path.write_text("\n".join(json.dumps(r) for r in [
        patient(),
        observation("72514-3", "valueString", "severe"),
        observation("72514-3", "valueInteger", 4, subject="Patient/nobody"),
    ]))
    with pytest.raises(ConversionError) as caught:
        importers.convert("fhir", path)
    problems = {(p.row, p.column): p.message for p in caught.value.report.problems}
    assert "'severe' is not a number" in problems[(2, "valueString")]
    assert "Patient/nobody" in problems[(3, "subject.reference")]


def test_out_of_range_score_points_at_the_resource(tmp_path: Path):
    path = tmp_path / "r.ndjson"
    path.write_text("\n".join(json.dumps(r) for r in [
        patient(), observation("72514-3", "valueInteger", 4),
        observation("72514-3", "valueInteger", 14)]))
    with pytest.raises(ConversionError) as caught:
        importers.convert("fhir", path)
    problem = caught.value.report.problems[0]
    assert (problem.file, problem.row) == ("r.ndjson", 3)
    assert "outside the range of pain_nrs" in problem.message


def test_real_synthea_bundle(shared_data: Path):
    result = importers.convert("fhir", shared_data / "synthea-sample" / "fhir-bundle-one-patient.json.gz")
    cohort = result.cohort
    assert cohort.n_patients == 1
    assert {"pain_nrs", "phq9", "gad7"} <= set(cohort.measures_present())
    # its chronic low back pain is diagnosed after its first pain score (the intake): not known
    # at intake, so not the intake diagnosis, and said so
    assert cohort.patients["diagnosis"].isna().all()
    assert any("after the patient's intake" in n.message for n in result.notices)
    assert any("not in the measure registry" in n.message for n in result.notices)


def test_an_export_with_no_pain_data_is_refused_with_the_reason(tmp_path: Path):
    path = bundle(patient(), observation("44261-6", "valueInteger", 12), path=tmp_path / "b.json")
    with pytest.raises(ConversionError) as refused:
        importers.convert("fhir", path)
    assert "no pain-related encounter, condition or score" in str(refused.value.report.summary())
    assert "set `intake:` in a mapping" in str(refused.value.report.summary())


def condition(code: str, display: str, onset: str) -> dict:
    """A SNOMED-coded Condition of patient p1 with its onset date."""
    return {"resourceType": "Condition", "subject": {"reference": "Patient/p1"},
            "code": {"coding": [{"system": "http://snomed.info/sct", "code": code,
                                 "display": display}]},
            "onsetDateTime": onset}


def test_a_condition_after_intake_does_not_become_the_diagnosis(tmp_path: Path):
    early = condition("278860009", "Chronic low back pain", "2024-01-10")
    later = condition("203082005", "Fibromyalgia", "2030-05-01")
    path = bundle(patient(), early, later, observation("72514-3", "valueInteger", 6),
                  path=tmp_path / "b.json")
    result = importers.convert("fhir", path, {"intake": "condition"})
    assert result.cohort.patients["diagnosis"].tolist() == ["Chronic low back pain"]
    assert any("after the patient's intake" in n.message for n in result.notices)


def test_a_diagnosis_after_the_landmark_does_not_change_a_risk(tmp_path: Path):
    """The model reads the diagnosis known at intake: one made later cannot move the risk."""
    from paincycle import config
    from paincycle import model as risk_model

    if not config.DEMO_MODEL.exists():
        pytest.skip("no shipped model")
    early = condition("278860009", "Chronic low back pain", "2024-01-10")
    later = condition("203082005", "Fibromyalgia", "2024-09-01")  # long after the landmark
    scores = [observation("72514-3", "valueInteger", v, when=f"2024-0{m}-10")
              for m, v in ((1, 6), (2, 7), (3, 7))]
    trained = risk_model.load(config.DEMO_MODEL)
    risks = []
    for name, conditions in (("without", [early]), ("with", [early, later])):
        path = bundle(patient(), *conditions, *scores, path=tmp_path / f"{name}.json")
        cohort = importers.convert("fhir", path, {"intake": "condition"}).cohort
        assert cohort.patients["diagnosis"].tolist() == ["Chronic low back pain"]
        risks.append(risk_model.score(trained, cohort, explain=False,
                                      as_of=pd.Timestamp("2025-01-01")).table["risk"].tolist())
    assert risks[0] == risks[1] and len(risks[0]) == 1


def test_a_score_coded_only_in_snomed_is_named_with_its_code_and_system(tmp_path: Path):
    snomed_only = {"resourceType": "Observation", "status": "final",
                   "code": {"coding": [{"system": "http://snomed.info/sct", "code": "225908003"}],
                            "text": "Pain score"},
                   "subject": {"reference": "Patient/p1"},
                   "effectiveDateTime": "2024-01-10", "valueInteger": 6}
    path = bundle(patient(), observation("72514-3", "valueInteger", 5), snomed_only,
                  path=tmp_path / "b.json")
    result = importers.convert("fhir", path)
    notice = next(n for n in result.notices if "not in the measure registry" in n.message)
    assert "225908003 (SNOMED CT, no LOINC code)" in notice.message


def test_medication_orders_that_match_no_treatment_are_counted(tmp_path: Path):
    order = {"resourceType": "MedicationRequest", "subject": {"reference": "Patient/p1"},
             "authoredOn": "2024-01-12",
             "medicationCodeableConcept": {"text": "Oxycodone 5 MG Oral Tablet"}}
    path = bundle(patient(), observation("72514-3", "valueInteger", 5), order,
                  path=tmp_path / "b.json")
    result = importers.convert("fhir", path)
    notice = next(n for n in result.notices if "match no treatment" in n.message)
    assert notice.rows == 1 and "Oxycodone" in notice.message


def test_a_child_is_not_entered_unless_the_mapping_says_so(tmp_path: Path):
    child = patient(pid="p2", identifier="MRN-8", birthDate="2015-06-01")
    path = bundle(patient(), child, observation("72514-3", "valueInteger", 5),
                  observation("72514-3", "valueInteger", 3, subject="Patient/p2"),
                  path=tmp_path / "b.json")
    result = importers.convert("fhir", path)
    assert result.cohort.patients["patient_id"].tolist() == ["MRN-7"]
    assert any("younger than 18 at intake" in n.message for n in result.notices)
    both = importers.convert("fhir", path, {"min_age_at_intake": 0})
    assert set(both.cohort.patients["patient_id"]) == {"MRN-7", "MRN-8"}


def test_other_codes_for_the_same_score_are_read_through_the_code_table(tmp_path: Path):
    path = bundle(patient(), observation("38208-5", "valueInteger", 6),
                  observation("44249-1", "valueInteger", 14, when="2024-01-11"),
                  observation("69737-5", "valueInteger", 9, when="2024-01-11"),
                  path=tmp_path / "b.json")
    cohort = importers.convert("fhir", path).cohort
    got = dict(zip(cohort.observations["measure"], cohort.observations["value"], strict=True))
    assert got == {"pain_nrs": 6.0, "phq9": 14.0, "gad7": 9.0}


def test_promis_form_t_scores_are_read_and_a_raw_score_is_not_taken_for_one(tmp_path: Path):
    """A PROMIS depression short form's T-score (77861-3) is the registry's depression T-score;
    the same form's raw score (77821-7) is never read as a T-score."""
    path = bundle(patient(), observation("38208-5", "valueInteger", 6),
                  observation("77861-3", "valueQuantity", {"value": 58.3}, when="2024-01-11"),
                  observation("77821-7", "valueQuantity", {"value": 11}, when="2024-01-11"),
                  path=tmp_path / "b.json")
    cohort = importers.convert("fhir", path).cohort
    got = dict(zip(cohort.observations["measure"], cohort.observations["value"], strict=True))
    assert got == {"pain_nrs": 6.0, "promis_depression": 58.3}
