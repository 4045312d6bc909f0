"""core.db_connections: a persistent connection the server ended is replaced before use."""

import socket
import time
from typing import Any

import psycopg
import pytest
from django.db import connection
from rest_framework.test import APIClient

from books.tests.factories import BookFactory
from core.db_connections import closed_by_server


class _SocketConnection:
    """Enough of a psycopg connection for closed_by_server: one end of a socket pair."""

    closed = False
    broken = False

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock

    def fileno(self) -> int:
        return self.sock.fileno()


@pytest.fixture
def socket_pair() -> Any:
    ours, servers = socket.socketpair()
    yield ours, servers
    ours.close()
    servers.close()


def test_an_idle_connection_with_nothing_to_read_is_kept(socket_pair: Any) -> None:
    ours, _ = socket_pair

    assert closed_by_server(_SocketConnection(ours)) is False


def test_a_connection_the_server_wrote_to_while_idle_is_dropped(socket_pair: Any) -> None:
    ours, servers = socket_pair
    servers.sendall(b"E terminating connection due to administrator command")

    assert closed_by_server(_SocketConnection(ours)) is True


def test_a_connection_the_server_closed_is_dropped(socket_pair: Any) -> None:
    ours, servers = socket_pair
    servers.close()

    assert closed_by_server(_SocketConnection(ours)) is True


def test_a_connection_psycopg_knows_is_broken_is_dropped(socket_pair: Any) -> None:
    ours, _ = socket_pair
    broken = _SocketConnection(ours)
    broken.broken = True

    assert closed_by_server(broken) is True


@pytest.mark.django_db(transaction=True)
def test_a_request_after_the_server_ended_the_connection_is_answered() -> None:
    """pg_terminate_backend (what a restart does to every session) between two requests: the
    second is answered from a new connection, not failed with a 503."""
    if connection.vendor != "postgresql":
        # SQLite connections are opened per request (CONN_MAX_AGE 0): nothing to end.
        assert connection.settings_dict["CONN_MAX_AGE"] == 0
        return
    book = BookFactory()
    client = APIClient()
    assert client.get(f"/books/{book.pk}/").status_code == 200
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pid = cursor.fetchone()[0]
    with psycopg.connect(**connection.get_connection_params(), autocommit=True) as other:
        other.execute("SELECT pg_terminate_backend(%s)", [pid])
        # It returns once the signal is sent: wait (bounded) until the backend is gone.
        for _ in range(200):
            if not other.execute("SELECT 1 FROM pg_stat_activity WHERE pid = %s", [pid]).fetchone():
                break
            time.sleep(0.01)

    response = client.get(f"/books/{book.pk}/")

    assert response.status_code == 200, response.content
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        assert cursor.fetchone()[0] != pid
