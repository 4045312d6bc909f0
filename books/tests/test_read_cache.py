"""The read cache's store: set-if-newer, fences, list generations, when writes invalidate, and
the epoch that abandons everything after a failure.

Run against whichever store the settings give: Django's local-memory cache in the SQLite run,
Redis (the Lua scripts) when REDIS_URL is set.
"""

from collections.abc import Iterator
from typing import Any

import pytest
from django.db import transaction

from books import read_cache, services
from books.etags import etag_for, parse_book_etag
from books.hot_path import CachedReads
from books.models import Book
from books.tests.factories import CANONICAL_ISBN, BookFactory
from books.tests.wsgi import CountingDjango, connections_kept_open, environ_for, request
from bookstore.wsgi import django_application

BOOK_ID = 4_242


def _entry(version: int, body: bytes = b"{}") -> read_cache.Entry:
    return read_cache.Entry(version, [("Content-Type", "application/json")], body)


def _book(book_id: int = BOOK_ID) -> read_cache.Lookup:
    return read_cache.get_store().lookup("d", str(book_id), None, 0)


def _list_page(name: str = "first-page") -> read_cache.Lookup:
    return read_cache.get_store().lookup("l", name, None, 0)


def _store_book(version: int, body: bytes = b"{}", book_id: int = BOOK_ID) -> None:
    read_cache.get_store().store(_book(book_id).key, _entry(version, body), 60)


def _cached_version(book_id: int = BOOK_ID) -> int | None:
    entry = _book(book_id).entry
    return None if entry is None else entry.version


def _fence(fences: dict[int, int]) -> None:
    read_cache.get_store().books_changed(fences, 60)


