"""The book operations' OpenAPI description, where drf-spectacular cannot infer it.

A summary and a description per operation, ``id`` as an integer, and the two bodies of
``POST /books/`` (one book, or a batch) as named schemas, so that a generated client offers
``BookRequest | list[BookRequest]`` in and ``Book | list[Book]`` out (core/tests/
test_generated_client.py proves it with openapi-python-client). The error responses and the
headers every operation shares are core.schema's.
"""

from typing import Any

from django.conf import settings
from drf_spectacular.extensions import OpenApiSerializerExtension
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    OpenApiTypes,
    PolymorphicProxySerializer,
    extend_schema,
)
from rest_framework import serializers

from books.exporting import FORMATS
from books.pagination import BookCursorPagination
from books.serializers import BookSerializer


class BookBatchSerializer(serializers.Serializer):  # type: ignore[type-arg]
    """For the schema only: a batch of books, a JSON array (the view reads it with many=True).

    A serializer of its own, not ``BookSerializer(many=True)``, so the array is a named
    component (``BookBatch``, ``BookBatchRequest``) rather than an inline schema.
    """


class BookBatchSchema(OpenApiSerializerExtension):  # type: ignore[no-untyped-call]
    target_class = BookBatchSerializer

    def get_name(self, auto_schema: Any, direction: Any) -> str:
        return "BookBatch"  # drf-spectacular adds "Request" for the request's

    def map_serializer(self, auto_schema: Any, direction: Any) -> dict[str, Any]:
        book = auto_schema.resolve_serializer(BookSerializer, direction)
        return {
            "type": "array",
            "items": book.ref,
            "minItems": 1,
            "maxItems": settings.BULK_CREATE_MAX_ITEMS,
            "description": (
                "Books in the order they were sent; all are stored, or none."
                if direction == "response"
                else "Books to create together: all are stored, or none."
            ),
        }


_ONE_OR_MANY = PolymorphicProxySerializer(
    component_name="BookOrBooks",
    serializers=[BookSerializer, BookBatchSerializer],
    resource_type_field_name=None,
    many=False,
)

_LOCATION = OpenApiParameter(
    "Location",
    OpenApiTypes.URI,
    OpenApiParameter.HEADER,
    response=[201],
    description="URL of the new book (a single book only).",
)


class FormatNotServedSerializer(serializers.Serializer):  # type: ignore[type-arg]
    """A format the list does not serve: `detail` says so, and where the books are in it."""

    detail = serializers.CharField()
    export = serializers.URLField(
        required=False,
        help_text="The export's URL in the format asked for, with the same filters.",
    )


# No enum: DRF reads an empty value as none (JSON) and `api` as its browsable page, both 200s.
_LIST_FORMAT = OpenApiParameter(
    "format",
    OpenApiTypes.STR,
    description=(
        "`json`, the default (also when empty; `api` is the browsable page). The list is JSON "
        "only: "
        + " and ".join(f"`{fmt}`" for fmt in FORMATS)
        + " are the export's (`GET /books/export/`), and asking the list for them is a 404 "
        "whose `export` is that URL."
    ),
)

_BOOK_ID = OpenApiParameter(
    "id",
    OpenApiTypes.INT,
    OpenApiParameter.PATH,
    description="The book's id, as in its `id` field.",
)

_CONDITIONAL_WRITE = (
    " Send the `ETag` of the version you read as `If-Match` and the write happens only if "
    "nobody changed the book since; otherwise 412 and nothing changes. The answer's `ETag` "
    "is the new version's."
)

#: extend_schema_view's keyword arguments for BookViewSet.
BOOK_OPERATIONS = {
    "list": extend_schema(
        summary="List books, a page at a time",
        parameters=[_LIST_FORMAT],
        responses={
            200: BookSerializer(many=True),  # in the paginator's envelope
            404: OpenApiResponse(
                FormatNotServedSerializer,
                description="A `format` the list does not serve; `export` says where it is.",
            ),
        },
        description=(
            f"Books, {BookCursorPagination.page_size} a page by default (`page_size`, up to "
            f"{BookCursorPagination.max_page_size}). Follow `next` until it is null to read "
            "them all: each book comes once, even while others are added. The filters narrow "
            "the list; `search` ranks it by relevance unless `ordering` is given. Each page has "
            "an `ETag`: send it as `If-None-Match` to get a 304 while the page is unchanged."
        ),
    ),
    "create": extend_schema(
        summary="Create a book, or a batch of books",
        parameters=[_LOCATION],
        request=_ONE_OR_MANY,
        responses={201: _ONE_OR_MANY},
        description=(
            "Send one book (a `BookRequest` object) and get it back (a `Book`) with its "
            "`Location` and `ETag`; or send a batch (a `BookBatchRequest`, an array of 1 to "
            f"{settings.BULK_CREATE_MAX_ITEMS:,}) and get an array of `Book` in the same order "
            "(no `Location` or `ETag`). A batch is all or nothing: if any item is invalid "
            "nothing is stored and the 400 maps each invalid item's index to its field "
            'errors, e.g. `{"3": {"isbn": ["..."]}}`. With an `Idempotency-Key`, a retry '
            "gets the first answer again instead of creating the books twice."
        ),
    ),
    "retrieve": extend_schema(
        summary="Read a book",
        parameters=[_BOOK_ID],
        description=(
            "One book, with its version as `ETag`: send it as `If-None-Match` to get a 304 "
            "while the book is unchanged, or as `If-Match` to update or delete it safely."
        ),
    ),
    "update": extend_schema(
        summary="Replace a book",
        parameters=[_BOOK_ID],
        description="Send the book as for a create: every required field." + _CONDITIONAL_WRITE,
    ),
    "partial_update": extend_schema(
        summary="Change some of a book's fields",
        parameters=[_BOOK_ID],
        description="Only the fields sent change." + _CONDITIONAL_WRITE,
    ),
    "destroy": extend_schema(
        summary="Delete a book",
        parameters=[_BOOK_ID],
        description=(
            "With `If-Match`, only if the book is still the version you read; otherwise 412 "
            "and it stays."
        ),
    ),
}
