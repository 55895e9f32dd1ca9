"""The incident tables' rows (the list page and the dashboard's panels), written for the whole row
set at once: one string format per row and the badges of app/web/badges.py, instead of a template
macro per cell (a 25-row page made about 500 macro calls, most of the list's time). The table
around the rows, its headings and captions, stays in web/_macros.html (`incident_table`).

A row shows the columns the headings name: a bulk checkbox (`selectable`, staff on the list), the
reference, title, priority, time left, severity, status with the Take button when the viewer may
take the incident now, category, technician, reporter (`show_reporter`), and the `times` asked
for ('age': since reported, 'updated': the last change). Every row is a keyboard target
(data-nav-row, opened at data-href: js/keys.js)."""
from collections.abc import Iterable, Mapping, Sequence

from flask import current_app, url_for
from flask_login import current_user
from flask_wtf.csrf import generate_csrf
from markupsafe import Markup, escape

from app.incidents.lifecycle import Action, Decision, decide
from app.web import bp
from app.web.badges import assembled, priority_badge, severity_badge, status_badge, time_left, when
from app.web.detail import TAKE_PREFIX, SlaReading, sla_reading


@bp.app_template_global("incident_rows")
def incident_rows(incidents: Iterable, *, show_reporter: bool = True, selectable: bool = False,
                  times: Sequence[str] = ("age", "updated"),
                  readings: Mapping[int, SlaReading] | None = None) -> Markup:
    """The `<tr>` of each incident, as the viewer (current_user) sees it now; its SLA reading from
    `readings` (by id) when given."""
    readings = readings or {}
    csrf = _csrf_field()
    updated_class = "d-none d-lg-table-cell" if "age" in times else "d-none d-md-table-cell"
    rows = []
    for incident in incidents:
        reference = escape(incident.reference)
        href = escape(url_for("web.incident", incident_id=incident.id))
        technician = escape(incident.technician.name) if incident.technician else "—"
        reading = readings.get(incident.id) or sla_reading(incident)
        cells = [f'    <tr data-nav-row data-href="{href}">\n      ']
        if selectable:
            cells.append(f'<td><input class="form-check-input bulk-select" type="checkbox" name="ids" '
                         f'value="{incident.id}" form="bulk-form" aria-label="Select {reference}"></td>\n      ')
        cells.append(
            f'<td class="d-none d-sm-table-cell text-nowrap">{reference}</td>\n'
            f'      <td class="text-break incident-title"><a href="{href}">{escape(incident.title)}</a>\n'
            f'        <span class="d-block d-sm-none small text-body-secondary">{reference}</span></td>\n'
            f'      <td class="text-nowrap">{priority_badge(incident.priority)}</td>\n'
            f'      <td class="text-nowrap time-left">{time_left(reading)}</td>\n'
            f'      <td class="text-nowrap">{severity_badge(incident.severity)}</td>\n'
            f'      <td class="text-nowrap">{status_badge(incident.status)}{_take(incident, csrf)}</td>\n'
            f'      <td class="d-none d-xxl-table-cell">{escape(incident.category.label)}</td>\n'
            f'      <td class="d-none d-md-table-cell">{technician}</td>\n')
        if show_reporter:
            cells.append(f'      <td class="d-none d-xxl-table-cell text-nowrap">'
                         f'{escape(incident.reporter.name)}</td>\n')
        if "age" in times:
            cells.append(f'      <td class="d-none d-md-table-cell text-nowrap incident-age">'
                         f'{when(incident.created_at)}</td>\n')
        if "updated" in times:
            cells.append(f'      <td class="{updated_class} text-nowrap incident-updated">'
                         f'{when(incident.updated_at)}</td>\n')
        cells.append("    </tr>\n")
        rows.append("".join(cells))
    return assembled("".join(rows))


def _csrf_field() -> str:
    """The Take forms' CSRF field (one token serves every form of the page); nothing when CSRF is off."""
    if not current_app.config.get("WTF_CSRF_ENABLED", True):
        return ""
    return f'<input name="{TAKE_PREFIX}-csrf_token" type="hidden" value="{escape(generate_csrf())}">'


def _take(incident, csrf: str) -> str:
    """The row's Take button, when the viewer may take the incident now (the same decision as its
    page). No ids inside the form: a row can appear in two tables of one page (the dashboard)."""
    if decide(current_user, Action.TAKE, incident) != Decision.ALLOWED:
        return ""
    action = escape(url_for("web.take_incident", incident_id=incident.id))
    return (f'\n        <form method="post" action="{action}" class="d-inline take-row">\n          {csrf}'
            f'<input name="{TAKE_PREFIX}-version" type="hidden" value="{incident.version}">\n          '
            f'<button class="btn btn-sm btn-outline-primary ms-1" type="submit">Take<span class="visually-hidden"> '
            f'{escape(incident.reference)}</span></button>\n        </form>')
