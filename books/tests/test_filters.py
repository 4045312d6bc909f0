"""The list's filters: author, isbn, publication-date range and search; alone and together."""

import datetime

import pytest
from rest_framework.test import APIClient

from books.models import Book
from books.tests.factories import CANONICAL_ISBN, ISBN_SPELLINGS
from books.tests.factories import plain_book as make_book
from books.tests.pages import LIST_URL, get_page

pytestmark = pytest.mark.django_db

FILTERS = ("author", "isbn", "published_after", "published_before", "search")


def found(client: APIClient, **params: object) -> set[int]:
    """The ids of every book the filtered list gives, over all its pages."""
    page = get_page(client, LIST_URL, {"page_size": 100, **params})
    result = [book["id"] for book in page["results"]]
    while page["next"] is not None:
        page = get_page(client, page["next"])
        result += [book["id"] for book in page["results"]]
    assert len(result) == len(set(result))
    return set(result)


def assert_400_naming(response, name: str) -> None:  # type: ignore[no-untyped-def]
    assert response.status_code == 400, response.content
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert set(body) == {name}
    assert body[name]
    assert all(isinstance(message, str) and message for message in body[name])


# --- author ----------------------------------------------------------------------------


def test_author_matches_exactly_ignoring_case(api_client: APIClient) -> None:
    exact = make_book(author="Ursula K. Le Guin")
    other_case = make_book(author="ursula k. le guin")
    make_book(author="Ursula K. Le Guin Jr.")
    make_book(author="Young Ursula K. Le Guin")
    make_book(author="Octavia E. Butler")

    assert found(api_client, author="URSULA K. LE GUIN") == {exact.id, other_case.id}
    assert found(api_client, author="Ursula K. Le Guin") == {exact.id, other_case.id}


@pytest.mark.parametrize("author", ["Le Guin", "Ursula", "ursula k.", "Guin Jr.", "%", "_"])
def test_author_is_not_a_substring_match(api_client: APIClient, author: str) -> None:
    make_book(author="Ursula K. Le Guin")
    make_book(author="Ursula K. Le Guin Jr.")

    assert found(api_client, author=author) == set()


def test_author_with_like_wildcards_matches_them_literally(api_client: APIClient) -> None:
    percent = make_book(author="100% Human")
    make_book(author="100 Human")
    make_book(author="1000 Humans")

    assert found(api_client, author="100% human") == {percent.id}
    assert found(api_client, author="100_human") == set()


def test_author_longer_than_the_field_is_400(api_client: APIClient) -> None:
    assert_400_naming(api_client.get(LIST_URL, {"author": "a" * 101}), "author")


# --- isbn ------------------------------------------------------------------------------


@pytest.mark.parametrize("spelling", ISBN_SPELLINGS)
def test_isbn_finds_the_book_by_any_valid_spelling(api_client: APIClient, spelling: str) -> None:
    book = make_book(isbn=CANONICAL_ISBN)
    make_book(isbn="9780131103627")

    assert found(api_client, isbn=spelling) == {book.id}


def test_isbn10_with_x_check_digit_finds_its_13_digit_form(api_client: APIClient) -> None:
    book = make_book(isbn="9780804429573")  # ISBN-10 0-8044-2957-X
    make_book(isbn="9780306406157")

    assert found(api_client, isbn="0-8044-2957-X") == {book.id}
    assert found(api_client, isbn="080442957x") == {book.id}


def test_isbn_of_no_stored_book_finds_nothing(api_client: APIClient) -> None:
    make_book(isbn="9780306406157")

    assert found(api_client, isbn="978-0-13-110362-7") == set()


@pytest.mark.parametrize(
    "isbn",
    [
        "0-306-40615-3",  # wrong ISBN-10 check digit
        "9780306406158",  # wrong ISBN-13 check digit
        "123",
        "abc",
        "97803064061570",
        "9770306406150",  # not a 978/979 prefix
        "978-0-306-40615-7-1-2-3-4",  # longer than any spelling
        "\u0669\u0667\u0668",
    ],
)
def test_invalid_isbn_is_400_naming_isbn(api_client: APIClient, isbn: str) -> None:
    make_book(isbn="9780306406157")

    assert_400_naming(api_client.get(LIST_URL, {"isbn": isbn}), "isbn")


# --- published_after / published_before ------------------------------------------------


@pytest.fixture
def dated_books() -> dict[str, Book]:
    return {
        day: make_book(publication_date=datetime.date.fromisoformat(day))
        for day in ("2019-12-31", "2020-01-01", "2020-01-02", "2020-01-03", "2020-01-04")
    }


