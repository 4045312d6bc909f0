"""The reads of the catalogue, kept beside the writes in services.py.

The API's list reads through DRF's filter backend and pagination (books.views), which call
book_list() and BookFilter; a search in relevance order is read page by page by
books.search.ranking. Outside a request (manage.py export_books), books_filtered() applies the
same filters, the search as one condition. book_count() tells how many books a list has, as
far as that is cheap to know.
"""

import json
from collections.abc import Mapping
from dataclasses import dataclass

from django.db import connections
from django.db.models import QuerySet

from books.filters import BookFilter
from books.models import Book


class InvalidFilters(ValueError):
    """Filter values the list would answer with a 400: the messages by filter name."""

    def __init__(self, errors: Mapping[str, list[str]]) -> None:
        super().__init__(errors)
        self.errors = dict(errors)


def book_list() -> QuerySet[Book]:
    """All books; the view's filters and pagination narrow and order it."""
    return Book.objects.all()


def books_filtered(params: Mapping[str, str]) -> QuerySet[Book]:
    """The books the list's filters (query parameter names and values) select, in the
    model's default order; raises InvalidFilters for a value the list refuses."""
    filterset = BookFilter(data=params, queryset=book_list())
    if not filterset.is_valid():
        raise InvalidFilters({name: list(messages) for name, messages in filterset.errors.items()})
    return filterset.qs


#: A count stops at this many books: past it the answer says "more than" (and, on PostgreSQL,
#: gives the planner's estimate); an exact COUNT(*) of them all would read every one. On
#: 1,000,000 PostgreSQL books GET /books/count/ took 10-50 ms (median of 7, unfiltered, by
#: dates, author_name and search; Django's test client on the shared 2-core dev machine,
#: 2026-12-06).
COUNT_LIMIT = 10_000


@dataclass(frozen=True)
class BookCount:
    """How many books a list has: ``count`` exactly when ``exact``; otherwise at least
    ``count`` (COUNT_LIMIT), with the planner's ``estimate`` where the database gives one."""

    count: int
    exact: bool
    estimate: int | None = None


def book_count(queryset: QuerySet[Book], *, limit: int | None = None) -> BookCount:
    """The books in ``queryset``, counted up to ``limit`` (default COUNT_LIMIT) + 1 and no
    further."""
    limit = COUNT_LIMIT if limit is None else limit
    queryset = queryset.order_by()
    # A sliced queryset counts as SELECT COUNT(*) FROM (SELECT ... LIMIT n): the database
    # stops reading at the limit.
    counted = queryset.values("id")[: limit + 1].count()
    if counted <= limit:
        return BookCount(count=counted, exact=True)
    estimate = _planner_estimate(queryset)
    return BookCount(
        count=limit, exact=False, estimate=estimate if estimate and estimate > limit else None
    )


def _planner_estimate(queryset: QuerySet[Book]) -> int | None:
    """PostgreSQL's estimate of the rows ``queryset`` selects (from its statistics: no rows
    read); None on other databases."""
    connection = connections[queryset.db]
    if connection.vendor != "postgresql":
        return None
    sql, params = queryset.values("id").query.get_compiler(using=queryset.db).as_sql()
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (FORMAT JSON) {sql}", params)
        plan = cursor.fetchone()[0]
    if isinstance(plan, str):
        plan = json.loads(plan)
    return int(plan[0]["Plan"]["Plan Rows"])
