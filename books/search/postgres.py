"""The search's conditions on PostgreSQL: the search_document column and its indexes.

Migration 0005 builds them: search_document holds the title (weight A, stemmed and as
written), the author (B, as written) and the summary (C, stemmed), accents folded; GIN indexes
cover the whole document, its title part and its title-and-author part, each asked by its own
relevance tier; a B-tree on the folded main title serves the exact-title tier and a trigram
index on the folded title and author the typo tolerance (pg_trgm's word similarity).
"""

from django.db.models import BooleanField, FloatField
from django.db.models.expressions import RawSQL

from books.search.terms import PREFIX_MIN_LENGTH, TYPO_MIN_LENGTH, SearchTerms

#: pg_trgm's word similarity a title-and-author must reach for a typo match: "tolkein" is
#: 0.5 from "tolkien", "hary poter" 0.6 from "harry potter"; 0.6, the default, misses the
#: first. Set per search transaction (books.search.ranking.deadline).
WORD_SIMILARITY_THRESHOLD = 0.45

_DOCUMENT = '"books_book"."search_document"'
_PARTS = {
    "title": f"ts_filter({_DOCUMENT}, '{{a}}')",
    "names": f"ts_filter({_DOCUMENT}, '{{a,b}}')",
    "all": _DOCUMENT,
}
_MAIN_TITLE = "books_fold(split_part(split_part(\"books_book\".\"title\", '(', 1), ':', 1))"
_NAMES = 'books_fold("books_book"."title" || \' \' || "books_book"."author")'


def _word(word: str) -> tuple[str, list[str]]:
    """A tsquery for one word: its English stem as a whole word (``dragons`` finds "dragon"),
    or the word as written, also as the beginning of a longer one when long enough (``drag``
    finds "Dragonflight"; a stop word like "it" still finds the title "It"). Not the stem as a
    prefix: "miser", the stem of ``miserables``, begins "misery". Words are runs of letters and
    digits (books.search.terms), so nothing of the client's reaches tsquery syntax."""
    typed = word + (":*" if len(word) >= PREFIX_MIN_LENGTH else "")
    return (
        "(to_tsquery('books_english', %s) || to_tsquery('books_simple', %s))",
        [word, typed],
    )


def _all_words(words: tuple[str, ...]) -> tuple[str, list[str]]:
    parts = [_word(word) for word in words]
    return " && ".join(sql for sql, _ in parts), [p for _, params in parts for p in params]


def _phrase(words: tuple[str, ...]) -> tuple[str, list[str]]:
    sql, params = _word(words[0])
    for word in words[1:]:
        next_sql, next_params = _word(word)
        sql, params = f"tsquery_phrase({sql}, {next_sql})", params + next_params
    return sql, params


def _matches(part: str, query: tuple[str, list[str]]) -> RawSQL:
    sql, params = query
    return RawSQL(f"{_PARTS[part]} @@ ({sql})", params, output_field=BooleanField())


def exact_title(terms: SearchTerms) -> RawSQL:
    sql, params = _phrase(terms.words)
    return RawSQL(
        f"{_PARTS['title']} @@ ({sql}) AND {_MAIN_TITLE} = books_fold(%s)",
        [*params, terms.phrase],
        output_field=BooleanField(),
    )


def title_phrase(terms: SearchTerms) -> RawSQL:
    return _matches("title", _phrase(terms.words))


def in_title(terms: SearchTerms) -> RawSQL:
    return _matches("title", _all_words(terms.required))


def in_names(terms: SearchTerms) -> RawSQL:
    return _matches("names", _all_words(terms.required))


def anywhere(terms: SearchTerms) -> RawSQL:
    return _matches("all", _all_words(terms.required))


def author_words(words: tuple[str, ...]) -> RawSQL:
    """Every word begins a word of the author's name (weight B), as written, accents folded."""
    parts = []
    params: list[str] = []
    for word in words:
        operand = word + (":*B" if len(word) >= PREFIX_MIN_LENGTH else ":B")
        parts.append("to_tsquery('books_simple', %s)")
        params.append(operand)
    return RawSQL(
        f"{_PARTS['names']} @@ ({' && '.join(parts)})", params, output_field=BooleanField()
    )


def _typo_words(terms: SearchTerms) -> list[str]:
    return [word for word in terms.required if len(word) >= TYPO_MIN_LENGTH]


def similar(terms: SearchTerms) -> RawSQL:
    """Every word of the search (long enough for a typo) close to a word of the title and
    author: pg_trgm's word similarity at least WORD_SIMILARITY_THRESHOLD, each through the
    trigram index."""
    words = _typo_words(terms)
    sql = " AND ".join(f"books_fold(%s) <%% {_NAMES}" for _ in words)
    return RawSQL(sql, words, output_field=BooleanField())


def similarity(terms: SearchTerms) -> RawSQL:
    """How close: the words' mean word similarity (1 for a word found as it is)."""
    words = _typo_words(terms)
    total = " + ".join(f"word_similarity(books_fold(%s), {_NAMES})" for _ in words)
    return RawSQL(f"(({total}) / {len(words)})::float8", words, output_field=FloatField())
