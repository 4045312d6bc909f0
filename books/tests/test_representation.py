"""BookSerializer builds a book's JSON directly, for speed: it must equal, key for key and in
order, what DRF's generic ModelSerializer walk produces from the same declared fields."""

import datetime
import zoneinfo
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rest_framework import serializers
from rest_framework.test import APIClient

from books import services
from books.demo import demo_isbn
from books.models import (
    AUTHOR_MAX_LENGTH,
    SUMMARY_MAX_LENGTH,
    TITLE_MAX_LENGTH,
    Book,
    validate_display_text,
)
from books.serializers import BookSerializer
from books.tests.factories import BookFactory, book_payload

PURE_PROPERTY = settings(max_examples=300, deadline=None)
DATABASE_PROPERTY = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

UTC = datetime.UTC


def generic(book: Book) -> list[tuple[str, Any]]:
    """DRF's own field-by-field representation, with BookSerializer's fields."""
    serializer = BookSerializer()
    return list(serializers.ModelSerializer.to_representation(serializer, book).items())


def direct(book: Book) -> list[tuple[str, Any]]:
    return list(BookSerializer(book).data.items())


def assert_same_representation(book: Book) -> None:
    assert direct(book) == generic(book)


# --- generated values -------------------------------------------------------------------------


def _text_of_length(length: int) -> st.SearchStrategy[str]:
    """Text of exactly ``length`` characters, any of them (a generated piece, repeated)."""
    return st.text(min_size=1, max_size=8).map(lambda piece: (piece * length)[:length])


def _field_text(max_length: int) -> st.SearchStrategy[str]:
    return st.one_of(
        st.text(max_size=40),
        st.text(alphabet=st.characters(codec="utf-8"), max_size=40),  # astral planes too
        _text_of_length(max_length),
        _text_of_length(1),
    )


_EDGE_DATES = st.sampled_from(
    [datetime.date.min, datetime.date.max, datetime.date(1970, 1, 1), datetime.date(2000, 2, 29)]
)
_SAFE = (datetime.datetime(2, 1, 1), datetime.datetime(9998, 12, 31))  # any offset stays in range

_DATETIMES = st.one_of(
    # As the database gives them back: aware, in UTC, any microsecond, the whole range.
    st.datetimes(timezones=st.just(UTC)),
    st.sampled_from(
        [
            datetime.datetime.min.replace(tzinfo=UTC),
            datetime.datetime.max.replace(tzinfo=UTC),
            datetime.datetime(2024, 1, 1, 0, 0, 0, 0, tzinfo=UTC),  # no microseconds
            datetime.datetime(2024, 1, 1, 0, 0, 0, 1, tzinfo=UTC),
        ]
    ),
    # Set in Python before a save: other zones, and naive values (read in TIME_ZONE, UTC).
    st.datetimes(*_SAFE, timezones=st.timezones()),
    st.datetimes(
        *_SAFE,
        timezones=st.sampled_from(
            [datetime.timezone(datetime.timedelta(hours=-12)), zoneinfo.ZoneInfo("Asia/Kolkata")]
        ),
    ),
    st.datetimes(*_SAFE),
)


@st.composite
def books(draw: st.DrawFn) -> Book:
    """An unsaved Book with every field set, as a query could give it back."""
    return Book(
        id=draw(st.integers(min_value=1, max_value=2**63 - 1)),
        title=draw(_field_text(TITLE_MAX_LENGTH)),
        author=draw(_field_text(AUTHOR_MAX_LENGTH)),
        publication_date=draw(st.one_of(st.dates(), _EDGE_DATES)),
        isbn=draw(st.text(alphabet="0123456789", min_size=13, max_size=13)),
        summary=draw(st.one_of(st.just(""), _field_text(SUMMARY_MAX_LENGTH))),
        created_at=draw(_DATETIMES),
        updated_at=draw(_DATETIMES),
        version=draw(st.integers(min_value=1, max_value=2**31 - 1)),
    )


@PURE_PROPERTY
@given(book=books())
def test_generated_books_are_represented_as_the_generic_serializer_does(book: Book) -> None:
    assert_same_representation(book)


