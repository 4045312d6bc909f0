"""import_books reads a CSV file in bounded memory (issue 13, finding 9): an overlong line is
refused unread, and the ignored column names it lists are capped."""

import gzip
import io
import tracemalloc

import pytest
from django.core.management import call_command

from books.importing import readers
from books.models import Book

pytestmark = pytest.mark.django_db

HEADER = "title,author,publication_date,isbn\r\n"
GOOD = "Dune,Frank Herbert,1965-08-01,9780441013593\r\n"
OTHER = "Emma,Jane Austen,1815-12-23,9780141439587\r\n"


def _run(path: str) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command("import_books", path, "--no-progress", stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_a_line_longer_than_the_limit_is_refused_and_the_rest_imported(tmp_path) -> None:  # type: ignore[no-untyped-def]
    long_line = "x" * (readers.MAX_CSV_LINE_CHARACTERS + 10) + ",a,2000-01-01,9780306406157\r\n"
    path = tmp_path / "books.csv"
    path.write_text(HEADER + GOOD + long_line + OTHER, encoding="utf-8")

    out, err = _run(str(path))

    assert f"Line longer than {readers.MAX_CSV_LINE_CHARACTERS:,} characters" in err
    assert sorted(Book.objects.values_list("title", flat=True)) == ["Dune", "Emma"]
    assert "1 rejected" in out


def test_a_huge_line_is_not_held_in_memory(tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "books.csv.gz"
    with gzip.open(path, "wt", encoding="utf-8", newline="") as file:
        file.write(HEADER + GOOD)
        for _ in range(40):  # one 40 MB line
            file.write("y" * 1_000_000)
        file.write(",a,2000-01-01,9780306406157\r\n" + OTHER)

    tracemalloc.start()
    try:
        _run(str(path))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert peak < 16_000_000, f"peak {peak:,} bytes"
    assert Book.objects.count() == 2


def test_the_ignored_columns_listed_are_capped(tmp_path) -> None:  # type: ignore[no-untyped-def]
    extra = [f"junk{index}" for index in range(5000)]
    header = ",".join(["title", "author", "publication_date", "isbn", *extra]) + "\r\n"
    row = GOOD.rstrip("\r\n") + "," * len(extra) + "\r\n"
    path = tmp_path / "books.csv"
    path.write_text(header + row, encoding="utf-8")

    out, _ = _run(str(path))

    assert "'junk0'" in out
    assert f"'junk{readers.MAX_IGNORED_NAMES}'" not in out
    assert f"and {5000 - readers.MAX_IGNORED_NAMES:,} more" in out
    assert Book.objects.count() == 1
