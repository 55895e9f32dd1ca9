"""/incidents/: reporting, listing (filters, search, sort, pages, Link), reading, updating, timeline."""
import logging
import re

import pytest

from app.extensions import db
from app.incidents import queries
from app.incidents.enums import EventKind, Severity, Status
from app.models import Incident
from tests import factories
from tests.api_helpers import assert_problem, bearer, snapshot

ISO_Z = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")


@pytest.fixture
def headers(people):
    """A bearer header per person."""
    return {name: bearer(person) for name, person in people.items()}


def _links(response) -> dict[str, str]:
    """rel -> URL from an RFC 8288 Link header."""
    return {rel: url for url, rel in re.findall(r'<([^>]+)>; rel="(\w+)"', response.headers["Link"])}


def test_reporting_answers_201_with_location_etag_and_the_incident(client, people, headers):
    """Defaults filled in, choices read in any case, times in UTC with Z, version 1."""
    response = client.post("/incidents/", headers=headers["reporter"],
                           json={"title": "  Mail is down  ", "description": "Since 9:00.", "category": "NETWORK"})
    assert response.status_code == 201
    body = response.get_json()
    assert response.headers["Location"] == f"{client.application.config['APP_BASE_URL']}/incidents/{body['id']}"
    assert response.headers["ETag"] == '"1"'
    assert body["title"] == "Mail is down"
    assert body["reference"] == f"INC-{body['id']}"
    assert (body["severity"], body["category"], body["status"], body["version"]) == ("medium", "network", "open", 1)
    assert body["reporter"] == {"id": people["reporter"].id, "username": "reporter", "name": "Reporter"}
    assert body["technician"] is None
    assert ISO_Z.match(body["created_at"]) and ISO_Z.match(body["updated_at"])
    assert client.get(response.headers["Location"], headers=headers["reporter"]).get_json() == body


def test_reading_carries_the_etag_of_the_current_version(client, people, headers):
    """ETag is the version, quoted; it moves with every change."""
    incident = factories.make_incident(people["reporter"])
    factories.bring_to(Status.ASSIGNED, incident=incident, admin=people["admin"], technician=people["tech"])
    response = client.get(f"/incidents/{incident.id}", headers=headers["tech"])
    assert response.headers["ETag"] == f'"{incident.version}"' == '"2"'
    assert response.get_json()["technician"]["username"] == "tech"
    assert ISO_Z.match(response.get_json()["assigned_at"])


def test_the_whole_lifecycle_through_put_and_patch(client, people, headers):
    """Assign, start ("In Progress"), resolve, close, reopen: statuses out in snake case, a timeline in."""
    incident_id = factories.make_incident(people["reporter"]).id
    url = f"/incidents/{incident_id}"
    steps = [
        ("admin", "PUT", {"technician_id": people["tech"].id}, "assigned"),
        ("tech", "PATCH", {"status": "In Progress"}, "in_progress"),
        ("tech", "PUT", {"status": "Resolved", "resolution_notes": "Replaced the switch."}, "resolved"),
        ("reporter", "PUT", {"status": "closed"}, "closed"),
        ("reporter", "PATCH", {"status": "OPEN", "reason": "It failed again."}, "assigned"),
    ]
    for version, (who, method, body, status) in enumerate(steps, start=2):
        response = client.open(url, method=method, json=body, headers=headers[who])
        assert response.status_code == 200, response.get_json()
        assert (response.get_json()["status"], response.get_json()["version"]) == (status, version)
        assert response.headers["ETag"] == f'"{version}"'
    events = client.get(f"{url}/events", headers=headers["reporter"]).get_json()["items"]
    assert [e["kind"] for e in events] == ["created", "assigned", "status_changed", "resolved", "closed",
                                           "reopened"]
    assert events[1]["changes"] == {"technician": [None, "tech"]}
    assert (events[2]["from_status"], events[2]["to_status"]) == ("assigned", "in_progress")
    assert events[3]["body"] == "Replaced the switch."
    assert events[5]["body"] == "It failed again." and events[5]["actor"]["username"] == "reporter"
    assert all(ISO_Z.match(e["created_at"]) for e in events)


