"""Property-based fuzzing of the live API from its own /openapi.json (schemathesis), as each role.

Every built-in check is on: no 5xx, every status / content type / header / body as documented,
schema-valid requests accepted, schema-invalid ones refused, auth enforced. The database holds the
demo data plus incidents in every state, so the small ids hypothesis favours hit real incidents."""
import shutil
from collections import Counter

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, settings
from sqlalchemy import select

from app import create_app
from app.auth.roles import Role
from app.auth.service import issue_token, update_user
from app.extensions import db
from app.incidents.enums import Status
from app.models import ApiToken, User
from seed.loader import seed_incidents, seed_users
from tests import factories, postgres
from tests.api_helpers import live_server
from tests.load.report import report

MAX_EXAMPLES = 25
ROLES = (Role.ADMIN, Role.TECHNICIAN, Role.REPORTER)
# A well-formed request can still be refused by a domain rule the document can only describe:
# an assignee who is not an active technician, a taken username (422),
# or a stale version / If-Match (412). Everything else keeps schemathesis' defaults.
CONFIG = schemathesis.Config.from_dict({
    "checks": {"positive_data_acceptance": {
        "expected-statuses": ["2xx", "3xx", "401", "403", "404", "409", "412", "422", "429"]}},
})


@pytest.fixture(scope="module")
def fuzz_database(request, tmp_path_factory, schema_template):
    """A migrated database of its own: a copy of the SQLite template, or a fresh PostgreSQL one."""
    if postgres.ENABLED:
        server = request.getfixturevalue("pg_server")
        yield server.fresh_database()
        server.drop_extra()
        return
    path = tmp_path_factory.mktemp("fuzz") / "portal.db"
    shutil.copy(schema_template, path)
    yield f"sqlite:///{path}"


@pytest.fixture(scope="module")
def fuzz_server(fuzz_database):
    """A populated app on its own database, served on 127.0.0.1; yields the base URL."""
    # Requests are fuzzed for what they answer, not throttled: schemathesis sends wrong credentials
    # on purpose, again and again (tests/test_api_auth.py and test_accounts_throttle*.py cover 429s).
    app = create_app("testing", SQLALCHEMY_DATABASE_URI=fuzz_database, RATELIMIT_TOKENS="100000 per minute",
                     LOGIN_THROTTLE_FAILURES=10**6, LOGIN_THROTTLE_ADDRESS_FAILURES=10**6)
    with app.app_context():
        seed_users()
        seed_incidents()
        admin, tech = (db.session.scalar(select(User).where(User.username == name)) for name in ("admin1", "tech1"))
        for n, status in enumerate(list(Status) * 4):
            reporter = db.session.scalar(select(User).where(User.username == f"reporter{n % 3 + 1}"))
            incident = factories.make_incident(reporter, title=f"Fuzz target {n}")
            factories.bring_to(status, incident=incident, admin=admin, technician=tech)
        with live_server(app) as url:
            yield url
        db.session.remove()
        db.engine.dispose()


class Identity:
    """A fuzzing account of one role, put back in working order before every case (a fuzzed
    PATCH /users/<id> may demote or deactivate it, a fuzzed DELETE may revoke its token)."""

    def __init__(self, role: Role):
        self.role = role
        self.user_id = factories.make_user(role, username=f"fuzz-{role.value}").id
        self.token_id, self.plain = self._issue()

    def _issue(self) -> tuple[int, str]:
        token, plain = issue_token(user=db.session.get(User, self.user_id), name="fuzz")
        return token.id, plain

    def headers(self) -> dict[str, str]:
        """A working Authorization header for this role."""
        db.session.rollback()  # see what the server threads committed
        user = db.session.get(User, self.user_id)
        if user.role != self.role or not user.active:
            update_user(user=user, role=self.role, active=True)
        if db.session.get(ApiToken, self.token_id).revoked_at is not None:
            self.token_id, self.plain = self._issue()
        return {"Authorization": f"Bearer {self.plain}"}


@pytest.fixture(scope="module", params=ROLES, ids=[role.value for role in ROLES])
def identity(request, fuzz_server) -> Identity:
    """The account the fuzzer calls as."""
    return Identity(request.param)


@pytest.fixture(scope="module")
def fuzz_tally(request):
    """Cases per role, operation and status; the totals are printed when the module is done."""
    tally: Counter = Counter()
    yield tally
    statuses: Counter = Counter()
    for (_, _, status), n in tally.items():
        statuses[status] += n
    operations = {(role, label) for role, label, _ in tally}
    summary = (f"\nschemathesis: {sum(tally.values())} cases over {len(operations)} role x operation pairs; "
               f"statuses {dict(sorted(statuses.items()))}")
    report(request, summary)


def _published_document() -> dict:
    """/openapi.json as the app serves it. Read at collection time, when pytest needs the
    operations; the document depends on the routes only, so a database-less app serves it."""
    app = create_app("testing", SQLALCHEMY_DATABASE_URI="sqlite://")
    response = app.test_client().get("/openapi.json")
    assert response.status_code == 200
    return response.get_json()


DOCUMENT = _published_document()
schema = schemathesis.openapi.from_dict(DOCUMENT, config=CONFIG)


def test_the_live_server_publishes_the_fuzzed_document(fuzz_server):
    """What is fuzzed below is exactly what the running server publishes."""
    assert requests.get(f"{fuzz_server}/openapi.json", timeout=10).json() == DOCUMENT


@schema.parametrize()
@settings(max_examples=MAX_EXAMPLES, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large])
def test_the_api_does_what_its_document_says(case, fuzz_server, identity, fuzz_tally):
    """No 5xx and no response outside the document, whatever the role and the input."""
    response = case.call_and_validate(base_url=fuzz_server, headers=identity.headers(), timeout=10)
    fuzz_tally[(identity.role.value, case.operation.label, response.status_code)] += 1
