"""Configuration: defaults that work out of the box, production that refuses to be insecure."""
import pytest

import config
from app import create_app


def test_default_database_is_a_sqlite_file_under_instance():
    """With no DATABASE_URL the app uses instance/portal.db."""
    assert config.default_database_url().endswith("/instance/portal.db")
    assert config.default_database_url().startswith("sqlite:///")


def test_production_refuses_the_default_secret_key(monkeypatch):
    """APP_ENV=production with the default key does not start."""
    monkeypatch.setattr(config.ProductionConfig, "SECRET_KEY", config.DEFAULT_SECRET_KEY)
    with pytest.raises(RuntimeError, match="SECRET_KEY"):
        create_app("production")


def test_production_starts_with_a_real_secret_key(monkeypatch, tmp_path):
    """A long random key is accepted and secure cookies are on."""
    monkeypatch.setattr(config.ProductionConfig, "SECRET_KEY", "x" * 64)
    app = create_app("production", SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / 'p.db'}")
    assert app.config["SESSION_COOKIE_SECURE"] is True
    assert app.config["SESSION_COOKIE_HTTPONLY"] is True


def test_an_unknown_environment_name_is_a_clear_error():
    """A typo in APP_ENV says which names exist."""
    with pytest.raises(RuntimeError, match="development, testing, production"):
        config.config_for("prod")


@pytest.mark.parametrize(("raw", "expected"), [("1", True), ("true", True), ("Yes", True), ("0", False),
                                               ("false", False), ("", False)])
def test_boolean_settings_read_like_people_write_them(monkeypatch, raw, expected):
    """MAIL_USE_TLS=true and MAIL_USE_TLS=1 mean the same."""
    monkeypatch.setenv("SOME_FLAG", raw)
    assert config._bool("SOME_FLAG") is expected
