"""Landmark features: what the team knows about a patient ``landmark_days`` after intake.

Every feature is computed only from rows dated on or before intake + landmark
(default 90 days), the same cut for training and for scoring, so a model never
sees the future of the patient it scores. Features that cannot be computed
(no wearable, a registry with only baseline questionnaires) are missing, not
zero: the model's imputer fills them and the explanations skip them.

``FEATURES`` is the one place each feature is named and explained; the model
page, the explanations and the model card read it from here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from paincycle import measures, rules
from paincycle.cohort import Cohort
from paincycle.rules import RECENT_DAYS

DEFAULT_LANDMARK_DAYS = 90
#: Self-reported or worn every day or week: completion of these is "the diary".
DIARY_MEASURES = ("pain_nrs", "sleep_hours", "steps", "active_minutes", "peg")
#: Function-domain measures whose worsening reads as functional withdrawal.
WITHDRAWAL_MEASURES = ("steps", "active_minutes", "promis_physical_function",
                       "promis_social_roles", "odi", "pdi", "tsk")
#: A withdrawal signal counts fully (1.0) at a worsening of this many MCIDs.
FULL_SIGNAL_MCIDS = 2.0
CATEGORICAL = ("sex", "diagnosis")
#: Below this landmark there is no period to withdraw in: care and withdrawal features are missing.
MIN_WITHDRAWAL_DAYS = 14
MEASURE_CODES = tuple(measures.MEASURES)


@dataclass(frozen=True)
class Feature:
    name: str
    label: str
    group: str  # baseline, change, slope, withdrawal, care, person
    unit: str
    meaning: str
    measure: str | None = None


def _registry() -> dict[str, Feature]:
    out: dict[str, Feature] = {}
    for code, m in measures.MEASURES.items():
        out[f"{code}_baseline"] = Feature(
            f"{code}_baseline", f"{m.instrument} at intake", "baseline", m.unit,
            f"{m.instrument} closest to intake, from {-rules.BASELINE.lo} days before to "
            f"{rules.BASELINE.hi} days after (or to the landmark, if earlier).", code)
        out[f"{code}_change"] = Feature(
            f"{code}_change", f"Change in {m.instrument}", "change", m.unit,
            f"Recent {m.instrument} (last {RECENT_DAYS} days before the landmark) minus the "
            "intake level; positive means the score rose.", code)
        out[f"{code}_slope"] = Feature(
            f"{code}_slope", f"Trend in {m.instrument}", "slope", f"{m.unit} per 4 weeks",
            f"Straight-line trend of {m.instrument} from intake to the landmark, per 4 weeks "
            "(at least 3 scores over 2 weeks).", code)
    rest = [
        Feature("withdrawal_index", "Functional withdrawal index", "withdrawal", "-1 to 1",
                "Average of the withdrawal signals available: falling steps, active minutes, "
                "physical function and social roles, rising ODI, PDI and fear of movement "
                f"(each full at {FULL_SIGNAL_MCIDS:g} MCIDs), missed appointments and fading "
                "diary and questionnaire completion. 0 = steady, 1 = withdrawing strongly."),
        Feature("withdrawal_signals", "Withdrawal signals available", "withdrawal", "count",
                "How many of the withdrawal signals could be computed for this patient."),
        Feature("appointments_missed", "Appointments missed", "care", "count",
                "Appointments missed from intake to the landmark."),
        Feature("appointments_total", "Appointments due", "care", "count",
                "Appointments attended or missed from intake to the landmark."),
        Feature("missed_appointment_share", "Share of appointments missed", "withdrawal",
                "share", "Missed appointments as a share of those due by the landmark."),
        Feature("diary_weeks_share", "Diary weeks completed", "care", "share",
                "Share of weeks from intake to the landmark with at least one diary or "
                "wearable entry (patients who kept a diary at all)."),
        Feature("diary_fade", "Fading diary", "withdrawal", "-1 to 1",
                "1 minus (diary weeks in the second half of the period / in the first half): "
                "positive when the diary fades."),
        Feature("questionnaire_missing_share", "Follow-up questionnaires missing", "withdrawal",
                "share", "Share of the questionnaires answered at intake that were not answered "
                "again before the landmark (needs a landmark of at least 30 days)."),
        Feature("data_missing_share", "Expected data missing", "care", "share",
                "Average of the missing diary weeks and the missing follow-up questionnaires: "
                "withdrawal from care, not just noise."),
        Feature("treatments_started", "Treatments started", "care", "count",
                "Treatments started from intake to the landmark."),
        Feature("age", "Age", "person", "years", "Age at intake (from the birth year)."),
        Feature("sex", "Sex", "person", "", "Recorded sex."),
        Feature("diagnosis", "Diagnosis", "person", "", "Recorded pain diagnosis."),
    ]
    out.update({f.name: f for f in rest})
    return out


FEATURES: dict[str, Feature] = _registry()

#: Feature blocks of the ablation, each fitted the same way as the full model: pain intensity
#: with its change and trend, the withdrawal block, and mood and psychological measures (on
#: CHOIR distress, not function, predicts pain non-response: the product shows what it finds).
PAIN_INTENSITY_FEATURES = ("pain_nrs_baseline", "pain_nrs_change", "pain_nrs_slope")
WITHDRAWAL_FEATURES = tuple(
    [n for n, f in FEATURES.items() if f.group == "withdrawal"]
    + [f"{c}_{k}" for c in WITHDRAWAL_MEASURES for k in ("change", "slope")]
    + ["appointments_missed", "appointments_total", "diary_weeks_share", "data_missing_share"])
DISTRESS_FEATURES = tuple(
    n for n, f in FEATURES.items()
    if f.measure and measures.domain_of(f.measure) in ("mood", measures.PSYCHOLOGICAL))
ABLATION_BLOCKS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("pain intensity, its change and trend", PAIN_INTENSITY_FEATURES),
    ("withdrawal block", WITHDRAWAL_FEATURES),
    ("mood and psychological measures", DISTRESS_FEATURES),
)


def custom_codes(cohort: Cohort) -> list[str]:
    """The custom measures (``x_`` codes, not in the registry) this cohort has scores for."""
    codes = cohort.observations["measure"].astype(str)
    return sorted(set(codes[codes.str.startswith(measures.CUSTOM_PREFIX)]))


#: The stacked (weekly) model's covariate: which landmark a row describes.
LANDMARK_FEATURE = Feature(
    "landmark_days", "Days since intake", "time", "days",
    "The landmark this risk is for: the weekly model is fitted over landmarks from day 14 to "
    "day 120, so the same pattern can weigh differently early and late.")
#: Landmarks of the weekly (earliest-warning) model: every week from day 14 to day 119, plus
#: the days its AUC is reported at (30, 60, 90).
WEEKLY_LANDMARKS: tuple[int, ...] = tuple(sorted(set(range(14, 121, 7)) | {30, 60, 90}))


def feature_info(name: str) -> Feature:
    """The registry entry of a feature; a custom measure's baseline gets a generic one."""
    if name in FEATURES:
        return FEATURES[name]
    if name == LANDMARK_FEATURE.name:
        return LANDMARK_FEATURE
    code = name.removesuffix("_baseline")
    label = code.removeprefix(measures.CUSTOM_PREFIX).replace("_", " ")
    return Feature(name, f"{label} at intake", "custom", "",
                   f"Custom measure {code} closest to intake (the registry's baseline window).")


