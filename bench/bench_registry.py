"""Registry-scale benchmark (issue 16): import and pages at 100,000 and 1,000,000 patients.

For each size, in fresh child processes:

1. `paincycle sample` writes the synthetic cohort (setup, not timed here: see
   the foundation section);
2. `paincycle import` streams it into a new version and prepares it (the
   version's analyses on the configured engine, then the shipped model's
   explained risks): wall time and the child's peak RSS;
3. a fresh app server (AppTest, server side only) opens the landing page,
   then the Cohort page with the analyses kept on disk ("cold"), a new session
   opens it again ("warm", cached), changes a filter, opens the Patient page
   and Case review;
4. the floor: a bare DuckDB aggregate over the same Parquet files (median value
   by measure and week since intake), in its own child. Every time is also
   given as a ratio to it, so a slower or busier machine shows as itself.

Targets at 1,000,000 patients (issue 16): import <= 15 min at <= 6 GB peak;
Cohort warm <= 2 s, cold <= 30 s; Patient <= 1 s; server peak <= 4 GB.

Run from the repository root:  .venv/bin/python -m bench.bench_registry [--sizes 100000 1000000]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

from bench.bench_foundation import Run
from bench.bench_foundation import _run as run_cli
from bench.bench_pages import _run_child
from bench.results import page_timer, write_section

ROOT = Path(__file__).resolve().parents[1]
SIZES = (100_000, 1_000_000)
PAINCYCLE = Path(sys.executable).with_name("paincycle")
#: Issue 16's targets at 1,000,000 patients (seconds, MB).
TARGETS = {"import_s": 15 * 60, "import_mb": 6 * 1024, "cohort_cold": 30.0, "cohort_warm": 2.0,
           "patient": 1.0, "server_mb": 4 * 1024}


def _child_pages() -> dict:
    """Runs inside the measured child (a fresh server): time each page through AppTest."""
    from streamlit.testing.v1 import AppTest

    from paincycle.store import CohortStore

    app = str(ROOT / "app.py")
    out: dict = {}

    timed = page_timer(out)

    first = AppTest.from_file(app, default_timeout=7200)
    timed("home", first.run)
    timed("cohort_cold", lambda: first.switch_page("pages/cohort.py").run())
    session = AppTest.from_file(app, default_timeout=7200)
    session.run()
    timed("cohort_warm", lambda: session.switch_page("pages/cohort.py").run())
    version = CohortStore().latest().id  # widget keys carry the version (ui.filters)
    site_key = f"cohort_{version}_site"
    site = session.multiselect(key=site_key).options[0]
    timed("filter", lambda: session.multiselect(key=site_key).select(site).run())
    timed("patient", lambda: session.switch_page("pages/patient.py").run())
    picker_key = f"patient_{version}_select"
    other = session.selectbox(key=picker_key).options[1]
    timed("patient2", lambda: session.selectbox(key=picker_key).select(other).run())
    timed("case_review", lambda: session.switch_page("pages/case_review.py").run())
    return out


def _child_floor(sample_dir: str) -> dict:
    """Runs inside its own child: the bare engine aggregate over the same files."""
    import duckdb

    folder = Path(sample_dir)
    con = duckdb.connect()
    start = time.perf_counter()
    observations = con.read_parquet(str(folder / "observations.parquet"))  # noqa: F841 - in SQL
    patients = con.read_parquet(str(folder / "patients.parquet"))  # noqa: F841 - in SQL
    groups = con.sql(
        "SELECT o.measure, floor(datediff('day', p.intake_date, o.date) / 7) AS week, "
        "median(o.value) FROM observations o JOIN patients p USING (patient_id) "
        "GROUP BY ALL").fetchall()
    return {"floor": time.perf_counter() - start, "groups": len(groups)}


def _cell(seconds: float | None, floor: float | None, target: float | None = None) -> str:
    if seconds is None:
        return "-"
    mark = "" if target is None else (" ✅" if seconds <= target else " ❌")
    ratio = f" ({seconds / floor:.1f}×)" if floor else ""
    return f"{seconds:,.2f} s{ratio}{mark}"


def _mb(mb: float, target: float | None = None) -> str:
    mark = "" if target is None else (" ✅" if mb <= target else " ❌")
    return f"{mb:,.0f} MB{mark}"


def bench(sizes: tuple[int, ...], timeout: float, written=None) -> str:
    """Every size's row; ``written`` gets the table so far after each size (a 1,000,000-patient
    run takes an hour: the smaller sizes' numbers are kept even if it is stopped)."""
    rows: list = []
    for n in sizes:
        with tempfile.TemporaryDirectory(prefix="paincycle-bench-registry-") as tmp:
            sample_dir = Path(tmp) / "cohort"
            env = {**os.environ, "PAINCYCLE_DATA_DIR": str(Path(tmp) / "data"),
                   "PAINCYCLE_ACCESS": "local"}
            sample = run_cli([str(PAINCYCLE), "sample", "--patients", str(n), "--seed", "1",
                              "--out", str(sample_dir)], env, timeout)
            imported = run_cli([str(PAINCYCLE), "import", str(sample_dir)], env, timeout) \
                if sample.ok else Run(0.0, 0.0, False, "no cohort to import")
            pages, server_mb, error = ({}, 0.0, imported.note or "import failed") \
                if not imported.ok else _run_child(["--child-pages"], env, timeout,
                                                  module="bench.bench_registry")
            floor, _, floor_error = _run_child(["--child-floor", str(sample_dir)], env, timeout,
                                               module="bench.bench_registry") \
                if sample.ok else ({}, 0.0, "no cohort")
        rows.append((n, imported, pages, server_mb, error or floor_error, floor.get("floor")))
        print(f"{n:,} patients: import {imported} pages {pages} server {server_mb:.0f} MB "
              f"{error} floor {floor}", file=sys.stderr, flush=True)
        if written is not None:
            written(_table(rows))
    return _table(rows)


