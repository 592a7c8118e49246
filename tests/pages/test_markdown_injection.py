"""Text from files, links and colleagues reaches every page as text: no link, no image fetched.

A custom measure code, a diagnosis, a site, a decision's action and a crafted
``?patient_id=`` each hold Markdown for an image and a link. Every element
Streamlit renders as Markdown must show them escaped.
"""

from __future__ import annotations

import re
from pathlib import Path

from streamlit.testing.v1 import AppTest

from paincycle import review
from paincycle.access import LOCAL_USER
from paincycle.cohort import read_cohort
from paincycle.store import CohortStore

IMAGE = "![x](http://evil.example/{}.png)"
LINK = "[click](http://evil.example/{})"
PAGES = sorted(p.name for p in (Path(__file__).parents[2] / "pages").glob("*.py"))
#: Markdown that would become a live link or image: "](http" not escaped as "\](http".
LIVE = re.compile(r"(?<!\\)\]\(http://evil")


def _rendered_markdown(at: AppTest) -> list[str]:
    kinds = ("markdown", "caption", "info", "warning", "error", "success", "title", "header",
             "subheader")
    texts = [str(element.value) for kind in kinds for element in at.get(kind)]
    texts += [str(m.label) for m in at.metric] + [str(e.label) for e in at.get("expander")]
    texts += [str(o) for r in at.radio for o in r.options]  # radio options render Markdown
    texts += [str(w.label) for kind in ("button", "checkbox", "toggle", "radio", "selectbox",
                                        "multiselect", "tab") for w in at.get(kind)]
    return texts


def test_markdown_in_data_and_links_is_never_live_on_any_page(tiny_cohort_dir, monkeypatch):
    patients = tiny_cohort_dir / "patients.csv"
    patients.write_text(patients.read_text()
                        .replace("chronic low back pain", IMAGE.format("diagnosis"))
                        .replace("North", LINK.format("site")))
    observations = tiny_cohort_dir / "observations.csv"
    code = "x_" + IMAGE.format("code").replace(",", "")
    observations.write_text(observations.read_text()
                            + f"P001,2025-01-06,{code},3\nP001,2025-04-07,{code},4\n")
    monkeypatch.setattr("paincycle.config.SAMPLE_COHORT", tiny_cohort_dir.parent / "none")
    version = CohortStore().save(read_cohort(tiny_cohort_dir), name="markdown")
    review.record_decision("P001", "psychology", IMAGE.format("action"),
                           LINK.format("note"), principal=LOCAL_USER, cohort_version=version.id)

    at = AppTest.from_file("../../app.py", default_timeout=90).run()
    for page in PAGES:
        at.switch_page(f"pages/{page}").run()
        assert not at.exception, f"{page}: {at.exception}"
        live = [t for t in _rendered_markdown(at) if LIVE.search(t)]
        assert not live, f"{page} renders live Markdown: {live[:3]}"

    at.switch_page("pages/patient.py").run()
    at.query_params["patient_id"] = IMAGE.format("patient")
    at.run()
    assert not at.exception
    texts = _rendered_markdown(at)
    assert not [t for t in texts if LIVE.search(t)]
    assert any("not in" in t or "not found" in t for t in texts), "an unknown id says so"
