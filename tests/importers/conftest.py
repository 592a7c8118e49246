"""Fixtures for the converter tests: a small canonical cohort and the real shared exports."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from paincycle.cohort import Cohort, from_frames

SHARED_DATA = Path(__file__).resolve().parents[2] / ".." / "shared" / "data"


@pytest.fixture
def sample_cohort() -> Cohort:
    """Three patients, scores on and after intake, one PHQ-9 a month before intake."""
    patients = pd.DataFrame({
        "patient_id": ["MRN-001", "MRN-002", "MRN-003"],
        "intake_date": ["2024-03-01", "2024-05-15", "2024-12-31"],
        "sex": ["female", "male", "female"],
        "birth_year": [1970, 1988, 1955],
    })
    observations = pd.DataFrame([
        ("MRN-001", "2024-03-01", "pain_nrs", 7), ("MRN-001", "2024-05-30", "pain_nrs", 4),
        ("MRN-001", "2024-02-01", "phq9", 15), ("MRN-001", "2024-03-01", "phq9", 14),
        ("MRN-001", "2025-03-01", "promis_physical_function", 41.5),
        ("MRN-002", "2024-05-15", "pain_nrs", 9), ("MRN-002", "2024-05-15", "gad7", 12),
        ("MRN-002", "2024-08-13", "promis_depression", 58.25),
        ("MRN-003", "2024-12-31", "pain_nrs", 0), ("MRN-003", "2025-01-30", "pain_nrs", 10),
    ], columns=["patient_id", "date", "measure", "value"])
    return from_frames(patients, observations)


@pytest.fixture
def shared_data() -> Path:
    if not SHARED_DATA.exists():
        pytest.skip(f"the shared real-data folder {SHARED_DATA.resolve()} is not present")
    return SHARED_DATA
