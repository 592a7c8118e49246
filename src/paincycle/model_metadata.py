"""What a trained model says about itself, typed and validated when the file is loaded.

The metadata travels inside the skops file (and a copy beside it for people to
read). It is parsed into these pydantic models on load, so a file whose
metadata is missing a field, has a field of the wrong type or values outside
their range (an AUC of 3, a negative landmark) is refused instead of shown.
Every reader (the model, its charts, the Risk page, the summary, the CLI) uses
these attributes; none reads the raw dictionary.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

_FROZEN = ConfigDict(frozen=True, extra="forbid")
Probability = Field(ge=0.0, le=1.0)


class Metrics(BaseModel):
    """Out-of-fold performance of the training run."""

    model_config = _FROZEN

    auc: float = Probability
    auc_ci: tuple[float, float]
    auc_folds: list[float]
    candidates: dict[str, float]
    model_kind: str
    #: The kind chosen inside each outer fold of the nested evaluation (empty in older files).
    kinds_chosen_in_folds: list[str] = Field(default_factory=list)
    brier: float = Probability
    calibration_intercept: float
    calibration_slope: float
    #: 95% bootstrap intervals and the scaled Brier score (absent in files before release 0.7).
    calibration_intercept_ci: tuple[float, float] | None = None
    calibration_slope_ci: tuple[float, float] | None = None
    scaled_brier: float | None = None
    scaled_brier_ci: tuple[float, float] | None = None
    n_train: int = Field(ge=0)
    n_poor: int = Field(ge=0)
    prevalence: float = Probability
    n_patients: int = Field(ge=0)
    n_unlabelled: int = Field(ge=0)
    outcome_measures_used: dict[str, int]


class Curves(BaseModel):
    """Points of the ROC, calibration and decision curves, as drawn on the Risk page."""

    model_config = _FROZEN

    roc: list[dict[str, float]]
    calibration: list[dict[str, float]]
    decision: list[dict[str, float]]
    #: Spline-smoothed observed vs predicted risk (empty in older files).
    calibration_smooth: list[dict[str, float]] = Field(default_factory=list)
    #: Flag rate, PPV, sensitivity, specificity and NPV at each decision-curve threshold.
    thresholds: list[dict[str, float]] = Field(default_factory=list)


class Evidence(BaseModel):
    """The training run's out-of-fold predictions (outcome and risk per labelled patient, no
    identifiers): the stated metrics are recomputed from them on every load, so a file whose
    numbers were rewritten is refused (paincycle.model.check_evidence)."""

    model_config = _FROZEN

    y: list[int]
    risk: list[float]


class ModelMetadata(BaseModel):
    """Everything a model file says about how it was made and how well it did."""

    model_config = _FROZEN

    created_at: str
    cohort_name: str
    training_data_hash: str
    #: The stored cohort version it was trained on ("" for a folder on disk): where a model
    #: file lies says nothing, so "trained on this cohort" is decided by this or the data hash.
    cohort_version: str = ""
    landmark_days: int = Field(ge=0, le=3650)
    outcome: dict[str, Any]
    outcome_words: str
    features: list[str] = Field(min_length=1)
    reference: dict[str, Any]
    #: How the features were built: custom measures included, missing-value indicators added.
    feature_options: dict[str, bool] = Field(default_factory=dict)
    metrics: Metrics
    curves: Curves
    ablation: list[dict[str, Any]]
    subgroups: list[dict[str, Any]]
    #: Who has no label and how they differ; results on complete cases, inverse-probability
    #: weighted and with non-responder imputation (model.follow_up_sensitivity).
    loss_to_follow_up: dict[str, Any] = Field(default_factory=dict)
    #: The weekly model's landmarks (empty for a one-landmark model) and its out-of-fold
    #: performance at each; ``metrics`` and ``evidence`` are then those of the reference
    #: landmark (paincycle.weekly_model.REFERENCE_LANDMARK).
    weekly_landmarks: list[int] = Field(default_factory=list)
    by_landmark: list[dict[str, Any]] = Field(default_factory=list)
    #: Fit on the other sites, validated on each (empty with fewer than two sites).
    leave_one_site_out: list[dict[str, Any]] = Field(default_factory=list)
    intended_use: str
    synthetic: bool
    versions: dict[str, str]
    seed: int
    #: Out-of-fold predictions behind ``metrics`` (absent in files from before release 0.5).
    evidence: Evidence | None = None
    #: For the TRIPOD+AI model card (empty in older files): the first and last record date,
    #: the flow of patients, each feature's share missing among the labelled, and a logistic
    #: model's coefficients per standardised input.
    data_period: list[str] = Field(default_factory=list)
    flow: dict[str, int] = Field(default_factory=dict)
    missing_share: dict[str, float] = Field(default_factory=dict)
    coefficients: list[dict[str, Any]] = Field(default_factory=list)
