"""Starting, watching and stopping the servers the benchmark measures.

Each server runs in its own process group, bound to 127.0.0.1, its output in a log file; stop()
ends the whole group (a server's workers, runserver's autoreloader child). Our production
server is started in exactly one place, ``production_server_command``: when production
changes server, that function changes and everything else follows.
"""

import contextlib
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from scripts import ports

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
SEED_PROJECT = ROOT / "bench" / "reference" / "seed"
# Variables of the caller's environment that would point a server at the wrong code or data.
_NOT_INHERITED = (
    "DJANGO_SETTINGS_MODULE",
    "PYTHONPATH",
    "DATABASE_URL",
    "REDIS_URL",
    "DEBUG",
    "SECRET_KEY",
    "WEB_CONCURRENCY",
    "READ_CACHE_ENABLED",
)


@dataclass
class Server:
    name: str
    process: subprocess.Popen[bytes]
    port: int
    log_path: Path
    ready_path: str

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def worker_pids(self) -> list[int]:
        """The server's worker processes: the children of its main process."""
        return child_pids(self.process.pid)

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def wait_ready(self, timeout: float = 90.0) -> None:
        """Poll ``ready_path`` until it answers 200; fail with the log if the server exits."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"{self.name} exited ({self.process.returncode}) before it was ready:\n"
                    + self.log_tail()
                )
            try:
                url = self.url + self.ready_path
                with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - loopback
                    if response.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            time.sleep(0.2)
        raise RuntimeError(f"{self.name} not ready after {timeout:.0f} s:\n" + self.log_tail())

    def stop(self, timeout: float = 20.0) -> None:
        """SIGTERM the process group, SIGKILL what is left after ``timeout``."""
        if self.process.poll() is None:
            _signal_group(self.process.pid, signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout)
        # Workers that outlive their master (or a master that ignored SIGTERM).
        _signal_group(self.process.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(5)


def _signal_group(pgid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signum)


def child_pids(pid: int) -> list[int]:
    """Direct children of ``pid``, from /proc."""
    children: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            children.extend(int(child) for child in (task / "children").read_text().split())
        except OSError:
            continue
    return sorted(set(children))


def rss_kib(pid: int) -> int | None:
    """A process's resident memory (VmRSS) in KiB, or None if it is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return None


def free_port(taken: set[int]) -> int:
    """A free loopback port below the ephemeral range, not in ``taken`` (it is added there)."""
    return ports.free_port(taken)


def server_environment(env: dict[str, str]) -> dict[str, str]:
    """The caller's environment without what would mislead a server or command, plus ``env``."""
    base = {key: value for key, value in os.environ.items() if key not in _NOT_INHERITED}
    return {**base, **env}


def _spawn(
    name: str,
    command: list[str],
    *,
    env: dict[str, str],
    cwd: Path,
    port: int,
    log_path: Path,
    ready_path: str,
) -> Server:
    with log_path.open("ab") as log:
        process = subprocess.Popen(  # noqa: S603 - our own command lines
            command,
            cwd=cwd,
            env=server_environment(env),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, for stop()
        )
    return Server(name, process, port, log_path, ready_path)


def production_server_command(app: str) -> list[str]:
    """How production runs a WSGI app (``module:callable``): deploy/server.py (granian), with
    host, port, workers and threads from HOST, PORT, WEB_CONCURRENCY and SERVER_THREADS.

    granian has no request-count recycling (gunicorn's max_requests): a worker lives as long
    as the server, so a memory soak sees any growth.
    """
    return [str(BIN / "python"), "-m", "deploy.server", app]


def start_production_server(
    name: str,
    app: str,
    port: int,
    env: dict[str, str],
    log_path: Path,
    *,
    ready_path: str = "/readyz",
) -> Server:
    """Our production server running ``app`` on 127.0.0.1:``port`` with ``env``."""
    return _spawn(
        name,
        production_server_command(app),
        env={**env, "HOST": "127.0.0.1", "PORT": str(port)},
        cwd=ROOT,
        port=port,
        log_path=log_path,
        ready_path=ready_path,
    )


def start_seed_server(port: int, sqlite_path: Path, log_path: Path) -> Server:
    """The lecture's project as the lecture runs it: ``manage.py runserver`` (autoreloader and
    all) on SQLite, DEBUG on."""
    return _spawn(
        "seed",
        [str(BIN / "python"), "manage.py", "runserver", f"127.0.0.1:{port}"],
        env={"SEED_SQLITE_PATH": str(sqlite_path), "PYTHONUNBUFFERED": "1"},
        cwd=SEED_PROJECT,
        port=port,
        log_path=log_path,
        ready_path="/",
    )


#: The servers the production reference is measured on; it is credited with the best of them
#: in each scenario, so that no ratio flatters us through the reference's choice of server.
#: gunicorn with 2 sync workers is how the lecture's code is usually deployed; granian is our
#: own production server, with our worker and thread counts, and with one thread a worker
#: (the reference's detail read was fastest so in bench/server_choice.py's quiet run).
REFERENCE_SERVERS = ("gunicorn-sync", "granian", "granian-1-thread")


def reference_server_command(server: str, port: int) -> tuple[list[str], Path]:
    """The command line that serves the lecture's project with ``server`` on ``port``, and
    the folder to run it in."""
    address = ["127.0.0.1", str(port)]
    if server == "gunicorn-sync":
        return [
            str(BIN / "gunicorn"), "--no-control-socket", "--workers", "2",
            "--worker-class", "sync", "--bind", ":".join(address), "bookstore.wsgi:application",
        ], SEED_PROJECT  # fmt: skip
    if server in ("granian", "granian-1-thread"):
        threads = "1" if server == "granian-1-thread" else "4"
        return [
            str(BIN / "granian"), "--interface", "wsgi", "--no-ws", "--http", "1",
            "--workers", "2", "--blocking-threads", threads,
            "--host", address[0], "--port", address[1], "bench.reference_wsgi:application",
        ], ROOT  # fmt: skip
    raise ValueError(f"no reference server {server!r}; choose from {REFERENCE_SERVERS}")


def start_reference_server(
    port: int, database_url: str, log_path: Path, server: str = REFERENCE_SERVERS[0]
) -> Server:
    """The lecture's code deployed plainly (DEBUG off, PostgreSQL with persistent
    connections, page-number pagination) on ``server``."""
    command, folder = reference_server_command(server, port)
    return _spawn(
        f"reference ({server})",
        command,
        env={
            "DJANGO_SETTINGS_MODULE": "bookstore.production_settings",
            "DATABASE_URL": database_url,
        },
        cwd=folder,
        port=port,
        log_path=log_path,
        ready_path="/",
    )
