"""A read that starts after a write was acknowledged never returns what was there before, for
any client, whichever path wrote: the API, the admin, the importer or a management command.

Every test warms the cache through books.hot_path first (each page read twice, the second
time answered from the cache), writes, then reads the same pages through the hot path and
requires exactly what Django answers from the database now. Writes commit for real
(transactional tests): invalidation runs when a write commits.
"""

import datetime
import io
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.test import Client
from rest_framework.settings import api_settings
from rest_framework.test import APIClient
from rest_framework.throttling import SimpleRateThrottle

from books.demo import demo_isbn
from books.etags import etag_for, parse_book_etag
from books.hot_path import CachedReads
from books.models import Book
from books.tests.concurrency import RACERS, run_together
from books.tests.factories import BookFactory, book_payload
from books.tests.test_import_upsert import write_csv
from books.tests.wsgi import CountingDjango, WSGIResponse, connections_kept_open, request
from bookstore.wsgi import django_application

pytestmark = pytest.mark.django_db(transaction=True)


@dataclass
class Catalogue:
    """Two books, the pages of them that clients read, and what the test changed."""

    book: Book
    other: Book
    tmp_path: Path
    auth_client: APIClient
    new_titles: list[str] = field(default_factory=list)

    def pages(self) -> list[dict[str, Any]]:
        """The reads of several clients: each book's URL, and list pages of several hosts,
        schemes and queries (lists are cached per scheme, host and query)."""
        return [
            {"path": f"/books/{self.book.pk}/"},
            {"path": f"/books/{self.other.pk}/"},
            {"path": "/books/"},
            {"path": "/books/", "query": "page_size=100"},
            {"path": "/books/", "query": "ordering=title"},
            {"path": "/books/", "headers": {"Host": "127.0.0.1"}},
            {"path": "/books/", "headers": {"X-Forwarded-Proto": "https"}},
            {"path": "/books/", "query": urlencode({"author": self.book.author})},
        ]


@pytest.fixture
def hot_path(settings: Any) -> Iterator[tuple[CachedReads, CountingDjango]]:
    settings.READ_CACHE_ENABLED = True
    django = CountingDjango()
    with connections_kept_open():
        yield CachedReads(django), django


@pytest.fixture
def catalogue(tmp_path: Path, auth_client: APIClient) -> Catalogue:
    book = BookFactory(title="Before", author="Ann Author")
    other = BookFactory(title="Bystander", author="Bo Bystander")
    return Catalogue(book, other, tmp_path, auth_client)


def _staff_client() -> Client:
    admin = get_user_model().objects.create_superuser(
        username="admin", email="admin@example.com", password="a-long-admin-password-1"
    )
    client = Client()
    client.force_login(admin)
    return client


def _admin_form(book: Book, **overrides: str) -> dict[str, str]:
    form = {
        "title": book.title,
        "author": book.author,
        "publication_date": book.publication_date.isoformat(),
        "publication_date_precision": book.publication_date_precision,
        "isbn": book.isbn,
        "summary": book.summary,
        "_save": "Save",
    }
    form.update(overrides)
    return form


def _import(catalogue: Catalogue, rows: list[list[str]]) -> None:
    path = write_csv(catalogue.tmp_path / "books.csv", rows)
    out = io.StringIO()
    call_command("import_books", str(path), "--no-progress", stdout=out, stderr=io.StringIO())
    assert " 0 rejected." in out.getvalue(), out.getvalue()


# --- the writes: each returns once the write is acknowledged ----------------------------------


def api_post(catalogue: Catalogue) -> None:
    response = catalogue.auth_client.post(
        "/books/", book_payload(title="Posted", isbn=demo_isbn(1)), format="json"
    )
    assert response.status_code == 201, response.content


def api_post_bulk(catalogue: Catalogue) -> None:
    items = [book_payload(title=f"Bulk {n}", isbn=demo_isbn(n)) for n in (1, 2)]
    response = catalogue.auth_client.post("/books/", items, format="json")
    assert response.status_code == 201, response.content


def api_put(catalogue: Catalogue) -> None:
    body = book_payload(title="Put", author="Ann Author", isbn=catalogue.book.isbn)
    response = catalogue.auth_client.put(f"/books/{catalogue.book.pk}/", body, format="json")
    assert response.status_code == 200, response.content


def api_patch(catalogue: Catalogue) -> None:
    response = catalogue.auth_client.patch(
        f"/books/{catalogue.book.pk}/", {"title": "Patched"}, format="json"
    )
    assert response.status_code == 200, response.content


