"""The API's entity tags: a book's ``"<id>-<version>-<representation>"`` and a list page's
digest of its body.

The API writes them (books.views) and the read cache reads a book's back to know which version
a response holds (books.hot_path): one format, written and parsed here only.

A book's tag names the representation (books.serializers.representation_revision) beside the
stored version: after a release that changes the book's JSON (a new field), a client's copy
and a cached response made before it no longer validate, so nobody keeps an old shape with a
304 or gets one from the cache.
"""

import functools
import hashlib
import re
from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    from books.models import Book

_BOOK_ETAG = re.compile(r'"([0-9]+)-([0-9]+)-([0-9a-f]+)"')


@functools.cache
def representation_tag() -> str:
    """The book representation's revision (books.serializers.representation_revision)."""
    from books.serializers import representation_revision  # the serializer needs the models

    return representation_revision()


class BookTag(NamedTuple):
    """What a book's ETag says: the book and the version of it a response holds."""

    book_id: int
    version: int


def etag_for(book_id: int, version: int) -> str:
    """A strong validator of a stored version in today's representation."""
    return f'"{book_id}-{version}-{representation_tag()}"'


def book_etag(book: "Book") -> str:
    """A strong validator of the stored version: it changes with every write."""
    return etag_for(book.pk, book.version)


def parse_book_etag(etag: str) -> BookTag | None:
    """The book and version of a ``book_etag`` in today's representation; None for any other
    tag (weak ones, and those of another representation, included)."""
    match = _BOOK_ETAG.fullmatch(etag)
    if match is None or match.group(3) != representation_tag():
        return None
    return BookTag(int(match.group(1)), int(match.group(2)))


def content_etag(body: bytes) -> str:
    """A strong validator of a rendered body (a list page): it changes when any byte does."""
    return f'"{hashlib.blake2b(body, digest_size=16).hexdigest()}"'
