"""The one place that writes books. The API, the admin and management commands call these,
so validation and cache invalidation happen exactly once.

A single create or update is one SQL statement, in autocommit when the caller has no
transaction open: no BEGIN, SELECT ... FOR UPDATE or savepoint around it (they were five of a
PATCH's eight statements; docs/performance.md, "Where the time goes"). An update is guarded by
the version the caller read instead of a row lock.
"""

import copy
import datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, router, transaction
from django.utils import timezone

from books import read_cache
from books.dates import DAY
from books.models import Book

DUPLICATE_ISBN_MESSAGE = "A book with this ISBN already exists."


class VersionConflict(Exception):
    """The caller's copy of the book is not the stored version (a lost update averted)."""

    def __init__(self, current: Book | None) -> None:
        super().__init__("The book has changed since it was read.")
        self.current = current


#: Fields a caller may set; id and the timestamps are the database's.
WRITABLE_FIELDS = frozenset(
    {"title", "author", "publication_date", "publication_date_precision", "isbn", "summary"}
)


def book_create(
    *,
    title: str,
    author: str,
    publication_date: datetime.date | str,
    isbn: str,
    summary: str = "",
    publication_date_precision: str = DAY,
) -> Book:
    """Validate and store a new book. Raises ValidationError (by field) on bad input."""
    book = Book(
        title=title,
        author=author,
        publication_date=publication_date,
        publication_date_precision=publication_date_precision,
        isbn=isbn,
        summary=summary,
    )
    _validate_and_save(book)
    read_cache.books_changed({})  # a new book: only the lists change
    return book


class BulkValidationError(Exception):
    """Some items of a bulk create are invalid; ``errors`` maps item index to field errors."""

    def __init__(self, errors: dict[int, dict[str, list[str]]]) -> None:
        super().__init__(f"{len(errors)} invalid item(s)")
        self.errors = errors


def book_bulk_create(*, items: list[dict[str, Any]]) -> list[Book]:
    """Store all of ``items`` (field dicts) or none of them, in one INSERT.

    Each item gets the single-create rules; ISBNs must be new and distinct within the batch.
    Raises BulkValidationError listing every invalid item by its index.
    """
    books: list[Book] = []
    errors: dict[int, dict[str, list[str]]] = {}
    first_index_of: dict[str, int] = {}
    for index, fields in enumerate(items):
        unknown = set(fields) - WRITABLE_FIELDS
        book = Book(**{name: value for name, value in fields.items() if name in WRITABLE_FIELDS})
        try:
            if unknown:
                raise ValidationError({name: "This field cannot be set." for name in unknown})
            _clean(book)
        except ValidationError as error:
            errors[index] = error.message_dict
            continue
        if book.isbn in first_index_of:
            message = f"Same ISBN as item {first_index_of[book.isbn]} of this request."
            errors[index] = {"isbn": [message]}
            continue
        first_index_of[book.isbn] = index
        books.append(book)
    if not errors:
        _reject_existing_isbns(first_index_of, errors)
    if errors:
        raise BulkValidationError(dict(sorted(errors.items())))
    try:
        with transaction.atomic():
            created = Book.objects.bulk_create(books)
            read_cache.books_changed({})
            return created
    except IntegrityError as error:
        # A concurrent writer took one of the ISBNs after the check: report it the same way.
        _reject_existing_isbns(first_index_of, errors)
        if errors:
            raise BulkValidationError(dict(sorted(errors.items()))) from error
        raise


def _reject_existing_isbns(
    first_index_of: dict[str, int], errors: dict[int, dict[str, list[str]]]
) -> None:
    taken = Book.objects.filter(isbn__in=list(first_index_of)).values_list("isbn", flat=True)
    for isbn in taken:
        errors[first_index_of[isbn]] = {"isbn": [DUPLICATE_ISBN_MESSAGE]}


