"""The management commands: seed_books and create_api_user."""

import io
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.test import override_settings
from django.utils import timezone
from knox.crypto import hash_token
from knox.models import AuthToken
from rest_framework.test import APIClient
from stdnum import isbn as stdnum_isbn

from books.models import Book
from books.tests.factories import BookFactory, book_payload

pytestmark = pytest.mark.django_db

PASSWORD = "correct-horse-battery-staple-42"


def _run(*args: str) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def _isbns() -> list[str]:
    return list(Book.objects.order_by("isbn").values_list("isbn", flat=True))


# --- seed_books ---------------------------------------------------------------------------


@pytest.mark.parametrize("count", [1, 25])
def test_seed_books_adds_n_books_with_valid_unique_isbns(count):
    output = _run("seed_books", str(count))

    isbns = _isbns()
    assert len(isbns) == count
    assert len(set(isbns)) == count
    for isbn in isbns:
        assert len(isbn) == 13
        assert isbn.isdigit()
        assert stdnum_isbn.is_valid(isbn), isbn
    assert output.startswith(f"Added {count} books (0 were already there) in ")


def test_seed_books_adds_books_that_obey_the_rules():
    _run("seed_books", "30")

    for book in Book.objects.all():
        assert book.title.strip() == book.title != ""
        assert book.author.strip() == book.author != ""
        assert len(book.title) <= 200
        assert len(book.author) <= 100
        assert len(book.summary) <= 20_000
        book.full_clean()


def test_seed_books_run_twice_adds_nothing():
    _run("seed_books", "20")
    first = list(Book.objects.order_by("pk").values())

    output = _run("seed_books", "20")

    assert Book.objects.count() == 20
    assert list(Book.objects.order_by("pk").values()) == first
    assert output.startswith("Added 0 books (20 were already there) in ")


def test_seed_books_with_a_larger_count_adds_only_the_missing_books():
    _run("seed_books", "10")
    first = set(_isbns())

    output = _run("seed_books", "15")

    assert Book.objects.count() == 15
    assert first <= set(_isbns())
    assert output.startswith("Added 5 books (10 were already there) in ")


def test_seed_books_with_another_seed_adds_different_books():
    _run("seed_books", "10")
    first = set(_isbns())

    _run("seed_books", "10", "--seed", "1")

    assert Book.objects.count() == 20
    assert len(set(_isbns()) - first) == 10


def test_seed_books_leaves_existing_books_alone():
    existing = BookFactory()
    before = Book.objects.values().get(pk=existing.pk)

    _run("seed_books", "5")

    assert Book.objects.count() == 6
    assert Book.objects.values().get(pk=existing.pk) == before


# --- create_api_user -----------------------------------------------------------------------


def _token_client(token: str) -> APIClient:
    client = APIClient(raise_request_exception=False)
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    return client


def test_create_api_user_prints_a_token_that_can_create_a_book():
    token = _run("create_api_user", "alice").strip()

    stored = AuthToken.objects.get(user__username="alice")
    assert stored.digest == hash_token(token)
    response = _token_client(token).post("/books/", book_payload(), format="json")
    assert response.status_code == 201, response.content
    assert Book.objects.get().isbn == "9780306406157"


def test_made_up_token_cannot_create_a_book():
    """The control for the test above: the API does refuse a token it did not issue."""
    _run("create_api_user", "alice")

    response = _token_client("0" * 64).post("/books/", book_payload(), format="json")

    assert response.status_code == 401
    assert Book.objects.count() == 0


def test_create_api_user_run_again_prints_a_new_token_and_the_first_keeps_working():
    first = _run("create_api_user", "alice").strip()

    second = _run("create_api_user", "alice").strip()

    assert second != first
    assert get_user_model().objects.filter(username="alice").count() == 1
    assert AuthToken.objects.filter(user__username="alice").count() == 2
    for token in (first, second):
        response = _token_client(token).post("/books/", book_payload(), format="json")
        assert response.status_code == 201, response.content
        Book.objects.all().delete()


