"""What the API reads and writes. The same classes validate requests and generate /openapi.json,
so the document cannot drift from the checks. Every rule the document can state (text not blank and
free of control characters, which fields go with which move) is checked here, so a body valid by
the document is one the API takes; the services check again, and who may be assigned (data, not
shape) is theirs alone."""
from dataclasses import dataclass
from functools import cache

from marshmallow import EXCLUDE, RAISE, Schema, ValidationError, fields, validate, validates_schema

from app.api.fields import (
    NO_CONTROL_CHARS,
    Choice,
    Computed,
    EmailAddress,
    EventChanges,
    Integer,
    Pattern,
    StrictBoolean,
    UTCDateTime,
)
from app.auth.roles import Role
from app.auth.service import USERNAME_RE
from app.auth.two_factor import CODE_MAX, is_enabled
from app.incidents.enums import Category, ClockState, EventKind, Priority, Severity, SlaStanding, Status, Urgency
from app.incidents.lifecycle import DESCRIPTION_MAX, TEXT_MAX, TITLE_MAX
from app.incidents.markdown import render_or_none
from app.incidents.queries import DEFAULT_PER_PAGE, DEFAULT_SORT, MAX_PER_PAGE, SORTS
from app.incidents.sla import view as sla_view
from app.models import MAX_ID

MAX_PAGE = 1_000_000
MAX_CURSOR = 400
# The service's own address rule, minus whitespace and control characters anywhere.


def _id(**kwargs) -> fields.Integer:
    return Integer(validate=validate.Range(min=1, max=MAX_ID), **kwargs)


def _fits_an_id(value: str) -> None:
    """A person filter's id must fit the INTEGER column (PostgreSQL: 'integer out of range', a 500)."""
    if value.isdigit() and int(value) > MAX_ID:
        raise ValidationError(f"Must be at most {MAX_ID}.")


# Python's whitespace beyond ASCII (str.strip() removes it too), written out so that every JSON
# Schema reader sees the same class.
_WIDE_SPACE = r"\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
# Text a person wrote, as the services take it (they strip it, then refuse it empty or holding
# control characters): something visible, and no control character but tab, CR and LF. Linear: the
# leading whitespace and the first visible character never match the same character. The empty
# string is left to the length check, so it is refused with one message, not two.
WRITTEN_TEXT = (rf"^(?:[\t\n\r {_WIDE_SPACE}]*[^\x00-\x20\x7f{_WIDE_SPACE}]"
                r"[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]*)?$")


def _html(attribute: str, *, nullable: bool) -> fields.Function:
    """Output only: the Markdown in `attribute` as sanitized HTML (app/incidents/markdown.py), the same
    HTML the incident page shows; null when there is no text."""
    def html(obj) -> str | None:
        text = getattr(obj, attribute)
        return render_or_none(text)

    nullable_note = " Null when there is none." if nullable else ""
    return fields.Function(html, required=True, allow_none=nullable, metadata={
        "type": "string",  # apispec adds "null" for allow_none
        "description": f"`{attribute}` rendered from Markdown (CommonMark, plain URLs linked) to HTML cut to an "
                       "allow-list: no raw HTML, only http, https and mailto links, each with "
                       f"rel=\"nofollow noopener noreferrer\".{nullable_note}"})


def _text(max_length: int, **kwargs) -> fields.String:
    return fields.String(validate=[validate.Length(min=1, max=max_length),
                                   Pattern(WRITTEN_TEXT, error="Must not be blank or hold control characters.")],
                         **kwargs)


class Input(Schema):
    """A request body: unknown fields are errors, not silently dropped."""

    class Meta:
        unknown = RAISE


class Query(Schema):
    """Query parameters: unknown ones are ignored, as caches and proxies add their own."""

    class Meta:
        unknown = EXCLUDE


# ---- output ---------------------------------------------------------------------------------

class UserRefSchema(Schema):
    """Who did or owns something."""

    id = fields.Integer(required=True)
    username = fields.String(required=True)
    name = fields.String(required=True)


