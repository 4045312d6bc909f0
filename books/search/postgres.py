"""The search's conditions on PostgreSQL: the search_document column and its indexes.

Migration 0005 builds them: search_document holds the title (weight A, stemmed and as
written), the author (B, as written) and the summary (C, stemmed), accents folded; GIN indexes
cover the whole document, its title part and its title-and-author part, each asked by its own
relevance tier; a B-tree on the folded main title serves the exact-title tier, and the
books_word table (with a trigram index) the typo tolerance.
"""

from dataclasses import replace

from django.db import connections
from django.db.models import BooleanField
from django.db.models.expressions import RawSQL

from books.search.terms import (
    PREFIX_MIN_LENGTH,
    SearchTerms,
    closest,
    fold,
    needs_correction,
)

#: A prefix that begins more words of the titles and authors than this is left to the index.
MAX_COMPLETIONS = 50
#: How many of the nearest words (trigram distance) a typo's correction chooses from.
CORRECTION_CANDIDATES = 20

_DOCUMENT = '"books_book"."search_document"'
_PARTS = {
    "title": f"ts_filter({_DOCUMENT}, '{{a}}')",
    "names": f"ts_filter({_DOCUMENT}, '{{a,b}}')",
    "all": _DOCUMENT,
}
_MAIN_TITLE = "books_fold(split_part(split_part(\"exact\".\"title\", '(', 1), ':', 1))"


def _word(
    word: str, terms: SearchTerms, weights: str = "", *, title: bool = False
) -> tuple[str, list[str]]:
    """A tsquery for one word: its English stem as a whole word (``dragons`` finds "dragon"),
    or the word as written, also as the beginning of a longer one when long enough (``drag``
    finds "Dragonflight"; a stop word like "it" still finds the title "It"). Not the stem as a
    prefix: "miser", the stem of ``miserables``, begins "misery". Words are runs of letters and
    digits (books.search.terms), so nothing of the client's reaches tsquery syntax.

    A prefix the vocabulary completed (complete()) is the words it begins, named: a GIN index
    looks up named words several times faster than it scans for a prefix (on 1M books,
    ``clear:*`` & ``b`` took 27 ms, ``clear | clearly`` & ``b`` 3 ms, planning included), and
    the planner estimates named words from its statistics where it must guess for a prefix.

    A prefix begins words of titles and authors only (``weights`` "AB" where the document
    has the summary too): in the summary a word matches whole or by its stem.

    Where the stem and the word as written are one lexeme (unstemmed), or where only the title
    is searched (``title``: it is indexed stemmed too, so a title with the word has its stem),
    the word is asked for once: the planner adds up the alternatives of an OR as if they were
    different books, and a tier of 0.17 % looked like 0.34 %, past RARE_SHARE (ranking),
    and was walked in id order (47 ms for "naivete" on 1M books)."""
    completions = terms.completions_of(word) if len(word) >= PREFIX_MIN_LENGTH else ()
    folded = fold(word)
    longer = [f"{c}:{weights}" if weights else c for c in completions or () if c != folded]
    typed = f"{word}:*{weights}" if completions is None else " | ".join((word, *longer))
    if word in terms.unstemmed:  # the stem is the word as written: one lexeme
        return "to_tsquery('books_simple', %s)", [typed]
    if title and terms.looked_up and word not in terms.stopped and completions is not None:
        if not longer:
            return "to_tsquery('books_english', %s)", [word]
        typed = " | ".join(longer)
    return (
        "(to_tsquery('books_english', %s) || to_tsquery('books_simple', %s))",
        [word, typed],
    )


def _all_words(
    words: tuple[str, ...], terms: SearchTerms, weights: str = "", *, title: bool = False
) -> tuple[str, list[str]]:
    parts = [_word(word, terms, weights, title=title) for word in words]
    return " && ".join(sql for sql, _ in parts), [p for _, params in parts for p in params]


def _phrase(terms: SearchTerms) -> tuple[str, list[str]]:
    sql, params = _word(terms.words[0], terms)
    for word in terms.words[1:]:
        next_sql, next_params = _word(word, terms)
        sql, params = f"tsquery_phrase({sql}, {next_sql})", params + next_params
    return sql, params


def _matches(part: str, query: tuple[str, list[str]]) -> RawSQL:
    sql, params = query
    return RawSQL(f"{_PARTS[part]} @@ ({sql})", params, output_field=BooleanField())


def exact_title(terms: SearchTerms) -> RawSQL:
    """The main title is the search: the books found through the B-tree on the folded main
    title, as a set of ids. The next tier excludes them (NOT IN: a hash of a few ids) rather
    than folding the title of each of its books again (EXPLAIN ANALYZE on 1M books, a word in
    1,728 titles: 25.8 ms, 2.5 ms this way)."""
    sql, params = _phrase(terms)
    # The phrase is ours (_word: placeholders only), as is every other part.
    return RawSQL(
        f'"books_book"."id" IN (SELECT "exact"."id" FROM "books_book" "exact" '  # noqa: S608
        f'WHERE ts_filter("exact"."search_document", \'{{a}}\') @@ ({sql}) '
        f"AND {_MAIN_TITLE} = books_fold(%s))",
        [*params, terms.phrase],
        output_field=BooleanField(),
    )


