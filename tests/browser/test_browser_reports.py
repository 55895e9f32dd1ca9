"""The reports page in a real browser: the charts the portal draws render as SVG with bars and
points for the seeded incidents, and the range form refuses a bad range. The page is photographed
into the test's tmp folder (a full-page shot must work); the docs' picture, docs/screenshots/reports.png,
is `make screenshots`' job (scripts/screenshots.py), so a test run leaves the checkout clean."""
import re

import pytest
from playwright.sync_api import Page, expect

from tests.browser import story

pytestmark = pytest.mark.browser


def test_the_reports_page_draws_its_charts(page: Page, tmp_path):
    """An admin opens Reports from the navbar: three charts with bars and points, the same figures
    in tables, CSV links; grouped by priority a fourth chart appears."""
    page.set_viewport_size({"width": 1280, "height": 800})
    story.log_in(page, "admin1", "Alice Admin")
    page.get_by_role("link", name="Reports").click()
    expect(page.get_by_role("heading", name="Reports", level=1)).to_be_visible()
    page.get_by_label("Group by").select_option("priority")
    page.get_by_role("button", name="Show").click()
    expect(page).to_have_url(re.compile(r"/ui/reports\?.*group_by=priority"))
    for chart in ("#chart-flow", "#chart-mttr", "#chart-sla", "#chart-groups"):
        expect(page.locator(f"{chart} svg")).to_be_visible()
    # The seed reported incidents in the last days and resolved some: bars for both series.
    created = page.locator('#chart-flow rect.bar[data-series="Created"]')
    assert created.count() > 0 and sum(int(bar.get_attribute("data-value")) for bar in created.all()) > 0
    assert page.locator('#chart-flow rect.bar[data-series="Resolved"]').count() > 0
    assert page.locator("#chart-mttr circle.point").count() > 0
    shares = [float(bar.get_attribute("data-value")) for bar in page.locator("#chart-sla rect.bar").all()]
    assert shares and all(0 <= share <= 100 for share in shares)
    box = page.locator("#chart-flow svg").bounding_box()
    assert box and box["width"] > 400 and box["height"] > 100  # drawn at a readable size
    expect(page.locator("#summary-table tbody tr")).to_have_count(4)  # P1..P4
    expect(page.locator("#sla-table tbody tr")).to_have_count(4)
    expect(page.get_by_role("link", name="Download CSV — summary")).to_have_attribute(
        "href", re.compile(r"^/ui/reports/summary\.csv\?"))
    picture = tmp_path / "reports.png"
    page.screenshot(path=picture, full_page=True)
    assert picture.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")


def test_a_bad_range_is_a_form_error(page: Page):
    """`from` after `to`: the message sits under the field, and no chart is drawn."""
    story.log_in(page, "tech1", "Tara Tech")
    page.goto("/ui/reports")
    page.get_by_label("From", exact=True).fill("2026-03-10")
    page.get_by_label("To", exact=True).fill("2026-03-01")
    page.get_by_role("button", name="Show").click()
    expect(page.locator("#from-error")).to_have_text("Must not be after `to`.")
    expect(page.get_by_label("From", exact=True)).to_have_attribute("aria-invalid", "true")
    expect(page.locator("svg.chart")).to_have_count(0)


def test_reporters_have_no_reports(page: Page):
    """No navbar entry, and the page itself is forbidden."""
    story.log_in(page, "reporter1", "Rita Reporter")
    expect(page.get_by_role("link", name="Reports")).to_have_count(0)
    response = page.goto("/ui/reports")
    assert response is not None and response.status == 403
