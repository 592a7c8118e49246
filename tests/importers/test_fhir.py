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
             "medicationCodeableConcept": {"text": "Ibuprofen 400 MG Oral Tablet"}}
    path = bundle(patient(), observation("72514-3", "valueInteger", 5), order,
                  path=tmp_path / "b.json")
    result = importers.convert("fhir", path)
    notice = next(n for n in result.notices if "match no treatment" in n.message)
    assert notice.rows == 1 and "Ibuprofen" in notice.message


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


def _frequency(code: str) -> dict:
    labels = {"LA6568-5": "Not at all", "LA6569-3": "Several days",
              "LA6570-1": "More than half the days", "LA6571-9": "Nearly every day"}
    return {"valueCoding": {"system": LOINC, "code": code, "display": labels[code]}}


def test_scores_inside_components_and_panels_read_through_their_members(tmp_path: Path):
    pain = observation("72514-3", "valueInteger", 6, when="2024-01-10")
    panel = {"resourceType": "Observation", "id": "phq-panel", "status": "final",
             "code": {"coding": [{"system": LOINC, "code": "44249-1",
                                  "display": "PHQ-9 quick depression assessment panel"}]},
             "subject": {"reference": "Patient/p1"}, "effectiveDateTime": "2024-01-10",
             "hasMember": [{"reference": "Observation/phq-total"}]}
    member = {**observation("44261-6", "valueInteger", 14, when="2024-01-10"), "id": "phq-total"}
    with_components = {
        "resourceType": "Observation", "status": "final",
        "code": {"coding": [{"system": LOINC, "code": "69737-5", "display": "GAD-7 panel"}]},
        "subject": {"reference": "Patient/p1"}, "effectiveDateTime": "2024-02-01",
        "component": [
            {"code": {"coding": [{"system": LOINC, "code": "70274-6"}]}, "valueInteger": 9},
            {"code": {"coding": [{"system": LOINC, "code": "72514-3"}]},
             "valueQuantity": {"value": 5, "unit": "{score}"}},
            {"code": {"coding": [{"system": LOINC, "code": "8480-6"}]},  # not a registry score
             "valueQuantity": {"value": 120}}]}
    screening = observation("44261-6", "valueCodeableConcept",
                            {"coding": [{"system": "http://snomed.info/sct", "code": "10828004",
                                         "display": "Positive"}]}, when="2024-03-01")
    result = importers.convert("fhir", bundle(patient(), pain, panel, member, with_components,
                                              screening, path=tmp_path / "b.json"))
    obs = result.cohort.observations.sort_values(["date", "measure"])
    got = list(zip(obs["date"].dt.strftime("%Y-%m-%d"), obs["measure"], obs["value"],
                   strict=True))
    assert got == [("2024-01-10", "pain_nrs", 6), ("2024-01-10", "phq9", 14),
                   ("2024-02-01", "gad7", 9), ("2024-02-01", "pain_nrs", 5)]
    coded = [n for n in result.notices if "coded answers that are not a score" in n.message]
    assert coded and coded[0].rows == 1 and "10828004" in coded[0].message


