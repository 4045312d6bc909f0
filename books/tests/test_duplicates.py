"""One book per ISBN, whatever its spelling, on create, on update and under concurrency."""

import pytest
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import IntegrityError
from knox.models import AuthToken
from rest_framework.test import APIClient

from books import services
from books.models import Book
from books.permissions import give_role
from books.services import DUPLICATE_ISBN_MESSAGE
from books.tests.concurrency import RACERS, run_together
from books.tests.factories import CANONICAL_ISBN, ISBN_SPELLINGS, BookFactory, book_payload

OTHER_ISBN = "9780131103627"  # The C Programming Language, 2nd edition


def _assert_duplicate_isbn_error(response) -> None:  # type: ignore[no-untyped-def]
    assert response.status_code == 400, response.content
    body = response.json()
    assert set(body) == {"isbn"}, body
    assert body["isbn"] == [DUPLICATE_ISBN_MESSAGE]


@pytest.mark.django_db
@pytest.mark.parametrize("spelling", ISBN_SPELLINGS)
def test_duplicate_isbn_in_any_spelling_is_rejected_on_create(auth_client, spelling):
    existing = BookFactory(isbn=CANONICAL_ISBN)

    response = auth_client.post("/books/", book_payload(isbn=spelling), format="json")

    _assert_duplicate_isbn_error(response)
    assert list(Book.objects.values_list("pk", flat=True)) == [existing.pk]


@pytest.mark.django_db
@pytest.mark.parametrize("spelling", ISBN_SPELLINGS)
def test_changing_isbn_to_another_books_isbn_is_rejected_on_put(auth_client, spelling):
    BookFactory(isbn=CANONICAL_ISBN)
    book = BookFactory(isbn=OTHER_ISBN)
    before = Book.objects.values().get(pk=book.pk)

    response = auth_client.put(f"/books/{book.pk}/", book_payload(isbn=spelling), format="json")

    _assert_duplicate_isbn_error(response)
    assert Book.objects.values().get(pk=book.pk) == before
    assert Book.objects.filter(isbn=CANONICAL_ISBN).count() == 1


@pytest.mark.django_db
@pytest.mark.parametrize("spelling", ISBN_SPELLINGS)
def test_changing_isbn_to_another_books_isbn_is_rejected_on_patch(auth_client, spelling):
    BookFactory(isbn=CANONICAL_ISBN)
    book = BookFactory(isbn=OTHER_ISBN)
    before = Book.objects.values().get(pk=book.pk)

    response = auth_client.patch(f"/books/{book.pk}/", {"isbn": spelling}, format="json")

    _assert_duplicate_isbn_error(response)
    assert Book.objects.values().get(pk=book.pk) == before


@pytest.mark.django_db
@pytest.mark.parametrize("spelling", ISBN_SPELLINGS)
def test_updating_a_book_keeping_its_own_isbn_is_accepted(auth_client, spelling):
    book = BookFactory(isbn=CANONICAL_ISBN)

    put = auth_client.put(
        f"/books/{book.pk}/", book_payload(isbn=spelling, title="Second Edition"), format="json"
    )
    patch = auth_client.patch(
        f"/books/{book.pk}/", {"isbn": spelling, "author": "Dave Thomas"}, format="json"
    )

    assert put.status_code == 200, put.content
    assert put.json()["isbn"] == CANONICAL_ISBN
    assert patch.status_code == 200, patch.content
    assert patch.json()["isbn"] == CANONICAL_ISBN
    book.refresh_from_db()
    assert (book.isbn, book.title, book.author) == (CANONICAL_ISBN, "Second Edition", "Dave Thomas")
    assert Book.objects.count() == 1


@pytest.mark.django_db
def test_duplicate_isbn_is_rejected_by_service_with_isbn_error():
    BookFactory(isbn=CANONICAL_ISBN)

    with pytest.raises(ValidationError) as excinfo:
        services.book_create(
            title="Copy", author="Someone", publication_date="2001-01-01", isbn="0-306-40615-2"
        )

    assert excinfo.value.message_dict == {"isbn": [DUPLICATE_ISBN_MESSAGE]}
    assert Book.objects.count() == 1


# --- Real races: several threads, each with its own database connection --------------------


@pytest.mark.django_db(transaction=True)
def test_concurrent_posts_of_one_isbn_create_exactly_one_book():
    tokens = []
    for index in range(RACERS):
        racer = get_user_model().objects.create_user(username=f"racer{index}")
        give_role(racer, "editor")
        tokens.append(AuthToken.objects.create(user=racer)[1])

    def post(index: int):  # type: ignore[no-untyped-def]
        client = APIClient(raise_request_exception=False)
        client.credentials(HTTP_AUTHORIZATION=f"Token {tokens[index]}")
        payload = book_payload(
            isbn=ISBN_SPELLINGS[index % len(ISBN_SPELLINGS)], title=f"Racer {index}"
        )
        return client.post("/books/", payload, format="json")

    responses = run_together(RACERS, post)

    for response in responses:
        assert not isinstance(response, BaseException), repr(response)
    statuses = sorted(response.status_code for response in responses)
    assert statuses == [201] + [400] * (RACERS - 1), [r.content for r in responses]
    for response in responses:
        if response.status_code == 400:
            _assert_duplicate_isbn_error(response)
    (winner,) = [response for response in responses if response.status_code == 201]
    assert Book.objects.count() == 1
    stored = Book.objects.get()
    assert stored.isbn == CANONICAL_ISBN
    assert (stored.pk, stored.title) == (winner.json()["id"], winner.json()["title"])


@pytest.mark.django_db(transaction=True)
def test_concurrent_service_creates_lose_through_the_integrity_error_branch():
    def create(index: int) -> Book:
        return services.book_create(
            title=f"Racer {index}",
            author="Someone",
            publication_date="2001-01-01",
            isbn=ISBN_SPELLINGS[index % len(ISBN_SPELLINGS)],
        )

    results = run_together(RACERS, create)

    winners = [result for result in results if isinstance(result, Book)]
    losers = [result for result in results if not isinstance(result, Book)]
    assert len(winners) == 1, results
    assert len(losers) == RACERS - 1
    for loser in losers:
        assert isinstance(loser, ValidationError), repr(loser)
        assert loser.message_dict == {"isbn": [DUPLICATE_ISBN_MESSAGE]}
        # The services leave uniqueness to the database: each loser's insert was refused by
        # the unique index and _validate_and_save turned that IntegrityError into this error.
        assert isinstance(loser.__cause__, IntegrityError), repr(loser.__cause__)
    assert list(Book.objects.values_list("pk", "isbn")) == [(winners[0].pk, CANONICAL_ISBN)]
