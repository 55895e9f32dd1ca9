"""The one parser of inbound mail: raw RFC 5322 bytes in, a `ParsedMail` out, whichever door the
message came through (pure: no app, no database).

It never raises on what a sender wrote. A message it cannot use comes back with `malformed` saying
why; everything it had to leave out is listed in `notes`. Limits, so a hostile message costs little:
more than `max_bytes` is refused before the body is parsed (only the header block is read, for the
log); at most MAX_PARTS MIME parts are read, the rest ignored (and noted); nesting deeper than
MAX_DEPTH is ignored; a charset Python does not know is read as UTF-8 with replacement characters."""
import codecs
import email
import hashlib
import re
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage, Message
from email.parser import BytesHeaderParser
from email.utils import getaddresses

from app.incidents.lifecycle import TITLE_MAX
from app.mail.inbound.text import clean, html_to_text, one_line, truncate

MAX_PARTS = 100
MAX_DEPTH = 20
HEADER_BLOCK_MAX = 64 * 1024
MESSAGE_ID_MAX = 255
SUBJECT_MAX = 300  # the inbound_messages.subject column
NO_SUBJECT = "(no subject)"
# "Re:", "Fwd:", "AW:", "WG:", "SV:", "Antw:" ... in front of a subject, as many as there are.
_REPLY_PREFIX = re.compile(r"^\s*((re|fwd?|aw|wg|sv|vs|antw|tr|rif|r)\s*(\[\d+\])?\s*:\s*)+", re.IGNORECASE)


@dataclass(frozen=True)
class MailFile:
    """An attached file as the mail carried it (the name not yet sanitized: attachments does that)."""

    filename: str
    content: bytes


@dataclass(frozen=True)
class ParsedMail:
    """What the service needs from one message. `key` identifies it (sha256 of its Message-ID, or
    of its bytes when it has none): the same message read twice has the same key."""

    key: str
    size: int
    message_id: str = ""
    sender: str = ""           # the From address, lowercased; "" when there is no usable one
    subject: str = ""          # as written, folded onto one line, at most SUBJECT_MAX characters
    title: str = NO_SUBJECT    # the subject without Re:/Fwd:, at most TITLE_MAX characters
    text: str = ""             # the text part, or the HTML part read as text
    files: tuple[MailFile, ...] = ()
    in_reply_to: str = ""
    references: str = ""
    auto_submitted: str = ""   # lowercased, without parameters
    precedence: str = ""       # lowercased
    delivery_report: bool = False  # a bounce or a read receipt (multipart/report, Return-Path <>)
    auto_reply: bool = False   # X-Autoreply / X-Autorespond: an out-of-office robot
    malformed: str | None = None
    notes: tuple[str, ...] = field(default=())


def parse(raw: bytes, *, max_bytes: int, declared_size: int | None = None) -> ParsedMail:
    """Read one message. `declared_size`: the whole message's size when `raw` holds only its header
    block (an IMAP poller that did not fetch an oversized body)."""
    size = max(len(raw), declared_size or 0)
    if size > max_bytes:
        return _too_large(raw, size=size, max_bytes=max_bytes)
    try:
        message = email.message_from_bytes(raw, policy=policy.default)
        return _read(message, raw=raw, size=size)
    except Exception as exc:  # noqa: BLE001 - the stdlib parser has known crashes on hostile input
        return ParsedMail(key=_key(None, raw), size=size,
                          malformed=f"could not be parsed ({type(exc).__name__}: {truncate(str(exc), 200)})")


def _key(message_id: str | None, raw: bytes) -> str:
    source = message_id.encode("utf-8", "surrogateescape") if message_id else raw
    return hashlib.sha256(source).hexdigest()


def _too_large(raw: bytes, *, size: int, max_bytes: int) -> ParsedMail:
    """Only the header block is read: enough to log the message and to know it again."""
    head = raw[:HEADER_BLOCK_MAX]
    end = min((i for i in (head.find(b"\r\n\r\n"), head.find(b"\n\n")) if i >= 0), default=len(head))
    why = f"too large: {size} bytes, the limit is {max_bytes} (INBOUND_MAX_BYTES)"
    try:
        headers = BytesHeaderParser(policy=policy.default).parsebytes(head[:end])
        message_id = _header(headers, "Message-ID")
        return ParsedMail(key=_key(message_id, raw), size=size, message_id=truncate(message_id, MESSAGE_ID_MAX),
                          sender=_sender(headers), subject=truncate(one_line(_header(headers, "Subject")),
                                                                    SUBJECT_MAX), malformed=why)
    except Exception:  # noqa: BLE001
        return ParsedMail(key=_key(None, raw), size=size, malformed=why)


def _read(message: EmailMessage, *, raw: bytes, size: int) -> ParsedMail:
    message_id = _header(message, "Message-ID")
    subject = one_line(_header(message, "Subject"))
    notes: list[str] = []
    sender = _sender(message)
    text, files = _body(message, notes)
    title = truncate(_REPLY_PREFIX.sub("", subject).strip(), TITLE_MAX) or NO_SUBJECT
    auto_submitted = _header(message, "Auto-Submitted").split(";")[0].strip().lower()
    return ParsedMail(
        key=_key(message_id, raw), size=size, message_id=truncate(message_id, MESSAGE_ID_MAX), sender=sender,
        subject=truncate(subject, SUBJECT_MAX), title=title, text=text, files=tuple(files),
        in_reply_to=_header(message, "In-Reply-To"), references=_header(message, "References"),
        auto_submitted=auto_submitted, precedence=_header(message, "Precedence").strip().lower(),
        delivery_report=(message.get_content_type() == "multipart/report"
                         or _header(message, "Return-Path").strip() == "<>"),
        auto_reply=bool(_header(message, "X-Autoreply") or _header(message, "X-Autorespond")),
        malformed=None if sender else "no usable From address", notes=tuple(notes),
    )


