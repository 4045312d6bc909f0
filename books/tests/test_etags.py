"""books.etags: a book's ETag names its id, version and representation and reads back as them;
a list page's is a digest of its body."""

import re
from collections.abc import Callable, Iterator

import pytest

from books.etags import BookTag, book_etag, content_etag, parse_book_etag, representation_tag
from books.serializers import BookSerializer, representation_revision
from books.tests.factories import BookFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def release(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[], None]]:
    """Call to be after a release that changed a field's format."""

    def changed_format() -> None:
        monkeypatch.setattr(BookSerializer, "FORMAT_REVISION", BookSerializer.FORMAT_REVISION + 1)
        representation_tag.cache_clear()

    yield changed_format
    monkeypatch.undo()
    representation_tag.cache_clear()


def test_a_books_etag_is_its_id_version_and_representation_quoted() -> None:
    book = BookFactory()

    assert book_etag(book) == f'"{book.pk}-{book.version}-{representation_revision()}"'


def test_the_representation_changes_with_the_fields_and_their_format(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    today = representation_revision()
    monkeypatch.setattr(BookSerializer, "FORMAT_REVISION", BookSerializer.FORMAT_REVISION + 1)
    reformatted = representation_revision()
    monkeypatch.setattr(BookSerializer.Meta, "fields", [*BookSerializer.Meta.fields, "new"])

    assert len({today, reformatted, representation_revision()}) == 3


def test_a_tag_of_another_representation_is_not_one_of_ours(
    release: Callable[[], None],
) -> None:
    book = BookFactory()
    before_the_release = book_etag(book)

    release()

    assert book_etag(book) != before_the_release
    assert parse_book_etag(before_the_release) is None
    assert parse_book_etag(book_etag(book)) == BookTag(book_id=book.pk, version=book.version)
    # The tags of the releases before representations were named: not ours either.
    assert parse_book_etag(f'"{book.pk}-{book.version}"') is None


@pytest.mark.parametrize(
    "etag",
    [
        'W/"1-2"',
        '"1-2',
        '1-2"',
        "1-2",
        '"1-"',
        '"-2"',
        '"a-2"',
        '"1-2-3"',
        '"1-2-x"',
        '"1-2-"',
        '"1-2" ',
        '"1-2"\n',
        "",
    ],
)
def test_anything_else_is_not_a_books_etag(etag: str) -> None:
    assert parse_book_etag(etag) is None


def test_a_content_etag_is_strong_and_changes_with_any_byte() -> None:
    first, second = content_etag(b'{"results": []}'), content_etag(b'{"results": [] }')

    assert re.fullmatch(r'"[0-9a-f]{32}"', first)
    assert first != second
    assert content_etag(b'{"results": []}') == first
