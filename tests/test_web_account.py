"""The account page: change password, create API tokens (shown once) and revoke them."""
import re

from sqlalchemy import select

from app.auth.service import issue_token, list_tokens, user_for_token
from app.extensions import db
from app.models import ApiToken
from tests import factories
from tests.api_helpers import bearer
from tests.web_helpers import field_error, flashes, html, login


def passwords(current: str, new: str, confirm: str | None = None) -> dict[str, str]:
    """The password form's fields (prefixed, as the page has two forms)."""
    return {"password-current_password": current, "password-new_password": new,
            "password-confirm": new if confirm is None else confirm}


def test_changing_the_password(client, people):
    """The new password works, the old one no longer does."""
    user = people["reporter"]
    login(client, user)
    response = client.post("/ui/account/password", data=passwords("password123", "a-new-secret"))
    assert response.status_code == 302 and response.headers["Location"] == "/ui/account"
    changed = ("success", "Your password was changed; your other sessions were logged out.")
    assert changed in flashes(html(client.get("/ui/account")))
    client.post("/logout")
    login(client, user, password="a-new-secret")
    client.post("/logout")
    login(client, user, password="password123", expect=200)


def test_password_errors_are_shown_next_to_the_field(client, people):
    """Wrong current password, too short, or not repeated the same: each by its field."""
    login(client, people["reporter"])
    cases = [
        (passwords("wrong-one", "a-new-secret"), "current_password", "The current password is wrong."),
        (passwords("password123", "short"), "new_password", "Must be at least 8 characters."),
        (passwords("password123", "a-new-secret", "different"), "confirm", "The passwords differ."),
    ]
    for data, field, message in cases:
        response = client.post("/ui/account/password", data=data)
        assert response.status_code == 422
        assert field_error(html(response), f"password-{field}") == message
    client.post("/logout")
    login(client, people["reporter"], password="password123")


def test_a_new_token_is_shown_once_and_works(client, people):
    """The plain token is on the response to the POST, never again; only its hash is stored."""
    login(client, people["tech"])
    response = client.post("/ui/account/tokens", data={"token-name": "monitoring", "token-ttl_days": "7"})
    assert response.status_code == 201
    assert response.headers["Cache-Control"] == "no-store"
    page = html(response)
    plain = re.search(r'id="new-token-value" type="text" value="([^"]+)" readonly', page).group(1)
    assert user_for_token(plain)[0].id == people["tech"].id
    assert ("success", "Token “monitoring” was created. Copy it now: it will not be shown again.") in flashes(page)
    (token,) = list_tokens(user=people["tech"])
    assert round((token.expires_at - token.created_at).total_seconds() / 86400) == 7
    again = html(client.get("/ui/account"))
    assert plain not in again and "monitoring" in again
    assert plain not in response.headers.get("Set-Cookie", "")


def test_token_form_errors(client, people):
    """A nameless token or an unknown lifetime is refused by the field."""
    login(client, people["tech"])
    response = client.post("/ui/account/tokens", data={"token-name": "", "token-ttl_days": "30"})
    assert response.status_code == 422 and field_error(html(response), "token-name") == "This field is required."
    response = client.post("/ui/account/tokens", data={"token-name": "x", "token-ttl_days": "3650"})
    assert response.status_code == 422 and field_error(html(response), "token-ttl_days") == "Not a valid choice."
    assert list_tokens(user=people["tech"]) == []


def test_revoking_a_token(client, people):
    """The token stops working and leaves the list."""
    token, plain = issue_token(user=people["tech"], name="old script")
    login(client, people["tech"])
    response = client.post(f"/ui/account/tokens/{token.id}/revoke", follow_redirects=True)
    assert ("success", "Token “old script” was revoked.") in flashes(html(response))
    assert user_for_token(plain) is None and "old script" not in html(client.get("/ui/account"))


def test_nobody_can_revoke_someone_elses_token(client, people):
    """Another user's token id is a 404, and the token keeps working."""
    token, plain = issue_token(user=people["tech"], name="theirs")
    login(client, people["admin"])
    assert client.post(f"/ui/account/tokens/{token.id}/revoke").status_code == 404
    assert client.post("/ui/account/tokens/999999/revoke").status_code == 404
    assert user_for_token(plain) is not None
    assert db.session.scalar(select(ApiToken.revoked_at).where(ApiToken.id == token.id)) is None


def test_changing_the_password_revokes_every_api_token(client, people):
    """A token minted with the old password (perhaps by whoever knew it) ends with it; this browser stays in."""
    tech = people["tech"]
    token = bearer(tech)
    assert client.get("/me", headers=token).status_code == 200
    login(client, tech)
    changed = client.post("/ui/account/password", data={"password-current_password": factories.PASSWORD,
                                                        "password-new_password": "a new long password",
                                                        "password-confirm": "a new long password"})
    assert changed.status_code == 302, html(changed)[:2000]
    assert client.get("/me", headers=token).status_code == 401
    assert client.get("/ui/account").status_code == 200
