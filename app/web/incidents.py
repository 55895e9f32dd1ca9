"""Incident pages: the list, reporting a new one, the detail page and the edit form."""
from flask import current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from app.exceptions import DomainError, InvalidInput, PayloadTooLarge
from app.incidents import queries, service
from app.incidents.enums import Category, Priority, Severity, Status, Urgency
from app.incidents.lifecycle import Action, allowed_actions
from app.web import bp
from app.web.detail import render_detail, sla_reading
from app.web.feedback import flash_refusal, show_field_errors
from app.web.forms import EditIncidentForm, IncidentForm
from app.web.listing import PER_PAGE_CHOICES, SLA_OPTIONS, SORT_CHOICES, list_etag, parse_list_query

LIVE_POLL_SECONDS = 10


@bp.get("/ui/incidents/")
@login_required
def incidents():
    """The filterable, sortable, paginated list; the whole view lives in the query string.

    It answers a weak ETag over what its results show and 304 to a matching If-None-Match, so the
    page's own poll (js/list.js) costs one query and no rendering while nothing changes."""
    query = parse_list_query(request.args, current_user)
    page = queries.list_incidents(actor=current_user, filters=query.filters, sort=query.sort,
                                  page=query.page, per_page=query.per_page)
    readings = {incident.id: sla_reading(incident) for incident in page.items}
    tag = list_etag(query, page, current_user, readings)
    if request.if_none_match.contains_weak(tag):
        response = current_app.response_class(status=304)
        response.set_etag(tag, weak=True)
        return response
    response = current_app.make_response(render_template(
        "web/incident_list.html", page=page, readings=readings, query=query, etag=tag,
        technicians=service.technicians(),
        statuses=list(Status), severities=list(Severity), categories=list(Category),
        priorities=list(Priority), urgencies=list(Urgency), standings=SLA_OPTIONS,
        sort_choices=SORT_CHOICES, per_page_choices=PER_PAGE_CHOICES,
        live_seconds=current_app.config.get("LIVE_POLL_SECONDS", LIVE_POLL_SECONDS)))
    response.set_etag(tag, weak=True)
    return response


@bp.route("/ui/incidents/new", methods=["GET", "POST"])
@login_required
def new_incident():
    """Report an incident."""
    form = IncidentForm()
    if form.validate_on_submit():
        try:
            incident = service.create_incident(actor=current_user, uploads=form.uploads.data, **form.details())
        except InvalidInput as exc:
            show_field_errors(form, exc)
        except PayloadTooLarge as exc:  # a file over ATTACHMENT_MAX_BYTES: said next to the files
            form.uploads.errors = [*form.uploads.errors, exc.message]
        else:
            flash(f"{incident.reference} was reported. You will be told by email as it progresses.", "success")
            return redirect(url_for("web.incident", incident_id=incident.id))
    status = 422 if form.errors else 200
    return render_template("web/incident_form.html", form=form, incident=None), status


@bp.get("/ui/incidents/<id:incident_id>")
@login_required
def incident(incident_id: int):
    """One incident: details, timeline, comments and the actions this user may take now."""
    return render_detail(queries.get_incident(actor=current_user, incident_id=incident_id))


@bp.route("/ui/incidents/<id:incident_id>/edit", methods=["GET", "POST"])
@login_required
def edit_incident(incident_id: int):
    """Change title, description, severity, urgency or category."""
    incident = queries.get_incident(actor=current_user, incident_id=incident_id)
    detail_url = url_for("web.incident", incident_id=incident.id)
    if Action.EDIT not in allowed_actions(current_user, incident):
        flash(f"You cannot edit {incident.reference} in its current state.", "warning")
        return redirect(detail_url)
    form = EditIncidentForm(obj=incident)
    if form.validate_on_submit():
        version = incident.version
        try:
            service.edit_incident(actor=current_user, incident=incident, details=form.details(),
                                  expected_version=form.version.data)
        except InvalidInput as exc:
            show_field_errors(form, exc)
        except DomainError as exc:
            flash_refusal(exc, reference=incident.reference)
            return redirect(detail_url)
        else:
            # The domain writes no event and no new version for an edit that changes nothing
            # (after its own cleaning of the text), so an unchanged version is the honest test.
            if incident.version == version:
                flash(f"Nothing changed: {incident.reference} already says that.", "info")
            else:
                flash(f"{incident.reference} was updated.", "success")
            return redirect(detail_url)
    status = 422 if form.errors else 200
    return render_template("web/incident_form.html", form=form, incident=incident), status
