"""Full-text search on title and description: SQLite FTS5, or a PostgreSQL GIN tsvector index.

Both answer the same question, "incidents containing words starting with each word of q",
through an index, so search cost follows the number of matches, not the table size."""
import re

from sqlalchemy import ColumnElement, false, literal_column, select, text

from app.extensions import db
from app.models import Incident

MAX_TERMS = 8
_WORD = re.compile(r"[^\W_]+")
# Must match the expression of the index created by migration 0002 on PostgreSQL. Punctuation is
# turned into spaces first so PostgreSQL splits words as `terms()` does ("db-226" -> db, 226;
# its own parser would index "-226" as a signed number).
PG_DOCUMENT = "to_tsvector('simple', regexp_replace(title || ' ' || description, '[^[:alnum:]]+', ' ', 'g'))"


def terms(q: str) -> list[str]:
    """The words of a search box, lower-cased, at most MAX_TERMS."""
    return [w.lower() for w in _WORD.findall(q or "")][:MAX_TERMS]


def matches(q: str) -> ColumnElement[bool]:
    """A WHERE clause selecting incidents that contain every word of `q` (as word prefixes)."""
    words = terms(q)
    if not words:
        return false()
    if db.session.get_bind().dialect.name == "postgresql":
        tsquery = " & ".join(f"{w}:*" for w in words)
        return text(f"{PG_DOCUMENT} @@ to_tsquery('simple', :tsquery)").bindparams(tsquery=tsquery)
    fts_query = " AND ".join(f'"{w}"*' for w in words)
    rowids = select(literal_column("rowid")).select_from(text("incidents_fts")).where(
        text("incidents_fts MATCH :fts_query").bindparams(fts_query=fts_query))
    return Incident.id.in_(rowids)
