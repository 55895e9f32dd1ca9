"""A browser that opens the API's incident URLs lands on the web UI's pages instead."""
from flask import redirect, request, url_for

from app.api import bp

# Endpoints, not paths: the web routes are the one place a /ui/ path is spelled.
UI_PAGES = {"api.incidents": "web.incidents", "api.incident": "web.incident",
            "api.incidents_export": "web.export_incidents"}


def wants_html() -> bool:
    """A browser navigation: HTML preferred over JSON, and no API credentials."""
    accept = request.accept_mimetypes
    return ("Authorization" not in request.headers
            and accept.best_match(["application/json", "text/html"]) == "text/html"
            and accept["text/html"] > accept["application/json"])


@bp.before_request
def send_browsers_to_the_ui():
    """302 to the matching /ui/ page, query string kept."""
    page = UI_PAGES.get(request.endpoint or "")
    if page is None or request.method != "GET" or not wants_html():
        return None
    target = url_for(page, **(request.view_args or {}))
    query = request.query_string.decode("latin-1")
    return redirect(f"{target}?{query}" if query else target, code=302)
