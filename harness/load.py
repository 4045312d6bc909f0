"""Client load for the fault and cluster tests: threads writing and reading their own books
over HTTP, every request recorded as an Outcome.

Every request is recorded with its timing and outcome, so a test can ask what happened in any
window of time (before, during, after a fault). Each writer thread owns the books it creates:
it is the only one to change them, so it knows the last version it was told was stored and can
tell a stale read from a newer one. Load goes to 127.0.0.1 only, with a request cap and a
deadline.
"""

import http.client
import json
import socket
import statistics
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

#: Seconds a client waits for an answer: far above anything the app should take.
REQUEST_TIMEOUT = 10.0


@dataclass(frozen=True)
class Outcome:
    """One request and what came back (`status` None: no HTTP answer at all)."""

    operation: str  # create, update, read, list, readyz
    started: float  # time.monotonic()
    finished: float
    status: int | None
    error: str = ""
    body: Any = None  # the parsed JSON body, when it was JSON
    content_type: str = ""
    retry_after: str | None = None
    book_id: int | None = None
    isbn: str = ""
    #: For a write, the version its 2xx said was stored; for a read, the version read.
    version: int | None = None
    #: For a read, the last version this thread had been told was stored before sending.
    acknowledged_version: int | None = None

    @property
    def seconds(self) -> float:
        return self.finished - self.started

    @property
    def succeeded(self) -> bool:
        return self.status is not None and 200 <= self.status < 300

    @property
    def acknowledged_write(self) -> tuple[int, str, int] | None:
        """For a write answered 2xx: the book's id, ISBN and the version said to be stored."""
        if self.operation not in ("create", "update") or not self.succeeded:
            return None
        if self.book_id is None or self.version is None:
            return None
        return self.book_id, self.isbn, self.version

    @property
    def is_json_503(self) -> bool:
        return (
            self.status == 503
            and self.content_type.startswith("application/json")
            and isinstance(self.body, dict)
            and isinstance(self.body.get("detail"), str)
        )


@dataclass
class Reply:
    status: int | None
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    error: str = ""

    def json(self) -> Any:
        try:
            return json.loads(self.body)
        except ValueError:
            return None


def send(
    port: int,
    method: str,
    path: str,
    *,
    token: str | None = None,
    payload: Any = None,
    timeout: float = REQUEST_TIMEOUT,
) -> Reply:
    """One request on a new connection (no keep-alive: a connection never outlives a request,
    so a killed or stopping worker cannot take a later request down with it)."""
    headers = {"Connection": "close", "Accept": "application/json"}
    if token is not None:
        headers["Authorization"] = f"Token {token}"
    body = None
    if payload is not None:
        body = json.dumps(payload).encode()
        headers["Content-Type"] = "application/json"
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        connection.request(method, path, body=body, headers=headers)
        response = connection.getresponse()
        content = response.read()
        return Reply(
            status=response.status,
            headers={name.lower(): value for name, value in response.getheaders()},
            body=content,
        )
    except (OSError, http.client.HTTPException) as error:
        return Reply(status=None, error=f"{type(error).__name__}: {error}")
    finally:
        connection.close()


def isbn13(number: int) -> str:
    """A valid ISBN-13 made from a number below 10**8. Its prefix is 979-8, so it is never one
    of `manage.py seed_books` (978)."""
    digits = f"9798{number:08d}"
    weighted = sum(int(digit) * (3 if position % 2 else 1) for position, digit in enumerate(digits))
    return digits + str((10 - weighted % 10) % 10)


def version_from_etag(etag: str | None) -> int | None:
    """The version in the API's ETag `"<id>-<version>-<representation>"`."""
    if not etag:
        return None
    try:
        return int(etag.strip('"').split("-")[1])
    except (IndexError, ValueError):
        return None


class Budget:
    """A shared cap on requests and a deadline: when either is reached, load stops."""

    def __init__(self, max_requests: int, max_seconds: float) -> None:
        self._left = max_requests
        self._deadline = time.monotonic() + max_seconds
        self._lock = threading.Lock()
        self.stopped = threading.Event()

    def take(self) -> bool:
        if self.stopped.is_set() or time.monotonic() > self._deadline:
            return False
        with self._lock:
            if self._left <= 0:
                return False
            self._left -= 1
            return True


