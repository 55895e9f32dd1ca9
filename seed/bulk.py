"""`flask seed --bulk N`: N realistic incidents with consistent timelines, generated inside the
database by set-based SQL (a recursive row generator), not the ORM one row at a time.

Values are derived from each row number by multiplicative hashing, so a run is reproducible.
On SQLite the secondary indexes and the search trigger are set aside during the load and rebuilt
once at the end (one sort instead of a million index updates). Tallies are recomputed after.
"""
import json
from datetime import datetime, timedelta

from sqlalchemy import func, select, text

from app.auth.service import hash_password
from app.extensions import db
from app.incidents import tallies
from app.incidents.lifecycle import Category, Role
from app.models import Incident, User, utcnow

BULK_REPORTERS = 200
BULK_TECHNICIANS = 20
SPAN_DAYS = 730
SERVICES = ["VPN", "mail", "payroll", "CRM", "wiki", "SSO", "backup", "DNS", "billing", "search",
            "checkout", "reporting", "git", "CI", "monitoring", "printing", "WiFi", "storage"]
SYMPTOMS = ["is down", "is slow", "returns errors", "times out", "drops connections", "fails to start",
            "shows stale data", "rejects logins", "fills the disk", "uses all CPU", "loses messages"]
HOSTS = [f"{kind}-{n:03d}" for kind in ("web", "db", "app", "cache", "lb", "mq", "file", "node")
         for n in range(1, 401)]
NOTES = "Fixed and verified with the reporter."
# Share of each status, in percent; most incidents of a mature portal are finished.
STATUS_BANDS = [("closed", 60), ("resolved", 70), ("in_progress", 80), ("assigned", 90), ("open", 100)]
SEVERITY_BANDS = [(1, 35), (2, 75), (3, 95), (4, 100)]
MOVES = {"open": 1, "assigned": 2, "in_progress": 3, "resolved": 4, "closed": 5}
STEPS = [(0, "created", None, "open"), (1, "assigned", "open", "assigned"),
         (2, "status_changed", "assigned", "in_progress"), (3, "resolved", "in_progress", "resolved"),
         (4, "closed", "resolved", "closed")]


def ensure_bulk_users(password: str = "demo1234") -> dict[Role, list[int]]:
    """Create the bulk reporters and technicians once (one password hash shared by all)."""
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
    return {role: list(db.session.scalars(select(User.id).where(User.role == role, User.active.is_(True))
                                          .order_by(User.id))) for role in Role}


class _Sql:
    """The few expressions that SQLite and PostgreSQL spell differently."""

    def __init__(self, dialect: str):
        self.postgres = dialect == "postgresql"

    def pick(self, param: str, index: str) -> str:
        if self.postgres:
            return f"(CAST(:{param} AS jsonb) ->> CAST({index} AS integer))"
        return f"json_extract(:{param}, '$[' || ({index}) || ']')"

    def timestamp(self, epoch: str) -> str:
        if self.postgres:
            return f"(to_timestamp({epoch}) AT TIME ZONE 'UTC')"
        return f"datetime({epoch}, 'unixepoch')"


def _band(expr: str, bands) -> str:
    whens = " ".join(f"WHEN {expr} < {upper} THEN {value!r}" for value, upper in bands)
    return f"CASE {whens} END".replace("'", "'")


def _generator(sql: _Sql) -> str:
    """A CTE yielding one row of derived values per new incident."""
    def mix(multiplier: int, modulo: str) -> str:
        return f"((((i + :start_id) * {multiplier}) % 4294967296) / 65536 % {modulo})"

    status = _band(mix(2654435761, 100), STATUS_BANDS)
    severity = _band(mix(2246822519, 100), SEVERITY_BANDS).replace("'", "")
    moves = "CASE status " + " ".join(f"WHEN '{s}' THEN {n}" for s, n in MOVES.items()) + " END"
    return f"""
    WITH RECURSIVE seq(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM seq WHERE i + 1 < :n),
    raw AS (
      SELECT i, :start_id + i AS id, {status} AS status, {severity} AS severity,
        {sql.pick('categories', mix(3266489917, ':n_categories'))} AS category,
        {sql.pick('services', mix(668265263, ':n_services'))} AS service,
        {sql.pick('symptoms', mix(374761393, ':n_symptoms'))} AS symptom,
        {sql.pick('hosts', mix(2166136261, ':n_hosts'))} AS host,
        CAST({sql.pick('reporters', mix(1181783497, ':n_reporters'))} AS integer) AS reporter_id,
        CAST({sql.pick('technicians', mix(3572933227, ':n_technicians'))} AS integer) AS technician_id,
        CAST({sql.pick('admins', mix(1664525, ':n_admins'))} AS integer) AS admin_id,
        :t0 + (i * :span) / :n AS created_epoch,
        600 * (1 + i % 12) AS gap
      FROM seq),
    gen AS (SELECT raw.*, {moves} AS moves FROM raw)
    """


