"""/incidents/bulk: one action on many incidents, one result per incident (app.incidents.bulk)."""
from flask_restful import Resource

from app.api.bulk_schemas import BulkAnswerSchema, BulkSchema
from app.api.operations import operation
from app.api.resources.incidents import list_filters
from app.api.schemas import shared
from app.auth.roles import Role
from app.incidents import bulk

DESCRIPTION = (
    "Staff only. Either `ids` or `filter` (the filters of `GET /incidents/`; the matches newest first), at most "
    f"{bulk.MAX_INCIDENTS} incidents. Each incident goes through the same rules and the same change as its own "
    "`PUT /incidents/<id>` (or watchers call), in a transaction of its own: a refused one is left exactly as it "
    "was and its result says why, the others go ahead, each with its timeline event, mail and webhooks. An id "
    "you may not see reads as not found. A call that is wrong as a whole (no or both targets, a missing or stray "
    "field, a technician or watcher who cannot be one) is 422 and changes nothing."
)


class BulkIncidents(Resource):
    """Many incidents at once."""

    tag = "incidents"

    @operation("Act on many incidents", body=BulkSchema, returns=BulkAnswerSchema, description=DESCRIPTION,
               roles=(Role.TECHNICIAN, Role.ADMIN))
    def post(self, actor, body):
        """Apply the action to each incident; 200 with one result per incident."""
        filters = list_filters(body["filter"], actor) if "filter" in body else None
        params = {name: body[name] for name in bulk.PARAMETERS if name in body}
        outcome = bulk.apply(actor=actor, action=body["action"], ids=body.get("ids"), filters=filters, **params)
        return shared(BulkAnswerSchema).dump(
            {"results": outcome.results, "matched": outcome.matched, "capped": outcome.capped})
