"""`flask seed --bulk N`: N realistic incidents with consistent timelines, generated inside the
database by set-based SQL (a recursive row generator), not the ORM one row at a time.

Values are derived from each row number by multiplicative hashing, so a run is reproducible.
On SQLite the secondary indexes and the search trigger are set aside during the load and rebuilt
once at the end (one sort instead of a million index updates). The tallies are incremented from
the same generated values, so they stay exact without re-reading the table.
"""
from datetime import datetime, timedelta

from sqlalchemy import func, literal_column, select, text

from app.auth.roles import Role
from app.auth.service import hash_password
from app.extensions import db
from app.incidents import priority, tallies
from app.incidents.enums import Category, Urgency
from app.models import Incident, User, utcnow

BULK_REPORTERS = 200
BULK_TECHNICIANS = 20
SPAN_DAYS = 730
SERVICES = ["VPN", "mail", "payroll", "CRM", "wiki", "SSO", "backup", "DNS", "billing", "search",
            "checkout", "reporting", "git", "CI", "monitoring", "printing", "WiFi", "storage"]
SYMPTOMS = ["is down", "is slow", "returns errors", "times out", "drops connections", "fails to start",
            "shows stale data", "rejects logins", "fills the disk", "uses all CPU", "loses messages"]
HOST_KINDS = ["web", "db", "app", "cache", "lb", "mq", "file", "node"]
HOSTS_PER_KIND = 400
NOTES = "Fixed and verified with the reporter."
# Share of each status, in percent; most incidents of a mature portal are finished.
STATUS_BANDS = [("closed", 60), ("resolved", 70), ("in_progress", 80), ("assigned", 90), ("open", 100)]
SEVERITY_BANDS = [(1, 35), (2, 75), (3, 95), (4, 100)]
MOVES = {"open": 1, "assigned": 2, "in_progress": 3, "resolved": 4, "closed": 5}
STEPS = [(0, "created", None, "open"), (1, "assigned", "open", "assigned"),
         (2, "status_changed", "assigned", "in_progress"), (3, "resolved", "in_progress", "resolved"),
         (4, "closed", "resolved", "closed")]


def ensure_bulk_users(password: str = "demo1234") -> dict:
    """Create the bulk reporters and technicians once (one password hash shared by all); return
    their ids and an admin who does the assigning."""
    existing = set(db.session.scalars(select(User.username).where(User.username.like("bulk-%"))))
    digest = hash_password(password)
    for role, prefix, count in ((Role.REPORTER, "bulk-reporter", BULK_REPORTERS),
                                (Role.TECHNICIAN, "bulk-tech", BULK_TECHNICIANS)):
        for i in range(1, count + 1):
            username = f"{prefix}-{i:03d}"
            if username not in existing:
                db.session.add(User(username=username, name=f"{role.value.title()} {i:03d}",
                                    email=f"{username}@example.com", role=role, password_hash=digest))
    db.session.commit()

    def ids(prefix: str) -> list[int]:
        return list(db.session.scalars(select(User.id).where(User.username.like(f"{prefix}-%")).order_by(User.id)))

    admin = db.session.scalar(select(User.id).where(User.role == Role.ADMIN).order_by(User.id))
    return {"reporters": ids("bulk-reporter"), "technicians": ids("bulk-tech"),
            "admin": admin if admin is not None else ids("bulk-reporter")[0]}


def _pick(words: list[str], index: str) -> str:
    """words[index] in SQL both databases understand: a slice of one fixed-width string."""
    width = max(map(len, words)) + 1
    packed = "".join(w.ljust(width) for w in words)
    return f"trim(substr(CAST('{packed}' AS varchar), CAST(({index}) * {width} + 1 AS integer), {width}))"


