"""/incidents/<id>/watchers and /incidents/<id>/watchers/<user_id>: who hears about an incident.

Who may watch whom is app.incidents.watchers' rule; what a watcher hears is app.incidents.notifications'."""
from flask_restful import Resource
from marshmallow import Schema, fields, validate

from app.api.fields import Integer
from app.api.operations import operation
from app.api.resources.session import no_content
from app.api.schemas import Input, UserRefSchema, shared
from app.incidents import queries, watchers
from app.models import MAX_ID


class WatcherSchema(UserRefSchema):
    """Someone watching an incident."""


class WatcherListSchema(Schema):
    items = fields.List(fields.Nested(WatcherSchema), required=True)


class WatchSchema(Input):
    """Whom to add: nobody named is the caller."""

    user_id = Integer(validate=validate.Range(min=1, max=MAX_ID), metadata={
        "description": "Admins only: make this user (active, and allowed to see the incident) watch it."})


class IncidentWatchers(Resource):
    """The people who hear about an incident's events."""

    tag = "incidents"

    @operation("An incident's watchers", returns=WatcherListSchema, errors=(404,),
               description="By name. The reporter and the assigned technician watch automatically.")
    def get(self, incident_id, actor):
        """Everyone watching a visible incident."""
        incident = queries.get_incident(actor=actor, incident_id=incident_id)
        return shared(WatcherListSchema).dump({"items": watchers.watchers_of(incident)})

    @operation("Watch an incident", body=WatchSchema, status=201, returns=WatcherSchema, errors=(403, 404),
               description="`{}` watches the incident yourself: anyone who may see it may (a reporter only "
                           "their own; someone else's is 404). An admin may send `user_id` to add anyone who "
                           "may see it (someone else's `user_id` from a non-admin is 403; a user who is not "
                           "active or may not see the incident is 422). Watching twice is watching: 201 "
                           "again, nothing changes. Answers the watcher.")
    def post(self, incident_id, actor, body):
        """Add the caller, or (admins) another user, to the watchers."""
        incident = queries.get_incident(actor=actor, incident_id=incident_id)
        user = watchers.watch(actor=actor, incident=incident, user_id=body.get("user_id"))
        return shared(WatcherSchema).dump(user), 201


class IncidentWatcher(Resource):
    """One watcher of an incident."""

    tag = "incidents"

    @operation("Stop watching an incident", status=204, errors=(403, 404),
               description="Yourself, or (admins) anyone. Someone else's watch from a non-admin is 403; a "
                           "user who is not watching, or an incident you may not see, is 404. A reporter or "
                           "technician who stops watching hears no more of the incident, even as its reporter "
                           "or technician.")
    def delete(self, incident_id, user_id, actor):
        """Remove a watcher."""
        incident = queries.get_incident(actor=actor, incident_id=incident_id)
        watchers.unwatch(actor=actor, incident=incident, user_id=user_id)
        return no_content()
