"""Saved views in the portal: the Views menu in the navigation (one query a page), "Save this view"
on the list, deleting one, and hostile names."""
import re
from html import unescape

import pytest
from sqlalchemy import select

from app.extensions import db
from app.incidents import saved_views
from app.models import SavedView
from tests.perf_helpers import recording
from tests.web_helpers import flashes, html, login


def menu(page: str) -> str:
    """The Views dropdown's markup."""
    found = re.search(r'<ul class="dropdown-menu views-menu"[^>]*>(.*?)</ul>', page, re.S)
    assert found, "no Views menu"
    return found.group(1)


def entries(page: str) -> list[tuple[str, str, bool]]:
    """(text, href, current) of each view link in the menu."""
    return [(" ".join(unescape(re.sub(r"<[^>]+>", " ", text)).split()), unescape(href), "aria-current" in attrs)
            for href, attrs, text in re.findall(r'<a class="dropdown-item[^"]*" href="([^"]+)"([^>]*)>(.*?)</a>',
                                               menu(page), re.S)][:-1]  # the last is "Save or manage views"


def switch(client, user) -> None:
    """Log out, then in as `user` (the tests hold one app context, so Flask-Login's user is per client only
    after a logout)."""
    client.post("/logout")
    login(client, user)


def stored(user) -> list[SavedView]:
    db.session.rollback()
    return list(db.session.scalars(select(SavedView).where(SavedView.owner_id == user.id).order_by(SavedView.id)))


def test_staff_see_the_built_in_views_then_their_own_and_the_shared(client, people):
    saved_views.create(actor=people["tech"], name="Network", filters={"category": ["network"]}, sort="priority")
    saved_views.create(actor=people["admin"], name="Team P1", filters={"priority": ["P1"]}, shared=True)
    saved_views.create(actor=people["tech_other"], name="Not yours", filters={})
    login(client, people["tech"])

    page = html(client.get("/ui/account"))

    assert entries(page) == [
        ("My queue", "/ui/incidents/?status=assigned&status=in_progress&status=on_hold&technician=me&sort=priority",
         False),
        ("Unassigned", "/ui/incidents/?status=open&technician=none&sort=-created_at", False),
        ("Breaching soon", "/ui/incidents/?sla=at_risk&sla=breached&sort=resolve_due_at", False),
        ("Network", "/ui/incidents/?category=network&sort=priority", False),
        ("Team P1 by Admin shared", "/ui/incidents/?priority=P1&sort=-created_at", False),
    ]
    assert "Your views" in menu(page) and "Shared with the team" in menu(page)
    assert "Not yours" not in page


def test_a_reporter_sees_my_queue_and_shared_views(client, people):
    saved_views.create(actor=people["admin"], name="Everyone", filters={}, shared=True)
    login(client, people["reporter"])
    names = [text for text, _, _ in entries(html(client.get("/ui/incidents/")))]
    assert names == ["My queue", "Everyone by Admin shared"]


def test_the_menu_marks_the_view_shown_now(client, people):
    """Open by its link, or the same filters in another order: that entry is aria-current."""
    saved_views.create(actor=people["tech"], name="Mine", filters={"severity": ["high", "low"], "q": "disk"})
    login(client, people["tech"])
    page = html(client.get("/ui/incidents/?q=disk&severity=low&severity=high"))
    assert [(text, current) for text, _, current in entries(page)][-1] == ("Mine", True)
    assert 'class="nav-link dropdown-toggle active"' in page
    page = html(client.get("/ui/incidents/?status=open&technician=none&sort=-created_at"))
    assert [text for text, _, current in entries(page) if current] == ["Unassigned"]
    page = html(client.get("/ui/incidents/?status=open"))
    assert [text for text, _, current in entries(page) if current] == []


def test_the_menu_costs_one_query_a_page(client, people):
    for n in range(8):
        saved_views.create(actor=people["tech"], name=f"v{n}", filters={"status": ["open"]})
        saved_views.create(actor=people["admin"], name=f"team {n}", filters={}, shared=True)
    login(client, people["tech"])
    for path in ("/ui/incidents/", "/ui/account", "/"):
        with recording() as seen:
            response = client.get(path)
        assert response.status_code == 200
        assert len(entries(html(response))) == 3 + 16
        assert sum("saved_views" in sql for sql, _ in seen) == 1, path


def test_no_menu_when_logged_out(client):
    assert "views-menu" not in html(client.get("/login"))


