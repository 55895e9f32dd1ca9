"""Steps of issue 16's collaboration features in a real browser, shared by
tests/browser/test_browser_collaboration.py and `scripts/screenshots_collaboration.py` (so the
picture in the docs is of a page the tests also check).

Every test reports its own incident: the live server (and its seed data) is shared by the whole
browser session, and the other browser tests rely on the seeded incidents as they are."""
import re
import struct
import zlib

from playwright.sync_api import Locator, Page, expect

from tests.browser import story

INTERNAL_NOTE = "Internal: the relay vendor confirmed a firmware bug; do not promise a date to the reporter yet."
PUBLIC_COMMENT = "We are looking into it and will update this incident within the hour."


def png(width: int = 24, height: int = 16, pixel=lambda x, y: (13, 110, 253)) -> bytes:
    """A valid PNG made here (no image files in the repository): signature, IHDR (8-bit
    truecolour), one IDAT of rows (filter byte 0) with `pixel(x, y)`'s colours, IEND."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = b"".join(b"\x00" + b"".join(bytes(pixel(x, y)) for x in range(width)) for y in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


SVG = (b'<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10">'
       b'<script>alert("svg")</script><rect width="10" height="10"/></svg>')


def report(page: Page, title: str, username: str = "reporter2", name: str = "Raj Reporter") -> str:
    """`username` reports an open, unassigned incident through the form, then logs out; its page's URL."""
    story.log_in(page, username, name)
    page.goto("/ui/incidents/new")
    page.get_by_label("Title").fill(title)
    page.get_by_label("Description").fill(f"{title}: reported for the collaboration browser tests.")
    page.get_by_role("button", name="Report incident").click()
    expect(page).to_have_url(re.compile(r"/ui/incidents/\d+$"))
    url = page.url
    story.log_out(page)
    return url


def comment_box(page: Page) -> Locator:
    """The "Add a comment" form under the timeline."""
    return page.locator("form").filter(has=page.locator("#comment-body"))


def add_comment(page: Page, body: str, *, internal: bool = False, files: list[dict] | None = None) -> None:
    """Write a comment (an internal note when asked, with files when given) and send it."""
    page.locator("#comment-body").fill(body)
    if internal:
        page.locator("#comment-internal").check()
    if files:
        page.locator("#comment-uploads").set_input_files(files)
    comment_box(page).get_by_role("button", name="Add comment").click()
    expect(story.flashes(page)).to_contain_text("Your comment was added")


def timeline_entry(page: Page, text: str) -> Locator:
    """The timeline's entry holding `text`."""
    return story.timeline(page).locator("li").filter(has_text=text)


def watchers_card(page: Page) -> Locator:
    """The incident page's Watchers card (app/templates/web/_watchers.html)."""
    return page.get_by_role("region", name="Watchers")


def attachments(page: Page) -> Locator:
    """The incident page's Attachments section (app/templates/web/_attachments.html)."""
    return page.locator("#attachments")


def attachment(page: Page, filename: str) -> Locator:
    """The attachments list's entry for `filename`."""
    return attachments(page).locator("li.attachment").filter(
        has=page.get_by_role("link", name=filename, exact=True))


def expect_preview_loaded(page: Page, entry: Locator) -> None:
    """The entry's preview image is on the page and the browser decoded it (a broken or refused
    image has naturalWidth 0). The preview loads lazily: scroll to it first, as a reader would."""
    image = entry.get_by_role("img")
    expect(image).to_have_count(1)
    image.scroll_into_view_if_needed()
    page.wait_for_function("image => image.complete", arg=image.element_handle())
    assert image.evaluate("image => image.naturalWidth") > 0, "the preview did not load"


PAYROLL = "Payroll export job fails with a timeout"  # seed: tech2's, with an internal note, admin1 watching


def error_screen(x: int, y: int) -> tuple[int, int, int]:
    """A picture of an error dialog for the docs' screenshot: a red title bar, grey lines of text."""
    if y < 28:
        return (176, 42, 55)
    if 48 <= y < 148 and (y - 48) % 20 < 8 and 20 <= x < 300 - (y * 7) % 90:
        return (108, 117, 125)
    return (248, 249, 250)


def detail_page(page: Page, shoot: story.Shoot = story.no_camera) -> None:
    """tech2 adds a screenshot and the job's log to the seeded payroll incident, which already has an
    internal note and three watchers; the page then shows all three features at once (checked, then shot)."""
    story.log_in(page, "tech2", "Tom Tech")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Incidents").click()
    page.get_by_role("link", name=PAYROLL, exact=True).click()
    add_comment(page, "The bank's portal shows the rejected upload; the job's log is attached too.", files=[
        {"name": "bank-portal-error.png", "mimeType": "image/png", "buffer": png(320, 180, error_screen)},
        {"name": "payroll-export.log", "mimeType": "text/plain",
         "buffer": b"02:13:07 export started\n02:13:37 ERROR statement timeout\n"},
    ])
    expect(story.timeline(page).locator(".event-internal .internal-badge")).to_have_count(1)
    expect(attachments(page).locator("li.attachment")).to_have_count(2)
    expect_preview_loaded(page, attachment(page, "bank-portal-error.png"))
    expect(watchers_card(page).locator("#watchers-list li")).to_have_count(3)
    page.evaluate("window.scrollTo(0, 0)")
    shoot("collaboration-detail")
