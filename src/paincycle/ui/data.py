"""Cached access to the cohort store for the pages, and which version a session shows.

Cohorts are cached by version id: a version never changes, so the cache never
goes stale, and every page and rerun shares one copy in memory.

The version shown has one owner, the link: ``?version=`` in the URL. A link
therefore opens exactly the version it was made on. Without one, the session's
own choice (the picker, or a version this person just imported) is used, then
the team's current version (an admin's audited choice), then the newest.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from paincycle import config, database, team
from paincycle import store as store_module
from paincycle.cohort import Cohort, read_cohort
from paincycle.store import CohortStore, StoreIntegrityError, Version

_SESSION_KEY = "cohort_version"
_BAD_LINK_KEY = "_paincycle_unknown_version"
#: The query parameter that names the cohort version a page shows.
VERSION_PARAM = "version"
#: Set when a link's patient was dropped with its unknown version: the picker then opens nobody.
PATIENT_LINK_DROPPED = "_paincycle_patient_link_dropped"


@st.cache_resource(show_spinner=False)
def _store_at(root: str) -> CohortStore:
    return CohortStore(Path(root))


def store() -> CohortStore:
    """The cohort store of the configured data folder."""
    return _store_at(str(config.store_root().resolve()))


@st.cache_resource(show_spinner="Loading cohort...", max_entries=4)
def _load(root: str, version_id: str) -> Cohort:
    return _store_at(root).load(version_id)


def load_cohort(version_id: str) -> Cohort:
    """One stored version, loaded once per server and shared by every session.

    A version whose files changed since it was stored is refused with the reason.
    """
    try:
        return _load(str(store().root.resolve()), version_id)
    except StoreIntegrityError as exc:
        st.error(str(exc), icon=":material/gpp_bad:")
        st.stop()


def ensure_sample_cohort() -> Version | None:
    """On a fresh data folder, store the bundled demo cohort so the app shows something real."""
    current = store()
    latest = current.latest()
    sample_present = any((config.SAMPLE_COHORT / f"patients{s}").exists()
                         for s in (".parquet", ".csv"))
    if latest is not None or not sample_present:
        return latest
    with st.spinner("First start: storing the bundled demo cohort..."):
        cohort = read_cohort(config.SAMPLE_COHORT)
        return current.save(cohort, name="demo", source=f"sample_data/demo ({SYNTHETIC})")


SYNTHETIC = store_module.SYNTHETIC


def is_synthetic(version: Version | None) -> bool:
    """Whether a stored version holds generated patients (see store.Version.synthetic)."""
    return version is not None and version.synthetic


def version_by_id(version_id: str | None) -> Version | None:
    """The stored version with exactly this id, or None."""
    return _exact(version_id)


def versions() -> list[Version]:
    return store().versions()


def _exact(version_id: str | None) -> Version | None:
    found = store().find(version_id) if version_id else None
    return found if found is not None and found.id == version_id else None


def team_version_id() -> str | None:
    """The team's current version, when an admin chose one and it is still stored."""
    chosen = team.team_version(database.get_engine())
    return chosen if _exact(chosen) is not None else None


def current_version_id() -> str | None:
    """The version this page shows: the link's, else this session's, else the team's, else the newest."""
    linked = st.query_params.get(VERSION_PARAM)
    if linked:
        if _exact(linked) is not None:
            st.session_state[_SESSION_KEY] = linked
            return linked
        st.session_state[_BAD_LINK_KEY] = linked
        del st.query_params[VERSION_PARAM]
        if "patient_id" in st.query_params:  # its patient belongs to that version: open nobody
            del st.query_params["patient_id"]
            st.session_state[PATIENT_LINK_DROPPED] = True
    chosen = st.session_state.get(_SESSION_KEY)
    if _exact(chosen) is not None:
        return chosen
    latest = ensure_sample_cohort()
    if latest is None:
        return None
    return team_version_id() or latest.id


def unknown_linked_version() -> str | None:
    """A version id a link asked for that is not stored here (told once)."""
    return st.session_state.pop(_BAD_LINK_KEY, None)


def set_current_version(version_id: str) -> None:
    """Make ``version_id`` the cohort every page of this session shows (and the link says so)."""
    st.session_state[_SESSION_KEY] = version_id
    st.query_params[VERSION_PARAM] = version_id


def current_version() -> Version | None:
    version_id = current_version_id()
    return store().find(version_id) if version_id else None


def current_cohort() -> Cohort | None:
    """The cohort every page reads, or None when the store is empty."""
    version_id = current_version_id()
    return load_cohort(version_id) if version_id else None


def version_picker(container=st.sidebar) -> str | None:  # noqa: B008 - streamlit container
    """Sidebar select box of stored versions; returns the chosen version id."""
    all_versions = versions()
    if not all_versions:
        current_version_id()  # may store the bundled sample
        all_versions = versions()
    if not all_versions:
        container.info("No cohort stored yet: import one on the Data page.")
        return None
    ids = [v.id for v in all_versions]
    current = current_version_id()
    teams = team_version_id()
    labels = {v.id: v.label + (" (team's)" if v.id == teams else "") for v in all_versions}
    chosen = container.selectbox(
        "Cohort version", ids, index=ids.index(current) if current in ids else 0,
        format_func=labels.get,
        help="Every import is kept as its own version. New sessions open the team's version "
             "(chosen by an admin on the Data page), else the newest.",
    )
    if chosen != current or st.query_params.get(VERSION_PARAM) != chosen:
        set_current_version(chosen)  # the link always names the version shown
    return chosen
