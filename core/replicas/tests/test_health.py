"""core.replicas.health: a replica serves reads while it answers and is no further behind the
primary than REPLICA_MAX_LAG_SECONDS, measured against samples of the primary's WAL position.

Two kinds of server: a second connection to the test database (a copy of the primary as
current as it gets: SQLite's path, or PostgreSQL not in recovery), and scripted PostgreSQL
servers standing in for a primary and a streaming replica, whose WAL positions and clock the
test moves.
"""

import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from django.db import DatabaseError
from prometheus_client import REGISTRY

from core.replicas import health as replica_health
from core.replicas.health import (
    PrimaryPositions,
    ReplicaHealth,
    get_replica_health,
    lsn_to_int,
    replica_aliases,
    reset_replica_health,
)
from core.replicas.tests.replicas import UNREACHABLE_POSTGRESQL, replica_alias, stop_checker_threads
from core.tests.conftest import LogLines

REPLICA = "replica_1"
MAX_LAG = 2.0

HealthFactory = Callable[..., ReplicaHealth]


@pytest.fixture(autouse=True)
def _forget_health() -> Iterator[None]:
    yield
    reset_replica_health()


@pytest.fixture
def replica(db: None) -> Iterator[str]:
    """replica_1: a second connection to the test database."""
    with replica_alias(REPLICA):
        yield REPLICA


@pytest.fixture
def unreachable(db: None) -> Iterator[str]:
    """replica_2: a PostgreSQL server that is not there."""
    with replica_alias("replica_2", UNREACHABLE_POSTGRESQL):
        yield "replica_2"


@pytest.fixture
def make_health() -> Iterator[HealthFactory]:
    """ReplicaHealth for the given aliases; any checker thread it starts is stopped after."""
    made: list[ReplicaHealth] = []

    def make(*aliases: str, **options: Any) -> ReplicaHealth:
        options = {"max_lag": MAX_LAG, "interval": 3600.0, **options}
        health = ReplicaHealth(aliases, **options)
        made.append(health)
        return health

    yield make
    for health in made:
        stop_checker_threads(health)


def gauge(name: str, alias: str) -> float | None:
    return REGISTRY.get_sample_value(name, {"database": alias})


def verdicts(logs: LogLines) -> list[tuple[str, str]]:
    return [
        (line["event"], line["database"])
        for line in logs()
        if line["event"] in ("replica_up", "replica_down")
    ]


# --- WAL positions --------------------------------------------------------------------------


def test_wal_positions_compare_as_numbers() -> None:
    assert lsn_to_int("0/0") == 0
    assert lsn_to_int("0/FF") < lsn_to_int("1/0")
    assert lsn_to_int("0/FFFFFFFF") + 1 == lsn_to_int("1/0")
    assert lsn_to_int("16/B374D848") == 0x16_B374_D848


def test_a_replica_that_replayed_no_sample_is_infinitely_stale() -> None:
    positions = PrimaryPositions()
    assert positions.staleness(100, now=5.0) == float("inf")

    positions.add(10.0, 100)

    assert positions.staleness(99, now=20.0) == float("inf")


def test_staleness_is_the_time_since_the_newest_sample_the_replica_has_replayed() -> None:
    positions = PrimaryPositions()
    for at, position in [(10.0, 100), (11.0, 200), (12.0, 300)]:
        positions.add(at, position)

    assert positions.staleness(100, now=15.0) == 5.0
    assert positions.staleness(250, now=15.0) == 4.0  # past the sample at 11, not at 12
    assert positions.staleness(300, now=15.0) == 3.0
    assert positions.staleness(10**9, now=15.0) == 3.0
    assert positions.staleness(300, now=11.0) == 0.0  # never negative


def test_an_idle_primary_keeps_a_replica_current() -> None:
    positions = PrimaryPositions()
    for at in (0.0, 1.0, 2.0, 3.0):
        positions.add(at, 100)  # no write: the position does not move

    assert positions.staleness(100, now=3.5) == 0.5


def test_samples_older_than_the_history_are_dropped() -> None:
    positions = PrimaryPositions(history_seconds=60.0)
    positions.add(0.0, 100)
    positions.add(30.0, 200)

    positions.add(61.0, 300)

    assert len(positions) == 2
    assert positions.staleness(150, now=70.0) == float("inf")
    assert positions.staleness(200, now=70.0) == 40.0


