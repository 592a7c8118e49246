"""A cohort version's trajectory analyses, kept beside the version in the store.

Computing them takes about 20 s at 100,000 patients. A version never changes,
so they are computed once (right after import, or by the first server that
needs them) and read back in a second or two by every later server and
restart. The folder's name carries a fingerprint of the analysis code and the
measure registry, so changing either recomputes instead of showing stale
verdicts. Only plain arrays (``allow_pickle=False``) and Parquet are read back.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import uuid
import zipfile
from functools import cache
from pathlib import Path

from paincycle import cohort as cohort_module
from paincycle import measures, trajectories
from paincycle.cohort import Cohort
from paincycle.store import CohortStore
from paincycle.trajectories import CohortTrajectories


@cache
def fingerprint() -> str:
    """Short hash of the code the analyses depend on."""
    digest = hashlib.sha256()
    for module in (trajectories, measures, cohort_module):
        digest.update(Path(module.__file__).read_bytes())
    return digest.hexdigest()[:12]


def folder_of(store: CohortStore, version_id: str) -> Path:
    return store.path_of(version_id) / f"analyses-{fingerprint()}"


def prepared(store: CohortStore, version_id: str, cohort: Cohort | None = None) -> CohortTrajectories:
    """The version's analyses: read back when kept, else computed and kept for next time."""
    cohort = store.load(version_id) if cohort is None else cohort
    folder = folder_of(store, version_id)
    unreadable = False
    if folder.is_dir():
        try:
            return CohortTrajectories.from_folder(folder, cohort)
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):
            unreadable = True  # damaged, or not this cohort's: compute afresh and replace it
    computed = CohortTrajectories(cohort)
    keep(computed, folder, replace=unreadable)
    return computed


def keep(analyses: CohortTrajectories, folder: Path, replace: bool = False) -> bool:
    """Write ``analyses`` to ``folder`` in one step; False when it cannot be written here.

    Written to a staging folder and renamed, so a reader never sees half of it.
    When another server got there first its copy stays (unless ``replace``).
    Copies made by older code (another fingerprint) are removed.
    """
    if folder.exists() and not replace:
        return True
    staging = folder.parent / f".staging-{folder.name}-{uuid.uuid4().hex}"
    try:
        analyses.to_folder(staging)
        if folder.exists():
            shutil.rmtree(folder)
        os.replace(staging, folder)
    except OSError:
        return False
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    for older in folder.parent.glob("analyses-*"):
        if older != folder:
            shutil.rmtree(older, ignore_errors=True)
    return True
