"""The risk model: train, evaluate honestly, persist safely, explain, flag.

One scikit-learn Pipeline holds everything learned (imputation, scaling,
encoding, classifier), wrapped in a sigmoid calibration fitted on held-out
patients, so training and scoring cannot drift apart. Logistic regression and
histogram gradient boosting are compared by cross-validated AUC; the simpler
one is kept unless boosting is clearly better.

Every reported metric comes from out-of-fold predictions of the whole
procedure (fit, calibrate, predict on patients the model never saw). The risk
is prognostic support for the clinical team, not a diagnosis.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import platform
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import wraps
from pathlib import Path

import numpy as np
import pandas as pd
from pydantic import ValidationError
from sklearn.calibration import CalibratedClassifierCV
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.frozen import FrozenEstimator
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, train_test_split
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from threadpoolctl import threadpool_limits

from paincycle import evaluation, outcomes
from paincycle import features as feat
from paincycle.access import Permission, Principal, require
from paincycle.cohort import Cohort
from paincycle.model_metadata import ModelMetadata
from paincycle.outcomes import OutcomeDefinition, label_outcomes
from paincycle.outcomes import summary as outcome_summary
from paincycle.risks import (  # noqa: F401 - the light half of the model, re-exported
    DEFAULT_FLAG_SHARE,
    DISCLAIMER,
    Scores,
    file_id,
    flag_threshold,
    risk_percent,
    risk_words,
)

INTENDED_USE = ("Prognostic support for a multidisciplinary pain team, not a diagnosis: the "
                "risk ranks patients for case review and never replaces clinical judgement.")
#: Keep gradient boosting only when its cross-validated AUC beats logistic regression by this.
SIMPLER_MARGIN = 0.01
MIN_LABELLED = 40
MIN_PER_CLASS = 10
N_FOLDS = 5

#: The only types a model file may hold beyond skops' defaults. Anything else
#: (a foreign class, a function) makes loading refuse the file.
ALLOWED_TYPES: frozenset[str] = frozenset({
    "numpy.dtype",
    "sklearn.calibration._CalibratedClassifier",
    "sklearn.calibration._SigmoidCalibration",
    "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
})


class UntrustedModelError(ValueError):
    """A model file holding types outside ALLOWED_TYPES: refused, never loaded."""


# --------------------------------------------------------------------------- building


def single_threaded(func):
    """Run with one OpenMP/BLAS thread: on a shared server, gradient boosting's threads
    fight other work and run an order of magnitude slower than one thread alone."""

    @wraps(func)
    def wrapper(*args, **kwargs):
        with threadpool_limits(limits=1):
            return func(*args, **kwargs)

    return wrapper


def _columns(X: pd.DataFrame) -> tuple[list[str], list[str]]:
    categorical = [c for c in X.columns if c in feat.CATEGORICAL]
    numeric = [c for c in X.columns if c not in feat.CATEGORICAL]
    return numeric, categorical


def build_pipeline(kind: str, X: pd.DataFrame, random_state: int = 0,
                   missing_indicators: bool = False) -> Pipeline:
    """Imputation + scaling / one-hot, then a well-regularised classifier ('logistic' or 'hgb').

    With ``missing_indicators`` the imputer adds a 0/1 column per numeric feature that has
    gaps (``missingindicator_<name>`` in get_feature_names_out): in registries, who did not
    answer a questionnaire carries signal of its own.
    """
    numeric, categorical = _columns(X)
    prep = ColumnTransformer(
        [("num", Pipeline([("impute", SimpleImputer(strategy="mean",
                                                    add_indicator=missing_indicators)),
                           ("scale", StandardScaler())]), numeric),
         ("cat", Pipeline([("impute", SimpleImputer(strategy="constant", fill_value="missing")),
                           ("onehot", OneHotEncoder(handle_unknown="ignore", min_frequency=10,
                                                    sparse_output=False))]), categorical)],
        verbose_feature_names_out=False,
    )
    if kind == "logistic":
        clf = LogisticRegression(C=0.05, max_iter=5000)
    elif kind == "hgb":
        clf = HistGradientBoostingClassifier(learning_rate=0.05, max_iter=150, max_leaf_nodes=15,
                                             min_samples_leaf=30, l2_regularization=1.0,
                                             early_stopping=False, random_state=random_state)
    else:
        raise ValueError(f"unknown model kind {kind!r}: use 'logistic' or 'hgb'")
    return Pipeline([("prep", prep), ("clf", clf)]).set_output(transform="pandas")


def fit_calibrated(kind: str, X: pd.DataFrame, y: np.ndarray, random_state: int = 0,
                   indicators: bool = False) -> CalibratedClassifierCV:
    """Fit on 75% of the patients, calibrate (sigmoid) on the other 25%."""
    X_fit, X_cal, y_fit, y_cal = train_test_split(X, y, test_size=0.25, stratify=y,
                                                  random_state=random_state)
    pipeline = build_pipeline(kind, X, random_state, indicators).fit(X_fit, y_fit)
    calibrated = CalibratedClassifierCV(FrozenEstimator(pipeline), method="sigmoid")
    return calibrated.fit(X_cal, y_cal)


def usable_columns(X: pd.DataFrame) -> list[str]:
    """Features with at least some values in the training data (all-missing ones teach nothing)."""
    return [c for c in X.columns if X[c].notna().any()]


def _oof(kind: str, X: pd.DataFrame, y: np.ndarray, calibrated: bool, seed: int,
         indicators: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Out-of-fold predictions and the fold number of each patient."""
    risk = np.zeros(len(y))
    fold_of = np.zeros(len(y), dtype=int)
    folds = StratifiedKFold(N_FOLDS, shuffle=True, random_state=seed)
    for k, (train, test) in enumerate(folds.split(X, y)):
        if calibrated:
            model = fit_calibrated(kind, X.iloc[train], y[train], seed, indicators)
        else:
            model = build_pipeline(kind, X, seed, indicators).fit(X.iloc[train], y[train])
        risk[test] = model.predict_proba(X.iloc[test])[:, 1]
        fold_of[test] = k
    return risk, fold_of


