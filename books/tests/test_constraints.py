"""The database holds the rules too: writes that bypass books.services are refused.

PostgreSQL refuses a string longer than its varchar column with a DataError before any CHECK
constraint is looked at; SQLite has no varchar lengths, so its CHECK constraints refuse it
with an IntegrityError. Either way the row is never written.
"""

import datetime
import sys

import pytest
from django.core.exceptions import ValidationError
from django.db import DataError, IntegrityError, connection, transaction

from books.isbn import INVALID_ISBN_MESSAGE
from books.models import (
    AUTHOR_MAX_LENGTH,
    SUMMARY_MAX_LENGTH,
    TITLE_MAX_LENGTH,
    WHITESPACE,
    Book,
)
from books.tests.factories import BookFactory

pytestmark = pytest.mark.django_db

VALID = {
    "title": "The Pragmatic Programmer",
    "author": "Andrew Hunt",
    "publication_date": datetime.date(1999, 10, 20),
    "isbn": "9780306406157",
    "summary": "From journeyman to master.",
}


def _create(**changes: object) -> None:
    Book.objects.create(**{**VALID, **changes})


def _bulk_create(**changes: object) -> None:
    Book.objects.bulk_create([Book(**{**VALID, **changes})])


WRITES = {"create": _create, "bulk_create": _bulk_create}


def _snapshot() -> list[dict]:
    return list(Book.objects.order_by("pk").values())


#: How the error names the unique constraint on isbn: "books_book.isbn" (SQLite) or
#: "book_isbn_unique" (PostgreSQL).
UNIQUE_ISBN = r"books_book\.isbn|book_isbn_unique"


def _refused_by(constraint: str, varchar_overflow: bool = False):  # type: ignore[no-untyped-def]
    """pytest.raises for the database refusing a write by ``constraint`` (see the docstring)."""
    if varchar_overflow and connection.vendor == "postgresql":
        return pytest.raises(DataError, match="value too long")
    return pytest.raises(IntegrityError, match=constraint)


# (changes, the constraint that refuses them, whether the value overflows a varchar column)
FORBIDDEN = {
    "blank-title": ({"title": ""}, "book_title_not_blank", False),
    "space-title": ({"title": " "}, "book_title_not_blank", False),
    "spaces-title": ({"title": "     "}, "book_title_not_blank", False),
    "blank-author": ({"author": ""}, "book_author_not_blank", False),
    "space-author": ({"author": " "}, "book_author_not_blank", False),
    "spaces-author": ({"author": "     "}, "book_author_not_blank", False),
    "long-title": ({"title": "t" * (TITLE_MAX_LENGTH + 1)}, "book_title_max_length", True),
    "long-author": ({"author": "a" * (AUTHOR_MAX_LENGTH + 1)}, "book_author_max_length", True),
    "long-summary": (
        {"summary": "s" * (SUMMARY_MAX_LENGTH + 1)},
        "book_summary_max_length",
        False,
    ),
    "empty-isbn": ({"isbn": ""}, "book_isbn_13_characters", False),
}


@pytest.mark.parametrize("write", WRITES.values(), ids=WRITES.keys())
@pytest.mark.parametrize(
    ("changes", "constraint", "overflow"), FORBIDDEN.values(), ids=FORBIDDEN.keys()
)
def test_database_refuses_forbidden_value_on_insert(write, changes, constraint, overflow):
    BookFactory()
    before = _snapshot()

    with _refused_by(constraint, overflow), transaction.atomic():
        write(**changes)

    assert _snapshot() == before


@pytest.mark.parametrize(
    ("changes", "constraint", "overflow"), FORBIDDEN.values(), ids=FORBIDDEN.keys()
)
def test_database_refuses_forbidden_value_on_queryset_update(changes, constraint, overflow):
    book = BookFactory()
    BookFactory()
    before = _snapshot()

    with _refused_by(constraint, overflow), transaction.atomic():
        Book.objects.filter(pk=book.pk).update(**changes)

    assert _snapshot() == before


def _update(**changes: object) -> None:
    book = BookFactory()
    Book.objects.filter(pk=book.pk).update(**changes)


ORM_WRITES = {**WRITES, "update": _update}

#: ISBNs that are not 13 characters (or not an ISBN at all), as an ORM write would pass them.
BAD_ISBNS = {
    "12-digits": "978030640615",
    "14-digits": "97803064061570",
    "9-digits": "030640615",
    "wrong-check-digit": "9780306406158",
    "letters": "abcdefghijklm",
}


@pytest.mark.parametrize("write", ORM_WRITES.values(), ids=ORM_WRITES.keys())
@pytest.mark.parametrize("isbn", BAD_ISBNS.values(), ids=BAD_ISBNS.keys())
def test_orm_write_of_isbn_that_is_not_13_digits_is_refused(write, isbn):
    """IsbnField checks every value it sends to the database (get_prep_value -> to_python),
    so an ORM write refuses a bad ISBN before the database sees it."""
    BookFactory()
    before = _snapshot()

    with pytest.raises(ValidationError) as excinfo, transaction.atomic():
        write(isbn=isbn)

    assert excinfo.value.messages == [INVALID_ISBN_MESSAGE]
    assert _snapshot() == before


