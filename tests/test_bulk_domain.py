"""app.incidents.bulk: one action on many incidents, each through the single path's rules and service,
in its own transaction; a refusal changes nothing on its incident and says why."""
import pytest
from sqlalchemy import func, select

from app.exceptions import InvalidInput, PermissionDenied
from app.extensions import db
from app.incidents import bulk, watchers
from app.incidents.enums import EventKind, Severity, Status, Urgency
from app.incidents.queries import IncidentFilters
from app.models import Incident, IncidentEvent, OutboxMessage, WebhookDelivery
from app.webhooks import endpoints
from tests import factories
from tests.web_helpers import incident_in


def events_of(incident: Incident) -> list[EventKind]:
    return list(db.session.scalars(select(IncidentEvent.kind).where(IncidentEvent.incident_id == incident.id)
                                   .order_by(IncidentEvent.id)))


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def state(incident: Incident) -> tuple:
    """What a refused action must leave as it was."""
    db.session.refresh(incident)
    return (incident.status, incident.technician_id, incident.severity, incident.urgency, incident.version,
            incident.resolution_notes, len(events_of(incident)))


def test_close_closes_the_resolved_and_refuses_the_open_saying_why(people):
    """The issue's example: closing a mixed selection closes the resolved ones only; the open one is
    refused with the lifecycle's words and stays exactly as it was."""
    resolved = [incident_in(Status.RESOLVED, people) for _ in range(2)]
    still_open = incident_in(Status.OPEN, people)
    before = state(still_open)

    outcome = bulk.apply(actor=people["admin"], action="close", ids=[resolved[0].id, still_open.id, resolved[1].id])

    assert [(r.id, r.ok, r.status) for r in outcome.results] == [
        (resolved[0].id, True, Status.CLOSED), (still_open.id, False, Status.OPEN),
        (resolved[1].id, True, Status.CLOSED)]
    assert outcome.results[0].detail == "Closed."
    assert outcome.results[1].detail == f"Cannot close {still_open.reference} while it is open."
    assert outcome.matched == 3 and not outcome.capped
    assert state(still_open) == before
    for incident in resolved:
        db.session.refresh(incident)
        assert incident.status == Status.CLOSED and events_of(incident)[-1] == EventKind.CLOSED


def test_each_success_mails_and_calls_webhooks_as_the_single_path_does(app, people):
    """A success writes its event, its outbox mail and its webhook delivery; a refusal writes none."""
    app.config["WEBHOOK_ALLOW_PRIVATE"] = True
    endpoints.create_endpoint(actor=people["admin"], url="http://127.0.0.1:9/hook", events=["*"])
    ok = [incident_in(Status.IN_PROGRESS, people) for _ in range(2)]
    refused = incident_in(Status.OPEN, people)
    mails, deliveries = count(OutboxMessage), count(WebhookDelivery)

    outcome = bulk.apply(actor=people["tech"], action="resolve", ids=[i.id for i in (*ok, refused)],
                         resolution_notes="Rebooted the switch.")

    assert [r.ok for r in outcome.results] == [True, True, False]
    for incident in ok:
        db.session.refresh(incident)
        assert incident.resolution_notes == "Rebooted the switch."
        assert events_of(incident)[-1] == EventKind.RESOLVED
        mailed = db.session.scalars(select(OutboxMessage).where(OutboxMessage.incident_id == incident.id,
                                                                OutboxMessage.event == "resolved"))
        assert people["reporter"].email in {m.recipient for m in mailed}
    assert count(OutboxMessage) > mails
    assert count(WebhookDelivery) == deliveries + 2
    assert not db.session.scalars(select(OutboxMessage).where(OutboxMessage.incident_id == refused.id,
                                                              OutboxMessage.event == "resolved")).all()


def test_assign_take_severity_urgency_and_watch(people):
    """Every action through its single-path service: an admin assigns, a technician takes, severity and
    urgency are edits (priority follows), watch adds a watcher."""
    a, b = factories.make_incident(people["reporter"]), factories.make_incident(people["reporter"])
    admin, tech = people["admin"], people["tech"]

    assigned = bulk.apply(actor=admin, action="assign", ids=[a.id], technician_id=tech.id)
    assert assigned.results[0].ok and assigned.results[0].detail == f"Assigned to {tech.name}."
    again = bulk.apply(actor=admin, action="assign", ids=[a.id], technician_id=tech.id)
    assert again.results[0].ok and again.results[0].detail == f"Already assigned to {tech.name}."
    assert events_of(a).count(EventKind.ASSIGNED) == 1

    taken = bulk.apply(actor=people["tech_other"], action="take", ids=[a.id, b.id])
    assert [(r.ok, r.status) for r in taken.results] == [(False, Status.ASSIGNED), (True, Status.ASSIGNED)]
    assert taken.results[0].detail == f"Cannot take {a.reference} while it is assigned."
    db.session.refresh(b)
    assert b.technician_id == people["tech_other"].id

    severity = bulk.apply(actor=admin, action="severity", ids=[a.id, b.id], severity="critical")
    urgency = bulk.apply(actor=admin, action="urgency", ids=[a.id], urgency=Urgency.HIGH)
    assert all(r.ok for r in severity.results + urgency.results)
    assert severity.results[0].detail == "Severity is now critical."
    db.session.refresh(a)
    assert (a.severity, a.urgency, a.priority.value) == (Severity.CRITICAL, Urgency.HIGH, "P1")

    watched = bulk.apply(actor=admin, action="watch", ids=[a.id], user_id=people["tech_other"].id)
    mine = bulk.apply(actor=tech, action="watch", ids=[b.id])
    assert watched.results[0].detail == f"{people['tech_other'].name} is watching it."
    assert mine.results[0].detail == "You are watching it."
    assert watchers.is_watching(people["tech_other"], a) and watchers.is_watching(tech, b)


