"""Trajectories: how a cohort, and each patient in it, moves in four domains.

The clinic's first two questions are "how is our cohort doing?" and "how is
this patient doing?". Both are answered on one time axis, weeks since intake,
and in the registry's own terms: baseline, change, MCID, responder. Pure
pandas: no streamlit, no I/O; every clinical number comes from the measure
registry.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date

import numpy as np
import pandas as pd

from paincycle import measures
from paincycle.cohort import MAX_DAYS_BEFORE_INTAKE, Cohort

#: Baseline window around intake (days), as in the cohort format's outcome definition.
BASELINE_WINDOW: tuple[int, int] = (-MAX_DAYS_BEFORE_INTAKE, 14)
#: Follow-up windows (days since intake) for responder rates at 3, 6 and 12 months.
#: The 12-month window is the contract's; the shorter ones keep visits from overlapping.
FOLLOW_UP_WINDOWS: dict[int, tuple[int, int]] = {3: (60, 135), 6: (150, 240), 12: (300, 430)}
#: Target day of each follow-up (the observation closest to it wins).
FOLLOW_UP_DAYS: dict[int, int] = {3: 91, 6: 182, 12: 365}
#: Days in a "month since intake" when cohort bands are drawn by month.
DAYS_PER_MONTH = 365.25 / 12
#: "Active" = any observation or attended appointment within this many days of the cohort's last record.
ACTIVE_DAYS = 90

STATUSES: tuple[str, ...] = ("improved", "no reliable change", "worse", "not enough data")

#: Age bands shown in the filter, as (label, lowest age); "unknown" for no birth year.
AGE_BANDS: tuple[tuple[str, int], ...] = (
    ("under 30", 0), ("30-44", 30), ("45-59", 45), ("60-74", 60), ("75 and over", 75),
)
UNKNOWN_AGE = "unknown"


# --------------------------------------------------------------------------- time axis


def _intake_of(cohort: Cohort, patient_ids: pd.Series) -> pd.Series:
    intake = cohort.patients.drop_duplicates("patient_id").set_index("patient_id")["intake_date"]
    return patient_ids.map(intake)


def with_time_since_intake(cohort: Cohort) -> pd.DataFrame:
    """Observations with ``days`` and ``week`` since intake (week 0 = the first 7 days).

    Observations before intake get negative days (the contract allows up to 60).
    """
    obs = cohort.observations[["patient_id", "date", "measure", "value"]].copy()
    intake = _intake_of(cohort, obs["patient_id"])
    days = (obs["date"] - intake).dt.days
    obs["days"] = days.astype("int64") if not days.isna().any() else days.astype("Int64")
    obs["week"] = np.floor_divide(obs["days"], 7)
    return obs


def weekly_series(cohort: Cohort, measures: Iterable[str] | None = None) -> pd.DataFrame:
    """One value per patient, measure and week since intake (daily steps become weekly means)."""
    obs = with_time_since_intake(cohort)
    if measures is not None:
        obs = obs[obs["measure"].isin(list(measures))]
    return _weekly(obs)


def _weekly(obs: pd.DataFrame) -> pd.DataFrame:
    out = (obs.groupby(["patient_id", "measure", "week"], sort=True, observed=True)["value"]
           .mean().reset_index())
    return out[["patient_id", "measure", "week", "value"]]


def cohort_bands(cohort: Cohort, measure: str, unit: str = "week",
                 weekly: pd.DataFrame | None = None) -> pd.DataFrame:
    """Median and interquartile range of a measure by week (or month) since intake.

    Each patient counts once per week (their weekly mean), so a daily diary
    does not outweigh a monthly questionnaire; ``n_patients`` says how many
    contributed. Pass ``weekly`` (from :func:`weekly_series`) to reuse it.
    """
    if weekly is None:
        weekly = weekly_series(cohort, [measure])
    return bands_from_weekly(weekly, measure, unit)


def bands_from_weekly(weekly: pd.DataFrame, measure: str, unit: str = "week") -> pd.DataFrame:
    """:func:`cohort_bands` from an already computed weekly series (any subset of patients)."""
    rows = weekly[weekly["measure"] == measure]
    if unit == "month":
        period = np.floor(rows["week"].to_numpy() * 7 / DAYS_PER_MONTH).astype("int64")
        rows = (rows.assign(month=period).groupby(["patient_id", "month"], observed=True)["value"]
                .mean().reset_index())
    elif unit != "week":
        raise ValueError(f"unit must be 'week' or 'month', not {unit!r}")
    columns = [unit, "median", "q1", "q3", "n_patients"]
    if rows.empty:
        return pd.DataFrame({c: pd.Series(dtype="int64" if c in (unit, "n_patients") else "float64")
                             for c in columns})
    grouped = rows.groupby(unit, sort=True)["value"]
    out = pd.DataFrame({
        "median": grouped.median(),
        "q1": grouped.quantile(0.25),
        "q3": grouped.quantile(0.75),
        "n_patients": grouped.size().astype("int64"),
    }).reset_index()
    out[unit] = out[unit].astype("int64")
    return out[columns]


# --------------------------------------------------------------------------- responders


def _judged_measures() -> list[str]:
    """Registry measures with an MCID: the only ones a change can be judged on."""
    return [code for code, m in measures.MEASURES.items() if m.mcid is not None]


def _closest(rows: pd.DataFrame, target: int, lo: int, hi: int) -> pd.DataFrame:
    """Per patient and measure, the observation closest to ``target`` days within [lo, hi].

    Ties go to the later observation (the one nearer to care having started).
    """
    rows = rows[(rows["days"] >= lo) & (rows["days"] <= hi)]
    rows = rows.assign(_dist=(rows["days"] - target).abs())
    rows = rows.sort_values(["patient_id", "measure", "_dist", "days"],
                            ascending=[True, True, True, False], kind="stable")
    return rows.drop_duplicates(["patient_id", "measure"]).drop(columns="_dist")


def _vector_improvement(codes: pd.Series, baseline: pd.Series, later: pd.Series) -> pd.Series:
    """Change in the better direction, per row, with each row's registry direction."""
    worse_high = codes.map({c: m.worse_high for c, m in measures.MEASURES.items()}).astype(bool)
    return pd.Series(np.where(worse_high, baseline - later, later - baseline), index=codes.index)


