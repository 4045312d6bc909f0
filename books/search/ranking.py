"""Relevance: the matches of a search in tiers, best first, and keyset pages through them.

Tiers, each ordered by id: 0 the ISBN in the search; 1 the (main) title is the search; 2 the
title has the words as a phrase; 3 every word is in the title; 4 every word is in the title or
the author; 5 every word is somewhere (the summary too). Each tier's condition implies the next
one's, so a tier is "its condition and not the one before". Only when tiers 0-5 find nothing,
tier 6: the books the search finds with its typos corrected (each unknown word replaced by the
closest word of the titles and authors), which the answer reports as "similar".

A page is read tier by tier from its position (tier, id), each tier one indexed query (see
postgres.py and sqlite.py), so a deep page costs what the first does. On PostgreSQL a rare
tier is read through its GIN index and sorted, a common one in id order with its condition as a
filter: ranking asks the planner's estimates once per page and chooses (see _estimates).
"""

import contextlib
import enum
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from django.conf import settings
from django.db import DatabaseError, connections, transaction
from django.db.models import Case, F, IntegerField, Q, QuerySet, Value, When
from rest_framework import status
from rest_framework.exceptions import APIException

from books.models import Book
from books.search import postgres, sqlite
from books.search.terms import SearchTerms, needs_correction, split_words

#: PostgreSQL's SQLSTATE for a statement cancelled by statement_timeout.
_QUERY_CANCELED = "57014"
#: A tier the planner expects to match less than this share of the books is read through
#: its GIN index (then sorted by id), not by walking the books in id order and testing each:
#: at 1M books a word in no title took 0.8-1.7 s that way, the planner guessing ~0.08% for
#: any word it has no statistics on. Walking in id order costs ~2 µs a book tested and finds
#: a page after 21/share books; the GIN index ~6 µs per match: even at 0.3%.
RARE_SHARE = 0.003


#: One statement reads a page whose tiers are all rare only while the planner expects at most
#: this many matches in all: it gives every match its tier by testing the tiers' conditions,
#: ~9 µs a match on 1M books (an accented surname in 1,729 books: 16 ms), against ~3 µs read
#: through a tier's own index (1,606 books: 4.4 ms). The bound lies between a word the
#: statistics do not know (estimated at ~210 books) and such a surname.
MERGE_MAX_MATCHES = 500

#: How long, and for how many searches, a process remembers which tiers are rare.
ESTIMATE_SECONDS = 300
ESTIMATES_KEPT = 1000
_ESTIMATES: dict[tuple[Any, ...], tuple[float, "Estimates"]] = {}


class Tier(enum.IntEnum):
    ISBN = 0
    EXACT_TITLE = 1
    TITLE_PHRASE = 2
    IN_TITLE = 3
    IN_NAMES = 4
    ANYWHERE = 5
    SIMILAR = 6


@dataclass(frozen=True)
class Estimates:
    """What the planner expects of a search's tiers: which are rare, and how many books all
    of them match."""

    rare: frozenset[Tier] = frozenset()
    matches: float = 0.0

    def merges(self, tiers: set[Tier]) -> bool:
        """Whether one statement reads a page of these tiers (_merged_rows)."""
        return bool(tiers) and tiers <= self.rare and self.matches <= MERGE_MAX_MATCHES


@dataclass(frozen=True)
class Position:
    tier: int
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
            "did_you_mean": self.did_you_mean if self.similar else None,
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
    """Run a search's queries under PostgreSQL's statement timeout (a 503 when it fires) and
    without the NOTICE a stop word causes."""
    connection = connections[using]
    if connection.vendor != "postgresql":
        yield
        return
    try:
        with transaction.atomic(using=using), connection.cursor() as cursor:
            cursor.execute(
                "SELECT set_config('statement_timeout', %s, true), "
                "set_config('client_min_messages', 'warning', true)",
                [str(settings.SEARCH_STATEMENT_TIMEOUT_MS)],
            )
            yield
    except DatabaseError as error:
        if getattr(error.__cause__, "sqlstate", None) == _QUERY_CANCELED:
            raise SearchTooSlow() from error
        raise


# --- which books match -------------------------------------------------------------------


def _tier_conditions(terms: SearchTerms, backend: ModuleType) -> list[tuple[Tier, Any]]:
    """Each exact tier of the search with its condition (not yet excluding the tiers before)."""
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


