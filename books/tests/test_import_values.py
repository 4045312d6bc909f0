"""Values as librarians' files have them (issue 15, items 8 and 10): ISBN labels, short and
spreadsheet-formatted years, month names, --date-format, no guessing of day and month; and
the precision each date had, stored with it."""

import csv
import datetime
from pathlib import Path

import pytest
from django.core.management import CommandError

from books import services
from books.dates import AMBIGUOUS_MESSAGE, BCE_MESSAGE
from books.exporting import export_chunks
from books.models import Book
from books.tests.factories import BookFactory
from books.tests.test_import_upsert import run_import

pytestmark = pytest.mark.django_db

DATA = Path(__file__).parent / "data"
#: Rows of goodbooks-10k's books.csv (CC BY-SA 4.0; books/tests/data/README.md).
GOODBOOKS = DATA / "goodbooks_classics.csv"
#: The options goodbooks-10k's books.csv needs: its authors and year columns named, and its
#: isbn column chosen over isbn13 (whose numbers a spreadsheet rounded).
GOODBOOKS_MAP = [
    "--map", "authors=author",
    "--map", "original_publication_year=publication_date",
    "--map", "isbn=isbn",
]  # fmt: skip


def _import_rows(tmp_path: Path, rows: list[dict[str, str]], *args: str):  # type: ignore[no-untyped-def]
    path = tmp_path / "books.csv"
    with path.open("w", newline="", encoding="utf-8") as file:
        writer = csv.DictWriter(file, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return run_import(path, *args)


def _row(**fields: str) -> dict[str, str]:
    return {
        "title": "Frankenstein",
        "author": "Mary Shelley",
        "publication_date": "1818-01-01",
        "isbn": "9780306406157",
        **fields,
    }


def _stored() -> tuple[str, str]:
    book = Book.objects.get()
    return book.publication_date.isoformat(), book.publication_date_precision


# --- ISBNs ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "spelled",
    [
        "ISBN 0-306-40615-2",
        "ISBN:9780306406157",
        "ISBN: 978-0-306-40615-7",
        "ISBN-13: 978-0-306-40615-7",
        "ISBN-10 0306406152",
        "isbn13:9780306406157",
        "ISBN 13 9780306406157",
    ],
)
def test_an_isbn_label_before_the_number_is_dropped(tmp_path, spelled):
    counts, errors = _import_rows(tmp_path, [_row(isbn=spelled)])

    assert (counts["inserted"], errors) == (1, [])
    assert Book.objects.get().isbn == "9780306406157"


def test_a_ten_after_the_label_is_the_numbers_own_when_no_space_or_colon_follows(tmp_path):
    counts, errors = _import_rows(tmp_path, [_row(isbn="ISBN 1034567896")])

    assert (counts["inserted"], errors) == (1, [])
    assert Book.objects.get().isbn == "9781034567899"


# --- years, months, formats -------------------------------------------------------------------


def test_goodbooks_classics_with_short_years_are_years_and_bce_years_are_refused():
    counts, errors = run_import(GOODBOOKS, *GOODBOOKS_MAP)

    stored = {
        book.title: (book.publication_date.isoformat(), book.publication_date_precision)
        for book in Book.objects.all()
    }
    assert stored["Beowulf"] == ("0975-01-01", "year")
    assert stored["Metamorphoses"] == ("0008-01-01", "year")
    assert stored["The Twelve Caesars"] == ("0119-01-01", "year")
    assert stored["The Hunger Games (The Hunger Games, #1)"] == ("2008-01-01", "year")
    assert counts["inserted"] == 7 == len(stored)
    refused = {(error["line"], error["field"]): error["message"] for error in errors}
    assert refused[("3", "publication_date")] == BCE_MESSAGE  # The Odyssey, -720.0
    assert refused[("4", "publication_date")] == BCE_MESSAGE  # The Art of War, -500.0
    assert set(refused) == {("3", "publication_date"), ("4", "publication_date"), ("8", "isbn")}


@pytest.mark.parametrize(
    ("spelled", "stored"),
    [
        ("975", ("0975-01-01", "year")),
        ("8", ("0008-01-01", "year")),
        ("1818.0", ("1818-01-01", "year")),
        ("1818", ("1818-01-01", "year")),
        ("1818-03", ("1818-03-01", "month")),
        ("March 1818", ("1818-03-01", "month")),
        ("mar. 1818", ("1818-03-01", "month")),
        ("Sept 1818", ("1818-09-01", "month")),
        ("11 March 1818", ("1818-03-11", "day")),
        ("March 11, 1818", ("1818-03-11", "day")),
        ("1818-03-11", ("1818-03-11", "day")),
    ],
)
def test_documented_date_spellings_are_stored_with_their_precision(tmp_path, spelled, stored):
    counts, errors = _import_rows(tmp_path, [_row(publication_date=spelled)])

    assert (counts["inserted"], errors) == (1, [])
    assert _stored() == stored


@pytest.mark.parametrize(
    ("spelled", "message"),
    [
        ("01/02/1818", AMBIGUOUS_MESSAGE),
        ("01/01/1818", AMBIGUOUS_MESSAGE),
        ("13/01/1818", AMBIGUOUS_MESSAGE),
        ("1.2.1818", AMBIGUOUS_MESSAGE),
        ("-500", BCE_MESSAGE),
        ("-17.0", BCE_MESSAGE),
    ],
)
def test_day_and_month_in_numbers_and_bce_years_are_refused_with_what_to_do(
    tmp_path, spelled, message
):
    counts, errors = _import_rows(tmp_path, [_row(publication_date=spelled)])

    assert counts["rejected"] == 1
    assert [(error["field"], error["message"]) for error in errors] == [
        ("publication_date", message)
    ]
    assert "--date-format" in AMBIGUOUS_MESSAGE


