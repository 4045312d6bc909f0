"""Query-string filters for the book list. An invalid value is a 400, never ignored."""

from typing import Any

import django_filters
from django import forms
from django.core.exceptions import ValidationError
from django.db.models import Q, QuerySet
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field

from books.dates import parse_iso_date
from books.isbn import MAX_INPUT_LENGTH, normalize_isbn
from books.models import Book

#: A search of more words than this is refused: each word is a condition on three columns.
SEARCH_MAX_WORDS = 10
SEARCH_MAX_LENGTH = 200


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
            "Words separated by spaces; each must appear (case-insensitively) "
            "in the title, author or summary."
        ),
    )

    class Meta:
        model = Book
        fields = ["author", "isbn", "published_after", "published_before", "search"]

    def filter_search(self, queryset: QuerySet[Book], name: str, value: str) -> QuerySet[Book]:
        for word in value.split():
            queryset = queryset.filter(
                Q(title__icontains=word) | Q(author__icontains=word) | Q(summary__icontains=word)
            )
        return queryset
