"""The weekly (earliest-warning) model: no look-ahead, grouped folds, AUC by landmark."""

import numpy as np
import pandas as pd
import pytest

from paincycle import features as feat
from paincycle import model as risk_model
from paincycle import synth, weekly_model
from paincycle.cohort import Cohort
from paincycle.outcomes import OutcomeDefinition

LANDMARKS = (14, 28, 42, 60)


@pytest.fixture(scope="module")
def cohort():
    return synth.generate(300, seed=12)


@pytest.fixture(scope="module")
def weekly(cohort):
    return weekly_model.train_weekly(cohort, landmarks=LANDMARKS, seed=1)


def test_stacked_rows_use_only_what_was_known_at_their_landmark(cohort):
    stacked = feat.stacked_features(cohort, (14, 42))
    assert set(stacked.index.get_level_values("landmark")) == {14, 42}
    assert (stacked["landmark_days"] == stacked.index.get_level_values("landmark")).all()
    at_14 = stacked.xs(14, level="landmark").drop(columns="landmark_days")
    alone = feat.landmark_features(cohort, 14).loc[at_14.index]
    pd.testing.assert_frame_equal(at_14, alone, check_names=False)


def test_auc_is_reported_at_every_landmark_and_the_reference_stands_for_the_model(weekly):
    meta = weekly.metadata
    assert meta.weekly_landmarks == list(LANDMARKS)
    assert [row["landmark"] for row in meta.by_landmark] == list(LANDMARKS)
    reference = next(r for r in meta.by_landmark if r["landmark"] == weekly_model.REFERENCE_LANDMARK)
    assert meta.landmark_days == weekly_model.REFERENCE_LANDMARK
    assert reference["auc"] == pytest.approx(meta.metrics.auc, abs=1e-3)
    assert risk_model.check_evidence(meta)
    assert "landmark_days" in weekly.feature_names
    for row in meta.by_landmark:
        assert 0.5 < row["auc"] <= 1 and row["auc_ci"][0] <= row["auc"] <= row["auc_ci"][1]


def test_the_risk_at_week_k_ignores_every_row_after_week_k(weekly, cohort, tmp_path):
    loaded = risk_model.load(risk_model.save(weekly, tmp_path / "weekly.skops"))
    over_time = weekly_model.risk_over_time(loaded, cohort)
    assert set(over_time["landmark"]) == set(LANDMARKS)
    for day in (14, 42):
        cut = feat.landmark_cut(cohort, day)
        # the cohort as it stood at day k (its latest record moved past k for everyone)
        truncated = Cohort(cut.patients, cut.observations, cut.events, cut.name)
        at_k = weekly_model.risk_over_time(loaded, truncated, as_of=cohort.date_range()[1])
        expected = over_time[over_time["landmark"] == day].set_index("patient_id")["risk"]
        got = at_k[at_k["landmark"] == day].set_index("patient_id")["risk"]
        pd.testing.assert_series_equal(got.sort_index(), expected.sort_index())
        later = at_k[at_k["landmark"] > day]
        # later weeks on the truncated cohort differ: they would need rows that were removed
        assert not later.empty


def test_a_patient_gets_risks_only_for_the_weeks_they_have_reached(weekly, cohort):
    intake = cohort.patients.set_index("patient_id")["intake_date"]
    pid = str(cohort.patients["patient_id"].iloc[0])
    as_of = intake[pid] + pd.Timedelta(days=30)
    rows = weekly_model.risk_over_time(weekly, cohort, as_of=as_of)
    mine = rows[rows["patient_id"] == pid]
    assert mine["landmark"].tolist() == [14, 28]
    assert (mine["date"] == intake[pid] + pd.to_timedelta(mine["landmark"], unit="D")).all()


def test_a_follow_up_window_at_or_before_the_last_landmark_is_refused(cohort):
    outcome = OutcomeDefinition.build("pain_nrs", 90, 10)  # follow-up from day 80
    with pytest.raises(ValueError, match="landmark"):
        weekly_model.train_weekly(cohort, outcome, landmarks=(14, 42, 90))


def test_folds_are_grouped_by_patient(cohort):
    X, y, groups = weekly_model._training_rows(
        cohort, risk_model.label_outcomes(cohort, OutcomeDefinition()), LANDMARKS, False)
    folds = weekly_model.StratifiedGroupKFold(risk_model.N_FOLDS, shuffle=True, random_state=1)
    for train_rows, test_rows in folds.split(X, y, groups):
        assert not set(groups[train_rows]) & set(groups[test_rows])
    assert len(np.unique(groups)) < len(groups)  # several weeks per patient


def test_the_weekly_models_card_describes_the_weekly_procedure(weekly):
    from paincycle import model_card

    card = model_card.render(weekly.metadata)
    assert "grouped by patient" in card and "## Weekly landmarks" in card
    assert "outer folds the kind is chosen" not in card  # not the single-landmark procedure
    assert "Not run for the weekly model" in card
