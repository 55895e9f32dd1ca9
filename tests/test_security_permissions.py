"""Who may do what, over EVERY route of the app: each (endpoint, method) in app.url_map x every
caller (admin, technician, reporter, a deactivated user, nobody) x the caller's relation to the
thing (own / someone else's / assigned to them / not assigned) x every incident status. Each case
asserts the exact status code, and that a refused call changed nothing in the database.

Incident routes take their expectations from `app.incidents.lifecycle.decide()` (the rules the
service enforces); every other route from the coarse gate written next to it below. A route of
the app that neither table names fails `test_every_route_of_the_app_is_in_the_table`, so a new
route cannot ship without someone deciding who may call it.

One app and one database serve the whole module (a fresh app per case would cost ~150 ms each);
every case builds its own incident, token or user, so no case depends on another."""
import io
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import count
from types import SimpleNamespace

import pytest
from sqlalchemy import delete, select, text

from app import create_app
from app.api.routes import api as restful_api
from app.auth.roles import Role
from app.auth.service import issue_token, update_user
from app.database import write_transaction
from app.extensions import db
from app.incidents import attachments, saved_views, watchers
from app.incidents.enums import Status
from app.incidents.lifecycle import Action, Decision, can_see, decide, move_for
from app.mail.enums import OutboxStatus, WebhookStatus
from app.models import Incident, IncidentWatcher, OutboxMessage, SavedView, User, WebhookDelivery
from app.webhooks import endpoints as webhook_endpoints
from app.webhooks import events as webhook_events
from tests import factories, postgres
from tests.attachment_helpers import PNG
from tests.web_helpers import login

pytestmark = pytest.mark.filterwarnings("ignore::pytest.PytestRemovedIn10Warning")

IGNORED_METHODS = {"HEAD", "OPTIONS"}
PASSWORD = factories.PASSWORD
_serial = count(1)

# ---------------------------------------------------------------------------------------------
# Callers and their relation to an incident
# ---------------------------------------------------------------------------------------------
ADMIN, TECHNICIAN, REPORTER, DEACTIVATED, ANONYMOUS = "admin", "technician", "reporter", "deactivated", "anonymous"
SIGNED_IN = (ADMIN, TECHNICIAN, REPORTER)
CALLERS = (*SIGNED_IN, DEACTIVATED, ANONYMOUS)

OWN = "own"                    # the caller reported it; someone else is assigned
OTHER = "someone-elses"        # reported by someone else, assigned (if at all) to someone else
ASSIGNED = "assigned-to-them"  # reported by someone else, assigned to the caller
OWN_ASSIGNED = "own-and-assigned"
# Only technicians can be assignees (assign() demands an active technician).
RELATIONS = {ADMIN: (OWN, OTHER), TECHNICIAN: (OWN, OTHER, ASSIGNED, OWN_ASSIGNED), REPORTER: (OWN, OTHER)}


def possible(relation: str, state: Status) -> bool:
    """An open incident has no technician yet, so nobody can be 'assigned' to it."""
    return not (state == Status.OPEN and relation in (ASSIGNED, OWN_ASSIGNED))


# ---------------------------------------------------------------------------------------------
# Incident routes: the expectation is decide(caller, action, incident)
# ---------------------------------------------------------------------------------------------
API, HTML = "api", "html"
API_STATUS = {Decision.NOT_FOUND: 404, Decision.FORBIDDEN: 403, Decision.WRONG_STATE: 409}


@dataclass(frozen=True)
class IncidentCall:
    """One way to call an incident route: the lifecycle action it asks for and what to send."""

    name: str
    action: Action
    path: str
    body: dict | None = None
    ok: int = 200
    reads_only: bool = False
    refusal_flash: str = "danger"  # HTML: a refusal is a redirect back with this flash
    prepare: Callable | None = None
    """(world, incident, actor) -> placeholders: sets the scene the call needs (a watcher, a file)."""
    decide_with: Callable | None = None
    """(actor, incident) -> Decision, for a rule beyond the lifecycle's (whose file it is, admins only)."""
    multipart: bool = False  # the API call uploads a file

    @property
    def side(self) -> str:
        return HTML if self.path.startswith("/ui/") else API

    def decision(self, actor, incident) -> Decision:
        if self.decide_with is not None:
            return self.decide_with(actor, incident)
        return decide(actor, self.action_on(incident), incident)

    def action_on(self, incident) -> Action:
        """The move asked for: a status sent to the API names it from the incident's state
        (`in_progress` starts an assigned incident and resumes one on hold)."""
        if self.side == API and self.body and "status" in self.body:
            return move_for(Status.parse(self.body["status"]), incident) or self.action
        return self.action


ONE = "/incidents/{id}"
PUT_VARIANTS = (
    ("edit", Action.EDIT, {"title": "Edited title {n}"}),
    ("assign", Action.ASSIGN, {"technician_id": "{tech_c}"}),
    ("start", Action.START, {"status": "In Progress"}),
    ("hold", Action.HOLD, {"status": "on hold", "reason": "Waiting on the vendor."}),
    ("resolve", Action.RESOLVE, {"status": "resolved", "resolution_notes": "Replaced the switch."}),
    ("close", Action.CLOSE, {"status": "Closed"}),
    ("reopen", Action.REOPEN, {"status": "open", "reason": "It is back."}),
)
DETAILS_FORM = {"title": "Edited in the page {n}", "description": "Still broken.", "severity": "high",
                "category": "network"}
PAGE = "/ui/incidents/{id}"

