"""core.replicas.routing: catalogue reads go to a healthy replica; writes, transactions, accounts
and a user's reads just after their own write go to the primary.

The "replica" is a second connection to the test database (core.replicas.tests.replicas). The tests
are transactional: inside a test-wide transaction every read would go to the primary, and
the second connection would not see the test's rows.
"""

import itertools
import time
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest
from django.contrib.admin.models import LogEntry
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AnonymousUser
from django.contrib.contenttypes.models import ContentType
from django.contrib.sessions.models import Session
from django.core.cache import caches
from django.db import models, router, transaction
from knox.models import AuthToken
from rest_framework.test import APIClient

from books.models import Book
from books.permissions import give_role
from books.tests.factories import BookFactory, book_payload
from core.models import IdempotencyRecord
from core.replicas import health as replica_health
from core.replicas.routing import note_write, read_scope, reads_from_primary, wrote_recently
from core.replicas.tests.replicas import FixedHealth, queries_on, replica_alias

pytestmark = pytest.mark.django_db(transaction=True)

REPLICA = "replica_1"


@pytest.fixture
def replica(settings: Any) -> Iterator[str]:
    """replica_1, a second connection to the test database, behind ReplicaRouter."""
    settings.DATABASE_ROUTERS = ["core.replicas.routing.ReplicaRouter"]
    with replica_alias(REPLICA):
        yield REPLICA


@pytest.fixture
def health(monkeypatch: pytest.MonkeyPatch, replica: str) -> FixedHealth:
    """The process's replica verdict, chosen by the test: replica_1 is up."""
    replica_health.reset_replica_health()
    fixed = FixedHealth(replica)
    monkeypatch.setattr(replica_health, "_health", fixed)
    return fixed


def request_of(user: Any) -> Any:
    """What the router reads of a request: its (authenticated) user."""
    return SimpleNamespace(user=user)


def make_user(username: str) -> Any:
    user = get_user_model().objects.create_user(username=username, password="a-long-password-1")
    give_role(user, "editor")
    return user


def token_client(user: Any) -> APIClient:
    _, key = AuthToken.objects.create(user=user)
    client = APIClient(raise_request_exception=False)
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


# --- the router's rules -------------------------------------------------------------------


def test_a_catalogue_read_in_a_read_request_goes_to_a_healthy_replica(health: FixedHealth) -> None:
    with read_scope() as scope:
        assert router.db_for_read(Book) == REPLICA
        assert Book.objects.all().db == REPLICA
    assert scope.replica == REPLICA


def test_a_read_outside_any_request_goes_to_the_primary(health: FixedHealth) -> None:
    assert router.db_for_read(Book) == "default"


def test_a_read_in_a_primary_scope_goes_to_the_primary(health: FixedHealth) -> None:
    with read_scope(primary=True):
        assert router.db_for_read(Book) == "default"
    with read_scope(), reads_from_primary():
        assert router.db_for_read(Book) == "default"


def test_a_read_inside_a_transaction_goes_to_the_primary(health: FixedHealth) -> None:
    with read_scope():
        with transaction.atomic():
            assert router.db_for_read(Book) == "default"
        assert router.db_for_read(Book) == REPLICA


@pytest.mark.parametrize(
    "model",
    [get_user_model(), AuthToken, Session, IdempotencyRecord, LogEntry, ContentType],
    ids=lambda model: model._meta.label,
)
def test_accounts_tokens_sessions_and_idempotency_records_are_read_from_the_primary(
    health: FixedHealth, model: type[models.Model]
) -> None:
    with read_scope():
        assert router.db_for_read(model) == "default"
        assert router.db_for_read(Book) == REPLICA  # the catalogue in the same request


def test_with_no_healthy_replica_reads_go_to_the_primary(health: FixedHealth) -> None:
    health.up = ()

    with read_scope() as scope:
        assert router.db_for_read(Book) == "default"
    assert scope.replica is None


def test_every_read_of_a_request_goes_to_one_replica_and_requests_take_turns(
    health: FixedHealth,
) -> None:
    # One replica per request: two replicas replay at their own pace, so a request reading
    # from both could see a row and then not see it.
    health.up = (REPLICA, "replica_2")

    chosen = []
    for _ in range(4):
        with read_scope() as scope:
            reads = {router.db_for_read(Book) for _ in range(3)}
        assert reads == {scope.replica}
        chosen.append(scope.replica)

    assert set(chosen) == {REPLICA, "replica_2"}
    assert all(first != second for first, second in itertools.pairwise(chosen))


