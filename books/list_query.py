"""The book list's query parameters: which are known, and the canonical form of a query.

The canonical query is what the list's answer depends on: known parameters only, each once
(the last value, as Django's QueryDict.get reads it), in one order, values as the list reads
them (an ISBN normalised, a page size as a number, defaults and blank filters left out). The
pages' ``next`` and ``previous`` links are built from it (books.pagination), and the read
cache keys list pages on it (books.hot_path): one page per query, however it is spelled, and
no entry for a parameter the list does not know (issue 13, finding 4).
"""

from collections.abc import Iterable, Mapping
from urllib.parse import urlencode

from django.core.exceptions import ValidationError

from books.dates import parse_iso_date
from books.filters import SEARCH_MAX_LENGTH, SEARCH_MAX_WORDS, BookFilter
from books.isbn import normalize_isbn
from books.pagination import RELEVANCE, BookCursorPagination

Pagination = BookCursorPagination

#: DRF's URL_FORMAT_OVERRIDE: ``?format=api`` chooses the browsable page.
FORMAT_PARAMETER = "format"
#: Every query parameter the list takes.
KNOWN_PARAMETERS = frozenset(
    {
        *BookFilter.base_filters,
        Pagination.ordering_query_param,
        Pagination.cursor_query_param,
        Pagination.page_size_query_param,
        FORMAT_PARAMETER,
    }
)
_AUTHOR_MAX_LENGTH = 100


def unknown_parameters(names: Iterable[str]) -> list[str]:
    """The names the list does not know, sorted."""
    return sorted(set(names) - KNOWN_PARAMETERS)


def canonical_query(params: Mapping[str, str]) -> str | None:
    """The canonical query string of ``params`` (a QueryDict, or its last values); None when
    a parameter is unknown or a value invalid, for which the list answers a 400."""
    if unknown_parameters(params):
        return None
    canonical: dict[str, str] = {}
    default_ordering = Pagination.default_ordering_for(params)
    for name in sorted(params):
        value = _canonical_value(name, params[name], default_ordering=default_ordering)
        if value is None:
            return None
        if value:
            canonical[name] = value
    return urlencode(canonical)


def _canonical_value(name: str, raw: str, *, default_ordering: str) -> str | None:
    """The value as the list reads it; "" when it changes nothing; None when it is invalid."""
    if name == Pagination.page_size_query_param:
        if not raw.isascii() or not raw.isdigit() or not raw.lstrip("0"):
            return None
        digits = raw.lstrip("0")
        size = Pagination.max_page_size if len(digits) > 6 else int(digits)
        size = min(size, Pagination.max_page_size)
        return "" if size == Pagination.page_size else str(size)
    if name == Pagination.ordering_query_param:
        # Relevance is an ordering only where it is the default: with a search.
        if not Pagination.is_ordering(raw) or (raw == RELEVANCE and default_ordering != RELEVANCE):
            return None
        return "" if raw == default_ordering else raw
    if name in (Pagination.cursor_query_param, FORMAT_PARAMETER):
        return raw  # the cursor is signed: its validity is the pagination's to decide
    value = raw.strip()  # the filters' form fields strip, and skip a blank value
    if not value:
        return ""
    try:
        if name == "isbn":
            return normalize_isbn(value)
        if name in ("published_after", "published_before"):
            return parse_iso_date(value).isoformat()
    except ValidationError:
        return None
    if name == "author" and len(value) > _AUTHOR_MAX_LENGTH:
        return None
    if name == "search" and (
        len(value) > SEARCH_MAX_LENGTH or len(value.split()) > SEARCH_MAX_WORDS
    ):
        return None
    if name == "author_name" and len(value) > _AUTHOR_MAX_LENGTH:
        return None
    return value
