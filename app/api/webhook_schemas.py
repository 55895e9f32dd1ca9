"""What the webhooks API reads and writes (SPEC "Outgoing webhooks"), and the payload serializers it
lends the domain: a delivery carries the incident and the event exactly as the API shows them.

The schemas check the shape (types, lengths, known event names, no unknown fields); whether a URL
may be used (scheme, credentials, private addresses) is app.webhooks' rule, answered as its 422."""
from marshmallow import Schema, fields, validate

from app.api import incident_json
from app.api.fields import NO_CONTROL_CHARS, Pattern, StrictBoolean, UTCDateTime
from app.api.schemas import EventSchema, Input, Query, shared
from app.models import MAX_ID, WebhookEndpoint
from app.times import utc_text
from app.webhooks import endpoints, guard
from app.webhooks import events as webhook_events

URL_MAX = guard.URL_MAX
DESCRIPTION_MAX = endpoints.DESCRIPTION_MAX
# Text as the other written fields take it: no control character but tab, CR and LF.
_TEXT = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]*$"
EVENT_NAMES = [*webhook_events.EVENT_TYPES, webhook_events.EVERY]
DELIVERIES_DEFAULT = 50
DELIVERIES_MAX = 100

_EVENTS_TEXT = ("Event types to receive: any of " + ", ".join(f"`{name}`" for name in webhook_events.EVENT_TYPES)
                + ", or `[\"*\"]` for every one (also those added later). `incident.commented` is sent for "
                  "public comments only; internal notes are never sent.")


def _rotating_until_text(endpoint: WebhookEndpoint) -> str | None:
    until = endpoints.rotating_until(endpoint)
    return None if until is None else utc_text(until)


# ---- output ---------------------------------------------------------------------------------

class WebhookEndpointSchema(Schema):
    """A webhook endpoint. Its signing secret is never shown here: only in the answer of the POST that
    created it and of rotate-secret."""

    id = fields.Integer(required=True)
    url = fields.String(required=True)
    description = fields.String(required=True)
    events = fields.List(fields.String(), required=True, metadata={"description": _EVENTS_TEXT})
    active = fields.Boolean(required=True, metadata={
        "description": "false: nothing is sent (switched off by an admin, or disabled by the portal: see "
                       "disabled_reason)."})
    disabled_reason = fields.String(required=True, allow_none=True, metadata={
        "description": "Why the portal switched the endpoint off (the receiver answered 410 Gone, or it failed "
                       "for 24 hours); null otherwise. Setting `active: true` clears it."})
    failing_since = UTCDateTime(required=True, allow_none=True, metadata={
        "description": "The first failure of the current run of failures; null after a success."})
    created_at = UTCDateTime(required=True)
    updated_at = UTCDateTime(required=True)
    secret_rotating_until = fields.Function(
        _rotating_until_text, required=True, allow_none=True, metadata={
            "type": "string", "format": "date-time",
            "description": "After a rotation: until when the previous secret still signs beside the new one "
                           "(two signatures in `webhook-signature`); null otherwise."})


class WebhookEndpointWithSecretSchema(WebhookEndpointSchema):
    """A webhook endpoint with its signing secret, shown this once: store it now (only an encrypted
    copy is kept; a lost secret is replaced by rotating it)."""

    secret = fields.String(required=True, metadata={
        "example": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        "description": "`whsec_` + base64: verify each delivery's `webhook-signature` with it (Standard "
                       "Webhooks; HMAC-SHA256 keyed with the base64-decoded part after `whsec_`)."})


class WebhookEndpointListSchema(Schema):
    items = fields.List(fields.Nested(WebhookEndpointSchema), required=True)