def test_edit_assign_and_move_in_one_request(client, people, headers):
    """Admin: new title, a technician and a start, together; one version per row change."""
    incident = factories.make_incident(people["reporter"])
    response = client.put(f"/incidents/{incident.id}", headers=headers["admin"], json={
        "title": "Core switch down", "severity": "critical", "technician_id": people["tech"].id,
        "status": "in_progress"})
    body = response.get_json()
    assert response.status_code == 200, body
    assert (body["title"], body["severity"], body["status"]) == ("Core switch down", "critical", "in_progress")
    kinds = [e.kind for e in queries.timeline(incident=incident, viewer=incident.reporter)]
    assert kinds == [EventKind.CREATED, EventKind.EDITED, EventKind.ASSIGNED, EventKind.STATUS_CHANGED]


def test_assigning_with_status_assigned_is_the_assignment(client, people, headers):
    """{"status": "assigned", "technician_id": n} is one move; "assigned" alone is refused (422)."""
    incident = factories.make_incident(people["reporter"])
    alone = client.put(f"/incidents/{incident.id}", headers=headers["admin"], json={"status": "assigned"})
    assert_problem(alone, 422, "technician_id")
    response = client.put(f"/incidents/{incident.id}", headers=headers["admin"],
                          json={"status": "Assigned", "technician_id": people["tech"].id})
    assert response.get_json()["status"] == "assigned"


def test_reassigning_work_in_progress_puts_it_back_to_assigned(client, people, headers):
    """SPEC: the new technician starts it."""
    incident = factories.make_incident(people["reporter"])
    factories.bring_to(Status.IN_PROGRESS, incident=incident, admin=people["admin"], technician=people["tech"])
    response = client.patch(f"/incidents/{incident.id}", headers=headers["admin"],
                            json={"technician_id": people["tech_other"].id})
    assert response.get_json()["status"] == "assigned"
    assert response.get_json()["technician"]["username"] == "techother"


def test_all_or_nothing_a_refused_move_keeps_the_edit_out(client, people, headers):
    """Title change plus an impossible close: 409, and the title is unchanged."""
    incident = factories.make_incident(people["reporter"], title="Original")
    before = snapshot()
    response = client.put(f"/incidents/{incident.id}", headers=headers["reporter"],
                          json={"title": "Changed", "status": "closed"})
    assert_problem(response, 409)
    assert snapshot() == before


@pytest.mark.parametrize(("body", "field"), [
    ({"status": "resolved"}, "resolution_notes"),
    ({"status": "resolved", "resolution_notes": "   "}, "resolution_notes"),
    ({"technician_id": 999999}, "technician_id"),
])
def test_moves_missing_what_they_need_are_422_naming_the_field(client, people, headers, body, field):
    """Resolve without notes, assign to a non-technician: 422 with the field, nothing changed."""
    incident = factories.make_incident(people["reporter"])
    factories.bring_to(Status.IN_PROGRESS, incident=incident, admin=people["admin"], technician=people["tech"])
    before = snapshot()
    response = client.put(f"/incidents/{incident.id}", headers=headers["admin"], json=body)
    assert_problem(response, 422, field)
    assert snapshot() == before


def test_reopen_needs_a_reason_and_lands_open_without_a_technician(client, people, headers):
    """SPEC precise choice: back to `open` when nobody was assigned (an admin resolved it directly)."""
    incident = factories.make_incident(people["reporter"])
    factories.bring_to(Status.CLOSED, incident=incident, admin=people["admin"], technician=people["tech"])
    assert_problem(client.put(f"/incidents/{incident.id}", headers=headers["reporter"], json={"status": "open"}),
                   422, "reason")
    response = client.put(f"/incidents/{incident.id}", headers=headers["reporter"],
                          json={"status": "open", "reason": "Still broken."})
    assert response.get_json()["status"] == "assigned"
    assert response.get_json()["resolved_at"] is None and response.get_json()["closed_at"] is None