# --- checking a copy of the test database -------------------------------------------------


def test_a_reachable_current_copy_of_the_primary_is_healthy(
    replica: str, make_health: HealthFactory, json_logs: LogLines
) -> None:
    health = make_health(replica)

    assert health.check_all() == (replica,)
    assert gauge("bookstore_replica_healthy", replica) == 1
    assert gauge("bookstore_replica_lag_seconds", replica) == 0
    assert verdicts(json_logs) == [("replica_up", replica)]


def test_an_unreachable_replica_is_not_healthy(
    replica: str, unreachable: str, make_health: HealthFactory, json_logs: LogLines
) -> None:
    health = make_health(replica, unreachable)
    health._healthy = (replica, unreachable)

    assert health.check_all() == (replica,)
    assert gauge("bookstore_replica_healthy", unreachable) == 0
    assert verdicts(json_logs) == [("replica_down", unreachable)]


def test_a_replica_further_behind_than_the_bound_is_not_healthy(
    replica: str, make_health: HealthFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    health = make_health(replica)
    lag = {"seconds": MAX_LAG + 3}
    monkeypatch.setattr(health, "_replica_lag", lambda alias: lag["seconds"])

    assert health.check_all() == ()
    assert gauge("bookstore_replica_healthy", replica) == 0
    assert gauge("bookstore_replica_lag_seconds", replica) == MAX_LAG + 3

    lag["seconds"] = MAX_LAG  # at the bound: still good enough

    assert health.check_all() == (replica,)
    assert gauge("bookstore_replica_healthy", replica) == 1


def test_while_the_primary_cannot_be_sampled_replicas_keep_their_last_verdict(
    replica: str, unreachable: str, make_health: HealthFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    health = make_health(replica, unreachable)
    health._started_in_pid = os.getpid()  # the test runs the rounds: no checker thread
    assert health.check_all() == (replica,)

    monkeypatch.setattr(health, "_sample_primary", lambda at: False)

    assert health.check_all() == (replica,)
    assert health.check_all() == (replica,)
    assert health.healthy() == (replica,)  # while the last verdict is young enough


def test_mark_down_takes_a_replica_out_at_once(
    replica: str, make_health: HealthFactory, json_logs: LogLines
) -> None:
    health = make_health(replica)
    health.check_all()

    health.mark_down(replica)
    health.mark_down(replica)  # already out: said once

    assert health._healthy == ()
    assert gauge("bookstore_replica_healthy", replica) == 0
    assert verdicts(json_logs) == [("replica_up", replica), ("replica_down", replica)]


def marked_down_while_checked(
    health: ReplicaHealth, monkeypatch: pytest.MonkeyPatch
) -> Callable[[str], float | None]:
    """From now on, each replica's check passes while a request's query on it fails (and marks
    it down). Returns the real check, to put back."""
    check_replica = health._replica_lag

    def answers_while_a_request_finds_it_failing(alias: str) -> float | None:
        lag = check_replica(alias)  # the check passes...
        health.mark_down(alias)  # ...while a request's query on it fails
        return lag

    monkeypatch.setattr(health, "_replica_lag", answers_while_a_request_finds_it_failing)
    return check_replica


def test_a_replica_marked_down_during_a_round_stays_out_after_the_round(
    replica: str, make_health: HealthFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    health = make_health(replica)
    assert health.check_all() == (replica,)
    check_replica = marked_down_while_checked(health, monkeypatch)

    assert health.check_all() == ()
    assert health._healthy == ()

    monkeypatch.setattr(health, "_replica_lag", check_replica)  # the next round: back

    assert health.check_all() == (replica,)


def test_a_replica_marked_down_during_a_round_reads_as_out_on_its_gauge(
    replica: str, make_health: HealthFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    # bookstore_replica_healthy: "1 when a read replica may serve reads".
    health = make_health(replica)
    health.check_all()
    marked_down_while_checked(health, monkeypatch)
    health.check_all()

    assert health._healthy == ()
    assert gauge("bookstore_replica_healthy", replica) == 0


# --- the checker in each process ----------------------------------------------------------


def test_the_first_answer_in_a_process_comes_from_a_check(
    replica: str, unreachable: str, make_health: HealthFactory
) -> None:
    health = make_health(replica, unreachable)

    assert health.healthy() == (replica,)
    assert health._started_in_pid == os.getpid()


def test_a_forked_process_checks_again_instead_of_trusting_its_parent(
    replica: str, unreachable: str, make_health: HealthFactory
) -> None:
    health = make_health(replica, unreachable)
    health._healthy = (unreachable,)  # the parent's verdict, now wrong
    health._started_in_pid = os.getpid() + 1  # as if this process were the parent's fork

    assert health.healthy() == (replica,)
    assert health._started_in_pid == os.getpid()


def test_a_first_check_that_crashes_answers_no_replica_and_still_starts_the_checker(
    replica: str,
    make_health: HealthFactory,
    monkeypatch: pytest.MonkeyPatch,
    json_logs: LogLines,
) -> None:
    # The first read of a request triggers the first check: a crash there must not be a 500.
    health = make_health(replica)

    def crash() -> tuple[str, ...]:
        raise RuntimeError("a surprise in the first round")

    monkeypatch.setattr(health, "check_all", crash)
    checkers_before = checker_threads()

    assert health.healthy() == ()

    assert len(checker_threads()) == len(checkers_before) + 1
    assert health._started_in_pid == os.getpid()
    assert [line["event"] for line in json_logs()].count("replica_check_failed") == 1


def checker_threads() -> list[threading.Thread]:
    return [thread for thread in threading.enumerate() if thread.name == "replica-health"]


def test_the_checker_thread_brings_a_replica_back_after_a_failed_query(
    replica: str, make_health: HealthFactory
) -> None:
    health = make_health(replica, interval=0.05)
    assert health.healthy() == (replica,)

    health.mark_down(replica)
    assert health.healthy() == ()

    deadline = time.monotonic() + 10
    while health.healthy() != (replica,) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert health.healthy() == (replica,)


def test_stop_ends_the_checker_thread(replica: str, make_health: HealthFactory) -> None:
    health = make_health(replica, interval=0.05)
    health.healthy()
    assert "replica-health" in [thread.name for thread in threading.enumerate()]

    stop_checker_threads(health)

    assert "replica-health" not in [thread.name for thread in threading.enumerate()]


# --- the process's checker, from settings -----------------------------------------------------


def test_the_process_checks_the_replicas_settings_name_with_their_bounds(
    replica: str, settings: Any
) -> None:
    settings.REPLICA_MAX_LAG_SECONDS = 7.0
    settings.REPLICA_CHECK_INTERVAL_SECONDS = 3.0
    settings.READ_YOUR_WRITES_SECONDS = 13.0

    health = get_replica_health()

    assert replica_aliases() == (replica,)
    assert health.aliases == (replica,)
    assert (health.max_lag, health.interval) == (7.0, 3.0)
    # A verdict is trusted while a write it missed is still within the user's window.
    assert health.max_verdict_age == 6.0
    assert get_replica_health() is health


def test_reset_stops_the_checker_and_forgets_it(replica: str) -> None:
    health = get_replica_health()
    health.healthy()

    reset_replica_health()

    assert health._stop.is_set()
    stop_checker_threads(health)
    assert get_replica_health() is not health


# --- scripted PostgreSQL servers: a primary and a streaming replica --------------------------


class ScriptedServer:
    """A PostgreSQL connection that answers the checker's two queries from its attributes."""

    vendor = "postgresql"

    def __init__(self, *, position: str = "0/100", in_recovery: bool = False) -> None:
        self.position = position  # pg_current_wal_insert_lsn() on a primary
        self.in_recovery = in_recovery
        self.replayed: str | None = None  # pg_last_wal_replay_lsn() on a replica
        self.reachable = True
        self.closed = 0
        #: Called as each query runs: a test moves its clock there (a slow server).
        self.while_answering: Callable[[], None] = lambda: None

    @contextmanager
    def cursor(self) -> Iterator["ScriptedCursor"]:
        if not self.reachable:
            raise DatabaseError("connection refused")
        yield ScriptedCursor(self)

    def close(self) -> None:
        self.closed += 1


class ScriptedCursor:
    def __init__(self, server: ScriptedServer) -> None:
        self.server = server
        self.sql = ""

    def execute(self, sql: str) -> None:
        self.sql = sql
        self.server.while_answering()

    def fetchone(self) -> tuple[Any, ...]:
        if "pg_current_wal_insert_lsn()" in self.sql:
            return (self.server.position,)
        if "pg_is_in_recovery()" in self.sql:
            return (self.server.in_recovery, self.server.replayed)
        raise AssertionError(f"no scripted answer to {self.sql!r}")


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def primary() -> ScriptedServer:
    return ScriptedServer(position="0/100")


@pytest.fixture
def streaming(primary: ScriptedServer, monkeypatch: pytest.MonkeyPatch) -> ScriptedServer:
    """A streaming replica that has replayed everything the primary has so far."""
    server = ScriptedServer(in_recovery=True)
    server.replayed = primary.position
    monkeypatch.setattr(replica_health, "connections", {"default": primary, REPLICA: server})
    return server


#: The scripted checker's: three intervals of one second (ReplicaHealth's default).
MAX_VERDICT_AGE = 3.0


@pytest.fixture
def scripted_health(streaming: ScriptedServer, clock: Clock) -> ReplicaHealth:
    """Checked by the test alone: marked as started in this process, so no thread runs."""
    health = ReplicaHealth([REPLICA], max_lag=MAX_LAG, interval=1.0, clock=clock)
    health._started_in_pid = os.getpid()
    return health


def test_a_streaming_replica_that_replayed_the_primarys_position_is_healthy(
    scripted_health: ReplicaHealth, clock: Clock
) -> None:
    assert scripted_health.check_all() == (REPLICA,)
    assert gauge("bookstore_replica_lag_seconds", REPLICA) == 0


def test_a_streaming_replica_is_as_stale_as_the_newest_primary_sample_it_replayed(
    scripted_health: ReplicaHealth, primary: ScriptedServer, clock: Clock
) -> None:
    assert scripted_health.check_all() == (REPLICA,)  # replayed 0/100, sampled at 1000

    for second in range(1, 5):  # the primary writes; the replica replays nothing more
        clock.now = 1000.0 + second
        primary.position = f"0/{0x100 + second:X}"
        healthy = scripted_health.check_all()
        assert gauge("bookstore_replica_lag_seconds", REPLICA) == second
        assert healthy == ((REPLICA,) if second <= MAX_LAG else ())


def test_a_streaming_replica_of_an_idle_primary_stays_healthy(
    scripted_health: ReplicaHealth, clock: Clock
) -> None:
    for second in range(10):  # no write: the position never moves
        clock.now = 1000.0 + second
        assert scripted_health.check_all() == (REPLICA,)


def test_a_replica_that_has_replayed_nothing_yet_is_not_healthy(
    scripted_health: ReplicaHealth, streaming: ScriptedServer
) -> None:
    streaming.replayed = None

    assert scripted_health.check_all() == ()
    assert gauge("bookstore_replica_healthy", REPLICA) == 0


def test_an_unreachable_streaming_replica_is_not_healthy_and_its_connection_is_closed(
    scripted_health: ReplicaHealth, streaming: ScriptedServer
) -> None:
    assert scripted_health.check_all() == (REPLICA,)
    streaming.reachable = False

    assert scripted_health.check_all() == ()
    assert streaming.closed == 1


def test_a_replica_that_answers_keeps_its_verdict_through_a_primary_outage_until_it_ages_out(
    scripted_health: ReplicaHealth, primary: ScriptedServer, clock: Clock
) -> None:
    # Without a sample of the primary no replica can be shown current: the last verdict
    # holds for max_verdict_age, then reads go to the primary until the primary is back.
    assert scripted_health.check_all() == (REPLICA,)
    primary.reachable = False

    for second in range(1, 11):  # a ten-second primary outage, checked every second
        clock.now = 1000.0 + second
        scripted_health.check_all()
        expected = (REPLICA,) if second <= MAX_VERDICT_AGE else ()
        assert scripted_health.healthy() == expected, f"{second} s into the outage"

    primary.reachable = True
    clock.now = 1011.0
    scripted_health.check_all()

    assert scripted_health.healthy() == (REPLICA,)


def test_a_replica_that_is_down_reads_as_infinitely_behind(
    scripted_health: ReplicaHealth, streaming: ScriptedServer
) -> None:
    # A stale 0 would read as a perfectly current replica.
    assert scripted_health.check_all() == (REPLICA,)
    assert gauge("bookstore_replica_lag_seconds", REPLICA) == 0
    streaming.reachable = False

    assert scripted_health.check_all() == ()
    assert gauge("bookstore_replica_lag_seconds", REPLICA) == float("inf")


def test_a_replica_that_stops_answering_during_a_primary_outage_is_down(
    scripted_health: ReplicaHealth, primary: ScriptedServer, streaming: ScriptedServer
) -> None:
    # Its last verdict is kept only while it still answers.
    assert scripted_health.check_all() == (REPLICA,)
    primary.reachable = streaming.reachable = False

    assert scripted_health.check_all() == ()


# --- how long a verdict is trusted ---------------------------------------------------------


def test_a_verdict_older_than_max_verdict_age_sends_every_read_to_the_primary(
    scripted_health: ReplicaHealth, clock: Clock
) -> None:
    # A round that hangs (a replica that does not answer) publishes nothing: the last
    # verdict may no longer be true, so it is not used.
    assert scripted_health.check_all() == (REPLICA,)

    clock.now = 1000.0 + MAX_VERDICT_AGE
    assert scripted_health.healthy() == (REPLICA,)  # as old as allowed: still used

    clock.now = 1000.0 + MAX_VERDICT_AGE + 0.01
    assert scripted_health.healthy() == ()

    scripted_health.check_all()  # a new round: a fresh verdict
    assert scripted_health.healthy() == (REPLICA,)


def test_max_verdict_age_defaults_to_three_intervals_and_may_be_given(clock: Clock) -> None:
    assert ReplicaHealth([REPLICA], max_lag=2, interval=1.5, clock=clock).max_verdict_age == 4.5
    given = ReplicaHealth([REPLICA], max_lag=2, interval=1.5, max_verdict_age=10, clock=clock)
    assert given.max_verdict_age == 10


def test_a_verdict_ages_from_the_start_of_the_round_that_made_it(
    scripted_health: ReplicaHealth, streaming: ScriptedServer, clock: Clock
) -> None:
    # The round's replica answers 2 s after the round began: what it replayed is as of then.
    def slow() -> None:
        clock.now += 2.0

    streaming.while_answering = slow

    scripted_health.check_all()  # began at 1000, finished at 1002
    clock.now = 1000.0 + MAX_VERDICT_AGE + 0.01

    assert scripted_health.healthy() == ()


def test_a_primary_sample_is_dated_when_the_round_began_not_when_it_answered(
    scripted_health: ReplicaHealth, primary: ScriptedServer, clock: Clock
) -> None:
    # A commit acknowledged while the primary's query ran may not be in the position it
    # answers; dated at the answer, a replica holding that position would look current.
    def slow() -> None:
        clock.now += 1.5

    primary.while_answering = slow

    scripted_health.check_all()  # began at 1000; the primary answered at 1001.5

    assert scripted_health.positions._times[-1] == 1000.0
    assert gauge("bookstore_replica_lag_seconds", REPLICA) == 1.5


def test_the_primary_is_sampled_at_its_insert_position(
    scripted_health: ReplicaHealth, primary: ScriptedServer
) -> None:
    # With synchronous_commit off a commit is acknowledged before its WAL is written out:
    # pg_current_wal_lsn() may be behind it, the insert position never is.
    queries: list[str] = []
    original_cursor = primary.cursor

    @contextmanager
    def recording_cursor() -> Iterator[ScriptedCursor]:
        with original_cursor() as cursor:
            yield cursor
            queries.append(cursor.sql)

    primary.cursor = recording_cursor  # type: ignore[method-assign]

    scripted_health.check_all()

    assert queries == ["SELECT pg_current_wal_insert_lsn()::text"]


# --- the gauges across worker processes -------------------------------------------------------


def test_the_gauges_keep_only_live_workers_values_worst_first() -> None:
    # With several server workers, a dead worker's value must leave /metrics with it, and the
    # aggregate is the worst a live worker sees: the highest lag, the lowest "healthy".
    assert replica_health.REPLICA_LAG._multiprocess_mode == "livemax"
    assert replica_health.REPLICA_HEALTHY._multiprocess_mode == "livemin"
