"""import_books reports every stored book it updates, field by field, old → new (--changes
and stderr); --insert-only never touches a stored book (skipped and reported); --dry-run
gives the same report as the real run."""

import csv
import io
from pathlib import Path

import pytest
from django.core.management import call_command

from books.models import Book
from books.tests.factories import BookFactory
from books.tests.test_import_upsert import _SUMMARY, HEADER, _counts, run_import, write_csv

pytestmark = pytest.mark.django_db

DUNE = "9780441172719"
MESSIAH = "9780441569595"
NEW = "9780306406157"


def _stored() -> None:
    BookFactory(
        isbn=DUNE, title="Dune (old)", author="Frank Herbert", publication_date="1965-08-01",
        summary="Old summary.",
    )  # fmt: skip
    BookFactory(
        isbn=MESSIAH, title="Dune Messiah", author="Frank Herbert",
        publication_date="1969-10-15", summary="Same.",
    )  # fmt: skip


def _file(tmp_path: Path) -> Path:
    return write_csv(
        tmp_path / "books.csv",
        [
            ["Dune", "Frank Herbert", "1965-08-01", DUNE, "New summary."],  # line 2: changed
            ["Dune Messiah", "Frank Herbert", "1969-10-15", MESSIAH, "Same."],  # 3: identical
            ["New", "Someone", "2000-01-01", NEW, ""],  # line 4: new
        ],
    )


def import_with_changes(path: Path, *args: str) -> tuple[str, str, list[dict[str, str]]]:
    """Run the command with --changes: (stdout, stderr, the change report's rows)."""
    report = path.parent / "changes.csv"
    out, err = io.StringIO(), io.StringIO()
    call_command(
        "import_books", str(path), "--no-progress", "--changes", str(report), *args,
        stdout=out, stderr=err,
    )  # fmt: skip
    with report.open(newline="", encoding="utf-8") as file:
        return out.getvalue(), err.getvalue(), list(csv.DictReader(file))


def test_change_report_names_each_updated_book_and_field_old_to_new(tmp_path):
    _stored()

    out, err, changes = import_with_changes(_file(tmp_path))

    assert changes == [
        {"line": "2", "isbn": DUNE, "action": "updated", "field": "title",
         "old": "Dune (old)", "new": "Dune"},
        {"line": "2", "isbn": DUNE, "action": "updated", "field": "summary",
         "old": "Old summary.", "new": "New summary."},
    ]  # fmt: skip
    assert (
        f"line 2, {DUNE}, updated: title 'Dune (old)' → 'Dune'; "
        "summary 'Old summary.' → 'New summary.'"
    ) in err
    assert "1 inserted, 1 updated, 1 unchanged, 0 rejected." in out
    assert Book.objects.get(isbn=DUNE).title == "Dune"


def test_report_has_the_values_replaced_in_the_database_not_those_of_an_earlier_read(tmp_path):
    """The old value comes from the row the UPDATE replaced, read under its lock."""
    _stored()
    Book.objects.filter(isbn=DUNE).update(title="Changed by the API just now")

    _, _, changes = import_with_changes(_file(tmp_path))

    assert changes[0]["old"] == "Changed by the API just now"


def test_only_fields_the_file_gives_are_compared(tmp_path):
    """No summary column: the stored summary is kept and not reported."""
    _stored()
    path = write_csv(
        tmp_path / "books.csv",
        [["Dune", "Frank Herbert", "1966-01-01", DUNE]],
        header=[name for name in HEADER if name != "summary"],
    )

    _, _, changes = import_with_changes(path)

    assert [(row["field"], row["old"], row["new"]) for row in changes] == [
        ("title", "Dune (old)", "Dune"),
        ("publication_date", "1965-08-01", "1966-01-01"),
    ]
    assert Book.objects.get(isbn=DUNE).summary == "Old summary."


def test_first_changes_on_stderr_with_a_count_of_the_rest(tmp_path):
    isbns = [DUNE, MESSIAH, NEW]
    for isbn in isbns:
        BookFactory(isbn=isbn, title="Old")
    path = write_csv(
        tmp_path / "books.csv", [["New", "A", "2000-01-01", isbn, ""] for isbn in isbns]
    )

    _, err, changes = import_with_changes(path, "--show-changes", "1")

    assert len({row["isbn"] for row in changes}) == 3
    assert f"line 2, {DUNE}, updated: title 'Old' → 'New'" in err
    assert MESSIAH not in err
    assert "... and 2 more books changed or skipped" in err


def test_insert_only_adds_new_books_and_skips_stored_ones_reporting_them(tmp_path):
    _stored()
    before = {book.isbn: (book.title, book.version, book.updated_at) for book in Book.objects.all()}

    out, _, changes = import_with_changes(_file(tmp_path), "--insert-only")

    after = {book.isbn: (book.title, book.version, book.updated_at) for book in Book.objects.all()}
    assert {isbn: after[isbn] for isbn in before} == before
    assert NEW in after
    assert "1 inserted, 0 updated, 0 unchanged, 0 rejected, 2 skipped" in out
    assert [(row["line"], row["action"], row["field"]) for row in changes] == [
        ("2", "skipped", "title"),
        ("2", "skipped", "summary"),
        ("3", "skipped", ""),  # identical: skipped all the same
    ]


def test_insert_only_counts_add_up(tmp_path):
    _stored()

    counts, _ = run_import(_file(tmp_path), "--insert-only")

    assert counts == _counts(3, inserted=1)


@pytest.mark.parametrize("extra", [[], ["--insert-only"]])
def test_dry_run_reports_what_the_real_run_then_does(tmp_path, extra):
    _stored()
    path = _file(tmp_path)

    dry_out, dry_err, dry_changes = import_with_changes(path, "--dry-run", *extra)
    assert Book.objects.get(isbn=DUNE).title == "Dune (old)"
    out, err, changes = import_with_changes(path, *extra)

    assert dry_changes == changes
    assert dry_err == err
    assert changes
    assert _SUMMARY.search(dry_out).groups() == _SUMMARY.search(out).groups()  # type: ignore[union-attr]
    assert dry_out.count("skipped") == out.count("skipped")
