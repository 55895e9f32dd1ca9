"""/incidents/<id>/attachments and /attachments/<id>: files on an incident, through the API.

Uploads are multipart (field `file`, optional `internal`), so the upload reads `request.files` itself
instead of a JSON body; it lifts the request size limit for itself only (the app's MAX_CONTENT_LENGTH
of 1 MiB stays for everything else), after authorizing and before a byte of the body is read."""
from flask import request, send_file
from flask_restful import Resource
from marshmallow import Schema, fields
from werkzeug.exceptions import BadRequest, UnsupportedMediaType

from app.api.fields import UTCDateTime
from app.api.operations import operation
from app.api.schemas import Query, UserRefSchema, shared
from app.exceptions import InvalidInput
from app.incidents import attachments, queries

TRUE, FALSE = ("true",), ("false", "")  # as the document says: a boolean, written true or false


class AttachmentSchema(Schema):
    """A file attached to an incident. `content_type` is detected from its bytes."""

    id = fields.Integer(required=True)
    filename = fields.String(required=True, metadata={
        "description": "The name it was sent with, sanitized: no folders, control or bidi characters, at most "
                       "255 bytes."})
    size = fields.Integer(required=True, metadata={"description": "Bytes."})
    content_type = fields.String(required=True, metadata={
        "description": "Detected from the bytes: image/png, image/jpeg, image/gif, image/webp (the only types "
                       "served inline), application/pdf, application/zip, application/gzip, text/plain or "
                       "application/octet-stream."})
    sha256 = fields.String(required=True)
    uploaded_by = fields.Nested(UserRefSchema, required=True)
    created_at = UTCDateTime(required=True)
    internal = fields.Boolean(required=True, metadata={"description": "Staff only; never shown to reporters."})


class AttachmentListSchema(Schema):
    items = fields.List(fields.Nested(AttachmentSchema), required=True)


class UploadFormSchema(Schema):
    """The multipart body of an upload (documented only: the resource reads `request.files` itself)."""

    file = fields.Raw(required=True, metadata={"type": "string", "format": "binary",
                                               "description": "The file; one per request."})
    internal = fields.Boolean(load_default=False, metadata={"description": "Staff only (reporters: 403)."})


class DownloadQuerySchema(Query):
    inline = fields.Boolean(load_default=False, metadata={
        "description": "Show a PNG, JPEG, GIF or WebP in the browser instead of saving it; ignored for any "
                       "other type."})


def _internal_flag() -> bool:
    """The form's optional `internal` field."""
    value = request.form.get("internal", "").strip().lower()
    if value not in TRUE + FALSE:
        raise InvalidInput.field("internal", "Must be true or false.")
    return value in TRUE


def _refuse_unknown_fields() -> None:
    """Like a JSON body, the form takes only what the document lists (UploadFormSchema): 422 otherwise."""
    unknown = (set(request.form) - {"internal"}) | (set(request.files) - {"file"})
    if unknown:
        raise InvalidInput({name: ["Unknown field."] for name in sorted(unknown)})


def _the_file():
    """The one file of the multipart body (400 when there is none; 413 past the limit)."""
    files = [upload for upload in request.files.getlist("file") if upload.filename]  # over the limit: 413
    if not files:
        raise BadRequest("The body has no file in the field `file`.")
    if len(files) > 1:
        raise BadRequest("Send one file per request.")
    return files[0]


def serve(attachment, *, inline: bool = False):
    """The file's bytes, with the headers every download of an attachment carries."""
    response = send_file(attachments.stored_path(attachment), conditional=True, etag=attachment.sha256,
                         max_age=None)
    response.headers.update(attachments.download_headers(attachment, inline=inline))
    return response


class IncidentAttachments(Resource):
    """An incident's files."""

    tag = "incidents"

    @operation("An incident's attachments", returns=AttachmentListSchema,
               description="Oldest first; internal ones for technicians and admins only.")
    def get(self, incident_id, actor):
        """The files of a visible incident."""
        incident = queries.get_incident(actor=actor, incident_id=incident_id)
        items = attachments.attachments_of(incident=incident, viewer=actor)
        return shared(AttachmentListSchema).dump({"items": items})

    @operation("Attach a file", form=UploadFormSchema, status=201, returns=AttachmentSchema, errors=(403, 409),
               description="multipart/form-data: the file in the field `file`, and `internal=true` for a "
                           "staff-only file (reporters: 403). Anyone who may comment may attach. At most "
                           "ATTACHMENT_MAX_BYTES (10 MiB by default; 413) per file and 50 files per incident "
                           "(409).")
    def post(self, incident_id, actor):
        """Store the file and answer its attachment object."""
        incident = queries.get_incident(actor=actor, incident_id=incident_id)
        attachments.authorize_upload(actor=actor, incident=incident)
        if request.mimetype != "multipart/form-data":
            raise UnsupportedMediaType("Send the file as multipart/form-data, in the field `file`.")
        request.max_content_length = attachments.request_limit(files=1)
        upload = _the_file()
        _refuse_unknown_fields()
        internal = _internal_flag()
        added = attachments.add_attachments(actor=actor, incident=incident, uploads=[upload], internal=internal)
        return shared(AttachmentSchema).dump(added[0]), 201


class AttachmentFile(Resource):
    """One attachment: its bytes, and removing it."""

    tag = "incidents"

    @operation("Download an attachment", query=DownloadQuerySchema, media_type=attachments.DOWNLOAD_TYPES,
               description="The bytes, with `Content-Disposition: attachment` (`inline` for an image when "
                           "`inline=1`), `X-Content-Type-Options: nosniff` and `Content-Security-Policy: "
                           "sandbox`; Content-Type is the detected type for images, application/octet-stream "
                           "for anything else.")
    def get(self, attachment_id, actor, query):
        """The file's bytes."""
        attachment = attachments.get_attachment(actor=actor, attachment_id=attachment_id)
        return serve(attachment, inline=query["inline"])

    @operation("Remove an attachment", status=204, errors=(403,),
               description="By whoever attached it, or an admin. The timeline keeps an attachment_removed event.")
    def delete(self, attachment_id, actor):
        """Remove the file from its incident."""
        attachments.remove_attachment(actor=actor, attachment_id=attachment_id)
        return "", 204
