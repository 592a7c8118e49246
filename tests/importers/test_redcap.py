"""REDCap converter: events, repeat instruments, checkboxes, dates, dictionary, bad input."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from paincycle import importers
from paincycle.importers import ConversionError

EXPORT = """record_id,redcap_event_name,redcap_repeat_instrument,redcap_repeat_instance,intake_dt,sex,dx___1,dx___2,tx___1,tx___2,pain_avg,phq9_tot,diary_date,diary_pain,baseline_complete
101,baseline_arm_1,,,3/14/2024,2,1,1,0,1,7,14,,,2
101,month_3_arm_1,,,,,,,1,0,5,9,,,2
101,baseline_arm_1,pain_diary,1,,,,,,,,,2024-03-20,6,
101,baseline_arm_1,pain_diary,2,,,,,,,,,3/27/2024,5,
102,baseline_arm_1,,,2024-06-01,1,0,1,0,0,4,,,,2
"""

MAPPING = """
format = "redcap"
intake = { field = "intake_dt" }
ignore = []

[events]
baseline_arm_1 = 0
month_3_arm_1 = 90

[measures]
pain_avg = "pain_nrs"
phq9_tot = "phq9"
diary_pain = "pain_nrs"

[patient]
sex = { field = "sex", values = { "1" = "female", "2" = "male" } }
diagnosis = { checkbox = "dx", values = { "1" = "chronic low back pain", "2" = "fibromyalgia" } }

[repeat_instruments]
pain_diary = { date_field = "diary_date" }

