"""Hostile input: every case is a clean 4xx, or data stored and given back verbatim; never a 500.

Sizes, nesting, NUL bytes, broken UTF-8, overlong values, odd page sizes and ids, and text that
looks like SQL or markup. The error shapes, the body limit on single writes and the field rules
are proved in test_errors.py and books/tests/test_validation.py; their cases are not repeated.
"""

import csv
import html
import io
import json
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test import Client
from rest_framework.test import APIClient

from books.demo import demo_isbn
from books.etags import etag_for
from books.exporting import csv_cell, csv_cell_value
from books.isbn import MAX_INPUT_LENGTH
from books.models import AUTHOR_MAX_LENGTH, SUMMARY_MAX_LENGTH, TITLE_MAX_LENGTH, Book
from books.tests.factories import BookFactory, book_payload

pytestmark = pytest.mark.django_db

JSON = "application/json"


def snapshot() -> list[dict[str, Any]]:
    """Every stored column of every book, to prove a refused request changed nothing."""
    return list(Book.objects.order_by("pk").values())


def assert_json_error(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith(JSON)
    body = response.json()
    assert isinstance(body, dict)
    assert body
    return body


def assert_parse_error(response: Any) -> None:
    body = assert_json_error(response, 400)
    assert set(body) == {"detail"}
    assert body["detail"].startswith("JSON parse error")


def assert_refused_field(response: Any, *fields: str) -> None:
    """A 400 naming exactly these fields, each with messages."""
    body = assert_json_error(response, 400)
    assert set(body) == set(fields), body
    assert all(isinstance(body[field], list) and body[field] for field in fields), body


def book_request_schema() -> dict[str, Any]:
    """The OpenAPI schema of a book in a request body, as the API publishes it."""
    response = Client().get("/api/schema/", {"format": "json"})
    assert response.status_code == 200
    return dict(response.json()["components"]["schemas"]["BookRequest"])


def post_raw(client: APIClient, body: bytes, **headers: Any) -> Any:
    return client.generic("POST", "/books/", body, content_type=JSON, **headers)


# --- bodies over the limit, and bodies that lie about their size ----------------------------


def test_a_bulk_create_over_the_body_limit_is_a_413_and_stores_nothing(
    auth_client: APIClient, settings: Any
) -> None:
    limit = settings.REQUEST_BODY_MAX_BYTES
    items = [book_payload(isbn=demo_isbn(n), summary="s" * (limit // 1000)) for n in range(1000)]
    body = json.dumps(items).encode()
    assert len(body) > limit

    response = post_raw(auth_client, body)

    assert assert_json_error(response, 413) == {
        "detail": f"Request body is too large: the limit is {limit} bytes."
    }
    assert Book.objects.count() == 0


def test_a_body_longer_than_its_content_length_is_read_only_that_far(
    auth_client: APIClient,
) -> None:
    # The declared length passes the limit; the megabytes after it must never be parsed.
    body = json.dumps(book_payload(summary="s" * 5_000_000)).encode()

    response = post_raw(auth_client, body, CONTENT_LENGTH="10")

    assert_parse_error(response)
    assert Book.objects.count() == 0


def test_a_negative_content_length_is_a_400_and_stores_nothing(auth_client: APIClient) -> None:
    response = post_raw(auth_client, json.dumps(book_payload()).encode(), CONTENT_LENGTH="-1")

    assert_json_error(response, 400)
    assert Book.objects.count() == 0


# --- deep and wide JSON -----------------------------------------------------------------------

DEPTH_PAST_ANY_STACK = 100_000


def nested(depth: int) -> str:
    """A balanced, well-formed array nested ``depth`` deep."""
    return "[" * depth + "]" * depth


DEEP_BODIES = {
    "in-a-field": '{"title": %s}',
    "under-an-unknown-key": '{"title": "Dune", "extra": %s}',
    "in-a-bulk-item": '[{"title": %s}]',
    "a-bulk-item": "[%s]",
}


@pytest.mark.parametrize("template", DEEP_BODIES.values(), ids=DEEP_BODIES.keys())
def test_well_formed_but_too_deep_json_is_a_400_and_stores_nothing(
    auth_client: APIClient, template: str
) -> None:
    body = (template % nested(DEPTH_PAST_ANY_STACK)).encode()

    response = post_raw(auth_client, body)

    assert assert_json_error(response, 400) == {"detail": "JSON parse error - nesting is too deep."}
    assert Book.objects.count() == 0


@pytest.mark.parametrize("method", ["put", "patch"])
def test_too_deep_json_in_an_update_is_a_400_and_changes_nothing(
    auth_client: APIClient, method: str
) -> None:
    book = BookFactory()
    before = snapshot()
    body = '{"title": ' + nested(DEPTH_PAST_ANY_STACK) + "}"

    response = getattr(auth_client, method)(f"/books/{book.pk}/", body, content_type=JSON)

    assert_json_error(response, 400)
    assert snapshot() == before


def test_nesting_the_parser_can_take_is_refused_by_the_field(auth_client: APIClient) -> None:
    body = json.dumps(book_payload(title=json.loads(nested(500)))).encode()

    response = post_raw(auth_client, body)

    assert_refused_field(response, "title")
    assert Book.objects.count() == 0


def test_an_array_of_far_too_many_books_is_refused_before_any_is_validated(
    auth_client: APIClient,
) -> None:
    body = ("[" + ",".join(["{}"] * 200_000) + "]").encode()

    response = post_raw(auth_client, body)

    assert assert_json_error(response, 400) == {
        "non_field_errors": ["Ensure this field has no more than 1000 elements."]
    }
    assert Book.objects.count() == 0


def test_fifty_thousand_unknown_keys_are_ignored(auth_client: APIClient) -> None:
    payload = {f"key{n}": n for n in range(50_000)} | book_payload()

    response = post_raw(auth_client, json.dumps(payload).encode())

    assert response.status_code == 201, response.content
    assert set(response.json()) == set(book_payload()) | {
        "id",
        "created_at",
        "updated_at",
        "isbn_display",
        "publication_date_precision",
    }
    assert Book.objects.count() == 1


# --- NUL bytes, beyond the fields, filters and paging parameters ------------------------------


@pytest.mark.parametrize("path", ["/books/1%00/", "/books/%00/", "/books/1/%00", "/books%00/"])
def test_a_nul_byte_in_the_path_is_a_404(api_client: APIClient, path: str) -> None:
    BookFactory(id=1)

    assert set(assert_json_error(api_client.get(path), 404)) == {"detail"}


def test_a_raw_nul_byte_inside_a_json_string_is_a_parse_error(auth_client: APIClient) -> None:
    # JSON allows control characters only escaped; "\\u0000" is the field rules' business.
    body = json.dumps(book_payload(title="NUL")).replace("NUL", "A\x00B").encode()

    assert_parse_error(post_raw(auth_client, body))
    assert Book.objects.count() == 0


def test_a_nul_byte_in_an_unknown_key_is_ignored_like_the_key(auth_client: APIClient) -> None:
    payload = book_payload() | {"title\x00": "Smuggled", "\x00": "x"}

    response = post_raw(auth_client, json.dumps(payload).encode())

    assert response.status_code == 201, response.content
    assert Book.objects.get().title == "The Pragmatic Programmer"


@pytest.mark.parametrize("value", ['"1-1\x00"', "\x00", '"\x00"', "*\x00"])
def test_a_nul_byte_in_if_match_is_a_412_and_changes_nothing(
    auth_client: APIClient, value: str
) -> None:
    book = BookFactory()
    before = snapshot()

    response = auth_client.patch(
        f"/books/{book.pk}/", {"title": "Changed"}, format="json", HTTP_IF_MATCH=value
    )

    assert set(assert_json_error(response, 412)) == {"detail"}
    assert snapshot() == before


def test_a_nul_byte_in_if_none_match_is_no_match(api_client: APIClient) -> None:
    book = BookFactory()

    response = api_client.get(f"/books/{book.pk}/", HTTP_IF_NONE_MATCH=f'"{book.pk}-1\x00"')

    assert response.status_code == 200
    assert response.json()["id"] == book.pk


# --- invalid UTF-8 ----------------------------------------------------------------------------

INVALID_UTF8 = {
    "overlong-slash": b"\xc0\xaf",
    "overlong-three-byte-slash": b"\xe0\x80\xaf",
    "modified-utf8-nul": b"\xc0\x80",
    "encoded-surrogate": b"\xed\xa0\x80",
    "beyond-u10ffff": b"\xf4\x90\x80\x80",
    "truncated-sequence": b"\xe2\x82",
    "lone-continuation-byte": b"\x80",
}


@pytest.mark.parametrize("raw", INVALID_UTF8.values(), ids=INVALID_UTF8.keys())
def test_invalid_utf8_in_a_body_is_a_parse_error_and_stores_nothing(
    auth_client: APIClient, raw: bytes
) -> None:
    body = json.dumps(book_payload(title="@@")).encode().replace(b"@@", b"Dune" + raw)

    assert_parse_error(post_raw(auth_client, body))
    assert Book.objects.count() == 0


@pytest.mark.parametrize("raw", INVALID_UTF8.values(), ids=INVALID_UTF8.keys())
def test_invalid_utf8_in_an_update_is_a_parse_error_and_changes_nothing(
    auth_client: APIClient, raw: bytes
) -> None:
    book = BookFactory()
    before = snapshot()
    body = b'{"title": "Dune' + raw + b'"}'

    response = auth_client.generic("PATCH", f"/books/{book.pk}/", body, content_type=JSON)

    assert_parse_error(response)
    assert snapshot() == before


LONE_SURROGATES = ["Dune \udbff", "\udc00 Messiah"]  # a high one and a low one


@pytest.mark.parametrize("field", ["title", "author", "summary", "isbn", "publication_date"])
@pytest.mark.parametrize("value", LONE_SURROGATES)
def test_a_lone_surrogate_escaped_in_json_is_a_400_naming_the_field(
    auth_client: APIClient, field: str, value: str
) -> None:
    # Valid JSON ("\\ud800"), but no text encoding can store it: the database would fail.
    response = post_raw(auth_client, json.dumps(book_payload(**{field: value})).encode())

    assert_refused_field(response, field)
    assert Book.objects.count() == 0


@pytest.mark.parametrize("method", ["put", "patch"])
def test_a_lone_surrogate_in_an_update_is_a_400_and_changes_nothing(
    auth_client: APIClient, method: str
) -> None:
    book = BookFactory()
    before = snapshot()
    body = json.dumps(book_payload(title="Dune \ud800", isbn=book.isbn))

    response = getattr(auth_client, method)(f"/books/{book.pk}/", body, content_type=JSON)

    assert_refused_field(response, "title")
    assert snapshot() == before


# Django decodes a query string as UTF-8 with invalid bytes replaced by U+FFFD: free text then
# matches nothing, and every parameter with a format refuses it.
@pytest.mark.parametrize("name", ["author", "author_name", "search"])
@pytest.mark.parametrize("raw", ["%FF", "%C0%AF", "%ED%A0%80", "Dune%E2%82"])
def test_invalid_utf8_in_a_text_filter_matches_nothing(
    api_client: APIClient, name: str, raw: str
) -> None:
    BookFactory(title="Dune", author="Dune", summary="Dune")

    response = api_client.get(f"/books/?{name}={raw}")

    assert response.status_code == 200, response.content
    assert response.json()["results"] == []


@pytest.mark.parametrize(
    "name", ["isbn", "published_after", "published_before", "ordering", "page_size", "cursor"]
)
@pytest.mark.parametrize("raw", ["%FF", "%C0%AF", "%ED%A0%80"])
def test_invalid_utf8_in_a_formatted_parameter_is_a_400_naming_it(
    api_client: APIClient, name: str, raw: str
) -> None:
    BookFactory()

    assert_refused_field(api_client.get(f"/books/?{name}={raw}"), name)


@pytest.mark.parametrize("path", ["/books/%FF/", "/books/1%C0%AF/", "/books/%ED%A0%80/"])
def test_invalid_utf8_in_the_path_is_a_404(api_client: APIClient, path: str) -> None:
    BookFactory(id=1)

    assert set(assert_json_error(api_client.get(path), 404)) == {"detail"}


def test_invalid_utf8_in_if_match_is_a_412_and_changes_nothing(auth_client: APIClient) -> None:
    book = BookFactory()
    before = snapshot()

    # WSGI hands header bytes over as latin-1 text: these are the raw bytes ff fe c0 af.
    response = auth_client.delete(f"/books/{book.pk}/", HTTP_IF_MATCH='"\xff\xfe\xc0\xaf"')

    assert_json_error(response, 412)
    assert snapshot() == before


@pytest.mark.parametrize("charset", ["utf-16", "utf-32", "utf-16-be", "cp037"])
def test_a_charset_that_cannot_read_the_body_is_a_parse_error(
    auth_client: APIClient, charset: str
) -> None:
    body = json.dumps(book_payload()).encode()

    response = auth_client.generic(
        "POST", "/books/", body, content_type=f"application/json; charset={charset}"
    )

    assert_parse_error(response)
    assert Book.objects.count() == 0


@pytest.mark.parametrize("charset", ["no-such-charset", "latin-1", "ascii"])
def test_a_charset_that_reads_ascii_alike_or_is_unknown_reads_the_body_as_utf8(
    auth_client: APIClient, charset: str
) -> None:
    # Django ignores a charset it does not know, as browsers do.
    body = json.dumps(book_payload()).encode()

    response = auth_client.generic(
        "POST", "/books/", body, content_type=f"application/json; charset={charset}"
    )

    assert response.status_code == 201, response.content
    assert Book.objects.get().title == "The Pragmatic Programmer"


# --- overlong values, beyond the text fields' limits ------------------------------------------


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("isbn", "978-0-306-40615-7" + "-" * 100_000),
        ("isbn", "9" * 100_000),
        ("publication_date", "1999-10-20" + "0" * 100_000),
    ],
    ids=["isbn-padded-with-hyphens", "isbn-of-digits", "date"],
)
def test_an_overlong_isbn_or_date_is_a_400_naming_it(
    auth_client: APIClient, field: str, value: str
) -> None:
    response = post_raw(auth_client, json.dumps(book_payload(**{field: value})).encode())

    assert_refused_field(response, field)
    assert Book.objects.count() == 0


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("title", " " + "t" * TITLE_MAX_LENGTH),
        ("author", "a" * AUTHOR_MAX_LENGTH + "\n"),
        ("summary", "s" * SUMMARY_MAX_LENGTH + " "),
        ("isbn", "0-306-40615-2" + " " * (MAX_INPUT_LENGTH - 12)),
    ],
    ids=["title", "author", "summary", "isbn"],
)
def test_a_value_over_its_documented_length_is_refused_even_if_padded_with_whitespace(
    auth_client: APIClient, field: str, value: str
) -> None:
    # The schema says maxLength of what is sent: padding is no way past it (schemathesis
    # sends such values as ones the API must refuse).
    maximum = book_request_schema()["properties"][field]["maxLength"]
    assert len(value) == maximum + 1

    response = post_raw(auth_client, json.dumps(book_payload(**{field: value})).encode())

    assert_refused_field(response, field)
    assert Book.objects.count() == 0


