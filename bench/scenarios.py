"""What `make bench` asks of the portal at one dataset size: the endpoints, who asks, and the
state each needs (tokens, a logged-in session, a deep page and its cursor, incidents to move).
Every endpoint is a wrk load, except the export of every incident, which is one long download
measured whole (`stream`: bench/stream.py), though its wrk load still exists for the harness tests."""
import json
import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import requests
from sqlalchemy import create_engine, text

from bench.datasets import url_of
from bench.wrk import Load

# The demo users' password; the bulk users share it (seed/bulk.py).
PASSWORD = json.loads((Path(__file__).resolve().parent.parent / "seed" / "users.json").read_text())["password"]
ADMIN, TECHNICIAN, REPORTER = "admin1", "bulk-tech-001", "bulk-reporter-001"
# The two technicians the transition load reassigns to, in turn (neither is the first assignee).
MOVERS = ("bulk-tech-002", "bulk-tech-003")
# Host names from the bulk generator: each matches about 1 incident in 3,200, a realistic search.
SEARCH_TERMS = ("db-123", "web-245", "cache-310", "mq-177")
# Several words, each a common one: a service and its symptom, as the bulk generator writes titles
# (seed/bulk.py). Each matches about 1 incident in 200 (5,000 at 1M), so a page sorts thousands.
SEARCH_PHRASES = ("payroll rejects logins", "VPN is down", "checkout times out", "mail loses messages")
DETAIL_IDS = 500
TRANSITION_IDS = 2_000
# The summary aggregates the whole range (and the backlog the whole table): seconds at 1M, so it is
# asked by one client at a time (someone opening the reports page), for at least 15 s a run: with
# 16, or even 2, at 1M the requests queued past the run's end and none was answered.
REPORT_CLIENTS = 1
REPORT_SECONDS = 15.0
USER_AGENT = "portal-bench"  # the same as portal.lua's, so the session is never marked non-fresh
# Measured twice: as a client polling it gets it (from the cache while nothing is committed) and
# computed for every request (issue 19's targets are on the computed rows); the rest are never
# cached (the deep page by number, which only shows what OFFSET costs).
COMPUTED_TOO = ("list", "deep_cursor", "filter_status_severity", "filter_technician_me", "search",
                "search_phrase", "detail", "html_list", "html_detail", "dashboard", "summary",
                "summary_by_priority")
COMPUTED = "_computed"
NO_CACHE = {"Cache-Control": "no-cache"}
# The mixed run: creates on a few connections while computed reads run on the rest, both at once
# (two wrk processes). Nine reads to one write is the aim; what a run reached is reported beside it.
MIXED_WRITERS, MIXED_READERS = 2, 14
_CSRF = re.compile(r'<input[^>]*name="csrf_token"[^>]*value="([^"]+)"|<input[^>]*value="([^"]+)"[^>]*name="csrf_token"')


@dataclass
class Endpoint:
    """One line of the results table."""

    key: str
    title: str
    load: Load
    write: bool = False
    # One whole download per round (bench/stream.py) instead of wrk: the export of every incident.
    stream: bool = False
    # For a request that takes seconds at 1M (the reports): fewer clients than wrk.CONNECTIONS, which
    # would only queue behind each other past the run's end, and runs long enough to finish several.
    connections: int | None = None
    min_seconds: float = 0
    # Measured at the same time as this endpoint, as its own row (the mixed run's reads).
    alongside: "Endpoint | None" = None


def token(base: str, username: str) -> str:
    """A bearer token from POST /auth/tokens (the API never hashes a password per request after)."""
    answer = requests.post(f"{base}/auth/tokens", json={"username": username, "password": PASSWORD,
                                                        "name": "make bench"}, timeout=30)
    answer.raise_for_status()
    return answer.json()["token"]


def csrf_token(page: str) -> str:
    """The csrf_token field's value in a form page."""
    match = _CSRF.search(page)
    if match is None:
        raise RuntimeError("no csrf_token field on the page")
    return match.group(1) or match.group(2)


def session_cookie(base: str, username: str) -> str:
    """A logged-in session cookie, through the real form: GET /login for the CSRF token, then POST."""
    headers = {"User-Agent": USER_AGENT}
    form = requests.get(f"{base}/login", headers=headers, timeout=30)
    cookie = f"session={form.cookies['session']}"
    answer = requests.post(f"{base}/login", headers=headers | {"Cookie": cookie}, allow_redirects=False,
                           data={"csrf_token": csrf_token(form.text), "username": username,
                                 "password": PASSWORD}, timeout=30)
    if answer.status_code != 302 or "session" not in answer.cookies:
        raise RuntimeError(f"login as {username} failed: HTTP {answer.status_code}")
    return f"session={answer.cookies['session']}"


