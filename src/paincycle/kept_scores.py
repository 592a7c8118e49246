"""A cohort version's model risks, kept beside the version: scored once per version and model.

Scoring every patient computes the landmark features over the whole cohort
(seconds at 10,000 patients, much more at 100,000), and the first open of Case
review or the Risk page waited for it on every fresh server. A version never
changes and a model file is known by its hash, so the risks are computed once
and kept in the version's folder as ``risks-<model>-<code>.parquet``; the code
part is a fingerprint of what the risks depend on (features, model, rules,
measures, scikit-learn), so an upgrade scores again instead of showing stale
risks. Flags are not kept: they follow the team's threshold, applied on read.
"""

from __future__ import annotations

import hashlib
import os
import uuid
from collections.abc import Callable
from functools import cache
from pathlib import Path

import pandas as pd
import sklearn

from paincycle import cohort as cohort_module
from paincycle import features, measures, rules
from paincycle import model as risk_model
from paincycle.store import CohortStore

#: What reading a damaged or foreign file can raise (it is then scored again).
UNREADABLE = (OSError, ValueError, KeyError)


@cache
def fingerprint() -> str:
    """Short hash of the code and library versions a risk depends on."""
    digest = hashlib.sha256()
    for module in (features, risk_model, rules, measures, cohort_module):
        digest.update(Path(module.__file__).read_bytes())
    digest.update(f"{sklearn.__version__} {pd.__version__}".encode())
    return digest.hexdigest()[:12]


def path_of(cohorts: CohortStore, version_id: str, model_path: str | Path) -> Path:
    return cohorts.path_of(version_id) / f"risks-{risk_model.file_id(model_path)}-{fingerprint()}.parquet"


def scores(cohorts: CohortStore, version_id: str, model_path: str | Path,
           compute: Callable[[], risk_model.Scores]) -> risk_model.Scores:
    """The version's risks from ``model_path``: read back when kept, else ``compute()``d and kept.

    ``compute`` scores without explanations and at the model's default share
    (flags at the team's threshold are applied by the caller).
    """
    path = path_of(cohorts, version_id, model_path)
    kept = _read(path)
    if kept is not None:
        return kept
    computed = compute()
    _keep(computed, path)
    return computed


def _keep(computed: risk_model.Scores, path: Path) -> None:
    table = computed.table[["patient_id", "risk"]].assign(reason=None)
    skipped = computed.skipped[["patient_id", "reason"]].assign(risk=float("nan"))
    frame = pd.concat([table, skipped], ignore_index=True).astype(
        {"patient_id": str, "risk": float, "reason": object})
    staging = path.with_name(f".{path.name}.{uuid.uuid4().hex}")
    try:
        frame.to_parquet(staging, index=False)
        os.replace(staging, path)  # readers see the whole file or none
    except OSError:
        staging.unlink(missing_ok=True)  # a read-only store: score again next time


def _read(path: Path) -> risk_model.Scores | None:
    if not path.is_file():
        return None
    try:
        frame = pd.read_parquet(path, columns=["patient_id", "risk", "reason"])
    except UNREADABLE:
        return None
    scored = frame[frame["reason"].isna()]
    risk = scored["risk"].to_numpy(dtype=float)
    threshold = risk_model.flag_threshold(risk)
    table = pd.DataFrame({"patient_id": scored["patient_id"].astype(str).to_numpy(), "risk": risk,
                          "flagged": (risk >= threshold).astype(int), "top_factors": ""})
    skipped = frame.loc[frame["reason"].notna(), ["patient_id", "reason"]].reset_index(drop=True)
    return risk_model.Scores(table, skipped, threshold if len(risk) else 1.0)
