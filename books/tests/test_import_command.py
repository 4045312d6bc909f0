"""What import_books tells its user: the summary line and notes, the first errors on stderr,
the full error report, progress (a bar on a terminal, log lines otherwise) and --help."""

import csv
import io
import sys
import threading

import pytest
from django.core.management import CommandError, call_command

from books.demo import demo_isbn
from books.importing import upsert
from books.management.commands import import_books
from books.models import Book
from books.tests.test_import_upsert import write_csv

pytestmark = pytest.mark.django_db


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def _valid_rows(count: int) -> list[list[str]]:
    return [[f"Book {n}", "Ann Author", "2001-01-01", demo_isbn(n), ""] for n in range(count)]


def _bad_rows(count: int) -> list[list[str]]:
    """Rows with two errors each: a blank title and an invalid ISBN."""
    return [["", "Ann Author", "2001", "1", ""] for _ in range(count)]


def _run(*args: str, stderr: io.StringIO | None = None) -> tuple[str, str]:
    out, err = io.StringIO(), stderr or io.StringIO()
    call_command("import_books", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_summary_line_counts_each_outcome_and_the_rate(tmp_path):
    path = write_csv(tmp_path / "books.csv", _valid_rows(3) + _bad_rows(2))

    out, _ = _run(str(path), "--no-progress")

    first = out.splitlines()[0]
    assert first.startswith(f"Imported: {path}: 5 rows in ")
    assert first.endswith("rows/s): 3 inserted, 0 updated, 0 unchanged, 2 rejected.")


def test_dry_run_says_so(tmp_path):
    path = write_csv(tmp_path / "books.csv", _valid_rows(2))

    out, _ = _run(str(path), "--no-progress", "--dry-run")

    assert out.startswith("Dry run, nothing written:")
    assert "2 would be inserted, 0 would be updated" in out


def test_notes_list_ignored_columns_and_leniencies_used(tmp_path):
    header = ["title", "author", "publication_date", "isbn", "Price", "Shelf"]
    rows = [
        ["A", "B", "1999", "20442807", "1", "x"],
        ["C", "D", "1999-05", "1234560", "2", "y"],
        ["E", "F", "1999-05-05", "0306406152", "3", "z"],
    ]
    path = write_csv(tmp_path / "books.csv", rows, header=header)

    out, _ = _run(str(path), "--no-progress")

    assert "Ignored columns: 'Price', 'Shelf'." in out
    assert "ISBN-10s given zero-padding back: 2." in out
    assert "Dates completed from a year or year-month (first day): 2." in out


def test_first_errors_go_to_stderr_with_a_count_of_the_rest(tmp_path):
    path = write_csv(tmp_path / "books.csv", _bad_rows(5))

    _, err = _run(str(path), "--no-progress", "--show-errors", "2")

    lines = err.splitlines()
    assert lines[0] == "line 2, title: This field may not be blank."
    assert lines[1].startswith("line 2, isbn: Enter a valid ISBN")
    assert lines[1].endswith("(value: '1')")
    assert lines[2] == "... and 8 more errors (write them all with --errors PATH)."


def test_error_report_has_every_error_with_its_value(tmp_path):
    path = tmp_path / "books.jsonl"
    path.write_text(
        '{"title": "\\u0000", "author": ["x"], "publication_date": "2001-01-01", '
        '"isbn": "' + "9" * 300 + '"}\n',
        encoding="utf-8",
    )
    report = tmp_path / "errors.csv"

    _, err = _run(str(path), "--no-progress", "--errors", str(report), "--show-errors", "0")

    with report.open(newline="", encoding="utf-8") as file:
        rows = list(csv.reader(file))
    assert rows[0] == ["line", "field", "message", "value"]
    assert rows[1] == ["1", "title", "Null characters are not allowed.", "\x00"]
    assert rows[2] == ["1", "author", "Not a valid string.", '["x"]']
    assert rows[3][:2] == ["1", "isbn"]
    assert rows[3][3] == "9" * 200 + "…"  # long values are cut
    assert err == f"... and 3 more errors (all are in {report}).\n"


def test_progress_lines_without_a_terminal(tmp_path, monkeypatch):
    monkeypatch.setattr(import_books, "LOG_INTERVAL_SECONDS", 0)
    path = write_csv(tmp_path / "books.csv", _valid_rows(5))

    _, err = _run(str(path), "--batch-size", "2")

    lines = [line for line in err.splitlines() if line.startswith("import_books:")]
    assert len(lines) == 3  # one per batch
    assert lines[-1].startswith("import_books: 5 rows, ")
    assert "rows/s" in lines[-1]
    assert "100% of the file, ETA 0:00:00" in lines[-1]


def test_progress_bar_on_a_terminal(tmp_path):
    path = write_csv(tmp_path / "books.csv", _valid_rows(5))
    terminal = _Terminal()

    out, err = _run(str(path), "--batch-size", "2", stderr=terminal)

    assert "5 inserted" in out
    assert "Importing" in err
    assert "rows/s" in err
    assert "import_books:" not in err


def test_no_progress_means_none(tmp_path, monkeypatch):
    monkeypatch.setattr(import_books, "LOG_INTERVAL_SECONDS", 0)
    path = write_csv(tmp_path / "books.csv", _valid_rows(3))

    _, err = _run(str(path), "--no-progress", stderr=_Terminal())

    assert err == ""


def test_batch_size_must_be_positive(tmp_path):
    path = write_csv(tmp_path / "books.csv", _valid_rows(1))

    with pytest.raises(CommandError, match="--batch-size"):
        _run(str(path), "--batch-size", "0")


def test_help_states_the_rules(capsys):
    with pytest.raises(SystemExit):
        call_command("import_books", "--help")

    text = capsys.readouterr().out
    for rule in [
        "--map 'COLUMN=FIELD'",
        "zero-padded",
        "YYYY-01-01",
        "first valid row",
        "wins",
        "--encoding",
        "Gzip",
        "changes nothing",
    ]:
        assert rule in text, rule


def test_failure_mid_import_stops_the_reading_thread(tmp_path, monkeypatch):
    path = write_csv(tmp_path / "books.csv", _valid_rows(50))
    switch_interval = sys.getswitchinterval()

    def fail(self, batch):  # type: ignore[no-untyped-def]
        raise RuntimeError("the database went away")

    monkeypatch.setattr(upsert.BatchWriter, "write", fail)

    with pytest.raises(RuntimeError, match="went away"):
        _run(str(path), "--no-progress", "--batch-size", "5")

    assert not [t for t in threading.enumerate() if t.name == "import_books reader"]
    assert sys.getswitchinterval() == switch_interval


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--delimiter", ";;"], "--delimiter must be one character"),
        (["--errors", "/nonexistent/dir/errors.csv"], "Cannot write the error report"),
    ],
)
def test_bad_options_are_refused_before_importing(tmp_path, args, message):
    path = write_csv(tmp_path / "books.csv", _valid_rows(1))

    with pytest.raises(CommandError, match=message):
        _run(str(path), "--no-progress", *args)

    assert not Book.objects.exists()


def test_tab_separated_file(tmp_path):
    path = tmp_path / "books.tsv"
    rows = [["title", "author", "publication_date", "isbn"], *(row[:4] for row in _valid_rows(2))]
    path.write_text("".join("\t".join(row) + "\n" for row in rows))

    out, _ = _run(str(path), "--no-progress", "--format", "csv", "--delimiter", "tab")

    assert "2 inserted" in out
