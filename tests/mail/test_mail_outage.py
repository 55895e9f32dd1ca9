"""The mail-outage warning counts the whole undelivered queue, not the batch a sender last held."""
import logging

import pytest
from sqlalchemy import select, update

from app.extensions import db
from app.mail import outbox
from app.mail.delivery import drain
from app.mail.enums import OutboxStatus
from app.models import OutboxMessage
from tests import factories
from tests.web_helpers import html, login

pytestmark = pytest.mark.smtp

INCIDENTS = 12  # two mails each (the admin's, the reporter's): more than two batches


@pytest.fixture
def outage(smtp, people, outbox_rows) -> list[OutboxMessage]:
    """The SMTP server is down with more than two batches of mail queued, two of them failed for
    good, and one sender pass has found the server unreachable; the rows."""
    smtp.stop()
    for n in range(INCIDENTS):
        factories.make_incident(people["reporter"], title=f"Outage {n}")
    failed = db.session.scalars(select(OutboxMessage.id).order_by(OutboxMessage.id.desc()).limit(2)).all()
    db.session.execute(update(OutboxMessage).where(OutboxMessage.id.in_(failed))
                       .values(status=OutboxStatus.FAILED, attempts=6, last_error="550 5.1.1 No such user"))
    db.session.commit()
    assert drain().released == outbox.BATCH_SIZE
    return outbox_rows()


def test_the_outbox_page_warns_with_the_whole_undelivered_count(client, people, outage):
    """2 x 12 = 24 undelivered: 22 waiting, 2 failed; the warning says so, not the batch of 10."""
    assert len(outage) == 2 * INCIDENTS > 2 * outbox.BATCH_SIZE
    login(client, people["admin"])

    page = html(client.get("/ui/outbox/"))

    warning = page.split('id="mail-outage"', 1)[1].split("</div>", 1)[0]
    assert "could not be reached" in warning
    assert " ".join(warning.split()).count("24 messages undelivered (22 waiting, 2 failed)") == 1


def test_the_sender_logs_the_whole_waiting_queue(app, smtp, people, outage, caplog):
    """The outage line in the log names every waiting message, not the released batch."""
    with caplog.at_level(logging.WARNING, logger="app.mail.delivery"):
        drain()
    assert "22 message(s) wait in the outbox" in caplog.text


def test_no_warning_while_the_server_answers(client, people, smtp, outbox_rows):
    """Mail delivered, or never tried yet: no outage to warn about."""
    factories.make_incident(people["reporter"])
    login(client, people["admin"])
    assert 'id="mail-outage"' not in html(client.get("/ui/outbox/"))
    drain()
    assert {m.status for m in outbox_rows()} == {OutboxStatus.SENT}
    assert 'id="mail-outage"' not in html(client.get("/ui/outbox/"))
