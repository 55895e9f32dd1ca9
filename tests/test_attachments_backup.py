"""`flask backup PATH` copies the attachment files to PATH.attachments/, and `flask attachments restore`
puts them into a fresh instance's store: every file comes back with the same sha256."""
import hashlib
import shutil

import pytest
from sqlalchemy import select

from app import create_app
from app.extensions import db
from app.incidents import attachments, service
from app.models import Attachment, User
from tests import factories
from tests.api_helpers import bearer
from tests.attachment_helpers import PNG, SVG, TEXT, sha, stored_files, upload

pytestmark = pytest.mark.sqlite_only  # restores the SQLite copy as a file; PostgreSQL restores with pg_restore


@pytest.fixture
def store(app, tmp_path):
    root = tmp_path / "attachments"
    app.config["ATTACHMENT_DIR"] = str(root)
    return root


class _Upload:
    def __init__(self, data: bytes, filename: str):
        self.stream, self.filename = upload(data, filename)


@pytest.fixture
def files(people, store):
    """An incident with four files (two with the same bytes, one internal), and another removed."""
    incident = factories.make_incident(people["reporter"], uploads=[_Upload(PNG, "a.png"), _Upload(TEXT, "b.txt")])
    service.add_comment(actor=people["tech"], incident=incident, body="More", internal=True,
                        uploads=[_Upload(SVG, "c.svg"), _Upload(TEXT, "same-as-b.txt")])
    gone = attachments.add_attachments(actor=people["admin"], incident=incident, uploads=[_Upload(b"gone", "x")])
    attachments.remove_attachment(actor=people["admin"], attachment_id=gone[0].id)
    return {sha(data): data for data in (PNG, TEXT, SVG)}


def test_backup_then_restore_on_a_fresh_instance_keeps_every_file(app, runner, files, tmp_path):
    target = tmp_path / "backup" / "portal.db"
    target.parent.mkdir()
    result = runner.invoke(args=["backup", str(target)])
    assert result.exit_code == 0, result.output
    assert "Attachments: 3 file(s) copied" in result.output
    copied = tmp_path / "backup" / "portal.db.attachments"
    assert stored_files(copied) == files

    fresh_store = tmp_path / "fresh-instance" / "attachments"
    restored = create_app("testing", SQLALCHEMY_DATABASE_URI=f"sqlite:///{target}", ATTACHMENT_DIR=str(fresh_store))
    with restored.app_context():
        result = restored.test_cli_runner().invoke(args=["attachments", "restore", str(copied)])
        assert result.exit_code == 0, result.output
        assert "Restored 3 file(s)" in result.output
        rows = db.session.scalars(select(Attachment)).all()
        assert len(rows) == 4
        for row in rows:
            assert hashlib.sha256(attachments.path_of(row).read_bytes()).hexdigest() == row.sha256
        client, admin = restored.test_client(), bearer(db.session.scalar(select(User).where(User.username == "admin")))
        for row in rows:
            assert sha(client.get(f"/attachments/{row.id}", headers=admin).data) == row.sha256
        again = restored.test_cli_runner().invoke(args=["attachments", "restore", str(copied)])
        assert "Restored 0 file(s)" in again.output and "3 already there" in again.output
        db.session.remove()
        db.engine.dispose()
    assert stored_files(fresh_store) == files


def test_backup_refuses_an_existing_attachments_folder(runner, files, tmp_path):
    (tmp_path / "b.db.attachments").mkdir()
    result = runner.invoke(args=["backup", str(tmp_path / "b.db")])
    assert result.exit_code == 1 and "already exists" in result.output
    assert not (tmp_path / "b.db").exists()


def test_a_damaged_file_is_refused(app, runner, files, store, tmp_path):
    """A file whose bytes no longer match its name is not copied on, by backup or restore."""
    damaged = attachments.path_of(sha(TEXT))
    damaged.write_bytes(b"bit rot")
    result = runner.invoke(args=["backup", str(tmp_path / "c.db")])
    assert result.exit_code == 1 and "damaged" in result.output
    damaged.write_bytes(TEXT)
    assert runner.invoke(args=["backup", str(tmp_path / "d.db")]).exit_code == 0
    copied = tmp_path / "d.db.attachments"
    (copied / sha(PNG)[:2] / sha(PNG)[2:]).write_bytes(b"not a png")
    shutil.rmtree(store)
    result = runner.invoke(args=["attachments", "restore", str(copied)])
    assert result.exit_code == 1 and "damaged" in result.output
    assert not attachments.path_of(sha(PNG)).exists()


def test_restore_needs_a_folder(runner, tmp_path):
    result = runner.invoke(args=["attachments", "restore", str(tmp_path / "nowhere")])
    assert result.exit_code == 1 and "not a directory" in result.output
