"""/ui/reports (technicians and admins): the report figures with charts and tables, and the CSV
downloads a signed-in browser uses: the reports' and the incident list's (/ui/incidents/export.csv).

The API's CSV URLs take only a token or Basic credentials, never the session cookie
(docs/security.md), so the page's links point here; both doors stream the same domain CSV."""
from collections.abc import Iterator

from flask import Response, render_template, request, stream_with_context
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from wtforms import SelectChoice, SelectField, StringField

from app.auth.decorators import role_required
from app.exceptions import InvalidInput
from app.incidents import export, reports
from app.web import bp
from app.web.charts import Series, bar_chart, line_chart, percent
from app.web.listing import parse_list_query


class ReportForm(FlaskForm):
    """The range and grouping, sent by GET (a bookmarkable page that changes nothing: no CSRF
    token); the domain checks them (reports.parse_period, parse_grouping)."""

    class Meta:
        csrf = False

    from_ = StringField("From", name="from", render_kw={"type": "date"},
                        description="First day, UTC. Empty: 29 days before “to”.")
    to = StringField("To", render_kw={"type": "date"}, description="Last day, included. Empty: today.")
    group_by = SelectField("Group by", choices=[SelectChoice("", "Nothing (all incidents)")] + [
        SelectChoice(grouping.value, grouping.label) for grouping in reports.Grouping])


def _read_form() -> tuple[ReportForm, reports.Period | None, reports.Grouping | None]:
    """The form as submitted, and the range and grouping it asks for; (form, None, None) with each
    refused field marked when the domain refuses any of them."""
    form = ReportForm(request.args)
    errors: dict[str, list[str]] = {}
    period = grouping = None
    try:
        period = reports.parse_period(first=form.from_.data, last=form.to.data)
    except InvalidInput as exc:
        errors.update(exc.errors)
    try:
        grouping = reports.parse_grouping(form.group_by.data)
    except InvalidInput as exc:
        errors.update(exc.errors)
    if errors:
        for field in form:
            field.errors = errors.get(field.name, [])
        return form, None, None
    form.from_.data, form.to.data = period.first.isoformat(), period.last.isoformat()  # the defaults, shown
    return form, period, grouping


def _csv(chunks: Iterator[bytes], filename: str) -> Response:
    """A streamed CSV download (the request, and its database session, stay open until the last row)."""
    return Response(stream_with_context(chunks), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})


@bp.get("/ui/reports")
@role_required(*reports.READERS)
def reports_page():
    """The summary, created vs resolved per day, the MTTR trend and SLA met % by priority."""
    form, period, grouping = _read_form()
    if period is None:
        return render_template("web/reports.html", form=form, page=None), 422
    summary = reports.summary(actor=current_user, period=period, group_by=grouping)
    days = reports.daily(actor=current_user, period=period)
    by_priority = reports.service_levels(actor=current_user, period=period, group_by=reports.Grouping.PRIORITY)
    dates = [day.day.isoformat() for day in days]
    ticks = [f"{day.day:%b} {day.day.day}" for day in days]
    charts = {
        "flow": bar_chart("Created and resolved per day", dates, [
            Series("Created", [day.created for day in days]), Series("Resolved", [day.resolved for day in days])],
            whole=True, ticks=ticks),
        "mttr": line_chart("Mean time to resolve, by day of resolution (hours)", dates, [
            Series("MTTR", [None if day.mttr_seconds is None else day.mttr_seconds / 3600 for day in days])],
            y_format=lambda hours: f"{hours:g} h", ticks=ticks),
        "sla": bar_chart("SLA met by priority", [level.label for level in by_priority], [
            Series("Response met", [level.response_met_pct for level in by_priority]),
            Series("Resolve met", [level.resolve_met_pct for level in by_priority])], y_format=percent, y_max=100),
    }
    if grouping is not None:
        charts["groups"] = bar_chart(f"Created, resolved and backlog by {grouping.value}",
                                     [group.label for group in summary.groups], [
            Series("Created", [group.created for group in summary.groups]),
            Series("Resolved", [group.resolved for group in summary.groups]),
            Series("Backlog", [group.backlog for group in summary.groups])], whole=True)
    args = {"from": period.first.isoformat(), "to": period.last.isoformat()}
    page = {"summary": summary, "days": days, "by_priority": by_priority, "charts": charts, "args": args,
            "group_args": {**args, **({"group_by": grouping.value} if grouping else {})}}
    return render_template("web/reports.html", form=form, page=page)


@bp.get("/ui/reports/summary.csv")
@role_required(*reports.READERS)
def reports_summary_csv():
    """The summary as CSV, for the signed-in browser (same columns as GET /reports/summary.csv)."""
    form, period, grouping = _read_form()
    if period is None:
        raise InvalidInput({field.name: field.errors for field in form if field.errors})
    report = reports.summary(actor=current_user, period=period, group_by=grouping)
    return _csv(export.csv_chunks(reports.SUMMARY_COLUMNS, reports.summary_rows(report)),
                f"summary_{period.first}_{period.last}.csv")


@bp.get("/ui/reports/daily.csv")
@role_required(*reports.READERS)
def reports_daily_csv():
    """The daily report as CSV, for the signed-in browser (same columns as GET /reports/daily.csv)."""
    form, period, _ = _read_form()
    if period is None:
        raise InvalidInput({field.name: field.errors for field in form if field.errors})
    days = reports.daily(actor=current_user, period=period)
    return _csv(export.csv_chunks(reports.DAILY_COLUMNS, reports.daily_rows(days)),
                f"daily_{period.first}_{period.last}.csv")


@bp.get("/ui/incidents/export.csv")
@login_required
def export_incidents():
    """The incident list as CSV, with the list page's filters (its query string, read as the list
    reads it); reporters get their own incidents, as on the list."""
    query = parse_list_query(request.args, current_user)
    return _csv(export.incident_csv(actor=current_user, filters=query.filters), "incidents.csv")
