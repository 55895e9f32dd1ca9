"""/ui/admin/sla: the SLA policy of each priority, one form per row (admins)."""
from flask import current_app, flash, redirect, render_template, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import IntegerField, SelectChoice, SelectField
from wtforms.validators import InputRequired

from app.auth.decorators import role_required
from app.auth.roles import Role
from app.exceptions import InvalidInput, NotFound
from app.incidents import sla
from app.incidents.enums import Priority, SlaCalendar
from app.web import bp
from app.web.feedback import show_field_errors

WHOLE_MINUTES = "Enter a whole number of minutes."
CALENDAR_LABELS = {SlaCalendar.ALWAYS: "24x7 (every minute)", SlaCalendar.BUSINESS: "Business hours"}


class PolicyForm(FlaskForm):
    """One priority's targets; the domain checks the numbers (sla.validate_targets)."""

    response_minutes = IntegerField("Response (minutes)", validators=[InputRequired(WHOLE_MINUTES)])
    resolve_minutes = IntegerField("Resolve (minutes)", validators=[InputRequired(WHOLE_MINUTES)])
    calendar = SelectField("Calendar", choices=[SelectChoice(kind.value, label)
                                                for kind, label in CALENDAR_LABELS.items()])


def policy_form(policy: sla.Policy, *, submitted: bool = False) -> PolicyForm:
    prefix = policy.priority.value.lower()
    if submitted:
        return PolicyForm(prefix=prefix)
    targets = policy.targets
    return PolicyForm(formdata=None, prefix=prefix, response_minutes=targets.response_minutes,
                      resolve_minutes=targets.resolve_minutes, calendar=targets.calendar.value)


def _render(submitted: dict[Priority, PolicyForm] | None = None, status: int = 200):
    policies = sla.policies()
    forms = {policy.priority: policy_form(policy) for policy in policies} | (submitted or {})
    config = current_app.config
    return render_template("web/sla_policies.html", policies=policies, forms=forms,
                           business=(config["SLA_TIMEZONE"], config["SLA_BUSINESS_HOURS"], config["SLA_HOLIDAYS"]),
                           minutes_max=sla.MINUTES_MAX), status


@bp.get("/ui/admin/sla")
@role_required(Role.ADMIN)
def sla_policies():
    """The four policies and the business calendar they count in."""
    return _render()


@bp.post("/ui/admin/sla/<priority>")
@role_required(Role.ADMIN)
def change_sla_policy(priority: str):
    """Save one row; its errors are shown in that row."""
    try:
        chosen = Priority.parse(priority)
    except ValueError:
        raise NotFound(f"There is no priority '{priority}'.") from None
    form = policy_form(sla.policy(chosen), submitted=True)
    if form.validate_on_submit():
        try:
            sla.update_policy(actor=current_user._get_current_object(), priority=chosen,
                              response_minutes=form.response_minutes.data,
                              resolve_minutes=form.resolve_minutes.data, calendar=form.calendar.data)
        except InvalidInput as exc:
            show_field_errors(form, exc)
        else:
            flash(f"Saved the {chosen.value} policy. Incidents that get {chosen.value} from now on hold it.", "success")
            return redirect(url_for("web.sla_policies"))
    return _render({chosen: form}, status=422)