def landmark_cut(cohort: Cohort, landmark_days: int = DEFAULT_LANDMARK_DAYS) -> Cohort:
    """The cohort as it stood at each patient's landmark: rows after day ``landmark_days`` removed."""

    def keep(frame: pd.DataFrame) -> pd.DataFrame:
        if frame.empty:
            return frame
        return frame[cohort.days_since_intake(frame) <= landmark_days].reset_index(drop=True)

    return Cohort(cohort.patients, keep(cohort.observations), keep(cohort.events), cohort.name)


def _with_day(cohort: Cohort, frame: pd.DataFrame) -> pd.DataFrame:
    return frame.assign(day=cohort.days_since_intake(frame))


def baseline_window(landmark_days: int) -> rules.Window:
    """rules.BASELINE, cut at the landmark when the landmark comes first."""
    window = rules.BASELINE
    if landmark_days < window.hi:
        window = rules.Window(min(window.target, landmark_days), window.lo, landmark_days)
    return window


def baseline_values(obs: pd.DataFrame, landmark_days: int) -> pd.DataFrame:
    """Per patient and measure, the baseline score (rules.BASELINE, cut at the landmark)."""
    window = baseline_window(landmark_days)
    obs = obs[(obs["day"] >= window.lo) & (obs["day"] <= window.hi)]  # pair only the window's rows
    if obs.empty:
        return pd.DataFrame()
    pair = pd.factorize(pd.MultiIndex.from_arrays([obs["patient_id"], obs["measure"]]))[0]
    picked = obs.iloc[rules.closest_rows(pair, obs["day"].to_numpy(), window)]
    return pd.DataFrame({"patient_id": picked["patient_id"].astype(str).to_numpy(),
                         "measure": picked["measure"].astype(str).to_numpy(),
                         "value": picked["value"].to_numpy()}
                        ).pivot(index="patient_id", columns="measure", values="value")