class UserSchema(UserRefSchema):
    """A user account."""

    email = fields.String(required=True)
    role = fields.Enum(Role, by_value=fields.String, required=True)
    active = fields.Boolean(required=True)
    two_factor = fields.Function(is_enabled, required=True, metadata={
        "type": "boolean", "description": "Whether signing in takes a code from an authenticator app (TOTP) "
                                          "after the password; such an account uses tokens only on the API."})


class UserListSchema(Schema):
    items = fields.List(fields.Nested(UserSchema), required=True)


class ClockSchema(Schema):
    """One SLA clock of an incident, counted in its policy's calendar (24x7 or business hours)."""

    due_at = UTCDateTime(required=True, allow_none=True, metadata={
        "description": "When the clock runs out (a stopped clock: when it would have); null for the resolve "
                       "clock while the incident is on hold."})
    state = fields.String(required=True, validate=validate.OneOf([state.value for state in ClockState]))
    remaining_seconds = fields.Integer(required=True, allow_none=True, metadata={
        "description": "Counted seconds left until due_at, negative once overdue; while paused, what is left "
                       "when it runs again; null once the clock has stopped (met or breached for good)."})


class SlaSchema(Schema):
    """The incident's SLA clocks (SPEC "Priority and SLA"). *Response* runs from creation to the first
    assignment or staff comment; *resolve* from creation to resolution, paused while on hold."""

    response = fields.Nested(ClockSchema, required=True)
    resolve = fields.Nested(ClockSchema, required=True)
    paused = fields.Boolean(required=True, metadata={"description": "The resolve clock is paused (on hold)."})


class IncidentSummarySchema(Schema):
    """One incident as a list shows it; `version` goes up by one with every change to it. The SLA
    fields are read-only: they follow from the timeline and the policy of the incident's priority.
    The rendered `*_html` fields are left out of lists (rendering is most of a page's cost); read
    the incident itself for them."""

    id = fields.Integer(required=True)
    reference = fields.String(required=True, metadata={"example": "INC-42"})
    title = fields.String(required=True)
    description = fields.String(required=True)
    severity = fields.Enum(Severity, by_value=fields.String, required=True)
    urgency = fields.Enum(Urgency, by_value=fields.String, required=True)
    priority = fields.Enum(Priority, by_value=fields.String, required=True, metadata={
        "description": "Derived from severity and urgency (SPEC's matrix); read-only."})
    category = fields.Enum(Category, by_value=fields.String, required=True)
    status = fields.Enum(Status, by_value=fields.String, required=True)
    reporter = fields.Nested(UserRefSchema, required=True)
    technician = fields.Nested(UserRefSchema, required=True, allow_none=True)
    resolution_notes = fields.String(required=True, allow_none=True)
    created_at = UTCDateTime(required=True)
    updated_at = UTCDateTime(required=True)
    assigned_at = UTCDateTime(required=True, allow_none=True)
    resolved_at = UTCDateTime(required=True, allow_none=True)
    closed_at = UTCDateTime(required=True, allow_none=True)
    version = fields.Integer(required=True)
    responded_at = UTCDateTime(required=True, allow_none=True, metadata={
        "description": "The first assignment or public staff comment; null until then."})
    response_due_at = UTCDateTime(required=True, metadata={"description": "When the response is due."})
    resolve_due_at = UTCDateTime(required=True, allow_none=True, metadata={
        "description": "When the resolution is due; null while on hold (the clock is paused)."})
    sla = Computed(SlaSchema, compute=sla_view, required=True)


class IncidentSchema(IncidentSummarySchema):
    """One incident, with its Markdown rendered: what reading, reporting or changing it answers."""

    description_html = _html("description", nullable=False)
    resolution_notes_html = _html("resolution_notes", nullable=True)


class IncidentPageSchema(Schema):
    """One page of a listing; `per_page` is the size actually used (at most 100)."""

    items = fields.List(fields.Nested(IncidentSummarySchema), required=True)
    page = fields.Integer(required=True, allow_none=True, metadata={
        "description": "The page number; null when the page was asked for by `cursor`."})
    per_page = fields.Integer(required=True)
    total = fields.Integer(required=True)
    next_cursor = fields.String(data_key="next", required=True, allow_none=True, metadata={
        "description": "Send as `cursor` for the page after this one (null on the last page). Unlike "
                       "`page`, a cursor costs the same at any depth."})
    prev_cursor = fields.String(data_key="prev", required=True, allow_none=True, metadata={
        "description": "Send as `cursor` for the page before this one (null on the first page): the "
                       "`per_page` incidents just before this page's first, in the same order. Walking "
                       "`next` then `prev` gives back the same pages."})


