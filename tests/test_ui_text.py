"""Data shown inside Streamlit's Markdown is made inert."""

from paincycle.ui.text import plain


def test_ids_and_names_cannot_become_links_or_images():
    shown = plain("![x](http://tracker.example/p.png) <b>")
    assert shown.startswith("\\!\\[x\\]") and "<b>" not in shown  # every marker escaped
    assert plain("P000266") == "P000266"


def test_counted_puts_the_noun_in_the_right_number():
    from paincycle.ui.text import counted

    assert counted(1, "patient") == "1 patient"
    assert counted(2000, "patient") == "2,000 patients"
    assert counted(1, "entry", "entries") == "1 entry" and counted(0, "entry", "entries") == "0 entries"
