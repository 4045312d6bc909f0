"""The Book's JSON shape and the input checks every API write gets."""

import datetime
import hashlib
from collections.abc import Callable
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import serializers

from books.dates import (
    DAY,
    PRECISIONS,
    PartialDate,
    contradiction_message,
    parse_iso_partial_date,
)
from books.isbn import MAX_INPUT_LENGTH, hyphenated_isbn, normalize_isbn
from books.models import AUTHOR_MAX_LENGTH, SUMMARY_MAX_LENGTH, TITLE_MAX_LENGTH, Book


def _run_domain_rule(rule: Callable[[Any], Any], value: Any) -> Any:
    """Apply one of the domain's parsing rules, reporting its error the way DRF does."""
    try:
        return rule(value)
    except DjangoValidationError as error:
        raise serializers.ValidationError(error.messages) from error


class StrictCharField(serializers.CharField):
    """A CharField that refuses numbers and booleans instead of turning them into text."""

    default_error_messages = {"invalid": "Not a valid string."}

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("invalid")
        # The documented maxLength holds for what is sent, before surrounding spaces are
        # trimmed, so a client's schema check and ours agree.
        if self.max_length is not None and len(data) > self.max_length:
            self.fail("max_length", max_length=self.max_length)
        return str(super().to_internal_value(data))


class IsoDateField(serializers.DateField):
    """A date given as a YYYY-MM-DD string, or on writes as YYYY-MM or YYYY (ISO 8601's
    reduced precisions): validated to a books.dates.PartialDate, which BookSerializer turns
    into the date and its precision."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault(
            "help_text",
            "ISO 8601 date, YYYY-MM-DD. On writes also YYYY-MM or YYYY, stored as the first "
            'day of that month or year with publication_date_precision "month" or "year".',
        )
        super().__init__(**kwargs)

    def to_internal_value(self, value: Any) -> Any:
        return _run_domain_rule(parse_iso_partial_date, value)


class IsbnSerializerField(StrictCharField):
    """Takes any valid ISBN-10/13 spelling; gives back the canonical 13 digits."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("max_length", MAX_INPUT_LENGTH)
        kwargs.setdefault(
            "help_text",
            "ISBN-10 or ISBN-13, hyphens and spaces allowed; returned as 13 digits.",
        )
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> str:
        return str(_run_domain_rule(normalize_isbn, super().to_internal_value(data)))


class BookSerializer(serializers.ModelSerializer):
    title = StrictCharField(max_length=TITLE_MAX_LENGTH)
    author = StrictCharField(max_length=AUTHOR_MAX_LENGTH)
    publication_date = IsoDateField()
    publication_date_precision = serializers.ChoiceField(
        choices=PRECISIONS,
        required=False,
        help_text=(
            'How much of publication_date is known: "day", "month" (the date is YYYY-MM-01) '
            'or "year" (YYYY-01-01). On writes optional: "day", or what a YYYY-MM or YYYY '
            "date gives; a PATCH without it keeps the stored one."
        ),
    )
    isbn = IsbnSerializerField()
    # For people, beside the canonical 13 digits for programs (the name after Django's
    # get_FOO_display): derived, so read-only and left out of the export, which must import
    # back (books.exporting).
    isbn_display = serializers.SerializerMethodField(
        help_text="The ISBN hyphenated as printed on books (978-0-306-40615-7); read-only."
    )
    summary = StrictCharField(
        max_length=SUMMARY_MAX_LENGTH, allow_blank=True, required=False, default=""
    )

    class Meta:
        model = Book
        fields = [
            "id",
            "title",
            "author",
            "publication_date",
            "publication_date_precision",
            "isbn",
            "isbn_display",
            "summary",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["id", "created_at", "updated_at"]

    #: Raised by hand when a field's format changes; a field added or removed changes the
    #: representation's revision by itself.
    FORMAT_REVISION = 1

    def get_isbn_display(self, instance: Book) -> str:
        return hyphenated_isbn(instance.isbn)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        """The date's precision: what a YYYY or YYYY-MM date gives, else what was sent, else
        "day" (a PATCH keeps the stored one). Whether the date fits it is the model's rule
        (Book.clean(), run by the write services), so every write path shares it."""
        given = attrs.get("publication_date")
        sent = attrs.get("publication_date_precision")
        if isinstance(given, PartialDate):
            attrs["publication_date"] = given.date
            if given.precision != DAY:
                if sent is not None and sent != given.precision:
                    message = contradiction_message(sent, given.precision)
                    raise serializers.ValidationError({"publication_date_precision": [message]})
                attrs["publication_date_precision"] = given.precision
                return attrs
        if sent is None and not self.partial:
            attrs["publication_date_precision"] = DAY
        return attrs

    def to_representation(self, instance: Book) -> dict[str, Any]:
        # What ModelSerializer would produce field by field, built directly: on list pages
        # the generic per-field walk was most of the view's time (docs/performance.md).
        # test_representation.py holds the two equal.
        return {
            "id": instance.pk,
            "title": instance.title,
            "author": instance.author,
            "publication_date": iso_date(instance.publication_date),
            "publication_date_precision": instance.publication_date_precision,
            "isbn": instance.isbn,
            "isbn_display": hyphenated_isbn(instance.isbn),
            "summary": instance.summary,
            "created_at": utc_timestamp(instance.created_at),
            "updated_at": utc_timestamp(instance.updated_at),
        }


#: Fields derived from the stored ones for display: not in the export (books.exporting).
DISPLAY_FIELDS = ("isbn_display",)


def iso_date(value: datetime.date | str) -> str:
    """DRF's DateField output (a string is passed through, as DRF does)."""
    return value if isinstance(value, str) else value.isoformat()


def utc_timestamp(value: datetime.datetime | str | None) -> str | None:
    """DRF's DateTimeField output for an aware datetime under TIME_ZONE = "UTC"."""
    if value is None or isinstance(value, str):
        return value
    text = value.astimezone(datetime.UTC).isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def representation_revision() -> str:
    """A short name of the book's JSON shape (its fields and their format), which books.etags
    puts in every book's ETag."""
    shape = f"{BookSerializer.FORMAT_REVISION}:" + ",".join(BookSerializer.Meta.fields)
    return hashlib.blake2b(shape.encode(), digest_size=3).hexdigest()
