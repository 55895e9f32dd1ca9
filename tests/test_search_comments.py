"""Search covers comments and resolution notes (internal notes for staff only), in any script,
emoji included (SPEC "The queue"; app/incidents/search.py states the rule). On SQLite and
PostgreSQL alike, through the list (domain, API, page) and both CSV exports."""
import csv
import importlib.util
import io
import random
from itertools import combinations
from pathlib import Path

import pytest
from sqlalchemy import select, text

from app.extensions import db
from app.incidents import search, service
from app.incidents.enums import Status
from app.incidents.queries import IncidentFilters, count_incidents, list_incidents
from app.models import Incident
from tests import factories
from tests.api_helpers import bearer
from tests.web_helpers import html, incident_in, login

MIGRATION = Path(__file__).resolve().parents[1] / "migrations" / "versions" / "0012_search_comments.py"


def _postgres() -> bool:
    return db.engine.dialect.name == "postgresql"


def ids(actor, q: str, **filters) -> set[int]:
    """The ids a search finds, checked against the list's total and the count."""
    found = IncidentFilters(q=q, **filters)
    page = list_incidents(actor=actor, filters=found, per_page=100)
    assert page.total == len(page.items) == count_incidents(actor=actor, filters=found)
    return {i.id for i in page.items}


@pytest.fixture
def worked(people):
    """An incident with a public comment, an internal note and resolution notes, each with its own word;
    and another one that has none of them."""
    incident = incident_in(Status.IN_PROGRESS, people, title="Mail queue stuck", description="Nothing leaves.")
    service.add_comment(actor=people["tech"], incident=incident, body="Restarted the postfix relay.")
    service.add_comment(actor=people["tech"], incident=incident, body="Vendor ticket quokkaseven opened.",
                        internal=True)
    service.resolve_incident(actor=people["tech"], incident=incident,
                             resolution_notes="Replaced the exhausted spoolvolume disk.")
    other = factories.make_incident(people["reporter"], title="Printer jam", description="Tray 2.")
    return incident, other


# ---- what is searched, and for whom ----------------------------------------------------------

def test_a_word_only_in_a_public_comment_finds_the_incident_for_everyone_who_sees_it(people, worked):
    incident, _ = worked
    for who in ("admin", "tech", "tech_other", "reporter"):
        assert ids(people[who], "postfix") == {incident.id}, who
    assert ids(people["reporter_other"], "postfix") == set()  # not their incident


def test_a_word_only_in_the_resolution_notes_finds_the_incident(people, worked):
    incident, _ = worked
    for who in ("admin", "tech", "reporter"):
        assert ids(people[who], "spoolvolume") == {incident.id}, who


def test_an_internal_note_is_searched_for_staff_and_never_for_the_reporter(people, worked):
    incident, _ = worked
    assert ids(people["admin"], "quokkaseven") == {incident.id}
    assert ids(people["tech_other"], "quokka") == {incident.id}
    assert ids(people["reporter"], "quokkaseven") == set()
    # Not even combined with a word the reporter may search: every word must be in what they read.
    assert ids(people["reporter"], "postfix quokkaseven") == set()
    assert ids(people["tech"], "postfix quokkaseven") == {incident.id}


def test_the_words_may_come_from_different_places(people, worked):
    """Each word is looked up on its own: title + comment + resolution notes."""
    incident, _ = worked
    assert ids(people["reporter"], "mail postfix spoolvol") == {incident.id}
    assert ids(people["reporter"], "mail printer") == set()