def _vector_status(codes: pd.Series, baseline: pd.Series, improvement: pd.Series) -> pd.Series:
    """Registry MCID rules (points, or percent where the measure allows it), vectorised.

    Mirrors Measure.is_important_improvement / is_important_worsening; a unit
    test checks the two agree.
    """
    mcid = codes.map({c: m.mcid for c, m in measures.MEASURES.items()}).astype("float64")
    pct = codes.map({c: m.mcid_percent for c, m in measures.MEASURES.items()}).astype("float64")
    with np.errstate(divide="ignore", invalid="ignore"):
        pct_gain = improvement / baseline.abs() * 100
    improved = (improvement >= mcid) | (pct.notna() & (baseline != 0) & (pct_gain >= pct))
    worse = -improvement >= mcid
    status = np.where(improved, "improved", np.where(worse, "worse", "no reliable change"))
    return pd.Series(status, index=codes.index)


def responder_status(cohort: Cohort, at_days: int | None = None,
                     window: tuple[int, int] | None = None) -> pd.DataFrame:
    """Change from baseline and responder status per patient and measure.

    Baseline is the observation closest to intake within [-60, +14] days. The
    later value is the latest observation after the baseline, or, with
    ``at_days``, the one closest to that day since intake within ``window``
    (default: the 3/6/12-month windows for 91/182/365, else +-25%).
    "improved" and "worse" need a change of at least the registry MCID in the
    measure's better/worse direction; a patient with no baseline or nothing
    after it is "not enough data". Only measures with an MCID are judged.
    """
    obs = with_time_since_intake(cohort)
    obs = obs[obs["measure"].isin(_judged_measures())]
    columns = ["patient_id", "measure", "domain", "baseline", "latest", "change", "improvement",
               "status", "baseline_date", "latest_date", "mcid"]
    pairs = obs[["patient_id", "measure"]].drop_duplicates().reset_index(drop=True)
    if pairs.empty:
        return pd.DataFrame({c: pd.Series(dtype="float64" if c in ("baseline", "latest", "change",
                                                                   "improvement", "mcid")
                                          else "object") for c in columns})
    lo, hi = BASELINE_WINDOW
    base = _closest(obs, 0, lo, hi)[["patient_id", "measure", "date", "value"]]
    base.columns = ["patient_id", "measure", "baseline_date", "baseline"]
    if at_days is None:
        later = obs.sort_values(["patient_id", "measure", "date"], kind="stable")
        later = later.drop_duplicates(["patient_id", "measure"], keep="last")
    else:
        if window is None:
            window = _window_for(at_days)
        later = _closest(obs, at_days, *window)
    later = later[["patient_id", "measure", "date", "value"]]
    later.columns = ["patient_id", "measure", "latest_date", "latest"]

    out = pairs.merge(base, how="left", on=["patient_id", "measure"])
    out = out.merge(later, how="left", on=["patient_id", "measure"])
    usable = out["baseline"].notna() & out["latest"].notna() & (out["latest_date"] > out["baseline_date"])
    same_visit = out["latest_date"] <= out["baseline_date"]
    out["latest"] = out["latest"].mask(same_visit)
    out["latest_date"] = out["latest_date"].mask(same_visit)
    out["change"] = (out["latest"] - out["baseline"]).where(usable)
    out["improvement"] = _vector_improvement(out["measure"], out["baseline"], out["latest"]).where(usable)
    status = _vector_status(out["measure"], out["baseline"], out["improvement"])
    out["status"] = status.where(usable, "not enough data")
    out["domain"] = out["measure"].map(measures.domain_of)
    out["mcid"] = out["measure"].map({c: m.mcid for c, m in measures.MEASURES.items()}).astype("float64")
    return out[columns].sort_values(["patient_id", "measure"]).reset_index(drop=True)


