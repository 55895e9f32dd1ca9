"""A technician leaving duty hands over their active incidents (issue 14, finding 11): PATCH /users/<id>
refuses with the list (409) unless it says `reassign_to` or `unassign`, which move each incident with
an event, a new version, moved tallies and mail; reopen never lands on a technician who left."""
import pytest
from jsonschema import Draft202012Validator
from sqlalchemy import select

from app.auth.roles import Role
from app.auth.service import update_user
from app.extensions import db
from app.incidents import service, tallies
from app.incidents.enums import EventKind, Status
from app.models import Incident, IncidentEvent, IncidentTally, OutboxMessage, User
from tests import factories
from tests.api_helpers import assert_problem, bearer, snapshot
from tests.web_helpers import incident_in

LEAVING = [{"active": False}, {"role": "reporter"}, {"role": "admin"}]


@pytest.fixture
def admin(people):
    """The admin's bearer header."""
    return bearer(people["admin"])


@pytest.fixture
def held(people):
    """people['tech'] holds one assigned and one in-progress incident; a resolved one of theirs and an
    open one (nobody's) are not active holdings."""
    incidents = {status: incident_in(status, people, title=f"Held {status.value}")
                 for status in (Status.ASSIGNED, Status.IN_PROGRESS, Status.RESOLVED, Status.OPEN)}
    return {status: incident.id for status, incident in incidents.items()}


def incident(incident_id: int) -> Incident:
    """The incident as committed now."""
    db.session.rollback()
    return db.session.get(Incident, incident_id)


def last_event(incident_id: int) -> IncidentEvent:
    """The incident's newest timeline entry."""
    return db.session.scalars(select(IncidentEvent).where(IncidentEvent.incident_id == incident_id)
                              .order_by(IncidentEvent.id.desc())).first()


def last_mail() -> int:
    """The id of the newest outbox message (0 when there is none)."""
    return db.session.scalar(select(OutboxMessage.id).order_by(OutboxMessage.id.desc()).limit(1)) or 0


def mails_since(mail_id: int) -> list[tuple[str, int, str]]:
    """(event, incident id, recipient) of every outbox message written after `mail_id`."""
    return sorted(db.session.execute(select(OutboxMessage.event, OutboxMessage.incident_id, OutboxMessage.recipient)
                                      .where(OutboxMessage.id > mail_id)).all())


def assert_tallies_are_real() -> None:
    """Every tally row equals what a rebuild from the incidents themselves gives."""
    def rows() -> dict:
        return {(t.scope, t.status, t.severity, t.category): t.n
                for t in db.session.scalars(select(IncidentTally)) if t.n}
    db.session.rollback()
    kept = rows()
    tallies.rebuild()
    rebuilt = rows()
    db.session.rollback()
    assert kept == rebuilt


def everything_but_tokens() -> dict:
    """The snapshot of the tables a request can change, API tokens aside (reading one stamps it)."""
    tables = snapshot()
    tables.pop("api_tokens")
    return tables


@pytest.mark.parametrize("change", LEAVING, ids=["deactivate", "to-reporter", "to-admin"])
def test_a_technician_holding_active_incidents_cannot_just_leave(client, people, admin, held, change):
    """409 whose problem lists the assigned and in-progress incidents (not the resolved or open ones);
    nothing changes: the technician keeps their role, state, token and incidents."""
    tech_token = bearer(people["tech"])
    before = everything_but_tokens()

    body = assert_problem(client.patch(f"/users/{people['tech'].id}", headers=admin, json=change), 409)

    expected = [{"id": held[status], "reference": f"INC-{held[status]}", "title": f"Held {status.value}",
                 "status": status.value} for status in (Status.ASSIGNED, Status.IN_PROGRESS)]
    assert body["incidents"] == expected
    assert "reassign_to" in body["detail"] and "unassign" in body["detail"]
    assert everything_but_tokens() == before
    assert client.get("/me", headers=tech_token).status_code == 200