def diary_weeks(landmark_days: int) -> int:
    """Weeks from intake to the landmark (the last one may be partial): the diary's period."""
    return max(1, int(np.ceil((landmark_days + 1) / 7)))


@dataclass
class LandmarkParts:
    """Per-patient sums of the rows up to a landmark, from which every feature is composed.

    Computed in memory (:func:`landmark_parts`) or by an engine over a version's Parquet
    (paincycle.engine.queries.landmark_parts); :func:`features_from_parts` turns either into
    the same features, so a feature's formula is written once.
    """

    baseline: pd.DataFrame  # patient x registry measure: the baseline score
    latest_day: pd.DataFrame  # patient x measure: the last day with a score
    recent: pd.DataFrame  # patient x measure: mean of the scores in the last RECENT_DAYS
    slope_sums: pd.DataFrame  # (patient, measure): n, t, v, tt, tv, t_min, t_max (t = day)
    event_counts: pd.DataFrame  # patient x event kind, from intake to the landmark
    has_events: bool  # any event on or before the landmark (the source keeps events)
    diary: pd.DataFrame  # patient: n_weeks, early, late (diary weeks, and in each half)
    questionnaires: pd.DataFrame  # patient: n_intake (pairs at intake), n_again (answered again)
    custom_baseline: pd.DataFrame  # patient x custom measure: the baseline score
    custom: list[str]  # the cohort's custom measure codes


def _feature_rows(cohort: Cohort, landmark_days: int) -> tuple[Cohort, pd.DataFrame]:
    cut = landmark_cut(cohort, landmark_days)
    obs = _with_day(cut, cut.observations)
    obs = obs[(obs["day"] >= rules.BASELINE.lo) & obs["measure"].isin(MEASURE_CODES)
              & obs["value"].notna()]
    return cut, obs


