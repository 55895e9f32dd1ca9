"""The tables. Data only: the values they store come from the enums modules
(`app.incidents.enums`, `app.auth.roles`, `app.mail.enums`), the rules live in
`app.incidents.lifecycle` and the services; nothing here imports either."""
from datetime import UTC, datetime
from typing import Any

from flask_login import UserMixin
from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text, types
from sqlalchemy import false as sa_false
from sqlalchemy import true as sa_true
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.auth.roles import Role
from app.auth.usernames import username_key
from app.extensions import db
from app.incidents import references
from app.incidents.enums import Category, EventKind, Priority, Severity, SlaCalendar, Status, Urgency
from app.mail.enums import InboundOutcome, OutboxStatus, WebhookStatus

# The id columns are INTEGER: 32 bits on PostgreSQL, where a wider id is "integer out of range"
# (a 500). Routes, filters and cursors refuse anything larger before it reaches SQL.
MAX_ID = 2**31 - 1


def utcnow() -> datetime:
    """Now, in UTC, timezone-aware (the callable every time column defaults to)."""
    return datetime.now(UTC)


class UTCDateTime(types.TypeDecorator):
    """Stores naive UTC, hands back aware UTC, on SQLite and PostgreSQL alike."""

    impl = types.DateTime
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is not None and value.tzinfo is not None:
            value = value.astimezone(UTC).replace(tzinfo=None)
        return value

    def process_result_value(self, value, dialect):
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value


class SeverityType(types.TypeDecorator):
    """Severity stored as its rank (1-4) so that sorting by severity is an index walk."""

    impl = types.SmallInteger
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        return Severity(value).rank

    def process_result_value(self, value, dialect):
        return None if value is None else list(Severity)[value - 1]


def _enum(enum_cls) -> types.Enum:
    """A portable VARCHAR enum storing the lowercase values."""
    return types.Enum(
        enum_cls,
        native_enum=False,
        create_constraint=False,
        length=20,
        values_callable=lambda members: [m.value for m in members],
        validate_strings=True,
    )


def _username_key_of_row(context) -> str:
    return username_key(context.get_current_parameters()["username"])


