"""RFC 8288 `Link` headers for a page of results."""
from flask import request

from app.api.links import this_url
from app.incidents.queries import Page


def _url(per_page: int, **position: str) -> str:
    """This request's URL at another `page` number or `cursor` (every other parameter kept)."""
    args = {key: values for key, values in request.args.to_dict(flat=False).items()
            if key not in ("page", "cursor")}
    args |= {key: [value] for key, value in position.items()}
    args["per_page"] = [str(per_page)]
    return this_url(args)


def link_header(page: Page) -> str:
    """first, prev, next and last, as they apply to `page`; a page reached by cursor links
    to the previous and the next one by cursor."""
    links = [(_url(page.per_page, page="1"), "first")]
    if page.page is None and page.prev_cursor:
        links.append((_url(page.per_page, cursor=page.prev_cursor), "prev"))
    elif page.has_prev:
        links.append((_url(page.per_page, page=str(min(page.page - 1, page.pages))), "prev"))
    if page.page is None and page.next_cursor:
        links.append((_url(page.per_page, cursor=page.next_cursor), "next"))
    elif page.has_next:
        links.append((_url(page.per_page, page=str(page.page + 1)), "next"))
    links.append((_url(page.per_page, page=str(page.pages)), "last"))
    return ", ".join(f'<{url}>; rel="{rel}"' for url, rel in links)