class TestLostUpdates:
    """If-Match / version: a stale write is 412 and changes nothing."""

    @pytest.fixture
    def incident(self, people):
        """An open incident at version 1."""
        return factories.make_incident(people["reporter"])

    @pytest.mark.parametrize("if_match", ['"1"', 'W/"1"', "*", '"7", "1"'])
    def test_a_matching_if_match_lets_the_write_through(self, client, headers, incident, if_match):
        """The current ETag (also weak, or in a list, or `*`) matches."""
        response = client.put(f"/incidents/{incident.id}", headers={**headers["reporter"], "If-Match": if_match},
                              json={"title": "Fresh"})
        assert response.status_code == 200
        assert response.headers["ETag"] == '"2"'

    @pytest.mark.parametrize(("if_match", "body"), [
        ('"2"', {"title": "Stale"}),
        ("garbage", {"title": "Stale"}),
        (None, {"title": "Stale", "version": 2}),
        ('"1"', {"title": "Stale", "version": 2}),
    ])
    def test_a_stale_version_is_412_and_nothing_changes(self, client, headers, incident, if_match, body):
        """After someone else's change, the old ETag or version no longer applies."""
        extra = {"If-Match": if_match} if if_match else {}
        before = snapshot()
        response = client.patch(f"/incidents/{incident.id}", headers={**headers["reporter"], **extra}, json=body)
        assert_problem(response, 412)
        assert snapshot() == before

    def test_two_clients_editing_the_same_version_one_wins(self, client, headers, incident):
        """Both read version 1; the second write is refused instead of overwriting the first."""
        etag = client.get(f"/incidents/{incident.id}", headers=headers["admin"]).headers["ETag"]
        first = client.put(f"/incidents/{incident.id}", headers={**headers["admin"], "If-Match": etag},
                           json={"severity": "high"})
        second = client.put(f"/incidents/{incident.id}", headers={**headers["reporter"], "If-Match": etag},
                            json={"severity": "low"})
        assert first.status_code == 200
        assert_problem(second, 412)
        assert db.session.get(Incident, incident.id).severity == Severity.HIGH


def test_a_comment_is_201_and_leaves_the_version_alone(client, people, headers):
    """SPEC: a comment alone does not change the version."""
    incident = factories.make_incident(people["reporter"])
    response = client.post(f"/incidents/{incident.id}/comments", headers=headers["reporter"],
                           json={"body": "  Any news?  "})
    assert response.status_code == 201
    event = response.get_json()
    assert (event["kind"], event["body"], event["actor"]["username"]) == ("commented", "Any news?", "reporter")
    assert client.get(f"/incidents/{incident.id}", headers=headers["reporter"]).get_json()["version"] == 1


