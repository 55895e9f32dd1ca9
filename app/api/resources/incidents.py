"""/incidents/ and /incidents/<id>: list, report, read, update (edit, assign, move)."""
from flask_restful import Resource

from app.api import incident_json
from app.api.operations import operation
from app.api.pagination import link_header
from app.api.payload import etag, expected_version, not_modified, page_etag
from app.api.schemas import (
    IncidentCreateSchema,
    IncidentPageSchema,
    IncidentQuerySchema,
    IncidentSchema,
    IncidentUpdateSchema,
)
from app.auth import service as accounts
from app.exceptions import InvalidInput
from app.incidents import queries, service
from app.incidents.references import absolute_url
from app.models import Incident as IncidentRow
from app.models import User

DETAIL_FIELDS = ("title", "description", "severity", "urgency", "category")
UPDATE_DESCRIPTION = (
    "A partial update: any of the details (title, description, severity, urgency, category), an assignment "
    "(`technician_id`, admins) and a move (`status` with `resolution_notes` or `reason`), applied "
    "together or not at all. `priority` follows from severity and urgency and is never sent. Guard against "
    "lost updates with `If-Match: <ETag>` or `version`. PUT and PATCH behave the same."
)


def _person(value: str | None, actor: User, *, field: str) -> int | None:
    """A person filter's id: a number, the caller for `me`, or the account a username names
    (whatever its case); a username nobody has is a 422 naming `field`."""
    if value is None or value == "none":
        return None
    if value == "me":
        return actor.id
    if value.isdigit():
        return int(value)
    found = accounts.id_named(value)
    if found is None:
        raise InvalidInput.field(field, f"There is no user {value!r}.")
    return found


def list_filters(query: dict, actor: User) -> queries.IncidentFilters:
    """The filters of a query read by IncidentQuerySchema, as the domain takes them: the one
    translation for every endpoint that takes the list's filters."""
    return queries.IncidentFilters(
        status=query.get("status", []), severity=query.get("severity", []),
        category=query.get("category", []), priority=query.get("priority", []),
        urgency=query.get("urgency", []),
        technician_id=_person(query.get("technician"), actor, field="technician"),
        unassigned=query.get("technician") == "none",
        reporter_id=_person(query.get("reporter"), actor, field="reporter"),
        q=query.get("q"), sla=query.get("sla", []))


def _answer(incident: IncidentRow, status: int = 200, **headers):
    """The incident as JSON, with its ETag (and any other headers)."""
    return incident_json.full(incident), status, {"ETag": etag(incident), **headers}


class IncidentList(Resource):
    """The incidents the caller may see."""

    tag = "incidents"

    @operation("List incidents", query=IncidentQuerySchema, returns=IncidentPageSchema,
               headers={"Link": "RFC 8288 links to the first, prev, next and last pages (prev and next by cursor "
                                "when the page was asked for by cursor).",
                        "ETag": "A weak tag over this page as you asked for it; send it back in If-None-Match "
                                "to get 304 Not Modified while nothing on the page changed."},
               description="Newest first unless `sort` says otherwise. Reporters see their own incidents only. "
                           "Each incident carries its SLA clocks (`sla`, read-only). "
                           "A browser (no Authorization header, HTML preferred) is redirected to /ui/incidents/.")
    def get(self, actor, query):
        """A filtered, sorted page of incidents with Link headers and a weak ETag over the page;
        304 when If-None-Match names it (the page is computed either way: the tag is over it)."""
        page = queries.list_incidents(actor=actor, filters=list_filters(query, actor), sort=query["sort"],
                                      page=query["page"], per_page=query["per_page"], cursor=query.get("cursor"))
        body = incident_json.page(page)
        tag = page_etag(body, actor.id, actor.role.value)
        return not_modified(tag) or (body, 200, {"Link": link_header(page), "ETag": tag})

    @operation("Report an incident", body=IncidentCreateSchema, status=201, returns=IncidentSchema,
               headers={"Location": "The new incident's URL.", "ETag": "The incident's version, quoted."},
               errors=(403,))
    def post(self, actor, body):
        """Create an incident reported by the caller."""
        incident = service.create_incident(actor=actor, **body)
        return _answer(incident, 201, Location=absolute_url("api.incident", incident_id=incident.id))


class Incident(Resource):
    """One incident."""

    tag = "incidents"

    @operation("Get an incident", returns=IncidentSchema,
               headers={"ETag": "The incident's version, quoted; send it back in If-Match (to update) or "
                                "If-None-Match (304 Not Modified while it is unchanged)."})
    def get(self, incident_id, actor):
        """The incident with its ETag; 404 when the caller may not see it (before any 304, so a
        tag never tells a stranger that the incident exists); 304 when If-None-Match names it."""
        incident = queries.get_incident(actor=actor, incident_id=incident_id)
        return not_modified(etag(incident)) or _answer(incident)

    @operation("Update an incident", description=UPDATE_DESCRIPTION, body=IncidentUpdateSchema,
               returns=IncidentSchema, headers={"ETag": "The incident's new version, quoted."},
               errors=(403, 409, 412))
    def put(self, incident_id, actor, body):
        """Edit, assign and move in one transaction."""
        return self._update(incident_id, actor, body)

    @operation("Update an incident (same as PUT)", description=UPDATE_DESCRIPTION, body=IncidentUpdateSchema,
               returns=IncidentSchema, headers={"ETag": "The incident's new version, quoted."},
               errors=(403, 409, 412))
    def patch(self, incident_id, actor, body):
        """PUT's partial update under its conventional name."""
        return self._update(incident_id, actor, body)

    @staticmethod
    def _update(incident_id: int, actor: User, body: dict):
        incident = queries.get_incident(actor=actor, incident_id=incident_id)
        service.update_incident(
            actor=actor, incident=incident,
            details={name: body[name] for name in DETAIL_FIELDS if name in body},
            technician_id=body.get("technician_id", service.UNSET), status=body.get("status"),
            resolution_notes=body.get("resolution_notes"), reason=body.get("reason"),
            expected_version=expected_version(incident, body.get("version")))
        return _answer(incident)
