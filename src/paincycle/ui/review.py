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

from paincycle import charts, database, measures, review, services, trajectories
from paincycle import model as risk_model
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


def top_factors(version_id: str, patient_id: str, scores: pd.DataFrame | None) -> list[str]:
    """The model's reasons for this patient's risk, explained on demand (one patient is quick)."""
    path = risk.model_path(version_id)
    if path is None or scores is None or patient_id not in set(scores["patient_id"]):
        return []
    try:
        text = risk.factors(version_id, path, [patient_id]).get(patient_id, "")
    except Exception:  # a model that cannot explain must not stop the meeting  # noqa: BLE001
        return []
    return [part.strip() for part in text.split("|") if part.strip()]


@st.cache_resource(show_spinner="Preparing the agenda...", max_entries=4)
def _agenda_inputs(version_id: str, model_file: str | None) -> review.AgendaInputs:
    scores = model_scores(version_id) if model_file else None
    return review.agenda_inputs(trajectories_cache.prepared(version_id), scores)


def agenda(version_id: str, limit: int) -> pd.DataFrame:
    """The ranked agenda with today's hand overrides applied."""
    path = risk.model_path(version_id)
    # keyed by the team's threshold too: the model's flags are part of the agenda
    inputs = _agenda_inputs(version_id, f"{path}:{path.stat().st_mtime}:{risk.team_threshold(path)}"
                            if path else None)
    return review.rank_agenda(trajectories_cache.prepared(version_id).patients["patient_id"],
                              inputs, review.agenda_overrides(), limit=limit)


def agenda_table(frame: pd.DataFrame) -> None:
    shown = pd.DataFrame({"#": frame["rank"], "patient": frame["patient_id"],
                          "risk": frame["risk"], "why": frame["reason_text"]})
    st.dataframe(shown, hide_index=True, width="stretch", column_config={
        "risk": st.column_config.NumberColumn("model risk", format="percent"),
        "why": st.column_config.TextColumn("reasons", width="large"),
    })


def patient_navigation(ids: list[str]) -> str | None:
    """Select box plus previous/next buttons; returns the patient being discussed."""
    if not ids:
        return None
    if st.session_state.get(PATIENT_KEY) not in ids:
        st.session_state[PATIENT_KEY] = ids[0]

    def move(step: int) -> None:
        here = ids.index(st.session_state[PATIENT_KEY])
        st.session_state[PATIENT_KEY] = ids[max(0, min(len(ids) - 1, here + step))]

    cols = st.columns([1, 4, 1])
    cols[0].button("◀ Previous", on_click=move, args=(-1,), width="stretch",
                   disabled=ids.index(st.session_state[PATIENT_KEY]) == 0)
    chosen = cols[1].selectbox("Patient under discussion", ids, key=PATIENT_KEY,
                               format_func=lambda p: f"{ids.index(p) + 1}. {p}",
                               label_visibility="collapsed")
    cols[2].button("Next patient ▶", on_click=move, args=(1,), width="stretch",
                   disabled=ids.index(st.session_state[PATIENT_KEY]) == len(ids) - 1)
    return chosen


def _weekly_frame(mine: Cohort, code: str) -> pd.DataFrame:
    return trajectories.weekly_series(mine, [code])[["week", "value"]]


def case_card(card: review.CaseCard) -> None:
    """The patient's card: profile, reasons, four domains, responder tiles, care, decisions."""
    st.subheader(f"🧑 Patient {plain(card.patient_id)}")
    cols = st.columns(4)
    cols[0].metric("Age at intake", card.age if card.age is not None else "unknown")
    cols[1].metric("Weeks from intake to last score", card.weeks_since_intake
                   if card.weeks_since_intake is not None else "unknown")
    cols[2].metric("Model risk", risk_model.risk_words(card.risk) if card.risk is not None else "no score")
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
    spark_cols = st.columns(len(measures.VERDICT_GROUPS))
    for col, domain in zip(spark_cols, measures.VERDICT_GROUPS, strict=True):
        code = speaking.get(domain)
        col.caption(f"{domain.capitalize()}" + (f": {measures.get(code).instrument}" if code else ""))
        if code and card.rows is not None:
            col.altair_chart(charts.sparkline(_weekly_frame(card.rows, code),
                                              width=150, height=40), width="content")
        else:
            col.text("no scores")
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
        st.text(", ".join(t.replace("_", " ") for t in card.treatments) or "none recorded")
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
        submitted = st.form_submit_button("💾 Save decision", type="primary")
    if not submitted:
        return None
    if not action.strip():
        st.warning("Write the action before saving.")
        return None
    return services.record_decision(patient_id, discipline, action, note, principal=principal,
                                    engine=database.get_engine(), cohort_version=version_id,
                                    meeting_date=meeting_date, author=author)


def edit_form(current: list[review.Decision], principal: Principal) -> review.Decision | None:
    """Choose a decision and save a new revision of it (the old one stays in the history)."""
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
        submitted = st.form_submit_button("✏️ Save as new revision")
    if not submitted:
        return None
    if not action.strip():
        st.warning("Write the action before saving.")
        return None
    return services.revise_decision(chosen, action=action, note=note, principal=principal,
                                    engine=database.get_engine())


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

        col.download_button(f"📄 Meeting record (.{fmt})", data=build,
                            file_name=f"{stem}.{fmt}", mime=mime, width="stretch",
                            on_click="ignore", key=f"meeting_{fmt}")
