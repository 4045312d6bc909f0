# Written by hand: the exact-title tier's B-tree also holds the id (PostgreSQL only).
#
# The tier is read in id order. With the folded main title alone in the index, a title that
# many books share ("Poems", or "Able" 5,190 times in bench/explain_plans.py's million books)
# was read whole and sorted: 36.8 ms. With (folded main title, id), equal titles sit in id
# order, so a page is the index's first rows: 0.16 ms (EXPLAIN ANALYZE by hand on those books).
# Built CONCURRENTLY: writes go on while it builds on a large catalogue.

from django.db import migrations

# As 0005 wrote it (a migration is history: not imported from later code).
PG_MAIN_TITLE = "books_fold(split_part(split_part(title, '(', 1), ':', 1))"


def _replace(schema_editor, new_index: str, columns: str, old_index: str) -> None:
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(
        f"CREATE INDEX CONCURRENTLY IF NOT EXISTS {new_index} ON books_book ({columns})"
    )
    schema_editor.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {old_index}")
    # The statistics of the index's expression come with the table's ANALYZE only. Without
    # them the planner takes a title for 0.5 % of the books and ANDs in the title phrase's GIN
    # scan: 1.7 ms for the exact tier of a two-word search on 1M books, 0.4 ms with them.
    schema_editor.execute("ANALYZE books_book")


def forwards(apps, schema_editor):
    _replace(schema_editor, "book_main_title_id_idx", f"{PG_MAIN_TITLE}, id", "book_main_title_idx")


def backwards(apps, schema_editor):
    _replace(schema_editor, "book_main_title_idx", PG_MAIN_TITLE, "book_main_title_id_idx")


class Migration(migrations.Migration):
    atomic = False  # CREATE INDEX CONCURRENTLY cannot run in a transaction

    dependencies = [
        ("books", "0006_publication_date_precision"),
    ]

    operations = [migrations.RunPython(forwards, backwards)]
