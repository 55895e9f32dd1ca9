"""Attachments in the portal: files from the create form and the comment box, the list and previews
on the incident page, session downloads with the same headers as the API, removal, friendly errors."""
import re

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.models import Attachment
from tests import factories
from tests.attachment_helpers import HTML, PNG, SVG, TEXT, sha, stored_files, temp_files, upload
from tests.web_helpers import flashes, html, login


@pytest.fixture
def store(app, tmp_path):
    root = tmp_path / "attachments"
    app.config["ATTACHMENT_DIR"] = str(root)
    return root


@pytest.fixture
def incident(people, store):
    return factories.make_incident(people["reporter"])


def _comment(client, incident_id, files, body="Files attached", **form):
    return client.post(f"/ui/incidents/{incident_id}/comments",
                       data={"comment-body": body, "comment-uploads": files, **form},
                       content_type="multipart/form-data")


def _rows():
    return db.session.scalars(select(Attachment).order_by(Attachment.id)).all()


def test_create_form_takes_files_and_ignores_empty_inputs(client, people, store):
    """Report an incident with two files (and an empty file input, as browsers send it): both are
    attached to the new incident, downloadable through the session with the same bytes."""
    login(client, people["reporter"])
    page = html(client.get("/ui/incidents/new"))
    assert 'enctype="multipart/form-data"' in page and 'name="uploads"' in page
    response = client.post("/ui/incidents/new", content_type="multipart/form-data", data={
        "title": "Printer on fire", "description": "See the photo", "severity": "high", "urgency": "high",
        "category": "server", "uploads": [upload(PNG, "photo.png"), upload(TEXT, "log.txt"), upload(b"", "")]})
    assert response.status_code == 302, html(response)
    rows = _rows()
    assert [(r.filename, r.content_type, r.uploaded_by_id) for r in rows] == [
        ("photo.png", "image/png", people["reporter"].id), ("log.txt", "text/plain", people["reporter"].id)]
    download = client.get(f"/ui/attachments/{rows[1].id}")
    assert download.status_code == 200 and sha(download.data) == sha(TEXT)
    assert download.headers["Content-Disposition"].startswith("attachment;")
    assert download.headers["Content-Type"] == "application/octet-stream"
    assert download.headers["X-Content-Type-Options"] == "nosniff"
    assert download.headers["Content-Security-Policy"] == "sandbox"


def test_edit_form_has_no_file_field(client, people, incident):
    login(client, people["reporter"])
    page = html(client.get(f"/ui/incidents/{incident.id}/edit"))
    assert 'type="file"' not in page and "multipart" not in page


def test_comment_box_attaches_and_the_page_lists_with_previews(client, people, incident):
    """Files from the comment box appear under the timeline: name, size, type, uploader, a download
    link, and an <img> preview from the preview route for images only."""
    login(client, people["reporter"])
    response = _comment(client, incident.id, [upload(PNG, "shot.png"), upload(SVG, "evil.svg"), upload(b"", "")])
    assert response.status_code == 302, html(response)
    png, svg = _rows()
    page = html(client.get(f"/ui/incidents/{incident.id}"))
    section = page[page.index('id="attachments"'):]
    assert f'src="/ui/attachments/{png.id}/preview"' in section
    assert f"/ui/attachments/{svg.id}/preview" not in section
    assert f'href="/ui/attachments/{svg.id}"' in section and "evil.svg" in section
    assert "text/plain" in section and "Reporter (reporter)" in section
    preview = client.get(f"/ui/attachments/{png.id}/preview")
    assert preview.status_code == 200 and preview.data == PNG
    assert preview.headers["Content-Type"] == "image/png"
    assert preview.headers["Content-Disposition"].startswith("inline;")
    assert preview.headers["Content-Security-Policy"] == "sandbox"


@pytest.mark.parametrize(("data", "name"), [(SVG, "x.svg"), (HTML, "x.html"), (TEXT, "x.txt")])
def test_svg_and_html_are_never_previewed_or_inline(client, people, incident, data, name):
    login(client, people["reporter"])
    _comment(client, incident.id, [upload(data, name)])
    row = _rows()[0]
    assert client.get(f"/ui/attachments/{row.id}/preview").status_code == 404
    download = client.get(f"/ui/attachments/{row.id}")
    assert download.headers["Content-Type"] == "application/octet-stream"
    assert download.headers["Content-Disposition"].startswith("attachment;")
    assert download.data == data