INCIDENT_ROUTES: dict[tuple[str, str], tuple[IncidentCall, ...]] = {
    ("api.incident", "GET"): (IncidentCall("read", Action.VIEW, ONE, reads_only=True),),
    ("api.incident", "PUT"): tuple(IncidentCall(name, action, ONE, body) for name, action, body in PUT_VARIANTS),
    ("api.incident", "PATCH"): tuple(IncidentCall(name, action, ONE, body) for name, action, body in PUT_VARIANTS),
    ("api.incident_events", "GET"): (IncidentCall("timeline", Action.VIEW, ONE + "/events", reads_only=True),),
    ("api.incident_comments", "POST"): (IncidentCall("comment", Action.COMMENT, ONE + "/comments",
                                                     {"body": "Any news? {n}"}, ok=201),),
    ("web.incident", "GET"): (IncidentCall("page", Action.VIEW, PAGE, reads_only=True),),
    ("web.incident_live", "GET"): (IncidentCall("live state", Action.VIEW, PAGE + "/live", reads_only=True),),
    ("web.edit_incident", "GET"): (IncidentCall("edit form", Action.EDIT, PAGE + "/edit", reads_only=True,
                                                refusal_flash="warning"),),
    ("web.edit_incident", "POST"): (IncidentCall("edit", Action.EDIT, PAGE + "/edit", DETAILS_FORM, ok=302,
                                                 refusal_flash="warning"),),
    ("web.assign_incident", "POST"): (IncidentCall("assign", Action.ASSIGN, PAGE + "/assign",
                                                   {"assign-technician_id": "{tech_c}"}, ok=302),),
    ("web.take_incident", "POST"): (IncidentCall("take", Action.TAKE, PAGE + "/take", {}, ok=302),),
    ("web.start_incident", "POST"): (IncidentCall("start", Action.START, PAGE + "/start", {}, ok=302),),
    ("web.hold_incident", "POST"): (IncidentCall("hold", Action.HOLD, PAGE + "/hold",
                                                 {"hold-reason": "Waiting on the vendor."}, ok=302),),
    ("web.resume_incident", "POST"): (IncidentCall("resume", Action.RESUME, PAGE + "/resume", {}, ok=302),),
    ("web.resolve_incident", "POST"): (IncidentCall("resolve", Action.RESOLVE, PAGE + "/resolve",
                                                    {"resolve-resolution_notes": "Patched."}, ok=302),),
    ("web.close_incident", "POST"): (IncidentCall("close", Action.CLOSE, PAGE + "/close", {}, ok=302),),
    ("web.reopen_incident", "POST"): (IncidentCall("reopen", Action.REOPEN, PAGE + "/reopen",
                                                   {"reopen-reason": "Broken again."}, ok=302),),
    ("web.comment_incident", "POST"): (IncidentCall("comment", Action.COMMENT, PAGE + "/comments",
                                                    {"comment-body": "Seen it too {n}."}, ok=302),),
}



# Watchers: anyone who may see an incident watches it (VIEW); each case starts from the state its call
# changes (not watching before "watch", watching before "unwatch"), so a success always changes something.
def _not_watching(world, incident, actor) -> dict:
    if actor is not None:
        db.session.execute(delete(IncidentWatcher).where(IncidentWatcher.incident_id == incident.id,
                                                         IncidentWatcher.user_id.in_([actor.id, world.ids["tech_c"]])))
        db.session.commit()
    return {}


def _watching(world, incident, actor) -> dict:
    for user in (actor, world.person("tech_c")):
        if user is not None:
            with write_transaction():
                watchers.add_automatically(incident, user)
    return {"me": actor.id if actor is not None else world.ids["tech_c"]}


def _only_admins(actor, incident) -> Decision:
    """Adding or removing other people's watch: admins; others who see it are refused."""
    if not can_see(actor, incident):
        return Decision.NOT_FOUND
    return Decision.ALLOWED if actor.role == Role.ADMIN else Decision.FORBIDDEN


# Attachments: a file uploaded by the incident's reporter; its uploader or an admin may remove it.
def _a_file(world, incident, actor) -> dict:
    upload = SimpleNamespace(filename="screen.png", stream=io.BytesIO(PNG))
    added = attachments.add_attachments(actor=incident.reporter, incident=incident, uploads=[upload])
    return {"attachment": added[0].id}


def _uploader_or_admin(actor, incident) -> Decision:
    if not can_see(actor, incident):
        return Decision.NOT_FOUND
    return Decision.ALLOWED if actor.role == Role.ADMIN or actor.id == incident.reporter_id else Decision.FORBIDDEN


