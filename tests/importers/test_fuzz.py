"""Fuzzing every converter: a clear error naming the file, or a valid cohort; never a traceback.

Each test mutates a valid export (the writers the round-trip tests use, or the
converters' own examples) with hypothesis: values of the wrong JSON type in
random places, hostile cells, mapping entries of the wrong type. The count
and time are bounded so `make test` stays quick; the derandomized seed makes
a failure reproducible.
"""

from __future__ import annotations

import copy
import json
import os
import tracemalloc
from pathlib import Path

import pandas as pd
import pytest
from cohort_writers import write_fhir_bundle, write_redcap_export
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from paincycle import importers
from paincycle.cohort import CohortError

#: PAINCYCLE_FUZZ_EXAMPLES=2000 runs a longer, randomized hunt; `make test` runs 40, the same each time.
_LONG_HUNT = int(os.environ.get("PAINCYCLE_FUZZ_EXAMPLES", "0"))
FUZZ = settings(max_examples=_LONG_HUNT or 40, deadline=None, derandomize=not _LONG_HUNT,
                suppress_health_check=[HealthCheck.function_scoped_fixture,
                                       HealthCheck.too_slow])
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-10**20, 10**20)
    | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=12)
    | st.sampled_from(["", "9999-12-31", "2263-01-01T00:00:00Z", "0001-01-01", "Patient/",
                       "urn:uuid:", "#", "Patient/../../x", "1e400", "-0"]),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(
        st.sampled_from(["reference", "coding", "code", "system", "value", "start",
                         "valueQuantity", "resourceType", "id", "x"]), inner, max_size=3),
    max_leaves=6)
HOSTILE_CELLS = ["", " ", "NaN", "inf", "-1e400", "9" * 400, "=cmd|' /C calc'!A0", "\x00",
                 "2263-01-01", "0001-01-01", "9999-99-99", "99/99/9999", "<script>", "1,5",
                 "😀", "\u202e", "-", "00", "1.0", "x" * 5000]


def outcome(kind: str, path: Path, mapping: dict | None = None) -> str:
    """'converted' (and the cohort is valid) or 'refused' (every problem names a file)."""
    try:
        result = importers.convert(kind, path, mapping)
    except CohortError as exc:
        problems = exc.report.problems
        assert problems, "a refusal lists what is wrong"
        for problem in problems:
            assert isinstance(problem.file, str) and problem.file, problem
            assert problem.message and "Traceback" not in problem.message
        return "refused"
    assert result.cohort.n_patients > 0
    assert len(result.cohort.observations) > 0, "convert never returns what validate refuses"
    return "converted"


# --------------------------------------------------------------------------- FHIR

