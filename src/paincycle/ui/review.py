"""Case-review widgets: cached agenda inputs, the case card, the decision forms, the history.

The analyses behind the agenda are cached by cohort version (a version never
changes); the hand overrides and the decisions are read fresh on every rerun,
because colleagues change them during the meeting. Free text (notes, reasons,
diagnoses) is always drawn with st.text or in a dataframe, never as Markdown.
"""

from __future__ import annotations

import zlib
from datetime import date

import pandas as pd
import streamlit as st
from streamlit.errors import StreamlitAPIException

from paincycle import (
    charts,
    clock,
    database,
    measures,
    meetings,
    review,
    risks,  # the light half of the model: no scikit-learn here
    services,
    trajectories,
)
from paincycle.access import Principal
from paincycle.cohort import Cohort
from paincycle.reports import meeting
from paincycle.ui import risk
from paincycle.ui import trajectories as trajectories_cache
from paincycle.ui.text import plain

PATIENT_KEY = "review_patient"


def model_scores(version_id: str) -> pd.DataFrame | None:
    """patient_id, risk, flagged, top_factors from the Risk model page's cached scores
    (the same model and flags); None when there is no model or it cannot be used."""
    path = risk.model_path(version_id)
    if path is None:
        return None
    try:
        return risk.scores(version_id, path).table
    except Exception:  # a broken or refused model must not stop the meeting  # noqa: BLE001
        return None


def scores_by_patient(version_id: str) -> pd.DataFrame | None:
    """``model_scores``' risk and flag indexed by patient id (as text), kept per version,
    model and team threshold: a page that shows one patient's risk, or the risks of a table's rows, looks
    them up instead of copying and re-keying every patient's score on each rerun. Read-only."""
    key = _model_key(version_id)
    return _scores_by_patient(version_id, key) if key else None


@st.cache_resource(show_spinner=False, max_entries=4)
def _scores_by_patient(version_id: str, model_key: str) -> pd.DataFrame | None:
    scores = model_scores(version_id)
    if scores is None:
        return None
    ids = scores["patient_id"].astype(str)
    # the risk and the flag only: the reasons' text is a few hundred MB at 1,000,000 patients,
    # and the pages that look a patient up here show the risk (reasons: risk.factors)
    kept = [c for c in ("risk", "flagged") if c in scores]
    return (pd.DataFrame({"patient_id": ids.to_numpy(dtype=object),
                          **{c: scores[c].to_numpy() for c in kept}})
            .drop_duplicates("patient_id", keep="last").set_index("patient_id"))


def _model_key(version_id: str) -> str | None:
    """What the model part of the agenda depends on: the file, its version and the team's threshold."""
    path = risk.model_path(version_id)
    return f"{path}:{path.stat().st_mtime}:{risk.team_threshold(path)}" if path else None


@st.cache_resource(show_spinner="Preparing the agenda...", max_entries=4)
def _rules(version_id: str, model_key: str | None) -> pd.DataFrame:
    scores = model_scores(version_id) if model_key else None
    analysis = trajectories_cache.prepared(version_id)
    return review.rule_reasons(analysis.patients["patient_id"],
                               review.agenda_inputs(analysis, scores))


def agenda(version_id: str, limit: int) -> pd.DataFrame:
    """The ranked agenda with the hand overrides in force now (read fresh: colleagues change them).

    The rules' part is computed once per cohort version, model and threshold.
    """
    rules = _rules(version_id, _model_key(version_id))
    return review.rank_agenda(trajectories_cache.prepared(version_id).patients["patient_id"],
                              overrides=review.agenda_overrides(), limit=limit, rules=rules)


def agenda_factors(version_id: str, patient_ids: list[str],
                   scores: pd.DataFrame | None) -> dict[str, list[str]]:
    """The model's reasons for every agenda patient, explained in one batch (cached)."""
    path = risk.model_path(version_id)
    if path is None or scores is None:
        return {}
    wanted = risk.scored(version_id, path, patient_ids)
    if not wanted:
        return {}
    try:
        texts = risk.factors(version_id, path, wanted)
    except Exception:  # a model that cannot explain must not stop the meeting  # noqa: BLE001
        return {}
    return {pid: [part.strip() for part in text.split("|") if part.strip()]
            for pid, text in texts.items()}


