"""nginx for a test, with a config and prefix of ours (deploy/nginx_config.py writes them)."""

import os
import signal
import socket
from pathlib import Path

from harness.processes import Server, children_of, run, wait_until


class Nginx(Server):
    """nginx in the foreground as our child, run by `command` (config and prefix of ours).

    Reloading (SIGHUP) makes the master re-read the config: new workers take new connections
    while the old ones finish theirs.
    """

    def __init__(self, command: list[str], port: int, log_path: Path) -> None:
        super().__init__(
            "nginx",
            command,
            port=port,
            log_path=log_path,
            cwd=Path.cwd(),
            environment=os.environ,
        )

    def check(self) -> None:
        """Fail with nginx's own message if the config is not valid."""
        run([*self.command, "-t"], timeout=20)

    def start(self, timeout: float = 15) -> None:
        self.check()
        super().start(timeout)

    def answers(self) -> bool:
        """Whether nginx accepts a connection on its port; fails if it has exited."""
        if self.process is not None and self.process.poll() is not None:
            raise RuntimeError(f"nginx exited early:\n{self.log_tail()}")
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            probe.settimeout(1)
            return probe.connect_ex(("127.0.0.1", self.port)) == 0

    def reload(self) -> None:
        """Re-read the config file (validated first). Returns once only new workers run: an
        old one still shutting down may close a connection it had just accepted."""
        assert self.process is not None
        self.check()
        workers_before = set(children_of(self.main_pid))
        self.process.send_signal(signal.SIGHUP)

        def only_new_workers() -> bool:
            workers = set(children_of(self.main_pid))
            return bool(workers) and not workers & workers_before

        wait_until(only_new_workers, timeout=15, what="nginx's old workers to exit after a reload")

    def stop(self, signum: int = signal.SIGQUIT, timeout: float = 15) -> None:
        """Graceful by default (SIGQUIT: open requests finish)."""
        super().stop(signum, timeout)
