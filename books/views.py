"""The seed's BookViewSet, now thin: services write, selectors read, DRF does the rest."""

from typing import Any

from django.urls import reverse
from drf_spectacular.utils import OpenApiParameter, OpenApiTypes, extend_schema, extend_schema_view
from rest_framework import serializers, viewsets

from books import selectors, services
from books.filters import BookFilter
from books.models import Book
from books.pagination import BookCursorPagination
from books.serializers import BookSerializer

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

    def get_queryset(self) -> Any:
        return selectors.book_list()

    def filter_queryset(self, queryset: Any) -> Any:
        # Filters narrow the list only: a book's own URL finds it whatever the query string.
        if self.action == "list":
            return super().filter_queryset(queryset)
        return queryset

    def perform_create(self, serializer: serializers.BaseSerializer) -> None:
        serializer.instance = services.book_create(**serializer.validated_data)

    def perform_update(self, serializer: serializers.BaseSerializer) -> None:
        assert serializer.instance is not None
        serializer.instance = services.book_update(
            book=serializer.instance, **serializer.validated_data
        )

    def perform_destroy(self, instance: Book) -> None:
        services.book_delete(book=instance)

    def get_success_headers(self, data: Any) -> dict[str, str]:
        path = reverse("book-detail", kwargs={"pk": data["id"]})
        return {"Location": self.request.build_absolute_uri(path)}