class User(UserMixin, db.Model):
    """Someone who logs in. Never hard-deleted: `active=False` instead."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    # What makes a username unique (app.auth.usernames), filled from `username` on insert.
    username_key: Mapped[str] = mapped_column(String(80), index=True, unique=True,
                                              default=_username_key_of_row)
    name: Mapped[str] = mapped_column(String(120))
    email: Mapped[str] = mapped_column(String(254))
    role: Mapped[Role] = mapped_column(_enum(Role), index=True)
    password_hash: Mapped[str] = mapped_column(String(256))
    active: Mapped[bool] = mapped_column(default=True)
    # Part of every session's identity: bumping it (logout, password change) ends all sessions,
    # including copies of a cookie taken before.
    session_version: Mapped[int] = mapped_column(default=0, server_default="0")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Two-factor sign-in (TOTP, RFC 6238): the shared secret (base32) once set up, when it was
    # confirmed with a first code, and the last time step accepted (a code is good once).
    totp_secret: Mapped[str | None] = mapped_column(String(64))
    totp_enabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    totp_last_step: Mapped[int | None] = mapped_column(Integer)
    # Which mail a watcher gets (app.incidents.notifications): each category can be switched off.
    notify_comments: Mapped[bool] = mapped_column(default=True, server_default=sa_true())
    notify_status: Mapped[bool] = mapped_column(default=True, server_default=sa_true())
    notify_sla: Mapped[bool] = mapped_column(default=True, server_default=sa_true())

    @property
    def is_active(self) -> bool:  # Flask-Login refuses inactive users' sessions
        return self.active

    def get_id(self) -> str:
        """The session identity Flask-Login stores: id and session version."""
        return f"{self.id}:{self.session_version}"

    def __repr__(self) -> str:
        return f"<User {self.username} {self.role.value}>"


class Incident(db.Model):
    """One incident. `version` is bumped by SQLAlchemy on every UPDATE of the row."""

    __tablename__ = "incidents"

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text)
    severity: Mapped[Severity] = mapped_column(SeverityType, default=Severity.MEDIUM)
    category: Mapped[Category] = mapped_column(_enum(Category), default=Category.OTHER)
    urgency: Mapped[Urgency] = mapped_column(_enum(Urgency), default=Urgency.MEDIUM, server_default="medium")
    # Derived from severity and urgency (app.incidents.priority) by the service, stored to filter and sort.
    priority: Mapped[Priority] = mapped_column(_enum(Priority))
    status: Mapped[Status] = mapped_column(_enum(Status), default=Status.OPEN)
    reporter_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    technician_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    resolution_notes: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    assigned_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    version: Mapped[int] = mapped_column(Integer, nullable=False)
    # SLA (app.incidents.sla): the targets the incident holds, copied from its priority's policy
    # when it got that priority, and its clocks, derived from its timeline (app.incidents.clocks).
    sla_calendar: Mapped[SlaCalendar] = mapped_column(_enum(SlaCalendar))
    response_target_minutes: Mapped[int] = mapped_column(Integer)
    resolve_target_minutes: Mapped[int] = mapped_column(Integer)
    responded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Always set; nullable only because SQLite cannot add a NOT NULL column without a default.
    response_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    response_warn_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resolve_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resolve_warn_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resolve_spent_seconds: Mapped[int] = mapped_column(Integer, default=0)
    sla_notices: Mapped[int] = mapped_column(Integer, default=0)
    sla_next_check_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    reporter: Mapped[User] = relationship(foreign_keys=[reporter_id], lazy="joined", innerjoin=True)
    technician: Mapped[User | None] = relationship(foreign_keys=[technician_id], lazy="joined")

    __mapper_args__ = {"version_id_col": version}
    # Every list filter and sort has an index ending in the sort key, newest first. Three also
    # carry what the reports read (app.incidents.reports), so an ungrouped report, and the backlog
    # in any grouping, read no table row: created_at the response figures, resolved_at the resolve
    # figures, status_created the open incidents' groupings.
    __table_args__ = (
        Index("ix_incidents_created_at", "created_at", "id", "responded_at", "response_due_at"),
        Index("ix_incidents_updated_at", "updated_at", "id"),
        Index("ix_incidents_status_created", "status", "created_at", "id",
              "severity", "priority", "category", "technician_id"),
        Index("ix_incidents_severity_created", "severity", "created_at", "id"),
        Index("ix_incidents_category_created", "category", "created_at", "id"),
        Index("ix_incidents_reporter_created", "reporter_id", "created_at", "id"),
        Index("ix_incidents_technician_created", "technician_id", "created_at", "id"),
        Index("ix_incidents_technician_status", "technician_id", "status", "created_at", "id"),
        Index("ix_incidents_status_severity", "status", "severity", "created_at", "id"),
        Index("ix_incidents_priority_created", "priority", "created_at", "id"),
        Index("ix_incidents_urgency_created", "urgency", "created_at", "id"),
        Index("ix_incidents_resolve_due", "resolve_due_at", "id"),
        Index("ix_incidents_resolved_at", "resolved_at", "created_at", "resolve_spent_seconds",
              "resolve_target_minutes"),
        Index("ix_incidents_sla_next_check", "sla_next_check_at"),
    )

    @property
    def reference(self) -> str:
        """The human reference, `INC-<id>`."""
        return references.reference(self.id)

    def __repr__(self) -> str:
        return f"<Incident {self.reference} {self.status.value}>"


class SlaPolicy(db.Model):
    """The SLA targets of one priority (defaults in app.incidents.sla). An incident copies them
    when it gets its priority, so a change applies to incidents from then on."""

    __tablename__ = "sla_policies"

    priority: Mapped[Priority] = mapped_column(_enum(Priority), primary_key=True)
    response_minutes: Mapped[int] = mapped_column(Integer)
    resolve_minutes: Mapped[int] = mapped_column(Integer)
    calendar: Mapped[SlaCalendar] = mapped_column(_enum(SlaCalendar))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))


class IncidentTally(db.Model):
    """Running counts of incidents per scope and (status, severity, category), kept by the service
    in the same transaction as each change, so list totals and dashboard numbers never scan
    the incidents table. Scopes: `all`, `tech:<id>` (`tech:0` = unassigned), `reporter:<id>`."""

    __tablename__ = "incident_tallies"

    scope: Mapped[str] = mapped_column(String(40), primary_key=True)
    status: Mapped[Status] = mapped_column(_enum(Status), primary_key=True)
    severity: Mapped[Severity] = mapped_column(SeverityType, primary_key=True)
    category: Mapped[Category] = mapped_column(_enum(Category), primary_key=True)
    n: Mapped[int] = mapped_column(default=0)


class IncidentEvent(db.Model):
    """One entry of an incident's timeline. Append-only: nothing updates or deletes these."""

    __tablename__ = "incident_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id"))
    # None for what the portal itself records (SLA warnings), no person's doing.
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    kind: Mapped[EventKind] = mapped_column(_enum(EventKind))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    from_status: Mapped[Status | None] = mapped_column(_enum(Status))
    to_status: Mapped[Status | None] = mapped_column(_enum(Status))
    changes: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    body: Mapped[str | None] = mapped_column(Text)
    # A staff-only note (or an internal attachment's event): never shown to reporters, never mailed
    # to them, not a response for the SLA clocks.
    internal: Mapped[bool] = mapped_column(default=False, server_default=sa_false())
    # How the change reached the portal when not through the web or the API: "email" (app/mail/inbound).
    via: Mapped[str | None] = mapped_column(String(10))

    actor: Mapped[User | None] = relationship(lazy="joined")

    __table_args__ = (Index("ix_incident_events_incident", "incident_id", "id"),)


