"""Cached access to the risk model for the risk-model page and others.

The shipped model is loaded once per file version; scores are cached by cohort
version and model file, since neither ever changes. A model retrained on the
current cohort is saved under the data folder, next to the cohort store.

Risks, their reasons and the model's provenance are read from what was kept at
import (paincycle.kept_scores) whenever it is there, so Case review, the
Patient and Cohort pages never import scikit-learn or load the model; only
what was not kept (an older version, the Risk page's own checks) does.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd
import streamlit as st

from paincycle import applicability, database, kept_scores, risks, services
from paincycle.access import Principal
from paincycle.cohort import Cohort
from paincycle.ui import data

if TYPE_CHECKING:
    from paincycle.model import TrainedModel

retrained_path = services.retrained_path
model_path = services.model_path


@st.cache_resource(show_spinner="Loading the risk model...", max_entries=8)
def _load(path: str, mtime: float) -> TrainedModel:
    from paincycle import model as risk_model  # scikit-learn: only when a model is used

    return risk_model.load(path)


def load(path: Path) -> TrainedModel:
    return _load(str(path), path.stat().st_mtime)


@st.cache_resource(show_spinner="Scoring the cohort...", max_entries=8)
def _scores(version_id: str, path: str, mtime: float) -> risks.Scores:
    # kept beside the version: a fresh server reads the risks instead of scoring again
    def compute() -> risks.Scores:
        from paincycle import model as risk_model

        return risk_model.score(load(Path(path)), data.load_cohort(version_id), explain=False)

    return kept_scores.scores(data.store(), version_id, path, compute,
                              lambda: _computed_provenance(version_id, path).to_dict())


def team_threshold(path: Path) -> float | None:
    """The team's flag threshold for this model (read fresh: a colleague may just have set it)."""
    return services.team_threshold(path, database.get_engine())


def scores(version_id: str, path: Path) -> risks.Scores:
    """Risks of every patient of this cohort version, flagged at the team's threshold.

    The risks are computed once per version and model; the flags follow the
    team's threshold (stored in the database), so the Risk page, Case review and
    the export flag the same patients. Top factors are there when they were
    kept at import; otherwise explaining is done only for the patients someone
    looks at (``factors``).
    """
    computed = _scores(version_id, str(path), path.stat().st_mtime)
    threshold = team_threshold(path)
    if threshold is None or computed.table.empty:
        return computed
    table = computed.table.assign(flagged=(computed.table["risk"] >= threshold).astype(int))
    return risks.Scores(table, computed.skipped, threshold)


@st.cache_data(show_spinner="Explaining the risk...", max_entries=512)
def _factors(version_id: str, path: str, mtime: float, patient_ids: tuple[str, ...]
             ) -> dict[str, str]:
    from paincycle import model as risk_model

    trained = load(Path(path))
    subset = _patients_of(version_id, patient_ids)
    features = trained.features_for(subset, records_events=_records_events(version_id))
    features = features.loc[[p for p in patient_ids if p in features.index]]
    if features.empty:
        return {}
    texts = risk_model.top_factors(trained, features, trained.landmark_days)
    return dict(zip(features.index.astype(str), texts, strict=True))


def _patients_of(version_id: str, patient_ids: tuple[str, ...]) -> Cohort:
    """These patients' rows, read in one pass from the version's Parquet (the row groups that
    can hold them), not from a cohort loaded into memory."""
    from paincycle.ui import trajectories as kept  # the analysis the other pages read

    return kept.prepared(version_id).patients_rows(patient_ids)


@st.cache_resource(show_spinner=False, max_entries=8)
def _kept_factors(version_id: str, path: str, mtime: float) -> dict[str, str]:
    """patient -> reasons kept at import (one dict per version and model, not per rerun)."""
    table = _scores(version_id, path, mtime).table
    return {pid: text for pid, text in zip(table["patient_id"], table["top_factors"], strict=True)
            if text}


@st.cache_resource(show_spinner=False, max_entries=8)
def _scored_ids(version_id: str, path: str, mtime: float) -> frozenset[str]:
    return frozenset(_scores(version_id, path, mtime).table["patient_id"].astype(str))


