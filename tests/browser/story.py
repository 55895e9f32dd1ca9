"""The portal's main story, driven through Chromium the way people use it: reporter1 reports an
incident, admin1 assigns it to tech1, tech1 starts and resolves it, reporter1 closes it. Every
step is checked on the page and in the timeline. The browser test runs it; `make screenshots`
runs it with a camera (`shoot`) and keeps the pictures."""
import re
from collections.abc import Callable

from playwright.sync_api import Locator, Page, expect

from tests.browser.live import PASSWORD

Shoot = Callable[[str], None]

TITLE = "Mail queue stuck on relay-2"
DESCRIPTION = ("Outgoing mail has been queuing on relay-2 since 08:40; about 1,200 messages are waiting.\n"
               "Customers report that password-reset emails do not arrive.")
NOTES = "The relay's disk was full of old logs. Rotated and compressed them; the queue drained in 4 minutes."
TIMELINE = [
    "Rita Reporter reported the incident",
    "Alice Admin assigned it to Tara Tech",
    "Tara Tech started work",
    "Tara Tech resolved the incident",
    "Rita Reporter closed the incident",
]


def no_camera(name: str) -> None:
    """The story without pictures."""


def flashes(page: Page) -> Locator:
    """The flash messages at the top of the page."""
    return page.locator(".flashes")


def timeline(page: Page) -> Locator:
    """The incident's timeline."""
    return page.locator("#timeline")


def fill_login(page: Page, username: str, password: str = PASSWORD) -> None:
    """Open the login page and type the credentials, by their labels."""
    page.goto("/login")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)


def log_in(page: Page, username: str, name: str) -> None:
    """Log in through the form and land on the dashboard."""
    fill_login(page, username)
    page.get_by_role("button", name="Log in").click()
    expect(flashes(page)).to_contain_text(f"Welcome, {name}.")
    expect(page.get_by_role("heading", name="Dashboard", level=1)).to_be_visible()
    page.wait_for_load_state("load")  # Bootstrap's script has run: a menu clicked before it is lost


def log_out(page: Page) -> None:
    """Log out with the navbar button."""
    page.get_by_role("button", name="Log out").click()
    expect(flashes(page)).to_contain_text("You have been logged out.")


def open_from_dashboard(page: Page, panel: str) -> None:
    """Open the story's incident from a dashboard panel."""
    region = page.get_by_role("region", name=re.compile(f"^{re.escape(panel)}"))
    region.get_by_role("link", name=TITLE).click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(TITLE)


def expect_state(page: Page, flash: str, status: str, latest_event: str) -> None:
    """After a move: the flash, the status on the page, and the newest timeline entry."""
    expect(flashes(page)).to_contain_text(flash)
    expect(page.locator("#incident-status")).to_have_text(status)
    expect(timeline(page).locator("li").last).to_contain_text(latest_event)


def expect_typed_text(entry: Locator, label: str, text: str) -> None:
    """A timeline entry's typed text (rendered as Markdown): the label, then the text as written, as
    they read on the screen (innerText: the label may sit on a line of its own, never glued to the text)."""
    body = entry.locator(".event-body")
    expect(body.get_by_text(label)).to_be_visible()
    expect(body).to_have_text(f"{label} {text}", use_inner_text=True)


def report(page: Page, shoot: Shoot) -> None:
    """reporter1 reports the incident; they are offered no assign control."""
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Report an incident").click()
    page.get_by_label("Title").fill(TITLE)
    page.get_by_label("Description").fill(DESCRIPTION)
    page.get_by_label("Severity").select_option("high")
    page.get_by_label("Category").select_option("server")
    shoot("create")
    page.get_by_role("button", name="Report incident").click()
    expect(page).to_have_url(re.compile(r"/ui/incidents/\d+$"))
    expect_state(page, "was reported", "Open", "Rita Reporter reported the incident")
    expect(page.locator("#assign-form")).to_have_count(0)


def assign(page: Page, shoot: Shoot) -> None:
    """admin1 finds it in the triage queue and assigns it to tech1."""
    shoot("dashboard")
    open_from_dashboard(page, "Unassigned")
    page.get_by_label("Assign to").select_option(label="Tara Tech (tech1)")
    shoot("assign")
    page.get_by_role("button", name="Assign", exact=True).click()
    expect_state(page, "is assigned to Tara Tech.", "Assigned", "Alice Admin assigned it to Tara Tech")
    expect(page.locator("#incident-technician")).to_contain_text("Tara Tech")


def work(page: Page, shoot: Shoot) -> None:
    """tech1 starts it from their queue, is told notes are required, then resolves it."""
    open_from_dashboard(page, "My queue")
    page.get_by_role("button", name="Start work").click()
    expect_state(page, "is in progress.", "In progress", "Tara Tech started work")
    page.get_by_role("button", name="Resolve").click()
    expect(page.locator("#resolve-resolution_notes-error")).to_have_text("This field is required.")
    expect(page.locator("#incident-status")).to_have_text("In progress")
    page.get_by_label("Resolution notes").fill(NOTES)
    page.get_by_role("button", name="Resolve").click()
    expect_state(page, "is resolved; the reporter has been told.", "Resolved", "Tara Tech resolved the incident")
    expect_typed_text(timeline(page).locator("li").last, "Resolution notes:", NOTES)
    expect(page.locator("#resolution-notes")).to_have_text(NOTES)
    shoot("resolve")


def close(page: Page, shoot: Shoot) -> None:
    """reporter1 confirms the fix from their dashboard and closes it; the timeline tells it all."""
    open_from_dashboard(page, "Resolved — please confirm")
    page.get_by_role("button", name="Close incident").click()
    expect_state(page, "is closed.", "Closed", "Rita Reporter closed the incident")
    expect(timeline(page).locator(".event-summary")).to_have_count(len(TIMELINE))
    entries = [" ".join(text.split()) for text in timeline(page).locator("li").all_inner_texts()]
    assert [entry for entry, expected in zip(entries, TIMELINE, strict=True) if expected not in entry] == []


def browse(page: Page, shoot: Shoot) -> None:
    """admin1 looks at the list, where the story's incident now shows as closed, then the reports."""
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Incidents").click()
    row = page.get_by_role("row").filter(has=page.get_by_role("link", name=TITLE))
    expect(row).to_contain_text("Closed")
    expect(row).to_contain_text("High")
    shoot("list")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Reports").click()
    expect(page.get_by_role("heading", name="Reports", exact=True)).to_be_visible()
    expect(page.locator("main svg").first).to_be_visible()
    shoot("reports")


# Each scene of the story: who plays it (username, display name) and what they do.
SCENES: list[tuple[str, str, Callable[[Page, Shoot], None]]] = [
    ("reporter1", "Rita Reporter", report),
    ("admin1", "Alice Admin", assign),
    ("tech1", "Tara Tech", work),
    ("reporter1", "Rita Reporter", close),
    ("admin1", "Alice Admin", browse),
]


def run(page: Page, shoot: Shoot = no_camera) -> None:
    """The whole story, with a picture of the login page first; each scene between its player's
    log in and log out."""
    fill_login(page, "reporter1")
    shoot("login")
    for username, name, scene in SCENES:
        log_in(page, username, name)
        scene(page, shoot)
        log_out(page)
