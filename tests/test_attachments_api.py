"""The attachments API (SPEC "Attachments"): upload, list, download, remove; limits, hostile names and
types, who may see and remove what. A real SQLite file and a real store folder per test."""
from urllib.parse import quote

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.incidents import service
from app.incidents.enums import EventKind
from app.models import Attachment, IncidentEvent
from tests import factories
from tests.api_helpers import assert_problem, bearer
from tests.attachment_helpers import (
    BINARY,
    GIF,
    HTML,
    JPEG,
    PDF,
    PNG,
    SVG,
    TEXT,
    WEBP,
    sha,
    stored_files,
    temp_files,
    upload,
)

ATTACHMENT_FIELDS = {"id", "filename", "size", "content_type", "sha256", "uploaded_by", "created_at", "internal"}


@pytest.fixture
def store(app, tmp_path):
    """This test's attachment folder."""
    root = tmp_path / "attachments"
    app.config["ATTACHMENT_DIR"] = str(root)
    return root


@pytest.fixture
def incident(people, store):
    return factories.make_incident(people["reporter"])


def _post(client, incident_id, user, data, name, **form):
    return client.post(f"/incidents/{incident_id}/attachments", headers=bearer(user),
                       data={"file": upload(data, name), **form})


def test_round_trip_keeps_every_byte(client, people, incident, store):
    """Upload → 201 with the attachment object → the list holds the same object → the download's
    bytes have the same sha256, and the store holds them under that sha256."""
    data = bytes(range(256)) * 4000  # 1 MB of every byte value: more than one chunk, not text
    response = _post(client, incident.id, people["reporter"], data, "dump.bin")
    assert response.status_code == 201, response.get_data(as_text=True)
    created = response.get_json()
    assert set(created) == ATTACHMENT_FIELDS
    assert created["sha256"] == sha(data) and created["size"] == len(data)
    assert created["content_type"] == "application/octet-stream" and created["internal"] is False
    assert created["uploaded_by"] == {"id": people["reporter"].id, "username": "reporter", "name": "Reporter"}
    listed = client.get(f"/incidents/{incident.id}/attachments", headers=bearer(people["tech"])).get_json()
    assert listed == {"items": [created]}
    download = client.get(f"/attachments/{created['id']}", headers=bearer(people["tech"]))
    assert download.status_code == 200
    assert sha(download.data) == sha(data)
    assert stored_files(store) == {sha(data): data}
    assert (store / sha(data)[:2] / sha(data)[2:]).is_file()
    assert temp_files(store) == []


def test_the_same_bytes_twice_are_one_file(client, people, incident, store):
    first = _post(client, incident.id, people["reporter"], TEXT, "a.txt").get_json()
    second = _post(client, incident.id, people["admin"], TEXT, "b.txt").get_json()
    assert first["id"] != second["id"] and first["sha256"] == second["sha256"]
    assert list(stored_files(store)) == [sha(TEXT)]


@pytest.mark.parametrize(("data", "detected", "served_as"), [
    (PNG, "image/png", "image/png"),
    (JPEG, "image/jpeg", "image/jpeg"),
    (GIF, "image/gif", "image/gif"),
    (WEBP, "image/webp", "image/webp"),
    (PDF, "application/pdf", "application/octet-stream"),
    (TEXT, "text/plain", "application/octet-stream"),
    (SVG, "text/plain", "application/octet-stream"),
    (HTML, "text/plain", "application/octet-stream"),
    (BINARY, "application/octet-stream", "application/octet-stream"),
])
def test_type_comes_from_the_bytes_and_only_images_show_inline(client, people, incident, data, detected, served_as):
    """Whatever name and Content-Type the client claims (here: an HTML page called a PNG, sent as
    image/png), the type is read from the bytes; only the four image types may be inline, SVG and
    HTML never, and every answer says nosniff and sandbox."""
    response = client.post(f"/incidents/{incident.id}/attachments", headers=bearer(people["reporter"]),
                           data={"file": (upload(data, "picture.png")[0], "picture.png", "image/png")})
    created = response.get_json()
    assert created["content_type"] == detected
    for query in ("", "?inline=1"):
        download = client.get(f"/attachments/{created['id']}{query}", headers=bearer(people["reporter"]))
        assert download.status_code == 200
        assert download.headers["Content-Type"] == served_as
        assert download.headers["X-Content-Type-Options"] == "nosniff"
        assert download.headers["Content-Security-Policy"] == "sandbox"
        inline = query and detected.startswith("image/")
        assert download.headers["Content-Disposition"].startswith("inline;" if inline else "attachment;")
        assert download.data == data


