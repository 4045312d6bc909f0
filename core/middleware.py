"""Middleware for limits that must hold before any view or parser runs."""

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse


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
