"""The Cohort overview on the bundled sample cohort and on the tiny fixture.

Expected numbers are computed here with plain pandas, not with paincycle.trajectories.
"""

from __future__ import annotations

import json
from datetime import date
from urllib.parse import parse_qs, urlparse

import pandas as pd
import pytest
from streamlit.dataframe_util import convert_arrow_bytes_to_pandas_df
from streamlit.testing.v1 import AppTest

from paincycle import config, measures
from paincycle import model as risk_model
from paincycle.cohort import read_cohort
from paincycle.store import CohortStore

from .widgets import keyed


def open_cohort_page() -> AppTest:
    at = AppTest.from_file("../../app.py", default_timeout=120).run()
    assert not at.exception
    at.switch_page("pages/cohort.py").run()
    assert not at.exception
    return at


def metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


@pytest.fixture(scope="module")
def sample():
    """The bundled demo cohort, read directly (the app stores it itself on first start)."""
    return read_cohort(config.SAMPLE_COHORT)


def latest(cohort, measure: str) -> pd.Series:
    obs = cohort.observations[cohort.observations["measure"] == measure]
    return obs.sort_values("date").groupby("patient_id")["value"].last()


def expected_headline(cohort, ids) -> dict[str, str]:
    ids = set(ids)
    p = cohort.patients[cohort.patients["patient_id"].isin(ids)]
    obs = cohort.observations
    ev = cohort.events
    attended = ev[ev["event"] == "appointment_attended"]
    last = pd.concat([obs[["patient_id", "date"]], attended[["patient_id", "date"]]]) \
        .groupby("patient_id")["date"].max()
    as_of = last.max()
    active = last[(last > as_of - pd.Timedelta(days=90))].index
    last_obs = obs.groupby("patient_id")["date"].max()
    weeks = ((p.set_index("patient_id")["intake_date"].rsub(last_obs.reindex(p["patient_id"]).values)
              ).dt.days / 7).clip(lower=0).fillna(0)
    pain, phq, isi = latest(cohort, "pain_nrs"), latest(cohort, "phq9"), latest(cohort, "isi")
    triad = [pid for pid in ids if pain.get(pid, 0) >= 7 and phq.get(pid, 0) >= 10
             and isi.get(pid, 0) >= 15]
    return {
        "Patients": f"{len(p):,}",
        "Active in last 90 days": f"{len(set(active) & ids):,}",
        "Median follow-up": f"{weeks.median():.0f} weeks",
        "Pain-mood-sleep triad": f"{len(triad) / len(p):.0%}",
    }


def test_cohort_page_on_the_sample_cohort(sample):
    at = open_cohort_page()
    shown = metrics(at)
    want = expected_headline(sample, sample.patients["patient_id"])
    for label, value in want.items():
        assert shown[label] == value, label
    assert {"Pain responders", "Mood responders", "Sleep responders", "Function responders"} <= set(shown)

    charts = at.get("vega_lite_chart")
    # pain, mood, sleep, function, psychological: each a band chart over its counts strip
    assert len(charts) == 2 * len(measures.VERDICT_GROUPS)
    at_least = 20  # 1,000 patients: a week needs 20 of them (charts.min_patients_per_week)
    assert any(f"fewer than {at_least} patients are not drawn" in c.value for c in at.caption)
    index = next(i for i, c in enumerate(charts) if "Average pain" in c.proto.spec)
    pain_chart, strip = charts[index], charts[index + 1]
    assert "lower is better" in json.loads(pain_chart.proto.spec)["title"]["subtitle"]
    frames = [convert_arrow_bytes_to_pandas_df(d.data.data) for d in pain_chart.proto.datasets]
    week_rows = next(f for f in frames if "n_patients" in f.columns).to_dict("records")
    obs = sample.observations[sample.observations["measure"] == "pain_nrs"]
    intake = obs["patient_id"].map(sample.patients.set_index("patient_id")["intake_date"])
    week = (obs["date"] - intake).dt.days // 7
    per_week = obs.assign(week=week).groupby("week")["patient_id"].nunique()
    week0 = [r for r in week_rows if r["week"] == 0]
    assert week0 and week0[0]["n_patients"] == per_week.loc[0]
    assert {r["week"] for r in week_rows} == set(per_week[per_week >= at_least].index)
    assert len(week_rows) < 100  # aggregated by week, never one row per observation

    counts = [convert_arrow_bytes_to_pandas_df(d.data.data) for d in strip.proto.datasets]
    followed = next(f for f in counts if "n_followed" in f.columns).set_index("week")["n_followed"]
    last_week = (sample.observations.groupby("patient_id")["date"].max()
                 - sample.patients.set_index("patient_id")["intake_date"]).dt.days // 7
    for w in (0, 10, 40):
        assert followed.loc[w] == (last_week >= w).sum(), w
    scored = next(f for f in counts if "drawn" in f.columns).set_index("week")
    assert (scored.loc[per_week[per_week < at_least].index, "drawn"] == "too few").all()

    table = at.dataframe[-1].value
    assert len(table) == min(500, len(sample.patients))
    assert table["link"].str.match(r"patient\?version=[^&]+&patient_id=").all()
    assert list(table["domains_worse"]) == sorted(table["domains_worse"], reverse=True)
    first = parse_qs(urlparse(table["link"].iloc[0]).query)["patient_id"][0]
    assert table["phq9"].iloc[0] == pytest.approx(latest(sample, "phq9").get(first), nan_ok=True)
    assert table["function"].iloc[0] == pytest.approx(
        latest(sample, "promis_physical_function").get(first), nan_ok=True)
    scores = risk_model.score(risk_model.load(config.DEMO_MODEL), sample, explain=False).table
    risk = scores.set_index("patient_id")["risk"]
    assert table["risk"].iloc[0] == risk_model.risk_percent(risk[first])  # whole percent
    assert table["risk"].notna().sum() == table["link"].str.split("=").str[-1].isin(risk.index).sum()