def test_a_blank_date_is_reported_as_blank(tmp_path):
    _, errors = _import_rows(tmp_path, [_row(publication_date=" ")])

    assert [(error["field"], error["message"]) for error in errors] == [
        ("publication_date", "This field may not be blank.")
    ]


def test_two_columns_for_the_isbn_name_the_map_that_chooses(tmp_path):
    counts, errors = _import_rows(
        tmp_path, [_row(isbn13="9.78030640616e+12")], "--map", "isbn=isbn"
    )

    assert (counts["inserted"], errors) == (1, [])
    with pytest.raises(CommandError, match="--map 'isbn=isbn'"):
        _import_rows(tmp_path, [_row(isbn13="9.78030640616e+12")])


@pytest.mark.parametrize(
    ("date_format", "spelled", "stored"),
    [
        ("%d/%m/%Y", "01/02/1818", ("1818-02-01", "day")),
        ("%m/%d/%Y", "01/02/1818", ("1818-01-02", "day")),
        ("%d.%m.%Y", "11.03.1818", ("1818-03-11", "day")),
        ("%m/%Y", "03/1818", ("1818-03-01", "month")),
        ("%d/%m/%Y", "1818-03-11", ("1818-03-11", "day")),  # ISO dates are read as ever
        ("%d/%m/%Y", "1818", ("1818-01-01", "year")),
    ],
)
def test_date_format_reads_the_files_own_spelling(tmp_path, date_format, spelled, stored):
    counts, errors = _import_rows(
        tmp_path, [_row(publication_date=spelled)], "--date-format", date_format
    )

    assert (counts["inserted"], errors) == (1, [])
    assert _stored() == stored


def test_a_date_not_in_the_date_format_is_refused_naming_it(tmp_path):
    counts, errors = _import_rows(
        tmp_path, [_row(publication_date="02/30/1818")], "--date-format", "%m/%d/%Y"
    )

    assert counts["rejected"] == 1
    assert "'%m/%d/%Y'" in errors[0]["message"]


# --- the precision --------------------------------------------------------------------------


def test_a_precision_column_is_read_and_held_to_the_date(tmp_path):
    rows = [
        _row(publication_date="1818-01-01", publication_date_precision="year"),
        _row(
            isbn="9780441172719", publication_date="1965-08-01", publication_date_precision="year"
        ),
        _row(isbn="9780553283686", publication_date="1989", publication_date_precision="day"),
        _row(isbn="9780439023481", publication_date="2008-07-01", publication_date_precision=""),
    ]

    counts, errors = _import_rows(tmp_path, rows)

    assert (counts["inserted"], counts["rejected"]) == (2, 2)
    assert {(error["line"], error["field"]) for error in errors} == {
        ("3", "publication_date_precision"),
        ("4", "publication_date_precision"),
    }
    stored = dict(Book.objects.values_list("isbn", "publication_date_precision"))
    assert stored == {"9780306406157": "year", "9780439023481": "day"}


def test_a_year_given_again_for_a_stored_day_date_updates_the_precision(tmp_path):
    BookFactory(isbn="9780306406157", publication_date=datetime.date(1818, 1, 1))

    counts, _ = _import_rows(tmp_path, [_row(publication_date="1818")])
    again, _ = _import_rows(tmp_path, [_row(publication_date="1818")])

    assert counts["updated"] == 1
    assert again["unchanged"] == 1
    assert _stored() == ("1818-01-01", "year")


def test_an_export_imports_back_unchanged(tmp_path):
    for isbn, date, precision in [
        ("9780306406157", "1818-01-01", "year"),
        ("9780441172719", "1965-08-01", "month"),
        ("9780553283686", "1989-06-15", "day"),
    ]:
        services.book_create(
            title="T", author="A", publication_date=date, isbn=isbn,
            publication_date_precision=precision,
        )  # fmt: skip
    before = set(Book.objects.values_list("isbn", "publication_date", "publication_date_precision"))
    path = tmp_path / "export.csv"
    path.write_text("".join(export_chunks(Book.objects.all(), "csv")), encoding="utf-8")

    again, _ = run_import(path)
    Book.objects.all().delete()
    fresh, errors = run_import(path)

    assert again["unchanged"] == 3
    assert (fresh["inserted"], errors) == (3, [])
    after = set(Book.objects.values_list("isbn", "publication_date", "publication_date_precision"))
    assert after == before


def test_a_date_format_without_a_directive_is_refused_before_reading(tmp_path):
    with pytest.raises(CommandError, match="strptime format"):
        _import_rows(tmp_path, [_row()], "--date-format", "dd/mm/yyyy")

    assert not Book.objects.exists()


def test_json_lines_keys_and_values_get_the_same_rules(tmp_path):
    path = tmp_path / "books.jsonl"
    path.write_text(
        '{"Title": "Beowulf", "Author": "Unknown", "Publication-Date": "975", '
        '"ISBN-13": "ISBN 978-0-393-32097-8"}\n',
        encoding="utf-8",
    )

    counts, errors = run_import(path)

    assert (counts["inserted"], errors) == (1, [])
    assert _stored() == ("0975-01-01", "year")
