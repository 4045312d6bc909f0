"""Fixtures of the fault tests: private PostgreSQL and Redis, the app under granian
(deploy/server.py), a token.

Each test gets servers of its own and leaves nothing behind: processes are stopped and their
files removed in teardown, whether the test passed or not. Each test is also stopped by an
alarm if it runs longer than TEST_TIME_LIMIT seconds.
"""

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from harness.app import PROJECT_DIRECTORY, AppServer, settings_under_load
from harness.ports import free_port
from harness.postgres import PrivatePostgres
from harness.processes import time_limit
from harness.redis import PrivateRedis

DATABASE = "bookstore"
TEST_TIME_LIMIT = 120
REPORT_DIRECTORY = PROJECT_DIRECTORY / "test-output" / "faults"


@pytest.fixture(autouse=True)
def _time_limit() -> Iterator[None]:
    """Fail a test that runs too long; its fixtures' teardown still stops every server."""

    with time_limit(TEST_TIME_LIMIT, "The fault test"):
        yield


@pytest.fixture
def postgres() -> Iterator[PrivatePostgres]:
    server = PrivatePostgres(free_port())
    try:
        server.initialise()
        server.start()
        server.create_database(DATABASE)
        yield server
    finally:
        server.destroy()


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[PrivateRedis]:
    directory = tmp_path / "redis"
    directory.mkdir()
    server = PrivateRedis(directory, free_port())
    try:
        server.start()
        yield server
    finally:
        server.destroy()


@pytest.fixture
def app(
    postgres: PrivatePostgres, redis_server: PrivateRedis, tmp_path: Path
) -> Iterator[AppServer]:
    """The app migrated onto the private database and serving under granian (2 workers)."""
    directory = tmp_path / "app"
    directory.mkdir()
    server = AppServer(
        free_port(),
        directory / "server.log",
        settings_under_load(
            directory, database_url=postgres.url(DATABASE), redis_url=redis_server.url
        ),
        workers=2,
    )
    server.manage("migrate", "--noinput")
    try:
        server.start()
        yield server
    finally:
        server.stop()


@pytest.fixture
def token(app: AppServer) -> str:
    return app.create_token("fault-tester")


def write_report(name: str, report: dict[str, Any]) -> Path:
    """Keep a test's figures in test-output/faults/<name>.json (docs/reliability.md cites them)."""
    REPORT_DIRECTORY.mkdir(parents=True, exist_ok=True)
    path = REPORT_DIRECTORY / f"{name}.json"
    path.write_text(json.dumps(report, indent=2, sort_keys=True) + "\n")
    return path
