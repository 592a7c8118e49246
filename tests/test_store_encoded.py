"""A stored cohort comes back with ids and measure codes as categories; every analysis must
give the same answers on it as on the same cohort held as text.

The app only ever reads cohorts from the store, so this is the form the pages see.
Rows are shuffled before storing, so categories arrive out of order and sorting
by them is only right if the store sorts them.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from paincycle import config, features, outcomes, review, synth
from paincycle import model as risk_model
from paincycle import trajectories as tr
from paincycle.cohort import Cohort, lookup
from paincycle.reports import summary as export
from paincycle.store import ENCODED, CohortStore


def as_text(frame: pd.DataFrame) -> pd.DataFrame:
    """Categorical columns (and a categorical index) as text, so two results compare by value."""
    out = frame.copy()
    for column in out.columns:
        if isinstance(out[column].dtype, pd.CategoricalDtype):
            out[column] = out[column].astype(object)
    if isinstance(out.index.dtype, pd.CategoricalDtype):
        out.index = out.index.astype(object)
    return out


def assert_same(left: pd.DataFrame, right: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(as_text(left), as_text(right), check_dtype=False,
                                  check_index_type=False, check_column_type=False)


@pytest.fixture(scope="module")
def pair(tmp_path_factory) -> tuple[Cohort, Cohort]:
    """(text cohort, the same cohort stored and loaded back), rows in a scrambled order."""
    cohort = synth.generate(60, seed=5)
    rng = np.random.default_rng(1)
    shuffled = Cohort(
        cohort.patients.sample(frac=1, random_state=2).reset_index(drop=True),
        cohort.observations.iloc[rng.permutation(len(cohort.observations))].reset_index(drop=True),
        cohort.events.iloc[rng.permutation(len(cohort.events))].reset_index(drop=True),
        "scrambled")
    store = CohortStore(tmp_path_factory.mktemp("store"))
    loaded = store.load(store.save(shuffled).id)
    return shuffled, loaded


def test_loaded_cohort_holds_ids_and_measures_as_sorted_categories(pair):
    text, loaded = pair
    for table, columns in ENCODED.items():
        frame = getattr(loaded, table)
        for column in columns:
            dtype = frame[column].dtype
            assert isinstance(dtype, pd.CategoricalDtype), (table, column)
            assert list(dtype.categories) == sorted(dtype.categories)
            assert frame[column].astype(str).tolist() == getattr(text, table)[column].astype(str).tolist()
    assert loaded.observations["value"].tolist() == text.observations["value"].tolist()


def test_lookup_keeps_the_value_dtype_for_categorical_keys(pair):
    _, loaded = pair
    intake = loaded.patients.set_index("patient_id")["intake_date"]
    per_row = lookup(loaded.observations["patient_id"], intake)
    assert pd.api.types.is_datetime64_any_dtype(per_row)
    plain = loaded.observations["patient_id"].astype(str).map(intake)
    assert (per_row == plain).all()
    assert (loaded.observations["date"] - per_row).dt.days.notna().all()


def test_trajectory_analyses_agree(pair):
    text, loaded = pair
    assert_same(tr.weekly_series(text), tr.weekly_series(loaded))
    assert_same(tr.with_time_since_intake(text), tr.with_time_since_intake(loaded))
    assert_same(tr.responder_status(text), tr.responder_status(loaded))
    assert_same(tr.responder_rates(text), tr.responder_rates(loaded))
    assert_same(tr.triad_flags(text), tr.triad_flags(loaded))
    assert_same(tr.deterioration(text), tr.deterioration(loaded))
    assert_same(tr.treatment_periods(text), tr.treatment_periods(loaded))
    assert_same(tr.cohort_bands(text, "pain_nrs"), tr.cohort_bands(loaded, "pain_nrs"))
    assert (tr.follow_up_weeks(text).sort_index() == tr.follow_up_weeks(loaded).sort_index()).all()
    pid = text.patients["patient_id"].iloc[3]
    assert_same(tr.latest_values(text, pid), tr.latest_values(loaded, pid))
    assert_same(tr.appointments(text, pid), tr.appointments(loaded, pid))
    assert_same(tr.patient_percentiles(text, pid), tr.patient_percentiles(loaded, pid))


def test_prepared_views_agree(pair):
    text, loaded = pair
    today = pd.Timestamp("2026-01-01")
    a, b = tr.CohortTrajectories(text, today), tr.CohortTrajectories(loaded, today)
    ids = a.matching()
    assert a.headline(ids) == b.headline(b.matching())
    assert_same(a.rates(ids), b.rates(ids))
    assert_same(a.table(ids), b.table(ids))
    for code, band in a.bands(ids).items():
        assert_same(band, b.bands(ids)[code])
    pid = ids.iloc[5]
    assert_same(a.percentiles(pid), b.percentiles(pid))
    assert_same(a.patient_domain_status(pid), b.patient_domain_status(pid))
    mine_a, mine_b = a.patient(pid), b.patient(pid)
    assert_same(mine_a.observations, mine_b.observations)
    assert_same(mine_a.events, mine_b.events)


def test_model_inputs_and_scores_agree(pair):
    text, loaded = pair
    assert_same(features.landmark_features(text), features.landmark_features(loaded))
    assert_same(outcomes.label_outcomes(text), outcomes.label_outcomes(loaded))
    trained = risk_model.load(config.PROJECT_ROOT / "models" / "demo.skops")
    scored_text, scored_loaded = risk_model.score(trained, text), risk_model.score(trained, loaded)
    assert len(scored_text.table) > 0
    assert_same(scored_text.table, scored_loaded.table)
    assert_same(scored_text.skipped, scored_loaded.skipped)


def test_agenda_case_card_and_summary_agree(pair):
    text, loaded = pair
    assert_same(review.build_agenda(tr.CohortTrajectories(text)), review.build_agenda(tr.CohortTrajectories(loaded)))
    pid = text.patients["patient_id"].iloc[0]
    card_text, card_loaded = review.case_card(tr.CohortTrajectories(text), pid), review.case_card(tr.CohortTrajectories(loaded), pid)
    assert card_text == card_loaded
    assert_same(card_text.domains, card_loaded.domains)
    summary_text = export.build_summary(tr.CohortTrajectories(text), charts=False)
    summary_loaded = export.build_summary(tr.CohortTrajectories(loaded), charts=False)
    assert_same(summary_text.per_patient, summary_loaded.per_patient)
    for table in summary_text.tables:
        assert_same(table.frame, summary_loaded.table(table.sheet).frame)
