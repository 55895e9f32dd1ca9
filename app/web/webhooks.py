"""/ui/admin/webhooks/: the webhook endpoints (admins) — list and add, edit, delete and rotate the
secret (each confirmed on its own page), and an endpoint's delivery log with replay buttons.

Every rule is app.webhooks.endpoints'; a refusal lands next to its field or as a flash. A new secret
is shown on the page that answers the POST and nowhere else: it never travels through a cookie, a
URL or a redirect."""
import re

from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import BooleanField, SelectChoice, SelectMultipleField, StringField, TextAreaField
from wtforms.validators import InputRequired, Length
from wtforms.widgets import CheckboxInput, ListWidget

from app.auth.decorators import role_required
from app.auth.roles import Role
from app.exceptions import DomainError, InvalidInput, NotFound
from app.models import MAX_ID
from app.web import bp
from app.web.feedback import flash_refusal, show_field_errors
from app.webhooks import endpoints, guard
from app.webhooks.endpoints import rotating_until
from app.webhooks.events import EVENT_TYPES, EVERY

DELIVERIES_PER_PAGE = 50
EVENT_CHOICES = [SelectChoice(EVERY, "All events (also those added later)")] + [
    SelectChoice(name, name) for name in EVENT_TYPES]


class WebhookForm(FlaskForm):
    """An endpoint's settings; the domain checks the URL and the events."""

    url = StringField("URL", validators=[InputRequired("Enter the URL to POST to."), Length(max=guard.URL_MAX)],
                      description="http or https; no user name or password in it.",
                      render_kw={"autocomplete": "off", "spellcheck": "false", "inputmode": "url"})
    events = SelectMultipleField("Events", choices=EVENT_CHOICES, widget=ListWidget(prefix_label=False),
                                 option_widget=CheckboxInput())
    description = TextAreaField("Description", validators=[Length(max=endpoints.DESCRIPTION_MAX)],
                                description="Who owns the receiver and what it is for.", render_kw={"rows": 2})
    active = BooleanField("Active (send events)", default=True)


def _actor():
    return current_user._get_current_object()


def _settings(form: WebhookForm) -> dict:
    """The form's fields as the domain takes them."""
    return {"url": form.url.data.strip(), "events": list(form.events.data or []),
            "description": (form.description.data or "").strip(), "active": bool(form.active.data)}


def _page(template: str, **context) -> str:
    """A page of this module, which all show an endpoint's secret rotation window."""
    return render_template(template, rotating_until=rotating_until, replayable=endpoints.replayable, **context)


def _render_list(form: WebhookForm, status: int = 200):
    return _page("web/webhooks.html", endpoints=endpoints.list_endpoints(actor=_actor()), form=form), status


@bp.route("/ui/admin/webhooks/", methods=["GET", "POST"])
@role_required(Role.ADMIN)
def webhooks():
    """Every endpoint, with a form to add one; a new one's secret is shown once, on the answer."""
    form = WebhookForm(prefix="new")
    if not form.validate_on_submit():
        return _render_list(form, status=422 if form.errors else 200)
    try:
        endpoint, secret = endpoints.create_endpoint(actor=_actor(), **_settings(form))
    except InvalidInput as exc:
        show_field_errors(form, exc)
        return _render_list(form, status=422)
    return _page("web/webhook_secret.html", endpoint=endpoint, secret=secret, rotated=False), 201


@bp.route("/ui/admin/webhooks/<id:endpoint_id>/edit", methods=["GET", "POST"])
@role_required(Role.ADMIN)
def edit_webhook(endpoint_id: int):
    """Change an endpoint's URL, events, description, or switch it on or off."""
    endpoint = endpoints.get_endpoint(actor=_actor(), endpoint_id=endpoint_id)
    if request.method == "GET":
        form = WebhookForm(formdata=None, prefix="edit", url=endpoint.url, events=list(endpoint.events),
                           description=endpoint.description, active=endpoint.active)
    else:
        form = WebhookForm(prefix="edit")
        if form.validate_on_submit():
            try:
                endpoints.update_endpoint(actor=_actor(), endpoint_id=endpoint_id, **_settings(form))
            except InvalidInput as exc:
                show_field_errors(form, exc)
            else:
                flash(f"Saved webhook {endpoint.url}.", "success")
                return redirect(url_for("web.webhooks"))
    status = 422 if form.errors else 200
    return _page("web/webhook_edit.html", endpoint=endpoint, form=form), status


