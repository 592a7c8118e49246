"""The team's weekly case-review meeting: who to discuss, what each discipline decided.

Three things live here:

- the **agenda**: patients ranked for review from the model's risk, deterioration
  beyond the MCID since baseline, the pain-mood-sleep triad and safety signals,
  each reason in words a clinician reads aloud ("mood worse by 7 points (PHQ-9
  total)"), plus the patients the team added or removed by hand;
- the **case card**: what the team looks at for one patient;
- the **decisions**: one action and note per discipline, stored append-only in
  the workflow database. Editing a decision writes revision n+1 under the same
  ``decision_id``; two people saving at once both keep their words, because a
  writer that loses the race for a revision number retries with the next one.

Functions that touch the database take ``engine`` (default: the configured
one), so the same code runs on SQLite and PostgreSQL, and ``principal``
(None = the local single-user admin), checked with access.require.
The meeting record (paincycle.reports.meeting) carries every revision, so the
record of what was decided is never only the latest edit.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from paincycle import access, audit, clock, database, measures, meetings, safe_text, trajectories
from paincycle.access import Permission, Principal
from paincycle.cohort import Cohort
from paincycle.risks import risk_words
from paincycle.trajectories import CohortTrajectories

#: The disciplines around the table, in the order the meeting goes round them.
DISCIPLINES: tuple[str, ...] = (
    "pain medicine", "psychology", "physiotherapy", "nursing", "sleep", "other",
)
#: A latest PHQ-9 at or above this is a safety signal: where the registry's severe band starts.
SAFETY_PHQ9 = measures.get("phq9").band_start("severe")
#: How often a writer retries after losing the race for a revision number.
MAX_ATTEMPTS = 50

#: Weights of each kind of reason in the agenda's priority (higher = discussed first).
WEIGHTS = {"safety": 4.0, "added": 3.0, "model": 2.0, "deterioration": 1.0, "triad": 1.0}

AGENDA_COLUMNS = ("rank", "patient_id", "priority", "priority_words", "risk", "reasons", "kinds",
                  "short", "reason_text", "source")


# --------------------------------------------------------------------------- decisions


@dataclass(frozen=True)
class Decision:
    """One revision of one discipline's decision about one patient."""

    decision_id: str
    revision: int
    patient_id: str
    discipline: str
    action: str
    note: str
    author: str
    created_at: datetime
    meeting_date: date | None = None
    cohort_version: str | None = None
    recorded_by: str | None = None  # the signed-in person who typed it (None before release 0003)

    @property
    def when(self) -> str:
        """Time of the revision as pages and the record print it: local, to the minute, zone named."""
        return clock.local_text(self.created_at)


def _engine(engine: Engine | None) -> Engine:
    return engine if engine is not None else database.get_engine()


def _now() -> datetime:
    return datetime.now(UTC)


#: The longest note or agenda reason kept (a note is a paragraph, not a record).
MAX_NOTE = 10_000


def _clean_text(discipline: str, action: str, note: str, author: str) -> tuple[str, str, str]:
    """The action, note and author as stored: control characters (NUL too) gone, limits checked."""
    if discipline not in DISCIPLINES:
        raise ValueError(f"unknown discipline {discipline!r}; choose one of {', '.join(DISCIPLINES)}")
    action = safe_text.line(action)
    if not action:
        raise ValueError("a decision needs an action")
    if len(action) > 200:
        raise ValueError("the action is limited to 200 characters; put the detail in the note")
    note = safe_text.note(note)
    if len(note) > MAX_NOTE:
        raise ValueError(f"the note is limited to {MAX_NOTE:,} characters")
    return action, note, safe_text.line(author, 200)


def record_decision(
    patient_id: str, discipline: str, action: str, note: str = "", *,
    principal: Principal | None = None, engine: Engine | None = None,
    cohort_version: str | None = None, meeting_date: date | None = None,
    author: str | None = None,
) -> Decision:
    """Record a new decision (revision 1 of a fresh decision_id).

    ``author`` is who decided, when the person typing (the principal) is a scribe;
    by default it is the principal.
    """
    who = access.require(principal, Permission.RECORD_DECISION)
    action, note, author = _clean_text(discipline, action, note, author or who.user)
    meeting_date = meeting_date or date.today()
    meetings.check_open(meeting_date, engine=engine, principal=who)
    values = {
        "decision_id": str(uuid.uuid4()), "patient_id": safe_text.line(patient_id, 64),
        "cohort_version": cohort_version, "discipline": discipline,
        "action": action, "note": note, "author": author or who.user, "recorded_by": who.user,
        "meeting_date": meeting_date,
    }
    return _insert_next_revision(_engine(engine), values, who, "record decision")


