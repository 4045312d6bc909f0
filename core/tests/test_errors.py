"""Every error on an API path is JSON in DRF's shape, and no bad write stores anything.

Shapes: ``{"field": ["message", ...]}`` for invalid input, ``{"detail": "..."}`` for
everything else, always with ``Content-Type: application/json``.
"""

import bz2
import json
import logging
from typing import Any

import pytest
from django.test import Client
from rest_framework.test import APIClient

from books import selectors, services
from books.models import Book
from books.tests.factories import BookFactory, book_payload

JSON = "application/json"


def assert_detail_error(response: Any, status: int) -> str:
    """The response is a JSON ``{"detail": "<message>"}`` with this status; return the message."""
    assert response.status_code == status, response.content
    assert response["Content-Type"] == JSON
    body = json.loads(response.content)
    assert list(body) == ["detail"], body
    assert isinstance(body["detail"], str)
    assert body["detail"]
    return str(body["detail"])


def assert_validation_error(response: Any) -> dict[str, list[str]]:
    """The response is a JSON 400 ``{"field": ["message", ...], ...}``; return the body."""
    assert response.status_code == 400, response.content
    assert response["Content-Type"] == JSON
    body = json.loads(response.content)
    assert isinstance(body, dict)
    assert body
    for field, messages in body.items():
        assert isinstance(field, str)
        assert isinstance(messages, list), body
        assert messages
        assert all(isinstance(message, str) and message for message in messages), body
    return body


def snapshot(book: Book) -> dict[str, Any]:
    """Every stored column of the book, to prove a refused write changed nothing."""
    return dict(Book.objects.filter(pk=book.pk).values().get())


def fresh_auth_client(token: str) -> APIClient:
    """A new client, so its middleware is built (and reads settings) after a change."""
    client = APIClient(raise_request_exception=False)
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    return client


def body_of_exactly(size: int) -> bytes:
    """A valid book as JSON, padded through the summary to exactly ``size`` bytes."""
    bare = json.dumps(book_payload(summary="")).encode()
    assert size >= len(bare)
    body = json.dumps(book_payload(summary="x" * (size - len(bare)))).encode()
    assert len(body) == size
    return body


# --- malformed JSON: 400 --------------------------------------------------------------

MALFORMED_BODIES = {
    "truncated": b'{"title": "Dune", "author": "Frank Her',
    "invalid-utf8": b'{"title": "\xff\xfe\xfd", "author": "x"}',
    "nan": b'{"title": NaN}',
    "infinity": b'{"title": "Dune", "summary": Infinity}',
    "trailing-garbage": b'{"title": "Dune"} trailing',
    "single-quotes": b"{'title': 'Dune'}",
    "integer-over-python-digit-limit": b'{"title": ' + b"9" * 5000 + b"}",
    "deeply-nested-arrays": b"[" * 100_000,
    "deeply-nested-objects": b'{"a":' * 50_000,
}


@pytest.mark.django_db
@pytest.mark.parametrize("body", MALFORMED_BODIES.values(), ids=MALFORMED_BODIES.keys())
def test_malformed_json_on_create_is_a_json_400_and_stores_nothing(
    auth_client: APIClient, body: bytes
) -> None:
    response = auth_client.post("/books/", data=body, content_type=JSON)

    message = assert_detail_error(response, 400)
    assert message.startswith("JSON parse error")
    assert Book.objects.count() == 0


@pytest.mark.django_db
@pytest.mark.parametrize("method", ["put", "patch"])
@pytest.mark.parametrize("body", MALFORMED_BODIES.values(), ids=MALFORMED_BODIES.keys())
def test_malformed_json_on_update_is_a_json_400_and_changes_nothing(
    auth_client: APIClient, method: str, body: bytes
) -> None:
    book = BookFactory()
    before = snapshot(book)

    response = getattr(auth_client, method)(f"/books/{book.pk}/", data=body, content_type=JSON)

    message = assert_detail_error(response, 400)
    assert message.startswith("JSON parse error")
    assert snapshot(book) == before


@pytest.mark.django_db
def test_deep_nesting_error_names_the_cause(auth_client: APIClient) -> None:
    response = auth_client.post("/books/", data=b"[" * 100_000, content_type=JSON)

    assert assert_detail_error(response, 400) == "JSON parse error - nesting is too deep."
    assert Book.objects.count() == 0


@pytest.mark.django_db
def test_a_decompressing_charset_is_refused_with_a_json_400(auth_client: APIClient) -> None:
    # A bytes-to-bytes codec would expand a small body past every size limit.
    body = bz2.compress(json.dumps(book_payload()).encode())

    response = auth_client.post(
        "/books/", data=body, content_type="application/json; charset=bz2_codec"
    )

    assert assert_detail_error(response, 400) == (
        'Unsupported charset "bz2_codec" in request Content-Type header.'
    )
    assert Book.objects.count() == 0


