"""Trajectory maths on hand-made cohorts whose answers are known by hand."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from paincycle import measures, rules, synth
from paincycle import trajectories as tr
from paincycle.cohort import from_frames, read_cohort

INTAKE = pd.Timestamp("2025-01-06")


def make_cohort(rows, patients=None, events=None):
    """rows: (patient_id, days since that patient's intake, measure, value); default intake INTAKE."""
    obs = pd.DataFrame(rows, columns=["patient_id", "days", "measure", "value"])
    if patients is None:
        ids = sorted(set(obs["patient_id"]))
        patients = pd.DataFrame({"patient_id": ids, "intake_date": INTAKE.strftime("%Y-%m-%d")})
    intake = pd.to_datetime(patients.set_index("patient_id")["intake_date"])

    def dated(frame):
        return (frame["patient_id"].map(intake) + pd.to_timedelta(frame["days"], unit="D")
                ).dt.strftime("%Y-%m-%d")

    obs["date"] = dated(obs)
    ev = None
    if events is not None:
        ev = pd.DataFrame(events, columns=["patient_id", "days", "event", "detail"])
        ev["date"] = dated(ev)
        ev = ev[["patient_id", "date", "event", "detail"]]
    return from_frames(patients, obs[["patient_id", "date", "measure", "value"]], ev)


def status_of(table: pd.DataFrame, patient: str, measure: str) -> pd.Series:
    row = table[(table["patient_id"] == patient) & (table["measure"] == measure)]
    assert len(row) == 1, row
    return row.iloc[0]


# --------------------------------------------------------------------------- time axis

def test_time_since_intake_counts_days_and_weeks_including_before_intake():
    cohort = make_cohort([("A", -20, "phq9", 10), ("A", 0, "phq9", 9), ("A", 6, "phq9", 8),
                          ("A", 7, "phq9", 7), ("A", 91, "phq9", 5)])
    out = tr.with_time_since_intake(cohort).sort_values("days")
    assert out["days"].tolist() == [-20, 0, 6, 7, 91]
    assert out["week"].tolist() == [-3, 0, 0, 1, 13]


def test_per_patient_passes_give_the_same_answers_in_blocks(monkeypatch):
    cohort = synth.generate(30, seed=4)
    weekly, status = tr.weekly_series(cohort), tr.responder_status(cohort)
    at_six_months = tr.responder_status(cohort, rules.FOLLOW_UPS[6])
    monkeypatch.setattr(tr, "BLOCK_ROWS", 500)
    assert len(cohort.observations) > 10 * 500
    pd.testing.assert_frame_equal(tr.weekly_series(cohort), weekly)
    pd.testing.assert_frame_equal(tr.responder_status(cohort), status)
    pd.testing.assert_frame_equal(tr.responder_status(cohort, rules.FOLLOW_UPS[6]), at_six_months)


def test_weekly_series_turns_daily_steps_into_weekly_means():
    rows = [("A", d, "steps", 1000.0 * (d + 1)) for d in range(7)]  # 1000..7000, mean 4000
    rows += [("A", 7, "steps", 9000.0), ("A", 0, "phq9", 12)]
    weekly = tr.weekly_series(make_cohort(rows))
    steps = weekly[weekly["measure"] == "steps"].set_index("week")["value"]
    assert steps.to_dict() == {0: 4000.0, 1: 9000.0}
    assert len(weekly) == 3
    only_phq = tr.weekly_series(make_cohort(rows), measures=["phq9"])
    assert only_phq["measure"].tolist() == ["phq9"]


def test_cohort_bands_median_quartiles_and_patients_per_week():
    rows = [("A", 0, "phq9", 2), ("B", 1, "phq9", 4), ("C", 2, "phq9", 9), ("C", 3, "phq9", 11),
            ("A", 14, "phq9", 6)]
    bands = tr.cohort_bands(make_cohort(rows), "phq9")
    week0 = bands.set_index("week").loc[0]
    # C counts once in week 0 with its weekly mean (9+11)/2 = 10: values 2, 4, 10.
    assert week0["median"] == 4
    assert week0["q1"] == 3  # linear interpolation between 2 and 4
    assert week0["q3"] == 7  # between 4 and 10
    assert week0["n_patients"] == 3
    assert bands.set_index("week").loc[2, "n_patients"] == 1
    months = tr.cohort_bands(make_cohort(rows), "phq9", unit="month")
    assert months["month"].tolist() == [0]
    assert months["n_patients"].tolist() == [3]
    assert tr.cohort_bands(make_cohort(rows), "isi").empty


# --------------------------------------------------------------------------- responders

def test_responder_status_worse_high_measure_in_both_directions():
    rows = [("A", 0, "phq9", 18), ("A", 90, "phq9", 12),   # -6: improved (MCID 5)
            ("B", 0, "phq9", 8), ("B", 90, "phq9", 14),    # +6: worse
            ("C", 0, "phq9", 10), ("C", 90, "phq9", 13)]   # +3: no reliable change
    status = tr.responder_status(make_cohort(rows))
    a = status_of(status, "A", "phq9")
    assert (a["baseline"], a["latest"], a["change"], a["improvement"]) == (18, 12, -6, 6)
    assert a["status"] == "improved" and a["domain"] == "mood" and a["mcid"] == 5
    assert status_of(status, "B", "phq9")["status"] == "worse"
    assert status_of(status, "B", "phq9")["improvement"] == -6
    assert status_of(status, "C", "phq9")["status"] == "no reliable change"


def test_responder_status_better_high_measure_in_both_directions():
    rows = [("A", 0, "promis_physical_function", 35), ("A", 120, "promis_physical_function", 40),
            ("B", 0, "promis_physical_function", 40), ("B", 120, "promis_physical_function", 35),
            ("C", 0, "promis_physical_function", 40), ("C", 120, "promis_physical_function", 42)]
    status = tr.responder_status(make_cohort(rows))
    assert status_of(status, "A", "promis_physical_function")["status"] == "improved"
    assert status_of(status, "A", "promis_physical_function")["improvement"] == 5
    assert status_of(status, "B", "promis_physical_function")["status"] == "worse"
    assert status_of(status, "C", "promis_physical_function")["status"] == "no reliable change"


def test_pain_nrs_improves_by_thirty_percent_even_below_two_points():
    # 5 -> 3.5 is 1.5 points (< MCID 2) but 30% (the registry's percentage MCID).
    rows = [("A", 0, "pain_nrs", 5), ("A", 60, "pain_nrs", 3.5),
            ("B", 0, "pain_nrs", 8), ("B", 60, "pain_nrs", 6.5)]  # 1.5 points, 19%
    status = tr.responder_status(make_cohort(rows))
    assert status_of(status, "A", "pain_nrs")["status"] == "improved"
    assert status_of(status, "B", "pain_nrs")["status"] == "no reliable change"


def test_missing_baseline_and_single_visit_are_not_enough_data():
    rows = [("A", 30, "phq9", 20), ("A", 200, "phq9", 5),   # first score 30 days after intake
            ("B", 0, "phq9", 20)]                            # one visit only
    status = tr.responder_status(make_cohort(rows))
    a = status_of(status, "A", "phq9")
    assert a["status"] == "not enough data" and np.isnan(a["baseline"]) and np.isnan(a["change"])
    b = status_of(status, "B", "phq9")
    assert b["status"] == "not enough data" and b["baseline"] == 20 and np.isnan(b["latest"])


def test_baseline_is_the_score_closest_to_intake_even_before_it():
    rows = [("A", -40, "phq9", 25), ("A", -5, "phq9", 20), ("A", 12, "phq9", 22),
            ("A", 100, "phq9", 14),
            ("B", -30, "phq9", 10), ("B", 10, "phq9", 19), ("B", 100, "phq9", 13)]
    status = tr.responder_status(make_cohort(rows))
    a = status_of(status, "A", "phq9")
    assert a["baseline"] == 20 and a["baseline_date"] == INTAKE - pd.Timedelta(days=5)
    assert a["status"] == "improved"  # 20 -> 14
    b = status_of(status, "B", "phq9")
    assert b["baseline"] == 19 and b["status"] == "improved"  # day +10 is closer than day -30


def test_scores_before_intake_only_with_nothing_later_are_not_enough_data():
    status = tr.responder_status(make_cohort([("A", -50, "isi", 20), ("A", -10, "isi", 12)]))
    row = status_of(status, "A", "isi")
    assert row["baseline"] == 12 and row["status"] == "not enough data"


def test_follow_up_at_a_landmark_uses_the_window():
    rows = [("A", 0, "phq9", 20), ("A", 95, "phq9", 14), ("A", 200, "phq9", 22),
            ("A", 370, "phq9", 9), ("B", 0, "phq9", 20), ("B", 250, "phq9", 5)]
    cohort = make_cohort(rows)
    at3 = tr.responder_status(cohort, rules.window_around(91))
    assert status_of(at3, "A", "phq9")["latest"] == 14
    assert status_of(at3, "B", "phq9")["status"] == "not enough data"  # nothing in 60-135
    at12 = tr.responder_status(cohort, rules.window_around(365))
    assert status_of(at12, "A", "phq9")["latest"] == 9


def test_measures_without_an_mcid_are_not_judged():
    status = tr.responder_status(make_cohort([("A", 0, "mme", 90), ("A", 90, "mme", 30),
                                              ("A", 0, "phq9", 9)]))
    assert status["measure"].tolist() == ["phq9"]


def test_tied_baselines_and_follow_ups_take_the_earlier_observation():
    # the patient: function at days -3, +3, 354 and 376 (both pairs tie)
    rows = [("A", -3, "promis_physical_function", 30), ("A", 3, "promis_physical_function", 40),
            ("A", 354, "promis_physical_function", 33), ("A", 376, "promis_physical_function", 45)]
    at12 = status_of(tr.responder_status(make_cohort(rows), rules.FOLLOW_UPS[12]), "A",
                     "promis_physical_function")
    assert (at12["baseline"], at12["latest"], at12["status"]) == (30, 33, "no reliable change")


def test_responder_rates_by_domain_and_month():
    rows = [
        # A: mood improved at 3 and 12 months; pain worse at 3 months
        ("A", 0, "phq9", 20), ("A", 90, "phq9", 12), ("A", 365, "phq9", 10),
        ("A", 0, "pain_nrs", 5), ("A", 90, "pain_nrs", 8),
        # B: mood unchanged at 3 months, no 12-month visit
        ("B", 0, "phq9", 15), ("B", 90, "phq9", 14),
        # C: no baseline: never counted
        ("C", 90, "phq9", 3),
        # D: mood judged on GAD-7 because PHQ-9 has no follow-up; improved at 6 months
        ("D", 0, "phq9", 15), ("D", 0, "gad7", 15), ("D", 180, "gad7", 5),
    ]
    rates = tr.responder_rates(make_cohort(rows)).set_index(["domain", "months"])
    assert tuple(rates.loc[("mood", 3), ["n_patients", "n_responders"]]) == (2, 1)
    assert rates.loc[("mood", 3), "rate"] == 0.5
    assert tuple(rates.loc[("mood", 6), ["n_patients", "n_responders"]]) == (1, 1)
    assert tuple(rates.loc[("mood", 12), ["n_patients", "n_responders"]]) == (1, 1)
    assert tuple(rates.loc[("pain", 3), ["n_patients", "n_responders"]]) == (1, 0)
    assert rates.loc[("sleep", 3), "n_patients"] == 0 and np.isnan(rates.loc[("sleep", 3), "rate"])
    assert len(rates) == 3 * len(measures.VERDICT_GROUPS)


# --------------------------------------------------------------------------- flags

def test_triad_uses_latest_scores_and_registry_cut_offs():
    assert tr.triad_thresholds() == {"pain_nrs": 7, "phq9": 10, "isi": 15}
    rows = [("A", 0, "pain_nrs", 7), ("A", 0, "phq9", 10), ("A", 0, "isi", 15),       # exactly at cut-offs
            ("B", 0, "pain_nrs", 9), ("B", 0, "phq9", 20), ("B", 0, "isi", 25),
            ("B", 100, "isi", 10),                                                  # sleep recovered
            ("C", 0, "pain_nrs", 9), ("C", 0, "phq9", 20)]                          # no ISI
    flags = tr.triad_flags(make_cohort(rows)).set_index("patient_id")
    assert flags["triad"].to_dict() == {"A": True, "B": False, "C": False}
    assert flags.loc["B", "isi"] == 10 and flags.loc["B", "pain"] == 9
    assert np.isnan(flags.loc["C", "isi"])


def test_deterioration_lists_worsening_by_at_least_the_mcid():
    rows = [("A", 0, "phq9", 5), ("A", 90, "phq9", 11), ("A", 0, "odi", 30), ("A", 90, "odi", 35),
            ("B", 0, "promis_physical_function", 45), ("B", 90, "promis_physical_function", 40)]
    out = tr.deterioration(make_cohort(rows))
    got = {(r.patient_id, r.measure): r.worsened_by for r in out.itertuples()}
    assert got == {("A", "phq9"): 6, ("B", "promis_physical_function"): 5}
    assert set(out["domain"]) == {"mood", "function"}


def test_domain_status_takes_the_first_judgeable_measure():
    rows = [("A", 0, "phq9", 20), ("A", 0, "gad7", 15), ("A", 100, "gad7", 5),
            ("A", 0, "pain_nrs", 5), ("A", 100, "pain_nrs", 5)]
    out = tr.domain_status(tr.responder_status(make_cohort(rows)))
    assert out[["domain", "measure", "status"]].values.tolist() == [
        ["pain", "pain_nrs", "no reliable change"], ["mood", "gad7", "improved"]]


# --------------------------------------------------------------------------- one patient

def test_patient_percentiles_at_the_same_week():
    rows = [(pid, 0, "phq9", v) for pid, v in zip("ABCDE", [5, 10, 15, 20, 25], strict=True)]
    rows += [("C", 7, "phq9", 15), ("B", 7, "phq9", 15), ("A", 7, "phq9", 3)]
    cohort = make_cohort(rows)
    out = tr.patient_percentiles(cohort, "C").set_index("week")
    assert out.loc[0, "percentile"] == 50  # 2 of the 4 others are lower
    assert out.loc[0, "better_than"] == 50
    assert out.loc[0, "n_compared"] == 4
    # week 1: others are 15 (tie, counts half) and 3 (lower): (1 + 0.5) / 2
    assert out.loc[1, "percentile"] == 75 and out.loc[1, "better_than"] == 25
    low = tr.patient_percentiles(cohort, "A").set_index("week")
    assert low.loc[0, "better_than"] == 100  # lowest PHQ-9 is the best
    assert tr.patient_percentiles(cohort, "nobody").empty


def test_better_high_percentile_is_not_reversed():
    rows = [(pid, 0, "promis_physical_function", v) for pid, v in zip("ABC", [30, 40, 50], strict=True)]
    out = tr.patient_percentiles(make_cohort(rows), "C")
    assert out["percentile"].tolist() == [100] and out["better_than"].tolist() == [100]


def test_latest_values_with_severity_band():
    rows = [("A", 0, "phq9", 18), ("A", 90, "phq9", 12), ("A", 0, "promis_physical_function", 35),
            ("A", 0, "pseq", 15), ("A", 0, "pain_nrs", 7), ("A", 30, "x_custom", 3)]
    out = tr.latest_values(make_cohort(rows), "A")
    assert out["measure"].tolist() == ["pain_nrs", "phq9", "promis_physical_function", "pseq", "x_custom"]
    bands = dict(zip(out["measure"], out["band"], strict=True))
    assert bands["phq9"] == "moderate" and bands["pain_nrs"] == "severe" and bands["pseq"] == "low"
    assert bands["promis_physical_function"] == "moderate"  # T 35: below 40, not below 30
    assert pd.isna(bands["x_custom"])  # a custom measure has no bands
    assert out.set_index("measure").loc["phq9", "value"] == 12
    assert out.set_index("measure").loc["x_custom", "domain"] == "custom"


def test_treatment_periods_pair_starts_with_stops_and_keep_open_courses():
    rows = [("A", 0, "phq9", 10), ("A", 140, "phq9", 10)]
    events = [("A", 7, "treatment_start", "cbt"), ("A", 63, "treatment_stop", "cbt"),
              ("A", 70, "treatment_start", "cbt"), ("A", 14, "treatment_start", "snri"),
              ("A", 21, "appointment_missed", None)]
    cohort = make_cohort(rows, events=events)
    out = tr.treatment_periods(cohort, "A")
    got = [(r.treatment, r.start_week, r.stop_week) for r in out.itertuples()]
    assert got == [("cbt", 1.0, 9.0), ("snri", 2.0, 20.0), ("cbt", 10.0, 20.0)]
    missed = tr.appointments(cohort, "A")
    assert missed["event"].tolist() == ["missed"] and missed["week"].tolist() == [3.0]


# --------------------------------------------------------------------------- filters

def _patients():
    return pd.DataFrame({
        "patient_id": ["A", "B", "C", "D"],
        "intake_date": ["2024-01-01", "2024-06-01", "2025-01-01", "2025-06-01"],
        "sex": ["female", "male", "female", None],
        "birth_year": [1990, 1970, 1950, None],
        "diagnosis": ["fibromyalgia", "CRPS", "fibromyalgia", "migraine"],
        "site": ["North", "North", "South", "South"],
    })


def test_age_bands_from_birth_year():
    cohort = make_cohort([(p, 0, "phq9", 5) for p in "ABCD"], patients=_patients())
    assert tr.age_bands(cohort.patients, "2026-03-01").tolist() == ["30-44", "45-59", "75 and over",
                                                                   "unknown"]


def test_filter_cohort_combines_every_filter():
    events = [("A", 10, "treatment_start", "cbt"), ("C", 10, "treatment_start", "snri")]
    cohort = make_cohort([(p, 0, "phq9", 5) for p in "ABCD"], patients=_patients(), events=events)

    def ids(**kw):
        return sorted(tr.filter_cohort(cohort, today="2026-03-01", **kw).patients["patient_id"])

    assert ids() == ["A", "B", "C", "D"]
    assert ids(sites=["North"]) == ["A", "B"]
    assert ids(diagnoses=["fibromyalgia"], sites=["South"]) == ["C"]
    assert ids(sexes=["unknown"]) == ["D"]
    assert ids(age_bands=["45-59", "75 and over"]) == ["B", "C"]
    assert ids(treatments=["cbt", "snri"]) == ["A", "C"]
    assert ids(intake_from=pd.Timestamp("2024-06-01"), intake_to=pd.Timestamp("2025-01-01")) == ["B", "C"]
    assert ids(sites=["North"], treatments=["snri"]) == []
    filtered = tr.filter_cohort(cohort, sites=["South"])
    assert set(filtered.observations["patient_id"]) == {"C", "D"}


def test_follow_up_and_active_patients():
    rows = [("A", 0, "phq9", 5), ("A", 70, "phq9", 5), ("B", 0, "phq9", 5), ("C", -3, "phq9", 5)]
    events = [("B", 100, "appointment_attended", None), ("C", 200, "appointment_missed", None)]
    cohort = make_cohort(rows, events=events)
    assert tr.follow_up_weeks(cohort).to_dict() == {"A": 10.0, "B": 0.0, "C": 0.0}
    # last records: A day 70, B day 100 (attended), C day -3; as of day 100, 90 days back
    assert sorted(tr.active_patients(cohort)) == ["A", "B"]


# --------------------------------------------------------------------------- the cached view

@pytest.fixture(scope="module")
def synthetic():
    cohort = synth.generate(120, seed=7)
    return cohort, tr.CohortTrajectories(cohort, today="2026-01-01")


def test_cached_view_equals_the_plain_functions(synthetic):
    cohort, prep = synthetic
    everyone = prep.ids.to_series()
    pd.testing.assert_frame_equal(prep.rates(everyone), tr.responder_rates(cohort))
    some = prep.matching(sites=[cohort.patients["site"].iloc[0]], treatments=["cbt"])
    want = tr.patient_ids_matching(cohort, sites=[cohort.patients["site"].iloc[0]], treatments=["cbt"])
    assert sorted(some) == sorted(want) and len(some) > 0
    subset = cohort.subset(some)
    pd.testing.assert_frame_equal(prep.rates(some), tr.responder_rates(subset))
    pain = prep.primary["pain"]
    pd.testing.assert_frame_equal(prep.bands(some)[pain], tr.cohort_bands(subset, pain))
    pid = cohort.patients["patient_id"].iloc[3]
    pd.testing.assert_frame_equal(prep.percentiles(pid), tr.patient_percentiles(cohort, pid),
                                  check_dtype=False)
    one = prep.patient(pid)
    assert len(one.observations) == (cohort.observations["patient_id"] == pid).sum()
    assert set(one.events["patient_id"]) <= {pid}


def test_headline_numbers_match_a_direct_count(synthetic):
    cohort, prep = synthetic
    ids = prep.ids.to_series()
    head = prep.headline(ids)
    assert head["patients"] == len(cohort.patients)
    flags = tr.triad_flags(cohort)
    assert head["triad"] == int(flags["triad"].sum())
    last_obs = cohort.observations.groupby("patient_id")["date"].max()
    intake = cohort.patients.set_index("patient_id")["intake_date"]
    weeks = ((last_obs - intake).dt.days / 7).clip(lower=0)
    assert head["median_follow_up_weeks"] == pytest.approx(weeks.median())
    table = prep.table(ids, limit=10)
    assert len(table) == 10
    assert list(table["domains_worse"]) == sorted(table["domains_worse"], reverse=True)
    first = table.iloc[0]
    weekly_pain = tr.weekly_series(cohort.subset([first["patient_id"]]), [prep.primary["pain"]])
    assert first["pain_trend"] == weekly_pain["value"].tolist()


def test_a_subset_counts_only_its_own_known_patients(synthetic):
    cohort, prep = synthetic
    picked = cohort.patients["patient_id"].iloc[[4, 1, 9]].tolist()
    asked = pd.Series([*picked, "not-a-patient", "", picked[0]])
    head = prep.headline(asked)
    assert head["patients"] == 3
    assert head["triad"] == int(tr.triad_flags(cohort.subset(picked))["triad"].sum())
    assert set(prep.table(asked)["patient_id"]) == set(picked)
    assert prep.headline(pd.Series([], dtype=str))["patients"] == 0
    past_the_end = pd.Series(["zzz-after-every-id"])
    assert prep.headline(past_the_end)["patients"] == 0


def test_tiny_fixture_known_answers(tiny_cohort_dir):
    cohort = read_cohort(tiny_cohort_dir)
    status = tr.responder_status(cohort)
    assert status_of(status, "P001", "phq9")["status"] == "improved"  # 18 -> 12
    assert status_of(status, "P002", "phq9")["status"] == "no reliable change"  # 6 -> 9
    assert status_of(status, "P003", "pain_nrs")["status"] == "not enough data"


def test_cached_view_on_unsorted_rows_and_monthly_bands(synthetic):
    cohort, _ = synthetic
    shuffled = cohort.__class__(cohort.patients.sample(frac=1, random_state=1),
                                cohort.observations.sample(frac=1, random_state=2),
                                cohort.events.sample(frac=1, random_state=3))
    prep = tr.CohortTrajectories(shuffled, today="2026-01-01")
    pid = cohort.patients["patient_id"].iloc[10]
    one = prep.patient(pid)
    want = cohort.observations[cohort.observations["patient_id"] == pid]
    assert sorted(one.observations["value"]) == sorted(want["value"])
    assert len(one.events) == (cohort.events["patient_id"] == pid).sum()
    pd.testing.assert_frame_equal(prep.percentiles(pid), tr.patient_percentiles(cohort, pid),
                                  check_dtype=False)
    ids = prep.ids.to_series()
    mood = prep.primary["mood"]
    pd.testing.assert_frame_equal(prep.bands(ids, unit="month")[mood],
                                  tr.cohort_bands(cohort, mood, unit="month"), check_dtype=False)
    assert prep.patient("nobody").observations.empty