def revise_decision(
    decision_id: str, *, action: str, note: str = "", discipline: str | None = None,
    principal: Principal | None = None, engine: Engine | None = None,
    author: str | None = None, meeting_date: date | None = None,
) -> Decision:
    """Edit a decision: store the next revision under the same decision_id.

    Earlier revisions stay as they were; the history shows every one.
    """
    who = access.require(principal, Permission.RECORD_DECISION)
    engine = _engine(engine)
    history = decision_history(decision_id, engine=engine, principal=who)
    if not history:
        raise KeyError(f"no decision {decision_id!r}")
    latest = history[-1]
    discipline = discipline or latest.discipline
    action, note, author = _clean_text(discipline, action, note, author or who.user)
    meeting_date = meeting_date or latest.meeting_date
    meetings.check_open(meeting_date, engine=engine, principal=who)
    values = {
        "decision_id": decision_id, "patient_id": latest.patient_id,
        "cohort_version": latest.cohort_version, "discipline": discipline,
        "action": action, "note": note, "author": author or who.user, "recorded_by": who.user,
        "meeting_date": meeting_date,
    }
    return _insert_next_revision(engine, values, who, "revise decision")


def _insert_next_revision(engine: Engine, values: dict, who: Principal, audit_detail: str) -> Decision:
    """Store ``values`` as the decision's next revision (database.append_revision retries
    a writer that loses the race for a number) and note it in the audit log."""
    row = {**values, "created_at": _now()}

    def audit_entry(conn: sa.Connection, revision: int) -> None:
        audit.record(conn, who, audit.Action.DECISION, patient_id=row["patient_id"],
                     cohort_version=row["cohort_version"],
                     detail=f"{audit_detail}: decision {row['decision_id']} revision {revision}")

    revision = database.append_revision(engine, values["decision_id"], row, attempts=MAX_ATTEMPTS,
                                        also=audit_entry)
    row["revision"] = revision
    return _decision(row)


def _decision(row: Mapping) -> Decision:
    return Decision(
        decision_id=row["decision_id"], revision=int(row["revision"]),
        patient_id=row["patient_id"], discipline=row["discipline"], action=row["action"],
        note=row["note"] or "", author=row["author"], created_at=row["created_at"],
        meeting_date=row.get("meeting_date"), cohort_version=row.get("cohort_version"),
        recorded_by=row.get("recorded_by"),
    )


def _select_decisions(engine: Engine, *conditions: sa.ColumnElement[bool]) -> list[Decision]:
    table = database.decisions
    query = sa.select(table).where(*conditions).order_by(table.c.created_at, table.c.id)
    with engine.connect() as conn:
        return [_decision(row._mapping) for row in conn.execute(query)]


def decision_history(decision_id: str, *, engine: Engine | None = None,
                     principal: Principal | None = None) -> list[Decision]:
    """Every revision of one decision, oldest first."""
    access.require(principal, Permission.VIEW_IDENTIFIED)
    found = _select_decisions(_engine(engine), database.decisions.c.decision_id == decision_id)
    return sorted(found, key=lambda d: d.revision)


def all_revisions(patient_id: str | None = None, *, meeting_date: date | None = None,
                  engine: Engine | None = None, principal: Principal | None = None) -> list[Decision]:
    """Every stored revision (for one patient and/or one meeting), oldest first."""
    access.require(principal, Permission.VIEW_IDENTIFIED)
    table = database.decisions
    conditions = []
    if patient_id is not None:
        conditions.append(table.c.patient_id == str(patient_id))
    if meeting_date is not None:
        conditions.append(table.c.meeting_date == meeting_date)
    return _select_decisions(_engine(engine), *conditions)


def current_decisions(patient_id: str | None = None, *, meeting_date: date | None = None,
                      engine: Engine | None = None,
                      principal: Principal | None = None) -> list[Decision]:
    """The latest revision of each decision, oldest decision first."""
    return latest_revisions(all_revisions(patient_id, meeting_date=meeting_date,
                                          engine=engine, principal=principal))


