"""Under gunicorn (deploy/gunicorn.conf.py) with several workers, /metrics adds up the counts
of every worker, those that have exited included, and every log line is JSON.

The server runs as production runs it: production settings, DEBUG off, no
PROMETHEUS_MULTIPROC_DIR given (the config makes a temporary one and removes it at exit).
Each worker is restarted after a few requests (--max-requests), so the requests are served by
more processes than are alive when /metrics is read: a per-process count could not add up.
/readyz needs no tables, so the SQLite database is not migrated.
"""

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from core.tests.conftest import parse_samples, sample
from scripts.ports import free_port

PROJECT_ROOT = Path(__file__).resolve().parents[2]
WORKERS = 2
MAX_REQUESTS_PER_WORKER = 4
REQUESTS = 12  # served by at least REQUESTS / MAX_REQUESTS_PER_WORKER = 3 worker processes
STARTUP_SECONDS = 60
REQUEST_SECONDS = 30


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    base_url: str
    temporary_directory: Path
    log: Path

    def get(self, path: str, request_id: str | None = None) -> tuple[int, dict[str, str], str]:
        headers = {"Connection": "close"}
        if request_id:
            headers["X-Request-ID"] = request_id
        request = urllib.request.Request(self.base_url + path, headers=headers)  # noqa: S310
        try:
            with urllib.request.urlopen(request, timeout=REQUEST_SECONDS) as response:  # noqa: S310
                return response.status, dict(response.headers), response.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, dict(error.headers), error.read().decode()

    def metrics_directories(self) -> list[Path]:
        return list(self.temporary_directory.glob("bookstore-prometheus-*"))

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)

    def log_lines(self) -> list[str]:
        return [line for line in self.log.read_text().splitlines() if line.strip()]


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    port = free_port()
    temporary_directory = tmp_path / "tmp"
    temporary_directory.mkdir()
    log = tmp_path / "gunicorn.log"
    environment = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "DJANGO_SETTINGS_MODULE": "bookstore.settings",
        "SECRET_KEY": "x",
        "DEBUG": "0",
        "LOG_FORMAT": "",  # the default; a developer's .env must not choose it
        "DATABASE_URL": f"sqlite:///{tmp_path / 'm.sqlite3'}",
        "REDIS_URL": "",
        "ALLOWED_HOSTS": "127.0.0.1",
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "WEB_CONCURRENCY": str(WORKERS),
        "GUNICORN_THREADS": "2",
        "TMPDIR": str(temporary_directory),
    }
    with log.open("wb") as output:
        process = subprocess.Popen(  # noqa: S603 - our own interpreter, fixed arguments
            [
                sys.executable,
                "-m",
                "gunicorn",
                "--config",
                "deploy/gunicorn.conf.py",
                "--max-requests",
                str(MAX_REQUESTS_PER_WORKER),
                "--max-requests-jitter",
                "0",
                "bookstore.wsgi",
            ],
            cwd=PROJECT_ROOT,
            env=environment,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    running = Server(process, f"http://127.0.0.1:{port}", temporary_directory, log)
    try:
        wait_until_serving(running)
        yield running
    finally:
        running.stop()


def wait_until_serving(server: Server) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            pytest.fail(f"gunicorn exited at startup:\n{server.log.read_text()}")
        try:
            if server.get("/healthz")[0] == 200:
                return
        except OSError:
            pass  # not listening yet
        time.sleep(0.2)
    pytest.fail(f"gunicorn did not answer within {STARTUP_SECONDS}s:\n{server.log.read_text()}")


def test_metrics_add_up_every_worker_and_logs_are_json(server: Server) -> None:
    request_ids = [f"multi-{number}" for number in range(REQUESTS)]
    for request_id in request_ids:
        status, headers, _ = server.get("/readyz", request_id)
        assert status == 200
        assert headers["X-Request-ID"] == request_id

    status, _, exposition = server.get("/metrics")
    assert status == 200, exposition
    samples = parse_samples(exposition)

    readyz = {"view": "readyz", "method": "GET", "status": "200"}
    database = {"alias": "default", "vendor": "sqlite"}
    assert sample(samples, "django_http_responses_total_by_status_view_method_total", **readyz) == (
        REQUESTS
    )
    assert (
        sample(samples, "django_http_requests_latency_seconds_by_view_method_count", **readyz)
        == REQUESTS
    )
    assert sample(samples, "django_db_execute_total", **database) >= REQUESTS
    assert sample(samples, "django_cache_get_hits_total", backend="locmem") >= REQUESTS
    # The counts above came from more processes than the two alive now.
    (directory,) = server.metrics_directories()
    assert len(list(directory.glob("counter_*.db"))) > WORKERS

    server.stop()

    assert server.process.returncode == 0
    assert server.metrics_directories() == []  # the temporary directory is removed at exit
    lines = [json.loads(line) for line in server.log_lines()]  # every line is JSON
    assert any(line["logger"] == "gunicorn.error" for line in lines)
    logged_ids = [
        line["request_id"]
        for line in lines
        if line["event"] == "request_finished" and line["path"] == "/readyz"
    ]
    assert logged_ids == request_ids


def run_config_hooks(**env: str) -> str:
    """Load deploy/gunicorn.conf.py as gunicorn does, run its start and exit hooks, and return
    the metrics directory it chose. In a subprocess: loading it sets os.environ."""
    probe = (
        "import os, runpy\n"
        "config = runpy.run_path('deploy/gunicorn.conf.py')\n"
        "config['on_starting'](None)\n"
        "config['on_exit'](None)\n"
        "print(os.environ['PROMETHEUS_MULTIPROC_DIR'])\n"
    )
    result = subprocess.run(  # noqa: S603 - our own interpreter, fixed arguments
        [sys.executable, "-c", probe],
        cwd=PROJECT_ROOT,
        env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_a_given_metrics_directory_is_used_cleared_of_old_counts_and_kept(tmp_path: Path) -> None:
    directory = tmp_path / "metrics"
    directory.mkdir()
    (directory / "counter_1234.db").write_bytes(b"counts of a previous run")
    (directory / "README").write_text("not a metrics file")

    chosen = run_config_hooks(PROMETHEUS_MULTIPROC_DIR=str(directory))

    assert chosen == str(directory)
    assert [path.name for path in directory.iterdir()] == ["README"]


def test_without_a_given_directory_a_temporary_one_is_made_and_removed(tmp_path: Path) -> None:
    chosen = Path(run_config_hooks(TMPDIR=str(tmp_path)))

    assert chosen.parent == tmp_path
    assert chosen.name.startswith("bookstore-prometheus-")
    assert not chosen.exists()
