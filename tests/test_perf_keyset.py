"""Keyset pagination: following `next` cursors visits exactly the rows, in exactly the order, that
page numbers do, for every sort and filter, ties included; the API exposes it as `cursor`."""
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from app.extensions import db
from app.incidents import paging, service
from app.incidents.enums import Severity, Status
from app.incidents.queries import IncidentFilters, list_incidents
from app.models import Incident
from tests.api_helpers import assert_problem, bearer
from tests.perf_helpers import load, user

SORTS = ["-created_at", "created_at", "-updated_at", "updated_at", "-severity", "severity"]
PER_PAGE = 7


@pytest.fixture
def incidents(app, people):
    """600 generated incidents, plus eighteen reported six at a time in the same microsecond with
    the same severity, so that every tie-breaker (created_at, then id) is needed."""
    load(600)
    for n in range(18):
        moment = datetime(2025, 3, 1 + n % 3, 12, 0, tzinfo=UTC)
        service.create_incident(actor=people["reporter"], title=f"Twin {n}", description="Same instant.",
                                severity="high", at=moment)
    return app


def _reference(actor, filters: IncidentFilters, sort: str) -> list[int]:
    """The whole list, filtered and sorted in Python: what the pages must add up to."""
    rows = db.session.scalars(select(Incident)).all()
    keep = [
        i for i in rows
        if (actor.role != "reporter" or i.reporter_id == actor.id)
        and (not filters.status or i.status in filters.status)
        and (not filters.severity or i.severity in filters.severity)
        and (filters.technician_id is None or i.technician_id == filters.technician_id)
    ]
    names = paging.SORT_KEYS[sort.lstrip("-")]

    def key(incident):
        return tuple(getattr(incident, name).rank if name == "severity" else getattr(incident, name)
                     for name in names)

    return [i.id for i in sorted(keep, key=key, reverse=sort.startswith("-"))]


def _by_pages(actor, filters, sort) -> list[int]:
    ids, number = [], 1
    while True:
        page = list_incidents(actor=actor, filters=filters, sort=sort, page=number, per_page=PER_PAGE)
        ids += [i.id for i in page.items]
        if not page.has_next:
            return ids
        number += 1


def _by_cursor(actor, filters, sort) -> list[int]:
    page = list_incidents(actor=actor, filters=filters, sort=sort, per_page=PER_PAGE)
    ids = [i.id for i in page.items]
    while page.next_cursor:
        page = list_incidents(actor=actor, filters=filters, sort=sort, per_page=PER_PAGE, cursor=page.next_cursor)
        assert page.page is None and len(page.items) <= PER_PAGE
        ids += [i.id for i in page.items]
    return ids


FILTERS = {
    "all": ("admin", {}),
    "several statuses": ("admin", {"status": [Status.OPEN, Status.ASSIGNED, Status.IN_PROGRESS]}),
    "technician and statuses": ("admin", {"technician_id": "bulk-tech-003",
                                          "status": [Status.RESOLVED, Status.CLOSED]}),
    "severity": ("admin", {"severity": [Severity.HIGH]}),
    "a reporter's own": ("reporter", {}),
}


# Filters on several statuses read one index walk per status, merged; deep pages (here: all of
# them, MAX_BRANCH_ROWS=0) read a single walk instead. Both must give the same list.
CASES = [(name, sort, merged) for name in FILTERS for sort in SORTS
         for merged in ((True, False) if len(FILTERS[name][1].get("status", ())) > 1 else (True,))]


@pytest.mark.parametrize(("name", "sort", "merged_walks"), CASES,
                         ids=[f"{n} {s}{'' if m else ' one walk'}" for n, s, m in CASES])
def test_cursor_pages_partition_the_list_like_page_numbers(incidents, people, monkeypatch, name, sort,
                                                           merged_walks):
    """Same ids, same order, no overlap, nothing skipped, against a reference sorted in Python."""
    if not merged_walks:
        monkeypatch.setattr(paging, "MAX_BRANCH_ROWS", 0)
    who, spec = FILTERS[name]
    actor = people[who]
    if "technician_id" in spec:
        spec = spec | {"technician_id": user(spec["technician_id"]).id}
    filters = IncidentFilters(**spec)
    expected = _reference(actor, filters, sort)
    assert len(expected) > 2 * PER_PAGE
    assert _by_pages(actor, filters, sort) == expected
    assert _by_cursor(actor, filters, sort) == expected


