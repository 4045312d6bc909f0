"""Under granian (deploy/server.py) with several workers, /metrics adds up the counts of every
worker, those that have exited included, and every log line is JSON, granian's own too.

The server runs as production runs it: production settings, DEBUG off, no
PROMETHEUS_MULTIPROC_DIR given (deploy.server makes a temporary one and removes it at exit).
Halfway through, every worker is replaced (SIGHUP: granian's graceful reload), so the requests
are served by more processes than are alive when /metrics is read: a per-process count could
not add up. /readyz needs no tables, so the SQLite database is not migrated.
"""

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from email.message import Message
from pathlib import Path

import pytest

import deploy.server
from core.tests.conftest import parse_samples, sample
from harness.ports import free_port

PROJECT_ROOT = Path(__file__).resolve().parents[2]
WORKERS = 2
REQUESTS = 12  # half before the reload, half after: by at least 2 x WORKERS processes
STARTUP_SECONDS = 60
REQUEST_SECONDS = 30


def _lowercase(headers: Message) -> dict[str, str]:
    """Header names are case-insensitive (granian sends them in lower case)."""
    return {name.lower(): value for name, value in headers.items()}


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
                return response.status, _lowercase(response.headers), response.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, _lowercase(error.headers), error.read().decode()

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

    def reload_workers(self) -> None:
        """SIGHUP: granian starts a new worker for each and stops the old one; wait for all."""
        self.process.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + STARTUP_SECONDS
        while time.monotonic() < deadline:
            events = [json.loads(line).get("event", "") for line in self.log_lines()]
            stopped = sum(event.startswith("Stopped old worker") for event in events)
            started = sum(event.startswith("Started worker") for event in events)
            if stopped == WORKERS and started == 2 * WORKERS:
                return
            time.sleep(0.2)
        pytest.fail(f"the workers were not replaced:\n{self.log.read_text()}")


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    port = free_port()
    temporary_directory = tmp_path / "tmp"
    temporary_directory.mkdir()
    log = tmp_path / "server.log"
    environment = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "DJANGO_SETTINGS_MODULE": "bookstore.settings",
        "SECRET_KEY": "multiprocess-metrics-test-only-key-0123456789-abcdefghijklmnop",
        "DEBUG": "0",
        "LOG_FORMAT": "",  # the default; a developer's .env must not choose it
        "DATABASE_URL": f"sqlite:///{tmp_path / 'm.sqlite3'}",
        "REDIS_URL": "",
        "ALLOWED_HOSTS": "127.0.0.1",
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "WEB_CONCURRENCY": str(WORKERS),
        "SERVER_THREADS": "2",
        "TMPDIR": str(temporary_directory),
    }
    with log.open("wb") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "deploy.server"],
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
            pytest.fail(f"the server exited at startup:\n{server.log.read_text()}")
        try:
            if server.get("/healthz")[0] == 200:
                return
        except OSError:
            pass  # not listening yet
        time.sleep(0.2)
    pytest.fail(f"the server did not answer within {STARTUP_SECONDS}s:\n{server.log.read_text()}")


def test_metrics_add_up_every_worker_and_logs_are_json(server: Server) -> None:
    request_ids = [f"multi-{number}" for number in range(REQUESTS)]
    for number, request_id in enumerate(request_ids):
        if number == REQUESTS // 2:
            server.reload_workers()
        status, headers, _ = server.get("/readyz", request_id)
        assert status == 200
        assert headers["x-request-id"] == request_id

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
    # The counts above came from more processes than the two alive now (the old workers' files
    # stay; each worker makes its own at start).
    (directory,) = server.metrics_directories()
    assert len(list(directory.glob("counter_*.db"))) > WORKERS

    server.stop()

    assert server.process.returncode == 0
    assert server.metrics_directories() == []  # the temporary directory is removed at exit
    lines = [json.loads(line) for line in server.log_lines()]  # every line is JSON
    assert any(line["logger"] == "_granian" for line in lines)
    logged_ids = [
        line["request_id"]
        for line in lines
        if line["event"] == "request_finished" and line["path"] == "/readyz"
    ]
    assert logged_ids == request_ids


class RecordingServer:
    """Stands in for granian's Server: notes the metrics directory while it "serves"."""

    def __init__(self, fail: bool = False) -> None:
        self.fail = fail
        self.directory: Path | None = None

    def serve(self) -> None:
        self.directory = Path(os.environ["PROMETHEUS_MULTIPROC_DIR"])
        assert self.directory.is_dir()
        if self.fail:
            raise RuntimeError("the server failed")


@pytest.fixture
def recording_server(monkeypatch: pytest.MonkeyPatch) -> RecordingServer:
    """deploy.server.main() runs this instead of granian; the environment is restored after."""
    recording = RecordingServer()
    monkeypatch.setattr(deploy.server, "build_server", lambda application: recording)
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", "")  # restored (or removed) after the test
    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR")
    return recording


def test_a_given_metrics_directory_is_used_cleared_of_old_counts_and_kept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, recording_server: RecordingServer
) -> None:
    directory = tmp_path / "metrics"
    directory.mkdir()
    (directory / "counter_1234.db").write_bytes(b"counts of a previous run")
    (directory / "README").write_text("not a metrics file")
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(directory))

    assert deploy.server.metrics_directory() == (directory, False)
    assert [path.name for path in directory.iterdir()] == ["README"]

    deploy.server.main([])

    assert recording_server.directory == directory
    assert directory.is_dir()  # kept at exit


def test_without_a_given_directory_a_temporary_one_is_made_and_removed_at_exit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, recording_server: RecordingServer
) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))

    deploy.server.main([])

    chosen = recording_server.directory
    assert chosen is not None
    assert chosen.parent == tmp_path
    assert chosen.name.startswith(deploy.server.METRICS_DIRECTORY_PREFIX)
    assert not chosen.exists()


def test_the_temporary_directory_is_removed_when_the_server_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, recording_server: RecordingServer
) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    recording_server.fail = True

    with pytest.raises(RuntimeError):
        deploy.server.main([])

    assert recording_server.directory is not None
    assert not recording_server.directory.exists()
