"""Input rules of the API writes (POST /books/, PUT and PATCH /books/{id}/).

Every refused write is a 400 naming the field, and leaves the database exactly as it was.
"""

import datetime
import json

import pytest
from django.utils import timezone

from books.models import AUTHOR_MAX_LENGTH, SUMMARY_MAX_LENGTH, TITLE_MAX_LENGTH, Book
from books.tests.factories import BookFactory, book_payload

WRITE_METHODS = ["post", "put", "patch"]
UPDATE_METHODS = ["put", "patch"]
TEXT_FIELDS = ["title", "author", "summary"]
ALL_FIELDS = ["title", "author", "publication_date", "isbn", "summary"]
REQUIRED_FIELDS = ["title", "author", "publication_date", "isbn"]
LIMITS = {"title": TITLE_MAX_LENGTH, "author": AUTHOR_MAX_LENGTH, "summary": SUMMARY_MAX_LENGTH}

WHITESPACE_ONLY = {
    "space": " ",
    "spaces": "     ",
    "tab": "\t",
    "newlines": "\r\n\n",
    "mixed": " \t \n ",
    "no-break-space": "\u00a0",
    "ideographic-space": "\u3000",
}

WRONG_TYPES = {
    "int": 42,
    "zero": 0,
    "float": 1.5,
    "true": True,
    "false": False,
    "empty-list": [],
    "list": ["The Pragmatic Programmer"],
    "empty-object": {},
    "object": {"value": "The Pragmatic Programmer"},
    "null": None,
}


@pytest.fixture
def book(db):  # type: ignore[no-untyped-def]
    """The book PUT and PATCH change; POST tests have it too, to prove it is left alone."""
    return BookFactory()


def _snapshot() -> list[dict]:
    return list(Book.objects.order_by("pk").values())


def _write(client, method: str, book: Book, fields: dict, *, omit: str | None = None):  # type: ignore[no-untyped-def]
    """POST or PUT a full valid body with ``fields`` overriding it, or PATCH just ``fields``."""
    body = dict(fields) if method == "patch" else book_payload(**fields)
    if omit is not None:
        body.pop(omit, None)
    url = "/books/" if method == "post" else f"/books/{book.pk}/"
    return getattr(client, method)(url, body, format="json")


def _assert_rejected(response, field: str) -> None:  # type: ignore[no-untyped-def]
    """A 400 whose body names ``field`` (and only it) with a list of messages."""
    assert response.status_code == 400, response.content
    body = response.json()
    assert isinstance(body, dict), body
    assert set(body) == {field}, body
    assert isinstance(body[field], list), body
    assert body[field], body
    assert all(isinstance(message, str) and message for message in body[field]), body


def _assert_accepted(response, method: str) -> dict:  # type: ignore[no-untyped-def]
    assert response.status_code == (201 if method == "post" else 200), response.content
    return response.json()


# --- The valid case, so every rejection below is about the one thing it changes ----------


@pytest.mark.django_db
def test_valid_book_is_created_with_canonical_isbn(auth_client):
    response = auth_client.post("/books/", book_payload(), format="json")

    body = _assert_accepted(response, "post")
    stored = Book.objects.get()
    assert body["id"] == stored.pk
    assert response["Location"].endswith(f"/books/{stored.pk}/")
    assert (stored.title, stored.author, stored.isbn, stored.summary) == (
        "The Pragmatic Programmer",
        "Andrew Hunt",
        "9780306406157",
        "From journeyman to master.",
    )
    assert stored.publication_date == datetime.date(1999, 10, 20)
    assert body["isbn"] == "9780306406157"
    assert body["publication_date"] == "1999-10-20"


# --- Required fields ------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["post", "put"])
@pytest.mark.parametrize("field", REQUIRED_FIELDS)
def test_missing_required_field_is_rejected(auth_client, book, method, field):
    before = _snapshot()

    response = _write(auth_client, method, book, {}, omit=field)

    _assert_rejected(response, field)
    assert response.json()[field] == ["This field is required."]
    assert _snapshot() == before