def test_every_field_overlong_at_once_is_a_400_naming_every_field(auth_client: APIClient) -> None:
    huge = "x" * 500_000
    payload = dict.fromkeys(["title", "author", "publication_date", "isbn", "summary"], huge)

    response = post_raw(auth_client, json.dumps(payload).encode())

    assert_refused_field(response, "title", "author", "publication_date", "isbn", "summary")
    assert Book.objects.count() == 0


def test_an_overlong_unknown_key_is_ignored(auth_client: APIClient) -> None:
    payload = book_payload() | {"k" * 1_000_000: "v"}

    response = post_raw(auth_client, json.dumps(payload).encode())

    assert response.status_code == 201, response.content
    assert Book.objects.count() == 1


@pytest.mark.parametrize("name", ["isbn", "search", "published_after", "published_before"])
def test_an_overlong_filter_is_a_400_naming_it(api_client: APIClient, name: str) -> None:
    BookFactory()

    assert_refused_field(api_client.get("/books/", {name: "1" * 100_000}), name)


def test_an_overlong_if_match_is_a_412_and_changes_nothing(auth_client: APIClient) -> None:
    book = BookFactory()
    before = snapshot()
    tag = f'"{book.pk}-{book.version}' + "0" * 60_000 + '"'

    response = auth_client.patch(
        f"/books/{book.pk}/", {"title": "Changed"}, format="json", HTTP_IF_MATCH=tag
    )

    assert_json_error(response, 412)
    assert snapshot() == before


