"""The Patient drill-down: pick a patient, see their domains, verdicts and latest scores.

Expected values are computed here with plain pandas, not with paincycle.trajectories.
"""

from __future__ import annotations

import json

import pytest
from streamlit.dataframe_util import convert_arrow_bytes_to_pandas_df
from streamlit.testing.v1 import AppTest

from paincycle import charts as charts_module
from paincycle import config
from paincycle import model as risk_model
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
    assert len(charts) == 6  # responder tiles, four domain rows and the lanes
    rows = [json.loads(c.proto.spec) for c in charts[1:]]
    assert [r["title"]["text"].split(":")[0] for r in rows] == [
        "Pain", "Mood", "Sleep", "Function", "Treatments and appointments"]
    lanes = next(layer for layer in rows[-1]["layer"] if "y" in layer.get("encoding", {}))
    had = sample.events[(sample.events["patient_id"] == pid)
                        & (sample.events["event"] == "treatment_start")]["detail"].astype(str)
    treatments = [lane for lane in lanes["encoding"]["y"]["scale"]["domain"]
                  if not lane.startswith("Appointments")]
    assert sorted(treatments) == sorted({charts_module.treatment_name(t) for t in had})
    assert at.get("page_link"), "a link back to the cohort"
    assert at.get("download_button"), "the one-page PDF for the chart"

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


def metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def test_patient_header_and_latest_band_for_a_low_physical_function():
    """P000055: a PROMIS physical function T of 28.4 at the latest visit is 'severe', not '-'."""
    sample = read_cohort(config.SAMPLE_COHORT)
    pid = "P000055"
    at = open_patient_page(pid)
    me = sample.patients.set_index("patient_id").loc[pid]
    obs = sample.observations[sample.observations["patient_id"] == pid]
    ev = sample.events[sample.events["patient_id"] == pid]
    last = max(obs["date"].max(), ev.loc[ev["event"] == "appointment_attended", "date"].max())
    scored = risk_model.score(risk_model.load(config.DEMO_MODEL), sample, explain=False).table
    risk = scored.set_index("patient_id")["risk"].get(pid)
    shown = metrics(at)
    assert shown["Age at intake"] == str(me["intake_date"].year - me["birth_year"])
    assert shown["Intake date"] == f"{me['intake_date']:%Y-%m-%d}"
    assert shown["Last contact"] == f"{last:%Y-%m-%d}"
    assert shown["Weeks in care"] == str((last - me["intake_date"]).days // 7)
    assert shown["Model risk"] == (risk_model.risk_words(risk) if risk is not None
                                   else "no model score")
    texts = [t.value for t in at.text]
    assert f"Sex: {me['sex']} · Diagnosis: {me['diagnosis']} · Site: {me['site']}" in texts
    assert any("weekly model's risk week by week" in c.value for c in at.caption)

    latest = at.dataframe[0].value.set_index("Measure")
    assert latest.loc["PROMIS physical function T", "Score"] == 28.4
    assert latest.loc["PROMIS physical function T", "Severity band"] == "severe"
    assert latest.loc["Diary total sleep time", "Severity band"] == "not banded"


def test_no_model_score_is_said_plainly(tiny_cohort_dir, monkeypatch):
    monkeypatch.setattr("paincycle.config.SAMPLE_COHORT", tiny_cohort_dir.parent / "none")
    monkeypatch.setattr("paincycle.ui.review.model_scores", lambda version_id: None)
    monkeypatch.setattr("paincycle.ui.review.scores_by_patient", lambda version_id: None)
    CohortStore().save(read_cohort(tiny_cohort_dir), name="tiny")
    at = open_patient_page("P001")
    shown = metrics(at)
    assert shown["Model risk"] == "no model score"
    assert shown["Age at intake"] == "55" and shown["Weeks in care"] == "52"
    assert "Current treatments: CBT" in [t.value for t in at.text]


def test_a_synthetic_model_on_real_patients_is_said_beside_the_risk(tiny_cohort_dir):
    """A cohort not known to be synthetic, scored by the demo model: a warning on the page."""
    assert config.DEMO_MODEL.exists(), "models/demo.skops is shipped (make model)"
    CohortStore().save(read_cohort(tiny_cohort_dir), name="clinic")
    at = open_patient_page("P001")
    assert any("trained on synthetic (generated) data" in w.value
               and "scores real patients" in w.value for w in at.warning)


def test_the_weekly_risk_is_shown_on_request_and_reads_only_each_weeks_data():
    from paincycle import weekly_model

    sample = read_cohort(config.SAMPLE_COHORT)
    pid = sample.patients["patient_id"].iloc[41]
    at = open_patient_page(pid)
    charts_before = len(at.get("vega_lite_chart"))
    at.toggle(key="patient_weekly_risk").set_value(True).run()
    assert not at.exception
    charts = at.get("vega_lite_chart")
    assert len(charts) == charts_before + 1
    chart = next(c for c in charts if "Risk over time (weekly model)" in c.proto.spec)
    trained = risk_model.load(config.WEEKLY_MODEL)
    expected = weekly_model.risk_over_time(trained, sample)
    expected = expected[expected["patient_id"] == pid]
    shown = [row for rows in chart.proto.datasets for row in
             convert_arrow_bytes_to_pandas_df(rows.data.data).to_dict("records")]
    risks = [row["risk"] for row in shown if "risk" in row]
    assert risks == pytest.approx(expected["risk"].tolist())
    assert any("Prognostic support, not a diagnosis" in c.value for c in at.caption)


def test_a_weekly_model_that_fails_its_checks_is_said_not_drawn(tmp_path, monkeypatch):
    bad = tmp_path / "weekly.skops"
    bad.write_bytes(b"not a model file")
    monkeypatch.setattr("paincycle.config.WEEKLY_MODEL", bad)
    sample = read_cohort(config.SAMPLE_COHORT)
    at = open_patient_page(sample.patients["patient_id"].iloc[41])
    at.toggle(key="patient_weekly_risk").set_value(True).run()
    assert not at.exception
    assert any("weekly model could not be loaded" in w.value for w in at.warning)
    assert not any("Risk over time (weekly model)" in c.proto.spec
                   for c in at.get("vega_lite_chart"))
