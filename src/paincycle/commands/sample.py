"""paincycle sample --patients N --seed S --out DIR"""

from __future__ import annotations

import argparse
from pathlib import Path

HELP = ("Write a synthetic chronic-pain cohort (patients, observations, events as Parquet); "
        "the same seed always gives the same cohort. Not real patients.")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--patients", type=int, default=1000,
                        help="number of synthetic patients (default 1000)")
    parser.add_argument("--seed", type=int, default=7, help="random seed (default 7)")
    parser.add_argument("--out", required=True, help="folder to write the Parquet tables into")


def run(args: argparse.Namespace) -> int:
    from paincycle.synth import write_sample

    if args.patients < 1:
        raise ValueError("--patients must be at least 1")
    out = write_sample(args.patients, args.seed, Path(args.out))
    print(f"wrote {args.patients:,} synthetic patients to {out}")
    return 0