def test_an_overlong_if_none_match_is_no_match(api_client: APIClient) -> None:
    book = BookFactory()
    tags = ", ".join(etag_for(n, 0) for n in range(10_000))  # version 0 is never stored

    response = api_client.get(f"/books/{book.pk}/", HTTP_IF_NONE_MATCH=tags)

    assert response.status_code == 200
    assert response.json()["id"] == book.pk


# --- huge, negative and oddly written page sizes ----------------------------------------------


def test_a_page_size_of_thousands_of_digits_is_clamped_like_any_large_one(
    api_client: APIClient,
) -> None:
    # Python's int() refuses more than 4,300 digits; the API documents only "clamped to 100".
    BookFactory.create_batch(3)

    response = api_client.get("/books/", {"page_size": "9" * 5_000})

    assert response.status_code == 200, response.content
    assert len(response.json()["results"]) == 3


@pytest.mark.parametrize(
    "page_size", ["-99999999999999999999999", "-" + "9" * 5_000, "-0", "--1", "0" * 5_000]
)
def test_a_negative_or_zero_page_size_of_any_length_is_a_400(
    api_client: APIClient, page_size: str
) -> None:
    BookFactory()

    assert_refused_field(api_client.get("/books/", {"page_size": page_size}), "page_size")


@pytest.mark.parametrize(
    "page_size",
    ["1_0", "\uff11\uff10", "\u0661\u0660", "\u096a"],
    ids=["underscore", "fullwidth", "arabic-indic", "devanagari"],
)
def test_a_page_size_in_anything_but_ascii_digits_is_a_400(
    api_client: APIClient, page_size: str
) -> None:
    # Python's int() reads these; a client that sends them has a bug, as for dates and ISBNs.
    BookFactory()

    assert_refused_field(api_client.get("/books/", {"page_size": page_size}), "page_size")


