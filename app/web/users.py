"""Admin pages for accounts: list, create, change role, deactivate and reactivate (handing over a
leaving technician's active incidents), send a reset link, reset two-factor sign-in."""
from dataclasses import dataclass

from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user
from wtforms import SelectChoice

from app.auth import recovery, throttle
from app.auth import service as accounts
from app.auth.decorators import role_required
from app.auth.roles import Role
from app.exceptions import DomainError, InvalidInput
from app.incidents.handover import IncidentsHeld, held_incidents
from app.incidents.service import technicians
from app.models import Incident, User
from app.web import bp
from app.web.feedback import flash_refusal, show_field_errors
from app.web.forms import HandoverForm, NewUserForm, RoleForm


@dataclass
class Handover:
    """The panel shown when a change would take a technician holding active incidents off duty:
    the incidents, and the change again with a place for them to go."""

    user: User
    incidents: list[Incident]
    form: HandoverForm
    action: str
    """The URL the change is sent to again."""
    role_field: str | None
    role: str | None
    """The role asked for, sent again in the row form's field; None for a deactivation."""


@dataclass
class Deactivation:
    """The confirmation asked before a deactivation: what it will do to the account, said plainly,
    and whether the admin already sent the form without ticking the box."""

    user: User
    tokens: int
    """The account's live API tokens, which the deactivation revokes."""
    refused: bool


def _tokens(count: int) -> str:
    return f"{count} API token{'' if count == 1 else 's'}"


def role_form(user, *, submitted: bool = False) -> RoleForm:
    """The role picker of one table row; the prefix keeps ids unique on the page."""
    prefix = f"user{user.id}"
    return RoleForm(prefix=prefix) if submitted else RoleForm(formdata=None, prefix=prefix, role=user.role.value)


def handover_form(user: User) -> HandoverForm:
    """The submitted hand-over choice, offering the active technicians other than `user`."""
    form = HandoverForm()
    form.reassign_to.choices = [SelectChoice("", "Choose a technician…")] + [
        SelectChoice(technician.id, f"{technician.name} ({technician.username})")
        for technician in technicians() if technician.id != user.id
    ]
    return form


STATES = {"active": True, "deactivated": False}


@dataclass
class UserFilters:
    """What the list is narrowed to (`?role=technician&state=deactivated`) and what in the query
    string was not understood: those are shown, never silently dropped."""

    role: Role | None
    state: str | None
    ignored: list[str]

    @classmethod
    def parse(cls, args) -> "UserFilters":
        ignored: list[str] = []
        role = state = None
        for name in args:
            values = [v.strip() for v in args.getlist(name)]
            if name == "role":
                given = values[-1].lower()
                if given in {r.value for r in Role}:
                    role = Role(given)
                elif given:
                    ignored.append(f"role={values[-1]} (not a role: {', '.join(r.value for r in Role)})")
            elif name == "state":
                given = values[-1].lower()
                if given in STATES:
                    state = given
                elif given:
                    ignored.append(f"state={values[-1]} (must be active or deactivated)")
            else:
                ignored.append(f"{name} (this page filters by role and state only)")
        return cls(role=role, state=state, ignored=ignored)

    @property
    def active(self) -> bool | None:
        return STATES.get(self.state) if self.state else None


def _render_users(new_form: NewUserForm, submitted: dict[int, RoleForm] | None = None, status: int = 200,
                  handover: Handover | None = None, deactivation: Deactivation | None = None):
    """The users page, with a submitted row form (and its errors) in place of a fresh one, narrowed
    by the query string's filters."""
    filters = UserFilters.parse(request.args)
    users = accounts.list_users(role=filters.role, active=filters.active)
    role_forms = {user.id: role_form(user) for user in users} | (submitted or {})
    return render_template("web/users.html", users=users, role_forms=role_forms, new_form=new_form,
                           handover=handover, deactivation=deactivation, filters=filters, roles=list(Role),
                           sign_in=throttle.standings([u.username for u in users])), status


