"""Keyset (cursor) pagination for the book list.

A page is "the N books after this (sort value, id) position", so the 50,000th page costs
what the first does, and a client that follows ``next`` sees every book that exists for the
whole walk exactly once, however many others insert and delete meanwhile. ``id`` breaks
ties, so the order is total. Cursors are signed: a forged or edited one is a 400.
"""

import contextlib
import datetime
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.core import signing
from django.db.models import Model, Q, QuerySet
from rest_framework.exceptions import ValidationError
from rest_framework.pagination import BasePagination
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.utils.urls import remove_query_param, replace_query_param

from books.search import ranking

_SIGNING_SALT = "books.pagination.cursor"


def _cursor_signer() -> signing.Signer:
    """Cursors are signed without a timestamp (signing.dumps adds one): a page's links, and so
    its body and ETag, must not change from one second to the next, or a list page would
    never answer If-None-Match with a 304. A cursor does not expire; it only names a place."""
    return signing.Signer(salt=_SIGNING_SALT)


#: The order of a search's matches by relevance (books.search.ranking): its default.
RELEVANCE = "relevance"


@dataclass(frozen=True)
class Cursor:
    ordering: str  # e.g. "-created_at"
    value: Any  # the sort field's value at the position; in relevance order the tier
    id: int  # the id at the position (tie-breaker)
    backwards: bool  # True: the page *before* the position; False: the page after it
    inclusive: bool = False  # the position's own row belongs to the page


