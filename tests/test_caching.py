"""The response and fragment caches (app/caching.py): a hit runs no SQL and replays the whole answer,
any commit from anywhere ends every entry, and no answer reaches a request it was not computed for."""
import sqlite3
import subprocess
import sys
import time
from contextlib import closing

import pytest
from flask import Flask
from sqlalchemy import make_url, update

from app import create_app
from app.auth.roles import Role
from app.auth.service import update_user
from app.caching import MAX_BODY_BYTES, CommitCounter, ReplayLayer, VersionedCache
from app.extensions import db
from app.incidents import service
from app.models import ApiToken, utcnow
from tests import factories, postgres
from tests.api_helpers import basic, held_context
from tests.api_helpers import bearer as fresh_bearer
from tests.perf_helpers import recording

SECONDS = 60.0  # long enough that only a commit ends an entry, unless a test says otherwise
sqlite_only = pytest.mark.sqlite_only  # the caches exist only on a SQLite file


@pytest.fixture
def app(make_app):
    """This module's app: both caches on, its own SQLite file, an app context held."""
    with held_context(make_app(RESPONSE_CACHE_SECONDS=SECONDS)) as app:
        yield app


def bearer(user) -> dict[str, str]:
    """A token for `user` that was used a moment ago, as a working client's is: its first use does
    not stop to record `last_used_at` (a commit, which would end every kept answer; that write
    happens at most once a minute per token, see app.auth.service._note_use)."""
    headers = fresh_bearer(user)
    db.session.execute(update(ApiToken).where(ApiToken.user_id == user.id).values(last_used_at=utcnow()))
    db.session.commit()
    return headers


def database_file(app) -> str:
    """The path of the app's SQLite file."""
    return make_url(app.config["SQLALCHEMY_DATABASE_URI"]).database


def commit_elsewhere(path: str, sql: str, *params, process: bool = False) -> None:
    """Run and commit one statement on a connection of our own, or in another Python process."""
    if process:
        script = "import sqlite3, sys\nwith sqlite3.connect(sys.argv[1]) as c: c.execute(sys.argv[2], sys.argv[3:])"
        subprocess.run([sys.executable, "-c", script, path, sql, *map(str, params)], check=True, timeout=30)
        return
    with closing(sqlite3.connect(path)) as connection, connection:
        connection.execute(sql, params)


def get(client, url: str, **kwargs):
    """A GET and how many SQL statements it ran, in an app context of its own as in production (the
    test's held one would otherwise lend every request the same session and the same `g`)."""
    with client.application.app_context(), recording() as seen:
        response = client.get(url, **kwargs)
    return response, len(seen)


def login(client, username: str) -> None:
    """Log `client` in through the form, in an app context of its own like every request here."""
    with client.application.app_context():
        assert client.post("/login", data={"username": username, "password": factories.PASSWORD}).status_code == 302


@sqlite_only
@pytest.mark.parametrize("path", ["/incidents/", "/incidents/{id}", "/me"])
def test_a_repeated_get_is_replayed_whole_and_runs_no_sql(client, people, path):
    """Second identical bearer GET: zero statements; same status, headers (ETag, CSP) and body."""
    incident = factories.make_incident(people["reporter"])
    url, headers = path.format(id=incident.id), bearer(people["admin"])
    first, computed = get(client, url, headers=headers)
    second, replayed = get(client, url, headers=headers)
    assert (first.status_code, computed > 0, replayed) == (200, True, 0)
    assert (second.status_code, list(second.headers), second.data) == (200, list(first.headers), first.data)
    assert second.headers["Content-Security-Policy"] and second.mimetype == "application/json"
    if path == "/incidents/{id}":
        assert second.headers["ETag"] == first.headers["ETag"] == f'"{incident.version}"'


def _change_title(how: str, client, people, incident, path: str) -> None:
    """Commit a new title: through the service, the API, a sqlite3 connection or another process."""
    if how == "service":
        service.edit_incident(actor=people["admin"], incident=incident, details={"title": "Changed"})
    elif how == "api":
        response = client.patch(f"/incidents/{incident.id}", headers=bearer(people["admin"]), json={"title": "Changed"})
        assert response.status_code == 200
    else:
        commit_elsewhere(path, "UPDATE incidents SET title = 'Changed' WHERE id = ?", incident.id,
                         process=how == "process")


