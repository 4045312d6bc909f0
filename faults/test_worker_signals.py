"""granian's workers under signals: a killed worker is replaced, a stopped server drains.

- SIGKILL to one worker (as the kernel's OOM killer would): granian's main process starts a
  replacement (respawn_failed_workers, deploy/server.py) and the other worker goes on
  serving. Only requests that worker was serving at that instant can fail, and they fail as a
  dropped connection (the process is gone), never as an HTTP error; every request sent after
  the kill succeeds. Without net.ipv4.tcp_migrate_req=1, connections queued on the killed
  worker's own socket until it has exited (milliseconds) are reset as well.
- SIGTERM to the main process (a deploy, a scale-down): the server stops taking new
  connections, the requests it is serving run to completion (up to SERVER_GRACEFUL_TIMEOUT),
  then it exits with status 0. The in-flight requests here are slow JSON Lines exports that a
  slow client keeps going for seconds after the signal; they must arrive whole.
"""

import json
import os
import signal
import subprocess
import threading
import time
from pathlib import Path

from faults.conftest import DATABASE, write_report
from harness.app import AppServer
from harness.load import Load, SlowDownload, describe, figures, sent_between
from harness.postgres import PrivatePostgres
from harness.processes import process_alive, wait_until

STEADY_SECONDS = 3.0
AFTER_SECONDS = 3.0
EXPORT_ROWS = 20_000
EXPORTS = 3
#: How long the exports are kept slow after SIGTERM: the server must still be there after it.
HOLD_SECONDS = 2.0
#: A short request sent this long before SIGTERM has been accepted by a worker. One sent later
#: may still wait in a worker's listen queue, which granian stops draining at SIGTERM: it is reset.
ACCEPTED_WITHIN_SECONDS = 0.25


def tcp_migrate_req_enabled() -> bool:
    """Whether this network namespace hands a closed listener's queued connections to its
    SO_REUSEPORT siblings (net.ipv4.tcp_migrate_req, Linux 5.14+)."""
    try:
        return Path("/proc/sys/net/ipv4/tcp_migrate_req").read_text().strip() == "1"
    except OSError:
        return False


class ExitWatcher(threading.Thread):
    """Notes when a process exits, and its exit status (None: not within a minute)."""

    def __init__(self, process: subprocess.Popen[bytes]) -> None:
        super().__init__(daemon=True)
        self.process = process
        self.code: int | None = None
        self.exited_at = float("inf")

    def run(self) -> None:
        try:
            self.code = self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            return
        self.exited_at = time.monotonic()

    def seconds_after(self, moment: float) -> float | None:
        return round(self.exited_at - moment, 3) if self.code is not None else None


def test_a_worker_killed_with_sigkill_is_replaced_and_other_requests_are_unaffected(
    app: AppServer, postgres: PrivatePostgres, token: str
) -> None:
    main_process = app.main_pid
    with Load(app.port, token, writers=4, max_requests=20_000, max_seconds=40) as load:
        time.sleep(STEADY_SECONDS)
        workers_before = app.worker_pids()
        victim = min(workers_before)
        os.kill(victim, signal.SIGKILL)
        killed = time.monotonic()
        exited = killed + wait_until(
            lambda: not process_alive(victim), timeout=5, interval=0.001, what="the victim to exit"
        )
        replaced_after = wait_until(
            lambda: victim not in app.worker_pids() and len(app.worker_pids()) == app.workers,
            timeout=15,
            what="granian to replace the killed worker",
        )
        workers_after = app.worker_pids()
        time.sleep(AFTER_SECONDS)
    outcomes = load.outcomes()  # the readiness probes are requests like any other here
    failed = [outcome for outcome in outcomes if not outcome.succeeded]
    in_flight = [outcome for outcome in outcomes if outcome.started <= killed <= outcome.finished]
    sent_after = sent_between(outcomes, killed, float("inf"))
    # Each granian worker listens on a socket of its own (SO_REUSEPORT). Connections the kernel
    # queued on the victim's socket, up to the moment the victim's sockets close (it has
    # exited), are reset with it, unless net.ipv4.tcp_migrate_req=1 hands them to the other
    # worker (deploy/server.py). gunicorn's workers shared one socket, so there it was only
    # the requests in flight at the kill; without the sysctl, it is also those sent between
    # the kill and the victim's exit (a few milliseconds).
    migrates_queue = tcp_migrate_req_enabled()
    lost_with_queue = [] if migrates_queue else sent_between(outcomes, killed, exited)
    sent_after_exit = sent_between(outcomes, exited, float("inf"))
    failed_creates = {outcome.isbn for outcome in failed if outcome.operation == "create"}
    with postgres.connect(DATABASE) as connection:
        (failed_creates_stored,) = connection.execute(
            "SELECT count(*) FROM books_book WHERE isbn = ANY(%s)", [sorted(failed_creates)]
        ).fetchone() or (0,)

    report = {
        "scenario": "worker-sigkill",
        "replacement_running_after_s": round(replaced_after, 3),
        "workers_before": len(workers_before),
        "workers_after": len(workers_after),
        "all_requests": figures(outcomes),
        "in_flight_at_kill": len(in_flight),
        "failed": len(failed),
        "failed_were_in_flight_at_kill": sum(outcome in in_flight for outcome in failed),
        "sent_after_kill": figures(sent_after),
        "victim_exited_after_kill_s": round(exited - killed, 4),
        "tcp_migrate_req": migrates_queue,
        "sent_between_kill_and_victim_exit": figures(sent_between(outcomes, killed, exited)),
        "sent_after_victim_exit": figures(sent_after_exit),
        "failed_creates_stored_anyway": failed_creates_stored,
    }
    write_report("worker-sigkill", report)

    assert app.process is not None
    assert app.process.poll() is None, "the main process died with its worker"
    assert app.main_pid == main_process
    assert len(workers_after - workers_before) == 1
    assert workers_before - workers_after == {victim}
    assert all(outcome in in_flight or outcome in lost_with_queue for outcome in failed), describe(
        failed
    )
    assert all(outcome.status is None for outcome in failed), describe(failed)
    must_succeed = sent_after if migrates_queue else sent_after_exit
    assert must_succeed
    assert all(outcome.succeeded for outcome in must_succeed), describe(
        outcome for outcome in must_succeed if not outcome.succeeded
    )


