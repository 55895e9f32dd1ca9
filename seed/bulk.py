"""`flask seed --bulk N`: N realistic incidents with consistent timelines, generated inside the
database by set-based SQL (a recursive row generator), not the ORM one row at a time.

Values are derived from each row number by multiplicative hashing, so a run is reproducible.
Every incident follows one of two paths (`PATHS`): straight through to closed, or through a hold
(on hold waiting on the reporter or a vendor, then resumed); its status says how far it got. The
events, the incident's own times and its SLA clocks are all read off the same steps, so they agree.

SLA: each incident holds its priority's current policy (`app.incidents.sla.policies()`, the
stored ones or the defaults), and its clocks are what `app.incidents.clocks.derive` makes of the
generated timeline, computed in Python a batch at a time (correct by construction, in business
hours too) and joined into the insert, so `flask sla recompute --check` finds no drift.

On SQLite the secondary indexes and the search trigger are set aside during the load and rebuilt
once at the end (one sort instead of a million index updates). The tallies are incremented from
the same generated values, so they stay exact without re-reading the table.
"""
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import Column, Integer, MetaData, Table, func, literal_column, select, text

from app.auth.roles import Role
from app.auth.service import hash_password
from app.extensions import db
from app.incidents import clocks, priority, sla, tallies
from app.incidents.clocks import Moment
from app.incidents.enums import Category, EventKind, SlaCalendar, Status, Urgency
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
HOLD_REASONS = ["Waiting for the reporter to send the full error message.",
                "Waiting on the vendor's support case.",
                "Waiting for the next maintenance window.",
                "Waiting for the reporter to try again from the office.",
                "Waiting on a replacement part from the supplier."]
# Share of each status, in percent; most incidents of a mature portal are finished.
STATUS_BANDS = [("closed", 58), ("resolved", 68), ("in_progress", 77), ("on_hold", 84), ("assigned", 92),
                ("open", 100)]
SEVERITY_BANDS = [(1, 35), (2, 75), (3, 95), (4, 100)]
# Of the incidents that may have been on hold and are past it (in progress again, resolved,
# closed), this share in percent were; the rest went straight through.
HELD_SHARE = 25
HOLD_HOURS = 48  # a hold lasts 1 to 48 hours: over nights and weekends, as real ones do
GAP_MINUTES = 10  # between two moves: 10 to 120 minutes
LEAD_DAYS = 3  # the newest incident is this old, so its whole timeline lies in the past


@dataclass(frozen=True)
class Step:
    """One timeline event of a path, at `gaps` gaps after creation (plus the hold, once resumed)."""

    kind: EventKind
    from_status: Status | None
    to_status: Status
    gaps: int
    after_hold: bool
    actor: str  # who writes it: "reporter", "admin" (the assigning) or "technician"
    body: str = ""  # "notes": the resolution notes; "reason": why it is on hold


_CREATED = Step(EventKind.CREATED, None, Status.OPEN, 0, False, "reporter")
_ASSIGNED = Step(EventKind.ASSIGNED, Status.OPEN, Status.ASSIGNED, 1, False, "admin")
_STARTED = Step(EventKind.STATUS_CHANGED, Status.ASSIGNED, Status.IN_PROGRESS, 2, False, "technician")
PLAIN = (_CREATED, _ASSIGNED, _STARTED,
         Step(EventKind.RESOLVED, Status.IN_PROGRESS, Status.RESOLVED, 3, False, "technician", "notes"),
         Step(EventKind.CLOSED, Status.RESOLVED, Status.CLOSED, 4, False, "reporter"))
HELD = (_CREATED, _ASSIGNED, _STARTED,
        Step(EventKind.ON_HOLD, Status.IN_PROGRESS, Status.ON_HOLD, 3, False, "technician", "reason"),
        Step(EventKind.RESUMED, Status.ON_HOLD, Status.IN_PROGRESS, 3, True, "technician"),
        Step(EventKind.RESOLVED, Status.IN_PROGRESS, Status.RESOLVED, 4, True, "technician", "notes"),
        Step(EventKind.CLOSED, Status.RESOLVED, Status.CLOSED, 5, True, "reporter"))
