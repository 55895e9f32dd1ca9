"""POST /incidents/bulk: the shape, who may call it, the 422s, per-incident results, and that a refused
incident is left exactly as it was while each success writes its timeline and mail."""
import pytest
from sqlalchemy import select

from app.extensions import db
from app.incidents import bulk
from app.incidents.enums import EventKind, Status
from app.models import Incident, IncidentEvent, OutboxMessage
from tests import factories
from tests.api_helpers import assert_problem, bearer, snapshot
from tests.web_helpers import incident_in

PATH = "/incidents/bulk"


def post(client, user, body):
    """POST as `user`: a User (a token is issued first) or the headers of one issued earlier (a token
    issued inside a snapshot's window would read as a change)."""
    return client.post(PATH, headers=user if isinstance(user, dict) else bearer(user), json=body)


def test_close_answers_one_result_per_id_and_leaves_the_refused_one_alone(client, people):
    """The issue's example through the API: 200 {results: [{id, ok, status, reference, detail}]}."""
    resolved = incident_in(Status.RESOLVED, people)
    still_open = incident_in(Status.OPEN, people)
    version = still_open.version

    response = post(client, people["admin"], {"ids": [resolved.id, still_open.id, 424242], "action": "close"})

    assert response.status_code == 200, response.get_json()
    assert response.get_json() == {"matched": 3, "capped": False, "results": [
        {"id": resolved.id, "ok": True, "status": "closed", "reference": resolved.reference, "detail": "Closed."},
        {"id": still_open.id, "ok": False, "status": "open", "reference": still_open.reference,
         "detail": f"Cannot close {still_open.reference} while it is open."},
        {"id": 424242, "ok": False, "status": None, "reference": None, "detail": "Incident 424242 was not found."},
    ]}
    db.session.refresh(still_open)
    assert (still_open.status, still_open.version) == (Status.OPEN, version)
    assert client.get(f"/incidents/{resolved.id}", headers=bearer(people["admin"])).get_json()["status"] == "closed"


def test_each_resolved_incident_gets_its_event_and_its_mail(client, people):
    """resolve with one note: every success has a RESOLVED event with that note and a mail to its
    reporter; the refused one has neither."""
    working = [incident_in(Status.IN_PROGRESS, people) for _ in range(3)]
    refused = incident_in(Status.ASSIGNED, people)

    response = post(client, people["tech"], {"ids": [i.id for i in (*working, refused)], "action": "resolve",
                                             "resolution_notes": "Replaced the **fan**."})

    assert [r["ok"] for r in response.get_json()["results"]] == [True, True, True, False]
    for incident in working:
        event = db.session.scalars(select(IncidentEvent).where(IncidentEvent.incident_id == incident.id)
                                   .order_by(IncidentEvent.id.desc())).first()
        assert (event.kind, event.body) == (EventKind.RESOLVED, "Replaced the **fan**.")
        mails = db.session.scalars(select(OutboxMessage).where(OutboxMessage.incident_id == incident.id,
                                                               OutboxMessage.event == "resolved")).all()
        assert people["reporter"].email in {m.recipient for m in mails}
    assert not db.session.scalars(select(OutboxMessage).where(OutboxMessage.incident_id == refused.id,
                                                              OutboxMessage.event == "resolved")).all()


def test_a_reporter_is_403_and_nothing_changes(client, people):
    own = factories.make_incident(people["reporter"])
    reporter = bearer(people["reporter"])
    before = snapshot()
    assert_problem(post(client, reporter, {"ids": [own.id], "action": "watch"}), 403)
    assert snapshot() == before


def test_no_credentials_is_401(client):
    assert_problem(client.post(PATH, json={"ids": [1], "action": "close"}), 401)


@pytest.mark.parametrize(("body", "field"), [
    ({"ids": ["1"], "action": "close"}, "ids"),
    ({"ids": [-1], "action": "close"}, "ids"),
    ({"ids": [0], "action": "close"}, "ids"),
    ({"ids": [2**31], "action": "close"}, "ids"),
    ({"ids": [10**30], "action": "close"}, "ids"),
    ({"ids": [1.5], "action": "close"}, "ids"),
    ({"ids": [True], "action": "close"}, "ids"),
    ({"ids": "1,2", "action": "close"}, "ids"),
    ({"ids": [], "action": "close"}, "ids"),
    ({"ids": list(range(1, 502)), "action": "close"}, "ids"),
    ({"action": "close"}, "ids"),
    ({"ids": [1], "filter": {}, "action": "close"}, "ids"),
    ({"ids": [1]}, "action"),
    ({"ids": [1], "action": "delete"}, "action"),
    ({"ids": [1], "action": "<script>alert(1)</script>"}, "action"),
    ({"ids": [1], "action": "assign"}, "technician_id"),
    ({"ids": [1], "action": "assign", "technician_id": "tech"}, "technician_id"),
    ({"ids": [1], "action": "severity"}, "severity"),
    ({"ids": [1], "action": "severity", "severity": "apocalyptic"}, "severity"),
    ({"ids": [1], "action": "urgency", "urgency": None}, "urgency"),
    ({"ids": [1], "action": "resolve"}, "resolution_notes"),
    ({"ids": [1], "action": "resolve", "resolution_notes": "  \n "}, "resolution_notes"),
    ({"ids": [1], "action": "resolve", "resolution_notes": "bell\x07"}, "resolution_notes"),
    ({"ids": [1], "action": "close", "resolution_notes": "stray"}, "resolution_notes"),
    ({"ids": [1], "action": "take", "technician_id": 2}, "technician_id"),
    ({"ids": [1], "action": "close", "sort": "-created_at"}, "sort"),
    ({"filter": {"status": ["bogus"]}, "action": "close"}, "filter"),
    ({"filter": {"status": "open"}, "action": "close"}, "filter"),
    ({"filter": {"technician": "1 OR 1=1"}, "action": "close"}, "filter"),
    ({"filter": {"reporter": "99999999999"}, "action": "close"}, "filter"),
    ({"filter": {"q": "x" * 201}, "action": "close"}, "filter"),
    ({"filter": {"sort": "priority"}, "action": "close"}, "filter"),
    ({"filter": {"page": 2}, "action": "close"}, "filter"),
    ({"filter": {"colour": "red"}, "action": "close"}, "filter"),
    ({"filter": [], "action": "close"}, "filter"),
])
def test_a_wrong_body_is_422_naming_the_field_and_changes_nothing(client, people, body, field):
    incident_in(Status.RESOLVED, people)
    admin = bearer(people["admin"])
    before = snapshot()
    problem = assert_problem(post(client, admin, body), 422, field)
    assert snapshot() == before
    if field == "filter" and "status" in body["filter"]:
        assert any(message.startswith("status:") for message in problem["errors"]["filter"])


