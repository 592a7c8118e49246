"""A real `streamlit run` server and a real chromium for the browser journeys.

The server runs on 127.0.0.1 with a free port and its own empty data folder, so
on first start it stores the bundled demo cohort exactly as a new clinic's
install would. Chromium is Debian's /usr/bin/chromium (installed by .ci/run);
when it is missing these tests fail rather than skip, so CI cannot pass
without having driven a browser.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from .helpers import (
    CHROMIUM,
    CHROMIUM_ARGS,
    SCREENSHOTS,
    Server,
    goto,
    start_server,
    stop_server,
)


@pytest.fixture(scope="session")
def chromium_executable() -> str:
    if not (Path(CHROMIUM).exists() and os.access(CHROMIUM, os.X_OK)):
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium (.ci/run does); "
                    "the browser tests must not be skipped", pytrace=False)
    return CHROMIUM


@pytest.fixture(scope="session")
def app_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """The base URL of a running PainCycle with its own data folder (demo cohort on first start)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    data_dir = tmp_path_factory.mktemp("e2e-data")
    process, url = start_server(data_dir, SCREENSHOTS / "server.log")
    yield Server(url, data_dir)
    stop_server(process)


@pytest.fixture(scope="session")
def playwright_driver():
    """One Playwright driver per test process: a second sync_playwright() in the same
    thread refuses to start while the first is running."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        yield playwright


@pytest.fixture(scope="session")
def browser(chromium_executable: str, playwright_driver):
    browser = playwright_driver.chromium.launch(executable_path=chromium_executable,
                                                args=CHROMIUM_ARGS)
    yield browser
    browser.close()


@pytest.fixture
def page(browser, app_server: Server, request: pytest.FixtureRequest):
    """A fresh browser tab (its own Streamlit session) at the app; screenshot when done."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, accept_downloads=True)
    tab = context.new_page()
    tab.set_default_timeout(90_000)
    goto(tab, app_server.url)
    yield tab
    tab.screenshot(path=SCREENSHOTS / f"{request.node.name}.png", full_page=True)
    context.close()
