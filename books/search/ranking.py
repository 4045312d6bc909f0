"""Relevance: the matches of a search in tiers, best first, and keyset pages through them.

Tiers, each ordered by id: 0 the ISBN in the search; 1 the (main) title is the search; 2 the
title has the words as a phrase; 3 every word is in the title; 4 every word is in the title or
the author; 5 every word is somewhere (the summary too). Each tier's condition implies the next
one's, so a tier is "its condition and not the one before". Only when tiers 0-5 find nothing,
tier 6: books whose title and author are close to the words (typos), the closest first.

Every tier is one indexed query (see postgres.py and sqlite.py), so a page costs a few index
reads however deep it is: a position is (tier, score, id), and a page is read tier by tier
from the position until it is full. A tier's query is cheap whichever way the planner reads
it: by id with the condition as a filter when it matches many books, through its GIN index
when it matches few.
"""

import contextlib
import enum
from collections.abc import Iterator
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from django.conf import settings
from django.db import DatabaseError, connections, transaction
from django.db.models import FloatField, Q, QuerySet, Value
from rest_framework import status
from rest_framework.exceptions import APIException

from books.models import Book
from books.search import postgres, sqlite
from books.search.terms import TYPO_MIN_LENGTH, SearchTerms, did_you_mean, split_words

#: PostgreSQL's SQLSTATE for a statement cancelled by statement_timeout.
_QUERY_CANCELED = "57014"


class Tier(enum.IntEnum):
    ISBN = 0
    EXACT_TITLE = 1
    TITLE_PHRASE = 2
    IN_TITLE = 3
    IN_NAMES = 4
    ANYWHERE = 5
    SIMILAR = 6


@dataclass(frozen=True)
class Position:
    tier: int
    score: float
    id: int


@dataclass
class SearchState:
    """One list request's search, and what the answer says about it."""

    terms: SearchTerms
    similar: bool = False
    did_you_mean: str | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "words": list(self.terms.words),
            "isbns": list(self.terms.isbns),
            "similar": self.similar,
            "did_you_mean": self.did_you_mean,
        }


class SearchTooSlow(APIException):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_code = "search_timeout"
    wait = 5  # DRF's handler sends it as Retry-After

    def __init__(self) -> None:
        seconds = settings.SEARCH_STATEMENT_TIMEOUT_MS / 1000
        super().__init__(
            f"The search took longer than {seconds:g} s and was stopped. Add a word or a "
            "longer word to narrow it, or retry later."
        )


def _backend(queryset: QuerySet[Book]) -> ModuleType:
    return postgres if connections[queryset.db].vendor == "postgresql" else sqlite


@contextlib.contextmanager
def deadline(using: str) -> Iterator[None]:
    """Run a search's queries with PostgreSQL's statement timeout (a 503 when it fires), its
    typo threshold, and without the NOTICE a stop word causes."""
    connection = connections[using]
    if connection.vendor != "postgresql":
        yield
        return
    try:
        with transaction.atomic(using=using), connection.cursor() as cursor:
            cursor.execute(
                "SELECT set_config('statement_timeout', %s, true), "
                "set_config('pg_trgm.word_similarity_threshold', %s, true), "
                "set_config('client_min_messages', 'warning', true)",
                [
                    str(settings.SEARCH_STATEMENT_TIMEOUT_MS),
                    str(postgres.WORD_SIMILARITY_THRESHOLD),
                ],
            )
            yield
    except DatabaseError as error:
        if getattr(error.__cause__, "sqlstate", None) == _QUERY_CANCELED:
            raise SearchTooSlow() from error
        raise


# --- which books match -------------------------------------------------------------------


def _tier_conditions(terms: SearchTerms, backend: ModuleType) -> list[tuple[Tier, Any]]:
    """Each tier of the search with its condition (not yet excluding the tiers before it)."""
    tiers: list[tuple[Tier, Any]] = []
    if terms.isbns:
        tiers.append((Tier.ISBN, Q(isbn__in=terms.isbns)))
    if terms.words:
        tiers.append((Tier.EXACT_TITLE, backend.exact_title(terms)))
        if len(terms.words) > 1:  # one word: a phrase is the word in the title
            tiers.append((Tier.TITLE_PHRASE, backend.title_phrase(terms)))
        tiers.append((Tier.IN_TITLE, backend.in_title(terms)))
        tiers.append((Tier.IN_NAMES, backend.in_names(terms)))
        tiers.append((Tier.ANYWHERE, backend.anywhere(terms)))
    return tiers


def _exact_condition(terms: SearchTerms, backend: ModuleType) -> Any:
    """Books that match the search exactly (any tier but SIMILAR)."""
    condition = Q()
    if terms.isbns:
        condition |= Q(isbn__in=terms.isbns)
    if terms.words:
        condition |= Q(backend.anywhere(terms))
    return condition


def _similar(queryset: QuerySet[Book], state: SearchState) -> QuerySet[Any] | None:
    """The books close to the search's words, with a "search_score" (higher is closer); None
    when typo tolerance has nothing to offer."""
    terms = state.terms
    if not any(len(word) >= TYPO_MIN_LENGTH for word in terms.required):
        return None
    if _backend(queryset) is postgres:
        return queryset.filter(postgres.similar(terms)).annotate(
            search_score=postgres.similarity(terms)
        )
    corrected = sqlite.corrections(terms, queryset.db)
    if not corrected:
        return None
    state.did_you_mean = " ".join(corrected.get(word, word) for word in terms.words)
    # As on PostgreSQL, the words too short for a typo are left out of the similar matches.
    long_words = tuple(
        corrected.get(word, word) for word in terms.required if len(word) >= TYPO_MIN_LENGTH
    )
    fixed = SearchTerms(words=long_words, required=long_words)
    return queryset.filter(sqlite.anywhere(fixed)).annotate(
        search_score=Value(0.0, output_field=FloatField())
    )


