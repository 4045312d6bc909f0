"""EXPLAIN (ANALYZE, BUFFERS) of every query shape the book list issues, on a million books.

Loads N synthetic books (default 1,000,000) into a scratch PostgreSQL database by COPY, with
the list's indexes built afterwards by the migration that adds them (as on an existing
catalogue), runs ANALYZE, then requests the list through the real API stack (view, filters,
keyset pagination) for every shape: each ordering's first page, next page, previous page and
a page from the middle; each filter alone; the filters together; search words common, rare,
short and many. It captures the SQL each request sends and prints its plan. A plan with a
Seq Scan is flagged, and so is one that reads many more rows than it returns; the exit status
is 1 when any plan has a Seq Scan.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/scratch_db \\
        .venv/bin/python bench/explain_plans.py [--rows 1000000] [--reload] \\
        [--output docs/performance-explain-plans.md]

The database is created if missing; its books are replaced when it does not already hold
exactly --rows of them (or with --reload). Never point it at a database you want to keep.
Timings are from whatever machine runs it: on a shared one, read them as indicative.
"""

import argparse
import datetime
import os
import random
import re
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from psycopg import sql

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.databases import ensure_database  # noqa: E402 - needs ROOT on the path

#: A plan reading more rows than this many times what the page returns is flagged.
WASTE_FACTOR = 50
PAGE_SIZE = 20
FIRST_DAY = datetime.date(1900, 1, 1)
LAST_DAY = datetime.date(2025, 12, 31)
FIRST_CREATED = datetime.datetime(2020, 1, 1, tzinfo=datetime.UTC)
CREATED_SPAN = datetime.timedelta(days=6 * 365)
VOCABULARY_SIZE = 30_000


# --- the data --------------------------------------------------------------------------


def vocabulary(rng: random.Random, size: int) -> list[str]:
    """Real-looking words, a few very common and most rare, as in real text."""
    from faker.providers.lorem.en_US import Provider as Lorem

    syllables = [
        "ka",
        "lo",
        "mir",
        "an",
        "tes",
        "vo",
        "ren",
        "dal",
        "qui",
        "sor",
        "pe",
        "ul",
        "bri",
        "zen",
    ]
    words = list(dict.fromkeys(Lorem.word_list))
    seen = set(words)
    while len(words) < size:
        word = "".join(rng.choices(syllables, k=rng.randint(2, 5)))
        if word not in seen:
            seen.add(word)
            words.append(word)
    return words


def zipf_weights(count: int) -> list[float]:
    """Cumulative weights 1/rank: the first word is twice as common as the second, etc."""
    total = 0.0
    cumulative = []
    for rank in range(1, count + 1):
        total += 1 / rank
        cumulative.append(total)
    return cumulative


def generate_rows(count: int, seed: int) -> Iterator[tuple[Any, ...]]:
    """``count`` books as COPY rows, in the order they were "created" (created_at rises)."""
    from faker.providers.person.en_US import Provider as Person

    first_names, last_names = list(Person.first_names), list(Person.last_names)

    from books.demo import demo_isbn

    rng = random.Random(seed)  # noqa: S311 - test data, not secrets
    words = vocabulary(rng, VOCABULARY_SIZE)
    word_weights = zipf_weights(len(words))
    authors = [f"{rng.choice(first_names)} {rng.choice(last_names)}" for _ in range(50_000)]
    author_weights = zipf_weights(len(authors))
    days = (LAST_DAY - FIRST_DAY).days
    step = CREATED_SPAN / count
    for number in range(count):
        title = " ".join(rng.choices(words, cum_weights=word_weights, k=rng.randint(1, 6)))
        summary = " ".join(rng.choices(words, cum_weights=word_weights, k=rng.randint(15, 60)))
        created = FIRST_CREATED + step * number
        yield (
            title.capitalize(),
            rng.choices(authors, cum_weights=author_weights)[0],
            FIRST_DAY + datetime.timedelta(days=rng.randrange(days + 1)),
            demo_isbn(number),
            summary.capitalize() + ".",
            created,
            created,
        )


