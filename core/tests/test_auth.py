"""Who may do what: reads are public, writes need a token (or a session plus CSRF token)."""

import json
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from books.models import Book
from books.tests.factories import BookFactory, book_payload

JSON = "application/json"
PASSWORD = "a-long-password-1"  # the conftest `user` fixture's


def snapshot(book: Book) -> dict[str, Any]:
    return dict(Book.objects.filter(pk=book.pk).values().get())


def assert_401(response: Any, detail: str) -> None:
    assert response.status_code == 401, response.content
    assert response["Content-Type"] == JSON
    assert response["WWW-Authenticate"] == "Token"
    assert json.loads(response.content) == {"detail": detail}


NO_CREDENTIALS = "Authentication credentials were not provided."


# --- reads are public -----------------------------------------------------------------


@pytest.mark.django_db
def test_anonymous_can_list_books(api_client: APIClient) -> None:
    book = BookFactory()

    response = api_client.get("/books/")

    assert response.status_code == 200
    assert response["Content-Type"] == JSON
    assert [item["id"] for item in response.json()["results"]] == [book.pk]


@pytest.mark.django_db
def test_anonymous_can_read_a_book(api_client: APIClient) -> None:
    book = BookFactory()

    response = api_client.get(f"/books/{book.pk}/")

    assert response.status_code == 200
    assert response.json()["isbn"] == book.isbn


# --- anonymous writes: 401, nothing changed -------------------------------------------


@pytest.mark.django_db
def test_anonymous_create_is_401_with_token_challenge_and_stores_nothing(
    api_client: APIClient,
) -> None:
    response = api_client.post("/books/", data=book_payload(), format="json")

    assert_401(response, NO_CREDENTIALS)
    assert Book.objects.count() == 0


@pytest.mark.django_db
@pytest.mark.parametrize("method", ["put", "patch"])
def test_anonymous_update_is_401_with_token_challenge_and_changes_nothing(
    api_client: APIClient, method: str
) -> None:
    book = BookFactory()
    before = snapshot(book)

    response = getattr(api_client, method)(
        f"/books/{book.pk}/", data=book_payload(title="Hijacked"), format="json"
    )

    assert_401(response, NO_CREDENTIALS)
    assert snapshot(book) == before


@pytest.mark.django_db
def test_anonymous_delete_is_401_with_token_challenge_and_deletes_nothing(
    api_client: APIClient,
) -> None:
    book = BookFactory()
    before = snapshot(book)

    response = api_client.delete(f"/books/{book.pk}/")

    assert_401(response, NO_CREDENTIALS)
    assert snapshot(book) == before


# --- token writes ---------------------------------------------------------------------


@pytest.mark.django_db
def test_token_allows_create(auth_client: APIClient) -> None:
    response = auth_client.post("/books/", data=book_payload(), format="json")

    assert response.status_code == 201, response.content
    book = Book.objects.get()
    assert response.json()["id"] == book.pk
    assert response["Location"] == f"http://testserver/books/{book.pk}/"
    assert book.title == "The Pragmatic Programmer"


@pytest.mark.django_db
def test_token_allows_put(auth_client: APIClient) -> None:
    book = BookFactory()

    response = auth_client.put(
        f"/books/{book.pk}/", data=book_payload(title="Replaced"), format="json"
    )

    assert response.status_code == 200, response.content
    assert response.json()["title"] == "Replaced"
    book.refresh_from_db()
    assert book.title == "Replaced"
    assert book.isbn == "9780306406157"


@pytest.mark.django_db
def test_token_allows_patch(auth_client: APIClient) -> None:
    book = BookFactory()

    response = auth_client.patch(f"/books/{book.pk}/", data={"title": "Patched"}, format="json")

    assert response.status_code == 200, response.content
    assert response.json()["title"] == "Patched"
    book.refresh_from_db()
    assert book.title == "Patched"


@pytest.mark.django_db
def test_token_allows_delete(auth_client: APIClient) -> None:
    book = BookFactory()

    response = auth_client.delete(f"/books/{book.pk}/")

    assert response.status_code == 204
    assert response.content == b""
    assert not Book.objects.filter(pk=book.pk).exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    "header",
    ["Token not-a-real-key", "Token 0123456789abcdef0123456789abcdef01234567"],
    ids=["garbage", "well-formed-but-unknown"],
)
def test_an_invalid_token_is_401_and_stores_nothing(header: str) -> None:
    client = APIClient(raise_request_exception=False)
    client.credentials(HTTP_AUTHORIZATION=header)

    response = client.post("/books/", data=book_payload(), format="json")

    assert_401(response, "Invalid token.")
    assert Book.objects.count() == 0


