"""The light half of the risk model: what pages show about risks, without scikit-learn.

Case review, the Patient and Cohort pages and the exports show risks that were
scored once per version and model file and kept (paincycle.kept_scores); they
need the wording, the flag rule and a model file's identity, not the model.
Keeping these here means opening those pages never imports scikit-learn or
skops (seconds on a fresh server). paincycle.model re-exports every name.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

DISCLAIMER = "Prognostic support, not a diagnosis."
#: Until the team sets a threshold, the model flags this share of the cohort (highest risk).
DEFAULT_FLAG_SHARE = 0.20


@dataclass
class Scores:
    """Risks of the patients scored, and the ones skipped with the reason."""

    table: pd.DataFrame  # patient_id, risk, flagged, top_factors
    skipped: pd.DataFrame  # patient_id, reason
    threshold: float


def risk_percent(risk: float) -> int:
    """A risk as a whole percent from 1 to 99: a model's risk is never certain, so never
    0 or 100 (the one rounding for words, tables and spreadsheets)."""
    return min(99, max(1, round(float(risk) * 100)))


def risk_words(risk: float) -> str:
    """A risk as a clinician reads it: "34%" (see risk_percent); no "<1%" or ">99%", which
    spreadsheets and Markdown turn into symbols."""
    return f"{risk_percent(risk)}%"


def flag_threshold(risks: np.ndarray | pd.Series, share: float = DEFAULT_FLAG_SHARE) -> float:
    """The risk above which the top ``share`` of patients are flagged."""
    risks = np.asarray(risks, dtype=float)
    if not len(risks):
        return 1.0
    return float(np.quantile(risks, 1 - share, method="higher"))


def file_id(path: str | Path) -> str:
    """A model file's identity: the start of the SHA-256 of its bytes (settings are kept per file)."""
    stat = Path(path).stat()
    return _file_id(str(Path(path).resolve()), stat.st_mtime_ns, stat.st_size)


@lru_cache(maxsize=32)
def _file_id(path: str, _mtime_ns: int, _size: int) -> str:
    """Hashed once per file version (pages ask on every rerun)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()[:16]
