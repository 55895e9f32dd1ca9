"""Reading a request: the JSON body (400 / 413 / 415), query parameters, and `If-Match`."""
import json
from typing import Any

from flask import request
from marshmallow import Schema, ValidationError, fields
from werkzeug.exceptions import BadRequest, UnsupportedMediaType

from app.api.schemas import shared
from app.exceptions import InvalidInput, VersionConflict
from app.models import Incident


def _refuse_constant(name: str):
    """NaN and Infinity are JavaScript, not JSON (RFC 8259)."""
    raise ValueError(f"{name} is not JSON")


# Deeper than any body this API takes; checked before anything recurses into the value.
MAX_DEPTH = 32


def _check_structure(value: Any) -> None:
    """Refuse nesting deeper than MAX_DEPTH and strings JSON can spell but no database can store
    ("\\ud800", a lone surrogate). Walks with its own stack: a body 1,000 levels deep must not
    exhaust Python's."""
    pending: list[tuple[Any, int]] = [(value, 1)]
    while pending:
        item, depth = pending.pop()
        if isinstance(item, str):
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                raise BadRequest("The body is not valid JSON: it contains an unpaired surrogate.")
        elif isinstance(item, dict | list):
            if depth > MAX_DEPTH:
                raise BadRequest(f"The body is nested more than {MAX_DEPTH} levels deep.")
            children = [*item.keys(), *item.values()] if isinstance(item, dict) else item
            pending.extend((child, depth + 1) for child in children)


def json_object() -> dict[str, Any]:
    """The request body as a JSON object, or the 4xx that says why not."""
    if not request.is_json:
        raise UnsupportedMediaType("Send the body as JSON, with Content-Type: application/json.")
    raw = request.get_data(cache=True)  # over MAX_CONTENT_LENGTH: 413 from Werkzeug
    try:
        data = json.loads(raw, parse_constant=_refuse_constant)
    except (ValueError, RecursionError):
        raise BadRequest("The body is not valid JSON.")
    if not isinstance(data, dict):
        raise BadRequest("The body must be a JSON object.")
    _check_structure(data)
    return data


def field_errors(messages: dict) -> dict[str, list[str]]:
    """Marshmallow's nested messages as {field: [messages]}, the problem+json `errors` shape."""
    flat: dict[str, list[str]] = {}

    def collect(field: str, value) -> None:
        if isinstance(value, dict):
            for inner in value.values():
                collect(field, inner)
        elif isinstance(value, list):
            for inner in value:
                collect(field, inner)
        else:
            flat.setdefault(field, []).append(str(value))

    for field, value in messages.items():
        collect(str(field), value)
    return flat


def load(schema: Schema, data: dict[str, Any]) -> dict[str, Any]:
    """Validate `data`; InvalidInput (422) with per-field messages when it does not fit."""
    try:
        return schema.load(data)
    except ValidationError as exc:
        raise InvalidInput(field_errors(exc.normalized_messages()))


def body(schema_cls: type[Schema]) -> dict[str, Any]:
    """The JSON body, validated by `schema_cls`."""
    return load(shared(schema_cls), json_object())


def query(schema_cls: type[Schema]) -> dict[str, Any]:
    """The query string, validated by `schema_cls` (list fields take repeated parameters)."""
    schema = shared(schema_cls)
    raw: dict[str, Any] = {}
    for name, field in schema.load_fields.items():
        key = field.data_key or name
        if key in request.args:
            raw[key] = request.args.getlist(key) if isinstance(field, fields.List) else request.args[key]
    return load(schema, raw)


def etag(incident: Incident) -> str:
    """The incident's strong ETag: its version, quoted."""
    return f'"{incident.version}"'


def expected_version(incident: Incident, body_version: int | None) -> int | None:
    """The version the client says it edited: `version` in the body, else the one `If-Match` names.

    Weak tags are compared as if strong (a gzip proxy weakens ETags on the way out)."""
    if "If-Match" not in request.headers or request.if_match.star_tag:
        return body_version
    if not request.if_match.contains_weak(str(incident.version)):
        raise VersionConflict(
            f"{incident.reference} is at version {incident.version} (ETag {etag(incident)}), which "
            "If-Match does not name; reload it and try again."
        )
    return incident.version if body_version is None else body_version
