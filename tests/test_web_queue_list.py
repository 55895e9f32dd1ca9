"""The incident list as a queue people work all day (issue 18): headings that sort and keep the
filters, age and last-change columns, times a browser can make relative, rows the keyboard and the
bulk bar can use, a live region answered 304 while nothing changed, and three rough edges: the
dashboard's "Recently updated" shows the last change, a no-op edit says so, and filter values the
page could not read are named in a warning instead of silently ignored."""
import re
from datetime import timedelta
from html import unescape

import pytest

from app.extensions import db
from app.incidents import service
from app.incidents.enums import Status
from app.models import Incident, IncidentEvent
from tests import factories
from tests.web_helpers import element_text, flashes, html, incident_in, login


def heading(page: str, key: str) -> str:
    """The <th> whose link sorts by `key`."""
    found = re.search(rf'<th scope="col"[^>]*>(?:(?!</th>).)*id="sort-{key}".*?</th>', page, re.S)
    assert found is not None, f"no sort heading for {key}"
    return found.group(0)


def sort_href(page: str, key: str) -> str:
    """Where the heading sorting by `key` leads."""
    return unescape(re.search(r'href="([^"]+)"', heading(page, key)).group(1))


def rows(page: str) -> list[str]:
    """The markup of each body row of the list table."""
    body = page.split('<caption class="visually-hidden">Incidents</caption>')[1].split("</tbody>")[0]
    return re.findall(r"<tr[^>]*>.*?</tr>", body.split("<tbody>")[1], re.S)


def ignored(page: str) -> list[str]:
    """The sentences of the "not understood" warning, if any."""
    found = re.search(r'<div class="alert alert-warning" role="alert" id="ignored-filters">(.*?)</div>', page, re.S)
    return [] if found is None else [" ".join(unescape(item).split())
                                     for item in re.findall(r"<li>(.*?)</li>", found.group(1), re.S)]


def iso(moment) -> str:
    return f"{moment:%Y-%m-%dT%H:%M:%SZ}"


@pytest.fixture
def queue(people):
    """Three open incidents of different severities, one resolved and one closed (clocks stopped)."""
    return {
        "resolved": incident_in(Status.RESOLVED, people, title="Resolved one", severity="medium"),
        "low": factories.make_incident(people["reporter"], title="Low one", severity="low"),
        "high": factories.make_incident(people["reporter"], title="High one", severity="high"),
        "critical": factories.make_incident(people["reporter"], title="Critical one", severity="critical"),
        "closed": incident_in(Status.CLOSED, people, title="Closed one", severity="medium"),
    }


# --- sortable headings ---------------------------------------------------------------------------

def test_every_sortable_heading_keeps_the_filters_and_starts_on_the_first_page(client, people, queue):
    """Each heading's link is the same list, same filters and page size, sorted by its column."""
    login(client, people["admin"])
    page = html(client.get("/ui/incidents/?status=open&severity=high&severity=low&q=one&per_page=10"))
    kept = "status=open&severity=high&severity=low&q=one"
    assert sort_href(page, "priority") == f"/ui/incidents/?{kept}&sort=priority&per_page=10"
    assert sort_href(page, "resolve_due_at") == f"/ui/incidents/?{kept}&sort=resolve_due_at&per_page=10"
    assert sort_href(page, "severity") == f"/ui/incidents/?{kept}&sort=-severity&per_page=10"  # highest first
    assert sort_href(page, "created_at") == f"/ui/incidents/?{kept}&sort=created_at&per_page=10"  # oldest first
    assert sort_href(page, "updated_at") == f"/ui/incidents/?{kept}&sort=-updated_at&per_page=10"  # latest first