def test_sigterm_lets_in_flight_requests_finish_before_the_server_exits(
    app: AppServer, postgres: PrivatePostgres, token: str
) -> None:
    app.manage("seed_books", str(EXPORT_ROWS))
    process = app.process
    assert process is not None
    downloads = [
        SlowDownload(app.port, "/books/export/?format=jsonl", token, bytes_per_second=256 * 1024)
        for _ in range(EXPORTS)
    ]
    with Load(app.port, token, writers=2, max_requests=5_000, max_seconds=40) as load:
        for download in downloads:
            download.start()
        for download in downloads:
            assert download.headers_received.wait(timeout=15), "an export did not start"
        time.sleep(0.5)  # the exports are streaming, the short requests flowing
        watcher = ExitWatcher(process)
        watcher.start()
        terminated = time.monotonic()
        process.send_signal(signal.SIGTERM)
        time.sleep(HOLD_SECONDS)
        alive_while_held = process.poll() is None
        workers_while_held = len(app.worker_pids())
        released = time.monotonic()
        for download in downloads:
            download.release.set()
        for download in downloads:
            download.join(timeout=30)
        watcher.join(timeout=45)
    with postgres.connect(DATABASE) as connection:
        (rows,) = connection.execute("SELECT count(*) FROM books_book").fetchone() or (0,)
    outcomes = load.outcomes()
    before = [outcome for outcome in outcomes if outcome.started < terminated]
    in_flight = [outcome for outcome in before if outcome.finished > terminated]
    accepted_in_flight = [
        outcome for outcome in in_flight if outcome.started < terminated - ACCEPTED_WITHIN_SECONDS
    ]
    after = sent_between(outcomes, terminated, float("inf"))
    exports = [
        {
            "status": download.status,
            "error": download.error,
            "bytes": len(download.content),
            "lines": download.content.count(b"\n"),
            "finished_after_sigterm_s": round(download.finished_at - terminated, 3),
        }
        for download in downloads
    ]
    last_export_finished = max(download.finished_at for download in downloads)

    report = {
        "scenario": "server-sigterm",
        "exports_in_flight_at_sigterm": len(downloads),
        "exports": exports,
        "rows_in_database": rows,
        "server_alive_after_hold": alive_while_held,
        "workers_alive_after_hold": workers_while_held,
        "exit_code": watcher.code,
        "exited_after_sigterm_s": watcher.seconds_after(terminated),
        "exited_after_last_export_finished_s": watcher.seconds_after(last_export_finished),
        "short_requests_sent_before_sigterm": figures(before),
        "short_requests_in_flight_at_sigterm": figures(in_flight),
        "short_requests_in_flight_at_sigterm_sent_0_25_s_before": figures(accepted_in_flight),
        "short_requests_sent_after_sigterm": figures(after),
    }
    write_report("server-sigterm", report)

    for download in downloads:
        assert download.status == 200, download.error
        # A cut-off chunked response is an error (IncompleteRead): none, so each one is whole.
        assert not download.error, download.error
        assert download.finished_at > released, "the export ended before it was released"
        assert download.content.endswith(b"\n")
        ids = [json.loads(line)["id"] for line in download.content.decode().splitlines()]
        # The seeded books at least (the load adds more while the exports run), in id order.
        assert EXPORT_ROWS <= len(ids) <= rows, f"{len(ids)} rows arrived"
        assert ids == sorted(set(ids)), "rows repeated or out of order"
    assert alive_while_held, "the server exited while requests were in flight"
    assert workers_while_held >= 1
    assert watcher.code == 0, f"the server exited with {watcher.code}"
    assert watcher.exited_at > released
    # Short requests: whatever got an answer got a 2xx; those a worker had taken completed.
    answered = [outcome for outcome in outcomes if outcome.status is not None]
    assert all(outcome.succeeded for outcome in answered), describe(answered)
    assert all(outcome.succeeded for outcome in accepted_in_flight), describe(accepted_in_flight)
