"""`ordering`: four fields, each way, `id` breaking ties, across every page, both directions."""

import datetime
from urllib.parse import parse_qs, urlsplit

import pytest
from rest_framework.test import APIClient

from books.models import Book
from books.tests.factories import BookFactory
from books.tests.pages import LIST_URL, all_ids, get_page, ids, walk_backward, walk_forward

pytestmark = pytest.mark.django_db

FIELDS = ("title", "author", "publication_date", "created_at")
ORDERINGS = [prefix + field for field in FIELDS for prefix in ("", "-")]
TEXT_FIELDS = ("title", "author")

# A few values each, so nearly every book ties with several others on every field.
TITLES = ["Zebra Crossing", "apple pie", "Apple Pie", "apple", "Mango", "mango"]
AUTHORS = ["Ann Lee", "ann lee", "Bob Stone", "Ann"]
DATES = [datetime.date(2001, 1, 1), datetime.date(1999, 12, 31), datetime.date(2001, 1, 2)]
_UTC = datetime.UTC
CREATED = [
    datetime.datetime(2024, 5, 1, 12, 0, 0, tzinfo=_UTC),
    datetime.datetime(2024, 5, 1, 12, 0, 0, 500_000, tzinfo=_UTC),
    datetime.datetime(2023, 1, 1, 0, 0, 0, 1, tzinfo=_UTC),
    datetime.datetime(2024, 5, 1, 12, 0, 1, tzinfo=_UTC),
    datetime.datetime(2025, 12, 31, 23, 59, 59, 999_999, tzinfo=_UTC),
]
BOOK_COUNT = 48


@pytest.fixture
def tied_books() -> list[Book]:
    """48 books with many ties on every sort field, spread so ties cross id order."""
    books = [
        BookFactory(
            title=TITLES[i % len(TITLES)],
            author=AUTHORS[(i * 3) % len(AUTHORS)],
            publication_date=DATES[(i * 5) % len(DATES)],
        )
        for i in range(BOOK_COUNT)
    ]
    for index, created_at in enumerate(CREATED):
        group = [book.id for i, book in enumerate(books) if (i * 7) % len(CREATED) == index]
        Book.objects.filter(id__in=group).update(created_at=created_at)
    for book in books:
        book.refresh_from_db()
    # The data really has ties: each field has far fewer distinct values than books.
    for field in FIELDS:
        assert len({getattr(book, field) for book in books}) <= 6
    return books


def expected_order(books: list[Book], ordering: str) -> list[int]:
    """The full order: by (field, id), reversed for a descending ordering.

    Text sorts by the database's collation (bytes on SQLite, the locale on PostgreSQL), so
    for text the database says which title comes first; dates and times sort in Python.
    """
    field = ordering.lstrip("-")
    if field in TEXT_FIELDS:
        ascending = list(Book.objects.order_by(field, "id").values_list("id", flat=True))
    else:
        ascending = [book.id for book in sorted(books, key=lambda b: (getattr(b, field), b.id))]
    assert sorted(ascending) == sorted(book.id for book in books)
    return ascending[::-1] if ordering.startswith("-") else ascending


@pytest.mark.parametrize("page_size", [1, 5, 8])
@pytest.mark.parametrize("ordering", ORDERINGS)
def test_every_ordering_walks_all_pages_in_field_then_id_order(
    api_client: APIClient, tied_books: list[Book], ordering: str, page_size: int
) -> None:
    pages = walk_forward(api_client, {"ordering": ordering, "page_size": page_size})

    seen = all_ids(pages)
    assert seen == expected_order(tied_books, ordering)
    assert len(seen) == len(set(seen)) == BOOK_COUNT
    assert [len(page["results"]) for page in pages[:-1]] == [page_size] * (len(pages) - 1)
    assert pages[0]["previous"] is None
    assert pages[-1]["next"] is None