def test_published_after_includes_the_boundary_date(
    api_client: APIClient, dated_books: dict[str, Book]
) -> None:
    result = found(api_client, published_after="2020-01-02")

    assert result == {dated_books[day].id for day in ("2020-01-02", "2020-01-03", "2020-01-04")}


def test_published_before_includes_the_boundary_date(
    api_client: APIClient, dated_books: dict[str, Book]
) -> None:
    result = found(api_client, published_before="2020-01-02")

    assert result == {dated_books[day].id for day in ("2019-12-31", "2020-01-01", "2020-01-02")}


def test_published_after_and_before_the_same_day_give_that_day(
    api_client: APIClient, dated_books: dict[str, Book]
) -> None:
    result = found(api_client, published_after="2020-01-02", published_before="2020-01-02")

    assert result == {dated_books["2020-01-02"].id}


def test_published_range_is_inclusive_at_both_ends(
    api_client: APIClient, dated_books: dict[str, Book]
) -> None:
    result = found(api_client, published_after="2020-01-01", published_before="2020-01-03")

    assert result == {dated_books[day].id for day in ("2020-01-01", "2020-01-02", "2020-01-03")}


def test_published_after_later_than_before_finds_nothing(
    api_client: APIClient, dated_books: dict[str, Book]
) -> None:
    assert found(api_client, published_after="2020-01-03", published_before="2020-01-02") == set()


@pytest.mark.parametrize("name", ["published_after", "published_before"])
@pytest.mark.parametrize(
    "value", ["2020-13-01", "2020-02-30", "2020-00-10", "yesterday", "20200101x", "2020-01-01T"]
)
def test_bad_date_is_400_naming_the_filter(api_client: APIClient, name: str, value: str) -> None:
    make_book()

    assert_400_naming(api_client.get(LIST_URL, {name: value}), name)


# --- search ----------------------------------------------------------------------------


@pytest.fixture
def searchable() -> dict[str, Book]:
    return {
        "title_both": make_book(title="The Dragon Reborn", author="Robert Jordan"),
        "title_one": make_book(title="Dragon Tales", summary="A children's show."),
        "split_fields": make_book(title="Reborn", summary="A DRAGON wakes."),
        "author_and_title": make_book(title="Dragonflight", author="Anne McCaffrey"),
        "unrelated": make_book(title="Middlemarch", author="George Eliot"),
    }


def test_search_is_case_insensitive(api_client: APIClient, searchable: dict[str, Book]) -> None:
    expected = {searchable[key].id for key in ("title_both", "title_one", "author_and_title")}
    expected.add(searchable["split_fields"].id)

    assert found(api_client, search="dRaGoN") == expected
    assert found(api_client, search="DRAGON") == expected


def test_search_requires_every_word(api_client: APIClient, searchable: dict[str, Book]) -> None:
    result = found(api_client, search="dragon reborn")

    # "Dragon Tales" and "Dragonflight" match only one of the two words: excluded.
    assert result == {searchable["title_both"].id, searchable["split_fields"].id}


def test_search_words_may_match_different_fields(
    api_client: APIClient, searchable: dict[str, Book]
) -> None:
    assert found(api_client, search="jordan dragon") == {searchable["title_both"].id}
    assert found(api_client, search="mccaffrey dragon") == {searchable["author_and_title"].id}
    assert found(api_client, search="reborn wakes") == {searchable["split_fields"].id}


def test_search_matches_the_start_of_words(
    api_client: APIClient, searchable: dict[str, Book]
) -> None:
    assert found(api_client, search="dragonfl") == {searchable["author_and_title"].id}
    assert found(api_client, search="eliot middle") == {searchable["unrelated"].id}


def test_a_word_inside_a_word_is_only_a_similar_match(
    api_client: APIClient, searchable: dict[str, Book]
) -> None:
    # A word matches the start of words: "flight" is no word of "Dragonflight", so nothing
    # matches exactly, and the typo tolerance offers the book as similar, on both databases.
    body = get_page(api_client, LIST_URL, {"search": "flight"})

    assert [book["id"] for book in body["results"]] == [searchable["author_and_title"].id]
    assert body["search"]["similar"] is True
    assert body["search"]["did_you_mean"] == "dragonflight"


def test_search_ignores_extra_whitespace(
    api_client: APIClient, searchable: dict[str, Book]
) -> None:
    assert found(api_client, search="  dragon \t  reborn  ") == found(
        api_client, search="dragon reborn"
    )


def test_search_matching_nothing_is_an_empty_page(
    api_client: APIClient, searchable: dict[str, Book]
) -> None:
    body = get_page(api_client, LIST_URL, {"search": "dragon middlemarch"})

    assert body == {
        "next": None,
        "previous": None,
        "results": [],
        "search": {
            "words": ["dragon", "middlemarch"],
            "isbns": [],
            "similar": False,
            "did_you_mean": None,
        },
    }


