"""paincycle import PATH [--name NAME]"""

from __future__ import annotations

import argparse

from paincycle import services
from paincycle.store import CohortStore

NAME = "import"
HELP = ("Validate a cohort, store it as a new immutable version and prepare its trajectory "
        "analyses and model risks; prints the version id. The team's current version is unchanged unless "
        "--make-team-version is given.")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("path", help="cohort folder or .zip")
    parser.add_argument("--name", default="", help="a short name for the version")
    parser.add_argument("--make-team-version", action="store_true",
                        help="also make it the version every colleague's next session opens")


def run(args: argparse.Namespace) -> int:
    store = CohortStore()
    who = services.cli_principal()
    imported = services.import_cohort(store, args.path, name=args.name or _default_name(args.path),
                                      source=str(args.path), principal=who)
    version = imported.version
    services.prepare_version(store, version.id)  # once now, so the app's first view is quick
    if args.make_team_version:
        services.set_team_version(version.id, store=store, principal=who)
    print(version.id)
    return 0


def _default_name(path: str) -> str:
    from pathlib import Path

    return Path(path).stem