#: How often an update without a precondition re-reads a book that changed under it.
UPDATE_ATTEMPTS = 5


def book_update(*, book: Book, expected_version: int | None = None, **changes: Any) -> Book:
    """Apply ``changes`` (any of WRITABLE_FIELDS) to ``book``, validate, and store it.

    The stored row is written only if it still has the version the caller read (one UPDATE
    ... WHERE version = n, whose row lock makes the check and the write one step). With
    ``expected_version`` a changed row is a VersionConflict: of two writers holding the same
    version exactly one wins. Without it the changes are applied again to the newly stored
    version, as often as UPDATE_ATTEMPTS. ``book`` itself is left as it was.
    """
    unknown = set(changes) - WRITABLE_FIELDS
    if unknown:
        raise ValidationError({name: "This field cannot be changed." for name in sorted(unknown)})
    if expected_version is not None and book.version != expected_version:
        raise VersionConflict(Book.objects.filter(pk=book.pk).first())
    current: Book | None = book
    for _ in range(UPDATE_ATTEMPTS):
        assert current is not None
        written = _write_if_unchanged(current, changes)
        if written is not None:
            read_cache.book_written(written.pk, written.version)
            return written
        current = Book.objects.filter(pk=book.pk).first()
        if current is None:
            raise Book.DoesNotExist(f"Book {book.pk} no longer exists.")
        if expected_version is not None:
            raise VersionConflict(current)
    raise VersionConflict(current)


def _write_if_unchanged(book: Book, changes: dict[str, Any]) -> Book | None:
    """``book`` with ``changes``, stored if the row still has ``book``'s version; else None."""
    candidate = copy.copy(book)
    for name, value in changes.items():
        setattr(candidate, name, value)
    _clean(candidate)
    candidate.version = book.version + 1
    candidate.updated_at = timezone.now()
    fields = {name: getattr(candidate, name) for name in WRITABLE_FIELDS}
    rows = _guarded(
        candidate,
        lambda: Book.objects.filter(pk=book.pk, version=book.version).update(
            **fields, version=candidate.version, updated_at=candidate.updated_at
        ),
    )
    return candidate if rows else None


@transaction.atomic
def book_delete(*, book: Book, expected_version: int | None = None) -> None:
    """Delete ``book``; with ``expected_version``, only if that is still the stored version."""
    current = Book.objects.select_for_update().filter(pk=book.pk).first()
    if current is None:
        return  # already gone: deleting is idempotent
    if expected_version is not None and current.version != expected_version:
        raise VersionConflict(current)
    book_id = current.pk
    current.delete()
    read_cache.books_deleted([book_id])


def _clean(book: Book) -> None:
    """The field rules of every write: trim text, then lengths, blanks, ISBN normalisation."""
    for name in ("title", "author", "summary"):
        value = getattr(book, name)
        if isinstance(value, str):
            setattr(book, name, value.strip())
    # Uniqueness and the CHECK constraints are left to the database, which holds them under
    # concurrency too.
    book.full_clean(validate_unique=False, validate_constraints=False)


def _validate_and_save(book: Book) -> None:
    _clean(book)
    _guarded(book, book.save)


def _guarded(book: Book, write: Any) -> Any:
    """Run ``write`` (one statement storing ``book``); a duplicate ISBN is a ValidationError.

    Inside a caller's transaction the statement gets a savepoint, so that losing the race
    leaves that transaction usable; in autocommit the statement is its own transaction.
    """
    alias = router.db_for_write(Book)
    try:
        if transaction.get_connection(alias).in_atomic_block:
            with transaction.atomic(using=alias):
                return write()
        return write()
    except IntegrityError as error:
        # The common loser of a race on the unique ISBN: report it like any duplicate.
        if Book.objects.filter(isbn=book.isbn).exclude(pk=book.pk).exists():
            raise ValidationError({"isbn": DUPLICATE_ISBN_MESSAGE}, code="unique") from error
        raise
