"""FHIR R4 exports: a Bundle, a folder or zip of Bundles, or NDJSON (bulk export).

What becomes what:
- Patient -> a patient; the id is the first identifier's value (the clinic's
  record number) where there is one, else the resource id.
- Observation with a LOINC code from the measure registry -> a score; the
  value may be valueQuantity, valueInteger, valueDecimal or a LOINC answer
  code of the 0-10 pain scale. Scores inside ``component`` are read the same
  way; a panel whose scores are its ``hasMember`` Observations is read through
  them. Other codes are counted and reported, and so are coded answers that
  are not a score.
- QuestionnaireResponse -> a score from its total item (a registry code), or
  from every item of an instrument the registry scores from items (PHQ-9 and
  GAD-7 summed from their frequency answers, PEG averaged). Items are known by
  the LOINC code of the Questionnaire in the input (linkIds vary by form), else
  a LOINC code in the linkId or definition. Unscored responses are counted.
- Condition with a chronic-pain SNOMED code -> the patient's diagnosis.
- Encounter -> appointment attended (finished) or missed (cancelled, no-show);
  MedicationRequest or MedicationStatement for a named treatment (e.g. duloxetine ->
  snri) -> treatment start. An opioid with a computable daily dose (strength in
  its name, dose and timing in its dosage) -> the daily opioid dose in morphine
  milligram equivalents (measures.MME_FACTORS); other opioid orders are counted.
- Dates are the calendar day as written: 2024-03-01T23:30:00-08:00 is 1 March.
- Intake is the earliest pain-related encounter or pain observation, unless
  the mapping says ``intake: condition`` (chronic-pain onset) or gives a date.
Plain JSON parsing is enough for this subset; no FHIR model library is needed.
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from datetime import date
from pathlib import PurePosixPath
from typing import Any

import pandas as pd

from paincycle import measures
from paincycle.cohort import Problem, ValidationReport
from paincycle.importers.common import (
    CHRONIC_PAIN_SNOMED,
    Conversion,
    ConversionError,
    Notice,
    Progress,
    decode,
    diagnosis_label,
    early_rows,
    early_rows_notice,
    empty_events,
    fail,
    finish,
    known_at_intake,
    no_progress,
    read_inputs,
    too_young,
    too_young_notice,
    unknown_codes_notice,
)
from paincycle.importers.mapping import MappingReader

KIND = "fhir"
NEEDS_MAPPING = False
LOINC = "http://loinc.org"
SNOMED = "http://snomed.info/sct"

#: LOINC answer list for the 0-10 verbal numeric pain rating (72514-3): answer code -> score.
PAIN_ANSWERS: dict[str, float] = {
    "LA6111-4": 0, "LA6112-2": 1, "LA6113-0": 2, "LA6114-8": 3, "LA6115-5": 4, "LA10137-0": 5,
    "LA10138-8": 6, "LA10139-6": 7, "LA10140-4": 8, "LA10141-2": 9, "LA13942-0": 10,
}

#: Medication names that mean a treatment the cohort format knows; a mapping may add more.
TREATMENT_MEDICATIONS: dict[str, list[str]] = {
    "snri": ["duloxetine", "venlafaxine", "desvenlafaxine", "milnacipran", "levomilnacipran"],
}

ATTENDED = {"finished", "arrived", "in-progress", "fulfilled", "checked-in"}
MISSED = {"cancelled", "noshow"}


class _Where:
    """Where one resource sits: file plus NDJSON line or Bundle entry index."""

    def __init__(self, file: str, line: int | None = None, entry: int | None = None):
        self.file, self.line, self.entry = file, line, entry

    def field(self, path: str) -> str:
        return f"entry[{self.entry}].resource.{path}" if self.entry is not None else path


def convert(path: str, mapping: dict[str, Any] | None = None,
            progress: Progress = no_progress) -> Conversion:
    files = read_inputs(path)
    names = [n for n in files if n.lower().endswith((".json", ".ndjson"))]
    if not names:
        raise fail(PurePosixPath(str(path)).name, None, None,
                   "no FHIR files found: expected .json Bundles or .ndjson resources")
    reader = MappingReader(mapping, KIND)
    options = _Options(reader)
    reader.raise_if_any()
    resources: list[tuple[dict[str, Any], str | None, _Where]] = []
    for i, name in enumerate(names):
        progress(0.4 * i / len(names), f"Reading {name}")
        resources += _resources(name, files[name])
    progress(0.4, "Linking resources")
    return _Builder(options).build(resources, PurePosixPath(str(path)).name, progress)


def _resources(name: str, data: bytes) -> list[tuple[dict[str, Any], str | None, _Where]]:
    text = decode(name, data)
    out = []
    if name.lower().endswith(".ndjson"):
        for number, line in enumerate(text.splitlines(), start=1):
            if line.strip():
                resource = _json(name, line, number)
                out.append((resource, None, _Where(name, line=number)))
        return out
    document = _json(name, text, None)
    if document.get("resourceType") == "Bundle":
        for index, entry in enumerate(_list(document.get("entry"))):
            if isinstance(entry, dict) and isinstance(entry.get("resource"), dict):
                out.append((entry["resource"], _text(entry.get("fullUrl")), _Where(name, entry=index)))
        return out
    return [(document, None, _Where(name))]


def _json(name: str, text: str, line: int | None) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        at = line if line is not None else exc.lineno
        raise fail(name, at, None, f"not valid JSON: {exc.msg} (line {at}, column {exc.colno})") from None
    except (RecursionError, ValueError):  # nesting too deep, or an integer of thousands of digits
        raise fail(name, line, None, "JSON nested too deep for FHIR, or a number thousands of "
                   "digits long") from None
    if not isinstance(value, dict) or "resourceType" not in value:
        raise fail(name, line, "resourceType",
                   "not a FHIR resource: expected a JSON object with a resourceType")
    return value


class _Options:
    def __init__(self, reader: MappingReader):
        intake = reader.get("intake", "earliest_pain")
        self.intake_rule, self.intake_date = "earliest_pain", None
        if isinstance(intake, date) or (isinstance(intake, str) and intake[:1].isdigit()):
            self.intake_rule, self.intake_date = "fixed", reader.date("intake", intake)
        elif intake in ("earliest_pain", "condition", "encounter"):
            self.intake_rule = intake
        else:
            reader.error("intake", "use earliest_pain, condition, encounter or a date")
        self.min_age = reader.min_age()
        self.loinc = {str(code): m for code, m in reader.table("loinc").items()
                      if reader.measure(f"loinc.{code}", m)}
        self.diagnoses = {**CHRONIC_PAIN_SNOMED, **{str(k): str(v) for k, v in
                                                    reader.table("diagnosis_codes").items()}}
        self.treatments = {k: [w.lower() for w in v] for k, v in TREATMENT_MEDICATIONS.items()}
        for detail, words in reader.table("treatments").items():
            self.treatments[detail] = [str(w).lower() for w in (words or [])]
        #: questionnaire canonical -> (measure, its items' linkIds, sum or mean): forms whose
        #: items have no LOINC codes (the ISI), scored as the clinic declares
        self.forms: dict[str, tuple[str, tuple[str, ...], str]] = {}
        for form, spec in reader.table("questionnaires").items():
            key = f"questionnaires.{form}"
            spec = spec if isinstance(spec, dict) else {}
            code = reader.measure(f"{key}.measure", spec.get("measure"))
            links = spec.get("items")
            rule = spec.get("rule", "sum")
            if not isinstance(links, list) or not links:
                reader.error(f"{key}.items", "list the linkIds of the items to score")
            elif rule not in ("sum", "mean"):
                reader.error(f"{key}.rule", "use sum or mean")
            elif code:
                self.forms[form] = (code, tuple(str(link) for link in links), rule)

    def measure_of(self, code: str) -> str | None:
        if code in self.loinc:
            return self.loinc[code]
        known = measures.BY_LOINC.get(code)
        return known.code if known else None


# Exports are read defensively: a field of the wrong JSON type (a list where FHIR has a
# string, a string where it has an object) reads as absent, never as a crash.

def _obj(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _text(value: Any) -> str | None:
    """A FHIR string (an integer id is taken as its digits); anything else is absent."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return str(value) if abs(value) < 10**30 else None
    return value if isinstance(value, str) else None


