"""A synthetic chronic-pain cohort: the pain cycle as a week-by-week simulation.

Demos, tests, benchmarks and the shipped demo model need a cohort that looks
and behaves like a clinic's data without being anyone's data. Each patient
has a hidden weekly state in four domains (pain, mood, sleep, functional
withdrawal) that pull on each other, treatments that help in proportion to
adherence, and a hidden tendency to withdraw from care that also shows in the
data (missed appointments, fading diaries and questionnaires, falling steps).
The simulation is vectorised over patients: the loop runs over weeks only,
so 100,000 patients take about a minute. docs/synth.md explains the model.

All numbers here are illustrative choices, not estimates from the literature.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from paincycle import measures
from paincycle.cohort import Cohort

#: Weeks simulated after intake (covers the 12-month visit window up to day 419).
WEEKS = 60
DAYS = WEEKS * 7
DEFAULT_START = date(2023, 1, 2)
#: Intake dates are spread uniformly over this many days after ``start``.
INTAKE_SPAN_DAYS = 730
#: Share of patients with a wearable (daily steps and active minutes).
WEARABLE_SHARE = 0.35

#: Latent domains, in state-vector order. Every latent score is "higher = worse",
#: in units of the population's baseline standard deviation.
PAIN, MOOD, SLEEP, FUNCTION = 0, 1, 2, 3

SITES = ("Northgate Pain Centre", "Riverside Clinic", "St Anne's Hospital", "Hillcrest Rehab")
SITE_WEIGHTS = (0.35, 0.3, 0.2, 0.15)
DIAGNOSES = ("chronic low back pain", "fibromyalgia", "neuropathic pain", "CRPS", "migraine",
             "chronic neck pain", "osteoarthritis")
DIAGNOSIS_WEIGHTS = (0.34, 0.2, 0.14, 0.06, 0.1, 0.09, 0.07)
SEXES = ("female", "male", "other", "unknown")
SEX_WEIGHTS = (0.6, 0.37, 0.01, 0.02)

#: Weekly reduction of the latent "home" level per domain (pain, mood, sleep,
#: function) for a fully adherent week of each treatment. Effects are learned
#: and persist after the treatment ends. Opioid tapering briefly costs pain.
TREATMENT_EFFECTS: dict[str, tuple[float, float, float, float]] = {
    "cbt": (0.011, 0.034, 0.011, 0.022),
    "graded_exercise": (0.011, 0.008, 0.004, 0.041),
    "snri": (0.022, 0.026, 0.004, 0.008),
    "mbsr": (0.011, 0.026, 0.019, 0.011),
    "sleep_intervention": (0.008, 0.011, 0.045, 0.008),
    "physiotherapy": (0.015, 0.004, 0.000, 0.034),
    "opioid_taper": (-0.008, 0.011, 0.008, 0.011),
}
TREATMENT_NAMES = tuple(TREATMENT_EFFECTS)
TREATMENT_WEIGHTS = (0.22, 0.18, 0.12, 0.12, 0.1, 0.26, 0.0)

#: The cycle: weekly push on each domain's home level (rows) from the current
#: state of the others (columns). Pain disturbs sleep and mood, poor sleep
#: feeds pain and low mood, distress and poor sleep feed withdrawal, and
#: deconditioning feeds pain.
CYCLE = np.array([
    # pain   mood   sleep  function
    [0.000, 0.002, 0.005, 0.004],   # pain
    [0.003, 0.000, 0.005, 0.004],   # mood
    [0.005, 0.004, 0.000, 0.000],   # sleep
    [0.000, 0.005, 0.003, 0.000],   # function (withdrawal)
], dtype=np.float32)
#: Weekly drift of the home level with the hidden withdrawal tendency.
WITHDRAWAL_DRIFT = np.array([0.003, 0.005, 0.003, 0.006], dtype=np.float32)
#: Average weekly change just from being in care (kept at zero: treatments do the work).
CARE_DRIFT = np.array([0.0, 0.0, 0.0, 0.0], dtype=np.float32)
#: How much of last week's deviation from the home level persists.
PERSISTENCE = 0.6
#: Weekly random walk of the home level: recovery nobody can foresee.
HOME_WALK_SD = np.array([0.11, 0.11, 0.11, 0.11], dtype=np.float32)
#: Spread (log-normal sigma) of how much a patient gains from the same treatment.
RESPONSIVENESS_SD = 0.9
#: Weekly fluctuation of the state around its home level.
NOISE_SD = np.array([0.30, 0.22, 0.25, 0.15], dtype=np.float32)
#: Correlation of the baseline levels across domains.
BASELINE_CORR = np.array([
    [1.00, 0.35, 0.35, 0.35],
    [0.35, 1.00, 0.50, 0.35],
    [0.35, 0.50, 1.00, 0.25],
    [0.35, 0.35, 0.25, 1.00],
])

#: Visit schedule: (label, target day, jitter low, jitter high).
VISITS = (("baseline", 0, -4, 4), ("3 months", 90, -10, 10), ("6 months", 180, -14, 14),
          ("12 months", 365, -21, 35))


@dataclass(frozen=True)
class _Instrument:
    """How a questionnaire score reads the latent state: intercept + loadings + noise."""

    code: str
    intercept: float
    loadings: tuple[float, float, float, float]
    noise: float
    decimals: int = 0


#: Questionnaires given at every visit (ODI for back and neck pain, PDI otherwise).
VISIT_INSTRUMENTS = (
    _Instrument("pain_nrs", 6.2, (1.3, 0.0, 0.0, 0.0), 0.9),
    _Instrument("promis_pain_interference", 64.0, (4.0, 1.0, 0.0, 2.0), 2.5, 1),
    _Instrument("phq9", 11.0, (0.5, 4.8, 0.8, 0.0), 2.0),
    _Instrument("gad7", 9.0, (0.3, 3.8, 0.5, 0.0), 2.0),
    _Instrument("pcs", 27.0, (3.0, 6.0, 0.0, 1.0), 4.5),
    _Instrument("isi", 14.0, (0.8, 0.8, 4.5, 0.0), 2.0),
    _Instrument("promis_physical_function", 37.0, (-0.5, 0.0, 0.0, -5.5), 2.8, 1),
    _Instrument("promis_social_roles", 40.0, (-1.0, -2.0, 0.0, -3.5), 2.5, 1),
    _Instrument("tsk", 40.0, (1.0, 1.5, 0.0, 4.5), 3.0),
    _Instrument("pseq", 28.0, (-2.0, -3.0, 0.0, -7.0), 4.0),
)
ODI = _Instrument("odi", 38.0, (4.0, 1.0, 0.0, 11.0), 5.0)
PDI = _Instrument("pdi", 34.0, (3.0, 1.0, 0.0, 9.0), 4.5)
DIARY_PAIN = _Instrument("pain_nrs", 6.2, (1.3, 0.0, 0.0, 0.0), 0.8)
DIARY_SLEEP = _Instrument("sleep_hours", 6.3, (-0.15, 0.0, -0.8, 0.0), 0.5)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


class _Rows:
    """Observation rows collected as per-measure numpy arrays (never row by row)."""

    def __init__(self) -> None:
        self.codes: list[str] = []
        self.parts: list[tuple[str, np.ndarray, np.ndarray, np.ndarray]] = []

    def add(self, code: str, pidx: np.ndarray, day: np.ndarray, value: np.ndarray) -> None:
        if code not in self.codes:
            self.codes.append(code)
        self.parts.append((code, pidx.astype(np.int32), day.astype(np.int32),
                           np.asarray(value, dtype=np.float64)))

    def arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(patient index, day since intake, measure index, value), sorted, one per day and measure.

        A visit's pain score and that day's diary entry would give two rows for
        one patient, day and measure; only the one recorded first (the diary's) is kept.
        """
        pidx = np.concatenate([p[1] for p in self.parts])
        day = np.concatenate([p[2] for p in self.parts])
        code = np.concatenate([np.full(len(p[1]), self.codes.index(p[0]), dtype=np.int8)
                               for p in self.parts])
        value = np.concatenate([p[3] for p in self.parts])
        self.parts = []
        key = (pidx.astype(np.int64) * 1024 + (day + 128)) * 64 + code
        order = np.argsort(key, kind="stable")
        key = key[order]
        first = np.ones(len(key), dtype=bool)
        first[1:] = key[1:] != key[:-1]
        order = order[first]
        return pidx[order], day[order], code[order], value[order]


