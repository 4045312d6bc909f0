"""The ceiling: a bare WSGI app that answers every request with the same 300-byte JSON body.

Served by our production server with our settings (harness/app.py), it measures what the
server, the loopback and the load generator alone allow: no framework, database or cache.
"""

from collections.abc import Callable, Iterable
from typing import Any

BODY_BYTES = 300


def _body() -> bytes:
    head = b'{"id": 1, "title": "The ceiling", "summary": "'
    tail = b'"}'
    return head + b"x" * (BODY_BYTES - len(head) - len(tail)) + tail


BODY = _body()
HEADERS = [("Content-Type", "application/json"), ("Content-Length", str(len(BODY)))]


def application(
    environ: dict[str, Any], start_response: Callable[[str, list[tuple[str, str]]], Any]
) -> Iterable[bytes]:
    start_response("200 OK", HEADERS)
    return [BODY]
