"""The scaled-out deployment under load: primary + streaming replica, the machine's Redis,
three app instances behind nginx (docs/scaling.md).

The tests share one cluster and run in this order; each leaves it whole for the next, except
the last, which kills an instance. Load goes through nginx from client threads that record
every request (cluster/clients.py), or from wrk for throughput. Which server ran a statement
is measured on the servers themselves (pg_stat_statements, reset before each phase) and
cross-checked with each instance's per-alias query counters on /metrics.
"""

import http.client
import json
import os
import time
from dataclasses import dataclass

from cluster import report
from cluster.clients import Exchange, Recorder, ThreadGroup, creator, reader
from cluster.conftest import BENCH_READER, CREATORS, OTHER_USER, READERS, WRITERS
from cluster.counters import (
    StatementCounts,
    book_statements,
    difference,
    gauge_value,
    queries_by_alias,
    reset_statements,
)
from cluster.read_your_writes import ReadYourWritesRun
from cluster.throughput import measure, table
from cluster.topology import INSTANCES, Cluster
from harness.load import Budget, Outcome, describe, figures, isbn13
from harness.processes import wait_until

#: Share of the catalogue's SELECTs that must run on the replica while it is healthy: the
#: rest is what the router sends to the primary on purpose (none in a read-only phase by
#: users who have not written, but a check may catch the replica just over its lag bound).
REPLICA_READ_SHARE = 0.9
#: The replica's replay is held back by this much during the read-your-writes test: a read
#: from it right after a write would miss the write. Well under REPLICA_MAX_LAG_SECONDS
#: (2 s), so the router keeps using the replica (its lag estimate is the delay plus up to
#: one check interval).
REPLICA_APPLY_DELAY = "300ms"
#: Each test's ISBNs (harness.load.isbn13 numbers) are its own: never one of another test.
ISBN_BASE = {"writes": 1_000_000, "ryw": 2_000_000, "replica": 3_000_000, "kill": 4_000_000}


def failed(exchanges: list[Exchange], *, except_operations: tuple[str, ...] = ()) -> list[Outcome]:
    """The requests whose final answer (after the client's documented retries) was not 2xx."""
    return [
        exchange.outcome
        for exchange in exchanges
        if exchange.outcome.operation not in except_operations and not exchange.outcome.succeeded
    ]


def instance_queries(cluster: Cluster) -> list[dict[str, float]]:
    return [queries_by_alias(cluster.metrics(server)) for server in cluster.live_instances()]


def per_instance_difference(
    after: list[dict[str, float]], before: list[dict[str, float]]
) -> list[dict[str, int]]:
    return [difference(a, b) for a, b in zip(after, before, strict=True)]


def read_phase(cluster: Cluster, *, seconds: float, max_requests: int = 20_000) -> Recorder:
    """Authenticated GETs (books and list pages) by users who never write, through nginx."""
    recorder = Recorder(Budget(max_requests, seconds))
    targets = [
        reader(cluster.nginx_port, cluster.tokens[name], cluster.book_ids, recorder, seed=index)
        for index, name in enumerate(READERS)
    ]
    with ThreadGroup(recorder, targets) as group:
        group.wait()
    return recorder


@dataclass(frozen=True)
class MeasuredReads:
    """A read phase and where its statements ran: on each server, and per instance."""

    recorder: Recorder
    on_primary: StatementCounts
    on_replica: StatementCounts
    by_instance: list[dict[str, int]]

    @property
    def replica_share(self) -> float:
        total = self.on_primary.selects + self.on_replica.selects
        return self.on_replica.selects / total if total else 0.0

    def as_dict(self) -> dict[str, object]:
        return {
            "load": figures(self.recorder.outcomes()),
            "book_statements": {
                "primary": self.on_primary.as_dict(),
                "replica": self.on_replica.as_dict(),
            },
            "replica_share_of_book_selects": round(self.replica_share, 4),
            "queries_by_alias_per_instance": self.by_instance,
        }


def measured_read_phase(cluster: Cluster, *, seconds: float) -> MeasuredReads:
    """read_phase, with pg_stat_statements reset before and read after on both servers."""
    with cluster.primary_connection() as primary, cluster.replica_connection() as replica:
        metrics_before = instance_queries(cluster)
        reset_statements(primary, replica)
        recorder = read_phase(cluster, seconds=seconds)
        on_primary = book_statements(primary)
        on_replica = book_statements(replica)
    by_instance = per_instance_difference(instance_queries(cluster), metrics_before)
    return MeasuredReads(recorder, on_primary, on_replica, by_instance)


