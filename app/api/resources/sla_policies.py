"""/sla-policies/ and /sla-policies/<P1..P4>: the SLA targets of each priority (admins).

The schemas live here, beside the only resource that reads and writes them."""
from flask_restful import Resource
from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates_schema

from app.api.fields import Choice, Integer, UTCDateTime
from app.api.operations import operation
from app.auth.roles import Role
from app.exceptions import NotFound
from app.incidents import sla
from app.incidents.enums import Priority, SlaCalendar

_MINUTES = {"validate": validate.Range(min=1, max=sla.MINUTES_MAX)}


class SlaPolicySchema(Schema):
    """One priority's targets."""

    priority = fields.String(required=True, metadata={"enum": [p.value for p in Priority]})
    response_minutes = fields.Integer(required=True, metadata={
        "description": "Counted minutes from creation to the first assignment or staff comment."})
    resolve_minutes = fields.Integer(required=True, metadata={
        "description": "Counted minutes from creation to resolution, not counting time on hold."})
    calendar = fields.String(required=True, metadata={
        "enum": [c.value for c in SlaCalendar],
        "description": "`24x7` counts every minute; `business` only SLA_BUSINESS_HOURS in SLA_TIMEZONE, "
                       "minus SLA_HOLIDAYS."})
    updated_at = UTCDateTime(allow_none=True, metadata={"description": "null: the default, never changed."})
    updated_by = fields.String(allow_none=True, metadata={"description": "The admin's username; null for a default."})


class SlaPolicyListSchema(Schema):
    items = fields.List(fields.Nested(SlaPolicySchema), required=True)


class SlaPolicyUpdateSchema(Schema):
    """All three targets (a PUT replaces the policy)."""

    class Meta:
        unknown = RAISE

    response_minutes = Integer(required=True, **_MINUTES)
    resolve_minutes = Integer(required=True, **_MINUTES)
    calendar = Choice(SlaCalendar, required=True)

    @validates_schema
    def _response_first(self, data, **kwargs):
        if data.get("response_minutes", 0) > data.get("resolve_minutes", sla.MINUTES_MAX):
            raise ValidationError("Must not be more than resolve_minutes.", "response_minutes")


def _dump(policy: sla.Policy) -> dict:
    return SlaPolicySchema().dump({
        "priority": policy.priority.value, "response_minutes": policy.targets.response_minutes,
        "resolve_minutes": policy.targets.resolve_minutes, "calendar": policy.targets.calendar.value,
        "updated_at": policy.updated_at, "updated_by": policy.updated_by,
    })


def _priority(text: str) -> Priority:
    try:
        return Priority.parse(text)
    except ValueError:
        raise NotFound(f"There is no priority '{text}': use P1, P2, P3 or P4.") from None


class SlaPolicyList(Resource):
    """The four policies."""

    tag = "sla"

    @operation("List SLA policies", returns=SlaPolicyListSchema, roles=(Role.ADMIN,),
               description="The targets of P1..P4, P1 first: SPEC's defaults until an admin changes one.")
    def get(self, actor):
        return {"items": [_dump(policy) for policy in sla.policies()]}


class SlaPolicy(Resource):
    """One priority's policy."""

    tag = "sla"

    @operation("Get an SLA policy", returns=SlaPolicySchema, roles=(Role.ADMIN,), errors=(404,))
    def get(self, priority, actor):
        return _dump(sla.policy(_priority(priority)))

    @operation("Change an SLA policy", body=SlaPolicyUpdateSchema, returns=SlaPolicySchema, roles=(Role.ADMIN,),
               errors=(404,),
               description="Replace the priority's targets. Incidents that get this priority from now on hold "
                           "the new targets; incidents that already have it keep theirs. Minutes are whole, "
                           f"1 to {sla.MINUTES_MAX}, and response no more than resolve (422).")
    def put(self, priority, actor, body):
        return _dump(sla.update_policy(actor=actor, priority=_priority(priority), **body))