class Load:
    """Writer threads (create, read back, update, list: in turn) plus one /readyz poller.

    Use as a context manager; `outcomes()` is everything so far, `acknowledged` the last
    acknowledged version of every book a 2xx said was stored.
    """

    CYCLE = ("create", "read", "update", "read", "list")

    def __init__(
        self,
        port: int,
        token: str,
        *,
        writers: int = 4,
        max_requests: int = 20_000,
        max_seconds: float = 60.0,
        readiness_interval: float = 0.2,
    ) -> None:
        self.port = port
        self.token = token
        self.writers = writers
        self.readiness_interval = readiness_interval
        self.budget = Budget(max_requests, max_seconds)
        self._outcomes: list[Outcome] = []
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        #: book id -> (isbn, last version a 2xx acknowledged)
        self.acknowledged: dict[int, tuple[str, int]] = {}

    def __enter__(self) -> "Load":
        for index in range(self.writers):
            thread = threading.Thread(target=self._write, args=(index,), daemon=True)
            self._threads.append(thread)
        self._threads.append(threading.Thread(target=self._poll_readiness, daemon=True))
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.budget.stopped.set()
        for thread in self._threads:
            thread.join(timeout=REQUEST_TIMEOUT + 5)

    def outcomes(self) -> list[Outcome]:
        with self._lock:
            return list(self._outcomes)

    def _record(self, outcome: Outcome) -> Outcome:
        with self._lock:
            self._outcomes.append(outcome)
            if written := outcome.acknowledged_write:
                book_id, isbn, version = written
                self.acknowledged[book_id] = (isbn, version)
        return outcome

    def _write(self, index: int) -> None:
        own: dict[int, tuple[str, int]] = {}  # this thread's books: id -> (isbn, version)
        created = 0
        step = 0
        while self.budget.take():
            operation = self.CYCLE[step % len(self.CYCLE)]
            step += 1
            if operation in ("read", "update") and not own:
                operation = "create"
            if operation == "create":
                isbn = isbn13(index * 10_000_000 + created)
                created += 1
                outcome = self._create(isbn)
            elif operation == "list":
                outcome = self._list()
            else:
                book_id = list(own)[step % len(own)]
                isbn, version = own[book_id]
                if operation == "read":
                    outcome = self._read(book_id, isbn, acknowledged=version)
                else:
                    outcome = self._update(book_id, isbn, step)
            if written := outcome.acknowledged_write:
                book_id, isbn, version = written
                own[book_id] = (isbn, version)
            elif outcome.status is None:
                time.sleep(0.01)  # no server there: do not spin on refused connections

    def _timed(self, method: str, path: str, **kwargs: Any) -> tuple[float, float, Reply]:
        started = time.monotonic()
        reply = send(self.port, method, path, **kwargs)
        return started, time.monotonic(), reply

    def _outcome(
        self, operation: str, started: float, finished: float, reply: Reply, **fields: Any
    ) -> Outcome:
        return self._record(
            Outcome(
                operation=operation,
                started=started,
                finished=finished,
                status=reply.status,
                error=reply.error,
                body=reply.json(),
                content_type=reply.headers.get("content-type", ""),
                retry_after=reply.headers.get("retry-after"),
                version=version_from_etag(reply.headers.get("etag")),
                **fields,
            )
        )

    def _create(self, isbn: str) -> Outcome:
        payload = {
            "title": f"Fault test {isbn}",
            "author": "Load Generator",
            "publication_date": "2001-02-03",
            "isbn": isbn,
        }
        started, finished, reply = self._timed("POST", "/books/", token=self.token, payload=payload)
        body = reply.json()
        book_id = body.get("id") if reply.status == 201 and isinstance(body, dict) else None
        return self._outcome("create", started, finished, reply, book_id=book_id, isbn=isbn)

    def _update(self, book_id: int, isbn: str, step: int) -> Outcome:
        started, finished, reply = self._timed(
            "PATCH", f"/books/{book_id}/", token=self.token, payload={"title": f"Edit {step}"}
        )
        return self._outcome("update", started, finished, reply, book_id=book_id, isbn=isbn)

    def _read(self, book_id: int, isbn: str, *, acknowledged: int) -> Outcome:
        started, finished, reply = self._timed("GET", f"/books/{book_id}/")
        return self._outcome(
            "read",
            started,
            finished,
            reply,
            book_id=book_id,
            isbn=isbn,
            acknowledged_version=acknowledged,
        )

    def _list(self) -> Outcome:
        started, finished, reply = self._timed("GET", "/books/?page_size=10")
        return self._outcome("list", started, finished, reply)

    def _poll_readiness(self) -> None:
        while not self.budget.stopped.wait(self.readiness_interval):
            started, finished, reply = self._timed("GET", "/readyz")
            self._outcome("readyz", started, finished, reply)


def between(outcomes: Iterable[Outcome], start: float, end: float) -> list[Outcome]:
    """Requests sent and answered entirely within [start, end]."""
    return [outcome for outcome in outcomes if start <= outcome.started and outcome.finished <= end]


def sent_between(outcomes: Iterable[Outcome], start: float, end: float) -> list[Outcome]:
    """Requests sent within [start, end], whenever answered."""
    return [outcome for outcome in outcomes if start <= outcome.started <= end]


def api_requests(outcomes: Iterable[Outcome]) -> list[Outcome]:
    """The load's own requests, without the readiness probes."""
    return [outcome for outcome in outcomes if outcome.operation != "readyz"]