def scored(version_id: str, path: Path, patient_ids: list[str]) -> list[str]:
    """Those of ``patient_ids`` the model scores (a set per version and model, not per rerun)."""
    ids = _scored_ids(version_id, str(path), path.stat().st_mtime)
    return [p for p in patient_ids if p in ids]


def factors(version_id: str, path: Path, patient_ids: list[str]) -> dict[str, str]:
    """Top factors in plain words for these patients: as kept at import, else explained now
    (cached per set of patients)."""
    if not patient_ids:
        return {}
    kept = _kept_factors(version_id, str(path), path.stat().st_mtime)
    found = {str(p): kept[str(p)] for p in patient_ids if kept.get(str(p))}
    missing = tuple(str(p) for p in patient_ids if str(p) not in found)
    if missing:
        found |= _factors(version_id, str(path), path.stat().st_mtime, missing)
    return found


def retrain(version_id: str, outcome, landmark_days: int, progress,
            principal: Principal | None = None, include_custom: bool = False,
            missing_indicators: bool = False) -> Path:
    """Train on the stored cohort version and save the model beside the store (audited)."""
    version = data.store().find(version_id)
    _, path = services.retrain(data.load_cohort(version_id), outcome, landmark_days,
                               retrained_path(version_id), principal=principal,
                               cohort_version=version_id, progress=progress,
                               synthetic=version is not None and version.synthetic,
                               include_custom=include_custom,
                               missing_indicators=missing_indicators)
    return path


def retrain_weekly(version_id: str, outcome, progress, principal: Principal | None = None,
                   include_custom: bool = False, missing_indicators: bool = False) -> Path:
    """Train the weekly model on the stored cohort version and save it beside the store."""
    version = data.store().find(version_id)
    _, path = services.retrain_weekly(data.load_cohort(version_id), outcome,
                                      services.weekly_retrained_path(version_id),
                                      principal=principal, cohort_version=version_id,
                                      progress=progress,
                                      synthetic=version is not None and version.synthetic,
                                      include_custom=include_custom,
                                      missing_indicators=missing_indicators)
    return path


def flagged_table(table: pd.DataFrame, threshold: float) -> pd.DataFrame:
    """Patients at or above the threshold, highest risk first."""
    flagged = table[table["risk"] >= threshold].sort_values("risk", ascending=False)
    return flagged[["patient_id", "risk", "top_factors"]]


#: How many flagged patients the Risk model page explains (explaining is ~5 ms a patient).
EXPLAINED_ROWS = 100


def explained_flags(version_id: str, path: Path, flagged: pd.DataFrame) -> pd.DataFrame:
    """The highest-risk flagged patients with their top factors filled in."""
    top = flagged.head(EXPLAINED_ROWS).copy()
    texts = factors(version_id, path, top["patient_id"].tolist())
    top["top_factors"] = top["patient_id"].map(texts).fillna("")
    return top


@st.cache_resource(show_spinner=False, max_entries=8)
def _provenance(version_id: str, path: str, mtime: float) -> applicability.Provenance:
    kept = kept_scores.kept_provenance(data.store(), version_id, path)
    if kept is None:
        return _computed_provenance(version_id, path)
    version = data.version_by_id(version_id)
    return applicability.Provenance(bool(kept["trained_here"]), bool(kept["model_synthetic"]),
                                    version.synthetic if version else None,
                                    str(kept["trained_on"]))


def _computed_provenance(version_id: str, path: str) -> applicability.Provenance:
    trained = load(Path(path))
    version = data.version_by_id(version_id)
    here = applicability.trained_here(trained, data.load_cohort(version_id), version_id)
    return applicability.provenance(trained, trained_here=here,
                                    cohort_synthetic=version.synthetic if version else None)


@st.cache_resource(show_spinner="Checking the model against this cohort...", max_entries=8)
def _local_check(version_id: str, path: str, mtime: float
                 ) -> applicability.LocalValidation | None:
    if _provenance(version_id, path, mtime).trained_here:
        return None  # its cross-validated numbers are this cohort's; an in-sample check flatters
    scored = _scores(version_id, path, mtime).table
    return applicability.local_validation(load(Path(path)), data.load_cohort(version_id), scored)


