"""Run every benchmark under bench/ in turn; each writes its own section of docs/benchmarks.md."""

from __future__ import annotations

import runpy
import sys
from pathlib import Path

BENCHES = ("bench_foundation", "bench_pages", "bench_meeting", "bench_load", "evaluate_model")


def main() -> int:
    root = Path(__file__).resolve().parents[1]
    sys.path.insert(0, str(root))
    for name in BENCHES:
        if not (root / "bench" / f"{name}.py").exists():
            print(f"skipping {name}: not present")
            continue
        print(f"== {name}")
        runpy.run_module(f"bench.{name}", run_name="__main__")
    return 0


if __name__ == "__main__":
    sys.exit(main())