@pytest.mark.django_db
def test_invalid_fields_are_a_json_400_by_field_and_store_nothing(
    auth_client: APIClient,
) -> None:
    response = auth_client.post(
        "/books/", data=book_payload(title="", isbn="123", publication_date="soon"), format="json"
    )

    body = assert_validation_error(response)
    assert set(body) == {"title", "isbn", "publication_date"}
    assert Book.objects.count() == 0


@pytest.mark.django_db
@pytest.mark.parametrize(
    "body", [b"[]", b'"a string"', b"42", b"null"], ids=["list", "string", "number", "null"]
)
def test_a_json_body_that_is_not_an_object_is_a_json_400_by_field(
    auth_client: APIClient, body: bytes
) -> None:
    response = auth_client.post("/books/", data=body, content_type=JSON)

    assert set(assert_validation_error(response)) == {"non_field_errors"}
    assert Book.objects.count() == 0


@pytest.mark.django_db
def test_a_duplicate_isbn_is_a_json_400_on_the_isbn_field(auth_client: APIClient) -> None:
    existing = BookFactory()

    response = auth_client.post("/books/", data=book_payload(isbn=existing.isbn), format="json")

    assert assert_validation_error(response) == {"isbn": [services.DUPLICATE_ISBN_MESSAGE]}
    assert Book.objects.count() == 1


@pytest.mark.django_db
def test_an_invalid_query_parameter_is_a_json_400_by_parameter(api_client: APIClient) -> None:
    response = api_client.get("/books/?published_after=yesterday")

    assert set(assert_validation_error(response)) == {"published_after"}


# --- 404 ------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    "path", ["/nope", "/nope/", "/books/1/extra/", "/books/abc/", "/api/", "/books/1/../../x"]
)
def test_an_unknown_url_is_a_json_404(api_client: APIClient, path: str) -> None:
    BookFactory(pk=1)

    response = api_client.get(path)

    assert assert_detail_error(response, 404) == "Not found."
    assert b"<html" not in response.content.lower()


@pytest.mark.django_db
def test_an_unknown_url_is_a_json_404_even_for_a_browser(api_client: APIClient) -> None:
    response = api_client.get("/nope", HTTP_ACCEPT="text/html,application/xhtml+xml")

    assert assert_detail_error(response, 404) == "Not found."


@pytest.mark.django_db
def test_a_missing_book_is_a_json_404(api_client: APIClient) -> None:
    response = api_client.get("/books/999999/")

    assert_detail_error(response, 404)


@pytest.mark.django_db
@pytest.mark.parametrize("method", ["put", "patch", "delete"])
def test_a_write_to_a_missing_book_is_a_json_404_and_stores_nothing(
    auth_client: APIClient, method: str
) -> None:
    response = getattr(auth_client, method)("/books/999999/", data=book_payload(), format="json")

    assert_detail_error(response, 404)
    assert Book.objects.count() == 0


@pytest.mark.django_db
def test_a_write_to_an_unknown_url_is_a_json_404(auth_client: APIClient) -> None:
    response = auth_client.post("/books/1/extra/", data=book_payload(), format="json")

    assert assert_detail_error(response, 404) == "Not found."
    assert Book.objects.count() == 0


# --- 405 ------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("method", ["put", "patch", "delete"])
def test_a_method_the_list_does_not_allow_is_a_json_405(
    auth_client: APIClient, method: str
) -> None:
    BookFactory()

    response = getattr(auth_client, method)("/books/", data=book_payload(), format="json")

    assert assert_detail_error(response, 405) == f'Method "{method.upper()}" not allowed.'
    assert {m.strip() for m in response["Allow"].split(",")} >= {"GET", "POST"}
    assert method.upper() not in response["Allow"]
    assert Book.objects.count() == 1


@pytest.mark.django_db
def test_post_to_a_book_is_a_json_405_and_stores_nothing(auth_client: APIClient) -> None:
    book = BookFactory()
    before = snapshot(book)

    response = auth_client.post(f"/books/{book.pk}/", data=book_payload(), format="json")

    assert assert_detail_error(response, 405) == 'Method "POST" not allowed.'
    assert Book.objects.count() == 1
    assert snapshot(book) == before


