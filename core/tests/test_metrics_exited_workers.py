"""core.metrics.forget_exited_workers: a dead worker's live gauges leave /metrics with it."""

import os
import subprocess
import sys
from pathlib import Path

from core.metrics import forget_exited_workers


def exited_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait(timeout=30)
    return process.pid


def test_the_live_gauges_of_an_exited_worker_are_removed_and_the_rest_kept(
    tmp_path: Path,
) -> None:
    dead, alive = exited_pid(), os.getpid()
    for name in (
        f"gauge_livemin_{dead}.db",
        f"gauge_liveall_{dead}.db",
        f"gauge_livemin_{alive}.db",
        f"counter_{dead}.db",  # its counts still happened: kept
        f"gauge_all_{dead}.db",  # not a live gauge: kept
    ):
        (tmp_path / name).write_bytes(b"")

    forget_exited_workers(tmp_path)

    assert sorted(path.name for path in tmp_path.iterdir()) == sorted(
        [f"gauge_livemin_{alive}.db", f"counter_{dead}.db", f"gauge_all_{dead}.db"]
    )


def test_files_not_named_for_a_process_are_left_alone(tmp_path: Path) -> None:
    (tmp_path / "gauge_livemin_notapid.db").write_bytes(b"")

    forget_exited_workers(tmp_path)

    assert [path.name for path in tmp_path.iterdir()] == ["gauge_livemin_notapid.db"]
