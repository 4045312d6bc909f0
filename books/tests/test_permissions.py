"""Who may write books (issue 13, finding 6): the model permissions, given by the groups
"readers" (view only) and "editors" (add, change, delete), which a migration creates."""

import io

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.core.management import call_command
from knox.models import AuthToken
from rest_framework.test import APIClient

from books.models import Book
from books.permissions import EDITORS, READERS
from books.tests.factories import BookFactory, book_payload

pytestmark = pytest.mark.django_db


def _client_for(username: str, *groups: str, staff: bool = False) -> APIClient:
    user = get_user_model().objects.create_user(username=username, is_staff=staff)
    user.groups.set(Group.objects.filter(name__in=groups))
    _, key = AuthToken.objects.create(user=user)
    client = APIClient(raise_request_exception=False)
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


def _writes(client: APIClient, book: Book) -> list[int]:
    url = f"/books/{book.pk}/"
    return [
        client.post("/books/", book_payload(), format="json").status_code,
        client.patch(url, {"title": "Changed"}, format="json").status_code,
        client.put(url, book_payload(isbn=book.isbn), format="json").status_code,
        client.delete(url).status_code,
    ]


def test_the_migration_creates_readers_and_editors() -> None:
    def codenames(name: str) -> set[str]:
        return set(Group.objects.get(name=name).permissions.values_list("codename", flat=True))

    assert codenames(READERS) == {"view_book"}
    assert codenames(EDITORS) == {"view_book", "add_book", "change_book", "delete_book"}


@pytest.mark.parametrize(
    ("groups", "staff"), [((), False), ((READERS,), False), ((READERS,), True)]
)
def test_a_user_without_the_write_permissions_gets_403_and_reads(
    groups: tuple[str, ...], staff: bool
) -> None:
    book = BookFactory()
    client = _client_for("someone", *groups, staff=staff)

    assert _writes(client, book) == [403, 403, 403, 403]
    assert client.get("/books/").status_code == 200
    assert client.get(f"/books/{book.pk}/").status_code == 200
    assert Book.objects.get(pk=book.pk).title == book.title


def test_an_editor_may_add_change_and_delete() -> None:
    book = BookFactory()
    assert _writes(_client_for("editor", EDITORS), book) == [201, 200, 200, 204]


def test_each_write_needs_its_own_permission() -> None:
    book = BookFactory()
    user = get_user_model().objects.create_user(username="adder")
    user.user_permissions.add(Permission.objects.get(codename="add_book"))
    _, key = AuthToken.objects.create(user=user)
    client = APIClient(raise_request_exception=False)
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")

    assert _writes(client, book) == [201, 403, 403, 403]


def test_an_anonymous_write_is_still_a_401(api_client: APIClient) -> None:
    response = api_client.post("/books/", book_payload(), format="json")
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Token"


@pytest.mark.parametrize(
    ("groups", "expected"),
    [
        ((EDITORS,), {"add": True, "change": True, "delete": True}),
        ((READERS,), {"add": False, "change": False, "delete": False}),
    ],
)
def test_the_permissions_endpoint_says_what_the_caller_may_do(
    groups: tuple[str, ...], expected: dict[str, bool]
) -> None:
    assert _client_for("someone", *groups).get("/books/permissions/").json() == expected


def test_the_permissions_endpoint_answers_anonymous_callers(api_client: APIClient) -> None:
    body = api_client.get("/books/permissions/").json()
    assert body == {"add": False, "change": False, "delete": False}


def _create_api_user(*args: str) -> str:
    out = io.StringIO()
    call_command("create_api_user", *args, stdout=out, stderr=io.StringIO())
    return out.getvalue().strip()


@pytest.mark.parametrize(("args", "group"), [((), EDITORS), (("--role", "reader"), READERS)])
def test_create_api_user_gives_the_role(args: tuple[str, ...], group: str) -> None:
    token = _create_api_user("alice", *args)

    user = get_user_model().objects.get(username="alice")
    assert list(user.groups.values_list("name", flat=True)) == [group]
    client = APIClient(raise_request_exception=False)
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    created = client.post("/books/", book_payload(), format="json").status_code
    assert created == (201 if group == EDITORS else 403)


def test_create_api_user_changes_the_role_of_an_existing_user_when_asked() -> None:
    _create_api_user("alice")
    _create_api_user("alice", "--role", "reader")
    user = get_user_model().objects.get(username="alice")
    assert list(user.groups.values_list("name", flat=True)) == [READERS]


def test_the_admin_lists_the_groups(client) -> None:  # type: ignore[no-untyped-def]
    admin = get_user_model().objects.create_superuser("root", "root@example.com", "a-long-pw-1")
    client.force_login(admin)

    page = client.get("/admin/auth/group/")

    assert page.status_code == 200
    assert b"editors" in page.content
    assert b"readers" in page.content
