"""The admin outbox page: who may see it, what it shows, retry one, retry all, CSRF."""
import pytest
from sqlalchemy import select, update

from app import create_app
from app.extensions import db
from app.mail.enums import OutboxStatus
from app.models import OutboxMessage
from tests import factories
from tests.web_helpers import csrf_token, flashes, html, login

HOSTILE_TITLE = "<script>alert(1)</script> outage"


@pytest.fixture
def mail(people):
    """Two failed messages (one with a hostile subject), and the rest still pending."""
    factories.make_incident(people["reporter"], title=HOSTILE_TITLE)
    factories.make_incident(people["reporter_other"], title="Quiet one")
    failed_ids = list(db.session.scalars(select(OutboxMessage.id).order_by(OutboxMessage.id).limit(2)))
    db.session.execute(update(OutboxMessage).where(OutboxMessage.id.in_(failed_ids)).values(
        status=OutboxStatus.FAILED, attempts=6, last_error="recipient refused: 550 5.1.1 No such user"))
    db.session.commit()
    return failed_ids


def status_of(message_id: int) -> tuple[OutboxStatus, int]:
    """A row's (status, attempts), read fresh."""
    db.session.rollback()
    message = db.session.get(OutboxMessage, message_id)
    return message.status, message.attempts


@pytest.mark.parametrize(("role", "expected"), [("tech", 403), ("reporter", 403), ("admin", 200)])
def test_only_admins_see_the_outbox(client, people, mail, role, expected):
    """Technicians and reporters get 403; admins the page."""
    login(client, people[role])
    assert client.get("/ui/outbox/").status_code == expected


@pytest.mark.parametrize(("method", "path"), [("GET", "/ui/outbox/"), ("POST", "/ui/outbox/1/retry"),
                                              ("POST", "/ui/outbox/retry-failed")])
def test_anonymous_visitors_are_sent_to_log_in(client, mail, method, path):
    """Nothing about the outbox, and no retry, before login."""
    response = client.open(path, method=method)
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login")
    assert status_of(mail[0])[0] == OutboxStatus.FAILED


@pytest.mark.parametrize("role", ["tech", "reporter"])
def test_non_admins_cannot_retry(client, people, mail, role):
    """A retry from a non-admin is refused and changes nothing."""
    login(client, people[role])
    assert client.post(f"/ui/outbox/{mail[0]}/retry").status_code == 403
    assert client.post("/ui/outbox/retry-failed").status_code == 403
    assert status_of(mail[0]) == (OutboxStatus.FAILED, 6)


def test_the_page_lists_failed_and_waiting_mail_escaped(client, people, mail):
    """Counts, each failed message with its last error and a retry button, the waiting ones."""
    login(client, people["admin"])
    page = html(client.get("/ui/outbox/"))

    assert "<span class=\"fw-semibold\">2</span> failed" in page
    assert "<span class=\"fw-semibold\">2</span> pending" in page
    assert page.count("recipient refused: 550 5.1.1 No such user") == 2
    for message_id in mail:
        assert f'action="/ui/outbox/{message_id}/retry"' in page
    assert 'action="/ui/outbox/retry-failed"' in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt; outage" in page
    assert "<script>alert(1)</script>" not in page
    waiting = page.split('id="waiting-heading"')[1]
    assert "Quiet one" in waiting and "outage" not in waiting


def test_retry_puts_one_failed_message_back_in_the_queue(client, people, mail):
    """The retried row is pending with fresh attempts; the other failed one is untouched."""
    login(client, people["admin"])
    response = client.post(f"/ui/outbox/{mail[0]}/retry", follow_redirects=True)

    assert ("success", f"Message #{mail[0]} is queued again.") in flashes(html(response))
    assert status_of(mail[0]) == (OutboxStatus.PENDING, 0)
    assert status_of(mail[1]) == (OutboxStatus.FAILED, 6)


def test_retrying_a_message_that_has_not_failed_says_so(client, people, mail):
    """A pending or unknown message: a clear flash, nothing changes."""
    login(client, people["admin"])
    pending_id = mail[1] + 1
    page = html(client.post(f"/ui/outbox/{pending_id}/retry", follow_redirects=True))
    assert ("danger", f"Outbox message {pending_id} is pending; only failed messages are retried.") in flashes(page)
    assert status_of(pending_id) == (OutboxStatus.PENDING, 0)
    page = html(client.post("/ui/outbox/99999/retry", follow_redirects=True))
    assert ("danger", "Outbox message 99999 was not found.") in flashes(page)


def test_retry_all_failed(client, people, mail):
    """Every failed message goes back to pending."""
    login(client, people["admin"])
    page = html(client.post("/ui/outbox/retry-failed", follow_redirects=True))

    assert ("success", "2 failed message(s) queued again.") in flashes(page)
    assert [status_of(i) for i in mail] == [(OutboxStatus.PENDING, 0)] * 2
    assert "No failed messages." in page


def test_retry_needs_the_csrf_token(app, people, mail):
    """With CSRF on (as in production), a forged POST is refused; the page's own form works."""
    guarded = create_app("testing", SQLALCHEMY_DATABASE_URI=app.config["SQLALCHEMY_DATABASE_URI"],
                         WTF_CSRF_ENABLED=True)
    client = guarded.test_client()
    login(client, "admin", form={"csrf_token": csrf_token(client)})

    assert client.post(f"/ui/outbox/{mail[0]}/retry").status_code == 400
    assert status_of(mail[0]) == (OutboxStatus.FAILED, 6)

    token = csrf_token(client, "/ui/outbox/")
    assert client.post(f"/ui/outbox/{mail[0]}/retry", data={"csrf_token": token}).status_code == 302
    assert status_of(mail[0]) == (OutboxStatus.PENDING, 0)