@sqlite_only
@pytest.mark.parametrize("how", ["service", "api", "sqlite3", "process"])
def test_any_commit_ends_every_cached_answer(app, client, people, how):
    """A commit by the app, another connection or another process: the next GET is computed anew."""
    incident = factories.make_incident(people["reporter"], title="Original")
    headers, urls = bearer(people["tech"]), ("/incidents/", f"/incidents/{incident.id}")
    for url in urls:
        get(client, url, headers=headers)
        assert get(client, url, headers=headers)[1] == 0
    _change_title(how, client, people, incident, database_file(app))
    (listing, computed), (detail, _) = (get(client, url, headers=headers) for url in urls)
    assert computed > 0 and [item["title"] for item in listing.get_json()["items"]] == ["Changed"]
    assert detail.get_json()["title"] == "Changed"


@sqlite_only
def test_an_answer_computed_across_a_commit_is_not_replayed(app, client, people):
    """A commit landing while a GET is computed (from an after_request hook here) leaves nothing to replay."""
    incident = factories.make_incident(people["reporter"], title="Original")
    headers, path, pending = bearer(people["admin"]), database_file(app), [incident.id]

    @app.after_request
    def commit_meanwhile(response):
        if pending:
            commit_elsewhere(path, "UPDATE incidents SET title = 'Changed' WHERE id = ?", pending.pop())
        return response

    assert get(client, f"/incidents/{incident.id}", headers=headers)[0].get_json()["title"] == "Original"
    second, computed = get(client, f"/incidents/{incident.id}", headers=headers)
    assert computed > 0 and second.get_json()["title"] == "Changed"


@sqlite_only
@pytest.mark.parametrize(("change", "url", "status", "total"), [
    ("revoke", "/incidents/", 401, None),
    ("deactivate", "/incidents/", 401, None),
    ("demote", "/users/", 403, None),
    ("demote", "/incidents/", 200, 0),  # a reporter sees only their own incidents
])
def test_losing_a_right_ends_the_cached_answer_at_once(client, people, change, url, status, total):
    """Revoked token, deactivated user, changed role: the next GET is refused or filtered, not replayed."""
    factories.make_incident(people["reporter"])
    headers = bearer(people["tech"])
    assert get(client, url, headers=headers)[0].status_code == 200 and get(client, url, headers=headers)[1] == 0
    if change == "revoke":
        assert client.delete("/auth/tokens/current", headers=headers).status_code == 204
    else:
        update_user(user=people["tech"], **({"active": False} if change == "deactivate" else {"role": Role.REPORTER}))
    after, computed = get(client, url, headers=headers)
    assert (after.status_code, computed > 0) == (status, True)
    assert total is None or after.get_json()["total"] == total


@sqlite_only
def test_tokens_and_users_never_share_an_answer(client, people):
    """The admin's cached list is not the reporter's, nor is it another token's of the same admin."""
    factories.make_incident(people["reporter"])
    factories.make_incident(people["reporter_other"])
    admin, reporter, admin_again = bearer(people["admin"]), bearer(people["reporter"]), bearer(people["admin"])
    assert get(client, "/incidents/", headers=admin)[0].get_json()["total"] == 2
    mine, computed = get(client, "/incidents/", headers=reporter)
    assert computed > 0 and mine.get_json()["total"] == 1
    assert get(client, "/incidents/", headers=admin_again)[1] > 0


@sqlite_only
@pytest.mark.parametrize(("query", "extra"), [
    ("?per_page=1", {}),
    ("?sort=created_at", {}),
    ("", {"Accept": "text/html"}),
    ("", {"Accept-Language": "fr"}),
], ids=["per_page", "sort", "accept", "accept-language"])
def test_another_query_string_or_header_is_another_entry(client, people, query, extra):
    """A request differing only in its query string or one header is computed, not served the first's answer."""
    factories.make_incident(people["reporter"])
    factories.make_incident(people["reporter"])
    headers = bearer(people["admin"])
    base, _ = get(client, "/incidents/", headers=headers)
    other, computed = get(client, f"/incidents/{query}", headers={**headers, **extra})
    assert computed > 0 and other.status_code == 200
    if query == "?per_page=1":
        assert len(other.get_json()["items"]) == 1 < len(base.get_json()["items"])


