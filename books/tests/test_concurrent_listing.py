"""Exactly once under concurrent writes: a client walking /books/ by `next` while another
connection inserts and deletes books sees every book that existed for the whole walk exactly
once, and no book twice.

The writer is a real thread with its own database connection. It runs one batch of writes at
a time and is joined before the walk goes on, so every run interleaves the same way: no
sleeps, no races in the test itself.
"""

import datetime
import random
import threading
from typing import Any

import pytest
from django.db import connection, connections
from rest_framework.test import APIClient

from books.models import Book
from books.pagination import BookCursorPagination
from books.tests.factories import BookFactory

pytestmark = pytest.mark.django_db(transaction=True)

LIST_URL = "/books/"
SEED_COUNT = 300
PAGE_SIZE = 10
DOOMED_COUNT = 90  # seeded books the writer may delete; the rest survive the walk
INSERTS_PER_BATCH = 4
DELETES_PER_BATCH = 3

TITLES = [f"Title {n:02d}" for n in range(23)] + ["alpha", "Alpha", "omega"]
AUTHORS = ["Ann Lee", "ann lee", "Bob Stone", "Chidi Okafor", "Zoë Roe"]
FIRST_DATE = datetime.date(2000, 1, 1)
FIRST_INSTANT = datetime.datetime(2024, 1, 1, tzinfo=datetime.UTC)
INSTANTS = 30  # distinct created_at values of the seeded books: many ties


def instant(step: int, *, between: bool = False) -> datetime.datetime:
    """The step-th seeded created_at; with between=True, one strictly between two of them."""
    offset = datetime.timedelta(minutes=step, microseconds=step * 7)
    if between:
        offset += datetime.timedelta(seconds=30)
    return FIRST_INSTANT + offset


def random_fields(rng: random.Random) -> dict[str, Any]:
    return {
        "title": rng.choice(TITLES),
        "author": rng.choice(AUTHORS),
        "publication_date": FIRST_DATE + datetime.timedelta(days=rng.randrange(40)),
        "summary": "",
    }


def seed_catalogue(rng: random.Random) -> list[int]:
    """SEED_COUNT books with many ties on every sort field; returns their ids."""
    books = Book.objects.bulk_create(
        [BookFactory.build(**random_fields(rng)) for _ in range(SEED_COUNT)]
    )
    ids = [book.id for book in books]
    groups: dict[int, list[int]] = {}
    for book_id in ids:
        groups.setdefault(rng.randrange(INSTANTS), []).append(book_id)
    for step, group in groups.items():
        Book.objects.filter(id__in=group).update(created_at=instant(step))
    assert Book.objects.count() == SEED_COUNT
    return ids


class Writer:
    """Inserts and deletes books from its own thread and connection, one batch at a time."""

    def __init__(self, rng: random.Random, seeded: list[int]) -> None:
        self.rng = rng
        self.seeded = seeded
        # The seeded books it may delete, popped from the end: a random order, so some are
        # deleted before the walk reaches them and some after it has passed them.
        self.doomed = rng.sample(seeded, DOOMED_COUNT)
        self.inserted: list[int] = []
        self.deleted: list[int] = []
        self.thread_connections: list[object] = []

    def run_batch(self) -> None:
        """One batch of writes in a new thread with its own connection, joined."""
        errors: list[BaseException] = []

        def work() -> None:
            try:
                self.thread_connections.append(connections["default"])
                self._write()
            except BaseException as error:
                errors.append(error)
            finally:
                connection.close()

        thread = threading.Thread(target=work)
        thread.start()
        thread.join()
        if errors:
            raise errors[0]

    def _write(self) -> None:
        for _ in range(INSERTS_PER_BATCH):
            book = BookFactory(**random_fields(self.rng))
            # Land the new book amid the old ones in created_at order too: on a tie with
            # them, or strictly between two of their instants.
            created_at = instant(self.rng.randrange(INSTANTS), between=self.rng.random() < 0.5)
            Book.objects.filter(id=book.id).update(created_at=created_at)
            self.inserted.append(book.id)
        victims = [self.doomed.pop() for _ in range(min(DELETES_PER_BATCH, len(self.doomed)))]
        older = [i for i in self.inserted[:-INSERTS_PER_BATCH] if i not in self.deleted]
        if older:
            victims.append(self.rng.choice(older))
        deleted, _ = Book.objects.filter(id__in=victims).delete()
        assert deleted == len(victims)
        self.deleted += victims


