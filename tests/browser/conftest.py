"""Fixtures for the real-browser tests: the seeded portal on 127.0.0.1 and Debian's Chromium."""
import pytest

from tests.browser.live import CHROMIUM, CHROMIUM_ARGS, LiveServer, seeded_app


@pytest.fixture(scope="session")
def live_server(tmp_path_factory):
    """The portal with the seed data, CSRF on, served on a free port for the whole session."""
    app = seeded_app(tmp_path_factory.mktemp("browser") / "portal.db")
    with LiveServer(app) as server:
        yield server


@pytest.fixture(scope="session")
def base_url(live_server) -> str:
    """Pages are opened with paths relative to the live server."""
    return live_server.url


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    """Debian's Chromium (never `playwright install`), headless, with no background traffic."""
    return {**browser_type_launch_args, "executable_path": CHROMIUM, "args": CHROMIUM_ARGS}


@pytest.fixture(autouse=True)
def console_is_clean(page):
    """Fail a test on any script error or Content-Security-Policy violation in the page."""
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(f"script error: {error}"))
    page.on("console", lambda message: problems.append(message.text)
            if "Content Security Policy" in message.text else None)
    yield
    assert problems == []
