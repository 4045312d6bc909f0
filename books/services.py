"""The one place that writes books. The API, the admin and management commands call these,
so validation (and later cache invalidation and auditing) happens exactly once."""

import datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from books.models import Book

DUPLICATE_ISBN_MESSAGE = "A book with this ISBN already exists."

#: Fields a caller may set; id and the timestamps are the database's.
WRITABLE_FIELDS = frozenset({"title", "author", "publication_date", "isbn", "summary"})


@transaction.atomic
def book_create(
    *,
    title: str,
    author: str,
    publication_date: datetime.date | str,
    isbn: str,
    summary: str = "",
) -> Book:
    """Validate and store a new book. Raises ValidationError (by field) on bad input."""
    book = Book(
        title=title,
        author=author,
        publication_date=publication_date,
        isbn=isbn,
        summary=summary,
    )
    _validate_and_save(book)
    return book


@transaction.atomic
def book_update(*, book: Book, **changes: Any) -> Book:
    """Apply ``changes`` (any of WRITABLE_FIELDS) to ``book``, validate, and store it."""
    unknown = set(changes) - WRITABLE_FIELDS
    if unknown:
        raise ValidationError({name: "This field cannot be changed." for name in sorted(unknown)})
    for name, value in changes.items():
        setattr(book, name, value)
    _validate_and_save(book)
    return book


@transaction.atomic
def book_delete(*, book: Book) -> None:
    book.delete()


def _validate_and_save(book: Book) -> None:
    for name in ("title", "author", "summary"):
        value = getattr(book, name)
        if isinstance(value, str):
            setattr(book, name, value.strip())
    # Field rules (lengths, blanks, ISBN normalisation) are checked here; uniqueness and the
    # CHECK constraints are left to the database, which holds them under concurrency too.
    book.full_clean(validate_unique=False, validate_constraints=False)
    try:
        with transaction.atomic():
            book.save()
    except IntegrityError as error:
        # The common loser of a race on the unique ISBN: report it like any duplicate.
        if Book.objects.filter(isbn=book.isbn).exclude(pk=book.pk).exists():
            raise ValidationError({"isbn": DUPLICATE_ISBN_MESSAGE}, code="unique") from error
        raise
