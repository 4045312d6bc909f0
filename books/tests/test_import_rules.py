"""The importer's row rules: the API's rules (compared with BookSerializer itself), plus the
documented import-only leniencies and nothing else."""

import datetime
import re

import pytest
from django.core.exceptions import ValidationError
from hypothesis import example, given, settings
from hypothesis import strategies as st
from stdnum import ean

from books.dates import IMPORT_DATE_MESSAGE
from books.importing.rows import (
    FIELDS,
    MISSING,
    SCIENTIFIC_NOTATION_HINT,
    RowRejected,
    RowValidator,
)
from books.models import (
    AUTHOR_MAX_LENGTH,
    SUMMARY_MAX_LENGTH,
    TITLE_MAX_LENGTH,
    Book,
)
from books.serializers import BookSerializer

VALID = {
    "title": "The Pragmatic Programmer",
    "author": "Andrew Hunt",
    "publication_date": "1999-10-20",
    "isbn": "0-306-40615-2",
    "summary": "From journeyman to master.",
    "publication_date_precision": MISSING,
}

# --- values that probe every rule ---------------------------------------------------------

_WHITESPACE = st.sampled_from([" ", "\t", "\n", "\r\n", "\u00a0", "\u3000", "\x1c", "\u2028"])
_AWKWARD = st.sampled_from(["\x00", "\ud800", "\udfff", "\udc81", "é", "🌧", "\ufeff", "x"])
_TEXT_PIECES = st.one_of(
    st.text(max_size=5), _WHITESPACE, _AWKWARD, st.text(alphabet="ab ", max_size=3)
)


def _texts_near(limit: int) -> st.SearchStrategy[str]:
    """Strings around ``limit`` characters, with whitespace around that stripping removes."""
    return st.builds(
        lambda before, length, after: before + "a" * length + after,
        st.text(alphabet=" \t\u00a0", max_size=3),
        st.integers(min_value=limit - 2, max_value=limit + 2),
        st.text(alphabet=" \t\u00a0", max_size=3),
    )


_TEXT = st.one_of(
    st.text(min_size=1, max_size=30),
    st.lists(_TEXT_PIECES, max_size=6).map("".join),
    st.sampled_from(["", " ", "   ", "\t\n", "Dune", " Dune ", "a\x00b"]),
)
_NON_STRINGS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False),
    st.just([]),
    st.just(["Dune"]),
    st.just({}),
    st.just({"value": "Dune"}),
)


def _isbn_spellings() -> st.SearchStrategy[str]:
    valid = st.integers(min_value=0, max_value=10**9 - 1).map(
        lambda body: _with_check_digit(f"978{body:09d}")
    )
    return st.one_of(
        valid,
        valid.map(lambda isbn: f"{isbn[:3]}-{isbn[3]}-{isbn[4:7]}-{isbn[7:12]}-{isbn[12]}"),
        valid.map(lambda isbn: f" {isbn} "),
        st.sampled_from(
            [
                "0306406152",
                "306406152",  # an ISBN-10 without its leading zero: 9 digits, the API takes it
                "20442807",  # ... without two (import-only)
                "1234560",  # ... without three (import-only)
                "0-8044-2957-X",
                "080442957x",
                "979-10-90636-07-1",
                "9780306406158",
                "9.78031E+12",
                "978030640615",
                "97803064061570",
                "",
                "   ",
                "978\t0306406157",
                "\uff19780306406157",
                "9780306406157" + " " * 8,
            ]
        ),
        st.text(alphabet="0123456789Xx -", max_size=22),
    )


def _dates() -> st.SearchStrategy[str]:
    iso = st.dates(min_value=datetime.date(1, 1, 1)).map(datetime.date.isoformat)
    return st.one_of(
        iso,
        iso.map(lambda value: f" {value} "),
        iso.map(lambda value: value[:4]),  # a year alone (import-only)
        iso.map(lambda value: value[:7]),  # a year and month (import-only)
        st.sampled_from(
            [
                "",
                " ",
                "2021-02-30",
                "2021-13-01",
                "0000",
                "0000-01",
                "1999-1-5",
                "20/10/1999",
                "1999-10-20T00:00:00",
                "19991020",
                "\uff11999-10-20",
                "1999",
                "1999-00",
            ]
        ),
        st.text(alphabet="0123456789- ", max_size=12),
    )


def _value(strategy: st.SearchStrategy[object]) -> st.SearchStrategy[object]:
    """A value as a JSON Lines file may give it: the strategy's, another type, or absent."""
    return st.one_of(strategy, strategy, strategy, strategy, _NON_STRINGS, st.just(MISSING))


