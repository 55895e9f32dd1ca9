"""The webhooks admin pages (/ui/admin/webhooks/...): list and add (the secret shown once), edit,
delete and rotate behind a confirmation, the delivery log and its replay buttons; admins only,
CSRF on every form, hostile text shown as text."""
import re
from html import unescape

import pytest
from sqlalchemy import func, select

from app.database import write_transaction
from app.extensions import db
from app.mail.enums import WebhookStatus
from app.models import WebhookDelivery, WebhookEndpoint, utcnow
from app.webhooks import endpoints
from tests import factories
from tests.api_helpers import bearer
from tests.web_helpers import csrf_token, field_error, flashes, html, login

LIST = "/ui/admin/webhooks/"
NEW = {"new-url": "https://hooks.example.com/portal", "new-events": ["incident.created", "incident.commented"],
       "new-description": "Ops chat bridge", "new-active": "y"}


@pytest.fixture
def app(app):
    """The app as deployed by default: internal addresses refused (the package's conftest allows them)."""
    app.config["WEBHOOK_ALLOW_PRIVATE"] = False
    return app


@pytest.fixture
def admin_client(client, people):
    """A browser signed in as the admin."""
    login(client, people["admin"])
    return client


@pytest.fixture
def endpoint(people) -> WebhookEndpoint:
    """An endpoint for every event."""
    made, _ = endpoints.create_endpoint(actor=people["admin"], url="https://hooks.example.com/all", events=["*"],
                                        description="Everything")
    return made


def count() -> int:
    db.session.rollback()
    return db.session.scalar(select(func.count(WebhookEndpoint.id)))


def secret_on(page: str) -> str | None:
    found = re.search(r'id="webhook-secret-value" type="text" value="([^"]+)"', page)
    return unescape(found.group(1)) if found else None


def report(client, people) -> None:
    """The reporter reports an incident (through the API): one delivery per endpoint."""
    response = client.post("/incidents/", headers=bearer(people["reporter"]),
                           json={"title": "Disk full", "description": "On the build host."})
    assert response.status_code == 201


def only_delivery(endpoint_id: int) -> WebhookDelivery:
    db.session.rollback()
    [delivery] = db.session.scalars(select(WebhookDelivery).where(WebhookDelivery.endpoint_id == endpoint_id))
    return delivery


# ---- pages ------------------------------------------------------------------------------------

def test_admins_see_the_page_and_the_nav_link(admin_client, endpoint):
    page = admin_client.get(LIST)
    assert page.status_code == 200
    text = html(page)
    assert '<a class="nav-link active" href="/ui/admin/webhooks/"' in text
    assert 'id="webhook-' + str(endpoint.id) + '"' in text and "https://hooks.example.com/all" in text
    assert "All events" in text and "whsec_" not in text
    for path in (f"/ui/admin/webhooks/{endpoint.id}/edit", f"/ui/admin/webhooks/{endpoint.id}/delete",
                 f"/ui/admin/webhooks/{endpoint.id}/rotate", f"/ui/admin/webhooks/{endpoint.id}/deliveries"):
        assert f'href="{path}"' in text
        shown = admin_client.get(path)
        assert shown.status_code == 200 and "https://hooks.example.com/all" in html(shown)
        assert "whsec_" not in html(shown)


@pytest.mark.parametrize("role", ["tech", "reporter"])
def test_others_are_refused_everywhere(client, people, endpoint, role):
    """403 on every page and form, no nav link, nothing changed."""
    login(client, people[role])
    assert "/ui/admin/webhooks/" not in html(client.get("/"))
    delivery_path = f"/ui/admin/webhooks/{endpoint.id}/deliveries/1/replay"
    gets = ["", f"{endpoint.id}/edit", f"{endpoint.id}/delete", f"{endpoint.id}/rotate", f"{endpoint.id}/deliveries"]
    for path in gets:
        assert client.get(LIST + path).status_code == 403
    for path in ["", f"{endpoint.id}/edit", f"{endpoint.id}/delete", f"{endpoint.id}/rotate"]:
        assert client.post(LIST + path, data=NEW).status_code == 403
    assert client.post(delivery_path).status_code == 403
    assert count() == 1 and db.session.get(WebhookEndpoint, endpoint.id).url == "https://hooks.example.com/all"


def test_anonymous_visitors_are_sent_to_log_in(client, endpoint):
    for path in (LIST, f"{LIST}{endpoint.id}/edit", f"{LIST}{endpoint.id}/deliveries"):
        response = client.get(path)
        assert response.status_code == 302 and "/login" in response.headers["Location"]
    assert client.post(LIST, data=NEW).status_code == 302 and count() == 1


