"""SLA: the policies table, each incident's targets and clocks, and system timeline events.

- sla_policies: one row per priority an admin changed (the defaults live in app.incidents.sla).
- incidents: the targets copied from its priority's default policy (the defaults below, written
  out: SPEC's table), and its clocks, derived from its timeline by app.incidents.clocks, the same
  function the service and `flask sla recompute` use, with the business calendar of the config.
- incidents.resolved_at gets an index, for the reports.
- incident_events.actor_id becomes nullable: SLA warnings are written by the portal, not a person.

Revision ID: 0008
Revises: 0007
"""
from datetime import UTC

import sqlalchemy as sa
from alembic import op

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None

# SPEC's default policies: priority -> (calendar, response minutes, resolve minutes).
DEFAULTS = {'P1': ('24x7', 15, 240), 'P2': ('24x7', 60, 480), 'P3': ('business', 240, 1440),
            'P4': ('business', 480, 2400)}
BATCH = 1000

incidents = sa.table(
    'incidents', sa.column('id', sa.Integer), sa.column('created_at', sa.DateTime),
    sa.column('sla_calendar', sa.String), sa.column('response_target_minutes', sa.Integer),
    sa.column('resolve_target_minutes', sa.Integer), sa.column('responded_at', sa.DateTime),
    sa.column('response_due_at', sa.DateTime), sa.column('response_warn_at', sa.DateTime),
    sa.column('resolve_due_at', sa.DateTime), sa.column('resolve_warn_at', sa.DateTime),
    sa.column('resolve_spent_seconds', sa.Integer), sa.column('sla_notices', sa.Integer),
    sa.column('sla_next_check_at', sa.DateTime),
)
events = sa.table('incident_events', sa.column('id', sa.Integer), sa.column('incident_id', sa.Integer),
                  sa.column('actor_id', sa.Integer), sa.column('kind', sa.String), sa.column('to_status', sa.String),
                  sa.column('created_at', sa.DateTime))
users = sa.table('users', sa.column('id', sa.Integer), sa.column('role', sa.String))


def upgrade():
    op.create_table(
        'sla_policies',
        sa.Column('priority', sa.Enum('P1', 'P2', 'P3', 'P4', name='priority', native_enum=False, length=20),
                  nullable=False),
        sa.Column('response_minutes', sa.Integer(), nullable=False),
        sa.Column('resolve_minutes', sa.Integer(), nullable=False),
        sa.Column('calendar', sa.Enum('24x7', 'business', name='slacalendar', native_enum=False, length=20),
                  nullable=False),
        sa.Column('updated_at', sa.DateTime(), nullable=False),
        sa.Column('updated_by_id', sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(['updated_by_id'], ['users.id']),
        sa.PrimaryKeyConstraint('priority'),
    )
    # Plain ADD COLUMN: no rebuild of `incidents`, which every event and outbox message points at.
    # SQLite adds a NOT NULL column only with a default; every row is set just below.
    op.add_column('incidents', sa.Column('sla_calendar', sa.String(length=20), nullable=False,
                                         server_default='24x7'))
    op.add_column('incidents', sa.Column('response_target_minutes', sa.Integer(), nullable=False,
                                         server_default='15'))
    op.add_column('incidents', sa.Column('resolve_target_minutes', sa.Integer(), nullable=False,
                                         server_default='240'))
    for name in ('responded_at', 'response_due_at', 'response_warn_at', 'resolve_due_at', 'resolve_warn_at',
                 'sla_next_check_at'):
        op.add_column('incidents', sa.Column(name, sa.DateTime(), nullable=True))
    op.add_column('incidents', sa.Column('resolve_spent_seconds', sa.Integer(), nullable=False, server_default='0'))
    op.add_column('incidents', sa.Column('sla_notices', sa.Integer(), nullable=False, server_default='0'))
    for priority, (calendar, response, resolve) in DEFAULTS.items():
        op.execute(incidents.update().where(sa.text(f"priority = '{priority}'")).values(
            sla_calendar=calendar, response_target_minutes=response, resolve_target_minutes=resolve))
    _derive_clocks(op.get_bind())
    op.create_index('ix_incidents_resolve_due', 'incidents', ['resolve_due_at', 'id'], unique=False)
    op.create_index('ix_incidents_sla_next_check', 'incidents', ['sla_next_check_at'], unique=False)
    # Reports: "resolved in the range" and the backlog at a past moment read the incidents resolved
    # since then, not the whole table.
    op.create_index('ix_incidents_resolved_at', 'incidents', ['resolved_at'], unique=False)
    # Nothing points at incident_events, so SQLite's copy-and-rename of it breaks no reference.
    with op.batch_alter_table('incident_events') as batch:
        batch.alter_column('actor_id', existing_type=sa.Integer(), nullable=True)


def downgrade():
    op.execute("DELETE FROM incident_events WHERE actor_id IS NULL")
    with op.batch_alter_table('incident_events') as batch:
        batch.alter_column('actor_id', existing_type=sa.Integer(), nullable=False)
    op.drop_index('ix_incidents_resolved_at', table_name='incidents')
    op.drop_index('ix_incidents_sla_next_check', table_name='incidents')
    op.drop_index('ix_incidents_resolve_due', table_name='incidents')
    for name in ('sla_notices', 'resolve_spent_seconds', 'sla_next_check_at', 'resolve_warn_at', 'resolve_due_at',
                 'response_warn_at', 'response_due_at', 'responded_at', 'resolve_target_minutes',
                 'response_target_minutes', 'sla_calendar'):
        op.drop_column('incidents', name)
    op.drop_table('sla_policies')


def _derive_clocks(bind) -> None:
    """Each incident's clocks from its timeline, a thousand incidents per round trip."""
    from flask import current_app

    from app.incidents.calendar import calendar_for
    from app.incidents.clocks import Moment, Targets, derive
    from app.incidents.enums import EventKind, SlaCalendar, Status

    staff = ('technician', 'admin')
    last = 0
    while True:
        rows = bind.execute(
            sa.select(incidents.c.id, incidents.c.created_at, incidents.c.sla_calendar,
                      incidents.c.response_target_minutes, incidents.c.resolve_target_minutes)
            .where(incidents.c.id > last).order_by(incidents.c.id).limit(BATCH)
        ).all()
        if not rows:
            return
        ids = [row.id for row in rows]
        timelines: dict[int, list] = {incident_id: [] for incident_id in ids}
        for incident_id, kind, at, to_status, role in bind.execute(
            sa.select(events.c.incident_id, events.c.kind, events.c.created_at, events.c.to_status, users.c.role)
            .select_from(events.outerjoin(users, users.c.id == events.c.actor_id))
            .where(events.c.incident_id.in_(ids)).order_by(events.c.incident_id, events.c.id)
        ):
            timelines[incident_id].append(Moment(EventKind(kind), _aware(at), by_staff=role in staff,
                                                 to_status=Status(to_status) if to_status else None))
        values = []
        for row in rows:
            clocks = derive(created_at=_aware(row.created_at), moments=timelines[row.id],
                            targets=Targets(SlaCalendar(row.sla_calendar), row.response_target_minutes,
                                            row.resolve_target_minutes),
                            calendar=calendar_for(row.sla_calendar, current_app.config))
            stored = {name: _naive(value) for name, value in clocks.stored().items()}
            values.append({"row_id": row.id, **stored})
        bind.execute(incidents.update().where(incidents.c.id == sa.bindparam("row_id")), values)
        last = ids[-1]


def _aware(value):
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _naive(value):
    return value.astimezone(UTC).replace(tzinfo=None) if hasattr(value, "astimezone") else value
