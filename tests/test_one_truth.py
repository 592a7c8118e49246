"""One source of truth: every consumer gives the same baseline, follow-up and verdict.

Generated patients (ties on both sides of a target day, gaps, missing domains)
go through every consumer of the rules: the Cohort page's analysis (the
responder verdicts and 12-month responder status), the outcome labels, the
model's baseline features, the case card's tiles and the agenda's reasons,
and the summary export's per-patient columns. Each is compared with a plain
reference written here, so two consumers cannot quietly disagree.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_rules import reference_closest, reference_verdict

from paincycle import features, measures, review, rules
from paincycle.cohort import from_frames
from paincycle.outcomes import label_outcomes
from paincycle.reports import summary as export
from paincycle.trajectories import CohortTrajectories, domain_status, responder_status

INTAKE = pd.Timestamp("2025-01-06")
#: Measures from every verdict group, several per group so that "which measure speaks" matters.
CODES = ("pain_nrs", "promis_pain_interference", "phq9", "gad7", "isi", "promis_physical_function",
         "odi", "pdi", "pcs", "tsk")
#: Days that make ties around intake (-3/+3) and around day 365 (354/376), and gaps.
DAYS = (-60, -10, -3, 0, 3, 10, 14, 15, 60, 90, 91, 182, 300, 354, 365, 376, 430, 431)

measure_rows = st.tuples(
    st.sampled_from(CODES),
    st.sets(st.sampled_from(DAYS), min_size=1, max_size=5),
    st.integers(0, 1000),
)
patient = st.lists(measure_rows, min_size=0, max_size=6, unique_by=lambda r: r[0])
cohorts = st.lists(patient, min_size=2, max_size=8)


def build(generated) -> pd.DataFrame:
    rows = []
    for p, measures_of_patient in enumerate(generated):
        for code, days, seed in measures_of_patient:
            m = measures.get(code)
            rng = np.random.default_rng(seed)
            for day in sorted(days, key=lambda _d: rng.random()):  # rows in any order
                value = float(rng.integers(int(m.low), int(m.high) + 1))
                rows.append((f"P{p:02d}", (INTAKE + pd.Timedelta(days=day)).strftime("%Y-%m-%d"),
                             code, value))
    return pd.DataFrame(rows, columns=["patient_id", "date", "measure", "value"])


def cohort_of(obs: pd.DataFrame, n: int):
    patients = pd.DataFrame({"patient_id": [f"P{p:02d}" for p in range(n)],
                             "intake_date": INTAKE.strftime("%Y-%m-%d"), "sex": "female",
                             "birth_year": 1970})
    if obs.empty:  # a cohort needs one score: give the first patient an unjudged one
        obs = pd.DataFrame([("P00", INTAKE.strftime("%Y-%m-%d"), "mme", 10.0)],
                           columns=["patient_id", "date", "measure", "value"])
    return from_frames(patients, obs)


def series(obs: pd.DataFrame, pid: str, code: str) -> tuple[list[int], list[float]]:
    mine = obs[(obs["patient_id"] == pid) & (obs["measure"] == code)]
    days = [(pd.Timestamp(d) - INTAKE).days for d in mine["date"]]
    return days, mine["value"].astype(float).tolist()


def reference_pair(days, values, window: rules.Window | None):
    """(baseline, later) by the contract, or None where a point is missing."""
    b = reference_closest(days, rules.BASELINE)
    if b is None:
        return None, None
    if window is None:  # the latest score after the baseline's day
        later = max(range(len(days)), key=lambda i: (days[i], -i))
        later = later if days[later] > days[b] else None
    else:
        later = reference_closest(days, window)
    return values[b], (values[later] if later is not None else None)


def reference_domains(obs: pd.DataFrame, pid: str, window: rules.Window | None) -> dict:
    """group -> (speaking measure, verdict, baseline, later)."""
    out = {}
    for group in measures.VERDICT_GROUPS:
        first_present = None
        for m in measures.in_domain(group):
            if m.mcid is None:
                continue
            days, values = series(obs, pid, m.code)
            if not days:
                continue
            base, later = reference_pair(days, values, window)
            verdict = reference_verdict(m.code, base, later) if base is not None \
                and later is not None else rules.NOT_ENOUGH_DATA
            if first_present is None:
                first_present = (m.code, verdict, base, later)
            if verdict != rules.NOT_ENOUGH_DATA:
                out[group] = (m.code, verdict, base, later)
                break
        else:
            if first_present is not None:
                out[group] = first_present
    return out


def as_dict(domains: pd.DataFrame, pid: str) -> dict:
    mine = domains[domains["patient_id"] == pid]
    return {r.domain: (r.measure, r.status) for r in mine.itertuples()}


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cohorts)
def test_every_consumer_gives_the_same_baseline_follow_up_and_verdict(generated):
    obs = build(generated)
    cohort = cohort_of(obs, len(generated))
    analysis = CohortTrajectories(cohort)
    at12 = domain_status(responder_status(cohort, rules.FOLLOW_UPS[12]))
    labels = label_outcomes(cohort).set_index("patient_id")
    base_features = features.landmark_features(cohort, 90)
    agenda = review.build_agenda(analysis).set_index("patient_id")
    per_patient = export.build_summary(analysis, charts=False).per_patient.set_index("patient")

    for p in range(len(generated)):
        pid = f"P{p:02d}"
        # the analysis every page reads: latest vs baseline, one speaking measure per group
        want = reference_domains(obs, pid, None)
        assert as_dict(analysis.domain, pid) == {g: (c, v) for g, (c, v, _, _) in want.items()}
        mine = analysis.domain[analysis.domain["patient_id"] == pid].set_index("domain")
        for group, (_, _, base, later) in want.items():
            got_base, got_later = mine.loc[group, "baseline"], mine.loc[group, "latest"]
            assert np.isnan(got_base) if base is None else got_base == base
            if base is not None:  # without a baseline the verdict is "not enough data" whatever came later
                assert np.isnan(got_later) if later is None else got_later == later

        # responder status at 12 months (the Cohort page's rates)
        want12 = reference_domains(obs, pid, rules.FOLLOW_UPS[12])
        assert as_dict(at12, pid) == {g: (c, v) for g, (c, v, _, _) in want12.items()}

        # the outcome label: the first of PF, ODI, PDI with both points
        expected_label = None
        for code in ("promis_physical_function", "odi", "pdi"):
            days, values = series(obs, pid, code)
            base, later = reference_pair(days, values, rules.FOLLOW_UPS[12]) if days else (None, None)
            if base is not None and later is not None:
                expected_label = (code, base, later, reference_verdict(code, base, later) != "improved")
                break
        if expected_label is None:
            assert pid not in labels.index
        else:
            row = labels.loc[pid]
            assert (row["measure"], row["baseline"], row["follow_up"], bool(row["poor_outcome"])) \
                == expected_label

        # the model's baseline features: the same baseline score
        for code in CODES:
            days, values = series(obs, pid, code)
            b = reference_closest(days, rules.BASELINE) if days else None
            got = base_features.loc[pid, f"{code}_baseline"]
            assert (np.isnan(got) if b is None else got == values[b]), (pid, code)

        # the case card: its tiles are the analysis' verdicts, its reasons say the same
        card = review.case_card(analysis, pid, agenda_row=agenda.loc[pid].to_dict()
                                if pid in agenda.index else None)
        tiles = {r.domain: (r.measure, r.status) for r in card.domains.itertuples()}
        assert tiles == as_dict(analysis.domain, pid)
        worse_tiles = {(g, measures.get(c).instrument) for g, (c, v) in tiles.items() if v == "worse"}
        said = set()
        for reason in card.reasons:
            found = re.fullmatch(r"(\w+) worse by [\d,.]+ \S+ \((.+)\)", reason)
            if found:
                said.add((found.group(1), found.group(2)))
        assert said == worse_tiles

        # the summary export: one verdict and the measure it rests on per group
        row = per_patient.loc[pid]
        for group in measures.VERDICT_GROUPS:
            code, verdict = tiles.get(group, ("", rules.NOT_ENOUGH_DATA))
            assert (row[group], row[f"{group} measure"]) == (verdict, code)
        assert row["worse in"] == ", ".join(g for g in measures.VERDICT_GROUPS
                                            if tiles.get(g, ("", ""))[1] == "worse")
