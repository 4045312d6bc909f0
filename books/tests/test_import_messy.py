"""The messy samples in books/tests/data/, one row per rule of docs/import.md, imported with
exactly the documented outcome: what is stored, what is refused and why."""

import datetime
from pathlib import Path

import pytest

from books.models import Book
from books.tests.factories import BookFactory
from books.tests.test_import_upsert import run_import

pytestmark = pytest.mark.django_db

DATA = Path(__file__).parent / "data"


@pytest.fixture
def stored_books(db):  # type: ignore[no-untyped-def]
    """The books the samples expect to find: one the file repeats, one it changes."""
    unchanged = BookFactory(
        title="Stored Unchanged",
        author="Kept Author",
        publication_date=datetime.date(1990, 1, 1),
        isbn="9780131103627",
        summary="Stored as is.",
    )
    changed = BookFactory(
        title="Stored Original",
        author="Kept Author",
        publication_date=datetime.date(1991, 1, 1),
        isbn="9780262033848",
        summary="Old summary.",
    )
    return unchanged, changed


def _stored() -> dict[str, tuple[str, str, str, str]]:
    return {
        book.isbn: (book.title, book.author, book.publication_date.isoformat(), book.summary)
        for book in Book.objects.all()
    }


def _refused(errors: list[dict[str, str]]) -> list[tuple[int, str]]:
    return [(int(error["line"]), error["field"]) for error in errors]


# --- CSV ----------------------------------------------------------------------------------

CSV_STORED = {
    # line 2: a clean row, ISBN-13 with hyphens
    "9780306406157": (
        "The Pragmatic Programmer",
        "Andrew Hunt",
        "1999-10-20",
        "From journeyman to master.",
    ),
    # line 3: stray whitespace around every value (a tab too), ISBN-10
    "9780441172719": ("Dune", "Frank Herbert", "1965-08-01", "Desert planet."),
    # line 4: ISBN-10 that lost its leading zero (9 digits: the API takes it as well)
    "9780201633610": (
        "Design Patterns",
        "Erich Gamma",
        "1994-10-31",
        "Elements of reusable software.",
    ),
    # lines 5, 6: ISBN-10s that lost two and three leading zeros (padded: import only)
    "9780020442806": ("Two Zeros Lost", "Ann Author", "2001-01-01", "Spreadsheet ate two zeros."),
    "9780001234567": (
        "Three Zeros Lost",
        "Ann Author",
        "2002-02-02",
        "Spreadsheet ate three zeros.",
    ),
    # line 10: a year alone; line 11: a year and month (import only)
    "9780441569595": ("Neuromancer", "William Gibson", "1984-01-01", "Year only."),
    "9780307265432": ("The Road", "Cormac McCarthy", "2006-09-01", "Year and month."),
    # lines 19-20: a quoted summary over two lines
    "9780385490818": ("Multi Line", "Ann Author", "2009-09-09", "First line.\r\nSecond line."),
    # line 22: UTF-8 beyond ASCII; its ISBN's first row (line 12) was refused, so it is first
    "9780060883287": (
        "Cien años de soledad",
        "Gabriel García Márquez",
        "1967-05-30",
        "Macondo 🌧️.",
    ),
    # line 25: identical to the stored book; line 26: changes it
    "9780131103627": ("Stored Unchanged", "Kept Author", "1990-01-01", "Stored as is."),
    "9780262033848": ("Stored Retitled", "Kept Author", "1991-01-01", "New summary."),
    # line 27: empty summary; line 28: 979 prefix with spaces; line 30: whitespace summary
    "9780553380163": ("Empty Summary", "Ann Author", "2012-12-12", ""),
    "9791090636071": ("Prefix 979", "Ann Author", "2013-01-13", "Spaces in ISBN."),
    "9780590353427": ("Blank Summary", "Ann Author", "2015-03-15", ""),
}

CSV_REFUSED = [
    (7, "isbn"),  # scientific notation
    (8, "isbn"),  # wrong check digit
    (9, "isbn"),  # empty
    (12, "publication_date"),  # empty
    (13, "publication_date"),  # 20/10/1999
    (14, "publication_date"),  # 2021-02-30
    (15, "isbn"),  # duplicate of line 2
    (16, "title"),  # blank
    (17, "title"),  # 201 characters
    (18, "author"),  # NUL
    (21, "non_field_errors"),  # 3 fields, not 6
    (23, "title"),  # a byte that is not UTF-8
    (29, "isbn"),  # duplicate of line 5 (padded there, spelled in full here)
    (31, "title"),  # everything wrong at once: each field reported
    (31, "author"),
    (31, "publication_date"),
    (31, "isbn"),
]


