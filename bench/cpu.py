"""CPU time spent during a measurement, by role: the server under test, PostgreSQL, Redis and
the load generator. Divided by the requests served, it says what a request costs each part of
the machine, a figure that holds better than requests/s on a machine shared by all of them."""

import os
from dataclasses import dataclass

from harness.processes import process_stats

TICKS_PER_SECOND = os.sysconf("SC_CLK_TCK")
ROLES = ("server", "postgres", "redis", "wrk", "other")


@dataclass(frozen=True)
class Process:
    ticks: int  # user + system CPU, in clock ticks
    group: int  # process group
    name: str  # command name (comm)


def snapshot() -> dict[int, Process]:
    """Every process's CPU ticks so far, from /proc/<pid>/stat."""
    processes: dict[int, Process] = {}
    for pid, name, fields in process_stats():
        processes[pid] = Process(int(fields[11]) + int(fields[12]), int(fields[2]), name)
    return processes


def role(process: Process, server_group: int) -> str:
    if process.group == server_group:
        return "server"
    if process.name.startswith("postgres"):
        return "postgres"
    if process.name.startswith("redis-server"):
        return "redis"
    if process.name == "wrk":
        return "wrk"
    return "other"


def seconds_by_role(
    before: dict[int, Process], after: dict[int, Process], server_group: int
) -> dict[str, float]:
    """CPU seconds each role used between two snapshots (a process that exited in between is
    not counted: the server's and the databases' processes outlive a measurement)."""
    spent = dict.fromkeys(ROLES, 0.0)
    for pid, process in after.items():
        earlier = before.get(pid)
        ticks = process.ticks - (earlier.ticks if earlier and earlier.name == process.name else 0)
        spent[role(process, server_group)] += ticks / TICKS_PER_SECOND
    return {name: round(seconds, 3) for name, seconds in spent.items()}
