"""/incidents/<id>/events and /incidents/<id>/comments: the timeline, and adding to it."""
from flask_restful import Resource

from app.api.operations import operation
from app.api.schemas import CommentSchema, EventListSchema, EventSchema, shared
from app.incidents import queries, service


class IncidentEvents(Resource):
    """An incident's timeline."""

    tag = "incidents"

    @operation("An incident's timeline", returns=EventListSchema, description="Oldest first.")
    def get(self, incident_id, actor):
        """Every event of a visible incident, oldest first."""
        incident = queries.get_incident(actor=actor, incident_id=incident_id)
        return shared(EventListSchema).dump({"items": queries.timeline(incident=incident, viewer=actor)})


class IncidentComments(Resource):
    """Comments on an incident."""

    tag = "incidents"

    @operation("Comment on an incident", body=CommentSchema, status=201, returns=EventSchema, errors=(403,),
               description="The reporter, the assigned technician and admins may comment. "
                           "A comment does not change the incident's version.")
    def post(self, incident_id, actor, body):
        """Append a comment event."""
        incident = queries.get_incident(actor=actor, incident_id=incident_id)
        event = service.add_comment(actor=actor, incident=incident, body=body["body"])
        return shared(EventSchema).dump(event), 201
