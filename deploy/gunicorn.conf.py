"""gunicorn settings for the production server, read from the environment.

HOST and PORT choose the address; WEB_CONCURRENCY the worker processes (default: one per
core) and GUNICORN_THREADS the threads in each (default 4): threads overlap the waits on
the database and cache without a process's memory each. PROMETHEUS_MULTIPROC_DIR (optional)
is where the workers keep their metrics for /metrics; LOG_FORMAT and DEBUG choose the format
of gunicorn's own log lines, as they do the application's (docs/observability.md).
"""

import multiprocessing
import os
import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

import environ

if TYPE_CHECKING:
    from gunicorn.arbiter import Arbiter
    from gunicorn.workers.base import Worker

bind = f"{os.environ.get('HOST', '127.0.0.1')}:{os.environ.get('PORT', '8000')}"
# One worker per core: measured as fast as two per core, with a better p99 and half the
# memory and database connections (docs/performance.md, "Production server").
workers = int(os.environ.get("WEB_CONCURRENCY", multiprocessing.cpu_count()))
worker_class = "gthread"
threads = int(os.environ.get("GUNICORN_THREADS", "4"))
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
graceful_timeout = 30
keepalive = 5
# Recycling a worker after N requests (GUNICORN_MAX_REQUESTS, with 10 % jitter) is off by
# default: under load a worker reaches any fixed N in seconds and pays its start-up again and
# again (10,000 halved the benchmark's throughput), and `make bench SOAK=300` shows no growth
# to recycle away (docs/performance.md).
max_requests = int(os.environ.get("GUNICORN_MAX_REQUESTS", "0"))
max_requests_jitter = max_requests // 10
errorlog = "-"
# gunicorn's control socket (gunicornc) is off: its default path is one per user
# (~/.gunicorn/gunicorn.ctl), which instances sharing a host would fight over, and the image's
# home (/app) is not writable. Nothing of ours uses it.
control_socket_disable = True
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")

# --- Metrics: one /metrics for all workers --------------------------------------------
# Each worker process counts in its own memory; in prometheus_client's multiprocess mode they
# count into files in PROMETHEUS_MULTIPROC_DIR instead, and /metrics (any worker) adds them up,
# those of exited workers included. The variable must be set before a worker imports
# prometheus_client, so here, in the master. Without one given, a fresh temporary directory.
METRICS_DIRECTORY_PREFIX = "bookstore-prometheus-"
if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix=METRICS_DIRECTORY_PREFIX)


def on_starting(server: "Arbiter") -> None:
    """Drop a previous run's counts from a given directory: they are not this server's."""
    for stale in Path(os.environ["PROMETHEUS_MULTIPROC_DIR"]).glob("*.db"):
        stale.unlink()


def child_exit(server: "Arbiter", worker: "Worker") -> None:
    """Forget an exited worker's live gauges; its counters and histograms still count."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def on_exit(server: "Arbiter") -> None:
    """Remove the metrics directory if it is a temporary one, as made above."""
    directory = Path(os.environ["PROMETHEUS_MULTIPROC_DIR"])
    if directory.parent == Path(tempfile.gettempdir()) and directory.name.startswith(
        METRICS_DIRECTORY_PREFIX
    ):
        shutil.rmtree(directory, ignore_errors=True)


# --- Logs -----------------------------------------------------------------------------
# gunicorn's own lines (worker starts, timeouts, errors) in the application's format
# (core.logging): JSON unless LOG_FORMAT says otherwise or DEBUG is on, as in the settings.
# Its access log is off: the application writes one structured line per request, with the
# request id, and a second, unstructured one would only repeat it.
accesslog = None
DEBUG = environ.Env().bool("DEBUG", default=False)
LOG_FORMAT = os.environ.get("LOG_FORMAT") or ("console" if DEBUG else "json")
logconfig_dict = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "structured": {"()": "core.logging.build_formatter", "log_format": LOG_FORMAT},
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
        "gunicorn.error": {"handlers": [], "propagate": True},
        "gunicorn.access": {"handlers": [], "propagate": False},
    },
}