def test_every_placement_of_the_words_is_judged_as_the_rule_says(people):
    """Words put at random in titles, public comments and internal notes of 30 incidents; every
    search of one, two and three of them finds exactly the incidents a plain reading of the rule
    (each word in the title or a comment the searcher may read) picks. The query finds the words
    of an incident's own text with one index lookup and the rest through the timeline: any split
    of the words between the two must still be found."""
    rng = random.Random(19)
    vocabulary = ["alpha", "bravo", "charlie", "delta"]
    placed = {}
    for _ in range(30):
        in_title = rng.sample(vocabulary, rng.randint(0, 2))
        public, internal = rng.sample(vocabulary, rng.randint(0, 2)), rng.sample(vocabulary, rng.randint(0, 1))
        incident = factories.make_incident(people["reporter"], title=" ".join(["Case", *in_title]),
                                           description="Nothing more.")
        for words, hidden in ((public, False), (internal, True)):
            if words:
                service.add_comment(actor=people["admin"], incident=incident, body=" ".join(words), internal=hidden)
        placed[incident.id] = (set(in_title), set(public), set(internal))
    searches = [list(words) for size in (1, 2, 3) for words in combinations(vocabulary, size)]
    for who, staff in (("admin", True), ("reporter", False)):
        for words in searches:
            expected = {incident_id for incident_id, (title, public, internal) in placed.items()
                        if all(word in title | public | (internal if staff else set()) for word in words)}
            assert ids(people[who], " ".join(words)) == expected, (who, words)
    title_only = {i for i, (title, public, internal) in placed.items() if {"alpha", "bravo"} <= title}
    split = {i for i, (title, public, _) in placed.items()
             if {"alpha", "bravo"} <= title | public and not {"alpha", "bravo"} <= title}
    assert title_only and split  # both parts of the query have something to find


def test_the_reporter_finds_nothing_by_an_internal_word_through_the_api_the_page_and_the_exports(
        client, people, worked):
    incident, _ = worked
    reporter, tech = people["reporter"], people["tech"]
    as_reporter, as_tech = bearer(reporter), bearer(tech)

    def api(q, headers):
        body = client.get(f"/incidents/?q={q}", headers=headers).get_json()
        assert body["total"] == len(body["items"])
        return {item["id"] for item in body["items"]}

    def api_csv(q, headers):
        response = client.get(f"/incidents/export.csv?q={q}", headers=headers)
        assert response.status_code == 200
        return {row["id"] for row in csv.DictReader(io.StringIO(html(response)))}

    assert api("quokkaseven", as_tech) == {incident.id}
    assert api("quokkaseven", as_reporter) == set()
    assert api("postfix", as_reporter) == {incident.id}
    assert api_csv("quokkaseven", as_tech) == {str(incident.id)}
    assert api_csv("quokkaseven", as_reporter) == set()
    assert api_csv("spoolvolume", as_reporter) == {str(incident.id)}

    login(client, reporter)
    page = html(client.get("/ui/incidents/?q=quokkaseven"))
    assert "No incidents match" in page and "Mail queue stuck" not in page
    assert "Mail queue stuck" in html(client.get("/ui/incidents/?q=postfix"))
    ui_csv = html(client.get("/ui/incidents/export.csv?q=quokkaseven"))
    assert "Mail queue stuck" not in ui_csv
    assert "Mail queue stuck" in html(client.get("/ui/incidents/export.csv?q=spoolvolume"))
    client.post("/logout")
    login(client, tech)
    assert "Mail queue stuck" in html(client.get("/ui/incidents/?q=quokkaseven"))
    assert "Mail queue stuck" in html(client.get("/ui/incidents/export.csv?q=quokkaseven"))


def test_prefixes_and_case(people, worked):
    incident, _ = worked
    for q in ("POSTF", "post", "Restart", "relay", "spool", "quok"):
        assert ids(people["admin"], q) == {incident.id}, q
    assert ids(people["admin"], "postfixx") == set()
    assert ids(people["admin"], "ostfix") == set()  # the start of a word, not any part of it


def test_an_incident_found_by_several_comments_is_listed_once(people):
    incident = incident_in(Status.IN_PROGRESS, people, title="Flaky link")
    others = [factories.make_incident(people["reporter"], title=f"Unrelated {n}") for n in range(3)]
    for n in range(4):
        service.add_comment(actor=people["tech"], incident=incident, body=f"Saw the wobble again ({n}).")
    service.add_comment(actor=people["tech"], incident=others[0], body="A wobble here too.")
    assert ids(people["admin"], "wobble") == {incident.id, others[0].id}
    assert ids(people["admin"], "wobble", status=[Status.IN_PROGRESS]) == {incident.id}


