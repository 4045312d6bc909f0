"""import_books writes by ISBN: new books inserted, changed ones updated (version + 1),
identical ones left alone; the first row with an ISBN wins; --dry-run writes nothing."""

import csv
import io
import re
import tempfile
from pathlib import Path

import pytest
from django.core.management import call_command
from django.db import connection

from books.importing.upsert import batch_writer_for
from books.models import Book
from books.tests.factories import BookFactory

pytestmark = pytest.mark.django_db

HEADER = ["title", "author", "publication_date", "isbn", "summary"]
_SUMMARY = re.compile(
    r"([\d,]+) rows .*?: ([\d,]+) (?:would be )?inserted, ([\d,]+) (?:would be )?updated, "
    r"([\d,]+) unchanged, ([\d,]+) rejected"
)


def write_csv(path: Path, rows: list[list[str]], header: list[str] = HEADER) -> Path:
    with path.open("w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def run_import(path: Path, *args: str) -> tuple[dict[str, int], list[dict[str, str]]]:
    """Import ``path``: the summary's counts and every row of the error report."""
    with tempfile.TemporaryDirectory() as directory:
        report = Path(directory) / "errors.csv"
        out = io.StringIO()
        call_command(
            "import_books", str(path), "--no-progress", "--errors", str(report), *args,
            stdout=out, stderr=io.StringIO(),
        )  # fmt: skip
        with report.open(newline="", encoding="utf-8") as file:
            errors = list(csv.DictReader(file))
    match = _SUMMARY.search(out.getvalue())
    assert match, out.getvalue()
    names = ("rows", "inserted", "updated", "unchanged", "rejected")
    counts = {
        name: int(value.replace(",", "")) for name, value in zip(names, match.groups(), strict=True)
    }
    return counts, errors


def _row(isbn: str, title: str = "Dune", summary: str = "Spice.") -> list[str]:
    return [title, "Frank Herbert", "1965-08-01", isbn, summary]


def _counts(rows: int, inserted: int = 0, updated: int = 0, unchanged: int = 0, rejected: int = 0):  # type: ignore[no-untyped-def]
    return {
        "rows": rows,
        "inserted": inserted,
        "updated": updated,
        "unchanged": unchanged,
        "rejected": rejected,
    }


def test_new_isbns_are_inserted_at_version_1(tmp_path):
    path = write_csv(tmp_path / "books.csv", [_row("0-441-17271-7"), _row("9780441569595")])

    counts, errors = run_import(path)

    assert counts == _counts(2, inserted=2)
    assert errors == []
    book = Book.objects.get(isbn="9780441172719")
    assert (book.title, book.author, book.summary, book.version) == (
        "Dune",
        "Frank Herbert",
        "Spice.",
        1,
    )
    assert book.publication_date.isoformat() == "1965-08-01"
    for stored in Book.objects.all():
        stored.full_clean()  # what the importer stores passes the model's own validation


def test_changed_book_is_updated_with_version_and_updated_at_moved(tmp_path):
    book = BookFactory(isbn="9780441172719", title="Old title", version=3)
    created_at, updated_at = book.created_at, book.updated_at
    path = write_csv(tmp_path / "books.csv", [_row("0441172717", title="New title")])

    counts, _ = run_import(path)

    assert counts == _counts(1, updated=1)
    book.refresh_from_db()
    assert book.title == "New title"
    assert book.version == 4
    assert book.updated_at > updated_at
    assert book.created_at == created_at


@pytest.mark.parametrize("field", ["title", "author", "publication_date", "summary"])
def test_a_difference_in_any_one_field_updates(tmp_path, field):
    values = dict(zip(HEADER, _row("9780441172719"), strict=True))
    BookFactory(**{**values, field: {"publication_date": "1965-08-02"}.get(field, "Other")})
    path = write_csv(tmp_path / "books.csv", [list(values.values())])

    counts, _ = run_import(path)

    assert counts == _counts(1, updated=1)
    assert Book.objects.get().version == 2


def test_identical_book_is_left_untouched(tmp_path):
    book = BookFactory(**dict(zip(HEADER, _row("9780441172719"), strict=True)))
    before = Book.objects.values().get(pk=book.pk)
    path = write_csv(tmp_path / "books.csv", [_row(" 0-441-17271-7 ", title="  Dune ")])

    counts, _ = run_import(path)

    assert counts == _counts(1, unchanged=1)
    assert Book.objects.values().get(pk=book.pk) == before  # version, updated_at: all as before


def test_rerunning_the_same_file_changes_nothing(tmp_path):
    rows = [_row("9780441172719"), _row("9780441569595", "N")]
    path = write_csv(tmp_path / "books.csv", [*rows, ["", "x", "1999", "1", ""]])
    run_import(path)
    before = list(Book.objects.order_by("pk").values())

    counts, errors = run_import(path)

    assert counts == _counts(3, unchanged=2, rejected=1)
    assert list(Book.objects.order_by("pk").values()) == before
    assert {error["line"] for error in errors} == {"4"}


def test_file_without_summary_column_keeps_stored_summaries(tmp_path):
    BookFactory(isbn="9780441172719", title="Old", summary="Kept.")
    path = write_csv(
        tmp_path / "books.csv",
        [_row("9780441172719", title="New")[:4], _row("9780441569595")[:4]],
        header=HEADER[:4],
    )

    counts, _ = run_import(path)

    assert counts == _counts(2, inserted=1, updated=1)
    assert Book.objects.get(isbn="9780441172719").summary == "Kept."
    assert Book.objects.get(isbn="9780441569595").summary == ""


def test_empty_summary_cell_replaces_the_stored_summary(tmp_path):
    BookFactory(**dict(zip(HEADER, _row("9780441172719", summary="Old."), strict=True)))
    path = write_csv(tmp_path / "books.csv", [_row("9780441172719", summary="  ")])

    counts, _ = run_import(path)

    assert counts == _counts(1, updated=1)
    assert Book.objects.get().summary == ""


@pytest.mark.parametrize("batch_size", ["1", "2", "3", "1000"])
def test_first_row_with_an_isbn_wins_within_and_across_batches(tmp_path, batch_size):
    path = write_csv(
        tmp_path / "books.csv",
        [
            _row("9780441172719", title="First"),  # line 2
            _row("9780441569595", title="Other"),  # line 3
            _row("0-441-17271-7", title="Second"),  # line 4: the same book, another spelling
            _row("441172717", title="Third"),  # line 5: ... and without its leading zero
        ],
    )

    counts, errors = run_import(path, "--batch-size", batch_size)

    assert counts == _counts(4, inserted=2, rejected=2)
    assert Book.objects.get(isbn="9780441172719").title == "First"
    assert [(error["line"], error["field"]) for error in errors] == [("4", "isbn"), ("5", "isbn")]
    assert all("line 2" in error["message"] for error in errors)


@pytest.mark.parametrize("batch_size", ["1", "1000"])
def test_a_refused_row_does_not_claim_its_isbn(tmp_path, batch_size):
    path = write_csv(
        tmp_path / "books.csv",
        [["", "Nobody", "1965-08-01", "9780441172719", ""], _row("9780441172719", title="Valid")],
    )

    counts, errors = run_import(path, "--batch-size", batch_size)

    assert counts == _counts(2, inserted=1, rejected=1)
    assert Book.objects.get().title == "Valid"
    assert [(error["line"], error["field"]) for error in errors] == [("2", "title")]


def test_rows_with_and_without_summary_in_one_batch(tmp_path):
    BookFactory(isbn="9780441172719", summary="Kept.", title="Old")
    path = tmp_path / "books.jsonl"
    path.write_text(
        '{"title": "New", "author": "A", "publication_date": "2001-01-01", '
        '"isbn": "9780441172719"}\n'
        '{"title": "T", "author": "A", "publication_date": "2001-01-01", '
        '"isbn": "9780441569595", "summary": "Given."}\n',
        encoding="utf-8",
    )

    counts, _ = run_import(path)

    assert counts == _counts(2, inserted=1, updated=1)
    assert Book.objects.get(isbn="9780441172719").summary == "Kept."
    assert Book.objects.get(isbn="9780441569595").summary == "Given."


def test_dry_run_counts_what_a_real_run_would_do_and_writes_nothing(tmp_path):
    BookFactory(**dict(zip(HEADER, _row("9780441172719"), strict=True)))
    BookFactory(isbn="9780441569595", title="Old")
    rows = [
        _row("9780441172719"),  # unchanged
        _row("9780441569595"),  # updated
        _row("9780306406157"),  # inserted
        _row("0306406152"),  # duplicate
        _row("123"),  # invalid
    ]
    path = write_csv(tmp_path / "books.csv", rows)
    before = list(Book.objects.order_by("pk").values())

    dry_counts, dry_errors = run_import(path, "--dry-run", "--batch-size", "2")

    assert list(Book.objects.order_by("pk").values()) == before
    real_counts, real_errors = run_import(path, "--batch-size", "2")
    assert dry_counts == real_counts == _counts(5, inserted=1, updated=1, unchanged=1, rejected=2)
    assert dry_errors == real_errors


def test_dry_run_of_a_file_without_summary_ignores_stored_summaries(tmp_path):
    BookFactory(**dict(zip(HEADER, _row("9780441172719", summary="Stored."), strict=True)))
    path = write_csv(tmp_path / "books.csv", [_row("9780441172719")[:4]], header=HEADER[:4])

    counts, _ = run_import(path, "--dry-run")

    assert counts == _counts(1, unchanged=1)


def test_book_stored_by_another_writer_after_the_lookup_is_updated_not_duplicated(
    tmp_path, monkeypatch
):
    """The INSERT of new books meets a book stored after it looked: it is rolled back, the
    batch looked up again, and the book it met updated."""
    BookFactory(isbn="9780441172719", title="Stored meanwhile")
    writer_class = type(batch_writer_for(connection))
    quoted_id = connection.ops.quote_name("id")
    original_insert = writer_class._insert
    looked_up_inserts = []

    def insert_whose_lookup_misses_the_stored_book(self, cursor, now, *, look_up):  # type: ignore[no-untyped-def]
        if not look_up or looked_up_inserts:
            if look_up:
                looked_up_inserts.append(original_insert(self, cursor, now, look_up=True))
                return looked_up_inserts[-1]
            return original_insert(self, cursor, now, look_up=False)
        self._stored_book_join = lambda **_: f"LEFT JOIN (SELECT NULL AS {quoted_id}) book ON true"
        try:
            looked_up_inserts.append(original_insert(self, cursor, now, look_up=True))
        finally:
            del self._stored_book_join
        return looked_up_inserts[-1]

    monkeypatch.setattr(writer_class, "_insert", insert_whose_lookup_misses_the_stored_book)
    path = write_csv(tmp_path / "books.csv", [_row("9780441172719"), _row("9780441569595")])

    counts, _ = run_import(path)

    # Refused by the unique index and rolled back; looked up again, the other book inserted.
    assert looked_up_inserts == [None, 1]
    assert counts == _counts(2, inserted=1, updated=1)
    assert Book.objects.count() == 2
    assert Book.objects.get(isbn="9780441172719").title == "Dune"


@pytest.mark.parametrize(
    "summary", ["a\tb", "back\\slash", "\\N", "line\nbreak", "carriage\rreturn", "\\.", "é\u2028"]
)
def test_text_that_copy_would_misread_is_stored_exactly(tmp_path, summary):
    path = write_csv(tmp_path / "books.csv", [_row("9780441172719", summary=f"x{summary}x")])

    run_import(path)

    assert Book.objects.get().summary == f"x{summary}x"


@pytest.mark.parametrize("batch_size", ["1", "2", "3", "7"])
def test_new_changed_and_identical_books_mixed_across_batches(tmp_path, batch_size):
    BookFactory(**dict(zip(HEADER, _row("9780441569595"), strict=True)))  # identical in file
    BookFactory(isbn="9780306406157", title="Old")  # changed by the file
    new = ["9780441172719", "9780201633610", "9780131103627", "9780262033848"]
    rows = [
        _row(new[0]),
        _row(new[1]),
        _row("9780306406157"),
        _row(new[2]),
        _row("9780441569595"),
        _row(new[3]),
        _row(new[0]),  # a duplicate, last
    ]
    path = write_csv(tmp_path / "books.csv", rows)

    counts, errors = run_import(path, "--batch-size", batch_size)

    assert counts == _counts(7, inserted=4, updated=1, unchanged=1, rejected=1)
    assert [(error["line"], error["field"]) for error in errors] == [("8", "isbn")]
    assert sorted(Book.objects.values_list("isbn", "version")) == sorted(
        [(isbn, 1) for isbn in [*new, "9780441569595"]] + [("9780306406157", 2)]
    )
