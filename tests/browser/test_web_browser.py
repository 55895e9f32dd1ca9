"""The portal in a real browser (Debian's Chromium through Playwright) against the seeded app."""
import re

import pytest
from playwright.sync_api import Page, expect

from tests.browser import story

pytestmark = pytest.mark.browser

GENERIC_LOGIN_ERROR = "Invalid username or password."
TABLE_WIDER_THAN_SCREEN = "[...document.querySelectorAll('table')].some(t => t.scrollWidth > innerWidth)"
# What reaches past the screen's right edge outside a scroll box: named when the page scrolls sideways.
PAST_THE_EDGE = """() => [...document.querySelectorAll('body *')]
  .filter(e => e.getBoundingClientRect().right > innerWidth + 0.5 && !e.closest('.table-responsive'))
  .slice(0, 8).map(e => `${e.tagName.toLowerCase()}#${e.id}.${[...e.classList].join('.')} ` +
                        `to ${Math.round(e.getBoundingClientRect().right)}px: ${e.textContent.trim().slice(0, 40)}`)"""


def assert_no_sideways_scroll(page: Page, where: str) -> None:
    page.wait_for_load_state()  # its stylesheets applied, not only its text parsed
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"{where} is {width}px wide; past the edge: {page.evaluate(PAST_THE_EDGE)}"


def test_the_incident_story_from_report_to_close(page: Page):
    """reporter1 reports -> admin1 assigns to tech1 -> tech1 starts and resolves -> reporter1 closes."""
    story.run(page)


@pytest.mark.parametrize(("username", "password"), [("reporter2", "not-the-password"), ("nobody", "demo1234")])
def test_a_bad_login_shows_only_the_generic_message(page: Page, username, password):
    """A wrong password and an unknown user read the same, and nobody is logged in."""
    story.fill_login(page, username, password)
    page.get_by_role("button", name="Log in").click()
    expect(story.flashes(page)).to_have_text(GENERIC_LOGIN_ERROR)
    expect(page).to_have_url(re.compile(r"/login$"))
    page.goto("/")
    expect(page).to_have_url(re.compile(r"/login\?next=%2F$"))


def test_a_reporter_sees_no_assign_control(page: Page):
    """On their own open incident a reporter gets no technician picker; an admin does."""
    story.log_in(page, "reporter1", "Rita Reporter")
    page.get_by_role("link", name="VPN drops every 10 minutes for remote staff").first.click()
    expect(page.locator("#incident-status")).to_have_text("Open")
    expect(page.get_by_label("Assign to")).to_have_count(0)
    expect(page.get_by_role("button", name="Assign")).to_have_count(0)
    expect(page.get_by_role("link", name="Edit details")).to_be_visible()
    incident_url = page.url
    story.log_out(page)
    story.log_in(page, "admin1", "Alice Admin")
    page.goto(incident_url)
    expect(page.get_by_label("Assign to")).to_be_visible()


def test_a_title_with_script_is_shown_as_text(page: Page):
    """Markup typed into a title is displayed literally on every page; no script runs."""
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    title = '<script>alert("pwned")</script><img src=x onerror="alert(1)"> <b>bold</b>'
    story.log_in(page, "reporter3", "Rosa Reporter")
    page.goto("/ui/incidents/new")
    page.get_by_label("Title").fill(title)
    page.get_by_label("Description").fill("<script>alert('description')</script>")
    page.get_by_role("button", name="Report incident").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(title)
    # The description is Markdown with HTML off: the tag is shown as typed, in a paragraph, never run.
    description = page.locator("#incident-description")
    expect(description).to_have_text("<script>alert('description')</script>")
    expect(description.locator("script")).to_have_count(0)
    for path in ["/", "/ui/incidents/"]:
        page.goto(path)
        expect(page.get_by_role("link", name=title).first).to_be_visible()
    assert page.locator("main b").count() == 0 and page.locator("main img").count() == 0
    assert dialogs == []


def test_phone_width_and_keyboard(page: Page):
    """At 390px the menu and the list filters fold away and open (Bootstrap JS under the CSP);
    the first Tab reaches the skip link, and a form can be sent with the keyboard alone. The page
    never scrolls sideways, even where a table is wider than the screen."""
    page.set_viewport_size({"width": 390, "height": 844})
    story.log_in(page, "tech2", "Tom Tech")
    navigation = page.get_by_role("navigation", name="Main")
    expect(navigation.get_by_role("link", name="Incidents")).to_be_hidden()
    page.get_by_role("button", name="Toggle navigation").click()
    navigation.get_by_role("link", name="Incidents").click()
    page.wait_for_url(re.compile(r"/ui/incidents/$"))  # until "load": Filters clicked sooner does nothing
    expect(page.get_by_label("Search incidents, comments and notes")).to_be_hidden()
    page.get_by_role("button", name="Filters").click()
    page.get_by_label("Search incidents, comments and notes").fill("payroll")
    page.get_by_label("Search incidents, comments and notes").press("Enter")
    expect(page).to_have_url(re.compile(r"q=payroll"))
    expect(page.locator("#result-count")).to_contain_text("Showing 1–1 of 1 incident matching the filters.")
    assert_no_sideways_scroll(page, page.url)
    # Wide tables scroll inside their own box, never the page: the whole list and the dashboard's
    # tables are wider than a phone (and grow as "time left" gains minutes while the portal runs).
    for path in ["/ui/incidents/", "/"]:
        page.goto(path)
        assert page.evaluate(TABLE_WIDER_THAN_SCREEN), path
        assert_no_sideways_scroll(page, path)
    page.keyboard.press("Tab")
    expect(page.get_by_role("link", name="Skip to content")).to_be_focused()


def test_an_api_token_is_shown_once_with_a_copy_button(page: Page):
    """Create a token (CSRF on), copy it with the button, see it gone after a reload, revoke it."""
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    story.log_in(page, "tech3", "Tessa Tech")
    page.get_by_role("link", name="Account").click()
    page.get_by_label("Token name").fill("nightly report")
    page.get_by_label("Expires after").select_option(label="90 days")
    page.get_by_role("button", name="Create token").click()
    token = page.get_by_label("Copy it now; it will not be shown again.").input_value()
    assert len(token) >= 40
    page.get_by_role("button", name="Copy", exact=True).click()
    expect(page.get_by_role("button", name="Copied")).to_be_visible()
    assert page.evaluate("navigator.clipboard.readText()") == token
    page.goto("/ui/account")
    expect(page.locator("#new-token")).to_have_count(0)
    assert token not in page.content()
    row = page.get_by_role("row").filter(has_text="nightly report")
    row.get_by_role("button", name="Revoke").click()
    expect(story.flashes(page)).to_contain_text("Token “nightly report” was revoked.")
    expect(page.get_by_role("row").filter(has_text="nightly report")).to_have_count(0)
