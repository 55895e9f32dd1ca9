"""Delivers outbox rows over SMTP outside any request."""
from flask import Flask


def init_app(app: Flask) -> None:
    """Start the in-process background sender when configured to."""
