"""Writing validated rows to the books table in batches: the importer's one write path.

Each batch, in one transaction:

1. goes into a temporary staging table (COPY on PostgreSQL, executemany on SQLite);
2. is checked against a temporary table of the ISBNs seen so far in the run, kept by the
   database so the Python process's memory does not grow with the file: a row whose ISBN an
   earlier row had is taken out and reported;
3. is written: books with a new ISBN by a plain INSERT, and changed books by
   INSERT ... ON CONFLICT (isbn) DO UPDATE, which bumps the version (the API's ETag) and
   updated_at. A row identical to its stored book is not written at all. While batches hold
   only new books (a first load) the INSERT is tried without looking the ISBNs up first.

Why not one upsert for everything: ON CONFLICT costs every row a speculative insertion
(about a third more time for new books), and locks (so writes) every existing row it meets,
even those its WHERE then leaves alone. If another writer adds one of the ISBNs between the
lookup and the INSERT, the INSERT fails on the unique index, is rolled back to its savepoint
and the upsert takes those rows instead, so the result is the same either way.

Every write the importer makes goes through BatchWriter.write(), which also tells the read
cache (books.read_cache.books_changed) which books changed, next to the upsert.

The SQL below is assembled from the model's own table and column names (quoted) and fixed
text; every value travels as a parameter or through COPY, hence the S608 waivers.
"""

import contextlib
from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any, NamedTuple

from django.db import DatabaseError, IntegrityError, transaction
from django.db.backends.base.base import BaseDatabaseWrapper
from django.utils import timezone

from books import read_cache
from books.models import Book
from core.db_instrumentation import expected_slow_queries

#: One row as staged: (line, isbn, title, author, publication_date "YYYY-MM-DD", summary or
#: None when the file gives none and a stored summary is to be kept,
#: publication_date_precision "day", "month" or "year").
StagedRow = tuple[int, str, str, str, str, str | None, str]

STAGING_TABLE = "import_books_staging"
SEEN_TABLE = "import_books_seen"
_STAGING_COLUMNS = (
    "line",
    "isbn",
    "title",
    "author",
    "publication_date",
    "summary",
    "publication_date_precision",
)
#: The fields an import writes, and so compares with the stored book.
_WRITTEN_FIELDS = ("title", "author", "publication_date", "publication_date_precision", "summary")


class Duplicate(NamedTuple):
    line: int
    isbn: str
    first_line: int


class StagedBatch(NamedTuple):
    """A batch made ready for the database by BatchWriter.prepare()."""

    size: int
    #: Which upserts the batch needs: True for rows keeping the stored summary (none given).
    summary_groups: list[bool]
    #: What _stage() loads: COPY text on PostgreSQL, the rows themselves on SQLite.
    payload: Any


class BatchResult(NamedTuple):
    inserted: int
    updated: int
    unchanged: int
    duplicates: list[Duplicate]


class UnsupportedDatabase(Exception):
    pass


def _copy_text(value: str) -> str:
    """``value`` escaped for COPY's text format (NUL cannot occur: the rules refuse it)."""
    if "\\" in value or "\t" in value or "\n" in value or "\r" in value:
        return (
            value.replace("\\", "\\\\")
            .replace("\t", "\\t")
            .replace("\n", "\\n")
            .replace("\r", "\\r")
        )
    return value


def batch_writer_for(connection: BaseDatabaseWrapper, *, dry_run: bool = False) -> "BatchWriter":
    """The BatchWriter for the connection's database (PostgreSQL or SQLite)."""
    writers: dict[str, type[BatchWriter]] = {
        "postgresql": PostgresBatchWriter,
        "sqlite": SqliteBatchWriter,
    }
    if connection.vendor not in writers:
        raise UnsupportedDatabase(
            f"import_books supports PostgreSQL and SQLite, not {connection.vendor}."
        )
    return writers[connection.vendor](connection, dry_run=dry_run)


