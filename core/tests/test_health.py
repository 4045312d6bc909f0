"""Liveness (/healthz) and readiness (/readyz: the database and the cache answer)."""

import json
import logging
from typing import Any

import pytest
from django.db import OperationalError
from django.test import Client

from core.replicas import health as replica_health
from core.replicas.tests.replicas import FixedHealth, replica_alias

JSON = "application/json"


@pytest.fixture
def plain_client() -> Client:
    return Client(raise_request_exception=False)


class BrokenConnection:
    """A database connection whose server is gone."""

    def cursor(self) -> Any:
        raise OperationalError("connection to server at 127.0.0.1 failed: Connection refused")


class BrokenCache:
    """A cache whose server is gone."""

    def set(self, *args: Any, **kwargs: Any) -> None:
        raise ConnectionError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    def get(self, *args: Any, **kwargs: Any) -> Any:
        raise ConnectionError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")


def readiness(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.content
    assert response["Content-Type"] == JSON
    return dict(json.loads(response.content))


# --- /healthz -------------------------------------------------------------------------


def test_healthz_answers_ok_without_touching_the_database(plain_client: Client) -> None:
    # No `db` fixture: any query would fail the request (and this test).
    response = plain_client.get("/healthz")

    assert response.status_code == 200
    assert response["Content-Type"] == JSON
    assert json.loads(response.content) == {"status": "ok"}


def test_healthz_answers_ok_while_the_dependencies_are_down(
    plain_client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("core.views.connection", BrokenConnection())
    monkeypatch.setattr("core.views.cache", BrokenCache())

    response = plain_client.get("/healthz")

    assert response.status_code == 200
    assert json.loads(response.content) == {"status": "ok"}


# --- /readyz --------------------------------------------------------------------------


@pytest.mark.django_db
def test_readyz_is_200_when_database_and_cache_answer(plain_client: Client) -> None:
    response = plain_client.get("/readyz")

    assert readiness(response, 200) == {
        "status": "ok",
        "checks": {"database": "ok", "cache": "ok"},
    }


@pytest.mark.django_db
def test_readyz_is_503_naming_the_database_when_it_is_unreachable(
    plain_client: Client, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr("core.views.connection", BrokenConnection())

    with caplog.at_level(logging.WARNING, logger="core.views"):
        response = plain_client.get("/readyz")

    assert readiness(response, 503) == {
        "status": "unavailable",
        "checks": {"database": "unavailable", "cache": "ok"},
    }
    assert "readiness: database unavailable" in caplog.messages


@pytest.mark.django_db
def test_readyz_is_503_when_the_database_query_fails(
    plain_client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The connection opens, but the query fails (e.g. the server restarts mid-request).
    from django.db import connection

    class FailingCursor:
        def __enter__(self) -> "FailingCursor":
            return self

        def __exit__(self, *exc: object) -> None:
            return None

        def execute(self, sql: str) -> None:
            raise OperationalError("server closed the connection unexpectedly")

    class HalfBrokenConnection:
        def cursor(self) -> FailingCursor:
            return FailingCursor()

    monkeypatch.setattr("core.views.connection", HalfBrokenConnection())

    response = plain_client.get("/readyz")

    body = readiness(response, 503)
    assert body["checks"] == {"database": "unavailable", "cache": "ok"}
    # The real connection is untouched and still works for the rest of the test.
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")


@pytest.mark.django_db
def test_readyz_is_503_naming_the_cache_when_it_raises(
    plain_client: Client, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr("core.views.cache", BrokenCache())

    with caplog.at_level(logging.WARNING, logger="core.views"):
        response = plain_client.get("/readyz")

    assert readiness(response, 503) == {
        "status": "unavailable",
        "checks": {"database": "ok", "cache": "unavailable"},
    }
    assert "readiness: cache unavailable" in caplog.messages


@pytest.mark.django_db
def test_readyz_is_503_when_the_cache_does_not_keep_what_it_is_given(
    plain_client: Client, settings: Any
) -> None:
    # A cache that accepts writes and loses them (here: the dummy backend) is not ready.
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.dummy.DummyCache"}}

    response = plain_client.get("/readyz")

    assert readiness(response, 503) == {
        "status": "unavailable",
        "checks": {"database": "ok", "cache": "unavailable"},
    }


@pytest.mark.django_db
def test_readyz_is_503_naming_both_when_both_are_down(
    plain_client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("core.views.connection", BrokenConnection())
    monkeypatch.setattr("core.views.cache", BrokenCache())

    response = plain_client.get("/readyz")

    assert readiness(response, 503) == {
        "status": "unavailable",
        "checks": {"database": "unavailable", "cache": "unavailable"},
    }


# --- /readyz with read replicas -------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(("up", "shown"), [(("replica_1",), "ok"), ((), "skipped")])
def test_readyz_lists_the_replicas_without_counting_them(
    plain_client: Client, monkeypatch: pytest.MonkeyPatch, up: tuple[str, ...], shown: str
) -> None:
    # A replica that is down costs no request (reads go to the primary): the instance stays
    # ready, and says which replicas it reads from.
    monkeypatch.setattr(replica_health, "_health", FixedHealth(*up))
    with replica_alias("replica_1"):
        response = plain_client.get("/readyz")

    assert readiness(response, 200) == {
        "status": "ok",
        "checks": {"database": "ok", "cache": "ok"},
        "replicas": {"replica_1": shown},
    }
