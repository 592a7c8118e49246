"""Foundation benchmark: `paincycle sample` and `paincycle import` at clinic and registry scale.

Each command runs as its own child process (as a user would run it), with
PAINCYCLE_DATA_DIR pointing at a throw-away folder. Wall time is measured
around the child; peak memory is the child's own maximum resident set size
(os.wait4 returns that child's rusage, not the running maximum over children).

Run from the repository root:  .venv/bin/python -m bench.bench_foundation [--sizes 1000 10000]
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import pyarrow.parquet as pq

from bench.results import write_section

SIZES = (1_000, 10_000, 100_000)
PAINCYCLE = Path(sys.executable).with_name("paincycle")


@dataclass
class Run:
    seconds: float
    peak_mb: float
    ok: bool
    note: str = ""


def _run(argv: list[str], env: dict[str, str], timeout: float) -> Run:
    """Run one CLI child; wall time and that child's peak RSS (ru_maxrss is KiB on Linux)."""
    start = time.perf_counter()
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = start + timeout
    while True:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            break
        if time.perf_counter() > deadline:
            proc.kill()
            pid, status, usage = os.wait4(proc.pid, 0)
            return Run(time.perf_counter() - start, usage.ru_maxrss / 1024, False,
                       f"stopped after {timeout:.0f} s")
        time.sleep(0.05)
    seconds = time.perf_counter() - start
    err = proc.stderr.read().decode(errors="replace").strip() if proc.stderr else ""
    ok = os.waitstatus_to_exitcode(status) == 0
    return Run(seconds, usage.ru_maxrss / 1024, ok, "" if ok else err[-200:])


NOT_IMPORTED = "not run: storing streams, preparing a version does not yet (issue 16)"


def bench(sizes: tuple[int, ...], timeout: float, sample_only: tuple[int, ...] = ()) -> str:
    load_before = os.getloadavg()[0]
    rows = []
    for n in (*sizes, *sample_only):
        with tempfile.TemporaryDirectory(prefix="paincycle-bench-") as tmp:
            cohort = Path(tmp) / "cohort"
            env = dict(os.environ, PAINCYCLE_DATA_DIR=str(Path(tmp) / "data"))
            sample = _run([str(PAINCYCLE), "sample", "--patients", str(n), "--seed", "1",
                           "--out", str(cohort)], env, timeout)
            n_obs = pq.ParquetFile(cohort / "observations.parquet").metadata.num_rows \
                if sample.ok else 0
            size_mb = sum(p.stat().st_size for p in cohort.glob("*.parquet")) / 1024**2 \
                if sample.ok else 0.0
            if n in sample_only and n not in sizes:
                imported = Run(0.0, 0.0, False, NOT_IMPORTED)
            else:
                imported = (_run([str(PAINCYCLE), "import", str(cohort)], env, timeout)
                            if sample.ok else Run(0.0, 0.0, False, "no cohort to import"))
        rows.append((n, n_obs, size_mb, sample, imported))
        print(f"{n:>8,} patients: {n_obs:,} observation rows; sample {sample.seconds:.1f} s "
              f"{sample.peak_mb:,.0f} MB; import {imported.seconds:.1f} s "
              f"{imported.peak_mb:,.0f} MB {imported.note}", flush=True)

    def cell(run: Run) -> str:
        if run.note == NOT_IMPORTED:
            return run.note
        return f"{run.seconds:,.1f}" + ("" if run.ok else f" ({run.note or 'failed'})")

    def peak(run: Run) -> str:
        return "" if run.note == NOT_IMPORTED else f"{run.peak_mb:,.0f}"

    lines = [
        "## Foundation: synthetic cohort generation and import",
        "",
        f"`paincycle sample --seed 1` then `paincycle import` (validation and storing a version, both in batches, then preparing its trajectory analyses and explained risks on the configured engine), "
        f"each as a child process; peak memory is the child's maximum RSS. "
        f"Python {platform.python_version()}, {os.cpu_count()} CPUs, 1-minute load average "
        f"{load_before:.1f} at start and {os.getloadavg()[0]:.1f} at end (a shared machine "
        "inflates both columns). `paincycle sample` writes 50,000 patients at a time, so its "
        "peak stays flat beyond that size. Script: bench/bench_foundation.py.",
        "",
        "| patients | observation rows | Parquet size (MB) | sample (s) | sample peak (MB) "
        "| import (s) | import peak (MB) |",
        "|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for n, n_obs, size_mb, sample, imported in rows:
        lines.append(f"| {n:,} | {n_obs:,} | {size_mb:,.1f} | {cell(sample)} | "
                     f"{sample.peak_mb:,.0f} | {cell(imported)} | {peak(imported)} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=list(SIZES))
    parser.add_argument("--sample-only", type=int, nargs="*", default=[1_000_000],
                        help="sizes whose cohort is only written, not imported (default 1000000)")
    parser.add_argument("--timeout", type=float, default=1800.0,
                        help="seconds before a single command is stopped (default 1800)")
    parser.add_argument("--no-write", action="store_true",
                        help="print the table without updating docs/benchmarks.md")
    args = parser.parse_args(argv)
    markdown = bench(tuple(args.sizes), args.timeout, tuple(args.sample_only))
    print(markdown)
    if not args.no_write:
        write_section("foundation", markdown)
    return 0


if __name__ == "__main__":
    sys.exit(main())