class BatchWriter(ABC):
    """Upserts batches of staged rows by ISBN; use as a context manager around the import."""

    #: Column type of the staging table's publication_date.
    date_type = "date"
    #: New books are inserted in ISBN order: concurrent imports then meet in one order.
    isbn_order = "staged.isbn"

    def __init__(self, connection: BaseDatabaseWrapper, *, dry_run: bool = False) -> None:
        self.connection = connection
        self.dry_run = dry_run
        self._expect_new = True  # the last batch was all new books
        quote = connection.ops.quote_name
        self._table = quote(str(Book._meta.db_table))
        self._column = {
            field.name: quote(str(field.column)) for field in Book._meta.concrete_fields
        }
        self._insert_columns = ", ".join(
            self._column[name]
            for name in ("isbn", *_WRITTEN_FIELDS, "created_at", "updated_at", "version")
        )

    # --- the run ---------------------------------------------------------------------------

    def __enter__(self) -> "BatchWriter":
        self._drop_tables()
        with self.connection.cursor() as cursor:
            cursor.execute(
                f"CREATE TEMPORARY TABLE {STAGING_TABLE} (line bigint NOT NULL, "
                "isbn text NOT NULL, title text NOT NULL, author text NOT NULL, "
                f"publication_date {self.date_type} NOT NULL, summary text, "
                "publication_date_precision text NOT NULL)"
            )
            # ISBNs as numbers: a bigint key is smaller and faster to compare than text.
            cursor.execute(
                f"CREATE TEMPORARY TABLE {SEEN_TABLE} "
                "(isbn bigint PRIMARY KEY, line bigint NOT NULL)"
            )
        return self

    def __exit__(self, exc_type: object, *exc_info: object) -> None:
        if exc_type is None:
            self._drop_tables()
            return
        # Failing already: the tables go with the session anyway, so do not mask the error.
        with contextlib.suppress(DatabaseError):
            self._drop_tables()

    def _drop_tables(self) -> None:
        with self.connection.cursor() as cursor:
            cursor.execute(f"DROP TABLE IF EXISTS {STAGING_TABLE}")
            cursor.execute(f"DROP TABLE IF EXISTS {SEEN_TABLE}")

    # --- one batch -------------------------------------------------------------------------

    def prepare(self, rows: Sequence[StagedRow]) -> StagedBatch:
        """Make ``rows`` ready to load. Touches no database, so another thread may run it."""
        groups = sorted({row[5] is None for row in rows})
        return StagedBatch(len(rows), groups, self._payload(rows))

    def _payload(self, rows: Sequence[StagedRow]) -> Any:
        return rows

    def write(self, batch: StagedBatch) -> BatchResult:
        """Upsert a prepared batch in one transaction (dry_run: only count what would change).

        A row whose ISBN an earlier row had (in this batch or an earlier one) is not written:
        it comes back as a duplicate, with the line of the first.
        """
        with (
            expected_slow_queries(),
            transaction.atomic(using=self.connection.alias),
            self.connection.cursor() as cursor,
        ):
            self._empty_staging(cursor)
            self._stage(cursor, batch.payload)
            duplicates = self._take_out_seen(cursor)
            staged = batch.size - len(duplicates)
            if self.dry_run:
                inserted, updated = self._classify(cursor)
            else:
                inserted, updated = self._write_staged(cursor, staged, batch.summary_groups)
                if inserted or updated:
                    fences = self._stored_versions(cursor) if updated else {}
                    read_cache.books_changed(fences, using=self.connection.alias)
        return BatchResult(inserted, updated, staged - inserted - updated, duplicates)

    def _write_staged(
        self, cursor: Any, staged: int, summary_groups: list[bool]
    ) -> tuple[int, int]:
        """Write the staged rows: (inserted, updated).

        While batches hold only new books (a first load), each is tried as a plain INSERT,
        without looking its ISBNs up; the unique index refuses it whole if one is stored.
        Otherwise one pass of lookups counts the new and the changed books, and only the
        statements needed run: an INSERT of the new, an upsert of the changed. If another
        writer stores one of the new ISBNs in between, the INSERT is refused (and rolled back
        to its savepoint) and the upsert takes those rows too.
        """
        now = self.connection.ops.adapt_datetimefield_value(timezone.now())
        if self._expect_new:
            inserted = self._insert(cursor, now, look_up=False)
            if inserted is not None:
                return inserted, 0
        new, changed = self._classify(cursor)
        inserted = updated = 0
        if new:
            inserted = self._insert(cursor, now, look_up=True) or 0
        if changed or inserted < new:
            # Rows without a summary keep the stored one: a statement of their own.
            for keep_summary in summary_groups:
                more_inserted, more_updated = self._upsert(cursor, now, keep_summary)
                inserted += more_inserted
                updated += more_updated
        self._expect_new = inserted == staged
        return inserted, updated

    def _stored_versions(self, cursor: Any) -> dict[int, int]:
        """The staged books as now stored: id → the version before (what the cache fences)."""
        column = self._column
        cursor.execute(
            f"SELECT book.{column['id']}, book.{column['version']} - 1 "  # noqa: S608
            f"FROM {STAGING_TABLE} staged {self._stored_book_join()} "
            f"WHERE book.{column['id']} IS NOT NULL"
        )
        return {int(book_id): int(fence) for book_id, fence in cursor.fetchall()}

    def _empty_staging(self, cursor: Any) -> None:
        cursor.execute(f"DELETE FROM {STAGING_TABLE}")  # noqa: S608

    @abstractmethod
    def _stage(self, cursor: Any, payload: Any) -> None: ...

    def _take_out_seen(self, cursor: Any) -> list[Duplicate]:
        """Remember the staged ISBNs; take out (and return) the rows an earlier row had.

        Duplicates are rare: a plain INSERT takes the usual batch; only if the unique key
        refuses it does the slower path find the duplicates (in line order: the first wins).
        """
        remember = f"INSERT INTO {SEEN_TABLE} (isbn, line) SELECT CAST(isbn AS bigint), line "
        with contextlib.suppress(IntegrityError), transaction.atomic(using=self.connection.alias):
            cursor.execute(f"{remember} FROM {STAGING_TABLE}")
            return []
        cursor.execute(
            f"{remember} FROM {STAGING_TABLE} WHERE true ORDER BY line "
            "ON CONFLICT (isbn) DO NOTHING"
        )
        return self._take_out_duplicates(cursor)

    @abstractmethod
    def _take_out_duplicates(self, cursor: Any) -> list[Duplicate]:
        """Delete from staging the rows whose ISBN was first seen on another line."""

    def _stored_book_join(self) -> str:
        """Joins each staged row to its stored book (if any), by ISBN, as ``book``."""
        return f"LEFT JOIN {self._table} book ON book.{self._column['isbn']} = staged.isbn"

    def _insert(self, cursor: Any, now: Any, *, look_up: bool) -> int | None:
        """INSERT the staged books (``look_up``: those whose ISBN is not stored); how many.

        None, and nothing written, if the unique index refuses a row: its ISBN is stored.
        """
        column = self._column
        new_only = f"{self._stored_book_join()} WHERE book.{column['id']} IS NULL"
        try:
            with transaction.atomic(using=self.connection.alias):
                cursor.execute(
                    f"INSERT INTO {self._table} ({self._insert_columns}) "  # noqa: S608
                    "SELECT staged.isbn, staged.title, staged.author, staged.publication_date, "
                    "staged.publication_date_precision, "
                    f"COALESCE(staged.summary, ''), %s, %s, 1 FROM {STAGING_TABLE} staged "
                    f"{new_only if look_up else ''} ORDER BY {self.isbn_order}",
                    [now, now],
                )
                return int(cursor.rowcount)
        except IntegrityError:
            return None

    @abstractmethod
    def _upsert(self, cursor: Any, now: Any, keep_summary: bool) -> tuple[int, int]:
        """Upsert the staged rows that are new or changed, of those with (or, keep_summary,
        without) a summary: (inserted, updated)."""

    def _upsert_sql(self, keep_summary: bool) -> str:
        """INSERT ... ON CONFLICT (isbn) DO UPDATE of the staged rows, writing only changes."""
        column, table = self._column, self._table
        written = [name for name in _WRITTEN_FIELDS if not (keep_summary and name == "summary")]
        assignments = ", ".join(
            [f"{column[name]} = EXCLUDED.{column[name]}" for name in written]
            + [
                f"{column['updated_at']} = EXCLUDED.{column['updated_at']}",
                f"{column['version']} = {table}.{column['version']} + 1",
            ]
        )
        changed = " OR ".join(
            f"{table}.{column[name]} <> EXCLUDED.{column[name]}" for name in written
        )
        # Identical rows are filtered out before the INSERT: ON CONFLICT would lock them.
        new_or_changed = " OR ".join(
            [f"book.{column['id']} IS NULL"]
            + [f"book.{column[name]} <> staged.{name}" for name in written]
        )
        summary = "''" if keep_summary else "staged.summary"
        return (
            f"INSERT INTO {table} ({self._insert_columns}) "  # noqa: S608
            "SELECT staged.isbn, staged.title, staged.author, staged.publication_date, "
            f"staged.publication_date_precision, {summary}, %s, %s, 1 "
            f"FROM {STAGING_TABLE} staged {self._stored_book_join()} "
            f"WHERE staged.summary IS {'' if keep_summary else 'NOT '}NULL "
            f"AND ({new_or_changed}) "
            f"ORDER BY {self.isbn_order} "
            f"ON CONFLICT ({column['isbn']}) DO UPDATE SET {assignments} WHERE {changed}"
        )

    def _classify(self, cursor: Any) -> tuple[int, int]:
        """What the writes would do, without doing them: (would insert, would update)."""
        column = self._column
        changed = " OR ".join(
            f"book.{column[name]} <> staged.{name}" for name in _WRITTEN_FIELDS[:-1]
        )
        changed += (
            f" OR (staged.summary IS NOT NULL AND book.{column['summary']} <> staged.summary)"
        )
        cursor.execute(
            f"SELECT COALESCE(SUM(CASE WHEN book.{column['id']} IS NULL THEN 1 ELSE 0 END), 0), "  # noqa: S608
            f"COALESCE(SUM(CASE WHEN book.{column['id']} IS NOT NULL AND ({changed}) "
            "THEN 1 ELSE 0 END), 0) "
            f"FROM {STAGING_TABLE} staged {self._stored_book_join()}"
        )
        inserted, updated = cursor.fetchone()
        return int(inserted), int(updated)


