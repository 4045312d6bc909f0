"""Content negotiation for the books resource: a format only the export has is pointed there.

DRF answers a ``?format=`` (or ``.csv`` suffix) no renderer of the view has with a bare 404
"Not found.", which tells a client that asked the list for CSV nothing. The export
(/books/export/) streams the same books as CSV or JSON Lines, so for those formats the 404
says so and carries the export's URL, with the list's filters kept.
"""

from typing import Any
from urllib.parse import urlencode

from django.http import Http404
from django.urls import reverse
from rest_framework.exceptions import NotFound
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.request import Request

from books.exporting import FORMATS
from books.filters import BookFilter


def export_url(request: Request, fmt: str) -> str:
    """The export's absolute URL in ``fmt``, with the filters of ``request`` (the list's, which
    the export takes too); paging and ordering are the list's own and are left out."""
    params = [("format", fmt)] + [
        (name, value)
        for name, values in request.query_params.lists()
        if name in BookFilter.base_filters
        for value in values
    ]
    return request.build_absolute_uri(f"{reverse('book-export')}?{urlencode(params)}")


class FormatOnlyInExport(NotFound):
    """A 404 whose body names the export: ``{"detail": ..., "export": <URL>}``."""

    def __init__(self, request: Request, fmt: str) -> None:
        url = export_url(request, fmt)
        detail = (
            f"The books are not served as {fmt} here: GET {url} streams them as {fmt}, "
            "filtered alike (it needs a token)."
        )
        super().__init__({"detail": detail, "export": url})


class BookContentNegotiation(DefaultContentNegotiation):
    def select_renderer(
        self, request: Request, renderers: Any, format_suffix: str | None = None
    ) -> Any:
        try:
            return super().select_renderer(request, renderers, format_suffix)
        except Http404:
            fmt = format_suffix or request.query_params.get(self.settings.URL_FORMAT_OVERRIDE)
            if fmt in FORMATS:
                raise FormatOnlyInExport(request, fmt) from None
            raise
