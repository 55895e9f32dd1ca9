"""Issue 16 in a real browser (Debian's Chromium through Playwright) on the seeded portal: a
technician takes open work from the list and from the incident page, watches and stops watching
an incident, staff write an internal note that looks different from a public comment and that
the reporter never sees, and files attached from the comment box are listed, a PNG with a
preview that loads and an SVG with none.

Each test reports its own incident (tests/browser/collaboration.py): the live server is shared."""
import re

import pytest
from playwright.sync_api import Page, expect

from tests.browser import collaboration, story

pytestmark = pytest.mark.browser


def list_row(page: Page, title: str):
    """The incident list's row for the incident called `title`."""
    return page.get_by_role("row").filter(has=page.get_by_role("link", name=title, exact=True))


def expect_taken_by(page: Page, url: str, name: str, username: str) -> None:
    """The technician landed on the incident, now assigned to them, with the take on the timeline."""
    expect(page).to_have_url(url)
    expect(story.flashes(page)).to_contain_text("is yours now.")
    expect(page.locator("#incident-status")).to_have_text("Assigned")
    expect(page.locator("#incident-technician")).to_contain_text(name)
    expect(story.timeline(page).locator("li").last).to_contain_text(f"{name} assigned it to {username}")
    expect(page.get_by_role("button", name="Take it")).to_have_count(0)
    expect(page.get_by_role("button", name="Start work")).to_be_visible()


def test_a_technician_takes_an_open_incident_from_the_list(page: Page):
    """tech2 presses Take in the open incident's status cell and lands on it, assigned to them;
    the row then offers no Take button, and rows that are not open never had one."""
    title = "Badge reader at the side door rejects every card"
    url = collaboration.report(page, title)
    story.log_in(page, "tech2", "Tom Tech")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Incidents").click()
    row = list_row(page, title)
    expect(row.get_by_role("cell").filter(has_text="Open")).to_have_count(1)
    take = row.get_by_role("button", name=re.compile(r"^Take"))
    expect(take).to_have_count(1)
    assert re.search(r"/ui/incidents/\d+/take$", take.locator("xpath=ancestor::form").get_attribute("action"))
    take.click()
    expect_taken_by(page, url, "Tom Tech", "tech2")

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Incidents").click()
    expect(list_row(page, title)).to_contain_text("Assigned")
    expect(list_row(page, title).get_by_role("button", name=re.compile(r"^Take"))).to_have_count(0)
    not_open = page.get_by_role("row").filter(has_not_text="Open").filter(has=page.locator("td"))
    expect(not_open.first).to_be_visible()
    expect(not_open.get_by_role("button", name=re.compile(r"^Take"))).to_have_count(0)


def test_a_technician_takes_an_open_incident_from_its_page(page: Page):
    """tech3 opens the incident (as anyone may browse open work) and presses "Take it"."""
    title = "Meeting room 4 display shows no signal"
    url = collaboration.report(page, title)
    story.log_in(page, "tech3", "Tessa Tech")
    page.goto(url)
    expect(page.locator("#incident-status")).to_have_text("Open")
    page.get_by_role("button", name="Take it").click()
    expect_taken_by(page, url, "Tessa Tech", "tech3")
