"""RFC 8288 `Link` headers for a page of results."""
from urllib.parse import urlencode

from flask import request

from app.incidents.queries import Page


def _url(number: int, per_page: int) -> str:
    """This request's URL with another page number (every other parameter kept)."""
    args = request.args.to_dict(flat=False)
    args["page"] = [str(number)]
    args["per_page"] = [str(per_page)]
    return f"{request.base_url}?{urlencode(args, doseq=True)}"


def link_header(page: Page) -> str:
    """first, prev, next and last, as they apply to `page`."""
    links = [(1, "first")]
    if page.has_prev:
        links.append((min(page.page - 1, page.pages), "prev"))
    if page.has_next:
        links.append((page.page + 1, "next"))
    links.append((page.pages, "last"))
    return ", ".join(f'<{_url(number, page.per_page)}>; rel="{rel}"' for number, rel in links)