# --- 406 ------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/books/", "/books/{pk}/"])
def test_an_accept_header_the_api_cannot_serve_is_a_json_406(
    api_client: APIClient, path: str
) -> None:
    book = BookFactory()

    response = api_client.get(path.format(pk=book.pk), HTTP_ACCEPT="application/xml")

    assert assert_detail_error(response, 406) == "Could not satisfy the request Accept header."


@pytest.mark.django_db
def test_a_write_with_an_unservable_accept_header_is_a_json_406_and_stores_nothing(
    auth_client: APIClient,
) -> None:
    response = auth_client.post(
        "/books/", data=book_payload(), format="json", HTTP_ACCEPT="application/xml"
    )

    assert_detail_error(response, 406)
    assert Book.objects.count() == 0


# --- 413 ------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_body_over_the_default_limit_is_a_json_413_and_stores_nothing(
    auth_client: APIClient, settings: Any
) -> None:
    limit = settings.REQUEST_BODY_MAX_BYTES
    body = body_of_exactly(limit + 1)

    response = auth_client.post("/books/", data=body, content_type=JSON)

    assert assert_detail_error(response, 413) == (
        f"Request body is too large: the limit is {limit} bytes."
    )
    assert Book.objects.count() == 0


@pytest.mark.django_db
def test_a_body_at_the_default_limit_reaches_the_parser(
    auth_client: APIClient, settings: Any
) -> None:
    # Let through the middleware; then refused by field (the summary is far too long).
    body = body_of_exactly(settings.REQUEST_BODY_MAX_BYTES)

    response = auth_client.post("/books/", data=body, content_type=JSON)

    assert set(assert_validation_error(response)) == {"summary"}
    assert Book.objects.count() == 0


@pytest.mark.django_db
def test_a_lowered_limit_accepts_a_body_of_exactly_the_limit(token: str, settings: Any) -> None:
    # RequestBodyLimitMiddleware reads the setting when it is built, and a test client
    # builds its middleware on its first request: so change the setting, then make the client.
    settings.REQUEST_BODY_MAX_BYTES = 400
    client = fresh_auth_client(token)

    response = client.post("/books/", data=body_of_exactly(400), content_type=JSON)

    assert response.status_code == 201, response.content
    assert Book.objects.count() == 1


@pytest.mark.django_db
@pytest.mark.parametrize("method", ["post", "put", "patch"])
def test_a_lowered_limit_refuses_one_byte_more_with_a_json_413(
    token: str, settings: Any, method: str
) -> None:
    book = BookFactory()
    before = snapshot(book)
    settings.REQUEST_BODY_MAX_BYTES = 400
    client = fresh_auth_client(token)
    path = "/books/" if method == "post" else f"/books/{book.pk}/"

    response = getattr(client, method)(path, data=body_of_exactly(401), content_type=JSON)

    assert assert_detail_error(response, 413) == (
        "Request body is too large: the limit is 400 bytes."
    )
    assert Book.objects.count() == 1
    assert snapshot(book) == before


@pytest.mark.django_db
def test_a_lowered_limit_applies_before_authentication(settings: Any) -> None:
    settings.REQUEST_BODY_MAX_BYTES = 400
    client = APIClient(raise_request_exception=False)

    response = client.post("/books/", data=body_of_exactly(401), content_type=JSON)

    assert_detail_error(response, 413)
    assert Book.objects.count() == 0


@pytest.mark.django_db
def test_a_lowered_limit_also_guards_the_token_endpoint(user: Any, settings: Any) -> None:
    settings.REQUEST_BODY_MAX_BYTES = 100
    client = APIClient(raise_request_exception=False)
    body = json.dumps({"username": "writer", "password": "a-long-password-1", "pad": "x" * 100})

    response = client.post("/auth/token/", data=body, content_type=JSON)

    assert assert_detail_error(response, 413) == (
        "Request body is too large: the limit is 100 bytes."
    )


@pytest.mark.django_db
def test_an_unparseable_content_length_is_a_json_400(auth_client: APIClient) -> None:
    response = auth_client.generic(
        "POST",
        "/books/",
        json.dumps(book_payload()),
        content_type=JSON,
        CONTENT_LENGTH="lots",
    )

    assert assert_detail_error(response, 400) == "Invalid Content-Length header."
    assert Book.objects.count() == 0


# --- 415 ------------------------------------------------------------------------------

NOT_JSON = {
    "text-plain": ("text/plain", b'{"title": "Dune"}'),
    "form-urlencoded": (
        "application/x-www-form-urlencoded",
        b"title=Dune&author=Frank+Herbert&publication_date=1965-08-01&isbn=0-306-40615-2",
    ),
    "xml": ("application/xml", b"<book><title>Dune</title></book>"),
}


