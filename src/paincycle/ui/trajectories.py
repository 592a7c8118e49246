"""Cached trajectory analyses for the pages, keyed by cohort version.

A stored version never changes, so its per-patient work (weekly series,
responder status, triad) is done once per server and shared by every
session; a filter change only aggregates the rows it keeps, and that result
is cached too. Only aggregated frames leave this module for the browser.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from urllib.parse import urlencode

import numpy as np
import pandas as pd
import streamlit as st

from paincycle import (
    access,
    analyses,
    charts,
    measures,
    risks,  # the light half of the model: no scikit-learn here
)
from paincycle.access import Principal
from paincycle.cohort import Cohort
from paincycle.reports import patient as patient_report
from paincycle.trajectories import CohortTrajectories, triad_thresholds
from paincycle.ui import data
from paincycle.ui.text import plain


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
    #: week, n_followed: patients whose follow-up reaches each week since intake
    followed: pd.DataFrame = field(default_factory=pd.DataFrame)


@st.cache_resource(show_spinner="Preparing this cohort version's trajectories (once per version)...",
                   max_entries=2)
def _prepared(root: str, version_id: str) -> CohortTrajectories:
    return analyses.prepared(data.store(), version_id)


def prepared(version_id: str) -> CohortTrajectories:
    """The version's trajectory analyses: kept on disk once computed, held in memory per server."""
    return _prepared(str(data.store().root.resolve()), version_id)


@st.cache_data(show_spinner=False, max_entries=64)
def overview(version_id: str, filters: Filters) -> Overview:
    """Headline numbers, responder rates, band charts' rows and the patient table for ``filters``."""
    prep = prepared(version_id)
    ids = prep.matching(**filters.as_kwargs())
    table = prep.table(ids)
    function = prep.primary.get("function")
    if function:
        table["function"] = prep.latest_scores(function, table["patient_id"])
    kept = prep.rows_of(ids)  # by integer code: matching text ids was most of a first render
    return Overview(prep.headline(ids), prep.rates(ids), prep.bands(ids), table,
                    dict(prep.primary), followed_by_week(kept["weeks_followed"]))


def followed_by_week(weeks_followed: pd.Series) -> pd.DataFrame:
    """Patients still followed at each week since intake: those whose last score is that week
    or later (the "number at risk" under a survival curve)."""
    weeks = np.floor(pd.to_numeric(weeks_followed, errors="coerce").dropna().to_numpy())
    last_week = np.bincount(np.clip(weeks, 0, None).astype("int64")) if len(weeks) else np.zeros(0)
    still = last_week[::-1].cumsum()[::-1].astype("int64")
    return pd.DataFrame({"week": np.arange(len(still), dtype="int64"), "n_followed": still})


@st.cache_data(show_spinner=False, max_entries=64)
def matching(version_id: str, filters: Filters) -> pd.Series:
    """Ids of the patients the filters keep."""
    return prepared(version_id).matching(**filters.as_kwargs())


def filter_options(version_id: str) -> dict[str, list[str]]:
    """The values each sidebar filter can take, found once per version (shared, read-only)."""
    return _filter_options(str(data.store().root.resolve()), version_id)


@st.cache_resource(show_spinner=False, max_entries=4)
def _filter_options(root: str, version_id: str) -> dict[str, list[str]]:
    return prepared(version_id).filter_options()


def intake_span(version_id: str) -> tuple[date, date] | None:
    dates = prepared(version_id).patients["intake_date"]
    return (dates.min().date(), dates.max().date()) if len(dates) else None


def patient_ids(version_id: str) -> list[str]:
    return prepared(version_id).sorted_ids


def known_patient(version_id: str) -> Callable[[str], bool]:
    """Whether an id is in the version (see has_patient), for the patient picker's link check."""
    return lambda patient_id: has_patient(version_id, patient_id)


@st.cache_resource(show_spinner=False, max_entries=4)
def _id_set(version_id: str) -> frozenset[str]:
    return frozenset(patient_ids(version_id))


def draw(chart: object, width: str = "stretch") -> None:
    """Draw a chart built by paincycle.charts without validating it again: the builders are
    tested against the Vega-Lite schema, and Altair's validation was most of a Patient page
    rerun (0.4 s of its 0.6 s for the timeline)."""
    st.vega_lite_chart(spec=chart.to_dict(validate=False), width=width)  # type: ignore[attr-defined]


def has_patient(version_id: str, patient_id: str) -> bool:
    """Whether the version holds this patient (a set per version: a typed id is checked fast)."""
    return str(patient_id) in _id_set(version_id)


