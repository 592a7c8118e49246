"""Risk model: how well it works on this cohort, whom it flags and why, and retraining."""

import streamlit as st

from paincycle import evaluation, measures, model_charts, services
from paincycle.access import AccessDenied, Permission, require
from paincycle.features import DEFAULT_LANDMARK_DAYS
from paincycle.model import DISCLAIMER
from paincycle.outcomes import DEFAULT_PRIORITY, OutcomeDefinition
from paincycle.ui import data, risk
from paincycle.ui.audit import Action, audit_once
from paincycle.ui.auth import current_principal

principal = current_principal()
st.title(":material/target: Risk model")
st.info(f"**{DISCLAIMER}** The risk ranks patients for the team's review of functional "
        "withdrawal; it never replaces clinical judgement.")

cohort, version_id = data.current_cohort(), data.current_version_id()
if cohort is None or version_id is None:
    st.info("No cohort is loaded yet. Import your clinic's data on the **Data** page.")
    st.stop()


def retrain_form() -> None:
    """Outcome, horizon, threshold and landmark for a model trained on this cohort."""
    codes = ["default"] + list(measures.MEASURES)
    cols = st.columns(4)
    measure = cols[0].selectbox("Outcome measure", codes, key="rm_measure",
                                format_func=lambda c: ("first of " + ", ".join(DEFAULT_PRIORITY))
                                if c == "default" else measures.get(c).instrument)
    horizon = cols[1].number_input("Horizon (days)", 30, 730, 365, step=15, key="rm_horizon")
    threshold = cols[2].text_input("Minimum improvement", "", key="rm_threshold",
                                   help="Points (5) or percent (30%); empty: the measure's MCID")
    landmark = cols[3].number_input("Landmark (days)", 0, 365, DEFAULT_LANDMARK_DAYS, key="rm_landmark")
    cols = st.columns(4)
    with_weekly = cols[3].checkbox(
        "Also train the weekly model", value=True, key="rm_weekly",
        help="The earliest-warning model: a risk every week from day 14 to day 120, shown on "
             "the Patient page. Needs a follow-up window that starts after day 120.")
    lost_as_poor = cols[2].checkbox(
        "Count loss to follow-up as poor", value=False, key="rm_lost",
        help="Non-responder imputation: a patient whose follow-up was due but never came "
             "counts as a poor outcome. Off: such patients are left out (complete cases). "
             "Either way the page shows the results both ways.")
    include_custom = cols[0].checkbox(
        "Use this cohort's custom measures", value=True, key="rm_custom",
        help="Each custom (x_) measure's intake score becomes a feature: a clinic's own "
             "questionnaires are often its strongest predictors.")
    indicators = cols[1].checkbox(
        "Add missing-value indicators", value=False, key="rm_indicators",
        help="A 0/1 feature per feature with gaps: not answering can carry signal. The "
             "ablation reports the model both with and without them.")
    if not st.button("Retrain on this cohort", type="primary", key="rm_retrain"):
        return
    try:
        require(principal, Permission.TRAIN_MODEL)
        outcome = OutcomeDefinition.build(None if measure == "default" else measure,
                                          int(horizon), None, threshold or None,
                                          lost_as_poor=lost_as_poor)
        outcome.check_landmark(int(landmark))
    except (AccessDenied, ValueError, KeyError) as exc:
        st.error(str(exc.args[0] if exc.args else exc))
        return
    with st.status("Retraining the risk model...", expanded=True) as status:
        bar = st.progress(0.0)

        def progress(fraction: float, message: str) -> None:
            bar.progress(min(1.0, fraction), text=message)

        try:
            path = risk.retrain(version_id, outcome, int(landmark), progress, principal,
                                include_custom=include_custom, missing_indicators=indicators)
        except ValueError as exc:
            status.update(label="Not enough data to train", state="error")
            st.error(str(exc))
            return
        if with_weekly:
            try:
                risk.retrain_weekly(version_id, outcome, progress, principal,
                                    include_custom=include_custom, missing_indicators=indicators)
            except ValueError as exc:
                st.warning(f"The weekly model was not trained: {exc}")
        status.update(label="Retrained", state="complete")
    st.success(f"Model retrained on this cohort and saved ({path.name}).")
    st.rerun()


path = risk.model_path(version_id)
if path is None:
    st.info("No risk model yet: retrain one on this cohort below.")
    with st.expander("Retrain", expanded=True):
        retrain_form()
    st.stop()

try:
    trained = risk.load(path)
except ValueError as exc:
    st.error(f"The risk model could not be loaded: {exc}")
    st.stop()
