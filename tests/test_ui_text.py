"""Data shown inside Streamlit's Markdown is made inert."""

from paincycle.ui.text import plain


def test_ids_and_names_cannot_become_links_or_images():
    shown = plain("![x](http://tracker.example/p.png) <b>")
    assert shown.startswith("\\!\\[x\\]") and "<b>" not in shown  # every marker escaped
    assert plain("P000266") == "P000266"