def test_messy_csv_is_imported_by_the_documented_rules(stored_books):
    counts, errors = run_import(DATA / "import_messy.csv")

    assert counts == {"rows": 28, "inserted": 12, "updated": 1, "unchanged": 1, "rejected": 14}
    assert _stored() == CSV_STORED
    assert _refused(errors) == CSV_REFUSED
    messages = {(int(error["line"]), error["field"]): error["message"] for error in errors}
    assert "scientific notation" in messages[7, "isbn"]
    assert "line 2 " in messages[15, "isbn"]
    assert "line 5 " in messages[29, "isbn"]
    assert "Not valid utf-8" in messages[23, "title"]
    assert "--encoding" in messages[23, "title"]
    assert {error["value"] for error in errors if error["line"] == "23"} == {"Caf\\xe9 Society"}
    unchanged, changed = stored_books
    unchanged.refresh_from_db()
    changed.refresh_from_db()
    assert (unchanged.version, changed.version) == (1, 2)


def test_messy_csv_imported_twice_changes_nothing_the_second_time(stored_books):
    run_import(DATA / "import_messy.csv")
    before = list(Book.objects.order_by("pk").values())

    counts, errors = run_import(DATA / "import_messy.csv")

    assert counts == {"rows": 28, "inserted": 0, "updated": 0, "unchanged": 14, "rejected": 14}
    assert list(Book.objects.order_by("pk").values()) == before
    assert _refused(errors) == CSV_REFUSED


# --- JSON Lines ---------------------------------------------------------------------------

JSONL_STORED = {
    # line 1: keys in other cases, ISBN-10, a year alone
    "9780306406157": ("The Pragmatic Programmer", "Andrew Hunt", "1999-01-01", "Year only."),
    # line 3: no summary key, so the stored summary stays
    "9780262033848": ("Stored Retitled", "Kept Author", "1991-01-01", "Old summary."),
    "9780131103627": ("Stored Unchanged", "Kept Author", "1990-01-01", "Stored as is."),
    # line 13: unknown keys ignored
    "9780441569595": ("Extra Keys", "Ann Author", "2002-02-02", ""),
    # line 14: whitespace around every value
    "9780307265432": ("Spaced", "Ann Author", "2003-03-03", "Padded."),
    # line 15: ISBN-10 that lost three zeros, year and month
    "9780001234567": ("Three Zeros Lost", "Ann Author", "2004-04-01", ""),
    # line 16: a \\u escape of a non-ASCII letter
    "9780140449136": ("Café ok", "Ann Author", "2005-05-05", ""),
}

JSONL_REFUSED = [
    (4, "title"),  # a number
    (5, "title"),  # null
    (6, "isbn"),  # a number, not a string
    (7, "author"),  # key missing
    (8, "non_field_errors"),  # not JSON
    (9, "non_field_errors"),  # not an object
    (10, "title"),  # lone surrogate
    (11, "isbn"),  # duplicate of line 1
    (12, "summary"),  # null
    (17, "publication_date"),  # month 13
]


def test_messy_json_lines_are_imported_by_the_documented_rules(stored_books):
    counts, errors = run_import(DATA / "import_messy.jsonl")

    assert counts == {"rows": 16, "inserted": 5, "updated": 1, "unchanged": 0, "rejected": 10}
    assert _stored() == JSONL_STORED
    assert _refused(errors) == JSONL_REFUSED
    messages = {(int(error["line"]), error["field"]): error["message"] for error in errors}
    assert messages[4, "title"] == "Not a valid string."
    assert messages[5, "title"] == "This field may not be null."
    assert messages[7, "author"] == "This field is required."
    assert messages[10, "title"] == "Surrogate characters are not allowed: U+D800."
    assert messages[8, "non_field_errors"].startswith("Invalid JSON")
    assert messages[9, "non_field_errors"] == "Expected a JSON object, got list."


# --- encodings ----------------------------------------------------------------------------


def test_cp1252_sample_with_its_encoding_keeps_every_character(db):
    counts, errors = run_import(DATA / "import_cp1252.csv", "--encoding", "cp1252")

    assert counts == {"rows": 4, "inserted": 3, "updated": 0, "unchanged": 0, "rejected": 1}
    assert _stored() == {
        "9780306406157": ("Café Society", "Renée Dupont", "2001-01-01", "“Bonjour” — €5."),
        "9780441172719": ("Plain ASCII", "Ann Author", "2002-02-02", "Nothing special."),
        "9780441569595": ("Naïve", "Zoë Brontë", "2003-03-03", "Façade."),
    }
    # 0x81 has no character in cp1252: that row alone is refused
    assert [(error["line"], error["field"], error["value"]) for error in errors] == [
        ("5", "title", "Undefined Byte \\x81")
    ]
    assert "Not valid cp1252" in errors[0]["message"]


def test_cp1252_sample_read_as_utf8_refuses_the_rows_it_cannot_decode(db):
    counts, errors = run_import(DATA / "import_cp1252.csv")

    assert counts == {"rows": 4, "inserted": 1, "updated": 0, "unchanged": 0, "rejected": 3}
    assert list(Book.objects.values_list("title", flat=True)) == ["Plain ASCII"]
    assert sorted({int(error["line"]) for error in errors}) == [2, 4, 5]
    assert all("--encoding" in error["message"] for error in errors)
