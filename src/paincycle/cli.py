"""The `paincycle` command. Each subcommand lives in paincycle.commands.<name>.

A subcommand module defines HELP, ``add_arguments(parser)`` and ``run(args) -> int``.
Errors reach the user as one plain message, never a traceback (which could
also carry patient data into a terminal log).
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys

from paincycle import commands
from paincycle.cohort import CohortError


class UserError(Exception):
    """A problem the user can fix (bad path, bad option); shown as a message, exit 1."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="paincycle",
        description="PainCycle: chronic-pain cohort trajectories and withdrawal risk.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"paincycle.commands.{info.name}")
        name = getattr(module, "NAME", info.name)
        sub_parser = sub.add_parser(name, help=module.HELP, description=module.HELP)
        module.add_arguments(sub_parser)
        sub_parser.set_defaults(handler=module.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.handler(args) or 0)
    except CohortError as exc:
        print(f"error: {exc.report.total} problem(s):", file=sys.stderr)
        print(exc.report.summary(50), file=sys.stderr)
        return 1
    except (UserError, FileNotFoundError, KeyError, ValueError) as exc:
        message = exc.args[0] if exc.args else str(exc)
        print(f"error: {message}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # last resort: a clear line, no traceback
        print(f"error: unexpected {type(exc).__name__}; nothing was written. "
              "Please report this with the command you ran.", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