def load(rows: int, seed: int, log: list[str]) -> None:
    """Replace the books by ``rows`` generated ones; the indexes are built after the COPY."""
    from django.core.management import call_command
    from django.db import connection

    from books.models import Book

    # Back to the table without the list's indexes: a COPY into indexed tables is slower
    # than building the indexes once, and this is what migrating an existing catalogue does.
    call_command("migrate", "books", "0002", verbosity=0)
    table = Book._meta.db_table
    columns = ("title", "author", "publication_date", "isbn", "summary", "created_at", "updated_at")
    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute(f"TRUNCATE {connection.ops.quote_name(table)} RESTART IDENTITY")
        copy_sql = sql.SQL("COPY {} ({}) FROM STDIN").format(
            sql.Identifier(table), sql.SQL(", ").join(map(sql.Identifier, columns))
        )
        with cursor.cursor.copy(copy_sql) as copy:
            for row in generate_rows(rows, seed):
                copy.write_row(row)
    copied = time.perf_counter() - started
    started = time.perf_counter()
    call_command("migrate", "books", verbosity=0)
    migrated = time.perf_counter() - started
    log.append(f"Loaded {rows:,} books by COPY in {copied:.1f} s.")
    log.append(
        f"Migration 0003 (the list's indexes, the search's GIN index, the ISBN constraint) "
        f"on them: {migrated:.1f} s."
    )


def analyze(log: list[str]) -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("VACUUM (ANALYZE) books_book")
        cursor.execute(
            "SELECT c.relname, pg_size_pretty(pg_relation_size(c.oid)) "
            "FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
            "WHERE i.indrelid = 'books_book'::regclass ORDER BY c.relname"
        )
        sizes = cursor.fetchall()
        cursor.execute("SELECT pg_size_pretty(pg_relation_size('books_book'))")
        (table_size,) = cursor.fetchone()
    log.append(f"Table: {table_size}. Indexes: " + ", ".join(f"{n} {s}" for n, s in sizes) + ".")


# --- the queries -----------------------------------------------------------------------


@dataclass
class Shape:
    name: str
    params: dict[str, str]
    #: Which page: "first", "next" (the second), "previous" (back from the third to the
    #: second) or "middle" (a cursor at the middle of the whole ordering).
    page: str = "first"


