"""Files attached to incidents: where their bytes live, who may add, see and remove them, and what a
download of one says to the browser.

Storage: `ATTACHMENT_DIR` (default `<instance>/attachments/`), content-addressed: a file's bytes are
at `ab/cdef...` after their sha256, so the same bytes uploaded twice are one file, and no name a
client chose ever reaches the file system. `stage()` streams an upload into `tmp/` under that folder
(the same file system), hashing and counting as it goes, fsyncs it, renames it into place and fsyncs
the folder, all before the caller's transaction; `record()` writes the rows and `attachment_added`
events inside it. A request that fails between the two, or a worker killed mid-upload, leaves at
most an unreferenced file or a temp file: `sweep()` removes those once they are older than an hour
(an upload in flight in another worker is younger). Files are deleted only while holding the
database's write lock and after checking that no row names them, and `record()` checks under the
same lock that each file is still there, so a row never names a missing file.

Types come from the bytes, never from the client: only PNG, JPEG, GIF and WebP are images a page may
show inline; everything else (SVG and HTML included: they are text) downloads as
application/octet-stream with `Content-Disposition: attachment`, nosniff and a sandbox CSP."""
import codecs
import hashlib
import logging
import os
import re
import tempfile
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import BinaryIO, Protocol
from urllib.parse import quote

from flask import current_app
from sqlalchemy import func, select

from app.auth.roles import Role
from app.database import write_transaction
from app.exceptions import InvalidInput, NotFound, PayloadTooLarge, PermissionDenied, TransitionNotAllowed, Unavailable
from app.extensions import db
from app.incidents.enums import EventKind
from app.incidents.lifecycle import Action, Decision, decide, sees_internal
from app.models import Attachment, Incident, IncidentEvent, User, utcnow

log = logging.getLogger(__name__)

MAX_PER_INCIDENT = 50
FILES_PER_REQUEST = 10
# Room for a form's other fields and the multipart framing around the files (a description is
# at most 10,000 characters, 40 KB in UTF-8).
FORM_OVERHEAD = 1024 * 1024
FILENAME_MAX_BYTES = 255
EXTENSION_MAX_BYTES = 16
SWEEP_AFTER_SECONDS = 3600
CHUNK = 64 * 1024
TEMP_FOLDER = "tmp"
OCTET_STREAM = "application/octet-stream"

# Magic numbers of the types we name; the first four are the only ones ever shown inline.
IMAGES = ("image/png", "image/jpeg", "image/gif", "image/webp")
# What a download answers with: the image's own type, else bytes to save.
DOWNLOAD_TYPES = (OCTET_STREAM, *IMAGES)
_SIGNATURES = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
    (b"%PDF-", "application/pdf"),
    (b"PK\x03\x04", "application/zip"),
    (b"PK\x05\x06", "application/zip"),
    (b"\x1f\x8b", "application/gzip"),
)
HEAD_BYTES = 16
# Characters that rewrite how the rest of a name reads (bidi embeddings, overrides and isolates,
# e.g. "invoice\u202eexe.pdf" shown as "invoicefdp.exe") or that a terminal or log takes as commands.
_BIDI = {chr(c) for c in (*range(0x202A, 0x202F), *range(0x2066, 0x206A), 0x200E, 0x200F, 0x061C)}
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


class Upload(Protocol):
    """A file as a request hands it over (werkzeug's FileStorage fits): the client's name and its bytes."""

    filename: str | None
    stream: BinaryIO


@dataclass(frozen=True)
class Staged:
    """A file already in the store, waiting for its row. `fresh`: this upload put it there."""

    filename: str
    size: int
    content_type: str
    sha256: str
    fresh: bool = False


@dataclass(frozen=True)
class SweepResult:
    """What a sweep removed."""

    orphans: int
    temp_files: int


# ---- configuration ------------------------------------------------------------------------------

def storage_root() -> Path:
    """ATTACHMENT_DIR, or `attachments/` in the app's instance folder."""
    configured = current_app.config.get("ATTACHMENT_DIR")
    return Path(configured) if configured else Path(current_app.instance_path) / "attachments"


def max_bytes() -> int:
    """The largest file the portal takes (ATTACHMENT_MAX_BYTES)."""
    return int(current_app.config["ATTACHMENT_MAX_BYTES"])


def request_limit(files: int = 1) -> int:
    """The largest request body an upload route reads: `files` files at the limit and a form around them."""
    return max_bytes() * files + FORM_OVERHEAD


# ---- names and types ----------------------------------------------------------------------------