def _window_for(at_days: int) -> tuple[int, int]:
    for months, day in FOLLOW_UP_DAYS.items():
        if day == at_days:
            return FOLLOW_UP_WINDOWS[months]
    spread = max(14, round(at_days * 0.25))
    return at_days - spread, at_days + spread


def primary_measures(codes: Iterable[str]) -> dict[str, str]:
    """Per clinical domain, the first registry measure (registry order) among ``codes``.

    Registry order puts each domain's headline instrument first (pain NRS,
    PHQ-9, ISI, PROMIS physical function), so this is what a clinician reads first.
    """
    present = set(codes)
    chosen = {}
    for domain in measures.CLINICAL_DOMAINS:
        for measure in measures.in_domain(domain):
            if measure.code in present:
                chosen[domain] = measure.code
                break
    return chosen


def domain_status(status: pd.DataFrame) -> pd.DataFrame:
    """One verdict per patient and domain: the first registry measure with enough data.

    Falls back to "not enough data" (with the domain's first measure) when no
    measure in the domain can be judged.
    """
    status = status[status["domain"].isin(measures.CLINICAL_DOMAINS)]
    if status.empty:
        return status.copy()
    order = {code: i for i, code in enumerate(measures.MEASURES)}
    ranked = status.assign(_enough=(status["status"] == "not enough data").astype(int),
                           _order=status["measure"].map(order))
    ranked = ranked.sort_values(["patient_id", "domain", "_enough", "_order"], kind="stable")
    out = ranked.drop_duplicates(["patient_id", "domain"]).drop(columns=["_enough", "_order"])
    out["domain"] = pd.Categorical(out["domain"], categories=list(measures.CLINICAL_DOMAINS))
    out = out.sort_values(["patient_id", "domain"]).reset_index(drop=True)
    out["domain"] = out["domain"].astype(str)
    return out


def responder_rates(cohort: Cohort, months: Sequence[int] = (3, 6, 12)) -> pd.DataFrame:
    """Share of patients with a clinically important improvement, per domain, at 3/6/12 months.

    As registries such as ePPOC report it: among patients with a baseline and a
    follow-up in the window, the share whose domain improved by at least the
    MCID (each patient judged on the domain's first measure they have at both points).
    """
    rows = []
    for month in months:
        status = domain_status(responder_status(cohort, at_days=FOLLOW_UP_DAYS[month],
                                                window=FOLLOW_UP_WINDOWS[month]))
        judged = status[status["status"] != "not enough data"] if len(status) else status
        for domain in measures.CLINICAL_DOMAINS:
            in_domain = judged[judged["domain"] == domain] if len(judged) else judged
            n = int(len(in_domain))
            responders = int((in_domain["status"] == "improved").sum()) if n else 0
            rows.append((domain, month, n, responders, responders / n if n else np.nan))
    return pd.DataFrame(rows, columns=["domain", "months", "n_patients", "n_responders", "rate"])