def test_unknown_endpoints_are_404(admin_client):
    for path in ("9999/edit", "9999/delete", "9999/rotate", "9999/deliveries"):
        assert admin_client.get(LIST + path).status_code == 404
        assert admin_client.post(LIST + path).status_code in (404, 405)
    assert admin_client.post(f"{LIST}9999/deliveries/9999/replay").status_code == 404


# ---- forms ------------------------------------------------------------------------------------

def test_adding_an_endpoint_shows_its_secret_once(admin_client, people):
    response = admin_client.post(LIST, data=NEW)
    assert response.status_code == 201
    page = html(response)
    secret = secret_on(page)
    assert secret and secret.startswith("whsec_")
    assert "not shown again" in page and 'data-copy-target="webhook-secret-value"' in page
    assert response.headers["Cache-Control"].startswith("no-store") or "no-store" in response.headers["Cache-Control"]
    [made] = endpoints.list_endpoints(actor=people["admin"])
    assert (made.url, made.events, made.description, made.active) == (
        "https://hooks.example.com/portal", ["incident.created", "incident.commented"], "Ops chat bridge", True)
    assert secret not in made.secret_encrypted
    assert secret not in html(admin_client.get(LIST))
    assert secret not in html(admin_client.get(f"{LIST}{made.id}/edit"))


@pytest.mark.parametrize(("change", "field", "message"), [
    ({"new-url": "javascript:alert(1)"}, "new-url", "Only http:// and https:// URLs are allowed."),
    ({"new-url": "https://user:pw@hooks.example.com/"}, "new-url", "user name or password"),
    ({"new-url": "http://192.168.1.20/hook"}, "new-url", "private address"),
    ({"new-url": ""}, "new-url", "Enter the URL to POST to."),
    ({"new-url": "https://x.example/" + "a" * 2000}, "new-url", "2000"),
    ({"new-events": []}, "new-events", "event types"),
    ({"new-events": ["incident.deleted"]}, "new-events", "not a valid choice"),
    ({"new-description": "d" * 501}, "new-description", "500"),
])
def test_a_bad_endpoint_is_refused_next_to_its_field(admin_client, change, field, message):
    response = admin_client.post(LIST, data={**NEW, **change})
    assert response.status_code == 422
    page = html(response)
    if field == "new-events":  # checkboxes: the message belongs to their fieldset
        found = re.search(r'<div class="invalid-feedback d-block" id="new-events-error">(.*?)</div>', page, re.S)
        assert re.search(r'<fieldset[^>]*aria-describedby="[^"]*new-events-error"', page)
        error = unescape(found.group(1)) if found else None
    else:
        error = field_error(page, field)
    assert error is not None and message in error, error
    assert "whsec_" not in page and count() == 0


def test_editing_changes_what_was_sent(admin_client, people, endpoint):
    form = html(admin_client.get(f"{LIST}{endpoint.id}/edit"))
    assert re.search(r'<input[^>]*checked[^>]*value="\*"|<input[^>]*value="\*"[^>]*checked', form)
    assert 'value="https://hooks.example.com/all"' in form
    response = admin_client.post(f"{LIST}{endpoint.id}/edit", data={
        "edit-url": "https://hooks.example.com/v2", "edit-events": ["incident.assigned"],
        "edit-description": "Only assignments"})
    assert response.status_code == 302 and response.headers["Location"].endswith(LIST)
    db.session.rollback()
    changed = db.session.get(WebhookEndpoint, endpoint.id)
    assert (changed.url, changed.events, changed.description, changed.active) == (
        "https://hooks.example.com/v2", ["incident.assigned"], "Only assignments", False)
    assert ("success", "Saved webhook https://hooks.example.com/v2.") in flashes(html(admin_client.get(LIST)))

    refused = admin_client.post(f"{LIST}{endpoint.id}/edit", data={"edit-url": "ftp://files.example/",
                                                                    "edit-events": ["*"], "edit-active": "y"})
    assert refused.status_code == 422 and field_error(html(refused), "edit-url")
    db.session.rollback()
    assert db.session.get(WebhookEndpoint, endpoint.id).url == "https://hooks.example.com/v2"


def test_switching_a_disabled_endpoint_back_on(admin_client, endpoint):
    with write_transaction():
        row = db.session.get(WebhookEndpoint, endpoint.id)
        row.active, row.disabled_reason, row.failing_since = False, "Failing for 24 hours.", utcnow()
    assert "Failing for 24 hours." in html(admin_client.get(LIST))
    assert "Disabled by the portal" in html(admin_client.get(f"{LIST}{endpoint.id}/edit"))
    admin_client.post(f"{LIST}{endpoint.id}/edit", data={"edit-url": endpoint.url, "edit-events": ["*"],
                                                         "edit-active": "y", "edit-description": ""})
    db.session.rollback()
    row = db.session.get(WebhookEndpoint, endpoint.id)
    assert (row.active, row.disabled_reason, row.failing_since) == (True, None, None)