def sanitize_filename(name: str | None) -> str:
    """The client's name as we show and offer it: no folders, no control or bidi characters, NFC,
    at most 255 bytes of UTF-8 (the extension kept), never empty."""
    text = unicodedata.normalize("NFC", name or "")
    text = text.replace("\\", "/").rsplit("/", 1)[-1]
    text = "".join(c for c in text if c not in _BIDI and unicodedata.category(c) != "Cc")
    text = text.strip()
    if not text.strip("."):
        return "file"
    return _trim(text)


def _trim(text: str) -> str:
    if len(text.encode("utf-8")) <= FILENAME_MAX_BYTES:
        return text
    stem, dot, extension = text.rpartition(".")
    if not dot or not stem or len(extension.encode("utf-8")) > EXTENSION_MAX_BYTES:
        stem, extension = text, ""
    suffix = f".{extension}" if extension else ""
    room = FILENAME_MAX_BYTES - len(suffix.encode("utf-8"))
    cut = stem.encode("utf-8")[:room].decode("utf-8", "ignore")
    return unicodedata.normalize("NFC", cut) + suffix


def detect_type(head: bytes, *, text: bool) -> str:
    """The media type the first bytes name; text/plain for UTF-8 without NUL; else octet-stream."""
    for signature, media_type in _SIGNATURES:
        if head.startswith(signature):
            return media_type
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    return "text/plain" if text else OCTET_STREAM


def is_image(attachment: Attachment) -> bool:
    """May be shown inline as a preview (PNG, JPEG, GIF or WebP, by its bytes)."""
    return attachment.content_type in IMAGES


def download_headers(attachment: Attachment, *, inline: bool = False) -> dict[str, str]:
    """What every answer carrying an attachment's bytes says, whichever page or API serves it: the
    browser saves it (only an image may be shown, and only when `inline` asks), never sniffs a type,
    never runs it as a page of ours (CSP sandbox)."""
    image = is_image(attachment)
    disposition = "inline" if inline and image else "attachment"
    fallback = "".join(c if 32 <= ord(c) < 127 and c not in '"\\%' else "_" for c in attachment.filename)
    return {
        "Content-Type": attachment.content_type if image else OCTET_STREAM,
        "Content-Disposition": f"{disposition}; filename=\"{fallback}\"; "
                               f"filename*=UTF-8''{quote(attachment.filename, safe='')}",
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": "sandbox",
        "Cache-Control": "private, no-store",
    }


# ---- the store ----------------------------------------------------------------------------------

def path_of(attachment: Attachment | str) -> Path:
    """Where the bytes of an attachment (or of a sha256) live."""
    digest = attachment if isinstance(attachment, str) else attachment.sha256
    if not _SHA256.match(digest):
        raise ValueError(f"not a sha256: {digest!r}")
    return storage_root() / digest[:2] / digest[2:]


def stored_path(attachment: Attachment) -> Path:
    """The file to serve; NotFound (and a log line) if the store lost it."""
    path = path_of(attachment)
    if not path.is_file():
        log.error("Attachment %s: its file %s is missing from the store", attachment.id, path)
        raise NotFound(f"The file of attachment {attachment.id} is missing; tell an administrator.")
    return path


def fsync_folder(path: Path) -> None:
    """Make the entries of a folder (a file renamed into it) durable."""
    descriptor = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _folder(path: Path) -> Path:
    """Make `path` (and its parents) if missing, with each new entry made durable in its parent."""
    if not path.is_dir():
        _folder(path.parent)
        path.mkdir(exist_ok=True)
        fsync_folder(path.parent)
    return path


def _store(upload: Upload) -> Staged:
    """Stream one upload into the store: temp file, hash and count, fsync, rename, fsync the folder."""
    limit = max_bytes()
    temp_folder = _folder(storage_root() / TEMP_FOLDER)
    descriptor, temp_name = tempfile.mkstemp(dir=temp_folder, prefix="upload-")
    temp = Path(temp_name)
    try:
        digest, size, head = hashlib.sha256(), 0, b""
        utf8, text = codecs.getincrementaldecoder("utf-8")(), True
        with os.fdopen(descriptor, "wb") as out:
            while chunk := upload.stream.read(CHUNK):
                size += len(chunk)
                if size > limit:
                    raise PayloadTooLarge(f"{sanitize_filename(upload.filename)} is larger than "
                                          f"{_size_words(limit)}, the most a file may be.")
                digest.update(chunk)
                head = (head + chunk[:HEAD_BYTES])[:HEAD_BYTES]
                if text:
                    text = b"\x00" not in chunk and _decodes(utf8, chunk)
                out.write(chunk)
            text = text and _decodes(utf8, b"", final=True)
            out.flush()
            os.fsync(out.fileno())
        sha256 = digest.hexdigest()
        final = path_of(sha256)
        fresh = not final.is_file()
        if fresh:
            _folder(final.parent)
            os.replace(temp, final)
            fsync_folder(final.parent)
        else:
            temp.unlink()
            os.utime(final)  # a sweep leaves young files alone: this one is about to be named again
        return Staged(filename=sanitize_filename(upload.filename), size=size,
                      content_type=detect_type(head, text=text), sha256=sha256, fresh=fresh)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise


