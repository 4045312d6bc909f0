"""manage.py import_books FILE: add and update books from a CSV or JSON Lines file."""

import argparse
import time
from typing import IO, Any, cast

from django.core.management.base import (
    BaseCommand,
    CommandError,
    CommandParser,
    DjangoHelpFormatter,
)
from rich.console import Console
from rich.progress import (
    BarColumn,
    Progress,
    TaskID,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from books.importing.pipeline import DEFAULT_BATCH_SIZE, ImportSummary, import_books
from books.importing.pipeline import Progress as ImportProgress
from books.importing.readers import (
    DEFAULT_ENCODING,
    FORMATS,
    BookSource,
    ImportFileError,
    parse_column_map,
)
from books.importing.report import ChangeReport, ErrorReport, describe_change, display_value
from books.importing.rows import RowValidator
from books.importing.upsert import UnsupportedDatabase
from books.statistics import analyze_books

#: Without a terminal, one progress line at most this often.
LOG_INTERVAL_SECONDS = 5.0

RULES = """\
Columns: header names (JSON Lines: keys) that equal a book field, ignoring case,
spaces, underscores and hyphens: title, author, publication_date, isbn (or ISBN-13,
ISBN-10), summary, publication_date_precision. Other names need --map 'COLUMN=FIELD';
unknown columns are ignored (and listed). Without title, author, publication_date and
isbn the command stops before writing anything, saying which --map would likely do.
The CSV separator (, ; tab |) is read from the first lines unless --delimiter says.

Rows are checked by the API's rules: surrounding whitespace stripped; title, author
required and not blank; length limits; no NUL or surrogate characters; text values
must be strings (JSON numbers are refused); ISBN-10 or ISBN-13, hyphens and spaces
allowed, stored as 13 digits; dates YYYY-MM-DD, YYYY-MM or YYYY. Import-only leniencies:
  * an ISBN-10 of 7-8 digits (leading zeros lost in a spreadsheet) is zero-padded;
  * an "ISBN", "ISBN:", "ISBN-13:" or "ISBN-10" label before the number is dropped;
  * a year of 1-4 digits (975 is 0975) and an English month name (July 1968,
    14 July 1968, July 14, 1968) are dates; others need --date-format; day and
    month in numbers (01/02/1818) are never guessed: they need --date-format;
  * whitespace around a date is stripped.
A date known to the year is stored as YYYY-01-01 with publication_date_precision
"year" (YYYY-MM: YYYY-MM-01, "month"), so it is never shown as January 1.
A refused row does not stop the import: it goes to the error report (--errors).

ISBNs: a book is matched by ISBN. A new ISBN is inserted (summary "" if the file has
none); a stored book is updated only if a value differs (its version goes up by one),
otherwise left untouched; each updated book is reported, field by field, old -> new
(--changes). --insert-only never touches a stored book: such rows are skipped (and
reported). A file without a summary column (a JSON object without the key) keeps the
stored summary. The same ISBN twice in one file: the first valid row
wins, later ones are refused. Running the same file again changes nothing.

Encoding: UTF-8 by default (a byte-order mark is skipped); --encoding cp1252 etc.
for others. A row with bytes that do not decode is refused; the rest go on.
Gzip-compressed files are recognised by their content. See docs/import.md.
"""


class _HelpFormatter(DjangoHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """Keeps the line breaks of the rules above."""


class Command(BaseCommand):
    help = "Add and update books from a CSV or JSON Lines file (gzip too), by ISBN.\n\n" + RULES

    def create_parser(self, prog_name: str, subcommand: str, **kwargs: Any) -> CommandParser:
        return super().create_parser(prog_name, subcommand, formatter_class=_HelpFormatter)

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", help="The file to import; - reads standard input.")
        parser.add_argument(
            "--format",
            choices=FORMATS,
            help="csv or jsonl. Default: from the name (.csv, .jsonl, .ndjson, optionally .gz).",
        )
        parser.add_argument(
            "--encoding",
            default=DEFAULT_ENCODING,
            help=f"The file's text encoding (default {DEFAULT_ENCODING}), e.g. cp1252, latin-1.",
        )
        parser.add_argument(
            "--delimiter",
            default=None,
            help="CSV field separator, one character, e.g. ';' or 'tab'. Default: whichever "
            "of , ; tab | the first lines show (else ',').",
        )
        parser.add_argument(
            "--date-format",
            metavar="FORMAT",
            help="Dates in this strptime format too, e.g. '%%d/%%m/%%Y' (day first) or "
            "'%%m/%%d/%%Y'; without it 01/02/1818 is refused, not guessed.",
        )
        parser.add_argument(
            "--map",
            action="append",
            default=[],
            metavar="COLUMN=FIELD",
            dest="column_map",
            help="Take FIELD from the column COLUMN, e.g. --map 'Book Title=title'. Repeatable.",
        )
        parser.add_argument(
            "--batch-size",
            type=int,
            default=DEFAULT_BATCH_SIZE,
            help=f"Rows per transaction (default {DEFAULT_BATCH_SIZE}).",
        )
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="Validate and report what would change (the same report), writing nothing.",
        )
        parser.add_argument(
            "--insert-only",
            action="store_true",
            help="Add new books only: rows whose ISBN is stored are skipped and reported.",
        )
        parser.add_argument(
            "--no-bulk-load",
            action="store_true",
            help="Into an empty table too, write batch by batch with the indexes in place "
            "(slower; the API can read the books as they arrive).",
        )
        parser.add_argument(
            "--changes",
            metavar="PATH",
            help="Write every updated (or skipped) book as CSV "
            "(line, isbn, action, field, old, new) to PATH.",
        )
        parser.add_argument(
            "--show-changes",
            type=int,
            default=20,
            metavar="N",
            help="Print the first N updated (or skipped) books (default 20).",
        )
        parser.add_argument(
            "--errors",
            metavar="PATH",
            help="Write every refused field as CSV (line, field, message, value) to PATH.",
        )
        parser.add_argument(
            "--show-errors",
            type=int,
            default=20,
            metavar="N",
            help="Print the first N errors (default 20).",
        )
        parser.add_argument(
            "--database", default="default", help="The database to import into (default: default)."
        )
        parser.add_argument(
            "--no-progress", action="store_true", help="No progress bar or progress lines."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["batch_size"] < 1:
            raise CommandError("--batch-size must be at least 1.")
        delimiter = {"tab": "\t", "\\t": "\t"}.get(options["delimiter"], options["delimiter"])
        if delimiter is not None and len(delimiter) != 1:
            raise CommandError("--delimiter must be one character (or 'tab').")
        if options["date_format"] is not None and "%" not in options["date_format"]:
            raise CommandError("--date-format takes a strptime format, e.g. '%d/%m/%Y'.")
        try:
            column_map = parse_column_map(options["column_map"])
            source = BookSource(
                options["file"],
                file_format=options["format"],
                encoding=options["encoding"],
                column_map=column_map,
                delimiter=delimiter,
            )
        except ImportFileError as error:
            raise CommandError(str(error)) from error
        try:
            report = ErrorReport(options["errors"], keep=options["show_errors"])
        except OSError as error:
            source.close()
            raise CommandError(f"Cannot write the error report: {error}") from error
        try:
            changes = ChangeReport(options["changes"], keep=options["show_changes"])
        except OSError as error:
            source.close()
            report.close()
            raise CommandError(f"Cannot write the change report: {error}") from error
        show_progress = not options["no_progress"]
        bar = self._progress_bar() if show_progress and self.stderr.isatty() else None
        try:
            with source, report, changes:
                if bar is not None:
                    with bar:
                        task = bar.add_task("Importing", total=source.total_bytes, rows=0, rate=0)
                        on_progress = self._bar_update(bar, task)
                        summary = self._import(source, report, changes, options, on_progress)
                else:
                    on_progress = self._log_progress() if show_progress else None
                    summary = self._import(source, report, changes, options, on_progress)
        except (ImportFileError, UnsupportedDatabase) as error:
            raise CommandError(str(error)) from error
        if not summary.dry_run and (summary.inserted or summary.updated):
            # So that a search straight after a big import is planned on statistics, not guesses.
            analyze_books(using=options["database"])
        self._print_errors(report, options["errors"])
        self._print_changes(changes, options["changes"])
        self.stdout.write(self._summary_line(options["file"], summary))
        for note in self._notes(summary):
            self.stdout.write(note)

    def _import(
        self,
        source: BookSource,
        report: ErrorReport,
        changes: ChangeReport,
        options: dict[str, Any],
        on_progress: Any,
    ) -> ImportSummary:
        return import_books(
            source,
            batch_size=options["batch_size"],
            dry_run=options["dry_run"],
            insert_only=options["insert_only"],
            allow_bulk_load=not options["no_bulk_load"],
            on_error=report,
            on_change=changes,
            on_progress=on_progress,
            validator=RowValidator(date_format=options["date_format"]),
            using=options["database"],
        )

    # --- progress -------------------------------------------------------------------------

    def _progress_bar(self) -> Progress:
        return Progress(
            TextColumn("[progress.description]{task.description}"),
            BarColumn(),
            TaskProgressColumn(),
            TextColumn("{task.fields[rows]:,} rows"),
            TextColumn("{task.fields[rate]:,.0f} rows/s"),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            console=Console(file=cast(IO[str], self.stderr._out), stderr=True),
        )

    @staticmethod
    def _bar_update(bar: Progress, task: TaskID) -> Any:
        def update(progress: ImportProgress) -> None:
            bar.update(
                task,
                completed=progress.bytes_read or 0,
                rows=progress.rows,
                rate=progress.rows_per_second,
            )

        return update

    def _log_progress(self) -> Any:
        last = time.monotonic()

        def log(progress: ImportProgress) -> None:
            nonlocal last
            now = time.monotonic()
            if now - last < LOG_INTERVAL_SECONDS:
                return
            last = now
            line = f"import_books: {progress.rows:,} rows, {progress.rows_per_second:,.0f} rows/s"
            fraction = progress.fraction
            if fraction:
                remaining = progress.seconds * (1 - fraction) / fraction
                line += f", {fraction:.0%} of the file, ETA {_duration(remaining)}"
            self.stderr.write(line)

        return log

    # --- the outcome ----------------------------------------------------------------------

    def _print_errors(self, report: ErrorReport, path: str | None) -> None:
        for error in report.first:
            value = display_value(error.value)
            shown = f" (value: {value!r})" if value else ""
            self.stderr.write(f"line {error.line}, {error.field}: {error.message}{shown}")
        hidden = report.count - len(report.first)
        if hidden > 0:
            where = f"all are in {path}" if path else "write them all with --errors PATH"
            self.stderr.write(f"... and {hidden:,} more errors ({where}).")

    def _print_changes(self, changes: ChangeReport, path: str | None) -> None:
        for change in changes.first:
            self.stderr.write(describe_change(change))
        hidden = changes.count - len(changes.first)
        if hidden > 0:
            where = f"all are in {path}" if path else "write them all with --changes PATH"
            self.stderr.write(f"... and {hidden:,} more books changed or skipped ({where}).")

    @staticmethod
    def _summary_line(path: str, summary: ImportSummary) -> str:
        would = "would be " if summary.dry_run else ""
        head = "Dry run, nothing written" if summary.dry_run else "Imported"
        return (
            f"{head}: {path}: {summary.rows:,} rows in {summary.seconds:.1f} s "
            f"({summary.rows_per_second:,.0f} rows/s): {summary.inserted:,} {would}inserted, "
            f"{summary.updated:,} {would}updated, {summary.unchanged:,} unchanged, "
            f"{summary.rejected:,} rejected"
            + (
                f", {summary.skipped:,} skipped (stored, --insert-only)."
                if summary.insert_only
                else "."
            )
        )

    @staticmethod
    def _notes(summary: ImportSummary) -> list[str]:
        notes = []
        if summary.bulk_load:
            notes.append(
                "Empty table: loaded in one transaction, its search and list indexes built "
                "after the rows (--no-bulk-load to write batch by batch)."
            )
        if summary.ignored_columns:
            names = ", ".join(repr(display_value(name)) for name in summary.ignored_columns)
            listed, count = len(summary.ignored_columns), summary.ignored_column_count
            if count is None:
                names += " and more"
            elif count > listed:
                names += f" and {count - listed:,} more"
            notes.append(f"Ignored columns: {names}.")
        if summary.padded_isbns:
            notes.append(f"ISBN-10s given zero-padding back: {summary.padded_isbns:,}.")
        if summary.completed_dates:
            notes.append(
                f"Dates completed from a year or year-month (first day): "
                f"{summary.completed_dates:,}."
            )
        return notes


def _duration(seconds: float) -> str:
    minutes, seconds = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{seconds:02d}"
