"""The Book: the seed's five fields plus timestamps, with its rules held by the schema too."""

import datetime
import unicodedata
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import MaxLengthValidator, ProhibitNullCharactersValidator
from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Length, Upper
from django.db.models.lookups import Exact, GreaterThan, LessThanOrEqual

from books.dates import DAY, PRECISIONS, precision_message
from books.isbn import MAX_INPUT_LENGTH, normalize_isbn

TITLE_MAX_LENGTH = 200
AUTHOR_MAX_LENGTH = 100
SUMMARY_MAX_LENGTH = 20_000
ISBN_LENGTH = 13


#: Every character str.strip() removes (test_constraints checks the list against Python), so
#: the database's "not blank" means what the API's does.
WHITESPACE = (
    "\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004"
    "\u2005\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
)


#: Bidirectional embeddings, overrides and isolates: they reorder how the text around them is
#: displayed, so a title can show other than it reads ("Trojan Source", CVE-2021-42574).
#: Right-to-left scripts need none of them.
BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
BIDI_CONTROL_MESSAGE = (
    "Bidirectional control characters (U+202A to U+202E, U+2066 to U+2069) are not allowed."
)
INVISIBLE_TEXT_MESSAGE = "Must contain a visible character, not only invisible ones."
#: Characters that draw nothing but are not format characters (category Cf) nor whitespace:
#: the combining grapheme joiner, Hangul and Khmer fillers, variation selectors, braille blank.
_BLANK_LOOKING = frozenset(
    "\u034f\u115f\u1160\u17b4\u17b5\u180b\u180c\u180d\u180e\u180f\u2800\u3164\uffa0"
    + "".join(chr(code) for code in range(0xFE00, 0xFE10))
)


def _draws_nothing(character: str) -> bool:
    return (
        character.isspace()
        or unicodedata.category(character) in ("Cf", "Cc")
        or character in _BLANK_LOOKING
    )


def validate_display_text(value: object) -> None:
    """A title or author must show what it stores: no bidirectional controls, and at least
    one visible character (a lone U+200B would pass "not blank" yet show nothing)."""
    if not isinstance(value, str):
        return
    if not BIDI_CONTROLS.isdisjoint(value):
        raise ValidationError(BIDI_CONTROL_MESSAGE, code="bidi_control")
    if value.strip() and all(_draws_nothing(character) for character in value):
        raise ValidationError(INVISIBLE_TEXT_MESSAGE, code="invisible")