FILE = "/attachments/{attachment}"
UI_FILE = "/ui/attachments/{attachment}"
INCIDENT_ROUTES |= {
    ("api.incident_watchers", "GET"): (IncidentCall("watchers", Action.VIEW, ONE + "/watchers", reads_only=True),),
    ("api.incident_watchers", "POST"): (IncidentCall("watch", Action.VIEW, ONE + "/watchers", {}, ok=201,
                                                     prepare=_not_watching),),
    ("api.incident_watcher", "DELETE"): (IncidentCall("unwatch", Action.VIEW, ONE + "/watchers/{me}", ok=204,
                                                      prepare=_watching),),
    ("web.watch_incident", "POST"): (IncidentCall("watch", Action.VIEW, PAGE + "/watch", {}, ok=302,
                                                  prepare=_not_watching),),
    ("web.unwatch_incident", "POST"): (IncidentCall("unwatch", Action.VIEW, PAGE + "/unwatch", {}, ok=302,
                                                    prepare=_watching),),
    ("web.add_watcher", "POST"): (IncidentCall("add watcher", Action.VIEW, PAGE + "/watchers",
                                               {"watcher-user_id": "{tech_c}"}, ok=302, prepare=_not_watching,
                                               decide_with=_only_admins),),
    ("web.remove_watcher", "POST"): (IncidentCall("remove watcher", Action.VIEW, PAGE + "/watchers/{tech_c}/remove",
                                                  {}, ok=302, prepare=_watching, decide_with=_only_admins),),
    ("api.incident_attachments", "GET"): (IncidentCall("files", Action.VIEW, ONE + "/attachments", reads_only=True),),
    ("api.incident_attachments", "POST"): (IncidentCall("attach", Action.COMMENT, ONE + "/attachments", {}, ok=201,
                                                        multipart=True),),
    ("api.attachment", "GET"): (IncidentCall("download", Action.VIEW, FILE, reads_only=True, prepare=_a_file),),
    ("api.attachment", "DELETE"): (IncidentCall("remove file", Action.VIEW, FILE, ok=204, prepare=_a_file,
                                                decide_with=_uploader_or_admin),),
    ("web.download_attachment", "GET"): (IncidentCall("download", Action.VIEW, UI_FILE, reads_only=True,
                                                      prepare=_a_file),),
    ("web.preview_attachment", "GET"): (IncidentCall("preview", Action.VIEW, UI_FILE + "/preview", reads_only=True,
                                                     prepare=_a_file),),
    ("web.remove_attachment", "POST"): (IncidentCall("remove file", Action.VIEW, UI_FILE + "/remove", {}, ok=302,
                                                     prepare=_a_file, decide_with=_uploader_or_admin),),
}

# ---------------------------------------------------------------------------------------------
# Every other route: a coarse gate, and (where it matters) whose thing it is
# ---------------------------------------------------------------------------------------------
PUBLIC, LOGIN, STAFF, ADMIN_ONLY = "public", "login", "staff", "admin-only"
GATE_ROLES = {LOGIN: set(Role), STAFF: {Role.ADMIN, Role.TECHNICIAN}, ADMIN_ONLY: {Role.ADMIN}}
NONE = "-"


@dataclass(frozen=True)
class GatedCall:
    """A route guarded by role only (plus ownership where `subjects` says so)."""

    gate: str
    path: str
    body: dict | None = None
    ok: int = 200
    reads_only: bool = True
    subjects: tuple[str, ...] = (NONE,)
    owner_only: bool = False       # someone else's thing: 404, as if it did not exist
    per_caller: dict[str, int] = field(default_factory=dict)  # public routes whose answer depends on who asks

    @property
    def side(self) -> str:
        return HTML if self.path.startswith(("/ui/", "/login", "/logout", "/forgot", "/reset/", "/static/",
                                             "/bootstrap/")) \
            or self.path in ("/", "/docs") else API


NEW_INCIDENT = {"title": "Printer on fire {n}", "description": "Really.", "severity": "low", "category": "other"}
NEW_USER = {"username": "newbie{n}", "password": "long enough", "role": "reporter", "name": "Newbie",
            "email": "newbie{n}@example.test"}
NOT_SIGNED_IN = {ANONYMOUS: 200, DEACTIVATED: 200}
SLA_POLICY = {"response_minutes": 100, "resolve_minutes": 900, "calendar": "business"}
WEBHOOK_FORM = {"new-url": "https://hooks.example.com/new{n}", "new-events": "*", "new-active": "y"}
WEBHOOK_EDIT = {"edit-url": "https://hooks.example.com/edit{n}", "edit-events": "*", "edit-active": "y"}
NEW_WEBHOOK = {"url": "https://hooks.example.com/api{n}", "events": ["*"]}

