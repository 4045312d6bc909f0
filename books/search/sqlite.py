"""The search's conditions on SQLite: FTS5 tables kept in sync by triggers (migration 0005).

books_book_fts indexes title, author and summary with Porter stems and diacritics removed;
column filters give the relevance tiers ({title}, {title author}). books_book_words indexes
title and author as written (diacritics removed): it matches words as typed and prefixes, and
its vocabulary corrects typos (books_word plays that part on PostgreSQL). The exact-title
tier compares main titles folded by books.search.terms, registered on each connection as
books_main_title().
"""

from typing import Any

from django.db import connections
from django.db.backends.signals import connection_created
from django.db.models import BooleanField
from django.db.models.expressions import RawSQL

from books.search.terms import (
    PREFIX_MIN_LENGTH,
    SearchTerms,
    best_correction,
    fold,
    main_title,
    needs_correction,
)

_IN_STEMS = '"books_book"."id" IN (SELECT rowid FROM books_book_fts WHERE books_book_fts MATCH %s)'
_IN_WORDS = (
    '"books_book"."id" IN (SELECT rowid FROM books_book_words WHERE books_book_words MATCH %s)'
)


def _quoted(word: str) -> str:
    # Words are runs of letters and digits (books.search.terms): safe inside double quotes.
    return f'"{word}"'


def _typed(word: str) -> str:
    return _quoted(word) + ("*" if len(word) >= PREFIX_MIN_LENGTH else "")


def _words_in(words: tuple[str, ...], stemmed: str, typed: str) -> RawSQL:
    """Every word in the ``stemmed`` columns as a stem (Porter, whole words) or in the
    ``typed`` columns (title and author) as written, also as a prefix: as on PostgreSQL
    (postgres._word), where a prefix begins words of titles and authors only."""
    parts = []
    params = []
    for word in words:
        parts.append(f"({_IN_STEMS} OR {_IN_WORDS})")
        params += [f"{{{stemmed}}} : {_quoted(word)}", f"{{{typed}}} : {_typed(word)}"]
    return RawSQL(" AND ".join(parts), params, output_field=BooleanField())


def _phrase(words: tuple[str, ...]) -> str:
    return "{title} : (" + " + ".join(_quoted(word) for word in words) + ")"


def exact_title(terms: SearchTerms) -> RawSQL:
    return RawSQL(
        f'{_IN_STEMS} AND books_main_title("books_book"."title") = %s',
        [_phrase(terms.words), fold(terms.phrase)],
        output_field=BooleanField(),
    )


def title_phrase(terms: SearchTerms) -> RawSQL:
    return RawSQL(_IN_STEMS, [_phrase(terms.words)], output_field=BooleanField())


def in_title(terms: SearchTerms) -> RawSQL:
    return _words_in(terms.required, "title", "title")


def in_names(terms: SearchTerms) -> RawSQL:
    return _words_in(terms.required, "title author", "title author")


def anywhere(terms: SearchTerms) -> RawSQL:
    return _words_in(terms.required, "title author summary", "title author")


def author_words(words: tuple[str, ...]) -> RawSQL:
    return RawSQL(
        _IN_WORDS,
        ["{author} : (" + " AND ".join(_typed(word) for word in words) + ")"],
        output_field=BooleanField(),
    )


def corrections(terms: SearchTerms, using: str) -> dict[str, str]:
    """Each word of the search that begins no word of the titles and authors, mapped to the
    closest one that does (difflib's ratio over the whole vocabulary of books_book_words):
    empty when nothing needs or finds a correction."""
    with connections[using].cursor() as cursor:
        cursor.execute("SELECT term FROM books_book_words_vocab")
        vocabulary = [term for (term,) in cursor.fetchall() if needs_correction(term)]
    corrected = {}
    for word in terms.required:
        bare = fold(word)
        if not needs_correction(bare) or any(term.startswith(bare) for term in vocabulary):
            continue
        best = best_correction(bare, vocabulary)
        if best is not None:
            corrected[word] = best
    return corrected


def _register_functions(sender: Any, connection: Any, **kwargs: Any) -> None:
    if connection.vendor == "sqlite":
        connection.connection.create_function(
            "books_main_title",
            1,
            lambda title: None if title is None else fold(main_title(title)),
            deterministic=True,
        )


connection_created.connect(_register_functions, dispatch_uid="books.search.sqlite")