class TrimWhitespace(models.Func):
    """TRIM of all Unicode whitespace (SQL's plain TRIM removes spaces only)."""

    function = "TRIM"
    output_field = models.TextField()

    def __init__(self, expression: Any, **extra: Any) -> None:
        super().__init__(expression, models.Value(WHITESPACE), **extra)

    def as_postgresql(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        return self.as_sql(compiler, connection, function="BTRIM", **extra)


class IsbnField(models.CharField):
    """Stores an ISBN in its canonical 13-digit form; any valid spelling is accepted on input.

    Model.full_clean() (and so the admin's forms) normalises through to_python().
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("max_length", ISBN_LENGTH)
        super().__init__(*args, **kwargs)

    def to_python(self, value: Any) -> Any:
        value = super().to_python(value)
        if value in self.empty_values:
            return value
        return normalize_isbn(value)

    def formfield(self, **kwargs: Any) -> Any:
        # Forms take spellings with hyphens and spaces, longer than the stored form.
        kwargs.setdefault("max_length", MAX_INPUT_LENGTH)
        return super().formfield(**kwargs)


class Book(models.Model):
    title = models.CharField(
        max_length=TITLE_MAX_LENGTH, validators=[ProhibitNullCharactersValidator()]
    )
    author = models.CharField(
        max_length=AUTHOR_MAX_LENGTH, validators=[ProhibitNullCharactersValidator()]
    )
    publication_date = models.DateField()
    # How much of publication_date is known: "year" (stored as YYYY-01-01), "month"
    # (YYYY-MM-01) or "day", so that a year alone is never shown as January 1 (issue 15).
    publication_date_precision = models.CharField(
        max_length=5,
        choices=[(precision, precision) for precision in PRECISIONS],
        default=DAY,
        db_default=DAY,
    )
    # Unique by the constraint "book_isbn_unique" below: unique=True would also give PostgreSQL
    # a varchar_pattern_ops index for LIKE 'prefix%' that nothing uses and every write pays.
    isbn = IsbnField(verbose_name="ISBN")
    summary = models.TextField(
        blank=True,
        default="",
        validators=[MaxLengthValidator(SUMMARY_MAX_LENGTH), ProhibitNullCharactersValidator()],
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    # Bumped by every write: the API's ETag, and what If-Match is compared with.
    version = models.PositiveIntegerField(default=1, db_default=1, editable=False)

    class Meta:
        ordering = ["-created_at", "-id"]
        # The list is read in keyset order, (field, id) or (field DESC, id DESC): one B-tree
        # per sort field, read forwards or backwards, gives any page in index order, with no
        # sort. The search has its GIN index too, on PostgreSQL only (migration 0003).
        indexes = [
            models.Index(fields=["created_at", "id"], name="book_created_at_id_idx"),
            models.Index(fields=["title", "id"], name="book_title_id_idx"),
            models.Index(fields=["author", "id"], name="book_author_id_idx"),
            models.Index(fields=["publication_date", "id"], name="book_published_id_idx"),
            # ?author= is iexact, UPPER(author::text) = UPPER(%s) on PostgreSQL: this finds
            # an author's books already in the default order (newest first).
            models.Index(
                Upper("author"), F("created_at"), F("id"), name="book_author_upper_created_idx"
            ),
        ]
        constraints = [
            models.UniqueConstraint(fields=["isbn"], name="book_isbn_unique"),
            # The database holds these rules too, so no write path can break them.
            # SQLite does not enforce varchar lengths, hence the explicit length checks.
            models.CheckConstraint(
                condition=GreaterThan(Length(TrimWhitespace("title")), 0),
                name="book_title_not_blank",
            ),
            models.CheckConstraint(
                condition=LessThanOrEqual(Length("title"), TITLE_MAX_LENGTH),
                name="book_title_max_length",
            ),
            models.CheckConstraint(
                condition=GreaterThan(Length(TrimWhitespace("author")), 0),
                name="book_author_not_blank",
            ),
            models.CheckConstraint(
                condition=LessThanOrEqual(Length("author"), AUTHOR_MAX_LENGTH),
                name="book_author_max_length",
            ),
            models.CheckConstraint(
                condition=LessThanOrEqual(Length("summary"), SUMMARY_MAX_LENGTH),
                name="book_summary_max_length",
            ),
            models.CheckConstraint(
                condition=Exact(Length("isbn"), ISBN_LENGTH), name="book_isbn_13_characters"
            ),
            models.CheckConstraint(
                condition=Q(publication_date_precision__in=PRECISIONS),
                name="book_publication_date_precision_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.title} ({self.isbn})"

    def clean(self) -> None:
        """Rules across characters, not lengths, and the date's precision: run by full_clean(),
        so by the services the API uses and by the admin's forms."""
        errors: dict[str, list[ValidationError]] = {}
        for name in ("title", "author"):
            try:
                validate_display_text(getattr(self, name))
            except ValidationError as error:
                errors[name] = error.error_list
        # An unknown precision is clean_fields()'s error (the choices); a bad date its too.
        if (
            isinstance(self.publication_date, datetime.date)
            and self.publication_date_precision in PRECISIONS
        ):
            message = precision_message(self.publication_date, self.publication_date_precision)
            if message:
                errors["publication_date_precision"] = [ValidationError(message, code="precision")]
        if errors:
            raise ValidationError(errors)