def latest_revisions(revisions: Iterable[Decision]) -> list[Decision]:
    """Keep only the highest revision of each decision_id, in the order decisions were first made."""
    revisions = list(revisions)
    first_made: dict[str, datetime] = {}
    latest: dict[str, Decision] = {}
    for item in revisions:
        first_made[item.decision_id] = min(item.created_at, first_made.get(item.decision_id, item.created_at))
        if item.decision_id not in latest or item.revision > latest[item.decision_id].revision:
            latest[item.decision_id] = item
    return sorted(latest.values(), key=lambda d: first_made[d.decision_id])


def decisions_frame(revisions: Iterable[Decision]) -> pd.DataFrame:
    """Decisions as a table (for st.dataframe and exports); free text stays plain text."""
    rows = [{
        "patient_id": d.patient_id, "discipline": d.discipline, "action": d.action, "note": d.note,
        "author": d.author, "time": d.when, "revision": d.revision, "decision_id": d.decision_id,
    } for d in revisions]
    return pd.DataFrame(rows, columns=["patient_id", "discipline", "action", "note", "author",
                                       "time", "revision", "decision_id"])


# --------------------------------------------------------------------------- agenda overrides


@dataclass(frozen=True)
class Override:
    """A hand-made change to the agenda: the latest one per patient is in force."""

    patient_id: str
    action: str  # "add" or "remove"
    reason: str
    author: str
    created_at: datetime


def _override(patient_id: str, action: str, reason: str, principal: Principal | None,
              engine: Engine | None, cohort_version: str | None) -> Override:
    who = access.require(principal, Permission.RECORD_DECISION)
    row = {"patient_id": safe_text.line(patient_id, 64), "action": action,
           "reason": safe_text.note(reason, MAX_NOTE), "author": who.user, "cohort_version": cohort_version, "created_at": _now()}
    engine = _engine(engine)
    with engine.begin() as conn:  # the change and its audit entry together or not at all
        conn.execute(database.agenda_overrides.insert().values(**row))
        audit.record(conn, who, audit.Action.AGENDA_CHANGE, patient_id=row["patient_id"],
                     cohort_version=cohort_version, detail=f"agenda {action}")
    return Override(row["patient_id"], action, row["reason"], who.user, row["created_at"])


def add_to_agenda(patient_id: str, reason: str = "", *, principal: Principal | None = None,
                  engine: Engine | None = None, cohort_version: str | None = None) -> Override:
    """Put a patient on the agenda by hand (stays until removed by hand)."""
    return _override(patient_id, "add", reason, principal, engine, cohort_version)


def remove_from_agenda(patient_id: str, reason: str = "", *, principal: Principal | None = None,
                       engine: Engine | None = None, cohort_version: str | None = None) -> Override:
    """Take a patient off the agenda by hand, even when the rules would list them."""
    return _override(patient_id, "remove", reason, principal, engine, cohort_version)


def agenda_overrides(*, engine: Engine | None = None) -> dict[str, Override]:
    """The override in force per patient: the latest add or remove wins."""
    table = database.agenda_overrides
    query = sa.select(table).order_by(table.c.created_at, table.c.id)
    found: dict[str, Override] = {}
    with _engine(engine).connect() as conn:
        for row in conn.execute(query):
            m = row._mapping
            found[m["patient_id"]] = Override(m["patient_id"], m["action"], m["reason"] or "",
                                              m["author"], m["created_at"])
    return found


# --------------------------------------------------------------------------- agenda


def _measure_words(code: str) -> tuple[str, str]:
    """(instrument label, unit in words) for a reason sentence."""
    measure = measures.MEASURES.get(code)
    if measure is None:
        return code, "points"
    unit = {"score": "points", "T-score": "points", "%": "points"}.get(measure.unit, measure.unit)
    return measure.instrument, unit


def _number(value: float) -> str:
    """A change as a clinician says it: whole numbers without decimals, else one decimal."""
    value = float(value)
    if abs(value - round(value)) < 0.05:
        return f"{round(value):,}"
    return f"{value:,.1f}"


