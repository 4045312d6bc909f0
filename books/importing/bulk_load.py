"""A first load into an empty books table: one transaction, the table locked, its secondary
indexes dropped before the rows go in and built once after.

Why: every book entering the list's B-trees, the search's GIN indexes and the main-title index
one at a time costs far more than building each index once over the loaded table (a sort for a
B-tree, with parallel workers; one pass for a GIN). Measured on PostgreSQL, 100,000 books:
33.7 s into the indexed table, 10.1 s without its secondary indexes (docs/import.md).

How it stays correct:

- Only for an empty table, checked again under the lock: no stored book can be changed, and
  every row the import writes is new (the batches still go through BatchWriter, so the rules,
  duplicates, versions, updated_at, the vocabulary trigger and the read cache are the same).
- The unique indexes (primary key, ISBN) stay: the table's rules hold throughout.
- One transaction, with the table locked (PostgreSQL: ACCESS EXCLUSIVE, which DROP INDEX needs
  anyway; SQLite: the write lock of BEGIN IMMEDIATE). Other sessions never see the table
  without its indexes: the API's reads and writes of books wait until the load commits, then
  see all of it. A writer that waited is not lost: it runs after (a book it creates with an
  ISBN the file had is refused as a duplicate, as at any other time). If the import fails,
  everything rolls back, the indexes too: the table is empty again.
- The indexes are made again from the definitions the database gave (pg_get_indexdef, or
  SQLite's sqlite_master), with their per-column statistics targets, so a later migration's
  index is kept as it is.
"""

import contextlib
from collections.abc import Iterator
from typing import NamedTuple

from django.db import transaction
from django.db.backends.base.base import BaseDatabaseWrapper

from books.models import Book
from core.db_instrumentation import expected_slow_queries

#: For the index builds (this transaction only): a B-tree sorts in memory up to this, a GIN
#: index gathers its entries in it. The server's default (64 MB) spills 1,000,000 books to disk.
MAINTENANCE_WORK_MEM = "256MB"
#: Workers a B-tree build may use beside its own process (PostgreSQL; GIN builds use none).
PARALLEL_WORKERS = 2


class SecondaryIndex(NamedTuple):
    name: str
    definition: str
    #: (column number, statistics target) set on the index's columns (ALTER INDEX ...).
    statistics: tuple[tuple[int, int], ...] = ()


def books_table_is_empty(connection: BaseDatabaseWrapper) -> bool:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT 1 FROM {_table(connection)} LIMIT 1")  # noqa: S608
        return cursor.fetchone() is None


@contextlib.contextmanager
def bulk_load(connection: BaseDatabaseWrapper, *, enabled: bool = True) -> Iterator[bool]:
    """Around an import: True (one transaction, indexes dropped, rebuilt at the end) if
    ``enabled`` and the books table is empty, else False (nothing done)."""
    if not enabled or not books_table_is_empty(connection):
        yield False
        return
    with contextlib.ExitStack() as stack:
        stack.enter_context(transaction.atomic(using=connection.alias))
        _lock(connection)
        if not books_table_is_empty(connection):  # a book came in before the lock
            stack.close()  # ends the transaction (nothing written), so the lock
            yield False
            return
        indexes = secondary_indexes(connection)
        with connection.cursor() as cursor:
            for index in indexes:
                cursor.execute(f"DROP INDEX {connection.ops.quote_name(index.name)}")
        yield True
        _build(connection, indexes)


def secondary_indexes(connection: BaseDatabaseWrapper) -> list[SecondaryIndex]:
    """The books table's indexes that enforce nothing (not unique), as the database has them."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT c.relname, pg_get_indexdef(i.indexrelid), "
                "ARRAY(SELECT ARRAY[a.attnum::int, a.attstattarget::int] FROM pg_attribute a "
                "WHERE a.attrelid = i.indexrelid AND a.attstattarget > 0 ORDER BY a.attnum) "
                "FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
                "WHERE i.indrelid = %s::regclass AND NOT i.indisunique ORDER BY c.relname",
                [Book._meta.db_table],
            )
            return [
                SecondaryIndex(name, definition, tuple((int(n), int(t)) for n, t in targets))
                for name, definition, targets in cursor.fetchall()
            ]
        cursor.execute(f"PRAGMA index_list({_table(connection)})")
        unique = {row[1] for row in cursor.fetchall() if row[2]}
        cursor.execute(
            "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = %s "
            "AND sql IS NOT NULL ORDER BY name",
            [Book._meta.db_table],
        )
        return [SecondaryIndex(name, sql) for name, sql in cursor.fetchall() if name not in unique]


def _table(connection: BaseDatabaseWrapper) -> str:
    return connection.ops.quote_name(str(Book._meta.db_table))


def _lock(connection: BaseDatabaseWrapper) -> None:
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(f"LOCK TABLE {_table(connection)} IN ACCESS EXCLUSIVE MODE")
    # SQLite: the transaction began IMMEDIATE (settings), so it holds the one write lock; the
    # DROP INDEX takes the rest.


def _build(connection: BaseDatabaseWrapper, indexes: list[SecondaryIndex]) -> None:
    with expected_slow_queries(), connection.cursor() as cursor:
        if connection.vendor == "postgresql" and indexes:
            cursor.execute(f"SET LOCAL maintenance_work_mem = '{MAINTENANCE_WORK_MEM}'")
            cursor.execute(f"SET LOCAL max_parallel_maintenance_workers = {PARALLEL_WORKERS}")
        for index in indexes:
            cursor.execute(index.definition)
            for column, target in index.statistics:
                cursor.execute(
                    f"ALTER INDEX {connection.ops.quote_name(index.name)} "
                    f"ALTER COLUMN {int(column)} SET STATISTICS {int(target)}"
                )
