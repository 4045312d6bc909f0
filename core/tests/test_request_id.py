"""Every request has an id (the client's X-Request-ID if sane, else a new one), echoed in the
response, and one access line; a slow request gets a `slow_request` warning as well."""

import re
from typing import Any

import pytest
import structlog
from django.test import Client
from rest_framework.test import APIClient

from core.tests.conftest import LogLines

GENERATED_ID = re.compile(r"[0-9a-f]{32}")


@pytest.fixture
def client() -> Client:
    return Client(raise_request_exception=False)


def access_lines(lines: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [line for line in lines if line["event"] == "request_finished"]


# --- the id ---------------------------------------------------------------------------


def test_a_request_without_an_id_gets_a_new_one_in_the_response(client: Client) -> None:
    first = client.get("/healthz")["X-Request-ID"]
    second = client.get("/healthz")["X-Request-ID"]

    assert GENERATED_ID.fullmatch(first)
    assert GENERATED_ID.fullmatch(second)
    assert first != second


@pytest.mark.parametrize(
    "given", ["abc-123", "0f8fad5b-d9cb-469f-a165-70867728950e", "trace.42_A", "x" * 128]
)
def test_a_sane_client_id_is_kept_and_echoed(client: Client, given: str) -> None:
    response = client.get("/healthz", HTTP_X_REQUEST_ID=given)

    assert response["X-Request-ID"] == given


@pytest.mark.parametrize(
    "given",
    ["", "x" * 129, "has space", "semi;colon", "new\nline", 'quote"d', "ünïcode", "a/b"],
    ids=["empty", "too-long", "space", "semicolon", "newline", "quote", "non-ascii", "slash"],
)
def test_an_unsafe_client_id_is_replaced_by_a_new_one(client: Client, given: str) -> None:
    response = client.get("/healthz", HTTP_X_REQUEST_ID=given)

    assert response["X-Request-ID"] != given
    assert GENERATED_ID.fullmatch(response["X-Request-ID"])


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("method", "path", "extra", "status"),
    [
        ("get", "/no-such-page/", {}, 404),
        ("post", "/books/", {"CONTENT_LENGTH": "999999999999"}, 413),
        ("get", "/books/?page_size=not-a-number", {}, 400),
    ],
    ids=["404", "413-before-any-parsing", "400"],
)
def test_error_responses_carry_the_id_too(
    client: Client, method: str, path: str, extra: dict[str, str], status: int
) -> None:
    response = getattr(client, method)(path, HTTP_X_REQUEST_ID="err-1", **extra)

    assert response.status_code == status
    assert response["X-Request-ID"] == "err-1"


def test_the_id_is_unbound_once_the_request_is_over(client: Client) -> None:
    structlog.contextvars.bind_contextvars(leftover="from before")

    client.get("/healthz", HTTP_X_REQUEST_ID="done-1")

    assert structlog.contextvars.get_contextvars() == {}


# --- the access line ------------------------------------------------------------------


def test_each_request_writes_one_access_line(client: Client, json_logs: LogLines) -> None:
    client.get("/healthz?verbose=1", HTTP_X_REQUEST_ID="access-1")

    (line,) = access_lines(json_logs())
    assert line["request_id"] == "access-1"
    assert line["level"] == "info"
    assert line["method"] == "GET"
    assert line["path"] == "/healthz"  # no query string: it may carry what a log must not
    assert line["route"] == "healthz"
    assert line["view"] == "healthz"
    assert line["status"] == 200
    assert isinstance(line["duration_ms"], float)
    assert line["duration_ms"] >= 0
    assert line["user_id"] is None


@pytest.mark.django_db
def test_the_access_line_names_the_authenticated_user(
    auth_client: APIClient, user: Any, json_logs: LogLines
) -> None:
    auth_client.get("/books/")

    (line,) = access_lines(json_logs())
    assert line["user_id"] == user.pk
    assert line["view"] == "book-list"
    assert line["status"] == 200


@pytest.mark.django_db
def test_the_access_line_never_queries_for_a_user_the_view_did_not_need(
    client: Client, user: Any, json_logs: LogLines, django_assert_num_queries: Any
) -> None:
    client.force_login(user)  # a session cookie: reading request.user would query

    with django_assert_num_queries(0):
        client.get("/healthz")

    (line,) = access_lines(json_logs())
    assert line["user_id"] is None


def test_an_unknown_url_is_logged_without_a_route(client: Client, json_logs: LogLines) -> None:
    client.get("/no-such-page/")

    (line,) = access_lines(json_logs())
    assert line["status"] == 404
    assert line["route"] is None
    assert line["view"] is None


# --- slow requests --------------------------------------------------------------------


def test_a_request_over_the_threshold_is_logged_as_slow(
    client: Client, json_logs: LogLines, settings: Any
) -> None:
    settings.SLOW_REQUEST_MS = 0

    client.get("/healthz", HTTP_X_REQUEST_ID="slow-1")

    (line,) = [line for line in json_logs() if line["event"] == "slow_request"]
    assert line["level"] == "warning"
    assert line["request_id"] == "slow-1"
    assert line["path"] == "/healthz"
    assert line["status"] == 200
    assert line["threshold_ms"] == 0
    assert line["duration_ms"] >= 0


def test_a_request_under_the_threshold_is_not_logged_as_slow(
    client: Client, json_logs: LogLines, settings: Any
) -> None:
    settings.SLOW_REQUEST_MS = 60_000

    client.get("/healthz")

    assert [line["event"] for line in json_logs()] == ["request_finished"]