def _table(rows: list) -> str:
    lines = [
        "## Registry scale: import and pages on the configured engine (DuckDB)",
        "",
        f"Machine: {os.cpu_count()} cores, Python {platform.python_version()}; run "
        f"{time.strftime('%Y-%m-%d')} by `bench/bench_registry.py`. Each size: `paincycle "
        "sample --seed 1`, then `paincycle import` (streamed validation and storing, the "
        "version's analyses on the engine, the shipped model's explained risks) in a child, "
        "then a fresh app server (AppTest, server side only) opening the landing page, the "
        "Cohort page with the analyses kept (cold), a new session's Cohort page (warm), a site "
        "filter, the Patient page, another patient and Case review. In brackets: each time as "
        "a ratio to the floor, a bare DuckDB median by measure and week since intake over the "
        "same Parquet files, measured in the same run. ✅/❌: issue 16's targets at 1,000,000 "
        "patients.",
        "",
        "| patients | import | import peak | landing page | Cohort cold | Cohort warm "
        "| filter change | Patient | another patient | Case review first open | server peak "
        "| floor (bare engine aggregate) |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for n, imported, pages, server_mb, error, floor in rows:
        def t(key: str, at_target: bool = n >= 1_000_000) -> float | None:
            return TARGETS[key] if at_target else None
        imp = _cell(imported.seconds, floor, t("import_s")) if imported.ok \
            else f"failed: {imported.note[-120:] or 'see log'}"
        if error:
            lines.append(f"| {n:,} | {imp} | {_mb(imported.peak_mb, t('import_mb'))} "
                         f"| failed: {error[-160:]} | | | | | | | {_mb(server_mb)} "
                         f"| {_cell(floor, None)} |")
            continue
        lines.append(
            f"| {n:,} | {imp} | {_mb(imported.peak_mb, t('import_mb'))} "
            f"| {_cell(pages['home'], floor)} | {_cell(pages['cohort_cold'], floor, t('cohort_cold'))} "
            f"| {_cell(pages['cohort_warm'], floor, t('cohort_warm'))} "
            f"| {_cell(pages['filter'], floor)} | {_cell(pages['patient'], floor, t('patient'))} "
            f"| {_cell(pages['patient2'], floor, t('patient'))} | {_cell(pages['case_review'], floor)} "
            f"| {_mb(server_mb, t('server_mb'))} | {_cell(floor, None)} |")
    lines += [
        "",
        "The server holds the version's per-patient tables, never its observation rows: a "
        "patient's rows are read from the version's Parquet when the patient is opened, and "
        "the weekly indexes the bands and percentiles are read from are memory-mapped files.",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=list(SIZES))
    parser.add_argument("--timeout", type=float, default=7200)
    parser.add_argument("--child-pages", action="store_true")
    parser.add_argument("--child-floor")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    if args.child_pages:
        print(json.dumps(_child_pages()))
        return
    if args.child_floor:
        print(json.dumps(_child_floor(args.child_floor)))
        return
    markdown = bench(tuple(args.sizes), args.timeout,
                     None if args.no_write else (lambda table: write_section("registry", table)))
    print(markdown)


if __name__ == "__main__":
    main()
