"""Absolute URLs in the API's answers (`Location`, `Link`), under APP_BASE_URL: the Host header is
the client's to choose, so it never shapes a URL the API hands back."""
from urllib.parse import urlencode

from flask import current_app, request


def _under_base(path: str) -> str:
    """`path`, as the URL map routes it (no mount point), under APP_BASE_URL (which names it)."""
    return current_app.config["APP_BASE_URL"] + path


def absolute_url(endpoint: str, **values) -> str:
    """The absolute URL of `endpoint` with `values`."""
    return _under_base(current_app.url_map.bind("").build(endpoint, values))


def this_url(args: dict[str, list[str]]) -> str:
    """The absolute URL of this request's path with the query string `args`."""
    return f"{_under_base(request.path)}?{urlencode(args, doseq=True)}"
