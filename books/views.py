"""The seed's BookViewSet, now thin: services write, selectors read, DRF does the rest."""

from typing import Any

from django.urls import reverse
from drf_spectacular.utils import OpenApiParameter, OpenApiTypes, extend_schema, extend_schema_view
from rest_framework import serializers, status, viewsets
from rest_framework.exceptions import NotFound
from rest_framework.request import Request
from rest_framework.response import Response

from books import selectors, services
from books.filters import BookFilter
from books.models import Book
from books.pagination import BookCursorPagination
from books.serializers import BookSerializer
from core.conditional import PreconditionFailed, if_match_passes, if_none_match_hits


def book_etag(book: Book) -> str:
    """A strong validator of the stored version: it changes with every write."""
    return f'"{book.pk}-{book.version}"'


_LOCATION = OpenApiParameter(
    "Location",
    OpenApiTypes.URI,
    OpenApiParameter.HEADER,
    response=[201],
    description="URL of the new book.",
)


@extend_schema_view(create=extend_schema(parameters=[_LOCATION]))
class BookViewSet(viewsets.ModelViewSet):
    """The book catalogue. Reads are public; writes need a token."""

    queryset = Book.objects.all()
    serializer_class = BookSerializer
    filterset_class = BookFilter
    pagination_class = BookCursorPagination
    lookup_value_regex = r"[0-9]+"
    conditional_requests = True  # ETag, If-Match and If-None-Match on a book's own URL

    def get_queryset(self) -> Any:
        return selectors.book_list()

    def filter_queryset(self, queryset: Any) -> Any:
        # Filters narrow the list only: a book's own URL finds it whatever the query string.
        if self.action == "list":
            return super().filter_queryset(queryset)
        return queryset

    def retrieve(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        book = self.get_object()
        etag = book_etag(book)
        if if_none_match_hits(request.headers.get("If-None-Match"), etag):
            return Response(status=status.HTTP_304_NOT_MODIFIED, headers={"ETag": etag})
        return Response(self.get_serializer(book).data, headers={"ETag": etag})

    def finalize_response(self, request: Request, response: Any, *args: Any, **kwargs: Any) -> Any:
        # Writes answer with the new version's tag, so a client can chain If-Match.
        book = getattr(self, "_written", None)
        if book is not None and response.status_code < 300:
            response["ETag"] = book_etag(book)
        return super().finalize_response(request, response, *args, **kwargs)

    def _expected_version(self, book: Book) -> int | None:
        """The version an If-Match header pins the write to (None: no precondition)."""
        header = self.request.headers.get("If-Match")
        if header is None:
            return None
        if not if_match_passes(header, book_etag(book)):
            raise PreconditionFailed()
        return book.version

    def perform_create(self, serializer: serializers.BaseSerializer) -> None:
        serializer.instance = self._written = services.book_create(**serializer.validated_data)

    def perform_update(self, serializer: serializers.BaseSerializer) -> None:
        assert serializer.instance is not None
        book = serializer.instance
        try:
            serializer.instance = self._written = services.book_update(
                book=book,
                expected_version=self._expected_version(book),
                **serializer.validated_data,
            )
        except services.VersionConflict as error:
            raise PreconditionFailed() from error
        except Book.DoesNotExist as error:
            raise NotFound() from error

    def perform_destroy(self, instance: Book) -> None:
        try:
            services.book_delete(book=instance, expected_version=self._expected_version(instance))
        except services.VersionConflict as error:
            raise PreconditionFailed() from error

    def get_success_headers(self, data: Any) -> dict[str, str]:
        path = reverse("book-detail", kwargs={"pk": data["id"]})
        return {"Location": self.request.build_absolute_uri(path)}
