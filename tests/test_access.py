import pytest

from paincycle.access import (
    LOCAL_USER,
    AccessDenied,
    Permission,
    Principal,
    Role,
    pseudonym,
    require,
)


def test_researcher_sees_only_deidentified_data():
    researcher = Principal("r@uni", Role.RESEARCHER)
    assert require(researcher, Permission.EXPORT_DEIDENTIFIED) is researcher
    with pytest.raises(AccessDenied, match="researcher role may not view identified"):
        require(researcher, Permission.VIEW_IDENTIFIED)


def test_only_admin_imports_and_retrains():
    clinician = Principal("c@clinic", Role.CLINICIAN)
    assert clinician.can(Permission.RECORD_DECISION)
    assert not clinician.can(Permission.IMPORT_DATA)
    assert Principal("a", Role.ADMIN).can(Permission.TRAIN_MODEL)
    assert require(None, Permission.VIEW_AUDIT) == LOCAL_USER


def test_pseudonyms_are_stable_per_salt():
    assert pseudonym("P001", "s1") == pseudonym("P001", "s1")
    assert pseudonym("P001", "s1") != pseudonym("P001", "s2")
    assert pseudonym("P001", "s1") != pseudonym("P002", "s1")
    assert "P001" not in pseudonym("P001", "s1")


def test_roles_file_toml_and_yaml(tmp_path):
    from paincycle.access import load_roles, principal_for

    toml = tmp_path / "roles.toml"
    toml.write_text('[roles]\n"Lee@Clinic.example" = "Clinician"\n"r@uni" = "researcher"\n')
    roles = load_roles(toml)
    assert principal_for("lee@clinic.EXAMPLE", roles) == Principal("lee@clinic.EXAMPLE",
                                                                  Role.CLINICIAN)
    assert principal_for("stranger@x", roles) is None
    assert principal_for(None, roles) is None
    yaml_file = tmp_path / "roles.yaml"
    yaml_file.write_text("a@clinic: admin\n")
    assert load_roles(yaml_file) == {"a@clinic": Role.ADMIN}


@pytest.mark.parametrize("text, message", [
    ('"x@y" = "superuser"', "unknown role 'superuser'"),
    ("not = [valid", "not valid"),
    ("", None),
])
def test_bad_roles_files_fail_closed(tmp_path, text, message):
    from paincycle.access import RolesFileError, load_roles

    path = tmp_path / "roles.toml"
    path.write_text(text)
    if message is None:
        assert load_roles(path) == {}
        return
    with pytest.raises(RolesFileError, match=message):
        load_roles(path)
    with pytest.raises(RolesFileError, match="cannot read"):
        load_roles(tmp_path / "missing.toml")
