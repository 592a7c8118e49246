"""Subcommands of the `paincycle` CLI, one module each (discovered by paincycle.cli)."""
