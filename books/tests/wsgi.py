"""Requests sent to a WSGI application as a server sends them, for the read cache's tests.

django.test.Client builds its requests past the WSGI entry point, so it never meets
books.hot_path; these helpers call the application with a real environ and collect what it
answers, as gunicorn would (the body is read to the end and the response closed).
"""

import io
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from wsgiref.util import setup_testing_defaults

from django.core.signals import request_finished, request_started
from django.db import close_old_connections

from books.hot_path import WSGIApp
from bookstore.wsgi import django_application


class CountingDjango:
    """Django's WSGI application, recording the path of each request that reaches it."""

    def __init__(self) -> None:
        self.paths: list[str] = []
        self._lock = threading.Lock()  # racing threads may call it at once

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        with self._lock:
            self.paths.append(environ["PATH_INFO"])
        return django_application(environ, start_response)

    @property
    def calls(self) -> int:
        return len(self.paths)


@dataclass(frozen=True)
class WSGIResponse:
    status: int
    headers: list[tuple[str, str]]
    body: bytes

    def header(self, name: str) -> str | None:
        """The value of header ``name`` (any case), or None; it must appear at most once."""
        values = [value for key, value in self.headers if key.lower() == name.lower()]
        assert len(values) <= 1, f"{name} sent {len(values)} times: {self.headers}"
        return values[0] if values else None

    def json(self) -> Any:
        return json.loads(self.body)

    def headers_without(self, *names: str) -> list[tuple[str, str]]:
        """The headers, sorted, leaving out ``names`` (those that differ between responses)."""
        left_out = {name.lower() for name in names}
        return sorted((key, value) for key, value in self.headers if key.lower() not in left_out)


def environ_for(
    method: str = "GET",
    path: str = "/books/",
    query: str = "",
    *,
    headers: dict[str, str | None] | None = None,
    body: bytes = b"",
    **extra: Any,
) -> dict[str, Any]:
    """A WSGI environ from 127.0.0.1 to Host ``localhost``, as a server builds one.

    ``headers`` by their HTTP names (None: leave the header out); ``extra``: environ keys.
    """
    environ: dict[str, Any] = {
        "REQUEST_METHOD": method,
        "PATH_INFO": path,
        "QUERY_STRING": query,
        "REMOTE_ADDR": "127.0.0.1",
        "HTTP_HOST": "localhost",
        "SERVER_NAME": "localhost",
        "wsgi.input": io.BytesIO(body),
    }
    if body:
        environ["CONTENT_LENGTH"] = str(len(body))
    environ.update(extra)
    setup_testing_defaults(environ)
    for name, value in (headers or {}).items():
        key = name.upper().replace("-", "_")
        key = key if key in ("CONTENT_TYPE", "CONTENT_LENGTH") else f"HTTP_{key}"
        if value is None:
            environ.pop(key, None)
        else:
            environ[key] = value
    return environ


def call(app: WSGIApp, environ: dict[str, Any]) -> WSGIResponse:
    """Send ``environ`` to ``app``; the whole response once it is complete."""
    started: dict[str, Any] = {}

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        started["status"], started["headers"] = status, list(headers)
        return lambda data: None

    result = app(environ, start_response)
    try:
        body = b"".join(result)
    finally:
        close = getattr(result, "close", None)
        if close is not None:
            close()
    return WSGIResponse(int(started["status"][:3]), started["headers"], body)


def request(
    app: WSGIApp, method: str = "GET", path: str = "/books/", **kwargs: Any
) -> WSGIResponse:
    """``call(app, environ_for(method, path, **kwargs))``."""
    return call(app, environ_for(method, path, **kwargs))


@contextmanager
def connections_kept_open() -> Iterator[None]:
    """Keep the test's database connection across requests, as django.test.Client does.

    Django's handler closes "old" connections when a request starts and finishes, which would
    close the one holding a test's transaction.
    """
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)
