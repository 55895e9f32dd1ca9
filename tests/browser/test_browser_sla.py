"""SLA clocks in a real browser (Debian's Chromium through Playwright) on the seeded portal: the
priority badge and the time left on the list and the incident page, sorting by the time left
column, and putting an incident on hold and resuming it from its page (the resolve clock pauses
and runs again)."""
import re

import pytest
from playwright.sync_api import Page, expect

from tests.browser import story

pytestmark = pytest.mark.browser

VPN = "VPN drops every 10 minutes for remote staff"  # seed: P1 (high x high), open, 3 h old
PRINTER = "Printer on floor 3 shows offline"  # seed: P4, resolved
DISK = "Disk usage at 92% on db-replica-2"  # seed: P3, in progress, tech1's
COUNTING = re.compile(r"^(?:(?:\d+d )?(?:\d+h )?\d+[hm]? left|under 1m left|overdue .+)$")


def list_row(page: Page, title: str):
    """The list's row for the incident called `title`."""
    return page.get_by_role("row").filter(has=page.get_by_role("link", name=title, exact=True))


def clock(locator) -> str:
    """The words of an SLA badge, without the screen reader's "Resolve: " prefix."""
    return " ".join(locator.text_content().split()).split(": ", 1)[-1]


def test_priority_and_time_left_on_the_list_and_the_incident_page(page: Page):
    """The list shows each incident's priority badge and resolve clock (and the response clock of an
    unanswered one); the Time left heading sorts; the incident page's SLA card shows both clocks."""
    story.log_in(page, "admin1", "Alice Admin")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Incidents").click()
    vpn = list_row(page, VPN)
    expect(vpn.locator(".badge.priority-p1")).to_have_text("Priority: P1")
    expect(vpn.locator(".time-left .sla-badge")).to_have_count(2)  # resolve, and response: nobody answered yet
    assert COUNTING.match(clock(vpn.locator(".time-left .sla-badge").first))
    expect(vpn.locator(".time-left")).to_contain_text("Response")
    printer = list_row(page, PRINTER)
    expect(printer.locator(".badge.priority-p4")).to_be_visible()
    expect(printer.locator(".time-left .sla-badge")).to_have_text(re.compile(r"Resolve: (met|breached)$"))

    page.get_by_role("link", name=re.compile(r"^Time left")).click()
    expect(page).to_have_url(re.compile(r"sort=resolve_due_at"))
    expect(page.get_by_role("columnheader", name=re.compile(r"^Time left"))).to_have_attribute("aria-sort",
                                                                                             "ascending")
    expect(page.get_by_role("link", name="Export CSV")).to_have_attribute("href",
                                                                          "/ui/incidents/export.csv?sort=resolve_due_at")

    list_row(page, VPN).get_by_role("link", name=VPN).click()
    card = page.get_by_role("region", name="Service level")
    expect(card.locator(".badge.priority-p1")).to_be_visible()
    expect(card.locator("#sla-response")).to_contain_text("Target 15m (15 min)")
    expect(card.locator("#sla-resolve")).to_contain_text("Target 4h (240 min)")
    expect(card.locator("#sla-resolve")).to_contain_text("Due ")
    assert COUNTING.match(clock(card.locator("#sla-resolve .sla-badge")))
    expect(card.locator("#sla-calendar")).to_have_text("24x7 (every minute)")


def test_hold_and_resume_from_the_incident_page(page: Page):
    """tech1 puts their incident on hold (the resolve clock shows paused, here and on the list),
    then resumes it (the clock counts again)."""
    story.log_in(page, "tech1", "Tara Tech")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Incidents").click()
    list_row(page, DISK).get_by_role("link", name=DISK).click()
    card = page.get_by_role("region", name="Service level")
    resolve = card.locator("#sla-resolve .sla-badge")
    assert COUNTING.match(clock(resolve)), clock(resolve)
    expect(card.locator("#sla-calendar")).to_contain_text("Business hours")

    page.get_by_role("button", name="Put on hold").click()
    expect(page.locator("#hold-reason-error")).to_have_text("This field is required.")
    page.get_by_label("Waiting for").fill("The vendor's answer about the retention job.")
    page.get_by_role("button", name="Put on hold").click()
    story.expect_state(page, "is on hold", "On hold", "put the incident on hold")
    expect(resolve).to_have_text("Resolve: paused")
    expect(card.locator("#sla-resolve")).to_contain_text("No due time while on hold")
    expect(card.locator("#sla-resolve")).to_contain_text("left when it resumes")
    expect(card.locator("#sla-paused")).to_be_visible()
    incident_url = page.url

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Incidents").click()
    expect(list_row(page, DISK).locator(".time-left")).to_have_text("Resolve: paused")

    page.goto(incident_url)
    page.get_by_role("button", name="Resume").click()
    story.expect_state(page, "is in progress again.", "In progress", "resumed work")
    assert COUNTING.match(clock(resolve)), clock(resolve)
    expect(card.locator("#sla-resolve")).to_contain_text("Due ")
    expect(card.locator("#sla-paused")).to_have_count(0)