def test_the_sorted_heading_says_its_direction_and_flips(client, people, queue):
    """aria-sort on the current column only; its link sorts the other way; the arrow repeats it."""
    login(client, people["admin"])
    page = html(client.get("/ui/incidents/?sort=-severity&status=open"))
    assert 'aria-sort="descending"' in heading(page, "severity") and "▼" in heading(page, "severity")
    assert sort_href(page, "severity") == "/ui/incidents/?status=open&sort=severity"
    assert [re.search(r'>([^<]+)</a>', row).group(1) for row in rows(page)] == ["Critical one", "High one", "Low one"]
    assert page.count("aria-sort=") == 1
    ascending = html(client.get("/ui/incidents/?sort=severity&status=open"))
    assert 'aria-sort="ascending"' in heading(ascending, "severity")
    assert sort_href(ascending, "severity") == "/ui/incidents/?status=open&sort=-severity"


def test_age_reads_opposite_to_the_creation_time(client, people, queue):
    """Newest first (the default) is the youngest age first: Age says ascending, and its link goes
    to the oldest first, which Age calls descending."""
    login(client, people["admin"])
    page = html(client.get("/ui/incidents/"))
    age = heading(page, "created_at")
    assert ">Age<" in age and 'aria-sort="ascending"' in age
    assert sort_href(page, "created_at") == "/ui/incidents/?sort=created_at"
    oldest = html(client.get("/ui/incidents/?sort=created_at"))
    assert 'aria-sort="descending"' in heading(oldest, "created_at")
    assert sort_href(oldest, "created_at") == "/ui/incidents/"  # back to the default


def test_rows_show_age_and_last_change_as_times_a_browser_can_read(client, people, queue):
    """<time datetime> in UTC with the exact time as title and as the words a page without scripts shows."""
    incident = queue["high"]
    login(client, people["admin"])
    page = html(client.get("/ui/incidents/?q=High+one"))
    [row] = rows(page)
    created, updated = incident.created_at, incident.updated_at
    age = re.search(r'<td class="[^"]*incident-age">(.*?)</td>', row, re.S).group(1)
    assert age == (f'<time datetime="{iso(created)}" title="{created:%Y-%m-%d %H:%M} UTC">'
                   f'{created:%Y-%m-%d %H:%M} UTC</time>')
    assert f'datetime="{iso(updated)}"' in re.search(r'<td class="[^"]*incident-updated">(.*?)</td>', row).group(1)
    assert ">Priority<" in page and ">Time left<" in page and ">Updated<" in page


# --- rows for the keyboard and the bulk bar; the live region -----------------------------------------

def test_staff_rows_are_selectable_and_every_row_is_a_keyboard_target(client, people, queue):
    """The contract of /tmp/design18.md: data-nav-row/data-href on rows; staff get a first column of
    checkboxes for the bulk form and one in the heading for the whole page."""
    login(client, people["tech"])
    page = html(client.get("/ui/incidents/?status=open&sort=-severity"))
    first = rows(page)[0]
    incident = queue["critical"]
    assert first.startswith(f'<tr data-nav-row data-href="/ui/incidents/{incident.id}">')
    assert (f'<td><input class="form-check-input bulk-select" type="checkbox" name="ids" value="{incident.id}" '
            f'form="bulk-form" aria-label="Select {incident.reference}"></td>') in first
    assert ('<th scope="col"><input class="form-check-input" type="checkbox" id="bulk-select-page" '
            'aria-label="Select all incidents on this page"></th>') in page
    assert re.search(r'<input[^>]*id="q"[^>]*data-search-box', page)
    response = client.get("/ui/incidents/?status=closed&sort=-severity")
    region = re.search(r'<div id="list-results" data-live-url="([^"]+)" data-etag="(\w+)" data-live-seconds="10">',
                       html(response))
    assert unescape(region.group(1)) == "/ui/incidents/?status=closed&sort=-severity"
    assert response.headers["ETag"] == f'W/"{region.group(2)}"'
    assert page.index('id="filters"') < page.index('id="list-results"') < page.index('id="result-count"')
    assert '<script src="/static/js/list.js">' in page


def test_reporters_get_no_checkboxes(client, people, queue):
    """Bulk actions are for staff: no selection column for a reporter, rows still keyboard targets."""
    login(client, people["reporter"])
    page = html(client.get("/ui/incidents/"))
    assert "bulk-select" not in page and "bulk-form" not in page
    assert all(row.startswith("<tr data-nav-row data-href=") for row in rows(page))