GATED_ROUTES: dict[tuple[str, str], GatedCall] = {
    # The portal
    ("web.dashboard", "GET"): GatedCall(LOGIN, "/"),
    ("web.incidents", "GET"): GatedCall(LOGIN, "/ui/incidents/"),
    ("web.new_incident", "GET"): GatedCall(LOGIN, "/ui/incidents/new"),
    ("web.new_incident", "POST"): GatedCall(LOGIN, "/ui/incidents/new", NEW_INCIDENT, ok=302, reads_only=False),
    ("web.account", "GET"): GatedCall(LOGIN, "/ui/account"),
    ("web.change_notifications", "POST"): GatedCall(LOGIN, "/ui/account/notifications", {"notify-comments": "y"},
                                                    ok=302, reads_only=False),
    ("web.change_password", "POST"): GatedCall(
        LOGIN, "/ui/account/password", {"password-current_password": PASSWORD, "password-new_password": PASSWORD,
                                        "password-confirm": PASSWORD}, ok=302, reads_only=False),
    ("web.create_token", "POST"): GatedCall(LOGIN, "/ui/account/tokens", {"token-name": "script {n}",
                                                                          "token-ttl_days": "7"},
                                            ok=201, reads_only=False),
    ("web.revoke_token", "POST"): GatedCall(LOGIN, "/ui/account/tokens/{token}/revoke", {}, ok=302, reads_only=False,
                                            subjects=(OWN, OTHER), owner_only=True),
    # Two-factor sign-in: a new secret changes the account; a code form sent empty is refused (422)
    # before any use of it, so the gate is all that is tested here (tests/test_accounts_two_factor.py).
    ("web.begin_two_factor", "POST"): GatedCall(LOGIN, "/ui/account/two-factor/setup", {}, ok=302, reads_only=False),
    ("web.confirm_two_factor", "POST"): GatedCall(LOGIN, "/ui/account/two-factor/confirm", {"confirm-code": ""},
                                                  ok=422),
    ("web.regenerate_recovery_codes", "POST"): GatedCall(LOGIN, "/ui/account/two-factor/recovery-codes",
                                                         {"regenerate-code": ""}, ok=422),
    ("web.disable_two_factor", "POST"): GatedCall(LOGIN, "/ui/account/two-factor/disable", {"disable-code": ""},
                                                  ok=422),
    ("web.users", "GET"): GatedCall(ADMIN_ONLY, "/ui/users/"),
    ("web.sla_policies", "GET"): GatedCall(ADMIN_ONLY, "/ui/admin/sla"),
    ("web.change_sla_policy", "POST"): GatedCall(ADMIN_ONLY, "/ui/admin/sla/P4",
                                                 {f"p4-{name}": str(value) for name, value in SLA_POLICY.items()},
                                                 ok=302, reads_only=False),
    ("web.users", "POST"): GatedCall(ADMIN_ONLY, "/ui/users/", {**NEW_USER, "role": "technician"}, ok=302,
                                     reads_only=False),
    ("web.change_role", "POST"): GatedCall(ADMIN_ONLY, "/ui/users/{user}/role", {"user{user}-role": "technician"},
                                           ok=302, reads_only=False, subjects=(OTHER,)),
    ("web.deactivate_user", "POST"): GatedCall(ADMIN_ONLY, "/ui/users/{user}/deactivate", {"confirm": "y"}, ok=302,
                                               reads_only=False, subjects=(OTHER,)),
    ("web.reactivate_user", "POST"): GatedCall(ADMIN_ONLY, "/ui/users/{inactive_user}/reactivate", {}, ok=302,
                                               reads_only=False, subjects=(OTHER,)),
    ("web.send_reset_link", "POST"): GatedCall(ADMIN_ONLY, "/ui/users/{user}/reset-link", {}, ok=302,
                                               reads_only=False, subjects=(OTHER,)),
    # The subject has no two-factor sign-in: there is nothing to clear.
    ("web.reset_two_factor", "POST"): GatedCall(ADMIN_ONLY, "/ui/users/{user}/reset-two-factor", {}, ok=302,
                                                subjects=(OTHER,)),
    # Reports: technicians and admins; the incident list's CSV: anyone signed in (their own, for reporters)
    ("web.reports_page", "GET"): GatedCall(STAFF, "/ui/reports"),
    ("web.reports_summary_csv", "GET"): GatedCall(STAFF, "/ui/reports/summary.csv"),
    ("web.reports_daily_csv", "GET"): GatedCall(STAFF, "/ui/reports/daily.csv"),
    ("web.export_incidents", "GET"): GatedCall(LOGIN, "/ui/incidents/export.csv"),
    ("web.bulk_incidents", "POST"): GatedCall(STAFF, "/ui/incidents/bulk", {"action": "watch", "scope": "matching"},
                                              reads_only=False),
    ("outbox.index", "GET"): GatedCall(ADMIN_ONLY, "/ui/outbox/"),
    ("outbox.retry", "POST"): GatedCall(ADMIN_ONLY, "/ui/outbox/{failed_mail}/retry", {}, ok=302, reads_only=False),
    ("outbox.retry_failed", "POST"): GatedCall(ADMIN_ONLY, "/ui/outbox/retry-failed", {}, ok=302, reads_only=False),
    # Logging in and out: public; a signed-in visitor of /login is sent on to the dashboard.
    ("auth.login", "GET"): GatedCall(PUBLIC, "/login", ok=302, per_caller=NOT_SIGNED_IN),
    ("auth.login", "POST"): GatedCall(PUBLIC, "/login", {"username": "{username}", "password": PASSWORD}, ok=302,
                                      per_caller=NOT_SIGNED_IN),
    ("auth.logout", "POST"): GatedCall(PUBLIC, "/logout", {}, ok=302),
    # Password reset: the same answer for anyone; only an active account's own name mails a link.
    ("auth.forgot_password", "GET"): GatedCall(PUBLIC, "/forgot"),
    ("auth.forgot_password", "POST"): GatedCall(PUBLIC, "/forgot", {"login": "{username}"}, ok=302, reads_only=False,
                                                per_caller={ANONYMOUS: 302, DEACTIVATED: 302}),
    # The code page without a password step just before: back to the login form.
    ("auth.second_factor", "GET"): GatedCall(PUBLIC, "/login/2fa", ok=302),
    ("auth.second_factor", "POST"): GatedCall(PUBLIC, "/login/2fa", {"code": "123456"}, ok=302),
    ("auth.reset_password", "GET"): GatedCall(PUBLIC, "/reset/not-a-link", ok=400),
    ("auth.reset_password", "POST"): GatedCall(PUBLIC, "/reset/not-a-link", {"new_password": PASSWORD,
                                                                             "confirm": PASSWORD}, ok=400),
    ("static", "GET"): GatedCall(PUBLIC, "/static/css/app.css"),
    ("bootstrap.static", "GET"): GatedCall(PUBLIC, "/bootstrap/static/css/bootstrap.min.css"),
    ("api.docs", "GET"): GatedCall(PUBLIC, "/docs"),
    # The API
    ("api.health", "GET"): GatedCall(PUBLIC, "/health"),
    ("api.health_ready", "GET"): GatedCall(PUBLIC, "/health/ready"),
    ("api.openapi", "GET"): GatedCall(PUBLIC, "/openapi.json"),
    ("api.tokens", "POST"): GatedCall(PUBLIC, "/auth/tokens", {"username": "{username}", "password": PASSWORD},
                                      ok=201, reads_only=False, per_caller={ANONYMOUS: 401, DEACTIVATED: 401}),
    ("api.tokens", "GET"): GatedCall(LOGIN, "/auth/tokens"),
    ("api.current_token", "DELETE"): GatedCall(LOGIN, "/auth/tokens/current", ok=204, reads_only=False),
    ("api.token", "DELETE"): GatedCall(LOGIN, "/auth/tokens/{token}", ok=204, reads_only=False,
                                       subjects=(OWN, OTHER), owner_only=True),
    ("api.me", "GET"): GatedCall(LOGIN, "/me"),
    ("api.views", "GET"): GatedCall(LOGIN, "/views/"),
    ("api.views", "POST"): GatedCall(LOGIN, "/views/", {"name": "view {n}"}, ok=201, reads_only=False),
    # Only OWN: an admin deleting someone else's view is 204 by design (tests/test_views_api.py covers others).
    ("api.view", "DELETE"): GatedCall(LOGIN, "/views/{view}", ok=204, reads_only=False, subjects=(OWN,)),
    ("web.save_view", "POST"): GatedCall(LOGIN, "/ui/views/", {"view-name": "view {n}"}, ok=302, reads_only=False),
    ("web.delete_view", "POST"): GatedCall(LOGIN, "/ui/views/{view}/delete", {}, ok=302, reads_only=False,
                                           subjects=(OWN,)),
    # Only OWN, as for deleting: an admin may change anyone's (tests/test_views_api.py covers the others).
    ("api.view", "PATCH"): GatedCall(LOGIN, "/views/{view}", {"name": "renamed {n}"}, reads_only=False,
                                     subjects=(OWN,)),
    ("web.rename_view", "POST"): GatedCall(LOGIN, "/ui/views/{view}/rename", {"view-name": "renamed {n}"}, ok=302,
                                           reads_only=False, subjects=(OWN,)),
    ("web.replace_view", "POST"): GatedCall(LOGIN, "/ui/views/{view}/replace", {"status": "open"}, ok=302,
                                            reads_only=False, subjects=(OWN,)),
    # Each caller switches once, in either order after the page's form below (comments on, the rest off),
    # so each success changes their row.
    ("api.me", "PATCH"): GatedCall(LOGIN, "/me", {"notify": {"comments": False}}, reads_only=False),
    ("api.incidents", "GET"): GatedCall(LOGIN, "/incidents/"),
    ("api.incidents", "POST"): GatedCall(LOGIN, "/incidents/", NEW_INCIDENT, ok=201, reads_only=False),
    ("api.incidents_export", "GET"): GatedCall(LOGIN, "/incidents/export.csv"),
    ("api.incidents_bulk", "POST"): GatedCall(STAFF, "/incidents/bulk", {"action": "watch", "filter": {}},
                                              reads_only=False),
    ("api.report_summary", "GET"): GatedCall(STAFF, "/reports/summary"),
    ("api.report_summary_csv", "GET"): GatedCall(STAFF, "/reports/summary.csv"),
    ("api.report_daily", "GET"): GatedCall(STAFF, "/reports/daily"),
    ("api.report_daily_csv", "GET"): GatedCall(STAFF, "/reports/daily.csv"),
    ("api.users", "GET"): GatedCall(STAFF, "/users/"),
    ("api.users", "POST"): GatedCall(ADMIN_ONLY, "/users/", NEW_USER, ok=201, reads_only=False),
    ("api.user", "GET"): GatedCall(ADMIN_ONLY, "/users/{user}", subjects=(OWN, OTHER)),
    ("api.user", "PATCH"): GatedCall(ADMIN_ONLY, "/users/{user}", {"name": "Renamed {n}"}, reads_only=False,
                                     subjects=(OWN, OTHER)),
    ("api.sla_policies", "GET"): GatedCall(ADMIN_ONLY, "/sla-policies/"),
    ("api.sla_policy", "GET"): GatedCall(ADMIN_ONLY, "/sla-policies/P1"),
    ("api.sla_policy", "PUT"): GatedCall(ADMIN_ONLY, "/sla-policies/P4", SLA_POLICY, reads_only=False),
    # Webhooks: admins only, pages and API alike ({webhook}: a fresh endpoint; {finished_delivery}: one of its
    # deliveries, delivered, so a replay may requeue it).
    ("web.webhooks", "GET"): GatedCall(ADMIN_ONLY, "/ui/admin/webhooks/"),
    ("web.webhooks", "POST"): GatedCall(ADMIN_ONLY, "/ui/admin/webhooks/", WEBHOOK_FORM, ok=201, reads_only=False),
    ("web.edit_webhook", "GET"): GatedCall(ADMIN_ONLY, "/ui/admin/webhooks/{webhook}/edit"),
    ("web.edit_webhook", "POST"): GatedCall(ADMIN_ONLY, "/ui/admin/webhooks/{webhook}/edit", WEBHOOK_EDIT, ok=302,
                                            reads_only=False),
    ("web.delete_webhook", "GET"): GatedCall(ADMIN_ONLY, "/ui/admin/webhooks/{webhook}/delete"),
    ("web.delete_webhook", "POST"): GatedCall(ADMIN_ONLY, "/ui/admin/webhooks/{webhook}/delete", {}, ok=302,
                                              reads_only=False),
    ("web.rotate_webhook_secret", "GET"): GatedCall(ADMIN_ONLY, "/ui/admin/webhooks/{webhook}/rotate"),
    ("web.rotate_webhook_secret", "POST"): GatedCall(ADMIN_ONLY, "/ui/admin/webhooks/{webhook}/rotate", {}, ok=200,
                                                     reads_only=False),
    ("web.webhook_deliveries", "GET"): GatedCall(ADMIN_ONLY, "/ui/admin/webhooks/{webhook}/deliveries"),
    ("web.replay_webhook_delivery", "POST"): GatedCall(
        ADMIN_ONLY, "/ui/admin/webhooks/{webhook}/deliveries/{finished_delivery}/replay", {}, ok=302, reads_only=False),
    ("api.webhooks", "GET"): GatedCall(ADMIN_ONLY, "/webhooks/"),
    ("api.webhooks", "POST"): GatedCall(ADMIN_ONLY, "/webhooks/", NEW_WEBHOOK, ok=201, reads_only=False),
    ("api.webhook", "GET"): GatedCall(ADMIN_ONLY, "/webhooks/{webhook}"),
    ("api.webhook", "PATCH"): GatedCall(ADMIN_ONLY, "/webhooks/{webhook}", {"description": "Renamed {n}"},
                                        reads_only=False),
    ("api.webhook", "DELETE"): GatedCall(ADMIN_ONLY, "/webhooks/{webhook}", ok=204, reads_only=False),
    ("api.webhook_rotate_secret", "POST"): GatedCall(ADMIN_ONLY, "/webhooks/{webhook}/rotate-secret",
                                                     reads_only=False),
    ("api.webhook_deliveries", "GET"): GatedCall(ADMIN_ONLY, "/webhooks/{webhook}/deliveries"),
    ("api.webhook_replay", "POST"): GatedCall(ADMIN_ONLY, "/webhooks/deliveries/{finished_delivery}/replay",
                                              reads_only=False),
}


