"""The `paincycle` command. Each subcommand lives in paincycle.commands.<name>.

A subcommand module defines HELP, ``add_arguments(parser)`` and ``run(args) -> int``.
Errors reach the user as one plain message, never a traceback (which could
also carry patient data into a terminal log).
"""

from __future__ import annotations

import argparse
import ast
import importlib
import pkgutil
import sys
from pathlib import Path

from paincycle import commands
from paincycle.cohort import CohortError
from paincycle.schema import DatabaseNotReady
from paincycle.store import StoreIntegrityError


class UserError(Exception):
    """A problem the user can fix (bad path, bad option); shown as a message, exit 1."""


def _command_table() -> dict[str, tuple[str, str]]:
    """Command name -> (module, help), read from the modules' source without importing them.

    Importing every command would load scikit-learn, Altair and the PDF writer just
    to print --help; only the command being run is imported.
    """
    table = {}
    for info in pkgutil.iter_modules(commands.__path__):
        source = Path(commands.__path__[0], f"{info.name}.py").read_text()
        constants = {
            node.targets[0].id: node.value.value
            for node in ast.parse(source).body
            if isinstance(node, ast.Assign) and len(node.targets) == 1
            and isinstance(node.targets[0], ast.Name) and isinstance(node.value, ast.Constant)
        }
        table[constants.get("NAME", info.name)] = (info.name, constants.get("HELP", ""))
    return dict(sorted(table.items()))


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The parser; ``command``'s own options are loaded (all commands' when None)."""
    parser = argparse.ArgumentParser(
        prog="paincycle",
        description="PainCycle: chronic-pain cohort trajectories and withdrawal risk.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, (module_name, help_text) in _command_table().items():
        sub_parser = sub.add_parser(name, help=help_text, description=help_text)
        if command is None or command == name:
            module = importlib.import_module(f"paincycle.commands.{module_name}")
            module.add_arguments(sub_parser)
            sub_parser.set_defaults(handler=module.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    chosen = next((a for a in argv if not a.startswith("-")), None)
    args = build_parser(chosen or "").parse_args(argv)
    try:
        return int(args.handler(args) or 0)
    except CohortError as exc:
        print(f"error: {exc.report.total} problem(s):", file=sys.stderr)
        print(exc.report.summary(50), file=sys.stderr)
        return 1
    except (UserError, FileNotFoundError, KeyError, ValueError, StoreIntegrityError,
            DatabaseNotReady) as exc:
        message = exc.args[0] if exc.args else str(exc)
        print(f"error: {message}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except OSError as exc:  # a full disk, a read-only folder: say which and why, not "please report"
        where = f" ({exc.filename})" if exc.filename else ""
        print(f"error: the operating system refused{where}: {exc.strerror or type(exc).__name__}; "
              "nothing was written.", file=sys.stderr)
        return 1
    except Exception as exc:  # last resort: a clear line, no traceback
        print(f"error: unexpected {type(exc).__name__}; nothing was written. "
              "Please report this with the command you ran.", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