def list_form(page: str) -> dict[str, list[str]]:
    """The hidden fields of the "Save this view" form."""
    form = re.search(r'<form method="post" action="/ui/views/".*?</form>', page, re.S).group(0)
    fields: dict[str, list[str]] = {}
    for name, value in re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', form):
        fields.setdefault(name, []).append(unescape(value))
    return fields


def test_the_save_form_carries_the_clean_query(client, people):
    login(client, people["tech"])
    page = html(client.get("/ui/incidents/?status=open&status=bogus&technician=me&q=disk+full&sort=priority&page=2"))
    fields = list_form(page)
    fields.pop("view-csrf_token", None)
    assert fields == {"status": ["open"], "technician": ["me"], "q": ["disk full"], "sort": ["priority"]}
    assert 'id="view-name"' in page and 'for="view-name"' in page
    assert 'name="view-shared"' not in page  # technicians do not share


def test_save_a_view_from_the_list(client, people):
    """Only the filters the list understands are stored; back to the view's list with a flash."""
    login(client, people["tech"])
    response = client.post("/ui/views/", data={
        "view-name": "  Disk  ", "status": ["open", "bogus"], "technician": "me", "q": "disk", "sort": "-priority",
        "page": "3", "per_page": "50", "colour": "red"})
    assert response.status_code == 302
    assert response.headers["Location"] == "/ui/incidents/?status=open&technician=me&q=disk&sort=-priority"
    (view,) = stored(people["tech"])
    assert (view.name, view.filters, view.sort, view.shared) == (
        "Disk", {"status": ["open"], "technician": "me", "q": "disk"}, "-priority", False)
    page = html(client.get(response.headers["Location"]))
    assert ("success", "Saved the view “Disk”. It is in the Views menu.") in flashes(page)
    assert entries(page)[-1] == ("Disk", "/ui/incidents/?status=open&technician=me&q=disk&sort=-priority", True)


def test_an_admin_shares_a_view(client, people):
    login(client, people["admin"])
    assert 'name="view-shared"' in html(client.get("/ui/incidents/"))
    response = client.post("/ui/views/", data={"view-name": "Team", "view-shared": "y", "priority": "P1"},
                           follow_redirects=True)
    assert ("success", "Saved the view “Team” and shared it with the team. It is in the Views menu.") \
        in flashes(html(response))
    assert stored(people["admin"])[0].shared is True
    switch(client, people["tech"])
    assert ("Team by Admin shared", "/ui/incidents/?priority=P1&sort=-created_at", False) \
        in entries(html(client.get("/")))


@pytest.mark.parametrize("role, data, message", [
    ("tech", {"view-name": ""}, "The view was not saved: Give the view a name."),
    ("tech", {"view-name": "   "}, "The view was not saved: Give the view a name."),
    ("tech", {}, "The view was not saved: Give the view a name."),
    ("tech", {"view-name": "x" * 81}, "The view was not saved: Must be at most 80 characters."),
    ("tech", {"view-name": "a\x00b"}, "The view was not saved: Must not hold control characters."),
    ("tech", {"view-name": "a\x1bb"}, "The view was not saved: Must not hold control characters."),
    ("tech", {"view-name": "Dup"}, "The view was not saved: You already have a view named “Dup”; pick another name."),
    ("tech", {"view-name": "Shared", "view-shared": "y"},
     "The view was not saved: Only admins may share a view with the team."),
    ("reporter", {"view-name": "Shared", "view-shared": "y"},
     "The view was not saved: Only admins may share a view with the team."),
])
def test_form_errors_are_said_and_nothing_is_saved(client, people, role, data, message):
    user = people[role]
    if data.get("view-name") == "Dup":
        saved_views.create(actor=user, name="dup", filters={})
    before = [(v.id, v.name) for v in stored(user)]
    login(client, user)
    response = client.post("/ui/views/", data={**data, "status": "open", "sort": "priority"})
    assert response.status_code == 302
    assert response.headers["Location"] == "/ui/incidents/?status=open&sort=priority"  # back to the same list
    assert ("danger", message) in flashes(html(client.get(response.headers["Location"])))
    assert [(v.id, v.name) for v in stored(user)] == before


def test_delete_from_the_list(client, people):
    view = saved_views.create(actor=people["tech"], name="Old", filters={"status": ["open"]})
    login(client, people["tech"])
    page = html(client.get("/ui/incidents/?severity=high"))
    assert f'action="/ui/views/{view.id}/delete"' in page
    assert 'name="next" value="/ui/incidents/?severity=high"' in page
    response = client.post(f"/ui/views/{view.id}/delete", data={"next": "/ui/incidents/?severity=high"})
    assert response.status_code == 302 and response.headers["Location"] == "/ui/incidents/?severity=high"
    assert stored(people["tech"]) == []
    assert ("success", "Deleted the view “Old”.") in flashes(html(client.get("/ui/incidents/?severity=high")))


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/ui/incidents/", "/ui/users/",
                                    "/ui/incidents/\r\nX: y", "/ui/incidents/?\\evil", None])
