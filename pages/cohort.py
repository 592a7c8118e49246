"""Cohort overview: how the whole cohort is doing in pain, mood, sleep and function."""

import streamlit as st

from paincycle import charts
from paincycle.measures import CLINICAL_DOMAINS
from paincycle.ui import data, filters, trajectories
from paincycle.ui import review as review_ui
from paincycle.ui import risk as risk_ui
from paincycle.ui.audit import Action, audit_once
from paincycle.ui.auth import current_principal

principal = current_principal()
st.title(":material/monitoring: Cohort overview")
version_id = data.current_version_id()
if version_id is None:
    st.info("No cohort is loaded yet. Import your clinic's data on the **Data** page.")
    st.stop()

# filters belong to one version: another version starts with none (no hidden intake period)
chosen = filters.show(trajectories.filter_options(version_id), trajectories.intake_span(version_id),
                      key=f"cohort_{version_id}")
view = trajectories.overview(version_id, chosen)
head = view.headline
total = trajectories.patient_count(version_id)
if chosen.active:
    st.caption(f"Filters on: {head['patients']:,} of {total:,} patients.")
if head["patients"] == 0:
    st.info("No patients match these filters.")
    st.stop()

cols = st.columns(4)
cols[0].metric("Patients", f"{head['patients']:,}")
cols[1].metric("Active in last 90 days", f"{head['active']:,}")
cols[2].metric("Median follow-up", f"{head['median_follow_up_weeks']:.0f} weeks")
cols[3].metric("Pain-mood-sleep triad", f"{head['triad_share']:.0%}",
               help=trajectories.triad_help())

st.subheader("Responders at 12 months")
rates = view.rates
cols = st.columns(4)
for col, domain in zip(cols, CLINICAL_DOMAINS, strict=True):
    row = rates[(rates["domain"] == domain) & (rates["months"] == 12)].iloc[0]
    col.metric(f"{domain.capitalize()} responders", "-" if row["n_patients"] == 0 else f"{row['rate']:.0%}",
               help=f"{row['n_responders']} of {row['n_patients']} patients with a baseline and a "
                    "12-month score improved by at least the MCID.")
with st.expander("Responder rates at 3, 6 and 12 months"):
    st.dataframe(trajectories.rates_table(rates), width="stretch", hide_index=True)

st.subheader("Trajectories by week since intake")
least = trajectories.min_patients(head["patients"])
st.caption(f"Weeks scored by fewer than {least} patients are not drawn; a point marks each week "
           "drawn, and the line breaks where weeks are missing. Under each chart: patients still "
           "followed (grey) and patients scored that week (bars, pale where too few to draw).")
grid = st.columns(2)
for i, code in enumerate(view.bands):
    with grid[i % 2]:
        for chart in charts.band_chart_pair(view.bands[code], code, view.followed,
                                            min_patients=least, whole_height=True):
            trajectories.draw(chart)

st.subheader("Patients")
st.caption(f"Most domains worse first; showing {len(view.table):,} of {head['patients']:,}. "
           "Open a patient from the link in the first column.")
if principal.sees_identified_data:  # a list of identified patients is a view of their records
    audit_once(Action.VIEW_PATIENT_LIST, detail="cohort table")
table_risk = review_ui.scores_by_patient(version_id)
if table_risk is not None:
    risk_ui.provenance_notice(version_id)
st.dataframe(trajectories.table_for_display(view.table, version_id, principal,
                                            risk=table_risk),
             width="stretch", height=trajectories.TABLE_HEIGHT, hide_index=True,
             column_config=trajectories.table_columns(view.primary.get("pain"),
                                                      view.primary.get("function")))
