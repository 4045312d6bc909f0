"""Which read replicas may serve reads now: up, and no further behind the primary than allowed.

Each process checks its replicas in a background thread every REPLICA_CHECK_INTERVAL_SECONDS. A
replica's lag is measured against the primary's own WAL position rather than from the replica's
replay timestamp alone: every round samples `pg_current_wal_insert_lsn()` on the primary, then
each replica's `pg_last_wal_replay_lsn()`. A replica that has replayed the sample taken at time
t holds every transaction committed before t, so its staleness is at most now - t for the
newest such sample. This holds when the primary is idle (its position does not move) and when
the replica has silently lost its connection to the primary (its position stops), where a
replay timestamp would say nothing or mislead.

A replica that fails a check or a query is out until a check passes again. A verdict is only
trusted for `max_verdict_age` seconds (READ_YOUR_WRITES_SECONDS - REPLICA_MAX_LAG_SECONDS):
if the checks stop publishing (a round hangs on a replica that does not answer, or the
primary cannot be sampled, so no replica can be proven current), reads go to the primary.
That keeps the read-your-writes window sound whatever the checker is doing.
"""

import bisect
import os
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence

import structlog
from django.conf import settings
from django.db import DatabaseError, connections
from prometheus_client import Gauge

logger = structlog.stdlib.get_logger(__name__)

PRIMARY = "default"

REPLICA_LAG = Gauge(
    "bookstore_replica_lag_seconds",
    "Upper bound of a read replica's staleness at its last check (+Inf while unreachable).",
    ["database"],
    # live: a dead worker's value leaves /metrics with it (core.metrics.forget_exited_workers).
    multiprocess_mode="livemax",
)
REPLICA_HEALTHY = Gauge(
    "bookstore_replica_healthy",
    "1 when a read replica may serve reads (up and within REPLICA_MAX_LAG_SECONDS), else 0.",
    ["database"],
    multiprocess_mode="livemin",
)

#: A replica still catching up after this long, with no sample of the primary it has
#: replayed, is judged by the oldest sample kept: samples older than this are dropped.
SAMPLE_HISTORY_SECONDS = 60.0


def lsn_to_int(lsn: str) -> int:
    """A PostgreSQL WAL position ('16/B374D848') as a number, for comparing."""
    high, _, low = lsn.partition("/")
    return (int(high, 16) << 32) | int(low, 16)


class PrimaryPositions:
    """Recent samples of the primary's WAL position, to date a replica's replay position."""

    def __init__(self, history_seconds: float = SAMPLE_HISTORY_SECONDS) -> None:
        self.history_seconds = history_seconds
        self._times: deque[float] = deque()
        self._positions: deque[int] = deque()

    def add(self, at: float, position: int) -> None:
        self._times.append(at)
        self._positions.append(position)
        while self._times and at - self._times[0] > self.history_seconds:
            self._times.popleft()
            self._positions.popleft()

    def staleness(self, replayed: int, now: float) -> float:
        """Seconds the replica may be behind: since the newest sample it has replayed.

        Positions only grow, so the samples are sorted; infinity if it has replayed none.
        """
        replayed_samples = bisect.bisect_right(self._positions, replayed)
        if replayed_samples == 0:
            return float("inf")
        return max(0.0, now - self._times[replayed_samples - 1])

    def __len__(self) -> int:
        return len(self._times)