def test_delete_asks_first(admin_client, endpoint, client, people):
    confirm = html(admin_client.get(f"{LIST}{endpoint.id}/delete"))
    assert "cannot be undone" in confirm and f'action="/ui/admin/webhooks/{endpoint.id}/delete"' in confirm
    assert count() == 1
    report(client, people)
    response = admin_client.post(f"{LIST}{endpoint.id}/delete")
    assert response.status_code == 302 and count() == 0
    assert db.session.scalar(select(func.count(WebhookDelivery.id))) == 0
    assert ("success", "Deleted webhook https://hooks.example.com/all and its delivery log.") in flashes(
        html(admin_client.get(LIST)))


def test_rotate_asks_first_then_shows_the_new_secret_once(admin_client, endpoint):
    old = endpoint.secret_encrypted
    confirm = html(admin_client.get(f"{LIST}{endpoint.id}/rotate"))
    assert "24 hours" in confirm and secret_on(confirm) is None
    db.session.rollback()
    assert db.session.get(WebhookEndpoint, endpoint.id).secret_encrypted == old
    response = admin_client.post(f"{LIST}{endpoint.id}/rotate")
    assert response.status_code == 200
    secret = secret_on(html(response))
    assert secret and secret.startswith("whsec_")
    db.session.rollback()
    assert db.session.get(WebhookEndpoint, endpoint.id).secret_encrypted != old
    listing = html(admin_client.get(LIST))
    assert secret not in listing and "Previous secret signs until" in listing


# ---- the delivery log -------------------------------------------------------------------------

def test_the_log_shows_each_delivery_and_replays_a_finished_one(admin_client, client, people, endpoint):
    report(client, people)
    delivery = only_delivery(endpoint.id)
    log = html(admin_client.get(f"{LIST}{endpoint.id}/deliveries"))
    row = re.search(rf'<tr id="delivery-{delivery.id}">(.*?)</tr>', log, re.S).group(1)
    assert "incident.created" in row and delivery.webhook_id in row and "pending" in row
    assert "Replay" in row  # a pending one is sent now

    with write_transaction():
        row_ = db.session.get(WebhookDelivery, delivery.id)
        row_.status, row_.attempts, row_.last_status_code = WebhookStatus.FAILED, 6, 503
        row_.last_error, row_.last_duration_ms = "HTTP 503 <b>Service Unavailable</b>", 812
    log = html(admin_client.get(f"{LIST}{endpoint.id}/deliveries"))
    row = re.search(rf'<tr id="delivery-{delivery.id}">(.*?)</tr>', log, re.S).group(1)
    assert all(part in row for part in ("failed", "<td>6</td>", "<td>503</td>", "812 ms",
                                        "HTTP 503 &lt;b&gt;Service Unavailable&lt;/b&gt;"))
    action = f"/ui/admin/webhooks/{endpoint.id}/deliveries/{delivery.id}/replay"
    assert f'action="{action}"' in row

    response = admin_client.post(action)
    assert response.status_code == 302 and response.headers["Location"].endswith(f"{LIST}{endpoint.id}/deliveries")
    replayed = only_delivery(endpoint.id)
    assert (replayed.status, replayed.attempts, replayed.webhook_id) == (WebhookStatus.PENDING, 0, delivery.webhook_id)
    page = html(admin_client.get(response.headers["Location"]))
    assert any(kind == "success" and "queued again" in text for kind, text in flashes(page))

    with write_transaction():  # a sender holds it now: no Replay button, and a replay is refused
        db.session.get(WebhookDelivery, delivery.id).status = WebhookStatus.SENDING
    row = re.search(rf'<tr id="delivery-{delivery.id}">(.*?)</tr>',
                    html(admin_client.get(f"{LIST}{endpoint.id}/deliveries")), re.S).group(1)
    assert "sending" in row and "Replay" not in row
    again = admin_client.post(action)
    assert again.status_code == 302
    assert any(kind == "danger" and "being sent" in text for kind, text in flashes(html(admin_client.get(LIST))))
    assert only_delivery(endpoint.id).status == WebhookStatus.SENDING


def test_the_log_pages_back(admin_client, client, people, endpoint, monkeypatch):
    monkeypatch.setattr("app.web.webhooks.DELIVERIES_PER_PAGE", 2)
    for _ in range(3):
        report(client, people)
    first = html(admin_client.get(f"{LIST}{endpoint.id}/deliveries"))
    assert first.count('<tr id="delivery-') == 2
    older = re.search(r'id="older-deliveries" href="([^"]+)"', first).group(1)
    second = html(admin_client.get(unescape(older)))
    assert second.count('<tr id="delivery-') == 1 and 'id="older-deliveries"' not in second
    assert admin_client.get(f"{LIST}{endpoint.id}/deliveries?before=abc").status_code == 200
    assert admin_client.get(f"{LIST}{endpoint.id}/deliveries?before=%D9%A3").status_code == 200