def landmark_parts(cohort: Cohort, landmark_days: int = DEFAULT_LANDMARK_DAYS,
                   include_custom: bool = False) -> LandmarkParts:
    """:class:`LandmarkParts` in memory, from the rows on or before each patient's landmark."""
    cut, obs = _feature_rows(cohort, landmark_days)
    keys = ["patient_id", "measure"]
    by_pair = obs.groupby(keys)
    latest = by_pair["day"].transform("max")
    recent = obs[obs["day"] > latest - RECENT_DAYS].groupby(keys)["value"].mean().unstack()
    t = obs["day"].astype(float)
    sums = pd.DataFrame({"patient_id": obs["patient_id"], "measure": obs["measure"], "t": t,
                         "v": obs["value"], "tt": t * t, "tv": t * obs["value"]}).groupby(keys)
    slope_sums = sums[["t", "v", "tt", "tv"]].sum()
    slope_sums["n"] = sums.size()
    slope_sums["t_min"], slope_sums["t_max"] = sums["t"].min(), sums["t"].max()

    events = _with_day(cut, cut.events) if not cut.events.empty else None
    if events is not None:
        events = events[events["day"] >= 0]
        counts = events.groupby(["patient_id", "event"]).size().unstack(fill_value=0)
    else:
        counts = pd.DataFrame()

    weeks = diary_weeks(landmark_days)
    diary_rows = obs[obs["measure"].isin(DIARY_MEASURES) & (obs["day"] >= 0)]
    # as text: a slice's categorical ids can hit a pandas bug reindexing between code widths
    active = pd.DataFrame({"patient_id": diary_rows["patient_id"].astype(str),
                           "week": (diary_rows["day"] // 7).clip(upper=weeks - 1)}
                          ).drop_duplicates()
    half = weeks / 2
    n_weeks = active.groupby("patient_id").size()
    diary = pd.DataFrame({  # reindexed, not assigned: an empty group's index has no type
        "n_weeks": n_weeks,
        "early": active[active["week"] < half].groupby("patient_id").size().reindex(n_weeks.index),
        "late": active[active["week"] >= half].groupby("patient_id").size().reindex(n_weeks.index),
    }).fillna(0)

    asked = obs[~obs["measure"].isin(DIARY_MEASURES)]
    at_intake = asked[asked["day"] <= rules.BASELINE.hi][keys].drop_duplicates()
    again = asked[asked["day"] > rules.BASELINE.hi][keys].drop_duplicates().assign(again=1)
    merged = at_intake.merge(again, on=keys, how="left")
    questionnaires = pd.DataFrame({
        "n_intake": merged.groupby("patient_id").size(),
        "n_again": merged["again"].fillna(0).groupby(merged["patient_id"]).sum()})

    custom = custom_codes(cohort) if include_custom else []
    custom_baseline = pd.DataFrame()
    if custom:
        rows = _with_day(cut, cut.observations)
        custom_baseline = baseline_values(rows[rows["measure"].isin(custom) & rows["value"].notna()],
                                          landmark_days)
    return LandmarkParts(
        baseline=baseline_values(obs, landmark_days), latest_day=by_pair["day"].max().unstack(),
        recent=recent, slope_sums=slope_sums, event_counts=counts,
        has_events=not cut.events.empty, diary=diary, questionnaires=questionnaires,
        custom_baseline=custom_baseline, custom=custom)


def landmark_features(cohort: Cohort, landmark_days: int = DEFAULT_LANDMARK_DAYS,
                      include_custom: bool = False, records_events: bool | None = None
                      ) -> pd.DataFrame:
    """One row per patient (index patient_id), one column per entry of FEATURES.

    Appointment counts are 0, not missing, when the source keeps appointments at all
    (``records_events``; default: the cohort has any event by the landmark, so no later row
    changes a feature). A few patients sliced from a version pass the version's answer, so a
    patient's features never depend on who else was in the table.

    With ``include_custom``, also ``<code>_baseline`` for each custom measure of the cohort
    (e.g. CHOIR's anxiety, global mental health, painful body-map regions): a registry's
    strongest predictors are often measures PainCycle has no registry entry for.
    """
    parts = landmark_parts(cohort, landmark_days, include_custom)
    return features_from_parts(parts, cohort.patients, landmark_days, records_events)


def _column(frame: pd.DataFrame, name: str) -> pd.Series:
    return frame[name] if name in frame else pd.Series(dtype=float)


def features_from_parts(parts: LandmarkParts, patients: pd.DataFrame,
                        landmark_days: int = DEFAULT_LANDMARK_DAYS,
                        records_events: bool | None = None) -> pd.DataFrame:
    """The features (as :func:`landmark_features`) composed from :class:`LandmarkParts`."""
    ids = pd.Index(patients["patient_id"].astype(str), name="patient_id")
    out = pd.DataFrame(index=ids)
    base_end = min(rules.BASELINE.hi, landmark_days)
    recent = parts.recent.where(parts.latest_day.reindex_like(parts.recent) > base_end) \
        if len(parts.recent) else parts.recent
    slope = _slopes(parts.slope_sums).unstack() if len(parts.slope_sums) else pd.DataFrame()
    for code in MEASURE_CODES:
        b, r = _column(parts.baseline, code), _column(recent, code)
        out[f"{code}_baseline"] = b.reindex(ids)
        out[f"{code}_change"] = (r - b).reindex(ids)
        out[f"{code}_slope"] = _column(slope, code).reindex(ids)

    records = parts.has_events if records_events is None else bool(records_events)
    _care_features(out, parts, landmark_days, records)
    _withdrawal_index(out)
    if landmark_days < MIN_WITHDRAWAL_DAYS:
        for name, f in FEATURES.items():
            if f.group in ("care", "withdrawal"):
                out[name] = np.nan
    _person_features(out, patients)
    names = list(FEATURES)
    for code in parts.custom:
        out[f"{code}_baseline"] = _column(parts.custom_baseline, code).reindex(ids)
        names.append(f"{code}_baseline")
    return out[names].astype({n: "float64" for n in names if n not in CATEGORICAL})


def stacked_features(cohort: Cohort, landmarks: tuple[int, ...] = WEEKLY_LANDMARKS,
                     include_custom: bool = False, records_events: bool | None = None
                     ) -> pd.DataFrame:
    """Landmark features of every patient at each landmark they have data by, one row per
    (patient_id, landmark) with the landmark as a column (``landmark_days``): the training
    and scoring table of the weekly model. Each row uses only rows up to its landmark."""
    obs = cohort.observations
    # who has data by each landmark: each patient's first day, found once for every landmark
    first_day = pd.Series(cohort.days_since_intake(obs), index=obs.index).groupby(
        obs["patient_id"].astype(str).to_numpy()).min()
    frames = []
    for day in landmarks:
        X = landmark_features(cohort, day, include_custom=include_custom,
                              records_events=records_events)
        has_data = (first_day.reindex(X.index) <= day).to_numpy()
        X = X[has_data].assign(**{LANDMARK_FEATURE.name: float(day)})
        frames.append(X.set_index(pd.Index(np.full(len(X), day), name="landmark"), append=True))
    if not frames:
        return pd.DataFrame()
    stacked = pd.concat(frames)
    return stacked.sort_index(level=["patient_id", "landmark"])


def _slopes(sums: pd.DataFrame) -> pd.Series:
    """Least-squares slope per (patient, measure), per 28 days, from the sums of
    :class:`LandmarkParts`; NaN with < 3 scores or < 14 days."""
    n = sums["n"]
    span = sums["t_max"] - sums["t_min"]
    var = sums["tt"] - sums["t"] ** 2 / n
    cov = sums["tv"] - sums["t"] * sums["v"] / n
    slope = (cov / var.where(var > 0)) * 28
    return slope.where((n >= 3) & (span >= 14))


def _care_features(out: pd.DataFrame, parts: LandmarkParts, landmark_days: int,
                   records_events: bool) -> None:
    ids = out.index
    kinds = parts.event_counts
    missed = _column(kinds, "appointment_missed").reindex(ids).fillna(0)
    attended = _column(kinds, "appointment_attended").reindex(ids).fillna(0)
    total = missed + attended
    has_events = records_events  # no appointment by the landmark is 0, where appointments are kept
    out["appointments_missed"] = missed if has_events else np.nan
    out["appointments_total"] = total if has_events else np.nan
    out["missed_appointment_share"] = (missed / total.where(total > 0))
    started = _column(kinds, "treatment_start").reindex(ids).fillna(0)
    out["treatments_started"] = started if has_events else np.nan

    weeks = diary_weeks(landmark_days)
    n_weeks = parts.diary["n_weeks"] if len(parts.diary) else pd.Series(dtype=float)
    out["diary_weeks_share"] = (n_weeks / weeks).reindex(ids)
    if weeks >= 2 and len(parts.diary):
        half = weeks / 2
        early_rate = (parts.diary["early"] / np.ceil(half)).reindex(ids)
        late_rate = (parts.diary["late"].reindex(ids).fillna(0) / (weeks - np.ceil(half)))
        fade = (1 - late_rate / early_rate.where(early_rate > 0)).clip(-1, 1)
        out["diary_fade"] = fade.where(n_weeks.reindex(ids).notna())
    else:
        out["diary_fade"] = np.nan

    asked = parts.questionnaires
    if landmark_days >= 30 and len(asked):
        out["questionnaire_missing_share"] = (1 - asked["n_again"] / asked["n_intake"]).reindex(ids)
    else:
        out["questionnaire_missing_share"] = np.nan
    out["data_missing_share"] = pd.concat(
        [1 - out["diary_weeks_share"], out["questionnaire_missing_share"]], axis=1).mean(axis=1)


def _withdrawal_index(out: pd.DataFrame) -> None:
    """Mean of the available withdrawal signals, each scaled to -1 (engaging) .. 1 (withdrawing)."""
    signals = []
    for code in WITHDRAWAL_MEASURES:
        m = measures.get(code)
        change = out[f"{code}_change"]
        # direction-aware: a worsening of FULL_SIGNAL_MCIDS MCIDs is a full signal
        worsening = -change if not m.worse_high else change
        signals.append((worsening / (m.mcid * FULL_SIGNAL_MCIDS)).clip(-1, 1))
    signals.append(out["missed_appointment_share"])
    signals.append(out["diary_fade"])
    signals.append(out["questionnaire_missing_share"])
    table = pd.concat(signals, axis=1)
    out["withdrawal_index"] = table.mean(axis=1)
    out["withdrawal_signals"] = table.notna().sum(axis=1).astype(float)


def _person_features(out: pd.DataFrame, patients: pd.DataFrame) -> None:
    p = patients.set_index(patients["patient_id"].astype(str))
    if "birth_year" in p:
        birth = pd.to_numeric(p["birth_year"], errors="coerce").astype("float64")
        out["age"] = (p["intake_date"].dt.year.astype(float) - birth).reindex(out.index)
    else:
        out["age"] = np.nan
    for column in CATEGORICAL:
        values = (p[column].astype(object).where(p[column].notna(), None) if column in p
                  else pd.Series(None, index=p.index, dtype=object))
        out[column] = values.reindex(out.index).astype(object)


# --------------------------------------------------------------------------- words


def describe_value(name: str, row: Mapping[str, Any], landmark_days: int = DEFAULT_LANDMARK_DAYS) -> str:
    """A feature's value for one patient in the words a clinician would use."""
    feature = feature_info(name)
    value = row.get(name)
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return f"{feature.label}: not recorded"
    weeks = round(landmark_days / 7)
    if feature.group in ("baseline", "change", "slope"):
        m = measures.get(feature.measure)
        if feature.group == "baseline":
            band = m.band_of(value)
            return f"{m.instrument} at intake {_num(value)}" + (f" ({band})" if band else "")
        if feature.group == "change":
            base = row.get(f"{feature.measure}_baseline")
            verb = "rose" if value > 0 else "fell"
            if m.unit in ("steps/day", "min/day") and base and not pd.isna(base):
                return f"{m.instrument} {verb} {abs(value) / base * 100:.0f}% over {weeks} weeks"
            if value == 0:
                return f"{m.instrument} unchanged over {weeks} weeks"
            return f"{m.instrument} {verb} {_num(abs(value))} over {weeks} weeks"
        trend = "rising" if value > 0 else "falling"
        return f"{m.instrument} {trend} {_num(abs(value))} per 4 weeks"
    if name in ("missed_appointment_share", "appointments_missed", "appointments_total"):
        missed, total = row.get("appointments_missed"), row.get("appointments_total")
        if total is not None and not pd.isna(total) and total > 0:
            return f"missed {int(missed)} of {int(total)} appointments by day {landmark_days}"
        return "no appointments due yet"
    if name == "diary_fade":
        return ("diary entries fading" if value > 0 else "diary kept up") + f" ({value:+.0%})"
    if name == "withdrawal_index":
        word = "withdrawing" if value > 0.15 else "re-engaging" if value < -0.15 else "steady"
        return f"functional withdrawal index {value:+.2f} ({word})"
    if name == "withdrawal_signals":
        return f"{value:.0f} withdrawal signals recorded"
    if feature.unit == "share":
        return f"{feature.label.lower()}: {value:.0%}"
    if name == "age":
        return f"age {value:.0f}"
    if name in CATEGORICAL:
        return f"{feature.label.lower()}: {value}"
    return f"{feature.label.lower()}: {_num(value)}"


def describe_effect(name: str, row: Mapping[str, Any], reference: object, contribution: float,
                    landmark_days: int = DEFAULT_LANDMARK_DAYS) -> str:
    """One reason in the clinic's direction: what the patient has, then what it does to the risk.

    "low PROMIS physical function T at intake (29, severe) raises risk". A level
    ("low", "high") is relative to the model's reference patient, which is what
    the contribution measures a move away from; so the level and the verb are
    read from the same two numbers and cannot contradict each other.
    """
    verb = "raises risk" if contribution > 0 else "lowers risk"
    feature = feature_info(name)
    value = row.get(name)
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return f"{feature.label} not recorded {verb}"
    numeric = not isinstance(value, str) and name not in CATEGORICAL
    try:
        above = numeric and reference is not None and float(value) > float(reference)
        below = numeric and reference is not None and float(value) < float(reference)
    except (TypeError, ValueError):
        above = below = False
    if feature.group == "baseline":
        m = measures.get(feature.measure)
        band = m.band_of(value)
        level = "high " if above else "low " if below else ""
        return (f"{level}{m.instrument} at intake ({_num(value)}" + (f", {band}" if band else "")
                + f") {verb}")
    if name == "age":
        level = "older age" if above else "younger age" if below else "age"
        return f"{level} ({value:.0f}) {verb}"
    if feature.group in ("change", "slope", "withdrawal") or name in (
            "appointments_missed", "appointments_total"):
        return f"{describe_value(name, row, landmark_days)} {verb}"
    if name in CATEGORICAL:
        return f"{feature.label.lower()} {value} {verb}"
    if feature.unit == "share":
        level = "higher " if above else "lower " if below else ""
        return f"{level}{feature.label.lower()} by day {landmark_days} ({value:.0%}) {verb}"
    level = "more " if above else "fewer " if below else ""
    return f"{level}{describe_value(name, row, landmark_days)} {verb}"


def _num(value: float) -> str:
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.1f}".rstrip("0").rstrip(".")