def test_delete_goes_back_to_the_list_only(client, people, target):
    view = saved_views.create(actor=people["tech"], name="Old", filters={})
    login(client, people["tech"])
    response = client.post(f"/ui/views/{view.id}/delete", data={"next": target} if target else {})
    assert response.status_code == 302 and response.headers["Location"] == "/ui/incidents/"


def test_others_cannot_delete(client, people):
    private = saved_views.create(actor=people["tech"], name="Private", filters={})
    team = saved_views.create(actor=people["admin"], name="Team", filters={}, shared=True)
    login(client, people["tech_other"])
    assert client.post(f"/ui/views/{private.id}/delete").status_code == 404
    page = html(client.get("/ui/incidents/"))
    assert f"/ui/views/{team.id}/delete" not in page  # no button for what one may not delete
    response = client.post(f"/ui/views/{team.id}/delete", follow_redirects=True)
    assert ("danger", "Only its owner or an admin may delete a shared view.") in flashes(html(response))
    switch(client, people["admin"])
    page = html(client.get("/ui/incidents/"))
    assert f"/ui/views/{team.id}/delete" in page and f"/ui/views/{private.id}/delete" not in page
    assert client.post(f"/ui/views/{team.id}/delete").status_code == 302
    db.session.rollback()
    assert db.session.get(SavedView, team.id) is None and db.session.get(SavedView, private.id) is not None


def test_logged_out_posts_go_to_the_login(client, people):
    view = saved_views.create(actor=people["tech"], name="Kept", filters={})
    assert client.post("/ui/views/", data={"view-name": "x"}).status_code == 302
    assert client.post(f"/ui/views/{view.id}/delete").status_code == 302
    assert [v.name for v in stored(people["tech"])] == ["Kept"]


HOSTILE = '<script>alert(1)</script>"\'><img src=x onerror=alert(2)>'


def test_hostile_names_are_text_in_the_menu_and_the_list(client, people):
    saved_views.create(actor=people["admin"], name=HOSTILE, filters={"q": '"><svg onload=alert(3)>'}, shared=True)
    # admin: also Rename's and "Show this list"'s hidden words, the rename field's label and value
    for user, shown in ((people["admin"], 7), (people["tech"], 2)):
        switch(client, user)
        page = html(client.get("/ui/incidents/"))
        assert "<script>alert(1)" not in page and "<img src=x" not in page and "<svg onload" not in page
        # the menu, "Your views" and (the admin's) buttons
        assert page.count("&lt;script&gt;alert(1)&lt;/script&gt;") == shown
        names = [text.removesuffix(" shared").removesuffix(" by Admin") for text, _, _ in entries(page)]
        assert HOSTILE in names


def test_long_names_and_views_saved_by_the_api_render(client, people):
    """80 characters; a reporter id and a technician's username as filters (the API takes them)."""
    long_name = "Ä" * 80
    saved_views.create(actor=people["admin"], name=long_name, filters={"reporter": str(people["reporter"].id),
                                                                       "technician": "tech"})
    login(client, people["admin"])
    page = html(client.get("/ui/incidents/"))
    assert (long_name, f"/ui/incidents/?reporter={people['reporter'].id}&technician=tech&sort=-created_at", False) \
        in entries(page)


def test_rename_from_the_list(client, people):
    view = saved_views.create(actor=people["tech"], name="Old", filters={"status": ["open"]})
    login(client, people["tech"])
    page = html(client.get("/ui/incidents/?severity=high"))
    assert f'action="/ui/views/{view.id}/rename"' in page and f'id="rename-view-{view.id}"' in page
    response = client.post(f"/ui/views/{view.id}/rename",
                           data={"view-name": "  Open ones ", "next": "/ui/incidents/?severity=high"})
    assert response.status_code == 302 and response.headers["Location"] == "/ui/incidents/?severity=high"
    assert [(v.name, v.filters) for v in stored(people["tech"])] == [("Open ones", {"status": ["open"]})]
    page = html(client.get("/ui/incidents/?severity=high"))
    assert ("success", "Renamed the view to “Open ones”.") in flashes(page)
    assert ("Open ones", "/ui/incidents/?status=open&sort=-created_at", False) in entries(page)