@pytest.mark.parametrize("write", ORM_WRITES.values(), ids=ORM_WRITES.keys())
@pytest.mark.parametrize("isbn", ["0-306-40615-2", "0306406152", "978-0-306-40615-7"])
def test_orm_write_stores_any_isbn_spelling_in_13_digit_form(write, isbn):
    with transaction.atomic():
        write(isbn=isbn)

    assert list(Book.objects.values_list("isbn", flat=True)) == ["9780306406157"]


_INSERT = (
    "INSERT INTO books_book (title, author, publication_date, isbn, summary, created_at, "
    "updated_at) VALUES (%s, %s, %s, %s, %s, %s, %s)"
)
_NOW = "2024-01-01 00:00:00"

# (raw value, whether it overflows the varchar(13) column)
RAW_BAD_ISBNS = {
    "empty": ("", False),
    "10-digits": ("0306406152", False),
    "12-digits": ("978030640615", False),
    "14-digits": ("97803064061570", True),
    "hyphenated": ("978-0-306-40615-7", True),
}
ISBN_LENGTH = "book_isbn_13_characters"


@pytest.mark.parametrize(("isbn", "overflow"), RAW_BAD_ISBNS.values(), ids=RAW_BAD_ISBNS.keys())
def test_database_refuses_isbn_not_13_characters_in_raw_insert(isbn, overflow):
    """Raw SQL bypasses IsbnField too: the CHECK constraint is what refuses it."""
    row = ["Title", "Author", "2001-01-01", isbn, "", _NOW, _NOW]

    with _refused_by(ISBN_LENGTH, overflow), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(_INSERT, row)

    assert Book.objects.count() == 0


@pytest.mark.parametrize(("isbn", "overflow"), RAW_BAD_ISBNS.values(), ids=RAW_BAD_ISBNS.keys())
def test_database_refuses_isbn_not_13_characters_in_raw_update(isbn, overflow):
    book = BookFactory()
    before = _snapshot()

    with _refused_by(ISBN_LENGTH, overflow), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("UPDATE books_book SET isbn = %s WHERE id = %s", [isbn, book.pk])

    assert _snapshot() == before


def test_raw_insert_of_a_13_digit_isbn_is_accepted():
    """The control for the two tests above: the same INSERT with a good ISBN works."""
    with connection.cursor() as cursor:
        cursor.execute(_INSERT, ["Title", "Author", "2001-01-01", "9780306406157", "", _NOW, _NOW])

    assert Book.objects.get().isbn == "9780306406157"


OTHER_WHITESPACE = {
    "tab": "\t",
    "newline": "\n",
    "no-break-space": "\u00a0",
}


@pytest.mark.parametrize("field", ["title", "author"])
@pytest.mark.parametrize("value", OTHER_WHITESPACE.values(), ids=OTHER_WHITESPACE.keys())
def test_database_refuses_title_or_author_of_other_whitespace(field, value):
    """The API strips all whitespace (str.strip), so the database must refuse all of it too."""
    before = _snapshot()

    with _refused_by(f"book_{field}_not_blank"), transaction.atomic():
        _create(**{field: value})

    assert _snapshot() == before


@pytest.mark.parametrize("write", WRITES.values(), ids=WRITES.keys())
def test_database_refuses_duplicate_isbn_on_insert(write):
    existing = BookFactory(isbn=VALID["isbn"])
    before = _snapshot()

    with _refused_by(UNIQUE_ISBN), transaction.atomic():
        write(title="Another book")

    assert _snapshot() == before
    assert Book.objects.get(isbn=VALID["isbn"]).pk == existing.pk


def test_database_refuses_duplicate_isbn_on_queryset_update():
    BookFactory(isbn=VALID["isbn"])
    other = BookFactory()
    before = _snapshot()

    with _refused_by(UNIQUE_ISBN), transaction.atomic():
        Book.objects.filter(pk=other.pk).update(isbn=VALID["isbn"])

    assert _snapshot() == before


def test_database_refuses_duplicate_isbns_within_one_bulk_create():
    with _refused_by(UNIQUE_ISBN), transaction.atomic():
        Book.objects.bulk_create([Book(**VALID), Book(**{**VALID, "title": "Copy"})])

    assert Book.objects.count() == 0


@pytest.mark.parametrize("write", WRITES.values(), ids=WRITES.keys())
def test_database_accepts_values_at_the_limits(write):
    """The constraints refuse exactly what the rules forbid, not more."""
    at_limits = {
        "title": "é" * TITLE_MAX_LENGTH,
        "author": "a" + " " * (AUTHOR_MAX_LENGTH - 1),
        "summary": "s" * SUMMARY_MAX_LENGTH,
        "isbn": "9790000000001",
    }

    with transaction.atomic():
        write(**at_limits)

    stored = Book.objects.get()
    assert (stored.title, stored.author, stored.summary, stored.isbn) == (
        at_limits["title"],
        at_limits["author"],
        at_limits["summary"],
        at_limits["isbn"],
    )


def test_database_accepts_empty_summary():
    _create(summary="")

    assert Book.objects.get().summary == ""


def test_database_whitespace_list_is_everything_python_strips():
    python_whitespace = {chr(code) for code in range(sys.maxunicode + 1) if chr(code).isspace()}
    assert set(WHITESPACE) == python_whitespace
