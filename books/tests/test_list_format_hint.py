"""GET /books/?format=csv (or jsonl): a 404 that names the export, the same filters kept,
instead of DRF's bare "Not found." (issue 15, item 4)."""

import csv
import io
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
from rest_framework.test import APIClient

from books.exporting import FORMATS
from books.hot_path import CachedReads
from books.tests.factories import BookFactory
from books.tests.wsgi import CountingDjango, request

pytestmark = pytest.mark.django_db


def _hint(response: Any) -> str:
    """The export URL a 404 suggests, after checking the 404's shape."""
    assert response.status_code == 404, response.content
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert set(body) == {"detail", "export"}
    assert body["export"] in body["detail"]
    assert "token" in body["detail"]
    return str(body["export"])


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_format_only_the_export_has_points_at_the_export(api_client: APIClient, fmt: str) -> None:
    url = _hint(api_client.get("/books/", {"format": fmt}))

    assert url == f"http://testserver/books/export/?format={fmt}"


def test_the_suggested_export_keeps_the_filters_and_drops_the_paging(
    api_client: APIClient, auth_client: APIClient
) -> None:
    BookFactory(title="Emma", author="Jane Austen")
    BookFactory(title="Persuasion", author="Jane Austen")
    BookFactory(title="Dune", author="Frank Herbert")
    query = {"format": "csv", "author": "Jane Austen", "page_size": "1", "ordering": "-title"}

    url = urlsplit(_hint(api_client.get("/books/", query)))

    assert url.path == "/books/export/"
    assert dict(parse_qsl(url.query)) == {"format": "csv", "author": "Jane Austen"}
    # The suggestion works as given (with a token): the filtered books, as CSV.
    export = auth_client.get(f"{url.path}?{url.query}")
    assert export.status_code == 200
    rows = list(csv.DictReader(io.StringIO(b"".join(export.streaming_content).decode())))
    assert sorted(row["title"] for row in rows) == ["Emma", "Persuasion"]


def test_a_format_suffix_gets_the_same_hint(api_client: APIClient) -> None:
    assert _hint(api_client.get("/books.csv")).endswith("/books/export/?format=csv")


def test_a_format_nobody_has_is_still_a_plain_404(api_client: APIClient) -> None:
    response = api_client.get("/books/", {"format": "xml"})

    assert response.status_code == 404
    assert response.json() == {"detail": "Not found."}


def test_the_list_in_json_is_unchanged(api_client: APIClient) -> None:
    BookFactory()

    assert api_client.get("/books/", {"format": "json"}).status_code == 200


def test_the_hot_path_leaves_a_format_to_django(
    hot_path: CachedReads, django: CountingDjango
) -> None:
    BookFactory()
    request(hot_path, path="/books/")  # the plain first page, stored
    calls = django.calls

    answers = [request(hot_path, path="/books/", query="format=csv") for _ in range(2)]

    assert django.calls == calls + 2  # neither answered from the cache, nor stored
    for answer in answers:
        assert answer.status == 404
        assert answer.json()["export"].endswith("/books/export/?format=csv")