@pytest.mark.parametrize("change", LEAVING, ids=["deactivate", "to-reporter", "to-admin"])
def test_reassign_to_hands_each_incident_to_another_technician(client, people, admin, held, change):
    """Each active incident is assigned to the new technician (in progress goes back to assigned), with
    an `assigned` event by the admin saying why, a new version and the `reassigned` mail to its watchers
    (SPEC: every watcher but the actor); the change is made."""
    versions = {status: incident(held[status]).version for status in held}
    mailed = last_mail()

    response = client.patch(f"/users/{people['tech'].id}", headers=admin,
                            json=change | {"reassign_to": people["tech_other"].id})

    assert response.status_code == 200, response.get_json()
    assert {key: response.get_json()[key] for key in change} == change
    for status in (Status.ASSIGNED, Status.IN_PROGRESS):
        moved = incident(held[status])
        assert (moved.technician_id, moved.status, moved.version) == (
            people["tech_other"].id, Status.ASSIGNED, versions[status] + 1)
        event = last_event(moved.id)
        assert (event.kind, event.actor_id, event.from_status, event.to_status) == (
            EventKind.ASSIGNED, people["admin"].id, status, Status.ASSIGNED)
        assert event.changes == {"technician": ["tech", "techother"]}
        assert event.body.startswith("Handed over: tech ")
    for status in (Status.RESOLVED, Status.OPEN):
        assert incident(held[status]).version == versions[status]
    assert incident(held[Status.RESOLVED]).technician_id == people["tech"].id
    # Who watches each incident: the new technician (made a watcher by the assignment), the reporter
    # and the old technician (watching since they were assigned); the admin acted. The old technician is
    # mailed in every case, deactivated or demoted too: the handover is queued inside the account change,
    # before it, while they are still an active technician (decided: they hear their incidents moved on).
    assert mails_since(mailed) == sorted(
        ("reassigned", held[status], people[who].email)
        for status in (Status.ASSIGNED, Status.IN_PROGRESS)
        for who in ("tech_other", "reporter", "tech"))
    assert_tallies_are_real()


def test_unassign_puts_each_incident_back_in_the_triage(client, people, admin, held):
    """Back to open, technician cleared, a `status_changed` event saying so, the watchers (the reporter, the
    leaving technician) mailed; the unassigned filter (the admin's triage) now lists them."""
    mailed = last_mail()
    response = client.patch(f"/users/{people['tech'].id}", headers=admin, json={"active": False, "unassign": True})

    assert response.status_code == 200, response.get_json()
    assert response.get_json()["active"] is False
    for status in (Status.ASSIGNED, Status.IN_PROGRESS):
        moved = incident(held[status])
        assert (moved.status, moved.technician_id, moved.assigned_at) == (Status.OPEN, None, None)
        event = last_event(moved.id)
        assert (event.kind, event.actor_id, event.from_status, event.to_status) == (
            EventKind.STATUS_CHANGED, people["admin"].id, status, Status.OPEN)
        assert event.changes == {"technician": ["tech", None]}
        assert event.body == "Handed over: tech was deactivated."
    # The watchers but the acting admin: the reporter, and the technician being deactivated, who is still
    # active when the handover is queued (before the change itself) and so hears of it (decided).
    reporter, tech = people["reporter"].email, people["tech"].email
    assert mails_since(mailed) == sorted(("unassigned", held[status], address)
                                         for status in (Status.ASSIGNED, Status.IN_PROGRESS)
                                         for address in (reporter, tech))
    mail = db.session.scalars(select(OutboxMessage).where(OutboxMessage.id > mailed,
                                                          OutboxMessage.recipient == reporter)
                              .order_by(OutboxMessage.id)).first()
    assert mail.subject == f"[INC-{held[Status.ASSIGNED]}] Unassigned: Held assigned"
    assert "Tech no longer handles your incident" in mail.body_text and "Not assigned yet" in mail.body_text
    assert "Tech no longer handles your incident" in mail.body_html
    triage = client.get("/incidents/?technician=none&status=open", headers=admin).get_json()
    assert {item["id"] for item in triage["items"]} == {held[Status.ASSIGNED], held[Status.IN_PROGRESS],
                                                         held[Status.OPEN]}
    assert triage["total"] == 3
    assert_tallies_are_real()


def test_the_events_read_the_same_through_the_api(client, people, admin, held):
    """The timeline of a handed-back incident, as the API gives it."""
    client.patch(f"/users/{people['tech'].id}", headers=admin, json={"role": "reporter", "unassign": True})
    event = client.get(f"/incidents/{held[Status.IN_PROGRESS]}/events", headers=admin).get_json()["items"][-1]
    assert {key: event[key] for key in ("kind", "from_status", "to_status", "changes", "body")} == {
        "kind": "status_changed", "from_status": "in_progress", "to_status": "open",
        "changes": {"technician": ["tech", None]}, "body": "Handed over: tech is no longer a technician."}


@pytest.fixture
def bad_choices(people):
    """reassign_to values that are not another active technician, by name."""
    return {
        "inactive": factories.make_user(Role.TECHNICIAN, username="retired", active=False).id,
        "reporter": people["reporter"].id,
        "admin": people["admin"].id,
        "self": people["tech"].id,
        "missing": 2_000_000,
    }