def patient_count(version_id: str) -> int:
    return len(prepared(version_id).patients)


@dataclass
class PatientView:
    """One patient's rows and verdicts, for the drill-down."""

    cohort: Cohort
    domain_status: pd.DataFrame
    percentiles: pd.DataFrame
    latest: pd.DataFrame
    #: The patient report (header without the model's risk, verdicts, timeline's inputs).
    report: patient_report.PatientReport | None = None


@st.cache_data(show_spinner=False, max_entries=256)
def patient_view(version_id: str, patient_id: str) -> PatientView:
    """The patient's own rows (sliced, not scanned), verdicts, percentiles and latest scores."""
    prep = prepared(version_id)
    report = patient_report.build(prep, patient_id)
    return PatientView(report.rows, report.domains, prep.percentiles(patient_id), report.latest,
                       report)


def patient_header(version_id: str, patient_id: str, risk: pd.DataFrame | None = None,
                   view: PatientView | None = None) -> patient_report.Header:
    """The report's header with the model's risk for this patient (``risk``: its scores, or
    None; indexed by patient id as ``ui.review.scores_by_patient`` keeps them, or not);
    ``view``: the page's :func:`patient_view`, so it is not built twice per rerun."""
    view = patient_view(version_id, patient_id) if view is None else view
    return patient_report.header(prepared(version_id), patient_id, own_score(risk, patient_id),
                                 rows=view.cohort)


def own_score(risk: pd.DataFrame | None, patient_id: str) -> pd.DataFrame | None:
    """The patient's own row of the model's scores (looked up, not scanned), as a frame."""
    if risk is None or risk.index.name != "patient_id":
        return risk
    pid = str(patient_id)
    return risk.loc[[pid]].reset_index() if pid in risk.index else risk.iloc[:0].reset_index()


@dataclass(frozen=True)
class PatientSpecs:
    """The Patient page's charts as Vega-Lite specs: built once per version and patient (a
    version never changes), so a rerun or a return to the patient only draws them."""

    tiles: dict
    timeline: tuple[dict, ...]


@st.cache_resource(show_spinner=False, max_entries=256)
def patient_specs(version_id: str, patient_id: str) -> PatientSpecs:
    """Specs of the patient's tiles and timeline rows (read-only: shared by every session)."""
    view = patient_view(version_id, patient_id)
    rows = (patient_report.timeline_rows(view.report)
            if not (view.cohort.observations.empty and view.cohort.events.empty) else [])
    return PatientSpecs(charts.responder_tiles(view.domain_status).to_dict(validate=False),
                        tuple(row.to_dict(validate=False) for row in rows))


def draw_spec(spec: dict, width: str = "stretch") -> None:
    """Draw a kept spec (see ``draw``: the builders are tested against the schema)."""
    st.vega_lite_chart(spec=spec, width=width)


def show_header(head: patient_report.Header) -> None:
    """The report's first lines: numbers as metrics, free text (diagnosis, site) as plain text."""
    st.subheader(f"Patient {plain(head.patient_id)}")
    cols = st.columns(5)
    cols[0].metric("Age at intake", "unknown" if head.age is None else head.age)
    cols[1].metric("Intake date", patient_report.date_text(head.intake_date))
    cols[2].metric("Weeks in care", "unknown" if head.weeks_in_care is None else head.weeks_in_care,
                   help="Weeks from intake to the last contact (a score or an attended appointment).")
    cols[3].metric("Last contact", patient_report.date_text(head.last_contact))
    cols[4].metric("Model risk", head.risk_text,
                   help="The risk model's risk for this patient in whole percent; the Risk "
                        "model page says which outcome it predicts.")
    facts = dict(head.facts())
    st.text(f"Sex: {facts['Sex']} · Diagnosis: {facts['Diagnosis']} · Site: {facts['Site']}")
    st.text(f"Current treatments: {facts['Current treatments']}")
    if head.flagged:
        st.text("Flagged for review by the model at the team's threshold.")
    st.caption(patient_report.RISK_TREND_NOTE)


def min_patients(n_patients: int) -> int:
    """Weeks drawn in a band chart need this many patients (charts.min_patients_per_week)."""
    return charts.min_patients_per_week(n_patients)


