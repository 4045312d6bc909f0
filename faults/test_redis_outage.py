"""Redis goes away under load: reads and writes go on from the database, with no 5xx.

Two ways to lose it:
- stopped: the process shuts down (connections refused) and comes back empty, as after a
  restart without persistence;
- frozen: the process stops answering but keeps every key (SIGSTOP, then SIGCONT), as during
  a network partition. The read cache (books/read_cache.py) keeps its entries here, so an
  invalidation that failed during the outage could leave a stale one behind: no read may come
  back older than the last acknowledged write.

The guarantee tested: no 5xx and no lost answer at any time; /readyz names the cache while it
is gone and is 200 again after; no read (during or after) returns a version older than the last
write acknowledged to that client; afterwards each book reads back at exactly the version its
last acknowledged write returned, and the database holds that version.
"""

import time
from typing import Any

import pytest

from faults.conftest import DATABASE, write_report
from harness.app import AppServer
from harness.load import (
    Load,
    api_requests,
    between,
    describe,
    figures,
    readiness_figures,
    send,
    sent_between,
    slowest,
    stale_reads,
    version_from_etag,
)
from harness.postgres import PrivatePostgres
from harness.processes import wait_until
from harness.redis import PrivateRedis

STEADY_SECONDS = 3.0
OUTAGE_SECONDS = 5.0
AFTER_SECONDS = 3.0


def break_redis(redis_server: PrivateRedis, outage: str) -> None:
    if outage == "stopped":
        redis_server.stop()
    else:
        redis_server.freeze()


def restore_redis(redis_server: PrivateRedis, outage: str) -> None:
    if outage == "stopped":
        redis_server.start()
    else:
        redis_server.thaw()


def readiness(outcome: Any) -> tuple[int | None, dict[str, str]]:
    body = outcome.body if isinstance(outcome.body, dict) else {}
    return outcome.status, body.get("checks", {})


@pytest.mark.parametrize("outage", ["stopped", "frozen"])
def test_redis_outage_costs_no_request_and_no_acknowledged_write(
    app: AppServer,
    postgres: PrivatePostgres,
    redis_server: PrivateRedis,
    token: str,
    outage: str,
) -> None:
    with Load(app.port, token, writers=4, max_requests=20_000, max_seconds=45) as load:
        time.sleep(STEADY_SECONDS)
        breaking = time.monotonic()
        break_redis(redis_server, outage)
        broken = time.monotonic()
        time.sleep(OUTAGE_SECONDS)
        restoring = time.monotonic()
        restore_redis(redis_server, outage)
        restored = time.monotonic()
        ready_again_after = wait_until(
            lambda: any(
                outcome.operation == "readyz"
                and outcome.status == 200
                and outcome.started >= restored
                for outcome in load.outcomes()
            ),
            timeout=15,
            what="/readyz to answer 200 again",
        )
        time.sleep(AFTER_SECONDS)
    outcomes = load.outcomes()
    requests = api_requests(outcomes)
    probes = [outcome for outcome in outcomes if outcome.operation == "readyz"]
    during = sent_between(requests, broken, restoring)
    probes_during = between(probes, broken, restoring)
    probes_after = [
        outcome for outcome in probes if outcome.started >= restored + ready_again_after
    ]

    # Afterwards every acknowledged book reads back, through the API and in the database, at
    # the version of its last acknowledged write.
    mismatched_reads = []
    for book_id, (_, version) in load.acknowledged.items():
        reply = send(app.port, "GET", f"/books/{book_id}/")
        if reply.status != 200 or version_from_etag(reply.headers.get("etag")) != version:
            mismatched_reads.append((book_id, version, reply.status, reply.headers.get("etag")))
    with postgres.connect(DATABASE) as connection:
        stored = dict(
            connection.execute(
                "SELECT id, version FROM books_book WHERE id = ANY(%s)",
                [list(load.acknowledged)],
            ).fetchall()
        )
    mismatched_rows = [
        (book_id, version, stored.get(book_id))
        for book_id, (_, version) in load.acknowledged.items()
        if stored.get(book_id) != version
    ]
    writes = [outcome for outcome in requests if outcome.operation in ("create", "update")]

    report = {
        "scenario": f"redis-{outage}",
        "outage_seconds": round(restoring - broken, 2),
        "break_took_s": round(broken - breaking, 3),
        "readyz_200_again_after_s": round(ready_again_after, 2),
        "all_requests": figures(requests),
        "slowest_request": slowest(requests, origin=breaking),
        "during_outage": figures(during),
        "readyz_during_outage": readiness_figures(probes_during),
        "writes_sent": len(writes),
        "writes_acknowledged": sum(outcome.succeeded for outcome in writes),
        "books_acknowledged": len(load.acknowledged),
        "books_read_back_at_acknowledged_version": len(load.acknowledged) - len(mismatched_reads),
        "books_in_database_at_acknowledged_version": len(load.acknowledged) - len(mismatched_rows),
        "stale_reads": len(stale_reads(requests)),
    }
    write_report(f"redis-{outage}", report)

    assert during, "no request was sent while Redis was down"
    server_errors = [
        outcome for outcome in requests if outcome.status is not None and outcome.status >= 500
    ]
    assert not server_errors, describe(server_errors)
    unanswered = [outcome for outcome in requests if outcome.status is None]
    assert not unanswered, describe(unanswered)
    assert all(outcome.succeeded for outcome in requests), describe(
        outcome for outcome in requests if not outcome.succeeded
    )
    assert not stale_reads(requests), describe(stale_reads(requests))
    assert probes_during, "/readyz was not asked while Redis was down"
    assert all(
        readiness(probe) == (503, {"database": "ok", "cache": "unavailable"})
        for probe in probes_during
    ), describe(probes_during)
    assert probes_after
    assert all(
        readiness(probe) == (200, {"database": "ok", "cache": "ok"}) for probe in probes_after
    )
    assert not mismatched_reads, mismatched_reads[:10]
    assert not mismatched_rows, mismatched_rows[:10]
