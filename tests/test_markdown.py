"""Markdown (app/incidents/markdown.py): what it renders, the XSS corpus (tests/xss_corpus.py) held to
the allow-list by an HTML parser — through the renderer alone, the sanitizer alone, the incident page
and the comment mail's HTML part — and bounded work on hostile input."""
import io
import re
import time

import pytest
from markupsafe import escape
from sqlalchemy import select

from app.extensions import db
from app.incidents import service
from app.incidents.enums import Status
from app.incidents.lifecycle import TEXT_MAX
from app.incidents.markdown import LINK_REL, render, sanitize
from app.models import Attachment, OutboxMessage
from tests.web_helpers import html, incident_in, login
from tests.xss_corpus import PAYLOADS, dangers_in_document, problems_in

# What the services accept (no control characters but tab, CR, LF): the corpus entries a person can store.
STORABLE = [payload for payload in PAYLOADS if not re.search(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]", payload)]


def _id(payload: str) -> str:
    return payload[:40]


# ---- what it renders ------------------------------------------------------------------------

@pytest.mark.parametrize(("text", "expected"), [
    ("*soft* and **loud** and ~~gone~~", "<p><em>soft</em> and <strong>loud</strong> and <s>gone</s></p>"),
    ("Run `lpq -a` now", "<p>Run <code>lpq -a</code> now</p>"),
    ("```python\nif a < b:\n    print('x')\n```", "<pre><code>if a &lt; b:\n    print('x')\n</code></pre>"),
    ("    indented <code>", "<pre><code>indented &lt;code&gt;\n</code></pre>"),
    ("first line\nsecond line", "<p>first line<br>\nsecond line</p>"),
    ("> quoted\n\nafter", "<blockquote>\n<p>quoted</p>\n</blockquote>\n<p>after</p>"),
    ("- a\n- b", "<ul>\n<li>a</li>\n<li>b</li>\n</ul>"),
    ("3. c\n4. d", '<ol start="3">\n<li>c</li>\n<li>d</li>\n</ol>'),
    ("# Title\n## Part", "<h3>Title</h3>\n<h4>Part</h4>"),
    ("---", "<hr>"),
    ("| a | b |\n|---|--:|\n| 1 | 2 |", "<table>\n<thead>\n<tr>\n<th>a</th>\n<th>b</th>\n</tr>\n</thead>\n"
                                        "<tbody>\n<tr>\n<td>1</td>\n<td>2</td>\n</tr>\n</tbody>\n</table>"),
    ("", ""),
])
def test_commonmark_renders_as_expected(text, expected):
    """Emphasis, code spans and blocks (markup inside stays text), kept line breaks, quotes, lists,
    headings moved below the page's own, rules and tables."""
    assert render(text) == expected


@pytest.mark.parametrize(("text", "href"), [
    ("see http://wiki.example.com/printers for more", "http://wiki.example.com/printers"),
    ("see https://example.com/a?b=1&c=2.", "https://example.com/a?b=1&amp;c=2"),
    ("see www.example.com", "http://www.example.com"),
    ("write to help@example.com", "mailto:help@example.com"),
    ("[the wiki](https://wiki.example.com \"Wiki\")", "https://wiki.example.com"),
    ("<https://example.com/x>", "https://example.com/x"),
    ("[ref]\n\n[ref]: https://example.com/r", "https://example.com/r"),
])
def test_links_and_plain_urls_become_links_with_rel(text, href):
    """Plain URLs, www. names and addresses are linked; every link carries rel=nofollow noopener noreferrer."""
    out = render(text)
    assert f'href="{href}"' in out
    assert out.count("<a ") == out.count(f'rel="{LINK_REL}"') == 1
    assert problems_in(out) == []


def test_images_are_not_fetched_and_ftp_is_not_linked():
    """No <img> (a comment must not make readers' browsers or mail clients fetch a URL); an ftp URL stays text."""
    out = render("![diagram](https://example.com/d.png) and ftp://files.example.com/x")
    assert "<img" not in out and 'href="https://example.com/d.png"' in out
    assert "ftp://files.example.com/x" in out and 'href="ftp' not in out


def test_raw_html_is_text_not_markup():
    """html is off: tags someone typed are shown as text, with the same words."""
    assert render("<b>bold?</b> <!-- hidden -->") == "<p>&lt;b&gt;bold?&lt;/b&gt; &lt;!-- hidden --&gt;</p>"


# ---- the XSS corpus -------------------------------------------------------------------------

def test_the_corpus_is_big_enough_and_the_checkers_can_fail():
    """At least 40 payloads; the checkers catch what they are there to catch (so a pass means something)."""
    assert len(PAYLOADS) >= 40 and len(STORABLE) >= 40
    rel = f'rel="{LINK_REL}"'
    for bad in ['<script>x</script>', '<img src=x>', f'<a href="javascript:alert(1)" {rel}>x</a>',
                '<a href="http://x">no rel</a>', '<p onclick="x">', f'<a href="data:text/html,x" {rel}>',
                '<p><!-- c --></p>', '<iframe src="/x"></iframe>', '<span>not allowed</span>', '<p style="x">']:
        assert problems_in(bad), bad
    for bad in ['<script>alert(1)</script>', '<svg></svg>', '<p onmouseover="x">', '<a href="javascript:x">',
                '<meta http-equiv="refresh" content="0">', '<div style="background:url(x)">',
                '<form action="vbscript:x">']:
        assert dangers_in_document(bad), bad
    assert dangers_in_document('<script src="/static/js/app.js"></script><a href="/ui/">ok</a>') == []


@pytest.mark.parametrize("payload", PAYLOADS, ids=_id)
def test_hostile_markdown_renders_to_allowed_html_only(payload):
    """Each payload rendered: only allow-listed tags and attributes, no handler, links http/https/mailto
    with rel, no comment; and what was text stays text (no '<script' element, escaped or dropped)."""
    out = render(payload)
    assert problems_in(out) == [], out
    assert "<script" not in out.lower() and "<svg" not in out.lower()


@pytest.mark.parametrize("payload", PAYLOADS, ids=_id)
def test_the_sanitizer_alone_holds_for_raw_html(payload):
    """Defence in depth: the payload fed to the sanitizer as HTML (as if the parser had let it through)
    still comes out inside the allow-list."""
    assert problems_in(sanitize(payload)) == []


def test_hostile_input_renders_in_linear_time():
    """10,000 characters of the worst shapes (deep quotes and lists, unclosed brackets and emphasis,
    long runs of markup): four times the text takes about four times as long (runs of emphasis
    about eight here), never the sixteen of quadratic backtracking. A ratio measured in one moment,
    so a busy machine does not fail it; a shape too fast to measure (under 50 ms for the whole
    text) passes as it is."""
    shapes = {
        "quotes": ">" * TEXT_MAX, "lists": "".join("  " * i + "- x\n" for i in range(400)),
        "quote-lists": "> - " * (TEXT_MAX // 4), "ordered": "1. " * (TEXT_MAX // 3),
        "brackets": "[" * TEXT_MAX, "links": "[a](" * (TEXT_MAX // 4), "nested-links": "[" * 4000 + "](x)" * 1500,
        "emphasis": "*a" * (TEXT_MAX // 2), "underscores": "_a" * (TEXT_MAX // 2), "mixed": "*a _b " * 1666,
        "backticks": "`a``" * (TEXT_MAX // 4), "angles": "<" * TEXT_MAX, "entities": "&#x" * (TEXT_MAX // 3),
        "urls": "http://a.example/ " * 550, "emails": "a@b.example " * 900, "lines": "a\n" * (TEXT_MAX // 2),
        "table": "|a|b|\n|-|-|\n" + "|x|y|\n" * 1600, "backslashes": "\\" * TEXT_MAX,
        "refs": "[a]: http://x.example\n" * 450 + "[a] " * 100,
    }
    for name, text in shapes.items():
        quarter, whole = _best_of_three(text[:TEXT_MAX // 4]), _best_of_three(text[:TEXT_MAX])
        assert whole < 0.05 or whole < 12 * quarter, (name, quarter, whole)  # linear: ~4; quadratic: ~16


def _best_of_three(text: str) -> float:
    """Seconds to render `text` past the cache, the best of three (a pause is not the renderer's)."""
    times = []
    for _ in range(3):
        started = time.perf_counter()
        render.__wrapped__(text)
        times.append(time.perf_counter() - started)
    return min(times)


# ---- the corpus through the page and the mail -----------------------------------------------

@pytest.mark.parametrize("payload", STORABLE, ids=_id)
def test_hostile_markdown_is_safe_on_the_incident_page(client, people, payload):
    """A description and a comment carrying the payload: the page (read whole, the portal's markup
    included) has no inline script, handler, foreign element or dangerous URL, and shows each text as
    the renderer made it."""
    incident = incident_in(Status.IN_PROGRESS, people, description=payload)
    service.add_comment(actor=people["tech"], incident=incident, body=payload)
    service.add_comment(actor=people["tech"], incident=incident, body=payload, internal=True)
    for viewer in ("reporter", "admin"):
        login(client, people[viewer])
        page = html(client.get(f"/ui/incidents/{incident.id}"))
        assert dangers_in_document(page) == [], viewer
        rendered = render(payload)
        assert f'id="incident-description">{rendered}</div>' in page
        assert page.count(rendered) >= (2 if viewer == "reporter" else 3)
        client.post("/logout")


@pytest.mark.parametrize("payload", STORABLE, ids=_id)
def test_hostile_markdown_is_safe_in_the_comment_mail(people, payload):
    """The reporter's comment mailed to the watching technician: the HTML part (read whole) is safe and
    holds the rendered comment; the text part keeps the comment as written."""
    incident = incident_in(Status.IN_PROGRESS, people)
    service.add_comment(actor=people["reporter"], incident=incident, body=payload)
    mail = db.session.scalars(select(OutboxMessage).where(OutboxMessage.incident_id == incident.id,
                                                          OutboxMessage.event == "commented")).one()
    assert mail.recipient == people["tech"].email
    assert dangers_in_document(mail.body_html) == []
    assert render(payload) in mail.body_html
    assert payload.strip() in mail.body_text


# ---- the timeline around the text -----------------------------------------------------------

def test_long_comments_start_collapsed_and_short_ones_do_not(client, people):
    """Over 1,500 characters or 15 lines: the text sits in .long-text with a <details> "Show more"
    toggle (no script needed); a short comment is shown plainly. The whole text is in the page either way."""
    incident = incident_in(Status.IN_PROGRESS, people)
    long_by_lines = "\n".join(f"step {n}" for n in range(1, 17))
    long_by_chars = "word " * 320
    for body in ("Short and sweet", long_by_lines, long_by_chars):
        service.add_comment(actor=people["tech"], incident=incident, body=body)
    login(client, people["reporter"])
    page = html(client.get(f"/ui/incidents/{incident.id}"))
    blocks = re.findall(r'<div class="long-text">\s*<div class="event-body markdown text-break">(.*?)</div>\s*'
                        r'<details class="long-text-toggle"><summary><span class="when-closed">Show more</span>',
                        page, re.S)
    assert len(blocks) == 2
    assert "step 16" in blocks[0] and blocks[1].count("word") == 320
    assert re.search(r'<div class="event-body markdown text-break"><p>Short and sweet</p></div>', page)


def test_attachment_events_name_the_file_escaped_and_link_it_while_it_exists(app, client, people, tmp_path):
    """'attached <name>' linked to the download while the file exists, 'removed <name>' after; a name
    with markup is shown as text."""
    from werkzeug.datastructures import FileStorage

    from app.incidents import attachments

    app.config["ATTACHMENT_DIR"] = str(tmp_path / "files")
    incident = incident_in(Status.IN_PROGRESS, people)
    name = "<img src=x onerror=alert(1)>.txt"
    event = service.add_comment(actor=people["tech"], incident=incident, body="See the log",
                                uploads=[FileStorage(io.BytesIO(b"lines"), filename=name)])
    stored = db.session.scalars(select(Attachment).where(Attachment.incident_id == incident.id)).one()
    login(client, people["reporter"])
    page = html(client.get(f"/ui/incidents/{incident.id}"))
    shown = escape(stored.filename)
    assert "<img src=x" not in page and shown.startswith("&lt;img")
    assert re.search(rf'attached <a href="/ui/attachments/{stored.id}[^"]*" class="text-break" download>'
                     rf'{re.escape(shown)}</a>', page), event.id
    attachments.remove_attachment(actor=people["tech"], attachment_id=stored.id)
    page = html(client.get(f"/ui/incidents/{incident.id}"))
    assert re.search(rf'removed <span class="text-break">{re.escape(shown)}</span>', page)
    assert re.search(rf'attached <span class="text-break">{re.escape(shown)}</span>', page)  # gone: no link