def decided_patients(meeting_date: date, principal: Principal) -> set[str]:
    """Patients with a decision recorded under this meeting's date (read fresh)."""
    return {d.patient_id for d in review.all_revisions(meeting_date=meeting_date,
                                                       principal=principal)}


def agenda_table(frame: pd.DataFrame, decided: set[str]) -> None:
    """The agenda as the team reads it: one column per kind of reason, so every reason of a
    patient is visible at a glance (the card lists them in full sentences)."""

    def of_kind(kind: str) -> list[str]:
        return [", ".join(short for k, short in zip(kinds, shorts, strict=True) if k == kind)
                for kinds, shorts in zip(frame["kinds"], frame["short"], strict=True)]

    risk_text = [risks.risk_words(r) if pd.notna(r) else "" for r in frame["risk"]]
    flagged = of_kind("model")
    shown = pd.DataFrame({
        "#": frame["rank"], "patient": frame["patient_id"], "priority": frame["priority_words"],
        "safety": of_kind("safety"),
        "model risk": [f"{r} flagged" if f else r for r, f in zip(risk_text, flagged, strict=True)],
        "worse since intake": of_kind("deterioration"),
        "triad": ["yes" if t else "" for t in of_kind("triad")],
        "decided": ["yes" if p in decided else "" for p in frame["patient_id"]],
        "by hand": ["yes" if s == "added by hand" else "" for s in frame["source"]],
    })
    st.dataframe(shown, hide_index=True, width="stretch", column_config={
        "#": st.column_config.NumberColumn(width="small"),
        "worse since intake": st.column_config.TextColumn(width="medium"),
        "decided": st.column_config.TextColumn("decided this meeting", width="small"),
        "by hand": st.column_config.TextColumn("added by hand", width="small"),
    })
    st.caption("Priority: a safety signal first, then patients added by hand, the model's flag, "
               "deterioration beyond the MCID, then the pain-mood-sleep triad. The case card "
               "gives every reason in full.")


def patient_navigation(ids: list[str], decided: set[str] = frozenset()) -> str | None:
    """Select box plus previous/next buttons; returns the patient being discussed.

    A caption says whether the meeting already decided about them, and how many are done.
    """
    if not ids:
        return None
    if st.session_state.get(PATIENT_KEY) not in ids:
        st.session_state[PATIENT_KEY] = ids[0]

    def move(step: int) -> None:
        current = st.session_state.get(PATIENT_KEY)
        here = ids.index(current) if current in ids else 0
        st.session_state[PATIENT_KEY] = ids[max(0, min(len(ids) - 1, here + step))]

    def label(pid: str) -> str:
        # The label must not change while the box lives: Streamlit keeps a select box's value
        # by its label, so a label that gained "(decided)" lost the patient chosen.
        return f"{ids.index(pid) + 1}. {pid}"

    cols = st.columns([1, 4, 1])
    cols[0].button("Previous", icon=":material/arrow_back:", on_click=move, args=(-1,),
                   width="stretch", disabled=ids.index(st.session_state[PATIENT_KEY]) == 0)
    chosen = cols[1].selectbox("Patient under discussion", ids, key=PATIENT_KEY,
                               format_func=label, label_visibility="collapsed")
    cols[2].button("Next patient", icon=":material/arrow_forward:", on_click=move, args=(1,),
                   width="stretch",
                   disabled=ids.index(st.session_state[PATIENT_KEY]) == len(ids) - 1)
    done = len(decided & set(ids))
    cols[1].caption(("Decided in this meeting" if chosen in decided else "No decision yet in this "
                     "meeting") + f" · {done} of {len(ids)} agenda patients decided")
    return chosen


