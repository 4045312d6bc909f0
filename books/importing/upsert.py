"""Writing validated rows to the books table in batches: the importer's one write path.

Each batch, in one transaction:

1. goes into a temporary staging table (COPY on PostgreSQL, executemany on SQLite);
2. is checked against a temporary table of the ISBNs seen so far in the run, kept by the
   database so the Python process's memory does not grow with the file: a row whose ISBN an
   earlier row had is taken out and reported;
3. is written: the stored books the batch changes are read and locked (SELECT ... FOR
   UPDATE on PostgreSQL; SQLite's import transaction holds the only write lock), books with a
   new ISBN are INSERTed, and the locked books UPDATEd, which bumps the version (the API's
   ETag) and updated_at. The values read under the lock are the ones the UPDATE replaces, so
   the change report (BookChange: line, ISBN, field, old → new) is exact. A row identical to
   its stored book is not written (nor locked) at all. While batches hold only new books (a
   first load) the INSERT is tried without looking the ISBNs up first.

Why not one INSERT ... ON CONFLICT DO UPDATE: it costs every row a speculative insertion
(about a third more time for new books), locks (so writes) every existing row it meets, even
those its WHERE then leaves alone, and cannot return the values it replaced. If another
writer adds one of the ISBNs between the lookup and the INSERT, the INSERT fails on the unique
index, is rolled back to its savepoint, and the batch is looked up again: the book it met is
then read, locked and updated like the others.

--insert-only (insert_only) never writes a stored book: rows whose ISBN is stored are counted
and reported as skipped, with what they would have changed. --dry-run runs the same lookups
without locks or writes, so its report is the one a real run would give.

Every write the importer makes goes through BatchWriter.write(), which also tells the read
cache (books.read_cache.books_changed) which books changed, next to the upsert.

The SQL below is assembled from the model's own table and column names (quoted) and fixed
text; every value travels as a parameter or through COPY, hence the S608 waivers.
"""

import contextlib
import json
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
    #: What _stage() loads: COPY text on PostgreSQL, the rows themselves on SQLite.
    payload: Any


class FieldChange(NamedTuple):
    field: str
    old: str
    new: str


#: What happened to a stored book a row names: its values were replaced, or (insert_only)
#: left alone.
UPDATED = "updated"
SKIPPED = "skipped"


class BookChange(NamedTuple):
    """A stored book a row changed (or, skipped, would have): each field that differs."""

    line: int
    isbn: str
    action: str
    fields: tuple[FieldChange, ...]


class BatchResult(NamedTuple):
    inserted: int
    updated: int
    unchanged: int
    duplicates: list[Duplicate]
    #: Stored books updated (or skipped), in line order.
    changes: list[BookChange] = []
    skipped: int = 0


#: How often a batch is looked up again when other writers keep storing its new ISBNs.
_LOOKUP_ATTEMPTS = 5


def _shown(value: object) -> str:
    """A stored or staged value as the change report shows it (dates as YYYY-MM-DD)."""
    return value.isoformat() if hasattr(value, "isoformat") else str(value)


class ImportConflict(Exception):
    """Other writers kept storing the batch's new ISBNs between its lookup and its INSERT."""


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


def batch_writer_for(
    connection: BaseDatabaseWrapper, *, dry_run: bool = False, insert_only: bool = False
) -> "BatchWriter":
    """The BatchWriter for the connection's database (PostgreSQL or SQLite)."""
    writers: dict[str, type[BatchWriter]] = {
        "postgresql": PostgresBatchWriter,
        "sqlite": SqliteBatchWriter,
    }
    if connection.vendor not in writers:
        raise UnsupportedDatabase(
            f"import_books supports PostgreSQL and SQLite, not {connection.vendor}."
        )
    return writers[connection.vendor](connection, dry_run=dry_run, insert_only=insert_only)


