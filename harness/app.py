"""Private PostgreSQL, Redis, app server (granian, deploy/server.py) and nginx processes for the
fault and cluster tests.

The machine's shared PostgreSQL (5432) and Redis (6379) serve other CI steps, so a fault test
never touches them: it starts its own cluster and Redis from the same binaries, breaks and
restores those, and removes them afterwards. The cluster test (cluster/) adds a streaming
replica of a private cluster and nginx in front of several app servers. Every wait here has a
deadline, and every server listens on a loopback port.
"""

import contextlib
import http.client
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from types import FrameType
from typing import Any

import psycopg
import redis

from scripts.processes import process_stats

PROJECT_DIRECTORY = Path(__file__).resolve().parent.parent
POSTGRES_BIN = Path(os.environ.get("FAULTS_POSTGRES_BIN", "/usr/lib/postgresql/15/bin"))


def _run(command: list[str], *, timeout: float, **kwargs: Any) -> subprocess.CompletedProcess[str]:
    """Run a command to completion within `timeout` seconds; fail with its output if it fails."""
    result = subprocess.run(  # noqa: S603 - our own binaries and arguments
        command, capture_output=True, text=True, timeout=timeout, check=False, **kwargs
    )
    if result.returncode != 0:
        raise RuntimeError(
            f"{' '.join(command)} exited with {result.returncode}:\n{result.stdout}{result.stderr}"
        )
    return result


def wait_until(condition: Any, *, timeout: float, interval: float = 0.05, what: str) -> float:
    """Poll `condition()` until it is true; return the seconds waited, or fail at `timeout`."""
    started = time.monotonic()
    while True:
        if condition():
            return time.monotonic() - started
        if time.monotonic() - started > timeout:
            raise TimeoutError(f"Gave up after {timeout} s waiting for {what}.")
        time.sleep(interval)


