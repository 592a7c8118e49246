"""Wide registry converter: hand-written exports, mapping errors, and the real CHOIR extract."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from paincycle import importers
from paincycle.importers import ConversionError

EXPORT = """ID,PAIN_0,PAIN_90,PF_0,AGE,SEX,BM1,BM2,BM3,NOTE
7.0,8,5,33.5,50,F,1,0,1,x
8.0,6,,40,61,male,0,0,0,
"""

MAPPING = """
format: wide
id_column: id
intake_date: 2021-06-01
patient:
  sex: SEX
  birth_year_from_age: AGE
counts:
  regions: {columns: [BM1..BM3], measure: x_regions}
measures:
  - {measure: pain_nrs, column: PAIN_0, day: 0}
  - {measure: pain_nrs, column: PAIN_90, day: 90}
  - {measure: promis_physical_function, column: PF_0, day: 0}
"""


def convert(tmp_path: Path, export: str = EXPORT, mapping: str = MAPPING):
    path = tmp_path / "registry.csv"
    path.write_text(export)
    return importers.convert("wide", path, importers.parse_mapping(mapping, "registry.yaml"))


def test_columns_per_time_point_and_attributes(tmp_path: Path):
    result = convert(tmp_path)
    cohort = result.cohort
    patients = cohort.patients.set_index("patient_id")
    assert list(patients.index) == ["7", "8"]
    assert patients.loc["7", "birth_year"] == 1971 and patients.loc["8", "sex"] == "male"
    assert patients.loc["7", "regions"] == 2
    pain = cohort.observations[cohort.observations["measure"] == "pain_nrs"]
    assert sorted(zip(pain["patient_id"], pain["date"].dt.strftime("%Y-%m-%d"), pain["value"],
                      strict=True)) == [("7", "2021-06-01", 8), ("7", "2021-08-30", 5),
                                        ("8", "2021-06-01", 6)]
    notice = next(n for n in result.notices if "not in the mapping" in n.message)
    assert notice.column == "NOTE" and notice.rows == 1


def test_text_in_numeric_field(tmp_path: Path):
    with pytest.raises(ConversionError) as caught:
        convert(tmp_path, EXPORT.replace("6,,40", "6,,forty"))
    problem = caught.value.report.problems[0]
    assert (problem.file, problem.row, problem.column) == ("registry.csv", 3, "PF_0")
    assert "'forty' is not a number" in problem.message


def test_out_of_range_value_points_at_source_cell(tmp_path: Path):
    with pytest.raises(ConversionError) as caught:
        convert(tmp_path, EXPORT.replace("8,5,33.5", "8,12,33.5"))
    problem = caught.value.report.problems[0]
    assert (problem.file, problem.row, problem.column) == ("registry.csv", 2, "PAIN_90")


def test_mapping_names_missing_column_and_bad_measure(tmp_path: Path):
    mapping = MAPPING.replace("column: PF_0", "column: PF_BASE").replace(
        "measure: pain_nrs, column: PAIN_90", "measure: pain_nsr, column: PAIN_90")
    with pytest.raises(ConversionError) as caught:
        convert(tmp_path, mapping=mapping)
    by_key = {p.column: p.message for p in caught.value.report.problems}
    assert "'PF_BASE' is not in registry.csv" in by_key["measures[2].column"]
    assert "did you mean 'pain_nrs'" in by_key["measures[1].measure"]


def test_bad_yaml_mapping_names_line():
    with pytest.raises(ConversionError) as caught:
        importers.parse_mapping("measures:\n  - {measure: pain_nrs\n", "bad.yaml")
    problem = caught.value.report.problems[0]
    assert problem.file == "bad.yaml" and problem.row is not None
    assert "not valid YAML" in problem.message


def test_choir_extract_converts_with_shipped_mapping(shared_data: Path):
    path = shared_data / "choir-pittsburgh" / "pain.csv.gz"
    raw = pd.read_csv(path)
    raw = raw.dropna(subset=["PATIENT_NUM"])
    result = importers.convert("wide", path, importers.load_mapping("choir"))
    cohort = result.cohort
    assert cohort.n_patients == len(raw)
    obs = cohort.observations
    follow_up = obs[(obs["measure"] == "pain_nrs") & (obs["date"] == pd.Timestamp("2020-03-31"))]
    assert len(follow_up) == raw["PAIN_INTENSITY_AVERAGE.FOLLOW_UP"].notna().sum()
    for code, col in [("promis_physical_function", "PROMIS_PHYSICAL_FUNCTION"),
                      ("promis_depression", "PROMIS_DEPRESSION"),
                      ("x_promis_anxiety", "PROMIS_ANXIETY")]:
        assert (obs["measure"] == code).sum() == raw[col].notna().sum()
    first = raw.iloc[0]
    patient = cohort.patients.set_index("patient_id").loc[str(int(first["PATIENT_NUM"]))]
    assert patient["birth_year"] == 2020 - first["AGE_AT_CONTACT"]
    assert patient["painful_regions"] == raw.filter(regex=r"^X\d{3}$").iloc[0].sum()
    assert patient["medicaid"] == first["MEDICAID_BIN"]
    assert not any("not in the mapping" in n.message for n in result.notices)


def typed_export() -> pd.DataFrame:
    """The hand-written export as a spreadsheet program holds it: numbers as numbers, blanks empty."""
    import io

    return pd.read_csv(io.StringIO(EXPORT))


@pytest.mark.parametrize("suffix", [".xlsx", ".parquet"])
def test_excel_and_parquet_exports_convert_like_the_csv(tmp_path: Path, suffix: str):
    expected = convert(tmp_path).cohort
    path = tmp_path / f"registry{suffix}"
    frame = typed_export()
    frame.to_excel(path, index=False) if suffix == ".xlsx" else frame.to_parquet(path, index=False)
    assert importers.detect_kind(path) == "wide"
    cohort = importers.convert("wide", path, importers.parse_mapping(MAPPING, "registry.yaml")).cohort
    pd.testing.assert_frame_equal(cohort.patients, expected.patients)
    pd.testing.assert_frame_equal(cohort.observations, expected.observations)


@pytest.mark.parametrize("suffix", [".xlsx", ".parquet"])
def test_a_bad_cell_in_excel_or_parquet_names_file_row_and_column(tmp_path: Path, suffix: str):
    frame = typed_export()
    frame.loc[0, "PAIN_90"] = 12  # out of the NRS range, in the first data row (sheet row 2)
    path = tmp_path / f"registry{suffix}"
    frame.to_excel(path, index=False) if suffix == ".xlsx" else frame.to_parquet(path, index=False)
    with pytest.raises(ConversionError) as caught:
        importers.convert("wide", path, importers.parse_mapping(MAPPING, "registry.yaml"))
    problem = caught.value.report.problems[0]
    assert (problem.file, problem.row, problem.column) == (f"registry{suffix}", 2, "PAIN_90")


@pytest.mark.parametrize("suffix", [".xlsx", ".parquet"])
def test_a_damaged_spreadsheet_is_a_clear_error(tmp_path: Path, suffix: str):
    path = tmp_path / f"registry{suffix}"
    path.write_bytes(b"PK\x03\x04 this is not a real workbook or table")
    with pytest.raises(ConversionError) as caught:
        importers.convert("wide", path, importers.parse_mapping(MAPPING, "registry.yaml"))
    problem = caught.value.report.problems[0]
    kind = "Excel" if suffix == ".xlsx" else "Parquet"
    assert problem.file == f"registry{suffix}" and f"could not read the {kind} file" in problem.message


def test_excel_date_and_text_cells_read_as_a_csv_would_hold_them(tmp_path: Path):
    from paincycle.importers.common import read_table

    frame = pd.DataFrame({"ID": ["A1", "A2"], "SEEN": pd.to_datetime(["2021-06-01", None]),
                          "SCORE": [7.0, 7.5], "NOTE": ["x", None]})
    path = tmp_path / "sheet.xlsx"
    frame.to_excel(path, index=False)
    text = read_table(path.name, path.read_bytes())
    assert text.to_dict("list") == {"ID": ["A1", "A2"], "SEEN": ["2021-06-01", ""],
                                    "SCORE": ["7", "7.5"], "NOTE": ["x", ""]}


def test_choir_extract_as_parquet_converts_like_the_csv(shared_data: Path, tmp_path: Path):
    path = shared_data / "choir-pittsburgh" / "pain.csv.gz"
    expected = importers.convert("wide", path, importers.load_mapping("choir")).cohort
    parquet = tmp_path / "choir.parquet"
    pd.read_csv(path).to_parquet(parquet, index=False)
    cohort = importers.convert("wide", parquet, importers.load_mapping("choir")).cohort
    pd.testing.assert_frame_equal(cohort.patients, expected.patients)
    pd.testing.assert_frame_equal(cohort.observations, expected.observations)


def test_parquet_integers_with_blanks_keep_every_digit(tmp_path: Path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    from paincycle.importers.common import read_table

    table = pa.table({"ID": pa.array([12345678901234567, None, 12345678901234569], pa.int64()),
                      "SCORE": pa.array([7.1, None, 5.0], pa.float32()),
                      "SITE": ["NA", None, "North"]})
    path = tmp_path / "registry.parquet"
    pq.write_table(table, path)
    text = read_table(path.name, path.read_bytes())
    assert text["ID"].tolist() == ["12345678901234567", "", "12345678901234569"]
    assert text["SCORE"].tolist() == ["7.1", "", "5"]
    assert text["SITE"].tolist() == ["NA", "", "North"]


def test_excel_keeps_na_written_as_text(tmp_path: Path):
    from paincycle.importers.common import read_table

    path = tmp_path / "sheet.xlsx"
    pd.DataFrame({"ID": ["1", "2"], "SITE": ["NA", "None"]}).to_excel(path, index=False)
    assert read_table(path.name, path.read_bytes())["SITE"].tolist() == ["NA", "None"]


@pytest.mark.parametrize("suffix", [".xlsx", ".parquet"])
def test_typed_dates_are_read_whatever_the_mappings_date_format(tmp_path: Path, suffix: str):
    frame = typed_export().assign(INTAKE=pd.to_datetime(["2021-03-14", "2021-11-02"]))
    path = tmp_path / f"registry{suffix}"
    frame.to_excel(path, index=False) if suffix == ".xlsx" else frame.to_parquet(path, index=False)
    mapping = MAPPING.replace("intake_date: 2021-06-01",
                              "intake_date_column: INTAKE\ndate_format: dmy")
    cohort = importers.convert("wide", path, importers.parse_mapping(mapping, "m.yaml")).cohort
    intake = cohort.patients.set_index("patient_id")["intake_date"].dt.strftime("%Y-%m-%d")
    assert intake.to_dict() == {"7": "2021-03-14", "8": "2021-11-02"}


def test_parquet_compression_bomb_is_refused_before_reading(tmp_path: Path, monkeypatch):
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = tmp_path / "registry.parquet"
    pq.write_table(pa.table({"ID": pa.array(["same id"] * 8_000_000)}), path, compression="zstd",
                   use_dictionary=False)
    assert path.stat().st_size < 1024**2

    def must_not_read(*_args, **_kwargs):
        raise AssertionError("the bomb was read")

    monkeypatch.setattr(pq, "read_table", must_not_read)
    with pytest.raises(ConversionError) as caught:
        importers.convert("wide", path, importers.parse_mapping(MAPPING, "m.yaml"))
    assert "possible compression bomb" in caught.value.report.problems[0].message


def test_malformed_workbook_is_a_clear_error_not_a_crash(tmp_path: Path):
    import io
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("xl/workbook.xml", b"<workbook/>")
    data = bytearray(buffer.getvalue())
    data[4:6] = b"\x9f\x00"  # "version needed to extract" 15.9: zipfile raises NotImplementedError
    central = data.rfind(b"PK\x01\x02")
    data[central + 6:central + 8] = b"\x9f\x00"
    path = tmp_path / "registry.xlsx"
    path.write_bytes(bytes(data))
    with pytest.raises(ConversionError) as caught:
        importers.convert("wide", path, importers.parse_mapping(MAPPING, "m.yaml"))
    assert "could not read the Excel file" in caught.value.report.problems[0].message
    assert importers.detect_kind(path) == "wide"
    with pytest.raises(ConversionError):
        importers.preview(path, "wide")


def test_a_mapped_day_long_before_intake_is_left_out_with_a_notice(tmp_path: Path):
    mapping = MAPPING + "  - {measure: pain_nrs, column: PAIN_90, day: -90}\n"
    result = convert(tmp_path, mapping=mapping)
    days = (result.cohort.observations["date"] - pd.Timestamp("2021-06-01")).dt.days
    assert days.min() >= -60
    notice = next(n for n in result.notices if "before the patient's intake" in n.message)
    assert notice.rows == 1  # patient 8 has no PAIN_90


def test_a_european_excel_csv_converts_when_the_mapping_says_so(tmp_path: Path):
    """Semicolons, a BOM, CRLF, 02.04.2015 dates and decimal commas: once 'Error tokenizing data'."""
    export = ("\ufeffID;PAIN_0;PF_0;INTAKE\r\n"
              "7;8;33,5;02.04.2015\r\n"
              "8;6;40;15.04.2015\r\n")
    path = tmp_path / "registry.csv"
    path.write_bytes(export.encode("utf-8"))
    mapping = importers.parse_mapping(
        "format: wide\nid_column: ID\nintake_date_column: INTAKE\ndate_format: dmy\n"
        "decimal: ','\nmeasures:\n  - {measure: pain_nrs, column: PAIN_0, day: 0}\n"
        "  - {measure: promis_physical_function, column: PF_0, day: 0}\n", "m.yaml")
    cohort = importers.convert("wide", path, mapping).cohort
    patients = cohort.patients.set_index("patient_id")
    assert f"{patients.loc['7', 'intake_date']:%Y-%m-%d}" == "2015-04-02"  # day first, as declared
    pf = cohort.observations[cohort.observations["measure"] == "promis_physical_function"]
    assert sorted(pf["value"]) == [33.5, 40.0]


def test_day_first_dates_without_the_declaration_are_named_not_guessed(tmp_path: Path):
    path = tmp_path / "registry.csv"
    path.write_text("ID;PAIN_0;INTAKE\n7;8;02.04.2015\n")
    mapping = importers.parse_mapping(
        "format: wide\nid_column: ID\nintake_date_column: INTAKE\n"
        "measures:\n  - {measure: pain_nrs, column: PAIN_0, day: 0}\n", "m.yaml")
    with pytest.raises(ConversionError) as caught:
        importers.convert("wide", path, mapping)
    problem = caught.value.report.problems[0]
    assert (problem.row, problem.column) == (2, "INTAKE") and "02.04.2015" in problem.message


def test_an_export_whose_scores_are_all_empty_is_refused_with_the_reason(tmp_path: Path):
    """It once crashed the validator ("Invalid comparison between dtype=str and ndarray")."""
    path = tmp_path / "registry.csv"
    path.write_text("ID,PAIN_0\n7,\n8,\n")
    mapping = importers.parse_mapping("format: wide\nid_column: ID\nintake_date: 2021-06-01\n"
                                      "measures:\n  - {measure: pain_nrs, column: PAIN_0, day: 0}\n",
                                      "m.yaml")
    with pytest.raises(ConversionError) as caught:
        importers.convert("wide", path, mapping)
    assert "no score PainCycle can use" in caught.value.report.problems[0].message