def sample_values(seed: int) -> dict[str, str]:
    """Filter values taken from the data: a prolific author, a real ISBN, common and rare
    words, so each filter is measured where it selects many rows and where it selects few."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT author FROM books_book GROUP BY author ORDER BY count(*) DESC LIMIT 1"
        )
        (prolific,) = cursor.fetchone()
        cursor.execute("SELECT author FROM books_book GROUP BY author HAVING count(*) <= 5 LIMIT 1")
        (rare_author,) = cursor.fetchone()
        cursor.execute("SELECT isbn, title FROM books_book WHERE id = 777777 OR id = 1 LIMIT 1")
        isbn, title = cursor.fetchone()
    words = title.lower().split()
    # The vocabulary as generate_rows drew it (seeded): most frequent first.
    words_by_frequency = vocabulary(random.Random(seed), VOCABULARY_SIZE)  # noqa: S311
    return {
        "prolific_author": prolific,
        "rare_author": rare_author,
        "isbn": isbn,
        "title_words": " ".join(words[:2]),
        # The vocabulary's last word is its rarest (generate_rows draws it first, seeded).
        "rare_word": words_by_frequency[-1],
        "common_word": words_by_frequency[2],
        "common_words": f"{words_by_frequency[3]} {words_by_frequency[5]}",
    }


def shapes(values: dict[str, str]) -> list[Shape]:
    from books.pagination import BookCursorPagination

    orderings = [
        prefix + field for field in BookCursorPagination.ordering_fields for prefix in ("", "-")
    ]
    result = []
    for ordering in orderings:
        for page in ("first", "next", "previous", "middle"):
            result.append(Shape(f"ordering {ordering}, {page} page", {"ordering": ordering}, page))
    author = values["prolific_author"].upper()
    result += [
        Shape("author (prolific, upper case)", {"author": author}),
        Shape("author (prolific), next page", {"author": author}, "next"),
        Shape("author (rare)", {"author": values["rare_author"]}),
        Shape("author, ordering title", {"author": author, "ordering": "title"}),
        Shape(
            "author, ordering -publication_date",
            {"author": author, "ordering": "-publication_date"},
        ),
        Shape("isbn", {"isbn": values["isbn"]}),
        Shape("published_after (recent)", {"published_after": "2025-06-01"}),
        Shape("published_after (most rows)", {"published_after": "1910-01-01"}),
        Shape("published_before (few rows)", {"published_before": "1900-06-30"}),
        Shape("published_before (most rows)", {"published_before": "2020-01-01"}),
        Shape(
            "published range (one year)",
            {"published_after": "1999-01-01", "published_before": "1999-12-31"},
        ),
        Shape(
            "published range, ordering -publication_date, next page",
            {
                "published_after": "1999-01-01",
                "published_before": "1999-12-31",
                "ordering": "-publication_date",
            },
            "next",
        ),
        Shape(
            "published range, ordering title",
            {
                "published_after": "1999-01-01",
                "published_before": "1999-12-31",
                "ordering": "title",
            },
        ),
        Shape(
            "published range, ordering -created_at, middle page",
            {"published_after": "1999-01-01", "published_before": "1999-12-31"},
            "middle",
        ),
        Shape("search: a common word", {"search": values["common_word"]}),
        Shape("search: a common word, next page", {"search": values["common_word"]}, "next"),
        Shape("search: a rare word", {"search": values["rare_word"]}),
        Shape("search: a short prefix", {"search": "ka"}),
        Shape("search: a title's first two words", {"search": values["title_words"]}),
        Shape(
            "search: two words, ordering title",
            {"search": values["common_words"], "ordering": "title"},
        ),
        Shape(
            "search: ten one-letter words (worst case)",
            {"search": "a b c d e f g h i j"},
        ),
        Shape(
            "search: 100 one-letter words in one (worst case)",
            {"search": "-".join("abcdefghijklmnopqrstuvwxyz0123456789" * 3)[:199]},
        ),
        Shape("author + search", {"author": author, "search": values["common_word"]}),
        Shape("author + search (rare word)", {"author": author, "search": values["rare_word"]}),
        Shape(
            "every filter, ordering -publication_date",
            {
                "author": author,
                "published_after": "1950-01-01",
                "published_before": "2000-12-31",
                "search": values["common_word"],
                "ordering": "-publication_date",
            },
        ),
    ]
    return result


def request(client: Any, url: str) -> tuple[dict[str, Any], list[str]]:
    """(the page, the SQL the request sent to the books table, params inlined as sent)."""
    from django.core.cache import cache
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    cache.clear()  # a cached page would send no query
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200, (url, response.content[:500])
    sqls = [
        query["sql"]
        for query in queries.captured_queries
        if query["sql"].startswith("SELECT") and '"books_book"' in query["sql"]
    ]
    return response.json(), sqls


def middle_cursor(params: dict[str, str]) -> str:
    """A cursor at the middle row of the filtered, ordered list, as the server signs one."""
    from books.filters import BookFilter
    from books.models import Book
    from books.pagination import BookCursorPagination, Cursor

    ordering = params.get("ordering", BookCursorPagination.default_ordering)
    field = ordering.lstrip("-")
    filters = {name: value for name, value in params.items() if name != "ordering"}
    queryset = BookFilter(filters, queryset=Book.objects.all()).qs
    order = (f"-{field}", "-id") if ordering.startswith("-") else (field, "id")
    row = queryset.order_by(*order).values(field, "id")[queryset.count() // 2]
    return BookCursorPagination.encode_cursor(
        Cursor(ordering, row[field], row["id"], backwards=False)
    )


def queries_for(client: Any, shape: Shape) -> tuple[str, list[str]]:
    """(the URL requested, the SQL it sent) for one shape."""
    params = {**shape.params, "page_size": str(PAGE_SIZE)}
    url = "/books/?" + urlencode(params)
    if shape.page == "middle":
        url = "/books/?" + urlencode({**params, "cursor": middle_cursor(params)})
    elif shape.page in ("next", "previous"):
        first, _ = request(client, url)
        link = first["next"]
        if shape.page == "previous" and link is not None:
            second, _ = request(client, link)
            if second["next"] is not None:
                third, _ = request(client, second["next"])
                link = third["previous"]
        if link is None:
            return url + " (one page only)", request(client, url)[1]
        url = link.removeprefix("http://testserver")
    return url, request(client, url)[1]


def explain(query: str) -> tuple[str, float]:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + query)
        lines = [row[0] for row in cursor.fetchall()]
    match = re.search(r"Execution Time: ([\d.]+) ms", lines[-1])
    return "\n".join(lines), float(match.group(1)) if match else float("nan")


def rows_read(plan: str) -> int:
    """Rows the scans touched: those returned by scans plus those they filtered out."""
    total = 0
    for line in plan.splitlines():
        scan = re.search(
            r"(Scan|Heap Scan).*actual time=[\d.]+\.\.[\d.]+ rows=(\d+) loops=(\d+)", line
        )
        if scan and "Bitmap Index Scan" not in line:
            total += int(scan.group(2)) * int(scan.group(3))
        removed = re.search(r"Rows Removed by (Filter|Index Recheck): (\d+)", line)
        if removed:
            total += int(removed.group(2))
    return total


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--output", type=Path, default=Path("/tmp/explain-plans.md"))  # noqa: S108
    parser.add_argument("--reload", action="store_true", help="replace the books even if loaded")
    args = parser.parse_args()

    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith(("postgres://", "postgresql://")):
        parser.error("DATABASE_URL must name a scratch PostgreSQL database")
    ensure_database(url)
    os.environ.setdefault("SECRET_KEY", "benchmark-only-key-not-a-secret-0123456789-abcdefghij")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bookstore.settings")
    os.environ["THROTTLE_ANON_RATE"] = "100000000/min"
    os.environ["ALLOWED_HOSTS"] = "testserver"
    os.environ.pop("REDIS_URL", None)
    os.environ["LOG_LEVEL"] = "WARNING"  # not a line per request
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection
    from rest_framework.test import APIClient

    from books.models import Book

    log: list[str] = []
    call_command("migrate", verbosity=0)
    if args.reload or Book.objects.count() != args.rows:
        load(args.rows, args.seed, log)
    analyze(log)
    with connection.cursor() as cursor:
        cursor.execute("SELECT version()")
        (version,) = cursor.fetchone()
        cursor.execute("SHOW jit")
        (jit,) = cursor.fetchone()
    client = APIClient()
    values = sample_values(args.seed)

    sections = []
    summary = []
    seq_scans = 0
    for shape in shapes(values):
        url, sqls = queries_for(client, shape)
        if not sqls:
            raise SystemExit(f"{shape.name}: the request sent no query to books_book")
        for query in sqls:
            explain(query)  # warm the cache: the second run is the one reported
            plan, milliseconds = explain(query)
            flags = []
            if "Seq Scan" in plan:
                flags.append("**Seq Scan**")
                seq_scans += 1
            read = rows_read(plan)
            if read > WASTE_FACTOR * (PAGE_SIZE + 1):
                flags.append(f"reads {read:,} rows")
            verdict = ", ".join(flags) or "ok"
            summary.append(f"| {shape.name} | {milliseconds:.2f} | {read:,} | {verdict} |")
            sections.append(
                f"### {shape.name}\n\n`GET {url}`\n\n```sql\n{query}\n```\n\n```\n{plan}\n```\n"
            )
        print(f"{shape.name}: {verdict}", file=sys.stderr)

    # The docs' rule for figures (bookstore/docs_figures.py): where these came from.
    figures_marker = (
        f"<!-- figures: .venv/bin/python bench/explain_plans.py --rows {args.rows} "
        f"(bench/explain_plans.py), {datetime.date.today().isoformat()} -->"
    )
    text = "\n".join(
        [
            f"# Appendix: EXPLAIN plans of the book list on {args.rows:,} books",
            "",
            f"{version}; jit {jit}; page size {PAGE_SIZE}. "
            f"Generated by `bench/explain_plans.py` on {datetime.date.today().isoformat()}; "
            "each plan is the second run of its query (warm cache). Timings are from a "
            "shared 2-core machine: indicative only.",
            figures_marker,
            "",
            *log,
            "",
            "| Query | Execution (ms) | Rows read | Verdict |",
            "|---|---:|---:|---|",
            *summary,
            "",
            f"Seq Scans: {seq_scans}.",
            "",
            "## The plans",
            "",
            figures_marker,
            "",
            *sections,
        ]
    )
    args.output.write_text(text)
    print(f"Wrote {args.output}; Seq Scans: {seq_scans}", file=sys.stderr)
    return 1 if seq_scans else 0


if __name__ == "__main__":
    sys.exit(main())
