"""Behind a reverse proxy: take the client address and scheme from the headers it sets."""
from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix


def init_app(app: Flask) -> None:
    """Trust X-Forwarded-For / -Proto from exactly TRUSTED_PROXIES hops, or not at all."""
    hops = app.config["TRUSTED_PROXIES"]
    if hops > 0:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops)