class BatchWriter(ABC):
    """Upserts batches of staged rows by ISBN; use as a context manager around the import."""

    #: Column type of the staging table's publication_date.
    date_type = "date"
    #: New books are inserted in ISBN order: concurrent imports then meet in one order.
    isbn_order = "staged.isbn"

    def __init__(
        self, connection: BaseDatabaseWrapper, *, dry_run: bool = False, insert_only: bool = False
    ) -> None:
        self.connection = connection
        self.dry_run = dry_run
        self.insert_only = insert_only
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
        return StagedBatch(len(rows), self._payload(rows))

    def _payload(self, rows: Sequence[StagedRow]) -> Any:
        return rows

    def write(self, batch: StagedBatch) -> BatchResult:
        """Write a prepared batch in one transaction (dry_run: only find what would change).

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
            now = self.connection.ops.adapt_datetimefield_value(timezone.now())
            if self._expect_new and not self.dry_run:
                inserted = self._insert(cursor, now, look_up=False)
                if inserted is not None:
                    if inserted:
                        read_cache.books_changed({}, using=self.connection.alias)
                    return BatchResult(inserted, 0, staged - inserted, duplicates)
            inserted, changes = self._write_looked_up(cursor, now)
            fences = {}
            if changes and not (self.dry_run or self.insert_only):
                fences = self._update(cursor, now, [change[0] for change in changes])
            if (inserted or fences) and not self.dry_run:
                read_cache.books_changed(fences, using=self.connection.alias)
        self._expect_new = inserted == staged
        book_changes = [change[1] for change in changes]
        if self.insert_only:
            skipped = len(book_changes)
            return BatchResult(inserted, 0, 0, duplicates, book_changes, skipped)
        updated = len(book_changes)
        return BatchResult(inserted, updated, staged - inserted - updated, duplicates, book_changes)

    def _write_looked_up(self, cursor: Any, now: Any) -> tuple[int, list[tuple[int, BookChange]]]:
        """Look the batch's ISBNs up: lock (and read) the stored books it changes, INSERT the
        new ones. (inserted, [(book id, change)] in line order).

        If another writer stores one of the new ISBNs in between, the INSERT is refused (and
        rolled back to its savepoint) and the batch is looked up again: that book is then one
        to update. Dry run: the same lookups, no lock, nothing written.
        """
        lock = not (self.dry_run or self.insert_only)
        for _attempt in range(_LOOKUP_ATTEMPTS):
            changes = self._stored_changes(cursor, lock=lock, only_changed=not self.insert_only)
            new = self._count_new(cursor)
            if self.dry_run or not new:
                return new, changes
            inserted = self._insert(cursor, now, look_up=True)
            if inserted is not None:
                return inserted, changes
        raise ImportConflict(
            f"Other writers kept adding this batch's books ({_LOOKUP_ATTEMPTS} attempts); "
            "run the import again."
        )

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

    def _stored_book_join(self, *, where: str = "", lock: bool = False) -> str:
        """Joins each staged row to its stored book (if any, and if ``where`` holds), by ISBN,
        as ``book``. No lock here: SQLite's import transaction is the only writer."""
        condition = f" AND ({where})" if where else ""
        return (
            f"LEFT JOIN {self._table} book ON book.{self._column['isbn']} = staged.isbn{condition}"
        )

    def _differs(self) -> str:
        """SQL: the staged row would change its stored ``book`` (a NULL keeps the stored
        value: a file without a summary column keeps the stored summaries)."""
        return " OR ".join(
            f"(staged.{name} IS NOT NULL AND book.{self._column[name]} <> staged.{name})"
            for name in _WRITTEN_FIELDS
        )

    def _stored_changes(
        self, cursor: Any, *, lock: bool, only_changed: bool
    ) -> list[tuple[int, BookChange]]:
        """The stored books the staged rows name (only_changed: those they change), with
        each differing field, old → new; ``lock``: locked until the batch commits."""
        column = self._column
        values = ", ".join(f"book.{column[name]}, staged.{name}" for name in _WRITTEN_FIELDS)
        join = self._stored_book_join(where=self._differs() if only_changed else "", lock=lock)
        cursor.execute(
            f"SELECT staged.line, staged.isbn, book.{column['id']}, {values} "  # noqa: S608
            # Staged rows in ISBN order: concurrent imports lock the books they share in one
            # order (no deadlock).
            f"FROM (SELECT * FROM {STAGING_TABLE} staged ORDER BY {self.isbn_order}) staged "
            f"{join} WHERE book.{column['id']} IS NOT NULL"
        )
        action = SKIPPED if self.insert_only else UPDATED
        changes = []
        for line, isbn, book_id, *pairs in cursor.fetchall():
            fields = tuple(
                FieldChange(name, _shown(old), _shown(new))
                for name, old, new in zip(_WRITTEN_FIELDS, pairs[::2], pairs[1::2], strict=True)
                if new is not None and _shown(old) != _shown(new)
            )
            changes.append((int(book_id), BookChange(int(line), isbn, action, fields)))
        changes.sort(key=lambda change: change[1].line)
        return changes

    def _count_new(self, cursor: Any) -> int:
        cursor.execute(
            f"SELECT count(*) FROM {STAGING_TABLE} staged {self._stored_book_join()} "  # noqa: S608
            f"WHERE book.{self._column['id']} IS NULL"
        )
        return int(cursor.fetchone()[0])

    def _insert(self, cursor: Any, now: Any, *, look_up: bool) -> int | None:
        """INSERT the staged books (``look_up``: those whose ISBN is not stored); how many.

        None, and nothing written, if the unique index refuses a row: its ISBN is stored.
        """
        column = self._column
        new_only = f"{self._stored_book_join()} WHERE book.{column['id']} IS NULL"
        fields = {field.name: field for field in Book._meta.concrete_fields}
        values, parameters = [], []
        for name in _WRITTEN_FIELDS:
            field = fields[name]
            if field.has_default():  # a column the file may leave out (NULL): the default
                values.append(f"COALESCE(staged.{name}, %s)")
                parameters.append(field.get_default())
            else:
                values.append(f"staged.{name}")
        try:
            with transaction.atomic(using=self.connection.alias):
                cursor.execute(
                    f"INSERT INTO {self._table} ({self._insert_columns}) "  # noqa: S608
                    f"SELECT staged.isbn, {', '.join(values)}, %s, %s, 1 "
                    f"FROM {STAGING_TABLE} staged "
                    f"{new_only if look_up else ''} ORDER BY {self.isbn_order}",
                    [*parameters, now, now],
                )
                return int(cursor.rowcount)
        except IntegrityError:
            return None

    def _update(self, cursor: Any, now: Any, book_ids: list[int]) -> dict[int, int]:
        """UPDATE the locked books from their staged rows: id → the version before (what the
        read cache fences)."""
        column, table = self._column, self._table
        assignments = ", ".join(
            [
                f"{column[name]} = COALESCE(staged.{name}, {table}.{column[name]})"
                for name in _WRITTEN_FIELDS
            ]
            + [
                f"{column['updated_at']} = %s",
                f"{column['version']} = {table}.{column['version']} + 1",
            ]
        )
        ids_sql, ids = self._among(book_ids)
        cursor.execute(
            f"UPDATE {table} SET {assignments} FROM {STAGING_TABLE} staged "  # noqa: S608
            f"WHERE {table}.{column['isbn']} = staged.isbn AND {table}.{column['id']} {ids_sql} "
            f"RETURNING {table}.{column['id']}, {table}.{column['version']}",
            [now, ids],
        )
        return {int(book_id): int(version) - 1 for book_id, version in cursor.fetchall()}

    @abstractmethod
    def _among(self, book_ids: list[int]) -> tuple[str, Any]:
        """SQL ``IN`` these ids, and its one parameter."""


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

    def _stored_book_join(self, *, where: str = "", lock: bool = False) -> str:
        # A LATERAL subquery with LIMIT is always a lookup in the ISBN index per staged row;
        # a plain join may be planned as a hash join that reads the whole books table for
        # every batch (its statistics lag far behind a running import). The condition and
        # the lock are inside it, so only the books the batch changes are locked.
        condition = f" AND ({where})" if where else ""
        return (
            f"LEFT JOIN LATERAL (SELECT * FROM {self._table} book "  # noqa: S608
            f"WHERE book.{self._column['isbn']} = staged.isbn{condition} LIMIT 1"
            f"{' FOR UPDATE' if lock else ''}) book ON true"
        )

    def _among(self, book_ids: list[int]) -> tuple[str, Any]:
        return "= ANY(%s)", book_ids

    def _take_out_duplicates(self, cursor: Any) -> list[Duplicate]:
        first_line = f"SELECT line FROM {SEEN_TABLE} WHERE isbn = CAST(staged.isbn AS bigint)"  # noqa: S608
        cursor.execute(
            f"DELETE FROM {STAGING_TABLE} staged WHERE line <> ({first_line}) "  # noqa: S608
            f"RETURNING line, isbn, ({first_line})"
        )
        return sorted(Duplicate(*row) for row in cursor.fetchall())


class SqliteBatchWriter(BatchWriter):
    """executemany into the staging table. SQLite has one writer at a time, and the batch's
    transaction (BEGIN IMMEDIATE, see settings) is it: what it reads stays as read."""

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

    def _among(self, book_ids: list[int]) -> tuple[str, Any]:
        # One parameter whatever the number of ids (SQLite caps a statement's parameters).
        return "IN (SELECT value FROM json_each(%s))", json.dumps(book_ids)
