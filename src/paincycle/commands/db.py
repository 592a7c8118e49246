"""paincycle db upgrade [--url URL] [--schema NAME] [--app-role ROLE]"""

from __future__ import annotations

import argparse

import sqlalchemy as sa

from paincycle import config, schema

HELP = ("Create or upgrade the workflow database's schema, as its owner; optionally grant an "
        "app role SELECT and INSERT only (PostgreSQL).")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="db_command", required=True, metavar="ACTION")
    upgrade = sub.add_parser("upgrade", help="run every migration not yet applied")
    upgrade.add_argument("--url", default=None,
                         help="the owner's database URL (default: PAINCYCLE_DATABASE_URL)")
    upgrade.add_argument("--schema", default=None, help="PostgreSQL schema (default: public)")
    upgrade.add_argument("--app-role", default=None,
                         help="PostgreSQL role the app connects as: granted SELECT, INSERT")


def run(args: argparse.Namespace) -> int:
    engine = sa.create_engine(args.url or config.database_url(), hide_parameters=True)
    try:
        revision = schema.upgrade(engine, args.schema, app_role=args.app_role)
    finally:
        engine.dispose()
    granted = f"; {args.app_role} may SELECT and INSERT" if args.app_role else ""
    print(f"the workflow database is at schema revision {revision}{granted}")
    return 0
