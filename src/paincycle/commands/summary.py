"""paincycle summary PATH --out FILE [--deidentify] [--filter site=North ...] [--no-model]"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

from paincycle import analyses, config, services
from paincycle.cohort import Cohort, read_cohort
from paincycle.reports import summary as export
from paincycle.store import CohortStore
from paincycle.trajectories import CohortTrajectories

HELP = ("Write the cohort summary (headline numbers, baseline profile, responder rates, flags, "
        "model performance) as .xlsx, .html, .pdf or .csv (the per-patient table).")

#: --filter keys and the filter_cohort argument each one fills (repeat a key for "or").
FILTER_KEYS: dict[str, str] = {
    "site": "sites", "diagnosis": "diagnoses", "sex": "sexes", "age_band": "age_bands",
    "treatment": "treatments",
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("path", help="cohort folder, .zip, or the name or id of a stored version")
    parser.add_argument("--out", required=True, help="output file: .xlsx, .html, .pdf or .csv")
    parser.add_argument("--deidentify", action="store_true",
                        help="pseudonymous ids, age bands, days since intake, no free text")
    parser.add_argument("--filter", action="append", default=[], metavar="KEY=VALUE",
                        help=f"keep matching patients; keys: {', '.join(FILTER_KEYS)} "
                             "(repeat a key to allow several values)")
    parser.add_argument("--no-model", action="store_true",
                        help="leave out the risk model even when one is shipped")
    parser.add_argument("--model", default=None, help="a model file (default: the one the app uses: retrained on the version, "
                             "else the shipped demo model)")


def load_analysis(path: str) -> tuple[CohortTrajectories, str | None, Callable[[], Cohort]]:
    """The analysis of a cohort folder or .zip, else of a stored version (its kept analysis),
    with how to load the whole cohort (only the model section needs it)."""
    if Path(path).exists():
        cohort = read_cohort(path)
        return CohortTrajectories(cohort), None, lambda: cohort
    store = CohortStore()
    version = store.find(path)
    if version is None:
        raise FileNotFoundError(f"{path}: no such cohort folder, .zip or stored version")
    return analyses.prepared(store, version.id), version.id, lambda: store.load(version.id)


def _synthetic(path: str, version_id: str | None) -> bool | None:
    """Whether the cohort is generated: a stored version says so; the bundled sample is; a
    folder of unknown origin is not known (None)."""
    if version_id is not None:
        version = CohortStore().find(version_id)
        return version.synthetic if version is not None else None
    if Path(path).resolve() == config.SAMPLE_COHORT.resolve():
        return True
    return None


def parse_filters(items: list[str]) -> dict[str, list[str]]:
    """'site=North' ... -> {'sites': ['North', ...]}; unknown keys are a clear error."""
    chosen: dict[str, list[str]] = {}
    for item in items:
        key, sep, value = item.partition("=")
        key = key.strip().lower().replace("-", "_")
        if not sep or key not in FILTER_KEYS or not value.strip():
            raise ValueError(f"--filter {item!r}: use KEY=VALUE with KEY one of "
                             f"{', '.join(FILTER_KEYS)}")
        chosen.setdefault(FILTER_KEYS[key], []).append(value.strip())
    return chosen


def run(args: argparse.Namespace) -> int:
    fmt = export.format_of(args.out)
    filters = parse_filters(args.filter)
    analysis, version_id, whole_cohort = load_analysis(args.path)
    ids = analysis.matching(**filters)
    if len(ids) == 0:
        raise ValueError("no patients match these filters; nothing was written")
    who = services.cli_principal()
    # the model the app uses for this version (retrained on it, else the shipped one)
    path = args.model or services.model_path(version_id)
    model = None if args.no_model or path is None else services.model_section(
        whole_cohort(), path, principal=who, cohort_synthetic=_synthetic(args.path, version_id))
    described = "; ".join(args.filter)
    data = services.export_summary(analysis, fmt, ids, deidentify=args.deidentify, model=model,
                                   filters=described, cohort_version=version_id,
                                   principal=who)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp")
    tmp.write_bytes(data)
    tmp.replace(out)
    print(f"wrote {out} ({len(ids):,} patients{', de-identified' if args.deidentify else ''})",
          file=sys.stderr)
    return 0
