"""Properties, checked on generated input: ISBN normalisation, the list's filters, the cursor.

Each property is stated against an independent reference: python-stdnum for ISBNs, a filter
written in plain Python over the same rows, and a plain sort of the same rows. Every example
that touches the database makes its own rows inside a savepoint and rolls them back, so one
example never sees another's books.
"""

import datetime
import string
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from django.core import signing
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db import transaction
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from rest_framework.test import APIClient
from stdnum import ean
from stdnum import isbn as stdnum_isbn

from books.dates import parse_iso_date
from books.demo import demo_isbn
from books.filters import SEARCH_MAX_LENGTH, SEARCH_MAX_WORDS
from books.isbn import INVALID_ISBN_MESSAGE, MAX_INPUT_LENGTH, normalize_isbn
from books.models import AUTHOR_MAX_LENGTH, Book
from books.pagination import _SIGNING_SALT
from books.search.terms import PREFIX_MIN_LENGTH, STOP_WORDS, TYPO_MIN_LENGTH
from books.tests.factories import BookFactory
from books.tests.pages import LIST_URL, all_ids, get_page, ids, walk_backward, walk_forward

DIGITS = "0123456789"

# No deadlines: a busy machine must not fail a property. Database examples are few, as each
# is a whole scenario of rows and requests.
PURE_PROPERTY = settings(max_examples=200, deadline=None)
DATABASE_PROPERTY = settings(
    max_examples=30,
    deadline=None,
    # The client and the database fixture are shared by the examples on purpose: every
    # example's rows are rolled back (see `rows_rolled_back`) and the client keeps no state.
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@contextmanager
def rows_rolled_back() -> Iterator[None]:
    """Whatever is written inside is undone afterwards, and no cached read outlives it."""
    with transaction.atomic():
        assert not Book.objects.exists()
        yield
        transaction.set_rollback(True)
    delete_pattern = getattr(cache, "delete_pattern", None)
    if delete_pattern is not None:  # django-redis: only our keys
        delete_pattern("*")
    else:
        cache.clear()


# === normalize_isbn =========================================================================


def isbn10_check_digit(nine_digits: str) -> str:
    """The ISBN-10 check character, computed here rather than taken from the code under test."""
    total = sum((10 - position) * int(digit) for position, digit in enumerate(nine_digits))
    check = (11 - total % 11) % 11
    return "X" if check == 10 else str(check)


@st.composite
def valid_isbns(draw: st.DrawFn) -> tuple[str, str]:
    """(an ISBN-10 or ISBN-13 as bare characters, its 13-digit canonical form)."""
    if draw(st.booleans()):
        body = draw(st.text(DIGITS, min_size=9, max_size=9))
        check = isbn10_check_digit(body)
        if check == "X" and draw(st.booleans()):
            check = "x"
        twelve = "978" + body
        return body + check, twelve + ean.calc_check_digit(twelve)
    twelve = draw(st.sampled_from(["978", "979"])) + draw(st.text(DIGITS, min_size=9, max_size=9))
    canonical = twelve + ean.calc_check_digit(twelve)
    return canonical, canonical


@st.composite
def spellings(draw: st.DrawFn, bare: str) -> str:
    """``bare`` with any hyphens and spaces between, before and after its characters."""
    gap = st.one_of(st.just(""), st.text("- ", min_size=1, max_size=2))
    gaps = draw(st.lists(gap, min_size=len(bare) + 1, max_size=len(bare) + 1))
    return gaps[0] + "".join(char + gap for char, gap in zip(bare, gaps[1:], strict=True))


@st.composite
def spelled_isbns(draw: st.DrawFn) -> tuple[str, str]:
    bare, canonical = draw(valid_isbns())
    return draw(spellings(bare)), canonical


def stdnum_canonical(value: str) -> str:
    return str(stdnum_isbn.to_isbn13(stdnum_isbn.compact(value)))


def normalized_or_none(value: object) -> str | None:
    """normalize_isbn's result, or None when it refuses; any other exception propagates."""
    try:
        return normalize_isbn(value)  # type: ignore[arg-type]  # non-strings on purpose
    except ValidationError as error:
        refusal = error
    assert refusal.messages == [INVALID_ISBN_MESSAGE]
    return None


@given(spelled_isbns())
@PURE_PROPERTY
def test_every_spelling_of_a_valid_isbn_normalizes_to_stdnums_13_digits(
    spelled: tuple[str, str],
) -> None:
    spelling, canonical = spelled

    result = normalized_or_none(spelling)

    if len(spelling) > MAX_INPUT_LENGTH:  # the documented bound on what is even looked at
        assert result is None
    else:
        assert result == canonical == stdnum_canonical(spelling)


@given(valid_isbns(), st.data())
@PURE_PROPERTY
def test_changing_one_digit_of_a_valid_isbn_makes_it_invalid(
    valid: tuple[str, str], data: st.DataObject
) -> None:
    # Both check digit schemes catch every single-digit substitution.
    bare, _ = valid
    position = data.draw(st.integers(0, len(bare) - 1))
    replacement = data.draw(st.sampled_from([d for d in DIGITS if d != bare[position].upper()]))
    changed = bare[:position] + replacement + bare[position + 1 :]

    assert normalized_or_none(changed) is None


@given(st.text("0123456789Xx -", max_size=MAX_INPUT_LENGTH))
@PURE_PROPERTY
def test_text_of_isbn_characters_is_accepted_exactly_when_stdnum_accepts_it(value: str) -> None:
    result = normalized_or_none(value)

    if stdnum_isbn.is_valid(value):
        assert result == stdnum_canonical(value)
    else:
        assert result is None


@given(
    st.one_of(
        st.text(max_size=40),
        st.text(string.printable, max_size=40),
        spelled_isbns().flatmap(
            lambda spelled: st.tuples(
                st.integers(0, len(spelled[0])), st.characters(exclude_characters="0123456789Xx -")
            ).map(lambda insert: spelled[0][: insert[0]] + insert[1] + spelled[0][insert[0] :])
        ),
    )
)
@PURE_PROPERTY
def test_any_text_is_normalized_to_stdnums_form_or_refused_with_validation_error(
    value: str,
) -> None:
    result = normalized_or_none(value)

    if result is not None:
        assert len(result) == 13
        assert result.isascii()
        assert result.isdigit()
        assert stdnum_isbn.is_valid(value)
        assert result == stdnum_canonical(value)


@given(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(),
        st.floats(),
        st.binary(max_size=20),
        st.lists(st.text(DIGITS, max_size=13), max_size=3),
        st.dictionaries(st.text(max_size=3), st.text(max_size=3), max_size=2),
    )
)
@PURE_PROPERTY
def test_a_value_that_is_not_text_is_refused_with_validation_error(value: object) -> None:
    assert normalized_or_none(value) is None


