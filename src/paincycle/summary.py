"""Headline facts about a cohort, as the overview page shows them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import pandas as pd

from paincycle import measures
from paincycle.cohort import Cohort

if TYPE_CHECKING:
    from paincycle.trajectories import CohortTrajectories


@dataclass(frozen=True)
class Headline:
    patients: int
    observations: int
    first_date: str
    last_date: str
    measures: list[str]


def cohort_headline(cohort: Cohort) -> Headline:
    """Size and date span: the first thing a team checks after loading data."""
    return headline_of(cohort.n_patients, len(cohort.observations), cohort.date_range(),
                       cohort.measures_present())


def version_headline(analysis: CohortTrajectories, n_observations: int) -> Headline:
    """:func:`cohort_headline` of a stored version, from its analysis and the observation
    count its manifest keeps: the landing page then never loads the version's rows."""
    return headline_of(len(analysis.cohort_patients), n_observations, analysis.date_range,
                       analysis.measures_present)


def headline_of(patients: int, observations: int,
                span: tuple[pd.Timestamp, pd.Timestamp] | None, codes: list[str]) -> Headline:
    first, last = (f"{span[0]:%Y-%m-%d}", f"{span[1]:%Y-%m-%d}") if span else ("-", "-")
    return Headline(int(patients), int(observations), first, last, sorted(codes))


def instruments_by_domain(codes: list[str]) -> list[tuple[str, list[str]]]:
    """The instruments recorded, by domain in the registry's order, as a clinician names them.

    A team checks that the questionnaires it uses came through: "PHQ-9 total",
    not "phq9". A clinic's own ``x_`` measures have no registry name and are
    listed under "clinic's own measures" by their code.
    """
    present = set(codes)
    groups = [(group, [m.instrument for m in measures.in_domain(group) if m.code in present])
              for group in measures.GROUP_ORDER]
    own = sorted(c for c in present if c not in measures.MEASURES)
    return [(g, names) for g, names in groups if names] + ([("clinic's own measures", own)]
                                                            if own else [])
