"""Rate limits: counted in the shared cache, 429 JSON with Retry-After when over."""

from typing import Any

import pytest
from django.core.cache import cache
from rest_framework.settings import api_settings
from rest_framework.test import APIClient
from rest_framework.throttling import SimpleRateThrottle

from books.tests.factories import BookFactory
from core.throttling import (
    AnonRateThrottle,
    UserRateThrottle,
    anon_counter_key,
    count_hit,
    window_of,
)


@pytest.fixture
def tight_rates(monkeypatch: pytest.MonkeyPatch) -> None:
    """Three requests a minute for every scope, so limits are reached in a test."""
    rates = {"anon": "3/min", "user": "3/min", "auth": "3/min"}
    monkeypatch.setattr(SimpleRateThrottle, "THROTTLE_RATES", rates)


def _assert_throttled(response: Any) -> None:
    assert response.status_code == 429, response.content
    assert response["Content-Type"] == "application/json"
    assert "throttled" in response.json()["detail"].lower()
    assert 0 < int(response["Retry-After"]) <= 60


def test_default_throttles_cover_anonymous_and_signed_in_clients() -> None:
    classes = api_settings.DEFAULT_THROTTLE_CLASSES

    assert AnonRateThrottle in classes
    assert UserRateThrottle in classes
    rates = api_settings.DEFAULT_THROTTLE_RATES
    assert set(rates) >= {"anon", "user", "auth"}


@pytest.mark.django_db
@pytest.mark.usefixtures("tight_rates")
def test_anonymous_reads_over_the_rate_get_429_with_retry_after(api_client: APIClient) -> None:
    for _ in range(3):
        assert api_client.get("/books/").status_code == 200

    _assert_throttled(api_client.get("/books/"))


@pytest.mark.django_db
@pytest.mark.usefixtures("tight_rates")
def test_a_signed_in_client_is_counted_by_user_not_address(
    auth_client: APIClient, api_client: APIClient
) -> None:
    book = BookFactory()
    for _ in range(3):
        assert auth_client.get(f"/books/{book.pk}/").status_code == 200

    _assert_throttled(auth_client.get(f"/books/{book.pk}/"))
    # The anonymous client at the same address has its own budget.
    assert api_client.get(f"/books/{book.pk}/").status_code == 200


@pytest.mark.django_db
@pytest.mark.usefixtures("tight_rates")
def test_throttled_writes_change_nothing(auth_client: APIClient) -> None:
    book = BookFactory(title="Before")
    for _ in range(3):
        auth_client.get("/books/")

    response = auth_client.patch(f"/books/{book.pk}/", {"title": "After"}, format="json")

    _assert_throttled(response)
    book.refresh_from_db()
    assert book.title == "Before"


@pytest.mark.django_db
@pytest.mark.usefixtures("tight_rates")
def test_counters_live_in_the_shared_cache(api_client: APIClient) -> None:
    """Another worker (or host) sees the same counter: it is in the cache, not in memory."""
    window, _ = window_of(60)
    api_client.get("/books/")
    # An anonymous client is counted once, in the anon scope, by its address and window.
    key = anon_counter_key({"REMOTE_ADDR": "127.0.0.1"}, 60)
    user_key = SimpleRateThrottle.cache_format % {"scope": "user", "ident": "127.0.0.1"}

    assert cache.get(key) == 1
    assert cache.get(f"{user_key}:{window}") is None
    api_client.get("/books/")
    assert cache.get(key) == 2
    cache.delete(key)  # as if the window had passed, for every worker at once
    for _ in range(3):
        assert api_client.get("/books/").status_code == 200
    _assert_throttled(api_client.get("/books/"))


def test_a_window_counts_from_the_first_request_and_ends_on_its_boundary() -> None:
    window, ends_at = window_of(60, now=120.5)

    assert (window, ends_at) == (2, 180)
    assert count_hit("test-counter", 60) == 1
    assert count_hit("test-counter", 60) == 2
