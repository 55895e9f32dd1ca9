"""A newcomer's first ten minutes: the commands the README gives exist as written, mail links follow
the port the portal was started on, and a developer's `.env` changes no test result."""
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from flask.cli import FlaskGroup

REPO = Path(__file__).resolve().parent.parent
README = (REPO / "README.md").read_text()
MAKEFILE = (REPO / "Makefile").read_text()


def config_value(setting: str, cwd: Path = REPO, **env: str) -> str:
    """`config.Config.<setting>` as a fresh interpreter computes it with only `env` (and PATH) set."""
    result = subprocess.run([sys.executable, "-c", f"import config; print(config.Config.{setting})"], cwd=cwd,
                            env={"PATH": os.environ["PATH"], **env}, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


@pytest.mark.parametrize(("env", "expected"), [
    ({}, "http://127.0.0.1:5000"),
    ({"FLASK_RUN_PORT": "5123"}, "http://127.0.0.1:5123"),
    ({"FLASK_RUN_PORT": "5123", "APP_BASE_URL": "https://portal.example.com/"}, "https://portal.example.com"),
])
def test_mail_links_follow_the_port_flask_run_serves_on_unless_app_base_url_is_set(env, expected):
    """With APP_BASE_URL unset, links point at the port `flask run` was given; a set one wins."""
    assert config_value("APP_BASE_URL", PYTHON_DOTENV_DISABLED="1", **env) == expected


def test_make_run_gives_flask_and_the_mail_links_the_same_host_and_port():
    """`make run HOST=... PORT=...` hands both to `flask run` as FLASK_RUN_HOST / FLASK_RUN_PORT."""
    dry_run = subprocess.run(["make", "-n", "run", "HOST=127.0.0.2", "PORT=5123"], cwd=REPO,
                             capture_output=True, text=True, timeout=60)
    assert dry_run.returncode == 0, dry_run.stderr
    [command] = [line for line in dry_run.stdout.splitlines() if "flask run" in line]
    assert "FLASK_RUN_HOST=127.0.0.2" in command and "FLASK_RUN_PORT=5123" in command


def test_every_make_command_the_readme_names_is_in_the_makefile():
    """Each `make <target>` in the README exists, and so do the HOST and PORT it offers `make run`."""
    targets = set(re.findall(r"^([a-z][a-z-]*):", MAKEFILE, flags=re.MULTILINE))
    named = set(re.findall(r"`make ([a-z][a-z-]*)", README))
    assert named and named - targets == set()
    assert re.search(r"`make run HOST=\S+ PORT=\d+`", README)
    assert {"HOST", "PORT"} <= set(re.findall(r"^([A-Z]+) \?=", MAKEFILE, flags=re.MULTILINE))


def test_every_flask_command_the_readme_names_exists(app):
    """Each `flask <command> [<subcommand>]` in the README answers --help; the README says where
    `flask` lives (the virtualenv)."""
    named = set(re.findall(r"`(?:\.venv/bin/)?flask ([a-z][a-z0-9-]*(?: [a-z][a-z0-9-]*)?)", README))
    assert {"db upgrade", "seed", "create-user"} <= named
    cli = FlaskGroup(create_app=lambda: app, load_dotenv=False)
    runner = app.test_cli_runner()
    for command in sorted(named):
        result = runner.invoke(cli, [*command.split(" "), "--help"])
        assert result.exit_code == 0, f"flask {command}: {result.output}"
    assert ".venv/bin/activate" in README


# --- a developer's .env --------------------------------------------------------------------------

# What `cp .env.example .env` and a few edits can put in a working copy, at its most unhelpful.
HOSTILE_ENV = """\
APP_ENV=production
SECRET_KEY=
SESSION_COOKIE_SECURE=false
DATABASE_URL=sqlite:////nonexistent/hostile.db
TEST_DATABASE_URL=postgresql+psycopg://hostile@127.0.0.1:9/hostile
APP_BASE_URL=http://hostile.invalid
RATELIMIT_LOGIN=1 per hour
"""
# The two tests `cp .env.example .env` once broke, and the configuration tests around them.
AFFECTED = ["tests/test_config.py",
            "tests/test_security_accounts.py::test_in_production_both_login_cookies_are_secure_httponly_and_samesite"]


@pytest.fixture(scope="module")
def hostile_tree(tmp_path_factory) -> Path:
    """A copy of the code and its tests with a hostile `.env` at the root."""
    root = tmp_path_factory.mktemp("hostile-env") / "portal"
    skip = shutil.ignore_patterns("__pycache__", "*.pyc")
    for folder in ("app", "migrations", "seed", "tests"):
        shutil.copytree(REPO / folder, root / folder, ignore=skip)
    for name in ("config.py", "run.py", "gunicorn.conf.py", "pyproject.toml"):
        shutil.copy(REPO / name, root / name)
    (root / ".env").write_text(HOSTILE_ENV)
    return root


def unguarded_environment() -> dict[str, str]:
    """This process's environment without the suite's own guard (and no PostgreSQL run)."""
    skip = {"PYTHON_DOTENV_DISABLED", "FLASK_SKIP_DOTENV", "TEST_DATABASE_URL"}
    return {name: value for name, value in os.environ.items() if name not in skip}


def test_outside_the_suite_the_hostile_env_is_read(hostile_tree):
    """The control: config.py does load that `.env` when nothing stops it."""
    env = unguarded_environment()
    assert config_value("APP_BASE_URL", cwd=hostile_tree, **env) == "http://hostile.invalid"
    assert config_value("SESSION_COOKIE_SECURE", cwd=hostile_tree, **env) == "False"


def test_a_hostile_env_in_the_working_copy_changes_no_test_result(hostile_tree):
    """The suite run in that copy, with nothing but its own guard, passes as it does here."""
    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *AFFECTED],
                            cwd=hostile_tree, env=unguarded_environment(), capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert re.search(r"\b\d+ passed\b", result.stdout) and " failed" not in result.stdout