def url_map_routes() -> set[tuple[str, str]]:
    """Every (endpoint, method) the app serves."""
    app = create_app("testing", SQLALCHEMY_DATABASE_URI="sqlite://")
    return {(rule.endpoint, method) for rule in app.url_map.iter_rules()
            for method in rule.methods - IGNORED_METHODS}


# ---------------------------------------------------------------------------------------------
# The expected answers
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Expect:
    status: int
    changes: bool
    login_redirect: bool = False
    flash: str | None = None   # HTML: the category of the flash a redirect leaves


def expect_incident(call: IncidentCall, caller: str, decision: Decision | None) -> Expect:
    """From the lifecycle's decision to the status each side answers with."""
    if decision is None:  # not signed in, or deactivated
        return Expect(302, False, login_redirect=True) if call.side == HTML else Expect(401, False)
    if decision == Decision.ALLOWED:
        flash = "success" if call.side == HTML and call.ok == 302 else None
        return Expect(call.ok, not call.reads_only, flash=flash)
    if decision == Decision.NOT_FOUND:
        return Expect(404, False)
    if call.side == API:
        return Expect(API_STATUS[decision], False)
    # The portal answers a refused click with the incident page again and a message saying why.
    return Expect(302, False, flash=call.refusal_flash)


def expect_gated(call: GatedCall, caller: str, subject: str) -> Expect:
    """From the gate and the ownership to a status."""
    if caller in call.per_caller:
        return Expect(call.per_caller[caller], False)
    if call.gate == PUBLIC:
        return Expect(call.ok, not call.reads_only)
    if caller in (ANONYMOUS, DEACTIVATED):
        return Expect(302, False, login_redirect=True) if call.side == HTML else Expect(401, False)
    if Role(caller) not in GATE_ROLES[call.gate]:
        return Expect(403, False)
    if subject == OTHER and call.owner_only:
        return Expect(404, False)
    return Expect(call.ok, not call.reads_only)


