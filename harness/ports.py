"""A free loopback TCP port for a server we are about to start, below the ephemeral range.

The machine hands out ports from 32768 up to client sockets (its ephemeral range), so one of
those could be taken between our probe and the server's bind: every test, fault, cluster and
benchmark server, and the shell scripts' servers, take theirs from PORT_RANGE instead.

Standard library only, so that the shell scripts can run it with the host's python3:

    python3 harness/ports.py        prints a free port
    python3 harness/ports.py 25000  prints 25000 if it is free, else fails
"""

import secrets
import socket
import sys

#: Below the machine's ephemeral range (32768-60999), so no client socket can take it.
PORT_RANGE = range(20_000, 32_000)
#: Every port free_port() has handed out in this process (unless the caller keeps its own).
_given: set[int] = set()


def is_free(port: int) -> bool:
    """Whether a TCP socket can bind 127.0.0.1:`port` now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_port(taken: set[int] | None = None) -> int:
    """A port in PORT_RANGE that nothing listens on now and that is not in `taken` (by
    default, every port this function has handed out in this process); it is added there."""
    given = _given if taken is None else taken
    start = secrets.randbelow(len(PORT_RANGE))
    for offset in range(len(PORT_RANGE)):
        port = PORT_RANGE[(start + offset) % len(PORT_RANGE)]
        if port not in given and is_free(port):
            given.add(port)
            return port
    raise RuntimeError(f"No free loopback port in {PORT_RANGE.start}-{PORT_RANGE.stop - 1}.")


def main(arguments: list[str]) -> int:
    if arguments and arguments[0]:
        port = int(arguments[0])
        if not is_free(port):
            print(f"port {port} is not free on 127.0.0.1", file=sys.stderr)
            return 1
        print(port)
        return 0
    print(free_port())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
