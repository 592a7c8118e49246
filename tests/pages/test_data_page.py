"""The Data page: upload, detected kind, preview, validation report, import, version switch."""

from __future__ import annotations

import json
from pathlib import Path

from streamlit.testing.v1 import AppTest

from paincycle import analyses
from paincycle.store import CohortStore

APP = str(Path(__file__).resolve().parents[2] / "app.py")

BUNDLE = {"resourceType": "Bundle", "type": "collection", "entry": [
    {"fullUrl": "urn:uuid:1", "resource": {"resourceType": "Patient", "id": "1",
                                           "identifier": [{"value": "MRN-1"}], "gender": "female"}},
    {"resource": {"resourceType": "Observation", "status": "final",
                  "code": {"coding": [{"system": "http://loinc.org", "code": "72514-3"}]},
                  "subject": {"reference": "urn:uuid:1"},
                  "effectiveDateTime": "2024-01-10T10:00:00+01:00", "valueInteger": 6}},
]}


def _data_page(monkeypatch, tmp_path: Path) -> AppTest:
    monkeypatch.setattr("paincycle.config.SAMPLE_COHORT", tmp_path / "none")
    at = AppTest.from_file(APP, default_timeout=60).run()
    at.switch_page("pages/data.py").run()
    assert not at.exception
    return at


def test_upload_detect_preview_and_import(monkeypatch, tmp_path: Path, data_dir: Path):
    at = _data_page(monkeypatch, tmp_path)
    assert at.title[0].value == ":material/upload_file: Data"
    assert "MB" in at.get("file_uploader")[0].proto.label
    at.get("file_uploader")[0].set_value(
        ("export.json", json.dumps(BUNDLE).encode(), "application/json"))
    at.run()
    assert not at.exception
    assert at.selectbox[0].value == "fhir"
    preview = at.dataframe[0].value
    assert preview["resourceType"].tolist() == ["Patient", "Observation"]
    at.button[0].click().run()
    assert not at.exception
    assert any("You are looking at it now" in s.value for s in at.success)
    stored = CohortStore().versions()
    assert len(stored) == 1 and stored[0].rows["patients"] == 1
    assert at.session_state["cohort_version"] == stored[0].id
    assert (analyses.folder_of(CohortStore(), stored[0].id) / "arrays.npz").exists()
    assert not any((data_dir / "uploads").rglob("*.json")), "the upload is deleted once imported"


def test_bad_upload_shows_the_report_table(monkeypatch, tmp_path: Path):
    at = _data_page(monkeypatch, tmp_path)
    bad = dict(BUNDLE)
    bad["entry"] = BUNDLE["entry"] + [{"resource": {
        "resourceType": "Observation", "code": {"coding": [{"system": "http://loinc.org",
                                                            "code": "72514-3"}]},
        "subject": {"reference": "urn:uuid:1"}, "effectiveDateTime": "2024-02-01",
        "valueString": "a lot"}}]
    at.get("file_uploader")[0].set_value(("bad.json", json.dumps(bad).encode(), "application/json"))
    at.run()  # checked on upload: refused before any Import button is offered
    assert not at.exception
    assert "Import" not in [b.label for b in at.button]
    assert any("1 problem(s)" in e.value for e in at.error)
    table = at.dataframe[-1].value
    assert list(table.columns) == ["file", "row", "column", "problem"]
    assert "'a lot' is not a number" in table["problem"].iloc[0]
    assert CohortStore().versions() == []


def test_a_damaged_workbook_is_listed_as_a_whole_file_problem(monkeypatch, tmp_path: Path):
    at = _data_page(monkeypatch, tmp_path)
    at.get("file_uploader")[0].set_value(("registry.xlsx", b"PK\x03\x04 not a workbook",
                                          "application/vnd.ms-excel"))
    at.run()
    assert not at.exception
    table = at.dataframe[-1].value
    assert table.loc[0, ["file", "row", "column"]].tolist() == ["registry.xlsx", "-", "-"]
    assert "could not read the Excel file" in table.loc[0, "problem"]
    assert CohortStore().versions() == []


def test_excel_registry_export_is_detected_previewed_mapped_and_imported(monkeypatch, tmp_path: Path):
    import io

    import pandas as pd

    sheet = pd.DataFrame({"ID": [7, 8], "PAIN_0": [8, 6], "PAIN_90": [5, None], "NOTE": ["x", ""]})
    data = io.BytesIO()
    sheet.to_excel(data, index=False)
    at = _data_page(monkeypatch, tmp_path)
    at.get("file_uploader")[0].set_value(("registry.xlsx", data.getvalue(), "application/vnd.ms-excel"))
    at.run()
    assert not at.exception
    assert at.selectbox[0].value == "wide"
    assert at.dataframe[0].value["ID"].tolist() == ["7", "8"]
    at.text_area[0].set_value(
        "format: wide\nid_column: ID\nintake_date: 2021-06-01\nmeasures:\n"
        "  - {measure: pain_nrs, column: PAIN_0, day: 0}\n"
        "  - {measure: pain_nrs, column: PAIN_90, day: 90}\n").run()
    # before anything is stored: what would come in and what would be left out
    assert any("Ready to import 2 patients, 3 scores" in s.value for s in at.success)
    assert any("Left out on purpose" in c.value for c in at.caption)
    left_out = at.dataframe[-1].value
    assert left_out.loc[0, "column"] == "NOTE" and "not in the mapping" in left_out.loc[0, "notice"]
    assert CohortStore().versions() == []
    next(b for b in at.button if b.label == "Import").click().run()
    assert not at.exception
    stored = CohortStore().versions()
    assert len(stored) == 1 and stored[0].rows == {"patients": 2, "observations": 3, "events": 0}