# ---------------------------------------------------------------------------------------------
# The cases, generated from the tables and the lifecycle's states
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Case:
    route: tuple[str, str]
    call: IncidentCall | GatedCall
    caller: str
    relation: str = NONE
    state: Status | None = None

    @property
    def id(self) -> str:
        name = getattr(self.call, "name", "")
        parts = [f"{self.route[1]} {self.route[0]}", name, self.caller, self.relation,
                 self.state.value if self.state else ""]
        return "|".join(part for part in parts if part and part != NONE)


def build_cases() -> list[Case]:
    """Every incident route x caller x relation x state, and every gated route x caller x subject."""
    cases = []
    for route, calls in INCIDENT_ROUTES.items():
        for call in calls:
            for caller in SIGNED_IN:
                for relation in RELATIONS[caller]:
                    cases += [Case(route, call, caller, relation, state) for state in Status
                              if possible(relation, state)]
            cases += [Case(route, call, caller, OTHER, Status.ASSIGNED) for caller in (DEACTIVATED, ANONYMOUS)]
    for route, call in GATED_ROUTES.items():
        cases += [Case(route, call, caller, subject) for caller in CALLERS for subject in call.subjects]
    return cases


CASES = build_cases()


# ---------------------------------------------------------------------------------------------
# The world: one app and its people for the whole module
# ---------------------------------------------------------------------------------------------
class World:
    """The people, their credentials, and builders for the things a case is about.

    No app context is held between requests: each request gets its own, as in production (a held
    one would carry Flask-Login's user in `g` from one request into the next). Methods other than
    the constructor expect the caller to have pushed an app context."""

    def __init__(self, app):
        self.app = app
        self._unchanged: dict[tuple[str, str, Status], int] = {}
        make = factories.make_user
        with app.app_context():
            people = {
                ADMIN: make(Role.ADMIN, username="perm_admin"),
                TECHNICIAN: make(Role.TECHNICIAN, username="perm_tech"),
                REPORTER: make(Role.REPORTER, username="perm_reporter"),
                DEACTIVATED: make(Role.TECHNICIAN, username="perm_gone"),
                "reporter_b": make(Role.REPORTER, username="perm_reporter_b"),
                "tech_b": make(Role.TECHNICIAN, username="perm_tech_b"),
                "tech_c": make(Role.TECHNICIAN, username="perm_tech_c"),
            }
            self.ids = {name: user.id for name, user in people.items()}
            self.usernames = {name: user.username for name, user in people.items()}
        self.cookies = {name: self._log_in(name) for name in (*SIGNED_IN, DEACTIVATED)}
        with app.app_context():
            # The deactivated user had a session and a token before an admin switched them off.
            self.stale_token = issue_token(user=self.person(DEACTIVATED), name="before")[1]
            update_user(user=self.person(DEACTIVATED), active=False)

    def person(self, name: str) -> User:
        return db.session.get(User, self.ids[name])

    def _log_in(self, name: str) -> str:
        client = self.app.test_client()
        response = login(client, self.usernames[name])
        client.get(response.headers["Location"])  # shows (and so drops) the welcome flash
        return client.get_cookie("session").value

    def client(self, caller: str):
        """A fresh test client carrying the caller's session cookie (none when anonymous)."""
        client = self.app.test_client()
        if caller in self.cookies:
            client.set_cookie("session", self.cookies[caller])
        return client

    def api_headers(self, caller: str) -> dict[str, str]:
        """A fresh bearer token for the caller (the deactivated user's is one issued before)."""
        if caller == ANONYMOUS:
            return {}
        if caller == DEACTIVATED:
            return {"Authorization": f"Bearer {self.stale_token}"}
        return {"Authorization": f"Bearer {issue_token(user=self.person(caller), name='perm')[1]}"}

    def incident(self, caller: str, relation: str, state: Status) -> Incident:
        """An incident in `state` standing in `relation` to the caller.

        Built through the services (as the app would), which is the slow part of a case; so an
        incident that the previous case left untouched (a read, a refusal) serves the next case
        with the same scene, and one that was changed is never used again."""
        key = (caller, relation, state)
        if key in self._unchanged:
            incident = db.session.get(Incident, self._unchanged.pop(key))
            if incident is not None and incident.status == state:
                return incident
        me = self.person(caller) if caller in self.ids else None
        reporter = me if relation in (OWN, OWN_ASSIGNED) else self.person("reporter_b")
        technician = me if relation in (ASSIGNED, OWN_ASSIGNED) else self.person("tech_b")
        incident = factories.make_incident(reporter)
        return factories.bring_to(state, incident=incident, admin=self.person(ADMIN), technician=technician)

    def reusable(self, caller: str, relation: str, state: Status, incident_id: int) -> None:
        """The case left this incident as it found it: the next case of the same scene may use it."""
        self._unchanged[(caller, relation, state)] = incident_id

    def placeholders(self, caller: str, subject: str) -> dict[str, object]:
        """Ids and names a gated call's path and body refer to, made fresh for this case."""
        n = next(_serial)
        me = self.person(caller) if caller in self.ids else None
        owner = me if subject == OWN and me is not None else self.person("reporter_b")
        other = factories.make_user(Role.REPORTER, username=f"perm_subject{n}")
        inactive = factories.make_user(Role.REPORTER, username=f"perm_inactive{n}", active=False)
        token, _ = issue_token(user=owner, name=f"t{n}")
        return {
            "n": n,
            "username": me.username if me is not None else "nobody-at-all",
            "user": (owner if subject == OWN else other).id,
            "inactive_user": inactive.id,
            "token": token.id,
            "failed_mail": self.failed_mail(),
            "tech_c": self.ids["tech_c"],
            **self.webhook(n),
            "view": self.view(owner, n),
        }

    @staticmethod
    def view(owner: User, n: int) -> int:
        """A saved view of `owner`'s, the only one they keep (a user may keep 50, and cases are many)."""
        db.session.execute(delete(SavedView).where(SavedView.owner_id == owner.id))
        db.session.commit()
        return saved_views.create(actor=owner, name=f"view {n}", filters={}).id

    def webhook(self, n: int) -> dict[str, int]:
        """A fresh endpoint and one finished delivery of it. It listens for SLA breaches only, which
        these cases never cause, so the endpoints piling up here add no rows to anyone's change."""
        endpoint, _secret = webhook_endpoints.create_endpoint(
            actor=self.person(ADMIN), url=f"https://hooks.example.com/{n}", events=[webhook_events.SLA_BREACHED])
        with write_transaction():
            delivery = WebhookDelivery(endpoint_id=endpoint.id, event_type=webhook_events.SLA_BREACHED,
                                       webhook_id=webhook_events.new_webhook_id(), payload="{}",
                                       status=WebhookStatus.DELIVERED, attempts=1)
            db.session.add(delivery)
        return {"webhook": endpoint.id, "finished_delivery": delivery.id}

    def failed_mail(self) -> int:
        """A mail that gave up, for the outbox's retry buttons."""
        incident = factories.make_incident(self.person("reporter_b"))
        with write_transaction():
            message = db.session.scalars(select(OutboxMessage).filter_by(incident_id=incident.id)).first()
            message.status = OutboxStatus.FAILED
            message.attempts = 6
        return message.id


