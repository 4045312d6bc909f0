"""An unreachable database is a fast 503 JSON with Retry-After, not a 500, on every path.

"Unreachable" means the connection failed (refused, timed out, closed by the server, the
server shutting down or starting up), not that a statement failed: a duplicate, a deadlock or
a statement timeout stays what it was. The connection that saw the failure is closed, so the
next request opens a new one. The fault tests (faults/) show the same against a real server.
"""

import json
import sqlite3
from pathlib import Path
from typing import Any

import psycopg
import psycopg.errors
import pytest
from django.db import IntegrityError, InterfaceError, OperationalError, connection
from django.http import HttpRequest, HttpResponse
from django.test import Client, RequestFactory
from django.urls import path
from rest_framework.test import APIClient

from books import selectors, services
from books.models import Book
from books.tests.factories import BookFactory, book_payload
from core.authentication import TokenAuthentication
from core.exceptions import DATABASE_UNAVAILABLE_MESSAGE, is_database_unavailable
from core.middleware import DatabaseUnavailableMiddleware


def django_error(django_class: type[Exception], driver_error: BaseException) -> Exception:
    """The error as Django raises it: its own class, caused by the driver's."""
    error = django_class(*getattr(driver_error, "args", ()))
    error.__cause__ = driver_error
    return error


def refused() -> Exception:
    return django_error(
        OperationalError,
        psycopg.OperationalError(
            'connection failed: connection to server at "127.0.0.1", port 5432 failed: '
            "Connection refused"
        ),
    )


def raise_refused(*args: object, **kwargs: object) -> Any:
    raise refused()


def sqlite_error(tmp_path: Path, *, locked: bool) -> sqlite3.OperationalError:
    """A real SQLite error: "database is locked" (SQLITE_BUSY) or "no such table"."""
    file = str(tmp_path / "db.sqlite3")
    holder = sqlite3.connect(file, isolation_level=None)
    holder.execute("CREATE TABLE t (x)")
    holder.execute("BEGIN IMMEDIATE")
    other = sqlite3.connect(file, timeout=0, isolation_level=None)
    try:
        if locked:
            other.execute("INSERT INTO t VALUES (1)")
        else:
            other.execute("SELECT * FROM missing")
    except sqlite3.OperationalError as error:
        return error
    finally:
        other.close()
        holder.close()
    raise AssertionError("SQLite did not fail")


def assert_database_unavailable(response: Any) -> None:
    assert response.status_code == 503, response.content
    assert response["Content-Type"] == "application/json"
    assert response["Retry-After"] == "1"
    assert json.loads(response.content) == {"detail": DATABASE_UNAVAILABLE_MESSAGE}


# --- What counts as unavailable ---------------------------------------------------------

UNAVAILABLE = {
    "refused": refused,
    "connect-timeout": lambda: django_error(
        OperationalError, psycopg.errors.ConnectionTimeout("connection timeout expired")
    ),
    "closed-by-server": lambda: django_error(
        OperationalError,
        psycopg.OperationalError("consuming input failed: server closed the connection"),
    ),
    "admin-shutdown": lambda: django_error(
        OperationalError,
        psycopg.errors.AdminShutdown("terminating connection due to administrator command"),
    ),
    "crash-shutdown": lambda: django_error(
        OperationalError, psycopg.errors.CrashShutdown("terminating connection")
    ),
    "starting-up": lambda: django_error(
        OperationalError, psycopg.errors.CannotConnectNow("the database system is starting up")
    ),
    "connection-failure": lambda: django_error(
        OperationalError, psycopg.errors.ConnectionFailure("connection failure")
    ),
    "too-many-clients": lambda: django_error(
        OperationalError, psycopg.errors.TooManyConnections("sorry, too many clients already")
    ),
    "connection-already-closed": lambda: InterfaceError("connection already closed"),
    "no-driver-detail": lambda: OperationalError("could not connect"),
}

NOT_UNAVAILABLE = {
    "duplicate": lambda: django_error(
        IntegrityError, psycopg.errors.UniqueViolation("duplicate key value")
    ),
    "deadlock": lambda: django_error(
        OperationalError, psycopg.errors.DeadlockDetected("deadlock detected")
    ),
    "statement-timeout": lambda: django_error(
        OperationalError, psycopg.errors.QueryCanceled("canceling statement due to timeout")
    ),
    "lock-timeout": lambda: django_error(
        OperationalError, psycopg.errors.LockNotAvailable("could not obtain lock")
    ),
    "not-a-database-error": lambda: RuntimeError("connection refused"),
}


@pytest.mark.parametrize("make_error", UNAVAILABLE.values(), ids=UNAVAILABLE.keys())
def test_a_failed_connection_is_unavailability(make_error: Any) -> None:
    assert is_database_unavailable(make_error())