class IncidentWatcher(db.Model):
    """Someone who hears about an incident's events (app.incidents.watchers). The reporter and the
    assigned technician are added automatically; anyone who may see it can add themselves."""

    __tablename__ = "incident_watchers"

    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    user: Mapped[User] = relationship(lazy="joined", innerjoin=True)

    __table_args__ = (Index("ix_incident_watchers_user", "user_id", "incident_id"),)


class Attachment(db.Model):
    """A file attached to an incident (app.incidents.attachments). The bytes live under
    `instance/attachments/`, named by their sha256; `filename` is the client's name, sanitized,
    for display and the download only. `content_type` is detected from the bytes."""

    __tablename__ = "attachments"

    id: Mapped[int] = mapped_column(primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id"))
    event_id: Mapped[int | None] = mapped_column(ForeignKey("incident_events.id"))
    filename: Mapped[str] = mapped_column(String(255))
    size: Mapped[int] = mapped_column(Integer)
    content_type: Mapped[str] = mapped_column(String(100))
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    uploaded_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    internal: Mapped[bool] = mapped_column(default=False, server_default=sa_false())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    uploaded_by: Mapped[User] = relationship(lazy="joined", innerjoin=True)

    __table_args__ = (Index("ix_attachments_incident", "incident_id", "id"),)


class LoginThrottle(db.Model):
    """Failed sign-ins of one username from one client address, shared by every worker: after a
    few, that client (and only that client) waits. `key` is a SHA-256 of the pair."""

    __tablename__ = "login_throttles"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    failures: Mapped[int] = mapped_column(default=0)
    blocked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)


