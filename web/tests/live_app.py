"""The app started as production runs it, for the browser tests.

granian, started by deploy/server.py, serves ``bookstore.settings`` with DEBUG off and the
production static pipeline (collectstatic, compressed, content-hashed names), over a fresh
SQLite database in a temporary directory, whatever database or cache the outer test run uses.
"""

import secrets
import signal
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from harness import app as harness_app
from harness.app import AppServer
from harness.ports import free_port

REPO_ROOT = harness_app.PROJECT_DIRECTORY

#: Books seeded before the tests: more than two pages of 20, so scrolling loads a second page.
SEEDED_BOOKS = 45
USERNAME = "e2e-editor"
#: A user who may read only (create_api_user --role reader): the page shows no edit buttons.
READER_USERNAME = "e2e-reader"

COMMAND_TIMEOUT_S = 120
STARTUP_TIMEOUT_S = 30
SHUTDOWN_TIMEOUT_S = 10
SERVER_ATTEMPTS = 3


@dataclass(frozen=True)
class LiveApp:
    url: str  # e.g. http://127.0.0.1:23456, no trailing slash
    username: str
    password: str
    token: str
    log_path: Path
    reader_password: str = ""

    def log_tail(self, lines: int = 40) -> str:
        return _tail(self.log_path, lines)


def _tail(path: Path, lines: int) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def app_settings(work_dir: Path) -> dict[str, str]:
    """Production settings over a fresh SQLite database in `work_dir`, without Redis. The
    outer run's database, cache and metrics directory are not the app's (harness.app leaves
    them out of the environment; the server makes a metrics directory of its own)."""
    return {
        "DJANGO_SETTINGS_MODULE": "bookstore.settings",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "DEBUG": "0",
        "DATABASE_URL": f"sqlite:///{work_dir / 'e2e.sqlite3'}",
        # Empty rather than unset: a developer's .env must not bring Redis back in.
        "REDIS_URL": "",
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        # Every test signs in, from 127.0.0.1 and as the same user: production's limits
        # (10 sign-ins a minute, 25 live tokens a user) would throttle the suite and revoke
        # the token it sets up with, as the suite grows.
        "THROTTLE_AUTH_RATE": "1000/min",
        "TOKEN_LIMIT_PER_USER": "0",
        # Honoured once settings read STATIC_ROOT from the environment; until then
        # collectstatic fills the repository's (git-ignored) staticfiles/ directory.
        "STATIC_ROOT": str(work_dir / "static"),
        "PYTHONUNBUFFERED": "1",
        "SERVER_THREADS": "4",
    }


def manage(settings: dict[str, str], *args: str) -> str:
    """Runs ``manage.py`` with ``args`` and returns its output; a failure fails the test run."""
    try:
        return harness_app.manage(
            harness_app.server_environment(settings), *args, timeout=COMMAND_TIMEOUT_S
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"manage.py {' '.join(args)} took over {COMMAND_TIMEOUT_S} s", pytrace=False)
    except RuntimeError as error:
        pytest.fail(f"manage.py {' '.join(args)} failed: {error}", pytrace=False)


def start_server(settings: dict[str, str], log_path: Path) -> AppServer:
    """Starts deploy/server.py (1 worker, 4 threads) on a free port and waits for /healthz;
    retries if the port was taken."""
    for _ in range(SERVER_ATTEMPTS):
        server = AppServer(free_port(), log_path, settings, workers=1, name="the server")
        try:
            server.start(STARTUP_TIMEOUT_S)
        except (RuntimeError, TimeoutError):
            stop_server(server)
            continue
        return server
    pytest.fail(
        f"the server did not answer /healthz within {STARTUP_TIMEOUT_S} s "
        f"({SERVER_ATTEMPTS} attempts). Its log:\n{_tail(log_path, 40)}",
        pytrace=False,
    )


def stop_server(server: AppServer) -> None:
    """Quick shutdown (SIGINT), then SIGKILL to the server's own process group if it lingers."""
    server.stop(signal.SIGINT, SHUTDOWN_TIMEOUT_S)


@contextmanager
def run_live_app(work_dir: Path) -> Iterator[LiveApp]:
    """Migrates, collects static files, seeds books and a user, and serves them with granian
    (deploy/server.py)."""
    env = app_settings(work_dir)
    password = secrets.token_urlsafe(18)
    manage(env, "migrate", "--noinput", "--verbosity", "0")
    manage(env, "collectstatic", "--noinput", "--verbosity", "0")
    manage(env, "seed_books", str(SEEDED_BOOKS))
    token = (
        manage(env, "create_api_user", USERNAME, f"--password={password}").strip().splitlines()[-1]
    )
    reader_password = secrets.token_urlsafe(18)
    manage(
        env, "create_api_user", READER_USERNAME, f"--password={reader_password}", "--role", "reader"
    )
    log_path = work_dir / "server.log"
    server = start_server(env, log_path)
    try:
        yield LiveApp(
            url=server.url,
            username=USERNAME,
            password=password,
            token=token,
            log_path=log_path,
            reader_password=reader_password,
        )
    finally:
        stop_server(server)
