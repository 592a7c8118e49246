"""Real public files no one here wrote (tests/fixtures/public/README.md names source and licence).

Each file goes through the real converters; the expected patient, date, measure
and value were read from the file by hand.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from paincycle import importers
from paincycle.importers import ConversionError

PUBLIC = Path(__file__).resolve().parents[1] / "fixtures" / "public"


def value(cohort, patient: str, measure: str, day: str) -> list[float]:
    obs = cohort.observations
    rows = obs[(obs["patient_id"] == patient) & (obs["measure"] == measure)
               & (obs["date"].dt.strftime("%Y-%m-%d") == day)]
    return rows["value"].tolist()


def test_synthea_2022_csv_pain_and_phq9_from_chronic_pain_patients():
    result = importers.convert("synthea", PUBLIC / "synthea-csv-2022")
    patients = result.cohort.patients.set_index("patient_id")
    # 0c3ad792 has PHQ-9 and pain scores but no chronic-pain condition: not a pain-clinic patient.
    assert set(patients.index) == {"6761ab26-73e9-ad0b-cec4-56c6edd74762",
                                   "e8d8c51a-bce2-23e4-2964-6e486fcad902"}
    low_back = "6761ab26-73e9-ad0b-cec4-56c6edd74762"
    assert f"{patients.loc[low_back, 'intake_date']:%Y-%m-%d}" == "2014-01-31"
    assert "chronic low back pain" in patients.loc[low_back, "diagnosis"].lower()
    assert value(result.cohort, low_back, "phq9", "2014-01-29") == [9.0]
    assert value(result.cohort, low_back, "pain_nrs", "2017-02-01") == [2.0]


def test_redcap_repeating_instrument_reading_before_intake_is_left_out_with_a_notice():
    mapping = importers.parse_mapping(
        'format = "redcap"\nintake = { field = "date_enrolled" }\n'
        'ignore = ["first_name", "dob", "age", "ethnicity", "race", "sex"]\n'
        '[measures]\nbp_systolic = "x_bp_systolic"\nbp_diastolic = "x_bp_diastolic"\n'
        '[repeat_instruments]\nbp = { date_field = "date_bp" }\n', "map.toml")
    result = importers.convert("redcap", PUBLIC / "redcap-repeating", mapping)
    cohort = result.cohort
    assert value(cohort, "1", "x_bp_systolic", "2019-10-14") == [110, 111, 112]
    # Record 2 enrolled 2019-02-02; its one reading is dated 2004-04-04: left out, counted.
    assert value(cohort, "2", "x_bp_systolic", "2004-04-04") == []
    early = [n for n in result.notices if "before" in n.message]
    assert early and early[0].rows == 2  # systolic and diastolic of that reading


def test_redcap_number_comma_decimal_fields_from_the_data_dictionary():
    mapping = importers.parse_mapping(
        'format = "redcap"\nintake = { date = "2020-01-01" }\nignore = ["name"]\n'
        '[measures]\nweight = "x_weight_kg"\nheight = "x_height_m"\nbmi = "x_bmi"\n', "map.toml")
    result = importers.convert("redcap", PUBLIC / "redcap-decimal-comma", mapping)
    cohort = result.cohort
    assert value(cohort, "1", "x_weight_kg", "2020-01-01") == [52.3]
    assert value(cohort, "3", "x_height_m", "2020-01-01") == [1.95]
    assert value(cohort, "4", "x_bmi", "2020-01-01") == [17.7]  # a calc field, written with a dot


def test_redcap_repeating_appointments_dated_by_their_own_field():
    mapping = importers.parse_mapping(
        'format = "redcap"\nrecord_id = "patient_id"\nintake = { field = "date_at_visit" }\n'
        'ignore = ["county_id", "race", "ethnicity", "age", "int_factor_1", "slope_factor_1",'
        ' "cog_2", "cog_3", "phys_2", "phys_3"]\n'
        '[measures]\ncog_1 = "x_cog_1"\nphys_1 = "x_phys_1"\n'
        '[patient]\nsex = { field = "gender_id", values = { "1" = "male", "2" = "female",'
        ' "255" = "unknown" } }\n'
        '[repeat_instruments]\nappointment = { date_field = "date_at_visit" }\n', "map.toml")
    result = importers.convert("redcap", PUBLIC / "redcap-multilevel", mapping)
    cohort = result.cohort
    patients = cohort.patients.set_index("patient_id")
    assert f"{patients.loc['1001', 'intake_date']:%Y-%m-%d}" == "2002-02-06"
    assert patients.loc["1002", "sex"] == "female"
    assert value(cohort, "1001", "x_cog_1", "2003-03-28") == [5.5]
    assert value(cohort, "1002", "x_phys_1", "2000-02-24") == [2.0]
    assert cohort.patients["patient_id"].nunique() == 20


NECK_PAIN_MAPPING = """
format: wide
id_column: patient
intake_date: 2002-03-01
patient:
  sex: sex
measures:
  - {measure: x_neck_pain_vas, column: vas1, day: 0}
  - {measure: x_neck_pain_vas, column: vas2, day: 90}
  - {measure: x_neck_pain_vas, column: vas3, day: 120}