def deterioration_reason(domain: str, measure: str, worsened_by: float) -> str:
    """'mood worse by 7 points (PHQ-9 total)'."""
    label, unit = _measure_words(measure)
    amount = _number(abs(worsened_by))
    if amount == "1" and unit in ("points", "hours"):
        unit = unit[:-1]
    return f"{domain} worse by {amount} {unit} ({label})"


def model_reason(risk: float) -> str:
    return f"flagged by model (risk {risk_words(risk)})"


def safety_reason(phq9: float) -> str:
    return f"safety: latest PHQ-9 is {_number(phq9)} ({SAFETY_PHQ9} or more, severe depression)"


TRIAD_REASON = "pain, low mood and poor sleep together (triad)"


def safety_signals(triad: pd.DataFrame | None) -> pd.DataFrame:
    """Patients whose latest PHQ-9 is at or above SAFETY_PHQ9.

    ``triad`` is trajectories.triad_flags (patient_id and the latest ``phq9``):
    the same latest score the patient table and the triad read.
    """
    if triad is None or triad.empty or "phq9" not in triad:
        return pd.DataFrame({"patient_id": pd.Series(dtype=object), "phq9": pd.Series(dtype=float)})
    rows = triad[pd.to_numeric(triad["phq9"], errors="coerce") >= SAFETY_PHQ9]
    return pd.DataFrame({"patient_id": rows["patient_id"].astype(str).to_numpy(),
                         "phq9": rows["phq9"].astype(float).to_numpy()})


@dataclass(frozen=True)
class AgendaInputs:
    """The analyses the agenda combines; each may be absent (e.g. no model yet)."""

    risk: pd.DataFrame | None = None     # patient_id, risk, flagged (the model's flag)
    domains: pd.DataFrame | None = None  # trajectories.domain_status: one verdict per domain
    triad: pd.DataFrame | None = None    # trajectories.triad_flags: triad and latest scores


def agenda_inputs(analysis: CohortTrajectories, risk: pd.DataFrame | None = None) -> AgendaInputs:
    """What the agenda reads from the version's one analysis (the same verdicts as the tiles)."""
    return AgendaInputs(risk=risk, domains=analysis.domain, triad=analysis.triad)


#: What puts a patient on the agenda, in the order the meeting takes them: the first kind a
#: patient has is their priority, shown in words.
PRIORITY_WORDS = {"safety": "safety signal", "added": "added by hand", "model": "model flag",
                  "deterioration": "deterioration", "triad": "triad"}


