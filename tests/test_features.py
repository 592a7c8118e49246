"""Landmark features on hand-made cohorts: values known by hand, no look-ahead, absent measures."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from paincycle import features as feat
from paincycle.cohort import from_frames

INTAKE = pd.Timestamp("2024-01-01")


def _cohort(obs_rows, event_rows=(), patients=None):
    patients = patients if patients is not None else pd.DataFrame({
        "patient_id": ["A", "B"], "intake_date": ["2024-01-01", "2024-01-01"],
        "sex": ["female", "male"], "birth_year": [1970, 1990], "diagnosis": ["fibromyalgia", None]})
    iso = lambda d: (INTAKE + pd.Timedelta(days=d)).date().isoformat()  # noqa: E731
    obs = pd.DataFrame([(p, iso(d), m, v) for p, d, m, v in obs_rows],
                       columns=["patient_id", "date", "measure", "value"])
    events = pd.DataFrame([(p, iso(d), e, None) for p, d, e in event_rows],
                          columns=["patient_id", "date", "event", "detail"])
    return from_frames(patients, obs, events)


def _steps(pid, first, last, start=0, stop=90):
    days = np.arange(start, stop + 1)
    return [(pid, int(d), "steps", float(v)) for d, v in zip(days, np.linspace(first, last, len(days)), strict=True)]


def test_registry_covers_every_column_with_words():
    cohort = _cohort([("A", 0, "pain_nrs", 7)])
    frame = feat.landmark_features(cohort)
    assert list(frame.columns) == list(feat.FEATURES)
    assert all(f.meaning and f.label for f in feat.FEATURES.values())


def test_steps_fall_and_missed_appointments_in_words():
    rows = _steps("A", 8000, 4000) + [("A", 0, "odi", 30), ("A", 85, "odi", 50)]
    events = [("A", 14, "appointment_attended"), ("A", 28, "appointment_missed"),
              ("A", 42, "appointment_missed"), ("A", 56, "appointment_attended"),
              ("A", 70, "appointment_missed"), ("A", 84, "appointment_attended"),
              ("A", 120, "appointment_missed")]  # after the landmark: ignored
    frame = feat.landmark_features(_cohort(rows, events))
    a = frame.loc["A"]
    assert a["appointments_missed"] == 3 and a["appointments_total"] == 6
    assert a["missed_appointment_share"] == pytest.approx(0.5)
    assert a["odi_change"] == 20 and a["odi_baseline"] == 30
    assert a["steps_change"] < -3000 and a["steps_slope"] < 0
    assert a["withdrawal_index"] > 0.4  # steps, ODI and appointments all point to withdrawal
    assert feat.describe_value("missed_appointment_share", a) == "missed 3 of 6 appointments by day 90"
    words = feat.describe_value("steps_change", a)
    assert words.startswith("Daily step count (wearable) fell") and "% over 13 weeks" in words
    assert a["age"] == 54 and a["sex"] == "female" and a["diagnosis"] == "fibromyalgia"


def test_rows_after_the_landmark_change_nothing():
    early = _steps("A", 8000, 6000) + [("A", 0, "phq9", 12), ("B", 0, "phq9", 20)]
    late = _steps("A", 1000, 500, 91, 200) + [("A", 150, "phq9", 27), ("B", 95, "phq9", 2),
                                               ("B", 300, "pain_nrs", 10)]
    with_future = feat.landmark_features(_cohort(early + late, [("B", 100, "appointment_missed")]))
    without = feat.landmark_features(_cohort(early))
    pd.testing.assert_frame_equal(with_future, without, check_dtype=False)


def test_absent_measures_are_missing_not_zero_and_landmark_zero_works():
    cohort = _cohort([("A", 0, "pain_nrs", 6), ("A", 0, "promis_physical_function", 35),
                      ("A", 90, "pain_nrs", 3), ("B", 0, "pain_nrs", 8)])
    frame = feat.landmark_features(cohort, landmark_days=0)
    assert frame.loc["A", "pain_nrs_baseline"] == 6
    assert np.isnan(frame.loc["A", "pain_nrs_change"])  # the day-90 score is after landmark 0
    assert frame["steps_baseline"].isna().all()
    assert np.isnan(frame.loc["B", "withdrawal_index"])
    care = [n for n, f in feat.FEATURES.items() if f.group in ("care", "withdrawal")]
    assert frame[care].isna().all().all()  # nothing to withdraw from at landmark 0
    assert feat.describe_value("steps_baseline", frame.loc["A"]).endswith("not recorded")


def test_fading_diary():
    kept = [("A", d, "pain_nrs", 5.0) for d in range(0, 91, 7)]
    faded = [("B", d, "pain_nrs", 5.0) for d in range(0, 45, 7)]
    frame = feat.landmark_features(_cohort(kept + faded))
    assert frame.loc["A", "diary_fade"] == pytest.approx(0, abs=0.2)
    assert frame.loc["B", "diary_fade"] > 0.8
    assert frame.loc["B", "diary_weeks_share"] < frame.loc["A", "diary_weeks_share"]


def test_custom_measure_baseline_is_a_feature_only_when_asked_and_earlier_wins():
    # A: two scores equally far from intake (day -3 and +3): the earlier wins; B has none.
    cohort = _cohort([("A", -3, "x_anxiety", 60.0), ("A", 3, "x_anxiety", 70.0),
                      ("A", 0, "pain_nrs", 6.0), ("B", 0, "pain_nrs", 5.0)])
    plain = feat.landmark_features(cohort, 90)
    assert "x_anxiety_baseline" not in plain.columns
    X = feat.landmark_features(cohort, 90, include_custom=True)
    assert X.loc["A", "x_anxiety_baseline"] == 60.0
    assert np.isnan(X.loc["B", "x_anxiety_baseline"])
    assert "not recorded" in feat.describe_value("x_anxiety_baseline", X.loc["B"])
    assert "60" in feat.describe_value("x_anxiety_baseline", X.loc["A"])


def test_custom_measure_after_the_landmark_is_not_a_baseline():
    cohort = _cohort([("A", 20, "x_anxiety", 60.0), ("A", 0, "pain_nrs", 6.0)])
    X = feat.landmark_features(cohort, 10, include_custom=True)
    assert np.isnan(X.loc["A", "x_anxiety_baseline"])


def test_a_patients_features_do_not_depend_on_who_else_is_in_the_table():
    from paincycle import config
    from paincycle.cohort import Cohort, read_cohort

    sample = read_cohort(config.SAMPLE_COHORT)
    full = feat.landmark_features(sample, 14)
    for pid in sample.patients["patient_id"].astype(str).iloc[:25]:
        alone = Cohort(*(frame[frame["patient_id"].astype(str) == pid].reset_index(drop=True)
                         for frame in (sample.patients, sample.observations, sample.events)),
                       name=sample.name)
        one = feat.landmark_features(alone, 14, records_events=not sample.events.empty)
        pd.testing.assert_frame_equal(one, full.loc[[pid]], check_names=False)


def test_a_stored_patients_slice_gives_that_patients_features(tmp_path):
    """A patient sliced from a stored version (ids as categories of the whole cohort) gets
    the features the plain cohort gives them (a pandas reindex between category code widths
    once failed here, hiding the weekly risk)."""
    from paincycle import config
    from paincycle.cohort import read_cohort
    from paincycle.store import CohortStore
    from paincycle.trajectories import CohortTrajectories

    store = CohortStore(tmp_path / "store")
    version = store.save(read_cohort(config.SAMPLE_COHORT))
    stored = store.load(version.id)
    pid = str(stored.patients["patient_id"].iloc[41])
    one = CohortTrajectories(stored).patient(pid)
    assert isinstance(one.observations["patient_id"].dtype, pd.CategoricalDtype)
    for day in (14, 90):
        got = feat.landmark_features(one, day, records_events=True)
        want = feat.landmark_features(read_cohort(config.SAMPLE_COHORT), day).loc[[pid]]
        pd.testing.assert_frame_equal(got, want, check_exact=False, rtol=1e-12)