def _decodes(decoder, chunk: bytes, *, final: bool = False) -> bool:
    try:
        decoder.decode(chunk, final)
    except UnicodeDecodeError:
        return False
    return True


def _size_words(size: int) -> str:
    if size >= 1024 * 1024 and size % (1024 * 1024) == 0:
        return f"{size // (1024 * 1024)} MiB"
    if size >= 1024 and size % 1024 == 0:
        return f"{size // 1024} KiB"
    return f"{size} bytes"


def _count(incident: Incident) -> int:
    return db.session.scalar(select(func.count()).select_from(Attachment)
                             .where(Attachment.incident_id == incident.id)) or 0


def _check_room(incident: Incident | None, adding: int) -> None:
    """At most MAX_PER_INCIDENT files on one incident (409), FILES_PER_REQUEST at a time (422)."""
    if adding > FILES_PER_REQUEST:
        raise InvalidInput.field("uploads", f"Attach at most {FILES_PER_REQUEST} files at a time.")
    existing = _count(incident) if incident is not None and incident.id is not None else 0
    if existing + adding > MAX_PER_INCIDENT:
        raise TransitionNotAllowed(f"An incident holds at most {MAX_PER_INCIDENT} files; "
                                   f"this one has {existing}.")


def chosen(uploads: Sequence[Upload | None]) -> list[Upload]:
    """The uploads that carry a file: a form's empty file input arrives with the name ''."""
    return [upload for upload in uploads if upload is not None and upload.filename]


def stage(*, incident: Incident | None, uploads: Sequence[Upload]) -> list[Staged]:
    """Check the limits and store each file (before the caller's transaction); nothing in the
    database yet. `incident` is None for one being created."""
    files = chosen(uploads)
    if not files:
        return []
    _check_room(incident, len(files))
    staged: list[Staged] = []
    try:
        for upload in files:
            staged.append(_store(upload))
    except BaseException:
        discard(staged)
        raise
    return staged


def record(*, actor: User, incident: Incident, staged: Sequence[Staged], internal: bool, now: datetime,
           event: IncidentEvent | None = None) -> list[Attachment]:
    """Inside the caller's transaction: one row and one `attachment_added` event per staged file.
    `event` is the comment the files came with (their events follow it on the timeline)."""
    from app.incidents.service import record_event  # the service imports this module

    if not staged:
        return []
    _check_room(incident, len(staged))  # again, under the write lock: two requests at once
    rows = []
    for item in staged:
        if not path_of(item.sha256).is_file():  # a sweep took it between stage() and now
            raise Unavailable("A file was removed from the store while it was being attached; please send it again.")
        added = record_event(incident, actor, EventKind.ATTACHMENT_ADDED, now, internal=internal,
                             changes={"attachment": [None, item.filename]})
        row = Attachment(incident_id=incident.id, event_id=added.id, filename=item.filename, size=item.size,
                         content_type=item.content_type, sha256=item.sha256, uploaded_by_id=actor.id,
                         internal=internal, created_at=now)
        row.uploaded_by = actor
        db.session.add(row)
        rows.append(row)
    db.session.flush()
    return rows


def discard(staged: Sequence[Staged]) -> None:
    """After a failed request: remove the files it put in the store that no row names (best effort;
    the sweep removes whatever is left)."""
    fresh = [item.sha256 for item in staged if item.fresh]
    if not fresh:
        return
    try:
        with write_transaction():
            _delete_unreferenced(fresh)
    except Exception:  # the refusal being answered matters more; the sweep will do it
        log.warning("Could not remove the files of a failed upload; the sweep will", exc_info=True)


def _delete_unreferenced(digests: Sequence[str]) -> int:
    """Inside a write transaction: unlink each file no row names. Returns how many went."""
    named = set(db.session.scalars(select(Attachment.sha256).where(Attachment.sha256.in_(set(digests)))))
    removed = 0
    for digest in set(digests) - named:
        path = path_of(digest)
        try:
            path.unlink()
        except FileNotFoundError:
            continue
        removed += 1
    return removed


# ---- use cases ----------------------------------------------------------------------------------

def authorize_upload(*, actor: User, incident: Incident, internal: bool = False) -> None:
    """Refuse (404/403) before any bytes are read: who may comment may attach; internal files, staff only."""
    decision = decide(actor, Action.COMMENT, incident)
    if decision == Decision.NOT_FOUND:
        raise NotFound(f"Incident {incident.id} was not found.")
    if decision != Decision.ALLOWED:
        raise PermissionDenied(f"You may not attach files to {incident.reference}.")
    if internal and not sees_internal(actor):
        raise PermissionDenied("Only technicians and admins may attach internal files.")


