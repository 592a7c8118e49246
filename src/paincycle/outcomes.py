"""Outcome definitions and labels: who had a poor outcome, by the clinic's own rule.

The default follows the cohort format: baseline is the outcome measure closest
to intake within [-60, +14] days, follow-up the one closest to day 365 within
[300, 430], the measure is the first of PROMIS physical function, ODI and PDI
the patient has at both points, and a poor outcome is an improvement smaller
than the measure's MCID. Patients without both points get no label: they are
left out of training and evaluation, never out of the views.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from paincycle import measures
from paincycle.cohort import Cohort, lookup

#: Outcome measures tried in order when the clinic does not choose one.
DEFAULT_PRIORITY: tuple[str, ...] = ("promis_physical_function", "odi", "pdi")
DEFAULT_HORIZON_DAYS = 365
DEFAULT_WINDOW = (300, 430)
DEFAULT_BASELINE_WINDOW = (-60, 14)

LABEL_COLUMNS = ("patient_id", "measure", "baseline", "follow_up", "improvement", "poor_outcome")


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

    def __post_init__(self) -> None:
        for code in self.measures:
            measures.get(code)  # KeyError naming the closest code
        if not self.window[0] <= self.horizon_days <= self.window[1]:
            raise ValueError(f"the follow-up window {self.window} must contain the horizon "
                             f"({self.horizon_days} days)")
        if self.min_improvement is not None and self.min_improvement_percent is not None:
            raise ValueError("give the threshold in points or in percent, not both")

    @classmethod
    def build(cls, measure: str | None = None, horizon_days: int | None = None,
              window_days: int | None = None, min_improvement: str | float | None = None
              ) -> OutcomeDefinition:
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
                   window=window, min_improvement=points, min_improvement_percent=percent)

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
                   min_improvement_percent=data.get("min_improvement_percent"))

    def threshold_words(self, code: str) -> str:
        measure = measures.get(code)
        if self.min_improvement_percent is not None:
            return f"at least {self.min_improvement_percent:g}% of its baseline"
        if self.min_improvement is not None:
            return f"at least {self.min_improvement:g} points"
        if measure.mcid is None:
            return "any improvement (the measure has no MCID)"
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
                f"{self.baseline_window[1]}). Patients without both points have no label.")


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


def _closest(obs: pd.DataFrame, lo: int, hi: int, target: int) -> pd.DataFrame:
    """Per patient and measure, the observation closest to ``target`` days within [lo, hi]."""
    inside = obs[(obs["day"] >= lo) & (obs["day"] <= hi)].copy()
    inside["distance"] = (inside["day"] - target).abs()
    inside = inside.sort_values(["patient_id", "measure", "distance", "day"], kind="mergesort")
    return inside.drop_duplicates(["patient_id", "measure"])[["patient_id", "measure", "value"]]


def days_since_intake(cohort: Cohort, frame: pd.DataFrame | None = None) -> pd.DataFrame:
    """Observations (or ``frame``) with a ``day`` column: whole days since the patient's intake."""
    frame = cohort.observations if frame is None else frame
    intake = cohort.patients.set_index("patient_id")["intake_date"]
    out = frame.copy()
    out["day"] = (out["date"] - lookup(out["patient_id"], intake)).dt.days
    return out


def label_outcomes(cohort: Cohort, definition: OutcomeDefinition | None = None) -> pd.DataFrame:
    """One row per labelled patient: measure, baseline, follow-up, improvement, poor_outcome."""
    definition = definition or OutcomeDefinition()
    obs = days_since_intake(cohort, cohort.observations[
        cohort.observations["measure"].isin(definition.measures)])
    obs = obs.dropna(subset=["day", "value"])
    base = _closest(obs, *definition.baseline_window, 0)
    follow = _closest(obs, *definition.window, definition.horizon_days)
    pairs = base.merge(follow, on=["patient_id", "measure"], suffixes=("_base", "_follow"))
    pairs["priority"] = lookup(pairs["measure"], {c: i for i, c in enumerate(definition.measures)})
    pairs = pairs.sort_values(["patient_id", "priority"]).drop_duplicates("patient_id")

    rows = []
    for pid, code, b, f in pairs[["patient_id", "measure", "value_base", "value_follow"]].itertuples(
            index=False):
        measure = measures.get(code)
        gain = measure.improvement(b, f)
        if definition.min_improvement_percent is not None:
            if not b:
                continue  # a relative change from zero is undefined: no label
            good = gain / abs(b) * 100 >= definition.min_improvement_percent
        elif definition.min_improvement is not None:
            good = gain >= definition.min_improvement
        else:
            good = measure.is_important_improvement(b, f)
        rows.append((pid, code, float(b), float(f), float(gain), not good))
    labels = pd.DataFrame(rows, columns=list(LABEL_COLUMNS))
    labels["poor_outcome"] = labels["poor_outcome"].astype(bool)
    return labels.sort_values("patient_id").reset_index(drop=True)


def summary(labels: pd.DataFrame, n_patients: int) -> dict:
    """Counts for reports: labelled, poor outcomes, prevalence, unlabelled."""
    n = len(labels)
    poor = int(labels["poor_outcome"].sum()) if n else 0
    return {"n_labelled": n, "n_poor": poor, "prevalence": poor / n if n else np.nan,
            "n_unlabelled": int(n_patients - n)}