# === filters ==================================================================================

# Words and names with SQL LIKE wildcards, quotes and a backslash in them, so a filter that
# let them act as patterns would find too much. ASCII only: SQLite folds the case of ASCII
# letters alone, PostgreSQL of all, and the reference below must agree with both.
WORDS = ["alpha", "Beta", "GAMMA", "delta", "50%", "a_b", "o'neil", "back\\slash", "x"]
AUTHORS = ["Ann Lee", "ann lee", "ANN LEE", "Bo Chen", "O'Neil", "100% Real", "Under_Score"]
FIRST_DAY = datetime.date(1990, 1, 1)
DAYS = st.integers(0, 6).map(lambda days: FIRST_DAY + datetime.timedelta(days=days))
FILTER_NAMES = ("author", "isbn", "published_after", "published_before", "search")
FILTER_MAX_LENGTHS = {
    "author": AUTHOR_MAX_LENGTH,
    "isbn": MAX_INPUT_LENGTH,
    "search": SEARCH_MAX_LENGTH,
}


@st.composite
def catalogues(draw: st.DrawFn, max_books: int) -> list[dict[str, Any]]:
    """Field values of up to ``max_books`` books, with unique ISBNs."""
    count = draw(st.integers(0, max_books))
    words = st.lists(st.sampled_from(WORDS), min_size=1, max_size=3).map(" ".join)
    return [
        {
            "title": draw(words),
            "author": draw(st.sampled_from(AUTHORS)),
            "summary": draw(st.one_of(st.just(""), words)),
            "publication_date": draw(DAYS),
            "isbn": demo_isbn(number),
        }
        for number in range(count)
    ]


