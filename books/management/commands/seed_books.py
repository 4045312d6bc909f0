"""manage.py seed_books N: add N reproducible fake books; running it again adds nothing."""

from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.db import transaction

from books import services
from books.demo import demo_books
from books.models import Book


class Command(BaseCommand):
    help = (
        "Add N realistic fake books (valid, unique ISBNs). "
        "Re-running with the same seed adds nothing."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("count", type=int)
        parser.add_argument("--seed", type=int, default=0, help="Different seeds, different books.")

    def handle(self, *args: Any, count: int, seed: int, **options: Any) -> None:
        books = list(demo_books(count, seed=seed))
        isbns = [book["isbn"] for book in books]
        present: set[str] = set()
        for start in range(0, len(isbns), 500):  # stay under SQLite's bound-parameter limit
            chunk = isbns[start : start + 500]
            present.update(Book.objects.filter(isbn__in=chunk).values_list("isbn", flat=True))
        missing = [book for book in books if book["isbn"] not in present]
        with transaction.atomic():
            for fields in missing:
                services.book_create(**fields)
        self.stdout.write(f"Added {len(missing)} books ({len(present)} were already there).")
