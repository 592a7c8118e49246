"""Whether a model's numbers speak for this cohort, and how it does on this cohort's own data.

A model's cross-validated AUC describes the patients it was trained on. Shown
beside a different clinic's risks it borrows a credibility it never earned
there; a model trained on synthetic patients has never been checked against a
real one. So every door that shows risks (the Risk page, Case review, the
Patient page, the exports) words the model's provenance with :func:`provenance`,
and where the cohort has outcome labels the model is checked on them
(:func:`local_validation`): its discrimination and calibration here, with
intervals, computed on patients it may never have seen.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import pandas as pd

from paincycle.cohort import Cohort

if TYPE_CHECKING:  # the model (scikit-learn) is imported only where a model is used
    from paincycle.model import TrainedModel


@dataclass(frozen=True)
class Provenance:
    """Where a model comes from, against the cohort it scores."""

    trained_here: bool            # trained on this very cohort (its numbers are this cohort's)
    model_synthetic: bool         # trained on generated patients
    cohort_synthetic: bool | None  # this cohort is generated (None: not known)
    trained_on: str = ""          # the training cohort's name

    def to_dict(self) -> dict:
        """What is kept beside a version's risks (the cohort's own flag is read from it)."""
        return {"trained_here": self.trained_here, "model_synthetic": self.model_synthetic,
                "trained_on": self.trained_on}

    @property
    def synthetic_on_real(self) -> bool:
        """A synthetic model scoring patients who may be real: said on every page and export."""
        return self.model_synthetic and self.cohort_synthetic is not True

    @property
    def measured_here(self) -> bool:
        return self.trained_here

    def words(self) -> str:
        """One or two sentences every door shows beside the model's risks."""
        if self.trained_here and self.model_synthetic:
            return ("The risk model was trained on synthetic (generated) data: this very cohort, "
                    "so its cross-validated numbers describe these patients, none of them real.")
        if self.trained_here:
            return ("The risk model was trained on this cohort: its cross-validated numbers "
                    "describe these patients.")
        source = ("synthetic (generated) data, not real patients" if self.model_synthetic
                  else f"the cohort '{self.trained_on}'" if self.trained_on else "another cohort")
        said = f"The risk model was trained on {source}"
        if self.model_synthetic and self.cohort_synthetic is True:
            return f"{said}; this cohort is synthetic too, so no risk here describes a real patient."
        if self.model_synthetic:
            who = "real patients" if self.cohort_synthetic is False else "patients who may be real"
            return (f"{said}, and here it scores {who}: its risks have not been validated on "
                    "them. Retrain it on this clinic's data before relying on them.")
        return (f"{said}: its performance on this cohort was not measured in training; see the "
                "local check on this cohort's own outcomes.")


def provenance(trained: TrainedModel, *, trained_here: bool,
               cohort_synthetic: bool | None) -> Provenance:
    meta = trained.metadata
    return Provenance(trained_here=trained_here, model_synthetic=bool(meta.synthetic),
                      cohort_synthetic=cohort_synthetic, trained_on=meta.cohort_name)


@dataclass(frozen=True)
class LocalValidation:
    """The model checked on this cohort's labelled patients (its outcome, its landmark)."""

    n_labelled: int
    n_poor: int
    n_scored_unlabelled: int
    auc: float | None = None
    auc_ci: tuple[float, float] | None = None
    calibration_intercept: float | None = None
    calibration_slope: float | None = None
    brier: float | None = None
    reason: str = ""  # why no numbers, when there are none

    @property
    def measured(self) -> bool:
        return self.auc is not None


def local_validation(trained: TrainedModel, cohort: Cohort,
                     scores: pd.DataFrame) -> LocalValidation:
    """AUC (bootstrap interval), calibration intercept and slope and Brier of ``scores``
    (patient_id, risk: the model's risks for ``cohort``) against the outcomes the model
    predicts, observed in ``cohort``. Patients without a follow-up are counted, not used.
    """
    from paincycle import evaluation
    from paincycle import model as risk_model
    from paincycle.outcomes import label_outcomes

    labels = label_outcomes(cohort, trained.outcome)[["patient_id", "poor_outcome"]]
    labels = labels.assign(patient_id=labels["patient_id"].astype(str))
    scored = scores.assign(patient_id=scores["patient_id"].astype(str))[["patient_id", "risk"]]
    both = scored.merge(labels, on="patient_id", how="inner")
    y = both["poor_outcome"].to_numpy(dtype=int)
    risk = both["risk"].to_numpy(dtype=float)
    n_poor = int(y.sum())
    base = {"n_labelled": len(both), "n_poor": n_poor,
            "n_scored_unlabelled": len(scored) - len(both)}
    if len(both) < risk_model.MIN_LABELLED or min(n_poor, len(both) - n_poor) < risk_model.MIN_PER_CLASS:
        return LocalValidation(**base, reason=(
            f"{len(both)} scored patients have the outcome observed ({n_poor} poor); at least "
            f"{risk_model.MIN_LABELLED}, with {risk_model.MIN_PER_CLASS} of each outcome, are "
            "needed to check the model here"))
    point = evaluation.point_metrics(y, risk)
    auc, intercept, slope, brier = (point["auc"], point["calibration_intercept"],
                                    point["calibration_slope"], point["brier"])
    lo, hi = evaluation.bootstrap_intervals(y, risk, n_boot=300)["auc"]
    return LocalValidation(**base, auc=auc, auc_ci=(lo, hi), calibration_intercept=intercept,
                           calibration_slope=slope, brier=brier)


def trained_here(trained: TrainedModel, cohort: Cohort, version_id: str | None = None) -> bool:
    """Whether the model's numbers are this cohort's: it says it was trained on this stored
    version, or on exactly this data. Never decided by where the file lies: a model copied
    beside a version it never saw is checked on it, not trusted as its own."""
    if version_id and trained.metadata.cohort_version == version_id:
        return True
    return trained_on_this(trained, cohort)


def trained_on_this(trained: TrainedModel, cohort: Cohort) -> bool:
    """Whether the model was trained on exactly this cohort's data (by the training data's
    hash; the count of patients is compared first, so another cohort costs nothing)."""
    meta = trained.metadata
    if meta.metrics.n_patients != cohort.n_patients:
        return False
    from paincycle.model import data_hash

    return data_hash(cohort) == meta.training_data_hash
