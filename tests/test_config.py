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
