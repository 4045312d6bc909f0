"""Which column gives which book field: names matched ignoring case and spaces, --map for the
rest; a file that cannot give the required fields is refused before anything is written."""

import io
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from books.importing.readers import ImportFileError, parse_column_map, resolve_columns
from books.models import Book
from books.tests.test_import_upsert import run_import, write_csv

pytestmark = pytest.mark.django_db

ROW = ["Dune", "Frank Herbert", "1965-08-01", "9780441172719", "Spice."]


def _command_error(path: Path, *args: str) -> str:
    with pytest.raises(CommandError) as error:
        call_command(
            "import_books", str(path), "--no-progress", *args,
            stdout=io.StringIO(), stderr=io.StringIO(),
        )  # fmt: skip
    assert not Book.objects.exists()
    return str(error.value)


def test_header_names_match_fields_ignoring_case_and_surrounding_spaces():
    header = [" TITLE", "Author ", "publication_DATE", "\ufeffisbn", "Summary", "Price"]

    positions, ignored = resolve_columns(header, {})

    assert positions == {"title": 0, "author": 1, "publication_date": 2, "isbn": 3, "summary": 4}
    assert ignored == ["Price"]


def test_mapped_column_gives_its_field_and_the_same_named_column_is_ignored():
    header = ["title", "Full Title", "author", "publication_date", "isbn"]

    positions, ignored = resolve_columns(header, parse_column_map(["full title=Title"]))

    assert positions["title"] == 1
    assert ignored == ["title"]


@pytest.mark.parametrize(
    ("specs", "message"),
    [
        (["Book Title"], "expected COLUMN=FIELD"),
        (["=title"], "expected COLUMN=FIELD"),
        (["Book Title=name"], "not a book field"),
        (["A=title", "B=title"], "more than once"),
    ],
)
def test_malformed_map_is_refused(specs, message):
    with pytest.raises(ImportFileError, match=message):
        parse_column_map(specs)


def test_map_splits_on_the_last_equals_sign():
    assert parse_column_map(["a=b=isbn"]) == {"a=b": "isbn"}


def test_map_renames_a_csv_column(tmp_path):
    header = ["Book Title", "author", "publication_date", "isbn", "summary", "Shelf"]
    path = write_csv(tmp_path / "books.csv", [[*ROW, "B2"]], header=header)

    counts, _ = run_import(path, "--map", "Book Title=title")

    assert counts["inserted"] == 1
    assert Book.objects.get().title == "Dune"


def test_map_renames_a_json_key(tmp_path):
    path = tmp_path / "books.jsonl"
    path.write_text(
        '{"name": "Dune", "by": "Frank Herbert", "published": "1965-08-01", "ean": '
        '"9780441172719"}\n',
        encoding="utf-8",
    )

    counts, _ = run_import(
        path, "--map", "name=title", "--map", "by=author", "--map", "published=publication_date",
        "--map", "EAN=isbn",
    )  # fmt: skip

    assert counts["inserted"] == 1
    assert Book.objects.get().author == "Frank Herbert"


@pytest.mark.parametrize("missing", ["title", "author", "publication_date", "isbn"])
def test_csv_without_a_required_column_is_refused_before_writing(tmp_path, missing):
    header = ["title", "author", "publication_date", "isbn", "summary"]
    keep = [index for index, name in enumerate(header) if name != missing]
    path = write_csv(
        tmp_path / "books.csv", [[ROW[index] for index in keep]], [header[i] for i in keep]
    )

    message = _command_error(path)

    assert f"Required columns missing: {missing}." in message
    assert "--map" in message


def test_two_columns_giving_one_field_are_refused(tmp_path):
    header = ["Title", "title ", "author", "publication_date", "isbn"]
    path = write_csv(tmp_path / "books.csv", [["A", "B", *ROW[1:4]]], header=header)

    message = _command_error(path)

    assert "'Title' and 'title '" in message


def test_map_naming_a_column_the_header_lacks_is_refused(tmp_path):
    path = write_csv(tmp_path / "books.csv", [ROW])

    message = _command_error(path, "--map", "Book Title=title")

    assert "'Book Title'" in message  # as the option spelled it


