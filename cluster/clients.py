"""API clients that drive the cluster through nginx, recording every request.

Each client thread keeps one HTTP/1.1 connection to nginx open, as a browser or an SDK does,
and opens a new one only after a failure. Every request is recorded as a harness.load.Outcome
(what was sent, when, what came back), so a test can count failures in any window.

A client retries exactly what the API documents as safe to retry: a POST carrying an
`Idempotency-Key` is sent again, with the same key and body, after a 502 or 503 or a dropped
connection (at most POST_ATTEMPTS times in all). GETs are never retried by the client: a GET
that fails counts as failed (nginx itself retries them on another instance).
"""

import http.client
import json
import random
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from harness.load import REQUEST_TIMEOUT, Budget, Outcome, Reply, version_from_etag

POST_ATTEMPTS = 3
RETRIED_STATUSES = frozenset({502, 503})


class Client:
    """One keep-alive connection to nginx for one API user (token None: anonymous)."""

    def __init__(self, port: int, token: str | None = None) -> None:
        self.port = port
        self.token = token
        self._connection: http.client.HTTPConnection | None = None

    def request(
        self,
        method: str,
        path: str,
        *,
        payload: Any = None,
        headers: dict[str, str] | None = None,
    ) -> Reply:
        sent = {"Accept": "application/json", **(headers or {})}
        if self.token is not None:
            sent["Authorization"] = f"Token {self.token}"
        body = None
        if payload is not None:
            body = json.dumps(payload).encode()
            sent["Content-Type"] = "application/json"
        if self._connection is None:
            self._connection = http.client.HTTPConnection(
                "127.0.0.1", self.port, timeout=REQUEST_TIMEOUT
            )
        try:
            self._connection.request(method, path, body=body, headers=sent)
            response = self._connection.getresponse()
            content = response.read()
        except (OSError, http.client.HTTPException) as error:
            self.close()
            return Reply(status=None, error=f"{type(error).__name__}: {error}")
        if response.will_close:
            self.close()
        return Reply(
            status=response.status,
            headers={name.lower(): value for name, value in response.getheaders()},
            body=content,
        )

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None


@dataclass(frozen=True)
class Exchange:
    """A request as the client saw it: the Outcome of its last attempt, and the statuses
    (None: no answer) of the attempts before it."""

    outcome: Outcome
    earlier_attempts: tuple[int | None, ...] = ()
    replayed: bool = False  # the answer was an idempotent replay of an earlier attempt


@dataclass
class Recorder:
    """Every Exchange of a load, thread-safe, plus the load's shared request budget."""

    budget: Budget
    exchanges: list[Exchange] = field(default_factory=list)
    notes: dict[str, int] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, exchange: Exchange) -> Exchange:
        with self._lock:
            self.exchanges.append(exchange)
        return exchange

    def note(self, name: str, count: int = 1) -> None:
        with self._lock:
            self.notes[name] = self.notes.get(name, 0) + count

    def outcomes(self) -> list[Outcome]:
        with self._lock:
            return [exchange.outcome for exchange in self.exchanges]

    def all_exchanges(self) -> list[Exchange]:
        with self._lock:
            return list(self.exchanges)


def call(
    client: Client,
    operation: str,
    method: str,
    path: str,
    *,
    payload: Any = None,
    headers: dict[str, str] | None = None,
    **fields: Any,
) -> tuple[Outcome, Reply]:
    started = time.monotonic()
    reply = client.request(method, path, payload=payload, headers=headers)
    body = reply.json()
    outcome = Outcome(
        operation=operation,
        started=started,
        finished=time.monotonic(),
        status=reply.status,
        error=reply.error,
        body=body,
        content_type=reply.headers.get("content-type", ""),
        version=version_from_etag(reply.headers.get("etag")),
        **fields,
    )
    return outcome, reply


def create_book(client: Client, book: dict[str, str]) -> tuple[Exchange, Reply]:
    """POST a book with an Idempotency-Key, retried as the API documents (see the module)."""
    key = str(uuid.uuid4())
    earlier: list[int | None] = []
    while True:
        outcome, reply = call(
            client,
            "create",
            "POST",
            "/books/",
            payload=book,
            headers={"Idempotency-Key": key},
            isbn=book["isbn"],
        )
        retry = reply.status is None or reply.status in RETRIED_STATUSES
        if not retry or len(earlier) + 1 >= POST_ATTEMPTS:
            break
        earlier.append(reply.status)
        time.sleep(0.05 * len(earlier))
    body = outcome.body
    if outcome.status == 201 and isinstance(body, dict):
        outcome = replace(outcome, book_id=body.get("id"))
    replayed = reply.headers.get("idempotent-replayed", "").lower() == "true"
    return Exchange(outcome, tuple(earlier), replayed), reply


class ThreadGroup:
    """Client threads running until the recorder's budget is spent or `stop()` is called."""

    def __init__(self, recorder: Recorder, targets: list[Callable[[], None]]) -> None:
        self.recorder = recorder
        self.threads = [threading.Thread(target=target, daemon=True) for target in targets]

    def __enter__(self) -> "ThreadGroup":
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def stop(self) -> None:
        self.recorder.budget.stopped.set()
        for thread in self.threads:
            thread.join(timeout=REQUEST_TIMEOUT * POST_ATTEMPTS + 5)

    def wait(self) -> None:
        """Until every thread has finished by itself (its budget or its own bound)."""
        for thread in self.threads:
            thread.join(timeout=REQUEST_TIMEOUT * POST_ATTEMPTS + 60)


# --- the workloads ---------------------------------------------------------------------


def reader(
    port: int, token: str | None, book_ids: tuple[int, int], recorder: Recorder, seed: int
) -> Callable[[], None]:
    """GET random books (and now and then a list page) until the budget is spent."""

    def run() -> None:
        client = Client(port, token)
        chance = random.Random(seed)  # noqa: S311 - a load's choice, not a secret
        try:
            while recorder.budget.take():
                if chance.random() < 0.2:
                    outcome, _ = call(client, "list", "GET", "/books/?page_size=20")
                else:
                    book_id = chance.randint(*book_ids)
                    outcome, _ = call(client, "read", "GET", f"/books/{book_id}/", book_id=book_id)
                recorder.add(Exchange(outcome))
        finally:
            client.close()

    return run


def book_payload(isbn: str, *, title: str, author: str = "Cluster Test") -> dict[str, str]:
    return {
        "title": title,
        "author": author,
        "publication_date": "2001-02-03",
        "isbn": isbn,
    }


def creator(
    port: int, token: str, isbns: list[str], recorder: Recorder, *, pause: float = 0.0
) -> Callable[[], None]:
    """POST one book per ISBN (with retries by Idempotency-Key) until done or out of budget."""

    def run() -> None:
        client = Client(port, token)
        try:
            for isbn in isbns:
                if not recorder.budget.take():
                    return
                exchange, _ = create_book(client, book_payload(isbn, title=f"Created {isbn}"))
                recorder.add(exchange)
                if pause:
                    time.sleep(pause)
        finally:
            client.close()

    return run
