"""The list's indexes exist after migrating, and the database uses them for each query shape.

Both databases have the B-tree indexes; only PostgreSQL has the search's GIN index (migration
0003). Plans are asked for with sequential scans discouraged (PostgreSQL) so that a tiny test
table still shows which index serves a query.
"""

from typing import Any

import pytest
from django.db import connection

from books.filters import BookFilter
from books.models import Book
from books.search import postgres, sqlite
from books.search.terms import parse
from books.tests.factories import BookFactory

pytestmark = pytest.mark.django_db

POSTGRESQL = connection.vendor == "postgresql"
LIST_INDEXES = {
    "book_created_at_id_idx": ["created_at", "id"],
    "book_title_id_idx": ["title", "id"],
    "book_author_id_idx": ["author", "id"],
    "book_published_id_idx": ["publication_date", "id"],
}


def constraints() -> dict[str, dict[str, Any]]:
    with connection.cursor() as cursor:
        return connection.introspection.get_constraints(cursor, Book._meta.db_table)


def plan(params: dict[str, str], *order: str) -> str:
    """The plan of the list's first page for these filters and this order."""
    queryset = BookFilter(params, queryset=Book.objects.all()).qs.order_by(*order)[:21]
    if POSTGRESQL:
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL enable_seqscan = off")  # until the test's rollback
    return str(queryset.explain())


@pytest.mark.parametrize(("name", "columns"), LIST_INDEXES.items())
def test_each_sort_field_has_a_btree_with_id_as_tie_breaker(name: str, columns: list) -> None:
    index = constraints()[name]

    assert index["index"]
    assert index["columns"] == columns


def test_the_author_filter_has_an_index_on_its_upper_case_in_default_order() -> None:
    index = constraints()["book_author_upper_created_idx"]

    assert index["index"]
    if POSTGRESQL:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_get_indexdef('book_author_upper_created_idx'::regclass)")
            (definition,) = cursor.fetchone()
        assert "(upper((author)::text), created_at, id)" in definition


def test_isbn_has_exactly_one_index_and_it_is_unique() -> None:
    on_isbn = {
        name: c for name, c in constraints().items() if c["columns"] == ["isbn"] and not c["check"]
    }

    assert len(on_isbn) == 1, on_isbn  # no varchar_pattern_ops "_like" index beside it
    (isbn,) = on_isbn.values()
    assert isbn["unique"]
    if POSTGRESQL:
        assert "book_isbn_unique" in on_isbn


def test_the_main_title_index_holds_the_id_so_a_shared_title_is_read_in_id_order() -> None:
    # Without the id, a title many books share was read whole and sorted for each page.
    if not POSTGRESQL:  # SQLite's exact-title tier is FTS5 and a Python function: no B-tree
        assert "book_main_title_id_idx" not in constraints()
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_get_indexdef('book_main_title_id_idx'::regclass)")
        (definition,) = cursor.fetchone()
    assert definition.endswith(", ':'::text, 1)), id)"), definition


SEARCH_INDEXES = {
    "book_search_idx": "gin",
    "book_search_title_idx": "gin",
    "book_search_names_idx": "gin",
    "book_main_title_id_idx": "idx",  # Django names a B-tree "idx"
}


def test_the_search_indexes_exist_on_postgresql_and_fts5_tables_on_sqlite() -> None:
    found = {name: c["type"] for name, c in constraints().items() if name in SEARCH_INDEXES}

    if POSTGRESQL:
        assert found == SEARCH_INDEXES
    else:
        assert found == {}
        with connection.cursor() as cursor:
            cursor.execute("SELECT type, name FROM sqlite_master WHERE name LIKE 'books_book_%'")
            objects = set(cursor.fetchall())
        # The triggers keep the FTS5 tables in step with every write (a later migration that
        # rebuilds books_book on SQLite would drop them: this test would say so).
        for table in ("books_book_fts", "books_book_words"):
            assert ("table", table) in objects
            for event in ("insert", "update", "delete"):
                assert ("trigger", f"{table}_{event}") in objects