def test_questionnaire_responses_are_scored_by_their_total_or_their_items(tmp_path: Path):
    # GAD-7 with the items' LOINC codes as linkIds (as the HL7 PGHD guide's example does)
    gad7 = {"resourceType": "QuestionnaireResponse", "status": "completed",
            "questionnaire": "http://example.org/Questionnaire/gad-7",
            "subject": {"reference": "Patient/p1"}, "authored": "2024-01-12T09:30:00+01:00",
            "item": [{"linkId": code, "answer": [_frequency(answer)]} for code, answer in zip(
                ("69725-0", "68509-9", "69733-4", "69734-2", "69735-9", "69689-8", "69736-7"),
                ("LA6568-5", "LA6569-3", "LA6570-1", "LA6571-9", "LA6569-3", "LA6568-5",
                 "LA6569-3"), strict=True)]}
    # PHQ-9 whose linkIds are the form's own ("PHQ.1"...), read through its Questionnaire
    items = ("44250-9", "44255-8", "44259-0", "44254-1", "44251-7", "44258-2", "44252-5",
             "44253-3", "44260-8")
    form = {"resourceType": "Questionnaire", "id": "phq-9", "url": "http://example.org/phq-9",
            "status": "active",
            "item": [{"linkId": f"PHQ.{i + 1}", "type": "choice",
                      "code": [{"system": LOINC, "code": code}]} for i, code in enumerate(items)]}
    phq9 = {"resourceType": "QuestionnaireResponse", "status": "completed",
            "questionnaire": "http://example.org/phq-9|1.0",
            "subject": {"reference": "Patient/p1"}, "authored": "2024-02-02",
            "item": [{"linkId": "section", "item": [
                {"linkId": f"PHQ.{i + 1}", "answer": [_frequency("LA6570-1")]}
                for i in range(9)]}]}
    # a response that gives its total (LHC-Forms style linkId '/44249-1/44261-6')
    total = {"resourceType": "QuestionnaireResponse", "status": "completed",
             "subject": {"reference": "Patient/p1"}, "authored": "2024-03-03",
             "item": [{"linkId": "/44249-1/44261-6", "answer": [{"valueInteger": 4}]},
                      {"linkId": "/44249-1/44250-9", "answer": [_frequency("LA6571-9")]}]}
    # PEG from its three 0-10 items: their mean
    peg = {"resourceType": "QuestionnaireResponse", "status": "completed",
           "subject": {"reference": "Patient/p1"}, "authored": "2024-03-04",
           "item": [{"linkId": code, "answer": [{"valueInteger": v}]}
                    for code, v in (("75893-8", 7), ("91145-3", 5), ("91146-1", 6))]}
    incomplete = {**phq9, "authored": "2024-04-01", "item": phq9["item"][0]["item"][:5]}
    result = importers.convert("fhir", bundle(
        patient(), observation("72514-3", "valueInteger", 6, when="2024-01-10"), form, gad7,
        phq9, total, peg, incomplete, path=tmp_path / "qr.json"))
    obs = result.cohort.observations
    scored = {(f"{d:%Y-%m-%d}", m): v for d, m, v in zip(obs["date"], obs["measure"],
                                                         obs["value"], strict=True)}
    assert scored[("2024-01-12", "gad7")] == 0 + 1 + 2 + 3 + 1 + 0 + 1
    assert scored[("2024-02-02", "phq9")] == 9 * 2
    assert scored[("2024-03-03", "phq9")] == 4  # the total as given, not re-scored
    assert scored[("2024-03-04", "peg")] == pytest.approx(6.0)
    assert not any(d == "2024-04-01" for d, _ in scored)  # 5 of 9 items: no score
    unscored = [n for n in result.notices if "questionnaire responses" in n.message]
    assert unscored and unscored[0].rows == 1
    assert not any("QuestionnaireResponse (" in n.message for n in result.notices)  # not skipped


def _order(name: str, when: str = "2024-01-15", kind: str = "MedicationRequest", **dosage):
    resource = {"resourceType": kind, "status": "active", "subject": {"reference": "Patient/p1"},
                "medicationCodeableConcept": {"coding": [{"system":
                    "http://www.nlm.nih.gov/research/umls/rxnorm", "display": name}],
                    "text": name}}
    resource["authoredOn" if kind == "MedicationRequest" else "effectiveDateTime"] = when
    if dosage:
        resource["dosageInstruction"] = [dosage]
    return resource


