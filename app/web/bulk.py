"""The list's bulk bar: one action on the selected incidents, or on all the list's filter matches.

The bar (web/_bulk_bar.html, above the list for staff) posts here; the route reads the form, makes
the one call to app.incidents.bulk and shows what was done and what was refused, and why
(web/bulk_result.html). A wrong call as a whole (nothing selected, no note) is a flash and back
to the list, nothing changed."""
from dataclasses import dataclass
from urllib.parse import urlsplit

from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user
from werkzeug.datastructures import MultiDict

from app.auth.decorators import role_required
from app.auth.roles import Role
from app.exceptions import InvalidInput
from app.incidents import bulk
from app.incidents.enums import Severity, Urgency
from app.models import User
from app.web import bp
from app.web.listing import parse_list_query

FILTER_PREFIX = "filter-"  # the list's filters, sent with "all matching" (the bar's own fields share names)
MATCHING = "matching"
MAX_ID_DIGITS = 18
LABELS = {"ids": "Incidents", "action": "Action", "technician_id": "Technician", "severity": "Severity",
          "urgency": "Urgency", "user_id": "Watcher", "resolution_notes": "Resolution note"}


@dataclass(frozen=True)
class BulkBar:
    """What the bar offers the current user."""

    actions: list[bulk.BulkAction]
    technicians: list[User]
    watchers: list[User]  # admins only: technicians add themselves
    severities: list[Severity]
    urgencies: list[Urgency]
    limit: int = bulk.MAX_INCIDENTS


@bp.app_template_global("bulk_bar")
def bulk_bar(technicians: list[User]) -> BulkBar:
    """The bar's choices: the actions the user's role can make, and the people to pick from
    (`technicians`: the active ones, `service.technicians()`, which the list page has read already)."""
    admin = current_user.role == Role.ADMIN
    return BulkBar(actions=bulk.offered_to(current_user), technicians=technicians if admin else [],
                   watchers=bulk.watcher_choices() if admin else [], severities=list(Severity),
                   urgencies=list(Urgency))


@bp.post("/ui/incidents/bulk")
@role_required(Role.TECHNICIAN, Role.ADMIN)
def bulk_incidents():
    """Apply the bar's action; the result page lists each incident's outcome."""
    form = request.form
    back = _back(form.get("back"))
    action = form.get("action", "")
    try:
        ids, filters = _targets(form)
        outcome = bulk.apply(actor=current_user, action=action, ids=ids, filters=filters,
                             **_params(form, action))
    except InvalidInput as exc:
        for name, messages in exc.errors.items():
            for message in messages:
                flash(f"{LABELS.get(name, name)}: {message}", "danger")
        return redirect(back)
    note = form.get("resolution_notes") if action == bulk.BulkAction.RESOLVE else None
    return render_template("web/bulk_result.html", outcome=outcome, action=bulk.BulkAction(action), note=note,
                           back=back)


def _targets(form: MultiDict) -> tuple[list[int] | None, object]:
    """The ticked ids, or (scope "matching") the list's filters as the list page reads them."""
    if form.get("scope") == MATCHING:
        args = MultiDict([(key.removeprefix(FILTER_PREFIX), value) for key, value in form.items(multi=True)
                          if key.startswith(FILTER_PREFIX)])
        query = parse_list_query(args, current_user)
        kept = {(name, one) for name, value in query.args.items()
                for one in (value if isinstance(value, list) else [value])}
        if any(value and (name, value) not in kept for name, value in args.items(multi=True)):
            # The list drops a value it cannot read; here that would widen the match: refuse instead.
            raise InvalidInput.field("ids", "The list's filters were not understood; apply them again first.")
        return None, query.filters
    raw = form.getlist("ids")
    if not raw:
        raise InvalidInput.field("ids", "Select at least one incident, or choose all matching incidents.")
    if not all(value.isdigit() and len(value) <= MAX_ID_DIGITS for value in raw):
        raise InvalidInput.field("ids", "Only incident numbers can be selected.")
    return [int(value) for value in raw], None


def _params(form: MultiDict, action: str) -> dict:
    """The chosen action's fields only (the bar shows every field without scripts; the others are
    not meant); an empty one is left out, so the domain says it is required."""
    try:
        names = bulk.fields_of(bulk.BulkAction(action))
    except ValueError:
        return {}
    params: dict = {}
    for name in names:
        value = form.get(name, "").strip() if name != "resolution_notes" else form.get(name, "")
        if not value.strip():
            continue
        if name in ("technician_id", "user_id"):
            if not (value.isdigit() and len(value) <= MAX_ID_DIGITS):
                raise InvalidInput.field(name, "Choose someone from the list.")
            params[name] = int(value)
        else:
            params[name] = value
    return params


def _back(target: str | None) -> str:
    """The list as it was (its filters, sort and page); only ever the list page of this site."""
    home = url_for("web.incidents")
    parts = urlsplit(target or "")
    if parts.scheme or parts.netloc or parts.path != home or "\\" in (target or ""):
        return home
    return f"{home}?{parts.query}" if parts.query else home
