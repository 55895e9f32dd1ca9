"""The SLA clocks on the pages: the list's time left column (resolve, and response while nobody has
answered), the incident page's SLA card, the portal's own timeline entries, the `sla` filter and the
sortable columns, and the Export CSV link that carries the list's filters to the API's names.

Histories are backdated through the service (`at=`); the figures are worked out by hand from the
default policies (P1 15 / 240 min, P2 60 / 480 min, 24x7). Each incident starts 30 seconds past a
whole minute, so a minute-rounded "time left" cannot tick over while the test runs."""
import csv
import io
import re
from datetime import timedelta
from html import unescape
from urllib.parse import parse_qsl, urlsplit

import pytest

from app.extensions import db
from app.incidents.enums import EventKind
from app.models import IncidentEvent
from app.web.detail import duration
from tests import factories
from tests.api_helpers import bearer
from tests.test_api_sla_fields import history
from tests.web_helpers import element_text, html, login

HALF_MINUTE = timedelta(seconds=30)


def _text(fragment: str) -> str:
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", fragment)).split())


def row(page: str, title: str) -> str:
    """The markup of the list row whose link is `title`."""
    for found in re.findall(r"<tr[^>]*>(.*?)</tr>", page, re.S):
        if f">{title}</a>" in found:
            return found
    raise AssertionError(f"no row for {title!r}")


def time_left(page: str, title: str) -> tuple[str, list[str]]:
    """The time left cell of a row: its words, and the Bootstrap colour of each badge in it."""
    cell = re.search(r'<td class="text-nowrap time-left">(.*?)</td>', row(page, title), re.S).group(1)
    return _text(cell), re.findall(r"text-bg-(\w+)", cell)


def titles(page: str) -> list[str]:
    """The incident titles in the list table, in order."""
    return [unescape(t) for t in re.findall(r'<a href="/ui/incidents/\d+">([^<]+)</a>', page)]


@pytest.mark.parametrize(("seconds", "text"), [
    (0, "under 1m"), (59, "under 1m"), (60, "1m"), (-2_100, "35m"), (3_599, "59m"), (3_600, "1h"),
    (8_100, "2h 15m"), (8_159, "2h 15m"), (86_399, "23h 59m"), (86_400, "1d"), (93_600, "1d 2h"),
    (-(3 * 86_400 + 3_599), "3d"),
])
def test_durations_read_in_their_two_largest_units(seconds, text):
    """Rounded down, never "0m"; the sign is the caller's ("overdue ...")."""
    assert duration(seconds) == text


@pytest.fixture
def clocks(people):
    """One incident per way a clock can read, reported half a minute past a whole minute ago."""
    def made(title, severity, ago, steps=()):
        return history(people, severity, ago + HALF_MINUTE, list(steps), title=title)[0]

    return {
        # P1 after 10.5 min: 4.5 min of 15 to respond, 229.5 of 240 to resolve.
        "running": made("Running", "critical", timedelta(minutes=10)),
        # P1 after 5 h 0.5 min, unanswered: response over by 4 h 45.5 min, resolve by 1 h 0.5 min.
        "overdue": made("Overdue", "critical", timedelta(hours=5)),
        # P2 on hold after 90 of 480 minutes: 390 (6 h 30 m) left when it resumes.
        "paused": made("Paused", "high", timedelta(hours=3), [(20, "assign"), (30, "start"), (90, "hold")]),
        # P2 resolved after 2 h: met.
        "met": made("Met", "high", timedelta(hours=5), [(10, "assign"), (15, "start"), (120, "resolve")]),
        # P1 resolved after 5 h: breached.
        "breached": made("Breached", "critical", timedelta(hours=6), [(30, "assign"), (40, "start"),
                                                                     (300, "resolve")]),
        # P2 answered, 7 h of 8 gone: 59.5 min left, past 80 %.
        "at risk": made("At risk", "high", timedelta(hours=7), [(5, "assign"), (10, "start")]),
    }


def test_the_list_shows_time_left_overdue_paused_met_and_breached(client, people, clocks):
    """The resolve clock in words and colour, with the response clock under it while it still runs."""
    login(client, people["admin"])
    page = html(client.get("/ui/incidents/"))
    assert time_left(page, "Running") == ("Resolve: 3h 49m left Response Response: 4m left", ["light", "light"])
    assert time_left(page, "Overdue") == ("Resolve: overdue 1h Response Response: overdue 4h 45m",
                                          ["danger", "danger"])
    assert time_left(page, "Paused") == ("Resolve: paused", ["secondary"])
    assert time_left(page, "Met") == ("Resolve: met", ["success"])
    assert time_left(page, "Breached") == ("Resolve: breached", ["danger"])
    assert time_left(page, "At risk") == ("Resolve: 59m left", ["warning"])
    assert 'class="badge priority-p1"' in row(page, "Running") and 'class="badge priority-p2"' in row(page, "Met")
    dashboard = html(client.get("/"))
    assert time_left(dashboard, "Paused") == ("Resolve: paused", ["secondary"])


