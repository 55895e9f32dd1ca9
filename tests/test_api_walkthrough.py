"""docs/api.md cannot rot: its curl walkthrough runs, verbatim, against a live server with the demo data."""
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from sqlalchemy import select

from app.extensions import db
from app.incidents import queries
from app.incidents.enums import EventKind, Status
from app.models import ApiToken, Incident
from seed.loader import seed_incidents, seed_users
from tests.api_helpers import live_server

DOC = Path(__file__).resolve().parent.parent / "docs" / "api.md"
BLOCK = re.compile(r"^```sh\n(.*?)^```$", re.MULTILINE | re.DOTALL)

pytestmark = pytest.mark.live


def walkthrough() -> tuple[str, list[str]]:
    """The doc's shell blocks as one script, and the `#>` output lines it promises, in order."""
    blocks = BLOCK.findall(DOC.read_text(encoding="utf-8"))
    script = "\n".join(blocks)
    promised = [line[3:] for line in script.splitlines() if line.startswith("#> ")]
    return script, promised


def test_the_doc_has_a_walkthrough():
    """Tokens, report, assign, start, resolve, close: each step is in a shell block."""
    script, promised = walkthrough()
    for step in ('"username": "reporter1"', "technician_id", '"In Progress"', '"resolved"', '"closed"'):
        assert step in script
    assert len(promised) >= 15


def test_the_walkthrough_runs_against_a_live_server(app):
    """bash runs the blocks in order (errexit, pipefail); every promised line is printed, in order."""
    assert shutil.which("curl") and shutil.which("jq"), "the walkthrough needs curl and jq"
    seed_users()
    seed_incidents()
    script, promised = walkthrough()
    with live_server(app) as base:
        done = subprocess.run(["bash", "-euo", "pipefail", "-c", script], capture_output=True, text=True,
                              timeout=120, env={**os.environ, "BASE": base})
    assert done.returncode == 0, done.stderr
    printed = iter(done.stdout.splitlines())
    for line in promised:
        assert any(out == line for out in printed), f"never printed (in order): {line}\n{done.stdout}"
    assert re.search(r'^link: <.*page=2.*>; rel="next"', done.stdout, re.MULTILINE | re.IGNORECASE)

    db.session.rollback()
    incident = db.session.scalar(select(Incident).where(Incident.title == "Printer on floor 3 jams"))
    assert (incident.status, incident.version, incident.technician.username) == (Status.CLOSED, 5, "tech1")
    assert [e.kind for e in queries.timeline(incident=incident, viewer=incident.reporter)] == [
        EventKind.CREATED, EventKind.ASSIGNED, EventKind.STATUS_CHANGED, EventKind.RESOLVED,
        EventKind.COMMENTED, EventKind.CLOSED]
    tokens = db.session.scalars(select(ApiToken)).all()
    assert len(tokens) == 3 and all(t.revoked_at is not None for t in tokens)
    assert {t.name for t in tokens} == {"api", "walkthrough"}
