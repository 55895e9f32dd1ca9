"""The incident list: filters, search, sort and pages, all kept in the URL; badges; visibility."""
import re
from html import unescape

import pytest

from app.auth.service import update_user
from app.incidents import service
from app.incidents.enums import Status
from tests import factories
from tests.web_helpers import element_text, html, incident_in, login


def titles(page: str) -> list[str]:
    """The incident titles in the list table, in order."""
    caption = '<caption class="visually-hidden">Incidents</caption>'
    if caption not in page:
        return []
    table = page.split(caption)[1].split("</table>")[0]
    return [unescape(title) for title in re.findall(r'<a href="/ui/incidents/\d+">([^<]+)</a>', table)]


@pytest.fixture
def catalogue(people):
    """Five incidents across states, severities, categories and technicians."""
    made = {
        "vpn": factories.make_incident(people["reporter"], title="VPN drops", severity="high", category="network"),
        "disk": incident_in(Status.IN_PROGRESS, people, title="Disk full", severity="critical",
                            category="database", description="replica disk at 92%"),
        "printer": incident_in(Status.RESOLVED, people, title="Printer offline", severity="low"),
        "cert": incident_in(Status.CLOSED, people, title="Expired certificate", severity="high",
                            category="security"),
        "laptop": factories.make_incident(people["reporter_other"], title="Laptop fan noise", severity="medium"),
    }
    factories.bring_to(Status.ASSIGNED, incident=made["laptop"], admin=people["admin"],
                       technician=people["tech_other"])
    return made


@pytest.mark.parametrize(("query", "expected"), [
    ("", ["Laptop fan noise", "Expired certificate", "Printer offline", "Disk full", "VPN drops"]),
    ("?status=open", ["VPN drops"]),
    ("?status=in_progress&status=assigned", ["Laptop fan noise", "Disk full"]),
    ("?status=In%20Progress", ["Disk full"]),
    ("?severity=high", ["Expired certificate", "VPN drops"]),
    ("?category=database&category=security", ["Expired certificate", "Disk full"]),
    ("?technician=none", ["VPN drops"]),
    ("?q=replica", ["Disk full"]),
    ("?q=printer&status=resolved", ["Printer offline"]),
    ("?sort=created_at", ["VPN drops", "Disk full", "Printer offline", "Expired certificate", "Laptop fan noise"]),
    ("?sort=-severity&status=open&status=closed", ["Expired certificate", "VPN drops"]),
    ("?status=bogus&severity=&sort=nonsense&page=x&per_page=7", ["Laptop fan noise", "Expired certificate",
                                                                 "Printer offline", "Disk full", "VPN drops"]),
])
def test_filters_and_sort_come_from_the_url(client, people, catalogue, query, expected):
    """Every filter is a query argument, so any view can be bookmarked; junk values are ignored."""
    login(client, people["admin"])
    response = client.get(f"/ui/incidents/{query}")
    assert response.status_code == 200
    assert titles(html(response)) == expected


def test_technician_filters_by_person_and_me(client, people, catalogue):
    """A technician id, or 'me' for the technician looking; a former technician stays selectable."""
    login(client, people["tech_other"])
    page = html(client.get("/ui/incidents/?technician=me"))
    assert titles(page) == ["Laptop fan noise"]
    assert '<option value="me" selected>Me</option>' in page
    client.post("/logout")
    login(client, people["admin"])
    page = html(client.get(f"/ui/incidents/?technician={people['tech_other'].id}"))
    assert titles(page) == ["Laptop fan noise"]
    assert f'<option value="{people["tech_other"].id}" selected>Techother</option>' in page
    # What a former technician leaves behind is history (active incidents are handed over first).
    service.start_incident(actor=people["tech_other"], incident=catalogue["laptop"])
    service.resolve_incident(actor=people["tech_other"], incident=catalogue["laptop"], resolution_notes="Cleaned.")
    update_user(user=people["tech_other"], active=False)
    page = html(client.get(f"/ui/incidents/?technician={people['tech_other'].id}"))
    assert titles(page) == ["Laptop fan noise"]
    assert f'<option value="{people["tech_other"].id}" selected>Former technician #' in page


def test_the_form_shows_the_filters_in_use(client, people, catalogue):
    """Checked boxes, the search text, the sort and a way to clear them."""
    login(client, people["admin"])
    page = html(client.get("/ui/incidents/?status=open&severity=high&q=vpn&sort=severity"))
    assert re.search(r'id="status-open"\s+checked', page) and not re.search(r'id="status-closed"\s+checked', page)
    assert re.search(r'id="severity-high"\s+checked', page)
    assert 'value="vpn"' in page and '<option value="severity" selected>' in page
    assert 'href="/ui/incidents/">Clear filters</a>' in page
    assert "Showing 1–1 of 1 incident matching the filters." in element_text(page, "result-count")


