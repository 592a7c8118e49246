"""A whole case-review meeting in a real browser: open, attendees, three decisions, one
revision, sign-off, the record downloaded and read.

The meeting runs on a server of its own (its own data folder), because signing
off closes today's meeting for every other journey that would record in it.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator

import pytest
from playwright.sync_api import expect

from .helpers import (
    SCREENSHOTS,
    Server,
    assert_no_exception,
    goto,
    open_page,
    start_server,
    stop_server,
    wait_idle,
)

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.xdist_group("browser")]


@pytest.fixture(scope="module")
def meeting_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    data_dir = tmp_path_factory.mktemp("e2e-meeting")
    process, url = start_server(data_dir, SCREENSHOTS / "server-meeting.log",
                                extra_env={"PAINCYCLE_TIMEZONE": "Europe/Berlin"})
    yield Server(url, data_dir)
    stop_server(process)


@pytest.fixture
def meeting_page(browser, meeting_server: Server):
    context = browser.new_context(viewport={"width": 1400, "height": 2600}, accept_downloads=True)
    tab = context.new_page()
    goto(tab, meeting_server.url)
    yield tab
    context.close()


def _patient_on_card(page) -> str:
    heading = page.locator("h3", has_text=re.compile(r"^\s*\S*\s*Patient ")).first
    return heading.inner_text().split("Patient", 1)[1].strip()


def _timed(page, act) -> float:
    start = time.perf_counter()
    act()
    wait_idle(page)
    return time.perf_counter() - start


def test_a_whole_meeting(meeting_page, tmp_path):
    page = meeting_page
    open_page(page, "Case review")
    assert_no_exception(page, "Case review")
    page.get_by_text("Agenda (15 patients)").wait_for()

    attendees = page.get_by_label("Who is at the table? (one name per line)")
    attendees.fill("Dr Ana Ruiz\nJo Bloggs (physiotherapy)\nSam Lee")
    page.get_by_role("button", name=re.compile("Start the meeting")).click()
    wait_idle(page)
    page.get_by_text(re.compile(r"3 attendees: Dr Ana Ruiz, Jo Bloggs \(physiotherapy\), Sam Lee")
                     ).wait_for()

    decided, times = [], {"save": [], "next": []}
    for action in ("refer to the CBT group", "phone weekly", "review opioid dose"):
        decided.append(_patient_on_card(page))
        form = page.locator('[data-testid="stForm"]', has_text="Record a decision").first
        form.get_by_label("Action").fill(action)
        times["save"].append(_timed(page, lambda form=form: form.get_by_role(
            "button", name=re.compile("Save decision")).click()))
        assert_no_exception(page, f"after saving {action!r}")
        page.get_by_text(action).first.wait_for()
        times["next"].append(_timed(page, lambda: page.get_by_role(
            "button", name=re.compile("Next patient")).click()))
        assert_no_exception(page, "after Next patient")
    assert len(set(decided)) == 3
    page.screenshot(path=SCREENSHOTS / "meeting-decisions.png", full_page=True)
    # the agenda marks what the meeting decided
    agenda = page.locator('[data-testid="stDataFrame"]').first
    expect(agenda).to_contain_text("decided this meeting")

    # one revision of the last decision
    page.get_by_role("button", name=re.compile("Previous")).click()
    wait_idle(page)
    assert _patient_on_card(page) == decided[-1]
    edit = page.locator('[data-testid="stForm"]', has_text="New action").first
    edit.get_by_label("New action").fill("review opioid dose with the GP")
    edit.get_by_role("button", name=re.compile("Save as new revision")).click()
    wait_idle(page)
    assert_no_exception(page, "after a revision")
    page.get_by_text("review opioid dose with the GP").first.wait_for()

    # sign-off: confirm, then the record is final
    page.get_by_text("Sign off the meeting").click()
    page.get_by_text("Every decision of this meeting is recorded and correct").click()
    page.get_by_role("button", name=re.compile(r"^\W*Sign off$")).click()
    wait_idle(page)
    page.get_by_text(re.compile("^Signed off at ")).wait_for()
    wait_idle(page)  # the rest of the page redraws after the sign-off's notice
    expect(page.get_by_role("button", name=re.compile("Save decision"))).to_have_count(0)
    expect(page.get_by_text("This meeting is signed off")).to_be_visible()
    page.screenshot(path=SCREENSHOTS / "meeting-signed-off.png", full_page=True)

    # the record, as the team files it
    with page.expect_download() as info:
        page.get_by_role("button", name=re.compile(r"Meeting record \(\.md\)")).click()
    target = tmp_path / info.value.suggested_filename
    info.value.save_as(target)
    record = target.read_text()
    assert "Attendees: Dr Ana Ruiz, Jo Bloggs (physiotherapy), Sam Lee" in record
    assert "Signed off " in record
    for words in ("refer to the CBT group", "phone weekly", "review opioid dose",
                  "review opioid dose with the GP", "revision 1 (superseded)",
                  "revision 2 (current)"):
        assert words in record, words
    assert "Times are local (CET)." in record and " CET, by " in record  # the clinic's zone
    print(f"browser wait per save {times['save']}, per next patient {times['next']}")
