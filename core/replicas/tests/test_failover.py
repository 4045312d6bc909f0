"""core.replicas.middleware.ReadRoutingMiddleware: a read whose replica fails is answered again from
the primary, once, and the replica is taken out; a write never touches a replica."""

import logging
from collections.abc import Callable, Iterator
from typing import Any

import psycopg.errors
import pytest
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.db import OperationalError, ProgrammingError, connections
from knox.models import AuthToken
from prometheus_client import REGISTRY
from rest_framework.test import APIClient

from books.models import Book
from books.permissions import give_role
from books.tests.factories import BookFactory, book_payload
from core.exceptions import is_database_unavailable
from core.replicas import health as replica_health
from core.replicas.health import ReplicaHealth
from core.replicas.tests.replicas import (
    UNREACHABLE_POSTGRESQL,
    queries_on,
    replica_alias,
    started_health,
)
from core.tests.conftest import LogLines, Samples
from core.throttling import anon_counter_key

pytestmark = pytest.mark.django_db(transaction=True)

REPLICA = "replica_1"
RESPONSES = "django_http_responses_total_by_status_view_method_total"


@pytest.fixture
def routed(settings: Any) -> None:
    settings.DATABASE_ROUTERS = ["core.replicas.routing.ReplicaRouter"]


@pytest.fixture
def health(monkeypatch: pytest.MonkeyPatch) -> ReplicaHealth:
    """The process's real verdict, believing replica_1 up, with no checker thread."""
    replica_health.reset_replica_health()
    health = started_health(REPLICA)
    monkeypatch.setattr(replica_health, "_health", health)
    return health


@pytest.fixture
def unreachable_replica(routed: None, health: ReplicaHealth) -> Iterator[str]:
    """replica_1 is a PostgreSQL server that is not there, and is believed up."""
    with replica_alias(REPLICA, UNREACHABLE_POSTGRESQL):
        yield REPLICA


#: SQLSTATEs of statements that fail on a replica: replay cancelled the query (another
#: server may answer it), a statement timeout and a wrong statement (any server would fail).
REPLAY_CONFLICT = "40001"
STATEMENT_TIMEOUT = "57014"
UNDEFINED_TABLE = "42P01"


@pytest.fixture
def failing_replica(
    routed: None, health: ReplicaHealth, monkeypatch: pytest.MonkeyPatch
) -> Iterator[str]:
    """replica_1 reaches the test database, but every statement on it fails as a replica's
    statement can (cancelled by a conflict with recovery): an error, not unavailability."""
    with replica_alias(REPLICA):
        replica = connections[REPLICA]
        monkeypatch.setattr(replica, "create_cursor", _statement_error(replica, REPLAY_CONFLICT))
        yield REPLICA


class _SQLiteErrorWithSQLState:
    """Lets a SQLite error carry a PostgreSQL SQLSTATE, as psycopg's errors do."""

    sqlstate: str


def _driver_error(connection: Any, sqlstate: str, message: str) -> Exception:
    """The driver's own error for `sqlstate`: psycopg's class for it, or on SQLite (which has
    no SQLSTATE) its error of the same DB-API kind, carrying one."""
    psycopg_class = psycopg.errors.lookup(sqlstate)
    if connection.vendor == "postgresql":
        return psycopg_class(message)  # type: ignore[no-any-return]
    kind = next(
        base.__name__
        for base in psycopg_class.__mro__
        if base.__name__ in ("OperationalError", "ProgrammingError")
    )
    error_class = type(kind, (_SQLiteErrorWithSQLState, getattr(connection.Database, kind)), {})
    error = error_class(message)
    error.sqlstate = sqlstate
    return error  # type: ignore[no-any-return]


def _statement_error(connection: Any, sqlstate: str) -> Callable[..., Any]:
    """create_cursor raising the driver's own error for `sqlstate`, as a failed statement
    does; Django calls it inside wrap_database_errors, which marks the connection as having
    failed and raises Django's error from the driver's."""

    def fail(name: str | None = None) -> Any:
        raise _driver_error(connection, sqlstate, f"statement failed ({sqlstate})")

    return fail


def _unreachable(connection: Any) -> Callable[..., Any]:
    """create_cursor raising what a connection the server dropped raises: unavailability."""

    def fail(name: str | None = None) -> Any:
        if connection.vendor == "postgresql":
            raise psycopg.OperationalError("server closed the connection unexpectedly")
        error = connection.Database.OperationalError("unable to open database file")
        error.sqlite_errorcode, error.sqlite_errorname = 14, "SQLITE_CANTOPEN"
        raise error

    return fail


def finished_lines(logs: LogLines, path: str) -> list[dict[str, Any]]:
    return [line for line in logs() if line["event"] == "request_finished" and line["path"] == path]


def retried(logs: LogLines) -> list[dict[str, Any]]:
    return [line for line in logs() if line["event"] == "read_retried_on_primary"]


def responses(samples: Samples, status: str) -> float:
    return sum(
        value
        for (name, labels), value in samples.items()
        if name == RESPONSES
        and ("status", status) in labels
        and ("method", "GET") in labels
        and any(key == "view" and value.startswith("book-") for key, value in labels)
    )


