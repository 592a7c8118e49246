"""Shared fixtures: every test gets its own empty data folder and SQLite database.

``workflow_engine`` runs a test twice: against SQLite in the test's data folder
and against the PostgreSQL server on 127.0.0.1:5432 (database ``test``), in a
schema of its own that is dropped afterwards. Where no PostgreSQL answers the
PostgreSQL half is skipped with a visible reason (CI starts one, so it runs there).
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = Path(__file__).parent / "fixtures"
TINY_COHORT = FIXTURES / "tiny"
SHARED_DATA = ROOT.parent / "shared" / "data"

#: The test server (override with PAINCYCLE_TEST_POSTGRES_URL).
POSTGRES_URL = os.environ.get("PAINCYCLE_TEST_POSTGRES_URL",
                              "postgresql+psycopg://postgres@127.0.0.1:5432/test")
_postgres_problem: list[str | None] = []


@pytest.fixture(autouse=True)
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh PAINCYCLE_DATA_DIR so no test sees another's cohorts or decisions."""
    folder = tmp_path / "data"
    folder.mkdir()
    monkeypatch.setenv("PAINCYCLE_DATA_DIR", str(folder))
    monkeypatch.delenv("PAINCYCLE_DATABASE_URL", raising=False)
    monkeypatch.delenv("PAINCYCLE_ROLES_FILE", raising=False)
    monkeypatch.setenv("PAINCYCLE_ACCESS", "local")  # the app refuses everyone unless a door is chosen
    return folder


@pytest.fixture(autouse=True)
def errors_reach_the_test(monkeypatch: pytest.MonkeyPatch) -> None:
    """AppTest sees a page's exception itself, not the error screen a server shows (ui.errors)."""
    from streamlit import config as st_config

    monkeypatch.setattr("paincycle.ui.errors.REVEAL_TO_TESTS", True)
    st_config.set_option("client.showErrorDetails", "full")  # .streamlit/config.toml says "none"


@pytest.fixture
def tiny_cohort_dir(tmp_path: Path) -> Path:
    """A writable copy of the hand-written three-patient cohort."""
    target = tmp_path / "tiny"
    shutil.copytree(TINY_COHORT, target)
    return target


def postgres_unavailable() -> str | None:
    """Why PostgreSQL cannot be used here, or None when it answers (checked once)."""
    if not _postgres_problem:
        try:
            probe = sa.create_engine(POSTGRES_URL, connect_args={"connect_timeout": 3})
            with probe.connect() as conn:
                conn.execute(sa.text("SELECT 1"))
            probe.dispose()
            _postgres_problem.append(None)
        except Exception as exc:  # any failure means "no server to test against"
            _postgres_problem.append(f"no PostgreSQL at {POSTGRES_URL} ({type(exc).__name__}); "
                                     "run .ci/start-postgres.sh to test that backend")
    return _postgres_problem[0]


@pytest.fixture
def postgres_schema_url() -> Iterator[tuple[str, str]]:
    """(url, schema) of a fresh schema on the test server, dropped after the test."""
    problem = postgres_unavailable()
    if problem:
        pytest.skip(problem)
    from paincycle import database
    from paincycle import schema as workflow_schema

    schema = f"t_{uuid.uuid4().hex[:16]}"
    owner = sa.create_engine(POSTGRES_URL)
    workflow_schema.upgrade(owner, schema)  # as `paincycle db upgrade` does, as the owner
    owner.dispose()
    yield POSTGRES_URL, schema

    database.dispose(POSTGRES_URL, schema)
    admin = sa.create_engine(POSTGRES_URL)
    with admin.begin() as conn:
        conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
    admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def workflow_engine(request: pytest.FixtureRequest, data_dir: Path) -> Iterator[Engine]:
    """The workflow database on each backend, empty, with every table created."""
    from paincycle import config, database

    if request.param == "sqlite":
        url = config.database_url()
        engine = database.get_engine(url)
        yield engine
        database.dispose(url)
    else:
        url, schema = request.getfixturevalue("postgres_schema_url")
        yield database.get_engine(url, schema=schema)