def rule_reasons(patient_ids: Iterable[str], inputs: AgendaInputs) -> pd.DataFrame:
    """Every patient the review rules name, before the team's hand changes: patient_id,
    priority score, model risk, the reasons in words and the kind of each reason.

    This is the slow part of the agenda and depends only on the cohort version,
    the model and its threshold, so the app computes it once for those; hand
    additions and removals are applied on top (:func:`rank_agenda`). Rows come
    ranked: highest priority first, then by patient id.
    """
    known = {str(p) for p in patient_ids}
    parts: list[pd.DataFrame] = []  # one row per reason: patient, kind, words, short, weight

    def part(pids, kind: str, words, shorts, weights) -> None:
        ids = np.array([str(p) for p in pids], dtype=object)
        frame = pd.DataFrame({"patient_id": ids, "kind": kind, "words": list(words),
                              "short": list(shorts), "weight": weights})
        frame = frame[np.fromiter((p in known for p in ids), dtype=bool, count=len(ids))]
        parts.append(frame.assign(order=len(parts) * 10_000_000 + np.arange(len(frame))))

    if inputs.triad is not None:
        safety = safety_signals(inputs.triad)
        part(safety["patient_id"], "safety", [safety_reason(v) for v in safety["phq9"]],
             [f"PHQ-9 {_number(v)}" for v in safety["phq9"]], WEIGHTS["safety"])
    risk = pd.DataFrame({"patient_id": pd.Series(dtype=object), "risk": pd.Series(dtype=float)})
    if inputs.risk is not None and not inputs.risk.empty:
        ids = np.array([str(p) for p in inputs.risk["patient_id"]], dtype=object)
        risk = inputs.risk.assign(patient_id=ids)
        risk = risk[np.fromiter((p in known for p in ids), dtype=bool, count=len(ids))
                    & risk["risk"].notna().to_numpy()]
        flagged = risk[risk["flagged"].astype(bool)] if "flagged" in risk else risk.iloc[:0]
        part(flagged["patient_id"], "model",
             [model_reason(float(v)) for v in flagged["risk"]], ["flagged"] * len(flagged),
             WEIGHTS["model"])
        risk = risk[["patient_id", "risk"]].astype({"risk": float})
    worse = trajectories.deterioration(None, inputs.domains) if inputs.domains is not None else None
    if worse is not None and not worse.empty:
        worst = worse.copy()
        mcid = {code: m.mcid or 1.0 for code, m in measures.MEASURES.items()}
        worst["size"] = [abs(float(w)) / mcid[m] if m in mcid else 1.0
                         for m, w in zip(worst["measure"], worst["worsened_by"], strict=True)]
        # the biggest change (in MCIDs) per domain, bigger ones first within a patient
        worst = (worst.sort_values("size", ascending=False, kind="stable")
                 .drop_duplicates(["patient_id", "domain"]))
        part(worst["patient_id"], "deterioration",
             [deterioration_reason(d, m, w) for d, m, w in
              zip(worst["domain"], worst["measure"], worst["worsened_by"], strict=True)],
             worst["domain"],
             # bigger changes (in MCIDs, capped at 5) rank a little higher
             (WEIGHTS["deterioration"] * (1 + 0.1 * worst["size"].clip(upper=5))).to_numpy())
    if inputs.triad is not None and not inputs.triad.empty:
        pids = inputs.triad.loc[inputs.triad["triad"].astype(bool), "patient_id"]
        part(pids, "triad", [TRIAD_REASON] * len(pids), ["triad"] * len(pids), WEIGHTS["triad"])
    columns = ["patient_id", "priority", "risk", "reasons", "kinds", "short"]
    reasons = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(
        columns=["patient_id", "kind", "words", "short", "weight", "order"])
    reasons = reasons.sort_values(["patient_id", "order"], kind="stable")
    # one list per patient, in the meeting's order (a plain pass: groupby(list) is per group)
    lists: dict[str, tuple[list, list, list, float]] = {}
    for pid, kind, words, short, weight in zip(
            reasons["patient_id"].to_numpy(dtype=object), reasons["kind"].to_numpy(dtype=object),
            reasons["words"].to_numpy(dtype=object), reasons["short"].to_numpy(dtype=object),
            reasons["weight"].to_numpy(dtype=float), strict=True):
        entry = lists.get(pid)
        if entry is None:
            lists[pid] = ([words], [kind], [short], weight)
        else:
            entry[0].append(words)
            entry[1].append(kind)
            entry[2].append(short)
            lists[pid] = (entry[0], entry[1], entry[2], entry[3] + weight)
    grouped = pd.DataFrame({"patient_id": np.array(list(lists), dtype=object),
                            "weight": [v[3] for v in lists.values()],
                            "reasons": [v[0] for v in lists.values()],
                            "kinds": [v[1] for v in lists.values()],
                            "short": [v[2] for v in lists.values()]})
    risk = risk.assign(patient_id=risk["patient_id"].to_numpy(dtype=object))
    frame = grouped.merge(risk, on="patient_id", how="outer")
    frame["weight"] = frame["weight"].fillna(0.0).astype(float)
    frame["priority"] = (frame["weight"] + frame["risk"].fillna(0.0)).round(4)
    for column in ("reasons", "kinds", "short"):
        frame[column] = pd.Series([v if isinstance(v, list) else [] for v in frame[column]],
                                  index=frame.index, dtype=object)
    # ranked once here, so every rerun takes the agenda's head without sorting the cohort
    return frame.sort_values(["priority", "patient_id"], ascending=[False, True],
                             kind="stable").reset_index(drop=True)[columns]


