"""Middleware for limits that must hold before any view or parser runs, and for errors that
must be answered the same way by every view."""

from collections.abc import Callable

import structlog
from django.conf import settings
from django.db import DatabaseError
from django.http import HttpRequest, HttpResponse, JsonResponse

from core import db_routing
from core.exceptions import (
    database_unavailable_response,
    is_database_unavailable,
    note_database_unavailable,
)
from core.replica_health import get_replica_health, replica_aliases

logger = structlog.stdlib.get_logger(__name__)

#: Methods that write nothing: their reads may go to a replica.
READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class RequestBodyLimitMiddleware:
    """Refuse a body larger than REQUEST_BODY_MAX_BYTES with a 413, unread.

    DRF's parsers read the request stream directly, so Django's
    DATA_UPLOAD_MAX_MEMORY_SIZE does not protect them.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self.limit = settings.REQUEST_BODY_MAX_BYTES

    def __call__(self, request: HttpRequest) -> HttpResponse:
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            return JsonResponse({"detail": "Invalid Content-Length header."}, status=400)
        if length > self.limit:
            return JsonResponse(
                {"detail": f"Request body is too large: the limit is {self.limit} bytes."},
                status=413,
            )
        return self.get_response(request)


class DatabaseUnavailableMiddleware:
    """Answer a view's "database unreachable" error with a 503 JSON and Retry-After, as the
    API's exception handler does for DRF views: the admin and the web pages included.

    Placed just above core.metrics.RequestMetricsMiddleware, so the exception is still
    counted by type before it becomes a response.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not is_database_unavailable(exception):
            return None  # Django's handling, and handler500 for a crash
        note_database_unavailable(exception)
        return database_unavailable_response()


class ReadRoutingMiddleware:
    """Give each request its read scope for core.db_routing, and keep its two promises.

    - Read-your-writes: after a request that may have written (any other method) by a
      signed-in user, that user's reads go to the primary for READ_YOUR_WRITES_SECONDS.
    - No failed read for a failed replica: a read request whose replica failed is marked down
      and the request answered again from the primary. Only reads are answered twice: they
      change nothing.

    Last in MIDDLEWARE, so the access log and the response metrics see only the answer the
    client gets (django-prometheus's per-view request counter sees both passes). Does nothing
    when no replica is configured.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not replica_aliases():
            return self.get_response(request)
        reads_only = request.method in READ_METHODS
        primary = not reads_only or bool(request.META.get(db_routing.READ_FROM_PRIMARY_ENVIRON_KEY))
        with db_routing.read_scope(primary=primary, request=request) as scope:
            response = self.get_response(request)
            if scope.replicas_failed and reads_only:
                failed = sorted(scope.replicas_failed)
                for alias in failed:
                    get_replica_health().mark_down(alias)
                logger.info("read_retried_on_primary", replicas=failed)
                scope.answer_again_from_primary()
                response = self.get_response(request)
        if not reads_only:
            user = getattr(request, "user", None)
            if user is not None and user.is_authenticated:
                db_routing.note_write(user.pk)
        return response

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if request.method not in READ_METHODS or not _replica_may_answer_again(exception):
            return None
        db_routing.note_failed_connections()
        scope = db_routing.current_scope()
        if scope is None or not scope.replicas_failed:
            return None  # the primary's failure (or the second answer's): handled as any other
        # A stand-in, never sent: __call__ answers the request again from the primary.
        return HttpResponse(status=503)


def _replica_may_answer_again(error: Exception) -> bool:
    """An error that another server may not give: the replica is unreachable, or a replica's
    query was cancelled by replay (SQLSTATE 40001). A statement that is wrong or too slow
    would fail on the primary too, and costs the replica nothing."""
    if not isinstance(error, DatabaseError):
        return False
    sqlstate = getattr(error.__cause__, "sqlstate", None)
    return sqlstate == "40001" or is_database_unavailable(error)
