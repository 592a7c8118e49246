"""A cohort version's trajectory analyses, kept beside the version in the store.

Computing them takes about 20 s at 100,000 patients. A version never changes,
so they are computed once (right after import, or by the first server that
needs them) and read back in a second or two by every later server and
restart. The folder's name carries a fingerprint of the code and libraries
they depend on, so an upgrade recomputes instead of showing stale verdicts;
the version's content hash inside refuses a copy made for other data. Only
plain arrays (``allow_pickle=False``) and Parquet are read back.

Several servers may share one store: a copy is written to a staging folder
and renamed into place, the first copy to land stays, and nothing a reader
may be using is deleted under it.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import time
import uuid
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from paincycle import cohort as cohort_module
from paincycle import engine as engines
from paincycle import measures, rules, store, trajectories
from paincycle.cohort import Cohort
from paincycle.engine import queries
from paincycle.store import CohortStore
from paincycle.trajectories import CohortTrajectories

#: What reading a damaged, truncated or foreign copy can raise.
UNREADABLE = (OSError, ValueError, KeyError, IndexError, EOFError, zipfile.BadZipFile)
#: Copies made by other code (another fingerprint) are removed once this old;
#: younger ones may still be read by a server on that code (a rolling upgrade).
STALE_AFTER_S = 7 * 24 * 3600
#: Staging and set-aside folders left by a crash are removed once this old.
LEFTOVER_AFTER_S = 3600


@cache
def fingerprint() -> str:
    """Short hash of the code and library versions the analyses depend on."""
    digest = hashlib.sha256()
    for module in (trajectories, rules, measures, cohort_module, store, queries):
        digest.update(Path(module.__file__).read_bytes())
    digest.update(f"{np.__version__} {pd.__version__} {pa.__version__}".encode())
    return digest.hexdigest()[:12]


def folder_of(cohorts: CohortStore, version_id: str) -> Path:
    return cohorts.path_of(version_id) / f"analyses-{fingerprint()}"


@dataclass(frozen=True)
class StoredRows:
    """Patients' rows read from a stored version's Parquet when a page asks for them."""

    cohorts: CohortStore
    version_id: str

    def rows(self, patient_ids: Sequence[str]) -> Cohort:
        return self.cohorts.patient_rows(self.version_id, patient_ids)


def prepared(cohorts: CohortStore, version_id: str,
             engine: engines.Engine | None = None) -> CohortTrajectories:
    """The version's analyses: read back when kept, else computed and kept for next time.

    Neither way loads the version's observations: the engine reads its
    Parquet, and a patient's rows are read when a page opens that patient.
    """
    version = cohorts.find(version_id)  # one read of the manifests for the tag and the name
    tag, name = (version.content_hash, version.name) if version is not None else ("", version_id)
    patients = cohorts.load_patients(version_id)
    folder = folder_of(cohorts, version_id)
    kept = _read(folder, cohorts, version_id, name, patients, tag)
    if kept is not None:
        return kept
    with tempfile.TemporaryDirectory(prefix="paincycle-analyses-") as workdir:
        # the engine's weekly indexes are files there until kept (never in this process)
        computed = compute(cohorts, version_id, engine=engine, patients=patients, name=name,
                           workdir=Path(workdir))
        if folder.exists() and _read(folder, cohorts, version_id, name, patients, tag) is None:
            _set_aside(folder)  # still unreadable (not just landed from another server)
        keep(computed, folder, tag)
        # served from the kept copy: its weekly indexes are memory-mapped, not held here
        kept = _read(folder, cohorts, version_id, name, patients, tag)
        if kept is not None:
            return kept
        return _in_memory(computed)


def compute(cohorts: CohortStore, version_id: str, today: pd.Timestamp | None = None,
            engine: engines.Engine | None = None, patients: pd.DataFrame | None = None,
            name: str | None = None, workdir: Path | None = None) -> CohortTrajectories:
    """The version's analyses, run by ``engine`` (default: the configured one,
    paincycle.engine: DuckDB unless PAINCYCLE_ENGINE says Spark) over its Parquet; with
    ``workdir``, the weekly indexes are memory-mapped files there (it must outlive them)."""
    today = pd.Timestamp.today() if today is None else pd.Timestamp(today)
    engine = engines.configured() if engine is None else engine
    patients = cohorts.load_patients(version_id) if patients is None else patients
    folder = cohorts.path_of(version_id)
    per_patient = queries.per_patient(engine, folder, today)
    weekly = queries.weekly_indexes(engine, folder, patients["patient_id"].astype(str).to_numpy(
        dtype=object), workdir)
    if name is None:
        version = cohorts.find(version_id)
        name = version.name if version is not None else version_id
    return CohortTrajectories.from_parts(
        patients, name, weekly, per_patient,
        StoredRows(cohorts, version_id), queries.date_range(engine, folder),
        queries.records_events(engine, folder), today)


def _in_memory(analyses: CohortTrajectories) -> CohortTrajectories:
    """``analyses`` with any memory-mapped array read into memory (its files are temporary)."""
    for name in CohortTrajectories._MAPPED:
        array = getattr(analyses, name)
        if isinstance(array, np.memmap):
            setattr(analyses, name, np.array(array))
    return analyses


def keep(analyses: CohortTrajectories, folder: Path, cohort_tag: str = "") -> bool:
    """Write ``analyses`` to ``folder`` in one step; False when it cannot be written here.

    When a copy is already in place (another server got there first) that copy
    stays and this one is dropped: both were computed from the same version.
    """
    staging = folder.parent / f".staging-{folder.name}-{uuid.uuid4().hex}"
    try:
        analyses.to_folder(staging, cohort_tag)
        try:
            os.rename(staging, folder)  # refuses to replace a folder that exists
        except OSError:
            if not folder.is_dir():
                raise
        _tidy(folder)
        return True
    except OSError:
        return False
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _read(folder: Path, cohorts: CohortStore, version_id: str, name: str,
          patients: pd.DataFrame, tag: str) -> CohortTrajectories | None:
    if not folder.is_dir():
        return None
    try:
        return CohortTrajectories.from_folder(folder, patients, StoredRows(cohorts, version_id),
                                              name, cohort_tag=tag)
    except UNREADABLE:
        return None


def _set_aside(folder: Path) -> None:
    """Rename a damaged copy out of the way (a reader holding its files keeps them)."""
    try:
        os.rename(folder, folder.parent / f".damaged-{folder.name}-{uuid.uuid4().hex}")
    except OSError:
        pass


def _tidy(folder: Path) -> None:
    """Remove other fingerprints' copies once stale, and leftovers of crashed writers."""
    now = time.time()
    for other in folder.parent.iterdir():
        try:
            age = now - other.stat().st_mtime
        except OSError:
            continue
        if other == folder or not other.is_dir():
            continue
        stale = other.name.startswith("analyses-") and age > STALE_AFTER_S
        leftover = other.name.startswith((".staging-analyses-", ".damaged-analyses-")) \
            and age > LEFTOVER_AFTER_S
        if stale or leftover:
            shutil.rmtree(other, ignore_errors=True)
