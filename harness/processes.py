"""Every process on the machine, read from /proc: the one walk the fault tests and the
benchmark share."""

from collections.abc import Iterator
from pathlib import Path


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