def meeting_panel(meeting_date: date, principal: Principal) -> meetings.Meeting:
    """Start the meeting with its attendees, change them, sign it off; returns its state."""
    state = meetings.meeting(meeting_date, principal=principal)
    if state.signed_off:
        st.success(f"Signed off at {clock.local_text(state.signed_off_at)} by "
                   f"{plain(state.signed_off_by or '')}. The record of this meeting is final.",
                   icon=":material/verified:")
        st.text(f"Attendees: {', '.join(state.attendees)}")
        return state
    if not state.started:
        with st.form("meeting_start", enter_to_submit=False):
            names = st.text_area("Who is at the table? (one name per line)", value=principal.user,
                                 height=100, key="meeting_attendees_new")
            started = st.form_submit_button("Start the meeting", icon=":material/play_arrow:",
                                            type="primary")
        if started:
            _meeting_change(services.start_meeting, meeting_date, names, principal)
        st.caption("Name who is at the table to start the meeting: the record lists them, and "
                   "signing off at the end makes the record final.")
        return state
    st.text(f"Started {clock.local_text(state.started_at)} by {state.started_by} · "
            f"{len(state.attendees)} attendees: {', '.join(state.attendees)}")
    left, right = st.columns(2)
    with left.expander("Change attendees", icon=":material/group:"):
        with st.form("meeting_attendees", enter_to_submit=False):
            names = st.text_area("Attendees (one name per line)", value="\n".join(state.attendees),
                                 height=100, key=f"meeting_attendees_{len(state.attendees)}")
            changed = st.form_submit_button("Save attendees")
        if changed:
            _meeting_change(services.start_meeting, meeting_date, names, principal)
    with right.expander("Sign off the meeting", icon=":material/task_alt:"):
        with st.form("meeting_sign_off", enter_to_submit=False):
            sure = st.checkbox("Every decision of this meeting is recorded and correct")
            signed = st.form_submit_button("Sign off", type="primary")
        if signed:
            if not sure:
                st.warning("Tick the box to confirm the record is complete before signing off.")
            else:
                _meeting_change(services.sign_off_meeting, meeting_date, None, principal)
    return state


def _meeting_change(change, meeting_date: date, names: str | None, principal: Principal) -> None:
    try:
        if names is None:
            change(meeting_date, principal=principal)
        else:
            change(meeting_date, names, principal=principal)
    except ValueError as exc:  # no attendee named, or the meeting already closed: say which
        st.warning(str(exc))
        return
    st.rerun()


def _weekly_frame(mine: Cohort, code: str) -> pd.DataFrame:
    return trajectories.weekly_series(mine, [code])[["week", "value"]]


@st.cache_data(show_spinner=False, max_entries=256)
def _card_charts(version_id: str, patient_id: str) -> tuple[dict[str, dict], dict]:
    """The card's sparklines and tiles as Vega-Lite specs, built once per version and patient
    (a version never changes): a save or a switch back then only draws them, and Altair's
    building and validating (a third of a rerun) is not paid again."""
    analysis = trajectories_cache.prepared(version_id)
    rows = analysis.patient(patient_id)
    domains = analysis.patient_domain_status(patient_id)
    speaking = dict(zip(domains["domain"], domains["measure"], strict=True)) if len(domains) else {}
    sparks = {domain: charts.sparkline(_weekly_frame(rows, code), width=150, height=40).to_dict()
              for domain, code in speaking.items()}
    return sparks, charts.responder_tiles(domains).to_dict()


def weekly_risk(version_id: str, patient_id: str) -> None:
    """The weekly model's risk over time for this patient, on request (it loads the model)."""
    from paincycle import model_charts
    from paincycle.ui import risk as risk_ui

    if risk_ui.weekly_path(version_id) is None:
        return
    if not st.toggle("Show the weekly risk over time", key=f"card_weekly_{patient_id}",
                     help="The earliest-warning model's risk, week by week from day 14, each "
                          "from the data recorded by then."):
        return
    weekly = risk_ui.risk_over_time(version_id, patient_id)
    if weekly is None or weekly[0].empty:
        st.caption("No weekly risk yet: the first is at day 14 after intake.")
        return
    over_time, trained = weekly
    st.altair_chart(model_charts.risk_over_time_chart(over_time), width="stretch")
    st.caption(risk_ui.weekly_caveat(version_id, trained) + " Prognostic support, not a "
               "diagnosis.")