def _paths(node, prefix=()):
    yield prefix
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _paths(value, (*prefix, key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _paths(value, (*prefix, i))


def _replace(node, path, value):
    if not path:
        return value
    node = copy.deepcopy(node)
    target = node
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return node


@pytest.fixture
def fhir_seed(sample_cohort, tmp_path) -> dict:
    return json.loads(write_fhir_bundle(sample_cohort, tmp_path / "seed.json").read_text())


@FUZZ
@given(data=st.data())
def test_fhir_with_values_of_the_wrong_type_anywhere(fhir_seed, tmp_path, data):
    bundle = fhir_seed
    paths = list(_paths(bundle))
    for _ in range(data.draw(st.integers(1, 3))):
        path = data.draw(st.sampled_from(paths))
        bundle = _replace(bundle, path, data.draw(JSON_VALUES))
        paths = list(_paths(bundle))
    target = tmp_path / "export.json"
    target.write_text(json.dumps(bundle))
    outcome("fhir", target)


@pytest.mark.parametrize("text", [
    "[" * 100_000 + "]" * 100_000,
    '{"resourceType": "Bundle", "entry": [{"resource": {"resourceType": "Observation", '
    '"valueInteger": ' + "9" * 5000 + "}}]}",
    '{"resourceType": "Bundle", "entry": "not a list"}',
    '{"resourceType": "Bundle", "entry": [null, 3, "x", []]}',
    '{"resourceType": 7}', "[]", "null", '"text"', "{}",
])
def test_fhir_structures_no_bundle_has(tmp_path, text):
    target = tmp_path / "export.json"
    target.write_text(text)
    assert outcome("fhir", target) == "refused"


def test_fhir_dates_beyond_pandas_limits_are_named(fhir_seed, tmp_path):
    bundle = fhir_seed
    for entry in bundle["entry"]:
        resource = entry["resource"]
        if resource["resourceType"] == "Observation":
            resource["effectiveDateTime"] = "2263-01-01T00:00:00Z"
            break
    target = tmp_path / "export.json"
    target.write_text(json.dumps(bundle))
    outcome("fhir", target)


# --------------------------------------------------------------------------- REDCap

@pytest.fixture
def redcap_seed(sample_cohort, tmp_path) -> tuple[pd.DataFrame, dict]:
    (tmp_path / "seed").mkdir()
    export, mapping = write_redcap_export(sample_cohort, tmp_path / "seed")
    return (pd.read_csv(export, dtype=str, keep_default_na=False),
            importers.load_mapping(mapping))


def _mapping_paths(mapping):
    return [p for p in _paths(mapping) if p and p[0] != "_dir"]


@FUZZ
@given(data=st.data())
def test_redcap_with_hostile_cells_and_mapping_entries_of_the_wrong_type(redcap_seed, tmp_path,
                                                                        data):
    frame, mapping = copy.deepcopy(redcap_seed[0]), redcap_seed[1]
    for _ in range(data.draw(st.integers(0, 3))):
        row = data.draw(st.integers(0, len(frame) - 1))
        col = data.draw(st.sampled_from(list(frame.columns)))
        frame.iloc[row, frame.columns.get_loc(col)] = data.draw(st.sampled_from(HOSTILE_CELLS))
    if data.draw(st.booleans()):
        path = data.draw(st.sampled_from(_mapping_paths(mapping)))
        mapping = _replace(mapping, path, data.draw(JSON_VALUES))
    target = tmp_path / "export.csv"
    frame.to_csv(target, index=False)
    outcome("redcap", target, mapping)


# --------------------------------------------------------------------------- Synthea

SYNTHEA = {
    "patients.csv": "Id,BIRTHDATE,DEATHDATE,GENDER,FIRST\na1,1970-05-01,,F,Ann\nb2,1980-01-01,,M,Bob\n",
    "conditions.csv": "START,STOP,PATIENT,ENCOUNTER,CODE,DESCRIPTION\n"
                      "2020-03-01,,a1,e1,278860009,Chronic low back pain (finding)\n"
                      "2020-04-01,,b2,e2,82423001,Chronic pain (finding)\n",
    "observations.csv": "DATE,PATIENT,ENCOUNTER,CATEGORY,CODE,DESCRIPTION,VALUE,UNITS,TYPE\n"
                        "2020-03-01T03:00:00Z,a1,e1,vital-signs,72514-3,Pain,6.0,{score},numeric\n"
                        "2020-06-01T23:59:00Z,a1,e1,survey,44261-6,PHQ,11.0,{score},numeric\n"
                        "2020-04-02T03:00:00Z,b2,e2,vital-signs,72514-3,Pain,3.0,{score},numeric\n",
    "medications.csv": "START,STOP,PATIENT,ENCOUNTER,CODE,DESCRIPTION\n"
                       "2020-03-05,,a1,e1,1049221,Acetaminophen 325 MG / Oxycodone\n",
}


@FUZZ
@given(data=st.data())
def test_synthea_with_hostile_cells_and_missing_columns(tmp_path, data):
    folder = tmp_path / "synthea"
    folder.mkdir(exist_ok=True)
    for name, text in SYNTHEA.items():
        lines = text.splitlines()
        if data.draw(st.booleans()):
            cells = [line.split(",") for line in lines]
            r = data.draw(st.integers(0, len(cells) - 1))
            c = data.draw(st.integers(0, len(cells[r]) - 1))
            cells[r][c] = data.draw(st.sampled_from(HOSTILE_CELLS)).replace(",", ";")
            lines = [",".join(row) for row in cells]
        if data.draw(st.integers(0, 9)) == 0:
            lines = lines[:1]  # a table with a header and no rows
        (folder / name).write_text("\n".join(lines) + "\n")
    outcome("synthea", folder)


# --------------------------------------------------------------------------- wide registry

WIDE = ("ID,PAIN_0,PAIN_90,PF_0,AGE,SEX,BM1,BM2,BM3\n"
        "7,8,5,33.5,50,F,1,0,1\n8,6,,40,61,male,0,0,0\n")
WIDE_MAPPING = {
    "format": "wide", "id_column": "id", "intake_date": "2021-06-01",
    "patient": {"sex": "SEX", "birth_year_from_age": "AGE"},
    "counts": {"regions": {"columns": ["BM1..BM3"], "measure": "x_regions"}},
    "measures": [{"measure": "pain_nrs", "column": "PAIN_0", "day": 0},
                 {"measure": "pain_nrs", "column": "PAIN_90", "day": 90},
                 {"measure": "promis_physical_function", "column": "PF_0", "day": 0}],
}


@FUZZ
@given(data=st.data())
def test_wide_with_hostile_cells_and_mapping_entries_of_the_wrong_type(tmp_path, data):
    cells = [line.split(",") for line in WIDE.splitlines()]
    for _ in range(data.draw(st.integers(0, 3))):
        r = data.draw(st.integers(1, len(cells) - 1))
        c = data.draw(st.integers(0, len(cells[r]) - 1))
        cells[r][c] = data.draw(st.sampled_from(HOSTILE_CELLS)).replace(",", ";")
    mapping = WIDE_MAPPING
    if data.draw(st.booleans()):
        path = data.draw(st.sampled_from(_mapping_paths(mapping)))
        mapping = _replace(mapping, path, data.draw(JSON_VALUES))
    target = tmp_path / "registry.csv"
    target.write_text("\n".join(",".join(r) for r in cells) + "\n")
    outcome("wide", target, mapping)


@pytest.mark.parametrize("entry", [
    {"measure": "pain_nrs", "column": "PAIN_0", "day": 10**12},
    {"measure": "pain_nrs", "column": "PAIN_0", "day": -10**9},
    {"measure": "pain_nrs", "column": "PAIN_0", "day": 1.5},
])
def test_wide_mapping_days_out_of_any_range_are_named(tmp_path, entry):
    target = tmp_path / "registry.csv"
    target.write_text(WIDE)
    mapping = {**WIDE_MAPPING, "measures": [entry]}
    assert outcome("wide", target, mapping) == "refused"


def _peak_mb(action) -> float:
    tracemalloc.start()
    try:
        action()
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return peak / 1024**2


#: What refusing a bomb may cost (a mapping range once took 6.6 GB before it was refused).
BOMB_MEMORY_MB = 100


def test_a_mapping_range_of_billions_of_columns_is_refused_at_once(tmp_path):
    target = tmp_path / "registry.csv"
    target.write_text(WIDE)
    mapping = {**WIDE_MAPPING,
               "counts": {"regions": {"columns": ["BM1..BM3000000000"], "measure": "x_regions"}}}
    results = []
    assert _peak_mb(lambda: results.append(outcome("wide", target, mapping))) < BOMB_MEMORY_MB
    assert results == ["refused"]


def test_json_nested_a_hundred_thousand_deep_is_refused_in_bounded_memory(tmp_path):
    target = tmp_path / "export.json"
    target.write_text("[" * 100_000 + "]" * 100_000)
    results = []
    assert _peak_mb(lambda: results.append(outcome("fhir", target))) < BOMB_MEMORY_MB
    assert results == ["refused"]


def test_a_header_of_a_hundred_thousand_columns_is_refused_from_the_header(tmp_path):
    target = tmp_path / "registry.csv"
    target.write_text(",".join(f"C{i}" for i in range(100_000)) + "\n" + "1," * 99_999 + "1\n")
    mapping = {**WIDE_MAPPING, "id_column": "C0"}
    with pytest.raises(CohortError) as caught:
        importers.convert("wide", target, mapping)
    assert "100,000 columns" in caught.value.report.problems[0].message
