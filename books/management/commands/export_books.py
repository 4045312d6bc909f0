"""manage.py export_books: the catalogue (or a filtered part) as CSV or JSON Lines, streamed."""

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from books.exporting import FORMATS, export_chunks
from books.filters import BookFilter
from books.selectors import InvalidFilters, books_filtered

#: The API's list filters, offered as --options (underscores become hyphens).
FILTERS = tuple(BookFilter.base_filters)


class Command(BaseCommand):
    help = (
        "Write books as CSV or JSON Lines to a file or standard output, in constant memory. "
        "Takes the same filters as GET /books/."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--format",
            choices=FORMATS,
            help="Output format (default: from the --output extension, else csv).",
        )
        parser.add_argument("--output", "-o", help="File to write (default: standard output).")
        for name in FILTERS:
            parser.add_argument(f"--{name.replace('_', '-')}", dest=name)

    def handle(self, *args: Any, **options: Any) -> None:
        output = options["output"]
        fmt = options["format"] or _format_from_name(output)
        data = {name: options[name] for name in FILTERS if options[name] is not None}
        try:
            books = books_filtered(data)
        except InvalidFilters as error:
            problems = "; ".join(
                f"--{field.replace('_', '-')}: {' '.join(messages)}"
                for field, messages in error.errors.items()
            )
            raise CommandError(problems) from error
        chunks = export_chunks(books, fmt)
        if output:
            with Path(output).open("w", encoding="utf-8", newline="") as stream:
                for chunk in chunks:
                    stream.write(chunk)
        else:
            for chunk in chunks:
                self.stdout.write(chunk, ending="")


def _format_from_name(output: str | None) -> str:
    if output:
        suffix = Path(output).suffix.lstrip(".").lower()
        if suffix in FORMATS:
            return suffix
    return "csv"
