"""Query-string filters for the book list. An invalid value is a 400, never ignored."""

from typing import Any

import django_filters
from django import forms
from django.contrib.postgres.search import SearchQuery, SearchVector
from django.core.exceptions import ValidationError
from django.db import connections
from django.db.models import Func, Q, QuerySet, TextField
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field

from books.dates import parse_iso_date
from books.isbn import MAX_INPUT_LENGTH, normalize_isbn
from books.models import Book

#: A search of more words than this is refused: each word is a condition on three columns.
SEARCH_MAX_WORDS = 10
SEARCH_MAX_LENGTH = 200


class LettersAndDigits(Func):
    """Its arguments joined by spaces, with every run of characters other than letters and
    digits made one space: so PostgreSQL's parser sees plain words only, and reads no
    e-mail address, URL, file path, number with a point or HTML tag as one token (or, for tags
    and URL schemes, as no token at all), which would make those words unsearchable."""

    function = "REGEXP_REPLACE"
    template = "%(function)s(%(expressions)s, '[^[:alnum:]]+', ' ', 'g')"
    arg_joiner = " || ' ' || "
    output_field = TextField()


#: What the search reads on PostgreSQL. The 'simple' configuration lowercases and neither
#: stems nor drops stop words, so every word of a book is found by any of its prefixes; a
#: fixed configuration makes the expression immutable, so it is indexed: migration 0003
#: creates the GIN index "book_search_idx" on exactly this expression (test_indexes.py
#: checks that the planner uses it).
SEARCH_DOCUMENT = SearchVector(LettersAndDigits("title", "author", "summary"), config="simple")


def search_words(value: str) -> list[str]:
    """The search's words as the full-text search matches them, without the redundant ones.

    A word that is a prefix of another one of the search (``drag`` beside ``dragon``) is
    implied by it, so only the longer one is kept: the same books, less work for the index.
    """
    # A word is a run of letters and decimal digits, as PostgreSQL's [:alnum:] reads them
    # (not "²" or "½", which str.isalnum() would take): everything else separates words.
    letters_and_digits = "".join(c if c.isalpha() or c.isdecimal() else " " for c in value)
    words = set(letters_and_digits.lower().split())
    return sorted(
        word for word in words if not any(o != word and o.startswith(word) for o in words)
    )


def search_prefix_query(words: list[str]) -> SearchQuery:
    """A tsquery where every word must begin a word of the book: ``'drag':* & 'le':*``.

    The words are runs of letters and digits only (see search_words), so no quote, backslash,
    operator or parenthesis from the client reaches the tsquery syntax.
    """
    raw = " & ".join(f"'{word}':*" for word in words)
    return SearchQuery(raw, search_type="raw", config="simple")


class IsbnFormField(forms.CharField):
    """A form field that takes any valid ISBN spelling and cleans it to the stored form."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("max_length", MAX_INPUT_LENGTH)
        super().__init__(*args, **kwargs)

    def clean(self, value: Any) -> Any:
        value = super().clean(value)
        return normalize_isbn(value) if value else value


class IsbnFilter(django_filters.CharFilter):
    field_class = IsbnFormField


class IsoDateFormField(forms.CharField):
    """A form field for YYYY-MM-DD dates only, as the API writes them."""

    def clean(self, value: Any) -> Any:
        value = super().clean(value)
        return parse_iso_date(value) if value else None


@extend_schema_field(OpenApiTypes.DATE)
class IsoDateFilter(django_filters.Filter):
    field_class = IsoDateFormField


class SearchFormField(forms.CharField):
    def clean(self, value: Any) -> Any:
        value = super().clean(value)
        if value and len(value.split()) > SEARCH_MAX_WORDS:
            raise ValidationError(f"Use at most {SEARCH_MAX_WORDS} words.")
        return value


class SearchFilter(django_filters.CharFilter):
    field_class = SearchFormField


class BookFilter(django_filters.FilterSet):
    author = django_filters.CharFilter(
        field_name="author",
        lookup_expr="iexact",
        max_length=100,
        help_text="Author, matched exactly but case-insensitively.",
    )
    isbn = IsbnFilter(
        field_name="isbn", help_text="ISBN-10 or ISBN-13, with or without hyphens or spaces."
    )
    published_after = IsoDateFilter(
        field_name="publication_date",
        lookup_expr="gte",
        help_text="Published on or after this date (YYYY-MM-DD).",
    )
    published_before = IsoDateFilter(
        field_name="publication_date",
        lookup_expr="lte",
        help_text="Published on or before this date (YYYY-MM-DD).",
    )
    search = SearchFilter(
        method="filter_search",
        max_length=SEARCH_MAX_LENGTH,
        help_text=(
            "Words separated by spaces; every word must match, ignoring case, in the title, "
            "author or summary. Full-text search (PostgreSQL): a word matches the beginning "
            "of a word of the book (`drag` finds *Dragonflight*, not *Snapdragon*); words "
            "are runs of letters and digits, so punctuation separates them (`o'neil` is "
            "`o` and `neil`) and a search word without letters or digits is ignored. On a "
            "SQLite database (development) a word matches anywhere in the text instead, "
            "punctuation included. Text that is not valid UTF-8 matches nothing. "
            f"At most {SEARCH_MAX_WORDS} words."
        ),
    )

    class Meta:
        model = Book
        fields = ["author", "isbn", "published_after", "published_before", "search"]

    def filter_search(self, queryset: QuerySet[Book], name: str, value: str) -> QuerySet[Book]:
        if "\ufffd" in value:
            # Django decodes bytes that are not UTF-8 to U+FFFD: what was meant is unknown.
            return queryset.none()
        if connections[queryset.db].vendor == "postgresql":
            words = search_words(value)
            if not words:
                return queryset
            # alias(), not annotate(): the document is matched, never selected.
            return queryset.alias(search_document=SEARCH_DOCUMENT).filter(
                search_document=search_prefix_query(words)
            )
        # SQLite has no full-text index to use here: each word is a substring test instead.
        for word in value.split():
            queryset = queryset.filter(
                Q(title__icontains=word) | Q(author__icontains=word) | Q(summary__icontains=word)
            )
        return queryset
