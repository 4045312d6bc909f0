"""Reading import files: formats, gzip, encodings, CSV and JSON Lines quirks; a bad row is
refused on its own line and the import goes on."""

import gzip
import io
import sys

import pytest
from django.core.management import CommandError, call_command

from books.demo import demo_isbn
from books.importing import readers
from books.models import Book
from books.tests.test_import_upsert import run_import

pytestmark = pytest.mark.django_db

CSV = (
    "title,author,publication_date,isbn,summary\n"
    "Dune,Frank Herbert,1965-08-01,9780441172719,Spice.\n"
    "Neuromancer,William Gibson,1984-07-01,9780441569595,Cyberspace.\n"
)
JSONL = (
    '{"title": "Dune", "author": "Frank Herbert", "publication_date": "1965-08-01", '
    '"isbn": "9780441172719"}\n'
)


def _command_error(*args: str) -> str:
    with pytest.raises(CommandError) as error:
        call_command(
            "import_books", *args, "--no-progress", stdout=io.StringIO(), stderr=io.StringIO()
        )
    return str(error.value)


@pytest.mark.parametrize("name", ["books.csv", "BOOKS.CSV", "books.csv.gz"])
def test_csv_is_recognised_by_its_name(tmp_path, name):
    path = tmp_path / name
    data = CSV.encode()
    path.write_bytes(gzip.compress(data) if name.endswith(".gz") else data)

    counts, _ = run_import(path)

    assert counts["inserted"] == 2


@pytest.mark.parametrize("name", ["books.jsonl", "books.ndjson", "books.jsonl.gz"])
def test_json_lines_are_recognised_by_their_name(tmp_path, name):
    path = tmp_path / name
    data = JSONL.encode()
    path.write_bytes(gzip.compress(data) if name.endswith(".gz") else data)

    counts, _ = run_import(path)

    assert counts["inserted"] == 1


def test_gzip_is_recognised_by_content_whatever_the_name(tmp_path):
    path = tmp_path / "books.csv"
    path.write_bytes(gzip.compress(CSV.encode()))

    counts, _ = run_import(path)

    assert counts["inserted"] == 2


def test_unknown_name_needs_format(tmp_path):
    path = tmp_path / "books.txt"
    path.write_text(CSV)

    assert "--format" in _command_error(str(path))
    counts, _ = run_import(path, "--format", "csv")
    assert counts["inserted"] == 2


@pytest.mark.parametrize("compress", [False, True], ids=["plain", "gzip"])
def test_standard_input_is_read_with_a_dash_and_left_open(monkeypatch, compress):
    data = gzip.compress(CSV.encode()) if compress else CSV.encode()
    stdin = io.TextIOWrapper(io.BufferedReader(io.BytesIO(data)))
    monkeypatch.setattr(sys, "stdin", stdin)
    out = io.StringIO()

    call_command(
        "import_books", "-", "--format", "csv", "--no-progress", stdout=out, stderr=io.StringIO()
    )

    assert "2 inserted" in out.getvalue()
    assert Book.objects.count() == 2
    assert not stdin.buffer.closed


@pytest.mark.parametrize(
    ("content", "message"),
    [(b"", "is empty"), (b"\n\n", "is empty")],
)
def test_csv_without_header_is_refused(tmp_path, content, message):
    path = tmp_path / "books.csv"
    path.write_bytes(content)

    assert message in _command_error(str(path))


def test_header_only_csv_imports_nothing(tmp_path):
    path = tmp_path / "books.csv"
    path.write_text("title,author,publication_date,isbn\n")

    counts, errors = run_import(path)

    assert counts == {"rows": 0, "inserted": 0, "updated": 0, "unchanged": 0, "rejected": 0}
    assert errors == []


def test_missing_file_and_unknown_encoding_are_refused(tmp_path):
    assert "Cannot open" in _command_error(str(tmp_path / "nowhere.csv"))
    path = tmp_path / "books.csv"
    path.write_text(CSV)
    assert "Unknown encoding" in _command_error(str(path), "--encoding", "klingon")


@pytest.mark.parametrize("encoding", ["utf-8-sig", "utf-8"])
def test_byte_order_mark_is_skipped(tmp_path, encoding):
    path = tmp_path / "books.csv"
    path.write_bytes(b"\xef\xbb\xbf" + CSV.encode())

    counts, _ = run_import(path, "--encoding", encoding)

    assert counts["inserted"] == 2