def test_reads_are_served_by_the_replica(cluster: Cluster) -> None:
    reads = measured_read_phase(cluster, seconds=4.0)
    exchanges = reads.recorder.all_exchanges()
    on_primary, on_replica, share = reads.on_primary, reads.on_replica, reads.replica_share
    book_selects = on_primary.selects + on_replica.selects
    by_instance = reads.by_instance
    report.record("reads_on_the_replica", reads.as_dict())
    assert not failed(exchanges), describe(failed(exchanges))
    assert len(exchanges) > 500, f"too little load to judge: {len(exchanges)} requests"
    assert share >= REPLICA_READ_SHARE, (
        f"only {share:.1%} of {book_selects} book SELECTs ran on the replica "
        f"(primary {on_primary.selects}, replica {on_replica.selects})"
    )
    # Every instance routes reads there, as its own counters say.
    assert all(counts.get("replica_1", 0) > 0 for counts in by_instance), by_instance


def test_writes_are_served_by_the_primary(cluster: Cluster) -> None:
    recorder = Recorder(Budget(2_000, 20.0))
    isbns = [
        [isbn13(ISBN_BASE["writes"] + index * 10_000 + number) for number in range(20)]
        for index in range(len(CREATORS))
    ]
    with cluster.primary_connection() as primary, cluster.replica_connection() as replica:
        reset_statements(primary, replica)
        targets = [
            creator(cluster.nginx_port, cluster.tokens[name], isbns[index], recorder)
            for index, name in enumerate(CREATORS)
        ]
        with ThreadGroup(recorder, targets) as group:
            group.wait()
        on_primary = book_statements(primary)
        on_replica = book_statements(replica)
    exchanges = recorder.all_exchanges()
    report.record(
        "writes_on_the_primary",
        {
            "load": figures(recorder.outcomes()),
            "book_statements": {"primary": on_primary.as_dict(), "replica": on_replica.as_dict()},
        },
    )
    assert not failed(exchanges), describe(failed(exchanges))
    created = sum(exchange.outcome.status == 201 for exchange in exchanges)
    assert created == sum(map(len, isbns))
    assert on_primary.by_command.get("insert", 0) >= created, on_primary
    assert on_replica.writes == 0, on_replica  # a hot standby refuses writes: a sanity check
    # What the primary took reaches the replica by streaming replication: every book, once.
    wait_until(cluster.replica.caught_up, timeout=10, what="the replica to replay the writes")
    sent = [isbn for isbns_of_one in isbns for isbn in isbns_of_one]
    with cluster.replica_connection() as replica:
        replicated = replica.execute(
            "SELECT isbn FROM books_book WHERE isbn = ANY(%s)", (sent,)
        ).fetchall()
    assert sorted(row[0] for row in replicated) == sorted(sent)


def test_every_client_reads_its_own_writes(cluster: Cluster) -> None:
    recorder = Recorder(Budget(10_000, 10.0))
    run = ReadYourWritesRun(recorder)
    with cluster.replica_connection() as replica:
        replica.execute(f"ALTER SYSTEM SET recovery_min_apply_delay = '{REPLICA_APPLY_DELAY}'")
        replica.execute("SELECT pg_reload_conf()")
        try:
            wait_until(
                lambda: _setting(cluster, "recovery_min_apply_delay") == REPLICA_APPLY_DELAY,
                timeout=5,
                what="the replica to take the apply delay",
            )
            targets = [
                run.writer(
                    index,
                    port=cluster.nginx_port,
                    token=cluster.tokens[name],
                    other_user_token=cluster.tokens[OTHER_USER],
                    replica=cluster.replica_connection,
                    cycles=25,
                    isbn_base=ISBN_BASE["ryw"],
                )
                for index, name in enumerate(WRITERS)
            ]
            with ThreadGroup(recorder, targets) as group:
                group.wait()
            replica_still_used = cluster.replica_healthy_everywhere()
        finally:
            replica.execute("ALTER SYSTEM RESET recovery_min_apply_delay")
            replica.execute("SELECT pg_reload_conf()")
    wait_until(cluster.replica.caught_up, timeout=10, what="the replica to catch up")
    exchanges = recorder.all_exchanges()
    notes = dict(recorder.notes)
    report.record(
        "read_your_writes",
        {
            "writers": len(WRITERS),
            "replica_apply_delay": REPLICA_APPLY_DELAY,
            "load": figures(recorder.outcomes()),
            "violations": [str(violation) for violation in run.violations],
            **notes,
        },
    )
    assert not run.violations, "\n".join(map(str, run.violations[:20]))
    # Another user's 404 is allowed (and expected): their reads may lag by design.
    assert not failed(exchanges, except_operations=("other_user_read",)), describe(
        failed(exchanges, except_operations=("other_user_read",))
    )
    assert notes.get("cycles", 0) >= 60, notes
    # The guarantee was needed: the replica really was behind the writers' acknowledged writes,
    # and another user's read (sent to the replica) really did miss them, while the router
    # still judged the replica fit to serve reads.
    assert notes.get("replica_missing", 0) > 0, notes
    assert notes.get("other_user_missing", 0) > 0, notes
    assert replica_still_used