def case_card(card: review.CaseCard, version_id: str | None = None) -> None:
    """The patient's card: profile, reasons, four domains, responder tiles, care, decisions.

    With the ``version_id`` the card came from, its charts are drawn from specs kept per
    version and patient."""
    st.subheader(f":material/person: Patient {plain(card.patient_id)}")
    cols = st.columns(4)
    cols[0].metric("Age at intake", card.age if card.age is not None else "unknown")
    cols[1].metric("Weeks in care", card.weeks_since_intake
                   if card.weeks_since_intake is not None else "unknown")
    cols[2].metric("Model risk", risks.risk_words(card.risk) if card.risk is not None else "no score")
    cols[3].metric("Missed appointments", len(card.missed_appointments))
    st.text(f"Sex: {card.sex or 'unknown'} · Diagnosis: {card.diagnosis or 'not recorded'} · "
            f"Site: {card.site or 'not recorded'}")
    if card.reasons:
        st.markdown("**Why on the agenda**")
        for reason in card.reasons:
            st.text(f"• {reason}")

    # each sparkline draws the measure its tile's verdict rests on
    speaking = dict(zip(card.domains["domain"], card.domains["measure"], strict=True)) \
        if len(card.domains) else {}
    kept = _card_charts(version_id, card.patient_id) if version_id else None
    spark_cols = st.columns(len(measures.VERDICT_GROUPS))
    for col, domain in zip(spark_cols, measures.VERDICT_GROUPS, strict=True):
        code = speaking.get(domain)
        col.caption(f"{domain.capitalize()}" + (f": {measures.get(code).instrument}" if code else ""))
        if kept is not None and domain in kept[0]:
            col.vega_lite_chart(spec=kept[0][domain], width="content")
        elif code and card.rows is not None:
            col.altair_chart(charts.sparkline(_weekly_frame(card.rows, code),
                                              width=150, height=40), width="content")
        else:
            col.text("no scores")
    if kept is not None:
        st.vega_lite_chart(spec=kept[1], width="stretch")
    else:
        st.altair_chart(charts.responder_tiles(card.domains), width="stretch")

    left, right = st.columns(2)
    with left:
        st.markdown("**Top risk factors**")
        if card.top_factors:
            for factor in card.top_factors:
                st.text(factor)
        else:
            st.text("No model score for this patient.")
        st.markdown("**Current treatments**")
        st.text(", ".join(charts.treatment_name(t) for t in card.treatments) or "none recorded")
    if version_id:
        weekly_risk(version_id, card.patient_id)
    with right:
        st.markdown("**Appointments**")
        missed = ", ".join(f"{d:%Y-%m-%d}" for d in card.missed_appointments) or "none"
        st.text(f"Attended: {card.attended_appointments} · Missed: {missed}")


def decision_form(patient_id: str, principal: Principal, version_id: str | None,
                  meeting_date: date) -> review.Decision | None:
    """A keyboard-friendly form: discipline, action, note, decided by; Enter in the action saves."""
    with st.form(f"decision_form_{patient_id}", clear_on_submit=True, enter_to_submit=True):
        st.markdown("**Record a decision**")
        cols = st.columns([1, 2])
        discipline = cols[0].selectbox("Discipline", review.DISCIPLINES)
        action = cols[1].text_input("Action", max_chars=200,
                                    placeholder="e.g. refer to CBT group")
        note = st.text_area("Note", height=80)
        author = st.text_input("Decided by", value=principal.user, max_chars=200)
        submitted = st.form_submit_button("Save decision", icon=":material/save:", type="primary")
    if not submitted:
        return None
    if not action.strip():
        st.warning("Write the action before saving.")
        return None
    try:
        return services.record_decision(patient_id, discipline, action, note, principal=principal,
                                        engine=database.get_engine(), cohort_version=version_id,
                                        meeting_date=meeting_date, author=author)
    except ValueError as exc:  # too long, or the meeting was signed off: say so, keep nothing
        st.warning(str(exc))
        return None