def _matches_exactly(terms: SearchTerms, backend: ModuleType) -> Q:
    """Books in any exact tier: the ISBN's, or every word somewhere (the other tiers imply it)."""
    condition = Q(isbn__in=terms.isbns) if terms.isbns else Q()
    if terms.words:
        condition |= Q(backend.anywhere(terms))
    return condition


def _exact_tiers(queryset: QuerySet[Book], terms: SearchTerms) -> list[tuple[Tier, QuerySet]]:
    """Each exact tier's books: its condition, and not the tiers' before it."""
    if terms.is_empty():
        return [(Tier.ANYWHERE, queryset)]
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
        tiers.append((tier, query))
    return tiers


def _complete(queryset: QuerySet[Book], state: SearchState) -> None:
    """On PostgreSQL, the search's prefixes named by the vocabulary (postgres.complete)."""
    if _backend(queryset) is postgres and not queryset.query.is_empty():
        state.terms = postgres.complete(state.terms, queryset.db)


def _similar(queryset: QuerySet[Book], state: SearchState) -> QuerySet[Book] | None:
    """The books the search finds with its typos corrected (its words too short for a typo
    left out), recording the corrected search in ``state``; None without a correction."""
    terms = state.terms
    if not any(needs_correction(word) for word in terms.required):
        return None
    corrected = _backend(queryset).corrections(terms, queryset.db)
    if not corrected:
        return None
    state.did_you_mean = " ".join(corrected.get(word, word) for word in terms.words)
    words = tuple(corrected.get(word, word) for word in terms.required if needs_correction(word))
    fixed = SearchTerms(words=words, required=words)
    return queryset.filter(_backend(queryset).anywhere(fixed))