# ---- hostile input ----------------------------------------------------------------------------

def test_hostile_text_is_shown_as_text(admin_client, people):
    """A description with markup and a URL with quotes and angle brackets stay text on every page."""
    hostile_url = 'https://hooks.example.com/?q="><script>alert(1)</script>'
    made, _ = endpoints.create_endpoint(actor=people["admin"], url=hostile_url, events=["*"],
                                        description="<img src=x onerror=alert(1)> & <b>bold</b>")
    for path in (LIST, f"{LIST}{made.id}/edit", f"{LIST}{made.id}/delete", f"{LIST}{made.id}/rotate",
                 f"{LIST}{made.id}/deliveries"):
        page = html(admin_client.get(path))
        assert "<script>alert(1)" not in page and "<img src=x" not in page and "<b>bold</b>" not in page, path
        assert "&lt;img src=x onerror=alert(1)&gt;" in page or "&lt;img src=x onerror=alert(1)&gt;" in unescape(
            page.replace("&amp;", "&")), path
    listing = html(admin_client.get(LIST))
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in listing
    assert not re.search(r'href="[^"]*hooks\.example\.com', listing)  # a URL is shown, never linked


def test_a_javascript_url_is_never_saved(admin_client, endpoint):
    for url in ("javascript:alert(1)", "JavaScript:alert(1)", " javascript:alert(1)", "data:text/html,<b>x</b>"):
        assert admin_client.post(LIST, data={**NEW, "new-url": url}).status_code == 422
        assert admin_client.post(f"{LIST}{endpoint.id}/edit", data={
            "edit-url": url, "edit-events": ["*"], "edit-active": "y"}).status_code == 422
    db.session.rollback()
    assert count() == 1 and db.session.get(WebhookEndpoint, endpoint.id).url == "https://hooks.example.com/all"


# ---- CSRF -------------------------------------------------------------------------------------

@pytest.fixture
def csrf_client(make_app):
    """A browser of an app with CSRF protection on (as in production), signed in as an admin, and an
    endpoint to act on."""
    app = make_app(WTF_CSRF_ENABLED=True)
    with app.app_context():
        admin = factories.make_user("admin", username="csrfadmin")
        endpoints.create_endpoint(actor=admin, url="https://hooks.example.com/csrf", events=["*"])
        client = app.test_client()
        login(client, "csrfadmin", form={"csrf_token": csrf_token(client)})
        yield client
        db.session.remove()


def test_every_form_needs_its_token(csrf_client):
    """Without the token: 400 and nothing changes; with the page's token each form works."""
    with csrf_client.application.app_context():
        [endpoint] = db.session.scalars(select(WebhookEndpoint))
        secret = endpoint.secret_encrypted
        posts = [(LIST, NEW), (f"{LIST}{endpoint.id}/edit", {"edit-url": "https://evil.example/",
                                                            "edit-events": ["*"], "edit-active": "y"}),
                 (f"{LIST}{endpoint.id}/rotate", {}), (f"{LIST}{endpoint.id}/delete", {}),
                 (f"{LIST}{endpoint.id}/deliveries/1/replay", {})]
        for path, data in posts:
            for token in (None, "forged"):
                sent = {**data, **({"csrf_token": token, "new-csrf_token": token, "edit-csrf_token": token}
                                   if token else {})}
                assert csrf_client.post(path, data=sent).status_code == 400, path
        db.session.rollback()
        assert count() == 1
        endpoint = db.session.get(WebhookEndpoint, endpoint.id)
        assert (endpoint.url, endpoint.secret_encrypted) == ("https://hooks.example.com/csrf", secret)

        created = csrf_client.post(LIST, data={**NEW, "new-csrf_token": csrf_token(csrf_client, LIST)})
        assert created.status_code == 201 and secret_on(html(created))
        edit_page = f"{LIST}{endpoint.id}/edit"
        edited = csrf_client.post(edit_page, data={"edit-url": "https://hooks.example.com/csrf2", "edit-events": ["*"],
                                                   "edit-active": "y", "edit-csrf_token": csrf_token(csrf_client,
                                                                                                     edit_page)})
        assert edited.status_code == 302
        rotate_page = f"{LIST}{endpoint.id}/rotate"
        rotated = csrf_client.post(rotate_page, data={"csrf_token": csrf_token(csrf_client, rotate_page)})
        assert rotated.status_code == 200 and secret_on(html(rotated))
        delete_page = f"{LIST}{endpoint.id}/delete"
        deleted = csrf_client.post(delete_page, data={"csrf_token": csrf_token(csrf_client, delete_page)})
        assert deleted.status_code == 302
        db.session.rollback()
        assert [e.url for e in db.session.scalars(select(WebhookEndpoint))] == ["https://hooks.example.com/portal"]
