"""The overview page on a stored cohort, and its empty state."""

from streamlit.testing.v1 import AppTest

from paincycle import measures
from paincycle.cohort import read_cohort
from paincycle.store import CohortStore


def test_home_shows_the_stored_cohort(tiny_cohort_dir, monkeypatch):
    monkeypatch.setattr("paincycle.config.SAMPLE_COHORT", tiny_cohort_dir.parent / "none")
    cohort = read_cohort(tiny_cohort_dir)
    CohortStore().save(cohort, name="tiny")
    at = AppTest.from_file("../../app.py", default_timeout=60).run()
    assert not at.exception
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Patients"] == str(cohort.n_patients)
    assert metrics["Observations"] == str(len(cohort.observations))
    assert metrics["First record"] == "2025-01-06"
    assert metrics["Last record"] == "2026-01-05"
    recorded = next(m.value for m in at.markdown if m.value.startswith("**Measures recorded**"))
    assert f"- Pain: {measures.get('pain_nrs').instrument}" in recorded
    assert f"- Mood: {measures.get('phq9').instrument}" in recorded
    assert "phq9" not in recorded and "pain_nrs" not in recorded, "instrument names, not codes"
    assert at.title[0].value == ":material/cycle: PainCycle"


def test_home_empty_state(tmp_path, monkeypatch):
    monkeypatch.setattr("paincycle.config.SAMPLE_COHORT", tmp_path / "none")
    at = AppTest.from_file("../../app.py", default_timeout=60).run()
    assert not at.exception
    assert any("No cohort is loaded yet" in i.value for i in at.info)