_FIELD_VALUES = {
    "title": _value(st.one_of(_TEXT, _texts_near(TITLE_MAX_LENGTH))),
    "author": _value(st.one_of(_TEXT, _texts_near(AUTHOR_MAX_LENGTH))),
    "publication_date": _value(_dates()),
    "isbn": _value(_isbn_spellings()),
    "summary": _value(st.one_of(_TEXT, _texts_near(SUMMARY_MAX_LENGTH))),
    "publication_date_precision": _value(
        st.sampled_from(["day", "month", "year", "", " year", "Year", "decade"])
    ),
}


@st.composite
def _rows(draw: st.DrawFn) -> dict[str, object]:
    """A valid row with some fields changed: mostly one or two (each rule on its own),
    sometimes all five (the rules together)."""
    changing = draw(st.sampled_from([1, 1, 1, 2, len(FIELDS)]))
    row = dict(VALID)
    for name in draw(st.sets(st.sampled_from(FIELDS), min_size=changing, max_size=changing)):
        row[name] = draw(_FIELD_VALUES[name])
    return row


_ROWS = _rows()


def _with_check_digit(twelve: str) -> str:
    return twelve + str(ean.calc_check_digit(twelve))


# --- the comparison -----------------------------------------------------------------------


def _api_verdict(row: dict[str, object]) -> dict[str, object] | None:
    """What the API makes of ``row`` (absent keys left out): its validated data, or None.

    The serializer's rules, then those the write service adds (Book.clean): titles and
    authors must show what they store, and the date fit its precision."""
    serializer = BookSerializer(data={k: v for k, v in row.items() if v is not MISSING})
    if not serializer.is_valid():
        return None
    data = dict(serializer.validated_data)
    try:
        Book(**data).clean()  # the title's and author's display, the date's precision
    except ValidationError:
        return None
    data["publication_date"] = data["publication_date"].isoformat()
    return data


def _import_verdict(row: dict[str, object], validator: RowValidator) -> dict[str, object] | None:
    try:
        isbn, title, author, publication_date, summary, precision = validator.validate(
            *(row[name] for name in FIELDS)
        )
    except RowRejected:
        return None
    return {
        "title": title,
        "author": author,
        "publication_date": publication_date,
        "publication_date_precision": precision,
        "isbn": isbn,
        # The API stores "" for an absent summary; the importer keeps a stored one (None).
        "summary": "" if summary is None else summary,
    }


@given(_ROWS)
@settings(max_examples=1500, deadline=None, derandomize=True)
@example({**VALID, "isbn": "20442807"})
@example({**VALID, "publication_date": " 1999-10-20"})
@example({**VALID, "title": "\ud800"})
@example({**VALID, "summary": MISSING})
@example({**VALID, "title": " " + "a" * TITLE_MAX_LENGTH + " "})
def test_strict_rules_give_the_api_serializers_verdict_and_values(row):
    """Without the leniencies, the importer accepts exactly what the API accepts, as the
    API stores it."""
    assert _import_verdict(row, RowValidator(lenient=False)) == _api_verdict(row)


_LENIENT_ISBN = re.compile(r"\s*[0-9]{7,8}\s*")
_LENIENT_DATE = re.compile(r"\s*(?:[0-9]{1,4}|[0-9]{4}-[0-9]{2}|[0-9]{4}-[0-9]{2}-[0-9]{2})\s*")


@given(_ROWS)
@settings(max_examples=1500, deadline=None, derandomize=True)
@example({**VALID, "isbn": "1234560"})
@example({**VALID, "publication_date": "1999"})
@example({**VALID, "publication_date": "975"})
@example({**VALID, "publication_date_precision": ""})
@example({**VALID, "publication_date": "1999-01-01", "publication_date_precision": " year"})
def test_lenient_rules_differ_from_the_api_only_by_the_documented_leniencies(row):
    api = _api_verdict(row)
    imported = _import_verdict(row, RowValidator())
    if api is not None:
        assert imported == api  # everything the API takes, taken the same way
    elif imported is not None:
        # Refused by the API, taken by the importer: only through a leniency.
        isbn, date, precision = (
            row["isbn"],
            row["publication_date"],
            row["publication_date_precision"],
        )
        assert isinstance(isbn, str)
        assert isinstance(date, str)
        lenient_precision = isinstance(precision, str) and precision.strip() != precision
        assert (
            _LENIENT_ISBN.fullmatch(isbn)
            or _LENIENT_DATE.fullmatch(date)
            or precision == ""  # a blank cell: no precision given
            or lenient_precision
        ), row
        strict_fields = {**row}
        if _LENIENT_ISBN.fullmatch(isbn):
            strict_fields["isbn"] = imported["isbn"]
        strict_fields["publication_date"] = imported["publication_date"]
        strict_fields["publication_date_precision"] = imported["publication_date_precision"]
        assert _api_verdict(strict_fields) == imported


