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
    expect(story.timeline(page).locator("li").last).to_contain_text(f"{name} assigned it to {name}")
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
    status_cell = row.get_by_role("cell").filter(has=page.locator(".badge.status-open"))
    take = status_cell.get_by_role("button", name=re.compile(r"^Take"))
    expect(take).to_have_count(1)
    expect(row.get_by_role("button", name=re.compile(r"^Take"))).to_have_count(1)
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


def test_a_technician_watches_and_stops_watching(page: Page):
    """tech1, neither reporter nor assignee, presses Watch in the watchers card and is listed (the
    count goes up); Stop watching takes them off the list again."""
    url = collaboration.report(page, "Shared drive S: is read-only for the design team")
    story.log_in(page, "tech1", "Tara Tech")
    page.goto(url)
    card = collaboration.watchers_card(page)
    expect(card).to_contain_text("Raj Reporter")  # the reporter watches from the start
    expect(card).not_to_contain_text("Tara Tech")
    expect(card.locator("#watchers-count")).to_contain_text("1")

    card.get_by_role("button", name="Watch", exact=True).click()
    expect(page).to_have_url(re.compile(rf"^{re.escape(url)}(#watchers)?$"))
    expect(story.flashes(page)).to_contain_text("You are watching")
    me = card.locator("#watchers-list li").filter(has_text="Tara Tech")
    expect(me).to_contain_text("(tech1)")
    expect(me).to_contain_text("you")
    expect(card.locator("#watchers-count")).to_contain_text("2")
    expect(card.get_by_role("button", name="Watch", exact=True)).to_have_count(0)
    page.reload()
    expect(card.locator("#watchers-list")).to_contain_text("Tara Tech")

    card.get_by_role("button", name="Stop watching").click()
    expect(page).to_have_url(re.compile(rf"^{re.escape(url)}(#watchers)?$"))
    expect(card).not_to_contain_text("Tara Tech")
    expect(card.locator("#watchers-list")).to_contain_text("Raj Reporter")
    expect(card.locator("#watchers-count")).to_contain_text("1")
    expect(card.get_by_role("button", name="Watch", exact=True)).to_be_visible()


def styles(locator, *properties: str) -> dict[str, str]:
    """The element's computed style for `properties`, as the browser painted it."""
    return locator.evaluate("(element, names) => Object.fromEntries(names.map(name => "
                            "[name, getComputedStyle(element).getPropertyValue(name)]))", list(properties))


def test_an_internal_note_is_marked_for_staff_and_absent_for_the_reporter(page: Page):
    """tech1 writes a public comment and an internal note: the note carries the Internal badge and
    is painted differently (background, left border); the reporter's page of the same incident
    shows the comment, and nothing of the note, not even the checkbox to write one."""
    url = collaboration.report(page, "Laptop docking stations drop the second monitor")
    story.log_in(page, "tech1", "Tara Tech")
    page.goto(url)
    collaboration.add_comment(page, collaboration.PUBLIC_COMMENT)
    collaboration.add_comment(page, collaboration.INTERNAL_NOTE, internal=True)

    note = collaboration.timeline_entry(page, collaboration.INTERNAL_NOTE)
    public = collaboration.timeline_entry(page, collaboration.PUBLIC_COMMENT)
    expect(note).to_have_class(re.compile(r"\bevent-internal\b"))
    expect(note.locator(".internal-badge")).to_contain_text("Internal")
    expect(note.locator(".event-summary")).to_have_text("wrote an internal note")
    expect(public).not_to_have_class(re.compile(r"\bevent-internal\b"))
    expect(public.locator(".internal-badge")).to_have_count(0)
    painted = ["background-color", "border-left-color", "border-left-width"]
    note_style = styles(note.locator(".event-body"), *painted)
    public_style = styles(public.locator(".event-body"), *painted)
    assert note_style["background-color"] != public_style["background-color"], (note_style, public_style)
    assert note_style["background-color"] not in ("rgba(0, 0, 0, 0)", "transparent"), note_style
    assert note_style["border-left-width"] != "0px", note_style
    story.log_out(page)

    story.log_in(page, "reporter2", "Raj Reporter")
    page.goto(url)
    expect(collaboration.timeline_entry(page, collaboration.PUBLIC_COMMENT)).to_be_visible()
    expect(story.timeline(page).locator(".event-internal")).to_have_count(0)
    expect(page.locator(".internal-badge")).to_have_count(0)
    expect(page.locator("#comment-internal")).to_have_count(0)
    assert "firmware" not in page.content()
    assert "internal note" not in page.locator("main").inner_text().lower()


def test_files_from_the_comment_box_are_listed_with_a_preview_for_images_only(page: Page):
    """reporter2 attaches a PNG and an SVG (with a script inside) to a comment: both are listed
    with their names and types; the PNG's preview image loads in the browser, the SVG gets no
    preview, its download is an attachment, and no script ran."""
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    collaboration.report(page, "Label printer prints blank labels", username="reporter3", name="Rosa Reporter")
    story.log_in(page, "reporter3", "Rosa Reporter")
    page.get_by_role("link", name="Label printer prints blank labels").first.click()
    expect(collaboration.attachments(page)).to_contain_text("No files yet")
    image = collaboration.png()
    collaboration.add_comment(page, "A photo of the label and the printer's settings page.", files=[
        {"name": "blank-label.png", "mimeType": "image/png", "buffer": image},
        {"name": "settings.svg", "mimeType": "image/svg+xml", "buffer": collaboration.SVG},
    ])

    expect(collaboration.attachments(page).locator("li.attachment")).to_have_count(2)
    expect(collaboration.attachments(page).locator("#attachments-count")).to_contain_text("2")
    photo = collaboration.attachment(page, "blank-label.png")
    expect(photo.locator(".attachment-type")).to_have_text("image/png")
    collaboration.expect_preview_loaded(page, photo)
    preview = page.request.get(photo.get_by_role("img").get_attribute("src"))
    assert preview.ok and preview.body() == image, preview.status

    drawing = collaboration.attachment(page, "settings.svg")
    expect(drawing).to_be_visible()
    expect(drawing.get_by_role("img")).to_have_count(0)
    download = page.request.get(drawing.get_by_role("link", name="settings.svg").get_attribute("href"))
    assert download.ok and download.body() == collaboration.SVG
    assert download.headers["content-disposition"].startswith("attachment"), download.headers
    assert download.headers.get("x-content-type-options") == "nosniff", download.headers
    expect(story.timeline(page)).to_contain_text("attached settings.svg")
    # The timeline names the file too, and its link downloads it for the logged-in reader.
    linked = collaboration.timeline_entry(page, "attached blank-label.png").get_by_role("link", name="blank-label.png")
    from_timeline = page.request.get(linked.get_attribute("href"))
    assert from_timeline.ok and from_timeline.body() == image, (linked.get_attribute("href"), from_timeline.status)
    assert dialogs == []
