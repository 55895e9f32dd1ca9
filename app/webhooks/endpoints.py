"""Admins' webhook endpoints: the use cases the API, the pages and the CLI share.

Admins only (PermissionDenied otherwise); each use case is one transaction. A new or rotated secret
is returned once, to be shown once: only its encrypted form is kept (app/webhooks/secrets.py)."""
from datetime import datetime, timedelta
from typing import Any

from flask import current_app
from sqlalchemy import delete, select

from app.auth.roles import Role
from app.database import write_transaction
from app.exceptions import InvalidInput, NotFound, PermissionDenied, TransitionNotAllowed
from app.extensions import db
from app.incidents.validation import clean_text
from app.mail.enums import WebhookStatus
from app.models import User, WebhookDelivery, WebhookEndpoint, utcnow
from app.unset import UNSET
from app.webhooks import events as webhook_events
from app.webhooks import guard, secrets

DESCRIPTION_MAX = 500
# How long a rotated-out secret keeps signing beside the new one (SPEC: 24 h).
ROTATION_OVERLAP = timedelta(hours=24)
DELIVERIES_MAX_LIMIT = 200


def create_endpoint(*, actor: User, url: str, events: list[str], description: str = "",
                    active: bool = True) -> tuple[WebhookEndpoint, str]:
    """A new endpoint and its secret (`whsec_...`): the only time the secret is handed out."""
    _admin(actor)
    fields = _validated({"url": url, "events": events, "description": description, "active": active})
    secret = secrets.new_secret()
    with write_transaction():
        now = utcnow()
        endpoint = WebhookEndpoint(**fields, secret_encrypted=secrets.encrypt(secret), created_by_id=actor.id,
                                   created_at=now, updated_at=now)
        db.session.add(endpoint)
    return endpoint, secret


def update_endpoint(*, actor: User, endpoint_id: int, url: str = UNSET, events: list[str] = UNSET,
                    description: str = UNSET, active: bool = UNSET) -> WebhookEndpoint:
    """Change what is given; turning an endpoint back on clears why and since when it was failing."""
    _admin(actor)
    given = {name: value for name, value in
             {"url": url, "events": events, "description": description, "active": active}.items()
             if value is not UNSET}
    fields = _validated(given)
    with write_transaction():
        endpoint = _load(endpoint_id)
        if fields.get("active") is True and not endpoint.active:
            endpoint.disabled_reason = None
            endpoint.failing_since = None
        if fields.get("active") is False:
            endpoint.disabled_reason = None  # turned off by hand: no failure to explain
        for name, value in fields.items():
            setattr(endpoint, name, value)
        endpoint.updated_at = utcnow()
    return endpoint


def delete_endpoint(*, actor: User, endpoint_id: int) -> None:
    """Remove the endpoint and its whole delivery log (nothing more is sent to it)."""
    _admin(actor)
    with write_transaction():
        endpoint = _load(endpoint_id)
        db.session.execute(delete(WebhookDelivery).where(WebhookDelivery.endpoint_id == endpoint.id)
                           .execution_options(synchronize_session=False))
        db.session.delete(endpoint)


def rotate_secret(*, actor: User, endpoint_id: int, now: datetime | None = None) -> tuple[WebhookEndpoint, str]:
    """A new secret; the current one keeps signing beside it for 24 h (a secret rotated out earlier
    and still in its window is dropped: two at most). The new secret is returned this once."""
    _admin(actor)
    secret = secrets.new_secret()
    with write_transaction():
        now = now or utcnow()
        endpoint = _load(endpoint_id)
        try:
            secrets.decrypt(endpoint.secret_encrypted)
            endpoint.previous_secret_encrypted = endpoint.secret_encrypted
            endpoint.previous_secret_until = now + ROTATION_OVERLAP
        except secrets.SecretUnreadable:  # SECRET_KEY changed: the old one cannot sign anything
            endpoint.previous_secret_encrypted = None
            endpoint.previous_secret_until = None
        endpoint.secret_encrypted = secrets.encrypt(secret)
        endpoint.updated_at = now
    return endpoint, secret


def rotating_until(endpoint: WebhookEndpoint, *, now: datetime | None = None) -> datetime | None:
    """Until when the previous secret still signs too, or None when only the current one does."""
    until = endpoint.previous_secret_until
    return until if endpoint.previous_secret_encrypted and until and until > (now or utcnow()) else None


def list_endpoints(*, actor: User) -> list[WebhookEndpoint]:
    """Every endpoint, oldest first."""
    _admin(actor)
    return list(db.session.scalars(select(WebhookEndpoint).order_by(WebhookEndpoint.id)))


def get_endpoint(*, actor: User, endpoint_id: int) -> WebhookEndpoint:
    """One endpoint; NotFound when there is no such endpoint."""
    _admin(actor)
    return _load(endpoint_id)


