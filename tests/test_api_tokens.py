"""Your API tokens (issue 14, finding 13): GET /auth/tokens lists them with when each was last used,
DELETE /auth/tokens/<id> revokes one of yours (anyone else's is 404); last use is written at most
once a minute per token."""
import time
from datetime import timedelta

import pytest
from sqlalchemy import event, select

from app.auth.roles import Role
from app.auth.service import issue_token, revoke_token, user_for_token
from app.database import write_transaction
from app.extensions import db
from app.models import ApiToken, utcnow
from tests import factories
from tests.api_helpers import assert_problem, basic, snapshot
from tests.test_reliability_writes import write_lock_held
from tests.web_helpers import element_text, html, login

FIELDS = {"id", "name", "created_at", "last_used_at", "expires_at"}


def token_for(user, name: str, **extra) -> tuple[ApiToken, dict[str, str]]:
    """A new token of `user`: its row and an Authorization header carrying it."""
    token, plain = issue_token(user=user, name=name, **extra)
    return token, {"Authorization": f"Bearer {plain}"}


@pytest.fixture
def token_writes(app):
    """Records the writes of last_used_at the database is sent from here on."""
    seen: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany):
        if statement.lstrip().upper().startswith("UPDATE API_TOKENS") and "last_used_at" in statement:
            seen.append(statement)

    event.listen(db.engine, "before_cursor_execute", record)
    yield seen
    event.remove(db.engine, "before_cursor_execute", record)


def test_the_list_holds_your_live_tokens_newest_first(client, people):
    """Revoked, expired and other people's tokens are left out; the token itself is never shown."""
    tech = people["tech"]
    older, _ = token_for(tech, "older")
    revoked, _ = token_for(tech, "revoked")
    revoke_token(token=revoked)
    expired, _ = token_for(tech, "expired")
    with write_transaction():
        db.session.get(ApiToken, expired.id).expires_at = utcnow() - timedelta(seconds=1)
    token_for(people["reporter"], "not yours")
    newest, headers = token_for(tech, "newest")

    response = client.get("/auth/tokens", headers=headers)
    assert response.status_code == 200
    items = response.get_json()["items"]
    assert [(item["id"], item["name"]) for item in items] == [(newest.id, "newest"), (older.id, "older")]
    assert all(set(item) == FIELDS for item in items)
    assert items[0]["last_used_at"] is not None  # this very request used it
    assert items[1]["last_used_at"] is None
    assert items[0]["expires_at"].endswith("Z") and items[0]["created_at"].endswith("Z")


def test_the_list_answers_basic_credentials_too(client, people):
    """A script signed in with HTTP Basic sees its user's tokens."""
    token_for(people["tech"], "monitoring")
    response = client.get("/auth/tokens", headers=basic("tech"))
    assert [item["name"] for item in response.get_json()["items"]] == ["monitoring"]


def test_the_list_needs_credentials(client):
    """No credentials: 401 problem+json."""
    assert_problem(client.get("/auth/tokens"), 401)


def test_revoking_one_of_your_tokens_by_id(client, people):
    """204, no body; that token stops working and leaves the list; the others keep working."""
    doomed, doomed_headers = token_for(people["tech"], "doomed")
    _, kept_headers = token_for(people["tech"], "kept")
    response = client.delete(f"/auth/tokens/{doomed.id}", headers=kept_headers)
    assert response.status_code == 204 and response.data == b"" and "Content-Type" not in response.headers
    assert_problem(client.get("/me", headers=doomed_headers), 401)
    assert [item["name"] for item in client.get("/auth/tokens", headers=kept_headers).get_json()["items"]] == ["kept"]


def test_a_token_can_revoke_itself_by_id(client, people):
    """The token of the request itself may be the one revoked."""
    token, headers = token_for(people["tech"], "self")
    assert client.delete(f"/auth/tokens/{token.id}", headers=headers).status_code == 204
    assert_problem(client.get("/me", headers=headers), 401)


def test_someone_elses_token_is_not_found(client, people):
    """Another user's token, an admin's included, is 404 like an unknown or already revoked one, and
    nothing changes."""
    theirs, their_headers = token_for(people["admin"], "admin script")
    gone, _ = token_for(people["tech"], "gone")
    revoke_token(token=gone)
    _, headers = token_for(people["tech"], "mine")
    client.get("/me", headers=headers)  # its first use is recorded; the refusals below record nothing
    before = snapshot()
    for token_id in (theirs.id, gone.id, 2_147_483_647):
        assert_problem(client.delete(f"/auth/tokens/{token_id}", headers=headers), 404)
    assert snapshot() == before
    assert client.get("/me", headers=their_headers).status_code == 200


