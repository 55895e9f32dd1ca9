"""`prev` cursors: walking a list forward by `next` and back by `prev` gives the same pages, in
every sort, across the valued/nulls boundary of a nullable sort key (`resolve_due_at`: incidents
on hold have none) and through merged index walks (several statuses); the Link header carries the
cursor too, and page-number pages keep their numbered prev."""
from datetime import UTC, datetime
from urllib.parse import parse_qs, urlsplit

import pytest

from app.api.schemas import SORT_CHOICES
from app.extensions import db
from app.incidents import service
from app.incidents.enums import Status
from app.models import Incident
from tests import factories
from tests.api_helpers import assert_problem, bearer

PER_PAGE = 4


@pytest.fixture
def listed(app, people):
    """27 incidents: nine reported three at a time in the same instant with the same severity (every
    tie-breaker counts), the rest spread over severities and statuses, five of them on hold (no
    resolve due time: the nulls part of `resolve_due_at`)."""
    for n in range(9):
        service.create_incident(actor=people["reporter"], title=f"Twin {n}", description="Same instant.",
                                severity="high", at=datetime(2025, 3, 1 + n % 3, 12, 0, tzinfo=UTC))
    severities = ["low", "medium", "high", "critical"]
    statuses = [Status.OPEN, Status.ASSIGNED, Status.IN_PROGRESS, Status.ON_HOLD, Status.RESOLVED, Status.ON_HOLD]
    for n in range(18):
        incident = factories.make_incident(people["reporter"], title=f"Spread {n}", severity=severities[n % 4],
                                           urgency=["low", "high"][n % 2])
        factories.bring_to(statuses[n % len(statuses)], incident=incident, admin=people["admin"],
                           technician=people["tech"])
    db.session.commit()
    nulls = db.session.scalar(db.select(db.func.count()).select_from(Incident).where(Incident.resolve_due_at.is_(None)))
    assert 0 < nulls < 27
    return bearer(people["admin"])


def links(response) -> dict[str, dict[str, list[str]]]:
    """rel -> the query of its URL."""
    found = {}
    for part in response.headers["Link"].split(","):
        url, rel = part.split(";")
        found[rel.split("=")[1].strip('"')] = parse_qs(urlsplit(url.strip()[1:-1]).query)
    return found


def get(client, headers, query: str, cursor: str | None = None):
    more = f"&cursor={cursor}" if cursor else ""
    response = client.get(f"/incidents/?per_page={PER_PAGE}&{query}{more}", headers=headers)
    assert response.status_code == 200, response.get_json()
    return response


def ids(response) -> list[int]:
    return [item["id"] for item in response.get_json()["items"]]


QUERIES = [f"sort={sort}" for sort in SORT_CHOICES] + [
    f"sort={sort}&status=open&status=on_hold&status=in_progress" for sort in ("resolve_due_at", "-resolve_due_at",
                                                                              "-severity")]


def test_walking_forward_then_back_gives_the_same_pages(client, listed):
    """In every sort (and with merged walks): next, next, … to the end; then prev, prev, … to the
    start: the same pages in reverse; the first page has no prev, the last no next; Link's prev is
    the body's cursor."""
    for query in QUERIES:
        walk_both_ways(client, listed, query)


def walk_both_ways(client, listed, query: str) -> None:
    first = get(client, listed, query)
    assert first.get_json()["prev"] is None
    forward, response = [ids(first)], first
    while response.get_json()["next"]:
        response = get(client, listed, query, cursor=response.get_json()["next"])
        forward.append(ids(response))
    assert len(forward) >= 4 and all(len(page) == PER_PAGE for page in forward[:-1]), query
    seen = [i for page in forward for i in page]
    assert len(seen) == len(set(seen)) == first.get_json()["total"]

    backward = [forward[-1]]
    while response.get_json()["prev"]:
        body = response.get_json()
        assert links(response)["prev"]["cursor"] == [body["prev"]]
        response = get(client, listed, query, cursor=body["prev"])
        assert response.get_json()["page"] is None
        backward.append(ids(response))
    assert backward[::-1] == forward, query
    assert response.get_json()["next"]  # the first page again, reached by prev: it goes on


@pytest.mark.parametrize("sort", ["resolve_due_at", "-resolve_due_at"])
def test_a_page_across_the_nulls_boundary_reads_back(client, listed, sort):
    """The page holding the last valued rows and the first nulls, reached by prev from the page
    after it, is that same page; and prev from a page of nulls only lands on the boundary."""
    pages, response = [], get(client, listed, f"sort={sort}")
    while True:
        pages.append((response, [item["sla"]["resolve"]["due_at"] for item in response.get_json()["items"]]))
        if not response.get_json()["next"]:
            break
        response = get(client, listed, f"sort={sort}", cursor=response.get_json()["next"])
    boundary = next(n for n, (_, dues) in enumerate(pages) if None in dues)
    dues = pages[boundary][1]
    assert dues[0] is not None and dues[-1] is None  # this page straddles: valued rows, then nulls
    assert boundary + 1 < len(pages)
    back = get(client, listed, f"sort={sort}", cursor=pages[boundary + 1][0].get_json()["prev"])
    assert ids(back) == ids(pages[boundary][0])
    again = get(client, listed, f"sort={sort}", cursor=back.get_json()["prev"])
    assert ids(again) == ids(pages[boundary - 1][0])


def test_page_number_pages_keep_their_numbered_prev_and_get_a_cursor(client, listed):
    """`page=3`: Link's prev is page 2 (as before); the body's prev reads page 2 too."""
    third = get(client, listed, "sort=-created_at&page=3")
    assert links(third)["prev"]["page"] == ["2"] and "cursor" not in links(third)["prev"]
    by_cursor = get(client, listed, "sort=-created_at", cursor=third.get_json()["prev"])
    assert ids(by_cursor) == ids(get(client, listed, "sort=-created_at&page=2"))
    assert get(client, listed, "sort=-created_at&page=1").get_json()["prev"] is None


def test_a_prev_cursor_of_another_sort_is_refused(client, listed):
    """A prev cursor belongs to its list's sort: in the reversed sort (whose walk it would be) or
    any other, 422 naming `cursor`."""
    second = get(client, listed, "sort=severity&page=2").get_json()["prev"]
    for sort in ("-severity", "created_at"):
        assert_problem(client.get(f"/incidents/?sort={sort}&cursor={second}", headers=listed), 422, "cursor")


def test_the_prev_field_is_documented(client):
    """/openapi.json describes `prev` on the page."""
    spec = client.get("/openapi.json").get_json()
    page = spec["components"]["schemas"]
    described = [schema["properties"]["prev"] for schema in page.values()
                 if "prev" in schema.get("properties", {}) and "next" in schema["properties"]]
    assert described and "page before" in described[0]["description"]
