"""Saved views in a real browser (Debian's Chromium through Playwright): a technician filters and
sorts the list, saves it as a view, finds it in the navigation's Views menu (by keyboard too) and
opens it with its filters and sort back; an admin shares a view and another technician sees it in
their menu, marked shared; a view is renamed and given another list from under the list. On a
portal of its own: shared views show in everyone's navigation."""
import re

import pytest
from playwright.sync_api import Page, expect

from tests.browser.live import PASSWORD, LiveServer, seeded_app
from tests.browser.story import flashes

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def portal(tmp_path_factory) -> str:
    """A seeded portal of its own, CSRF on; its base URL."""
    app = seeded_app(tmp_path_factory.mktemp("views") / "portal.db")
    with LiveServer(app) as server:
        yield server.url


def log_in(page: Page, url: str, username: str, name: str) -> None:
    page.goto(f"{url}/login")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(flashes(page)).to_contain_text(f"Welcome, {name}.")


def views_menu(page: Page):
    return page.locator("ul.views-menu")


def open_views_menu(page: Page):
    page.wait_for_load_state("load")  # a dropdown clicked before Bootstrap's script runs stays shut
    page.get_by_role("navigation", name="Main").get_by_role("button", name="Views").click()
    expect(views_menu(page)).to_be_visible()
    return views_menu(page)


def open_your_views(page: Page) -> None:
    """Unfold "Your views" under the list (each view's Rename folds inside it)."""
    page.locator("#saved-views details.manage-views > summary").click()


def filter_list(page: Page, url: str, *, checks: list[tuple[str, str]], sort: str) -> None:
    """On the list: tick each (group, label) box, pick the sort by its words, apply."""
    page.goto(f"{url}/ui/incidents/")
    filters = page.locator("#filters")
    for group, label in checks:
        filters.get_by_role("group", name=group).get_by_label(label, exact=True).check()
    filters.get_by_label("Sort").select_option(label=sort)
    filters.get_by_role("button", name="Apply filters").click()


def test_save_a_view_find_it_in_the_menu_and_open_it(page: Page, portal):
    log_in(page, portal, "tech1", "Tara Tech")
    filter_list(page, portal, checks=[("Status", "Open"), ("Severity", "High")], sort="Priority, P1 first")
    expect(page).to_have_url(re.compile(r"^(?=.*[?&]status=open)(?=.*[?&]severity=high)(?=.*[?&]sort=priority)"))

    page.get_by_label("Save this view as").fill("Open and high, P1 first")
    page.get_by_role("button", name="Save this view").click()
    expect(flashes(page)).to_contain_text("Saved the view “Open and high, P1 first”. It is in the Views menu.")

    page.goto(f"{portal}/")  # elsewhere, with nothing filtered
    menu = open_views_menu(page)
    for name in ("My queue", "Unassigned", "Breaching soon"):
        expect(menu.get_by_role("link", name=name, exact=True)).to_be_visible()
    menu.get_by_role("link", name="Open and high, P1 first").click()

    expect(page).to_have_url(re.compile(r"/ui/incidents/\?status=open&severity=high&sort=priority$"))
    filters = page.locator("#filters")
    expect(filters.get_by_role("group", name="Status").get_by_label("Open", exact=True)).to_be_checked()
    expect(filters.get_by_role("group", name="Severity").get_by_label("High", exact=True)).to_be_checked()
    expect(filters.get_by_role("group", name="Status").get_by_label("Assigned", exact=True)).not_to_be_checked()
    expect(filters.get_by_label("Sort")).to_have_value("priority")
    expect(views_menu(page).locator("a", has_text="Open and high, P1 first")).to_have_attribute(
        "aria-current", "page")  # (hidden until the menu opens, so found by text)

    # By keyboard: Enter on "Views" opens the menu, the arrows walk it, Enter follows a link.
    page.goto(f"{portal}/")
    toggle = page.get_by_role("navigation", name="Main").get_by_role("button", name="Views")
    toggle.focus()
    page.keyboard.press("Enter")
    expect(views_menu(page)).to_be_visible()
    page.keyboard.press("ArrowDown")
    expect(views_menu(page).get_by_role("link", name="My queue")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"technician=me.*sort=priority"))
    expect(page.locator("#filters").get_by_label("Sort")).to_have_value("priority")


