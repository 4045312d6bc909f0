"""Fixtures shared by every app's tests."""

import io
import json
import logging
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.core.cache import cache
from knox.models import AuthToken
from rest_framework.test import APIClient

from books.permissions import give_role
from core.logging import build_formatter


def _forget_cached_state() -> None:
    """Drop our cache keys (throttle counters, cached reads) but nobody else's."""
    delete_pattern = getattr(cache, "delete_pattern", None)
    if delete_pattern is not None:  # django-redis: only keys under our prefix
        delete_pattern("*")
    else:
        cache.clear()


@pytest.fixture(autouse=True)
def _fresh_cache() -> None:
    """Each test starts with empty throttle counters, as if it were the first client."""
    _forget_cached_state()


@pytest.fixture
def api_client() -> APIClient:
    """An anonymous client that gets errors as responses, as a real client would."""
    return APIClient(raise_request_exception=False)


@pytest.fixture
def user(db: None):  # type: ignore[no-untyped-def]
    """An editor: may add, change and delete books (books.permissions)."""
    writer = get_user_model().objects.create_user(username="writer", password="a-long-password-1")
    give_role(writer, "editor")
    return writer


@pytest.fixture
def token(user) -> str:  # type: ignore[no-untyped-def]
    """A key for `user`, issued as sign-in issues one (stored as a digest, with an expiry)."""
    _, key = AuthToken.objects.create(user=user)
    return key


@pytest.fixture
def auth_client(token: str) -> APIClient:
    """A client that sends `Authorization: Token <key>`."""
    client = APIClient(raise_request_exception=False)
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    return client


@pytest.fixture
def json_logs() -> Iterator[Callable[[], list[dict[str, Any]]]]:
    """Every line logged at INFO or above during the test, rendered by the production JSON
    formatter and parsed back: call the fixture for the lines so far."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(build_formatter(log_format="json"))
    root = logging.getLogger()
    previous_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)

    def lines() -> list[dict[str, Any]]:
        return [json.loads(line) for line in stream.getvalue().splitlines()]

    yield lines
    root.removeHandler(handler)
    root.setLevel(previous_level)
