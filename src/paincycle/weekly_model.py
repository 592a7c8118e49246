"""The earliest warning: one model over stacked weekly landmarks, a risk every week.

A model fitted at one landmark is miscalibrated at another (a day-90 model
scored at day 14 had a calibration slope of 0.53). Here every labelled patient
contributes one row per landmark from day 14 to day 120 (features.WEEKLY_LANDMARKS),
each built from the rows known by that day only, with the landmark itself as a
covariate: the landmarking approach of van Houwelingen (Scand J Stat 2007;34:70-85).
Folds and the calibration split are grouped by patient, so no patient's later
weeks inform the prediction of their earlier ones. The risk is prognostic
support for the clinical team, not a diagnosis.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import numpy as np
import pandas as pd
from sklearn.calibration import CalibratedClassifierCV
from sklearn.frozen import FrozenEstimator
from sklearn.model_selection import GroupShuffleSplit, StratifiedGroupKFold

from paincycle import evaluation
from paincycle import features as feat
from paincycle import model as risk_model
from paincycle.access import Permission, Principal, require
from paincycle.cohort import Cohort
from paincycle.model_metadata import ModelMetadata
from paincycle.outcomes import OutcomeDefinition, label_outcomes

#: Days the weekly model's discrimination is reported at (Risk page, docs/model.md).
REPORTED_LANDMARKS: tuple[int, ...] = (14, 30, 42, 60, 90)
#: The landmark whose out-of-fold risks stand for the model in ``metrics`` and ``evidence``.
REFERENCE_LANDMARK = 42
KIND = "logistic"


def fit_calibrated_grouped(X: pd.DataFrame, y: np.ndarray, groups: np.ndarray, seed: int = 0,
                           indicators: bool = False) -> CalibratedClassifierCV:
    """As model.fit_calibrated, with the 75/25 fit/calibration split made by patient."""
    split = GroupShuffleSplit(n_splits=1, test_size=0.25, random_state=seed)
    fit_rows, cal_rows = next(split.split(X, y, groups))
    pipeline = risk_model.build_pipeline(KIND, X, seed, indicators).fit(X.iloc[fit_rows],
                                                                         y[fit_rows])
    calibrated = CalibratedClassifierCV(FrozenEstimator(pipeline), method="sigmoid")
    return calibrated.fit(X.iloc[cal_rows], y[cal_rows])


def _training_rows(cohort: Cohort, labels: pd.DataFrame, landmarks: tuple[int, ...],
                   include_custom: bool) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    stacked = feat.stacked_features(cohort, landmarks, include_custom)
    ids = stacked.index.get_level_values("patient_id").astype(str)
    outcome_of = labels.set_index("patient_id")["poor_outcome"]
    keep = ids.isin(outcome_of.index)
    X = stacked[keep]
    groups = ids[keep].to_numpy()
    y = outcome_of.reindex(groups).to_numpy(dtype=int)
    return X, y, groups


@risk_model.single_threaded
def train_weekly(cohort: Cohort, outcome: OutcomeDefinition | None = None,
                 landmarks: tuple[int, ...] = feat.WEEKLY_LANDMARKS, seed: int = 0,
                 progress: Callable[[float, str], None] | None = None, synthetic: bool = False,
                 principal: Principal | None = None, include_custom: bool = False,
                 missing_indicators: bool = False, cohort_version: str = ""
                 ) -> risk_model.TrainedModel:
    """Fit the weekly model and evaluate it out-of-fold (grouped by patient) at each landmark.

    Raises ValueError when the follow-up window starts on or before the last landmark, or
    when too few patients are labelled. Needs TRAIN_MODEL (None = local user).
    """
    require(principal, Permission.TRAIN_MODEL)
    outcome = outcome or OutcomeDefinition()
    landmarks = tuple(sorted({int(d) for d in landmarks}))
    outcome.check_landmark(max(landmarks))  # no landmark may see the outcome
    report = progress or (lambda _f, _m: None)
    report(0.02, f"Landmark features at {len(landmarks)} weekly landmarks")
    labels = label_outcomes(cohort, outcome)
    info = risk_model.enough_labels(labels, cohort, outcome)
    X, y, groups = _training_rows(cohort, labels, landmarks, include_custom)
    columns = risk_model.usable_columns(X)
    X = X[columns]
    landmark_of = X.index.get_level_values("landmark").to_numpy()

    report(0.20, "Out-of-fold risks, folds grouped by patient")
    risk = np.zeros(len(y))
    folds = StratifiedGroupKFold(risk_model.N_FOLDS, shuffle=True, random_state=seed)
    for train_rows, test_rows in folds.split(X, y, groups):
        fitted = fit_calibrated_grouped(X.iloc[train_rows], y[train_rows], groups[train_rows],
                                        seed, missing_indicators)
        risk[test_rows] = fitted.predict_proba(X.iloc[test_rows])[:, 1]

    report(0.60, "Discrimination and calibration at each landmark")
    by_landmark = []
    for day in landmarks:
        at = landmark_of == day
        if at.sum() < risk_model.MIN_LABELLED or not 0 < y[at].sum() < at.sum():
            by_landmark.append({"landmark": int(day), "n": int(at.sum()), "auc": None})
            continue
        point = evaluation.point_metrics(y[at], risk[at])
        ci = evaluation.bootstrap_intervals(y[at], risk[at], n_boot=200, seed=seed)
        by_landmark.append({"landmark": int(day), "n": int(at.sum()),
                            "poor_outcomes": int(y[at].sum()), "auc": round(point["auc"], 4),
                            "auc_ci": [round(v, 4) for v in ci["auc"]],
                            "calibration_slope": round(point["calibration_slope"], 3),
                            "calibration_intercept": round(point["calibration_intercept"], 3)})

    reference = REFERENCE_LANDMARK if REFERENCE_LANDMARK in landmarks else landmarks[0]
    at = landmark_of == reference
    y_ref, risk_ref = y[at], risk[at]
    evidence_metrics, curves = risk_model.evidence_summary(y_ref, risk_ref, seed)
    patients = cohort.patients.set_index(cohort.patients["patient_id"].astype(str))
    ref_ids = groups[at]
    subgroups = evaluation.subgroup_table(y_ref, risk_ref, pd.DataFrame({
        "sex": patients["sex"].reindex(ref_ids).to_numpy(),
        "age band": evaluation.age_band(X.loc[at, "age"] if "age" in X else
                                        pd.Series(np.nan, index=range(at.sum()))).to_numpy(),
    }), seed=seed)

    report(0.80, "Fitting the final weekly model on all labelled patients")
    estimator = fit_calibrated_grouped(X, y, groups, seed, missing_indicators)
    metrics = evidence_metrics | {
        "auc_folds": [], "candidates": {KIND: evidence_metrics["auc"]}, "model_kind": KIND,
        "n_patients": int(cohort.n_patients), "n_unlabelled": info["n_unlabelled"],
        "outcome_measures_used": labels["measure"].value_counts().to_dict(),
    }
    metadata = {
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "cohort_name": cohort.name, "training_data_hash": risk_model.data_hash(cohort),
        "cohort_version": cohort_version or "",
        "landmark_days": int(reference), "outcome": outcome.to_dict(),
        "outcome_words": outcome.describe(), "features": columns,
        "reference": risk_model._reference(estimator, X),
        "feature_options": {"include_custom": bool(include_custom),
                            "missing_indicators": bool(missing_indicators)},
        "metrics": metrics, "curves": curves, "ablation": [], "subgroups": subgroups,
        "weekly_landmarks": list(landmarks), "by_landmark": by_landmark,
        "intended_use": risk_model.INTENDED_USE + " A risk every week from day "
                        f"{landmarks[0]} to day {landmarks[-1]}, from the data known that week."
                        + (" Trained on synthetic data." if synthetic else ""),
        "synthetic": bool(synthetic), "versions": risk_model.library_versions(),
        "seed": int(seed),
        "evidence": {"y": [int(v) for v in y_ref], "risk": [round(float(r), 6) for r in risk_ref]},
        "data_period": [str(d.date()) for d in (cohort.date_range() or ())],
        "flow": {"patients": int(cohort.n_patients),
                 "with_data_by_landmark": int(len(np.unique(groups[at]))),
                 "labelled": int(info["n_labelled"]), "unlabelled": int(info["n_unlabelled"])},
        "missing_share": {c: round(float(X[c].isna().mean()), 4) for c in columns},
        "coefficients": risk_model.coefficients(estimator),
    }
    report(1.0, "Done")
    return risk_model.TrainedModel(estimator,
                                   ModelMetadata.model_validate(risk_model._jsonable(metadata)))


def risk_over_time(model: risk_model.TrainedModel, cohort: Cohort,
                   as_of: pd.Timestamp | None = None, records_events: bool | None = None
                   ) -> pd.DataFrame:
    """Each patient's weekly risk: one row per (patient_id, landmark, date, risk) for every
    landmark the patient has reached by ``as_of`` (default: the cohort's latest record) and
    has data by. Each week's risk reads only the rows known that week. For a few patients
    sliced from a version, pass the version's ``as_of`` and ``records_events``."""
    if not model.metadata.weekly_landmarks:
        raise ValueError("this model has one landmark; risk over time needs the weekly model")
    if as_of is None:
        span = cohort.date_range()
        as_of = span[1] if span else pd.Timestamp.now().normalize()
    intake = cohort.patients.set_index(cohort.patients["patient_id"].astype(str))["intake_date"]
    reached = (pd.Timestamp(as_of) - intake).dt.days
    landmarks = tuple(d for d in model.metadata.weekly_landmarks if d <= reached.max())
    empty = pd.DataFrame(columns=["patient_id", "landmark", "date", "risk"])
    if not landmarks:
        return empty
    X = feat.stacked_features(cohort, landmarks, model.include_custom, records_events)
    if X.empty:
        return empty
    ids = X.index.get_level_values("patient_id").astype(str)
    day = X.index.get_level_values("landmark").to_numpy()
    keep = day <= reached.reindex(ids).to_numpy()
    X = X[keep]
    if X.empty:
        return empty
    absent = [c for c in model.feature_names if c not in X.columns]
    X = X.assign(**{c: np.nan for c in absent}) if absent else X
    ids, day = ids[keep], day[keep]
    return pd.DataFrame({
        "patient_id": ids.to_numpy(), "landmark": day.astype(int),
        "date": (intake.reindex(ids).to_numpy() + pd.to_timedelta(day, unit="D")),
        "risk": model.predict_risk(X)}).reset_index(drop=True)
