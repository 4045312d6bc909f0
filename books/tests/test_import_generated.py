"""import_books on generated files (books.demo): every book stored exactly, across many
batches, as CSV and as gzip-compressed JSON Lines; a second run changes nothing, an edited
file updates just the edited books."""

import csv
import gzip
import json
from pathlib import Path
from typing import Any

import pytest

from books.demo import demo_books
from books.exporting import export_chunks
from books.models import Book
from books.tests.factories import BookFactory
from books.tests.test_import_upsert import HEADER, run_import

pytestmark = pytest.mark.django_db

COUNT = 750
BATCH_SIZE = "64"  # many batches, the last one partial


def _books() -> list[dict[str, Any]]:
    return [
        {**book, "publication_date": book["publication_date"].isoformat()}
        for book in demo_books(COUNT, seed=7)
    ]


def _write_csv(path: Path, books: list[dict[str, Any]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as file:
        writer = csv.DictWriter(file, fieldnames=HEADER)
        writer.writeheader()
        writer.writerows(books)
    return path


def _write_jsonl_gz(path: Path, books: list[dict[str, Any]]) -> Path:
    with gzip.open(path, "wt", encoding="utf-8") as file:
        for book in books:
            file.write(json.dumps(book) + "\n")
    return path


def _stored() -> dict[str, dict[str, Any]]:
    return {
        row["isbn"]: {**row, "publication_date": row["publication_date"].isoformat()}
        for row in Book.objects.values(*HEADER)
    }


@pytest.mark.parametrize("write", [_write_csv, _write_jsonl_gz], ids=["csv", "jsonl.gz"])
def test_generated_file_is_stored_exactly_and_a_rerun_changes_nothing(tmp_path, write):
    books = _books()
    path = write(tmp_path / ("books.csv" if write is _write_csv else "books.jsonl.gz"), books)

    counts, errors = run_import(path, "--batch-size", BATCH_SIZE)

    assert errors == []
    assert counts == {"rows": COUNT, "inserted": COUNT, "updated": 0, "unchanged": 0, "rejected": 0}
    assert _stored() == {book["isbn"]: book for book in books}
    assert set(Book.objects.values_list("version", flat=True)) == {1}

    before = list(Book.objects.order_by("pk").values())
    counts, _ = run_import(path, "--batch-size", BATCH_SIZE)

    assert counts == {"rows": COUNT, "inserted": 0, "updated": 0, "unchanged": COUNT, "rejected": 0}
    assert list(Book.objects.order_by("pk").values()) == before


def test_edited_generated_file_updates_only_the_edited_books(tmp_path):
    books = _books()
    run_import(_write_csv(tmp_path / "books.csv", books), "--batch-size", BATCH_SIZE)
    edited = {book["isbn"] for book in books[::50]}
    for book in books[::50]:
        book["title"] = book["title"][:190] + " (2nd ed.)"

    counts, _ = run_import(_write_csv(tmp_path / "edited.csv", books), "--batch-size", BATCH_SIZE)

    assert counts["updated"] == len(edited)
    assert counts["unchanged"] == COUNT - len(edited)
    versions = dict(Book.objects.values_list("isbn", "version"))
    assert {isbn for isbn, version in versions.items() if version == 2} == edited
    assert set(versions.values()) == {1, 2}
    assert _stored() == {book["isbn"]: book for book in books}


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_an_export_imports_back_unchanged(tmp_path, fmt):
    """What GET /books/export/ (books.exporting) writes, import_books reads back as is."""
    BookFactory.create_batch(30)
    path = tmp_path / f"export.{fmt}"
    path.write_text("".join(export_chunks(Book.objects.all(), fmt)), encoding="utf-8")
    before = list(Book.objects.order_by("pk").values())

    counts, errors = run_import(path)

    assert errors == []
    assert counts == {"rows": 30, "inserted": 0, "updated": 0, "unchanged": 30, "rejected": 0}
    assert list(Book.objects.order_by("pk").values()) == before
