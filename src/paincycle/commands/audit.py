"""paincycle audit verify [--expect HASH]"""

from __future__ import annotations

import argparse
import sys

from paincycle import services

HELP = ("Check the audit log's hash chain end to end: exit 0 if intact, 1 naming the first "
        "entry that was changed or removed.")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="audit_command", required=True, metavar="ACTION")
    verify = sub.add_parser("verify", help="recompute every link of the chain")
    verify.add_argument("--expect", default=None, metavar="HASH",
                        help="a head hash noted down earlier: the log must still contain it")


def run(args: argparse.Namespace) -> int:
    report = services.verify_audit_log(services.cli_principal(), expect=args.expect)
    if report.intact:
        print(f"intact: {report.entries:,} entries; head {report.head_hash}")
        print("Note the head down somewhere else: `--expect` it next time to detect a rewrite.")
        return 0
    print(f"BROKEN after {report.entries:,} good entries: {report.problem}", file=sys.stderr)
    return 1
