"""The API's error shapes: DRF's, for every error a view can raise.

Also what the API answers while the database is unreachable: a 503 JSON with Retry-After,
fast, instead of a 500 (see docs/reliability.md).
"""

from typing import Any

import structlog
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import DatabaseError, InterfaceError, OperationalError, connections
from django.http import JsonResponse
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.serializers import as_serializer_error
from rest_framework.views import exception_handler, set_rollback

from core.replicas import routing

DATABASE_UNAVAILABLE_MESSAGE = "The database is unavailable; retry shortly."
#: Seconds a client should wait before retrying while the database is unavailable.
DATABASE_RETRY_AFTER_SECONDS = 1
# The 503's body and headers, whichever path (DRF's handler or the middleware) answers it.
_UNAVAILABLE_BODY = {"detail": DATABASE_UNAVAILABLE_MESSAGE}
_UNAVAILABLE_HEADERS = {"Retry-After": str(DATABASE_RETRY_AFTER_SECONDS)}

# PostgreSQL's SQLSTATEs for "no server to talk to": class 08 (connection exception), a
# server shutting down or starting up (57P01-57P03), no connection slot left (53300).
# Other OperationalErrors (a deadlock, a lock or statement timeout) are about one statement.
_UNAVAILABLE_SQLSTATE_CLASSES = ("08",)
_UNAVAILABLE_SQLSTATES = frozenset({"57P01", "57P02", "57P03", "53300"})
# SQLite's errors for a file that is locked for too long or cannot be opened.
_UNAVAILABLE_SQLITE_ERRORS = ("SQLITE_BUSY", "SQLITE_LOCKED", "SQLITE_CANTOPEN")
_NO_DRIVER_DETAIL = object()

logger = structlog.stdlib.get_logger(__name__)


def is_database_unavailable(error: BaseException) -> bool:
    """Whether ``error`` means the database cannot be reached, not that one statement failed.

    Django raises OperationalError for a refused or timed-out connection and for one the server
    closed, InterfaceError for using a connection that is already closed. PostgreSQL also
    reports a few statement errors as OperationalError; their SQLSTATE tells them apart.
    An IntegrityError or any other DatabaseError is never unavailability.
    """
    if isinstance(error, InterfaceError):
        return True
    if not isinstance(error, OperationalError):
        return False
    driver_error = error.__cause__  # Django re-raises the driver's error from the original
    sqlstate = getattr(driver_error, "sqlstate", _NO_DRIVER_DETAIL)
    if sqlstate is None:  # psycopg: failed on the client side (refused, timeout, closed)
        return True
    if isinstance(sqlstate, str):
        return sqlstate.startswith(_UNAVAILABLE_SQLSTATE_CLASSES) or (
            sqlstate in _UNAVAILABLE_SQLSTATES
        )
    sqlite_error = getattr(driver_error, "sqlite_errorname", None)
    if isinstance(sqlite_error, str):
        return sqlite_error.startswith(_UNAVAILABLE_SQLITE_ERRORS)
    return True  # no detail from a driver: the error's type is all there is to go by


def close_broken_connections() -> None:
    """Close the request thread's database connections, so the next request opens new ones.

    A connection inside a transaction block is left to the block: it is rolled back on the
    way out, and Django closes an unusable connection at the end of the request anyway.
    """
    for connection in connections.all(initialized_only=True):
        if connection.connection is None or connection.in_atomic_block:
            continue
        try:
            connection.close()
        except DatabaseError:
            connection.connection = None  # closing a dead connection may fail; drop it


def note_database_unavailable(error: BaseException) -> None:
    """Log the outage in one line (no traceback: there may be thousands) and drop the
    connection that saw it."""
    logger.warning("database_unavailable", error=type(error).__name__, message=str(error)[:300])
    # A replica's failure is answered again from the primary (core.replicas.middleware): say which.
    routing.note_failed_connections()
    close_broken_connections()


def database_unavailable_response() -> JsonResponse:
    """The 503 for requests outside DRF views (DRF's own is rendered by the view's renderer)."""
    return JsonResponse(
        _UNAVAILABLE_BODY, status=status.HTTP_503_SERVICE_UNAVAILABLE, headers=_UNAVAILABLE_HEADERS
    )


def api_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """DRF's handler, plus: Django's ValidationError (raised by the services) as DRF's 400 by
    field, and an unreachable database as a 503 with Retry-After."""
    if is_database_unavailable(exc):
        note_database_unavailable(exc)
        set_rollback()
        return Response(
            _UNAVAILABLE_BODY,
            status=status.HTTP_503_SERVICE_UNAVAILABLE,
            headers=_UNAVAILABLE_HEADERS,
        )
    if isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(detail=as_serializer_error(exc))
    return exception_handler(exc, context)
