"""Admin pages for accounts: list, create, change role, deactivate and reactivate, send a reset link."""
from flask import flash, redirect, render_template, url_for
from flask_login import current_user

from app.auth import recovery
from app.auth import service as accounts
from app.auth.decorators import role_required
from app.auth.roles import Role
from app.exceptions import DomainError, InvalidInput
from app.web import bp
from app.web.feedback import flash_refusal, show_field_errors
from app.web.forms import NewUserForm, RoleForm


def role_form(user, *, submitted: bool = False) -> RoleForm:
    """The role picker of one table row; the prefix keeps ids unique on the page."""
    prefix = f"user{user.id}"
    return RoleForm(prefix=prefix) if submitted else RoleForm(formdata=None, prefix=prefix, role=user.role.value)


def _render_users(new_form: NewUserForm, submitted: dict[int, RoleForm] | None = None, status: int = 200):
    """The users page, with a submitted row form (and its errors) in place of a fresh one."""
    users = accounts.list_users()
    role_forms = {user.id: role_form(user) for user in users} | (submitted or {})
    return render_template("web/users.html", users=users, role_forms=role_forms, new_form=new_form), status


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
    return _update_and_say(user, lambda: f"{user.username} is now {user.role.value}.", role=form.role.data)


@bp.post("/ui/users/<id:user_id>/deactivate")
@role_required(Role.ADMIN)
def deactivate_user(user_id: int):
    """Deactivate: the user can no longer log in and their API tokens stop working."""
    user = accounts.get_user(user_id)
    return _update_and_say(user, lambda: f"{user.username} is deactivated; their API tokens were revoked.",
                           active=False)


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


def _update_and_say(user, success, **changes):
    """One account change: a success flash, or the refusal as a danger flash; back to the list."""
    try:
        accounts.update_user(user=user, **changes)
    except DomainError as exc:
        flash_refusal(exc)
    else:
        flash(success(), "success")
    return redirect(url_for("web.users"))