def choose_kind(X: pd.DataFrame, y: np.ndarray, kinds: tuple[str, ...], seed: int,
                indicators: bool = False) -> tuple[str, dict[str, float]]:
    """The model kind to fit: logistic regression unless boosting's cross-validated AUC beats it
    by SIMPLER_MARGIN; with every candidate's AUC."""
    candidates = {kind: _auc_or_nan(y, _oof(kind, X, y, calibrated=False, seed=seed,
                                            indicators=indicators)[0])
                  for kind in kinds}
    chosen = "logistic" if "logistic" in candidates else kinds[0]
    if "hgb" in candidates and candidates["hgb"] > candidates.get("logistic", -1) + SIMPLER_MARGIN:
        chosen = "hgb"
    return chosen, candidates


def nested_oof(X: pd.DataFrame, y: np.ndarray, kinds: tuple[str, ...], seed: int,
               indicators: bool = False) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Out-of-fold risks of the whole procedure: in each outer fold the kind is chosen by
    cross-validation on the training part alone, then fitted and calibrated there, so the
    reported performance includes the model choice (no optimism from choosing on the test folds).
    Returns the risks, each patient's fold and the kind chosen in each fold."""
    risk = np.zeros(len(y))
    fold_of = np.zeros(len(y), dtype=int)
    chosen_in: list[str] = []
    folds = StratifiedKFold(N_FOLDS, shuffle=True, random_state=seed)
    for k, (train, test) in enumerate(folds.split(X, y)):
        kind, _ = (choose_kind(X.iloc[train], y[train], kinds, seed, indicators)
                   if len(kinds) > 1 else (kinds[0], {}))
        model = fit_calibrated(kind, X.iloc[train], y[train], seed, indicators)
        risk[test] = model.predict_proba(X.iloc[test])[:, 1]
        fold_of[test] = k
        chosen_in.append(kind)
    return risk, fold_of, chosen_in


# --------------------------------------------------------------------------- metrics


def _auc_or_nan(y: np.ndarray, risk: np.ndarray) -> float:
    return evaluation.auc(y, risk)


def ablation_table(X: pd.DataFrame, y: np.ndarray, kind: str, seed: int, indicators: bool,
                   full_auc: float) -> list[dict]:
    """Out-of-fold AUC of each feature block (features.ABLATION_BLOCKS) and of the full model
    with missing-value indicators switched the other way; every row fitted and calibrated the
    same way as the final model, on the same folds, so the rows compare like with like."""
    rows = [{"features": "full model", "n_features": len(X.columns), "auc": round(full_auc, 3),
             "note": "nested evaluation, model choice included"}]
    blocks = [(name, [c for c in subset if c in X.columns], indicators)
              for name, subset in feat.ABLATION_BLOCKS]
    other = "with" if not indicators else "without"
    blocks.append((f"full model {other} missing-value indicators", list(X.columns),
                   not indicators))
    for name, cols, use_indicators in blocks:
        if not cols:
            rows.append({"features": name, "n_features": 0, "auc": None,
                         "note": "none of these features are in this cohort at this landmark"})
            continue
        risk, _ = _oof(kind, X[cols], y, calibrated=True, seed=seed, indicators=use_indicators)
        point = evaluation.point_metrics(y, risk)
        rows.append({"features": name, "n_features": len(cols), "auc": round(point["auc"], 3),
                     "calibration_slope": round(point["calibration_slope"], 3),
                     "note": f"{kind}, calibrated, same folds"})
    return rows


#: Withdrawal signals compared between patients with and without a label.
WITHDRAWAL_COMPARED = ("withdrawal_index", "missed_appointment_share", "appointments_missed",
                       "data_missing_share")
#: Smallest propensity used in inverse-probability weights (larger weights add noise, not truth).
MIN_PROPENSITY = 0.05
IPW_NOTE = ("Training is not weighted. The weights come from the same landmark features the model "
            "already uses, so under missing-at-random given those features weighting changes the "
            "fit little and adds variance; the weighted evaluation shows whether that holds here. "
            "If patients were lost for reasons the features do not see, no weighting can fix it: "
            "read the non-responder row as the other extreme, every lost patient assumed a poor outcome.")