def test_create_api_user_revoke_others_leaves_only_the_new_token_working():
    first = _run("create_api_user", "alice").strip()

    second = _run("create_api_user", "alice", "--revoke-others").strip()

    assert _token_client(first).post("/books/", book_payload(), format="json").status_code == 401
    assert _token_client(second).post("/books/", book_payload(), format="json").status_code == 201
    assert AuthToken.objects.filter(user__username="alice").count() == 1


@override_settings(REST_KNOX={"TOKEN_TTL": timedelta(hours=5)})
def test_create_api_user_token_expires_after_the_configured_ttl():
    before = timezone.now()

    _run("create_api_user", "alice")

    expiry = AuthToken.objects.get(user__username="alice").expiry
    assert before + timedelta(hours=5) <= expiry <= timezone.now() + timedelta(hours=5)


@pytest.mark.parametrize(("hours", "lifetime"), [("0", None), ("2", timedelta(hours=2))])
def test_create_api_user_ttl_hours_sets_the_tokens_lifetime(hours, lifetime):
    before = timezone.now()

    _run("create_api_user", "alice", "--ttl-hours", hours)

    expiry = AuthToken.objects.get(user__username="alice").expiry
    if lifetime is None:
        assert expiry is None
    else:
        assert before + lifetime <= expiry <= timezone.now() + lifetime


def test_create_api_user_refuses_a_negative_ttl():
    with pytest.raises(CommandError, match="--ttl-hours"):
        _run("create_api_user", "alice", "--ttl-hours", "-1")

    assert not get_user_model().objects.filter(username="alice").exists()
    assert AuthToken.objects.count() == 0


def test_create_api_user_without_password_cannot_sign_in(api_client):
    _run("create_api_user", "alice")

    user = get_user_model().objects.get(username="alice")
    assert not user.has_usable_password()
    assert not user.is_staff
    response = api_client.post("/auth/token/", {"username": "alice", "password": ""}, format="json")
    assert response.status_code == 400


def test_create_api_user_with_password_can_sign_in_for_another_working_token(api_client):
    printed = _run("create_api_user", "alice", "--password", PASSWORD).strip()

    response = api_client.post(
        "/auth/token/", {"username": "alice", "password": PASSWORD}, format="json"
    )

    assert response.status_code == 200, response.content
    signed_in = response.json()["token"]
    assert signed_in != printed
    for token in (printed, signed_in):
        created = _token_client(token).post("/books/", book_payload(), format="json")
        assert created.status_code == 201, created.content
        Book.objects.all().delete()


def test_auth_endpoint_refuses_a_wrong_password(api_client):
    _run("create_api_user", "alice", "--password", PASSWORD)

    response = api_client.post(
        "/auth/token/", {"username": "alice", "password": PASSWORD + "x"}, format="json"
    )

    assert response.status_code == 400
    assert "token" not in response.json()


@pytest.mark.parametrize(
    ("password", "reason"),
    [
        ("short", "too short"),
        ("password", "too common"),
        ("12345678901234", "entirely numeric"),
        ("xalicex9", "too similar to the username"),
    ],
    ids=["too-short", "too-common", "all-numeric", "like-username"],
)
def test_create_api_user_refuses_a_weak_password(password, reason):
    with pytest.raises(CommandError) as excinfo:
        _run("create_api_user", "alice", "--password", password)

    assert reason in str(excinfo.value)
    assert not get_user_model().objects.filter(username="alice").exists()
    assert AuthToken.objects.count() == 0


def test_create_api_user_refuses_a_blank_username():
    with pytest.raises(CommandError):
        _run("create_api_user", "   ")

    assert get_user_model().objects.count() == 0


def test_create_api_user_with_staff_flag_makes_a_staff_user():
    _run("create_api_user", "alice", "--password", PASSWORD, "--staff")

    user = get_user_model().objects.get(username="alice")
    assert user.is_staff
    assert not user.is_superuser
    assert user.check_password(PASSWORD)
