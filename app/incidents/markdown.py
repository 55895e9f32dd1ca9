"""Markdown as the portal shows it: comments, descriptions, resolution notes and reasons, on the
incident page, in the API's `*_html` fields and in the HTML part of mail — one renderer for all.

Two steps, each safe alone, both kept on purpose:
1. markdown-it-py parses CommonMark with raw HTML turned off (a `<script>` someone typed stays text),
   plain URLs linkified, line breaks kept as people typed them, tables and ~~strikethrough~~.
   Images are off: a comment must not make every reader's browser (or mail client) fetch a URL.
2. nh3 (ammonia) cleans the result against an allow-list of tags and attributes, keeps only
   http, https and mailto links, and gives every link rel="nofollow noopener noreferrer". Whatever
   a parser bug lets through, the allow-list still decides.

Headings move down two levels (# is <h3>): the page has its h1 and h2s, a comment sits below them.
Work is bounded: the text is at most TEXT_MAX / DESCRIPTION_MAX characters (validation), and
markdown-it stops nesting blocks and inlines at MAX_NESTING levels (deeper is left as text)."""
from functools import lru_cache

import nh3
from markdown_it import MarkdownIt
from markdown_it.rules_core import StateCore

MAX_NESTING = 20
HEADING_SHIFT = 2
LINK_REL = "nofollow noopener noreferrer"
URL_SCHEMES = frozenset({"http", "https", "mailto"})

TAGS = frozenset({
    "p", "br", "hr", "em", "strong", "s", "del", "code", "pre", "blockquote", "ul", "ol", "li", "a",
    "h3", "h4", "h5", "h6", "table", "thead", "tbody", "tr", "th", "td",
})
ATTRIBUTES = {"a": {"href", "title"}, "ol": {"start"}}


def _shift_headings(state: StateCore) -> None:
    """`#` renders as <h3>, `##` as <h4>, anything deeper as <h6>."""
    for token in state.tokens:
        if token.type in ("heading_open", "heading_close"):
            token.tag = f"h{min(int(token.tag[1]) + HEADING_SHIFT, 6)}"


def _parser() -> MarkdownIt:
    parser = MarkdownIt("commonmark", {"html": False, "linkify": True, "breaks": True,
                                       "maxNesting": MAX_NESTING})
    parser.enable(["linkify", "table", "strikethrough"]).disable("image")
    parser.linkify.add("ftp:", None)  # linkify only what the cleaner keeps: an ftp link would lose its href
    parser.core.ruler.push("shift_headings", _shift_headings)
    return parser


_PARSER = _parser()
_CLEANER = nh3.Cleaner(tags=set(TAGS), attributes={tag: set(names) for tag, names in ATTRIBUTES.items()},
                       url_schemes=set(URL_SCHEMES), link_rel=LINK_REL, strip_comments=True)


@lru_cache(maxsize=512)
def render(text: str) -> str:
    """`text` (Markdown someone typed) as sanitized HTML, safe to put in a page or a mail as is.

    Cached: an incident's description is rendered for every list page of the API that holds it."""
    if not text:
        return ""
    return sanitize(_PARSER.render(text))


def render_or_none(text: str | None) -> str | None:
    """`render`, or None when there is no text (the API's `*_html` fields are null then)."""
    return render(text) if text else None


def sanitize(html: str) -> str:
    """`html` cut down to the allow-list: the second step of `render`, which holds even for HTML the
    parser should never have produced."""
    return _CLEANER.clean(html).strip()