# --- negative and enormous ids, beyond the path (test_routes.py) -----------------------------


@pytest.mark.parametrize(
    "book_id",
    [-1, 0, 2**63, 2**64, 10**100, "1 OR 1=1", "1; DROP TABLE books_book", None, [1], {"id": 1}],
)
def test_an_id_in_the_body_never_chooses_or_reaches_a_row(
    auth_client: APIClient, book_id: object
) -> None:
    other = BookFactory()
    before = snapshot()

    response = post_raw(auth_client, json.dumps(book_payload(id=book_id)).encode())

    assert response.status_code == 201, response.content
    new_id = response.json()["id"]
    assert new_id != other.pk
    assert new_id != book_id
    assert [row for row in snapshot() if row["id"] != new_id] == before


@pytest.mark.parametrize("path_id", ["%D9%A1", "%EF%BC%91", "1e0", "0x1", "1.", "%2B1", "%201"])
def test_an_id_that_is_not_plain_ascii_digits_is_a_404(api_client: APIClient, path_id: str) -> None:
    BookFactory(id=1)

    assert_json_error(api_client.get(f"/books/{path_id}/"), 404)


@pytest.mark.parametrize("version", ["99999999999999999999999", "-1", "1" * 5_000])
@pytest.mark.parametrize("method", ["patch", "delete"])
def test_an_enormous_or_negative_version_in_if_match_is_a_412(
    auth_client: APIClient, method: str, version: str
) -> None:
    book = BookFactory()
    before = snapshot()

    response = getattr(auth_client, method)(
        f"/books/{book.pk}/",
        {"title": "Changed"},
        format="json",
        HTTP_IF_MATCH=etag_for(book.pk, version),
    )

    assert_json_error(response, 412)
    assert snapshot() == before


