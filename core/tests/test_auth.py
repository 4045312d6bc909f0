"""Who may do what: reads are public, writes need a token (or a session plus CSRF token).

Tokens are stored as digests, expire, and can be revoked; sign-in is throttled; passwords are
hashed with Argon2.
"""

import json
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.contrib.auth.models import Permission
from django.db import connection
from django.test import override_settings
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from knox.crypto import hash_token
from knox.models import AuthToken
from rest_framework.test import APIClient
from rest_framework.throttling import SimpleRateThrottle

from books.models import Book
from books.permissions import give_role
from books.tests.factories import BookFactory, book_payload
from bookstore import settings as production_settings

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


def token_client(key: str) -> APIClient:
    client = APIClient(raise_request_exception=False)
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


def can_write(key: str) -> bool:
    """Whether the token is accepted for a write (a create, undone at once)."""
    response = token_client(key).post("/books/", data=book_payload(), format="json")
    Book.objects.all().delete()
    assert response.status_code in (201, 401), response.content
    return bool(response.status_code == 201)


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
    assert set(body) == {"token", "expiry"}
    stored = AuthToken.objects.get(user=user)
    assert stored.digest == hash_token(body["token"])
    assert parse_datetime(body["expiry"]) == stored.expiry

    writer = APIClient(raise_request_exception=False)
    writer.credentials(HTTP_AUTHORIZATION=f"Token {body['token']}")
    created = writer.post("/books/", data=book_payload(), format="json")
    assert created.status_code == 201, created.content
    assert Book.objects.count() == 1


@pytest.mark.django_db
def test_token_endpoint_issues_a_new_token_each_time_and_both_work(
    api_client: APIClient, user: Any
) -> None:
    credentials = {"username": "writer", "password": PASSWORD}

    first = api_client.post("/auth/token/", data=credentials, format="json")
    second = api_client.post("/auth/token/", data=credentials, format="json")

    assert first.status_code == second.status_code == 200
    assert first.json()["token"] != second.json()["token"]
    assert AuthToken.objects.filter(user=user).count() == 2
    assert can_write(first.json()["token"])
    assert can_write(second.json()["token"])


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
    assert not AuthToken.objects.exists()


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
    assert not AuthToken.objects.exists()


@pytest.mark.django_db
def test_token_endpoint_refuses_a_multipart_body_with_415(api_client: APIClient, user: Any) -> None:
    response = api_client.post(
        "/auth/token/", data={"username": "writer", "password": PASSWORD}, format="multipart"
    )

    assert response.status_code == 415
    assert response.json()["detail"].startswith('Unsupported media type "multipart/form-data')
    assert not AuthToken.objects.exists()


@pytest.mark.django_db
def test_token_endpoint_refuses_get_with_json_405(api_client: APIClient) -> None:
    response = api_client.get("/auth/token/")

    assert response.status_code == 405
    assert response["Content-Type"] == JSON
    assert response.json() == {"detail": 'Method "GET" not allowed.'}


# --- tokens are stored as digests, and expire ------------------------------------------


def sign_in(client: APIClient, password: str = PASSWORD) -> Any:
    return client.post(
        "/auth/token/", data={"username": "writer", "password": password}, format="json"
    )


@pytest.mark.django_db
def test_the_database_never_holds_the_key(api_client: APIClient, user: Any) -> None:
    key = sign_in(api_client).json()["token"]

    with connection.cursor() as cursor:
        table = connection.ops.quote_name(AuthToken._meta.db_table)
        cursor.execute(f"SELECT * FROM {table}")  # noqa: S608 - a model's table name
        rows = cursor.fetchall()

    assert len(rows) == 1
    assert len(key) == 64
    assert not [value for value in rows[0] if key in str(value)]
    assert can_write(key)


@pytest.mark.django_db
@override_settings(REST_KNOX={"TOKEN_TTL": timedelta(hours=2)})
def test_a_token_expires_after_the_configured_ttl(api_client: APIClient, user: Any) -> None:
    before = timezone.now()

    expiry = parse_datetime(sign_in(api_client).json()["expiry"])

    assert expiry is not None
    assert before + timedelta(hours=2) <= expiry <= timezone.now() + timedelta(hours=2)


