"""A client generated from the schema works: openapi-python-client's, against a live server.

The schema is what client developers generate from, so it is proved the way they use it: the
server's own /api/schema/ generated into a package (in tmp_path, never the repository),
imported, and used through its typed models and functions only for a single and a bulk
create, a read with its ETag, a list walked to its end, and a write with a stale If-Match.
openapi-python-client because it is the maintained Python generator whose output is typed
(attrs models, one function per operation) and that reads a oneOf as a union: the create's
`BookRequest | list[BookRequest]` in and `Book | list[Book]` out show whether the schema's
bulk create is usable.
"""

import datetime
import importlib
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from knox.models import AuthToken

from books.demo import demo_isbn

PACKAGE = "bookstore_api_client"
GENERATOR = Path(sys.executable).parent / "openapi-python-client"
GENERATE_TIMEOUT_S = 120
# No post hooks: they run formatters from PATH; the generated code is imported, not read.
GENERATOR_CONFIG = f"package_name_override: {PACKAGE}\npost_hooks: []\n"


class Generated:
    """The generated package's modules this test uses."""

    def __init__(self) -> None:
        self.client = importlib.import_module(PACKAGE)
        self.models = importlib.import_module(f"{PACKAGE}.models")
        self.books = {
            name: importlib.import_module(f"{PACKAGE}.api.books.{name}")
            for name in (
                "books_create",
                "books_retrieve",
                "books_list",
                "books_partial_update",
                "books_update",
            )
        }


@pytest.fixture(scope="module")
def generated(live_server: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Generated]:
    """The package generated from the live server's schema, imported (once for the module:
    generating takes seconds)."""
    work = tmp_path_factory.mktemp("generated-client")
    schema_path = work / "schema.json"
    response = httpx.get(f"{live_server.url}/api/schema/", params={"format": "json"})
    assert response.status_code == 200, response.text
    schema_path.write_bytes(response.content)
    config_path = work / "generator.yml"
    config_path.write_text(GENERATOR_CONFIG)

    result = subprocess.run(  # noqa: S603 -- our own venv's generator, fixed arguments
        [
            str(GENERATOR),
            "generate",
            "--path",
            str(schema_path),
            "--config",
            str(config_path),
            "--meta",
            "none",
            "--output-path",
            str(work / "packages" / PACKAGE),
            "--fail-on-warning",
        ],
        capture_output=True,
        text=True,
        timeout=GENERATE_TIMEOUT_S,
        check=False,
    )

    assert result.returncode == 0, result.stdout + result.stderr
    sys.path.insert(0, str(work / "packages"))
    try:
        yield Generated()
    finally:
        sys.path.remove(str(work / "packages"))
        for name in [name for name in sys.modules if name.split(".")[0] == PACKAGE]:
            del sys.modules[name]


@pytest.fixture
def api(generated: Generated, live_server: Any, user: Any) -> Any:
    """The generated AuthenticatedClient, signed in as an editor."""
    _, key = AuthToken.objects.create(user=user)
    return generated.client.AuthenticatedClient(base_url=live_server.url, token=key, prefix="Token")


def new_book(models: ModuleType, number: int) -> Any:
    return models.BookRequest(
        title=f"Generated client book {number}",
        author="Ada Client",
        publication_date=datetime.date(2001, 2, 3),
        isbn=demo_isbn(700_000_000 + number),
    )


def test_a_generated_client_creates_one_book_and_a_batch_with_typed_models(
    generated: Generated, api: Any
) -> None:
    models, create = generated.models, generated.books["books_create"]

    one = create.sync_detailed(client=api, body=new_book(models, 1))
    batch = create.sync_detailed(client=api, body=[new_book(models, 2), new_book(models, 3)])

    assert one.status_code == 201, one.content
    assert isinstance(one.parsed, models.Book)
    assert one.parsed.title == "Generated client book 1"
    assert one.parsed.publication_date == datetime.date(2001, 2, 3)
    assert one.headers["Location"].endswith(f"/books/{one.parsed.id}/")
    assert one.headers["ETag"]
    assert batch.status_code == 201, batch.content
    assert isinstance(batch.parsed, list)
    assert [type(book) for book in batch.parsed] == [models.Book, models.Book]
    assert [book.title for book in batch.parsed] == [
        "Generated client book 2",
        "Generated client book 3",
    ]


def test_a_generated_client_reads_a_book_with_its_etag_and_gets_a_304_for_it(
    generated: Generated, api: Any
) -> None:
    created = generated.books["books_create"].sync_detailed(
        client=api, body=new_book(generated.models, 4)
    )
    retrieve = generated.books["books_retrieve"]

    read = retrieve.sync_detailed(id=created.parsed.id, client=api)
    again = retrieve.sync_detailed(
        id=created.parsed.id, client=api, if_none_match=read.headers["ETag"]
    )

    assert read.status_code == 200, read.content
    assert isinstance(read.parsed, generated.models.Book)
    assert read.parsed.to_dict() == created.parsed.to_dict()
    assert read.headers["ETag"] == created.headers["ETag"]
    assert again.status_code == 304
    assert again.headers["ETag"] == read.headers["ETag"]


def test_a_generated_client_walks_the_list_by_next_and_sees_every_book_once(
    generated: Generated, api: Any
) -> None:
    models, create = generated.models, generated.books["books_create"]
    created = create.sync_detailed(client=api, body=[new_book(models, n) for n in range(10, 15)])
    expected = {book.id for book in created.parsed}
    list_books = generated.books["books_list"]

    seen: list[int] = []
    page = list_books.sync_detailed(client=api, page_size=2)
    pages = 1
    while True:
        assert page.status_code == 200, page.content
        assert isinstance(page.parsed, models.PaginatedBookList)
        assert page.headers["ETag"]
        seen += [book.id for book in page.parsed.results]
        if page.parsed.next_ is None:
            break
        (cursor,) = parse_qs(urlsplit(page.parsed.next_).query)["cursor"]
        page = list_books.sync_detailed(client=api, page_size=2, cursor=cursor)
        pages += 1

    assert sorted(seen) == sorted(expected)
    assert pages == 3
    first = list_books.sync_detailed(client=api, page_size=2)
    unchanged = list_books.sync_detailed(
        client=api, page_size=2, if_none_match=first.headers["ETag"]
    )
    assert unchanged.status_code == 304


@pytest.mark.parametrize("write", ["books_partial_update", "books_update"])
def test_a_generated_client_write_with_a_stale_if_match_gets_412_and_changes_nothing(
    generated: Generated, api: Any, write: str
) -> None:
    models = generated.models
    created = generated.books["books_create"].sync_detailed(client=api, body=new_book(models, 20))
    book_id, stale = created.parsed.id, created.headers["ETag"]
    patch = generated.books["books_partial_update"]
    changed = patch.sync_detailed(
        id=book_id,
        client=api,
        body=models.PatchedBookRequest(title="Changed by someone else"),
        if_match=stale,
    )
    body = (
        models.PatchedBookRequest(title="Lost update")
        if write == "books_partial_update"
        else new_book(models, 20)
    )

    refused = generated.books[write].sync_detailed(
        id=book_id, client=api, body=body, if_match=stale
    )

    assert changed.status_code == 200, changed.content
    assert changed.headers["ETag"] != stale
    assert refused.status_code == 412, refused.content
    assert isinstance(refused.parsed, models.Error)
    assert refused.parsed.detail
    now = generated.books["books_retrieve"].sync_detailed(id=book_id, client=api)
    assert now.parsed.title == "Changed by someone else"
    assert now.headers["ETag"] == changed.headers["ETag"]