def provenance(version_id: str, path: Path) -> applicability.Provenance:
    """Where the model comes from against this cohort (once per version and model file)."""
    return _provenance(version_id, str(path), path.stat().st_mtime)


def local_check(version_id: str, path: Path) -> applicability.LocalValidation | None:
    """The model checked on this cohort's own outcomes (the Risk page; once per version and
    model); None when it was trained on them."""
    return _local_check(version_id, str(path), path.stat().st_mtime)


def provenance_words(version_id: str) -> str:
    """The model's provenance in words for a page or a file showing its risks ("" without one)."""
    path = model_path(version_id)
    if path is None:
        return ""
    try:
        return provenance(version_id, path).words()
    except Exception:  # a model that cannot be read says nothing here  # noqa: BLE001
        return ""


def provenance_notice(version_id: str) -> None:
    """Beside any risk on a page: where the model comes from; a synthetic model scoring
    patients who may be real is a warning, on every page that shows its risks."""
    path = model_path(version_id)
    if path is None:
        return
    try:
        origin = provenance(version_id, path)
    except Exception:  # a model that cannot be read must not stop the page  # noqa: BLE001
        return
    if origin.synthetic_on_real:
        st.warning(origin.words(), icon=":material/warning:")
    else:
        st.caption(f"{origin.words()} {risks.DISCLAIMER}")


# --------------------------------------------------------------------------- weekly model


def weekly_path(version_id: str) -> Path | None:
    """The weekly (earliest-warning) model for this version, if there is one."""
    return services.weekly_model_path(version_id)


@st.cache_resource(show_spinner=False, max_entries=8)
def _records_events(version_id: str) -> bool:
    """Whether the version keeps appointments and treatments at all (features of a slice)."""
    from paincycle.ui import trajectories as kept

    return kept.prepared(version_id).records_events


@st.cache_resource(show_spinner=False, max_entries=8)
def _as_of(version_id: str) -> pd.Timestamp | None:
    """The version's latest record: the 'now' its weekly risks are computed for."""
    from paincycle.ui import trajectories as kept

    span = kept.prepared(version_id).date_range
    return span[1] if span else None


@st.cache_data(show_spinner="Computing the weekly risk...", max_entries=512)
def _risk_over_time(version_id: str, path: str, mtime: float, patient_id: str) -> pd.DataFrame:
    from paincycle import weekly_model

    trained = load(Path(path))
    subset = _patients_of(version_id, (patient_id,))
    return weekly_model.risk_over_time(trained, subset, as_of=_as_of(version_id),
                                       records_events=_records_events(version_id))


def risk_over_time(version_id: str, patient_id: str) -> tuple[pd.DataFrame, TrainedModel] | None:
    """This patient's weekly risks and the weekly model behind them (None without one)."""
    path = weekly_path(version_id)
    if path is None:
        return None
    try:
        return (_risk_over_time(version_id, str(path), path.stat().st_mtime, patient_id),
                load(path))
    except ValueError as exc:  # a weekly file that fails its checks is said, never shown
        st.warning(f"The weekly model could not be loaded: {exc}", icon=":material/gpp_maybe:")
        return None


def weekly_caveat(version_id: str, trained: TrainedModel) -> str:
    """What a reader must know about the weekly model on this cohort, in one sentence."""
    version = data.store().find(version_id)
    on_real = version is not None and not version.synthetic
    if trained.metadata.synthetic and on_real:
        return ("The weekly model was trained on synthetic data and has not been validated on "
                "this cohort: read the trend, not the numbers.")
    meta = trained.metadata
    source = (f"{meta.metrics.n_patients:,} synthetic patients" if meta.synthetic
              else f"{meta.cohort_name or 'an unnamed cohort'} ({meta.metrics.n_patients:,} "
                   "patients)")
    return (f"Weekly model trained on {source}, landmarks day {meta.weekly_landmarks[0]} to "
            f"{meta.weekly_landmarks[-1]}; cross-validated AUC {meta.metrics.auc:.2f} at day "
            f"{trained.landmark_days}.")
