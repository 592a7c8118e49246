"""paincycle validate PATH"""

from __future__ import annotations

import argparse
import sys

from paincycle.cohort import load_and_validate

HELP = "Check a cohort folder or .zip against the cohort format; list every problem."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("path", help="cohort folder or .zip (patients, observations, events)")


def run(args: argparse.Namespace) -> int:
    cohort, report = load_and_validate(args.path)
    if cohort is None:
        print(f"{args.path}: {report.total} problem(s)", file=sys.stderr)
        print(report.summary(50), file=sys.stderr)
        return 1
    span = cohort.date_range()
    when = f", {span[0]:%Y-%m-%d} to {span[1]:%Y-%m-%d}" if span else ""
    print(f"valid: {cohort.n_patients:,} patients, {len(cohort.observations):,} observations, "
          f"{len(cohort.events):,} events{when}")
    return 0
