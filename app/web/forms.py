"""The portal's forms: parsing and length limits only; the domain re-validates everything.

Field names match the domain's field names, so an `InvalidInput` from a service lands next to
the field it is about (see `feedback.show_field_errors`)."""
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    IntegerField,
    MultipleFileField,
    PasswordField,
    SelectChoice,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, EqualTo, Length, Optional
from wtforms.widgets import HiddenInput

from app.auth.emails import EMAIL_MAX
from app.auth.roles import Role
from app.incidents.enums import Category, Severity, Urgency
from app.incidents.lifecycle import DESCRIPTION_MAX, TEXT_MAX, TITLE_MAX

USERNAME_MAX = 64
NAME_MAX = 120
PASSWORD_MAX = 256
TOKEN_NAME_MAX = 100
TOKEN_LIFETIMES = [SelectChoice(days, f"{days} days") for days in (7, 30, 90)]


def enum_choices(enum_cls) -> list[SelectChoice]:
    """A select's options for an enum, in the enum's own order."""
    return [SelectChoice(member.value, member.value.replace("_", " ").capitalize()) for member in enum_cls]


def optional_int(value) -> int | None:
    """Coerce a select's value to an int, the empty placeholder to None."""
    return None if value in (None, "", "None") else int(value)


class VersionedForm(FlaskForm):
    """A form about one incident: carries the version the user saw, so a stale page is refused."""

    version = IntegerField(widget=HiddenInput(), validators=[Optional()])


class IncidentForm(FlaskForm):
    """Report an incident."""

    title = StringField("Title", validators=[DataRequired(), Length(max=TITLE_MAX)])
    description = TextAreaField("Description", validators=[DataRequired(), Length(max=DESCRIPTION_MAX)],
                                render_kw={"rows": 6})
    severity = SelectField("Severity", choices=enum_choices(Severity), default=Severity.MEDIUM.value)
    urgency = SelectField("Urgency", choices=enum_choices(Urgency), default=Urgency.MEDIUM.value,
                          description="How soon the work it stops needs it back; with the severity it sets "
                                      "the priority.")
    category = SelectField("Category", choices=enum_choices(Category), default=Category.OTHER.value)
    uploads = MultipleFileField("Attach files", description="Screenshots, logs: up to 10 files at a time.")

    def details(self) -> dict[str, str]:
        """The fields as the service takes them."""
        return {"title": self.title.data, "description": self.description.data,
                "severity": self.severity.data, "urgency": self.urgency.data, "category": self.category.data}


class EditIncidentForm(IncidentForm, VersionedForm):
    """Change an incident's details (files are attached with a comment, not here)."""

    uploads = None


class AssignForm(VersionedForm):
    """Assign or reassign; `incident_actions` fills the choices with the active technicians."""

    technician_id = SelectField("Technician", coerce=optional_int,
                                validators=[DataRequired(message="Choose a technician.")])


class MoveForm(VersionedForm):
    """A move that needs nothing but a click: start, close."""


class ResolveForm(VersionedForm):
    """Resolve, with the notes the reporter will read."""

    resolution_notes = TextAreaField("Resolution notes", validators=[DataRequired(), Length(max=TEXT_MAX)],
                                     render_kw={"rows": 4})


class HoldForm(VersionedForm):
    """Put on hold, saying what the incident waits for."""

    reason = TextAreaField("Waiting for", validators=[DataRequired(), Length(max=TEXT_MAX)],
                           render_kw={"rows": 3})


class ReopenForm(VersionedForm):
    """Reopen, saying why."""

    reason = TextAreaField("Reason for reopening", validators=[DataRequired(), Length(max=TEXT_MAX)],
                           render_kw={"rows": 3})


class CommentForm(FlaskForm):
    """Add a comment to the timeline."""

    body = TextAreaField("Comment", validators=[DataRequired(), Length(max=TEXT_MAX)], render_kw={"rows": 3})
    # Shown to staff only (the template asks `sees_internal`); the service refuses it from anyone else.
    internal = BooleanField("Internal note: staff only, never shown to the reporter")
    uploads = MultipleFileField("Attach files")


class NewUserForm(FlaskForm):
    """An admin creates an account."""

    username = StringField("Username", validators=[DataRequired(), Length(max=USERNAME_MAX)],
                           render_kw={"autocomplete": "off"})
    name = StringField("Full name", validators=[DataRequired(), Length(max=NAME_MAX)])
    email = StringField("Email", validators=[DataRequired(), Length(max=EMAIL_MAX)],
                        render_kw={"type": "email", "autocomplete": "off"})
    role = SelectField("Role", choices=enum_choices(Role), default=Role.REPORTER.value)
    password = PasswordField("Initial password", validators=[DataRequired(), Length(max=PASSWORD_MAX)],
                             render_kw={"autocomplete": "new-password"})


class RoleForm(FlaskForm):
    """Change one user's role (one per table row, told apart by prefix)."""

    role = SelectField("Role", choices=enum_choices(Role))


class HandoverForm(FlaskForm):
    """Where a leaving technician's active incidents go, sent with the deactivation or role change:
    to another technician, or back to open. The domain checks the choice (one of them, a technician
    who can take them); the view fills the choices."""

    reassign_to = SelectField("Reassign to", coerce=optional_int, validate_choice=False, validators=[Optional()])
    unassign = BooleanField("Unassign (back to open)")


class PasswordForm(FlaskForm):
    """Change one's own password."""

    current_password = PasswordField("Current password", validators=[DataRequired(), Length(max=PASSWORD_MAX)],
                                     render_kw={"autocomplete": "current-password"})
    new_password = PasswordField("New password", validators=[DataRequired(), Length(max=PASSWORD_MAX)],
                                 render_kw={"autocomplete": "new-password"})
    confirm = PasswordField("Repeat the new password",
                            validators=[DataRequired(), EqualTo("new_password", message="The passwords differ.")],
                            render_kw={"autocomplete": "new-password"})


class TokenForm(FlaskForm):
    """Create an API token."""

    name = StringField("Token name", validators=[DataRequired(), Length(max=TOKEN_NAME_MAX)],
                       description="What the token is for, e.g. “monitoring script”.")
    ttl_days = SelectField("Expires after", choices=TOKEN_LIFETIMES, coerce=int, default=30)