PATHS = (PLAIN, HELD)  # indexed by the generator's `held` (0 or 1)
HOLD_STEP = next(k for k, step in enumerate(HELD) if step.kind == EventKind.ON_HOLD)
MAX_OFFSET_SECONDS = max(s.gaps for p in PATHS for s in p) * 12 * GAP_MINUTES * 60 + HOLD_HOURS * 3600
assert MAX_OFFSET_SECONDS < LEAD_DAYS * 86400, "a generated timeline would reach past now"


def moves(path: tuple[Step, ...], status: Status) -> int | None:
    """How many steps of `path` an incident in `status` has taken (None: the path never ends there)."""
    reached = [k for k, step in enumerate(path) if step.to_status == status]
    return reached[-1] + 1 if reached else None


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
    packed = "".join(w.ljust(width) for w in words).replace("'", "''")
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
    return f"CASE {whens} END"


def _quoted(value) -> str:
    """A SQL literal: NULL, a number, or a quoted string."""
    if value is None:
        return "NULL"
    if isinstance(value, int):
        return str(value)
    return "'" + str(value).replace("'", "''") + "'"


def _offset(step: Step) -> str:
    """Seconds from creation to `step`, in SQL over the generator's columns."""
    return f"({step.gaps} * gap + {int(step.after_hold)} * hold)"


def _time_of(kind: EventKind) -> str:
    """The epoch of the incident's `kind` step in SQL, NULL when its path has not reached one."""
    whens = " ".join(f"WHEN held = {p} AND moves > {k} THEN created_epoch + {_offset(step)}"
                     for p, path in enumerate(PATHS) for k, step in enumerate(path) if step.kind == kind)
    return f"CASE {whens} END"


def _last_time() -> str:
    """The epoch of the incident's last step (its updated_at)."""
    whens = " ".join(f"WHEN held = {p} AND moves = {k + 1} THEN created_epoch + {_offset(step)}"
                     for p, path in enumerate(PATHS) for k, step in enumerate(path))
    return f"CASE {whens} END"


def _generator(sql: _Sql) -> str:
    """A CTE yielding one row of derived values per new incident (rows :lo to :hi - 1 of :n)."""
    def mix(multiplier: int, modulo) -> str:
        return f"((((CAST(i AS bigint) + :start_id) * {multiplier}) % 4294967296) / 65536 % {modulo})"

    status = _band(mix(2654435761, 100), STATUS_BANDS)
    severity = _band(mix(2246822519, 100), SEVERITY_BANDS).replace("'", "")
    # On hold only on the held path; past the hold (resumed and after) on either path, by share.
    only_held = [s.value for s in Status if moves(HELD, s) and not moves(PLAIN, s)]
    either = [s.value for s in Status if moves(PLAIN, s) and (moves(HELD, s) or 0) > HOLD_STEP + 1]
    held = (f"CASE WHEN status IN ({', '.join(map(_quoted, only_held))}) THEN 1 "
            f"WHEN status IN ({', '.join(map(_quoted, either))}) AND {mix(1664525, 100)} < {HELD_SHARE} THEN 1 "
            "ELSE 0 END")
    whens = " ".join(f"WHEN held = {p} AND status = '{s.value}' THEN {moves(path, s)}"
                     for p, path in enumerate(PATHS) for s in Status if moves(path, s))
    return f"""
    WITH RECURSIVE seq(i) AS (SELECT CAST(:lo AS integer) UNION ALL SELECT i + 1 FROM seq WHERE i + 1 < :hi),
    raw AS (
      SELECT i, :start_id + i AS id, {status} AS status, {severity} AS severity,
        {_pick([c.value for c in Category], mix(3266489917, len(Category)))} AS category,
        {_pick([u.value for u in Urgency], mix(2654435769, len(Urgency)))} AS urgency,
        {_pick(SERVICES, mix(668265263, len(SERVICES)))} AS service,
        {_pick(SYMPTOMS, mix(374761393, len(SYMPTOMS)))} AS symptom,
        {_pick(HOST_KINDS, mix(2166136261, len(HOST_KINDS)))} || '-' ||
          CAST(101 + {mix(1103515245, HOSTS_PER_KIND)} AS varchar) AS host,
        {_pick(HOLD_REASONS, mix(22695477, len(HOLD_REASONS)))} AS hold_reason,
        :first_reporter + {mix(1181783497, ':n_reporters')} AS reporter_id,
        :first_technician + {mix(3572933227, ':n_technicians')} AS technician_id,
        :t0 + (CAST(i AS bigint) * :span) / :n AS created_epoch,
        {GAP_MINUTES * 60} * (1 + i % 12) AS gap,
        3600 * (1 + {mix(134775813, HOLD_HOURS)}) AS hold
      FROM seq),
    flagged AS (SELECT raw.*, {held} AS held, {priority.sql_case('severity', 'urgency')} AS priority FROM raw),
    gen AS MATERIALIZED (SELECT flagged.*, CASE {whens} END AS moves FROM flagged)
    """


