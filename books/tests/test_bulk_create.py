"""Bulk create: POST /books/ with a JSON array, and services.book_bulk_create, all or nothing."""

import json
import math

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connection
from django.test.utils import CaptureQueriesContext
from knox.models import AuthToken
from rest_framework.test import APIClient

from books import services
from books.demo import demo_isbn
from books.isbn import INVALID_ISBN_MESSAGE
from books.models import Book
from books.permissions import give_role
from books.services import DUPLICATE_ISBN_MESSAGE
from books.tests.concurrency import run_together
from books.tests.factories import CANONICAL_ISBN, ISBN_SPELLINGS, BookFactory, book_payload

URL = "/books/"
#: Columns a bulk INSERT writes per book: every field but the id.
INSERTED_COLUMNS = 8


def batch(count: int, *, first: int = 0) -> list[dict[str, object]]:
    """``count`` valid payloads with distinct ISBNs (demo numbers ``first`` onwards)."""
    return [
        book_payload(title=f"Book {number}", isbn=demo_isbn(number))
        for number in range(first, first + count)
    ]


def same_isbn_message(index: int) -> str:
    return f"Same ISBN as item {index} of this request."


def stored_isbns() -> set[str]:
    return set(Book.objects.values_list("isbn", flat=True))


# --- Success ------------------------------------------------------------------------------


@pytest.mark.django_db
def test_bulk_create_stores_every_book_and_answers_201_with_them_in_request_order(auth_client):
    items = [
        book_payload(title="  Padded title  ", author="\tAn Author\n", isbn="0-306-40615-2"),
        book_payload(title="Second", isbn=demo_isbn(1), summary=""),
        book_payload(title="Third", isbn=demo_isbn(2), publication_date="1970-01-01"),
    ]

    response = auth_client.post(URL, items, format="json")

    assert response.status_code == 201, response.content
    assert "Location" not in response
    created = response.json()
    assert [book["title"] for book in created] == ["Padded title", "Second", "Third"]
    assert created[0]["author"] == "An Author"
    assert [book["isbn"] for book in created] == [CANONICAL_ISBN, demo_isbn(1), demo_isbn(2)]
    ids = [book["id"] for book in created]
    assert len(set(ids)) == 3
    assert set(Book.objects.values_list("id", flat=True)) == set(ids)
    for book in created:
        detail = auth_client.get(f"{URL}{book['id']}/")
        assert detail.status_code == 200
        assert book == detail.json()


@pytest.mark.django_db
def test_bulk_create_of_a_single_item_array_answers_with_an_array(auth_client):
    response = auth_client.post(URL, [book_payload()], format="json")

    assert response.status_code == 201, response.content
    assert "Location" not in response
    (created,) = response.json()
    assert created["isbn"] == CANONICAL_ISBN
    assert Book.objects.get().pk == created["id"]


@pytest.mark.django_db
def test_bulk_create_of_the_maximum_batch_writes_with_a_few_queries(auth_client):
    items = batch(settings.BULK_CREATE_MAX_ITEMS)

    with CaptureQueriesContext(connection) as queries:
        response = auth_client.post(URL, items, format="json")

    assert response.status_code == 201, response.content[:500]
    assert len(response.json()) == settings.BULK_CREATE_MAX_ITEMS
    assert stored_isbns() == {item["isbn"] for item in items}
    inserts = [q["sql"] for q in queries if q["sql"].startswith('INSERT INTO "books_book"')]
    if connection.vendor == "postgresql":
        assert len(inserts) == 1
    else:
        # SQLite allows 999 parameters per statement, so Django splits the batch.
        parameters = settings.BULK_CREATE_MAX_ITEMS * INSERTED_COLUMNS
        assert 1 <= len(inserts) <= math.ceil(parameters / 999) + 1
    assert len(queries) < 20, [q["sql"][:80] for q in queries]


