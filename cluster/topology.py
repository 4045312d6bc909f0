"""The whole deployment on one machine: PostgreSQL primary and streaming replica, the machine's
Redis, identical app instances under granian (deploy/server.py), and nginx in front with the
shipped config.

Every part listens on a loopback port of its own below 32768 (harness/ports.py);
`Cluster.destroy()` ends every process this started and removes every directory, whatever
state the cluster is in, and empties the Redis database it used.
"""

import contextlib
import http.client
import json
import os
import secrets
import shutil
import tempfile
from pathlib import Path
from typing import Any

import psycopg
import redis

from deploy.nginx_config import nginx_command, write_nginx_config
from harness.app import AppServer, settings_under_load
from harness.nginx import Nginx
from harness.ports import free_port
from harness.postgres import PrivatePostgres, PrivateReplica
from harness.processes import wait_until

DATABASE = "bookstore"
#: The machine's Redis (the issue says so), in a database number no other step uses.
REDIS_URL = os.environ.get("CLUSTER_REDIS_URL", "redis://127.0.0.1:6379/11")
INSTANCES = 3
SEED_BOOKS = 2000
#: The primary's settings: statement counts per server, and WAL for the replica.
PRIMARY_SETTINGS = {
    "shared_preload_libraries": "pg_stat_statements",
    "pg_stat_statements.track": "top",
    "fsync": "off",  # a throwaway cluster: durability costs time and proves nothing here
    "synchronous_commit": "off",
    "full_page_writes": "off",
}
#: The router's bounds, at their documented defaults (spelled out: the tests rely on them).
ROUTER_SETTINGS = {
    "REPLICA_MAX_LAG_SECONDS": "2",
    "REPLICA_CHECK_INTERVAL_SECONDS": "1",
    "READ_YOUR_WRITES_SECONDS": "5",
}