# --- text that looks like SQL or markup is data ----------------------------------------------

SQL_LIKE = [
    "Robert'); DROP TABLE books_book;--",
    "' OR '1'='1' --",
    '" OR ""="',
    "1; SELECT pg_sleep(30); --",
    "%' UNION SELECT username, password FROM auth_user --",
    "\\'; DELETE FROM books_book WHERE 1=1; --",
    "50% off_sale [a-z]* ^$ \\d+",
]
MARKUP_LIKE = [
    "<script>alert(document.cookie)</script>",
    '<img src=x onerror="alert(1)">',
    "</textarea><svg onload=alert(1)>",
    "javascript:alert(1)",
    "{{ 7*7 }} {% debug %} ${7*7} #{7*7} <%= 7*7 %>",
    "%s %(title)s {0} %n",
    '=HYPERLINK("http://example.com","x")',
    "../../../etc/passwd",
]
HOSTILE_TEXT = SQL_LIKE + MARKUP_LIKE


def create_with_text(client: APIClient, text: str, number: int = 0) -> dict[str, Any]:
    payload = book_payload(title=text, author=text, summary=text, isbn=demo_isbn(number))

    response = post_raw(client, json.dumps(payload).encode())

    assert response.status_code == 201, response.content
    return dict(response.json())


