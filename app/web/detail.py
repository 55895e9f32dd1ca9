"""The incident page: fields, timeline, comment box and one small form per action allowed now."""
from flask import render_template
from flask_login import current_user
from wtforms import SelectChoice

from app.incidents import queries, service
from app.incidents.lifecycle import Action, allowed_actions
from app.models import Incident
from app.web.forms import AssignForm, CommentForm, MoveForm, ReopenForm, ResolveForm

PLACEHOLDER = SelectChoice("", "Choose a technician…")

# The form each action posts, and the prefix that keeps its field ids unique on the page.
ACTION_FORMS = {
    Action.ASSIGN: AssignForm,
    Action.START: MoveForm,
    Action.RESOLVE: ResolveForm,
    Action.CLOSE: MoveForm,
    Action.REOPEN: ReopenForm,
    Action.COMMENT: CommentForm,
}


def action_form(action: Action, incident: Incident, *, submitted: bool = False):
    """The form for `action`: bound to the request when `submitted`, else fresh for this version."""
    form_class = ACTION_FORMS[action]
    if submitted:
        form = form_class(prefix=action.value)
    else:
        form = form_class(formdata=None, prefix=action.value, version=incident.version,
                          technician_id=incident.technician_id)
    if action == Action.ASSIGN:
        form.technician_id.choices = [PLACEHOLDER] + [
            SelectChoice(technician.id, f"{technician.name} ({technician.username})")
            for technician in service.technicians()
        ]
    return form


def render_detail(incident: Incident, submitted: dict[Action, object] | None = None):
    """The page, with `submitted` forms (and their errors) in place of fresh ones."""
    submitted = submitted or {}
    allowed = allowed_actions(current_user, incident)
    forms = {action.value: submitted.get(action) or action_form(action, incident)
             for action in ACTION_FORMS if action in allowed}
    return render_template("web/incident_detail.html", incident=incident, forms=forms,
                           may_edit=Action.EDIT in allowed, events=queries.timeline(incident=incident))
