"""nginx with the shipped config in front of stand-in API instances, all on loopback.

Ports come from harness/ports.py's PORT_RANGE (20000-32000): the ephemeral range (32768 up) is
the machine's, and a port the OS hands out there may be taken by a client socket before a
server binds it.
"""

import contextlib
import http.client
import json
import os
import random
import signal
import socket
import socketserver
import subprocess
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from deploy.nginx_config import nginx_command, write_nginx_config
from harness.ports import PORT_RANGE, free_port

DEADLINE_SECONDS = 5.0


@dataclass(frozen=True)
class SeenRequest:
    """A request as an instance received it."""

    connection: tuple[str, int]
    method: str
    path: str
    version: str
    headers: dict[str, str]
    body_length: int


@dataclass
class Upstream:
    """A stand-in instance: a server on a loopback port that records what reaches it."""

    server: socketserver.TCPServer
    seen: list[SeenRequest] = field(default_factory=list)

    @property
    def address(self) -> str:
        host, port = self.server.server_address[:2]
        return f"{host!s}:{port}"

    def request_ids(self) -> list[str]:
        return [request.headers.get("x-request-id", "") for request in self.seen]

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class _AnsweringHandler(BaseHTTPRequestHandler):
    """200 with the method it got, on a kept-alive HTTP/1.1 connection."""

    protocol_version = "HTTP/1.1"
    timeout = DEADLINE_SECONDS
    upstream: Upstream

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        received = 0
        while received < length:
            chunk = self.rfile.read(min(length - received, 1 << 16))
            if not chunk:
                break
            received += len(chunk)
        self.upstream.seen.append(
            SeenRequest(
                connection=self.client_address[:2],
                method=self.command,
                path=self.path,
                version=self.request_version,
                headers={name.lower(): value for name, value in self.headers.items()},
                body_length=received,
            )
        )
        body = json.dumps({"method": self.command}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("X-Request-ID", "the-instance-would-echo-this")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = _answer

    def log_message(self, format: str, *args: Any) -> None:
        pass


class _ClosingHandler(socketserver.StreamRequestHandler):
    """Reads the whole request, then closes the connection without a word: an instance that
    died while serving it."""

    timeout = DEADLINE_SECONDS
    upstream: Upstream

    def handle(self) -> None:
        request_line = self.rfile.readline().decode("latin-1").split()
        headers: dict[str, str] = {}
        while (line := self.rfile.readline().decode("latin-1").strip()) != "":
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        length = int(headers.get("content-length", "0"))
        self.rfile.read(length)
        self.upstream.seen.append(
            SeenRequest(
                connection=self.client_address[:2],
                method=request_line[0],
                path=request_line[1],
                version=request_line[2],
                headers=headers,
                body_length=length,
            )
        )
        self.connection.shutdown(socket.SHUT_RDWR)


def start_upstream(*, answering: bool) -> Upstream:
    """An instance that answers every request (``answering``) or fails every one."""
    base = _AnsweringHandler if answering else _ClosingHandler
    server_class: type[socketserver.TCPServer] = (
        ThreadingHTTPServer if answering else socketserver.ThreadingTCPServer
    )
    for port in random.sample(PORT_RANGE, 50):
        server = server_class(("127.0.0.1", port), base, bind_and_activate=False)
        server.daemon_threads = True  # type: ignore[attr-defined]
        try:
            server.server_bind()
            server.server_activate()
        except OSError:
            server.server_close()
            continue
        upstream = Upstream(server)
        # Each upstream gets its own handler class, so handlers know whom to record into.
        server.RequestHandlerClass = type(base.__name__, (base,), {"upstream": upstream})
        threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
        return upstream
    raise RuntimeError("no free port for an upstream in 20000-32000")


@dataclass
class Proxy:
    """A running nginx with the shipped config; its access log is the JSON lines it wrote."""

    process: subprocess.Popen[bytes]
    port: int
    directory: Path

    @property
    def access_log(self) -> Path:
        return self.directory / "access.log"

    @property
    def error_log(self) -> Path:
        return self.directory / "error.log"

    def connection(self) -> http.client.HTTPConnection:
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=DEADLINE_SECONDS)

    def log_line(self, request_id: str) -> dict[str, str]:
        """The access log's line for ``request_id``, waiting for nginx to write it."""
        deadline = time.monotonic() + DEADLINE_SECONDS
        while time.monotonic() < deadline:
            for line in self.access_log.read_text().splitlines():
                entry: dict[str, str] = json.loads(line)
                if entry["request_id"] == request_id:
                    return entry
            time.sleep(0.02)
        raise AssertionError(f"no access log line for {request_id} in {self.access_log}")

    def stop(self) -> None:
        """Graceful quit (nginx -s quit), then fast shutdown, then kill the whole group."""
        for stop_signal in (signal.SIGQUIT, signal.SIGTERM):
            if self.process.poll() is not None:
                return
            self.process.send_signal(stop_signal)
            try:
                self.process.wait(timeout=DEADLINE_SECONDS)
                return
            except subprocess.TimeoutExpired:
                continue
        # The master did not exit: kill it and its workers (its own process group).
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=DEADLINE_SECONDS)


def start_proxy(directory: Path, upstreams: list[Upstream]) -> Proxy:
    """nginx on a free loopback port, in front of ``upstreams`` in this order."""
    for _ in range(20):
        port = free_port()
        config = write_nginx_config(
            directory, listen=f"127.0.0.1:{port}", upstreams=[u.address for u in upstreams]
        )
        with (
            (directory / "access.log").open("wb") as stdout,
            (directory / "error.log").open("wb") as stderr,
        ):
            process = subprocess.Popen(  # noqa: S603 - nginx and a config of ours
                nginx_command(config), stdout=stdout, stderr=stderr, start_new_session=True
            )
        proxy = Proxy(process, port, directory)
        if _wait_until_listening(proxy):
            return proxy
        proxy.stop()
        if b"Address already in use" not in proxy.error_log.read_bytes():
            raise RuntimeError(f"nginx did not start: {proxy.error_log.read_text()}")
    raise RuntimeError("no free port for nginx in 20000-32000")


def _wait_until_listening(proxy: Proxy) -> bool:
    deadline = time.monotonic() + DEADLINE_SECONDS
    while time.monotonic() < deadline:
        if proxy.process.poll() is not None:
            return False
        try:
            with socket.create_connection(("127.0.0.1", proxy.port), timeout=0.5):
                return True
        except OSError:
            time.sleep(0.02)
    return False
