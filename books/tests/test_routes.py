"""The routes: the API root, the list and detail URLs and the methods each one answers."""

import pytest
from rest_framework.test import APIClient

from books.isbn import hyphenated_isbn
from books.models import Book
from books.tests.factories import BookFactory, book_payload

pytestmark = pytest.mark.django_db

LIST_URL = "/books/"

# The ISBN of book_payload() ("0-306-40615-2") in its stored, 13-digit form.
PAYLOAD_ISBN_13 = "9780306406157"
#: What the API adds to book_payload()'s fields in its answer (timestamps aside).
PAYLOAD_ANSWERED = {
    "isbn": PAYLOAD_ISBN_13,
    "isbn_display": "978-0-306-40615-7",
    "publication_date_precision": "day",
}


def detail_url(book_id: object) -> str:
    return f"/books/{book_id}/"


def assert_json(response, status: int):  # type: ignore[no-untyped-def]
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/json")
    return response.json()


def assert_not_found(response) -> None:  # type: ignore[no-untyped-def]
    body = assert_json(response, 404)
    assert set(body) == {"detail"}
    assert isinstance(body["detail"], str)
    assert body["detail"]


def book_json(book: Book) -> dict[str, object]:
    return {
        "id": book.id,
        "title": book.title,
        "author": book.author,
        "publication_date": book.publication_date.isoformat(),
        "publication_date_precision": book.publication_date_precision,
        "isbn": book.isbn,
        "isbn_display": hyphenated_isbn(book.isbn),
        "summary": book.summary,
    }


def without_timestamps(body: dict[str, object]) -> dict[str, object]:
    return {key: value for key, value in body.items() if key not in ("created_at", "updated_at")}


# --- the API root ----------------------------------------------------------------------


def test_api_root_is_json_listing_the_books_url(api_client: APIClient) -> None:
    response = api_client.get("/")

    body = assert_json(response, 200)
    # The root's other links: core/tests/test_api_root.py.
    assert body["books"] == "http://testserver/books/"


def test_api_root_books_url_answers_the_book_list(api_client: APIClient) -> None:
    book = BookFactory()
    books_url = api_client.get("/").json()["books"]

    body = assert_json(api_client.get(books_url), 200)

    assert [item["id"] for item in body["results"]] == [book.id]


# --- reads -----------------------------------------------------------------------------


def test_get_list_answers_200_with_the_books(api_client: APIClient) -> None:
    book = BookFactory()

    body = assert_json(api_client.get(LIST_URL), 200)

    assert [without_timestamps(item) for item in body["results"]] == [book_json(book)]


def test_get_detail_answers_200_with_the_book(api_client: APIClient) -> None:
    book = BookFactory()
    BookFactory()  # another book, not to be returned

    body = assert_json(api_client.get(detail_url(book.id)), 200)

    assert without_timestamps(body) == book_json(book)
    assert set(body) == {*book_json(book), "created_at", "updated_at"}


@pytest.mark.parametrize("url", ["list", "detail"])
def test_head_answers_200_with_no_body(api_client: APIClient, url: str) -> None:
    book = BookFactory()
    path = LIST_URL if url == "list" else detail_url(book.id)

    response = api_client.head(path)

    assert response.status_code == 200
    assert response.content == b""
    assert response["Content-Type"].startswith("application/json")


def test_head_of_unknown_book_is_404_with_no_body(api_client: APIClient) -> None:
    response = api_client.head(detail_url(123456))

    assert response.status_code == 404
    assert response.content == b""


@pytest.mark.parametrize("url", ["list", "detail"])
def test_options_answers_200_describing_the_resource(api_client: APIClient, url: str) -> None:
    book = BookFactory()
    path = LIST_URL if url == "list" else detail_url(book.id)

    body = assert_json(api_client.options(path), 200)

    assert body["name"] in ("Book List", "Book Instance")
    assert "application/json" in body["renders"]
    assert "application/json" in body["parses"]


def test_options_with_a_token_describes_the_writable_fields(auth_client: APIClient) -> None:
    body = assert_json(auth_client.options(LIST_URL), 200)

    post = body["actions"]["POST"]
    assert {"title", "author", "publication_date", "isbn", "summary"} <= set(post)
    assert post["id"]["read_only"] is True


# --- writes ----------------------------------------------------------------------------


def test_post_answers_201_with_the_book_and_its_location(auth_client: APIClient) -> None:
    payload = book_payload()

    response = auth_client.post(LIST_URL, payload, format="json")

    body = assert_json(response, 201)
    book = Book.objects.get()
    assert body["id"] == book.id
    assert without_timestamps(body) == {**payload, "id": book.id, **PAYLOAD_ANSWERED}
    assert response["Location"] == f"http://testserver/books/{book.id}/"


