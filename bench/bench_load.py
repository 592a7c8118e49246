"""Load: N simulated users in real browser tabs against one server on a 10,000-patient cohort.

Why browsers rather than AppTest threads: a real user's wait includes the
server's script run, the websocket and the browser drawing the charts, and
all sessions share one server process, its caches and its database; AppTest
measures none of that. Each user is its own browser context (its own
Streamlit session) opening the Overview and then each page in the menu; a
page time runs from the click until Streamlit reports the run finished.

Also: 20 concurrent writers recording decisions on the workflow database
(SQLite, and PostgreSQL when one answers), counting lost decisions.

Usage: python bench/bench_load.py [--users 20] [--patients 10000]
Writes the "load" section of docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT))

from e2e.helpers import CHROMIUM, CHROMIUM_ARGS, IDLE, start_server, stop_server  # noqa: E402

from bench.results import write_section  # noqa: E402

OUT = ROOT / "bench" / "out"
PAGES = ("Cohort", "Patient", "Case review", "Risk model", "Export")
PAGE_TIMEOUT_MS = 300_000


def cohort_folder(patients: int, seed: int = 3) -> Path:
    """The synthetic cohort (made once, then reused from bench/out/)."""
    folder = OUT / f"cohort-{patients}-seed{seed}"
    if not (folder / "patients.parquet").exists():
        exe = Path(sys.executable).with_name("paincycle")
        subprocess.run([str(exe), "sample", "--patients", str(patients), "--seed", str(seed),
                        "--out", str(folder)], check=True)
    return folder


def import_into(data_dir: Path, folder: Path) -> None:
    exe = Path(sys.executable).with_name("paincycle")
    subprocess.run([str(exe), "import", str(folder), "--name", "load-test"], check=True,
                   env={**__import__("os").environ, "PAINCYCLE_DATA_DIR": str(data_dir)},
                   stdout=subprocess.DEVNULL)


async def _idle(page) -> None:
    await page.wait_for_timeout(200)
    await page.wait_for_selector(IDLE, state="attached", timeout=PAGE_TIMEOUT_MS)


async def one_user(browser, url: str, user: int, timings: list, errors: list) -> None:
    context = await browser.new_context(viewport={"width": 1400, "height": 1000})
    page = await context.new_page()
    page.set_default_timeout(PAGE_TIMEOUT_MS)
    try:
        start = time.perf_counter()
        await page.goto(url)
        await page.locator("h1").first.wait_for()
        await _idle(page)
        timings.append(("Overview (first load)", time.perf_counter() - start))
        for title in PAGES:
            link = page.locator('[data-testid="stSidebarNav"] a', has_text=title)
            if await link.count() == 0:
                continue
            start = time.perf_counter()
            await link.first.click()
            await _idle(page)
            timings.append((title, time.perf_counter() - start))
            boxes = page.locator('[data-testid="stException"]')
            if await boxes.count():  # synthetic data only, so the message may be shown
                text = " ".join((await boxes.first.inner_text()).split())[:160]
                errors.append(f"user {user}: exception on {title}: {text}")
    except Exception as exc:  # a timeout or crash is an error of the run, not of the bench
        errors.append(f"user {user}: {type(exc).__name__}: {str(exc)[:120]}")
    finally:
        await context.close()


async def run_users(url: str, users: int) -> tuple[list, list, float, list]:
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        warm: list = []
        await one_user(browser, url, 0, warm, [])  # one user first: fills the server's caches
        timings: list = []
        errors: list = []
        start = time.perf_counter()
        await asyncio.gather(*(one_user(browser, url, i + 1, timings, errors)
                               for i in range(users)))
        wall = time.perf_counter() - start
        await browser.close()
    return timings, errors, wall, warm


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(0.95 * (len(ordered) - 1))))]


def concurrent_writers(url: str, schema: str | None, writers: int = 20, each: int = 10
                       ) -> tuple[int, int, float]:
    """(expected, stored, seconds) for ``writers`` threads saving decisions at once."""
    from paincycle import database

    engine = database.get_engine(url, schema=schema)
    barrier = threading.Barrier(writers)

    def write(i: int) -> None:
        barrier.wait()
        for j in range(each):
            database.append_revision(engine, "shared" if j % 2 else f"d-{i}-{j}", {
                "patient_id": f"P{i:04d}", "discipline": "psychology", "action": f"a{i}-{j}",
                "author": f"user{i}", "meeting_date": date(2026, 1, 5)})

    start = time.perf_counter()
    with ThreadPoolExecutor(writers) as pool:
        list(pool.map(write, range(writers)))
    seconds = time.perf_counter() - start
    import sqlalchemy as sa

    with engine.connect() as conn:
        stored = conn.execute(sa.select(sa.func.count()).select_from(database.decisions)).scalar()
    return writers * each, stored, seconds


def writers_section() -> list[str]:
    import sqlalchemy as sa

    from paincycle import database

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        expected, stored, seconds = concurrent_writers(f"sqlite:///{tmp}/load.db", None)
        rows.append(f"| SQLite (WAL) | 20 | {expected} | {stored} | {expected - stored} | {seconds:.2f} s |")
        database.dispose_all()
    pg = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
    schema = f"bench_{uuid.uuid4().hex[:10]}"
    try:
        expected, stored, seconds = concurrent_writers(pg, schema)
        rows.append(f"| PostgreSQL | 20 | {expected} | {stored} | {expected - stored} | {seconds:.2f} s |")
    except Exception as exc:  # no server: say so in the table
        rows.append(f"| PostgreSQL | - | - | - | - | not run ({type(exc).__name__}) |")
    finally:
        database.dispose_all()
        try:
            admin = sa.create_engine(pg)
            with admin.begin() as conn:
                conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
            admin.dispose()
        except Exception:
            pass
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--patients", type=int, default=10_000)
    args = parser.parse_args()

    OUT.mkdir(parents=True, exist_ok=True)
    folder = cohort_folder(args.patients)
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp) / "data"
        data_dir.mkdir()
        import_into(data_dir, folder)
        process, url = start_server(data_dir, OUT / "load-server.log")
        try:
            timings, errors, wall, warm = asyncio.run(run_users(url, args.users))
        finally:
            stop_server(process)

    lines = [
        f"{args.users} simulated users at once, each a separate chromium tab (its own Streamlit "
        f"session) against one `streamlit run` server, on a {args.patients:,}-patient synthetic "
        "cohort (`paincycle sample --seed 3`). Each opens the Overview, then "
        f"{', '.join(PAGES)} from the menu; a page time runs from the click until Streamlit "
        "reports the run finished (data-test-script-state=notRunning). One user ran first to "
        "fill the server's caches (cold times below). Browser and server share the 2 cores.",
        "",
        "| page | cold (first user) | median | p95 | samples |",
        "|---|---|---|---|---|",
    ]
    cold = dict(warm)
    all_times = []
    for title in ("Overview (first load)", *PAGES):
        values = [t for name, t in timings if name == title]
        if not values:
            continue
        all_times += values
        first = f"{cold[title]:.2f} s" if title in cold else "-"
        lines.append(f"| {title} | {first} | {statistics.median(values):.2f} s | "
                     f"{p95(values):.2f} s | {len(values)} |")
    if all_times:
        lines.append(f"| **all pages** | | **{statistics.median(all_times):.2f} s** | "
                     f"**{p95(all_times):.2f} s** | {len(all_times)} |")
    lines += ["", "The Overview's first load is the worst case on purpose: all sessions open in "
                  "the same second, so the server starts every session while every tab boots "
                  "Streamlit's frontend on the same 2 cores. Server-side page times alone are "
                  "in the pages section above.",
              "", f"Wall time for all {args.users} users: {wall:.1f} s. "
                  f"Errors: **{len(errors)}**" + (":" if errors else "."),
              *[f"- {e}" for e in errors[:8]],
              "", "Concurrent decision writers (each thread saves 10 decisions; half are new "
                  "revisions of one shared decision, so writers race for revision numbers):", "",
              "| database | writers | decisions saved | stored | lost | time |",
              "|---|---|---|---|---|---|", *writers_section()]
    markdown = "\n".join(lines)
    write_section("load", markdown)
    print(markdown)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
