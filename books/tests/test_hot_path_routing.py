"""books.hot_path fills the shared read cache from the primary: the cache keeps a page until
the next write, so it must never keep one read from a replica that has not replayed that
write yet. Requests the cache does not keep read from replicas as any other read does."""

from collections.abc import Iterator
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from knox.models import AuthToken

from books.hot_path import CachedReads
from books.models import Book
from books.tests.factories import BookFactory
from books.tests.wsgi import CountingDjango, connections_kept_open, request
from core.replicas import health as replica_health
from core.replicas.routing import READ_FROM_PRIMARY_ENVIRON_KEY
from core.replicas.tests.replicas import FixedHealth, queries_on, replica_alias

# Transactional: inside a test-wide transaction every read goes to the primary anyway.
pytestmark = pytest.mark.django_db(transaction=True)

REPLICA = "replica_1"


class RecordingDjango(CountingDjango):
    """Django's application, recording whether each request came marked to read the primary."""

    def __init__(self) -> None:
        super().__init__()
        self.marked: list[bool] = []

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        self.marked.append(environ.get(READ_FROM_PRIMARY_ENVIRON_KEY) is True)
        return super().__call__(environ, start_response)


@pytest.fixture
def replica(settings: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """replica_1, a second connection to the test database, up and behind ReplicaRouter."""
    settings.DATABASE_ROUTERS = ["core.replicas.routing.ReplicaRouter"]
    replica_health.reset_replica_health()
    monkeypatch.setattr(replica_health, "_health", FixedHealth(REPLICA))
    with replica_alias(REPLICA):
        yield REPLICA


@pytest.fixture
def django() -> RecordingDjango:
    return RecordingDjango()


@pytest.fixture
def hot_path(settings: Any, django: RecordingDjango, replica: str) -> Iterator[CachedReads]:
    settings.READ_CACHE_ENABLED = True
    with connections_kept_open():
        yield CachedReads(django)


@pytest.fixture
def book() -> Book:
    return BookFactory(title="Dune")


@pytest.mark.parametrize("path", ["/books/{pk}/", "/books/"], ids=["book", "list"])
def test_a_cache_fill_reaches_django_marked_to_read_from_the_primary(
    hot_path: CachedReads, django: RecordingDjango, book: Book, path: str
) -> None:
    with queries_on("default", REPLICA) as queries:
        miss = request(hot_path, path=path.format(pk=book.pk))

    assert miss.status == 200
    assert b"Dune" in miss.body
    assert django.marked == [True]
    assert queries.book_reads("default")
    assert queries.on(REPLICA) == []


def _token() -> str:
    user = get_user_model().objects.create_user(username="reader", password="a-long-password-1")
    return AuthToken.objects.create(user=user)[1]


@pytest.mark.parametrize(
    ("path", "headers"),
    [
        ("/books/{pk}/?format=json", {}),
        ("/books/{pk}/", {"Authorization": "Token {token}"}),
        ("/books/", {"Authorization": "Token {token}"}),
        ("/books/", {"Origin": "https://example.com"}),
    ],
    ids=["query-string", "token-book", "token-list", "cors"],
)
def test_a_read_the_cache_does_not_keep_reaches_django_unmarked_and_reads_a_replica(
    hot_path: CachedReads,
    django: RecordingDjango,
    book: Book,
    path: str,
    headers: dict[str, str],
) -> None:
    token = _token()
    sent = {name: value.format(token=token) for name, value in headers.items()}
    url, _, query = path.format(pk=book.pk).partition("?")

    with queries_on("default", REPLICA) as queries:
        response = request(hot_path, path=url, query=query, headers=sent)

    assert response.status == 200, response.body
    assert django.marked == [False]
    assert queries.book_reads(REPLICA)
    assert queries.book_reads("default") == []


def test_with_the_cache_off_an_anonymous_read_reaches_django_unmarked(
    hot_path: CachedReads, django: RecordingDjango, book: Book, settings: Any
) -> None:
    settings.READ_CACHE_ENABLED = False
    cache_off = CachedReads(django)

    with queries_on("default", REPLICA) as queries:
        response = request(cache_off, path=f"/books/{book.pk}/")

    assert response.status == 200
    assert django.marked == [False]
    assert queries.book_reads(REPLICA)