@pytest.fixture
def book() -> Book:
    return BookFactory(title="Dune", author="Frank Herbert")


def token_client() -> APIClient:
    user = get_user_model().objects.create_user(username="writer", password="a-long-password-1")
    give_role(user, "editor")
    _, key = AuthToken.objects.create(user=user)
    client = APIClient(raise_request_exception=False)
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


# --- an unreachable replica ------------------------------------------------------------


@pytest.mark.parametrize("path", ["/books/{pk}/", "/books/"], ids=["detail", "list"])
def test_a_read_whose_replica_is_unreachable_is_answered_from_the_primary(
    unreachable_replica: str,
    health: ReplicaHealth,
    book: Book,
    path: str,
    json_logs: LogLines,
    scrape: Callable[[], Samples],
) -> None:
    url = path.format(pk=book.pk)
    before = scrape()

    with queries_on("default") as queries:
        response = APIClient(raise_request_exception=False).get(url)

    assert response.status_code == 200, response.content
    body = response.json()
    found = body if "title" in body else body["results"][0]
    assert (found["id"], found["title"]) == (book.pk, "Dune")
    assert queries.book_reads("default")
    assert health.healthy() == ()
    assert [line["replicas"] for line in retried(json_logs)] == [[REPLICA]]
    # Counted and logged once, as the client saw it.
    assert [line["status"] for line in finished_lines(json_logs, url)] == [200]
    after = scrape()
    assert responses(after, "200") - responses(before, "200") == 1
    assert responses(after, "503") - responses(before, "503") == 0


def test_after_a_replica_failed_the_next_read_does_not_try_it(
    unreachable_replica: str, book: Book, json_logs: LogLines
) -> None:
    client = APIClient(raise_request_exception=False)
    assert client.get(f"/books/{book.pk}/").status_code == 200

    second = client.get(f"/books/{book.pk}/")

    assert second.status_code == 200
    assert len(retried(json_logs)) == 1


def test_a_gauge_says_the_failed_replica_is_out(unreachable_replica: str, book: Book) -> None:
    APIClient(raise_request_exception=False).get(f"/books/{book.pk}/")

    labels = {"database": REPLICA}
    assert REGISTRY.get_sample_value("bookstore_replica_healthy", labels) == 0


def test_an_admin_page_whose_replica_is_unreachable_is_answered_from_the_primary(
    unreachable_replica: str, health: ReplicaHealth, book: Book, json_logs: LogLines
) -> None:
    staff = get_user_model().objects.create_superuser(
        username="librarian", password="a-long-password-1"
    )
    client = APIClient(raise_request_exception=False)
    client.force_login(staff)

    response = client.get("/admin/books/book/")

    assert response.status_code == 200
    assert "Dune" in response.content.decode()
    assert health.healthy() == ()
    assert len(retried(json_logs)) == 1


def test_a_write_never_touches_a_replica(
    unreachable_replica: str, health: ReplicaHealth, json_logs: LogLines
) -> None:
    client = token_client()

    created = client.post("/books/", book_payload(), format="json")

    assert created.status_code == 201, created.content
    assert Book.objects.filter(pk=created.json()["id"]).exists()
    assert connections[REPLICA].connection is None
    assert not connections[REPLICA].errors_occurred
    assert health.healthy() == (REPLICA,)
    assert retried(json_logs) == []


# --- a statement that fails on the replica -------------------------------------------------


def test_the_simulated_replica_error_is_a_statement_error_not_unavailability(
    failing_replica: str,
) -> None:
    with pytest.raises(OperationalError) as raised:
        connections[REPLICA].cursor()

    assert not is_database_unavailable(raised.value)
    assert raised.value.__cause__.sqlstate == REPLAY_CONFLICT  # type: ignore[union-attr]
    assert connections[REPLICA].errors_occurred


@pytest.mark.parametrize("path", ["/books/{pk}/", "/books/"], ids=["detail", "list"])
def test_a_read_whose_replica_query_is_cancelled_by_replay_is_answered_from_the_primary(
    failing_replica: str,
    health: ReplicaHealth,
    book: Book,
    path: str,
    json_logs: LogLines,
) -> None:
    url = path.format(pk=book.pk)

    response = APIClient(raise_request_exception=False).get(url)

    assert response.status_code == 200, response.content
    assert "Dune" in response.content.decode()
    assert health.healthy() == ()
    assert [line["replicas"] for line in retried(json_logs)] == [[REPLICA]]
    assert [line["status"] for line in finished_lines(json_logs, url)] == [200]


def test_a_failed_read_on_the_primary_is_not_answered_twice(
    routed: None,
    health: ReplicaHealth,
    book: Book,
    json_logs: LogLines,
) -> None:
    health._healthy = ()  # no replica up: the read runs on the primary
    primary = connections["default"]
    with replica_alias(REPLICA):
        # Even the kind of error a replica's read is answered again for.
        primary.create_cursor = _statement_error(  # type: ignore[method-assign]
            primary, REPLAY_CONFLICT
        )
        try:
            response = APIClient(raise_request_exception=False).get(f"/books/{book.pk}/")
        finally:
            del primary.create_cursor

    assert response.status_code == 500
    assert retried(json_logs) == []


