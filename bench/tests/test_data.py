"""The generated catalogue: valid distinct ISBN-13s, the same books for the same seed,
searches that find the book they were drawn from, and the search scenarios' books (accented,
rare and one-letter words) and queries (misspellings, ISBNs, accent-free spellings)."""

import collections
import csv
import random
import re
import unicodedata
from pathlib import Path

import pytest
from stdnum import isbn as stdnum_isbn

from bench import data
from bench.data import (
    ACCENTED_AUTHOR_EVERY,
    ACCENTED_FIRST_NAMES,
    ACCENTED_SURNAMES,
    ACCENTED_TITLE_EVERY,
    ACCENTED_TITLE_WORDS,
    BOOKS_PER_AUTHOR,
    BOOKS_PER_RARE_WORD,
    COINED_WORDS,
    FIELDS,
    MISSPELL_MIN_LENGTH,
    TITLE_LETTERS,
    Catalogue,
    begins_a_known_word,
    coined_word,
    generate_books,
    hyphenated_isbn,
    known_words,
    misspell,
    plain,
    read_catalogue,
    write_catalogue,
)
from books.demo import demo_isbn
from books.models import validate_display_text


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


# --- the search scenarios' books and queries ----------------------------------------------


@pytest.fixture(scope="module")
def catalogue(tmp_path_factory: pytest.TempPathFactory) -> Catalogue:
    return write_catalogue(tmp_path_factory.mktemp("catalogue") / "books.csv", 4000, seed=2)


@pytest.fixture(scope="module")
def books(catalogue: Catalogue) -> list[list[str]]:
    return list(read_catalogue(catalogue.path))


def words_of(text: str) -> list[str]:
    """A text's words as the search contract reads them: runs of letters and digits,
    lowercased, without accents."""
    return re.findall(r"[^\W_]+", plain(text))


def finds(query: str, book: list[str]) -> bool:
    """Every word of ``query`` begins a word of the book (a one-letter word: is one)."""
    title, author, _date, _isbn, summary = book
    words = words_of(f"{title} {author} {summary}")
    return all(
        any(word == wanted if len(wanted) == 1 else word.startswith(wanted) for word in words)
        for wanted in words_of(query)
    )


def test_plain_drops_accents_and_case() -> None:
    assert plain("García Márquez") == "garcia marquez"
    assert plain("Les Misérables") == "les miserables"
    assert plain("Brontë") == "bronte"


def test_the_accented_names_and_words_fold_to_ascii() -> None:
    for text in (*ACCENTED_SURNAMES, *ACCENTED_FIRST_NAMES, *ACCENTED_TITLE_WORDS):
        assert plain(text) != text.lower(), text  # it has an accent
        assert plain(text).isascii(), text
        assert plain(text).isalpha(), text


def test_misspell_is_deterministic_and_begins_no_word_of_the_catalogue() -> None:
    _, title_words, _, _ = data._vocabulary()
    long_words = [word for word in title_words if len(word) >= MISSPELL_MIN_LENGTH]
    first = [misspell(word, random.Random(5)) for word in long_words]

    assert first == [misspell(word, random.Random(5)) for word in long_words]
    made = [(word, typo) for word, typo in zip(long_words, first, strict=True) if typo]
    assert len(made) >= 0.9 * len(long_words)
    for original, typo in made:
        word = original.lower()
        assert typo != word
        assert typo[0] == word[0]
        assert not begins_a_known_word(typo), (word, typo)
        if len(typo) == len(word):  # two adjacent letters swapped
            assert sorted(typo) == sorted(word)
            assert sum(a != b for a, b in zip(typo, word, strict=True)) == 2
        else:  # one letter dropped
            assert len(typo) == len(word) - 1
            assert any(word[:i] + word[i + 1 :] == typo for i in range(len(word)))


def test_misspell_gives_up_on_a_word_too_short() -> None:
    assert misspell("ab", random.Random(0)) is None


def test_coined_words_are_distinct_seven_letter_words_of_no_other_word() -> None:
    coined = [coined_word(index) for index in range(20_000)]

    assert len(set(coined)) == len(coined)
    for word in coined[:2000]:
        assert re.fullmatch(r"([bdfgklmnprstvz][aeiou]){2}[bdfgklmnprstvz][aiou][nm]", word)
        assert not begins_a_known_word(word)
        assert not any(known.startswith(word) for known in known_words())
    with pytest.raises(ValueError, match="index"):
        coined_word(COINED_WORDS)


def test_hyphenated_isbns_are_valid_spellings_of_the_same_book() -> None:
    isbn = demo_isbn(1234)
    as_13, as_10 = hyphenated_isbn(isbn, as_isbn10=False), hyphenated_isbn(isbn, as_isbn10=True)

    assert as_13.count("-") == 4
    assert len(as_13) == 17
    assert as_10.count("-") == 3
    assert len(as_10) == 13
    for spelling in (as_13, as_10):
        assert stdnum_isbn.to_isbn13(stdnum_isbn.validate(spelling)) == isbn