@bp.route("/ui/admin/webhooks/<id:endpoint_id>/delete", methods=["GET", "POST"])
@role_required(Role.ADMIN)
def delete_webhook(endpoint_id: int):
    """Ask first; then delete the endpoint and its delivery log."""
    endpoint = endpoints.get_endpoint(actor=_actor(), endpoint_id=endpoint_id)
    form = FlaskForm()
    if request.method == "POST" and form.validate_on_submit():
        url = endpoint.url
        endpoints.delete_endpoint(actor=_actor(), endpoint_id=endpoint_id)
        flash(f"Deleted webhook {url} and its delivery log.", "success")
        return redirect(url_for("web.webhooks"))
    return _page("web/webhook_confirm.html", endpoint=endpoint, form=form, action="delete")


@bp.route("/ui/admin/webhooks/<id:endpoint_id>/rotate", methods=["GET", "POST"])
@role_required(Role.ADMIN)
def rotate_webhook_secret(endpoint_id: int):
    """Ask first; then make a new secret and show it once (the old one signs beside it for 24 h)."""
    endpoint = endpoints.get_endpoint(actor=_actor(), endpoint_id=endpoint_id)
    form = FlaskForm()
    if request.method == "POST" and form.validate_on_submit():
        endpoint, secret = endpoints.rotate_secret(actor=_actor(), endpoint_id=endpoint_id)
        return _page("web/webhook_secret.html", endpoint=endpoint, secret=secret, rotated=True)
    return _page("web/webhook_confirm.html", endpoint=endpoint, form=form, action="rotate")


def _before() -> int | None:
    """The `before` paging cursor: a delivery id in ASCII digits, anything else ignored."""
    text = request.args.get("before", "")
    if re.fullmatch(r"[1-9][0-9]{0,9}", text) and int(text) <= MAX_ID:
        return int(text)
    return None


@bp.get("/ui/admin/webhooks/<id:endpoint_id>/deliveries")
@role_required(Role.ADMIN)
def webhook_deliveries(endpoint_id: int):
    """The endpoint's deliveries, newest first, with a replay button on each finished one."""
    endpoint = endpoints.get_endpoint(actor=_actor(), endpoint_id=endpoint_id)
    before = _before()
    found = list(endpoints.list_deliveries(actor=_actor(), endpoint_id=endpoint_id, limit=DELIVERIES_PER_PAGE + 1,
                                           before=before))
    deliveries = found[:DELIVERIES_PER_PAGE]
    older = deliveries[-1].id if len(found) > DELIVERIES_PER_PAGE else None
    return _page("web/webhook_deliveries.html", endpoint=endpoint, deliveries=deliveries, older=older,
                           paged=before is not None)


@bp.post("/ui/admin/webhooks/<id:endpoint_id>/deliveries/<id:delivery_id>/replay")
@role_required(Role.ADMIN)
def replay_webhook_delivery(endpoint_id: int, delivery_id: int):
    """Queue a delivery again, or now (same webhook-id and body); back to the log it is in."""
    try:
        delivery = endpoints.replay(actor=_actor(), delivery_id=delivery_id)
    except NotFound:
        raise
    except DomainError as exc:  # being sent, or the endpoint is off: 409
        flash_refusal(exc)
    else:
        flash(f"Delivery {delivery.webhook_id} is queued again; it is sent within a few seconds.", "success")
        endpoint_id = delivery.endpoint_id
    return redirect(url_for("web.webhook_deliveries", endpoint_id=endpoint_id))
