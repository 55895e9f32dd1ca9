"""The incident list as a queue (issue 18) in a real browser (Debian's Chromium through Playwright)
on the shared seeded portal: a column heading sorts and keeps the filters, times read "3 h ago"
with the exact time in the browser's own time zone on hover, and the list refreshes itself when
someone else changes an incident, keeping what the user typed in the search box and the rows they
ticked.

Each test reports its own incidents, with a word no other test uses, and filters the list by it."""
import re
import uuid
from datetime import UTC, datetime, timedelta, timezone

import pytest
from playwright.sync_api import BrowserContext, Locator, Page, expect

from tests.browser import story

pytestmark = pytest.mark.browser

RELATIVE_PAST = re.compile(r"^(just now|\d+ min ago)$")  # a time a moment ago
RELATIVE_FUTURE = re.compile(r"^in (under 1 min|\d+ (min|h|d))$")
TOKYO = timezone(timedelta(hours=9))  # Asia/Tokyo keeps no daylight saving time


def token() -> str:
    """A word only this test's incidents carry."""
    return f"qx{uuid.uuid4().hex[:10]}"


def report_several(page: Page, titles: list[tuple[str, str]], username: str = "reporter2",
                   name: str = "Raj Reporter") -> list[str]:
    """`username` reports each (title, severity) through the form, then logs out; their pages' URLs."""
    story.log_in(page, username, name)
    urls = []
    for title, severity in titles:
        page.goto("/ui/incidents/new")
        page.get_by_label("Title").fill(title)
        page.get_by_label("Description").fill(f"{title}: reported for the queue list browser tests.")
        page.get_by_label("Severity").select_option(severity)
        page.get_by_role("button", name="Report incident").click()
        expect(page).to_have_url(re.compile(r"/ui/incidents/\d+$"))
        urls.append(page.url)
    story.log_out(page)
    return urls


def wait_until(page: Page, condition, seconds: float) -> None:
    """Let the page run until `condition()` holds; fail after `seconds`."""
    for _ in range(int(seconds * 4)):
        if condition():
            return
        page.wait_for_timeout(250)
    assert condition(), f"still false after {seconds} s"


def results(page: Page) -> Locator:
    """The live region: the count, the table and the pages."""
    return page.locator("#list-results")


def row_titles(page: Page) -> Locator:
    """The title links of the list's rows, in order."""
    return results(page).locator("tbody tr td.incident-title > a")


def search(page: Page, word: str) -> None:
    """Type `word` in the list's search box and apply the filters."""
    page.get_by_label("Search incidents, comments and notes").fill(word)
    page.get_by_role("button", name="Apply filters").click()


def test_a_column_heading_sorts_and_keeps_the_filters(page: Page):
    """tech1 narrows the list to open incidents matching a word, then presses "Severity": highest
    first, the filters still in the address and the form, aria-sort on the heading; pressed again,
    lowest first."""
    word = token()
    report_several(page, [(f"Sort {word} medium", "medium"), (f"Sort {word} critical", "critical"),
                          (f"Sort {word} low", "low")])
    story.log_in(page, "tech1", "Tara Tech")
    page.goto("/ui/incidents/")
    page.get_by_label("Open", exact=True).check()
    search(page, word)
    expect(row_titles(page)).to_have_text([f"Sort {word} low", f"Sort {word} critical", f"Sort {word} medium"])

    severity = page.get_by_role("columnheader", name=re.compile(r"^Severity"))
    expect(severity).not_to_have_attribute("aria-sort", re.compile(".*"))
    severity.get_by_role("link").click()
    expect(page).to_have_url(re.compile(r"sort=-severity"))
    assert "status=open" in page.url and f"q={word}" in page.url
    expect(row_titles(page)).to_have_text([f"Sort {word} critical", f"Sort {word} medium", f"Sort {word} low"])
    expect(page.get_by_role("columnheader", name=re.compile(r"^Severity"))).to_have_attribute("aria-sort", "descending")
    expect(page.get_by_label("Open", exact=True)).to_be_checked()
    expect(page.get_by_label("Search incidents, comments and notes")).to_have_value(word)
    expect(page.locator("#sort")).to_have_value("-severity")  # the form's sort agrees with the heading

    page.get_by_role("columnheader", name=re.compile(r"^Severity")).get_by_role("link").click()
    expect(page).to_have_url(re.compile(r"sort=severity"))
    expect(row_titles(page)).to_have_text([f"Sort {word} low", f"Sort {word} medium", f"Sort {word} critical"])
    expect(page.get_by_role("columnheader", name=re.compile(r"^Severity"))).to_have_attribute("aria-sort", "ascending")
    assert "status=open" in page.url and f"q={word}" in page.url