@pytest.fixture(autouse=True)
def _healthy_process(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test starts trusting the cache, whatever an earlier one simulated."""
    monkeypatch.setattr(read_cache._health, "suspect", False)


@pytest.fixture
def hot_path(settings: Any) -> Iterator[CachedReads]:
    settings.READ_CACHE_ENABLED = True
    with connections_kept_open():
        yield CachedReads(django_application)


def _read_version(app: CachedReads, book: Book) -> int:
    response = request(app, path=f"/books/{book.pk}/")
    assert response.status == 200, response.body
    tag = parse_book_etag(response.header("ETag") or "")
    assert tag is not None, response.headers
    return tag.version


# --- set if newer ---------------------------------------------------------------------------


def test_a_book_entry_is_replaced_only_by_a_higher_version() -> None:
    _store_book(2, b"two")

    _store_book(1, b"one")
    _store_book(2, b"two again")
    assert _book().entry == _entry(2, b"two")

    _store_book(3, b"three")
    assert _book().entry == _entry(3, b"three")


def test_an_entry_keeps_its_headers_and_body_exactly() -> None:
    headers = [("Content-Type", "application/json"), ("ETag", '"1-7"'), ("Vary", "Accept")]
    body = '{"title":"Ünïcode \\n and a newline\n"}'.encode()
    read_cache.get_store().store(_book().key, read_cache.Entry(7, headers, body), 60)

    assert _book().entry == read_cache.Entry(7, headers, body)


# --- fences ---------------------------------------------------------------------------------


def test_a_fence_refuses_the_versions_it_covers_and_accepts_a_newer_one() -> None:
    _store_book(2)

    _fence({BOOK_ID: 2})

    assert _book().entry is None  # the fenced entry is gone
    _store_book(1)
    _store_book(2)
    assert _book().entry is None
    _store_book(3)
    assert _cached_version() == 3


def test_a_fence_on_a_book_never_cached_refuses_older_versions() -> None:
    _fence({BOOK_ID: 4})

    _store_book(4)
    assert _book().entry is None
    _store_book(5)
    assert _cached_version() == 5


def test_a_fence_keeps_an_entry_newer_than_itself() -> None:
    _store_book(5)

    _fence({BOOK_ID: 4})

    assert _cached_version() == 5


def test_a_fence_is_never_lowered() -> None:
    _fence({BOOK_ID: 5})
    _fence({BOOK_ID: 2})

    _store_book(3)
    assert _book().entry is None
    _store_book(6)
    assert _cached_version() == 6


def test_a_fence_touches_only_its_own_books() -> None:
    _store_book(1, book_id=1)
    _store_book(1, book_id=2)

    _fence({1: 1})

    assert _cached_version(1) is None
    assert _cached_version(2) == 1


def test_a_deleted_books_fence_refuses_every_version() -> None:
    _store_book(3)

    _fence({BOOK_ID: read_cache.DELETED})

    for version in (1, 3, 4, 10**9, read_cache.DELETED):
        _store_book(version)
        assert _book().entry is None


# --- list generations -----------------------------------------------------------------------


def test_every_change_moves_the_lists_to_a_new_generation() -> None:
    keys = {_list_page().key}
    read_cache.get_store().store(_list_page().key, _entry(1, b"page"), 60)
    for fences in ({}, {BOOK_ID: 1}, {BOOK_ID: read_cache.DELETED}, {1: 1, 2: 3}):
        _fence(fences)
        found = _list_page()
        assert found.key not in keys
        assert found.entry is None
        keys.add(found.key)


def test_one_generations_first_stored_page_stands() -> None:
    key = _list_page().key
    read_cache.get_store().store(key, _entry(1, b"first"), 60)
    read_cache.get_store().store(key, _entry(1, b"second"), 60)

    assert _list_page().entry == _entry(1, b"first")


def test_list_pages_are_kept_apart_by_name() -> None:
    read_cache.get_store().store(_list_page("a").key, _entry(1, b"a"), 60)

    assert _list_page("b").entry is None
    assert _list_page("a").entry == _entry(1, b"a")


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("write", ["create", "bulk_create", "update", "delete"])
def test_every_service_write_moves_the_lists_to_a_new_generation(write: str) -> None:
    book = BookFactory()
    before = _list_page().key

    new_book = {"title": "T", "author": "A", "publication_date": "2001-01-01"}
    if write == "create":
        services.book_create(**new_book, isbn=CANONICAL_ISBN)
    elif write == "bulk_create":
        services.book_bulk_create(items=[{**new_book, "isbn": CANONICAL_ISBN}])
    elif write == "update":
        services.book_update(book=book, title="Changed")
    else:
        services.book_delete(book=book)

    assert _list_page().key != before


# --- when a write invalidates: after commit, before it is acknowledged ----------------------


@pytest.mark.django_db(transaction=True)
def test_a_write_that_rolls_back_invalidates_nothing() -> None:
    book = BookFactory()
    _store_book(1, book_id=book.pk)
    lists = _list_page().key

    with transaction.atomic():
        services.book_update(book=book, title="Never stored")
        services.book_delete(book=book)
        transaction.set_rollback(True)

    assert _cached_version(book.pk) == 1
    assert _list_page().key == lists
    assert Book.objects.get(pk=book.pk).version == 1


@pytest.mark.django_db(transaction=True)
def test_a_write_inside_a_transaction_invalidates_when_it_commits() -> None:
    book = BookFactory()
    _store_book(1, book_id=book.pk)
    lists = _list_page().key

    with transaction.atomic():
        services.book_update(book=book, title="Changed")
        # Not committed: other readers still see version 1 in the database, and in the cache.
        assert _cached_version(book.pk) == 1
        assert _list_page().key == lists

    assert _book(book.pk).entry is None
    assert _list_page().key != lists


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(("method", "status"), [("PATCH", "200 OK"), ("DELETE", "204 No Content")])
def test_the_cache_is_invalidated_before_the_write_is_acknowledged(
    hot_path: CachedReads, token: str, method: str, status: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    book = BookFactory()
    assert _read_version(hot_path, book) == 1
    assert _read_version(hot_path, book) == 1  # a hit
    lists = _list_page().key
    events: list[str] = []
    store = read_cache.get_store()
    real_books_changed = store.books_changed

    def books_changed(fences: dict[int, int], ttl: int) -> None:
        real_books_changed(fences, ttl)
        events.append("invalidated")

    def start_response(answer: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        # The moment the client could learn of the write: the old version must be gone.
        events.append(f"acknowledged {answer}")
        assert _book(book.pk).entry is None
        assert _list_page().key != lists
        return lambda data: None

    monkeypatch.setattr(store, "books_changed", books_changed)
    environ = environ_for(
        method,
        f"/books/{book.pk}/",
        headers={"Authorization": f"Token {token}", "Content-Type": "application/json"},
        body=b'{"title": "Changed"}' if method == "PATCH" else b"",
    )
    body = hot_path(environ, start_response)
    b"".join(body)
    getattr(body, "close", lambda: None)()

    assert events == ["invalidated", f"acknowledged {status}"]


# --- the epoch: after a failure nothing stored before is trusted ----------------------------


class _FailsOnce:
    """A store whose books_changed fails the first time, as an unreachable cache would."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.store = read_cache.get_store()
        self.real = self.store.books_changed
        self.failures = 0
        monkeypatch.setattr(self.store, "books_changed", self)

    def __call__(self, fences: dict[int, int], ttl: int) -> None:
        if self.failures == 0:
            self.failures += 1
            raise read_cache.CacheUnavailable("connection refused (simulated)")
        self.real(fences, ttl)


@pytest.mark.django_db(transaction=True)
def test_after_a_failed_invalidation_entries_stored_before_are_abandoned(
    hot_path: CachedReads, monkeypatch: pytest.MonkeyPatch
) -> None:
    book = BookFactory()
    other = BookFactory()
    assert _read_version(hot_path, book) == 1
    assert _read_version(hot_path, other) == 1
    assert request(hot_path, path="/books/").status == 200
    old_list = _list_page()
    failing = _FailsOnce(monkeypatch)

    services.book_update(book=book, title="Changed")  # the failure never fails the write

    assert failing.failures == 1
    # The fence is missing, yet no reader may be given version 1 again.
    response = request(hot_path, path=f"/books/{book.pk}/")
    assert response.header("ETag") == etag_for(book.pk, 2)
    assert response.json()["title"] == "Changed"
    titles = [item["title"] for item in request(hot_path, path="/books/").json()["results"]]
    assert "Changed" in titles
    # Every entry of the old epoch is abandoned, not only the book written.
    assert _list_page().key != old_list.key
    assert _book(other.pk).entry is None


@pytest.mark.django_db(transaction=True)
def test_after_the_new_epoch_the_cache_is_used_again(
    settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings.READ_CACHE_ENABLED = True
    book = BookFactory()
    _FailsOnce(monkeypatch)
    services.book_update(book=book, title="Changed")
    django = CountingDjango()

    app = CachedReads(django)
    with connections_kept_open():
        assert _read_version(app, book) == 2  # a miss, stored in the new epoch
        assert _read_version(app, book) == 2

    assert django.paths == [f"/books/{book.pk}/"]  # the second read was a hit


@pytest.mark.django_db(transaction=True)
def test_a_failed_invalidation_never_fails_the_write(
    auth_client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    book = BookFactory()
    _FailsOnce(monkeypatch)

    response = auth_client.patch(f"/books/{book.pk}/", {"title": "Changed"}, format="json")

    assert response.status_code == 200, response.content
    assert Book.objects.get(pk=book.pk).title == "Changed"


def test_the_store_of_a_redis_cache_is_redis(settings: Any) -> None:
    """The store follows the settings' cache (so the CI run with REDIS_URL proves the Lua)."""
    expected = read_cache.RedisStore if settings.REDIS_URL else read_cache.DjangoCacheStore
    assert isinstance(read_cache.get_store(), expected)
