"""The production server (deploy/server.py, granian) against hostile clients, black-box
(issue 13): half-sent request heads do not take the threads that run Django (finding 5),
and a ``SCRIPT_NAME:`` request header does not change the script prefix (finding 3)."""

import json
import socket
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from web.tests.live_app import app_settings, manage, start_server, stop_server

#: deploy/server.py runs 1 worker x 4 threads here (live_app): more slow sockets than that.
SLOW_SOCKETS = 16
HEADER_TIMEOUT_MS = 1500
BOOKS = 3


@pytest.fixture(scope="module")
def server_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    work_dir: Path = tmp_path_factory.mktemp("server-limits")
    env = app_settings(work_dir)
    env["SERVER_HEADER_TIMEOUT_MS"] = str(HEADER_TIMEOUT_MS)
    manage(env, "migrate", "--noinput", "--verbosity", "0")
    manage(env, "seed_books", str(BOOKS))
    server = start_server(env, work_dir / "server.log")
    try:
        yield server.url
    finally:
        stop_server(server)


def _half_sent_head(url: str) -> socket.socket:
    parts = urlsplit(url)
    slow = socket.create_connection((parts.hostname, parts.port), timeout=10)
    slow.sendall(b"GET /books/ HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")  # never finished
    return slow


def test_a_request_is_answered_within_a_second_while_slow_heads_hold_more_sockets_than_threads(
    server_url: str,
) -> None:
    slow = [_half_sent_head(server_url) for _ in range(SLOW_SOCKETS)]
    try:
        time.sleep(0.3)  # the server has taken them all
        started = time.monotonic()
        with urllib.request.urlopen(f"{server_url}/healthz", timeout=5) as response:  # noqa: S310 - loopback
            assert response.status == 200
        assert time.monotonic() - started < 1.0
    finally:
        for connection in slow:
            connection.close()


def test_a_slow_head_is_cut_after_the_header_timeout(server_url: str) -> None:
    slow = _half_sent_head(server_url)
    started = time.monotonic()
    try:
        while slow.recv(65536):  # a 408 if the server sends one, then the close
            pass
        elapsed = time.monotonic() - started
    finally:
        slow.close()

    assert HEADER_TIMEOUT_MS / 1000 - 0.3 <= elapsed < HEADER_TIMEOUT_MS / 1000 + 2.0


def test_a_script_name_request_header_does_not_change_the_script_prefix(server_url: str) -> None:
    request = urllib.request.Request(  # noqa: S310 - loopback
        f"{server_url}/books/?page_size=1",
        headers={"SCRIPT_NAME": "/evil", "Script-Name": "/evil", "Accept": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310 - loopback
        page = json.load(response)

    assert urlsplit(page["next"]).path == "/books/"