def test_a_request_whose_replica_goes_out_reads_from_another_healthy_one(
    health: FixedHealth,
) -> None:
    health.up = (REPLICA, "replica_2")
    with read_scope() as scope:
        first = router.db_for_read(Book)
        health.up = tuple(alias for alias in health.up if alias != first)

        second = router.db_for_read(Book)

        assert second in health.up
        assert scope.replica == second
        health.up = ()
        assert router.db_for_read(Book) == "default"


def test_writes_go_to_the_primary(health: FixedHealth) -> None:
    with read_scope():
        assert router.db_for_write(Book) == "default"
        book = BookFactory()
    assert book._state.db == "default"


def test_only_the_primary_is_migrated(health: FixedHealth) -> None:
    assert router.allow_migrate("default", "books", model_name="book")
    assert not router.allow_migrate(REPLICA, "books", model_name="book")
    assert not router.allow_migrate(REPLICA, "auth", model_name="user")


def test_related_reads_stay_on_the_database_their_instance_came_from(
    health: FixedHealth,
) -> None:
    book = BookFactory()
    with read_scope():
        from_replica = Book.objects.get(pk=book.pk)
    with read_scope(primary=True):
        from_primary = Book.objects.get(pk=book.pk)
    assert from_replica._state.db == REPLICA
    assert from_primary._state.db == "default"

    assert router.db_for_read(Book, instance=from_replica) == REPLICA  # outside any request
    with read_scope():
        assert router.db_for_read(Book, instance=from_primary) == "default"


# --- read-your-writes ---------------------------------------------------------------------


def test_a_user_who_just_wrote_reads_from_the_primary(health: FixedHealth) -> None:
    writer, other = make_user("writer"), make_user("other")
    note_write(writer.pk)

    with read_scope(request=request_of(writer)):
        assert router.db_for_read(Book) == "default"
        assert router.db_for_read(Book) == "default"  # the whole request, not the first read
    with read_scope(request=request_of(other)):
        assert router.db_for_read(Book) == REPLICA


def test_a_user_reads_from_replicas_again_once_the_marker_is_gone(
    health: FixedHealth, settings: Any
) -> None:
    writer = make_user("writer")
    settings.READ_YOUR_WRITES_SECONDS = 1
    note_write(writer.pk)
    with read_scope(request=request_of(writer)):
        assert router.db_for_read(Book) == "default"

    time.sleep(1.2)

    assert not wrote_recently(writer.pk)
    with read_scope(request=request_of(writer)):
        assert router.db_for_read(Book) == REPLICA


def test_an_anonymous_request_reads_from_a_replica(health: FixedHealth) -> None:
    with read_scope(request=request_of(AnonymousUser())):
        assert router.db_for_read(Book) == REPLICA


def test_a_cache_that_cannot_answer_counts_as_a_recent_write(
    health: FixedHealth, monkeypatch: pytest.MonkeyPatch
) -> None:
    writer = make_user("writer")
    assert not wrote_recently(writer.pk)

    # django-redis with IGNORE_EXCEPTIONS answers None for any key while Redis is down.
    backend = type(caches["default"])
    monkeypatch.setattr(backend, "get", lambda self, key, default=None, version=None: None)

    assert wrote_recently(writer.pk)
    with read_scope(request=request_of(writer)):
        assert router.db_for_read(Book) == "default"


# --- through the HTTP stack ---------------------------------------------------------------


@pytest.fixture
def two_replicas(health: FixedHealth) -> Iterator[tuple[str, str]]:
    """replica_1 and replica_2, both second connections to the test database, both up."""
    with replica_alias("replica_2"):
        health.up = (REPLICA, "replica_2")
        yield (REPLICA, "replica_2")


@pytest.mark.parametrize("path", ["/books/{pk}/", "/books/"], ids=["detail", "list"])
def test_an_anonymous_read_of_the_catalogue_runs_on_the_replica(
    health: FixedHealth, path: str
) -> None:
    book = BookFactory(title="Dune")

    with queries_on("default", REPLICA) as queries:
        response = APIClient().get(path.format(pk=book.pk))

    assert response.status_code == 200
    assert "Dune" in response.content.decode()
    assert queries.book_reads(REPLICA)
    assert queries.book_reads("default") == []


def test_a_head_request_reads_from_the_replica(health: FixedHealth) -> None:
    book = BookFactory()

    with queries_on("default", REPLICA) as queries:
        response = APIClient().head(f"/books/{book.pk}/")

    assert response.status_code == 200
    assert queries.book_reads(REPLICA)
    assert queries.book_reads("default") == []


