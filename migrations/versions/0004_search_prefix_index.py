"""FTS5 prefix indexes (2, 3 and 4 characters) so word-prefix searches skip long posting lists.

Revision ID: 0004
Revises: 0003
"""
from alembic import op

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None

TRIGGERS = [
    """CREATE TRIGGER incidents_fts_insert AFTER INSERT ON incidents BEGIN
         INSERT INTO incidents_fts(rowid, title, description) VALUES (new.id, new.title, new.description);
       END""",
    """CREATE TRIGGER incidents_fts_delete AFTER DELETE ON incidents BEGIN
         INSERT INTO incidents_fts(incidents_fts, rowid, title, description)
         VALUES ('delete', old.id, old.title, old.description);
       END""",
    """CREATE TRIGGER incidents_fts_update AFTER UPDATE OF title, description ON incidents BEGIN
         INSERT INTO incidents_fts(incidents_fts, rowid, title, description)
         VALUES ('delete', old.id, old.title, old.description);
         INSERT INTO incidents_fts(rowid, title, description) VALUES (new.id, new.title, new.description);
       END""",
]


def _recreate(options: str) -> None:
    for trigger in ("insert", "delete", "update"):
        op.execute(f"DROP TRIGGER incidents_fts_{trigger}")
    op.execute("DROP TABLE incidents_fts")
    op.execute("CREATE VIRTUAL TABLE incidents_fts USING fts5(title, description, content='incidents', "
               f"content_rowid='id'{options})")
    for statement in TRIGGERS:
        op.execute(statement)
    op.execute("INSERT INTO incidents_fts(incidents_fts) VALUES ('rebuild')")


def upgrade():
    if op.get_bind().dialect.name == "sqlite":  # PostgreSQL's GIN index needs no such option
        _recreate(", prefix='2 3 4'")


def downgrade():
    if op.get_bind().dialect.name == "sqlite":
        _recreate("")