@pytest.mark.parametrize("text", HOSTILE_TEXT)
def test_sql_or_markup_like_text_is_stored_and_returned_verbatim(
    auth_client: APIClient, text: str
) -> None:
    bystander = BookFactory()

    created = create_with_text(auth_client, text)

    stored = Book.objects.get(pk=created["id"])
    assert (stored.title, stored.author, stored.summary) == (text, text, text)
    assert (created["title"], created["author"], created["summary"]) == (text, text, text)
    fetched = auth_client.get(f"/books/{created['id']}/")
    assert fetched["Content-Type"] == JSON
    assert fetched["X-Content-Type-Options"] == "nosniff"
    assert fetched.json() == created
    assert Book.objects.filter(pk=bystander.pk).exists()
    assert "books_book" in connection.introspection.table_names()


@pytest.mark.parametrize("text", HOSTILE_TEXT)
def test_filters_match_sql_or_markup_like_text_as_plain_text(
    auth_client: APIClient, text: str
) -> None:
    created = create_with_text(auth_client, text)
    create_with_text(auth_client, text[:-1] + "\u2603", number=1)  # one character off
    bystander = BookFactory(title="Plain", author="Someone", summary="Nothing to see.")

    by_author = auth_client.get("/books/", {"author": text.upper()})
    by_search = auth_client.get("/books/", {"search": " ".join(text.split()[:10])})

    assert [book["id"] for book in by_author.json()["results"]] == [created["id"]]
    searched = [book["id"] for book in by_search.json()["results"]]
    assert created["id"] in searched
    assert bystander.pk not in searched  # no word acted as a pattern or as SQL


TAGS = [text for text in HOSTILE_TEXT if "<" in text]


@pytest.mark.parametrize("text", TAGS)
def test_markup_like_text_is_escaped_in_the_browsable_api(
    auth_client: APIClient, text: str
) -> None:
    # With a token the page has forms too: the text is in an <input> and a <textarea>.
    created = create_with_text(auth_client, text)

    page = auth_client.get(f"/books/{created['id']}/", HTTP_ACCEPT="text/html")

    assert page.status_code == 200
    assert page["Content-Type"].startswith("text/html")
    content = page.content.decode()
    assert text not in content
    assert html.escape(text.split()[0]) in content


