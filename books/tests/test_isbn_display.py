"""isbn_display: the ISBN as people write it, hyphenated by python-stdnum, beside the canonical
13 digits; read-only, and not exported (it would not import back)."""

import pytest
from rest_framework.test import APIClient

from books.isbn import hyphenated_isbn
from books.models import Book
from books.tests.factories import BookFactory, book_payload

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("isbn", "hyphenated"),
    [
        ("9780306406157", "978-0-306-40615-7"),
        ("9780451524935", "978-0-451-52493-5"),
        ("9791032300824", "979-10-323-0082-4"),
    ],
)
def test_the_isbn_is_split_by_the_agencys_ranges(isbn: str, hyphenated: str) -> None:
    assert hyphenated_isbn(isbn) == hyphenated


def test_a_book_and_the_list_give_the_hyphenated_isbn(api_client: APIClient) -> None:
    book: Book = BookFactory.create(isbn="9780306406157")

    detail = api_client.get(f"/books/{book.pk}/").json()
    listed = api_client.get("/books/").json()["results"][0]

    assert detail["isbn"] == "9780306406157"
    assert detail["isbn_display"] == "978-0-306-40615-7"
    assert listed["isbn_display"] == "978-0-306-40615-7"


def test_isbn_display_is_read_only(auth_client: APIClient) -> None:
    payload = {**book_payload(isbn="0-306-40615-2"), "isbn_display": "000-0-000-00000-0"}

    created = auth_client.post("/books/", payload, format="json")

    assert created.status_code == 201, created.content
    assert created.json()["isbn_display"] == "978-0-306-40615-7"


def test_the_export_leaves_the_display_form_out(auth_client: APIClient) -> None:
    BookFactory(isbn="9780306406157")

    response = auth_client.get("/books/export/", {"format": "jsonl"})
    body = b"".join(response.streaming_content).decode()  # type: ignore[attr-defined]

    assert response.status_code == 200
    assert '"isbn": "9780306406157"' in body
    assert "isbn_display" not in body
    assert "978-0-306-40615-7" not in body