@contextlib.contextmanager
def time_limit(seconds: int, what: str) -> Iterator[None]:
    """Raise TimeoutError in the main thread if the block runs longer than `seconds`."""

    def expire(signum: int, frame: FrameType | None) -> None:
        raise TimeoutError(f"{what} ran longer than {seconds} s.")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


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
            return [_which("runuser"), "-u", "postgres", "--", *command]
        return command

    def initialise(
        self, *, settings: Mapping[str, str] | None = None, allow_replication: bool = False
    ) -> None:
        """initdb; then `settings` appended to postgresql.conf, and with `allow_replication`
        WAL for a streaming replica and a trusted replication connection from 127.0.0.1."""
        self._own_directory()
        _run(
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
        _run(self._as_owner("pg_ctl", *arguments, "start"), timeout=40)

    def stop(self, mode: str = "fast") -> None:
        """Stop the server: `fast` (clean shutdown) or `immediate` (as a crash: WAL replay on
        the next start)."""
        _run(
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
        _run(
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


class PrivateRedis:
    """A Redis of our own, keeping nothing on disk, as a child process we can stop and freeze."""

    def __init__(self, directory: Path, port: int) -> None:
        self.directory = directory
        self.port = port
        self.log = directory / "redis.log"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        command = [
            _which("redis-server"),
            "--port", str(self.port),
            "--bind", "127.0.0.1",
            "--save", "",
            "--appendonly", "no",
            "--daemonize", "no",
            "--dir", str(self.directory),
            "--logfile", str(self.log),
        ]  # fmt: skip
        self.process = subprocess.Popen(command, stdin=subprocess.DEVNULL)  # noqa: S603
        wait_until(self.answers, timeout=10, what=f"Redis on port {self.port}")

    def answers(self) -> bool:
        client = redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=0.5)
        try:
            return bool(client.ping())
        except redis.RedisError:
            return False
        finally:
            client.close()

    def stop(self) -> None:
        """Shut Redis down (SIGTERM); its keys are gone, as after any restart without a dump."""
        assert self.process is not None
        self.process.terminate()
        self.process.wait(timeout=10)
        self.process = None

    def freeze(self) -> None:
        """Stop answering but keep every key, as during a network partition (SIGSTOP)."""
        assert self.process is not None
        self.process.send_signal(signal.SIGSTOP)

    def thaw(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGCONT)

    def destroy(self) -> None:
        if self.process is not None:
            self.process.kill()  # SIGKILL ends a frozen process too
            self.process.wait(timeout=10)
            self.process = None
        shutil.rmtree(self.directory, ignore_errors=True)


class AppServer:
    """The application as production runs it: granian, started by deploy/server.py.

    The process we start is granian's main process; its workers are its only children
    (multiprocessing, forked), each listening on its own SO_REUSEPORT socket."""

    def __init__(
        self,
        directory: Path,
        port: int,
        *,
        database_url: str,
        redis_url: str,
        workers: int = 2,
        secret_key: str | None = None,
        environment: Mapping[str, str] | None = None,
    ) -> None:
        """`environment` adds to (or overrides) the settings below; instances behind one
        load balancer must share `secret_key`."""
        self.directory = directory
        self.port = port
        self.workers = workers
        self.log = directory / "server.log"
        self.process: subprocess.Popen[bytes] | None = None
        # Our own directory, not the server's temporary one, so that it goes with ours even
        # when the server is killed before it can remove its own.
        self.metrics_directory = directory / "prometheus"
        self.metrics_directory.mkdir(exist_ok=True)
        self.environment = {
            **{
                name: value
                for name, value in os.environ.items()
                if name not in {"PROMETHEUS_MULTIPROC_DIR", "DJANGO_SETTINGS_MODULE"}
            },
            "DJANGO_SETTINGS_MODULE": "bookstore.settings",
            "SECRET_KEY": secret_key or "fault-tests-only-" + os.urandom(24).hex(),  # 65 characters
            "DEBUG": "0",
            "DATABASE_URL": database_url,
            "REDIS_URL": redis_url,
            "ALLOWED_HOSTS": "127.0.0.1",
            "HOST": "127.0.0.1",
            "PORT": str(port),
            "WEB_CONCURRENCY": str(workers),
            "THROTTLE_ANON_RATE": "100000/min",
            "THROTTLE_USER_RATE": "100000/min",
            "WRITE_QUOTA_PER_DAY": "0",  # the load writes far more than a user's daily quota
            "SLOW_REQUEST_MS": "5000",
            "PYTHONUNBUFFERED": "1",
            "PROMETHEUS_MULTIPROC_DIR": str(self.metrics_directory),
            **(environment or {}),
        }

    def manage(self, *arguments: str, timeout: float = 120) -> str:
        """Run a manage.py command against this server's database and cache; its stdout."""
        command = [sys.executable, "manage.py", *arguments]
        return _run(command, timeout=timeout, cwd=PROJECT_DIRECTORY, env=self.environment).stdout

    def create_token(self, username: str) -> str:
        """A new API user's token, as `manage.py create_api_user` prints it."""
        return self.manage("create_api_user", username).strip().splitlines()[-1]

    def start(self) -> None:
        command = [sys.executable, "-m", "deploy.server"]
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(  # noqa: S603
                command,
                cwd=PROJECT_DIRECTORY,
                env=self.environment,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # a Ctrl-C on the test run is not the server's
            )
        wait_until(
            lambda: self.answers() and len(self.worker_pids()) == self.workers,
            timeout=30,
            what="the server to answer /healthz with all its workers",
        )

    @property
    def main_pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def worker_pids(self) -> set[int]:
        """The processes whose parent is the server's main process: its workers, and nothing
        else (granian forks them and starts no helper process of its own)."""
        if self.process is None:
            return set()
        return set(children_of(self.process.pid))

    def answers(self) -> bool:
        if self.process is not None and self.process.poll() is not None:
            raise RuntimeError(f"the server exited early:\n{self.log_tail()}")
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
        try:
            connection.request("GET", "/healthz")
            return connection.getresponse().status == 200
        except (OSError, http.client.HTTPException):
            return False
        finally:
            connection.close()

    def stop(self) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=40)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)
        # A worker left behind by a killed main process is still in its process group
        # (started in a session of its own), even once the main process is reaped.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process = None

    def kill(self) -> None:
        """SIGKILL the main process and workers at once (its process group), as when its host
        dies."""
        if self.process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)
        wait_until(
            lambda: not _group_alive(self.main_pid),
            timeout=10,
            what="the killed server's workers to exit",
        )
        self.process = None

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"


