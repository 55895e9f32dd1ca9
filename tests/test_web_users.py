"""Admin user management through the pages: list, create, change role, deactivate, reactivate."""
import pytest
from sqlalchemy import select

from app.auth.roles import Role
from app.auth.service import issue_token, user_for_token
from app.extensions import db
from app.models import User
from tests import factories
from tests.web_helpers import field_error, flashes, html, login

NEW_USER = {"username": "newbie", "name": "New Person", "email": "newbie@example.test", "role": "technician",
            "password": "long-enough-password"}


def test_the_list_shows_every_account_with_role_and_state(client, people):
    """Usernames, roles and whether each can log in; no controls on one's own row."""
    factories.make_user("reporter", username="gone", active=False)
    login(client, people["admin"])
    page = html(client.get("/ui/users/"))
    for username in ["admin", "tech", "techother", "reporter", "reporterother", "gone"]:
        assert f'id="user-{username}"' in page
    gone_row = page.split('id="user-gone"')[1].split("</tr>")[0]
    assert "Deactivated" in gone_row and "Reactivate" in gone_row
    own_row = page.split('id="user-admin"')[1].split("</tr>")[0]
    assert "you</span>" in own_row and "Deactivate" not in own_row and "<select" not in own_row


def test_an_admin_creates_a_user_who_can_then_log_in(client, people):
    """PRG with a flash; the new account works straight away."""
    login(client, people["admin"])
    response = client.post("/ui/users/", data=NEW_USER)
    assert response.status_code == 302 and response.headers["Location"] == "/ui/users/"
    assert ("success", "Created technician newbie.") in flashes(html(client.get("/ui/users/")))
    user = db.session.scalar(select(User).where(User.username == "newbie"))
    assert (user.role, user.name, user.email) == (Role.TECHNICIAN, "New Person", "newbie@example.test")
    client.post("/logout")
    login(client, user, password=NEW_USER["password"])


@pytest.mark.parametrize(("changes", "field", "message"), [
    ({"username": "admin"}, "username", "This username is taken."),
    ({"username": "no spaces allowed"}, "username", "3-64 letters, digits, '.', '_' or '-'."),
    ({"password": "short"}, "password", "Must be at least 8 characters."),
    ({"email": "not-an-email"}, "email", "Must be a valid email address."),
    ({"role": "overlord"}, "role", "Not a valid choice."),
    ({"name": ""}, "name", "This field is required."),
])
def test_create_user_errors_are_shown_next_to_the_field(client, people, changes, field, message):
    """Form and domain messages alike land by their field; nothing is created."""
    login(client, people["admin"])
    before = db.session.scalar(select(db.func.count(User.id)))
    response = client.post("/ui/users/", data={**NEW_USER, **changes})
    assert response.status_code == 422
    assert field_error(html(response), field) == message
    assert db.session.scalar(select(db.func.count(User.id))) == before


def test_changing_a_role(client, people):
    """The row's form changes the role and says so."""
    target = people["reporter"]
    login(client, people["admin"])
    response = client.post(f"/ui/users/{target.id}/role", data={f"user{target.id}-role": "technician"},
                           follow_redirects=True)
    assert ("success", "reporter is now technician.") in flashes(html(response))
    db.session.refresh(target)
    assert target.role == Role.TECHNICIAN


def test_an_invalid_role_is_shown_on_its_row(client, people):
    """The table comes back with the message next to that row's select."""
    target = people["reporter"]
    login(client, people["admin"])
    response = client.post(f"/ui/users/{target.id}/role", data={f"user{target.id}-role": "god"})
    assert response.status_code == 422
    assert field_error(html(response), f"user{target.id}-role") == "Not a valid choice."


def test_deactivating_locks_the_user_out_and_revokes_tokens(client, people):
    """The user cannot log in, their token stops working; reactivating lets them back in."""
    target = people["tech"]
    _, plain = issue_token(user=target, name="script")
    login(client, people["admin"])
    response = client.post(f"/ui/users/{target.id}/deactivate", data={"confirm": "y"}, follow_redirects=True)
    assert ("success", "tech is deactivated: signed out everywhere, 1 API token revoked.") in flashes(html(response))
    assert user_for_token(plain) is None
    client.post("/logout")
    login(client, "tech", expect=200)
    login(client, people["admin"])
    response = client.post(f"/ui/users/{target.id}/reactivate", follow_redirects=True)
    assert ("success", "tech is active again.") in flashes(html(response))
    client.post("/logout")
    login(client, target)


@pytest.mark.parametrize("role", ["tech", "reporter"])
@pytest.mark.parametrize(("method", "path"), [("get", "/ui/users/"), ("post", "/ui/users/"),
                                              ("post", "/ui/users/{id}/role"), ("post", "/ui/users/{id}/deactivate"),
                                              ("post", "/ui/users/{id}/reactivate")])
def test_only_admins_manage_users(client, people, role, method, path):
    """Everyone else gets 403, and nothing changes."""
    login(client, people[role])
    target = people["reporter_other"]
    response = getattr(client, method)(path.format(id=target.id), data={**NEW_USER, f"user{target.id}-role": "admin",
                                                                        "confirm": "y"})
    assert response.status_code == 403
    db.session.refresh(target)
    assert target.role == Role.REPORTER and target.active
    assert db.session.scalar(select(User).where(User.username == "newbie")) is None


def test_an_unknown_user_is_404(client, people):
    """Acting on a user id that does not exist."""
    login(client, people["admin"])
    assert client.post("/ui/users/9999/deactivate").status_code == 404


def test_the_last_admin_cannot_deactivate_or_demote_themselves(client, people):
    """The portal never loses its last admin: a flash explains, nothing changes."""
    login(client, people["admin"])
    admin_id = people["admin"].id
    for path, data in ((f"/ui/users/{admin_id}/deactivate", {"confirm": "y"}),
                       (f"/ui/users/{admin_id}/role", {f"user{admin_id}-role": "reporter"})):
        response = client.post(path, data=data, follow_redirects=True)
        assert any("last active admin" in message for _, message in flashes(html(response)))
    db.session.expire_all()
    assert people["admin"].active and people["admin"].role == Role.ADMIN
