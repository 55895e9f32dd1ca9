"""app.mail.inbound.text: what a reply adds (quotes and signatures dropped, one case per client's
style) and HTML mail read as text (no markup, no script, links kept readable)."""
import pytest

from app.mail.inbound.text import clean, html_to_text, strip_reply

ANSWER = "The printer works again, thanks.\nIt was the toner."

REPLIES = {
    "thunderbird": ANSWER + "\n\nOn 02/12/2026 14:58, Incident portal wrote:\n> INC-1 · Assigned\n> Hello Ann,",
    "gmail, wrapped attribution": ANSWER + "\n\nOn Wed, Dec 2, 2026 at 2:58 PM Incident portal <\n"
                                           "incidents@localhost> wrote:\n\n> Hello Ann,\n> text",
    "german": ANSWER + "\n\nAm 02.12.2026 um 14:58 schrieb Incident portal:\n> Hallo Ann,",
    "french": ANSWER + "\n\nLe 2 déc. 2026 à 14:58, Incident portal a écrit :\n> Bonjour",
    "outlook original message": ANSWER + "\n\n-----Original Message-----\nFrom: Incident portal\n"
                                         "Sent: Wednesday, December 2, 2026 2:58 PM\nTo: Ann\n\nHello Ann,",
    "outlook header block": ANSWER + "\n\n________________________________\nFrom: Incident portal "
                                     "<incidents@localhost>\nSent: Wednesday\nTo: Ann\nSubject: RE: [INC-1]\n\nHello",
    "outlook bold headers": ANSWER + "\n\n*From:* Incident portal\n*Sent:* Wednesday\n*To:* Ann\n\nHello",
    "signature": ANSWER + "\n\n-- \nAnn Example\nFinance",
    "signature without its space": ANSWER + "\n--\nAnn Example",
    "quoted lines only": "> Hello Ann,\n> the portal's words\n" + ANSWER,
    "signature, then a quote": ANSWER + "\n-- \nAnn\n\nOn Mon, Ann wrote:\n> old",
}


@pytest.mark.parametrize("raw", REPLIES.values(), ids=REPLIES.keys())
def test_a_reply_keeps_only_what_it_adds(raw):
    assert strip_reply(raw) == ANSWER


def test_interleaved_answers_stay_their_quotes_go():
    raw = "> Which printer?\nThe one on the 3rd floor.\n> Since when?\nSince Monday."
    assert strip_reply(raw) == "The one on the 3rd floor.\nSince Monday."


def test_a_reply_that_is_all_quote_is_kept_whole():
    raw = "> I only quoted, my answer is inline below\n> and I wrote nothing else"
    assert strip_reply(raw) == raw


def test_from_in_a_sentence_is_not_a_header_block():
    raw = "From: my side everything is fine.\nThe second line stays."
    assert strip_reply(raw) == raw


def test_a_line_starting_with_on_but_not_wrote_stays():
    raw = "On Monday the printer broke.\nOn Tuesday it burned."
    assert strip_reply(raw) == raw


HTML = {
    "paragraphs and line breaks": ("<p>First paragraph.</p><p>Second<br>line</p>",
                                   "First paragraph.\n\nSecond\nline"),
    "links keep their address": ('<p>See <a href="https://status.example.test/x">the status page</a>.</p>',
                                 "See the status page (https://status.example.test/x)."),
    "a link that is its address": ('<a href="https://example.test/">https://example.test/</a>',
                                   "https://example.test/"),
    "javascript links lose their address": ('<a href="javascript:alert(1)">click</a>', "click"),
    "scripts and styles go": ("<style>p{color:red}</style><p>Hi<script>alert(1)</script> there</p>"
                              "<script>document.write('x')</script>", "Hi there"),
    "entities": ("<p>Caf&eacute; &amp; &lt;tea&gt; &#9731;</p>", "Café & <tea> ☃"),
    "lists": ("<ul><li>one</li><li>two</li></ul>", "- one\n- two"),
    "head and title go": ("<html><head><title>T</title></head><body><div>Body</div></body></html>", "Body"),
    "blockquotes become quotes": ("<div>Answer</div><blockquote><p>Old text</p></blockquote>",
                                  "Answer\n\n> Old text"),
    "preformatted keeps its lines": ("<pre>a  b\n  c</pre>", "a  b\n  c"),
    "whitespace folds": ("<p>  many\n\n   spaces   here </p>", "many spaces here"),
    "table cells": ("<table><tr><td>Host</td><td>db1</td></tr><tr><td>Load</td><td>99</td></tr></table>",
                    "Host db1\nLoad 99"),
}


@pytest.mark.parametrize(("html", "text"), HTML.values(), ids=HTML.keys())
def test_html_reads_as_text(html, text):
    assert html_to_text(html) == text


def test_a_gmail_html_reply_strips_like_a_plain_one():
    html = ('<div dir="ltr">Works now.</div><br><div class="gmail_quote"><div class="gmail_attr">'
            'On Wed, Dec 2, 2026 at 2:58 PM Incident portal &lt;incidents@localhost&gt; wrote:<br></div>'
            '<blockquote class="gmail_quote"><p>Hello Ann,</p></blockquote></div>')
    assert strip_reply(html_to_text(html)) == "Works now."


def test_broken_html_still_gives_its_words():
    assert html_to_text("<p>unclosed <b>bold <i>text</p></div></span><p>next") == "unclosed bold text\n\nnext"


def test_clean_drops_control_characters_and_lone_surrogates():
    assert clean("a\x00b\x07c\r\nd\re\tf\udce9") == "abc\nd\ne\tf\ufffd"
