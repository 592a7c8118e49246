"""Meeting benchmark: Case review at the speed of talk, at clinic and registry scale.

For each size a synthetic cohort is written with `paincycle sample`, stored as a
version and its analyses and model risks prepared (what `paincycle import`
does; setup, not timed). A fresh child process, standing for a freshly started server, then
plays one meeting through AppTest with the shipped model:

- the landing page (loads the cohort), then the first open of Case review
  (reads the kept risks, loads the model, ranks the agenda, explains the
  agenda's patients in one batch, draws the first card);
- starting the meeting with its attendees;
- three decisions, each followed by "Next patient";
- one revision of a decision, then the sign-off.

AppTest reruns the whole page for every interaction, while in the browser a
save or a patient switch reruns only the discussion fragment: the bench wraps
st.fragment with a timer and reports both the fragment's runs (what the team
waits for) and the whole page (an upper bound).
The child's peak resident memory stands for the app server.

Run from the repository root:  .venv/bin/python -m bench.bench_meeting [--sizes 1000 10000]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

from bench.bench_pages import _run_child as run_pages_child
from bench.bench_pages import _setup as store_sample
from bench.results import write_section

ROOT = Path(__file__).resolve().parents[1]
SIZES = (1_000, 10_000, 100_000)
#: Targets from the meeting issue: first open by size; each save and switch.
FIRST_OPEN_TARGET = {10_000: 5.0, 100_000: 15.0}
STEP_TARGET = 1.0


def _time_fragments() -> list[float]:
    """Wrap st.fragment so each run of a fragment's body is timed: AppTest reruns the whole
    page, the browser only the fragment, so the fragment's runs are what the team waits for."""
    import functools

    import streamlit as st

    runs: list[float] = []
    original = st.fragment

    def timed(func=None, *args, **kwargs):
        if func is None:
            return lambda f: timed(f, *args, **kwargs)

        @functools.wraps(func)
        def body(*a, **kw):
            start = time.perf_counter()
            try:
                return func(*a, **kw)
            finally:
                runs.append(time.perf_counter() - start)

        return original(body, *args, **kwargs)

    st.fragment = timed
    return runs


def _child_meeting(_data_dir: str) -> dict:
    """Runs inside the measured child: one meeting through AppTest."""
    from streamlit.testing.v1 import AppTest

    fragment_runs = _time_fragments()
    out: dict = {"save": [], "switch": [], "save_fragment": [], "switch_fragment": []}

    def widget(elements, label):
        return next(w for w in elements if w.label == label)

    def timed(step) -> float:
        start = time.perf_counter()
        at = step()
        took = time.perf_counter() - start
        if at.exception:
            raise RuntimeError(at.exception[0].message)
        return took

    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=3600)
    out["home"] = timed(at.run)
    out["first_open"] = timed(lambda: at.switch_page("pages/case_review.py").run())
    out["agenda_rows"] = len(at.dataframe[0].value)
    widget(at.text_area, "Who is at the table? (one name per line)").input("Dr A\nNurse B\nPT C")
    out["start"] = timed(lambda: widget(at.button, "Start the meeting").click().run())
    for action in ("refer to CBT group", "phone weekly", "review opioid dose"):
        widget(at.text_input, "Action").input(action)
        fragment_runs.clear()
        out["save"].append(timed(lambda: widget(at.button, "Save decision").click().run()))
        out["save_fragment"].append(sum(fragment_runs))  # the save's run and the redraw
        fragment_runs.clear()
        out["switch"].append(timed(lambda: widget(at.button, "Next patient").click().run()))
        out["switch_fragment"].append(sum(fragment_runs))
    widget(at.button, "Previous").click().run()
    widget(at.text_input, "New action").input("review opioid dose with GP")
    out["revise"] = timed(lambda: widget(at.button, "Save as new revision").click().run())
    widget(at.checkbox, "Every decision of this meeting is recorded and correct").check()
    out["sign_off"] = timed(lambda: widget(at.button, "Sign off").click().run())
    # what was timed really happened: three decisions, one revision, the meeting signed off
    from datetime import date

    from paincycle import meetings, review

    stored = review.all_revisions(meeting_date=date.today())
    if (len({d.decision_id for d in stored}) != 3 or len(stored) != 4
            or not meetings.meeting(date.today()).signed_off):
        raise RuntimeError(f"the meeting was not recorded as played: {len(stored)} revisions")
    return out


