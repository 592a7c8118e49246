"""Headline facts about a cohort, as the overview page shows them."""

from __future__ import annotations

from dataclasses import dataclass

from paincycle.cohort import Cohort


@dataclass(frozen=True)
class Headline:
    patients: int
    observations: int
    first_date: str
    last_date: str
    measures: list[str]


def cohort_headline(cohort: Cohort) -> Headline:
    """Size and date span: the first thing a team checks after loading data."""
    span = cohort.date_range()
    first, last = (f"{span[0]:%Y-%m-%d}", f"{span[1]:%Y-%m-%d}") if span else ("-", "-")
    return Headline(cohort.n_patients, len(cohort.observations), first, last,
                    cohort.measures_present())