@bp.route("/ui/users/", methods=["GET", "POST"])
@role_required(Role.ADMIN)
def users():
    """Every account, with a form to create one."""
    form = NewUserForm()
    if form.validate_on_submit():
        try:
            user = accounts.create_user(username=form.username.data.strip(), password=form.password.data,
                                        role=form.role.data, name=form.name.data, email=form.email.data.strip())
        except InvalidInput as exc:
            show_field_errors(form, exc)
        else:
            flash(f"Created {user.role.value} {user.username}.", "success")
            return redirect(url_for("web.users"))
    return _render_users(form, status=422 if form.errors else 200)


@bp.post("/ui/users/<id:user_id>/role")
@role_required(Role.ADMIN)
def change_role(user_id: int):
    """Give a user another role."""
    user = accounts.get_user(user_id)
    form = role_form(user, submitted=True)
    if not form.validate_on_submit():
        return _render_users(NewUserForm(formdata=None), {user.id: form}, status=422)
    return _update_and_say(user, lambda: f"{user.username} is now {user.role.value}.", role=form.role.data,
                           role_field=form.role.name)


@bp.post("/ui/users/<id:user_id>/deactivate")
@role_required(Role.ADMIN)
def deactivate_user(user_id: int):
    """Deactivate: the user is signed out everywhere, can no longer log in and their API tokens are
    revoked. That is hard to undo for the people depending on those tokens, so the admin confirms it
    first: the row's button asks, and only the ticked confirmation (checked here, not in the browser)
    deactivates."""
    user = accounts.get_user(user_id)
    if request.form.get("confirm") != "y":
        asked = Deactivation(user=user, tokens=len(accounts.list_tokens(user=user)),
                             refused=request.form.get("asked") == "y")
        return _render_users(NewUserForm(formdata=None), status=422 if asked.refused else 200,
                             deactivation=asked)
    tokens = len(accounts.list_tokens(user=user))
    return _update_and_say(user, lambda: f"{user.username} is deactivated: signed out everywhere, "
                           f"{_tokens(tokens)} revoked.", active=False)


@bp.post("/ui/users/<id:user_id>/reactivate")
@role_required(Role.ADMIN)
def reactivate_user(user_id: int):
    """Let a deactivated user log in again."""
    user = accounts.get_user(user_id)
    return _update_and_say(user, lambda: f"{user.username} is active again.", active=True)


@bp.post("/ui/users/<id:user_id>/reset-link")
@role_required(Role.ADMIN)
def send_reset_link(user_id: int):
    """Mail a user a link to choose a new password."""
    user = accounts.get_user(user_id)
    try:
        recovery.send_reset_link(user=user, sent_by=current_user._get_current_object())
    except DomainError as exc:
        flash_refusal(exc)
    else:
        flash(f"A password reset link is on its way to {user.username} ({user.email}).", "success")
    return redirect(url_for("web.users"))


@bp.post("/ui/users/<id:user_id>/reset-two-factor")
@role_required(Role.ADMIN)
def reset_two_factor(user_id: int):
    """Turn a user's two-factor sign-in off (a lost phone); a role that requires it sets it up again."""
    user = accounts.get_user(user_id)
    return _update_and_say(user, lambda: f"Two-factor sign-in of {user.username} was reset; they sign in with "
                           "their password and set it up again.", reset_2fa=True)


def _update_and_say(user, success, role_field: str | None = None, **changes):
    """One account change: a success flash, or the refusal as a danger flash; back to the list. When
    a technician leaving duty holds active incidents, the page asks where they go instead."""
    form = handover_form(user)
    if not form.validate():
        return _render_handover(user, form, role_field, changes, status=422)
    try:
        accounts.update_user(user=user, actor=current_user._get_current_object(),
                             reassign_to=form.reassign_to.data, unassign=form.unassign.data, **changes)
    except IncidentsHeld:
        return _render_handover(user, form, role_field, changes, status=409)
    except InvalidInput as exc:
        show_field_errors(form, exc)
        return _render_handover(user, form, role_field, changes, status=422)
    except DomainError as exc:
        flash_refusal(exc)
    else:
        flash(success(), "success")
    return redirect(url_for("web.users"))


def _render_handover(user: User, form: HandoverForm, role_field: str | None, changes: dict, status: int):
    """The users page with the hand-over panel for the change asked of `user`."""
    handover = Handover(user=user, incidents=held_incidents(user), form=form, action=request.path,
                        role_field=role_field, role=changes.get("role"))
    return _render_users(NewUserForm(formdata=None), status=status, handover=handover)
