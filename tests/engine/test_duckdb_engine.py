"""The DuckDB engine's analyses equal the numpy ones (paincycle.trajectories) on the demo cohort."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from paincycle import rules, trajectories
from paincycle.cohort import read_cohort
from paincycle.engine import connect, queries
from tests.conftest import ROOT

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
