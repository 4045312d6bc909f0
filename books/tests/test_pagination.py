"""Keyset pagination of /books/: the page shape, page_size, walking both ways, and cursors."""

import time
from types import SimpleNamespace
from urllib.parse import parse_qs, urlsplit

import pytest
from django.core import signing
from rest_framework.test import APIClient

from books.models import Book
from books.pagination import _SIGNING_SALT
from books.tests.factories import BookFactory
from books.tests.pages import LIST_URL, all_ids, get_page, ids, walk_backward, walk_forward

pytestmark = pytest.mark.django_db

DEFAULT_ORDER = ("-created_at", "-id")


def expected_ids(*order: str) -> list[int]:
    return list(Book.objects.order_by(*order).values_list("id", flat=True))


def assert_400_naming(response, name: str) -> None:  # type: ignore[no-untyped-def]
    assert response.status_code == 400, response.content
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert set(body) == {name}
    assert isinstance(body[name], list)
    assert body[name]
    assert all(isinstance(message, str) and message for message in body[name])


def cursor_of(link: str) -> str:
    (cursor,) = parse_qs(urlsplit(link).query)["cursor"]
    return cursor


def list_with_cursor(client: APIClient, cursor: str, **params: object):  # type: ignore[no-untyped-def]
    return client.get(LIST_URL, {**params, "cursor": cursor})


# --- the page's shape ------------------------------------------------------------------


def test_list_body_is_exactly_next_previous_and_results(api_client: APIClient) -> None:
    books = BookFactory.create_batch(3)

    response = api_client.get(LIST_URL)

    assert response.status_code == 200
    body = response.json()
    assert list(body) == ["next", "previous", "results"]
    assert body["next"] is None
    assert body["previous"] is None
    assert sorted(ids(body)) == sorted(book.id for book in books)


def test_empty_catalogue_is_one_empty_page(api_client: APIClient) -> None:
    body = get_page(api_client, LIST_URL)

    assert body == {"next": None, "previous": None, "results": []}


def test_links_are_absolute_urls_of_the_list(api_client: APIClient) -> None:
    BookFactory.create_batch(5)

    first = get_page(api_client, LIST_URL, {"page_size": 2})
    second = get_page(api_client, first["next"])

    for link in (first["next"], second["next"], second["previous"]):
        parts = urlsplit(link)
        assert (parts.scheme, parts.netloc, parts.path) == ("http", "testserver", "/books/")


# --- page_size -------------------------------------------------------------------------


def test_page_size_defaults_to_20(api_client: APIClient) -> None:
    BookFactory.create_batch(25)
    order = expected_ids(*DEFAULT_ORDER)

    first = get_page(api_client, LIST_URL)
    second = get_page(api_client, first["next"])

    assert ids(first) == order[:20]
    assert ids(second) == order[20:]
    assert second["next"] is None


def test_page_size_parameter_sets_the_page_size(api_client: APIClient) -> None:
    BookFactory.create_batch(7)

    pages = walk_forward(api_client, {"page_size": 3})

    assert [len(page["results"]) for page in pages] == [3, 3, 1]
    assert all_ids(pages) == expected_ids(*DEFAULT_ORDER)


@pytest.mark.parametrize("page_size", ["100", "101", "500", "99999999999999999999999"])
def test_page_size_above_100_is_clamped_to_100(api_client: APIClient, page_size: str) -> None:
    BookFactory.create_batch(105)

    first = get_page(api_client, LIST_URL, {"page_size": page_size})
    second = get_page(api_client, first["next"])

    assert len(first["results"]) == 100
    assert ids(first) == expected_ids(*DEFAULT_ORDER)[:100]
    assert len(second["results"]) == 5
    assert second["next"] is None


@pytest.mark.parametrize("page_size", ["0", "-1", "abc", "", " ", "1.5", "1e2", "0x10", "\x00"])
def test_invalid_page_size_is_400_naming_page_size(api_client: APIClient, page_size: str) -> None:
    BookFactory()

    assert_400_naming(api_client.get(LIST_URL, {"page_size": page_size}), "page_size")


# --- walking forwards and backwards ----------------------------------------------------


