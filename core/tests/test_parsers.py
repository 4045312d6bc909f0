"""core.parsers.JSONParser: orjson for UTF-8 bodies, DRF's parser for everything orjson refuses,
the same values either way, and every malformed body a 400."""

import io
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rest_framework import parsers
from rest_framework.exceptions import ParseError
from rest_framework.test import APIClient

from books.models import Book
from books.tests.factories import book_payload
from core.parsers import JSONParser

NESTING_TOO_DEEP = "JSON parse error - nesting is too deep."


def parse(body: bytes, encoding: str = "utf-8") -> Any:
    return JSONParser().parse(io.BytesIO(body), "application/json", {"encoding": encoding})


def drf_parse(body: bytes, encoding: str = "utf-8") -> Any:
    return parsers.JSONParser().parse(io.BytesIO(body), "application/json", {"encoding": encoding})


def nested(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


@pytest.fixture
def fallbacks(monkeypatch: pytest.MonkeyPatch) -> list[bytes]:
    """The bodies that reach DRF's own parser."""
    seen: list[bytes] = []
    real = parsers.JSONParser.parse

    def spy(self: Any, stream: Any, media_type: Any = None, parser_context: Any = None) -> Any:
        body = stream.read()
        seen.append(body)
        return real(self, io.BytesIO(body), media_type, parser_context)

    monkeypatch.setattr(parsers.JSONParser, "parse", spy)
    return seen


# --- the orjson path and the fallback ---------------------------------------------------------


def test_a_valid_utf8_body_is_parsed_by_orjson_alone(fallbacks: list[bytes]) -> None:
    body = json.dumps(book_payload(title="Ünïcödé 📚")).encode()

    assert parse(body) == book_payload(title="Ünïcödé 📚")
    assert fallbacks == []


@pytest.mark.parametrize("encoding", ["UTF-8", "utf8", "utf_8"])
def test_every_spelling_of_utf8_takes_the_orjson_path(
    fallbacks: list[bytes], encoding: str
) -> None:
    assert parse(b'{"a": 1}', encoding) == {"a": 1}
    assert fallbacks == []


def test_an_escaped_lone_surrogate_falls_back_and_reaches_the_field(
    fallbacks: list[bytes],
) -> None:
    body = b'{"title": "Dune \\udc00"}'

    assert parse(body) == {"title": "Dune \udc00"}
    assert fallbacks == [body]


def test_another_declared_charset_is_read_by_drf(fallbacks: list[bytes]) -> None:
    body = json.dumps({"title": "Ünïcödé"}, ensure_ascii=False).encode("utf-16")

    assert parse(body, "utf-16") == {"title": "Ünïcödé"}
    assert fallbacks == [body]


_JSON = st.recursive(
    st.none()
    | st.booleans()
    # orjson reads integers past 64 bits as floats (DRF's parser keeps them exact); the API
    # has no numeric field, so only integers orjson holds exactly are compared.
    | st.integers(min_value=-(2**63), max_value=2**64 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(value=_JSON)
def test_orjson_reads_what_drfs_parser_reads(value: Any) -> None:
    for body in (json.dumps(value).encode(), json.dumps(value, ensure_ascii=False).encode()):
        assert parse(body) == drf_parse(body)


# --- malformed bodies: a ParseError, which the API answers with a 400 -------------------------

MALFORMED = {
    "NaN": b'{"title": NaN}',
    "Infinity": b'{"title": Infinity}',
    "-Infinity": b'{"title": -Infinity}',
    "truncated": b'{"title": "Dune"',
    "trailing comma": b'{"title": "Dune",}',
    "single quotes": b"{'title': 'Dune'}",
    "invalid utf-8": b'{"title": "\xff"}',
    "a byte order mark": b'\xef\xbb\xbf{"title": "Dune"}',
    "empty": b"",
}


@pytest.mark.parametrize("body", MALFORMED.values(), ids=MALFORMED.keys())
def test_a_malformed_body_is_a_parse_error(body: bytes) -> None:
    with pytest.raises(ParseError, match=r"^JSON parse error"):
        parse(body)


@pytest.mark.parametrize("encoding", ["utf-8", "utf-16"])
@pytest.mark.parametrize("depth", [1025, 2000, 100_000])
def test_nesting_too_deep_for_either_parser_is_a_parse_error(encoding: str, depth: int) -> None:
    with pytest.raises(ParseError) as raised:
        parse(nested(depth).decode().encode(encoding), encoding)

    assert str(raised.value.detail) == NESTING_TOO_DEEP


def test_nesting_orjson_can_follow_is_parsed() -> None:
    value = parse(nested(1000))

    for _ in range(999):
        (value,) = value
    assert value == []


def test_a_utf8_body_declared_utf16_is_a_parse_error() -> None:
    with pytest.raises(ParseError, match=r"^JSON parse error"):
        parse(json.dumps(book_payload()).encode(), "utf-16")


# --- through the API ----------------------------------------------------------------------------


def _post(client: APIClient, body: bytes, content_type: str = "application/json") -> Any:
    return client.generic("POST", "/books/", body, content_type=content_type)


def _assert_parse_error(response: Any, detail: str | None = None) -> None:
    assert response.status_code == 400, response.content
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert set(body) == {"detail"}
    assert body["detail"].startswith("JSON parse error")
    if detail is not None:
        assert body["detail"] == detail


@pytest.mark.django_db
def test_a_valid_body_creates_the_book(auth_client: APIClient) -> None:
    response = _post(auth_client, json.dumps(book_payload(title="Ünïcödé 📚")).encode())

    assert response.status_code == 201, response.content
    assert Book.objects.get().title == "Ünïcödé 📚"


@pytest.mark.django_db
@pytest.mark.parametrize("field", ["title", "author", "summary"])
def test_an_escaped_lone_surrogate_is_a_400_naming_the_field(
    auth_client: APIClient, field: str
) -> None:
    body = json.dumps(book_payload(**{field: "Dune \udc00"})).encode()

    response = _post(auth_client, body)

    assert response.status_code == 400, response.content
    assert list(response.json()) == [field]
    assert not Book.objects.exists()


@pytest.mark.django_db
def test_a_body_in_another_charset_than_declared_is_a_400(auth_client: APIClient) -> None:
    body = json.dumps(book_payload()).encode()

    response = _post(auth_client, body, "application/json; charset=utf-16")

    _assert_parse_error(response)
    assert not Book.objects.exists()


@pytest.mark.django_db
def test_a_utf16_body_declared_utf16_creates_the_book(auth_client: APIClient) -> None:
    body = json.dumps(book_payload(title="Ünïcödé"), ensure_ascii=False).encode("utf-16")

    response = _post(auth_client, body, "application/json; charset=utf-16")

    assert response.status_code == 201, response.content
    assert Book.objects.get().title == "Ünïcödé"


@pytest.mark.django_db
def test_nesting_2000_deep_is_a_400_saying_so(auth_client: APIClient) -> None:
    response = _post(auth_client, b'{"title": ' + nested(2000) + b"}")

    _assert_parse_error(response, NESTING_TOO_DEEP)
    assert not Book.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_nan_and_infinity_are_a_400(auth_client: APIClient, constant: str) -> None:
    body = json.dumps(book_payload()).replace('"Andrew Hunt"', constant).encode()

    response = _post(auth_client, body)

    _assert_parse_error(response)
    assert not Book.objects.exists()
