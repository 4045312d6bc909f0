"""What a search asks for: its words and ISBNs, read the same way on every database."""

import difflib
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError

from books.isbn import normalize_isbn

#: Shorter words match whole words only: as prefixes, "a" or "to" would match most books.
PREFIX_MIN_LENGTH = 3
#: Typo tolerance looks at words at least this long: "i" is not a typo of "it".
TYPO_MIN_LENGTH = 4
#: PostgreSQL's English stop words (tsearch_data/english.stop), which its stemmer leaves out
#: of summaries: beside other words they are not required anywhere ("the hobbit" needs only
#: "hobbit"; the exact-title and phrase tiers still compare them), on both databases.
STOP_WORDS = frozenset(
    (  # noqa: SIM905 - the list as PostgreSQL's file has it, one string
        "i me my myself we our ours ourselves you your yours yourself yourselves he him his "
        "himself she her hers herself it its itself they them their theirs themselves what "
        "which who whom this that these those am is are was were be been being have has had "
        "having do does did doing a an the and but if or because as until while of at by for "
        "with about against between into through during before after above below to from up "
        "down in out on off over under again further then once here there when where why how "
        "all any both each few more most other some such no nor not only own same so than too "
        "very s t can will just don should now"
    ).split()
)
#: A search of more words than this is refused: each word is a condition on the index.
MAX_WORDS = 10
MAX_LENGTH = 200

# An ISBN as people paste or scan it: digits with hyphens or spaces, an X check digit, and
# perhaps "ISBN", "ISBN-10:" or "ISBN-13:" before it. Validated by python-stdnum after.
_ISBN = re.compile(
    r"(?:\bISBN(?:-?1[03])?\s*:?\s*)?(?<![0-9])([0-9](?:[ -]?[0-9]){8,11}[ -]?[0-9Xx])(?![0-9])",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class SearchTerms:
    words: tuple[str, ...]  # lower case, in the order typed
    isbns: tuple[str, ...] = ()  # ISBN-13s found in the text
    #: The words every match must have: no repeats, and no word that begins another one (that
    #: one implies it), unless it is too short to be a prefix.
    required: tuple[str, ...] = field(default=())
    #: On PostgreSQL, each word long enough to be a prefix with the words of the titles and
    #: authors it begins (books.search.postgres.complete); a word not here is matched as a
    #: prefix by the index itself.
    completions: tuple[tuple[str, tuple[str, ...]], ...] = ()
    #: On PostgreSQL, the words whose English stem is the word as written ("godel", not
    #: "naivete"): one lexeme, to be asked for once.
    unstemmed: frozenset[str] = frozenset()
    #: On PostgreSQL, the words its English configuration drops (stop words: "it", "the").
    stopped: frozenset[str] = frozenset()
    #: Whether PostgreSQL's vocabulary was asked (completions and unstemmed are its answer).
    looked_up: bool = False

    def completions_of(self, word: str) -> tuple[str, ...] | None:
        """The words ``word`` begins, as the vocabulary has them, or None when not looked up."""
        for prefix, words in self.completions:
            if prefix == word:
                return words
        return None

    @property
    def phrase(self) -> str:
        return " ".join(self.words)

    def is_empty(self) -> bool:
        return not self.words and not self.isbns


def split_words(text: str) -> list[str]:
    """``text``'s words: runs of letters and decimal digits, lower case. Anything else
    separates words, as PostgreSQL's [:alnum:] reads them (so "²" and "½" separate, and an
    e-mail address or URL is several words)."""
    cleaned = "".join(c if c.isalpha() or c.isdecimal() else " " for c in text)
    return cleaned.lower().split()


def parse(text: str) -> SearchTerms:
    isbns: list[str] = []

    def take_isbn(match: re.Match[str]) -> str:
        try:
            isbn = normalize_isbn(match.group(1))
        except ValidationError:
            return match.group(0)  # not an ISBN: its digits are words like any other
        if isbn not in isbns:
            isbns.append(isbn)
        return " "

    words = split_words(_ISBN.sub(take_isbn, text))
    distinct = list(dict.fromkeys(words))
    meaningful = [word for word in distinct if word not in STOP_WORDS]
    if meaningful:
        distinct = meaningful
    required = tuple(
        word
        for word in distinct
        if len(word) < PREFIX_MIN_LENGTH
        or not any(other != word and other.startswith(word) for other in distinct)
    )
    return SearchTerms(words=tuple(words), isbns=tuple(isbns), required=required)


def fold(text: str) -> str:
    """Lower case, accents removed, anything but letters and digits as single spaces: how
    the search compares whole titles (PostgreSQL's books_fold() does the same in SQL)."""
    decomposed = unicodedata.normalize("NFKD", text)
    bare = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(split_words(bare))


def main_title(title: str) -> str:
    """A title without its series note or subtitle: "Dune (Dune Chronicles #1)" is "Dune"."""
    return title.split("(", 1)[0].split(":", 1)[0]


def best_correction(word: str, candidates: Iterable[str]) -> str | None:
    """The candidate closest to ``word`` (difflib's ratio, at least 0.6: "cultrue" and
    "culture" are 0.86, two letters swapped), or None."""
    close = closest(word, candidates, n=1)
    return close[0] if close else None


def closest(word: str, candidates: Iterable[str], *, n: int) -> list[str]:
    """Up to ``n`` candidates close to ``word`` (difflib's ratio at least 0.6), closest first."""
    candidates = list(candidates)
    if n < 1 or not candidates:  # difflib refuses n=0: an empty vocabulary offers nothing
        return []
    return difflib.get_close_matches(word, candidates, n=n, cutoff=0.6)


def needs_correction(word: str) -> bool:
    """Whether typo tolerance looks at ``word``: long enough (TYPO_MIN_LENGTH)."""
    return len(word) >= TYPO_MIN_LENGTH