def test_a_technician_edits_only_their_own_and_may_not_assign_others(people):
    """The lifecycle's relations hold in bulk: severity on a colleague's incident and assigning
    someone else are refused, incident by incident, with the single path's words."""
    mine = incident_in(Status.IN_PROGRESS, people)
    theirs = factories.bring_to(Status.ASSIGNED, incident=factories.make_incident(people["reporter"]),
                                admin=people["admin"], technician=people["tech_other"])
    before = state(theirs)

    outcome = bulk.apply(actor=people["tech"], action="severity", ids=[mine.id, theirs.id], severity="low")
    assert [r.ok for r in outcome.results] == [True, False]
    assert outcome.results[1].detail == f"You may not edit {theirs.reference}."
    assert state(theirs) == before

    other = bulk.apply(actor=people["tech"], action="assign", ids=[mine.id], technician_id=people["tech_other"].id)
    assert not other.results[0].ok and other.results[0].detail == f"You may not assign {mine.reference}."


def test_unknown_invisible_and_odd_ids_are_not_found_without_a_leak(people):
    """A missing id and an id out of range read the same, 'not found', with no status; duplicates
    are acted on once."""
    incident = incident_in(Status.RESOLVED, people)
    outcome = bulk.apply(actor=people["admin"], action="close", ids=[incident.id, 999_999, incident.id, -3, 2**40])
    assert [(r.id, r.ok, r.status) for r in outcome.results] == [
        (incident.id, True, Status.CLOSED), (999_999, False, None), (-3, False, None), (2**40, False, None)]
    assert outcome.results[1].detail == "Incident 999999 was not found."
    assert outcome.results[1].reference is None


def test_reporters_may_not_bulk_at_all(people):
    own = factories.make_incident(people["reporter"])
    with pytest.raises(PermissionDenied):
        bulk.apply(actor=people["reporter"], action="watch", ids=[own.id])


@pytest.mark.parametrize(("call", "field"), [
    ({"action": "explode", "ids": [1]}, "action"),
    ({"action": "close"}, "ids"),
    ({"action": "close", "ids": [1], "filters": IncidentFilters()}, "ids"),
    ({"action": "close", "ids": []}, "ids"),
    ({"action": "close", "ids": list(range(1, 502))}, "ids"),
    ({"action": "assign", "ids": [1]}, "technician_id"),
    ({"action": "close", "ids": [1], "severity": "high"}, "severity"),
    ({"action": "resolve", "ids": [1], "resolution_notes": "   "}, "resolution_notes"),
    ({"action": "resolve", "ids": [1], "resolution_notes": "x" * 10_001}, "resolution_notes"),
    ({"action": "severity", "ids": [1], "severity": "apocalyptic"}, "severity"),
    ({"action": "watch", "ids": [1], "user_id": 987_654}, "user_id"),
])
def test_a_wrong_call_is_refused_whole_and_changes_nothing(people, call, field):
    """What does not depend on an incident is checked once: the whole call is InvalidInput naming
    the field, before any incident is touched."""
    incident = incident_in(Status.RESOLVED, people)
    before = state(incident)
    with pytest.raises(InvalidInput) as refused:
        bulk.apply(actor=people["admin"], **call)
    assert field in refused.value.errors
    assert state(incident) == before


def test_the_technician_must_be_an_active_technician(people):
    incident = incident_in(Status.OPEN, people)
    gone = factories.make_user("technician", active=False)
    for who in (gone.id, people["reporter"].id, people["admin"].id):
        with pytest.raises(InvalidInput) as refused:
            bulk.apply(actor=people["admin"], action="assign", ids=[incident.id], technician_id=who)
        assert refused.value.errors == {"technician_id": ["Must be the id of an active technician."]}


def test_a_filter_acts_on_what_the_actor_sees_newest_first_and_says_when_it_capped(people, monkeypatch):
    """`filters` takes every visible match (the list's order); over the cap, the first MAX_INCIDENTS
    and `matched` says how many there were."""
    monkeypatch.setattr(bulk, "MAX_INCIDENTS", 2)
    high = [factories.make_incident(people["reporter"], severity="high") for _ in range(3)]
    factories.make_incident(people["reporter"], severity="low")

    outcome = bulk.apply(actor=people["tech"], action="watch", filters=IncidentFilters(severity=[Severity.HIGH]))

    assert [r.id for r in outcome.results] == [high[2].id, high[1].id]
    assert outcome.matched == 3 and outcome.capped
    assert not watchers.is_watching(people["tech"], high[0])


def test_offered_actions_follow_the_roles_in_the_lifecycle(people):
    assert "take" not in bulk.offered_to(people["admin"]) and "assign" in bulk.offered_to(people["admin"])
    assert "assign" not in bulk.offered_to(people["tech"]) and "take" in bulk.offered_to(people["tech"])
    assert bulk.offered_to(people["reporter"]) == []
