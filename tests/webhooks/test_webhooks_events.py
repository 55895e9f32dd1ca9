"""Which incident events reach which endpoints, signed, with the payload SPEC promises; and what
queues nothing (an unsubscribed endpoint, an internal note, a rolled-back change)."""
from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.incidents import service, sla_warnings
from app.models import WebhookDelivery
from app.times import exact_utc_text
from app.webhooks import events
from tests import factories

# Each event type: what makes it happen, and the timeline event kind its payload carries.
KINDS = {
    events.CREATED: "created",
    events.ASSIGNED: "assigned",
    events.STATUS_CHANGED: "status_changed",
    events.COMMENTED: "commented",
    events.SLA_BREACHED: "sla_breached",
}


def cause(event_type: str, *, reporter, admin, tech):
    """Make an incident and walk it until `event_type` has happened once; the incident."""
    incident = factories.make_incident(reporter)
    if event_type in (events.ASSIGNED, events.STATUS_CHANGED):
        service.assign_incident(actor=admin, incident=incident, technician_id=tech.id)
    if event_type == events.STATUS_CHANGED:
        service.start_incident(actor=tech, incident=incident)
    if event_type == events.COMMENTED:
        service.add_comment(actor=reporter, incident=incident, body="Still broken, see attached.")
    if event_type == events.SLA_BREACHED:
        sla_warnings.check(incident.response_due_at + timedelta(minutes=1))
    return incident


@pytest.mark.parametrize("event_type", events.EVENT_TYPES)
def test_every_event_type_reaches_its_subscribers_and_star_signed(event_type, make_endpoint, receiver, drain,
                                                                  reporter, admin, tech):
    """The endpoint subscribed to the type and the `*` endpoint each get it once, with a signature the
    reference implementation accepts and the payload SPEC describes."""
    subscribed, subscribed_secret = make_endpoint([event_type], path="/subscribed")
    star, star_secret = make_endpoint(["*"], path="/star")
    incident = cause(event_type, reporter=reporter, admin=admin, tech=tech)
    result = drain()
    assert result.failed == result.retrying == 0
    to_subscribed = [r for r in receiver.received if r.path == "/subscribed"]
    to_star = [r for r in receiver.received if r.path == "/star" and r.json["type"] == event_type]
    assert [r.json["type"] for r in to_subscribed] == [event_type]
    assert len(to_star) == 1
    for request, secret in ((to_subscribed[0], subscribed_secret), (to_star[0], star_secret)):
        assert request.verified_by == [secret], request.verify_errors
        body = request.json
        assert set(body) == {"type", "timestamp", "data"}
        assert body["data"]["incident"]["id"] == incident.id
        assert body["data"]["event"]["kind"] == KINDS[event_type]
        stamp = datetime.fromisoformat(body["timestamp"].replace("Z", "+00:00"))
        assert body["timestamp"].endswith("Z") and stamp.tzinfo is not None
        assert request.headers["content-type"] == "application/json"
        assert request.headers["webhook-id"].startswith("msg_")
    assert to_subscribed[0].headers["webhook-id"] != to_star[0].headers["webhook-id"]


def test_payload_matches_the_delivery_row_and_the_event(make_endpoint, receiver, drain, deliveries, reporter):
    """The body sent is the body queued; webhook-id is the row's; the timestamp is the event's time."""
    endpoint, _ = make_endpoint([events.CREATED])
    incident = factories.make_incident(reporter)
    drain()
    [row] = deliveries(endpoint.id)
    [request] = receiver.received
    assert request.body == row.payload.encode()
    assert request.headers["webhook-id"] == row.webhook_id
    created = incident.created_at
    assert request.json["timestamp"] == exact_utc_text(created)
    assert row.incident_id == incident.id and row.event_type == events.CREATED
    assert row.status.value == "delivered" and row.attempts == 1 and row.last_status_code == 200
    assert row.last_duration_ms is not None and row.delivered_at is not None


def test_an_unsubscribed_endpoint_gets_nothing(make_endpoint, receiver, drain, deliveries, reporter, admin, tech):
    """Only the types an endpoint names: one for SLA breaches hears nothing of the rest."""
    quiet, _ = make_endpoint([events.SLA_BREACHED], path="/quiet")
    star, _ = make_endpoint(["*"], path="/star")
    incident = factories.make_incident(reporter)
    service.assign_incident(actor=admin, incident=incident, technician_id=tech.id)
    service.start_incident(actor=tech, incident=incident)
    service.add_comment(actor=tech, incident=incident, body="Looking.")
    drain()
    assert deliveries(quiet.id) == []
    assert [r.path for r in receiver.received] == ["/star"] * 4
    assert [r.json["type"] for r in receiver.received] == [events.CREATED, events.ASSIGNED, events.STATUS_CHANGED,
                                                          events.COMMENTED]


def test_an_inactive_endpoint_is_not_queued_for(make_endpoint, admin, deliveries, reporter):
    """An endpoint turned off gets no rows for what happens meanwhile."""
    from app.webhooks import endpoints

    endpoint, _ = make_endpoint(["*"])
    endpoints.update_endpoint(actor=admin, endpoint_id=endpoint.id, active=False)
    factories.make_incident(reporter)
    assert deliveries() == []


def test_an_internal_note_queues_nothing(make_endpoint, receiver, drain, deliveries, reporter, tech, admin):
    """Internal notes never leave the portal, even to a `*` endpoint."""
    incident = factories.make_incident(reporter)
    service.assign_incident(actor=admin, incident=incident, technician_id=tech.id)
    make_endpoint(["*"])
    service.add_comment(actor=tech, incident=incident, body="Reporter's password is on a sticky note.", internal=True)
    assert deliveries() == []
    drain()
    assert receiver.received == []
    service.add_comment(actor=tech, incident=incident, body="We are on it.")
    assert [row.event_type for row in deliveries()] == [events.COMMENTED]


def test_a_rolled_back_change_queues_nothing(make_endpoint, receiver, drain, reporter):
    """The rows are written in the change's own transaction: when it fails, they are gone with it."""
    make_endpoint(["*"])

    def fail(incident, event):
        assert db.session.scalar(select(func.count()).select_from(WebhookDelivery)) == 1  # queued inside
        raise RuntimeError("the caller's own write failed")

    with pytest.raises(RuntimeError):
        service.create_incident(actor=reporter, title="Printer on fire", description="Smoke.", then=fail)
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(WebhookDelivery)) == 0
    drain()
    assert receiver.received == []


def test_unknown_event_type_is_a_programming_error(reporter):
    """A hook naming a type that does not exist fails loudly instead of queueing nothing."""
    incident = factories.make_incident(reporter)
    with pytest.raises(ValueError):
        events.queue("incident.deleted", incident)


def test_a_handover_back_to_the_queue_is_a_status_change(make_endpoint, receiver, drain, reporter, admin, tech):
    """A technician deactivated with their incidents put back to `open`: receivers hear
    incident.status_changed (assigned -> open), as they would of any other move."""
    from app.auth import service as accounts

    incident = factories.make_incident(reporter)
    service.assign_incident(actor=admin, incident=incident, technician_id=tech.id)
    make_endpoint([events.STATUS_CHANGED])
    accounts.update_user(user=tech, active=False, actor=admin, unassign=True)
    drain()
    [request] = receiver.received
    event = request.json["data"]["event"]
    assert request.json["type"] == events.STATUS_CHANGED
    assert (event["from_status"], event["to_status"]) == ("assigned", "open")
    assert request.json["data"]["incident"]["technician"] is None