def follow_up_sensitivity(cohort: Cohort, outcome: OutcomeDefinition, X_all: pd.DataFrame,
                          columns: list[str], kind: str, seed: int, indicators: bool) -> dict:
    """Who has no label and how they differ, and the performance three ways: complete cases,
    complete cases inverse-probability weighted to stand for everyone whose follow-up was due,
    and loss to follow-up counted as a poor outcome (non-responder imputation). Each fitted
    and calibrated like the final model, out-of-fold."""
    status = outcomes.follow_up_status(cohort, outcome)
    X = X_all.reindex(status.index)
    compared = [c for c in WITHDRAWAL_COMPARED if c in X.columns]
    groups = []
    for name in (outcomes.LABELLED, outcomes.LOST, outcomes.NOT_YET_DUE, outcomes.NO_BASELINE):
        members = X[status.to_numpy() == name]
        groups.append({"status": name, "n": int(len(members)), **{
            c: (round(float(members[c].mean()), 3) if len(members) and members[c].notna().any()
                else None) for c in compared}})
    rows = []

    def evaluated(name: str, labels: pd.DataFrame) -> np.ndarray | None:
        y = labels["poor_outcome"].to_numpy(dtype=int)
        if len(y) < MIN_LABELLED or min(int(y.sum()), int(len(y) - y.sum())) < MIN_PER_CLASS:
            rows.append({"analysis": name, "n": int(len(y)), "poor_outcomes": int(y.sum()),
                         "auc": None, "calibration_slope": None, "calibration_intercept": None})
            return None
        risk, _ = _oof(kind, X_all.loc[labels["patient_id"], columns], y, calibrated=True,
                       seed=seed, indicators=indicators)
        point = evaluation.point_metrics(y, risk)
        rows.append({"analysis": name, "n": int(len(y)), "poor_outcomes": int(y.sum()),
                     **{k: round(point[k], 3) for k in
                        ("auc", "calibration_slope", "calibration_intercept")}})
        return risk

    complete = label_outcomes(cohort, outcome.complete_cases)
    risk = evaluated("complete cases (lost to follow-up left out)", complete)
    n_lost = int((status == outcomes.LOST).sum())
    if risk is not None and n_lost >= MIN_PER_CLASS:
        due = status[status.isin([outcomes.LABELLED, outcomes.LOST])]
        labelled = (due == outcomes.LABELLED).to_numpy(dtype=int)
        propensity, _ = _oof("logistic", X_all.loc[due.index, columns], labelled,
                             calibrated=False, seed=seed, indicators=True)
        by_id = pd.Series(propensity, index=due.index)
        weights = 1 / np.clip(by_id.reindex(complete["patient_id"]).to_numpy(), MIN_PROPENSITY, 1)
        y = complete["poor_outcome"].to_numpy(dtype=int)
        point = evaluation.point_metrics(y, risk, weights)
        rows.append({"analysis": "complete cases, inverse-probability weighted",
                     "n": int(len(y)), "poor_outcomes": int(y.sum()),
                     **{k: round(point[k], 3) for k in
                        ("auc", "calibration_slope", "calibration_intercept")}})
    if n_lost:
        evaluated("lost to follow-up counted as poor (non-responder imputation)",
                  label_outcomes(cohort, dataclasses.replace(
                      outcome, missing_follow_up=outcomes.LOST_AS_POOR)))
    return {"groups": groups, "sensitivity": rows, "n_lost": n_lost, "ipw_note": IPW_NOTE}


def leave_one_site_out(X: pd.DataFrame, y: np.ndarray, site: np.ndarray, kind: str, seed: int,
                       indicators: bool) -> list[dict]:
    """Fit on every other site, validate on each site in turn: how the model travels to a
    clinic it never saw. Empty with fewer than two sites; a site too small or with one
    outcome is counted without metrics."""
    site = pd.Series(site).astype(object).fillna("unknown").to_numpy()
    names = sorted(pd.unique(site), key=str)
    if len(names) < 2:
        return []
    rows = []
    for name in names:
        test = site == name
        train, n, poor = ~test, int(test.sum()), int(y[test].sum())
        row: dict = {"site": str(name), "n": n, "poor_outcomes": poor, "auc": None,
                     "calibration_intercept": None, "calibration_slope": None}
        y_train = y[train]
        if (n >= evaluation.MIN_SUBGROUP and 0 < poor < n
                and min(int(y_train.sum()), int(len(y_train) - y_train.sum())) >= MIN_PER_CLASS):
            model = fit_calibrated(kind, X[train], y_train, seed, indicators)
            point = evaluation.point_metrics(y[test], model.predict_proba(X[test])[:, 1])
            row.update({k: round(point[k], 3) for k in
                        ("auc", "calibration_intercept", "calibration_slope")})
        rows.append(row)
    return rows


# --------------------------------------------------------------------------- training