def test_search_pages_agree_with_the_total(people):
    """Matches spread over pages: each once, the total the same on every page."""
    found = []
    for n in range(7):
        incident = factories.make_incident(people["reporter"], title=f"Case {n}")
        service.add_comment(actor=people["reporter"], incident=incident, body=f"the kettle {n} again")
        found.append(incident.id)
    seen = []
    for number in (1, 2, 3):
        page = list_incidents(actor=people["admin"], filters=IncidentFilters(q="kettle"), per_page=3, page=number)
        assert page.total == 7
        seen += [i.id for i in page.items]
    assert sorted(seen) == sorted(found)
    first = list_incidents(actor=people["admin"], filters=IncidentFilters(q="kettle"), per_page=3)
    by_cursor = list_incidents(actor=people["admin"], filters=IncidentFilters(q="kettle"), per_page=3,
                               cursor=first.next_cursor)
    assert [i.id for i in first.items + by_cursor.items] == seen[:6]


# ---- the index keeps in step ------------------------------------------------------------------

def test_new_resolution_notes_replace_the_old_ones_in_the_index(people, worked):
    incident, _ = worked
    service.reopen_incident(actor=people["reporter"], incident=incident, reason="It is stuck again.")
    if incident.status == Status.OPEN:
        service.assign_incident(actor=people["admin"], incident=incident, technician_id=people["tech"].id)
    if incident.status == Status.ASSIGNED:
        service.start_incident(actor=people["tech"], incident=incident)
    service.resolve_incident(actor=people["tech"], incident=incident, resolution_notes="Moved to a new mailhost.")
    assert ids(people["reporter"], "mailhost") == {incident.id}
    # The old notes stay on the timeline (the resolve event's body), so their word still finds it.
    assert ids(people["reporter"], "spoolvolume") == {incident.id}
    db.session.execute(text("UPDATE incident_events SET body = 'x' WHERE body LIKE '%spoolvolume%'"))
    db.session.commit()
    assert ids(people["reporter"], "spoolvolume") == set()


def test_updated_and_deleted_rows_leave_the_index(people, worked):
    """Timeline events are append-only in the app; the index follows any change made to the table."""
    incident, other = worked
    db.session.execute(text("UPDATE incident_events SET body = 'Restarted the exim relay.' "
                            "WHERE body = 'Restarted the postfix relay.'"))
    db.session.commit()
    assert ids(people["admin"], "postfix") == set()
    assert ids(people["admin"], "exim") == {incident.id}
    service.add_comment(actor=people["reporter"], incident=other, body="Yellow smoke!")
    assert ids(people["admin"], "yellow") == {other.id}
    db.session.execute(text("DELETE FROM incident_events WHERE body = 'Yellow smoke!'"))
    db.session.commit()
    assert ids(people["admin"], "yellow") == set()
    db.session.execute(text("UPDATE incidents SET resolution_notes = 'Swapped the gizmotron.' WHERE id = :id"),
                       {"id": incident.id})
    db.session.commit()
    assert ids(people["admin"], "gizmotron") == {incident.id}
    if not _postgres():
        for table in ("incidents_fts", "incidents_fts_events"):  # the FTS5 index equals its content table
            db.session.execute(text(f"INSERT INTO {table}({table}, rank) VALUES ('integrity-check', 1)"))


# ---- any Unicode text ---------------------------------------------------------------------------

