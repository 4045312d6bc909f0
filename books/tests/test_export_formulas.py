"""CSV cells a spreadsheet would run as a formula are escaped on export and restored on
import (issue 13, finding 7; OWASP's "CSV Injection": a leading single quote)."""

import csv
import io

import pytest
from django.core.management import call_command

from books import exporting
from books.models import Book
from books.tests.factories import BookFactory

pytestmark = pytest.mark.django_db

FORMULAS = [
    '=HYPERLINK("https://evil.example","click")',
    "+1+cmd|' /C calc'!A0",
    "-2+3",
    "@SUM(A1:A2)",
    "'=already quoted",
    "''",
]


def _exported_csv() -> str:
    return "".join(exporting.export_chunks(Book.objects.all(), "csv"))


@pytest.mark.parametrize("title", FORMULAS)
def test_a_cell_a_spreadsheet_would_run_is_exported_with_a_leading_quote(title: str) -> None:
    BookFactory(title=title)

    rows = list(csv.DictReader(io.StringIO(_exported_csv())))

    assert rows[0]["title"] == f"'{title}"


@pytest.mark.parametrize("value", ["=1", "+1", "-1", "@a", "\tx", "\rx", "'=x", "''"])
def test_escaping_is_undone_exactly(value: str) -> None:
    assert exporting.csv_cell(value) == f"'{value}"
    assert exporting.csv_cell_value(exporting.csv_cell(value)) == value


@pytest.mark.parametrize("value", ["Dune", "'quoted'", "a=b", "", "2020-01-01"])
def test_other_cells_are_exported_as_they_are(value: str) -> None:
    assert exporting.csv_cell(value) == value
    assert exporting.csv_cell_value(value) == value


def test_export_then_import_round_trips_formula_like_titles(tmp_path) -> None:  # type: ignore[no-untyped-def]
    books = [BookFactory(title=title, author=f"@{title}") for title in FORMULAS]
    path = tmp_path / "books.csv"
    path.write_text(_exported_csv(), encoding="utf-8")
    before = {book.isbn: (book.title, book.author) for book in books}
    Book.objects.all().delete()

    call_command("import_books", str(path), stdout=io.StringIO(), stderr=io.StringIO())

    after = {book.isbn: (book.title, book.author) for book in Book.objects.all()}
    assert after == before
