"""HTML pages. Thin: load or 404, validate the form, one service call, flash and redirect."""
from flask import render_template
from flask_login import current_user, login_required

from app.web import bp
from app.web.dashboard import dashboard_for


@bp.route("/")
@login_required
def dashboard():
    """The role-aware home page."""
    return render_template("web/dashboard.html", board=dashboard_for(current_user))
