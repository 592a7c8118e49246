"""paincycle import PATH [--name NAME]"""

from __future__ import annotations

import argparse

from paincycle import analyses
from paincycle.cohort import read_cohort
from paincycle.store import CohortStore

NAME = "import"
HELP = ("Validate a cohort, store it as a new immutable version and prepare its trajectory "
        "analyses; prints the version id.")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("path", help="cohort folder or .zip")
    parser.add_argument("--name", default="", help="a short name for the version")


def run(args: argparse.Namespace) -> int:
    store = CohortStore()
    cohort = read_cohort(args.path)
    version = store.save(cohort, name=args.name or _default_name(args.path), source=str(args.path))
    del cohort  # the analyses read the stored, compact form
    analyses.prepared(store, version.id)  # once now, so the app's first view of it is quick
    print(version.id)
    return 0


def _default_name(path: str) -> str:
    from pathlib import Path

    return Path(path).stem
