"""A cohort version's model risks and their reasons, kept beside the version: scored once per
version and model file.

Scoring every patient computes the landmark features over the whole cohort
(seconds at 10,000 patients, much more at 100,000), and the first open of Case
review or the Risk page waited for it on every fresh server. A version never
changes and a model file is known by its hash, so the risks (and, when
computed at import, each patient's reasons in words and where the model comes
from) are computed once and kept in the version's folder as
``risks-<model>-<code>.parquet`` with a JSON beside it; the code part is a
fingerprint of what they depend on (features, model, rules, measures,
scikit-learn), so an upgrade scores again instead of showing stale risks.
Flags are not kept: they follow the team's threshold, applied on read. Reading
needs neither scikit-learn nor the model: pages that show kept risks open fast.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import uuid
from collections.abc import Callable
from functools import cache
from importlib import metadata
from pathlib import Path

import pandas as pd

from paincycle import risks
from paincycle.store import CohortStore

#: What reading a damaged or foreign file can raise (it is then scored again).
UNREADABLE = (OSError, ValueError, KeyError, TypeError)
#: The modules a kept risk depends on (their source is hashed, without importing them).
DEPENDS_ON = ("paincycle.features", "paincycle.model", "paincycle.risks", "paincycle.rules",
              "paincycle.measures", "paincycle.cohort", "paincycle.engine.queries")


@cache
def fingerprint() -> str:
    """Short hash of the code and library versions a risk depends on."""
    digest = hashlib.sha256()
    for name in DEPENDS_ON:
        digest.update(Path(str(importlib.util.find_spec(name).origin)).read_bytes())
    digest.update(f"{metadata.version('scikit-learn')} {pd.__version__}".encode())
    return digest.hexdigest()[:12]


def path_of(cohorts: CohortStore, version_id: str, model_path: str | Path) -> Path:
    return cohorts.path_of(version_id) / f"risks-{risks.file_id(model_path)}-{fingerprint()}.parquet"


def scores(cohorts: CohortStore, version_id: str, model_path: str | Path,
           compute: Callable[[], risks.Scores], provenance: Callable[[], dict] | None = None
           ) -> risks.Scores:
    """The version's risks from ``model_path``: read back when kept, else ``compute()``d and kept
    (with ``provenance()``, the model's origin against this cohort, when given).

    ``compute`` scores at the model's default share (flags at the team's threshold
    are applied by the caller), with or without each patient's reasons.
    """
    path = path_of(cohorts, version_id, model_path)
    kept = _read(path)
    if kept is not None:
        return kept
    computed = compute()
    _keep(computed, path, provenance() if provenance else None)
    return computed


def kept_provenance(cohorts: CohortStore, version_id: str, model_path: str | Path) -> dict | None:
    """Where the model comes from against this version, as kept at import (None: not kept)."""
    try:
        found = json.loads(path_of(cohorts, version_id, model_path).with_suffix(".json").read_text())
    except UNREADABLE:
        return None
    return found if isinstance(found, dict) and {"trained_here", "model_synthetic",
                                                 "trained_on"} <= set(found) else None


def _keep(computed: risks.Scores, path: Path, provenance: dict | None) -> None:
    table = computed.table.assign(reason=None)
    if "top_factors" not in table:
        table["top_factors"] = ""
    skipped = computed.skipped[["patient_id", "reason"]].assign(risk=float("nan"), top_factors="")
    frame = pd.concat([table[["patient_id", "risk", "reason", "top_factors"]], skipped],
                      ignore_index=True).astype({"patient_id": str, "risk": float,
                                                 "reason": object, "top_factors": str})
    staging = path.with_name(f".{path.name}.{uuid.uuid4().hex}")
    try:
        if provenance is not None:  # written first: a reader finding the risks finds this too
            side = path.with_suffix(".json")
            side_staging = side.with_name(f".{side.name}.{uuid.uuid4().hex}")
            side_staging.write_text(json.dumps(provenance))
            os.replace(side_staging, side)
        frame.to_parquet(staging, index=False)
        os.replace(staging, path)  # readers see the whole file or none
    except OSError:
        staging.unlink(missing_ok=True)  # a read-only store: score again next time


def _read(path: Path) -> risks.Scores | None:
    if not path.is_file():
        return None
    try:
        frame = pd.read_parquet(path, columns=["patient_id", "risk", "reason", "top_factors"])
    except UNREADABLE:
        return None
    scored = frame[frame["reason"].isna()]
    risk = scored["risk"].to_numpy(dtype=float)
    threshold = risks.flag_threshold(risk)
    table = pd.DataFrame({"patient_id": scored["patient_id"].astype(str).to_numpy(dtype=object),
                          "risk": risk, "flagged": (risk >= threshold).astype(int),
                          "top_factors": scored["top_factors"].fillna("").astype(str)
                          .to_numpy(dtype=object)})
    skipped = frame.loc[frame["reason"].notna(), ["patient_id", "reason"]].reset_index(drop=True)
    return risks.Scores(table, skipped, threshold if len(risk) else 1.0)
