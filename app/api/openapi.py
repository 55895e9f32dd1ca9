"""The OpenAPI 3 document, written from the URL map and each resource method's `@operation`.

Paths come from the routes actually registered and bodies from the schemas that validate them, so
the document describes what the API does, not what someone remembered to write down."""
import re
from http import HTTPStatus

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from flask import current_app
from werkzeug.routing import Rule

from app.api.fields import choice_pattern
from app.api.schemas import GoesWith, IncidentUpdateSchema, ProblemSchema
from app.models import MAX_ID

OPENAPI_VERSION = "3.1.0"
PROBLEM_JSON = "application/problem+json"
SECURITY = [{"bearerAuth": []}, {"basicAuth": []}]
HTTP_METHODS = ("get", "post", "put", "patch", "delete")
INFO = """A JSON API over the incident lifecycle: the same rules and services as the web portal.

* **Auth**: `Authorization: Bearer <token>` (from `POST /auth/tokens`) or HTTP Basic. Session cookies
  are ignored: a request with only a cookie gets 401.
* **Errors** are `application/problem+json` (RFC 9457); a 422 lists messages per field in `errors`.
* **Enums** (status, severity, category, role) are read in any case with a space, `_` or `-` between
  words (`"In Progress"`), and always written lowercase snake case. Times are UTC, ISO 8601, with `Z`.
* **Lost updates**: every incident has an `ETag` (its `version`); send it back in `If-Match` (or send
  `version` in the body) and a stale write gets 412 and changes nothing.

A walkthrough with curl is in docs/api.md; this document is also rendered at /docs."""
ERROR_TEXT = {
    400: "The body is not JSON, or not a JSON object.",
    401: "No valid credentials: send a bearer token or HTTP Basic.",
    403: "Your role never allows this.",
    404: "No such thing, or not one you may see.",
    409: "Not allowed in the incident's current state.",
    412: "The incident has changed since the version you sent (If-Match or version).",
    413: "The body is over 1 MiB (an upload: its file is over ATTACHMENT_MAX_BYTES).",
    415: "The body is not application/json.",
    422: "Fields are missing or wrong: `errors` says which and why.",
    429: "Too many requests from this address; retry later.",
    500: "An unexpected error; it has been logged.",
    503: "The database is not answering.",
}


def response_name(status: int) -> str:
    """The component name of an error response, e.g. `NotFound`."""
    return HTTPStatus(status).phrase.title().replace(" ", "").replace("-", "")


def openapi_path(rule: Rule) -> str:
    """`/incidents/<int(min=1):incident_id>` as `/incidents/{incident_id}`."""
    return re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule.rule)


def _error_response(status: int) -> dict:
    response = {"description": ERROR_TEXT[status], "content": {PROBLEM_JSON: {"schema": "Problem"}}}
    if status == 401:
        response["headers"] = {"WWW-Authenticate": {
            "description": "The schemes this API accepts.", "required": True, "schema": {"type": "string"}}}
    return response


def _operation(op, resource, method: str, has_id: bool) -> dict:
    answer: dict = {"description": HTTPStatus(op.status).phrase}
    if op.status != 204:
        # Without a schema: any JSON object, or for another media type (a CSV) any text.
        answer["content"] = {media_type: {"schema": op.returns or (
            {"type": "object"} if media_type == "application/json" else {"type": "string"})}
            for media_type in op.media_types}
    if op.headers:
        answer["headers"] = {name: {"description": text, "required": True, "schema": {"type": "string"}}
                             for name, text in op.headers.items()}
    errors = set(op.error_statuses) | ({404} if has_id else set())
    doc = {
        "operationId": f"{method}{resource.__name__}",
        "summary": op.summary,
        "tags": [resource.tag],
        "security": [] if op.public else SECURITY,
        "responses": {str(op.status): answer} | {str(s): response_name(s) for s in sorted(errors)},
    }
    if op.description:
        doc["description"] = op.description
    if op.query is not None:
        doc["parameters"] = [{"in": "query", "schema": op.query}]
    if op.body is not None:
        doc["requestBody"] = {"required": True, "content": {"application/json": {"schema": op.body}}}
    if op.form is not None:
        doc["requestBody"] = {"required": True, "content": {"multipart/form-data": {"schema": op.form}}}
    return doc


def move_rules(moves: tuple[GoesWith, ...]) -> dict:
    """A body's move rules as JSON Schema (2020-12, as OpenAPI 3.1 reads it): the status needs its
    field, and a field sent with some moves only needs one of their statuses."""
    rules = []
    for rule in moves:
        move = {"required": ["status"], "properties": {"status": {"pattern": choice_pattern(rule.statuses)}}}
        rules.append({"if": move, "then": {"required": [rule.field]}})
        if rule.only:
            rules.append({"if": {"required": [rule.field]}, "then": move})
    return {"allOf": rules}


def api_rules() -> list[Rule]:
    """The URL rules served by Flask-RESTful resources of this blueprint, by path."""
    rules = []
    for rule in current_app.url_map.iter_rules():
        view = current_app.view_functions[rule.endpoint]
        if rule.endpoint.startswith("api.") and hasattr(view, "view_class"):
            rules.append(rule)
    return sorted(rules, key=lambda r: r.rule)


def build() -> dict:
    """The whole document, as a dict."""
    spec = APISpec(title="Incident portal API", version="1.0.0", openapi_version=OPENAPI_VERSION,
                   plugins=[MarshmallowPlugin()], info={"description": INFO})
    spec.components.security_scheme("bearerAuth", {"type": "http", "scheme": "bearer"})
    spec.components.security_scheme("basicAuth", {"type": "http", "scheme": "basic"})
    spec.components.schema("Problem", schema=ProblemSchema)
    spec.components.schema("IncidentUpdate", move_rules(IncidentUpdateSchema.MOVES), schema=IncidentUpdateSchema)
    for status in sorted(ERROR_TEXT):
        spec.components.response(response_name(status), _error_response(status))
    for rule in api_rules():
        resource = current_app.view_functions[rule.endpoint].view_class
        operations = {method: _operation(getattr(resource, method).operation, resource, method, bool(rule.arguments))
                      for method in HTTP_METHODS if method.upper() in (rule.methods or ())}
        parameters = [{"in": "path", "name": name, "required": True,
                       "schema": {"type": "integer", "minimum": 1, "maximum": MAX_ID}}
                      for name in sorted(rule.arguments)]
        spec.path(path=openapi_path(rule), operations=operations, parameters=parameters)
    return spec.to_dict()


def document() -> dict:
    """The document for this app, built on first use (the routes do not change while it runs)."""
    cache = current_app.extensions.setdefault("api.openapi", {})
    if "document" not in cache:
        cache["document"] = build()
    return cache["document"]
