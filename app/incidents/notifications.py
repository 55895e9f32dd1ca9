"""Who hears about what: which mail each incident event writes to the outbox, and to whom.

The rule, in one place (docs/notifications.md has it as a table):

- `created` mails every active admin and sends the reporter a confirmation; no switch turns it off.
- Every other event in `RULES` mails the incident's watchers (app.incidents.watchers: the reporter
  and the assigned technician automatically, anyone else who chose to), except the person who
  acted. SLA notices also reach the people who must act: a warning the technician (every active
  admin while nobody active is assigned), a breach the technician and every active admin.
- A recipient must be active, have an address, still be allowed to see the incident (a technician
  made a reporter keeps their watch rows but hears nothing of others' incidents) and have the
  event's category switched on (`comments`, `status`, `sla`: `/ui/account`, `PATCH /me`).
- One message per address per event. Internal notes and attachment events mail nobody.

Called only from the service and the SLA check, inside their transaction, so a rolled-back change
sends nothing and a committed one is never forgotten. Bodies are rendered now, from the incident as
this change leaves it; delivery happens later, outside the request (app/mail)."""
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from flask import current_app, render_template
from sqlalchemy import select

from app.auth.roles import Role
from app.database import write_transaction
from app.exceptions import InvalidInput
from app.extensions import db
from app.incidents import watchers
from app.incidents.enums import Clock, EventKind, SlaCalendar
from app.incidents.lifecycle import can_see
from app.incidents.references import absolute_url, incident_url
from app.mail.enums import INBOUND_REFUSED_EVENT
from app.models import Incident, IncidentEvent, OutboxMessage, User, WebhookEndpoint
from app.times import human_text
from app.webhooks import events as webhooks


class Category(StrEnum):
    """What a user can switch off: each names the User column that holds the switch."""

    COMMENTS = "comments"
    STATUS = "status"
    SLA = "sla"

    @property
    def column(self) -> str:
        return f"notify_{self.value}"


class Mail(StrEnum):
    """Each mail the portal writes about an incident; the value is its template under email/ and the
    outbox row's `event`."""

    CREATED = "created"
    CREATED_CONFIRMATION = "created_confirmation"
    ASSIGNED = "assigned"
    REASSIGNED = "reassigned"
    UNASSIGNED = "unassigned"
    STARTED = "started"
    ON_HOLD = "on_hold"
    RESUMED = "resumed"
    RESOLVED = "resolved"
    CLOSED = "closed"
    REOPENED = "reopened"
    COMMENTED = "commented"
    SLA_WARNING = "sla_warning"
    SLA_BREACHED = "sla_breached"


@dataclass(frozen=True)
class Rule:
    """A mail's switch (None: always sent), template and subject label (formatted with its context)."""

    category: Category | None
    template: str
    label: str


RULES: dict[Mail, Rule] = {
    Mail.CREATED: Rule(None, "created", "Created"),
    Mail.CREATED_CONFIRMATION: Rule(None, "created_confirmation", "Created"),
    Mail.ASSIGNED: Rule(Category.STATUS, "assigned", "Assigned"),
    Mail.REASSIGNED: Rule(Category.STATUS, "assigned", "Reassigned"),
    Mail.UNASSIGNED: Rule(Category.STATUS, "unassigned", "Unassigned"),
    Mail.STARTED: Rule(Category.STATUS, "started", "Started"),
    Mail.ON_HOLD: Rule(Category.STATUS, "on_hold", "On hold"),
    Mail.RESUMED: Rule(Category.STATUS, "resumed", "Resumed"),
    Mail.RESOLVED: Rule(Category.STATUS, "resolved", "Resolved"),
    Mail.CLOSED: Rule(Category.STATUS, "closed", "Closed"),
    Mail.REOPENED: Rule(Category.STATUS, "reopened", "Reopened"),
    Mail.COMMENTED: Rule(Category.COMMENTS, "commented", "Comment"),
    Mail.SLA_WARNING: Rule(Category.SLA, "sla_warning", "SLA warning: {clock} due {due}"),
    Mail.SLA_BREACHED: Rule(Category.SLA, "sla_breached", "SLA breached: {clock} was due {due}"),
}

# The timeline event of each move, and the mail it writes (start is the status_changed into in progress).
MOVES: dict[EventKind, Mail] = {
    EventKind.STATUS_CHANGED: Mail.STARTED,
    EventKind.ON_HOLD: Mail.ON_HOLD,
    EventKind.RESUMED: Mail.RESUMED,
    EventKind.RESOLVED: Mail.RESOLVED,
    EventKind.CLOSED: Mail.CLOSED,
    EventKind.REOPENED: Mail.REOPENED,
}


