"""books.services called directly, as a management command or an importer would call them."""

import datetime

import pytest
from django.core.exceptions import ValidationError

from books import services
from books.isbn import INVALID_ISBN_MESSAGE
from books.models import Book
from books.services import DUPLICATE_ISBN_MESSAGE
from books.tests.factories import BookFactory

pytestmark = pytest.mark.django_db

CANONICAL = "9780306406157"
VALID = {
    "title": "The Pragmatic Programmer",
    "author": "Andrew Hunt",
    "publication_date": datetime.date(1999, 10, 20),
    "isbn": CANONICAL,
    "summary": "From journeyman to master.",
}
SPELLINGS = [
    "9780306406157",
    "978-0-306-40615-7",
    "978 0 306 40615 7",
    "0-306-40615-2",
    "0306406152",
]

#: One bad value per case, and the field the error must be filed under.
BAD_INPUT = {
    "empty-title": ("title", ""),
    "blank-title": ("title", " \t\n "),
    "long-title": ("title", "t" * 201),
    "empty-author": ("author", ""),
    "blank-author": ("author", "   "),
    "long-author": ("author", "a" * 101),
    "long-summary": ("summary", "s" * 20_001),
    "empty-isbn": ("isbn", ""),
    "bad-isbn": ("isbn", "not an isbn"),
    "isbn-wrong-check-digit": ("isbn", "0-306-40615-3"),
    "isbn-12-digits": ("isbn", "978030640615"),
    "isbn-too-long-input": ("isbn", "9780306406157" + " " * 8),
    "bad-date": ("publication_date", "2020-13-01"),
    "date-text": ("publication_date", "yesterday"),
    "date-empty": ("publication_date", ""),
}

NUL_BYTES = {
    "title": "The Pragmatic\x00 Programmer",
    "author": "Andrew\x00Hunt",
    "summary": "From journeyman\x00 to master.",
}


def _row(book: Book) -> dict:
    return Book.objects.values().get(pk=book.pk)


# --- book_create ----------------------------------------------------------------------


@pytest.mark.parametrize("spelling", SPELLINGS)
def test_book_create_normalises_isbn_from_any_spelling(spelling):
    book = services.book_create(**{**VALID, "isbn": spelling})

    assert book.isbn == CANONICAL
    assert Book.objects.get().isbn == CANONICAL


def test_book_create_normalises_isbn10_with_x_check_digit():
    book = services.book_create(**{**VALID, "isbn": "0-8044-2957-x"})

    assert Book.objects.get(pk=book.pk).isbn == "9780804429573"


def test_book_create_strips_surrounding_whitespace_from_text_fields():
    book = services.book_create(
        **{
            **VALID,
            "title": "  Dune  ",
            "author": "\tFrank Herbert\n",
            "summary": " \n A desert planet. \n ",
        }
    )

    stored = Book.objects.get(pk=book.pk)
    assert (stored.title, stored.author, stored.summary) == (
        "Dune",
        "Frank Herbert",
        "A desert planet.",
    )
    assert (book.title, book.author, book.summary) == (stored.title, stored.author, stored.summary)


def test_book_create_stores_all_fields_and_timestamps():
    book = services.book_create(**{**VALID, "publication_date": "1999-10-20"})

    stored = Book.objects.get(pk=book.pk)
    assert stored.publication_date == datetime.date(1999, 10, 20)
    assert (stored.title, stored.author, stored.summary) == (
        VALID["title"],
        VALID["author"],
        VALID["summary"],
    )
    assert stored.created_at is not None
    assert stored.updated_at is not None


def test_book_create_summary_defaults_to_empty():
    fields = {name: value for name, value in VALID.items() if name != "summary"}

    book = services.book_create(**fields)

    assert Book.objects.get(pk=book.pk).summary == ""


@pytest.mark.parametrize(("field", "value"), BAD_INPUT.values(), ids=BAD_INPUT.keys())
def test_book_create_rejects_bad_input_by_field_and_stores_nothing(field, value):
    with pytest.raises(ValidationError) as excinfo:
        services.book_create(**{**VALID, field: value})

    assert set(excinfo.value.message_dict) == {field}
    assert excinfo.value.message_dict[field]
    assert Book.objects.count() == 0


