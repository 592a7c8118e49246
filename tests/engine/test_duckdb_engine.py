"""The DuckDB engine's analyses equal the numpy ones (paincycle.trajectories) on the demo cohort."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from paincycle import features, rules, trajectories
from paincycle.cohort import read_cohort, write_cohort
from paincycle.engine import connect, queries
from tests.conftest import ROOT
from tests.engine.ties import write_tied_cohort

DEMO = ROOT / "sample_data" / "demo"


@pytest.fixture(scope="module")
def cohort():
    return read_cohort(DEMO)


def test_cohort_bands_equal_numpy(cohort) -> None:
    got = queries.cohort_bands(connect("duckdb"), DEMO)
    for measure in ("pain_nrs", "phq9", "steps"):
        want = trajectories.cohort_bands(cohort, measure)
        mine = got[got["measure"] == measure].drop(columns="measure").reset_index(drop=True)
        assert len(want) > 0
        pd.testing.assert_frame_equal(mine, want, check_dtype=False, atol=1e-9, rtol=0)


def test_responder_status_at_12_months_equals_numpy(cohort) -> None:
    got = queries.responder_status(connect("duckdb"), DEMO, rules.FOLLOW_UPS[12])
    want = trajectories.responder_status(cohort, rules.FOLLOW_UPS[12])
    assert len(got) == len(want) > 0
    assert (got["patient_id"].to_numpy() == want["patient_id"].to_numpy()).all()
    assert (got["status"].to_numpy() == want["status"].to_numpy()).all()
    np.testing.assert_allclose(got["baseline"], want["baseline"], equal_nan=True)
    np.testing.assert_allclose(got["latest"], want["latest"], equal_nan=True)


def test_ties_follow_the_rules_module_on_duckdb(tiny_cohort_dir, tmp_path) -> None:
    """Equally far from a target, the earlier observation wins; on the same day, the first
    in the table: the engine picks the rows trajectories (rules.closest_rows) picks."""
    folder = write_tied_cohort(tiny_cohort_dir, tmp_path / "tied")
    stored = read_cohort(folder)
    want = trajectories.responder_status(stored, rules.FOLLOW_UPS[12])
    got = queries.responder_status(connect("duckdb"), folder, rules.FOLLOW_UPS[12])
    mine = want[(want["patient_id"] == "P001") & (want["measure"] == "isi")]
    assert mine[["baseline", "latest"]].to_numpy().tolist() == [[20.0, 11.0]]  # the reference
    keys = ["patient_id", "measure"]
    got, want = (f.sort_values(keys).reset_index(drop=True) for f in (got, want))
    assert (got[keys].to_numpy() == want[keys].to_numpy()).all()
    np.testing.assert_allclose(got["baseline"], want["baseline"], equal_nan=True)
    np.testing.assert_allclose(got["latest"], want["latest"], equal_nan=True)
    # the latest of two on the same day: the first in the table (4), as rules.latest_rows
    triad = queries.triad_flags(connect("duckdb"), folder)
    assert triad.set_index("patient_id").loc["P001", "isi"] == 4.0
    pd.testing.assert_frame_equal(triad, trajectories.triad_flags(stored), check_dtype=False)


def test_patient_percentiles_equal_numpy(cohort) -> None:
    engine = connect("duckdb")
    for patient_id in cohort.patients["patient_id"].iloc[[0, 41, 500]]:
        want = trajectories.patient_percentiles(cohort, patient_id)
        got = queries.patient_percentiles(engine, DEMO, patient_id)
        assert len(want) > 0
        pd.testing.assert_frame_equal(got, want, check_dtype=False, atol=1e-9, rtol=0)


def test_triad_flags_equal_numpy(cohort) -> None:
    want = trajectories.triad_flags(cohort)
    got = queries.triad_flags(connect("duckdb"), DEMO)
    assert want["triad"].any()  # the demo has triad patients: the test can fail
    pd.testing.assert_frame_equal(got, want, check_dtype=False)


@pytest.mark.parametrize("window", [None, rules.FOLLOW_UPS[3]], ids=["latest", "3 months"])
def test_responder_status_frame_equals_numpy(cohort, window) -> None:
    """Every column trajectories.responder_status gives, the dates included."""
    got = queries.responder_status(connect("duckdb"), DEMO, window)
    want = trajectories.responder_status(cohort, window)
    assert (want["status"] == rules.WORSE).any() and (want["status"] == rules.IMPROVED).any()
    pd.testing.assert_frame_equal(got, want, check_dtype=False, atol=1e-9, rtol=0)


def test_per_patient_analyses_equal_the_in_memory_ones(cohort) -> None:
    """The patient table (follow-up, span, active, triad, domains worse), who started which
    treatment, and the domain verdicts at each follow-up window."""
    today = pd.Timestamp("2026-12-03")
    want = trajectories.per_patient(cohort, today)
    got = queries.per_patient(connect("duckdb"), DEMO, today)
    assert want.patients["active"].any() and not want.patients["active"].all()
    assert want.patients["domains_worse"].gt(0).any() and len(want.treated) > 0
    pd.testing.assert_frame_equal(got.patients, want.patients, check_dtype=False)
    pd.testing.assert_frame_equal(got.treated, want.treated, check_dtype=False)
    pd.testing.assert_frame_equal(got.status, want.status, check_dtype=False)
    assert got.as_of == want.as_of and set(got.by_month) == set(rules.FOLLOW_UPS)
    for month, frame in want.by_month.items():
        pd.testing.assert_frame_equal(got.by_month[month].reset_index(drop=True),
                                      frame.reset_index(drop=True), check_dtype=False)


@pytest.mark.parametrize("landmark", [7, 14, 42, 90])
def test_landmark_features_equal_the_in_memory_ones(cohort, landmark) -> None:
    """Every feature of every patient, from the engine's sums composed by
    features.features_from_parts (below 14 days the care block is missing by rule)."""
    want = features.landmark_features(cohort, landmark)
    got = queries.landmark_features(connect("duckdb"), DEMO, landmark)
    later = landmark >= features.MIN_WITHDRAWAL_DAYS
    for name in ("withdrawal_index", "pain_nrs_slope", "diary_fade"):
        assert want[name].notna().any() == later, name
    assert want["pain_nrs_baseline"].notna().any()
    pd.testing.assert_frame_equal(got, want, check_exact=False, rtol=1e-9, atol=1e-9)


def test_landmark_features_with_ties_and_custom_measures(tiny_cohort_dir, tmp_path) -> None:
    """Two baseline scores on the intake day (the first in the table wins) and a custom
    measure's baseline, included on request."""
    folder = write_tied_cohort(tiny_cohort_dir, tmp_path / "tied")
    stored = read_cohort(folder)
    intake = stored.patients.set_index("patient_id")["intake_date"]
    extra = pd.DataFrame({"patient_id": ["P001", "P002", "P002"],
                          "date": [intake["P001"] + pd.Timedelta(days=d) for d in (1,)]
                          + [intake["P002"] + pd.Timedelta(days=d) for d in (-3, 3)],
                          "measure": ["x_anxiety"] * 3, "value": [55.0, 60.0, 62.0]})
    obs = pd.concat([stored.observations, extra.astype(stored.observations.dtypes.to_dict())],
                    ignore_index=True)
    write_cohort(type(stored)(stored.patients, obs, stored.events), folder)
    stored = read_cohort(folder)
    want = features.landmark_features(stored, 90, include_custom=True)
    got = queries.landmark_features(connect("duckdb"), folder, 90, include_custom=True)
    assert want.loc["P001", "isi_baseline"] == 20.0  # the first of two on the intake day
    assert want.loc["P002", "x_anxiety_baseline"] == 60.0  # equally far: the earlier
    pd.testing.assert_frame_equal(got, want, check_exact=False, rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("block_rows", [10**9, 50_000])
def test_weekly_indexes_equal_numpy_in_one_query_or_in_blocks_of_patients(cohort, block_rows,
                                                                       monkeypatch) -> None:
    """Blocks of patients (how 1,000,000 patients fit the engine's memory) change nothing."""
    monkeypatch.setattr(queries, "WEEKLY_BLOCK_ROWS", block_rows)
    ids = cohort.patients["patient_id"].astype(str).to_numpy(dtype=object)
    got = queries.weekly_indexes(connect("duckdb"), DEMO, ids)
    want = trajectories.weekly_indexes(trajectories.weekly_codes(cohort))
    assert list(got.ids) == list(want.ids) and list(got.measures) == list(want.measures)
    assert got.primary == want.primary
    for name in ("band_key", "band_pid", "pct_key", "pain_pid"):
        np.testing.assert_array_equal(getattr(got, name), getattr(want, name))
        assert getattr(got, name).dtype == getattr(want, name).dtype
    for name in ("band_value", "pct_values", "pain_value"):
        np.testing.assert_allclose(getattr(got, name), getattr(want, name), rtol=1e-12)
    assert len(cohort.observations) > 5 * block_rows or block_rows > 10**8  # several blocks