def title_phrase(terms: SearchTerms) -> RawSQL:
    return _matches("title", _phrase(terms))


def in_title(terms: SearchTerms) -> RawSQL:
    return _matches("title", _all_words(terms.required, terms, title=True))


def in_names(terms: SearchTerms) -> RawSQL:
    return _matches("names", _all_words(terms.required, terms))


def anywhere(terms: SearchTerms) -> RawSQL:
    return _matches("all", _all_words(terms.required, terms, "AB"))


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


def prefix_range(prefix: str) -> tuple[str, str]:
    """The strings that begin with ``prefix``, in code point order: from ``prefix`` up to,
    not including, ``prefix`` with its last character the next one. A search word is letters
    and digits (books.search.terms), so that character is never the last code point."""
    return prefix, prefix[:-1] + chr(ord(prefix[-1]) + 1)


def complete(terms: SearchTerms, using: str) -> SearchTerms:
    """``terms`` with each word long enough to be a prefix completed: the words of the titles
    and authors it begins, from books_word (one indexed range read a word). A word that
    begins more than MAX_COMPLETIONS of them (a broad search like "pro") stays a prefix for
    the index to scan. books_word holds the words of four letters or more, so a prefix also
    matches the word itself, whole (_word). The same statement asks which words are their
    own English stem ("godel", not "naivete") and which English drops (stop words), so that
    _word asks for each lexeme once."""
    if terms.looked_up or not terms.words:
        return terms
    words = list(dict.fromkeys(terms.words))
    prefixes = [
        word for word in words if len(word) >= PREFIX_MIN_LENGTH and len(fold(word).split()) == 1
    ]
    # The prefix as a range of the primary key (collation "C": code point order). Written as
    # LIKE, the planner preferred the trigram index: its scan 0.38 ms against the key's 0.03,
    # the word's lookup 0.50 ms against 0.13 (EXPLAIN ANALYZE by hand, the bench's 1M books).
    stems = (
        "SELECT %s, NULL::text, to_tsquery('books_english', %s)::text = "
        "to_tsquery('books_simple', %s)::text, numnode(to_tsquery('books_english', %s)) = 0"
    )
    begun = (
        "(SELECT %s, word, NULL, NULL FROM books_word WHERE word >= %s AND word < %s "
        "ORDER BY word LIMIT %s)"
    )
    selects = [stems] * len(words) + [begun] * len(prefixes)
    params: list[str | int] = [value for word in words for value in (word,) * 4]
    for word in prefixes:
        params += [word, *prefix_range(fold(word)), MAX_COMPLETIONS + 1]
    found: dict[str, list[str]] = {word: [] for word in prefixes}
    unstemmed = set()
    stopped = set()
    with connections[using].cursor() as cursor:
        cursor.execute(" UNION ALL ".join(selects), params)
        for word, completion, own_stem, no_stem in cursor.fetchall():
            if completion is not None:
                found[word].append(completion)
            elif own_stem:
                unstemmed.add(word)
            elif no_stem:
                stopped.add(word)
    completions = tuple(
        (word, tuple(completed))
        for word, completed in found.items()
        if len(completed) <= MAX_COMPLETIONS
    )
    return replace(
        terms,
        completions=completions,
        unstemmed=frozenset(unstemmed),
        stopped=frozenset(stopped),
        looked_up=True,
    )


def corrections(terms: SearchTerms, using: str) -> dict[str, str]:
    """Each word of the search that begins no word of the titles and authors, mapped to the
    closest one that does: its nearest neighbours by trigram distance in books_word (the GiST
    index), the closest of those by difflib's ratio (as on SQLite) that a book still has
    (books_word never forgets a word; the title-and-author index says which are in use).
    Empty when nothing needs or finds a correction."""
    corrected = {}
    with connections[using].cursor() as cursor:

        def in_use(operand: str) -> bool:
            cursor.execute(
                f"SELECT EXISTS (SELECT FROM books_book WHERE {_PARTS['names']} "  # noqa: S608
                "@@ to_tsquery('books_simple', %s))",
                [operand],
            )
            return bool(cursor.fetchone()[0])

        for word in terms.required:
            bare = fold(word)
            if not needs_correction(bare) or in_use(f"{bare}:*"):
                continue
            cursor.execute(
                "SELECT word FROM books_word ORDER BY word <-> %s LIMIT %s",
                [bare, CORRECTION_CANDIDATES],
            )
            candidates = [candidate for (candidate,) in cursor.fetchall()]
            for candidate in closest(bare, candidates, n=len(candidates)):
                if in_use(candidate):
                    corrected[word] = candidate
                    break
    return corrected
