"""Who is using the app: the door (paincycle.gate), the sign-in, and the principal pages pass on.

The deployment chooses the door (see ``paincycle.gate``): local single-user mode
only when ``PAINCYCLE_ACCESS=local`` was set and nothing configures sign-in;
sign-in through the clinic's OpenID Connect provider (st.login) and a roles
file otherwise. Anything unclear, including a secrets file that cannot be
read, refuses everyone with the reason.
"""

from __future__ import annotations

import os
from pathlib import Path

import streamlit as st

from paincycle import audit, config, database, gate
from paincycle.access import LOCAL_USER, Principal, RolesFileError, load_roles, principal_for
from paincycle.ui import router
from paincycle.ui.text import plain

LOCAL_MODE_TEXT = "Local single-user mode"
#: The app's own icon (browser tab, titles): a Material icon, drawn without an emoji font.
APP_ICON = ":material/cycle:"
_DENIED_KEY = "_paincycle_denied_recorded"
_SIGNED_IN_KEY = "_paincycle_sign_in_recorded"


def door() -> gate.Decision:
    """This request's way in, from the environment, the secrets files, the bind address and Host."""
    return gate.decide(os.environ, _secrets_state(),
                       server_address=st.get_option("server.address"),
                       request_headers=dict(st.context.headers or {}))


def _secrets_state() -> gate.SecretsState:
    on_disk = gate.read_secrets(st.get_option("secrets.files") or [])
    if on_disk.problem:
        return on_disk
    try:  # secrets given in memory (a test harness) count as configured too
        in_memory = bool(st.secrets.get("auth"))
    except (FileNotFoundError, st.errors.StreamlitSecretNotFoundError):
        in_memory = False
    return gate.SecretsState(on_disk.has_auth or in_memory)


def roles_file() -> Path:
    """PAINCYCLE_ROLES_FILE, else ``[paincycle] roles_file`` in secrets, else .streamlit/roles.toml."""
    chosen = config.settings().roles_file
    if chosen:
        return chosen.expanduser()
    try:
        from_secrets = (st.secrets.get("paincycle") or {}).get("roles_file")
    except (FileNotFoundError, st.errors.StreamlitSecretNotFoundError):
        from_secrets = None
    return Path(from_secrets) if from_secrets else config.PROJECT_ROOT / ".streamlit" / "roles.toml"


def signed_in_principal() -> Principal | None:
    """The signed-in person's principal, or None (not signed in, unverified, not listed)."""
    if not st.user.get("is_logged_in"):
        return None
    if st.user.get("email_verified") is not True:  # absent is not verified
        return None
    try:
        roles = load_roles(roles_file())
    except RolesFileError:
        return None
    return principal_for(st.user.get("email"), roles)


def current_principal() -> Principal:
    """The principal for this session; for anyone else, draw the gate or refusal and stop.

    Every page calls this first and passes the result to the services, which
    check the role (access.require) whatever the page shows.
    """
    router.ensure_routed()
    principal = _principal_or_none()
    if principal is None:
        _gate()
        st.stop()
    return principal


def require_sign_in() -> Principal:
    """The router's gate: like ``current_principal`` but the gate is the app's only page.

    Stopping before st.navigation would let Streamlit list pages/ by itself, so a
    person without a role gets a navigation holding nothing but the gate.
    """
    principal = _principal_or_none()
    if principal is None:
        st.navigation([st.Page(_gate, title="Sign in", icon=":material/lock:", url_path="sign-in")],
                      position="hidden").run()
        st.stop()
    return principal


def _principal_or_none() -> Principal | None:
    decision = door()
    if decision.door is gate.Door.LOCAL:
        return LOCAL_USER
    if decision.door is gate.Door.REFUSED:
        return None
    principal = signed_in_principal()
    if principal is not None and not st.session_state.get(_SIGNED_IN_KEY):
        st.session_state[_SIGNED_IN_KEY] = True
        _record_quietly(lambda engine: audit.record(engine, principal, audit.Action.SIGN_IN))
    return principal


def _record_quietly(write) -> None:  # noqa: ANN001
    """Write an audit entry about the door; the door's answer stands even if the database is down."""
    try:
        write(database.get_engine())
    except Exception:  # noqa: BLE001 - the refusal or sign-in screen must still be shown
        pass


def _gate() -> None:
    """The only screen a person without a way in sees: the refusal's reason, or sign in."""
    st.title(f"{APP_ICON} PainCycle")
    decision = door()
    if decision.door is gate.Door.REFUSED:
        st.error(decision.reason)
        return
    if not st.user.get("is_logged_in"):
        st.write("PainCycle shows patient records: sign in with your clinic account.")
        if st.button("Sign in", type="primary"):
            st.login()
        return
    email = str(st.user.get("email") or "")
    try:
        load_roles(roles_file())
        reason = ("This account has no role in PainCycle. Ask the clinic's PainCycle "
                  "administrator to add you to the roles file.")
        if st.user.get("email_verified") is not True:
            reason = "Your identity provider has not confirmed that this email address is verified."
    except RolesFileError:
        reason = ("PainCycle has no readable roles file, so nobody can be let in. "
                  "The administrator must set PAINCYCLE_ROLES_FILE (docs/deployment.md).")
    st.error(reason)
    st.text(f"Signed in as: {email or '(no email given)'}")
    if not st.session_state.get(_DENIED_KEY):
        st.session_state[_DENIED_KEY] = True
        _record_quietly(lambda engine: audit.record_refusal(
            engine, email or "(unknown)", detail="signed in without a role"))
    if st.button("Sign out"):
        st.logout()


def sidebar_status(principal: Principal) -> None:
    """Say plainly who is signed in with which role, or that no sign-in protects the app.

    The role decides what the pages offer (imports, identified exports, the audit
    log), so it sits beside the name where a colleague at the same screen sees it.
    """
    if principal is LOCAL_USER:
        st.sidebar.info(f"**{LOCAL_MODE_TEXT}**: you are the single local user, with the "
                        f"**{principal.role.value}** role. No sign-in protects this app, so it "
                        "is reachable only from this computer (127.0.0.1).",
                        icon=":material/lock_open:")
        return
    name = str(st.user.get("name") or "").strip()
    shown = plain(name) if name and name.lower() != principal.user.lower() else ""
    st.sidebar.markdown(f":material/account_circle: **{shown or plain(principal.user)}** · "
                        f"role: **{principal.role.value}**")
    if shown:
        st.sidebar.caption(f"Signed in as {plain(principal.user)}")
    if st.sidebar.button("Sign out", key="sign_out", icon=":material/logout:"):
        st.logout()