@pytest.mark.parametrize("page_size", [1, 4, 5, 19, 20])
def test_forward_walk_sees_every_book_once_in_order(api_client: APIClient, page_size: int) -> None:
    BookFactory.create_batch(20)

    pages = walk_forward(api_client, {"page_size": page_size})

    assert all_ids(pages) == expected_ids(*DEFAULT_ORDER)
    assert all(len(page["results"]) == page_size for page in pages[:-1])
    assert 1 <= len(pages[-1]["results"]) <= page_size


def test_first_page_has_no_previous_and_last_page_has_no_next(api_client: APIClient) -> None:
    BookFactory.create_batch(9)

    pages = walk_forward(api_client, {"page_size": 3})

    assert len(pages) == 3
    assert pages[0]["previous"] is None
    assert [page["next"] is None for page in pages] == [False, False, True]
    assert [page["previous"] is None for page in pages] == [True, False, False]


@pytest.mark.parametrize("page_size", [1, 3, 4])
def test_following_previous_returns_the_earlier_pages_as_going_forward(
    api_client: APIClient, page_size: int
) -> None:
    BookFactory.create_batch(12)
    forward = walk_forward(api_client, {"page_size": page_size})

    backward = walk_backward(api_client, forward[-1])

    assert [ids(page) for page in reversed(backward)] == [ids(page) for page in forward[:-1]]
    assert backward[-1]["previous"] is None


def test_pages_reached_backwards_link_on_like_pages_reached_forwards(
    api_client: APIClient,
) -> None:
    BookFactory.create_batch(10)
    forward = walk_forward(api_client, {"page_size": 3})
    assert [len(page["results"]) for page in forward] == [3, 3, 3, 1]

    back2 = get_page(api_client, forward[3]["previous"])
    back1 = get_page(api_client, back2["previous"])

    assert ids(back2) == ids(forward[2])
    assert ids(back1) == ids(forward[1])
    assert ids(get_page(api_client, back2["next"])) == ids(forward[3])
    assert ids(get_page(api_client, back1["next"])) == ids(forward[2])
    back0 = get_page(api_client, back1["previous"])
    assert ids(back0) == ids(forward[0])
    assert back0["previous"] is None


def test_links_keep_page_size_ordering_and_filters(api_client: APIClient) -> None:
    BookFactory.create_batch(5, author="Ann Lee")
    params = {"page_size": "2", "ordering": "-title", "author": "ann lee", "format": "json"}

    first = get_page(api_client, LIST_URL, params)
    second = get_page(api_client, first["next"])

    for link in (first["next"], second["previous"], second["next"]):
        query = parse_qs(urlsplit(link).query)
        assert {name: query[name] for name in params} == {
            name: [value] for name, value in params.items()
        }
        assert len(query["cursor"]) == 1


def test_a_cursor_works_with_another_page_size(api_client: APIClient) -> None:
    BookFactory.create_batch(10)
    order = expected_ids(*DEFAULT_ORDER)
    first = get_page(api_client, LIST_URL, {"page_size": 2})

    body = get_page(api_client, LIST_URL, {"page_size": 5, "cursor": cursor_of(first["next"])})

    assert ids(body) == order[2:7]


def test_next_page_after_its_books_were_deleted_is_empty_and_last(api_client: APIClient) -> None:
    BookFactory.create_batch(6)
    order = expected_ids(*DEFAULT_ORDER)
    first = get_page(api_client, LIST_URL, {"page_size": 2})
    Book.objects.filter(id__in=order[2:]).delete()

    emptied = get_page(api_client, first["next"])

    assert emptied["results"] == []
    assert emptied["next"] is None
    assert emptied["previous"] is not None


def test_previous_from_an_emptied_page_returns_the_page_before_it(api_client: APIClient) -> None:
    """Page 1 is [a, b]; everything after b is deleted; page 2 is then empty.

    Its `previous` must lead back to [a, b]: b existed the whole time and is before page 2.
    """
    BookFactory.create_batch(6)
    order = expected_ids(*DEFAULT_ORDER)
    first = get_page(api_client, LIST_URL, {"page_size": 2})
    Book.objects.filter(id__in=order[2:]).delete()
    emptied = get_page(api_client, first["next"])

    back = get_page(api_client, emptied["previous"])

    assert ids(back) == ids(first) == order[:2]
    assert back["previous"] is None


