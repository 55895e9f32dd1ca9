"""The incident page's watchers card: watch, stop watching, and (admins) add or remove anyone.

Each POST view: load or 404, one call to app.incidents.watchers, a flash, back to the incident.
The card's data comes from the template global `watchers_card`, so the page's view stays as it is."""
from dataclasses import dataclass

from flask import flash, g, redirect, url_for
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from wtforms import SelectField
from wtforms.validators import InputRequired

from app.auth.roles import Role
from app.exceptions import DomainError, InvalidInput
from app.incidents import queries, watchers
from app.models import Incident, User
from app.web import bp
from app.web.detail import render_detail
from app.web.feedback import flash_refusal, show_field_errors


class AddWatcherForm(FlaskForm):
    """An admin adds someone who may see the incident."""

    user_id = SelectField("Add a watcher", coerce=int, validators=[InputRequired()])


@dataclass(frozen=True)
class WatchersCard:
    """What the card shows to the current user."""

    watchers: list[User]
    watching: bool
    add_form: AddWatcherForm | None  # admins only


@bp.app_template_global("watchers_card")
def watchers_card(incident: Incident) -> WatchersCard:
    """The incident's watchers, whether the current user is one, and the admin's form."""
    people = watchers.watchers_of(incident)
    add_form = None
    if current_user.role == Role.ADMIN:
        add_form = g.get("add_watcher_form") or AddWatcherForm(formdata=None, prefix="watcher")
        add_form.user_id.choices = _choices(incident)
    return WatchersCard(watchers=people, watching=any(user.id == current_user.id for user in people),
                        add_form=add_form)


def _choices(incident: Incident) -> list[tuple[int, str]]:
    return [(user.id, f"{user.name} ({user.username})") for user in watchers.addable(incident)]


def _back(incident_id: int):
    return redirect(url_for("web.incident", incident_id=incident_id, _anchor="watchers"))


@bp.post("/ui/incidents/<id:incident_id>/watch")
@login_required
def watch_incident(incident_id: int):
    """Watch the incident yourself."""
    return _change(incident_id, lambda incident: watchers.watch(actor=current_user, incident=incident),
                   "You are watching {ref}: you will get mail about it.")


@bp.post("/ui/incidents/<id:incident_id>/unwatch")
@login_required
def unwatch_incident(incident_id: int):
    """Stop watching the incident yourself."""
    return _change(incident_id, lambda incident: watchers.unwatch(actor=current_user, incident=incident,
                                                                   user_id=current_user.id),
                   "You stopped watching {ref}.")


@bp.post("/ui/incidents/<id:incident_id>/watchers")
@login_required
def add_watcher(incident_id: int):
    """An admin makes someone watch the incident; a bad choice re-renders the page (422)."""
    incident = queries.get_incident(actor=current_user, incident_id=incident_id)
    form = AddWatcherForm(prefix="watcher")
    form.user_id.choices = _choices(incident)
    if form.validate_on_submit():
        try:
            user = watchers.watch(actor=current_user, incident=incident, user_id=form.user_id.data)
        except InvalidInput as exc:
            show_field_errors(form, exc)
        except DomainError as exc:
            flash_refusal(exc)
            return _back(incident_id)
        else:
            flash(f"{user.name} is watching {incident.reference}.", "success")
            return _back(incident_id)
    g.add_watcher_form = form
    return render_detail(incident), 422


@bp.post("/ui/incidents/<id:incident_id>/watchers/<id:user_id>/remove")
@login_required
def remove_watcher(incident_id: int, user_id: int):
    """An admin (or the watcher themselves) removes a watcher."""
    return _change(incident_id, lambda incident: watchers.unwatch(actor=current_user, incident=incident,
                                                                   user_id=user_id),
                   "Removed the watcher from {ref}.")


def _change(incident_id: int, call, done: str):
    """Load or 404, make the one service call, flash its outcome, back to the watchers card."""
    incident = queries.get_incident(actor=current_user, incident_id=incident_id)
    try:
        call(incident)
    except DomainError as exc:
        flash_refusal(exc)
    else:
        flash(done.format(ref=incident.reference), "success")
    return _back(incident_id)
