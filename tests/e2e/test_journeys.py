"""Whole journeys through a real browser against a real server (slow; run in CI)."""

from __future__ import annotations

import pytest

from .helpers import SCREENSHOTS, assert_no_exception, clean_name, wait_idle

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.xdist_group("browser")]


def test_every_page_in_the_menu_opens_without_an_error(page):
    links = page.locator('[data-testid="stSidebarNav"] a')
    links.first.wait_for()
    titles = [links.nth(i).inner_text().strip() for i in range(links.count())]
    assert len(titles) >= 2, titles
    assert "Local single-user mode" in page.locator('[data-testid="stSidebar"]').inner_text()
    for i, title in enumerate(titles):
        page.locator('[data-testid="stSidebarNav"] a').nth(i).click()
        wait_idle(page)
        assert_no_exception(page, title)
        assert page.locator("h1").count() >= 1, f"{title}: no title drawn"
        page.screenshot(path=SCREENSHOTS / f"menu-{i}-{clean_name(title)}.png", full_page=True)