def test_a_read_answered_again_counts_once_against_the_rate_limit(
    unreachable_replica: str, book: Book
) -> None:
    # "Only reads are answered twice: they change nothing" (ReadRoutingMiddleware): the
    # client's throttle counter is something a read changes.
    client = {"REMOTE_ADDR": "127.0.0.1"}  # as the test client sends it; "600/min"
    before = anon_counter_key(client, 60)
    response = APIClient(raise_request_exception=False).get(f"/books/{book.pk}/")
    windows = {before, anon_counter_key(client, 60)}  # one, short of a minute's turn

    assert response.status_code == 200
    assert sum(cache.get(key) or 0 for key in windows) == 1


@pytest.mark.parametrize(
    ("sqlstate", "error"),
    [(STATEMENT_TIMEOUT, OperationalError), (UNDEFINED_TABLE, ProgrammingError)],
    ids=["statement-timeout", "undefined-table"],
)
def test_a_replica_statement_error_any_server_would_give_is_not_answered_again(
    routed: None,
    health: ReplicaHealth,
    book: Book,
    json_logs: LogLines,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    sqlstate: str,
    error: type[Exception],
) -> None:
    # A query too slow or wrong fails on the primary too: answering again doubles its cost,
    # and taking the replica out would send everyone's reads to the primary for nothing.
    with replica_alias(REPLICA):
        replica = connections[REPLICA]
        monkeypatch.setattr(replica, "create_cursor", _statement_error(replica, sqlstate))

        with caplog.at_level(logging.ERROR, logger="django.request"):
            response = APIClient(raise_request_exception=False).get(f"/books/{book.pk}/")

    assert response.status_code == 500
    assert response.json() == {"detail": "Internal server error."}
    assert [type(record.exc_info[1]) for record in caplog.records if record.exc_info] == [error]
    assert health.healthy() == (REPLICA,)
    assert retried(json_logs) == []


# --- the second answer, from the primary, fails too ------------------------------------------


@pytest.fixture
def replica_then_primary_fails(
    failing_replica: str, monkeypatch: pytest.MonkeyPatch
) -> Callable[[Callable[..., Any]], None]:
    """Make the primary fail with `failure` (a create_cursor), once the replica has failed."""
    replica = connections[REPLICA]
    primary = connections["default"]

    def then(failure: Callable[..., Any]) -> None:
        replica_failure = replica.create_cursor
        failed = {"replica": False}

        def replica_fails(name: str | None = None) -> Any:
            failed["replica"] = True
            return replica_failure(name)

        def primary_fails_after_the_replica(name: str | None = None) -> Any:
            if failed["replica"]:
                return failure(name)
            return primary_cursor(name)

        primary_cursor = primary.create_cursor
        monkeypatch.setattr(replica, "create_cursor", replica_fails)
        monkeypatch.setattr(primary, "create_cursor", primary_fails_after_the_replica)

    return then


@pytest.mark.parametrize("page", ["api", "admin"])
def test_a_read_whose_primary_is_unavailable_on_the_second_answer_is_the_json_503(
    replica_then_primary_fails: Callable[[Callable[..., Any]], None],
    health: ReplicaHealth,
    book: Book,
    json_logs: LogLines,
    page: str,
) -> None:
    # Answered again once only: the primary's outage is reported as any other (by DRF's
    # handler, or DatabaseUnavailableMiddleware outside DRF), never as the empty stand-in
    # that stops the first answer.
    client = APIClient(raise_request_exception=False)
    if page == "admin":
        staff = get_user_model().objects.create_superuser(
            username="librarian", password="a-long-password-1"
        )
        client.force_login(staff)
    url = f"/books/{book.pk}/" if page == "api" else "/admin/books/book/"
    replica_then_primary_fails(_unreachable(connections["default"]))

    response = client.get(url)

    assert response.status_code == 503
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"detail": "The database is unavailable; retry shortly."}
    assert response["Retry-After"] == "1"
    assert len(retried(json_logs)) == 1
    assert health.healthy() == ()


def test_a_read_whose_primary_fails_otherwise_on_the_second_answer_is_a_logged_500(
    replica_then_primary_fails: Callable[[Callable[..., Any]], None],
    health: ReplicaHealth,
    book: Book,
    json_logs: LogLines,
    caplog: pytest.LogCaptureFixture,
) -> None:
    primary = connections["default"]
    # Even the error a replica's read is answered again for: the primary has had its turn.
    replica_then_primary_fails(_statement_error(primary, REPLAY_CONFLICT))

    with caplog.at_level(logging.ERROR, logger="django.request"):
        response = APIClient(raise_request_exception=False).get(f"/books/{book.pk}/")

    assert response.status_code == 500
    assert response.json() == {"detail": "Internal server error."}
    assert len(retried(json_logs)) == 1
    assert any(
        record.exc_info and isinstance(record.exc_info[1], OperationalError)
        for record in caplog.records
    )