def test_the_representation_has_the_declared_fields_in_order() -> None:
    book = Book(
        id=1,
        title="T",
        author="A",
        publication_date=datetime.date(2001, 2, 3),
        isbn="9780306406157",
        summary="",
        created_at=datetime.datetime(2024, 5, 6, 7, 8, 9, 123456, tzinfo=UTC),
        updated_at=datetime.datetime(2024, 5, 6, 7, 8, 9, tzinfo=UTC),
    )

    assert [name for name, _ in direct(book)] == BookSerializer.Meta.fields
    assert dict(direct(book))["created_at"] == "2024-05-06T07:08:09.123456Z"
    assert dict(direct(book))["updated_at"] == "2024-05-06T07:08:09Z"
    assert dict(direct(book))["publication_date"] == "2001-02-03"
    assert_same_representation(book)


# --- books as stored ----------------------------------------------------------------------------


@pytest.mark.django_db
def test_factory_books_read_back_are_represented_as_the_generic_serializer_does() -> None:
    BookFactory.create_batch(10)

    for book in Book.objects.all():
        assert_same_representation(book)


@pytest.mark.django_db
def test_a_created_book_is_represented_the_same_as_returned_and_as_stored() -> None:
    created = services.book_create(
        title="  Padded title  ",
        author="Ann Author",
        publication_date="2000-02-29",
        isbn="0-306-40615-2",
        summary="",
    )
    stored = Book.objects.get(pk=created.pk)

    assert_same_representation(created)
    assert_same_representation(stored)
    assert direct(created) == direct(stored)


@pytest.mark.django_db
def test_an_updated_book_is_represented_the_same_as_returned_and_as_stored() -> None:
    book = BookFactory()

    updated = services.book_update(
        book=book, title="New title", publication_date=datetime.date(1, 1, 1)
    )
    stored = Book.objects.get(pk=book.pk)

    assert_same_representation(updated)
    assert_same_representation(stored)
    assert direct(updated) == direct(stored)
    assert dict(direct(stored))["publication_date"] == "0001-01-01"


@contextmanager
def _rolled_back() -> Iterator[None]:
    with transaction.atomic():
        yield
        transaction.set_rollback(True)


_STORABLE_TEXT = st.characters(codec="utf-8", exclude_characters="\x00")


@st.composite
def book_fields(draw: st.DrawFn) -> dict[str, Any]:
    """Fields a write accepts: text the database can store, at most the maximum lengths."""

    def text(max_length: int) -> str:
        return draw(
            st.one_of(
                st.text(_STORABLE_TEXT, max_size=30),
                st.text(_STORABLE_TEXT, min_size=1, max_size=4).map(
                    lambda piece: (piece * max_length)[:max_length]
                ),
            )
        )

    def shown(value: str, fallback: str) -> str:
        """``value`` if a title or author may be it (visible, no bidi control), else a fallback."""
        try:
            validate_display_text(value)
        except ValidationError:
            return fallback
        return value if value.strip() else fallback

    return {
        "title": shown(text(TITLE_MAX_LENGTH), "t"),
        "author": shown(text(AUTHOR_MAX_LENGTH), "a"),
        "publication_date": draw(st.one_of(st.dates(), _EDGE_DATES)),
        "isbn": demo_isbn(draw(st.integers(min_value=0, max_value=10**6))),
        "summary": text(SUMMARY_MAX_LENGTH),
    }


@pytest.mark.django_db
@DATABASE_PROPERTY
@given(fields=book_fields(), changes=book_fields())
def test_generated_books_created_and_updated_are_represented_as_stored(
    fields: dict[str, Any], changes: dict[str, Any]
) -> None:
    with _rolled_back():
        created = services.book_create(**fields)
        assert direct(created) == direct(Book.objects.get(pk=created.pk))
        assert_same_representation(created)
        changes.pop("isbn")
        updated = services.book_update(book=created, **changes)
        stored = Book.objects.get(pk=created.pk)
        assert direct(updated) == direct(stored)
        assert_same_representation(stored)


@pytest.mark.django_db
def test_the_api_answers_a_write_with_the_json_it_then_reads_back(auth_client: APIClient) -> None:
    created = auth_client.post("/books/", book_payload(), format="json")
    assert created.status_code == 201, created.content
    url = f"/books/{created.json()['id']}/"

    patched = auth_client.patch(url, {"summary": "Changed."}, format="json")

    assert created.json() != patched.json()
    assert patched.json() == auth_client.get(url).json()