# --- the leniencies, one by one -----------------------------------------------------------


def _validate(
    validator: RowValidator | None = None, /, **overrides: object
) -> tuple[str, str, str, str, str | None, str]:
    validator = validator or RowValidator()
    return validator.validate(*({**VALID, **overrides}[name] for name in FIELDS))


def _errors(**overrides: object) -> dict[str, str]:
    with pytest.raises(RowRejected) as rejection:
        _validate(**overrides)
    return {error.field: error.message for error in rejection.value.errors}


@pytest.mark.parametrize(
    ("given_isbn", "stored"),
    [
        ("306406152", "9780306406157"),  # one zero lost: the API takes 9 digits too
        ("20442807", "9780020442806"),  # two
        ("1234560", "9780001234567"),  # three
    ],
)
def test_isbn10_that_lost_leading_zeros_is_padded_back(given_isbn, stored):
    validator = RowValidator()
    isbn = _validate(validator, isbn=given_isbn)[0]

    assert isbn == stored
    assert validator.padded_isbns == (0 if len(given_isbn) == 9 else 1)


@pytest.mark.parametrize("value", ["123456", "12345678", "1234561", "2044280X", "0000001"])
def test_short_isbn_that_no_padding_makes_valid_is_rejected(value):
    assert set(_errors(isbn=value)) == {"isbn"}


@pytest.mark.parametrize("value", ["9.78031E+12", "9,78031E+12", "9.78E12", "9780306406157E0"])
def test_isbn_in_scientific_notation_is_rejected_with_a_hint(value):
    message = _errors(isbn=value)["isbn"]

    assert message.endswith(SCIENTIFIC_NOTATION_HINT)


@pytest.mark.parametrize(
    ("given_date", "stored"),
    [
        ("1984", "1984-01-01"),
        ("2008-08", "2008-08-01"),
        (" 1999-10-20 ", "1999-10-20"),
        ("\t1984\n", "1984-01-01"),
        ("98", "0098-01-01"),
    ],
)
def test_year_or_year_month_date_becomes_the_first_day(given_date, stored):
    validator = RowValidator()
    date = _validate(validator, publication_date=given_date)[3]

    assert date == stored
    assert validator.completed_dates == (0 if len(given_date.strip()) == 10 else 1)


@pytest.mark.parametrize(
    "value", ["", " ", "0000", "2008-13", "2008-00", "2008-8", "20/10/1999", "1999-10-20T00"]
)
def test_dates_still_refused_with_the_leniencies(value):
    assert set(_errors(publication_date=value)) == {"publication_date"}


def test_missing_summary_is_kept_not_blanked():
    assert _validate(summary=MISSING)[4] is None


def test_every_failing_field_is_reported_once():
    errors = _errors(title="  ", author=None, publication_date="soon", isbn=12, summary="\x00")

    assert errors == {
        "title": "This field may not be blank.",
        "author": "This field may not be null.",
        "publication_date": IMPORT_DATE_MESSAGE,
        "isbn": "Not a valid string.",
        "summary": "Null characters are not allowed.",
    }


def test_text_breaking_several_rules_lists_each_message():
    message = _errors(title="\x00\ud800" + "a" * 10)["title"]

    assert "Null characters are not allowed." in message
    assert "Surrogate characters are not allowed: U+D800." in message


def test_text_over_its_length_as_sent_reports_the_length_alone_like_the_api():
    """The limit holds before trimming, and then it is the only message (as in the API)."""
    assert _errors(title="\x00" + "a" * TITLE_MAX_LENGTH)["title"] == (
        "Ensure this field has no more than 200 characters."
    )
    assert "title" in _errors(title=" " + "a" * TITLE_MAX_LENGTH)


def test_leniencies_are_counted_for_accepted_rows_only():
    validator = RowValidator()

    with pytest.raises(RowRejected):
        validator.validate("", "Ann", "1999", "20442807", MISSING)  # blank title
    with pytest.raises(RowRejected):
        validator.validate("T", "Ann", "0000", "9780306406157", MISSING)  # no year 0
    validator.validate("T", "Ann", "1999", "20442807", MISSING)

    assert (validator.padded_isbns, validator.completed_dates) == (1, 1)