def _system_name(system: Any) -> str:
    """A code system as a clinician's data team says it: SNOMED CT, LOINC, or its URL."""
    known = {SNOMED: "SNOMED CT", LOINC: "LOINC", "http://www.nlm.nih.gov/research/umls/rxnorm":
             "RxNorm"}
    if not isinstance(system, str) or not system:
        return "no system"
    return known.get(system, system[:60])


def _codes(concept: Any, system: str | None = None) -> list[tuple[str, str]]:
    """(code, display) pairs of a CodeableConcept, optionally of one code system."""
    concept = _obj(concept)
    out = []
    for coding in _list(concept.get("coding")):
        coding = _obj(coding)
        code, coding_system = _text(coding.get("code")), coding.get("system")
        if code and (system is None or coding_system in (system, None)):
            out.append((code, _text(coding.get("display")) or _text(concept.get("text")) or ""))
    return out


def _day(value: Any) -> str | None:
    """'2014-01-29T08:00:43-08:00' -> '2014-01-29': the local calendar day as written."""
    if not isinstance(value, str) or len(value) < 10:
        return None
    day = value[:10]
    try:
        date.fromisoformat(day)
    except ValueError:
        return None
    return day


def _first_day(resource: dict[str, Any], *keys: str) -> str | None:
    for key in keys:
        value = resource.get(key)
        if isinstance(value, dict):
            value = value.get("start")
        day = _day(value)
        if day:
            return day
    return None