[treatments]
checkbox = "tx"
values = { "1" = "cbt", "2" = "physiotherapy" }
"""


def convert(tmp_path: Path, export: str = EXPORT, mapping: str = MAPPING, dictionary: str | None = None):
    folder = tmp_path / "redcap"
    folder.mkdir(exist_ok=True)
    (folder / "export.csv").write_text(export)
    if dictionary:
        (folder / "Project_DataDictionary.csv").write_text(dictionary)
    return importers.convert("redcap", folder, importers.parse_mapping(mapping, "map.toml"))


def test_events_repeats_checkboxes_and_dates(tmp_path: Path):
    result = convert(tmp_path)
    cohort = result.cohort
    patients = cohort.patients.set_index("patient_id")
    assert f"{patients.loc['101', 'intake_date']:%Y-%m-%d}" == "2024-03-14"  # M/D/Y
    assert patients.loc["101", "sex"] == "male"
    assert patients.loc["101", "diagnosis"] == "chronic low back pain; fibromyalgia"
    assert patients.loc["102", "diagnosis"] == "fibromyalgia"
    obs = cohort.observations[cohort.observations["patient_id"] == "101"]
    pain = obs[obs["measure"] == "pain_nrs"].sort_values("date")
    assert [f"{d:%Y-%m-%d}" for d in pain["date"]] == ["2024-03-14", "2024-03-20", "2024-03-27",
                                                       "2024-06-12"]
    assert pain["value"].tolist() == [7, 6, 5, 5]
    events = cohort.events.sort_values("date")
    assert list(zip(events["detail"], events["date"].dt.strftime("%Y-%m-%d"), strict=True)) == [
        ("physiotherapy", "2024-03-14"), ("cbt", "2024-06-12")]


def test_unknown_event_name_is_reported_with_row(tmp_path: Path):
    export = EXPORT.replace("101,month_3_arm_1", "101,month_6_arm_1")
    with pytest.raises(ConversionError) as caught:
        convert(tmp_path, export)
    problem = caught.value.report.problems[0]
    assert (problem.file, problem.row, problem.column) == ("export.csv", 3, "redcap_event_name")
    assert "unknown event name 'month_6_arm_1'" in problem.message
    assert "baseline_arm_1" in problem.message


def test_text_in_numeric_field(tmp_path: Path):
    export = EXPORT.replace(",7,14,", ",seven,14,")
    with pytest.raises(ConversionError) as caught:
        convert(tmp_path, export)
    problem = caught.value.report.problems[0]
    assert (problem.row, problem.column) == (2, "pain_avg")
    assert "'seven' is not a number" in problem.message


def test_missing_record_id_column(tmp_path: Path):
    export = EXPORT.replace("record_id,", "study_id,", 1)
    with pytest.raises(ConversionError) as caught:
        convert(tmp_path, export)
    problem = caught.value.report.problems[0]
    assert problem.column == "record_id" and "not a column of export.csv" in problem.message


def test_mapping_typos_are_reported_by_key(tmp_path: Path):
    mapping = MAPPING.replace('phq9_tot = "phq9"', 'phq9_tot = "phq_9"').replace(
        "month_3_arm_1 = 90", 'month_3_arm_1 = "ninety"')
    with pytest.raises(ConversionError) as caught:
        convert(tmp_path, mapping=mapping)
    by_key = {p.column: p.message for p in caught.value.report.problems}
    assert "did you mean 'phq9'" in by_key["measures.phq9_tot"]
    assert "whole number of days" in by_key["events.month_3_arm_1"]


def test_data_dictionary_checks_field_types(tmp_path: Path):
    dictionary = ('"Variable / Field Name","Form Name","Section Header","Field Type","Field Label",'
                  '"Choices, Calculations, OR Slider Labels","Field Note",'
                  '"Text Validation Type OR Show Slider Number"\n'
                  "pain_avg,visit,,text,Average pain,,,integer\n"
                  "phq9_tot,visit,,notes,PHQ-9,,,\n"
                  "diary_pain,diary,,slider,Pain,,,\n")
    with pytest.raises(ConversionError) as caught:
        convert(tmp_path, dictionary=dictionary)
    problems = caught.value.report.problems
    assert [(p.file, p.row, p.column) for p in problems] == [
        ("Project_DataDictionary.csv", 3, "phq9_tot")]
    assert "notes field" in problems[0].message


def test_unmapped_fields_are_reported(tmp_path: Path):
    export = EXPORT.replace("baseline_complete", "bmi").replace(",,2\n", ",,31\n")
    result = convert(tmp_path, export)
    notice = next(n for n in result.notices if "not in the mapping" in n.message)
    assert notice.column == "bmi" and notice.rows == 3


def test_a_reading_long_before_intake_is_left_out_with_a_notice_not_refused(tmp_path: Path):
    """One reading more than 60 days before intake once refused the whole export."""
    export = EXPORT + "101,baseline_arm_1,pain_diary,3,,,,,,,,,2023-10-01,8,\n"
    result = convert(tmp_path, export)
    diary = result.cohort.observations
    assert not (diary["date"] == pd.Timestamp("2023-10-01")).any()
    notice = next(n for n in result.notices if "before the patient's intake" in n.message)
    assert notice.rows == 1


def test_number_comma_decimal_fields_read_as_the_dictionary_declares(tmp_path: Path):
    """REDCap fields validated as number_comma_decimal ("52,3") were refused as not numbers."""
    export = ("record_id,redcap_event_name,intake_dt,pf_t\n"
              '101,baseline_arm_1,2024-03-14,"52,3"\n')
    mapping = ('format = "redcap"\nintake = { field = "intake_dt" }\n[events]\nbaseline_arm_1 = 0\n'
               '[measures]\npf_t = "promis_physical_function"\n')
    dictionary = ('"Variable / Field Name","Form Name","Field Type","Field Label",'
                  '"Text Validation Type OR Show Slider Number"\n'
                  'record_id,baseline,text,ID,\nintake_dt,baseline,text,Intake,date_ymd\n'
                  'pf_t,baseline,text,"PF T-score",number_comma_decimal\n')
    cohort = convert(tmp_path, export, mapping, dictionary).cohort
    assert cohort.observations["value"].tolist() == [52.3]