@pytest.mark.parametrize("choice", ["inactive", "reporter", "admin", "self", "missing"])
def test_reassign_to_must_be_another_active_technician(client, people, admin, held, bad_choices, choice):
    """422 naming reassign_to; nothing moves, the technician stays."""
    before = everything_but_tokens()
    response = client.patch(f"/users/{people['tech'].id}", headers=admin,
                            json={"active": False, "reassign_to": bad_choices[choice]})
    assert_problem(response, 422, "reassign_to")
    assert everything_but_tokens() == before


@pytest.mark.parametrize(("target", "body", "fields"), [
    ("tech", {"active": False, "unassign": True, "reassign_to": "tech_other"}, ("reassign_to", "unassign")),
    ("reporter", {"active": False, "unassign": True}, ("unassign",)),
    ("tech", {"name": "Renamed", "reassign_to": "tech_other"}, ("reassign_to",)),
    ("tech", {"role": "technician", "unassign": True}, ("unassign",)),
])
def test_a_handover_only_goes_with_a_technician_leaving_and_has_one_destination(
        client, people, admin, held, target, body, fields):
    """Both at once, or either without a technician leaving duty: 422 naming the fields, nothing changed."""
    body = {key: people[value].id if key == "reassign_to" else value for key, value in body.items()}
    before = everything_but_tokens()
    assert_problem(client.patch(f"/users/{people[target].id}", headers=admin, json=body), 422, *fields)
    assert everything_but_tokens() == before


def test_a_technician_with_nothing_active_leaves_without_a_question(client, people, admin):
    """A resolved incident is history, not a holding: it stays theirs and the change is made."""
    done = incident_in(Status.CLOSED, people)
    response = client.patch(f"/users/{people['tech'].id}", headers=admin, json={"active": False})
    assert response.status_code == 200 and response.get_json()["active"] is False
    assert incident(done.id).technician_id == people["tech"].id


def test_a_technician_deactivated_earlier_can_still_hand_over(client, people, admin):
    """Incidents stranded before this rule (an inactive technician still holding them) are repaired by
    sending the deactivation again with a destination."""
    stranded = incident_in(Status.IN_PROGRESS, people)
    db.session.get(User, people["tech"].id).active = False  # as an older version of the app left it
    db.session.commit()
    assert_problem(client.patch(f"/users/{people['tech'].id}", headers=admin, json={"active": False}), 409)
    response = client.patch(f"/users/{people['tech'].id}", headers=admin, json={"active": False, "unassign": True})
    assert response.status_code == 200
    assert (incident(stranded.id).status, incident(stranded.id).technician_id) == (Status.OPEN, None)


@pytest.mark.parametrize("change", [{"active": False}, {"role": Role.REPORTER}])
def test_reopen_never_lands_on_a_technician_who_left(people, change):
    """The resolved incident keeps its technician as history; reopening it after they left lands in
    open, unassigned, and the reopened event says whose it was."""
    resolved = incident_in(Status.RESOLVED, people)
    update_user(user=people["tech"], actor=people["admin"], **change)

    service.reopen_incident(actor=people["reporter"], incident=resolved, reason="It is back.")

    reopened = incident(resolved.id)
    assert (reopened.status, reopened.technician_id, reopened.assigned_at) == (Status.OPEN, None, None)
    event = last_event(reopened.id)
    assert (event.kind, event.to_status, event.changes, event.body) == (
        EventKind.REOPENED, Status.OPEN, {"technician": ["tech", None]}, "It is back.")
    assert_tallies_are_real()


def test_reopen_still_goes_back_to_a_technician_who_stayed(people):
    """The rule's other side: an active technician gets the reopened incident back, as SPEC says."""
    resolved = incident_in(Status.RESOLVED, people)
    service.reopen_incident(actor=people["reporter"], incident=resolved, reason="Again.")
    assert (incident(resolved.id).status, incident(resolved.id).technician_id) == (Status.ASSIGNED, people["tech"].id)


def test_the_document_describes_the_handover(client, people, admin, held):
    """PATCH /users/<id> takes reassign_to and unassign, and the 409 it answers is a Problem as the
    document spells one (its `incidents` included)."""
    document = client.get("/openapi.json").get_json()
    schemas = document["components"]["schemas"]
    assert schemas["UserUpdate"]["properties"]["reassign_to"]["type"] == "integer"
    assert schemas["UserUpdate"]["properties"]["unassign"]["type"] == "boolean"
    assert "reassign_to" in document["paths"]["/users/{user_id}"]["patch"]["description"]
    refused = client.patch(f"/users/{people['tech'].id}", headers=admin, json={"active": False}).get_json()
    problem = {"$ref": "#/components/schemas/Problem", "components": document["components"]}
    Draft202012Validator(problem).validate(refused)
    assert len(refused["incidents"]) == 2
