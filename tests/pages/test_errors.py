"""A page that fails shows one plain screen with a reference; no patient data on screen or in the log."""

from __future__ import annotations

import logging

from streamlit.testing.v1 import AppTest

SECRET = "P-SECRET-9 note: lives alone, stopped walking"


def test_a_failing_page_shows_the_error_screen_and_logs_no_data(monkeypatch, caplog):
    monkeypatch.setattr("paincycle.ui.errors.REVEAL_TO_TESTS", False)

    def broken(*args, **kwargs):
        raise ValueError(SECRET)

    monkeypatch.setattr("paincycle.summary.version_headline", broken)
    with caplog.at_level(logging.DEBUG):
        at = AppTest.from_file("../../app.py", default_timeout=60).run()
    assert not at.exception, "the boundary catches it: Streamlit shows no traceback"
    shown = [str(e.value) for kind in ("error", "text", "markdown", "caption", "code")
             for e in at.get(kind)]
    assert any("Something went wrong on this page" in s for s in shown)
    reference = next(s.removeprefix("Reference: ") for s in shown if s.startswith("Reference: "))
    assert not [s for s in shown if "P-SECRET" in s]
    logged = "\n".join(r.getMessage() + (r.exc_text or "") for r in caplog.records)
    assert reference in logged and "ValueError" in logged
    assert "P-SECRET" not in logged and "lives alone" not in logged


def test_streamlit_shows_no_error_details_on_a_server():
    """Belt and braces for anything that escapes the boundary (a fragment, a callback)."""
    import tomllib
    from pathlib import Path

    config = tomllib.loads((Path(__file__).parents[2] / ".streamlit" / "config.toml").read_text())
    assert config["client"]["showErrorDetails"] == "none"
    assert config["client"]["toolbarMode"] == "viewer"
