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

from flask import url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from markupsafe import Markup, escape

from app.incidents.lifecycle import Action, Decision, decide
from app.web import bp
from app.web.badges import assembled, priority_badge, severity_badge, status_badge, time_left, when
from app.web.detail import TAKE_ENTRY, SlaReading, action_form, sla_reading


@bp.app_template_global("incident_rows")
def incident_rows(incidents: Iterable, *, show_reporter: bool = True, selectable: bool = False,
                  times: Sequence[str] = ("age", "updated"),
                  readings: Mapping[int, SlaReading] | None = None) -> Markup:
    """The `<tr>` of each incident, as the viewer (current_user) sees it now; its SLA reading from
    `readings` (by id) when given."""
    readings = readings or {}
    take = _TakeButton()
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
            f'      <td class="text-nowrap">{status_badge(incident.status)}{take(incident)}</td>\n'
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


class _TakeButton:
    """A row's Take button, when the viewer may take the incident now (the same decision as its
    page). Its hidden fields are the take route's own form (`action_form`), built once per page on
    the first row that needs it: the CSRF field when CSRF is on (one token serves every form of the
    page) and the version field's name, with each row's version. No ids inside the form: a row can
    appear in two tables of one page (the dashboard)."""

    def __init__(self) -> None:
        self.form: FlaskForm | None = None
        self.csrf = ""

    def __call__(self, incident) -> str:
        if decide(current_user, Action.TAKE, incident) != Decision.ALLOWED:
            return ""
        if self.form is None:
            self.form = action_form(TAKE_ENTRY, incident)
            self.csrf = str(self.form.csrf_token(id=False)) if "csrf_token" in self.form else ""
        action = escape(url_for("web.take_incident", incident_id=incident.id))
        return (f'\n        <form method="post" action="{action}" class="d-inline take-row">\n          {self.csrf}'
                f'<input name="{escape(self.form.version.name)}" type="hidden" value="{incident.version}">\n'
                f'          <button class="btn btn-sm btn-outline-primary ms-1" type="submit">Take'
                f'<span class="visually-hidden"> {escape(incident.reference)}</span></button>\n        </form>')
