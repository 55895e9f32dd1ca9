"""/views/ and /views/<id>: saved list views (app.incidents.saved_views holds the rules)."""
from flask_restful import Resource

from app.api.operations import operation
from app.api.resources.session import no_content
from app.api.schemas import shared
from app.api.view_schemas import SavedViewCreateSchema, SavedViewListSchema, SavedViewSchema, SavedViewUpdateSchema
from app.incidents import saved_views
from app.incidents.references import absolute_url


class SavedViewList(Resource):
    """The caller's saved views, and saving one."""

    tag = "views"

    @operation("Your saved views", returns=SavedViewListSchema,
               description="Your own views and every shared one, by name (`items`), and the built-in views of "
                           "your role (`defaults`, no id: they are not stored).")
    def get(self, actor):
        """Own and shared views, and the role's defaults."""
        return shared(SavedViewListSchema).dump({"items": saved_views.views_for(actor=actor),
                                                 "defaults": saved_views.defaults_for(actor)})

    @operation("Save a view", body=SavedViewCreateSchema, status=201, returns=SavedViewSchema,
               headers={"Location": "The new view's URL (DELETE it there)."}, errors=(403, 409),
               description="The list's filters (validated as `GET /incidents/` validates them: 422) and sort under "
                           "a name. A name you already use (whatever the case), or a 51st view, is 409. Only "
                           "admins may send `shared: true` (403 otherwise).")
    def post(self, actor, body):
        """Save a view owned by the caller."""
        view = saved_views.create(actor=actor, **body)
        return shared(SavedViewSchema).dump(view), 201, {"Location": absolute_url("api.view", view_id=view.id)}


class SavedView(Resource):
    """One saved view."""

    tag = "views"

    @operation("Change a saved view", body=SavedViewUpdateSchema, returns=SavedViewSchema, errors=(403, 404, 409),
               description="Rename it, give it other filters or another sort, or (admins) share or unshare it: "
                           "only the fields sent change, checked as on saving (422; an empty body is 422 too). "
                           "Its owner or an admin. A name the owner already uses for another view is 409; "
                           "someone else's private view is 404; a shared one you do not own is 403.")
    def patch(self, view_id, actor, body):
        """Change what is sent."""
        return shared(SavedViewSchema).dump(saved_views.update(actor=actor, view_id=view_id, **body))

    @operation("Delete a saved view", status=204, errors=(403, 404),
               description="Its owner or an admin. Someone else's private view is 404; a shared one you may "
                           "see but do not own is 403.")
    def delete(self, view_id, actor):
        """Remove the view."""
        saved_views.delete(actor=actor, view_id=view_id)
        return no_content()
