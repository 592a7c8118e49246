"""A cohort built with ties, for the engines' tie tests (the reference is paincycle.rules)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from paincycle.cohort import read_cohort, write_cohort


def write_tied_cohort(tiny_cohort_dir: Path, out: Path) -> Path:
    """The tiny cohort plus ISI scores for P001 with every kind of tie: two on the intake day
    (20 first), two equally far from day 365 (358 and 372), and two on the last day, day 372
    (4 first, then 16)."""
    cohort = read_cohort(tiny_cohort_dir)
    intake = cohort.patients.set_index("patient_id").loc["P001", "intake_date"]
    days = [0, 0, 358, 372, 372]
    extra = pd.DataFrame({
        "patient_id": ["P001"] * len(days),
        "date": [intake + pd.Timedelta(days=d) for d in days],
        "measure": ["isi"] * len(days), "value": [20.0, 9.0, 11.0, 4.0, 16.0]})
    obs = pd.concat([cohort.observations, extra.astype(cohort.observations.dtypes.to_dict())],
                    ignore_index=True)
    return write_cohort(type(cohort)(cohort.patients, obs, cohort.events), out)
