"""The query planner's statistics on the books table, refreshed after a bulk load.

A freshly loaded table has none until autovacuum gets to it (minutes on PostgreSQL, never on
SQLite), and without them the planner guesses: right after importing 100,000 books,
`search=tolkien` took 1.6-3.5 s (a backward scan of the created_at index filtering out every
row) and 10-36 ms after ANALYZE (issue 14). So import_books and seed_books call
analyze_books() when they have written rows. On PostgreSQL it also merges the GIN indexes'
pending lists, which every search otherwise reads in full (10 ms a tier on 100k fresh books).
"""

from django.db import DEFAULT_DB_ALIAS, connections

from books.models import Book
from core.db_instrumentation import expected_slow_queries


def analyze_books(*, using: str = DEFAULT_DB_ALIAS) -> None:
    """Run ANALYZE on the books table (PostgreSQL: pg_statistic and pg_class.reltuples;
    SQLite: sqlite_stat1). PostgreSQL reads a sample (30,000 rows at the default statistics
    target) whatever the table's size; SQLite reads each of the table's indexes whole."""
    connection = connections[using]
    table = connection.ops.quote_name(Book._meta.db_table)
    with expected_slow_queries(), connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {table}")
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT gin_clean_pending_list(i.indexrelid) FROM pg_index i "
                "JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_am a ON a.oid = c.relam "
                "WHERE i.indrelid = %s::regclass AND a.amname = 'gin'",
                [Book._meta.db_table],
            )