def rank_agenda(patient_ids: Iterable[str], inputs: AgendaInputs | None = None,
                overrides: Mapping[str, Override] | None = None,
                limit: int | None = None, *, rules: pd.DataFrame | None = None) -> pd.DataFrame:
    """Rank patients for review, each with the reasons in words and their priority.

    Priority adds a weight per reason (safety first, then hand-added, model flag,
    each deteriorated domain, triad), plus the model's risk and the size of
    each deterioration (in MCIDs) as tie-breakers. ``limit`` keeps the top
    rule-based patients; patients added by hand are always kept.
    Patients with no reason are not listed; a hand removal drops a patient
    whatever the rules say; a hand addition lists a patient whatever they say.
    ``rules`` is :func:`rule_reasons` already computed for these inputs (ranked):
    only the agenda's own rows are then touched, so a rerun at registry scale
    costs the agenda's length, not the cohort's.
    """
    if rules is None:
        rules = rule_reasons(patient_ids, inputs or AgendaInputs())
    overrides = overrides or {}
    if overrides:  # only hand changes about patients of this version count
        wanted = pd.Series(list(overrides), dtype=object)
        present = set(wanted[wanted.isin(pd.Index(pd.Series(list(patient_ids), dtype=object)
                                                  .astype(str)))])
        overrides = {p: o for p, o in overrides.items() if p in present}
    removed = {p for p, o in overrides.items() if o.action == "remove"}
    added = {p: o for p, o in overrides.items() if o.action == "add"}
    listed = rules[(rules["reasons"].map(len) > 0)
                   & ~rules["patient_id"].isin(removed | set(added))]
    if limit is not None:  # the limit trims the rule-based list; hand additions always stay
        listed = listed.head(limit)
    entries = [{"patient_id": row.patient_id, "priority": row.priority, "risk": row.risk,
                "reasons": list(row.reasons), "kinds": list(row.kinds), "short": list(row.short),
                "source": "rules"} for row in listed.itertuples(index=False)]
    known_rules = rules[rules["patient_id"].isin(set(added))].set_index("patient_id")
    for pid, override in added.items():
        row = known_rules.loc[pid] if pid in known_rules.index else None
        note = f": {override.reason}" if override.reason else ""
        entries.append({
            "patient_id": pid,
            "priority": (row["priority"] if row is not None else 0.0) + WEIGHTS["added"],
            "risk": row["risk"] if row is not None else float("nan"),
            "reasons": [f"added by hand ({override.author}){note}",
                        *(row["reasons"] if row is not None else [])],
            "kinds": ["added", *(row["kinds"] if row is not None else [])],
            "short": ["by hand", *(row["short"] if row is not None else [])],
            "source": "added by hand"})
    frame = pd.DataFrame(entries, columns=["patient_id", "priority", "risk", "reasons", "kinds",
                                           "short", "source"])
    frame["priority"] = frame["priority"].astype(float).round(4)
    frame["risk"] = frame["risk"].astype(float)
    frame["priority_words"] = [
        PRIORITY_WORDS[max(kinds, key=lambda k: WEIGHTS[k])] if kinds else ""
        for kinds in frame["kinds"]]
    frame["reason_text"] = ["; ".join(r) for r in frame["reasons"]]
    frame = frame.sort_values(["priority", "patient_id"], ascending=[False, True], kind="stable")
    frame.insert(0, "rank", range(1, len(frame) + 1))
    return frame.reset_index(drop=True)[list(AGENDA_COLUMNS)]


def build_agenda(analysis: CohortTrajectories, *, risk: pd.DataFrame | None = None,
                 overrides: Mapping[str, Override] | None = None,
                 limit: int | None = None) -> pd.DataFrame:
    """The meeting's agenda from a cohort version's analysis (see rank_agenda)."""
    return rank_agenda(analysis.patients["patient_id"], agenda_inputs(analysis, risk),
                       overrides, limit)


# --------------------------------------------------------------------------- case card


@dataclass
class CaseCard:
    """What the team sees for one patient in the meeting."""

    patient_id: str
    sex: str | None
    age: int | None
    diagnosis: str | None
    site: str | None
    intake_date: pd.Timestamp | None
    weeks_since_intake: int | None
    reasons: list[str] = field(default_factory=list)
    risk: float | None = None
    top_factors: list[str] = field(default_factory=list)
    treatments: list[str] = field(default_factory=list)
    missed_appointments: list[pd.Timestamp] = field(default_factory=list)
    attended_appointments: int = 0
    decisions: list[Decision] = field(default_factory=list)
    #: One verdict per domain (trajectories.domain_status): the tiles, and what the reasons say.
    domains: pd.DataFrame = field(default_factory=pd.DataFrame, compare=False)
    #: The patient's own rows, sliced from the version (for the sparklines).
    rows: Cohort | None = field(default=None, compare=False)