@pytest.mark.parametrize("name, message", [
    ("", "The view was not renamed: Give the view a name."),
    ("x" * 81, "The view was not renamed: Must be at most 80 characters."),
    ("a\x00b", "The view was not renamed: Must not hold control characters."),
    ("OTHER", "The view was not renamed: You already have a view named “OTHER”; pick another name."),
])
def test_a_wrong_rename_is_said_and_changes_nothing(client, people, name, message):
    view = saved_views.create(actor=people["tech"], name="Mine", filters={})
    saved_views.create(actor=people["tech"], name="other", filters={})
    login(client, people["tech"])
    response = client.post(f"/ui/views/{view.id}/rename", data={"view-name": name, "next": "/ui/incidents/"})
    assert response.status_code == 302 and response.headers["Location"] == "/ui/incidents/"
    assert ("danger", message) in flashes(html(client.get("/ui/incidents/")))
    assert [v.name for v in stored(people["tech"])] == ["Mine", "other"]


def test_a_view_takes_the_list_as_shown(client, people):
    """"Show this list" stores the list's current (cleaned) filters and sort in the view, then opens it."""
    view = saved_views.create(actor=people["tech"], name="Mine", filters={"status": ["open"]})
    login(client, people["tech"])
    page = html(client.get("/ui/incidents/?severity=high&severity=bogus&sort=priority"))
    assert f'action="/ui/views/{view.id}/replace"' in page
    assert f'action="/ui/views/{view.id}/replace"' not in html(client.get("/ui/incidents/?status=open"))  # shown now
    response = client.post(f"/ui/views/{view.id}/replace",
                           data={"severity": ["high", "bogus"], "sort": "priority", "page": "2"})
    assert response.status_code == 302
    assert response.headers["Location"] == "/ui/incidents/?severity=high&sort=priority"
    (kept,) = stored(people["tech"])
    assert (kept.name, kept.filters, kept.sort) == ("Mine", {"severity": ["high"]}, "priority")
    page = html(client.get(response.headers["Location"]))
    assert ("success", "The view “Mine” now shows this list.") in flashes(page)
    assert ("Mine", "/ui/incidents/?severity=high&sort=priority", True) in entries(page)


def test_others_cannot_rename_or_replace(client, people):
    private = saved_views.create(actor=people["tech"], name="Private", filters={})
    team = saved_views.create(actor=people["admin"], name="Team", filters={}, shared=True)
    login(client, people["tech_other"])
    page = html(client.get("/ui/incidents/"))
    assert f"/ui/views/{team.id}/rename" not in page and f"/ui/views/{team.id}/replace" not in page
    for path, verb in ((f"/ui/views/{team.id}/rename", "renamed"), (f"/ui/views/{team.id}/replace", "changed")):
        response = client.post(path, data={"view-name": "Taken", "status": "open"}, follow_redirects=True)
        assert ("danger", f"The view was not {verb}: Only its owner or an admin may change a shared view.") \
            in flashes(html(response))
    response = client.post(f"/ui/views/{private.id}/rename", data={"view-name": "Taken"}, follow_redirects=True)
    assert any(f"View {private.id} was not found." in text for _, text in flashes(html(response)))
    switch(client, people["admin"])
    assert client.post(f"/ui/views/{private.id}/rename", data={"view-name": "Tidied"}).status_code == 302
    db.session.rollback()
    assert (db.session.get(SavedView, team.id).name, db.session.get(SavedView, private.id).name) == ("Team", "Tidied")
    assert db.session.get(SavedView, team.id).filters == {}


def test_logged_out_renames_go_to_the_login(client, people):
    view = saved_views.create(actor=people["tech"], name="Kept", filters={})
    for path in (f"/ui/views/{view.id}/rename", f"/ui/views/{view.id}/replace"):
        response = client.post(path, data={"view-name": "x", "status": "open"})
        assert response.status_code == 302 and "/login" in response.headers["Location"]
    assert [(v.name, v.filters) for v in stored(people["tech"])] == [("Kept", {})]


def test_a_hostile_new_name_is_text_in_the_flash_and_the_menu(client, people):
    view = saved_views.create(actor=people["tech"], name="Plain", filters={})
    login(client, people["tech"])
    response = client.post(f"/ui/views/{view.id}/rename", data={"view-name": HOSTILE}, follow_redirects=True)
    page = html(response)
    assert "<script>alert(1)" not in page and "<img src=x" not in page
    assert ("success", f"Renamed the view to “{HOSTILE}”.") in flashes(page)
    assert HOSTILE in [text for text, _, _ in entries(page)]
