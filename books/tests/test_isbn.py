"""normalize_isbn: every valid spelling becomes the canonical 13 digits; anything else raises."""

import pytest
from django.core.exceptions import ValidationError
from hypothesis import example, given, settings
from hypothesis import strategies as st
from stdnum import ean
from stdnum import isbn as stdnum_isbn
from stdnum.exceptions import ValidationError as StdnumValidationError

from books.isbn import (
    INVALID_ISBN_MESSAGE,
    MAX_INPUT_LENGTH,
    is_canonical_isbn13,
    normalize_isbn,
)

_DIGITS = "0123456789"


@pytest.mark.parametrize(
    ("spelling", "canonical"),
    [
        ("0-306-40615-2", "9780306406157"),
        ("0306406152", "9780306406157"),
        ("0 306 40615 2", "9780306406157"),
        ("0-13-110362-8", "9780131103627"),
    ],
)
def test_isbn10_is_converted_to_isbn13(spelling, canonical):
    assert normalize_isbn(spelling) == canonical


@pytest.mark.parametrize(
    "spelling",
    [
        "9780306406157",
        "978-0-306-40615-7",
        "978 0 306 40615 7",
        "978-0 306-40615 7",
        " 978-0-306-40615-7 ",
        "978-0-306-40615-7\n",
    ],
)
def test_isbn13_with_hyphens_and_spaces_is_compacted(spelling):
    assert normalize_isbn(spelling) == "9780306406157"


@pytest.mark.parametrize(
    ("spelling", "canonical"),
    [
        ("979-10-90636-07-1", "9791090636071"),
        ("9791090636071", "9791090636071"),
        ("979 0 000000 00 1", "9790000000001"),
    ],
)
def test_isbn13_with_979_prefix_is_accepted(spelling, canonical):
    assert normalize_isbn(spelling) == canonical


@pytest.mark.parametrize("spelling", ["0-8044-2957-X", "0-8044-2957-x", "080442957X", "080442957x"])
def test_isbn10_with_x_check_digit_is_accepted_in_either_case(spelling):
    assert normalize_isbn(spelling) == "9780804429573"


def test_normalized_isbn_is_thirteen_ascii_digits():
    value = normalize_isbn("0-8044-2957-x")

    assert isinstance(value, str)
    assert len(value) == 13
    assert value.isascii()
    assert value.isdigit()


def _assert_invalid(value: object) -> None:
    with pytest.raises(ValidationError) as excinfo:
        normalize_isbn(value)  # type: ignore[arg-type]
    assert excinfo.value.messages == [INVALID_ISBN_MESSAGE]
    assert excinfo.value.code == "invalid_isbn"


@pytest.mark.parametrize(
    "spelling",
    [
        "0-306-40615-3",  # ISBN-10, check digit should be 2
        "0-306-40615-X",
        "978-0-306-40615-8",  # ISBN-13, check digit should be 7
        "979-10-90636-07-2",
        "1-84356-028-X",  # 1843560283 is valid; X is not its check digit
    ],
)
def test_isbn_with_wrong_check_digit_is_rejected(spelling):
    _assert_invalid(spelling)


@pytest.mark.parametrize(
    "spelling",
    [
        "",
        "0",
        "03064061",  # 8 digits
        "978030640615",  # 12 digits
        "97803064061570",  # 14 digits
        "03064061520",  # 11 digits
    ],
)
def test_isbn_of_wrong_length_is_rejected(spelling):
    _assert_invalid(spelling)


@pytest.mark.parametrize(
    "spelling",
    [
        "abcdefghij",
        "978-0-306-4O615-7",  # a letter O for a zero
        "X306406152",  # X is only ever a check digit
        "978030640615X",  # ... and only in ISBN-10
        "ISBN 0306406152",
        "0306406152a",
        "978.0.306.40615.7",  # only hyphens and spaces separate groups
        "978_0_306_40615_7",
        "978\t0306406157",
    ],
)
def test_isbn_with_letters_or_other_characters_is_rejected(spelling):
    _assert_invalid(spelling)


