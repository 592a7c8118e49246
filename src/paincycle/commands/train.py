"""paincycle train PATH --out MODEL.skops [--landmark-days 90] [--outcome-measure M] ..."""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path

from paincycle import config, services
from paincycle import model as risk_model
from paincycle.cohort import Cohort, read_cohort
from paincycle.features import DEFAULT_LANDMARK_DAYS
from paincycle.outcomes import OutcomeDefinition

HELP = ("Train the withdrawal risk model on a cohort; print an honest report and, as the last "
        "line, the metrics as JSON.")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("path", help="cohort folder, .zip, or stored version id/name")
    parser.add_argument("--out", required=True, help="model file to write (.skops)")
    parser.add_argument("--landmark-days", type=int, default=DEFAULT_LANDMARK_DAYS,
                        help="predict at this many days after intake (default 90)")
    parser.add_argument("--outcome-measure", default=None,
                        help="outcome measure code (default: first of promis_physical_function, "
                             "odi, pdi the patient has)")
    parser.add_argument("--horizon-days", type=int, default=None,
                        help="follow-up horizon in days (default 365)")
    parser.add_argument("--window-days", type=int, default=None,
                        help="accept follow-ups within this many days of the horizon")
    parser.add_argument("--min-improvement", default=None,
                        help="points (e.g. 5) or percent (e.g. 30%%); default: the measure's MCID")
    parser.add_argument("--seed", type=int, default=0, help="random seed for folds and splits")
    parser.add_argument("--weekly", action="store_true",
                        help="train the weekly (earliest-warning) model over landmarks from day "
                             "14 to day 120 instead of one landmark (--landmark-days is ignored)")
    parser.add_argument("--lost-as-poor", action="store_true",
                        help="count a patient whose follow-up was due but never came as a poor "
                             "outcome (non-responder imputation); default: left out")
    parser.add_argument("--custom-measures", action="store_true",
                        help="also use every custom (x_) measure's intake score as a feature")
    parser.add_argument("--missing-indicators", action="store_true",
                        help="add a 0/1 feature per feature with gaps (who did not answer)")
    parser.add_argument("--synthetic", action="store_true",
                        help="record in the model card that the training data are synthetic")


def resolve_cohort(path: str) -> Cohort:
    """A cohort folder or .zip on disk, else a stored version by id, prefix or name."""
    return resolve(path)[0]


def resolve(path: str) -> tuple[Cohort, str | None]:
    """(cohort, stored version id or None for a folder or .zip on disk)."""
    from paincycle.cli import UserError
    from paincycle.store import CohortStore

    if Path(path).exists():
        cohort = read_cohort(path)
        # the model card names its training cohort: the folder's name when the files give none
        return (cohort if cohort.name else dataclasses.replace(cohort, name=Path(path).stem)), None
    store = CohortStore()
    version = store.find(path)
    if version is None:
        raise UserError(f"{path!r} is neither a cohort folder or .zip nor a stored version "
                        "(see the Data page, or `paincycle import`)")
    cohort = store.load(version.id)
    return (cohort if cohort.name else dataclasses.replace(cohort, name=version.name)), version.id


def run(args: argparse.Namespace) -> int:
    from paincycle.cli import UserError

    if args.landmark_days < 0:
        raise UserError("--landmark-days must be 0 or more")
    cohort, version_id = resolve(args.path)
    try:
        outcome = OutcomeDefinition.build(args.outcome_measure, args.horizon_days,
                                          args.window_days, args.min_improvement,
                                          lost_as_poor=args.lost_as_poor)
    except KeyError as exc:
        raise UserError(f"--outcome-measure: {exc.args[0]}") from None
    synthetic = args.synthetic or (Path(args.path).exists() and Path(args.path).resolve()
                                   == config.SAMPLE_COHORT.resolve())

    def progress(fraction: float, message: str) -> None:
        print(f"[{fraction:4.0%}] {message}", file=sys.stderr)

    options = {"principal": services.cli_principal(), "cohort_version": version_id,
               "synthetic": synthetic, "seed": args.seed, "progress": progress,
               "include_custom": args.custom_measures,
               "missing_indicators": args.missing_indicators}
    try:
        if args.weekly:
            trained, out = services.retrain_weekly(cohort, outcome, args.out, **options)
        else:
            trained, out = services.retrain(cohort, outcome, args.landmark_days, args.out,
                                            **options)
    except ValueError as exc:
        raise UserError(str(exc)) from None
    print(report(trained))
    print(f"Model written to {out} (metadata {out.with_suffix('.json').name}, "
          f"model card {out.with_suffix('.md').name})")
    shown = trained.metadata.metrics.model_dump(
        mode="json", include={"auc", "auc_ci", "brier", "calibration_intercept",
                              "calibration_slope", "n_train", "prevalence", "model_kind"})
    print(json.dumps(shown | {"landmark_days": trained.landmark_days}))
    return 0


def _ci(interval: tuple[float, float] | None) -> str:
    return f" (95% CI {interval[0]:.2f} to {interval[1]:.2f})" if interval else ""


def report(trained: risk_model.TrainedModel) -> str:
    """The training report in words: outcome, data, discrimination, calibration, ablation."""
    meta, m = trained.metadata, trained.metadata.metrics
    lines = [
        f"Outcome: {meta.outcome_words}",
        f"Landmark: features from rows up to day {meta.landmark_days} after intake.",
        f"Patients: {m.n_patients} in the cohort, {m.n_train} labelled "
        f"({m.n_poor} poor outcomes, prevalence {m.prevalence:.1%}); "
        f"{m.n_unlabelled} without both points are not used.",
        "Model comparison (5-fold CV AUC): " + ", ".join(
            f"{k} {v:.3f}" for k, v in m.candidates.items()) + f"; kept: {m.model_kind}.",
        f"Cross-validated AUC {m.auc:.3f} (95% CI {m.auc_ci[0]:.3f}-{m.auc_ci[1]:.3f}"
        + (f"; folds {min(m.auc_folds):.3f}-{max(m.auc_folds):.3f})." if m.auc_folds else ")."),
        f"Calibration: intercept {m.calibration_intercept:+.2f}{_ci(m.calibration_intercept_ci)}, "
        f"slope {m.calibration_slope:.2f}{_ci(m.calibration_slope_ci)}; Brier score "
        f"{m.brier:.3f}" + (f", scaled Brier {m.scaled_brier:.3f}{_ci(m.scaled_brier_ci)}."
                            if m.scaled_brier is not None else "."),
    ]
    if meta.ablation:
        lines.append("Ablation (CV AUC): " + "; ".join(
            f"{a['features']} {a['auc']:.3f}" if a["auc"] is not None else
            f"{a['features']} n/a" for a in meta.ablation))
    if meta.by_landmark:
        lines.append("AUC by landmark (weekly model): " + "; ".join(
            f"day {r['landmark']} {r['auc']:.3f}" if r.get("auc") is not None else
            f"day {r['landmark']} n/a" for r in meta.by_landmark))
    lines.append(risk_model.DISCLAIMER)
    return "\n".join(lines)