def test_pages_keep_the_filters(client, people):
    """Next/previous links carry every filter; the count and the current page are shown."""
    for n in range(12):
        factories.make_incident(people["reporter"], title=f"Batch {n:02d}", severity="high")
    factories.make_incident(people["reporter"], title="Other severity", severity="low")
    login(client, people["admin"])
    first = html(client.get("/ui/incidents/?severity=high&per_page=10&sort=created_at"))
    assert titles(first) == [f"Batch {n:02d}" for n in range(10)]
    assert "Showing 1–10 of 12 incidents matching the filters." in element_text(first, "result-count")
    next_link = re.search(r'href="([^"]+)" rel="next"', first).group(1).replace("&amp;", "&")
    assert next_link == "/ui/incidents/?severity=high&sort=created_at&per_page=10&page=2"
    second = html(client.get(next_link))
    assert titles(second) == ["Batch 10", "Batch 11"]
    assert '<li class="page-item active" aria-current="page"><span class="page-link">2</span>' in second
    assert 'rel="next"' not in second and 'rel="prev"' in second


def test_a_page_past_the_end_says_so(client, people, catalogue):
    """No crash and no empty table: the page count is given."""
    login(client, people["admin"])
    page = html(client.get("/ui/incidents/?page=99"))
    assert titles(page) == [] and "No incidents on page 99; there is 1 page." in page


def test_many_pages_give_a_short_pagination_bar(client, people):
    """First, last and a window around the current page, not a link per page."""
    for n in range(60):
        factories.make_incident(people["reporter"], title=f"Bulk {n}")
    login(client, people["admin"])
    pattern = re.compile(r'<li class="page-item[^"]*"[^>]*>\s*<(?:a|span) class="page-link"[^>]*>([^<]+)<')
    first = html(client.get("/ui/incidents/?per_page=10"))
    assert pattern.findall(first) == ["Previous", "1", "2", "3", "…", "6", "Next"]
    last = html(client.get("/ui/incidents/?per_page=10&page=6"))
    assert pattern.findall(last) == ["Previous", "1", "…", "4", "5", "6", "Next"]


def test_a_reporter_lists_only_their_own_incidents(client, people, catalogue):
    """Visibility is the domain's; the list obeys it even when asked for more."""
    login(client, people["reporter_other"])
    page = html(client.get("/ui/incidents/"))
    assert titles(page) == ["Laptop fan noise"]
    assert titles(html(client.get("/ui/incidents/?q=VPN"))) == []
    assert titles(html(client.get(f"/ui/incidents/?reporter={people['reporter'].id}"))) == ["Laptop fan noise"]
    assert 'id="reporter"' not in page


def test_reported_by_me(client, people, catalogue):
    """Staff can narrow the list to what they reported themselves."""
    factories.make_incident(people["tech"], title="Tech's own report")
    login(client, people["tech"])
    assert titles(html(client.get("/ui/incidents/?reporter=me"))) == ["Tech's own report"]


def test_severity_and_status_are_badges_with_text(client, people, catalogue):
    """Colour plus words, so meaning never rests on colour alone."""
    login(client, people["admin"])
    page = html(client.get("/ui/incidents/"))
    hidden = '<span class="visually-hidden">'
    assert f'<span class="badge severity-critical">{hidden}Severity: </span>Critical</span>' in page
    assert f'<span class="badge status-in_progress">{hidden}Status: </span>In progress</span>' in page


def test_an_empty_list_says_so(client, people):
    """No table, a plain sentence."""
    login(client, people["reporter"])
    page = html(client.get("/ui/incidents/"))
    assert "No incidents yet." in page and "<table" not in page
    assert "No incidents match the filters." in html(client.get("/ui/incidents/?q=nothing"))


def test_numbers_too_big_for_the_database_are_not_an_error(client, people, catalogue):
    """Huge page numbers and ids in the URL: a page, never a 500 from the driver."""
    login(client, people["admin"])
    assert "No incidents on page 1000000; there is 1 page." in html(client.get("/ui/incidents/?page=999999999999"))
    assert len(titles(html(client.get("/ui/incidents/?page=99999999999999999999")))) == 5
    assert len(titles(html(client.get("/ui/incidents/?technician=99999999999999999999999")))) == 5
    assert "Showing 1–5 of 5" in html(client.get("/ui/incidents/?per_page=99999999999999999999"))
    assert client.get("/ui/incidents/99999999999999999999999").status_code == 404
    assert client.post("/ui/incidents/99999999999999999999999/assign").status_code == 404
    assert client.post("/ui/users/99999999999999999999999/deactivate").status_code == 404
    assert client.post("/ui/account/tokens/99999999999999999999999/revoke").status_code == 404
