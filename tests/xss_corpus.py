"""Hostile Markdown for the XSS tests (tests/test_markdown.py): payloads that try to get script,
event handlers, dangerous URLs or foreign elements through the renderer, and an HTML checker that
reads the output with html.parser and holds it to the allow-list, not to substrings."""
from html.parser import HTMLParser
from urllib.parse import urlsplit

from app.incidents.markdown import ATTRIBUTES, LINK_REL, TAGS, URL_SCHEMES

PAYLOADS = [
    # raw HTML: off in the parser, so these must stay text
    "<script>alert(1)</script>",
    "<SCRIPT SRC=//evil.example/x.js></SCRIPT>",
    "<img src=x onerror=alert(1)>",
    "<svg onload=alert(1)>",
    "<svg><script>alert(1)</script></svg>",
    "<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>",
    "<iframe src=javascript:alert(1)></iframe>",
    "<iframe srcdoc='<script>alert(1)</script>'></iframe>",
    "<object data=javascript:alert(1)>",
    "<embed src=javascript:alert(1)>",
    "<style>body{background:url(javascript:alert(1))}</style>",
    "<div style=\"background:url('javascript:alert(1)')\">x</div>",
    "<a href=\"javascript:alert(1)\">click</a>",
    "<form action=javascript:alert(1)><button>go</button></form>",
    "<input autofocus onfocus=alert(1)>",
    "<details open ontoggle=alert(1)>",
    "<body onload=alert(1)>",
    "<meta http-equiv=refresh content='0;url=javascript:alert(1)'>",
    "<base href=javascript:alert(1)//>",
    "<!-- <script>alert(1)</script> -->",
    "<scr<script>ipt>alert(1)</scr</script>ipt>",
    "<img src=\"x\" onerror=\"alert(1)\"//",
    "<a href='x' onmouseover='alert(1)'>hover",
    "\"><script>alert(1)</script>",
    "<textarea><script>alert(1)</script></textarea>",
    "<noscript><p title=\"</noscript><img src=x onerror=alert(1)>\">",
    # Markdown links with dangerous schemes, in every form
    "[click](javascript:alert(1))",
    "[click](JaVaScRiPt:alert(1))",
    "[click](<javascript:alert(1)>)",
    "[click]( javascript:alert(1) )",
    "[click](javascript&#58;alert(1))",
    "[click](&#106;&#97;&#118;&#97;&#115;&#99;&#114;&#105;&#112;&#116;&#58;alert(1))",
    "[click](&#x6A;avascript:alert(1))",
    "[click](java%0ascript:alert(1))",
    "[click](java\tscript:alert(1))",
    "[click](\u0000javascript:alert(1))",
    "[click](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
    "[click](vbscript:msgbox(1))",
    "[click](file:///etc/passwd)",
    "[click](http://ok.example \"title\" onclick=\"alert(1)\")",
    "[click][ref]\n\n[ref]: javascript:alert(1)",
    "[click][ref]\n\n[ref]: <javascript:alert(1)> \"t\"",
    "[ref]\n\n[ref]: data:text/html,<script>alert(1)</script>",
    "<javascript:alert(1)>",
    "<data:text/html,<script>alert(1)</script>>",
    "<vbscript:msgbox(1)>",
    "![x](javascript:alert(1))",
    "![x](http://evil.example/track.png)",
    "![x\" onerror=\"alert(1)](x)",
    "[x](http://ok.example/\" onmouseover=\"alert(1))",
    "[<img src=x onerror=alert(1)>](http://ok.example)",
    "[x](http://ok.example/<script>)",
    "www.evil.example/\"><script>alert(1)</script>",
    "http://ok.example/?q=<script>alert(1)</script>",
    "mailto:x@example.com?body=<script>alert(1)</script>",
    # code, quotes, lists, tables and odd characters around markup
    "```html\n<script>alert(1)</script>\n```",
    "```\" onload=\"alert(1)\n<x>\n```",
    "`<img src=x onerror=alert(1)>`",
    "> > > <script>alert(1)</script>\n> > [x](javascript:alert(1))",
    "- [x](javascript:alert(1))\n  - <img src=x onerror=alert(1)>\n    1. <svg onload=alert(1)>",
    "| a | <script>alert(1)</script> |\n|---|---|\n| [x](javascript:alert(1)) | <img src=x onerror=alert(1)> |",
    "# <script>alert(1)</script>\n## [x](javascript:alert(1))",
    "*<em onclick=alert(1)>x</em>*",
    "\u202e<script>alert(1)</script>\u202c",
    "＜script＞alert(1)＜/script＞",
    "[click](\u006a\u0061\u0076\u0061\u0073\u0063\u0072\u0069\u0070\u0074:alert(1))",
    "[click](%6A%61%76%61%73%63%72%69%70%74:alert(1))",
    "<a href=\"&#0000106avascript:alert(1)\">x</a>",
    "&lt;script&gt;alert(1)&lt;/script&gt;",
    "\\<script>alert(1)\\</script>",
    "<<script>script>alert(1)<</script>/script>",
]