def _setting(cluster: Cluster, name: str) -> str:
    with cluster.replica_connection() as connection:
        row = connection.execute(f"SHOW {name}").fetchone()
    return str(row[0]) if row else ""


def test_stopping_the_replica_costs_no_failed_request(cluster: Cluster) -> None:
    recorder = Recorder(Budget(30_000, 7.0))
    targets = [
        reader(cluster.nginx_port, cluster.tokens[name], cluster.book_ids, recorder, seed=index)
        for index, name in enumerate(READERS[:4])
    ]
    isbns = [isbn13(ISBN_BASE["replica"] + number) for number in range(2_000)]
    targets.append(creator(cluster.nginx_port, cluster.tokens[CREATORS[0]], isbns, recorder))
    with ThreadGroup(recorder, targets) as group:
        time.sleep(2.0)
        stopped_at = time.monotonic()
        cluster.replica.stop("immediate")
        noticed = wait_until(
            lambda: not _replica_healthy_anywhere(cluster),
            timeout=5,
            what="every instance to stop using the stopped replica",
        )
        group.wait()
    exchanges = recorder.all_exchanges()
    after_stop = [e for e in exchanges if e.outcome.started >= stopped_at]
    reads_after_stop = [e for e in after_stop if e.outcome.operation in ("read", "list")]

    cluster.replica.start()
    restarted_at = time.monotonic()
    wait_until(cluster.replica.caught_up, timeout=20, what="the restarted replica to catch up")
    wait_until(
        cluster.replica_healthy_everywhere,
        timeout=20,
        what="every instance to use the restarted replica again",
    )
    back_after = time.monotonic() - restarted_at
    again = measured_read_phase(cluster, seconds=2.0)
    report.record(
        "replica_stopped",
        {
            "load": figures(recorder.outcomes()),
            "requests_sent_after_the_stop": len(after_stop),
            "reads_sent_after_the_stop": len(reads_after_stop),
            "seconds_until_every_instance_noticed": round(noticed, 3),
            "seconds_until_used_again_after_restart": round(back_after, 3),
            "after_restart": again.as_dict(),
        },
    )
    assert not failed(exchanges), describe(failed(exchanges))
    assert len(reads_after_stop) > 200, "too few reads while the replica was down"
    again_exchanges = again.recorder.all_exchanges()
    assert not failed(again_exchanges), describe(failed(again_exchanges))
    assert again.replica_share >= REPLICA_READ_SHARE, (again.on_primary, again.on_replica)
    assert all(counts.get("replica_1", 0) > 0 for counts in again.by_instance), again.by_instance


def _replica_healthy_anywhere(cluster: Cluster) -> bool:
    return any(
        gauge_value(cluster.metrics(server), "bookstore_replica_healthy", database="replica_1")
        == 1.0
        for server in cluster.live_instances()
    )


def test_a_rate_limit_counts_across_instances(cluster: Cluster) -> None:
    """Throttle counters live in Redis: sign-in's limit (10 a minute per client address)
    counts the attempts that every instance answered, not each instance's own."""
    limit = 10
    # A fixed one-minute window: start well inside one, so the attempts share it.
    if time.time() % 60 > 50:
        time.sleep(61 - time.time() % 60)
    log_before = len(cluster.nginx_access_log())
    statuses = []
    for attempt in range(limit + 2):
        connection = http.client.HTTPConnection("127.0.0.1", cluster.nginx_port, timeout=10)
        try:
            body = json.dumps({"username": "nobody", "password": f"wrong-{attempt}"})
            connection.request(
                "POST", "/auth/token/", body, headers={"Content-Type": "application/json"}
            )
            statuses.append(connection.getresponse().status)
        finally:
            connection.close()
    answered_by = {
        entry["upstream_addr"]
        for entry in cluster.nginx_access_log()[log_before:]
        if entry["uri"] == "/auth/token/"
    }
    report.record("rate_limit", {"statuses": statuses, "instances": sorted(answered_by)})
    assert len(answered_by) == INSTANCES, answered_by
    assert all(400 <= status < 500 and status != 429 for status in statuses[:limit]), statuses
    assert statuses[limit:] == [429, 429], statuses


