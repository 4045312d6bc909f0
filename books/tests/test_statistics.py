"""The planner's statistics after a bulk load: import_books and seed_books run ANALYZE on the
books table when they wrote rows (books.statistics), on PostgreSQL and on SQLite."""

import csv
import io
from pathlib import Path

import pytest
from django.core.management import call_command
from django.db import connection

from books.management.commands import import_books, seed_books
from books.tests.test_import_upsert import write_csv

pytestmark = pytest.mark.django_db

DEMO_CATALOGUE = Path(__file__).resolve().parent.parent / "data" / "demo-books.csv"


def analyzed_row_count() -> int | None:
    """How many rows the last ANALYZE counted in books_book, or None if it has no statistics.

    PostgreSQL: pg_class.reltuples (-1 until the table is first analyzed). SQLite: the row
    count that begins each of the table's sqlite_stat1 lines.
    """
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SELECT reltuples FROM pg_class WHERE relname = 'books_book'")
            (reltuples,) = cursor.fetchone()
            return None if reltuples < 0 else round(reltuples)
        cursor.execute("SELECT 1 FROM sqlite_master WHERE name = 'sqlite_stat1'")
        if cursor.fetchone() is None:
            return None
        cursor.execute("SELECT stat FROM sqlite_stat1 WHERE tbl = 'books_book'")
        counts = {int(stat.split()[0]) for (stat,) in cursor.fetchall()}
        assert len(counts) <= 1, counts
        return counts.pop() if counts else None


@pytest.fixture(autouse=True)
def _statistics_of_an_empty_table() -> None:
    """Statistics that know of no rows, whatever earlier tests analyzed (PostgreSQL keeps
    pg_class.reltuples through a rollback: ANALYZE writes it in place)."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("ANALYZE books_book")  # the table is empty in this test
        else:
            cursor.execute("SELECT 1 FROM sqlite_master WHERE name = 'sqlite_stat1'")
            if cursor.fetchone() is not None:
                cursor.execute("DELETE FROM sqlite_stat1 WHERE tbl = 'books_book'")
    assert analyzed_row_count() in (None, 0)


@pytest.fixture
def analyze_calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The database alias of every analyze_books() call the two commands make."""
    calls: list[str] = []

    def record(*, using: str = "default") -> None:
        calls.append(using)

    for command in (import_books, seed_books):
        monkeypatch.setattr(command, "analyze_books", record)
    return calls


def _command(*args: str) -> None:
    call_command(*args, stdout=io.StringIO(), stderr=io.StringIO())


def _rows_in(path: Path) -> int:
    with path.open(encoding="utf-8", newline="") as file:
        return sum(1 for _ in csv.DictReader(file))


def test_import_books_leaves_statistics_that_count_the_imported_rows():
    books = _rows_in(DEMO_CATALOGUE)

    _command("import_books", str(DEMO_CATALOGUE), "--no-progress")

    assert analyzed_row_count() == books


def test_seed_books_leaves_statistics_that_count_the_seeded_rows():
    _command("seed_books", "30")

    assert analyzed_row_count() == 30


def test_import_books_analyzes_after_an_update(tmp_path, analyze_calls):
    path = write_csv(tmp_path / "one.csv", [["Dune", "Frank Herbert", "1965", "0441172717", ""]])
    _command("import_books", str(path), "--no-progress")
    write_csv(path, [["Dune", "Frank Herbert", "1966", "0441172717", ""]])

    _command("import_books", str(path), "--no-progress")

    assert analyze_calls == ["default", "default"]


def test_import_books_does_not_analyze_when_it_wrote_nothing(tmp_path, analyze_calls):
    path = write_csv(tmp_path / "one.csv", [["Dune", "Frank Herbert", "1965", "0441172717", ""]])
    _command("import_books", str(path), "--no-progress", "--dry-run")
    assert analyze_calls == []

    _command("import_books", str(path), "--no-progress")
    _command("import_books", str(path), "--no-progress")  # unchanged: nothing written

    assert analyze_calls == ["default"]


def test_seed_books_does_not_analyze_when_it_added_nothing(analyze_calls):
    _command("seed_books", "5")
    _command("seed_books", "5")
    _command("seed_books", "0")

    assert analyze_calls == ["default"]


def test_the_search_indexes_are_ready_after_an_import() -> None:
    """PostgreSQL: no GIN index of the table has entries left in its pending list (which every
    search would read in full). SQLite: the FTS5 tables agree with the books."""
    _command("import_books", str(DEMO_CATALOGUE), "--no-progress")

    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT c.relname, gin_clean_pending_list(i.indexrelid) FROM pg_index i "
                "JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_am a ON a.oid = c.relam "
                "WHERE i.indrelid = 'books_book'::regclass AND a.amname = 'gin'"
            )
            pending = dict(cursor.fetchall())
            assert len(pending) == 3, pending
            assert set(pending.values()) == {0}, pending
        else:
            for table in ("books_book_fts", "books_book_words"):
                # Raises (SQLITE_CORRUPT_VTAB) when the index and the books disagree.
                check = f"INSERT INTO {table} ({table}, rank) VALUES ('integrity-check', 1)"  # noqa: S608
                cursor.execute(check)
            cursor.execute("SELECT count(*) FROM books_book_fts WHERE books_book_fts MATCH 'dune'")
            assert cursor.fetchone()[0] >= 3