def isbn_spelling(canonical: str) -> st.SearchStrategy[str]:
    """A client's way of writing ``canonical``: hyphenated or spaced, as ISBN-13 or ISBN-10."""
    forms = [canonical]
    if canonical.startswith("978"):
        forms.append(str(stdnum_isbn.to_isbn10(canonical)))
    return st.sampled_from(forms).flatmap(spellings).filter(lambda s: len(s) <= MAX_INPUT_LENGTH)


def part_of(text: str) -> st.SearchStrategy[str]:
    """A piece of ``text``: all of it, a prefix, a suffix or a middle, in any case."""
    return st.tuples(st.integers(0, len(text)), st.integers(0, len(text)), st.booleans()).map(
        lambda cut: (
            (text[min(cut[:2]) : max(cut[:2])] or text).swapcase()
            if cut[2]
            else text[min(cut[:2]) : max(cut[:2])] or text
        )
    )


def first_word(text: str) -> str:
    return next(iter(text.split()), "")


def filter_values(catalogue: list[dict[str, Any]]) -> st.SearchStrategy[dict[str, str]]:
    """Query parameters as a client would send them, each filter present or not, mostly
    close to the catalogue's own values so that they match some books and miss others."""
    authors = [book["author"] for book in catalogue] or AUTHORS
    texts = [book[field] for book in catalogue for field in ("title", "summary") if book[field]]
    days = [book["publication_date"] for book in catalogue] or [FIRST_DAY]
    isbns = [book["isbn"] for book in catalogue] + [demo_isbn(10**6)]

    search_word = st.one_of(
        st.sampled_from(texts or WORDS).flatmap(part_of).map(first_word),
        st.sampled_from(authors).flatmap(part_of).map(first_word),
        st.sampled_from([*WORDS, "%", "_", "'", "\\", "zzz"]),
    )
    spaces = st.sampled_from([" ", "  ", "\t", " \n "])
    search = st.lists(st.tuples(search_word, spaces), max_size=4).map(
        lambda pairs: "".join(word + space for word, space in pairs)
    )
    author = st.one_of(
        st.sampled_from(authors),
        st.sampled_from(authors).flatmap(part_of),
        st.sampled_from(authors).map(lambda name: f" {name} "),
        st.sampled_from(["", " ", "%", "_", "Ann_Lee", "Ann%", "Ann Lee%"]),
    )
    near_day = st.tuples(st.sampled_from(days), st.integers(-1, 1)).map(
        lambda pair: (pair[0] + datetime.timedelta(days=pair[1])).isoformat()
    )
    optional = {
        "author": author,
        "isbn": st.one_of(st.sampled_from(isbns).flatmap(isbn_spelling), st.just("")),
        "published_after": st.one_of(near_day, st.just("")),
        "published_before": st.one_of(near_day, st.just("")),
        "search": search,
    }
    return st.fixed_dictionaries({}, optional=optional)


def hostile_filter_values() -> st.SearchStrategy[dict[str, str]]:
    """Any text at all for any of the filters: too long, NUL bytes, odd scripts, whitespace."""
    anything = st.one_of(
        st.text(max_size=30),
        st.text(max_size=300),
        st.lists(st.text("ab ", min_size=1, max_size=3), min_size=9, max_size=12).map(" ".join),
    )
    return st.fixed_dictionaries({}, optional=dict.fromkeys(FILTER_NAMES, anything))


class Invalid(Exception):
    """The reference's verdict that a parameter's value must be refused."""


def _cleaned(value: str, *, max_length: int | None = None) -> str:
    """What a form's CharField makes of a value: stripped, NUL-free and within its length."""
    value = value.strip()
    if "\x00" in value or (max_length is not None and len(value) > max_length):
        raise Invalid
    return value


def letter_and_digit_runs(text: str) -> list[str]:
    """Words as the full-text search (PostgreSQL) defines them: runs of letters and decimal
    digits, lower-cased; any other character separates them."""
    return "".join(c if c.isalpha() or c.isdecimal() else " " for c in text.lower()).split()