# --------------------------------------------------------------------------- flags


def _latest(cohort: Cohort, codes: Iterable[str]) -> pd.DataFrame:
    obs = cohort.observations
    obs = obs[obs["measure"].isin(list(codes))][["patient_id", "date", "measure", "value"]]
    obs = obs.sort_values(["patient_id", "measure", "date"], kind="stable")
    return obs.drop_duplicates(["patient_id", "measure"], keep="last")


def _band_threshold(code: str, band: str) -> float:
    for b in measures.get(code).bands:
        if b.name == band:
            return b.threshold
    raise KeyError(f"{code} has no band {band!r}")


#: The pain-mood-sleep triad: (measure, registry band whose lower bound is the cut-off).
TRIAD: tuple[tuple[str, str], ...] = (("pain_nrs", "severe"), ("phq9", "moderate"), ("isi", "moderate"))


def triad_thresholds() -> dict[str, float]:
    """Cut-offs of the triad, read from the registry's bands (pain >= 7, PHQ-9 >= 10, ISI >= 15)."""
    return {code: _band_threshold(code, band) for code, band in TRIAD}


def triad_flags(cohort: Cohort) -> pd.DataFrame:
    """Severe pain, at least moderate depression and moderate insomnia at the latest visit.

    One row per patient; a patient missing any of the three latest scores is
    not flagged (the scores that exist are still shown).
    """
    thresholds = triad_thresholds()
    latest = _latest(cohort, thresholds)
    wide = latest.pivot(index="patient_id", columns="measure", values="value")
    out = pd.DataFrame({"patient_id": cohort.patients["patient_id"].astype(str)})
    flag = pd.Series(True, index=out.index)
    for code, cut in thresholds.items():
        values = out["patient_id"].map(wide[code]) if code in wide else pd.Series(np.nan, index=out.index)
        out[code] = values.astype("float64")
        flag &= out[code] >= cut
    out.insert(1, "triad", flag.astype(bool))
    return out.rename(columns={"pain_nrs": "pain"}).reset_index(drop=True)


def deterioration(cohort: Cohort, status: pd.DataFrame | None = None) -> pd.DataFrame:
    """Patient-measure pairs worse than baseline by at least the MCID (latest vs baseline)."""
    if status is None:
        status = responder_status(cohort)
    worse = status[status["status"] == "worse"]
    return pd.DataFrame({
        "patient_id": worse["patient_id"], "measure": worse["measure"],
        "domain": worse["domain"], "worsened_by": -worse["improvement"],
    }).reset_index(drop=True)


# --------------------------------------------------------------------------- one patient


def patient_percentiles(cohort: Cohort, patient_id: str,
                        weekly: pd.DataFrame | None = None) -> pd.DataFrame:
    """Where the patient sits against the cohort at the same week since intake.

    ``percentile`` is the share of other patients' weekly values below this
    patient's (ties count half), 0-100; ``better_than`` turns it around for
    measures where lower is better, so it always reads "doing better than X%".
    """
    if weekly is None:
        weekly = weekly_series(cohort)
    mine = weekly[weekly["patient_id"] == patient_id]
    columns = ["measure", "week", "value", "percentile", "better_than", "n_compared"]
    if mine.empty:
        return pd.DataFrame({c: pd.Series(dtype="float64") for c in columns})
    others = weekly[(weekly["patient_id"] != patient_id) & weekly["measure"].isin(mine["measure"].unique())
                    & weekly["week"].isin(mine["week"].unique())]
    merged = others[["measure", "week", "value"]].merge(
        mine[["measure", "week", "value"]], on=["measure", "week"], suffixes=("", "_mine"))
    merged["below"] = (merged["value"] < merged["value_mine"]).astype(float)
    merged["tie"] = (merged["value"] == merged["value_mine"]).astype(float)
    agg = merged.groupby(["measure", "week"]).agg(below=("below", "sum"), tie=("tie", "sum"),
                                                 n_compared=("value", "size")).reset_index()
    out = mine[["measure", "week", "value"]].merge(agg, how="left", on=["measure", "week"])
    out["n_compared"] = out["n_compared"].fillna(0).astype("int64")
    out["percentile"] = ((out["below"] + out["tie"] / 2) / out["n_compared"] * 100).where(
        out["n_compared"] > 0)
    worse_high = out["measure"].map(lambda c: measures.MEASURES[c].worse_high
                                    if c in measures.MEASURES else False)
    out["better_than"] = np.where(worse_high, 100 - out["percentile"], out["percentile"])
    return out[columns].sort_values(["measure", "week"]).reset_index(drop=True)