def rates_table(rates: pd.DataFrame) -> pd.DataFrame:
    """Responder rates as domain rows and 3/6/12-month columns ("32% (84/258)")."""
    cells = rates.assign(cell=[
        "-" if n == 0 else f"{r:.0%} ({k}/{n})"
        for r, k, n in zip(rates["rate"], rates["n_responders"], rates["n_patients"], strict=True)])
    table = cells.pivot(index="domain", columns="months", values="cell")
    table = table.reindex([d for d in rates["domain"].unique()])
    table.columns = [f"{m} months" for m in table.columns]
    return table.reset_index().rename(columns={"domain": "Domain"})


#: The Cohort page's patient table height in pixels: about 16 rows in view, then it scrolls.
TABLE_HEIGHT = 600


def table_columns(pain_code: str | None, function_code: str | None = None) -> dict:
    """How the patient table is drawn: a link to the drill-down, latest scores, a pain sparkline."""
    pain = measures.get(pain_code) if pain_code else None
    function = measures.get(function_code) if function_code else None
    return {
        "link": st.column_config.LinkColumn("Patient", display_text=r"patient_id=([^&]*)$",
                                            width=80),
        "pseudonym": st.column_config.TextColumn(
            "Patient (pseudonym)", help="De-identified view: codes change with every session."),
        "site": st.column_config.TextColumn("Site", width=145),
        "diagnosis": st.column_config.TextColumn("Diagnosis", width=135),
        # short headings and widths in pixels, so every column fits beside the sidebar;
        # each heading's help says in full what it holds
        "weeks_followed": st.column_config.NumberColumn(
            "Weeks", format="%.0f", width=56, help="Weeks followed since intake"),
        "domains_worse": st.column_config.NumberColumn(
            "Worse", width=52, help="Domains worse than baseline by at least the MCID"),
        "triad": st.column_config.CheckboxColumn("Triad", width=44, help=triad_help()),
        "pain": st.column_config.NumberColumn("Pain", format="%.1f", width=52,
                                              help="Average pain (NRS 0-10), latest"),
        "phq9": st.column_config.NumberColumn("PHQ-9", format="%.0f", width=56,
                                              help="PHQ-9 total, latest"),
        "isi": st.column_config.NumberColumn("ISI", format="%.0f", width=48,
                                             help="Insomnia Severity Index, latest"),
        "function": st.column_config.NumberColumn(
            "Function", format="%.1f", width=70,
            help=(f"{function.instrument}, latest ({charts.better_direction(function.code)})"
                  if function else None)),
        "risk": st.column_config.NumberColumn(
            "Risk", format="%d%%", width=52,
            help="The risk model's risk for this patient, whole percent"),
        "flagged": st.column_config.CheckboxColumn(
            "Flag", width=44, help="At or above the team's flag threshold for this model"),
        "pain_trend": st.column_config.LineChartColumn(
            "Pain by week", width=80,
            help=f"{pain.instrument if pain else 'Pain'}, weekly means since intake",
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
                      principal: Principal | None = None,
                      risk: pd.DataFrame | None = None) -> pd.DataFrame:
    """The patient table's shown columns, with a link that opens the Patient page.

    Roles that may not see identified records get pseudonymous codes (stable within
    the session) and no link to the drill-down. ``risk`` (patient_id, risk, flagged:
    the model's scores, where a model scores this cohort) adds the model's risk in
    whole percent (model.risk_percent: a number, so the column sorts) and its flag; a
    patient the model could not score shows none.
    """
    columns = ["site", "diagnosis", "weeks_followed", "domains_worse", "triad", "pain",
               "phq9", "isi", *(["function"] if "function" in table else []), "pain_trend"]
    if risk is not None:
        scored = risk if risk.index.name == "patient_id" else \
            risk.assign(patient_id=risk["patient_id"].astype(str)).set_index("patient_id")
        ids = table["patient_id"].astype(str)
        table = table.assign(
            risk=pd.array([risks.risk_percent(v) if pd.notna(v) else None
                           for v in ids.map(scored["risk"])], dtype="Int64"),
            flagged=ids.map(scored["flagged"]).fillna(0).astype(bool).to_numpy()
            if "flagged" in scored else False)
        columns[columns.index("pain_trend"):columns.index("pain_trend")] = ["risk", "flagged"]
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
        "Severity band": [band if isinstance(band, str) else _no_band(code)
                          for code, band in zip(latest["measure"], latest["band"], strict=True)],
    })


def _no_band(code: str) -> str:
    """A score in no band: 'none' where the instrument has bands, 'not banded' where it has none."""
    return "none" if code in measures.MEASURES and measures.MEASURES[code].bands else "not banded"


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
