"""Bulk actions in a real browser (Debian's Chromium through Playwright): a staff member ticks rows of the
incident list, picks an action in the bulk bar and sees what was done and what was refused, and why.
Once with scripts (the bar appears on the first tick, counts "3 selected", the header box ticks the
page, only the chosen action's fields show) and once without (the bar is always there and works).

The module serves its own seeded portal (its incidents are made here, under a word no other test
uses), so other browser tests neither see nor disturb them."""
import re

import pytest
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import select

from app.extensions import db
from app.incidents.enums import Status
from app.models import User
from tests import factories
from tests.browser.live import PASSWORD, LiveServer, seeded_app
from tests.browser.test_accessibility import AXE, readable, serious, violations

pytestmark = pytest.mark.browser

WORD = "Bulkbarcheck"


@pytest.fixture(scope="module")
def portal(tmp_path_factory):
    """The seeded portal on its own database, served for this module; yields (app, base URL)."""
    app = seeded_app(tmp_path_factory.mktemp("bulk") / "portal.db")
    with LiveServer(app) as server:
        yield app, server.url


def make_incidents(app, tag: str) -> dict[str, list[tuple[int, str]]]:
    """Two resolved incidents and one open one, titled with WORD and `tag`: (id, reference) by state."""
    with app.app_context():
        def user(name: str) -> User:
            return db.session.scalar(select(User).where(User.username == name))

        admin, tech, reporter = user("admin1"), user("tech1"), user("reporter1")
        made: dict[str, list[tuple[int, str]]] = {"resolved": [], "open": []}
        for n, status in enumerate((Status.RESOLVED, Status.OPEN, Status.RESOLVED)):
            incident = factories.make_incident(reporter, title=f"{WORD} {tag} printer {n}")
            factories.bring_to(status, incident=incident, admin=admin, technician=tech)
            made[status.value].append((incident.id, incident.reference))
        db.session.remove()
    return made


def open_page(browser: Browser, base_url: str, *, scripts: bool = True) -> Page:
    """A page of a fresh context logged in as admin1; script errors and CSP violations fail the test."""
    context = browser.new_context(base_url=base_url, java_script_enabled=scripts)
    page = context.new_page()
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(f"script error: {error}"))
    page.on("console", lambda message: problems.append(message.text)
            if "Content Security Policy" in message.text else None)
    page.problems = problems
    page.goto("/login")
    page.get_by_label("Username").fill("admin1")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.locator(".flashes")).to_contain_text("Welcome, Alice Admin.")
    return page


def no_serious_violations(page: Page) -> None:
    """axe-core (from node_modules, as tests/browser/test_accessibility.py runs it) finds nothing serious
    on the page as it is now: the list with the bar shown, the result page."""
    found = serious(violations(page, AXE.read_text(encoding="utf-8")))
    assert not found, readable(found)


def expect_result(page: Page, made: dict, open_ref: str) -> None:
    """The result page: two closed, the open one refused with the lifecycle's reason, each a link."""
    expect(page.get_by_role("heading", name="Bulk action: Close", level=1)).to_be_visible()
    expect(page.locator("#bulk-summary")).to_have_text("2 done, 1 refused.")
    done = page.locator("#bulk-done")
    for _, reference in made["resolved"]:
        expect(done.get_by_role("row").filter(has_text=reference)).to_contain_text("Closed.")
    refused = page.locator("#bulk-refused").get_by_role("row").filter(has_text=open_ref)
    expect(refused).to_contain_text(f"Cannot close {open_ref} while it is open.")
    refused.get_by_role("link", name=open_ref).click()
    expect(page).to_have_url(re.compile(rf"/ui/incidents/{made['open'][0][0]}$"))
    expect(page.locator("#incident-status")).to_have_text("Open")


def test_close_three_ticked_rows_one_is_refused(browser: Browser, portal):
    """With scripts: the bar is hidden until a tick, counts the ticks, shows the chosen action's fields
    only; Apply closes the two resolved incidents and reports the open one refused."""
    app, url = portal
    made = make_incidents(app, "scripted")
    page = open_page(browser, url)
    page.goto(f"/ui/incidents/?q={WORD}+scripted")
    bar = page.locator("#bulk-bar")
    boxes = page.locator("input.bulk-select")
    expect(boxes).to_have_count(3)
    expect(bar).to_be_hidden()

    page.get_by_label(f"Select {made['resolved'][0][1]}").check()
    expect(bar).to_be_visible()
    expect(page.locator("#bulk-count")).to_have_text("1 selected")
    page.get_by_label("Select all incidents on this page").check()
    expect(page.locator("#bulk-count")).to_have_text("3 selected")
    for n in range(3):
        expect(boxes.nth(n)).to_be_checked()
    page.get_by_label("Select all incidents on this page").uncheck()
    expect(bar).to_be_hidden()
    for _, reference in made["resolved"] + made["open"]:
        page.get_by_label(f"Select {reference}").check()
    expect(page.locator("#bulk-count")).to_have_text("3 selected")

    bar.get_by_label("Action").select_option("resolve")
    expect(bar.get_by_label(re.compile("^Resolution note"))).to_be_visible()
    bar.get_by_label("Action").select_option("close")
    expect(bar.get_by_label(re.compile("^Resolution note"))).to_be_hidden()
    expect(bar.get_by_label(re.compile("^Severity"))).to_be_hidden()
    no_serious_violations(page)
    bar.get_by_role("button", name="Apply to 3").click()

    expect(page.locator("#bulk-summary")).to_be_visible()
    no_serious_violations(page)
    expect_result(page, made, made["open"][0][1])
    assert page.problems == []


def test_the_bar_works_without_scripts(browser: Browser, portal):
    """Without scripts the bar is always shown, every field with it; the form alone does the job."""
    app, url = portal
    made = make_incidents(app, "plain")
    page = open_page(browser, url, scripts=False)
    page.goto(f"/ui/incidents/?q={WORD}+plain")
    bar = page.locator("#bulk-bar")
    expect(bar).to_be_visible()
    expect(bar.get_by_label(re.compile("^Resolution note"))).to_be_visible()
    for _, reference in made["resolved"] + made["open"]:
        page.get_by_label(f"Select {reference}").check()
    bar.get_by_label("Action").select_option("close")
    bar.get_by_role("button", name="Apply").click()

    expect_result(page, made, made["open"][0][1])


def test_all_matching_acts_on_the_list_s_filter(browser: Browser, portal):
    """"Select all N matching" sends the list's filters, not the ticks: every match is acted on."""
    app, url = portal
    made = make_incidents(app, "matching")
    page = open_page(browser, url)
    page.goto(f"/ui/incidents/?q={WORD}+matching&per_page=10")
    page.get_by_label(f"Select {made['open'][0][1]}").check()
    bar = page.locator("#bulk-bar")
    bar.get_by_label("Select all 3 matching").check()
    expect(bar.get_by_role("button", name="Apply to all matching")).to_be_visible()
    bar.get_by_label("Action").select_option("close")
    bar.get_by_role("button", name="Apply to all matching").click()

    expect_result(page, made, made["open"][0][1])
    assert page.problems == []
