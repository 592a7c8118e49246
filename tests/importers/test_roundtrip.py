"""A cohort written as a FHIR Bundle and as a REDCap export converts back to the same scores."""

from __future__ import annotations

from pathlib import Path

from cohort_writers import day_rows, write_fhir_bundle, write_redcap_export

from paincycle import importers


def test_fhir_bundle_round_trip(sample_cohort, tmp_path: Path):
    bundle = write_fhir_bundle(sample_cohort, tmp_path / "bundle.json")
    result = importers.convert("fhir", bundle, {"intake": "encounter"})
    assert day_rows(result.cohort) == day_rows(sample_cohort)
    back = result.cohort.patients.set_index("patient_id")
    original = sample_cohort.patients.set_index("patient_id")
    assert list(back.index) == list(original.index)  # identifier value, not the resource id
    assert (back["intake_date"] == original["intake_date"]).all()
    assert (back["sex"] == original["sex"]).all()


def test_fhir_default_intake_is_earliest_pain_encounter_or_score(sample_cohort, tmp_path: Path):
    bundle = write_fhir_bundle(sample_cohort, tmp_path / "bundle.json")
    result = importers.convert("fhir", bundle)
    # Every patient's pain-reason encounter is on intake and no pain score precedes it.
    assert day_rows(result.cohort) == day_rows(sample_cohort)


def test_redcap_export_round_trip(sample_cohort, tmp_path: Path):
    export, mapping = write_redcap_export(sample_cohort, tmp_path)
    result = importers.convert("redcap", export, importers.load_mapping(mapping))
    assert day_rows(result.cohort) == day_rows(sample_cohort)
    back = result.cohort.patients.set_index("patient_id")
    assert back.loc["MRN-002", "sex"] == "male"
    assert str(back.loc["MRN-003", "intake_date"].date()) == "2024-12-31"