def test_a_signed_in_read_checks_the_token_on_the_primary_and_reads_books_from_the_replica(
    health: FixedHealth,
) -> None:
    book = BookFactory()
    client = token_client(make_user("reader"))

    with queries_on("default", REPLICA) as queries:
        response = client.get(f"/books/{book.pk}/")

    assert response.status_code == 200
    assert any("knox_authtoken" in sql for sql in queries.on("default"))
    assert not any("knox_authtoken" in sql for sql in queries.on(REPLICA))
    assert queries.book_reads(REPLICA)
    assert queries.book_reads("default") == []


def test_a_write_runs_on_the_primary_and_its_author_then_reads_from_the_primary(
    health: FixedHealth,
) -> None:
    writer = token_client(make_user("writer"))
    reader = token_client(make_user("reader"))

    with queries_on("default", REPLICA) as queries:
        created = writer.post("/books/", book_payload(title="Fresh"), format="json")
    assert created.status_code == 201, created.content
    assert any(sql.startswith("INSERT") and "books_book" in sql for sql in queries.on("default"))
    assert queries.on(REPLICA) == []
    url = f"/books/{created.json()['id']}/"

    with queries_on("default", REPLICA) as queries:
        own = writer.get(url)
    assert own.status_code == 200
    assert own.json()["title"] == "Fresh"
    assert queries.book_reads("default")
    assert queries.on(REPLICA) == []

    for other in (reader, APIClient()):
        with queries_on("default", REPLICA) as queries:
            theirs = other.get(url)
        assert theirs.status_code == 200
        assert queries.book_reads(REPLICA)
        assert queries.book_reads("default") == []


@pytest.mark.parametrize("method", ["put", "patch", "delete"])
def test_every_read_of_an_unsafe_request_runs_on_the_primary(
    health: FixedHealth, method: str
) -> None:
    book = BookFactory()
    client = token_client(make_user("editor"))

    with queries_on("default", REPLICA) as queries:
        response = getattr(client, method)(
            f"/books/{book.pk}/", book_payload(title="Edited"), format="json"
        )

    assert response.status_code in (200, 204), response.content
    assert queries.book_reads("default")
    assert queries.on(REPLICA) == []


def test_an_admin_change_pins_reads_to_the_primary_and_then_to_its_author(
    health: FixedHealth,
) -> None:
    book = BookFactory(title="Before")
    staff = get_user_model().objects.create_superuser(
        username="librarian", password="a-long-password-1"
    )
    admin = APIClient(raise_request_exception=False)
    admin.force_login(staff)
    form = {
        "title": "After",
        "author": book.author,
        "publication_date": book.publication_date.isoformat(),
        "publication_date_precision": book.publication_date_precision,
        "isbn": book.isbn,
        "summary": book.summary,
    }

    with queries_on("default", REPLICA) as queries:
        changed = admin.post(f"/admin/books/book/{book.pk}/change/", form)
    assert changed.status_code == 302, changed.content
    assert queries.book_reads("default")
    assert queries.on(REPLICA) == []

    with queries_on("default", REPLICA) as queries:
        listed = admin.get("/admin/books/book/")
    assert listed.status_code == 200
    assert "After" in listed.content.decode()
    assert queries.on(REPLICA) == []

    with queries_on("default", REPLICA) as queries:
        assert APIClient().get(f"/books/{book.pk}/").json()["title"] == "After"
    assert queries.book_reads(REPLICA)


def test_all_book_reads_of_a_request_run_on_one_replica_and_the_next_request_on_the_other(
    two_replicas: tuple[str, str],
) -> None:
    # The admin's book list counts the books, then reads a page: two reads, one snapshot.
    BookFactory.create_batch(3)
    staff = get_user_model().objects.create_superuser(
        username="librarian", password="a-long-password-1"
    )
    admin = APIClient(raise_request_exception=False)
    admin.force_login(staff)

    used = []
    for _ in range(2):
        with queries_on("default", *two_replicas) as queries:
            response = admin.get("/admin/books/book/")
        assert response.status_code == 200
        on = [alias for alias in two_replicas if queries.book_reads(alias)]
        assert len(on) == 1, {alias: queries.book_reads(alias) for alias in two_replicas}
        assert len(queries.book_reads(on[0])) >= 2
        assert queries.book_reads("default") == []
        used.append(on[0])

    assert sorted(used) == sorted(two_replicas)