class TestListing:
    """Filters, search, sort, pages and Link headers."""

    @pytest.fixture
    def incidents(self, people):
        """Six incidents: three of reporter's, three of reporter_other's, in several states."""
        admin, tech = people["admin"], people["tech"]
        made = []
        for n, (who, severity, status) in enumerate([
            ("reporter", "low", Status.OPEN), ("reporter", "critical", Status.ASSIGNED),
            ("reporter", "high", Status.IN_PROGRESS), ("reporter_other", "medium", Status.OPEN),
            ("reporter_other", "high", Status.RESOLVED), ("reporter_other", "low", Status.CLOSED),
        ]):
            incident = factories.make_incident(people[who], title=f"Printer {n} jam" if n % 2 else f"Disk {n} full",
                                               severity=severity)
            factories.bring_to(status, incident=incident, admin=admin, technician=tech)
            made.append(incident)
        return made

    def _titles(self, response) -> list[str]:
        assert response.status_code == 200, response.get_json()
        return [item["title"] for item in response.get_json()["items"]]

    def test_newest_first_and_reporters_see_only_their_own(self, client, headers, incidents):
        """Staff see all six newest first; a reporter sees their three."""
        assert self._titles(client.get("/incidents/", headers=headers["tech_other"])) == [
            "Printer 5 jam", "Disk 4 full", "Printer 3 jam", "Disk 2 full", "Printer 1 jam", "Disk 0 full"]
        body = client.get("/incidents/", headers=headers["reporter"]).get_json()
        assert [i["reporter"]["username"] for i in body["items"]] == ["reporter"] * 3
        assert body["total"] == 3

    @pytest.mark.parametrize(("query", "who", "expected"), [
        ("status=open&status=In%20Progress", "admin", {"Disk 0 full", "Printer 3 jam", "Disk 2 full"}),
        ("severity=HIGH", "admin", {"Disk 2 full", "Disk 4 full"}),
        ("technician=me", "tech", {"Printer 1 jam", "Disk 2 full", "Disk 4 full", "Printer 5 jam"}),
        ("technician=none", "admin", {"Disk 0 full", "Printer 3 jam"}),
        ("reporter=me&status=open", "reporter", {"Disk 0 full"}),
        ("q=printer", "admin", {"Printer 1 jam", "Printer 3 jam", "Printer 5 jam"}),
        ("q=printer&category=other&severity=low", "admin", {"Printer 5 jam"}),
    ])
    def test_filters_and_search(self, client, headers, incidents, query, who, expected):
        """Each filter narrows; repeated parameters mean any of them."""
        response = client.get(f"/incidents/?{query}", headers=headers[who])
        assert set(self._titles(response)) == expected
        assert response.get_json()["total"] == len(expected)

    def test_filter_by_someone_elses_id(self, client, people, headers, incidents):
        """`reporter=<id>` and `technician=<id>` take ids too."""
        response = client.get(f"/incidents/?reporter={people['reporter_other'].id}", headers=headers["admin"])
        assert set(self._titles(response)) == {"Printer 3 jam", "Disk 4 full", "Printer 5 jam"}
        response = client.get(f"/incidents/?technician={people['tech_other'].id}", headers=headers["admin"])
        assert self._titles(response) == []

    def test_sort_by_severity_both_ways(self, client, headers, incidents):
        """`severity` ranks low < medium < high < critical, ties broken by id."""
        ascending = client.get("/incidents/?sort=severity", headers=headers["admin"]).get_json()["items"]
        descending = client.get("/incidents/?sort=-severity", headers=headers["admin"]).get_json()["items"]
        assert [i["severity"] for i in ascending] == ["low", "low", "medium", "high", "high", "critical"]
        assert [i["severity"] for i in descending] == ["critical", "high", "high", "medium", "low", "low"]

    def test_pages_and_link_headers(self, client, headers, incidents):
        """per_page=2: three pages, each with the right links, the filters kept in them."""
        first = client.get("/incidents/?per_page=2&q=", headers=headers["admin"])
        assert first.get_json() | {"items": None, "next": None} == {
            "items": None, "next": None, "prev": None, "page": 1, "per_page": 2, "total": 6}
        links = _links(first)
        assert set(links) == {"first", "next", "last"}
        assert "page=2" in links["next"] and "per_page=2" in links["next"] and "q=" in links["next"]
        assert "page=3" in links["last"]
        second = client.get(links["next"], headers=headers["admin"])
        assert set(_links(second)) == {"first", "prev", "next", "last"}
        assert "page=1" in _links(second)["prev"]
        third = client.get(_links(second)["next"], headers=headers["admin"])
        assert set(_links(third)) == {"first", "prev", "last"}
        seen = [i["id"] for page in (first, second, third) for i in page.get_json()["items"]]
        assert sorted(seen) == sorted(i.id for i in incidents)

    def test_cursors_walk_every_incident_once(self, client, headers, incidents):
        """`next` from each page as `cursor`: the same order as pages; on cursor pages `page` is null and
        Link's next is the cursor too."""
        seen, query, pages = [], "/incidents/?per_page=2&sort=severity", 0
        while query:
            response = client.get(query, headers=headers["admin"])
            body = response.get_json()
            pages += 1
            seen += [item["id"] for item in body["items"]]
            assert body["page"] == (1 if pages == 1 else None)
            if body["next"] and body["page"] is None:
                assert f"cursor={body['next']}" in _links(response)["next"]
            query = f"/incidents/?per_page=2&sort=severity&cursor={body['next']}" if body["next"] else None
        by_pages = [i["id"] for i in client.get("/incidents/?per_page=100&sort=severity",
                                                headers=headers["admin"]).get_json()["items"]]
        assert (pages, seen) == (3, by_pages)
        assert sorted(seen) == sorted(i.id for i in incidents)

    @pytest.mark.parametrize("cursor", ["garbage", "AAAA", "WyItY3JlYXRlZF9hdCIsMSwyXQ"])
    def test_a_foreign_or_forged_cursor_is_422(self, client, headers, incidents, cursor):
        """Not a cursor of this list in this sort order: 422 naming `cursor`."""
        assert_problem(client.get(f"/incidents/?sort=severity&cursor={cursor}", headers=headers["admin"]),
                       422, "cursor")

    def test_per_page_above_100_is_clamped_and_a_page_past_the_end_is_empty(self, client, headers, incidents):
        """SPEC: the body says the per_page used; past the end, prev points at the last real page."""
        body = client.get("/incidents/?per_page=5000", headers=headers["admin"]).get_json()
        assert (body["per_page"], len(body["items"])) == (100, 6)
        response = client.get("/incidents/?page=9&per_page=4", headers=headers["admin"])
        assert response.get_json()["items"] == []
        assert "page=2" in _links(response)["prev"] and "page=2" in _links(response)["last"]