def matching(queryset: QuerySet[Book], state: SearchState) -> QuerySet[Any]:
    """The books the search finds, for an explicit ordering or the export: the exact matches,
    or, when there are none, the similar ones."""
    terms = state.terms
    if terms.is_empty():
        return queryset
    exact = queryset.filter(_exact_condition(terms, _backend(queryset)))
    with deadline(queryset.db):
        if exact.exists():
            return exact
        similar = _similar(queryset, state)
        if similar is None or not similar.exists():
            state.did_you_mean = None
            return exact
    state.similar = True
    if state.did_you_mean is None:
        with deadline(queryset.db):
            vocabulary = [
                word
                for title, author in similar.order_by("-search_score", "id").values_list(
                    "title", "author"
                )[:5]
                for word in split_words(f"{title} {author}")
            ]
        state.did_you_mean = did_you_mean(terms.words, vocabulary)
    return similar


# --- relevance pages ---------------------------------------------------------------------


def relevance_rows(
    queryset: QuerySet[Book],
    state: SearchState,
    position: Position | None,
    *,
    backwards: bool,
    inclusive: bool,
    limit: int,
) -> list[Book]:
    """Up to ``limit`` books in relevance order from ``position`` (after it, or before it
    when ``backwards``, in the order scanned), each with ``search_tier`` and ``search_score``."""
    in_similar = position is not None and position.tier == Tier.SIMILAR
    tiers = [] if in_similar else _exact_tiers(queryset, state.terms)
    if backwards:
        tiers.reverse()
    rows: list[Book] = []

    def read(tier: Tier, query: QuerySet[Any]) -> None:
        query = _ordered(query, tier, backwards)
        if position is not None and tier == position.tier:
            query = query.filter(_after(position, tier, backwards, inclusive))
        for book in query[: limit - len(rows)]:
            book.search_tier = int(tier)  # type: ignore[attr-defined]  # the cursor's position
            rows.append(book)

    with deadline(queryset.db):
        for tier, query in tiers:
            if position is not None and (
                tier > position.tier if backwards else tier < position.tier
            ):
                continue
            read(tier, query)
            if len(rows) >= limit:
                break
        # Typo tolerance is for a search that matches nothing exactly: on its first page, or
        # on a page already among the similar books.
        similar = (in_similar or (position is None and not rows)) and _similar(queryset, state)
        if similar:
            read(Tier.SIMILAR, similar)
    state.similar = in_similar or any(
        book.search_tier == Tier.SIMILAR  # type: ignore[attr-defined]
        for book in rows
    )
    if not state.similar:
        state.did_you_mean = None
    elif state.did_you_mean is None and rows:
        vocabulary = [w for book in rows for w in split_words(f"{book.title} {book.author}")]
        state.did_you_mean = did_you_mean(state.terms.words, vocabulary)
    return rows


def _exact_tiers(queryset: QuerySet[Book], terms: SearchTerms) -> list[tuple[Tier, QuerySet[Any]]]:
    """Each exact tier's books: its condition, and not the tiers' before it."""
    if terms.is_empty():
        return [(Tier.ANYWHERE, _scored(queryset))]
    isbn = Q(isbn__in=terms.isbns)
    tiers = []
    previous: Any = None
    for tier, condition in _tier_conditions(terms, _backend(queryset)):
        query = queryset.filter(condition)
        if tier != Tier.ISBN:
            if previous is not None:
                query = query.exclude(previous)
            if terms.isbns:
                query = query.exclude(isbn)
            previous = condition
        tiers.append((tier, _scored(query)))
    return tiers


def _scored(query: QuerySet[Book]) -> QuerySet[Any]:
    # The exact tiers have no score of their own: id orders them.
    return query.annotate(search_score=Value(0.0, output_field=FloatField()))


def _ordered(query: QuerySet[Any], tier: Tier, backwards: bool) -> QuerySet[Any]:
    order: tuple[str, ...] = ("-id",) if backwards else ("id",)
    if tier == Tier.SIMILAR:
        order = ("search_score", "-id") if backwards else ("-search_score", "id")
    return query.order_by(*order)


def _after(position: Position, tier: Tier, backwards: bool, inclusive: bool) -> Q:
    """The rows past ``position`` within its tier, in scan order."""
    id_op = ("lt" if backwards else "gt") + ("e" if inclusive else "")
    if tier != Tier.SIMILAR:
        return Q(**{f"id__{id_op}": position.id})
    score_op = "gt" if backwards else "lt"
    return Q(**{f"search_score__{score_op}": position.score}) | Q(
        search_score=position.score, **{f"id__{id_op}": position.id}
    )


def author_condition(queryset: QuerySet[Book], text: str) -> QuerySet[Book]:
    """``author_name``: every word of ``text`` begins a word of the author's name."""
    words = tuple(dict.fromkeys(split_words(text)))
    if not words:
        return queryset
    return queryset.filter(_backend(queryset).author_words(words))