def latest_values(cohort: Cohort, patient_id: str) -> pd.DataFrame:
    """The patient's most recent score on every measure, with its registry severity band."""
    obs = cohort.observations[cohort.observations["patient_id"] == patient_id]
    latest = _latest(Cohort(cohort.patients, obs, cohort.events), obs["measure"].unique())
    out = pd.DataFrame({
        "measure": latest["measure"].to_numpy(),
        "domain": [measures.domain_of(c) or "custom" for c in latest["measure"]],
        "date": latest["date"].to_numpy(),
        "value": latest["value"].to_numpy(),
        "band": [(measures.MEASURES[c].band_of(v) if c in measures.MEASURES else None)
                 for c, v in zip(latest["measure"], latest["value"], strict=True)],
    })
    domain_order = {d: i for i, d in enumerate((*measures.CLINICAL_DOMAINS, "context", "custom"))}
    measure_order = {c: i for i, c in enumerate(measures.MEASURES)}
    out = out.assign(_d=out["domain"].map(domain_order), _m=out["measure"].map(measure_order))
    return out.sort_values(["_d", "_m", "measure"]).drop(columns=["_d", "_m"]).reset_index(drop=True)


def treatment_periods(cohort: Cohort, patient_id: str | None = None) -> pd.DataFrame:
    """Treatment courses as (patient_id, treatment, start, stop, start_week, stop_week).

    Each start is paired with the next stop of the same treatment; a course
    still running has no stop and ends at the patient's last record.
    """
    events = cohort.events
    if patient_id is not None:
        events = events[events["patient_id"] == patient_id]
    columns = ["patient_id", "treatment", "start", "stop", "start_week", "stop_week"]
    tx = events[events["event"].isin(["treatment_start", "treatment_stop"])]
    if tx.empty:
        return pd.DataFrame({c: pd.Series(dtype="object") for c in columns})
    tx = tx.assign(treatment=tx["detail"].astype(str)).sort_values(["patient_id", "treatment", "date"])
    tx = tx.assign(course=(tx["event"] == "treatment_start").groupby(
        [tx["patient_id"], tx["treatment"]]).cumsum())
    starts = tx[tx["event"] == "treatment_start"][["patient_id", "treatment", "course", "date"]]
    stops = tx[(tx["event"] == "treatment_stop") & (tx["course"] > 0)]
    stops = stops.drop_duplicates(["patient_id", "treatment", "course"])[
        ["patient_id", "treatment", "course", "date"]]
    out = starts.merge(stops, how="left", on=["patient_id", "treatment", "course"],
                       suffixes=("_start", "_stop"))
    out = out.rename(columns={"date_start": "start", "date_stop": "stop"})
    last_seen = pd.concat([cohort.observations[["patient_id", "date"]],
                           events[["patient_id", "date"]]]).groupby("patient_id")["date"].max()
    out["stop"] = out["stop"].fillna(out["patient_id"].map(last_seen))
    intake = _intake_of(cohort, out["patient_id"])
    out["start_week"] = (out["start"] - intake).dt.days / 7
    out["stop_week"] = (out["stop"] - intake).dt.days / 7
    return out[columns].sort_values(["patient_id", "start"]).reset_index(drop=True)


def appointments(cohort: Cohort, patient_id: str) -> pd.DataFrame:
    """The patient's attended and missed appointments with weeks since intake."""
    events = cohort.events
    rows = events[(events["patient_id"] == patient_id)
                  & events["event"].isin(["appointment_attended", "appointment_missed"])]
    intake = _intake_of(cohort, rows["patient_id"])
    return pd.DataFrame({
        "date": rows["date"].to_numpy(),
        "event": rows["event"].str.replace("appointment_", "", regex=False).to_numpy(),
        "week": ((rows["date"] - intake).dt.days / 7).to_numpy(),
    })


# --------------------------------------------------------------------------- filters


