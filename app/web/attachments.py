"""Attachments in the portal: downloads and image previews for the signed-in browser (the API's
/attachments/<id> takes tokens, never a cookie), removing a file, and the larger body the two upload
forms (report an incident, comment) may send.

The headers of every download come from `attachments.download_headers`, the API's too."""
from flask import flash, redirect, render_template, request, send_file, url_for
from flask_login import current_user, login_required
from werkzeug.exceptions import RequestEntityTooLarge

from app.errors import handle_http_exception
from app.exceptions import DomainError, NotFound
from app.incidents import attachments
from app.models import Attachment, Incident
from app.web import bp
from app.web.feedback import flash_refusal

# The forms that send files: they may read up to FILES_PER_REQUEST files at the limit.
UPLOAD_ENDPOINTS = frozenset({"web.new_incident", "web.comment_incident"})


@bp.url_value_preprocessor
def _allow_uploads(endpoint: str | None, values: dict | None) -> None:
    """Lift the body limit for the upload forms only, and only for a multipart body (the only kind
    that carries files: a bare text post keeps the 1 MiB limit). A URL value preprocessor runs before
    every before_request function, so before the CSRF check reads the form with the default."""
    if endpoint in UPLOAD_ENDPOINTS and request.mimetype == "multipart/form-data":
        request.max_content_length = attachments.request_limit(files=attachments.FILES_PER_REQUEST)


@bp.errorhandler(RequestEntityTooLarge)
def _too_large(exc: RequestEntityTooLarge):
    """An upload form sent more than it may: a page that says how much a file may be."""
    if request.endpoint not in UPLOAD_ENDPOINTS:
        return handle_http_exception(exc)
    incident_id = (request.view_args or {}).get("incident_id")
    back = url_for("web.incident", incident_id=incident_id) if incident_id else url_for("web.new_incident")
    return render_template("web/upload_too_large.html", limit=attachments.max_bytes(),
                           files=attachments.FILES_PER_REQUEST, back=back), 413


def _serve(attachment: Attachment, *, inline: bool):
    """The file's bytes with the headers every download of an attachment carries."""
    response = send_file(attachments.stored_path(attachment), conditional=True, etag=attachment.sha256,
                         max_age=None)
    response.headers.update(attachments.download_headers(attachment, inline=inline))
    return response


@bp.get("/ui/attachments/<id:attachment_id>")
@login_required
def download_attachment(attachment_id: int):
    """Save a file (always as an attachment, never rendered by the browser)."""
    return _serve(attachments.get_attachment(actor=current_user, attachment_id=attachment_id), inline=False)


@bp.get("/ui/attachments/<id:attachment_id>/preview")
@login_required
def preview_attachment(attachment_id: int):
    """An image (PNG, JPEG, GIF, WebP by its bytes) shown inline; anything else has no preview (404)."""
    attachment = attachments.get_attachment(actor=current_user, attachment_id=attachment_id)
    if not attachments.is_image(attachment):
        raise NotFound(f"Attachment {attachment_id} has no preview: only images do.")
    return _serve(attachment, inline=True)


@bp.post("/ui/attachments/<id:attachment_id>/remove")
@login_required
def remove_attachment(attachment_id: int):
    """Remove a file from its incident (its uploader or an admin); the timeline keeps the removal."""
    attachment = attachments.get_attachment(actor=current_user, attachment_id=attachment_id)
    incident_id, filename = attachment.incident_id, attachment.filename
    try:
        attachments.remove_attachment(actor=current_user, attachment_id=attachment_id)
    except DomainError as exc:
        flash_refusal(exc)
    else:
        flash(f"{filename} was removed.", "success")
    return redirect(url_for("web.incident", incident_id=incident_id))


@bp.app_template_global("incident_attachments")
def incident_attachments(incident: Incident) -> list[Attachment]:
    """The incident's files the signed-in user may see."""
    return attachments.attachments_of(incident=incident, viewer=current_user)


@bp.app_template_global("may_remove_attachment")
def may_remove_attachment(attachment: Attachment) -> bool:
    return attachments.may_remove(current_user, attachment)


bp.add_app_template_global(attachments.attachment_for_event, "attachment_for_event")
bp.add_app_template_global(attachments.is_image, "is_image_attachment")


@bp.app_template_filter("file_size")
def file_size(size: int) -> str:
    """Bytes as a person reads them: 812 B, 4.2 KB, 3.1 MB (powers of 1024)."""
    if size < 1024:
        return f"{size} B"
    if size < 1024 * 1024:
        return f"{size / 1024:.1f} KB"
    return f"{size / (1024 * 1024):.1f} MB"
