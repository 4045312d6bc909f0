"""The wrk scripts against a small recording server: what they send and what they count.

Needs wrk: `make test` installs it (scripts/ensure-wrk.sh).
"""

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from stdnum import isbn as stdnum_isbn

from bench.wrk import Load, LoadShape, run_wrk
from harness.ports import free_port


class Recorder(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, port: int, status: int) -> None:
        super().__init__(("127.0.0.1", port), RecordingHandler)
        self.status = status
        self.seen: list[dict[str, Any]] = []
        self.lock = threading.Lock()


class RecordingHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: Recorder

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        with self.server.lock:
            self.server.seen.append(
                {
                    "method": self.command,
                    "path": self.path,
                    "headers": dict(self.headers),
                    "body": body,
                }
            )
        payload = b'{"ok": true}'
        self.send_response(self.server.status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        if self.server.status in (301, 302):
            self.send_header("Location", "/elsewhere/")
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = do_PATCH = _answer

    def log_message(self, format: str, *args: Any) -> None:
        pass


def serve(status: int) -> Iterator[tuple[str, Recorder]]:
    server = Recorder(free_port(set()), status)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", server
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def created() -> Iterator[tuple[str, Recorder]]:
    yield from serve(201)


@pytest.fixture
def redirected() -> Iterator[tuple[str, Recorder]]:
    yield from serve(302)


SHAPE = LoadShape(threads=2, connections=4, seconds=1, timeout_seconds=5)


def test_creates_send_valid_distinct_isbns_with_the_token(created: tuple[str, Recorder]) -> None:
    url, server = created
    load = Load("create", {"isbn_prefix": "417", "seed": "1"}, {"Authorization": "Token abc"})

    result = run_wrk(url, load, SHAPE)

    posts = [request for request in server.seen if request["method"] == "POST"]
    assert result.requests > 0
    assert result.errors == 0
    assert len(posts) >= result.requests
    isbns = [json.loads(request["body"])["isbn"] for request in posts]
    assert len(set(isbns)) == len(isbns)
    for isbn in isbns:
        assert isbn.startswith("979417"), isbn
        assert stdnum_isbn.is_valid(isbn), isbn
    for request in posts:
        assert request["path"] == "/books/"
        assert request["headers"]["Authorization"] == "Token abc"
        assert request["headers"]["Content-Type"] == "application/json"
        assert request["headers"]["Accept"] == "application/json"


def test_updates_patch_books_in_the_id_range(created: tuple[str, Recorder]) -> None:
    url, server = created

    run_wrk(url, Load("update", {"min_id": "5", "max_id": "9"}), SHAPE)

    patches = [request for request in server.seen if request["method"] == "PATCH"]
    assert patches
    assert {request["path"] for request in patches} <= {f"/books/{id_}/" for id_ in range(5, 10)}
    assert all(json.loads(request["body"])["summary"] for request in patches)


def test_redirects_count_as_errors(redirected: tuple[str, Recorder]) -> None:
    url, _ = redirected

    result = run_wrk(url, Load("detail", {"min_id": "1", "max_id": "3"}), SHAPE)

    assert result.requests > 0
    assert result.non2xx == result.requests
    assert result.statuses == {"302": result.requests}
    assert result.errors >= result.requests