def search_matches(book: Book, value: str) -> bool:
    """The documented search rule, on both databases, for the ASCII words generated here.

    Words are runs of letters and decimal digits, ignoring case; English stop words are left
    out when the search has other words; a word of three or more characters must begin a
    word of the title, author or summary, a shorter one must be one. (English word forms and
    accents do not arise from the words generated here.) Text that was not UTF-8 (decoded to
    U+FFFD) matches nothing.
    """
    if "\ufffd" in value:
        return False
    book_words = letter_and_digit_runs(f"{book.title} {book.author} {book.summary}")
    words = letter_and_digit_runs(value)
    words = [word for word in words if word not in STOP_WORDS] or words
    return all(
        any(
            book_word.startswith(word) if len(word) >= PREFIX_MIN_LENGTH else book_word == word
            for book_word in book_words
        )
        for word in words
    )


def reference_filter(books: list[Book], params: dict[str, str]) -> tuple[list[int], set[str]]:
    """(ids of the matching books, newest first; names of the invalid parameters).

    Written from the API's documentation, not its code: author matches exactly ignoring case,
    isbn any spelling of the stored ISBN, the dates bound the publication date inclusively,
    and the search as search_matches() says for the database in use. An empty value is no
    filter.
    """
    tests = []
    invalid = set()
    for name, raw in params.items():
        try:
            value = _cleaned(raw, max_length=FILTER_MAX_LENGTHS.get(name))
            if not value:
                continue
            if name == "author":
                tests.append(lambda book, value=value: book.author.lower() == value.lower())
            elif name == "isbn":
                canonical = normalized_or_none(value)
                if canonical is None:
                    raise Invalid
                tests.append(lambda book, canonical=canonical: book.isbn == canonical)
            elif name in ("published_after", "published_before"):
                try:
                    day = parse_iso_date(value)
                except ValidationError as error:
                    raise Invalid from error
                if name == "published_after":
                    tests.append(lambda book, day=day: book.publication_date >= day)
                else:
                    tests.append(lambda book, day=day: book.publication_date <= day)
            elif name == "search":
                if len(value.split()) > SEARCH_MAX_WORDS:
                    raise Invalid
                tests.append(lambda book, value=value: search_matches(book, value))
        except Invalid:
            invalid.add(name)
    newest_first = sorted(books, key=lambda book: (book.created_at, book.id), reverse=True)
    return [book.id for book in newest_first if all(test(book) for test in tests)], invalid


def create_books(catalogue: list[dict[str, Any]]) -> list[Book]:
    return [BookFactory(**fields) for fields in catalogue]


def assert_filtered_like_the_reference(
    client: APIClient, books: list[Book], params: dict[str, str], *, compare_rows: bool
) -> None:
    expected, invalid = reference_filter(books, params)

    response = client.get(LIST_URL, {**params, "page_size": 100})

    if invalid:
        assert response.status_code == 400, (params, response.content)
        assert set(response.json()) == invalid, (params, response.json())
    else:
        assert response.status_code == 200, (params, response.content)
        body = response.json()
        searched = "search" in body
        if searched and not expected and body["search"]["similar"]:
            # Nothing matched exactly: the typo tolerance offers similar books instead.
            assert any(len(word) >= TYPO_MIN_LENGTH for word in body["search"]["words"]), body
        elif searched and compare_rows:
            # Ordered by relevance (test_search.py checks that order): compare the books.
            assert sorted(ids(body)) == sorted(expected), params
        elif compare_rows:
            assert ids(body) == expected, params


@pytest.mark.django_db
@given(st.data())
@DATABASE_PROPERTY
def test_filters_find_exactly_what_a_plain_python_filter_finds(
    api_client: APIClient, data: st.DataObject
) -> None:
    with rows_rolled_back():
        catalogue = data.draw(catalogues(max_books=8), label="catalogue")
        books = create_books(catalogue)
        for _ in range(4):  # a few queries per catalogue: rows cost more than queries
            params = data.draw(filter_values(catalogue), label="params")
            assert_filtered_like_the_reference(api_client, books, params, compare_rows=True)


@pytest.mark.django_db
@given(st.data())
@DATABASE_PROPERTY
def test_any_filter_value_is_a_200_or_a_400_naming_exactly_the_invalid_filters(
    api_client: APIClient, data: st.DataObject
) -> None:
    with rows_rolled_back():
        books = create_books(data.draw(catalogues(max_books=4), label="catalogue"))
        params = data.draw(hostile_filter_values(), label="params")
        # Rows are compared for ASCII values only: how a database folds the case of other
        # letters (the German sharp s, the Kelvin sign) is its own business.
        ascii_only = all(value.isascii() for value in params.values())
        assert_filtered_like_the_reference(api_client, books, params, compare_rows=ascii_only)


