"""Synthea CSV exports: patients, observations, conditions, medications (encounters optional).

Synthea is the synthetic patient generator many EHR test systems are filled
from. Columns are matched by name (headers differ between Synthea releases);
observations are matched by LOINC CODE, never by DESCRIPTION. The intake date
is the onset of the patient's first chronic-pain condition (SNOMED 82423001,
278860009, 1121000119107, 203082005), which also names the diagnosis; patients
without one start at their first pain score. Timestamps are UTC and become the
UTC calendar day.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from paincycle import measures
from paincycle.cohort import ValidationReport
from paincycle.importers.common import (
    CHRONIC_PAIN_SNOMED,
    NOT_A_DATE,
    Conversion,
    ConversionError,
    Notice,
    Progress,
    column,
    diagnosis_label,
    early_rows,
    early_rows_notice,
    fail,
    find_file,
    finish,
    known_at_intake,
    no_progress,
    parse_dates,
    parse_numbers,
    read_csv,
    read_inputs,
    report_bad,
    too_young,
    too_young_notice,
    unknown_codes_notice,
)
from paincycle.importers.fhir import TREATMENT_MEDICATIONS
from paincycle.importers.mapping import MappingReader

KIND = "synthea"
NEEDS_MAPPING = False
#: Who enters the cohort, and when: "condition" (the default) a chronic-pain condition, at its
#: onset; "pain_score" also those with pain scores only, at their first. Synthea records pain at
#: every visit, so pain scores alone once enrolled newborns and people long dead.
ENTRY_RULES = ("condition", "pain_score")


def convert(path: str, mapping: dict[str, Any] | None = None,
            progress: Progress = no_progress) -> Conversion:
    reader = MappingReader(mapping, KIND)
    entry = reader.text("entry", "condition") or "condition"
    if entry not in ENTRY_RULES:
        reader.error("entry", f"use one of {', '.join(ENTRY_RULES)}")
    min_age = reader.min_age()
    extra_loinc = {str(c): m for c, m in reader.table("loinc").items() if reader.measure(f"loinc.{c}", m)}
    reader.raise_if_any()
    files = read_inputs(path)
    tables = {}
    for table in ("patients", "observations", "conditions", "medications", "encounters"):
        name = find_file(files, table)
        if name is None and table in ("patients", "observations"):
            raise fail(str(path), None, None, f"no {table}.csv found: a Synthea export has "
                       "patients.csv and observations.csv (conditions.csv and medications.csv too)")
        if name is not None:
            progress(0.1, f"Reading {name}")
            tables[table] = (name, read_csv(name, files[name]))
    report = ValidationReport()
    source = str(path).rstrip("/").rsplit("/", 1)[-1]
    notices: list[Notice] = []

    pfile, praw = tables["patients"]
    ofile, oraw = tables["observations"]
    for file, raw, what in ((pfile, praw, "patients"), (ofile, oraw, "observations")):
        if raw.empty:
            raise fail(file, None, None, f"the file has a header but no {what}")
    pid_col = column(praw, "Id", pfile)
    birth, bad_birth = parse_dates(praw[column(praw, "BIRTHDATE", pfile)])
    report_bad(report, pfile, bad_birth, "BIRTHDATE", praw[column(praw, "BIRTHDATE", pfile)],
               NOT_A_DATE, "bad date")
    gender_col = column(praw, "GENDER", pfile, required=False)
    sex = (praw[gender_col].str.strip().str.upper().map({"F": "female", "M": "male"})
           if gender_col else pd.Series(None, index=praw.index))
    patients = pd.DataFrame({"patient_id": praw[pid_col].str.strip(), "sex": sex,
                             "birth_year": birth.dt.year.astype("Int64")})

    progress(0.3, "Scores")
    obs_pid = oraw[column(oraw, "PATIENT", ofile)].str.strip()
    code = oraw[column(oraw, "CODE", ofile)].str.strip()
    date_col = column(oraw, "DATE", ofile)
    value_col = column(oraw, "VALUE", ofile)
    desc_col = column(oraw, "DESCRIPTION", ofile, required=False)
    lookup = {code: m.code for code, m in measures.BY_LOINC.items()} | extra_loinc
    measure = code.map(lookup)
    known = measure.notna()
    notice = unknown_codes_notice(ofile, "CODE", code[~known], "LOINC codes not in the measure "
                                  "registry (add them under 'loinc' in a mapping to keep them)",
                                  oraw.loc[~known, desc_col] if desc_col else None)
    if notice:
        notices.append(notice)
    values, bad_value = parse_numbers(oraw[value_col].where(known, ""))
    report_bad(report, ofile, bad_value, value_col, oraw[value_col],
               "not a number (text in a numeric field)", "bad value")
    dates, bad_date = parse_dates(oraw[date_col].where(known, ""))
    report_bad(report, ofile, bad_date, date_col, oraw[date_col], NOT_A_DATE, "bad date")
    obs = pd.DataFrame({"patient_id": obs_pid, "date": dates, "measure": measure, "value": values,
                        "_row": np.arange(len(oraw)) + 2})[known & values.notna()]

    if report.ok and obs.empty:
        raise fail(ofile, None, "CODE", "no score PainCycle reads: none of the observations' LOINC "
                   "codes is in the measure registry (add them under 'loinc' in a mapping)")
    conditions = _conditions(tables.get("conditions"), report)
    onset = conditions.groupby("patient_id")["start"].min()
    events = _events(tables, report, notices)
    if not report.ok:
        raise ConversionError(report)

    progress(0.6, "Intake dates")
    pain = obs[obs["measure"].map(measures.domain_of) == "pain"]
    first_pain = pain.groupby("patient_id")["date"].min()
    intake = pd.to_datetime(patients["patient_id"].map(onset))
    if entry == "pain_score":
        intake = intake.fillna(patients["patient_id"].map(first_pain))
    patients["intake_date"] = intake
    diagnoses, later = known_at_intake(conditions, patients.set_index("patient_id")["intake_date"])
    patients["diagnosis"] = patients["patient_id"].map(diagnoses)
    if later:
        notices.append(Notice(tables["conditions"][0], "START", later,
                              "chronic-pain diagnoses made after the patient's intake are not the "
                              "intake diagnosis (the cohort format's diagnosis is the one known "
                              "at intake, so a model cannot learn from a later one)"))
    fallback = patients["diagnosis"].isna() & intake.notna()
    if fallback.any():
        notices.append(Notice(pfile, None, int(fallback.sum()),
                              "patients without a chronic-pain condition start at their first pain score"))
    young = too_young(patients, min_age)
    notice = too_young_notice(pfile, int(young.sum()), min_age)
    if notice:
        notices.append(notice)
    missing = intake.isna() & ~young
    if missing.any() and entry == "condition":
        notices.append(Notice(pfile, None, int(missing.sum()),
                              "patients without a chronic-pain condition did not enter the cohort "
                              "(entry: condition, the default; `entry: pain_score` enters them "
                              "at their first pain score)"))
    elif missing.any():
        notices.append(Notice(pfile, None, int(missing.sum()),
                              "patients with neither a chronic-pain condition nor a pain score were "
                              "left out (no intake date)"))
    patients = patients[intake.notna() & ~young].reset_index(drop=True)
    if patients.empty and report.ok:
        raise fail(pfile, None, None, "no patient enters the cohort: "
                   + ("none has a chronic-pain condition (entry: condition); set `entry: "
                      "pain_score` in a mapping to enter patients at their first pain score"
                      if entry == "condition" else "none has a chronic-pain condition or a pain "
                      "score")
                   + (f", at {min_age} or older" if young.any() else ""))
    starts = patients.set_index("patient_id")["intake_date"]
    obs = obs[obs["patient_id"].isin(starts.index)]
    events = events[events["patient_id"].isin(starts.index)].astype({"date": "datetime64[ns]"})
    early_obs, early_events = early_rows(obs, starts), early_rows(events, starts)
    notice = early_rows_notice(source, "DATE/START", int(early_obs.sum() + early_events.sum()))
    if notice:
        notices.append(notice)
    obs = obs[~early_obs].reset_index(drop=True)
    events = events[~early_events].sort_values(["patient_id", "date"]).reset_index(drop=True)
    provenance = {"observations": pd.DataFrame({"file": ofile, "row": obs["_row"], "column": value_col})}
    progress(0.85, "Validating")
    result = finish(patients, obs.drop(columns="_row"), events[["patient_id", "date", "event", "detail"]],
                    name="", source=source, notices=notices, provenance=provenance)
    progress(1.0, "Done")
    return result


def _conditions(table, report: ValidationReport) -> pd.DataFrame:
    """Each patient's chronic-pain conditions with their onset, in onset order."""
    if table is None:
        return pd.DataFrame({"patient_id": pd.Series(dtype=str),
                             "start": pd.Series(dtype="datetime64[ns]"),
                             "label": pd.Series(dtype=str)})
    cfile, craw = table
    code = craw[column(craw, "CODE", cfile)].str.strip()
    start_col = column(craw, "START", cfile)
    pain = code.isin(list(CHRONIC_PAIN_SNOMED))
    start, bad = parse_dates(craw[start_col].where(pain, ""))
    report_bad(report, cfile, bad, start_col, craw[start_col], NOT_A_DATE, "bad date")
    desc_col = column(craw, "DESCRIPTION", cfile, required=False)
    label = (craw[desc_col].map(diagnosis_label) if desc_col
             else code.map(CHRONIC_PAIN_SNOMED))
    found = pd.DataFrame({"patient_id": craw[column(craw, "PATIENT", cfile)].str.strip(),
                          "start": start, "label": label})[pain & start.notna()]
    return found.sort_values("start", kind="stable")


