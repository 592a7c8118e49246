"""Shared fixtures: every test gets its own empty data folder and SQLite database."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = Path(__file__).parent / "fixtures"
TINY_COHORT = FIXTURES / "tiny"
SHARED_DATA = ROOT.parent / "shared" / "data"


@pytest.fixture(autouse=True)
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh PAINCYCLE_DATA_DIR so no test sees another's cohorts or decisions."""
    folder = tmp_path / "data"
    folder.mkdir()
    monkeypatch.setenv("PAINCYCLE_DATA_DIR", str(folder))
    monkeypatch.delenv("PAINCYCLE_DATABASE_URL", raising=False)
    return folder


@pytest.fixture
def tiny_cohort_dir(tmp_path: Path) -> Path:
    """A writable copy of the hand-written three-patient cohort."""
    target = tmp_path / "tiny"
    shutil.copytree(TINY_COHORT, target)
    return target
