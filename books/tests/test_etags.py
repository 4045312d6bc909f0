"""books.etags: a book's ETag names its id and version and reads back as them; a list page's is
a digest of its body."""

import re

import pytest

from books.etags import BookTag, book_etag, content_etag, parse_book_etag
from books.tests.factories import BookFactory

pytestmark = pytest.mark.django_db


def test_a_books_etag_is_its_id_and_version_quoted() -> None:
    book = BookFactory()

    assert book_etag(book) == f'"{book.pk}-{book.version}"'


def test_a_books_etag_reads_back_as_its_id_and_version() -> None:
    book = BookFactory()

    assert parse_book_etag(book_etag(book)) == BookTag(book_id=book.pk, version=book.version)


@pytest.mark.parametrize(
    "etag",
    ['W/"1-2"', '"1-2', '1-2"', "1-2", '"1-"', '"-2"', '"a-2"', '"1-2-3"', '"1-2" ', '"1-2"\n', ""],
)
def test_anything_else_is_not_a_books_etag(etag: str) -> None:
    assert parse_book_etag(etag) is None


def test_a_content_etag_is_strong_and_changes_with_any_byte() -> None:
    first, second = content_etag(b'{"results": []}'), content_etag(b'{"results": [] }')

    assert re.fullmatch(r'"[0-9a-f]{32}"', first)
    assert first != second
    assert content_etag(b'{"results": []}') == first