def test_the_catalogue_and_its_queries_are_the_same_for_the_same_seed(
    tmp_path: Path, catalogue: Catalogue, books: list[list[str]]
) -> None:
    again = write_catalogue(tmp_path / "again.csv", 4000, seed=2)

    assert list(read_catalogue(again.path)) == books
    assert again.probes == catalogue.probes
    assert again.searches == catalogue.searches


def test_some_authors_and_titles_are_accented_and_the_display_rule_takes_them(
    books: list[list[str]],
) -> None:
    authors = {book[1] for book in books}
    accented_authors = {author for author in authors if plain(author) != author.lower()}
    accented_titles = [book[0] for book in books if plain(book[0]) != book[0].lower()]

    assert len(accented_authors) == pytest.approx(len(authors) / ACCENTED_AUTHOR_EVERY, rel=0.3)
    assert len(accented_titles) == pytest.approx(len(books) / ACCENTED_TITLE_EVERY, rel=0.3)
    for text in [*accented_authors, *accented_titles]:
        validate_display_text(text)
        assert unicodedata.is_normalized("NFC", text)
    assert all(len(author.split()) == 2 for author in accented_authors)


def test_rare_words_are_in_a_few_books_each(catalogue: Catalogue, books: list[list[str]]) -> None:
    rare = catalogue.probes.rare

    assert len(rare) >= 50
    for word in set(rare):
        having = [book for book in books if word in words_of(book[0])]
        assert 1 <= len(having) <= BOOKS_PER_RARE_WORD + 1, word
        assert all(finds(word, book) == (book in having) for book in books[:300])


def test_one_letter_searches_name_a_title_with_that_letter_as_a_word(
    catalogue: Catalogue, books: list[list[str]]
) -> None:
    letter_queries = catalogue.probes.letter

    assert len(letter_queries) >= 100
    titles = [words_of(book[0]) for book in books]
    for query in letter_queries:
        letter, other = sorted(query.split(), key=len)
        assert len(letter) == 1
        assert letter in TITLE_LETTERS
        assert len(other) >= 5
        assert any(letter in title and other in title for title in titles), query


def test_misspelled_searches_begin_no_word_of_any_book(
    catalogue: Catalogue, books: list[list[str]]
) -> None:
    typos = catalogue.probes.typo

    assert len(typos) >= 150
    every_word = {word for book in books for word in words_of(" ".join(book[:2] + book[4:]))}
    for typo in typos:
        assert " " not in typo
        assert not any(word.startswith(typo) for word in every_word), typo


def test_accent_free_searches_find_accented_books(
    catalogue: Catalogue, books: list[list[str]]
) -> None:
    queries = catalogue.probes.accent
    accented = [book for book in books if plain(book[0] + book[1]) != (book[0] + book[1]).lower()]

    assert len(queries) == data.PROBES_PER_KIND
    for query in set(queries):
        assert query.isascii(), query
        assert any(finds(query, book) for book in accented), query


def test_isbn_searches_are_hyphenated_isbns_of_the_catalogue(
    catalogue: Catalogue, books: list[list[str]]
) -> None:
    isbns = {book[3] for book in books}

    assert len(catalogue.probes.isbn) == data.PROBES_PER_KIND
    for spelling in catalogue.probes.isbn:
        assert "-" in spelling
        assert stdnum_isbn.to_isbn13(stdnum_isbn.validate(spelling)) in isbns


def test_common_words_are_common_and_the_broadest_searches_broad(
    catalogue: Catalogue, books: list[list[str]]
) -> None:
    probes = catalogue.probes
    sample = books[:1000]

    assert len(probes.deep_words) == data.COMMON_WORDS
    assert len(probes.common) == data.COMMON_WORDS * (data.COMMON_WORDS - 1)
    for word in probes.deep_words:
        assert sum(finds(word, book) for book in sample) >= 40, word  # in 4% of books or more
    for query in probes.common:
        first, second = query.split()
        assert first != second
        assert {first, second} <= set(probes.deep_words)
    assert "a e i o" in probes.broadest
    for query in probes.broadest:
        if query != "a e i o":
            assert sum(finds(query, book) for book in sample) >= 40, query


def test_the_broadest_searches_follow_the_search_rules() -> None:
    """The prefix length and stop words the broadest searches are made with are the search's."""
    from books.search import terms

    assert data.PREFIX_MIN_LENGTH == terms.PREFIX_MIN_LENGTH
    assert data._ENGLISH_STOP_WORDS == terms.STOP_WORDS
