"""Browser login and logout."""
from urllib.parse import urlsplit

from flask import Blueprint, current_app, flash, redirect, render_template, request, session, url_for
from flask_login import current_user, login_user, logout_user

from app.auth import session as user_loader  # noqa: F401  (registers the Flask-Login user loader)
from app.auth import two_factor
from app.auth.forms import LoginForm
from app.auth.service import authenticate, end_sessions
from app.exceptions import TooManyAttempts
from app.extensions import limiter

bp = Blueprint("auth", __name__)
GENERIC_LOGIN_ERROR = "Invalid username or password."


def safe_next(target: str | None) -> str:
    """Follow `?next=` only to a local path; anything else goes to the dashboard."""
    fallback = url_for("web.dashboard")
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return fallback
    # Control characters: a CR/LF would split the Location header, and browsers drop tabs and
    # newlines, which turns "/\t/evil.example" into "//evil.example".
    if any(ord(char) < 32 or ord(char) == 127 for char in target):
        return fallback
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return fallback
    return target


def _login_limit() -> str:
    return current_app.config["RATELIMIT_LOGIN"]


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(_login_limit, methods=["POST"])
def login():
    """Show the login form; log in on a valid POST."""
    if current_user.is_authenticated:
        return redirect(safe_next(request.args.get("next")))
    form = LoginForm()
    if form.validate_on_submit():
        try:
            user = authenticate(username=form.username.data, password=form.password.data,
                                address=request.remote_addr)
        except TooManyAttempts as exc:  # this client only: the owner elsewhere signs in as usual
            flash(exc.message, "danger")
            return render_template("auth/login.html", form=form), 429, {"Retry-After": str(exc.retry_after)}
        if user is None:
            flash(GENERIC_LOGIN_ERROR, "danger")
            return render_template("auth/login.html", form=form), 200
        session.clear()  # a fresh session at login: no fixation
        if two_factor.is_enabled(user):  # the password is half of it: the code is asked for next
            return two_factor_routes.ask_for_second_factor(user, remember=form.remember.data)
        login_user(user, remember=form.remember.data)
        flash(f"Welcome, {user.name}.", "success")
        return redirect(safe_next(request.args.get("next")))
    return render_template("auth/login.html", form=form)


@bp.route("/logout", methods=["POST"])
def logout():
    """Log out (POST, with CSRF, so no link can log anyone out), ending every copy of the session."""
    if current_user.is_authenticated:
        end_sessions(user=current_user._get_current_object())
    logout_user()
    session.clear()
    flash("You have been logged out.", "info")
    return redirect(url_for("auth.login"))


from app.auth import recovery_routes, two_factor_routes  # noqa: E402,F401  (their views register on bp, defined above)
