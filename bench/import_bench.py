"""Benchmark of ``manage.py import_books`` into PostgreSQL (``make bench-import``).

Generates N valid synthetic books as CSV, imports them into an empty books table through the
real command in a subprocess (sampling its memory as it reads the file), imports the same file
again (every row unchanged), then measures three references: a plain COPY of the same rows
straight into the emptied books table, with all its indexes, constraints and triggers (what
PostgreSQL itself takes to load the table as it is); the same COPY with the table's
non-unique indexes dropped first and built after, as the importer's bulk load does (the
strongest plain COPY, and the ratio to quote); and the ceiling: a plain COPY into a scratch
table without constraints or indexes. Prints rows per second for each, the ratios and
the importer's peak and sampled RSS; writes the figures as JSON to
bench/results/import-<timestamp>.json.

    .venv/bin/python bench/import_bench.py [--rows 1000000] [--batch-size 10000]

DATABASE_URL (default postgres://postgres@127.0.0.1:5432/bookstore_bench) names the database;
it is created if missing and migrated. Its books table is emptied first.

The machine's load average is recorded with the figures: on a shared machine, other work
competes for the same cores and the figures are only as good as the quiet they had.
"""

import argparse
import csv
import datetime
import json
import os
import platform
import random
import re
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import psycopg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.databases import ensure_database  # noqa: E402 - needs ROOT on the path
from books.demo import demo_isbn  # noqa: E402
from harness.processes import rss_kib  # noqa: E402

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/bookstore_bench"
RESULTS = ROOT / "bench" / "results"
SAMPLE_SECONDS = 0.05
_SUMMARY = re.compile(
    r"([\d,]+) rows in ([\d.]+) s \(([\d,]+) rows/s\): ([\d,]+) inserted, ([\d,]+) updated, "
    r"([\d,]+) unchanged, ([\d,]+) rejected"
)