"""


def test_wide_neck_pain_trial_spreadsheet_refuses_two_patients_under_one_id(tmp_path: Path):
    mapping = importers.parse_mapping(NECK_PAIN_MAPPING, "map.yaml")
    with pytest.raises(ConversionError) as caught:
        importers.convert("wide", PUBLIC / "wide-neck-pain" / "pain.csv", mapping)
    problems = {(p.file, p.row, p.column, p.message) for p in caught.value.report.problems}
    assert ("pain.csv", 8, "patient_id", "duplicate patient_id 'JC' (rows 8, 41)") in problems
    assert ("pain.csv", 33, "patient_id", "duplicate patient_id 'JS' (rows 33, 35, 76)") in problems


def test_wide_neck_pain_trial_first_rows_blank_cells_as_single_spaces(tmp_path: Path):
    lines = (PUBLIC / "wide-neck-pain" / "pain.csv").read_text().splitlines(keepends=True)
    (tmp_path / "pain.csv").write_text("".join(lines[:21]))  # header and the first 20 patients
    mapping = importers.parse_mapping(NECK_PAIN_MAPPING + "ignore: [age, group, duration, laterali,"
                                      " headache, backpain, laser, mva, injury, localisa, vas1cat..vas3cat]\n",
                                      "map.yaml")
    result = importers.convert("wide", tmp_path / "pain.csv", mapping)
    cohort = result.cohort
    assert value(cohort, "AA", "x_neck_pain_vas", "2002-03-01") == [9.1]
    assert value(cohort, "AD", "x_neck_pain_vas", "2002-03-01") == [0.2]  # written ".2"
    assert value(cohort, "VB", "x_neck_pain_vas", "2002-05-30") == [3.0]
    assert value(cohort, "PB", "x_neck_pain_vas", "2002-05-30") == []  # a single space: no score


def test_fhir_mii_phq9_observation_without_its_patient_is_refused_with_the_reason():
    # The MII PRO IG's PHQ-9 example (panel code 44249-1, value 27, 2023-10-01) refers to
    # Patient/example, which the file does not hold.
    with pytest.raises(ConversionError) as caught:
        importers.convert("fhir", PUBLIC / "fhir-mii-phq9")
    assert [p.message for p in caught.value.report.problems] == ["no Patient resources found"]


def test_synthea_2022_fhir_bundle_scores_components_and_agrees_with_its_csv():
    bundle = PUBLIC / "synthea-fhir-2022" / "bundle.json.gz"
    result = importers.convert("fhir", bundle)
    low_back = "6761ab26-73e9-ad0b-cec4-56c6edd74762"
    cohort = result.cohort
    # the PEG panel (91148-7) holds its three items as components: 7.9611, 6.8278, 3.7785
    assert value(cohort, low_back, "peg", "2014-01-31") == [pytest.approx(18.5674 / 3)]
    assert value(cohort, low_back, "phq9", "2014-01-29") == [9.0]
    assert value(cohort, low_back, "pain_nrs", "2017-02-01") == [2.0]  # 38208-5 in this file
    notices = " ".join(n.message for n in result.notices)
    assert "55758-7" in notices  # PHQ-2 total: not a registry measure, named, not dropped
    # FHIR's default intake is the first pain score (29 Jan), so the low back pain diagnosed
    # on 31 Jan is not known at intake; with the CSV converter's rule (a chronic-pain
    # condition) the same patient enters on the same day, with the same diagnosis
    assert f"{cohort.patients['intake_date'][0]:%Y-%m-%d}" == "2014-01-29"
    assert cohort.patients["diagnosis"].isna().all()
    by_condition = importers.convert("fhir", bundle, mapping={"intake": "condition"}).cohort
    from_csv = importers.convert("synthea", PUBLIC / "synthea-csv-2022").cohort
    csv_patient = from_csv.patients.set_index("patient_id").loc[low_back]
    assert by_condition.patients["intake_date"][0] == csv_patient["intake_date"]
    assert by_condition.patients["diagnosis"][0] == csv_patient["diagnosis"]


def test_synthea_v3_csv_with_its_new_columns_converts_like_the_2022_one():
    """A newer Synthea (patients.csv with FIPS and INCOME; conditions with semantic tags)."""
    result = importers.convert("synthea", PUBLIC / "synthea-csv-v3")
    patients = result.cohort.patients.set_index("patient_id")
    back_and_neck = "49abcfcc-8abb-9781-d49e-cab0cd9f5c40"
    fibromyalgia = "920e3c45-f754-686a-a312-a070f4258dee"
    # the child born 2011 has pain scores but no chronic-pain condition: does not enter
    assert set(patients.index) == {back_and_neck, fibromyalgia}
    assert f"{patients.loc[back_and_neck, 'intake_date']:%Y-%m-%d}" == "2014-02-02"
    assert "Fibromyalgia" in patients.loc[fibromyalgia, "diagnosis"]
    assert "(disorder)" not in patients.loc[fibromyalgia, "diagnosis"]
    assert value(result.cohort, back_and_neck, "gad7", "2015-02-20") == [2.0]
    assert value(result.cohort, back_and_neck, "pain_nrs", "2016-02-26") == [2.0]
    assert value(result.cohort, fibromyalgia, "pain_nrs", "2015-02-20") == [1.0]
    assert any("did not enter the cohort" in n.message for n in result.notices)
