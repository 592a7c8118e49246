"""Keep every page behind the router (app.py), even on a freshly started server.

Until app.py has called st.navigation once, Streamlit serves files in pages/ on
their own (its older multipage mode), so a deep link such as /patient?patient_id=…
would skip the router's page config, sign-in gate and sidebar. A page opened that
way sends the session to the router first, which then opens the page asked for.
"""

from __future__ import annotations

import inspect
from pathlib import Path

import streamlit as st
from streamlit.runtime.scriptrunner import get_script_run_ctx

ROUTER = "app.py"
_ROUTED = "_paincycle_routed"
_DEEP_LINK = "_paincycle_deep_link"


def mark_routed() -> None:
    """Called by the router: this session's pages now run inside it."""
    st.session_state[_ROUTED] = True


def ensure_routed() -> None:
    """Called first by every page: outside the router, hand over to it and remember the link."""
    if st.session_state.get(_ROUTED):
        return
    ctx = get_script_run_ctx()
    if ctx is None or Path(ctx.main_script_path).name != ROUTER:
        return  # the page itself is the main script (a test of the page alone): nothing to route
    page = next((Path(frame.filename).name for frame in inspect.stack()
                 if Path(frame.filename).parent.name == "pages"), None)
    st.session_state[_DEEP_LINK] = (page, st.query_params.to_dict())
    st.switch_page(ROUTER)


def pop_deep_link() -> tuple[str | None, dict[str, str]] | None:
    """The page (file name) and query parameters a session first asked for, once."""
    return st.session_state.pop(_DEEP_LINK, None)
