"""Conditional GET (SPEC "The queue"): `GET /incidents/<id>` and `GET /incidents/` answer 304 Not
Modified, with no body and the same ETag, to an If-None-Match that names their tag (weak comparison,
lists of tags, `*`), and agree with the server's replay cache (app/caching.py)."""
import pytest
from sqlalchemy import update

from app.api import payload
from app.extensions import db
from app.incidents import service
from app.models import ApiToken, utcnow
from tests import factories
from tests.api_helpers import basic, bearer, held_context
from tests.perf_helpers import recording


@pytest.fixture
def incident(people):
    return factories.make_incident(people["reporter"], title="Printer on fire")


def _detail(client, incident, who="reporter", **headers):
    return client.get(f"/incidents/{incident.id}", headers={**basic(who), **headers})


@pytest.mark.parametrize("if_none_match", ['"{v}"', 'W/"{v}"', '"99", "{v}"', '"nope",W/"{v}"', "*"])
def test_the_detail_answers_304_to_a_matching_if_none_match(client, incident, if_none_match):
    """Same tag, weakened tag, a list holding it, or `*`: 304, no body, the same ETag."""
    first = _detail(client, incident)
    assert first.status_code == 200 and first.headers["ETag"] == f'"{incident.version}"'
    again = _detail(client, incident, **{"If-None-Match": if_none_match.format(v=incident.version)})
    assert again.status_code == 304
    assert again.data == b""
    assert again.headers["ETag"] == first.headers["ETag"]


@pytest.mark.parametrize("if_none_match", ['"0"', 'W/"0"', '"1 "', '"2"', ""])
def test_the_detail_answers_200_to_any_other_tag(client, incident, if_none_match):
    """A tag the incident is not at (or a malformed one) gets the whole answer."""
    response = _detail(client, incident, **{"If-None-Match": if_none_match})
    assert response.status_code == 200 and response.get_json()["id"] == incident.id


def test_a_change_ends_the_304(client, people, incident):
    """After an edit the old tag no longer matches: 200 with the new version and its tag."""
    tag = _detail(client, incident).headers["ETag"]
    edited = client.patch(f"/incidents/{incident.id}", headers=basic("admin"), json={"title": "Printer smoking"})
    assert edited.status_code == 200
    response = _detail(client, incident, **{"If-None-Match": tag})
    assert response.status_code == 200
    assert response.get_json()["title"] == "Printer smoking"
    assert response.headers["ETag"] == f'"{incident.version}"' != tag
    assert _detail(client, incident, **{"If-None-Match": response.headers["ETag"]}).status_code == 304


def test_a_stranger_gets_404_not_304(client, incident):
    """If-None-Match: * must not tell another reporter that the incident exists."""
    response = _detail(client, incident, who="reporterother", **{"If-None-Match": "*"})
    assert response.status_code == 404
    assert response.mimetype == "application/problem+json"


def _listing(client, who="admin", query="", **headers):
    return client.get(f"/incidents/{query}", headers={**basic(who), **headers})


def test_the_list_has_a_weak_etag_and_answers_304(client, incident):
    """A weak tag (the SLA seconds in the body tick); a matching If-None-Match gets 304 and no body."""
    first = _listing(client)
    tag = first.headers["ETag"]
    assert first.status_code == 200 and tag.startswith('W/"')
    for sent in (tag, tag.removeprefix("W/"), f'"other", {tag}', "*"):
        again = _listing(client, **{"If-None-Match": sent})
        assert (again.status_code, again.data, again.headers["ETag"]) == (304, b"", tag), sent
    assert _listing(client, **{"If-None-Match": 'W/"other"'}).status_code == 200


def test_the_list_tag_changes_with_the_page(client, people, incident):
    """An edit of an incident on the page, a new incident, a comment-free assignment: each a new tag."""
    tags = [_listing(client).headers["ETag"]]
    service.edit_incident(actor=people["admin"], incident=incident, details={"severity": "high"})
    tags.append(_listing(client).headers["ETag"])
    factories.make_incident(people["reporter_other"], title="Another")
    tags.append(_listing(client).headers["ETag"])
    service.assign_incident(actor=people["admin"], incident=incident, technician_id=people["tech"].id)
    tags.append(_listing(client).headers["ETag"])
    assert len(set(tags)) == 4
    response = _listing(client, **{"If-None-Match": tags[0]})
    assert response.status_code == 200 and response.headers["ETag"] == tags[-1]