def add_attachments(*, actor: User, incident: Incident, uploads: Sequence[Upload],
                    internal: bool = False) -> list[Attachment]:
    """Attach files to an incident (anyone who may comment on it; internal ones staff only)."""
    authorize_upload(actor=actor, incident=incident, internal=internal)
    if not chosen(uploads):
        raise InvalidInput.field("file", "Choose a file to attach.")
    staged = stage(incident=incident, uploads=uploads)
    try:
        with write_transaction():
            rows = record(actor=actor, incident=incident, staged=staged, internal=internal, now=utcnow())
    except BaseException:
        discard(staged)
        raise
    return rows


def attachments_of(*, incident: Incident, viewer: User) -> list[Attachment]:
    """The incident's files this viewer may see, oldest first (internal ones for staff only)."""
    if decide(viewer, Action.VIEW, incident) != Decision.ALLOWED:
        raise NotFound(f"Incident {incident.id} was not found.")
    query = select(Attachment).where(Attachment.incident_id == incident.id).order_by(Attachment.id)
    if not sees_internal(viewer):
        query = query.where(Attachment.internal.is_(False))
    return list(db.session.scalars(query))


def get_attachment(*, actor: User, attachment_id: int) -> Attachment:
    """One attachment this user may see; NotFound otherwise (no existence leak)."""
    attachment = db.session.get(Attachment, attachment_id)
    incident = db.session.get(Incident, attachment.incident_id) if attachment is not None else None
    if (incident is None or decide(actor, Action.VIEW, incident) != Decision.ALLOWED
            or (attachment.internal and not sees_internal(actor))):
        raise NotFound(f"Attachment {attachment_id} was not found.")
    return attachment


def may_remove(actor: User, attachment: Attachment) -> bool:
    """The uploader or an admin (the page shows the button by this)."""
    return actor.role == Role.ADMIN or attachment.uploaded_by_id == actor.id


def remove_attachment(*, actor: User, attachment_id: int) -> None:
    """Remove a file from its incident (its uploader or an admin): the row goes, an
    `attachment_removed` event stays, and the bytes go once no other row names them."""
    from app.incidents.service import record_event

    with write_transaction():
        attachment = get_attachment(actor=actor, attachment_id=attachment_id)
        if not may_remove(actor, attachment):
            raise PermissionDenied("Only whoever attached a file, or an admin, may remove it.")
        incident = db.session.get(Incident, attachment.incident_id)
        record_event(incident, actor, EventKind.ATTACHMENT_REMOVED, utcnow(), internal=attachment.internal,
                     changes={"attachment": [attachment.filename, None]})
        digest = attachment.sha256
        db.session.delete(attachment)
        db.session.flush()
        # Under the write lock: no upload can name these bytes between the check and the unlink.
        _delete_unreferenced([digest])


def attachment_for_event(event: IncidentEvent) -> Attachment | None:
    """The attachment an `attachment_added` event brought, while it still exists."""
    if event.kind != EventKind.ATTACHMENT_ADDED:
        return None
    return db.session.scalar(select(Attachment).where(Attachment.event_id == event.id))


def sweep(now: datetime | None = None, *, older_than: float = SWEEP_AFTER_SECONDS) -> SweepResult:
    """Remove stored files no row names and temp files left by failed or killed uploads, once they
    are `older_than` seconds old at `now` (younger ones may belong to an upload in flight)."""
    root = storage_root()
    cutoff = (now or utcnow()).timestamp() - older_than
    temp_files = 0
    temp_folder = root / TEMP_FOLDER
    if temp_folder.is_dir():
        for temp in temp_folder.iterdir():
            if temp.is_file() and temp.stat().st_mtime <= cutoff:
                temp.unlink(missing_ok=True)
                temp_files += 1
    candidates = [digest for digest, path in stored_files(root) if path.stat().st_mtime <= cutoff]
    orphans = 0
    if candidates:
        with write_transaction():
            orphans = _delete_unreferenced(candidates)
    return SweepResult(orphans=orphans, temp_files=temp_files)


def stored_files(root: Path) -> list[tuple[str, Path]]:
    """(sha256, path) of every file in the store's fan-out folders."""
    found = []
    if not root.is_dir():
        return found
    for folder in root.iterdir():
        if folder.name == TEMP_FOLDER or not folder.is_dir() or len(folder.name) != 2:
            continue
        for path in folder.iterdir():
            digest = folder.name + path.name
            if path.is_file() and _SHA256.match(digest):
                found.append((digest, path))
    return found
