"""The benchmark's books: one deterministic, seeded catalogue that every system loads.

Titles are two to five real English words, summaries 200-600 characters of sentences made of
them, authors come from a pool sized so that one author has about ``BOOKS_PER_AUTHOR`` books
whatever the row count, and every ISBN-13 is valid and distinct. Rows are generated and
written as they go, so a million costs seconds and no memory to speak of.

So that every kind of search a reader makes has books to find, some books also have:

- an accented author (one author in ``ACCENTED_AUTHOR_EVERY`` gets a surname such as
  "Brontë" or "García", some an accented first name too) or an accented title word
  ("Misérables", "château"), for searches typed without the accents;
- a rare word in its title (one book in ``RARE_EVERY``): a coined word such as "bakotin"
  that about ``BOOKS_PER_RARE_WORD`` books share;
- a one-letter word in its title (one book in about ``LETTER_EVERY``): "Harbor x engine".

Those come from a random stream of their own, so every other word, author, date and ISBN is
what the seed gave before they existed. While it writes, the generator samples the queries of
the search scenarios (``SearchProbes``) from the books themselves.
"""

import csv
import datetime
import itertools
import random
import unicodedata
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Generic, TypeVar

from stdnum import isbn as stdnum_isbn

from books.demo import demo_isbn

FIELDS = ("title", "author", "publication_date", "isbn", "summary")
BOOKS_PER_AUTHOR = 40
_SENTENCES = 4096
_FIRST_DAY = datetime.date(1900, 1, 1).toordinal()
_DAYS = datetime.date(2024, 12, 31).toordinal() - _FIRST_DAY
# Words a full-text search may treat as stop words (PostgreSQL's English ones of five letters
# or more among them): never one of the words a search uses.
_STOP_WORDS_TEXT = (
    "about above after again against along already although always among another anyone "
    "anything around because become before behind being below between both could doing "
    "during either enough every everything further from have having here herself himself "
    "itself maybe might most much must myself never other others ourselves over perhaps "
    "rather really should since some something still such than that their theirs them "
    "themselves then there these they thing those though through together under until very "
    "what when where whether which while whom whose will with within without would yours "
    "yourself yourselves"
)
_STOP_WORDS = frozenset(_STOP_WORDS_TEXT.split())
#: PostgreSQL's English stop words (tsearch_data/english.stop): no broadest search is one.
_ENGLISH_STOP_WORDS_TEXT = (
    "i me my myself we our ours ourselves you your yours yourself yourselves he him his himself "
    "she her hers herself it its itself they them their theirs themselves what which who whom "
    "this that these those am is are was were be been being have has had having do does did "
    "doing a an the and but if or because as until while of at by for with about against "
    "between into through during before after above below to from up down in out on off over "
    "under again further then once here there when where why how all any both each few more "
    "most other some such no nor not only own same so than too very s t can will just don "
    "should now"
)
_ENGLISH_STOP_WORDS = frozenset(_ENGLISH_STOP_WORDS_TEXT.split())
#: The shortest word a search reads as a prefix (books.search.terms.PREFIX_MIN_LENGTH):
#: the broadest searches are beginnings of words this long.
PREFIX_MIN_LENGTH = 3

#: One author in this many has an accented surname.
ACCENTED_AUTHOR_EVERY = 16
#: Of those, one in this many has an accented first name too.
ACCENTED_FIRST_NAME_EVERY = 3
#: One book in about this many has an accented word in its title.
ACCENTED_TITLE_EVERY = 30
#: Book number n has a rare (coined) word in its title when n % RARE_EVERY == RARE_OFFSET.
RARE_EVERY = 50
RARE_OFFSET = 7
#: About this many books share each coined word.
BOOKS_PER_RARE_WORD = 3
#: One book in about this many has a one-letter word in its title.
LETTER_EVERY = 25
#: The one-letter title words: none is an English stop word ("a", "i", "s", "t").
TITLE_LETTERS = "bcdjkvxz"
#: Accented names and words whose letters all fold to ASCII (NFKD, then without the marks).
_ACCENTED_SURNAMES_TEXT = (
    "García Márquez Brontë Dvořák Müller Núñez Ibáñez Čapek Hašek Lemaître Camões Andrić Böll "
    "Sjöberg Gödel Schrödinger Erdős Kröger Ångström Żeromski Valéry Škvorecký Gaspé Cortázar "
    "Bolaño Queirós Çelik Öztürk Şahin Pérez Gómez"
)
_ACCENTED_FIRST_NAMES_TEXT = "José Renée Zoë Chloé André Inés Jürgen Ágnes Émile Bärbel"
_ACCENTED_TITLE_WORDS_TEXT = (
    "Misérables château naïveté fiancée façade piñata señorita crème brûlée soirée protégé "
    "émigré mañana garçon fräulein smörgåsbord jalapeño déjà fête"
)
ACCENTED_SURNAMES = tuple(_ACCENTED_SURNAMES_TEXT.split())
ACCENTED_FIRST_NAMES = tuple(_ACCENTED_FIRST_NAMES_TEXT.split())
ACCENTED_TITLE_WORDS = tuple(_ACCENTED_TITLE_WORDS_TEXT.split())
#: Title words of at least this many letters are the ones misspelled for the typo searches.
MISSPELL_MIN_LENGTH = 6
#: Queries of each kind sampled from the books (each scenario's paths).
PROBES_PER_KIND = 200
#: The most common title words: their pairs are the "two common words" searches.
COMMON_WORDS = 12

