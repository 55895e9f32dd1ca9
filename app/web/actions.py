"""The incident page's small forms: assign, start, resolve, close, reopen, comment.

Each view: load or 404, bind its form, make ONE service call, then post/redirect/get."""
from collections.abc import Callable

from flask import flash, redirect, url_for
from flask_login import current_user, login_required

from app.exceptions import DomainError, InvalidInput
from app.incidents import queries, service
from app.incidents.lifecycle import Action
from app.models import Incident
from app.web import bp
from app.web.detail import action_form, render_detail
from app.web.feedback import flash_refusal, show_field_errors


def _act(incident_id: int, action: Action, call: Callable[[Incident, object], object], success: str):
    """Validate the action's form, call the service, flash, redirect back to the incident.

    Bad input re-renders the page (422) with the messages next to the fields; any other
    refusal is a danger flash on the incident page."""
    incident = queries.get_incident(actor=current_user, incident_id=incident_id)
    form = action_form(action, incident, submitted=True)
    if form.validate_on_submit():
        try:
            call(incident, form)
        except InvalidInput as exc:
            show_field_errors(form, exc)
        except DomainError as exc:
            flash_refusal(exc, reference=incident.reference)
            return redirect(url_for("web.incident", incident_id=incident_id))
        else:
            flash(success.format(ref=incident.reference, incident=incident), "success")
            return redirect(url_for("web.incident", incident_id=incident_id))
    return render_detail(incident, submitted={action: form}), 422


@bp.post("/ui/incidents/<id:incident_id>/assign")
@login_required
def assign_incident(incident_id: int):
    """Assign or reassign to an active technician."""
    return _act(incident_id, Action.ASSIGN, lambda incident, form: service.assign_incident(
        actor=current_user, incident=incident, technician_id=form.technician_id.data,
        expected_version=form.version.data), "{ref} is assigned to {incident.technician.name}.")


@bp.post("/ui/incidents/<id:incident_id>/start")
@login_required
def start_incident(incident_id: int):
    """Start work on an assigned incident."""
    return _act(incident_id, Action.START, lambda incident, form: service.start_incident(
        actor=current_user, incident=incident, expected_version=form.version.data), "{ref} is in progress.")


@bp.post("/ui/incidents/<id:incident_id>/resolve")
@login_required
def resolve_incident(incident_id: int):
    """Resolve, with notes."""
    return _act(incident_id, Action.RESOLVE, lambda incident, form: service.resolve_incident(
        actor=current_user, incident=incident, resolution_notes=form.resolution_notes.data,
        expected_version=form.version.data), "{ref} is resolved; the reporter has been told.")


@bp.post("/ui/incidents/<id:incident_id>/close")
@login_required
def close_incident(incident_id: int):
    """Close a resolved incident."""
    return _act(incident_id, Action.CLOSE, lambda incident, form: service.close_incident(
        actor=current_user, incident=incident, expected_version=form.version.data), "{ref} is closed.")


@bp.post("/ui/incidents/<id:incident_id>/reopen")
@login_required
def reopen_incident(incident_id: int):
    """Reopen a resolved or closed incident, with a reason."""
    return _act(incident_id, Action.REOPEN, lambda incident, form: service.reopen_incident(
        actor=current_user, incident=incident, reason=form.reason.data,
        expected_version=form.version.data), "{ref} is reopened.")


@bp.post("/ui/incidents/<id:incident_id>/comments")
@login_required
def comment_incident(incident_id: int):
    """Add a comment to the timeline."""
    return _act(incident_id, Action.COMMENT, lambda incident, form: service.add_comment(
        actor=current_user, incident=incident, body=form.body.data), "Your comment was added to {ref}.")