@pytest.mark.parametrize(("encoding", "summary"), [("latin-1", "Épice."), ("utf-16", "Épice ✓")])
def test_file_in_another_encoding_is_read_with_its_encoding(tmp_path, encoding, summary):
    path = tmp_path / "books.csv"
    path.write_bytes(CSV.replace("Spice.", summary).encode(encoding))

    counts, _ = run_import(path, "--encoding", encoding)

    assert counts["inserted"] == 2
    assert Book.objects.get(isbn="9780441172719").summary == summary


def test_undecodable_json_line_is_refused_alone(tmp_path):
    path = tmp_path / "books.jsonl"
    path.write_bytes(JSONL.replace("Dune", "D\xfcne").encode("latin-1") + JSONL.encode())

    counts, errors = run_import(path)

    assert (counts["inserted"], counts["rejected"]) == (1, 1)
    assert [(error["line"], error["field"]) for error in errors] == [("1", "non_field_errors")]
    assert "Not valid utf-8" in errors[0]["message"]


def test_semicolon_separated_csv(tmp_path):
    path = tmp_path / "books.csv"
    path.write_text(CSV.replace(",", ";"))

    counts, _ = run_import(path, "--delimiter", ";")

    assert counts["inserted"] == 2


def test_oversized_csv_field_refuses_its_row_and_the_import_goes_on(tmp_path):
    huge = "x" * 200_000
    path = tmp_path / "books.csv"
    path.write_text(
        CSV + f"Huge,A,2001-01-01,9780306406157,{huge}\nLast,A,2001-01-01,0306406152,\n"
    )

    counts, errors = run_import(path)

    assert counts["rejected"] == 1
    assert counts["inserted"] == 3
    assert [(error["line"], error["field"]) for error in errors] == [("4", "non_field_errors")]
    assert "Malformed CSV" in errors[0]["message"]


def test_overlong_json_line_refuses_its_row_and_the_import_goes_on(tmp_path, monkeypatch):
    monkeypatch.setattr(readers, "MAX_JSON_LINE_CHARACTERS", 200)
    long_line = JSONL.replace('"Dune"', '"' + "D" * 400 + '"')
    second = JSONL.replace("9780441172719", "9780441569595")
    path = tmp_path / "books.jsonl"
    path.write_text(long_line + second)

    counts, errors = run_import(path)

    assert (counts["inserted"], counts["rejected"]) == (1, 1)
    assert [(error["line"], error["field"]) for error in errors] == [("1", "non_field_errors")]
    assert "longer than 200" in errors[0]["message"]


def test_line_numbers_count_physical_lines(tmp_path):
    path = tmp_path / "books.csv"
    path.write_text(
        "title,author,publication_date,isbn,summary\n"
        "\n"
        'Dune,Frank Herbert,1965-08-01,9780441172719,"One\nTwo\nThree"\n'
        "\n"
        "Bad,Frank Herbert,1965-08-01,123,\n"
    )

    _, errors = run_import(path)

    # header 1, blank 2, a record over lines 3-5, blank 6: the bad row is line 7
    assert [(error["line"], error["field"]) for error in errors] == [("7", "isbn")]


def test_broken_utf16_stops_with_a_clear_error_keeping_what_was_read(tmp_path):
    rows = "".join(
        f"Book {n},Ann Author,2001-01-01,{demo_isbn(n)},{'x' * 50}\n" for n in range(3000)
    )  # about 400 kB as UTF-16: more than the first chunk decoded
    path = tmp_path / "books.csv"
    path.write_bytes(
        (CSV + rows).encode("utf-16") + b"\x00\xd8\x41\x00" + "x\n".encode("utf-16-le")
    )

    message = _command_error(
        str(path), "--encoding", "utf-16", "--batch-size", "100", "--no-bulk-load"
    )

    assert "Cannot decode the file as utf-16" in message
    assert "Batches already written are kept." in message
    assert Book.objects.count() > 0

    # Into an empty table without --no-bulk-load: one transaction, so nothing is kept.
    Book.objects.all().delete()
    message = _command_error(str(path), "--encoding", "utf-16", "--batch-size", "100")

    assert "Cannot decode the file as utf-16" in message
    assert "Batches already written are kept." not in message
    assert "Nothing was written: into an empty table the import is one transaction" in message
    assert Book.objects.count() == 0