class EventSchema(Schema):
    """One timeline entry. `changes` maps a field to [old, new]; `body` is a comment, the
    resolution notes, a reopen or hold reason or why a leaving technician's incident was handed over.
    Internal notes (`internal: true`) are shown to technicians and admins only."""

    id = fields.Integer(required=True)
    kind = fields.Enum(EventKind, by_value=fields.String, required=True)
    actor = fields.Nested(UserRefSchema, required=True, allow_none=True, metadata={
        "description": "Who did it; null for what the portal records itself (sla_warning, sla_breached)."})
    created_at = UTCDateTime(required=True)
    from_status = fields.Enum(Status, by_value=fields.String, required=True, allow_none=True)
    to_status = fields.Enum(Status, by_value=fields.String, required=True, allow_none=True)
    changes = EventChanges(keys=fields.String(), required=True, allow_none=True, metadata={
        "description": "`{field: [old, new]}`; for sla_warning and sla_breached `{\"clock\": \"response\" or "
                       "\"resolve\", \"due_at\": time}`, with `\"mailed\": false` when the portal noticed it "
                       "too late to send mail (SLA_NOTICE_MAX_DELAY_SECONDS).",
        "additionalProperties": {"anyOf": [{"type": "array", "items": {}, "minItems": 2, "maxItems": 2},
                                           {"type": "string"}, {"type": "boolean"}]}})
    body = fields.String(required=True, allow_none=True, metadata={"description": "As written (Markdown)."})
    body_html = _html("body", nullable=True)
    internal = fields.Boolean(required=True, metadata={
        "description": "An internal note (or a file attached as internal): staff only, never shown to the "
                       "reporter; it does not count as the response."})
    via = fields.String(required=True, allow_none=True, metadata={
        "description": "How the change came in when not through the web or the API: \"email\" (a reply or a "
                       "new incident by mail); null otherwise.", "enum": ["email", None]})


class EventListSchema(Schema):
    items = fields.List(fields.Nested(EventSchema), required=True)


class TokenSchema(Schema):
    """A new bearer token. It is shown this once; only its hash is stored."""

    token = fields.String(required=True)
    expires_at = UTCDateTime(required=True, allow_none=True)
    user = fields.Nested(UserSchema, required=True)


class TokenInfoSchema(Schema):
    """One of your live tokens, as listed: never the token itself (only its hash is kept)."""

    id = fields.Integer(required=True)
    name = fields.String(required=True)
    created_at = UTCDateTime(required=True)
    last_used_at = UTCDateTime(required=True, allow_none=True, metadata={
        "description": "When the token last authenticated a request, to the minute; null if never."})
    expires_at = UTCDateTime(required=True, allow_none=True)


class TokenListSchema(Schema):
    items = fields.List(fields.Nested(TokenInfoSchema), required=True)


class HealthSchema(Schema):
    status = fields.String(required=True, validate=validate.OneOf(["ok"]))


class IncidentRefSchema(Schema):
    """An incident named in a refusal."""

    id = fields.Integer(required=True)
    reference = fields.String(required=True, metadata={"example": "INC-42"})
    title = fields.String(required=True)
    status = fields.Enum(Status, by_value=fields.String, required=True)


class ProblemSchema(Schema):
    """RFC 9457 problem details; `errors` lists messages per field on 422; `incidents` lists the
    incidents a 409 is about (a technician's active ones, when deactivating or demoting them)."""

    type = fields.String(required=True)
    title = fields.String(required=True)
    status = fields.Integer(required=True)
    detail = fields.String(required=True)
    errors = fields.Dict(keys=fields.String(), values=fields.List(fields.String()))
    incidents = fields.List(fields.Nested(IncidentRefSchema))


# ---- input ----------------------------------------------------------------------------------