def test_previous_after_the_earlier_books_were_deleted_leads_to_the_first_page(
    api_client: APIClient,
) -> None:
    BookFactory.create_batch(6)
    order = expected_ids(*DEFAULT_ORDER)
    first = get_page(api_client, LIST_URL, {"page_size": 2})
    second = get_page(api_client, first["next"])
    Book.objects.filter(id__in=order[:2]).delete()

    emptied = get_page(api_client, second["previous"])

    assert emptied["results"] == []
    assert emptied["previous"] is None
    restart = get_page(api_client, emptied["next"])
    assert ids(restart) == order[2:4]
    assert "cursor" not in parse_qs(urlsplit(emptied["next"]).query)


# --- forged and misused cursors --------------------------------------------------------


@pytest.mark.parametrize(
    "cursor",
    [
        "",
        "abc",
        "not-a-cursor",
        ":",
        "a:b:c",
        ".eJyrVspXslLSTS5KTSxJTYlPLFHSUSoDihgZGBnoGhgCUYiBgRUYaYNJoHymkpWh",
        "eyJvIjoiLWNyZWF0ZWRfYXQiLCJ2IjoxLCJpIjoxLCJiIjpmYWxzZX0",
        "eyJvIjoiLWNyZWF0ZWRfYXQiLCJ2IjoxLCJpIjoxLCJiIjpmYWxzZX0:1xWCIO:abc",
        "x" * 5000,
        "\x00",
        "caf\u00e9:\u2603",
    ],
)
def test_random_cursor_is_400_naming_cursor(api_client: APIClient, cursor: str) -> None:
    BookFactory.create_batch(3)

    assert_400_naming(list_with_cursor(api_client, cursor), "cursor")


@pytest.fixture
def valid_cursor(api_client: APIClient) -> str:
    """A real `next` cursor of the default ordering, page size 2, over 6 books."""
    BookFactory.create_batch(6)
    first = get_page(api_client, LIST_URL, {"page_size": 2})
    cursor = cursor_of(first["next"])
    assert list_with_cursor(api_client, cursor, page_size=2).status_code == 200
    return cursor


def _flip(text: str, index: int) -> str:
    replacement = "A" if text[index] != "A" else "B"
    return text[:index] + replacement + text[index + 1 :]


@pytest.mark.parametrize(
    "modify",
    [
        pytest.param(lambda c: _flip(c, 3), id="payload-char-changed"),
        pytest.param(lambda c: _flip(c, c.index(":") - 1), id="payload-last-char-changed"),
        pytest.param(lambda c: _flip(c, c.index(":") + 1), id="timestamp-changed"),
        pytest.param(lambda c: c[1:], id="first-char-dropped"),
        pytest.param(lambda c: c[:-1], id="last-char-dropped"),
        pytest.param(lambda c: c + "A", id="char-appended"),
        pytest.param(lambda c: "A" + c, id="char-prepended"),
        pytest.param(lambda c: c.upper(), id="upper-cased"),
        pytest.param(lambda c: c.replace(":", "", 1), id="separator-dropped"),
        pytest.param(lambda c: c.split(":", 1)[0], id="signature-removed"),
    ],
)
def test_modified_valid_cursor_is_400_naming_cursor(
    api_client: APIClient, valid_cursor: str, modify
) -> None:  # type: ignore[no-untyped-def]
    forged = modify(valid_cursor)
    assert forged != valid_cursor

    assert_400_naming(list_with_cursor(api_client, forged, page_size=2), "cursor")


@pytest.mark.parametrize("position", [-1, -2, -10, -43])
def test_cursor_with_tampered_signature_is_400_naming_cursor(
    api_client: APIClient, valid_cursor: str, position: int
) -> None:
    payload, signature = valid_cursor.rsplit(":", 1)
    assert len(signature) >= 43
    signature = _flip(signature, position)

    response = list_with_cursor(api_client, f"{payload}:{signature}", page_size=2)

    assert_400_naming(response, "cursor")