class Cluster:
    """Start with `start()`, always end with `destroy()`."""

    def __init__(self) -> None:
        self.directory = Path(tempfile.mkdtemp(prefix="bookstore-cluster-"))
        self.primary = PrivatePostgres(free_port(), prefix="bookstore-cluster-primary-")
        self.replica = PrivateReplica(
            free_port(), self.primary, prefix="bookstore-cluster-replica-"
        )
        self.redis = redis.Redis.from_url(REDIS_URL, socket_timeout=2)
        # One key for every instance: a session or signed value made by one must be valid
        # on the others.
        secret_key = "cluster-test-only-" + secrets.token_urlsafe(32)
        environment = {
            "DATABASE_REPLICA_URLS": self.replica.url(DATABASE),
            "NUM_PROXIES": "1",
            "WEB_CONCURRENCY": "1",
            "THROTTLE_ANON_RATE": "1000000/min",
            "THROTTLE_USER_RATE": "1000000/min",
            "WRITE_QUOTA_PER_DAY": "0",  # the load writes far more than a user's daily quota
            **ROUTER_SETTINGS,
        }
        self.instances: list[AppServer] = []
        for index in range(INSTANCES):
            directory = self.directory / f"app-{index + 1}"
            directory.mkdir()
            settings = settings_under_load(
                directory,
                database_url=self.primary.url(DATABASE),
                redis_url=REDIS_URL,
                secret_key=secret_key,
            )
            self.instances.append(
                AppServer(
                    free_port(),
                    directory / "server.log",
                    {**settings, **environment},
                    workers=1,
                )
            )
        self.nginx_directory = self.directory / "nginx"
        self.nginx_directory.mkdir()
        self.nginx_port = free_port()
        self.nginx: Nginx | None = None
        self.book_ids: tuple[int, int] = (0, 0)
        self.tokens: dict[str, str] = {}

    # --- starting -------------------------------------------------------------------

    def start(self, *, users: list[str]) -> None:
        self.redis.flushdb()
        self.primary.initialise(settings=PRIMARY_SETTINGS, allow_replication=True)
        self.primary.start()
        self.primary.create_database(DATABASE)
        with self.primary.connect(DATABASE) as connection:
            connection.execute("CREATE EXTENSION pg_stat_statements")
        # Once, before any instance starts, and on the primary only (the router allows
        # migrations nowhere else; the replica gets the schema by replication).
        first = self.instances[0]
        first.manage("migrate", "--noinput")
        first.manage("seed_books", str(SEED_BOOKS))
        self.tokens = self._create_tokens(users)
        with self.primary.connect(DATABASE) as connection:
            row = connection.execute("SELECT min(id), max(id) FROM books_book").fetchone()
        assert row is not None
        self.book_ids = (int(row[0]), int(row[1]))
        self.replica.initialise()
        self.replica.start()
        wait_until(self.replica.caught_up, timeout=20, what="the replica to catch up")
        for instance in self.instances:
            instance.start()
        self.nginx = Nginx(
            nginx_command(self.write_nginx_config(INSTANCES)),
            self.nginx_port,
            self.directory / "nginx.log",
        )
        self.nginx.start()
        self.read_once_from_each_instance()
        wait_until(
            self.replica_healthy_everywhere,
            timeout=20,
            what="every instance to judge the replica healthy",
        )

    def _create_tokens(self, users: list[str]) -> dict[str, str]:
        """A token per user, from `manage.py create_api_user` called in one process."""
        script = (
            "import io\n"
            "from django.core.management import call_command\n"
            f"for name in {users!r}:\n"
            "    out = io.StringIO()\n"
            "    call_command('create_api_user', name, stdout=out, stderr=io.StringIO())\n"
            "    print('token', name, out.getvalue().split()[-1])\n"
        )
        output = self.instances[0].manage("shell", "-c", script)
        tokens = dict(
            line.split()[1:3] for line in output.splitlines() if line.startswith("token ")
        )
        assert set(tokens) == set(users), output
        return tokens

    def write_nginx_config(self, instances: int) -> Path:
        """The shipped config, with the first `instances` app servers as its upstreams."""
        return write_nginx_config(
            self.nginx_directory,
            listen=f"127.0.0.1:{self.nginx_port}",
            upstreams=[f"127.0.0.1:{server.port}" for server in self.instances[:instances]],
        )

    def use_instances(self, count: int) -> None:
        """Point nginx at the first `count` instances."""
        assert self.nginx is not None
        self.write_nginx_config(count)
        self.nginx.reload()

    # --- looking at it --------------------------------------------------------------

    def metrics(self, instance: AppServer) -> str:
        """An instance's /metrics page, asked directly from 127.0.0.1 (nginx refuses it)."""
        connection = http.client.HTTPConnection("127.0.0.1", instance.port, timeout=5)
        try:
            connection.request("GET", "/metrics")
            response = connection.getresponse()
            body = response.read().decode()
        finally:
            connection.close()
        if response.status != 200:
            raise RuntimeError(f"/metrics of port {instance.port}: {response.status} {body}")
        return body

    def live_instances(self) -> list[AppServer]:
        return [server for server in self.instances if server.process is not None]

    def read_once_from_each_instance(self) -> None:
        """A signed-in read straight to each instance: a process starts checking its replicas
        at its first routed read."""
        token = next(iter(self.tokens.values()))
        for server in self.live_instances():
            connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
            try:
                connection.request(
                    "GET",
                    f"/books/{self.book_ids[0]}/",
                    headers={"Authorization": f"Token {token}", "Accept": "application/json"},
                )
                response = connection.getresponse()
                response.read()
            finally:
                connection.close()
            if response.status != 200:
                raise RuntimeError(f"port {server.port}: {response.status}\n{server.log_tail()}")

    def replica_healthy_everywhere(self) -> bool:
        """Every live instance's replica checker says the replica may serve reads."""
        from cluster.counters import gauge_value

        return all(
            gauge_value(self.metrics(server), "bookstore_replica_healthy", database="replica_1")
            == 1.0
            for server in self.live_instances()
        )

    def nginx_access_log(self) -> list[dict[str, str]]:
        """nginx's JSON access log lines so far (the shipped config logs to stdout)."""
        assert self.nginx is not None
        entries = []
        for line in self.nginx.log_path.read_text(errors="replace").splitlines():
            with contextlib.suppress(ValueError):
                entry = json.loads(line)
                if isinstance(entry, dict) and "upstream_addr" in entry:
                    entries.append(entry)
        return entries

    def primary_connection(self) -> psycopg.Connection[Any]:
        return self.primary.connect(DATABASE)

    def replica_connection(self) -> psycopg.Connection[Any]:
        return self.replica.connect(DATABASE)

    # --- ending ---------------------------------------------------------------------

    def keep_logs(self, destination: Path) -> None:
        """Copy every server's log to `destination` (after a failure, to see why)."""
        shutil.rmtree(destination, ignore_errors=True)
        destination.mkdir(parents=True)
        logs = [
            (server.log_path, f"app-{index + 1}.log") for index, server in enumerate(self.instances)
        ]
        logs += [(self.directory / "nginx.log", "nginx.log")]
        logs += [(self.primary.log, "primary.log"), (self.replica.log, "replica.log")]
        for source, name in logs:
            with contextlib.suppress(OSError):
                shutil.copyfile(source, destination / name)

    def destroy(self) -> None:
        """Stop everything this started and remove its files; never raises half-way."""
        if self.nginx is not None:
            with contextlib.suppress(Exception):
                self.nginx.stop()
        for server in self.instances:
            with contextlib.suppress(Exception):
                server.stop()
        for database in (self.replica, self.primary):
            with contextlib.suppress(Exception):
                database.destroy()
        with contextlib.suppress(Exception):
            self.redis.flushdb()
        self.redis.close()
        shutil.rmtree(self.directory, ignore_errors=True)
