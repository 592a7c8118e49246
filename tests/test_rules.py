"""The clinical rules against plain reference implementations written here, not in production."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from paincycle import measures, rules

# --------------------------------------------------------------------------- reference oracles


def reference_closest(days: list[int], window: rules.Window) -> int | None:
    """Index of the observation closest to the target inside the window; ties: the earlier day,
    then the first listed. A loop a reviewer can check by eye."""
    best = None
    for i, day in enumerate(days):
        if not window.lo <= day <= window.hi:
            continue
        if best is None:
            best = i
            continue
        here, there = abs(day - window.target), abs(days[best] - window.target)
        if here < there or (here == there and day < days[best]):
            best = i
    return best


def reference_verdict(code: str, baseline: float, later: float) -> str:
    """The contract's MCID rule for one pair, spelled out (in exact decimals, not floats)."""
    from decimal import Decimal

    m = measures.get(code)
    b, la = Decimal(repr(float(baseline))), Decimal(repr(float(later)))
    gain = (b - la) if m.worse_high else (la - b)
    if m.mcid is not None and gain >= Decimal(repr(m.mcid)):
        return "improved"
    if m.mcid_percent is not None and b != 0 and gain / abs(b) * 100 >= Decimal(repr(m.mcid_percent)):
        return "improved"
    if m.mcid is not None and -gain >= Decimal(repr(m.mcid)):
        return "worse"
    return "no reliable change"


# --------------------------------------------------------------------------- tests


def test_ties_go_to_the_earlier_observation():
    group = np.zeros(4, dtype="int64")
    days = np.array([3, -3, 376, 354])
    assert days[rules.closest_rows(group, days, rules.BASELINE)].tolist() == [-3]
    assert days[rules.closest_rows(group, days, rules.FOLLOW_UPS[12])].tolist() == [354]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.lists(st.integers(-70, 450), min_size=0, max_size=8), min_size=1, max_size=6),
       st.sampled_from([rules.BASELINE, *rules.FOLLOW_UPS.values(), rules.window_around(42)]))
def test_closest_rows_match_the_reference(per_group, window):
    group = np.concatenate([np.full(len(d), g) for g, d in enumerate(per_group)]).astype("int64")
    days = np.concatenate([np.array(d, dtype="int64") for d in per_group])
    order = np.random.default_rng(len(days)).permutation(len(days))  # rows in any order
    group, days = group[order], days[order]
    got = {int(group[r]): int(days[r]) for r in rules.closest_rows(group, days, window)}
    want = {}
    for g in set(group.tolist()):
        mine = days[group == g].tolist()
        best = reference_closest(mine, window)
        if best is not None:
            want[g] = mine[best]
    assert got == want


def test_verdicts_match_the_reference_for_every_judged_measure():
    rng = np.random.default_rng(0)
    for code in rules.judged_measures():
        m = measures.get(code)
        base = rng.uniform(m.low, m.high, 80).round(1)
        later = np.clip(base + rng.normal(0, m.mcid * 1.5, 80), m.low, m.high).round(1)
        got = rules.verdicts([code] * 80, base, later)
        want = [reference_verdict(code, b, la) for b, la in zip(base, later, strict=True)]
        assert got.tolist() == want, code


def test_verdict_is_direction_aware_and_allows_points_or_percent():
    assert rules.verdict("phq9", 18, 12) == "improved"
    assert rules.verdict("phq9", 18, 14) == "no reliable change"
    assert rules.verdict("promis_physical_function", 35, 39) == "improved"
    assert rules.verdict("promis_physical_function", 40, 36) == "worse"
    assert rules.verdict("pain_nrs", 3, 2) == "improved"  # 1 point but 33%
    assert rules.verdict("pain_nrs", 8, 7) == "no reliable change"
    assert rules.verdict("phq9", None, 7) == "not enough data"
    assert rules.verdict("mme", 90, 30) == "not enough data"  # no MCID, no threshold


def test_a_change_of_exactly_the_mcid_counts_despite_floating_point():
    assert rules.verdict("peg", 8 / 3, 5 / 3) == "improved"  # 0.9999999999999998 points
    assert rules.verdict("peg", 0.4, 1.4) == "worse"
    assert rules.verdict("pain_nrs", 6.6, 4.62) == "improved"  # exactly 30% (29.999...% in floats)
    assert rules.verdict("promis_physical_function", 28.3, 32.3) == "improved"
    assert rules.verdict("peg", 5.0, 4.0000001) == "no reliable change"  # just short stays short


def test_a_clinics_own_threshold_replaces_the_mcid():
    assert rules.verdict("pain_nrs", 8, 6, percent=30) == "no reliable change"  # 25%
    assert rules.verdict("pain_nrs", 8, 5, percent=30) == "improved"
    assert rules.verdict("pain_nrs", 0, 0, percent=30) == "not enough data"  # relative to zero
    assert rules.verdict("phq9", 10, 7, points=3) == "improved"
    with pytest.raises(ValueError, match="not both"):
        rules.verdict("phq9", 10, 7, points=3, percent=30)


def test_the_first_judgeable_measure_of_the_domain_speaks():
    status = pd.DataFrame({
        "patient_id": ["A"] * 4,
        "measure": ["pain_nrs", "promis_pain_interference", "phq9", "pcs"],
        "domain": ["pain", "pain", "mood", "psychological"],
        "status": ["no reliable change", "worse", "not enough data", "worse"],
    })
    out = rules.speaking_measures(status)
    assert out[["domain", "measure", "status"]].values.tolist() == [
        ["pain", "pain_nrs", "no reliable change"], ["mood", "phq9", "not enough data"],
        ["psychological", "pcs", "worse"]]


def test_a_follow_up_window_on_or_before_the_landmark_is_refused():
    rules.check_follow_up_after_landmark(rules.FOLLOW_UPS[12], 90)
    with pytest.raises(ValueError, match="on or before the landmark"):
        rules.check_follow_up_after_landmark(rules.window_around(90), 90)
    with pytest.raises(ValueError, match="day 300"):
        rules.check_follow_up_after_landmark(rules.FOLLOW_UPS[12], 300)


def test_days_since_intake_are_whole_days_rounded_down():
    intake = np.array(["2025-03-10"] * 3, dtype="datetime64[ns]")
    dates = np.array(["2025-03-09", "2025-03-10", "2025-03-17"], dtype="datetime64[ns]")
    assert rules.days_since_intake(dates, intake).tolist() == [-1, 0, 7]


def test_a_window_must_hold_its_target():
    with pytest.raises(ValueError, match="must contain"):
        rules.Window(10, 20, 30)
