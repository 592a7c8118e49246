"""How well risks match outcomes: the numbers a methodologist checks before trusting a model.

Pure functions of outcomes ``y`` (1 = poor) and predicted risks, used for the
training run's out-of-fold evidence, for a local validation on another cohort,
and for the Risk page's table at the team's threshold. One definition each, so
the page, the model card, the CLI and docs/model.md cannot disagree.

Intervals are 95% percentile bootstrap intervals over patients (Steyerberg,
*Clinical Prediction Models*, 2nd ed., 2019). Net benefit follows Vickers &
Elkin, Med Decis Making 2006;26:565-574. The smoothed calibration curve is a
spline logistic recalibration (the flexible calibration curve of Van Calster et
al., J Clin Epidemiol 2016;74:167-176), fitted with scikit-learn instead of
loess so no statistics package is needed.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.special import expit
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score, roc_curve
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import SplineTransformer

from paincycle.trajectories import age_band_of

#: Metrics with a bootstrap interval, in the order they are reported.
INTERVAL_METRICS = ("auc", "calibration_intercept", "calibration_slope", "scaled_brier")
N_BOOT = 500
#: Smallest subgroup given an AUC and calibration (smaller ones are counted only).
MIN_SUBGROUP = 20


def auc(y: np.ndarray, risk: np.ndarray, weights: np.ndarray | None = None) -> float:
    """Area under the ROC curve (weighted if ``weights``); NaN when only one outcome is present."""
    y = np.asarray(y)
    return (float(roc_auc_score(y, risk, sample_weight=weights)) if 0 < y.sum() < len(y)
            else float("nan"))


def _logit(risk: np.ndarray) -> np.ndarray:
    p = np.clip(np.asarray(risk, dtype=float), 1e-6, 1 - 1e-6)
    return np.log(p / (1 - p))


def calibration_intercept_slope(y: np.ndarray, risk: np.ndarray,
                                weights: np.ndarray | None = None) -> tuple[float, float]:
    """Calibration-in-the-large (slope fixed at 1) and calibration slope, on the logit scale.

    Newton steps on the two (optionally weighted) logistic recalibration models; 0 and 1 are
    ideal.
    """
    y = np.asarray(y, dtype=float)
    lp = _logit(risk)
    w = np.ones_like(lp) if weights is None else np.asarray(weights, dtype=float)
    a = 0.0
    for _ in range(50):  # intercept with the linear predictor as offset
        q = expit(a + lp)
        step = (w * (y - q)).sum() / max((w * q * (1 - q)).sum(), 1e-12)
        a += step
        if abs(step) < 1e-10:
            break
    beta = np.zeros(2)
    design = np.column_stack([np.ones_like(lp), lp])
    for _ in range(100):  # y ~ intercept + slope * lp
        q = expit(design @ beta)
        hess = design.T @ (design * (w * q * (1 - q))[:, None])
        step = np.linalg.solve(hess + 1e-9 * np.eye(2), design.T @ (w * (y - q)))
        beta += step
        if np.abs(step).max() < 1e-10:
            break
    return float(a), float(beta[1])


def brier(y: np.ndarray, risk: np.ndarray, weights: np.ndarray | None = None) -> float:
    return float(np.average((np.asarray(risk, dtype=float) - np.asarray(y)) ** 2,
                            weights=weights))


def scaled_brier(y: np.ndarray, risk: np.ndarray) -> float:
    """1 - Brier / Brier of predicting the prevalence for all: 0 = no better than the base rate."""
    prevalence = float(np.mean(y))
    reference = prevalence * (1 - prevalence)
    return float(1 - brier(y, risk) / reference) if reference > 0 else float("nan")


def point_metrics(y: np.ndarray, risk: np.ndarray, weights: np.ndarray | None = None
                  ) -> dict[str, float]:
    """AUC, calibration intercept and slope, Brier and scaled Brier of these risks (weighted
    if ``weights``, e.g. inverse-probability weights for loss to follow-up)."""
    intercept, slope = calibration_intercept_slope(y, risk, weights)
    prevalence = float(np.average(y, weights=weights))
    reference = prevalence * (1 - prevalence)
    score = brier(y, risk, weights)
    return {"auc": auc(y, risk, weights), "calibration_intercept": intercept,
            "calibration_slope": slope, "brier": score,
            "scaled_brier": float(1 - score / reference) if reference > 0 else float("nan")}


def bootstrap_intervals(y: np.ndarray, risk: np.ndarray, n_boot: int = N_BOOT, seed: int = 0
                        ) -> dict[str, tuple[float, float]]:
    """95% percentile bootstrap interval of each of INTERVAL_METRICS (resampling patients)."""
    y = np.asarray(y, dtype=int)
    risk = np.asarray(risk, dtype=float)
    rng = np.random.default_rng(seed)
    draws: dict[str, list[float]] = {name: [] for name in INTERVAL_METRICS}
    for _ in range(n_boot):
        idx = rng.integers(0, len(y), len(y))
        yb, rb = y[idx], risk[idx]
        if not 0 < yb.sum() < len(yb):
            continue
        intercept, slope = calibration_intercept_slope(yb, rb)
        draws["auc"].append(float(roc_auc_score(yb, rb)))
        draws["calibration_intercept"].append(intercept)
        draws["calibration_slope"].append(slope)
        draws["scaled_brier"].append(scaled_brier(yb, rb))
    return {name: ((float(np.percentile(v, 2.5)), float(np.percentile(v, 97.5))) if v
                   else (float("nan"), float("nan"))) for name, v in draws.items()}


def calibration_bins(y: np.ndarray, risk: np.ndarray, bins: int = 10) -> list[dict]:
    """Observed share of poor outcomes per risk decile (equal-count bins)."""
    frame = pd.DataFrame({"y": y, "risk": risk})
    frame["bin"] = pd.qcut(frame["risk"].rank(method="first"), min(bins, len(frame)), labels=False)
    table = frame.groupby("bin").agg(predicted=("risk", "mean"), observed=("y", "mean"),
                                     n=("y", "size"))
    return table.reset_index(drop=True).to_dict("records")


def smoothed_calibration(y: np.ndarray, risk: np.ndarray, n_points: int = 50) -> list[dict]:
    """A smooth observed-vs-predicted curve: a lightly penalised logistic regression of the
    outcome on a cubic spline of the logit risk, read on a grid over the central 98% of risks
    (the tails hold too few patients to say anything)."""
    y = np.asarray(y, dtype=int)
    lp = _logit(risk).reshape(-1, 1)
    if not 0 < y.sum() < len(y) or len(y) < MIN_SUBGROUP:
        return []
    curve = make_pipeline(SplineTransformer(n_knots=4, degree=3, knots="quantile"),
                          LogisticRegression(C=10.0, max_iter=2000)).fit(lp, y)
    lo, hi = np.percentile(lp, [1, 99])
    grid = np.linspace(lo, hi, n_points).reshape(-1, 1)
    observed = curve.predict_proba(grid)[:, 1]
    predicted = expit(grid[:, 0])
    return [{"predicted": float(p), "observed": float(o)} for p, o in zip(predicted, observed,
                                                                           strict=True)]


def decision_thresholds(y: np.ndarray, risk: np.ndarray, extra: tuple[float, ...] = ()
                        ) -> tuple[float, ...]:
    """Thresholds that fit this outcome: from half the prevalence up to the highest risk (at
    most 99%), in 1-point steps, plus ``extra`` (e.g. the team's flag threshold). A fixed
    10-50% range says nothing when every risk is above 50%."""
    prevalence = float(np.mean(y))
    lo = max(0.01, np.floor(50 * prevalence) / 100)
    hi = min(0.99, float(np.max(risk)) if len(risk) else 0.99)
    grid = np.round(np.arange(lo, max(hi, lo) + 1e-9, 0.01), 2)
    return tuple(sorted({float(t) for t in grid} | {round(float(t), 4) for t in extra}))


def net_benefit(y: np.ndarray, risk: np.ndarray, thresholds: tuple[float, ...]) -> list[dict]:
    """Decision-curve net benefit of reviewing by the model, reviewing everyone, and no one."""
    y = np.asarray(y)
    risk = np.asarray(risk)
    n = len(y)
    prevalence = y.mean()
    rows = []
    for t in thresholds:
        flagged = risk >= t
        tp = (flagged & (y == 1)).sum() / n
        fp = (flagged & (y == 0)).sum() / n
        odds = t / (1 - t)
        rows.append({"threshold": float(t), "model": float(tp - fp * odds),
                     "treat_all": float(prevalence - (1 - prevalence) * odds), "treat_none": 0.0})
    return rows


def at_threshold(y: np.ndarray, risk: np.ndarray, threshold: float) -> dict[str, float | int]:
    """What flagging at ``threshold`` means: share flagged, PPV, sensitivity, specificity, NPV.

    NaN where the denominator is empty (e.g. PPV when no one is flagged).
    """
    y = np.asarray(y, dtype=int)
    flagged = np.asarray(risk) >= threshold
    tp = int((flagged & (y == 1)).sum())
    fp = int((flagged & (y == 0)).sum())
    fn = int((~flagged & (y == 1)).sum())
    tn = int((~flagged & (y == 0)).sum())

    def share(a: int, b: int) -> float:
        return a / b if b else float("nan")

    return {"threshold": float(threshold), "n": len(y), "flagged": tp + fp,
            "flag_rate": share(tp + fp, len(y)), "ppv": share(tp, tp + fp),
            "sensitivity": share(tp, tp + fn), "specificity": share(tn, tn + fp),
            "npv": share(tn, tn + fn)}


def roc_points(y: np.ndarray, risk: np.ndarray, max_points: int = 101) -> list[dict]:
    fpr, tpr, _ = roc_curve(y, risk)
    keep = np.unique(np.linspace(0, len(fpr) - 1, min(max_points, len(fpr))).round().astype(int))
    return [{"fpr": float(fpr[i]), "tpr": float(tpr[i])} for i in keep]


def age_band(age: pd.Series) -> pd.Series:
    """The cohort filters' age bands (trajectories.AGE_BANDS), applied to age at intake."""
    return age_band_of(age)


def subgroup_table(y: np.ndarray, risk: np.ndarray, groups: pd.DataFrame,
                   min_n: int = MIN_SUBGROUP, n_boot: int = 200, seed: int = 0) -> list[dict]:
    """Per sex, age band and site: AUC and calibration with intervals, observed and mean
    predicted risk; groups smaller than ``min_n`` or with one outcome are counted only."""
    y = np.asarray(y, dtype=int)
    risk = np.asarray(risk, dtype=float)
    rows = []
    for column in groups.columns:
        values = groups[column].astype(object).fillna("unknown").to_numpy()
        for value in sorted(pd.unique(values), key=str):
            mask = values == value
            n, poor = int(mask.sum()), int(y[mask].sum())
            row: dict = {"group": column, "subgroup": str(value), "n": n, "poor_outcomes": poor,
                         "observed": round(poor / n, 3) if n else None,
                         "mean_risk": round(float(risk[mask].mean()), 3) if n else None,
                         "auc": None, "auc_ci": None, "calibration_intercept": None,
                         "calibration_slope": None, "calibration_slope_ci": None}
            if n >= min_n and 0 < poor < n:
                point = point_metrics(y[mask], risk[mask])
                ci = bootstrap_intervals(y[mask], risk[mask], n_boot=n_boot, seed=seed)
                row.update({
                    "auc": round(point["auc"], 3),
                    "auc_ci": [round(v, 3) for v in ci["auc"]],
                    "calibration_intercept": round(point["calibration_intercept"], 3),
                    "calibration_slope": round(point["calibration_slope"], 3),
                    "calibration_slope_ci": [round(v, 3) for v in ci["calibration_slope"]]})
            rows.append(row)
    return rows
