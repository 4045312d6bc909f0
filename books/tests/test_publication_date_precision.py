"""A publication date's precision: stored, shown by the API, and held to the date by every
write path (a year-precision date is YYYY-01-01, a month-precision one YYYY-MM-01)."""

import datetime

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection

from books import services
from books.models import Book
from books.tests.factories import BookFactory, book_payload

pytestmark = pytest.mark.django_db


def _create(client, **fields):  # type: ignore[no-untyped-def]
    return client.post("/books/", book_payload(**fields), format="json")


@pytest.mark.parametrize(
    ("sent", "stored_date", "precision"),
    [
        ({"publication_date": "1965"}, "1965-01-01", "year"),
        ({"publication_date": "1968-07"}, "1968-07-01", "month"),
        ({"publication_date": "1999-10-20"}, "1999-10-20", "day"),
        (
            {"publication_date": "1965-01-01", "publication_date_precision": "year"},
            "1965-01-01",
            "year",
        ),
        ({"publication_date": "1965", "publication_date_precision": "year"}, "1965-01-01", "year"),
        ({"publication_date": "0975"}, "0975-01-01", "year"),
    ],
)
def test_create_stores_and_answers_the_precision(auth_client, sent, stored_date, precision):
    response = _create(auth_client, **sent)

    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["publication_date"], body["publication_date_precision"]) == (
        stored_date,
        precision,
    )
    stored = Book.objects.get(pk=body["id"])
    assert (stored.publication_date.isoformat(), stored.publication_date_precision) == (
        stored_date,
        precision,
    )
    assert (
        auth_client.get(f"/books/{body['id']}/").json()["publication_date_precision"] == precision
    )


@pytest.mark.parametrize(
    "sent",
    [
        {"publication_date": "1965-07-14", "publication_date_precision": "year"},
        {"publication_date": "1965-07-14", "publication_date_precision": "month"},
        {"publication_date": "1965-02-01", "publication_date_precision": "year"},
        {"publication_date": "1965", "publication_date_precision": "day"},
        {"publication_date": "1965-07", "publication_date_precision": "year"},
        {"publication_date": "1999-10-20", "publication_date_precision": "decade"},
        {"publication_date": "1999-10-20", "publication_date_precision": None},
    ],
)
def test_a_precision_the_date_does_not_fit_is_a_400_naming_the_field(auth_client, sent):
    response = _create(auth_client, **sent)

    assert response.status_code == 400
    assert set(response.json()) >= {"publication_date_precision"}, response.json()
    assert not Book.objects.exists()


@pytest.mark.parametrize("value", ["19650", "196", "1965-7", "1965-13", "0000", "1965-00"])
def test_short_dates_the_api_takes_are_iso_only(auth_client, value):
    response = _create(auth_client, publication_date=value)

    assert response.status_code == 400
    assert "publication_date" in response.json()


def test_patch_without_the_precision_keeps_it_and_a_new_date_must_fit_it(auth_client):
    book = BookFactory(
        publication_date=datetime.date(1965, 1, 1), publication_date_precision="year"
    )

    kept = auth_client.patch(f"/books/{book.pk}/", {"title": "Dune"}, format="json")
    misfit = auth_client.patch(
        f"/books/{book.pk}/", {"publication_date": "1965-08-01"}, format="json"
    )
    refined = auth_client.patch(
        f"/books/{book.pk}/",
        {"publication_date": "1965-08-01", "publication_date_precision": "day"},
        format="json",
    )

    assert kept.status_code == 200
    assert kept.json()["publication_date_precision"] == "year"
    assert misfit.status_code == 400
    assert "publication_date_precision" in misfit.json()
    assert refined.status_code == 200
    assert refined.json()["publication_date_precision"] == "day"


def test_put_without_the_precision_resets_it_to_day_like_any_optional_field(auth_client):
    book = BookFactory(
        publication_date=datetime.date(1965, 1, 1), publication_date_precision="year"
    )

    response = auth_client.put(
        f"/books/{book.pk}/",
        book_payload(isbn=book.isbn, publication_date="1965-01-01"),
        format="json",
    )

    assert response.status_code == 200, response.json()
    assert response.json()["publication_date_precision"] == "day"


def test_bulk_create_holds_each_item_to_its_precision(auth_client):
    items = [
        book_payload(isbn="9780306406157", publication_date="1818"),
        book_payload(
            isbn="9780140449136", publication_date="1818-03-11", publication_date_precision="year"
        ),
    ]

    refused = auth_client.post("/books/", items, format="json")
    accepted = auth_client.post("/books/", items[:1], format="json")

    assert refused.status_code == 400
    assert "publication_date_precision" in str(refused.json())
    assert accepted.status_code == 201
    assert accepted.json()[0]["publication_date_precision"] == "year"


def test_the_service_refuses_a_misfit_whatever_the_caller():
    with pytest.raises(ValidationError) as error:
        services.book_create(
            title="T",
            author="A",
            publication_date=datetime.date(1965, 7, 14),
            isbn="9780306406157",
            publication_date_precision="month",
        )

    assert set(error.value.message_dict) == {"publication_date_precision"}
    assert "1965-07-01" in error.value.message_dict["publication_date_precision"][0]


def test_the_database_refuses_an_unknown_precision():
    book = BookFactory()

    with pytest.raises(IntegrityError), connection.cursor() as cursor:
        cursor.execute(
            "UPDATE books_book SET publication_date_precision = 'week' WHERE id = %s", [book.pk]
        )