@pytest.mark.django_db
@override_settings(REST_KNOX={"TOKEN_TTL": None})
def test_without_a_ttl_a_token_never_expires(api_client: APIClient, user: Any) -> None:
    response = sign_in(api_client)

    assert response.json()["expiry"] is None
    assert AuthToken.objects.get().expiry is None


@pytest.mark.django_db
def test_an_expired_token_is_401_and_forgotten(user: Any, token: str) -> None:
    AuthToken.objects.update(expiry=timezone.now() - timedelta(seconds=1))

    response = token_client(token).post("/books/", data=book_payload(), format="json")

    assert_401(response, "Invalid token.")
    assert Book.objects.count() == 0
    assert not AuthToken.objects.exists()


@pytest.mark.django_db
def test_a_request_reads_only_its_own_token_and_user(user: Any, token: str) -> None:
    """One query authenticates: the user's other tokens are neither read nor swept."""
    other, _ = AuthToken.objects.create(user=user)
    AuthToken.objects.filter(pk=other.pk).update(expiry=timezone.now() - timedelta(seconds=1))

    with CaptureQueriesContext(connection) as queries:
        response = token_client(token).get("/books/")

    assert response.status_code == 200
    token_queries = [q["sql"] for q in queries if "knox_authtoken" in q["sql"]]
    assert len(token_queries) == 1, token_queries
    assert AuthToken.objects.filter(pk=other.pk).exists()  # left for the next sign-in


@pytest.mark.django_db
def test_a_token_just_before_its_expiry_still_works(user: Any, token: str) -> None:
    """The control for the test above."""
    AuthToken.objects.update(expiry=timezone.now() + timedelta(minutes=1))

    assert can_write(token)


@pytest.mark.django_db
def test_a_token_that_is_not_text_is_401_not_a_crash() -> None:
    response = token_client("caf\xe9").post("/books/", data=book_payload(), format="json")

    assert_401(
        response, "Invalid token header. Token string should not contain invalid characters."
    )


@pytest.mark.django_db
@override_settings(REST_KNOX={"TOKEN_LIMIT_PER_USER": 2})
def test_past_the_limit_a_sign_in_revokes_the_oldest_token(
    api_client: APIClient, user: Any
) -> None:
    first, second, third = (sign_in(api_client).json()["token"] for _ in range(3))

    assert not can_write(first)
    assert can_write(second)
    assert can_write(third)
    assert AuthToken.objects.filter(user=user).count() == 2


@pytest.mark.django_db
def test_a_sign_in_clears_the_users_expired_tokens(
    api_client: APIClient, user: Any, token: str
) -> None:
    AuthToken.objects.update(expiry=timezone.now() - timedelta(seconds=1))

    key = sign_in(api_client).json()["token"]

    assert [stored.digest for stored in AuthToken.objects.all()] == [hash_token(key)]


# --- signing out revokes tokens ---------------------------------------------------------


@pytest.mark.django_db
def test_logout_revokes_only_the_token_it_is_sent_with(api_client: APIClient, user: Any) -> None:
    signed_out = sign_in(api_client).json()["token"]
    elsewhere = sign_in(api_client).json()["token"]

    response = token_client(signed_out).post("/auth/logout/")

    assert response.status_code == 204, response.content
    assert response.content == b""
    assert not can_write(signed_out)
    assert can_write(elsewhere)


@pytest.mark.django_db
def test_logout_all_revokes_every_token_of_the_user_and_no_one_elses(
    api_client: APIClient, user: Any
) -> None:
    mine = [sign_in(api_client).json()["token"] for _ in range(3)]
    other_user = get_user_model().objects.create_user(username="reader")
    give_role(other_user, "editor")
    _, theirs = AuthToken.objects.create(user=other_user)

    response = token_client(mine[0]).post("/auth/logout-all/")

    assert response.status_code == 204, response.content
    assert not [key for key in mine if can_write(key)]
    assert can_write(theirs)


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/auth/logout/", "/auth/logout-all/"])
def test_logout_without_a_token_is_401_and_revokes_nothing(
    api_client: APIClient, token: str, path: str
) -> None:
    response = api_client.post(path)

    assert_401(response, NO_CREDENTIALS)
    assert can_write(token)


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/auth/logout/", "/auth/logout-all/"])
def test_logout_with_a_revoked_token_is_401(api_client: APIClient, token: str, path: str) -> None:
    assert token_client(token).post("/auth/logout/").status_code == 204

    response = token_client(token).post(path)

    assert_401(response, "Invalid token.")


