"""The user's own account: change password, create and revoke API tokens."""
from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required, login_user

from app.auth import service as accounts
from app.exceptions import InvalidInput
from app.web import bp
from app.web.feedback import show_field_errors
from app.web.forms import PasswordForm, TokenForm


def _render_account(*, password_form=None, token_form=None, new_token: str | None = None, status: int = 200):
    """The account page; `new_token` is the plain token, shown this once."""
    page = render_template(
        "web/account.html",
        password_form=password_form or PasswordForm(formdata=None, prefix="password"),
        token_form=token_form or TokenForm(formdata=None, prefix="token"),
        tokens=accounts.list_tokens(user=current_user),
        new_token=new_token,
    )
    # Never let a page that may hold a secret sit in a cache.
    return page, status, {"Cache-Control": "no-store"}


@bp.get("/ui/account")
@login_required
def account():
    """Profile, password and API tokens."""
    return _render_account()


@bp.post("/ui/account/password")
@login_required
def change_password():
    """Change one's own password (the current one is asked for)."""
    form = PasswordForm(prefix="password")
    if form.validate_on_submit():
        try:
            user = current_user._get_current_object()
            # A client held back for wrong guesses gets the 429 page (TooManyAttempts is not caught).
            accounts.change_password(user=user, current_password=form.current_password.data,
                                     new_password=form.new_password.data, address=request.remote_addr)
        except InvalidInput as exc:
            show_field_errors(form, exc)
        else:
            login_user(user)  # this browser stays in; every other session of the user has ended
            flash("Your password was changed; your other sessions were logged out.", "success")
            return redirect(url_for("web.account"))
    return _render_account(password_form=form, status=422)


@bp.post("/ui/account/tokens")
@login_required
def create_token():
    """Create an API token and show it once.

    The one page that answers a POST without redirecting: the plain token must not travel
    through a cookie or a URL, and it is never stored, so it cannot be shown after a redirect."""
    form = TokenForm(prefix="token")
    if not form.validate_on_submit():
        return _render_account(token_form=form, status=422)
    try:
        token, plain = accounts.issue_token(user=current_user, name=form.name.data.strip(),
                                            ttl_days=form.ttl_days.data)
    except InvalidInput as exc:
        show_field_errors(form, exc)
        return _render_account(token_form=form, status=422)
    flash(f"Token “{token.name}” was created. Copy it now: it will not be shown again.", "success")
    return _render_account(new_token=plain, status=201)


@bp.post("/ui/account/tokens/<id:token_id>/revoke")
@login_required
def revoke_token(token_id: int):
    """Revoke one of one's own tokens (anyone else's is a 404)."""
    token = accounts.revoke_own_token(user=current_user, token_id=token_id)
    flash(f"Token “{token.name}” was revoked.", "success")
    return redirect(url_for("web.account"))