def _contiguous(ids: list[int]) -> int:
    """The first id of a run of consecutive ids (the generator adds offsets to it)."""
    if not ids or ids != list(range(ids[0], ids[0] + len(ids))):
        raise RuntimeError("bulk users are not numbered consecutively; run `flask seed --reset` first")
    return ids[0]


# The clocks each new incident stores, computed in Python before the insert joins them in:
# epoch seconds (every instant of a generated timeline is a whole second), converted in SQL
# exactly as the generated times are.
_CLOCK_TIMES = ("responded_at", "response_due_at", "response_warn_at", "resolve_due_at", "resolve_warn_at",
                "sla_next_check_at")
_clocks_table = Table("bulk_clocks", MetaData(), Column("id", Integer, primary_key=True),
                      *(Column(name, Integer) for name in clocks.STORED), prefixes=["TEMPORARY"])
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
BATCH = 20_000


def _epoch(moment: datetime | None) -> int | None:
    if moment is None:
        return None
    if moment.microsecond:
        raise RuntimeError(f"a generated SLA instant is not a whole second: {moment}")
    return int(moment.timestamp())  # exact: whole seconds are exact in a float up to 2**53


def _timeline(created: datetime, gap: int, hold: int, held: int, taken: int) -> list[Moment]:
    """The moments of one generated incident, as `sla.moments_of` reads them back."""
    return [Moment(step.kind, created + timedelta(seconds=step.gaps * gap + step.after_hold * hold),
                   by_staff=step.actor != "reporter", to_status=step.to_status)
            for step in PATHS[held][:taken]]


def _fill_clocks(connection, sql: _Sql, params: dict, targets: dict) -> None:
    """Derive every new incident's clocks (clocks.derive, per incident) into bulk_clocks."""
    calendars = {kind: sla.calendar_of(kind) for kind in SlaCalendar}
    policies = {level.value: (policy, calendars[policy.calendar]) for level, policy in targets.items()}
    is_time = [name in _CLOCK_TIMES for name in clocks.STORED]
    rows_sql = text(_generator(sql) + "SELECT id, created_epoch, gap, hold, held, moves, priority FROM gen")
    mark = "?" if connection.dialect.paramstyle == "qmark" else "%s"
    insert_sql = (f"INSERT INTO bulk_clocks (id, {', '.join(clocks.STORED)}) "
                  f"VALUES ({', '.join([mark] * (1 + len(clocks.STORED)))})")
    for lo in range(0, params["n"], BATCH):
        batch = connection.execute(rows_sql, params | {"lo": lo, "hi": min(params["n"], lo + BATCH)}).all()
        values = []
        for incident_id, created_epoch, gap, hold, held, taken, level in batch:
            created = _EPOCH + timedelta(seconds=created_epoch)
            policy, calendar = policies[level]
            derived = clocks.derive(created_at=created, moments=_timeline(created, gap, hold, held, taken),
                                    targets=policy, calendar=calendar)
            values.append((incident_id, *(_epoch(getattr(derived, name)) if time else getattr(derived, name)
                                          for name, time in zip(clocks.STORED, is_time, strict=True))))
        connection.exec_driver_sql(insert_sql, values)