def matching(queryset: QuerySet[Book], state: SearchState) -> QuerySet[Book]:
    """The books the search finds, for an explicit ordering or the export: the exact matches,
    or, when there are none, the similar ones."""
    if state.terms.is_empty():
        return queryset
    with deadline(queryset.db):
        _complete(queryset, state)
        found = queryset.filter(_matches_exactly(state.terms, _backend(queryset)))
        if found.exists():
            return found
        similar = _similar(queryset, state)
        if similar is None or not similar.exists():
            return found
    state.similar = True
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
    when ``backwards``, in the order scanned), each with its ``search_tier``."""
    in_similar = position is not None and position.tier == Tier.SIMILAR
    rows: list[Book] = []

    with deadline(queryset.db):
        _complete(queryset, state)
        all_tiers = [] if in_similar else _exact_tiers(queryset, state.terms)
        tiers = all_tiers
        if position is not None:
            tiers = [
                (tier, query)
                for tier, query in tiers
                if (tier <= position.tier if backwards else tier >= position.tier)
            ]
        if backwards:
            tiers.reverse()
        estimates = _estimates_remembered(queryset, state.terms, all_tiers)

        def read(tier: Tier, query: QuerySet[Book], rare: bool) -> None:
            if position is not None and tier == position.tier:
                op = ("lt" if backwards else "gt") + ("e" if inclusive else "")
                query = query.filter(**{f"id__{op}": position.id})
            # id + 0 has no index: the planner reads the tier's matches from its GIN index. The
            # exact-title tier's B-tree (folded main title, id) gives them in id order already.
            key: Any = F("id") + 0 if rare and tier != Tier.EXACT_TITLE else F("id")
            query = query.order_by(key.desc() if backwards else key.asc())
            for book in query[: limit - len(rows)]:
                book.search_tier = int(tier)  # type: ignore[attr-defined]  # the cursor's
                rows.append(book)

        if estimates.merges({tier for tier, _ in tiers}):
            rows = _merged_rows(queryset, state.terms, position, backwards, inclusive, limit)
        else:
            for tier, query in tiers:
                read(tier, query, tier in estimates.rare)
                if len(rows) >= limit:
                    break
        # Typo tolerance is for a search that matches nothing exactly: on its first page, or
        # on a page already among the similar books.
        if in_similar or (position is None and not rows):
            similar = _similar(queryset, state)
            if similar is not None:
                read(Tier.SIMILAR, similar, rare=False)
    state.similar = in_similar or any(
        book.search_tier == Tier.SIMILAR  # type: ignore[attr-defined]
        for book in rows
    )
    return rows


def _merged_rows(
    queryset: QuerySet[Book],
    terms: SearchTerms,
    position: Position | None,
    backwards: bool,
    inclusive: bool,
    limit: int,
) -> list[Book]:
    """The page in one query when every tier is rare: all the search's matches from the GIN
    index, each given its tier by a CASE, sorted by (tier, id). One statement instead of one
    a tier (the common case for a search of a few specific words)."""
    conditions = _tier_conditions(terms, _backend(queryset))
    # Each tier's condition implies the next one's: the first that holds is the book's tier.
    tier_of = Case(
        *(When(condition, then=Value(int(tier))) for tier, condition in conditions[:-1]),
        default=Value(int(conditions[-1][0])),
        output_field=IntegerField(),
    )
    matches = _matches_exactly(terms, _backend(queryset))
    query = queryset.filter(matches).annotate(search_tier=tier_of)
    if position is not None:
        op = "lt" if backwards else "gt"
        query = query.filter(
            Q(**{f"search_tier__{op}": position.tier})
            | Q(search_tier=position.tier, **{f"id__{op}{'e' if inclusive else ''}": position.id})
        )
    order = ("-search_tier", "-id") if backwards else ("search_tier", "id")
    return list(query.order_by(*order)[:limit])


def _estimates_remembered(
    queryset: QuerySet[Book], terms: SearchTerms, tiers: list[tuple[Tier, QuerySet]]
) -> Estimates:
    """_estimates() of the search's ``tiers`` (all of them, whatever the page), remembered for
    ESTIMATE_SECONDS per search and filters: the planner's estimates change only with its
    statistics, and a search's next pages, or the same search again, need not pay for the
    EXPLAIN (~5 ms on 1M books). SQLite has no choice to make."""
    # An ISBN alone is one unique-index lookup: nothing to choose either.
    if _backend(queryset) is not postgres or queryset.query.is_empty() or not terms.words:
        return Estimates()
    sql, params = queryset.order_by().values("id").query.get_compiler(using=queryset.db).as_sql()
    key = (queryset.db, sql, tuple(str(param) for param in params), terms)
    now = time.monotonic()
    remembered = _ESTIMATES.get(key)
    if remembered is not None and now - remembered[0] < ESTIMATE_SECONDS:
        return remembered[1]
    estimates = _estimates(queryset, terms, tiers)
    if len(_ESTIMATES) >= ESTIMATES_KEPT:
        _ESTIMATES.clear()
    _ESTIMATES[key] = (now, estimates)
    return estimates


def _estimates(
    queryset: QuerySet[Book], terms: SearchTerms, tiers: list[tuple[Tier, QuerySet]]
) -> Estimates:
    """The tiers PostgreSQL's planner expects to match less than RARE_SHARE of the books, and
    the matches of all of them: one EXPLAIN of the whole table, of all the matches and of each
    tier in a UNION ALL, whose branches carry each one's estimate."""
    parts = []
    params: list[Any] = []
    every = queryset.filter(_matches_exactly(terms, postgres))
    for query in [queryset, every, *(query for _, query in tiers)]:
        ids = query.order_by().values("id")
        sql, query_params = ids.query.get_compiler(using=queryset.db).as_sql()
        parts.append(f"({sql})")
        params += query_params
    with connections[queryset.db].cursor() as cursor:
        cursor.execute("EXPLAIN (FORMAT JSON) " + " UNION ALL ".join(parts), params)
        plan = cursor.fetchone()[0]
    if isinstance(plan, str):
        plan = json.loads(plan)
    branches = plan[0]["Plan"].get("Plans", [])
    if len(branches) != len(parts):
        return Estimates()  # a plan of another shape: let the planner choose everywhere
    total = max(branches[0]["Plan Rows"], 1)
    rows = [branch["Plan Rows"] for branch in branches[2:]]
    return Estimates(
        rare=frozenset(
            tier for (tier, _), count in zip(tiers, rows, strict=True) if count < RARE_SHARE * total
        ),
        matches=float(branches[1]["Plan Rows"]),
    )


def author_condition(queryset: QuerySet[Book], text: str) -> QuerySet[Book]:
    """``author_name``: every word of ``text`` begins a word of the author's name."""
    words = tuple(dict.fromkeys(split_words(text)))
    if not words:
        return queryset
    return queryset.filter(_backend(queryset).author_words(words))
