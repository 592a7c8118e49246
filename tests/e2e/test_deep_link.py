"""A deep link is the very first request a freshly started server gets.

Until app.py has run once, Streamlit serves pages/ files on their own; the
router guard (paincycle.ui.router) must still put the page behind the router:
its menu, its sidebar, and the page and query the link asked for.
"""

from __future__ import annotations

import pytest

from .helpers import SCREENSHOTS, assert_no_exception, goto, start_server, stop_server

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.xdist_group("browser")]


def test_first_request_deep_link_goes_through_the_router(browser, tmp_path):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    process, url = start_server(tmp_path / "data", SCREENSHOTS / "deep-link-server.log")
    try:
        context = browser.new_context(viewport={"width": 1400, "height": 1000})
        tab = context.new_page()
        tab.set_default_timeout(90_000)
        goto(tab, f"{url}/patient?patient_id=P000005")
        tab.screenshot(path=SCREENSHOTS / "deep-link.png")
        assert_no_exception(tab, "deep link")
        menu = [a.inner_text() for a in tab.locator('[data-testid="stSidebarNav"] a').all()]
        assert any("Overview" in item for item in menu), menu
        assert not any(item.strip() == "app" for item in menu), "pages served without the router"
        assert "patient_id=P000005" in tab.url
        assert tab.get_by_text("Patient P000005").first.is_visible()
        assert tab.get_by_text("Local single-user mode").first.is_visible()
        context.close()
    finally:
        stop_server(process)