def _deep_page(base: str, auth: dict) -> tuple[int, str]:
    """The middle page of the whole list, and the cursor that reaches the same rows."""
    first = requests.get(f"{base}/incidents/", headers=auth, timeout=60).json()
    middle = max(2, -(-first["total"] // first["per_page"]) // 2)
    before = requests.get(f"{base}/incidents/", params={"page": middle - 1}, headers=auth, timeout=120).json()
    return middle, before["next"]


def database_facts(database) -> dict:
    """Ids read straight from the database: users, incidents to read, incidents to move."""
    engine = create_engine(url_of(database))
    try:
        with engine.connect() as connection:
            def user_id(username: str) -> int:
                return connection.execute(text("SELECT id FROM users WHERE username = :name"),
                                          {"name": username}).scalar_one()

            movers = [user_id(name) for name in MOVERS]
            top = connection.execute(text("SELECT max(id) FROM incidents")).scalar_one()
            movable = list(connection.execute(text(
                "SELECT id FROM incidents WHERE status IN ('assigned', 'in_progress') "
                "AND technician_id NOT IN (:first, :second) ORDER BY id LIMIT :limit"),
                {"first": movers[0], "second": movers[1], "limit": TRANSITION_IDS}).scalars())
    finally:
        engine.dispose()
    step = max(1, top // DETAIL_IDS)
    return {"movers": movers, "detail_ids": list(range(step, top + 1, step))[:DETAIL_IDS], "movable": movable}


def computed(endpoint: Endpoint) -> Endpoint:
    """The same requests asking for an answer computed now (`Cache-Control: no-cache`), which the
    portal's caches honour (app/caching.py): the cost of the work itself, beside the cached figure."""
    load = endpoint.load
    return Endpoint(endpoint.key + COMPUTED, endpoint.title + " — computed (no-cache)",
                    Load(load.paths, method=load.method, headers=load.headers | NO_CACHE),
                    connections=endpoint.connections, min_seconds=endpoint.min_seconds)


def endpoints(base: str, database: Path) -> list[Endpoint]:
    """Every endpoint measured, reads first (writes change what later reads would see)."""
    facts = database_facts(database)
    admin = {"Authorization": f"Bearer {token(base, ADMIN)}"}
    technician = {"Authorization": f"Bearer {token(base, TECHNICIAN)}"}
    reporter = {"Authorization": f"Bearer {token(base, REPORTER)}"}
    browser = {"Cookie": session_cookie(base, ADMIN)}
    middle, cursor = _deep_page(base, admin)
    reads = [
        Endpoint("list", "API list, page 1", Load(["/incidents/"], headers=admin)),
        Endpoint("deep_page", "API list, middle page (OFFSET)",
                 Load([f"/incidents/?page={middle}"], headers=admin)),
        Endpoint("deep_cursor", "API list, same rows by cursor",
                 Load([f"/incidents/?cursor={cursor}"], headers=admin)),
        Endpoint("filter_status_severity", "API filter status=open&severity=high",
                 Load(["/incidents/?status=open&severity=high"], headers=admin)),
        Endpoint("filter_technician_me", "API filter technician=me (technician)",
                 Load(["/incidents/?technician=me"], headers=technician)),
        Endpoint("search", "API search q=<host name>", Load([f"/incidents/?q={term}" for term in SEARCH_TERMS],
                                                            headers=admin)),
        Endpoint("search_phrase", "API search q=<service and symptom>",
                 Load([f"/incidents/?q={quote(phrase)}" for phrase in SEARCH_PHRASES], headers=admin)),
        Endpoint("detail", "API detail", Load([f"/incidents/{i}" for i in facts["detail_ids"]], headers=admin)),
        Endpoint("html_list", "HTML list /ui/incidents/", Load(["/ui/incidents/"], headers=browser)),
        Endpoint("html_detail", "HTML incident page /ui/incidents/<id>",
                 Load([f"/ui/incidents/{i}" for i in facts["detail_ids"]], headers=browser)),
        Endpoint("dashboard", "HTML dashboard / (admin)", Load(["/"], headers=browser)),
        Endpoint("summary", f"API reports/summary (last 30 days), {REPORT_CLIENTS} client",
                 Load(["/reports/summary"], headers=admin), connections=REPORT_CLIENTS, min_seconds=REPORT_SECONDS),
        Endpoint("summary_by_priority", f"API reports/summary?group_by=priority, {REPORT_CLIENTS} client",
                 Load(["/reports/summary?group_by=priority"], headers=admin), connections=REPORT_CLIENTS,
                 min_seconds=REPORT_SECONDS),
    ]
    # The same rows twice: as an API client (bearer token) and as the list's "Export CSV" link (the
    # session cookie; the API's answer cache never sees a cookie request).
    exports = [Endpoint("export_csv", "API incidents/export.csv, every incident (bearer token)",
                        Load(["/incidents/export.csv"], headers=admin), stream=True),
               Endpoint("export_csv_ui", "UI ui/incidents/export.csv, every incident (session cookie)",
                        Load(["/ui/incidents/export.csv"], headers=browser), stream=True)]
    return reads + [computed(endpoint) for endpoint in reads if endpoint.key in COMPUTED_TOO] + exports + [
        Endpoint("create", "API create (POST)", Load(["/incidents/"], method="POST", headers=reporter, body="create"),
                 write=True),
        Endpoint("transition", "API transition (PUT reassign)",
                 Load(["/incidents/"], method="PUT", headers=admin, body="transition", ids=facts["movable"],
                      techs=facts["movers"]), write=True),
        mixed(facts, admin=admin, reporter=reporter),
    ]


def mixed(facts: dict, *, admin: dict, reporter: dict) -> Endpoint:
    """Creates while computed reads run: the list, an incident and a search, a third each, in turn."""
    ids = facts["detail_ids"]
    reads = [path for n in range(12) for path in
             ("/incidents/", f"/incidents/{ids[n % len(ids)]}", f"/incidents/?q={SEARCH_TERMS[n % len(SEARCH_TERMS)]}")]
    return Endpoint(
        "mixed", f"Mixed run: API create (POST), {MIXED_WRITERS} connections, while reads run",
        Load(["/incidents/"], method="POST", headers=reporter, body="create"), write=True, connections=MIXED_WRITERS,
        alongside=Endpoint("mixed_reads", f"Mixed run: API list, detail, search — computed, {MIXED_READERS} "
                                          "connections, while creates run",
                           Load(reads, headers=admin | NO_CACHE), connections=MIXED_READERS))
