"""Sign-in and roles as each kind of user meets them (AppTest's user and secrets settings)."""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from paincycle import audit, database
from paincycle.access import LOCAL_USER, Principal, Role
from paincycle.cohort import read_cohort
from paincycle.store import CohortStore

APP = "../../app.py"
AUDIT_PAGE = "../../pages/audit.py"
AUTH = {"auth": {"redirect_uri": "http://localhost:8501/oauth2callback",
                 "cookie_secret": "test-only-secret", "client_id": "x", "client_secret": "y",
                 "server_metadata_url": "https://id.example/.well-known/openid-configuration"}}
ROLES = """
[roles]
"lee@clinic.example" = "clinician"
"khan@uni.example" = "researcher"
"Boss@Clinic.example" = "admin"
"""


@pytest.fixture(autouse=True)
def tiny_store(tiny_cohort_dir, monkeypatch):
    monkeypatch.setattr("paincycle.config.SAMPLE_COHORT", tiny_cohort_dir.parent / "none")
    CohortStore().save(read_cohort(tiny_cohort_dir), name="tiny")


@pytest.fixture(autouse=True)
def sign_in_door(monkeypatch):
    """These tests configure sign-in (``at.secrets``); the local-mode ones choose local again."""
    monkeypatch.delenv("PAINCYCLE_ACCESS", raising=False)


@pytest.fixture
def local_door(monkeypatch):
    monkeypatch.setenv("PAINCYCLE_ACCESS", "local")


@pytest.fixture
def roles_file(tmp_path: Path, monkeypatch) -> Path:
    path = tmp_path / "roles.toml"
    path.write_text(ROLES)
    monkeypatch.setenv("PAINCYCLE_ROLES_FILE", str(path))
    return path


def _app(user: dict | None, script: str = APP) -> AppTest:
    at = AppTest.from_file(script, default_timeout=60)
    at.secrets = AUTH
    if user is not None:
        at.user = user
    return at.run()


@contextmanager
def streamlit_option(name: str, value):
    """A Streamlit config option set for one test (AppTest runs in this process)."""
    from streamlit import config as st_config

    before = st_config.get_option(name)
    st_config.set_option(name, value)
    try:
        yield
    finally:
        st_config.set_option(name, before)


def _signed_in(email: str) -> dict:
    return {"is_logged_in": True, "email": email, "email_verified": True,
            "name": email.split("@")[0]}


def _texts(at: AppTest) -> str:
    parts = [m.value for m in (*at.markdown, *at.caption, *at.info, *at.error, *at.title)]
    return "\n".join(str(p) for p in parts)


def test_local_mode_says_so_and_acts_as_admin(local_door):
    at = AppTest.from_file(APP, default_timeout=60).run()
    assert not at.exception
    local = "\n".join(i.value for i in at.sidebar.info)
    assert "Local single-user mode" in local
    assert "the single local user, with the **admin** role" in local
    assert [m.value for m in at.metric][:1] == ["3"]
    at.switch_page("pages/audit.py").run()
    assert not at.exception
    assert at.title[0].value.endswith("Audit log")


def test_stranger_sees_only_the_sign_in_button(roles_file):
    at = _app({"is_logged_in": False})
    assert not at.exception
    assert [b.label for b in at.button] == ["Sign in"]
    assert not at.metric, "no cohort figures before sign-in"
    assert "Local single-user mode" not in _texts(at)


def test_signed_in_user_without_a_role_is_refused_and_recorded(roles_file, data_dir):
    at = _app(_signed_in("someone@else.example"))
    assert not at.exception
    assert "has no role in PainCycle" in _texts(at)
    assert not at.metric
    log = audit.entries(database.get_engine(), LOCAL_USER)
    assert list(log["action"]) == ["access_denied"]
    assert list(log["user"]) == ["someone@else.example"]
    assert list(log["role"]) == ["none"], "a refused stranger is not recorded as a researcher"


def test_unverified_email_is_refused(roles_file):
    at = _app({**_signed_in("lee@clinic.example"), "email_verified": False})
    assert "not confirmed that this email address is verified" in _texts(at)
    assert not at.metric


def test_an_email_not_said_to_be_verified_is_refused(roles_file):
    """A provider that says nothing about verification has not verified the address."""
    user = {k: v for k, v in _signed_in("boss@clinic.example").items() if k != "email_verified"}
    at = _app(user)
    assert "not confirmed that this email address is verified" in _texts(at)
    assert not at.metric


def test_sign_in_is_recorded_once_per_session(roles_file):
    at = _app(_signed_in("lee@clinic.example"))
    at.run()
    log = audit.entries(database.get_engine(), LOCAL_USER, action="sign_in")
    assert list(log["user"]) == ["lee@clinic.example"]
    assert list(log["role"]) == ["clinician"]


def test_missing_roles_file_lets_nobody_in(tmp_path, monkeypatch):
    monkeypatch.setenv("PAINCYCLE_ROLES_FILE", str(tmp_path / "absent.toml"))
    at = _app(_signed_in("lee@clinic.example"))
    assert "no readable roles file" in _texts(at)
    assert not at.metric


@pytest.mark.parametrize("email, role", [("lee@clinic.example", "clinician"),
                                         ("khan@uni.example", "researcher"),
                                         ("boss@clinic.example", "admin")])
def test_each_role_signs_in_and_is_named_in_the_sidebar(roles_file, email, role):
    at = _app(_signed_in(email))
    assert not at.exception
    name = email.split("@")[0]
    assert any(f"**{name}** · role: **{role}**" in m.value for m in at.sidebar.markdown), \
        "the role beside the person's name"
    assert any(f"Signed in as {email}" in c.value for c in at.sidebar.caption)
    assert [m.value for m in at.metric][:1] == ["3"]
    assert "Sign out" in [b.label for b in at.sidebar.button]