_STRENGTH = re.compile(r"(\d+(?:\.\d+)?)\s*(mg|mcg|µg)(\s*/\s*(?:hr|h|hour)\b)?", re.I)
_PER_DAY = {"d": 1.0, "h": 24.0, "wk": 1 / 7, "min": 1440.0}


def _daily_mme(drug: str, names: str, resource: dict[str, Any]) -> float | None:
    """Morphine milligram equivalents per day of one opioid order, or None when the name has
    no strength or the dosage no dose and timing (a patch needs only its mcg/hour)."""
    factor = measures.MME_FACTORS.get(drug)
    match = _STRENGTH.search(names, names.find(drug))  # the strength after the opioid's name
    if factor is None or match is None:
        return None
    amount, unit, per_hour = float(match.group(1)), match.group(2).lower(), match.group(3)
    if per_hour:  # a transdermal patch: the factor is per mcg/hour, worn continuously
        return amount * (1000.0 if unit == "mg" else 1.0) * factor if drug == "fentanyl" else None
    mg = amount / 1000.0 if unit in ("mcg", "µg") else amount
    dosage = _obj(next(iter(_list(resource.get("dosageInstruction"))), None))
    dose_and_rate = _obj(next(iter(_list(dosage.get("doseAndRate"))), None))
    units = _obj(dose_and_rate.get("doseQuantity")).get("value", 1)
    repeat = _obj(_obj(dosage.get("timing")).get("repeat"))
    frequency, period = repeat.get("frequency"), repeat.get("period", 1)
    per_day = _PER_DAY.get(str(repeat.get("periodUnit", "")))
    numbers = (units, frequency, period)
    if per_day is None or not all(isinstance(n, (int, float)) and not isinstance(n, bool)
                                  and n > 0 for n in numbers):
        return None
    return mg * float(units) * float(frequency) / float(period) * per_day * factor


def _complete_instruments(answers: dict[str, float]) -> list[measures.Measure]:
    """The measures scored from items (measures.Measure.items) with every item answered."""
    found = {m.code: m for m in map(measures.BY_ITEM.get, answers) if m}
    return [m for m in found.values() if all(i in answers for i in m.items)]


def _combine(values: list[float], rule: str | None) -> float:
    """Item answers as one score: their sum, or their mean."""
    return float(sum(values) if rule == "sum" else sum(values) / len(values))


def _item_score(measure: measures.Measure, answers: dict[str, float]) -> float:
    """A measure scored from its items (measures.Measure.items) by its rule."""
    return _combine([answers[i] for i in measure.items], measure.item_rule)


def _walk_items(items: Any):
    """Every item of a questionnaire (response), nested items and items under answers too."""
    for item in _list(items):
        item = _obj(item)
        yield item
        yield from _walk_items(item.get("item"))
        for answer in _list(item.get("answer")):
            yield from _walk_items(_obj(answer).get("item"))


def _questionnaire_items(resources) -> dict[str, dict[str, str]]:
    """Questionnaire canonical (url, Questionnaire/id, id) -> {linkId: LOINC code of the item}:
    how a response's linkIds are read when the form's own ids are not codes."""
    forms: dict[str, dict[str, str]] = {}
    for resource, _url, _where in resources:
        if resource.get("resourceType") != "Questionnaire":
            continue
        items = {link: codes[0][0] for item in _walk_items(resource.get("item"))
                 if (link := _text(item.get("linkId")))
                 and (codes := _codes({"coding": _list(item.get("code"))}, LOINC))}
        rid = _text(resource.get("id"))
        for key in (_text(resource.get("url")), f"Questionnaire/{rid}" if rid else None, rid):
            if key:
                forms[key] = items
    return forms


