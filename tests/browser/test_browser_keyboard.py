"""Site-wide behaviour in Chromium (issue 18): the keyboard shortcuts (`/`, `j`, `k`, `o`, `c`, `?`),
dark mode following the system with a remembered choice, the incident's print view, focus on the
first error after a refused form, and the description above the actions on a phone.

Each test reports its own incident (unique titles): the live server is shared."""
import re

import pytest
from playwright.sync_api import Page, expect

from tests.browser import collaboration, story

pytestmark = pytest.mark.browser


def html_theme(page: Page):
    return page.locator("html")


def test_j_k_o_move_through_the_list_and_open(page: Page):
    """j highlights the first row, j the next, k back; o opens the highlighted one."""
    story.log_in(page, "tech1", "Tara Tech")
    page.goto("/ui/incidents/")
    rows = page.locator("[data-nav-row]")
    expect(rows.nth(1)).to_be_visible()
    page.keyboard.press("j")
    expect(rows.nth(0)).to_have_class(re.compile(r"\brow-current\b"))
    expect(rows.nth(0)).to_have_attribute("aria-current", "true")
    page.keyboard.press("j")
    expect(rows.nth(1)).to_have_class(re.compile(r"\brow-current\b"))
    expect(rows.nth(0)).not_to_have_class(re.compile(r"\brow-current\b"))
    page.keyboard.press("k")
    expect(rows.nth(0)).to_have_class(re.compile(r"\brow-current\b"))
    target = rows.nth(0).get_attribute("data-href")
    page.keyboard.press("o")
    expect(page).to_have_url(re.compile(re.escape(target) + "$"))


def test_enter_opens_the_highlighted_row_but_not_from_a_field(page: Page):
    story.log_in(page, "tech1", "Tara Tech")
    page.goto("/ui/incidents/")
    box = page.locator("[data-search-box]")
    box.focus()
    page.keyboard.type("jk")  # typed into the search box, not taken as shortcuts
    expect(box).to_have_value("jk")
    expect(page.locator(".row-current")).to_have_count(0)
    box.fill("")
    page.locator("h1").first.click()  # out of the field
    page.keyboard.press("j")
    page.keyboard.press("j")
    target = page.locator("[data-nav-row]").nth(1).get_attribute("data-href")
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(re.escape(target) + "$"))


def test_slash_searches_from_any_page(page: Page):
    """On the list `/` focuses the search box; elsewhere it goes to the list with the box focused."""
    story.log_in(page, "tech1", "Tara Tech")
    page.wait_for_load_state("load")  # the keys are the page's script: a key pressed before it runs is lost
    page.keyboard.press("/")
    expect(page).to_have_url(re.compile(r"/ui/incidents/#search$"))
    expect(page.locator("[data-search-box]")).to_be_focused()
    page.locator("h1").first.click()
    expect(page.locator("[data-search-box]")).not_to_be_focused()
    page.keyboard.press("/")
    expect(page.locator("[data-search-box]")).to_be_focused()
    expect(page.locator("[data-search-box]")).to_have_value("")  # the slash itself was not typed


def test_c_goes_to_the_comment_box_and_question_mark_opens_the_help(page: Page):
    url = collaboration.report(page, "Keyboard: c and ? on an incident page")
    story.log_in(page, "tech1", "Tara Tech")
    page.goto(url)
    page.keyboard.press("c")
    box = page.locator("[data-comment-box]")
    expect(box).to_be_focused()
    page.keyboard.type("c and j stay text here?")
    expect(box).to_have_value("c and j stay text here?")
    expect(page.get_by_role("dialog")).to_have_count(0)

    page.locator("h1").first.click()
    page.keyboard.press("?")
    dialog = page.get_by_role("dialog", name="Keyboard shortcuts")
    expect(dialog).to_be_visible()
    expect(dialog).to_be_focused()  # Bootstrap moves focus in when its fade ends; Escape is heard from then
    for key in ("/", "j", "k", "o", "c", "?"):
        expect(dialog.locator("kbd", has_text=key).first).to_be_visible()
    page.keyboard.press("j")  # no shortcut while the dialog is open
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    expect(box).to_have_value("c and j stay text here?")


def test_ctrl_and_other_modifiers_are_left_to_the_browser(page: Page):
    story.log_in(page, "tech1", "Tara Tech")
    page.goto("/ui/incidents/")
    page.keyboard.press("Control+j")
    page.keyboard.press("Alt+j")
    expect(page.locator(".row-current")).to_have_count(0)