@pytest.mark.parametrize("email", ["lee@clinic.example", "khan@uni.example"])
def test_audit_log_is_refused_to_non_admins_even_by_direct_url(roles_file, email):
    audit.record(database.get_engine(), Principal("x", Role.CLINICIAN), "view_patient", "P001")
    at = _app(_signed_in(email), AUDIT_PAGE)
    assert not at.exception
    assert "may not view the audit log" in _texts(at)
    assert not at.dataframe


def test_audit_page_is_not_in_a_clinicians_menu(roles_file):
    at = _app(_signed_in("lee@clinic.example"))
    with pytest.raises(ValueError, match="Could not find a navigation page"):
        at.switch_page("pages/audit.py")
    admin = _app(_signed_in("boss@clinic.example"))
    admin.switch_page("pages/audit.py").run()
    assert admin.title[0].value.endswith("Audit log")


def test_admin_sees_the_audit_log(roles_file):
    audit.record(database.get_engine(), Principal("lee@clinic.example", Role.CLINICIAN),
                 "view_patient", "P001", "v1")
    at = _app(_signed_in("boss@clinic.example"), AUDIT_PAGE)
    assert not at.exception
    assert at.metric[0].value == "3"  # the clinician's view, the admin's sign-in and own look
    assert len(at.dataframe) == 1
    log = at.dataframe[0].value
    assert log["action"].tolist() == ["view_audit", "sign_in", "view_patient"]
    assert log["user"].tolist() == ["boss@clinic.example"] * 2 + ["lee@clinic.example"]
    assert log["patient_id"].tolist()[2] == "P001"


def test_local_mode_refuses_to_serve_the_network(local_door):
    """No sign-in but listening beyond 127.0.0.1: the app shows nothing but the reason."""
    with streamlit_option("server.address", "0.0.0.0"):
        at = AppTest.from_file(APP, default_timeout=60).run()
        assert not at.exception
        assert "only serves this computer" in _texts(at)
        assert not at.metric
        with pytest.raises(ValueError, match="Could not find a navigation page"):
            at.switch_page("pages/home.py")


def test_patient_drill_down_is_audited_once_and_refused_to_researchers(roles_file):
    engine = database.get_engine()
    at = _app(_signed_in("lee@clinic.example"))
    at.switch_page("pages/patient.py").run()
    assert not at.exception
    at.run()
    views = audit.entries(engine, LOCAL_USER, action="view_patient")
    assert list(views["user"]) == ["lee@clinic.example"], "one row per session, not per rerun"
    assert views["patient_id"].item() == "P001"
    assert views["cohort_version"].item() == CohortStore().latest().id

    at = _app(_signed_in("khan@uni.example"))
    at.switch_page("pages/patient.py").run()
    assert not at.exception
    assert "may not view identified patient records" in _texts(at)
    assert len(audit.entries(engine, LOCAL_USER, action="view_patient")) == 1


def test_researcher_sees_the_cohort_table_with_pseudonyms_only(roles_file):
    at = _app(_signed_in("khan@uni.example"))
    at.switch_page("pages/cohort.py").run()
    assert not at.exception
    table = at.dataframe[-1].value
    assert "link" not in table.columns and "patient_id" not in table.columns
    assert table["pseudonym"].str.startswith("PX-").all()
    assert not {"P001", "P002", "P003"} & set(table["pseudonym"])

    at = _app(_signed_in("lee@clinic.example"))
    at.switch_page("pages/cohort.py").run()
    links = at.dataframe[-1].value["link"]
    assert set(links.str.rsplit("=", n=1).str[-1]) == {"P001", "P002", "P003"}


def test_no_door_chosen_lets_nobody_in():
    """Neither PAINCYCLE_ACCESS=local nor sign-in: refused, not local mode by default."""
    at = AppTest.from_file(APP, default_timeout=60).run()
    assert not at.exception
    assert "lets nobody in" in _texts(at)
    assert not at.metric
    assert "Local single-user mode" not in _texts(at)


def test_a_broken_secrets_file_refuses_everyone_even_in_local_mode(local_door, tmp_path):
    """One missing quote in secrets.toml must not turn sign-in off (it once opened the app)."""
    broken = tmp_path / "secrets.toml"
    broken.write_text('[auth]\ncookie_secret = "abc\nclient_id = "x"\n')
    with streamlit_option("secrets.files", [str(broken)]):
        at = AppTest.from_file(APP, default_timeout=60).run()
        assert not at.exception
        text = _texts(at)
        assert "cannot be read" in text and "Nobody is let in" in text
        assert "abc" not in text, "the secret's text is never shown"
        assert not at.metric
        with pytest.raises(ValueError, match="Could not find a navigation page"):
            at.switch_page("pages/audit.py")


def test_local_mode_with_sign_in_configured_refuses(local_door):
    at = _app({"is_logged_in": True, "email": "boss@clinic.example", "email_verified": True})
    assert "remove one of the two" in _texts(at)
    assert not at.metric


@pytest.mark.parametrize("address", ["", "0.0.0.0", "::"])
def test_local_mode_refuses_every_address_off_this_computer(local_door, address):
    """The empty address listens on every interface, so it is not "local"."""
    with streamlit_option("server.address", address):
        at = AppTest.from_file(APP, default_timeout=60).run()
        assert "only serves this computer" in _texts(at)
        assert not at.metric