@pytest.mark.django_db
def test_an_invalid_token_is_401_even_on_a_read() -> None:
    client = APIClient(raise_request_exception=False)
    client.credentials(HTTP_AUTHORIZATION="Token not-a-real-key")

    response = client.get("/books/")

    assert_401(response, "Invalid token.")


@pytest.mark.django_db
def test_a_token_of_a_deactivated_user_is_401(user: Any, auth_client: APIClient) -> None:
    user.is_active = False
    user.save()

    response = auth_client.post("/books/", data=book_payload(), format="json")

    assert_401(response, "User inactive or deleted.")
    assert Book.objects.count() == 0


@pytest.mark.django_db
def test_a_malformed_authorization_header_is_401() -> None:
    client = APIClient(raise_request_exception=False)
    client.credentials(HTTP_AUTHORIZATION="Token two words")

    response = client.post("/books/", data=book_payload(), format="json")

    assert_401(response, "Invalid token header. Token string should not contain spaces.")
    assert Book.objects.count() == 0


# --- POST /auth/token/ ----------------------------------------------------------------


@pytest.mark.django_db
def test_token_endpoint_exchanges_credentials_for_a_working_token(
    api_client: APIClient, user: Any
) -> None:
    response = api_client.post(
        "/auth/token/", data={"username": "writer", "password": PASSWORD}, format="json"
    )

    assert response.status_code == 200, response.content
    assert response["Content-Type"] == JSON
    body = response.json()
    assert body == {"token": Token.objects.get(user=user).key}

    writer = APIClient(raise_request_exception=False)
    writer.credentials(HTTP_AUTHORIZATION=f"Token {body['token']}")
    created = writer.post("/books/", data=book_payload(), format="json")
    assert created.status_code == 201, created.content
    assert Book.objects.count() == 1


@pytest.mark.django_db
def test_token_endpoint_returns_the_same_token_each_time(api_client: APIClient, user: Any) -> None:
    credentials = {"username": "writer", "password": PASSWORD}

    first = api_client.post("/auth/token/", data=credentials, format="json")
    second = api_client.post("/auth/token/", data=credentials, format="json")

    assert first.status_code == second.status_code == 200
    assert first.json() == second.json()
    assert Token.objects.filter(user=user).count() == 1


@pytest.mark.django_db
@pytest.mark.parametrize(
    "credentials",
    [
        {"username": "writer", "password": "wrong-password"},
        {"username": "nobody", "password": PASSWORD},
    ],
    ids=["wrong-password", "unknown-user"],
)
def test_token_endpoint_refuses_bad_credentials_with_400(
    api_client: APIClient, user: Any, credentials: dict[str, str]
) -> None:
    response = api_client.post("/auth/token/", data=credentials, format="json")

    assert response.status_code == 400
    assert response["Content-Type"] == JSON
    assert response.json() == {"non_field_errors": ["Unable to log in with provided credentials."]}
    assert not Token.objects.exists()


@pytest.mark.django_db
def test_token_endpoint_refuses_missing_fields_by_field(api_client: APIClient) -> None:
    response = api_client.post("/auth/token/", data={}, format="json")

    assert response.status_code == 400
    assert response.json() == {
        "username": ["This field is required."],
        "password": ["This field is required."],
    }


@pytest.mark.django_db
def test_token_endpoint_refuses_a_form_encoded_body_with_415(
    api_client: APIClient, user: Any
) -> None:
    response = api_client.post(
        "/auth/token/",
        data=f"username=writer&password={PASSWORD}",
        content_type="application/x-www-form-urlencoded",
    )

    assert response.status_code == 415
    assert response["Content-Type"] == JSON
    assert response.json() == {
        "detail": 'Unsupported media type "application/x-www-form-urlencoded" in request.'
    }
    assert not Token.objects.exists()


@pytest.mark.django_db
def test_token_endpoint_refuses_a_multipart_body_with_415(api_client: APIClient, user: Any) -> None:
    response = api_client.post(
        "/auth/token/", data={"username": "writer", "password": PASSWORD}, format="multipart"
    )

    assert response.status_code == 415
    assert response.json()["detail"].startswith('Unsupported media type "multipart/form-data')
    assert not Token.objects.exists()


