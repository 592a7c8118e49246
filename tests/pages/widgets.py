"""Finding a page's widgets in AppTest when their keys carry the cohort version."""

from __future__ import annotations


def keyed(elements, prefix: str, suffix: str):
    """The one element whose key is ``{prefix}_{version}_{suffix}`` (keys are per version)."""
    found = [e for e in elements if e.key and e.key.startswith(prefix + "_")
             and e.key.endswith("_" + suffix)]
    assert len(found) == 1, [e.key for e in elements]
    return found[0]


def select_box(at, prefix: str = "patient", suffix: str = "select"):
    return keyed(at.selectbox, prefix, suffix)
