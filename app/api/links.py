"""The `Link` paging headers' URLs, under APP_BASE_URL (as every absolute URL the API hands back is,
see app.incidents.references.absolute_url): the Host header is the client's to choose, so it never
shapes a URL the API answers with."""
from urllib.parse import urlencode

from flask import current_app, request


def this_url(args: dict[str, list[str]]) -> str:
    """The absolute URL of this request's path with the query string `args`."""
    return f"{current_app.config['APP_BASE_URL']}{request.path}?{urlencode(args, doseq=True)}"
