"""The rules one imported row must pass: the API's rules, checked fast, plus a few leniencies.

The API validates with DRF fields (books/serializers.py) and the model's validators; building a
serializer per row would cost ~100 µs, a hundred times the import's budget. RowValidator
re-states the same rules over plain values, taking its limits and messages from the model and
the serializer themselves; test_import_rules.py checks that both give the same verdict.

Import-only leniencies (``lenient=True``, the default; documented in docs/import.md):

* an ISBN-10 that lost two or three leading zeros (7-8 digits) is padded back to 10 digits,
  as spreadsheets drop leading zeros from numbers (one lost zero, 9 digits, the API takes);
* an "ISBN", "ISBN:", "ISBN-13:" or "ISBN-10" label before the number is dropped;
* surrounding whitespace around a date is stripped, as it is around every other field;
* a date may be spelled as books.dates.parse_import_date reads it: a year of one to four
  digits (975 is 0975), an English month name (July 1968), or in ``--date-format``.

A blank cell in a precision column is no value (the API would refuse ""). Without one, a
date's precision is what its spelling gives: "year" for a year alone, "month" for a year and
month, else "day" (the API does the same for YYYY and YYYY-MM).
"""

import contextlib
import re
from typing import Any, NamedTuple

from django.core.exceptions import ValidationError
from django.core.validators import MaxLengthValidator, ProhibitNullCharactersValidator
from django.db.models import Field
from rest_framework.validators import ProhibitSurrogateCharactersValidator

from books.dates import (
    DAY,
    PRECISIONS,
    PartialDate,
    contradiction_message,
    parse_import_date,
    parse_iso_date,
    parse_iso_partial_date,
    precision_message,
)
from books.isbn import MAX_INPUT_LENGTH, normalize_isbn
from books.models import Book, validate_display_text
from books.serializers import BookSerializer

#: The Book fields an import fills, in the order RowValidator.validate() takes them.
FIELDS = ("title", "author", "publication_date", "isbn", "summary", "publication_date_precision")
REQUIRED_FIELDS = ("title", "author", "publication_date", "isbn")


class Missing:
    """The type of MISSING: a column the file does not have, or a key a JSON object lacks."""

    def __repr__(self) -> str:
        return "MISSING"


MISSING: Any = Missing()

#: A valid row, in staging-table order: isbn (13 digits), title, author, publication_date
#: (YYYY-MM-DD), summary (None when the file does not give one: a stored summary is kept),
#: publication_date_precision ("day", "month" or "year").
CleanBook = tuple[str, str, str, str, str | None, str]

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
# The label a catalogue may print before the number: "ISBN 0-306-40615-2", "ISBN-13: 978...".
# "ISBN 13 978..." has a label; in "ISBN 1034567890" the 10 is the number's.
_ISBN_LABEL = re.compile(r"isbn(?:[- ]?1[03](?=\s*:|\s))?\s*:?\s*", re.IGNORECASE)
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

    def __init__(self, *, lenient: bool = True, date_format: str | None = None) -> None:
        self.lenient = lenient
        #: A strptime format for dates in another spelling (``--date-format``; lenient only).
        self.date_format = date_format
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
        self._invalid_precision = str(messages["publication_date_precision"]["invalid_choice"])

    def validate(
        self,
        title: object,
        author: object,
        publication_date: object,
        isbn: object,
        summary: object,
        precision: object = MISSING,
    ) -> CleanBook:
        """Return the row in stored form, or raise RowRejected listing every failing field."""
        leniencies_before = self.padded_isbns, self.completed_dates
        errors: list[FieldError] = []
        clean_title = self._text("title", title, errors, allow_blank=False)
        clean_author = self._text("author", author, errors, allow_blank=False)
        clean_date, clean_precision = self._date(publication_date, precision, errors)
        clean_isbn = self._isbn(isbn, errors)
        clean_summary = None if summary is MISSING else self._text("summary", summary, errors)
        if errors:
            self.padded_isbns, self.completed_dates = leniencies_before  # count imported rows
            raise RowRejected(errors)
        return clean_isbn, clean_title, clean_author, clean_date, clean_summary, clean_precision

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

    def _date(self, value: object, precision: object, errors: list[FieldError]) -> tuple[str, str]:
        """(YYYY-MM-DD, precision): the date as stored, and how much of it is known."""
        if value is MISSING or value is None:
            errors.append(FieldError("publication_date", self._type_message(value), value))
            return "", DAY
        if precision is MISSING and type(value) is str and len(value) == 10:
            # The common case, a plain YYYY-MM-DD, without building a PartialDate (~1 µs a row).
            with contextlib.suppress(ValidationError):
                parse_iso_date(value)
                return value, DAY
        if self.lenient and type(value) is str and not value.strip():
            errors.append(FieldError("publication_date", self._blank, value))
            return "", DAY
        try:
            if self.lenient and type(value) is str:
                date = parse_import_date(value.strip(), date_format=self.date_format)
            else:
                date = parse_iso_partial_date(value)
        except ValidationError as error:
            errors.append(FieldError("publication_date", " ".join(error.messages), value))
            return "", DAY
        if precision is MISSING or (precision == "" and self.lenient):  # a blank cell
            if date.precision != DAY:
                self.completed_dates += 1
            return date.date.isoformat(), date.precision
        return date.date.isoformat(), self._precision(date, precision, errors)

    def _precision(self, date: PartialDate, value: object, errors: list[FieldError]) -> str:
        """A precision the file gives: one of PRECISIONS, agreeing with the date (the API's
        rules: BookSerializer.validate, then Book.clean)."""
        text = value.strip() if type(value) is str and self.lenient else value
        message: str | None
        if value is None:
            message = self._null
        elif text not in PRECISIONS:
            message = self._invalid_precision.format(input=value)
        elif date.precision != DAY and text != date.precision:
            message = contradiction_message(text, date.precision)
        else:
            message = precision_message(date.date, text)
        if message:
            errors.append(FieldError("publication_date_precision", message, value))
        return str(text)

    def _isbn(self, value: object, errors: list[FieldError]) -> str:
        if type(value) is not str:
            errors.append(FieldError("isbn", self._type_message(value), value))
            return ""
        text = value.strip()
        spelling = value  # what the API's length limit applies to
        if self.lenient and text[:4].lower() == "isbn":
            text = spelling = _ISBN_LABEL.sub("", text, count=1)
        if not text:
            errors.append(FieldError("isbn", self._blank, value))
            return ""
        if len(spelling) > MAX_INPUT_LENGTH:  # as the API: the spelling as sent
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
