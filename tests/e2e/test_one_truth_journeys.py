"""The trust journeys in a real browser: a link opens exactly its patient in exactly its version,
switching versions leaves no hidden filter, and the team's threshold is the one Case review and
the export use.

The server here has two stored versions: the demo cohort (older) and a small synthetic cohort
(newer, so it is what a new session opens), like a clinic that has imported twice.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlencode, urlparse

import pandas as pd
import pytest
from playwright.sync_api import expect

from paincycle import config, synth
from paincycle.cohort import read_cohort
from paincycle.store import CohortStore

from .helpers import (
    SCREENSHOTS,
    Server,
    assert_no_exception,
    goto,
    metric_value,
    open_page,
    start_server,
    stop_server,
    wait_idle,
)

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.xdist_group("browser")]


@pytest.fixture(scope="module")
def two_versions(tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("e2e-two-versions")
    store = CohortStore(data_dir / "cohorts")
    demo = store.save(read_cohort(config.SAMPLE_COHORT), name="demo")
    small = store.save(synth.generate(60, seed=3), name="small")
    process, url = start_server(data_dir, SCREENSHOTS / "server-two-versions.log")
    yield Server(url, data_dir), demo, small
    stop_server(process)


@pytest.fixture
def tab(browser, request):
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, accept_downloads=True)
    page = context.new_page()
    page.set_default_timeout(90_000)
    yield page
    page.screenshot(path=SCREENSHOTS / f"{request.node.name}.png", full_page=True)
    context.close()


def sidebar_version(page) -> str:
    return page.get_by_role("combobox", name="Cohort version").input_value()


def choose_version(page, name: str) -> None:
    box = page.locator('[data-testid="stSidebar"] [data-testid="stSelectbox"]',
                       has_text="Cohort version").first
    box.click()
    page.get_by_role("option", name=re.compile(rf"^{name} \(")).click()
    wait_idle(page)


def test_a_patient_link_in_an_older_version_opens_that_patient_there(tab, two_versions):
    server, demo, small = two_versions
    goto(tab, server.url)
    assert "small" in sidebar_version(tab)  # a new session opens the newest version
    link = "patient?" + urlencode({"version": demo.id, "patient_id": "P000266"})
    goto(tab, f"{server.url}/{link}")  # what the Cohort table's link opens, in a new tab
    assert_no_exception(tab, "patient link")
    expect(tab.get_by_role("combobox", name="Patient")).to_have_value("P000266")
    assert "demo" in sidebar_version(tab)
    query = parse_qs(urlparse(tab.url).query)
    assert query["version"] == [demo.id] and query["patient_id"] == ["P000266"]


def test_a_link_to_a_patient_not_in_the_version_says_so(tab, two_versions):
    server, _demo, small = two_versions
    goto(tab, f"{server.url}/patient?" + urlencode({"version": small.id, "patient_id": "P000266"}))
    assert_no_exception(tab, "unknown patient")
    tab.get_by_text("The patient in this link is not in the cohort version shown").wait_for()
    assert "P000266" not in tab.locator('[data-testid="stMain"]').inner_text()


def test_switching_versions_leaves_no_hidden_filter(tab, two_versions):
    server, demo, small = two_versions
    goto(tab, f"{server.url}/?version={demo.id}")
    open_page(tab, "Cohort")
    assert metric_value(tab, "Patients") == "1,000"
    site = tab.locator('[data-testid="stSidebar"] [data-testid="stMultiSelect"]',
                       has_text="Site").first
    demo_sites = read_cohort(config.SAMPLE_COHORT).patients["site"].value_counts()
    site.click()
    tab.get_by_role("option", name=str(demo_sites.index[-1]), exact=True).click()
    tab.keyboard.press("Escape")
    wait_idle(tab)
    assert metric_value(tab, "Patients") != "1,000"
    tab.get_by_text(re.compile(r"Filters on: [\d,]+ of 1,000 patients")).wait_for()
    choose_version(tab, "small")
    assert_no_exception(tab, "after switching versions")
    assert metric_value(tab, "Patients") == "60"  # every patient of the new version, no filter
    assert tab.get_by_text("Filters on:").count() == 0
    assert parse_qs(urlparse(tab.url).query)["version"] == [small.id]


def test_the_teams_threshold_is_used_by_case_review_and_the_export(tab, two_versions, tmp_path):
    server, demo, _small = two_versions
    goto(tab, f"{server.url}/?version={demo.id}")
    open_page(tab, "Risk model")
    thumb = tab.locator('[data-testid="stSlider"] input[type="range"]').first
    thumb.focus()
    thumb.press("Home")  # 1%: every scored patient is flagged
    wait_idle(tab)
    tab.get_by_role("button", name="Use 1% as the team's flag threshold").click()
    wait_idle(tab)
    assert_no_exception(tab, "threshold saved")
    tab.get_by_text(re.compile(r"The team's flag threshold for this model: 1%")).wait_for()

    open_page(tab, "Case review")
    assert_no_exception(tab, "Case review")
    # the agenda grid keeps each cell's text in the page (drawn on a canvas): every listed
    # patient is flagged at 1%, so every row's model-risk cell (column 5) says so
    cells = tab.locator('[data-testid="stDataFrame"] td[aria-colindex="5"]')
    cells.first.wait_for(state="attached")
    assert cells.count() > 0
    assert all(re.fullmatch(r"\d{1,2}% flagged", cells.nth(i).inner_text().strip())
               for i in range(cells.count()))

    open_page(tab, "Export")
    tab.locator('[data-testid="stRadio"]').get_by_text("Per-patient table (.csv)").click()
    wait_idle(tab)
    tab.get_by_role("button", name=re.compile("Build the export")).click()
    wait_idle(tab)
    with tab.expect_download() as info:
        tab.get_by_role("button", name=re.compile("Download")).first.click()
    target = tmp_path / info.value.suggested_filename
    info.value.save_as(target)
    table = pd.read_csv(target)
    scored = table["risk (%)"].notna()
    assert scored.sum() > 0
    flagged = table.loc[scored, "flagged by model"].eq("yes")
    risk = table.loc[scored, "risk (%)"].astype(int)  # whole percent, 1 to 99
    assert flagged.mean() > 0.9  # at 1%, nearly everyone scored is flagged ...
    assert (risk[~flagged] <= 1).all() and (risk[flagged] >= 1).all()  # ... by that rule
