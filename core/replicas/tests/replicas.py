"""Read replicas for tests: a second connection to the test database under a replica's alias,
an unreachable one, a health verdict the test chooses, and the SQL each alias ran.

A test adds its replica after the test database exists, so the copy of the primary's
settings names the test database: the "replica" sees exactly what the primary committed.
"""

import copy
import os
import threading
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from typing import Any
from unittest import mock

from django.db import connections
from django.db.backends.base.base import BaseDatabaseWrapper

from core.replicas.health import ReplicaHealth

#: PostgreSQL settings for a server that is not there: port 1 refuses at once.
UNREACHABLE_POSTGRESQL = {
    "ENGINE": "django.db.backends.postgresql",
    "NAME": "x",
    "USER": "x",
    "PASSWORD": "",
    "HOST": "127.0.0.1",
    "PORT": "1",
    "OPTIONS": {"connect_timeout": 1},
}


@contextmanager
def replica_alias(alias: str, database: dict[str, Any] | None = None) -> Iterator[None]:
    """`alias` in DATABASES for the block: `database`, or a copy of the primary's settings."""
    if database is None:
        database = copy.deepcopy(connections["default"].settings_dict)
    else:
        database = {**copy.deepcopy(connections["default"].settings_dict), **database}
    database["TEST"] = {"MIRROR": "default"}
    # connections.settings is settings.DATABASES, as core.replicas.health reads it.
    connections.settings[alias] = database
    try:
        with mock.patch.object(
            BaseDatabaseWrapper, "ensure_connection", _allowing(alias, _ensure_connection())
        ):
            yield
    finally:
        if hasattr(connections._connections, alias):
            connections[alias].close()
            delattr(connections._connections, alias)
        del connections.settings[alias]


def _ensure_connection() -> Callable[[BaseDatabaseWrapper], None]:
    return BaseDatabaseWrapper.ensure_connection  # type: ignore[return-value]


def _allowing(
    alias: str, ensure_connection: Callable[[BaseDatabaseWrapper], None]
) -> Callable[[BaseDatabaseWrapper], None]:
    """ensure_connection that lets `alias` connect, in any thread.

    Django's test case refuses to connect an alias it did not know when the test began (it
    names its databases up front); the replica is added later, and is the test database.
    """

    def ensure(connection: BaseDatabaseWrapper) -> None:
        if connection.alias != alias:
            ensure_connection(connection)
        elif connection.connection is None:  # Django's own, for a connection outside a block
            with connection.wrap_database_errors:
                connection.connect()

    return ensure


class FixedHealth:
    """Stands in for core.replicas.health.ReplicaHealth: the replicas the test says are up."""

    def __init__(self, *healthy: str) -> None:
        self.up = tuple(healthy)
        self.marked_down: list[str] = []

    def healthy(self) -> tuple[str, ...]:
        return self.up

    def mark_down(self, alias: str) -> None:
        self.marked_down.append(alias)
        self.up = tuple(name for name in self.up if name != alias)


def started_health(*healthy: str, max_lag: float = 2.0) -> ReplicaHealth:
    """A real ReplicaHealth that believes `healthy` are up, by a verdict just made (trusted
    for three hours), and starts no checker thread."""
    health = ReplicaHealth(healthy, max_lag=max_lag, interval=3600)
    health._healthy = tuple(healthy)
    health._verdict_at = health.clock()
    health._started_in_pid = os.getpid()
    return health


def stop_checker_threads(health: ReplicaHealth) -> None:
    """Stop `health`'s background checker and wait for it to close its connections."""
    health.stop()
    for thread in threading.enumerate():
        if thread.name == "replica-health":
            thread.join(timeout=10)
            assert not thread.is_alive(), "the replica checker did not stop"


class QueryLog:
    """The SQL run on each database alias while the log was open."""

    def __init__(self) -> None:
        self.by_alias: dict[str, list[str]] = defaultdict(list)

    def on(self, alias: str) -> list[str]:
        return self.by_alias.get(alias, [])

    def book_reads(self, alias: str) -> list[str]:
        """The SELECTs from the books table on `alias`."""
        return [sql for sql in self.on(alias) if sql.startswith("SELECT") and "books_book" in sql]

    def clear(self) -> None:
        self.by_alias.clear()


@contextmanager
def queries_on(*aliases: str) -> Iterator[QueryLog]:
    """Record the SQL sent on each of `aliases` (unlike CaptureQueriesContext, opening no
    connection and unaffected by the test client resetting the query log per request)."""
    log = QueryLog()

    def recorder(alias: str) -> Callable[..., Any]:
        def record(execute: Callable[..., Any], sql: str, *args: Any) -> Any:
            log.by_alias[alias].append(sql.lstrip())
            return execute(sql, *args)

        return record

    with ExitStack() as stack:
        for alias in aliases:
            stack.enter_context(connections[alias].execute_wrapper(recorder(alias)))
        yield log
