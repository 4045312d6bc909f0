"""The list's ?search=: full-text prefix search on PostgreSQL, substrings on SQLite.

Each test runs on both databases; where the rules differ, it states both.
"""

import re

import pytest
from django.db import connection
from rest_framework.test import APIClient

from books.filters import search_prefix_query, search_words
from books.models import Book
from books.tests.factories import BookFactory
from books.tests.pages import LIST_URL

POSTGRESQL = connection.vendor == "postgresql"


def make_book(title: str, author: str = "Nobody", summary: str = "") -> Book:
    return BookFactory(title=title, author=author, summary=summary)


def found(client: APIClient, search: str) -> set[int]:
    response = client.get(LIST_URL, {"search": search, "page_size": 100})
    assert response.status_code == 200, response.content
    return {book["id"] for book in response.json()["results"]}


# --- the words of a search ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("search", "words"),
    [
        ("Dragon", ["dragon"]),
        ("  dragon \t REBORN ", ["dragon", "reborn"]),
        ("o'neil", ["neil", "o"]),
        ("a_b back\\slash 50%", ["50", "a", "back", "slash"]),  # "b" begins "back"
        ("x\u00b2 \u00bd \u0661\u0662", ["x", "\u0661\u0662"]),  # not "²" or "½"; "١٢" is
        ("https://example.com/le-guin", ["com", "example", "guin", "https", "le"]),
        ("école Ünïcode 北京", ["école", "ünïcode", "北京"]),
        ("% & | ! : * ( ) ' \" \\", []),
        ("!!!", []),
        ("'''", []),
        ("\\\\'", []),
        ("", []),
    ],
)
def test_search_words_are_runs_of_letters_and_digits(search: str, words: list[str]) -> None:
    assert search_words(search) == words


def test_a_search_word_that_begins_another_is_left_out() -> None:
    # Every book with a word starting "dragon" has one starting "drag": same books.
    assert search_words("drag dragon DRAGONFLIGHT d") == ["dragonflight"]
    assert search_words("dragon dog") == ["dog", "dragon"]


@pytest.mark.parametrize(
    "search",
    [
        "a & b | !c",
        "'a':* | b",
        "(dragon) <-> (reborn)",
        "\\' OR 1=1 --",
        "x:*A",
        "a' & 'b",
        "word:" * 30,
    ],
)
def test_the_tsquery_holds_quoted_prefixes_and_nothing_from_the_client(search: str) -> None:
    # A search of no words builds no tsquery: those are among the cases of search_words above.
    words = search_words(search)
    assert words, search

    raw = search_prefix_query(words).get_source_expressions()[-1].value

    assert re.fullmatch(r"'\w+':\*( & '\w+':\*)*", raw), raw
    assert all(char.isalpha() or char.isdecimal() for char in re.findall(r"'(\w+)'", raw))


# --- the search through the API ------------------------------------------------------------


@pytest.mark.django_db
def test_a_word_finds_books_whose_words_start_with_it(api_client: APIClient) -> None:
    flight = make_book("Dragonflight", author="Anne McCaffrey")
    reborn = make_book("The Dragon Reborn")
    make_book("Middlemarch")

    assert found(api_client, "drag") == {flight.id, reborn.id}
    assert found(api_client, "DRAGONF") == {flight.id}
    assert found(api_client, "mcc drag") == {flight.id}


@pytest.mark.django_db
def test_a_word_inside_a_word_is_found_on_sqlite_only(api_client: APIClient) -> None:
    snapdragon = make_book("Snapdragon")

    inside = found(api_client, "dragon")

    assert inside == (set() if POSTGRESQL else {snapdragon.id})


@pytest.mark.django_db
def test_punctuation_separates_words(api_client: APIClient) -> None:
    oneil = make_book("Tip O'Neil", summary="Read more at https://example.com/tips or a@b.org.")
    make_book("Neil and the Tips")

    # Both databases: the client's punctuation matches the book's (SQLite: as a substring).
    assert found(api_client, "o'neil") == {oneil.id}
    # PostgreSQL reads every part of a URL or an e-mail address as a word.
    assert found(api_client, "example") == {oneil.id}
    assert found(api_client, "tips example.com") == {oneil.id}
    assert found(api_client, "b.org") == {oneil.id}


@pytest.mark.django_db
def test_a_search_of_punctuation_only_is_no_filter_on_postgresql(api_client: APIClient) -> None:
    percent = make_book("50% Off")
    plain = make_book("Plain")

    result = found(api_client, "% &")

    # SQLite: "%" is a substring like any other, and "&" is in no book.
    assert result == ({percent.id, plain.id} if POSTGRESQL else set())
    assert found(api_client, "%") == ({percent.id, plain.id} if POSTGRESQL else {percent.id})


@pytest.mark.django_db
def test_every_word_must_match(api_client: APIClient) -> None:
    both = make_book("Dragon", summary="It wakes.")
    make_book("Dragon")
    make_book("Wakes")

    assert found(api_client, "dragon wakes") == {both.id}
    assert found(api_client, "dragon wakes nothing") == set()


@pytest.mark.django_db
def test_text_that_was_not_utf8_matches_nothing(api_client: APIClient) -> None:
    make_book("Dune", author="Dune", summary="Dune")

    response = api_client.get(f"{LIST_URL}?search=Dune%E2%82")

    assert response.status_code == 200
    assert response.json()["results"] == []


ODD_SEARCHES = [
    "'",
    "''",
    '"',
    "\\",
    "\\'",
    "&",
    "a & b",
    "a&b",
    "|",
    "a | b",
    "!",
    "!a",
    ":",
    "a:",
    ":*",
    "a:*",
    "*",
    "a:*B",
    "(",
    ")",
    "(a | b) & !c",
    "<->",
    "a <-> b",
    "a<2>b",
    "'a':* & 'b'",
    "%",
    "_",
    "%_%",
    "\u0301",
    "\u00b2",
    "x\u00b2",
    "\u2603",
    "🐉 dragon",
    "é" * 200,
    "a" * 200,
    "-".join("abcdefghijklmnopqrstuvwxyz0123456789" * 3)[:200],
    "a b c d e f g h i j",
]


@pytest.mark.django_db
@pytest.mark.parametrize("search", ODD_SEARCHES)
def test_any_search_text_is_answered_never_a_500(api_client: APIClient, search: str) -> None:
    odd = make_book("Odd (a | b) & !c 'quoted' \\ a:*B", summary=search)
    make_book("Plain", summary="Nothing here.")

    response = api_client.get(LIST_URL, {"search": search})

    assert response.status_code == 200, response.content
    # A book holding the very text is always among the results, whatever the database.
    assert odd.id in {book["id"] for book in response.json()["results"]}
