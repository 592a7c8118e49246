"""Evaluate the risk model and write the numbers into docs/model.md.

1. The shipped model (models/demo.skops, trained on the demo cohort, seed 7)
   scored on a fresh synthetic cohort with another seed: its AUC there.
2. Retraining on that fresh cohort: cross-validated AUC, calibration, ablation.
3. The weekly (earliest-warning) model on a fresh 4,000-patient synthetic
   cohort: AUC by landmark at days 14, 30, 42, 60 and 90.
4. The CHOIR registry extract (if present): converted with `paincycle convert
   --from wide --mapping choir`, outcome "pain_nrs at 90 days, at least 30%
   reduction", landmark 0, every measure of the mapping (custom ones included)
   with missing-value indicators. Reported whatever it is.

Run: .venv/bin/python bench/evaluate_model.py [--patients 1000] [--seed 8]
     [--weekly-patients 4000] [--skip-choir]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np
from sklearn.metrics import roc_auc_score

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.results import write_section  # noqa: E402
from paincycle import cli, config, evaluation, synth, weekly_model  # noqa: E402
from paincycle import model as risk_model  # noqa: E402
from paincycle.cohort import read_cohort  # noqa: E402
from paincycle.outcomes import OutcomeDefinition, label_outcomes  # noqa: E402

MODEL_MD = ROOT / "docs" / "model.md"
CHOIR = ROOT.parent / "shared" / "data" / "choir-pittsburgh" / "pain.csv.gz"


def _ci(interval, fmt: str = ".2f") -> str:
    return f" ({interval[0]:{fmt}} to {interval[1]:{fmt}})" if interval else ""


def _cell(value, fmt: str = ".3f") -> str:
    return "n/a" if value is None or value != value else f"{value:{fmt}}"


def metrics_table(trained: risk_model.TrainedModel) -> str:
    """Every number a methodologist asks for, from the training run's own metadata."""
    meta, m = trained.metadata, trained.metadata.metrics
    rows = [
        ("labelled patients (of all)", f"{m.n_train:,} of {m.n_patients:,}"),
        ("poor outcomes (prevalence)", f"{m.n_poor:,} ({m.prevalence:.1%})"),
        ("features", f"{len(meta.features)} (custom measures "
                     f"{'in' if meta.feature_options.get('include_custom') else 'out'}, "
                     f"missing-value indicators "
                     f"{'on' if meta.feature_options.get('missing_indicators') else 'off'})"),
        ("models compared (5-fold CV AUC)", ", ".join(f"{k} {v:.3f}" for k, v in m.candidates.items())),
        ("model kept", m.model_kind),
        ("cross-validated AUC, nested, calibrated (95% bootstrap CI)",
         f"{m.auc:.3f}{_ci(m.auc_ci, '.3f')}"),
        ("calibration slope (95% CI)", f"{m.calibration_slope:.2f}{_ci(m.calibration_slope_ci)}"),
        ("calibration intercept (95% CI)",
         f"{m.calibration_intercept:+.2f}{_ci(m.calibration_intercept_ci, '+.2f')}"),
        ("Brier score / scaled Brier (95% CI)",
         f"{m.brier:.3f} / {_cell(m.scaled_brier)}{_ci(m.scaled_brier_ci, '.3f')}"),
    ]
    if m.auc_folds:
        rows.append(("AUC range over the 5 folds", f"{min(m.auc_folds):.3f}-{max(m.auc_folds):.3f}"))
    lines = ["| | |", "|---|---|"] + [f"| {a} | {b} |" for a, b in rows]
    if meta.ablation:
        lines += ["", "Ablation (each block fitted and calibrated the same way, same folds):", "",
                  "| features | n | AUC | calibration slope |", "|---|---:|---:|---:|"]
        for a in meta.ablation:
            auc = f"{a['auc']:.3f}" if a["auc"] is not None else f"n/a ({a.get('note', '')})"
            lines.append(f"| {a['features']} | {a['n_features']} | {auc} | "
                         f"{_cell(a.get('calibration_slope'), '.2f')} |")
    cut = risk_model.flag_threshold(np.asarray(meta.evidence.risk))
    at = min(meta.curves.thresholds, key=lambda r: abs(r["threshold"] - cut))
    lines += ["", f"Decision curve over {meta.curves.decision[0]['threshold']:.0%}-"
              f"{meta.curves.decision[-1]['threshold']:.0%} (half the prevalence to the highest "
              "risk). At the default flag threshold "
              f"({at['threshold']:.0%}, the top 20%): flag rate {at['flag_rate']:.0%}, PPV "
              f"{_cell(at['ppv'], '.0%')}, sensitivity {_cell(at['sensitivity'], '.0%')}, NPV "
              f"{_cell(at['npv'], '.0%')}; net benefit "
              + next(f"{100 * d['model']:.1f} vs {100 * d['treat_all']:.1f} reviewing everyone "
                     "(per 100 patients)." for d in meta.curves.decision
                     if abs(d["threshold"] - at["threshold"]) < 1e-9)]
    lost = meta.loss_to_follow_up
    if lost:
        lines += ["", "Loss to follow-up (features at the landmark):", "",
                  "| status | patients | withdrawal index | share of appointments missed |",
                  "|---|---:|---:|---:|"]
        for g in lost["groups"]:
            lines.append(f"| {g['status']} | {g['n']:,} | {_cell(g.get('withdrawal_index'))} | "
                         f"{_cell(g.get('missed_appointment_share'))} |")
        lines += ["", "Sensitivity analysis:", "",
                  "| analysis | patients | poor | AUC | calibration slope |",
                  "|---|---:|---:|---:|---:|"]
        for r in lost["sensitivity"]:
            lines.append(f"| {r['analysis']} | {r['n']:,} | {r['poor_outcomes']:,} | "
                         f"{_cell(r['auc'])} | {_cell(r['calibration_slope'], '.2f')} |")
    subgroups = [g for g in meta.subgroups if g.get("auc") is not None]
    if subgroups:
        lines += ["", "Subgroups (95% bootstrap CI):", "",
                  "| group | subgroup | patients | AUC | calibration slope |",
                  "|---|---|---:|---:|---:|"]
        for g in subgroups:
            lines.append(f"| {g['group']} | {g['subgroup']} | {g['n']:,} | "
                         f"{g['auc']:.3f}{_ci(g.get('auc_ci'), '.3f')} | "
                         f"{_cell(g.get('calibration_slope'), '.2f')}"
                         f"{_ci(g.get('calibration_slope_ci'))} |")
    if meta.leave_one_site_out:
        lines += ["", "Leave one site out:", "", "| site | patients | AUC | calibration slope |",
                  "|---|---:|---:|---:|"]
        for r in meta.leave_one_site_out:
            lines.append(f"| {r['site']} | {r['n']:,} | {_cell(r['auc'])} | "
                         f"{_cell(r['calibration_slope'], '.2f')} |")
    return "\n".join(lines)