# ---- the hooks the service and the SLA check call -------------------------------------------

def incident_created(incident: Incident) -> None:
    """A confirmation to the reporter, and the new incident to every active admin (not switchable)."""
    queued: set[str] = set()
    _queue(incident, Mail.CREATED_CONFIRMATION, incident.reporter, queued)
    for admin in _active_admins():
        _queue(incident, Mail.CREATED, admin, queued)
    webhooks.queue(webhooks.CREATED, incident)


def incident_assigned(incident: Incident, event: IncidentEvent, *, previous_technician: User | None) -> None:
    """Assigned or reassigned: the watchers, the new technician among them (the service made them one)."""
    mail = Mail.REASSIGNED if previous_technician else Mail.ASSIGNED
    _notify(incident, mail, event=event, previous_technician=previous_technician)
    webhooks.queue(webhooks.ASSIGNED, incident, event)


def incident_unassigned(incident: Incident, event: IncidentEvent, *, previous_technician: User) -> None:
    """Back in the queue without a technician (a handover): the watchers."""
    _notify(incident, Mail.UNASSIGNED, event=event, previous_technician=previous_technician)
    webhooks.queue(webhooks.STATUS_CHANGED, incident, event)  # back to open: a status change to receivers


def status_changed(incident: Incident, event: IncidentEvent) -> None:
    """A move (start, on hold, resumed, resolved, closed, reopened): the watchers."""
    _notify(incident, MOVES[EventKind(event.kind)], event=event)
    webhooks.queue(webhooks.STATUS_CHANGED, incident, event)


def comment_added(incident: Incident, event: IncidentEvent) -> None:
    """A public comment: the watchers. An internal note mails nobody (a reporter never learns of one)."""
    if event.internal:
        return
    _notify(incident, Mail.COMMENTED, event=event)
    webhooks.queue(webhooks.COMMENTED, incident, event)


def sla_warning(incident: Incident, *, clock: Clock, due_at: datetime, seconds_left: int) -> None:
    """A clock passed 80 %: its technician, or every active admin while nobody active is assigned; and
    the watchers."""
    technician = incident.technician
    first = [technician] if technician is not None and technician.active else _active_admins()
    _notify(incident, Mail.SLA_WARNING, also=first, **_sla_context(incident, clock, due_at, seconds_left))


def sla_breached(incident: Incident, *, clock: Clock, due_at: datetime, seconds_left: int) -> None:
    """A clock ran out: its technician, if any, every active admin, and the watchers."""
    first = [incident.technician, *_active_admins()]
    _notify(incident, Mail.SLA_BREACHED, also=first, **_sla_context(incident, clock, due_at, seconds_left))
    webhooks.queue(webhooks.SLA_BREACHED, incident)


# ---- mail about the portal's integrations (about no incident; no switch turns it off) -----------

def webhook_disabled(endpoint: WebhookEndpoint) -> None:
    """A webhook endpoint was turned off (410 Gone, or 24 h of failures): every active admin, once
    per address, with the reason and a link to its delivery log."""
    link = absolute_url("web.webhook_deliveries", endpoint_id=endpoint.id)
    queued: set[str] = set()
    for admin in _active_admins():
        address = (admin.email or "").strip().lower()
        if not address or address in queued:
            continue
        queued.add(address)
        context = {"endpoint": endpoint, "reason": endpoint.disabled_reason, "link": link, "recipient": admin}
        db.session.add(OutboxMessage(
            incident_id=None, event="webhook_disabled", recipient=admin.email,
            subject=f"Webhook endpoint #{endpoint.id} turned off",
            body_text=render_template("email/webhook_disabled.txt", **context),
            body_html=render_template("email/webhook_disabled.html", **context)))


def inbound_refused(address: str, *, at: datetime) -> None:
    """The answer to a mail from an address no active user has (app/mail/inbound decides whether
    one is due: once a day, never to a robot); sent as Auto-Submitted: auto-replied."""
    context = {"address": address, "portal": current_app.config["APP_BASE_URL"]}
    db.session.add(OutboxMessage(
        incident_id=None, event=INBOUND_REFUSED_EVENT, recipient=address,
        subject="Your mail to the incident portal was not accepted",
        body_text=render_template("email/inbound_refused.txt", **context),
        body_html=render_template("email/inbound_refused.html", **context),
        created_at=at, next_attempt_at=at))


# ---- each user's switches ---------------------------------------------------------------------

