"""Full-text search over what people wrote about an incident, through an index on SQLite (FTS5)
and on PostgreSQL (GIN over a word list), so its cost follows the matches, not the table size.

The rule (SPEC "The queue"): an incident matches when each word of the search box is the start of
a word somewhere in the text the searcher may read about it: its title, description and
resolution notes, and the bodies of its timeline events — comments, and the notes written with
an assignment, a hold or a reopen — internal ones (staff notes) only when the searcher is staff.
The words may sit in different places ("disk" in the title, "nginx" in a comment): each word is
looked up on its own, and an incident must be found by every one.

A word is a run of letters, digits, combining marks (so Devanagari or Thai words stay whole) and
emoji (🔥, 👍🏽, 👨‍💻, flags): everything else separates words, and is what makes hostile input
(quotes, `*`, `-`, NEAR, parentheses) harmless: only the words reach the index, each quoted.
Letters are compared ignoring case and, for Latin letters, accents ("cafe" and "CAFÉ" find
"Café"), the same on both databases. Scripts written without
spaces (Chinese, Japanese) have no word breaks to find: a search matches the start of a run of
such characters. An emoji next to a letter is part of the same word ("done✅" is found by
"done", not by "✅").

The index definitions live in migration 0012 (they must equal EMOJI_RANGES, TOKENIZE and
`pg_words` here: the queries repeat the index expression; a test compares them)."""
import unicodedata

from sqlalchemy import (
    ColumnElement,
    bindparam,
    column,
    false,
    func,
    literal_column,
    or_,
    select,
    table,
    text,
    union_all,
)

from app.extensions import db
from app.models import Incident, IncidentEvent

MAX_TERMS = 8
MAX_TERM_CHARS = 100  # a word's first 100 characters find it (PostgreSQL indexes runs of 200)

# Emoji and the characters that join them into one (ZWJ, variation selectors, keycap, tags).
EMOJI_RANGES = (
    (0x200D, 0x200D), (0x20E3, 0x20E3), (0x231A, 0x231B), (0x23E9, 0x23F3), (0x23F8, 0x23FA),
    (0x25AA, 0x25AB), (0x25B6, 0x25B6), (0x25C0, 0x25C0), (0x25FB, 0x25FE), (0x2600, 0x27BF),
    (0x2934, 0x2935), (0x2B05, 0x2B07), (0x2B1B, 0x2B1C), (0x2B50, 0x2B50), (0x2B55, 0x2B55),
    (0x3030, 0x3030), (0x303D, 0x303D), (0x3297, 0x3297), (0x3299, 0x3299), (0xFE0E, 0xFE0F),
    (0x1F000, 0x1FAFF), (0xE0020, 0xE007F),
)
# SQLite's unicode61 keeps letters, numbers and private-use characters by default; marks and
# emoji are added.
TOKENIZE = ("unicode61 remove_diacritics 2 categories 'L* N* Co M*' tokenchars '"
            + "".join(chr(c) for low, high in EMOJI_RANGES for c in range(low, high + 1)) + "'")
# PostgreSQL: its text-search parser drops emoji and reads "-226" as a number, so the word list is
# cut by a regular expression instead, the same one for the indexed text and for the search words.
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
PG_INCIDENT_TEXT = "title || ' ' || description || ' ' || coalesce(resolution_notes, '')"
PG_EVENT_TEXT = "coalesce(body, '')"


def pg_words(text_sql: str) -> str:
    """The word list of `text_sql` as a tsvector (lexemes without positions), lower-cased; runs over
    200 characters are cut (a lexeme holds at most 2 KiB; longer ones would be mangled)."""
    return ("array_to_tsvector(array_remove(regexp_split_to_array(regexp_replace(translate(regexp_replace(lower("
            + text_sql + "), '[\\u0300-\\u036F]', '', 'g'), '" + ACCENTED + "', '" + UNACCENTED + "'), "
            "'([" + PG_WORD + "]{200})', '\\1 ', 'g'), '[^" + PG_WORD + "]+'), ''))")


# The words of a bound search text, each as a prefix, joined by `&` (all required: 'disk':* &
# 'full':*) or `|` (any). The words went through `terms()` already; PostgreSQL may still cut one
# where its own idea of a letter differs (a mark).
_PG_QUERY = ("(SELECT string_agg('''' || w || ''':*', '{joiner}') "  # noqa: S608 -- constants; the words are bound
             f"FROM unnest(tsvector_to_array({pg_words('CAST(:term AS text)')})) AS w)::tsquery")

_EMOJI = frozenset(c for low, high in EMOJI_RANGES for c in range(low, high + 1))


def _is_word_char(char: str) -> bool:
    category = unicodedata.category(char)
    return category[0] in "LNM" or category == "Co" or ord(char) in _EMOJI


