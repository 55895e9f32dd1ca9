"""Reads skip the rate limiter (`app/extensions.py`, `_reads_are_never_limited`: a tenth of an API
read's Python), which is only safe while every limit the portal sets is on a write. A limit put on
a GET would be silently skipped, so every `@limiter.limit` in app/ is checked to be on one: a
Flask-RESTful write method (`post`, `put`, `patch`, `delete`) or a view limited with `methods=`
that names no read."""
import ast
from pathlib import Path

import pytest

from tests import factories
from tests.web_helpers import login

ROOT = Path(__file__).resolve().parent.parent
READS = {"GET", "HEAD", "OPTIONS"}
WRITE_METHODS = {"post", "put", "patch", "delete"}


def _limit_decorators(function: ast.FunctionDef | ast.AsyncFunctionDef) -> list[ast.Call]:
    return [decorator for decorator in function.decorator_list
            if isinstance(decorator, ast.Call) and isinstance(decorator.func, ast.Attribute)
            and decorator.func.attr in ("limit", "shared_limit")
            and isinstance(decorator.func.value, ast.Name) and decorator.func.value.id == "limiter"]


def _limited_methods(call: ast.Call) -> set[str] | None:
    """The HTTP methods `methods=[...]` names (upper-cased), or None without the keyword."""
    for keyword in call.keywords:
        if keyword.arg == "methods":
            return {element.value.upper() for element in getattr(keyword.value, "elts", [])
                    if isinstance(element, ast.Constant) and isinstance(element.value, str)} or {"?"}
    return None


def limits_on_reads(source: str, name: str) -> list[str]:
    """Where `source` sets a rate limit a read could reach: `name:line function`."""
    found = []
    for function in ast.walk(ast.parse(source)):
        if not isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        for call in _limit_decorators(function):
            methods = _limited_methods(call)
            if methods is None and function.name in WRITE_METHODS:
                continue
            if methods is None or methods & READS or "?" in methods:
                found.append(f"{name}:{call.lineno} {function.name}")
    return found


def _app_sources() -> list[Path]:
    return sorted((ROOT / "app").rglob("*.py"))


def test_every_rate_limit_is_on_a_write():
    found = [hit for path in _app_sources()
             for hit in limits_on_reads(path.read_text(), str(path.relative_to(ROOT)))]
    assert found == [], "a rate limit a read could reach is skipped by _reads_are_never_limited"


def test_the_portal_does_set_limits_the_check_sees():
    """The check is not vacuous: the login, recovery, second-factor and token limits are found."""
    decorated = [function.name for path in _app_sources()
                 for function in ast.walk(ast.parse(path.read_text()))
                 if isinstance(function, ast.FunctionDef) and _limit_decorators(function)]
    assert len(decorated) >= 4 and "post" in decorated


@pytest.mark.parametrize(("source", "expected"), [
    ('@limiter.limit("5 per minute")\ndef search():\n    pass\n', "example.py:1 search"),
    ('@limiter.limit("5 per minute", methods=["GET", "POST"])\ndef login():\n    pass\n', "example.py:1 login"),
    ('@limiter.limit("5 per minute", methods=["head"])\ndef probe():\n    pass\n', "example.py:1 probe"),
    ('class Things:\n    @limiter.limit("5 per minute")\n    def get(self):\n        pass\n', "example.py:2 get"),
])
def test_the_check_sees_a_limit_on_a_read(source, expected):
    assert limits_on_reads(source, "example.py") == [expected]


@pytest.mark.parametrize("source", [
    '@limiter.limit("5 per minute", methods=["POST"])\ndef login():\n    pass\n',
    'class Tokens:\n    @limiter.limit("5 per minute")\n    def post(self):\n        pass\n',
])
def test_the_check_passes_a_limit_on_a_write(source):
    assert limits_on_reads(source, "example.py") == []


def test_reads_stay_open_while_the_login_limit_refuses_posts(make_app):
    """Past RATELIMIT_LOGIN the form still loads (a person locked out can read why) while its POST
    gets 429."""
    app = make_app(RATELIMIT_LOGIN="2 per minute")
    with app.app_context():
        factories.make_user(username="patient")
    client = app.test_client()
    codes = [login(client, "patient", "wrong", expect=None).status_code for _ in range(3)]
    assert codes == [200, 200, 429]
    assert [client.get("/login").status_code for _ in range(5)] == [200] * 5
