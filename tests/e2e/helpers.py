"""Browser-test helpers: start and stop a real server, wait on Streamlit's own signals."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("PAINCYCLE_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
SCREENSHOTS = ROOT / "test-output" / "e2e"
IDLE = ('[data-testid="stApp"][data-test-connection-state="CONNECTED"]'
        '[data-test-script-state="notRunning"]')
START_TIMEOUT_S = 120


@dataclass(frozen=True)
class Server:
    """A running app: where the browser goes, and the data folder it writes to."""

    url: str
    data_dir: Path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(data_dir: Path, log_path: Path, extra_env: dict | None = None,
                 extra_args: tuple[str, ...] = ()) -> tuple[subprocess.Popen, str]:
    """`streamlit run app.py` on 127.0.0.1:<free port>; returns the process and its base URL."""
    port = free_port()
    env = {**os.environ, "PAINCYCLE_DATA_DIR": str(data_dir), "PAINCYCLE_ACCESS": "local",
           **(extra_env or {})}
    env.pop("PAINCYCLE_DATABASE_URL", None)
    streamlit = Path(sys.executable).with_name("streamlit")
    log = open(log_path, "wb")  # noqa: SIM115 - closed with the process
    process = subprocess.Popen(
        [str(streamlit), "run", "app.py", "--server.address", "127.0.0.1",
         "--server.port", str(port), "--server.headless", "true",
         "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none", *extra_args],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"streamlit exited early; see {log_path}")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                if response.read().strip() == b"ok":
                    return process, url
        except OSError:
            pass
        time.sleep(0.25)
    stop_server(process)
    raise RuntimeError(f"streamlit did not answer /_stcore/health in {START_TIMEOUT_S} s")


def stop_server(process: subprocess.Popen) -> None:
    """Stop our own server (its process group, by its pid), never anything by name."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=15)


def wait_idle(page) -> None:
    """Streamlit's own signal that a rerun has finished (after a short pause for it to start)."""
    page.wait_for_timeout(200)
    page.wait_for_selector(IDLE, state="attached")


def assert_no_exception(page, where: str) -> None:
    boxes = page.locator('[data-testid="stException"]')
    assert boxes.count() == 0, f"{where}: {boxes.first.inner_text()[:500]}"


def page_exists(name: str) -> bool:
    return (ROOT / "pages" / name).exists()


def clean_name(text: str) -> str:
    return "".join(ch if ch.isalnum() else "-" for ch in text).strip("-").lower() or "page"



def open_page(page, title: str) -> None:
    """Click a page in the sidebar menu and wait for it to finish drawing."""
    page.locator('[data-testid="stSidebarNav"] a', has_text=title).first.click()
    wait_idle(page)


def metric_value(page, label: str) -> str:
    metric = page.locator('[data-testid="stMetric"]', has_text=label).first
    return metric.locator('[data-testid="stMetricValue"]').inner_text().strip()


def goto(page, url: str) -> None:
    """Load a URL as a new session: wait for the first page to draw, then for the run to end."""
    page.goto(url)
    page.locator("h1").first.wait_for()
    wait_idle(page)