class TestBrowsers:
    """A browser opening the API's incident URLs is sent to the web UI."""

    def test_the_list_redirects_keeping_the_query(self, client):
        """Accept prefers HTML and no Authorization: 302 to /ui/incidents/ with the same query."""
        response = client.get("/incidents/?status=open&page=2",
                              headers={"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"})
        assert response.status_code == 302
        assert response.headers["Location"] == "/ui/incidents/?status=open&page=2"

    def test_one_incident_redirects_to_its_page(self, client):
        """/incidents/7 -> /ui/incidents/7."""
        response = client.get("/incidents/7", headers={"Accept": "text/html"})
        assert (response.status_code, response.headers["Location"]) == (302, "/ui/incidents/7")

    def test_the_export_redirects_to_the_session_download_keeping_the_filters(self, client):
        """The API never takes the cookie: a browser opening /incidents/export.csv gets the UI's copy."""
        response = client.get("/incidents/export.csv?status=open&sla=breached", headers={"Accept": "text/html"})
        assert (response.status_code, response.headers["Location"]) == (
            302, "/ui/incidents/export.csv?status=open&sla=breached")

    @pytest.mark.parametrize("accept", ["*/*", "application/json", "application/json, text/html"])
    def test_api_clients_are_not_redirected(self, client, accept):
        """curl (*/*) and JSON clients get the API's answer (here: 401)."""
        assert_problem(client.get("/incidents/", headers={"Accept": accept}), 401)

    def test_a_browser_with_credentials_gets_json(self, client, headers):
        """An Authorization header means an API client, whatever it accepts."""
        response = client.get("/incidents/", headers={**headers["admin"], "Accept": "text/html"})
        assert response.status_code == 200 and response.is_json


def test_unrouted_paths_and_methods_are_problem_json(client, headers):
    """Flask-RESTful's own 404 and 405 come out as problem+json too (405 with Allow)."""
    assert_problem(client.get("/incidents/abc", headers=headers["admin"]), 404)
    assert_problem(client.get("/incidents/99999999999999999999", headers=headers["admin"]), 404)
    response = client.delete("/incidents/1", headers=headers["admin"])
    assert_problem(response, 405)
    assert set(response.headers["Allow"].split(", ")) >= {"GET", "PUT", "PATCH"}


def test_an_unexpected_error_is_500_without_a_stack_trace(client, headers, monkeypatch, caplog):
    """The 500 says it was logged, and the log has the traceback the client does not."""
    def explode(**kwargs):
        raise RuntimeError("secret internals")

    monkeypatch.setattr(queries, "list_incidents", explode)
    # Alembic's fileConfig (run by the schema_template fixture) disables loggers that existed before it.
    monkeypatch.setattr(logging.getLogger("app.errors"), "disabled", False)
    response = client.get("/incidents/", headers=headers["admin"])
    body = assert_problem(response, 500)
    assert "secret" not in response.get_data(as_text=True) and "Traceback" not in response.get_data(as_text=True)
    assert "logged" in body["detail"]
    assert "secret internals" in caplog.text
