"""The container files, checked without a Docker engine: hadolint on the Dockerfile, the compose
files against the Compose Specification's JSON schema and through Docker Compose's own `config`."""
import copy
import json
import os
import re
import shutil
import subprocess
import sys
from importlib import resources
from pathlib import Path

import jsonschema
import pytest
import yaml

REPO = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent
SINGLE_BOX = "docker-compose.yml"
POSTGRES = "docker-compose.postgres.yml"
COMPOSE_FILES = [SINGLE_BOX, POSTGRES]


def tool(name: str) -> str:
    """A linter installed into this virtualenv by requirements-dev.txt."""
    path = shutil.which(name, path=str(VENV_BIN))
    assert path, f"{name} is missing: pip install -r requirements-dev.txt"
    return path


def test_the_dockerfile_lints_clean():
    """hadolint finds nothing at warning level or above."""
    result = subprocess.run([tool("hadolint"), "--failure-threshold", "warning", "Dockerfile"], cwd=REPO,
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_build_context_holds_what_the_dockerfile_copies_and_no_secrets():
    """.dockerignore lets in every COPY source and keeps .env, instance/ and .git out."""
    patterns = [line.strip() for line in (REPO / ".dockerignore").read_text().splitlines()
                if line.strip() and not line.startswith("#")]
    allowed = {p.removeprefix("!").rstrip("/") for p in patterns if p.startswith("!")}
    copied = set()
    for line in (REPO / "Dockerfile").read_text().splitlines():
        if line.startswith("COPY "):
            copied.update(line.split()[1:-1])
    assert patterns[0] == "*"
    assert copied and copied <= allowed
    assert all((REPO / source).exists() for source in copied)
    assert not {".env", "instance", ".git", ".venv", "tests"} & allowed


@pytest.fixture(scope="module")
def compose_schema() -> dict:
    """The Compose Specification's JSON schema, as vendored by check-jsonschema (pinned)."""
    schema = resources.files("check_jsonschema.builtin_schemas.vendor").joinpath("compose-spec.json")
    return json.loads(schema.read_text(encoding="utf-8"))


def schema_errors(document: dict, schema: dict) -> list[str]:
    validator = jsonschema.validators.validator_for(schema)(schema)
    return sorted(f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(document))


@pytest.mark.parametrize("name", COMPOSE_FILES)
def test_compose_files_follow_the_compose_specification(name, compose_schema):
    """Each compose file validates against the specification's schema, which does catch mistakes."""
    document = yaml.safe_load((REPO / name).read_text())
    assert schema_errors(document, compose_schema) == []
    broken = copy.deepcopy(document)
    broken["services"]["web"]["depends_on"] = "mail"
    broken["services"]["web"]["restart_policy"] = "always"
    assert len(schema_errors(broken, compose_schema)) == 2


@pytest.fixture
def project(tmp_path) -> Path:
    """The compose files in a folder of their own, with the .env a deployer makes from .env.example."""
    for name in COMPOSE_FILES:
        shutil.copy(REPO / name, tmp_path / name)
    (tmp_path / "docker").mkdir()
    shutil.copy(REPO / "docker" / "nginx.conf", tmp_path / "docker" / "nginx.conf")
    env = (REPO / ".env.example").read_text()
    env = re.sub(r"(?m)^SECRET_KEY=.*$", "SECRET_KEY=" + "s" * 64, env)
    env = re.sub(r"(?m)^POSTGRES_PASSWORD=.*$", "", env) + "\nPOSTGRES_PASSWORD=db-secret\n"
    (tmp_path / ".env").write_text(env)
    return tmp_path


def compose_config(project: Path, name: str) -> subprocess.CompletedProcess:
    """`docker compose -f NAME config` as Docker Compose v2 resolves it (no engine needed)."""
    # The Compose binary itself: the package's console script drops its exit code.
    binary = resources.files("compose").joinpath("docker-compose")
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("COMPOSE_", "DOCKER_")) and key not in {"SECRET_KEY", "POSTGRES_PASSWORD"}}
    env["DOCKER_CONFIG"] = str(project / ".docker")
    return subprocess.run([str(binary), "-f", name, "config", "--format", "json"], cwd=project,
                          env=env, capture_output=True, text=True, timeout=60)


def resolved(project: Path, name: str) -> dict:
    result = compose_config(project, name)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_single_box_compose_runs_production_on_a_volume_with_a_mail_catcher(project):
    """web: production config, SQLite on the named volume, port 5000, mail to the catcher."""
    config = resolved(project, SINGLE_BOX)
    web = config["services"]["web"]
    assert web["environment"]["APP_ENV"] == "production"
    assert web["environment"]["SECRET_KEY"] == "s" * 64
    assert web["environment"]["DATABASE_URL"] == "sqlite:////data/portal.db"
    assert [(v["type"], v["source"], v["target"]) for v in web["volumes"]] == [("volume", "portal-data", "/data")]
    assert [(p["published"], p["target"]) for p in web["ports"]] == [("5000", 5000)]
    assert web["environment"]["MAIL_SERVER"] == "mail"
    assert "mailpit" in config["services"]["mail"]["image"]
    assert web["build"]["context"] == str(project)


def test_postgres_compose_runs_two_replicas_one_worker_behind_a_proxy(project):
    """Replicas share PostgreSQL and Redis, do not migrate or send mail; the worker does the mail."""
    services = resolved(project, POSTGRES)["services"]
    web, worker, migrate = services["web"], services["worker"], services["migrate"]
    assert web["deploy"]["replicas"] == 2
    assert web["environment"]["DATABASE_URL"] == "postgresql+psycopg://portal:db-secret@postgres:5432/portal"
    assert web["environment"]["RATELIMIT_STORAGE_URI"].startswith("redis://redis:")
    assert (web["environment"]["OUTBOX_BACKGROUND_SENDER"], web["environment"]["MIGRATE_ON_START"]) == ("false", "0")
    assert web["environment"]["TRUSTED_PROXIES"] == "1"
    assert web["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    assert migrate["environment"]["MIGRATE_ON_START"] == "1"
    assert worker["command"] == ["flask", "outbox", "worker"]
    assert worker["environment"]["MAIL_SERVER"] == "mail"
    assert "pg_isready" in " ".join(services["postgres"]["healthcheck"]["test"])
    assert [(p["published"], p["target"]) for p in services["proxy"]["ports"]] == [("5000", 80)]
    assert "server web:5000" in (REPO / "docker" / "nginx.conf").read_text()


@pytest.mark.parametrize("name", COMPOSE_FILES)
def test_compose_refuses_to_start_without_a_secret_key(project, name):
    """An empty SECRET_KEY stops `docker compose` before any container starts."""
    env_file = project / ".env"
    env_file.write_text(re.sub(r"(?m)^SECRET_KEY=.*$", "SECRET_KEY=", env_file.read_text()))
    result = compose_config(project, name)
    assert result.returncode != 0
    assert "set SECRET_KEY" in result.stderr


def test_make_image_targets_build_and_save_the_image():
    """`make image-tar` builds, then exports, through scripts/image.sh (dry run here; `make image-test`
    does it for real)."""
    result = subprocess.run(["make", "-n", "image-tar"], cwd=REPO, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert re.search(r"^IMAGE=incident-portal:latest scripts/image\.sh build$", result.stdout, re.M)
    assert re.search(r"^IMAGE=incident-portal:latest IMAGE_TAR=incident-portal\.tar scripts/image\.sh save$",
                     result.stdout, re.M)
