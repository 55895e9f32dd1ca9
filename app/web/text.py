"""Text people typed, as pages and mail show it: Markdown rendered and sanitized by
`app.incidents.markdown`, and the rule for when a long text starts collapsed.

The filter is registered app-wide (`app_template_filter`), so the mail templates that the domain
renders use the same `markdown` filter as the incident page."""
from markupsafe import Markup

from app.incidents.markdown import render
from app.web import bp

# A text longer than this starts collapsed on the incident page ("Show more").
LONG_TEXT_CHARS = 1_500
LONG_TEXT_LINES = 15


@bp.app_template_filter("markdown")
def markdown(text: str | None) -> Markup:
    """Markdown as safe HTML (the renderer sanitizes it; html is off, only http, https and mailto links)."""
    return Markup(render(text or ""))  # noqa: S704 -- render() returns HTML cut to the allow-list by nh3


@bp.app_template_test("long_text")
def is_long_text(text: str | None) -> bool:
    """Whether the text is long enough to start collapsed: over LONG_TEXT_CHARS characters or LONG_TEXT_LINES lines."""
    return bool(text) and (len(text) > LONG_TEXT_CHARS or text.count("\n") >= LONG_TEXT_LINES)
