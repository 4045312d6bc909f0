"""Request ids and the access log: every request gets an id, every log line written while it
is served carries it, and one line per request says how it went.

The access line is written by `log_request_finished`, for Django's requests and for the reads
books.hot_path answers from the cache alike, so both paths log the same fields and labels.
"""

import re
import time
import uuid
from collections.abc import Callable
from typing import Any

import structlog
from django.conf import settings
from django.core.signals import request_finished
from django.http import HttpRequest, HttpResponse
from django.urls import ResolverMatch
from django.utils.functional import LazyObject, empty

REQUEST_ID_HEADER = "X-Request-ID"
# A client's id is kept only if it cannot smuggle anything into a log line or a header.
_SAFE_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,128}")

logger = structlog.stdlib.get_logger(__name__)


def request_id_from(request: HttpRequest) -> str:
    """The client's X-Request-ID if it is safe to repeat, otherwise a new random one."""
    return safe_request_id(request.headers.get(REQUEST_ID_HEADER, ""))


def safe_request_id(given: str) -> str:
    """``given`` (a client's X-Request-ID) if it is safe to repeat, otherwise a new one."""
    if _SAFE_REQUEST_ID.fullmatch(given):
        return given
    return uuid.uuid4().hex


class RequestIdMiddleware:
    """Give the request an id, log with it, echo it in X-Request-ID, write the access line.

    Goes first in MIDDLEWARE, so that lines written by every other middleware (a 413 from the
    body limit included) carry the id and the access line's duration covers all of them.
    Writes a `slow_request` warning too when the request took longer than SLOW_REQUEST_MS.

    The id stays bound until Django's request_finished signal, not just until this middleware
    returns: Django logs a 4xx or 5xx response ("Not Found: /path") after the whole middleware
    chain, and that line belongs to the request too.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        request_finished.connect(_unbind_request, dispatch_uid=__name__)

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request_id = request_id_from(request)
        # A worker thread serves one request after another: start from nothing each time.
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(request_id=request_id)
        started = time.perf_counter()
        response = self.get_response(request)
        duration_ms = (time.perf_counter() - started) * 1000
        response[REQUEST_ID_HEADER] = request_id
        self._log(request, response, duration_ms)
        return response

    def _log(self, request: HttpRequest, response: HttpResponse, duration_ms: float) -> None:
        log_request_finished(
            method=request.method,
            path=request.path,
            match=request.resolver_match,
            status=response.status_code,
            duration_ms=duration_ms,
            user_id=_user_id(request),
        )


def log_request_finished(
    *,
    method: str | None,
    path: str,
    match: ResolverMatch | None,
    status: int,
    duration_ms: float,
    user_id: object,
    **extra: object,
) -> None:
    """Write a request's access line, and a `slow_request` warning above SLOW_REQUEST_MS.

    ``match`` is the URL resolver's answer for the path (None: no route matched): its pattern
    and view name label the line. ``extra`` adds fields (books.hot_path: ``read_cache`` and
    the ``request_id``, which it does not bind to the context).
    """
    fields = {
        "method": method,
        "path": path,  # without the query string, which may carry what a log must not
        "route": match.route if match else None,
        "view": match.view_name if match else None,
        "status": status,
        "duration_ms": round(duration_ms, 2),
        "user_id": user_id,
        **extra,
    }
    logger.info("request_finished", **fields)
    threshold_ms = settings.SLOW_REQUEST_MS
    if duration_ms > threshold_ms:
        logger.warning("slow_request", threshold_ms=threshold_ms, **fields)


def _unbind_request(sender: Any, **kwargs: Any) -> None:
    """request_finished receiver: the server has sent the response; the request is over."""
    structlog.contextvars.clear_contextvars()


def _user_id(request: HttpRequest) -> object:
    """The signed-in user's primary key, or None; never looked up just to be logged."""
    user = getattr(request, "user", None)
    # AuthenticationMiddleware's lazy user costs a session query the first time it is read;
    # a request whose view never needed the user has no user id worth that query.
    if user is None or (isinstance(user, LazyObject) and user._wrapped is empty):
        return None
    return user.pk if user.is_authenticated else None