@pytest.mark.parametrize("method", WRITE_METHODS)
@pytest.mark.parametrize("field", ["title", "author"])
def test_empty_title_or_author_is_rejected(auth_client, book, method, field):
    before = _snapshot()

    response = _write(auth_client, method, book, {field: ""})

    _assert_rejected(response, field)
    assert _snapshot() == before


@pytest.mark.parametrize("method", WRITE_METHODS)
@pytest.mark.parametrize("field", ["title", "author"])
@pytest.mark.parametrize("value", WHITESPACE_ONLY.values(), ids=WHITESPACE_ONLY.keys())
def test_whitespace_only_title_or_author_is_rejected(auth_client, book, method, field, value):
    before = _snapshot()

    response = _write(auth_client, method, book, {field: value})

    _assert_rejected(response, field)
    assert _snapshot() == before


@pytest.mark.parametrize("method", WRITE_METHODS)
@pytest.mark.parametrize("field", TEXT_FIELDS)
def test_surrounding_whitespace_is_trimmed_from_stored_value(auth_client, book, method, field):
    response = _write(auth_client, method, book, {field: " \t Dune:  Messiah \n "})

    body = _assert_accepted(response, method)
    assert body[field] == "Dune:  Messiah"
    assert getattr(Book.objects.get(pk=body["id"]), field) == "Dune:  Messiah"


# --- Summary: optional, may be empty, capped ---------------------------------------------


@pytest.mark.django_db
def test_summary_may_be_omitted_on_create(auth_client):
    response = _write(auth_client, "post", None, {}, omit="summary")  # type: ignore[arg-type]

    body = _assert_accepted(response, "post")
    assert body["summary"] == ""
    assert Book.objects.get().summary == ""


def test_summary_is_left_alone_when_omitted_from_patch(auth_client, book):
    response = auth_client.patch(f"/books/{book.pk}/", {"title": "New"}, format="json")

    _assert_accepted(response, "patch")
    assert Book.objects.get(pk=book.pk).summary == book.summary
    assert book.summary


@pytest.mark.parametrize("method", WRITE_METHODS)
@pytest.mark.parametrize("value", ["", "   ", "\n\t"], ids=["empty", "spaces", "whitespace"])
def test_summary_may_be_empty(auth_client, book, method, value):
    response = _write(auth_client, method, book, {"summary": value})

    body = _assert_accepted(response, method)
    assert body["summary"] == ""
    assert Book.objects.get(pk=body["id"]).summary == ""


# --- Length limits ---------------------------------------------------------------------------


@pytest.mark.parametrize("method", WRITE_METHODS)
@pytest.mark.parametrize(("field", "limit"), LIMITS.items())
def test_text_at_its_length_limit_is_accepted(auth_client, book, method, field, limit):
    value = "é" * limit  # characters, not bytes, are counted

    response = _write(auth_client, method, book, {field: value})

    body = _assert_accepted(response, method)
    assert getattr(Book.objects.get(pk=body["id"]), field) == value


@pytest.mark.parametrize("method", WRITE_METHODS)
@pytest.mark.parametrize(("field", "limit"), LIMITS.items())
def test_text_over_its_length_limit_is_rejected(auth_client, book, method, field, limit):
    before = _snapshot()

    response = _write(auth_client, method, book, {field: "a" * (limit + 1)})

    _assert_rejected(response, field)
    assert response.json()[field] == [f"Ensure this field has no more than {limit} characters."]
    assert _snapshot() == before


def test_title_over_200_characters_is_rejected(auth_client, book):
    before = _snapshot()

    response = _write(auth_client, "post", book, {"title": "t" * 201})

    _assert_rejected(response, "title")
    assert _snapshot() == before


def test_author_over_100_characters_is_rejected(auth_client, book):
    before = _snapshot()

    response = _write(auth_client, "post", book, {"author": "a" * 101})

    _assert_rejected(response, "author")
    assert _snapshot() == before