@pytest.fixture
def writer() -> Writer:
    rng = random.Random(20240601)
    return Writer(rng, seed_catalogue(rng))


def walk_while_writing(
    client: APIClient, writer: Writer, params: dict[str, object], *, between_pages: bool
) -> tuple[list[dict], list[set[int]]]:
    """Follow `next` from the first page, running a batch of writes before each later page
    when between_pages. Returns the pages and, for each, the ids deleted before its request.
    """
    pages: list[dict] = []
    deleted_before: list[set[int]] = []
    url: str | None = LIST_URL
    query: dict[str, object] = params
    while url is not None:
        assert len(pages) < 200, "the walk does not end"
        if pages and between_pages:
            writer.run_batch()
        deleted_before.append(set(writer.deleted))
        response = client.get(url, query)
        assert response.status_code == 200, response.content
        body = response.json()
        assert set(body) == {"next", "previous", "results"}
        pages.append(body)
        url, query = body["next"], {}
    return pages, deleted_before


def write_inside_each_request(monkeypatch: pytest.MonkeyPatch, writer: Writer) -> None:
    """Run a batch of writes inside every list request: after its page was read from the
    database, before the page's links are built."""
    respond = BookCursorPagination.get_paginated_response

    def write_then_respond(self: BookCursorPagination, data: Any) -> Any:
        writer.run_batch()
        return respond(self, data)

    monkeypatch.setattr(BookCursorPagination, "get_paginated_response", write_then_respond)


def order_by_for(ordering: str) -> tuple[str, str]:
    return (ordering, "-id") if ordering.startswith("-") else (ordering, "id")


ORDERINGS = [None, "title", "-title", "author", "-publication_date", "created_at"]


@pytest.mark.parametrize("ordering", ORDERINGS)
@pytest.mark.parametrize("moment", ["between_pages", "inside_each_request"])
def test_walk_sees_every_surviving_book_exactly_once_under_concurrent_writes(
    api_client: APIClient,
    writer: Writer,
    monkeypatch: pytest.MonkeyPatch,
    ordering: str | None,
    moment: str,
) -> None:
    params: dict[str, object] = {"page_size": PAGE_SIZE}
    if ordering is not None:
        params["ordering"] = ordering
    if moment == "inside_each_request":
        write_inside_each_request(monkeypatch, writer)

    pages, deleted_before = walk_while_writing(
        api_client, writer, params, between_pages=moment == "between_pages"
    )

    seeded = set(writer.seeded)
    seen = [book["id"] for page in pages for book in page["results"]]
    survivors = seeded - set(writer.deleted)  # the books that existed for the whole walk
    assert len(seen) == len(set(seen)), "a book was listed twice"
    assert survivors - set(seen) == set(), "a book that existed all along was missed"
    assert set(seen) <= seeded | set(writer.inserted)
    for page, gone in zip(pages, deleted_before, strict=True):
        assert {book["id"] for book in page["results"]} & gone == set(), "a deleted book listed"
    expected = list(
        Book.objects.filter(id__in=survivors)
        .order_by(*order_by_for(ordering or "-created_at"))
        .values_list("id", flat=True)
    )
    assert [book_id for book_id in seen if book_id in survivors] == expected
    assert pages[0]["previous"] is None
    assert pages[-1]["next"] is None

    # The writes really raced the walk: many batches, each on its own connection, and both
    # kinds of write landed ahead of the walk as well as behind it.
    batches = len(writer.thread_connections)
    assert batches >= 20
    assert len(writer.inserted) == batches * INSERTS_PER_BATCH
    assert all(c is not connections["default"] for c in writer.thread_connections)
    deleted_seeded = seeded & set(writer.deleted)
    assert deleted_seeded - set(seen), "no book was deleted before the walk reached it"
    assert deleted_seeded & set(seen), "no book was deleted after the walk passed it"
    assert set(writer.inserted) & set(seen), "no new book appeared ahead of the walk"
    assert set(writer.inserted) - set(seen), "no new book appeared behind the walk"
