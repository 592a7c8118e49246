"""Where PainCycle keeps its files and its database, from the environment."""

from __future__ import annotations

import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[2]
SAMPLE_COHORT = PROJECT_ROOT / "sample_data" / "demo"
DEMO_MODEL = PROJECT_ROOT / "models" / "demo.skops"


def data_dir() -> Path:
    """The data folder (PAINCYCLE_DATA_DIR, default ./data): cohort versions and the SQLite DB."""
    folder = Path(os.environ.get("PAINCYCLE_DATA_DIR", "data")).expanduser()
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def database_url() -> str:
    """PAINCYCLE_DATABASE_URL, or a SQLite file in the data folder."""
    url = os.environ.get("PAINCYCLE_DATABASE_URL")
    if url:
        return url
    return f"sqlite:///{(data_dir() / 'paincycle.db').resolve()}"
