"""The door decided before any page runs: every unclear case refuses (paincycle.gate)."""

from __future__ import annotations

import pytest

from paincycle.gate import Door, SecretsState, decide, host_name, read_secrets

LOCAL = {"PAINCYCLE_ACCESS": "local"}
NO_AUTH = SecretsState(has_auth=False)
AUTH = SecretsState(has_auth=True)
BROWSER = {"Host": "127.0.0.1:8501", "User-Agent": "Mozilla/5.0"}


def _door(environ, secrets=NO_AUTH, address="127.0.0.1", headers=BROWSER):
    return decide(environ, secrets, server_address=address, request_headers=headers)


def test_local_mode_on_loopback_from_a_loopback_host_is_let_in():
    assert _door(LOCAL).door is Door.LOCAL
    assert _door(LOCAL, headers={"host": "localhost:8501"}).door is Door.LOCAL
    assert _door(LOCAL, address="::1", headers={"Host": "[::1]:8501"}).door is Door.LOCAL


@pytest.mark.parametrize("host", ["evil.example:8501", "evil.example", "127.0.0.1.evil.example",
                                  "localhost.evil.example:8501", "10.0.0.5:8501", ""])
def test_dns_rebinding_is_refused_in_local_mode(host):
    """A page that rebinds its name to 127.0.0.1 still sends its own name as Host."""
    decision = _door(LOCAL, headers={"Host": host, "User-Agent": "x"})
    assert decision.door is Door.REFUSED
    assert "not addressed to this computer" in decision.reason
    assert "evil" not in decision.reason, "request text is never repeated back"


def test_a_browser_request_without_host_is_refused_in_local_mode():
    assert _door(LOCAL, headers={"User-Agent": "x"}).door is Door.REFUSED


@pytest.mark.parametrize("address", [None, "", " ", "0.0.0.0", "::", "192.168.1.4", "pc.local"])
def test_local_mode_bound_off_loopback_is_refused(address):
    decision = _door(LOCAL, address=address)
    assert decision.door is Door.REFUSED
    assert "not bound to 127.0.0.1" in decision.reason


def test_nothing_chosen_refuses():
    decision = _door({})
    assert decision.door is Door.REFUSED
    assert "Neither sign-in nor local mode" in decision.reason


def test_an_unknown_access_value_refuses_naming_the_variable():
    decision = _door({"PAINCYCLE_ACCESS": "open"})
    assert decision.door is Door.REFUSED
    assert "PAINCYCLE_ACCESS" in decision.reason and "local, sign-in" in decision.reason


def test_sign_in_configured_means_sign_in_and_local_plus_sign_in_refuses():
    assert _door({}, AUTH).door is Door.SIGN_IN
    assert _door({"PAINCYCLE_ACCESS": "sign-in"}, AUTH).door is Door.SIGN_IN
    assert _door(LOCAL, AUTH).door is Door.REFUSED
    assert _door({"PAINCYCLE_ACCESS": "sign-in"}, NO_AUTH).door is Door.REFUSED


def test_a_secrets_problem_refuses_whatever_was_chosen():
    broken = SecretsState(has_auth=False, problem="the secrets file x cannot be read")
    for environ in (LOCAL, {}, {"PAINCYCLE_ACCESS": "sign-in"}):
        assert _door(environ, broken).door is Door.REFUSED


def test_allowed_hosts_are_enforced_behind_a_proxy():
    environ = {"PAINCYCLE_ALLOWED_HOSTS": "pain.clinic.example, PainCycle.internal"}
    assert _door(environ, AUTH, headers={"Host": "pain.clinic.example"}).door is Door.SIGN_IN
    assert _door(environ, AUTH, headers={"Host": "paincycle.internal:443"}).door is Door.SIGN_IN
    assert _door(environ, AUTH, headers={"Host": "evil.example"}).door is Door.REFUSED


def test_no_http_client_at_all_is_not_a_browser():
    """A test harness or bare run sends no headers; a browser always sends Host."""
    assert _door(LOCAL, headers={}).door is Door.LOCAL
    assert _door(LOCAL, headers=None).door is Door.LOCAL


@pytest.mark.parametrize("header, name", [("127.0.0.1:8501", "127.0.0.1"), ("LOCALHOST", "localhost"),
                                          ("[::1]:8501", "::1"), ("[::1]", "::1"), ("::1", "::1")])
def test_host_name_drops_the_port(header, name):
    assert host_name(header) == name


def test_read_secrets_tells_absent_from_broken(tmp_path):
    assert read_secrets([tmp_path / "none.toml"]) == SecretsState(False)
    good = tmp_path / "good.toml"
    good.write_text('[auth]\nclient_id = "x"\n')
    assert read_secrets([tmp_path / "none.toml", good]) == SecretsState(True)
    broken = tmp_path / "broken.toml"
    broken.write_text('[auth]\ncookie_secret = "abc\n')
    state = read_secrets([good, broken])
    assert state.problem == "the secrets file broken.toml cannot be read (line 2)"
    folder = tmp_path / "folder.toml"
    folder.mkdir()
    assert read_secrets([folder]).problem