def load(n: int, *, now: datetime | None = None) -> int:
    """Append `n` incidents (and their timelines); returns how many were written."""
    people = ensure_bulk_users()
    targets = {policy.priority: policy.targets for policy in sla.policies()}
    connection = db.session.connection()
    sql = _Sql(connection.dialect)
    now = now or utcnow()
    start_id = (db.session.scalar(select(func.max(Incident.id))) or 0) + 1
    params = {
        "n": n, "lo": 0, "hi": n, "start_id": start_id, "span": SPAN_DAYS * 86400,
        "t0": int((now - timedelta(days=SPAN_DAYS + LEAD_DAYS)).timestamp()),
        "first_reporter": _contiguous(people["reporters"]), "n_reporters": len(people["reporters"]),
        "first_technician": _contiguous(people["technicians"]), "n_technicians": len(people["technicians"]),
        "admin_id": people["admin"], "notes": NOTES,
    }
    restore = _set_aside_indexes() if not sql.postgres else []
    _clocks_table.create(connection)
    _fill_clocks(connection, sql, params, targets)
    at = sql.timestamp
    policy_of = {name: "CASE priority " + " ".join(
        f"WHEN '{level.value}' THEN {_quoted(getattr(policy, attribute))}" for level, policy in targets.items())
        + " END" for name, attribute in (("sla_calendar", "calendar"), ("response_target_minutes",
                                                                          "response_minutes"),
                                         ("resolve_target_minutes", "resolve_minutes"))}
    connection.execute(text(_generator(sql) + f"""
    INSERT INTO incidents (id, title, description, severity, urgency, priority, category, status, reporter_id,
      technician_id, resolution_notes, created_at, updated_at, assigned_at, resolved_at, closed_at, version,
      sla_calendar, response_target_minutes, resolve_target_minutes, {', '.join(clocks.STORED)})
    SELECT gen.id, service || ' ' || symptom || ' on ' || host,
      'Monitoring alerted on ' || host || '. Service: ' || service || '. Users say it ' || symptom || '.',
      severity, urgency, priority, category, status, reporter_id, CASE WHEN moves >= 2 THEN technician_id END,
      CASE WHEN status IN ('resolved', 'closed') THEN :notes END,
      {at('created_epoch')}, {at(_last_time())}, {at(_time_of(EventKind.ASSIGNED))},
      CASE WHEN status IN ('resolved', 'closed') THEN {at(_time_of(EventKind.RESOLVED))} END,
      CASE WHEN status = 'closed' THEN {at(_time_of(EventKind.CLOSED))} END,
      moves, {policy_of['sla_calendar']}, {policy_of['response_target_minutes']},
      {policy_of['resolve_target_minutes']},
      {', '.join(at(f'c.{name}') if name in _CLOCK_TIMES else f'c.{name}' for name in clocks.STORED)}
    FROM gen JOIN bulk_clocks c ON c.id = gen.id"""), params)
    _clocks_table.drop(connection)
    steps = " UNION ALL ".join(
        f"SELECT {p} AS path, {k} AS k, '{s.kind.value}' AS kind, {_quoted(s.from_status and s.from_status.value)} "
        f"AS from_status, '{s.to_status.value}' AS to_status, {s.gaps} AS gaps, {int(s.after_hold)} AS after_hold, "
        f"'{s.actor}' AS actor, '{s.body}' AS body"
        for p, path in enumerate(PATHS) for k, s in enumerate(path))
    technicians = " ".join(f"WHEN {tech_id} THEN '{name}'" for tech_id, name in db.session.execute(
        select(User.id, User.username).where(User.id.in_(people["technicians"]))))
    assigned_changes = sql.json(
        f"""CASE WHEN steps.kind = 'assigned' THEN '{{"technician": [null, "' ||
          CASE technician_id {technicians} END || '"]}}' END""")
    actor = ("CASE steps.actor WHEN 'admin' THEN :admin_id WHEN 'technician' THEN technician_id "
             "ELSE reporter_id END")
    # Each incident's events must get ids in path order: the clocks read a timeline in id order.
    # PostgreSQL may hash-join (and so reorder) the steps, so it sorts; SQLite runs the join as a
    # nested loop over the steps in the order written (checked by tests/test_bulk_sla.py), which
    # keeps each incident's steps in order without sorting five million rows.
    in_order = "ORDER BY gen.id, steps.k" if sql.postgres else ""
    connection.execute(text(_generator(sql) + f""", steps AS ({steps})
    INSERT INTO incident_events (incident_id, actor_id, kind, created_at, from_status, to_status, changes, body)
    SELECT id, {actor}, steps.kind, {at('created_epoch + steps.gaps * gap + steps.after_hold * hold')},
      steps.from_status, steps.to_status, {assigned_changes},
      CASE steps.body WHEN 'notes' THEN :notes WHEN 'reason' THEN hold_reason END
    FROM gen JOIN steps ON steps.path = gen.held AND steps.k < gen.moves {in_order}"""), params)
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