@pytest.mark.browser_context_args(timezone_id="Asia/Tokyo", locale="en-GB")
def test_times_read_relative_with_the_exact_local_time_on_hover(page: Page):
    """In a browser set to Tokyo time, a moment-old incident's age reads "just now" (or a few
    minutes ago), its title gives the exact time in Tokyo (UTC+9), and the incident page's SLA due
    time reads "in …"; the markup keeps the UTC instant in datetime."""
    word = token()
    [url] = report_several(page, [(f"Clock {word}", "critical")])
    story.log_in(page, "tech2", "Tom Tech")
    page.goto("/ui/incidents/")
    search(page, word)
    age = results(page).locator("td.incident-age time")
    expect(age).to_have_text(RELATIVE_PAST)
    moment = datetime.strptime(age.get_attribute("datetime"), "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    assert timedelta(0) <= datetime.now(UTC) - moment < timedelta(minutes=30)
    local = moment.astimezone(TOKYO)
    expect(age).to_have_attribute("title", re.compile(rf"{local:%H:%M:%S}.*GMT\+9"))
    expect(results(page).locator("td.incident-updated time")).to_have_text(RELATIVE_PAST)

    page.goto(url)
    due = page.locator("#sla-resolve time")
    expect(due).to_have_text(RELATIVE_FUTURE)
    expect(due).to_have_attribute("title", re.compile(r"GMT\+9"))


def test_the_list_refreshes_itself_and_keeps_what_the_user_typed(page: Page, new_context):
    """tech3 watches the list for a word, ticks a row and starts typing another search without
    sending it. While nothing changes the page's polls are answered 304. admin1, in another
    session, edits the incident: tech3's row shows the new title and severity without a reload,
    the half-typed search is still there with the focus, and the ticked box is still ticked."""
    word = token()
    [url] = report_several(page, [(f"Live {word}", "low")])
    story.log_in(page, "tech3", "Tessa Tech")
    page.goto("/ui/incidents/")
    search(page, word)
    row = results(page).locator("tbody tr")
    expect(row).to_have_count(1)
    expect(row).to_contain_text("Low")
    row.locator(".bulk-select").check()
    statuses: list[int] = []
    page.on("response", lambda response: statuses.append(response.status)
            if "/ui/incidents/" in response.url and response.request.resource_type == "fetch" else None)
    page.evaluate("""() => { window.listRefreshed = 0;
        document.addEventListener("list:refreshed", () => { window.listRefreshed += 1; }); }""")
    box = page.get_by_label("Search incidents, comments and notes")
    box.click()
    box.fill("")
    box.press_sequentially("half-typed words")
    watched = page.url
    wait_until(page, lambda: 304 in statuses, 25)  # polled (every 10 s), nothing changed

    other: BrowserContext = new_context()
    admin = other.new_page()
    story.log_in(admin, "admin1", "Alice Admin")
    admin.goto(f"{url}/edit")
    admin.get_by_label("Title").fill(f"Live {word} renamed")
    admin.get_by_label("Severity").select_option("critical")
    admin.get_by_role("button", name="Save changes").click()
    expect(story.flashes(admin)).to_contain_text("was updated")

    expect(row_titles(page)).to_have_text([f"Live {word} renamed"], timeout=25_000)
    expect(results(page).locator("tbody tr")).to_contain_text("Critical")
    assert 200 in statuses
    assert page.evaluate("window.listRefreshed") >= 1
    expect(box).to_have_value("half-typed words")
    expect(box).to_be_focused()
    expect(results(page).locator("tbody tr .bulk-select")).to_be_checked()
    assert page.url == watched  # no navigation happened
    expect(results(page).locator("td.incident-updated time")).to_have_text(RELATIVE_PAST)