def test_an_unknown_technician_or_watcher_is_422_for_the_whole_call(client, people):
    incident = incident_in(Status.OPEN, people)
    admin = bearer(people["admin"])
    before = snapshot()
    assert_problem(post(client, admin, {"ids": [incident.id], "action": "assign",
                                        "technician_id": people["reporter"].id}), 422, "technician_id")
    assert_problem(post(client, admin, {"ids": [incident.id], "action": "watch", "user_id": 777_777}),
                   422, "user_id")
    assert snapshot() == before


def test_duplicates_are_acted_on_once_and_an_other_reporter_s_incident_is_not_leaked(client, people):
    """Staff see every incident, so 'not found' here is a missing id; ids repeat into one result."""
    resolved = incident_in(Status.RESOLVED, people)
    body = post(client, people["admin"], {"ids": [resolved.id, resolved.id, resolved.id], "action": "close"}).get_json()
    assert [(r["id"], r["ok"]) for r in body["results"]] == [(resolved.id, True)]
    closes = db.session.scalars(select(IncidentEvent).where(IncidentEvent.incident_id == resolved.id,
                                                            IncidentEvent.kind == EventKind.CLOSED)).all()
    assert len(closes) == 1


def test_a_technician_is_refused_per_incident_where_the_lifecycle_says_so(client, people):
    """take: the open one is taken, the assigned one refused; watch of someone else: not an admin."""
    free = incident_in(Status.OPEN, people)
    busy = incident_in(Status.ASSIGNED, people)
    taken = post(client, people["tech_other"], {"ids": [free.id, busy.id], "action": "take"}).get_json()["results"]
    assert [(r["ok"], r["status"]) for r in taken] == [(True, "assigned"), (False, "assigned")]
    assert taken[1]["detail"] == f"Cannot take {busy.reference} while it is assigned."

    others = post(client, people["tech_other"], {"ids": [free.id], "action": "watch",
                                                 "user_id": people["tech"].id}).get_json()["results"]
    assert others == [{"id": free.id, "ok": False, "status": "assigned", "reference": free.reference,
                       "detail": "Only admins may add other people as watchers."}]


def test_a_filter_reads_like_the_list_s_query(client, people):
    """`filter` takes the list's filters (arrays for the repeatable ones, `me` for the caller) and acts on
    what the caller may see; `{}` is every incident."""
    mine = incident_in(Status.IN_PROGRESS, people)
    other = factories.bring_to(Status.IN_PROGRESS, incident=factories.make_incident(people["reporter"]),
                               admin=people["admin"], technician=people["tech_other"])
    incident_in(Status.OPEN, people)

    body = post(client, people["tech"], {"filter": {"technician": "me", "status": ["In Progress"]},
                                         "action": "severity", "severity": "critical"}).get_json()

    assert body["matched"] == 1 and not body["capped"]
    assert [(r["id"], r["ok"]) for r in body["results"]] == [(mine.id, True)]
    db.session.refresh(other)
    assert other.severity.value != "critical"


def test_a_filter_matching_more_than_the_cap_says_so(client, people, monkeypatch):
    monkeypatch.setattr(bulk, "MAX_INCIDENTS", 2)
    made = [factories.make_incident(people["reporter"], title=f"Printer {n}") for n in range(3)]

    body = post(client, people["tech"], {"filter": {"q": "printer"}, "action": "watch"}).get_json()

    assert body["matched"] == 3 and body["capped"] is True
    assert [r["id"] for r in body["results"]] == [made[2].id, made[1].id]


def test_the_document_describes_the_operation(client):
    document = client.get("/openapi.json").get_json()
    operation = document["paths"]["/incidents/bulk"]["post"]
    assert {"200", "401", "403", "422"} <= set(operation["responses"])
    body = document["components"]["schemas"]["Bulk"]
    assert set(body["properties"]) == {"ids", "filter", "action", *bulk.PARAMETERS}
    assert body["properties"]["ids"]["maxItems"] == bulk.MAX_INCIDENTS
    assert "status" in document["components"]["schemas"]["BulkFilter"]["properties"]


def test_an_incident_changed_by_bulk_reads_back_like_any_other(client, people):
    """No second write path: the incident bulk closed is the one GET /incidents/<id> shows, version up."""
    resolved = incident_in(Status.RESOLVED, people)
    version = resolved.version
    post(client, people["admin"], {"ids": [resolved.id], "action": "close"})
    got = client.get(f"/incidents/{resolved.id}", headers=bearer(people["admin"])).get_json()
    assert got["status"] == "closed" and got["version"] == version + 1 and got["closed_at"]
    assert db.session.get(Incident, resolved.id).closed_at is not None