_CONSONANTS = "bdfgklmnprstvz"
_VOWELS = "aeiou"
# The coined words' last syllable: a vowel and "n" or "m", so that no English stemmer's
# suffix ("-er", "-al", "-es", "-y", ...) ends one, and a coined word is its own stem.
_LAST_VOWELS = "aiou"
_LAST_CONSONANTS = "nm"
_SYLLABLES = len(_CONSONANTS) * len(_VOWELS)
#: How many distinct coined words there are.
COINED_WORDS = _SYLLABLES**2 * len(_CONSONANTS) * len(_LAST_VOWELS) * len(_LAST_CONSONANTS)
# Coprime with COINED_WORDS (2**6 * 5**2 * 7**3), so index -> index * stride mod COINED_WORDS is a
# bijection that spreads neighbouring indexes over unlike words.
_COINED_STRIDE = 339_177  # about COINED_WORDS times the golden ratio's fraction

T = TypeVar("T")


@dataclass(frozen=True)
class SearchQuery:
    """Two words of one book's title and its author: a search that finds at least that book."""

    words: tuple[str, str]
    author: str


@dataclass
class SearchProbes:
    """The search scenarios' queries, each made from the catalogue it goes with.

    - common: two of the most common title words (frequent in summaries too);
    - rare: a coined word that a few books share;
    - letter: a one-letter title word and another word of the same title;
    - typo: a title word misspelled (two letters swapped or one dropped), which begins no word
      of the catalogue, so only typo tolerance can find anything;
    - accent: an accented surname or title word typed without its accents, alone or with
      another word of the book ("bronte", "emile schrodinger", "miserables engine");
    - isbn: a book's ISBN, hyphenated, as an ISBN-13 or (one in three) an ISBN-10;
    - deep_words: the most common title words alone, whose relevance-ordered results run to
      many pages (the deep-page scenario follows their ``next`` links);
    - broadest: the broadest searches there are: the commonest three-letter beginnings of
      words (the shortest a search reads as a prefix) alone and in pairs, the commonest words
      alone, and "a e i o".
    """

    common: list[str] = field(default_factory=list)
    rare: list[str] = field(default_factory=list)
    letter: list[str] = field(default_factory=list)
    typo: list[str] = field(default_factory=list)
    accent: list[str] = field(default_factory=list)
    isbn: list[str] = field(default_factory=list)
    deep_words: list[str] = field(default_factory=list)
    broadest: list[str] = field(default_factory=list)


@dataclass
class Catalogue:
    path: Path
    rows: int
    seed: int
    searches: list[SearchQuery]
    probes: SearchProbes = field(default_factory=SearchProbes)


@cache
def _vocabulary() -> tuple[list[str], list[str], list[str], list[str]]:
    """Words for summaries, words for titles (no stop words), first and last names (Faker's)."""
    from faker.providers.lorem.en_US import Provider as Lorem
    from faker.providers.person.en_US import Provider as Person

    words = sorted(set(Lorem.word_list))
    title_words = [word for word in words if len(word) >= 5 and word.lower() not in _STOP_WORDS]
    return words, title_words, sorted(set(Person.first_names)), sorted(set(Person.last_names))


