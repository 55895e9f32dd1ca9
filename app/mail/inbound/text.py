"""The words of a mail as a person wrote them (pure: no app, no database).

`html_to_text` reads an HTML-only mail as text (block elements on their own lines, links as
"text (url)", scripts and styles dropped, blockquotes as `>` lines so the reply stripper sees them).
`strip_reply` keeps what a reply adds: the quoted mail below an "On ... wrote:" line or an Outlook
header block, `>` lines and everything after a `-- ` signature line are dropped. `clean` removes
what no stored text may hold (control characters, NUL, lone surrogates from a broken charset)."""
import re
import unicodedata
from html.parser import HTMLParser

# ---- cleaning -----------------------------------------------------------------------------------

_SURROGATES = re.compile(r"[\ud800-\udfff]")


def clean(text: str) -> str:
    """Newlines as \\n; no control characters but tab and newline (the incident fields refuse them,
    PostgreSQL cannot store NUL); lone surrogates (a charset that did not decode) as U+FFFD."""
    text = _SURROGATES.sub("\ufffd", text.replace("\r\n", "\n").replace("\r", "\n"))
    return "".join(c for c in text if c in "\n\t" or unicodedata.category(c) != "Cc")


def one_line(text: str) -> str:
    """Cleaned, whitespace (folding included) collapsed to single spaces."""
    return " ".join(clean(text).split())


def truncate(text: str, limit: int) -> str:
    """At most `limit` characters, an ellipsis marking a cut."""
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


# ---- HTML ---------------------------------------------------------------------------------------

_BLOCKS = {"address", "article", "aside", "blockquote", "dd", "div", "dl", "dt", "fieldset", "figcaption",
           "figure", "footer", "form", "h1", "h2", "h3", "h4", "h5", "h6", "header", "hr", "li", "main",
           "nav", "ol", "p", "pre", "section", "table", "tr", "ul"}
_DROPPED = {"script", "style", "head", "title", "template", "noscript", "object", "iframe", "svg"}
_VOID = {"br", "hr", "img", "input", "meta", "link", "wbr", "col", "area", "base", "source"}
_LINK_SCHEMES = ("http://", "https://", "mailto:")