@sqlite_only
@pytest.mark.parametrize(("method", "url", "kind", "extra"), [
    ("GET", "/incidents/", "bearer", {"_cookie": "theme=dark"}),
    ("GET", "/incidents/", "basic", {}),
    ("GET", "/health", "none", {}),
    ("GET", "/incidents/", "bearer", {"Content-Type": "application/json", "_body": "{}"}),
    ("HEAD", "/incidents/", "bearer", {}),
    ("GET", "/incidents/999", "bearer", {}),  # 404
    ("GET", "/incidents/", "none", {"Authorization": "Bearer not-a-token"}),  # 401
], ids=["cookie", "basic", "no-authorization", "get-with-body", "head", "not-found", "unauthorized"])
def test_what_is_never_cached_is_computed_every_time(app, client, people, method, url, kind, extra):
    """A cookie, no bearer token, a body, not a GET, not a 200: SQL runs each time, nothing is kept."""
    extra = dict(extra)
    body = extra.pop("_body", None)
    if "_cookie" in extra:  # the test client sends its jar, not a Cookie header given to it
        client.set_cookie(*extra.pop("_cookie").split("="))
    headers = {**{"bearer": bearer(people["admin"]), "basic": basic("admin"), "none": {}}[kind], **extra}
    runs = []
    for _ in range(3):
        with app.app_context(), recording() as seen:
            client.open(url, method=method, headers=headers, data=body)
        runs.append(len(seen))
    assert all(count > 0 for count in runs), runs
    if kind == "bearer":  # nor did they leave an answer for the plain request
        client.delete_cookie("theme")
        assert get(client, url, headers={"Authorization": headers["Authorization"]})[1] > 0


@sqlite_only
@pytest.mark.parametrize("asked", [{"Cache-Control": "no-cache"}, {"Cache-Control": "max-age=0"},
                                   {"Pragma": "no-cache"}, {"Cache-Control": "no-store"}],
                         ids=["no-cache", "max-age=0", "pragma", "no-store"])
def test_asking_for_a_fresh_answer_computes_one(app, client, people, asked):
    """Cache-Control: no-cache / max-age=0 / no-store, Pragma: no-cache: never answered from the cache;
    the answer is kept for the next plain request, except after no-store (RFC 9111 5.2.1.5)."""
    incident = factories.make_incident(people["reporter"], title="Original")
    headers = bearer(people["admin"])
    get(client, "/incidents/", headers=headers)
    assert get(client, "/incidents/", headers=headers)[1] == 0
    commit_elsewhere(database_file(app), "UPDATE incidents SET title = 'Changed' WHERE id = ?", incident.id)
    for _ in range(2):
        fresh, computed = get(client, "/incidents/", headers={**headers, **asked})
        assert computed > 0 and fresh.get_json()["items"][0]["title"] == "Changed"
    kept, replayed = get(client, "/incidents/", headers=headers)
    assert kept.data == fresh.data
    assert (replayed == 0) == (asked != {"Cache-Control": "no-store"})


@sqlite_only
def test_an_answer_too_big_to_keep_is_computed_each_time(client, people):
    """A page over MAX_BODY_BYTES is never kept (one token cannot pin much memory); a small one is."""
    for n in range(30):
        factories.make_incident(people["reporter"], description=f"{n} " + "x" * 3000)
    headers = bearer(people["admin"])
    big, small = "/incidents/?per_page=30", "/incidents/?per_page=5"
    sizes = [len(get(client, url, headers=headers)[0].data) for url in (big, small)]
    assert sizes[0] > MAX_BODY_BYTES > sizes[1]
    assert get(client, big, headers=headers)[1] > 0 and get(client, small, headers=headers)[1] == 0


@sqlite_only
def test_a_404_is_not_replayed_once_the_incident_exists(client, people):
    """GET of the next id: 404; once it is created the same GET answers 200 with it."""
    headers, next_id = bearer(people["admin"]), factories.make_incident(people["reporter"]).id + 1
    assert get(client, f"/incidents/{next_id}", headers=headers)[0].status_code == 404
    assert factories.make_incident(people["reporter"], title="Now here").id == next_id
    assert get(client, f"/incidents/{next_id}", headers=headers)[0].get_json()["title"] == "Now here"


