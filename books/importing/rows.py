"""The rules one imported row must pass: the API's rules, checked fast, plus a few leniencies.

The API validates with DRF fields (books/serializers.py) and the model's validators; building a
serializer per row would cost ~100 µs, a hundred times the import's budget. RowValidator
re-states the same rules over plain values, taking its limits and messages from the model and
the serializer themselves; test_import_rules.py checks that both give the same verdict.

Import-only leniencies (``lenient=True``, the default; documented in docs/import.md):

* an ISBN-10 that lost two or three leading zeros (7-8 digits) is padded back to 10 digits,
  as spreadsheets drop leading zeros from numbers (one lost zero, 9 digits, the API takes);
* surrounding whitespace around a date is stripped, as it is around every other field;
* a date given as a year alone (``YYYY``) becomes ``YYYY-01-01``, and a year and month
  (``YYYY-MM``) the first of that month.
"""

import re
from typing import Any, NamedTuple, cast

from django.core.exceptions import ValidationError
from django.core.validators import MaxLengthValidator, ProhibitNullCharactersValidator
from django.db.models import Field
from rest_framework.validators import ProhibitSurrogateCharactersValidator

from books.dates import parse_iso_date
from books.isbn import MAX_INPUT_LENGTH, normalize_isbn
from books.models import Book, validate_display_text
from books.serializers import BookSerializer

#: The Book fields an import fills, in the order RowValidator.validate() takes them.
FIELDS = ("title", "author", "publication_date", "isbn", "summary")
REQUIRED_FIELDS = ("title", "author", "publication_date", "isbn")


class Missing:
    """The type of MISSING: a column the file does not have, or a key a JSON object lacks."""

    def __repr__(self) -> str:
        return "MISSING"


MISSING: Any = Missing()

#: A valid row, in staging-table order: isbn (13 digits), title, author, publication_date
#: (YYYY-MM-DD), summary (None when the file does not give one: a stored summary is kept).
CleanBook = tuple[str, str, str, str, str | None]

NON_FIELD_ERRORS = "non_field_errors"


class FieldError(NamedTuple):
    """Why one field of one row was refused: what the error report shows."""

    field: str
    message: str
    value: object


class RowRejected(Exception):
    """The row breaks at least one rule; ``errors`` has one entry per failing field."""

    def __init__(self, errors: list[FieldError]) -> None:
        super().__init__(errors)
        self.errors = errors


_SURROGATE = re.compile("[\ud800-\udfff]")
_YEAR = re.compile(r"[0-9]{4}")
_YEAR_MONTH = re.compile(r"[0-9]{4}-[0-9]{2}")
_SCIENTIFIC_NOTATION = re.compile(r"[0-9]+(?:[.,][0-9]+)?[eE][+]?[0-9]+")

ZERO_PADDED_LENGTHS = range(7, 9)
SCIENTIFIC_NOTATION_HINT = (
    " This looks like a number in scientific notation: a spreadsheet rounded it, so its "
    "digits are lost; export the column as text."
)


def _max_length(field_name: str) -> int:
    """The model's limit for a text field: its max_length, or its MaxLengthValidator's."""
    field = Book._meta.get_field(field_name)
    assert isinstance(field, Field)
    if field.max_length is not None:
        return int(field.max_length)
    limits = [v.limit_value for v in field.validators if isinstance(v, MaxLengthValidator)]
    return int(min(limits))  # type: ignore[call-overload]