def plain(text: str) -> str:
    """``text`` lowercased and without its accents: what a reader types for it."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).lower()


@cache
def known_words() -> frozenset[str]:
    """Every word the catalogue can contain but the coined ones, lowercased and plain."""
    words, _, first_names, last_names = _vocabulary()
    accented = [*ACCENTED_SURNAMES, *ACCENTED_FIRST_NAMES, *ACCENTED_TITLE_WORDS]
    return frozenset(plain(word) for word in [*words, *first_names, *last_names, *accented])


@cache
def _known_beginnings() -> frozenset[str]:
    return frozenset(word[:end] for word in known_words() for end in range(1, len(word) + 1))


def begins_a_known_word(text: str) -> bool:
    """True if ``text`` (lowercase) begins a word of the catalogue, or does once a common
    English ending is taken off (as a stemmer would): a search would match it exactly."""
    beginnings = _known_beginnings()
    if text in beginnings:
        return True
    return any(
        text.endswith(ending) and text[: -len(ending)] in beginnings
        for ending in ("s", "es", "ed", "ing", "ly", "e", "y", "er")
        if len(text) - len(ending) >= 3
    )


def misspell(word: str, rng: random.Random, tries: int = 20) -> str | None:
    """``word`` lowercased with two adjacent unlike letters swapped or one letter dropped (never
    the first: readers rarely get that wrong), such that it begins no word of the catalogue;
    None if ``tries`` attempts all did (or the word is too short to misspell)."""
    lower = word.lower()
    if len(lower) < 3:
        return None
    for _ in range(tries):
        if rng.random() < 0.5:
            index = rng.randrange(1, len(lower) - 1)
            if lower[index] == lower[index + 1]:
                continue
            candidate = lower[:index] + lower[index + 1] + lower[index] + lower[index + 2 :]
        else:
            index = rng.randrange(1, len(lower))
            candidate = lower[:index] + lower[index + 1 :]
        if candidate != lower and not begins_a_known_word(candidate):
            return candidate
    return None


def coined_word(index: int) -> str:
    """The ``index``-th rare word: seven letters, consonant and vowel three times, then "n" or
    "m" ("bakotin"); distinct for every index below ``COINED_WORDS``."""
    if not 0 <= index < COINED_WORDS:
        raise ValueError(f"index must be from 0 to {COINED_WORDS - 1}")
    code = index * _COINED_STRIDE % COINED_WORDS
    code, last = divmod(code, len(_LAST_CONSONANTS))
    code, third_vowel = divmod(code, len(_LAST_VOWELS))
    code, third = divmod(code, len(_CONSONANTS))
    letters = []
    for _ in range(2):
        code, syllable = divmod(code, _SYLLABLES)
        consonant, vowel = divmod(syllable, len(_VOWELS))
        letters.append(_CONSONANTS[consonant] + _VOWELS[vowel])
    return (
        "".join(reversed(letters))
        + _CONSONANTS[third]
        + _LAST_VOWELS[third_vowel]
        + _LAST_CONSONANTS[last]
    )


def rare_word_pool(rows: int) -> int:
    """How many coined words a catalogue of ``rows`` books uses."""
    rare_books = len(range(RARE_OFFSET, rows, RARE_EVERY))
    return max(1, rare_books // BOOKS_PER_RARE_WORD)


def rare_word_of(number: int, rows: int) -> str | None:
    """The coined word in book ``number``'s title, if it has one. Books ``pool`` rare books
    apart share a word, so each word's books are spread over the whole catalogue."""
    if number % RARE_EVERY != RARE_OFFSET:
        return None
    return coined_word((number // RARE_EVERY) % rare_word_pool(rows))


def hyphenated_isbn(isbn13: str, as_isbn10: bool) -> str:
    """The ISBN as a reader copies it from a book: hyphenated by its registration groups."""
    return str(stdnum_isbn.format(stdnum_isbn.to_isbn10(isbn13) if as_isbn10 else isbn13))


def common_words(sentences: Iterable[str], title_words: Iterable[str], count: int) -> list[str]:
    """The ``count`` title words (lowercase) that occur most in ``sentences``; ties by word."""
    allowed = {word.lower() for word in title_words}
    counts = Counter(
        word for sentence in sentences for word in sentence.lower().rstrip(".").split()
    )
    ranked = sorted((word for word in counts if word in allowed), key=lambda w: (-counts[w], w))
    return ranked[:count]


def broadest_queries(sentences: Iterable[str], common: list[str]) -> list[str]:
    """The broadest searches: the eight commonest beginnings of the summaries' words that are
    as short as a prefix may be (``PREFIX_MIN_LENGTH`` letters; no stop word) alone, four
    pairs of them, the six commonest title words alone, and "a e i o" (one-letter words match
    whole words only: a broad-looking search that is not)."""
    beginnings = Counter(
        word[:PREFIX_MIN_LENGTH]
        for sentence in sentences
        for word in sentence.lower().rstrip(".").split()
        if len(word) >= PREFIX_MIN_LENGTH
    )
    ranked = sorted(
        (part for part in beginnings if part.isalpha() and part not in _ENGLISH_STOP_WORDS),
        key=lambda part: (-beginnings[part], part),
    )[:8]
    pairs = [f"{ranked[index]} {ranked[index + 1]}" for index in range(0, len(ranked) - 1, 2)]
    return [*ranked, *pairs, *common[:6], "a e i o"]


class _Reservoir(Generic[T]):
    """A uniform sample of at most ``size`` items of a stream (algorithm R), deterministic."""

    def __init__(self, size: int, rng: random.Random) -> None:
        self.size, self.rng, self.seen = size, rng, 0
        self.items: list[T] = []

    def offer(self, item: T) -> None:
        self.seen += 1
        if len(self.items) < self.size:
            self.items.append(item)
        else:
            slot = self.rng.randrange(self.seen)
            if slot < self.size:
                self.items[slot] = item


def author_pool(size: int, rng: random.Random) -> list[str]:
    """``size`` distinct "First Last" names."""
    _, _, first_names, last_names = _vocabulary()
    combinations = len(first_names) * len(last_names)
    if size > combinations:
        raise ValueError(f"at most {combinations:,} distinct authors")
    picks = rng.sample(range(combinations), size)
    return [
        f"{first_names[pick // len(last_names)]} {last_names[pick % len(last_names)]}"
        for pick in picks
    ]


def accent_authors(authors: list[str], rng: random.Random) -> list[str]:
    """``authors`` with every ``ACCENTED_AUTHOR_EVERY``-th one given an accented surname (and
    some of those an accented first name), kept distinct: a name already taken is left as
    it was."""
    taken = set(authors)
    result = list(authors)
    for index in range(0, len(authors), ACCENTED_AUTHOR_EVERY):
        first, _last = authors[index].split(" ", 1)
        surname = rng.choice(ACCENTED_SURNAMES)
        if (index // ACCENTED_AUTHOR_EVERY) % ACCENTED_FIRST_NAME_EVERY == 0:
            first = rng.choice(ACCENTED_FIRST_NAMES)
        name = f"{first} {surname}"
        if name not in taken:
            taken.add(name)
            result[index] = name
    return result


def _accent_query(author: str, accented_word: str | None, other: str, rng: random.Random) -> str:
    """A search for an accented author's surname or an accented title word, typed plain."""
    if accented_word is not None:
        word = plain(accented_word)
        return word if rng.random() < 0.5 else f"{word} {other.lower()}"
    first, surname = author.split(" ", 1)
    return plain(surname) if rng.random() < 0.5 else f"{plain(first)} {plain(surname)}"


def generate_books(
    rows: int,
    seed: int,
    searches: list[SearchQuery] | None = None,
    search_count: int = 300,
    probes: SearchProbes | None = None,
    probe_count: int = PROBES_PER_KIND,
) -> Iterator[tuple[str, str, str, str, str]]:
    """Yield ``rows`` books as (title, author, publication_date, isbn, summary); the same for
    the same ``seed``. Appends ``search_count`` search queries drawn from them to ``searches``
    and fills ``probes`` with up to ``probe_count`` queries of each kind."""
    rng = random.Random(seed)  # noqa: S311 - test data, not secrets
    # The accents, rare and one-letter words: a stream of their own, so the rest is as before.
    extras = random.Random(f"{seed}-extras")  # noqa: S311
    sampler = random.Random(f"{seed}-probes")  # noqa: S311
    words, title_words, _, last_names = _vocabulary()
    authors = author_pool(max(1, rows // BOOKS_PER_AUTHOR), rng)
    sentences = [
        " ".join(rng.choices(words, k=rng.randint(6, 14))).capitalize() + "."
        for _ in range(_SENTENCES)
    ]
    sampled = set(rng.sample(range(rows), min(search_count, rows)))
    authors = accent_authors(authors, extras)
    common_last_names = {name.lower() for name in last_names}
    # Authors whose plain surname is no other author's: "bronte" finds them through folding only.
    accented_authors = {
        name
        for name in authors
        if name.split(" ", 1)[1] in ACCENTED_SURNAMES
        and plain(name.split(" ", 1)[1]) not in common_last_names
    }
    typo_books = set(sampler.sample(range(rows), min(probe_count, rows)))
    isbn_books = set(sampler.sample(range(rows), min(probe_count, rows)))
    rare_candidates = range(RARE_OFFSET, rows, RARE_EVERY)
    rare_books = set(sampler.sample(rare_candidates, min(probe_count, len(rare_candidates))))
    letters: _Reservoir[str] = _Reservoir(probe_count, sampler)
    accents: _Reservoir[tuple[str, str | None, str]] = _Reservoir(probe_count, sampler)
    typos: list[str] = []
    misspellable = frozenset(title_words)
    modified_share = 1 / ACCENTED_TITLE_EVERY + 1 / LETTER_EVERY
    for number in range(rows):
        title_list = rng.choices(title_words, k=rng.randint(2, 5))
        author = rng.choice(authors)
        kept: set[str] = set()
        if searches is not None and number in sampled:
            first, second = rng.sample(title_list, 2)
            searches.append(SearchQuery((first, second), author))
            kept = {first, second}
        summary = " ".join(rng.choices(sentences, k=rng.randint(3, 8)))
        while len(summary) < 200:
            summary += " " + rng.choice(sentences)
        if len(summary) > 600:
            summary = summary[:599].rsplit(" ", 1)[0] + "."
        date = datetime.date.fromordinal(_FIRST_DAY + rng.randrange(_DAYS)).isoformat()
        isbn = demo_isbn(number)  # 978...: the load's creates use 979 (bench/lua)

        # One title word (never one of the search's above) may become a rare, accented or
        # one-letter word.
        roll = extras.random()
        rare = rare_word_of(number, rows) if number % RARE_EVERY == RARE_OFFSET else None
        accented_word: str | None = None
        free = (
            [index for index, word in enumerate(title_list) if word not in kept]
            if rare or roll < modified_share
            else []
        )
        if free:
            position = extras.choice(free)
            others = [word for index, word in enumerate(title_list) if index != position]
            if rare:
                title_list[position] = rare
                if probes is not None and number in rare_books:
                    probes.rare.append(rare)
            elif roll < 1 / ACCENTED_TITLE_EVERY:
                accented_word = extras.choice(ACCENTED_TITLE_WORDS)
                title_list[position] = accented_word
            else:
                letter = extras.choice(TITLE_LETTERS)
                title_list[position] = letter
                other = extras.choice(others).lower()
                letters.offer(f"{letter} {other}" if extras.random() < 0.5 else f"{other} {letter}")
            if accented_word is not None or author in accented_authors:
                accents.offer((author, accented_word, extras.choice(others)))
        elif author in accented_authors:
            accents.offer((author, None, title_list[0]))
        if probes is not None and number in typo_books:
            long_words = [
                word
                for word in title_list
                if len(word) >= MISSPELL_MIN_LENGTH and word in misspellable
            ]
            if long_words and (typo := misspell(sampler.choice(long_words), sampler)):
                typos.append(typo)
        if probes is not None and number in isbn_books:
            probes.isbn.append(hyphenated_isbn(isbn, as_isbn10=number % 3 == 0))
        yield (" ".join(title_list).capitalize(), author, date, isbn, summary)

    if probes is not None:
        common = common_words(sentences, title_words, COMMON_WORDS)
        probes.common.extend(f"{a} {b}" for a, b in itertools.permutations(common, 2))
        probes.deep_words.extend(common)
        probes.broadest.extend(broadest_queries(sentences, common))
        probes.letter.extend(letters.items)
        probes.typo.extend(typos)
        probes.accent.extend(
            _accent_query(author, word, other, sampler) for author, word, other in accents.items
        )


def write_catalogue(path: Path, rows: int, seed: int) -> Catalogue:
    """Write the books as CSV with a header row (the importer's format) to ``path``."""
    searches: list[SearchQuery] = []
    probes = SearchProbes()
    with path.open("w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file)
        writer.writerow(FIELDS)
        writer.writerows(generate_books(rows, seed, searches, probes=probes))
    return Catalogue(path=path, rows=rows, seed=seed, searches=searches, probes=probes)


def read_catalogue(path: Path) -> Iterator[list[str]]:
    """The rows of a catalogue CSV, header skipped."""
    with path.open(newline="", encoding="utf-8") as file:
        reader = csv.reader(file)
        next(reader)
        yield from reader