TEXTS = {
    "emoji": "Deploy went 🔥 again, rollback ✅ by 👨‍💻 — thanks 👍🏽 🇩🇪",
    "cjk": "東京 サーバー が 停止 しました。 서울 서버 다운",
    "accents": "Café Zürich naïve façade ÉTÉ",
    "scripts": "ПРИВЕТ мир Ελληνικά नमस्ते दुनिया مرحبا שלום สวัสดี",
}
FOUND_BY = {
    "emoji": ["🔥", "✅", "👨‍💻", "👍🏽", "👍", "🇩🇪", "rollback 🔥"],
    "cjk": ["東京", "サーバー", "停止", "서울", "서버", "東京 서울"],
    "accents": ["café", "CAFÉ", "zürich", "ZÜR", "naïve", "été", "Été"],
    "scripts": ["привет", "ПРИ", "мир", "ελληνικά", "नमस्ते", "नम", "दुनिया", "مرحبا", "שלום", "สวัสดี"],
}


@pytest.mark.parametrize("where", ["title", "description", "comment", "resolution notes"])
@pytest.mark.parametrize("kind", TEXTS)
def test_words_in_any_script_and_emoji_are_found(people, kind, where):
    body = TEXTS[kind]
    fields = {"title": body[:200]} if where == "title" else {"description": body} if where == "description" else {}
    incident = incident_in(Status.IN_PROGRESS, people, **fields)
    if where == "comment":
        service.add_comment(actor=people["reporter"], incident=incident, body=body)
    if where == "resolution notes":
        service.resolve_incident(actor=people["tech"], incident=incident, resolution_notes=body)
    factories.make_incident(people["reporter"], title="Plain words only", description="Nothing special: fire")
    for q in FOUND_BY[kind]:
        assert ids(people["reporter"], q) == {incident.id}, q
    assert ids(people["reporter"], "💧") == set()
    assert ids(people["reporter"], "京都") == set()


def test_accents_and_case_are_ignored_on_both_databases(people):
    incident = factories.make_incident(people["reporter"], title="Café au lait", description="Ångström ŒUVRE Ñandú")
    decomposed = factories.make_incident(people["reporter"], title="Cafe\u0301 cre\u0300me")  # combining accents
    for q in ("café", "cafe", "CAFÉ", "Cafe\u0301", "angstrom", "ÅNGSTRÖM", "nandu", "ñandú", "œuvre"):
        expected = {incident.id, decomposed.id} if q.lower().startswith("caf") else {incident.id}
        assert ids(people["reporter"], q) == expected, q
    assert ids(people["reporter"], "crème") == ids(people["reporter"], "creme") == {decomposed.id}


LATIN = [chr(code) for low, high in search.LATIN_RANGES for code in range(low, high + 1)]


def test_latin_letters_fold_the_same_on_both_databases(app):
    """Every Latin letter, indexed between two x: the word is the letter lower-cased without its
    accents (search.ACCENTED -> UNACCENTED, SQLite's own folding); × and ÷ separate words.
    Each database is checked against the same table, so the two agree."""
    folded = dict(zip(search.ACCENTED, search.UNACCENTED, strict=True))
    expected = {char: {f"x{folded.get(char, char.lower())}x"} for char in LATIN}
    expected.update({"×": {"x"}, "÷": {"x"}, "ſ": {"xsx"}})
    samples = [f"x{char}x" for char in LATIN]
    if _postgres():
        got = db.session.execute(text(
            f"SELECT t, tsvector_to_array({search.pg_words('t')}) FROM unnest(CAST(:samples AS text[])) AS t"),
            {"samples": samples}).all()
        indexed = {sample[1]: set(words) for sample, words in got}
    else:
        db.session.execute(text(f"CREATE VIRTUAL TABLE temp.probe USING fts5(x, tokenize=\"{search.TOKENIZE}\")"))
        db.session.execute(text("CREATE VIRTUAL TABLE temp.probe_words USING fts5vocab(temp, probe, 'instance')"))
        for n, sample in enumerate(samples, start=1):
            db.session.execute(text("INSERT INTO temp.probe(rowid, x) VALUES (:n, :t)"), {"n": n, "t": sample})
        words = {}
        for n, term in db.session.execute(text("SELECT doc, term FROM temp.probe_words")):
            words.setdefault(n, set()).add(term)
        indexed = {samples[n - 1][1]: terms for n, terms in words.items()}
    wrong = {char: (indexed.get(char), expected[char]) for char in LATIN if indexed.get(char) != expected[char]}
    assert wrong == {}


