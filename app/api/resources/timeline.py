"""/incidents/<id>/events and /incidents/<id>/comments: the timeline, and adding to it."""
from flask_restful import Resource

from app.api.operations import operation
from app.api.schemas import CommentSchema, EventListSchema, EventSchema, shared
from app.incidents import queries, service


class IncidentEvents(Resource):
    """An incident's timeline."""

    tag = "incidents"

    @operation("An incident's timeline", returns=EventListSchema,
               description="Oldest first. Internal notes (and internal attachments) only for technicians and admins.")
    def get(self, incident_id, actor):
        """Every event of a visible incident, oldest first."""
        incident = queries.get_incident(actor=actor, incident_id=incident_id)
        return shared(EventListSchema).dump({"items": queries.timeline(incident=incident, viewer=actor)})


class IncidentComments(Resource):
    """Comments on an incident."""

    tag = "incidents"

    @operation("Comment on an incident", body=CommentSchema, status=201, returns=EventSchema, errors=(403,),
               description="The reporter, technicians and admins may comment; `internal: true` (technicians and "
                           "admins: 403 from a reporter) makes it an internal note the reporter never sees. "
                           "A comment does not change the incident's version, unless the reporter's comment "
                           "resumes an incident on hold waiting for them.")
    def post(self, incident_id, actor, body):
        """Append a comment event (or an internal note)."""
        incident = queries.get_incident(actor=actor, incident_id=incident_id)
        event = service.add_comment(actor=actor, incident=incident, body=body["body"], internal=body["internal"])
        return shared(EventSchema).dump(event), 201
