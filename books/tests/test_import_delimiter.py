"""The CSV separator: read from the file's first lines (, ; tab |) unless --delimiter says."""

import pytest

from books.importing.readers import detect_delimiter
from books.models import Book
from books.tests.test_import_columns import _command_error
from books.tests.test_import_upsert import run_import

pytestmark = pytest.mark.django_db

HEADER = "title{0}author{0}publication_date{0}isbn{0}summary\n"
ROWS = [
    ("Dune", "Frank Herbert", "1965-08-01", "9780441172719", "Spice."),
    ("Hyperion", "Dan Simmons", "1989", "9780553283686", "Pilgrims."),
]


def _file(tmp_path, delimiter: str, rows=ROWS):  # type: ignore[no-untyped-def]
    path = tmp_path / "books.csv"
    lines = [HEADER.format(delimiter)] + [delimiter.join(row) + "\n" for row in rows]
    path.write_text("".join(lines), encoding="utf-8")
    return path


@pytest.mark.parametrize("delimiter", [";", "\t", "|", ","])
def test_a_file_is_read_with_the_separator_it_uses(tmp_path, delimiter):
    counts, errors = run_import(_file(tmp_path, delimiter))

    assert (counts["inserted"], errors) == (2, [])
    assert Book.objects.get(isbn="9780441172719").title == "Dune"


def test_commas_inside_quoted_titles_do_not_make_a_semicolon_file_a_comma_file(tmp_path):
    path = tmp_path / "books.csv"
    path.write_text(
        "title;author;publication_date;isbn\n"
        '"The Hunger Games (The Hunger Games, #1)";Suzanne Collins;2008;9780439023481\n'
        '"Harry Potter, #1";"J.K. Rowling, Mary GrandPré";1997;9780439554930\n',
        encoding="utf-8",
    )

    counts, errors = run_import(path)

    assert (counts["inserted"], errors) == (2, [])
    assert Book.objects.get(isbn="9780439554930").author == "J.K. Rowling, Mary GrandPré"


def test_semicolons_inside_quoted_titles_do_not_make_a_comma_file_a_semicolon_file():
    lines = [
        "title,author,publication_date,isbn\n",
        '"Dune; or, the spice",Frank Herbert,1965,9780441172719\n',
        '"A; B; C",Ann,1999,9780306406157\n',
    ]

    assert detect_delimiter(lines) == ","


def test_a_multiline_quoted_summary_cut_by_the_sample_still_gives_the_separator():
    lines = ["title;author;publication_date;isbn;summary\n", 'Dune;F;1965;9780441172719;"Spice\n']

    assert detect_delimiter(lines) == ";"


def test_a_single_column_header_gives_no_separator():
    assert detect_delimiter(["title\n", "Dune\n"]) is None


def test_the_delimiter_option_overrides_what_the_file_shows(tmp_path):
    path = _file(tmp_path, ";")

    message = _command_error(path, "--delimiter", "|")

    assert "Required columns missing" in message
    assert "--delimiter ';'" in message


def test_a_tab_file_read_with_a_wrong_delimiter_suggests_tab(tmp_path):
    message = _command_error(_file(tmp_path, "\t"), "--delimiter", ";")

    assert "--delimiter 'tab'" in message