def test_the_list_tag_depends_on_the_query_and_the_caller(client, people, incident):
    """Another filter, another page size or another caller is another answer: its own tag, never
    a 304 for the first one's tag."""
    tag = _listing(client).headers["ETag"]
    for who, query in (("admin", "?status=open"), ("admin", "?per_page=10"), ("tech", ""), ("reporter", "")):
        other = _listing(client, who=who, query=query, **{"If-None-Match": tag})
        assert other.status_code == 200 and other.headers["ETag"] != tag, (who, query)
    # The same answer asked the same way is the same tag.
    again = [_listing(client, query="?status=open").headers["ETag"] for _ in range(2)]
    assert again[0] == again[1]


def test_the_list_tag_moves_when_a_person_is_renamed(client, people, incident):
    """A name shown on the page changes no incident's version; the tag still moves."""
    tag = _listing(client).headers["ETag"]
    people["reporter"].name = "Renamed Reporter"
    db.session.commit()
    assert _listing(client, **{"If-None-Match": tag}).status_code == 200


# ---- with the replay cache (app/caching.py): SQLite files only ------------------------------------

@pytest.fixture
def cached(make_app):
    """An app with the replay cache on, its people and an incident; a bearer token already used."""
    with held_context(make_app(RESPONSE_CACHE_SECONDS=60.0)) as app:
        admin = factories.make_user("admin", username="cacheadmin")
        reporter = factories.make_user("reporter", username="cachereporter")
        incident = factories.make_incident(reporter, title="Cached")
        headers = bearer(admin)
        db.session.execute(update(ApiToken).values(last_used_at=utcnow()))
        db.session.commit()
        yield app, admin, incident, headers


def _get(client, url, **headers):
    """A GET in an app context of its own (as in production) and the SQL statements it ran."""
    with client.application.app_context(), recording() as seen:
        response = client.get(url, headers=headers)
    return response, len(seen)


def _steady(answer) -> str:
    """An answer's body without the SLA seconds that tick with the clock."""
    return payload._TICKING.sub("", answer.get_data(as_text=True))


@pytest.mark.sqlite_only
@pytest.mark.parametrize("path", ["/incidents/", "/incidents/{id}"])
@pytest.mark.parametrize("fresh", [{}, {"Cache-Control": "no-cache"}, {"Pragma": "no-cache"}])
def test_the_cache_and_the_304_agree(cached, path, fresh):
    """A cached 200 for the plain GET, then If-None-Match with its tag (replayable or asking for a
    fresh answer): 304 with the same tag; the 304 is never kept to be replayed to the plain GET,
    whose replay still carries the body and the tag."""
    app, admin, incident, headers = cached
    client, url = app.test_client(), path.format(id=incident.id)
    first, _ = _get(client, url, **headers)
    replayed, statements = _get(client, url, **headers)
    assert (first.status_code, replayed.status_code, statements) == (200, 200, 0)
    tag = first.headers["ETag"]
    for _ in range(2):  # the second time, a kept 304 would be replayed: it must be computed again
        conditional, _ = _get(client, url, **headers, **fresh, **{"If-None-Match": tag})
        assert (conditional.status_code, conditional.data, conditional.headers["ETag"]) == (304, b"", tag)
    plain, statements = _get(client, url, **headers, **fresh)
    # A fresh answer counts the SLA seconds again: they may have ticked since the first (the tag
    # leaves them out too).
    assert plain.status_code == 200 and plain.headers["ETag"] == tag
    assert _steady(plain) == _steady(first)
    assert statements > 0 if fresh else statements == 0


@pytest.mark.sqlite_only
@pytest.mark.parametrize("path", ["/incidents/", "/incidents/{id}"])
def test_a_commit_ends_the_304_even_from_the_cache(cached, path):
    """A tag answered 304, then a change: the same conditional GET is 200 with the new body and a
    new tag (the cache holds nothing computed before the commit)."""
    app, admin, incident, headers = cached
    client, url = app.test_client(), path.format(id=incident.id)
    tag = _get(client, url, **headers)[0].headers["ETag"]
    assert _get(client, url, **headers, **{"If-None-Match": tag})[0].status_code == 304
    with app.app_context():
        service.edit_incident(actor=db.session.get(type(admin), admin.id),
                              incident=db.session.get(type(incident), incident.id), details={"title": "Changed"})
    after, _ = _get(client, url, **headers, **{"If-None-Match": tag})
    assert after.status_code == 200 and after.headers["ETag"] != tag
    body = after.get_json()
    assert (body["items"][0] if path == "/incidents/" else body)["title"] == "Changed"
