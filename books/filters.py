"""Query-string filters for the book list. An invalid value is a 400, never ignored."""

from typing import Any

import django_filters
from django import forms
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field

from books.dates import parse_iso_date
from books.isbn import MAX_INPUT_LENGTH, normalize_isbn
from books.models import Book
from books.search import ranking
from books.search.terms import MAX_LENGTH as SEARCH_MAX_LENGTH
from books.search.terms import MAX_WORDS as SEARCH_MAX_WORDS
from books.search.terms import parse

#: The search's rules, as the schema and README state them.
SEARCH_HELP = (
    "Words in any order, separated by spaces or punctuation; every word must match the title, "
    "author or summary. Case and accents are ignored (`miserables` finds *Les Misérables*), "
    "English word forms match (`dragons` finds *dragon*), and a word of three or more "
    "letters also matches the beginning of a longer word of a title or author (`drag` finds "
    "*Dragonflight*; in a summary a word matches whole or by its English form); shorter "
    "words match whole words only. An ISBN in any spelling (hyphens, spaces, "
    "ISBN-10 or -13, an `ISBN:` prefix) finds that book. Results are ordered by relevance "
    "unless `ordering` says otherwise: the ISBN's book, then a title that is the search, "
    "then titles with the words as a phrase, then titles with every word, then title and "
    "author together, then the summary; ties by id. When nothing matches exactly, books "
    "whose title or author is close to the words are listed instead (typos: `tolkein` finds "
    "Tolkien) and the response's `search.similar` is true, with a `search.did_you_mean`. "
    f"At most {SEARCH_MAX_WORDS} words and {SEARCH_MAX_LENGTH} characters. The same rules "
    "on PostgreSQL and SQLite."
)


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
        help_text="Author, matched exactly but case-insensitively (see `author_name`).",
    )
    author_name = django_filters.CharFilter(
        method="filter_author_name",
        max_length=100,
        help_text=(
            "Author as people type it: every word begins a word of the author's name, "
            "ignoring case, accents and punctuation, so `tolkien`, `J.R.R. Tolkien` and "
            "`j r r tolkien` all find *J. R. R. Tolkien*, and `garcia marquez` finds "
            "*Gabriel García Márquez*. Words of one or two letters (initials) match whole."
        ),
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
        method="filter_search", max_length=SEARCH_MAX_LENGTH, help_text=SEARCH_HELP
    )

    class Meta:
        model = Book
        fields = ["author", "author_name", "isbn", "published_after", "published_before", "search"]

    def filter_author_name(self, queryset: QuerySet[Book], name: str, value: str) -> QuerySet[Book]:
        if "\ufffd" in value:  # not UTF-8: what was meant is unknown
            return queryset.none()
        return ranking.author_condition(queryset, value)

    def filter_search(self, queryset: QuerySet[Book], name: str, value: str) -> QuerySet[Book]:
        if "\ufffd" in value:
            # Django decodes bytes that are not UTF-8 to U+FFFD: what was meant is unknown.
            queryset = queryset.none()
        state = ranking.SearchState(parse(value))
        if self.request is None:  # manage.py export_books
            return ranking.matching(queryset, state)
        # Recorded here, applied by the view: in relevance order the pagination reads the
        # matches tier by tier (books.search.ranking); otherwise they are one condition.
        self.request.book_search = state
        return queryset