@sqlite_only
def test_an_answer_that_sets_a_cookie_is_not_stored(make_app):
    """GET /login with CSRF on sets a fresh session cookie each time; a bearer header does not freeze it."""
    app = make_app(RESPONSE_CACHE_SECONDS=SECONDS, WTF_CSRF_ENABLED=True)
    with app.app_context():
        client = app.test_client(use_cookies=False)
        headers = {"Authorization": "Bearer anything"}
        first, second = (get(client, "/login", headers=headers)[0] for _ in range(2))
        assert first.status_code == second.status_code == 200
        assert first.headers["Set-Cookie"] != second.headers["Set-Cookie"]


@sqlite_only
def test_an_entry_expires_after_the_configured_seconds(make_app):
    """With no commit at all, an answer older than RESPONSE_CACHE_SECONDS is computed again."""
    app = make_app(RESPONSE_CACHE_SECONDS=0.2)
    with app.app_context():
        client, headers = app.test_client(), bearer(factories.make_user(Role.ADMIN))
        get(client, "/incidents/", headers=headers)
        assert get(client, "/incidents/", headers=headers)[1] == 0
        time.sleep(0.25)
        assert get(client, "/incidents/", headers=headers)[1] > 0


@pytest.fixture
def counter(tmp_path) -> CommitCounter:
    """A CommitCounter on a fresh SQLite file holding one table."""
    path = tmp_path / "counted.db"
    commit_elsewhere(str(path), "CREATE TABLE t (x)")
    return CommitCounter(str(path))


def test_a_commit_elsewhere_changes_the_version_a_rollback_does_not(counter):
    """Another connection's or process's commit moves the version; a rolled-back write and reads do not."""
    path, start = counter._path, counter.current()
    assert counter.current() == start
    connection = sqlite3.connect(path)
    connection.execute("INSERT INTO t VALUES (1)")
    connection.rollback()
    connection.close()
    assert counter.current() == start
    commit_elsewhere(path, "INSERT INTO t VALUES (2)")
    after_connection = counter.current()
    assert after_connection != start
    commit_elsewhere(path, "INSERT INTO t VALUES (3)", process=True)
    assert counter.current() != after_connection


def test_a_version_read_after_an_error_never_equals_one_from_before(counter):
    """An unreadable file gives None; the new connection after it numbers afresh, so its versions
    carry which connection read them and cannot match an answer kept before the error."""
    before = counter.current()
    counter._connection.close()  # what a failing read looks like to the counter
    assert counter.current() is None
    after = counter.current()
    assert after is not None and after != before and after[-1] == before[-1]


def test_the_least_recently_used_entry_is_evicted_first(counter):
    """Beyond max_entries the entry read longest ago goes; reading one keeps it."""
    cache, version = VersionedCache(counter, SECONDS, max_entries=2), counter.current()
    cache.put("a", version, 1)
    cache.put("b", version, 2)
    assert cache.get("a", version) == 1
    cache.put("c", version, 3)
    assert [cache.get(key, version) for key in "abc"] == [1, None, 3]


def test_a_value_computed_across_a_commit_is_not_served(counter):
    """get_or_compute stores under the version read before computing: a commit meanwhile makes it stale."""
    cache, calls = VersionedCache(counter, SECONDS), []

    def compute():
        calls.append(1)
        if len(calls) == 1:
            commit_elsewhere(counter._path, "INSERT INTO t VALUES (1)")
        return len(calls)

    assert [cache.get_or_compute("k", compute) for _ in range(3)] == [1, 2, 2]


@pytest.mark.parametrize(("uri", "expected"), [
    ("postgresql://user@localhost/portal", None),
    ("sqlite://", None),
    ("sqlite:///:memory:", None),
    ("sqlite:///portal.db", "instance/portal.db"),
    ("sqlite:////srv/data/portal.db", "/srv/data/portal.db"),
    ("sqlite:///file:/srv/data/portal.db?uri=true", None),
])
def test_a_counter_exists_only_for_a_sqlite_file(tmp_path, uri, expected):
    """for_app: None for PostgreSQL, in-memory SQLite and `uri=true` URLs; a relative file lives in the
    instance folder."""
    app = Flask("probe", instance_path=str(tmp_path / "instance"))
    app.config["SQLALCHEMY_DATABASE_URI"] = uri
    found = CommitCounter.for_app(app)
    assert (found._path.removeprefix(f"{tmp_path}/") if found else None) == expected