def _score(inst: _Instrument, state: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """An instrument's reading of latent states (n, 4): clipped and rounded like the form."""
    measure = measures.get(inst.code)
    raw = inst.intercept + state.astype(np.float64) @ np.array(inst.loadings)
    raw = raw + rng.normal(0.0, inst.noise, len(raw))
    return np.round(np.clip(raw, measure.low, measure.high), inst.decimals)


@dataclass
class _Simulation:
    """Everything the weekly loop produces, before it becomes tables."""

    n: int
    intake_ns: np.ndarray
    patients: pd.DataFrame
    rows: _Rows
    ev_pidx: list[np.ndarray]
    ev_day: list[np.ndarray]
    ev_kind: list[np.ndarray]
    ev_detail: list[np.ndarray]


EVENT_KINDS = ("treatment_start", "treatment_stop", "appointment_attended", "appointment_missed")
_NO_DETAIL = -1


def _simulate(n_patients: int, seed: int | list[int], start: date | None, first_id: int = 1,
              id_width: int | None = None) -> _Simulation:
    if n_patients < 1:
        raise ValueError("n_patients must be at least 1")
    rng = np.random.default_rng(seed)
    n = int(n_patients)
    start = start or DEFAULT_START

    # ---- who the patients are
    intake_day = rng.integers(0, INTAKE_SPAN_DAYS, n)
    intake = np.datetime64(start, "D") + intake_day.astype("timedelta64[D]")
    intake_ns = intake.astype("datetime64[ns]").astype(np.int64)
    diagnosis = rng.choice(len(DIAGNOSES), n, p=DIAGNOSIS_WEIGHTS)
    site = rng.choice(len(SITES), n, p=SITE_WEIGHTS)
    sex = rng.choice(len(SEXES), n, p=SEX_WEIGHTS)
    age = np.clip(np.round(rng.normal(51, 14, n)), 18, 90).astype(int)
    birth_year = intake.astype("datetime64[Y]").astype(int) + 1970 - age
    width = id_width or max(6, len(str(n)))
    ids = np.array([f"P{i:0{width}d}" for i in range(first_id, first_id + n)], dtype=object)
    patients = pd.DataFrame({
        "patient_id": pd.array(ids, dtype="str"),
        "intake_date": intake.astype("datetime64[ns]"),
        "sex": pd.array(np.array(SEXES, dtype=object)[sex], dtype="string"),
        "birth_year": pd.array(birth_year, dtype="Int64"),
        "diagnosis": pd.array(np.array(DIAGNOSES, dtype=object)[diagnosis], dtype="string"),
        "site": pd.array(np.array(SITES, dtype=object)[site], dtype="string"),
    })
    back_or_neck = np.isin(diagnosis, [0, 5])

    # ---- hidden traits: baseline levels and the tendency to withdraw from care
    chol = np.linalg.cholesky(BASELINE_CORR)
    home = (rng.standard_normal((n, 4)) @ chol.T).astype(np.float32)
    withdraw = (0.35 * home[:, MOOD] + 0.25 * home[:, FUNCTION]
                + 0.88 * rng.standard_normal(n)).astype(np.float32)
    responsiveness = rng.lognormal(-RESPONSIVENESS_SD**2 / 2, RESPONSIVENESS_SD, n).astype(np.float32)
    on_opioids = rng.random(n) < np.where(np.isin(diagnosis, [0, 2, 5]), 0.35, 0.15)
    mme_base = np.where(on_opioids, np.clip(rng.lognormal(np.log(55), 0.5, n), 10, 400), 0.0)

    # ---- treatment plans: 1-4 treatments, chosen without replacement (Gumbel top-k)
    k_slots = 4
    n_treat = rng.choice([1, 2, 3, 4], n, p=[0.2, 0.4, 0.3, 0.1])
    weights = np.tile(np.array(TREATMENT_WEIGHTS) + 1e-12, (n, 1))
    weights[:, TREATMENT_NAMES.index("sleep_intervention")] *= np.exp(0.7 * home[:, SLEEP])
    weights[:, TREATMENT_NAMES.index("cbt")] *= np.exp(0.5 * home[:, MOOD])
    weights[on_opioids, TREATMENT_NAMES.index("opioid_taper")] = 0.6
    keys = np.log(weights) + rng.gumbel(size=weights.shape)
    plan = np.argsort(-keys, axis=1)[:, :k_slots]
    plan = np.where(np.arange(k_slots) < n_treat[:, None], plan, -1)
    t_start = np.sort(rng.integers(1, 22, (n, k_slots)), axis=1)
    t_start[:, 0] = rng.integers(0, 5, n)
    t_stop = t_start + rng.integers(8, 17, (n, k_slots))
    effects = np.array(list(TREATMENT_EFFECTS.values()), dtype=np.float32)
    plan_effect = np.where(plan[..., None] >= 0, effects[np.maximum(plan, 0)], 0.0)  # (n, k, 4)

    # ---- care pattern: appointments every 2-4 weeks, diaries weekly, wearable for some
    interval = rng.integers(2, 5, n)
    offset = rng.integers(0, 2, n)
    wearable = rng.random(n) < WEARABLE_SHARE

    # ---- the weekly loop (vectorised over patients)
    state_hist = np.empty((WEEKS, n, 4), dtype=np.float32)
    state = home + rng.normal(0, 1, (n, 4)).astype(np.float32) * NOISE_SD
    alive = np.ones(n, dtype=bool)
    dropout_week = np.full(n, WEEKS, dtype=np.int32)
    taper_progress = np.zeros(n, dtype=np.float32)
    rows = _Rows()
    ev_pidx, ev_day, ev_kind, ev_detail = [], [], [], []
    all_idx = np.arange(n, dtype=np.int32)

    def event(mask: np.ndarray, day: np.ndarray, kind: str, detail: np.ndarray | int) -> None:
        idx = all_idx[mask]
        ev_pidx.append(idx)
        ev_day.append(np.asarray(day)[mask] if np.ndim(day) else np.full(len(idx), day))
        ev_kind.append(np.full(len(idx), EVENT_KINDS.index(kind), dtype=np.int8))
        det = np.asarray(detail)[mask] if np.ndim(detail) else np.full(len(idx), detail)
        ev_detail.append(det.astype(np.int8))

    for week in range(WEEKS):
        state_hist[week] = state
        # adherence this week: lower when withdrawn, low in mood or avoiding activity
        adherence = _sigmoid(1.3 - 0.9 * withdraw - 0.5 * state[:, MOOD] - 0.4 * state[:, FUNCTION]
                             + 0.4 * rng.standard_normal(n).astype(np.float32))
        # appointments
        due = alive & (week >= 1) & ((week - offset) % interval == 0)
        attended = rng.random(n) < 0.2 + 0.75 * adherence
        day = week * 7 + rng.integers(0, 5, n)
        event(due & attended, day, "appointment_attended", _NO_DETAIL)
        event(due & ~attended, day, "appointment_missed", _NO_DETAIL)
        # treatments starting and stopping
        for slot in range(k_slots):
            has = plan[:, slot] >= 0
            day = week * 7 + rng.integers(0, 7, n)
            event(has & alive & (t_start[:, slot] == week), day, "treatment_start", plan[:, slot])
            event(has & alive & (t_stop[:, slot] == week), day, "treatment_stop", plan[:, slot])
        # weekly diary (pain and sleep), fading with withdrawal and time
        diary = alive & (rng.random(n) < _sigmoid(2.2 - 1.1 * withdraw - 0.4 * state[:, FUNCTION]
                                                 - 0.02 * week))
        if diary.any():
            day = week * 7 + rng.integers(0, 7, n)
            sub = state[diary]
            rows.add("pain_nrs", all_idx[diary], day[diary], _score(DIARY_PAIN, sub, rng))
            rows.add("sleep_hours", all_idx[diary], day[diary],
                     np.round(_score(DIARY_SLEEP, sub, rng) * 2) / 2)
        # how the state moves: treatments (by adherence), the cycle, withdrawal, noise
        active = alive[:, None] & (t_start <= week) & (week < t_stop)            # (n, k)
        relief = (active[..., None] * plan_effect).sum(axis=1) * (adherence * responsiveness)[:, None]
        on_taper = (active & (plan == TREATMENT_NAMES.index("opioid_taper"))).any(axis=1)
        taper_progress += on_taper * adherence * 0.06
        push = state @ CYCLE.T + withdraw[:, None] * WITHDRAWAL_DRIFT + CARE_DRIFT
        walk = rng.standard_normal((n, 4)).astype(np.float32) * HOME_WALK_SD
        new_home = home - relief.astype(np.float32) + push + walk
        noise = rng.standard_normal((n, 4)).astype(np.float32) * NOISE_SD
        state = new_home + PERSISTENCE * (state - home) + noise
        home = new_home
        # dropout from care
        quit_now = alive & (rng.random(n) < _sigmoid(-6.2 + 1.2 * withdraw
                                                     + 0.4 * state[:, FUNCTION]))
        dropout_week[quit_now] = week + 1
        alive &= ~quit_now

    # ---- visits: questionnaires at baseline, 3, 6 and 12 months
    for label, target, lo, hi in VISITS:
        day = target + rng.integers(lo, hi + 1, n)
        week = np.clip(day // 7, 0, WEEKS - 1)
        in_care = week < dropout_week
        if label == "baseline":
            p = np.full(n, 0.97)
        else:
            p = np.where(in_care, _sigmoid(2.4 - 0.9 * withdraw - 0.3 * state_hist[week, all_idx,
                                                                                     FUNCTION]),
                         0.25)
        done = rng.random(n) < p
        idx = all_idx[done]
        sub = state_hist[week[done], idx]
        for inst in VISIT_INSTRUMENTS:
            answered = rng.random(len(idx)) < 0.97  # an item skipped now and then
            rows.add(inst.code, idx[answered], day[done][answered],
                     _score(inst, sub[answered], rng))
        disability = back_or_neck[idx]
        rows.add("odi", idx[disability], day[done][disability], _score(ODI, sub[disability], rng))
        rows.add("pdi", idx[~disability], day[done][~disability],
                 _score(PDI, sub[~disability], rng))
        opioid = on_opioids[idx]
        taper = np.clip(taper_progress[idx] * (day[done] / 7.0 / WEEKS), 0, 0.8)
        mme = mme_base[idx] * (1 - np.where(label == "baseline", 0.0, taper))
        mme = mme * rng.lognormal(0, 0.1, len(idx))
        rows.add("mme", idx[opioid], day[done][opioid],
                 np.round(np.clip(mme[opioid], 0, measures.get("mme").high)))

    # ---- wearable: daily steps and active minutes, from the function state
    _wearable_rows(rows, rng, state_hist, wearable, withdraw, dropout_week, age)

    return _Simulation(n, intake_ns, patients, rows, ev_pidx, ev_day, ev_kind, ev_detail)


def _wearable_rows(rows: _Rows, rng: np.random.Generator, state_hist: np.ndarray,
                   wearable: np.ndarray, withdraw: np.ndarray, dropout_week: np.ndarray,
                   age: np.ndarray) -> None:
    """Daily steps and active minutes for wearable owners, in chunks to bound memory."""
    owners = np.flatnonzero(wearable).astype(np.int32)
    steps_high = measures.get("steps").high
    minutes_high = measures.get("active_minutes").high
    weekday = np.log(np.array([1.05, 1.05, 1.05, 1.05, 1.1, 0.85, 0.8], dtype=np.float32))
    days = np.arange(DAYS)
    # keeps wearing after leaving care for half of those who drop out
    keeps_wearing = rng.random(len(owners)) < 0.5
    base = (np.log(6500) - 0.012 * (age[owners] - 50)
            + rng.normal(0, 0.3, len(owners))).astype(np.float32)
    chunk = 20_000
    for lo in range(0, len(owners), chunk):
        who = owners[lo:lo + chunk]
        m = len(who)
        func = np.repeat(state_hist[:, who, FUNCTION].T, 7, axis=1)           # (m, DAYS)
        log_steps = (base[lo:lo + chunk, None] - 0.35 * func + weekday[days % 7]
                     + rng.standard_normal((m, DAYS)).astype(np.float32) * 0.35)
        steps = np.clip(np.round(np.exp(log_steps)), 0, steps_high)
        p_wear = _sigmoid(2.4 - 0.7 * withdraw[who, None] - 0.004 * days[None, :])
        worn = rng.random((m, DAYS), dtype=np.float32) < p_wear
        stopped = days[None, :] >= (dropout_week[who] * 7)[:, None]
        worn &= ~(stopped & ~keeps_wearing[lo:lo + chunk, None])
        r, c = np.nonzero(worn)
        rows.add("steps", who[r], c, steps[r, c])
        minutes = np.exp(np.log(steps[r, c] / 120.0 + 1)
                         + rng.standard_normal(len(r)).astype(np.float32) * 0.3)
        rows.add("active_minutes", who[r], c, np.clip(np.round(minutes), 0, minutes_high))


def _tables(sim: _Simulation) -> tuple[pa.Table, pa.Table, pa.Table]:
    """The three canonical tables as Arrow (dates at midnight, text columns as strings)."""
    ids = pa.array(sim.patients["patient_id"].to_numpy(dtype=object), pa.string())
    day_ns = np.int64(86_400 * 10**9)
    pidx, day, code, value = sim.rows.arrays()
    observations = pa.table({
        "patient_id": pc.take(ids, pa.array(pidx)),
        "date": pa.array(sim.intake_ns[pidx] + day.astype(np.int64) * day_ns, pa.timestamp("ns")),
        "measure": pc.take(pa.array(sim.rows.codes, pa.string()), pa.array(code)),
        "value": pa.array(value, pa.float64()),
    })
    epidx = np.concatenate(sim.ev_pidx)
    eday = np.concatenate(sim.ev_day).astype(np.int64)
    ekind = np.concatenate(sim.ev_kind)
    edetail = np.concatenate(sim.ev_detail)
    order = np.lexsort((ekind, eday, epidx))
    epidx, eday, ekind, edetail = epidx[order], eday[order], ekind[order], edetail[order]
    detail = pc.take(pa.array(TREATMENT_NAMES, pa.string()),
                     pa.array(np.maximum(edetail, 0), mask=edetail < 0))
    events = pa.table({
        "patient_id": pc.take(ids, pa.array(epidx)),
        "date": pa.array(sim.intake_ns[epidx] + eday * day_ns, pa.timestamp("ns")),
        "event": pc.take(pa.array(EVENT_KINDS, pa.string()), pa.array(ekind)),
        "detail": detail,
    })
    patients = pa.Table.from_pandas(sim.patients, preserve_index=False)
    return patients, observations, events


#: Patients simulated at a time: a cohort of any size is written in bounded memory (about
#: 1 GB per batch); a cohort up to this size is one batch, simulated from the seed itself.
SAMPLE_BATCH = 50_000


def _batches(n_patients: int, seed: int, start: date | None):
    """The cohort's tables batch by batch (patients in id order; batch k of a larger cohort
    is simulated from the seed sequence [seed, k]), so the same seed gives the same cohort
    whether it is written or generated in memory."""
    if n_patients < 1:
        raise ValueError("n_patients must be at least 1")
    if n_patients <= SAMPLE_BATCH:
        yield _tables(_simulate(n_patients, seed, start))
        return
    width = max(6, len(str(n_patients)))
    for k, first in enumerate(range(0, n_patients, SAMPLE_BATCH)):
        size = min(SAMPLE_BATCH, n_patients - first)
        yield _tables(_simulate(size, [seed, k], start, first_id=first + 1, id_width=width))


def generate(n_patients: int, seed: int, start: date | None = None) -> Cohort:
    """A synthetic cohort of ``n_patients`` in canonical form; the same seed gives the same cohort.

    Intake dates are spread over two years from ``start`` (default 2023-01-02).
    """
    parts = list(_batches(n_patients, seed, start))
    patients, observations, events = (pa.concat_tables([p[i] for p in parts])
                                      for i in range(3))
    obs = observations.to_pandas()
    ev = events.to_pandas()
    ev["detail"] = ev["detail"].astype("string")
    return Cohort(patients.to_pandas(), obs, ev, name=f"synthetic-{n_patients}-seed{seed}")


def write_sample(n_patients: int, seed: int, out_dir: str | Path,
                 start: date | None = None) -> Path:
    """Simulate and write patients/observations/events.parquet into ``out_dir``, a batch of
    SAMPLE_BATCH patients at a time appended as row groups, so memory does not grow with the
    cohort (1,000,000 patients are written like 50,000)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    names = ("patients", "observations", "events")
    writers: dict[str, pq.ParquetWriter] = {}
    try:
        for tables in _batches(n_patients, seed, start):
            for name, table in zip(names, tables, strict=True):
                if name not in writers:
                    writers[name] = pq.ParquetWriter(out / f"{name}.parquet", table.schema,
                                                     compression="zstd")
                writers[name].write_table(table.cast(writers[name].schema))
    finally:
        for writer in writers.values():
            writer.close()
    return out
