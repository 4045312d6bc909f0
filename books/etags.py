"""The API's entity tags: a book's ``"<id>-<version>"`` and a list page's digest of its body.

The API writes them (books.views) and the read cache reads a book's back to know which version
a response holds (books.hot_path): one format, written and parsed here only.
"""

import hashlib
import re
from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    from books.models import Book

_BOOK_ETAG = re.compile(r'"([0-9]+)-([0-9]+)"')


class BookTag(NamedTuple):
    """What a book's ETag says: the book and the version of it a response holds."""

    book_id: int
    version: int


def book_etag(book: "Book") -> str:
    """A strong validator of the stored version: it changes with every write."""
    return f'"{book.pk}-{book.version}"'


def parse_book_etag(etag: str) -> BookTag | None:
    """The book and version of a ``book_etag``; None for any other tag (weak ones included)."""
    match = _BOOK_ETAG.fullmatch(etag)
    if match is None:
        return None
    return BookTag(int(match.group(1)), int(match.group(2)))


def content_etag(body: bytes) -> str:
    """A strong validator of a rendered body (a list page): it changes when any byte does."""
    return f'"{hashlib.blake2b(body, digest_size=16).hexdigest()}"'