def test_book_create_rejects_bad_isbn_with_the_isbn_message():
    with pytest.raises(ValidationError) as excinfo:
        services.book_create(**{**VALID, "isbn": "0-306-40615-3"})

    assert excinfo.value.message_dict == {"isbn": [INVALID_ISBN_MESSAGE]}


def test_book_create_reports_every_bad_field_at_once():
    with pytest.raises(ValidationError) as excinfo:
        services.book_create(
            title=" ", author="a" * 101, publication_date="never", isbn="123", summary=""
        )

    assert set(excinfo.value.message_dict) == {"title", "author", "publication_date", "isbn"}
    assert Book.objects.count() == 0


@pytest.mark.parametrize(("field", "value"), NUL_BYTES.items(), ids=NUL_BYTES.keys())
def test_book_create_rejects_nul_byte_in_text_by_field(field, value):
    """The API refuses NUL bytes; an importer calling the service must get the same answer
    (PostgreSQL cannot store them at all, SQLite would store them silently)."""
    with pytest.raises(ValidationError) as excinfo:
        services.book_create(**{**VALID, field: value})

    assert set(excinfo.value.message_dict) == {field}
    assert Book.objects.count() == 0


def test_book_create_rejects_duplicate_isbn_in_another_spelling():
    existing = BookFactory(isbn=CANONICAL)

    with pytest.raises(ValidationError) as excinfo:
        services.book_create(**{**VALID, "isbn": "0-306-40615-2"})

    assert excinfo.value.message_dict == {"isbn": [DUPLICATE_ISBN_MESSAGE]}
    assert list(Book.objects.values_list("pk", flat=True)) == [existing.pk]


# --- book_update ----------------------------------------------------------------------


@pytest.mark.parametrize("spelling", SPELLINGS)
def test_book_update_normalises_isbn_from_any_spelling(spelling):
    book = BookFactory()

    book = services.book_update(book=book, isbn=spelling)

    assert book.isbn == CANONICAL
    assert _row(book)["isbn"] == CANONICAL


def test_book_update_strips_surrounding_whitespace_from_text_fields():
    book = BookFactory()

    services.book_update(book=book, title="  Dune ", author=" Frank Herbert ", summary="  ")

    row = _row(book)
    assert (row["title"], row["author"], row["summary"]) == ("Dune", "Frank Herbert", "")


def test_book_update_changes_only_the_given_fields():
    book = BookFactory()
    before = _row(book)

    services.book_update(book=book, title="New title")

    after = _row(book)
    assert after["title"] == "New title"
    assert after["updated_at"] >= before["updated_at"]
    unchanged = ("author", "publication_date", "isbn", "summary", "created_at")
    assert {name: after[name] for name in unchanged} == {name: before[name] for name in unchanged}


def test_book_update_keeping_its_own_isbn_in_another_spelling_is_accepted():
    book = BookFactory(isbn=CANONICAL)

    services.book_update(book=book, isbn="0-306-40615-2", title="Second edition")

    assert _row(book)["isbn"] == CANONICAL
    assert _row(book)["title"] == "Second edition"


@pytest.mark.parametrize(
    ("field", "value"),
    [*BAD_INPUT.values(), *NUL_BYTES.items()],
    ids=[*BAD_INPUT.keys(), *(f"nul-{name}" for name in NUL_BYTES)],
)
def test_book_update_rejects_bad_input_by_field_and_changes_nothing(field, value):
    book = BookFactory()
    before = _row(book)

    with pytest.raises(ValidationError) as excinfo:
        services.book_update(book=book, **{field: value})

    assert set(excinfo.value.message_dict) == {field}
    assert _row(book) == before


def test_book_update_rejects_another_books_isbn():
    BookFactory(isbn=CANONICAL)
    book = BookFactory()
    before = _row(book)

    with pytest.raises(ValidationError) as excinfo:
        services.book_update(book=book, isbn="0-306-40615-2")

    assert excinfo.value.message_dict == {"isbn": [DUPLICATE_ISBN_MESSAGE]}
    assert _row(book) == before