def test_opioid_orders_become_the_daily_opioid_dose_where_computable(tmp_path: Path):
    every_6_hours = {"timing": {"repeat": {"frequency": 1, "period": 6, "periodUnit": "h"}},
                     "doseAndRate": [{"doseQuantity": {"value": 1, "unit": "tablet"}}]}
    twice_daily = {"timing": {"repeat": {"frequency": 2, "period": 1, "periodUnit": "d"}},
                   "doseAndRate": [{"doseQuantity": {"value": 2}}]}
    result = importers.convert("fhir", bundle(
        patient(), observation("72514-3", "valueInteger", 6, when="2024-01-10"),
        _order("Oxycodone Hydrochloride 5 MG Oral Tablet", **every_6_hours),
        _order("Acetaminophen 325 MG / HYDROcodone Bitartrate 7.5 MG Oral Tablet",
               when="2024-02-01", **twice_daily),
        _order("72 HR Fentanyl 0.025 MG/HR Transdermal System", when="2024-03-01"),
        _order("Tramadol Hydrochloride 50 MG Oral Tablet", when="2024-04-01"),  # no dosage
        _order("Buprenorphine 2 MG Sublingual Tablet", when="2024-04-02", **twice_daily),
        _order("Duloxetine 30 MG Delayed Release Oral Capsule", when="2024-01-20",
               kind="MedicationStatement"),
        path=tmp_path / "meds.json"))
    mme = result.cohort.observations[result.cohort.observations["measure"] == "mme"]
    by_day = dict(zip(mme["date"].dt.strftime("%Y-%m-%d"), mme["value"], strict=True))
    # CDC 2022 factors: oxycodone 1.5, hydrocodone 1, fentanyl 2.4 per mcg/hour
    assert by_day == {"2024-01-15": pytest.approx(5 * 4 * 1.5),
                      "2024-02-01": pytest.approx(7.5 * 2 * 2 * 1.0),
                      "2024-03-01": pytest.approx(25 * 2.4)}
    events = result.cohort.events
    assert events.loc[events["event"] == "treatment_start", "detail"].tolist() == ["snri"]
    counted = [n for n in result.notices if "opioid orders without a computable" in n.message]
    assert counted and counted[0].rows == 2
    assert "tramadol (1)" in counted[0].message and "buprenorphine (1)" in counted[0].message
    assert not any("match no treatment" in n.message for n in result.notices)


def test_a_form_without_loinc_codes_is_scored_as_the_mapping_declares(tmp_path: Path):
    answers = [3, 2, 2, 1, 3, 2, 4]  # ISI: 7 items, 0-4 each, summed
    isi = {"resourceType": "QuestionnaireResponse", "status": "completed",
           "questionnaire": "http://clinic.example/Questionnaire/isi|2",
           "subject": {"reference": "Patient/p1"}, "authored": "2024-01-20",
           "item": [{"linkId": f"isi{i + 1}",
                     "answer": [{"valueCoding": {"system": "http://clinic.example/isi-answers",
                                                 "code": str(v)}}]}
                    for i, v in enumerate(answers)]}
    short = {**isi, "authored": "2024-02-20", "item": isi["item"][:6]}
    path = bundle(patient(), observation("72514-3", "valueInteger", 6, when="2024-01-10"), isi,
                  short, path=tmp_path / "isi.json")
    mapping = {"questionnaires": {"http://clinic.example/Questionnaire/isi": {
        "measure": "isi", "items": [f"isi{i}" for i in range(1, 8)], "rule": "sum"}}}
    result = importers.convert("fhir", path, mapping=mapping)
    obs = result.cohort.observations
    isi_rows = obs[obs["measure"] == "isi"]
    assert isi_rows["value"].tolist() == [sum(answers)]
    assert [f"{d:%Y-%m-%d}" for d in isi_rows["date"]] == ["2024-01-20"]
    missing = [n for n in result.notices if "questionnaire responses" in n.message]
    assert missing and "items missing" in missing[0].message
    # without the declaration the registry cannot know the form: counted, not guessed
    plain = importers.convert("fhir", path)
    assert "isi" not in set(plain.cohort.observations["measure"])
    assert any("questionnaire responses" in n.message and n.rows == 2 for n in plain.notices)
    bad = {"questionnaires": {"http://clinic.example/Questionnaire/isi": {
        "measure": "isi", "items": ["isi1"], "rule": "median"}}}
    with pytest.raises(ConversionError, match="use sum or mean"):
        importers.convert("fhir", path, mapping=bad)
