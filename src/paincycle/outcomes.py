"""Outcome definitions and labels: who had a poor outcome, by the clinic's own rule.

The default follows the cohort format: baseline is the outcome measure closest
to intake within [-60, +14] days, follow-up the one closest to day 365 within
[300, 430], the measure is the first of PROMIS physical function, ODI and PDI
the patient has at both points, and a poor outcome is an improvement smaller
than the measure's MCID. Patients without both points get no label: they are
left out of training and evaluation, never out of the views.

Those who withdraw are often the ones who stop coming, so who is missing is
counted (follow_up_status) and, as an option, a patient whose follow-up was due
but never came counts as a poor outcome (non-responder imputation).
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from paincycle import measures, rules
from paincycle.cohort import Cohort, lookup

#: Outcome measures tried in order when the clinic does not choose one.
DEFAULT_PRIORITY: tuple[str, ...] = ("promis_physical_function", "odi", "pdi")
DEFAULT_HORIZON_DAYS = rules.FOLLOW_UPS[12].target
DEFAULT_WINDOW = (rules.FOLLOW_UPS[12].lo, rules.FOLLOW_UPS[12].hi)
DEFAULT_BASELINE_WINDOW = (rules.BASELINE.lo, rules.BASELINE.hi)

LABEL_COLUMNS = ("patient_id", "measure", "baseline", "follow_up", "improvement", "poor_outcome")

#: What a missing follow-up means: left out (complete cases) or a poor outcome (non-responder
#: imputation, for patients whose follow-up was due).
LOST_EXCLUDED, LOST_AS_POOR = "exclude", "poor"
#: follow_up_status values.
LABELLED, LOST, NOT_YET_DUE, NO_BASELINE = ("labelled", "lost to follow-up", "follow-up not yet due",
                                            "no baseline")


@dataclass(frozen=True)
class OutcomeDefinition:
    """What counts as a poor outcome.

    ``min_improvement`` is an absolute threshold in the measure's units and
    ``min_improvement_percent`` a relative one (30 means "at least 30% better
    than baseline"); with neither, the registry's MCID decides.
    """

    measures: tuple[str, ...] = DEFAULT_PRIORITY
    horizon_days: int = DEFAULT_HORIZON_DAYS
    window: tuple[int, int] = DEFAULT_WINDOW
    baseline_window: tuple[int, int] = DEFAULT_BASELINE_WINDOW
    min_improvement: float | None = None
    min_improvement_percent: float | None = None
    missing_follow_up: str = LOST_EXCLUDED

    def __post_init__(self) -> None:
        if self.missing_follow_up not in (LOST_EXCLUDED, LOST_AS_POOR):
            raise ValueError(f"missing follow-up must be {LOST_EXCLUDED!r} or {LOST_AS_POOR!r}, "
                             f"not {self.missing_follow_up!r}")
        for code in self.measures:
            measure = measures.get(code)  # KeyError naming the closest code
            if measure.mcid is None and self.min_improvement is None \
                    and self.min_improvement_percent is None:
                raise ValueError(f"{measure.instrument} has no MCID: give the improvement that "
                                 "counts as a good outcome (points or percent)")
        if not self.window[0] <= self.horizon_days <= self.window[1]:
            raise ValueError(f"the follow-up window {self.window} must contain the horizon "
                             f"({self.horizon_days} days)")
        if self.min_improvement is not None and self.min_improvement_percent is not None:
            raise ValueError("give the threshold in points or in percent, not both")

    @property
    def baseline(self) -> rules.Window:
        return rules.Window(0, *self.baseline_window)

    @property
    def follow_up(self) -> rules.Window:
        return rules.Window(self.horizon_days, *self.window)

    def check_landmark(self, landmark_days: int) -> None:
        """Refuse a landmark on or after the start of the follow-up window (a leak)."""
        rules.check_follow_up_after_landmark(self.follow_up, landmark_days)

    @classmethod
    def build(cls, measure: str | None = None, horizon_days: int | None = None,
              window_days: int | None = None, min_improvement: str | float | None = None,
              lost_as_poor: bool = False) -> OutcomeDefinition:
        """A definition from CLI/UI options; the window defaults to the horizon scaled like 300-430/365."""
        horizon = int(horizon_days) if horizon_days is not None else DEFAULT_HORIZON_DAYS
        if window_days is not None:
            window = (max(1, horizon - int(window_days)), horizon + int(window_days))
        elif horizon == DEFAULT_HORIZON_DAYS:
            window = DEFAULT_WINDOW
        else:
            window = (round(horizon * DEFAULT_WINDOW[0] / DEFAULT_HORIZON_DAYS),
                      round(horizon * DEFAULT_WINDOW[1] / DEFAULT_HORIZON_DAYS))
        points, percent = parse_threshold(min_improvement)
        return cls(measures=(measure,) if measure else DEFAULT_PRIORITY, horizon_days=horizon,
                   window=window, min_improvement=points, min_improvement_percent=percent,
                   missing_follow_up=LOST_AS_POOR if lost_as_poor else LOST_EXCLUDED)

    def to_dict(self) -> dict:
        data = asdict(self)
        data["measures"] = list(self.measures)
        data["window"] = list(self.window)
        data["baseline_window"] = list(self.baseline_window)
        return data

    @classmethod
    def from_dict(cls, data: dict) -> OutcomeDefinition:
        return cls(measures=tuple(data["measures"]), horizon_days=int(data["horizon_days"]),
                   window=tuple(data["window"]), baseline_window=tuple(data["baseline_window"]),
                   min_improvement=data.get("min_improvement"),
                   min_improvement_percent=data.get("min_improvement_percent"),
                   missing_follow_up=data.get("missing_follow_up", LOST_EXCLUDED))

    @property
    def complete_cases(self) -> OutcomeDefinition:
        """The same definition with missing follow-ups left out."""
        return dataclasses.replace(self, missing_follow_up=LOST_EXCLUDED)

    def threshold_words(self, code: str) -> str:
        measure = measures.get(code)
        if self.min_improvement_percent is not None:
            return f"at least {self.min_improvement_percent:g}% of its baseline"
        if self.min_improvement is not None:
            return f"at least {self.min_improvement:g} points"
        words = f"at least {measure.mcid:g} points (its MCID"
        if measure.mcid_percent is not None:
            words += f"; or {measure.mcid_percent:g}% of its baseline"
        return words + ")"

    def describe(self) -> str:
        """The definition in plain words, for the model page and the model card."""
        names = [measures.get(c).instrument for c in self.measures]
        which = (names[0] if len(names) == 1 else
                 "the first of " + ", ".join(names[:-1]) + f" or {names[-1]} the patient has at both points")
        if len(self.measures) > 1 and self.min_improvement is None and self.min_improvement_percent is None:
            rule = "its MCID (" + ", ".join(
                f"{measures.get(c).mcid:g}" for c in self.measures) + " points respectively)"
        else:
            rule = self.threshold_words(self.measures[0])
        return (f"Poor outcome: {which} has not improved by {rule} at about {self.horizon_days} "
                f"days after intake (follow-up taken between day {self.window[0]} and day "
                f"{self.window[1]}, baseline between day {self.baseline_window[0]} and day "
                f"{self.baseline_window[1]}). " + (
                    "A patient with a baseline whose follow-up was due but never came counts as "
                    "a poor outcome (non-responder imputation); others without both points have "
                    "no label." if self.missing_follow_up == LOST_AS_POOR else
                    "Patients without both points have no label."))


def parse_threshold(text: str | float | None) -> tuple[float | None, float | None]:
    """'30%' -> (None, 30.0); '5' -> (5.0, None); None -> (None, None)."""
    if text is None or (isinstance(text, str) and not text.strip()):
        return None, None
    if isinstance(text, int | float):
        return float(text), None
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*(%?)\s*", str(text))
    if not match:
        raise ValueError(f"'{text}' is not a threshold: use points (e.g. 5) or a percentage (e.g. 30%)")
    value = float(match.group(1))
    return (None, value) if match.group(2) else (value, None)


def _points(cohort: Cohort, definition: OutcomeDefinition) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per (patient, measure) pair: the baseline and the follow-up row chosen by
    rules.closest_rows (ties: the earlier), each with pair, patient_id, measure, value."""
    obs = cohort.observations[cohort.observations["measure"].isin(definition.measures)
                              & cohort.observations["value"].notna()]
    days = cohort.days_since_intake(obs)
    base_w, follow_w = definition.baseline, definition.follow_up
    in_a_window = ((days >= base_w.lo) & (days <= base_w.hi)) | ((days >= follow_w.lo)
                                                                 & (days <= follow_w.hi))
    obs, days = obs[in_a_window], days[in_a_window]  # pair only the rows a window can use
    pid = obs["patient_id"].astype(str).to_numpy(dtype=object)
    code = obs["measure"].astype(str).to_numpy(dtype=object)
    pair = pd.factorize(pd.MultiIndex.from_arrays([pid, code]))[0] if len(obs) \
        else np.zeros(0, dtype="int64")
    value = obs["value"].to_numpy(dtype="float64")

    def at(window: rules.Window) -> pd.DataFrame:
        rows = rules.closest_rows(pair, days, window)
        return pd.DataFrame({"pair": pair[rows], "patient_id": pid[rows], "measure": code[rows],
                             "value": value[rows]})

    return at(base_w), at(follow_w)


def _first_by_priority(frame: pd.DataFrame, definition: OutcomeDefinition) -> pd.DataFrame:
    """One row per patient: the measure first in the definition's order."""
    frame = frame.assign(priority=lookup(frame["measure"], {c: i for i, c in
                                                            enumerate(definition.measures)}))
    return frame.sort_values(["patient_id", "priority"], kind="stable").drop_duplicates("patient_id")


def label_outcomes(cohort: Cohort, definition: OutcomeDefinition | None = None,
                   as_of: pd.Timestamp | None = None) -> pd.DataFrame:
    """One row per labelled patient: measure, baseline, follow-up, improvement, poor_outcome.

    Baseline and follow-up are chosen by rules.closest_rows (ties: the earlier)
    and judged by rules.verdicts; a poor outcome is anything but "improved". With
    non-responder imputation, patients lost to follow-up (follow_up_status) are added as
    poor outcomes with no follow-up value.
    """
    definition = definition or OutcomeDefinition()
    base, follow = _points(cohort, definition)
    pairs = _first_by_priority(base.merge(follow[["pair", "value"]], on="pair",
                                          suffixes=("_base", "_follow")), definition)
    verdict = rules.verdicts(pairs["measure"].to_numpy(), pairs["value_base"].to_numpy(),
                             pairs["value_follow"].to_numpy(), points=definition.min_improvement,
                             percent=definition.min_improvement_percent)
    judged = verdict != rules.NOT_ENOUGH_DATA
    pairs, verdict = pairs[judged], verdict[judged]
    labels = pd.DataFrame({
        "patient_id": pairs["patient_id"].astype(str).to_numpy(),
        "measure": pairs["measure"].astype(str).to_numpy(),
        "baseline": pairs["value_base"].astype(float).to_numpy(),
        "follow_up": pairs["value_follow"].astype(float).to_numpy(),
        "improvement": rules.improvement(pairs["measure"].to_numpy(), pairs["value_base"].to_numpy(),
                                         pairs["value_follow"].to_numpy()),
        "poor_outcome": (verdict != rules.IMPROVED).astype(bool),
    }, columns=list(LABEL_COLUMNS))
    if definition.missing_follow_up == LOST_AS_POOR:
        lost_ids = _lost(cohort, definition, base, set(labels["patient_id"]), as_of)
        lost = _first_by_priority(base[base["patient_id"].isin(lost_ids)], definition)
        imputed = pd.DataFrame({
            "patient_id": lost["patient_id"].astype(str).to_numpy(),
            "measure": lost["measure"].astype(str).to_numpy(),
            "baseline": lost["value"].astype(float).to_numpy(),
            "follow_up": np.nan, "improvement": np.nan, "poor_outcome": True,
        }, columns=list(LABEL_COLUMNS))
        labels = pd.concat([labels, imputed], ignore_index=True) if len(imputed) else labels
    return labels.sort_values("patient_id").reset_index(drop=True)


def _due(cohort: Cohort, definition: OutcomeDefinition, as_of: pd.Timestamp | None) -> pd.Series:
    """Whether each patient's follow-up was due (the horizon reached by ``as_of``, default the
    cohort's latest record), by patient id."""
    if as_of is None:
        span = cohort.date_range()
        as_of = span[1] if span else pd.Timestamp.now().normalize()
    patients = cohort.patients
    due = patients["intake_date"] + pd.Timedelta(days=definition.horizon_days) <= pd.Timestamp(as_of)
    return pd.Series(due.to_numpy(dtype=bool), index=patients["patient_id"].astype(str))


def _lost(cohort: Cohort, definition: OutcomeDefinition, base: pd.DataFrame,
          labelled: set[str], as_of: pd.Timestamp | None) -> set[str]:
    due = _due(cohort, definition, as_of)
    with_baseline = set(base["patient_id"].astype(str))
    return {pid for pid in with_baseline - labelled if due.get(pid, False)}


def follow_up_status(cohort: Cohort, definition: OutcomeDefinition | None = None,
                     as_of: pd.Timestamp | None = None) -> pd.Series:
    """Every patient's standing for this outcome, by patient id: LABELLED (both points),
    LOST (a baseline, the follow-up due by ``as_of`` but missing), NOT_YET_DUE, or NO_BASELINE.
    Judged on complete cases, whatever the definition does with the lost."""
    definition = (definition or OutcomeDefinition()).complete_cases
    base, _ = _points(cohort, definition)
    labelled = set(label_outcomes(cohort, definition)["patient_id"])
    lost = _lost(cohort, definition, base, labelled, as_of)
    with_baseline = set(base["patient_id"].astype(str))
    ids = cohort.patients["patient_id"].astype(str)
    status = np.where(ids.isin(labelled), LABELLED, np.where(
        ids.isin(lost), LOST, np.where(ids.isin(with_baseline), NOT_YET_DUE, NO_BASELINE)))
    return pd.Series(status, index=pd.Index(ids.to_numpy(), name="patient_id"), name="status")


def summary(labels: pd.DataFrame, n_patients: int) -> dict:
    """Counts for reports: labelled, poor outcomes, prevalence, unlabelled."""
    n = len(labels)
    poor = int(labels["poor_outcome"].sum()) if n else 0
    return {"n_labelled": n, "n_poor": poor, "prevalence": poor / n if n else np.nan,
            "n_unlabelled": int(n_patients - n)}
