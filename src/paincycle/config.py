"""The deployment's settings, read once per call from the environment into one typed object.

Every ``PAINCYCLE_*`` variable is read here and nowhere else, and validated by
pydantic: a value that is not understood refuses with the variable's name
(fail closed), it is never ignored or replaced by a default.

| variable | meaning |
|---|---|
| ``PAINCYCLE_DATA_DIR`` | cohort versions, models and the SQLite database (default ``./data``) |
| ``PAINCYCLE_DATABASE_URL`` | the workflow database (default: SQLite in the data folder) |
| ``PAINCYCLE_ROLES_FILE`` | email -> role, for sign-in mode |
| ``PAINCYCLE_ACCESS`` | ``local`` (one user on this computer) or ``sign-in``; see ``paincycle.gate`` |
| ``PAINCYCLE_ALLOWED_HOSTS`` | comma-separated host names the app answers to behind a proxy |
| ``PAINCYCLE_IMPORT_MEMORY_GB`` | the memory one import may need (estimated from the files before reading; default 12) |
| ``PAINCYCLE_TIMEZONE`` | the clinic's time zone for every time shown or exported (IANA name such as ``Europe/Berlin``; default: this computer's zone) |
| ``PAINCYCLE_ENGINE`` | where the cohort analyses run: ``duckdb`` (embedded, the default) or ``spark`` |
| ``PAINCYCLE_SPARK_MASTER`` | the Spark master with ``PAINCYCLE_ENGINE=spark`` (``spark://host:7077``, ``yarn``, ``k8s://...``; default ``local[2]``) |
| ``PAINCYCLE_STORE_URL`` | the cohort store (a folder or ``file://`` URL, e.g. shared storage mounted on every server; default ``<data dir>/cohorts``) |
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from enum import StrEnum
from importlib import resources
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

#: The checkout the app runs from (its .streamlit/ folder); not used to find bundled files.
PROJECT_ROOT = Path(__file__).resolve().parents[2]
#: Files that ship inside the package (bundled/ links to the top-level sample_data/ and
#: models/ in a checkout; a wheel holds copies), found the same way installed or not.
_BUNDLED = Path(str(resources.files("paincycle") / "bundled"))
SAMPLE_COHORT = _BUNDLED / "demo"
DEMO_MODEL = _BUNDLED / "models" / "demo.skops"
#: The weekly (earliest-warning) model trained on the demo cohort (paincycle.weekly_model).
WEEKLY_MODEL = _BUNDLED / "models" / "demo-weekly.skops"


class AccessMode(StrEnum):
    """How people reach the app; chosen by whoever deploys it, never guessed."""

    LOCAL = "local"
    SIGN_IN = "sign-in"


class AnalysisEngine(StrEnum):
    """Where the cohort analyses run (paincycle.engine)."""

    DUCKDB = "duckdb"
    SPARK = "spark"


#: Spark master URLs understood (Spark's own forms); anything else refuses.
SPARK_MASTERS = ("local", "spark://", "yarn", "k8s://", "mesos://")
#: Object-storage schemes: read through a mounted folder, not by URL (see _known_store).
OBJECT_STORAGE = ("s3://", "s3a://", "gs://", "gcs://", "abfs://", "abfss://", "az://",
                  "http://", "https://")


class SettingsError(ValueError):
    """A setting is present but not understood: the app and the CLI refuse to start."""


_VARIABLES = {
    "data_dir": "PAINCYCLE_DATA_DIR",
    "database_url": "PAINCYCLE_DATABASE_URL",
    "roles_file": "PAINCYCLE_ROLES_FILE",
    "access": "PAINCYCLE_ACCESS",
    "allowed_hosts": "PAINCYCLE_ALLOWED_HOSTS",
    "import_memory_gb": "PAINCYCLE_IMPORT_MEMORY_GB",
    "timezone": "PAINCYCLE_TIMEZONE",
    "engine": "PAINCYCLE_ENGINE",
    "spark_master": "PAINCYCLE_SPARK_MASTER",
    "store_url": "PAINCYCLE_STORE_URL",
}


class Settings(BaseModel):
    """What the deployment chose; empty variables count as unset."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    data_dir: Path = Path("data")
    database_url: str | None = None
    roles_file: Path | None = None
    access: AccessMode | None = None
    allowed_hosts: tuple[str, ...] = Field(default=())
    import_memory_gb: float = Field(default=12.0, gt=0, le=1024)
    timezone: str | None = None
    engine: AnalysisEngine = AnalysisEngine.DUCKDB
    spark_master: str = "local[2]"
    store_url: str | None = None

    @field_validator("spark_master")
    @classmethod
    def _known_master(cls, value: str) -> str:
        if not value.startswith(SPARK_MASTERS):
            raise ValueError(f"not a Spark master URL (starts with one of {', '.join(SPARK_MASTERS)})")
        return value

    @field_validator("store_url")
    @classmethod
    def _known_store(cls, value: str | None) -> str | None:
        """A folder or a file:// URL. Object storage is refused by URL: the engines would need
        network extensions and credentials in the app; mount it as a folder instead."""
        if value is None:
            return None
        if value.lower().startswith(OBJECT_STORAGE):
            raise ValueError("object storage by URL is not supported: mount the bucket as a "
                             "folder on every server (for example with s3fs or gcsfuse) and "
                             "give that folder")
        if "://" in value and not value.startswith("file://"):
            raise ValueError("must be a folder or a file:// URL")
        return value

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError("not a time zone name (use an IANA name such as Europe/Berlin)") from None
        return value

    @field_validator("allowed_hosts", mode="before")
    @classmethod
    def _split_hosts(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(h.strip().lower() for h in value.split(",") if h.strip())
        return value

    @field_validator("database_url")
    @classmethod
    def _known_database(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("sqlite", "postgresql")):
            raise ValueError("must be a sqlite:/// or postgresql:// URL")
        return value

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] | None = None) -> Settings:
        environ = os.environ if environ is None else environ
        values = {field: environ[name].strip() for field, name in _VARIABLES.items()
                  if environ.get(name, "").strip()}
        try:
            return cls(**values)
        except ValidationError as exc:
            problems = "; ".join(
                f"{_VARIABLES.get(str(e['loc'][0]), e['loc'][0])}: {_reason(e)}"
                for e in exc.errors())
            raise SettingsError(f"PainCycle's settings are not valid ({problems})") from None

    def resolved_store(self) -> Path:
        """The cohort store's folder: PAINCYCLE_STORE_URL, or ``cohorts`` in the data folder."""
        if self.store_url:
            return Path(self.store_url.removeprefix("file://")).expanduser()
        return self.data_dir.expanduser() / "cohorts"

    def resolved_database_url(self) -> str:
        """The workflow database: PAINCYCLE_DATABASE_URL, or a SQLite file in the data folder."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir.expanduser() / 'paincycle.db').resolve()}"


_CHOICES: dict[str, type[StrEnum]] = {"access": AccessMode, "engine": AnalysisEngine}


def _reason(error: Mapping) -> str:
    if error.get("type") == "enum" and str(error["loc"][0]) in _CHOICES:
        return f"use one of {', '.join(m.value for m in _CHOICES[str(error['loc'][0])])}"
    return str(error.get("msg", "not understood"))


def settings() -> Settings:
    """The settings in force now (read afresh: cheap, and tests change the environment)."""
    return Settings.from_environ()


def data_dir() -> Path:
    """The data folder: cohort versions, models and the SQLite database; created if absent."""
    folder = settings().data_dir.expanduser()
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def database_url() -> str:
    """PAINCYCLE_DATABASE_URL, or a SQLite file in the data folder."""
    data_dir()
    return settings().resolved_database_url()


def store_root() -> Path:
    """Where cohort versions are kept (PAINCYCLE_STORE_URL or the data folder's ``cohorts``)."""
    chosen = settings()
    root = chosen.resolved_store()
    if chosen.store_url is None:
        data_dir()
    elif not root.is_dir():
        # a share that failed to mount must not become an empty local store that imports fill
        raise SettingsError(f"PAINCYCLE_STORE_URL: {root} is not a folder (is the share mounted?)")
    return root