def test_an_admin_shares_a_view_and_a_technician_sees_it(page: Page, portal):
    log_in(page, portal, "admin1", "Alice Admin")
    filter_list(page, portal, checks=[("Severity", "Critical")], sort="Resolve due, soonest first")
    page.get_by_label("Save this view as").fill("Critical, due first")
    page.get_by_label("Share with the team").check()
    page.get_by_role("button", name="Save this view").click()
    expect(flashes(page)).to_contain_text("Saved the view “Critical, due first” and shared it with the team.")
    page.get_by_role("button", name="Log out").click()

    log_in(page, portal, "tech2", "Tom Tech")
    expect(page.get_by_label("Share with the team")).to_have_count(0)  # not on the dashboard, nor for a tech
    menu = open_views_menu(page)
    shared = menu.get_by_role("link", name=re.compile(r"^Critical, due first"))
    expect(shared).to_contain_text("by Alice Admin")
    expect(shared.locator(".badge")).to_have_text("shared")
    shared.click()
    expect(page).to_have_url(re.compile(r"severity=critical&sort=resolve_due_at$"))
    expect(page.locator("#filters").get_by_label("Sort")).to_have_value("resolve_due_at")
    page.goto(f"{portal}/ui/incidents/")
    expect(page.get_by_label("Share with the team")).to_have_count(0)
    # tech2 may not delete it: no Delete button for it among "Your views"
    open_your_views(page)
    expect(page.locator("#saved-views").get_by_role("link", name="Critical, due first")).to_be_visible()
    expect(page.locator("#saved-views").get_by_role("button", name=re.compile("Delete"))).to_have_count(0)


def test_a_form_error_says_why_and_saves_nothing(page: Page, portal):
    """A name already used (another case) is refused with a flash; the menu still has one."""
    log_in(page, portal, "tech3", "Tessa Tech")
    for attempt in ("Mine", "MINE"):
        page.goto(f"{portal}/ui/incidents/?status=open")
        page.get_by_label("Save this view as").fill(attempt)
        page.get_by_role("button", name="Save this view").click()
    expect(flashes(page)).to_contain_text("The view was not saved: You already have a view named “MINE”")
    expect(page).to_have_url(re.compile(r"/ui/incidents/\?status=open"))
    menu = open_views_menu(page)
    expect(menu.get_by_role("link", name=re.compile(r"^mine$", re.I))).to_have_count(1)
    page.keyboard.press("Escape")

    open_your_views(page)
    page.locator("#saved-views").get_by_role("button", name="Delete the view Mine").click()
    expect(flashes(page)).to_contain_text("Deleted the view “Mine”.")
    expect(page).to_have_url(re.compile(r"/ui/incidents/\?status=open"))
    expect(views_menu(page).locator("a", has_text="Mine")).to_have_count(0)
    expect(views_menu(page).locator("a", has_text="My queue")).to_have_count(1)


def test_rename_a_view_then_give_it_the_list_shown(page: Page, portal):
    log_in(page, portal, "tech2", "Tom Tech")
    page.goto(f"{portal}/ui/incidents/?status=open")
    page.get_by_label("Save this view as").fill("Draft name")
    page.get_by_role("button", name="Save this view").click()
    expect(flashes(page)).to_contain_text("Saved the view “Draft name”.")

    open_your_views(page)
    views = page.locator("#saved-views")
    views.locator("summary", has_text="Rename the view Draft name").click()
    page.get_by_label("New name for Draft name").fill("Open ones")
    views.get_by_role("button", name="Rename", exact=True).click()
    expect(flashes(page)).to_contain_text("Renamed the view to “Open ones”.")
    expect(page).to_have_url(re.compile(r"/ui/incidents/\?status=open"))
    expect(views_menu(page).locator("a", has_text="Draft name")).to_have_count(0)

    page.goto(f"{portal}/ui/incidents/?severity=critical&sort=priority")
    open_your_views(page)
    page.locator("#saved-views").get_by_role("button", name="Show this list in the view Open ones").click()
    expect(flashes(page)).to_contain_text("The view “Open ones” now shows this list.")
    expect(page).to_have_url(re.compile(r"/ui/incidents/\?severity=critical&sort=priority$"))
    expect(views_menu(page).locator("a", has_text="Open ones")).to_have_attribute("aria-current", "page")