@pytest.mark.parametrize("text", TAGS)
def test_markup_like_text_is_escaped_in_the_admin(auth_client: APIClient, text: str) -> None:
    create_with_text(auth_client, text)
    admin = get_user_model().objects.create_superuser(
        username="admin", email="admin@example.com", password="a-long-admin-password-1"
    )
    staff = Client()
    staff.force_login(admin)

    page = staff.get("/admin/books/book/")

    assert page.status_code == 200
    content = page.content.decode()
    assert text not in content
    assert html.escape(text, quote=False) in content or html.escape(text) in content


@pytest.mark.parametrize("text", HOSTILE_TEXT)
def test_the_export_gives_sql_or_markup_like_text_back_verbatim(
    auth_client: APIClient, text: str
) -> None:
    create_with_text(auth_client, text)

    as_csv = auth_client.get("/books/export/", {"format": "csv"})
    as_jsonl = auth_client.get("/books/export/", {"format": "jsonl"})

    (row,) = csv.DictReader(io.StringIO(b"".join(as_csv.streaming_content).decode()))
    (line,) = b"".join(as_jsonl.streaming_content).decode().splitlines()
    record = json.loads(line)
    # CSV cells a spreadsheet would run carry a leading quote (books.exporting.csv_cell).
    cells = (row["title"], row["author"], row["summary"])
    assert tuple(map(csv_cell_value, cells)) == (text, text, text)
    assert cells == (csv_cell(text),) * 3
    assert (record["title"], record["author"], record["summary"]) == (text, text, text)


# --- methods and headers a route does not expect ---------------------------------------------

ROUTES = [
    "/",
    "/books/",
    "/books/1/",
    "/books/export/",
    "/auth/token/",
    "/auth/logout/",
    "/auth/logout-all/",
    "/api/schema/",
    "/api/docs/",
    "/healthz",
    "/readyz",
    "/app/",
    "/admin/",
    "/no-such-route/",
]
# /metrics is left out: each scrape costs ~0.1 s, and test_metrics.py covers who may read it.
METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "PROPFIND"]
ACCEPTS = [None, "text/csv", "application/xml"]


@pytest.mark.parametrize("route", ROUTES)
def test_no_route_answers_any_method_or_accept_with_a_500(route: str, token: str) -> None:
    BookFactory(id=1)
    clients = {
        "anonymous": Client(),
        "token": Client(HTTP_AUTHORIZATION=f"Token {token}"),
        "unknown-token": Client(HTTP_AUTHORIZATION="Token no-such-token"),
    }
    server_errors = []
    for method in METHODS:
        for name, client in clients.items():
            client.raise_request_exception = False
            for accept in ACCEPTS:
                headers = {"HTTP_ACCEPT": accept} if accept else {}
                response = client.generic(method, route, **headers)
                if response.status_code >= 500:
                    server_errors.append(f"{method} {name} Accept: {accept}")

    assert server_errors == []


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE", "TRACE", "PROPFIND"])
def test_a_method_the_export_does_not_allow_is_a_json_405(
    auth_client: APIClient, method: str
) -> None:
    response = auth_client.generic(method, "/books/export/")

    assert set(assert_json_error(response, 405)) == {"detail"}
    assert "GET" in response["Allow"]


def test_options_on_the_export_describes_it_in_json(auth_client: APIClient) -> None:
    response = auth_client.options("/books/export/")

    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith(JSON)
    assert response.json()["name"]


def test_options_on_the_api_docs_is_a_clean_answer(api_client: APIClient) -> None:
    response = api_client.options("/api/docs/")

    assert response.status_code in (200, 405), response.content


@pytest.mark.parametrize("accept", ["application/json", "text/csv"])
def test_an_unknown_token_on_the_api_docs_is_a_clean_answer(accept: str) -> None:
    client = Client(raise_request_exception=False, HTTP_AUTHORIZATION="Token no-such-token")

    response = client.get("/api/docs/", HTTP_ACCEPT=accept)

    assert response.status_code in (401, 406), response.content
