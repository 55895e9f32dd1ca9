"""/reports/summary, /reports/daily (JSON and CSV) and /incidents/export.csv.

The figures and their definitions are app.incidents.reports; the CSV and its injection guard are
app.incidents.export. A CSV answer is streamed: the rows are written while they are read."""
from collections.abc import Iterator

from flask import Response, stream_with_context
from flask_restful import Resource
from marshmallow import Schema, fields

from app.api.fields import Choice
from app.api.operations import operation
from app.api.resources.incidents import list_filters
from app.api.schemas import IncidentQuerySchema, Query, shared
from app.incidents import export, reports
from app.models import User

DATE_PATTERN = r"^(?:[0-9]{4}-[0-9]{2}-[0-9]{2})?$"  # empty: the default, as a form left blank sends it
CSV = "text/csv"
DOWNLOAD = {"Content-Disposition": "attachment, with a file name that says what it holds (and its days)."}
RANGE = ("`from` and `to` are UTC dates (YYYY-MM-DD), `to` included; without `to`, today; without "
         f"`from`, the {reports.DEFAULT_DAYS} days ending `to`. At most {reports.MAX_DAYS} days; `from` after "
         "`to` is a 422. Technicians and admins only.")


class RangeQuerySchema(Query):
    """The days a report covers."""

    from_ = fields.String(data_key="from", metadata={
        "pattern": DATE_PATTERN, "example": "2026-01-01",
        "description": f"First day (UTC). Absent or empty: {reports.DEFAULT_DAYS - 1} days before `to`."})
    to = fields.String(metadata={"pattern": DATE_PATTERN, "example": "2026-01-30",
                                 "description": "Last day (UTC), included. Absent or empty: today."})


class SummaryQuerySchema(RangeQuerySchema):
    """The days and the grouping of a summary."""

    group_by = Choice(reports.Grouping, metadata={
        "description": "Split the figures by the incidents' current priority, severity, category or technician."})


class ExportQuerySchema(IncidentQuerySchema):
    """The list's filters; the export is ordered by id and not paged."""

    class Meta(IncidentQuerySchema.Meta):
        exclude = ("sort", "page", "per_page", "cursor")


class ReportGroupSchema(Schema):
    """One group's figures."""

    key = fields.String(allow_none=True, required=True, metadata={
        "description": "The priority, severity, category or technician's username; null for all incidents "
                       "(no group_by) and for the unassigned (group_by=technician)."})
    label = fields.String(required=True, metadata={"description": "The group's name for people."})
    created = fields.Integer(required=True, metadata={"description": "Incidents created in the range."})
    resolved = fields.Integer(required=True, metadata={
        "description": "Incidents whose last resolution (resolved_at) falls in the range."})
    backlog = fields.Integer(required=True, metadata={
        "description": "Open work at the end of the range: created before then, not resolved by then."})
    mtta_seconds = fields.Integer(allow_none=True, required=True, metadata={
        "description": "Mean of responded_at - created_at over the created incidents answered so far."})
    mttr_seconds = fields.Integer(allow_none=True, required=True, metadata={
        "description": "Mean of resolved_at - created_at over the resolved incidents."})
    p90_resolve_seconds = fields.Integer(allow_none=True, required=True, metadata={
        "description": "Nearest-rank 90th percentile of the same durations."})
    response_met_pct = fields.Float(allow_none=True, required=True, metadata={
        "description": "Of the created incidents whose response clock has an outcome (met, or breached), "
                       "the share met."})
    resolve_met_pct = fields.Float(allow_none=True, required=True, metadata={
        "description": "Of the resolved incidents, the share whose counted resolve time stayed under the target."})


class SummarySchema(Schema):
    """The summary of a range of days."""

    from_ = fields.Date(data_key="from", attribute="period.first", required=True)
    to = fields.Date(attribute="period.last", required=True)
    group_by = fields.String(allow_none=True, required=True)
    groups = fields.List(fields.Nested(ReportGroupSchema), required=True)