class RecoveryCode(db.Model):
    """A single-use two-factor recovery code. Only its SHA-256 is stored; the code is shown once."""

    __tablename__ = "recovery_codes"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    code_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class ApiToken(db.Model):
    """A bearer token. Only its SHA-256 is stored; the token itself is shown once."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(100), default="api")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    user: Mapped[User] = relationship(lazy="joined", innerjoin=True)


class OutboxMessage(db.Model):
    """A mail to send, written in the same transaction as the change that caused it."""

    __tablename__ = "outbox_messages"

    id: Mapped[int] = mapped_column(primary_key=True)
    incident_id: Mapped[int | None] = mapped_column(ForeignKey("incidents.id"))
    event: Mapped[str] = mapped_column(String(30))
    recipient: Mapped[str] = mapped_column(String(254))
    subject: Mapped[str] = mapped_column(String(300))
    body_text: Mapped[str] = mapped_column(Text)
    body_html: Mapped[str] = mapped_column(Text)
    status: Mapped[OutboxStatus] = mapped_column(_enum(OutboxStatus), default=OutboxStatus.PENDING)
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    claimed_by: Mapped[str | None] = mapped_column(String(100))
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (Index("ix_outbox_due", "status", "next_attempt_at"),)


class InboundMessage(db.Model):
    """One inbound mail the portal has read (app/mail/inbound), whatever became of it: the record
    that makes a second copy of the same Message-ID a duplicate, and the log admins read."""

    __tablename__ = "inbound_messages"

    id: Mapped[int] = mapped_column(primary_key=True)
    # SHA-256 of the Message-ID as written (or of the raw bytes when there is none): unique, so two
    # pollers racing on one message cannot both handle it.
    message_key: Mapped[str] = mapped_column(String(64), unique=True)
    message_id: Mapped[str] = mapped_column(String(255), default="")
    sender: Mapped[str] = mapped_column(String(254), default="")
    subject: Mapped[str] = mapped_column(String(300), default="")
    outcome: Mapped[InboundOutcome] = mapped_column(_enum(InboundOutcome))
    detail: Mapped[str | None] = mapped_column(String(1000))
    incident_id: Mapped[int | None] = mapped_column(ForeignKey("incidents.id"))
    event_id: Mapped[int | None] = mapped_column(ForeignKey("incident_events.id"))
    # An unknown sender is told why at most once a day: this row's mail was that reply.
    replied: Mapped[bool] = mapped_column(default=False, server_default=sa_false())
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (Index("ix_inbound_messages_sender", "sender", "received_at"),)


class WebhookEndpoint(db.Model):
    """Where an admin wants incident events POSTed (app/webhooks). The signing secrets are kept
    encrypted with a key derived from SECRET_KEY (they must be read to sign, so they cannot be
    hashed); the previous secret keeps signing beside the new one until `previous_secret_until`."""

    __tablename__ = "webhook_endpoints"

    id: Mapped[int] = mapped_column(primary_key=True)
    url: Mapped[str] = mapped_column(String(2000))
    description: Mapped[str] = mapped_column(String(500), default="")
    events: Mapped[list[str]] = mapped_column(JSON, default=list)
    active: Mapped[bool] = mapped_column(default=True, server_default=sa_true())
    secret_encrypted: Mapped[str] = mapped_column(Text)
    previous_secret_encrypted: Mapped[str | None] = mapped_column(Text)
    previous_secret_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Set when deliveries start failing, cleared by a success: 24 h of it disables the endpoint.
    failing_since: Mapped[datetime | None] = mapped_column(UTCDateTime)
    disabled_reason: Mapped[str | None] = mapped_column(String(300))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class WebhookDelivery(db.Model):
    """One event for one endpoint, written in the same transaction as the change (an outbox row),
    then POSTed in the background with retries. `payload` is the JSON body, fixed when queued;
    `webhook_id` is the `webhook-id` header, the same on every attempt and replay of this row."""

    __tablename__ = "webhook_deliveries"

    id: Mapped[int] = mapped_column(primary_key=True)
    endpoint_id: Mapped[int] = mapped_column(ForeignKey("webhook_endpoints.id"))
    incident_id: Mapped[int | None] = mapped_column(ForeignKey("incidents.id"))
    event_type: Mapped[str] = mapped_column(String(40))
    webhook_id: Mapped[str] = mapped_column(String(64), unique=True)
    payload: Mapped[str] = mapped_column(Text)
    status: Mapped[WebhookStatus] = mapped_column(_enum(WebhookStatus), default=WebhookStatus.PENDING)
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    claimed_by: Mapped[str | None] = mapped_column(String(100))
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_status_code: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(Text)
    last_duration_ms: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (Index("ix_webhook_deliveries_due", "status", "next_attempt_at"),
                      Index("ix_webhook_deliveries_endpoint", "endpoint_id", "id"))


class SavedView(db.Model):
    """A list view saved under a name (app.incidents.saved_views): the list's filters, as
    `GET /incidents/` names them, and its sort. Its owner sees it; `shared` (admins only) shows it to
    everyone. Names are unique per owner."""

    __tablename__ = "saved_views"

    id: Mapped[int] = mapped_column(primary_key=True)
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    name: Mapped[str] = mapped_column(String(80))
    filters: Mapped[dict[str, Any]] = mapped_column(JSON)
    sort: Mapped[str] = mapped_column(String(30))
    shared: Mapped[bool] = mapped_column(default=False, server_default=sa_false())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    owner: Mapped[User] = relationship(lazy="joined", innerjoin=True)

    __table_args__ = (Index("ux_saved_views_owner_name", "owner_id", "name", unique=True),
                      Index("ix_saved_views_shared", "shared", "name"))