@dataclass(frozen=True)
class Profile:
    """Who the patient is and how long they have been in care, as every screen and paper
    states it (the case card, the Patient page header, the patient PDF): one definition."""

    patient_id: str
    sex: str | None
    age: int | None                    # at intake: intake year minus birth year
    diagnosis: str | None
    site: str | None
    intake: pd.Timestamp | None
    last_contact: pd.Timestamp | None  # the last score or care event on record
    weeks_in_care: int | None          # whole weeks from intake to the last contact


def profile(mine: Cohort, patient_id: str) -> Profile:
    """The profile from one patient's rows (KeyError when the rows hold no such patient)."""
    pid = str(patient_id)
    found = mine.patients[mine.patients["patient_id"].astype(str) == pid]
    if found.empty:
        raise KeyError(f"no patient {pid!r} in this cohort")
    patient = found.iloc[0]
    intake = pd.to_datetime(patient.get("intake_date"))
    intake = None if pd.isna(intake) else pd.Timestamp(intake)
    birth = patient.get("birth_year")
    age = int(intake.year - int(birth)) if pd.notna(birth) and intake is not None else None
    seen = trajectories.last_record(mine) if len(mine.observations) or len(mine.events) else None
    last = pd.Timestamp(seen.get(pid)) if seen is not None and pd.notna(seen.get(pid)) else None
    weeks = int((last - intake).days // 7) if last is not None and intake is not None else None

    def text(value: object) -> str | None:
        return None if value is None or (not isinstance(value, str) and pd.isna(value)) else str(value)

    return Profile(pid, text(patient.get("sex")), age, text(patient.get("diagnosis")),
                   text(patient.get("site")), intake, last, weeks)


def current_treatments(events: pd.DataFrame, patient_id: str) -> list[str]:
    """Treatments started and not stopped since (a stop after the last start ends it)."""
    mine = events[(events["patient_id"] == str(patient_id))
                  & events["event"].isin(["treatment_start", "treatment_stop"])]
    mine = mine.sort_values("date", kind="stable")
    active: dict[str, bool] = {}
    for row in mine.itertuples(index=False):
        name = str(row.detail) if isinstance(row.detail, str) and row.detail else "other"
        active[name] = row.event == "treatment_start"
    return [name for name, on in active.items() if on]


def missed_appointments(cohort: Cohort, patient_id: str) -> list[pd.Timestamp]:
    visits = trajectories.appointments(cohort, str(patient_id))
    return sorted(pd.to_datetime(visits.loc[visits["event"] == "missed", "date"]).tolist())


def case_card(analysis: CohortTrajectories, patient_id: str, *, agenda_row: Mapping | None = None,
              top_factors: Iterable[str] = (), risk: float | None = None,
              engine: Engine | None = None, principal: Principal | None = None,
              today: pd.Timestamp | None = None) -> CaseCard:
    """Gather one patient's card from the version's analysis: profile, reasons, the domain
    verdicts they rest on, treatments, attendance, decisions (one patient's rows, no scan)."""
    access.require(principal, Permission.VIEW_IDENTIFIED)
    pid = str(patient_id)
    cohort = analysis.patient(pid)
    who = profile(cohort, pid)
    weeks = who.weeks_in_care
    if today is not None and who.intake is not None:
        weeks = int((pd.Timestamp(today) - who.intake).days // 7)
    events = cohort.events
    if agenda_row is not None and risk is None:
        value = agenda_row.get("risk")
        risk = None if value is None or pd.isna(value) else float(value)

    return CaseCard(
        patient_id=pid, sex=who.sex, age=who.age, diagnosis=who.diagnosis, site=who.site,
        intake_date=who.intake, weeks_since_intake=weeks,
        reasons=list(agenda_row.get("reasons", [])) if agenda_row is not None else [],
        risk=risk, top_factors=list(top_factors),
        treatments=current_treatments(events, pid),
        missed_appointments=missed_appointments(cohort, pid),
        attended_appointments=int(((events["patient_id"] == pid)
                                   & (events["event"] == "appointment_attended")).sum()),
        decisions=all_revisions(pid, engine=engine, principal=principal),
        domains=analysis.patient_domain_status(pid), rows=cohort,
    )