meta, m = trained.metadata, trained.metadata.metrics
for doubt in trained.warnings:  # e.g. the description beside the file was edited
    st.warning(doubt, icon=":material/gpp_maybe:")
origin = risk.provenance(version_id, path)
st.subheader("What it predicts")
st.write(f"Model: {m.model_kind}. **Predicted at day {meta.landmark_days}** after intake, from "
         "data recorded up to then.")
st.write(meta.outcome_words)
if origin.synthetic_on_real:
    st.warning(origin.words(), icon=":material/warning:")
else:
    st.caption(origin.words())

st.subheader("On this cohort")
check = risk.local_check(version_id, path)
if check is None:
    st.caption("Trained on this cohort: the cross-validated numbers below are its own.")
elif not check.measured:
    st.info(f"Performance on this cohort not measured: {check.reason}. The numbers below "
            "describe the cohort the model was trained on, not this one.")
else:
    lo, hi = check.auc_ci
    cols = st.columns(4)
    cols[0].metric("AUC here", f"{check.auc:.2f}", help=f"95% bootstrap CI {lo:.2f}-{hi:.2f}")
    cols[1].metric("Calibration slope here", f"{check.calibration_slope:.2f}",
                   help="1 is ideal; below 1, the risks are too extreme for this cohort")
    cols[2].metric("Calibration intercept here", f"{check.calibration_intercept:+.2f}",
                   help="0 is ideal; above 0, the model under-predicts poor outcomes here")
    cols[3].metric("Patients with the outcome observed", f"{check.n_labelled:,}",
                   help=f"{check.n_poor:,} poor outcomes; {check.n_scored_unlabelled:,} scored "
                        "patients have no follow-up yet")
    st.caption(f"Checked on this cohort's own outcomes (AUC 95% CI {lo:.2f}-{hi:.2f}). The "
               "numbers below describe the cohort the model was trained on.")



def interval(ci: tuple[float, float] | None, fmt: str = ".2f") -> str:
    return f"95% CI {ci[0]:{fmt}} to {ci[1]:{fmt}}" if ci else "no interval in this file"


st.subheader("How it did in training")
cols = st.columns(5)
cols[0].metric("AUC (cross-validated)", f"{m.auc:.2f}", help=interval(m.auc_ci))
cols[1].metric("Calibration slope", f"{m.calibration_slope:.2f}",
               help=f"{interval(m.calibration_slope_ci)}; 1 is ideal")
cols[2].metric("Calibration intercept", f"{m.calibration_intercept:+.2f}",
               help=f"{interval(m.calibration_intercept_ci)}; 0 is ideal")
cols[3].metric("Scaled Brier", "n/a" if m.scaled_brier is None else f"{m.scaled_brier:.2f}",
               help=f"{interval(m.scaled_brier_ci)}; 0 = no better than the base rate "
                    f"(Brier {m.brier:.3f})")
cols[4].metric("Labelled patients", f"{m.n_train:,}", help=f"{m.prevalence:.0%} poor outcomes")
st.caption(f"AUC {m.auc:.2f} ({interval(m.auc_ci)}); calibration slope "
           f"{m.calibration_slope:.2f} ({interval(m.calibration_slope_ci)}).")

left, right = st.columns(2)
left.altair_chart(model_charts.roc_chart(meta), width="stretch")
right.altair_chart(model_charts.calibration_chart(meta), width="stretch")
left.altair_chart(model_charts.decision_curve_chart(meta), width="stretch")
right.altair_chart(model_charts.ablation_chart(meta), width="stretch")
st.caption("All numbers are out-of-fold over the whole procedure, the choice of model kind "
           "included: each patient was predicted by a model that never saw them."
           + (" They were recomputed from the file's own out-of-fold predictions when it was "
              "loaded." if meta.evidence is not None else ""))
lost = meta.loss_to_follow_up
if lost:
    st.markdown("**Who has no outcome, and how they differ** (features at the landmark)")
    st.dataframe(lost["groups"], hide_index=True, width="stretch")
    st.markdown("**Sensitivity to loss to follow-up** (out-of-fold, each fitted the same way)")
    st.dataframe(lost["sensitivity"], hide_index=True, width="stretch")
    st.caption(f"{lost['n_lost']:,} patients had a baseline and were due a follow-up that never "
               f"came. {lost['ipw_note']}")
st.markdown("**Ablation** (each block fitted and calibrated the same way, same folds)")
st.dataframe(meta.ablation, hide_index=True, width="stretch")
st.markdown("**By subgroup** (AUC and calibration slope with 95% bootstrap intervals)")
st.dataframe(meta.subgroups, hide_index=True, width="stretch")
if meta.leave_one_site_out:
    st.markdown("**Leave one site out** (fitted on the other sites, checked on this one)")
    st.dataframe(meta.leave_one_site_out, hide_index=True, width="stretch")

