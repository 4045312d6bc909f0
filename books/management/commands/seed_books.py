"""manage.py seed_books N: add N reproducible fake books; running it again adds nothing."""

import itertools
import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from books import services
from books.demo import demo_books
from books.models import Book
from books.statistics import analyze_books

#: Books validated and inserted per batch (one INSERT on PostgreSQL), bounding memory too.
BATCH = 1000


class Command(BaseCommand):
    help = (
        "Add N realistic fake books (valid, unique ISBNs). "
        "Re-running with the same seed adds nothing."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("count", type=int)
        parser.add_argument(
            "--seed", type=int, default=0, help="0 to 99; different seeds, different books."
        )

    def handle(self, *args: Any, count: int, seed: int, **options: Any) -> None:
        if count < 0:
            raise CommandError("count must be 0 or more.")
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
                services.book_bulk_create(missing)
            added += len(missing)
            present += len(taken)
            if options["verbosity"] > 1:
                self.stdout.write(f"  {added + present}/{count}")
        if added:
            analyze_books()
        seconds = time.monotonic() - started
        self.stdout.write(f"Added {added} books ({present} were already there) in {seconds:.1f} s.")