class TokenRequestSchema(Input):
    """Credentials to exchange for a bearer token."""

    username = fields.String(required=True, validate=validate.Length(min=1, max=64))
    password = fields.String(required=True, validate=validate.Length(min=1, max=256))
    name = fields.String(validate=[validate.Length(min=1, max=100), Pattern(NO_CONTROL_CHARS)],
                         metadata={"description": "A label for the token, e.g. the script using it."})
    expires_in_days = Integer(validate=validate.Range(min=1, max=365),
                                     metadata={"description": "Lifetime; API_TOKEN_TTL_DAYS (30) by default."})
    otp = fields.String(validate=validate.Length(min=1, max=CODE_MAX), metadata={
        "description": "For an account with two-factor sign-in (required there, else 401): the 6-digit code "
                       "its authenticator app shows, or one of its recovery codes. Each works once. Ignored "
                       "for other accounts."})


class IncidentCreateSchema(Input):
    """A new incident; the reporter is the caller."""

    title = _text(TITLE_MAX, required=True)
    description = _text(DESCRIPTION_MAX, required=True)
    severity = Choice(Severity, metadata={"default": Severity.MEDIUM.value})
    urgency = Choice(Urgency, metadata={"default": Urgency.MEDIUM.value})
    category = Choice(Category, metadata={"default": Category.OTHER.value})


@dataclass(frozen=True)
class GoesWith:
    """A move (any of `statuses`) needs `field`; when `only`, the field is sent with those moves alone."""

    statuses: tuple[Status, ...]
    field: str
    only: bool = True

    @property
    def names(self) -> str:
        return " or ".join(status.value for status in self.statuses)


class IncidentUpdateSchema(Input):
    """Any mix of an edit, an assignment and a move, applied together or not at all."""

    title = _text(TITLE_MAX)
    description = _text(DESCRIPTION_MAX)
    severity = Choice(Severity)
    urgency = Choice(Urgency)
    category = Choice(Category)
    technician_id = _id(metadata={"description": "Assign (admins): the id of an active technician."})
    status = Choice(Status, metadata={
        "description": "The move to make: in_progress (start, or resume from on_hold), on_hold (needs "
                       "reason), resolved (needs resolution_notes), closed, or open (reopen, needs reason). "
                       "`assigned` goes with technician_id."})
    resolution_notes = _text(TEXT_MAX, metadata={"description": "Required when status is resolved."})
    reason = _text(TEXT_MAX, metadata={"description": "Required when status is open (reopen) or on_hold "
                                                      "(what the incident waits for)."})
    version = _id(metadata={"description": "The version you edited; 412 if the incident has moved on."})

    # What a move needs, and what means nothing without its move: checked below, and written into
    # the document as if/then rules (openapi.py) so that clients and fuzzers know before asking.
    MOVES = (GoesWith((Status.RESOLVED,), "resolution_notes"), GoesWith((Status.OPEN, Status.ON_HOLD), "reason"),
             GoesWith((Status.ASSIGNED,), "technician_id", only=False))

    @validates_schema
    def _moves_carry_what_they_need(self, data, **kwargs):
        """A move without its notes, reason or technician, or notes or a reason without their move:
        422 naming the field, whatever the incident's state (never silently dropped)."""
        errors = {}
        for rule in self.MOVES:
            if data.get("status") in rule.statuses and rule.field not in data:
                errors[rule.field] = [f"Required with status {data['status'].value}."]
            elif rule.only and rule.field in data and data.get("status") not in rule.statuses:
                errors[rule.field] = [f"Only sent with status {rule.names}."]
        if errors:
            raise ValidationError(errors)


class CommentSchema(Input):
    """A comment, in Markdown; technicians and admins may make it an internal note."""

    body = _text(TEXT_MAX, required=True)
    internal = StrictBoolean(load_default=False, metadata={
        "default": False, "description": "`true`: an internal note, for technicians and admins only (403 from a "
                                         "reporter); never shown or mailed to the reporter."})


