"""Evaluate the risk model and write the numbers into docs/model.md.

1. The shipped model (models/demo.skops, trained on the demo cohort, seed 7)
   scored on a fresh synthetic cohort with another seed: its AUC there.
2. Retraining on that fresh cohort: cross-validated AUC, calibration, ablation.
3. The CHOIR registry extract (if present): converted with `paincycle convert
   --from wide --mapping choir`, outcome "pain_nrs at 90 days, at least 30%
   reduction", landmark 0. Reported whatever it is.

Run: .venv/bin/python bench/evaluate_model.py [--patients 1000] [--seed 8] [--skip-choir]
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
from paincycle import cli, config, evaluation, synth  # noqa: E402
from paincycle import model as risk_model  # noqa: E402
from paincycle.cohort import read_cohort  # noqa: E402
from paincycle.outcomes import OutcomeDefinition, label_outcomes  # noqa: E402

MODEL_MD = ROOT / "docs" / "model.md"
CHOIR = ROOT.parent / "shared" / "data" / "choir-pittsburgh" / "pain.csv.gz"


def metrics_table(trained: risk_model.TrainedModel) -> str:
    m = trained.metadata.metrics
    rows = [
        ("labelled patients (of all)", f"{m.n_train:,} of {m.n_patients:,}"),
        ("poor outcomes (prevalence)", f"{m.n_poor:,} ({m.prevalence:.1%})"),
        ("models compared (5-fold CV AUC)", ", ".join(f"{k} {v:.3f}" for k, v in m.candidates.items())),
        ("model kept", m.model_kind),
        ("cross-validated AUC, calibrated (95% bootstrap CI)",
         f"{m.auc:.3f} ({m.auc_ci[0]:.3f}-{m.auc_ci[1]:.3f})"),
        ("AUC range over the 5 folds", f"{min(m.auc_folds):.3f}-{max(m.auc_folds):.3f}"),
        ("Brier score", f"{m.brier:.3f}"),
        ("calibration intercept / slope",
         f"{m.calibration_intercept:+.2f} / {m.calibration_slope:.2f}"),
    ]
    lines = ["| | |", "|---|---|"] + [f"| {a} | {b} |" for a, b in rows]
    lines += ["", "Ablation (cross-validated AUC):", "", "| features | n | AUC |", "|---|---|---|"]
    for a in trained.metadata.ablation:
        auc = f"{a['auc']:.3f}" if a["auc"] is not None else f"n/a ({a.get('note', '')})"
        lines.append(f"| {a['features']} | {a['n_features']} | {auc} |")
    nb = {round(r["threshold"], 2): r for r in trained.metadata.curves.decision}
    lines += ["", "Net benefit (model vs review everyone) at thresholds 10/20/30/40/50%: "
              + ", ".join(f"{t:.0%}: {nb[t]['model']:.3f} vs {nb[t]['treat_all']:.3f}"
                          for t in (0.1, 0.2, 0.3, 0.4, 0.5))]
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
    trained = risk_model.train(cohort, outcome, landmark_days=0)
    features = ", ".join(f"`{f}`" for f in trained.feature_names)
    return "\n".join([
        f"CHOIR (University of Pittsburgh PORT), {cohort.n_patients:,} patients, converted with "
        "`paincycle convert pain.csv.gz --from wide --mapping choir`. Outcome: "
        f"{outcome.describe()} Landmark 0: only the baseline visit is used.",
        "",
        f"Features available at landmark 0: {features}.",
        "",
        metrics_table(trained),
    ])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=8)
    parser.add_argument("--skip-choir", action="store_true")
    args = parser.parse_args()
    synthetic = evaluate_synthetic(args.patients, args.seed)
    print(synthetic)
    write_section("model-synthetic", synthetic, MODEL_MD)
    if not args.skip_choir:
        choir = evaluate_choir()
        print(choir)
        write_section("model-choir", choir, MODEL_MD)


if __name__ == "__main__":
    main()
