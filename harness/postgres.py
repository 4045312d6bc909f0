"""PostgreSQL clusters of our own for a test: a primary in a temporary directory and its
streaming replica, from the machine's PostgreSQL 15 binaries (FAULTS_POSTGRES_BIN).

The machine's shared PostgreSQL (5432) serves other CI steps, so a test never touches it: it
starts its own cluster, breaks and restores it, and removes it afterwards.
"""

import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import psycopg

from harness.processes import run, which

POSTGRES_BIN = Path(os.environ.get("FAULTS_POSTGRES_BIN", "/usr/lib/postgresql/15/bin"))


class PrivatePostgres:
    """A PostgreSQL cluster of our own in a new temporary directory.

    initdb refuses to run as root, so as root the directory belongs to the `postgres` user and
    every PostgreSQL command runs as `postgres`.
    """

    def __init__(self, port: int, *, prefix: str = "bookstore-faults-postgres-") -> None:
        # Straight under the temporary directory: `postgres` must be able to reach it.
        self.directory = Path(tempfile.mkdtemp(prefix=prefix))
        self.port = port
        self.data = self.directory / "data"
        self.log = self.directory / "postgres.log"

    def _as_owner(self, program: str, *arguments: str) -> list[str]:
        command = [str(POSTGRES_BIN / program), *arguments]
        if os.geteuid() == 0:
            return [which("runuser"), "-u", "postgres", "--", *command]
        return command

    def initialise(
        self, *, settings: Mapping[str, str] | None = None, allow_replication: bool = False
    ) -> None:
        """initdb; then `settings` appended to postgresql.conf, and with `allow_replication`
        WAL for a streaming replica and a trusted replication connection from 127.0.0.1."""
        self._own_directory()
        run(
            self._as_owner(
                "initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "--no-sync"
            ),
            timeout=60,
        )
        configuration = dict(settings or {})
        if allow_replication:
            configuration = {"wal_level": "replica", "max_wal_senders": "5", **configuration}
            with (self.data / "pg_hba.conf").open("a") as hba:
                hba.write("host replication postgres 127.0.0.1/32 trust\n")
        if configuration:
            with (self.data / "postgresql.conf").open("a") as conf:
                conf.writelines(f"{name} = {value}\n" for name, value in configuration.items())

    def _own_directory(self) -> None:
        if os.geteuid() == 0:
            shutil.chown(self.directory, user="postgres", group="postgres")

    def start(self) -> None:
        options = f"-p {self.port} -k {self.directory} -c listen_addresses=127.0.0.1"
        arguments = ["-D", str(self.data), "-l", str(self.log), "-o", options, "-w", "-t", "30"]
        run(self._as_owner("pg_ctl", *arguments, "start"), timeout=40)

    def stop(self, mode: str = "fast") -> None:
        """Stop the server: `fast` (clean shutdown) or `immediate` (as a crash: WAL replay on
        the next start)."""
        run(
            self._as_owner("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "-t", "30", "stop"),
            timeout=40,
        )

    def is_running(self) -> bool:
        return (self.data / "postmaster.pid").exists()

    def url(self, database: str) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{database}"

    def connect(self, database: str) -> psycopg.Connection[Any]:
        return psycopg.connect(
            host="127.0.0.1",
            port=self.port,
            user="postgres",
            dbname=database,
            connect_timeout=2,
            autocommit=True,
        )

    def create_database(self, name: str) -> None:
        with self.connect("postgres") as connection:
            connection.execute(f'CREATE DATABASE "{name}"')  # a name of our own

    def destroy(self) -> None:
        """Stop the server whatever its state, and remove its files."""
        if self.is_running():
            try:
                self.stop("immediate")
            except (RuntimeError, subprocess.TimeoutExpired):
                _kill_pid_file(self.data / "postmaster.pid")
        shutil.rmtree(self.directory, ignore_errors=True)


class PrivateReplica(PrivatePostgres):
    """A streaming replica of a PrivatePostgres made with initialise(allow_replication=True).

    `pg_basebackup -R -X stream` copies the primary and writes standby.signal and its
    primary_conninfo, so the copy starts as a hot standby that follows the primary.
    """

    def __init__(
        self, port: int, primary: PrivatePostgres, *, prefix: str = "bookstore-faults-replica-"
    ) -> None:
        super().__init__(port, prefix=prefix)
        self.primary = primary

    def initialise(
        self, *, settings: Mapping[str, str] | None = None, allow_replication: bool = False
    ) -> None:
        self._own_directory()
        run(
            self._as_owner(
                "pg_basebackup",
                "-h", "127.0.0.1",
                "-p", str(self.primary.port),
                "-U", "postgres",
                "-D", str(self.data),
                "-R", "-X", "stream",
                "--checkpoint=fast", "--no-sync",
            ),
            timeout=60,
        )  # fmt: skip
        if settings:
            with (self.data / "postgresql.conf").open("a") as conf:
                conf.writelines(f"{name} = {value}\n" for name, value in settings.items())

    def caught_up(self) -> bool:
        """Whether this replica has replayed everything the primary had written when asked."""
        try:
            with self.primary.connect("postgres") as connection:
                row = connection.execute("SELECT pg_current_wal_lsn()").fetchone()
            with self.connect("postgres") as connection:
                replayed = connection.execute(
                    "SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn", (row[0] if row else None,)
                ).fetchone()
        except psycopg.Error:
            return False
        return bool(replayed and replayed[0])


def _kill_pid_file(pid_file: Path) -> None:
    """SIGKILL the postmaster a pid file names, if that process is still a postgres."""
    with contextlib.suppress(OSError, ValueError, IndexError):
        pid = int(pid_file.read_text().splitlines()[0])
        if Path(f"/proc/{pid}/comm").read_text().strip() in ("postgres", "postmaster"):
            os.kill(pid, signal.SIGKILL)