def test_the_incident_page_has_an_sla_card(client, people, clocks):
    """Both clocks with due time, state, time left or what is left when resumed, the targets, the
    calendar, the priority; the paused note only while on hold."""
    login(client, people["admin"])
    paused = clocks["paused"]
    page = html(client.get(f"/ui/incidents/{paused.id}"))
    t0 = paused.created_at
    assert element_text(page, "sla-response") == (
        f"Response: met Due {(t0 + timedelta(minutes=60)):%Y-%m-%d %H:%M} UTC "
        f"Responded {(t0 + timedelta(minutes=20)):%Y-%m-%d %H:%M} UTC Target 1h (60 min)")
    assert element_text(page, "sla-resolve") == ("Resolve: paused No due time while on hold; 6h 30m left when it "
                                                 "resumes Target 8h (480 min)")
    assert element_text(page, "sla-calendar") == "24x7 (every minute)"
    assert "The resolve clock is paused" in element_text(page, "sla-paused")
    assert 'class="badge priority-p2"' in page.split('id="sla"')[1].split("</section>")[0]

    running = clocks["running"]
    page = html(client.get(f"/ui/incidents/{running.id}"))
    due = running.created_at + timedelta(minutes=240)
    assert f'<time datetime="{due:%Y-%m-%dT%H:%M:%SZ}"' in page.split('id="sla-resolve"')[1].split("</dd>")[0]
    assert element_text(page, "sla-resolve").startswith("Resolve: 3h 49m left Due ")
    assert element_text(page, "sla-response").startswith("Response: 4m left Due ")
    assert "Responded" not in element_text(page, "sla-response")
    assert 'id="sla-paused"' not in page


def test_a_business_hours_incident_names_its_calendar(make_app):
    """P3 counts in business hours: the card spells out the hours, the time zone and the holidays."""
    app = make_app(SLA_TIMEZONE="Europe/Berlin", SLA_BUSINESS_HOURS="Mon-Fri 08:00-16:00",
                   SLA_HOLIDAYS="2026-12-25,2026-12-26")
    with app.app_context():
        reporter = factories.make_user("reporter", username="calreporter")
        incident = factories.make_incident(reporter, severity="medium")
        client = app.test_client()
        login(client, reporter)
        page = html(client.get(f"/ui/incidents/{incident.id}"))
        db.session.remove()
    assert element_text(page, "sla-calendar") == ("Business hours: Mon-Fri 08:00-16:00 (Europe/Berlin), "
                                                  "holidays excluded")
    assert "Target 4h (240 min)" in element_text(page, "sla-response")


def test_the_portals_own_entries_read_as_portal(client, people):
    """Timeline events with no actor (the SLA warnings) are the portal's: named "Portal", the clock
    and its due time said; the API gives the same events with a null actor."""
    incident, t0 = history(people, "critical", timedelta(minutes=20), [])
    response_due = t0 + timedelta(minutes=15)
    for minutes, kind, extra in ((12, EventKind.SLA_WARNING, {}), (15, EventKind.SLA_BREACHED, {"mailed": False})):
        db.session.add(IncidentEvent(incident_id=incident.id, actor_id=None, kind=kind,
                                     created_at=t0 + timedelta(minutes=minutes),
                                     changes={"clock": "response", "due_at": response_due.isoformat(), **extra}))
    db.session.commit()
    login(client, people["reporter"])
    page = html(client.get(f"/ui/incidents/{incident.id}"))
    entries = [re.sub(r"\s+\)", ")", _text(entry))
               for entry in re.findall(r'<li class="timeline-event[^"]*"[^>]*>(.*?)</li>', page, re.S)]
    due = f"{response_due:%Y-%m-%d %H:%M} UTC"
    assert entries[1].startswith(f"Portal warned that the response target is near (80 % used; due {due}) ")
    assert entries[2].startswith(f"Portal recorded that the response target was missed (due {due}); "
                                 "noticed too late to mail anyone")
    events = client.get(f"/incidents/{incident.id}/events", headers=bearer(people["reporter"])).get_json()["items"]
    assert [(event["kind"], event["actor"]) for event in events[1:]] == [("sla_warning", None), ("sla_breached", None)]