class _Sql:
    """The few expressions that SQLite and PostgreSQL spell differently."""

    def __init__(self, dialect):
        self.dialect = dialect
        self.postgres = dialect.name == "postgresql"

    def render(self, expression) -> str:
        """A SQLAlchemy expression as this dialect's SQL text, its constants inlined."""
        return str(expression.compile(dialect=self.dialect, compile_kwargs={"literal_binds": True}))

    def json(self, expr: str) -> str:
        return f"CAST({expr} AS json)" if self.postgres else expr

    def timestamp(self, epoch: str) -> str:
        if self.postgres:
            return f"(to_timestamp({epoch}) AT TIME ZONE 'UTC')"
        # The ORM's own text form (microseconds included): keyset cursors compare these strings.
        return f"(strftime('%Y-%m-%d %H:%M:%f', {epoch}, 'unixepoch') || '000')"


def _band(expr: str, bands) -> str:
    whens = " ".join(f"WHEN {expr} < {upper} THEN {value!r}" for value, upper in bands)
    return f"CASE {whens} END".replace("'", "'")


def _generator(sql: _Sql) -> str:
    """A CTE yielding one row of derived values per new incident."""
    def mix(multiplier: int, modulo: str) -> str:
        return f"((((CAST(i AS bigint) + :start_id) * {multiplier}) % 4294967296) / 65536 % {modulo})"

    status = _band(mix(2654435761, 100), STATUS_BANDS)
    severity = _band(mix(2246822519, 100), SEVERITY_BANDS).replace("'", "")
    moves = "CASE status " + " ".join(f"WHEN '{s}' THEN {n}" for s, n in MOVES.items()) + " END"
    return f"""
    WITH RECURSIVE seq(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM seq WHERE i + 1 < :n),
    raw AS (
      SELECT i, :start_id + i AS id, {status} AS status, {severity} AS severity,
        {_pick([c.value for c in Category], mix(3266489917, len(Category)))} AS category,
        {_pick([u.value for u in Urgency], mix(2654435769, len(Urgency)))} AS urgency,
        {_pick(SERVICES, mix(668265263, len(SERVICES)))} AS service,
        {_pick(SYMPTOMS, mix(374761393, len(SYMPTOMS)))} AS symptom,
        {_pick(HOST_KINDS, mix(2166136261, len(HOST_KINDS)))} || '-' ||
          CAST(101 + {mix(1103515245, HOSTS_PER_KIND)} AS varchar) AS host,
        :first_reporter + {mix(1181783497, ':n_reporters')} AS reporter_id,
        :first_technician + {mix(3572933227, ':n_technicians')} AS technician_id,
        :t0 + (CAST(i AS bigint) * :span) / :n AS created_epoch,
        600 * (1 + i % 12) AS gap
      FROM seq),
    gen AS (SELECT raw.*, {moves} AS moves, {priority.sql_case('severity', 'urgency')} AS priority FROM raw)
    """


def _contiguous(ids: list[int]) -> int:
    """The first id of a run of consecutive ids (the generator adds offsets to it)."""
    if not ids or ids != list(range(ids[0], ids[0] + len(ids))):
        raise RuntimeError("bulk users are not numbered consecutively; run `flask seed --reset` first")
    return ids[0]


