"""PostgreSQL restarts under load: fast 503s while it is down, recovery by itself, no lost write.

Two restarts: `fast` (a clean shutdown: sessions are ended, a checkpoint is written) and
`immediate` (as a crash: sessions are cut, the next start replays the WAL).

The guarantee tested: every request sent while the database is stopping, down or starting is
answered within a second, with a 2xx if it was served before the stop or after the start, and
otherwise with a 503 JSON `{"detail": ...}` and `Retry-After: 1`; nothing else (no 500, no
connection dropped). The one exception is an anonymous read the read cache holds
(books.hot_path): it is still answered 200 while the database is down, and never with a version
older than the last one acknowledged to that client. /readyz is 503 naming the database while
it is down and 200 after. The app recovers without a restart: the same granian workers serve
2xx again once the database is back. Every write answered 2xx is in the database afterwards,
at its acknowledged version or later.
"""

import time

import pytest

from faults.conftest import DATABASE, write_report
from harness.app import AppServer
from harness.load import (
    Load,
    Outcome,
    api_requests,
    between,
    describe,
    figures,
    readiness_figures,
    sent_between,
    slowest,
)
from harness.postgres import PrivatePostgres
from harness.processes import wait_until

STEADY_SECONDS = 3.0
OUTAGE_SECONDS = 4.0
AFTER_SECONDS = 3.0
#: The promise to clients: an answer within this many seconds, even with the database down.
FAIL_FAST_SECONDS = 1.0
#: After the database accepts connections again, requests sent this much later all succeed.
RECOVERY_SECONDS = 1.0


@pytest.mark.parametrize("shutdown", ["fast", "immediate"])
def test_postgres_restart_fails_fast_recovers_and_keeps_every_acknowledged_write(
    app: AppServer, postgres: PrivatePostgres, token: str, shutdown: str
) -> None:
    workers_before = app.worker_pids()
    with Load(app.port, token, writers=4, max_requests=20_000, max_seconds=45) as load:
        time.sleep(STEADY_SECONDS)
        stopping = time.monotonic()
        postgres.stop(shutdown)
        down = time.monotonic()
        time.sleep(OUTAGE_SECONDS)
        starting = time.monotonic()
        postgres.start()
        up = time.monotonic()
        recovered_after = wait_until(
            lambda: any(
                outcome.operation == "create" and outcome.succeeded and outcome.started >= up
                for outcome in load.outcomes()
            ),
            timeout=15,
            what="a write to succeed after the database came back",
        )
        time.sleep(AFTER_SECONDS)
    workers_after = app.worker_pids()
    outcomes = load.outcomes()
    requests = api_requests(outcomes)
    probes = [outcome for outcome in outcomes if outcome.operation == "readyz"]
    # While the server was stopping, down or starting: every answer must be fast.
    unsettled = sent_between(outcomes, stopping, up)
    # While it was entirely down: every answer must be the 503.
    while_down = between(requests, down, starting)
    probes_down = between(probes, down, starting)
    after_recovery = sent_between(requests, up + RECOVERY_SECONDS, float("inf"))
    probes_after = sent_between(probes, up + RECOVERY_SECONDS, float("inf"))
    unavailable = [outcome for outcome in requests if outcome.status == 503]

    creates = [outcome for outcome in requests if outcome.operation == "create"]
    updates = [outcome for outcome in requests if outcome.operation == "update"]
    acknowledged_isbns = {outcome.isbn for outcome in creates if outcome.succeeded}
    refused_isbns = {outcome.isbn for outcome in creates if not outcome.succeeded}
    with postgres.connect(DATABASE) as connection:
        rows = connection.execute(
            "SELECT isbn, id, version FROM books_book WHERE isbn = ANY(%s)",
            [sorted(acknowledged_isbns | refused_isbns)],
        ).fetchall()
    stored = {isbn: (book_id, version) for isbn, book_id, version in rows}
    missing = sorted(acknowledged_isbns - set(stored))
    # A book's version in the database is at least the last one a 2xx acknowledged (an update
    # answered 503 may still have been committed, so it can be later).
    behind = [
        (book_id, version, stored.get(isbn))
        for book_id, (isbn, version) in load.acknowledged.items()
        if isbn not in stored or stored[isbn][1] < version
    ]

    report = {
        "scenario": f"postgres-restart-{shutdown}",
        "stop_took_s": round(down - stopping, 3),
        "outage_seconds": round(starting - down, 2),
        "start_took_s": round(up - starting, 3),
        "first_write_2xx_after_start_s": round(recovered_after, 3),
        "all_requests": figures(requests),
        "slowest_request": slowest(requests, origin=stopping),
        "while_stopping_down_or_starting": figures(api_requests(unsettled)),
        "while_down": figures(while_down),
        "while_down_served_from_read_cache": sum(map(from_read_cache, while_down)),
        "after_recovery": figures(after_recovery),
        "readyz_while_down": readiness_figures(probes_down),
        "readyz_after_recovery": readiness_figures(probes_after),
        "creates_sent": len(creates),
        "creates_acknowledged": len(acknowledged_isbns),
        "creates_acknowledged_found_in_database": len(acknowledged_isbns & set(stored)),
        "creates_not_acknowledged": len(refused_isbns),
        "creates_not_acknowledged_yet_stored": len(refused_isbns & set(stored)),
        "updates_sent": len(updates),
        "updates_acknowledged": sum(outcome.succeeded for outcome in updates),
        "books_behind_their_acknowledged_version": len(behind),
        "workers_restarted": sorted(workers_before - workers_after),
    }
    write_report(f"postgres-restart-{shutdown}", report)

    assert while_down, "no request was sent while the database was down"
    assert all(outcome.is_json_503 or from_read_cache(outcome) for outcome in while_down), describe(
        outcome for outcome in while_down if not (outcome.is_json_503 or from_read_cache(outcome))
    )
    stale = [
        outcome
        for outcome in while_down
        if outcome.operation == "read" and outcome.succeeded
        if (outcome.version or 0) < (outcome.acknowledged_version or 0)
    ]
    assert not stale, describe(stale)
    slow = [outcome for outcome in unsettled if outcome.seconds >= FAIL_FAST_SECONDS]
    assert not slow, describe(slow)
    assert all(outcome.succeeded or outcome.is_json_503 for outcome in requests), describe(
        outcome for outcome in requests if not (outcome.succeeded or outcome.is_json_503)
    )
    assert all(outcome.retry_after == "1" for outcome in unavailable)
    assert probes_down, "/readyz was not asked while the database was down"
    assert all(
        probe.status == 503 and probe.body["checks"]["database"] == "unavailable"
        for probe in probes_down
    ), describe(probes_down)
    assert after_recovery, "no request was sent after the recovery"
    assert all(outcome.succeeded for outcome in after_recovery), describe(
        outcome for outcome in after_recovery if not outcome.succeeded
    )
    assert probes_after
    assert all(probe.status == 200 for probe in probes_after), describe(probes_after)
    assert workers_after == workers_before, "the app had to restart workers to recover"
    assert not missing, (
        f"{len(missing)} acknowledged creates are not in the database: {missing[:5]}"
    )
    assert not behind, behind[:10]


def from_read_cache(outcome: Outcome) -> bool:
    """An anonymous read answered 200 while the database was down: only the cache can."""
    return outcome.operation in ("read", "list") and outcome.succeeded