def test_hostile_names_are_shown_escaped(client, people, incident):
    """A name built to break out of the page shows as text: no tag, no bidi override, no NUL."""
    login(client, people["reporter"])
    name = "../<img src=x onerror=alert(1)>\u202e&gpj.exe\x00"
    _comment(client, incident.id, [upload(TEXT, name)])
    row = _rows()[0]
    assert row.filename == "<img src=x onerror=alert(1)>&gpj.exe"
    page = html(client.get(f"/ui/incidents/{incident.id}"))
    assert "<img src=x onerror" not in page
    assert "&lt;img src=x onerror=alert(1)&gt;&amp;gpj.exe" in page
    assert "\u202e" not in page and "\x00" not in page


def test_internal_files_from_the_comment_box_are_hidden_from_the_reporter(client, people, incident):
    login(client, people["tech"])
    _comment(client, incident.id, [upload(b"secret runbook", "runbook.txt")], body="For staff", **{
        "comment-internal": "y"})
    row = _rows()[0]
    assert row.internal
    staff_page = html(client.get(f"/ui/incidents/{incident.id}"))
    assert "runbook.txt" in staff_page and "Internal" in staff_page[staff_page.index('id="attachments"'):]
    client.post("/logout")
    login(client, people["reporter"])
    page = html(client.get(f"/ui/incidents/{incident.id}"))
    assert "runbook.txt" not in page
    assert client.get(f"/ui/attachments/{row.id}").status_code == 404


def test_a_reporter_cannot_send_internal_files(client, people, incident, store):
    login(client, people["reporter"])
    response = _comment(client, incident.id, [upload(TEXT, "a.txt")], **{"comment-internal": "y"})
    assert response.status_code == 302
    assert _rows() == [] and stored_files(store) == {}
    assert any(kind == "danger" for kind, _ in flashes(html(client.get(response.headers["Location"]))))


def test_remove_button_for_uploader_and_admin_only(client, people, incident, store):
    login(client, people["reporter"])
    _comment(client, incident.id, [upload(TEXT, "mine.txt")])
    row = _rows()[0]
    remove = f"/ui/attachments/{row.id}/remove"
    assert remove in html(client.get(f"/ui/incidents/{incident.id}"))
    client.post("/logout")
    login(client, people["tech_other"])
    assert remove not in html(client.get(f"/ui/incidents/{incident.id}"))
    refused = client.post(remove)
    assert refused.status_code == 302 and len(_rows()) == 1
    client.post("/logout")
    login(client, people["admin"])
    assert remove in html(client.get(f"/ui/incidents/{incident.id}"))
    done = client.post(remove, follow_redirects=True)
    assert ("success", "mine.txt was removed.") in flashes(html(done))
    assert _rows() == [] and stored_files(store) == {}
    assert "removed" in html(done) or "attachment removed" in html(done)


def test_over_the_limit_is_a_friendly_413_page(app, client, people, incident, store):
    """A form body past the upload forms' limit: a page saying how large a file may be (413), and a
    file past ATTACHMENT_MAX_BYTES within it: a flash on the incident page. Nothing stored either way."""
    app.config["ATTACHMENT_MAX_BYTES"] = 1000
    login(client, people["reporter"])
    huge = b"x" * (10 * 1000 + 2 * 1024 * 1024)
    response = _comment(client, incident.id, [upload(huge, "huge.log")])
    assert response.status_code == 413
    page = html(response)
    assert "Those files are too large" in page and "1000 B" in page
    assert f'href="/ui/incidents/{incident.id}"' in page
    response = _comment(client, incident.id, [upload(b"y" * 1001, "big.log")])
    assert response.status_code == 302
    messages = flashes(html(client.get(response.headers["Location"])))
    assert any(kind == "danger" and "1000 bytes" in text for kind, text in messages), messages
    created = client.post("/ui/incidents/new", content_type="multipart/form-data", data={
        "title": "T", "description": "D", "severity": "low", "urgency": "low", "category": "other",
        "uploads": [upload(b"y" * 1001, "big.log")]})
    assert created.status_code == 422 and "1000 bytes" in html(created)
    assert db.session.scalar(select(func.count()).select_from(Attachment)) == 0
    assert stored_files(store) == {} and temp_files(store) == []


def test_other_pages_keep_the_one_mebibyte_limit(client, people, incident):
    """Only the upload forms read big bodies: the edit form still answers 413 past 1 MiB."""
    login(client, people["reporter"])
    response = client.post(f"/ui/incidents/{incident.id}/edit", data={"title": "x", "description": "y" * 1_100_000})
    assert response.status_code == 413
    assert "Those files are too large" not in html(response)


def test_session_download_needs_a_session(client, people, incident):
    login(client, people["reporter"])
    _comment(client, incident.id, [upload(TEXT, "a.txt")])
    row = _rows()[0]
    client.post("/logout")
    response = client.get(f"/ui/attachments/{row.id}")
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    assert re.search(r"/login", response.headers["Location"])