def load(n: int, *, now: datetime | None = None) -> int:
    """Append `n` incidents (and their timelines); returns how many were written."""
    people = ensure_bulk_users()
    connection = db.session.connection()
    sql = _Sql(connection.dialect.name)
    now = now or utcnow()
    start_id = (db.session.scalar(select(func.max(Incident.id))) or 0) + 1
    params = {
        "n": n, "start_id": start_id, "span": SPAN_DAYS * 86400,
        "t0": int((now - timedelta(days=SPAN_DAYS + 1)).timestamp()),
        "categories": json.dumps([c.value for c in Category]), "n_categories": len(Category),
        "services": json.dumps(SERVICES), "n_services": len(SERVICES),
        "symptoms": json.dumps(SYMPTOMS), "n_symptoms": len(SYMPTOMS),
        "hosts": json.dumps(HOSTS), "n_hosts": len(HOSTS),
        "reporters": json.dumps(people[Role.REPORTER]), "n_reporters": len(people[Role.REPORTER]),
        "technicians": json.dumps(people[Role.TECHNICIAN]), "n_technicians": len(people[Role.TECHNICIAN]),
        "admins": json.dumps(people[Role.ADMIN] or people[Role.REPORTER]),
        "n_admins": len(people[Role.ADMIN] or people[Role.REPORTER]),
        "notes": NOTES,
    }
    restore = _set_aside_indexes() if not sql.postgres else []
    at = sql.timestamp
    connection.execute(text(_generator(sql) + f"""
    INSERT INTO incidents (id, title, description, severity, category, status, reporter_id, technician_id,
      resolution_notes, created_at, updated_at, assigned_at, resolved_at, closed_at, version)
    SELECT id, service || ' ' || symptom || ' on ' || host,
      'Monitoring alerted on ' || host || '. Service: ' || service || '. Users say it ' || symptom || '.',
      severity, category, status, reporter_id, CASE WHEN moves >= 2 THEN technician_id END,
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
    actor = ("CASE steps.kind WHEN 'assigned' THEN admin_id WHEN 'status_changed' THEN technician_id "
             "WHEN 'resolved' THEN technician_id ELSE reporter_id END")
    connection.execute(text(_generator(sql) + f""", steps AS ({steps})
    INSERT INTO incident_events (incident_id, actor_id, kind, created_at, from_status, to_status, changes, body)
    SELECT id, {actor}, steps.kind, {at('created_epoch + steps.k * gap')}, steps.from_status, steps.to_status,
      CASE WHEN steps.kind = 'assigned' THEN '{{"technician": [null, "bulk"]}}' END,
      CASE WHEN steps.kind = 'resolved' THEN :notes END
    FROM gen JOIN steps ON steps.k < gen.moves"""), params)
    for statement in restore:
        connection.exec_driver_sql(statement)
    if sql.postgres:
        connection.exec_driver_sql(
            "SELECT setval(pg_get_serial_sequence('incidents', 'id'), (SELECT max(id) FROM incidents))")
    tallies.rebuild()
    db.session.commit()
    db.session.execute(text("ANALYZE"))
    db.session.commit()
    return n


def _set_aside_indexes() -> list[str]:
    """Drop the incident tables' secondary indexes and the search trigger (SQLite); return the
    statements that put them back, the search index rebuilt in one pass."""
    connection = db.session.connection()
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
