"""Persistent database connections: drop one the server has closed before a request uses it.

Django's CONN_HEALTH_CHECKS asks the server (`SELECT 1`) before the first query of every
request: a round trip each request, a second statement beside a detail read's one. Here the
same question is answered from the socket alone: an idle connection has nothing to read unless
the server has ended it (a restart or pg_terminate_backend sends a FATAL message, then closes
it), so a readable socket means a dead connection, closed now and reopened by the query. One
poll() system call, no round trip (docs/performance.md, "Where the time goes").
"""

import select
from typing import Any

from django.core.signals import request_started
from django.db import connections


def closed_by_server(connection: Any) -> bool:
    """Whether a psycopg connection, idle between requests, was ended by the server."""
    if connection.closed or connection.broken:
        return True
    try:
        poller = select.poll()
        poller.register(connection.fileno(), select.POLLIN)
        return bool(poller.poll(0))
    except (OSError, ValueError):  # no socket left to ask
        return True


def drop_connections_closed_by_server(**kwargs: Any) -> None:
    """request_started receiver: close this thread's PostgreSQL connections the server ended."""
    for wrapper in connections.all(initialized_only=True):
        if wrapper.vendor != "postgresql" or wrapper.connection is None:
            continue
        if wrapper.in_atomic_block:  # a test's transaction, or a caller's: never cut it
            continue
        if closed_by_server(wrapper.connection):
            wrapper.close()


def install() -> None:
    request_started.connect(drop_connections_closed_by_server, dispatch_uid=__name__)
