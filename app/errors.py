"""One error policy for the whole app: problem+json (RFC 9457) on API paths, HTML pages elsewhere."""
import logging
from http import HTTPStatus

from flask import Flask, Response, current_app, json, render_template, request
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from app.exceptions import DomainError, InvalidInput

log = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"


def is_api_request() -> bool:
    """True when the request is for the JSON API: under one of its paths, matched or not (so
    /incidents/abc gets JSON, not an HTML 404)."""
    path = request.path
    return any(path == p or path.startswith(p + "/") for p in current_app.extensions["api_path_prefixes"])


def problem(status: int, detail: str | None = None, *, title: str | None = None,
            errors: dict[str, list[str]] | None = None, headers: dict | None = None,
            extra: dict | None = None) -> Response:
    """An application/problem+json response; `extra` adds members of the refusal's own."""
    phrase = _phrase(status)
    body = {
        "type": "about:blank",
        "title": title or phrase,
        "status": status,
        "detail": detail or phrase,
    }
    if errors is not None:
        body["errors"] = errors
    body.update(extra or {})
    response = Response(json.dumps(body), status=status, mimetype=PROBLEM_JSON)
    for key, value in (headers or {}).items():
        response.headers[key] = value
    return response


def _phrase(status: int) -> str:
    """The standard reason phrase of a status code ("Error" for codes HTTP does not name)."""
    return HTTPStatus(status).phrase if status in HTTPStatus._value2member_map_ else "Error"


def _html_error(status: int, message: str) -> tuple[str, int]:
    return render_template("errors/generic.html", status=status, message=message,
                           title=_phrase(status)), status


def handle_http_exception(exc: HTTPException):
    """Werkzeug's errors (404, 405, 413, 429...) in the client's format."""
    status = exc.code or 500
    detail = exc.description if status != 500 else "An unexpected error occurred."
    if is_api_request():
        headers = {k: v for k, v in exc.get_headers() if k.lower() in {"allow", "retry-after",
                                                                       "www-authenticate"}}
        if status == 429:
            detail = f"Too many requests: {exc.description}. Try again later."
        return problem(status, detail, headers=headers)
    response = _html_error(status, detail)
    return response[0], status, {k: v for k, v in exc.get_headers() if k.lower() in {"allow", "retry-after"}}


EXPIRED_FORM = ("The form expired: it was open for a long time, or you logged in again since. Nothing was "
                "saved. Go back, reload the page and send it again (copy anything long you typed first).")


def handle_expired_form(exc: CSRFError):
    """A form whose CSRF token is missing, wrong or too old (Flask-WTF's CSRFError), in words a
    person can act on instead of the token's jargon. The incident page's own forms do better:
    app/web/actions.py shows the form again with what was typed."""
    if is_api_request():  # the API takes no cookies and so no tokens; only a misrouted request lands here
        return problem(400, exc.description)
    return render_template("errors/generic.html", status=400, message=EXPIRED_FORM, title="The form expired"), 400


def handle_domain_error(exc: DomainError):
    """A refusal from the domain that no view caught: the status it names (and when to retry)."""
    headers = {"Retry-After": str(exc.retry_after)} if exc.retry_after else {}
    if is_api_request():
        errors = exc.errors if isinstance(exc, InvalidInput) else None
        return problem(exc.status, exc.message, errors=errors, headers=headers, extra=exc.extra)
    page, status = _html_error(exc.status, exc.message)
    return page, status, headers


def handle_unexpected(exc: Exception):
    """Anything else: logged with its traceback, answered without one."""
    log.exception("Unhandled error on %s %s", request.method, request.path)
    if is_api_request():
        return problem(500, "An unexpected error occurred; it has been logged.")
    return _html_error(500, "An unexpected error occurred; it has been logged.")


def init_app(app: Flask) -> None:
    """Route every error through the handlers above; called after the blueprints are registered."""
    from app.api.routes import path_prefixes  # here, not at the top: the API's resources import this module

    app.extensions["api_path_prefixes"] = path_prefixes(app)
    app.register_error_handler(HTTPException, handle_http_exception)
    app.register_error_handler(CSRFError, handle_expired_form)
    app.register_error_handler(DomainError, handle_domain_error)
    app.register_error_handler(Exception, handle_unexpected)