class PostgresBatchWriter(BatchWriter):
    """COPY into the staging table; the upsert tells inserted from updated itself (xmax)."""

    #: Local memory for the temporary tables. The default (8 MB) holds the ISBNs seen of only
    #: ~100,000 rows; past it every lookup goes to disk. Bounded: past it, slower, not bigger.
    TEMP_BUFFERS = "256MB"
    isbn_order = 'staged.isbn COLLATE "C"'  # byte order: the same order, a cheaper sort

    def __enter__(self) -> "BatchWriter":
        # Only possible before the session first touches a temporary table; if it already has
        # (an earlier import on this connection), the tables are just slower past the default.
        with (
            contextlib.suppress(DatabaseError),
            transaction.atomic(using=self.connection.alias),
            self.connection.cursor() as cursor,
        ):
            cursor.execute(f"SET temp_buffers = '{self.TEMP_BUFFERS}'")
        return super().__enter__()

    def _empty_staging(self, cursor: Any) -> None:
        # Plans over a few thousand rows cost enough to be JIT-compiled, which takes longer
        # than running them; this transaction only.
        cursor.execute("SET LOCAL jit = off")
        # TRUNCATE, not DELETE: temporary tables are never vacuumed, dead rows would pile up.
        cursor.execute(f"TRUNCATE {STAGING_TABLE}")

    def _payload(self, rows: Sequence[StagedRow]) -> str:
        # COPY's text format, built here rather than row by row in the COPY: this runs in the
        # reading thread, and leaves the writing thread one call to make (see pipeline.py).
        null = "\\N"
        return "".join(
            [
                f"{line}\t{isbn}\t{_copy_text(title)}\t{_copy_text(author)}\t{date}\t"
                f"{null if summary is None else _copy_text(summary)}\t{precision}\n"
                for line, isbn, title, author, date, summary, precision in rows
            ]
        )

    def _stage(self, cursor: Any, payload: str) -> None:
        columns = ", ".join(_STAGING_COLUMNS)
        with cursor.copy(f"COPY {STAGING_TABLE} ({columns}) FROM STDIN") as copy:
            copy.write(payload)

    def _stored_book_join(self) -> str:
        # A LATERAL subquery with LIMIT is always a lookup in the ISBN index per staged row;
        # a plain join may be planned as a hash join that reads the whole books table for
        # every batch (its statistics lag far behind a running import).
        return (
            f"LEFT JOIN LATERAL (SELECT * FROM {self._table} "  # noqa: S608
            f"WHERE {self._column['isbn']} = staged.isbn LIMIT 1) book ON true"
        )

    def _take_out_duplicates(self, cursor: Any) -> list[Duplicate]:
        first_line = f"SELECT line FROM {SEEN_TABLE} WHERE isbn = CAST(staged.isbn AS bigint)"  # noqa: S608
        cursor.execute(
            f"DELETE FROM {STAGING_TABLE} staged WHERE line <> ({first_line}) "  # noqa: S608
            f"RETURNING line, isbn, ({first_line})"
        )
        return sorted(Duplicate(*row) for row in cursor.fetchall())

    def _upsert(self, cursor: Any, now: Any, keep_summary: bool) -> tuple[int, int]:
        # xmax is 0 for a freshly inserted row version, a transaction id for an updated one.
        cursor.execute(
            f"WITH written AS ({self._upsert_sql(keep_summary)} "  # noqa: S608
            "RETURNING (xmax = 0) AS inserted) "
            "SELECT count(*) FILTER (WHERE inserted), count(*) FILTER (WHERE NOT inserted) "
            "FROM written",
            [now, now],
        )
        inserted, updated = cursor.fetchone()
        return int(inserted), int(updated)


