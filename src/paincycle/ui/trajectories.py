"""Cached trajectory analyses for the pages, keyed by cohort version.

A stored version never changes, so its per-patient work (weekly series,
responder status, triad) is done once per server and shared by every
session; a filter change only aggregates the rows it keeps, and that result
is cached too. Only aggregated frames leave this module for the browser.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import date
from urllib.parse import urlencode

import pandas as pd
import streamlit as st

from paincycle import access, analyses, measures
from paincycle.access import Principal
from paincycle.cohort import Cohort
from paincycle.trajectories import CohortTrajectories, latest_values, triad_thresholds
from paincycle.ui import data


@dataclass(frozen=True)
class Filters:
    """The sidebar's choices; an empty tuple means "no restriction"."""

    sites: tuple[str, ...] = ()
    diagnoses: tuple[str, ...] = ()
    sexes: tuple[str, ...] = ()
    age_bands: tuple[str, ...] = ()
    treatments: tuple[str, ...] = ()
    intake_from: date | None = None
    intake_to: date | None = None

    def as_kwargs(self) -> dict:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}

    @property
    def active(self) -> bool:
        """True when any filter restricts the patients."""
        return any(self.as_kwargs().values())


@dataclass
class Overview:
    """What the cohort page shows for one set of filters (all of it already aggregated)."""

    headline: dict
    rates: pd.DataFrame
    bands: dict[str, pd.DataFrame]
    table: pd.DataFrame
    primary: dict[str, str] = field(default_factory=dict)


@st.cache_resource(show_spinner="Preparing this cohort version's trajectories (once per version)...",
                   max_entries=2)
def _prepared(root: str, version_id: str) -> CohortTrajectories:
    return analyses.prepared(data.store(), version_id, data.load_cohort(version_id))


def prepared(version_id: str) -> CohortTrajectories:
    """The version's trajectory analyses: kept on disk once computed, held in memory per server."""
    return _prepared(str(data.store().root.resolve()), version_id)


@st.cache_data(show_spinner=False, max_entries=64)
def overview(version_id: str, filters: Filters) -> Overview:
    """Headline numbers, responder rates, band charts' rows and the patient table for ``filters``."""
    prep = prepared(version_id)
    ids = prep.matching(**filters.as_kwargs())
    return Overview(prep.headline(ids), prep.rates(ids), prep.bands(ids), prep.table(ids),
                    dict(prep.primary))


@st.cache_data(show_spinner=False, max_entries=64)
def matching(version_id: str, filters: Filters) -> pd.Series:
    """Ids of the patients the filters keep."""
    return prepared(version_id).matching(**filters.as_kwargs())


def filter_options(version_id: str) -> dict[str, list[str]]:
    return prepared(version_id).filter_options()


def intake_span(version_id: str) -> tuple[date, date] | None:
    dates = prepared(version_id).patients["intake_date"]
    return (dates.min().date(), dates.max().date()) if len(dates) else None


def patient_ids(version_id: str) -> list[str]:
    return prepared(version_id).sorted_ids


def patient_count(version_id: str) -> int:
    return len(prepared(version_id).patients)


@dataclass
class PatientView:
    """One patient's rows and verdicts, for the drill-down."""

    cohort: Cohort
    domain_status: pd.DataFrame
    percentiles: pd.DataFrame
    latest: pd.DataFrame


@st.cache_data(show_spinner=False, max_entries=256)
def patient_view(version_id: str, patient_id: str) -> PatientView:
    """The patient's own rows (sliced, not scanned), verdicts, percentiles and latest scores."""
    prep = prepared(version_id)
    mine = prep.patient(patient_id)
    return PatientView(mine, prep.patient_domain_status(patient_id), prep.percentiles(patient_id),
                       latest_values(mine, patient_id))


