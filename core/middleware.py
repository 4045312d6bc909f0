"""Middleware for limits that must hold before any view or parser runs, and for errors that
must be answered the same way by every view."""

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse

from core.exceptions import (
    database_unavailable_response,
    is_database_unavailable,
    note_database_unavailable,
)


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