def test_post_location_header_gets_the_new_book(auth_client: APIClient) -> None:
    created = auth_client.post(LIST_URL, book_payload(), format="json")
    assert created.status_code == 201, created.content

    fetched = auth_client.get(created["Location"])

    assert assert_json(fetched, 200) == created.json()


def test_put_replaces_the_book(auth_client: APIClient) -> None:
    book = BookFactory()
    payload = book_payload(title="Replaced", author="Someone Else", summary="New summary.")

    response = auth_client.put(detail_url(book.id), payload, format="json")

    body = assert_json(response, 200)
    assert without_timestamps(body) == {**payload, "id": book.id, **PAYLOAD_ANSWERED}
    book.refresh_from_db()
    assert (book.title, book.author, book.isbn) == ("Replaced", "Someone Else", PAYLOAD_ISBN_13)


def test_patch_changes_only_the_given_fields(auth_client: APIClient) -> None:
    book = BookFactory()
    before = book_json(book)

    response = auth_client.patch(detail_url(book.id), {"title": "Patched"}, format="json")

    body = assert_json(response, 200)
    assert without_timestamps(body) == {**before, "title": "Patched"}
    book.refresh_from_db()
    assert book_json(book) == {**before, "title": "Patched"}


def test_delete_answers_204_and_the_book_is_gone(auth_client: APIClient) -> None:
    book = BookFactory()
    other = BookFactory()

    response = auth_client.delete(detail_url(book.id))

    assert response.status_code == 204
    assert response.content == b""
    assert not Book.objects.filter(id=book.id).exists()
    assert Book.objects.filter(id=other.id).exists()
    assert_not_found(auth_client.get(detail_url(book.id)))
    assert_not_found(auth_client.delete(detail_url(book.id)))


@pytest.mark.parametrize(
    ("method", "url"),
    [
        ("post", "list"),
        ("put", "detail"),
        ("patch", "detail"),
        ("delete", "detail"),
    ],
)
def test_writes_without_a_token_are_401_and_change_nothing(
    api_client: APIClient, method: str, url: str
) -> None:
    book = BookFactory()
    before = book_json(book)
    path = LIST_URL if url == "list" else detail_url(book.id)

    response = getattr(api_client, method)(path, book_payload(), format="json")

    body = assert_json(response, 401)
    assert set(body) == {"detail"}
    assert response["WWW-Authenticate"].startswith("Token")
    assert list(Book.objects.all()) == [book]
    book.refresh_from_db()
    assert book_json(book) == before


@pytest.mark.parametrize(
    ("method", "url"),
    [
        ("put", "list"),
        ("patch", "list"),
        ("delete", "list"),
        ("post", "detail"),
    ],
)
def test_methods_a_url_does_not_support_are_405(
    auth_client: APIClient, method: str, url: str
) -> None:
    book = BookFactory()
    path = LIST_URL if url == "list" else detail_url(book.id)

    response = getattr(auth_client, method)(path, book_payload(), format="json")

    body = assert_json(response, 405)
    assert set(body) == {"detail"}
    assert list(Book.objects.all()) == [book]


# --- unknown and malformed ids ---------------------------------------------------------


@pytest.mark.parametrize("method", ["get", "put", "patch", "delete"])
def test_unknown_id_is_404_json(auth_client: APIClient, method: str) -> None:
    book = BookFactory()
    unknown = book.id + 1000

    response = getattr(auth_client, method)(detail_url(unknown), book_payload(), format="json")

    assert_not_found(response)
    assert list(Book.objects.all()) == [book]


@pytest.mark.parametrize(
    "book_id",
    [
        "abc",
        "1a",
        "1.0",
        "-1",
        "-0",
        "0",
        "+1",
        "99999999999999999999999",
        "9223372036854775807",  # the largest 64-bit id: valid, but no such book
        "9223372036854775808",  # one past it
        "1" * 400,
    ],
)
@pytest.mark.parametrize("method", ["get", "put", "patch", "delete"])
def test_malformed_or_out_of_range_id_is_404_never_500(
    auth_client: APIClient, method: str, book_id: str
) -> None:
    book = BookFactory()

    response = getattr(auth_client, method)(detail_url(book_id), book_payload(), format="json")

    assert_not_found(response)
    assert list(Book.objects.all()) == [book]


@pytest.mark.parametrize("book_id", ["abc", "-1", "99999999999999999999999"])
def test_head_of_malformed_id_is_404_with_no_body(api_client: APIClient, book_id: str) -> None:
    response = api_client.head(detail_url(book_id))

    assert response.status_code == 404
    assert response.content == b""
