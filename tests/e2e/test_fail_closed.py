"""The door on a real server, as an attacker or a misconfiguration meets it.

DNS rebinding is played for real: chromium resolves a foreign name to
127.0.0.1 (--host-resolver-rules), so the request reaches the local server
with that name as its Host, as a page that rebinds its own domain would.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

import pytest

from .helpers import CHROMIUM_ARGS, SCREENSHOTS, goto, start_server, stop_server

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.xdist_group("browser")]


def _text(tab) -> str:
    return tab.locator("section.main, [data-testid='stMain']").first.inner_text()


def test_a_rebound_domain_reaches_nothing_in_local_mode(chromium_executable, app_server,
                                                        playwright_driver):
    port = urlsplit(app_server.url).port
    # a browser of its own: it resolves a foreign name to this computer
    browser = playwright_driver.chromium.launch(
        executable_path=chromium_executable,
        args=[*CHROMIUM_ARGS, "--host-resolver-rules=MAP rebind.example 127.0.0.1"])
    try:
        tab = browser.new_page(viewport={"width": 1400, "height": 1000})
        tab.set_default_timeout(90_000)
        goto(tab, f"http://rebind.example:{port}/patient?patient_id=P000001")
        text = _text(tab)
        tab.screenshot(path=SCREENSHOTS / "fail-closed-rebinding.png")
        assert "not addressed to this computer" in text
        assert "Local single-user mode" not in tab.content()
        assert "P000001" not in text

        goto(tab, f"http://127.0.0.1:{port}/")  # the same server, addressed as itself
        assert "Local single-user mode" in tab.content()
    finally:
        browser.close()


@pytest.mark.parametrize("case", ["broken secrets", "no door chosen"])
def test_a_misconfigured_server_refuses_everyone(chromium_executable, browser, tmp_path: Path,
                                                 case: str):
    env, args = {}, ()
    if case == "broken secrets":
        secrets = tmp_path / "secrets.toml"
        secrets.write_text('[auth]\ncookie_secret = "abc\nclient_id = "x"\n')  # one quote missing
        args = ("--secrets.files", str(secrets))
    else:
        env = {"PAINCYCLE_ACCESS": ""}
    process, url = start_server(tmp_path / "data", tmp_path / "server.log", env, args)
    try:
        tab = browser.new_page(viewport={"width": 1400, "height": 1000})
        tab.set_default_timeout(90_000)
        goto(tab, f"{url}/audit")
        text = _text(tab)
        tab.screenshot(path=SCREENSHOTS / f"fail-closed-{case.replace(' ', '-')}.png")
        expected = "cannot be read" if case == "broken secrets" else "lets nobody in"
        assert expected in text
        assert "Audit log" not in text and "Local single-user mode" not in tab.content()
        tab.close()
    finally:
        stop_server(process)