@pytest.mark.django_db
def test_bulk_create_accepts_a_full_batch_just_under_the_body_limit(auth_client):
    count = settings.BULK_CREATE_MAX_ITEMS
    # Leave room for the rest of each item: about 300 bytes of JSON besides the summary.
    summary = "s" * (settings.REQUEST_BODY_MAX_BYTES // count - 300)
    items = [{**item, "summary": summary} for item in batch(count)]
    body = json.dumps(items)
    assert settings.REQUEST_BODY_MAX_BYTES * 0.9 < len(body) <= settings.REQUEST_BODY_MAX_BYTES

    response = auth_client.post(URL, body, content_type="application/json")

    assert response.status_code == 201, response.content[:500]
    assert Book.objects.count() == count


# --- All or nothing: errors by item index -------------------------------------------------


@pytest.mark.django_db
def test_bulk_create_with_invalid_items_stores_nothing_and_names_each_by_index(auth_client):
    items = batch(5)
    items[1]["title"] = ""
    items[3]["isbn"] = "0-306-40615-3"  # wrong check digit
    del items[4]["author"]

    response = auth_client.post(URL, items, format="json")

    assert response.status_code == 400, response.content
    body = response.json()
    assert set(body) == {"1", "3", "4"}
    assert set(body["1"]) == {"title"}
    assert body["3"] == {"isbn": [INVALID_ISBN_MESSAGE]}
    assert set(body["4"]) == {"author"}
    assert Book.objects.count() == 0


@pytest.mark.django_db
@pytest.mark.parametrize("item", [5, "a book", True, [{"title": "x"}], None])
def test_bulk_create_reports_an_item_that_is_not_an_object_under_non_field_errors(
    auth_client, item
):
    items = [book_payload(), item, book_payload(isbn=demo_isbn(1))]

    response = auth_client.post(URL, items, format="json")

    assert response.status_code == 400, response.content
    body = response.json()
    assert set(body) == {"1"}, body
    assert isinstance(body["1"], dict), body
    assert set(body["1"]) == {"non_field_errors"}, body
    assert Book.objects.count() == 0


@pytest.mark.django_db
def test_bulk_create_of_an_empty_array_is_a_400(auth_client):
    response = auth_client.post(URL, [], format="json")

    assert response.status_code == 400, response.content
    body = response.json()
    assert set(body) == {"non_field_errors"}
    assert len(body["non_field_errors"]) == 1


@pytest.mark.django_db
def test_bulk_create_of_more_than_the_maximum_is_a_400_storing_nothing(auth_client):
    items = batch(settings.BULK_CREATE_MAX_ITEMS + 1)

    response = auth_client.post(URL, items, format="json")

    assert response.status_code == 400, response.content[:500]
    body = response.json()
    assert set(body) == {"non_field_errors"}
    assert str(settings.BULK_CREATE_MAX_ITEMS) in body["non_field_errors"][0]
    assert Book.objects.count() == 0


@pytest.mark.django_db
def test_bulk_create_of_one_isbn_in_many_spellings_names_every_repeat(auth_client):
    other = book_payload(title="Another book", isbn=demo_isbn(7))
    items = [other] + [book_payload(isbn=spelling) for spelling in ISBN_SPELLINGS]

    response = auth_client.post(URL, items, format="json")

    assert response.status_code == 400, response.content
    # The first spelling (item 1) is the original; every later one repeats it.
    assert response.json() == {
        str(index): {"isbn": [same_isbn_message(1)]} for index in range(2, len(items))
    }
    assert Book.objects.count() == 0


@pytest.mark.django_db
@pytest.mark.parametrize("spelling", ISBN_SPELLINGS)
def test_bulk_create_of_an_isbn_already_stored_names_that_item(auth_client, spelling):
    existing = BookFactory(isbn=CANONICAL_ISBN)
    items = batch(3)
    items[2]["isbn"] = spelling

    response = auth_client.post(URL, items, format="json")

    assert response.status_code == 400, response.content
    assert response.json() == {"2": {"isbn": [DUPLICATE_ISBN_MESSAGE]}}
    assert list(Book.objects.values_list("pk", flat=True)) == [existing.pk]


@pytest.mark.django_db
def test_bulk_create_reports_format_errors_before_duplicates(auth_client):
    BookFactory(isbn=CANONICAL_ISBN)
    items = batch(4)
    items[0]["publication_date"] = "20/10/1999"
    items[1]["isbn"] = CANONICAL_ISBN  # already stored
    items[3]["isbn"] = items[2]["isbn"]  # repeats item 2

    response = auth_client.post(URL, items, format="json")

    assert response.status_code == 400, response.content
    body = response.json()
    assert set(body) == {"0"}, body
    assert set(body["0"]) == {"publication_date"}


@pytest.mark.django_db
def test_bulk_create_reports_repeats_and_stored_isbns_once_the_formats_are_right(auth_client):
    BookFactory(isbn=CANONICAL_ISBN)
    items = batch(4)
    items[1]["isbn"] = CANONICAL_ISBN
    items[3]["isbn"] = items[2]["isbn"]

    response = auth_client.post(URL, items, format="json")

    assert response.status_code == 400, response.content
    # Repeats within the batch are found first; stored ISBNs only when there are none.
    assert response.json() == {"3": {"isbn": [same_isbn_message(2)]}}
    del items[3]
    response = auth_client.post(URL, items, format="json")
    assert response.status_code == 400, response.content
    assert response.json() == {"1": {"isbn": [DUPLICATE_ISBN_MESSAGE]}}
    assert Book.objects.count() == 1


@pytest.mark.django_db
def test_bulk_create_needs_a_token(api_client):
    response = api_client.post(URL, batch(2), format="json")

    assert response.status_code == 401, response.content
    assert Book.objects.count() == 0


@pytest.mark.django_db
def test_bulk_create_body_over_the_limit_is_a_413_storing_nothing(auth_client):
    summary = "s" * 15_000
    count = settings.REQUEST_BODY_MAX_BYTES // len(summary) + 5
    items = [{**item, "summary": summary} for item in batch(count)]
    body = json.dumps(items)
    assert len(body) > settings.REQUEST_BODY_MAX_BYTES

    response = auth_client.post(URL, body, content_type="application/json")

    assert response.status_code == 413, response.content[:500]
    assert Book.objects.count() == 0


# --- The service --------------------------------------------------------------------------


@pytest.mark.django_db
def test_book_bulk_create_stores_and_returns_clean_books():
    items = [
        book_payload(title=" Spaced ", isbn="0-306-40615-2"),
        book_payload(title="Plain", isbn=demo_isbn(3)),
    ]

    books = services.book_bulk_create(items=items)

    assert [book.title for book in books] == ["Spaced", "Plain"]
    assert all(book.pk is not None for book in books)
    stored = Book.objects.in_bulk([book.pk for book in books])
    assert stored[books[0].pk].isbn == CANONICAL_ISBN
    assert stored[books[0].pk].title == "Spaced"
    assert stored[books[1].pk].isbn == demo_isbn(3)


@pytest.mark.django_db
def test_book_bulk_create_raises_errors_by_integer_index_and_stores_nothing():
    items = batch(4)
    items[2]["publication_date"] = "not a date"
    items[3]["isbn"] = items[0]["isbn"]

    with pytest.raises(services.BulkValidationError) as excinfo:
        services.book_bulk_create(items=items)

    errors = excinfo.value.errors
    assert list(errors) == [2, 3]
    assert set(errors[2]) == {"publication_date"}
    assert errors[3] == {"isbn": [same_isbn_message(0)]}
    assert Book.objects.count() == 0


@pytest.mark.django_db
def test_book_bulk_create_rejects_an_isbn_already_stored():
    BookFactory(isbn=CANONICAL_ISBN)
    items = batch(2)
    items[1]["isbn"] = "978-0-306-40615-7"

    with pytest.raises(services.BulkValidationError) as excinfo:
        services.book_bulk_create(items=items)

    assert excinfo.value.errors == {1: {"isbn": [DUPLICATE_ISBN_MESSAGE]}}
    assert Book.objects.count() == 1


@pytest.mark.django_db
@pytest.mark.parametrize(
    "extra", [{"id": 12345}, {"version": 7}, {"created_at": "2001-01-01T00:00:00Z"}]
)
def test_book_bulk_create_refuses_fields_a_caller_may_not_set(extra):
    items = batch(2)
    items[1].update(extra)

    with pytest.raises(services.BulkValidationError) as excinfo:
        services.book_bulk_create(items=items)

    assert list(excinfo.value.errors) == [1]
    assert set(excinfo.value.errors[1]) == set(extra)
    assert Book.objects.count() == 0


# --- A real race: two batches sharing ISBNs, posted at the same moment --------------------


def _client_for(username: str) -> APIClient:
    user = get_user_model().objects.create_user(username=username)
    give_role(user, "editor")
    client = APIClient(raise_request_exception=False)
    client.credentials(HTTP_AUTHORIZATION=f"Token {AuthToken.objects.create(user=user)[1]}")
    return client


def _hyphenated(isbn: str) -> str:
    return f"{isbn[:3]}-{isbn[3:]}"


@pytest.mark.django_db(transaction=True)
def test_concurrent_overlapping_batches_store_exactly_one_batch():
    first = batch(40, first=0)
    second = batch(40, first=100)
    # The second batch repeats two of the first's books, at other indexes and spellings.
    second[10]["isbn"] = _hyphenated(first[5]["isbn"])
    second[30]["isbn"] = first[37]["isbn"]
    overlap_at = [{"5", "37"}, {"10", "30"}]
    isbns = [
        {item["isbn"] for item in first},
        {item["isbn"].replace("-", "") for item in second},
    ]

    posts = [(_client_for("first"), first), (_client_for("second"), second)]
    outcomes = run_together(2, lambda slot: posts[slot][0].post(URL, posts[slot][1], format="json"))

    for outcome in outcomes:
        assert not isinstance(outcome, BaseException), repr(outcome)
    statuses = [outcome.status_code for outcome in outcomes]
    assert sorted(statuses) == [201, 400], [outcome.content[:300] for outcome in outcomes]
    winner = statuses.index(201)
    loser = 1 - winner
    assert len(outcomes[winner].json()) == 40
    assert outcomes[loser].json() == {
        index: {"isbn": [DUPLICATE_ISBN_MESSAGE]} for index in overlap_at[loser]
    }
    assert stored_isbns() == isbns[winner]
    assert Book.objects.count() == 40
