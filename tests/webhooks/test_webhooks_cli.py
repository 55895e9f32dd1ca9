"""`flask webhooks deliver`: one pass, counts printed. Registered here (as app/__init__.py's
register_commands will) so the test runs before and after the lead wires it in."""
import pytest

from app.webhooks import cli as webhooks_cli
from tests import factories


@pytest.fixture
def runner(app):
    """A CLI runner whose app has `flask webhooks` registered."""
    if "webhooks" not in app.cli.commands:
        webhooks_cli.init_app(app)
    return app.test_cli_runner()


def test_deliver_runs_one_pass(runner, make_endpoint, receiver, reporter, deliveries):
    make_endpoint(["*"])
    factories.make_incident(reporter)
    factories.make_incident(reporter)
    result = runner.invoke(args=["webhooks", "deliver"])
    assert result.exit_code == 0, result.output
    assert "2 delivered, 0 to retry, 0 failed" in result.output
    assert len(receiver.received) == 2


def test_deliver_reports_a_turned_off_endpoint(runner, make_endpoint, receiver, reporter):
    endpoint, _ = make_endpoint(["*"])
    receiver.answer(410)
    factories.make_incident(reporter)
    result = runner.invoke(args=["webhooks", "deliver"])
    assert result.exit_code == 0, result.output
    assert "0 delivered, 0 to retry, 1 failed" in result.output
    assert f"Endpoint #{endpoint.id} was turned off" in result.output
