"""The `<id:...>` URL converter every blueprint uses for a row id."""
from flask import Flask
from werkzeug.routing import IntegerConverter

from app.models import MAX_ID


class IdConverter(IntegerConverter):
    """A database id: ASCII digits, 1 to MAX_ID. Anything wider than a database integer is a 404
    from the router, never an overflow in the driver; so are other scripts' digits (`\\d` would
    take a fullwidth "１" and `int()` would read it as 1)."""

    regex = r"[0-9]+"

    def __init__(self, url_map, *args, **kwargs):
        super().__init__(url_map, min=1, max=MAX_ID)


def init_app(app: Flask) -> None:
    """Register `id` before any blueprint declares a rule with it."""
    app.url_map.converters["id"] = IdConverter
