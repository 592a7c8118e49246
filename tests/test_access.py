import pytest

from paincycle.access import LOCAL_USER, AccessDenied, Permission, Principal, Role, pseudonym, require


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