@pytest.mark.django_db
def test_token_endpoint_refuses_get_with_json_405(api_client: APIClient) -> None:
    response = api_client.get("/auth/token/")

    assert response.status_code == 405
    assert response["Content-Type"] == JSON
    assert response.json() == {"detail": 'Method "GET" not allowed.'}


# --- session auth: CSRF enforced ------------------------------------------------------


@pytest.fixture
def session_client(user: Any) -> APIClient:
    """A browser-like client: logged in by session, CSRF checks on."""
    client = APIClient(enforce_csrf_checks=True, raise_request_exception=False)
    client.force_login(user)
    return client


def csrf_token_from_browsable_api(client: APIClient) -> str:
    """What a browser does: open an API page, which sets the CSRF cookie."""
    page = client.get("/books/", HTTP_ACCEPT="text/html")
    assert page.status_code == 200
    return str(client.cookies["csrftoken"].value)


@pytest.mark.django_db
def test_session_write_without_csrf_token_is_403_and_stores_nothing(
    session_client: APIClient,
) -> None:
    response = session_client.post("/books/", data=book_payload(), format="json")

    assert response.status_code == 403
    assert response["Content-Type"] == JSON
    assert response.json()["detail"].startswith("CSRF Failed")
    assert Book.objects.count() == 0


@pytest.mark.django_db
def test_session_write_with_a_wrong_csrf_token_is_403_and_stores_nothing(
    session_client: APIClient,
) -> None:
    csrf_token_from_browsable_api(session_client)

    response = session_client.post(
        "/books/", data=book_payload(), format="json", HTTP_X_CSRFTOKEN="x" * 32
    )

    assert response.status_code == 403
    assert response.json()["detail"].startswith("CSRF Failed")
    assert Book.objects.count() == 0


@pytest.mark.django_db
def test_session_delete_without_csrf_token_is_403_and_deletes_nothing(
    session_client: APIClient,
) -> None:
    book = BookFactory()

    response = session_client.delete(f"/books/{book.pk}/")

    assert response.status_code == 403
    assert response.json()["detail"].startswith("CSRF Failed")
    assert Book.objects.filter(pk=book.pk).exists()


@pytest.mark.django_db
def test_session_write_with_csrf_token_is_allowed(session_client: APIClient) -> None:
    csrf = csrf_token_from_browsable_api(session_client)

    response = session_client.post(
        "/books/", data=book_payload(), format="json", HTTP_X_CSRFTOKEN=csrf
    )

    assert response.status_code == 201, response.content
    assert Book.objects.count() == 1


# --- admin ----------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/admin/", "/admin/books/book/", "/admin/auth/user/"])
def test_admin_redirects_anonymous_to_login(path: str) -> None:
    client = APIClient()

    response = client.get(path)

    assert response.status_code == 302
    assert response["Location"] == f"/admin/login/?next={path}"


@pytest.mark.django_db
def test_admin_redirects_a_logged_in_non_staff_user_to_login(user: Any) -> None:
    client = APIClient()
    client.force_login(user)

    response = client.get("/admin/books/book/")

    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")


@pytest.fixture
def staff_client(db: None) -> APIClient:
    staff = get_user_model().objects.create_user(
        username="librarian", password="another-long-password", is_staff=True
    )
    staff.user_permissions.set(
        Permission.objects.filter(codename__in=["view_book", "change_book", "view_user"])
    )
    client = APIClient()
    client.force_login(staff)
    return client


@pytest.mark.django_db
def test_staff_can_open_the_admin_index(staff_client: APIClient) -> None:
    response = staff_client.get("/admin/")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")


@pytest.mark.django_db
def test_staff_can_open_the_book_changelist(staff_client: APIClient) -> None:
    book = BookFactory(title="A Findable Title")

    response = staff_client.get("/admin/books/book/")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    assert "A Findable Title" in response.content.decode()
    assert book.isbn in response.content.decode()


@pytest.mark.django_db
def test_staff_can_open_a_book_in_the_admin(staff_client: APIClient) -> None:
    book = BookFactory(title="A Findable Title")

    response = staff_client.get(f"/admin/books/book/{book.pk}/change/")

    assert response.status_code == 200
    assert "A Findable Title" in response.content.decode()


@pytest.mark.django_db
def test_staff_can_open_the_user_changelist(staff_client: APIClient, user: Any) -> None:
    response = staff_client.get("/admin/auth/user/")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    assert "writer" in response.content.decode()
    assert "librarian" in response.content.decode()