def test_the_list_answers_304_while_nothing_it_shows_changed(client, people, queue):
    """A weak ETag over the page; the same one back is a 304 with no body."""
    login(client, people["admin"])
    first = client.get("/ui/incidents/?status=closed")  # stopped clocks: nothing moves with time
    tag = first.headers["ETag"]
    assert tag.startswith('W/"') and first.status_code == 200
    again = client.get("/ui/incidents/?status=closed", headers={"If-None-Match": tag})
    assert again.status_code == 304 and again.data == b"" and again.headers["ETag"] == tag
    # Another query, another user: another tag.
    assert client.get("/ui/incidents/", headers={"If-None-Match": tag}).status_code == 200
    client.post("/logout")
    login(client, people["tech"])
    assert client.get("/ui/incidents/?status=closed", headers={"If-None-Match": tag}).status_code == 200


def test_a_change_to_a_row_is_a_200_with_a_new_tag(client, people, queue):
    """An edit (new version), a new incident (total), a renamed technician (a name shown) each
    make the list answer 200 with a new tag."""
    login(client, people["admin"])
    resolved = queue["resolved"]  # stopped clocks: only the changes below move the tag
    tag = client.get("/ui/incidents/?status=resolved").headers["ETag"]
    assert client.get("/ui/incidents/?status=resolved", headers={"If-None-Match": tag}).status_code == 304
    service.edit_incident(actor=people["admin"], incident=resolved, details={"title": "Resolved one, renamed"})
    changed = client.get("/ui/incidents/?status=resolved", headers={"If-None-Match": tag})
    assert changed.status_code == 200 and "Resolved one, renamed" in html(changed)
    assert changed.headers["ETag"] != tag
    tag = changed.headers["ETag"]
    people["tech"].name = "Tech Renamed"
    db.session.commit()
    renamed = client.get("/ui/incidents/?status=resolved", headers={"If-None-Match": tag})
    assert renamed.status_code == 200 and "Tech Renamed" in html(renamed)
    tag = renamed.headers["ETag"]
    incident_in(Status.RESOLVED, people, title="Another resolved one")
    assert client.get("/ui/incidents/?status=resolved", headers={"If-None-Match": tag}).status_code == 200


def test_the_tag_follows_the_time_left_shown(client, people, queue, monkeypatch):
    """The time-left words change with the clock, not the row: they are part of the tag."""
    from app.web import incidents  # the list's view reads each row's clocks once, for the tag and the row
    login(client, people["admin"])
    tag = client.get("/ui/incidents/?q=Critical+one").headers["ETag"]  # a 24x7 clock
    real = incidents.sla_reading
    monkeypatch.setattr(incidents, "sla_reading",
                        lambda incident: real(incident, now=incident.created_at + timedelta(hours=3)))
    assert client.get("/ui/incidents/?q=Critical+one", headers={"If-None-Match": tag}).status_code == 200


# --- rough edge 9: filter values the page could not read ------------------------------------------------

def test_ignored_filter_values_are_named_in_a_warning(client, people, queue):
    """An old bookmark still opens and what could be read still filters, but every value dropped is
    named (the API answers 422 to the same query string)."""
    login(client, people["admin"])
    response = client.get("/ui/incidents/?status=bogus&status=open&severity=high&sort=nonsense&per_page=7"
                          "&page=x&priority=P9&urgency=soon&sla=late&category=&reporter=someone")
    assert response.status_code == 200
    page = html(response)
    assert ignored(page) == [
        "Ignored status=bogus: not a status.",
        "Ignored priority=P9: not a priority (P1 to P4).",
        "Ignored urgency=soon: not an urgency.",
        "Ignored sla=late: not an SLA standing.",
        "Ignored reporter=someone: only “me” is understood.",
        "Ignored sort=nonsense: not a column to sort by.",
        "Ignored page=x: not a page number.",
        "Ignored per_page=7: not one of 10, 25, 50, 100.",
    ]
    assert [re.search(r'>([^<]+)</a>', row).group(1) for row in rows(page)] == ["High one"]  # status=open, high