@pytest.fixture(scope="module")
def world(request, tmp_path_factory, schema_template):
    """One app (rate limits off: they are tested on their own) on one database for the module."""
    server = request.getfixturevalue("pg_server") if postgres.ENABLED else None
    if server is not None:
        url = server.url
    else:
        path = tmp_path_factory.mktemp("permissions") / "portal.db"
        shutil.copy(schema_template, path)
        url = f"sqlite:///{path}"
    app = create_app("testing", SQLALCHEMY_DATABASE_URI=url, RATELIMIT_ENABLED=False,
                     ATTACHMENT_DIR=str(tmp_path_factory.mktemp("permission-files")))
    yield World(app)
    with app.app_context():
        db.engine.dispose()
    if server is not None:
        server.empty()  # the next module's tests start from an empty database, as always


# What any request could change, read on a connection of its own. Incidents carry a version bumped
# by every change; events, tokens and mail only ever gain rows or flip a status.
FINGERPRINT = {
    "users": "SELECT id, username, name, email, role, active, password_hash, totp_secret, totp_enabled_at, "
             "notify_comments, notify_status, notify_sla FROM users ORDER BY id",
    "incident_watchers": "SELECT incident_id, user_id FROM incident_watchers ORDER BY incident_id, user_id",
    "attachments": "SELECT count(*), max(id) FROM attachments",
    "incidents": "SELECT count(*), max(id), sum(version) FROM incidents",
    "incident_events": "SELECT count(*), max(id) FROM incident_events",
    "api_tokens": "SELECT count(*), max(id), count(revoked_at) FROM api_tokens",
    "outbox_messages": "SELECT status, count(*), max(id), sum(attempts) FROM outbox_messages GROUP BY status "
                       "ORDER BY status",
    "sla_policies": "SELECT priority, response_minutes, resolve_minutes, calendar, updated_at FROM sla_policies "
                    "ORDER BY priority",
    "webhook_endpoints": "SELECT id, url, description, active, secret_encrypted, previous_secret_until "
                         "FROM webhook_endpoints ORDER BY id",
    "webhook_deliveries": "SELECT status, count(*), max(id), sum(attempts) FROM webhook_deliveries GROUP BY status "
                          "ORDER BY status",
    "saved_views": "SELECT id, owner_id, name, filters, sort, shared FROM saved_views ORDER BY id",
}