def test_summary_of_20000_characters_is_accepted_and_20001_rejected(auth_client, book):
    accepted = _write(auth_client, "post", book, {"summary": "s" * 20_000})
    body = _assert_accepted(accepted, "post")
    assert len(Book.objects.get(pk=body["id"]).summary) == 20_000
    before = _snapshot()

    rejected = _write(auth_client, "patch", book, {"summary": "s" * 20_001})

    _assert_rejected(rejected, "summary")
    assert _snapshot() == before


# --- Publication date -------------------------------------------------------------------


@pytest.mark.parametrize("method", WRITE_METHODS)
@pytest.mark.parametrize(
    "value",
    [
        "",
        "yesterday",
        "2020-13-01",
        "2020-02-30",
        "2021-02-29",
        "0000-01-01",
        "20-01-2020",
        "01/02/2020",
        "2020/01/02",
        "2020.01.02",
        "Jan 2, 2020",
        " 2020-01-02",
        "2020-01-02 ",
        "2020-01-02x",
    ],
)
def test_publication_date_that_is_not_an_iso_date_is_rejected(auth_client, book, method, value):
    before = _snapshot()

    response = _write(auth_client, method, book, {"publication_date": value})

    _assert_rejected(response, "publication_date")
    assert _snapshot() == before


def _in_digits(text: str, zero: str) -> str:
    """``text`` with its ASCII digits written in the digit set that starts at ``zero``."""
    return "".join(chr(ord(zero) + int(char)) if char.isdigit() else char for char in text)


NON_ASCII_DATES = {
    "fullwidth": _in_digits("2020-01-02", "\uff10"),
    "arabic-indic": _in_digits("2020-01-02", "\u0660"),
}


@pytest.mark.parametrize("method", WRITE_METHODS)
@pytest.mark.parametrize("value", NON_ASCII_DATES.values(), ids=NON_ASCII_DATES.keys())
def test_publication_date_with_non_ascii_digits_is_rejected(auth_client, book, method, value):
    before = _snapshot()

    response = _write(auth_client, method, book, {"publication_date": value})

    _assert_rejected(response, "publication_date")
    assert _snapshot() == before


@pytest.mark.parametrize("method", WRITE_METHODS)
@pytest.mark.parametrize(
    "value",
    [
        "2020-01-02T00:00:00",
        "2020-01-02T10:30:00Z",
        "2020-01-02T10:30:00+02:00",
        "2020-01-02 10:30",
        "2020-01-02T00:00",
    ],
)
def test_publication_date_given_as_datetime_is_rejected(auth_client, book, method, value):
    before = _snapshot()

    response = _write(auth_client, method, book, {"publication_date": value})

    _assert_rejected(response, "publication_date")
    assert _snapshot() == before


@pytest.mark.parametrize("method", WRITE_METHODS)
@pytest.mark.parametrize("value", [20200102, 1577923200, 0, -1, 2020.5])
def test_publication_date_given_as_number_is_rejected(auth_client, book, method, value):
    before = _snapshot()

    response = _write(auth_client, method, book, {"publication_date": value})

    _assert_rejected(response, "publication_date")
    assert _snapshot() == before


@pytest.mark.parametrize("method", WRITE_METHODS)
def test_iso_publication_date_is_stored(auth_client, book, method):
    response = _write(auth_client, method, book, {"publication_date": "2004-02-29"})

    body = _assert_accepted(response, method)
    assert body["publication_date"] == "2004-02-29"
    assert Book.objects.get(pk=body["id"]).publication_date == datetime.date(2004, 2, 29)


# --- NUL bytes --------------------------------------------------------------------------