# === the cursor ================================================================================

ORDERINGS = [
    prefix + field
    for field in ("title", "author", "publication_date", "created_at")
    for prefix in ("", "-")
]
# Few distinct values, so ties (broken by id) are common; lower-case ASCII words sort the same
# in every collation.
SORT_WORDS = ["alpha", "beta", "gamma"]
CREATED = [
    datetime.datetime(2024, 5, 1, 12, 0, 0, micro, tzinfo=datetime.UTC) for micro in (0, 1, 999_999)
]


@st.composite
def sortable_catalogues(draw: st.DrawFn) -> list[dict[str, Any]]:
    count = draw(st.integers(0, 12))
    return [
        {
            "title": draw(st.sampled_from(SORT_WORDS)),
            "author": draw(st.sampled_from(SORT_WORDS)),
            "publication_date": draw(st.sampled_from([FIRST_DAY, datetime.date(2001, 9, 9)])),
            "created_at": draw(st.sampled_from(CREATED)),
            "isbn": demo_isbn(number),
        }
        for number in range(count)
    ]


def create_sortable_books(catalogue: list[dict[str, Any]]) -> list[Book]:
    books = []
    for fields in catalogue:
        created_at = fields.pop("created_at")
        book = BookFactory(**fields)
        Book.objects.filter(pk=book.pk).update(created_at=created_at)  # not settable on create
        book.created_at = created_at
        books.append(book)
    return books


def reference_order(books: list[Book], ordering: str) -> list[int]:
    field = ordering.lstrip("-")
    in_order = sorted(books, key=lambda book: (getattr(book, field), book.id))
    if ordering.startswith("-"):
        in_order.reverse()  # "-field" is (-field, -id): the ascending order read backwards
    return [book.id for book in in_order]


PAGE_SIZES = st.one_of(st.integers(1, 5), st.none(), st.integers(101, 10**9))


@pytest.mark.django_db
@given(sortable_catalogues(), PAGE_SIZES, st.one_of(st.none(), st.sampled_from(ORDERINGS)))
@DATABASE_PROPERTY
def test_following_next_then_previous_visits_every_book_once_in_order(
    api_client: APIClient,
    catalogue: list[dict[str, Any]],
    page_size: int | None,
    ordering: str | None,
) -> None:
    params: dict[str, object] = {}
    if page_size is not None:
        params["page_size"] = page_size
    if ordering is not None:
        params["ordering"] = ordering
    expected_size = min(page_size or 20, 100)
    with rows_rolled_back():
        expected = reference_order(create_sortable_books(catalogue), ordering or "-created_at")

        forward = walk_forward(api_client, params)
        backward = walk_backward(api_client, forward[-1])

        assert all_ids(forward) == expected
        assert [len(page["results"]) for page in forward[:-1]] == [expected_size] * (
            len(forward) - 1
        )
        assert 0 < len(forward[-1]["results"]) <= expected_size or expected == []
        assert all_ids([*reversed(backward), forward[-1]]) == expected
        assert forward[0]["previous"] is None


@st.composite
def mutated(draw: st.DrawFn, text: str) -> str:
    """``text`` with one edit: a character changed, dropped, added or swapped, or cut short."""
    position = draw(st.integers(0, len(text) - 1))
    character = st.one_of(
        st.sampled_from(string.ascii_letters + string.digits + "-_:=.%"),
        st.characters(exclude_categories=("Cs",)),  # a URL cannot carry a lone surrogate
    )
    edits = [
        lambda: text[:position] + draw(character) + text[position + 1 :],
        lambda: text[:position] + text[position + 1 :],
        lambda: text[:position] + draw(character) + text[position:],
        lambda: text[:position],
        lambda: text[:position] + text[position:].swapcase(),
        lambda: (
            text[:position]
            + text[position + 1 : position + 2]
            + text[position]
            + text[position + 2 :]
        ),
    ]
    result: str = draw(st.sampled_from(edits))()
    assume(result != text)
    return result


