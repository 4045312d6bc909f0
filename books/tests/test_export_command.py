"""manage.py export_books: the export endpoint's output, to standard output or a file."""

import io

import pytest
from django.core.management import CommandError, call_command

from books import exporting, services
from books.demo import demo_books
from books.tests.factories import BookFactory, book_published

pytestmark = pytest.mark.django_db

EXPORT_URL = "/books/export/"


def run(*args: str) -> str:
    """Run export_books with command-line arguments; return what it wrote to stdout."""
    out = io.StringIO()
    call_command("export_books", *args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def endpoint_body(client, params: dict[str, str]) -> str:  # type: ignore[no-untyped-def]
    response = client.get(EXPORT_URL, params)
    assert response.status_code == 200, response.content
    return b"".join(response.streaming_content).decode("utf-8")


@pytest.fixture
def catalogue(db: None) -> None:
    """Awkward text, and books the filters tell apart."""

    book = book_published

    book('Commas, and "quotes"', "Ursula K. Le Guin", 1968, "Two\nlines, Ünïcödé 書名")
    book("The Left Hand of Darkness", "ursula k. le guin", 1969, "Winter")
    book("Dune", "Frank Herbert", 1965, "Spice, sand and a wizard")
    book("Neuromancer", "William Gibson", 1984, "Cyberspace\r\nand more")
    book("Piranesi", "Susanna Clarke", 2020, "Halls")
    BookFactory(isbn="9780306406157", title="The Pragmatic Programmer", author="Andrew Hunt")


#: The same filter as command-line options and as the endpoint's query string.
FILTERS = [
    ([], {}),
    (["--author", "URSULA K. LE GUIN"], {"author": "URSULA K. LE GUIN"}),
    (["--isbn", "0-306-40615-2"], {"isbn": "0-306-40615-2"}),
    (["--published-after", "1969-01-01"], {"published_after": "1969-01-01"}),
    (["--published-before", "1968-12-31"], {"published_before": "1968-12-31"}),
    (["--search", "wizard sand"], {"search": "wizard sand"}),
    (
        ["--author", "Ursula K. Le Guin", "--published-after", "1969-01-01", "--search", "left"],
        {"author": "Ursula K. Le Guin", "published_after": "1969-01-01", "search": "left"},
    ),
]


@pytest.mark.parametrize(("options", "params"), FILTERS)
@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_export_books_writes_what_the_endpoint_sends(auth_client, catalogue, options, params, fmt):
    expected = endpoint_body(auth_client, {**params, "format": fmt})
    if params:  # the filter keeps some books and drops some
        everything = endpoint_body(auth_client, {"format": fmt})
        assert expected.count("\n") > (fmt == "csv")
        assert len(expected) < len(everything)

    assert run("--format", fmt, *options) == expected


def test_export_books_writes_csv_by_default(auth_client, catalogue):
    assert run() == endpoint_body(auth_client, {"format": "csv"})


@pytest.mark.parametrize(
    ("name", "options", "fmt"),
    [
        ("books.csv", [], "csv"),
        ("books.jsonl", [], "jsonl"),
        ("BOOKS.JSONL", [], "jsonl"),
        ("books.txt", [], "csv"),
        ("books", [], "csv"),
        ("books.csv", ["--format", "jsonl"], "jsonl"),
        ("books.jsonl", ["--format", "csv"], "csv"),
    ],
)
def test_export_books_to_a_file_takes_its_format_from_the_extension_unless_given(
    auth_client, catalogue, tmp_path, name, options, fmt
):
    path = tmp_path / name

    stdout = run("-o", str(path), *options)

    assert stdout == ""
    assert path.read_bytes() == endpoint_body(auth_client, {"format": fmt}).encode("utf-8")


def test_export_books_to_a_file_with_filters_matches_the_endpoint(auth_client, catalogue, tmp_path):
    path = tmp_path / "ursula.jsonl"

    run("--output", str(path), "--author", "ursula k. le guin")

    expected = endpoint_body(auth_client, {"format": "jsonl", "author": "ursula k. le guin"})
    assert expected.count("\n") == 2
    assert path.read_bytes().decode("utf-8") == expected


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_export_books_of_more_rows_than_a_chunk_matches_the_endpoint(auth_client, tmp_path, fmt):
    services.book_bulk_create(items=list(demo_books(exporting.CHUNK_ROWS + 300, seed=9)))
    path = tmp_path / f"books.{fmt}"

    run("-o", str(path))

    text = path.read_bytes().decode("utf-8")
    assert text == endpoint_body(auth_client, {"format": fmt})
    assert text.count("\n") == exporting.CHUNK_ROWS + 300 + (fmt == "csv")


@pytest.mark.parametrize(
    ("options", "named"),
    [
        (["--published-after", "2020-02-30"], "--published-after"),
        (["--published-before", "yesterday"], "--published-before"),
        (["--isbn", "12345"], "--isbn"),
        (["--search", " ".join(["word"] * 11)], "--search"),
        (["--author", "x" * 101], "--author"),
    ],
)
def test_export_books_with_an_invalid_filter_fails_naming_the_option(
    catalogue, tmp_path, options, named
):
    path = tmp_path / "books.csv"

    with pytest.raises(CommandError) as excinfo:
        run("-o", str(path), *options)

    assert str(excinfo.value).startswith(f"{named}: ")
    assert not path.exists()


def test_export_books_refuses_an_unknown_format(catalogue):
    with pytest.raises(CommandError, match="--format"):
        run("--format", "xml")
