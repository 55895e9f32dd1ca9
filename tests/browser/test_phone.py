"""Every page of the portal (tests/browser/pages.py) on a phone, 390×844 CSS pixels (an iPhone 12-15
in portrait), in Debian's Chromium: the page never scrolls sideways. What is wider than the screen
must sit inside an element that scrolls on its own (Bootstrap's .table-responsive, a <pre> with
overflow: auto): the document's width is what counts."""
import pytest
from playwright.sync_api import Browser, Page

from tests.browser import pages

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}

# The widest elements that stick out of the screen, in no scrolling box of their own: what to fix.
WIDE_ELEMENTS = """(width) => {
    const clipped = element => {
        for (let box = element.parentElement; box && box !== document.body; box = box.parentElement) {
            if (["auto", "scroll", "hidden", "clip"].includes(getComputedStyle(box).overflowX)) return true;
        }
        return false;
    };
    const name = element => element.tagName.toLowerCase() + (element.id ? "#" + element.id : "")
        + [...element.classList].map(c => "." + c).join("");
    const wide = [...document.body.querySelectorAll("*")].filter(element => {
        const box = element.getBoundingClientRect();
        return box.width > 0 && box.right > width + 0.5 && !clipped(element);
    });
    // The innermost ones: an element whose wide child is listed says nothing more.
    return wide.filter(element => !wide.some(other => other !== element && element.contains(other)))
        .slice(0, 15)
        .map(element => `${name(element)} right=${Math.round(element.getBoundingClientRect().right)}px: `
             + (element.textContent || "").trim().replace(/\\s+/g, " ").slice(0, 80));
}"""


@pytest.fixture(scope="module")
def portal(tmp_path_factory):
    """A seeded portal of this module's own, with a webhook, a reset link and a two-factor account."""
    with pages.serve(tmp_path_factory.mktemp("phone")) as served:
        yield served


def expect_no_sideways_scroll(page: Page, what: str) -> None:
    """The document is no wider than the phone's screen; else say which elements stick out."""
    width = page.evaluate("document.documentElement.scrollWidth")
    if width > PHONE["width"]:
        culprits = "\n".join(f"    {line}" for line in page.evaluate(WIDE_ELEMENTS, PHONE["width"]))
        pytest.fail(f"{what} scrolls sideways on a phone: {width}px wide for a {PHONE['width']}px screen; "
                    f"sticking out:\n{culprits}", pytrace=False)


def test_the_check_finds_a_wide_page(page: Page, browser: Browser, portal):
    """The check itself: a page made wider than the screen fails it, naming the element."""
    page.set_viewport_size(PHONE)
    portal.open(browser, page, pages.VISITS[0])
    page.evaluate("""() => {
        const wide = document.createElement("div");
        wide.id = "too-wide";
        wide.textContent = "x".repeat(20);
        wide.style.setProperty("width", "600px");  // a CSSOM property, not an inline style attribute parsed by CSP
        document.querySelector("main").append(wide);
    }""")
    with pytest.raises(pytest.fail.Exception, match=r"div#too-wide right="):
        expect_no_sideways_scroll(page, "the login page with a 600px box")


@pytest.mark.parametrize("visit", pages.params(pages.VISITS))
def test_page_fits_a_phone(page: Page, browser: Browser, portal, visit):
    """Every page as every role that can see it, at 390×844: no horizontal scroll."""
    page.set_viewport_size(PHONE)
    portal.open(browser, page, visit)
    expect_no_sideways_scroll(page, f"{visit.name} ({visit.url(portal)})")
