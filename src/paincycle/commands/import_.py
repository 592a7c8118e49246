"""paincycle import PATH [--name NAME]"""

from __future__ import annotations

import argparse

from paincycle.cohort import read_cohort
from paincycle.store import CohortStore

NAME = "import"
HELP = "Validate a cohort and store it as a new immutable version; prints the version id."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("path", help="cohort folder or .zip")
    parser.add_argument("--name", default="", help="a short name for the version")


def run(args: argparse.Namespace) -> int:
    cohort = read_cohort(args.path)
    version = CohortStore().save(cohort, name=args.name or _default_name(args.path),
                                 source=str(args.path))
    print(version.id)
    return 0


def _default_name(path: str) -> str:
    from pathlib import Path

    return Path(path).stem
