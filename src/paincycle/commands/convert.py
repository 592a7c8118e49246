"""paincycle convert --from {redcap,fhir,synthea,wide} INPUT [--mapping FILE] --out DIR"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

from paincycle import importers
from paincycle.cli import UserError
from paincycle.cohort import write_cohort

HELP = ("Convert a REDCap, FHIR R4, Synthea or wide registry export into a validated cohort "
        "folder.")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--from", dest="kind", required=True, choices=list(importers.KINDS),
                        help="what INPUT is: " + "; ".join(f"{k}: {v}" for k, v in importers.KINDS.items()))
    parser.add_argument("input", help="the export: a file, a folder or a .zip (.gz files are unpacked)")
    parser.add_argument("--mapping", help="TOML or YAML mapping file, or a shipped one by name "
                        f"({', '.join(importers.shipped()) or 'none'}); needed for redcap and wide")
    parser.add_argument("--out", required=True, help="folder to write the cohort into")
    parser.add_argument("--format", choices=("csv", "parquet"), default="csv",
                        help="table format of the cohort folder (default csv)")


def run(args: argparse.Namespace) -> int:
    if importers.needs_mapping(args.kind) and not args.mapping:
        raise UserError(f"--from {args.kind} needs --mapping FILE (see docs/importers.md; "
                        f"shipped: {', '.join(importers.shipped())})")
    out = Path(args.out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise UserError(f"{out} already exists and is not an empty folder; choose a new --out")
    mapping = importers.load_mapping(args.mapping) if args.mapping else None
    result = importers.convert(args.kind, args.input, mapping)
    # Write beside the target and rename, so a failure never leaves half a cohort.
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".convert-", dir=out.parent))
    try:
        write_cohort(result.cohort, staging, fmt=args.format)
        if result.cohort.events.empty:  # events are optional; an empty table would not re-validate
            (staging / f"events.{args.format}").unlink(missing_ok=True)
        if out.exists():
            out.rmdir()
        staging.rename(out)
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    for notice in result.notices:
        print(f"note: {notice}", file=sys.stderr)
    cohort = result.cohort
    print(f"wrote {out}: {cohort.n_patients:,} patients, {len(cohort.observations):,} observations, "
          f"{len(cohort.events):,} events")
    return 0