class SqliteBatchWriter(BatchWriter):
    """executemany into the staging table; the upsert's new rows counted just before it
    (SQLite has one writer at a time, and the batch's transaction is it)."""

    date_type = "text"  # Django stores SQLite dates as YYYY-MM-DD text

    def _stage(self, cursor: Any, rows: Sequence[StagedRow]) -> None:  # type: ignore[override]
        placeholders = ", ".join(["%s"] * len(_STAGING_COLUMNS))
        cursor.executemany(
            f"INSERT INTO {STAGING_TABLE} ({', '.join(_STAGING_COLUMNS)}) VALUES ({placeholders})",  # noqa: S608
            rows,
        )

    def _take_out_duplicates(self, cursor: Any) -> list[Duplicate]:
        later_rows = (
            f"FROM {STAGING_TABLE} staged JOIN {SEEN_TABLE} seen "
            "ON seen.isbn = CAST(staged.isbn AS bigint) WHERE seen.line <> staged.line"
        )
        cursor.execute(f"SELECT staged.line, staged.isbn, seen.line {later_rows}")
        duplicates = sorted(Duplicate(*row) for row in cursor.fetchall())
        cursor.execute(
            f"DELETE FROM {STAGING_TABLE} WHERE line IN (SELECT staged.line {later_rows})"  # noqa: S608
        )
        return duplicates

    def _upsert(self, cursor: Any, now: Any, keep_summary: bool) -> tuple[int, int]:
        cursor.execute(
            f"SELECT count(*) FROM {STAGING_TABLE} staged {self._stored_book_join()} "  # noqa: S608
            f"WHERE book.{self._column['id']} IS NULL "
            f"AND staged.summary IS {'' if keep_summary else 'NOT '}NULL"
        )
        (new,) = cursor.fetchone()
        cursor.execute(self._upsert_sql(keep_summary), [now, now])
        return new, cursor.rowcount - new