_LOINC_PATTERN = re.compile(r"(?<![\w-])(\d{1,7}-\d)(?![\w-])")


def _code_in(item: dict[str, Any]) -> str | None:
    """A LOINC code written in a response item's linkId or definition (the last one: in
    '/44249-1/44250-9' the item, not its panel)."""
    for text in (_text(item.get("linkId")), _text(item.get("definition"))):
        found = _LOINC_PATTERN.findall(text or "")
        if found:
            return found[-1]
    return None


def _answer_value(item: dict[str, Any]) -> float | None:
    """A response item's first answer as a number: an integer or decimal, a PHQ/GAD frequency
    answer code, or an ordinal value given on the coding."""
    for answer in _list(item.get("answer")):
        answer = _obj(answer)
        for key in ("valueInteger", "valueDecimal", "valueQuantity"):
            value = answer.get(key)
            value = _obj(value).get("value") if key == "valueQuantity" else value
            if isinstance(value, (int, float)) and not isinstance(value, bool) \
                    and math.isfinite(value):
                return float(value)
        coding = _obj(answer.get("valueCoding"))
        code = _text(coding.get("code"))
        if code in measures.FREQUENCY_ANSWERS:
            return float(measures.FREQUENCY_ANSWERS[code])
        if code in PAIN_ANSWERS:
            return float(PAIN_ANSWERS[code])
        for extension in _list(coding.get("extension")):
            extension = _obj(extension)
            if str(extension.get("url", "")).endswith(("ordinalValue", "itemWeight")):
                value = extension.get("valueDecimal")
                if isinstance(value, (int, float)) and not isinstance(value, bool):
                    return float(value)
        if code and code.isdigit() and len(code) <= 2:  # a local answer list coded 0, 1, 2...
            return float(code)
    return None