@pytest.mark.django_db
@pytest.mark.parametrize(("content_type", "body"), NOT_JSON.values(), ids=NOT_JSON.keys())
def test_a_body_that_is_not_json_is_a_json_415_and_stores_nothing(
    auth_client: APIClient, content_type: str, body: bytes
) -> None:
    response = auth_client.post("/books/", data=body, content_type=content_type)

    assert assert_detail_error(response, 415) == (
        f'Unsupported media type "{content_type}" in request.'
    )
    assert Book.objects.count() == 0


@pytest.mark.django_db
def test_a_multipart_body_is_a_json_415_and_stores_nothing(auth_client: APIClient) -> None:
    response = auth_client.post("/books/", data=book_payload(), format="multipart")

    message = assert_detail_error(response, 415)
    assert message.startswith('Unsupported media type "multipart/form-data')
    assert Book.objects.count() == 0


@pytest.mark.django_db
@pytest.mark.parametrize("method", ["put", "patch"])
@pytest.mark.parametrize(("content_type", "body"), NOT_JSON.values(), ids=NOT_JSON.keys())
def test_an_update_that_is_not_json_is_a_json_415_and_changes_nothing(
    auth_client: APIClient, method: str, content_type: str, body: bytes
) -> None:
    book = BookFactory()
    before = snapshot(book)

    response = getattr(auth_client, method)(
        f"/books/{book.pk}/", data=body, content_type=content_type
    )

    assert_detail_error(response, 415)
    assert snapshot(book) == before


# --- 400 from Django itself -----------------------------------------------------------


@pytest.mark.django_db
def test_a_host_not_allowed_is_a_json_400(api_client: APIClient) -> None:
    response = api_client.get("/books/", HTTP_HOST="evil.example")

    assert assert_detail_error(response, 400) == "Bad request."


# --- 500 ------------------------------------------------------------------------------

SECRET = "secret-internals-do-not-leak"


def _crash(*args: object, **kwargs: object) -> Any:
    raise RuntimeError(SECRET)


def assert_bare_500(response: Any) -> None:
    assert assert_detail_error(response, 500) == "Internal server error."
    content = response.content.decode()
    assert "Traceback" not in content
    assert "<html" not in content.lower()
    assert SECRET not in content
    assert "RuntimeError" not in content


@pytest.mark.django_db
@pytest.mark.parametrize("accept", [None, "text/html"], ids=["no-accept", "browser"])
def test_a_crash_on_a_read_is_a_bare_json_500(
    api_client: APIClient,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    accept: str | None,
) -> None:
    monkeypatch.setattr(selectors, "book_list", _crash)
    headers = {"HTTP_ACCEPT": accept} if accept else {}

    with caplog.at_level(logging.ERROR, logger="django.request"):
        response = api_client.get("/books/", **headers)

    assert_bare_500(response)
    # The details go to the log, not to the client.
    assert any(record.exc_info and SECRET in str(record.exc_info[1]) for record in caplog.records)


@pytest.mark.django_db
def test_a_crash_on_a_write_is_a_bare_json_500_and_stores_nothing(
    auth_client: APIClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(services, "book_create", _crash)

    response = auth_client.post("/books/", data=book_payload(), format="json")

    assert_bare_500(response)
    assert Book.objects.count() == 0


@pytest.mark.django_db
def test_a_crash_after_a_bulk_insert_rolls_the_whole_batch_back(
    auth_client: APIClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A single create is one INSERT in autocommit: once it returns the book is stored, and
    # nothing of the service runs after it. A batch is one transaction: a crash after its
    # INSERT, before the commit, must take every row back out.
    def crash(*args: object, **kwargs: object) -> None:
        assert Book.objects.count() == 2  # the INSERT really happened
        raise RuntimeError(SECRET)

    monkeypatch.setattr(services.read_cache, "books_changed", crash)

    response = auth_client.post(
        "/books/",
        data=[book_payload(), book_payload(isbn="978-0-441-17271-9", title="Dune")],
        format="json",
    )

    assert_bare_500(response)
    assert Book.objects.count() == 0


@pytest.mark.django_db
def test_a_crash_on_an_update_is_a_bare_json_500_and_changes_nothing(
    auth_client: APIClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    book = BookFactory()
    before = snapshot(book)
    monkeypatch.setattr(services, "book_update", _crash)

    response = auth_client.patch(f"/books/{book.pk}/", data={"title": "New"}, format="json")

    assert_bare_500(response)
    assert snapshot(book) == before


@pytest.mark.django_db
def test_a_crash_outside_drf_is_a_bare_json_500(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("core.views._database_ok", _crash)
    client = Client(raise_request_exception=False)

    response = client.get("/readyz")

    assert_bare_500(response)