def switches_of(user: User) -> dict[str, bool]:
    """The user's categories, on or off: {"comments": True, "status": True, "sla": False}."""
    return {category.value: getattr(user, category.column) for category in Category}


def set_switches(*, user: User, switches: dict[str, bool]) -> User:
    """Turn categories on or off (those not named stay as they are); one transaction.

    The one home of this change: `PATCH /me` and the account page both call it."""
    errors = {name: ["Must be true or false."] for name, on in switches.items() if not isinstance(on, bool)}
    errors |= {name: [f"Unknown category; one of {', '.join(Category)}."]
               for name in switches if name not in set(Category)}
    if errors:
        raise InvalidInput({f"notify.{name}": messages for name, messages in errors.items()})
    with write_transaction():
        for name, on in switches.items():
            setattr(user, Category(name).column, on)
    return user


# ---- the rule ---------------------------------------------------------------------------------

def recipients(incident: Incident, mail: Mail, *, actor: User | None, also: Iterable[User | None] = ()) -> list[User]:
    """Who gets `mail` about `incident`: `also` (the SLA notices' people) then the watchers, minus
    the actor, anyone inactive or no longer allowed to see the incident, and anyone who switched the
    mail's category off. Duplicates (by address) are left to `_queue`."""
    category = RULES[mail].category
    chosen: dict[int, User] = {}
    for user in [*also, *watchers.watchers_of(incident)]:
        if user is None or user.id in chosen or (actor is not None and user.id == actor.id):
            continue
        if not user.active or not can_see(user, incident):
            continue
        if category is not None and not getattr(user, category.column):
            continue
        chosen[user.id] = user
    return list(chosen.values())


def _notify(incident: Incident, mail: Mail, *, event: IncidentEvent | None = None,
            also: Iterable[User | None] = (), **extra) -> None:
    actor = event.actor if event is not None else None
    queued: set[str] = set()
    for user in recipients(incident, mail, actor=actor, also=also):
        _queue(incident, mail, user, queued, event=event, actor=actor, **extra)


def _sla_context(incident: Incident, clock: Clock, due_at: datetime, seconds_left: int) -> dict:
    business = SlaCalendar(incident.sla_calendar) == SlaCalendar.BUSINESS
    return {
        "clock": clock.value,
        "due": human_text(due_at),
        "left": _duration(abs(seconds_left)),
        "overdue": seconds_left < 0,
        "counted": "in business hours" if business else "around the clock",
        "target": _duration(60 * (incident.response_target_minutes if clock == Clock.RESPONSE
                                  else incident.resolve_target_minutes)),
    }


def _duration(seconds: int) -> str:
    """'2 d 3 h', '1 h 5 min', '45 s': the two largest units, enough to act on."""
    minutes, secs = divmod(seconds, 60)
    hours, minutes = divmod(minutes, 60)
    days, hours = divmod(hours, 24)
    parts = [(days, "d"), (hours, "h"), (minutes, "min")]
    while parts and parts[0][0] == 0:
        parts.pop(0)
    if not parts:
        return f"{secs} s"
    return " ".join(f"{value} {unit}" for value, unit in parts[:2] if value)


def _active_admins() -> list[User]:
    return list(db.session.scalars(
        select(User).where(User.role == Role.ADMIN, User.active.is_(True)).order_by(User.id)
    ))


def _audience(incident: Incident, recipient: User) -> str:
    """How a mail speaks to its recipient: to the technician ("assigned to you"), to the reporter
    ("your incident"), or to anyone else watching."""
    if recipient.id == incident.technician_id:
        return "technician"
    if recipient.id == incident.reporter_id:
        return "reporter"
    return "watcher"


def _queue(incident: Incident, mail: Mail, recipient: User | None, queued: set[str], **extra) -> None:
    # One mail per address per event: an admin who reports an incident gets the confirmation only.
    if recipient is None or not recipient.active or not recipient.email:
        return
    address = recipient.email.strip().lower()
    if address in queued:
        return
    queued.add(address)
    rule = RULES[mail]
    label = rule.label.format(**extra)
    context = {
        "incident": incident,
        "recipient": recipient,
        "audience": _audience(incident, recipient),
        "event_label": label,
        "link": incident_url(incident.id),
        **extra,
    }
    db.session.add(OutboxMessage(
        incident_id=incident.id,
        event=mail.value,
        recipient=recipient.email,
        subject=f"[{incident.reference}] {label}: {incident.title}",
        body_text=render_template(f"email/{rule.template}.txt", **context),
        body_html=render_template(f"email/{rule.template}.html", **context),
    ))
