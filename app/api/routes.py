"""Every URL of the JSON API, in one place."""
from flask import Flask
from flask_restful import Api

from app.api import bp
from app.api.resources.attachments import AttachmentFile, IncidentAttachments
from app.api.resources.bulk import BulkIncidents
from app.api.resources.incidents import Incident, IncidentList
from app.api.resources.meta import Health, OpenApiDocument, Ready
from app.api.resources.reports import (
    IncidentExport,
    ReportDaily,
    ReportDailyCsv,
    ReportSummary,
    ReportSummaryCsv,
)
from app.api.resources.session import CurrentToken, Me, Token, Tokens
from app.api.resources.sla_policies import SlaPolicy, SlaPolicyList
from app.api.resources.timeline import IncidentComments, IncidentEvents
from app.api.resources.users import User, UserList
from app.api.resources.views import SavedView, SavedViewList
from app.api.resources.watchers import IncidentWatcher, IncidentWatchers
from app.api.resources.webhooks import (
    Webhook,
    WebhookDeliveries,
    WebhookDeliveryReplay,
    WebhookList,
    WebhookSecretRotation,
)
from app.api.webhook_schemas import register_payloads


class ProblemApi(Api):
    """Flask-RESTful that leaves every error to the app's handlers (app/errors.py), so 404, 405,
    413, 429 and 500 from the API all come out as application/problem+json, like the rest."""

    def handle_error(self, e):
        """Re-raise: Flask-RESTful then falls back to the application's own handlers."""
        raise e

    def error_router(self, original_handler, e):
        """Straight to the application's handlers. Flask-RESTful's own router re-matches the URL
        with another method to guess whose error it is, and that match's 404 escaped every
        handler (`GET /ui/users/99999999999/role` was a bare 500)."""
        return original_handler(e)


api = ProblemApi(bp)
api.add_resource(Tokens, "/auth/tokens", endpoint="tokens")
api.add_resource(CurrentToken, "/auth/tokens/current", endpoint="current_token")
api.add_resource(Token, "/auth/tokens/<id:token_id>", endpoint="token")
api.add_resource(Me, "/me", endpoint="me")
api.add_resource(IncidentList, "/incidents/", endpoint="incidents")
api.add_resource(IncidentExport, "/incidents/export.csv", endpoint="incidents_export")
api.add_resource(BulkIncidents, "/incidents/bulk", endpoint="incidents_bulk")
api.add_resource(Incident, "/incidents/<id:incident_id>", endpoint="incident")
api.add_resource(IncidentEvents, "/incidents/<id:incident_id>/events", endpoint="incident_events")
api.add_resource(IncidentComments, "/incidents/<id:incident_id>/comments", endpoint="incident_comments")
api.add_resource(IncidentAttachments, "/incidents/<id:incident_id>/attachments", endpoint="incident_attachments")
api.add_resource(AttachmentFile, "/attachments/<id:attachment_id>", endpoint="attachment")
api.add_resource(IncidentWatchers, "/incidents/<id:incident_id>/watchers", endpoint="incident_watchers")
api.add_resource(IncidentWatcher, "/incidents/<id:incident_id>/watchers/<id:user_id>", endpoint="incident_watcher")
api.add_resource(UserList, "/users/", endpoint="users")
api.add_resource(User, "/users/<id:user_id>", endpoint="user")
api.add_resource(SavedViewList, "/views/", endpoint="views")
api.add_resource(SavedView, "/views/<id:view_id>", endpoint="view")
api.add_resource(SlaPolicyList, "/sla-policies/", endpoint="sla_policies")
api.add_resource(SlaPolicy, "/sla-policies/<priority>", endpoint="sla_policy")
api.add_resource(ReportSummary, "/reports/summary", endpoint="report_summary")
api.add_resource(ReportSummaryCsv, "/reports/summary.csv", endpoint="report_summary_csv")
api.add_resource(ReportDaily, "/reports/daily", endpoint="report_daily")
api.add_resource(ReportDailyCsv, "/reports/daily.csv", endpoint="report_daily_csv")
api.add_resource(WebhookList, "/webhooks/", endpoint="webhooks")
api.add_resource(Webhook, "/webhooks/<id:endpoint_id>", endpoint="webhook")
api.add_resource(WebhookSecretRotation, "/webhooks/<id:endpoint_id>/rotate-secret", endpoint="webhook_rotate_secret")
api.add_resource(WebhookDeliveries, "/webhooks/<id:endpoint_id>/deliveries", endpoint="webhook_deliveries")
api.add_resource(WebhookDeliveryReplay, "/webhooks/deliveries/<id:delivery_id>/replay", endpoint="webhook_replay")
api.add_resource(Health, "/health", endpoint="health")
api.add_resource(Ready, "/health/ready", endpoint="health_ready")
api.add_resource(OpenApiDocument, "/openapi.json", endpoint="openapi")

# A webhook delivery carries the incident and the event as this API shows them; the domain writes
# the payload in the change's transaction but never imports the API, so the API lends it the two.
register_payloads()


def path_prefixes(app: Flask) -> tuple[str, ...]:
    """The paths the resources above own, each URL up to its first variable part, read from the
    app's URL map once the blueprint is registered (the error handlers answer JSON under them)."""
    rules = (rule.rule for rule in app.url_map.iter_rules() if api.owns_endpoint(rule.endpoint))
    return tuple(dict.fromkeys(rule.split("<")[0].rstrip("/") for rule in rules))