class Checked(HTMLParser):
    """Reads rendered HTML and records everything outside the allow-list."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.problems: list[str] = []
        self.links: list[dict[str, str | None]] = []

    def handle_starttag(self, tag, attrs):
        if tag not in TAGS:
            self.problems.append(f"tag <{tag}>")
        allowed = ATTRIBUTES.get(tag, set()) | ({"rel"} if tag == "a" else set())
        for name, _value in attrs:
            if name not in allowed or name.startswith("on"):
                self.problems.append(f"attribute {name} on <{tag}>")
        found = dict(attrs)
        if tag == "a":
            self.links.append(found)
            if found.get("rel") != LINK_REL:
                self.problems.append(f"link without rel: {found}")
            href = found.get("href")
            if href is not None:
                scheme = urlsplit(href.strip()).scheme.lower()
                if scheme and scheme not in URL_SCHEMES:
                    self.problems.append(f"href scheme {scheme!r}: {href!r}")

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)

    def handle_comment(self, data):
        self.problems.append(f"comment {data!r}")

    def handle_decl(self, decl):
        self.problems.append(f"declaration {decl!r}")

    def handle_pi(self, data):
        self.problems.append(f"processing instruction {data!r}")


def problems_in(html: str) -> list[str]:
    """What in `html` breaks the allow-list: foreign tags or attributes, on* handlers, links without
    the rel attribute or with a scheme other than http, https, mailto, comments."""
    checked = Checked()
    checked.feed(html)
    checked.close()
    return checked.problems


# Elements no page or mail of the portal has of its own: one in a page means a payload got through.
FOREIGN_TAGS = frozenset({"iframe", "frame", "object", "embed", "svg", "math", "style", "base", "applet",
                          "audio", "video", "source", "track", "portal", "template", "noscript"})
URL_ATTRIBUTES = frozenset({"href", "src", "action", "formaction", "srcset", "poster", "data", "background",
                            "xlink:href", "ping", "cite", "srcdoc"})


class DocumentChecked(HTMLParser):
    """Reads a whole page or mail (the portal's own markup included) for what only a payload brings:
    inline script, event handlers, foreign elements, URLs with other schemes, script in styles."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.problems: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag, attrs):
        found = dict(attrs)
        if tag == "script":
            self._in_script = True
            if not (found.get("src") or "").startswith("/"):
                self.problems.append(f"script not from the portal: {found}")
        if tag in FOREIGN_TAGS or (tag == "meta" and "http-equiv" in found):
            self.problems.append(f"tag <{tag}>")
        for name, value in attrs:
            if name.startswith("on"):
                self.problems.append(f"handler {name} on <{tag}>")
            if name in URL_ATTRIBUTES and value is not None:
                scheme = urlsplit(value.strip()).scheme.lower()
                if scheme and scheme not in URL_SCHEMES:
                    self.problems.append(f"{name} scheme {scheme!r} on <{tag}>")
            if name == "style" and value and any(bad in value.lower() for bad in ("url(", "expression", "script")):
                self.problems.append(f"style {value!r} on <{tag}>")

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)
        self._in_script = False

    def handle_endtag(self, tag):
        if tag == "script":
            self._in_script = False

    def handle_data(self, data):
        if self._in_script and data.strip():
            self.problems.append(f"inline script {data[:60]!r}")


def dangers_in_document(html: str) -> list[str]:
    """What in a whole page or mail only a payload could have put there."""
    checked = DocumentChecked()
    checked.feed(html)
    checked.close()
    return checked.problems
