"""The webhook queue: which incident events go out, and the delivery rows they write.

Called from the notification hooks (app/incidents/notifications.py), inside the change's own
transaction: a rolled-back change queues nothing, a committed one is never forgotten. One row per
active endpoint subscribed to the type (or to `*`); the body is fixed now, from the incident as this
change leaves it, in the API's own shapes (the serializers the API registers at start-up: the
domain never imports a blueprint). Internal notes never queue anything."""
import json
import logging
import secrets as random
from collections.abc import Callable
from typing import Any

from sqlalchemy import select

from app.extensions import db
from app.incidents.enums import EventKind
from app.models import Incident, IncidentEvent, WebhookDelivery, WebhookEndpoint
from app.times import exact_utc_text

log = logging.getLogger(__name__)

CREATED = "incident.created"
ASSIGNED = "incident.assigned"
STATUS_CHANGED = "incident.status_changed"
COMMENTED = "incident.commented"
SLA_BREACHED = "incident.sla_breached"
EVENT_TYPES = (CREATED, ASSIGNED, STATUS_CHANGED, COMMENTED, SLA_BREACHED)
EVERY = "*"
# The timeline event a hook without one stands for (the created and SLA hooks get none).
_KINDS = {CREATED: EventKind.CREATED, SLA_BREACHED: EventKind.SLA_BREACHED}

Serializer = Callable[[Any], dict]
_serializers: dict[str, Serializer] = {}


def register_serializers(*, incident: Serializer, event: Serializer) -> None:
    """The API's incident and timeline-event objects, for payloads (called once at start-up)."""
    _serializers["incident"] = incident
    _serializers["event"] = event


def subscribed(endpoint: WebhookEndpoint, event_type: str) -> bool:
    """Whether the endpoint asked for this type (by name or with `*`)."""
    return EVERY in endpoint.events or event_type in endpoint.events


def queue(event_type: str, incident: Incident, event: IncidentEvent | None = None) -> int:
    """Write one pending delivery per active endpoint subscribed to `event_type`; how many.

    `event` may be left out where the hook has none (created, SLA breached): the incident's newest
    event of that kind, written earlier in this transaction, is the one meant."""
    if event_type not in EVENT_TYPES:
        raise ValueError(f"unknown webhook event type {event_type!r}")
    # Who listens first: most portals have no endpoint, and then the event need not be looked up.
    endpoints = [endpoint for endpoint in db.session.scalars(
        select(WebhookEndpoint).where(WebhookEndpoint.active.is_(True)).order_by(WebhookEndpoint.id))
        if subscribed(endpoint, event_type)]
    if not endpoints:
        return 0
    if event is None:
        event = _latest(incident, _KINDS[event_type])
    if event is None or event.internal:
        return 0
    body = payload(event_type, incident, event)
    for endpoint in endpoints:
        db.session.add(WebhookDelivery(endpoint_id=endpoint.id, incident_id=incident.id, event_type=event_type,
                                       webhook_id=new_webhook_id(), payload=body))
    return len(endpoints)


def payload(event_type: str, incident: Incident, event: IncidentEvent) -> str:
    """The JSON body: `{"type", "timestamp" (the event's time), "data": {"incident", "event"}}`."""
    db.session.flush()  # ids, defaults and the version the serializers show
    document = {
        "type": event_type,
        "timestamp": exact_utc_text(event.created_at),
        "data": {"incident": _serializers.get("incident", _bare_incident)(incident),
                 "event": _serializers.get("event", _bare_event)(event)},
    }
    return json.dumps(document, ensure_ascii=False, separators=(",", ":"), default=str)


def new_webhook_id() -> str:
    """The `webhook-id` of a new delivery: unique, kept across its retries and replays."""
    return "msg_" + random.token_urlsafe(18)


def _latest(incident: Incident, kind: EventKind) -> IncidentEvent | None:
    return db.session.scalar(select(IncidentEvent).where(IncidentEvent.incident_id == incident.id,
                                                         IncidentEvent.kind == kind)
                             .order_by(IncidentEvent.id.desc()).limit(1))


def _bare_incident(incident: Incident) -> dict:
    """Used only when no interface registered the API's shape (a script run without the API)."""
    return {"id": incident.id, "reference": incident.reference, "title": incident.title,
            "status": incident.status.value, "created_at": exact_utc_text(incident.created_at)}


def _bare_event(event: IncidentEvent) -> dict:
    """Used only when no interface registered the API's shape."""
    return {"id": event.id, "kind": EventKind(event.kind).value, "created_at": exact_utc_text(event.created_at),
            "internal": event.internal, "via": event.via}
