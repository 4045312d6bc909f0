# Written by hand: the ranked, forgiving search of issue 14 (books/search/), on both databases.
#
# PostgreSQL: the unaccent and pg_trgm extensions (both "trusted": the database's owner may
# create them); two text search configurations that fold accents (books_english stems English
# words, books_simple keeps words as written); the function books_fold() (lower case, no
# accents, punctuation as single spaces); a stored generated column search_document with the
# title (weight A, stemmed and as written), the author (B, as written) and the summary (C,
# stemmed); GIN indexes on the whole document, on its title part and on its title-and-author
# part (the relevance tiers ask each of them); a B-tree on the folded main title (the "exact
# title" tier); the table books_word, every word of four letters or more of the titles and
# authors, folded, kept by statement triggers, with a trigram index (typo tolerance corrects a
# word to its nearest neighbours there). The column is invisible to the model: it is computed
# by PostgreSQL on every write path.
#
# SQLite: an FTS5 table over title, author and summary (porter stems, diacritics removed)
# and one over title and author as written (its vocabulary corrects typos), both kept in sync
# with books_book by triggers, so every write path (API, bulk, admin, import, seed, raw SQL)
# updates them. Written out here, as a migration is history and must not follow later code.

from django.db import migrations

PG_EXTENSIONS = [
    "CREATE EXTENSION IF NOT EXISTS unaccent",
    "CREATE EXTENSION IF NOT EXISTS pg_trgm",
]

# The text of a field as the search reads it: runs of anything but letters and digits are one
# space, so an e-mail address, URL or file path is its words (the parser would keep it whole).
_WORDS = "REGEXP_REPLACE({}, '[^[:alnum:]]+', ' ', 'g')"
_TITLE = _WORDS.format("title")

PG_CONFIGURATIONS = """
CREATE TEXT SEARCH CONFIGURATION books_english (COPY = english);
ALTER TEXT SEARCH CONFIGURATION books_english
    ALTER MAPPING FOR hword, hword_part, word WITH {schema}.unaccent, english_stem;
CREATE TEXT SEARCH CONFIGURATION books_simple (COPY = simple);
ALTER TEXT SEARCH CONFIGURATION books_simple
    ALTER MAPPING FOR hword, hword_part, word WITH {schema}.unaccent, simple;
"""

# unaccent() itself is only STABLE (its dictionary could change): with the dictionary named,
# the wrapper may be IMMUTABLE, which an index expression needs.
PG_FOLD_FUNCTION = """
CREATE FUNCTION books_fold(text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT
AS $$ SELECT pg_catalog.btrim(pg_catalog.regexp_replace(
    pg_catalog.lower({schema}.unaccent('{schema}.unaccent'::regdictionary, $1)),
    '[^[:alnum:]]+', ' ', 'g'
)) $$;
"""

# The main title: before a series note "(Dune Chronicles #1)" or a subtitle ": A Novel".
PG_MAIN_TITLE = "books_fold(split_part(split_part(title, '(', 1), ':', 1))"

# The words typo tolerance may correct to. Inserted in sorted order, so two writers adding
# the same new words lock them in the same order (no deadlock); never deleted (a word of a
# deleted book corrects a typo to a search that finds nothing, as any unknown word does).
PG_VOCABULARY = [
    'CREATE TABLE books_word (word text COLLATE "C" PRIMARY KEY)',
    "CREATE INDEX books_word_trgm_idx ON books_word USING gist (word gist_trgm_ops)",
    """
CREATE FUNCTION books_remember_words() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO books_word (word)
    SELECT DISTINCT word
    FROM new_books, regexp_split_to_table(books_fold(title || ' ' || author), ' ') AS word
    WHERE length(word) >= 4
    ORDER BY word
    ON CONFLICT DO NOTHING;
    RETURN NULL;
END
$$
""",
    "CREATE TRIGGER books_book_words_insert AFTER INSERT ON books_book "
    "REFERENCING NEW TABLE AS new_books FOR EACH STATEMENT EXECUTE FUNCTION books_remember_words()",
    "CREATE TRIGGER books_book_words_update AFTER UPDATE ON books_book "
    "REFERENCING NEW TABLE AS new_books FOR EACH STATEMENT EXECUTE FUNCTION books_remember_words()",
    "INSERT INTO books_word (word) SELECT DISTINCT word FROM books_book, "
    "regexp_split_to_table(books_fold(title || ' ' || author), ' ') AS word "
    "WHERE length(word) >= 4 ORDER BY word",
]

PG_DOCUMENT = f"""
ALTER TABLE books_book ADD COLUMN search_document tsvector GENERATED ALWAYS AS (
    setweight(
        to_tsvector('books_english'::regconfig, {_TITLE})
        || to_tsvector('books_simple'::regconfig, {_TITLE}), 'A'
    )
    || setweight(to_tsvector('books_simple'::regconfig, {_WORDS.format("author")}), 'B')
    || setweight(to_tsvector('books_english'::regconfig, {_WORDS.format("summary")}), 'C')
) STORED
"""

