"""Sidebar filters and the patient picker: small widgets that return the chosen values."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from datetime import date

import streamlit as st

from paincycle import charts
from paincycle.ui import data
from paincycle.ui.trajectories import Filters

#: Above this many patients the picker asks for part of an id first (a select
#: box with 100,000 options would ship every id to the browser).
PICKER_LIMIT = 2000
PICKER_MATCHES = 100


def choices(label: str, options: Sequence[str], key: str,
            format_func: Callable[[str], str] = str) -> tuple[str, ...]:
    """A multiselect where choosing nothing means everyone."""
    return tuple(st.multiselect(label, list(options), key=key, placeholder="All",
                                format_func=format_func))


def intake_period(span: tuple[date, date] | None, key: str) -> tuple[date | None, date | None]:
    """Intake date from-to; a half-picked range (one date) restricts only the start."""
    if span is None:
        return None, None
    picked = st.date_input("Intake period", value=span, min_value=span[0], max_value=span[1],
                           key=key, format="YYYY-MM-DD")
    if isinstance(picked, date):
        return picked, None
    start = picked[0] if len(picked) > 0 else None
    end = picked[1] if len(picked) > 1 else None
    return (None if start == span[0] else start), (None if end == span[1] else end)


def show(options: dict[str, list[str]], span: tuple[date, date] | None,
         key: str = "cohort") -> Filters:
    """The cohort filters in the sidebar: site, diagnosis, sex, age band, treatment, intake period."""
    with st.sidebar:
        st.subheader("Filters")
        sites = choices("Site", options["sites"], f"{key}_site")
        diagnoses = choices("Diagnosis", options["diagnoses"], f"{key}_diagnosis")
        sexes = choices("Sex", options["sexes"], f"{key}_sex")
        ages = choices("Age band", options["age_bands"], f"{key}_age")
        treatments = choices("Treatment received", options["treatments"], f"{key}_treatment",
                             format_func=charts.treatment_name)
        intake_from, intake_to = intake_period(span, f"{key}_intake")
    return Filters(sites, diagnoses, sexes, ages, treatments, intake_from, intake_to)


def patient_picker(ids: Sequence[str], key: str = "patient",
                   known: Callable[[str], bool] | None = None) -> str | None:
    """Pick a patient by id; starts from ?patient_id= in the link, and keeps the link in step.

    A link naming a patient who is not in this version opens nobody: it says so
    (without echoing the link's text) and waits for a choice. ``known`` answers whether an
    id is among ``ids`` (a kept set: a million ids hashed on every rerun took 0.2 s).
    """
    if not ids:
        return None
    wanted = st.query_params.get("patient_id")
    if st.session_state.pop(data.PATIENT_LINK_DROPPED, False):
        st.session_state[f"{key}_unknown"] = True  # the link's version is not stored here
    if wanted and not (known(wanted) if known is not None else wanted in set(ids)):
        st.warning("The patient in this link is not in the cohort version shown. "
                   "Choose a patient below, or pick another version in the sidebar.")
        del st.query_params["patient_id"]
        st.session_state[f"{key}_unknown"] = True
        wanted = None
    if len(ids) > PICKER_LIMIT:
        typed = st.text_input("Search patient id", value=wanted or "", key=f"{key}_search",
                              placeholder="Type part of an id")
        needle = typed.strip().lower()  # the first matches only: no pass over a million ids
        shown = list(itertools.islice((pid for pid in ids if needle in pid.lower()),
                                      PICKER_MATCHES))
        if not shown:
            st.info("No patient id contains the text typed.")
            return None
    else:
        shown = list(ids)
    unknown_link = st.session_state.get(f"{key}_unknown", False)
    index = shown.index(wanted) if wanted in shown else (None if unknown_link else 0)
    chosen = st.selectbox("Patient", shown, index=index, key=f"{key}_select",
                          placeholder="Choose a patient")
    if chosen:
        st.session_state.pop(f"{key}_unknown", None)
    if chosen and st.query_params.get("patient_id") != chosen:
        st.query_params["patient_id"] = chosen
    return chosen
