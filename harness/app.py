"""Our production server, `python -m deploy.server` (granian), started for a test or a tool:
the one place that launches it, its environment, readiness and management commands.

The process we start is granian's main process; its workers are its only children
(multiprocessing, forked), each listening on its own SO_REUSEPORT socket.
"""

import os
import sys
from collections.abc import Mapping
from pathlib import Path

from harness.processes import Server, run

PROJECT_DIRECTORY = Path(__file__).resolve().parent.parent
#: Variables of the caller's environment that would point a server or command at the wrong
#: code or data; the metrics directory is the server's own (it clears what it finds there).
NOT_INHERITED = frozenset(
    {
        "DJANGO_SETTINGS_MODULE",
        "PYTHONPATH",
        "DATABASE_URL",
        "REDIS_URL",
        "DEBUG",
        "SECRET_KEY",
        "WEB_CONCURRENCY",
        "READ_CACHE_ENABLED",
        "PROMETHEUS_MULTIPROC_DIR",
    }
)


def server_environment(settings: Mapping[str, str]) -> dict[str, str]:
    """The caller's environment without NOT_INHERITED, plus `settings`."""
    inherited = {name: value for name, value in os.environ.items() if name not in NOT_INHERITED}
    return {**inherited, **settings}


def server_command(app: str | None = None) -> list[str]:
    """How production runs a WSGI app (``module:callable``, by default ours): deploy/server.py,
    with host, port, workers and threads from HOST, PORT, WEB_CONCURRENCY and SERVER_THREADS.

    granian has no request-count recycling (gunicorn's max_requests): a worker lives as long
    as the server, so a memory soak sees any growth.
    """
    return [sys.executable, "-m", "deploy.server", *([app] if app else [])]


def manage(environment: Mapping[str, str], *arguments: str, timeout: float = 120) -> str:
    """Run a manage.py command with `environment` (from server_environment); its stdout."""
    command = [sys.executable, "manage.py", *arguments]
    return run(command, timeout=timeout, cwd=PROJECT_DIRECTORY, env=dict(environment)).stdout


def settings_under_load(
    directory: Path, *, database_url: str, redis_url: str, secret_key: str | None = None
) -> dict[str, str]:
    """Production settings (DEBUG off, PostgreSQL, Redis) with limits that load would hit
    lifted, and a metrics directory of ours in `directory`. Instances behind one load balancer
    must share `secret_key`."""
    # Our own directory, not the server's temporary one, so that it goes with ours even when
    # the server is killed before it can remove its own.
    metrics_directory = directory / "prometheus"
    metrics_directory.mkdir(exist_ok=True)
    return {
        "DJANGO_SETTINGS_MODULE": "bookstore.settings",
        "SECRET_KEY": secret_key or "fault-tests-only-" + os.urandom(24).hex(),  # 65 characters
        "DEBUG": "0",
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "ALLOWED_HOSTS": "127.0.0.1",
        "THROTTLE_ANON_RATE": "100000/min",
        "THROTTLE_USER_RATE": "100000/min",
        "WRITE_QUOTA_PER_DAY": "0",  # the load writes far more than a user's daily quota
        "SLOW_REQUEST_MS": "5000",
        "PYTHONUNBUFFERED": "1",
        "PROMETHEUS_MULTIPROC_DIR": str(metrics_directory),
    }


class AppServer(Server):
    """Our production server serving `app` (by default ours) on 127.0.0.1:`port` with
    `settings` over the caller's environment (server_environment). With `workers`, it runs
    that many and is ready once they all run and `ready_path` answers 200."""

    def __init__(
        self,
        port: int,
        log_path: Path,
        settings: Mapping[str, str],
        *,
        app: str | None = None,
        workers: int | None = None,
        name: str = "app",
        ready_path: str = "/healthz",
    ) -> None:
        listening = {"HOST": "127.0.0.1", "PORT": str(port)}
        if workers is not None:
            listening["WEB_CONCURRENCY"] = str(workers)
        super().__init__(
            name,
            server_command(app),
            port=port,
            log_path=log_path,
            cwd=PROJECT_DIRECTORY,
            environment=server_environment({**settings, **listening}),
            ready_path=ready_path,
        )
        self.workers = workers

    def ready(self) -> bool:
        return self.answers() and (self.workers is None or len(self.worker_pids()) == self.workers)

    def manage(self, *arguments: str, timeout: float = 120) -> str:
        """Run a manage.py command against this server's database and cache; its stdout."""
        return manage(self.environment, *arguments, timeout=timeout)

    def create_token(self, username: str) -> str:
        """A new API user's token, as `manage.py create_api_user` prints it."""
        return self.manage("create_api_user", username).strip().splitlines()[-1]
