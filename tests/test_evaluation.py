"""The evaluation numbers, checked against plain reference computations on known data."""

import numpy as np
import pandas as pd
import pytest

from paincycle import evaluation


def _calibrated(n: int = 20000, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    p = rng.uniform(0.05, 0.95, n)
    return (rng.random(n) < p).astype(int), p


def test_calibration_intercept_and_slope():
    y, p = _calibrated()
    a, b = evaluation.calibration_intercept_slope(y, p)
    assert abs(a) < 0.05 and abs(b - 1) < 0.08
    logit = np.log(p / (1 - p))
    overconfident = 1 / (1 + np.exp(-2 * logit))
    assert evaluation.calibration_intercept_slope(y, overconfident)[1] == pytest.approx(0.5, abs=0.06)
    too_high = 1 / (1 + np.exp(-(logit + 1)))
    assert evaluation.calibration_intercept_slope(y, too_high)[0] == pytest.approx(-1, abs=0.06)


def test_scaled_brier_is_zero_for_the_base_rate_and_one_for_certainty():
    y = np.array([1, 0, 0, 1, 0])
    assert evaluation.scaled_brier(y, np.full(5, y.mean())) == pytest.approx(0.0)
    assert evaluation.scaled_brier(y, y.astype(float)) == pytest.approx(1.0)
    assert evaluation.brier(y, np.full(5, 0.5)) == pytest.approx(0.25)


def test_bootstrap_intervals_hold_the_estimate_and_narrow_with_more_patients():
    y, p = _calibrated(4000)
    small = evaluation.bootstrap_intervals(y[:400], p[:400], n_boot=200)
    large = evaluation.bootstrap_intervals(y, p, n_boot=200)
    point = evaluation.point_metrics(y, p)
    for name in evaluation.INTERVAL_METRICS:
        lo, hi = large[name]
        assert lo <= point[name] <= hi, name
        assert hi - lo < small[name][1] - small[name][0], name
    assert large["calibration_slope"][0] < 1 < large["calibration_slope"][1]


def test_smoothed_calibration_follows_the_truth():
    y, p = _calibrated()
    curve = pd.DataFrame(evaluation.smoothed_calibration(y, p))
    assert len(curve) == 50
    assert (curve["observed"] - curve["predicted"]).abs().max() < 0.05
    logit = np.log(p / (1 - p))
    overconfident = pd.DataFrame(evaluation.smoothed_calibration(y, 1 / (1 + np.exp(-2 * logit))))
    high = overconfident[overconfident["predicted"] > 0.9]
    assert (high["observed"] < high["predicted"] - 0.05).all()  # extreme risks are too extreme
    assert evaluation.smoothed_calibration(np.zeros(50, int), np.full(50, 0.3)) == []


def test_decision_thresholds_fit_the_prevalence_and_reach_the_highest_risk():
    rng = np.random.default_rng(1)
    risk = rng.uniform(0.55, 0.97, 500)  # every risk above 50%, as on CHOIR
    y = (rng.random(500) < risk).astype(int)
    grid = evaluation.decision_thresholds(y, risk, extra=(0.8123,))
    assert grid[0] == pytest.approx(np.floor(50 * y.mean()) / 100)
    assert grid[-1] == pytest.approx(np.floor(risk.max() * 100) / 100, abs=0.011)
    assert 0.8123 in grid and max(grid) <= 0.99


def test_net_benefit_by_hand():
    y = np.array([1, 1, 0, 0])
    risk = np.array([0.9, 0.2, 0.6, 0.1])
    row = evaluation.net_benefit(y, risk, thresholds=(0.5,))[0]
    assert row["model"] == pytest.approx(1 / 4 - 1 / 4 * 1.0)
    assert row["treat_all"] == pytest.approx(0.5 - 0.5)


def test_at_threshold_by_hand():
    y = np.array([1, 1, 1, 0, 0, 0, 0, 0])
    risk = np.array([0.9, 0.8, 0.2, 0.85, 0.3, 0.2, 0.1, 0.1])
    row = evaluation.at_threshold(y, risk, 0.5)
    assert row["flagged"] == 3 and row["flag_rate"] == pytest.approx(3 / 8)
    assert row["ppv"] == pytest.approx(2 / 3) and row["sensitivity"] == pytest.approx(2 / 3)
    assert row["specificity"] == pytest.approx(4 / 5) and row["npv"] == pytest.approx(4 / 5)
    assert np.isnan(evaluation.at_threshold(y, risk, 0.99)["ppv"])  # no one flagged


def test_subgroups_get_auc_and_calibration_with_intervals_and_small_ones_are_counted_only():
    y, p = _calibrated(1000)
    groups = pd.DataFrame({"sex": np.where(np.arange(1000) < 990, "female", "male")})
    rows = {r["subgroup"]: r for r in evaluation.subgroup_table(y, p, groups, n_boot=50)}
    assert rows["female"]["n"] == 990 and rows["female"]["auc_ci"][0] < rows["female"]["auc"]
    assert rows["female"]["calibration_slope_ci"][0] < 1 < rows["female"]["calibration_slope_ci"][1]
    assert rows["male"]["n"] == 10 and rows["male"]["auc"] is None


def test_age_bands_are_the_cohort_filters_bands():
    bands = evaluation.age_band(pd.Series([29, 30, 59.5, 75, np.nan]))
    assert bands.tolist() == ["under 30", "30-44", "45-59", "75 and over", "unknown"]
