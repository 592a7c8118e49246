"""Outcome labels on hand-made cohorts whose answers are known by hand."""

from __future__ import annotations

import pandas as pd
import pytest

from paincycle.cohort import from_frames
from paincycle.outcomes import OutcomeDefinition, label_outcomes, parse_threshold

INTAKE = pd.Timestamp("2024-01-01")


def _cohort(rows: list[tuple[str, int, str, float]], ids=("A", "B", "C", "D")):
    patients = pd.DataFrame({"patient_id": list(ids), "intake_date": [INTAKE.date().isoformat()] * len(ids)})
    obs = pd.DataFrame([(pid, (INTAKE + pd.Timedelta(days=d)).date().isoformat(), m, v)
                        for pid, d, m, v in rows], columns=["patient_id", "date", "measure", "value"])
    return from_frames(patients, obs)


def test_default_outcome_uses_physical_function_mcid():
    cohort = _cohort([
        ("A", 0, "promis_physical_function", 30), ("A", 365, "promis_physical_function", 34),  # +4 = MCID
        ("B", 0, "promis_physical_function", 30), ("B", 365, "promis_physical_function", 33),  # +3 < 4
        ("C", 0, "promis_physical_function", 30),  # no follow-up: no label
    ])
    labels = label_outcomes(cohort).set_index("patient_id")
    assert list(labels.index) == ["A", "B"]
    assert not labels.loc["A", "poor_outcome"]
    assert labels.loc["B", "poor_outcome"]
    assert labels.loc["B", "improvement"] == 3


def test_priority_falls_back_to_odi_and_direction_is_respected():
    cohort = _cohort([
        ("A", -10, "odi", 50), ("A", 400, "odi", 38),  # fell 12 >= MCID 10: improved
        ("B", 3, "odi", 50), ("B", 320, "odi", 58),    # rose: worse
        ("C", 0, "promis_physical_function", 30), ("C", 0, "odi", 50),
        ("C", 365, "promis_physical_function", 31), ("C", 365, "odi", 20),  # PF first in priority
    ])
    labels = label_outcomes(cohort).set_index("patient_id")
    assert labels.loc["A", "measure"] == "odi" and not labels.loc["A", "poor_outcome"]
    assert labels.loc["B", "poor_outcome"] and labels.loc["B", "improvement"] == -8
    assert labels.loc["C", "measure"] == "promis_physical_function" and labels.loc["C", "poor_outcome"]


def test_closest_points_and_window_edges():
    cohort = _cohort([
        ("A", -30, "pdi", 60), ("A", 2, "pdi", 40), ("A", 299, "pdi", 0), ("A", 350, "pdi", 35),
        ("A", 431, "pdi", 0),
        ("B", 20, "pdi", 60), ("B", 365, "pdi", 10),  # baseline outside [-60, 14]
    ])
    labels = label_outcomes(cohort).set_index("patient_id")
    assert list(labels.index) == ["A"]
    assert labels.loc["A", "baseline"] == 40 and labels.loc["A", "follow_up"] == 35
    assert labels.loc["A", "poor_outcome"]  # 5 < MCID 9


def test_percent_threshold_at_90_days():
    definition = OutcomeDefinition.build("pain_nrs", 90, None, "30%")
    assert definition.window[0] < 90 < definition.window[1]
    cohort = _cohort([
        ("A", 0, "pain_nrs", 10), ("A", 90, "pain_nrs", 7),   # exactly 30%: good
        ("B", 0, "pain_nrs", 10), ("B", 90, "pain_nrs", 8),   # 20%: poor
        ("C", 0, "pain_nrs", 0), ("C", 90, "pain_nrs", 0),    # no relative change from 0
        ("D", 0, "pain_nrs", 3), ("D", 92, "pain_nrs", 2),    # 33%: good although < 2 points
    ])
    labels = label_outcomes(cohort, definition).set_index("patient_id")
    assert list(labels.index) == ["A", "B", "D"]
    assert labels["poor_outcome"].to_dict() == {"A": False, "B": True, "D": False}


def test_absolute_threshold_overrides_mcid():
    cohort = _cohort([("A", 0, "phq9", 18), ("A", 365, "phq9", 12)])
    assert not label_outcomes(cohort, OutcomeDefinition.build("phq9")).loc[0, "poor_outcome"]
    assert label_outcomes(cohort, OutcomeDefinition.build("phq9", min_improvement=7)).loc[0, "poor_outcome"]


def test_parse_threshold_and_errors():
    assert parse_threshold("30%") == (None, 30.0)
    assert parse_threshold("5") == (5.0, None)
    assert parse_threshold(None) == (None, None)
    with pytest.raises(ValueError):
        parse_threshold("thirty")
    with pytest.raises(KeyError):
        OutcomeDefinition.build("pain_nsr")


def test_description_and_round_trip():
    definition = OutcomeDefinition.build("pain_nrs", 90, 20, "30%")
    words = definition.describe()
    assert "30% of its baseline" in words and "90 days" in words and "day 70" in words
    assert OutcomeDefinition.from_dict(definition.to_dict()) == definition
    assert "4, 10, 9 points" in OutcomeDefinition().describe()


def test_loss_to_follow_up_is_counted_and_can_count_as_poor():
    from paincycle import outcomes

    cohort = _cohort([
        ("A", 0, "promis_physical_function", 30), ("A", 365, "promis_physical_function", 40),
        ("B", 0, "promis_physical_function", 30),  # due (the cohort reaches day 500), missing
        ("C", 5, "promis_physical_function", 50),
        ("D", 500, "pain_nrs", 5),  # no baseline of the outcome measure
    ])
    status = outcomes.follow_up_status(cohort)
    assert status.to_dict() == {"A": outcomes.LABELLED, "B": outcomes.LOST, "C": outcomes.LOST,
                                "D": outcomes.NO_BASELINE}
    # as of day 200 the horizon (365) has not come: not lost, not yet due
    early = outcomes.follow_up_status(cohort, as_of=INTAKE + pd.Timedelta(days=200))
    assert early["B"] == outcomes.NOT_YET_DUE
    assert list(label_outcomes(cohort)["patient_id"]) == ["A"]  # complete cases by default
    nri = OutcomeDefinition.build(lost_as_poor=True)
    labels = label_outcomes(cohort, nri).set_index("patient_id")
    assert list(labels.index) == ["A", "B", "C"]
    assert not labels.loc["A", "poor_outcome"] and labels.loc[["B", "C"], "poor_outcome"].all()
    assert labels.loc["C", "baseline"] == 50 and pd.isna(labels.loc["C", "follow_up"])
    assert "non-responder imputation" in nri.describe()
    assert OutcomeDefinition.from_dict(nri.to_dict()) == nri
    # follow_up_status judges complete cases, whatever the definition does with the lost
    assert outcomes.follow_up_status(cohort, nri).equals(status)
    with pytest.raises(ValueError, match="missing follow-up"):
        OutcomeDefinition(missing_follow_up="impute")
