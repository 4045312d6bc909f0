"""Private PostgreSQL, Redis and gunicorn processes for the fault tests, on loopback ports.

The machine's shared PostgreSQL (5432) and Redis (6379) serve other CI steps, so a fault test
never touches them: it starts its own cluster and Redis from the same binaries, breaks and
restores those, and removes them afterwards. Every wait here has a deadline.
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
from pathlib import Path
from typing import Any

import psycopg
import redis

PROJECT_DIRECTORY = Path(__file__).resolve().parent.parent
POSTGRES_BIN = Path(os.environ.get("FAULTS_POSTGRES_BIN", "/usr/lib/postgresql/15/bin"))
#: Below the machine's ephemeral range (32768-60999), so no client socket can take it.
PORT_RANGE = range(20_000, 32_000)
_ports_given: set[int] = set()


def free_port() -> int:
    """A loopback TCP port nobody listens on, not handed out before by this process."""
    start = os.getpid() * 37 % len(PORT_RANGE)
    for offset in range(len(PORT_RANGE)):
        port = PORT_RANGE[(start + offset) % len(PORT_RANGE)]
        if port in _ports_given:
            continue
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
        _ports_given.add(port)
        return port
    raise RuntimeError("No free loopback port below 32000.")


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


class PrivatePostgres:
    """A PostgreSQL cluster of our own in a new temporary directory.

    initdb refuses to run as root, so as root the directory belongs to the `postgres` user and
    every PostgreSQL command runs as `postgres`.
    """

    def __init__(self, port: int) -> None:
        # Straight under the temporary directory: `postgres` must be able to reach it.
        self.directory = Path(tempfile.mkdtemp(prefix="bookstore-faults-postgres-"))
        self.port = port
        self.data = self.directory / "data"
        self.log = self.directory / "postgres.log"

    def _as_owner(self, program: str, *arguments: str) -> list[str]:
        command = [str(POSTGRES_BIN / program), *arguments]
        if os.geteuid() == 0:
            return [_which("runuser"), "-u", "postgres", "--", *command]
        return command

    def initialise(self) -> None:
        if os.geteuid() == 0:
            shutil.chown(self.directory, user="postgres", group="postgres")
        _run(
            self._as_owner(
                "initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "--no-sync"
            ),
            timeout=60,
        )

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
    """The application as production runs it: gunicorn with deploy/gunicorn.conf.py."""

    def __init__(
        self, directory: Path, port: int, *, database_url: str, redis_url: str, workers: int = 2
    ) -> None:
        self.directory = directory
        self.port = port
        self.workers = workers
        self.log = directory / "gunicorn.log"
        self.process: subprocess.Popen[bytes] | None = None
        self.environment = {
            **{
                name: value
                for name, value in os.environ.items()
                if name not in {"PROMETHEUS_MULTIPROC_DIR", "DJANGO_SETTINGS_MODULE"}
            },
            "DJANGO_SETTINGS_MODULE": "bookstore.settings",
            "SECRET_KEY": "fault-tests-only-" + os.urandom(16).hex(),
            "DEBUG": "0",
            "DATABASE_URL": database_url,
            "REDIS_URL": redis_url,
            "ALLOWED_HOSTS": "127.0.0.1",
            "HOST": "127.0.0.1",
            "PORT": str(port),
            "WEB_CONCURRENCY": str(workers),
            "THROTTLE_ANON_RATE": "100000/min",
            "THROTTLE_USER_RATE": "100000/min",
            "SLOW_REQUEST_MS": "5000",
            "PYTHONUNBUFFERED": "1",
        }

    def manage(self, *arguments: str, timeout: float = 120) -> str:
        """Run a manage.py command against this server's database and cache; its stdout."""
        command = [sys.executable, "manage.py", *arguments]
        return _run(command, timeout=timeout, cwd=PROJECT_DIRECTORY, env=self.environment).stdout

    def create_token(self, username: str) -> str:
        """A new API user's token, as `manage.py create_api_user` prints it."""
        return self.manage("create_api_user", username).strip().splitlines()[-1]

    def start(self) -> None:
        command = [
            sys.executable, "-m", "gunicorn", "--config", "deploy/gunicorn.conf.py",
            # Not the default ~/.gunicorn/gunicorn.ctl, which another server on the machine uses.
            "--control-socket", str(self.directory / "gunicorn.ctl"),
            "bookstore.wsgi",
        ]  # fmt: skip
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
            what="gunicorn to answer /healthz with all its workers",
        )

    @property
    def master_pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def worker_pids(self) -> set[int]:
        """The processes whose parent is the gunicorn master."""
        if self.process is None:
            return set()
        return set(children_of(self.process.pid))

    def answers(self) -> bool:
        if self.process is not None and self.process.poll() is not None:
            raise RuntimeError(f"gunicorn exited early:\n{self.log_tail()}")
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
        for pid in children_of(self.process.pid):  # a worker left behind by a killed master
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        self.process = None

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"


def children_of(parent: int) -> list[int]:
    """Live processes whose parent is `parent`, from /proc."""
    children = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # pid (comm) state ppid ...: comm may hold spaces and parentheses, so split after it.
        state, ppid = stat.rsplit(")", 1)[1].split()[:2]
        if int(ppid) == parent and state != "Z":
            children.append(int(entry.name))
    return children


def _which(program: str) -> str:
    path = shutil.which(program)
    if path is None:
        raise RuntimeError(f"{program} is not installed.")
    return path


def _kill_pid_file(pid_file: Path) -> None:
    with contextlib.suppress(OSError, ValueError, IndexError):
        os.kill(int(pid_file.read_text().splitlines()[0]), signal.SIGKILL)
