"""app/api/incident_json.py writes incidents by hand; the schemas in app/api/schemas.py stay the
contract (the OpenAPI document is made from them). Every incident here, in every state the
lifecycle and the clocks can put it in, written both ways at one frozen instant, is the same JSON:
a field added to a schema and not to the writer (or the other way round), a time written another
way, or a clock read differently fails here."""
from datetime import timedelta

import pytest

from app.api import incident_json, payload
from app.api.schemas import IncidentPageSchema, IncidentSchema, IncidentSummarySchema, shared
from app.incidents import service, sla
from app.incidents.enums import Status
from app.incidents.queries import IncidentFilters, list_incidents
from app.models import utcnow
from tests import factories
from tests.api_helpers import bearer
from tests.test_api_sla_fields import history


@pytest.fixture
def frozen(monkeypatch):
    """One instant for both writers: the clocks' counted seconds depend on it."""
    now = utcnow().replace(microsecond=0)
    monkeypatch.setattr(sla, "utcnow", lambda: now)
    monkeypatch.setattr(incident_json, "utcnow", lambda: now)
    return now


@pytest.fixture
def every_kind(people):
    """Incidents in every status, on both calendars, with clocks running, paused, met and
    breached, with and without a technician, and text that Markdown and JSON both have to carry."""
    tech = people["tech"]
    made = [
        history(people, "critical", timedelta(minutes=5), [])[0],  # open, response running
        history(people, "critical", timedelta(hours=5), [])[0],  # open, both clocks overdue
        history(people, "low", timedelta(minutes=50), [])[0],  # P4: the business calendar
        history(people, "medium", timedelta(hours=30), [(60, "comment")])[0],  # P3, answered by a comment
        history(people, "high", timedelta(hours=2), [(5, "assign")])[0],
        history(people, "high", timedelta(hours=2), [(5, "assign"), (10, "start")])[0],
        history(people, "high", timedelta(hours=3), [(5, "assign"), (10, "start"), (20, "hold")])[0],
        history(people, "high", timedelta(hours=3), [(5, "assign"), (10, "start"), (20, "hold"), (50, "resume")])[0],
        history(people, "critical", timedelta(hours=9), [(30, "assign"), (40, "start"), (400, "resolve")])[0],
        history(people, "high", timedelta(hours=6), [(5, "assign"), (10, "start"), (60, "resolve"),
                                                     (90, "reopen")])[0],
        history(people, "medium", timedelta(hours=3), [], title='Émoji 🔥 <b>"quoted"</b> & \\ back')[0],
    ]
    closed = factories.make_incident(people["reporter_other"], severity="low",
                                     description="**Bold** and a link https://example.org/x?a=1&b=2")
    factories.bring_to(Status.CLOSED, incident=closed, admin=people["admin"], technician=tech)
    made.append(closed)
    assert {incident.status.value for incident in made} >= {"open", "assigned", "in_progress", "on_hold",
                                                            "resolved", "closed"}
    assert {incident.sla_calendar for incident in made} == {"24x7", "business"}
    return made


def test_each_incident_is_written_as_its_schema_dumps_it(every_kind, frozen):
    summary, full = shared(IncidentSummarySchema), shared(IncidentSchema)
    for incident in every_kind:
        assert incident_json.summary(incident, frozen) == summary.dump(incident), incident.reference
        assert incident_json.full(incident) == full.dump(incident), incident.reference
        assert set(incident_json.full(incident)) == set(full.fields), incident.reference


def test_states_the_fixture_must_reach_are_reached(every_kind, frozen):
    """The comparison above is only worth its cases: running, paused, met and breached clocks, and
    counted seconds that are positive, negative and null."""
    clocks = [incident_json.summary(incident, frozen)["sla"] for incident in every_kind]
    states = {clock[name]["state"] for clock in clocks for name in ("response", "resolve")}
    assert {"running", "paused", "met", "breached"} <= states, states
    left = [clock[name]["remaining_seconds"] for clock in clocks for name in ("response", "resolve")]
    assert None in left and any(n and n > 0 for n in left) and any(n and n < 0 for n in left)
    assert any(clock["paused"] for clock in clocks)


@pytest.mark.parametrize("cursor_too", [False, True])
def test_a_page_is_written_as_its_schema_dumps_it(every_kind, people, frozen, cursor_too):
    page = list_incidents(actor=people["admin"], filters=IncidentFilters(), per_page=3, page=2)
    if cursor_too:
        page = list_incidents(actor=people["admin"], filters=IncidentFilters(), per_page=3,
                              cursor=page.next_cursor)
    written = incident_json.page(page)
    assert written == shared(IncidentPageSchema).dump(page)
    assert written["next"] and written["prev"] and len(written["items"]) == 3


def test_the_api_answers_what_the_schemas_describe(client, every_kind, people, frozen):
    """Through HTTP: every page of the list by number, one by cursor, and each incident's own answer."""
    headers, admin, everything = bearer(people["admin"]), people["admin"], IncidentFilters()
    seen, cursors = [], []
    for number in (1, 2, 3):
        body = client.get(f"/incidents/?per_page=5&page={number}", headers=headers).get_json()
        assert body == shared(IncidentPageSchema).dump(list_incidents(actor=admin, filters=everything,
                                                                      per_page=5, page=number))
        seen += [item["id"] for item in body["items"]]
        cursors.append(body["next"])
    cursor = cursors[0]
    by_cursor = client.get(f"/incidents/?per_page=5&cursor={cursor}", headers=headers).get_json()
    assert by_cursor == shared(IncidentPageSchema).dump(list_incidents(actor=admin, filters=everything,
                                                                       per_page=5, cursor=cursor))
    assert sorted(seen) == sorted(incident.id for incident in every_kind)
    for incident in every_kind:
        answer = client.get(f"/incidents/{incident.id}", headers=headers)
        assert answer.get_json() == shared(IncidentSchema).dump(incident)


def test_the_webhook_payload_is_the_incident_as_the_api_shows_it(every_kind, frozen):
    from app.api.webhook_schemas import incident_payload

    for incident in every_kind:
        assert incident_payload(incident) == shared(IncidentSchema).dump(incident)


@pytest.mark.parametrize("title", ['"remaining_seconds": 1', '{"remaining_seconds": null}'])
def test_a_title_that_spells_the_ticking_key_still_changes_the_page_tag(client, people, title):
    """The list's weak tag leaves the counted seconds out by cutting them from the JSON text; a
    title holding the same characters is escaped there, so changing it still changes the tag."""
    incident = factories.make_incident(people["reporter"], title=title)
    headers = bearer(people["admin"])
    before = client.get("/incidents/", headers=headers).headers["ETag"]
    service.edit_incident(actor=people["admin"], incident=incident,
                          details={"title": title.replace("1", "2").replace("null", "3")})
    after = client.get("/incidents/", headers=headers).headers["ETag"]
    assert before != after
    assert payload._TICKING.sub("", '{"a": {"remaining_seconds": -5}}') == '{"a": {}}'
