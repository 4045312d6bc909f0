"""The import's reports, written as CSV as the import goes, with the first few kept for the
terminal: every refused field (line, field, message, value), and every stored book updated or
skipped with each field it changed (line, isbn, action, field, old, new)."""

import csv
import json
from pathlib import Path
from typing import TextIO

from books.importing.pipeline import RowError
from books.importing.readers import describe_undecoded
from books.importing.rows import MISSING
from books.importing.upsert import BookChange

REPORT_COLUMNS = ("line", "field", "message", "value")
CHANGE_COLUMNS = ("line", "isbn", "action", "field", "old", "new")
#: Values longer than this are cut in the report (a refused summary can be 100 kB).
MAX_VALUE_CHARACTERS = 200


def display_value(value: object) -> str:
    """The raw value as the report shows it: text as is, JSON values as JSON, absent as ''."""
    if value is MISSING:
        return ""
    text = describe_undecoded(value) if isinstance(value, str) else json.dumps(value)
    if len(text) > MAX_VALUE_CHARACTERS:
        text = text[:MAX_VALUE_CHARACTERS] + "…"
    return text


class ErrorReport:
    """Collects RowErrors: all of them into ``path`` (if given), the first ``keep`` in memory."""

    def __init__(self, path: str | Path | None = None, *, keep: int = 20) -> None:
        self.count = 0
        self.keep = keep
        self.first: list[RowError] = []
        self._file: TextIO | None = None
        if path is not None:
            # backslashreplace: a lone surrogate from a JSON escape cannot be written as UTF-8.
            self._file = open(  # noqa: SIM115 - closed by close()
                path, "w", newline="", encoding="utf-8", errors="backslashreplace"
            )
            self._writer = csv.writer(self._file)
            self._writer.writerow(REPORT_COLUMNS)

    def __call__(self, error: RowError) -> None:
        self.count += 1
        if len(self.first) < self.keep:
            self.first.append(error)
        if self._file is not None:
            self._writer.writerow(
                (error.line, error.field, error.message, display_value(error.value))
            )

    def close(self) -> None:
        if self._file is not None:
            self._file.close()

    def __enter__(self) -> "ErrorReport":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class ChangeReport:
    """Collects BookChanges: all of them into ``path`` (if given) as one CSV line per changed
    field, values whole (a librarian may need to restore one); the first ``keep`` in memory.

    A skipped book (--insert-only) that equals its row has one line with no field.
    """

    def __init__(self, path: str | Path | None = None, *, keep: int = 20) -> None:
        self.count = 0
        self.keep = keep
        self.first: list[BookChange] = []
        self._file: TextIO | None = None
        if path is not None:
            self._file = open(  # noqa: SIM115 - closed by close()
                path, "w", newline="", encoding="utf-8", errors="backslashreplace"
            )
            self._writer = csv.writer(self._file)
            self._writer.writerow(CHANGE_COLUMNS)

    def __call__(self, change: BookChange) -> None:
        self.count += 1
        if len(self.first) < self.keep:
            self.first.append(change)
        if self._file is not None:
            head = (change.line, change.isbn, change.action)
            if not change.fields:
                self._writer.writerow((*head, "", "", ""))
            for field in change.fields:
                self._writer.writerow((*head, field.field, field.old, field.new))

    def close(self) -> None:
        if self._file is not None:
            self._file.close()

    def __enter__(self) -> "ChangeReport":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def describe_change(change: BookChange) -> str:
    """One change for the terminal: ``line 3, 9780441172719, updated: title 'Old' → 'Dune'``."""
    fields = "; ".join(
        f"{field.field} {display_value(field.old)!r} → {display_value(field.new)!r}"
        for field in change.fields
    )
    return f"line {change.line}, {change.isbn}, {change.action}: {fields or 'identical'}"