class ReportDaySchema(Schema):
    """One day."""

    date = fields.Date(attribute="day", required=True)
    created = fields.Integer(required=True)
    resolved = fields.Integer(required=True)
    backlog = fields.Integer(required=True, metadata={"description": "Open work at the end of the day."})
    mttr_seconds = fields.Integer(allow_none=True, required=True, metadata={
        "description": "Mean time to resolve of the incidents resolved that day."})


class DailySchema(Schema):
    """Each day of a range."""

    from_ = fields.Date(data_key="from", required=True)
    to = fields.Date(required=True)
    days = fields.List(fields.Nested(ReportDaySchema), required=True)


def _csv(chunks: Iterator[bytes], filename: str) -> Response:
    """A streamed CSV download; the request stays open (and its database session with it) until the last row."""
    return Response(stream_with_context(chunks), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})


def _summary(actor: User, query: dict) -> reports.Summary:
    period = reports.parse_period(first=query.get("from_"), last=query.get("to"))
    return reports.summary(actor=actor, period=period, group_by=query.get("group_by"))


def _daily(actor: User, query: dict) -> tuple[reports.Period, list[reports.Day]]:
    period = reports.parse_period(first=query.get("from_"), last=query.get("to"))
    return period, reports.daily(actor=actor, period=period)


class ReportSummary(Resource):
    """Counts, times and SLA shares over a range of days."""

    tag = "reports"

    @operation("Summary report", query=SummaryQuerySchema, returns=SummarySchema, roles=reports.READERS,
               description=RANGE + " Without `group_by`, one group whose key is null.")
    def get(self, actor, query):
        """Each group's figures."""
        return shared(SummarySchema).dump(_summary(actor, query))


class ReportSummaryCsv(Resource):
    """The summary as CSV."""

    tag = "reports"

    @operation("Summary report as CSV", query=SummaryQuerySchema, roles=reports.READERS,
               media_type=CSV, headers=DOWNLOAD,
               description=RANGE + " One row per group: " + ", ".join(reports.SUMMARY_COLUMNS) + ".")
    def get(self, actor, query):
        """The same figures, one row per group."""
        report = _summary(actor, query)
        return _csv(export.csv_chunks(reports.SUMMARY_COLUMNS, reports.summary_rows(report)),
                    f"summary_{report.period.first}_{report.period.last}.csv")


class ReportDaily(Resource):
    """Each day of a range."""

    tag = "reports"

    @operation("Daily report", query=RangeQuerySchema, returns=DailySchema, roles=reports.READERS,
               description=RANGE + " Backlog at the end of each day = the day before's + created - resolved.")
    def get(self, actor, query):
        """Created, resolved, backlog and mean time to resolve per day."""
        period, days = _daily(actor, query)
        return shared(DailySchema).dump({"from_": period.first, "to": period.last, "days": days})


class ReportDailyCsv(Resource):
    """The daily report as CSV."""

    tag = "reports"

    @operation("Daily report as CSV", query=RangeQuerySchema, roles=reports.READERS,
               media_type=CSV, headers=DOWNLOAD,
               description=RANGE + " One row per day: " + ", ".join(reports.DAILY_COLUMNS) + ".")
    def get(self, actor, query):
        """One row per day."""
        period, days = _daily(actor, query)
        return _csv(export.csv_chunks(reports.DAILY_COLUMNS, reports.daily_rows(days)),
                    f"daily_{period.first}_{period.last}.csv")


class IncidentExport(Resource):
    """Every incident the list's filters match, as CSV."""

    tag = "incidents"

    @operation("Export incidents as CSV", query=ExportQuerySchema, media_type=CSV, headers=DOWNLOAD,
               description="Every filter of `GET /incidents/`; all matching incidents (no paging), by id, "
                           "streamed. Reporters get their own incidents only. Columns: "
                           + ", ".join(export.INCIDENT_COLUMNS) + ". A cell starting with =, +, -, @, tab or "
                           "CR gets a leading ' (spreadsheets would run it as a formula).")
    def get(self, actor, query):
        """A streamed CSV of the matching incidents."""
        return _csv(export.incident_csv(actor=actor, filters=list_filters(query, actor)), "incidents.csv")