weekly_path = risk.weekly_path(version_id)
try:
    weekly = risk.load(weekly_path) if weekly_path is not None else None
except ValueError as exc:  # a weekly file that fails its checks is said, never shown
    weekly = None
    st.warning(f"The weekly model could not be loaded: {exc}", icon=":material/gpp_maybe:")
if weekly is not None:
    st.subheader("Earliest warning: the weekly model")
    st.write("One model over weekly landmarks (day "
             f"{weekly.metadata.weekly_landmarks[0]} to {weekly.metadata.weekly_landmarks[-1]}, "
             "the landmark a covariate) gives each patient a risk every week from the data "
             "known that week; the Patient page shows it over time.")
    st.altair_chart(model_charts.auc_by_landmark_chart(weekly.metadata), width="stretch")
    st.dataframe(weekly.metadata.by_landmark, hide_index=True, width="stretch")
    st.caption(risk.weekly_caveat(version_id, weekly) + " Folds are grouped by patient.")

st.subheader("Flags in this cohort")
scores = risk.scores(version_id, path)
if scores.table.empty:
    st.info(f"No patient can be scored yet: {len(scores.skipped):,} have no data by day "
            f"{trained.landmark_days} or have not reached it.")
else:
    team_threshold = risk.team_threshold(path)
    st.caption(f"The team's flag threshold for this model: {scores.threshold:.0%}"
               + ("" if team_threshold is not None else
                  " (not set yet: the default flags the 20% of this cohort at highest risk)")
               + ". Case review, the export and `paincycle summary` flag at it.")
    # keyed by the threshold in force, so the slider starts there again once it changes
    start = float(min(0.99, max(0.01, round(scores.threshold, 2))))
    threshold = st.slider("Flag threshold (risk)", 0.01, 0.99, start, 0.01,
                          key=f"rm_threshold_{version_id}_{scores.threshold:.4f}",
                          help="Try a threshold here; only saving it changes what the team sees.")
    if threshold == start:  # untouched: the threshold in force exactly, not its rounding
        threshold = scores.threshold
    flagged = risk.flagged_table(scores.table, threshold)
    st.metric("Flagged at this threshold", f"{len(flagged):,} of {len(scores.table):,}")
    if meta.evidence is not None:
        at = evaluation.at_threshold(meta.evidence.y, meta.evidence.risk, threshold)
        st.markdown(f"**At {threshold:.0%}, in training** (out-of-fold)")
        st.dataframe([{"flag rate": at["flag_rate"], "PPV": at["ppv"],
                       "sensitivity": at["sensitivity"], "specificity": at["specificity"],
                       "NPV": at["npv"]}], hide_index=True, width="stretch",
                     column_config={k: st.column_config.NumberColumn(k, format="percent")
                                    for k in ("flag rate", "PPV", "sensitivity", "specificity",
                                              "NPV")})
        st.caption("PPV: of the flagged, the share who had a poor outcome; NPV: of the "
                   "unflagged, the share who did not.")
    if abs(threshold - scores.threshold) > 1e-9:
        can_set = principal.can(Permission.CHANGE_TEAM_SETTINGS)
        if st.button(f"Use {threshold:.0%} as the team's flag threshold", disabled=not can_set,
                     help=None if can_set else "Changing the team's threshold needs the admin role."):
            services.set_flag_threshold(path, threshold, principal=principal,
                                        cohort_version=version_id)
            st.rerun()
    st.altair_chart(model_charts.risk_histogram(scores.table, threshold), width="stretch")
    if principal.sees_identified_data:
        audit_once(Action.VIEW_PATIENT_LIST, detail="risk model flagged list")
        if len(flagged) > risk.EXPLAINED_ROWS:
            st.caption(f"The {risk.EXPLAINED_ROWS} highest-risk flagged patients, with why.")
        st.dataframe(risk.explained_flags(version_id, path, flagged), hide_index=True,
                     width="stretch", column_config={
            "risk": st.column_config.NumberColumn("risk", format="percent"),
            "top_factors": st.column_config.TextColumn("why", width="large")})
    if len(scores.skipped):
        st.caption(f"{len(scores.skipped):,} patients not scored: "
                   + "; ".join(f"{n:,} {r}" for r, n in scores.skipped["reason"].value_counts().items()))

with st.expander("Retrain on this cohort"):
    retrain_form()