def test_an_emoji_glued_to_a_word_belongs_to_it(people):
    incident = factories.make_incident(people["reporter"], title="done✅ for today")
    assert ids(people["reporter"], "done") == {incident.id}
    assert ids(people["reporter"], "done✅") == {incident.id}
    assert ids(people["reporter"], "✅") == set()


HOSTILE = [
    '"', '""', '"unbalanced', "*", "**", "a*", "-", "-x", "x-", "--", "NEAR", "NEAR(a b)", "NEAR/2",
    "AND", "OR", "NOT", "a AND", "OR b", "NOT NOT", "(", ")", "()", "(a", "a)", "'", "''", "\\", "\\\\",
    "%", "_", ":", "a:*", "'a':*", "a & b | !c", "!", "<->", "a <-> b", "^x", "{x}", "[x]", "title:x",
    "incidents_fts:x", "rowid", "\x00", "x\x00y", "\u0301", "e\u0301", "\u200d", "\ufe0f", "🏽",
    "x" * 10_000, "word " * 2_000, "🔥" * 3_000, "東" * 5_000, "a" * 250, "%' OR 1=1 --", "'; DROP TABLE incidents; --",
    "\ud7ff", "\U0010ffff", "\ue000", "ﷺ", "\t\n\r", " ",
]


def test_hostile_search_input_never_raises(client, people, worked):
    incident, _ = worked
    service.add_comment(actor=people["tech"], incident=incident, body='NEAR("x" AND (y* OR -z)) \' \\ : *')
    headers = bearer(people["tech"])
    for q in HOSTILE:
        page = list_incidents(actor=people["tech"], filters=IncidentFilters(q=q))
        assert page.total == len(page.items) <= 2, repr(q[:20])
        response = client.get("/incidents/", query_string={"q": q}, headers=headers)
        assert response.status_code in (200, 422), (repr(q[:20]), response.status_code)
        response = client.get("/incidents/export.csv", query_string={"q": q}, headers=headers)
        assert response.status_code in (200, 422), (repr(q[:20]), response.status_code)
    login(client, people["tech"])
    for q in HOSTILE:
        response = client.get("/ui/incidents/", query_string={"q": q})
        assert response.status_code in (200, 422), (repr(q[:20]), response.status_code)
    assert ids(people["tech"], "near") == {incident.id}  # the hostile comment is plain words to the index


def test_a_long_unbroken_run_of_word_characters_is_indexed_by_its_start(people):
    """A pasted token or key (PostgreSQL keeps lexemes under 2 KiB: the run is cut, not mangled)."""
    blob = "Zq" + "x7" * 2_000
    incident = incident_in(Status.IN_PROGRESS, people)
    service.add_comment(actor=people["tech"], incident=incident, body=f"token {blob} pasted")
    assert ids(people["tech"], blob[:50]) == {incident.id}
    assert ids(people["tech"], blob) == {incident.id}  # the search word is cut to its first 100 characters
    assert ids(people["tech"], "pasted") == {incident.id}


# ---- the word splitter agrees with the indexes ------------------------------------------------

def test_terms_are_the_words_of_the_box():
    assert search.terms("Disk-full  on DB-226!") == ["disk", "full", "on", "db", "226"]
    assert search.terms('NEAR("x" AND (y* OR -z))') == ["near", "x", "and", "y", "or", "z"]
    assert search.terms("🔥fire 👍🏽 a👨‍💻 東京タワー") == ["🔥fire", "👍🏽", "a👨‍💻", "東京タワー"]
    assert search.terms("नमस्ते e\u0301t\u00e9 \u0301") == ["नमस्ते", "e\u0301t\u00e9"]
    assert search.terms(" ".join(f"w{n}" for n in range(20))) == [f"w{n}" for n in range(search.MAX_TERMS)]
    assert search.terms("y" * 500) == ["y" * search.MAX_TERM_CHARS]
    assert search.terms("\x00 ' \" * - ( ) :") == []
    assert search.terms(None) == []


