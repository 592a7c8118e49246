"""Engine benchmark: the analyses written once in Ibis, on DuckDB (embedded) and Spark (local).

For each size a synthetic cohort is written with `paincycle sample` (setup, not
timed). For each engine a fresh child process connects and times, over the
same Parquet files:

- the floor: a bare aggregate (mean value per measure over every observation),
  after one untimed run of it (Spark's first job starts its executors);
- the weekly cohort bands (median and quartiles per measure and week);
- the responder status at 12 months (closest rows to two targets per patient);
- the pain-mood-sleep triad (latest rows per patient);
- one patient's percentiles against the cohort.

Each analysis is given in seconds and as a ratio to the floor measured in the
same child, so the numbers say what the analysis costs beyond reading the
data. DuckDB's peak memory is the child's resident set; Spark's runs in its
JVM (local mode), which the child's figure does not include.

Run from the repository root:  .venv/bin/python -m bench.bench_engine [--sizes 100000]
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

from bench.results import write_section

ROOT = Path(__file__).resolve().parents[1]
PAINCYCLE = Path(sys.executable).with_name("paincycle")
ENGINES = ("duckdb", "spark")
STEPS = ("floor", "cohort_bands", "responder_status", "triad_flags", "patient_percentiles")


def _child(engine_name: str, folder: str) -> dict:
    """Runs inside the measured child: connect, then time each analysis once."""
    import resource

    import pandas as pd

    from paincycle import rules
    from paincycle.engine import connect, queries

    engine = connect(engine_name, master="local[2]")
    patient_id = str(pd.read_parquet(Path(folder) / "patients.parquet",
                                     columns=["patient_id"])["patient_id"].iloc[0])

    def floor():
        obs = engine.tables(folder)["observations"]
        return obs.group_by("measure").aggregate(mean=obs.value.mean()).to_pandas()

    steps = {
        "floor": floor,
        "cohort_bands": lambda: queries.cohort_bands(engine, folder),
        "responder_status": lambda: queries.responder_status(engine, folder,
                                                             rules.FOLLOW_UPS[12]),
        "triad_flags": lambda: queries.triad_flags(engine, folder),
        "patient_percentiles": lambda: queries.patient_percentiles(engine, folder, patient_id),
    }
    floor()  # warm-up, not timed: Spark's first job starts its executors
    out: dict = {}
    for name in STEPS:
        start = time.perf_counter()
        steps[name]()
        out[name] = time.perf_counter() - start
    out["peak_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return out


def _measure(engine_name: str, folder: Path) -> dict:
    code = (f"import json, sys; sys.path.insert(0, {str(ROOT)!r}); "
            "from bench.bench_engine import _child; "
            f"print(json.dumps(_child({engine_name!r}, {str(folder)!r})))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True, cwd=ROOT)
    return json.loads(done.stdout.strip().splitlines()[-1])


def _rows(folder: Path) -> int:
    import pyarrow.parquet as pq

    return pq.ParquetFile(folder / "observations.parquet").metadata.num_rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000])
    parser.add_argument("--engines", nargs="+", default=list(ENGINES), choices=ENGINES)
    args = parser.parse_args()
    lines = [f"Machine: {platform.machine()}, Python {platform.python_version()}; run "
             f"{date.today():%Y-%m-%d} by `bench/bench_engine.py` (one fresh child per engine "
             "and size; Spark in local mode on 2 cores).", "",
             "| patients | observation rows | engine | floor: mean by measure | weekly bands "
             "| responder status (12 months) | triad | one patient's percentiles | child peak RSS |",
             "|---:|---:|---|---:|---:|---:|---:|---:|---:|"]
    with tempfile.TemporaryDirectory() as tmp:
        for size in args.sizes:
            folder = Path(tmp) / f"cohort-{size}"
            subprocess.run([str(PAINCYCLE), "sample", "--patients", str(size), "--seed", "7",
                            "--out", str(folder)], check=True, capture_output=True)
            rows = _rows(folder)
            for engine_name in args.engines:
                found = _measure(engine_name, folder)
                print(engine_name, size, found, flush=True)
                floor = found["floor"]
                cells = [f"{found[s]:.2f} s ({found[s] / floor:.1f}x)" for s in STEPS[1:]]
                memory = (f"{found['peak_mb']:,.0f} MB" if engine_name == "duckdb"
                          else f"{found['peak_mb']:,.0f} MB (driver; the JVM not counted)")
                lines.append(f"| {size:,} | {rows:,} | {engine_name} | {floor:.2f} s | "
                             + " | ".join(cells) + f" | {memory} |")
    from paincycle.engine.queries import DUCKDB_MEMORY_LIMIT

    lines += ["", "Ratios are to the floor measured in the same child. Each analysis reads the "
              "version's Parquet itself (nothing is kept between them), so every figure includes "
              "one scan of the observations; the engines read only the columns a query needs. "
              f"DuckDB works within its memory limit ({DUCKDB_MEMORY_LIMIT}, "
              "`paincycle.engine.queries.DUCKDB_MEMORY_LIMIT`) and spills to disk beyond it."]
    text = "\n".join(lines)
    print(text)
    write_section("engine", text)


if __name__ == "__main__":
    main()
