"""Text from data (ids, names, codes) shown inside Streamlit's Markdown, made inert."""

from __future__ import annotations

from paincycle.reports.document import markdown_text


def plain(value: object) -> str:
    """``value`` for an st.* call that renders Markdown: every Markdown/HTML character escaped,
    so an id like ``![](http://x)`` prints as written and the browser fetches nothing."""
    return markdown_text(value).replace("  \n", " ")
