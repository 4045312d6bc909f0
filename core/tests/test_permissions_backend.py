"""core.authentication.PermissionsBackend: ModelBackend's answers, in one query."""

from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.models import Group, Permission
from rest_framework.test import APIClient

from books.tests.factories import book_payload
from core.authentication import PermissionsBackend

pytestmark = pytest.mark.django_db


def _permission(codename: str) -> Permission:
    return Permission.objects.get(codename=codename, content_type__app_label="books")


def _user(name: str, **fields: Any) -> Any:
    return get_user_model().objects.create_user(username=name, password=None, **fields)


@pytest.fixture
def users() -> list[Any]:
    group = Group.objects.create(name="changers")
    group.permissions.add(_permission("change_book"))
    own_only = _user("own")
    own_only.user_permissions.add(_permission("add_book"))
    group_only = _user("grouped")
    group_only.groups.add(group)
    both = _user("both")
    both.user_permissions.add(_permission("change_book"), _permission("delete_book"))
    both.groups.add(group)
    inactive = _user("inactive", is_active=False)
    inactive.groups.add(group)
    superuser = get_user_model().objects.create_superuser("root", password=None)
    return [own_only, group_only, both, inactive, superuser, _user("none")]


def _fresh(user: Any) -> Any:
    return get_user_model().objects.get(pk=user.pk)  # no permissions cached on it


def test_the_permissions_are_model_backends_for_every_kind_of_user(users: list[Any]) -> None:
    for user in users:
        assert PermissionsBackend().get_all_permissions(_fresh(user)) == (
            ModelBackend().get_all_permissions(_fresh(user))
        ), user.username


def test_a_users_permissions_are_one_query(users: list[Any], django_assert_num_queries) -> None:  # type: ignore[no-untyped-def]
    user = _fresh(users[2])
    with django_assert_num_queries(1):
        assert user.has_perm("books.delete_book")
        assert user.has_perm("books.change_book")
        assert not user.has_perm("books.add_book")


@pytest.mark.django_db(transaction=True)
def test_an_api_create_is_three_statements(token: str, django_assert_num_queries) -> None:  # type: ignore[no-untyped-def]
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    # The token with its user, the user's permissions, the INSERT.
    with django_assert_num_queries(3):
        response = client.post("/books/", data=book_payload(), format="json")
    assert response.status_code == 201, response.content
