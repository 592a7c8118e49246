"""paincycle score PATH --model MODEL.skops [--landmark-days 90] --out scores.csv"""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd

from paincycle import config, services
from paincycle import model as risk_model
from paincycle.commands.train import resolve
from paincycle.reports import document

HELP = ("Score every patient with data by the landmark: risk (0-1), flag and top factors, "
        "written as CSV.")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("path", help="cohort folder, .zip, or stored version id/name")
    parser.add_argument("--model", default=str(config.DEMO_MODEL),
                        help="model file (.skops); default: the shipped demo model")
    parser.add_argument("--landmark-days", type=int, default=None,
                        help="score at this landmark (default: the one the model was trained at)")
    parser.add_argument("--threshold", type=float, default=None,
                        help="flag risks at or above this probability (default: the team's threshold "
                             "for this model, else the top 20%%)")
    parser.add_argument("--as-of", default=None,
                        help="date of scoring (default: the cohort's latest record)")
    parser.add_argument("--out", required=True, help="CSV file to write")


def run(args: argparse.Namespace) -> int:
    from paincycle.cli import UserError

    trained = risk_model.load(args.model)
    if args.threshold is not None and not 0 <= args.threshold <= 1:
        raise UserError("--threshold must be a probability between 0 and 1")
    landmark = args.landmark_days if args.landmark_days is not None else trained.landmark_days
    if landmark != trained.landmark_days:
        print(f"warning: the model was trained at day {trained.landmark_days}; scoring at day "
              f"{landmark} makes its risks less reliable")
    cohort, version_id = resolve(args.path)
    as_of = pd.Timestamp(args.as_of) if args.as_of else None
    scores = services.score(trained, cohort, model_path=args.model, landmark_days=landmark,
                            threshold=args.threshold, as_of=as_of,
                            principal=services.cli_principal(), cohort_version=version_id)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    table = scores.table.copy()
    table["risk"] = table["risk"].round(4)
    document.safe_frame(table).to_csv(out, index=False)  # ids that look like formulas stay inert
    print(f"Scored {len(table):,} of {cohort.n_patients:,} patients at day {landmark}; "
          f"flagged {int(table['flagged'].sum()):,} at risk >= {scores.threshold:.1%}.")
    if len(scores.skipped):
        print(f"Skipped {len(scores.skipped):,}:")
        for reason, n in scores.skipped["reason"].value_counts().items():
            print(f"  {n:,} {reason}")
    print(f"Written to {out}. {risk_model.DISCLAIMER}")
    return 0