# --- sign-in is throttled against password guessing --------------------------------------


@pytest.fixture
def three_sign_ins_a_minute(monkeypatch: pytest.MonkeyPatch) -> None:
    rates = {**SimpleRateThrottle.THROTTLE_RATES, "auth": "3/min"}
    monkeypatch.setattr(SimpleRateThrottle, "THROTTLE_RATES", rates)


@pytest.mark.django_db
@pytest.mark.usefixtures("three_sign_ins_a_minute")
def test_sign_in_over_the_limit_is_429_json_with_retry_after_and_issues_nothing(
    api_client: APIClient, user: Any
) -> None:
    guesses = [sign_in(api_client, password=f"guess-{n}").status_code for n in range(3)]

    response = sign_in(api_client)

    assert guesses == [400, 400, 400]
    assert response.status_code == 429, response.content
    assert response["Content-Type"] == JSON
    assert response.json()["detail"].startswith("Request was throttled.")
    assert 0 < int(response["Retry-After"]) <= 60
    assert not AuthToken.objects.exists()


@pytest.mark.django_db
@pytest.mark.usefixtures("three_sign_ins_a_minute")
def test_sign_in_attempts_are_counted_per_client_address(user: Any) -> None:
    guesser = APIClient(raise_request_exception=False, REMOTE_ADDR="203.0.113.7")
    for n in range(3):
        sign_in(guesser, password=f"guess-{n}")
    assert sign_in(guesser).status_code == 429

    someone_else = APIClient(raise_request_exception=False, REMOTE_ADDR="198.51.100.2")

    assert sign_in(someone_else).status_code == 200


@pytest.mark.django_db
@pytest.mark.usefixtures("three_sign_ins_a_minute")
def test_other_requests_do_not_use_up_the_sign_in_budget(api_client: APIClient, user: Any) -> None:
    for _ in range(5):
        assert api_client.get("/books/").status_code == 200

    assert sign_in(api_client).status_code == 200


# --- passwords are hashed with Argon2 ---------------------------------------------------

# The test run's settings use a fast hasher; these tests use production's.
production_hashers = override_settings(PASSWORD_HASHERS=production_settings.PASSWORD_HASHERS)


@pytest.mark.django_db
@production_hashers
def test_a_new_password_is_hashed_with_argon2() -> None:
    user = get_user_model().objects.create_user(username="newcomer", password=PASSWORD)
    give_role(user, "editor")

    assert user.password.startswith("argon2$argon2id$")
    assert PASSWORD not in user.password
    assert user.check_password(PASSWORD)


@pytest.mark.django_db
@production_hashers
def test_an_older_pbkdf2_hash_still_signs_in_and_is_upgraded_to_argon2(
    api_client: APIClient,
) -> None:
    user = get_user_model().objects.create(
        username="writer", password=make_password(PASSWORD, hasher="pbkdf2_sha256")
    )
    assert user.password.startswith("pbkdf2_sha256$")

    response = sign_in(api_client)

    assert response.status_code == 200, response.content
    user.refresh_from_db()
    assert user.password.startswith("argon2$")
    assert user.check_password(PASSWORD)


@pytest.mark.django_db
@production_hashers
def test_a_wrong_password_leaves_an_older_hash_as_it_is(api_client: APIClient) -> None:
    """The control for the test above: only a verified password is re-hashed."""
    old_hash = make_password(PASSWORD, hasher="pbkdf2_sha256")
    user = get_user_model().objects.create(username="writer", password=old_hash)

    response = sign_in(api_client, password="not-the-password")

    assert response.status_code == 400
    user.refresh_from_db()
    assert user.password == old_hash


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
