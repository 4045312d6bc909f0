"""Read-your-writes under load: every client must see each of its own writes at once.

Each writer (its own user and token) loops: create a book, read it back, change its title with
If-Match, read it back, and list its own books (newest first); every read must show the write
just acknowledged. Beside each writer, two witnesses show that the guarantee is not free:
a direct query on the replica for the book just created, and another user (who has written
nothing, so the router sends their reads to the replica) asking the API for it. With the
replica's replay delayed, both miss the book now and then, while the writer never does.
"""

import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import psycopg

from cluster.clients import Client, Exchange, Recorder, book_payload, call, create_book
from harness.load import isbn13


@dataclass(frozen=True)
class Violation:
    """A read by a writer that did not show the writer's own acknowledged write."""

    writer: int
    check: str  # read after create, read after update, list after create
    book_id: int
    status: int | None
    seen: Any

    def __str__(self) -> str:
        return (
            f"writer {self.writer} {self.check} of book {self.book_id}: {self.status} {self.seen}"
        )


@dataclass
class ReadYourWritesRun:
    """The writers' loops; their requests go to `recorder`, and so do the witnesses' counts
    (notes: cycles, replica_probes, replica_missing, other_user_reads, other_user_missing)."""

    recorder: Recorder
    violations: list[Violation] = field(default_factory=list)

    def writer(
        self,
        index: int,
        *,
        port: int,
        token: str,
        other_user_token: str,
        replica: Callable[[], psycopg.Connection[Any]],
        cycles: int,
        isbn_base: int,
    ) -> Callable[[], None]:
        """A writer thread's loop: at most `cycles` cycles, within the recorder's budget."""
        author = f"Read Your Writes {index}"

        def run() -> None:
            client = Client(port, token)
            other_user = Client(port, other_user_token)
            with contextlib.ExitStack() as stack:
                stack.callback(client.close)
                stack.callback(other_user.close)
                probe = stack.enter_context(replica())
                for cycle in range(cycles):
                    if not self.recorder.budget.take():
                        return
                    self._cycle(index, cycle, client, other_user, probe, author, isbn_base)

        return run

    def _cycle(
        self,
        index: int,
        cycle: int,
        client: Client,
        other_user: Client,
        probe: psycopg.Connection[Any],
        author: str,
        isbn_base: int,
    ) -> None:
        isbn = isbn13(isbn_base + index * 10_000 + cycle)
        first_title = f"RYW {index}.{cycle} first"
        created, reply = create_book(client, book_payload(isbn, title=first_title, author=author))
        self.recorder.add(created)
        book_id = created.outcome.book_id
        if created.outcome.status != 201 or book_id is None:
            return  # a failed request: the test counts those apart
        etag = reply.headers.get("etag", "")

        # Straight after the acknowledgement: the writer's own read, then the witnesses.
        self._expect(index, "read after create", client, book_id, title=first_title)
        row = probe.execute("SELECT 1 FROM books_book WHERE id = %s", (book_id,)).fetchone()
        self.recorder.note("replica_probes")
        self.recorder.note("replica_missing", row is None)
        seen, _ = call(other_user, "other_user_read", "GET", f"/books/{book_id}/", book_id=book_id)
        self.recorder.add(Exchange(seen))
        self.recorder.note("other_user_reads")
        # A 404 to another user: their read went to the replica, which had not replayed it.
        self.recorder.note("other_user_missing", seen.status == 404)

        second_title = f"RYW {index}.{cycle} second"
        updated, _ = call(
            client,
            "update",
            "PATCH",
            f"/books/{book_id}/",
            payload={"title": second_title},
            headers={"If-Match": etag},
            book_id=book_id,
        )
        self.recorder.add(Exchange(updated))
        if updated.status != 200:
            return
        self._expect(
            index, "read after update", client, book_id, title=second_title, version=updated.version
        )

        listed, _ = call(
            client, "list_own", "GET", f"/books/?author={author.replace(' ', '+')}&page_size=3"
        )
        self.recorder.add(Exchange(listed))
        results = listed.body.get("results") if isinstance(listed.body, dict) else None
        newest = results[0] if results else None
        if listed.status != 200 or not newest or newest.get("id") != book_id:
            self.violations.append(
                Violation(index, "list after create", book_id, listed.status, newest)
            )
        self.recorder.note("cycles")

    def _expect(
        self,
        index: int,
        check: str,
        client: Client,
        book_id: int,
        *,
        title: str,
        version: int | None = None,
    ) -> None:
        outcome, _ = call(client, "read_own", "GET", f"/books/{book_id}/", book_id=book_id)
        self.recorder.add(Exchange(outcome))
        body = outcome.body if isinstance(outcome.body, dict) else {}
        if (
            outcome.status != 200
            or body.get("title") != title
            or (version is not None and outcome.version != version)
        ):
            seen = {"title": body.get("title"), "version": outcome.version, "body": outcome.body}
            self.violations.append(Violation(index, check, book_id, outcome.status, seen))
