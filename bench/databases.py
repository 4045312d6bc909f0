"""The benchmark's databases: created fresh, loaded with the same books, dropped at the end.

Only databases named ``bench...`` are ever created or dropped, and only Redis databases
other than 0 are emptied, so a stray DATABASE_URL or REDIS_URL cannot cost anyone data.
"""

import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import psycopg
from psycopg import sql

from bench.data import FIELDS, read_catalogue

BENCH_DATABASE_PREFIX = "bench"
_COPY_COLUMNS = sql.SQL(", ").join(sql.Identifier(name) for name in FIELDS)


@dataclass(frozen=True)
class IdRange:
    low: int
    high: int
    count: int


def database_name(url: str) -> str:
    name = str(psycopg.conninfo.conninfo_to_dict(url).get("dbname") or "")
    if not name.startswith(BENCH_DATABASE_PREFIX):
        raise ValueError(
            f"the benchmark creates and drops its databases: {name!r} must start with "
            f"{BENCH_DATABASE_PREFIX!r}"
        )
    return name


def with_database(url: str, name: str) -> str:
    """``url`` with another database name."""
    parts = urlsplit(url)
    return parts._replace(path="/" + name).geturl()


def _maintenance(url: str) -> str:
    return psycopg.conninfo.make_conninfo(url, dbname="postgres")


def ensure_database(url: str) -> None:
    """Create the database if it does not exist (connecting to the server's 'postgres')."""
    name = psycopg.conninfo.conninfo_to_dict(url).get("dbname")
    with psycopg.connect(_maintenance(url), autocommit=True) as connection:
        exists = connection.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", [name]
        ).fetchone()
        if not exists:
            connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(str(name))))


def recreate_database(url: str) -> None:
    """Drop the database if it exists (closing its connections) and create it empty."""
    drop_database(url)
    with psycopg.connect(_maintenance(url), autocommit=True) as connection:
        connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(database_name(url))))


def drop_database(url: str) -> None:
    name = database_name(url)
    with psycopg.connect(_maintenance(url), autocommit=True) as connection:
        connection.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


def server_version(url: str) -> str:
    with psycopg.connect(url) as connection:
        row = connection.execute("SHOW server_version").fetchone()
    return str(row[0]) if row else "?"


def copy_books(url: str, csv_path: Path, table: str = "books_book") -> float:
    """COPY the catalogue into ``table``; the seconds it took."""
    started = time.perf_counter()
    statement = sql.SQL("COPY {} ({}) FROM STDIN (FORMAT csv, HEADER true)").format(
        sql.Identifier(table), _COPY_COLUMNS
    )
    with (
        psycopg.connect(url, autocommit=True) as connection,
        connection.cursor() as cursor,
        csv_path.open("rb") as file,
        cursor.copy(statement) as copy,
    ):
        while chunk := file.read(1 << 20):
            copy.write(chunk)
    return time.perf_counter() - started


def vacuum_analyze(url: str, table: str = "books_book") -> None:
    """Leave the table as autovacuum would, rather than have autovacuum start mid-run."""
    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute(sql.SQL("VACUUM ANALYZE {}").format(sql.Identifier(table)))


def id_range(url: str, table: str = "books_book") -> IdRange:
    with psycopg.connect(url) as connection:
        row = connection.execute(
            sql.SQL("SELECT min(id), max(id), count(*) FROM {}").format(sql.Identifier(table))
        ).fetchone()
    assert row is not None
    return IdRange(int(row[0] or 0), int(row[1] or 0), int(row[2]))


def load_sqlite(path: Path, csv_path: Path, table: str = "books_book") -> float:
    """Insert the catalogue into an (already migrated) SQLite file in one transaction."""
    started = time.perf_counter()
    connection = sqlite3.connect(path)
    try:
        with connection:
            connection.executemany(
                f"INSERT INTO {table} ({', '.join(FIELDS)}) VALUES (?, ?, ?, ?, ?)",  # noqa: S608 - our own names
                read_catalogue(csv_path),
            )
    finally:
        connection.close()
    return time.perf_counter() - started


def sqlite_id_range(path: Path, table: str = "books_book") -> IdRange:
    connection = sqlite3.connect(path)
    try:
        low, high, count = connection.execute(
            f"SELECT min(id), max(id), count(*) FROM {table}"  # noqa: S608 - our own name
        ).fetchone()
    finally:
        connection.close()
    return IdRange(int(low or 0), int(high or 0), int(count))


def flush_redis(url: str) -> None:
    """Empty the Redis database of ``url`` (never database 0)."""
    import redis

    client = redis.Redis.from_url(url)
    database = int(client.connection_pool.connection_kwargs.get("db", 0))
    if database == 0:
        raise ValueError("REDIS_URL must name a database other than 0 for the benchmark")
    try:
        client.flushdb()
    finally:
        client.close()
