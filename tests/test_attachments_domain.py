"""app/incidents/attachments.py on its own: names, types, the store's durability steps, the sweep."""
import os
import time
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from app.database import write_transaction
from app.exceptions import PayloadTooLarge, Unavailable
from app.extensions import db
from app.incidents import attachments
from app.models import Attachment, IncidentEvent, utcnow
from tests import factories
from tests.attachment_helpers import GIF, HTML, JPEG, PDF, PNG, SVG, TEXT, WEBP, sha, stored_files, temp_files, upload


class _Upload:
    def __init__(self, data: bytes, filename: str):
        self.stream, self.filename = upload(data, filename)


@pytest.fixture
def store(app, tmp_path):
    root = tmp_path / "attachments"
    app.config["ATTACHMENT_DIR"] = str(root)
    return root


@pytest.fixture
def incident(people, store):
    return factories.make_incident(people["reporter"])


@pytest.mark.parametrize(("sent", "kept"), [
    ("report.pdf", "report.pdf"),
    ("../../etc/passwd", "passwd"),
    ("..\\..\\windows\\system32\\x.dll", "x.dll"),
    ("C:\\Users\\me\\shot.png", "shot.png"),
    ("nul\x00byte.txt", "nulbyte.txt"),
    ("bell\x07\x1b[2J\x7f\x85.txt", "bell[2J.txt"),
    ("photo\u202egnp.exe", "photognp.exe"),
    ("\u202a\u202b\u202c\u202d\u2066\u2067\u2068\u2069name", "name"),
    ("A\u030a.txt", "\u00c5.txt"),
    ("  spaced  ", "spaced"),
    ("", "file"), (None, "file"), ("..", "file"), ("/", "file"), ("\u202e", "file"),
    ("a" * 300 + ".tar.gz", "a" * 252 + ".gz"),  # the last extension is kept
    ("\U0001f600" * 100 + ".png", "\U0001f600" * 62 + ".png"),
    ("x." + "y" * 300, ("x." + "y" * 300)[:255]),
])
def test_sanitize_filename(sent, kept):
    result = attachments.sanitize_filename(sent)
    assert result == kept
    assert 0 < len(result.encode()) <= 255


@pytest.mark.parametrize(("data", "expected"), [
    (PNG, "image/png"), (JPEG, "image/jpeg"), (GIF, "image/gif"), (WEBP, "image/webp"), (PDF, "application/pdf"),
    (b"PK\x03\x04rest", "application/zip"), (b"\x1f\x8b\x08rest", "application/gzip"), (TEXT, "text/plain"),
    (SVG, "text/plain"), (HTML, "text/plain"), (b"", "text/plain"), (b"text\x00nul", "application/octet-stream"),
    (b"\xff\xfe not utf-8", "application/octet-stream"), (b"RIFF\x00\x00\x00\x00WAVEfmt ", "application/octet-stream"),
])
def test_type_from_bytes(incident, data, expected):
    assert attachments.stage(incident=incident, uploads=[_Upload(data, "any.png")])[0].content_type == expected


def test_utf8_split_across_chunks_is_still_text(incident, monkeypatch):
    monkeypatch.setattr(attachments, "CHUNK", 3)
    staged = attachments.stage(incident=incident, uploads=[_Upload("\u00e9\u00e9\u2603\u2603".encode(), "t")])
    assert staged[0].content_type == "text/plain"


def test_stage_writes_through_tmp_into_the_content_address(incident, store):
    """The file lands at ab/cdef... by its sha256, read-only to others, nothing left in tmp/; the
    same bytes again touch the file (so a sweep leaves it) instead of writing it twice."""
    staged = attachments.stage(incident=incident, uploads=[_Upload(TEXT, "a.txt"), _Upload(b"", "")])
    assert [(s.filename, s.size, s.sha256, s.fresh) for s in staged] == [("a.txt", len(TEXT), sha(TEXT), True)]
    path = store / sha(TEXT)[:2] / sha(TEXT)[2:]
    assert path.read_bytes() == TEXT and temp_files(store) == []
    assert os.stat(path).st_mode & 0o077 == 0
    old = time.time() - 7200
    os.utime(path, (old, old))
    again = attachments.stage(incident=incident, uploads=[_Upload(TEXT, "b.txt")])
    assert again[0].fresh is False and path.stat().st_mtime > old + 3600


def test_a_failed_stage_leaves_nothing(app, incident, store):
    """The second file is too big: the first one's fresh file and the second's temp file both go."""
    app.config["ATTACHMENT_MAX_BYTES"] = 100
    with pytest.raises(PayloadTooLarge):
        attachments.stage(incident=incident, uploads=[_Upload(b"small", "a"), _Upload(b"x" * 101, "b")])
    assert stored_files(store) == {} and temp_files(store) == []


def test_record_refuses_a_file_that_vanished(people, incident, store):
    staged = attachments.stage(incident=incident, uploads=[_Upload(TEXT, "a.txt")])
    attachments.path_of(sha(TEXT)).unlink()
    with pytest.raises(Unavailable), write_transaction():
        attachments.record(actor=people["reporter"], incident=incident, staged=staged, internal=False, now=utcnow())
    assert db.session.scalar(select(func.count()).select_from(Attachment)) == 0


def test_sweep_removes_old_orphans_and_temp_files_only(people, incident, store, runner):
    """Unreferenced and older than the grace period: gone. Referenced, or young (an upload in
    flight may be about to name it): kept. The CLI says what it removed."""
    kept = attachments.add_attachments(actor=people["reporter"], incident=incident, uploads=[_Upload(TEXT, "a")])[0]
    orphan_old = attachments.stage(incident=incident, uploads=[_Upload(b"old orphan", "o")])[0]
    orphan_young = attachments.stage(incident=incident, uploads=[_Upload(b"young orphan", "y")])[0]
    (store / "tmp").mkdir(exist_ok=True)
    temp_old, temp_young = store / "tmp" / "upload-old", store / "tmp" / "upload-young"
    temp_old.write_bytes(b"partial")
    temp_young.write_bytes(b"partial")
    hours_ago = time.time() - 7200
    for path in (attachments.path_of(kept), attachments.path_of(orphan_old.sha256), temp_old):
        os.utime(path, (hours_ago, hours_ago))
    result = attachments.sweep()
    assert (result.orphans, result.temp_files) == (1, 1)
    assert set(stored_files(store)) == {kept.sha256, orphan_young.sha256}
    assert temp_files(store) == [temp_young]
    later = attachments.sweep(utcnow() + timedelta(hours=2))
    assert (later.orphans, later.temp_files) == (1, 1)
    output = runner.invoke(args=["attachments", "sweep", "--older-than", "0"]).output
    assert "Removed 0 unreferenced file(s) and 0 temp file(s)." in output
    assert set(stored_files(store)) == {kept.sha256}


def test_attachment_for_event(people, incident):
    added = attachments.add_attachments(actor=people["reporter"], incident=incident, uploads=[_Upload(TEXT, "a")])[0]
    event = db.session.get(IncidentEvent, added.event_id)
    assert attachments.attachment_for_event(event) == added
    attachments.remove_attachment(actor=people["reporter"], attachment_id=added.id)
    assert attachments.attachment_for_event(db.session.get(IncidentEvent, event.id)) is None
