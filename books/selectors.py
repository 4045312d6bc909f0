"""The reads of the catalogue, kept beside the writes in services.py."""

from django.db.models import QuerySet

from books.models import Book


def book_list() -> QuerySet[Book]:
    """All books; the view's filters and pagination narrow and order it."""
    return Book.objects.all()
