"""Write books/data/demo-books.csv, the demo catalogue of `make run`: real books from goodbooks-10k.

The source (../shared/data/goodbooks-10k/books.csv, CC BY-SA 4.0) lists 10,000 popular books.
We keep the first DEFAULT_COUNT books by book_id that make valid catalogue rows, plus the books
the search-quality tests (books/tests/test_search_quality.py) ask for by name. The output is in
the importer's columns (title, author, publication_date, publication_date_precision, isbn,
summary) and is deterministic:
the same source gives the same bytes. Run with the project's Python (it needs python-stdnum):

    .venv/bin/python scripts/make_demo_catalogue.py [--source PATH] [--output PATH] [--count N]

How a source row becomes a catalogue row, and when it is left out, is in catalogue_row().
books/data/README.md carries the attribution and licence the derived file must keep.
"""

import argparse
import csv
import re
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import NamedTuple

from stdnum import isbn as stdnum_isbn
from stdnum.exceptions import ValidationError

REPOSITORY = Path(__file__).resolve().parent.parent
DEFAULT_SOURCE = REPOSITORY.parent / "shared" / "data" / "goodbooks-10k" / "books.csv"
DEFAULT_OUTPUT = REPOSITORY / "books" / "data" / "demo-books.csv"
#: Books taken from the top of the source (by book_id), before the wanted ones are added.
DEFAULT_COUNT = 380

#: The Book model's limits (books.models): a longer title or author is left out, not cut.
MAX_TITLE_LENGTH = 200
MAX_AUTHOR_LENGTH = 100

COLUMNS = ("title", "author", "publication_date", "publication_date_precision", "isbn", "summary")

#: Books included wherever they are in the source, as (title column, a name in authors): the
#: search-quality tests and the README's examples look for them.
WANTED: tuple[tuple[str, str], ...] = (
    ("Dune (Dune Chronicles #1)", "Frank Herbert"),
    ("Dune Messiah (Dune Chronicles #2)", "Frank Herbert"),
    ("Children of Dune (Dune Chronicles #3)", "Frank Herbert"),
    ("Les Misérables", "Victor Hugo"),
    ("One Hundred Years of Solitude", "Gabriel García Márquez"),
    ("Love in the Time of Cholera", "Gabriel García Márquez"),
    ("The Hobbit", "J.R.R. Tolkien"),
    ("The Lord of the Rings (The Lord of the Rings, #1-3)", "J.R.R. Tolkien"),
    ("The Fellowship of the Ring (The Lord of the Rings, #1)", "J.R.R. Tolkien"),
    ("Harry Potter and the Sorcerer's Stone (Harry Potter, #1)", "J.K. Rowling"),
    ("Harry Potter and the Chamber of Secrets (Harry Potter, #2)", "J.K. Rowling"),
    ("Harry Potter and the Prisoner of Azkaban (Harry Potter, #3)", "J.K. Rowling"),
    ("Harry Potter and the Goblet of Fire (Harry Potter, #4)", "J.K. Rowling"),
    ("Harry Potter and the Order of the Phoenix (Harry Potter, #5)", "J.K. Rowling"),
    ("Harry Potter and the Half-Blood Prince (Harry Potter, #6)", "J.K. Rowling"),
    ("Harry Potter and the Deathly Hallows (Harry Potter, #7)", "J.K. Rowling"),
    ("Pride and Prejudice", "Jane Austen"),
    ("Dragonflight (Dragonriders of Pern, #1)", "Anne McCaffrey"),
    ("Red Dragon (Hannibal Lecter, #1)", "Thomas Harris"),
    ("The Dragon Reborn (Wheel of Time, #3)", "Robert Jordan"),
    ("His Majesty's Dragon (Temeraire, #1)", "Naomi Novik"),
    ("How to Train Your Dragon (How to Train Your Dragon, #1)", "Cressida Cowell"),
    ("The Girl with the Dragon Tattoo (Millennium, #1)", "Stieg Larsson"),
)

# The source's year is a float's text ("1965.0"); BCE years are negative.
_YEAR = re.compile(r"(\d{1,4})(?:\.0*)?")
# The source's isbn is an ISBN-10 read as a number: 7-9 characters lost their leading zeros.
_ISBN10_DIGITS = re.compile(r"[0-9]{1,9}[0-9X]")


