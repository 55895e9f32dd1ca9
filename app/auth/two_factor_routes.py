"""The second step of signing in (/login/2fa), and the gate that sends someone whose role requires
two-factor sign-in to set it up before any other page."""
import time

from flask import current_app, flash, redirect, render_template, request, session, url_for
from flask_login import current_user, login_user

from app.auth import two_factor
from app.auth.forms import CodeForm
from app.auth.roles import Role
from app.auth.routes import bp, safe_next
from app.auth.session import load_user
from app.exceptions import TooManyAttempts
from app.extensions import limiter
from app.models import User

# The session key of a sign-in waiting for its code: who (their session identity, so a password
# changed meanwhile ends it), whether to remember them, and until when (the session is signed).
PENDING = "second_factor"
PENDING_SECONDS = 300
# What a signed-in user whose role requires two-factor sign-in may open before setting it up: the
# set-up itself, and the auth blueprint (logging out). The API never reads the session.
SETUP_ENDPOINTS = {"web.account", "web.begin_two_factor", "web.confirm_two_factor", "static", "bootstrap.static"}
OPEN_BLUEPRINTS = {"auth", "api"}


def ask_for_second_factor(user: User, *, remember: bool):
    """The password was right, and the account has two-factor sign-in: ask for the code next."""
    session[PENDING] = {"user": user.get_id(), "remember": bool(remember), "until": time.time() + PENDING_SECONDS}
    return redirect(url_for("auth.second_factor", next=request.args.get("next")))


@bp.route("/login/2fa", methods=["GET", "POST"])
@limiter.limit(lambda: current_app.config["RATELIMIT_LOGIN"], methods=["POST"])
def second_factor():
    """Ask for the code from the app (or a recovery code); log in when it is right."""
    user = _pending_user()
    if user is None:
        session.pop(PENDING, None)
        flash("Please log in: the sign-in was not started, or took longer than five minutes.", "info")
        return redirect(url_for("auth.login", next=request.args.get("next")))
    form = CodeForm()
    if form.validate_on_submit():
        try:
            two_factor.verify_sign_in(user=user, code=form.code.data, address=request.remote_addr)
        except TooManyAttempts as exc:  # this client only: the owner elsewhere signs in as usual
            flash(exc.message, "danger")
            return render_template("auth/second_factor.html", form=form), 429, {"Retry-After": str(exc.retry_after)}
        except two_factor.CodeRefused as exc:
            form.code.errors = [*form.code.errors, exc.message]
        else:
            remember = session[PENDING]["remember"]
            session.clear()  # a fresh session at login: no fixation
            login_user(user, remember=remember)
            flash(f"Welcome, {user.name}.", "success")
            return redirect(safe_next(request.args.get("next")))
    return render_template("auth/second_factor.html", form=form), 422 if form.errors else 200


def _pending_user() -> User | None:
    """The active user whose password was right a moment ago in this session, if still current."""
    pending = session.get(PENDING)
    if not isinstance(pending, dict) or not isinstance(pending.get("until"), int | float) \
            or pending["until"] < time.time():
        return None
    user = load_user(str(pending.get("user")))
    return user if user is not None and user.active and two_factor.is_enabled(user) else None


@bp.before_app_request
def require_two_factor_setup():
    """Someone signed in whose role requires two-factor sign-in, without it: set it up first."""
    if request.endpoint is None or request.endpoint in SETUP_ENDPOINTS or request.blueprint in OPEN_BLUEPRINTS \
            or not request.cookies:  # no cookie, no session to read
        return None
    if current_user.is_authenticated and two_factor.is_required(current_user) \
            and not two_factor.is_enabled(current_user):
        flash("Your role requires two-factor sign-in: set it up here to continue.", "warning")
        return redirect(url_for("web.account", _anchor="two-factor"))
    return None


@bp.record_once
def _refuse_unknown_roles(state) -> None:
    """A misspelt role in REQUIRE_2FA_ROLES would require nothing of anyone: refuse to start."""
    unknown = set(state.app.config["REQUIRE_2FA_ROLES"]) - {role.value for role in Role}
    if unknown:
        raise RuntimeError(f"REQUIRE_2FA_ROLES names no such role: {', '.join(sorted(unknown))} "
                           f"(roles: {', '.join(role.value for role in Role)})")