def generate_csv(path: Path, rows: int, seed: int) -> None:
    """``rows`` valid books with distinct ISBN-13s; vocabulary from Faker, chosen at random."""
    from faker.providers.lorem.en_US import Provider as Lorem
    from faker.providers.person.en_US import Provider as Person

    rng = random.Random(seed)  # noqa: S311 - test data, not secrets
    words = list(Lorem.word_list)
    first_names = list(Person.first_names)
    last_names = list(Person.last_names)
    first_day = datetime.date(1900, 1, 1).toordinal()
    days = datetime.date(2024, 12, 31).toordinal() - first_day
    with path.open("w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file)
        writer.writerow(["title", "author", "publication_date", "isbn", "summary"])
        for number in range(rows):
            title = " ".join(rng.choices(words, k=rng.randint(2, 6))).capitalize()
            author = f"{rng.choice(first_names)} {rng.choice(last_names)}"
            date = datetime.date.fromordinal(first_day + rng.randrange(days)).isoformat()
            summary = " ".join(rng.choices(words, k=rng.randint(10, 40))).capitalize() + "."
            writer.writerow([title, author, date, demo_isbn(number), summary])


def django_env(url: str) -> dict[str, str]:
    env = dict(os.environ, DATABASE_URL=url, DJANGO_SETTINGS_MODULE="bookstore.settings")
    env.setdefault("SECRET_KEY", "benchmark-only-key-not-a-secret-0123456789-abcdefghijklmnop")
    env.pop("REDIS_URL", None)
    return env


def read_fraction(pid: int, path: Path, size: int) -> float | None:
    """How far the process has read ``path``: its file offset, from /proc."""
    try:
        descriptors = os.listdir(f"/proc/{pid}/fd")
    except OSError:
        return None
    for descriptor in descriptors:
        try:
            if os.readlink(f"/proc/{pid}/fd/{descriptor}") == str(path):
                info = Path(f"/proc/{pid}/fdinfo/{descriptor}").read_text()
                match = re.search(r"pos:\s+(\d+)", info)
                return int(match.group(1)) / size if match else None
        except OSError:
            continue
    return None


def run_import(url: str, path: Path, batch_size: int) -> dict[str, Any]:
    """Run the command in a subprocess: its rate, counts, CPU time, peak and sampled RSS."""
    command = [sys.executable, str(ROOT / "manage.py"), "import_books", str(path)]
    command += ["--no-progress", "--skip-checks", "--batch-size", str(batch_size)]
    size = path.stat().st_size
    samples: list[tuple[float | None, int]] = []
    started = time.perf_counter()
    process = subprocess.Popen(  # noqa: S603 - our own command line
        command, env=django_env(url), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    outputs: dict[str, str] = {}

    def drain(name: str, stream: Any) -> None:
        outputs[name] = stream.read()

    drains = [
        threading.Thread(target=drain, args=("out", process.stdout)),
        threading.Thread(target=drain, args=("err", process.stderr)),
    ]
    for thread in drains:
        thread.start()
    while True:
        # wait4 rather than poll(): it also gives the child's own CPU time and peak RSS.
        pid, status, usage = os.wait4(process.pid, os.WNOHANG)
        if pid:
            break
        rss = rss_kib(process.pid)
        if rss is not None:
            samples.append((read_fraction(process.pid, path, size), rss))
        time.sleep(SAMPLE_SECONDS)
    wall = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    for thread in drains:
        thread.join()
    if process.returncode != 0:
        raise SystemExit(f"import_books failed ({process.returncode}):\n{outputs.get('err')}")
    match = _SUMMARY.search(outputs.get("out", ""))
    if not match:
        raise SystemExit(f"Unexpected import_books output:\n{outputs.get('out')}")
    seconds = float(match.group(2))
    rows, rate, inserted, updated, unchanged, rejected = (
        int(match.group(index).replace(",", "")) for index in (1, 3, 4, 5, 6, 7)
    )
    at: dict[str, float | None] = {}
    for label, wanted in (("10%", 0.1), ("50%", 0.5)):
        reached = [rss for fraction, rss in samples if fraction is not None and fraction >= wanted]
        at[label] = round(reached[0] / 1024, 1) if reached else None
    at["100%"] = round(samples[-1][1] / 1024, 1) if samples else None
    return {
        "rows": rows,
        "seconds": seconds,
        "rows_per_second": rate,
        "wall_seconds_with_startup": round(wall, 2),
        "cpu_seconds": round(usage.ru_utime + usage.ru_stime, 2),
        "inserted": inserted,
        "updated": updated,
        "unchanged": unchanged,
        "rejected": rejected,
        "peak_rss_mib": round(usage.ru_maxrss / 1024, 1),
        "rss_mib_at": at,
        "stdout": outputs.get("out", "").strip(),
    }


def settle(url: str) -> None:
    """Start each measurement from the same state: the table vacuumed and analysed (as
    autovacuum would leave it, rather than autovacuum starting mid-run) and a checkpoint
    just taken (rather than one forced by the previous run's WAL landing mid-run)."""
    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute("VACUUM ANALYZE books_book")
        try:
            connection.execute("CHECKPOINT")
        except psycopg.errors.InsufficientPrivilege:
            print("(not a superuser: no CHECKPOINT before the measurement)")


def copy_ceiling(url: str, path: Path, rows: int) -> dict[str, Any]:
    """Plain COPY of the same CSV into a scratch table: what PostgreSQL alone takes."""
    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute("DROP TABLE IF EXISTS import_bench_scratch")
        connection.execute(
            "CREATE TABLE import_bench_scratch (title text, author text, "
            "publication_date date, isbn text, summary text)"
        )
        started = time.perf_counter()
        with (
            connection.cursor() as cursor,
            path.open("rb") as file,
            cursor.copy("COPY import_bench_scratch FROM STDIN (FORMAT csv, HEADER true)") as copy,
        ):
            while chunk := file.read(1 << 20):
                copy.write(chunk)
        seconds = time.perf_counter() - started
        document = document_seconds(connection)
        connection.execute("DROP TABLE import_bench_scratch")
    figures: dict[str, Any] = {
        "seconds": round(seconds, 2),
        "rows_per_second": round(rows / seconds),
    }
    if document is not None:
        # Computing books_book.search_document (its generated expression, as the database
        # has it) for the same rows, in one process, nothing stored: what any load of the
        # table pays per row at least, whatever it does with the indexes.
        figures["search_document_seconds"] = round(document, 2)
        figures["search_document_rows_per_second"] = round(rows / document)
    return figures


def document_seconds(connection: psycopg.Connection[Any]) -> float | None:
    """Seconds to compute the search document's expression over the scratch table's rows."""
    row = connection.execute(
        "SELECT pg_get_expr(d.adbin, d.adrelid) FROM pg_attrdef d JOIN pg_attribute a "
        "ON a.attrelid = d.adrelid AND a.attnum = d.adnum "
        "WHERE d.adrelid = 'books_book'::regclass AND a.attname = 'search_document'"
    ).fetchone()
    if row is None:
        return None
    connection.execute("SET max_parallel_workers_per_gather = 0")
    connection.execute("SET jit = off")
    started = time.perf_counter()
    connection.execute(
        f"SELECT count(*) FROM import_bench_scratch WHERE ({row[0]}) IS NOT NULL"  # noqa: S608
    )
    return time.perf_counter() - started


def _bulk_load_indexes(url: str) -> tuple[list[Any], str, int]:
    """The books table's indexes the bulk load drops and builds again, and its build settings,
    from books.importing.bulk_load itself (Django set up on ``url`` in this process)."""
    os.environ.update(django_env(url))
    import django

    django.setup()
    from django.db import connection

    from books.importing import bulk_load

    indexes = bulk_load.secondary_indexes(connection)
    connection.close()
    return indexes, bulk_load.MAINTENANCE_WORK_MEM, bulk_load.PARALLEL_WORKERS


def copy_into_books(
    url: str, path: Path, rows: int, *, indexes_built_after: bool
) -> dict[str, Any]:
    """Plain COPY of the same rows into the emptied books table, its constraints and triggers
    in place (the database's own defaults give version and precision; the timestamps are added
    to each line as it goes). With ``indexes_built_after``, the strongest plain COPY: as the
    importer's bulk load does, the table's non-unique indexes are dropped first and built after
    the rows, with the same settings, in one transaction; otherwise every index is kept up row
    by row. Either way rolled back or emptied after, so the table is as before."""
    now = datetime.datetime.now(datetime.UTC).isoformat()
    columns = "title, author, publication_date, isbn, summary, created_at, updated_at"
    indexes, work_mem, workers = _bulk_load_indexes(url) if indexes_built_after else ([], "", 0)
    with psycopg.connect(url, autocommit=not indexes_built_after) as connection:
        connection.execute("TRUNCATE books_book")
        started = time.perf_counter()
        if indexes_built_after:
            for index in indexes:
                connection.execute(f'DROP INDEX "{index.name}"')
        with (
            connection.cursor() as cursor,
            path.open(encoding="utf-8", newline="") as file,
            cursor.copy(f"COPY books_book ({columns}) FROM STDIN") as copy,
        ):
            reader = csv.reader(file)
            next(reader)
            for title, author, date, isbn, summary in reader:
                copy.write_row((title, author, date, isbn, summary, now, now))
        if indexes_built_after:
            connection.execute(f"SET LOCAL maintenance_work_mem = '{work_mem}'")
            connection.execute(f"SET LOCAL max_parallel_maintenance_workers = {int(workers)}")
            for index in indexes:
                connection.execute(index.definition)
            connection.execute("SELECT 1")  # every index is built before the clock stops
        seconds = time.perf_counter() - started
        if indexes_built_after:
            connection.rollback()
        else:
            connection.execute("TRUNCATE books_book")
    return {"seconds": round(seconds, 2), "rows_per_second": round(rows / seconds)}


def _line(label: str, figures: dict[str, Any]) -> str:
    return f"{label:<24}{figures['rows_per_second']:>10,} rows/s  ({figures['seconds']:.1f} s)"


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--batch-size", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=0)
    arguments = parser.parse_args()
    url = os.environ.get("DATABASE_URL", DEFAULT_DATABASE_URL)
    if not url.startswith(("postgres://", "postgresql://")):
        raise SystemExit(f"DATABASE_URL must be PostgreSQL for this benchmark, not {url!r}.")

    ensure_database(url)
    subprocess.run(  # noqa: S603 - our own command line
        [sys.executable, str(ROOT / "manage.py"), "migrate", "--noinput", "--skip-checks", "-v0"],
        env=django_env(url),
        check=True,
    )
    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute("TRUNCATE books_book")
        server = connection.execute("SHOW server_version").fetchone()

    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="import-bench-") as directory:
        path = Path(directory) / "books.csv"
        started = time.perf_counter()
        generate_csv(path, arguments.rows, arguments.seed)
        generated = time.perf_counter() - started
        file_mib = round(path.stat().st_size / 2**20, 1)
        print(f"Generated {arguments.rows:,} rows ({file_mib:,} MiB) in {generated:.1f} s")

        settle(url)
        first = run_import(url, path, arguments.batch_size)
        print(_line("import (all new):", first))
        settle(url)
        again = run_import(url, path, arguments.batch_size)
        print(_line("import (all unchanged):", again))
        settle(url)
        copy_books = copy_into_books(url, path, arguments.rows, indexes_built_after=False)
        print(_line("COPY into books_book:", copy_books))
        settle(url)
        copy_built_after = copy_into_books(url, path, arguments.rows, indexes_built_after=True)
        print(_line("COPY, indexes after:", copy_built_after))
        settle(url)
        ceiling = copy_ceiling(url, path, arguments.rows)
        print(_line("COPY ceiling:", ceiling))
    load_after = os.getloadavg()

    ratio = first["rows_per_second"] / ceiling["rows_per_second"]
    same_table_ratio = first["rows_per_second"] / copy_books["rows_per_second"]
    built_after_ratio = first["rows_per_second"] / copy_built_after["rows_per_second"]
    rss = first["rss_mib_at"]
    print(f"import / COPY into books_book (same indexes): {same_table_ratio:.2f}x")
    print(f"import / COPY with the indexes built after (the stronger): {built_after_ratio:.2f}x")
    print(f"import / COPY ceiling: {ratio:.0%}")
    if "search_document_rows_per_second" in ceiling:
        print(
            f"search_document alone: {ceiling['search_document_rows_per_second']:,} rows/s "
            f"({ceiling['search_document_seconds']:.1f} s, one process, nothing stored)"
        )
    print(
        f"importer RSS MiB: peak {first['peak_rss_mib']}, at 10% of the file {rss['10%']}, "
        f"50% {rss['50%']}, 100% {rss['100%']}"
    )
    print(f"load average before/after: {load_before[0]:.1f} / {load_after[0]:.1f}")
    print(f"bulk load (empty table): {'yes' if 'Empty table' in first['stdout'] else 'no'}")
    if first["inserted"] != arguments.rows or again["unchanged"] != arguments.rows:
        raise SystemExit("Unexpected counts: the first run inserts all, the second none.")

    RESULTS.mkdir(parents=True, exist_ok=True)
    stamp = datetime.datetime.now(datetime.UTC).strftime("%Y%m%dT%H%M%SZ")
    result_path = RESULTS / f"import-{stamp}.json"
    result = {
        "rows": arguments.rows,
        "batch_size": arguments.batch_size,
        "file_mib": file_mib,
        "generation_seconds": round(generated, 1),
        "import": first,
        "rerun": again,
        "copy_into_books": copy_books,
        "import_to_copy_into_books_ratio": round(same_table_ratio, 3),
        "copy_indexes_built_after": copy_built_after,
        "import_to_copy_indexes_built_after_ratio": round(built_after_ratio, 3),
        "copy_ceiling": ceiling,
        "import_to_copy_ratio": round(ratio, 3),
        "load_average_before_after": [round(load_before[0], 2), round(load_after[0], 2)],
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "postgresql": server[0] if server else None,
        },
    }
    result_path.write_text(json.dumps(result, indent=2) + "\n")
    print(f"Wrote {result_path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
