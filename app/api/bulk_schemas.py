"""What `POST /incidents/bulk` reads and answers. The filter is the list's own query schema (so a
filter the list refuses, the bulk call refuses alike), and which fields go with which action is
read from app.incidents.bulk, the one place that says it."""
from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates_schema

from app.api.fields import Choice, Integer, Pattern
from app.api.schemas import WRITTEN_TEXT, IncidentQuerySchema, Input
from app.incidents import bulk
from app.incidents.enums import Severity, Status, Urgency
from app.incidents.lifecycle import TEXT_MAX
from app.models import MAX_ID


def _id(**kwargs) -> fields.Integer:
    return Integer(validate=validate.Range(min=1, max=MAX_ID), **kwargs)


class BulkFilterSchema(IncidentQuerySchema):
    """The filters of `GET /incidents/`, as a JSON object: list filters as arrays (`{"status":
    ["open", "assigned"]}`), the others as strings. No sort or paging: the matches are taken newest
    first. Unknown names are errors."""

    class Meta(IncidentQuerySchema.Meta):
        exclude = ("sort", "page", "per_page", "cursor")
        unknown = RAISE


class ListFilter(fields.Nested):
    """The filter object; an error names the filter it is about ("status: Must be one of ...")."""

    def _deserialize(self, value, attr, data, **kwargs):
        try:
            return super()._deserialize(value, attr, data, **kwargs)
        except ValidationError as exc:
            messages = exc.normalized_messages()
            if not isinstance(messages, dict):
                raise
            raise ValidationError([f"{name}: {text}" for name, found in messages.items()
                                   for text in _texts(found)]) from None


def _texts(found) -> list[str]:
    if isinstance(found, dict):
        return [text for inner in found.values() for text in _texts(inner)]
    if isinstance(found, list):
        return [text for inner in found for text in _texts(inner)]
    return [str(found)]


class BulkSchema(Input):
    """One action on many incidents: `ids` or `filter` (exactly one), `action`, and that action's fields."""

    ids = fields.List(_id(), validate=validate.Length(min=1, max=bulk.MAX_INCIDENTS), metadata={
        "description": f"The incidents to act on, at most {bulk.MAX_INCIDENTS}; an id named twice is acted on once."})
    filter = ListFilter(BulkFilterSchema, metadata={
        "description": f"Instead of ids: every incident the caller may see that the filter matches (`{{}}`: all of "
                       f"them), newest first, at most {bulk.MAX_INCIDENTS}; `matched` in the answer says how "
                       "many there were."})
    action = Choice(bulk.BulkAction, required=True, metadata={"description": "What to do to each incident: "
        + "; ".join(f"`{action.value}`" + (f" (with {', '.join(bulk.fields_of(action))})"
                                          if bulk.fields_of(action) else "") for action in bulk.BulkAction) + "."})
    technician_id = _id(metadata={"description": "assign: the id of an active technician (admins assign)."})
    severity = Choice(Severity, metadata={"description": "severity: the new severity (the priority follows)."})
    urgency = Choice(Urgency, metadata={"description": "urgency: the new urgency (the priority follows)."})
    user_id = _id(metadata={"description": "watch: who is to watch (admins; anyone else may add themselves "
                                           "only). Left out: the caller."})
    resolution_notes = fields.String(validate=[
        validate.Length(min=1, max=TEXT_MAX),
        Pattern(WRITTEN_TEXT, error="Must not be blank or hold control characters.")],
        metadata={"description": "resolve: the one resolution note every incident gets (Markdown)."})

    @validates_schema
    def _one_target_and_the_action_s_fields(self, data, **kwargs):
        """Exactly one of ids and filter; the action's required fields present, no other action's."""
        errors: dict[str, list[str]] = {}
        if ("ids" in data) == ("filter" in data):
            errors["ids"] = ["Send either ids or filter (exactly one of them)."]
        action = data.get("action")
        if action is not None:
            for name in bulk.REQUIRED[action]:
                if name not in data:
                    errors[name] = [f"Required with action {action.value}."]
            for name in bulk.PARAMETERS:
                if name in data and name not in bulk.fields_of(action):
                    errors[name] = [f"Not sent with action {action.value}."]
        if errors:
            raise ValidationError(errors)


class BulkResultSchema(Schema):
    """What became of one incident."""

    id = fields.Integer(required=True, metadata={"description": "The id as sent (or as the filter matched it)."})
    ok = fields.Boolean(required=True, metadata={"description": "true: done (or already so); false: refused, "
                                                                "and that incident was not changed at all."})
    status = fields.Enum(Status, by_value=fields.String, required=True, allow_none=True, metadata={
        "description": "The incident's status after the call; null when it was not found (or is not yours "
                       "to see)."})
    reference = fields.String(required=True, allow_none=True, metadata={
        "example": "INC-42", "description": "Null when not found."})
    detail = fields.String(required=True, metadata={
        "description": "What was done, or why it was refused (the same words the single-incident call gives).",
        "example": "Cannot close INC-42 while it is open."})


class BulkAnswerSchema(Schema):
    """One result per distinct incident, in the order sent (a filter's: newest first)."""

    results = fields.List(fields.Nested(BulkResultSchema), required=True)
    matched = fields.Integer(required=True, metadata={
        "description": "How many incidents the ids named or the filter matched."})
    capped = fields.Boolean(required=True, metadata={
        "description": f"true when the filter matched more than {bulk.MAX_INCIDENTS}: only the newest "
                       f"{bulk.MAX_INCIDENTS} were acted on (narrow the filter, or send ids, for the rest)."})
