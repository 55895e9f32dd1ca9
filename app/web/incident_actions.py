"""Every form the incident page posts, in one table: its URL, form, words, service call and flash.

Which of them a user sees is the lifecycle's answer (`allowed_actions`), never this table's.
The views (actions.py), the page (detail.py) and its template all read `INCIDENT_ACTIONS`."""
from collections.abc import Callable
from dataclasses import dataclass

from flask_wtf import FlaskForm
from wtforms import SelectChoice

from app.incidents import service
from app.incidents.lifecycle import Action
from app.models import Incident
from app.web.forms import AssignForm, CommentForm, HoldForm, MoveForm, ReopenForm, ResolveForm, VersionedForm

# Text on the page; a function of the incident when it depends on it ("Assign" / "Reassign").
Words = str | Callable[[Incident], str]


def _say(words: Words | None, incident: Incident) -> str | None:
    """The words as this incident's page shows them."""
    return words(incident) if callable(words) else words


@dataclass(frozen=True)
class IncidentAction:
    """One form on the incident page and the view behind it (endpoint `web.<action>_incident`)."""

    action: Action
    """The lifecycle move; its value is the form's prefix and its element id (`assign-form`)."""
    path: str
    """The URL after /ui/incidents/<id>/."""
    summary: str
    """What the view does (its docstring)."""
    form_class: type[FlaskForm]
    call: Callable[..., object]
    """The service function: keyword-only, given `arguments(form)`."""
    done: str
    """The success flash, formatted with `ref` and `incident` after the call."""
    button: Words
    button_class: str = "btn btn-primary"
    field: str | None = None
    """The one field the form shows; the service takes it under the same name."""
    field_label: Words | None = None
    """None keeps the form's own label."""
    choices: Callable[[], list[SelectChoice]] | None = None
    """Fills the field's options when it is a select over rows of the database."""
    help: str | None = None
    """A hint above the button."""
    heading: str | None = None
    """A form with a heading gets its own section under the timeline instead of a place in the actions card."""
    extra: tuple[str, ...] = ()
    """More fields the service takes under the same names (the template renders them itself)."""

    @property
    def multipart(self) -> bool:
        """The form sends files."""
        return "uploads" in self.extra

    @property
    def view_name(self) -> str:
        """The endpoint inside the web blueprint."""
        return f"{self.action.value}_incident"

    def arguments(self, form: FlaskForm) -> dict[str, object]:
        """The service's arguments from a valid form: its field (and `extra` ones), and the version the user saw."""
        values = {name: form[name].data for name in (self.field, *self.extra) if name}
        if isinstance(form, VersionedForm):
            values["expected_version"] = form.version.data
        return values

    def button_for(self, incident: Incident) -> str:
        """The button's text on this incident's page."""
        return _say(self.button, incident)

    def label_for(self, incident: Incident) -> str | None:
        """The field's label on this incident's page; None for the form's own."""
        return _say(self.field_label, incident)


def _assign_or_reassign(incident: Incident) -> str:
    """Once a technician is set, assigning again is reassigning."""
    return "Reassign" if incident.technician else "Assign"


def _technician_choices() -> list[SelectChoice]:
    """The active technicians, after a placeholder that must be changed."""
    return [SelectChoice("", "Choose a technician…")] + [
        SelectChoice(technician.id, f"{technician.name} ({technician.username})")
        for technician in service.technicians()
    ]


# In the order the page shows them.
INCIDENT_ACTIONS = (
    IncidentAction(Action.ASSIGN, "assign", "Assign or reassign to an active technician.", AssignForm,
                   service.assign_incident, "{ref} is assigned to {incident.technician.name}.",
                   button=_assign_or_reassign, field="technician_id",
                   field_label=lambda incident: f"{_assign_or_reassign(incident)} to", choices=_technician_choices),
    IncidentAction(Action.TAKE, "take", "Take an open incident: assign it to yourself.", MoveForm,
                   service.take_incident, "{ref} is yours now.", button="Take it",
                   help="Nobody is working on it yet."),
    IncidentAction(Action.START, "start", "Start work on an assigned incident.", MoveForm,
                   service.start_incident, "{ref} is in progress.", button="Start work"),
    IncidentAction(Action.RESUME, "resume", "Resume work on an incident on hold.", MoveForm,
                   service.resume_incident, "{ref} is in progress again.", button="Resume"),
    IncidentAction(Action.RESOLVE, "resolve", "Resolve, with notes.", ResolveForm,
                   service.resolve_incident, "{ref} is resolved; the reporter has been told.",
                   button="Resolve", button_class="btn btn-success", field="resolution_notes"),
    IncidentAction(Action.CLOSE, "close", "Close a resolved incident.", MoveForm,
                   service.close_incident, "{ref} is closed.", button="Close incident", button_class="btn btn-success",
                   help="Close it once you have checked that the fix works."),
    IncidentAction(Action.REOPEN, "reopen", "Reopen a resolved or closed incident, with a reason.", ReopenForm,
                   service.reopen_incident, "{ref} is reopened.", button="Reopen",
                   button_class="btn btn-outline-danger", field="reason"),
    IncidentAction(Action.HOLD, "hold", "Put an incident in progress on hold, saying what it waits for.", HoldForm,
                   service.hold_incident, "{ref} is on hold; a comment from its reporter resumes it.",
                   button="Put on hold", button_class="btn btn-outline-secondary", field="reason",
                   help="While it waits on the reporter or a third party."),
    IncidentAction(Action.COMMENT, "comments", "Add a comment to the timeline.", CommentForm,
                   service.add_comment, "Your comment was added to {ref}.", button="Add comment",
                   button_class="btn btn-outline-primary", field="body", heading="Add a comment",
                   extra=("internal", "uploads")),
)