class UserCreateSchema(Input):
    """A new account (admins)."""

    username = fields.String(required=True, validate=Pattern(USERNAME_RE.pattern))
    password = fields.String(required=True, validate=validate.Length(min=8, max=256), metadata={
        "description": "8 to 256 characters (PASSWORD_MIN_LENGTH may ask for more)."})
    role = Choice(Role, required=True)
    email = EmailAddress(required=True)
    name = fields.String(validate=[validate.Length(min=1, max=120), Pattern(NO_CONTROL_CHARS)],
                         metadata={"description": "Display name; the username when left out."})


class UserUpdateSchema(Input):
    """Change a role, (de)activate, rename (admins). Deactivating also revokes the user's tokens."""

    role = Choice(Role)
    active = StrictBoolean()
    name = fields.String(validate=[validate.Length(min=1, max=120), Pattern(NO_CONTROL_CHARS)])
    email = EmailAddress()
    reassign_to = _id(metadata={"description": "When deactivating or demoting a technician: the id of another "
                                               "active technician who takes their active incidents."})
    unassign = StrictBoolean(metadata={"description": "When deactivating or demoting a technician: `true` puts "
                                                      "their active incidents back to `open`, unassigned."})
    reset_2fa = StrictBoolean(metadata={"description": "`true` turns the user's two-factor sign-in off and "
                                                       "deletes their recovery codes (a lost phone); a role in "
                                                       "REQUIRE_2FA_ROLES sets it up again at next sign-in."})


SORT_CHOICES = [prefix + key for key in SORTS for prefix in ("-", "")]


class IncidentQuerySchema(Query):
    """Filters, search, sort and paging for the incident list."""

    status = fields.List(Choice(Status), metadata={"description": "Repeat to match any of several."})
    severity = fields.List(Choice(Severity), metadata={"description": "Repeat to match any of several."})
    category = fields.List(Choice(Category), metadata={"description": "Repeat to match any of several."})
    priority = fields.List(Choice(Priority), metadata={"description": "Repeat to match any of several."})
    urgency = fields.List(Choice(Urgency), metadata={"description": "Repeat to match any of several."})
    technician = fields.String(validate=[Pattern(r"^(?:me|none|[1-9][0-9]{0,9}|[A-Za-z0-9_.~-]{3,80})$"),
                                         _fits_an_id], metadata={
        "description": "A technician's id, `me`, `none` for unassigned incidents, or a username (whatever its "
                       "case; one nobody has is a 422). `none` and all-digit values are never read as usernames."})
    reporter = fields.String(validate=[Pattern(r"^(?:me|[1-9][0-9]{0,9})$"), _fits_an_id], metadata={
        "description": "A reporter's id or `me`."})
    q = fields.String(validate=[validate.Length(max=200), Pattern(NO_CONTROL_CHARS)], metadata={
        "description": "Words to find (each as the start of a word, all required) in the title, description, "
                       "resolution notes or comments; internal notes only for technicians and admins. Any script; "
                       "emoji count as words; case and Latin accents are ignored."})
    sla = fields.List(Choice(SlaStanding), metadata={
        "description": "SLA standing now: `breached` (a clock ran out), `at_risk` (a running clock past 80 %), "
                       "`ok` (neither). Repeat to match any of several."})
    sort = fields.String(load_default=DEFAULT_SORT, validate=validate.OneOf(SORT_CHOICES), metadata={
        "description": "A field, `-` first for descending. `priority` puts P1 first; `resolve_due_at` the "
                       "soonest due first, and incidents on hold (no due time) last in either direction."})
    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=MAX_PAGE))
    cursor = fields.String(validate=[validate.Length(min=1, max=MAX_CURSOR), Pattern(r"^[A-Za-z0-9_-]+$")],
                           metadata={"description": "The `next` of a previous page (keyset pagination: as "
                                                    "fast at any depth); `page` is then ignored."})
    per_page = fields.Integer(load_default=DEFAULT_PER_PAGE, validate=validate.Range(min=1), metadata={
        "description": f"Page size; values above {MAX_PER_PAGE} are clamped to {MAX_PER_PAGE}."})


@cache
def shared(schema_cls: type[Schema]) -> Schema:
    """One instance per schema class, reused by every request: building one deep-copies its fields
    (a tenth of a list request), and marshmallow 4 keeps no per-call state on it."""
    return schema_cls()