def test_cursor_with_another_cursors_signature_is_400(api_client: APIClient) -> None:
    BookFactory.create_batch(6)
    first = get_page(api_client, LIST_URL, {"page_size": 2})
    second = get_page(api_client, first["next"])
    one, two = cursor_of(first["next"]), cursor_of(second["next"])
    spliced = one.rsplit(":", 1)[0] + ":" + two.rsplit(":", 1)[1]
    assert spliced not in (one, two)

    assert_400_naming(list_with_cursor(api_client, spliced, page_size=2), "cursor")


def test_a_pages_links_and_so_its_etag_are_the_same_an_hour_later(
    api_client: APIClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    # signing.dumps would put the time in every cursor: the next link, the body and the list
    # page's ETag would change each second, and If-None-Match would never get a 304.
    BookFactory.create_batch(3)
    first = api_client.get(LIST_URL, {"page_size": 2})
    later = time.time() + 3600
    monkeypatch.setattr("django.core.signing.time", SimpleNamespace(time=lambda: later))

    again = api_client.get(LIST_URL, {"page_size": 2}, HTTP_IF_NONE_MATCH=first["ETag"])

    assert first.json()["next"] is not None
    assert again.status_code == 304


@pytest.mark.parametrize(
    ("key", "salt"),
    [("another-secret-key", _SIGNING_SALT), (None, "another.salt"), (None, "")],
)
def test_cursor_signed_with_another_key_or_salt_is_400(
    api_client: APIClient, valid_cursor: str, key: str | None, salt: str
) -> None:
    payload = signing.Signer(salt=_SIGNING_SALT).unsign_object(valid_cursor)
    forged = signing.Signer(key=key, salt=salt).sign_object(payload, compress=True)

    assert_400_naming(list_with_cursor(api_client, forged, page_size=2), "cursor")


@pytest.mark.parametrize(
    ("made_for", "used_with"),
    [
        (None, "created_at"),
        (None, "title"),
        ("-created_at", "created_at"),
        ("title", "-title"),
        ("-title", "title"),
        ("title", "author"),
        ("author", "title"),
        ("publication_date", "-publication_date"),
        ("publication_date", "created_at"),
        ("created_at", "publication_date"),
        ("title", None),
        ("created_at", None),
    ],
)
def test_cursor_from_another_ordering_is_400_naming_cursor(
    api_client: APIClient, made_for: str | None, used_with: str | None
) -> None:
    BookFactory.create_batch(5)
    made_params: dict[str, object] = {"page_size": 2}
    if made_for is not None:
        made_params["ordering"] = made_for
    cursor = cursor_of(get_page(api_client, LIST_URL, made_params)["next"])
    used_params: dict[str, object] = {"page_size": 2}
    if used_with is not None:
        used_params["ordering"] = used_with

    assert_400_naming(list_with_cursor(api_client, cursor, **used_params), "cursor")


def test_previous_cursor_from_another_ordering_is_400(api_client: APIClient) -> None:
    BookFactory.create_batch(5)
    first = get_page(api_client, LIST_URL, {"page_size": 2, "ordering": "title"})
    second = get_page(api_client, first["next"])
    cursor = cursor_of(second["previous"])

    response = list_with_cursor(api_client, cursor, page_size=2, ordering="-title")

    assert_400_naming(response, "cursor")


class _RawJSON:
    """A signing serializer that sends the given JSON text as it is (numbers json.dumps would
    not write, such as 1e400)."""

    text = b""

    def dumps(self, obj: object) -> bytes:
        return self.text

    def loads(self, data: bytes) -> object:
        raise NotImplementedError


@pytest.mark.parametrize("field", ["i", "v"])
def test_a_signed_cursor_with_an_overflowing_number_is_400_not_a_crash(
    api_client: APIClient, field: str
) -> None:
    """Someone who knows the SECRET_KEY signs {"i": 1e400}: json reads it as infinity, which
    int() cannot convert (issue 13, finding 10)."""
    BookFactory.create_batch(3)
    fields = {"o": '"title"', "v": '"A title"', "i": "1", "b": "false"}
    fields[field] = "1e400"
    serializer = type("Overflowing", (_RawJSON,), {})
    serializer.text = ("{" + ",".join(f'"{k}":{v}' for k, v in fields.items()) + "}").encode()
    forged = signing.Signer(salt="books.pagination.cursor").sign_object(None, serializer=serializer)

    assert_400_naming(list_with_cursor(api_client, forged, ordering="title"), "cursor")
