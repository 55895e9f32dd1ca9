"""`make screenshots` for issue 18 (the queue), into docs/screenshots/:

- queue-list.png: the incident list as an admin, a saved view shared with the team in the
  navigation's Views menu (open), two rows ticked and the bulk bar counting them;
- queue-list-dark.png: the same list with the system in dark mode (the portal follows it);
- queue-list-phone.png and queue-detail-phone.png: the list and an incident page on a phone, 390×844.

Each picture is taken after the page was checked to show what it is meant to; the server and the
browser are scripts/screenshots.py's `take` (a freshly seeded portal)."""
import re
import sys

from playwright.sync_api import Page, expect
from screenshots import take  # scripts/ is the script's own folder, first on sys.path

from tests.browser import story
from tests.browser.story import Shoot

VIEWPORT = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}
VIEW_NAME = "Critical and high, open"
DETAIL_TITLE = "Payroll export job fails with a timeout"  # seeded: assigned, comments, an internal note


def save_shared_view(page: Page) -> None:
    """Filter the list to critical and high open work and save it as a view shared with the team."""
    page.goto("/ui/incidents/?severity=critical&severity=high&status=open&status=assigned&status=in_progress")
    page.get_by_label("Save this view as").fill(VIEW_NAME)
    page.get_by_label("Share with the team").check()
    page.get_by_role("button", name="Save this view").click()
    expect(story.flashes(page)).to_contain_text(VIEW_NAME)


def list_with_views_and_bulk_bar(page: Page) -> None:
    """The whole list, two rows ticked (the bulk bar shows and counts them), the Views menu open."""
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Incidents").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Incidents")
    boxes = page.locator("input.bulk-select")
    expect(boxes.nth(1)).to_be_visible()
    boxes.nth(0).check()
    boxes.nth(1).check()
    expect(page.locator("#bulk-bar")).to_be_visible()
    expect(page.locator("#bulk-count")).to_contain_text("2")
    page.locator("#views-menu").click()
    menu = page.locator(".views-menu")
    expect(menu.get_by_role("link", name=re.compile(re.escape(VIEW_NAME)))).to_be_visible()
    expect(menu.get_by_role("link", name="My queue")).to_be_visible()


def scene(page: Page, shoot: Shoot) -> None:
    """Admin1 saves and shares a view, then the list is shot wide, dark, and on a phone with an incident."""
    story.log_in(page, "admin1", "Alice Admin")
    save_shared_view(page)

    list_with_views_and_bulk_bar(page)
    shoot("queue-list")

    page.emulate_media(color_scheme="dark")
    page.keyboard.press("Escape")  # the menu closed: the dark list itself
    expect(page.locator("html")).to_have_attribute("data-bs-theme", "dark")
    expect(page.locator(".views-menu")).to_be_hidden()
    shoot("queue-list-dark")

    page.emulate_media(color_scheme="light")
    page.set_viewport_size(PHONE)
    page.reload()
    expect(page.locator("html")).to_have_attribute("data-bs-theme", "light")
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"], "the list scrolls sideways"
    shoot("queue-list-phone")

    page.get_by_role("link", name=DETAIL_TITLE).first.click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(DETAIL_TITLE)
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"], "the page scrolls sideways"
    shoot("queue-detail-phone")


if __name__ == "__main__":
    sys.exit(take(scene, VIEWPORT))