class SourceBook(NamedTuple):
    book_id: int
    #: The source's title and authors columns, stripped, for matching WANTED.
    title: str
    authors: str
    #: The row as the importer reads it, or None when it is left out.
    row: dict[str, str] | None


def catalogue_row(source: dict[str, str]) -> dict[str, str] | None:
    """The importer's row for one source row, or None if the row cannot be a valid book.

    - isbn: the `isbn` column zero-padded to 10 characters, check digit verified by
      python-stdnum, written as its 13 digits (the `isbn13` column lost digits to a float);
    - publication_date: `original_publication_year` as YYYY-01-01 (missing, BCE or year 0:
      left out), with publication_date_precision "year": only the year is known;
    - title: the `title` column (with its series note), at most 200 characters;
    - author: the `authors` column (all names, comma-separated), at most 100 characters;
    - summary: empty (the source has none).
    """
    title = source["title"].strip()
    author = source["authors"].strip()
    if not title or not author or len(title) > MAX_TITLE_LENGTH or len(author) > MAX_AUTHOR_LENGTH:
        return None
    year_match = _YEAR.fullmatch(source["original_publication_year"].strip())
    if year_match is None or int(year_match.group(1)) == 0:
        return None
    isbn = isbn13(source["isbn"])
    if isbn is None:
        return None
    return {
        "title": title,
        "author": author,
        "publication_date": f"{int(year_match.group(1)):04d}-01-01",
        "publication_date_precision": "year",
        "isbn": isbn,
        "summary": "",
    }


def isbn13(value: str) -> str | None:
    """The 13 digits of the source's ISBN-10 (leading zeros restored), or None if invalid."""
    digits = value.strip().upper()
    if not _ISBN10_DIGITS.fullmatch(digits):
        return None
    padded = digits.zfill(10)
    try:
        stdnum_isbn.validate(padded)
    except ValidationError:
        return None
    return str(stdnum_isbn.to_isbn13(padded))


def read_source(path: Path) -> list[SourceBook]:
    """Every book of the source, in book_id order."""
    with path.open(encoding="utf-8", newline="") as file:
        books = [
            SourceBook(
                int(source["book_id"]),
                source["title"].strip(),
                source["authors"].strip(),
                catalogue_row(source),
            )
            for source in csv.DictReader(file)
        ]
    return sorted(books, key=lambda book: book.book_id)


def select(books: list[SourceBook], count: int) -> tuple[list[dict[str, str]], list[str]]:
    """The first `count` valid books, then the WANTED ones found later, in book_id order
    (a repeated ISBN: the first book keeps it); and a line for each WANTED book not included."""
    chosen: set[int] = set()
    for book in books:
        if len(chosen) == count:
            break
        if book.row is not None:
            chosen.add(book.book_id)
    problems = []
    for title, author in WANTED:
        matches = [book for book in books if book.title == title and author in book.authors]
        valid = [book for book in matches if book.row is not None]
        if valid:
            chosen.add(valid[0].book_id)
        else:
            why = "an invalid row" if matches else "not in the source"
            problems.append(f"wanted {title!r} by {author}: {why}, left out")
    rows = list(_unique_isbns(book.row for book in books if book.book_id in chosen))
    return rows, problems


def _unique_isbns(rows: Iterable[dict[str, str] | None]) -> Iterator[dict[str, str]]:
    seen: set[str] = set()
    for row in rows:
        if row is not None and row["isbn"] not in seen:
            seen.add(row["isbn"])
            yield row


def write_catalogue(rows: list[dict[str, str]], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as file:
        writer = csv.DictWriter(file, fieldnames=COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--source", type=Path, default=DEFAULT_SOURCE, help="goodbooks books.csv")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help="the CSV to write")
    parser.add_argument(
        "--count", type=int, default=DEFAULT_COUNT, help="books from the top of the source"
    )
    arguments = parser.parse_args(argv)
    rows, problems = select(read_source(arguments.source), arguments.count)
    for problem in problems:
        print(problem, file=sys.stderr)
    write_catalogue(rows, arguments.output)
    print(f"Wrote {len(rows)} books to {arguments.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