def test_json_lines_whose_first_object_lacks_a_required_key_are_refused(tmp_path):
    path = tmp_path / "books.jsonl"
    path.write_text('{"title": "Dune", "author": "Frank Herbert", "isbn": "9780441172719"}\n')

    message = _command_error(path)

    assert "Required columns missing: publication_date." in message


def test_json_object_with_two_keys_for_one_field_is_refused_alone(tmp_path):
    path = tmp_path / "books.jsonl"
    path.write_text(
        '{"title": "Dune", "author": "A", "publication_date": "1965-08-01", '
        '"isbn": "9780441172719"}\n'
        '{"title": "X", "TITLE": "Y", "author": "A", "publication_date": "1965-08-01", '
        '"isbn": "9780441569595"}\n',
        encoding="utf-8",
    )

    counts, errors = run_import(path)

    assert (counts["inserted"], counts["rejected"]) == (1, 1)
    assert [(error["line"], error["field"]) for error in errors] == [("2", "non_field_errors")]
    assert "both give the field 'title'" in errors[0]["message"]


# --- names as librarians write them (issue 15, item 7) --------------------------------------


@pytest.mark.parametrize(
    ("name", "field"),
    [
        ("Publication Date", "publication_date"),
        ("publication-date", "publication_date"),
        ("PUBLICATION_DATE", "publication_date"),
        ("Publication Date Precision", "publication_date_precision"),
        ("ISBN", "isbn"),
        ("ISBN 13", "isbn"),
        ("isbn13", "isbn"),
        ("ISBN-13", "isbn"),
        ("ISBN_10", "isbn"),
        ("Title ", "title"),
    ],
)
def test_header_names_match_ignoring_case_spaces_underscores_and_hyphens(name, field):
    header = [name if column == field else column for column in ("title", "author", "isbn")]
    header = header if name in header else [*header, name]

    positions, ignored = resolve_columns(header, {})

    assert header[positions[field]] == name
    assert ignored == []


@pytest.mark.parametrize("name", ["Book-Title", "Title of the book", "Authors", "ISBN13 (print)"])
def test_other_names_still_need_map(name):
    positions, ignored = resolve_columns([name], {})

    assert (positions, ignored) == ({}, [name])


def test_a_file_in_a_librarians_spelling_imports_without_options(tmp_path):
    header = ["Title", "Author", "Publication Date", "ISBN-13", "Summary"]
    path = write_csv(tmp_path / "books.csv", [ROW], header=header)

    counts, errors = run_import(path)

    assert (counts["inserted"], errors) == (1, [])
    assert Book.objects.get().isbn == "9780441172719"


def test_a_missing_column_error_names_the_likely_map(tmp_path):
    header = ["Book-Title", "Book-Author", "Year-Of-Publication", "ISBN"]
    path = write_csv(tmp_path / "books.csv", [ROW[:4]], header=header)

    message = _command_error(path)

    assert "Required columns missing: title, author, publication_date." in message
    assert "--map 'Book-Title=title'" in message
    assert "--map 'Book-Author=author'" in message
    assert "--map 'Year-Of-Publication=publication_date'" in message


def test_the_suggested_maps_import_the_file(tmp_path):
    header = ["Book-Title", "Book-Author", "Year-Of-Publication", "ISBN"]
    path = write_csv(tmp_path / "books.csv", [ROW[:4]], header=header)
    suggested = _command_error(path).split("likely: ")[1].rstrip(".").split(" ")

    counts, errors = run_import(path, *[part.strip("'") for part in suggested])

    assert (counts["inserted"], errors) == (1, [])


def test_a_misspelled_column_is_suggested_for_its_field(tmp_path):
    header = ["title", "Auhtor", "publication_date", "isbn"]
    path = write_csv(tmp_path / "books.csv", [ROW[:4]], header=header)

    assert "--map 'Auhtor=author'" in _command_error(path)


def test_a_header_read_as_one_column_suggests_the_delimiter_it_shows(tmp_path):
    path = tmp_path / "books.csv"
    path.write_text("title;author;publication_date;isbn\nDune;Frank Herbert;1965;9780441172719\n")

    message = _command_error(path, "--delimiter", ",")

    assert "looks ';'-separated: --delimiter ';'" in message