@pytest.mark.parametrize("ordering", ORDERINGS)
def test_results_are_sorted_by_the_field_shown_in_the_body(
    api_client: APIClient, tied_books: list[Book], ordering: str
) -> None:
    field = ordering.lstrip("-")
    pages = walk_forward(api_client, {"ordering": ordering, "page_size": 7})
    by_id = {book.id: book for book in tied_books}

    results = [book for page in pages for book in page["results"]]

    for book in results:
        # the body shows the stored values
        stored = getattr(by_id[book["id"]], field)
        shown = book[field]
        if isinstance(stored, datetime.datetime):
            shown = datetime.datetime.fromisoformat(shown.replace("Z", "+00:00"))
        elif isinstance(stored, datetime.date):
            shown = datetime.date.fromisoformat(shown)
        assert shown == stored
    if field not in TEXT_FIELDS:
        keys = [(getattr(by_id[book["id"]], field), book["id"]) for book in results]
        assert keys == sorted(keys, reverse=ordering.startswith("-"))


@pytest.mark.parametrize("field", FIELDS)
def test_descending_is_the_exact_reverse_of_ascending(
    api_client: APIClient, tied_books: list[Book], field: str
) -> None:
    ascending = all_ids(walk_forward(api_client, {"ordering": field, "page_size": 6}))
    descending = all_ids(walk_forward(api_client, {"ordering": f"-{field}", "page_size": 6}))

    assert descending == ascending[::-1]
    assert len(ascending) == BOOK_COUNT


def test_default_ordering_is_newest_first_with_id_tie_breaker(
    api_client: APIClient, tied_books: list[Book]
) -> None:
    default = all_ids(walk_forward(api_client, {"page_size": 5}))

    assert default == expected_order(tied_books, "-created_at")
    assert default == all_ids(walk_forward(api_client, {"ordering": "-created_at"}))


@pytest.mark.parametrize("page_size", [1, 5, 8])
@pytest.mark.parametrize("ordering", ORDERINGS)
def test_walking_backwards_returns_the_same_pages_as_forwards(
    api_client: APIClient, tied_books: list[Book], ordering: str, page_size: int
) -> None:
    forward = walk_forward(api_client, {"ordering": ordering, "page_size": page_size})

    backward = walk_backward(api_client, forward[-1])

    assert [ids(page) for page in reversed(backward)] == [ids(page) for page in forward[:-1]]
    assert backward[-1]["previous"] is None
    assert all(page["next"] is not None for page in backward)


@pytest.mark.parametrize("ordering", ORDERINGS)
def test_next_after_walking_back_to_the_start_walks_the_same_pages_again(
    api_client: APIClient, tied_books: list[Book], ordering: str
) -> None:
    forward = walk_forward(api_client, {"ordering": ordering, "page_size": 5})
    start = walk_backward(api_client, forward[-1])[-1]

    again = [start]
    while again[-1]["next"] is not None:
        assert len(again) < 500
        again.append(get_page(api_client, again[-1]["next"]))

    assert [ids(page) for page in again] == [ids(page) for page in forward]


@pytest.mark.parametrize(
    "ordering",
    [
        "isbn",
        "-isbn",
        "summary",
        "id",
        "-id",
        "--title",
        "---title",
        "title-",
        "-",
        "",
        " title",
        "title ",
        "Title",
        "TITLE",
        "+title",
        "title,author",
        "-created_at,-id",
        "updated_at",
        "pk",
        "?",
        "title\x00",
    ],
)
def test_unknown_ordering_is_400_naming_ordering(api_client: APIClient, ordering: str) -> None:
    BookFactory.create_batch(2)

    response = api_client.get(LIST_URL, {"ordering": ordering})

    assert response.status_code == 400, response.content
    body = response.json()
    assert set(body) == {"ordering"}
    assert len(body["ordering"]) == 1
    assert "title" in body["ordering"][0]


def test_unknown_ordering_is_400_even_with_a_cursor(api_client: APIClient) -> None:
    BookFactory.create_batch(3)
    first = get_page(api_client, LIST_URL, {"page_size": 1, "ordering": "title"})
    (cursor,) = parse_qs(urlsplit(first["next"]).query)["cursor"]

    response = api_client.get(LIST_URL, {"ordering": "isbn", "page_size": 1, "cursor": cursor})

    assert response.status_code == 400, response.content
    assert set(response.json()) == {"ordering"}
