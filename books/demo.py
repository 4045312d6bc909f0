"""Realistic, reproducible fake books for the demo, tests and benchmarks."""

import datetime
from collections.abc import Iterator
from typing import Any

from faker import Faker
from stdnum import ean

# A multiplier coprime with 10**9 spreads sequence numbers over the ISBN space, uniquely.
_SPREAD = 387_420_489  # 3**18
# Fixed, not relative to today, so a seed gives the same books on every day.
_FIRST_DATE = datetime.date(1945, 1, 1)
_LAST_DATE = datetime.date(2025, 12, 31)
_AUTHORS = 2000
#: Each seed owns its own run of demo ISBNs, so different seeds never share a book.
SEEDS = range(100)
BOOKS_PER_SEED = 10_000_000


def demo_isbn(number: int) -> str:
    """The ``number``-th demo ISBN-13: distinct for every number below 10**9."""
    body = f"978{(number * _SPREAD) % 10**9:09d}"
    return body + str(ean.calc_check_digit(body))


def demo_books(count: int, *, seed: int = 0) -> Iterator[dict[str, Any]]:
    """``count`` book field dicts; the same seed always gives the same books."""
    if seed not in SEEDS:
        raise ValueError(f"seed must be from {SEEDS.start} to {SEEDS.stop - 1}")
    if not 0 <= count <= BOOKS_PER_SEED:
        raise ValueError(f"count must be from 0 to {BOOKS_PER_SEED:,}")
    return _generate(count, seed)


def _generate(count: int, seed: int) -> Iterator[dict[str, Any]]:
    fake = Faker()
    fake.seed_instance(seed)
    rng = fake.random  # the seeded generator behind Faker
    # Faker's names are slow (~125 µs each): draw authors from a pool, as real catalogues
    # have many books per author anyway.
    authors = [fake.name()[:100] for _ in range(min(count, _AUTHORS))]
    days = (_LAST_DATE - _FIRST_DATE).days
    for number in range(count):
        yield {
            "title": fake.sentence(nb_words=4, variable_nb_words=True).rstrip(".")[:200],
            "author": rng.choice(authors),
            "publication_date": _FIRST_DATE + datetime.timedelta(days=rng.randrange(days + 1)),
            "isbn": demo_isbn(seed * BOOKS_PER_SEED + number),
            "summary": fake.paragraph(nb_sentences=3),
        }