@dataclass
class TrainedModel:
    """A calibrated model plus everything needed to score, explain and describe it."""

    estimator: CalibratedClassifierCV
    metadata: ModelMetadata
    #: What load() found doubtful but not fatal (e.g. the JSON beside the file was edited).
    warnings: tuple[str, ...] = ()

    @property
    def feature_names(self) -> list[str]:
        return list(self.metadata.features)

    @property
    def landmark_days(self) -> int:
        return int(self.metadata.landmark_days)

    @property
    def outcome(self) -> OutcomeDefinition:
        return OutcomeDefinition.from_dict(self.metadata.outcome)

    @property
    def pipeline(self) -> Pipeline:
        """The fitted (uncalibrated) pipeline inside the calibration wrapper."""
        return self.estimator.calibrated_classifiers_[0].estimator.estimator

    @property
    def include_custom(self) -> bool:
        return bool(self.metadata.feature_options.get("include_custom", False))

    def features_for(self, cohort: Cohort, landmark_days: int | None = None,
                     records_events: bool | None = None) -> pd.DataFrame:
        """The landmark features this model reads, built as at training (custom measures
        included when it used them); a feature this cohort lacks is a gap, not an error.
        ``records_events``: as features.landmark_features (pass the version's, for a slice)."""
        landmark = self.landmark_days if landmark_days is None else int(landmark_days)
        return self.with_every_feature(feat.landmark_features(
            cohort, landmark, include_custom=self.include_custom, records_events=records_events))

    def with_every_feature(self, X: pd.DataFrame) -> pd.DataFrame:
        """``X`` with each feature this model reads that the cohort lacks, as a gap."""
        absent = [c for c in self.feature_names if c not in X.columns]
        return X.assign(**{c: np.nan for c in absent}) if absent else X

    def predict_risk(self, X: pd.DataFrame) -> np.ndarray:
        return self.estimator.predict_proba(X[self.feature_names])[:, 1]


