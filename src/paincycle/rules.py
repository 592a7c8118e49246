"""The clinical rules, defined once: every analysis, label, feature, card and export calls these.

A clinical team stops trusting a product the first time two screens disagree
about one patient. So the few rules that decide what a patient's numbers
mean live here and nowhere else:

- **time since intake**: whole days (floor) from the intake date;
- **windows**: the baseline window around intake, the 3/6/12-month follow-up
  windows and the "recent" period before a landmark;
- **closest observation** to a target day inside a window, with one tie rule:
  when two observations are equally far from the target, the earlier wins
  (on the same day, the one first in the table);
- **the MCID verdict**: improved / no reliable change / worse, in the
  measure's better direction, from the registry's MCID (points, or percent
  where the measure allows it) or a clinic's own threshold;
- **which measure speaks for a domain**: the first in registry order that the
  patient has at both points compared.

Pure numpy and pandas; the only clinical facts read are the registry's.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from paincycle import measures

#: Observations may precede intake by at most this many days (the cohort format's rule).
MAX_DAYS_BEFORE_INTAKE = 60

IMPROVED = "improved"
NO_CHANGE = "no reliable change"
WORSE = "worse"
NOT_ENOUGH_DATA = "not enough data"
#: Every verdict, best first.
VERDICTS: tuple[str, ...] = (IMPROVED, NO_CHANGE, WORSE, NOT_ENOUGH_DATA)


@dataclass(frozen=True)
class Window:
    """Days since intake: the observation closest to ``target`` within [``lo``, ``hi``] is used."""

    target: int
    lo: int
    hi: int

    def __post_init__(self) -> None:
        if not self.lo <= self.target <= self.hi:
            raise ValueError(f"the window {self.lo}..{self.hi} days must contain its target "
                             f"day {self.target}")

    def words(self) -> str:
        return f"closest to day {self.target} within days {self.lo} to {self.hi}"


#: Baseline: the observation closest to intake within 60 days before to 14 days after.
BASELINE = Window(0, -MAX_DAYS_BEFORE_INTAKE, 14)
#: Follow-ups for responder rates, by months since intake. The 12-month window is the
#: contract's outcome window; the shorter ones keep visits from overlapping.
FOLLOW_UPS: dict[int, Window] = {3: Window(91, 60, 135), 6: Window(182, 150, 240),
                                 12: Window(365, 300, 430)}
#: "Recent" level before a landmark: the mean of the last this-many days of a measure.
RECENT_DAYS = 14


def window_around(target: int) -> Window:
    """The follow-up window for a target day: a named follow-up's own, else +-25% (at least 14 days)."""
    for window in FOLLOW_UPS.values():
        if window.target == target:
            return window
    spread = max(14, round(target * 0.25))
    return Window(target, target - spread, target + spread)


def check_follow_up_after_landmark(window: Window, landmark_days: int) -> None:
    """Refuse a follow-up window that starts on or before the landmark: the outcome would be a feature."""
    if window.lo <= landmark_days:
        raise ValueError(
            f"the follow-up window starts on day {window.lo}, on or before the landmark "
            f"(day {landmark_days}): the outcome would be known when the risk is predicted. "
            f"Choose a landmark before day {window.lo} or a later horizon.")


# --------------------------------------------------------------------------- time


def days_since_intake(dates: np.ndarray | pd.Series, intake: np.ndarray | pd.Series) -> np.ndarray:
    """Whole days from intake to each date (floor), as int64; NaT gives the int64 minimum."""
    delta = (np.asarray(dates, dtype="datetime64[ns]") - np.asarray(intake, dtype="datetime64[ns]"))
    out = np.full(delta.shape, np.iinfo("int64").min, dtype="int64")
    known = ~np.isnat(delta)
    out[known] = delta[known] // np.timedelta64(1, "D")
    return out


# --------------------------------------------------------------------------- closest


def first_per_group(group: np.ndarray, *sort_keys: np.ndarray) -> np.ndarray:
    """Row positions of the first row of each group after a stable sort by ``sort_keys``.

    Groups come out in ascending order. Integer keys are packed into one int64
    where they fit, so one argsort replaces a multi-key lexsort.
    """
    if not len(group):
        return np.zeros(0, dtype="int64")
    order = _order(group, *sort_keys)
    sorted_group = group[order]
    first = np.ones(len(order), dtype=bool)
    first[1:] = sorted_group[1:] != sorted_group[:-1]
    return order[first]


def _order(*keys: np.ndarray) -> np.ndarray:
    """Stable sort order by ``keys`` (primary first)."""
    packed = np.zeros(len(keys[0]), dtype="int64")
    bits = 0
    for key in reversed(keys):
        if key.dtype.kind not in "iu":
            return np.lexsort(tuple(reversed(keys)))
        low, high = int(key.min()), int(key.max())
        width = max(high - low, 0).bit_length()
        if bits + width > 62:
            return np.lexsort(tuple(reversed(keys)))
        packed += (key.astype("int64") - low) << bits
        bits += width
    return np.argsort(packed, kind="stable")


def closest_rows(group: np.ndarray, days: np.ndarray, window: Window) -> np.ndarray:
    """Row positions of each group's observation closest to ``window.target`` within it.

    The tie rule: equally far from the target, the earlier observation wins;
    on the same day, the one first in the table (the sort is stable).
    """
    days = np.asarray(days)
    inside = np.flatnonzero((days >= window.lo) & (days <= window.hi))
    picked = first_per_group(np.asarray(group)[inside], np.abs(days[inside] - window.target),
                             days[inside])
    return inside[picked]


def latest_rows(group: np.ndarray, days: np.ndarray) -> np.ndarray:
    """Row positions of each group's most recent observation (same day: the first in the table)."""
    return first_per_group(np.asarray(group), -np.asarray(days))


