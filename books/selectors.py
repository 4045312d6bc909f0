"""The reads of the catalogue, kept beside the writes in services.py.

The API's list reads through DRF's filter backend and pagination (books.views), which call
book_list() and BookFilter; a search in relevance order is read page by page by
books.search.ranking. Outside a request (manage.py export_books), books_filtered() applies the
same filters, the search as one condition.
"""

from collections.abc import Mapping

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
