"""The user's own account: change password, two-factor sign-in, create and revoke API tokens, and
which mail to get (the notification switches PATCH /me changes too)."""
import segno
from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required, login_user
from flask_wtf import FlaskForm
from wtforms import BooleanField

from app.auth import service as accounts
from app.auth import two_factor
from app.auth.forms import CodeForm
from app.exceptions import DomainError, InvalidInput
from app.incidents import notifications
from app.web import bp
from app.web.feedback import flash_refusal, show_field_errors
from app.web.forms import PasswordForm, TokenForm


class NotifyForm(FlaskForm):
    """The mail categories (app.incidents.notifications.Category), each a switch."""

    comments = BooleanField("Comments on incidents I watch")
    status = BooleanField("Assignments and status changes of incidents I watch")
    sla = BooleanField("SLA warnings and breaches")


# One code form per two-factor action, each with its own prefix so the page's ids stay unique.
CODE_FORMS = ("confirm", "regenerate", "disable")


def _render_account(*, password_form=None, token_form=None, notify_form=None, new_token: str | None = None,
                    submitted: dict[str, CodeForm] | None = None, recovery_codes: list[str] | None = None,
                    status: int = 200):
    """The account page; `new_token` is the plain token and `recovery_codes` the plain recovery
    codes, each shown this once; `submitted` a two-factor form by its prefix, with its errors."""
    user = current_user._get_current_object()
    code_forms = {prefix: CodeForm(formdata=None, prefix=prefix) for prefix in CODE_FORMS} | (submitted or {})
    page = render_template(
        "web/account.html",
        password_form=password_form or PasswordForm(formdata=None, prefix="password"),
        token_form=token_form or TokenForm(formdata=None, prefix="token"),
        notify_form=notify_form or NotifyForm(formdata=None, prefix="notify", data=notifications.switches_of(user)),
        tokens=accounts.list_tokens(user=user),
        new_token=new_token,
        code_forms=code_forms,
        recovery_codes=recovery_codes,
        two_factor_on=two_factor.is_enabled(user),
        two_factor_required=two_factor.is_required(user),
        recovery_codes_left=two_factor.recovery_codes_left(user) if two_factor.is_enabled(user) else None,
        setup=_setup(user) if two_factor.setup_pending(user) else None,
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


@bp.post("/ui/account/notifications")
@login_required
def change_notifications():
    """Switch mail categories on or off (an unticked box is off)."""
    form = NotifyForm(prefix="notify")
    if not form.validate_on_submit():
        return _render_account(notify_form=form, status=422)
    switches = {name: form[name].data for name in notifications.switches_of(current_user)}
    notifications.set_switches(user=current_user._get_current_object(), switches=switches)
    flash("Your notification choices were saved.", "success")
    return redirect(url_for("web.account", _anchor="notifications"))


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


@bp.post("/ui/account/two-factor/setup")
@login_required
def begin_two_factor():
    """Make a new secret and show it, as a QR code and as text, beside a form for its first code."""
    try:
        two_factor.begin_setup(user=current_user._get_current_object())
    except DomainError as exc:
        flash_refusal(exc)
    return redirect(url_for("web.account", _anchor="two-factor"))


@bp.post("/ui/account/two-factor/confirm")
@login_required
def confirm_two_factor():
    """Turn two-factor sign-in on with a first code; show the recovery codes once."""
    return _with_code("confirm", two_factor.confirm_setup, "Two-factor sign-in is on. Keep your recovery "
                      "codes somewhere safe: they are shown only now.")


@bp.post("/ui/account/two-factor/recovery-codes")
@login_required
def regenerate_recovery_codes():
    """Ten new recovery codes for a current code; the old ones stop working."""
    return _with_code("regenerate", two_factor.regenerate_recovery_codes, "Here are your new recovery codes; "
                      "the old ones no longer work.")


@bp.post("/ui/account/two-factor/disable")
@login_required
def disable_two_factor():
    """Turn two-factor sign-in off with a current code or a recovery code."""
    return _with_code("disable", two_factor.disable, "Two-factor sign-in is off.")


def _with_code(prefix: str, use_case, success: str):
    """Run a two-factor use case that takes a code: recovery codes it returns are shown once on the
    page (as a new token is: never through a cookie or a URL); a refusal goes beside the code."""
    form = CodeForm(prefix=prefix)
    if not form.validate_on_submit():
        return _render_account(submitted={prefix: form}, status=422)
    try:
        # A client held back for wrong guesses gets the 429 page (TooManyAttempts is not caught).
        codes = use_case(user=current_user._get_current_object(), code=form.code.data, address=request.remote_addr)
    except two_factor.CodeRefused as exc:
        form.code.errors = [*form.code.errors, exc.message]
        return _render_account(submitted={prefix: form}, status=422)
    except DomainError as exc:
        flash_refusal(exc)
        return redirect(url_for("web.account", _anchor="two-factor"))
    if prefix == "confirm":
        login_user(current_user._get_current_object())  # this browser stays in; other sessions have ended
    flash(success, "success")
    if codes is None:
        return redirect(url_for("web.account", _anchor="two-factor"))
    return _render_account(recovery_codes=codes)


def _setup(user) -> dict[str, str]:
    """What an authenticator app needs: the QR code, drawn here as SVG and sent inside the page as a
    data: URI (no script, no request elsewhere: no outside service sees the secret; an <img> runs
    nothing), and the secret as text, in groups of four, for typing in."""
    qr = segno.make(two_factor.provisioning_uri(user), error="m")
    secret = user.totp_secret
    return {"qr": qr.svg_data_uri(scale=4, border=4, dark="#000", light="#fff"),
            "secret": " ".join(secret[i:i + 4] for i in range(0, len(secret), 4))}
