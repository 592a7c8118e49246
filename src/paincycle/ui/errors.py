"""One error screen: what happened, never with what data.

An exception's message can carry patient data (a database error quotes its
bound parameters, a parser quotes the cell). So a page that fails shows a
plain screen with a reference, and the server log gets the same reference,
the exception's type and where it happened (file, line, function), never the
message, the arguments or local values. Streamlit's own error display is off
as well (``client.showErrorDetails = "none"``, set in app.py and
.streamlit/config.toml) for anything that escapes this boundary.
"""

from __future__ import annotations

import functools
import logging
import traceback
import uuid
from collections.abc import Callable
from typing import Any, TypeVar

import streamlit as st

_LOG = logging.getLogger("paincycle.errors")
#: Tests set this so AppTest reports the exception itself; a server never does.
REVEAL_TO_TESTS = False
SCREEN_TEXT = ("Something went wrong on this page, and it was stopped. Nothing you saved "
               "before was lost. If it happens again, tell the clinic's PainCycle "
               "administrator the reference below; the server's log holds the place in "
               "the code under that reference, and no patient data.")

F = TypeVar("F", bound=Callable[..., Any])


def where(exc: BaseException) -> str:
    """Where an exception happened, as file:line in function, innermost last: no values."""
    frames = traceback.extract_tb(exc.__traceback__)[-6:]
    return " <- ".join(f"{f.filename.rsplit('/', 1)[-1]}:{f.lineno} in {f.name}"
                       for f in reversed(frames))


def show_failure(exc: Exception) -> str:
    """Log the failure without its message and show the one error screen; returns the reference."""
    reference = uuid.uuid4().hex[:8].upper()
    _LOG.error("page failed, reference %s: %s at %s", reference, type(exc).__name__, where(exc))
    st.error(SCREEN_TEXT, icon=":material/error:")
    st.text(f"Reference: {reference}")
    return reference


def guarded(action: Callable[[], Any]) -> Any:
    """Run a page (or a fragment's body) behind the error screen."""
    try:
        return action()
    except Exception as exc:  # Streamlit's stop and rerun are BaseException: they pass through
        if REVEAL_TO_TESTS:
            raise
        show_failure(exc)
        return None


def guard(function: F) -> F:
    """Decorator form of ``guarded`` for fragments, which rerun outside the page's boundary."""
    @functools.wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        return guarded(lambda: function(*args, **kwargs))
    return wrapper  # type: ignore[return-value]
