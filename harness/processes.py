"""Processes for tests and tools: run a command, wait with a deadline, walk /proc, and start,
watch and stop a server in a process group of its own.

Every wait here has a deadline, and every server listens on a loopback port.
"""

import contextlib
import http.client
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from types import FrameType
from typing import Any


def run(command: list[str], *, timeout: float, **kwargs: Any) -> subprocess.CompletedProcess[str]:
    """Run a command to completion within `timeout` seconds; fail with its output if it fails."""
    result = subprocess.run(  # noqa: S603 - our own binaries and arguments
        command, capture_output=True, text=True, timeout=timeout, check=False, **kwargs
    )
    if result.returncode != 0:
        raise RuntimeError(
            f"{' '.join(command)} exited with {result.returncode}:\n{result.stdout}{result.stderr}"
        )
    return result


def which(program: str) -> str:
    path = shutil.which(program)
    if path is None:
        raise RuntimeError(f"{program} is not installed.")
    return path


def wait_until(
    condition: Callable[[], Any], *, timeout: float, interval: float = 0.05, what: str
) -> float:
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


# --- /proc ---------------------------------------------------------------------------------


def process_stats() -> Iterator[tuple[int, str, list[str]]]:
    """(pid, command name, the fields of /proc/<pid>/stat after the name) of every process.

    The name (comm) may hold spaces and parentheses, so the fields are split after its last
    ")": fields[0] is the state, [1] the parent pid, [2] the process group, [11] and [12]
    the user and system CPU ticks. A process that exits meanwhile is skipped.
    """
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        name = stat[stat.index("(") + 1 : stat.rindex(")")]
        yield int(entry.name), name, stat.rsplit(")", 1)[1].split()


def _processes() -> Iterator[tuple[int, str, int, int]]:
    """(pid, state, parent pid, process group) of every process."""
    for pid, _, fields in process_stats():
        yield pid, fields[0], int(fields[1]), int(fields[2])


def children_of(parent: int) -> list[int]:
    """Live processes whose parent is `parent`."""
    return [pid for pid, state, ppid, _ in _processes() if ppid == parent and state != "Z"]


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


def group_alive(group: int) -> bool:
    """Whether a process of process group `group` still runs (zombies do not count)."""
    try:
        os.killpg(group, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # Zombies still count for killpg: look for a live member.
    return any(pgrp == group and state != "Z" for _, state, _, pgrp in _processes())


def rss_kib(pid: int) -> int | None:
    """A process's resident memory (VmRSS) in KiB, or None if it is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return None


def signal_group(group: int, signum: int) -> None:
    """Send `signum` to every process of `group`, if any is left."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(group, signum)


# --- servers -------------------------------------------------------------------------------


class Server:
    """A server we start: its own process group (so that stopping it ends its workers too),
    its output in a log file, listening on 127.0.0.1:`port`, ready when `ready_path` answers
    200. Start with `start()` (or `spawn()`, then `wait_ready()`), always end with `stop()`."""

    def __init__(
        self,
        name: str,
        command: list[str],
        *,
        port: int,
        log_path: Path,
        cwd: Path,
        environment: Mapping[str, str],
        ready_path: str = "/healthz",
    ) -> None:
        self.name = name
        self.command = command
        self.port = port
        self.log_path = log_path
        self.cwd = cwd
        self.environment = dict(environment)
        self.ready_path = ready_path
        self.process: subprocess.Popen[bytes] | None = None
        #: The exit status once stopped or killed.
        self.returncode: int | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def main_pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def spawn(self) -> None:
        """Start the process and return at once."""
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(  # noqa: S603 - our own command lines
                self.command,
                cwd=self.cwd,
                env=self.environment,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its process group; a Ctrl-C on the run is not its
            )

    def start(self, timeout: float = 30) -> None:
        self.spawn()
        self.wait_ready(timeout)

    def answers(self) -> bool:
        """Whether `ready_path` answers 200 now; fails if the server has exited."""
        if self.process is not None and self.process.poll() is not None:
            raise RuntimeError(
                f"{self.name} exited ({self.process.returncode}) early:\n{self.log_tail()}"
            )
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
        try:
            connection.request("GET", self.ready_path)
            return connection.getresponse().status == 200
        except (OSError, http.client.HTTPException):
            return False
        finally:
            connection.close()

    def ready(self) -> bool:
        return self.answers()

    def wait_ready(self, timeout: float = 30) -> None:
        try:
            wait_until(self.ready, timeout=timeout, what=f"{self.name} on {self.url} to be ready")
        except TimeoutError as error:
            raise TimeoutError(f"{error}\n{self.log_tail()}") from None

    def worker_pids(self) -> set[int]:
        """The children of the server's main process: its workers."""
        return set() if self.process is None else set(children_of(self.process.pid))

    def stop(self, signum: int = signal.SIGTERM, timeout: float = 40) -> None:
        """Send `signum` to the main process, wait up to `timeout` s for it to exit, then
        SIGKILL whatever is left of its process group."""
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.send_signal(signum)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                signal_group(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)
        # A worker left behind by a killed main process is still in its process group
        # (started in a session of its own), even once the main process is reaped.
        signal_group(self.process.pid, signal.SIGKILL)
        self.returncode = self.process.returncode
        self.process = None

    def kill(self) -> None:
        """SIGKILL the main process and workers at once (its process group), as when its host
        dies."""
        if self.process is None:
            return
        group = self.process.pid
        signal_group(group, signal.SIGKILL)
        self.process.wait(timeout=10)
        wait_until(
            lambda: not group_alive(group), timeout=10, what=f"{self.name}'s workers to exit"
        )
        self.returncode = self.process.returncode
        self.process = None

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"