def test_ids_that_are_not_ids_are_404(client, people):
    """Fullwidth digits, negative and oversized ids never reach the database."""
    _, headers = token_for(people["tech"], "mine")
    for token_id in ("１", "-1", "0", "99999999999"):
        assert_problem(client.delete(f"/auth/tokens/{token_id}", headers=headers), 404)


def test_last_use_is_written_at_most_once_a_minute(app, people, token_writes):
    """The first use writes; another within the minute writes nothing; one after it writes again."""
    token, plain = issue_token(user=people["tech"], name="busy script")
    start = utcnow()

    assert user_for_token(plain, now=start) is not None
    assert len(token_writes) == 1
    assert _last_used(token.id) == start

    assert user_for_token(plain, now=start + timedelta(seconds=59)) is not None
    assert len(token_writes) == 1
    assert _last_used(token.id) == start

    later = start + timedelta(seconds=61)
    assert user_for_token(plain, now=later) is not None
    assert len(token_writes) == 2
    assert _last_used(token.id) == later


def test_a_held_write_lock_neither_delays_nor_refuses_a_read(make_app):
    """While another connection holds the write lock, a token's use goes unrecorded at once instead of
    waiting WRITE_LOCK_TIMEOUT_SECONDS for it (and then answering 503); the next use records it."""
    app = make_app(WRITE_LOCK_TIMEOUT_SECONDS=30)
    with app.app_context():
        tech = factories.make_user(Role.TECHNICIAN, username="tech")
        token, headers = token_for(tech, "reader")
        url = app.config["SQLALCHEMY_DATABASE_URI"]
    client = app.test_client()
    with write_lock_held(url):
        started = time.monotonic()
        response = client.get("/auth/tokens", headers=headers)
        took = time.monotonic() - started
    assert response.status_code == 200 and took < 5, took
    assert response.get_json()["items"][0]["last_used_at"] is None
    assert client.get("/auth/tokens", headers=headers).get_json()["items"][0]["last_used_at"] is not None


def test_a_refused_token_records_no_use(app, people, token_writes):
    """Revoked or expired: no write, no last use."""
    token, plain = issue_token(user=people["tech"], name="old", ttl_days=1)
    assert user_for_token(plain, now=utcnow() + timedelta(days=2)) is None
    revoke_token(token=token)
    assert user_for_token(plain) is None
    assert token_writes == [] and _last_used(token.id) is None


def test_the_account_page_shows_when_each_token_was_last_used(client, people):
    """'Never' until the token is used, then the time of its last use."""
    token, headers = token_for(people["tech"], "nightly")
    login(client, "tech")
    assert element_text(html(client.get("/ui/account")), "tokens-table").endswith("Never Revoke nightly")
    client.get("/me", headers=headers)
    row = element_text(html(client.get("/ui/account")), "tokens-table")
    assert f"{_last_used(token.id):%Y-%m-%d %H:%M} UTC Revoke nightly" in row


def test_the_account_page_revokes_only_your_own(client, people):
    """The page's revoke button uses the same rule: someone else's token is 404 and stays live."""
    theirs, their_headers = token_for(people["admin"], "admin script")
    login(client, "tech")
    assert client.post(f"/ui/account/tokens/{theirs.id}/revoke").status_code == 404
    assert client.get("/me", headers=their_headers).status_code == 200


def test_the_api_document_describes_both(client):
    """/openapi.json lists GET /auth/tokens with its item fields and DELETE /auth/tokens/{token_id}."""
    document = client.get("/openapi.json").get_json()
    listing = document["paths"]["/auth/tokens"]["get"]
    assert set(listing["responses"]) >= {"200", "401"}
    assert set(document["components"]["schemas"]["TokenInfo"]["properties"]) == FIELDS
    revoking = document["paths"]["/auth/tokens/{token_id}"]["delete"]
    assert set(revoking["responses"]) >= {"204", "401", "404"}


def _last_used(token_id: int):
    """The token's last_used_at as committed."""
    db.session.rollback()
    return db.session.scalar(select(ApiToken.last_used_at).where(ApiToken.id == token_id))
