"""The seed's BookViewSet, now thin: services write, selectors read, DRF does the rest."""

import builtins
from typing import Any

from django.conf import settings
from django.http import HttpResponseNotModified, StreamingHttpResponse
from django.urls import reverse
from drf_spectacular.utils import OpenApiParameter, OpenApiTypes, extend_schema, extend_schema_view
from rest_framework import serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.permissions import IsAuthenticated, IsAuthenticatedOrReadOnly
from rest_framework.request import Request
from rest_framework.response import Response

from books import exporting, list_query, selectors, services
from books.etags import book_etag, content_etag
from books.exporting import FORMATS, MEDIA_TYPES
from books.filters import BookFilter
from books.models import Book
from books.negotiation import BookContentNegotiation
from books.pagination import BookCursorPagination
from books.permissions import BookPermissions, book_actions_allowed
from books.renderers import CSVRenderer, ExportRenderer, JSONLinesRenderer
from books.schema import BOOK_OPERATIONS
from books.search import ranking
from books.serializers import BookSerializer
from books.throttling import WriteQuotaThrottle
from core.conditional import PreconditionFailed, if_match_passes, if_none_match_hits
from core.idempotency import idempotent
from core.renderers import JSONRenderer


class BookActionsSerializer(serializers.Serializer):  # type: ignore[type-arg]
    add = serializers.BooleanField(help_text="May create books.")
    change = serializers.BooleanField(help_text="May change books.")
    delete = serializers.BooleanField(help_text="May delete books.")


def refuse_unknown_parameters(request: Request) -> None:
    """A 400 for a query parameter the list does not know (the list's and the count's)."""
    unknown = list_query.unknown_parameters(request.query_params)
    if unknown:
        known = ", ".join(sorted(list_query.KNOWN_PARAMETERS))
        message = f"Unknown query parameter. The list takes: {known}."
        raise ValidationError({name: [message] for name in unknown})


class BookCountSerializer(serializers.Serializer):  # type: ignore[type-arg]
    count = serializers.IntegerField(
        help_text="The books the list has; when `exact` is false, at least this many."
    )
    exact = serializers.BooleanField(help_text="Whether `count` is the exact number.")
    estimate = serializers.IntegerField(
        allow_null=True,
        help_text="When `exact` is false: PostgreSQL's estimate of the total, or null.",
    )