@pytest.mark.parametrize("seconds", [0, SECONDS])
def test_no_cache_without_a_sqlite_file_or_seconds(make_app, seconds):
    """RESPONSE_CACHE_SECONDS=0, PostgreSQL (TEST_DATABASE_URL) or in-memory: nothing installed, all computed."""
    on = seconds > 0 and not postgres.ENABLED
    app = make_app(RESPONSE_CACHE_SECONDS=seconds)
    with app.app_context():
        headers = bearer(factories.make_user(Role.ADMIN))
        get(app.test_client(), "/incidents/", headers=headers)  # the replay layer is mounted by the first request
        assert ("response_cache" in app.extensions, isinstance(app.wsgi_app, ReplayLayer)) == (on, on)
        assert (get(app.test_client(), "/incidents/", headers=headers)[1] == 0) == on
    in_memory = create_app("testing", SQLALCHEMY_DATABASE_URI="sqlite://", RESPONSE_CACHE_SECONDS=seconds)
    assert "response_cache" not in in_memory.extensions and not isinstance(in_memory.wsgi_app, ReplayLayer)


def body(response) -> str:
    """The dashboard's body, without the per-request parts around it (flashed messages, navigation)."""
    page = response.get_data(as_text=True)
    return page[page.index("<h1"):page.index("</main>")]


@sqlite_only
def test_the_dashboard_body_is_reused_until_a_commit(client, people):
    """Second GET / runs only the session's queries; a reload or a new incident computes it again."""
    factories.make_incident(people["reporter"], title="First one")
    login(client, "admin")
    first, computed = get(client, "/")
    second, reused = get(client, "/")
    assert 0 < reused < computed and body(first) == body(second) and "First one" in body(second)
    assert get(client, "/", headers={"Cache-Control": "max-age=0"})[1] == computed
    assert get(client, "/", headers={"Cache-Control": "no-store"})[1] == computed
    assert get(client, "/")[1] == reused
    factories.make_incident(people["reporter"], title="Second one")
    third, recomputed = get(client, "/")
    assert recomputed == computed and "Second one" in body(third)


@sqlite_only
def test_each_user_has_their_own_dashboard(app, people):
    """The admin's cached body is never shown to a reporter, and the other way round."""
    factories.make_incident(people["reporter_other"], title="Someone else's")
    clients = {username: app.test_client() for username in ("admin", "reporter")}
    for username, client in clients.items():  # a sign-in commits, which would end every kept body
        login(client, username)
    pages = {}
    for username in ("admin", "reporter", "admin", "reporter"):
        pages.setdefault(username, []).append(body(get(clients[username], "/")[0]))
    assert "Unassigned — to triage" in pages["admin"][1] and "Someone else&#39;s" in pages["admin"][1]
    assert "Unassigned — to triage" not in pages["reporter"][1] and "Someone else" not in pages["reporter"][1]
    assert pages["admin"][0] == pages["admin"][1] and pages["reporter"][0] == pages["reporter"][1]


@sqlite_only
def test_an_unreadable_database_file_turns_the_caches_aside(make_app, tmp_path):
    """When the version cannot be read, nothing is kept: the dashboard and the API compute every answer."""
    app = make_app(RESPONSE_CACHE_SECONDS=SECONDS)
    caches = app.extensions["response_cache"]
    caches.fragments.counter._path = str(tmp_path / "missing" / "portal.db")
    caches.answers.counter._path = str(tmp_path / "missing" / "portal.db")
    with app.app_context():
        headers = bearer(factories.make_user(Role.ADMIN, username="admin"))
        client = app.test_client()
        assert [get(client, "/incidents/", headers=headers)[1] > 0 for _ in range(2)] == [True, True]
        login(client, "admin")
        assert [get(client, "/")[1] for _ in range(2)] == [get(client, "/")[1]] * 2
        assert caches.fragments._entries == {}
