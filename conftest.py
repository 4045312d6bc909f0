"""Fixtures shared by every app's tests."""

import pytest
from django.contrib.auth import get_user_model
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient


@pytest.fixture
def api_client() -> APIClient:
    """An anonymous client that gets errors as responses, as a real client would."""
    return APIClient(raise_request_exception=False)


@pytest.fixture
def user(db: None):  # type: ignore[no-untyped-def]
    return get_user_model().objects.create_user(username="writer", password="a-long-password-1")


@pytest.fixture
def token(user) -> str:  # type: ignore[no-untyped-def]
    return Token.objects.create(user=user).key


@pytest.fixture
def auth_client(token: str) -> APIClient:
    """A client that sends `Authorization: Token <key>`."""
    client = APIClient(raise_request_exception=False)
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    return client