class BookCursorPagination(BasePagination):
    cursor_query_param = "cursor"
    page_size_query_param = "page_size"
    ordering_query_param = "ordering"
    page_size = 20
    max_page_size = 100
    #: Sort fields a client may choose, each ascending or descending ("-" prefix).
    ordering_fields = ("title", "author", "publication_date", "created_at")
    default_ordering = "-created_at"

    def paginate_queryset(  # type: ignore[override]  # we page querysets only
        self, queryset: QuerySet[Any], request: Request, view: Any = None
    ) -> list[Any]:
        self.base_url = self._base_url(request)
        size = self._page_size(request)
        ordering = self._ordering(request)
        cursor = self._cursor(request, ordering)
        field = ordering.lstrip("-")
        self.field = field
        self.search: ranking.SearchState | None = getattr(request, "book_search", None)

        # Scan towards the requested page: descending order read backwards is ascending.
        backwards = cursor is not None and cursor.backwards
        if ordering == RELEVANCE:
            assert self.search is not None  # _ordering() allows relevance with a search only
            position = None
            if cursor is not None:
                position = ranking.Position(cursor.value, cursor.id)
            rows = ranking.relevance_rows(
                queryset,
                self.search,
                position,
                backwards=backwards,
                inclusive=cursor is not None and cursor.inclusive,
                limit=size + 1,
            )
        else:
            rows = self._rows(queryset, field, cursor, ordering, backwards, size)
        has_more = len(rows) > size
        rows = rows[:size]
        if backwards:
            rows.reverse()

        self.ordering = ordering
        self.rows = rows
        self.next_cursor: Cursor | None = None
        self.previous_cursor: Cursor | None = None
        self.first_page_is_next = False
        if rows:
            if has_more or backwards:
                self.next_cursor = self._position(rows[-1], backwards=False)
            if cursor is not None and (has_more or not backwards):
                self.previous_cursor = self._position(rows[0], backwards=True)
        elif backwards:
            # Everything before the position is gone: the way on is the first page.
            self.first_page_is_next = True
        elif cursor is not None:
            # Everything after the position is gone: the way back starts at the position itself.
            self.previous_cursor = Cursor(
                ordering, cursor.value, cursor.id, backwards=True, inclusive=True
            )
        return rows

    def _rows(
        self,
        queryset: QuerySet[Any],
        field: str,
        cursor: Cursor | None,
        ordering: str,
        backwards: bool,
        size: int,
    ) -> list[Any]:
        """Up to ``size`` + 1 rows from the cursor's position, in scan order."""
        scan_descending = ordering.startswith("-") != backwards
        if scan_descending:
            queryset = queryset.order_by(f"-{field}", "-id")
        else:
            queryset = queryset.order_by(field, "id")
        if cursor is not None:
            op = "lt" if scan_descending else "gt"
            # The redundant bound gives PostgreSQL a range start on the (field, id) index: the
            # OR alone made it read every row before the position (a middle page: 143 ms -> 0.05).
            queryset = queryset.filter(**{f"{field}__{op}e": cursor.value}).filter(
                Q(**{f"{field}__{op}": cursor.value})
                | Q(
                    **{field: cursor.value, f"id__{op}{'e' if cursor.inclusive else ''}": cursor.id}
                )
            )
        searching = self.search is not None
        with ranking.deadline(queryset.db) if searching else contextlib.nullcontext():
            return list(queryset[: size + 1])

    def get_paginated_response(self, data: Any) -> Response:
        body = {
            "next": self.get_next_link(),
            "previous": self.get_previous_link(),
            "results": data,
        }
        if self.search is not None:
            body["search"] = self.search.as_json()
        return Response(body)

    def get_next_link(self) -> str | None:
        if self.first_page_is_next:
            return str(remove_query_param(self.base_url, self.cursor_query_param))
        return self._link(self.next_cursor)

    def get_previous_link(self) -> str | None:
        return self._link(self.previous_cursor)

    @staticmethod
    def _base_url(request: Request) -> str:
        """The page's URL with the list's canonical query (books.list_query), from which the
        links are built: one spelling of a query gives the same page as any other, so the
        read cache may key pages on the canonical query."""
        from books.list_query import canonical_query  # it reads this module's settings

        canonical = canonical_query(request.query_params)
        if canonical is None:  # a query the list refuses never gets here
            return request.build_absolute_uri()
        suffix = f"?{canonical}" if canonical else ""
        return request.build_absolute_uri(f"{request.path}{suffix}")

    # --- parsing the query -------------------------------------------------------------

    def _page_size(self, request: Request) -> int:
        raw = request.query_params.get(self.page_size_query_param)
        if raw is None:
            return self.page_size
        # ASCII digits only: int() would also take "1_0" and other scripts' digits. Beyond
        # a few digits the value is clamped anyway, so it is never converted.
        digits = raw.lstrip("0")
        if not raw.isascii() or not raw.isdigit():
            size = 0
        elif len(digits) > 6:
            size = self.max_page_size
        else:
            size = int(digits or "0")
        if size < 1:
            raise ValidationError(
                {self.page_size_query_param: ["Must be a whole number of at least 1."]}
            )
        return min(size, self.max_page_size)  # larger values are clamped, as documented

    def _ordering(self, request: Request) -> str:
        ordering = self.requested_ordering(request.query_params)
        if ordering == RELEVANCE and not self.is_search(request.query_params.get("search")):
            raise ValidationError(
                {self.ordering_query_param: ["Ordering by relevance needs a search."]}
            )
        if not self.is_ordering(ordering):
            choices = ", ".join(self._ordering_choices())
            raise ValidationError(
                {self.ordering_query_param: [f"Unknown ordering. Choose one of: {choices}."]}
            )
        return ordering

    @staticmethod
    def is_search(value: str | None) -> bool:
        """Whether a ``search`` value searches: a blank one is no filter."""
        return bool(value and value.strip())

    @classmethod
    def default_ordering_for(cls, params: Mapping[str, str]) -> str:
        """Relevance with a search, else the default: what a query without ``ordering`` gets."""
        return RELEVANCE if cls.is_search(params.get("search")) else cls.default_ordering

    @classmethod
    def requested_ordering(cls, params: Mapping[str, str]) -> str:
        """The ordering a query asks for, explicitly or by default (not yet checked)."""
        return params.get(cls.ordering_query_param, cls.default_ordering_for(params))

    @classmethod
    def orders_by_relevance(cls, request: Request) -> bool:
        return cls.requested_ordering(request.query_params) == RELEVANCE and cls.is_search(
            request.query_params.get("search")
        )

    @classmethod
    def is_ordering(cls, ordering: str) -> bool:
        """True for an ordering a client may choose: a sort field, with at most one "-", or
        relevance (with a search)."""
        if ordering == RELEVANCE:
            return True
        return ordering.lstrip("-") in cls.ordering_fields and ordering.count("-") <= 1

    def _cursor(self, request: Request, ordering: str) -> Cursor | None:
        token = request.query_params.get(self.cursor_query_param)
        if token is None:
            return None
        invalid = ValidationError({self.cursor_query_param: ["Invalid cursor."]})
        try:
            payload = _cursor_signer().unsign_object(token)
            cursor = Cursor(
                ordering=str(payload["o"]),
                value=self._decode_value(ordering.lstrip("-"), payload["v"]),
                id=int(payload["i"]),
                backwards=bool(payload["b"]),
                inclusive=bool(payload.get("x", False)),
            )
        # OverflowError: a number beyond float's range (1e400) is read as infinity, not an int.
        except (signing.BadSignature, KeyError, TypeError, ValueError, OverflowError) as error:
            raise invalid from error
        if cursor.ordering != ordering:
            raise ValidationError(
                {self.cursor_query_param: ["This cursor belongs to another ordering."]}
            )
        return cursor

    # --- building cursors ----------------------------------------------------------------

    def _position(self, row: Model, *, backwards: bool) -> Cursor:
        if self.ordering == RELEVANCE:
            value: Any = row.search_tier  # type: ignore[attr-defined]
        else:
            value = getattr(row, self.field)
        return Cursor(self.ordering, value, int(row.pk), backwards)

    def _link(self, cursor: Cursor | None) -> str | None:
        if cursor is None:
            return None
        token = self.encode_cursor(cursor)
        return str(replace_query_param(self.base_url, self.cursor_query_param, token))

    @classmethod
    def encode_cursor(cls, cursor: Cursor) -> str:
        """The signed ``cursor`` query value of a position."""
        payload = {
            "o": cursor.ordering,
            "v": cls._encode_value(cursor.value),
            "i": cursor.id,
            "b": cursor.backwards,
        }
        if cursor.inclusive:
            payload["x"] = True
        return str(_cursor_signer().sign_object(payload, compress=True))

    @staticmethod
    def _encode_value(value: Any) -> Any:
        if isinstance(value, datetime.date):  # also datetime
            return value.isoformat()
        return value

    @staticmethod
    def _decode_value(field: str, value: Any) -> Any:
        if field == RELEVANCE:
            if type(value) is not int or value not in ranking.Tier.__members__.values():
                raise ValueError("unknown tier")
            return value
        if field == "publication_date":
            return datetime.date.fromisoformat(value)
        if field == "created_at":
            return datetime.datetime.fromisoformat(value)
        if not isinstance(value, str) or "\x00" in value:
            raise TypeError("cursor value must be a string without NUL characters")
        return value

    # --- OpenAPI ---------------------------------------------------------------------------

    def _ordering_choices(self) -> list[str]:
        fields = [prefix + name for name in self.ordering_fields for prefix in ("", "-")]
        return [RELEVANCE, *fields]

    def get_paginated_response_schema(self, schema: dict[str, Any]) -> dict[str, Any]:
        link = {"type": "string", "format": "uri", "nullable": True}
        return {
            "type": "object",
            "required": ["next", "previous", "results"],
            "properties": {
                "next": {**link, "description": "The next page, or null on the last one."},
                "previous": {**link, "description": "The previous page, or null."},
                "results": schema,
                "search": {
                    "type": "object",
                    "description": "Present when the list was searched (`search`).",
                    "required": ["words", "isbns", "similar", "did_you_mean"],
                    "properties": {
                        "words": {
                            "type": "array",
                            "items": {"type": "string"},
                            "description": "The words searched for, lower case, in order.",
                        },
                        "isbns": {
                            "type": "array",
                            "items": {"type": "string"},
                            "description": "ISBNs found in the search, as ISBN-13.",
                        },
                        "similar": {
                            "type": "boolean",
                            "description": (
                                "True when nothing matched exactly and the results are books "
                                "whose title or author is close to the words (typos)."
                            ),
                        },
                        "did_you_mean": {
                            "type": "string",
                            "nullable": True,
                            "description": "With `similar`: the search, corrected.",
                        },
                    },
                },
            },
        }

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        return [
            {
                "name": self.cursor_query_param,
                "required": False,
                "in": "query",
                "description": "Opaque position from a `next` or `previous` link.",
                "schema": {"type": "string"},
            },
            {
                "name": self.page_size_query_param,
                "required": False,
                "in": "query",
                "description": (
                    f"Books per page: default {self.page_size}; "
                    f"values above {self.max_page_size} are clamped to {self.max_page_size}."
                ),
                "schema": {"type": "integer", "minimum": 1},
            },
            {
                "name": self.ordering_query_param,
                "required": False,
                "in": "query",
                "description": (
                    "Sort field, `-` for descending; ties are broken by `id`. "
                    f"Default `{self.default_ordering}`, or `{RELEVANCE}` with a `search` "
                    f"(`{RELEVANCE}` needs one)."
                ),
                "schema": {"type": "string", "enum": self._ordering_choices()},
            },
        ]


def cursor_after(book: Model, ordering: str = BookCursorPagination.default_ordering) -> str:
    """The ``cursor`` query value of the page that follows ``book`` in ``ordering``: a link into
    the middle of the list made outside a request (the load benchmark's deep pages)."""
    if not BookCursorPagination.is_ordering(ordering):
        raise ValueError(f"unknown ordering {ordering!r}")
    position = Cursor(ordering, getattr(book, ordering.lstrip("-")), int(book.pk), backwards=False)
    return BookCursorPagination.encode_cursor(position)