def api_patch_with_if_match(catalogue: Catalogue) -> None:
    response = catalogue.auth_client.patch(
        f"/books/{catalogue.book.pk}/",
        {"summary": "Changed summary only."},
        format="json",
        headers={"If-Match": etag_for(catalogue.book.pk, 1)},
    )
    assert response.status_code == 200, response.content


def api_delete(catalogue: Catalogue) -> None:
    response = catalogue.auth_client.delete(f"/books/{catalogue.book.pk}/")
    assert response.status_code == 204, response.content


def admin_add(catalogue: Catalogue) -> None:
    form = _admin_form(catalogue.book, title="Added", isbn=demo_isbn(1))
    response = _staff_client().post("/admin/books/book/add/", form)
    assert response.status_code == 302, response.content[:500]


def admin_change(catalogue: Catalogue) -> None:
    form = _admin_form(catalogue.book, title="Changed in the admin")
    response = _staff_client().post(f"/admin/books/book/{catalogue.book.pk}/change/", form)
    assert response.status_code == 302, response.content[:500]


def admin_delete(catalogue: Catalogue) -> None:
    url = f"/admin/books/book/{catalogue.book.pk}/delete/"
    response = _staff_client().post(url, {"post": "yes"})
    assert response.status_code == 302, response.content[:500]


def admin_delete_selected(catalogue: Catalogue) -> None:
    response = _staff_client().post(
        "/admin/books/book/",
        {"action": "delete_selected", "_selected_action": [catalogue.book.pk], "post": "yes"},
    )
    assert response.status_code == 302, response.content[:500]


def import_update(catalogue: Catalogue) -> None:
    book = catalogue.book
    date = book.publication_date.isoformat()
    _import(catalogue, [["Imported", book.author, date, book.isbn, book.summary]])


def import_insert(catalogue: Catalogue) -> None:
    _import(catalogue, [["Imported new", "Ann Author", "2001-01-01", demo_isbn(1), ""]])


def seed_books(catalogue: Catalogue) -> None:
    call_command("seed_books", "3", stdout=io.StringIO())


WRITES: list[Callable[[Catalogue], None]] = [
    api_post,
    api_post_bulk,
    api_put,
    api_patch,
    api_patch_with_if_match,
    api_delete,
    admin_add,
    admin_change,
    admin_delete,
    admin_delete_selected,
    import_update,
    import_insert,
    seed_books,
]


def _as_django_answers(page: dict[str, Any], app: CachedReads) -> tuple[WSGIResponse, Any]:
    """The page read through the hot path, and Django's own answer from the database now."""
    cached = request(app, **page)
    direct = request(django_application, **page)
    assert cached.status == direct.status, (page, cached.body, direct.body)
    assert cached.json() == direct.json(), page
    assert cached.header("ETag") == direct.header("ETag"), page
    return cached, direct.json()


@pytest.mark.parametrize("write", WRITES, ids=[write.__name__ for write in WRITES])
def test_a_read_after_an_acknowledged_write_gets_the_written_state(
    hot_path: tuple[CachedReads, CountingDjango],
    catalogue: Catalogue,
    write: Callable[[Catalogue], None],
) -> None:
    app, django = hot_path
    pages = catalogue.pages()
    before: list[Any] = []
    for page in pages:
        request(app, **page)
        calls = django.calls
        before.append(request(app, **page).json())
        assert django.calls == calls, f"{page} was not cached"

    write(catalogue)

    after = [_as_django_answers(page, app)[1] for page in pages]
    # The write changed what some page says, so a stale cache would have been caught.
    assert after != before
    stored = Book.objects.filter(pk=catalogue.book.pk).first()
    detail = request(app, path=f"/books/{catalogue.book.pk}/")
    if stored is None:
        assert detail.status == 404
        assert all(
            catalogue.book.pk not in [item["id"] for item in page["results"]] for page in after[2:]
        )
    else:
        assert detail.header("ETag") == etag_for(stored.pk, stored.version)
        assert detail.json()["title"] == stored.title


