"""manage.py seed_books N: add N reproducible fake books; running it again adds nothing.

manage.py seed_books --real: add the real demo catalogue (books/data/demo-books.csv) instead,
as `make run` does: the books not stored yet, by ISBN, so edits to the others are kept.
"""

import csv
import itertools
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from books import services
from books.demo import demo_books
from books.models import Book
from books.statistics import analyze_books

#: Books validated and inserted per batch (one INSERT on PostgreSQL), bounding memory too.
BATCH = 1000
#: The real books of `make run` (goodbooks-10k, CC BY-SA 4.0: see books/data/README.md).
REAL_CATALOGUE = Path(__file__).resolve().parents[2] / "data" / "demo-books.csv"


def real_books() -> Iterator[dict[str, Any]]:
    with REAL_CATALOGUE.open(newline="", encoding="utf-8") as file:
        yield from csv.DictReader(file)


class Command(BaseCommand):
    help = (
        "Add N realistic fake books (valid, unique ISBNs). "
        "Re-running with the same seed adds nothing."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("count", type=int, nargs="?")
        parser.add_argument(
            "--real",
            action="store_true",
            help=f"Add the real demo catalogue ({REAL_CATALOGUE.name}) instead of N fake books.",
        )
        parser.add_argument(
            "--seed", type=int, default=0, help="0 to 99; different seeds, different books."
        )

    def handle(self, *args: Any, count: int | None, seed: int, **options: Any) -> None:
        books: Iterator[dict[str, Any]]
        if options["real"]:
            if count is not None:
                raise CommandError("Give a count or --real, not both.")
            books = real_books()
        elif count is None or count < 0:
            raise CommandError("Give a count of 0 or more, or --real.")
        else:
            try:
                books = demo_books(count, seed=seed)
            except ValueError as error:
                raise CommandError(str(error)) from error
        started = time.monotonic()
        added = present = 0
        while batch := list(itertools.islice(books, BATCH)):
            isbns = [book["isbn"] for book in batch]
            taken = set(Book.objects.filter(isbn__in=isbns).values_list("isbn", flat=True))
            missing = [book for book in batch if book["isbn"] not in taken]
            if missing:
                # The same path as a bulk POST: every rule checked, one INSERT per batch.
                services.book_bulk_create(items=missing)
            added += len(missing)
            present += len(taken)
            if options["verbosity"] > 1:
                total = "" if count is None else f"/{count}"
                self.stdout.write(f"  {added + present}{total}")
        if added:
            analyze_books()
        seconds = time.monotonic() - started
        self.stdout.write(f"Added {added} books ({present} were already there) in {seconds:.1f} s.")
