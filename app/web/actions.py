"""The incident page's small forms: one POST view per entry of `INCIDENT_ACTIONS`, made by `_view`.

Each view: load or 404, bind its form, make ONE service call, then post/redirect/get."""
from flask import flash, redirect, request, url_for
from flask_login import current_user, login_required
from flask_wtf.csrf import CSRFError

from app.errors import handle_expired_form
from app.exceptions import DomainError, InvalidInput, NotFound
from app.incidents import queries
from app.incidents.lifecycle import allowed_actions
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


_ENTRY_OF_ENDPOINT = {f"web.{entry.view_name}": entry for entry in INCIDENT_ACTIONS}


def expired_message(entry: IncidentAction, incident) -> str:
    """What the form says when its token had expired: plain words, and the button to press."""
    return f"The form expired; press “{entry.button_for(incident)}” again. Nothing was saved yet."


@bp.errorhandler(CSRFError)
def expired_form(exc: CSRFError):
    """An incident-page form posted with an expired (or missing) CSRF token: the page again, the
    form holding what was typed (a comment can be long) and a fresh token, saying to press the
    button again. Files chosen for upload cannot be kept: a browser never lets a page refill them.
    Any other form of the site gets the friendly page of app/errors.py."""
    entry = _ENTRY_OF_ENDPOINT.get(request.endpoint or "")
    if entry is None or not current_user.is_authenticated:
        return handle_expired_form(exc)
    try:
        incident = queries.get_incident(actor=current_user, incident_id=request.view_args["incident_id"])
    except NotFound:
        return handle_expired_form(exc)
    if entry.action not in allowed_actions(current_user, incident):
        return handle_expired_form(exc)  # its form is not on the page any more: nothing to refill
    form = action_form(entry, incident, submitted=True)
    form.csrf_token.errors = [expired_message(entry, incident)]
    return render_detail(incident, submitted={entry.action: form}), 400
