"""Overview: what cohort is loaded, how big it is, and where to go next."""

import streamlit as st

from paincycle.summary import instruments_by_domain, version_headline
from paincycle.ui import data, trajectories
from paincycle.ui.auth import APP_ICON, current_principal
from paincycle.ui.text import plain

current_principal()  # the gate, also when this page is opened by its own address
st.title(f"{APP_ICON} PainCycle")
st.write(
    "Chronic pain, low mood and poor sleep feed each other, and the patients who do "
    "worst often withdraw quietly. PainCycle shows the cycle in your clinic's own data."
)

version = data.current_version()
if version is None:
    st.info("No cohort is loaded yet. Import your clinic's data on the **Data** page.")
    st.stop()

# the version's kept analysis and manifest: the landing page never loads its observations
headline = version_headline(trajectories.prepared(version.id),
                            int(version.rows.get("observations", 0)))
st.subheader(f"Cohort: {plain(version.name)}")
cols = st.columns(4)
cols[0].metric("Patients", f"{headline.patients:,}")
cols[1].metric("Observations", f"{headline.observations:,}")
cols[2].metric("First record", headline.first_date)
cols[3].metric("Last record", headline.last_date)
recorded = instruments_by_domain(headline.measures)
st.markdown("**Measures recorded**" + ("".join(
    f"\n- {plain(group.capitalize())}: {plain(', '.join(names))}" for group, names in recorded)
    if recorded else ": none"))
if data.is_synthetic(version):
    st.info("This is the bundled **synthetic** demo cohort: no real patient is described.")

st.markdown(
    "- **Cohort**: how the whole cohort is doing in pain, mood, sleep and function.\n"
    "- **Patient**: one patient's timeline with treatments and missed appointments.\n"
    "- **Case review**: the team's weekly meeting agenda and decisions.\n"
    "- **Risk model**: who is withdrawing, and how well the model works on your data.\n"
    "- **Data** and **Export**: bring data in, hand a summary out."
)
