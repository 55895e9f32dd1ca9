"""The home page; the other pages live in incidents.py, actions.py, users.py and account.py."""
from flask import render_template
from flask_login import current_user, login_required

from app.incidents.lifecycle import Severity, Status
from app.web import bp
from app.web.dashboard import dashboard_for


@bp.route("/")
@login_required
def dashboard():
    """The role-aware home page."""
    return render_template("web/dashboard.html", board=dashboard_for(current_user),
                           statuses=list(Status), severities=list(Severity))