def test_throughput_with_one_two_and_three_instances(cluster: Cluster) -> None:
    steps = []
    served_by: list[set[str]] = []  # the instances nginx sent each step's requests to
    try:
        for count in range(1, INSTANCES + 1):
            cluster.use_instances(count)
            log_before = len(cluster.nginx_access_log())
            steps.append(
                measure(
                    cluster.nginx_port,
                    token=cluster.tokens[BENCH_READER],
                    book_ids=cluster.book_ids,
                    instances=count,
                )
            )
            served_by.append(
                {entry["upstream_addr"] for entry in cluster.nginx_access_log()[log_before:]}
            )
    finally:
        cluster.use_instances(INSTANCES)
    cores = os.cpu_count() or 0
    lines = table(steps, cores)
    report.summary_lines.extend(lines)
    report.record("throughput", {"cores": cores, "steps": [step.as_dict() for step in steps]})
    for step, instances in zip(steps, served_by, strict=True):
        assert step.result.requests > 0, step
        assert step.result.errors == 0, step.as_dict()
        assert len(instances) == step.instances, instances


def test_killing_an_instance_costs_no_failed_request(cluster: Cluster) -> None:
    recorder = Recorder(Budget(30_000, 7.0))
    # Anonymous readers (answered from the shared read cache when it holds the page) and
    # signed-in ones (through Django, from the replica), beside the writers.
    reader_tokens = [None, None, cluster.tokens[READERS[0]], cluster.tokens[READERS[1]]]
    targets = [
        reader(cluster.nginx_port, token, cluster.book_ids, recorder, seed=index)
        for index, token in enumerate(reader_tokens)
    ]
    isbns = [
        [isbn13(ISBN_BASE["kill"] + index * 10_000 + number) for number in range(5_000)]
        for index in range(len(CREATORS))
    ]
    targets += [
        creator(cluster.nginx_port, cluster.tokens[name], isbns[index], recorder)
        for index, name in enumerate(CREATORS)
    ]
    victim = cluster.instances[-1]
    log_before = len(cluster.nginx_access_log())
    with ThreadGroup(recorder, targets) as group:
        time.sleep(2.0)
        served_before_the_kill = sum(
            entry["upstream_addr"] == f"127.0.0.1:{victim.port}"
            for entry in cluster.nginx_access_log()[log_before:]
        )
        killed_at = time.monotonic()
        victim.kill()
        group.wait()
    exchanges = recorder.all_exchanges()
    creates = [e for e in exchanges if e.outcome.operation == "create"]
    retried = [e for e in creates if e.earlier_attempts]
    created = {e.outcome.isbn: e.outcome.book_id for e in creates if e.outcome.status == 201}
    sent = [isbn for isbns_of_one in isbns for isbn in isbns_of_one]
    with cluster.primary_connection() as primary:
        stored = primary.execute(
            "SELECT isbn, count(*), min(id) FROM books_book WHERE isbn = ANY(%s) GROUP BY isbn",
            (sent,),
        ).fetchall()
    duplicates = [row for row in stored if row[1] != 1]
    # nginx lists every instance it tried: two addresses, a request it passed on after the
    # first one failed.
    passed_on = [
        entry
        for entry in cluster.nginx_access_log()[log_before:]
        if "," in entry["upstream_addr"] and f":{victim.port}" in entry["upstream_addr"]
    ]
    report.record(
        "instance_killed",
        {
            "load": figures(recorder.outcomes()),
            "requests_sent_after_the_kill": sum(e.outcome.started >= killed_at for e in exchanges),
            "creates": len(creates),
            "creates_retried_by_the_client": len(retried),
            "raw_statuses_retried": [list(e.earlier_attempts) for e in retried],
            "creates_answered_by_a_replay": sum(e.replayed for e in creates),
            "books_stored": len(stored),
            "duplicate_isbns": len(duplicates),
            "requests_nginx_passed_on_from_the_killed_instance": {
                method: sum(entry["method"] == method for entry in passed_on)
                for method in sorted({entry["method"] for entry in passed_on})
            },
        },
    )
    # The victim was serving its share, and nginx met it dead (and passed requests on).
    assert served_before_the_kill > 50, served_before_the_kill
    assert passed_on, "nginx never met the killed instance"
    assert not failed(exchanges), describe(failed(exchanges))
    assert sum(e.outcome.started >= killed_at for e in exchanges) > 200
    assert not duplicates, duplicates
    # Every acknowledged create is exactly one stored book, the one the client was told of,
    # and nothing was stored that the client was not told of.
    assert {row[0]: row[2] for row in stored} == created