def test_every_client_reads_the_write_at_once_however_often_it_is_cached(
    hot_path: tuple[CachedReads, CountingDjango], catalogue: Catalogue
) -> None:
    app, _ = hot_path
    for round_ in range(1, 4):
        for page in catalogue.pages():
            request(app, **page)
            request(app, **page)
        response = catalogue.auth_client.patch(
            f"/books/{catalogue.book.pk}/", {"title": f"Round {round_}"}, format="json"
        )
        assert response.status_code == 200

        detail, _ = _as_django_answers({"path": f"/books/{catalogue.book.pk}/"}, app)
        assert detail.json()["title"] == f"Round {round_}"
        assert detail.header("ETag") == etag_for(catalogue.book.pk, round_ + 1)
        for page in catalogue.pages()[2:]:
            listed, _ = _as_django_answers(page, app)
            assert f"Round {round_}" in {item["title"] for item in listed.json()["results"]}


# --- concurrently: writers and readers in real threads ----------------------------------------

WRITERS = 2
WRITES_EACH = 100  # 200 writes in all
LIST_PAGE = {"path": "/books/", "query": "page_size=100"}


LONG_AGO = datetime.datetime.min.replace(tzinfo=datetime.UTC)


@dataclass
class Acknowledged:
    """The newest write any writer has had answered: its version and updated_at."""

    version: int = 1
    updated_at: datetime.datetime = LONG_AGO
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, version: int, updated_at: datetime.datetime) -> None:
        with self.lock:
            if version > self.version:
                self.version, self.updated_at = version, updated_at

    def now(self) -> tuple[int, datetime.datetime]:
        with self.lock:
            return self.version, self.updated_at


def _version(response: WSGIResponse) -> int:
    """The version a book's response holds, from its ETag."""
    tag = parse_book_etag(response.header("ETag") or "")
    assert tag is not None, response.headers
    return tag.version


def _timestamp(text: str) -> datetime.datetime:
    return datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))


def test_no_read_that_starts_after_a_write_is_answered_returns_an_older_version(
    settings: Any, catalogue: Catalogue, token: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings.READ_CACHE_ENABLED = True
    # Readers read as fast as they can, from one address: no limit may refuse them.
    monkeypatch.setitem(SimpleRateThrottle.THROTTLE_RATES, "anon", "1000000/min")
    monkeypatch.setitem(api_settings.DEFAULT_THROTTLE_RATES, "anon", "1000000/min")
    django = CountingDjango()
    app = CachedReads(django)
    book = catalogue.book
    url = f"/books/{book.pk}/"
    acknowledged = Acknowledged()
    writers_done = threading.Event()
    stale: list[str] = []
    reads = [0] * RACERS

    def write(index: int) -> None:
        try:
            for n in range(WRITES_EACH):
                response = request(
                    app,
                    "PATCH",
                    url,
                    headers={
                        "Authorization": f"Token {token}",
                        "Content-Type": "application/json",
                    },
                    body=f'{{"title": "Writer {index} write {n}"}}'.encode(),
                )
                assert response.status == 200, response.body
                version = _version(response)
                acknowledged.record(version, _timestamp(response.json()["updated_at"]))
        finally:
            if index == WRITERS - 1:
                writers_done.set()

    def read(index: int) -> None:
        host = {"headers": {"Host": "127.0.0.1" if index % 2 else "localhost"}}
        while not writers_done.is_set():
            floor_version, floor_updated_at = acknowledged.now()
            detail = request(app, path=url, **host)
            assert detail.status == 200, detail.body
            version = _version(detail)
            if version < floor_version:
                stale.append(f"{url}: version {version} after {floor_version} was acknowledged")
            floor_version, floor_updated_at = acknowledged.now()
            response = request(app, **LIST_PAGE, **host)
            assert response.status == 200, response.body
            page = response.json()
            (listed,) = [item for item in page["results"] if item["id"] == book.pk]
            if _timestamp(listed["updated_at"]) < floor_updated_at:
                stale.append(f"list: {listed['updated_at']} after {floor_updated_at}")
            reads[index] += 2

    def work(index: int) -> None:
        if index < WRITERS:
            write(index)
        else:
            read(index)

    with connections_kept_open():
        results = run_together(RACERS, work)
    assert [result for result in results if result is not None] == []
    assert stale == []
    assert Book.objects.get(pk=book.pk).version == 1 + WRITERS * WRITES_EACH
    # The cache was really used: readers were answered without Django in between writes.
    assert sum(reads) > 0
    assert django.calls < WRITERS * WRITES_EACH + sum(reads)
    # And once the writers stop, the last version is what everyone reads.
    final = request(app, path=url)
    assert final.header("ETag") == etag_for(book.pk, 1 + WRITERS * WRITES_EACH)