def test_a_clean_query_has_no_warning_and_hostile_values_are_escaped(client, people, queue):
    """No warning box for a good address; a value with markup is shown as text, never run."""
    login(client, people["admin"])
    assert 'id="ignored-filters"' not in html(client.get("/ui/incidents/?status=open&technician=none&sort=-updated_at"))
    page = html(client.get("/ui/incidents/?severity=%3Cscript%3Ealert(1)%3C/script%3E"))
    assert "<script>alert(1)" not in page
    assert ignored(page) == ["Ignored severity=<script>alert(1)</script>: not a severity."]
    long = html(client.get("/ui/incidents/?category=" + "x" * 500))
    assert ignored(long) == [f"Ignored category={'x' * 39}…: not a category."]


# --- rough edge 2: the dashboard's "Recently updated" panel -----------------------------------------

def test_recently_updated_shows_the_last_change_not_the_creation(client, people):
    """The panel about recent changes shows when each incident changed; the other panels its age."""
    incident = factories.make_incident(people["reporter"], title="Changed lately")
    incident.created_at = incident.created_at - timedelta(days=3)
    db.session.commit()
    service.edit_incident(actor=people["admin"], incident=incident, details={"severity": "high"})
    assert incident.updated_at - incident.created_at > timedelta(days=2)
    login(client, people["admin"])
    page = html(client.get("/"))
    panel = re.search(r'<h2 class="h5" id="(panel-\d+)">Recently updated.*?</section>', page, re.S).group(0)
    assert ">Updated<" in panel and ">Age<" not in panel and ">Created<" not in panel
    assert f'<time datetime="{iso(incident.updated_at)}"' in panel
    assert iso(incident.created_at) not in panel
    oldest = re.search(r'id="panel-\d+">Oldest active incidents.*?</section>', page, re.S).group(0)
    assert ">Age<" in oldest and f'<time datetime="{iso(incident.created_at)}"' in oldest


# --- rough edge 6: an edit that changes nothing ----------------------------------------------------------

def test_an_edit_that_changes_nothing_says_so_and_records_nothing(client, people):
    """Saving the form untouched: "Nothing changed", no event, no new version; a real edit still
    says it was updated."""
    incident = factories.make_incident(people["reporter"], title="Stays the same", severity="low",
                                       category="network", description="Same words.")
    version, events = incident.version, db.session.query(IncidentEvent).filter_by(incident_id=incident.id).count()
    login(client, people["reporter"])
    form = {"title": "Stays the same", "description": "Same words.", "severity": "low",
            "urgency": incident.urgency.value, "category": "network", "version": version}
    page = html(client.post(f"/ui/incidents/{incident.id}/edit", data=form, follow_redirects=True))
    assert ("info", f"Nothing changed: {incident.reference} already says that.") in flashes(page)
    assert not any("was updated" in text for _, text in flashes(page))
    db.session.expire_all()
    stored = db.session.get(Incident, incident.id)
    assert stored.version == version
    assert db.session.query(IncidentEvent).filter_by(incident_id=incident.id).count() == events
    page = html(client.post(f"/ui/incidents/{incident.id}/edit", data={**form, "severity": "high"},
                            follow_redirects=True))
    assert ("success", f"{incident.reference} was updated.") in flashes(page)
    assert "Severity low → changed to high" in element_text(page, "timeline")


def test_a_technician_nobody_is_called_is_named_in_the_warning(client, people, queue):
    """A username or id that names no one (an old bookmark of a renamed account): every incident,
    and the warning says the technician filter was dropped; a real username filters (H5's lookup)."""
    login(client, people["admin"])
    page = html(client.get("/ui/incidents/?technician=ghost&status=open"))
    assert ignored(page) == ["Ignored technician=ghost: not a technician."]
    assert len(rows(page)) == 3
    assert ignored(html(client.get("/ui/incidents/?technician=TECH"))) == []