def test_the_last_page_has_no_cursor(incidents, people):
    """`next_cursor` is None exactly when nothing follows, by page number or by cursor."""
    admin = people["admin"]
    total = list_incidents(actor=admin, filters=IncidentFilters()).total
    last = list_incidents(actor=admin, filters=IncidentFilters(), page=-(-total // 100), per_page=100)
    assert last.items and last.next_cursor is None
    before_last = list_incidents(actor=admin, filters=IncidentFilters(), page=total // 100, per_page=100)
    tail = list_incidents(actor=admin, filters=IncidentFilters(), per_page=100, cursor=before_last.next_cursor)
    assert [i.id for i in tail.items] == [i.id for i in last.items] and tail.next_cursor is None


class TestApi:
    """GET /incidents/?cursor=: the body's `next`, the Link header, and refusals."""

    def _walk(self, client, headers, query) -> list[int]:
        """Page 1 by number, then the body's `next` cursor, then the Link header's next."""
        first = client.get(f"/incidents/?{query}", headers=headers).get_json()
        ids = [item["id"] for item in first["items"]]
        url = f"/incidents/?{query}&cursor={first['next']}"
        while url:
            response = client.get(url, headers=headers)
            assert response.status_code == 200, response.get_json()
            body = response.get_json()
            assert body["page"] is None
            ids += [item["id"] for item in body["items"]]
            links = {part.split('rel="')[1].rstrip('"'): part.split(">")[0].lstrip("<")
                     for part in response.headers["Link"].split(", ")}
            assert ("next" in links) == (body["next"] is not None)
            if body["next"]:
                assert f"cursor={body['next']}" in links["next"] and "&page=" not in links["next"]
                assert "status=open" in links["next"] and "sort=-severity" in links["next"]
            url = links.get("next")
        return ids

    def test_following_next_reads_the_whole_list_once(self, client, incidents, people):
        """First page by number, then by cursor (the Link header's next), filters and sort kept."""
        headers = bearer(people["admin"])
        query = "status=open&status=in_progress&sort=-severity&per_page=9"
        ids = self._walk(client, headers, query)
        pages, number = [], 1
        while True:
            body = client.get(f"/incidents/?{query}&page={number}", headers=headers).get_json()
            pages += [item["id"] for item in body["items"]]
            if not body["items"]:
                break
            number += 1
        assert ids == pages and len(ids) == len(set(ids)) > 18

    @pytest.mark.parametrize("cursor", ["garbage", "W10", "WyItY3JlYXRlZF9hdCIsMSwyXQ", "x" * 401])
    def test_a_bad_cursor_is_a_422_naming_it(self, client, incidents, people, cursor):
        """Not base64 JSON, the wrong shape, the wrong types, too long: 422 with errors.cursor."""
        response = client.get(f"/incidents/?cursor={cursor}", headers=bearer(people["admin"]))
        assert_problem(response, 422, "cursor")

    def test_a_cursor_of_another_sort_is_refused(self, client, incidents, people):
        """A cursor remembers its sort: reused under another, it would skip or repeat rows."""
        headers = bearer(people["admin"])
        cursor = client.get("/incidents/?sort=severity", headers=headers).get_json()["next"]
        assert client.get(f"/incidents/?sort=severity&cursor={cursor}", headers=headers).status_code == 200
        assert_problem(client.get(f"/incidents/?sort=-severity&cursor={cursor}", headers=headers), 422, "cursor")


def test_search_pages_count_every_match_once(incidents, people):
    """A search page carries its total from the same pass (a window count); past the end the
    total still holds; by page number or by cursor, the same matches in the same order."""
    admin, filters = people["admin"], IncidentFilters(q="twin")
    pages = [list_incidents(actor=admin, filters=filters, page=n, per_page=PER_PAGE) for n in (1, 2, 3, 4)]
    assert [len(p.items) for p in pages] == [7, 7, 4, 0]
    assert {p.total for p in pages} == {18}
    twins = db.session.scalars(select(Incident).where(Incident.title.like("Twin %"))).all()
    by_pages = [i.id for p in pages for i in p.items]
    assert by_pages == [i.id for i in sorted(twins, key=lambda i: (i.created_at, i.id), reverse=True)]
    assert _by_cursor(admin, filters, "-created_at") == by_pages
    assert pages[2].next_cursor is None and pages[1].next_cursor is not None
