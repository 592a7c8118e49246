"""The real CHOIR registry extract, converted with the shipped mapping, opens in every page."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from paincycle import importers
from paincycle.store import CohortStore

CHOIR = Path(__file__).resolve().parents[3] / "shared" / "data" / "choir-pittsburgh" / "pain.csv.gz"
PAGES = ["cohort", "patient", "case_review", "risk_model", "data", "export", "audit"]


@pytest.mark.slow
@pytest.mark.skipif(not CHOIR.exists(), reason=f"the shared CHOIR extract is not at {CHOIR}")
def test_choir_opens_in_every_page(monkeypatch, tmp_path):
    monkeypatch.setattr("paincycle.config.SAMPLE_COHORT", tmp_path / "none")
    cohort = importers.convert("wide", CHOIR, importers.load_mapping("choir")).cohort
    CohortStore().save(cohort, name="choir", source="CHOIR registry extract")

    at = AppTest.from_file("../../app.py", default_timeout=300).run()
    assert not at.exception
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Patients"] == f"{cohort.n_patients:,}"
    for page in PAGES:
        at.switch_page(f"pages/{page}.py").run()
        assert not at.exception, f"{page}: {at.exception}"
        if page == "cohort":
            shown = {m.label: m.value for m in at.metric}
            assert shown["Patients"] == f"{cohort.n_patients:,}"
