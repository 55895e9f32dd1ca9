"""The application factory: reads like a table of contents."""
import logging
from pathlib import Path

from flask import Flask

from config import config_for


def create_app(config_name: str | None = None, **overrides) -> Flask:
    """Build the app for `config_name` (APP_ENV by default), with optional config overrides."""
    app = Flask(__name__, instance_relative_config=True)
    config_class = config_for(config_name)
    app.config.from_object(config_class)
    app.config.update(overrides)
    if hasattr(config_class, "validate"):
        config_class.validate()
    check_sla_calendar(app)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("app").setLevel(logging.INFO)

    register_extensions(app)
    register_blueprints(app)
    register_errorhandlers(app)
    register_commands(app)
    register_background_work(app)
    return app


def check_sla_calendar(app: Flask) -> None:
    """A bad SLA_TIMEZONE, SLA_BUSINESS_HOURS or SLA_HOLIDAYS stops start-up, naming the setting,
    instead of every page that shows a business-hours clock answering 500."""
    from app.incidents.calendar import calendar_for

    try:
        calendar_for("business", app.config)
    except ValueError as exc:
        raise RuntimeError(f"The SLA calendar settings are not valid: {exc}") from None


def register_extensions(app: Flask) -> None:
    from app import database, proxies, security
    from app.caching import response_cache
    from app.extensions import bootstrap, csrf, db, limiter, login_manager, mail, migrate

    proxies.init_app(app)
    database.init_app(app)
    db.init_app(app)
    migrate.init_app(app, db, directory=str(Path(app.root_path).parent / "migrations"), render_as_batch=True)
    login_manager.init_app(app)
    mail.init_app(app)
    csrf.init_app(app)
    bootstrap.init_app(app)
    limiter.init_app(app)
    security.init_app(app)
    response_cache.init_app(app)


def register_blueprints(app: Flask) -> None:
    from app import urls
    from app.api import bp as api_bp
    from app.auth.routes import bp as auth_bp
    from app.mail.views import bp as outbox_bp
    from app.web import bp as web_bp

    urls.init_app(app)
    app.register_blueprint(auth_bp)
    app.register_blueprint(web_bp)
    app.register_blueprint(outbox_bp)
    app.register_blueprint(api_bp)


def register_errorhandlers(app: Flask) -> None:
    from app import errors

    errors.init_app(app)


def register_commands(app: Flask) -> None:
    from app import cli, sla_cli
    from app.mail import inbound_cli
    from app.webhooks import cli as webhooks_cli

    cli.init_app(app)
    sla_cli.init_app(app)
    inbound_cli.init_app(app)
    webhooks_cli.init_app(app)


def register_background_work(app: Flask) -> None:
    from app.mail import sender

    sender.init_app(app)