def age_bands(patients: pd.DataFrame, today: date | pd.Timestamp | None = None) -> pd.Series:
    """Each patient's age band (by birth year, as of ``today``), "unknown" without one."""
    year = (pd.Timestamp(today) if today is not None else pd.Timestamp.today()).year
    age = year - patients["birth_year"].astype("Float64")
    labels = pd.Series(UNKNOWN_AGE, index=patients.index, dtype=object)
    for label, lowest in AGE_BANDS:
        labels = labels.mask((age >= lowest).fillna(False).astype(bool), label)
    return labels


def patient_ids_matching(cohort: Cohort, sites: Iterable[str] | None = None,
                         diagnoses: Iterable[str] | None = None,
                         sexes: Iterable[str] | None = None,
                         age_bands: Iterable[str] | None = None,
                         treatments: Iterable[str] | None = None,
                         intake_from: date | pd.Timestamp | None = None,
                         intake_to: date | pd.Timestamp | None = None,
                         today: date | pd.Timestamp | None = None) -> pd.Series:
    """Ids of the patients a set of filters keeps (None or empty = no restriction)."""
    p = cohort.patients
    keep = pd.Series(True, index=p.index)
    for column, wanted in (("site", sites), ("diagnosis", diagnoses), ("sex", sexes)):
        if wanted:
            keep &= p[column].astype(object).fillna(UNKNOWN_AGE if column == "sex" else "")\
                .isin(list(wanted)).to_numpy()
    if age_bands:
        keep &= _age_band_of(p, today).isin(list(age_bands)).to_numpy()
    if treatments:
        ev = cohort.events
        treated = ev.loc[(ev["event"] == "treatment_start")
                         & ev["detail"].astype(object).isin(list(treatments)), "patient_id"]
        keep &= p["patient_id"].isin(treated.unique()).to_numpy()
    if intake_from is not None:
        keep &= (p["intake_date"] >= pd.Timestamp(intake_from)).to_numpy()
    if intake_to is not None:
        keep &= (p["intake_date"] <= pd.Timestamp(intake_to)).to_numpy()
    return p.loc[keep.to_numpy(), "patient_id"].reset_index(drop=True)


def _age_band_of(patients: pd.DataFrame, today) -> pd.Series:
    return age_bands(patients, today)


def filter_cohort(cohort: Cohort, sites: Iterable[str] | None = None,
                  diagnoses: Iterable[str] | None = None, sexes: Iterable[str] | None = None,
                  age_bands: Iterable[str] | None = None, treatments: Iterable[str] | None = None,
                  intake_from: date | pd.Timestamp | None = None,
                  intake_to: date | pd.Timestamp | None = None,
                  today: date | pd.Timestamp | None = None) -> Cohort:
    """The cohort restricted to patients matching every filter given (site, diagnosis, ...)."""
    ids = patient_ids_matching(cohort, sites, diagnoses, sexes, age_bands, treatments,
                               intake_from, intake_to, today)
    return cohort.subset(ids)


# --------------------------------------------------------------------------- headline


def last_record(cohort: Cohort) -> pd.Series:
    """Per patient, the last date with an observation or an attended appointment."""
    ev = cohort.events
    attended = ev.loc[ev["event"] == "appointment_attended", ["patient_id", "date"]]
    both = pd.concat([cohort.observations[["patient_id", "date"]], attended])
    return both.groupby("patient_id")["date"].max()


def follow_up_weeks(cohort: Cohort) -> pd.Series:
    """Per patient, weeks from intake to the last observation (0 for intake-only patients)."""
    last = cohort.observations.groupby("patient_id")["date"].max()
    intake = cohort.patients.set_index("patient_id")["intake_date"]
    weeks = ((last.reindex(intake.index) - intake).dt.days / 7).clip(lower=0)
    return weeks.fillna(0.0)


def active_patients(cohort: Cohort, as_of: pd.Timestamp | None = None,
                    days: int = ACTIVE_DAYS) -> pd.Series:
    """Ids of patients with a record in the ``days`` before ``as_of`` (default: the cohort's last record).

    The cohort's own last date is used rather than today, so an older export
    is not shown as "nobody active".
    """
    last = last_record(cohort)
    if last.empty:
        return pd.Series([], dtype=object)
    as_of = pd.Timestamp(as_of) if as_of is not None else last.max()
    return pd.Series(last.index[(last > as_of - pd.Timedelta(days=days)) & (last <= as_of)])
