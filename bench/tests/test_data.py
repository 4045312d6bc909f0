"""The generated catalogue: valid distinct ISBN-13s, the same books for the same seed, and
searches that find the book they were drawn from."""

import collections
import csv
from pathlib import Path

import pytest
from stdnum import isbn as stdnum_isbn

from bench.data import (
    BOOKS_PER_AUTHOR,
    FIELDS,
    generate_books,
    read_catalogue,
    write_catalogue,
)


def test_generated_isbns_are_valid_distinct_isbn13s() -> None:
    books = list(generate_books(3000, seed=1))
    isbns = [book[FIELDS.index("isbn")] for book in books]

    assert len(set(isbns)) == len(isbns)
    for value in isbns:
        assert stdnum_isbn.is_valid(value), value
        assert stdnum_isbn.isbn_type(value) == "ISBN13"
        assert value.startswith("978")


def test_the_same_seed_gives_the_same_books_and_another_seed_others() -> None:
    first = list(generate_books(300, seed=3))

    assert first == list(generate_books(300, seed=3))
    assert first != list(generate_books(300, seed=4))


def test_books_look_like_books() -> None:
    books = list(generate_books(4000, seed=0))

    assert len({book[3] for book in books}) == len(books)
    for title, author, date, isbn, summary in books:
        assert 2 <= len(title.split()) <= 5
        assert len(author.split()) == 2
        assert "1900-01-01" <= date <= "2024-12-31"
        assert stdnum_isbn.is_valid(isbn)
        assert 200 <= len(summary) <= 600
    per_author = collections.Counter(book[1] for book in books)
    assert len(per_author) == pytest.approx(4000 / BOOKS_PER_AUTHOR, rel=0.05)
    assert max(per_author.values()) <= 3 * BOOKS_PER_AUTHOR


def test_each_search_finds_the_book_it_was_drawn_from(tmp_path: Path) -> None:
    catalogue = write_catalogue(tmp_path / "books.csv", 3000, seed=1)
    books = list(read_catalogue(catalogue.path))

    assert len(catalogue.searches) == 300
    for query in catalogue.searches:
        assert any(
            author == query.author and all(word.lower() in title.lower() for word in query.words)
            for title, author, *_ in books
        ), query


def test_the_csv_has_the_importers_header(tmp_path: Path) -> None:
    catalogue = write_catalogue(tmp_path / "books.csv", 10, seed=0)

    with catalogue.path.open(newline="") as file:
        rows = list(csv.reader(file))
    assert tuple(rows[0]) == FIELDS
    assert len(rows) == 11