def edit_form(current: list[review.Decision], principal: Principal,
              meeting_date: date) -> review.Decision | None:
    """Choose a decision and save a new revision of it under this meeting (the old one stays)."""
    if not current:
        return None
    labels = {d.decision_id: f"{d.discipline}: {d.action} (revision {d.revision})" for d in current}
    ids = list(labels)
    patient_id = current[0].patient_id
    # The box is keyed by the revisions it lists: with one key for good, the browser kept
    # showing "(revision 1)" and its old text after a revision was saved. The decision
    # chosen is remembered on its own, so a new box opens on the same one.
    revisions = zlib.crc32("|".join(f"{d.decision_id}:{d.revision}" for d in current).encode())
    remembered = st.session_state.get(f"edit_chosen_{patient_id}")
    chosen = st.selectbox("Edit a decision", ids, format_func=labels.get,
                          index=ids.index(remembered) if remembered in ids else 0,
                          key=f"edit_choice_{patient_id}_{revisions:08x}")
    st.session_state[f"edit_chosen_{patient_id}"] = chosen
    latest = next(d for d in current if d.decision_id == chosen)
    with st.form(f"edit_form_{chosen}_{latest.revision}", enter_to_submit=True):
        action = st.text_input("New action", value=latest.action, max_chars=200)
        note = st.text_area("New note", value=latest.note, height=80)
        submitted = st.form_submit_button("Save as new revision", icon=":material/edit:")
    if not submitted:
        return None
    if not action.strip():
        st.warning("Write the action before saving.")
        return None
    try:
        return services.revise_decision(chosen, action=action, note=note, principal=principal,
                                        engine=database.get_engine(), meeting_date=meeting_date)
    except ValueError as exc:
        st.warning(str(exc))
        return None


def history(revisions: list[review.Decision]) -> None:
    """Every revision of every decision, newest decision first, as plain text."""
    if not revisions:
        st.info("No decisions recorded for this patient yet.")
        return
    grouped: dict[str, list[review.Decision]] = {}
    for item in revisions:
        grouped.setdefault(item.decision_id, []).append(item)
    for items in reversed(list(grouped.values())):
        items = sorted(items, key=lambda d: d.revision)
        latest = items[-1]
        with st.expander(f"{latest.discipline}: {plain(latest.action)} · {len(items)} revision(s)",
                         expanded=len(items) > 1):
            st.dataframe(review.decisions_frame(items)[
                ["revision", "time", "author", "action", "note"]], hide_index=True,
                width="stretch", key=f"history_{latest.decision_id}")


def meeting_downloads(cohort_name: str, agenda_frame: pd.DataFrame, meeting_date: date,
                      principal: Principal, version_id: str | None = None) -> None:
    """Download buttons for the meeting record (Markdown, HTML, PDF).

    Each file is built when its button is clicked, by the service that audits the download.
    """
    cols = st.columns(3)
    stem = f"case-review-{meeting_date:%Y-%m-%d}"
    for col, (fmt, (mime, _build)) in zip(cols, meeting.MEETING_FORMATS.items(), strict=True):
        def build(fmt: str = fmt) -> bytes:
            return services.meeting_record_file(fmt, cohort_name, agenda_frame, meeting_date,
                                                principal=principal, engine=database.get_engine(),
                                                cohort_version=version_id)

        col.download_button(f"Meeting record (.{fmt})", icon=":material/download:", data=build,
                            file_name=f"{stem}.{fmt}", mime=mime, width="stretch",
                            on_click="ignore", key=f"meeting_{fmt}")


def zone_name() -> str:
    """The clinic's time zone as pages name it ("CET", "Europe/Berlin", "UTC")."""
    zone = clock.clinic_zone()
    return str(getattr(zone, "key", None) or clock.local(clock.now(), zone).tzname() or zone)


def rerun_discussion() -> None:
    """Rerun the discussion fragment only (a save redraws the card, not the page).

    A form submitted during a full run of the page (the first run after a
    widget outside the fragment changed, or a test's run) cannot rerun a
    fragment alone, so the page reruns instead.
    """
    try:
        st.rerun(scope="fragment")
    except StreamlitAPIException:
        st.rerun()


def model_provenance(version_id: str) -> None:
    """Say where the agenda's model comes from (ui.risk.provenance_notice)."""
    risk.provenance_notice(version_id)