def list_deliveries(*, actor: User, endpoint_id: int, limit: int = 50,
                    before: int | None = None) -> list[WebhookDelivery]:
    """The endpoint's deliveries, newest first; `before` (a delivery id) pages back from there."""
    _admin(actor)
    _load(endpoint_id)
    errors = {}
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= DELIVERIES_MAX_LIMIT:
        errors["limit"] = [f"A whole number from 1 to {DELIVERIES_MAX_LIMIT}."]
    if before is not None and (isinstance(before, bool) or not isinstance(before, int) or before < 1):
        errors["before"] = ["A delivery id (a positive whole number)."]
    if errors:
        raise InvalidInput(errors)
    query = select(WebhookDelivery).where(WebhookDelivery.endpoint_id == endpoint_id)
    if before is not None:
        query = query.where(WebhookDelivery.id < before)
    return list(db.session.scalars(query.order_by(WebhookDelivery.id.desc()).limit(limit)))


def get_delivery(*, actor: User, delivery_id: int) -> WebhookDelivery:
    """One delivery; NotFound when there is no such delivery."""
    _admin(actor)
    delivery = db.session.get(WebhookDelivery, delivery_id)
    if delivery is None:
        raise NotFound(f"Webhook delivery {delivery_id} was not found.")
    return delivery


def replayable(delivery: WebhookDelivery) -> bool:
    """Whether a replay may take the delivery: delivered, failed, or waiting for its next retry (then
    it goes now); not while a sender holds it (the attempt in flight is recorded first)."""
    return delivery.status != WebhookStatus.SENDING


def replay(*, actor: User, delivery_id: int) -> WebhookDelivery:
    """Send a delivery again, or now rather than at its next retry: the same row, body and
    `webhook-id` (receivers deduplicate on it), attempts from zero, due now. 409 while it is being
    sent or the endpoint is off."""
    _admin(actor)
    with write_transaction():
        delivery = db.session.get(WebhookDelivery, delivery_id, with_for_update=True)
        if delivery is None:
            raise NotFound(f"Webhook delivery {delivery_id} was not found.")
        if not replayable(delivery):
            raise TransitionNotAllowed(f"Webhook delivery {delivery_id} is being sent now; replay it once "
                                       "that attempt is recorded.")
        endpoint = db.session.get(WebhookEndpoint, delivery.endpoint_id)
        if not endpoint.active:
            raise TransitionNotAllowed(f"Webhook endpoint {endpoint.id} is turned off; turn it on first.")
        delivery.status = WebhookStatus.PENDING
        delivery.attempts = 0
        delivery.next_attempt_at = utcnow()
        delivery.delivered_at = None
        delivery.claimed_by = None
        delivery.claimed_at = None
    return delivery


def _admin(actor: User) -> None:
    if actor.role != Role.ADMIN:
        raise PermissionDenied("Only admins manage webhooks.")


def _load(endpoint_id: int) -> WebhookEndpoint:
    endpoint = db.session.get(WebhookEndpoint, endpoint_id)
    if endpoint is None:
        raise NotFound(f"Webhook endpoint {endpoint_id} was not found.")
    return endpoint


def _validated(given: dict[str, Any]) -> dict[str, Any]:
    """The given fields checked and cleaned; InvalidInput naming every bad one."""
    clean: dict[str, Any] = {}
    errors: dict[str, list[str]] = {}
    checks = {"url": _url, "events": _events, "description": _description, "active": _active}
    for name, value in given.items():
        try:
            clean[name] = checks[name](value)
        except InvalidInput as exc:
            errors.update(exc.errors)
    if errors:
        raise InvalidInput(errors)
    return clean


def _url(value: Any) -> str:
    return guard.check_url(value, allow_private=bool(current_app.config["WEBHOOK_ALLOW_PRIVATE"]))


def _events(value: Any) -> list[str]:
    known = ", ".join((*webhook_events.EVENT_TYPES, webhook_events.EVERY))
    if not isinstance(value, list | tuple) or not value or not all(isinstance(item, str) for item in value):
        raise InvalidInput.field("events", f"A non-empty list of event types: {known}.")
    unknown = [item for item in value if item not in (*webhook_events.EVENT_TYPES, webhook_events.EVERY)]
    if unknown:
        raise InvalidInput.field("events", f"Unknown event type(s) {', '.join(unknown)}; one of {known}.")
    if webhook_events.EVERY in value:
        return [webhook_events.EVERY]
    return [kind for kind in webhook_events.EVENT_TYPES if kind in value]


def _description(value: Any) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise InvalidInput.field("description", "Must be text.")
    if not value.strip():
        return ""
    errors: dict[str, list[str]] = {}
    text = clean_text(value, field="description", max_length=DESCRIPTION_MAX, errors=errors)
    if errors:  # too long, or control characters (a NUL would be a 500 on PostgreSQL)
        raise InvalidInput(errors)
    return text


def _active(value: Any) -> bool:
    if not isinstance(value, bool):
        raise InvalidInput.field("active", "Must be true or false.")
    return value
