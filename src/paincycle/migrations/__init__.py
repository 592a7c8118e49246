"""Schema changes of the workflow database, as Alembic migrations (see paincycle.schema)."""