def _prepare(env: dict) -> None:
    """Compute and keep the stored version's analyses and risks, as `paincycle import` does."""
    import subprocess

    subprocess.run([sys.executable, "-c",
                    "from paincycle import services; from paincycle.store import CohortStore; "
                    "s = CohortStore(); services.prepare_version(s, s.latest().id)"],
                   env=env, check=True, capture_output=True)


def _fmt(seconds: float | None, target: float | None = None) -> str:
    if seconds is None:
        return "-"
    mark = "" if target is None else (" ✅" if seconds <= target else " ❌")
    return f"{seconds:.2f} s{mark}"


def bench(sizes: tuple[int, ...], timeout: float) -> str:
    rows = []
    for n in sizes:
        with tempfile.TemporaryDirectory(prefix="paincycle-bench-meeting-") as tmp:
            env = {**os.environ, "PAINCYCLE_DATA_DIR": str(Path(tmp) / "data"),
                   "PAINCYCLE_ACCESS": "local"}
            _, n_obs, _ = store_sample(n, Path(tmp), env)
            _prepare(env)
            result, peak, error = run_child(["--child-meeting", env["PAINCYCLE_DATA_DIR"]], env,
                                            timeout)
        rows.append((n, n_obs, result, peak, error))
        print(f"{n:,} patients: {result} peak {peak:.0f} MB {error}", file=sys.stderr)

    lines = [
        f"Machine: {os.cpu_count()} cores, Python {platform.python_version()}; run "
        f"{time.strftime('%Y-%m-%d')} by `bench/bench_meeting.py` (AppTest, server side only, "
        "shipped model).",
        "",
        "| patients | observation rows | fresh server: landing page | Case review, first open "
        "(target ≤ 5 s at 10k, ≤ 15 s at 100k) | start meeting "
        "| save a decision: fragment, as the browser waits (target ≤ 1 s) | whole page "
        "| next patient: fragment (target ≤ 1 s) | whole page | save a revision (whole page) "
        "| sign-off | agenda | peak RSS |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for n, n_obs, r, peak, error in rows:
        if error:
            lines.append(f"| {n:,} | {n_obs:,} | failed: {error} | | | | | | | | {peak:,.0f} MB |")
            continue
        def spread(values: list[float], target: float | None = None) -> str:
            return f"{_fmt(statistics.median(values), target)} (max {max(values):.2f} s)"

        lines.append(
            f"| {n:,} | {n_obs:,} | {_fmt(r['home'])} "
            f"| {_fmt(r['first_open'], FIRST_OPEN_TARGET.get(n))} | {_fmt(r['start'])} "
            f"| {spread(r['save_fragment'], STEP_TARGET)} | {spread(r['save'])} "
            f"| {spread(r['switch_fragment'], STEP_TARGET)} | {spread(r['switch'])} "
            f"| {_fmt(r['revise'])} | {_fmt(r['sign_off'])} "
            f"| {r['agenda_rows']} patients | {peak:,.0f} MB |")
    lines += [
        "",
        "The first open pays, once per server, for reading the version's kept analyses and "
        "risks (scored once per version and model, at import) and loading the model; the rule part of the agenda is then "
        "computed once per version, model and flag threshold, and the agenda's patients are "
        "explained in one batch. A save, a revision or a patient switch reads the decisions and "
        "hand changes afresh (colleagues change them during the meeting) and redraws the "
        "discussion. AppTest reruns the whole page for each interaction; in the browser only "
        "the discussion fragment reruns (a save runs it twice: the save, then the redraw "
        "showing it), so the fragment columns time exactly those runs of the fragment's body "
        "(st.fragment wrapped with a timer) and the whole-page columns are upper bounds. "
        "Medians (and maxima) of three saves and three switches; medians and targets are "
        "server time, without the browser's drawing.",
    ]
    return "\n".join(lines)


def run_child(args: list[str], env: dict, timeout: float) -> tuple[dict, float, str]:
    """bench_pages' child runner, pointed at this module."""
    return run_pages_child(args, env, timeout, module="bench.bench_meeting")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=list(SIZES))
    parser.add_argument("--timeout", type=float, default=3600)
    parser.add_argument("--child-meeting")
    args = parser.parse_args()
    if args.child_meeting:
        print(json.dumps(_child_meeting(args.child_meeting)))
        return
    write_section("meeting", bench(tuple(args.sizes), args.timeout))


if __name__ == "__main__":
    main()
