"""Admin pages for the outbox: what waits, what failed, retry."""
from flask import Blueprint, current_app, flash, redirect, render_template, url_for
from flask_login import current_user

from app.auth.decorators import role_required
from app.auth.roles import Role
from app.exceptions import DomainError
from app.incidents.references import reference
from app.mail import outbox
from app.mail.enums import OutboxStatus

bp = Blueprint("outbox", __name__, url_prefix="/ui/outbox")
bp.add_app_template_filter(reference)  # `incident_id|reference`: an outbox row has no Incident to ask

SHOWN = 200  # rows per table; the counts above it say how many there are in all


@bp.route("/")
@role_required(Role.ADMIN)
def index():
    """Counts per status, the warning that sending is switched off (no MAIL_SERVER) or that the mail
    server is down, failed messages (with retry) and messages still waiting."""
    counts = outbox.counts()
    return render_template(
        "mail/outbox.html",
        counts=counts,
        waiting_total=counts[OutboxStatus.PENDING],
        sending=bool(current_app.config["MAIL_SERVER"]),  # without it mail is kept, never sent: say so
        backlog=outbox.backlog(),
        failed=outbox.list_messages(statuses=[OutboxStatus.FAILED], limit=SHOWN),
        failed_total=counts[OutboxStatus.FAILED],
        waiting=outbox.list_messages(statuses=[OutboxStatus.PENDING, OutboxStatus.SENDING], limit=SHOWN),
    )


# Ids wider than a database integer are 404s here, not an overflow in the driver (500).
@bp.route("/<id:message_id>/retry", methods=["POST"])
@role_required(Role.ADMIN)
def retry(message_id: int):
    """Put one failed message back in the queue."""
    try:
        outbox.retry_message(message_id=message_id, actor=current_user.username)
    except DomainError as exc:
        flash(exc.message, "danger")
    else:
        flash(f"Message #{message_id} is queued again.", "success")
    return redirect(url_for("outbox.index"))


@bp.route("/retry-failed", methods=["POST"])
@role_required(Role.ADMIN)
def retry_failed():
    """Put every failed message back in the queue."""
    count = outbox.retry_failed(actor=current_user.username)
    flash(f"{count} failed message(s) queued again.", "success" if count else "info")
    return redirect(url_for("outbox.index"))