def next_cursor(client: APIClient, params: dict[str, object]) -> str:
    link = get_page(client, LIST_URL, params)["next"]
    assert link is not None
    (cursor,) = parse_qs(urlsplit(link).query)["cursor"]
    return cursor


def assert_invalid_cursor(response: Any) -> None:
    assert response.status_code == 400, response.content
    assert set(response.json()) == {"cursor"}, response.json()


@pytest.mark.django_db
@given(st.sampled_from(ORDERINGS), st.data())
@DATABASE_PROPERTY
def test_an_edited_cursor_is_a_400_naming_the_cursor(
    api_client: APIClient, ordering: str, data: st.DataObject
) -> None:
    with rows_rolled_back():
        create_sortable_books(data.draw(sortable_catalogues().filter(lambda c: len(c) >= 3)))
        params: dict[str, object] = {"ordering": ordering, "page_size": 1}
        cursor = next_cursor(api_client, params)
        assert api_client.get(LIST_URL, {**params, "cursor": cursor}).status_code == 200

        for _ in range(5):
            edited = data.draw(mutated(cursor), label="edited cursor")
            assert_invalid_cursor(api_client.get(LIST_URL, {**params, "cursor": edited}))


@pytest.mark.django_db
@given(st.one_of(st.text(max_size=200), st.text(string.ascii_letters + ":-_", max_size=200)))
@DATABASE_PROPERTY
def test_any_text_as_a_cursor_is_a_400_naming_the_cursor(api_client: APIClient, text: str) -> None:
    assume(text != "")  # an empty cursor is its own case, tested in test_pagination.py
    assert_invalid_cursor(api_client.get(LIST_URL, {"cursor": text}))


JSON_VALUES = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(),
        st.integers(min_value=2**63 - 2, max_value=2**70),
        st.floats(allow_nan=False, allow_infinity=False),
        st.text(max_size=30),
        st.sampled_from(["2024-05-01T12:00:00+00:00", "2024-05-01", "alpha", "", "\x00"]),
    ),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(), children),
    max_leaves=5,
)


@st.composite
def signed_cursors(draw: st.DrawFn, ordering: str) -> str:
    """A cursor signed as the server signs them, its fields plausible or of any JSON shape."""
    plausible_value = {
        "title": st.text(max_size=30),
        "author": st.text(max_size=30),
        "publication_date": st.dates().map(datetime.date.isoformat),
        "created_at": st.datetimes(timezones=st.none() | st.just(datetime.UTC)).map(
            datetime.datetime.isoformat
        ),
    }[ordering.lstrip("-")]
    fields = {
        "o": st.one_of(st.just(ordering), st.sampled_from(ORDERINGS), JSON_VALUES),
        "v": st.one_of(plausible_value, JSON_VALUES),
        "i": st.one_of(st.integers(), st.integers(-(2**80), 2**80), JSON_VALUES),
        "b": st.one_of(st.booleans(), JSON_VALUES),
        "x": st.one_of(st.booleans(), JSON_VALUES),
    }
    kept = draw(
        st.sets(st.sampled_from(sorted(fields))).map(lambda left_out: set(fields) - left_out)
    )
    payload = {name: draw(fields[name]) for name in sorted(kept)}
    signer = signing.Signer(salt=_SIGNING_SALT)
    return str(signer.sign_object(payload, compress=draw(st.booleans())))


# A naive time in a cursor is read as UTC, with Django's warning; the server never signs one.
@pytest.mark.filterwarnings("ignore:DateTimeField Book.created_at received a naive datetime")
@pytest.mark.django_db
@given(st.sampled_from(ORDERINGS), st.data())
@settings(DATABASE_PROPERTY, max_examples=100)
def test_a_signed_cursor_of_any_shape_is_a_200_or_a_400_never_a_500(
    api_client: APIClient, ordering: str, data: st.DataObject
) -> None:
    # Only the server can sign one, but a cursor from an older release of the API (another
    # shape), or any signed by a leaked key, must still get a clean answer.
    BookFactory()
    cursor = data.draw(signed_cursors(ordering), label="cursor")

    response = api_client.get(LIST_URL, {"ordering": ordering, "cursor": cursor})

    assert response.status_code in (200, 400), response.content
    if response.status_code == 400:
        assert set(response.json()) == {"cursor"}, response.json()