def test_dark_mode_follows_the_system_and_the_choice_is_remembered(page: Page):
    page.emulate_media(color_scheme="dark")
    story.log_in(page, "tech1", "Tara Tech")
    expect(html_theme(page)).to_have_attribute("data-bs-theme", "dark")
    page.emulate_media(color_scheme="light")
    expect(html_theme(page)).to_have_attribute("data-bs-theme", "light")  # live, no reload

    menu = page.locator("#theme-menu")
    expect(menu).to_be_visible()
    menu.get_by_role("button", name=re.compile("^Theme")).click()
    menu.get_by_role("button", name="Dark", exact=True).click()
    expect(html_theme(page)).to_have_attribute("data-bs-theme", "dark")
    expect(menu.locator("[data-theme-value=dark]")).to_have_attribute("aria-pressed", "true")
    expect(menu.locator("#theme-current")).to_have_text("dark")
    page.goto("/ui/incidents/")
    expect(html_theme(page)).to_have_attribute("data-bs-theme", "dark")  # remembered, system says light
    # Set before the first paint: the attribute is there when the body is parsed.
    assert page.evaluate("document.documentElement.dataset.bsTheme") == "dark"

    menu.get_by_role("button", name=re.compile("^Theme")).click()
    menu.get_by_role("button", name=re.compile("^Auto")).click()
    expect(html_theme(page)).to_have_attribute("data-bs-theme", "light")
    page.emulate_media(color_scheme="dark")
    expect(html_theme(page)).to_have_attribute("data-bs-theme", "dark")


def test_dark_mode_text_keeps_its_contrast(page: Page):
    """The body text and an internal note's text on their backgrounds, computed by the browser."""
    page.emulate_media(color_scheme="dark")
    url = collaboration.report(page, "Dark mode: internal note contrast")
    story.log_in(page, "tech1", "Tara Tech")
    page.goto(url)
    collaboration.add_comment(page, "Staff only, in the dark", internal=True)
    note = collaboration.timeline_entry(page, "Staff only, in the dark").locator(".event-body")
    ratio = page.evaluate("""(el) => {
        const rgb = (s) => s.match(/\\d+(\\.\\d+)?/g).slice(0, 3).map(Number);
        const channel = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; };
        const lum = (c) => { const [r, g, b] = c.map(channel); return 0.2126 * r + 0.7152 * g + 0.0722 * b; };
        const style = getComputedStyle(el);
        const [a, b] = [lum(rgb(style.color)), lum(rgb(style.backgroundColor))].sort((x, y) => y - x);
        return (a + 0.05) / (b + 0.05);
    }""", note.element_handle())
    assert ratio >= 4.5


def test_the_print_view_shows_the_incident_without_the_chrome(page: Page):
    """Print media: no navbar, forms or buttons; title, fields, SLA, description and timeline shown."""
    url = collaboration.report(page, "Print view: badge printer")
    story.log_in(page, "tech1", "Tara Tech")
    page.goto(url)
    collaboration.add_comment(page, "A comment that must be on paper")
    expect(page.get_by_role("button", name="Print")).to_be_visible()
    page.emulate_media(media="print")
    expect(page.get_by_role("navigation", name="Main")).to_be_hidden()
    expect(page.locator("#comment-form")).to_be_hidden()
    expect(page.locator("#actions")).to_be_hidden()
    expect(page.get_by_role("button", name="Print")).to_be_hidden()
    for part in ("#incident-title", "#incident-description", "#sla", "#details", "#timeline"):
        expect(page.locator(part)).to_be_visible()
    expect(story.timeline(page)).to_contain_text("A comment that must be on paper")
    page.emulate_media(media="screen")
    expect(page.get_by_role("navigation", name="Main")).to_be_visible()


def test_a_refused_form_puts_the_focus_on_the_field_to_fix(page: Page):
    """An empty comment comes back with its error: the keyboard is in the comment box."""
    url = collaboration.report(page, "Focus: empty comment")
    story.log_in(page, "tech1", "Tara Tech")
    page.goto(url)
    page.locator("#comment-form").get_by_role("button", name="Add comment").click()
    box = page.locator("[data-comment-box]")
    expect(box).to_have_class(re.compile(r"\bis-invalid\b"))
    expect(box).to_be_focused()


def test_on_a_phone_the_description_comes_before_the_actions(page: Page):
    url = collaboration.report(page, "Phone: description first")
    story.log_in(page, "tech1", "Tara Tech")
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(url)
    description = page.locator("#incident-description").bounding_box()
    actions = page.locator("#actions").bounding_box()
    timeline = page.locator("#timeline").bounding_box()
    assert description["y"] < actions["y"] < timeline["y"]
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    page.set_viewport_size({"width": 1280, "height": 900})
    actions = page.locator("#actions").bounding_box()
    description = page.locator("#incident-description").bounding_box()
    assert actions["x"] > description["x"] and actions["y"] < description["y"] + description["height"]