# --------------------------------------------------------------------------- verdicts


#: Scores are decimals stored as floats: 8/3 - 5/3 is 0.9999999999999998, not the PEG's
#: MCID of 1. A change within this much of the threshold counts as reaching it.
TOLERANCE = 1e-9


def _facts(codes: Sequence[str] | np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(worse_high, mcid, mcid_percent) per code, from the registry (NaN where it has none)."""
    inverse, uniques = pd.factorize(pd.Series(np.asarray(codes, dtype=object)), sort=False)
    inverse = inverse.astype("int64")
    known = [measures.MEASURES.get(str(c)) for c in uniques]
    worse_high = np.array([m.worse_high if m else True for m in known], dtype=bool)
    mcid = np.array([m.mcid if m and m.mcid is not None else np.nan for m in known], dtype=float)
    pct = np.array([m.mcid_percent if m and m.mcid_percent is not None else np.nan
                    for m in known], dtype=float)
    return worse_high[inverse], mcid[inverse], pct[inverse]


def improvement(codes: Sequence[str] | np.ndarray, baseline: np.ndarray,
                later: np.ndarray) -> np.ndarray:
    """Change in each measure's better direction: positive means the patient improved."""
    worse_high, _, _ = _facts(codes)
    baseline, later = np.asarray(baseline, dtype=float), np.asarray(later, dtype=float)
    return np.where(worse_high, baseline - later, later - baseline)


def verdicts(codes: Sequence[str] | np.ndarray, baseline: np.ndarray, later: np.ndarray, *,
             points: float | None = None, percent: float | None = None) -> np.ndarray:
    """The MCID verdict per row: improved, no reliable change, worse, or not enough data.

    By default the registry's MCID decides: an improvement of at least the MCID
    in points, or at least ``mcid_percent`` of the baseline where the measure
    allows it, is "improved"; a worsening of at least the MCID in points is
    "worse". A clinic's own threshold replaces it: ``points`` (absolute) or
    ``percent`` (relative; a relative change from a baseline of zero cannot be
    judged). A missing baseline or later value, or a measure with no MCID and
    no threshold given, is "not enough data".
    """
    if points is not None and percent is not None:
        raise ValueError("give the threshold in points or in percent, not both")
    _, mcid, mcid_percent = _facts(codes)
    baseline, later = np.asarray(baseline, dtype=float), np.asarray(later, dtype=float)
    gain = improvement(codes, baseline, later)
    if points is not None:
        mcid, mcid_percent = np.full(len(gain), float(points)), np.full(len(gain), np.nan)
    elif percent is not None:
        mcid, mcid_percent = np.full(len(gain), np.nan), np.full(len(gain), float(percent))
    with np.errstate(divide="ignore", invalid="ignore"):
        pct_gain = gain / np.abs(baseline) * 100
        by_percent = ~np.isnan(mcid_percent) & (baseline != 0)
        improved = (gain >= mcid - TOLERANCE) | (by_percent & (pct_gain >= mcid_percent - TOLERANCE))
        worse = (-gain >= mcid - TOLERANCE) | (by_percent & (-pct_gain >= mcid_percent - TOLERANCE)
                                               & np.isnan(mcid))
    judgeable = ~np.isnan(baseline) & ~np.isnan(later) & (~np.isnan(mcid) | by_percent)
    # chosen by position: np.where over the words makes 76-byte text cells (1 GB a 13M rows)
    words = np.array([IMPROVED, WORSE, NO_CHANGE, NOT_ENOUGH_DATA], dtype=object)
    chosen = np.where(improved, 0, np.where(worse, 1, 2))
    chosen[~judgeable] = 3
    return words[chosen]


def verdict(code: str, baseline: float | None, later: float | None, **threshold) -> str:
    """:func:`verdicts` for one measure and one pair of values."""
    nan = float("nan")
    return str(verdicts([code], [nan if baseline is None else baseline],
                        [nan if later is None else later], **threshold)[0])


def judged_measures() -> list[str]:
    """Registry measures with an MCID: the only ones a change is judged on without a threshold."""
    return [code for code, m in measures.MEASURES.items() if m.mcid is not None]


# --------------------------------------------------------------------------- which measure speaks


def speaking_measures(status: pd.DataFrame, groups: Iterable[str] = measures.VERDICT_GROUPS
                      ) -> pd.DataFrame:
    """One row per patient and domain: the measure that speaks for the domain.

    ``status`` has one row per patient and measure with ``patient_id``,
    ``measure``, ``domain`` and ``status`` (a verdict). The speaker is the
    first measure in registry order with a verdict other than "not enough
    data"; a domain where none can be judged keeps its first measure, saying
    "not enough data". Rows come out by patient, then domain in ``groups`` order.
    """
    groups = list(groups)
    inside = status["domain"].isin(groups)
    if not inside.all():  # a copy only when needed: 13 million rows at 1,000,000 patients
        status = status[inside]
    if status.empty:
        return status.reset_index(drop=True).copy()
    registry_order = pd.Categorical(status["measure"], categories=list(measures.MEASURES)).codes
    domain_order = pd.Categorical(status["domain"], categories=groups).codes
    patient = pd.factorize(status["patient_id"], sort=True)[0]
    group = patient.astype("int64") * len(groups) + domain_order
    lacking = (status["status"] == NOT_ENOUGH_DATA).to_numpy().astype("int64")
    rows = first_per_group(group, lacking, registry_order.astype("int64"))
    return status.iloc[rows].reset_index(drop=True)


def speaker_for(codes: Iterable[str], domain: str) -> str | None:
    """The first registry measure of ``domain`` among ``codes`` (registry order), or None."""
    present = set(codes)
    return next((m.code for m in measures.in_domain(domain) if m.code in present), None)
