"""What /views/ reads and writes. A view's filters are the list's own query parameters, read by the
very fields of IncidentQuerySchema (so a filter a view takes is one `GET /incidents/` takes, and the
document says the same for both); paging and the sort are not filters."""
import copy

from marshmallow import Schema, ValidationError, fields, post_load, validate

from app.api.fields import Pattern, StrictBoolean, UTCDateTime
from app.api.schemas import SORT_CHOICES, WRITTEN_TEXT, IncidentQuerySchema, Input, UserRefSchema
from app.incidents.queries import DEFAULT_SORT
from app.incidents.saved_views import NAME_MAX


def _list_filter(name: str) -> fields.Field:
    """The list query's own field for `name` (a copy: a field belongs to one schema)."""
    return copy.deepcopy(IncidentQuerySchema._declared_fields[name])


class ViewFiltersSchema(Input):
    """A view's filters: any of the list's filters, as `GET /incidents/` takes them (repeatable ones as
    arrays). Unknown names, `page`, `cursor`, `per_page` and `sort` are refused (`sort` goes beside)."""

    status = _list_filter("status")
    severity = _list_filter("severity")
    category = _list_filter("category")
    priority = _list_filter("priority")
    urgency = _list_filter("urgency")
    sla = _list_filter("sla")
    technician = _list_filter("technician")
    reporter = _list_filter("reporter")
    q = _list_filter("q")

    def handle_error(self, error: ValidationError, data, **kwargs):
        """Name the filter in each message: the problem's `errors` lists them all under `filters`."""
        raise ValidationError([f"{name}: {message}" for name, messages in error.normalized_messages().items()
                               for message in _flatten(messages)])

    @post_load
    def _as_the_query_string_has_them(self, data, **kwargs):
        """Enum members back to their values: a view stores the list's query string, not Python."""
        return {key: [getattr(v, "value", v) for v in value] if isinstance(value, list) else value
                for key, value in data.items()}


def _flatten(messages) -> list[str]:
    if isinstance(messages, dict):
        return [m for inner in messages.values() for m in _flatten(inner)]
    if isinstance(messages, list):
        return [m for inner in messages for m in _flatten(inner)]
    return [str(messages)]


def _name(**options) -> fields.Field:
    return fields.String(validate=[
        validate.Length(min=1, max=NAME_MAX),
        Pattern(WRITTEN_TEXT, error="Must not be blank or hold control characters.")],
        metadata={"description": f"1 to {NAME_MAX} characters (trimmed); unique among the owner's views whatever "
                                 "the case (409 otherwise)."}, **options)


def _filters(**options) -> fields.Field:
    return fields.Nested(ViewFiltersSchema, metadata={
        "description": "The list's filters, named and valued as `GET /incidents/` takes them; `{}` is every "
                       "incident you may see."}, **options)


def _sort(**options) -> fields.Field:
    return fields.String(validate=validate.OneOf(SORT_CHOICES),
                         metadata=_described("As the list's `sort`.", options), **options)


def _shared(**options) -> fields.Field:
    return StrictBoolean(metadata=_described("`true` shows the view to everyone (admins only: 403 otherwise).",
                                             options), **options)


def _described(description: str, options: dict) -> dict:
    """A field's document text, with the value it takes when not sent (if it has one)."""
    return {"description": description} | ({"default": options["load_default"]} if "load_default" in options else {})


class SavedViewCreateSchema(Input):
    """A view to save: the list's filters and sort under a name."""

    name = _name(required=True)
    filters = _filters(load_default=dict)
    sort = _sort(load_default=DEFAULT_SORT)
    shared = _shared(load_default=False)


class SavedViewUpdateSchema(Input):
    """A change to a saved view: only the fields sent change (at least one: 422 otherwise), each
    checked as on saving."""

    name = _name()
    filters = _filters()
    sort = _sort()
    shared = _shared()


class SavedViewSchema(Schema):
    """A saved view. Open it as `GET /incidents/?<filters>&sort=<sort>` (or /ui/incidents/ likewise)."""

    id = fields.Integer(required=True)
    name = fields.String(required=True)
    filters = fields.Dict(keys=fields.String(), required=True, metadata={
        "description": "The list's filters as its query string names them: arrays for the repeatable ones."})
    sort = fields.String(required=True)
    shared = fields.Boolean(required=True)
    owner = fields.Nested(UserRefSchema, required=True)
    created_at = UTCDateTime(required=True)


class DefaultViewSchema(Schema):
    """A built-in view for your role: not stored, not deletable, the same for everyone of the role."""

    key = fields.String(required=True, metadata={"example": "my-queue"})
    name = fields.String(required=True)
    filters = fields.Dict(keys=fields.String(), required=True)
    sort = fields.String(required=True)


class SavedViewListSchema(Schema):
    items = fields.List(fields.Nested(SavedViewSchema), required=True, metadata={
        "description": "Your views and those shared with everyone, by name."})
    defaults = fields.List(fields.Nested(DefaultViewSchema), required=True, metadata={
        "description": "The built-in views (\"My queue\", and for staff \"Unassigned\" and \"Breaching soon\")."})