def test_search_of_more_than_ten_words_is_400(api_client: APIClient) -> None:
    make_book()

    assert found(api_client, search=" ".join(["filler"] * 10)) != set()
    assert_400_naming(api_client.get(LIST_URL, {"search": " ".join(["filler"] * 11)}), "search")


# --- filters together, with ordering and the cursor --------------------------------------


@pytest.mark.parametrize("ordering", ["title", "-title", "publication_date", "-created_at"])
def test_filters_combine_with_each_other_ordering_and_the_cursor(
    api_client: APIClient, ordering: str
) -> None:
    matching = []
    for i in range(13):
        matching.append(
            make_book(
                title=f"Space Opera {i % 4}",
                author="Iain M. Banks" if i % 2 else "IAIN M. BANKS",
                publication_date=datetime.date(1990, 1, 1) + datetime.timedelta(days=i % 5),
                summary="A Culture novel.",
            )
        )
    # Each of these fails exactly one of the four filters.
    in_range = datetime.date(1990, 1, 2)
    make_book(
        title="Space Opera 1", author="Iain Banks", publication_date=in_range, summary="culture"
    )
    make_book(
        title="Space Opera 2",
        author="Iain M. Banks",
        publication_date=datetime.date(1989, 12, 31),
        summary="culture",
    )
    make_book(
        title="Space Opera 3",
        author="Iain M. Banks",
        publication_date=datetime.date(1990, 1, 6),
        summary="culture",
    )
    make_book(
        title="Space Western", author="Iain M. Banks", publication_date=in_range, summary="culture"
    )
    params = {
        "author": "iain m. banks",
        "published_after": "1990-01-01",
        "published_before": "1990-01-05",
        "search": "opera CULTURE",
        "ordering": ordering,
        "page_size": 3,
    }
    order = (ordering, "-id" if ordering.startswith("-") else "id")
    expected = list(
        Book.objects.filter(id__in=[book.id for book in matching])
        .order_by(*order)
        .values_list("id", flat=True)
    )

    pages = [get_page(api_client, LIST_URL, params)]
    while pages[-1]["next"] is not None:
        assert len(pages) < 50
        pages.append(get_page(api_client, pages[-1]["next"]))

    assert [book["id"] for page in pages for book in page["results"]] == expected
    assert len(pages) == 5
    backward = []
    page = pages[-1]
    while page["previous"] is not None:
        page = get_page(api_client, page["previous"])
        backward.append([book["id"] for book in page["results"]])
    assert backward[::-1] == [[book["id"] for book in p["results"]] for p in pages[:-1]]


def test_isbn_combined_with_a_non_matching_author_finds_nothing(api_client: APIClient) -> None:
    make_book(isbn="9780306406157", author="Andrew Hunt")

    assert found(api_client, isbn="0-306-40615-2", author="Andrew Hunt") != set()
    assert found(api_client, isbn="0-306-40615-2", author="Dave Thomas") == set()


# --- bad input and unknown parameters --------------------------------------------------


@pytest.mark.parametrize("name", FILTERS)
@pytest.mark.parametrize("value", ["\x00", "a\x00b", "2020-01-01\x00", "0-306-40615-2\x00"])
def test_nul_byte_in_a_filter_is_400_never_500(
    api_client: APIClient, name: str, value: str
) -> None:
    make_book(isbn="9780306406157")

    assert_400_naming(api_client.get(LIST_URL, {name: value}), name)


@pytest.mark.parametrize(("name", "value"), [("ordering", "title\x00"), ("page_size", "5\x00")])
def test_nul_byte_in_paging_parameters_is_400_never_500(
    api_client: APIClient, name: str, value: str
) -> None:
    make_book()

    assert_400_naming(api_client.get(LIST_URL, {name: value}), name)


def test_nul_byte_in_the_cursor_is_400_never_500(api_client: APIClient) -> None:
    make_book()

    assert_400_naming(api_client.get(f"{LIST_URL}?cursor=abc%00def"), "cursor")


def test_unknown_query_parameters_are_refused_by_name(api_client: APIClient) -> None:
    """Issue 13, finding 4: ignored, they silently gave the first page (``?page=2``)."""
    make_book(title="Book 1")
    query = {"colour": "blue", "title": "Book 1", "sort": "isbn", "id": "1", "limit": "1"}

    response = api_client.get(LIST_URL, query)

    assert response.status_code == 400
    assert sorted(response.json()) == sorted(query)


@pytest.mark.parametrize("name", FILTERS)
def test_empty_filter_value_is_no_filter(api_client: APIClient, name: str) -> None:
    books = [make_book(), make_book()]

    assert found(api_client, **{name: ""}) == {book.id for book in books}