def test_hostile_file_names_are_stored_sanitized(client, people, incident):
    """Folders, backslashes, NUL, control and bidi characters never survive; long names keep their
    extension within 255 bytes; a name with nothing left is "file"; the download header quotes the
    name per RFC 5987."""
    cases = {
        "../../etc/passwd": "passwd",
        "a\x00b\x01c\x1b[31m.txt": "abc[31m.txt",
        "invoice\u202egpj.exe": "invoicegpj.exe",
        "\u2066quiet\u2069.pdf": "quiet.pdf",
        "..": "file",
        "../": "file",
        "\x00\x07": "file",
        "cafe\u0301.txt": "caf\u00e9.txt",  # NFC
        "é" * 200 + ".txt": "é" * 125 + ".txt",  # 2-byte characters: 250 + 4 bytes
        "x" * 400: "x" * 255,
    }
    for sent, kept in cases.items():
        created = _post(client, incident.id, people["reporter"], TEXT, sent).get_json()
        assert created["filename"] == kept, sent
        assert len(created["filename"].encode()) <= 255
        assert not {"/", "\\", "\x00"} & set(created["filename"])
        disposition = client.get(f"/attachments/{created['id']}", headers=bearer(people["reporter"])).headers[
            "Content-Disposition"]
        assert f"filename*=UTF-8''{quote(kept, safe='')}" in disposition
        assert "\x00" not in disposition and "\n" not in disposition


def test_a_backslashed_path_never_names_a_folder(client, people, incident):
    """Whatever a multipart parser makes of backslashes, no separator survives (the exact rule:
    tests/test_attachments_domain.py)."""
    created = _post(client, incident.id, people["reporter"], TEXT, "..\\..\\windows\\x").get_json()
    assert not {"/", "\\"} & set(created["filename"]) and ".." not in created["filename"].split("/")


def test_over_the_size_limit_is_413_and_nothing_is_stored(app, client, people, incident, store):
    """Over ATTACHMENT_MAX_BYTES: 413 problem+json, no row, no file, no temp file, whether the
    request itself was refused before its body was read (Content-Length past the upload route's
    limit) or the file was found too big while it was being streamed into the store."""
    app.config["ATTACHMENT_MAX_BYTES"] = 1000
    over_the_request = b"x" * (1000 + 2 * 1024 * 1024)
    assert_problem(_post(client, incident.id, people["reporter"], over_the_request, "big.log"), 413)
    body = assert_problem(_post(client, incident.id, people["reporter"], b"y" * 1001, "big.log"), 413)
    assert "1000 bytes" in body["detail"]
    assert db.session.scalar(select(func.count()).select_from(Attachment)) == 0
    assert stored_files(store) == {} and temp_files(store) == []
    assert _post(client, incident.id, people["reporter"], b"z" * 1000, "fits.log").status_code == 201


def test_the_51st_file_is_409(client, people, incident, store):
    for n in range(50):
        assert _post(client, incident.id, people["reporter"], f"file {n}".encode(), f"{n}.txt").status_code == 201
    before = stored_files(store)
    assert_problem(_post(client, incident.id, people["reporter"], b"one too many", "51.txt"), 409)
    assert stored_files(store) == before and temp_files(store) == []
    assert db.session.scalar(select(func.count()).select_from(Attachment)) == 50


def test_bad_requests_are_problems(client, people, incident):
    headers = bearer(people["reporter"])
    path = f"/incidents/{incident.id}/attachments"
    assert_problem(client.post(path, headers=headers, json={"file": "x"}), 415)
    assert_problem(client.post(path, headers=headers, data={"other": upload(TEXT, "a.txt")}), 400)
    assert_problem(client.post(path, headers=headers, data={"file": upload(b"", "")}), 400)
    assert_problem(client.post(path, headers=headers, data={"file": [upload(TEXT, "a"), upload(TEXT, "b")]}), 400)
    assert_problem(_post(client, incident.id, people["reporter"], TEXT, "a.txt", internal="maybe"), 422, "internal")
    assert_problem(client.post("/incidents/999999/attachments", headers=headers,
                               data={"file": upload(TEXT, "a.txt")}), 404)
    assert_problem(client.get("/attachments/999999", headers=headers), 404)
    assert db.session.scalar(select(func.count()).select_from(Attachment)) == 0


def test_the_api_never_reads_a_cookie(client, people, incident):
    assert_problem(client.post(f"/incidents/{incident.id}/attachments", data={"file": upload(TEXT, "a.txt")}), 401)