def load(n: int, *, now: datetime | None = None) -> int:
    """Append `n` incidents (and their timelines); returns how many were written."""
    people = ensure_bulk_users()
    connection = db.session.connection()
    sql = _Sql(connection.dialect)
    now = now or utcnow()
    start_id = (db.session.scalar(select(func.max(Incident.id))) or 0) + 1
    params = {
        "n": n, "start_id": start_id, "span": SPAN_DAYS * 86400,
        "t0": int((now - timedelta(days=SPAN_DAYS + 1)).timestamp()),
        "first_reporter": _contiguous(people["reporters"]), "n_reporters": len(people["reporters"]),
        "first_technician": _contiguous(people["technicians"]), "n_technicians": len(people["technicians"]),
        "admin_id": people["admin"], "notes": NOTES,
    }
    restore = _set_aside_indexes() if not sql.postgres else []
    at = sql.timestamp
    connection.execute(text(_generator(sql) + f"""
    INSERT INTO incidents (id, title, description, severity, urgency, priority, category, status, reporter_id,
      technician_id,
      resolution_notes, created_at, updated_at, assigned_at, resolved_at, closed_at, version)
    SELECT id, service || ' ' || symptom || ' on ' || host,
      'Monitoring alerted on ' || host || '. Service: ' || service || '. Users say it ' || symptom || '.',
      severity, urgency, priority, category, status, reporter_id, CASE WHEN moves >= 2 THEN technician_id END,
      CASE WHEN moves >= 4 THEN :notes END,
      {at('created_epoch')}, {at('created_epoch + (moves - 1) * gap')},
      CASE WHEN moves >= 2 THEN {at('created_epoch + gap')} END,
      CASE WHEN moves >= 4 THEN {at('created_epoch + 3 * gap')} END,
      CASE WHEN moves >= 5 THEN {at('created_epoch + 4 * gap')} END,
      moves
    FROM gen"""), params)
    steps = " UNION ALL ".join(
        f"SELECT {k} AS k, '{kind}' AS kind, {repr(before) if before else 'NULL'} AS from_status, "
        f"'{after}' AS to_status" for k, kind, before, after in STEPS)
    assigned_changes = sql.json("""CASE WHEN steps.kind = 'assigned' THEN '{"technician": [null, "bulk"]}' END""")
    actor = ("CASE steps.kind WHEN 'assigned' THEN :admin_id WHEN 'status_changed' THEN technician_id "
             "WHEN 'resolved' THEN technician_id ELSE reporter_id END")
    connection.execute(text(_generator(sql) + f""", steps AS ({steps})
    INSERT INTO incident_events (incident_id, actor_id, kind, created_at, from_status, to_status, changes, body)
    SELECT id, {actor}, steps.kind, {at('created_epoch + steps.k * gap')}, steps.from_status, steps.to_status,
      {assigned_changes},
      CASE WHEN steps.kind = 'resolved' THEN :notes END
    FROM gen JOIN steps ON steps.k < gen.moves"""), params)
    # The scopes as the app spells them; an incident has its technician from the assignment (move 2) on.
    scopes = tallies.scope_columns(literal_column("CASE WHEN moves >= 2 THEN technician_id END"),
                                   literal_column("reporter_id"))
    scoped = " UNION ALL ".join(f"SELECT {sql.render(scope)} AS scope, status, severity, category FROM gen"
                                for scope in scopes)
    connection.execute(text(_generator(sql) + f""", scoped AS ({scoped})
    INSERT INTO incident_tallies (scope, status, severity, category, n)
    SELECT scope, status, severity, category, count(*) FROM scoped WHERE true
    GROUP BY scope, status, severity, category
    ON CONFLICT (scope, status, severity, category) DO UPDATE SET n = incident_tallies.n + excluded.n"""),
                       params)
    for statement in restore:
        connection.exec_driver_sql(statement)
    if sql.postgres:
        connection.exec_driver_sql(
            "SELECT setval(pg_get_serial_sequence('incidents', 'id'), (SELECT max(id) FROM incidents))")
    db.session.commit()
    if not sql.postgres:
        db.session.execute(text("PRAGMA analysis_limit = 1000"))  # sampled statistics: seconds, not minutes
    db.session.execute(text("ANALYZE"))
    db.session.commit()
    return n


def _set_aside_indexes() -> list[str]:
    """Drop the incident tables' secondary indexes and the search trigger (SQLite); return the
    statements that put them back, the search index rebuilt in one pass."""
    connection = db.session.connection()
    connection.exec_driver_sql("PRAGMA cache_size = -262144")  # 256 MiB for this load's sorts
    rows = connection.exec_driver_sql(
        "SELECT type, name, sql FROM sqlite_master WHERE tbl_name IN ('incidents', 'incident_events') "
        "AND sql IS NOT NULL AND (type = 'index' OR (type = 'trigger' AND name = 'incidents_fts_insert'))"
    ).fetchall()
    for kind, name, _ in rows:
        connection.exec_driver_sql(f'DROP {kind.upper()} "{name}"')
    restore = [row.sql for row in rows]
    if any(row.name == "incidents_fts_insert" for row in rows):
        restore.append("INSERT INTO incidents_fts(incidents_fts) VALUES ('rebuild')")
    return restore
