"""The benchmark's books: one deterministic, seeded catalogue that every system loads.

Titles are two to five real English words, summaries 200-600 characters of sentences made of
them, authors come from a pool sized so that one author has about ``BOOKS_PER_AUTHOR`` books
whatever the row count, and every ISBN-13 is valid and distinct. Rows are generated and
written as they go, so a million costs seconds and no memory to speak of.
"""

import csv
import datetime
import random
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from books.demo import demo_isbn

FIELDS = ("title", "author", "publication_date", "isbn", "summary")
BOOKS_PER_AUTHOR = 40
_SENTENCES = 4096
_FIRST_DAY = datetime.date(1900, 1, 1).toordinal()
_DAYS = datetime.date(2024, 12, 31).toordinal() - _FIRST_DAY
# Words a full-text search may treat as stop words: never one of the words a search uses.
_STOP_WORDS_TEXT = (
    "about above after again against along already although always among another anyone "
    "anything around because become before behind being below between both could during "
    "either enough every everything from have having here itself maybe might most much "
    "must never other others over perhaps rather really should since some something still "
    "such than that their them then there these they thing those though through together "
    "under until very what when where whether which while whom whose will with within "
    "without would your yourself"
)
_STOP_WORDS = frozenset(_STOP_WORDS_TEXT.split())


@dataclass(frozen=True)
class SearchQuery:
    """Two words of one book's title and its author: a search that finds at least that book."""

    words: tuple[str, str]
    author: str


@dataclass
class Catalogue:
    path: Path
    rows: int
    seed: int
    searches: list[SearchQuery]


def _vocabulary() -> tuple[list[str], list[str], list[str], list[str]]:
    """Words for summaries, words for titles (no stop words), first and last names (Faker's)."""
    from faker.providers.lorem.en_US import Provider as Lorem
    from faker.providers.person.en_US import Provider as Person

    words = sorted(set(Lorem.word_list))
    title_words = [word for word in words if len(word) >= 5 and word.lower() not in _STOP_WORDS]
    return words, title_words, sorted(set(Person.first_names)), sorted(set(Person.last_names))


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


def generate_books(
    rows: int, seed: int, searches: list[SearchQuery] | None = None, search_count: int = 300
) -> Iterator[tuple[str, str, str, str, str]]:
    """Yield ``rows`` books as (title, author, publication_date, isbn, summary); the same for
    the same ``seed``. Appends ``search_count`` search queries drawn from them to ``searches``."""
    rng = random.Random(seed)  # noqa: S311 - test data, not secrets
    words, title_words, _, _ = _vocabulary()
    authors = author_pool(max(1, rows // BOOKS_PER_AUTHOR), rng)
    sentences = [
        " ".join(rng.choices(words, k=rng.randint(6, 14))).capitalize() + "."
        for _ in range(_SENTENCES)
    ]
    sampled = set(rng.sample(range(rows), min(search_count, rows)))
    for number in range(rows):
        title_list = rng.choices(title_words, k=rng.randint(2, 5))
        author = rng.choice(authors)
        if searches is not None and number in sampled:
            first, second = rng.sample(title_list, 2)
            searches.append(SearchQuery((first, second), author))
        summary = " ".join(rng.choices(sentences, k=rng.randint(3, 8)))
        while len(summary) < 200:
            summary += " " + rng.choice(sentences)
        if len(summary) > 600:
            summary = summary[:599].rsplit(" ", 1)[0] + "."
        yield (
            " ".join(title_list).capitalize(),
            author,
            datetime.date.fromordinal(_FIRST_DAY + rng.randrange(_DAYS)).isoformat(),
            demo_isbn(number),  # 978...: the load's creates use 979 (bench/lua)
            summary,
        )


def write_catalogue(path: Path, rows: int, seed: int) -> Catalogue:
    """Write the books as CSV with a header row (the importer's format) to ``path``."""
    searches: list[SearchQuery] = []
    with path.open("w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file)
        writer.writerow(FIELDS)
        writer.writerows(generate_books(rows, seed, searches))
    return Catalogue(path=path, rows=rows, seed=seed, searches=searches)


def read_catalogue(path: Path) -> Iterator[list[str]]:
    """The rows of a catalogue CSV, header skipped."""
    with path.open(newline="", encoding="utf-8") as file:
        reader = csv.reader(file)
        next(reader)
        yield from reader