#: The first digit (zero) of some Unicode digit sets other than ASCII's.
ZEROS = {
    "arabic-indic": "\u0660",
    "devanagari": "\u0966",
    "fullwidth": "\uff10",
    "mathematical-bold": "\U0001d7ce",
}


def _in_digits(text: str, zero: str) -> str:
    """``text`` with its ASCII digits written in the digit set that starts at ``zero``."""
    return "".join(chr(ord(zero) + int(char)) if char.isdigit() else char for char in text)


NON_ASCII_SPELLINGS = {
    **{name: _in_digits("9780306406157", zero) for name, zero in ZEROS.items()},
    "fullwidth-hyphenated": _in_digits("978-0-306-40615-7", ZEROS["fullwidth"]),
    "fullwidth-isbn-10": _in_digits("0306406152", ZEROS["fullwidth"]),
    "one-fullwidth-digit": "978030640615" + _in_digits("7", ZEROS["fullwidth"]),
}


@pytest.mark.parametrize("spelling", NON_ASCII_SPELLINGS.values(), ids=NON_ASCII_SPELLINGS.keys())
def test_isbn_with_non_ascii_digits_is_rejected(spelling):
    _assert_invalid(spelling)


@pytest.mark.parametrize(
    "spelling",
    [
        "9780306406157" + " " * 8,  # valid once compacted, but longer than we read
        "0-306-40615-2" + "-" * 8,
        "9" * (MAX_INPUT_LENGTH + 1),
        "9780306406157" * 1000,
    ],
)
def test_isbn_input_longer_than_the_limit_is_rejected(spelling):
    assert len(spelling) > MAX_INPUT_LENGTH
    _assert_invalid(spelling)


def test_isbn_input_at_the_length_limit_is_accepted():
    spelling = "978-0-306-40615-7   "
    assert len(spelling) == MAX_INPUT_LENGTH

    assert normalize_isbn(spelling) == "9780306406157"


@pytest.mark.parametrize(
    "value",
    [None, 9780306406157, 306406152, 978.0306406157, b"9780306406157", ["9780306406157"], {}],
)
def test_isbn_that_is_not_a_string_is_rejected(value):
    _assert_invalid(value)


@given(
    st.one_of(st.sampled_from(["978", "979"]), st.text(alphabet=_DIGITS, min_size=3, max_size=3)),
    st.text(alphabet=_DIGITS, min_size=10, max_size=10),
)
@settings(max_examples=2000)
@example("978", "0306406157")
@example("979", "0000000001")
@example("977", "0306406152")
def test_fast_path_for_13_digits_agrees_with_stdnum(prefix, rest):
    """The shortcut for canonical values must give stdnum's verdict on every 13 digits."""
    digits = prefix + rest
    try:
        expected: str | None = str(stdnum_isbn.validate(digits, convert=True))
    except StdnumValidationError:
        expected = None
    try:
        got: str | None = normalize_isbn(digits)
    except ValidationError:
        got = None
    assert got == expected
    # stdnum, not normalize_isbn, is the judge here: normalize_isbn trusts this check.
    assert is_canonical_isbn13(digits) == (expected == digits)


@given(st.integers(min_value=0, max_value=10**9 - 1))
@settings(max_examples=2000)
def test_fast_path_accepts_every_valid_isbn13(body):
    """Valid 978/979 numbers built from any 9 digits are accepted unchanged."""
    for prefix in ("978", "979"):
        twelve = f"{prefix}{body:09d}"
        valid = twelve + str(ean.calc_check_digit(twelve))
        assert is_canonical_isbn13(valid)
        assert normalize_isbn(valid) == valid


@pytest.mark.parametrize(
    "value",
    ["978030640615\uff17", "٩٧٨٠٣٠٦٤٠٦١٥٧", "978030640615", "97803064061570", " 9780306406157"],
)
def test_fast_isbn13_check_refuses_anything_but_13_ascii_digits(value):
    assert not is_canonical_isbn13(value)