def _count_after(at: AppTest) -> int:
    assert not at.exception
    return int(metrics(at)["Patients"].replace(",", ""))


def test_every_filter_changes_the_patient_count(sample):
    at = open_cohort_page()
    p = sample.patients
    site = p["site"].dropna().iloc[0]
    keyed(at.multiselect, "cohort", "site").select(site).run()
    assert _count_after(at) == (p["site"] == site).sum()
    keyed(at.multiselect, "cohort", "site").unselect(site).run()

    diagnosis = "fibromyalgia"
    keyed(at.multiselect, "cohort", "diagnosis").select(diagnosis).run()
    assert _count_after(at) == (p["diagnosis"] == diagnosis).sum()
    keyed(at.multiselect, "cohort", "diagnosis").unselect(diagnosis).run()

    keyed(at.multiselect, "cohort", "sex").select("male").run()
    assert _count_after(at) == (p["sex"] == "male").sum()
    keyed(at.multiselect, "cohort", "sex").unselect("male").run()

    keyed(at.multiselect, "cohort", "age").select("45-59").run()
    age = date.today().year - p["birth_year"]
    assert _count_after(at) == ((age >= 45) & (age < 60)).sum()
    keyed(at.multiselect, "cohort", "age").unselect("45-59").run()

    keyed(at.multiselect, "cohort", "treatment").select("cbt").run()
    ev = sample.events
    treated = ev[(ev["event"] == "treatment_start") & (ev["detail"] == "cbt")]["patient_id"].nunique()
    assert _count_after(at) == treated
    keyed(at.multiselect, "cohort", "treatment").unselect("cbt").run()

    start, end = date(2023, 6, 1), date(2024, 5, 31)
    keyed(at.date_input, "cohort", "intake").set_value((start, end)).run()
    in_period = p["intake_date"].between(pd.Timestamp(start), pd.Timestamp(end)).sum()
    assert _count_after(at) == in_period
    assert len(at.get("vega_lite_chart")) == 2 * len(measures.VERDICT_GROUPS)


def test_tiny_cohort_responders_and_empty_state(tiny_cohort_dir, monkeypatch):
    monkeypatch.setattr("paincycle.config.SAMPLE_COHORT", tiny_cohort_dir.parent / "none")
    monkeypatch.setattr("paincycle.ui.review.model_scores", lambda version_id: None)
    monkeypatch.setattr("paincycle.ui.review.scores_by_patient", lambda version_id: None)
    CohortStore().save(read_cohort(tiny_cohort_dir), name="tiny")
    at = open_cohort_page()
    table = at.dataframe[-1].value
    assert "risk" not in table.columns  # no model scores this cohort: no risk column
    assert dict(zip(table["link"].str[-4:], table["function"], strict=True))["P001"] == 41.0
    # three patients: no week has the 5 a median needs, so no band is drawn
    drawn = at.get("vega_lite_chart")
    assert drawn and len(drawn) % 2 == 0  # each measure charted: its band and its counts
    bands = [convert_arrow_bytes_to_pandas_df(d.data.data) for c in drawn
             for d in c.proto.datasets]
    assert any(len(f) for f in bands)  # the counts under the charts are there
    assert not [f for f in bands if "median" in f.columns and len(f)]
    shown = metrics(at)
    assert shown["Patients"] == "3"
    # P001's PROMIS physical function 35.5 -> 41.0 at day 364: the one 12-month function responder.
    assert shown["Function responders"] == "100%"
    assert shown["Pain responders"] == "-"
    assert shown["Pain-mood-sleep triad"] == "0%"

    keyed(at.multiselect, "cohort", "site").select("South").run()
    keyed(at.multiselect, "cohort", "sex").select("male").run()
    assert not at.exception
    assert any("No patients match these filters" in i.value for i in at.info)
    assert not at.metric


def test_cohort_page_without_a_cohort(tmp_path, monkeypatch):
    monkeypatch.setattr("paincycle.config.SAMPLE_COHORT", tmp_path / "none")
    at = open_cohort_page()
    assert any("No cohort is loaded yet" in i.value for i in at.info)
