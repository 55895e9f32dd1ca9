"""The queue: search covers resolution notes and the timeline's text (comments, internal notes),
in any script, emoji included.

- SQLite: incidents_fts is rebuilt over (title, description, resolution_notes) with a tokenizer
  that keeps combining marks inside words (Devanagari, Thai...), counts emoji as word characters
  (unicode61 drops them) and takes accents off every Latin letter (remove_diacritics 2); a second FTS5 table, incidents_fts_events, indexes the
  bodies of incident_events (external content, kept in step by triggers). Both are filled from
  the existing rows.
- PostgreSQL: ix_incidents_search covers resolution_notes too, ix_incidents_search_events the
  events' bodies. Both index the same word list: the text lower-cased, Latin letters without
  their accents (as SQLite's remove_diacritics 2), cut into runs of letters,
  digits and emoji (PostgreSQL's own parser drops emoji and reads "-226" as a number), runs
  longer than 200 characters cut into pieces (a tsvector lexeme holds at most 2 KiB).

The expressions and the tokenizer must stay equal to app/incidents/search.py (the queries must
repeat the index expression to use it; tests/test_search_comments.py compares them).

Downgrading restores 0011's search: title and description only.

Revision ID: 0012
Revises: 0011
"""
import unicodedata

from alembic import op

revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None

# Emoji and the characters that join them into one (ZWJ, variation selectors, keycap, tags).
EMOJI_RANGES = (
    (0x200D, 0x200D), (0x20E3, 0x20E3), (0x231A, 0x231B), (0x23E9, 0x23F3), (0x23F8, 0x23FA),
    (0x25AA, 0x25AB), (0x25B6, 0x25B6), (0x25C0, 0x25C0), (0x25FB, 0x25FE), (0x2600, 0x27BF),
    (0x2934, 0x2935), (0x2B05, 0x2B07), (0x2B1B, 0x2B1C), (0x2B50, 0x2B50), (0x2B55, 0x2B55),
    (0x3030, 0x3030), (0x303D, 0x303D), (0x3297, 0x3297), (0x3299, 0x3299), (0xFE0E, 0xFE0F),
    (0x1F000, 0x1FAFF), (0xE0020, 0xE007F),
)
TOKENIZE = ("unicode61 remove_diacritics 2 categories 'L* N* Co M*' tokenchars '"
            + "".join(chr(c) for low, high in EMOJI_RANGES for c in range(low, high + 1)) + "'")
# PostgreSQL: Latin letters lose their accents as SQLite's remove_diacritics 2 takes them off
# (decomposable letters of Latin-1 Supplement, Extended-A/B and Extended Additional; SQLite keeps Ǡ ǡ
# and folds ſ ẛ to s); combining accents (U+0300-036F) are dropped.
LATIN_RANGES = ((0x00C0, 0x024F), (0x1E00, 0x1EFF))


def _latin_folds() -> tuple[str, str]:
    pairs = {}
    for low, high in LATIN_RANGES:
        for code in range(low, high + 1):
            parts = unicodedata.normalize("NFD", chr(code))
            if len(parts) > 1 and parts[0].isascii() and parts[0].isalpha() and all(
                    unicodedata.combining(mark) for mark in parts[1:]):
                pairs[chr(code)] = parts[0].lower()
    del pairs["\u01e0"], pairs["\u01e1"]
    pairs.update({"\u017f": "s", "\u1e9b": "s"})
    return "".join(pairs), "".join(pairs.values())


ACCENTED, UNACCENTED = _latin_folds()
PG_WORD = "[:alnum:]" + "".join(f"\\U{low:08X}-\\U{high:08X}" for low, high in EMOJI_RANGES)


def pg_words(text: str) -> str:
    """The word list of `text` as a tsvector (lexemes without positions)."""
    return ("array_to_tsvector(array_remove(regexp_split_to_array(regexp_replace(translate(regexp_replace(lower("
            + text + "), '[\\u0300-\\u036F]', '', 'g'), '" + ACCENTED + "', '" + UNACCENTED + "'), "
            "'([" + PG_WORD + "]{200})', '\\1 ', 'g'), '[^" + PG_WORD + "]+'), ''))")


PG_INCIDENT_TEXT = "title || ' ' || description || ' ' || coalesce(resolution_notes, '')"
PG_EVENT_TEXT = "coalesce(body, '')"

OLD_PG_INDEX = ("CREATE INDEX ix_incidents_search ON incidents USING gin "
                "(to_tsvector('simple', regexp_replace(title || ' ' || description, '[^[:alnum:]]+', ' ', 'g')))")


def _fts_triggers(table: str, fts: str, columns: tuple[str, ...]) -> list[str]:
    names = ", ".join(columns)
    new = ", ".join(f"new.{c}" for c in columns)
    old = ", ".join(f"old.{c}" for c in columns)
    return [
        f"""CREATE TRIGGER {fts}_insert AFTER INSERT ON {table} BEGIN
              INSERT INTO {fts}(rowid, {names}) VALUES (new.id, {new});
            END""",
        f"""CREATE TRIGGER {fts}_delete AFTER DELETE ON {table} BEGIN
              INSERT INTO {fts}({fts}, rowid, {names}) VALUES ('delete', old.id, {old});
            END""",
        f"""CREATE TRIGGER {fts}_update AFTER UPDATE OF {names} ON {table} BEGIN
              INSERT INTO {fts}({fts}, rowid, {names}) VALUES ('delete', old.id, {old});
              INSERT INTO {fts}(rowid, {names}) VALUES (new.id, {new});
            END""",
    ]


def _create_fts(table: str, fts: str, columns: tuple[str, ...], options: str) -> None:
    op.execute(f"CREATE VIRTUAL TABLE {fts} USING fts5({', '.join(columns)}, content='{table}', "
               f"content_rowid='id'{options})")
    for statement in _fts_triggers(table, fts, columns):
        op.execute(statement)
    op.execute(f"INSERT INTO {fts}({fts}) VALUES ('rebuild')")


def _drop_fts(fts: str) -> None:
    for trigger in ("insert", "delete", "update"):
        op.execute(f"DROP TRIGGER {fts}_{trigger}")
    op.execute(f"DROP TABLE {fts}")


def upgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP INDEX ix_incidents_search")
        op.execute("CREATE INDEX ix_incidents_search ON incidents USING gin "
                   f"({pg_words(PG_INCIDENT_TEXT)})")
        op.execute("CREATE INDEX ix_incidents_search_events ON incident_events USING gin "
                   f"({pg_words(PG_EVENT_TEXT)})")
        return
    options = f", prefix='2 3 4', tokenize=\"{TOKENIZE}\""
    _drop_fts("incidents_fts")
    _create_fts("incidents", "incidents_fts", ("title", "description", "resolution_notes"), options)
    _create_fts("incident_events", "incidents_fts_events", ("body",), options)


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP INDEX ix_incidents_search_events")
        op.execute("DROP INDEX ix_incidents_search")
        op.execute(OLD_PG_INDEX)
        return
    _drop_fts("incidents_fts_events")
    _drop_fts("incidents_fts")
    _create_fts("incidents", "incidents_fts", ("title", "description"), ", prefix='2 3 4'")