def fingerprint() -> dict[str, list[tuple]]:
    """The database's state as far as any route could change it."""
    with db.engine.connect() as connection:
        return {name: [tuple(row) for row in connection.execute(text(sql))] for name, sql in FINGERPRINT.items()}


def fill(template, values: dict):
    """Put a case's ids into a path or body; a lone placeholder becomes the value itself (an int id)."""
    if isinstance(template, str):
        if template.startswith("{") and template.endswith("}") and template[1:-1] in values:
            return values[template[1:-1]]
        return template.format(**values)
    if isinstance(template, dict):
        return {fill(key, values): fill(value, values) for key, value in template.items()}
    return template


# ---------------------------------------------------------------------------------------------
# The tests
# ---------------------------------------------------------------------------------------------
def test_every_route_of_the_app_is_in_the_table():
    """A route nobody wrote a permission rule for fails here (and a rule for a vanished route too)."""
    tabled = set(INCIDENT_ROUTES) | set(GATED_ROUTES)
    served = url_map_routes()
    assert not served - tabled, f"routes without a permission rule in this table: {sorted(served - tabled)}"
    assert not tabled - served, f"rules for routes the app no longer has: {sorted(tabled - served)}"
    assert not set(INCIDENT_ROUTES) & set(GATED_ROUTES)


def test_the_api_declares_the_gates_this_table_enforces():
    """The API's own declarations (and so its OpenAPI document) agree with the gates tested here."""
    declared = {}
    for resource, _urls, _route_kwargs, kwargs in restful_api.resources:
        for method in resource.methods:
            spec = getattr(resource, method.lower()).operation
            gate = PUBLIC if spec.public else LOGIN if spec.roles is None else \
                next(name for name, roles in GATE_ROLES.items() if roles == set(spec.roles))
            declared[(f"api.{kwargs['endpoint']}", method)] = gate
    for route, gate in declared.items():
        expected = GATED_ROUTES[route].gate if route in GATED_ROUTES else LOGIN  # incident routes: any signed-in user
        assert gate == expected, route


# Logging out and changing the password end every session of the user (User.session_version).
SESSION_ENDING = {("auth.logout", "POST"), ("web.change_password", "POST")}


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_permission(world, case):
    """The exact status; on success the change (or none, for reads); on refusal no change at all."""
    call, method = case.call, case.route[1]
    with world.app.app_context():
        if isinstance(call, IncidentCall):
            incident = world.incident(case.caller, case.relation, case.state)
            values = {"id": incident.id, "n": next(_serial), "tech_c": world.ids["tech_c"]}
            actor = world.person(case.caller) if case.caller in SIGNED_IN else None
            if call.prepare is not None:
                values |= call.prepare(world, incident, actor)
            decision = call.decision(actor, incident) if actor else None
            expected = expect_incident(call, case.caller, decision)
        else:
            values = world.placeholders(case.caller, case.relation)
            expected = expect_gated(call, case.caller, case.relation)
        path, body = fill(call.path, values), fill(call.body, values)
        if call.side == API:
            client, sent = world.app.test_client(), {"headers": world.api_headers(case.caller)}
            if getattr(call, "multipart", False):
                sent["data"] = {"file": (io.BytesIO(b"log line\n"), "log.txt")}
            elif body is not None:
                sent["json"] = body
        else:
            client, sent = world.client(case.caller), {"data": body}
        before = fingerprint()
    response = client.open(path, method=method, **sent)
    if case.route in SESSION_ENDING and case.caller in SIGNED_IN:
        world.cookies[case.caller] = world._log_in(case.caller)  # that call ended every session of the caller
    with world.app.app_context():
        changed = fingerprint() != before
    if isinstance(call, IncidentCall) and not changed:
        world.reusable(case.caller, case.relation, case.state, values["id"])
    detail = response.get_data()[:300].decode("utf-8", "replace")
    assert response.status_code == expected.status, detail
    assert changed == expected.changes, "the database changed" if changed else "nothing was changed"
    if expected.login_redirect:
        assert response.headers["Location"].startswith("/login")
    if call.side == API and response.status_code >= 400:
        assert response.mimetype == "application/problem+json"
    if call.side == HTML and expected.flash:
        with client.session_transaction() as session:
            categories = [category for category, _ in session.get("_flashes", [])]
        assert categories == [expected.flash], categories
        assert response.headers["Location"].split("#")[0] == f"/ui/incidents/{values['id']}"
