"""The home page; the other pages live in incidents.py, actions.py, users.py and account.py."""
from flask import render_template, request
from flask_login import current_user, login_required

from app.caching import cached_template
from app.incidents.enums import Severity, Status
from app.incidents.lifecycle import ACTIVE_STATUSES
from app.web import bp
from app.web.dashboard import dashboard_for


@bp.route("/")
@login_required
def dashboard():
    """The role-aware home page; its body shows only data, so it is reused until the next commit."""
    user = current_user._get_current_object()
    body = cached_template(("dashboard", user.id, request.script_root), "web/_dashboard_body.html",
                           lambda: {"board": dashboard_for(user), "statuses": list(Status),
                                    "severities": list(Severity),
                                    "active_statuses": [status.value for status in ACTIVE_STATUSES]})
    return render_template("web/dashboard.html", body=body)