class RowValidator:
    """Validates and normalises one row's raw values; counts the leniencies it applied.

    Values are what the file gave: strings from CSV, any JSON type from JSON Lines, MISSING
    when absent. One instance serves a whole import (it is not thread-safe).
    """

    def __init__(self, *, lenient: bool = True) -> None:
        self.lenient = lenient
        self.padded_isbns = 0
        self.completed_dates = 0
        fields = BookSerializer().fields  # the API's messages, word for word
        messages = {name: fields[name].error_messages for name in FIELDS}
        self._required = str(messages["title"]["required"])
        self._null = str(messages["title"]["null"])
        self._not_a_string = str(messages["title"]["invalid"])
        self._blank = str(messages["title"]["blank"])
        self._limits = {name: _max_length(name) for name in ("title", "author", "summary")}
        self._too_long = {
            name: str(messages[name]["max_length"]).format(max_length=limit)
            for name, limit in self._limits.items()
        }
        self._isbn_too_long = str(messages["isbn"]["max_length"]).format(
            max_length=MAX_INPUT_LENGTH
        )
        self._null_character = str(ProhibitNullCharactersValidator.message)
        self._surrogate = str(ProhibitSurrogateCharactersValidator.message)

    def validate(
        self, title: object, author: object, publication_date: object, isbn: object, summary: object
    ) -> CleanBook:
        """Return the row in stored form, or raise RowRejected listing every failing field."""
        leniencies_before = self.padded_isbns, self.completed_dates
        errors: list[FieldError] = []
        clean_title = self._text("title", title, errors, allow_blank=False)
        clean_author = self._text("author", author, errors, allow_blank=False)
        clean_date = self._date(publication_date, errors)
        clean_isbn = self._isbn(isbn, errors)
        clean_summary = None if summary is MISSING else self._text("summary", summary, errors)
        if errors:
            self.padded_isbns, self.completed_dates = leniencies_before  # count imported rows
            raise RowRejected(errors)
        return clean_isbn, clean_title, clean_author, clean_date, clean_summary

    def _text(
        self, name: str, value: object, errors: list[FieldError], *, allow_blank: bool = True
    ) -> str:
        # DRF's CharField order: blank, then missing/null, then type, then every validator.
        if type(value) is str:
            text = value.strip()
            if not text:
                if not allow_blank:
                    errors.append(FieldError(name, self._blank, value))
                return ""
            # As the API: the limit holds for the value as sent, before trimming.
            if len(value) > self._limits[name]:
                errors.append(FieldError(name, self._too_long[name], value))
                return text
            problems = []
            if len(text) > self._limits[name]:
                problems.append(self._too_long[name])
            if "\x00" in text:
                problems.append(self._null_character)
            if not text.isascii():
                surrogate = _SURROGATE.search(text)
                if surrogate:
                    problems.append(self._surrogate.format(code_point=ord(surrogate.group())))
            # A title or author must show what it stores: the write service's rule, after the
            # serializer's (as the API, only for text that passed those; printable ASCII does).
            if not problems and name != "summary" and not (text.isascii() and text.isprintable()):
                try:
                    validate_display_text(text)
                except ValidationError as error:
                    problems.extend(error.messages)
            if problems:
                errors.append(FieldError(name, " ".join(problems), value))
            return text
        errors.append(FieldError(name, self._type_message(value), value))
        return ""

    def _type_message(self, value: object) -> str:
        if value is MISSING:
            return self._required
        if value is None:
            return self._null
        return self._not_a_string

    def _date(self, value: object, errors: list[FieldError]) -> str:
        if value is MISSING or value is None:
            errors.append(FieldError("publication_date", self._type_message(value), value))
            return ""
        text = value
        if self.lenient and type(value) is str:
            text = value.strip()
            if len(text) < 10:
                if _YEAR.fullmatch(text):
                    text += "-01-01"
                    self.completed_dates += 1
                elif _YEAR_MONTH.fullmatch(text):
                    text += "-01"
                    self.completed_dates += 1
        try:
            parse_iso_date(text)
        except ValidationError as error:
            errors.append(FieldError("publication_date", " ".join(error.messages), value))
            return ""
        return cast(str, text)  # parse_iso_date() took it: a str

    def _isbn(self, value: object, errors: list[FieldError]) -> str:
        if type(value) is not str:
            errors.append(FieldError("isbn", self._type_message(value), value))
            return ""
        text = value.strip()
        if not text:
            errors.append(FieldError("isbn", self._blank, value))
            return ""
        if len(value) > MAX_INPUT_LENGTH:  # as the API: the spelling as sent
            errors.append(FieldError("isbn", self._isbn_too_long, value))
            return ""
        try:
            return normalize_isbn(text)  # a canonical ISBN-13 takes its fast path
        except ValidationError as error:
            message = " ".join(error.messages)
        if self.lenient and len(text) in ZERO_PADDED_LENGTHS and text.isascii() and text.isdigit():
            try:
                canonical = normalize_isbn(text.zfill(10))
            except ValidationError:
                pass
            else:
                self.padded_isbns += 1
                return canonical
        if _SCIENTIFIC_NOTATION.fullmatch(text):
            message += SCIENTIFIC_NOTATION_HINT
        errors.append(FieldError("isbn", message, value))
        return ""