class _TextOf(HTMLParser):
    """Collects the readable text of an HTML document, line by line."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.lines: list[str] = []
        self.line: list[str] = []
        self.quote_depth = 0
        self.dropping = 0
        self.pre = 0
        self.links: list[tuple[str, int]] = []  # (href, length of the text so far when it opened)
        self.words = 0

    def _break(self, blank: bool = False) -> None:
        """End the current line (quoted as deep as we are); `blank`: a paragraph ends too."""
        text = "".join(self.line)
        text = text.rstrip() if self.pre else " ".join(text.split())
        if text:
            self.lines.append("> " * self.quote_depth + text)
        elif not blank:
            self.lines.append("")
        if blank:
            self.lines.append("")
        self.line = []

    def handle_starttag(self, tag: str, attrs) -> None:
        if tag in _DROPPED:
            if tag not in _VOID:
                self.dropping += 1
            return
        if self.dropping:
            return
        if tag == "br":
            self._break()
        elif tag in _BLOCKS:
            if "".join(self.line).strip():
                self._break()
            if tag == "blockquote":
                self.quote_depth += 1
            elif tag == "pre":
                self.pre += 1
            elif tag == "li":
                self.line.append("- ")
            elif tag == "hr":
                self.lines.append("---")
        if tag == "a":
            href = dict(attrs).get("href") or ""
            self.links.append((href, len("".join(self.line))))
        elif tag in ("td", "th") and "".join(self.line).strip():
            self.line.append(" ")

    def handle_endtag(self, tag: str) -> None:
        if tag in _DROPPED:
            self.dropping = max(0, self.dropping - 1)
            return
        if self.dropping:
            return
        if tag == "a" and self.links:
            href, start = self.links.pop()
            label = "".join(self.line)[start:].strip()
            if href.lower().startswith(_LINK_SCHEMES) and href not in (label, f"mailto:{label}"):
                self.line.append(f" ({href})")
        elif tag in _BLOCKS:
            self._break(blank=tag in ("p", "div", "table", "ul", "ol", "pre", "blockquote")
                        or tag.startswith("h"))
            if tag == "blockquote":
                self.quote_depth = max(0, self.quote_depth - 1)
            elif tag == "pre":
                self.pre = max(0, self.pre - 1)

    def handle_data(self, data: str) -> None:
        if self.dropping:
            return
        if self.pre:
            parts = data.split("\n")
            for index, part in enumerate(parts):
                if index:
                    self._break()
                self.line.append(part)
            return
        self.line.append(data)

    def text(self) -> str:
        self.close()
        if self.line:
            self._break()
        return _squeeze("\n".join(self.lines))


def html_to_text(html: str) -> str:
    """The readable text of an HTML mail body: never its markup, scripts or styles."""
    parser = _TextOf()
    try:
        parser.feed(html)
        return parser.text()
    except Exception:  # html.parser is lenient; should it ever give up, the tags go, the words stay
        return _squeeze(re.sub(r"<[^>]*>", " ", html))


def _squeeze(text: str) -> str:
    """No trailing spaces, at most one blank line in a row, none at either end."""
    lines = [line.rstrip() for line in text.split("\n")]
    out: list[str] = []
    for line in lines:
        if not line.strip("> ") and out and not out[-1].strip("> "):
            continue
        out.append(line)
    return "\n".join(out).strip("\n").strip()


# ---- replies ------------------------------------------------------------------------------------

_SIGNATURE = re.compile(r"^--\s?$")
_ORIGINAL = re.compile(r"^\s*-{2,}\s*(original message|ursprüngliche nachricht|message d'origine|"
                       r"mensaje original|forwarded message|weitergeleitete nachricht)\s*-{2,}\s*$", re.IGNORECASE)
_UNDERSCORES = re.compile(r"^\s*_{10,}\s*$")
# "On Mon, 1 Jan 2024 at 10:00, Ann <ann@example.com> wrote:" (Thunderbird, Gmail, Apple Mail) and
# its German, French and Spanish forms; Gmail wraps a long one over two lines.
_ATTRIBUTION = re.compile(r"^\s*(on|am|le|el)\s.*\b(wrote|schrieb|a écrit|escribió)\b[^\n]{0,80}:\s*$",
                          re.IGNORECASE | re.DOTALL)
_HEADER_FROM = re.compile(r"^\s*\*?(from|von|de)\s*:", re.IGNORECASE)
_HEADER_NEXT = re.compile(r"^\s*\*?(sent|date|gesendet|datum|envoyé|to|an|à|subject|betreff|objet|cc)\s*:",
                          re.IGNORECASE)
_QUOTE = re.compile(r"^\s*>")


def _cut_at(lines: list[str]) -> int:
    """The index of the first line of quoted or signature text (len(lines): none)."""
    for index, line in enumerate(lines):
        following = lines[index + 1: index + 4]
        if _SIGNATURE.match(line) or _ORIGINAL.match(line):
            return index
        if _ATTRIBUTION.match(line):
            return index
        if (index + 1 < len(lines) and re.match(r"^\s*(on|am|le|el)\s", line, re.IGNORECASE)
                and _ATTRIBUTION.match(line + " " + lines[index + 1])):
            return index
        if _HEADER_FROM.match(line) and any(_HEADER_NEXT.match(n) for n in following):
            return index - 1 if index and _UNDERSCORES.match(lines[index - 1]) else index
    return len(lines)


def strip_reply(text: str) -> str:
    """What a reply adds: the text above the quoted mail and the signature, without `>` lines.
    If that leaves nothing (a reply written inside the quote, say), the whole text is kept."""
    lines = text.split("\n")
    kept = [line for line in lines[: _cut_at(lines)] if not _QUOTE.match(line)]
    result = _squeeze("\n".join(kept))
    return result or text.strip()
