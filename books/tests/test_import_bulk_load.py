"""Into an empty books table, import_books loads in one transaction with the secondary indexes
dropped and built after (books/importing/bulk_load.py). Its result must be the batch-by-batch
path's: the same books, versions, vocabulary and error report; the same indexes after; and a
stored book is never written by it."""

import csv
import io
import tempfile
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.db import connection

from books.importing import bulk_load as bulk_load_module
from books.importing import upsert
from books.importing.bulk_load import secondary_indexes
from books.models import Book
from books.tests.factories import BookFactory
from books.tests.test_import_upsert import write_csv

pytestmark = pytest.mark.django_db

MESSY = Path(__file__).parent / "data" / "import_messy.csv"
BOOK_FIELDS = ("isbn", "title", "author", "publication_date", "summary", "version")


def _rows(count: int) -> list[list[str]]:
    """``count`` books with distinct valid ISBN-13s."""
    rows = []
    for number in range(count):
        body = f"978{number:09d}"
        check = (10 - sum(int(d) * (3 if i % 2 else 1) for i, d in enumerate(body)) % 10) % 10
        rows.append([f"Título {number} ñandú", f"Author {number % 7}", "1999-12-31",
                     f"{body}{check}", f"Summary {number}."])  # fmt: skip
    return rows


def _rows_with_a_duplicate_and_a_refused_row(count: int) -> list[list[str]]:
    rows = _rows(count)
    rows.insert(5, list(rows[2]))  # a duplicate: line 7 repeats line 4
    rows.insert(9, ["", "Nobody", "2000-01-01", "9780306406157", ""])  # refused: blank title
    return rows


def _import(path: Path, *args: str) -> tuple[str, list[tuple[str, str, str]]]:
    """(stdout, the error report as (line, field, message))."""
    with tempfile.TemporaryDirectory() as directory:
        report = Path(directory) / "errors.csv"
        out = io.StringIO()
        call_command(
            "import_books", str(path), "--no-progress", "--errors", str(report), *args,
            stdout=out, stderr=io.StringIO(),
        )  # fmt: skip
        with report.open(newline="", encoding="utf-8") as file:
            errors = [(row["line"], row["field"], row["message"]) for row in csv.DictReader(file)]
    return out.getvalue(), errors


def _vocabulary() -> list[str]:
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SELECT word FROM books_word ORDER BY word")
        else:
            cursor.execute("SELECT term FROM books_book_words_vocab ORDER BY term")
        return [word for (word,) in cursor.fetchall()]


def _forget_everything() -> None:
    Book.objects.all().delete()
    if connection.vendor == "postgresql":  # books_word never forgets a word by itself
        with connection.cursor() as cursor:
            cursor.execute("DELETE FROM books_word")


def _state() -> tuple[list[Any], list[str]]:
    books = list(Book.objects.order_by("isbn").values_list(*BOOK_FIELDS))
    return books, _vocabulary()


@pytest.mark.parametrize("batch_size", ["4", "1000"])
def test_bulk_load_gives_what_batch_by_batch_gives(tmp_path, batch_size):
    path = write_csv(tmp_path / "books.csv", _rows_with_a_duplicate_and_a_refused_row(30))
    _forget_everything()

    bulk_out, bulk_errors = _import(path, "--batch-size", batch_size)
    bulk_state = _state()
    _forget_everything()
    out, errors = _import(path, "--batch-size", batch_size, "--no-bulk-load", "--show-errors", "0")
    state = _state()

    assert "Empty table: loaded in one transaction" in bulk_out
    assert "Empty table" not in out
    assert bulk_state == state
    assert len(state[0]) == 30
    assert "nandu" in state[1] or "ñandú" in state[1]  # words of the titles are known
    assert bulk_errors == errors
    assert [(line, field) for line, field, _ in errors] == [("7", "isbn"), ("11", "title")]
    assert bulk_out.split("rows/s): ")[1].split("\n")[0] == out.split("rows/s): ")[1].split("\n")[0]


def test_the_messy_sample_loads_the_same_both_ways(tmp_path):
    _forget_everything()
    _, bulk_errors = _import(MESSY)
    bulk_state = _state()
    _forget_everything()
    _, errors = _import(MESSY, "--no-bulk-load")

    assert bulk_state == _state()
    assert bulk_errors == errors


def test_indexes_are_the_same_after_a_bulk_load(tmp_path):
    before = secondary_indexes(connection)
    assert before  # the list and search indexes

    _import(write_csv(tmp_path / "books.csv", _rows(10)))

    assert secondary_indexes(connection) == before


def test_a_failed_bulk_load_leaves_the_table_empty_with_its_indexes(tmp_path, monkeypatch):
    before = secondary_indexes(connection)
    original_write = upsert.BatchWriter.write
    calls = []

    def write_then_fail(self, batch):  # type: ignore[no-untyped-def]
        calls.append(original_write(self, batch))
        if len(calls) == 2:
            raise RuntimeError("disk full")
        return calls[-1]

    monkeypatch.setattr(upsert.BatchWriter, "write", write_then_fail)

    with pytest.raises(RuntimeError):
        _import(write_csv(tmp_path / "books.csv", _rows(10)), "--batch-size", "3")

    assert Book.objects.count() == 0  # the first batch too: one transaction
    assert secondary_indexes(connection) == before


def test_a_table_with_books_is_written_batch_by_batch_and_changes_are_reported(tmp_path):
    BookFactory(isbn=_rows(1)[0][3], title="Stored")
    before = secondary_indexes(connection)
    changes = tmp_path / "changes.csv"

    out, _ = _import(write_csv(tmp_path / "books.csv", _rows(3)), "--changes", str(changes))

    assert "Empty table" not in out
    assert "2 inserted, 1 updated" in out
    with changes.open(newline="", encoding="utf-8") as file:
        report = [(row["field"], row["old"], row["new"]) for row in csv.DictReader(file)]
    assert ("title", "Stored", "Título 0 ñandú") in report
    assert secondary_indexes(connection) == before


def test_a_book_stored_before_the_lock_turns_the_bulk_load_down(tmp_path, monkeypatch):
    """Empty when first looked at, not once locked: another writer came in between."""
    looks = []
    original = bulk_load_module.books_table_is_empty

    def empty_then_another_writer_stores_a_book(conn):  # type: ignore[no-untyped-def]
        looks.append(original(conn))
        if len(looks) == 1:
            BookFactory(isbn=_rows(1)[0][3], title="Stored meanwhile")
        return looks[-1]

    monkeypatch.setattr(
        bulk_load_module, "books_table_is_empty", empty_then_another_writer_stores_a_book
    )

    out, _ = _import(write_csv(tmp_path / "books.csv", _rows(3)))

    assert looks == [True, False]
    assert "Empty table" not in out
    assert "2 inserted, 1 updated" in out


def test_dry_run_is_never_a_bulk_load(tmp_path):
    out, _ = _import(write_csv(tmp_path / "books.csv", _rows(3)), "--dry-run")

    assert "Empty table" not in out
    assert Book.objects.count() == 0


def test_bulk_load_tells_the_read_cache(tmp_path, monkeypatch):
    told = []
    monkeypatch.setattr(upsert.read_cache, "books_changed", lambda fences, **_: told.append(fences))

    _import(write_csv(tmp_path / "books.csv", _rows(6)), "--batch-size", "4")

    assert told == [{}, {}]  # a batch of new books: the list pages renewed