@pytest.mark.parametrize(
    ("tier", "index"),
    [
        ("exact_title", "book_main_title_id_idx"),
        ("in_title", "book_search_title_idx"),
        ("title_phrase", "book_search_title_idx"),
        ("in_names", "book_search_names_idx"),
        ("anywhere", "book_search_idx"),
    ],
)
def test_each_search_tier_reads_its_index(tier: str, index: str) -> None:
    BookFactory.create_batch(3)
    terms = parse("dragon reborn")
    if not POSTGRESQL:
        # SQLite: every tier asks the FTS5 tables.
        condition = getattr(sqlite, tier)(terms)
        result = str(Book.objects.filter(condition).order_by("id")[:21].explain())
        assert "VIRTUAL TABLE INDEX" in result, result
        return

    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")  # until the test's rollback
        if tier == "exact_title":
            # Its condition includes the title phrase, which the title's GIN index could also
            # serve: without bitmap scans only the main-title B-tree can.
            cursor.execute("SET LOCAL enable_bitmapscan = off")
        else:
            cursor.execute("SET LOCAL enable_indexscan = off")  # not the primary key in id order
    result = str(Book.objects.filter(getattr(postgres, tier)(terms)).order_by("id")[:21].explain())

    assert index in result, result


@pytest.mark.parametrize(
    ("order", "index"),
    [
        (("-created_at", "-id"), "book_created_at_id_idx"),
        (("created_at", "id"), "book_created_at_id_idx"),
        (("title", "id"), "book_title_id_idx"),
        (("-title", "-id"), "book_title_id_idx"),
        (("author", "id"), "book_author_id_idx"),
        (("-publication_date", "-id"), "book_published_id_idx"),
    ],
)
def test_each_ordering_reads_its_index_without_sorting(order: tuple[str, ...], index: str) -> None:
    BookFactory.create_batch(3)

    result = plan({}, *order)

    assert index in result, result
    assert "Sort" not in result, result  # PostgreSQL
    assert "TEMP B-TREE" not in result, result  # SQLite


def test_filters_use_their_indexes() -> None:
    BookFactory.create_batch(3)
    if POSTGRESQL:
        # On a table this small an ordered index read filtering every row costs the same as
        # the filter's own index, and which wins then follows the statistics other tests left
        # (ANALYZE's row counts outlive their rollback): only bitmap scans, which must come
        # from an index on the filtered column, are left to choose from.
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL enable_indexscan = off")

    isbn_plan = plan({"isbn": "9780306406157"}, "-created_at", "-id")
    # SQLite keeps a table's UNIQUE constraint as an automatic index of its own name.
    assert ("book_isbn_unique" if POSTGRESQL else "sqlite_autoindex_books_book") in isbn_plan
    assert "book_published_id_idx" in plan(
        {"published_after": "2000-01-01", "published_before": "2000-12-31"}, "publication_date"
    )
    if POSTGRESQL:
        # iexact is UPPER(author::text) = UPPER(...) here; SQLite's LIKE uses no index.
        assert "book_author_upper_created_idx" in plan({"author": "Ann"}, "-created_at", "-id")


def test_the_typo_vocabulary_follows_every_write_and_finds_neighbours_by_index() -> None:
    """PostgreSQL: books_word holds the folded words (4+ letters) of titles and authors, kept
    by triggers, read nearest first through its trigram index. SQLite: the FTS5 vocabulary of
    books_book_words, kept by the table's triggers."""
    book = BookFactory(title="Dragonflight Chronicles", author="Anne McCaffrey")
    Book.objects.filter(pk=book.pk).update(title="Le Dragon Égaré")
    with connection.cursor() as cursor:
        if POSTGRESQL:
            cursor.execute("SELECT word FROM books_word")
        else:
            cursor.execute("SELECT term FROM books_book_words_vocab")
        words = {word for (word,) in cursor.fetchall()}
        assert {"dragon", "egare", "mccaffrey", "anne"} <= words
        if POSTGRESQL:
            assert "dragonflight" in words  # never deleted: a correction then finds nothing
            cursor.execute("SET LOCAL enable_seqscan = off")
            cursor.execute("EXPLAIN SELECT word FROM books_word ORDER BY word <-> 'dragn' LIMIT 20")
            plan = "\n".join(row for (row,) in cursor.fetchall())
            assert "books_word_trgm_idx" in plan, plan
        else:
            assert "dragonflight" not in words  # external content: the vocabulary follows
