"""Helpers for the load and crash tests: a gunicorn started as the image starts it, the clients
that drive it, and the invariants the database must keep whatever happens to the server."""