class _Builder:
    def __init__(self, options: _Options):
        self.options = options
        self.report = ValidationReport()
        self.notices: list[Notice] = []

    def problem(self, where: _Where, path: str | None, message: str, kind: str) -> None:
        self.report.add(Problem(where.file, where.line, where.field(path) if path else None, message), kind)

    def build(self, resources: list[tuple[dict[str, Any], str | None, _Where]], source: str,
              progress: Progress) -> Conversion:
        patients, refs = self._patients(resources)
        self.forms = _questionnaire_items(resources)
        obs_rows, cond_rows, event_rows = [], [], []
        unknown, unknown_labels, skipped, unmatched_drugs = [], [], Counter(), Counter()
        self.coded_answers: Counter = Counter()
        self.opioids_without_dose: Counter = Counter()
        self.unscored_forms: Counter = Counter()
        for resource, _url, where in resources:
            kind = _text(resource.get("resourceType")) or "(no resourceType)"
            if kind in ("Patient", "Questionnaire"):
                continue
            if kind not in ("Observation", "Condition", "Encounter", "MedicationRequest",
                            "MedicationStatement", "QuestionnaireResponse"):
                skipped[kind[:40]] += 1
                continue
            subject = _obj(resource.get("subject")) or _obj(resource.get("patient"))
            ref = _text(subject.get("reference"))
            pid = refs.get(ref) or (refs.get(ref.rsplit("/", 2)[-2] + "/" + ref.rsplit("/", 1)[-1])
                                   if isinstance(ref, str) and ref.count("/") >= 2 else None)
            if pid is None:
                self.problem(where, "subject.reference",
                             f"{kind} refers to patient '{ref}', which is not a Patient in the input",
                             "unknown patient")
                continue
            if kind == "Observation":
                obs_rows.extend(self._observation(resource, where, pid, unknown, unknown_labels))
            elif kind == "QuestionnaireResponse":
                obs_rows.extend(self._questionnaire_response(resource, where, pid))
            elif kind == "Condition":
                row = self._condition(resource, pid)
                if row:
                    cond_rows.append(row)
            elif kind == "Encounter":
                row = self._encounter(resource, pid)
                if row:
                    event_rows.append(row)
            else:
                row = self._medication(resource, pid)
                dose = None if row else self._opioid_dose(resource, where, pid)
                if row:
                    event_rows.append(row)
                elif dose:
                    obs_rows.append(dose)
                elif not self._is_opioid(resource):
                    unmatched_drugs[self._drug_name(resource)] += 1
        if not self.report.ok:
            raise ConversionError(self.report)
        if unmatched_drugs:
            listed = ", ".join(f"{name} ({n})" for name, n in unmatched_drugs.most_common(6))
            self.notices.append(Notice(
                source, "MedicationRequest", sum(unmatched_drugs.values()),
                "medication orders that match no treatment PainCycle tracks were left out "
                f"(add words under 'treatments' in a mapping to keep them): {listed}"))
        progress(0.7, "Intake dates")
        if unknown:
            notice = unknown_codes_notice(source, "Observation.code", pd.Series(unknown),
                                          "observation codes not in the measure registry "
                                          "(add them under 'loinc' in a mapping to keep them)",
                                          pd.Series(unknown_labels))
            self.notices.append(notice)
        for column, counted, message in (
                ("MedicationRequest.dosageInstruction", self.opioids_without_dose,
                 "opioid orders without a computable daily dose (strength in the name, dose "
                 "and timing in the dosage) were not turned into an opioid dose"),
                ("Observation.valueCodeableConcept", self.coded_answers,
                 "coded answers that are not a score were left out"),
                ("QuestionnaireResponse", self.unscored_forms,
                 "questionnaire responses with no total PainCycle knows and not every item of "
                 "an instrument it scores were left out")):
            if counted:
                listed = ", ".join(f"{k} ({n})" for k, n in counted.most_common(6))
                self.notices.append(Notice(source, column, sum(counted.values()),
                                           f"{message}: {listed}"))
        if skipped:
            listed = ", ".join(f"{k} ({n})" for k, n in skipped.most_common(8))
            self.notices.append(Notice(source, None, sum(skipped.values()),
                                       f"resource types PainCycle does not read were skipped: {listed}"))
        return self._assemble(patients, obs_rows, cond_rows, event_rows, source, progress)

    def _patients(self, resources) -> tuple[pd.DataFrame, dict[str, str]]:
        rows, refs, origins = [], {}, {}
        for resource, url, where in resources:
            if resource.get("resourceType") != "Patient":
                continue
            ids = [_text(i.get("value")) for i in _list(resource.get("identifier"))
                   if isinstance(i, dict) and _text(i.get("value"))]
            pid = str(ids[0] if ids else _text(resource.get("id")) or "").strip()
            if not pid:
                self.problem(where, "identifier", "Patient has neither an identifier nor an id",
                             "no patient id")
                continue
            if pid in origins:
                self.problem(where, "identifier", f"patient '{pid}' appears twice (also in "
                             f"{origins[pid]})", "duplicate patient")
                continue
            origins[pid] = where.file
            resource_id = _text(resource.get("id"))
            for key in (url, f"Patient/{resource_id}" if resource_id else None, resource_id):
                if key:
                    refs[str(key)] = pid
            born = _text(resource.get("birthDate"))
            birth = _day(born) or (born[:4] + "-01-01" if born else None)
            gender = (_text(resource.get("gender")) or "").lower() or None
            rows.append({"patient_id": pid, "sex": gender if gender in ("female", "male", "other",
                                                                        "unknown") else None,
                         "birth_year": int(birth[:4]) if birth and birth[:4].isdigit() else None,
                         "_file": where.file})
        if not rows and self.report.ok:
            raise fail(resources[0][2].file if resources else "input", None, None,
                       "no Patient resources found")
        return pd.DataFrame(rows), refs

    def _observation(self, resource, where, pid, unknown, unknown_labels) -> list[dict]:
        if _text(resource.get("status")) in ("entered-in-error", "cancelled"):
            return []
        codes = _codes(resource.get("code"), LOINC)
        measure = next((m for m in (self.options.measure_of(c) for c, _ in codes) if m), None)
        has_value = any(key.startswith("value") for key in resource)
        components = [(i, _obj(c)) for i, c in enumerate(_list(resource.get("component")))]
        scored = [(i, c, m) for i, c in components
                  if (m := next((m for m in (self.options.measure_of(code) for code, _ in
                                             _codes(c.get("code"), LOINC)) if m), None))]
        items = {code: value for _, c in components
                 for code, _ in _codes(c.get("code"), LOINC)[:1]
                 if (value := _answer_value({"answer": [c]})) is not None}
        from_items = _complete_instruments(items)
        if not has_value and (scored or from_items or resource.get("hasMember")):
            if not (scored or from_items):  # a panel: its member Observations carry the scores
                return []
            day = _first_day(resource, "effectiveDateTime", "effectivePeriod",
                             "effectiveInstant", "issued")
            if day is None:
                self.problem(where, "effectiveDateTime", "Observation has no effective date",
                             "no date")
                return []
            rows = []
            for i, component, code in scored:
                value = self._value(component, where, f"component[{i}].", code)
                if value is not None:
                    rows.append({"patient_id": pid, "date": day, "measure": code, "value": value,
                                 "_file": where.file, "_row": where.line,
                                 "_column": where.field(f"component[{i}].value[x]")})
            given = {row["measure"] for row in rows}
            for m in from_items:  # a panel of items (Synthea's PEG): scored by the registry's rule
                if m.code not in given:
                    rows.append({"patient_id": pid, "date": day, "measure": m.code,
                                 "value": float(_item_score(m, items)), "_file": where.file,
                                 "_row": where.line, "_column": where.field("component")})
            return rows
        if measure is None:
            if codes:
                code, label = codes[0]
            else:  # name the code it does have, with its system, not just "no LOINC code"
                any_code = [(c, _obj(co).get("system")) for co in
                            _list(_obj(resource.get("code")).get("coding"))
                            if (c := _text(_obj(co).get("code")))]
                code = (f"{any_code[0][0]} ({_system_name(any_code[0][1])}, no LOINC code)"
                        if any_code else "(no code)")
                label = _text(_obj(resource.get("code")).get("text")) or ""
            unknown.append(code)
            unknown_labels.append(label)
            return []
        day = _first_day(resource, "effectiveDateTime", "effectivePeriod", "effectiveInstant", "issued")
        if day is None:
            self.problem(where, "effectiveDateTime", "Observation has no effective date", "no date")
            return []
        value = self._value(resource, where, "", measure)
        if value is None:
            return []
        return [{"patient_id": pid, "date": day, "measure": measure, "value": value,
                 "_file": where.file, "_row": where.line, "_column": where.field("value[x]")}]

    def _value(self, resource, where, prefix: str = "", measure: str | None = None
               ) -> float | None:
        """The score in ``value[x]`` (of the resource, or of the component at ``prefix``)."""
        for key in ("valueInteger", "valueDecimal"):
            if key in resource:
                return self._number(resource[key], where, prefix + key)
        if "valueQuantity" in resource:
            quantity = resource["valueQuantity"]
            return self._number(quantity.get("value") if isinstance(quantity, dict) else quantity,
                                where, prefix + "valueQuantity.value")
        if "valueCodeableConcept" in resource:
            answer = _codes(resource["valueCodeableConcept"])
            for code, _label in answer:
                if code in PAIN_ANSWERS:
                    return float(PAIN_ANSWERS[code])
            shown = ", ".join(c for c, _ in answer) or "no code"
            if measure == "pain_nrs":  # a pain score must be a number or a 0-10 answer
                self.problem(where, prefix + "valueCodeableConcept",
                             f"answer '{shown}' is not a LOINC answer of the 0-10 pain scale",
                             "bad value")
            else:  # e.g. "positive" for a screening: not a score, counted and left out
                self.coded_answers[f"{measure}: {shown}"[:60]] += 1
            return None
        if "valueString" in resource:
            return self._number(resource["valueString"], where, prefix + "valueString")
        self.problem(where, prefix + "value[x]", "Observation has no value (valueQuantity, "
                     "valueInteger, valueDecimal or a 0-10 answer code)", "no value")
        return None

    def _questionnaire_response(self, resource, where, pid) -> list[dict]:
        """The scores a questionnaire response holds: its total item, else every item of an
        instrument the registry scores from items (measures.Measure.items)."""
        if _text(resource.get("status")) in ("entered-in-error", "stopped"):
            return []
        form = _text(resource.get("questionnaire")) or "(no questionnaire)"
        day = _first_day(resource, "authored")
        if day is None:
            self.problem(where, "authored", "QuestionnaireResponse has no authored date",
                         "no date")
            return []
        codes_of = self.forms.get(form) or self.forms.get(form.split("|")[0]) or {}
        declared = (self.options.forms.get(form) or self.options.forms.get(form.split("|")[0]))
        if declared:  # the clinic's own rule for a form the registry cannot know by codes
            code, links, rule = declared
            by_link = {_text(item.get("linkId")): _answer_value(item)
                       for item in _walk_items(resource.get("item"))}
            values = [by_link.get(link) for link in links]
            if all(v is not None for v in values):
                return [{"patient_id": pid, "date": day, "measure": code,
                         "value": _combine(values, rule),
                         "_file": where.file, "_row": where.line, "_column": where.field("item")}]
            self.unscored_forms[f"{form[:40]} (items missing)"] += 1
            return []
        answers: dict[str, float] = {}
        for item in _walk_items(resource.get("item")):
            code = codes_of.get(_text(item.get("linkId")) or "") or _code_in(item)
            value = _answer_value(item)
            if code and value is not None:
                answers.setdefault(code, value)
        rows: list[dict] = []
        done: set[str] = set()
        for code, value in answers.items():  # a total item: the score as given
            measure = self.options.measure_of(code)
            if measure and measure not in done:
                rows.append({"patient_id": pid, "date": day, "measure": measure, "value": value,
                             "_file": where.file, "_row": where.line,
                             "_column": where.field("item")})
                done.add(measure)
        for measure in _complete_instruments(answers):
            if measure.code in done:
                continue
            rows.append({"patient_id": pid, "date": day, "measure": measure.code,
                         "value": float(_item_score(measure, answers)), "_file": where.file,
                         "_row": where.line, "_column": where.field("item")})
            done.add(measure.code)
        if not rows:
            self.unscored_forms[form[:50]] += 1
        return rows

    def _number(self, value, where, path) -> float | None:
        if isinstance(value, bool) or value is None:
            self.problem(where, path, f"'{value}' is not a number", "bad value")
            return None
        try:
            number = float(value) if isinstance(value, (int, float, str)) else None
        except (TypeError, ValueError, OverflowError):
            number = None
        if number is None or not math.isfinite(number):
            self.problem(where, path, f"'{str(value)[:40]}' is not a number", "bad value")
            return None
        return number

    def _condition(self, resource, pid) -> dict | None:
        for code, label in _codes(resource.get("code"), SNOMED):
            if code in self.options.diagnoses:
                day = _first_day(resource, "onsetDateTime", "onsetPeriod", "recordedDate")
                return {"patient_id": pid, "date": day,
                        "diagnosis": diagnosis_label(label) if label
                        else self.options.diagnoses[code]}
        return None

    def _encounter(self, resource, pid) -> dict | None:
        status = _text(resource.get("status")) or ""
        day = _first_day(resource, "period")
        if day is None or (status not in ATTENDED and status not in MISSED):
            return None
        reasons = [c for c, _ in _codes({"coding": [c for rc in _list(resource.get("reasonCode"))
                                                    for c in _list(_obj(rc).get("coding"))]})]
        pain = any(c in self.options.diagnoses for c in reasons)
        return {"patient_id": pid, "date": day,
                "event": "appointment_attended" if status in ATTENDED else "appointment_missed",
                "detail": None, "_pain": pain}

    @staticmethod
    def _drug_name(resource) -> str:
        concept = _obj(resource.get("medicationCodeableConcept"))
        names = [_text(concept.get("text"))] + [d for _, d in _codes(concept)]
        return next((n for n in names if n), "(unnamed medication)")[:50]

    @staticmethod
    def _names(resource) -> str:
        concept = _obj(resource.get("medicationCodeableConcept"))
        return " ".join([_text(concept.get("text")) or ""] + [d for _, d in _codes(concept)]).lower()

    def _is_opioid(self, resource) -> bool:
        names = self._names(resource)
        return any(word in names for word in measures.OPIOIDS)

    def _opioid_dose(self, resource, where, pid) -> dict | None:
        """The order as a daily opioid dose in MME where computable, else None (counted)."""
        names = self._names(resource)
        drug = next((w for w in measures.OPIOIDS if w in names), None)
        if drug is None:
            return None
        day = _first_day(resource, "authoredOn", "effectiveDateTime", "effectivePeriod",
                         "dateAsserted")
        mme = _daily_mme(drug, names, resource)
        if day is None or mme is None:
            self.opioids_without_dose[drug] += 1
            return None
        return {"patient_id": pid, "date": day, "measure": "mme", "value": round(mme, 1),
                "_file": where.file, "_row": where.line,
                "_column": where.field("dosageInstruction")}

    def _medication(self, resource, pid) -> dict | None:
        names = self._names(resource)
        day = _first_day(resource, "authoredOn", "effectiveDateTime", "effectivePeriod",
                         "dateAsserted")
        for detail, words in self.options.treatments.items():
            if day and any(w in names for w in words):
                return {"patient_id": pid, "date": day, "event": "treatment_start", "detail": detail,
                        "_pain": False}
        return None

    def _assemble(self, patients, obs_rows, cond_rows, event_rows, source, progress) -> Conversion:
        obs = pd.DataFrame(obs_rows, columns=["patient_id", "date", "measure", "value", "_file",
                                              "_row", "_column"])
        conds = pd.DataFrame(cond_rows, columns=["patient_id", "diagnosis", "date"])
        events = pd.DataFrame(event_rows, columns=["patient_id", "date", "event", "detail", "_pain"])
        for frame in (obs, conds, events):
            frame["date"] = pd.to_datetime(frame["date"], format="%Y-%m-%d")
        intake = self._intake(patients, obs, conds, events)
        if not len(intake):
            raise fail(source, None, None,
                       "no pain-related encounter, condition or score, so no patient has an "
                       "intake date: set `intake:` in a mapping (see docs/importers.md)")
        patients = patients.assign(intake_date=patients["patient_id"].map(intake))
        conds = conds.sort_values("date", kind="stable")
        first_dx, later = known_at_intake(
            conds.rename(columns={"date": "start", "diagnosis": "label"}), intake)
        patients["diagnosis"] = patients["patient_id"].map(first_dx)
        if later:
            self.notices.append(Notice(source, "Condition.onset[x]", later,
                                       "chronic-pain diagnoses made after the patient's intake "
                                       "(or undated) are not the intake diagnosis (the cohort "
                                       "format's diagnosis is the one known at intake)"))
        young = too_young(patients, self.options.min_age)
        notice = too_young_notice(source, int(young.sum()), self.options.min_age)
        if notice:
            self.notices.append(notice)
            patients = patients[~young]
        no_intake = patients["intake_date"].isna()
        if no_intake.any():
            self.notices.append(Notice(source, None, int(no_intake.sum()),
                                       "patients without any pain-related encounter or observation "
                                       "(no intake date) were left out"))
            patients = patients[~no_intake]
        keep_ids = set(patients["patient_id"])
        obs, events = obs[obs["patient_id"].isin(keep_ids)], events[events["patient_id"].isin(keep_ids)]
        early_obs, early_events = early_rows(obs, intake), early_rows(events, intake)
        notice = early_rows_notice(source, "date", int(early_obs.sum() + early_events.sum()))
        if notice:
            self.notices.append(notice)
        obs, events = obs[~early_obs].reset_index(drop=True), events[~early_events]
        progress(0.85, "Validating")
        provenance = {
            "observations": obs[["_file", "_row", "_column"]].set_axis(["file", "row", "column"], axis=1),
            "patients": patients[["_file"]].set_axis(["file"], axis=1).assign(row=None, column=None),
        }
        cohort_patients = patients.drop(columns=["_file"]).reset_index(drop=True)
        provenance["patients"] = provenance["patients"].reset_index(drop=True)
        ev = (events.drop(columns=["_pain"]).sort_values(["patient_id", "date"])
              if not events.empty else empty_events())
        result = finish(cohort_patients, obs[["patient_id", "date", "measure", "value"]], ev,
                        name="", source=source, notices=self.notices, provenance=provenance)
        progress(1.0, "Done")
        return result

    def _intake(self, patients, obs, conds, events) -> pd.Series:
        options = self.options
        if options.intake_rule == "fixed":
            return pd.Series(pd.Timestamp(options.intake_date), index=patients["patient_id"])
        if options.intake_rule == "condition":
            dates = conds["date"]
            return dates.groupby(conds["patient_id"]).min()
        pain_codes = {m.code for m in measures.in_domain("pain")}
        candidates = [events.loc[events["_pain"].astype(bool), ["patient_id", "date"]]]
        if options.intake_rule == "earliest_pain":
            candidates.append(obs.loc[obs["measure"].isin(pain_codes), ["patient_id", "date"]])
        found = pd.concat(candidates)
        return found.groupby("patient_id")["date"].min()