def terms(q: str) -> list[str]:
    """The words of a search box as the indexes cut them, lower-cased: at most MAX_TERMS words of at
    most MAX_TERM_CHARS characters each. A word is a run of word characters."""
    words: list[str] = []
    current: list[str] = []
    for char in (q or "") + " ":
        if _is_word_char(char):
            current.append(char)
            continue
        if current and any(unicodedata.category(c)[0] != "M" for c in current):  # not a lone mark
            words.append("".join(current)[:MAX_TERM_CHARS].lower())
            if len(words) == MAX_TERMS:
                break
        current = []
    return words


def matches(q: str, *, staff: bool) -> ColumnElement[bool]:
    """A WHERE clause on incidents: those in which every word of `q` starts a word of the title,
    description, resolution notes or an event's body — internal notes counted only for `staff`."""
    words = terms(q)
    if not words:
        return false()
    if db.session.get_bind().dialect.name == "postgresql":
        # = ANY(ARRAY(...)): the matches are read once, then their rows by primary key. As IN (...)
        # the planner may walk the whole list's order and test each row against the matches.
        return Incident.id == func.any(func.array(_postgres_found(words, staff=staff).scalar_subquery()))
    return Incident.id.in_(_sqlite_found(words, staff=staff))


def _visible(query, *, staff: bool):
    return query if staff else query.where(IncidentEvent.internal.is_(False))


def _prefix(word: str) -> str:
    return f'"{word}"*'  # a word holds no double quote (see terms)


def _fts(name: str):
    return table(name, column("rowid"))


def _fts_rowids(name: str, fts_query: str):
    index = _fts(name)
    return select(index.c.rowid).where(literal_column(name).match(fts_query))


def _in_events(fts_query: str, *, staff: bool):
    """The incidents with a (visible) event whose body matches `fts_query`; events are mapped to
    their incident by primary key."""
    event_ids = _fts_rowids("incidents_fts_events", fts_query)
    return _visible(select(IncidentEvent.incident_id).where(IncidentEvent.id.in_(event_ids)), staff=staff)


def _sqlite_found(words: list[str], *, staff: bool):
    """The ids of the incidents where every word starts a word, in two parts:

    - every word in the incident's own text: one FTS5 query with the words ANDed, so the index
      intersects their lists itself ("db"* alone lists an eighth of all incidents; with "123"* the
      answer is a few hundred, read without ever holding the eighth);
    - some word only in the timeline: the incidents with an event that holds any of the words (few:
      what people wrote), each then checked word by word, in its events or its own text (an FTS5
      lookup at that one rowid).

    Together they are exactly the incidents in which each word is in the text or in an event."""
    own = _fts_rowids("incidents_fts", " AND ".join(_prefix(word) for word in words))
    candidates = _in_events(" OR ".join(_prefix(word) for word in words), staff=staff).subquery()
    incident_id = candidates.c.incident_id

    def holds(word: str) -> ColumnElement[bool]:
        in_text = _fts_rowids("incidents_fts", _prefix(word))
        in_text = in_text.where(in_text.selected_columns.rowid == incident_id)  # a lookup at that rowid
        return or_(incident_id.in_(_in_events(_prefix(word), staff=staff)), in_text.exists())

    return union_all(own, select(incident_id).where(*(holds(word) for word in words)))


def _postgres_found(words: list[str], *, staff: bool):
    """The ids of the incidents where every word starts a word, in the same two parts as
    `_sqlite_found`, each a GIN index scan: every word in the incident's own text (one tsquery
    with the words ANDed, so the index intersects their lists: "db" alone lists an eighth of all
    incidents), or some word only in the timeline (the incidents with an event holding any of the
    words, each then checked word by word, in its events or in its own row's text)."""
    own = select(literal_column("found.id")).select_from(text("incidents AS found")).where(
        _pg_matches(PG_INCIDENT_TEXT, words, " & "))
    candidates = _pg_in_events(words, " | ", staff=staff).subquery()
    incident_id = candidates.c.incident_id

    def holds(word: str) -> ColumnElement[bool]:
        # The candidate's own row; its columns are the nearest `title`, `description`... in scope.
        own_text = table("incidents", column("id")).alias("own_text")
        in_text = select(own_text.c.id).where(own_text.c.id == incident_id,
                                              _pg_matches(PG_INCIDENT_TEXT, [word], " & "))
        return or_(incident_id.in_(_pg_in_events([word], " & ", staff=staff)), in_text.exists())

    return union_all(own, select(incident_id).where(*(holds(word) for word in words)))


def _pg_matches(text_sql: str, words: list[str], joiner: str):
    """`text_sql`'s word list holds `words`, as prefixes joined by `joiner` (the index's expression)."""
    term = bindparam("term", " ".join(words), unique=True)
    return text(f"{pg_words(text_sql)} @@ {_PG_QUERY.replace('{joiner}', joiner)}").bindparams(term)


def _pg_in_events(words: list[str], joiner: str, *, staff: bool):
    return _visible(select(IncidentEvent.incident_id).where(_pg_matches(PG_EVENT_TEXT, words, joiner)), staff=staff)
