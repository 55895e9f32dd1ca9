"""Reading a request: the JSON body (400 / 413 / 415), query parameters, `If-Match` and
`If-None-Match` (conditional GET)."""
import hashlib
import json
import re
from typing import Any

from flask import Response, request
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


def not_modified(tag: str) -> Response | None:
    """304 Not Modified (no body, the same ETag) when `If-None-Match` names `tag` or is `*`, else None.

    If-None-Match compares weakly (RFC 9110 13.1.2): W/"7" matches "7", so a proxy that weakened
    the tag on the way out still gets its 304."""
    value = tag.removeprefix("W/").strip('"')
    if request.if_none_match.contains_weak(value):
        return Response(status=304, headers={"ETag": tag})
    return None


# Numbers in a list's answer that change with the clock, not with the data: counted SLA seconds,
# cut from the JSON text (a quote inside a string is escaped there, so no text can spell the key).
_TICKING = re.compile(r'"remaining_seconds": (?:-?[0-9]+|null)')


def page_etag(dumped_page: dict, actor_id: int, role: str) -> str:
    """A weak ETag over one page of a list as this caller asked for it: the answer's body (ids,
    versions, every field shown, the total, the cursors), the query string and who asked.

    Weak because the body's counted SLA seconds tick with the clock and are left out: two answers
    with the same tag are the same page of the same incidents in the same states, not byte for byte
    the same. Hashing the dumped body rather than ids + versions also catches what changes no
    incident's version (a person renamed, a clock turned overdue)."""
    material = json.dumps({"body": dumped_page, "query": sorted(request.args.items(multi=True)),
                           "actor": [actor_id, role]}, sort_keys=True, default=str)
    material = _TICKING.sub("", material)
    return f'W/"{hashlib.sha256(material.encode()).hexdigest()[:32]}"'


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
