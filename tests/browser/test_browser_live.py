"""The incident page keeps up by itself (issue 18, "Live"), in Chromium with two people at once:
while the reporter is typing a comment, a technician takes the incident; the reporter's page says
"INC-N was updated by Tom Tech" in its status banner, "Show changes" brings in the new status and
timeline, and the half-typed comment (and the focus) survive. The user's own change made in
another tab refreshes the page quietly, with no banner. Polls that find nothing new are 304s.

This module runs its own portal (polling every second, not every 10 s) so that it can wait for a
poll without slowing the suite, and so that no other test's data meets its own."""
import re

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.browser import story
from tests.browser.live import LiveServer, seeded_app

pytestmark = pytest.mark.browser

TYPED = "Half-typed: the printer shows error E-42 when"


@pytest.fixture(scope="module")
def portal(tmp_path_factory):
    """The seeded portal, polled once a second."""
    app = seeded_app(tmp_path_factory.mktemp("live") / "portal.db")
    app.config["LIVE_POLL_SECONDS"] = 1
    with LiveServer(app) as server:
        yield server.url


def log_in(page: Page, portal: str, username: str, name: str) -> None:
    page.goto(f"{portal}/login")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(story.PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(story.flashes(page)).to_contain_text(f"Welcome, {name}.")


def report(page: Page, portal: str, title: str) -> str:
    page.goto(f"{portal}/ui/incidents/new")
    page.get_by_label("Title").fill(title)
    page.get_by_label("Description").fill(f"{title}, for the live page test.")
    page.get_by_role("button", name="Report incident").click()
    expect(page).to_have_url(re.compile(r"/ui/incidents/\d+$"))
    return page.url


def test_another_persons_change_shows_a_banner_and_keeps_the_typed_comment(page: Page, browser: Browser, portal):
    """Reporter types; tech2 takes the incident in another browser; the banner names tech2 by name;
    Show changes updates status and timeline in place; the text and the focus stay in the box."""
    statuses: list[int] = []
    page.on("response", lambda response: statuses.append(response.status) if response.url.endswith("/live") else None)
    log_in(page, portal, "reporter2", "Raj Reporter")
    url = report(page, portal, "Live page: label printer jams")
    reference = page.locator("#incident-title span").first.inner_text()
    box = page.locator("[data-comment-box]")
    box.fill(TYPED)
    box.focus()
    page.wait_for_function("() => window.performance.getEntriesByType('resource')"
                           ".filter(e => e.name.endsWith('/live')).length >= 2")
    assert 304 in statuses  # nothing changed yet: the poll cost a 304
    banner = page.get_by_role("status").filter(has_text="was updated by")
    expect(banner).to_have_count(0)

    other = browser.new_context()
    try:
        tech = other.new_page()
        log_in(tech, portal, "tech2", "Tom Tech")
        tech.goto(url)
        tech.get_by_role("button", name="Take it").click()
        expect(story.flashes(tech)).to_contain_text("is yours now.")
    finally:
        other.close()

    expect(banner).to_have_text(re.compile(rf"{reference} was updated by Tom Tech\."))
    expect(banner.locator("[title=tech2]")).to_have_text("Tom Tech")
    expect(page.locator("#incident-status")).to_have_text("Open")  # nothing swapped before asked
    expect(box).to_have_value(TYPED)
    expect(box).to_be_focused()

    banner.get_by_role("button", name="Show changes").click()
    expect(page.locator("#incident-status")).to_have_text("Assigned")
    expect(page.locator("#incident-technician")).to_contain_text("Tom Tech")
    expect(story.timeline(page).locator("li").last).to_contain_text("Tom Tech assigned it to Tom Tech")
    expect(page.get_by_role("status").filter(has_text="Showing the latest changes")).to_be_visible()
    expect(box).to_have_value(TYPED)
    expect(page).to_have_url(url)  # in place: no navigation

    # The comment, sent after all that, goes in whole.
    page.locator("#comment-form").get_by_role("button", name="Add comment").click()
    expect(story.flashes(page)).to_contain_text("Your comment was added")
    expect(story.timeline(page).locator("li").last).to_contain_text(TYPED)


def test_my_own_change_in_another_tab_refreshes_quietly(page: Page, portal):
    """The same user comments from a second tab: the first tab's timeline shows the comment by
    itself, and no banner announces the user's own doing."""
    log_in(page, portal, "reporter1", "Rita Reporter")
    url = report(page, portal, "Live page: own change in another tab")
    second = page.context.new_page()
    second.goto(url)
    second.locator("[data-comment-box]").fill("Written in the second tab")
    second.locator("#comment-form").get_by_role("button", name="Add comment").click()
    expect(story.flashes(second)).to_contain_text("Your comment was added")
    second.close()
    page.bring_to_front()
    expect(story.timeline(page)).to_contain_text("Written in the second tab")
    expect(page.get_by_role("status").filter(has_text="was updated by")).to_have_count(0)


def test_a_stranger_cannot_poll_an_incident(page: Page, portal):
    """The state of another reporter's incident is a 404, as its page is."""
    log_in(page, portal, "reporter1", "Rita Reporter")
    url = report(page, portal, "Live page: private")
    page.context.clear_cookies()
    log_in(page, portal, "reporter2", "Raj Reporter")
    response = page.request.get(f"{url}/live")
    assert response.status == 404