def test_the_sla_filter_and_the_sortable_columns(client, people, clocks):
    """Checkboxes for each standing, kept in the URL; junk dropped; the Priority and Time left
    headings sort (again: the other way), and the due-time sort puts the incident on hold last."""
    login(client, people["admin"])
    page = html(client.get("/ui/incidents/"))
    for value, label in (("breached", "Breached"), ("at_risk", "At risk (past 80 %)"), ("ok", "On track")):
        assert re.search(rf'id="sla-{value}"[^>]*>\s*<label class="form-check-label" for="sla-{value}">'
                         rf"{re.escape(label)}</label>", page)
    assert set(titles(html(client.get("/ui/incidents/?sla=breached")))) == {"Overdue", "Breached"}
    assert set(titles(html(client.get("/ui/incidents/?sla=At%20Risk&sla=ok")))) == {"Running", "Paused", "Met",
                                                                                   "At risk"}
    checked = html(client.get("/ui/incidents/?sla=at-risk"))
    assert re.search(r'value="at_risk"\s+id="sla-at_risk" checked', checked)
    assert set(titles(checked)) == {"At risk"}
    assert len(titles(html(client.get("/ui/incidents/?sla=late")))) == 6

    heading = re.search(r'<th scope="col"[^>]*><a class="sort-link" href="([^"]+)" id="sort-resolve_due_at">',
                        page)
    assert unescape(heading.group(1)) == "/ui/incidents/?sort=resolve_due_at"
    ascending = html(client.get("/ui/incidents/?sla=ok&sla=at_risk&sla=breached&sort=resolve_due_at&page=1"))
    assert titles(ascending) == ["Breached", "Overdue", "At risk", "Met", "Running", "Paused"]
    assert 'aria-sort="ascending"' in ascending
    again = re.search(r'href="([^"]+)" id="sort-resolve_due_at"', ascending).group(1)
    assert dict(parse_qsl(urlsplit(unescape(again)).query)) == {"sla": "breached", "sort": "-resolve_due_at"}
    descending = html(client.get(unescape(again)))
    assert titles(descending) == ["Running", "Met", "At risk", "Overdue", "Breached", "Paused"]
    priority = re.search(r'href="([^"]+)" id="sort-priority"', ascending).group(1)
    assert dict(parse_qsl(urlsplit(unescape(priority)).query))["sort"] == "priority"


def test_export_csv_keeps_the_lists_filters_in_the_apis_names(client, people, clocks):
    """The link is the browser's export (/ui/incidents/export.csv: the API's ignores the session) with
    the list's filters and sort (no paging), named as GET /incidents/ names them: the API reads the
    same query string as the same list."""
    login(client, people["admin"])
    page = html(client.get("/ui/incidents/?status=in_progress&status=on_hold&priority=p2&sla=at_risk&sla=ok"
                           "&technician=" + str(people["tech"].id) + "&q=desc&sort=-priority&page=1&per_page=10"))
    href = unescape(re.search(r'<a class="[^"]*" href="([^"]+)" id="export-csv"', page).group(1))
    path, query = href.split("?")
    assert path == "/ui/incidents/export.csv"
    assert parse_qsl(query) == [("status", "in_progress"), ("status", "on_hold"), ("priority", "P2"),
                                ("sla", "at_risk"), ("sla", "ok"), ("technician", str(people["tech"].id)),
                                ("q", "desc"), ("sort", "-priority")]
    api = client.get(f"/incidents/?{query}", headers=bearer(people["admin"]))
    assert api.status_code == 200, api.get_json()
    assert [item["title"] for item in api.get_json()["items"]] == titles(page) == ["Paused", "At risk"]
    download = client.get(href)  # the session's own door: the same incidents (the export goes by id)
    assert download.status_code == 200 and download.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(download.get_data(as_text=True))))
    assert sorted(row["title"] for row in rows) == sorted(titles(page))
    plain = html(client.get("/ui/incidents/"))
    assert re.search(r'href="/ui/incidents/export.csv" id="export-csv"', plain)


@pytest.mark.parametrize("query", ["technician=me&sla=ok", "technician=none&sla=breached&sort=resolve_due_at",
                                   "q=over&severity=critical&urgency=medium&category=other"])
def test_every_export_link_is_a_query_the_api_reads_as_the_list(client, people, clocks, query):
    """For each kind of filter, the export's query string gives GET /incidents/ the page's incidents."""
    login(client, people["tech"])
    page = html(client.get(f"/ui/incidents/?{query}"))
    href = unescape(re.search(r'href="([^"]+)" id="export-csv"', page).group(1))
    api_query = href.partition("?")[2]
    answer = client.get(f"/incidents/?{api_query}", headers=bearer(people["tech"])).get_json()
    assert [item["title"] for item in answer["items"]] == titles(page)
    assert answer["total"] == len(titles(page)) > 0
    assert dict(parse_qsl(api_query)) == dict(parse_qsl(query))


def test_a_reporter_sees_the_clocks_of_their_own_incidents(client, people, clocks):
    """Reporters see the same time left on their list and the SLA card on their incident."""
    login(client, people["reporter"])
    page = html(client.get("/ui/incidents/"))
    assert time_left(page, "Paused") == ("Resolve: paused", ["secondary"])
    assert re.search(r'href="/ui/incidents/export.csv" id="export-csv"', page)
    detail = html(client.get(f"/ui/incidents/{clocks['met'].id}"))
    assert element_text(detail, "sla-resolve").startswith("Resolve: met Due ")
