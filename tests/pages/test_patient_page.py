"""The Patient drill-down: pick a patient, see their domains, verdicts and latest scores.

Expected values are computed here with plain pandas, not with paincycle.trajectories.
"""

from __future__ import annotations

import json

from streamlit.dataframe_util import convert_arrow_bytes_to_pandas_df
from streamlit.testing.v1 import AppTest

from paincycle import config
from paincycle.cohort import read_cohort
from paincycle.store import CohortStore

from .widgets import select_box


def open_patient_page(patient_id: str | None = None) -> AppTest:
    at = AppTest.from_file("../../app.py", default_timeout=120).run()
    assert not at.exception
    if patient_id:
        at.query_params["patient_id"] = patient_id
    at.switch_page("pages/patient.py").run()
    assert not at.exception
    return at


def test_patient_page_on_the_sample_cohort_follows_the_link_and_the_picker():
    sample = read_cohort(config.SAMPLE_COHORT)
    pid = sample.patients["patient_id"].iloc[41]
    at = open_patient_page(pid)
    assert select_box(at).value == pid

    latest = at.dataframe[0].value
    obs = sample.observations[sample.observations["patient_id"] == pid]
    last = obs.sort_values("date").groupby("measure").last()
    assert len(latest) == len(last)
    phq = latest[latest["Measure"] == "PHQ-9 total"].iloc[0]
    assert phq["Score"] == last.loc["phq9", "value"]
    assert phq["Date"] == f"{last.loc['phq9', 'date']:%Y-%m-%d}"

    charts = at.get("vega_lite_chart")
    assert len(charts) == 2  # responder tiles and the timeline
    timeline = json.loads(charts[1].proto.spec)
    assert len(timeline["facet"]["row"]["sort"]) == 4 and pid in timeline["title"]["text"]
    assert at.get("page_link"), "a link back to the cohort"

    other = sample.patients["patient_id"].iloc[7]
    select_box(at).select(other).run()
    assert not at.exception
    assert at.query_params["patient_id"] == other
    n_measures = sample.observations.loc[sample.observations["patient_id"] == other, "measure"].nunique()
    assert len(at.dataframe[0].value) == n_measures


def test_tiny_patient_tiles_percentiles_and_bands(tiny_cohort_dir, monkeypatch):
    monkeypatch.setattr("paincycle.config.SAMPLE_COHORT", tiny_cohort_dir.parent / "none")
    CohortStore().save(read_cohort(tiny_cohort_dir), name="tiny")
    at = open_patient_page("P001")

    tiles = at.get("vega_lite_chart")[0]
    frames = [convert_arrow_bytes_to_pandas_df(d.data.data) for d in tiles.proto.datasets]
    tile_rows = next(f for f in frames if "status" in f.columns)
    # pain 7 -> 5 (2 >= MCID 2), PHQ-9 18 -> 12, PROMIS PF 35.5 -> 41; no sleep scores
    assert dict(zip(tile_rows["domain"], tile_rows["status"], strict=True)) == {
        "Pain": "improved", "Mood": "improved", "Sleep": "not enough data", "Function": "improved",
        "Psychological": "not enough data"}
    latest = at.dataframe[0].value.set_index("Measure")
    # PHQ-9 18 -> 12 (moderate, 10-14); pain 7 -> 5 (moderate, 4-6)
    assert latest.loc["PHQ-9 total", "Score"] == 12
    assert latest.loc["PHQ-9 total", "Severity band"] == "moderate"
    assert latest.loc["Average pain (NRS 0-10)", "Severity band"] == "moderate"

    against = at.dataframe[1].value.set_index("Measure")
    # Week 13: P001's PHQ-9 of 12 against P002's 9 -> P001 is doing better than 0%.
    assert against.loc["PHQ-9 total", "Week"] == 13
    assert against.loc["PHQ-9 total", "Doing better than"] == "0% of the cohort"
    assert against.loc["PHQ-9 total", "Patients compared"] == 1


def test_patient_picker_without_a_cohort(tmp_path, monkeypatch):
    monkeypatch.setattr("paincycle.config.SAMPLE_COHORT", tmp_path / "none")
    at = open_patient_page()
    assert any("No cohort is loaded yet" in i.value for i in at.info)
