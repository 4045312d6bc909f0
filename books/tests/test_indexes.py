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


def test_the_search_index_exists_on_postgresql_only() -> None:
    search = constraints().get("book_search_idx")

    if POSTGRESQL:
        assert search is not None
        assert search["type"] == "gin"
    else:
        assert search is None


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

    isbn_plan = plan({"isbn": "9780306406157"}, "-created_at", "-id")
    # SQLite keeps a table's UNIQUE constraint as an automatic index of its own name.
    assert ("book_isbn_unique" if POSTGRESQL else "sqlite_autoindex_books_book") in isbn_plan
    assert "book_published_id_idx" in plan(
        {"published_after": "2000-01-01", "published_before": "2000-12-31"}, "publication_date"
    )
    if POSTGRESQL:
        # iexact is UPPER(author::text) = UPPER(...) here; SQLite's LIKE uses no index.
        assert "book_author_upper_created_idx" in plan({"author": "Ann"}, "-created_at", "-id")
        assert "book_search_idx" in plan({"search": "drag o'neil"}, "-created_at", "-id")
