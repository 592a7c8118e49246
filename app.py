"""PainCycle: the router. Page config, the sidebar's cohort picker, navigation over pages/."""

from pathlib import Path

import streamlit as st

from paincycle.ui import data

st.set_page_config(page_title="PainCycle", page_icon="🔄", layout="wide")

PAGES_DIR = Path(__file__).parent / "pages"
#: (file, title, icon) in menu order; a page appears once its file exists.
PAGES = [
    ("home.py", "Overview", "🏠"),
    ("cohort.py", "Cohort", "📈"),
    ("patient.py", "Patient", "🧑"),
    ("case_review.py", "Case review", "🗂️"),
    ("risk_model.py", "Risk model", "🎯"),
    ("data.py", "Data", "📥"),
    ("export.py", "Export", "📤"),
    ("audit.py", "Audit log", "🔎"),
]

pages = [
    st.Page(f"pages/{file}", title=title, icon=icon, default=(file == "home.py"))
    for file, title, icon in PAGES
    if (PAGES_DIR / file).exists()
]
navigation = st.navigation(pages)
with st.sidebar:
    data.version_picker()
    st.caption("Prognostic support for the clinical team, not a diagnosis.")
navigation.run()