def stale_reads(outcomes: Iterable[Outcome]) -> list[Outcome]:
    """Reads that returned an older version than the last one acknowledged before them."""
    return [
        outcome
        for outcome in outcomes
        if outcome.operation == "read"
        and outcome.succeeded
        and outcome.version is not None
        and outcome.acknowledged_version is not None
        and outcome.version < outcome.acknowledged_version
    ]


def figures(outcomes: Iterable[Outcome]) -> dict[str, Any]:
    """Counts and latencies of a set of requests, for the test's report."""
    chosen = list(outcomes)
    statuses: dict[str, int] = {}
    for outcome in chosen:
        key = str(outcome.status) if outcome.status is not None else "no_response"
        statuses[key] = statuses.get(key, 0) + 1
    errors: dict[str, int] = {}
    for outcome in chosen:
        if outcome.status is None:
            kind = outcome.error.split(":", 1)[0]
            errors[kind] = errors.get(kind, 0) + 1
    latencies = sorted(outcome.seconds for outcome in chosen)
    return {
        "requests": len(chosen),
        "by_status": dict(sorted(statuses.items())),
        "succeeded": sum(outcome.succeeded for outcome in chosen),
        "server_errors_5xx": sum(
            outcome.status is not None and outcome.status >= 500 for outcome in chosen
        ),
        "no_response": sum(outcome.status is None for outcome in chosen),
        "no_response_errors": dict(sorted(errors.items())),
        "latency_median_s": round(statistics.median(latencies), 4) if latencies else None,
        "latency_p99_s": round(latencies[int(len(latencies) * 0.99)], 4) if latencies else None,
        "latency_max_s": round(latencies[-1], 4) if latencies else None,
    }


def readiness_figures(probes: Iterable[Outcome]) -> dict[str, Any]:
    """How /readyz answered: a 503 there is the expected answer, not a server error."""
    chosen = list(probes)
    statuses = sorted({str(probe.status) for probe in chosen})
    return {
        "probes": len(chosen),
        "by_status": {
            status: sum(str(probe.status) == status for probe in chosen) for status in statuses
        },
        "latency_max_s": round(max((probe.seconds for probe in chosen), default=0.0), 4),
    }


def slowest(outcomes: Iterable[Outcome], *, origin: float) -> dict[str, Any] | None:
    """The slowest request, with when it was sent relative to `origin` (e.g. the fault)."""
    chosen = max(outcomes, key=lambda outcome: outcome.seconds, default=None)
    if chosen is None:
        return None
    return {
        "operation": chosen.operation,
        "status": chosen.status,
        "seconds": round(chosen.seconds, 4),
        "sent_at_s": round(chosen.started - origin, 3),
    }


def describe(outcomes: Iterable[Outcome], limit: int = 10) -> str:
    """A few requests in readable form, for an assertion's message."""
    lines: Iterator[str] = (
        f"{outcome.operation} status={outcome.status} {outcome.seconds:.3f}s "
        f"{outcome.error or outcome.body}"
        for outcome in outcomes
    )
    return "\n".join(line[:300] for _, line in zip(range(limit), lines, strict=False))


class SlowDownload(threading.Thread):
    """A GET that reads its response slowly until released, then at full speed.

    The client's receive buffer is kept small, so the server cannot hand the whole response
    to the kernel and be done: it is still sending while this client is slow.
    """

    RECEIVE_BUFFER = 64 * 1024

    def __init__(self, port: int, path: str, token: str, *, bytes_per_second: int) -> None:
        super().__init__(daemon=True)
        self.port = port
        self.path = path
        self.token = token
        self.bytes_per_second = bytes_per_second
        self.release = threading.Event()
        self.headers_received = threading.Event()
        self.started_at = 0.0
        self.headers_at = 0.0
        self.finished_at = 0.0
        self.status: int | None = None
        self.error = ""
        self.content = bytearray()

    def run(self) -> None:
        self.started_at = time.monotonic()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, self.RECEIVE_BUFFER)
            sock.settimeout(REQUEST_TIMEOUT * 3)
            sock.connect(("127.0.0.1", self.port))
            connection = http.client.HTTPConnection("127.0.0.1", self.port)
            connection.sock = sock
            connection.request("GET", self.path, headers={"Authorization": f"Token {self.token}"})
            response = connection.getresponse()
            self.status = response.status
            self.headers_at = time.monotonic()
            self.headers_received.set()
            chunk = 16 * 1024
            while data := response.read(chunk):
                self.content += data
                if not self.release.is_set():
                    time.sleep(len(data) / self.bytes_per_second)
        except (OSError, http.client.HTTPException) as error:
            self.error = f"{type(error).__name__}: {error}"
        finally:
            self.finished_at = time.monotonic()
            self.headers_received.set()
            sock.close()