@extend_schema_view(**BOOK_OPERATIONS)
class BookViewSet(viewsets.ModelViewSet):
    """The book catalogue. Reads are public; writes need a token and the model permission."""

    queryset = Book.objects.all()
    # IsAuthenticatedOrReadOnly first: the 401 for an anonymous write, and the schema's
    # "reads are public" (drf-spectacular recognises that class); then the model permission.
    permission_classes = [IsAuthenticatedOrReadOnly, BookPermissions]
    serializer_class = BookSerializer
    filterset_class = BookFilter
    pagination_class = BookCursorPagination
    content_negotiation_class = BookContentNegotiation  # ?format=csv: the export's URL
    lookup_value_regex = r"[0-9]+"
    conditional_requests = True  # ETag, If-Match and If-None-Match on a book's own URL

    def get_queryset(self) -> Any:
        return selectors.book_list()

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        refuse_unknown_parameters(request)
        return super().list(request, *args, **kwargs)

    def get_throttles(self) -> "builtins.list[Any]":
        return [*super().get_throttles(), WriteQuotaThrottle()]

    @extend_schema(
        summary="Which writes the caller may make",
        responses={200: BookActionsSerializer},
        description=(
            "Which writes the caller may make: `add`, `change` and `delete`, each true or "
            "false (all false without a token). The web page shows only those buttons."
        ),
    )
    @action(detail=False, methods=["get"], pagination_class=None, filterset_class=None)
    def permissions(self, request: Request) -> Response:
        response = Response(book_actions_allowed(request))
        response["Cache-Control"] = "private, no-store"
        return response

    @extend_schema(
        summary="Count the books a list has",
        description=(
            "How many books the list with the same filters and search has, without reading "
            f"them: exact up to {selectors.COUNT_LIMIT:,} (`exact` true); past that `count` is "
            f"{selectors.COUNT_LIMIT:,} and `exact` false (read it as "
            f"`{selectors.COUNT_LIMIT:,}+`), and on PostgreSQL `estimate` is the planner's "
            "guess of the total (null elsewhere). Takes the list's query parameters; "
            "`ordering`, `cursor` and `page_size` change nothing here. Throttled like the list."
        ),
        filters=True,
        responses={200: BookCountSerializer},
    )
    @action(detail=False, methods=["get"], pagination_class=None)
    def count(self, request: Request) -> Response:
        refuse_unknown_parameters(request)
        queryset = self.filter_queryset(self.get_queryset())
        with ranking.deadline(queryset.db):
            counted = selectors.book_count(queryset)
        return Response(BookCountSerializer(counted).data)

    def filter_queryset(self, queryset: Any) -> Any:
        # Filters narrow the list and the export: a book's own URL finds it whatever the
        # query string.
        if self.action not in ("list", "export", "count"):
            return queryset
        # django-filter builds and validates a form per request: skip it when no filter is
        # asked for (the common first page), as the list's profile showed (performance.md).
        if self.request.query_params.keys().isdisjoint(BookFilter.base_filters):
            return queryset
        queryset = super().filter_queryset(queryset)
        search = getattr(self.request, "book_search", None)
        if search is not None and not (
            self.action == "list" and BookCursorPagination.orders_by_relevance(self.request)
        ):
            queryset = ranking.matching(queryset, search)
        return queryset

    @extend_schema(
        summary="Export the catalogue as CSV or JSON Lines",
        filters=True,
        parameters=[
            OpenApiParameter("format", OpenApiTypes.STR, enum=FORMATS, description="Default: csv.")
        ],
        responses={
            (200, MEDIA_TYPES["csv"]): OpenApiTypes.STR,
            (200, MEDIA_TYPES["jsonl"]): OpenApiTypes.STR,
        },
        description=(
            "The whole catalogue (or the part the filters select), streamed as CSV or JSON "
            "Lines in id order. Needs a token."
        ),
    )
    @action(
        detail=False,
        methods=["get"],
        renderer_classes=[CSVRenderer, JSONLinesRenderer],
        permission_classes=[IsAuthenticated],
        pagination_class=None,
    )
    def export(self, request: Request) -> StreamingHttpResponse:
        fmt = request.accepted_renderer.format
        chunks = exporting.export_chunks(self.filter_queryset(self.get_queryset()), fmt)
        response = StreamingHttpResponse(chunks, content_type=f"{MEDIA_TYPES[fmt]}; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="books.{fmt}"'
        return response

    def perform_content_negotiation(self, request: Request, force: bool = False) -> Any:
        if self.action == "export":
            fmt = request.query_params.get("format")
            if fmt is not None and fmt not in FORMATS:
                raise ValidationError({"format": [f"Choose one of: {', '.join(FORMATS)}."]})
        return super().perform_content_negotiation(request, force)

    @idempotent
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        if isinstance(request.data, list):
            return self._bulk_create(request.data)
        return super().create(request, *args, **kwargs)

    def _bulk_create(self, items: "builtins.list[Any]") -> Response:
        """All or nothing: 201 with every new book, or 400 with the errors by item index."""
        serializer = self.get_serializer(
            data=items, many=True, allow_empty=False, max_length=settings.BULK_CREATE_MAX_ITEMS
        )
        if not serializer.is_valid():
            errors: Any = serializer.errors  # by item index, or non_field_errors for the list
            raise ValidationError(
                {
                    str(key): item if isinstance(item, dict) else {"non_field_errors": item}
                    for key, item in errors.items()
                }
                if all(isinstance(key, int) for key in errors)
                else errors
            )
        try:
            books = services.book_bulk_create(items=serializer.validated_data)
        except services.BulkValidationError as error:
            raise ValidationError(
                {str(index): item for index, item in error.errors.items()}
            ) from error
        return Response(self.get_serializer(books, many=True).data, status=status.HTTP_201_CREATED)

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
        # On the export's URL only the streamed body is CSV/JSON Lines: its errors (405, 406,
        # 400, 401...) and OPTIONS are JSON like everywhere else.
        export_url = all(issubclass(cls, ExportRenderer) for cls in self.renderer_classes)
        if export_url and isinstance(response, Response):
            request.accepted_renderer = JSONRenderer()
            request.accepted_media_type = JSONRenderer.media_type
        response = super().finalize_response(request, response, *args, **kwargs)
        if request.method in ("GET", "HEAD") and self.action in ("list", "retrieve"):
            # Any cache may keep a copy but must revalidate it (a 304 is cheap): after a write
            # no client may be served the old version.
            response["Cache-Control"] = "no-cache"
            if self.action == "list" and response.status_code == status.HTTP_200_OK:
                return self._list_validated(request, response)
        return response

    @staticmethod
    def _list_validated(request: Request, response: Response) -> Any:
        """A list page's ETag is a digest of its body; If-None-Match on it gives a 304."""
        response.render()
        etag = content_etag(response.content)
        response["ETag"] = etag
        if not if_none_match_hits(request.headers.get("If-None-Match"), etag):
            return response
        not_modified = HttpResponseNotModified()
        for header in ("ETag", "Cache-Control", "Vary"):
            if header in response:
                not_modified[header] = response[header]
        return not_modified

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
