"""/docs on a phone (390×844 CSS pixels) in Debian's Chromium: the API reference never scrolls
sideways; its wide tables scroll inside their own boxes and long paths wrap."""
import pytest
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}


def test_the_api_docs_fit_a_phone(page: Page):
    """The whole page, every operation and schema, is no wider than the screen; the longest path
    is on the page and wraps in its heading instead of widening it."""
    page.set_viewport_size(PHONE)
    page.goto("/docs")
    expect(page.locator("h2#operations")).to_be_visible()
    assert page.locator("section.card").count() > 20  # every operation is there to be laid out
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"/docs is {width}px wide on a {PHONE['width']}px screen"
    headings = page.locator("section.card h3")
    widest = max(headings.evaluate_all("hs => hs.map(h => h.getBoundingClientRect().right)"))
    assert widest <= PHONE["width"]
    # A table wider than the screen scrolls in its own box, which a keyboard can reach.
    boxes = page.locator("div.table-responsive")
    assert boxes.count() > 20
    assert boxes.evaluate_all("bs => bs.every(b => b.getBoundingClientRect().right <= 391 && b.tabIndex === 0)")
