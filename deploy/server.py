"""The production server: granian serving bookstore.wsgi, configured from the environment.

    python -m deploy.server [module:application]
        # what `make run`, the image, compose and Kubernetes run; the application defaults to
        # bookstore.wsgi:application (the benchmark serves its bare ceiling app the same way)

Chosen by measurement against gunicorn (sync and gthread) and uWSGI (docs/performance.md,
"Production server"): granian parses HTTP and holds connections in Rust, so a slow client
costs a socket, not one of the threads that run Django, and the per-request server cost is a
fraction of gunicorn's.

HOST and PORT choose the address; WEB_CONCURRENCY the worker processes (default: one per
core); SERVER_THREADS the threads in each that run the application (default 4: they overlap
the waits on the database and cache). SERVER_HEADER_TIMEOUT_MS bounds how long a client may
take to send its request head (default 5 s). PROMETHEUS_MULTIPROC_DIR (optional) is where
the workers keep their metrics for /metrics; LOG_FORMAT and DEBUG choose the format of
granian's own log lines, as they do the application's (docs/observability.md).

Failure story (docs/reliability.md): a worker that dies is respawned by granian; if workers
keep dying (granian gives up after a crash loop) the process exits non-zero and what runs it
restarts it (compose `restart:`, Kubernetes). Each worker listens on its own SO_REUSEPORT
socket: connections still in a killed worker's accept queue are reset unless the host sets
net.ipv4.tcp_migrate_req=1 (compose and the Kubernetes manifests do); nginx retries an
idempotent request on such a reset.
"""

import multiprocessing
import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

import environ

APPLICATION = "bookstore.wsgi:application"
METRICS_DIRECTORY_PREFIX = "bookstore-prometheus-"
#: Defaults of the settings the environment may override (the deployment tests read them).
THREADS = 4  # SERVER_THREADS
BACKPRESSURE = 64  # SERVER_BACKPRESSURE
#: SERVER_HEADER_TIMEOUT_MS. It is also how long an idle keep-alive connection is kept: hyper,
#: under granian, starts this timer again after each response (measured: closed at 5.0 s), so
#: nginx's upstream keepalive_timeout must be shorter (deploy/nginx/nginx.conf).
HEADER_TIMEOUT_MS = 5_000
#: SERVER_GRACEFUL_TIMEOUT: at shutdown a worker gets this long to finish its requests, then
#: it is killed. Kubernetes' terminationGracePeriodSeconds leaves room for it.
GRACEFUL_TIMEOUT_SECONDS = 30


def _int(name: str, default: int) -> int:
    return int(os.environ.get(name) or default)


def log_config() -> dict[str, Any]:
    """granian's own lines (start, worker deaths, errors) in the application's format.

    Its access log stays off: the application writes one structured line per request, with
    the request id (core.request_id), and a second line would only repeat it."""
    debug = environ.Env().bool("DEBUG", default=False)
    log_format = os.environ.get("LOG_FORMAT") or ("console" if debug else "json")
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {
            "structured": {"()": "core.logging.build_formatter", "log_format": log_format},
        },
        "handlers": {
            "console": {
                "class": "logging.StreamHandler",
                "formatter": "structured",
                "stream": "ext://sys.stderr",
            },
        },
        "root": {"level": "INFO", "handlers": ["console"]},
        "loggers": {
            "_granian": {"handlers": [], "propagate": True},
            "granian.access": {"handlers": [], "propagate": False},
        },
    }


def metrics_directory() -> tuple[Path, bool]:
    """The directory the workers count into (prometheus_client's multiprocess mode), and
    whether it is a temporary one of ours to remove at exit.

    It must be set before a worker imports prometheus_client, so here, in the main process.
    A previous run's counts in a given directory are not this server's: they are dropped."""
    given = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if given:
        directory = Path(given)
        for stale in directory.glob("*.db"):
            stale.unlink()
        return directory, False
    directory = Path(tempfile.mkdtemp(prefix=METRICS_DIRECTORY_PREFIX))
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(directory)
    return directory, True


def build_server(application: str = APPLICATION) -> Any:
    from granian.constants import HTTPModes, Interfaces
    from granian.http import HTTP1Settings
    from granian.server import Server

    workers = _int("WEB_CONCURRENCY", multiprocessing.cpu_count())
    return Server(
        application,
        address=os.environ.get("HOST", "127.0.0.1"),
        port=_int("PORT", 8000),
        interface=Interfaces.WSGI,
        http=HTTPModes.http1,
        websockets=False,
        workers=workers,
        blocking_threads=_int("SERVER_THREADS", THREADS),
        # Requests a worker takes on at once; the rest wait in the kernel's accept queue (and
        # go to a sibling worker), rather than in a queue a dying worker would lose.
        backpressure=_int("SERVER_BACKPRESSURE", BACKPRESSURE),
        http1_settings=HTTP1Settings(
            header_read_timeout=_int("SERVER_HEADER_TIMEOUT_MS", HEADER_TIMEOUT_MS),
            keep_alive=True,
        ),
        log_dictconfig=log_config(),
        log_access=False,
        respawn_failed_workers=True,
        respawn_interval=1.0,
        # A worker gets this long to finish its requests at shutdown, then it is killed.
        workers_kill_timeout=_int("SERVER_GRACEFUL_TIMEOUT", GRACEFUL_TIMEOUT_SECONDS),
        working_dir=Path(__file__).resolve().parent.parent,
    )


def main(argv: list[str] | None = None) -> None:
    arguments = sys.argv[1:] if argv is None else argv
    directory, temporary = metrics_directory()
    try:
        build_server(arguments[0] if arguments else APPLICATION).serve()
    finally:
        if temporary:
            shutil.rmtree(directory, ignore_errors=True)


if __name__ == "__main__":
    main()
