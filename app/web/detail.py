"""The incident page: fields, timeline, and one small form per action allowed now."""
from flask import render_template
from flask_login import current_user
from flask_wtf import FlaskForm

from app.incidents import queries
from app.incidents.lifecycle import Action, allowed_actions
from app.models import Incident
from app.web.incident_actions import INCIDENT_ACTIONS, IncidentAction


def action_form(entry: IncidentAction, incident: Incident, *, submitted: bool = False) -> FlaskForm:
    """The entry's form: bound to the request when `submitted`, else fresh for this version."""
    if submitted:
        form = entry.form_class(prefix=entry.action.value)
    else:
        form = entry.form_class(formdata=None, prefix=entry.action.value, version=incident.version,
                                technician_id=incident.technician_id)
    if entry.choices:
        form[entry.field].choices = entry.choices()
    return form


def render_detail(incident: Incident, submitted: dict[Action, FlaskForm] | None = None):
    """The page, with `submitted` forms (and their errors) in place of fresh ones."""
    submitted = submitted or {}
    allowed = allowed_actions(current_user, incident)
    shown = [(entry, submitted.get(entry.action) or action_form(entry, incident))
             for entry in INCIDENT_ACTIONS if entry.action in allowed]
    return render_template("web/incident_detail.html", incident=incident,
                           card=[(entry, form) for entry, form in shown if not entry.heading],
                           sections=[(entry, form) for entry, form in shown if entry.heading],
                           may_edit=Action.EDIT in allowed, events=queries.timeline(incident=incident))
