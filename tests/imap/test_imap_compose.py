"""The compose files hand the IMAP settings of .env to the process that runs the background loop:
the web container on the single box, the one `flask outbox worker` on PostgreSQL (whose web
replicas run no loop, so one poller reads the mailbox). Checked with Docker Compose's own `config`."""
import re

from tests.test_deploy_docker import POSTGRES, SINGLE_BOX, project, resolved  # noqa: F401 - the fixture

IMAP = {"IMAP_HOST": "imap.example.test", "IMAP_SECURITY": "starttls", "IMAP_PORT": "143",
        "IMAP_USER": "helpdesk", "IMAP_PASSWORD": "imap-secret", "IMAP_DONE_FOLDER": "Done"}


def with_imap(project):  # noqa: F811 - the fixture's value
    """The deployer's .env with the mailbox filled in."""
    env_file = project / ".env"
    text = env_file.read_text()
    for key, value in IMAP.items():
        text = re.sub(rf"(?m)^{key}=.*$", f"{key}={value}", text)
    env_file.write_text(text)
    return project


def test_the_single_box_web_container_polls_with_the_env_settings(project):  # noqa: F811
    """The web container's loop reads the mailbox: it gets every IMAP_* of .env."""
    web = resolved(with_imap(project), SINGLE_BOX)["services"]["web"]
    assert {key: web["environment"][key] for key in IMAP} == IMAP


def test_on_postgres_only_the_worker_polls(project):  # noqa: F811
    """The worker runs the loop with the IMAP_* of .env; the web replicas run no loop at all."""
    services = resolved(with_imap(project), POSTGRES)["services"]
    worker, web = services["worker"], services["web"]
    assert worker["command"] == ["flask", "outbox", "worker"]
    assert {key: worker["environment"][key] for key in IMAP} == IMAP
    assert web["environment"]["OUTBOX_BACKGROUND_SENDER"] == "false"
