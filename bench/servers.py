"""The lecture's code as the benchmark serves it: the seed under runserver and the production
reference on each of REFERENCE_SERVERS, as harness.processes.Server (its own process group,
bound to 127.0.0.1, output in a log file). Our own production server is harness.app.AppServer.
"""

import sys
from pathlib import Path

from harness.app import PROJECT_DIRECTORY as ROOT
from harness.app import server_environment
from harness.processes import Server

BIN = Path(sys.executable).parent
SEED_PROJECT = ROOT / "bench" / "reference" / "seed"


def spawn(
    name: str,
    command: list[str],
    *,
    env: dict[str, str],
    cwd: Path,
    port: int,
    log_path: Path,
    ready_path: str,
) -> Server:
    """Start ``command`` with the caller's environment (less what would mislead a server) and
    ``env``; return at once (``wait_ready()`` waits)."""
    server = Server(
        name,
        command,
        port=port,
        log_path=log_path,
        cwd=cwd,
        environment=server_environment(env),
        ready_path=ready_path,
    )
    server.spawn()
    return server


def start_seed_server(port: int, sqlite_path: Path, log_path: Path) -> Server:
    """The lecture's project as the lecture runs it: ``manage.py runserver`` (autoreloader and
    all) on SQLite, DEBUG on."""
    return spawn(
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
    return spawn(
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
