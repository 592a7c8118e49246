"""Test helpers: write a canonical cohort the way an EHR or a REDCap project would export it.

The round-trip tests convert these back and compare (patient, day, measure,
value), so each writer uses the clinic-side idioms on purpose: FHIR
references as urn:uuid, identifiers as record numbers, timestamps with
offsets; REDCap events per day since intake, M/D/Y dates, checkbox columns.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pandas as pd

from paincycle import measures
from paincycle.cohort import Cohort


def write_fhir_bundle(cohort: Cohort, path: Path) -> Path:
    """One transaction Bundle: Patients (urn:uuid), an intake Encounter, scored Observations."""
    entries = []
    urls = {}
    for row in cohort.patients.itertuples():
        resource_id = str(uuid.uuid5(uuid.NAMESPACE_URL, row.patient_id))
        urls[row.patient_id] = f"urn:uuid:{resource_id}"
        patient = {"resourceType": "Patient", "id": resource_id,
                   "identifier": [{"system": "urn:clinic:mrn", "value": row.patient_id}]}
        if isinstance(row.sex, str):
            patient["gender"] = row.sex
        if pd.notna(row.birth_year):
            patient["birthDate"] = f"{int(row.birth_year)}-06-15"
        entries.append({"fullUrl": urls[row.patient_id], "resource": patient})
        entries.append({"fullUrl": f"urn:uuid:{uuid.uuid4()}", "resource": {
            "resourceType": "Encounter", "status": "finished",
            "subject": {"reference": urls[row.patient_id]},
            "reasonCode": [{"coding": [{"system": "http://snomed.info/sct", "code": "82423001"}]}],
            # Late evening with a negative offset: the UTC day would be the next one.
            "period": {"start": f"{row.intake_date:%Y-%m-%d}T22:30:00-08:00"}}})
    for i, row in enumerate(cohort.observations.itertuples()):
        loinc = measures.MEASURES[row.measure].loinc
        value_key = ("valueInteger", int(row.value)) if i % 3 == 0 and row.value == int(row.value) \
            else ("valueQuantity", {"value": row.value, "unit": "{score}"})
        entries.append({"fullUrl": f"urn:uuid:{uuid.uuid4()}", "resource": {
            "resourceType": "Observation", "status": "final",
            "code": {"coding": [{"system": "http://loinc.org", "code": loinc}]},
            "subject": {"reference": urls[row.patient_id] if i % 2 else
                        f"Patient/{urls[row.patient_id].removeprefix('urn:uuid:')}"},
            "effectiveDateTime": f"{row.date:%Y-%m-%d}T23:15:00-05:00",
            value_key[0]: value_key[1]}})
    path.write_text(json.dumps({"resourceType": "Bundle", "type": "collection", "entry": entries}))
    return path


def write_redcap_export(cohort: Cohort, folder: Path) -> tuple[Path, Path]:
    """A longitudinal REDCap export (one row per record and event) and its YAML mapping."""
    obs = cohort.observations.merge(cohort.patients[["patient_id", "intake_date"]], on="patient_id")
    obs["day"] = (obs["date"] - obs["intake_date"]).dt.days
    fields = {code: f"{code}_score" for code in sorted(obs["measure"].unique())}
    days = sorted(set(obs["day"]) | {0})
    event_of = {d: f"day_{d}_arm_1".replace("-", "minus") for d in days}
    rows = []
    for patient in cohort.patients.itertuples():
        mine = obs[obs["patient_id"] == patient.patient_id]
        for day in days:
            at_day = mine[mine["day"] == day]
            if at_day.empty and day != 0:
                continue
            row = {"record_id": patient.patient_id, "redcap_event_name": event_of[day],
                   "redcap_repeat_instrument": "", "redcap_repeat_instance": ""}
            if day == 0:
                row["intake_date"] = f"{patient.intake_date.month}/{patient.intake_date.day}/" \
                                     f"{patient.intake_date.year}"
                row["sex"] = {"female": "1", "male": "2"}.get(patient.sex, "")
            for item in at_day.itertuples():
                row[fields[item.measure]] = f"{item.value:g}"
            rows.append(row)
    columns = ["record_id", "redcap_event_name", "redcap_repeat_instrument",
               "redcap_repeat_instance", "intake_date", "sex", *fields.values()]
    export = folder / "export.csv"
    pd.DataFrame(rows).reindex(columns=columns).fillna("").to_csv(export, index=False)
    mapping = {"format": "redcap", "intake": {"field": "intake_date"},
               "events": {event_of[d]: int(d) for d in days},
               "measures": {f: code for code, f in fields.items()},
               "patient": {"sex": {"field": "sex", "values": {"1": "female", "2": "male"}}}}
    mapping_path = folder / "mapping.yaml"
    import yaml

    mapping_path.write_text(yaml.safe_dump(mapping))
    return export, mapping_path


def day_rows(cohort: Cohort) -> set[tuple[str, int, str, float]]:
    """(patient, day since intake, measure, value): what a round trip must preserve."""
    obs = cohort.observations.merge(cohort.patients[["patient_id", "intake_date"]], on="patient_id")
    days = (obs["date"] - obs["intake_date"]).dt.days
    return {(p, int(d), m, round(float(v), 6))
            for p, d, m, v in zip(obs["patient_id"], days, obs["measure"], obs["value"], strict=True)}
