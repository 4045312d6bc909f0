"""The search's conditions on SQLite: FTS5 tables kept in sync by triggers (migration 0005).

books_book_fts indexes title, author and summary with Porter stems and diacritics removed;
column filters give the relevance tiers ({title}, {title author}). books_book_words indexes
title and author as written (diacritics removed): its vocabulary corrects typos, the role
pg_trgm plays on PostgreSQL. The exact-title tier compares main titles folded by
books.search.terms, registered on each connection as books_main_title().
"""

import difflib
from typing import Any

from django.db import connections
from django.db.backends.signals import connection_created
from django.db.models import BooleanField
from django.db.models.expressions import RawSQL

from books.search.terms import (
    PREFIX_MIN_LENGTH,
    TYPO_MIN_LENGTH,
    SearchTerms,
    fold,
    main_title,
)

_IN_FTS = '"books_book"."id" IN (SELECT rowid FROM books_book_fts WHERE books_book_fts MATCH %s)'


def _word(word: str) -> str:
    # Words are runs of letters and digits (books.search.terms): safe inside double quotes.
    return f'"{word}"' + ("*" if len(word) >= PREFIX_MIN_LENGTH else "")


def _matches(query: str) -> RawSQL:
    return RawSQL(_IN_FTS, [query], output_field=BooleanField())


def _all_words(words: tuple[str, ...]) -> str:
    return "(" + " AND ".join(_word(word) for word in words) + ")"


def _phrase(words: tuple[str, ...]) -> str:
    return "{title} : (" + " + ".join(_word(word) for word in words) + ")"


def exact_title(terms: SearchTerms) -> RawSQL:
    return RawSQL(
        f'{_IN_FTS} AND books_main_title("books_book"."title") = %s',
        [_phrase(terms.words), fold(terms.phrase)],
        output_field=BooleanField(),
    )


def title_phrase(terms: SearchTerms) -> RawSQL:
    return _matches(_phrase(terms.words))


def in_title(terms: SearchTerms) -> RawSQL:
    return _matches("{title} : " + _all_words(terms.required))


def in_names(terms: SearchTerms) -> RawSQL:
    return _matches("{title author} : " + _all_words(terms.required))


def anywhere(terms: SearchTerms) -> RawSQL:
    return _matches(_all_words(terms.required))


def author_words(words: tuple[str, ...]) -> RawSQL:
    return RawSQL(
        '"books_book"."id" IN (SELECT rowid FROM books_book_words WHERE books_book_words MATCH %s)',
        ["{author} : " + _all_words(words)],
        output_field=BooleanField(),
    )


def corrected_words(terms: SearchTerms, using: str) -> tuple[str, ...] | None:
    """The search's words with each unknown one replaced by the closest word of the titles
    and authors; None when no word needed (or found) a correction."""
    with connections[using].cursor() as cursor:
        cursor.execute("SELECT term FROM books_book_words_vocab")
        vocabulary = [term for (term,) in cursor.fetchall()]
    known = set(vocabulary)
    corrected = []
    for word in (fold(word) for word in terms.required):
        if (
            word in known
            or len(word) < TYPO_MIN_LENGTH
            or any(term.startswith(word) for term in vocabulary)
        ):
            corrected.append(word)
            continue
        close = difflib.get_close_matches(word, vocabulary, n=1, cutoff=0.6)
        corrected.append(close[0] if close else word)
    return tuple(corrected) if list(corrected) != [fold(w) for w in terms.required] else None


def _register_functions(sender: Any, connection: Any, **kwargs: Any) -> None:
    if connection.vendor == "sqlite":
        connection.connection.create_function(
            "books_main_title",
            1,
            lambda title: None if title is None else fold(main_title(title)),
            deterministic=True,
        )


connection_created.connect(_register_functions, dispatch_uid="books.search.sqlite")
