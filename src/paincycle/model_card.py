"""The model card, written from the training run (TRIPOD+AI items), never from boilerplate.

Every number comes from the model's own metadata: the same numbers the Risk
page shows and load() re-checks against the out-of-fold evidence. Sections a
run cannot fill say so plainly instead of "[More Information Needed]".
"""

from __future__ import annotations

from paincycle import features as feat
from paincycle.model_metadata import ModelMetadata
from paincycle.reports import document

#: Coefficients listed in the card (largest first).
MAX_COEFFICIENTS = 25


def _ci(interval: tuple[float, float] | None, fmt: str) -> str:
    return f" (95% CI {interval[0]:{fmt}} to {interval[1]:{fmt}})" if interval else ""


def _at_words(row: dict | None) -> tuple[str, str, str, str]:
    """Flag rate, PPV, sensitivity and NPV at a threshold, as percentages."""
    if row is None:
        return ("", "", "", "")
    return tuple("n/a" if row[k] != row[k] else f"{row[k]:.0%}"  # NaN: nobody in the denominator
                 for k in ("flag_rate", "ppv", "sensitivity", "npv"))


def render(meta: ModelMetadata, file_hash: str = "", disclaimer: str = "") -> str:
    """The card as Markdown (values escaped)."""
    m = meta.metrics
    flow = meta.flow
    period = " to ".join(meta.data_period) if meta.data_period else "not recorded in this file"
    steps = ([f"{flow['patients']:,} patients in the cohort",
              f"{flow['with_data_by_landmark']:,} with a score on or before day {meta.landmark_days}",
              f"{flow['labelled']:,} with the outcome observed (the training set; "
              f"{m.n_poor:,} poor outcomes, {m.prevalence:.1%})",
              f"{flow['unlabelled']:,} without a follow-up, left out of training and evaluation"]
             if flow else [f"{m.n_patients:,} patients; {m.n_train:,} with the outcome observed; "
                           f"{m.n_unlabelled:,} without a follow-up"])
    features = [{"name": name, "meaning": feat.feature_info(name).meaning,
                 "missing": f"{meta.missing_share[name]:.0%}"
                 if name in meta.missing_share else "not recorded"} for name in meta.features]
    folds = ", ".join(m.kinds_chosen_in_folds) or "not recorded"
    analysis = (
        "Candidates: logistic regression (L2, C = 0.05) and histogram gradient boosting. In each "
        "of 5 outer folds the kind is chosen by 5-fold cross-validated AUC on the training part "
        f"alone (the simpler kept unless boosting wins by more than 0.01; chosen per fold: "
        f"{folds}), fitted on 75% of that part and calibrated (sigmoid) on the other 25%, then "
        "scored on the held-out fold, so every number below includes the model choice. The final "
        f"model ({m.model_kind}, chosen the same way on all labelled patients) is fitted the same "
        "way on all of them.")
    if meta.weekly_landmarks:
        analysis = (
            "One logistic regression (L2, C = 0.05) over stacked landmarks (days "
            f"{meta.weekly_landmarks[0]}-{meta.weekly_landmarks[-1]}): each labelled patient "
            "gives one row per landmark, built from the rows recorded by then, with the landmark "
            "as a covariate. Out-of-fold risks come from 5-fold cross-validation grouped by "
            "patient (no patient in both parts); in each fold the model is fitted on 75% of the "
            "training patients and calibrated (sigmoid) on the other 25%, split by patient. The "
            f"numbers below are those at day {meta.landmark_days}; the table under 'Weekly "
            "landmarks' gives every landmark. The final model is fitted the same way on all "
            "labelled patients.")
    performance = [
        ("AUC", f"{m.auc:.3f} (95% bootstrap CI {m.auc_ci[0]:.3f}-{m.auc_ci[1]:.3f})"),
        ("AUC per fold", ", ".join(f"{a:.3f}" for a in m.auc_folds) or "not recorded"),
        ("Brier score", f"{m.brier:.3f}"),
        ("Scaled Brier score", "not recorded" if m.scaled_brier is None
         else f"{m.scaled_brier:.3f}{_ci(m.scaled_brier_ci, '.3f')}"),
        ("Calibration intercept", f"{m.calibration_intercept:+.2f}"
                                  f"{_ci(m.calibration_intercept_ci, '+.2f')}"),
        ("Calibration slope", f"{m.calibration_slope:.2f}{_ci(m.calibration_slope_ci, '.2f')}"),
        ("Candidates (AUC, not nested)", ", ".join(f"{k} {v:.3f}" for k, v in m.candidates.items())),
    ]
    ablation = [f"{a['features']} ({a['n_features']} features): AUC "
                f"{a['auc'] if a.get('auc') is not None else 'n/a'}" for a in meta.ablation]
    at = {round(t["threshold"], 4): t for t in meta.curves.thresholds}
    decision = [(f"{d['threshold']:.0%}", f"{100 * d['model']:.1f}", f"{100 * d['treat_all']:.1f}",
                 *_at_words(at.get(round(d["threshold"], 4))))
                for d in meta.curves.decision[::5]]
    limitations = [
        "Prognostic support, not a diagnosis: a risk ranks patients for the team's review.",
        f"Trained on {m.n_train:,} patients of one cohort; its performance elsewhere is unknown "
        "until checked there (the Risk page does this on each cohort with outcomes).",
        f"{flow.get('unlabelled', m.n_unlabelled):,} patients without a follow-up were left out; "
        "if those who withdraw are the ones lost, the model learned from those who stayed (see "
        "'Loss to follow-up' for how they differ and the results with them counted as poor).",
    ] + (["Trained on synthetic (generated) data: no real patient was involved, and its risks "
          "have not been validated on real patients."] if meta.synthetic else [])
    monitoring = [
        "Check discrimination and calibration on each new cohort version with outcomes (Risk "
        "page, 'On this cohort'); retrain when the calibration slope leaves 0.8-1.2.",
        "The team's flag threshold and every retrain are recorded in the audit log.",
    ]
    return document.render_markdown(
        "model_card.md.j2",
        title=f"poor outcome at {meta.outcome.get('horizon_days', '?')} days, predicted at day "
              f"{meta.landmark_days}",
        disclaimer=disclaimer, file_hash=file_hash, intended_use=meta.intended_use,
        cohort_name=meta.cohort_name or "unnamed", synthetic=meta.synthetic, period=period,
        data_hash=meta.training_data_hash, flow=steps, outcome=meta.outcome_words,
        landmark=meta.landmark_days, features=features,
        missing_handling=("Missing numeric features are replaced by the training mean after "
                          "the split (inside the pipeline, so no fold sees another's data); a "
                          "missing category is its own level."
                          + (" A 0/1 indicator per feature with gaps is added."
                             if meta.feature_options.get("missing_indicators") else "")
                          + (" Custom measures of the cohort are included."
                             if meta.feature_options.get("include_custom") else "")),
        lost=meta.loss_to_follow_up, by_site=meta.leave_one_site_out,
        by_landmark=meta.by_landmark, weekly=bool(meta.weekly_landmarks),
        analysis=analysis, performance=performance,
        coefficients=meta.coefficients[:MAX_COEFFICIENTS], ablation=ablation, decision=decision,
        subgroups=meta.subgroups, limitations=limitations, monitoring=monitoring,
        versions=", ".join(f"{k} {v}" for k, v in meta.versions.items()))
