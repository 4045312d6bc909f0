"""Database metrics and the slow-query log, for every connection, whatever the backend.

Each connection gets a `QueryInstrumentation` execute wrapper (see Django's "Database
instrumentation") when it connects. It counts and times every statement into the
django-prometheus database metrics (django_db_execute_total, django_db_query_duration_seconds,
django_db_errors_total; new connections in django_db_new_connections_total) and logs a
`slow_query` warning for a statement slower than SLOW_QUERY_MS.

Wrapping at the connection rather than through django-prometheus's database engines keeps the
ENGINE setting as django-environ makes it, and gives the metric and the log one measurement.
"""

import contextlib
import contextvars
import time
from collections.abc import Callable, Iterator, Sized
from typing import Any

import structlog
from django.conf import settings
from django.db import connections
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.backends.signals import connection_created
from django_prometheus.db.metrics import (
    connections_total,
    errors_total,
    execute_many_total,
    execute_total,
    query_duration_seconds,
)

# Longer statements (a bulk insert) are cut: the log line names the statement, not its data.
SQL_LOG_MAX_CHARS = 1000

logger = structlog.stdlib.get_logger(__name__)

# Set while work runs whose statements are slow by design (a bulk import's batches).
_expected_slow: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "expected_slow_queries", default=False
)


@contextlib.contextmanager
def expected_slow_queries() -> Iterator[None]:
    """Within this block, statements are still counted and timed but not logged as slow:
    a 10,000-row batch taking 200 ms is the plan, not an incident."""
    token = _expected_slow.set(True)
    try:
        yield
    finally:
        _expected_slow.reset(token)


class QueryInstrumentation:
    """An execute wrapper that counts, times and, when slow, logs each statement.

    Only the SQL text is logged, never its parameters: they carry user data.
    """

    def __init__(self, *, alias: str, vendor: str) -> None:
        self.alias = alias
        self.vendor = vendor

    def __call__(
        self,
        execute: Callable[..., Any],
        sql: str,
        params: Any,
        many: bool,
        context: dict[str, Any],
    ) -> Any:
        # executemany runs one statement per parameter set; a generator's length is unknown.
        statements = len(params) if many and isinstance(params, Sized) else 1
        execute_total.labels(self.alias, self.vendor).inc(statements)
        if many:
            execute_many_total.labels(self.alias, self.vendor).inc(statements)
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        except Exception as error:
            errors_total.labels(self.alias, self.vendor, type(error).__name__).inc()
            raise
        finally:
            duration = time.perf_counter() - started
            query_duration_seconds.labels(self.alias, self.vendor).observe(duration)
            self._log_if_slow(sql, duration * 1000, many)

    def _log_if_slow(self, sql: str, duration_ms: float, many: bool) -> None:
        threshold_ms = settings.SLOW_QUERY_MS
        if duration_ms > threshold_ms and not _expected_slow.get():
            logger.warning(
                "slow_query",
                sql=str(sql)[:SQL_LOG_MAX_CHARS],
                duration_ms=round(duration_ms, 2),
                threshold_ms=threshold_ms,
                alias=self.alias,
                many=many,
            )


def instrument_connection(connection: BaseDatabaseWrapper) -> None:
    """Put a QueryInstrumentation around the connection's statements, once.

    It goes first in execute_wrappers: `connection.execute_wrapper()` removes the wrapper it
    added by popping the last one, so ours must never be last, or a connection opened inside
    such a block would lose ours and keep the caller's.
    """
    if any(isinstance(wrapper, QueryInstrumentation) for wrapper in connection.execute_wrappers):
        return
    alias, vendor = connection.alias, connection.vendor
    # The statement series from the first connection on, at 0 until a statement runs.
    for metric in (execute_total, execute_many_total, query_duration_seconds):
        metric.labels(alias, vendor)
    connection.execute_wrappers.insert(0, QueryInstrumentation(alias=alias, vendor=vendor))


def _on_connection_created(
    sender: type[BaseDatabaseWrapper], connection: BaseDatabaseWrapper, **kwargs: Any
) -> None:
    connections_total.labels(connection.alias, connection.vendor).inc()
    instrument_connection(connection)


def install() -> None:
    """Instrument every connection from now on, and those this thread already holds."""
    connection_created.connect(_on_connection_created, dispatch_uid=__name__)
    for connection in connections.all(initialized_only=True):
        instrument_connection(connection)
