"""Write a benchmark's results into its own section of docs/benchmarks.md."""

from __future__ import annotations

import re
from pathlib import Path

BENCHMARKS_MD = Path(__file__).resolve().parents[1] / "docs" / "benchmarks.md"


def write_section(name: str, markdown: str, path: Path = BENCHMARKS_MD) -> None:
    """Replace the text between <!-- BEGIN name --> and <!-- END name --> (append if absent)."""
    text = path.read_text() if path.exists() else "# Benchmarks\n"
    begin, end = f"<!-- BEGIN {name} -->", f"<!-- END {name} -->"
    block = f"{begin}\n{markdown.strip()}\n{end}"
    pattern = re.compile(re.escape(begin) + r".*?" + re.escape(end), re.S)
    text = pattern.sub(lambda _m: block, text) if pattern.search(text) else f"{text}\n{block}\n"
    path.write_text(text)


def page_timer(out: dict):
    """A timer for AppTest steps: ``timed(name, step)`` runs ``step`` (returning the AppTest),
    records its seconds in ``out[name]`` and fails on an exception shown by the page."""
    import time

    def timed(name: str, step):
        start = time.perf_counter()
        at = step()
        out[name] = time.perf_counter() - start
        if at.exception:
            raise RuntimeError(f"{name}: {at.exception[0].message}")
        return at

    return timed