def process_alive(pid: int) -> bool:
    """Whether any thread of process `pid` still runs. Its sockets close with the last one:
    the main thread may already be a zombie while the others are still exiting."""
    try:
        threads = list(Path(f"/proc/{pid}/task").iterdir())
    except OSError:
        return False
    for thread in threads:
        try:
            stat = (thread / "stat").read_text()
        except OSError:
            continue
        if stat.rsplit(")", 1)[1].split()[0] not in ("Z", "X"):
            return True
    return False


def tcp_migrate_req_enabled() -> bool:
    """Whether this network namespace hands a closed listener's queued connections to its
    SO_REUSEPORT siblings (net.ipv4.tcp_migrate_req, Linux 5.14+)."""
    try:
        return Path("/proc/sys/net/ipv4/tcp_migrate_req").read_text().strip() == "1"
    except OSError:
        return False


def children_of(parent: int) -> list[int]:
    """Live processes whose parent is `parent`, from /proc."""
    return [pid for pid, state, ppid, _ in _processes() if ppid == parent and state != "Z"]


def _processes() -> Iterator[tuple[int, str, int, int]]:
    """(pid, state, parent pid, process group) of every process, from /proc/<pid>/stat."""
    for pid, _, fields in process_stats():
        yield pid, fields[0], int(fields[1]), int(fields[2])


def _which(program: str) -> str:
    path = shutil.which(program)
    if path is None:
        raise RuntimeError(f"{program} is not installed.")
    return path


class Nginx:
    """nginx in the foreground as our child, run by `command` (config and prefix of ours).

    Reloading (SIGHUP) makes the master re-read the config: new workers take new connections
    while the old ones finish theirs.
    """

    def __init__(self, command: list[str], port: int, log: Path) -> None:
        self.command = command
        self.port = port
        self.log = log
        self.process: subprocess.Popen[bytes] | None = None

    def check(self) -> None:
        """Fail with nginx's own message if the config is not valid."""
        _run([*self.command, "-t"], timeout=20)

    def start(self) -> None:
        self.check()
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(  # noqa: S603 - our own command line
                self.command,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        wait_until(self.answers, timeout=15, what=f"nginx on port {self.port}")

    def reload(self) -> None:
        """Re-read the config file (validated first). Returns once only new workers run: an
        old one still shutting down may close a connection it had just accepted."""
        assert self.process is not None
        self.check()
        workers_before = set(children_of(self.process.pid))
        self.process.send_signal(signal.SIGHUP)

        def only_new_workers() -> bool:
            workers = set(children_of(self.master_pid))
            return bool(workers) and not workers & workers_before

        wait_until(only_new_workers, timeout=15, what="nginx's old workers to exit after a reload")

    @property
    def master_pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def answers(self) -> bool:
        if self.process is not None and self.process.poll() is not None:
            raise RuntimeError(f"nginx exited early:\n{self.log.read_text(errors='replace')}")
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            probe.settimeout(1)
            return probe.connect_ex(("127.0.0.1", self.port)) == 0

    def stop(self) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGQUIT)  # graceful: finish open requests
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)
        with contextlib.suppress(ProcessLookupError):  # any worker left in its group
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process = None


def _group_alive(group: int) -> bool:
    try:
        os.killpg(group, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # Zombies still count for killpg: look for a live member.
    return any(pgrp == group and state != "Z" for _, state, _, pgrp in _processes())


def _kill_pid_file(pid_file: Path) -> None:
    """SIGKILL the postmaster a pid file names, if that process is still a postgres."""
    with contextlib.suppress(OSError, ValueError, IndexError):
        pid = int(pid_file.read_text().splitlines()[0])
        if Path(f"/proc/{pid}/comm").read_text().strip() in ("postgres", "postmaster"):
            os.kill(pid, signal.SIGKILL)