@pytest.mark.parametrize(
    "changes",
    [
        {"id": 999_999},
        {"pk": 999_999},
        {"created_at": datetime.datetime(2000, 1, 1, tzinfo=datetime.UTC)},
        {"updated_at": datetime.datetime(2000, 1, 1, tzinfo=datetime.UTC)},
        {"bogus": "value"},
        {"title": "Allowed", "bogus": "value"},
        {"title": "Allowed", "id": 999_999, "created_at": None},
    ],
    ids=["id", "pk", "created_at", "updated_at", "bogus", "with-allowed-field", "several"],
)
def test_book_update_refuses_unknown_fields(changes):
    book = BookFactory()
    before = _row(book)
    unknown = set(changes) - services.WRITABLE_FIELDS

    with pytest.raises(ValidationError) as excinfo:
        services.book_update(book=book, **changes)

    assert excinfo.value.message_dict == {
        name: ["This field cannot be changed."] for name in unknown
    }
    assert _row(book) == before
    assert book.title == before["title"]  # nothing was applied, not even the allowed field
    assert not Book.objects.filter(pk=999_999).exists()


# --- book_delete ----------------------------------------------------------------------


def test_book_delete_removes_only_that_book():
    book, other = BookFactory(), BookFactory()

    services.book_delete(book=book)

    assert list(Book.objects.values_list("pk", flat=True)) == [other.pk]


def test_deleted_books_isbn_can_be_used_again():
    book = BookFactory(isbn=CANONICAL)
    services.book_delete(book=book)

    again = services.book_create(**{**VALID, "isbn": "0-306-40615-2"})

    assert Book.objects.get().pk == again.pk
    assert again.isbn == CANONICAL


# --- one statement per write ------------------------------------------------------------


def test_book_update_without_precondition_applies_its_changes_to_the_newer_stored_version():
    book = BookFactory(title="Old title", summary="Old summary")
    stale_copy = Book.objects.get(pk=book.pk)
    services.book_update(book=book, summary="Newer summary")  # another writer, first

    written = services.book_update(book=stale_copy, title="New title")

    row = _row(book)
    assert (row["title"], row["summary"]) == ("New title", "Newer summary")
    assert row["version"] == written.version == stale_copy.version + 2


def test_book_update_with_a_stale_expected_version_changes_nothing():
    book = BookFactory()
    stale_copy = Book.objects.get(pk=book.pk)
    services.book_update(book=book, summary="Newer summary")
    before = _row(book)

    with pytest.raises(services.VersionConflict) as excinfo:
        services.book_update(
            book=stale_copy, expected_version=stale_copy.version, title="Lost update"
        )

    assert excinfo.value.current is not None
    assert excinfo.value.current.version == before["version"]
    assert _row(book) == before


def test_book_update_of_a_deleted_book_raises_does_not_exist():
    book = BookFactory()
    stale_copy = Book.objects.get(pk=book.pk)
    services.book_delete(book=book)

    with pytest.raises(Book.DoesNotExist):
        services.book_update(book=stale_copy, title="Gone")


def test_book_update_leaves_the_callers_copy_as_it_was():
    book = BookFactory(title="Old title")

    written = services.book_update(book=book, title="New title")

    assert (book.title, written.title) == ("Old title", "New title")
    assert written.version == book.version + 1


@pytest.mark.django_db(transaction=True)
def test_book_create_in_autocommit_is_one_statement(django_assert_num_queries):
    with django_assert_num_queries(1):
        services.book_create(**VALID)


@pytest.mark.django_db(transaction=True)
def test_book_update_in_autocommit_is_one_statement(django_assert_num_queries):
    book = BookFactory()

    with django_assert_num_queries(1):
        services.book_update(book=book, summary="Changed.")


@pytest.mark.django_db(transaction=True)
def test_a_duplicate_isbn_inside_a_callers_transaction_leaves_it_usable():
    from django.db import transaction

    BookFactory(isbn=CANONICAL)
    with transaction.atomic():
        with pytest.raises(ValidationError):
            services.book_create(**VALID)
        services.book_create(**{**VALID, "isbn": "9780441172719"})  # the transaction goes on

    assert Book.objects.filter(isbn="9780441172719").exists()