# PostgreSQL's locale decides what a letter is; it cuts Devanagari at the virama (both the text
# and the search word, so नमस्ते is still found), hence no Devanagari here.
SAMPLES = [TEXTS["emoji"], TEXTS["cjk"], "ПРИВЕТ мир Ελληνικά مرحبا שלום สวัสดี",
           "Disk-full on DB-226: user@example.com (v1.2.3) 50%",
           "🔥fire done✅ ✈️ 1️⃣ ⌛ ❤️ 🏴󠁧󠁢󠁳󠁣󠁴󠁿 ok", "tabs\tand\nnew lines_under_scores"]


@pytest.mark.parametrize("sample", SAMPLES)
def test_the_index_cuts_words_as_terms_does(app, sample):
    """The words the database indexes for a text are the words terms() reads from it."""
    expected = {word for chunk in sample.split() for word in search.terms(chunk)}
    if _postgres():
        indexed = db.session.scalar(text(f"SELECT tsvector_to_array({search.pg_words('CAST(:t AS text)')})"),
                                    {"t": sample})
    else:
        db.session.execute(text(f"CREATE VIRTUAL TABLE temp.probe USING fts5(x, tokenize=\"{search.TOKENIZE}\")"))
        db.session.execute(text("CREATE VIRTUAL TABLE temp.probe_words USING fts5vocab(temp, probe, 'row')"))
        db.session.execute(text("INSERT INTO temp.probe(x) VALUES (:t)"), {"t": sample})
        indexed = db.session.scalars(text("SELECT term FROM temp.probe_words")).all()
    assert set(indexed) == expected


def test_the_queries_repeat_the_migrations_index_definitions():
    """The PostgreSQL planner uses an expression index only for the same expression; SQLite's FTS5
    tables must cut words as terms() does."""
    spec = importlib.util.spec_from_file_location("migration_0012", MIGRATION)
    migration = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(migration)
    assert migration.EMOJI_RANGES == search.EMOJI_RANGES
    assert migration.TOKENIZE == search.TOKENIZE
    assert migration.PG_INCIDENT_TEXT == search.PG_INCIDENT_TEXT
    assert migration.PG_EVENT_TEXT == search.PG_EVENT_TEXT
    assert migration.pg_words("x") == search.pg_words("x")


def test_the_search_query_goes_through_both_indexes(people, worked):
    """The plan of a staff and of a reporter search names both indexes: on PostgreSQL this proves the
    query repeats each index expression exactly (the planner could not use the index otherwise)."""
    for who in ("admin", "reporter"):
        query = select(Incident.id).where(search.matches("postfix relay", staff=who == "admin"))
        statement = query.compile(db.engine)
        parameters = statement.construct_params()
        if _postgres():
            db.session.execute(text("SET LOCAL enable_seqscan = off"))
            plan = "\n".join(row[0] for row in db.session.connection().exec_driver_sql(
                "EXPLAIN " + str(statement), parameters))
            assert "ix_incidents_search " in plan and "ix_incidents_search_events" in plan, plan
        else:
            plan = "\n".join(row[3] for row in db.session.connection().exec_driver_sql(
                "EXPLAIN QUERY PLAN " + str(statement), tuple(parameters[name] for name in statement.positiontup)))
            assert "SCAN incidents_fts VIRTUAL TABLE" in plan and "SCAN incidents_fts_events VIRTUAL TABLE" in plan
            assert "SEARCH incident_events USING INTEGER PRIMARY KEY" in plan, plan
        db.session.rollback()