def evaluate_weekly(n: int, seed: int) -> str:
    """The weekly (earliest-warning) model on a fresh synthetic cohort: AUC by landmark."""
    cohort = synth.generate(n, seed=seed)
    trained = weekly_model.train_weekly(cohort, seed=0, synthetic=True)
    rows = {r["landmark"]: r for r in trained.metadata.by_landmark}
    lines = [f"Weekly model (`paincycle train --weekly`) on `synth.generate({n:,}, seed={seed})`: "
             "one logistic model over stacked landmarks (days "
             f"{trained.metadata.weekly_landmarks[0]}-{trained.metadata.weekly_landmarks[-1]}), "
             "out-of-fold with folds grouped by patient.", "",
             "| landmark (day) | patients | AUC (95% CI) | calibration slope |",
             "|---:|---:|---:|---:|"]
    for day in weekly_model.REPORTED_LANDMARKS:
        r = rows[day]
        lines.append(f"| {day} | {r['n']:,} | {r['auc']:.3f}{_ci(r.get('auc_ci'), '.3f')} | "
                     f"{r['calibration_slope']:.2f} |")
    return "\n".join(lines)


def evaluate_synthetic(n: int, seed: int) -> str:
    shipped = risk_model.load(config.DEMO_MODEL)
    cohort = synth.generate(n, seed=seed)
    scores = risk_model.score(shipped, cohort, explain=False).table
    labels = label_outcomes(cohort, shipped.outcome)
    joined = labels.merge(scores, on="patient_id")
    y, risk = joined["poor_outcome"].to_numpy(int), joined["risk"].to_numpy()
    auc = roc_auc_score(y, risk)
    lo, hi = evaluation.bootstrap_intervals(y, risk)["auc"]
    a, b = evaluation.calibration_intercept_slope(y, risk)
    brier = float(np.mean((risk - y) ** 2))
    retrained = risk_model.train(cohort, shipped.outcome, shipped.landmark_days, synthetic=True)
    return "\n".join([
        f"Fresh synthetic cohort: `synth.generate({n}, seed={seed})` (the demo cohort uses seed 7).",
        "",
        f"**Shipped model (models/demo.skops) on it**: AUC {auc:.3f} (95% bootstrap CI "
        f"{lo:.3f}-{hi:.3f}) on {len(y):,} labelled patients ({y.mean():.1%} poor outcomes); "
        f"Brier {brier:.3f}; calibration intercept {a:+.2f}, slope {b:.2f}.",
        "",
        "**Retrained on the fresh cohort** (`paincycle train`, same outcome and landmark):",
        "",
        metrics_table(retrained),
    ])


def evaluate_choir() -> str:
    if not CHOIR.exists():
        return f"CHOIR extract not found at {CHOIR}; not evaluated."
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "choir"
        code = cli.main(["convert", str(CHOIR), "--from", "wide", "--mapping", "choir",
                         "--out", str(out), "--format", "parquet"])
        if code != 0:
            return "The CHOIR conversion failed (see `paincycle convert`); not evaluated."
        cohort = read_cohort(out)
    outcome = OutcomeDefinition.build("pain_nrs", 90, None, "30%")
    trained = risk_model.train(cohort, outcome, landmark_days=0, include_custom=True,
                               missing_indicators=True)
    features = ", ".join(f"`{f}`" for f in trained.feature_names)
    return "\n".join([
        f"CHOIR (University of Pittsburgh PORT), {cohort.n_patients:,} patients, converted with "
        "`paincycle convert pain.csv.gz --from wide --mapping choir`. Outcome: "
        f"{outcome.describe()} Landmark 0: only the baseline visit is used.",
        "",
        f"Features available at landmark 0 (the mapping's custom measures included, with "
        f"missing-value indicators): {features}.",
        "",
        metrics_table(trained),
    ])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=8)
    parser.add_argument("--weekly-patients", type=int, default=4000)
    parser.add_argument("--skip-choir", action="store_true")
    args = parser.parse_args()
    synthetic = evaluate_synthetic(args.patients, args.seed)
    print(synthetic)
    write_section("model-synthetic", synthetic, MODEL_MD)
    weekly = evaluate_weekly(args.weekly_patients, args.seed)
    print(weekly)
    write_section("model-weekly", weekly, MODEL_MD)
    if not args.skip_choir:
        choir = evaluate_choir()
        print(choir)
        write_section("model-choir", choir, MODEL_MD)


if __name__ == "__main__":
    main()