def _header(message: Message, name: str) -> str:
    """A header's decoded value ("" when absent); the raw text when the header cannot be decoded."""
    try:
        value = message.get(name)
        return "" if value is None else clean(str(value)).strip()
    except Exception:  # noqa: BLE001 - policy.default's header classes can raise on broken input
        for key, value in message.raw_items():
            if key.lower() == name.lower():
                return clean(str(value)).strip()
        return ""


def _sender(message: Message) -> str:
    """The first address of From, lowercased, if it looks like one."""
    try:
        addresses = [address for _name, address in getaddresses([_header(message, "From")])]
    except Exception:  # noqa: BLE001
        return ""
    for address in addresses:
        address = address.strip().lower()
        local, at, domain = address.rpartition("@")
        if at and local and "." in domain and len(address) <= 254 and not re.search(r"[\s<>,;]", address):
            return address
    return ""


def _parts(message: Message, notes: list[str]) -> list[Message]:
    """The leaf parts in order, depth first, at most MAX_PARTS of them. A forwarded message
    (message/rfc822) is one leaf: it becomes a file, its text is not the sender's."""
    leaves: list[Message] = []
    stack: list[tuple[Message, int]] = [(message, 0)]
    seen = ignored = 0
    while stack:
        part, depth = stack.pop()
        seen += 1
        if seen > MAX_PARTS:
            ignored += 1
            continue
        if part.is_multipart() and part.get_content_type() != "message/rfc822":
            if depth >= MAX_DEPTH:
                notes.append(f"parts nested deeper than {MAX_DEPTH} levels were ignored")
                continue
            children = part.get_payload()
            if isinstance(children, list):
                stack.extend((child, depth + 1) for child in reversed(children))
            continue
        leaves.append(part)
    if ignored:
        notes.append(f"{ignored} MIME part(s) beyond the first {MAX_PARTS} were ignored")
    return leaves


def _body(message: Message, notes: list[str]) -> tuple[str, list[MailFile]]:
    """The text (plain parts preferred, else HTML read as text) and the attached files."""
    plain: list[str] = []
    html: list[str] = []
    files: list[MailFile] = []
    unnamed = 0
    for part in _parts(message, notes):
        content_type = part.get_content_type()
        filename = _filename(part)
        if content_type == "message/rfc822":
            files.append(MailFile(filename or _forwarded_name(part), _inner_bytes(part)))
        elif filename is not None or part.get_content_disposition() == "attachment":
            files.append(MailFile(filename or "attachment", _payload(part)))
        elif content_type == "text/plain":
            plain.append(_decode(part, notes))
        elif content_type == "text/html":
            html.append(_decode(part, notes))
        else:
            unnamed += 1
    if unnamed:
        notes.append(f"{unnamed} inline part(s) without a file name were left out")
    if plain:
        text = "\n\n".join(piece.strip() for piece in plain)
    else:
        text = "\n\n".join(html_to_text(piece) for piece in html)
    return clean(text).strip(), files


def _filename(part: Message) -> str | None:
    try:
        name = part.get_filename()
    except Exception:  # noqa: BLE001
        return "attachment"
    return None if name is None else clean(str(name))


def _payload(part: Message) -> bytes:
    try:
        payload = part.get_payload(decode=True)
    except Exception:  # noqa: BLE001
        payload = None
    return payload if isinstance(payload, bytes) else b""


def _decode(part: Message, notes: list[str]) -> str:
    """A text part's words, whatever charset it claims: the declared one, else UTF-8, else the
    declared (or UTF-8) with replacement characters."""
    payload = _payload(part)
    try:
        charset = part.get_content_charset() or "us-ascii"
    except Exception:  # noqa: BLE001
        charset = "us-ascii"
    try:
        codecs.lookup(charset)
    except LookupError:
        notes.append(f"unknown charset {truncate(charset, 40)!r} read as UTF-8")
        charset = "utf-8"
    for attempt in (charset, "utf-8"):
        try:
            return payload.decode(attempt)
        except (UnicodeDecodeError, LookupError):
            continue
    notes.append(f"text not valid {charset}: undecodable bytes replaced")
    return payload.decode(charset, errors="replace")


def _forwarded_name(part: Message) -> str:
    inner = part.get_payload()
    subject = ""
    if isinstance(inner, list) and inner:
        subject = one_line(_header(inner[0], "Subject"))
    name = re.sub(r"[^\w.\- ]+", "_", subject).strip(" ._")[:80] or "forwarded message"
    return f"{name}.eml"


def _inner_bytes(part: Message) -> bytes:
    """A forwarded message as it was, for the attached .eml file."""
    inner = part.get_payload()
    try:
        if isinstance(inner, list) and inner:
            return inner[0].as_bytes(policy=policy.default.clone(max_line_length=0))
        return _payload(part)
    except Exception:  # noqa: BLE001
        return _payload(part)
