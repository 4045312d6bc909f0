"""Realistic, reproducible fake books for the demo, tests and benchmarks."""

from collections.abc import Iterator
from typing import Any

from faker import Faker
from stdnum import ean

# A multiplier coprime with 10**9 spreads sequence numbers over the ISBN space, uniquely.
_SPREAD = 387_420_489  # 3**18


def demo_isbn(number: int) -> str:
    """The ``number``-th demo ISBN-13: distinct for every number below 10**9."""
    body = f"978{(number * _SPREAD) % 10**9:09d}"
    return body + str(ean.calc_check_digit(body))


def demo_books(count: int, *, seed: int = 0) -> Iterator[dict[str, Any]]:
    """``count`` book field dicts; the same seed always gives the same books."""
    fake = Faker()
    fake.seed_instance(seed)
    for number in range(count):
        yield {
            "title": fake.sentence(nb_words=4, variable_nb_words=True).rstrip(".")[:200],
            "author": fake.name()[:100],
            "publication_date": fake.date_between(start_date="-80y", end_date="today"),
            "isbn": demo_isbn(seed * 10_000_000 + number),
            "summary": fake.paragraph(nb_sentences=3),
        }
