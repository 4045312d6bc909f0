"""The app started as production runs it, for the browser tests.

granian, started by deploy/server.py, serves ``bookstore.settings`` with DEBUG off and the
production static pipeline (collectstatic, compressed, content-hashed names), over a fresh
SQLite database in a temporary directory, whatever database or cache the outer test run uses.
"""

import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from scripts.ports import free_port

REPO_ROOT = Path(__file__).resolve().parents[2]

#: Books seeded before the tests: more than two pages of 20, so scrolling loads a second page.
SEEDED_BOOKS = 45
USERNAME = "e2e-editor"
#: A user who may read only (create_api_user --role reader): the page shows no edit buttons.
READER_USERNAME = "e2e-reader"

COMMAND_TIMEOUT_S = 120
STARTUP_TIMEOUT_S = 30
SHUTDOWN_TIMEOUT_S = 10
SERVER_ATTEMPTS = 3
#: The outer run's database and cache are not the app's; nor is its metrics directory, which
#: the server would clear of counts (it makes a temporary one of its own instead).
NOT_INHERITED = {"DATABASE_URL", "REDIS_URL", "DJANGO_SETTINGS_MODULE", "PROMETHEUS_MULTIPROC_DIR"}


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


def server_environment(work_dir: Path) -> dict[str, str]:
    """The outer environment minus its database and cache, plus production settings."""
    env = {name: value for name, value in os.environ.items() if name not in NOT_INHERITED}
    env.update(
        {
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
        }
    )
    return env


def manage(env: dict[str, str], *args: str) -> str:
    """Runs ``manage.py`` with ``args`` and returns its output; a failure fails the test run."""
    try:
        result = subprocess.run(  # noqa: S603 - our own interpreter, fixed arguments
            [sys.executable, "manage.py", *args],
            cwd=REPO_ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=COMMAND_TIMEOUT_S,
            check=False,
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"manage.py {' '.join(args)} took over {COMMAND_TIMEOUT_S} s", pytrace=False)
    if result.returncode != 0:
        pytest.fail(
            f"manage.py {' '.join(args)} failed ({result.returncode}):\n{result.stderr}",
            pytrace=False,
        )
    return result.stdout


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/healthz", timeout=1) as response:  # noqa: S310 - http://127.0.0.1 only
            return bool(response.status == 200)
    except (OSError, urllib.error.URLError):
        return False


def _stop(server: subprocess.Popen[bytes]) -> None:
    """Quick shutdown (SIGINT), then SIGKILL to the server's own process group if it lingers."""
    if server.poll() is not None:
        return
    server.send_signal(signal.SIGINT)
    try:
        server.wait(timeout=SHUTDOWN_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        os.killpg(server.pid, signal.SIGKILL)  # the group we created for it: its workers
        server.wait(timeout=SHUTDOWN_TIMEOUT_S)


def _start_server(env: dict[str, str], log_path: Path) -> tuple[subprocess.Popen[bytes], str]:
    """Starts deploy/server.py on a free port and waits for /healthz; retries if the port was
    taken."""
    for _ in range(SERVER_ATTEMPTS):
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        with log_path.open("ab") as log:
            server = subprocess.Popen(
                [sys.executable, "-m", "deploy.server"],
                cwd=REPO_ROOT,
                env={
                    **env,
                    "HOST": "127.0.0.1",
                    "PORT": str(port),
                    "WEB_CONCURRENCY": "1",
                    "SERVER_THREADS": "4",
                },
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while time.monotonic() < deadline and server.poll() is None:
            if _healthy(url):
                return server, url
            time.sleep(0.2)
        _stop(server)
    pytest.fail(
        f"the server did not answer /healthz within {STARTUP_TIMEOUT_S} s "
        f"({SERVER_ATTEMPTS} attempts). Its log:\n{_tail(log_path, 40)}",
        pytrace=False,
    )


@contextmanager
def run_live_app(work_dir: Path) -> Iterator[LiveApp]:
    """Migrates, collects static files, seeds books and a user, and serves them with granian
    (deploy/server.py)."""
    env = server_environment(work_dir)
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
    server, url = _start_server(env, log_path)
    try:
        yield LiveApp(
            url=url,
            username=USERNAME,
            password=password,
            token=token,
            log_path=log_path,
            reader_password=reader_password,
        )
    finally:
        _stop(server)
