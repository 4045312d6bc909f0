"""The cluster fixture, time limits, and the end-of-run report.

One cluster serves every test of the session (starting it takes about 15 s): the tests run in
the order of test_scale_out.py, each leaving it whole for the next, except the last, which
kills an instance. Teardown ends every process and removes every directory whether the tests
passed, failed, hit their time limit or were interrupted (Ctrl-C, or SIGTERM from CI).
"""

import contextlib
import os
import shutil
import signal
from collections.abc import Iterator
from types import FrameType

import pytest

from cluster import report
from cluster.topology import Cluster
from harness.processes import time_limit

TEST_TIME_LIMIT = 90
START_TIME_LIMIT = 120

READERS = [f"reader-{number}" for number in range(1, 7)]
WRITERS = [f"writer-{number}" for number in range(1, 7)]
CREATORS = [f"creator-{number}" for number in range(1, 4)]
#: Never writes, so the router always sends its reads to a replica.
OTHER_USER = "other-user"
BENCH_READER = "bench-reader"
USERS = [*READERS, *WRITERS, *CREATORS, OTHER_USER, BENCH_READER]


@pytest.fixture(autouse=True)
def _time_limit(request: pytest.FixtureRequest) -> Iterator[None]:
    with time_limit(TEST_TIME_LIMIT, request.node.name):
        yield


@pytest.fixture(scope="session")
def cluster(request: pytest.FixtureRequest) -> Iterator[Cluster]:
    """Primary, replica, migrated and seeded; the machine's Redis; 3 instances; nginx.

    After a failure, every server's log is kept in test-output/cluster/logs/.
    """

    def interrupt(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    previous = signal.signal(signal.SIGTERM, interrupt)  # CI's timeout: still tear down
    running: Cluster | None = None
    try:
        running = Cluster()
        with time_limit(START_TIME_LIMIT, "Starting the cluster"):
            running.start(users=USERS)
        yield running
    finally:
        # A second Ctrl-C or SIGTERM must not cut the teardown short.
        previous_int = signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        try:
            if running is not None:
                logs = report.RESULTS_PATH.parent / "logs"
                if request.session.testsfailed:
                    with contextlib.suppress(OSError):
                        running.keep_logs(logs)
                else:  # an earlier failure's logs would read as this run's
                    shutil.rmtree(logs, ignore_errors=True)
                running.destroy()
        finally:
            signal.signal(signal.SIGINT, previous_int)
            signal.signal(signal.SIGTERM, previous)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not report.results:
        return
    terminalreporter.section("cluster")
    for line in report.summary_lines:
        terminalreporter.write_line(line)
    terminalreporter.write_line(f"All figures: {os.path.relpath(report.save())}")