class ReplicaHealth:
    """The per-process verdict on each replica, kept fresh by a background thread.

    `healthy()` is what the router asks on every read: it only reads a tuple. The first call
    in a process (and after a fork: granian's workers) checks once before answering, so a
    replica that is down at start-up is never tried, then starts the thread.
    """

    def __init__(
        self,
        aliases: Sequence[str],
        *,
        max_lag: float,
        interval: float,
        max_verdict_age: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.aliases = tuple(aliases)
        self.max_lag = max_lag
        self.interval = interval
        self.max_verdict_age = 3 * interval if max_verdict_age is None else max_verdict_age
        self.clock = clock
        self.positions = PrimaryPositions()
        self._healthy: tuple[str, ...] = ()
        self._verdict_at = float("-inf")  # when the round that made the verdict began
        self._marked_down: set[str] = set()  # during the round under way
        self._lock = threading.Lock()
        self._started_in_pid: int | None = None
        self._stop = threading.Event()

    # --- what the router asks --------------------------------------------------------

    def healthy(self) -> tuple[str, ...]:
        if self._started_in_pid != os.getpid():
            self._start()
        if self.clock() - self._verdict_at > self.max_verdict_age:
            return ()  # the checks have stopped: no replica can be shown to be current
        return self._healthy

    def mark_down(self, alias: str) -> None:
        """A query on `alias` failed: no more reads there until a check passes."""
        with self._lock:
            if alias in self._healthy:
                logger.warning("replica_down", database=alias, reason="query failed")
            self._healthy = tuple(name for name in self._healthy if name != alias)
            self._marked_down.add(alias)
        REPLICA_HEALTHY.labels(database=alias).set(0)

    # --- checking --------------------------------------------------------------------

    def _start(self) -> None:
        with self._lock:
            if self._started_in_pid == os.getpid():
                return
            self._started_in_pid = os.getpid()
            # A forked child inherits the parent's samples and verdict but not its thread.
            self.positions = PrimaryPositions()
            self._healthy = ()
            self._verdict_at = float("-inf")
            self._stop = threading.Event()
        try:
            self.check_all()
        except Exception:  # the request goes on from the primary; the thread tries again
            logger.exception("replica_check_failed")
        thread = threading.Thread(target=self._run, name="replica-health", daemon=True)
        thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.check_all()
            except Exception:  # the thread must outlive any surprise; the next round retries
                logger.exception("replica_check_failed")
        connections.close_all()

    def stop(self) -> None:
        self._stop.set()

    def check_all(self) -> tuple[str, ...]:
        """One round: sample the primary, then judge every replica against the samples.

        Without a sample of the primary this round, nothing new is published: a replica
        that stops answering is dropped, the others keep the last verdict until it ages out.
        """
        started = self.clock()
        with self._lock:
            self._marked_down.clear()
        sampled = self._sample_primary(started)
        healthy = []
        for alias in self.aliases:
            lag = self._replica_lag(alias)
            ok = lag is not None and (lag <= self.max_lag if sampled else alias in self._healthy)
            if ok:
                healthy.append(alias)
            if ok != (alias in self._healthy):
                (logger.info if ok else logger.warning)(
                    "replica_up" if ok else "replica_down",
                    database=alias,
                    lag_seconds=lag,
                    max_lag_seconds=self.max_lag,
                )
            REPLICA_HEALTHY.labels(database=alias).set(1 if ok else 0)
            if sampled or lag is None:
                # Unreachable: no bound on how far behind it is (+Inf), never a stale 0.
                REPLICA_LAG.labels(database=alias).set(float("inf") if lag is None else lag)
        with self._lock:
            # A replica a request found failing during this round stays out until the next.
            for alias in self._marked_down:
                REPLICA_HEALTHY.labels(database=alias).set(0)
            self._healthy = tuple(name for name in healthy if name not in self._marked_down)
            if sampled:
                self._verdict_at = started
        return self._healthy

    def _sample_primary(self, at: float) -> bool:
        """Record the primary's WAL position as of `at`, a time taken before asking: every
        transaction committed before `at` ends at or below the position read."""
        connection = connections[PRIMARY]
        if connection.vendor != "postgresql":
            self.positions.add(at, 0)  # no WAL to compare: every copy is current
            return True
        try:
            with connection.cursor() as cursor:
                # The insert position: with synchronous_commit off a commit is acknowledged
                # once inserted, before it is written out.
                cursor.execute("SELECT pg_current_wal_insert_lsn()::text")
                (position,) = cursor.fetchone()
        except DatabaseError:
            connection.close()
            return False
        self.positions.add(at, lsn_to_int(position))
        return True

    def _replica_lag(self, alias: str) -> float | None:
        """Seconds `alias` may be behind the primary; None if it cannot be reached."""
        connection = connections[alias]
        try:
            with connection.cursor() as cursor:
                if connection.vendor != "postgresql":
                    cursor.execute("SELECT 1")
                    return 0.0
                # A server not in recovery is no streaming replica but a copy in its own
                # right (a pooler in front of the primary, say): it is as current as it gets.
                cursor.execute("SELECT pg_is_in_recovery(), pg_last_wal_replay_lsn()::text")
                in_recovery, replayed = cursor.fetchone()
        except DatabaseError:
            connection.close()
            return None
        if not in_recovery:
            return 0.0
        if replayed is None:  # never replayed anything yet (a replica being built)
            return float("inf")
        return self.positions.staleness(lsn_to_int(replayed), self.clock())


_health: ReplicaHealth | None = None
_health_lock = threading.Lock()


def replica_aliases() -> tuple[str, ...]:
    """The DATABASES aliases that are read replicas (bookstore.settings names them)."""
    return tuple(alias for alias in settings.DATABASES if alias.startswith("replica_"))


def get_replica_health() -> ReplicaHealth:
    """This process's replica checker for the configured replicas."""
    global _health
    if _health is None:
        with _health_lock:
            if _health is None:
                _health = ReplicaHealth(
                    replica_aliases(),
                    max_lag=settings.REPLICA_MAX_LAG_SECONDS,
                    interval=settings.REPLICA_CHECK_INTERVAL_SECONDS,
                    # A user's own write is on a replica in use once its verdict is younger
                    # than this (bookstore.settings checks it is at least one interval).
                    max_verdict_age=(
                        settings.READ_YOUR_WRITES_SECONDS - settings.REPLICA_MAX_LAG_SECONDS
                    ),
                )
    return _health


def reset_replica_health() -> None:
    """Forget the checker (tests that change the replicas or the bounds)."""
    global _health
    with _health_lock:
        if _health is not None:
            _health.stop()
        _health = None