@pytest.mark.parametrize("make_error", NOT_UNAVAILABLE.values(), ids=NOT_UNAVAILABLE.keys())
def test_a_failed_statement_is_not_unavailability(make_error: Any) -> None:
    assert not is_database_unavailable(make_error())


def test_a_locked_sqlite_file_is_unavailability(tmp_path: Path) -> None:
    error = django_error(OperationalError, sqlite_error(tmp_path, locked=True))

    assert is_database_unavailable(error)


def test_a_missing_sqlite_table_is_not_unavailability(tmp_path: Path) -> None:
    error = django_error(OperationalError, sqlite_error(tmp_path, locked=False))

    assert not is_database_unavailable(error)


# --- API views (DRF's exception handler) -------------------------------------------------


@pytest.mark.django_db
def test_a_read_while_the_database_is_down_is_a_json_503_with_retry_after(
    api_client: APIClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(selectors, "book_list", raise_refused)

    assert_database_unavailable(api_client.get("/books/"))


@pytest.mark.django_db
def test_a_write_while_the_database_is_down_is_a_json_503_and_stores_nothing(
    auth_client: APIClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(services, "book_create", raise_refused)

    response = auth_client.post("/books/", data=book_payload(), format="json")

    assert_database_unavailable(response)
    assert Book.objects.count() == 0


@pytest.mark.django_db
def test_a_token_check_while_the_database_is_down_is_a_json_503_not_a_401(
    auth_client: APIClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The first query of an authenticated request is the token's, before any view code.
    monkeypatch.setattr(TokenAuthentication, "authenticate_credentials", raise_refused)

    assert_database_unavailable(auth_client.patch("/books/1/", data={}, format="json"))


@pytest.mark.django_db
def test_an_export_while_the_database_is_down_is_a_json_503(
    auth_client: APIClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(selectors, "book_list", raise_refused)

    assert_database_unavailable(auth_client.get("/books/export/?format=csv"))


@pytest.mark.django_db
def test_a_duplicate_that_slips_past_validation_is_still_a_500_not_a_503(
    auth_client: APIClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    def duplicate(**fields: object) -> Book:
        raise django_error(IntegrityError, psycopg.errors.UniqueViolation("duplicate key value"))

    monkeypatch.setattr(services, "book_create", duplicate)

    response = auth_client.post("/books/", data=book_payload(), format="json")

    assert response.status_code == 500
    assert "Retry-After" not in response


@pytest.mark.django_db(transaction=True)
def test_the_connection_that_saw_the_failure_is_closed_and_the_next_request_reconnects(
    api_client: APIClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    book = BookFactory()
    connection.ensure_connection()
    assert connection.connection is not None

    with monkeypatch.context() as patched:
        patched.setattr(selectors, "book_list", raise_refused)
        assert_database_unavailable(api_client.get(f"/books/{book.pk}/"))

    assert connection.connection is None
    response = api_client.get(f"/books/{book.pk}/")
    assert response.status_code == 200, response.content
    assert response.json()["id"] == book.pk


@pytest.mark.django_db
def test_a_connection_inside_a_transaction_block_is_left_to_the_block(
    api_client: APIClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Here the test's own transaction: closing under it would break the rollback at its end.
    assert connection.in_atomic_block
    monkeypatch.setattr(selectors, "book_list", raise_refused)

    assert_database_unavailable(api_client.get("/books/"))

    assert connection.connection is not None


# --- Plain Django views (DatabaseUnavailableMiddleware) -----------------------------------


def plain_view_while_the_database_is_down(request: HttpRequest) -> HttpResponse:
    raise refused()


def plain_view_that_crashes(request: HttpRequest) -> HttpResponse:
    raise RuntimeError("not about the database")


urlpatterns = [
    path("plain/unavailable/", plain_view_while_the_database_is_down),
    path("plain/crash/", plain_view_that_crashes),
]
handler500 = "core.views.server_error"


@pytest.mark.urls(__name__)
def test_a_plain_django_view_while_the_database_is_down_is_a_json_503() -> None:
    response = Client(raise_request_exception=False).get("/plain/unavailable/")

    assert_database_unavailable(response)


@pytest.mark.urls(__name__)
def test_a_plain_django_view_that_crashes_otherwise_is_still_the_bare_500() -> None:
    response = Client(raise_request_exception=False).get("/plain/crash/")

    assert response.status_code == 500
    assert json.loads(response.content) == {"detail": "Internal server error."}


def test_the_middleware_leaves_other_errors_to_django() -> None:
    middleware = DatabaseUnavailableMiddleware(lambda request: HttpResponse())
    request = RequestFactory().get("/")

    assert middleware.process_exception(request, RuntimeError("boom")) is None
    assert middleware.process_exception(request, IntegrityError("duplicate")) is None
    assert_database_unavailable(middleware.process_exception(request, refused()))