class WebhookDeliverySchema(Schema):
    """One event for one endpoint and how its sending went. `webhook_id` is the `webhook-id` header, the
    same on every attempt and on a replay (receivers use it to drop duplicates)."""

    id = fields.Integer(required=True)
    endpoint_id = fields.Integer(required=True)
    incident_id = fields.Integer(required=True, allow_none=True)
    event_type = fields.String(required=True)
    webhook_id = fields.String(required=True)
    status = fields.String(required=True, metadata={"enum": ["pending", "sending", "delivered", "failed"]})
    attempts = fields.Integer(required=True)
    next_attempt_at = UTCDateTime(required=True, metadata={
        "description": "When a pending delivery is (re)tried next."})
    last_status_code = fields.Integer(required=True, allow_none=True, metadata={
        "description": "The HTTP status the receiver answered last; null if it never answered."})
    last_error = fields.String(required=True, allow_none=True)
    last_duration_ms = fields.Integer(required=True, allow_none=True)
    created_at = UTCDateTime(required=True)
    delivered_at = UTCDateTime(required=True, allow_none=True)


class WebhookDeliveryPageSchema(Schema):
    """An endpoint's deliveries, newest first."""

    items = fields.List(fields.Nested(WebhookDeliverySchema), required=True)
    next_before = fields.Integer(required=True, allow_none=True, metadata={
        "description": "Send as `before` for the next (older) page; null on the last page."})


# ---- input ----------------------------------------------------------------------------------

def _with(description: str, kwargs: dict) -> dict:
    """A field's keyword arguments with `description` added to whatever metadata it was given."""
    return {**kwargs, "metadata": {"description": description, **kwargs.get("metadata", {})}}


def _url(**kwargs) -> fields.String:
    return fields.String(validate=[validate.Length(min=1, max=URL_MAX), Pattern(NO_CONTROL_CHARS)], **_with(
        "Where to POST: an `http` or `https` URL without user name or password. Loopback, private, link-local "
        "and metadata addresses are refused (422 here for a literal address, at send time after DNS "
        "resolution) unless WEBHOOK_ALLOW_PRIVATE is set.", kwargs))


def _events(**kwargs) -> fields.List:
    return fields.List(fields.String(validate=validate.OneOf(EVENT_NAMES)),
                       validate=validate.Length(min=1, max=len(EVENT_NAMES)), **_with(_EVENTS_TEXT, kwargs))


def _description(**kwargs) -> fields.String:
    return fields.String(validate=[validate.Length(max=DESCRIPTION_MAX), Pattern(_TEXT)],
                         **_with("A note for admins: who owns the receiver, what it is for.", kwargs))


class WebhookCreateSchema(Input):
    """A new endpoint."""

    url = _url(required=True)
    events = _events(required=True)
    description = _description(load_default="", metadata={"default": ""})
    active = StrictBoolean(load_default=True, metadata={"default": True})


class WebhookUpdateSchema(Input):
    """A partial change: only the fields sent change. `active: true` also clears disabled_reason and
    failing_since (the receiver was fixed)."""

    url = _url()
    events = _events()
    description = _description()
    active = StrictBoolean()


class WebhookDeliveryQuerySchema(Query):
    """Paging back through an endpoint's deliveries."""

    limit = fields.Integer(load_default=DELIVERIES_DEFAULT, validate=validate.Range(min=1, max=DELIVERIES_MAX),
                           metadata={"default": DELIVERIES_DEFAULT})
    before = fields.Integer(validate=validate.Range(min=1, max=MAX_ID), metadata={
        "description": "Only deliveries with a smaller id (the `next_before` of the previous page)."})


# ---- the payload of a delivery ----------------------------------------------------------------

def incident_payload(incident) -> dict:
    """The incident as `GET /incidents/<id>` shows it to an admin (no request needed: it runs in the
    change's transaction, in a request or in the background loop)."""
    return incident_json.full(incident)


def event_payload(event) -> dict:
    """The timeline event as `GET /incidents/<id>/events` shows it."""
    return shared(EventSchema).dump(event)


def register_payloads() -> None:
    """Lend the domain the API's serializers (it never imports the API)."""
    webhook_events.register_serializers(incident=incident_payload, event=event_payload)
