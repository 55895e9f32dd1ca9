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