def min_patients(n_patients: int) -> int:
    """Weeks drawn in a band chart need this many patients (a median of two is noise)."""
    return max(1, min(20, n_patients // 20))


def rates_table(rates: pd.DataFrame) -> pd.DataFrame:
    """Responder rates as domain rows and 3/6/12-month columns ("32% (84/258)")."""
    cells = rates.assign(cell=[
        "-" if n == 0 else f"{r:.0%} ({k}/{n})"
        for r, k, n in zip(rates["rate"], rates["n_responders"], rates["n_patients"], strict=True)])
    table = cells.pivot(index="domain", columns="months", values="cell")
    table = table.reindex([d for d in rates["domain"].unique()])
    table.columns = [f"{m} months" for m in table.columns]
    return table.reset_index().rename(columns={"domain": "Domain"})


def table_columns(pain_code: str | None) -> dict:
    """How the patient table is drawn: a link to the drill-down and a pain sparkline."""
    pain = measures.get(pain_code) if pain_code else None
    return {
        "link": st.column_config.LinkColumn("Patient", display_text=r"patient_id=([^&]*)$"),
        "pseudonym": st.column_config.TextColumn(
            "Patient (pseudonym)", help="De-identified view: codes change with every session."),
        "site": "Site",
        "diagnosis": "Diagnosis",
        "weeks_followed": st.column_config.NumberColumn("Weeks followed", format="%.0f"),
        "domains_worse": st.column_config.NumberColumn(
            "Domains worse", help="Domains worse than baseline by at least the MCID"),
        "triad": st.column_config.CheckboxColumn("Triad"),
        "pain": st.column_config.NumberColumn("Pain NRS (latest)", format="%.1f"),
        "phq9": st.column_config.NumberColumn("PHQ-9 (latest)", format="%.0f"),
        "isi": st.column_config.NumberColumn("ISI (latest)", format="%.0f"),
        "pain_trend": st.column_config.LineChartColumn(
            f"{pain.instrument if pain else 'Pain'} by week",
            y_min=pain.low if pain else None, y_max=pain.high if pain else None),
    }


def triad_help() -> str:
    """The triad's definition in words, with the registry's cut-offs."""
    cut = triad_thresholds()
    return (f"Pain NRS of {cut['pain_nrs']:g} or more, PHQ-9 of {cut['phq9']:g} or more and "
            f"ISI of {cut['isi']:g} or more at the latest visit.")


def patient_link(version_id: str, patient_id: str) -> str:
    """The Patient page of exactly this patient in exactly this version (URL-encoded)."""
    return "patient?" + urlencode({data.VERSION_PARAM: version_id, "patient_id": patient_id})


def table_for_display(table: pd.DataFrame, version_id: str,
                      principal: Principal | None = None) -> pd.DataFrame:
    """The patient table's shown columns, with a link that opens the Patient page.

    Roles that may not see identified records get pseudonymous codes (stable within
    the session) and no link to the drill-down.
    """
    columns = ["site", "diagnosis", "weeks_followed", "domains_worse", "triad", "pain",
               "phq9", "isi", "pain_trend"]
    if principal is None or principal.sees_identified_data:
        shown = table.assign(link=[patient_link(version_id, pid)
                                   for pid in table["patient_id"].astype(str)])
        return shown[["link", *columns]]
    salt = st.session_state.setdefault("pseudonym_salt", secrets.token_hex(16))
    codes = [access.pseudonym(pid, salt) for pid in table["patient_id"].astype(str)]
    return table.assign(pseudonym=codes)[["pseudonym", *columns]]


def latest_for_display(latest: pd.DataFrame) -> pd.DataFrame:
    """Latest scores with instrument names and severity bands, as the Patient page lists them."""
    return pd.DataFrame({
        "Domain": latest["domain"].str.capitalize(),
        "Measure": [_instrument(c) for c in latest["measure"]],
        "Date": latest["date"].dt.strftime("%Y-%m-%d"),
        "Score": latest["value"],
        "Severity band": latest["band"].fillna("-"),
    })


def percentiles_for_display(percentiles: pd.DataFrame) -> pd.DataFrame:
    """Each measure's latest week: the score and the share of the cohort it beats."""
    last = percentiles.sort_values("week").drop_duplicates("measure", keep="last")
    last = last[last["n_compared"] > 0]
    order = {c: i for i, c in enumerate(measures.MEASURES)}
    last = last.assign(_o=last["measure"].map(order)).sort_values("_o")
    return pd.DataFrame({
        "Measure": [_instrument(c) for c in last["measure"]],
        "Week": last["week"].astype(int),
        "Score": last["value"].round(1),
        "Doing better than": [f"{v:.0f}% of the cohort" for v in last["better_than"]],
        "Patients compared": last["n_compared"].astype(int),
    }).reset_index(drop=True)


def _instrument(code: str) -> str:
    return measures.MEASURES[code].instrument if code in measures.MEASURES else code