def _events(tables: dict, report: ValidationReport, notices: list[Notice]) -> pd.DataFrame:
    """Treatments from medications.csv (by drug name) and attended encounters."""
    parts = []
    if "medications" in tables:
        mfile, mraw = tables["medications"]
        desc_col = column(mraw, "DESCRIPTION", mfile)
        desc = mraw[desc_col].str.lower()
        matched = pd.Series(False, index=mraw.index)
        for detail, words in TREATMENT_MEDICATIONS.items():
            hit = desc.str.contains("|".join(words), regex=True)
            matched |= hit
            for col, event in (("START", "treatment_start"), ("STOP", "treatment_stop")):
                name = column(mraw, col, mfile, required=col == "START")
                if name is None:
                    continue
                dates, bad = parse_dates(mraw[name].where(hit, ""))
                report_bad(report, mfile, bad, name, mraw[name], NOT_A_DATE, "bad date")
                parts.append(pd.DataFrame({"patient_id": mraw[column(mraw, "PATIENT", mfile)].str.strip(),
                                           "date": dates, "event": event, "detail": detail})[
                    hit & dates.notna()])
        if (~matched).any():
            names = mraw.loc[~matched, desc_col].str.slice(0, 50).value_counts().head(6)
            listed = ", ".join(f"{name} ({n})" for name, n in names.items())
            notices.append(Notice(mfile, desc_col, int((~matched).sum()),
                                  "medication orders that match no treatment PainCycle tracks "
                                  f"were left out: {listed}"))
    if "encounters" in tables:
        efile, eraw = tables["encounters"]
        start_col = column(eraw, "START", efile)
        dates, bad = parse_dates(eraw[start_col])
        report_bad(report, efile, bad, start_col, eraw[start_col], NOT_A_DATE, "bad date")
        parts.append(pd.DataFrame({"patient_id": eraw[column(eraw, "PATIENT", efile)].str.strip(),
                                   "date": dates, "event": "appointment_attended", "detail": None})[
            dates.notna()])
    if not parts:
        return pd.DataFrame(columns=["patient_id", "date", "event", "detail"])
    return pd.concat(parts, ignore_index=True)
