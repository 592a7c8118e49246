"""Text from data (ids, names, codes) shown inside Streamlit's Markdown, made inert."""

from __future__ import annotations

from paincycle.reports.document import markdown_text


def counted(n: int, noun: str, plural: str | None = None) -> str:
    """'1 patient', '2,000 patients': a count with its noun in the right number."""
    return f"{n:,} {noun if n == 1 else (plural or noun + 's')}"


def plain(value: object) -> str:
    """``value`` for an st.* call that renders Markdown: every Markdown/HTML character escaped,
    so an id like ``![](http://x)`` prints as written and the browser fetches nothing."""
    return markdown_text(value).replace("  \n", " ")
