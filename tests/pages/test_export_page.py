"""The Export page: options, the build with progress, the download, roles, the empty state."""

from __future__ import annotations

import io

import pandas as pd
import pytest
import sqlalchemy as sa
from streamlit.testing.v1 import AppTest

from paincycle import clock, database
from paincycle.cohort import read_cohort
from paincycle.store import CohortStore

APP = "../../app.py"
PAGE = "pages/export.py"


@pytest.fixture
def no_model(tmp_path, monkeypatch):
    monkeypatch.setattr("paincycle.config.DEMO_MODEL", tmp_path / "no-model.skops")


def _open() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=120).run()
    assert not at.exception
    at.switch_page(PAGE).run()
    assert not at.exception
    return at


def _label(elements, label):
    return next(w for w in elements if w.label == label)


def test_build_and_download_a_deidentified_csv(tiny_cohort_dir, no_model, monkeypatch):
    monkeypatch.setenv("PAINCYCLE_TIMEZONE", "Asia/Kolkata")  # never UTC: +05:30
    CohortStore().save(read_cohort(tiny_cohort_dir), name="tiny")
    at = _open()
    assert at.title[0].value == ":material/download: Export"
    assert any(c.value == "3 of 3 patients selected." for c in at.caption)
    model_box = _label(at.checkbox, "Include the risk model")
    assert model_box.disabled and not model_box.value  # no model file
    assert len(at.get("download_button")) == 0
    _label(at.radio, "Format").set_value("csv")
    _label(at.checkbox, "De-identify").check()
    before = clock.stamp_for_file()
    _label(at.button, "Build the export").click()
    at.run()
    assert not at.exception
    assert len(at.get("download_button")) == 1
    name, content, mime = at.session_state["export_result"]
    assert name.startswith("paincycle-summary-deidentified-") and name.endswith(".csv")
    stamp = name.removeprefix("paincycle-summary-deidentified-").removesuffix(".csv")
    assert stamp in {before, clock.stamp_for_file()}, "local time in the file name"
    assert mime == "text/csv"
    frame = pd.read_csv(io.BytesIO(content), encoding="utf-8-sig")
    assert len(frame) == 3 and frame["patient"].str.startswith("PX-").all()
    with database.get_engine().connect() as conn:
        details = conn.execute(sa.select(database.audit_log.c.detail)
                               .where(database.audit_log.c.action == "export")).scalars().all()
    assert details == ["cohort summary .csv de-identified, 3 patients"]


def test_filters_restrict_the_export(tiny_cohort_dir, no_model):
    CohortStore().save(read_cohort(tiny_cohort_dir), name="tiny")
    at = _open()
    _label(at.multiselect, "Site").select("South")
    at.run()
    assert any(c.value == "1 of 3 patients selected by the filters." for c in at.caption)
    _label(at.radio, "Format").set_value("csv")
    _label(at.button, "Build the export").click()
    at.run()
    _, content, _ = at.session_state["export_result"]
    frame = pd.read_csv(io.BytesIO(content), encoding="utf-8-sig")
    assert frame["patient"].tolist() == ["P003"]
    assert frame["diagnosis"].tolist() == ["'=HYPERLINK(\"http://x\")"]


def test_empty_state(tmp_path, monkeypatch):
    monkeypatch.setattr("paincycle.config.SAMPLE_COHORT", tmp_path / "none")
    at = _open()
    assert any("No cohort is loaded yet" in i.value for i in at.info)


def test_a_synthetic_model_scoring_real_patients_is_said_to_be_so(tiny_cohort_dir):
    import openpyxl

    from paincycle import config

    if not config.DEMO_MODEL.exists():
        pytest.skip("the demo model is not bundled")
    CohortStore().save(read_cohort(tiny_cohort_dir), name="tiny", source="cohort upload")
    at = _open()
    assert _label(at.checkbox, "Include the risk model").value
    _label(at.radio, "Format").set_value("xlsx")
    _label(at.button, "Build the export").click()
    at.run()
    assert not at.exception
    _, content, _ = at.session_state["export_result"]
    about = [row[0] for row in openpyxl.load_workbook(io.BytesIO(content))["About"].values]
    said = "\n".join(str(line) for line in about)
    assert "trained on synthetic (generated) data" in said and "scores real patients" in said
    assert "Risks are prognostic support, not a diagnosis." in about
