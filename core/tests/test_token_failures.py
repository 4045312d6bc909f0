"""Refused tokens are limited per client address (finding 11 of issue 13): each costs a
database query, and without a limit keys could be tried at the rate of requests."""

import pytest
from django.test import override_settings
from rest_framework.test import APIClient


def client_at(address: str, token: str) -> APIClient:
    client = APIClient(raise_request_exception=False, REMOTE_ADDR=address)
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    return client


@pytest.mark.django_db
@override_settings(TOKEN_FAILURE_LIMIT=3)
def test_failed_token_authentications_from_one_address_get_429_with_retry_after() -> None:
    guesser = client_at("203.0.113.7", "not-a-real-token-" + "x" * 40)

    statuses = [guesser.get("/books/").status_code for _ in range(4)]

    assert statuses == [401, 401, 401, 429]
    response = guesser.get("/books/")
    assert response.status_code == 429
    assert 0 < int(response["Retry-After"]) <= 60


@pytest.mark.django_db
@override_settings(TOKEN_FAILURE_LIMIT=3)
def test_other_addresses_and_anonymous_reads_are_not_locked_by_a_guesser(token: str) -> None:
    for _ in range(4):
        client_at("203.0.113.7", "wrong").get("/books/")

    assert client_at("198.51.100.2", token).get("/books/").status_code == 200
    assert APIClient(REMOTE_ADDR="203.0.113.7").get("/books/").status_code == 200


@pytest.mark.django_db
@override_settings(TOKEN_FAILURE_LIMIT=3)
def test_a_valid_token_is_never_counted_as_a_failure(token: str) -> None:
    client = client_at("198.51.100.2", token)

    assert [client.get("/books/").status_code for _ in range(5)] == [200] * 5
