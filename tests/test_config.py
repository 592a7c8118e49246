"""The one settings object: every PAINCYCLE_* variable validated, nothing guessed."""

from __future__ import annotations

from pathlib import Path

import pytest

from paincycle.config import AccessMode, Settings, SettingsError


def test_defaults_and_values():
    assert Settings.from_environ({}) == Settings()
    chosen = Settings.from_environ({"PAINCYCLE_DATA_DIR": "/srv/pc", "PAINCYCLE_ACCESS": "local",
                                    "PAINCYCLE_ALLOWED_HOSTS": "a.example, B.example,",
                                    "PAINCYCLE_ROLES_FILE": " ", "UNRELATED": "x"})
    assert chosen.data_dir == Path("/srv/pc")
    assert chosen.access is AccessMode.LOCAL
    assert chosen.allowed_hosts == ("a.example", "b.example")
    assert chosen.roles_file is None, "an empty variable counts as unset"
    assert chosen.resolved_database_url() == "sqlite:////srv/pc/paincycle.db"


@pytest.mark.parametrize("variable, value", [("PAINCYCLE_ACCESS", "open"),
                                             ("PAINCYCLE_ACCESS", "LOCAL "),
                                             ("PAINCYCLE_DATABASE_URL", "mysql://x")])
def test_a_value_not_understood_refuses_naming_the_variable(variable, value):
    with pytest.raises(SettingsError, match=variable):
        Settings.from_environ({variable: value})


def test_settings_cannot_be_changed_after_reading():
    from pydantic import ValidationError

    with pytest.raises(ValidationError):
        Settings().access = AccessMode.LOCAL  # type: ignore[misc]


@pytest.mark.parametrize("variable, value", [
    ("PAINCYCLE_ENGINE", "postgres"), ("PAINCYCLE_ENGINE", "DuckDB"),
    ("PAINCYCLE_SPARK_MASTER", "http://cluster:7077"),
    ("PAINCYCLE_STORE_URL", "s3://bucket/cohorts"), ("PAINCYCLE_STORE_URL", "ftp://host/x")])
def test_an_engine_or_store_not_understood_refuses(variable, value):
    with pytest.raises(SettingsError, match=variable):
        Settings.from_environ({variable: value})


def test_engine_and_store_defaults_and_choices(tmp_path):
    default = Settings.from_environ({"PAINCYCLE_DATA_DIR": str(tmp_path)})
    assert default.engine == "duckdb" and default.resolved_store() == tmp_path / "cohorts"
    chosen = Settings.from_environ({"PAINCYCLE_ENGINE": "spark",
                                    "PAINCYCLE_SPARK_MASTER": "spark://analytics:7077",
                                    "PAINCYCLE_STORE_URL": f"file://{tmp_path}/shared"})
    assert chosen.engine == "spark" and chosen.spark_master == "spark://analytics:7077"
    assert chosen.resolved_store() == tmp_path / "shared"


def test_a_store_folder_that_is_not_there_refuses(tmp_path, monkeypatch):
    """A share that failed to mount must not silently become an empty local store."""
    from paincycle import config

    monkeypatch.setenv("PAINCYCLE_STORE_URL", str(tmp_path / "not-mounted"))
    with pytest.raises(SettingsError, match="PAINCYCLE_STORE_URL"):
        config.store_root()
    assert not (tmp_path / "not-mounted").exists()
    (tmp_path / "mounted").mkdir()
    monkeypatch.setenv("PAINCYCLE_STORE_URL", str(tmp_path / "mounted"))
    assert config.store_root() == tmp_path / "mounted"


def test_the_configured_engine_is_duckdb_by_default(monkeypatch):
    from paincycle import engine as engines

    monkeypatch.delenv("PAINCYCLE_ENGINE", raising=False)
    assert engines.configured().name == "duckdb"
    monkeypatch.setenv("PAINCYCLE_ENGINE", "sqlite")
    with pytest.raises(SettingsError, match="PAINCYCLE_ENGINE"):
        engines.configured()
