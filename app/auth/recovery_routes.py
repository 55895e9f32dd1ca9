"""Forgotten passwords: ask for a link by mail (/forgot), follow it to choose a new one (/reset)."""
import time

from flask import current_app, flash, redirect, render_template, url_for

from app.auth import recovery
from app.auth.forms import ForgotForm, ResetForm
from app.auth.routes import bp
from app.exceptions import InvalidInput
from app.extensions import limiter

# The one answer to every request for a link: it must not tell whether the account exists.
LINK_SENT = ("If an account matches, we sent a link to its e-mail address. It works once, within the "
             "hour. No mail? Check the spelling, or ask an administrator.")


def _forgot_limit() -> str:
    return current_app.config["RATELIMIT_FORGOT"]


@bp.route("/forgot", methods=["GET", "POST"])
@limiter.limit(_forgot_limit, methods=["POST"])
def forgot_password():
    """Ask for a reset link; the answer is the same whether or not the account exists."""
    form = ForgotForm()
    if form.validate_on_submit():
        started = time.monotonic()
        recovery.request_reset(login=form.login.data)
        # Never answer sooner than this: how long the work took (a mail written, or nothing) would
        # tell whether the account exists.
        time.sleep(max(0.0, current_app.config["PASSWORD_RESET_ANSWER_SECONDS"] - (time.monotonic() - started)))
        flash(LINK_SENT, "info")
        return redirect(url_for("auth.login"))
    return render_template("auth/forgot.html", form=form), 422 if form.errors else 200


@bp.route("/reset/<token>", methods=["GET", "POST"])
def reset_password(token: str):
    """Choose a new password through a mailed link; a dead link says why and changes nothing."""
    try:
        user = recovery.account_for_link(token)
    except recovery.ResetLinkRefused as exc:
        return _page("auth/reset_refused.html", 400, message=exc.message)
    form = ResetForm()
    if form.validate_on_submit():
        try:
            recovery.reset_password(token=token, new_password=form.new_password.data)
        except recovery.ResetLinkRefused as exc:
            return _page("auth/reset_refused.html", 400, message=exc.message)
        except InvalidInput as exc:
            form.new_password.errors = [*form.new_password.errors, *exc.errors.get("new_password", [])]
        else:
            flash("Your password was changed, and every session of your account was logged out. "
                  "Log in with the new password.", "success")
            return redirect(url_for("auth.login"))
    return _page("auth/reset.html", 422 if form.errors else 200, form=form, user=user)


def _page(template: str, status: int, **context):
    """A reset page; its address holds the link, so no cache keeps it."""
    return render_template(template, **context), status, {"Cache-Control": "no-store"}