# A GIN index queues new entries in a pending list that every search reads in full until it is
# merged: at the default 4 MB, 10 ms a tier on 100k freshly imported books (1.3 ms merged).
# 256 kB bounds that; bulk loads merge it at the end (books.statistics.analyze_books).
_GIN = "USING gin ({}) WITH (gin_pending_list_limit = 256)"
PG_INDEXES = [
    "DROP INDEX IF EXISTS book_search_idx",
    "CREATE INDEX book_search_idx ON books_book " + _GIN.format("search_document"),
    "CREATE INDEX book_search_title_idx ON books_book "
    + _GIN.format("ts_filter(search_document, '{a}')"),
    "CREATE INDEX book_search_names_idx ON books_book "
    + _GIN.format("ts_filter(search_document, '{a,b}')"),
    f"CREATE INDEX book_main_title_idx ON books_book ({PG_MAIN_TITLE})",
    # A prefix (word:*) is estimated from the most common lexemes: with the default 100 the
    # planner knows too few and mistakes a rare prefix for a common one (see 0003).
    "ALTER TABLE books_book ALTER COLUMN search_document SET STATISTICS 1000",
    "ALTER INDEX book_search_title_idx ALTER COLUMN 1 SET STATISTICS 1000",
    "ALTER INDEX book_search_names_idx ALTER COLUMN 1 SET STATISTICS 1000",
]

PG_REVERSE = [
    "DROP TRIGGER IF EXISTS books_book_words_insert ON books_book",
    "DROP TRIGGER IF EXISTS books_book_words_update ON books_book",
    "DROP FUNCTION IF EXISTS books_remember_words()",
    "DROP TABLE IF EXISTS books_word",
    "DROP INDEX IF EXISTS book_main_title_idx",
    "DROP INDEX IF EXISTS book_search_names_idx",
    "DROP INDEX IF EXISTS book_search_title_idx",
    "DROP INDEX IF EXISTS book_search_idx",
    "ALTER TABLE books_book DROP COLUMN IF EXISTS search_document",
    "DROP FUNCTION IF EXISTS books_fold(text)",
    "DROP TEXT SEARCH CONFIGURATION IF EXISTS books_simple",
    "DROP TEXT SEARCH CONFIGURATION IF EXISTS books_english",
    # 0003's index again.
    """CREATE INDEX book_search_idx ON books_book USING gin (
    to_tsvector('simple'::regconfig, COALESCE(REGEXP_REPLACE(
        title || ' ' || author || ' ' || summary, '[^[:alnum:]]+', ' ', 'g'
    ), ''))
)""",
]

# unicode61 reads superscripts and vulgar fractions ("x²", "½") as parts of words; PostgreSQL's
# [:alnum:] and the search's words (books.search.terms) separate them.
_SEPARATORS = "separators '\u00b2\u00b3\u00b9\u00bc\u00bd\u00be\u2070\u2074\u2075\u2076\u2077\u2078\u2079'"
SQLITE_TABLES = [
    # External content: the text stays in books_book; only the index is stored here.
    "CREATE VIRTUAL TABLE books_book_fts USING fts5(title, author, summary, "
    "content='books_book', content_rowid='id', "
    f"tokenize=\"porter unicode61 remove_diacritics 2 {_SEPARATORS}\")",
    "CREATE VIRTUAL TABLE books_book_words USING fts5(title, author, "
    "content='books_book', content_rowid='id', "
    f"tokenize=\"unicode61 remove_diacritics 2 {_SEPARATORS}\")",
    "CREATE VIRTUAL TABLE books_book_words_vocab USING fts5vocab(books_book_words, 'row')",
]


def _sqlite_triggers() -> list[str]:
    statements = []
    for table, columns in (
        ("books_book_fts", ("title", "author", "summary")),
        ("books_book_words", ("title", "author")),
    ):
        names = ", ".join(columns)
        new = ", ".join(f"new.{c}" for c in columns)
        old = ", ".join(f"old.{c}" for c in columns)
        insert = f"INSERT INTO {table} (rowid, {names}) VALUES (new.id, {new});"
        delete = (
            f"INSERT INTO {table} ({table}, rowid, {names}) VALUES ('delete', old.id, {old});"
        )
        statements += [
            f"CREATE TRIGGER {table}_insert AFTER INSERT ON books_book BEGIN {insert} END",
            f"CREATE TRIGGER {table}_delete AFTER DELETE ON books_book BEGIN {delete} END",
            f"CREATE TRIGGER {table}_update AFTER UPDATE OF {names} ON books_book "
            f"BEGIN {delete} {insert} END",
        ]
        statements.append(f"INSERT INTO {table} ({table}) VALUES ('rebuild')")
    return statements


def _unaccent_schema(schema_editor) -> str:
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(
            "SELECT quote_ident(n.nspname) FROM pg_extension e "
            "JOIN pg_namespace n ON n.oid = e.extnamespace WHERE e.extname = 'unaccent'"
        )
        return cursor.fetchone()[0]


def forwards(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        for statement in PG_EXTENSIONS:
            schema_editor.execute(statement)
        schema = _unaccent_schema(schema_editor)
        schema_editor.execute(PG_CONFIGURATIONS.format(schema=schema))
        schema_editor.execute(PG_FOLD_FUNCTION.format(schema=schema))
        schema_editor.execute(PG_DOCUMENT)
        for statement in PG_INDEXES + PG_VOCABULARY:
            schema_editor.execute(statement)
    elif vendor == "sqlite":
        for statement in SQLITE_TABLES + _sqlite_triggers():
            schema_editor.execute(statement)


def backwards(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        for statement in PG_REVERSE:
            schema_editor.execute(statement)
    elif vendor == "sqlite":
        for table in ("books_book_fts", "books_book_words"):
            for event in ("insert", "delete", "update"):
                schema_editor.execute(f"DROP TRIGGER IF EXISTS {table}_{event}")
        for table in ("books_book_words_vocab", "books_book_words", "books_book_fts"):
            schema_editor.execute(f"DROP TABLE IF EXISTS {table}")


class Migration(migrations.Migration):

    dependencies = [
        ("books", "0004_reader_and_editor_groups"),
    ]

    operations = [
        migrations.RunPython(forwards, backwards, elidable=False),
    ]