def test_internal_files_are_for_staff_only(client, people, incident):
    """A reporter posting internal=true gets 403; an internal file (from staff) is absent from the
    reporter's list and timeline and 404 to download, while staff see it everywhere."""
    assert_problem(_post(client, incident.id, people["reporter"], TEXT, "mine.txt", internal="true"), 403)
    secret = _post(client, incident.id, people["tech"], b"staff eyes only", "notes.txt", internal="true").get_json()
    public = _post(client, incident.id, people["tech"], TEXT, "public.txt", internal="false").get_json()
    assert secret["internal"] is True and public["internal"] is False
    reporter = bearer(people["reporter"])
    assert [a["id"] for a in client.get(f"/incidents/{incident.id}/attachments", headers=reporter).get_json()[
        "items"]] == [public["id"]]
    assert_problem(client.get(f"/attachments/{secret['id']}", headers=reporter), 404)
    assert_problem(client.get(f"/attachments/{secret['id']}?inline=1", headers=reporter), 404)
    assert_problem(client.delete(f"/attachments/{secret['id']}", headers=reporter), 404)
    events = client.get(f"/incidents/{incident.id}/events", headers=reporter).get_json()["items"]
    assert "notes.txt" not in str(events) and "public.txt" in str(events)
    staff = client.get(f"/incidents/{incident.id}/events", headers=bearer(people["admin"])).get_json()["items"]
    assert "notes.txt" in str(staff)
    assert client.get(f"/attachments/{secret['id']}", headers=bearer(people["tech_other"])).data == b"staff eyes only"


def test_who_may_attach_and_see(client, people, incident):
    """Anyone who may comment may attach: the reporter, any technician, admins; another reporter
    does not even learn the incident exists."""
    assert _post(client, incident.id, people["tech_other"], TEXT, "t.txt").status_code == 201
    assert_problem(_post(client, incident.id, people["reporter_other"], TEXT, "x.txt"), 404)
    assert_problem(client.get(f"/incidents/{incident.id}/attachments", headers=bearer(people["reporter_other"])), 404)


def test_remove_by_uploader_or_admin_keeps_the_event(client, people, incident, store):
    """Another technician 403, another reporter 404; the uploader and an admin 204. The row goes,
    the attachment_removed event stays beside the attachment_added one, and the bytes go once no
    other attachment has them."""
    mine = _post(client, incident.id, people["reporter"], TEXT, "mine.txt").get_json()
    twin = _post(client, incident.id, people["tech"], TEXT, "twin.txt").get_json()
    assert_problem(client.delete(f"/attachments/{mine['id']}", headers=bearer(people["tech_other"])), 403)
    assert_problem(client.delete(f"/attachments/{mine['id']}", headers=bearer(people["reporter_other"])), 404)
    assert client.delete(f"/attachments/{mine['id']}", headers=bearer(people["reporter"])).status_code == 204
    assert list(stored_files(store)) == [sha(TEXT)]  # the twin still names the bytes
    assert_problem(client.get(f"/attachments/{mine['id']}", headers=bearer(people["reporter"])), 404)
    assert client.delete(f"/attachments/{twin['id']}", headers=bearer(people["admin"])).status_code == 204
    assert stored_files(store) == {}
    assert_problem(client.delete(f"/attachments/{twin['id']}", headers=bearer(people["admin"])), 404)
    kinds = [(e.kind, e.changes) for e in db.session.scalars(
        select(IncidentEvent).where(IncidentEvent.incident_id == incident.id).order_by(IncidentEvent.id))]
    assert kinds[1:] == [
        (EventKind.ATTACHMENT_ADDED, {"attachment": [None, "mine.txt"]}),
        (EventKind.ATTACHMENT_ADDED, {"attachment": [None, "twin.txt"]}),
        (EventKind.ATTACHMENT_REMOVED, {"attachment": ["mine.txt", None]}),
        (EventKind.ATTACHMENT_REMOVED, {"attachment": ["twin.txt", None]}),
    ]


def test_an_upload_changes_neither_version_nor_sla(client, people, incident):
    version = incident.version
    _post(client, incident.id, people["tech"], TEXT, "a.txt")
    db.session.refresh(incident)
    assert incident.version == version and incident.responded_at is None


def test_comment_with_files_commits_together(people, incident, store):
    """service.add_comment(uploads=...) stores the files and records them with the comment."""
    event = service.add_comment(actor=people["reporter"], incident=incident, body="See the log",
                                uploads=[_Upload(TEXT, "log.txt"), _Upload(b"", "")])
    rows = db.session.scalars(select(Attachment)).all()
    assert [(r.filename, r.sha256) for r in rows] == [("log.txt", sha(TEXT))]
    assert rows[0].event_id > event.id


class _Upload:
    def __init__(self, data: bytes, filename: str):
        self.stream, self.filename = upload(data, filename)
