"""The read cache's memory is bounded without putting fences or counters at risk (issue 13,
finding 4): at most READ_CACHE_LIST_BUDGET_BYTES of list pages are stored per TTL window, and Redis
keeps noeviction, so nothing else is ever evicted or refused."""

import contextlib
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from django.core.cache import cache

from books import read_cache
from books.hot_path import CachedReads
from books.tests.factories import BookFactory
from books.tests.wsgi import CountingDjango, connections_kept_open, request
from harness.ports import free_port

pytestmark = pytest.mark.django_db

ORDERINGS = ["title", "-title", "author", "-author", "publication_date", "-publication_date"]


@pytest.fixture
def hot_path(settings: Any, django: CountingDjango) -> Iterator[CachedReads]:
    settings.READ_CACHE_ENABLED = True
    # A day's budget window: a test never straddles two, short of midnight UTC.
    settings.READ_CACHE_TTL = 24 * 60 * 60
    with connections_kept_open():
        yield CachedReads(django)


def _distinct_queries(count: int) -> list[str]:
    return [f"ordering={ORDERINGS[i % 6]}&page_size={1 + i // 6}" for i in range(count)]


def _bytes_spent() -> int:
    """This window's list-page budget spent so far, as the store counts it."""
    budget = read_cache.list_page_budget(":rc:l:any", read_cache.ttl())
    assert budget is not None
    counter = budget[0]
    client = getattr(cache, "client", None)
    if client is not None:  # RedisStore: a raw counter under the store's prefix
        raw = client.get_client(write=True).get(cache.make_key("rc:") + counter)
        return int(raw or 0)
    return int(cache.get(f"rc:{counter}") or 0)  # DjangoCacheStore


def _page_bytes(hot_path: CachedReads, settings: Any) -> int:
    """The stored size of one list page of the test's books (the queries below give bodies of
    the same size but for their links), measured by storing one."""
    settings.READ_CACHE_LIST_BUDGET_BYTES = 10**9
    before = _bytes_spent()
    request(hot_path, path="/books/", query="ordering=title&page_size=99")
    return _bytes_spent() - before


def test_no_more_list_pages_are_stored_per_window_than_the_bound(
    settings: Any, hot_path: CachedReads, django: CountingDjango
) -> None:
    BookFactory.create_batch(2)
    page_bytes = _page_bytes(hot_path, settings)
    # Room for three more pages of that size: every page below holds both books and no links
    # (no next or previous page), so all are the same size, whatever their order.
    settings.READ_CACHE_LIST_BUDGET_BYTES = page_bytes * 4 + page_bytes // 2
    queries = [f"ordering={ORDERINGS[i % 6]}&page_size={2 + i // 6}" for i in range(8)]
    for query in queries:
        assert request(hot_path, path="/books/", query=query).status == 200

    calls = django.calls
    for query in queries:
        request(hot_path, path="/books/", query=query)

    assert django.calls - calls == len(queries) - 3  # three were stored, the rest go to Django


def test_book_entries_are_not_bounded_by_the_list_budget(
    settings: Any, hot_path: CachedReads, django: CountingDjango
) -> None:
    settings.READ_CACHE_LIST_BUDGET_BYTES = 1
    books = BookFactory.create_batch(3)
    for book in books:
        request(hot_path, path=f"/books/{book.pk}/")
    calls = django.calls
    for book in books:
        assert request(hot_path, path=f"/books/{book.pk}/").status == 200
    assert django.calls == calls


# --- a real Redis filled past its maxmemory ---------------------------------------------------

MAXMEMORY = 2 * 1024 * 1024


@pytest.fixture
def small_redis(tmp_path: Path) -> Iterator[str]:
    """A private redis-server with 2 MB and noeviction, as deploy/docker-compose.yml runs it."""
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed")
    port = free_port()
    server = shutil.which("redis-server") or "redis-server"
    pidfile = tmp_path / "redis.pid"
    subprocess.run(  # noqa: S603 - a fixed command line
        [
            server, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
            "--appendonly", "no", "--maxmemory", str(MAXMEMORY),
            "--maxmemory-policy", "noeviction", "--daemonize", "yes",
            "--pidfile", str(pidfile), "--dir", str(tmp_path),
        ],
        check=True,
    )  # fmt: skip
    client = redis.Redis(host="127.0.0.1", port=port)
    try:
        for _ in range(50):
            try:
                client.ping()
                break
            except redis.ConnectionError:
                time.sleep(0.1)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        with contextlib.suppress(redis.ConnectionError):  # it may have gone already
            client.shutdown(nosave=True)


@pytest.fixture
def cache_on(settings: Any, small_redis: str, monkeypatch: pytest.MonkeyPatch) -> redis.Redis:
    caches = dict(settings.CACHES)
    caches["default"] = {
        "BACKEND": "core.cache_backends.RedisCache",
        "LOCATION": small_redis,
        "KEY_PREFIX": "bookstore",
        "OPTIONS": {"CLIENT_CLASS": "django_redis.client.DefaultClient"},
    }
    settings.CACHES = caches
    monkeypatch.setattr(read_cache, "_store", None)
    return redis.Redis.from_url(small_redis)


def test_filling_the_cache_past_redis_maxmemory_keeps_fences_and_counters(
    settings: Any, cache_on: redis.Redis, hot_path: CachedReads, django: CountingDjango
) -> None:
    settings.READ_CACHE_LIST_BUDGET_BYTES = 5 * 110_000  # about five of the ~100 kB pages
    books = BookFactory.create_batch(100, summary="s" * 1900)  # ~2 kB a book
    fenced = books[0]
    # A fence, as a committed delete leaves it (books_deleted runs this on commit).
    read_cache.get_store().books_changed({fenced.pk: read_cache.DELETED}, 360)
    fence_key = cache.make_key(f"rc:d:0:{fenced.pk}")
    assert cache_on.get(fence_key) is not None

    # ~100 kB pages, 300 distinct ones: ~30 MB unbounded, fifteen times Redis's memory.
    statuses = set()
    for query in _distinct_queries(600)[300:]:
        statuses.add(request(hot_path, path="/books/", query=query).status)

    assert statuses == {200}
    assert cache_on.info("memory")["used_memory"] < MAXMEMORY
    assert (cache_on.get(fence_key) or b"").startswith(b"T")
    counters = [key for key in cache_on.keys("*throttle_anon*")]
    assert counters, cache_on.keys("*")
    # Summed over the fixed windows: a slow run may cross a window's boundary.
    assert sum(int(cache_on.get(key) or 0) for key in counters) >= 300