def test_streamlit_accepts_uploads_as_large_as_the_importers_do():
    import tomllib

    from paincycle.ui.upload import UPLOAD_LIMIT_MB

    config = tomllib.loads((Path(APP).parent / ".streamlit" / "config.toml").read_text())
    assert config["server"]["maxUploadSize"] == UPLOAD_LIMIT_MB


def test_uploads_live_in_the_data_folder_and_stale_ones_are_removed(monkeypatch, tmp_path: Path,
                                                                   data_dir: Path):
    import os
    import time

    stale = data_dir / "uploads" / "abandoned"
    stale.mkdir(parents=True)
    (stale / "export.json").write_text("{}")
    old = time.time() - 2 * 24 * 3600
    os.utime(stale, (old, old))
    at = _data_page(monkeypatch, tmp_path)
    at.get("file_uploader")[0].set_value(
        ("export.json", json.dumps(BUNDLE).encode(), "application/json"))
    at.run()
    assert not stale.exists(), "a session abandoned a day ago leaves nothing behind"
    kept = list((data_dir / "uploads").rglob("export.json"))
    assert len(kept) == 1, "this session's upload is kept in the data folder until imported"


def _texts(at: AppTest) -> str:
    return "\n".join(str(e.value) for e in (*at.error, *at.info, *at.warning, *at.caption,
                                            *at.markdown, *at.success))


def test_a_long_format_observations_table_alone_is_a_cohort_table_and_says_what_is_missing(
        monkeypatch, tmp_path: Path, tiny_cohort_dir: Path):
    at = _data_page(monkeypatch, tmp_path)
    at.get("file_uploader")[0].set_value(
        ("observations.csv", (tiny_cohort_dir / "observations.csv").read_bytes(), "text/csv"))
    at.run()
    assert not at.exception
    assert at.selectbox[0].value == "cohort", "long format: a cohort table, not a wide export"
    assert at.dataframe[0].value.columns.tolist() == ["patient_id", "date", "measure", "value"]
    assert "Import" not in [b.label for b in at.button]
    problems = at.dataframe[-1].value
    assert problems.loc[0, ["file", "row", "column"]].tolist() == ["observations.csv", "-", "-"]
    assert "observations table on its own" in problems.loc[0, "problem"]
    said = next(m.value for m in at.markdown if "observations table on its own" in m.value)
    assert said.startswith("- **observations.csv**:"), "a whole-file problem is a readable sentence"
    assert "patients.csv" in problems.loc[0, "problem"]
    assert "--" not in _texts(at) + " ".join(problems["problem"]), "no command-line flag"
    assert CohortStore().versions() == []


def test_cohort_tables_uploaded_together_are_checked_before_the_import_button(
        monkeypatch, tmp_path: Path, tiny_cohort_dir: Path):
    observations = (tiny_cohort_dir / "observations.csv").read_text()
    bad = observations.replace("P001,2025-04-07,phq9,12", "P001,2025-04-07,phq9,31")
    assert bad != observations
    bad_row = bad.splitlines().index("P001,2025-04-07,phq9,31") + 1  # the header is row 1
    files = [("patients.csv", (tiny_cohort_dir / "patients.csv").read_bytes(), "text/csv"),
             ("observations.csv", bad.encode(), "text/csv")]
    at = _data_page(monkeypatch, tmp_path)
    at.get("file_uploader")[0].set_value(files)
    at.run()
    assert not at.exception
    assert at.selectbox[0].value == "cohort"
    assert "Import" not in [b.label for b in at.button], "refused at the check, before Import"
    problems = at.dataframe[-1].value
    assert list(problems.columns) == ["file", "row", "column", "problem"]
    first = problems.iloc[0]
    assert (first["file"], first["row"], first["column"]) == ("observations.csv", str(bad_row),
                                                              "value")
    files[1] = ("observations.csv", observations.encode(), "text/csv")
    at.get("file_uploader")[0].set_value(files)
    at.run()
    assert not at.exception
    assert any("Ready to import 3 patients, 11 scores" in s.value for s in at.success)
    assert at.text_input[0].value == "cohort"
    next(b for b in at.button if b.label == "Import").click().run()
    assert not at.exception
    stored = CohortStore().versions()
    assert len(stored) == 1 and stored[0].rows == {"patients": 3, "observations": 11, "events": 0}


def test_a_wide_export_waits_for_its_mapping_and_never_names_a_command_line_flag(
        monkeypatch, tmp_path: Path):
    at = _data_page(monkeypatch, tmp_path)
    at.get("file_uploader")[0].set_value(("registry.csv", b"ID,PAIN_0\n7,8\n", "text/csv"))
    at.run()
    assert not at.exception
    assert at.selectbox[0].value == "wide"
    assert not at.error, "nothing is refused before a mapping is given"
    assert any("needs a mapping before it can be checked" in i.value for i in at.info)
    assert "Import" not in [b.label for b in at.button]
    assert "--mapping" not in _texts(at)
