"""The incident page's small forms: one POST view per entry of `INCIDENT_ACTIONS`, made by `_view`.

Each view: load or 404, bind its form, make ONE service call, then post/redirect/get."""
from flask import flash, redirect, url_for
from flask_login import current_user, login_required

from app.exceptions import DomainError, InvalidInput
from app.incidents import queries
from app.web import bp
from app.web.detail import action_form, render_detail
from app.web.feedback import flash_refusal, show_field_errors
from app.web.incident_actions import INCIDENT_ACTIONS, IncidentAction


def _view(entry: IncidentAction):
    """The POST view for one entry, named and described by it.

    Bad input re-renders the page (422) with the messages next to the fields; any other
    refusal is a danger flash on the incident page."""

    def view(incident_id: int):
        incident = queries.get_incident(actor=current_user, incident_id=incident_id)
        form = action_form(entry, incident, submitted=True)
        if form.validate_on_submit():
            try:
                entry.call(actor=current_user, incident=incident, **entry.arguments(form))
            except InvalidInput as exc:
                show_field_errors(form, exc)
            except DomainError as exc:
                flash_refusal(exc, reference=incident.reference)
                return redirect(url_for("web.incident", incident_id=incident_id))
            else:
                flash(entry.done.format(ref=incident.reference, incident=incident), "success")
                return redirect(url_for("web.incident", incident_id=incident_id))
        return render_detail(incident, submitted={entry.action: form}), 422

    view.__name__ = view.__qualname__ = entry.view_name
    view.__doc__ = entry.summary
    return login_required(view)


for _entry in INCIDENT_ACTIONS:
    bp.add_url_rule(f"/ui/incidents/<id:incident_id>/{_entry.path}", endpoint=_entry.view_name,
                    view_func=_view(_entry), methods=["POST"])