@pytest.mark.parametrize("method", WRITE_METHODS)
@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("title", "The Pragmatic\x00 Programmer"),
        ("title", "\x00"),
        ("author", "Andrew\x00Hunt"),
        ("summary", "From journeyman\x00 to master."),
        ("isbn", "0-306-40615-2\x00"),
        ("isbn", "978030640615\x007"),
        ("publication_date", "1999-10-20\x00"),
    ],
)
def test_nul_byte_in_text_field_is_rejected(auth_client, book, method, field, value):
    before = _snapshot()

    response = _write(auth_client, method, book, {field: value})

    _assert_rejected(response, field)
    assert _snapshot() == before


# --- Wrong JSON types -----------------------------------------------------------------------


@pytest.mark.parametrize("method", WRITE_METHODS)
@pytest.mark.parametrize("value", WRONG_TYPES.values(), ids=WRONG_TYPES.keys())
@pytest.mark.parametrize("field", ALL_FIELDS)
def test_wrong_json_type_for_field_is_rejected(auth_client, book, method, field, value):
    before = _snapshot()

    response = _write(auth_client, method, book, {field: value})

    _assert_rejected(response, field)
    assert _snapshot() == before


NOT_AN_OBJECT = {
    "empty-array": [],
    "array": [book_payload()],
    "string": "The Pragmatic Programmer",
    "empty-string": "",
    "int": 42,
    "float": 1.5,
    "true": True,
    "false": False,
    "null": None,
}


@pytest.mark.parametrize(
    ("method", "body"),
    [
        pytest.param(method, body, id=f"{name}-{method}")
        for method in WRITE_METHODS
        for name, body in NOT_AN_OBJECT.items()
        # POST takes an array of books as a bulk create (tested in test_bulk_create.py).
        if not (method == "post" and name == "array")
    ],
)
def test_body_that_is_not_a_json_object_is_rejected(auth_client, book, method, body):
    before = _snapshot()
    url = "/books/" if method == "post" else f"/books/{book.pk}/"

    response = getattr(auth_client, method)(
        url, data=json.dumps(body), content_type="application/json"
    )

    _assert_rejected(response, "non_field_errors")
    assert _snapshot() == before


@pytest.mark.parametrize("method", WRITE_METHODS)
@pytest.mark.parametrize("raw", ["{", '{"title": }', "[1, 2", "not json", '{"title": "a"} x'])
def test_malformed_json_body_is_rejected(auth_client, book, method, raw):
    before = _snapshot()
    url = "/books/" if method == "post" else f"/books/{book.pk}/"

    response = getattr(auth_client, method)(url, data=raw, content_type="application/json")

    assert response.status_code == 400, response.content
    assert set(response.json()) == {"detail"}
    assert response.json()["detail"].startswith("JSON parse error")
    assert _snapshot() == before


# --- Read-only fields ---------------------------------------------------------------------

READ_ONLY = {
    "id": 987_654,
    "created_at": "2000-01-01T00:00:00Z",
    "updated_at": "2000-01-01T00:00:00Z",
}


@pytest.mark.django_db
def test_read_only_fields_in_body_are_ignored_on_create(auth_client):
    started = timezone.now()

    response = auth_client.post("/books/", book_payload(**READ_ONLY), format="json")

    body = _assert_accepted(response, "post")
    stored = Book.objects.get()
    assert stored.pk == body["id"]
    assert stored.pk != READ_ONLY["id"]
    assert not Book.objects.filter(pk=READ_ONLY["id"]).exists()
    assert stored.created_at >= started
    assert stored.updated_at >= started
    assert not body["created_at"].startswith("2000-")


@pytest.mark.parametrize("method", UPDATE_METHODS)
def test_read_only_fields_in_body_are_ignored_on_update(auth_client, book, method):
    before = Book.objects.get(pk=book.pk)

    response = _write(auth_client, method, book, {"title": "Renamed", **READ_ONLY})

    body = _assert_accepted(response, method)
    assert body["id"] == book.pk
    assert Book.objects.count() == 1
    after = Book.objects.get(pk=book.pk)
    assert after.title == "Renamed"
    assert after.created_at == before.created_at
    assert after.updated_at >= before.updated_at
    assert after.updated_at.year != 2000
