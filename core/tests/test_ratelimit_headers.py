"""The RateLimit-Policy and RateLimit fields (draft-ietf-httpapi-ratelimit-headers) on every
response a throttle counted: successes, errors and the 429, for each limit that applies."""

import re
from typing import Any

import pytest
from django.test import override_settings
from rest_framework.test import APIClient
from rest_framework.throttling import SimpleRateThrottle

from books.tests.factories import BookFactory
from core.ratelimit_headers import Quota, ratelimit_fields

ALLOWED_ORIGIN = "https://app.example.com"
#: One list member: a quoted policy name, then ;key=integer parameters (RFC 9651's syntax for
#: a String item with Integer parameters, as the draft's fields use it).
_MEMBER = re.compile(r'"(?P<name>[a-z]+)"(?P<params>(?:;[a-z]+=[0-9]+)+)\Z')


def _field(response: Any, name: str) -> dict[str, dict[str, int]]:
    """A RateLimit field as {policy: {parameter: value}}, its syntax checked on the way."""
    assert name in response, f"no {name} on a {response.status_code}"
    parsed: dict[str, dict[str, int]] = {}
    for member in response[name].split(", "):
        match = _MEMBER.match(member)
        assert match is not None, response[name]
        params = (param.split("=") for param in match["params"][1:].split(";"))
        parsed[match["name"]] = {key: int(value) for key, value in params}
    return parsed


def _state(response: Any) -> dict[str, dict[str, int]]:
    return _field(response, "RateLimit")


def _policies(response: Any) -> dict[str, dict[str, int]]:
    return _field(response, "RateLimit-Policy")


@pytest.fixture
def tight_rates(monkeypatch: pytest.MonkeyPatch) -> None:
    """Small limits, one per scope, so each is reached in a test."""
    rates = {"anon": "3/min", "user": "5/min", "auth": "4/min"}
    monkeypatch.setattr(SimpleRateThrottle, "THROTTLE_RATES", rates)


def test_the_fields_follow_the_drafts_syntax() -> None:
    quotas = [
        Quota(policy="writes", limit=1000, window=86400, used=1001, resets_at=86400.0),
        Quota(policy="anon", limit=100, window=60, used=43, resets_at=1020.0),
    ]

    fields = ratelimit_fields(quotas, now=979.2)

    assert fields["RateLimit-Policy"] == '"anon";q=100;w=60, "writes";q=1000;w=86400'
    # What is left is never below zero; the reset is in whole seconds, rounded up.
    assert fields["RateLimit"] == '"anon";r=57;t=41, "writes";r=0;t=85421'
    assert ratelimit_fields([]) == {}


@pytest.mark.django_db
@pytest.mark.usefixtures("tight_rates")
def test_anonymous_reads_say_what_is_left_until_the_429(api_client: APIClient) -> None:
    book = BookFactory()
    remaining = []
    for path in ("/books/", f"/books/{book.pk}/", "/books/?page_size=1"):
        response = api_client.get(path)
        assert response.status_code == 200
        assert _policies(response) == {"anon": {"q": 3, "w": 60}}
        state = _state(response)["anon"]
        assert 0 <= state["t"] <= 60
        remaining.append(state["r"])
    throttled = api_client.get("/books/")

    assert remaining == [2, 1, 0]
    assert throttled.status_code == 429
    assert int(throttled["Retry-After"]) >= 1
    assert _policies(throttled) == {"anon": {"q": 3, "w": 60}}
    assert _state(throttled)["anon"]["r"] == 0


@pytest.mark.django_db
@pytest.mark.usefixtures("tight_rates")
def test_errors_a_throttle_counted_carry_the_fields_too(api_client: APIClient) -> None:
    missing = api_client.get("/books/999999/")
    invalid = api_client.get("/books/?no_such_parameter=1")

    assert (missing.status_code, invalid.status_code) == (404, 400)
    assert _state(missing)["anon"]["r"] == 2
    assert _state(invalid)["anon"]["r"] == 1


@pytest.mark.django_db
@pytest.mark.usefixtures("tight_rates")
def test_a_signed_in_write_lists_the_request_rate_and_the_daily_write_quota(
    settings: Any, auth_client: APIClient
) -> None:
    settings.WRITE_QUOTA_PER_DAY = 10
    book = {"title": "Dune", "author": "Frank Herbert", "publication_date": "1965-08-01"}

    single = auth_client.post("/books/", {**book, "isbn": "0-306-40615-2"}, format="json")
    batch = auth_client.post(
        "/books/",
        [{**book, "isbn": "978-0-13-110362-7"}, {**book, "isbn": "0-441-17271-7"}],
        format="json",
    )
    read = auth_client.get("/books/")

    assert (single.status_code, batch.status_code) == (201, 201)
    assert _policies(single) == {"user": {"q": 5, "w": 60}, "writes": {"q": 10, "w": 86400}}
    # A batch counts one request, and one written book per item.
    assert _state(single)["user"]["r"] == 4
    assert _state(batch)["user"]["r"] == 3
    assert (_state(single)["writes"]["r"], _state(batch)["writes"]["r"]) == (9, 7)
    assert 0 <= _state(batch)["writes"]["t"] <= 86400
    # A read is the request rate's alone.
    assert _policies(read) == {"user": {"q": 5, "w": 60}}
    assert _state(read)["user"]["r"] == 2


@pytest.mark.django_db
@pytest.mark.usefixtures("tight_rates")
def test_sign_in_shows_its_own_scope(api_client: APIClient, user: Any) -> None:
    credentials = {"username": "writer", "password": "a-long-password-1"}

    response = api_client.post("/auth/token/", credentials, format="json")

    assert response.status_code == 200, response.content
    assert _policies(response) == {"auth": {"q": 4, "w": 60}}
    assert _state(response)["auth"]["r"] == 3


@pytest.mark.django_db
def test_unthrottled_responses_have_no_fields(api_client: APIClient) -> None:
    response = api_client.get("/healthz")

    assert response.status_code == 200
    assert "RateLimit" not in response
    assert "RateLimit-Policy" not in response


@pytest.mark.django_db
@override_settings(CORS_ALLOWED_ORIGINS=[ALLOWED_ORIGIN])
def test_browsers_on_another_origin_may_read_the_fields(api_client: APIClient) -> None:
    response = api_client.get("/books/", headers={"Origin": ALLOWED_ORIGIN})

    exposed = {
        name.strip().lower() for name in response["Access-Control-Expose-Headers"].split(",")
    }
    assert {"ratelimit", "ratelimit-policy"} <= exposed
    assert "RateLimit" in response