def training_table(cohort: Cohort, outcome: OutcomeDefinition, landmark_days: int,
                   include_custom: bool = False) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Landmark features of every patient and the labels of those who have one."""
    X_all = feat.landmark_features(cohort, landmark_days, include_custom=include_custom)
    labels = label_outcomes(cohort, outcome)
    return X_all, labels


def enough_labels(labels: pd.DataFrame, cohort: Cohort, outcome: OutcomeDefinition) -> dict:
    """The outcome summary; ValueError naming the counts when there is too little to train."""
    info = outcome_summary(labels, cohort.n_patients)
    n_poor, n_good = info["n_poor"], info["n_labelled"] - info["n_poor"]
    if info["n_labelled"] < MIN_LABELLED or min(n_poor, n_good) < MIN_PER_CLASS:
        raise ValueError(
            f"too few labelled patients to train: {info['n_labelled']} have both a baseline and "
            f"a follow-up ({n_poor} poor, {n_good} good outcomes); at least {MIN_LABELLED}, with "
            f"{MIN_PER_CLASS} of each, are needed. Outcome: {outcome.describe()}")
    return info


def evidence_summary(y: np.ndarray, risk: np.ndarray, seed: int,
                     extra_thresholds: tuple[float, ...] = ()) -> tuple[dict, dict]:
    """The metrics (with bootstrap intervals) and curves of out-of-fold risks, as ModelMetadata
    stores them: one definition for every model PainCycle trains."""
    point = evaluation.point_metrics(y, risk)
    intervals = evaluation.bootstrap_intervals(y, risk, seed=seed)
    metrics = {
        "auc": round(point["auc"], 4), "auc_ci": [round(v, 4) for v in intervals["auc"]],
        "brier": round(point["brier"], 4), "scaled_brier": round(point["scaled_brier"], 4),
        "scaled_brier_ci": [round(v, 4) for v in intervals["scaled_brier"]],
        "calibration_intercept": round(point["calibration_intercept"], 3),
        "calibration_intercept_ci": [round(v, 3) for v in intervals["calibration_intercept"]],
        "calibration_slope": round(point["calibration_slope"], 3),
        "calibration_slope_ci": [round(v, 3) for v in intervals["calibration_slope"]],
        "n_train": int(len(y)), "n_poor": int(np.sum(y)),
        "prevalence": round(float(np.mean(y)), 4),
    }
    thresholds = evaluation.decision_thresholds(y, risk, extra=(flag_threshold(risk),
                                                                *extra_thresholds))
    curves = {"roc": evaluation.roc_points(y, risk),
              "calibration": evaluation.calibration_bins(y, risk),
              "calibration_smooth": evaluation.smoothed_calibration(y, risk),
              "decision": evaluation.net_benefit(y, risk, thresholds),
              "thresholds": [evaluation.at_threshold(y, risk, t) for t in thresholds]}
    return metrics, curves


def data_hash(cohort: Cohort) -> str:
    """A content hash of the three tables, for the model card."""
    digest = hashlib.sha256()
    for frame in (cohort.patients, cohort.observations, cohort.events):
        digest.update(pd.util.hash_pandas_object(frame.astype(str), index=False).to_numpy().tobytes())
    return digest.hexdigest()


@single_threaded
def train(cohort: Cohort, outcome: OutcomeDefinition | None = None,
          landmark_days: int = feat.DEFAULT_LANDMARK_DAYS, seed: int = 0,
          progress: Callable[[float, str], None] | None = None, synthetic: bool = False,
          kinds: tuple[str, ...] = ("logistic", "hgb"),
          principal: Principal | None = None, include_custom: bool = False,
          missing_indicators: bool = False, cohort_version: str = "") -> TrainedModel:
    """Train, compare, evaluate out-of-fold and calibrate; raise ValueError if there is too little data.

    ``include_custom`` adds every custom measure's baseline as a feature (a registry's
    strongest predictors are often measures PainCycle has no entry for); ``missing_indicators``
    adds a 0/1 column per feature with gaps. Retraining changes whom the team reviews, so it
    needs TRAIN_MODEL (None = local user).
    """
    require(principal, Permission.TRAIN_MODEL)
    outcome = outcome or OutcomeDefinition()
    outcome.check_landmark(landmark_days)  # the outcome must not be known at the landmark
    report = progress or (lambda _f, _m: None)
    report(0.02, "Computing landmark features and outcome labels")
    X_all, labels = training_table(cohort, outcome, landmark_days, include_custom)
    info = enough_labels(labels, cohort, outcome)
    X = X_all.loc[labels["patient_id"]]
    columns = usable_columns(X)
    X = X[columns]
    y = labels["poor_outcome"].to_numpy(dtype=int)

    report(0.10, "Comparing logistic regression and gradient boosting (5-fold CV)")
    chosen, candidates = choose_kind(X, y, kinds, seed, indicators=missing_indicators)

    report(0.30, "Evaluating the whole procedure, model choice included, on held-out folds")
    risk, fold_of, chosen_in_folds = nested_oof(X, y, kinds, seed, indicators=missing_indicators)
    fold_aucs = [_auc_or_nan(y[fold_of == k], risk[fold_of == k]) for k in range(N_FOLDS)]
    report(0.45, "Bootstrap intervals for discrimination and calibration")
    evidence_metrics, curves = evidence_summary(y, risk, seed)

    report(0.55, "Ablation: each feature block fitted and calibrated like the full model")
    ablation = ablation_table(X, y, chosen, seed, missing_indicators, evidence_metrics["auc"])

    patients = cohort.patients.set_index(cohort.patients["patient_id"].astype(str))
    site = (patients["site"].reindex(labels["patient_id"]).to_numpy()
            if "site" in patients else np.full(len(labels), None))
    groups = pd.DataFrame({
        "sex": patients["sex"].reindex(labels["patient_id"]).to_numpy(),
        "age band": evaluation.age_band(X_all.loc[labels["patient_id"], "age"]).to_numpy(),
        "site": site,
    })
    report(0.65, "Loss to follow-up: who is missing, and the results three ways")
    lost = follow_up_sensitivity(cohort, outcome, X_all, columns, chosen, seed,
                                 missing_indicators)
    report(0.70, "Leave-one-site-out validation")
    by_site = leave_one_site_out(X, y, site, chosen, seed, missing_indicators)

    report(0.80, "Fitting the final model on all labelled patients")
    estimator = fit_calibrated(chosen, X, y, seed, indicators=missing_indicators)
    reference = _reference(estimator, X)
    metrics = evidence_metrics | {
        "auc_folds": [round(a, 4) for a in fold_aucs],
        "candidates": {k: round(v, 4) for k, v in candidates.items()},
        "model_kind": chosen, "kinds_chosen_in_folds": chosen_in_folds,
        "n_patients": int(cohort.n_patients), "n_unlabelled": info["n_unlabelled"],
        "outcome_measures_used": labels["measure"].value_counts().to_dict(),
    }
    metadata = {
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "cohort_name": cohort.name, "training_data_hash": data_hash(cohort),
        "cohort_version": cohort_version or "",
        "landmark_days": int(landmark_days), "outcome": outcome.to_dict(),
        "outcome_words": outcome.describe(), "features": columns, "reference": reference,
        "feature_options": {"include_custom": bool(include_custom),
                            "missing_indicators": bool(missing_indicators)},
        "metrics": metrics,
        "curves": curves,
        "ablation": ablation, "subgroups": evaluation.subgroup_table(y, risk, groups, seed=seed),
        "leave_one_site_out": by_site, "loss_to_follow_up": lost,
        "intended_use": INTENDED_USE + (" Trained on synthetic data." if synthetic else ""),
        "synthetic": bool(synthetic), "versions": library_versions(), "seed": int(seed),
        "evidence": {"y": [int(v) for v in y], "risk": [round(float(r), 6) for r in risk]},
        "data_period": [str(d.date()) for d in (cohort.date_range() or ())],
        "flow": {"patients": int(cohort.n_patients),
                 "with_data_by_landmark": int(len(feat.landmark_cut(cohort, landmark_days)
                                                  .observations["patient_id"].unique())),
                 "labelled": int(len(y)), "unlabelled": int(info["n_unlabelled"])},
        "missing_share": {c: round(float(X[c].isna().mean()), 4) for c in columns},
        "coefficients": coefficients(estimator),
    }
    report(1.0, "Done")
    return TrainedModel(estimator, ModelMetadata.model_validate(_jsonable(metadata)))


def coefficients(estimator: CalibratedClassifierCV) -> list[dict]:
    """A logistic model's coefficients per standardised input (get_feature_names_out), largest
    first; empty for gradient boosting, which has none (the card points to the ablation)."""
    pipeline = estimator.calibrated_classifiers_[0].estimator.estimator
    clf = pipeline.named_steps["clf"]
    if not hasattr(clf, "coef_"):
        return []
    names = pipeline.named_steps["prep"].get_feature_names_out()
    rows = [{"input": str(n), "coefficient": round(float(c), 4)}
            for n, c in zip(names, clf.coef_[0], strict=True)]
    return sorted(rows, key=lambda r: -abs(r["coefficient"]))


def _reference(estimator: CalibratedClassifierCV, X: pd.DataFrame) -> dict:
    """The 'average patient' explanations compare with: the means the imputer learned
    (standardised value 0) and the most frequent category."""
    prep = estimator.calibrated_classifiers_[0].estimator.estimator.named_steps["prep"]
    numeric_cols = prep.transformers_[0][2]
    means = prep.named_transformers_["num"].named_steps["impute"].statistics_
    reference: dict = {c: float(v) for c, v in zip(numeric_cols, means, strict=True)}
    for c in X.columns:
        if c in feat.CATEGORICAL:
            reference[c] = X[c].mode().iloc[0] if X[c].notna().any() else None
    return reference


def library_versions() -> dict[str, str]:
    import sklearn
    import skops

    return {"python": platform.python_version(), "scikit-learn": sklearn.__version__,
            "skops": skops.__version__, "pandas": pd.__version__, "numpy": np.__version__}


def _jsonable(value):
    """Plain JSON types only, so metadata survives skops and the JSON sidecar unchanged."""
    return json.loads(json.dumps(value, default=lambda v: v.item() if hasattr(v, "item") else str(v)))


# --------------------------------------------------------------------------- scoring


@single_threaded
def score(model: TrainedModel, cohort: Cohort, landmark_days: int | None = None,
          threshold: float | None = None, as_of: pd.Timestamp | None = None,
          explain: bool = True, n_factors: int = 3,
          computed: tuple[pd.DataFrame, pd.Series] | None = None) -> Scores:
    """Risk, flag and top factors for every patient with data by the landmark.

    Skipped: patients with no score on or before the landmark, and patients whose
    landmark is after ``as_of`` (default: the cohort's latest record). ``computed``: the
    features of every patient and each patient's first day with a score, from an engine
    over the stored version (paincycle.engine.queries), instead of from ``cohort``'s rows.
    """
    landmark = model.landmark_days if landmark_days is None else int(landmark_days)
    if computed is None:
        X_all = model.features_for(cohort, landmark)
        cut = feat.landmark_cut(cohort, landmark)
        has_data = {str(pid) for pid in cut.observations["patient_id"].unique()}
    else:
        X_all, first_day = model.with_every_feature(computed[0]), computed[1]
        has_data = set(first_day.index[first_day <= landmark].astype(str))
    if as_of is None:
        span = cohort.date_range()
        as_of = span[1] if span else pd.Timestamp.now().normalize()
    intake = cohort.patients.set_index(cohort.patients["patient_id"].astype(str))["intake_date"]
    not_yet = intake + pd.Timedelta(days=landmark) > pd.Timestamp(as_of)
    reasons = pd.Series(None, index=X_all.index, dtype=object)
    reasons[~X_all.index.isin(list(has_data))] = f"no scores on or before day {landmark}"
    reasons[not_yet.reindex(X_all.index).fillna(False).to_numpy(dtype=bool)] = (
        f"not yet at the day-{landmark} landmark")
    skipped = reasons.dropna().rename("reason").rename_axis("patient_id").reset_index()
    X = X_all.loc[reasons.isna()]
    if X.empty:
        empty = pd.DataFrame(columns=["patient_id", "risk", "flagged", "top_factors"])
        return Scores(empty, skipped, threshold if threshold is not None else 1.0)
    risk = model.predict_risk(X)
    cut_at = flag_threshold(risk) if threshold is None else float(threshold)
    table = pd.DataFrame({"patient_id": X.index.astype(str), "risk": risk,
                          "flagged": (risk >= cut_at).astype(int)})
    if explain:
        table["top_factors"] = top_factors(model, X, landmark, n_factors)
    else:
        table["top_factors"] = ""
    return Scores(table.reset_index(drop=True), skipped, cut_at)


# --------------------------------------------------------------------------- explanations


#: Patients explained per call to the model (see contributions).
EXPLAIN_BLOCK = 1_000
#: Patients whose feature values are held as records at once while their reasons are worded.
RECORD_BLOCK = 10_000


@single_threaded
def contributions(model: TrainedModel, X: pd.DataFrame) -> pd.DataFrame:
    """Per patient and feature, how much the feature moves the risk (log-odds) from the reference.

    Occlusion: the feature is replaced by the training reference (mean, or most
    frequent category) and the change in the model's log-odds is its contribution.
    For logistic regression this is exactly coefficient x standardised distance
    from the average patient; for gradient boosting it reads the trees as they are.
    """
    X = X[model.feature_names]
    if len(X) > EXPLAIN_BLOCK:  # bounded memory: each block is (features + 1) copies of itself
        return pd.concat([contributions(model, X.iloc[start:start + EXPLAIN_BLOCK])
                          for start in range(0, len(X), EXPLAIN_BLOCK)])
    columns = model.feature_names
    # One call to the model for every patient and every occluded feature (a calibrated
    # model costs tens of milliseconds a call, whatever the number of rows).
    copies = [X]
    for column in columns:
        ref = model.metadata.reference.get(column)
        occluded = X.copy()
        occluded[column] = ref if ref is not None else np.nan
        copies.append(occluded)
    stacked = pd.concat(copies, ignore_index=True)
    for column in feat.CATEGORICAL:
        if column in stacked:
            stacked[column] = stacked[column].astype(object)
    p = np.clip(model.pipeline.predict_proba(stacked)[:, 1], 1e-9, 1 - 1e-9)
    log_odds = np.log(p / (1 - p)).reshape(len(columns) + 1, len(X))
    return pd.DataFrame((log_odds[0] - log_odds[1:]).T, index=X.index, columns=columns)


def top_factors(model: TrainedModel, X: pd.DataFrame, landmark_days: int, n: int = 3) -> list[str]:
    """For each patient, the features pushing risk up and down most, each phrased in the
    clinic's direction ("low ... at intake (29) raises risk"), joined by " | ".

    The ranking is done on plain arrays (a Series per patient cost ~4 ms: 400 s for a
    100,000-patient import); only the chosen factors are put into words.
    """
    contrib = contributions(model, X)
    reference = model.metadata.reference
    columns = np.asarray(contrib.columns, dtype=object)
    values_of = X.reindex(columns=list(columns))
    present = values_of.notna().to_numpy()
    effect = contrib.to_numpy(dtype="float64")
    texts = []
    records: list[dict] = []
    for i in range(len(effect)):
        if i % RECORD_BLOCK == 0:  # every patient's record at once: 4 GB at 1,000,000 patients
            records = X.iloc[i:i + RECORD_BLOCK].to_dict("records")
        mine = np.where(present[i], effect[i], np.nan)
        ups = np.flatnonzero(mine > 0.01)
        downs = np.flatnonzero(mine < -0.01)
        ups = ups[np.argsort(-mine[ups], kind="stable")][:n]
        downs = downs[np.argsort(mine[downs], kind="stable")][:max(1, n - 1)]
        values = records[i % RECORD_BLOCK]  # a plain dict: a Series per patient costs 40 µs
        parts = [feat.describe_effect(columns[j], values, reference.get(columns[j]),
                                      float(mine[j]), landmark_days) for j in (*ups, *downs)]
        texts.append(" | ".join(parts) if parts else "no single factor stands out")
    return texts


# --------------------------------------------------------------------------- persistence


#: The sidecar's key for the hash of the model file it describes.
FILE_HASH_KEY = "model_file_sha256"


def save(model: TrainedModel, path: str | Path) -> Path:
    """Write the model (skops), a JSON sidecar with its metadata and the file's SHA-256, and a
    model card (.md) naming that hash."""
    import skops.io as sio  # imported here: slow to import, and only saving/loading needs it

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    sio.dump({"estimator": model.estimator, "metadata": model.metadata.model_dump_json()}, tmp)
    tmp.replace(path)
    sidecar = {FILE_HASH_KEY: file_sha256(path), **json.loads(model.metadata.model_dump_json())}
    path.with_suffix(".json").write_text(json.dumps(sidecar, indent=2) + "\n")
    write_model_card(model, path.with_suffix(".md"), file_hash=sidecar[FILE_HASH_KEY])
    return path


def file_sha256(path: str | Path) -> str:
    """The SHA-256 of a file's bytes, in hex."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


#: How far a stated metric may be from its recomputed value (the metadata rounds them).
EVIDENCE_TOLERANCE = {"auc": 6e-4, "brier": 6e-4, "prevalence": 6e-4, "scaled_brier": 6e-3,
                      "calibration_intercept": 6e-3, "calibration_slope": 6e-3}


def check_evidence(metadata: ModelMetadata, name: str = "the model") -> bool:
    """Recompute the stated metrics from the file's own out-of-fold predictions.

    A mismatch raises UntrustedModelError naming the metric (a rewritten AUC is
    refused, never shown). Returns False when the file carries no evidence
    (older files): its numbers cannot be checked, and the Risk page says so.
    """
    evidence = metadata.evidence
    if evidence is None:
        return False
    y = np.asarray(evidence.y, dtype=int)
    risk = np.asarray(evidence.risk, dtype=float)
    m = metadata.metrics
    if len(y) != len(risk) or len(y) != m.n_train or int(y.sum()) != m.n_poor:
        raise UntrustedModelError(f"{name} states {m.n_train} labelled patients ({m.n_poor} poor) "
                                  "but its own evidence does not: it is not loaded")
    intercept, slope = evaluation.calibration_intercept_slope(y, risk)
    recomputed = {"auc": _auc_or_nan(y, risk), "brier": evaluation.brier(y, risk),
                  "prevalence": float(y.mean()), "calibration_intercept": intercept,
                  "calibration_slope": slope}
    if m.scaled_brier is not None:
        recomputed["scaled_brier"] = evaluation.scaled_brier(y, risk)
    for metric, value in recomputed.items():
        stated = float(getattr(m, metric))
        if not abs(stated - value) <= EVIDENCE_TOLERANCE[metric]:
            raise UntrustedModelError(
                f"{name} states {metric.replace('_', ' ')} {stated:.3f}, but its own out-of-fold "
                f"predictions give {value:.3f}: the file was changed after training and is not "
                "loaded")
    return True


def _sidecar_warnings(path: Path, metadata: ModelMetadata) -> tuple[str, ...]:
    """Compare the JSON beside the file with the file: an edited copy is flagged, never used."""
    sidecar = path.with_suffix(".json")
    if not sidecar.exists():
        return ()
    try:
        described = json.loads(sidecar.read_text())
        stated_hash = described.pop(FILE_HASH_KEY, None)
        same = ModelMetadata.model_validate(described) == metadata
    except (OSError, ValueError, TypeError, AttributeError):
        stated_hash, same = None, False
    problems = []
    if stated_hash is not None and stated_hash != file_sha256(path):
        problems.append(f"{sidecar.name} describes another model file (its SHA-256 differs)")
    if not same:
        problems.append(f"{sidecar.name} does not match the model file's own description; the "
                        "file's own is shown")
    return tuple(problems)


#: A PainCycle model file is about 1 MB; these bound what a hostile file can make us unpack.
MAX_MODEL_FILE_BYTES = 64 * 1024**2
MAX_MODEL_UNPACKED_BYTES = 256 * 1024**2


def check_model_archive(path: Path) -> None:
    """Refuse a model file too big, or declaring members too big, before skops unpacks anything.

    skops reads its schema.json in full; a small file holding a zip-bombed schema
    would otherwise take gigabytes before the allow-list could refuse it.
    """
    if path.stat().st_size > MAX_MODEL_FILE_BYTES:
        raise UntrustedModelError(f"{path.name} is larger than any PainCycle model "
                                  f"({MAX_MODEL_FILE_BYTES // 1024**2} MB)")
    try:
        with zipfile.ZipFile(path) as archive:
            members = archive.infolist()
    except (zipfile.BadZipFile, OSError):
        raise UntrustedModelError(f"{path.name} is not a readable skops model file") from None
    unpacked = sum(m.file_size for m in members)
    if unpacked > MAX_MODEL_UNPACKED_BYTES or len(members) > 10_000:
        raise UntrustedModelError(f"refusing to load {path.name}: it would unpack to "
                                  f"{unpacked / 1024**2:,.0f} MB (a PainCycle model is a few MB)")


def load(path: str | Path) -> TrainedModel:
    """Load a model file, refusing any that holds a type outside ALLOWED_TYPES."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no model file at {path}")
    check_model_archive(path)
    try:
        import skops.io as sio

        untrusted = sio.get_untrusted_types(file=path)
    except Exception as exc:  # not a skops zip, or a broken one
        raise UntrustedModelError(f"{path.name} is not a readable skops model file ({exc})") from None
    refused = sorted(set(untrusted) - ALLOWED_TYPES)
    if refused:
        raise UntrustedModelError(
            f"refusing to load {path.name}: it holds types outside PainCycle's allow-list "
            f"({', '.join(refused[:5])}{'...' if len(refused) > 5 else ''}). Only load models "
            "trained with PainCycle; retrain on your cohort with `paincycle train`.")
    content = sio.load(path, trusted=list(untrusted))
    if not isinstance(content, dict) or "estimator" not in content:
        raise UntrustedModelError(f"{path.name} is not a PainCycle model file")
    estimator = content["estimator"]
    if not isinstance(estimator, CalibratedClassifierCV):
        raise UntrustedModelError(f"{path.name} does not hold a calibrated PainCycle model")
    try:
        metadata = ModelMetadata.model_validate_json(str(content["metadata"]))
    except ValidationError as exc:
        fields = ", ".join(".".join(map(str, e["loc"])) for e in exc.errors()[:3])
        raise UntrustedModelError(f"{path.name} describes itself with metadata PainCycle does not "
                                  f"accept ({fields}); it is not loaded") from None
    warnings = list(_sidecar_warnings(path, metadata))
    if not check_evidence(metadata, path.name):
        warnings.append(f"{path.name} predates the evidence check: its stated performance "
                        "cannot be verified; retrain it")
    return TrainedModel(estimator, metadata, tuple(warnings))


def write_model_card(model: TrainedModel, path: str | Path, file_hash: str = "") -> Path:
    """The model card (TRIPOD+AI items, from the training run's own numbers; see model_card)."""
    from paincycle import model_card

    path = Path(path)
    path.write_text(model_card.render(model.metadata, file_hash, DISCLAIMER))
    return path
