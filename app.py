"""PainCycle: the router. Page config, the sign-in gate, the sidebar, navigation over pages/."""

from pathlib import Path

import streamlit as st

from paincycle.access import Permission
from paincycle.ui import auth, data, errors, router

# Material icons: Streamlit serves their font itself, so they draw offline and with no emoji font.
st.set_page_config(page_title="PainCycle", page_icon=auth.APP_ICON, layout="wide")
# An error's message may quote patient data: Streamlit shows none of it (ui.errors shows a reference).
if not errors.REVEAL_TO_TESTS:
    st.set_option("client.showErrorDetails", "none")
st.set_option("client.toolbarMode", "viewer")  # no "Deploy" button in a health-data app

PAGES_DIR = Path(__file__).parent / "pages"
#: (file, title, icon, permission needed to see it in the menu) in menu order;
#: a page appears once its file exists. The core enforces roles whatever the menu shows.
PAGES = [
    ("home.py", "Overview", ":material/home:", None),
    ("cohort.py", "Cohort", ":material/monitoring:", None),
    ("patient.py", "Patient", ":material/person:", None),
    ("case_review.py", "Case review", ":material/groups:", None),
    ("risk_model.py", "Risk model", ":material/target:", None),
    ("data.py", "Data", ":material/upload_file:", None),
    ("export.py", "Export", ":material/download:", None),
    ("audit.py", "Audit log", ":material/manage_search:", Permission.VIEW_AUDIT),
]

principal = auth.require_sign_in()  # the sign-in screen is all a stranger gets
page_by_file = {
    file: st.Page(f"pages/{file}", title=title, icon=icon, default=(file == "home.py"))
    for file, title, icon, needs in PAGES
    if (PAGES_DIR / file).exists() and (needs is None or principal.can(needs))
}
navigation = st.navigation(list(page_by_file.values()))
router.mark_routed()
deep_link = router.pop_deep_link()  # a page opened before the router ever ran: open it now
if deep_link and deep_link[0] in page_by_file:
    st.switch_page(page_by_file[deep_link[0]], query_params=deep_link[1])
with st.sidebar:
    auth.sidebar_status(principal)
    data.version_picker()
    st.caption("Prognostic support for the clinical team, not a diagnosis.")
if data.unknown_linked_version():  # never echoed: the link's text is not ours to show
    st.warning("The link names a cohort version that is not stored here, so it cannot be "
               "opened. The version shown is named in the sidebar.")
errors.guarded(navigation.run)
