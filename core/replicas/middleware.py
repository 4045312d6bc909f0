"""The read-routing middleware: each request gets its read scope, a user who wrote reads from
the primary, and a read whose replica failed is answered again from the primary."""

from collections.abc import Callable

import structlog
from django.db import DatabaseError
from django.http import HttpRequest, HttpResponse

from core.exceptions import is_database_unavailable
from core.replicas import routing
from core.replicas.health import get_replica_health, replica_aliases

logger = structlog.stdlib.get_logger(__name__)

#: Methods that write nothing: their reads may go to a replica.
READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class ReadRoutingMiddleware:
    """Give each request its read scope for core.replicas.routing, and keep its two promises.

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
        primary = not reads_only or bool(request.META.get(routing.READ_FROM_PRIMARY_ENVIRON_KEY))
        with routing.read_scope(primary=primary, request=request) as scope:
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
                routing.note_write(user.pk)
        return response

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if request.method not in READ_METHODS or not _replica_may_answer_again(exception):
            return None
        routing.note_failed_connections()
        scope = routing.current_scope()
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
