"""Who is using the app: the sign-in gate and the principal every page passes to the core.

Two modes, chosen by the deployment, never by the user:

- ``[auth]`` in .streamlit/secrets.toml: everyone signs in through the clinic's
  OpenID Connect provider (st.login), and a roles file (PAINCYCLE_ROLES_FILE)
  maps their email to clinician, researcher or admin. Anyone not listed is
  refused, and so is everyone when the roles file is missing (fail closed).
- no ``[auth]``: local single-user mode. The server listens on 127.0.0.1 only
  (`make run`, .streamlit/config.toml) and the one local user is the admin.
"""

from __future__ import annotations

import os
from pathlib import Path

import streamlit as st

from paincycle import audit, config, database
from paincycle.access import LOCAL_USER, Principal, RolesFileError, load_roles, principal_for
from paincycle.ui import router

LOCAL_MODE_TEXT = "Local single-user mode"
_LOCAL_ADDRESSES = ("", "127.0.0.1", "localhost", "::1")
_DENIED_KEY = "_paincycle_denied_recorded"


def auth_configured() -> bool:
    """True when the deployment configured OIDC sign-in (an ``[auth]`` secrets section)."""
    try:
        return bool(st.secrets.get("auth"))
    except (FileNotFoundError, st.errors.StreamlitSecretNotFoundError):
        return False


def roles_file() -> Path:
    """PAINCYCLE_ROLES_FILE, else ``[paincycle] roles_file`` in secrets, else .streamlit/roles.toml."""
    from_env = os.environ.get("PAINCYCLE_ROLES_FILE")
    if from_env:
        return Path(from_env).expanduser()
    try:
        from_secrets = (st.secrets.get("paincycle") or {}).get("roles_file")
    except (FileNotFoundError, st.errors.StreamlitSecretNotFoundError):
        from_secrets = None
    return Path(from_secrets) if from_secrets else config.PROJECT_ROOT / ".streamlit" / "roles.toml"


def signed_in_principal() -> Principal | None:
    """The principal, or None when sign-in is required and this session has no role (yet)."""
    if not auth_configured():
        return LOCAL_USER
    if not st.user.get("is_logged_in"):
        return None
    if st.user.get("email_verified") is False:
        return None
    try:
        roles = load_roles(roles_file())
    except RolesFileError:
        return None
    return principal_for(st.user.get("email"), roles)


def current_principal() -> Principal:
    """The signed-in principal; for anyone else, draw the sign-in or refusal screen and stop.

    Every page calls this first and passes the result to the core functions,
    which check the role (access.require) whatever the page shows.
    """
    router.ensure_routed()
    if not auth_configured():
        if not _serves_only_this_computer():
            _refuse_network()
            st.stop()
        return LOCAL_USER
    principal = signed_in_principal()
    if principal is None:
        _gate()
        st.stop()
    return principal


def require_sign_in() -> Principal:
    """The router's gate: like ``current_principal`` but the gate is the app's only page.

    Stopping before st.navigation would let Streamlit list pages/ by itself, so a
    person without a role gets a navigation holding nothing but the sign-in screen.
    """
    if not auth_configured():
        if not _serves_only_this_computer():
            st.navigation([st.Page(_refuse_network, title="Not available", url_path="refused")],
                          position="hidden").run()
            st.stop()
        return LOCAL_USER
    principal = signed_in_principal()
    if principal is None:
        st.navigation([st.Page(_gate, title="Sign in", icon="🔒", url_path="sign-in")],
                      position="hidden").run()
        st.stop()
    return principal


def _serves_only_this_computer() -> bool:
    return (st.get_option("server.address") or "") in _LOCAL_ADDRESSES


def _refuse_network() -> None:
    st.error("Sign-in is not configured, so PainCycle only serves this computer (127.0.0.1), "
             f"but the server listens on {st.get_option('server.address')}. Configure sign-in "
             "(docs/deployment.md) or run `make run`.")


def _gate() -> None:
    """The only screen a person without a role sees: sign in, or why they were refused."""
    st.title("🔄 PainCycle")
    if not st.user.get("is_logged_in"):
        st.write("PainCycle shows patient records: sign in with your clinic account.")
        if st.button("Sign in", type="primary"):
            st.login()
        return
    email = str(st.user.get("email") or "")
    try:
        load_roles(roles_file())
        reason = (f"The account {email or '(no email given)'} has no role in PainCycle. "
                  "Ask the clinic's PainCycle administrator to add you to the roles file.")
        if st.user.get("email_verified") is False:
            reason = "Your identity provider has not verified this email address."
    except RolesFileError:
        reason = ("PainCycle has no readable roles file, so nobody can be let in. "
                  "The administrator must set PAINCYCLE_ROLES_FILE (docs/deployment.md).")
    st.error(reason)
    if not st.session_state.get(_DENIED_KEY):
        st.session_state[_DENIED_KEY] = True
        from paincycle.access import Role

        try:
            audit.record(database.get_engine(), Principal(email or "(unknown)", Role.RESEARCHER),
                         audit.Action.ACCESS_DENIED, detail="signed in without a role")
        except Exception:  # a refusal must be shown even when the database is down
            pass
    if st.button("Sign out"):
        st.logout()


def sidebar_status(principal: Principal) -> None:
    """Say plainly who is signed in with which role, or that no sign-in protects the app."""
    if not auth_configured():
        st.sidebar.info(f"🔓 **{LOCAL_MODE_TEXT}**: no sign-in; this app is reachable only "
                        "from this computer (127.0.0.1).")
        return
    st.sidebar.caption(f"Signed in as **{principal.user}** ({principal.role.value})")
    if st.sidebar.button("Sign out", key="sign_out"):
        st.logout()
